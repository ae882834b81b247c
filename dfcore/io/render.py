"""Rendering maps as pictures: colour maps, colour scales, the hatch of pixels not compared.

A map is drawn with a matplotlib colour map through a 256-entry lookup table: ``inferno`` from
0 for non-negative maps, ``RdBu_r`` symmetric about 0 for signed ones (:func:`color_scale`).
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import numpy as np

from dfcore.errors import ParameterError

DEFAULT_COLORMAP = "inferno"
DEFAULT_DIVERGING_COLORMAP = "RdBu_r"
#: The two greys of the diagonal hatch that marks pixels which were not compared.
INVALID_HATCH = ((88, 88, 88), (150, 150, 150))
_HATCH_ROWS = 256


@lru_cache(maxsize=16)
def colormap_lut(name: str) -> np.ndarray:
    """A 256x3 uint8 lookup table for a matplotlib colormap name."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(matplotlib.colormaps), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ParameterError(f"unknown colormap {name!r}{hint}") from None
    return (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def color_scale(map2d: np.ndarray, vmax: float | None = None) -> tuple[float, float]:
    """(vmin, vmax) for a map: [0, max] for non-negative maps, symmetric for signed ones."""
    finite = map2d if np.isfinite(map2d).all() else map2d[np.isfinite(map2d)]  # no copy when all are finite
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    signed = low < 0.0
    top = float(vmax) if vmax is not None else max(abs(low), abs(high))
    if not top > 0.0:
        top = 1.0
    return (-top if signed else 0.0), top


def default_colormap(vmin: float) -> str:
    """``inferno`` for non-negative maps, ``RdBu_r`` (centred on zero) for signed ones."""
    return DEFAULT_DIVERGING_COLORMAP if vmin < 0 else DEFAULT_COLORMAP


def colorize(map2d: np.ndarray, colormap: str | None = None, vmax: float | None = None) -> np.ndarray:
    """An HxW map -> HxWx3 uint8 picture; signed maps get a diverging colormap centred on 0."""
    vmin, top = color_scale(map2d, vmax)
    return apply_colormap(map2d, colormap or default_colormap(vmin), vmin, top)


def apply_colormap(map2d: np.ndarray, colormap: str, vmin: float, vmax: float) -> np.ndarray:
    """An HxW map -> HxWx3 uint8 picture, ``vmin`` and ``vmax`` at the colormap's two ends."""
    lut = colormap_lut(colormap)
    # One float copy of the map, scaled in place (the same arithmetic as a chain of expressions).
    scaled = np.nan_to_num(map2d.astype(np.result_type(map2d, np.float32)), copy=False, nan=0.0)
    np.subtract(scaled, vmin, out=scaled)
    np.divide(scaled, (vmax - vmin) or 1.0, out=scaled)
    np.multiply(scaled, 255.0, out=scaled)
    np.add(scaled, 0.5, out=scaled)
    index = np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
    del scaled
    return lut[index]


def hatch_invalid(picture: np.ndarray, valid: np.ndarray, period: int = 8) -> np.ndarray:
    """Draw the pixels where ``valid`` is False as a grey diagonal hatch: they were not compared.

    ``picture`` is HxWx3 uint8 (from :func:`colorize`), ``valid`` HxW bool; returns a copy.
    """
    out = picture.copy()
    half = max(1, period // 2)
    columns = np.arange(valid.shape[1])
    for start in range(0, valid.shape[0], _HATCH_ROWS):  # a band of rows at a time: no full-size index grids
        rows = np.arange(start, min(valid.shape[0], start + _HATCH_ROWS))
        stripe = ((columns[None] + rows[:, None]) // half) % 2 == 0
        hidden, band = ~valid[rows[0]:rows[-1] + 1], out[rows[0]:rows[-1] + 1]
        band[hidden & stripe] = INVALID_HATCH[0]
        band[hidden & ~stripe] = INVALID_HATCH[1]
    return out
