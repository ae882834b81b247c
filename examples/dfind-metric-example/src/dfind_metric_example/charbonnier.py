"""``charbonnier``: a smooth L1 distance, common as a restoration and super-resolution loss.

References:
    Charbonnier, Blanc-Feraud, Aubert, Barlaud. Two deterministic half-quadratic
    regularization algorithms for computed imaging. ICIP 1994.
    Lai, Huang, Ahuja, Yang. Deep Laplacian pyramid networks for fast and accurate
    super-resolution (LapSRN). CVPR 2017.
"""

from __future__ import annotations

import torch
from torch import Tensor


def charbonnier_map(x: Tensor, y: Tensor, eps: float = 1e-3) -> Tensor:
    """Per-pixel Charbonnier penalty ``sqrt((x - y)^2 + eps^2)``, same shape as ``x``."""
    return torch.sqrt((x - y) ** 2 + eps**2)


def charbonnier(x: Tensor, y: Tensor, eps: float = 1e-3, valid: Tensor | None = None) -> Tensor:
    """Mean Charbonnier penalty per sample; lower is better, ``eps`` for identical images.

    Args:
        x: NxCxHxW images, values in [0, 1].
        y: same shape as ``x``.
        eps: smoothing constant, > 0: below it the penalty is quadratic, above it linear.
        valid: optional Nx1xHxW bool mask of the pixels that count.
    Returns:
        Tensor of shape (N,).
    """
    values = charbonnier_map(x, y, eps)
    if valid is None:
        return values.flatten(1).mean(1)
    weight = valid.to(values.dtype).expand_as(values)
    return (values * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1.0)


class Charbonnier:
    """The ``charbonnier`` metric stage."""

    higher_is_better = False
    supports_valid = True

    def __init__(self, eps: float = 1e-3) -> None:
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps = float(eps)

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return charbonnier(x, y, self.eps, valid)

    def local_map(self, x: Tensor, y: Tensor) -> Tensor:
        """The per-pixel penalty averaged over channels, Nx1xHxW."""
        return charbonnier_map(x, y, self.eps).mean(1, keepdim=True)

    def conventions(self) -> dict[str, float]:
        return {"eps": self.eps}
