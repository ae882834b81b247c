"""How far above the typical candidate a difference stands (:func:`dfcore.ops.regions.significant_regions`'
``typical``).

With nothing changed, a degradation's residue is all a map holds: a texture's edges a fraction
of a pixel off, stars a resampling blurred away. Each blob of it can stand well above the map's
background, and the ``relative`` floor measures them against the strongest of themselves, so
many are reported. Where the map holds many candidates (areas standing ``level`` above the
background), a difference must also stand a multiple of the median candidate's height: a change
stands far above a residue, a residue does not stand far above itself. Neither do many real
changes of like height (forty rectangles on a large photograph: all dropped), so the floor is a
knob for comparisons that expect few changes, not the default's (round fifty-three,
docs/quality.md).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: ``typical``'s floor applies from this many candidate differences.
TYPICAL_COUNT = 20


def typical_level(z: np.ndarray, magnitude: np.ndarray, level: float, join_px: float, typical: float, count: int,
                  centre: float, spread: float) -> float:
    """The ``z`` a peak needs to stand ``typical`` times the median candidate's height
    (:func:`significant_regions`' ``typical``), or ``-inf`` with fewer than ``count`` candidates.

    The candidates are the areas of ``z > level``, parts within ``join_px`` joined (the mask
    dilated by half of it, a square); each one's height is its largest ``magnitude``. Labelled
    on the host (OpenCV), the heights read only the pixels above ``level``.
    """
    above = z > level
    if int(above.sum()) < count:
        return -math.inf
    half = max(0, round(join_px / 2))
    joined = above.view(np.uint8)
    if half:
        joined = cv2.dilate(joined, np.ones((2 * half + 1, 2 * half + 1), np.uint8))
    found, labels = cv2.connectedComponents(joined, connectivity=8)
    if found - 1 < count:
        return -math.inf
    where = np.flatnonzero(above)
    heights = np.zeros(found, dtype=np.float64)
    np.maximum.at(heights, labels.ravel()[where], magnitude.ravel()[where])
    floor = typical * float(np.median(heights[1:]))
    return (floor - centre) / spread


__all__ = ["TYPICAL_COUNT", "typical_level"]
