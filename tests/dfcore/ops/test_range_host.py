"""The range tolerance's host path gives its torch path's values to the bit, and steps aside where it must."""

from __future__ import annotations

import pytest
import torch

from dfcore.ops.channels import reduce_channels
from dfcore.ops.range_host import host_range_tolerant
from dfcore.ops.shift import RANGE_BAND_PIXELS, range_tolerant


def _pair(channels: int, dtype: torch.dtype, channels_last: bool, batch: int = 1, size: tuple[int, int] = (70, 53)):
    generator = torch.Generator().manual_seed(channels * 10 + batch)
    a = torch.rand(batch, channels, *size, generator=generator, dtype=dtype)
    b = a.clone()
    b[..., 10:30, 5:25] += 0.3 * torch.rand(batch, channels, 20, 20, generator=generator, dtype=dtype)
    b[..., 40:, 30:] = torch.roll(a[..., 40:, 30:], 1, -1)  # an edge moved by a pixel
    if channels_last:
        a, b = (t.contiguous(memory_format=torch.channels_last) for t in (a, b))
    return a, b


def _torch_path(a, b, radius, how, overshoot):
    return range_tolerant(a, b, radius, lambda values: reduce_channels(values, how), overshoot)


@pytest.mark.parametrize("how", ["l2", "max", "sum", "mean"])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_host_path_gives_the_torch_path_s_values_to_the_bit(how, channels, channels_last):
    a, b = _pair(channels, torch.float32, channels_last, batch=2)
    for radius, overshoot in ((1, 0.0), (1, 0.15), (2, 0.3), (0, 0.0)):
        host = host_range_tolerant(a, b, radius, how, overshoot, 2**10)  # small bands: several per image
        assert host is not None
        assert torch.equal(host, _torch_path(a, b, radius, how, overshoot))
        assert torch.equal(range_tolerant(a, b, radius, how, overshoot), host)


def test_float64_and_boxes_of_a_mostly_identical_pair_take_the_host_path_with_the_same_values():
    a, b = _pair(3, torch.float64, False, size=(200, 180))
    b[..., 40:, 30:] = a[..., 40:, 30:]  # only the patch differs: range_tolerant computes its box
    got = range_tolerant(a, b, 1, "l2", 0.15)
    assert got.dtype == torch.float64 and got[..., 100:, :].abs().max() == 0
    assert torch.equal(got, _torch_path(a, b, 1, "l2", 0.15))
    assert got[..., 10:30, 5:25].max() > 0.1  # the patch stands out


def test_the_host_path_steps_aside_for_what_it_does_not_take():
    a, b = _pair(3, torch.float32, False)
    assert host_range_tolerant(a.requires_grad_(), b, 1, "l2", 0.0, RANGE_BAND_PIXELS) is None
    a = a.detach()
    assert host_range_tolerant(a.half(), b.half(), 1, "l2", 0.0, RANGE_BAND_PIXELS) is None
    assert host_range_tolerant(a, b.double(), 1, "l2", 0.0, RANGE_BAND_PIXELS) is None
    assert host_range_tolerant(a, b.contiguous(memory_format=torch.channels_last), 1, "l2", 0.0,
                               RANGE_BAND_PIXELS) is None  # one layout for both
    five = torch.rand(1, 5, 20, 20)
    assert host_range_tolerant(five, five.flip(-1), 1, "l2", 0.0, RANGE_BAND_PIXELS) is None
    # where it steps aside, range_tolerant still answers, by torch
    assert torch.equal(range_tolerant(five, five.flip(-1), 1, "sum"), _torch_path(five, five.flip(-1), 1, "sum", 0.0))


def test_a_named_reduction_is_checked():
    a, b = _pair(3, torch.float32, False)
    with pytest.raises(ValueError, match="reduce must be one of"):
        range_tolerant(a, b, 1, "median")
