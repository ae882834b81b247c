"""``gradient``: which pixels drive the score.

The map is the gradient of the metric with respect to one image (the other, the
``reference``, is held fixed), taken through the preprocessors, so it lies on the input's
pixel grid whatever they do. The metric is oriented first (negated when higher is better), so
a positive signed value always means "raising this pixel makes the images more different";
by default the map is the absolute value, averaged over channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfcore.ops.channels import check_reduction, reduce_channels
from dfcore.ops.gradients import metric_gradient

if TYPE_CHECKING:
    from torch import Tensor

    from dfcore.contracts import Problem


class Gradient:
    """Gradient of the (oriented) metric with respect to the non-reference image."""

    def __init__(self, reference: str = "a", signed: bool = False, reduce: str = "mean") -> None:
        if reference not in ("a", "b"):
            raise ValueError(f"reference must be a or b, got {reference!r}")
        self.reduce = check_reduction(reduce)
        if signed and reduce == "l2":
            raise ValueError("signed maps cannot use reduce=l2 (it discards the sign)")
        self.reference, self.signed = reference, bool(signed)

    @property
    def unit(self) -> str:
        """What the map's values are: the score's change per unit of a pixel's value (images in [0, 1])."""
        image = "b" if self.reference == "a" else "a"
        value = f"d score / d pixel of {image}" if self.signed else f"|d score / d pixel of {image}|"
        return f"{value}, channels: {self.reduce}"

    def __call__(self, problem: Problem) -> Tensor:
        grad = metric_gradient(problem, self.reference)
        if not self.signed:  # the gradient is ours: in place, unless it is an expanded view (a linear metric's)
            grad = grad.abs() if 0 in grad.stride() else grad.abs_()
        return reduce_channels(grad, self.reduce)

    def conventions(self) -> dict[str, object]:
        return {
            "differentiated": "b" if self.reference == "a" else "a",
            "orientation": "larger = more different (metric negated when higher is better)",
            "value": "signed gradient" if self.signed else "absolute gradient",
        }
