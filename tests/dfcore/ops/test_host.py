"""dfcore.ops.host: when NumPy reads a tensor's memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfcore.ops.host import COMPLEX, FLOATS, numpy_view, unit_phase_


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


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_unit_phase_keeps_each_frequency_s_phase_in_place_and_a_zero_at_zero(dtype):
    spectrum = torch.randn(2, 16, 9, dtype=dtype, generator=torch.Generator().manual_seed(0)) * 40
    spectrum[0, 0, 0] = 0
    expected = spectrum / spectrum.abs().clamp_min(1e-12)
    out = unit_phase_(spectrum)
    assert out is spectrum  # in place
    torch.testing.assert_close(out, expected)
    assert out[0, 0, 0] == 0 and torch.allclose(out.flatten()[1:].abs(), torch.ones(1, dtype=out.real.dtype))


def test_unit_phase_of_a_conjugate_view_takes_the_torch_path():
    spectrum = torch.randn(4, 5, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    view = spectrum.conj()  # NumPy cannot read torch's conjugate bit
    assert numpy_view(view, COMPLEX) is None
    expected = (spectrum / spectrum.abs()).conj()
    torch.testing.assert_close(unit_phase_(view), expected)


def test_unit_phase_without_the_host_is_torch_s_division_to_the_bit():
    """The registration's tiles keep torch's division (a rounding apart from NumPy's moves a fit)."""
    spectrum = torch.randn(6, 7, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))
    spectrum[0, 0] = 0
    expected = spectrum.div(spectrum.abs().clamp_min(1e-12))
    assert torch.equal(unit_phase_(spectrum.clone(), host=False), expected)


@pytest.mark.parametrize("shape", [(1, 3, 37, 41), (2, 1, 5, 9), (1, 4, 3, 2), (1, 3, 4, 1)])
def test_differs_rightward_is_the_comparison_of_each_pixel_with_its_right_hand_neighbour(shape):
    from dfcore.ops.host import differs_numpy, differs_rightward

    rng = np.random.default_rng(sum(shape))
    values = rng.integers(0, 3, size=shape).astype(np.float32)  # few levels: many equal neighbours
    values[..., 0, :] = np.nan  # NaN differs from everything, itself included
    values[..., 1, ::2] = -0.0  # and -0.0 equals 0.0
    values[..., 1, 1::2] = 0.0
    expected = differs_numpy(values[..., 1:], values[..., :-1])
    for layout in (values, np.ascontiguousarray(values.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)):
        got = differs_rightward(layout)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    # a row's last pixel is never compared with the next row's first
    ramp = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4) // 4  # each row constant, rows differ
    assert not differs_rightward(ramp).any()
