"""Separable filtering: one Gaussian for every stage that works at a scale.

One implementation serves the ``difference`` strategy's pre-smoothing and map scale, the
``smooth`` postprocessor, the background level, and the pyramids and local means of the
``filterbank`` metric. Everything stays on the input's device and dtype; borders are
reflected by default, so a blob at the edge keeps its height.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

#: The kernel reaches this many sigmas on each side (a truncation error below 0.3%).
TRUNCATE = 3.0
PADDINGS = ("reflect", "replicate")


def kernel_radius(sigma: float) -> int:
    """The radius in pixels of :func:`gaussian_kernel` for ``sigma`` (0 for no blur): how far a blur reaches."""
    return max(1, math.ceil(TRUNCATE * sigma)) if sigma > 0 else 0


@lru_cache(maxsize=32)
def gaussian_kernel(sigma: float, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> Tensor:
    """The normalised 1-D Gaussian of standard deviation ``sigma`` pixels, odd length.

    Computed in float64, then cast to ``dtype`` on ``device``; its radius is
    ``ceil(TRUNCATE * sigma)``, at least 1.
    """
    radius = max(1, math.ceil(TRUNCATE * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    return (kernel / kernel.sum()).to(device=device, dtype=dtype)


def check_sigma(sigma: float, name: str = "sigma") -> float:
    """``sigma`` as a float, or a ``ValueError`` unless it is finite and >= 0."""
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (pixels), got {sigma}")
    return sigma


def separable_filter(x: Tensor, kernel: Tensor, padding: str = "reflect", stride: int = 1) -> Tensor:
    """Correlate every channel of ``x`` with a 1-D ``kernel`` along y, then along x.

    Args:
        x: NxCxHxW float tensor, any device.
        kernel: 1-D kernel of odd length (cast to ``x``'s device and dtype).
        padding: ``reflect`` or ``replicate``; reflection falls back to replication when the
            kernel is wider than the image.
        stride: subsampling after filtering along each axis (2 for a pyramid level).
    Returns:
        NxCx(H/stride)x(W/stride), rounded up; the same dtype and device as ``x``.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    kernel = kernel.to(device=x.device, dtype=x.dtype)
    channels, size = x.shape[1], kernel.numel()
    radius = size // 2
    if padding == "reflect" and radius >= min(x.shape[-2:]):
        padding = "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=padding)
    x = F.conv2d(x, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), stride=(stride, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), stride=(1, stride), groups=channels)


def gaussian_blur(x: Tensor, sigma: float, padding: str = "reflect") -> Tensor:
    """Blur every channel of ``x`` with a Gaussian of ``sigma`` pixels; ``sigma=0`` returns ``x``.

    Args:
        x: NxCxHxW float tensor, any device.
        sigma: standard deviation in pixels, >= 0.
        padding: ``reflect`` (default) or ``replicate``.
    Returns:
        Tensor of the same shape, dtype and device.
    """
    sigma = check_sigma(sigma)
    if sigma == 0:
        return x
    return separable_filter(x, gaussian_kernel(sigma, x.device, x.dtype), padding)


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


def check_octaves(octaves: int) -> int:
    """``octaves`` as an int, or a ``ValueError`` unless it is a whole number >= 1."""
    if isinstance(octaves, bool) or int(octaves) != octaves or octaves < 1:
        raise ValueError(f"octaves must be a whole number >= 1, got {octaves!r}")
    return int(octaves)


def multiscale_smooth(values: Tensor, sigma: float, valid: Tensor | None = None, octaves: int = 1) -> Tensor:
    """Mean of the Gaussian smoothings of an Nx1xHxW map at ``sigma * 2**i``, ``i < octaves``.

    Pixels outside ``valid`` (Nx1xHxW bool) neither contribute nor receive a value
    (normalised convolution); they are set to zero.
    """
    octaves = check_octaves(octaves)
    weight = None if valid is None else valid.to(values.dtype)
    if weight is not None:
        values = values * weight
    total = None
    for level in range(octaves):
        scale = sigma * 2**level
        smoothed = gaussian_blur(values, scale)
        if weight is not None:
            smoothed = smoothed / gaussian_blur(weight, scale).clamp_min(1e-6)
        total = smoothed if total is None else total + smoothed
    total = total / octaves
    return total if weight is None else total * weight
