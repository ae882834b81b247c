"""Differences on one line of text joined into one (dfcore.ops.lines)."""

from __future__ import annotations

import pytest

from dfcore.contracts import Move, Region
from dfcore.ops.lines import joined_along_lines


def region(bbox, peak=1.0, significance=10.0, move=None):
    x0, y0, x1, y1 = bbox
    area = (x1 - x0) * (y1 - y0)
    return Region(bbox=bbox, area=area, peak=peak, mean=peak / 2, centroid=((x0 + x1) / 2, (y0 + y1) / 2),
                  significance=significance, move=move)


def test_the_words_of_one_line_are_one_difference():
    words = [region((10, 20, 30, 30), peak=2.0, significance=40.0), region((45, 21, 70, 31), peak=3.0),
             region((80, 19, 90, 29), peak=1.0)]  # gaps of 15 and 10 px, a chain
    (line,) = joined_along_lines(words, 15)
    assert line.bbox == (10, 19, 90, 31)
    assert line.area == 200 + 250 + 100 and line.peak == 3.0 and line.significance == 40.0
    assert line.mean == pytest.approx((1.0 * 200 + 1.5 * 250 + 0.5 * 100) / 550)
    assert line.centroid == pytest.approx(((20 * 200 + 57.5 * 250 + 85 * 100) / 550, (25 * 200 + 26 * 250 + 24 * 100) / 550))


@pytest.mark.parametrize("other", [
    (45, 26, 70, 36),   # rows overlap by 4 of 10 px: another line
    (45, 20, 70, 36),   # 1.6 times as high: not text of one size
    (46, 20, 70, 30),   # 16 px apart along the line: farther than the distance
])
def test_differences_on_other_lines_of_unlike_height_or_far_apart_stay_apart(other):
    first, second = region((10, 20, 30, 30)), region(other)
    assert joined_along_lines([first, second], 15) == [first, second]


def test_a_moved_thing_stays_as_it_is_and_no_distance_joins_nothing():
    moved = region((40, 20, 60, 30), peak=5.0, move=Move(source=(40, 20, 45, 30), target=(55, 20, 60, 30), shift=(15, 0)))
    words = [region((10, 20, 30, 30)), moved, region((65, 20, 80, 30))]
    assert joined_along_lines(words, 15) == words
    assert joined_along_lines(words[::2], 0) == words[::2]
    assert [r.peak for r in joined_along_lines([region((10, 20, 30, 30), peak=1.0), region((35, 20, 50, 30), peak=1.0),
                                               region((10, 60, 20, 70), peak=2.0)], 10)] == [2.0, 1.0]


def test_with_a_height_only_parts_no_taller_than_a_line_of_text_are_joined():
    words = [region((10, 20, 30, 30)), region((40, 20, 60, 30))]  # 10 px high
    things = [region((10, 20, 30, 50)), region((40, 20, 60, 50))]  # 30 px high, side by side
    assert len(joined_along_lines(words, 15, height=12)) == 1
    assert joined_along_lines(things, 15, height=12) == things
    assert len(joined_along_lines(things, 15)) == 1  # no height given: any
