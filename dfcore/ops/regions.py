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

``exact_background``: when more than half the map equals its background (its MAD is zero) on a
pair not drawn again -- a lossless pair, whose every value above the background is a change --,
the mean absolute deviation that stands in for the spread is the changes' own, and a large
change raises the bar for the small ones beside it: a panel redrawn over a fifth of a page hid
the changed words next to it. With it, any value above the background by more than a millionth
of the largest is significant there, and ``relative``, ``extent`` and ``min_size`` decide.

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

import dataclasses
import math

import cv2
import numpy as np
import torch
from torch import Tensor

from dfcore.contracts import Region
from dfcore.ops.parts import Rejoin, label_regions, merged, pixels_of, rejoined
from dfcore.ops.strips import boxes_around
from dfcore.ops.typical import TYPICAL_COUNT, typical_level

#: What a support judges (:func:`significant_regions`'s ``judge``).
JUDGES = ("difference", "peak")



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


#: The least spread of a map's background, as a fraction of its largest value.
SPREAD_FLOOR = 1e-6
#: Fewer compared values than this (a 16x16 image) are too few to measure a background on: a
#: change smoothed over a sprite of 8x8 px is most of it, and its median would be the change's.
MIN_BACKGROUND = 256


def background(values: np.ndarray) -> tuple[float, float]:
    """``(level, spread)`` of a map's background: the median of ``values`` and 1.4826 x their MAD.

    When more than half the values are equal (a lossless pair's map is mostly zero) the MAD is
    zero; the mean absolute deviation, and at least a millionth of the largest value, is used.
    Fewer than :data:`MIN_BACKGROUND` values give no background to measure: zero is taken as
    it, with the least spread, as an exact map's (a flat background).
    """
    level, spread, _ = _background(values)
    return level, spread


def _background(values: np.ndarray) -> tuple[float, float, bool]:
    """:func:`background`, and whether its MAD was zero (more than half the values equal: a flat background)."""
    if values.size < MIN_BACKGROUND:
        return 0.0, SPREAD_FLOOR * float(np.abs(values).max(initial=0.0)), True
    if values.size > BACKGROUND_SAMPLES:
        values = values[:: values.size // BACKGROUND_SAMPLES + 1]
    level = _median(values)  # in the values' own dtype: the same order statistics, half the bytes for float32
    deviation = values.astype(np.float64)  # |values - level| in one buffer
    deviation -= level
    np.abs(deviation, out=deviation)
    spread = 1.4826 * _median(deviation)
    flat = not spread > 0
    if flat:
        spread = float(deviation.mean())
    largest = max(float(values.max()), -float(values.min()))  # |values|' largest, without an |values| array
    return level, max(spread, SPREAD_FLOOR * largest), flat


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


def fades(support: np.ndarray | None) -> bool:
    """Whether a strategy's ``support`` fades any pixel (a pair drawn again); 1 everywhere, or none, does not."""
    return support is not None and float(support.min()) < 1


def significant_regions(values: np.ndarray, valid: np.ndarray | None = None, *, level: float = 6.0,
                        low: float = 3.0, merge: float = 0.01, min_size: float = 2e-5, extent: float = 0.0,
                        absorb: float = 0.0, relative: float = 0.0, nonzero: bool = False,
                        support: np.ndarray | None = None, judge: str = "difference",
                        exact_background: bool = False, zero_below: float = 0.0, absorb_peaks: bool = True,
                        exact_merge: float = 0.0, exact_peaks: bool = False, rejoin: Rejoin | None = None,
                        absorb_within: float = 0.0, within_confirmed: bool = False, typical: float = 0.0,
                        typical_count: int = TYPICAL_COUNT
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
        absorb_peaks: ``absorb`` also takes the pixels above ``extent`` of the peak that join the
            difference only lower down: another peak that reaches that height (``False``: they
            stay free, and such a peak starts a difference of its own where ``relative`` allows;
            one closer than ``merge`` is joined to it again).
        absorb_within: with ``absorb_peaks``, another peak's top is taken only when some of it
            lies within this fraction of the image diagonal of the difference's own pixels; one
            farther off stays free, as without ``absorb_peaks`` (0: wherever it lies): a change
            100 px from a stronger one, joined to it only through the faint residue of a
            resampled drawing, is not a bump on its flank.
        within_confirmed: where a ``support`` fades the map, ``absorb_within`` leaves free only
            the part of a far peak's top that the faded map's differences hold (on a page drawn
            again a far peak is as often the re-rendering's residue, which the fading removes).
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
        exact_background: on a map whose background is flat (more than half the compared values
            equal) and that no ``support`` fades (a pair not drawn again), every value above the
            background by more than a millionth of the largest is significant: ``level`` and
            ``low`` count deviations of that floor, and ``relative``, ``extent`` and ``min_size``
            decide (module docstring). The significance reported is still in the spread measured.
        exact_merge: where ``exact_background`` applies, parts closer than this fraction of the
            diagonal are one difference instead of ``merge`` (0: ``merge``): no re-rendering breaks
            a change of a lossless pair into pieces, so two changes a table row apart can be two
            (it also parts the two strips of an element moved by less than its width).
        rejoin: where ``exact_merge`` parts what ``merge`` would join, ``rejoin(parts)`` (a
            :data:`dfcore.ops.parts.Rejoin`) says whether two of those parts are one thing: they are joined again
            when it does (the strips of an element moved by less than its width,
            :func:`dfcore.ops.moves.one_move`).
        exact_peaks: where ``exact_background`` applies, ``absorb_peaks`` is off: every value
            above that background is a change, so another peak that reaches ``extent`` of a
            difference's peak is one of its own, not a bump on its flank (two changes 16 px
            apart on a lossless page were one difference whose box held only the stronger).
        typical: on a map with ``typical_count`` candidates or more (areas ``level`` above the
            background, parts within ``merge`` joined), a difference's peak is at least this many
            times the median candidate's (0: off; :mod:`dfcore.ops.typical`); not on an exact one.
        zero_below: values of ``|map|`` at most this fraction of its largest are zero: a float32
            FFT's rounding, which leaves values of 1e-12 to 1e-6 of the peak wherever a smoothing
            read a non-zero pixel, counts as the background, not as values above it.
    Returns:
        ``(regions, mask, (level, spread))``: each region with its box, area, peak, mean,
        centroid and significance; the mask of the pixels in them; the background measured.
    """
    if judge not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    magnitude = np.abs(np.asarray(values, dtype=np.float32))
    if zero_below > 0:
        magnitude[magnitude <= zero_below * float(magnitude.max(initial=0.0))] = 0.0
    height, width = magnitude.shape
    diagonal = float(np.hypot(height, width))
    compared = magnitude if valid is None else magnitude[valid]
    empty = np.zeros((height, width), dtype=bool)
    peak = float(compared.max(initial=0.0))
    if not peak > 0:  # nothing compared, or nothing differs
        return [], empty, (0.0, 0.0)
    centre, spread, flat = _background(compared)
    z = (magnitude - centre) / spread
    if valid is not None:
        z[~valid] = -np.inf
    faded = fades(support)
    exact = exact_background and flat and not faded
    if exact:  # the thresholds in deviations of the floor, not of the spread
        gate = SPREAD_FLOOR * peak / spread
        level, low = level * gate, low * gate
    # The faded map's differences, where a support fades anything; a support of 1 everywhere
    # (what a batch gives its samples that are not re-rendered) needs no second pass.
    confirmed = None
    if faded:
        _, confirmed, _ = significant_regions(magnitude * support, valid, level=level, low=low, merge=merge,
                                              min_size=min_size, extent=extent, absorb=absorb, relative=relative,
                                              nonzero=nonzero, zero_below=zero_below, absorb_peaks=absorb_peaks,
                                              absorb_within=absorb_within)
    by_peak = confirmed is not None and judge == "peak" and not nonzero
    if nonzero:
        mask = magnitude > 0 if valid is None else (magnitude > 0) & valid
    else:
        seed_level = max(level, relative * float(z.max()))
        if typical > 0 and not exact:
            seed_level = max(seed_level, typical_level(z, magnitude, level, merge * diagonal, typical, typical_count,
                                                       centre, spread))
        if not (z > seed_level).any():
            return [], empty, (centre, spread)
        mask = _grown(z, seed_level, min(low, level), extent, max(min(absorb, extent), 0.0),
                      label_regions(confirmed, 8)[1] if by_peak else None, absorb_peaks and not (exact and exact_peaks),
                      absorb_within * diagonal if absorb_within > 0 else math.inf,
                      confirmed if within_confirmed else None)
    # Merging and describing read only the box of the mask's pixels: moving a pixel outside it
    # onto its edge brings it closer to every mask pixel, so no two parts join outside the box
    # that do not join inside it (the same groups, distances and sums as on the whole image).
    window = _box(mask)
    if window is None:
        return [], empty, (centre, spread)
    parting = exact and 0 < exact_merge < merge
    groups = merged(mask[window], (exact_merge if parting else merge) * diagonal)
    origin = (window[1].start, window[0].start)
    if parting and rejoin is not None:
        groups = rejoined(groups, merged(mask[window], merge * diagonal), rejoin, origin)
    among = None
    if confirmed is not None and not by_peak:  # the groups the faded map's own differences touch
        among = np.unique(groups[confirmed[window] & mask[window]])
    regions, kept = _described(mask[window], groups, magnitude[window], z[window],
                               max(1, round(min_size * height * width)), origin, among)
    empty[window] = np.isin(groups, kept) & mask[window]
    if compared.size < MIN_BACKGROUND:  # no background was measured: a significance would be the floor's
        regions = [dataclasses.replace(region, significance=None) for region in regions]
    return regions, empty, (centre, spread)


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns spanned by an HxW bool mask's pixels; ``None`` if it has none."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _grown(z: np.ndarray, seed_level: float, low: float, extent: float, absorb: float,
           judged: np.ndarray | None = None, absorb_peaks: bool = True, within: float = math.inf,
           spared: np.ndarray | None = None) -> np.ndarray:
    """HxW bool: each difference grown from its peak, strongest first (hysteresis relative to the peak).

    Within each component of ``z > low`` that holds a seed, the highest free pixel ``P`` is a
    peak; its difference is the connected free pixels above ``max(low, extent P)``; those above
    ``max(low, absorb P)`` are taken with it (``absorb = 0``: only its own; without
    ``absorb_peaks``, none above ``extent P`` that are not its own: another peak's top stays
    free; with ``within`` px, such a top stays free when none of it lies within ``within`` px of
    the difference's own pixels; with ``spared`` (HxW bool), only such a top's pixels that it
    holds); repeat while a free pixel stands above ``seed_level``. With ``extent = 0`` each
    component is one difference.
    ``judged`` (HxW labels of the faded map's differences, 0 = none; or ``None``): a difference
    that overlaps none of them is dismissed, and no difference takes with it a labelled one
    that its own pixels do not overlap: that one stays free to start a difference of its own.
    """
    mask = np.zeros(z.shape, dtype=bool)
    above = z > low
    for top, bottom, left, right in boxes_around(above, 1):  # no component spans two boxes
        window = (slice(top, bottom), slice(left, right))
        mask[window] = _grown_in(z[window], above[window], seed_level, low, extent, absorb,
                                 None if judged is None else judged[window], absorb_peaks, within,
                                 None if spared is None else spared[window])
    return mask


def _grown_in(z: np.ndarray, above: np.ndarray, seed_level: float, low: float, extent: float, absorb: float,
              judged: np.ndarray | None, absorb_peaks: bool = True, within: float = math.inf,
              spared: np.ndarray | None = None) -> np.ndarray:
    """:func:`_grown` in a window of the map that holds whole components of ``above`` (``z > low``)."""
    mask = np.zeros(z.shape, dtype=bool)
    count, labels, stats, _ = label_regions(above, 8)
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
            if not absorb_peaks:  # another peak's top, joined to this one only lower down, stays free
                taken = taken & ~(crop > max(low, extent * peak))
            elif within < math.inf and taken is not core:  # only a peak near this one is a bump on its flank
                tops = taken & (crop > max(low, extent * peak)) & ~core
                if spared is not None:
                    tops &= spared[y:y + h, x:x + w]
                taken = taken & ~_far_tops(tops, core, within)
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


def _far_tops(tops: np.ndarray, core: np.ndarray, within: float) -> np.ndarray:
    """The parts of ``tops`` (HxW bool) none of whose pixels lies within ``within`` px of ``core``'s."""
    if not tops.any():
        return tops
    near = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 3) <= within
    count, labels, _, _ = label_regions(tops, 8)
    close = np.zeros(count, dtype=bool)
    close[labels[tops & near]] = True
    close[0] = True
    return ~close[labels]


def _component_at(mask: np.ndarray, index: int) -> np.ndarray:
    """The 8-connected component of ``mask`` holding the flat ``index``."""
    _, labels, _, _ = label_regions(mask, 8)
    return labels == labels.flat[index]


def _described(mask: np.ndarray, groups: np.ndarray, magnitude: np.ndarray, z: np.ndarray,
               min_area: int, origin: tuple[int, int] = (0, 0), among: np.ndarray | None = None
               ) -> tuple[list[Region], np.ndarray]:
    """The regions of each group of ``mask`` of at least ``min_area`` pixels, strongest first, and their ids.

    ``origin``: the image coordinates ``(x, y)`` of the arrays' first pixel (they may be a window of it).
    ``among``: only these group ids may be kept (``None``: any).
    """
    ys, xs = pixels_of(mask)
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
