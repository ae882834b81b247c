"""``gradcam``: Grad-CAM of a metric at a feature layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dfcore import Finder
from dfcore.errors import ParameterError, StageError
from dfcore.testing import fresh_registry, planted_pair

BOX = (20, 28, 44, 52)  # y0, x0, y1, x1
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def registry():
    return fresh_registry()


@pytest.fixture(scope="module")
def pair():
    return planted_pair(64, 80, boxes=(BOX,), delta=0.35, seed=3)


def _inside(index: tuple[int, int], box=BOX) -> bool:
    y, x = index
    return box[0] <= y < box[2] and box[1] <= x < box[3]


@pytest.mark.parametrize("strategy", ["gradcam", "gradcam:weighting=gradcam", "gradcam:layer=-1",
                                      "gradcam:weighting=gradcam,reference=a", "gradcam:reference=b"])
def test_cam_maximum_falls_inside_the_changed_region(registry, pair, strategy):
    a, b, truth = pair
    result = Finder(metric="filterbank", strategy=strategy, registry=registry, device="cpu").run(a, b)
    assert result.map.shape == (64, 80)
    assert result.map.min() >= 0.0
    peak = np.unravel_index(np.argmax(result.map), result.map.shape)
    assert _inside(peak), (strategy, peak)
    # and the change is hotter on average than the rest
    inside = truth.numpy()
    assert result.map[inside].mean() > 1.25 * result.map[~inside].mean()


def test_both_references_see_content_the_explained_image_lacks(registry, pair):
    a, _, truth = pair
    blurred = F.avg_pool2d(F.pad(a, (3, 3, 3, 3), mode="replicate"), 7, stride=1)
    b = a.clone()
    b[..., BOX[0]:BOX[2], BOX[1]:BOX[3]] = blurred[..., BOX[0]:BOX[2], BOX[1]:BOX[3]]  # texture removed in b

    def cam(reference):  # the paper's weighting: a CAM of nothing is exactly zero
        strategy = f"gradcam:weighting=gradcam,reference={reference}"
        return Finder(metric="filterbank", strategy=strategy, registry=registry, device="cpu").run(a, b).map

    assert cam("a").max() == 0.0  # b's CAM: b has nothing a lacks
    one_sided = cam("b")  # a's CAM shows the texture b lost
    both = cam("both")
    assert _inside(np.unravel_index(np.argmax(both), both.shape))
    np.testing.assert_allclose(both, one_sided, rtol=1e-5, atol=1e-12)


def test_hirescam_is_tighter_than_gradcam_on_a_local_change(registry, pair):
    a, b, truth = pair
    inside = truth.numpy()
    shares = {}
    for weighting in ("gradcam", "hirescam"):
        result = Finder(metric="filterbank", strategy=f"gradcam:weighting={weighting}", registry=registry,
                        device="cpu").run(a, b)
        shares[weighting] = result.map[inside].sum() / result.map.sum()
    assert shares["hirescam"] > shares["gradcam"]


def test_the_default_weighting_peaks_on_a_change_of_the_sample_pair(registry):
    """On a photograph, the paper's channel-mean weighting peaks on texture; the default on an edit."""
    truth = np.asarray(Image.open(SAMPLES / "truth.png")) > 0
    peaks, weightings = {}, {}
    for strategy in ("gradcam", "gradcam:weighting=gradcam"):
        result = Finder(metric="filterbank", strategy=strategy, registry=registry, device="cpu").run(
            SAMPLES / "a.png", SAMPLES / "b.png")
        peaks[strategy] = np.unravel_index(np.argmax(result.map), result.map.shape)
        weightings[strategy] = result.config["strategy"]["conventions"]["weighting"]
    assert weightings == {"gradcam": "hirescam", "gradcam:weighting=gradcam": "gradcam"}
    assert truth[peaks["gradcam"]], peaks
    assert not truth[peaks["gradcam:weighting=gradcam"]], peaks


def test_identical_images_give_a_zero_map(registry, pair):
    a, _, _ = pair
    result = Finder(metric="filterbank", strategy="gradcam", registry=registry, device="cpu").run(a, a)
    assert result.score == 0.0
    assert np.abs(result.map).max() == 0.0


def test_default_layer_is_the_first_one_and_is_recorded(registry, pair):
    a, b, _ = pair
    finder = Finder(metric="filterbank", strategy="gradcam", registry=registry, device="cpu")
    result = finder.run(a, b)
    assert result.config["strategy"]["conventions"]["layer"] == "scale1"
    assert result.config["strategy"]["conventions"]["explained"] == "a and b (sum of both CAMs)"
    assert result.config["strategy"]["params"] == {"layer": None, "reference": "both", "weighting": "hirescam"}
    by_name = Finder(metric="filterbank", strategy="gradcam:layer=scale1", registry=registry, device="cpu").run(a, b)
    np.testing.assert_array_equal(result.map, by_name.map)
    deepest = Finder(metric="filterbank", strategy="gradcam:layer=-1", registry=registry, device="cpu").run(a, b)
    assert deepest.config["strategy"]["conventions"]["layer"] == "scale4"


def test_unknown_layer_names_the_layers(registry, pair):
    a, b, _ = pair
    with pytest.raises(ParameterError, match=r"no layer 'conv9'; its layers: scale1, scale2, scale3, scale4"):
        Finder(metric="filterbank", strategy="gradcam:layer=conv9", registry=registry, device="cpu").run(a, b)
    with pytest.raises(ParameterError, match=r"layer index 7 is out of range"):
        Finder(metric="filterbank", strategy="gradcam:layer=7", registry=registry, device="cpu").run(a, b)


def test_metric_without_layers_names_the_metrics_that_have_them(registry, pair):
    a, b, _ = pair
    from dfcore.testing import using_registry

    with using_registry(registry), pytest.raises(StageError) as info:
        Finder(metric="ssim", strategy="gradcam", registry=registry, device="cpu").run(a, b)
    message = str(info.value)
    assert "'ssim' has none" in message
    assert "metrics with layers: filterbank, lpips" in message
    assert "\n" not in message


def test_a_metric_that_batches_both_images_is_refused_clearly(pair):
    a, b, _ = pair

    class Batched:
        higher_is_better = False

        def __init__(self):
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def feature_layers(self, device):
            return {"conv": self.conv}

        def __call__(self, x, y):
            f = self.conv(torch.cat([x, y]))
            return (f[: len(x)] - f[len(x):]).square().flatten(1).mean(1)

    with pytest.raises(StageError, match="produced no 4-D activation of the b image"):
        Finder(metric=Batched(), strategy="gradcam", registry=fresh_registry(), device="cpu").run(a, b)


def test_lpips_path_with_locally_created_weights(registry, tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    weights = tmp_path / "alexnet-random.pth"
    state = torchvision.models.alexnet(weights=None).state_dict()
    # the backbone part of a torchvision checkpoint (LPIPS reads only features.*): 10 MB instead of 240
    torch.save({k: v for k, v in state.items() if k.startswith("features.")}, weights)
    a, b, _ = planted_pair(64, 64, boxes=((16, 16, 40, 40),), seed=1)
    finder = Finder(metric=f"lpips:weights={weights}", strategy="gradcam", registry=registry, device="cpu")
    result = finder.run(a, b)
    assert result.map.shape == (64, 64)
    assert np.isfinite(result.map).all() and result.map.max() > 0
    assert result.config["strategy"]["conventions"]["layer"] == "relu1"
    deep = Finder(metric=f"lpips:weights={weights}", strategy="gradcam:layer=relu5", registry=registry,
                  device="cpu").run(a, b)
    assert np.isfinite(deep.map).all() and deep.map.shape == (64, 64)
    same = finder.run(a, a)
    assert np.abs(same.map).max() == 0.0
