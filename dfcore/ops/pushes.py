"""Differences that one push explains joined into one (the ``regions`` stage's ``push_merge``).

A change that pushes what lies beyond it along a column or a row -- a segment of a stacked bar
grown, which lifts the segments above it; a layer of a stacked area raised; an item put into a
list, which moves the items below it -- differs in strips as far apart as the pushed things are
tall: where each of their edges was and now is. Between the strips the pushed things match
themselves, so no merging radius smaller than a thing joins them, and one larger would join
unrelated changes too. One shift tells them apart: B is A moved by ``D`` along the push over
every strip, both ways (:func:`dfcore.ops.moves.one_move`); two unrelated changes are not.
:func:`joined_pushes` joins the differences aligned across the push and close along it that
one such shift explains.
"""

from __future__ import annotations

import numpy as np

from dfcore.contracts import Region
from dfcore.ops.moves import Crop, one_move
from dfcore.ops.parts import joined_where, pixels_of

#: Two differences are aligned across a push when their extents across it overlap by at least
#: this fraction of the wider one's: a push moves a thing's whole width.
ALIGNED = 0.8
#: :func:`joined_pushes` tries the pairs among at most this many of the strongest differences.
PUSH_LIMIT = 16


def joined_pushes(regions: list[Region], mask: np.ndarray, crop: Crop, *, distance: float, match: float,
                  limit: int = PUSH_LIMIT) -> list[Region]:
    """The differences with those that one push explains joined into one, strongest first.

    Two differences are tried when their boxes are aligned across a column (or a row): their
    extents across it overlap by :data:`ALIGNED` of the wider one's, and they lie at most
    ``distance`` px apart along it. They are one difference when B is A moved by one shift
    along that column (or row) over both, both ways within ``match`` of each one's own
    difference (:func:`dfcore.ops.moves.one_move`); the shift is at most as long as the taller
    of the two along it, plus 2 px (a strip a push leaves is as tall as the push), and at most
    ``distance``. A thing that moved (``move``) is one difference already and is left as it is.
    Only pairs among the ``limit`` strongest are tried; a joined difference spans their boxes
    (:func:`dfcore.ops.parts.joined_regions`).

    Args:
        regions: the differences, strongest first (:func:`dfcore.ops.regions.significant_regions`).
        mask: HxW bool of their pixels.
        crop: gives the two images' pixels in a window (:data:`dfcore.ops.moves.Crop`).
    """
    if distance <= 0 or len(regions) < 2:
        return regions

    def pixels(region: Region) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, x1, y1 = region.bbox
        rows, cols = pixels_of(mask[y0:y1, x0:x1])
        return rows + y0, cols + x0

    def together(i: int, j: int) -> bool:
        p, q = regions[i], regions[j]
        along = None if p.move is not None or q.move is not None else aligned(p.bbox, q.bbox, distance)
        if along is None:
            return False
        start, end = (1, 3) if along == "columns" else (0, 2)
        reach = min(int(distance), max(p.bbox[end] - p.bbox[start], q.bbox[end] - q.bbox[start]) + 2)
        return one_move([pixels(p), pixels(q)], crop, mask.shape, reach=reach, match=match, along=along) is not None

    return joined_where(regions, together, among=limit)


def aligned(p: tuple[int, int, int, int], q: tuple[int, int, int, int], distance: float) -> str | None:
    """Along which boxes ``p`` and ``q`` (x0, y0, x1, y1) are aligned, at most ``distance`` px apart:
    ``columns`` (one above the other, their columns overlapping by :data:`ALIGNED` of the wider
    one's width), ``rows`` (side by side, likewise in height), or ``None``."""
    for along, (low, high, start, end) in (("columns", (0, 2, 1, 3)), ("rows", (1, 3, 0, 2))):
        across = min(p[high], q[high]) - max(p[low], q[low])
        wider = max(p[high] - p[low], q[high] - q[low])
        if across >= ALIGNED * wider and max(p[start], q[start]) - min(p[end], q[end]) <= distance:
            return along
    return None


__all__ = ["ALIGNED", "PUSH_LIMIT", "aligned", "joined_pushes"]
