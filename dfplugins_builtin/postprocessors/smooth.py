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

from dfcore.ops.filters import check_octaves, check_sigma, multiscale_smooth

if TYPE_CHECKING:
    from torch import Tensor

    from dfcore.contracts import StageOutput


class Smooth:
    """Gaussian smoothing of the map at ``sigma`` px, averaged over ``octaves`` doubling scales."""

    def __init__(self, sigma: float = 2.0, octaves: int = 1) -> None:
        self.sigma = check_sigma(sigma)
        self.octaves = check_octaves(octaves)

    def __call__(self, out: StageOutput) -> Tensor:
        return multiscale_smooth(out.map, self.sigma, out.valid, self.octaves)

    def conventions(self) -> dict[str, object]:
        return {
            "scales": [self.sigma * 2**level for level in range(self.octaves)],
            "kernel": "gaussian, truncated at 3 sigma, reflected borders; the scales' maps are averaged",
        }
