"""Pairs holding many changes (benchmarks.quality.many) and the sweep's --many guard."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.quality import many
from benchmarks.quality import pairs as P


def test_a_pair_holds_forty_squares_apart_and_nothing_else_changes():
    a, b, boxes, track = many.pair("camera", 0, max_side=320)
    assert track == "pristine" and len(boxes) == many.ROWS * many.COLS == 40
    height, width = a.shape[:2]
    inside = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in boxes:
        assert (a[y0:y1 + 1, x0:x1 + 1] != b[y0:y1 + 1, x0:x1 + 1]).any()
        inside[y0:y1 + 1, x0:x1 + 1] = True
    np.testing.assert_array_equal(a[~inside], b[~inside])
    np.testing.assert_array_equal(a, P.SOURCES["camera"].load(320))
    gap = min(boxes[1][0] - boxes[0][2], boxes[many.COLS][1] - boxes[0][3])  # neighbours across and down
    assert gap > 0.03 * math.hypot(height, width)  # farther apart than the default joins (merge=0.03)
    again = many.pair("camera", 0, max_side=320)
    np.testing.assert_array_equal(again[1], b)
    assert [many.pair("camera", v, max_side=320)[3] for v in range(4)] == ["pristine", "jpeg", "noise", "pristine"]


def test_the_count_shows_a_floor_that_drops_many_like_changes(monkeypatch, tmp_path):
    """Round fifty-three's typical=4 (not adopted) finds few of forty changes on a JPEG pair; the
    default most of them."""
    from dfplugins_builtin import plugin

    monkeypatch.setattr(P, "images_of", lambda split: ["camera"])
    records = many.main(["--split", "dev", "--variants", "2", "--presets", "default", "--out", str(tmp_path),
                         "--pipeline", f"typical=postprocessor={plugin._DIFFERENCES},typical=4"])
    assert [(r["source"], r["track"], r["changes"]) for r in records] == [("camera", "pristine", 40),
                                                                           ("camera", "jpeg", 40)]
    default, typical = many.shares(records, "default"), many.shares(records, "typical")
    assert set(default) == {"pristine", "jpeg"} and default["jpeg"] >= 0.8
    assert typical["jpeg"] < 0.5 * default["jpeg"]
    saved = (tmp_path / "many.md").read_text()
    assert "| jpeg | `default` | 1 |" in saved and (tmp_path / "many.json").exists()


def test_the_many_changes_guard_a_round_when_they_are_counted():
    from benchmarks.quality import sweep

    def scores(f1):
        return {"hit": 1.0, "ap": 0.9, "region_f1": f1, "count_error_rel": 0.0}

    summary = {"jpeg": {"ref@r": scores(0.80), "floor@r": scores(0.90), "finer@r": scores(0.85)}}
    crowded = {"ref@r": {"jpeg": 0.87}, "floor@r": {"jpeg": 0.08}, "finer@r": {"jpeg": 0.865}}
    methods = ["ref@r", "floor@r", "finer@r"]
    assert sweep.choose_guarded(summary, methods, "ref@r")["method"] == "floor@r"  # without the guard
    choice = sweep.choose_guarded(summary, methods, "ref@r", crowded=crowded)
    assert choice["method"] == "finer@r"  # 0.005 less: within the slack
    assert next(row for row in choice["rows"] if row["method"] == "floor@r")["losses"] == [
        "many changes on jpeg: 0.080 < 0.870 found"]
    assert sweep.choose_guarded(summary, ["ref@r", "floor@r"], "ref@r", crowded=crowded)["method"] == "ref@r"
