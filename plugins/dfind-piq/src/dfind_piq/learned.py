"""piq's learned full-reference metrics: DISTS, LPIPS (VGG16), PieAPP, and the content and style losses.

They need pretrained weights, found as :mod:`dfind_piq.weights` says: piq's trained weights
(``weights=``) and torchvision's VGG backbone (``backbone=``) from torch hub's cache, where
piq and torchvision download them, or from explicit files. piq's classes download their
weights while they are built; here the network is built from the files found, with piq's own
module code (``DISTS``, ``LPIPS``, ``ContentLoss``, ``StyleLoss``, ``PieAPP``) doing the
computation, so the values are piq's.

All take RGB images in [0, 1]; grey images are repeated to RGB. The networks are frozen
(``requires_grad=False``); gradients flow to the images only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import piq
import torch
from piq.functional import L2Pool2d
from piq.perceptual import IMAGENET_MEAN, IMAGENET_STD, VGG16_LAYERS, VGG19_LAYERS
from piq.pieapp import PieAPPModel
from torch import Tensor
from torch.nn.modules.loss import _Loss

from dfcore.errors import WeightsError
from dfind_piq import weights as W
from dfind_piq.base import PiqMetric, positive

IMAGENET = (tuple(IMAGENET_MEAN), tuple(IMAGENET_STD))
#: The five VGG16 layers DISTS and LPIPS compare.
LPIPS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
#: DISTS's channels: the image itself, then those five layers.
DISTS_CHANNELS = (3, 64, 128, 256, 512, 512)
LAYERS = {"vgg16": VGG16_LAYERS, "vgg19": VGG19_LAYERS}


def layer_indices(arch: str, names: Sequence[str]) -> list[str]:
    """piq's VGG layer names (``relu3_3``) as the indices of torchvision's ``features``."""
    return [LAYERS[arch][name] for name in names]


def _normalisation(mean: Sequence[float], std: Sequence[float]) -> tuple[list[float], list[float]]:
    mean, std = [float(m) for m in mean], [float(s) for s in std]
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std need three values (R, G, B), got {mean} and {std}")
    positive(**{f"std[{i}]": s for i, s in enumerate(std)})
    return mean, std


class DISTSNetwork(piq.DISTS):
    """piq's DISTS built from weights given here instead of downloaded in ``__init__``.

    The same construction as piq's (VGG16 features, L2 pooling, the five layers plus the
    image, alpha and beta split per layer); ``forward`` and the distances are piq's.
    """

    def __init__(self, features: torch.nn.Sequential, alpha: Tensor, beta: Tensor, mean: Sequence[float],
                 std: Sequence[float]) -> None:
        layer_weights = [*torch.split(alpha, DISTS_CHANNELS, dim=1), *torch.split(beta, DISTS_CHANNELS, dim=1)]
        piq.ContentLoss.__init__(self, features, layers=layer_indices("vgg16", LPIPS_LAYERS), weights=layer_weights,
                                 replace_pooling=True, reduction="none", mean=list(mean), std=list(std),
                                 normalize_features=False, allow_layers_weights_mismatch=True)


class LPIPSNetwork(piq.LPIPS):
    """piq's LPIPS (VGG16) built from weights given here instead of downloaded in ``__init__``."""

    def __init__(self, features: torch.nn.Sequential, layer_weights: Sequence[Tensor], replace_pooling: bool,
                 distance: str, mean: Sequence[float], std: Sequence[float]) -> None:
        piq.ContentLoss.__init__(self, features, layers=layer_indices("vgg16", LPIPS_LAYERS), weights=layer_weights,
                                 replace_pooling=replace_pooling, distance=distance, reduction="none",
                                 mean=list(mean), std=list(std), normalize_features=True)


class PieAPPNetwork(piq.PieAPP):
    """piq's PieAPP built from a state dict given here instead of downloaded in ``__init__``.

    Gradients are enabled (piq's ``enable_grad=True``): by default piq computes PieAPP's
    features under ``no_grad``, which would make every gradient map zero.
    """

    def __init__(self, state: dict[str, Tensor], data_range: float, stride: int) -> None:
        _Loss.__init__(self)
        with torch.device("meta"):
            model = PieAPPModel()
        self.model = model.to_empty(device="cpu")
        self.model.load_state_dict(state, strict=True)
        self.model.requires_grad_(False)
        self.data_range, self.reduction, self.stride, self.enable_grad = data_range, "none", stride, True


class LearnedMetric(PiqMetric):
    """Common to the learned stages: RGB input, frozen networks, the files used recorded."""

    rgb = True

    def __init__(self, data_range: float = 1.0) -> None:
        super().__init__(data_range)
        self.files: dict[str, Path] = {}

    def locate(self, param: str, url: str, given: str | None, download: bool) -> Path:
        path = W.locate(self.label, param, url, given, download)
        self.files[param] = path
        return path

    def backbone(self, arch: str, given: str | None, download: bool) -> torch.nn.Sequential:
        path = self.locate("backbone", W.vgg_url(arch), given, download)
        return W.vgg_features(self.label, "backbone", arch, path)

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        net = self.net
        net.to(device=x.device, dtype=x.dtype)
        for module in net.modules():  # piq's L2 pooling keeps its first input's device and dtype
            if isinstance(module, L2Pool2d) and module.kernel is not None:
                module.kernel = module.kernel.to(x)
        return net(x, y)

    def conventions(self) -> dict[str, Any]:
        recorded = super().conventions()
        recorded["network"] = "frozen; gradients reach the images only"
        for param, path in self.files.items():
            recorded[param] = str(path)
            recorded[f"{param}_sha256"] = W.sha256(path)
        return recorded


#: piq runs the whole of VGG's ``features`` whatever the layers compared: five 2x poolings.
VGG_SIDE = (32, " (piq runs all five 2x poolings of VGG)")


class DISTS(LearnedMetric):
    """Deep image structure and texture similarity, as a distance (piq's ``1 - DISTS``); lower is better.

    Structure (means) and texture (variances, covariance) of VGG16 features with L2 pooling,
    weighted by trained ``alpha`` and ``beta``. Images whose smaller side exceeds 256 px are
    resized to 256 first (bilinear, inside piq, as DISTS does); the map is still on the
    input's grid.

    Args:
        mean, std: the input normalisation (ImageNet's).
        weights: piq's ``dists_weights.pt`` (alpha and beta); default: torch hub's cache.
        backbone: torchvision's VGG16 weights (``vgg16-397923af.pth``); default: torch hub's cache.
        download: download missing files into torch hub's cache.

    References:
        K. Ding, K. Ma, S. Wang, E. P. Simoncelli. Image Quality Assessment: Unifying
        Structure and Texture Similarity. IEEE Transactions on Pattern Analysis and Machine
        Intelligence 44(5):2567-2581, 2022.
    """

    name, function, higher_is_better = "dists", "DISTS", False

    def __init__(self, mean: tuple[float, ...] = IMAGENET[0], std: tuple[float, ...] = IMAGENET[1],
                 weights: str | None = None, backbone: str | None = None, download: bool = True) -> None:
        super().__init__()
        mean, std = _normalisation(mean, std)
        path = self.locate("weights", piq.DISTS._weights_url, weights, download)
        trained = W.read(self.label, "weights", path)
        if not (isinstance(trained, dict) and all(
                isinstance(trained.get(k), Tensor) and trained[k].ndim == 4 and trained[k].shape[1] == sum(
                    DISTS_CHANNELS) for k in ("alpha", "beta"))):
            raise WeightsError(f"{self.label}: weights file {path} is not DISTS's: it needs tensors 'alpha' and "
                               f"'beta' of shape (1, {sum(DISTS_CHANNELS)}, 1, 1)")
        self.net = DISTSNetwork(self.backbone("vgg16", backbone, download), trained["alpha"], trained["beta"],
                                mean, std)

    def conventions(self) -> dict[str, Any]:
        recorded = super().conventions()
        recorded["resize"] = "smaller side above 256 px: resized to 256 (bilinear) inside piq, as DISTS does"
        recorded["value"] = "1 - DISTS similarity (piq's DISTS)"
        return recorded


def _lpips_layer_weights(label: str, path: Path, trained: Any) -> list[Tensor]:
    """piq's ``lpips_weights.pt`` (five tensors), or the ``lpips`` package's ``vgg.pth`` (``linK.model.1.weight``)."""
    channels = DISTS_CHANNELS[1:]
    if isinstance(trained, dict):
        trained = [trained.get(f"lin{i}.model.1.weight") for i in range(len(channels))]
    if not (isinstance(trained, (list, tuple)) and len(trained) == len(channels) and all(
            isinstance(t, Tensor) and t.numel() == c for t, c in zip(trained, channels))):
        raise WeightsError(f"{label}: weights file {path} is not LPIPS's VGG16 weights: it needs five tensors of "
                           f"{', '.join(map(str, channels))} values")
    return [t.detach().reshape(1, -1, 1, 1).float() for t in trained]


class LPIPSVGG(LearnedMetric):
    """LPIPS on VGG16 as piq computes it, with piq's trained layer weights; lower is better, 0 for identical images.

    Unit-normalised VGG16 features of five layers, their squared (or absolute) differences
    weighted per channel, averaged over space, summed over layers. It is the index dfind's
    built-in ``lpips:net=vgg`` computes (the ``lpips`` package), here with piq's copy of the
    weights and piq's options: average instead of max pooling, an L1 distance.

    Args:
        replace_pooling: average pooling instead of max pooling in VGG16.
        distance: ``mse`` (LPIPS) or ``mae`` between the normalised features.
        mean, std: the input normalisation (ImageNet's, equivalent to LPIPS's scaling layer).
        weights: piq's ``lpips_weights.pt``, or the ``lpips`` package's ``vgg.pth``; default:
            torch hub's cache.
        backbone: torchvision's VGG16 weights (``vgg16-397923af.pth``); default: torch hub's cache.
        download: download missing files into torch hub's cache.

    References:
        R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang. The Unreasonable
        Effectiveness of Deep Features as a Perceptual Metric. CVPR 2018.
    """

    name, function, higher_is_better = "lpips-vgg", "LPIPS", False

    def __init__(self, replace_pooling: bool = False, distance: str = "mse", mean: tuple[float, ...] = IMAGENET[0],
                 std: tuple[float, ...] = IMAGENET[1], weights: str | None = None, backbone: str | None = None,
                 download: bool = True) -> None:
        super().__init__()
        if distance not in ("mse", "mae"):
            raise ValueError(f"distance must be mse or mae, got {distance!r}")
        mean, std = _normalisation(mean, std)
        path = self.locate("weights", piq.LPIPS._weights_url, weights, download)
        layer_weights = _lpips_layer_weights(self.label, path, W.read(self.label, "weights", path))
        self.net = LPIPSNetwork(self.backbone("vgg16", backbone, download), layer_weights, bool(replace_pooling),
                                distance, mean, std)

    def minimum_side(self) -> tuple[int, str]:
        return VGG_SIDE


class Content(LearnedMetric):
    """Content loss: distance between VGG features of the two images; lower is better, 0 for identical images.

    Args:
        feature_extractor: ``vgg16`` or ``vgg19`` (torchvision's ImageNet weights).
        layers: the layers compared, piq's names (``relu1_2``, ``relu3_3``, ``pool4`` ...).
        layer_weights: one weight per layer (piq's ``weights`` argument, renamed so that
            ``weights`` never means numbers here).
        replace_pooling: average pooling instead of max pooling.
        distance: ``mse`` or ``mae`` between the features.
        mean, std: the input normalisation (ImageNet's).
        normalize_features: unit-normalise the features across channels first.
        backbone: torchvision's weights for ``feature_extractor`` (``vgg16-397923af.pth`` or
            ``vgg19-dcbb9e9d.pth``); default: torch hub's cache.
        download: download a missing backbone into torch hub's cache.

    References:
        L. A. Gatys, A. S. Ecker, M. Bethge. Image Style Transfer Using Convolutional Neural
        Networks. CVPR 2016. J. Johnson, A. Alahi, L. Fei-Fei. Perceptual Losses for
        Real-Time Style Transfer and Super-Resolution. ECCV 2016.
    """

    name, function, higher_is_better = "content", "ContentLoss", False
    loss: type[piq.ContentLoss] = piq.ContentLoss

    def __init__(self, feature_extractor: str = "vgg16", layers: tuple[str, ...] = ("relu3_3",),
                 layer_weights: tuple[float, ...] = (1.0,), replace_pooling: bool = False, distance: str = "mse",
                 mean: tuple[float, ...] = IMAGENET[0], std: tuple[float, ...] = IMAGENET[1],
                 normalize_features: bool = False, backbone: str | None = None, download: bool = True) -> None:
        super().__init__()
        if feature_extractor not in LAYERS:
            raise ValueError(f"feature_extractor must be vgg16 or vgg19, got {feature_extractor!r}")
        if distance not in ("mse", "mae"):
            raise ValueError(f"distance must be mse or mae, got {distance!r}")
        layers = (layers,) if isinstance(layers, str) else tuple(layers)
        unknown = [name for name in layers if name not in LAYERS[feature_extractor]]
        if not layers or unknown:
            raise ValueError(f"layers must name {feature_extractor} layers such as relu3_3, got "
                             f"{list(unknown or layers)}")
        layer_weights = tuple(float(w) for w in layer_weights)
        if len(layer_weights) != len(layers):
            raise ValueError(f"give one layer weight per layer: {len(layers)} layers, {len(layer_weights)} weights")
        mean, std = _normalisation(mean, std)
        self.net = self.loss(self.backbone(feature_extractor, backbone, download),
                             layers=layer_indices(feature_extractor, layers), weights=list(layer_weights),
                             replace_pooling=bool(replace_pooling), distance=distance, reduction="none", mean=mean,
                             std=std, normalize_features=bool(normalize_features))

    def minimum_side(self) -> tuple[int, str]:
        return VGG_SIDE


class Style(Content):
    """Style loss: distance between Gram matrices of VGG features; lower is better, 0 for identical images.

    The Gram matrices (channel correlations, summed over space) discard where features are,
    so the gradient shows which pixels change the texture statistics, not where the images
    differ pixel for pixel. Arguments as for ``content``.

    References:
        L. A. Gatys, A. S. Ecker, M. Bethge. Image Style Transfer Using Convolutional Neural
        Networks. CVPR 2016.
    """

    name, function = "style", "StyleLoss"
    loss = piq.StyleLoss


def _pieapp_state(label: str, path: Path, state: Any) -> dict[str, Tensor]:
    """piq's ``PieAPPv0.1.pth``, with piq's fix of its ``ref_score_subtract.weight`` (saved as shape (1,))."""
    if not isinstance(state, dict) or "ref_score_subtract.weight" not in state:
        raise WeightsError(f"{label}: weights file {path} is not PieAPP's (no ref_score_subtract.weight)")
    state = dict(state)
    if state["ref_score_subtract.weight"].ndim == 1:
        state["ref_score_subtract.weight"] = state["ref_score_subtract.weight"].unsqueeze(1)
    return state


class PieAPP(LearnedMetric):
    """PieAPP, perceptual image-error assessment through pairwise preference; lower is better.

    A network trained on human preferences scores 64x64 patches taken every ``stride`` px
    (the error of B against the reference A), weighted by a second head. Pixels beyond the
    last whole patch do not count, so the map is zero there.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        stride: step between patches in px; smaller is denser and slower.
        weights: piq's ``PieAPPv0.1.pth``; default: torch hub's cache.
        download: download a missing file into torch hub's cache.

    References:
        E. Prashnani, H. Cai, Y. Mostofi, P. Sen. PieAPP: Perceptual Image-Error Assessment
        through Pairwise Preference. CVPR 2018.
    """

    name, function, higher_is_better = "pieapp", "PieAPP", False

    def __init__(self, data_range: float = 1.0, stride: int = 27, weights: str | None = None,
                 download: bool = True) -> None:
        super().__init__(data_range)
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        path = self.locate("weights", piq.PieAPP._weights_url, weights, download)
        state = _pieapp_state(self.label, path, W.read(self.label, "weights", path))
        try:
            self.net = PieAPPNetwork(state, self.data_range, int(stride))
        except RuntimeError as exc:
            raise WeightsError(f"{self.label}: weights file {path} does not fit PieAPP: {W.one_line(exc)}") from None

    def minimum_side(self) -> tuple[int, str]:
        return PieAPPModel.FEATURES, f" (its {PieAPPModel.FEATURES}x{PieAPPModel.FEATURES} patches)"

    def conventions(self) -> dict[str, Any]:
        recorded = super().conventions()
        recorded["patches"] = f"64x64 every {self.net.stride} px; pixels beyond the last whole patch do not count"
        recorded["network"] += " (piq's enable_grad=True: its default computes PieAPP without gradients)"
        return recorded


__all__ = ["DISTS", "Content", "LPIPSVGG", "PieAPP", "Style"]
