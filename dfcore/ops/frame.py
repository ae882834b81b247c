"""Differences along the image's frame left out of the list (the ``regions`` stage's ``frame``).

A page scanned or drawn again gains or loses a border: a thin difference running along one
edge of the image, the whole of it or most. It is how the pair was made, not a change of what
the page shows. :func:`off_the_frame` drops, after the rest of the rule, the differences that
lie in a band along an edge, span most of it and, given the pair, differ evenly along it as a
line does; the map keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dfcore.contracts import Region
from dfcore.ops.channels import channel_mean
from dfcore.ops.parts import without

if TYPE_CHECKING:
    from dfcore.ops.moves import Crop

#: A difference along the frame spans at least this fraction of the edge it lies along, and
#: differs evenly along it at this fraction of its positions (:func:`off_the_frame`).
FRAME_SPAN = 0.4
FRAME_EVEN = 0.9


def off_the_frame(regions: list[Region], mask: np.ndarray, frame: float, crop: Crop | None = None,
                  span: float = FRAME_SPAN) -> tuple[list[Region], np.ndarray]:
    """The differences that do not lie along the image's frame, and the mask of their pixels.

    A difference lies along the frame when its box is inside the band ``frame`` times the
    image diagonal wide along one edge and spans at least ``span`` (:data:`FRAME_SPAN`) of that edge: the
    border of a page scanned or drawn again, not a change of what it shows. Given the pair
    (``crop``, as :func:`dfcore.ops.moves.paired_moves` takes it), it must also differ evenly
    along that edge, as a line does and a line of text does not: at :data:`FRAME_EVEN` of the
    positions along the box, the pair's difference across it is at least half its median.
    The map keeps it.
    """
    height, width = mask.shape
    band = frame * float(np.hypot(height, width))
    kept, dropped = [], []
    for region in regions:
        x0, y0, x1, y1 = region.bbox
        across = 0 if (y1 <= band or y0 >= height - band) and x1 - x0 >= span * width else \
            1 if (x1 <= band or x0 >= width - band) and y1 - y0 >= span * height else None
        along = across is not None and (crop is None or _even(crop(slice(y0, y1), slice(x0, x1)), across))
        (dropped if along else kept).append(region)
    if not dropped:
        return regions, mask
    return kept, without(mask, kept, dropped)


def _even(window: tuple[np.ndarray, np.ndarray], across: int) -> bool:
    """Whether the pair's difference in a window is even along it (``across``: the axis across it)."""
    a, b = window
    profile = channel_mean(np.abs(a - b), 2).mean(axis=across)
    return bool((profile >= 0.5 * np.median(profile)).mean() >= FRAME_EVEN)
