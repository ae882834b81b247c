"""The rasterisation tolerance and the trusted phase correlation (dfcore.ops.shift)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dfcore.ops.channels import reduce_channels
from dfcore.ops.shift import neighbourhood_range, phase_correlation, range_distance, range_tolerant


def combine(d):
    return reduce_channels(d, "max")


def disc(size=48, radius=12.0, centre=(24.0, 24.0), supersample=8):
    """A grey disc on white, anti-aliased by supersampling; ``centre`` may be fractional."""
    coords = (torch.arange(size * supersample, dtype=torch.float64) + 0.5) / supersample
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    inside = ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2).double()
    cover = F.avg_pool2d(inside[None, None], supersample)
    return (1.0 - 0.7 * cover).repeat(1, 3, 1, 1).float()


@pytest.mark.parametrize("radius", [1, 2])
def test_the_range_matches_max_pooling(radius):
    x = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    low, high = neighbourhood_range(x, radius)
    padded = F.pad(x, (radius,) * 4, mode="replicate")
    assert torch.equal(high, F.max_pool2d(padded, 2 * radius + 1, stride=1))
    assert torch.equal(low, -F.max_pool2d(-padded, 2 * radius + 1, stride=1))


def test_an_edge_drawn_half_a_pixel_off_matches_within_the_range():
    a, b = disc(), disc(centre=(24.5, 24.3))
    plain = combine((a - b).abs())
    tolerant = range_tolerant(a, b, 1, combine)
    assert plain.max() > 0.2 and tolerant.max() < 1e-6


def test_a_change_keeps_its_distance_to_the_range():
    a = disc()
    b = a.clone()
    b[..., 2:6, 2:6] = 0.2  # a dark square where A is white all round
    tolerant = range_tolerant(a, b, 1, combine)
    assert tolerant[..., 3:5, 3:5].min() == pytest.approx(0.8, abs=1e-6)


def test_an_object_in_either_image_is_found():
    a = torch.ones(1, 3, 20, 20)
    b = a.clone()
    b[..., 10, 5:15] = 0.0  # a one-pixel line in B only: A's range around it is all white
    assert range_tolerant(a, b, 1, combine)[0, 0, 10, 5:15].min() == pytest.approx(1.0)
    assert range_tolerant(b, a, 1, combine)[0, 0, 10, 5:15].min() == pytest.approx(1.0)


def test_overshoot_widens_the_range_by_a_fraction_of_its_width():
    y = torch.zeros(1, 1, 1, 3)
    y[..., 0] = 1.0  # the range around the middle pixel is [0, 1]
    x = torch.full((1, 1, 1, 3), 1.1)
    assert range_distance(x, y, 1)[0, 0, 0, 1] == pytest.approx(0.1)
    assert range_distance(x, y, 1, overshoot=0.15)[0, 0, 0, 1] == 0
    with pytest.raises(ValueError, match="overshoot must be a finite number >= 0"):
        range_distance(x, y, 1, overshoot=-0.1)


def test_the_correlation_peak_says_how_far_to_trust_a_translation():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 1, 64, 64, generator=g)
    b = torch.cat([torch.roll(a[:1], shifts=(3, -2), dims=(-2, -1)), torch.rand(1, 1, 64, 64, generator=g)])
    shift, peak = phase_correlation(a, b)
    assert shift[0].tolist() == pytest.approx([3.0, -2.0], abs=0.05)
    assert peak[0] > 0.5 and peak[1] < 0.1


@pytest.mark.parametrize("radius,overshoot", [(0, 0.0), (1, 0.15), (2, 0.0)])
def test_the_range_in_bands_equals_one_pass(monkeypatch, radius, overshoot):
    from dfcore.ops import shift

    generator = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, 61, 40, generator=generator), torch.rand(2, 3, 61, 40, generator=generator)
    l2 = lambda d: reduce_channels(d, "l2")
    whole = range_tolerant(a, b, radius, l2, overshoot)
    monkeypatch.setattr(shift, "RANGE_BAND_PIXELS", 40 * 3)  # bands of 8 rows
    banded = range_tolerant(a, b, radius, l2, overshoot)
    assert torch.equal(banded, whole)
    # and the reference formula, written out
    def outside(x, y):
        low, high = neighbourhood_range(y, radius)
        low, high = low - overshoot * (high - low), high + overshoot * (high - low)
        return l2((x - high).clamp_min(0) + (low - x).clamp_min(0))

    assert torch.equal(whole, torch.maximum(outside(a, b), outside(b, a)))
