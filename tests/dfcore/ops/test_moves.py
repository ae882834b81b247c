"""A thing that moved is one difference (dfcore.ops.moves.paired_moves)."""

from __future__ import annotations

import numpy as np

from dfcore.ops.moves import one_move, paired_moves
from dfcore.ops.regions import significant_regions


def scene(height=120, width=200, seed=0):
    """A light HxWx3 page with a faint texture, as float32 in [0, 1]."""
    return (0.85 + np.random.default_rng(seed).uniform(0, 0.02, (height, width, 3))).astype(np.float32)


def put(image, x0, y0, colour, size=12):
    image[y0:y0 + size, x0:x0 + size] = colour
    return image


def differences_of(a, b):
    """The differences of |a - b| and the crop the pair gives paired_moves."""
    values = np.abs(a - b).sum(axis=2)
    regions, mask, _ = significant_regions(values, level=10, extent=0.1, absorb=0.03, merge=0.03, relative=0.15)
    return regions, mask, lambda rows, cols: (a[rows, cols], b[rows, cols])


def test_a_thing_that_moved_is_one_difference_with_where_from_and_where_to():
    a = put(scene(), 30, 20, (0.1, 0.3, 0.8))
    b = put(scene(), 140, 80, (0.1, 0.3, 0.8))  # the marker left (30, 20) for (140, 80)
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2
    moved = paired_moves(regions, mask, crop)
    assert len(moved) == 1
    (region,) = moved
    assert region.move is not None and region.move.shift == (110, 60)
    assert region.move.source == next(r.bbox for r in regions if r.centroid[0] < 100)  # the box where A has it
    assert region.bbox == (min(r.bbox[0] for r in regions), min(r.bbox[1] for r in regions),
                           max(r.bbox[2] for r in regions), max(r.bbox[3] for r in regions))
    assert region.area == sum(r.area for r in regions) and region.peak == max(r.peak for r in regions)
    assert region.to_dict()["move"] == {"from": list(region.move.source), "to": list(region.move.target),
                                        "by": [110, 60]}


def test_the_source_is_where_a_holds_the_thing_whichever_is_stronger():
    a = put(scene(), 140, 80, (0.2, 0.2, 0.2))
    b = put(scene(), 30, 20, (0.2, 0.2, 0.2))  # moved up and left
    (region,) = paired_moves(*differences_of(a, b))
    assert region.move.shift == (-110, -60) and region.move.source[0] > region.move.target[0]


def test_a_thing_removed_here_and_another_added_there_stay_two():
    a = put(scene(), 30, 20, (0.1, 0.3, 0.8))
    b = put(scene(), 140, 80, (0.9, 0.2, 0.1))  # a blue square gone, a red one new
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2 and paired_moves(regions, mask, crop) == regions


def test_two_things_removed_or_two_recoloured_stay_two():
    removed_a = put(put(scene(), 30, 20, (0.1, 0.3, 0.8)), 140, 80, (0.1, 0.3, 0.8))
    recoloured_b = put(put(scene(), 30, 20, (0.9, 0.2, 0.1)), 140, 80, (0.9, 0.2, 0.1))
    for a, b in ((removed_a, scene()), (removed_a, recoloured_b)):
        regions, mask, crop = differences_of(a, b)
        assert len(regions) == 2 and all(r.move is None for r in paired_moves(regions, mask, crop))


def test_a_move_is_paired_within_the_search_when_the_shapes_differ_a_little():
    a = put(scene(), 30, 20, (0.1, 0.3, 0.8))
    b = put(scene(), 141, 79, (0.1, 0.3, 0.8))
    b[79:91, 152] = 0.85  # the moved copy lost a column: its centroid is off by half a pixel
    regions, mask, crop = differences_of(a, b)
    (region,) = paired_moves(regions, mask, crop)
    assert region.move.shift == (111, 59)


def test_each_difference_joins_at_most_one_other():
    a = put(scene(width=300), 30, 20, (0.1, 0.3, 0.8))
    b = put(put(scene(width=300), 140, 80, (0.1, 0.3, 0.8)), 250, 30, (0.1, 0.3, 0.8))  # one moved, one copy new
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 3
    moved = paired_moves(regions, mask, crop)
    assert len(moved) == 2 and sum(r.move is not None for r in moved) == 1


def test_unlike_sizes_and_touching_boxes_are_not_tried():
    a = put(scene(), 30, 20, (0.1, 0.3, 0.8), size=6)
    b = put(scene(), 140, 80, (0.1, 0.3, 0.8), size=30)
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2 and paired_moves(regions, mask, crop) == regions


def test_a_thing_removed_and_another_of_its_colour_added_stay_two():
    """Over one background, what the things covered always matches: the things themselves must too."""
    a = put(scene(), 30, 20, (0.1, 0.3, 0.8), size=14)
    b = scene()
    b[84:91, 133:161] = (0.1, 0.3, 0.8)  # a bar, not a square
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2 and paired_moves(regions, mask, crop, match=0.5) == regions


def disc(image, cx, cy, colour, radius=5.0, supersample=8):
    """A disc drawn anti-aliased at a sub-pixel centre (coverage by supersampling), as a plot's marker is."""
    height, width = image.shape[:2]
    offsets = (np.arange(supersample) + 0.5) / supersample
    ys = (np.arange(height)[:, None] + offsets[None]).reshape(-1)
    xs = (np.arange(width)[:, None] + offsets[None]).reshape(-1)
    inside = ((ys[:, None] - cy) ** 2 + (xs[None] - cx) ** 2 <= radius ** 2).astype(np.float32)
    cover = inside.reshape(height, supersample, width, supersample).mean(axis=(1, 3))[..., None]
    image[:] = image * (1 - cover) + np.asarray(colour, np.float32) * cover
    return image


def test_a_marker_drawn_again_off_the_pixel_grid_pairs_within_the_tolerance():
    """A small marker drawn again half a pixel off the grid and a pixel wider at its new place (as
    another backend strokes its edge) matches itself only within a range: value for value it
    does not pair, within 1 px it does."""
    a = disc(scene(), 40.0, 40.0, (0.1, 0.3, 0.8), radius=4.0)
    b = disc(scene(), 150.5, 100.5, (0.1, 0.3, 0.8), radius=5.0)
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2
    assert paired_moves(regions, mask, crop, match=0.5) == regions
    (region,) = paired_moves(regions, mask, crop, match=0.5, tolerance=1)
    assert region.move is not None and region.move.shift in {(110, 60), (111, 60), (110, 61), (111, 61)}


def test_the_tolerance_keeps_different_things_apart():
    a = put(scene(), 30, 20, (0.1, 0.3, 0.8), size=14)
    bar = scene()
    bar[84:91, 133:161] = (0.1, 0.3, 0.8)
    red = put(scene(), 140, 80, (0.9, 0.2, 0.1), size=14)
    for b in (bar, red):
        regions, mask, crop = differences_of(a, b)
        assert len(regions) == 2 and paired_moves(regions, mask, crop, match=0.5, tolerance=2) == regions


def test_with_plain_a_range_pairs_a_marker_drawn_again_but_not_two_different_things_of_like_size():
    """Vertical strokes removed here, horizontal ones added there (two different words of like size):
    within a 1-px range every pixel's range holds ink and paper, so they pair; value for value no
    shift fits them, so ``plain`` keeps them apart, while the marker drawn again still pairs."""
    a, b = scene(), scene()
    a[30:48, 30:48:3] = (0.1, 0.1, 0.1)  # vertical strokes, 1 px of ink in 3
    b[80:98, 140:158][::3] = (0.1, 0.1, 0.1)  # horizontal strokes of like size, elsewhere
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 2
    assert len(paired_moves(regions, mask, crop, match=0.5, tolerance=1)) == 1
    assert paired_moves(regions, mask, crop, match=0.5, tolerance=1, plain=0.85) == regions
    a = disc(scene(), 40.0, 40.0, (0.1, 0.3, 0.8), radius=4.0)
    b = disc(scene(), 150.5, 100.5, (0.1, 0.3, 0.8), radius=5.0)
    regions, mask, crop = differences_of(a, b)
    (region,) = paired_moves(regions, mask, crop, match=0.5, tolerance=1, plain=0.85)
    assert region.move is not None


def test_the_tolerance_gives_way_at_the_image_edge():
    """A window whose range would leave the image is matched value for value."""
    a = put(scene(), 2, 2, (0.1, 0.3, 0.8))
    b = put(scene(), 150, 100, (0.1, 0.3, 0.8))
    regions, mask, crop = differences_of(a, b)
    (region,) = paired_moves(regions, mask, crop, tolerance=3)
    assert region.move.shift == (148, 98)


def moved_button(dx=4, dy=0):
    """A lossless page whose 60x20 button (with a label) moved by (dx, dy), and its crop: two strips
    where it left and where it went, 56 px apart when it moved sideways."""
    a = np.full((120, 200, 3), 0.9, np.float32)
    a[::8, :] = 0.3  # ruled lines the move must not disturb
    button = np.tile(np.float32((0.1, 0.4, 0.8)), (20, 60, 1))
    button[6:14, 10:50:4] = 0.95  # its label
    a[40:60, 60:120] = button
    b = a.copy()
    b[40:60, 60:120] = a[40:60, 0:60]  # what lies under it: the page
    b[40 + dy:60 + dy, 60 + dx:120 + dx] = button
    return a, b, crop_of(a, b)


def crop_of(a, b):
    return lambda rows, cols: (a[rows, cols], b[rows, cols])


def parts_of(a, b, boxes):
    """The changed pixels of each (x0, y0, x1, y1) box, as (rows, cols) in the image."""
    changed = np.abs(a - b).max(axis=2) > 0
    out = []
    for x0, y0, x1, y1 in boxes:
        inside = np.zeros_like(changed)
        inside[y0:y1, x0:x1] = True
        out.append(np.nonzero(changed & inside))
    return out


def test_one_move_explains_the_two_strips_an_element_moved_by_less_than_its_width_leaves():
    a, b, crop = moved_button(dx=4)
    left, right = parts_of(a, b, [(50, 30, 70, 70), (110, 30, 130, 70)])
    assert left[0].size and right[0].size
    assert one_move([left, right], crop, a.shape[:2], reach=8, match=0.5) == (4, 0)
    a, b, crop = moved_button(dx=-3, dy=2)  # one outline: its left and right halves
    assert one_move(parts_of(a, b, [(0, 0, 90, 120), (90, 0, 200, 120)]), crop, a.shape[:2], reach=8,
                    match=0.5) == (-3, 2)
    # far beyond the reach, no move is found (a shift of 2 leaves 6 of the 8 columns unexplained)
    a, b, crop = moved_button(dx=8)
    assert one_move(parts_of(a, b, [(50, 30, 70, 70), (110, 30, 130, 70)]), crop, a.shape[:2], reach=2,
                    match=0.5) is None


def test_one_move_does_not_join_two_changes_side_by_side():
    page = np.full((120, 200, 3), 0.9, np.float32)
    recoloured = page.copy()
    recoloured[40:50, 60:120] = (0.8, 0.1, 0.1)
    recoloured[66:76, 60:120] = (0.1, 0.1, 0.8)
    parts = parts_of(page, recoloured, [(0, 0, 200, 58), (0, 58, 200, 120)])
    assert one_move(parts, crop_of(page, recoloured), page.shape[:2], reach=8, match=0.5) is None
    # two marks added in B: moving B off them shows the page A shows (the first half fits), but
    # where they stand, A showed the page, not the marks (the second half does not)
    added = page.copy()
    added[40:48, 60:68] = 0.1
    added[40:48, 90:98] = 0.1
    parts = parts_of(page, added, [(0, 0, 80, 120), (80, 0, 200, 120)])
    assert one_move(parts, crop_of(page, added), page.shape[:2], reach=8, match=0.5) is None
    removed = page.copy()
    a_with_marks = added  # the same marks, removed in B
    parts = parts_of(a_with_marks, removed, [(0, 0, 80, 120), (80, 0, 200, 120)])
    assert one_move(parts, crop_of(a_with_marks, removed), page.shape[:2], reach=8, match=0.5) is None


def test_one_move_needs_changed_pixels_and_room_in_the_image():
    a, b, crop = moved_button(dx=4)
    unchanged = (np.array([5, 5]), np.array([5, 6]))
    left, right = parts_of(a, b, [(50, 30, 70, 70), (110, 30, 130, 70)])
    assert one_move([left, unchanged], crop, a.shape[:2], reach=8, match=0.5) is None
    # a strip at the image's edge: every shift that fits takes a pixel off the image
    edge = (np.arange(120), np.zeros(120, dtype=np.int64))
    assert one_move([edge, right], crop, a.shape[:2], reach=2, match=0.5) is None
