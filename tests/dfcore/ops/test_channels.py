"""dfcore.ops.channels: combining a per-channel map's channels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfcore.ops.channels import channel_max, channel_mean, reduce_channels


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_l2_is_the_correctly_rounded_root_of_the_sum_of_squares(dtype):
    values = torch.rand(2, 3, 16, 16, dtype=dtype)
    values[:, :, :8] = 0  # a difference map is mostly zeros
    before = values.clone()
    got = reduce_channels(values, "l2")
    total = (values.double() ** 2).sum(1, keepdim=True)
    assert got.shape == (2, 1, 16, 16) and got.dtype == dtype
    assert torch.equal(values, before)  # the input is not touched
    assert not got[:, :, :8].any()
    # the float64 root of the channels' sum rounded once to dtype: within half an ulp of it
    exact = torch.from_numpy(np.sqrt(values.square().sum(1, keepdim=True).numpy()))
    assert torch.equal(got, exact)
    torch.testing.assert_close(got.double(), total.sqrt(), rtol=2 * torch.finfo(dtype).eps, atol=0)


def test_l2_keeps_autograd():
    values = torch.rand(1, 3, 4, 4, requires_grad=True)
    reduce_channels(values, "l2").sum().backward()
    expected = values.detach() / values.detach().square().sum(1, keepdim=True).sqrt()
    torch.testing.assert_close(values.grad, expected)


def test_l2_under_inference_mode():
    with torch.inference_mode():
        values = torch.full((1, 2, 3, 3), 3.0)
        values[:, 1] = 4.0
        assert torch.equal(reduce_channels(values, "l2"), torch.full((1, 1, 3, 3), 5.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_max_and_mean_are_numpys_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    for shape in ((37, 41, 3), (5, 7, 1), (16, 16, 4), (2, 3, 9, 11, 3)):
        values = (rng.random(shape) * rng.choice([1e-3, 1.0, 255.0])).astype(dtype)
        views = ((-1, values), (2, values), (0, np.moveaxis(values, -1, 0)), (-3, np.moveaxis(values, -1, -3)))
        for axis, view in views:
            np.testing.assert_array_equal(channel_max(view, axis), view.max(axis=axis))
            mean = channel_mean(view, axis)
            assert mean.dtype == view.mean(axis=axis).dtype
            np.testing.assert_array_equal(mean, view.mean(axis=axis))
