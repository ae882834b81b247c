"""What every bridged metric does around its piq call: dfind's contract and conventions.

* Inputs are checked before piq sees them, each failure a one-line dfind error: two NxCxHxW
  images of one shape; 1 (grey) or 3 (RGB) channels; values in ``[0, data_range]``
  (``data_range=1.0``: dfind's images are in [0, 1]); at least the size the metric needs
  (piq would raise an ``AssertionError``, a bare ``ValueError`` or return NaN instead).
* A metric that needs colour gets a grey pair repeated to three channels (R = G = B, so
  the chroma is zero and the colour terms are 1); the others pass grey through and turn RGB
  into luminance themselves, as piq documents for each.
* piq is called with ``reduction='none'``: one value per sample, shape ``[N]``.
* dfind calls a metric as ``metric(a, b)``, A being the reference (``dfind gt.png out.png``);
  piq's order is ``(x, y)`` = (the image assessed, the reference). So piq gets ``x = b``,
  ``y = a``. It matters for the asymmetric metrics (VIFp, MDSI, IW-SSIM, PieAPP).
* The call runs under :func:`dfind_piq.gradients.dfind_gradients`: finite derivatives of
  roots at zero, and the statistics a stage lists in ``hold`` held fixed.
* ``conventions()`` records all of this in every result.

Tensors stay on the input's device; piq allocates its filters there too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from dfcore.errors import InputError, ShapeError
from dfind_piq.gradients import dfind_gradients


def piq_version() -> str:
    import piq

    return str(piq.__version__)


def positive(**values: float) -> None:
    """Raise ``ValueError`` naming the first value that is not a positive finite number."""
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive, got {value}")


def at_least(minimum: int, **values: int) -> None:
    """Raise ``ValueError`` naming the first integer below ``minimum``."""
    for name, value in values.items():
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")


def weights_tuple(name: str, value: Iterable[float] | None) -> tuple[float, ...] | None:
    """``None``, or a non-empty tuple of positive numbers (piq's ``scale_weights`` tensors)."""
    if value is None:
        return None
    try:
        weights = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of positive numbers such as [0.5,0.5], got {value!r}") from None
    if not weights or not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {list(weights)}")
    return weights


class PiqMetric(torch.nn.Module):
    """A piq metric as a dfind metric stage; subclasses say which and how (see the module docstring).

    Subclasses set ``name`` (the stage name), ``function`` (piq's name for it, recorded),
    ``higher_is_better``, ``rgb`` (needs colour: grey is repeated) and optionally ``hold``
    (see :mod:`dfind_piq.gradients`);
    they implement :meth:`compute` and, where piq has a minimum size, :meth:`minimum_side`
    or :meth:`check_size`.
    """

    name: ClassVar[str]
    function: ClassVar[str]
    higher_is_better: ClassVar[bool]
    rgb: ClassVar[bool] = False
    hold: tuple[Callable[..., Any], ...] = ()  # torch functions whose results are constants for autograd

    def __init__(self, data_range: float = 1.0) -> None:
        super().__init__()
        positive(data_range=data_range)
        self.data_range = float(data_range)

    @property
    def label(self) -> str:
        return f"piq.{self.name}"

    @property
    def needs_rgb(self) -> bool:
        """Whether grey images are repeated to RGB before piq sees them."""
        return self.rgb

    def minimum_side(self) -> tuple[int, str]:
        """The smallest height and width piq can use, and why (for the error message)."""
        return 1, ""

    def check_size(self, height: int, width: int) -> None:
        """Raise :class:`ShapeError` naming the size needed and the size given."""
        side, why = self.minimum_side()
        if min(height, width) < side:
            raise ShapeError(f"{self.label} needs images of at least {side}x{side} px{why}, got {width}x{height}")

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """The metric of ``b`` against the reference ``a`` (NxCxHxW each), shape ``[N]``."""
        a, b = self.prepare(a, b)
        with dfind_gradients(self.hold):
            return self.compute(b, a)

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        """piq's value for each sample, shape ``[N]``: ``x`` assessed against the reference ``y``."""
        raise NotImplementedError

    def prepare(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """Check the pair (shape, channels, size, range); grey to RGB where needed."""
        if a.ndim != 4 or a.shape != b.shape:
            raise ShapeError(f"{self.label} needs two NxCxHxW images of one shape, got {list(a.shape)} "
                             f"and {list(b.shape)}")
        channels = a.shape[1]
        if channels not in (1, 3):
            raise ShapeError(f"{self.label} compares grey (1 channel) or RGB (3 channels) images, "
                             f"got {channels} channels")
        self.check_size(a.shape[2], a.shape[3])
        self.check_range(a, b)
        if channels == 1 and self.needs_rgb:
            a, b = a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)
        return a.contiguous(), b.contiguous()

    def check_range(self, a: Tensor, b: Tensor) -> None:
        low_a, high_a = torch.aminmax(a.detach())
        low_b, high_b = torch.aminmax(b.detach())
        low, high = torch.stack([torch.minimum(low_a, low_b), torch.maximum(high_a, high_b)]).tolist()
        if not (low >= 0.0 and high <= self.data_range):
            raise InputError(
                f"{self.label} needs values in [0, {self.data_range:g}] (data_range={self.data_range:g}), got "
                f"[{low:.4g}, {high:.4g}]; dfind's images are in [0, 1], preprocessors such as highpass can leave it"
            )

    def channel_rule(self) -> str:
        if self.needs_rgb:
            return "RGB; grey repeated to RGB (R = G = B)"
        return "grey or RGB; piq takes the luminance of RGB itself"

    def conventions(self) -> dict[str, Any]:
        side, _ = self.minimum_side()
        recorded: dict[str, Any] = {
            "implementation": f"piq {piq_version()}, piq.{self.function}",
            "data_range": self.data_range,
            "input_range": f"[0, {self.data_range:g}]",
            "reduction": "none: one value per sample",
            "order": "piq(x=B, y=A): A is the reference",
            "channels": self.channel_rule(),
            "minimum_side": side,
            "gradient": "d(x**e)/dx = 0 at x = 0 for 0 < e < 1 (piq's autograd gives NaN there)",
        }
        if self.hold:
            recorded["held_fixed"] = [getattr(f, "__name__", repr(f)) for f in self.hold]
        return recorded

    def extra_repr(self) -> str:
        return f"{self.label}, higher_is_better={self.higher_is_better}"


__all__ = ["PiqMetric", "at_least", "piq_version", "positive", "weights_tuple"]
