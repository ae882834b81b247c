"""Shift tolerance: compare each pixel with its best match within a few pixels.

Two images of one scene rarely sit on the same pixel grid: a re-saved screenshot, a scanned
puzzle or a reconstruction can be off by a pixel, and a plain difference then lights up
every edge. Here each pixel's difference is the smallest one over the displacements
``(dy, dx)`` with ``|dy|, |dx| <= radius``, taken in both directions -- A against B
moved, and B against A moved -- and the larger of the two is kept, so an object present in
only one image is found whichever image it is in (a one-sided minimum erases objects thinner
than the window from the image that lacks them).

The primitive takes any per-pixel distance, so it serves the ``difference`` strategy and
any metric that exposes a ``local_map(x, y)``. Device-agnostic; costs ``(2 radius + 1)^2``
evaluations of the distance (once per displacement when the distance is symmetric).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Distance = Callable[[Tensor, Tensor], Tensor]


def check_radius(radius: int, name: str = "shift") -> int:
    if isinstance(radius, bool) or int(radius) != radius or radius < 0:
        raise ValueError(f"{name} must be a whole number of pixels >= 0, got {radius!r}")
    return int(radius)


def displacements(radius: int) -> list[tuple[int, int]]:
    """Every ``(dy, dx)`` with ``|dy|, |dx| <= radius``, ``(0, 0)`` first."""
    radius = check_radius(radius)
    steps = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    steps.remove((0, 0))
    return [(0, 0), *steps]


def _pad(x: Tensor, radius: int) -> Tensor:
    return F.pad(x, (radius, radius, radius, radius), mode="replicate")


def _window(padded: Tensor, radius: int, dy: int, dx: int) -> Tensor:
    """The view of ``padded`` (padded by ``radius``) moved by ``(dy, dx)``: ``out[p] = x[p + d]``."""
    height, width = padded.shape[-2] - 2 * radius, padded.shape[-1] - 2 * radius
    return padded[..., radius + dy: radius + dy + height, radius + dx: radius + dx + width]


def shifted(x: Tensor, dy: int, dx: int) -> Tensor:
    """``x`` moved so that ``out[..., i, j] = x[..., i + dy, j + dx]``; edge pixels repeat."""
    radius = max(abs(dy), abs(dx))
    if radius == 0:
        return x
    return _window(_pad(x, radius), radius, dy, dx)


def best_match(distance: Distance, x: Tensor, y: Tensor, radius: int) -> Tensor:
    """One direction: ``min over d of distance(x, y moved by d)``, on ``x``'s grid.

    Args:
        distance: per-pixel distance of two NxCxHxW tensors (smaller = more alike), returning
            a map of any shape it likes on the same grid (e.g. Nx1xHxW).
        x, y: NxCxHxW tensors on one device.
        radius: largest displacement in pixels along each axis; 0 gives ``distance(x, y)``.
    """
    radius = check_radius(radius)
    if radius == 0:
        return distance(x, y)
    padded = _pad(y, radius)
    best = None
    for dy, dx in displacements(radius):
        value = distance(x, _window(padded, radius, dy, dx))
        best = value if best is None else torch.minimum(best, value)
    return best


def shift_tolerant(distance: Distance, x: Tensor, y: Tensor, radius: int, symmetric: bool = False) -> Tensor:
    """Both directions: ``max(best_match(x, y), best_match(y, x))``.

    With ``symmetric=True`` (``distance(u, v) == distance(v, u)`` pixel by pixel, as for an
    absolute difference) each displacement is evaluated once: the reverse direction at ``p``
    for ``d`` is the forward one at ``p + d`` for ``-d``, read from the padded forward map.
    Near the border that reads replicated values, which is the only difference from the
    general path.
    """
    radius = check_radius(radius)
    if radius == 0:
        return distance(x, y)
    if not symmetric:
        return torch.maximum(best_match(distance, x, y, radius), best_match(distance, y, x, radius))
    padded_y = _pad(y, radius)
    forward = backward = None
    for dy, dx in displacements(radius):
        value = distance(x, _window(padded_y, radius, dy, dx))
        # value[p] = distance(x[p], y[p + d]) = the reverse direction's value at p + d for -d.
        reverse = _window(_pad(value, radius), radius, -dy, -dx)
        forward = value if forward is None else torch.minimum(forward, value)
        backward = reverse if backward is None else torch.minimum(backward, reverse)
    return torch.maximum(forward, backward)
