"""The ``integrated`` strategy: completeness, concentration on real changes, chunking, batches, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfcore import Finder, ParameterError
from dfcore.testing import planted_pair
from dfplugins_extra.strategies.integrated import IntegratedGradients, gauss_legendre, path_chunk

BOX = (20, 24, 36, 44)  # y0, x0, y1, x1


def noisy_pair(noise: float = 0.05, delta: float = 0.2, seed: int = 1):
    """A planted change in one box, and independent sensor noise on both images."""
    a, b, mask = planted_pair(64, 64, boxes=(BOX,), delta=delta)
    generator = torch.Generator().manual_seed(seed)
    a = (a + noise * torch.randn(a.shape, generator=generator)).clamp(0.0, 1.0)
    b = (b + noise * torch.randn(b.shape, generator=generator)).clamp(0.0, 1.0)
    return a, b, mask.numpy()


def completeness(result) -> dict:
    return result.info["integrated"]["completeness"]


@pytest.mark.parametrize("metric", ["mse", "ssim"])
@pytest.mark.parametrize("reference", ["a", "b"])
def test_the_map_adds_up_to_the_distance_gap(metric, reference):
    a, b, _ = noisy_pair()
    finder = Finder(metric=metric, strategy=("integrated", {"reference": reference}), device="cpu")
    result = finder.run(a, b)
    # distance(a, b) - distance(r, r): MSE itself; 1 - SSIM for a higher-is-better metric
    gap = result.score if metric == "mse" else 1.0 - result.score
    assert float(result.map.astype(np.float64).sum()) == pytest.approx(gap, rel=0.01)
    record = completeness(result)
    assert record["distance_gap"] == pytest.approx(gap, rel=1e-5)
    assert record["attribution_sum"] == pytest.approx(float(result.map.astype(np.float64).sum()), rel=1e-5)
    assert abs(record["error"]) <= 0.01 * abs(gap) and record["relative_error"] < 0.01
    assert result.info["integrated"]["steps"] == 32 and result.info["integrated"]["rule"] == "gauss-legendre"


def test_mse_attributions_are_the_squared_errors():
    """For MSE the path integral is exact with one node: (b - a)^2 summed over channels / pixel count."""
    a, b, _ = noisy_pair()
    for steps in (1, 5):
        result = Finder(metric="mse", strategy=("integrated", {"steps": steps}), device="cpu").run(a, b)
        expected = ((b - a) ** 2).sum(1)[0].numpy() / a.numel()
        np.testing.assert_allclose(result.map, expected, rtol=1e-4, atol=1e-10)


@pytest.mark.parametrize("metric", ["mse", "ssim"])
def test_mass_concentrates_on_the_real_change_more_than_a_plain_gradient(metric):
    a, b, changed = noisy_pair(noise=0.05, delta=0.2)
    shares = {}
    for strategy in ("gradient", "integrated"):
        magnitude = np.abs(Finder(metric=metric, strategy=strategy, device="cpu").run(a, b).map)
        shares[strategy] = magnitude[changed].sum() / magnitude.sum()
    # measured: mse 0.22 -> 0.42, ssim 0.12 -> 0.25, the box being 7.8% of the image
    assert shares["integrated"] > 1.5 * shares["gradient"], shares
    assert shares["integrated"] > 3 * changed.mean()


def test_chunking_does_not_change_the_map():
    a, b, _ = noisy_pair()
    maps = [Finder(metric="ssim", strategy=("integrated", {"steps": 7, "batch_size": size}), device="cpu").run(a, b).map
            for size in (1, 3, None)]
    np.testing.assert_allclose(maps[0], maps[1], rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(maps[0], maps[2], rtol=1e-4, atol=1e-9)


def test_path_chunk_keeps_large_images_small():
    assert path_chunk(torch.zeros(1, 3, 64, 64), 32) == 32
    assert path_chunk(torch.zeros(1, 3, 2160, 3840), 32) == 1
    assert path_chunk(torch.zeros(1, 3, 512, 512), 32) == 5
    assert path_chunk(torch.zeros(1, 3, 8, 8), 32, batch_size=4) == 4


def test_a_batch_equals_single_pairs():
    first, second = noisy_pair(seed=1), noisy_pair(seed=2)
    finder = Finder(metric="ssim", strategy=("integrated", {"steps": 8}), device="cpu")
    together = finder.run(torch.cat([first[0], second[0]]), torch.cat([first[1], second[1]]))
    for result, (a, b, _) in zip(together, (first, second)):
        alone = finder.run(a, b)
        np.testing.assert_allclose(result.map, alone.map, rtol=1e-4, atol=1e-9)
        assert completeness(result)["distance_gap"] == pytest.approx(completeness(alone)["distance_gap"], rel=1e-5)


def test_unsigned_is_the_absolute_attribution():
    a, b, _ = noisy_pair()
    signed = Finder(metric="ssim", strategy=("integrated", {"steps": 8}), device="cpu").run(a, b)
    unsigned = Finder(metric="ssim", strategy=("integrated", {"steps": 8, "signed": False}), device="cpu").run(a, b)
    assert signed.map.min() < 0  # SSIM attributions have both signs on a noisy pair
    np.testing.assert_allclose(unsigned.map, np.abs(signed.map), rtol=1e-6)
    assert completeness(unsigned) == completeness(signed)


def test_ignored_pixels_get_nothing_and_the_rest_still_adds_up():
    a, b, _ = noisy_pair()
    result = Finder(metric="ssim", strategy="integrated", device="cpu").run(a, b, ignore="0:0-30:64")
    assert not result.map[:, :30].any()
    assert completeness(result)["relative_error"] < 0.01
    assert float(result.map.astype(np.float64).sum()) == pytest.approx(1.0 - result.score, rel=0.01)


def test_psnr_is_refused_with_a_hint():
    a, b, _ = noisy_pair()
    with pytest.raises(ParameterError, match=r"'psnr' is infinite at identical images.*mse instead of psnr"):
        Finder(metric="psnr", strategy="integrated", device="cpu").run(a, b)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"steps": 2.5}, "steps must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1 or none"),
    ({"reference": "c"}, "reference must be a or b"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IntegratedGradients(**kwargs)


def test_gauss_legendre_nodes_lie_inside_and_weights_sum_to_one():
    for steps in (1, 2, 7, 32):
        nodes, weights = gauss_legendre(steps)
        assert len(nodes) == steps and all(0.0 < t < 1.0 for t in nodes)
        assert sum(weights) == pytest.approx(1.0)
    nodes, weights = gauss_legendre(3)  # exact for polynomials of degree 5
    assert sum(w * t**5 for t, w in zip(nodes, weights)) == pytest.approx(1.0 / 6.0)


def test_cli_parameters_and_conventions_are_recorded():
    a, b, _ = noisy_pair()
    finder = Finder(metric="mse", strategy="integrated:steps=4,batch_size=2,signed=false", device="cpu")
    strategy = finder.run(a, b).config["strategy"]
    assert strategy["params"] == {"steps": 4, "batch_size": 2, "reference": "a", "signed": False}
    assert strategy["conventions"]["rule"] == "Gauss-Legendre, 4 nodes"
    assert strategy["plugin"] == "extra"


@pytest.mark.gpu
def test_runs_on_the_gpu_like_on_the_cpu():
    a, b, _ = noisy_pair()
    cpu = Finder(metric="ssim", strategy=("integrated", {"steps": 8}), device="cpu").run(a, b)
    gpu = Finder(metric="ssim", strategy=("integrated", {"steps": 8}), device="cuda").run(a, b)
    np.testing.assert_allclose(gpu.map, cpu.map, rtol=1e-3, atol=1e-6 * np.abs(cpu.map).max())
