"""One recolouring is one difference: the places where one colour of A became one colour of B.

A plot whose series is drawn in another colour differs along the whole line and at its
legend's swatch; the line crosses the others and leaves the legend far behind, so
:func:`dfcore.ops.regions.significant_regions` finds it in pieces. Each piece says what
happened there: over its most changed pixels (at least :data:`CORE` of its largest change), A
holds one colour and B another (each within :data:`MATCH` per channel for at least
:data:`SHARE` of them), and neither is the background around it nor the other (apart by
:data:`APART` in some channel). :func:`joined_recolours` joins the differences that tell the
same recolouring. A word changed, a mark added or removed, shows the background in one of
the two images and is never joined; two things recoloured alike by chance would be.
The work is on the host, in NumPy, on the windows a :data:`~dfcore.ops.moves.Crop` gives.
"""

from __future__ import annotations

import numpy as np

from dfcore.contracts import Region
from dfcore.ops.channels import channel_max
from dfcore.ops.moves import Crop
from dfcore.ops.parts import joined_where

#: A difference's most changed pixels: at least this fraction of its largest change.
CORE = 0.5
#: Colours alike: every channel within this (images in [0, 1]).
MATCH = 0.06
#: A colour holds a difference when at least this share of its most changed pixels lie within MATCH of it.
SHARE = 0.5
#: Colours apart: some channel differs by at least this.
APART = 0.15
#: The background around a difference: its box grown by this many px, its own pixels left out.
AROUND = 3


def recolouring(region: Region, mask: np.ndarray, crop: Crop) -> tuple[np.ndarray, np.ndarray] | None:
    """``(colour in A, colour in B)`` when ``region`` is one colour turned into another (module
    docstring), else ``None``; ``mask`` holds the differences' pixels (HxW bool)."""
    height, width = mask.shape
    x0, y0, x1, y1 = region.bbox
    x0, y0 = max(x0 - AROUND, 0), max(y0 - AROUND, 0)
    x1, y1 = min(x1 + AROUND, width), min(y1 + AROUND, height)
    a, b = (np.asarray(image, dtype=np.float32) for image in crop(slice(y0, y1), slice(x0, x1)))
    own = mask[y0:y1, x0:x1]
    if not own.any() or own.all():
        return None
    change = channel_max(np.abs(a - b), 2)
    largest = float(change[own].max())
    if not largest > 0:
        return None
    core = own & (change >= CORE * largest)
    colours = []
    for image in (a, b):
        pixels = image[core]
        colour = np.median(pixels, axis=0)
        if (channel_max(np.abs(pixels - colour), 1) <= MATCH).mean() < SHARE:
            return None
        colours.append(colour)
    ground = np.median(a[~own], axis=0)
    if any(np.abs(colour - ground).max() < APART for colour in colours) or np.abs(colours[0] - colours[1]).max() < APART:
        return None
    return colours[0], colours[1]


def joined_recolours(regions: list[Region], mask: np.ndarray, crop: Crop, limit: int = 16) -> list[Region]:
    """The differences with those that tell one recolouring (:func:`recolouring`) joined into one,
    strongest first; only the ``limit`` strongest are looked at, and a thing that moved is left as it is."""
    told = [None if region.move is not None else recolouring(region, mask, crop) for region in regions[:limit]]

    def alike(i: int, j: int) -> bool:
        first, second = told[i], told[j]
        return first is not None and second is not None and all(
            np.abs(p - q).max() <= MATCH for p, q in zip(first, second))

    return joined_where(regions, alike, among=limit)


__all__ = ["joined_recolours", "recolouring"]
