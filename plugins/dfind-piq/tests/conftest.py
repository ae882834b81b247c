"""Fixtures for the bridge's tests: a registry with the installed plugins, and weights files.

Every weights file here is made by the tests from networks with random weights; nothing is
downloaded (``no_download`` makes an attempt fail the test).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfcore.testing import fresh_registry

LPIPS_CHANNELS = (64, 128, 256, 512, 512)


@pytest.fixture(scope="session")
def registry():
    """dfind's own plugins plus every installed one (this bridge among them)."""
    return fresh_registry(autoload=True)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache for one test (``$TORCH_HOME/hub/checkpoints``)."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> dict[str, Path]:
    """Random weights in the formats piq and torchvision ship, saved as files.

    ``vgg16``: a torchvision VGG16 state dict (its ``features`` part: the classifier is never
    read); ``dists``: alpha and beta; ``lpips``: five per-channel layer weights; ``pieapp``:
    PieAPP's state dict with ``ref_score_subtract.weight`` of shape (1,), as piq's file has it.
    """
    import torchvision
    from piq.pieapp import PieAPPModel

    folder = tmp_path_factory.mktemp("weights")
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    files = {name: folder / filename for name, filename in (
        ("vgg16", "vgg16-397923af.pth"), ("dists", "dists_weights.pt"), ("lpips", "lpips_weights.pt"),
        ("pieapp", "PieAPPv0.1.pth"))}
    features = torchvision.models.vgg16(weights=None).features
    torch.save({f"features.{key}": value for key, value in features.state_dict().items()}, files["vgg16"])
    alpha, beta = (torch.rand(1, 1475, 1, 1, generator=generator) for _ in range(2))
    total = alpha.sum() + beta.sum()
    torch.save({"alpha": alpha / total, "beta": beta / total}, files["dists"])
    torch.save([torch.rand(1, c, 1, 1, generator=generator) for c in LPIPS_CHANNELS], files["lpips"])
    state = PieAPPModel().state_dict()
    state["ref_score_subtract.weight"] = state["ref_score_subtract.weight"].reshape(1)
    torch.save(state, files["pieapp"])
    return files
