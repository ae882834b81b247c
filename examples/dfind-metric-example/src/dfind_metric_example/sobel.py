"""``sobel``: the Sobel gradient magnitude of each channel.

Before a metric, it makes the metric compare edges rather than intensities: ``-p sobel -m
charbonnier`` is the "edge loss" of image restoration.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_MAX_MAGNITUDE = 4.0 * math.sqrt(2.0)  # both components reach 4 on a [0, 1] image


def sobel_magnitude(x: Tensor, eps: float = 1e-6) -> Tensor:
    """Sobel gradient magnitude of every channel, scaled to [0, 1].

    Args:
        x: NxCxHxW images, values in [0, 1]; borders are replicated.
        eps: keeps the square root differentiable where the image is flat.
    Returns:
        Tensor of the same shape as ``x``.
    """
    channels = x.shape[1]
    kx = torch.tensor(_SOBEL_X, device=x.device, dtype=x.dtype)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1).repeat(channels, 1, 1, 1)  # (2C, 1, 3, 3)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    g = F.conv2d(padded, kernels, groups=channels)
    gx, gy = g[:, 0::2], g[:, 1::2]
    return (torch.sqrt(gx**2 + gy**2 + eps**2) - eps) / _MAX_MAGNITUDE


class Sobel:
    """The ``sobel`` preprocessor stage."""

    def __call__(self, x: Tensor) -> Tensor:
        return sobel_magnitude(x)
