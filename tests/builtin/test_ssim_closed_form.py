"""The closed-form SSIM gradient, its strips and its filters, held to pytorch_msssim and autograd."""

from __future__ import annotations

import pytest
import pytorch_msssim
import torch

from dfplugins_builtin.metrics import ssim as S


def _pair(shape, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator, dtype=dtype)
    y = (x + 0.3 * torch.rand(shape, generator=generator, dtype=dtype)).clamp(0, 1)
    return x, y


def _grads(fn, x, y):
    x, y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    value = fn(x, y)
    return (value, *torch.autograd.grad(value.sum(), (x, y)))


def _msssim_window(channels, dtype):
    # pytorch_msssim builds its own window in float32; pass ours so float64 stays exact
    return S.gaussian_window(11, 1.5, torch.device("cpu"), dtype).view(1, 1, 1, -1).repeat(channels, 1, 1, 1)


@pytest.mark.parametrize(("ours", "theirs", "shape"), [
    (S.ssim, pytorch_msssim.ssim, (2, 3, 40, 36)),
    (S.ms_ssim, pytorch_msssim.ms_ssim, (1, 2, 177, 165)),  # odd sizes: average pooling pads at some scales
], ids=["ssim", "ms-ssim"])
def test_value_and_gradients_equal_pytorch_msssim(ours, theirs, shape):
    x, y = _pair(shape)
    mine = _grads(ours, x, y)
    reference = _grads(lambda a, b: theirs(a, b, data_range=1.0, size_average=False,
                                           win=_msssim_window(shape[1], a.dtype)), x, y)
    for value, expected in zip(mine, reference):
        torch.testing.assert_close(value, expected, rtol=1e-9, atol=1e-14)


def test_float32_gradient_map_agrees_with_autograd_of_pytorch_msssim():
    x, y = _pair((1, 3, 64, 64), dtype=torch.float32)
    _, _, ours = _grads(S.ssim, x, y)
    _, _, theirs = _grads(lambda a, b: pytorch_msssim.ssim(a, b, data_range=1.0, size_average=False), x, y)
    assert float((ours - theirs).abs().max() / theirs.abs().max()) < 1e-5


@pytest.mark.parametrize("rows", [1, 2, 100])
@pytest.mark.parametrize("weighted", [False, True])
def test_closed_form_backward_passes_gradcheck(rows, weighted):
    x, y = _pair((2, 2, 9, 8))
    x.requires_grad_(True)
    y.requires_grad_(True)
    window = S.gaussian_window(5, 1.0, x.device, x.dtype)
    weight = None
    if weighted:
        weight = torch.rand(2, 1, 5, 4, dtype=x.dtype, generator=torch.Generator().manual_seed(1))
        weight = weight / weight.flatten(1).sum(1)[:, None, None, None]

    def both(a, b):  # both outputs, so the backward is checked for the ssim and cs cotangents at once
        return S.SSIMMeans.apply(a, b, window, 1e-2, 3e-2, weight, rows)

    assert torch.autograd.gradcheck(both, (x, y), fast_mode=True)


def test_gradient_with_respect_to_one_input_only():
    x, y = _pair((1, 1, 20, 20))
    y.requires_grad_(True)
    (grad,) = torch.autograd.grad(S.ssim(x, y).sum(), y)
    _, _, reference = _grads(lambda a, b: S.ssim_maps(a, b)[0].flatten(1).mean(1), x, y.detach())
    torch.testing.assert_close(grad, reference)


def test_second_derivatives_are_refused_not_wrong():
    x, y = _pair((1, 1, 16, 16))
    y.requires_grad_(True)
    (grad,) = torch.autograd.grad(S.ssim(x, y).sum(), y, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|does not require grad"):
        torch.autograd.grad(grad.sum(), y)


def test_strips_agree_with_one_pass():
    """Strips overlap by win_size - 1 rows, so every window is whole in exactly one strip."""
    x, y = _pair((2, 3, 30, 24))
    whole = _grads(lambda a, b: S.ssim_means(a, b, rows=10_000)[0].mean(1), x, y)
    for rows in (1, 7):
        strips = _grads(lambda a, b, r=rows: S.ssim_means(a, b, rows=r)[0].mean(1), x, y)
        for a, b in zip(strips, whole):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_statistics_recomputed_in_backward_equal_kept_ones(monkeypatch):
    x, y = _pair((1, 3, 40, 40))
    kept = _grads(S.ssim, x, y)
    monkeypatch.setattr(S, "KEEP_STATS_BYTES", 0)
    recomputed = _grads(S.ssim, x, y)
    for a, b in zip(kept, recomputed):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_valid_mask_averages_only_windows_inside():
    x, y = _pair((1, 2, 30, 30))
    valid = torch.ones(1, 1, 30, 30, dtype=torch.bool)
    valid[..., 5:12, 8:20] = False
    ssim_map, _ = S.ssim_maps(x, y)
    inside = S.valid_windows(valid, 11).expand_as(ssim_map)
    expected = ssim_map[inside].mean()
    torch.testing.assert_close(S.ssim(x, y, valid=valid), expected.reshape(1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_both_filter_paths_agree_and_are_adjoint(dtype):
    x, _ = _pair((2, 4, 23, 31), dtype=dtype)
    window = S.gaussian_window(7, 1.2, x.device, dtype) * torch.linspace(0.5, 1.5, 7, dtype=dtype)  # asymmetric
    reference = S._conv_filter(x, window)
    torch.testing.assert_close(S._transposed_filter(x, window.flip(0), crop=True), reference)
    torch.testing.assert_close(S.filter_valid(x, window), reference)
    probe, _ = _pair(reference.shape, dtype=dtype, seed=3)  # <filter(x), p> == <x, adjoint(p)>
    for adjoint in (S.filter_adjoint(probe, window), S._transposed_filter(probe, window, crop=False)):
        torch.testing.assert_close((reference * probe).sum(), (x * adjoint).sum())


def test_ms_ssim_in_strips_agrees_with_one_pass(monkeypatch):
    x, y = _pair((1, 1, 170, 163))
    whole = _grads(S.ms_ssim, x, y)
    monkeypatch.setattr(S, "STRIP_ELEMENTS", 1)  # the smallest strips: 16 rows at every scale
    strips = _grads(S.ms_ssim, x, y)
    for a, b in zip(strips, whole):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
