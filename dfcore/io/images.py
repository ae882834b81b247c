"""Turning what users pass (files, PIL images, arrays, tensors) into NxCxHxW tensors in [0, 1].

Layout rule, by type and never guessed from sizes:

* numpy arrays are channels-last: ``HxW`` (grey) or ``HxWxC`` with C in 1..4.
* torch tensors are channels-first: ``HxW``, ``CxHxW`` or ``NxCxHxW``.
* files are decoded by :mod:`dfcore.io.decode` (Pillow, and OpenCV for 16-bit colour and
  plain 8-bit PNG), PIL images by Pillow, with the EXIF orientation applied.

Values: ``uint8`` is divided by 255, ``uint16`` by 65535, bool becomes 0/1, float must
already lie in [0, 1]. An alpha channel (files, PIL, numpy ``HxWx4``) is composited over
white, as pixelmatch does, so a transparent pixel compares as white; tensors are taken as
they are. When one image is grey and the other colour, the grey one is repeated to three
channels. NaN or infinite values are refused.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from dfcore.errors import InputError, ShapeError
from dfcore.io.decode import (  # noqa: F401 -- MAX_PIXELS_ENV and run_memory: this module's names too
    MAX_PIXELS_ENV,
    ImageInfo,
    composite_alpha,
    pil_to_array,
    read_image,
    run_memory,
    to_unit,
)

_RANGE_TOLERANCE = 1e-4


def _array_to_float(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return to_unit(array, 255.0)
    if array.dtype == np.uint16:
        return to_unit(array, 65535.0)
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
        array, mode, depth, alpha = pil_to_array(ImageOps.exif_transpose(source), name)
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
        array, alpha = composite_alpha(array)
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
        _, c, h, w = tensor.shape
        info = ImageInfo(name, w, h, c, "tensor", _depth(source))
    else:
        raise InputError(
            f"{name}: cannot use a {type(source).__name__}; pass a path, PIL image, numpy array or torch tensor"
        )
    tensor = tensor.to(device=device, dtype=torch.float32)
    if info.bit_depth in _UNIT_DEPTHS and isinstance(source, (str, os.PathLike, Image.Image)):
        check_shape(tensor, name)  # decoded from 8-bit or bilevel pixels: k/255 lies in [0, 1], no scan needed
    else:
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


#: Bit depths whose decoded pixels are in [0, 1] by construction (bilevel, 8-bit), so that
#: :func:`as_batch` need not scan them; 16-bit may come from a signed 32-bit mode, and float
#: files may hold anything.
_UNIT_DEPTHS = (1, 8)


def check_shape(tensor: torch.Tensor, name: str) -> None:
    """Refuse an empty image with a one-line message."""
    if tensor.numel() == 0:
        raise ShapeError(f"{name}: empty image {tuple(tensor.shape)}")


def check_values(tensor: torch.Tensor, name: str) -> None:
    """Refuse an empty image, NaN/Inf and float values outside [0, 1] with a one-line message."""
    check_shape(tensor, name)
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
