"""``filterbank``: the offline feature metric and its layers."""

from __future__ import annotations

import math

import pytest
import torch

from dfcore.testing import planted_pair
from dfplugins_extra.metrics.filterbank import FilterBank, gabor_bank


def test_identical_images_are_at_distance_zero_and_others_are_not():
    a, b, _ = planted_pair(48, 64)
    metric = FilterBank()
    assert metric(a, a).item() == 0.0
    assert metric(a, b).item() > 0.0


def test_properties_symmetry_batch_dtype():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 3, 40, 36, generator=g), torch.rand(3, 3, 40, 36, generator=g)
    metric = FilterBank(scales=3, orientations=4)
    value = metric(x, y)
    assert value.shape == (3,) and value.dtype == torch.float32
    torch.testing.assert_close(value, metric(y, x))
    torch.testing.assert_close(value, torch.cat([metric(x[i:i + 1], y[i:i + 1]) for i in range(3)]))
    assert metric(x.double(), y.double()).dtype == torch.float64


def test_larger_changes_are_further():
    a, _, _ = planted_pair(64, 64, channels=1)
    metric = FilterBank()
    distances = []
    for delta in (0.05, 0.15, 0.3):
        b = a.clone()
        b[..., 20:40, 20:40] += delta
        distances.append(metric(a, b).item())
    assert distances == sorted(distances) and distances[0] > 0


def test_sees_texture_and_brightness():
    flat = torch.full((1, 1, 64, 64), 0.5)
    brighter = flat + 0.2
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    stripes = 0.5 + 0.2 * torch.sin(2 * math.pi * xx / 4.0).view(1, 1, 64, 64)
    metric = FilterBank()
    assert metric(flat, brighter).item() > 0.001  # the local-mean features
    assert metric(flat, stripes).item() > 0.01  # the Gabor energies


def test_gabor_bank_is_zero_mean_with_unit_gain():
    bank = gabor_bank(4)
    assert bank.shape[0] == 8 and bank.shape[2] == bank.shape[3]
    assert bank[0::2].sum(dim=(1, 2, 3)).abs().max() < 1e-12  # even filters: no response to flat images
    k = bank.shape[-1] // 2
    yy, xx = torch.meshgrid(torch.arange(-k, k + 1.0), torch.arange(-k, k + 1.0), indexing="ij")
    wave = torch.cos(2 * math.pi * xx.double() / 4.0)
    assert (bank[0, 0] * wave).sum().item() == pytest.approx(1.0)  # orientation 0, even filter


def test_gradcheck_on_a_tiny_input():
    metric = FilterBank(scales=2, orientations=2)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.rand(1, 1, 8, 8, dtype=torch.float64, generator=g)
    assert torch.autograd.gradcheck(lambda t: metric(t, y), (x,), fast_mode=True)


def test_feature_layers_are_the_scales_and_are_called():
    metric = FilterBank(scales=3)
    layers = metric.feature_layers("cpu")
    assert list(layers) == ["scale1", "scale2", "scale3"]
    shapes = []
    handles = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape))) for m in layers.values()]
    metric(torch.rand(1, 3, 32, 20), torch.rand(1, 3, 32, 20))
    for handle in handles:
        handle.remove()
    # per image: C * (orientations + 1) channels, halving sizes (ceil)
    assert shapes == [(1, 15, 32, 20), (1, 15, 16, 10), (1, 15, 8, 5)] * 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scales": 0}, "scales must be an integer >= 1"),
    ({"orientations": 1.5}, "orientations must be an integer >= 1"),
    ({"norm": 0.0}, "norm must be positive"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FilterBank(**kwargs)
