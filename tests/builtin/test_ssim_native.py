"""The C++ SSIM kernel: the closed form's sums and gradients, when it is built and used, and the fallbacks."""

from __future__ import annotations

import pytest
import pytorch_msssim
import torch

from dfplugins_builtin.metrics import ssim as S
from dfplugins_builtin.metrics import ssim_fused as FZ
from dfplugins_builtin.metrics import ssim_native as N

PURE = (FZ.strip_forward, FZ.strip_backward)
needs_compiler = pytest.mark.skipif(N.compiler() is None, reason="no C++ compiler")


def _pair(shape, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator, dtype=torch.float64)
    y = (x + 0.3 * torch.rand(shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    return x.to(dtype), y.to(dtype)


@pytest.fixture(scope="module")
def native():
    if N.compiler() is None:
        pytest.skip("no C++ compiler")
    return N.NativeSSIM(N.build())


def _relative(ours, reference):
    return float((ours.double() - reference).abs().max() / reference.abs().max())


@needs_compiler
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("win", [11, 7])
@pytest.mark.parametrize(("output", "which"), [("ssim", (False, True)), ("ssim", (True, False)), ("cs", (True, True)),
                                               (None, (False, False)), ("ssim", (False, False))])
@pytest.mark.parametrize("shape", [(1, 3, 200, 150), (2, 2, 11, 30), (1, 1, 140, 11), (1, 1, 65, 70)])
def test_sums_and_gradients_equal_the_closed_form(native, monkeypatch, threads, win, output, which, shape):
    monkeypatch.setattr(N, "BAND_ROWS", 16)  # several bands even on small images
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    x, y = _pair(shape)
    taps = tuple(S.gaussian_window(win, 1.5, x.device, torch.float64).tolist())
    c1, c2 = 1e-4, 9e-4
    reference = FZ.fused_means(PURE, x.double(), y.double(), taps, c1, c2, output, *which)
    ours = native(x, y, taps, c1, c2, output, *which)
    assert len(ours) == len(reference)
    for value, expected in zip(ours, reference):
        assert value.dtype == torch.float32 and value.shape == expected.shape
        assert _relative(value, expected) < 1e-5


@needs_compiler
def test_strided_inputs_give_the_same_result_as_contiguous_ones(native):
    x, y = _pair((2, 3, 80, 90))
    taps = tuple(S.gaussian_window(11, 1.5, x.device, x.dtype).tolist())
    expected = native(x, y, taps, 1e-4, 9e-4, "ssim", True, True)
    layouts = [(x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)),
               (torch.cat([x, x], -1)[..., :90], torch.cat([y, y], -2)[..., :80, :])]
    for xs, ys in layouts:
        got = native(xs, ys, taps, 1e-4, 9e-4, "ssim", True, True)
        for value, reference in zip(got, expected):
            torch.testing.assert_close(value, reference, rtol=0, atol=0)
        assert got[2].stride() == torch.empty_like(xs).stride()


@needs_compiler
@pytest.mark.parametrize(("ours", "theirs", "shape"), [
    (S.ssim, pytorch_msssim.ssim, (2, 3, 40, 36)),
    (S.ms_ssim, pytorch_msssim.ms_ssim, (1, 2, 177, 165)),
], ids=["ssim", "ms-ssim"])
def test_metrics_through_the_kernel_equal_autograd_through_pytorch_msssim(monkeypatch, ours, theirs, shape):
    """Within 1e-5 of the map's peak of float64 autograd, or as close as pytorch_msssim's own float32
    (MS-SSIM's float32 rounding, in either, is 2 to 3e-5 of the peak on small images)."""
    kernels = FZ.FusedKernels()
    monkeypatch.setattr(S, "KERNELS", kernels)
    monkeypatch.setenv(FZ.COMPILE_ENV, "1")
    x, y = _pair(shape, dtype=torch.float64)
    window = S.gaussian_window(11, 1.5, torch.device("cpu"), x.dtype).view(1, 1, 1, -1).repeat(shape[1], 1, 1, 1)

    def gradient(fn, a, b):
        b = b.clone().requires_grad_(True)
        value = fn(a, b)
        value.sum().backward()
        return value, b.grad

    def reference(a, b):
        return theirs(a, b, data_range=1.0, size_average=False, win=window.to(a.dtype))

    value, grad = gradient(ours, x.float(), y.float())
    assert kernels.native is not None and kernels.spent == {}, "the kernel ran, not the closed form"
    truth_value, truth = gradient(reference, x, y)
    _, theirs_float32 = gradient(reference, x.float(), y.float())
    torch.testing.assert_close(value.double(), truth_value, rtol=1e-5, atol=1e-6)
    assert _relative(grad, truth) <= max(1e-5, 1.5 * _relative(theirs_float32, truth))


def test_other_devices_and_dtypes_and_windows_are_not_served():
    assert not N.NativeSSIM.supports(torch.empty(1, 1, 20, 20, device="meta"), 11)  # as a CUDA tensor: torch serves
    assert not N.NativeSSIM.supports(torch.empty(1, 1, 20, 20, dtype=torch.float64), 11)
    assert not N.NativeSSIM.supports(torch.empty(1, 1, 20, 20), 9)
    assert N.NativeSSIM.supports(torch.empty(1, 1, 20, 20), 11)
    assert not N.NativeSSIM.supports(torch.empty(1, 1, 20, 20), 11, torch.empty(1, 1, 20, 20, dtype=torch.float64))


@needs_compiler
def test_auto_uses_a_cached_library_at_once_and_builds_one_when_the_eager_seconds_pay(monkeypatch, tmp_path):
    monkeypatch.setenv(N.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(FZ.COMPILE_ENV, "auto")
    x = torch.rand(1, 3, 32, 32)
    kernels = FZ.FusedKernels(build_threshold=1.0)
    assert kernels.choose_native(x, 11) is None, "nothing cached, nothing spent: eager"
    key = FZ.FusedKernels.key(x, FZ.STRIP_ROWS, 11, "ssim", False, True)
    kernels.count(key, 0.6)
    kernels.save_seconds()  # the process ends: its seconds are kept in the cache
    later = FZ.FusedKernels(build_threshold=1.0)
    assert later.choose_native(x, 11) is None and later.native_seconds() == pytest.approx(0.6)
    later.count(key, 0.6)
    assert later.choose_native(x, 11) is not None, "1.2 s spent over two processes: built"
    assert N.cached() is not None
    assert FZ.FusedKernels(build_threshold=1e9).choose_native(x, 11) is not None, "cached: loaded at the first call"
    monkeypatch.setenv(FZ.COMPILE_ENV, "0")
    assert later.choose_native(x, 11) is None
    assert FZ.FusedKernels().choose_native(x.double(), 11) is None


def test_a_kernel_that_cannot_be_built_is_told_once_and_torch_serves(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv(N.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(FZ.COMPILE_ENV, "1")
    kernels = FZ.FusedKernels()
    kernels.compiled = PURE  # torch.compile's place, run as plain torch code
    monkeypatch.setattr(S, "KERNELS", kernels)
    x, y = _pair((1, 2, 30, 30), dtype=torch.float32)
    yr = y.clone().requires_grad_(True)
    with pytest.warns(RuntimeWarning, match=r"SSIM kernel could not be built \(.*no C\+\+ compiler"):
        S.ssim(x, yr).sum().backward()
    assert kernels.native is None and kernels.native_failed is not None and kernels.spent == {}, "torch's kernel ran"
    yr2 = y.clone().requires_grad_(True)
    monkeypatch.setenv(FZ.COMPILE_ENV, "0")
    S.ssim(x, yr2).sum().backward()  # the eager closed form
    assert _relative(yr.grad, yr2.grad.double()) < 1e-5


def test_a_compiler_error_is_one_line(monkeypatch, tmp_path):
    script = tmp_path / "cxx"
    script.write_text("#!/bin/sh\necho 'ssim_native.cpp:1:1: error: something broke' >&2\necho more >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("CXX", str(script))
    monkeypatch.setenv(N.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(N.BuildError, match=r"^cxx failed: ssim_native.cpp:1:1: error: something broke$"):
        N.build()
    assert not list((tmp_path / "cache").glob("*.part")), "no partial library left behind"
