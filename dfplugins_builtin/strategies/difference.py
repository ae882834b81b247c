"""``difference``: the absolute difference of the preprocessed images.

Two knobs make it hold up on real pairs, both off by default:

* ``sigma``: both images are smoothed by a Gaussian of ``sigma`` pixels before they are
  compared, which averages out sensor noise, JPEG blocks and resampling blur that differ
  between the two (the metric's score is not affected);
* ``shift``: each pixel takes its best match within ``shift`` pixels, in both directions
  (:mod:`dfplugins_builtin.strategies.shift`), so a pair off by a pixel does not light up
  every edge while an object present in one image only still does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dfcore.contracts import Problem
from dfplugins_builtin.gaussian import check_sigma, gaussian_blur
from dfplugins_builtin.strategies.channels import check_reduction, reduce_channels
from dfplugins_builtin.strategies.shift import check_radius, shift_tolerant


def difference_map(a: Tensor, b: Tensor, reduce: str = "mean", shift: int = 0, sigma: float = 0.0) -> Tensor:
    """|a - b| per pixel, Nx1xHxW, after optional smoothing and with optional shift tolerance.

    Args:
        a, b: NxCxHxW images on one device.
        reduce: how channels are combined (``mean``, ``max``, ``sum``, ``l2``).
        shift: largest tolerated displacement in pixels along each axis (0: none).
        sigma: Gaussian pre-smoothing of both images in pixels (0: none).
    Returns:
        Tensor of shape (N, 1, H, W), values >= 0.
    """
    a, b = gaussian_blur(a, sigma), gaussian_blur(b, sigma)
    return shift_tolerant(lambda x, y: reduce_channels((x - y).abs(), reduce), a, b, shift, symmetric=True)


class Difference:
    """|pre(a) - pre(b)|, channels combined by ``reduce``; optional ``sigma`` and ``shift``."""

    def __init__(self, reduce: str = "mean", shift: int = 0, sigma: float = 0.0) -> None:
        self.reduce = check_reduction(reduce)
        self.shift = check_radius(shift)
        self.sigma = check_sigma(sigma)

    def __call__(self, problem: Problem) -> Tensor:
        with torch.no_grad():
            pre = problem.metric.preprocess
            return difference_map(pre(problem.a), pre(problem.b), self.reduce, self.shift, self.sigma)

    def conventions(self) -> dict[str, object]:
        conventions: dict[str, object] = {"value": f"|a - b|, channels combined by {self.reduce}"}
        if self.sigma:
            conventions["smoothing"] = "both images, gaussian, truncated at 3 sigma, reflected borders"
        if self.shift:
            conventions["shift_tolerance"] = (
                "per pixel, the smallest difference over displacements |dy|, |dx| <= shift, "
                "a against moved b and b against moved a; the larger of the two; edges replicated")
        return conventions
