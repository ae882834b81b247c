"""A change that pushed what lies beyond it is one difference (dfcore.ops.pushes.joined_pushes)."""

from __future__ import annotations

import numpy as np
import pytest

from dfcore.ops.moves import one_move
from dfcore.ops.pushes import aligned, joined_pushes
from tests.dfcore.ops.test_moves import crop_of, differences_of, parts_of

SEGMENTS = ((0.85, 0.2, 0.2), (0.3, 0.7, 0.3), (0.3, 0.3, 0.8))


def stacked(heights, width=200, height=240, x0=80, bar=40, base=220):
    """A white chart with one stacked bar of three segments (bottom first), ``heights`` px tall."""
    image = np.ones((height, width, 3), np.float32)
    image[base:, :] = 0.2  # the axis
    top = base
    for colour, h in zip(SEGMENTS, heights):
        image[top - h:top, x0:x0 + bar] = colour
        top -= h
    return image


def test_a_stacked_segment_grown_leaves_a_strip_at_each_lifted_edge_and_is_one_difference():
    a, b = stacked((50, 50, 50)), stacked((62, 50, 50))  # the bottom segment grew by 12 px
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 3  # the strips at the three lifted edges, 38 px apart
    (joined,) = joined_pushes(regions, mask, crop, distance=60, match=0.5)
    assert joined.bbox == (80, 58, 120, 170)
    assert joined.area == sum(r.area for r in regions) and joined.peak == max(r.peak for r in regions)
    # farther apart than the distance, the strips stay apart
    assert len(joined_pushes(regions, mask, crop, distance=30, match=0.5)) == 3
    assert joined_pushes(regions, mask, crop, distance=0, match=0.5) is regions


def test_a_push_along_a_row_is_one_difference_too():
    a, b = (np.ascontiguousarray(stacked(h).transpose(1, 0, 2)) for h in ((50, 50, 50), (62, 50, 50)))
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 3
    assert len(joined_pushes(regions, mask, crop, distance=60, match=0.5)) == 1


def test_changes_one_above_the_other_that_no_push_explains_stay_apart():
    a = stacked((50, 50, 50))
    b = a.copy()
    b[160:170, 80:120] = (0.9, 0.9, 0.1)  # two segments recoloured in part, 40 px apart
    b[100:110, 80:120] = (0.1, 0.1, 0.1)
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2
    assert len(joined_pushes(regions, mask, crop, distance=60, match=0.5)) == 2
    # two bars grown side by side are aligned across no column: two differences
    wide = stacked((50, 50, 50), width=300)
    wide[220 - 150:220, 180:220] = stacked((50, 50, 50))[220 - 150:220, 80:120]
    grown = stacked((62, 50, 50), width=300)
    grown[220 - 162:220, 180:220] = stacked((62, 50, 50))[220 - 162:220, 80:120]
    regions, mask, crop = differences_of(wide, grown)
    assert len(joined_pushes(regions, mask, crop, distance=60, match=0.5)) == 2


def test_aligned_needs_a_shared_column_or_row_and_closeness():
    assert aligned((10, 0, 50, 10), (12, 40, 50, 50), 30) == "columns"
    assert aligned((10, 0, 50, 10), (12, 40, 50, 50), 29) is None  # 30 px apart
    assert aligned((10, 0, 50, 10), (30, 40, 70, 50), 100) is None  # columns overlap by half the wider
    assert aligned((0, 10, 10, 50), (40, 12, 50, 50), 30) == "rows"


def test_one_move_along_a_column_tries_no_sideways_shift():
    a, b = stacked((50, 50, 50)), stacked((50, 50, 50), x0=84)  # the whole bar moved sideways by 4 px
    crop = crop_of(a, b)
    left, right = parts_of(a, b, [(0, 0, 100, 240), (100, 0, 200, 240)])  # where the bar left, where it went
    assert one_move([left, right], crop, a.shape[:2], reach=8, match=0.5) == (4, 0)
    assert one_move([left, right], crop, a.shape[:2], reach=8, match=0.5, along="rows") == (4, 0)
    assert one_move([left, right], crop, a.shape[:2], reach=8, match=0.5, along="columns") is None
    with pytest.raises(ValueError, match="along must be one of"):
        one_move([left, right], crop, a.shape[:2], reach=8, match=0.5, along="diagonal")
