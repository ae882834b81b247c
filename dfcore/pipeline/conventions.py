"""Input conventions of image-restoration research: luma, a cropped border, pairs of two sizes.

These are choices about the inputs, not stages: they change which numbers a metric sees, so
papers state them ("PSNR on the Y channel, 4 px border cropped") and every result records them
(``config["conventions"]`` and the JSON). :class:`Conventions` holds them; the pipeline applies
them at the start of :meth:`dfcore.pipeline.Pipeline.compute`, in this order:

1. **size policy** (``size_policy``), when A and B differ in height or width:

   * ``error`` (the default): refuse the pair, unless a pairwise preprocessor that accepts any
     size (``-p align``) brings B onto A's grid;
   * ``crop``: keep the top-left ``min(H) x min(W)`` of both, as the "modcrop" of
     super-resolution code does (a reconstruction a few pixels smaller than its ground truth
     is compared with the ground truth's top-left part);
   * ``pad``: extend both to ``max(H) x max(W)`` at the bottom and right; the added pixels are
     not compared (hatched in the heatmap, like pixels outside an alignment's overlap);
   * ``resize``: resample B onto A's size (bicubic, antialiased when shrinking, clamped to
     [0, 1]); A is never resampled.

2. **luma** (``y_channel``): RGB becomes the Y of BT.601 YCbCr with the studio range, as
   MATLAB's ``rgb2ycbcr`` and the evaluation code of super-resolution papers (BasicSR's
   ``bgr2ycbcr``, ``test_y_channel``) compute it::

       Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255      R, G, B in [0, 1]; Y in [16/255, 235/255]

   Y is not rounded, as in BasicSR; MATLAB's ``rgb2ycbcr`` of a ``uint8`` image rounds it to
   an integer, which moves PSNR by about 0.01 dB. A grey image (one channel) is used as it is,
   as BasicSR does; a grey image paired with a colour one was already repeated to RGB (see
   :func:`dfcore.io.images.match_pair`) and is converted with it.

3. **border crop** (``crop_border``): ``N`` pixels are removed from every side of both images
   before anything is measured, as ``img[N:-N, N:-N]`` in super-resolution evaluation code.
   This is a real crop, not a mask, so every metric (LPIPS too, whose receptive fields would
   otherwise see the border) gets exactly the cropped images of the published convention, and
   SSIM's windows are those of the cropped image. The map is then put back on A's grid: the
   border gets zero and is marked as not compared (hatched, ``NAME.valid.png``), so the heatmap
   lines up with the inputs and region coordinates are those of A.

The module also holds how the mask of compared pixels (``valid``) is applied to a pair before
any stage sees it: :func:`neutral_fill` and :func:`check_any_valid` (see
:mod:`dfcore.io.masks` for ignore masks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dfcore.contracts import Region
from dfcore.errors import ParameterError, ShapeError

SIZE_POLICIES = ("error", "crop", "pad", "resize")
#: BT.601 luma with the studio range, as MATLAB's rgb2ycbcr: offset and RGB weights for [0, 1] input.
Y_OFFSET = 16.0
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_DESCRIPTION = "BT.601 luma, studio range: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 (MATLAB rgb2ycbcr), not rounded"


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma (studio range, MATLAB ``rgb2ycbcr``) of NxCxHxW RGB in [0, 1], as Nx1xHxW in [0, 1].

    One-channel images are returned unchanged. Differentiable; stays on ``x``'s device.

    >>> import torch
    >>> round(float(rgb_to_y(torch.ones(1, 3, 1, 1))), 6), round(float(rgb_to_y(torch.zeros(1, 3, 1, 1))), 6)
    (0.921569, 0.062745)
    """
    channels = x.shape[1]
    if channels == 1:
        return x
    if channels != 3:
        raise ShapeError(f"the Y channel needs RGB or grey images, got {channels} channels")
    weights = torch.tensor(Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * weights).sum(1, keepdim=True) + Y_OFFSET) / 255.0


@dataclass(frozen=True)
class Conventions:
    """The input conventions of a :class:`~dfcore.pipeline.Finder` (see the module docstring).

    Args:
        y_channel: compare the BT.601 luma (studio range) instead of RGB.
        crop_border: pixels removed from every side before comparing, >= 0.
        size_policy: what to do with pairs of different sizes: ``error``, ``crop``, ``pad`` or ``resize``.
    """

    y_channel: bool = False
    crop_border: int = 0
    size_policy: str = "error"

    def __post_init__(self) -> None:
        if not isinstance(self.y_channel, bool):
            raise ParameterError(f"y_channel must be true or false, got {self.y_channel!r}")
        if isinstance(self.crop_border, bool) or not isinstance(self.crop_border, int) or self.crop_border < 0:
            raise ParameterError(f"crop_border must be a whole number of pixels >= 0, got {self.crop_border!r}")
        if self.size_policy not in SIZE_POLICIES:
            raise ParameterError(f"size_policy must be one of {', '.join(SIZE_POLICIES)}, got {self.size_policy!r}")

    def to_dict(self) -> dict[str, Any]:
        """What results record under ``config["conventions"]``."""
        return {
            "y_channel": self.y_channel,
            "colour": Y_DESCRIPTION if self.y_channel else "as read (RGB or grey)",
            "crop_border": self.crop_border,
            "size_policy": self.size_policy,
        }

    def prepare(self, a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None = None) -> Prepared:
        """Apply the conventions to a pair of NxCxHxW batches (and A's mask of compared pixels)."""
        a, b, valid, info = match_sizes(a, b, valid, self.size_policy)
        if self.y_channel:
            a, b = rgb_to_y(a), rgb_to_y(b)
        border = self.crop_border
        if border:
            for x, role in ((a, "A"), (b, "B")):
                height, width = x.shape[-2:]
                if 2 * border >= min(height, width):
                    raise ShapeError(f"crop_border={border} leaves nothing of {role}, which is {width}x{height}")
        inner = (slice(None), slice(None), slice(border, -border or None), slice(border, -border or None))
        return Prepared(a[inner], b[inner], valid[inner] if valid is not None else None, a, b, valid, border, info)


@dataclass
class Prepared:
    """A pair after the conventions: what is compared, and the grid the map is returned on.

    ``a``, ``b`` and ``valid`` are the compared (border-cropped) tensors; ``full_a``,
    ``full_b`` and ``full_valid`` the same before the crop, on A's grid; ``info`` is one dict
    per sample when the size policy changed a size, else ``None``.
    """

    a: torch.Tensor
    b: torch.Tensor
    valid: torch.Tensor | None
    full_a: torch.Tensor
    full_b: torch.Tensor
    full_valid: torch.Tensor | None
    border: int = 0
    info: list[dict[str, Any]] | None = None

    def uncrop_map(self, values: torch.Tensor) -> torch.Tensor:
        """An Nx1xhxw map of the compared part, on the full grid (the border zero; ``False`` for masks)."""
        border = self.border
        if not border:
            return values
        return F.pad(values, (border, border, border, border), value=False if values.dtype == torch.bool else 0.0)

    def uncrop_valid(self, valid: torch.Tensor | None) -> torch.Tensor | None:
        """The mask of compared pixels on the full grid: the border is never compared."""
        if not self.border:
            return valid
        if valid is None:
            n, _, height, width = self.a.shape
            valid = torch.ones(n, 1, height, width, dtype=torch.bool, device=self.a.device)
        return self.uncrop_map(valid)

    def uncrop_regions(self, regions: list[list[Region]] | None) -> list[list[Region]] | None:
        """Regions found on the compared part, in the full grid's coordinates."""
        border = self.border
        if not border or regions is None:
            return regions
        return [[dataclasses.replace(r, bbox=tuple(v + border for v in r.bbox),
                                     centroid=(r.centroid[0] + border, r.centroid[1] + border)) for r in sample]
                for sample in regions]

    def uncrop_image(self, compared: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        """An image as compared (after pairwise preprocessing), on the full grid: the border from ``full``."""
        border = self.border
        if not border:
            return compared
        expected = (compared.shape[0], compared.shape[1], compared.shape[2] + 2 * border, compared.shape[3] + 2 * border)
        if tuple(full.shape) != expected:  # B of another size, resampled by a pairwise stage
            return F.pad(compared, (border, border, border, border), mode="replicate")
        out = full.clone()
        out[..., border:-border, border:-border] = compared
        return out


def match_sizes(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None, policy: str
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, list[dict[str, Any]] | None]:
    """Apply a size policy to A and B (and A's mask of compared pixels); see the module docstring.

    Returns ``(a, b, valid, info)``; ``info`` (one dict per sample) is ``None`` when the sizes
    already agreed or the policy is ``error`` (the pipeline then refuses the pair, or a
    pairwise preprocessor resamples B).
    """
    size_a, size_b = tuple(a.shape[-2:]), tuple(b.shape[-2:])
    if size_a == size_b or policy == "error":
        return a, b, valid, None
    if policy == "crop":
        height, width = min(size_a[0], size_b[0]), min(size_a[1], size_b[1])
        a, b = a[..., :height, :width], b[..., :height, :width]
        valid = valid[..., :height, :width] if valid is not None else None
    elif policy == "pad":
        height, width = max(size_a[0], size_b[0]), max(size_a[1], size_b[1])
        valid = _pad_to(valid if valid is not None else _ones(a), height, width, fill=False)
        valid = valid & _pad_to(_ones(b), height, width, fill=False)
        a, b = _pad_to(a, height, width), _pad_to(b, height, width)
    elif policy == "resize":
        height, width = size_a
        shrinking = size_b[0] > height or size_b[1] > width
        b = F.interpolate(b, size=(height, width), mode="bicubic", align_corners=False, antialias=shrinking)
        b = b.clamp(0.0, 1.0)
    else:
        raise ParameterError(f"size_policy must be one of {', '.join(SIZE_POLICIES)}, got {policy!r}")
    record = {"size_policy": policy, "a": _wh(size_a), "b": _wh(size_b), "compared": [int(a.shape[-1]), int(a.shape[-2])]}
    return a, b, valid, [dict(record) for _ in range(a.shape[0])]


def fit_top_left(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """An HxW mask on A's original grid, moved onto A's grid after a size policy.

    ``crop`` keeps the top-left part and ``pad`` extends at the bottom and right (with
    ``False``), so both are a top-left crop or pad; ``resize`` leaves A's grid alone.
    """
    out = np.zeros((height, width), dtype=mask.dtype)
    h, w = min(height, mask.shape[0]), min(width, mask.shape[1])
    out[:h, :w] = mask[:h, :w]
    return out


def neutral_fill(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Give both images the same value where ``valid`` is false: the mean colour of the compared pixels.

    Args:
        a, b: NxCxHxW images; ``valid``: Nx1xHxW bool, at least one true pixel per sample.
    Returns:
        ``(a', b')``: equal to ``a`` and ``b`` on valid pixels; elsewhere, in both, the
        per-sample, per-channel mean of ``(a + b) / 2`` over valid pixels. That value depends
        on valid pixels only, so no change inside the invalid area can reach anything computed
        from ``a'`` and ``b'``; a mean colour rather than black keeps the edge between the two
        areas, which both images share, faint.
    """
    weight = valid.to(a.dtype)
    count = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
    fill = ((a + b) * weight).sum(dim=(2, 3), keepdim=True) / (2.0 * count)
    fill = fill.expand_as(a)
    return a.where(valid, fill), b.where(valid, fill)


def check_any_valid(valid: torch.Tensor | None) -> None:
    """Refuse a pair in which no pixel is left to compare (ignore mask, crop border, alignment)."""
    if valid is None:
        return
    empty = ~valid.flatten(1).any(1)
    if bool(empty.any()):
        raise ShapeError("no pixel is left to compare (everything is ignored, cropped or outside the overlap)")
def and_masks(first: torch.Tensor | None, second: torch.Tensor | None) -> torch.Tensor | None:
    """The pixels valid in both masks (``None`` = all valid)."""
    if first is None:
        return second
    if second is None:
        return first
    return first & second


def _ones(x: torch.Tensor) -> torch.Tensor:
    return torch.ones(x.shape[0], 1, *x.shape[-2:], dtype=torch.bool, device=x.device)


def _pad_to(x: torch.Tensor, height: int, width: int, fill: float | bool | None = None) -> torch.Tensor:
    """Pad NxCxHxW at the bottom and right to ``height x width``: with ``fill``, or replicating the edge."""
    bottom, right = height - x.shape[-2], width - x.shape[-1]
    if not (bottom or right):
        return x
    if fill is None:
        return F.pad(x, (0, right, 0, bottom), mode="replicate")
    return F.pad(x, (0, right, 0, bottom), value=fill)


def _wh(size: Sequence[int]) -> list[int]:
    return [int(size[1]), int(size[0])]
