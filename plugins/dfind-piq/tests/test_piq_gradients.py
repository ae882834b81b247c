"""dfind_gradients: roots differentiate to 0 at 0 (not NaN), torch's formula elsewhere; held statistics."""

from __future__ import annotations

import pytest
import torch

from dfind_piq.gradients import dfind_gradients


def _grad(fn, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    return grad


ROOTS = {
    "torch.sqrt": lambda t: torch.sqrt(t),
    "Tensor.sqrt": lambda t: t.sqrt(),
    "**0.5": lambda t: t**0.5,
    "torch.pow 0.25": lambda t: torch.pow(t, 0.25),
    "Tensor.pow 0.03": lambda t: t.pow(0.03),
}


@pytest.mark.parametrize("root", ROOTS, ids=list(ROOTS))
def test_roots_of_zero_have_a_zero_derivative_and_torchs_elsewhere(root):
    fn = ROOTS[root]
    x = torch.tensor([0.0, 1e-30, 0.25, 4.0], dtype=torch.float64)
    plain = _grad(fn, x)
    assert torch.isinf(plain[0]) or torch.isnan(plain[0]), "autograd's own derivative at 0 is not finite"
    with dfind_gradients():
        y = fn(x)
        finite = _grad(fn, x)
    assert torch.equal(y, fn(x)), "values unchanged"
    assert finite[0] == 0
    assert torch.equal(finite[1:], plain[1:]), "torch's formula, bit for bit, wherever it is finite"


def test_the_nan_of_a_gradient_magnitude_on_a_flat_area_is_gone():
    flat = torch.full((1, 1, 6, 6), 0.5, dtype=torch.float64)
    kernel = torch.tensor([[[[-1.0, 0.0, 1.0]]]], dtype=torch.float64)

    def magnitude(t):
        g = torch.nn.functional.conv2d(t, kernel, padding=(0, 1))
        return torch.sqrt(g**2)

    assert torch.isnan(_grad(magnitude, flat)).all()
    with dfind_gradients():
        grad = _grad(magnitude, flat)
    # Inside, every magnitude is 0: no pixel moves it to first order. At the zero-padded
    # borders the magnitudes are 0.5, and pixels 1 and 4 of each row raise them one for one.
    expected = torch.zeros_like(flat)
    expected[..., [1, 4]] = 1.0
    assert torch.equal(grad, expected)


def test_exponents_outside_0_1_and_roots_without_grad_are_untouched():
    x = torch.tensor([0.0, 2.0], requires_grad=True)
    with dfind_gradients():
        squared = x**2
        plain = torch.sqrt(x.detach())
    assert squared.grad_fn.name() == "PowBackward0"
    assert plain.grad_fn is None and torch.equal(plain, torch.sqrt(x.detach()))


def test_held_functions_are_constants_for_autograd_only():
    x = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
    with dfind_gradients(hold=(torch.median,)):
        held = torch.median(x, dim=0)
        centred = (x - held.values).sum()
    assert (held.values.item(), held.indices.item()) == (2.0, 2)
    assert not held.values.requires_grad
    assert torch.autograd.grad(centred, x)[0].tolist() == [1.0, 1.0, 1.0]
    with dfind_gradients():
        centred = (x - torch.median(x, dim=0).values).sum()
    assert torch.autograd.grad(centred, x)[0].tolist() == [1.0, 1.0, -2.0]  # the median pixel takes it all


def test_the_mode_ends_with_the_block():
    x = torch.zeros(2, requires_grad=True)
    with dfind_gradients():
        pass
    assert torch.isinf(torch.autograd.grad(torch.sqrt(x).sum(), x)[0]).all()  # torch's own derivative again
