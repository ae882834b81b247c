"""A CPU tensor's memory read by NumPy, for the host steps whose NumPy or OpenCV kernels are faster.

The lossless test's comparisons and counts, the range tolerance's square root and window
extremes and a median run several times faster in NumPy or OpenCV than in torch's CPU kernels,
a spectrum's modulus twice as fast (``docs/performance.md``). They read the tensor's own memory through
:func:`numpy_view`, which says when that is possible; any other tensor -- on another device,
of a dtype NumPy lacks (bfloat16), or a view carrying torch's negative bit -- keeps the torch
path, so every stage stays device-agnostic. :func:`differs` (where a pair differs) is the
comparison the lossless test and the range tolerance's boxes share.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: The dtypes NumPy reads as views of a tensor's memory, as these steps use them.
VIEWED = (torch.bool, torch.uint8, torch.float16, torch.float32, torch.float64)
#: Those of them OpenCV's morphology and NumPy's root take.
FLOATS = (torch.float32, torch.float64)
#: The complex dtypes whose memory NumPy reads (a spectrum's).
COMPLEX = (torch.complex64, torch.complex128)


def numpy_view(tensor: Tensor, dtypes: tuple[torch.dtype, ...] = VIEWED) -> np.ndarray | None:
    """``tensor``'s memory as a NumPy array (no copy, not followed by autograd), or ``None`` when
    it is not a CPU tensor of one of ``dtypes`` that NumPy can read."""
    if tensor.device.type != "cpu" or tensor.dtype not in dtypes or tensor.is_neg() or tensor.is_conj():
        return None
    return tensor.detach().numpy()


def unit_phase_(spectrum: Tensor, floor: float = 1e-12, host: bool = True) -> Tensor:
    """``spectrum`` divided in place by its modulus (at least ``floor``): each frequency's phase alone.
    A CPU spectrum is divided by NumPy, whose complex modulus runs twice as fast there as torch's
    (2.4 against 5.5 ms on a 1024x513 complex64 spectrum; the same values to a float rounding);
    ``host=False`` keeps torch's division wherever the spectrum is."""
    values = numpy_view(spectrum, COMPLEX) if host else None
    if values is None:
        return spectrum.div_(spectrum.abs().clamp_min_(floor))
    modulus = np.abs(values)
    np.maximum(modulus, floor, out=modulus)
    values /= modulus
    return spectrum


def differs(x: Tensor, y: Tensor) -> Tensor:
    """Nx1xHxW bool: where any channel of NxCxHxW ``x`` and ``y`` differ (channel by channel, no
    reduction kernel). CPU tensors are compared by NumPy on views of their memory: its boolean
    kernels run 3 to 6 times faster there on the strided views this is given (``docs/performance.md``)."""
    xs, ys = numpy_view(x), numpy_view(y)
    if xs is not None and ys is not None and xs.dtype == ys.dtype:
        return torch.from_numpy(differs_numpy(xs, ys))
    out = x[:, :1] != y[:, :1]
    for channel in range(1, x.shape[1]):
        out |= x[:, channel:channel + 1] != y[:, channel:channel + 1]
    return out


def differs_numpy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`differs` of NxCxHxW arrays: Nx1xHxW bool, channel by channel."""
    out = np.not_equal(x[:, :1], y[:, :1])
    if x.shape[1] > 1:
        spare = np.empty_like(out)
        for channel in range(1, x.shape[1]):
            out |= np.not_equal(x[:, channel:channel + 1], y[:, channel:channel + 1], out=spare)
    return out


def differs_rightward(values: np.ndarray) -> np.ndarray:
    """:func:`differs_numpy` of an NxCxHxW array's pixels and their right-hand neighbours
    (``values[..., 1:]`` against ``values[..., :-1]``): Nx1xHx(W-1) bool, a view.

    Where each plane's rows follow one another in memory, the plane is compared with itself
    moved by one value as one flat line (the comparisons across a row's end are made and dropped):
    NumPy's loop then runs over whole planes instead of rows of W - 1 values, several times faster
    at 1024 px; the same values."""
    n, channels, height, width = values.shape
    item = values.itemsize
    if width < 2 or values.strides[3] != item or values.strides[2] != width * item:
        return differs_numpy(values[..., 1:], values[..., :-1])
    out = np.empty((n, 1, height * width), dtype=bool)
    spare = np.empty(height * width - 1, dtype=bool) if channels > 1 else None
    for sample in range(n):
        line = values[sample].reshape(channels, height * width)  # a view: each plane's rows are contiguous
        into = out[sample, 0, :-1]
        np.not_equal(line[0, 1:], line[0, :-1], out=into)
        for channel in range(1, channels):
            into |= np.not_equal(line[channel, 1:], line[channel, :-1], out=spare)
    return out.reshape(n, 1, height, width)[..., :width - 1]


__all__ = ["COMPLEX", "FLOATS", "VIEWED", "differs", "differs_numpy", "differs_rightward", "numpy_view", "unit_phase_"]
