"""A callable or module adapted to dfind's metric contract: :class:`CustomMetric`.

What the callable may return, for inputs x, y of shape NxCxHxW:

* one value per sample: shape ``[N]`` (``[N, 1]`` or ``[N, 1, 1, 1]`` are flattened);
* a scalar (shape ``[]``): for N = 1 it is the sample's value; for N > 1 the callable is
  called once per sample and the values are stacked, so a loss with a batch-mean reduction
  (``torch.nn.L1Loss()``) works and every sample keeps its own value and its own gradient.

Every call is checked at no extra cost beyond one reduction: a wrong shape, a NaN, or a
detached output while a strategy differentiates raise :class:`~dfcore.errors.MetricCheckError`
naming the metric. Registration: :mod:`dfcore.pipeline.registration`; validation before use:
:mod:`dfcore.pipeline.metric_check`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dfcore.errors import MetricCheckError
from dfcore.pipeline.stages import check_metric_value

DETACHED = (
    "does not depend on its input through autograd (its output is detached, or computed outside "
    "torch, e.g. with numpy): a gradient map would be all zero; compute it with torch operations"
)


#: Optional members of the metric contract (docs/contracts.md) a wrapped metric keeps: its own map
#: for the ``own`` strategy, how far its local map reaches, its smallest accepted side.
OPTIONAL_MEMBERS = ("own_map", "local_map", "map_unit", "local_radius", "min_side")


class CustomMetric(torch.nn.Module):
    """A callable or module adapted to dfind's metric contract (see the module docstring).

    Args:
        fn: ``fn(x, y) -> Tensor`` or a ``torch.nn.Module`` doing the same.
        name: the stage name, used in messages.
        higher_is_better: whether a larger value means more similar (``None``: unknown).
    """

    def __init__(self, fn: Callable[..., Any], name: str, higher_is_better: bool | None) -> None:
        super().__init__()
        self.fn = fn
        self.name = name
        self.higher_is_better = higher_is_better
        self.supports_valid = bool(getattr(fn, "supports_valid", False))
        self._scalar_output = False
        for optional in OPTIONAL_MEMBERS:  # what the wrapped object offers of the metric contract
            value = getattr(fn, optional, None)
            if value is not None:
                setattr(self, optional, value)

    def evaluate(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Any:
        """Call the wrapped metric, once per sample if it returns a scalar for a batch; no checks."""
        n = x.shape[0]
        if not (self._scalar_output and n > 1):
            value = self._call(x, y, valid)
            if not (isinstance(value, Tensor) and value.ndim == 0 and n > 1):
                return value
            self._scalar_output = True
        values = []
        for i in range(n):
            value = self._call(x[i : i + 1], y[i : i + 1], None if valid is None else valid[i : i + 1])
            if not (isinstance(value, Tensor) and value.numel() == 1):
                return value
            values.append(value.reshape(()))
        return torch.stack(values)

    def _call(self, x: Tensor, y: Tensor, valid: Tensor | None) -> Any:
        if valid is not None and self.supports_valid:
            return self.fn(x, y, valid=valid)
        return self.fn(x, y)

    def forward(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        value = per_sample(self.evaluate(x, y, valid), x, self.name)
        if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad) and not value.requires_grad:
            raise MetricCheckError(f"metric {self.name!r} {DETACHED}")
        if bool(torch.isnan(value.detach()).any()):
            raise MetricCheckError(f"metric {self.name!r} returned NaN for a {shape_text(x)} input")
        return value

    def conventions(self) -> dict[str, Any]:
        fn = self.fn
        own = getattr(fn, "conventions", None)
        recorded: dict[str, Any] = dict(own()) if callable(own) else {}
        target = fn if inspect.isroutine(fn) else type(fn)
        recorded["callable"] = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
        recorded["registered"] = "in-process (dfcore.register_metric)"
        return recorded

    def extra_repr(self) -> str:
        return f"name={self.name!r}, higher_is_better={self.higher_is_better}"


def per_sample(value: Any, x: Tensor, name: str) -> Tensor:
    """``value`` as a float tensor of shape ``[N]`` on ``x``'s device, or a one-line error.

    Besides what every metric may return (:func:`~dfcore.pipeline.stages.check_metric_value`),
    a value of shape ``[N, 1]`` or ``[N, 1, 1, 1]`` is flattened.
    """
    n = x.shape[0]
    if isinstance(value, Tensor) and value.ndim > 1 and value.shape[0] == n and value.numel() == n:
        value = value.reshape(n)
    return check_metric_value(value, x, name)


def shape_text(x: Tensor) -> str:
    """``"2x3x32x32"``."""
    return "x".join(str(s) for s in x.shape)


__all__ = ["OPTIONAL_MEMBERS", "CustomMetric", "per_sample"]
