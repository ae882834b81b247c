"""Row strips: a local map computed a band of rows at a time, so its working memory stays bounded.

When every pixel of a map depends only on the inputs within ``halo`` rows of it (filters,
shift tolerance, window statistics), the map can be made band by band: each band is computed
from its rows and ``halo`` more on each side, clipped at the image's top and bottom (where the
band pads exactly as the whole image would), and only its own rows are kept. The rows next to
a band's cut, which padding spoils, all lie in the halo that is dropped. The result is the
map of the whole image; the memory held is the output and one band's working set.

Images of up to :data:`STRIP_PIXELS` pixels per sample are one band: computed as a whole.

A map that is zero wherever its input is (a tolerance on a pair's identical pixels, a filter
far from any non-zero pixel) is computed in boxes instead: :func:`boxes_around` the pixels
that matter, :func:`in_boxes` pastes each box's map into zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

#: Pixels per sample that one band covers, halo included (about 2 megapixels): large enough that the
#: halo adds little work (a 35-row halo on a 6000 px wide image: about a quarter), small enough that
#: a band's working set stays near 150 MiB for an RGB pair.
STRIP_PIXELS = 2**21


def strip_rows(width: int, halo: int, pixels: int | None = None) -> int:
    """Rows each band keeps for images ``width`` wide: about ``pixels`` (:data:`STRIP_PIXELS`) per
    band, at least twice the halo."""
    pixels = STRIP_PIXELS if pixels is None else pixels
    return max(2 * halo, 16, pixels // max(1, width) - 2 * halo)


def bands(height: int, rows: int, halo: int) -> Iterator[tuple[slice, slice, slice]]:
    """``(read, keep, out)`` for each band: the image rows it reads (its halo included, clipped to
    the image), the rows of its result to keep, and where they go in the output."""
    for start in range(0, height, rows):
        stop = min(height, start + rows)
        low, high = max(0, start - halo), min(height, stop + halo)
        yield slice(low, high), slice(start - low, stop - low), slice(start, stop)


def map_in_strips(fn: Callable[..., Tensor], tensors: Sequence[Tensor | None], halo: int,
                  rows: int | None = None) -> Tensor:
    """``fn(*tensors)`` for tensors of one height (NxCxHxW), computed band by band (module docstring).

    Args:
        fn: a map of its inputs whose every row depends only on input rows within ``halo``
            of it; returns NxKxhxW for inputs h rows high.
        tensors: its inputs, cut into bands along the rows; ``None`` passes as ``None``.
        halo: rows of context each band needs on each side.
        rows: rows kept per band; default :func:`strip_rows`.
    Returns:
        The map of the whole image, NxKxHxW.
    """
    present = [t for t in tensors if t is not None]
    height, width = present[0].shape[-2:]
    rows = strip_rows(width, halo) if rows is None else max(1, int(rows))
    if rows >= height:
        return fn(*tensors)
    out: Tensor | None = None
    for read, keep, target in bands(height, rows, halo):
        part = fn(*(t[..., read, :] if t is not None else None for t in tensors))
        if out is None:
            out = torch.empty((*part.shape[:-2], height, width), dtype=part.dtype, device=part.device)
        out[..., target, :] = part[..., keep, :]
    return out  # type: ignore[return-value]  # rows < height: at least one band


#: Runs of marked columns (then rows) of :func:`boxes_around` closer than this, beyond their
#: margins, make one box: each box costs a few calls, a gap this wide little work.
BOX_GAP_PX = 32

Box = tuple[int, int, int, int]


def boxes_around(mask: np.ndarray, margin: int, join: int = BOX_GAP_PX) -> list[Box]:
    """Boxes ``(top, bottom, left, right)`` (ends exclusive, clipped to the image) holding every
    True pixel of an HxW bool mask and ``margin`` px around it; none when it has none.

    The marked pixels are cut into runs of columns, each run into runs of rows (runs farther
    apart than ``2 margin`` + ``join`` are cut), and each box is as wide as the
    columns of its own pixels: the boxes do not overlap, and a pixel of one lies more than
    ``margin`` + ``join`` px from every other box's marked pixels. A smaller ``join`` gives
    more, tighter boxes (lines of text each their own).
    """
    height, width = mask.shape
    gap = 2 * margin + join
    boxes = []
    for left, right in _runs(mask.any(axis=0), gap):
        for top, bottom in _runs(mask[:, left:right].any(axis=1), gap):
            columns = np.flatnonzero(mask[top:bottom, left:right].any(axis=0))
            boxes.append((max(0, top - margin), min(height, bottom + margin),
                          max(0, left + int(columns[0]) - margin), min(width, left + int(columns[-1]) + 1 + margin)))
    return boxes


def _runs(flags: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of the runs of True in ``flags``, runs closer than ``gap`` joined."""
    where = np.flatnonzero(flags)
    if not where.size:
        return []
    breaks = np.flatnonzero(np.diff(where) > gap)
    return [(int(start), int(stop) + 1) for start, stop in zip(where[np.r_[0, breaks + 1]], where[np.r_[breaks, where.size - 1]])]


def in_boxes(fn: Callable[..., Tensor], tensors: Sequence[Tensor], boxes: Sequence[Box]) -> Tensor:
    """``fn(*tensors)`` (NxCxHxW each) computed on each of ``boxes`` and pasted into zeros.

    The caller vouches that the map is zero outside the boxes and that ``fn`` of a box gives
    the whole image's values in it; ``boxes`` do not overlap, and there is at least one.
    """
    height, width = tensors[0].shape[-2:]
    out: Tensor | None = None
    for top, bottom, left, right in boxes:
        part = fn(*(t[..., top:bottom, left:right] for t in tensors))
        if out is None:
            out = part.new_zeros((*part.shape[:-2], height, width))
        out[..., top:bottom, left:right] = part
    return out  # type: ignore[return-value]  # boxes is not empty


__all__ = ["BOX_GAP_PX", "STRIP_PIXELS", "bands", "boxes_around", "in_boxes", "map_in_strips", "strip_rows"]
