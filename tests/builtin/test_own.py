"""``own``: a metric named without a strategy shows its own map, in its own unit."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from dfcore import Finder, register_metric
from dfcore.errors import DfindError
from dfcore.testing import fresh_registry
from dfplugins_builtin.metrics.pixel import MSE
from dfplugins_builtin.metrics.ssim import MSSSIM, SSIM, ms_ssim
from dfplugins_extra.metrics.overlap import Dice


def _pair(size=48, seed=0):
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand(1, 3, size, size, generator=generator)
    b = a.clone()
    b[..., 10:20, 12:24] = (b[..., 10:20, 12:24] + 0.4).clamp(0, 1)
    return a, b


def test_ssim_named_alone_gives_one_minus_its_local_map_not_the_default_map():
    a, b = _pair()
    own = Finder(metric="ssim", device="cpu").run(a, b)
    default = Finder(device="cpu").run(a, b)
    expected = 1 - SSIM().local_map(a, b)[0, 0].numpy()
    assert own.config["strategy"]["name"] == "own" and own.config["preset"] == "metric"
    assert own.map == pytest.approx(expected, abs=1e-5)
    assert own.unit == "1 - SSIM (local, per window)"
    assert own.info["own"] == {"map": "local_map"}
    assert not (own.map.shape == default.map.shape and abs(own.map - default.map).max() < 1e-3)
    row, col = divmod(int(own.map.argmax()), own.map.shape[1])
    assert 5 <= row < 25 and 7 <= col < 29, "the map peaks where the pair differs"


@pytest.mark.parametrize("metric", ["mse", "psnr"])
def test_mse_and_psnr_show_the_squared_error(metric):
    a, b = _pair()
    result = Finder(metric=metric, device="cpu").run(a, b)
    assert result.map == pytest.approx(((a - b) ** 2).mean(1)[0].numpy(), abs=1e-6)
    assert result.unit.startswith("squared error")
    assert result.info["own"]["map"] == ("local_map" if metric == "mse" else "own_map")


def test_ms_ssim_own_map_is_zero_for_identical_images_and_close_to_the_score():
    a, b = _pair(size=176)
    metric = MSSSIM()
    assert metric.own_map(a, a).abs().max().item() < 1e-5
    made = metric.own_map(a, b)
    assert made.shape == (1, 1, 176, 176) and made.min().item() >= -1e-6 and made.max().item() <= 1 + 1e-6
    assert (1 - made.mean()).item() == pytest.approx(ms_ssim(a, b).item(), abs=0.01)
    assert made[..., 10:20, 12:24].mean() > 10 * made[..., 100:, 100:].mean()


def test_dice_shows_where_the_masks_disagree():
    a = torch.zeros(1, 1, 8, 8)
    b = torch.zeros(1, 1, 8, 8)
    a[..., :4, :] = 1
    b[..., :, :4] = 1
    assert torch.equal(Dice().own_map(a, b), (a != b).float())
    result = Finder(metric="extra.dice", device="cpu").run(a, b)
    assert result.unit.startswith("disagreement")


def test_a_metric_without_a_map_gets_the_gradient():
    registry = fresh_registry()

    def l1(x, y):
        return (x - y).abs().flatten(1).mean(1)

    a, b = _pair()
    with register_metric(l1, name="my-l1", higher_is_better=False, registry=registry):
        own = Finder(metric="my-l1", device="cpu", registry=registry).run(a, b)
        gradient = Finder(metric="my-l1", strategy="gradient", device="cpu", registry=registry).run(a, b)
    assert own.info["own"] == {"map": "gradient"}
    assert own.map == pytest.approx(gradient.map)
    assert own.unit == gradient.unit == "|d score / d pixel of b|, channels: mean"


def test_the_default_pipeline_and_named_presets_and_strategies_are_unchanged():
    registry = fresh_registry()
    assert Finder(device="cpu", registry=registry).preset == "default"
    assert Finder(device="cpu", registry=registry).strategy.record["name"] == "difference"
    assert Finder(metric="ssim", strategy="gradient", device="cpu", registry=registry).preset == "default"
    sharp = Finder(metric="mse", preset="sharp", device="cpu", registry=registry)
    assert sharp.preset == "sharp" and sharp.strategy.record["name"] == "gradient"
    with_post = Finder(metric="ssim", postprocessor="smooth", device="cpu", registry=registry)
    assert with_post.strategy.record["name"] == "own" and [s.record["name"] for s in with_post.postprocessors] == [
        "smooth"]


def test_the_rule_falls_back_to_the_default_preset_when_no_plugin_offers_the_metric_preset():
    registry = fresh_registry()
    assert registry.preset_for({"metric": "ssim"}) == "metric"
    assert registry.preset_for({"metric": "ssim", "strategy": "gradient"}) == "default"
    assert registry.preset_for({"metric": "ssim"}, "robust") == "robust"
    assert registry.preset_for({}) == "default"
    empty = registry.empty()
    assert empty.preset_for({"metric": "ssim"}) == "default"


def test_the_unit_is_in_the_saved_json(tmp_path):
    a, b = _pair()
    files = Finder(metric="ssim", device="cpu").run(a, b, name="pair").save(tmp_path, outputs="json")
    record = json.loads(files["json"].read_text())
    assert record["map"]["unit"] == "1 - SSIM (local, per window)"
    assert record["config"]["strategy"]["name"] == "own" and record["config"]["preset"] == "metric"
    default = Finder(device="cpu").run(a, b, name="d").save(tmp_path, outputs="json")
    assert json.loads(default["json"].read_text())["map"]["unit"].startswith("|a - b| (channels: l2)")


def test_tolerant_says_its_unit():
    a, b = _pair()
    result = Finder(metric="mse", strategy="tolerant", device="cpu").run(a, b)
    assert result.unit == "squared error (per pixel, mean over channels), best match within 1 px"
    assert MSE.map_unit in result.unit


def test_lpips_local_map_is_the_packages_spatial_map(alexnet_weights):
    from dfplugins_builtin.metrics.lpips import LPIPS

    metric = LPIPS(weights=str(alexnet_weights))
    a, b = _pair(size=64)
    made = metric.local_map(a, b)
    spatial = copy.deepcopy(metric.model(torch.device("cpu")))
    spatial.spatial = True
    with torch.no_grad():
        expected = spatial(a, b, normalize=True)
    assert made.shape == (1, 1, 64, 64)
    assert torch.allclose(made, expected, atol=1e-6)
    assert made.mean().item() == pytest.approx(metric(a, b).item(), rel=0.1)


def test_the_documented_units_are_the_strategies_own():
    from pathlib import Path

    contracts = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    default = Finder(device="cpu").strategy.obj.unit
    assert f"`{default.replace('|', chr(92) + '|')}`" in contracts
    assert "`\\|d score / d pixel of b\\|, channels: mean`" in contracts


def test_a_registered_metric_object_with_a_local_map_shows_it():
    registry = fresh_registry()

    class AbsoluteError:
        map_unit = "|a - b| (mean over channels)"

        def __call__(self, x, y):
            return (x - y).abs().flatten(1).mean(1)

        def local_map(self, x, y):
            return (x - y).abs().mean(1, keepdim=True)

    a, b = _pair()
    with register_metric(AbsoluteError(), name="abs-error", higher_is_better=False, registry=registry):
        result = Finder(metric="abs-error", device="cpu", registry=registry).run(a, b)
    assert result.info["own"] == {"map": "local_map"} and result.unit == "|a - b| (mean over channels)"
    assert result.map == pytest.approx((a - b).abs().mean(1)[0].numpy(), abs=1e-6)


def test_tolerant_refuses_ms_ssim_rather_than_show_single_scale_ssim():
    """MS-SSIM's score is no mean of a local map; SSIM's map under its name would mislabel the picture."""
    a, b = _pair(size=176)
    with pytest.raises(DfindError, match="tolerant needs a metric with a local map"):
        Finder(metric="ms-ssim", strategy="tolerant", device="cpu").run(a, b)
