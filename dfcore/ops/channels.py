"""Combining the channels of a per-channel map into one map."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

REDUCTIONS = ("mean", "max", "sum", "l2")


def reduce_channels(values: Tensor, how: str = "mean") -> Tensor:
    """NxCxHxW -> Nx1xHxW by ``mean``, ``max``, ``sum`` or ``l2`` (root of the sum of squares)."""
    if how == "mean":
        return values.mean(1, keepdim=True)
    if how == "max":
        return values.amax(1, keepdim=True)
    if how == "sum":
        return values.sum(1, keepdim=True)
    if how == "l2":
        return _sqrt_(values.square().sum(1, keepdim=True))
    raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {how!r}")


def _sqrt_(values: Tensor) -> Tensor:
    """``values.sqrt()``, in place unless autograd records it. On a CPU NumPy takes the root:
    torch's CPU kernel is several times slower on zeros, of which a difference map is mostly
    made; NumPy's float32 roots are correctly rounded, torch's within an ulp of them."""
    if values.device.type == "cpu" and not values.requires_grad and values.dtype in (torch.float32, torch.float64):
        array = values.numpy()
        np.sqrt(array, out=array)
        return values
    return values.sqrt_() if not values.requires_grad else values.sqrt()


def check_reduction(how: str) -> str:
    if how not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {how!r}")
    return how
