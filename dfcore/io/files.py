"""Writing files atomically: PNG pictures, raw maps, JSON, text.

Every file is written to a temporary name in the same directory and renamed into place, so
an interrupted run never leaves a half-written file under a final name. :func:`jsonable`
turns numpy values, paths and non-finite floats into plain JSON values.

Pictures that dfind draws (heatmaps, masks) are encoded by :func:`encode_png` without
Pillow: every row unfiltered and deflated at level 1. A heatmap is a 256-colour lookup, so
its repeated colour triples compress better unfiltered than after PNG's per-row filters, and
skipping the filter search makes it several times faster to write than Pillow's default
(``docs/performance.md``). Photographs (the previews of a report) keep Pillow's encoder, whose
filters suit them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


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


#: zlib level of :func:`encode_png`: the fastest; a higher level saves a few percent on heatmaps.
PNG_LEVEL = 1
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types by channels: grey, RGB.
_PNG_COLOUR = {1: 0, 3: 2}


def encode_png(array: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """An HxW (grey) or HxWx3 (RGB) uint8 array as PNG bytes: unfiltered rows, deflated at ``level``."""
    array = np.asarray(array)
    channels = 1 if array.ndim == 2 else array.shape[-1]
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or channels not in _PNG_COLOUR:
        raise ValueError(f"encode_png takes HxW or HxWx3 uint8 arrays, got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = array.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR[channels], 0, 0, 0)
    return b"".join((_PNG_SIGNATURE, _png_chunk(b"IHDR", header), _png_chunk(b"IDAT", zlib.compress(rows, level)),
                     _png_chunk(b"IEND", b"")))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: str | os.PathLike[str], array: np.ndarray, *, photo: bool = False) -> Path:
    """Write an HxW or HxWx3 uint8 array as PNG: :func:`encode_png`, or Pillow's encoder for a ``photo``."""
    if not photo:
        data = encode_png(array)
        return atomic_write(path, lambda f: f.write(data))
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
