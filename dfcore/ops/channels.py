"""Combining the channels of a per-channel map into one map."""

from __future__ import annotations

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
        return values.square().sum(1, keepdim=True).sqrt()
    raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {how!r}")


def check_reduction(how: str) -> str:
    if how not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {how!r}")
    return how
