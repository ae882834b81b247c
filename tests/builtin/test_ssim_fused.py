"""The fused SSIM kernel: the same sums and gradients as the closed form, strip by strip, and when it runs."""

from __future__ import annotations

import pytest
import pytorch_msssim
import torch

from dfplugins_builtin.metrics import ssim as S
from dfplugins_builtin.metrics import ssim_fused as FZ

PURE = (FZ.strip_forward, FZ.strip_backward)


def _pair(shape, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator, dtype=dtype)
    y = (x + 0.3 * torch.rand(shape, generator=generator, dtype=dtype)).clamp(0, 1)
    return x, y


def _grads(fn, x, y, which=(True, True)):
    x, y = x.clone().requires_grad_(which[0]), y.clone().requires_grad_(which[1])
    value = fn(x, y)
    return (value, *torch.autograd.grad(value.sum(), [t for t, w in zip((x, y), which) if w]))


@pytest.fixture
def pure_kernels(monkeypatch):
    """The fused path with the kernels run as plain torch code (what torch.compile compiles)."""
    kernels = FZ.FusedKernels()
    kernels.compiled = PURE
    monkeypatch.setattr(FZ, "KERNELS", kernels)
    monkeypatch.setattr(S, "KERNELS", kernels)
    monkeypatch.setenv(FZ.COMPILE_ENV, "1")
    return kernels


@pytest.mark.parametrize("out_rows", [1, 5, 64, 130, 200])
@pytest.mark.parametrize("rows", [1, 7, 64])
def test_strips_cover_every_window_row_once(out_rows, rows):
    strip, starts, counted = FZ.strip_layout(out_rows, rows)
    seen = torch.zeros(out_rows)
    for start, skip in zip(starts, counted):
        assert 0 <= start and start + strip <= out_rows
        seen[start + skip:start + strip] += 1
    assert torch.equal(seen, torch.ones(out_rows))


@pytest.mark.parametrize("output", ["ssim", "cs"])
@pytest.mark.parametrize("which", [(False, True), (True, False), (True, True), (False, False)])
@pytest.mark.parametrize("rows", [1, 7, 64])
def test_sums_and_gradient_equal_the_closed_form(output, which, rows):
    x, y = _pair((2, 3, 40, 37))
    window = S.gaussian_window(11, 1.5, x.device, x.dtype)
    c1, c2 = 1e-4, 9e-4
    ssim_sum, cs_sum, *grads = FZ.fused_means(PURE, x, y, tuple(window.tolist()), c1, c2, output, *which, rows=rows)
    windows = 30 * 27
    xr, yr = x.clone().requires_grad_(which[0]), y.clone().requires_grad_(which[1])
    ssim_mean, cs_mean = S.SSIMMeans.apply(xr, yr, window, c1, c2, None, 1000, None)
    torch.testing.assert_close(ssim_sum / windows, ssim_mean.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(cs_sum / windows, cs_mean.detach(), rtol=1e-12, atol=1e-14)
    assert len(grads) == sum(which)
    if any(which):
        expected = torch.autograd.grad((ssim_mean if output == "ssim" else cs_mean).sum(),
                                       [t for t, w in zip((xr, yr), which) if w])
        for grad, reference in zip(grads, expected):
            torch.testing.assert_close(grad / windows, reference, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("ours", "theirs", "shape"), [
    (S.ssim, pytorch_msssim.ssim, (2, 3, 40, 36)),
    (S.ms_ssim, pytorch_msssim.ms_ssim, (1, 2, 177, 165)),
], ids=["ssim", "ms-ssim"])
def test_metrics_through_the_fused_path_equal_pytorch_msssim(pure_kernels, ours, theirs, shape):
    x, y = _pair(shape)
    window = S.gaussian_window(11, 1.5, torch.device("cpu"), x.dtype).view(1, 1, 1, -1).repeat(shape[1], 1, 1, 1)
    for which in ((False, True), (True, True)):
        mine = _grads(ours, x, y, which)
        reference = _grads(lambda a, b: theirs(a, b, data_range=1.0, size_average=False, win=window), x, y, which)
        for value, expected in zip(mine, reference):
            torch.testing.assert_close(value, expected, rtol=1e-9, atol=1e-14)
    assert pure_kernels.spent == {}, "the fused path ran, not the closed form"


def test_differentiating_the_other_output_falls_back_to_the_closed_form(pure_kernels):
    x, y = _pair((1, 2, 30, 30))
    window = S.gaussian_window(11, 1.5, x.device, x.dtype)
    grads = []
    for wants in ("ssim", None):  # told "ssim", asked for the gradient of cs too
        yr = y.clone().requires_grad_(True)
        ssim_mean, cs_mean = S.SSIMMeans.apply(x, yr, window, 1e-4, 9e-4, None, 1000, wants)
        grads.append(torch.autograd.grad((ssim_mean + 2 * cs_mean).sum(), yr)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-15)


def test_auto_compiles_a_shape_once_its_eager_time_would_pay_for_it(monkeypatch):
    kernels = FZ.FusedKernels(threshold=1.0)
    kernels.compiled = PURE
    key = ("cpu", torch.float32, 3, 64, 64, "ssim", False, True)
    monkeypatch.setenv(FZ.COMPILE_ENV, "auto")
    assert kernels.choose(key) is None
    kernels.count(key, 0.6)
    assert kernels.choose(key) is None
    kernels.count(key, 0.6)
    assert kernels.choose(key) is PURE
    assert kernels.choose(key[:-2] + (True, True)) is None, "time is counted per shape"
    monkeypatch.setenv(FZ.COMPILE_ENV, "0")
    assert kernels.choose(key) is None
    monkeypatch.setenv(FZ.COMPILE_ENV, "1")
    assert kernels.choose(key[:-2] + (True, True)) is PURE
    monkeypatch.setenv(FZ.COMPILE_ENV, "sometimes")
    with pytest.raises(ValueError, match="DFIND_COMPILE must be auto, 1 or 0, got 'sometimes'"):
        kernels.choose(key)


def test_a_kernel_that_cannot_compile_is_told_once_and_eager_serves(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nmore detail")

    kernels = FZ.FusedKernels()
    kernels.compiled = (broken, broken)
    monkeypatch.setattr(S, "KERNELS", kernels)
    monkeypatch.setenv(FZ.COMPILE_ENV, "1")
    x, y = _pair((1, 1, 20, 20))
    with pytest.warns(RuntimeWarning, match=r"could not be compiled \(RuntimeError: no C\+\+ compiler found\)"):
        first = _grads(S.ssim, x, y)
    assert kernels.failed is not None and kernels.choose(("any",)) is None
    for value, expected in zip(first, _grads(lambda a, b: S.ssim_means(a, b)[0].mean(1), x, y)):
        torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.slow
def test_compiled_kernels_equal_the_closed_form(monkeypatch):
    """torch.compile of the kernels, as DFIND_COMPILE=1 runs them (float32, as images are) where the C++ kernel cannot."""
    kernels = FZ.FusedKernels()
    kernels.native_failed = "not built here"  # what serves when it could not be built (and on other devices)
    monkeypatch.setattr(S, "KERNELS", kernels)
    x, y = _pair((1, 3, 64, 64), dtype=torch.float32)
    monkeypatch.setenv(FZ.COMPILE_ENV, "0")
    eager = _grads(S.ssim, x, y, (False, True))
    reference = _grads(lambda a, b: pytorch_msssim.ssim(a, b, data_range=1.0, size_average=False), x, y, (False, True))
    monkeypatch.setenv(FZ.COMPILE_ENV, "1")
    compiled = _grads(S.ssim, x, y, (False, True))
    assert S.KERNELS.failed is None and S.KERNELS.compiled is not None
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-6, atol=1e-7)
    for ours in (compiled[1], eager[1]):
        assert float((ours - reference[1]).abs().max() / reference[1].abs().max()) < 1e-5
