"""Every built-in metric x strategy, plain and after highpass or lowpass, finds a planted change."""

from __future__ import annotations

import numpy as np
import pytest

from dfcore import Finder
from dfcore.testing import planted_pair

METRICS = ["mse", "psnr", "ssim", "ms-ssim", "lpips"]
STRATEGIES = ["difference", "gradient"]
PREPROCESSORS = [None, "highpass", "lowpass"]
BOX = (30, 40, 50, 64)  # y0, x0, y1, x1


@pytest.fixture(scope="module")
def pairs():
    # ms-ssim needs 161 px or more; the others run on a smaller, faster pair
    return {"small": planted_pair(96, 128, boxes=(BOX,)), "large": planted_pair(176, 192, boxes=(BOX,))}


@pytest.mark.parametrize("preprocessor", PREPROCESSORS, ids=lambda p: p or "plain")
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("metric", METRICS)
def test_map_peaks_inside_the_planted_square(registry, pairs, alexnet_weights, metric, strategy, preprocessor):
    a, b, mask = pairs["large" if metric == "ms-ssim" else "small"]
    metric_ref = ("lpips", {"weights": str(alexnet_weights)}) if metric == "lpips" else metric
    result = Finder(preprocessor=preprocessor, metric=metric_ref, strategy=strategy, device="cpu").run(a, b)

    assert result.map.shape == tuple(a.shape[-2:])
    assert result.map.dtype == np.float32 and np.isfinite(result.map).all()
    peak = np.unravel_index(np.argmax(result.map), result.map.shape)
    assert mask[peak], f"maximum at {tuple(int(i) for i in peak)}, outside the square {BOX}"
    inside, outside = result.map[mask.numpy()], result.map[~mask.numpy()]
    assert inside.mean() > 2 * outside.mean()
    assert np.isfinite(result.score)
