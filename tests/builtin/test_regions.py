"""``regions``: the differences of the default map, counted by the map itself, and how they are reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from dfcore import Finder, ParameterError
from dfcore.cli import main
from dfcore.contracts import StageOutput
from dfcore.testing import fresh_registry, planted_files, planted_pair
from dfplugins_builtin.postprocessors.regions import Regions

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BOXES = ((10, 12, 26, 28), (50, 40, 70, 58), (20, 90, 34, 110))  # (y0, x0, y1, x1), as planted_pair takes them


def finder(**stages):
    return Finder(registry=fresh_registry(), device="cpu", **stages)


def test_the_default_pipeline_reports_each_planted_change_once():
    a, b, _ = planted_pair(96, 128, boxes=BOXES)
    result = finder().run(a, b)
    assert len(result.regions) == len(BOXES)
    for y0, x0, y1, x1 in BOXES:
        assert any(r.bbox[0] <= x1 and r.bbox[2] >= x0 and r.bbox[1] <= y1 and r.bbox[3] >= y0 for r in result.regions)
    assert [r.peak for r in result.regions] == sorted((r.peak for r in result.regions), reverse=True)
    assert all(r.significance >= 6 for r in result.regions)
    assert result.info["regions"]["differences"] == len(BOXES)
    assert result.mask.sum() == sum(r.area for r in result.regions)


def repainted_page():
    """A lossless pair: a page whose panel was repainted (an eighth of it) and a small mark recoloured."""
    a = np.full((240, 320, 3), 235, np.uint8)
    for y in range(20, 230, 16):
        a[y:y + 6, 20:300:7] = 40  # dotted lines of "text"
    b = a.copy()
    b[30:110, 40:160] = (200, 30, 30)
    b[180:188, 250:262] = (150, 150, 235)
    return a, b


def test_a_large_change_on_a_lossless_page_hides_neither_itself_nor_a_small_one_beside_it():
    a, b = repainted_page()
    found = finder().run(a, b).regions
    assert len(found) == 2
    (x0, y0, x1, y1), (u0, v0, u1, v1) = (r.bbox for r in found)
    assert x0 <= 40 and y0 <= 30 and x1 >= 160 and y1 >= 110 and (x1 - x0) * (y1 - y0) < 1.2 * 130 * 90
    assert u0 <= 250 and v0 <= 180 and u1 >= 262 and v1 >= 188 and (u1 - u0) * (v1 - v0) < 300
    # Without the exact background, the changes' own mean |map| stands in for the spread, and
    # ten times it is above both: the page would report no difference at all.
    rule = "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15,moves=true,move_match=0.5,frame=0.05"
    assert finder(postprocessor=rule).run(a, b).regions == []
    assert len(finder(postprocessor=f"{rule},exact_background=true").run(a, b).regions) == 2


def test_exact_merge_and_exact_peaks_part_two_changes_a_table_row_apart_on_a_lossless_page():
    a, _ = repainted_page()  # 240x320: a diagonal of 400 px
    b = a.copy()
    b[100:110, 100:160] = (200, 30, 30)
    b[126:136, 100:160] = (30, 30, 200)  # two changes 16 px apart
    rule = "regions:level=10,extent=0.1,absorb=0.03,relative=0.15,exact_background=true,merge=0.05"  # 20 px
    (swallowed,) = finder(postprocessor=rule).run(a, b).regions
    assert swallowed.bbox[1] > 110  # absorb took the other change in: the box holds one of the two
    (both,) = finder(postprocessor=f"{rule},exact_peaks=true").run(a, b).regions
    assert both.bbox[1] <= 100 and both.bbox[3] >= 136  # one difference, but its box holds both
    # the default takes exact_peaks (round thirty-four) and exact_merge=0.015 (round thirty-six): two
    default = finder().run(a, b).regions
    assert sorted(r.bbox[1] // 10 for r in default) == [9, 12] and all(r.bbox[3] - r.bbox[1] < 20 for r in default)
    apart = finder(postprocessor=f"{rule},exact_peaks=true,exact_merge=0.02").run(a, b).regions  # 8 px
    assert sorted(r.bbox[1] // 10 for r in apart) == [9, 12] and all(r.bbox[3] - r.bbox[1] < 20 for r in apart)
    conventions = Regions(exact_background=True, exact_merge=0.02, exact_peaks=True).conventions()
    assert "parts closer than 0.02 of the diagonal are one difference there" in conventions["exact_background"]
    assert "another peak above extent of a difference's starts its own there" in conventions["exact_background"]
    assert "parts closer" not in Regions(exact_background=True).conventions()["exact_background"]


@pytest.mark.parametrize("side", [1, 2, 8])
def test_a_tiny_pair_that_differs_reports_its_difference(side):
    a = np.zeros((side, side, 3), np.uint8)
    b = a.copy()
    b[side // 2, side // 2] = 255
    assert len(finder().run(a, b).regions) == 1
    assert finder().run(a, a.copy()).regions == []


def test_identical_images_have_no_difference():
    a, _, _ = planted_pair(64, 80)
    result = finder().run(a, a.clone())
    assert result.regions == [] and not result.mask.any()


def test_a_batch_gets_each_sample_its_own_differences():
    a, b, _ = planted_pair(64, 80, boxes=((10, 10, 30, 30),))
    results = finder().run(torch.cat([a, a]), torch.cat([b, a]))
    assert [len(r.regions) for r in results] == [1, 0]


def test_an_explicit_postprocessor_replaces_the_default_one():
    a, b, _ = planted_pair(64, 80)
    result = finder(postprocessor="otsu:min_area=4").run(a, b)
    assert [s["name"] for s in result.config["postprocessor"]] == ["otsu"]
    assert all(r.significance is None for r in result.regions)


def test_absorb_peaks_is_a_knob_of_the_stage_and_its_conventions_say_so():
    """A weaker change joined to a stronger one only through a faint ridge (between absorb and
    extent of the stronger's peak): taken in with today's rule, its own difference without it."""
    values = torch.from_numpy(np.random.default_rng(0).uniform(0.0, 0.05, (120, 160)).astype(np.float32))
    values[50:70, 20:40] += 3.0
    values[50:60, 90:100] += 0.9
    values[58:60, 40:90] = 0.17  # about 8 robust deviations above the background
    rule = {"merge": 0.0, "extent": 0.1, "absorb": 0.03, "relative": 0.15}
    out = StageOutput(map=values[None, None])
    assert [r.bbox for r in Regions(**rule)(out).regions[0]] == [(20, 50, 40, 70)]
    free = Regions(**rule, absorb_peaks=False)
    assert [r.bbox for r in free(out).regions[0]] == [(20, 50, 40, 70), (90, 50, 100, 60)]
    assert "another peak above 0.1 of it starts its own" in free.conventions()["absorb"]
    assert "another peak" not in Regions(**rule).conventions()["absorb"]
    parsed = finder(postprocessor="regions:extent=0.1,absorb=0.03,absorb_peaks=false")
    assert parsed.config["postprocessor"][0]["params"]["absorb_peaks"] is False


def test_pixels_not_compared_hold_no_difference():
    values = torch.zeros(1, 1, 40, 40)
    values[..., 5:10, 5:10] = 1.0
    values[..., 25:30, 25:30] = 1.0
    valid = torch.ones(1, 1, 40, 40, dtype=torch.bool)
    valid[..., 20:, :] = False
    out = Regions()(StageOutput(map=values, valid=valid))
    assert [r.bbox for r in out.regions[0]] == [(5, 5, 10, 10)]
    assert not out.mask[..., 20:, :].any()


def test_exact_moves_keeps_an_element_moved_by_less_than_its_width_one_difference_where_exact_merge_parts():
    a, _ = repainted_page()  # 240x320: a diagonal of 400 px
    a[60:80, 100:160] = (30, 120, 200)  # a button 60 px wide
    b = a.copy()
    b[60:80, 100:160] = a[60:80, 30:90]  # the page under it (dotted lines)
    b[60:80, 104:164] = (30, 120, 200)  # moved right by 4 px: strips 56 px apart
    b[150:160, 100:160] = (200, 30, 30)
    b[176:186, 100:160] = (30, 30, 200)  # two changes 16 px apart
    rule = ("regions:level=10,extent=0.1,absorb=0.03,relative=0.15,exact_background=true,merge=0.2,"
            "exact_peaks=true,move_match=0.5,exact_merge=0.02")
    parted = finder(postprocessor=rule).run(a, b).regions
    assert len(parted) == 4  # the button's two strips, and the two changes
    found = finder(postprocessor=f"{rule},exact_moves=8").run(a, b)
    assert len(found.regions) == 3
    (button,) = [r for r in found.regions if r.bbox[1] < 100]
    assert button.bbox[0] <= 100 and button.bbox[2] >= 164  # both strips
    assert sorted(r.bbox[1] // 10 for r in found.regions if r.bbox[1] > 100) == [14, 17]
    conventions = Regions(exact_background=True, exact_merge=0.02, exact_moves=8).conventions()
    assert "one difference when B is A moved by at most 8 px over both" in conventions["exact_background"]
    # on a map alone (no pair to move) nothing is joined again
    alone = Regions(level=10, extent=0.1, absorb=0.03, relative=0.15, exact_background=True, merge=0.2,
                    exact_peaks=True, move_match=0.5, exact_merge=0.02, exact_moves=8)
    assert alone(StageOutput(map=torch.from_numpy(found.map)[None, None])).info[0]["differences"] == 4


def test_absorb_within_reports_a_change_a_faint_residue_joins_to_a_stronger_one_far_off():
    values = np.random.default_rng(0).uniform(0.0, 0.05, (480, 640)).astype(np.float32)
    values[200:230, 100:140] += 3.0
    values[200:230, 240:280] += 2.4  # 100 px off, 0.8 as high
    values[212:218, 140:240] += 0.15  # joined through a residue above absorb, below extent
    out = StageOutput(map=torch.from_numpy(values)[None, None])
    rule = {"level": 10, "extent": 0.1, "absorb": 0.03, "merge": 0.03, "relative": 0.15}
    assert Regions(**rule)(out).info[0]["differences"] == 1
    stage = Regions(absorb_within=0.03, **rule)
    assert [r.bbox for r in stage(out).regions[0]] == [(100, 200, 140, 230), (240, 200, 280, 230)]
    assert "only when within 0.03 of the diagonal" in stage.conventions()["absorb"]


def test_recolours_reports_a_series_drawn_in_another_colour_once():
    a = np.full((200, 300, 3), 255, np.uint8)
    for x in range(40, 280):
        y = int(150 - 0.4 * (x - 40))
        a[y:y + 3, x] = (50, 80, 200)
    a[100:110, 60:200] = 80  # another series, drawn over the first where they cross
    a[12:16, 10:30] = (50, 80, 200)  # the legend's swatch
    b = a.copy()
    b[(a == (50, 80, 200)).all(axis=2)] = (220, 50, 50)
    rule = "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15"
    pieces = finder(postprocessor=rule).run(a, b).regions
    assert len(pieces) == 3
    (one,) = finder(postprocessor=f"{rule},recolours=true").run(a, b).regions
    assert one.bbox[0] <= 10 and one.bbox[1] <= 12 and one.bbox[2] >= 280
    assert "recolours" in Regions(recolours=True).conventions() and "recolours" not in Regions().conventions()


def test_push_merge_reports_a_stacked_bar_grown_once():
    """A chart's stacked bar whose bottom segment grew: the two segments above it are lifted, and the
    pair differs in a strip at each lifted edge; with push_merge the three are one difference."""
    a = np.full((240, 320, 3), 255, np.uint8)
    a[220:] = 40
    for x0 in (60, 200):  # two bars of three segments, 50 px each
        for k, colour in enumerate(((220, 60, 60), (70, 180, 70), (60, 60, 210))):
            a[170 - 50 * k:220 - 50 * k, x0:x0 + 40] = colour
    b = a.copy()
    b[58:170, 200:240] = a[70:182, 200:240]  # the right bar's bottom segment grew by 12 px
    rule = "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15"
    assert len(finder(postprocessor=rule).run(a, b).regions) == 3
    (one,) = finder(postprocessor=f"{rule},push_merge=0.15").run(a, b).regions
    x0, y0, x1, y1 = one.bbox  # the strips' span (the default map is smoothed: a few px wider)
    assert 190 <= x0 <= 200 and x1 >= 240 and y0 <= 58 and 170 <= y1 < 182
    assert "push" in Regions(push_merge=0.1).conventions()["push_merge"] and "push_merge" not in Regions().conventions()


def test_typical_is_read_from_text_described_and_drops_a_residue_of_like_candidates():
    """Thirty like bumps (a degradation's residue, nothing changed) are thirty differences under the
    relative floor alone, none with typical=4; a change five times their height is the one kept."""
    values = torch.zeros(1, 1, 200, 300)
    heights = torch.linspace(0.8, 1.2, 30)
    for index in range(30):
        y, x = divmod(index, 10)
        values[..., 10 + 30 * y:14 + 30 * y, 10 + 28 * x:14 + 28 * x] = heights[index]
    values += 0.05 * torch.rand(values.shape, generator=torch.Generator().manual_seed(0))
    rule = "regions:level=6,merge=0.01,relative=0.15"
    assert len(finder(postprocessor=rule).postprocessors[0].obj(StageOutput(map=values)).regions[0]) == 30
    stage = finder(postprocessor=f"{rule},typical=4,typical_count=25").postprocessors[0].obj
    assert stage.typical == 4 and stage.typical_count == 25
    assert stage(StageOutput(map=values)).regions == [[]]
    changed = values.clone()
    changed[..., 150:170, 150:170] = 5.0
    (found,) = stage(StageOutput(map=changed)).regions[0]
    assert found.bbox == (150, 150, 170, 170)  # ends exclusive
    assert "4 times the median candidate's" in stage.conventions()["typical"]
    assert "typical" not in finder(postprocessor=rule).postprocessors[0].obj.conventions()


def test_drift_leaves_out_what_a_page_laid_out_again_leaves_and_keeps_a_change():
    """A page drawn again, every mark a shade lighter and the lower rows a pixel and a half off: on
    such a pair (a support that fades) the two drifted blocks are left out and a mark drawn anew
    is kept; without a support (a pair not drawn again) all three stay."""
    import cv2

    a = np.ones((120, 200, 3), np.float32)
    rng = np.random.default_rng(1)
    for row in range(8, 112, 12):  # two blocks of rows of marks, 14 px apart
        for col in (*range(6, 84, 12), *range(100, 184, 12)):
            a[row:row + 6, col:col + 8] = rng.uniform(0.0, 0.4, 3)
    a = cv2.GaussianBlur(a, (3, 3), 0.6)  # anti-aliased, as drawn
    b = np.where(a < 0.999, np.clip(a + 0.03, 0, 1), a).astype(np.float32)
    b[68:] = cv2.warpAffine(b, np.float32([[1, 0, -0.5], [0, 1, 1.5]]), (200, 120), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)[68:]
    b[20:26, 88:96] = (0.9, 0.1, 0.1)  # a mark drawn anew
    values = np.abs(a - b).max(axis=2)
    images = tuple(torch.from_numpy(x).permute(2, 0, 1)[None] for x in (a, b))
    fading = torch.full((1, 1, 120, 200), 0.5)
    rule = {"level": 6, "low": 3, "merge": 0.02}
    drawn_again = StageOutput(map=torch.from_numpy(values)[None, None], support=fading, images=images)
    every = Regions(**rule)(drawn_again).regions[0]
    assert len(every) == 3 and sum(r.bbox[1] >= 66 for r in every) == 2  # the drifted blocks, and the change
    stage = Regions(drift=0.45, **rule)
    (kept,) = stage(drawn_again).regions[0]
    assert kept.bbox == (88, 20, 96, 26)
    assert len(stage(StageOutput(map=drawn_again.map, images=images)).regions[0]) == 3
    assert "layout drift" in stage.conventions()["drift"] and "drift" not in Regions().conventions()


@pytest.mark.parametrize(("params", "message"), [
    ("level=0", "level must be a positive number"),
    ("low=8", r"low \(8.0\) must not exceed level \(6.0\)"),
    ("merge=1.5", "merge must be a fraction of the image diagonal"),
    ("min_size=-1", "min_size must be a fraction of the image area"),
    ("extent=1.5", "extent must be a fraction of a peak's height"),
    ("relative=-0.1", "relative must be a fraction of a peak's height"),
    ("extent=0.1,absorb=0.2", r"absorb \(0.2\) must not exceed extent \(0.1\)"),
    ("judge=group", "judge.*difference, peak"),
    ("move_match=1.5", r"move_match must be a fraction of the places' own differences in \(0, 1\)"),
    ("frame=0.7", r"frame must be a fraction of the image diagonal in \[0, 0.5\)"),
    ("move_tolerance=5", "move_tolerance must be a whole number of pixels from 0 to 4"),
    ("move_tolerance=-1", "move_tolerance must be a whole number of pixels from 0 to 4"),
    ("move_tolerance=1.5", "move_tolerance"),
    ("line_merge=1", r"line_merge must be a fraction of the image diagonal in \[0, 1\)"),
    ("line_merge=-0.1", "line_merge"),
    ("lines=text", "lines.*all, rendered"),
    ("line_height=1.5", r"line_height must be a fraction of the image diagonal in \[0, 1\)"),
    ("drift=1", r"drift must be a fraction of a difference in \[0, 1\)"),
    ("zero_below=0.5", r"zero_below must be a fraction of the map's largest value in \[0, 0.01\)"),
    ("zero_below=-1e-6", "zero_below"),
    ("exact_merge=1.5", r"exact_merge must be a fraction of the image diagonal in \[0, 1\)"),
    ("exact_moves=17", "exact_moves must be a whole number of pixels from 0 to 16"),
    ("exact_moves=-1", "exact_moves must be a whole number of pixels from 0 to 16"),
    ("exact_moves=2.5", "exact_moves"),
    ("absorb_within=1.5", r"absorb_within must be a fraction of the image diagonal in \[0, 1\)"),
    ("frame_span=1", r"frame_span must be a fraction of the edge's length in \[0, 1\)"),
    ("push_merge=1", r"push_merge must be a fraction of the image diagonal in \[0, 1\)"),
    ("push_merge=-0.1", "push_merge"),
    ("typical=0.5", r"typical must be 0 \(off\) or a factor of at least 1"),
    ("typical=nan", "typical must be 0"),
    ("typical_count=1", "typical_count must be a whole number of candidates >= 2"),
    ("typical_count=2.5", "typical_count"),
])
def test_bad_knobs_are_one_line_errors(params, message):
    with pytest.raises(ParameterError, match=message):
        finder(postprocessor=f"regions:{params}")


def test_the_json_lists_the_differences_with_their_significance(tmp_path):
    a, b, _ = planted_files(tmp_path, height=64, width=80)
    result = CliRunner().invoke(main, [str(a), str(b), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "b.json").read_text())
    assert data["regions"] and {"bbox", "area", "peak", "mean", "centroid", "significance"} <= set(data["regions"][0])
    assert data["config"]["postprocessor"][0]["qualified_name"] == "builtin.regions"


def test_the_terminal_lists_the_differences_strongest_first_and_caps_the_list(tmp_path):
    boxes = tuple((8 + 30 * (i % 2), 8 + 14 * i, 16 + 30 * (i % 2), 16 + 14 * i) for i in range(12))
    a, b, _ = planted_files(tmp_path, height=64, width=180, boxes=boxes)
    result = CliRunner().invoke(main, [str(a), str(b)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "12 differences, strongest first:"
    assert lines[2].startswith("   1. x ") and "sigma above the background" in lines[2]
    assert lines[-1] == "  ...and 2 more"
    same = CliRunner().invoke(main, [str(a), str(a)])
    assert same.exit_code == 0 and same.stdout.splitlines()[1] == "no differences found"


def test_a_pair_that_differs_alike_all_over_says_nothing_stands_out(tmp_path):
    """Two unrelated noise images differ everywhere and nowhere more than elsewhere: not "no differences"."""
    rng = np.random.default_rng(3)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(tmp_path / name)
    result = CliRunner().invoke(main, [str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "no difference stands out from the rest of the map"


def test_the_region_boxes_follow_the_mask():
    values = np.zeros((30, 30), np.float32)
    values[3:6, 4:9] = 1.0
    out = Regions(min_size=0)(StageOutput(map=torch.from_numpy(values)[None, None]))
    (region,) = out.regions[0]
    assert region.bbox == (4, 3, 9, 6) and region.area == 15 and region.centroid == (6.0, 4.0)


@pytest.mark.parametrize("b", ["b.png", "b_shifted.png"])
def test_the_sample_pair_shows_its_seven_planted_differences(b):
    """samples/README.md: seven edits; b_shifted.png is b.png turned, scaled and moved (a rescan)."""
    result = finder().run(SAMPLES / "a.png", SAMPLES / b)
    truth = np.asarray(Image.open(SAMPLES / "truth.png")) > 0
    assert len(result.regions) == 7
    if b == "b.png":  # the truth is on b.png's grid: every difference lies on an edit
        for region in result.regions:
            x0, y0, x1, y1 = (int(v) for v in region.bbox)
            assert truth[y0:y1 + 1, x0:x1 + 1].any(), region.bbox


def moved_marker(tmp_path=None):
    """A light page whose dark square left (30, 20) for (140, 80): as tensors, or as PNG files in ``tmp_path``."""
    a = torch.full((1, 3, 120, 200), 0.85)
    b = a.clone()
    a[..., 20:32, 30:42] = torch.tensor([0.1, 0.3, 0.8])[:, None, None]
    b[..., 80:92, 140:152] = torch.tensor([0.1, 0.3, 0.8])[:, None, None]
    if tmp_path is None:
        return a, b
    paths = []
    for name, image in (("a.png", a), ("b.png", b)):
        Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_the_default_reports_a_thing_that_moved_once_with_where_from_and_where_to():
    a, b = moved_marker()
    (region,) = finder().run(a, b).regions
    assert region.move is not None and region.move.shift == (110, 60)
    assert region.move.source[:2] <= (30, 20) and region.move.target[:2] <= (140, 80)
    assert region.bbox == (region.move.source[0], region.move.source[1], region.move.target[2], region.move.target[3])
    apart = finder(postprocessor="regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15").run(a, b)
    assert len(apart.regions) == 2 and all(r.move is None for r in apart.regions)


def test_a_map_without_its_images_pairs_nothing():
    a, b = moved_marker()
    values = (a - b).abs().sum(1, keepdim=True)
    alone = Regions(moves=True)(StageOutput(map=values))
    assert len(alone.regions[0]) == 2
    (joined,) = Regions(moves=True)(StageOutput(map=values, images=(a, b))).regions[0]
    assert joined.move.shift == (110, 60)


def test_a_move_is_in_the_json_and_the_terminal(tmp_path):
    a, b = moved_marker(tmp_path)
    result = CliRunner().invoke(main, [str(a), str(b), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "1 difference, strongest first:"
    (region,) = json.loads((tmp_path / "out" / "b.json").read_text())["regions"]
    (fx0, fy0, fx1, fy1), (tx0, ty0, tx1, ty1) = region["move"]["from"], region["move"]["to"]
    assert region["move"]["by"] == [110, 60]
    assert fx0 <= 30 and fy0 <= 20 and fx1 >= 42 and fy1 >= 32  # the square's place in A, and in B:
    assert tx0 <= 140 and ty0 <= 80 and tx1 >= 152 and ty1 >= 92
    assert (f"; moved by (+110, +60) from x {fx0}-{fx1 - 1}, y {fy0}-{fy1 - 1} to x {tx0}-{tx1 - 1}, "
            f"y {ty0}-{ty1 - 1}") in result.stdout.splitlines()[2]


def test_the_figure_and_the_report_draw_both_places_of_a_move_under_one_number(tmp_path):
    from dfcore.report.model import PairRecord
    from dfcore.report.pages import render_pair

    result = finder().run(*moved_marker(tmp_path))
    (region,) = result.regions
    fig = result.figure()
    for ax in fig.axes[2:4]:  # the map and the overlay
        assert [p.get_xy() for p in ax.patches] == [region.move.source[:2], region.move.target[:2]]
        assert [t.get_text() for t in ax.texts if t.get_text()] == ["1", "1"]
        assert sum(t.arrow_patch is not None for t in ax.texts) == 1
    data = result.to_dict()
    data["display"] = {"colormap": "inferno", "vmin": 0.0, "vmax": 1.0}
    page = render_pair(PairRecord("b.png", data=data))
    group = page[page.index('<g data-region="0">'):]
    group = group[:group.index("</g>")]
    assert group.count("<rect ") == 4 and group.count('<line class="move"') == 1 and group.count(">1</text>") == 2
    fx, fy = region.move.source[:2]
    tx, ty = region.move.target[:2]
    assert f"moved {fx},{fy} → {tx},{ty}" in page


def test_the_default_leaves_a_scanned_page_s_frame_out_of_the_list_and_the_map_keeps_it():
    a = torch.full((1, 3, 120, 200), 0.85)
    b = a.clone()
    b[..., 113:117, 10:190] = 0.2    # a frame line along the bottom edge
    b[..., 40:55, 80:95] = 0.2       # a change
    result = finder().run(a, b)
    (region,) = result.regions
    assert region.bbox[1] < 60 and not result.mask[110:].any()
    assert result.map[113:117, 10:190].max() > 0.5 * result.map.max()  # the map still shows the frame
    rule = "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15,moves=true,move_match=0.5"
    assert len(finder(postprocessor=f"{rule},frame=0").run(a, b).regions) == 2


def test_a_line_of_text_along_the_edge_is_not_a_frame():
    a = torch.full((1, 3, 120, 200), 0.85)
    b = a.clone()
    for x in range(10, 190, 16):     # "words" along the top edge, gaps between them
        b[..., 3:10, x:x + 10] = 0.2
    (region,) = finder().run(a, b).regions
    assert region.bbox[1] <= 3 and region.bbox[2] - region.bbox[0] >= 0.4 * 200  # it had a frame's box


def test_line_merge_joins_the_words_of_one_line_and_leaves_other_lines_apart():
    """Three word-like blobs on one line, 30 px apart (wider than merge), and one on a line below:
    with line_merge the line is one difference, its box spanning the words."""
    values = torch.zeros(1, 1, 120, 200)
    for x0 in (20, 60, 100):
        values[..., 30:40, x0:x0 + 10] = 1.0
    values[..., 70:80, 20:30] = 1.0
    rule = {"level": 6.0, "merge": 0.05}  # 11.7 px on this 120x200 map
    apart = Regions(**rule)(StageOutput(map=values)).regions[0]
    joined = Regions(**rule, line_merge=0.15)(StageOutput(map=values)).regions[0]  # 35 px
    assert len(apart) == 4
    assert sorted(r.bbox for r in joined) == [(20, 30, 110, 40), (20, 70, 30, 80)]
    line = next(r for r in joined if r.bbox[1] == 30)
    assert line.area == 300 and line.centroid == pytest.approx((64.5, 34.5))


def test_line_merge_on_rendered_pairs_joins_only_where_the_strategy_hands_over_a_support():
    """lines=rendered: a sample drawn again (support below 1 somewhere) gets its line joined,
    one with a support of 1 everywhere (not drawn again) or none keeps its parts."""
    values = torch.zeros(2, 1, 120, 200)
    for x0 in (20, 60, 100):
        values[..., 30:40, x0:x0 + 10] = 1.0
    support = torch.ones(2, 1, 120, 200)
    support[0, :, 100:, :] = 0.5  # sample 0 drawn again: its support fades a strip far from the line
    stage = Regions(level=6.0, merge=0.05, line_merge=0.15, lines="rendered")
    joined = stage(StageOutput(map=values, support=support)).regions
    assert [len(found) for found in joined] == [1, 3]
    assert [len(found) for found in stage(StageOutput(map=values)).regions] == [3, 3]


def test_rendered_relative_lowers_the_floor_only_on_a_pair_drawn_again():
    """A weak bump at 0.12 of the strongest difference's height: relative=0.15 drops it; with
    rendered_relative=0.1 a sample drawn again (support below 1 somewhere) keeps it, one with a
    support of 1 everywhere (not drawn again) or none still drops it."""
    values = torch.zeros(2, 1, 120, 200)
    values[..., 20:40, 20:40] = 1.0
    values[..., 70:80, 140:150] = 0.12
    support = torch.ones(2, 1, 120, 200)
    support[0, :, 100:, :] = 0.5  # sample 0 drawn again: its support fades a strip far from both
    rule = {"level": 6.0, "merge": 0.05, "relative": 0.15}
    assert [len(found) for found in Regions(**rule)(StageOutput(map=values, support=support)).regions] == [1, 1]
    lower = Regions(**rule, rendered_relative=0.1)
    assert [len(found) for found in lower(StageOutput(map=values, support=support)).regions] == [2, 1]
    assert [len(found) for found in lower(StageOutput(map=values)).regions] == [1, 1]
    assert "0.1 on a pair drawn again" in lower.conventions()["relative"]
    with pytest.raises(ValueError, match="rendered_relative must be a fraction"):
        Regions(rendered_relative=1.5)


def test_absorb_within_on_not_rendered_frees_a_far_peak_only_on_a_pair_not_drawn_again():
    """A far peak joined to a stronger change only through a faint ridge: with absorb_within it
    starts its own difference; with absorb_within_on=not-rendered only where no support fades
    the sample (sample 1), while a sample drawn again (sample 0) keeps it a bump on the flank."""
    from tests.dfcore.ops.test_regions import change_far_along_a_ridge

    values = torch.from_numpy(np.stack([change_far_along_a_ridge()] * 2))[:, None]
    support = torch.ones_like(values)
    support[0, :, 400:, :] = 0.5  # sample 0 drawn again: its support fades a strip far from both
    rule = {"level": 10, "merge": 0.03, "extent": 0.1, "absorb": 0.03, "relative": 0.15, "absorb_within": 0.03}
    everywhere = Regions(**rule)(StageOutput(map=values, support=support)).regions
    assert [len(found) for found in everywhere] == [2, 2]
    stage = Regions(**rule, absorb_within_on="not-rendered")
    assert [len(found) for found in stage(StageOutput(map=values, support=support)).regions] == [1, 2]
    assert "on a pair not drawn again" in stage.conventions()["absorb"]
    with pytest.raises(ValueError, match="absorb_within_on must be one of all, not-rendered, confirmed"):
        Regions(absorb_within_on="pages")


def test_absorb_within_on_confirmed_frees_a_far_peak_on_a_pair_drawn_again_only_where_the_faded_map_holds_it():
    """Sample 0 drawn again, its far peak held by the faded map (a changed digit): freed, as on a
    pair not drawn again (sample 2); sample 1 drawn again, its far peak faded away (residue of the
    re-drawing): a bump on the stronger change's flank, as with not-rendered."""
    from tests.dfcore.ops.test_regions import change_far_along_a_ridge

    values = torch.from_numpy(np.stack([change_far_along_a_ridge()] * 3))[:, None]
    support = torch.ones_like(values)
    support[0, :, 400:, :] = 0.5  # faded far from both
    support[1, :, 190:240, 235:285] = 0.0  # the far peak faded away
    rule = {"level": 10, "merge": 0.03, "extent": 0.1, "absorb": 0.03, "relative": 0.15, "absorb_within": 0.03}
    out = StageOutput(map=values, support=support)
    assert [len(found) for found in Regions(**rule, absorb_within_on="not-rendered")(out).regions] == [1, 1, 2]
    stage = Regions(**rule, absorb_within_on="confirmed")
    found = stage(out).regions
    assert [len(each) for each in found] == [2, 1, 2]
    assert [r.bbox for r in found[0]] == [(100, 200, 140, 230), (240, 200, 280, 230)]
    assert "only when the faded map holds that peak" in stage.conventions()["absorb"]


def test_rendered_move_tolerance_pairs_a_marker_drawn_again_off_the_grid_only_on_a_pair_drawn_again():
    """Sample 0 is drawn again (its support fades a strip far from the marker), sample 1 is not: the
    marker drawn again half a pixel off and a pixel wider pairs within 1 px on the first only."""
    from tests.dfcore.ops.test_moves import disc, scene

    a = disc(scene(), 40.0, 40.0, (0.1, 0.3, 0.8), radius=4.0)
    b = disc(scene(), 150.5, 100.5, (0.1, 0.3, 0.8), radius=5.0)
    images = tuple(torch.from_numpy(np.stack([x, x])).permute(0, 3, 1, 2).contiguous() for x in (a, b))
    values = (images[0] - images[1]).abs().sum(1, keepdim=True)
    support = torch.ones_like(values)
    support[0, :, :, :10] = 0.5  # sample 0 drawn again: its support fades a strip far from the marker
    out = StageOutput(map=values, support=support, images=images)
    assert [len(found) for found in Regions(moves=True, move_match=0.5)(out).regions] == [2, 2]
    stage = Regions(moves=True, move_match=0.5, rendered_move_tolerance=1)
    found = stage(out).regions
    assert [len(each) for each in found] == [1, 2] and found[0][0].move is not None
    assert "within the range over 1 px on a pair drawn again" in stage.conventions()["moves"]
    with pytest.raises(ValueError, match="rendered_move_tolerance must be a whole number of pixels from 0 to 4"):
        Regions(rendered_move_tolerance=5)
    plain = Regions(moves=True, move_match=0.5, rendered_move_tolerance=1, move_plain=0.85)
    assert [len(each) for each in plain(out).regions] == [1, 2]  # the marker fits value for value roughly too
    assert "value for value within 0.85" in plain.conventions()["moves"]
    with pytest.raises(ValueError, match="move_plain must be a fraction"):
        Regions(move_plain=-1)
