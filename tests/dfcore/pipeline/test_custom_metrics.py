"""Metrics registered from Python: registration, listing, use by name, and validation."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import dfcore
from dfcore import Finder, MetricCheckError, ParameterError, check_metric, register_metric
from dfcore.cli import listing_data
from dfcore.pipeline.custom import CustomMetric
from dfcore.pipeline.registration import MetricHandle
from dfcore.testing import fresh_registry, planted_pair, using_registry


@pytest.fixture
def registry():
    return fresh_registry()


def l1(x, y):
    """Mean absolute error per sample."""
    return (x - y).abs().mean(dim=(1, 2, 3))


# -- deliberately broken metrics, one per check ------------------------------------------------


def wrong_shape(x, y):
    return (x - y).abs().mean(dim=(2, 3))  # [N, C]: forgot the channel axis


def returns_nan(x, y):
    return (x - y).abs().mean(dim=(1, 2, 3)) * float("nan")


def detached(x, y):
    return (x - y).abs().mean(dim=(1, 2, 3)).detach()


def numpy_round_trip(x, y):
    diff = np.abs(x.detach().cpu().numpy() - y.detach().cpu().numpy())
    return torch.from_numpy(diff.mean(axis=(1, 2, 3)))


def numpy_without_detach(x, y):
    return torch.from_numpy(np.abs(x.numpy() - y.numpy()).mean(axis=(1, 2, 3)))


def rounded(x, y):
    return (x.round() - y.round()).abs().mean(dim=(1, 2, 3))  # round has a zero gradient


def only_y(x, y):
    return (y - 0.5).abs().mean(dim=(1, 2, 3))


def straight_through(x, y):
    """8-level quantisation with a straight-through gradient: autograd and finite differences disagree."""
    quantise = lambda t: t + ((t * 8).floor() / 8 - t).detach()
    return (quantise(x) - quantise(y)).abs().mean(dim=(1, 2, 3))


class _WrongBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, d):
        ctx.save_for_backward(d)
        return d**2

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        return grad * d  # should be 2 * d


def wrong_backward(x, y):
    return _WrongBackward.apply(x - y).mean(dim=(1, 2, 3))


def raises(x, y):
    raise ValueError("needs 4 channels")


# -- registration ------------------------------------------------------------------------------


def test_function_registration_is_found_by_name_and_listed(registry):
    handle = register_metric(l1, higher_is_better=False, registry=registry)
    assert isinstance(handle, MetricHandle)
    assert handle.name == "l1" and handle.qualified_name == "local.l1"
    stage = registry.find("metric", "l1")
    assert stage is registry.find("metric", "local.l1")
    assert stage.origin.plugin == "local" and stage.origin.distribution is None
    assert stage.spec.higher_is_better is False
    assert stage.spec.summary == "Mean absolute error per sample."
    (entry,) = [e for e in listing_data(registry)["stages"] if e["plugin"] == "local"]
    assert entry["qualified_name"] == "local.l1" and entry["distribution"] is None
    assert entry["higher_is_better"] is False


def test_decorator_keeps_the_function_usable(registry):
    @register_metric(name="edge_l1", higher_is_better=False, registry=registry)
    def edge_l1(x, y):
        return (x.diff(dim=-1) - y.diff(dim=-1)).abs().mean(dim=(1, 2, 3))

    x, y = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    y[..., 0] = 0.0
    assert isinstance(edge_l1, MetricHandle)
    assert edge_l1.__name__ == "edge_l1"
    torch.testing.assert_close(edge_l1(x, y), torch.full((2,), 1 / 3))
    assert registry.find("metric", "edge_l1").qualified_name == "local.edge_l1"


def test_default_name_writes_underscores_as_hyphens(registry):
    def my_fancy_metric(x, y):
        return l1(x, y)

    assert register_metric(my_fancy_metric, higher_is_better=False, registry=registry).name == "my-fancy-metric"


def test_good_metric_drives_the_gradient_strategy_to_the_planted_change(registry):
    register_metric(l1, higher_is_better=False, registry=registry)
    a, b, mask = planted_pair()
    result = Finder(metric="l1", strategy="gradient", registry=registry, device="cpu").run(a, b)
    assert result.score == pytest.approx(float(l1(a, b)), rel=1e-6)
    assert result.config["metric"]["qualified_name"] == "local.l1"
    assert result.config["metric"]["conventions"]["callable"].endswith("test_custom_metrics.l1")
    assert mask.numpy().ravel()[result.map.argmax()]
    # The gradient of a mean absolute error is constant inside the change and zero outside it.
    assert result.map[mask.numpy()].min() > 0 and result.map[~mask.numpy()].max() == 0


def test_module_instance_with_scalar_output_is_called_per_sample(registry):
    handle = register_metric(torch.nn.L1Loss(), name="l1-loss", higher_is_better=False, registry=registry)
    a, b, _ = planted_pair(32, 32, boxes=((8, 8, 20, 20),))
    x, y = torch.cat([a, a]), torch.cat([b, a])
    values = Finder(metric="l1-loss", strategy="gradient", registry=registry, device="cpu").compute(x, y).score
    torch.testing.assert_close(values, torch.stack([(a - b).abs().mean(), torch.tensor(0.0)]))
    assert handle.metric.evaluate(x[:1], y[:1]).shape == ()  # one sample: the scalar is its value


def test_per_sample_shapes_are_flattened():
    metric = CustomMetric(lambda x, y: (x - y).abs().mean(dim=(1, 2, 3), keepdim=True), "keepdim", False)
    assert metric(torch.zeros(3, 1, 4, 4), torch.ones(3, 1, 4, 4)).shape == (3,)


def test_module_is_moved_to_the_finders_device(registry):
    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, bias=False)

        def forward(self, x, y):
            return (self.conv(x) - self.conv(y)).abs().mean(dim=(1, 2, 3))

    handle = register_metric(Features(), name="features", higher_is_better=False, registry=registry)
    Finder(metric="features", strategy="gradient", registry=registry, device="meta")
    assert handle.metric.fn.conv.weight.device.type == "meta"


def test_higher_is_better_comes_from_the_object_or_is_required(registry):
    class Similarity(torch.nn.Module):
        higher_is_better = True

        def forward(self, x, y):
            return -(x - y).abs().mean(dim=(1, 2, 3))

    assert register_metric(Similarity(), name="sim", registry=registry).metric.higher_is_better is True
    with pytest.raises(ParameterError, match="give higher_is_better=True or False for metric 'l1'"):
        register_metric(l1, registry=registry)


def test_bad_names_and_objects_are_refused(registry):
    with pytest.raises(ParameterError, match=r"'<lambda>' is not a valid metric name"):
        register_metric(lambda x, y: l1(x, y), higher_is_better=False, registry=registry)
    with pytest.raises(ParameterError, match="'Bad Name' is not a valid metric name"):
        register_metric(l1, name="Bad Name", higher_is_better=False, registry=registry)
    with pytest.raises(TypeError, match="needs a callable or a torch.nn.Module, got int"):
        register_metric(3, name="three", higher_is_better=False, registry=registry)


def test_unregister_and_context_manager(registry):
    handle = register_metric(l1, higher_is_better=False, registry=registry)
    with register_metric(detached, name="tmp", higher_is_better=False, check=False, registry=registry) as tmp:
        assert {s.name for s in registry.stages("metric")} >= {"l1", "tmp"}
        assert tmp.registered
    assert not tmp.registered and "unregistered" in repr(tmp)
    assert [s.name for s in registry.stages("metric") if s.origin.plugin == "local"] == ["l1"]
    handle.unregister()
    handle.unregister()  # a second call is harmless
    assert registry.pm.get_plugin("local") is None
    assert not [s for s in registry.stages() if s.origin.plugin == "local"]


def test_registering_a_name_again_replaces_it(registry):
    first = register_metric(l1, name="dist", higher_is_better=False, registry=registry)
    second = register_metric(torch.nn.MSELoss(), name="dist", higher_is_better=False, registry=registry)
    assert not first.registered and second.registered
    assert [s.qualified_name for s in registry.stages("metric") if s.name == "dist"] == ["local.dist"]
    first.unregister()  # stale handle: leaves the replacement alone
    assert registry.find("metric", "dist").build() is second.metric


def test_a_name_another_plugin_offers_warns_and_stays_reachable(registry):
    with pytest.warns(UserWarning, match="metric 'mse' is also offered as builtin.mse: .* local.mse"):
        register_metric(l1, name="mse", higher_is_better=False, registry=registry)
    assert registry.find("metric", "local.mse").origin.plugin == "local"
    assert registry.find("metric", "builtin.mse").origin.plugin == "builtin"
    with pytest.raises(LookupError, match="use builtin.mse or local.mse"):
        registry.find("metric", "mse")


def test_the_process_wide_registry_is_the_default():
    with using_registry(fresh_registry()) as registry, register_metric(l1, higher_is_better=False):
        assert registry.find("metric", "l1").origin.plugin == "local"
        assert Finder(metric="l1", strategy="difference", device="cpu").metric.record["plugin"] == "local"


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "check", "message"),
    [
        (wrong_shape, "shape", r"returned shape \[2, 3\] for a 2x3x32x32 input, expected \[2\] \(one value per sample\)"),
        (returns_nan, "finite", r"returned non-finite values \[nan, nan\] for two different images"),
        (detached, "autograd", "does not depend on its input through autograd .*detached"),
        (numpy_round_trip, "autograd", "does not depend on its input through autograd .*numpy"),
        (numpy_without_detach, "autograd", "with inputs that require grad it raises RuntimeError: Can't call numpy"),
        (rounded, "autograd", "the gradient is zero everywhere"),
        (only_y, "autograd", "the output does not depend on x through autograd"),
        (raises, "runs", "raised ValueError: needs 4 channels"),
    ],
)
def test_each_failure_is_named_in_one_line(registry, metric, check, message):
    report = check_metric(metric)
    assert not report.ok
    assert report[check].failed
    assert "\n" not in report[check].message
    assert re.search(message, report[check].message), report[check].message
    with pytest.raises(MetricCheckError, match=rf"metric '{metric.__name__.replace('_', '-')}' failed .*{check}: "):
        register_metric(metric, higher_is_better=False, registry=registry)
    assert not [s for s in registry.stages() if s.origin.plugin == "local"]


@pytest.mark.parametrize("metric", [straight_through, wrong_backward])
def test_gradcheck_catches_gradients_that_disagree_with_finite_differences(metric):
    assert check_metric(metric)["gradcheck"].status == "skip"
    report = check_metric(metric, gradcheck=True)
    assert report["autograd"].status == "pass"
    assert report["gradcheck"].failed
    assert report["gradcheck"].message.startswith("autograd disagrees with finite differences (Jacobian mismatch")


def test_inverted_higher_is_better_is_caught(registry):
    with pytest.raises(MetricCheckError, match="orientation: identical images score worse .* is it inverted"):
        register_metric(l1, higher_is_better=True, registry=registry)


def test_a_good_metric_passes_every_check_and_the_report_reads_well(registry):
    handle = register_metric(l1, higher_is_better=False, registry=registry)
    for target in ("l1", "local.l1", handle, l1):
        report = check_metric(target, gradcheck=True, registry=registry)
        assert report.ok, str(report)
    report = check_metric("l1", gradcheck=True, registry=registry)
    assert [c.status for c in report.checks] == ["pass"] * 6
    lines = str(report).splitlines()
    assert lines[0] == "metric 'local.l1' on a 2x3x32x32 float32 cpu probe"
    assert lines[4].startswith("PASS  autograd     finite, non-zero gradient")


def test_builtin_metrics_pass_and_the_probe_shape_is_configurable():
    assert check_metric("builtin.ssim", gradcheck=True, registry=fresh_registry()).ok
    assert check_metric("ms-ssim", registry=fresh_registry()).probe == "2x3x161x161 float32 cpu"  # its min_side
    report = check_metric("ms-ssim", shape=(1, 3, 64, 64), registry=fresh_registry())
    assert report["runs"].failed and "give a probe it accepts (shape=, or --shape)" in report["runs"].message
    assert {c.status for c in report.checks[1:]} == {"skip"}
    with pytest.raises(ParameterError, match="four positive sizes"):
        check_metric(l1, shape=(2, 3, 8))


def test_checks_on_first_use_when_registration_skipped_them(registry):
    register_metric(detached, name="detached", higher_is_better=False, check=False, registry=registry)
    register_metric(returns_nan, name="nan", higher_is_better=False, check=False, registry=registry)
    register_metric(wrong_shape, name="shape", higher_is_better=False, check=False, registry=registry)
    a, b, _ = planted_pair(32, 32, boxes=((8, 8, 20, 20),))
    run = lambda name: Finder(metric=name, strategy="gradient", registry=registry, device="cpu").run(a, b)
    with pytest.raises(MetricCheckError, match="metric 'detached' does not depend on its input through autograd"):
        run("detached")
    with pytest.raises(MetricCheckError, match="metric 'nan' returned NaN for a 1x3x32x32 input"):
        run("nan")
    with pytest.raises(MetricCheckError, match=r"metric 'shape' returned shape \[1, 3\]"):
        run("shape")
    # A strategy that does not differentiate may use a detached metric; its score is still checked.
    assert Finder(metric="detached", strategy="difference", registry=registry, device="cpu").run(a, b).score > 0


def test_import_dfcore_does_not_import_torch_but_offers_register_metric():
    code = "import sys, dfcore; print('torch' in sys.modules, 'register_metric' in dfcore.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
    assert dfcore.register_metric is register_metric and dfcore.check_metric is check_metric


def test_warnings_point_at_the_caller(registry):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        register_metric(l1, name="ssim", higher_is_better=False, registry=registry)
    assert caught and caught[0].filename == __file__
