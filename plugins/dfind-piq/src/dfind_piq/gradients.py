"""How piq's metrics are differentiated: finite derivatives of roots at zero, statistics held fixed.

piq computes gradient magnitudes as ``sqrt(gx**2 + gy**2)`` (FSIM, MS-GMSD, SR-SIM, VSI,
MDSI), local deviations as ``sqrt(var_x * var_y)`` (DSS) and feature norms and L2 pooling
as square roots (LPIPS, DISTS). Wherever the root's argument is exactly zero — every pixel of
a flat area, every pixel of two identical images — autograd's derivative is ``inf * 0 =
NaN``, and the NaN spreads through the filters to the neighbourhood: a gradient map of a
drawing, a screenshot or a saturated sky would be NaN. The derivative of ``x ** e`` (0 < e < 1)
at ``x = 0`` is taken as 0 instead, the subgradient torch itself uses for the norm
(``torch.linalg.vector_norm``) and for ``abs``; everywhere else it is torch's own formula,
bit for bit. Values are never changed.

Some metrics also estimate a statistic of the whole image on the way, which the gradient
should not flow through: FSIM's noise threshold is the median of the finest filter responses,
and its gradient lands on the one pixel that is the median (per orientation), a spike that says
nothing about where the images differ. A stage lists such functions in ``hold``; their results
are treated as constants when differentiating. Again values are unchanged.

Both are applied with a :class:`torch.overrides.TorchFunctionMode` for the duration of one
piq call, so piq's code runs unmodified and nothing outside the call is affected (modes are
thread-local).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.overrides import TorchFunctionMode


class FiniteRoot(torch.autograd.Function):
    """``x ** exponent`` for 0 < exponent < 1 whose derivative at ``x = 0`` is 0, not NaN.

    Elsewhere the backward is torch's formula for ``sqrt`` (``grad / (2 * result)``) or for
    ``pow`` with a scalar exponent (``grad * exponent * x ** (exponent - 1)``).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, exponent: float) -> Tensor:  # type: ignore[override]
        result = torch.sqrt(x) if exponent == 0.5 else torch.pow(x, exponent)
        ctx.exponent = exponent
        ctx.save_for_backward(result if exponent == 0.5 else x)
        return result

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (saved,) = ctx.saved_tensors
        exponent = ctx.exponent
        if exponent == 0.5:
            derivative = grad / (2 * saved)
        else:
            derivative = grad * (exponent * saved.pow(exponent - 1))
        return torch.where(saved == 0, torch.zeros_like(derivative), derivative), None


_ROOTS = (torch.sqrt, torch.Tensor.sqrt)
_POWERS = (torch.pow, torch.Tensor.pow, torch.Tensor.__pow__)


def _root_exponent(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> float | None:
    """The exponent if ``func(*args)`` is a root of a tensor that requires grad, else ``None``."""
    if kwargs or not args or not isinstance(args[0], Tensor) or not args[0].requires_grad:
        return None
    if func in _ROOTS and len(args) == 1:
        return 0.5
    if func in _POWERS and len(args) == 2 and isinstance(args[1], numbers.Real) and not isinstance(args[1], bool):
        exponent = float(args[1])
        return exponent if 0.0 < exponent < 1.0 else None
    return None


def _held(value: Any) -> Any:
    """``value`` with its tensors detached: a tensor, or a tuple of results such as ``torch.median``'s."""
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, tuple):
        items = [_held(item) for item in value]
        return type(value)(items) if hasattr(type(value), "n_fields") else tuple(items)  # torch.return_types
    return value


class DfindGradients(TorchFunctionMode):
    """The mode :func:`dfind_gradients` enters: finite roots, and ``hold`` functions detached."""

    def __init__(self, hold: Iterable[Callable[..., Any]] = ()) -> None:
        super().__init__()
        self.hold = tuple(hold)

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        exponent = _root_exponent(func, args, kwargs)
        if exponent is not None:
            return FiniteRoot.apply(args[0], exponent)
        result = func(*args, **kwargs)
        return _held(result) if func in self.hold else result


@contextlib.contextmanager
def dfind_gradients(hold: Iterable[Callable[..., Any]] = ()) -> Iterator[None]:
    """Run piq code inside this block to differentiate it the way the module docstring says."""
    with DfindGradients(hold):
        yield


__all__ = ["DfindGradients", "FiniteRoot", "dfind_gradients"]
