"""``mse`` and ``psnr``: per-pixel error metrics, with masked means for ignored pixels.

Memory: the squared errors are computed in place in one buffer, and their gradient is closed
form (:class:`SquaredErrorMean`), so the ``gradient`` strategy needs one image's worth of
memory for the forward pass and one for the gradient, not a graph of full-size temporaries.
Values and gradients are those of autograd through ``((x - y) ** 2).mean()``, bit for bit.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def masked_mean(values: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per-sample mean of NxCxHxW ``values`` over the pixels where ``valid`` (Nx1xHxW) is true."""
    if valid is None:
        return values.flatten(1).mean(1)
    weight = valid.to(values.dtype).expand_as(values)
    return (values * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1.0)


def mse(x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean squared error per sample; lower is better.

    Without autograd the squared errors are computed in place in one contiguous buffer (one
    image's worth of memory, and a mean that needs no copy); with it, as a graph.

    Args:
        x, y: NxCxHxW images.
        valid: optional Nx1xHxW bool mask of the pixels that count.
    Returns:
        Tensor of shape (N,).
    """
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        if x.shape != y.shape:  # broadcasting: autograd sums the gradient back to each shape
            return masked_mean((x - y) ** 2, valid)
        return SquaredErrorMean.apply(x, y, valid)
    return masked_mean(squared_errors(x, y), valid)


def squared_errors(x: Tensor, y: Tensor) -> Tensor:
    """``(x - y) ** 2`` in one new contiguous tensor, squared in place (no autograd)."""
    errors = torch.empty(torch.broadcast_shapes(x.shape, y.shape), dtype=torch.result_type(x, y), device=x.device)
    return torch.sub(x, y, out=errors).square_()


class SquaredErrorMean(torch.autograd.Function):
    """:func:`masked_mean` of ``(x - y) ** 2`` per sample, with a closed-form backward.

    ``apply(x, y, valid) -> [N]``. The backward is ``2 (x - y)`` times the mean's weight per
    pixel (``g / count``, or ``g / valid count`` on valid pixels and 0 elsewhere), in the
    order autograd multiplies them, so the gradient equals autograd's exactly. Differentiable once.
    """

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, valid: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, y, valid)
        return masked_mean(squared_errors(x, y), valid)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, y, valid = ctx.saved_tensors
        want_x, want_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        shape = (-1,) + (1,) * (x.dim() - 1)
        if valid is None:
            weight = (grad / x[0].numel()).view(shape)
        else:
            mask = valid.to(x.dtype).expand_as(x)
            weight = (grad / mask.flatten(1).sum(1).clamp_min(1.0)).view(shape) * mask
        twice = torch.sub(x, y).mul_(2.0).mul_(weight)  # d/dx; d/dy is its negative
        grad_x = twice if want_x else None
        grad_y = (twice.neg() if want_x else twice.neg_()) if want_y else None
        return grad_x, grad_y, None


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0, valid: Tensor | None = None) -> Tensor:
    """Peak signal-to-noise ratio in dB per sample; higher is better; ``inf`` for identical images.

    The gradient is zero (not NaN) where the images are identical.
    """
    error = mse(x, y, valid)
    positive = error > 0
    safe = torch.where(positive, error, torch.ones_like(error))
    value = 10.0 * math.log10(data_range**2) - 10.0 * torch.log10(safe)
    return torch.where(positive, value, torch.full_like(value, math.inf))


class MSE:
    """Mean squared error (``mse``)."""

    higher_is_better = False
    supports_valid = True
    #: ``local_map`` is per pixel: each value depends on that pixel alone.
    local_radius = 0
    map_unit = "squared error (per pixel, mean over channels)"

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return mse(x, y, valid)

    def local_map(self, x: Tensor, y: Tensor) -> Tensor:
        """Squared error averaged over channels, Nx1xHxW."""
        return ((x - y) ** 2).mean(1, keepdim=True)


class PSNR:
    """Peak signal-to-noise ratio (``psnr``) for images with values in [0, ``data_range``]."""

    higher_is_better = True
    supports_valid = True

    def __init__(self, data_range: float = 1.0) -> None:
        if not data_range > 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        self.data_range = float(data_range)

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return psnr(x, y, self.data_range, valid)

    @property
    def map_unit(self) -> str:
        return (f"squared error (per pixel, mean over channels; PSNR = 10 log10({self.data_range:g}^2 / its mean))")

    def own_map(self, x: Tensor, y: Tensor) -> Tensor:
        """The squared error PSNR is made of, averaged over channels, Nx1xHxW."""
        return ((x - y) ** 2).mean(1, keepdim=True)

    def conventions(self) -> dict[str, float]:
        return {"data_range": self.data_range}
