"""Combining the channels of a per-channel map into one map; on the host, the largest and the mean
channel of an array whose channels lie along a short axis (an HxWxC crop of an image)."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from dfcore.ops.host import FLOATS, numpy_view

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
    if values.requires_grad:
        return values.sqrt()
    array = numpy_view(values, FLOATS)
    if array is None:
        return values.sqrt_()
    np.sqrt(array, out=array)
    return values


def check_reduction(how: str) -> str:
    if how not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {how!r}")
    return how


def channel_max(values: np.ndarray, axis: int) -> np.ndarray:
    """``values.max(axis=axis)`` over a short axis (an image's channels), channel by channel: NumPy
    reduces a length-3 axis element by element, 20x slower than three whole-array maxima."""
    return _folded(values, axis, np.maximum)


def channel_sum(values: np.ndarray, axis: int) -> np.ndarray:
    """``values.sum(axis=axis)`` over a short axis, as :func:`channel_max`: the channels added in order
    in ``values``' dtype (as torch sums up to four channels)."""
    return _folded(values, axis, np.add)


def channel_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """``values.mean(axis=axis)`` of a float array over a short axis, as :func:`channel_max`: the
    channels summed in order in ``values``' dtype, then divided by their count (NumPy's mean, bit for bit)."""
    out = channel_sum(values, axis)
    out /= values.shape[axis]
    return out


def _folded(values: np.ndarray, axis: int, combine: np.ufunc) -> np.ndarray:
    """The channels along ``axis`` combined in order by ``combine``, whole arrays at a time (a new array)."""
    channels = np.moveaxis(values, axis, 0)
    out = channels[0].copy()
    for channel in channels[1:]:
        combine(out, channel, out=out)
    return out
