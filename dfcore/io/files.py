"""Writing files atomically: PNG pictures, raw maps, JSON, text.

Every file is written to a temporary name in the same directory and renamed into place, so
an interrupted run never leaves a half-written file under a final name. The temporary name
says who writes it (``.NAME.HOST~PID~TOKEN~R.part``, :mod:`dfcore.io.sharing`), so that another
run sharing the folder removes it only once its writer is gone. Files are created as
``open()`` creates them: mode 0666 less the process's umask. :func:`jsonable` turns numpy
values, paths and non-finite floats into plain JSON values.

Pictures that dfind draws (heatmaps, masks) are encoded by :func:`encode_png` without
Pillow: every row unfiltered and deflated by ISA-L (the ``isal`` package, level
``ISAL_LEVEL``), or by zlib at level 1 where ``isal`` has no wheel. A heatmap is a 256-colour
lookup, so its repeated colour triples compress better unfiltered than after PNG's per-row
filters, and skipping the filter search makes it several times faster to write than Pillow's
default; ISA-L deflates a 512 px gradient heatmap 3.5x faster than zlib's fastest level, in a
file about a third larger (``docs/performance.md``). Photographs (the previews of a report)
keep Pillow's encoder, whose filters suit them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dfcore.errors import InputError
from dfcore.io.sharing import partial_name, process_owner

#: Permissions asked for new files; the umask takes its bits away, as for ``open()``.
FILE_MODE = 0o666


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(partial_name(path.name, process_owner()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
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


def check_writable(folder: str | os.PathLike[str], what: str = "output") -> Path:
    """Make sure files can be written into ``folder`` (created if missing) before any work is done.

    A probe file is created there and removed again, so a read-only mount, missing
    permissions or a full quota on inodes show up now, not after every pair was computed.
    ``what`` names the folder in messages (``output``, ``reference``).

    Raises:
        InputError: naming the folder and the cause in words.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: the {what} must be a folder, and this is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the {what} folder: {_cause(exc)}") from None
    probe = folder / partial_name("write-test", process_owner())
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{folder}: cannot write into the {what} folder: {_cause(exc)}") from None
    return folder


def _cause(exc: OSError) -> str:
    """An OS error in words: ``permission denied``, ``read-only file system``..."""
    words = exc.strerror or str(exc)
    return words[:1].lower() + words[1:]


#: zlib level of :func:`encode_png` without ``isal``: the fastest; a higher level saves a few percent on heatmaps.
PNG_LEVEL = 1
#: ISA-L level (0-3) of :func:`encode_png`: as fast as its level 0 on heatmaps, files a fifth smaller.
ISAL_LEVEL = 2
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types by channels: grey, RGB.
_PNG_COLOUR = {1: 0, 3: 2}


def encode_png(array: np.ndarray, level: int | None = None) -> bytes:
    """An HxW (grey) or HxWx3 (RGB) uint8 array as PNG bytes: unfiltered rows, deflated.

    ``level``: a zlib level (0-9) to deflate with zlib; ``None``: the fastest deflate installed
    (ISA-L at ``ISAL_LEVEL``, else zlib at ``PNG_LEVEL``).
    """
    array = np.asarray(array)
    channels = 1 if array.ndim == 2 else array.shape[-1]
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or channels not in _PNG_COLOUR:
        raise ValueError(f"encode_png takes HxW or HxWx3 uint8 arrays, got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = array.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR[channels], 0, 0, 0)
    return b"".join((PNG_SIGNATURE, _png_chunk(b"IHDR", header), _png_chunk(b"IDAT", deflate(rows, level)),
                     _png_chunk(b"IEND", b"")))


def deflate(data: Any, level: int | None = None) -> bytes:
    """``data`` as a zlib stream: by zlib at ``level``, or (``None``) by ISA-L when ``isal`` is installed."""
    if level is None:
        try:
            from isal import isal_zlib
        except ImportError:
            level = PNG_LEVEL
        else:
            return isal_zlib.compress(data, ISAL_LEVEL)
    return zlib.compress(data, level)


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
