"""``identity`` and ``normalize``: the simplest preprocessors."""

from __future__ import annotations

from torch import Tensor


class Identity:
    """Return the images unchanged."""

    def __call__(self, x: Tensor) -> Tensor:
        return x


def normalize(x: Tensor, per_channel: bool = False, eps: float = 1e-12) -> Tensor:
    """Stretch each image (or each channel) linearly to [0, 1]; a constant image becomes 0.

    Args:
        x: NxCxHxW.
        per_channel: stretch every channel with its own minimum and maximum.
    Returns:
        Tensor of the same shape with values in [0, 1].
    """
    dims = (2, 3) if per_channel else (1, 2, 3)
    low = x.amin(dim=dims, keepdim=True)
    high = x.amax(dim=dims, keepdim=True)
    return (x - low) / (high - low).clamp_min(eps)


class Normalize:
    """Min-max stretch of each image, so a global gain or offset does not count as a difference."""

    def __init__(self, per_channel: bool = False) -> None:
        self.per_channel = bool(per_channel)

    def __call__(self, x: Tensor) -> Tensor:
        return normalize(x, self.per_channel)


__all__ = ["Identity", "Normalize", "normalize"]
