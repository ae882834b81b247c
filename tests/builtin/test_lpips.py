"""LPIPS: where its backbone weights come from, the network cache, and recorded conventions.

Every weights file here is made by the test; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

from dfcore import Finder
from dfcore.errors import ParameterError, WeightsError
from dfplugins_builtin.metrics.lpips import LPIPS, torchvision_cache_dir

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet_Weights.IMAGENET1K_V1


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def _images():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(1, 3, 32, 32, generator=generator)
    return a, (a + 0.2 * torch.rand(1, 3, 32, 32, generator=generator)).clamp(0, 1)


def test_weights_from_an_explicit_file(alexnet_weights, no_download):
    metric = LPIPS(weights=str(alexnet_weights))
    assert metric.weights_path == alexnet_weights
    a, b = _images()
    value = metric(a, b)
    assert value.shape == (1,) and value.item() > 0
    assert metric(a, a).item() == pytest.approx(0.0, abs=1e-7)
    features = torch.load(alexnet_weights, weights_only=True)
    network = metric.model(torch.device("cpu"))
    assert torch.equal(network.net.slice1[0].weight, features["features.0.weight"]), "the file's weights are used"


def test_weights_from_torchvisions_cache(alexnet_weights, torch_home, no_download):
    cache = torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    os.symlink(alexnet_weights, cache / ALEXNET_FILE)
    assert torchvision_cache_dir() == cache
    metric = LPIPS()
    assert metric.weights_path == cache / ALEXNET_FILE
    a, b = _images()
    assert metric(a, b).item() == pytest.approx(LPIPS(weights=str(alexnet_weights))(a, b).item(), abs=1e-6)


def test_missing_weights_without_download_name_the_file_and_the_directory(torch_home, no_download):
    with pytest.raises(WeightsError) as info:
        LPIPS(download=False)
    message = str(info.value)
    assert "\n" not in message
    assert ALEXNET_FILE in message
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "lpips:weights=" in message


def test_failed_download_is_a_weights_error(torch_home, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError) as info:
        LPIPS()
    message = str(info.value)
    assert "download failed (OSError: Temporary failure in name resolution)" in message
    assert ALEXNET_FILE in message and str(torch_home) in message


def test_missing_explicit_file(tmp_path):
    with pytest.raises(WeightsError, match=f"lpips: weights file {tmp_path / 'nope.pth'} does not exist"):
        LPIPS(weights=str(tmp_path / "nope.pth"))


def test_unreadable_or_mismatched_weights(tmp_path):
    a, b = _images()
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        LPIPS(weights=str(garbage))(a, b)
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 11, 11)}, partial)
    with pytest.raises(WeightsError, match=r"does not match the alexnet backbone \(missing features\."):
        LPIPS(weights=str(partial))(a, b)


def test_network_is_built_once_per_net_weights_and_device(alexnet_weights, tmp_path, monkeypatch):
    import lpips

    copy = tmp_path / "copy.pth"
    os.symlink(alexnet_weights, copy)  # a path no other test has loaded
    built = []
    original = lpips.LPIPS

    def counting(*args, **kwargs):
        built.append(kwargs.get("net"))
        return original(*args, **kwargs)

    monkeypatch.setattr(lpips, "LPIPS", counting)
    a, b = _images()
    first, second = LPIPS(weights=str(copy)), LPIPS(weights=str(copy))
    first(a, b)
    second(a, b)
    first(b, a)
    assert built == ["alex"]
    assert first.model(torch.device("cpu")) is second.model(torch.device("cpu"))


def test_network_does_not_learn(alexnet_weights):
    network = LPIPS(weights=str(alexnet_weights)).model(torch.device("cpu"))
    assert not network.training
    assert not any(p.requires_grad for p in network.parameters())


def test_grey_images_are_repeated_to_three_channels(alexnet_weights):
    metric = LPIPS(weights=str(alexnet_weights))
    a, b = _images()
    grey_a, grey_b = a[:, :1], b[:, :1]
    assert metric(grey_a, grey_b).item() == pytest.approx(
        metric(grey_a.expand(-1, 3, -1, -1), grey_b.expand(-1, 3, -1, -1)).item())


def test_inputs_are_mapped_to_minus_one_one(alexnet_weights):
    metric = LPIPS(weights=str(alexnet_weights))
    a, b = _images()
    network = metric.model(torch.device("cpu"))
    assert metric(a, b).item() == pytest.approx(network(a * 2 - 1, b * 2 - 1).item(), rel=1e-6)


def test_conventions_record_the_weights_file_and_its_hash(registry, alexnet_weights):
    expected = hashlib.sha256(alexnet_weights.read_bytes()).hexdigest()
    metric = LPIPS(weights=str(alexnet_weights))
    conventions = metric.conventions()
    assert conventions["weights_sha256"] == expected
    assert conventions["weights"] == str(alexnet_weights)
    assert conventions["net"] == "alex" and conventions["input_range"] == "[0, 1] mapped to [-1, 1]"
    result = Finder(metric=("lpips", {"weights": str(alexnet_weights)}), strategy="difference", device="cpu").run(
        *_images())
    assert result.config["metric"]["conventions"]["weights_sha256"] == expected


def test_feature_layers_for_grad_cam(alexnet_weights):
    layers = LPIPS(weights=str(alexnet_weights)).feature_layers()
    assert list(layers) == ["relu1", "relu2", "relu3", "relu4", "relu5"]
    assert all(isinstance(m, torch.nn.Module) for m in layers.values())


def test_unknown_net(registry):
    with pytest.raises(ParameterError, match="'resnet' is not one of: alex, vgg, squeeze"):
        registry.find("metric", "lpips").build({"net": "resnet"})

