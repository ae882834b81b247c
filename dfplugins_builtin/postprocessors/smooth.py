"""``smooth``: the scale of a map, for any strategy.

A pixel-level map of a real pair is speckled: sensor noise, compression and sub-pixel
misalignment each leave isolated responses, while a real difference is a blob. Smoothing the
map with a Gaussian of ``sigma`` pixels averages the speckle away and fills each difference
into one blob, at the price of blurring its outline.

With ``octaves > 1`` the map is the mean of its smoothings at ``sigma``, ``2 sigma``, ``4
sigma``... (a scale-space aggregation): the fine scales keep thin differences (a one-pixel
line) bright and outlines sharp, the coarse ones join a large, patchy difference into one
blob. Pixels outside the pair's ``valid`` mask neither contribute nor receive a value
(normalised convolution).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfplugins_builtin.gaussian import check_sigma, gaussian_blur

if TYPE_CHECKING:
    from torch import Tensor

    from dfcore.contracts import StageOutput


def smooth_map(diff_map: Tensor, sigma: float, valid: Tensor | None = None, octaves: int = 1) -> Tensor:
    """Mean of the Gaussian smoothings of an Nx1xHxW map at ``sigma * 2**i``, ``i < octaves``.

    Pixels outside ``valid`` (Nx1xHxW bool) are ignored and set to zero.
    """
    octaves = check_octaves(octaves)
    weight = None if valid is None else valid.to(diff_map.dtype)
    if weight is not None:
        diff_map = diff_map * weight
    total = None
    for level in range(octaves):
        scale = sigma * 2**level
        smoothed = gaussian_blur(diff_map, scale)
        if weight is not None:
            smoothed = smoothed / gaussian_blur(weight, scale).clamp_min(1e-6)
        total = smoothed if total is None else total + smoothed
    total = total / octaves
    return total if weight is None else total * weight


def check_octaves(octaves: int) -> int:
    if isinstance(octaves, bool) or int(octaves) != octaves or octaves < 1:
        raise ValueError(f"octaves must be a whole number >= 1, got {octaves!r}")
    return int(octaves)


class Smooth:
    """Gaussian smoothing of the map at ``sigma`` px, averaged over ``octaves`` doubling scales."""

    def __init__(self, sigma: float = 2.0, octaves: int = 1) -> None:
        self.sigma = check_sigma(sigma)
        self.octaves = check_octaves(octaves)

    def __call__(self, out: StageOutput) -> Tensor:
        return smooth_map(out.map, self.sigma, out.valid, self.octaves)

    def conventions(self) -> dict[str, object]:
        return {
            "scales": [self.sigma * 2**level for level in range(self.octaves)],
            "kernel": "gaussian, truncated at 3 sigma, reflected borders; the scales' maps are averaged",
        }
