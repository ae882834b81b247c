"""Masks read from what users give: truth masks of known changes, and ignore masks.

A **truth mask** (``Finder.run(a, b, truth=MASK)``, ``dfind A B --truth MASK``) marks where the
images really differ; a pixel counts as changed when any of its colour channels is non-zero
(alpha is left out), so label images holding 1 and masks holding 255 both work. Store masks
losslessly (PNG, TIFF, BMP): JPEG artefacts around edges would count as change.

An **ignore mask** marks parts of the image that must not count (a timestamp, a watermark, a
known artefact).

``Finder.run(a, b, ignore=...)`` and ``dfind A B --ignore ...`` take:

* a mask image file, or a mask as a numpy array (HxW or HxWxC), PIL image or torch tensor
  (HxW, 1xHxW): **non-zero = ignore** (with two or four channels the last, alpha, is left out);
* rectangles as text, ``"x0:y0-x1:y1"``, several joined by commas: pixel columns ``x0`` to
  ``x1 - 1`` and rows ``y0`` to ``y1 - 1`` (end-exclusive, like a region's ``bbox``), in A's
  pixels; a rectangle reaching outside the image is clipped to it;
* a rectangle as a tuple ``(x0, y0, x1, y1)``;
* a list of any of these: their union.

The mask lies on A's grid, before any convention is applied (a cropped border or a size policy
moves it with A). How ignored pixels are kept out of everything (see ``docs/research.md``):

1. they join the pipeline's mask of compared pixels (``valid``), the mechanism that also
   keeps out pixels outside an alignment's overlap;
2. before any metric, preprocessor or strategy sees the pair, both images get the same value
   there, one that does not depend on what is inside the ignored area
   (:func:`dfcore.pipeline.conventions.neutral_fill`),
   so nothing of the ignored pixels can reach the score or the map, even through a filter or a
   network's receptive field;
3. metrics that take the mask (``supports_valid``: mse, psnr, ssim) average over compared
   pixels only; ``ssim`` averages only the windows lying entirely in compared pixels, so a
   window straddling the edge of an ignored area does not count (zero-filling would have
   shifted its statistics);
4. the map is zero there and the heatmap shows a grey hatch; postprocessors keep masks and
   regions out of them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from dfcore.errors import InputError, ParameterError, ShapeError

def as_mask(value: Any, name: str = "truth", what: str = "truth mask") -> np.ndarray:
    """An HxW or HxWxC array-like (as numpy images are laid out) -> HxW bool, non-zero = set.

    With C = 2 or 4 the last channel is alpha and is ignored; otherwise a pixel is set when
    any channel is non-zero. ``name`` and ``what`` ("truth mask", "ignore mask") name it in errors.
    """
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise InputError(f"{name}: the {what} must be numeric or boolean, got {array.dtype}")
    if array.ndim == 3 and 1 <= array.shape[-1] <= 4:
        colours = {1: 1, 2: 1, 3: 3, 4: 3}[array.shape[-1]]  # grey, grey+alpha, RGB, RGBA
        array = array[..., :colours].any(axis=-1)
    if array.ndim != 2:
        raise ShapeError(f"{name}: the {what} must be HxW or HxWxC, got shape {list(array.shape)}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise InputError(f"{name}: the {what} holds NaN or infinite values")
    return array != 0


def pil_mask_array(image: Any) -> np.ndarray:
    """A PIL image as an array for :func:`as_mask`: EXIF orientation applied, palettes expanded."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    return np.asarray(image)


def read_mask(path: str | os.PathLike[str], what: str = "truth mask") -> np.ndarray:
    """Read a mask image file: HxW bool, true where any colour channel is non-zero."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        with Image.open(path) as image:
            array = pil_mask_array(image)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc})") from None
    return as_mask(array, str(path), what)


def check_size(truth: np.ndarray, height: int, width: int, name: str = "truth") -> None:
    """A truth mask must lie on the map's grid: one-line :class:`ShapeError` otherwise."""
    th, tw = truth.shape[-2:]
    if (th, tw) != (height, width):
        raise ShapeError(f"{name}: the truth mask is {tw}x{th} (WxH) but the map is {width}x{height}")


# -- ignore specs ----------------------------------------------------------------------------


_NUMBER = r"-?\d+"
_RECTANGLE = rf"\s*({_NUMBER})\s*:\s*({_NUMBER})\s*-\s*({_NUMBER})\s*:\s*({_NUMBER})\s*"
RECTANGLES = re.compile(rf"{_RECTANGLE}(,{_RECTANGLE})*")
WHAT = "ignore mask"


def is_rectangles(text: str) -> bool:
    """Whether ``text`` is rectangle syntax (``x0:y0-x1:y1,...``) rather than a file name."""
    return RECTANGLES.fullmatch(text) is not None


def parse_rectangles(text: str) -> list[tuple[int, int, int, int]]:
    """``"x0:y0-x1:y1,..."`` -> ``[(x0, y0, x1, y1), ...]``; one-line error on anything else."""
    if not is_rectangles(text):
        raise ParameterError(f"ignore: {text!r} is neither a mask file nor rectangles x0:y0-x1:y1[,...]")
    return [tuple(int(v) for v in re.fullmatch(_RECTANGLE, part).groups())  # type: ignore[misc, union-attr]
            for part in text.split(",")]


def ignore_mask(spec: Any, height: int, width: int) -> np.ndarray:
    """The HxW bool mask (``True`` = ignored) that ``spec`` describes for an image of that size."""
    mask = np.zeros((height, width), dtype=bool)
    for item in _items(spec):
        if isinstance(item, tuple):
            mask |= _rectangle(item, height, width)
        else:
            part = _as_mask(item)
            if part.shape != (height, width):
                h, w = part.shape
                raise ShapeError(f"ignore mask {_name(item)} is {w}x{h}, A is {width}x{height} (width x height)")
            mask |= part
    if mask.all():
        raise ParameterError("ignore: every pixel is ignored, nothing is left to compare")
    return mask


def _items(spec: Any) -> list[Any]:
    """Flatten a spec into rectangles (tuples of 4 ints) and masks (paths, arrays, images, tensors)."""
    if isinstance(spec, str) and is_rectangles(spec):
        return list(parse_rectangles(spec))
    if isinstance(spec, (str, os.PathLike)):
        return [Path(spec)]
    if isinstance(spec, (tuple, list)) and len(spec) == 4 and all(_is_int(v) for v in spec):
        return [tuple(int(v) for v in spec)]
    if isinstance(spec, (tuple, list)):
        if not spec:
            raise ParameterError("ignore: an empty list; give a mask, rectangles, or None")
        return [item for part in spec for item in _items(part)]
    return [spec]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _rectangle(box: tuple[int, ...], height: int, width: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise ParameterError(f"ignore: rectangle {x0}:{y0}-{x1}:{y1} is empty (x1 must exceed x0 and y1 exceed y0)")
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ParameterError(f"ignore: rectangle {x0}:{y0}-{x1}:{y1} lies outside the {width}x{height} image")
    mask = np.zeros((height, width), dtype=bool)
    mask[cy0:cy1, cx0:cx1] = True
    return mask


def _as_mask(item: Any) -> np.ndarray:
    """A mask file, PIL image, numpy array or tensor -> HxW bool, non-zero = ignored."""
    if isinstance(item, Path):
        return read_mask(item, WHAT)
    if hasattr(item, "detach"):  # a torch tensor, channels first
        array = item.detach().cpu().numpy()
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 2:
            raise ShapeError(f"ignore: a mask tensor must be HxW or 1xHxW, got shape {list(array.shape)}")
        return as_mask(array, "ignore", WHAT)
    if hasattr(item, "getbands"):  # a PIL image
        return as_mask(pil_mask_array(item), "ignore", WHAT)
    if isinstance(item, np.ndarray):
        return as_mask(item, "ignore", WHAT)
    raise ParameterError(
        f"ignore: cannot use a {type(item).__name__}; give a mask (file, array, image, tensor) or rectangles"
    )


def _name(item: Any) -> str:
    return str(item) if isinstance(item, Path) else "(array)"


def describe(spec: Any) -> Any:
    """A JSON-able record of an ignore spec, for results: file names and rectangles as given."""
    if spec is None:
        return None
    return [list(item) if isinstance(item, tuple) else (os.fspath(item) if isinstance(item, Path) else "(array)")
            for item in _items(spec)]


__all__ = ["as_mask", "check_size", "describe", "ignore_mask", "is_rectangles", "parse_rectangles", "pil_mask_array",
           "read_mask"]
