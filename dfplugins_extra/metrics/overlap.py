"""``dice`` and ``jaccard``: soft overlap of two images or masks with values in [0, 1].

With binary inputs they are the Dice coefficient and the intersection over union; with
values in between they are the usual soft (differentiable) versions, so the ``gradient``
strategy works with them when the two inputs are segmentations or probability maps. All
channels and pixels of a sample count together. ``smooth`` is added to the numerator and the
denominator: it keeps two empty masks at 1 (perfect agreement) and the gradient finite.

With values in between, the linear sums of the denominators (``squared=false``, the
default) score identical non-binary images below 1 (``mean(x^2) / mean(x)`` with
``smooth`` small: an image of uniform grey levels gives about 0.67 against itself).
``squared=true`` sums squares instead, ``sum(x^2) + sum(y^2)`` (V-Net's soft Dice): the same
on binary masks, and 1 for any two identical inputs.

Note for maps: the gradient of a soft overlap with respect to one mask takes one value on
the other mask's foreground and another on its background, so a ``gradient`` map of these
metrics outlines the reference mask. Their own map (``own_map``, what ``-m dice`` shows
without a strategy) is where the masks disagree: ``x(1 - y) + y(1 - x)``, the symmetric
difference of binary masks.

References:
    Dice. Measures of the amount of ecologic association between species. Ecology 26(3), 1945.
    Jaccard. The distribution of the flora in the alpine zone. New Phytologist 11(2), 1912.
    Milletari, Navab, Ahmadi. V-Net. 3DV 2016 (the soft Dice used as a loss; its denominator sums squares).
"""

from __future__ import annotations

from torch import Tensor

from dfcore.ops.checks import check_same_shape


def _overlap_sums(x: Tensor, y: Tensor, valid: Tensor | None, squared: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Per sample: sum(x * y), sum(x), sum(y) (``squared``: sum(x^2), sum(y^2)), over the pixels where ``valid`` is true."""
    check_same_shape(x, y, "overlap")
    if valid is not None:
        weight = valid.to(x.dtype)
        x, y = x * weight, y * weight
    sizes = (x * x, y * y) if squared else (x, y)
    return (x * y).flatten(1).sum(1), sizes[0].flatten(1).sum(1), sizes[1].flatten(1).sum(1)


def _check_smooth(smooth: float) -> float:
    if not smooth > 0:
        raise ValueError(f"smooth must be positive, got {smooth}")
    return float(smooth)


def soft_dice(x: Tensor, y: Tensor, smooth: float = 1.0, valid: Tensor | None = None, squared: bool = False) -> Tensor:
    """Soft Dice overlap per sample, ``(2 sum(xy) + s) / (sum(x) + sum(y) + s)``; higher is better.

    Args:
        x: image or mask, shape (N, C, H, W), values in [0, 1].
        y: same shape as ``x``.
        smooth: ``s``, added to numerator and denominator; > 0.
        valid: optional Nx1xHxW bool mask of the pixels that count.
        squared: sum the squares in the denominator, ``sum(x^2) + sum(y^2)`` (V-Net's form).
    Returns:
        Tensor of shape (N,), values in (0, 1]; 1 for identical binary masks (``squared``: for
        any two identical inputs).

    >>> import torch
    >>> a = torch.zeros(1, 1, 2, 2); a[..., 0, :] = 1       # top row
    >>> b = torch.zeros(1, 1, 2, 2); b[..., :, 0] = 1       # left column
    >>> round(soft_dice(a, b, smooth=1e-6).item(), 4)       # 2*1 / (2+2)
    0.5
    """
    inter, sx, sy = _overlap_sums(x, y, valid, squared)
    smooth = _check_smooth(smooth)
    return (2.0 * inter + smooth) / (sx + sy + smooth)


def soft_jaccard(x: Tensor, y: Tensor, smooth: float = 1.0, valid: Tensor | None = None,
                 squared: bool = False) -> Tensor:
    """Soft Jaccard index (IoU) per sample, ``(sum(xy) + s) / (sum(x) + sum(y) - sum(xy) + s)``.

    Arguments and shapes as :func:`soft_dice`; higher is better, 1 for identical binary masks.

    >>> import torch
    >>> a = torch.zeros(1, 1, 2, 2); a[..., 0, :] = 1
    >>> b = torch.zeros(1, 1, 2, 2); b[..., :, 0] = 1
    >>> round(soft_jaccard(a, b, smooth=1e-6).item(), 4)    # 1 / (2+2-1)
    0.3333
    """
    inter, sx, sy = _overlap_sums(x, y, valid, squared)
    smooth = _check_smooth(smooth)
    return (inter + smooth) / (sx + sy - inter + smooth)


class _SoftOverlap:
    """A soft overlap metric with a fixed smoothing term; higher is better."""

    higher_is_better = True
    supports_valid = True
    formula = ""
    #: What :meth:`own_map` is.
    map_unit = "disagreement x(1 - y) + y(1 - x): 1 where one mask has the pixel, 0 where both agree"

    def __init__(self, smooth: float = 1.0, squared: bool = False) -> None:
        self.smooth, self.squared = _check_smooth(smooth), bool(squared)

    @staticmethod
    def overlap(x: Tensor, y: Tensor, smooth: float, valid: Tensor | None, squared: bool) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return self.overlap(x, y, self.smooth, valid, self.squared)

    def own_map(self, x: Tensor, y: Tensor) -> Tensor:
        """Where the masks disagree, Nx1xHxW: the soft symmetric difference (binary: XOR) per pixel."""
        check_same_shape(x, y, "overlap")
        return (x * (1 - y) + y * (1 - x)).mean(1, keepdim=True)

    def conventions(self) -> dict[str, object]:
        formula = self.formula.replace("sum(x) + sum(y)", "sum(x^2) + sum(y^2)") if self.squared else self.formula
        return {"smooth": self.smooth, "squared": self.squared, "formula": formula}


class Dice(_SoftOverlap):
    """Soft Dice overlap (``dice``)."""

    formula = "(2 sum(xy) + smooth) / (sum(x) + sum(y) + smooth)"
    overlap = staticmethod(soft_dice)


class Jaccard(_SoftOverlap):
    """Soft Jaccard index, or intersection over union (``jaccard``)."""

    formula = "(sum(xy) + smooth) / (sum(x) + sum(y) - sum(xy) + smooth)"
    overlap = staticmethod(soft_jaccard)
