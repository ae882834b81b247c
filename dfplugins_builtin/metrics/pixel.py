"""``mse`` and ``psnr``: per-pixel error metrics, with masked means for ignored pixels."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def masked_mean(values: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per-sample mean of NxCxHxW ``values`` over the pixels where ``valid`` (Nx1xHxW) is true."""
    if valid is None:
        return values.flatten(1).mean(1)
    weight = valid.to(values.dtype).expand_as(values)
    return (values * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1.0)


def mse(x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean squared error per sample; lower is better.

    Args:
        x, y: NxCxHxW images.
        valid: optional Nx1xHxW bool mask of the pixels that count.
    Returns:
        Tensor of shape (N,).
    """
    return masked_mean((x - y) ** 2, valid)


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0, valid: Tensor | None = None) -> Tensor:
    """Peak signal-to-noise ratio in dB per sample; higher is better; ``inf`` for identical images.

    The gradient is zero (not NaN) where the images are identical.
    """
    error = mse(x, y, valid)
    positive = error > 0
    safe = torch.where(positive, error, torch.ones_like(error))
    value = 10.0 * math.log10(data_range**2) - 10.0 * torch.log10(safe)
    return torch.where(positive, value, torch.full_like(value, math.inf))


class MSE:
    """Mean squared error (``mse``)."""

    higher_is_better = False
    supports_valid = True

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return mse(x, y, valid)

    def local_map(self, x: Tensor, y: Tensor) -> Tensor:
        """Squared error averaged over channels, Nx1xHxW."""
        return ((x - y) ** 2).mean(1, keepdim=True)


class PSNR:
    """Peak signal-to-noise ratio (``psnr``) for images with values in [0, ``data_range``]."""

    higher_is_better = True
    supports_valid = True

    def __init__(self, data_range: float = 1.0) -> None:
        if not data_range > 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        self.data_range = float(data_range)

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return psnr(x, y, self.data_range, valid)

    def conventions(self) -> dict[str, float]:
        return {"data_range": self.data_range}
