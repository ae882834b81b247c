"""Region scores and region rules on hand-made cases whose right answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.quality import run as R
from benchmarks.quality.regions import components, region_rule
from benchmarks.quality.scores import Reported, match_regions, region_scores, score_map

H, W = 120, 160
DIAG = math.hypot(H, W)  # 200 px: edit boxes grow by 2 px
EDITS = [(10, 10, 30, 25), (100, 20, 112, 60), (60, 80, 90, 110)]


def regions(*boxes: tuple[int, int, int, int]) -> list[Reported]:
    return [Reported(box, 1.0 - 0.1 * i) for i, box in enumerate(boxes)]


def test_regions_on_every_edit_score_one():
    scores = region_scores(regions(*EDITS), EDITS, DIAG)
    assert scores == {"region_precision": 1.0, "region_recall": 1.0, "region_f1": 1.0, "count_error": 0.0,
                      "count_error_rel": 0.0}


def test_one_missed_edit_costs_recall_only():
    scores = region_scores(regions(*EDITS[:2]), EDITS, DIAG)
    assert scores["region_precision"] == 1.0 and scores["region_recall"] == pytest.approx(2 / 3)
    assert scores["region_f1"] == pytest.approx(0.8)
    assert scores["count_error"] == -1.0 and scores["count_error_rel"] == pytest.approx(1 / 3)


def test_one_extra_region_costs_precision_only():
    scores = region_scores(regions(*EDITS, (140, 100, 150, 110)), EDITS, DIAG)
    assert scores["region_precision"] == 0.75 and scores["region_recall"] == 1.0
    assert scores["count_error"] == 1.0 and scores["count_error_rel"] == pytest.approx(1 / 3)


def test_two_regions_on_one_edit_credit_it_once():
    halves = regions((10, 10, 19, 25), (21, 10, 30, 25), *EDITS[1:])  # the first edit cut in two
    scores = region_scores(halves, EDITS, DIAG)
    assert scores["region_recall"] == 1.0 and scores["region_precision"] == 0.75
    assert scores["count_error"] == 1.0
    assert len(match_regions(halves, EDITS, DIAG)) == 3


def test_one_region_over_two_edits_finds_one():
    merged = regions((10, 10, 112, 60), EDITS[2])  # covers the first two edits
    scores = region_scores(merged, EDITS, DIAG)
    assert scores["region_precision"] == 1.0 and scores["region_recall"] == pytest.approx(2 / 3)
    assert scores["count_error"] == -1.0


def test_a_region_counts_within_the_hit_tolerance_and_not_beyond():
    _, y0, x1, y1 = EDITS[0]
    near = Reported((x1 + 1, y0, x1 + 8, y1))  # 1 px right of the box: inside the 2-px growth
    far = Reported((x1 + 3, y0, x1 + 8, y1))  # 3 px right: outside
    assert region_scores([near], EDITS[:1], DIAG)["region_recall"] == 1.0
    assert region_scores([far], EDITS[:1], DIAG)["region_recall"] == 0.0


def test_the_matching_takes_the_most_matches_then_the_best_overlap():
    # Region 0 overlaps both edits, region 1 only the first: the assignment must give edit 0
    # to region 1 and edit 1 to region 0, not region 0 to its larger overlap.
    edits = [(10, 10, 30, 30), (34, 10, 60, 30)]
    found = [Reported((12, 12, 58, 28)), Reported((10, 10, 20, 20))]
    assert sorted(match_regions(found, edits, DIAG)) == [(0, 1), (1, 0)]


def test_no_region_reported_scores_zero():
    scores = region_scores([], EDITS, DIAG)
    assert scores["region_precision"] == 0.0 and scores["region_recall"] == 0.0 and scores["region_f1"] == 0.0
    assert scores["count_error"] == -3.0 and scores["count_error_rel"] == 1.0
    with pytest.raises(ValueError, match="at least one edit box"):
        region_scores([], [], DIAG)


def test_score_map_adds_region_scores_only_when_given_regions():
    truth = np.zeros((H, W), bool)
    for x0, y0, x1, y1 in EDITS:
        truth[y0:y1, x0:x1] = True
    assert "region_f1" not in score_map(truth.astype(float), truth, EDITS)
    assert score_map(truth.astype(float), truth, EDITS, regions(*EDITS))["region_f1"] == 1.0


def test_components_are_the_nonzero_blobs_strongest_first():
    mask = np.zeros((H, W))
    mask[10:20, 10:20] = 0.5
    mask[50:52, 100:130] = 1.0
    mask[90, 90] = 0.2  # one pixel, diagonal to the next: 8-connected
    mask[91, 91] = 0.2
    found = components(mask)
    assert [r.box for r in found] == [(100, 50, 130, 52), (10, 10, 20, 20), (90, 90, 92, 92)]
    assert [r.score for r in found] == [1.0, 0.5, 0.2]
    assert len(region_rule("components:connectivity=4")(mask)) == 4
    assert components(np.zeros((H, W))) == []


def test_a_dfind_postprocessor_is_a_region_rule():
    diff_map = np.zeros((H, W), np.float32)
    for x0, y0, x1, y1 in EDITS:
        diff_map[y0:y1, x0:x1] = 1.0
    found = region_rule("otsu")(diff_map)
    assert sorted(r.box for r in found) == sorted(EDITS)
    # 300, 480 and 900 px: min_area drops the first; equal peaks rank the larger first
    assert [r.box for r in region_rule("otsu:min_area=400")(diff_map)] == [EDITS[2], EDITS[1]]
    with pytest.raises(ValueError, match="returns no regions"):
        region_rule("smooth")(diff_map)


def test_method_at_rule_runs_a_method_with_another_rule():
    methods, _ = R.select_methods(["abs-diff", "abs-diff@components", "dfind:default@otsu:min_area=64"])
    assert methods["abs-diff"].regions is None and methods["abs-diff@components"].regions == "components"
    assert methods["dfind:default@otsu:min_area=64"].regions == "otsu:min_area=64"
    assert R.M.PEERS["pixelmatch"].regions == "components"  # its mask's components are its own regions
    with pytest.raises(SystemExit, match="unknown method"):
        R.select_methods(["nope@components"])


def test_a_rule_on_a_dfind_map_reports_what_the_pipeline_ending_in_it_reports():
    from tests.builtin.test_redrawn import page
    from tests.builtin.test_shift_tolerance import moved_view

    rule = "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15"
    strategy = ("strategy=difference:shift=auto,sigma=1,reduce=l2,scale=1,octaves=4,background=64,exact=auto,"
                "antialias=1,overshoot=0.15,rendered_overshoot=0.3,register=auto,edge_margin=auto,"
                "rendered_contrast=0.04,rendered_motion=1.5,rendered_fade=regions")
    pipelines = [f"map=preprocessor=align;metric=mse;{strategy};postprocessor=identity",
                 f"whole=preprocessor=align;metric=mse;{strategy};postprocessor={rule}"]
    methods, _ = R.select_methods(["map@" + rule, "whole"], pipelines)
    moved_a, moved_b, _ = moved_view()
    as_bytes = [(np.asarray(x[0].permute(1, 2, 0) * 255).round().astype(np.uint8)) for x in (moved_a, moved_b)]
    for (a, b), given in (((page(), page(1.5, label="Sent")), "support"), (as_bytes, "valid")):
        made = methods["map@" + rule].build()(a, b)  # a page drawn again; a frame align leaves a part of out
        assert made.regions is None and getattr(made, given) is not None
        own = methods["whole"].build()(a, b).regions
        assert region_rule(rule)(made.map, **R.M.known(made, a, b)) == own
        if given == "support":
            assert len(region_rule(rule)(made.map)) > len(own)  # the map alone reports the words drawn again


def test_failures_sorts_misses_and_false_regions_by_cause():
    from benchmarks.quality.failures import diagnose, summary
    from benchmarks.quality.pairs import Edit, Pair

    masks = []
    for x0, y0, x1, y1 in EDITS:
        mask = np.zeros((H, W), bool)
        mask[y0:y1, x0:x1] = True
        masks.append(mask)
    truth = np.logical_or.reduce(masks)
    a = np.full((H, W, 3), 128, np.uint8)
    pair = Pair("p", "p", "t", 0, a, a, truth, [Edit(k, m) for k, m in zip(("one", "two", "three"), masks)])
    diff_map = np.where(truth, 1.0, 0.01)
    diff_map[60:70, 100:112] = 1.0  # strong, inside the second edit's box
    diff_map[masks[2]] = 0.005  # the third edit: fainter than the unchanged pixels
    found = [Reported((10, 10, 20, 25)), Reported((21, 10, 30, 25)),  # the first edit in two pieces
             Reported((0, 110, 20, 120)), Reported((130, 80, 150, 100))]  # at the border; in the open
    record = diagnose(pair, diff_map, found)
    assert [e["found"] for e in record["edits"]] == [True, False, False]
    assert [e.get("why") for e in record["edits"]] == [None, "dropped", "faint"]
    assert [r["why"] for r in record["false"]] == ["fragment", "border", "elsewhere"]
    counts = summary([record])["t"]
    assert counts["missed"] == {"dropped": 1, "faint": 1} and counts["false"]["fragment"] == 1
    assert counts["kinds"]["one"] == {"edits": 1, "found": 1, "hit": 1}
    assert counts["shifted"] == {"found: not": 1, "false: not": 3}  # A and B alike: no move explains anything


def test_failures_says_how_much_a_small_move_of_b_explains():
    from benchmarks.quality.failures import shift_explained

    a = np.zeros((60, 80, 3), np.uint8)
    a[20:30, 20:50] = 200
    moved = np.roll(a, (2, -1), axis=(0, 1))  # the same block a pixel or two off
    changed = a.copy()
    changed[20:30, 35:50] = 40  # half the block redrawn otherwise
    box = (20, 20, 50, 30)
    assert shift_explained(a, moved, box) == {"left": 0.0, "by": [2, -1]}
    assert shift_explained(a, changed, box)["left"] > 0.5
    assert shift_explained(a, a, box) is None  # no difference to explain
    assert shift_explained(a, moved, (0, 0, 1, 1), margin=0, reach=2) is None  # no room to move
