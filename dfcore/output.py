"""Writing results: heatmap PNGs, raw maps, masks and JSON, each written atomically.

Every file is written to a temporary name in the same directory and renamed into place, so
an interrupted run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dfcore.errors import ParameterError

DEFAULT_COLORMAP = "inferno"
DEFAULT_DIVERGING_COLORMAP = "RdBu_r"
#: The two greys of the diagonal hatch that marks pixels which were not compared.
INVALID_HATCH = ((88, 88, 88), (150, 150, 150))


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_png(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write an HxW or HxWx3 uint8 array as PNG."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(array))
    return atomic_write(path, lambda f: image.save(f, format="PNG"))


def write_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    return atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    text = json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def jsonable(value: Any) -> Any:
    """Convert numpy scalars, paths, tuples and non-finite floats into plain JSON values.

    Non-finite floats become the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (JSON has no
    such numbers; PSNR of identical images is ``"inf"``).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    return value


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
    finite = map2d[np.isfinite(map2d)]
    signed = finite.size > 0 and float(finite.min()) < 0.0
    top = float(vmax) if vmax is not None else (float(np.abs(finite).max()) if finite.size else 0.0)
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
    scaled = (np.nan_to_num(map2d, nan=0.0) - vmin) / ((vmax - vmin) or 1.0)
    index = np.clip(scaled * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return lut[index]


def hatch_invalid(picture: np.ndarray, valid: np.ndarray, period: int = 8) -> np.ndarray:
    """Draw the pixels where ``valid`` is False as a grey diagonal hatch: they were not compared.

    ``picture`` is HxWx3 uint8 (from :func:`colorize`), ``valid`` HxW bool; returns a copy.
    """
    yy, xx = np.indices(valid.shape)
    stripe = ((xx + yy) // max(1, period // 2)) % 2 == 0
    out = picture.copy()
    out[~valid & stripe] = INVALID_HATCH[0]
    out[~valid & ~stripe] = INVALID_HATCH[1]
    return out
