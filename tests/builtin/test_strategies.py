"""Built-in strategies: difference and gradient, their orientation and parameters."""

from __future__ import annotations

import pytest
import torch

from dfcore import Finder
from dfcore.contracts import Problem
from dfcore.errors import ParameterError, StageError
from dfcore.pipeline import BoundMetric
from dfplugins_builtin.metrics.pixel import MSE, PSNR
from dfplugins_builtin.metrics.ssim import SSIM
from dfplugins_builtin.preprocessors.fft import HighPass
from dfplugins_builtin.strategies.difference import Difference
from dfplugins_builtin.strategies.gradient import Gradient

BRIGHT = (slice(4, 10), slice(4, 10))    # b brighter than a here
DARK = (slice(14, 20), slice(14, 22))    # b darker than a here


@pytest.fixture
def pair():
    generator = torch.Generator().manual_seed(0)
    a = 0.3 + 0.4 * torch.rand(1, 3, 24, 32, generator=generator)
    b = a.clone()
    b[..., BRIGHT[0], BRIGHT[1]] += 0.2
    b[..., DARK[0], DARK[1]] -= 0.2
    return a, b


def problem(a, b, metric, preprocessors=()):
    return Problem(a, b, BoundMetric(metric, metric.higher_is_better, list(preprocessors), name="m"))


def test_difference_is_the_channel_mean_of_the_absolute_difference(pair):
    a, b = pair
    expected = (a - b).abs().mean(1, keepdim=True)
    assert torch.allclose(Difference()(problem(a, b, MSE())), expected, atol=1e-7)
    assert torch.allclose(Difference("max")(problem(a, b, MSE())), (a - b).abs().amax(1, keepdim=True))
    assert torch.allclose(Difference("sum")(problem(a, b, MSE())), (a - b).abs().sum(1, keepdim=True))
    assert torch.allclose(Difference("l2")(problem(a, b, MSE())), (a - b).norm(dim=1, keepdim=True))


def test_difference_is_taken_after_the_preprocessors(pair):
    a, b = pair
    high = HighPass(cutoff=0.2)
    expected = (high(a) - high(b)).abs().mean(1, keepdim=True)
    assert torch.allclose(Difference()(problem(a, b, MSE(), [high])), expected, atol=1e-6)


@pytest.mark.parametrize("metric", [MSE(), PSNR()], ids=["mse (lower is better)", "psnr (higher is better)"])
def test_signed_gradient_is_positive_where_raising_the_pixel_adds_difference(pair, metric):
    a, b = pair
    signed = Gradient(signed=True)(problem(a, b, metric))[0, 0]
    assert signed.shape == (24, 32)
    assert (signed[BRIGHT] > 0).all(), "b is already brighter: raising it adds difference"
    assert (signed[DARK] < 0).all(), "b is darker: raising it removes difference"
    unchanged = torch.ones_like(signed, dtype=torch.bool)
    unchanged[BRIGHT] = unchanged[DARK] = False
    assert signed[unchanged].abs().max() < 1e-9


@pytest.mark.parametrize("metric", [MSE(), PSNR()], ids=["mse", "psnr"])
def test_reference_b_differentiates_a(pair, metric):
    a, b = pair
    signed = Gradient(reference="b", signed=True)(problem(a, b, metric))[0, 0]
    assert (signed[BRIGHT] < 0).all(), "a is darker there: raising a removes difference"
    assert (signed[DARK] > 0).all()


def test_gradient_of_mse_equals_the_analytic_derivative(pair):
    a, b = pair
    n = a.numel()
    moving_b = Gradient(signed=True)(problem(a, b, MSE()))
    assert torch.allclose(moving_b, (2 * (b - a) / n).mean(1, keepdim=True), atol=1e-9)
    moving_a = Gradient(reference="b", signed=True)(problem(a, b, MSE()))
    assert torch.allclose(moving_a, (2 * (a - b) / n).mean(1, keepdim=True), atol=1e-9)


def test_absolute_gradient_is_the_default(pair):
    a, b = pair
    unsigned = Gradient()(problem(a, b, PSNR()))
    signed = Gradient(signed=True)(problem(a, b, PSNR()))
    assert (unsigned >= 0).all()
    assert torch.allclose(unsigned, signed.abs())  # one sign per pixel here, so mean and abs commute


def test_gradient_is_taken_through_the_preprocessors_on_the_input_grid(pair):
    a, b = pair
    high = HighPass(cutoff=0.2)
    moving = b.clone().requires_grad_(True)
    torch.nn.functional.mse_loss(high(a), high(moving), reduction="mean").backward()
    expected = moving.grad.abs().mean(1, keepdim=True)
    assert torch.allclose(Gradient()(problem(a, b, MSE(), [high])), expected, atol=1e-9)


def test_gradient_of_ssim_is_oriented_like_a_distance(pair):
    a, b = pair
    signed = Gradient(signed=True)(problem(a, b, SSIM()))[0, 0]
    assert signed[BRIGHT].sum() > 0 and signed[DARK].sum() < 0


def test_gradient_does_not_change_the_inputs(pair):
    a, b = pair
    a0, b0 = a.clone(), b.clone()
    Gradient()(problem(a, b, SSIM()))
    assert torch.equal(a, a0) and torch.equal(b, b0) and not a.requires_grad and not b.requires_grad


def test_metric_without_autograd_dependence_is_a_clear_error(pair):
    class Detached:
        higher_is_better = False

        def __call__(self, x, y):
            return ((x - y) ** 2).flatten(1).mean(1).detach()

    with pytest.raises(StageError, match="does not depend on its input through autograd"):
        Gradient()(problem(*pair, Detached()))


@pytest.mark.parametrize(("params", "message"), [
    ({"reference": "c"}, r"bad value for 'reference': 'c' is not one of: a, b"),
    ({"signed": True, "reduce": "l2"}, "signed maps cannot use reduce=l2"),
    ({"reduce": "median"}, "'median' is not one of: mean, max, sum, l2"),
])
def test_gradient_parameter_errors(registry, params, message):
    with pytest.raises(ParameterError, match=message):
        Finder(metric="mse", strategy=("gradient", params), device="cpu")


def test_strategies_record_what_they_did(registry, pair):
    result = Finder(metric="psnr", strategy="gradient:reference=b,signed=true", device="cpu").run(*pair)
    conventions = result.config["strategy"]["conventions"]
    assert conventions["differentiated"] == "a" and conventions["value"] == "signed gradient"


@pytest.mark.parametrize("metric", [MSE(), PSNR(), SSIM()], ids=["mse", "psnr", "ssim"])
def test_gradient_of_a_batch_equals_single_calls(pair, metric):
    a, b = pair
    a2, b2 = torch.cat([a, b]), torch.cat([b, a.flip(-1)])
    together = Gradient(signed=True)(problem(a2, b2, metric))
    apart = torch.cat([Gradient(signed=True)(problem(a2[i:i + 1], b2[i:i + 1], metric)) for i in range(2)])
    assert torch.allclose(together, apart, rtol=1e-5, atol=1e-9)
