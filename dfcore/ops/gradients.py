"""The gradient of a bound metric with respect to one image of the pair.

Strategies that differentiate the metric (``gradient``, ``gradcam``) start here: the image
that is not the reference becomes a leaf that requires grad, the metric is oriented so that
larger means more different, and the gradient lands on the input's pixel grid and device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from dfcore.errors import StageError

if TYPE_CHECKING:
    from dfcore.contracts import Problem


def oriented_distance(problem: Problem, reference: str = "a") -> tuple[Tensor, Tensor]:
    """``(moving, distance)``: the non-reference image as a leaf that requires grad, and the
    oriented distance ``[N]`` computed from it. Call under ``torch.enable_grad()``."""
    if reference == "a":
        moving = problem.b.detach().requires_grad_(True)
        distance = problem.metric.distance(problem.a.detach(), moving)
    else:
        moving = problem.a.detach().requires_grad_(True)
        distance = problem.metric.distance(moving, problem.b.detach())
    if not distance.requires_grad:
        raise StageError(
            f"metric {problem.metric.name!r} does not depend on its input through autograd "
            "(is it detached, or computed with numpy?): its gradient map would be all zero"
        )
    return moving, distance


def metric_gradient(problem: Problem, reference: str = "a") -> Tensor:
    """d distance / d image for the non-reference image, NxCxHxW (same device as the inputs)."""
    with torch.enable_grad():
        moving, distance = oriented_distance(problem, reference)
        (grad,) = torch.autograd.grad(distance.sum(), moving, allow_unused=True)
    if grad is None:
        raise StageError(f"metric {problem.metric.name!r} does not depend on its input through autograd")
    return grad
