"""``dfcore.ops.frame``: a difference along the image's frame is the border of a page scanned or
drawn again, not a change of what it shows."""

from __future__ import annotations

import numpy as np

from dfcore.ops.frame import off_the_frame
from dfcore.ops.regions import significant_regions
from tests.dfcore.ops.test_regions import blob, noisy


def test_differences_along_the_frame_are_left_out_with_their_pixels():
    values = noisy(height=200, width=300)
    blob(values, 5, 190, 200, 197, 1.0)      # along the bottom edge, 195 of 300 px long
    blob(values, 292, 20, 298, 60, 1.0)      # at the right edge but short: a change
    blob(values, 120, 80, 150, 110, 1.0)     # inside
    blob(values, 20, 40, 200, 46, 1.0)       # long but 40 px in: not the frame at 0.05 x 360
    regions, mask, _ = significant_regions(values, min_size=0)
    assert len(regions) == 4
    kept, kept_mask = off_the_frame(regions, mask, 0.05)
    assert sorted(r.bbox for r in kept) == sorted(r.bbox for r in regions if r.bbox[1] < 190)
    assert not kept_mask[185:, :].any() and kept_mask.sum() == sum(r.area for r in kept)
    assert off_the_frame(regions, mask, 0.0)[0] == regions


def test_given_the_pair_a_frame_must_differ_evenly_along_the_edge_as_a_line_does():
    a = np.full((200, 300, 3), 0.9, np.float32)
    b = a.copy()
    b[190:194, 10:250] = 0.2                         # a frame line along the bottom
    for x in range(10, 250, 20):                     # a line of "words" along the top: 12 px, then a gap
        b[6:16, x:x + 12] = 0.2
    values = np.abs(a - b).mean(axis=2)
    regions, mask, _ = significant_regions(values, merge=0.03)
    crop = lambda rows, cols: (a[rows, cols], b[rows, cols])
    kept, _ = off_the_frame(regions, mask, 0.05, crop)
    assert len(regions) == 2 and [r.bbox[1] for r in kept] == [6]  # the words stay, the line goes
    assert off_the_frame(regions, mask, 0.05)[0] == []  # the boxes alone take both for frames


def test_span_is_how_much_of_its_edge_a_frame_must_run_along():
    values = noisy(height=200, width=300)
    blob(values, 5, 190, 105, 197, 1.0)  # along the bottom edge, a third of it
    regions, mask, _ = significant_regions(values, min_size=0)
    assert off_the_frame(regions, mask, 0.05)[0] == regions  # 0.4 of the edge by default: kept
    assert off_the_frame(regions, mask, 0.05, span=0.3)[0] == []
