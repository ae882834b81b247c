"""Turning what users pass (files, PIL images, arrays, tensors) into NxCxHxW tensors in [0, 1].

Layout rule, by type and never guessed from sizes:

* numpy arrays are channels-last: ``HxW`` (grey) or ``HxWxC`` with C in 1..4.
* torch tensors are channels-first: ``HxW``, ``CxHxW`` or ``NxCxHxW``.
* files and PIL images are decoded by Pillow (PNG, JPEG, TIFF, WebP, BMP; the first frame
  of multi-frame files), with the EXIF orientation applied. 16-bit colour PNG and TIFF,
  which Pillow reduces to 8 bits, are decoded by OpenCV so they keep full precision.

Values: ``uint8`` is divided by 255, ``uint16`` by 65535, bool becomes 0/1, float must
already lie in [0, 1]. An alpha channel (files, PIL, numpy ``HxWx4``) is composited over
white, as pixelmatch does, so a transparent pixel compares as white; tensors are taken as
they are. When one image is grey and the other colour, the grey one is repeated to three
channels. NaN or infinite values are refused.
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from dfcore.errors import InputError, ParameterError, ShapeError

MAX_PIXELS_ENV = "DFIND_MAX_PIXELS"
_RANGE_TOLERANCE = 1e-4
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


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageInfo]:
    """Decode an image file into an HxWxC float32 array in [0, 1] and its :class:`ImageInfo`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, str(path))


def decode_image(data: bytes, source: str) -> tuple[np.ndarray, ImageInfo]:
    """Decode encoded image bytes; ``source`` names it in errors."""
    limit = max_pixels()
    _lift_pillow_limit(limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > limit:
            raise InputError(
                f"{source}: refusing to decode {width}x{height} = {width * height} pixels, more than the "
                f"limit of {limit} (a decompression-bomb guard); {_memory_needed(width * height)}; "
                f"set {MAX_PIXELS_ENV} to raise the limit"
            )
        if _is_high_bit_colour(image):
            return _decode_with_opencv(data, image, source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = ImageOps.exif_transpose(image)
            array, mode, depth, alpha = _pil_to_array(image, source)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow refused it before its size reached us
        need = f"; {_memory_needed(int(found.group(1)))}" if found else ""
        raise InputError(f"{source}: refusing to decode: {exc}{need} (set {MAX_PIXELS_ENV} to raise the limit)") from None
    except UnidentifiedImageError:
        raise InputError(f"{source}: not an image Pillow can read (PNG, JPEG, TIFF, WebP, BMP)") from None
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
    array = _to_unit(raw[..., order], 65535.0)
    array = _apply_orientation(array, image.getexif().get(0x0112, 1))
    array, alpha = _composite_alpha(array)
    mode = image.mode
    return array, ImageInfo(source, array.shape[1], array.shape[0], array.shape[2], mode, 16, alpha)


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
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


def _pil_to_array(image: Image.Image, source: str) -> tuple[np.ndarray, str, int, str]:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    current = image.mode
    if current == "1":
        array, depth = np.asarray(image, dtype=np.float32), 1
    elif current in ("L", "LA", "RGB", "RGBA"):
        array, depth = _to_unit(np.asarray(image, dtype=np.uint8), 255.0), 8
    elif current.startswith("I;16"):
        array, depth = _to_unit(np.asarray(image), 65535.0), 16
    elif current == "I":
        values = np.asarray(image)
        rawmodes = " ".join(str(t.args) for t in image.tile)
        if "16" not in rawmodes and values.max(initial=0) > 65535:
            raise InputError(f"{source}: 32-bit integer images are not supported")
        array, depth = _to_unit(values, 65535.0), 16
    elif current == "F":
        array, depth = np.asarray(image, dtype=np.float32), 32
    else:
        raise InputError(f"{source}: unsupported image mode {current!r}")
    if array.ndim == 2:
        array = array[:, :, None]
    array, alpha = _composite_alpha(array)
    return np.ascontiguousarray(array), mode, depth, alpha


def _to_unit(values: np.ndarray, peak: float) -> np.ndarray:
    """``values / peak`` as float32, divided in place: one float copy of the image, not two."""
    array = values.astype(np.float32)
    return np.divide(array, np.float32(peak), out=array)


def _composite_alpha(array: np.ndarray) -> tuple[np.ndarray, str]:
    """Composite a trailing alpha channel (LA or RGBA) over white."""
    if array.shape[2] not in (2, 4):
        return array, "none"
    colour, alpha = array[..., :-1], array[..., -1:]
    return colour * alpha + (1.0 - alpha), "composited over white"


def _array_to_float(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return _to_unit(array, 255.0)
    if array.dtype == np.uint16:
        return _to_unit(array, 65535.0)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    raise InputError(f"{name}: unsupported array dtype {array.dtype}; use uint8, uint16, bool or float in [0, 1]")


def _tensor_to_float(tensor: torch.Tensor, name: str) -> torch.Tensor:
    tensor = tensor.detach()  # results are host arrays: no gradient flows back to the caller's tensor
    if tensor.dtype == torch.uint8:
        return tensor.float() / 255.0
    if tensor.dtype == torch.uint16:
        return tensor.float() / 65535.0
    if tensor.dtype == torch.bool:
        return tensor.float()
    if tensor.is_floating_point():
        return tensor.float()
    raise InputError(f"{name}: unsupported tensor dtype {tensor.dtype}; use uint8, uint16, bool or float in [0, 1]")


def as_batch(source: Any, device: torch.device | str, name: str = "input") -> tuple[torch.Tensor, ImageInfo]:
    """Any supported input -> (NxCxHxW float32 tensor on ``device``, :class:`ImageInfo`)."""
    if isinstance(source, (str, os.PathLike)):
        array, info = read_image(source)
        tensor = _hwc_to_batch(array)
    elif isinstance(source, Image.Image):
        array, mode, depth, alpha = _pil_to_array(ImageOps.exif_transpose(source), name)
        info = ImageInfo(name, array.shape[1], array.shape[0], array.shape[2], mode, depth, alpha)
        tensor = _hwc_to_batch(array)
    elif isinstance(source, np.ndarray):
        array = _array_to_float(source, name)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or not 1 <= array.shape[2] <= 4:
            raise ShapeError(
                f"{name}: numpy arrays are HxW or HxWxC with C in 1..4 (channels last); got shape "
                f"{tuple(source.shape)}: for channels-first data pass a torch tensor"
            )
        array, alpha = _composite_alpha(array)
        info = ImageInfo(name, array.shape[1], array.shape[0], array.shape[2], "array", _depth(source), alpha)
        tensor = _hwc_to_batch(array)
    elif isinstance(source, torch.Tensor):
        tensor = _tensor_to_float(source, name)
        if tensor.ndim == 2:
            tensor = tensor[None, None]
        elif tensor.ndim == 3:
            tensor = tensor[None]
        elif tensor.ndim != 4:
            raise ShapeError(f"{name}: tensors are HxW, CxHxW or NxCxHxW; got shape {tuple(source.shape)}")
        n, c, h, w = tensor.shape
        info = ImageInfo(name, w, h, c, "tensor", _depth(source))
    else:
        raise InputError(
            f"{name}: cannot use a {type(source).__name__}; pass a path, PIL image, numpy array or torch tensor"
        )
    tensor = tensor.to(device=device, dtype=torch.float32)
    check_values(tensor, name)
    return tensor, info


def _hwc_to_batch(array: np.ndarray) -> torch.Tensor:
    """HxWxC array -> 1xCxHxW tensor; a read-only array (a float TIFF, a caller's view) is copied."""
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).unsqueeze(0)


def _depth(source: Any) -> int:
    dtype = str(source.dtype)
    return 16 if "16" in dtype and "float" not in dtype else 8 if "uint8" in dtype or "bool" in dtype else 32


def check_values(tensor: torch.Tensor, name: str) -> None:
    """Refuse NaN/Inf and float values outside [0, 1] with a one-line message."""
    if tensor.numel() == 0:
        raise ShapeError(f"{name}: empty image {tuple(tensor.shape)}")
    low, high = (float(v) for v in torch.aminmax(tensor))  # one pass; NaN propagates, so a finite pair means all are
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = int((~torch.isfinite(tensor)).sum())
        raise InputError(f"{name}: contains {bad} NaN or infinite value{'s' if bad > 1 else ''}")
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise InputError(
            f"{name}: float values must lie in [0, 1], got [{low:.4g}, {high:.4g}]; rescale or clamp it first"
        )


def match_pair(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("a", "b"),
               same_size: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Check that two batches can be compared; repeat a grey image to the other's 3 channels.

    ``same_size=False`` lets the heights and widths differ (for a pipeline that resamples B
    onto A's grid first, as alignment does).
    """
    if same_size and a.shape[-2:] != b.shape[-2:]:
        ha, wa = a.shape[-2:]
        hb, wb = b.shape[-2:]
        raise ShapeError(f"image sizes differ: {names[0]} is {wa}x{ha}, {names[1]} is {wb}x{hb} (width x height); "
                         "choose a size policy (crop, pad, resize) or align them (-p align)")
    if a.shape[1] != b.shape[1]:
        if a.shape[1] == 1:
            a = a.expand(-1, b.shape[1], -1, -1)
        elif b.shape[1] == 1:
            b = b.expand(-1, a.shape[1], -1, -1)
        else:
            raise ShapeError(f"channel counts differ: {names[0]} has {a.shape[1]}, {names[1]} has {b.shape[1]}")
    if a.shape[0] != b.shape[0]:
        if a.shape[0] == 1:
            a = a.expand(b.shape[0], -1, -1, -1)
        elif b.shape[0] == 1:
            b = b.expand(a.shape[0], -1, -1, -1)
        else:
            raise ShapeError(f"batch sizes differ: {names[0]} has {a.shape[0]}, {names[1]} has {b.shape[0]}")
    return a, b
