"""Separable Gaussian filtering, shared by every stage that works at a scale.

One implementation serves the ``smooth`` postprocessor (the scale of any strategy's map) and
the ``sigma`` pre-smoothing of the ``difference`` strategy. Borders are reflected, so a
blob at the edge keeps its height; everything stays on the input's device and dtype.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

#: The kernel reaches this many sigmas on each side (a truncation error below 0.3%).
TRUNCATE = 3.0


@lru_cache(maxsize=32)
def gaussian_kernel(sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    """The normalised 1-D Gaussian of standard deviation ``sigma`` pixels, odd length."""
    radius = max(1, math.ceil(TRUNCATE * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    return (kernel / kernel.sum()).to(device=device, dtype=dtype)


def check_sigma(sigma: float, name: str = "sigma") -> float:
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (pixels), got {sigma}")
    return sigma


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Blur every channel of ``x`` with a Gaussian of ``sigma`` pixels; ``sigma=0`` returns ``x``.

    Args:
        x: NxCxHxW float tensor, any device.
        sigma: standard deviation in pixels, >= 0.
    Returns:
        Tensor of the same shape, dtype and device.
    """
    sigma = check_sigma(sigma)
    if sigma == 0:
        return x
    kernel = gaussian_kernel(sigma, x.device, x.dtype)
    channels, size = x.shape[1], kernel.numel()
    radius = size // 2
    height, width = x.shape[-2:]
    # Reflection needs the padding to be smaller than the side; replicate beyond that.
    mode = "reflect" if radius < min(height, width) else "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=mode)
    x = F.conv2d(x, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)


def coarse_blur(x: Tensor, sigma: float) -> Tensor:
    """A wide Gaussian blur computed on a coarser grid: for a slowly varying level, not for detail.

    For ``sigma`` of 8 px or more the input is area-averaged by a power of two ``f`` with
    ``f <= sigma / 4``, blurred by ``sigma / f`` and brought back by bilinear interpolation:
    the cost no longer grows with ``sigma``, and the result stays within a small fraction of
    the full-resolution blur for the smooth fields it is meant for.
    """
    sigma = check_sigma(sigma)
    factor = 1
    while sigma / (2 * factor) >= 4 and min(x.shape[-2:]) // (2 * factor) >= 8:
        factor *= 2
    if factor == 1:
        return gaussian_blur(x, sigma)
    height, width = x.shape[-2:]
    small = F.avg_pool2d(x, factor, ceil_mode=True, count_include_pad=False)
    small = gaussian_blur(small, sigma / factor)
    return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
