"""The ``difference`` options the default map is made of: ``shift=auto``, ``scale``,
``background`` and ``exact`` (docs/quality.md)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from dfcore import Finder, ParameterError
from dfcore.cli import main
from dfcore.contracts import Problem
from dfcore.ops.filters import coarse_blur, gaussian_blur
from dfcore.ops.shift import ALIGNED_PX, auto_radius, estimate_translation, shifted
from dfcore.pipeline import BoundMetric
from dfcore.testing import fresh_registry, planted_files, planted_pair, rescanned, using_registry
from dfplugins_builtin.metrics.pixel import MSE
from dfplugins_builtin.strategies import difference
from dfplugins_builtin.strategies.difference import (
    Difference,
    background_normalise,
    difference_map,
    lossless_share,
    rank_exact,
    share_counts,
    share_from_counts,
)


def fourier_shift(x, dy, dx):
    """``x`` moved by a (sub-pixel) ``(dy, dx)`` with wrap-around: ``out[p] = x[p - d]``."""
    height, width = x.shape[-2:]
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(width, dtype=torch.float64)[None]
    phase = torch.exp(-2j * math.pi * (fy * dy + fx * dx))
    return torch.fft.ifft2(torch.fft.fft2(x.double()) * phase).real.float()


def scene(height=96, width=128, seed=0):
    a, _, _ = planted_pair(height, width, seed=seed)
    return a


def as_problem(a, b):
    return Problem(a, b, BoundMetric(MSE(), False, [], name="mse"))


def quantised(x):
    return (x.clamp(0, 1) * 255).round() / 255


@pytest.mark.parametrize("dy, dx", [(0.0, 0.0), (1.0, -2.0), (-3.0, 0.0)])
def test_phase_correlation_measures_a_whole_pixel_translation(dy, dx):
    a = scene()
    measured = estimate_translation(a, fourier_shift(a, dy, dx))[0].tolist()
    assert measured == pytest.approx([dy, dx], abs=0.02)


@pytest.mark.parametrize("dy, dx", [(0.4, -0.3), (-0.75, 0.6), (0.25, 0.25)])
def test_phase_correlation_tells_a_sub_pixel_shift_from_an_aligned_pair(dy, dx):
    a = scene()
    measured = estimate_translation(a, fourier_shift(a, dy, dx))[0]
    noisy = quantised(a + 0.02 * torch.randn(a.shape, generator=torch.Generator().manual_seed(3)))
    aligned = estimate_translation(a, noisy)[0]
    assert torch.sign(measured).tolist() == [math.copysign(1, dy), math.copysign(1, dx)]
    assert measured.norm() > ALIGNED_PX > 3 * aligned.norm()
    assert measured.tolist() == pytest.approx([dy, dx], abs=0.15)


def test_phase_correlation_measures_each_sample_of_a_batch():
    a = torch.cat([scene(seed=0), scene(seed=1)])
    b = torch.cat([a[:1], fourier_shift(a[1:], 0.0, 1.0)])
    measured = estimate_translation(a, b)
    assert measured[0].abs().max() < 0.05
    assert measured[1].tolist() == pytest.approx([0.0, 1.0], abs=0.1)


def test_auto_radius_is_zero_when_aligned_and_covers_the_misalignment_otherwise():
    measured = torch.tensor([[0.0, 0.0], [0.1, -0.1], [0.3, 0.2], [1.0, 0.4], [-1.6, 0.2], [9.0, 0.0]])
    assert auto_radius(measured) == [0, 0, 1, 1, 2, 4]
    assert math.hypot(0.1, 0.1) <= ALIGNED_PX


def test_shift_auto_keeps_every_pixel_of_an_aligned_pair_and_tolerates_a_shifted_one():
    a, b, _ = planted_pair()
    auto = Difference(shift="auto", reduce="l2")
    out = auto(as_problem(a, b))
    torch.testing.assert_close(out.map, difference_map(a, b, "l2"))
    assert out.info[0]["shift"] == 0
    moved = shifted(b, 0, 1)
    out = auto(as_problem(a, moved))
    assert out.info[0]["shift"] == 1
    assert out.info[0]["misalignment_px"] == pytest.approx([0.0, -1.0], abs=0.1)
    torch.testing.assert_close(out.map, difference_map(a, moved, "l2", shift=1))


def test_shift_auto_does_not_measure_a_pair_on_one_grid(monkeypatch):
    import dfplugins_builtin.strategies.difference as module

    measured = []

    def pulled_off_zero(x, y):  # as a large change can pull the phase correlation's peak
        measured.append(x.shape[0])
        return torch.tensor([[0.0, 9.0]]).expand(x.shape[0], 2)

    monkeypatch.setattr(module, "estimate_translation", pulled_off_zero)
    a, b, _ = planted_pair()
    noisy = quantised(b + 0.02 * torch.randn(b.shape, generator=torch.Generator().manual_seed(1)))
    for exact in ("auto", "off"):  # lossless or not as exact sees it, the pair is on one grid
        out = Difference(shift="auto", reduce="l2", exact=exact)(as_problem(a, b))
        assert out.info[0]["shift"] == 0 and out.info[0]["misalignment_px"] == [0.0, 0.0]
    assert measured == []
    out = Difference(shift="auto", reduce="l2", exact="on")(as_problem(torch.cat([a, a]), torch.cat([b, noisy])))
    assert measured == [1]  # only the sample with its detail pixels changed is measured
    assert [info["shift"] for info in out.info] == [0, 4]


def test_shift_auto_chooses_per_sample_in_a_batch():
    a, b, _ = planted_pair()
    a2, b2, _ = planted_pair(seed=1)
    auto = Difference(shift="auto", reduce="l2")
    mixed = auto(as_problem(torch.cat([a, a2]), torch.cat([b, shifted(b2, 1, 0)])))
    assert [info["shift"] for info in mixed.info] == [0, 1]
    torch.testing.assert_close(mixed.map[:1], difference_map(a, b, "l2"))
    torch.testing.assert_close(mixed.map[1:], difference_map(a2, shifted(b2, 1, 0), "l2", shift=1))
    aligned = auto(as_problem(torch.cat([a, a2]), torch.cat([b, b2])))
    assert [info["shift"] for info in aligned.info] == [0, 0]
    torch.testing.assert_close(aligned.map, difference_map(torch.cat([a, a2]), torch.cat([b, b2]), "l2"))


def test_scale_in_the_strategy_is_the_smooth_postprocessor():
    a, b, _ = planted_pair()
    inside = Finder(metric="mse", strategy="difference:sigma=1,shift=1,reduce=l2,scale=1,octaves=4")
    after = Finder(metric="mse", strategy="difference:sigma=1,shift=1,reduce=l2",
                   postprocessor="smooth:sigma=1,octaves=4")
    torch.testing.assert_close(inside.compute(a, b).output.map, after.compute(a, b).output.map)


def test_coarse_blur_follows_the_full_blur_on_a_smooth_field():
    field = gaussian_blur(torch.rand(1, 1, 256, 256, generator=torch.Generator().manual_seed(0)), 8.0) + 0.5
    full, coarse = gaussian_blur(field, 64.0), coarse_blur(field, 64.0)
    assert coarse.shape == field.shape
    assert ((coarse - full).abs() / full).max() < 0.02
    assert torch.equal(coarse_blur(field, 2.0), gaussian_blur(field, 2.0))  # small sigma: the plain blur


def test_background_normalisation_lifts_a_change_out_of_busy_surroundings():
    # The same change (0.2) in a flat area and in a busy one (residue 0.1 all around it).
    diff_map = torch.zeros(1, 1, 128, 256)
    diff_map[..., :, 128:] = 0.1
    diff_map[..., 60:68, 60:68] = 0.2
    diff_map[..., 60:68, 188:196] = 0.3  # the busy side's change stands out by as much
    out = background_normalise(diff_map, 16.0)
    assert out[0, 0, 64, 192] < out[0, 0, 64, 64]  # judged against its surroundings it is weaker
    assert diff_map[0, 0, 64, 192] > diff_map[0, 0, 64, 64]  # while plain, it outranked the other
    # a scale of the map scales the result by its root; a constant map stays constant
    torch.testing.assert_close(background_normalise(4 * diff_map, 16.0), 2 * out)
    flat = background_normalise(torch.full((1, 1, 32, 32), 0.5), 8.0)
    torch.testing.assert_close(flat, torch.full_like(flat, 0.5))


def test_background_normalisation_ignores_invalid_pixels():
    diff_map = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    valid = torch.ones(1, 1, 64, 64, dtype=torch.bool)
    valid[..., :, :16] = False
    spoiled = diff_map.clone()
    spoiled[..., :, :16] = 1e6
    out = background_normalise(spoiled, 8.0, valid)
    assert torch.equal(out[..., :, :16], torch.zeros(1, 1, 64, 16))
    torch.testing.assert_close(out, background_normalise(diff_map, 8.0, valid))
    # every pixel valid: the same as no mask
    torch.testing.assert_close(background_normalise(diff_map, 8.0, torch.ones_like(valid)),
                               background_normalise(diff_map, 8.0))


def faint_lossless_pair():
    """A quantised scene and a copy changed by one grey level in one box, and strongly in another."""
    a = quantised(scene())
    b = a.clone()
    b[..., 10:20, 10:20] = quantised(b[..., 10:20, 10:20] + 1 / 255)
    b[..., 60:70, 90:110] = quantised(b[..., 60:70, 90:110] + 0.4)
    changed = (a != b).any(1, keepdim=True)
    return a, b, changed


def test_exact_ranks_every_differing_pixel_above_every_identical_one():
    a, b, changed = faint_lossless_pair()
    options = "sigma=1,reduce=l2,scale=1,octaves=4"
    plain = Finder(metric="mse", strategy=f"difference:{options}").compute(a, b).output.map
    assert plain[changed].min() < plain[~changed].max()  # the smoothed map alone mixes them up
    out = Finder(metric="mse", strategy=f"difference:{options},exact=auto").compute(a, b).output
    assert out.map[changed].min() > out.map[~changed].max()
    assert out.info[0]["difference"]["exact"] is True
    assert out.info[0]["difference"]["identical"] == pytest.approx(detail_share_by_hand(a, b), abs=1e-4)
    # unchanged pixels keep the smoothed map's values: the blobs keep their shape
    torch.testing.assert_close(out.map[~changed], plain[~changed])


def test_exact_auto_leaves_a_noisy_pair_alone_and_exact_on_forces_it():
    a, b, _ = faint_lossless_pair()
    noisy = quantised(b + 0.02 * torch.randn(b.shape, generator=torch.Generator().manual_seed(2)))
    options = "sigma=1,reduce=l2,scale=1,octaves=4"
    plain = Finder(metric="mse", strategy=f"difference:{options}").compute(a, noisy).output.map
    auto = Finder(metric="mse", strategy=f"difference:{options},exact=auto").compute(a, noisy).output
    assert torch.equal(auto.map, plain)
    assert auto.info[0]["difference"]["exact"] is False
    forced = Finder(metric="mse", strategy=f"difference:{options},exact=on").compute(a, noisy).output
    assert not torch.equal(forced.map, plain)
    assert forced.info[0]["difference"]["exact"] is True


def detail_share_by_hand(a, b):
    """The larger share, over A's and B's detail pixels, of pixels identical in A and B (numpy)."""
    x, y = a[0].numpy(), b[0].numpy()
    same = (x == y).all(0)
    shares = []
    for image in (x, y):
        detail = np.zeros(same.shape, bool)
        rows, cols = (np.diff(image, axis=1) != 0).any(0), (np.diff(image, axis=2) != 0).any(0)
        detail[1:] |= rows
        detail[:-1] |= rows
        detail[:, 1:] |= cols
        detail[:, :-1] |= cols
        shares.append(same[detail].mean())
    return max(shares)


def drawing(height=96, width=128):
    """Flat grey shapes on a flat background: what a cartoon, a UI screenshot or a plot looks like."""
    a = torch.full((1, 3, height, width), 0.8)
    a[..., 10:40, 15:60] = torch.tensor([0.2, 0.3, 0.6]).view(3, 1, 1)
    a[..., 55:85, 70:120] = torch.tensor([0.9, 0.4, 0.1]).view(3, 1, 1)
    a[..., 20:24, 75:115] = 0.0
    return quantised(a)


def half_pixel_moved(x):
    """``x`` moved by half a pixel down and right: every edge changes, flat areas do not."""
    return quantised((x + x.roll(1, -1) + x.roll(1, -2) + x.roll((1, 1), (-2, -1))) / 4)


def test_exact_auto_is_not_fooled_by_flat_areas_that_survive_a_lossy_step():
    a = drawing()
    moved = half_pixel_moved(a)
    assert (a == moved).all(1).float().mean() > 0.9  # most pixels are identical all the same
    options = "sigma=1,reduce=l2,scale=1,octaves=4"
    plain = Finder(metric="mse", strategy=f"difference:{options}").compute(a, moved).output.map
    auto = Finder(metric="mse", strategy=f"difference:{options},exact=auto").compute(a, moved).output
    facts = auto.info[0]["difference"]
    assert facts["exact"] is False and facts["identical"] < 0.7
    assert facts["identical"] == pytest.approx(detail_share_by_hand(a, moved), abs=1e-4)
    assert torch.equal(auto.map, plain)
    # the same drawing edited losslessly: its edges outside the edit are bit-identical
    edited = a.clone()
    edited[..., 60:70, 20:30] = 0.0
    assert Finder(metric="mse", strategy=f"difference:{options},exact=auto").compute(
        a, edited).output.info[0]["difference"]["exact"] is True


def test_exact_auto_on_a_blank_image_uses_every_pixel():
    blank = torch.zeros(1, 3, 32, 32)
    dotted = blank.clone()
    dotted[..., 10, 10] = 0.5
    facts = Finder(metric="mse", strategy="difference:exact=auto").compute(blank, dotted).output.info[0]["difference"]
    assert facts["exact"] is True and facts["identical"] == pytest.approx(1 - 1 / 32**2, abs=1e-4)


def test_lossless_share_counts_valid_pixels_only():
    a = drawing()
    b = a.clone()
    b[..., 50:, :] = half_pixel_moved(a)[..., 50:, :]  # lossy in the bottom half only
    changed = (a != b).any(1, keepdim=True)
    valid = torch.ones_like(changed)
    assert lossless_share(a, b, changed, valid).item() < 0.9
    valid[..., 48:, :] = False  # the bottom half left out (as --ignore does): what remains is lossless
    assert lossless_share(a, b, changed & valid, valid).item() == 1.0


@pytest.mark.parametrize("masked", [False, True])
def test_share_counts_in_strips_give_the_lossless_share_of_the_whole_image(masked):
    """The counts :meth:`Difference._measure` adds up strip by strip equal the whole-image share."""
    generator = torch.Generator().manual_seed(2)
    a = (torch.rand(2, 3, 40, 30, generator=generator) * 4).round() / 4  # flat patches: few detail pixels
    b = a.clone()
    b[0, :, 20:] = torch.rand(3, 20, 30, generator=generator)
    b[1, 1, 5:9, 5:9] += 0.1
    valid = torch.rand(2, 1, 40, 30, generator=generator) > 0.2 if masked else None
    changed = (a != b).any(1, keepdim=True) & (valid if masked else True)
    whole = lossless_share(a, b, changed, valid)
    counts = share_counts(a, b, valid)
    torch.testing.assert_close(share_from_counts(counts), whole, rtol=0, atol=1e-12)
    strips = share_counts(a[..., :14, :], b[..., :14, :], valid[..., :14, :] if masked else None, slice(0, 13))
    strips = strips + share_counts(a[..., 12:, :], b[..., 12:, :], valid[..., 12:, :] if masked else None, slice(1, None))
    assert torch.equal(strips, counts)


@pytest.mark.parametrize("layout", ["planar", "channels-last", "strided"])
def test_the_lossless_tests_numpy_path_counts_what_torchs_does(monkeypatch, layout):
    """On a CPU the lossless test compares and counts with NumPy on views of the tensors' memory;
    it must give torch's counts on ties, NaN (never equal), -0.0 against 0.0 (equal) and any layout."""
    generator = torch.Generator().manual_seed(5)
    a = (torch.rand(2, 3, 24, 20, generator=generator) * 3).round() / 3
    b = a.clone()
    b[0, 1, 3:9, 4:7] += 0.25
    a[1, 0, 2, 2], b[1, 0, 2, 2] = float("nan"), float("nan")
    a[1, 2, 5, 5], b[1, 2, 5, 5] = -0.0, 0.0
    if layout == "channels-last":
        a, b = a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last)
    elif layout == "strided":
        a, b = a[..., ::2], b[..., ::2]
    valid = torch.rand(2, 1, *a.shape[-2:], generator=generator) > 0.3
    numpy_counts = [share_counts(a, b, mask) for mask in (None, valid)]
    numpy_counts.append(share_counts(a, b, None, slice(4, 15)))
    monkeypatch.setattr(difference, "numpy_view", lambda tensor, dtypes=None: None)  # torch's path
    torch_counts = [share_counts(a, b, mask) for mask in (None, valid)]
    torch_counts.append(share_counts(a, b, None, slice(4, 15)))
    for ours, torchs in zip(numpy_counts, torch_counts):
        assert ours.dtype == torch.int64 and torch.equal(ours, torchs)
    assert numpy_counts[0][1, 4] > 0  # the NaN pixel differs, as it does for torch


def test_rank_exact_lifts_even_a_zero_map():
    changed = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    changed[..., 1, 2] = True
    lifted = rank_exact(torch.zeros(1, 1, 4, 4), changed)
    assert lifted[changed].min() > lifted[~changed].max()


@pytest.mark.parametrize("param, message", [
    ("shift=sideways", r"expected an integer, got 'sideways' \(or auto\)"),
    ("exact=maybe", "is not one of: off, auto, on"),
    ("background=-1", "background must be a finite number >= 0"),
    ("scale=-2", "scale must be a finite number >= 0"),
])
def test_bad_options_are_refused(param, message):
    with pytest.raises(ParameterError, match=message):
        Finder(metric="mse", strategy=f"difference:{param}", registry=fresh_registry(autoload=True))


def test_a_shift_word_other_than_auto_is_refused_by_the_stage_itself():
    with pytest.raises(ValueError, match="shift must be a whole number of pixels >= 0 or 'auto'"):
        Difference(shift="sideways")


def test_the_default_records_what_it_measured(tmp_path):
    a, b, _ = planted_files(tmp_path)
    with using_registry(fresh_registry()):
        result = CliRunner().invoke(main, [str(a), str(b), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "b.json").read_text())
    facts = record["info"]["difference"]
    assert facts["shift"] == 0 and facts["exact"] is True
    assert facts["register"] is None  # a lossless pair is on one grid: not measured, not resampled
    assert facts["overshoot"] == 0.15  # lossless: not a re-rendered pair
    assert set(facts) == {"misalignment_px", "shift", "identical", "exact", "register", "overshoot"}
    params = record["config"]["strategy"]["params"]
    assert params["shift"] == "auto" and params["exact"] == "auto" and params["background"] == 64.0
    assert params["antialias"] == 1 and params["overshoot"] == 0.15 and params["register"] == "auto"
    assert params["rendered_overshoot"] == 0.3


def assert_same_facts(mine, theirs):
    """Equal infos, but for a reported float's last rounded digit (figures are rounded to 6 places)."""
    if isinstance(mine, dict):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert_same_facts(mine[key], theirs[key])
    elif isinstance(mine, list):
        assert len(mine) == len(theirs)
        for one, other in zip(mine, theirs):
            assert_same_facts(one, other)
    elif isinstance(mine, float):
        assert mine == pytest.approx(theirs, rel=1e-5, abs=2e-6)
    else:
        assert mine == theirs


@pytest.mark.parametrize("kind", ["lossless", "noisy", "moved"])
def test_the_default_map_equals_its_unoptimised_form(monkeypatch, kind):
    """The FFT filter and the banded range tolerance against the separable convolutions and one pass:
    the same map to a float rounding, the same exact zeros, the same facts and regions."""
    from dfcore.ops import filters, shift

    a, b, _ = planted_pair(160, 200, boxes=((40, 50, 70, 90), (100, 20, 120, 60)))
    if kind == "noisy":
        b = (b + 0.02 * torch.randn(b.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    elif kind == "moved":
        b = torch.roll(b, (1, 1), (-2, -1))
    fast = Finder().compute(a, b).output
    monkeypatch.setattr(filters, "FFT_RADIUS", 10**9)
    monkeypatch.setattr(shift, "RANGE_BAND_PIXELS", 10**9)
    slow = Finder().compute(a, b).output
    assert_same_facts(fast.info, slow.info)
    for mine, theirs in zip(fast.regions, slow.regions, strict=True):
        assert [(r.bbox, r.area) for r in mine] == [(r.bbox, r.area) for r in theirs]
        for r, other in zip(mine, theirs):  # significance is rounded to 2 places: a last digit may differ
            assert r.mean == pytest.approx(other.mean, rel=1e-5)
            assert r.significance == pytest.approx(other.significance, rel=1e-5, abs=0.011)
    scale = float(slow.map.abs().max())
    torch.testing.assert_close(fast.map, slow.map, rtol=0, atol=1e-6 * scale)
    # What a convolution leaves exactly zero stays zero; the FFT's rounding may also zero a value
    # too small for float32 to hold next to the map's peak, never more.
    assert bool((fast.map[slow.map == 0] == 0).all())
    assert bool((slow.map[(fast.map == 0) & (slow.map != 0)] < 1e-6 * scale).all())


def test_a_channels_last_pair_as_decoded_gives_the_planar_pairs_map(monkeypatch):
    """Decoded images come channels-last; the strategy copies a small one to planes first (faster),
    and a large one (above PLANAR_BYTES) is compared as it is: the same map either way."""
    from dfplugins_builtin.strategies import difference

    a, b, _ = planted_pair(96, 128)
    b = (b + 0.02 * torch.randn(b.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    last = [t.contiguous(memory_format=torch.channels_last) for t in (a, b)]
    planar = Finder().compute(a, b).output
    copied = Finder().compute(*last).output
    assert difference.planar(last[0]).is_contiguous() and difference.planar(a) is a
    monkeypatch.setattr(difference, "PLANAR_BYTES", 0)
    kept = Finder().compute(*last).output
    assert torch.equal(copied.map, planar.map) and copied.info == planar.info
    torch.testing.assert_close(kept.map, planar.map)


def texture(height=96, width=128, seed=0):
    """An image whose every pixel is a detail pixel (it differs from its neighbours)."""
    return quantised(torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed)))


def test_lossless_clustered_takes_a_large_compact_edit_as_lossless_and_scattered_changes_not():
    a = texture()
    edited = a.clone()
    edited[..., 20:60, 30:80] = quantised(a[..., 20:60, 30:80] * 0.5)  # one large edit: 16% of the pixels
    scattered = a.clone()
    spots = torch.rand(1, 1, 96, 128, generator=torch.Generator().manual_seed(1)) < 0.16
    scattered = torch.where(spots, quantised(a * 0.5), a)  # as many changed pixels, all over the image
    for b, clustered in ((edited, True), (scattered, False)):
        for test in ("share", "clustered"):
            out = Difference(reduce="l2", exact="auto", lossless=test)(as_problem(a, b))
            facts = out.info[0]
            assert 0.75 <= facts["identical"] < 0.9  # between the two tests' floors
            assert facts["exact"] is (test == "clustered" and clustered)
    out = Difference(reduce="l2", exact="auto", lossless="clustered")(as_problem(a, edited))
    changed = (a != edited).any(1, keepdim=True)
    assert float(out.map[changed].min()) > float(out.map[~changed].max())  # ranked exactly


def test_lossless_reach_joins_many_small_changes_of_one_place():
    """A table column laid out again: many glyph-sized changes 5 px apart, in one part of the page."""
    a = texture(192, 256)
    b = a.clone()
    for top in range(40, 108, 17):  # 16 runs of glyphs, 12x30 px, 5 px apart: 12% of the pixels
        for left in range(50, 190, 35):
            b[..., top:top + 12, left:left + 30] = quantised(a[..., top:top + 12, left:left + 30] * 0.5)
    for reach, joined in ((2, False), (3, True)):  # 3: the default's reach
        assert difference.changes_clustered(a, b, None, reach) is joined
        facts = Difference(reduce="l2", exact="auto", lossless="clustered", lossless_reach=reach)(
            as_problem(a, b)).info[0]
        assert 0.75 <= facts["identical"] < 0.9 and facts["exact"] is joined
    assert "grown by 3 px" in Difference(exact="auto", lossless="clustered", lossless_reach=3).conventions()["exact"]
    with pytest.raises(ParameterError, match="lossless_reach"):
        Finder(metric="mse", strategy="difference:exact=auto,lossless=clustered,lossless_reach=-1")
    with pytest.raises(ParameterError, match="set lossless=clustered too"):
        Finder(metric="mse", strategy="difference:exact=auto,lossless_reach=4")


def page_to_scan(horizon: bool = False):
    """A dark 192x256 page (light below row 100 with a ``horizon``) holding five textured boxes: enough
    structure spread over it for the registration to fit a field."""
    a = torch.full((1, 3, 192, 256), 0.25)
    if horizon:
        a[..., 100:, :] = 0.75
    for seed, (top, left) in enumerate(((15, 20), (20, 150), (120, 30), (130, 170), (60, 90))):
        a[..., top:top + 40, left:left + 50] = texture(40, 50, seed=seed)
    return a


def test_register_structure_is_a_share_of_register_auto():
    """A scanned page with a horizon: the tiles along it are left out of the fit."""
    a = page_to_scan(horizon=True)
    b = rescanned(a, angle_deg=0.6, scale=1.015, offset=(1.3, -2.1))
    fits = [Difference(reduce="l2", register="auto", register_structure=share)(as_problem(a, b)).info[0]["register"]
            for share in (0.0, 0.05)]
    assert all(fit["resampled"] for fit in fits)
    assert fits[1]["tiles"] < fits[0]["tiles"]
    assert "below 0.05 of the larger left out" in Difference(register="auto", register_structure=0.05).conventions()[
        "register"]
    plain = Difference(register="auto").conventions()["register"]
    assert "left out" not in plain and "sheared or scaled unevenly by more than 2%" in plain
    with pytest.raises(ParameterError, match="register_structure must be a fraction"):
        Finder(metric="mse", strategy="difference:register=auto,register_structure=1.5")
    with pytest.raises(ParameterError, match="set register=auto too"):
        Finder(metric="mse", strategy="difference:register_structure=0.1")


def test_register_border_leaves_out_what_the_resampling_brings_in_from_a_scanner_s_margin():
    """A dark page rescanned with a light band 10 px tall where the page did not reach."""
    a = page_to_scan()
    b = rescanned(a, angle_deg=0.6, scale=1.015, offset=(6.0, 1.5))  # the page 6 px lower
    b[..., -10:, :] = 0.85  # the scanner's lid
    outputs = [Difference(reduce="l2", register="auto", register_border=on)(as_problem(a, b)) for on in (False, True)]
    fits = [out.info[0]["register"] for out in outputs]
    assert all(fit["resampled"] for fit in fits) and fits[1]["border_px"] == [0, 10, 0, 0]
    # the lid, brought in 6 px farther than the fit's margin (10 px) leaves out, lights up the map only without it
    band = (slice(None), slice(None), slice(175, 182), slice(20, 236))
    assert float(outputs[0].map[band].max()) > 0.5 and float(outputs[1].map[band].max()) < 0.05
    assert "blank band" in Difference(register="auto", register_border=True).conventions()["register"]
    assert "blank band" not in Difference(register="auto").conventions()["register"]
    with pytest.raises(ParameterError, match="set register=auto too"):
        Finder(metric="mse", strategy="difference:register_border=true")


def test_register_tones_fits_the_resampled_page_s_tones_on_local_means(monkeypatch):
    from dfplugins_builtin.strategies import difference as module

    windows = []
    fit = module.match_tones
    monkeypatch.setattr(module, "match_tones", lambda *args, **kw: windows.append(kw["window"]) or fit(*args, **kw))
    a = page_to_scan()
    b = rescanned(a, angle_deg=0.6, scale=1.015, offset=(1.3, -2.1))
    for window in (1, 7):
        assert Difference(reduce="l2", register="auto", register_tones=window)(as_problem(a, b)).info[0]["register"][
            "resampled"]
    assert windows == [1, 7]
    assert "means of 7x7 px blocks" in Difference(register="auto", register_tones=7).conventions()["register"]
    assert "means of" not in Difference(register="auto").conventions()["register"]
    with pytest.raises(ParameterError, match="set register=auto too"):
        Finder(metric="mse", strategy="difference:register_tones=7")
    for bad in (2, 0, 33):
        with pytest.raises(ParameterError, match="odd number of pixels from 1 to 31"):
            Finder(metric="mse", strategy=f"difference:register=auto,register_tones={bad}")


def test_lossless_clustered_is_a_choice_of_the_difference_stage():
    conventions = Difference(exact="auto", lossless="clustered").conventions()["exact"]
    assert "75%" in conventions and "10 largest" in conventions
    assert "75%" not in Difference(exact="auto").conventions()["exact"]
    with pytest.raises(ParameterError, match="lossless"):
        Finder(metric="mse", strategy="difference:exact=auto,lossless=compact")
