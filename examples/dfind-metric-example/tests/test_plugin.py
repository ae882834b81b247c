"""Tests of the installed plugin, written as a plugin author would, with dfcore.testing."""

from __future__ import annotations

import inspect

import pytest
import torch

from dfcore import Finder, check_metric
from dfcore.testing import fresh_registry, planted_pair

PLUGIN = "metric-example"


@pytest.fixture(scope="module")
def registry():
    """dfind's own plugins plus every installed one (this package among them)."""
    return fresh_registry(autoload=True)


def test_the_entry_point_offers_the_stages(registry):
    names = {s.qualified_name for s in registry.stages() if s.origin.plugin == PLUGIN}
    assert names == {f"{PLUGIN}.charbonnier", f"{PLUGIN}.sobel"}
    assert not [b for b in registry.broken if b.origin.plugin == PLUGIN]


def test_param_defaults_match_the_implementation(registry):
    for stage in registry.stages():
        if stage.origin.plugin != PLUGIN:
            continue
        signature = inspect.signature(stage.load())
        for param in stage.spec.params:
            assert signature.parameters[param.name].default == param.default, stage.qualified_name


def test_charbonnier_values():
    from dfind_metric_example.charbonnier import charbonnier

    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[1] = 0.5
    # sqrt(0 + eps^2) = eps for identical images; sqrt(0.25 + 1e-6) for a constant 0.5 offset.
    expected = torch.tensor([1e-3, (0.25 + 1e-6) ** 0.5])
    torch.testing.assert_close(charbonnier(x, y), expected)
    torch.testing.assert_close(charbonnier(y, x), expected)


def test_charbonnier_passes_dfinds_metric_checks(registry):
    report = check_metric(f"{PLUGIN}.charbonnier", gradcheck=True, registry=registry)
    assert report.ok, str(report)


def test_sobel_keeps_shape_and_range():
    from dfind_metric_example.sobel import sobel_magnitude

    a, _, _ = planted_pair(32, 40)
    edges = sobel_magnitude(a)
    assert edges.shape == a.shape
    assert 0.0 <= float(edges.min()) and float(edges.max()) <= 1.0


def test_edges_preset_finds_the_planted_change(registry):
    a, b, _ = planted_pair(64, 80, boxes=((20, 30, 40, 54),))
    result = Finder(preset="edges", registry=registry, device="cpu").run(a, b)
    y, x = divmod(int(result.map.argmax()), result.map.shape[1])
    assert 18 <= y < 42 and 28 <= x < 56, (y, x)  # on the changed box or its 2-px rim
