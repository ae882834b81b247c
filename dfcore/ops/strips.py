"""Row strips: a local map computed a band of rows at a time, so its working memory stays bounded.

When every pixel of a map depends only on the inputs within ``halo`` rows of it (filters,
shift tolerance, window statistics), the map can be made band by band: each band is computed
from its rows and ``halo`` more on each side, clipped at the image's top and bottom (where the
band pads exactly as the whole image would), and only its own rows are kept. The rows next to
a band's cut, which padding spoils, all lie in the halo that is dropped. The result is the
map of the whole image; the memory held is the output and one band's working set.

Images of up to :data:`STRIP_PIXELS` pixels per sample are one band: computed as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

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


__all__ = ["STRIP_PIXELS", "bands", "map_in_strips", "strip_rows"]
