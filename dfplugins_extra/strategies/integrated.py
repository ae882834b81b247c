"""``integrated``: integrated gradients of the metric, a map that adds up to the score.

The image that moves (B when ``reference="a"``) travels the straight path from the reference
image to itself, ``x(t) = r + t (m - r)``, and each pixel's attribution is its change times
the gradient of the oriented distance averaged along the path (Sundararajan et al., 2017):

    IG_i = (m_i - r_i) * integral_0^1 dD/dx_i (r + t (m - r)) dt,     D(x) = distance(r, x)

By the fundamental theorem of calculus for path integrals the attributions sum to
``D(m) - D(r)`` (*completeness*): the distance of the pair minus the distance of the reference
to itself, that is ``score - score(identical)`` for a lower-is-better metric (MSE: the MSE
itself) and ``score(identical) - score`` for a higher-is-better one (SSIM: ``1 - SSIM``). The
orientation is that of the ``gradient`` strategy: positive = this pixel's change made the images more
different. Channels are summed, so the map adds up too; the result's info reports how
closely, as ``info["integrated"]["completeness"]``.

Why it concentrates on real changes where a plain gradient does not: the gradient at B alone
is large wherever the metric is locally sensitive, including pixels that differ by sensor
noise only; the path integral weighs each pixel by how far it actually moved, so a pixel that
barely changed gets little, whatever the slope. For MSE the attribution is exactly the
per-pixel squared error (divided by the pixel count), against ``2 |m - r|`` for the gradient.

The integral is taken by Gauss-Legendre quadrature with ``steps`` nodes, as Captum does by
default: exact for integrands that are polynomials of degree ``2 steps - 1`` in ``t`` (MSE's
is of degree 1) and converging exponentially fast for smooth ones such as SSIM's, where the
left/right Riemann sums of the original paper converge like ``1/steps`` and the trapezoid and
midpoint rules like ``1/steps^2`` (``benchmarks/integrated.py`` measures the error of each).
The nodes avoid the path's ends, where a metric can be singular at identical images. A metric
that is infinite there (PSNR) has no finite completeness and is refused with a hint.

Path points are evaluated ``batch_size`` at a time in one forward and backward pass; by
default as many as keep a chunk under about 4 million values (``AUTO_CHUNK_VALUES``), so a
4K image runs one point at a time instead of running out of memory.

References:
    Sundararajan, Taly, Yan. Axiomatic attribution for deep networks. ICML 2017.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from dfcore.contracts import Problem, StageOutput
from dfcore.errors import ParameterError, StageError

#: Default chunk: path points per forward/backward pass so that a chunk holds at most this many values.
AUTO_CHUNK_VALUES = 2**22
#: A quadrature rule on [0, 1]: nodes and weights.
Rule = tuple[tuple[float, ...], tuple[float, ...]]


@lru_cache(maxsize=32)
def gauss_legendre(steps: int) -> Rule:
    """Nodes in (0, 1) and weights (summing to 1) of the ``steps``-point Gauss-Legendre rule."""
    import numpy as np

    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return tuple(float(x) for x in (nodes + 1.0) / 2.0), tuple(float(w) for w in weights / 2.0)


def path_chunk(image: Tensor, steps: int, batch_size: int | None = None) -> int:
    """Path points per pass: ``batch_size``, or as many as fit in ``AUTO_CHUNK_VALUES`` values."""
    if batch_size is not None:
        return max(1, min(steps, int(batch_size)))
    return max(1, min(steps, AUTO_CHUNK_VALUES // max(1, image.numel())))


def integrated_gradients(problem: Problem, steps: int = 32, reference: str = "a", batch_size: int | None = None,
                         rule: Callable[[int], Rule] = gauss_legendre) -> Tensor:
    """Integrated gradients of the oriented distance along the straight path, NxCxHxW.

    Args:
        problem: the pair and the bound metric (see :class:`dfcore.contracts.Problem`).
        steps: quadrature nodes, >= 1.
        reference: ``"a"``: the path goes from A to B and B is attributed; ``"b"``: the reverse.
        batch_size: path points per forward/backward pass; ``None``: see :func:`path_chunk`.
        rule: ``steps -> (nodes in [0, 1], weights)``; Gauss-Legendre by default
            (``benchmarks/integrated.py`` passes the Riemann and trapezoid rules to compare).
    Returns:
        Per-pixel, per-channel attributions on the inputs' device, summing (per sample) to
        ``distance(a, b) - distance(reference, reference)`` up to the quadrature error.
    """
    start, end = (problem.a, problem.b) if reference == "a" else (problem.b, problem.a)
    start, end = start.detach(), end.detach()
    delta = end - start
    n, shape = start.shape[0], start.shape[1:]
    nodes, weights = rule(steps)
    steps = len(nodes)
    chunk = path_chunk(start, steps, batch_size)
    total = torch.zeros_like(end)
    with torch.enable_grad():
        for first in range(0, steps, chunk):
            t = torch.tensor(nodes[first:first + chunk], dtype=end.dtype, device=end.device)
            w = torch.tensor(weights[first:first + chunk], dtype=end.dtype, device=end.device)
            k = t.numel()
            points = (start.unsqueeze(0) + t.view(k, 1, 1, 1, 1) * delta.unsqueeze(0)).reshape(k * n, *shape)
            points.requires_grad_(True)
            fixed = start.repeat(k, 1, 1, 1)
            metric = problem.metric.repeated(k)
            distance = metric.distance(fixed, points) if reference == "a" else metric.distance(points, fixed)
            if not distance.requires_grad:
                raise StageError(
                    f"metric {problem.metric.name!r} does not depend on its input through autograd "
                    "(is it detached, or computed with numpy?): its integrated gradients would be all zero"
                )
            (grad,) = torch.autograd.grad(distance.sum(), points)
            total += (w.view(k, 1, 1, 1, 1) * grad.view(k, n, *shape)).sum(0)
    return delta * total


class IntegratedGradients:
    """Integrated gradients of the (oriented) metric from the reference image to the other one.

    Args:
        steps: Gauss-Legendre nodes on the path, >= 1 (32 keeps SSIM's completeness error
            well under 1% on typical pairs; MSE is exact with 1).
        batch_size: path points per forward/backward pass; ``None``: chosen from the image
            size so that large images do not run out of memory.
        reference: the image held fixed, where the path starts (``"a"``: B is attributed).
        signed: keep the sign (positive: this pixel's change added difference); ``False``
            gives the absolute value of each pixel's attribution (which then no longer adds up).
    """

    def __init__(self, steps: int = 32, batch_size: int | None = None, reference: str = "a",
                 signed: bool = True) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1 or none, got {batch_size!r}")
        if reference not in ("a", "b"):
            raise ValueError(f"reference must be a or b, got {reference!r}")
        self.steps, self.batch_size, self.reference, self.signed = steps, batch_size, reference, bool(signed)

    def __call__(self, problem: Problem) -> StageOutput:
        with torch.no_grad():
            origin = problem.a if self.reference == "a" else problem.b
            before = problem.metric.distance(origin, origin)
            after = problem.metric.distance(problem.a, problem.b)
        if not bool(torch.isfinite(before).all() & torch.isfinite(after).all()):
            raise ParameterError(
                f"integrated: metric {problem.metric.name!r} is infinite at identical images, so attributions "
                "cannot add up to it; use a finite metric (mse instead of psnr, of which it is a monotone function)"
            )
        attributions = integrated_gradients(problem, self.steps, self.reference, self.batch_size)
        per_pixel = attributions.sum(1, keepdim=True)
        if problem.valid is not None:
            per_pixel = per_pixel * problem.valid
        total = per_pixel.flatten(1).sum(1).double()
        gap = (after - before).detach().double()
        infos = [self._info(float(s), float(g)) for s, g in zip(total.cpu(), gap.cpu())]
        return StageOutput(map=per_pixel if self.signed else per_pixel.abs(), info=infos)

    def _info(self, total: float, gap: float) -> dict[str, Any]:
        error = total - gap
        relative = abs(error) / abs(gap) if gap != 0.0 else (0.0 if error == 0.0 else None)
        return {
            "rule": "gauss-legendre",
            "steps": self.steps,
            "completeness": {"attribution_sum": total, "distance_gap": gap, "error": error,
                             "relative_error": relative},
        }

    def conventions(self) -> dict[str, object]:
        return {
            "path": "straight line from the reference image to the other",
            "attributed": "b" if self.reference == "a" else "a",
            "rule": f"Gauss-Legendre, {self.steps} nodes",
            "orientation": "larger = more different (metric negated when higher is better)",
            "channels": "summed, so the map adds up",
            "value": "signed attribution" if self.signed else "absolute attribution per pixel",
            "adds_up_to": "distance(a, b) - distance(reference, reference)",
        }
