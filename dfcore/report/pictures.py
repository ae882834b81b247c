"""Pictures for reports and figures: 8-bit previews, reduced maps, thumbnails, encoded bytes.

Reducing a picture averages blocks of pixels; reducing a *map* keeps, in each block, the
value of largest magnitude, so a one-pixel change is still visible in a thumbnail.
"""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path

import numpy as np

from dfcore.errors import DfindError


def to_uint8(array: np.ndarray) -> np.ndarray:
    """An image array -> 8-bit HxW or HxWx3 for display.

    ``uint8`` is kept, ``uint16`` is divided by 257, floats are taken as [0, 1]. Four
    channels show the first three; two or more than four show their mean.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[2] != 3:
        array = array[..., :3] if array.shape[2] == 4 else array.astype(np.float32).mean(axis=2)
    if array.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC image, got shape {array.shape}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    scaled = np.clip(np.nan_to_num(array.astype(np.float32), nan=0.0), 0.0, 1.0) * 255.0 + 0.5
    return scaled.astype(np.uint8)


def reduction(height: int, width: int, max_side: int | None) -> int:
    """The integer factor that brings the larger side to at most ``max_side`` (1: none)."""
    if not max_side or max(height, width) <= max_side:
        return 1
    return math.ceil(max(height, width) / max_side)


def _blocks(array: np.ndarray, factor: int, pad_mode: str) -> np.ndarray:
    """Pad to a multiple of ``factor`` and view as (H/f, f, W/f, f, ...)."""
    h, w = array.shape[:2]
    ph, pw = (-h) % factor, (-w) % factor
    if ph or pw:
        pad = [(0, ph), (0, pw)] + [(0, 0)] * (array.ndim - 2)
        array = np.pad(array, pad, mode=pad_mode)
    shape = (array.shape[0] // factor, factor, array.shape[1] // factor, factor, *array.shape[2:])
    return array.reshape(shape)


def reduce_picture(picture: np.ndarray, factor: int) -> np.ndarray:
    """Block-average an 8-bit picture by an integer ``factor`` (to ceil(H/f) x ceil(W/f), as maps)."""
    if factor <= 1:
        return picture
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(picture)).reduce(factor))


def reduce_map(map2d: np.ndarray, factor: int) -> np.ndarray:
    """Reduce a map by ``factor``, keeping in each block the value of largest magnitude."""
    if factor <= 1:
        return map2d
    blocks = _blocks(np.nan_to_num(np.asarray(map2d, dtype=np.float32), nan=0.0), factor, "constant")
    blocks = blocks.transpose(0, 2, 1, 3).reshape(blocks.shape[0], blocks.shape[2], factor * factor)
    pick = np.abs(blocks).argmax(axis=2)
    return np.take_along_axis(blocks, pick[..., None], axis=2)[..., 0]


def reduce_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    """Reduce a bool mask by ``factor``: a block is set when any of its pixels is."""
    if factor <= 1:
        return mask
    return _blocks(np.asarray(mask, dtype=bool), factor, "constant").any(axis=(1, 3))


def fit_size(height: int, width: int, box: int) -> tuple[int, int]:
    """(width, height) of a picture scaled to fit a ``box`` x ``box`` square, at least 1x1."""
    scale = min(1.0, box / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode(picture: np.ndarray, fmt: str = "PNG", quality: int = 85, compress_level: int = 3) -> bytes:
    """Encode an 8-bit HxW or HxWx3 picture as PNG (lossless) or JPEG (thumbnails)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(picture))
    buffer = io.BytesIO()
    if fmt.upper() == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def data_uri(picture: np.ndarray, fmt: str = "PNG") -> str:
    """A picture as a ``data:`` URI, to embed it in a self-contained page."""
    mime = "image/jpeg" if fmt.upper() == "JPEG" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(encode(picture, fmt)).decode("ascii")


def thumbnail(picture: np.ndarray, box: int) -> np.ndarray:
    """A picture reduced (Lanczos) to fit a ``box`` x ``box`` square."""
    from PIL import Image

    size = fit_size(picture.shape[0], picture.shape[1], box)
    if size == (picture.shape[1], picture.shape[0]):
        return picture
    return np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.LANCZOS))


def read_picture(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file (any depth dfind reads, EXIF orientation, alpha over white) to 8 bits."""
    from dfcore.io.images import read_image

    array, _ = read_image(path)
    return to_uint8(array)


def read_picture_quietly(path: str | os.PathLike[str]) -> tuple[np.ndarray | None, str | None]:
    """:func:`read_picture`, or ``(None, reason)`` when the file cannot be used."""
    try:
        return read_picture(path), None
    except DfindError as exc:
        return None, str(exc)
    except (OSError, ValueError) as exc:
        return None, f"{path}: {exc}"


def write_picture(path: Path, picture: np.ndarray, fmt: str = "PNG") -> Path:
    """Write an encoded picture atomically (a temporary name, then renamed)."""
    from dfcore.io.files import atomic_write

    payload = encode(picture, fmt)
    return atomic_write(path, lambda f: f.write(payload))
