"""A thing that moved, told from two differences: what one place lost, the other gained.

:func:`paired_moves` takes the differences :func:`dfcore.ops.regions.significant_regions`
found and joins each pair that is one thing moved into one :class:`~dfcore.contracts.Region`
with its :class:`~dfcore.contracts.Move`. It reads the pair's pixels through a :data:`Crop`,
so that only the windows it tries leave the images' device; the work is on the host, in
NumPy, as the labelling of the regions is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dfcore.contracts import Move, Region
from dfcore.ops.channels import channel_max, channel_mean
from dfcore.ops.range_host import array_range

#: ``crop(rows, cols) -> (a, b)``: the two images' pixels in a window, each hxwxC float on the host.
Crop = Callable[[slice, slice], tuple[np.ndarray, np.ndarray]]

#: Windows of more pixels than this are first judged on every other row and column
#: (:func:`paired_moves`): a shift far from fitting there (twice ``match``) is not tried in full.
_SAMPLED = 1024


def paired_moves(regions: list[Region], mask: np.ndarray, crop: Crop, *, match: float = 0.35, search: int = 2,
                 limit: int = 16, tolerance: int = 0, plain: float = 0.0) -> list[Region]:
    """The differences with each thing that moved joined into one: a :class:`Region` with its ``move``.

    A thing moved from place P to place Q when what A shows at P is what B shows at Q, and what
    B shows at P is what A showed at Q (where it was, B shows what was under it; where it went,
    A showed what it now covers): for the shift ``D`` from P to Q, over the pixels of both
    differences (``mask`` at P, and at Q moved back by ``D``), the mean of ``|A(p) - B(p + D)|``
    (the thing) is at most ``match`` times the mean of ``|A(p) - B(p)|`` (P's own difference),
    and the mean of ``|B(p) - A(p + D)|`` (what it covered) at most ``match`` times the mean of
    ``|A(p + D) - B(p + D)|`` (Q's). Each half is judged on its own: over one background the
    second holds for any two changes, and a sum of the two would pair a thing removed here
    with a different one of a like colour added there. ``D`` is the shift between the two
    differences' centroids, refined within ``search`` px. A difference added here and another
    removed there do not pair unless what was removed is what was added; two removed (or two
    recoloured) things never do, since neither shows in B. Only pairs of the ``limit``
    strongest differences whose boxes do not touch and whose sizes are alike (areas within 3x,
    sides within 2x and 3 px) are tried; each difference joins at most one other, the closest
    match first. Two quick looks spare the full test to pairs that cannot pass, each with twice
    the slack: their mean colours (:func:`_could_swap`), and on windows of more than
    :data:`_SAMPLED` pixels the thing's half on every other row and column. The joined region
    spans both boxes; its ``move`` says which box holds the thing in A (the place where A
    differs more from its surroundings) and the shift.

    With ``tolerance`` t > 0 the thing and what it covered are matched as the map's range
    tolerance matches a pixel (:func:`dfcore.ops.shift.range_tolerant`): a value counts only
    by how far it lies outside the range of the other image's values within t px, both ways.
    A thing drawn again at its new place (a marker re-rendered a fraction of a pixel off, a
    resampled drawing) then matches itself as an unmoved edge does; the places' own
    differences stay plain. With ``plain`` as well (0: off), the thing must also match value for value
    within ``plain`` times its place's difference at some shift of the search: around a glyph's
    strokes a range holds both ink and paper, so two different words of like size match within
    it, while no shift matches them value for value (a marker drawn again does, roughly).

    Args:
        regions: the differences, strongest first (:func:`dfcore.ops.regions.significant_regions`).
        mask: HxW bool of their pixels.
        crop: gives the two images' pixels in a window (:data:`Crop`), so that only the
            windows tried leave the images' device.
    """
    count = min(len(regions), limit)
    colours = [_colours(r, mask, crop) for r in regions[:count]]
    fits = []
    for i in range(count):
        for j in range(i + 1, count):
            if _alike(regions[i], regions[j]) and _could_swap(colours[i], colours[j], match):
                fit = _move_fit(regions[i], regions[j], mask, crop, search, match, tolerance, plain)
                if fit is not None:
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


def _colours(region: Region, mask: np.ndarray, crop: Crop) -> tuple[np.ndarray, np.ndarray, float]:
    """The mean colours of A and of B over a difference's pixels, and its mean change ``|A - B|``."""
    x0, y0, x1, y1 = region.bbox
    a, b = crop(slice(y0, y1), slice(x0, x1))
    pixels = mask[y0:y1, x0:x1]
    if not pixels.any():
        pixels = np.ones_like(pixels)
    a, b = a[pixels], b[pixels]
    return a.mean(axis=0), b.mean(axis=0), float(np.abs(a - b).mean())


def _could_swap(p: tuple[np.ndarray, np.ndarray, float], q: tuple[np.ndarray, np.ndarray, float],
                match: float) -> bool:
    """Whether two differences' mean colours leave a move possible (a test with twice the slack).

    A move from ``p`` to ``q`` has A's colours at ``p`` in B at ``q`` and B's at ``p`` in A at
    ``q``. Over one set of pixels, the mean of ``|A(x) - B(x + D)|`` is at least the gap between
    the means of A and of B there (each half of :func:`paired_moves`'s test); the two
    differences' own pixels stand in for that set, with twice the slack: a pair whose means are
    apart by more than ``2 match`` times its changes is not tried in full.
    """
    (a_p, b_p, change_p), (a_q, b_q, change_q) = p, q
    return (float(np.abs(a_p - b_q).mean()) <= 2 * match * change_p
            and float(np.abs(b_p - a_q).mean()) <= 2 * match * change_q)


def _move_fit(p: Region, q: Region, mask: np.ndarray, crop: Crop, search: int, match: float, tolerance: int = 0,
              plain: float = 0.0) -> tuple[float, tuple[int, int], bool] | None:
    """``(ratio, (dx, dy), p_is_source)`` of the best shift taking ``p``'s place onto ``q``'s (:func:`paired_moves`).

    ``None`` when no shift fits within ``match``, or the windows do not fit in the image with
    the search around them.
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
    t = tolerance if min(y0, x0, y0 + dy0, x0 + dx0) >= s + tolerance and max(y1, y1 + dy0) + s + tolerance <= height \
        and max(x1, x1 + dx0) + s + tolerance <= width else 0  # the ranges need t px more around
    a_wide, b_wide = crop(slice(y0 - s - t, y1 + s + t), slice(x0 - s - t, x1 + s + t))
    a_far, b_far = crop(slice(y0 + dy0 - s - t, y1 + dy0 + s + t), slice(x0 + dx0 - s - t, x1 + dx0 + s + t))
    inner = (slice(t, t + h + 2 * s), slice(t, t + w + 2 * s))
    a_around, b_around, a_there, b_there = a_wide[inner], b_wide[inner], a_far[inner], b_far[inner]
    a_here, b_here = a_around[s:s + h, s:s + w], b_around[s:s + h, s:s + w]
    here = mask[y0:y1, x0:x1]
    there = mask[y0 + dy0 - s:y1 + dy0 + s, x0 + dx0 - s:x1 + dx0 + s]
    # Every shift within the search at once: windows (2s+1, 2s+1, ..., h, w) of the copy there.
    windows = np.lib.stride_tricks.sliding_window_view

    def shifted(image: np.ndarray) -> np.ndarray:  # (2s+1, 2s+1, C, h, w)
        return windows(image.transpose(2, 0, 1), (h, w), axis=(1, 2)).transpose(1, 2, 0, 3, 4)

    a1, b2 = a_here.transpose(2, 0, 1), shifted(b_there)
    here_diff = channel_mean(np.abs(a_here - b_here), 2)
    # The thing (A here against B there) and what it covered (B here against A there), per
    # shift and pixel, on the pixels ``at`` picks; with a tolerance, outside each other's ranges.
    everything = (...,)
    if t:
        low_high = {name: _ranges(image, t) for name, image in (("a", a_wide), ("b", b_wide), ("a far", a_far),
                                                                 ("b far", b_far))}

        def here_range(name: str, at: tuple) -> tuple[np.ndarray, ...]:
            return tuple(r[s:s + h, s:s + w].transpose(2, 0, 1)[at] for r in low_high[name])

        def there_range(name: str, at: tuple) -> tuple[np.ndarray, ...]:
            return tuple(shifted(r)[at] for r in low_high[name])

        def thing(at: tuple = everything) -> np.ndarray:
            x, y = a1[at], b2[at]
            outside = np.maximum(_outside(x, *there_range("b far", at)), _outside(y, *here_range("a", at)))
            return channel_mean(outside, -3)

        def cover(at: tuple = everything) -> np.ndarray:
            x, y = b_here.transpose(2, 0, 1)[at], shifted(a_there)[at]
            outside = np.maximum(_outside(x, *there_range("a far", at)), _outside(y, *here_range("b", at)))
            return channel_mean(outside, -3)
    else:
        def thing(at: tuple = everything) -> np.ndarray:
            return channel_mean(np.abs(a1[at] - b2[at]), -3)

        def cover(at: tuple = everything) -> np.ndarray:
            return channel_mean(np.abs(b_here.transpose(2, 0, 1)[at] - shifted(a_there)[at]), -3)
    with np.errstate(divide="ignore", invalid="ignore"):
        if h * w > _SAMPLED:  # every other row and column first: what is far from fitting goes now
            sample = (..., slice(None, None, 2), slice(None, None, 2))
            near = here[sample] | windows(there, (h, w))[sample]
            rough = (thing(sample) * near).sum(axis=(-2, -1)) / (here_diff[sample] * near).sum(axis=(-2, -1))
            if not rough.min() <= 2 * match:
                return None
        pixels = here | windows(there, (h, w))
        count = np.maximum(pixels.sum(axis=(-2, -1)), 1)

        def mean(values: np.ndarray) -> np.ndarray:  # per shift, over its pixels (values: channel means)
            return (values * pixels).sum(axis=(-2, -1)) / count

        here_change = mean(here_diff)
        there_change = mean(windows(channel_mean(np.abs(a_there - b_there), 2), (h, w)))
        # Each half on its own: the thing (A here, B there), then what it covered (B here, A
        # there), only where the thing alone leaves a shift within ``match``.
        ratios = mean(thing()) / here_change
        ratios[~((here_change > 0) & (there_change > 0))] = np.inf
        if not ratios.min() <= match:
            return None
        if t and plain and not (mean(channel_mean(np.abs(a1 - b2), -3)) / here_change).min() <= plain:
            return None  # within the ranges only: a different thing of like size
        covered = mean(cover()) / there_change
    ratios = np.fmax(ratios, covered)  # where a place holds no change, the thing left it inf
    ey, ex = np.unravel_index(int(np.argmin(ratios)), ratios.shape)
    if not ratios[ey, ex] <= match:
        return None
    ratio, shift = float(ratios[ey, ex]), (dx0 + int(ex) - s, dy0 + int(ey) - s)
    rows, cols, pixels = slice(ey, ey + h), slice(ex, ex + w), pixels[ey, ex]
    # Which place holds the thing in A: where A's pixels differ more from A around them (the
    # windows with a margin of ``search`` px).
    here_pixels = np.zeros(a_around.shape[:2], dtype=bool)
    here_pixels[s:s + h, s:s + w] = pixels
    there_pixels = np.zeros(a_there.shape[:2], dtype=bool)
    there_pixels[rows, cols] = pixels
    return ratio, shift, _contrast(a_around, here_pixels) >= _contrast(a_there, there_pixels)


def _ranges(image: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel and channel of an hxwxC window, the least and the greatest value within ``reach`` px
    (:func:`~dfcore.ops.range_host.array_range`); the outer ``reach`` px, whose squares leave the window, are dropped."""
    inner = (slice(reach, image.shape[0] - reach), slice(reach, image.shape[1] - reach))
    low, high = array_range(image.astype(np.float32, copy=False), reach)
    return low[inner], high[inner]


def _outside(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """How far ``values`` lie outside ``[low, high]``, elementwise."""
    return np.maximum(low - values, 0) + np.maximum(values - high, 0)


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


#: :func:`one_move` tests each part on at most this many of its changed pixels (every k-th of more).
_MOVED_PIXELS = 4096
#: ... and first on at most this many of them, to rule out the shifts that miss ``match`` there
#: by this factor.
_GLANCE, _GLANCE_SLACK = 256, 1.5


#: The directions :func:`one_move` may try: every shift within its reach, or only up and down
#: (``columns``), or only left and right (``rows``).
ALONG = (None, "columns", "rows")


def one_move(parts: list[tuple[np.ndarray, np.ndarray]], crop: Crop, shape: tuple[int, int], *, reach: int,
             match: float, along: str | None = None) -> tuple[int, int] | None:
    """The shift ``(dx, dy)`` of at most ``reach`` px by which B is A moved over every one of ``parts``, or ``None``.

    An element moved by less than its own size leaves two strips on a lossless pair's map, where
    it left and where it arrived, as far apart as it is wide; two changes side by side leave two
    parts too. One move tells them apart: B is A moved by ``D`` over both strips (where the
    element left, B shows what A showed ``D`` behind it; where it arrived, B shows the element
    A showed ``D`` before), over no two unrelated changes. For each part, over its pixels ``p``
    (``parts``: row and column indices in the image) where A and B differ, both the mean of ``|A(p) - B(p + D)|``
    and that of ``|B(p) - A(p - D)|`` must be at most ``match`` times the part's own mean
    ``|A(p) - B(p)|``: the second half is what a thing added in B fails (beside it, B shows
    the background A shows), the first what a thing removed fails. Shifts that take a pixel
    off the image are not tried; with ``along`` (:data:`ALONG`), only those up and down
    (``columns``) or left and right (``rows``). Each part is judged on at most
    :data:`_MOVED_PIXELS` of its changed pixels, a shift first on :data:`_GLANCE` of them (one
    that misses ``match`` by :data:`_GLANCE_SLACK` times there is not tried in full).
    """
    if along not in ALONG:
        raise ValueError(f"along must be one of {ALONG}, got {along!r}")
    height, width = shape
    rows = np.concatenate([r for r, _ in parts])
    cols = np.concatenate([c for _, c in parts])
    reach_y, reach_x = (0 if along == "rows" else reach), (0 if along == "columns" else reach)
    y0, y1 = max(int(rows.min()) - reach_y, 0), min(int(rows.max()) + reach_y + 1, height)
    x0, x1 = max(int(cols.min()) - reach_x, 0), min(int(cols.max()) + reach_x + 1, width)
    a, b = (np.asarray(image, dtype=np.float32) for image in crop(slice(y0, y1), slice(x0, x1)))
    dy, dx = (v.ravel() for v in np.meshgrid(np.arange(-reach_y, reach_y + 1), np.arange(-reach_x, reach_x + 1),
                                             indexing="ij"))
    moved = (dy != 0) | (dx != 0)
    dy, dx = dy[moved], dx[moved]
    samples = []
    for r, c in parts:
        r, c = r - y0, c - x0
        changed = channel_max(np.abs(a[r, c] - b[r, c]), 1) > 0  # a smoothed map's part also holds unchanged pixels
        if not changed.any():
            return None
        r, c = r[changed], c[changed]
        if r.size > _MOVED_PIXELS:  # every k-th pixel
            r, c = r[:: -(-r.size // _MOVED_PIXELS)], c[:: -(-c.size // _MOVED_PIXELS)]
        samples.append((r, c, float(np.abs(a[r, c] - b[r, c]).mean())))
    # A first look on every k-th of them (at most _GLANCE): a shift that misses by half as much
    # again as ``match`` there is not tried in full (a push's reach tries hundreds of shifts).
    keep = np.arange(dy.size)
    for r, c, own in samples:
        step = -(-r.size // _GLANCE)
        keep = keep[_ratios(a, b, r[::step], c[::step], dy[keep], dx[keep]) <= _GLANCE_SLACK * match * own]
        if not keep.size:
            return None
    worst = np.zeros(keep.size, dtype=np.float64)
    for r, c, own in samples:  # in full; a shift that misses on one part is not tried on the next
        worst = np.maximum(worst, _ratios(a, b, r, c, dy[keep], dx[keep]) / own)
        keep, worst = keep[worst <= match], worst[worst <= match]
        if not keep.size:
            return None
    best = int(np.argmin(worst))
    return int(dx[keep[best]]), int(dy[keep[best]])


def _ratios(a: np.ndarray, b: np.ndarray, r: np.ndarray, c: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """For each shift ``(dy[k], dx[k])``, the larger of the means of ``|A(p) - B(p + D)|`` and ``|B(p) - A(p - D)|``
    over the pixels ``(r, c)`` of the window ``a``, ``b``; infinite for a shift that takes one of them off it."""
    ahead_r, ahead_c = r[None] + dy[:, None], c[None] + dx[:, None]  # (shifts, pixels)
    behind_r, behind_c = r[None] - dy[:, None], c[None] - dx[:, None]
    inside = ((ahead_r >= 0) & (ahead_r < a.shape[0]) & (ahead_c >= 0) & (ahead_c < a.shape[1])
              & (behind_r >= 0) & (behind_r < a.shape[0]) & (behind_c >= 0) & (behind_c < a.shape[1])).all(1)
    ahead = np.abs(a[r, c][None] - b[ahead_r.clip(0, a.shape[0] - 1), ahead_c.clip(0, a.shape[1] - 1)])
    behind = np.abs(b[r, c][None] - a[behind_r.clip(0, a.shape[0] - 1), behind_c.clip(0, a.shape[1] - 1)])
    return np.where(inside, np.maximum(ahead.mean(axis=(1, 2)), behind.mean(axis=(1, 2))), np.inf)
