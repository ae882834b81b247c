"""Fixtures for the built-in stages: LPIPS backbone weights made here, never downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def alexnet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision AlexNet state dict with random (seeded) weights, saved as torchvision would.

    Random weights exercise the whole loading path offline; the seed is fixed because with
    random features where the LPIPS gradient peaks is only roughly where the images differ.
    """
    import torch
    import torchvision

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = torchvision.models.alexnet(weights=None)
    path = tmp_path_factory.mktemp("weights") / "alexnet-random.pth"
    torch.save(model.state_dict(), path)
    return path
