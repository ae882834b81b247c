"""A CPU tensor's memory read by NumPy, for the host steps whose NumPy or OpenCV kernels are faster.

The lossless test's comparisons and counts, the range tolerance's square root and window
extremes, and a median run several times faster in NumPy or OpenCV than in torch's CPU
kernels (``docs/performance.md``). They read the tensor's own memory through
:func:`numpy_view`, which says when that is possible; any other tensor -- on another device,
of a dtype NumPy lacks (bfloat16), or a view carrying torch's negative bit -- keeps the torch
path, so every stage stays device-agnostic.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: The dtypes NumPy reads as views of a tensor's memory, as these steps use them.
VIEWED = (torch.bool, torch.uint8, torch.float16, torch.float32, torch.float64)
#: Those of them OpenCV's morphology and NumPy's root take.
FLOATS = (torch.float32, torch.float64)


def numpy_view(tensor: Tensor, dtypes: tuple[torch.dtype, ...] = VIEWED) -> np.ndarray | None:
    """``tensor``'s memory as a NumPy array (no copy, not followed by autograd), or ``None`` when
    it is not a CPU tensor of one of ``dtypes`` that NumPy can read."""
    if tensor.device.type != "cpu" or tensor.dtype not in dtypes or tensor.is_neg() or tensor.is_conj():
        return None
    return tensor.detach().numpy()


__all__ = ["FLOATS", "VIEWED", "numpy_view"]
