"""The ``difference`` options for re-rendered and rescanned pairs: ``antialias``, ``overshoot``
and ``register`` (docs/quality.md, round four)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dfcore import Finder, ParameterError
from dfcore.contracts import Problem
from dfcore.ops import register
from dfcore.pipeline import BoundMetric
from dfcore.testing import fresh_registry, rescanned
from dfplugins_builtin.metrics.pixel import MSE
from dfplugins_builtin.strategies import difference
from dfplugins_builtin.strategies.difference import LOSSLESS_SHARE, ONE_GRID_SHARE, Difference, slope


def as_problem(a, b):
    return Problem(a, b, BoundMetric(MSE(), False, [], name="mse"))


def drawing(height=96, width=128, offset=(0.0, 0.0), supersample=8, square=None):
    """Dark discs on white, anti-aliased by supersampling, their centres moved by ``offset`` px;
    ``square`` (y0, x0, y1, x1) is painted dark on top, on whole pixels."""
    ys = (torch.arange(height * supersample, dtype=torch.float64) + 0.5) / supersample - offset[0]
    xs = (torch.arange(width * supersample, dtype=torch.float64) + 0.5) / supersample - offset[1]
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    ink = torch.zeros_like(yy)
    for cy, cx, r in ((30, 30, 14), (60, 90, 18), (70, 30, 9)):
        ink = torch.maximum(ink, ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).double())
    cover = F.avg_pool2d(ink[None, None], supersample)
    image = (1.0 - 0.8 * cover).repeat(1, 3, 1, 1).float()
    if square is not None:
        y0, x0, y1, x1 = square
        image[..., y0:y1, x0:x1] = 0.15
    return image


CHANGE = (10, 100, 20, 112)  # (y0, x0, y1, x1): a dark square where both images are white


def test_antialias_keeps_a_change_and_drops_edges_drawn_half_a_pixel_off():
    a = drawing()
    b = drawing(offset=(0.5, 0.3), square=CHANGE)
    inside = torch.zeros(96, 128, dtype=torch.bool)
    inside[10:20, 100:112] = True
    plain = Difference(reduce="max")(as_problem(a, b))[0, 0]
    tolerant = Difference(reduce="max", antialias=1)(as_problem(a, b))[0, 0]
    assert plain[~inside].max() > 0.3 * plain[inside].max()  # the outlines compete with the change
    assert tolerant[~inside].max() < 1e-6 < tolerant[inside].min()


def test_overshoot_forgives_a_resampling_filter_s_ringing():
    a = drawing()
    b = (a + 0.08 * (a - F.avg_pool2d(F.pad(a, (1, 1, 1, 1), mode="replicate"), 3, stride=1))).clamp(0, 1)
    ringing = Difference(reduce="max", antialias=1)(as_problem(a, b))
    assert ringing.max() > 0.01
    assert Difference(reduce="max", antialias=1, overshoot=0.15)(as_problem(a, b)).max() < 1e-6


def test_antialias_auto_uses_the_range_where_an_edge_can_have_been_drawn_otherwise():
    a = drawing()
    strategy = Difference(shift="auto", reduce="max", antialias="auto", exact="auto")
    lossless = strategy(as_problem(a, drawing(square=CHANGE)))
    rerendered = strategy(as_problem(a, drawing(offset=(0.2, 0.1), square=CHANGE)))
    noise = 0.05 * torch.randn(a.shape, generator=torch.Generator().manual_seed(0))
    noisy = strategy(as_problem((a + noise).clamp(0, 1), (a - noise).clamp(0, 1)))
    assert [out.info[0]["antialias"] for out in (lossless, rerendered, noisy)] == [0, 1, 0]
    assert lossless.info[0]["exact"] and not rerendered.info[0]["exact"]


def test_rendered_overshoot_widens_the_range_on_a_re_rendered_pair_only():
    a = drawing()
    ringing = (a + 0.8 * (a - F.avg_pool2d(F.pad(a, (1, 1, 1, 1), mode="replicate"), 3, stride=1))).clamp(0, 1)
    noise = 0.05 * torch.randn((2, *a.shape[1:]), generator=torch.Generator().manual_seed(0))
    photo = (a + noise[:1]).clamp(0, 1)
    photo_ringing = (ringing + noise[1:]).clamp(0, 1)
    same = Difference(reduce="max", antialias=1, overshoot=0.15)
    wider = Difference(reduce="max", antialias=1, overshoot=0.15, rendered_overshoot=0.5)
    redrawn = wider(as_problem(a, ringing))  # flat areas untouched, edges overshoot: re-rendered
    assert same(as_problem(a, ringing)).max() > 0.01
    assert redrawn.map.max() < 1e-6 and redrawn.info[0]["overshoot"] == 0.5
    noisy = wider(as_problem(photo, photo_ringing))  # every pixel touched: the photographs' overshoot
    assert noisy.info[0]["overshoot"] == 0.15
    torch.testing.assert_close(noisy.map, same(as_problem(photo, photo_ringing)))
    batch = wider(as_problem(torch.cat([a, photo]), torch.cat([ringing, photo_ringing])))
    assert [info["overshoot"] for info in batch.info] == [0.5, 0.15]
    torch.testing.assert_close(batch.map[1:], noisy.map)


def test_rendered_overshoot_defaults_to_the_overshoot_and_is_read_from_text():
    a, b = drawing(), drawing(offset=(0.4, 0.2), square=CHANGE)
    plain = Difference(reduce="max", antialias=1, overshoot=0.15)(as_problem(a, b))
    same = Difference(reduce="max", antialias=1, overshoot=0.15, rendered_overshoot="0.15")(as_problem(a, b))
    torch.testing.assert_close(plain, same)
    finder = Finder(metric="mse", strategy="difference:antialias=1,rendered_overshoot=0.3", registry=fresh_registry(),
                    device="cpu")
    assert "0.3 on a re-rendered pair" in finder.config["strategy"]["conventions"]["antialias"]


def test_rendered_contrast_fades_re_drawn_edges_and_keeps_a_change():
    a, b = drawing(), drawing(offset=(0.3, 0.2), square=CHANGE)  # drawn again a fraction of a pixel off
    plain = Difference(reduce="max")(as_problem(a, b))
    faded = Difference(reduce="max", rendered_contrast=0.1)(as_problem(a, b))
    y0, x0, y1, x1 = CHANGE
    change = torch.zeros_like(plain, dtype=torch.bool)
    change[..., y0:y1, x0:x1] = True
    torch.testing.assert_close(faded.map[change], plain[change])  # the square differs blurred too: kept whole
    edges = ~change & (plain > 0.05)
    assert edges.sum() > 200  # the discs' outlines light up without it
    assert (faded.map[edges] <= 0.6 * plain[edges]).all() and (faded.map <= plain + 1e-7).all()
    assert faded.info[0]["contrast_floor"] == 0.1


def test_rendered_motion_discounts_what_moving_edges_explains_and_keeps_a_change():
    a, b = drawing(), drawing(offset=(0.6, 0.5), square=CHANGE)  # drawn again more than half a pixel off
    plain = Difference(reduce="max", rendered_contrast=0.04)(as_problem(a, b))
    moved = Difference(reduce="max", rendered_contrast=0.04, rendered_motion=1.5)(as_problem(a, b))
    y0, x0, y1, x1 = CHANGE
    change = torch.zeros_like(moved.map, dtype=torch.bool)
    change[..., y0:y1, x0:x1] = True
    torch.testing.assert_close(moved.map[change], plain.map[change])  # a square no move explains: kept whole
    edges = ~change & (plain.map > 0.05)
    assert edges.sum() > 200
    assert (moved.map <= plain.map + 1e-7).all() and moved.map[edges].sum() < 0.5 * plain.map[edges].sum()


def with_stroke(image, kink=False):
    """``image`` with a 1-px dark stroke down column 60; ``kink``: its upper half one column to the
    right, as a glyph redrawn as another (a 9 as a 4) keeps every pixel within a pixel of the old one."""
    image = image.clone()
    image[..., 6:34, 60] = 0.2
    if kink:
        image[..., 6:20, 60] = 1.0
        image[..., 6:20, 61] = 0.2
    return image


def test_rendered_window_finds_a_stroke_redrawn_within_the_range_s_reach():
    a, b = with_stroke(drawing()), with_stroke(drawing(offset=(0.3, 0.2)), kink=True)  # drawn again, one stroke moved
    near = torch.zeros(96, 128, dtype=torch.bool)
    near[14:26, 56:66] = True
    ranged = Difference(reduce="max", antialias=1)(as_problem(a, b))[0, 0]
    assert ranged.max() < 1e-6  # the range forgives the re-drawn outlines and the moved stroke alike
    windowed = Difference(reduce="max", antialias=1, rendered_window=5)(as_problem(a, b))
    assert windowed.info == [{"window": 5}]
    assert windowed.map[0, 0][near].max() > 2 * windowed.map[0, 0][~near].max()


def test_rendered_window_leaves_a_photograph_as_it_is_per_sample_in_a_batch():
    g = torch.Generator().manual_seed(5)
    photo = drawing() + 0.02 * torch.randn(1, 3, 96, 128, generator=g)  # every pixel touched: not re-rendered
    photo_b = drawing(offset=(0.3, 0.2), square=CHANGE) + 0.02 * torch.randn(1, 3, 96, 128, generator=g)
    options = {"reduce": "l2", "antialias": 1, "sigma": 1.0, "scale": 1.0, "octaves": 2}
    plain = Difference(**options)(as_problem(photo, photo_b))
    windowed = Difference(**options, rendered_window=5)
    torch.testing.assert_close(windowed(as_problem(photo, photo_b)), plain)  # no info: nothing was matched by windows
    a, b = drawing(), drawing(offset=(0.3, 0.2), square=CHANGE)
    batch = windowed(as_problem(torch.cat([a, photo]), torch.cat([b, photo_b])))
    assert [info.get("window") for info in batch.info] == [5, None]
    torch.testing.assert_close(batch.map[1:], plain)
    torch.testing.assert_close(batch.map[:1], windowed(as_problem(a, b)).map)
    y0, x0, y1, x1 = CHANGE
    near = torch.zeros(96, 128, dtype=torch.bool)
    near[y0 - 8:y1 + 8, x0 - 8:x1 + 8] = True  # the change, and where the map's scales spread it
    assert batch.map[0, 0][near].max() > 2 * batch.map[0, 0][~near].max()  # it outranks the re-drawn outlines


def test_window_fade_keeps_a_change_of_ink_and_fades_what_re_drawing_leaves_in_the_windows():
    a = with_stroke(drawing())
    b = with_stroke(drawing(offset=(0.3, 0.2)))  # drawn again a fraction of a pixel off...
    b[..., 6:20, 61] = 0.2  # ...and one stroke thickened: ink added within a pixel of the old
    near = torch.zeros(96, 128, dtype=torch.bool)
    near[0:28, 54:68] = True
    assert Difference(reduce="max", antialias=1)(as_problem(a, b)).max() < 1e-6  # the range forgives both
    options = {"reduce": "max", "antialias": 1, "rendered_window": 5, "rendered_contrast": 0.1,
               "rendered_fade": "regions"}
    windowed = Difference(**options)(as_problem(a, b)).map[0, 0]
    faded = Difference(**options, window_fade=True)(as_problem(a, b)).map[0, 0]
    assert faded[near].max() == windowed[near].max()  # blurred, the added ink differs by more than 0.1: kept
    assert faded[~near].max() < 0.6 * windowed[~near].max()  # the outlines' blurred difference is below 0.06
    assert (faded <= windowed + 1e-7).all()
    with pytest.raises(ValueError, match="window_fade fades by rendered_contrast"):
        Difference(rendered_window=3, window_fade=True)


def test_window_glyphs_keeps_a_changed_glyph_and_leaves_a_long_line_s_jump_to_the_range():
    a, b = with_stroke(drawing()), with_stroke(drawing(offset=(0.3, 0.2)), kink=True)  # a glyph-sized stroke moved
    a[..., 5:90, 110] = 0.2  # a long line, drawn again with its pixel jump elsewhere (an aliased plot line)
    b[..., 5:45, 110] = 0.2
    b[..., 45:90, 111] = 0.2
    kink, jump = torch.zeros(96, 128, dtype=torch.bool), torch.zeros(96, 128, dtype=torch.bool)
    kink[14:26, 56:66] = True
    jump[40:50, 105:116] = True
    options = {"reduce": "max", "antialias": 1, "rendered_window": 5}
    windowed = Difference(**options)(as_problem(a, b)).map[0, 0]
    glyphs = Difference(**options, window_glyphs=0.2)(as_problem(a, b))  # 32 px of the 160-px diagonal
    assert glyphs.info == [{"window": 5}]
    glyphs = glyphs.map[0, 0]
    assert windowed[jump].max() > 0.5 * windowed[kink].max()  # windows everywhere: the jump competes
    assert glyphs[jump].max() < 1e-6  # an 87-row mark is no glyph: the range forgives the jump
    torch.testing.assert_close(glyphs[kink].max(), windowed[kink].max())  # the 30-row stroke is one
    ranged = Difference(reduce="max", antialias=1)(as_problem(a, b))[0, 0]
    assert (glyphs >= ranged).all()  # the range, and the windows beyond it


def _page_of_glyphs(seed):
    """Short strokes in rows (lines of text) drawn again a fraction of a pixel off, some at the
    image's edges, every other one kinked in B (moved within the range's reach: only the windows
    see it), one beside a disc: glyphs in several boxes, and a box's edge near other marks."""
    g = torch.Generator().manual_seed(seed)
    a, b = drawing(offset=(0.0, 0.0)), drawing(offset=(0.3, 0.2))
    strokes = [(top, left) for top in (0, 22, 50, 88) for left in torch.randint(0, 127, (6,), generator=g).tolist()]
    for index, (top, left) in enumerate([*strokes, (56, 111 + seed % 3)] if seed < 3 else [(56, 111 + seed % 3)]):
        a[..., top:top + 8, left] = 0.2
        b[..., top:top + 8, left] = 0.2
        if index % 2 == 0 and left < 127:
            b[..., top:top + 4, left], b[..., top:top + 4, left + 1] = 1.0, 0.2
    return a, b


@pytest.mark.parametrize("fade", [False, True], ids=["plain", "faded"])
def test_glyph_windows_in_boxes_are_those_of_the_whole_image(monkeypatch, fade):
    import dfplugins_builtin.strategies.difference as module

    options = {"reduce": "l2", "antialias": 1, "rendered_window": 3, "window_slack": 0.5, "window_glyphs": 0.06,
               "sigma": 1.0, "scale": 1.0, "octaves": 2}
    if fade:
        options.update(window_fade=True, rendered_contrast=0.04, rendered_motion=1.5, rendered_fade="regions")
    strategy = Difference(**options)
    cases = [_page_of_glyphs(seed) for seed in range(6)]
    boxed = [strategy(as_problem(a, b)).map for a, b in cases]
    assert max(len(module.boxes_around(module.glyph_mask(a, b, 10)[0, 0].numpy(), 4, module.WINDOW_BOX_JOIN_PX))
               for a, b in cases) > 1  # the case this is about: several boxes
    monkeypatch.setattr(module, "boxes_around", lambda mask, margin, join: [(0, mask.shape[0], 0, mask.shape[1])])
    for (a, b), map_ in zip(cases, boxed):
        torch.testing.assert_close(map_, strategy(as_problem(a, b)).map, rtol=0, atol=0)


@pytest.mark.parametrize("window, reach, slack, fade, step", [(3, 1, 0.5, False, 1.0), (5, 2, 0.0, False, 1.0),
                                                               (3, 1, 0.85, True, 1.0), (3, 1, 0.7, False, 0.5),
                                                               (5, 2, 0.0, False, 0.25)])
def test_the_glyph_windows_boxes_hold_every_pixel_a_window_reads(monkeypatch, window, reach, slack, fade, step):
    import dfplugins_builtin.strategies.difference as module
    from dfcore.ops.channels import reduce_channels
    from dfcore.ops.shift import range_tolerant

    options = {"window_fade": True, "rendered_contrast": 0.04, "rendered_motion": 1.5} if fade else {}
    strategy = Difference(reduce="l2", antialias=1, rendered_window=window, window_slack=slack, window_glyphs=0.05,
                          window_step=step, **options)
    combine = lambda d: reduce_channels(d, "l2")
    g = torch.Generator().manual_seed(window + reach)
    real = module.boxes_around
    cases = []
    amplitude = 0.03 if fade else 1.0  # faint enough that the fading's factor is below 1
    for _ in range(4):  # textured images, a few glyph pixels: every pixel a window reads matters
        x, y = (0.5 + amplitude * (torch.rand(1, 3, 48, 64, generator=g) - 0.5) for _ in range(2))
        glyphs = torch.rand(1, 1, 48, 64, generator=g) > 0.995
        cases.append((x, y, range_tolerant(x, y, reach, combine, 0.0), glyphs))

    def beyond(x, y, ranged, glyphs):
        return strategy._windows_beyond(x, y, ranged, glyphs, reach, window, combine)

    boxed = [beyond(*case) for case in cases]
    assert all(len(real(case[3][0, 0].numpy(), 8)) > 0 for case in cases)
    monkeypatch.setattr(module, "boxes_around", lambda mask, margin, join: [(0, mask.shape[0], 0, mask.shape[1])])
    whole = [beyond(*case) for case in cases]
    for left, right in zip(boxed, whole):
        torch.testing.assert_close(left, right, rtol=0, atol=0)
    if not fade:  # the fading's halo is the strips' (its Gaussian's far taps are below float32's rounding here)
        monkeypatch.setattr(module, "boxes_around", lambda mask, margin, join: real(mask, margin - 1, join))
        assert any(not torch.equal(beyond(*case), right) for case, right in zip(cases, whole))  # one px less: wrong


@pytest.mark.parametrize(("name", "good", "described", "bad", "refusal"), [
    ("window_glyphs", 0.02, "no taller than 0.02 of the diagonal; the range elsewhere", 1.5,
     r"window_glyphs must be a fraction of the image diagonal in \[0, 1\)"),
    ("window_step", 0.5, "in steps of 0.5 px, the other image moved by bilinear interpolation", 0.3,
     r"window_step must be one of 1, 0.5, 0.25 \(px\)"),
])
def test_a_window_option_is_read_from_text_described_and_a_bad_one_is_refused(name, good, described, bad, refusal):
    finder = Finder(metric="mse", strategy=f"difference:antialias=1,rendered_window=3,{name}={good}",
                    registry=fresh_registry(), device="cpu")
    assert finder.config["strategy"]["params"][name] == good
    assert described in finder.config["strategy"]["conventions"]["rendered_window"]
    if name == "window_glyphs":
        assert "on glyph-sized marks (<= 0.02 of the diagonal)" in finder.strategy.obj.unit
    with pytest.raises(ParameterError, match=refusal):
        Finder(metric="mse", strategy=f"difference:rendered_window=3,{name}={bad}", registry=fresh_registry(),
               device="cpu")


def test_rendered_window_is_read_from_text_and_a_bad_one_is_refused():
    finder = Finder(metric="mse", strategy="difference:antialias=1,rendered_window=5", registry=fresh_registry(),
                    device="cpu")
    assert finder.config["strategy"]["params"]["rendered_window"] == 5
    assert "root mean square over the 5x5 px window" in finder.config["strategy"]["conventions"]["rendered_window"]
    assert "RMS over 5-px windows" in Difference(antialias=1, rendered_window=5).unit
    with pytest.raises(ParameterError, match="rendered_window must be 0 .off. or an odd whole number"):
        Finder(metric="mse", strategy="difference:rendered_window=4", registry=fresh_registry(), device="cpu")


def test_slope_is_the_gradient_magnitude():
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 2, 6, 8) * 0.1  # rises 0.1 a pixel along x
    inner = slope(ramp)[..., 1:-1]
    torch.testing.assert_close(inner, torch.full_like(inner, 0.1))
    assert slope(torch.ones(1, 3, 5, 5)).abs().max() == 0


def test_rendered_contrast_leaves_a_photograph_as_it_is_per_sample_in_a_batch():
    g = torch.Generator().manual_seed(5)
    photo = drawing() + 0.02 * torch.randn(1, 3, 96, 128, generator=g)  # every pixel touched: not re-rendered
    photo_b = drawing(offset=(0.3, 0.2), square=CHANGE) + 0.02 * torch.randn(1, 3, 96, 128, generator=g)
    plain = Difference(reduce="max")(as_problem(photo, photo_b))
    faded = Difference(reduce="max", rendered_contrast=0.1)
    torch.testing.assert_close(faded(as_problem(photo, photo_b)), plain)  # no info: nothing was faded
    a, b = drawing(), drawing(offset=(0.3, 0.2), square=CHANGE)
    batch = faded(as_problem(torch.cat([a, photo]), torch.cat([b, photo_b])))
    assert [("contrast_floor" in info) for info in batch.info] == [True, False]
    torch.testing.assert_close(batch.map[1:], plain)
    torch.testing.assert_close(batch.map[:1], faded(as_problem(a, b)).map)


def test_rendered_contrast_is_read_from_text_and_described():
    finder = Finder(metric="mse", strategy="difference:rendered_contrast=0.15,rendered_motion=1.5",
                    registry=fresh_registry(), device="cpu")
    assert finder.config["strategy"]["params"]["rendered_contrast"] == 0.15
    assert finder.config["strategy"]["params"]["rendered_motion"] == 1.5
    conventions = finder.config["strategy"]["conventions"]["rendered_contrast"]
    assert "min(1, c / 0.15)" in conventions and "less 1.5 px times the steeper slope" in conventions
    assert "re-rendered pair" in Difference(rendered_contrast=0.15).unit
    assert "beyond a 1.5-px move" in Difference(rendered_contrast=0.15, rendered_motion=1.5).unit


def page(height=200, width=256, seed=0, boxes=70):
    """Line art: dark boxes and strokes on white, enough of them in every tile to register on."""
    g = torch.Generator().manual_seed(seed)
    image = torch.ones(1, 3, height, width)
    for _ in range(boxes):
        y = int(torch.randint(0, height - 16, (1,), generator=g))
        x = int(torch.randint(0, width - 16, (1,), generator=g))
        h, w = int(torch.randint(2, 14, (1,), generator=g)), int(torch.randint(2, 14, (1,), generator=g))
        image[..., y:y + h, x:x + w] = torch.rand(3, 1, 1, generator=g) * 0.5
    return image


def test_register_finds_the_change_on_a_rescanned_page():
    a = page()
    edited = a.clone()
    edited[..., 90:110, 120:140] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)  # a red square
    b = rescanned(edited, tint=(0.95, 0.93, 0.88))
    stages = "shift=auto,sigma=1,reduce=l2,scale=1,octaves=4,background=64,exact=auto,antialias=auto,overshoot=0.15"
    registry = fresh_registry()
    with_register = Finder(metric="mse", strategy=f"difference:{stages},register=auto", registry=registry,
                           postprocessor="regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15")
    without = Finder(metric="mse", strategy=f"difference:{stages}", registry=registry,
                     postprocessor="regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15")
    found = with_register.run(a, b)
    assert found.info["difference"]["register"]["resampled"]
    assert found.info["difference"]["register"]["beyond_translation_px"] > 2
    (change,) = found.regions
    x0, y0, x1, y1 = change.bbox
    assert x0 <= 122 and x1 >= 138 and y0 <= 92 and y1 >= 108 and (x1 - x0) < 40
    assert len(without.run(a, b).regions) > 1  # unregistered, the turned outlines count too


def test_register_leaves_an_aligned_pair_as_it_is():
    a = page(seed=1)
    b = a.clone()
    b[..., 20:30, 20:30] = 0.5
    b = (b + 0.01 * torch.randn(b.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    registered = Difference(shift="auto", reduce="l2", sigma=1, register="auto")(as_problem(a, b))
    plain = Difference(shift="auto", reduce="l2", sigma=1)(as_problem(a, b))
    assert not registered.info[0]["register"]["resampled"]
    torch.testing.assert_close(registered.map, plain.map)


def test_a_lossless_pair_is_not_measured_for_registration():
    a = page(seed=3)
    b = a.clone()
    b[..., 50:60, 50:60] = 0.0
    out = Difference(shift="auto", exact="auto", register="auto")(as_problem(a, b))
    assert out.info[0]["register"] is None and out.info[0]["exact"]


def measured_fields(monkeypatch):
    """A spy on the strategy's ``measure_affine``: each call's ``max_tiles`` and fields."""
    calls = []

    def spy(*args, **kwargs):
        calls.append((kwargs.get("max_tiles", register.MAX_TILES), register.measure_affine(*args, **kwargs)))
        return calls[-1][1]

    monkeypatch.setattr(difference, "measure_affine", spy)
    return calls


def large_page_pair(turned: bool):
    """A 400x512 page (large enough for the glance to take fewer tiles than the full measurement)
    and B with a change, either noisy on A's grid or turned and scaled as a scan is."""
    a = page(400, 512, seed=5, boxes=280)
    b = a.clone()
    b[..., 200:220, 240:260] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)
    if turned:
        return a, rescanned(b)
    return a, (b + 0.02 * torch.randn(b.shape, generator=torch.Generator().manual_seed(6))).clamp(0, 1)


@pytest.mark.parametrize("turned", [False, True])
def test_register_glances_at_a_third_of_the_tiles_and_measures_in_full_only_when_that_does_not_settle(
        monkeypatch, turned):
    """The glance settles an aligned noisy pair (one measurement, not resampled); a turned page is
    measured again in full and resampled by that fit. Either way the map is the one the full
    measurement alone gives."""
    a, b = large_page_pair(turned)
    assert difference.tile_step(400, 512, max_tiles=difference.GLANCE_TILES) > difference.tile_step(400, 512)
    strategy = Difference(shift="auto", reduce="l2", sigma=1, exact="auto", register="auto")
    calls = measured_fields(monkeypatch)
    out = strategy(as_problem(a, b))
    facts = out.info[0]["register"]
    assert [tiles for tiles, _ in calls] == ([difference.GLANCE_TILES, register.MAX_TILES] if turned
                                             else [difference.GLANCE_TILES])
    assert facts["resampled"] is turned and facts["tiles"] == calls[-1][1][0].tiles
    if not turned:
        assert facts["tiles"] >= difference.GLANCE_MIN_TILES
        assert facts["beyond_translation_px"] < difference.REGISTER_PX - difference.GLANCE_MARGIN_PX
    monkeypatch.setattr(difference, "GLANCE_MIN_TILES", 10**6)  # no glance settles: every pair in full
    calls.clear()
    full = strategy(as_problem(a, b))
    assert [tiles for tiles, _ in calls] == [difference.GLANCE_TILES, register.MAX_TILES]
    assert full.info[0]["register"]["resampled"] is turned
    assert torch.equal(out.map, full.map)


def measured_translations(monkeypatch):
    """A spy on the strategy's ``estimate_translation``: the batch size of each call."""
    measured, estimate = [], difference.estimate_translation

    def spy(x, y):
        measured.append(x.shape[0])
        return estimate(x, y)

    monkeypatch.setattr(difference, "estimate_translation", spy)
    return measured


def test_a_pair_register_resampled_is_not_measured_for_a_translation(monkeypatch):
    """shift=auto gives a resampled sample a radius of 1 whatever it would read: its translation is
    not measured (a batch of a noisy pair and a turned page: only the noisy one is, here even
    where its field would settle it)."""
    (a, noisy), (_, turned) = large_page_pair(False), large_page_pair(True)
    monkeypatch.setattr(difference, "FIELD_ALIGNED_PX", -1.0)
    measured = measured_translations(monkeypatch)
    out = Difference(shift="auto", reduce="l2", sigma=1, register="auto")(as_problem(torch.cat([a, a]),
                                                                                      torch.cat([noisy, turned])))
    assert [info["register"]["resampled"] for info in out.info] == [False, True]
    assert measured == [1]  # the noisy sample alone
    assert "misalignment_px" in out.info[0] and "misalignment_px" not in out.info[1]
    assert [info["shift"] for info in out.info] == [0, 1]


def test_a_pair_whose_field_keeps_it_aligned_is_not_measured_again_for_a_translation(monkeypatch):
    """shift=auto takes a sample whose measured field moves no corner by more than FIELD_ALIGNED_PX
    as aligned, with the field's mean move as its misalignment; a page moved by a pixel is
    measured. The maps and radii are those of the whole-image measurement of both."""
    a, noisy = large_page_pair(False)
    moved = torch.roll(noisy, 1, dims=-1)
    strategy = Difference(shift="auto", reduce="l2", sigma=1, antialias="auto", register="auto")
    measured = measured_translations(monkeypatch)
    out = strategy(as_problem(torch.cat([a, a]), torch.cat([noisy, moved])))
    assert measured == [1]  # the moved sample alone
    field = out.info[0]["register"]["affine"]
    height, width = a.shape[-2:]
    corners = [[row[0] * y + row[1] * x + row[2] for row in field] for y in (0, height - 1) for x in (0, width - 1)]
    assert max(abs(v) for corner in corners for v in corner) <= difference.FIELD_ALIGNED_PX
    mean = [sum(corner[i] for corner in corners) / 4 for i in (0, 1)]
    assert out.info[0]["misalignment_px"] == pytest.approx(mean, abs=2e-3)
    assert out.info[1]["misalignment_px"][1] == pytest.approx(1.0, abs=0.2)
    assert [info["shift"] for info in out.info] == [0, 1]
    monkeypatch.setattr(difference, "FIELD_ALIGNED_PX", -1.0)  # every sample measured whole
    measured.clear()
    whole = strategy(as_problem(torch.cat([a, a]), torch.cat([noisy, moved])))
    assert measured == [2]
    assert [info["shift"] for info in whole.info] == [0, 1]
    assert max(map(abs, whole.info[0]["misalignment_px"])) <= 0.15  # what the field said: aligned
    assert torch.equal(out.map, whole.map)


def test_a_small_image_is_measured_once_in_full(monkeypatch):
    """Where the glance would take the same tiles as the full measurement, there is one measurement."""
    a = page(seed=4)
    b = (a + 0.02 * torch.randn(a.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    calls = measured_fields(monkeypatch)
    Difference(shift="auto", register="auto")(as_problem(a, b))
    assert [tiles for tiles, _ in calls] == [register.MAX_TILES]


def columns_moved(seed: int, step: int, top: int = 60):
    """``page(seed)`` and B: below row ``top``, each band of 64 columns moved right by ``step`` px
    more than the one before (a table whose columns grew), everything above identical."""
    a = page(seed=seed)
    b = a.clone()
    for k, x0 in enumerate(range(0, a.shape[-1], 64)):
        if k:
            b[..., top:, x0 + step * k:x0 + 64] = a[..., top:, x0:x0 + 64 - step * k]
            b[..., top:, x0:x0 + step * k] = 1.0
    return a, b


@pytest.mark.parametrize(("seed", "step"), [(1, 3), (0, 5)])
def test_columns_that_moved_on_one_grid_are_neither_resampled_nor_tolerated_as_a_shift(seed, step):
    """Most of the page's detail identical, the rest moved by whole pixels: the pair is on one grid.
    An affine fit to that field (it departs from a translation by several pixels on seed 1) is
    not measured, and the translation the moved columns pull the correlation to is not tolerated,
    so B is compared as it is and the identical rows stay 0."""
    a, b = columns_moved(seed, step)
    out = Difference(shift="auto", exact="auto", lossless="clustered", register="auto", sigma=1, reduce="l2",
                     antialias="auto")(as_problem(a, b))
    facts = out.info[0]
    assert not facts["exact"] and ONE_GRID_SHARE <= facts["identical"] < LOSSLESS_SHARE
    assert facts["register"] is None
    assert max(abs(v) for v in facts["misalignment_px"]) > 2  # measured, yet not tolerated:
    before, after = facts["shift_identical"]
    assert after < before and facts["shift"] == 0  # moving B back would break more than it mends
    assert float(out.map[..., :40, :].abs().max()) == 0.0  # the identical rows, far from the moved ones
    assert float(out.map[..., 60:, 64:].abs().amax()) > 0.0


def test_columns_that_moved_are_measured_when_little_of_the_page_is_identical_and_no_scan(monkeypatch):
    """The same field on a pair that is not on one grid (noise on every pixel) is measured, as
    before the one-grid test (that test reads identical detail, not the field), and its fit is
    refused: the columns stretch the page by about 5% across and not down, which no scan's turn
    and scale does (``MAX_SHEAR``), so B is not resampled by it."""
    a, b = columns_moved(1, 3)
    noise = 0.02 * torch.randn(b.shape, generator=torch.Generator().manual_seed(3))
    b = (b + noise).clamp(0, 1)
    measured = []

    def spy(*args, **kwargs):
        measured.append(register.measure_affine(*args, **kwargs))
        return measured[-1]

    monkeypatch.setattr(difference, "measure_affine", spy)
    out = Difference(shift="auto", exact="auto", lossless="clustered", register="auto")(as_problem(a, b))
    assert out.info[0]["identical"] < ONE_GRID_SHARE and measured == [[None]]
    assert out.info[0]["register"] is None
    monkeypatch.setattr(register, "MAX_SHEAR", 1.0)  # what the tiles fit, unchecked
    (stretch,) = register.measure_affine(a, b)
    assert stretch is not None and register.shear(stretch.matrix) > 0.04


def test_a_whole_pixel_shift_on_one_grid_is_still_tolerated():
    """Flat boxes moved 3 px keep their edges along the move identical (more than half their
    detail): on one grid by the share, yet moving B back leaves more of it identical."""
    a = page(seed=2)
    b = torch.roll(a, shifts=(0, 3), dims=(-2, -1))
    b[..., 20:30, 100:120] = 0.0  # and a change
    out = Difference(shift="auto", exact="auto", lossless="clustered", register="auto")(as_problem(a, b))
    facts = out.info[0]
    assert facts["identical"] >= ONE_GRID_SHARE and facts["register"] is None
    before, after = facts["shift_identical"]
    assert after > before and facts["shift"] == 3


def test_exact_on_ranks_a_rescanned_page_exactly_and_still_registers_it():
    a = page()
    b = rescanned(a, tint=(0.95, 0.93, 0.88))
    out = Difference(shift="auto", exact="on", register="auto")(as_problem(a, b))
    facts = out.info[0]
    assert facts["exact"] and facts["identical"] < 0.5  # ranked exactly, as asked, though far from lossless
    assert facts["register"]["resampled"]  # and measured as what it is: turned, so resampled


@pytest.mark.parametrize(("param", "message"), [
    ("antialias=-1", "antialias must be a whole number of pixels"),
    ("antialias=sometimes", r"'antialias': expected an integer, got 'sometimes' \(or auto\)"),
    ("overshoot=-0.5", "overshoot must be a finite number"),
    ("register=always", "'always' is not one of: off, auto"),
    ("rendered_overshoot=wide", "rendered_overshoot must be a number, got 'wide'"),
    ("rendered_overshoot=-1", "rendered_overshoot must be a finite number >= 0"),
    ("rendered_contrast=faint", "'rendered_contrast': expected a number, got 'faint'"),
    ("rendered_contrast=-0.1", r"rendered_contrast must be a number in \[0, 1\]"),
    ("rendered_contrast=2", r"rendered_contrast must be a number in \[0, 1\]"),
    ("rendered_motion=-1", "rendered_motion must be a finite number >= 0"),
])
def test_bad_knobs_are_one_line_errors(param, message):
    with pytest.raises(ParameterError, match=message):
        Finder(metric="mse", strategy=f"difference:{param}", registry=fresh_registry(), device="cpu")


def test_a_word_other_than_auto_is_refused_by_the_stage_itself():
    with pytest.raises(ValueError, match="antialias must be a whole number of pixels >= 0 or 'auto'"):
        Difference(antialias="sometimes")
