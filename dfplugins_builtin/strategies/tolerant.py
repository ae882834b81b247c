"""``tolerant``: the metric's own local map, forgiving a small misregistration.

A metric that scores a pair pixel by pixel or window by window (MSE, SSIM) has a *local
map*, the per-pixel values whose mean is the score (``local_map`` in the metric contract).
On a pair off by a pixel that map lights up every edge. Here each pixel takes its best
match within ``radius`` pixels, in both directions -- A's window against B's windows moved
by up to ``radius``, and B's against A's -- and the larger of the two is kept, as
``difference:shift`` does for a plain difference (both use
:mod:`dfcore.ops.shift`). An object present in one image only is still
found, whichever image it is in.

The trade-off: a change that is itself a displacement of ``radius`` pixels or less (an
object nudged by a pixel, a line thinner than the window moved sideways) can hide, because
a shifted copy of the other image matches it. Choose the smallest radius that covers the
misalignment; align first (``-p align``) when it is larger than a couple of pixels.

The map is oriented like every map, larger = more different: the local map itself for a
lower-is-better metric, ``1 - local map`` for a higher-is-better one (their local maps are
similarities at most 1, as SSIM's).

Memory: when the metric declares how far its local map reaches (``local_radius``: 0 for MSE,
half the window for SSIM), the map is made in row strips (:mod:`dfcore.ops.strips`), so a pair
needs the map and one strip's work beyond its inputs; without it, the whole image at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dfcore.contracts import Problem, StageOutput
from dfcore.errors import StageError
from dfcore.ops.shift import check_radius, shift_tolerant
from dfcore.ops.strips import map_in_strips
from dfplugins_builtin.strategies.own import metric_unit


class Tolerant:
    """Shift-tolerant local map of the metric: each pixel's best match within ``radius`` px, both ways."""

    def __init__(self, radius: int = 1) -> None:
        self.radius = check_radius(radius, "radius")

    def __call__(self, problem: Problem) -> StageOutput:
        metric = problem.metric
        local_map = getattr(metric.stage, "local_map", None)
        if not callable(local_map):
            raise StageError(f"tolerant needs a metric with a local map (mse, ssim); {metric.name!r} has none "
                             "(for a plain difference use -s difference:shift=N)")
        flip = metric.higher_is_better

        def distance(x: Tensor, y: Tensor) -> Tensor:
            value = local_map(x, y)
            return 1 - value if flip else value

        def tolerant(x: Tensor, y: Tensor) -> Tensor:
            # Local maps of window metrics are translation-equivariant, so one evaluation per
            # displacement serves both directions (shift.shift_tolerant, symmetric=True).
            return shift_tolerant(distance, x, y, self.radius, symmetric=True)

        unit = f"{metric_unit(metric.stage, metric.name, 'local_map', flip)}, best match within {self.radius} px"
        with torch.no_grad():
            a, b = metric.preprocess(problem.a), metric.preprocess(problem.b)
            reach = getattr(metric.stage, "local_radius", None)
            if reach is None:
                return StageOutput(map=tolerant(a, b), unit=unit)
            return StageOutput(map=map_in_strips(tolerant, (a, b), int(reach) + 2 * self.radius), unit=unit)

    def conventions(self) -> dict[str, object]:
        return {
            "value": "the metric's local map (1 - it when higher is better), "
                     f"per pixel the best match over displacements |dy|, |dx| <= {self.radius}, "
                     "a against moved b and b against moved a; the larger of the two; edges replicated",
        }
