"""Layout drift: a difference on a page drawn again that moving B by a pixel or two explains.

A page laid out again under another device scale or font hinting drifts: its rows and badges
sit up to a couple of pixels from where A has them, by fractions of a pixel, and the drift
grows down a table. The range tolerance forgives one pixel; the rest is reported as
differences along the edges of what drifted. Such a difference is mostly explained by moving
B: over its box (grown by :data:`PAD` px), the smallest mean difference left by moving B by at
most :data:`REACH` px (bilinear: whole pixels first, then half and quarter pixels, :data:`STEP`,
around the best so far) is at most ``share`` of the difference as it is. A changed word,
digit, colour or icon leaves more: no move of B turns one glyph into another.

An element that *moved* is explained by a move as well; what tells it from drift is what lies
around it: a moved element leaves its surroundings identical, a page laid out again does not.
So a difference counts as drift only when the pair differs around it too: over the ring
:data:`RING` px wide around its grown box, the mean difference is at least :data:`AROUND`
(images in [0, 1]).

Drift is what a page drawn again does: its flat areas untouched, its marks a little off, by
different amounts in different places. A pair shifted or resampled as a whole is another
thing, and there a faint change is also mostly explained by the shift; so :func:`drifted`
judges nothing on a pair with fewer than :data:`UNTOUCHED` of its pixels identical, nor on one
that a whole-pixel move of B within :data:`REACH` leaves with more pixels identical than it has
as it is (:func:`laid_out_again`: a silhouette on white shifted by 2 px keeps most of its
pixels, yet moving it back keeps more). The ``regions`` postprocessor applies it only
where the strategy's support fades something; the work is on the host, in NumPy and OpenCV,
on the windows a :data:`~dfcore.ops.moves.Crop` gives.
"""

from __future__ import annotations

import cv2
import numpy as np

from dfcore.contracts import Region
from dfcore.ops.channels import channel_max
from dfcore.ops.moves import Crop
from dfcore.ops.parts import without

#: The farthest move of B tried, in px.
REACH = 2
#: The finest step of the moves tried, in px.
STEP = 0.25
#: A difference's box grown by this many px: the window its difference is measured over.
PAD = 3
#: The ring around that window, in px, whose difference says whether the page drifted there.
RING = 10
#: The least mean difference over the ring (max over channels, images in [0, 1]) of a page that drifted.
AROUND = 0.004
#: The least share of identical pixels of a pair drawn again (as the ``difference`` strategy's
#: ``RENDERED_SHARE``): its flat areas untouched.
UNTOUCHED = 0.5


def drift_left(region: Region, crop: Crop, shape: tuple[int, int]) -> tuple[float, float]:
    """``(left, around)`` for one difference: the share of its difference that the best move of B
    leaves (1: none explained) and the pair's mean difference over the ring around it."""
    height, width = shape
    x0, y0, x1, y1 = region.bbox
    top, left, bottom, right = max(y0 - PAD, 0), max(x0 - PAD, 0), min(y1 + PAD, height), min(x1 + PAD, width)
    margin = max(RING, REACH + 1)
    outer = (max(top - margin, 0), max(left - margin, 0), min(bottom + margin, height), min(right + margin, width))
    a, b = (np.ascontiguousarray(image, dtype=np.float32)
            for image in crop(slice(outer[0], outer[2]), slice(outer[1], outer[3])))
    own = (slice(top - outer[0], bottom - outer[0]), slice(left - outer[1], right - outer[1]))
    change = channel_max(np.abs(a - b), 2)
    ring = np.zeros(change.shape, dtype=bool)
    ring[max(top - RING, 0) - outer[0]:min(bottom + RING, height) - outer[0],
         max(left - RING, 0) - outer[1]:min(right + RING, width) - outer[1]] = True
    ring[own] = False
    before = float(change[own].mean())
    around = float(change[ring].mean()) if ring.any() else 0.0
    if not before > 0 or around < AROUND:  # nothing to explain, or nothing drifted around it: not searched
        return 1.0, around
    # B moved, over the window of the difference and REACH + 1 px around it (what the moves read)
    reach = REACH + 1
    rows = slice(max(own[0].start - reach, 0), min(own[0].stop + reach, b.shape[0]))
    cols = slice(max(own[1].start - reach, 0), min(own[1].stop + reach, b.shape[1]))
    near = np.ascontiguousarray(b[rows, cols])
    inside = (slice(own[0].start - rows.start, own[0].stop - rows.start),
              slice(own[1].start - cols.start, own[1].stop - cols.start))
    target = a[own]

    def left_by(dy: float, dx: float) -> float:
        moved = cv2.warpAffine(near, np.float32([[1, 0, dx], [0, 1, dy]]), (near.shape[1], near.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if moved.ndim == 2:
            moved = moved[..., None]
        return float(channel_max(np.abs(target - moved[inside]), 2).mean())

    whole = range(-REACH, REACH + 1)
    moves = {(float(dy), float(dx)): left_by(dy, dx) for dy in whole for dx in whole}
    step = 0.5
    while step >= STEP:  # around the best so far, in halving steps
        centre = min(moves, key=moves.__getitem__)
        for fy in (-step, 0.0, step):
            for fx in (-step, 0.0, step):
                move = (centre[0] + fy, centre[1] + fx)
                if move not in moves and abs(move[0]) <= REACH and abs(move[1]) <= REACH:
                    moves[move] = left_by(*move)
        step /= 2
    return min(min(moves.values()), before) / before, around


def untouched(a: np.ndarray, b: np.ndarray, move: tuple[int, int] = (0, 0), every: int = 1) -> float:
    """The share of the pixels of A (HxWxC) identical in B (every channel), B moved back by a
    whole-pixel ``move`` ``(dy, dx)`` (over the pixels both then cover), on every ``every``-th row
    and column."""
    return _Grid(a, b, every).untouched(move)


class _Grid:
    """A and B on every ``every``-th row and column, channel by channel and contiguous, once per
    phase of the grid: the share of identical pixels under a whole-pixel move of B in a few passes."""

    def __init__(self, a: np.ndarray, b: np.ndarray, every: int) -> None:
        self.every, self.shape = every, a.shape[:2]
        phases = [(py, px) for py in range(every) for px in range(every)]
        self.a, self.b = ({phase: [np.ascontiguousarray(image[phase[0]::every, phase[1]::every, c])
                                   for c in range(image.shape[2])] for phase in phases} for image in (a, b))

    def untouched(self, move: tuple[int, int]) -> float:
        """As :func:`untouched`: A's rows and columns from where B covers them, every ``every``-th."""
        (dy, dx), (height, width), step = move, self.shape, self.every
        ay, ax = max(0, -dy), max(0, -dx)
        rows, cols = len(range(ay, height - max(0, dy), step)), len(range(ax, width - max(0, dx), step))
        if not rows or not cols:
            return 0.0
        by, bx = ay + dy, ax + dx
        same = None
        for here, there in zip(self.a[(ay % step, ax % step)], self.b[(by % step, bx % step)]):
            equal = (here[ay // step:ay // step + rows, ax // step:ax // step + cols]
                     == there[by // step:by // step + rows, bx // step:bx // step + cols])
            same = equal if same is None else same & equal
        return float(same.mean())


def laid_out_again(crop: Crop, shape: tuple[int, int]) -> bool:
    """Whether the pair looks drawn again (module docstring): at least :data:`UNTOUCHED` of its
    pixels identical, and no whole-pixel move of B within :data:`REACH` leaves more of them so
    (judged on every other row and column)."""
    grid = _Grid(*crop(slice(0, shape[0]), slice(0, shape[1])), every=2)
    still = grid.untouched((0, 0))
    if still < UNTOUCHED:
        return False
    return all(grid.untouched((dy, dx)) <= still
               for dy in range(-REACH, REACH + 1) for dx in range(-REACH, REACH + 1) if dy or dx)


def drifted(regions: list[Region], mask: np.ndarray, crop: Crop, share: float, limit: int = 16
            ) -> tuple[list[Region], np.ndarray]:
    """The differences that are not layout drift (module docstring), and the mask of their pixels.

    On a pair drawn again (:func:`laid_out_again`), a difference is drift when
    a move of B leaves at most ``share`` of it and the pair differs around it; a thing that moved
    (its ``move`` set) is kept, and only the ``limit`` strongest are looked at."""
    if share <= 0 or not regions or not laid_out_again(crop, mask.shape):
        return regions, mask
    kept, dropped = [], []
    for rank, region in enumerate(regions):
        drift = False
        if rank < limit and region.move is None:
            left, around = drift_left(region, crop, mask.shape)
            drift = left <= share and around >= AROUND
        (dropped if drift else kept).append(region)
    return kept, without(mask, kept, dropped)


__all__ = ["AROUND", "PAD", "REACH", "RING", "STEP", "UNTOUCHED", "drift_left", "drifted", "laid_out_again",
           "untouched"]
