"""``lpips``: learned perceptual distance through the ``lpips`` package.

The package ships its linear calibration layers; the ImageNet backbone (AlexNet, VGG16 or
SqueezeNet 1.1) comes from torchvision's weight cache (``$TORCH_HOME/hub/checkpoints``), is
downloaded there when allowed, or is read from an explicit ``weights=`` file. Offline with no
weights, the error names the missing file and where to put it. A network is built once per
(net, weights file, device) and shared by every stage and pair of the process.

Inputs in [0, 1] are mapped to the [-1, 1] range LPIPS expects; grey images are repeated to
three channels.

Reference:
    Zhang, Isola, Efros, Shechtman, Wang. The unreasonable effectiveness of deep features as
    a perceptual metric. CVPR 2018.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.errors import WeightsError, one_line
from dfcore.ops.checks import check_channels

LPIPS_VERSION = "0.1"

#: LPIPS net name -> (torchvision builder, weights enum name).
BACKBONES = {
    "alex": ("alexnet", "AlexNet_Weights"),
    "vgg": ("vgg16", "VGG16_Weights"),
    "squeeze": ("squeezenet1_1", "SqueezeNet1_1_Weights"),
}

_networks: dict[tuple[str, str, str], Any] = {}
_networks_lock = threading.Lock()


def backbone_url(net: str) -> str:
    import torchvision.models

    return getattr(torchvision.models, BACKBONES[net][1]).IMAGENET1K_V1.url


def torchvision_cache_dir() -> Path:
    """Where torchvision keeps downloaded weights (``torch.hub.get_dir()/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_backbone_weights(net: str, weights: str | None = None, download: bool = True) -> Path:
    """The backbone weights file to load: ``weights`` if given, else torchvision's cache.

    Raises:
        WeightsError: the file is missing (and could not be downloaded).
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(f"lpips: weights file {path} does not exist")
        return path
    url = backbone_url(net)
    filename = url.rsplit("/", 1)[-1]
    cached = torchvision_cache_dir() / filename
    if cached.is_file():
        return cached
    hint = f"put {filename} there (from {url}) or pass lpips:weights=/path/to/{filename}"
    if not download:
        raise WeightsError(f"lpips(net={net}) needs {filename}, which is not in torchvision's cache {cached.parent}; {hint}")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=_hash_prefix(filename), progress=False)
    except Exception as exc:
        raise WeightsError(
            f"lpips(net={net}) needs {filename}: not in torchvision's cache {cached.parent} and the download "
            f"failed ({one_line(exc)}); {hint}"
        ) from None
    return cached


def _hash_prefix(filename: str) -> str | None:
    stem = filename.rsplit(".", 1)[0]
    suffix = stem.rsplit("-", 1)[-1]
    return suffix if len(suffix) >= 8 and all(c in "0123456789abcdef" for c in suffix) else None


@lru_cache(maxsize=16)
def file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    stat = path.stat()
    return file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def _backbone_state(net: str, path: Path) -> dict[str, Tensor]:
    """Read a torchvision state dict and rename ``features.i.*`` to lpips's ``sliceK.i.*``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"lpips: cannot read weights file {path}: {one_line(exc)}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"lpips: {path} does not hold a state dict")
    return {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}


def load_network(net: str, path: Path, device: torch.device) -> Any:
    """The LPIPS module for ``net`` with backbone weights from ``path`` on ``device``, cached."""
    key = (net, str(path), str(device))
    with _networks_lock:
        model = _networks.get(key)
        if model is not None:
            return model
        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net=net, version=LPIPS_VERSION, pretrained=True, pnet_rand=True, verbose=False)
        features = _backbone_state(net, path)
        target = model.net.state_dict()
        by_index = {}
        for name in target:
            slice_name, _, rest = name.partition(".")
            by_index[rest] = name
        missing = sorted(set(by_index) - set(features))
        if missing:
            raise WeightsError(
                f"lpips(net={net}): {path} does not match the {BACKBONES[net][0]} backbone "
                f"(missing features.{missing[0]})"
            )
        try:
            model.net.load_state_dict({by_index[k]: features[k] for k in by_index}, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"lpips(net={net}): {path} does not fit the backbone: {one_line(exc)}") from None
        model = model.eval().requires_grad_(False).to(device)
        _networks[key] = model
        return model


def lpips_map(model: Any, x: Tensor, y: Tensor) -> Tensor:
    """LPIPS per pixel, Nx1xHxW: the ``lpips`` package's ``spatial=True`` output from a model built without it.

    Each layer's weighted squared feature difference is brought back to HxW (bilinear) and the
    layers summed; the mean of the map is the score up to the resampling (the package's own
    spatial mode).
    """
    import lpips

    x, y = model.scaling_layer(2 * x - 1), model.scaling_layer(2 * y - 1)
    features_x, features_y = model.net.forward(x), model.net.forward(y)
    total = None
    for layer in range(model.L):
        squared = (lpips.normalize_tensor(features_x[layer]) - lpips.normalize_tensor(features_y[layer])) ** 2
        part = F.interpolate(model.lins[layer](squared), size=x.shape[-2:], mode="bilinear", align_corners=False)
        total = part if total is None else total + part
    return total


class LPIPS:
    """LPIPS distance per sample; lower is better, 0 for identical images."""

    higher_is_better = False
    #: What :meth:`local_map` is.
    map_unit = "LPIPS distance per pixel (every layer brought back to the image's grid)"

    def __init__(self, net: str = "alex", weights: str | None = None, download: bool = True) -> None:
        if net not in BACKBONES:
            raise ValueError(f"net must be one of {', '.join(BACKBONES)}, got {net!r}")
        self.net = net
        self.weights_path = find_backbone_weights(net, weights, download)

    def model(self, device: torch.device) -> Any:
        return load_network(self.net, self.weights_path, device)

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
        check_channels(x, (1, 3), "lpips")
        return self.model(x.device)(x, y, normalize=True).reshape(x.shape[0])

    def local_map(self, x: Tensor, y: Tensor) -> Tensor:
        """LPIPS's spatial map (:func:`lpips_map`), Nx1xHxW; its mean is the score, up to resampling."""
        if x.shape[1] == 1:
            x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
        check_channels(x, (1, 3), "lpips")
        return lpips_map(self.model(x.device), x, y)

    def feature_layers(self, device: torch.device | str = "cpu") -> dict[str, torch.nn.Module]:
        """Backbone stages by name (``relu1`` ...), for Grad-CAM style strategies."""
        model = self.model(torch.device(device))
        return {f"relu{i}": getattr(model.net, f"slice{i}") for i in range(1, model.net.N_slices + 1)}

    def conventions(self) -> dict[str, object]:
        import lpips

        return {
            "lpips_version": LPIPS_VERSION,
            "lpips_package": getattr(lpips, "__version__", "unknown"),
            "net": self.net,
            "weights": str(self.weights_path),
            "weights_sha256": _sha256(self.weights_path),
            "input_range": "[0, 1] mapped to [-1, 1]",
        }
