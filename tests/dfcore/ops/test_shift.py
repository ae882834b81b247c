"""The rasterisation tolerance and the trusted phase correlation (dfcore.ops.shift)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dfcore.ops.channels import reduce_channels
from dfcore.ops.shift import (
    best_match,
    check_step,
    check_window,
    differing_boxes,
    estimate_translation,
    moved,
    neighbourhood_range,
    phase_correlation,
    range_distance,
    range_tolerant,
    shifted,
    window_tolerant,
)


def combine(d):
    return reduce_channels(d, "max")


def disc(size=48, radius=12.0, centre=(24.0, 24.0), supersample=8):
    """A grey disc on white, anti-aliased by supersampling; ``centre`` may be fractional."""
    coords = (torch.arange(size * supersample, dtype=torch.float64) + 0.5) / supersample
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    inside = ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2).double()
    cover = F.avg_pool2d(inside[None, None], supersample)
    return (1.0 - 0.7 * cover).repeat(1, 3, 1, 1).float()


@pytest.mark.parametrize("radius", [1, 2, 4])
@pytest.mark.parametrize("layout", ["planar", "channels-last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_the_range_matches_max_pooling(radius, layout, dtype):
    """OpenCV's path (float32, float64 on a CPU) and torch's (the rest) give max pooling's values."""
    x = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0)).to(dtype)
    if layout == "channels-last":
        x = x.contiguous(memory_format=torch.channels_last)
    low, high = neighbourhood_range(x, radius)
    x = x.float()
    padded = F.pad(x, (radius,) * 4, mode="replicate")
    low, high = low.float(), high.float()
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


def test_the_host_s_division_by_the_modulus_gives_the_same_translation_to_a_float_rounding():
    """What estimate_translation runs (NumPy's modulus on a CPU) against torch's, on a sub-pixel move."""
    g = torch.Generator().manual_seed(2)
    a = F.interpolate(torch.rand(1, 3, 24, 24, generator=g), size=(96, 96), mode="bicubic", align_corners=False)
    b = torch.roll(a, shifts=(1, 0), dims=(-2, -1)) * 0.6 + a * 0.4 + 0.01 * torch.randn(a.shape, generator=g)
    torch_way, numpy_way = phase_correlation(a, b), phase_correlation(a, b, host=True)
    torch.testing.assert_close(numpy_way, torch_way, rtol=0, atol=1e-5)
    assert 0.3 < float(torch_way[0][0, 0]) < 1.0  # a fraction of a pixel, refined
    torch.testing.assert_close(estimate_translation(a, b), numpy_way[0])


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


def _whole_image_range(a, b, radius, combine, overshoot):
    """range_tolerant's every pixel computed, in its bands (no boxes)."""
    from dfcore.ops import shift

    def band(u, v):
        return torch.maximum(combine(range_distance(u, v, radius, overshoot)),
                             combine(range_distance(v, u, radius, overshoot)))

    rows = max(8, shift.RANGE_BAND_PIXELS // a.shape[-1])
    return shift.map_in_strips(band, (a, b), radius, rows)


def _sparse_pair(seed, height, width, changes, layout="planar", dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, height, width, generator=generator, dtype=torch.float64).to(dtype)
    b = a.clone()
    corners = [(0, 0), (height - 3, width - 4)]  # changes at the corners, then anywhere; one channel, one sample
    for index in range(changes):
        y, x = corners[index] if index < 2 else (int(torch.randint(0, n, (1,), generator=generator)) for n in (height, width))
        sample, channel = (int(torch.randint(0, n, (1,), generator=generator)) for n in (2, 3))
        b[sample, channel, y:y + 3, x:x + 4] += 0.3
    if layout == "channels-last":
        a = a.contiguous(memory_format=torch.channels_last)
    return a, b


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("radius,overshoot,reduce", [(0, 0.0, "l2"), (1, 0.25, "l2"), (2, 0.0, "max"), (3, 0.1, "mean")])
def test_the_range_computed_where_the_pair_differs_equals_every_pixel_computed(seed, radius, overshoot, reduce):
    """Boxes around the differing pixels, the rest zero: bit for bit the whole image's values,
    changes at the edges and corners, several boxes, either layout and dtype."""
    layout = "channels-last" if seed % 2 else "planar"
    dtype = torch.float64 if seed % 3 == 0 else torch.float32
    a, b = _sparse_pair(seed, 40 + 23 * seed, 300 - 17 * seed, changes=seed % 7, layout=layout, dtype=dtype)
    reducer = lambda d: reduce_channels(d, reduce)
    if seed % 7 >= 2:
        assert len(differing_boxes(a, b, 2 * radius)) > 1  # the case this is about: several boxes
    got = range_tolerant(a, b, radius, reducer, overshoot)
    want = _whole_image_range(a, b, radius, reducer, overshoot)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(got, want)
    assert torch.equal(range_tolerant(b, a, radius, reducer, overshoot), _whole_image_range(b, a, radius, reducer, overshoot))


def test_the_boxes_hold_the_differing_pixels_and_their_margin():
    a = torch.zeros(1, 3, 100, 200)
    assert differing_boxes(a, a.clone(), 2) == []
    b = a.clone()
    b[0, 1, 10, 20] = 1.0  # two changes far apart: two boxes, each 2 px larger on every side
    b[0, 2, 80:82, 150:160] = 1.0
    assert sorted(differing_boxes(a, b, 2)) == [(8, 13, 18, 23), (78, 84, 148, 162)]
    b[0, 0, 12, 50] = 1.0  # near the first in columns (gap within 2 margin + BOX_GAP_PX): one box
    assert sorted(differing_boxes(a, b, 2)) == [(8, 15, 18, 53), (78, 84, 148, 162)]
    b[0, 0, 60, 30] = 1.0  # under them, rows apart: a box of its own
    assert sorted(differing_boxes(a, b, 2)) == [(8, 15, 18, 53), (58, 63, 28, 33), (78, 84, 148, 162)]
    assert differing_boxes(a, a + 1.0, 2) == [(0, 100, 0, 200)]  # all differ: the whole image
    assert differing_boxes(a.bfloat16(), b.bfloat16(), 2) is None  # NumPy cannot read it: every pixel computed


def test_a_range_followed_by_autograd_is_computed_on_every_pixel():
    a, b = _sparse_pair(3, 30, 40, changes=2)
    b.requires_grad_(True)
    range_tolerant(a, b, 1, combine).sum().backward()
    reference = b.detach().clone().requires_grad_(True)
    _whole_image_range(a, reference, 1, combine, 0.0).sum().backward()
    assert torch.equal(b.grad, reference.grad)


def stroke(kink: bool = False, move: tuple[int, int] = (0, 0)):
    """A 1-px dark vertical stroke on white (rows 8 to 31 of column 20), moved by whole pixels;
    ``kink``: its upper half drawn one column to the right, as a glyph redrawn as another would be
    (every pixel within a pixel of the first stroke)."""
    image = torch.ones(1, 3, 40, 40)
    image[..., 8:32, 20] = 0.3
    if kink:
        image[..., 8:20, 20] = 1.0
        image[..., 8:20, 21] = 0.3
    return torch.roll(image, move, dims=(-2, -1))


def test_a_window_matches_a_whole_pixel_move_but_not_a_stroke_redrawn_within_the_range():
    a = stroke()
    moved = window_tolerant(a, stroke(move=(1, -1)), 1, 5, combine)
    assert moved.max() < 1e-6  # one displacement explains every window
    kinked = stroke(kink=True)
    assert range_tolerant(a, kinked, 1, combine).max() < 1e-6  # each pixel finds its match within 1 px
    window = window_tolerant(a, kinked, 1, 5, combine)
    # Around the kink no one displacement fits both halves: in the 5x5 windows centred on rows 19
    # and 20, the smaller half holds two rows of two pixels that differ by 0.7 whatever the
    # displacement, a root mean square of 0.7 * (4 / 25) ** 0.5.
    torch.testing.assert_close(window[0, 0, 19:21, 20], torch.full((2,), 0.7 * 0.4))
    assert window[0, 0, :, :14].max() < 1e-6 and window[0, 0, 28:, :].max() < 1e-6  # away from it: matched


def test_the_slack_forgives_a_value_within_the_edges_range_and_not_a_stroke_on_a_flat_area():
    a = torch.ones(1, 3, 20, 20)
    a[..., :, :8] = 0.0
    a[..., :, 8] = 0.5  # an edge drawn with anti-aliasing: half covered
    aliased = a.clone()
    aliased[..., :, 8] = 0.0  # the same edge drawn without: within the range of its neighbours
    assert window_tolerant(a, aliased, 1, 3, combine)[0, 0, 5:15, 8].min() > 0.1  # no one displacement fits
    assert window_tolerant(a, aliased, 1, 3, combine, slack=0.5).max() < 1e-6
    stroke = a.clone()
    stroke[..., 5:15, 14] = 0.0  # a stroke where A is flat: B's own range there is 1, half of the 1 it differs by
    slackened = window_tolerant(a, stroke, 1, 3, combine, slack=0.5)
    torch.testing.assert_close(slackened[0, 0, 8:12, 14], torch.full((4,), 0.5 * (3 / 9) ** 0.5))


@pytest.mark.parametrize("radius,window", [(1, 3), (1, 5), (2, 5)])
def test_the_window_tolerance_is_the_windows_best_match_both_ways(radius, window):
    generator = torch.Generator().manual_seed(2)
    a, b = torch.rand(1, 3, 30, 34, generator=generator), torch.rand(1, 3, 30, 34, generator=generator)
    box = torch.ones(1, 1, window, window, dtype=torch.float64) / window**2

    def windowed(u, v):  # written out: the mean over the window, edges repeated
        squared = combine((u - v).abs()).double().square()
        return F.conv2d(F.pad(squared, (window // 2,) * 4, mode="replicate"), box).float()

    expected = torch.maximum(best_match(windowed, a, b, radius), best_match(windowed, b, a, radius)).sqrt()
    inner = slice(radius + window // 2, -(radius + window // 2))  # the symmetric form reads replicated edges there
    got = window_tolerant(a, b, radius, window, combine)
    torch.testing.assert_close(got[..., inner, inner], expected[..., inner, inner])
    torch.testing.assert_close(got[..., inner, inner], window_tolerant(b, a, radius, window, combine)[..., inner, inner])


def test_moved_interpolates_between_whole_pixel_moves():
    x = torch.rand(1, 3, 12, 15, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(moved(x, 1.0, -2.0), shifted(x, 1, -2))
    torch.testing.assert_close(moved(x, 0.5, 0.0), (x + shifted(x, 1, 0)) / 2)
    rows = 0.75 * shifted(x, -1, 0) + 0.25 * shifted(x, 0, 0)  # -0.75: a quarter of the way from -1 to 0
    torch.testing.assert_close(moved(x, -0.75, 0.25), 0.75 * rows + 0.25 * shifted(rows, 0, 1))


def test_best_match_in_half_pixels_is_the_least_distance_to_y_moved_by_each_half_pixel():
    generator = torch.Generator().manual_seed(4)
    x, y = torch.rand(1, 3, 14, 17, generator=generator), torch.rand(1, 3, 14, 17, generator=generator)

    def distance(u, v):
        return combine((u - v).abs())

    halves = [k / 2 for k in range(-2, 3)]
    expected = torch.stack([distance(x, moved(y, dy, dx)) for dy in halves for dx in halves]).amin(0)
    torch.testing.assert_close(best_match(distance, x, y, 1, step=0.5), expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="step must be one of"):
        best_match(distance, x, y, 1, step=0.3)


def test_half_pixel_steps_match_a_disc_drawn_half_a_pixel_off_and_not_a_changed_one():
    a = disc()
    off = disc(centre=(24.5, 23.5))  # the same disc drawn again half a pixel off: anti-aliased otherwise
    whole = window_tolerant(a, off, 1, 3, combine)
    half = window_tolerant(a, off, 1, 3, combine, step=0.5)
    # interpolation blurs the moved edge a little, so the edge is matched better, not exactly
    assert half.shape == whole.shape and half.mean() < 0.7 * whole.mean()
    assert window_tolerant(a, off, 1, 3, combine, step=0.25).mean() < half.mean()
    changed = disc(radius=10.0, centre=(24.5, 23.5))  # smaller as well as off: no displacement fits
    assert window_tolerant(a, changed, 1, 3, combine, step=0.5).max() > 3 * half.max()
    # both ways: B against A moved as well as A against B moved
    torch.testing.assert_close(half, window_tolerant(off, a, 1, 3, combine, step=0.5))


@pytest.mark.parametrize("step", [0, 0.3, 2, "half", -0.5])
def test_a_window_step_is_a_whole_half_or_quarter_pixel(step):
    with pytest.raises(ValueError, match="window_step"):
        check_step(step)
    assert [check_step(s) for s in (1, "0.5", 0.25)] == [1.0, 0.5, 0.25]


@pytest.mark.parametrize("window", [1, 2, 4, -3, 2.5])
def test_a_window_is_odd_and_at_least_three_pixels(window):
    with pytest.raises(ValueError, match="window"):
        check_window(window)
    assert check_window(0) == 0 and check_window(7) == 7
