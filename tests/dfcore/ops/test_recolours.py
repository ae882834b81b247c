"""One recolouring is one difference (dfcore.ops.recolours.joined_recolours)."""

from __future__ import annotations

import numpy as np

from dfcore.ops.recolours import joined_recolours, recolouring
from dfcore.ops.regions import significant_regions

BLUE, RED, GREEN = (0.2, 0.3, 0.8), (0.85, 0.2, 0.2), (0.2, 0.7, 0.3)


def plot():
    """A white 200x300 'plot': a long polyline of a series and its legend swatch, far apart."""
    page = np.ones((200, 300, 3), np.float32)
    for x in range(40, 280):
        y = int(150 - 0.4 * (x - 40))
        page[y:y + 3, x] = BLUE
    page[100:110, 60:200] = 0.3  # another series the first one crosses, unchanged
    page[12:16, 10:30] = BLUE  # the legend's swatch
    return page


def differences_of(a, b):
    values = np.abs(a - b).sum(axis=2)
    values[100:110, 60:200] = 0.0  # where the lines cross, the recoloured one hides: two pieces
    regions, mask, _ = significant_regions(values, level=10, extent=0.1, absorb=0.03, merge=0.03, relative=0.15)
    return regions, mask, crop_of(a, b)


def crop_of(a, b):
    return lambda rows, cols: (a[rows, cols], b[rows, cols])


def recoloured(page, colour, where=None):
    out = page.copy()
    same = (np.abs(page - np.float32(BLUE)).max(axis=2) < 1e-6) if where is None else where
    out[same] = colour
    return out


def test_the_pieces_of_one_series_drawn_in_another_colour_are_one_difference():
    a = plot()
    b = recoloured(a, RED)
    regions, mask, crop = differences_of(a, b)
    assert len(regions) == 3  # two pieces of the line, and the swatch
    told = [recolouring(r, mask, crop) for r in regions]
    assert all(t is not None and np.allclose(t[0], BLUE) and np.allclose(t[1], RED) for t in told)
    (one,) = joined_recolours(regions, mask, crop)
    assert one.bbox == (min(r.bbox[0] for r in regions), min(r.bbox[1] for r in regions),
                        max(r.bbox[2] for r in regions), max(r.bbox[3] for r in regions))
    assert one.area == sum(r.area for r in regions) and one.peak == max(r.peak for r in regions)


def test_two_recolourings_added_or_removed_marks_and_changed_text_stay_apart():
    a = plot()
    b = recoloured(a, RED)
    b[12:16, 10:30] = GREEN  # the swatch turned another colour than the line
    regions, mask, crop = differences_of(a, b)
    assert len(joined_recolours(regions, mask, crop)) == 2  # the line's two pieces, and the swatch
    # two marks added in B, alike: B shows them, A the background
    added = plot()
    added[30:40, 200:210] = RED
    added[60:70, 260:270] = RED
    regions, mask, crop = differences_of(plot(), added)
    assert len(regions) == 2 and all(recolouring(r, mask, crop) is None for r in regions)
    assert joined_recolours(regions, mask, crop) == regions
    # dark text changed in two places: one colour becomes the background, the other appears
    page = np.ones((120, 300, 3), np.float32)
    page[20:30, 20:80:3] = 0.1
    page[80:90, 200:260:3] = 0.1
    text = page.copy()
    text[20:30, 20:80] = 1.0
    text[20:30, 21:81:3] = 0.1
    text[80:90, 200:260] = 1.0
    text[80:90, 201:261:3] = 0.1
    values = np.abs(page - text).sum(axis=2)
    regions, mask, _ = significant_regions(values, level=10, extent=0.1, absorb=0.03, merge=0.03, relative=0.15)
    assert len(regions) == 2 and joined_recolours(regions, mask, crop_of(page, text)) == regions
