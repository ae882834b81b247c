"""Connected regions of a batch of change masks, and the differences a map holds.

:func:`find_regions` labels a mask a stage already made. :func:`significant_regions` decides
from the map alone which parts of it are differences, and how many there are: the map's
background is measured robustly (median and MAD of ``|map|`` over the compared pixels), a
region starts where ``|map|`` stands ``level`` robust standard deviations above it -- and,
with ``relative``, at least that fraction of the strongest difference's height --, grows
while it stands ``low`` above it (hysteresis) and, with ``extent``, while it stays above that
fraction of its own peak, fragments closer than ``merge`` (a fraction of the image diagonal)
are one difference, and differences smaller than ``min_size`` (a fraction of the image area)
are dropped. Each difference reports its ``significance``: how many robust standard
deviations its peak stands above the background. A map without any positive value
(identical images) holds none.

Why the two relative knobs: on a lossless pair the background is nearly all zero, so every
faint edge of a strong change stands hundreds of deviations high; hysteresis down to
``low`` then joins distant changes through the outlines between them, and a pair off by a
pixel leaves dozens of residues that are significant against a background of flat areas
but tiny next to any real change. A region that stops at a fraction of its own peak keeps to
its change (the weaker bumps it passes on the way down, above ``absorb`` of its peak, are
its own and start nothing), and a floor relative to the strongest change drops the residue.

``support`` lets the stage that made the map say how much of each pixel's value it holds to
be a change of content (1) rather than of the way the pair was made (0: a page drawn again
moves its glyphs' edges): the same rule then runs on ``map x support`` too, and a difference
of the map is reported only where that faded map holds one as well. The map, its ranking of
pixels and each reported difference's box and peak stay the map's own. With ``judge="peak"``
the faded map's differences judge each peak as the rule grows it: a peak that overlaps none is
dismissed, and no peak takes with it one of them that it does not overlap.

The masks are made and kept on the device; this module copies each mask and its map to the
host and labels them with OpenCV (``cv2.connectedComponentsWithStats``), which is by nature a
host-side step here: label propagation in torch (every pixel takes the largest label around
it, with pointer jumping) needs as many rounds as a component is long, about a thousand for a
thin 512 px spiral, and was 100 to 1000 times slower than OpenCV on the CPU even for round
blobs (``benchmarks/components.py`` measures both). Only the mask of the regions kept comes
back to the device, and only when ``min_area`` or ``top_k`` dropped some.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import Tensor

from dfcore.contracts import Move, Region

#: What a support judges (:func:`significant_regions`'s ``judge``).
JUDGES = ("difference", "peak")

#: ``crop(rows, cols) -> (a, b)``: the two images' pixels in a window, each hxwxC float on the host.
Crop = Callable[[slice, slice], tuple[np.ndarray, np.ndarray]]


def label_regions(mask: np.ndarray, connectivity: int = 8) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Label an HxW bool mask: ``(count, labels, stats, centroids)`` as OpenCV returns them (0 = background)."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    return cv2.connectedComponentsWithStats(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=connectivity,
                                            ltype=cv2.CV_32S)


def find_regions(mask: np.ndarray, values: np.ndarray, connectivity: int = 8, min_area: int = 1,
                 top_k: int = 0) -> tuple[list[Region], np.ndarray | None]:
    """The regions of one HxW bool mask, strongest peak first, and the labels kept.

    Args:
        mask: HxW bool.
        values: HxW float scores; each region reports their maximum (``peak``) and mean.
        connectivity: 8 (diagonal neighbours connect) or 4.
        min_area: smaller regions are dropped.
        top_k: if > 0, only the ``top_k`` regions with the highest peak are kept.
    Returns:
        The regions, and the HxW bool mask of the kept regions, or ``None`` when every region
        was kept (the input mask is then the answer).
    """
    count, labels, stats, centroids = label_regions(mask, connectivity)
    if count <= 1:
        return [], None
    fg = labels > 0
    ids, vals = labels[fg], values[fg].astype(np.float64)
    sums = np.bincount(ids, weights=vals, minlength=count)
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(1, count))
    peaks = np.r_[-np.inf, np.maximum.reduceat(vals[order], starts)]
    areas = stats[:, cv2.CC_STAT_AREA]
    candidates = [k for k in range(1, count) if areas[k] >= min_area]
    candidates.sort(key=lambda k: (-peaks[k], -areas[k], k))
    if top_k > 0:
        candidates = candidates[:top_k]
    regions = []
    for k in candidates:
        x, y, w, h, area = (int(v) for v in stats[k])
        regions.append(Region(bbox=(x, y, x + w, y + h), area=area, peak=float(peaks[k]), mean=float(sums[k] / area),
                              centroid=(float(centroids[k][0]), float(centroids[k][1]))))
    if len(candidates) == count - 1:
        return regions, None
    keep = np.zeros(count, dtype=bool)
    keep[candidates] = True
    return regions, keep[labels]


def batch_regions(mask: Tensor, values: Tensor, connectivity: int = 8, min_area: int = 1,
                  top_k: int = 0) -> tuple[list[list[Region]], Tensor]:
    """Regions of each Nx1xHxW mask and the mask of the regions kept (on the mask's device)."""
    masks = mask[:, 0].detach().cpu().numpy()
    maps = values[:, 0].detach().float().cpu().numpy()
    regions: list[list[Region]] = []
    kept: list[Tensor | None] = []
    for sample_mask, sample_map in zip(masks, maps):
        found, keep = find_regions(sample_mask, sample_map, connectivity, min_area, top_k)
        regions.append(found)
        kept.append(None if keep is None else torch.from_numpy(keep))
    if any(k is not None for k in kept):
        mask = mask.clone()
        for index, keep in enumerate(kept):
            if keep is not None:
                mask[index, 0] = keep.to(mask.device)
    return regions, mask


#: At most this many values of a map are read to measure its background (evenly strided).
BACKGROUND_SAMPLES = 1 << 20


def background(values: np.ndarray) -> tuple[float, float]:
    """``(level, spread)`` of a map's background: the median of ``values`` and 1.4826 x their MAD.

    When more than half the values are equal (a lossless pair's map is mostly zero) the MAD is
    zero; the mean absolute deviation, and at least a millionth of the largest value, is used.
    """
    if values.size > BACKGROUND_SAMPLES:
        values = values[:: values.size // BACKGROUND_SAMPLES + 1]
    level = _median(values)  # in the values' own dtype: the same order statistics, half the bytes for float32
    deviation = np.abs(values.astype(np.float64, copy=False) - level)
    spread = 1.4826 * _median(deviation)
    if spread <= 0:
        spread = float(deviation.mean())
    return level, max(spread, 1e-6 * float(np.abs(values).max(initial=0.0)))


def _median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty array (all its values), as a float64: its middle value, or the mean
    of its two middle values taken in float64 (what ``np.median`` of the array in float64 gives)."""
    values = values.reshape(-1)
    middle = values.size // 2
    if values.size % 2:
        return float(order_statistics(values, (middle,))[0])
    low, high = order_statistics(values, (middle - 1, middle)).astype(np.float64)
    return float((low + high) / 2)


#: Below this many values :func:`order_statistics` partitions the array as it is.
SELECT_BY_BINS = 1 << 14
#: Bits of a float's pattern that :func:`order_statistics` drops to bin it: the bins keep the
#: exponent and the top 7 mantissa bits (128 bins an octave).
_BIN_SHIFT = {np.dtype(np.float32): (np.int32, 16), np.dtype(np.float64): (np.int64, 45)}


def order_statistics(values: np.ndarray, ranks: tuple[int, ...]) -> np.ndarray:
    """The values at sorted positions ``ranks`` of a 1-D array: ``np.partition(values, ranks)[ranks]``.

    For a large float array of non-negative values (a map's magnitude, deviations from its
    median), in two passes instead of a partition of the whole array: the bit pattern of a
    non-negative float, read as an integer, grows with its value, so one pass counts the values
    of each bin of patterns and the ranks are found among the few values of their bins. NaNs
    sort last, as in ``np.partition``. Other arrays are partitioned.
    """
    binning = _BIN_SHIFT.get(values.dtype)
    if binning is None or values.size < SELECT_BY_BINS:
        return np.partition(values, ranks)[list(ranks)]
    picked = np.zeros(len(ranks), dtype=values.dtype)
    if max(ranks) < values.size - np.count_nonzero(values) and values.min() >= 0:
        return picked  # among the zeros, which come first (a lossless pair's map is mostly zero)
    kind, shift = binning
    keys = values.view(kind) >> shift
    try:
        counts = np.bincount(keys)
    except ValueError:  # a negative key: a negative value (or -0.0, or a negative NaN)
        return np.partition(values, ranks)[list(ranks)]
    before = np.concatenate(([0], np.cumsum(counts)))  # values in the bins below each bin
    for index, rank in enumerate(ranks):
        key = int(np.searchsorted(before, rank, side="right")) - 1
        members = values[keys == key]
        low, high = members.min(), members.max()
        picked[index] = low if low == high else np.partition(members, rank - before[key])[rank - before[key]]
    return picked


def significant_regions(values: np.ndarray, valid: np.ndarray | None = None, *, level: float = 6.0,
                        low: float = 3.0, merge: float = 0.01, min_size: float = 2e-5, extent: float = 0.0,
                        absorb: float = 0.0, relative: float = 0.0, nonzero: bool = False,
                        support: np.ndarray | None = None, judge: str = "difference"
                        ) -> tuple[list[Region], np.ndarray, tuple[float, float]]:
    """The differences one HxW map holds, strongest first, and their HxW bool mask.

    Args:
        values: HxW map (its magnitude is used; larger = more different).
        valid: HxW bool of the pixels that were compared, or ``None`` (all).
        level: a difference's peak stands at least this many robust standard deviations above
            the background (module docstring).
        low: it extends over the connected pixels that stand at least this many above it.
        merge: parts closer than this fraction of the image diagonal are one difference.
        min_size: differences covering less than this fraction of the image are dropped
            (at least one pixel is needed).
        extent: a difference extends only over pixels at least this fraction of its own
            peak's height (0: down to ``low``).
        absorb: the connected pixels above this fraction of its peak (at most ``extent``)
            are taken with it: a bump on its flank starts no difference of its own, which
            would grow down the flank and widen its box (0: only those above ``extent``).
        relative: a difference's peak stands at least this fraction of the strongest
            difference's height above the background (0: ``level`` alone decides).
        nonzero: every compared pixel where the map is not zero belongs to a difference,
            whatever the background (``level``, ``low``, ``extent``, ``absorb`` and
            ``relative`` unused): an exact map's every change, for strict comparisons.
        support: HxW values in [0, 1], or ``None``: a difference is kept only where the
            differences of ``values x support`` (found by the same rule) overlap it
            (module docstring).
        judge: what the support judges. ``"difference"``: each difference once merged, kept
            if it overlaps one of the faded map's. ``"peak"``: each peak as it is grown; a
            peak whose own part overlaps none of the faded map's differences is dismissed,
            and no peak takes with it a difference of the faded map that its own part does
            not overlap, so a change on the flank of another stays one of its own.
    Returns:
        ``(regions, mask, (level, spread))``: each region with its box, area, peak, mean,
        centroid and significance; the mask of the pixels in them; the background measured.
    """
    if judge not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    magnitude = np.abs(np.asarray(values, dtype=np.float32))
    height, width = magnitude.shape
    compared = magnitude if valid is None else magnitude[valid]
    empty = np.zeros((height, width), dtype=bool)
    if compared.size == 0 or not float(compared.max(initial=0.0)) > 0:
        return [], empty, (0.0, 0.0)
    centre, spread = background(compared)
    z = (magnitude - centre) / spread
    if valid is not None:
        z[~valid] = -np.inf
    # The faded map's differences, where a support fades anything; a support of 1 everywhere
    # (what a batch gives its samples that are not re-rendered) needs no second pass.
    confirmed = None
    if support is not None and float(support.min()) < 1:
        _, confirmed, _ = significant_regions(magnitude * support, valid, level=level, low=low, merge=merge,
                                              min_size=min_size, extent=extent, absorb=absorb, relative=relative,
                                              nonzero=nonzero)
    by_peak = confirmed is not None and judge == "peak" and not nonzero
    if nonzero:
        mask = magnitude > 0 if valid is None else (magnitude > 0) & valid
    else:
        seed_level = max(level, relative * float(z.max()))
        if not (z > seed_level).any():
            return [], empty, (centre, spread)
        mask = _grown(z, seed_level, min(low, level), extent, max(min(absorb, extent), 0.0),
                      label_regions(confirmed, 8)[1] if by_peak else None)
    # Merging and describing read only the box of the mask's pixels: moving a pixel outside it
    # onto its edge brings it closer to every mask pixel, so no two parts join outside the box
    # that do not join inside it (the same groups, distances and sums as on the whole image).
    window = _box(mask)
    if window is None:
        return [], empty, (centre, spread)
    groups = _merged(mask[window], merge * float(np.hypot(height, width)))
    among = None
    if confirmed is not None and not by_peak:  # the groups the faded map's own differences touch
        among = np.unique(groups[confirmed[window] & mask[window]])
    origin = (window[1].start, window[0].start)
    regions, kept = _described(mask[window], groups, magnitude[window], z[window],
                               max(1, round(min_size * height * width)), origin, among)
    empty[window] = np.isin(groups, kept) & mask[window]
    return regions, empty, (centre, spread)


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns spanned by an HxW bool mask's pixels; ``None`` if it has none."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _grown(z: np.ndarray, seed_level: float, low: float, extent: float, absorb: float,
           judged: np.ndarray | None = None) -> np.ndarray:
    """HxW bool: each difference grown from its peak, strongest first (hysteresis relative to the peak).

    Within each component of ``z > low`` that holds a seed, the highest free pixel ``P`` is a
    peak; its difference is the connected free pixels above ``max(low, extent P)``; those above
    ``max(low, absorb P)`` are taken with it (``absorb = 0``: only its own); repeat while a
    free pixel stands above ``seed_level``. With ``extent = 0`` each component is one difference.
    ``judged`` (HxW labels of the faded map's differences, 0 = none; or ``None``): a difference
    that overlaps none of them is dismissed, and no difference takes with it a labelled one
    that its own pixels do not overlap: that one stays free to start a difference of its own.
    """
    mask = np.zeros(z.shape, dtype=bool)
    count, labels, stats, _ = label_regions(z > low, 8)
    if count <= 1:
        return mask
    tops = np.full(count, -np.inf, dtype=z.dtype)  # z's own dtype: numpy's fast path, the same maxima
    inside = labels > 0
    np.maximum.at(tops, labels[inside], z[inside])
    for k in np.nonzero(tops.astype(np.float64) > seed_level)[0]:
        x, y, w, h = (int(v) for v in stats[k, :4])
        crop, free, out = z[y:y + h, x:x + w], labels[y:y + h, x:x + w] == k, mask[y:y + h, x:x + w]
        if extent <= 0:  # the component is the difference
            if judged is None or (free & (judged[y:y + h, x:x + w] > 0)).any():
                out |= free
            continue
        while True:
            heights = np.where(free, crop, -np.inf)
            top = int(np.argmax(heights))
            peak = float(heights.flat[top])
            if not peak > seed_level:
                break
            core = _component_at(free & (crop > max(low, extent * peak)), top)
            taken = _component_at(free & (crop > max(low, absorb * peak)), top) if 0 < absorb < extent else core
            if judged is None:
                out |= core
                free &= ~(taken | core)
                continue
            held = judged[y:y + h, x:x + w]
            own = np.unique(held[core])
            own = own[own > 0]
            if own.size:  # confirmed; otherwise dismissed, and it reports nothing
                out |= core
            free &= ~((taken | core) & ~((held > 0) & ~np.isin(held, own)))  # others' stay free
    return mask


def _component_at(mask: np.ndarray, index: int) -> np.ndarray:
    """The 8-connected component of ``mask`` holding the flat ``index``."""
    _, labels, _, _ = label_regions(mask, 8)
    return labels == labels.flat[index]


def _merged(mask: np.ndarray, radius: float) -> np.ndarray:
    """Labels (HxW int32, 0 = none) of the parts of ``mask`` joined when closer than ``radius`` px."""
    if radius >= 1:
        near = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3) <= radius / 2
    else:
        near = mask
    _, groups, _, _ = label_regions(near, 8)
    return np.where(mask, groups, 0)


def _described(mask: np.ndarray, groups: np.ndarray, magnitude: np.ndarray, z: np.ndarray,
               min_area: int, origin: tuple[int, int] = (0, 0), among: np.ndarray | None = None
               ) -> tuple[list[Region], np.ndarray]:
    """The regions of each group of ``mask`` of at least ``min_area`` pixels, strongest first, and their ids.

    ``origin``: the image coordinates ``(x, y)`` of the arrays' first pixel (they may be a window of it).
    ``among``: only these group ids may be kept (``None``: any).
    """
    ys, xs = np.nonzero(mask)
    ids = groups[ys, xs]
    if ids.size == 0:
        return [], np.zeros(0, dtype=np.int32)
    vals, heights = magnitude[ys, xs].astype(np.float64), z[ys, xs].astype(np.float64)
    xs, ys = xs + origin[0], ys + origin[1]
    count = int(ids.max()) + 1
    area = np.bincount(ids, minlength=count)
    total = np.bincount(ids, weights=vals, minlength=count)
    sx, sy = np.bincount(ids, weights=xs, minlength=count), np.bincount(ids, weights=ys, minlength=count)
    peak, top = np.full(count, -np.inf), np.full(count, -np.inf)
    np.maximum.at(peak, ids, vals)
    np.maximum.at(top, ids, heights)
    x0, y0 = np.full(count, np.iinfo(np.int64).max), np.full(count, np.iinfo(np.int64).max)
    x1, y1 = np.full(count, -1), np.full(count, -1)
    np.minimum.at(x0, ids, xs)
    np.minimum.at(y0, ids, ys)
    np.maximum.at(x1, ids, xs)
    np.maximum.at(y1, ids, ys)
    kept = np.array([k for k in range(1, count) if area[k] >= min_area], dtype=np.int32)
    if among is not None:
        kept = kept[np.isin(kept, among)]
    regions = [
        Region(bbox=(int(x0[k]), int(y0[k]), int(x1[k]) + 1, int(y1[k]) + 1), area=int(area[k]),
               peak=float(peak[k]), mean=float(total[k] / area[k]),
               centroid=(float(sx[k] / area[k]), float(sy[k] / area[k])), significance=round(float(top[k]), 2))
        for k in kept
    ]
    regions.sort(key=lambda r: (-r.peak, -r.area, r.bbox))
    return regions, kept



def paired_moves(regions: list[Region], mask: np.ndarray, crop: Crop, *, match: float = 0.35, search: int = 2,
                 limit: int = 16) -> list[Region]:
    """The differences with each thing that moved joined into one: a :class:`Region` with its ``move``.

    A thing moved from place P to place Q when what A shows at P is what B shows at Q, and what
    B shows at P is what A showed at Q (where it was, B shows what was under it; where it went,
    A showed what it now covers): for the shift ``D`` from P to Q, over the pixels of both
    differences (``mask`` at P, and at Q moved back by ``D``), the mean of ``|A(p) - B(p + D)| +
    |B(p) - A(p + D)|`` is at most ``match`` times the mean of ``|A(p) - B(p)| + |A(p + D) -
    B(p + D)|``, the two places' own differences. ``D`` is the shift between the two
    differences' centroids, refined within ``search`` px. A difference added here and another
    removed there do not pair unless what was removed is what was added; two removed (or two
    recoloured) things never do, since neither shows in B. Only pairs of the ``limit``
    strongest differences whose boxes do not touch and whose sizes are alike (areas within 3x,
    sides within 2x and 3 px) are tried; each difference joins at most one other, the closest
    match first. The joined region spans both boxes; its ``move`` says which box holds the
    thing in A (the place where A differs more from its surroundings) and the shift.

    Args:
        regions: the differences, strongest first (:func:`significant_regions`).
        mask: HxW bool of their pixels.
        crop: gives the two images' pixels in a window (:data:`Crop`), so that only the
            windows tried leave the images' device.
    """
    count = min(len(regions), limit)
    fits = []
    for i in range(count):
        for j in range(i + 1, count):
            if _alike(regions[i], regions[j]):
                fit = _move_fit(regions[i], regions[j], mask, crop, search)
                if fit is not None and fit[0] <= match:
                    fits.append((fit[0], i, j, fit[1], fit[2]))
    if not fits:
        return regions
    joined, taken = [], set()
    for _, i, j, shift, source_first in sorted(fits):
        if i in taken or j in taken:
            continue
        taken |= {i, j}
        source, target = (regions[i], regions[j]) if source_first else (regions[j], regions[i])
        by = shift if source_first else (-shift[0], -shift[1])
        joined.append(_joined(source, target, by))
    out = [r for k, r in enumerate(regions) if k not in taken] + joined
    out.sort(key=lambda r: (-r.peak, -r.area, r.bbox))
    return out


def _alike(p: Region, q: Region) -> bool:
    """Boxes apart (not touching) and sizes alike: areas within 3x, sides within 2x and 3 px."""
    (px0, py0, px1, py1), (qx0, qy0, qx1, qy1) = p.bbox, q.bbox
    if px0 <= qx1 and qx0 <= px1 and py0 <= qy1 and qy0 <= py1:
        return False
    if max(p.area, q.area) > 3 * min(p.area, q.area):
        return False
    sides = ((px1 - px0, qx1 - qx0), (py1 - py0, qy1 - qy0))
    return all(max(s, t) <= 2 * min(s, t) + 3 for s, t in sides)


def _move_fit(p: Region, q: Region, mask: np.ndarray, crop: Crop, search: int
              ) -> tuple[float, tuple[int, int], bool] | None:
    """``(ratio, (dx, dy), p_is_source)`` of the best shift taking ``p``'s place onto ``q``'s (:func:`paired_moves`).

    ``None`` when the windows do not fit in the image with the search around them.
    """
    height, width = mask.shape
    dx0 = round(q.centroid[0] - p.centroid[0])
    dy0 = round(q.centroid[1] - p.centroid[1])
    # The window, in p's place: p's box and q's moved back by the shift, within the image
    # wherever the window and its shifted copy, searched around, fall in it.
    x0 = max(min(p.bbox[0], q.bbox[0] - dx0), search, search - dx0)
    y0 = max(min(p.bbox[1], q.bbox[1] - dy0), search, search - dy0)
    x1 = min(max(p.bbox[2], q.bbox[2] - dx0), width - search, width - search - dx0)
    y1 = min(max(p.bbox[3], q.bbox[3] - dy0), height - search, height - search - dy0)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    h, w, s = y1 - y0, x1 - x0, search
    a_around, b_around = crop(slice(y0 - s, y1 + s), slice(x0 - s, x1 + s))
    a_here, b_here = a_around[s:s + h, s:s + w], b_around[s:s + h, s:s + w]
    a_there, b_there = crop(slice(y0 + dy0 - s, y1 + dy0 + s), slice(x0 + dx0 - s, x1 + dx0 + s))
    here = mask[y0:y1, x0:x1]
    there = mask[y0 + dy0 - s:y1 + dy0 + s, x0 + dx0 - s:x1 + dx0 + s]
    best = None
    for ey in range(-s, s + 1):
        for ex in range(-s, s + 1):
            rows, cols = slice(s + ey, s + ey + h), slice(s + ex, s + ex + w)
            pixels = here | there[rows, cols]
            if not pixels.any():
                continue
            a2, b2 = a_there[rows, cols][pixels], b_there[rows, cols][pixels]
            a1, b1 = a_here[pixels], b_here[pixels]
            stay = float(np.abs(a1 - b1).mean() + np.abs(a2 - b2).mean())
            if not stay > 0:
                continue
            ratio = float(np.abs(a1 - b2).mean() + np.abs(b1 - a2).mean()) / stay
            if best is None or ratio < best[0]:
                best = (ratio, (dx0 + ex, dy0 + ey), rows, cols, pixels)
    if best is None:
        return None
    ratio, shift, rows, cols, pixels = best
    # Which place holds the thing in A: where A's pixels differ more from A around them (the
    # windows with a margin of ``search`` px).
    here_pixels = np.zeros(a_around.shape[:2], dtype=bool)
    here_pixels[s:s + h, s:s + w] = pixels
    there_pixels = np.zeros(a_there.shape[:2], dtype=bool)
    there_pixels[rows, cols] = pixels
    return ratio, shift, _contrast(a_around, here_pixels) >= _contrast(a_there, there_pixels)


def _contrast(image: np.ndarray, pixels: np.ndarray) -> float:
    """Mean distance of ``image``'s ``pixels`` from the median of its other pixels."""
    return float(np.abs(image[pixels] - np.median(image[~pixels], axis=0)).mean())


def _joined(source: Region, target: Region, shift: tuple[int, int]) -> Region:
    """One difference of a thing that moved from ``source``'s place to ``target``'s."""
    area = source.area + target.area
    box = (min(source.bbox[0], target.bbox[0]), min(source.bbox[1], target.bbox[1]),
           max(source.bbox[2], target.bbox[2]), max(source.bbox[3], target.bbox[3]))
    centroid = tuple((source.centroid[k] * source.area + target.centroid[k] * target.area) / area for k in (0, 1))
    significances = [r.significance for r in (source, target) if r.significance is not None]
    return Region(bbox=box, area=area, peak=max(source.peak, target.peak),
                  mean=(source.mean * source.area + target.mean * target.area) / area,
                  centroid=(float(centroid[0]), float(centroid[1])),
                  significance=max(significances) if significances else None,
                  move=Move(source.bbox, target.bbox, (int(shift[0]), int(shift[1]))))
