"""The layout-shift benchmark: its pairs change what they say, and its table reads them."""

from __future__ import annotations

import numpy as np

from benchmarks.layout_shift import Page, cases, measure, render, table


def test_each_local_change_stays_inside_its_element_and_the_controls_move_nothing_whole():
    a = render(Page())
    for case in cases():
        changed = (render(case.b) != a).any(-1)
        if case.element is not None:
            x0, y0, x1, y1 = case.element
            outside = changed.copy()
            outside[y0:y1, x0:x1] = False
            assert changed.any() and not outside.any(), case.name
        elif case.name == "identical":
            assert not changed.any()
        else:
            assert changed.any(), case.name


def test_strict_finds_every_local_change_and_nothing_on_identical_pages():
    rows = measure(["strict"])
    by_case = {row["case"]: row for row in rows}
    assert all(row["found"] and row["outside"] == 0 for row in rows if row["expect"] == "count")
    assert by_case["identical"]["regions"] == 0 and by_case["identical"]["score"] == 0
    assert np.isfinite(by_case["button-dx1"]["peak_in"])
    assert table(rows).count("\n") == len(rows) + 1


def test_the_default_finds_every_local_move_a_moved_paragraph_included_and_nothing_on_the_subpixel_control():
    by_case = {row["case"]: row for row in measure(["default"])}
    # the paragraph moved by 1 px: its changed glyphs, joined within 6 px, keep the pair lossless
    assert by_case["text-dy1"]["found"] and by_case["text-dy1"]["regions"] == 1
    assert all(row["found"] and row["outside"] == 0 for row in by_case.values() if row["expect"] == "count")
    assert by_case["aa-subpixel"]["regions"] == 0 and by_case["identical"]["regions"] == 0
