"""Image files to HxWxC float32 arrays in [0, 1], without torch: the decoding behind every input.

Files are decoded by Pillow (PNG, JPEG, TIFF, WebP, BMP; the first frame of multi-frame
files), with the EXIF orientation applied. Two kinds go to OpenCV instead, in one call that
releases the GIL (so decoding threads run beside the computation, and beside torch's import):

* 16-bit colour PNG and TIFF, which Pillow reduces to 8 bits: OpenCV keeps full precision;
* plain 8-bit PNG (grey, RGB or RGBA; no palette, no transparent colour, no EXIF): the
  same pixels as Pillow's, bit for bit (PNG is lossless), about a fifth faster, and without
  taking the GIL for every block of the file as Pillow's decoder does.

An alpha channel is composited over white. :func:`read_image` serves a file that
:mod:`dfcore.io.readahead` decoded ahead of its use, when one is installed.

This module imports no torch: the command line decodes a folder run's first pairs while
torch is imported (:mod:`dfcore.io.readahead`); :mod:`dfcore.io.images` turns the arrays into
tensors.
"""

from __future__ import annotations

import binascii
import io
import os
import re
import struct
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dfcore.errors import InputError, ParameterError
from dfcore.io.files import PNG_SIGNATURE
from dfcore.io.sources import NOT_AN_IMAGE, check_file

MAX_PIXELS_ENV = "DFIND_MAX_PIXELS"
#: Memory a comparison takes per pixel of the pair with the default pipeline, decoding and writing
#: included, and the process's own before any image is read (docs/performance.md measures both):
#: what the decode limit's message says a larger image would need.
RUN_BYTES_PER_PIXEL = 48
RUN_BASE_BYTES = 600 * 2**20


def run_memory(pixels: int) -> int:
    """Bytes a comparison of two images of ``pixels`` pixels needs with the default pipeline, about."""
    return RUN_BASE_BYTES + RUN_BYTES_PER_PIXEL * pixels


def _memory_needed(pixels: int) -> str:
    return (f"comparing it needs about {run_memory(pixels) / 2**30:.1f} GiB of memory with the default pipeline "
            "(docs/performance.md)")


@dataclass(frozen=True)
class ImageInfo:
    """Where an image came from and how it was decoded (recorded in results)."""

    source: str
    width: int
    height: int
    channels: int
    mode: str = ""
    bit_depth: int = 8
    alpha: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def max_pixels() -> int:
    """The decompression-bomb guard: ``DFIND_MAX_PIXELS`` or Pillow's limit."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if value:
        try:
            limit = int(value)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise ParameterError(f"{MAX_PIXELS_ENV} must be a positive number of pixels, got {value!r}")
        return limit
    return int(Image.MAX_IMAGE_PIXELS or 0) or 2**62


def _lift_pillow_limit(limit: int) -> None:
    """Let Pillow open what ``limit`` allows: it refuses more than twice its own limit itself.

    Only a ``DFIND_MAX_PIXELS`` above Pillow's limit changes it (process-wide, as the
    variable is); :func:`decode_image` then enforces ``limit``.
    """
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit


#: Where :func:`read_image` looks first: a function of a path that gives a decoded result, or
#: ``None`` when it has none (:class:`dfcore.io.readahead.ReadAhead` installs one for a run).
_ahead: Callable[[str], tuple[np.ndarray, ImageInfo] | None] | None = None


def serve_from(source: Callable[[str], tuple[np.ndarray, ImageInfo] | None] | None) -> None:
    """Let :func:`read_image` take decoded files from ``source`` first (``None``: none)."""
    global _ahead
    _ahead = source


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageInfo]:
    """Decode an image file into an HxWxC float32 array in [0, 1] and its :class:`ImageInfo`."""
    ahead = _ahead
    if ahead is not None:
        found = ahead(os.fspath(path))
        if found is not None:
            return found
    return read_file(path)


def read_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageInfo]:
    """:func:`read_image` from the file itself, now."""
    path = check_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, str(path))


def decoded_bytes(data: bytes) -> int:
    """The bytes of the array :func:`decode_image` makes of ``data``, at most, read from its header
    (``sys.maxsize`` when the header cannot be read, or names more pixels than Pillow opens)."""
    item = np.dtype(np.float32).itemsize
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 26:  # no Pillow needed
        width, height = struct.unpack_from(">II", data, 16)
        return width * height * _PNG_CHANNELS.get(data[25], 4) * item
    try:
        image = _open(data)
        return image.width * image.height * len(image.getbands()) * item
    except Exception:  # noqa: BLE001 -- decoding it would fail, or need the limit lifted
        return sys.maxsize


def _open(data: bytes) -> Image.Image:
    """Pillow's lazy image of ``data`` (its header read); the size is checked by the caller."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def decode_image(data: bytes, source: str) -> tuple[np.ndarray, ImageInfo]:
    """Decode encoded image bytes; ``source`` names it in errors."""
    limit = max_pixels()
    _lift_pillow_limit(limit)
    try:
        image = _open(data)
        width, height = image.size
        if width * height > limit:
            raise InputError(
                f"{source}: refusing to decode {width}x{height} = {width * height} pixels, more than the "
                f"limit of {limit} (a decompression-bomb guard); {_memory_needed(width * height)}; "
                f"set {MAX_PIXELS_ENV} to raise the limit"
            )
        if _is_high_bit_colour(image):
            return _decode_with_opencv(data, image, source)
        if image.mode in _PLAIN_PNG_MODES and plain_png8(data):
            plain = _decode_plain_png(data, image.mode, source)
            if plain is not None:
                return plain
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = ImageOps.exif_transpose(image)
            array, mode, depth, alpha = pil_to_array(image, source)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow refused it before its size reached us
        need = f"; {_memory_needed(int(found.group(1)))}" if found else ""
        raise InputError(f"{source}: refusing to decode: {exc}{need} (set {MAX_PIXELS_ENV} to raise the limit)") from None
    except UnidentifiedImageError:
        raise InputError(f"{source}: {NOT_AN_IMAGE}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{source}: corrupt or truncated image ({exc})") from None
    info = ImageInfo(source, array.shape[1], array.shape[0], array.shape[2], mode, depth, alpha)
    return array, info


def _is_high_bit_colour(image: Image.Image) -> bool:
    if image.mode not in ("RGB", "RGBA"):
        return False
    rawmodes = [str(tile.args[0] if isinstance(tile.args, tuple) else tile.args) for tile in image.tile]
    return any(";16" in raw for raw in rawmodes)


def _decode_with_opencv(data: bytes, image: Image.Image, source: str) -> tuple[np.ndarray, ImageInfo]:
    import cv2

    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 3:
        raise InputError(f"{source}: cannot decode this 16-bit colour image")
    order = [2, 1, 0, 3][: raw.shape[2]]
    array = to_unit(raw[..., order], 65535.0)
    array = apply_orientation(array, image.getexif().get(0x0112, 1))
    array, alpha = composite_alpha(array)
    mode = image.mode
    return array, ImageInfo(source, array.shape[1], array.shape[0], array.shape[2], mode, 16, alpha)


#: Pillow's mode of the 8-bit PNG colour types that OpenCV decodes to the same pixels: grey, RGB, RGBA.
_PLAIN_PNG_MODES = {"L": 0, "RGB": 2, "RGBA": 6}
#: Samples per pixel of each PNG colour type: grey, RGB, palette (RGB or RGBA), grey+alpha, RGBA.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}
#: Chunks that make Pillow's pixels differ from the raw samples: a transparent colour, EXIF
#: (its orientation), a palette.
_NOT_PLAIN = (b"tRNS", b"eXIf", b"PLTE")


def plain_png8(data: bytes) -> bool:
    """Whether ``data`` is a whole PNG of 8-bit grey, RGB or RGBA samples with no chunk that
    changes them (:data:`_NOT_PLAIN`): what :func:`_decode_plain_png` gives as Pillow would.

    Walks the chunks and checks their CRCs: a file cut short, damaged, or with a chunk that
    runs past its end is not plain, and goes to Pillow, which names what is wrong (libpng,
    under OpenCV, would print its own complaint besides).
    """
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33 or data[12:16] != b"IHDR":
        return False
    depth, colour = data[24], data[25]
    if depth != 8 or colour not in _PLAIN_PNG_MODES.values():
        return False
    position, end, view = 8, len(data), memoryview(data)
    while position + 12 <= end:
        length, kind = struct.unpack_from(">I4s", data, position)
        following = position + 12 + length
        if kind in _NOT_PLAIN or following > end:
            return False
        (crc,) = struct.unpack_from(">I", data, following - 4)
        if binascii.crc32(view[position + 4:following - 4]) != crc:  # binascii's keeps the GIL: no wait per chunk
            return False
        position = following
        if kind == b"IEND":
            return True
    return False


def _decode_plain_png(data: bytes, mode: str, source: str) -> tuple[np.ndarray, ImageInfo] | None:
    """A :func:`plain_png8` file decoded by OpenCV in one call (the GIL released), as Pillow's
    pixels; ``None`` when OpenCV cannot (Pillow then decodes it, or names what is wrong)."""
    import cv2

    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    channels = _PNG_CHANNELS[_PLAIN_PNG_MODES[mode]]
    if raw is None or raw.dtype != np.uint8 or (raw.shape[2] if raw.ndim == 3 else 1) != channels:
        return None
    if raw.ndim == 2:
        raw = raw[:, :, None]
    else:  # OpenCV's blue-green-red order, swapped in one pass
        raw = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA)
    array, alpha = composite_alpha(to_unit(raw, 255.0))
    return array, ImageInfo(source, array.shape[1], array.shape[0], array.shape[2], mode, 8, alpha)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 1..8 applied to an HxWxC array (what ``ImageOps.exif_transpose`` does)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: np.transpose(a, (1, 0, 2)),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(np.transpose(a, (1, 0, 2)), 2),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(int(orientation))
    return np.ascontiguousarray(op(array)) if op else array


def pil_to_array(image: Image.Image, source: str) -> tuple[np.ndarray, str, int, str]:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("PA", "RGBa"):  # RGBa: alpha premultiplied, as Pillow's drawing modes keep it
        image = image.convert("RGBA")
    elif mode == "La":
        image = image.convert("LA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):  # RGBX: RGB with a padding byte
        image = image.convert("RGB")
    current = image.mode
    if current == "1":
        array, depth = np.asarray(image, dtype=np.float32), 1
    elif current in ("L", "LA", "RGB", "RGBA"):
        array, depth = to_unit(np.asarray(image, dtype=np.uint8), 255.0), 8
    elif current.startswith("I;16"):
        array, depth = to_unit(np.asarray(image), 65535.0), 16
    elif current == "I":
        values = np.asarray(image)
        rawmodes = " ".join(str(t.args) for t in getattr(image, "tile", None) or ())  # none in memory
        if "16" not in rawmodes and values.max(initial=0) > 65535:
            raise InputError(f"{source}: 32-bit integer images are not supported")
        array, depth = to_unit(values, 65535.0), 16
    elif current == "F":
        array, depth = np.asarray(image, dtype=np.float32), 32
    else:
        raise InputError(f"{source}: unsupported image mode {current!r}")
    if array.ndim == 2:
        array = array[:, :, None]
    array, alpha = composite_alpha(array)
    return np.ascontiguousarray(array), mode, depth, alpha


def to_unit(values: np.ndarray, peak: float) -> np.ndarray:
    """``values / peak`` as float32, divided in place: one float copy of the image, not two."""
    array = values.astype(np.float32)
    return np.divide(array, np.float32(peak), out=array)


def composite_alpha(array: np.ndarray) -> tuple[np.ndarray, str]:
    """Composite a trailing alpha channel (LA or RGBA) over white."""
    if array.shape[2] not in (2, 4):
        return array, "none"
    colour, alpha = array[..., :-1], array[..., -1:]
    return colour * alpha + (1.0 - alpha), "composited over white"


