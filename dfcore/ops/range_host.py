"""The range tolerance of CPU tensors by OpenCV and NumPy, band by band in reused buffers.

:func:`dfcore.ops.shift.range_tolerant` with a named channel reduction runs here when its
tensors are float32 or float64 on the CPU, planar or channels-last, with one to four channels:
the same arithmetic as its torch path, operation for operation (each channel's window range by
OpenCV's erosion and dilation, the widening by the overshoot, the distance outside it, the
channels reduced one after another as torch reduces up to four), so the same values to the bit,
in a quarter to a third less time at 1024 px (``benchmarks/range_tolerance.py``). A band of rows
at a time stays in the processor's cache, as on the torch path, and its buffers are allocated
once per call; torch's CPU kernels spend most of theirs on a dozen separate passes and their
dispatch.
Anything else (another device or dtype, a tensor autograd follows, more channels, other
strides) gets ``None``: the torch path serves it.

:func:`array_range`, a host array's least and greatest value around each pixel, is the one
OpenCV range every host step reads: this path's bands, the torch path's
:func:`~dfcore.ops.shift.neighbourhood_range` on a CPU, and :mod:`dfcore.ops.moves`.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from dfcore.ops.channels import channel_max, channel_mean, channel_sum
from dfcore.ops.host import FLOATS, numpy_view
from dfcore.ops.strips import bands

#: Channel counts whose reduction here follows torch's order of summation (one after another).
HOST_CHANNELS = (1, 2, 3, 4)


def _channels_last(values: np.ndarray) -> np.ndarray | None:
    """An NxCxHxW array as NxHxWxC when each row's pixels and their channels lie side by side
    (channels-last); as it is when each plane's rows are contiguous (planar); ``None`` otherwise."""
    item = values.itemsize
    if values.shape[1] > 1 and values.strides[1] == item and values.strides[3] == values.shape[1] * item:
        return values.transpose(0, 2, 3, 1)
    return values if values.strides[3] == item else None


def array_range(values: np.ndarray, radius: int, low: np.ndarray | None = None,
                high: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel (and channel) of an HxW or HxWxC float32/float64 array, the least and the greatest
    value within ``radius`` px (a square window; edges repeat), by OpenCV's erosion and dilation;
    written into ``low`` and ``high`` when given (contiguous arrays of the same shape)."""
    values = np.ascontiguousarray(values)
    square = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    low = cv2.erode(values, square, dst=low, borderType=cv2.BORDER_REPLICATE)
    high = cv2.dilate(values, square, dst=high, borderType=cv2.BORDER_REPLICATE)
    return low.reshape(values.shape), high.reshape(values.shape)  # OpenCV drops a single channel's axis


def host_range_tolerant(x: Tensor, y: Tensor, radius: int, reduce: str, overshoot: float,
                        band_pixels: int) -> Tensor | None:
    """``range_tolerant(x, y, radius, reduce, overshoot)`` (Nx1xHxW) computed here, or ``None`` when
    the tensors are not ones this path takes (module docstring). ``band_pixels``: pixels per band."""
    if x.requires_grad or y.requires_grad or x.shape[1] not in HOST_CHANNELS or not x.numel():
        return None
    xs, ys = numpy_view(x, FLOATS), numpy_view(y, FLOATS)
    if xs is None or ys is None or xs.dtype != ys.dtype:
        return None
    us, vs = _channels_last(xs), _channels_last(ys)
    if us is None or vs is None or (us is not xs) != (vs is not ys):  # one layout for both
        return None
    n, channels, height, width = xs.shape
    interleaved = us is not xs
    out = np.empty((n, 1, height, width), xs.dtype)
    rows = max(8, band_pixels // max(1, width))
    ranges = _Ranges(radius, channels, interleaved, reduce, overshoot, xs.dtype)
    for sample in range(n):
        for read, keep, into in bands(height, rows, radius):
            u, v = (us[sample, read], vs[sample, read]) if interleaved else (us[sample, :, read], vs[sample, :, read])
            near = ranges.outside(u, v)
            np.maximum(near[keep], ranges.outside(v, u)[keep], out=out[sample, 0, into])
    if reduce == "l2":  # the root of the larger sum of squares: the larger root, to the bit
        np.sqrt(out, out=out)
    return torch.from_numpy(out)


class _Ranges:
    """The buffers of one call and the arithmetic of one direction of one band."""

    def __init__(self, radius: int, channels: int, interleaved: bool, reduce: str, overshoot: float,
                 dtype: np.dtype) -> None:
        self.radius = radius
        self.channels, self.interleaved, self.reduce = channels, interleaved, reduce
        self.overshoot = dtype.type(overshoot)  # torch multiplies a float32 tensor by it in float32
        self.dtype = dtype
        self.buffers: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _buffers(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if shape not in self.buffers:  # every band but the last has one shape
            self.buffers[shape] = tuple(np.empty(shape, self.dtype) for _ in range(3))  # type: ignore[assignment]
        return self.buffers[shape]

    def outside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """HxW: ``x``'s distance outside ``y``'s range (widened), its channels reduced: a new array."""
        low, high, spread = self._buffers(x.shape)
        if self.interleaved:
            array_range(y, self.radius, low, high)
        else:
            for plane in range(self.channels):
                array_range(y[plane], self.radius, low[plane], high[plane])
        if self.overshoot:
            np.subtract(high, low, out=spread)
            spread *= self.overshoot
            low -= spread
            high += spread
        # x above the range plus x below it is the largest of the two and 0, to the bit: the range
        # is not empty, so at most one of them is positive. On flat 2-D views: OpenCV's maximum is
        # several times NumPy's on float32.
        above, below = high.reshape(high.shape[0], -1), low.reshape(low.shape[0], -1)
        np.subtract(x, high, out=high)
        np.subtract(low, x, out=low)
        cv2.max(above, below, dst=above)
        cv2.max(above, 0.0, dst=above)
        if self.reduce == "l2":
            np.square(high, out=high)
        axis = -1 if self.interleaved else 0  # the channels' axis
        if self.reduce == "max":
            return channel_max(high, axis)
        return channel_mean(high, axis) if self.reduce == "mean" else channel_sum(high, axis)


__all__ = ["HOST_CHANNELS", "array_range", "host_range_tolerant"]
