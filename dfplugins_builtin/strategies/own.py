"""``own``: the metric's own map, what a user naming a metric expects to see.

``dfind A B -m ssim`` (a metric named, no strategy, no preset) makes this map: SSIM's local
map, not the default difference map. Which map, in this order (the metric contract,
``docs/contracts.md``):

1. the metric's ``own_map(x, y)``, larger = more different (PSNR: the squared error its score
   is made of; MS-SSIM: its map over all scales; the overlap metrics: the pixels where the
   masks disagree);
2. its ``local_map(x, y)``, the per-pixel map whose mean is the score, oriented like every
   map: as it is for a lower-is-better metric (MSE: squared error), ``1 - map`` for a
   higher-is-better one (SSIM: ``1 - SSIM``);
3. otherwise the gradient of the metric with respect to B (the ``gradient`` strategy with its
   defaults): which pixels drive the score. A metric registered from Python without a map
   gets this.

The map's unit (``StageOutput.unit``) is the metric's ``map_unit`` when it declares one, else
said from its name (``"1 - local dice"``), or the gradient's. Which of the three was used is
in each pair's info (``own.map``). A local map with a declared ``local_radius`` is made in row
strips (:mod:`dfcore.ops.strips`), as ``tolerant`` makes it.
"""

from __future__ import annotations

from typing import Any

import torch

from dfcore.contracts import Problem, StageOutput
from dfcore.ops.strips import map_in_strips
from dfplugins_builtin.strategies.gradient import Gradient

#: What the three sources of the map are called in a pair's info.
SOURCES = ("own_map", "local_map", "gradient")


def metric_map(stage: Any) -> tuple[str, Any] | None:
    """``(source, function)`` of the map a metric stage offers itself, or ``None`` (the gradient's turn)."""
    for source in SOURCES[:2]:
        function = getattr(stage, source, None)
        if callable(function):
            return source, function
    return None


def metric_unit(stage: Any, name: str, source: str, higher_is_better: bool) -> str:
    """The unit of a metric's own map: its ``map_unit``, else said from its name and orientation."""
    declared = getattr(stage, "map_unit", None)
    if isinstance(declared, str) and declared:
        return declared
    if source == "own_map":
        return f"{name}'s own map (larger = more different)"
    return f"1 - local {name}" if higher_is_better else f"local {name}"


class Own:
    """The metric's own map (module docstring): ``own_map``, else the oriented ``local_map``, else the gradient."""

    def __init__(self) -> None:
        self.gradient = Gradient()

    def __call__(self, problem: Problem) -> StageOutput:
        metric = problem.metric
        found = metric_map(metric.stage)
        n = problem.a.shape[0]
        if found is None:
            made = self.gradient(problem)
            return StageOutput(map=made, unit=self.gradient.unit, info=[{"map": "gradient"}] * n)
        source, function = found
        flip = source == "local_map" and metric.higher_is_better
        with torch.no_grad():
            a, b = metric.preprocess(problem.a), metric.preprocess(problem.b)
            reach = getattr(metric.stage, "local_radius", None) if source == "local_map" else None
            made = function(a, b) if reach is None else map_in_strips(function, (a, b), int(reach))
            if flip:
                made = 1 - made
        return StageOutput(map=made.float() if not made.is_floating_point() else made,
                           unit=metric_unit(metric.stage, metric.name, source, metric.higher_is_better),
                           info=[{"map": source}] * n)

    def conventions(self) -> dict[str, object]:
        return {"value": "the metric's own_map, else its local_map (1 - it when higher is better), else the "
                         "absolute gradient with respect to b; which one in each pair's info"}
