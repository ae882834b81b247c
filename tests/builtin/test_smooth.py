"""The map's scale: Gaussian filtering, the ``smooth`` postprocessor and ``difference:sigma``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dfcore import Finder, ParameterError
from dfcore.contracts import StageOutput
from dfcore.ops.filters import gaussian_blur, gaussian_kernel
from dfcore.ops.filters import multiscale_smooth as smooth_map
from dfcore.testing import fresh_registry
from dfplugins_builtin.postprocessors.smooth import Smooth
from dfplugins_builtin.strategies.difference import difference_map


@pytest.mark.parametrize("sigma", [0.6, 1.5, 2.0, 4.0])
def test_gaussian_blur_matches_scipy(sigma):
    # scipy's "mirror" border is torch's "reflect"; truncate=3 gives the same kernel radius.
    x = torch.rand(2, 3, 37, 52, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = gaussian_blur(x, sigma).numpy()
    reference = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="mirror", truncate=3.0)
    np.testing.assert_allclose(ours, reference, atol=1e-12)


def test_gaussian_blur_keeps_constants_mass_dtype_and_zero_sigma():
    flat = torch.full((1, 2, 20, 30), 0.25)
    torch.testing.assert_close(gaussian_blur(flat, 3.0), flat)
    impulse = torch.zeros(1, 1, 41, 41, dtype=torch.float64)
    impulse[..., 20, 20] = 1.0
    blurred = gaussian_blur(impulse, 2.0)
    assert blurred.dtype == torch.float64 and blurred.sum().item() == pytest.approx(1.0)
    assert blurred[0, 0].argmax().item() == 20 * 41 + 20
    assert gaussian_blur(impulse, 0) is impulse
    kernel = gaussian_kernel(1.0, torch.device("cpu"), torch.float32)
    assert kernel.numel() == 7 and kernel.sum().item() == pytest.approx(1.0)


def test_gaussian_blur_handles_images_smaller_than_the_kernel():
    tiny = torch.rand(1, 1, 3, 4)
    out = gaussian_blur(tiny, 5.0)
    assert out.shape == tiny.shape and torch.isfinite(out).all()
    assert out.min() >= tiny.min() - 1e-6 and out.max() <= tiny.max() + 1e-6


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_bad_sigma_is_refused(bad):
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        Smooth(bad)


def test_smoothing_averages_speckle_and_keeps_a_blob():
    generator = torch.Generator().manual_seed(1)
    speckle = torch.rand(1, 1, 64, 64, generator=generator) * 0.2
    blob = torch.zeros(1, 1, 64, 64)
    blob[..., 20:36, 20:36] = 1.0
    noisy = speckle + blob
    smoothed = Smooth(2.0)(StageOutput(map=noisy))
    background = (slice(None), slice(None), slice(44, 60), slice(44, 60))
    assert smoothed[background].std() < noisy[background].std() / 3
    assert smoothed[..., 26:30, 26:30].min() > 0.95


def test_octaves_average_the_doubling_scales():
    diff_map = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(3))
    expected = (gaussian_blur(diff_map, 1.0) + gaussian_blur(diff_map, 2.0) + gaussian_blur(diff_map, 4.0)) / 3
    torch.testing.assert_close(smooth_map(diff_map, 1.0, octaves=3), expected)
    assert Smooth(1.0, octaves=3).conventions()["scales"] == [1.0, 2.0, 4.0]


def test_octaves_keep_a_thin_line_brighter_than_one_coarse_scale_and_join_a_patchy_blob():
    thin = torch.zeros(1, 1, 64, 64)
    thin[..., 32, 8:56] = 1.0
    patchy = torch.zeros(1, 1, 64, 64)
    patchy[..., 16:48:6, 16:48:6] = 1.0  # a blob made of isolated dots
    coarse, multi = Smooth(4.0), Smooth(1.0, octaves=3)
    assert multi(StageOutput(map=thin)).max() > 1.5 * coarse(StageOutput(map=thin)).max()
    joined = multi(StageOutput(map=patchy))[..., 16:44, 16:44]
    assert joined.min() > 0.1 * joined.max()  # no hole between the dots falls near zero


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_octaves_are_refused(bad):
    with pytest.raises(ValueError, match="octaves must be a whole number >= 1"):
        Smooth(1.0, octaves=bad)


def test_smooth_ignores_and_zeroes_invalid_pixels():
    diff_map = torch.full((1, 1, 32, 32), 0.5)
    valid = torch.ones(1, 1, 32, 32, dtype=torch.bool)
    valid[..., :, 16:] = False
    diff_map[..., :, 16:] = 100.0  # whatever lies outside valid must not leak in
    for octaves in (1, 3):
        out = smooth_map(diff_map, 3.0, valid, octaves)
        torch.testing.assert_close(out[..., :, :16], torch.full((1, 1, 32, 16), 0.5))
        assert (out[..., :, 16:] == 0).all()
        assert torch.equal(Smooth(3.0, octaves)(StageOutput(map=diff_map, valid=valid)), out)


def test_difference_sigma_smooths_the_images_before_comparing():
    generator = torch.Generator().manual_seed(2)
    a = torch.rand(1, 3, 40, 40, generator=generator)
    b = (a + 0.1 * torch.randn(1, 3, 40, 40, generator=generator)).clamp(0, 1)
    expected = (gaussian_blur(a, 1.5) - gaussian_blur(b, 1.5)).abs().mean(1, keepdim=True)
    torch.testing.assert_close(difference_map(a, b, sigma=1.5), expected)
    assert difference_map(a, b, sigma=1.5).mean() < difference_map(a, b).mean() / 2


def test_smooth_is_a_stage_with_a_recorded_sigma():
    registry = fresh_registry()
    a = torch.zeros(1, 1, 24, 24)
    b = a.clone()
    b[..., 12, 12] = 1.0
    finder = Finder(preprocessor="identity", metric="mse", strategy="difference", postprocessor="smooth:sigma=1.5",
                    device="cpu", registry=registry)
    assert finder.config["postprocessor"] == [
        {**finder.config["postprocessor"][0], "name": "smooth", "params": {"sigma": 1.5, "octaves": 1}}]
    out = finder.compute(a, b).output.map
    torch.testing.assert_close(out, gaussian_blur(b - a, 1.5))
    with pytest.raises(ParameterError, match="sigma"):
        Finder(preprocessor="identity", metric="mse", strategy="difference", postprocessor="smooth:sigma=-1",
               device="cpu", registry=registry)


@pytest.mark.parametrize("shape,pre", [((1, 1, 64, 64), 0.0), ((2, 1, 97, 130), 1.0), ((1, 1, 40, 200), 1.5)])
def test_scales_by_fft_equal_the_blurs_in_turn_borders_and_zeros_included(monkeypatch, shape, pre):
    """The FFT path (the widest kernel reaching FFT_RADIUS px) against each blur applied in turn."""
    from dfcore.ops import filters

    calls = []
    monkeypatch.setattr(filters, "_smooth_by_fft", lambda *args, f=filters._smooth_by_fft: calls.append(1) or f(*args))
    diff_map = torch.rand(shape, generator=torch.Generator().manual_seed(4))
    diff_map[..., : shape[-2] // 2, :] = 0  # a zero area: a convolution leaves it exactly zero
    diff_map[..., -1, -1] = 1.0
    blurred = gaussian_blur(diff_map, pre)
    expected = sum(gaussian_blur(blurred, 1.0 * 2**i) for i in range(4)) / 4
    out = smooth_map(diff_map, 1.0, octaves=4, pre=pre)
    assert calls
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6 * float(expected.abs().max()))
    assert torch.equal(out == 0, expected == 0)


@pytest.mark.parametrize("batch", [1, 2])
def test_a_sparse_map_is_filtered_in_boxes_around_its_non_zero_pixels(monkeypatch, batch):
    """A mostly-zero map (a lossless pair's) is filtered by FFT in boxes around its non-zero pixels,
    at an edge and a corner too: the blurs in turn to the FFT's rounding, the same exact zeros."""
    from dfcore.ops import filters

    shapes = []
    monkeypatch.setattr(filters, "_fft_filter", lambda values, *args, f=filters._fft_filter: shapes.append(
        tuple(values.shape[-2:])) or f(values, *args))
    diff_map = torch.zeros(batch, 1, 400, 900)
    generator = torch.Generator().manual_seed(5)
    for top, left in ((0, 0), (200, 450), (392, 200), (40, 891)):  # a corner, the middle, two edges
        diff_map[-1, :, top:top + 8, left:left + 9] = torch.rand(1, 8, 9,
                                                                  generator=generator)
    blurred = gaussian_blur(diff_map, 1.0)
    expected = sum(gaussian_blur(blurred, 1.0 * 2**i) for i in range(4)) / 4
    out = smooth_map(diff_map, 1.0, octaves=4, pre=1.0)
    assert len(shapes) > 1 and all(shape != (400, 900) for shape in shapes)  # boxes, not the map
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6 * float(expected.abs().max()))
    assert torch.equal(out == 0, expected == 0)
    monkeypatch.setattr(filters, "SPARSE_SHARE", 0.0)  # the whole map's FFT: the same to its rounding
    torch.testing.assert_close(smooth_map(diff_map, 1.0, octaves=4, pre=1.0), out, rtol=0,
                               atol=1e-6 * float(out.max()))
    assert torch.equal(smooth_map(torch.zeros(batch, 1, 400, 900), 1.0, octaves=4, pre=1.0),
                       torch.zeros(batch, 1, 400, 900))


def masked_scales(diff_map, valid, sigma, octaves, pre):
    """The masked scales as the separable blurs give them: each scale's blur of the masked map over
    its blur of the mask, averaged, then masked."""
    weight = valid.to(diff_map.dtype)
    values = gaussian_blur(diff_map, pre) * weight
    total = sum(gaussian_blur(values, sigma * 2**i) / gaussian_blur(weight, sigma * 2**i).clamp_min(1e-6)
                for i in range(octaves))
    return total / octaves * weight


def test_a_rectangular_mask_is_smoothed_by_fft_and_its_edges_corrected_as_the_blurs_give_them(monkeypatch):
    """A mask that is a rectangle in every sample (an edge margin, a resampled pair's inner part):
    one at the image's edge, one inside it, one thinner than the widest kernel, one empty. The
    FFT with corrections along the rectangle's edges equals the masked blurs to a float rounding,
    zeros included."""
    from dfcore.ops import filters

    calls = []
    monkeypatch.setattr(filters, "_rectangle_scales", lambda *args, f=filters._rectangle_scales: calls.append(
        args[1]) or f(*args))
    generator = torch.Generator().manual_seed(6)
    diff_map = torch.rand(4, 1, 150, 210, generator=generator) ** 3
    diff_map[..., 10:140, 80:200] = 0  # a zero area, its middle beyond the kernels' reach (27 px)
    valid = torch.zeros(4, 1, 150, 210, dtype=torch.bool)
    valid[0, :, 0:120, 5:210] = True  # along the image's top and right edges
    valid[1, :, 30:140, 40:190] = True
    valid[2, :, 70:80, 20:200] = True  # 10 rows: thinner than the widest kernel's radius
    out = smooth_map(diff_map, 1.0, valid, 4, pre=1.0)
    assert calls == [[(0, 120, 5, 210), (30, 140, 40, 190), (70, 80, 20, 200), None]]
    expected = masked_scales(diff_map, valid, 1.0, 4, 1.0)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6 * float(expected.abs().max()))
    assert torch.equal(out == 0, expected == 0) and bool((out[:3, :, 40:110, 110:170] == 0).all())
    assert not out[3].any()


def test_a_mask_that_is_not_a_rectangle_keeps_the_separable_blurs(monkeypatch):
    from dfcore.ops import filters

    monkeypatch.setattr(filters, "_rectangle_scales", lambda *args: pytest.fail("not a rectangle"))
    diff_map = torch.rand(1, 1, 120, 160, generator=torch.Generator().manual_seed(7))
    valid = torch.ones(1, 1, 120, 160, dtype=torch.bool)
    valid[..., 40:60, 50:90] = False  # a hole
    expected = masked_scales(diff_map, valid, 1.0, 4, 1.0)
    torch.testing.assert_close(smooth_map(diff_map, 1.0, valid, 4, pre=1.0), expected)
    valid = torch.zeros(1, 1, 120, 160, dtype=torch.bool)
    valid[..., 10:50, 10:60] = valid[..., 70:110, 10:60] = True  # two rectangles: the same rows' span, a gap
    expected = masked_scales(diff_map, valid, 1.0, 4, 1.0)
    torch.testing.assert_close(smooth_map(diff_map, 1.0, valid, 4, pre=1.0), expected)
