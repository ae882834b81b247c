"""Shift tolerance: the ``shift`` primitive and ``difference:shift=N``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dfcore import Finder, ParameterError
from dfcore.ops.channels import reduce_channels
from dfcore.ops.filters import gaussian_blur
from dfcore.ops.shift import best_match, displacements, shift_tolerant, shifted
from dfcore.testing import fresh_registry
from dfplugins_builtin.strategies.difference import Difference, difference_map


def absdiff(x, y):
    return (x - y).abs().mean(1, keepdim=True)


def textured(height=64, width=80, seed=0):
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 8, width // 8, generator=generator)
    return F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)


def misaligned_pair():
    """A textured A; B is A one pixel to the right and down, with an object added and one removed.

    Returns A, B, the added object's box and the removed object's box, as (y0, y1, x0, x1).
    """
    scene = textured()
    added, removed = (10, 18, 12, 20), (40, 48, 50, 58)
    a = scene.clone()
    y0, y1, x0, x1 = removed
    a[..., y0:y1, x0:x1] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)  # only in A
    b = shifted(scene, -1, -1)  # b[p] = scene[p - (1, 1)]
    y0, y1, x0, x1 = added
    b[..., y0:y1, x0:x1] = torch.tensor([0.1, 0.1, 0.9]).view(1, 3, 1, 1)  # only in B
    return a, b, added, removed


def region(diff_map, box):
    y0, y1, x0, x1 = box
    return diff_map[0, 0, y0:y1, x0:x1]


def outside(diff_map, boxes, border=3):
    keep = torch.ones_like(diff_map, dtype=torch.bool)
    keep[..., :border, :] = keep[..., -border:, :] = keep[..., :, :border] = keep[..., :, -border:] = False
    for y0, y1, x0, x1 in boxes:
        keep[..., y0 - 2:y1 + 2, x0 - 2:x1 + 2] = False
    return diff_map[keep]


def test_shift_tolerance_finds_added_and_removed_objects_under_a_one_pixel_shift():
    a, b, added, removed = misaligned_pair()
    plain = difference_map(a, b)
    tolerant = difference_map(a, b, shift=1)
    boxes = (added, removed)
    # The plain difference lights up the texture everywhere...
    assert outside(plain, boxes).max() > 0.3 * region(plain, added).mean()
    # ...the tolerant one is exactly zero away from the objects (B is A moved by an integer step)...
    assert outside(tolerant, boxes).abs().max() < 1e-6
    # ...and both the object added in B and the one removed from A stay bright.
    for box in boxes:
        core = region(tolerant, box)[2:-2, 2:-2]
        assert core.min() > 0.15
        assert core.mean() > 0.8 * region(plain, box)[2:-2, 2:-2].mean()


def test_a_one_sided_minimum_erases_a_thin_object_from_the_image_that_lacks_it():
    a = textured(seed=5)
    b = a.clone()
    b[..., 20, 10:60] = 1.0  # a one-pixel line added in B
    a[..., 45, 10:60] = 0.0  # a one-pixel line removed from A
    forward, backward = best_match(absdiff, a, b, 1), best_match(absdiff, b, a, 1)
    line_b, line_a = (..., 20, slice(12, 58)), (..., 45, slice(12, 58))
    # A matched against B moved: the line only in B is matched by B's pixels beside it.
    assert forward[line_b].max() < 0.1 and forward[line_a].min() > 0.2
    # B matched against A moved: the other way round.
    assert backward[line_a].max() < 0.1 and backward[line_b].min() > 0.2
    both = shift_tolerant(absdiff, a, b, 1)
    assert torch.equal(both, torch.maximum(forward, backward))
    assert both[line_a].min() > 0.2 and both[line_b].min() > 0.2


def test_the_symmetric_shortcut_equals_the_general_path_away_from_the_border():
    x, y = textured(seed=1), textured(seed=2)
    for radius in (1, 2):
        general = shift_tolerant(absdiff, x, y, radius)
        fast = shift_tolerant(absdiff, x, y, radius, symmetric=True)
        r = radius
        torch.testing.assert_close(fast[..., r:-r, r:-r], general[..., r:-r, r:-r])


def test_radius_zero_is_the_plain_distance_and_the_tolerant_map_never_exceeds_it():
    x, y = textured(seed=3), textured(seed=4)
    assert torch.equal(shift_tolerant(absdiff, x, y, 0), absdiff(x, y))
    assert (difference_map(x, y, shift=1) <= difference_map(x, y) + 1e-7).all()


def test_displacements_cover_the_square_window_once_starting_at_zero():
    steps = displacements(2)
    assert steps[0] == (0, 0) and len(steps) == len(set(steps)) == 25
    assert all(abs(dy) <= 2 and abs(dx) <= 2 for dy, dx in steps)


def test_shifted_moves_content_and_repeats_edges():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    moved = shifted(x, 0, 1)  # out[i, j] = x[i, j + 1]
    assert torch.equal(moved[0, 0, :, :3], x[0, 0, :, 1:])
    assert torch.equal(moved[0, 0, :, 3], x[0, 0, :, 3])
    assert torch.equal(shifted(x, 0, 0), x)


def test_dtype_and_batch_are_kept():
    a, b, _, _ = misaligned_pair()
    batch_a, batch_b = torch.cat([a, b]).double(), torch.cat([b, a]).double()
    out = difference_map(batch_a, batch_b, shift=1, sigma=1.0)
    assert out.shape == (2, 1, *a.shape[-2:]) and out.dtype == torch.float64
    torch.testing.assert_close(out[1:], difference_map(batch_a[1:], batch_b[1:], shift=1, sigma=1.0))


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_shift_is_refused(bad):
    with pytest.raises(ValueError, match="shift must be a whole number"):
        Difference(shift=bad)


def test_shift_and_sigma_are_stage_parameters():
    registry = fresh_registry()
    a, b, _, _ = misaligned_pair()
    finder = Finder(preprocessor="identity", metric="mse", strategy="difference:shift=1,sigma=0.5",
                    postprocessor="identity", device="cpu", registry=registry)
    assert finder.config["strategy"]["params"] == {"reduce": "mean", "shift": 1, "sigma": 0.5, "scale": 0.0,
                                                   "octaves": 1, "background": 0.0, "exact": "off", "lossless": "share",
                                                   "antialias": 0, "overshoot": 0.0, "rendered_overshoot": None,
                                                   "rendered_window": 0, "window_slack": 0.0, "window_fade": False,
                                                   "window_glyphs": 0.0, "window_step": 1.0, "lossless_reach": 2,
                                                   "register_structure": 0.0, "register_border": False,
                                                   "register_tones": 1,
                                                   "rendered_contrast": 0.0, "rendered_motion": 0.0, "register": "off",
                                                   "edge_margin": 0, "rendered_fade": "map"}
    out = finder.compute(a, b).output.map
    torch.testing.assert_close(out, difference_map(a, b, shift=1, sigma=0.5))
    with pytest.raises(ParameterError, match="shift"):
        Finder(preprocessor="identity", metric="mse", strategy="difference:shift=-2", postprocessor="identity",
               device="cpu", registry=registry)


def moved_view(shift=2, seed=5):
    """A and B cut from one fine-textured scene, B's frame moved by ``shift`` px (tenths of a pixel
    too) along both axes (new texture along two edges), with one square of B brightened by 0.1;
    its box (y0, y1, x0, x1)."""
    generator = torch.Generator().manual_seed(seed)
    fine = F.interpolate(torch.rand(1, 3, 70, 86, generator=generator), size=(1400, 1720), mode="bilinear",
                         align_corners=False)
    step = round(shift * 10)  # the scene is drawn at ten times the pixel grid, then averaged
    a = F.avg_pool2d(fine[..., 100:1300, 100:1620], 10)
    b = F.avg_pool2d(fine[..., 100 + step:1300 + step, 100 + step:1620 + step], 10)
    b[..., 50:62, 70:82] = (b[..., 50:62, 70:82] + 0.1).clamp(max=1.0)
    return a, b, (50, 62, 70, 82)


DEFAULT_LIKE = ("difference:shift=auto,antialias=1,sigma=1,scale=1,octaves=4,background=64",
                "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15")


def test_edge_margin_auto_leaves_out_what_a_moved_frame_uncovers():
    a, b, (y0, y1, x0, x1) = moved_view()
    strategy, regions = DEFAULT_LIKE
    plain = Finder(metric="mse", strategy=strategy, postprocessor=regions, registry=fresh_registry(),
                   device="cpu").run(a, b)
    kept = Finder(metric="mse", strategy=f"{strategy},edge_margin=auto", postprocessor=regions,
                  registry=fresh_registry(), device="cpu").run(a, b)
    facts = kept.info["difference"]
    assert facts["shift"] == 2 and facts["edge_margin_px"] == 2 + 3  # the shift, and sigma=1's 3-px reach
    edges = torch.ones(120, 152, dtype=torch.bool)
    edges[5:-5, 5:-5] = False
    assert float(plain.map[edges.numpy()].max()) > 0  # the uncovered texture lights up the edges
    assert float(kept.map[edges.numpy()].max()) == 0  # not compared
    assert len(plain.regions) > 1  # without the margin, strips along the edges count as differences
    (found,) = kept.regions  # with it, the brightened square alone
    assert found.bbox[0] <= x0 and found.bbox[2] >= x1 and found.bbox[1] <= y0 and found.bbox[3] >= y1


def maps_without_and_with_the_margin(shift):
    """The outputs of a default-like map of :func:`moved_view`, without and with ``edge_margin=auto``."""
    a, b, _ = moved_view(shift=shift)
    strategy, _ = DEFAULT_LIKE
    return tuple(Finder(metric="mse", strategy=spec, registry=fresh_registry(), device="cpu").compute(a, b).output
                 for spec in (strategy, f"{strategy},edge_margin=auto"))


def test_edge_margin_auto_keeps_the_edge_of_a_frame_moved_by_less_than_half_a_pixel():
    plain, auto = maps_without_and_with_the_margin(shift=0.3)
    facts = auto.info[0]["difference"]
    assert facts["shift"] == 1 and 0.15 < max(map(abs, facts["misalignment_px"])) < 0.5  # tolerated, not moved
    assert "edge_margin_px" not in facts
    assert torch.equal(plain.map, auto.map)
    moved = maps_without_and_with_the_margin(shift=0.7)[1].info[0]["difference"]
    assert moved["shift"] == 1 and moved["edge_margin_px"] == 1 + 3  # a row mostly outside the other frame


def test_edge_margin_leaves_an_aligned_pair_as_it_is_and_a_number_always_applies():
    plain, auto = maps_without_and_with_the_margin(shift=0)
    assert plain.info[0]["difference"]["shift"] == 0 and "edge_margin_px" not in auto.info[0]["difference"]
    assert torch.equal(plain.map, auto.map)
    a, _, _ = moved_view(shift=0)
    b = a.clone()
    b[..., :, :5] = 0.0  # a change along the left edge
    fixed = Finder(metric="mse", strategy="difference:edge_margin=3", registry=fresh_registry(),
                   device="cpu").compute(a, b)
    values = fixed.output.map[0, 0]
    assert float(values[:, :3].abs().max()) == 0 and float(values[:3].abs().max()) == 0  # every side
    assert float(values[3:-3, 3:5].min()) > 0

@pytest.mark.parametrize(("param", "message"), [
    ("edge_margin=-1", "edge_margin must be a whole number of pixels"),
    ("edge_margin=wide", r"'edge_margin': expected an integer, got 'wide' \(or auto\)"),
])
def test_a_bad_edge_margin_is_a_one_line_error(param, message):
    with pytest.raises(ParameterError, match=message):
        Finder(metric="mse", strategy=f"difference:{param}", registry=fresh_registry(), device="cpu")


def test_the_default_leaves_the_edge_of_a_moved_frame_out_and_robust_does_not():
    a, b, (y0, y1, x0, x1) = moved_view()
    default = Finder(registry=fresh_registry(), device="cpu").run(a, b)
    assert default.info["difference"]["edge_margin_px"] == 5
    (found,) = default.regions  # the brightened square, not the strips the moved frame uncovers
    assert found.bbox[0] <= x0 and found.bbox[2] >= x1 and found.bbox[1] <= y0 and found.bbox[3] >= y1
    robust = Finder(preset="robust", registry=fresh_registry(), device="cpu").compute(a, b).output.info[0]
    assert "edge_margin_px" not in robust["difference"]  # its fixed shift does not say the frame moved


@pytest.mark.parametrize("reduce", ["mean", "l2", "max"])
def test_an_unshifted_difference_blurs_the_difference_as_blurring_each_image_would(reduce):
    """Without a shift, ``sigma`` blurs a - b once: |blur(a) - blur(b)| to a float rounding."""
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 3, 40, 52, generator=g), torch.rand(2, 3, 40, 52, generator=g)
    each = reduce_channels((gaussian_blur(a, 1.5) - gaussian_blur(b, 1.5)).abs(), reduce)
    torch.testing.assert_close(difference_map(a, b, reduce, sigma=1.5), each, atol=1e-6, rtol=0)
