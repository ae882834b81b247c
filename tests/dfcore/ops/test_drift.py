"""Layout drift on a page drawn again (dfcore.ops.drift): explained by a small move of B, with the
page differing around it, and not what a changed mark or an element that moved leaves."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfcore.contracts import Move, Region
from dfcore.ops.drift import AROUND, UNTOUCHED, drift_left, drifted, laid_out_again, untouched


def page(seed: int = 0, height: int = 160, width: int = 240) -> np.ndarray:
    """Dark rows of small marks on white (a table's text and badges), anti-aliased by a blur."""
    rng = np.random.default_rng(seed)
    image = np.ones((height, width, 3), np.float32)
    for row in range(12, height - 12, 20):
        for col in range(10, width - 20, 14):
            h, w = rng.integers(5, 10), rng.integers(4, 10)
            image[row:row + h, col:col + w] = rng.uniform(0.0, 0.5, 3)
    return cv2.GaussianBlur(image, (3, 3), 0.6)


def moved(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (image.shape[1], image.shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def drifted_page(a: np.ndarray, dy: float = 1.5, dx: float = -0.75, below: int = 80) -> np.ndarray:
    """B of a page laid out again: the rows below ``below`` a pixel and a half off, the rest untouched."""
    b = a.copy()
    b[below:] = moved(a, dy, dx)[below:]
    return b


def crop_of(a, b):
    return lambda rows, cols: (a[rows, cols], b[rows, cols])


def region(box, move=None) -> Region:
    x0, y0, x1, y1 = box
    return Region(bbox=box, area=(x1 - x0) * (y1 - y0), peak=1.0, mean=0.5,
                  centroid=((x0 + x1) / 2, (y0 + y1) / 2), move=move)


BOX = (80, 100, 140, 140)  # (x0, y0, x1, y1): a block of the table, in its drifted part


def test_a_page_laid_out_again_a_pixel_and_a_half_off_is_drift():
    a = page()
    b = drifted_page(a)
    assert laid_out_again(crop_of(a, b), a.shape[:2])
    left, around = drift_left(region(BOX), crop_of(a, b), a.shape[:2])
    assert left < 0.4 and around >= AROUND  # moving back by quarter pixels leaves the blur of moving twice
    kept, mask = drifted([region(BOX)], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)
    assert kept == [] and not mask[BOX[1]:BOX[3], BOX[0]:BOX[2]].any() and mask[0, 0]


def test_a_changed_mark_on_the_drifted_page_is_not():
    a = page()
    b = drifted_page(a)
    b[110:125, 100:115] = (0.9, 0.1, 0.1)  # a mark drawn anew, where there was text
    changed = (95, 105, 120, 130)
    left, around = drift_left(region(changed), crop_of(a, b), a.shape[:2])
    assert left > 0.6 and around >= AROUND
    kept, _ = drifted([region(changed)], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)
    assert [r.bbox for r in kept] == [changed]


def test_an_element_that_moved_alone_leaves_its_surroundings_identical_and_is_kept():
    a = page()
    b = a.copy()
    b[100:140, 80:140] = moved(a, 2.0, 0.0)[100:140, 80:140]  # one block moved 2 px down, the rest as it was
    left, around = drift_left(region(BOX), crop_of(a, b), a.shape[:2])
    assert around < AROUND and left == 1.0  # nothing around it differs: not searched, not drift
    kept, _ = drifted([region(BOX)], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)
    assert len(kept) == 1


def test_a_difference_paired_as_a_move_is_not_judged_and_zero_turns_it_off():
    a = page()
    b = drifted_page(a)
    assert drifted([region(BOX)], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)[0] == []
    paired = region(BOX, move=Move(source=BOX, target=(81, 101, 141, 141), shift=(1, 1)))
    kept, _ = drifted([paired], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)
    assert kept == [paired]
    mask = np.ones(a.shape[:2], bool)
    assert drifted([region(BOX)], mask, crop_of(a, b), share=0.0) == ([region(BOX)], mask)


def test_identical_windows_are_not_explained():
    a = page()
    left, around = drift_left(region(BOX), crop_of(a, a.copy()), a.shape[:2])
    assert (left, around) == (1.0, 0.0)


@pytest.mark.parametrize("share", [-0.1, 1.0, "half"])
def test_the_regions_stage_refuses_a_share_outside_zero_to_one(share):
    from dfplugins_builtin.postprocessors.regions import Regions

    with pytest.raises(ValueError, match="drift must be a fraction of a difference"):
        Regions(drift=share)


def test_a_photograph_shifted_as_a_whole_is_not_judged():
    """Every pixel differs (noise, a whole-image shift): not a page drawn again, nothing left out."""
    a = page() * 0.8 + 0.1 * np.random.default_rng(2).random((160, 240, 1), np.float32)
    b = moved(a, 1.5, -0.75)
    assert untouched(a, b) < UNTOUCHED
    assert drift_left(region(BOX), crop_of(a, b), a.shape[:2])[0] < 0.45  # a shift would explain it
    kept, _ = drifted([region(BOX)], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)
    assert kept == [region(BOX)]


def test_a_silhouette_shifted_as_a_whole_is_not_taken_for_a_page_drawn_again():
    """A dark shape on white moved 2 px keeps most pixels identical, yet moving B back keeps more:
    shifted as a whole, not laid out again; the drifted page is."""
    a = np.ones((160, 240, 3), np.float32)
    a[40:120, 60:180] = 0.1
    b = np.roll(a, 2, axis=1)
    b[70:80, 100:110] = 0.6  # a faint change inside
    assert untouched(a, b) >= UNTOUCHED and not laid_out_again(crop_of(a, b), a.shape[:2])
    kept, _ = drifted([region((96, 36, 184, 124))], np.ones(a.shape[:2], bool), crop_of(a, b), share=0.45)
    assert len(kept) == 1
    drawn = page()
    assert laid_out_again(crop_of(drawn, drifted_page(drawn)), drawn.shape[:2])
    assert not laid_out_again(crop_of(drawn, moved(drawn, 1.5, -0.75)), drawn.shape[:2])  # moved as a whole


@pytest.mark.parametrize("every", [1, 2, 3])
def test_the_share_of_identical_pixels_is_that_of_the_strided_images(every):
    rng = np.random.default_rng(every)
    a = (rng.random((31, 44, 3)) > 0.7).astype(np.float32)
    b = (rng.random((31, 44, 3)) > 0.7).astype(np.float32)
    b[:15] = a[:15]
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            rows, cols = slice(max(0, -dy), 31 - max(0, dy), every), slice(max(0, -dx), 44 - max(0, dx), every)
            there = b[rows.start + dy:rows.stop + dy:every, cols.start + dx:cols.stop + dx:every]
            expected = float((a[rows, cols] == there).all(axis=2).mean())
            assert untouched(a, b, (dy, dx), every) == expected
