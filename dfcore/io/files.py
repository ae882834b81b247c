"""Writing files atomically: PNG pictures, raw maps, JSON, text.

Every file is written to a temporary name in the same directory and renamed into place, so
an interrupted run never leaves a half-written file under a final name. :func:`jsonable`
turns numpy values, paths and non-finite floats into plain JSON values.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
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
