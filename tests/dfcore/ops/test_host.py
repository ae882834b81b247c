"""dfcore.ops.host: when NumPy reads a tensor's memory."""

from __future__ import annotations

import torch

from dfcore.ops.host import FLOATS, numpy_view


def test_a_cpu_tensor_is_read_in_place_without_autograd():
    x = torch.rand(2, 3, requires_grad=True)
    view = numpy_view(x)
    assert view is not None and view.shape == (2, 3)
    with torch.no_grad():
        x[0, 0] = 0.25
    assert view[0, 0] == 0.25  # its memory, not a copy
    strided = torch.rand(4, 6)[:, ::2]
    assert numpy_view(strided).strides == tuple(s * 4 for s in strided.stride())


def test_what_numpy_cannot_read_keeps_the_torch_path():
    assert numpy_view(torch.rand(3, dtype=torch.bfloat16)) is None
    assert numpy_view(torch._neg_view(torch.rand(3))) is None
    assert numpy_view(torch.rand(3, dtype=torch.complex64).conj()) is None
    assert numpy_view(torch.ones(3, dtype=torch.bool), FLOATS) is None
    assert numpy_view(torch.ones(3, dtype=torch.bool)) is not None
    if torch.cuda.is_available():
        assert numpy_view(torch.rand(3, device="cuda")) is None
