"""``gradcam``: Grad-CAM of a metric: which places of a feature layer drive the distance.

Grad-CAM (Selvaraju et al., 2017) explains a class score through a convolutional layer; here
the score is the metric's distance between the two images (oriented so that larger is more
different, as in ``gradient``). With one image held fixed, the other is passed through the
metric while a forward hook records the chosen layer's activations ``A`` (NxKxhxw) for it.
Then

* the gradient ``dD/dA`` of the distance with respect to those activations is taken,
* ``weighting=hirescam`` (the default): the map is ``ReLU(sum_k dD/dA_k * A_k)``,
  element-wise, which keeps the gradient's location (Draelos and Carin, 2020);
  ``weighting=gradcam``: each channel's weight is the spatial mean of its gradient, and the
  map is ``ReLU(sum_k w_k A_k)``, as in the paper: its global weights light up every place
  with the favoured features, texture included (docs/extra.md has the measurement that chose
  the default);
* the map is upsampled bilinearly to the input grid.

A CAM shows the features present in the image it explains, so a one-sided CAM misses what
the other image has and this one lacks (a region blurred in ``b`` is invisible in ``b``'s
CAM). ``reference=both`` (the default) adds the CAM of ``b`` with ``a`` held fixed and the
CAM of ``a`` with ``b`` held fixed; ``a`` or ``b`` gives the one-sided CAM of the other image.

A metric offers its layers through ``feature_layers(device) -> {name: torch.nn.Module}``,
shallow to deep, and lists the names in its record's ``layers`` (see
:mod:`dfcore.contracts`). ``layer`` picks one by name or index; the default is the first,
shallowest layer: the finest grid, which localises a change best (on the test pairs of
``tests/extra/test_gradcam.py`` deeper layers of ``filterbank`` often put the maximum on
texture outside the change).

References:
    Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. Grad-CAM: visual explanations from
    deep networks via gradient-based localization. ICCV 2017.
    Draelos, Carin. Use HiResCAM instead of Grad-CAM for faithful explanations of
    convolutional neural networks. arXiv:2011.08891, 2020.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.contracts import Problem
from dfcore.errors import ParameterError, StageError
from dfcore.ops.gradients import oriented_distance

WEIGHTINGS = ("gradcam", "hirescam")


def resolve_layer(layers: dict[str, torch.nn.Module], layer: str | int | None, metric: str) -> str:
    """The layer name ``layer`` (a name, an index, or ``None`` for the first one) refers to."""
    names = list(layers)
    if not names:
        raise StageError(f"metric {metric!r} offers no feature layers")
    if layer is None:
        return names[0]
    if isinstance(layer, int) and not isinstance(layer, bool):
        if -len(names) <= layer < len(names):
            return names[layer]
        raise ParameterError(f"gradcam: layer index {layer} is out of range for {metric!r} (layers: {', '.join(names)})")
    if isinstance(layer, str) and layer in layers:
        return layer
    raise ParameterError(f"gradcam: metric {metric!r} has no layer {layer!r}; its layers: {', '.join(names)}")


def feature_layers(problem: Problem) -> dict[str, torch.nn.Module]:
    """The metric's feature layers on the problem's device, or a one-line error naming metrics that have them."""
    offer = getattr(problem.metric.stage, "feature_layers", None)
    if not callable(offer):  # a Finder refuses such a pipeline when it is built (``needs_layers``)
        raise StageError(f"gradcam needs a metric with feature layers; {problem.metric.name!r} has none")
    return dict(offer(problem.a.device))


def _depends_on(tensor: Tensor, leaf: Tensor) -> bool:
    """Whether autograd can reach ``leaf`` from ``tensor`` (a walk over the graph, no computation)."""
    if not tensor.requires_grad or tensor.grad_fn is None:
        return tensor is leaf
    seen: set[Any] = set()
    stack = [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if getattr(node, "variable", None) is leaf:
            return True
        stack.extend(next_node for next_node, _ in node.next_functions)
    return False


def _as_activation(output: Any) -> Tensor | None:
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    return None


def metric_cam(problem: Problem, module: torch.nn.Module, name: str, reference: str = "a",
               weighting: str = "gradcam") -> Tensor:
    """The CAM of the image other than ``reference`` at the layer ``module``, Nx1xHxW on the input grid."""
    captured: list[Tensor] = []

    def record(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        activation = _as_activation(output)
        if activation is not None:
            captured.append(activation)

    handle = module.register_forward_hook(record)
    try:
        with torch.enable_grad():
            moving, distance = oriented_distance(problem, reference)
            n = moving.shape[0]
            activations = [a for a in captured if a.ndim == 4 and a.shape[0] == n and _depends_on(a, moving)]
            if not activations:
                raise StageError(
                    f"gradcam: layer {name!r} of metric {problem.metric.name!r} produced no 4-D activation of the "
                    f"{'b' if reference == 'a' else 'a'} image (was it run, and does the metric keep the images apart?)"
                )
            grads = torch.autograd.grad(distance.sum(), activations, allow_unused=True)
    finally:
        handle.remove()
    height, width = moving.shape[-2:]
    cam = moving.new_zeros(n, 1, height, width)
    for activation, grad in zip(activations, grads):
        if grad is None:
            continue
        activation, grad = activation.detach(), grad.detach()
        if weighting == "gradcam":
            weighted = (grad.mean(dim=(2, 3), keepdim=True) * activation).sum(1, keepdim=True)
        else:
            weighted = (grad * activation).sum(1, keepdim=True)
        cam = cam + F.interpolate(weighted.relu().to(cam.dtype), size=(height, width), mode="bilinear",
                                  align_corners=False)
    return cam


class GradCAM:
    """Grad-CAM of the metric's distance at one of its feature layers, on the input grid."""

    #: The pipeline refuses, when it is built, a metric without ``feature_layers`` (docs/contracts.md).
    needs_layers = True

    def __init__(self, layer: str | int | None = None, reference: str = "both", weighting: str = "hirescam") -> None:
        if reference not in ("a", "b", "both"):
            raise ValueError(f"reference must be a, b or both, got {reference!r}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
        if layer is not None and not isinstance(layer, (str, int)):
            raise ValueError(f"layer must be a name or an index, got {layer!r}")
        self.layer, self.reference, self.weighting = layer, reference, weighting
        self._used: str | None = None

    def __call__(self, problem: Problem) -> Tensor:
        layers = feature_layers(problem)
        self._used = resolve_layer(layers, self.layer, problem.metric.name)
        references = ("a", "b") if self.reference == "both" else (self.reference,)
        cams = [metric_cam(problem, layers[self._used], self._used, r, self.weighting) for r in references]
        return cams[0] if len(cams) == 1 else cams[0] + cams[1]

    def conventions(self) -> dict[str, object]:
        return {
            "layer": self._used if self._used is not None else self.layer,
            "explained": {"a": "b", "b": "a", "both": "a and b (sum of both CAMs)"}[self.reference],
            "weighting": self.weighting,
            "orientation": "larger = more different (metric negated when higher is better)",
            "upsampling": "bilinear, align_corners=False",
        }
