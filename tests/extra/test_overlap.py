"""``dice`` and ``jaccard``: soft overlap metrics (values computed by hand beside each case)."""

from __future__ import annotations

import pytest
import torch

from dfcore import Finder
from dfcore.errors import ParameterError
from dfcore.testing import fresh_registry
from dfplugins_extra.metrics.overlap import Dice, Jaccard, soft_dice, soft_jaccard

TINY = 1e-9  # smoothing small enough not to show in 4 decimals


def _mask(fill) -> torch.Tensor:
    m = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    fill(m)
    return m


LEFT = _mask(lambda m: m[..., :, :4].fill_(1))  # 32 px
MIDDLE = _mask(lambda m: m[..., :, 2:6].fill_(1))  # 32 px, 16 of them shared with LEFT
RIGHT = _mask(lambda m: m[..., :, 4:].fill_(1))  # 32 px, none shared with LEFT


@pytest.mark.parametrize(("x", "y", "dice", "jaccard"), [
    (LEFT, LEFT, 1.0, 1.0),  # identical
    (LEFT, RIGHT, 0.0, 0.0),  # disjoint
    (LEFT, MIDDLE, 0.5, 1 / 3),  # half overlap: 2*16/(32+32); 16/(32+32-16)
    (LEFT, 0.5 * LEFT, 2 / 3, 0.5),  # soft: 2*16/(32+16); 16/(32+16-16)
])
def test_hand_made_masks(x, y, dice, jaccard):
    assert soft_dice(x, y, TINY).item() == pytest.approx(dice, abs=1e-6)
    assert soft_jaccard(x, y, TINY).item() == pytest.approx(jaccard, abs=1e-6)


def test_smoothing_keeps_empty_masks_in_agreement():
    empty = torch.zeros(1, 1, 8, 8)
    assert soft_dice(empty, empty).item() == 1.0
    assert soft_jaccard(empty, empty).item() == 1.0
    # with smooth=1: disjoint LEFT/RIGHT give 1/(64+1), not 0
    assert soft_dice(LEFT, RIGHT, 1.0).item() == pytest.approx(1 / 65)


def test_properties_symmetry_bounds_batch_and_dtype():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(4, 3, 10, 12, generator=g), torch.rand(4, 3, 10, 12, generator=g)
    for fn in (soft_dice, soft_jaccard):
        value = fn(x, y)
        assert value.shape == (4,) and value.dtype == torch.float32
        torch.testing.assert_close(value, fn(y, x))
        assert bool(((value > 0) & (value <= 1)).all())
        torch.testing.assert_close(value, torch.cat([fn(x[i:i + 1], y[i:i + 1]) for i in range(4)]))
    # Jaccard = Dice / (2 - Dice) on the same sums, without smoothing
    d, j = soft_dice(x, y, TINY), soft_jaccard(x, y, TINY)
    torch.testing.assert_close(j, d / (2 - d))


def test_valid_mask_ignores_pixels():
    valid = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    valid[..., :, :2] = True  # columns where LEFT is 1 and MIDDLE is 0
    assert soft_dice(LEFT, MIDDLE, TINY, valid).item() == pytest.approx(0.0, abs=1e-6)
    valid[..., :, 2:4] = True  # add the shared columns: 2*16 / (32 + 16)
    assert soft_dice(LEFT, MIDDLE, TINY, valid).item() == pytest.approx(2 / 3)
    assert Dice()(LEFT, MIDDLE, valid=valid).shape == (1,)


@pytest.mark.parametrize("fn", [soft_dice, soft_jaccard])
def test_gradients_match_finite_differences(fn):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.rand(2, 1, 8, 8, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: fn(a, b, 0.5), (x, y), fast_mode=True)


def test_gradient_outlines_the_reference_mask():
    # d dice / d y_i = (2 x_i S - I) / S^2 with S = sum x + sum y + s: one value on x's foreground, one outside
    y = (0.5 * MIDDLE).requires_grad_(True)
    soft_dice(LEFT, y, 1.0).sum().backward()
    s, inter = 32 + 16 + 1.0, 2 * 8 + 1.0
    assert y.grad[..., 0, 0].item() == pytest.approx((2 * s - inter) / s**2)
    assert y.grad[..., 0, 7].item() == pytest.approx(-inter / s**2)


@pytest.mark.parametrize("cls", [Dice, Jaccard])
def test_bad_smoothing_is_rejected(cls):
    with pytest.raises(ValueError, match="smooth must be positive"):
        cls(smooth=0.0)


def test_gradient_strategy_runs_on_segmentations():
    registry = fresh_registry()
    a = torch.zeros(1, 1, 32, 32)
    a[..., 8:20, 8:20] = 1
    b = torch.zeros(1, 1, 32, 32)
    b[..., 10:22, 10:22] = 1
    for metric in ("dice", "jaccard:smooth=0.1"):
        result = Finder(metric=metric, strategy="difference", registry=registry, device="cpu").run(a, b)
        assert result.higher_is_better
        assert 0 < result.score < 1
        # where the masks disagree, and only there
        assert ((result.map > 0) == (a != b)[0, 0].numpy()).all()
    with pytest.raises(ParameterError, match="smooth must be positive"):
        Finder(metric="dice:smooth=0", strategy="gradient", registry=registry, device="cpu")


def test_squared_sums_score_identical_images_at_one_and_leave_binary_masks_alone():
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    assert soft_dice(image, image, TINY).max().item() < 0.8  # linear sums: mean(x^2) / mean(x)
    for fn in (soft_dice, soft_jaccard):
        torch.testing.assert_close(fn(image, image, TINY, squared=True), torch.ones(2))
        assert fn(LEFT, MIDDLE, TINY, squared=True).item() == pytest.approx(fn(LEFT, MIDDLE, TINY).item())
    other = image.flip(-1)
    expected = 2 * (image * other).flatten(1).sum(1) / ((image**2).flatten(1).sum(1) + (other**2).flatten(1).sum(1))
    torch.testing.assert_close(soft_dice(image, other, TINY, squared=True), expected, rtol=1e-5, atol=1e-6)


def test_squared_is_a_parameter_of_both_metrics():
    from dfcore import Finder

    a = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    for name in ("dice", "jaccard"):
        plain = Finder(metric=name, device="cpu").compute(a, a)
        squared = Finder(metric=f"{name}:squared=true", device="cpu").compute(a, a)
        assert float(plain.score[0]) < 0.9 and float(squared.score[0]) == pytest.approx(1.0, abs=1e-6)
        conventions = Finder(metric=f"{name}:squared=true").config["metric"]
        assert "x^2" in str(conventions)
