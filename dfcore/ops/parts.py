"""Which parts of a mask are one difference: those closer than a radius, and those a test joins again.

:func:`merged` joins the parts of a mask that lie closer than a radius (OpenCV's chamfer
distance, in boxes around the parts); :func:`rejoined` joins, among the parts one radius parted
and a larger one would join, those a :data:`Rejoin` test takes for one thing (on a lossless
pair, the two strips of an element moved by less than its width: :func:`dfcore.ops.moves.one_move`).
:func:`dfcore.ops.regions.significant_regions` uses both; :func:`label_regions` is the labelling
they share, :func:`pixels_of` where a mask's pixels lie; :func:`joined_regions` describes several
differences as one, and :func:`joined_where` joins those a test pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import cv2
import numpy as np

from dfcore.contracts import Region
from dfcore.ops.strips import boxes_around


def label_regions(mask: np.ndarray, connectivity: int = 8) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Label an HxW bool mask: ``(count, labels, stats, centroids)`` as OpenCV returns them (0 = background)."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    return cv2.connectedComponentsWithStats(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=connectivity,
                                            ltype=cv2.CV_32S)


def pixels_of(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns of an HxW mask's pixels: ``np.nonzero(mask)``, from the flat indices
    (NumPy's 2-D ``nonzero`` took 1.8 ms on a 1000x1000 mask where this takes 0.2)."""
    flat = np.flatnonzero(mask)
    rows = flat // mask.shape[1]
    return rows, flat - rows * mask.shape[1]


#: The shortest step of OpenCV's 3x3 chamfer distance (``cv2.DIST_L2`` with a 3x3 mask), in px.
CHAMFER_STEP = 0.955


def merged(mask: np.ndarray, radius: float) -> np.ndarray:
    """Labels (HxW int32, 0 = none) of the parts of ``mask`` joined when closer than ``radius`` px.

    Computed in boxes around the parts (:func:`dfcore.ops.strips.boxes_around`), each wider
    than the pixels within ``radius / 2`` of its parts (OpenCV's 3x3 chamfer distance, at
    least 0.955 px a step): parts of two boxes are farther apart, and every distance that
    decides is the same as on the whole mask (a chamfer path runs within the box of its ends).
    """
    groups = np.zeros(mask.shape, dtype=np.int32)
    count = 0
    for top, bottom, left, right in boxes_around(mask, math.ceil(radius / 2 / CHAMFER_STEP) + 1 if radius >= 1 else 1):
        part = mask[top:bottom, left:right]
        near = cv2.distanceTransform((~part).astype(np.uint8), cv2.DIST_L2, 3) <= radius / 2 if radius >= 1 else part
        found, labels, _, _ = label_regions(near, 8)
        groups[top:bottom, left:right] = np.where(part, labels + count, 0)
        count += found - 1
    return groups


#: ``rejoin(parts) -> bool``: whether two parts of a map, each given as its pixels' (rows, columns)
#: in the image, are one thing (:func:`dfcore.ops.regions.significant_regions`).
Rejoin = Callable[[list[tuple[np.ndarray, np.ndarray]]], bool]
#: :func:`rejoined` tries the pairs of at most this many parts in one group of ``merge``.
REJOIN_PARTS = 12


def rejoined(groups: np.ndarray, coarse: np.ndarray, rejoin: Rejoin, origin: tuple[int, int]) -> np.ndarray:
    """``groups`` (labels of a window, 0 = none) with the parts of one ``coarse`` group that ``rejoin`` takes
    for one thing joined; ``origin`` is the window's (x, y) in the image. ``groups`` itself when nothing joins.

    Both are labellings of :func:`merged` (labels 1 to their count) of one mask, ``coarse`` by the
    larger radius: each group of ``groups`` lies in one of ``coarse``, so as many groups in each
    means no coarse group holds two, and there is nothing to try.
    """
    if int(groups.max(initial=0)) == int(coarse.max(initial=0)):
        return groups
    pixels = pixels_of(groups)
    fine, wide = groups[pixels], coarse[pixels]
    parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    pairs: list[tuple[int, int]] = []
    for label in np.unique(wide):
        held = [int(k) for k in np.unique(fine[wide == label])]
        if not 1 < len(held) <= REJOIN_PARTS:
            continue
        for k in held:
            at = fine == k
            parts[k] = (pixels[0][at] + origin[1], pixels[1][at] + origin[0])
        pairs += [(p, q) for i, p in enumerate(held) for q in held[i + 1:]]
    roots = _roots(int(groups.max()) + 1, pairs, lambda p, q: rejoin([parts[p], parts[q]]))
    if (roots == np.arange(roots.size)).all():
        return groups
    return roots.astype(groups.dtype)[groups]


def _roots(count: int, pairs: Iterable[tuple[int, int]], together: Callable[[int, int], bool]) -> np.ndarray:
    """For ``count`` items, the representative of each once every pair of ``pairs`` that ``together``
    takes for one thing is joined, transitively (a pair already joined is not asked about)."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        if root(i) != root(j) and together(i, j):
            parent[root(j)] = root(i)
    return np.array([root(i) for i in range(count)], dtype=np.int64)


def joined_regions(parts: list[Region]) -> Region:
    """One difference of several: their boxes spanned, areas summed, the strongest's peak."""
    area = sum(r.area for r in parts)
    strongest = max(parts, key=lambda r: (r.peak, r.area))
    return Region(bbox=(min(r.bbox[0] for r in parts), min(r.bbox[1] for r in parts),
                        max(r.bbox[2] for r in parts), max(r.bbox[3] for r in parts)),
                  area=area, peak=strongest.peak, mean=sum(r.mean * r.area for r in parts) / area,
                  centroid=(sum(r.centroid[0] * r.area for r in parts) / area,
                            sum(r.centroid[1] * r.area for r in parts) / area),
                  significance=max((r.significance for r in parts if r.significance is not None), default=None))


def joined_where(regions: list[Region], together: Callable[[int, int], bool], among: int | None = None
                 ) -> list[Region]:
    """The differences with every two that ``together(i, j)`` (indices, ``i < j``) takes for one thing
    joined, and so on transitively (:func:`joined_regions`), strongest first; only the first
    ``among`` are tried (``None``: all). The list itself when nothing is joined."""
    tried = len(regions) if among is None else min(among, len(regions))
    roots = _roots(len(regions), ((i, j) for i in range(tried) for j in range(i + 1, tried)), together)
    groups: dict[int, list[Region]] = {}
    for i, region in enumerate(regions):
        groups.setdefault(int(roots[i]), []).append(region)
    if len(groups) == len(regions):
        return regions
    joined = [parts[0] if len(parts) == 1 else joined_regions(parts) for parts in groups.values()]
    return sorted(joined, key=lambda r: (-r.peak, -r.area, r.bbox))


def without(mask: np.ndarray, kept: list[Region], dropped: list[Region]) -> np.ndarray:
    """``mask`` (HxW bool) less the boxes of the ``dropped`` differences; a ``kept`` difference's
    pixels stay, in a dropped box too. ``mask`` itself when nothing was dropped."""
    if not dropped:
        return mask
    gone = np.zeros_like(mask)
    for x0, y0, x1, y1 in (r.bbox for r in dropped):
        gone[y0:y1, x0:x1] = True
    for x0, y0, x1, y1 in (r.bbox for r in kept):
        gone[y0:y1, x0:x1] = False
    return mask & ~gone
