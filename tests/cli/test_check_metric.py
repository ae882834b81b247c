"""``dfind check-metric``: one line per check, exit 0 when all pass and 2 otherwise."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dfcore import register_metric
from dfcore.cli import main
from dfcore.testing import fresh_registry, using_registry


@pytest.fixture
def registry():
    with using_registry(fresh_registry()) as registry:
        yield registry


def invoke(*args: str):
    return CliRunner().invoke(main, ["check-metric", *args])


def test_a_builtin_metric_passes(registry):
    result = invoke("mse", "--gradcheck")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "metric 'builtin.mse' on a 2x3x32x32 float32 cpu probe"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["PASS", "runs"], ["PASS", "shape"], ["PASS", "finite"], ["PASS", "autograd"], ["PASS", "orientation"],
        ["PASS", "gradcheck"],
    ]
    assert result.stderr == ""


def test_parameters_and_the_probe_shape(registry):
    result = invoke("ssim:win_size=7", "--shape", "1x1x24x24")
    assert result.exit_code == 0, result.output
    assert "on a 1x1x24x24 float32 cpu probe" in result.stdout
    assert "SKIP  gradcheck" in result.stdout


def test_a_registered_metric_that_fails_exits_2_with_one_line_per_failure(registry):
    register_metric(lambda x, y: (x - y).abs().mean(dim=(2, 3)).detach(), name="broken", higher_is_better=False,
                    check=False)
    result = invoke("broken")
    assert result.exit_code == 2
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split()[1] for line in failed] == ["shape", "autograd"]
    assert "returned shape [2, 3] for a 2x3x32x32 input" in failed[0]
    assert "does not depend on its input through autograd" in failed[1]
    assert result.stderr == "dfind: error: metric 'local.broken' failed: shape, autograd\n"


def test_ms_ssim_passes_its_own_default_probe_sized_from_its_minimum_side(registry):
    result = invoke("ms-ssim")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "metric 'builtin.ms-ssim' on a 2x3x161x161 float32 cpu probe"
    assert result.stdout.count("PASS") == 5


def test_a_metric_that_refuses_the_probe_suggests_a_shape(registry):
    result = invoke("ms-ssim", "--shape", "1x3x64x64")
    assert result.exit_code == 2
    assert "FAIL  runs         raised ShapeError: ms-ssim needs images of at least 161x161 px" in result.stdout
    assert "give a probe it accepts (shape=, or --shape)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "dfind: error: unknown metric 'nope'; available: "),
        (["gradient"], "dfind: error: unknown metric 'gradient' ('gradient' is a strategy)"),
        (["mse", "--shape", "2x3"], "dfind: error: the probe shape must be four positive sizes NxCxHxW, got [2, 3]"),
        (["mse", "--shape", "big"], "dfind: error: --shape must look like 2x3x32x32 (NxCxHxW), got 'big'"),
        (["mse:eps=1"], "dfind: error: metric 'mse' has no parameter 'eps'; valid parameters: (none)"),
    ],
)
def test_usage_errors_are_one_line(registry, args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
