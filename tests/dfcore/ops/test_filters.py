"""The separable filter every blur goes through (:mod:`dfcore.ops.filters`)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dfcore.ops.filters import gaussian_blur, gaussian_kernel, separable_filter


def depthwise_conv(x, kernel, padding, stride):
    """The textbook form: a depthwise 2-D convolution by the kernel along y, then along x."""
    channels, size = x.shape[1], kernel.numel()
    x = F.pad(x, (size // 2,) * 4, mode=padding)
    x = F.conv2d(x, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), stride=(stride, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), stride=(1, stride), groups=channels)


@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 1, 16, 9), (1, 2, 64, 64)])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["reflect", "replicate"])
def test_the_filter_is_the_depthwise_convolution(shape, stride, padding):
    x = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(sum(shape)))
    for sigma in (0.5, 1.0, 2.5):
        kernel = gaussian_kernel(sigma, "cpu", torch.float64)
        if padding == "reflect" and kernel.numel() // 2 >= min(shape[-2:]):
            continue  # the filter replicates then; the reference would fail
        expected = depthwise_conv(x, kernel, padding, stride)
        got = separable_filter(x, kernel, padding, stride)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_the_filter_is_differentiable_and_sums_alike_with_and_without_autograd():
    x = torch.rand(1, 3, 20, 24, dtype=torch.float64, requires_grad=True)
    kernel = gaussian_kernel(1.0, "cpu", torch.float64)
    assert torch.autograd.gradcheck(lambda t: separable_filter(t, kernel, stride=2), (x,))
    # A differentiable metric compares a tracked image with an untracked one: equal inputs must
    # give equal outputs to the bit, or identical images would not score 0.
    torch.testing.assert_close(gaussian_blur(x, 1.5), gaussian_blur(x.detach(), 1.5), rtol=0, atol=0)


def test_a_kernel_wider_than_the_image_replicates_its_border():
    x = torch.arange(6.0).view(1, 1, 2, 3)
    blurred = gaussian_blur(x, 3.0)
    assert blurred.shape == x.shape and torch.isfinite(blurred).all()
    assert x.min() <= blurred.min() and blurred.max() <= x.max()
