"""Where the learned metrics' weights come from, and how they are read.

piq downloads its trained weights with ``torch.hub.load_state_dict_from_url`` and torchvision
its VGG backbones the same way: both land in torch hub's cache,
``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``, by default
``~/.cache/torch/hub/checkpoints``). The bridge reads the same files from the same place, so
weights piq or torchvision already downloaded are used as they are. A file can also be given
explicitly (``weights=``, ``backbone=``); a missing file is downloaded into the cache when
``download`` is true. Offline, the error is one line naming the file, the folder it belongs
in, where it comes from and the parameter that takes it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from dfcore.errors import WeightsError

#: torchvision's VGG weights (the ImageNet V1 weights piq's ``vgg16(pretrained=True)`` loads).
VGG_WEIGHTS = {"vgg16": "VGG16_Weights", "vgg19": "VGG19_Weights"}


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, for one-line errors."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def cache_dir() -> Path:
    """torch hub's checkpoint folder, where piq and torchvision keep downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def vgg_url(arch: str) -> str:
    import torchvision.models

    return getattr(torchvision.models, VGG_WEIGHTS[arch]).IMAGENET1K_V1.url


def _hash_prefix(filename: str) -> str | None:
    """torchvision's files end in the first hex digits of their SHA-256 (``vgg16-397923af.pth``)."""
    suffix = filename.rsplit(".", 1)[0].rsplit("-", 1)[-1]
    return suffix if len(suffix) >= 8 and all(c in "0123456789abcdef" for c in suffix) else None


def locate(stage: str, param: str, url: str, given: str | None, download: bool) -> Path:
    """The file to read: ``given``, else the cached download of ``url`` (downloaded if allowed).

    Args:
        stage: the qualified stage name, for messages (``piq.dists``).
        param: the parameter that takes this file (``weights``, ``backbone``).
    Raises:
        WeightsError: the file is missing and could not be downloaded (one line).
    """
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_file():
            raise WeightsError(f"{stage}: {param} file {path} does not exist")
        return path
    filename = url.rsplit("/", 1)[-1]
    cached = cache_dir() / filename
    if cached.is_file():
        return cached
    hint = f"put {filename} there (from {url}) or pass {stage}:{param}=/path/to/{filename}"
    if not download:
        raise WeightsError(f"{stage} needs {filename}, which is not in torch hub's cache {cached.parent}; {hint}")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=_hash_prefix(filename), progress=False)
    except Exception as exc:
        raise WeightsError(f"{stage} needs {filename}: not in torch hub's cache {cached.parent} and the download "
                           f"failed ({one_line(exc)}); {hint}") from None
    return cached


def read(stage: str, param: str, path: Path) -> Any:
    """The object saved in ``path`` (tensors, lists and dicts only: ``weights_only``), on the CPU."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{stage}: cannot read {param} file {path}: {one_line(exc)}") from None


@lru_cache(maxsize=2)
def _backbone_features(path: str, size: int, mtime_ns: int) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of a torchvision state dict, renamed as ``features`` calls them."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        return {}
    return {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}


def vgg_features(stage: str, param: str, arch: str, path: Path) -> torch.nn.Sequential:
    """torchvision's ``arch`` convolutional part (``features``) with the weights of ``path``, frozen.

    ``path`` holds a torchvision state dict (``features.0.weight`` ...; the classifier's keys,
    if any, are ignored). The features of the last two files read are kept in memory, so that
    several stages on one backbone read it once.
    """
    import torchvision.models

    stat = path.stat()
    try:
        state = _backbone_features(str(path), stat.st_size, stat.st_mtime_ns)
    except Exception as exc:
        raise WeightsError(f"{stage}: cannot read {param} file {path}: {one_line(exc)}") from None
    if not state:
        raise WeightsError(f"{stage}: {param} file {path} holds no torchvision {arch} weights (no features.* keys)")
    with torch.device("meta"):  # no random initialisation of weights about to be replaced
        features = getattr(torchvision.models, arch)(weights=None).features
    features = features.to_empty(device="cpu")
    try:
        features.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{stage}: {param} file {path} does not fit torchvision's {arch}: {one_line(exc)}") from None
    return features.eval().requires_grad_(False)


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    """The file's SHA-256, computed once per file version."""
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


__all__ = ["cache_dir", "locate", "one_line", "read", "sha256", "vgg_features", "vgg_url"]
