"""Stage contracts: what each kind of stage receives and returns.

Images are float tensors NxCxHxW with values in [0, 1], on any device; every stage keeps
its tensors on the device of its input. ``docs/contracts.md`` explains each rule; this module
holds the protocols and the small records stages exchange. It does not import torch.

* **preprocessor**: ``pre(x) -> x'`` differentiable, NxCxHxW -> NxC'xHxW with the same H and
  W. A *pairwise* preprocessor (``pairwise = True``) implements ``pair(a, b) ->``
  :class:`PairOutput` instead: it sees both images (alignment does), returns them on ``a``'s
  grid and may mark pixels without a counterpart as invalid. The pipeline applies the chain
  up to its last pairwise stage once, before any differentiation; the stages after it are
  part of the metric that strategies differentiate, so maps always stay on the input's grid.
  When the first pairwise stage sets ``any_size = True``, B may differ from A in size.
* **metric**: ``metric(x, y) -> Tensor[N]``, one value per sample; the record declares
  ``higher_is_better``. Optional: ``supports_valid = True`` and a ``valid=`` keyword (an
  Nx1xHxW bool mask of the pixels that count); ``local_map(x, y) -> Nx1xHxW`` (the
  per-pixel map whose mean is the score, same orientation) and ``local_radius`` (an int:
  each value of the local map depends only on pixels within that many rows and columns,
  the border padded by the metric; lets strategies work in row strips); ``own_map(x, y) ->
  Nx1xHxW`` (the metric's own map of where a pair differs, larger = more different, for a
  metric whose score is not the mean of a local map: PSNR's squared error, MS-SSIM's map
  over its scales); ``map_unit`` (a str: what the values of ``own_map``, else of the
  oriented ``local_map``, are: ``"1 - SSIM"``, ``"squared error"``); ``conventions() ->
  dict`` (data range, version, weights hash: recorded in every result). The ``own``
  strategy, chosen when a metric is named without a strategy, shows ``own_map``, else the
  oriented ``local_map``, else the gradient.
* **feature layers** (metrics, optional): ``feature_layers(device) -> dict[str,
  torch.nn.Module]``, shallow to deep, the modules the metric itself calls on ``device``;
  each returns an NxKxhxw activation computed from one image alone (the two images go
  through separately, not concatenated into one batch, so a strategy can tell whose
  activation it sees). The record lists the same names in ``StageSpec.layers``; the first is
  the default. Grad-CAM style strategies hook these modules (``extra.gradcam``); a metric
  without them cannot be used there.
* **strategy**: ``strategy(problem: Problem) -> Tensor | StageOutput``: a map Nx1xHxW on the
  input grid, float, finite, larger = more different. A strategy declares what the map's
  values are, its *unit*: a ``unit`` attribute (a str), or the ``unit`` of the
  :class:`StageOutput` it returns when the unit depends on the metric or the pair.
* **postprocessor**: ``post(out: StageOutput) -> Tensor | StageOutput``: a new map, and
  optionally a bool mask Nx1xHxW and the regions of each sample. The map keeps its unit
  unless the returned :class:`StageOutput` names another.

Any stage may define ``conventions() -> dict`` to record choices that change numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Move:
    """One thing that moved: its box in A (``source``), its box in B (``target``), both
    ``(x0, y0, x1, y1)`` end-exclusive, and the shift ``(dx, dy)`` in pixels from one to the other."""

    source: tuple[int, int, int, int]
    target: tuple[int, int, int, int]
    shift: tuple[int, int]

    def to_dict(self) -> dict[str, list[int]]:
        return {"from": list(self.source), "to": list(self.target), "by": list(self.shift)}


@dataclass(frozen=True)
class Region:
    """A difference found in a map: a connected region of its mask.

    ``bbox`` is ``(x0, y0, x1, y1)`` in pixels, end-exclusive; ``centroid`` is ``(x, y)``;
    ``area`` counts its pixels; ``peak`` and ``mean`` are the map's maximum and mean inside the
    region; ``label`` is free text (e.g. the winner in ``compare``); ``significance``, when the
    stage that found it measured it, is how far its peak stands above the map's background, in
    robust standard deviations of that background (the region's confidence). ``move``, when the
    stage that found it saw one thing leave one place and appear at another, says where from and
    where to; the region then covers both places (its box spans them, its area is their sum).
    """

    bbox: tuple[int, int, int, int]
    area: int
    peak: float
    mean: float
    centroid: tuple[float, float]
    label: str | None = None
    significance: float | None = None
    move: Move | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["bbox"] = list(self.bbox)
        data["centroid"] = [round(c, 2) for c in self.centroid]
        data["move"] = self.move.to_dict() if self.move is not None else None
        for optional in ("label", "significance", "move"):
            if data[optional] is None:
                del data[optional]
        return data


@dataclass
class StageOutput:
    """A batch of maps and what came with them.

    Attributes:
        map: Nx1xHxW float tensor, larger = more different.
        mask: Nx1xHxW bool tensor of detected change, or ``None``.
        regions: per sample, the regions found in ``mask`` (sorted by score), or ``None``.
        info: per sample, a dict of JSON-able facts a stage reports (e.g. an estimated
            transform, an integration error), or ``None``.
        valid: Nx1xHxW bool tensor of the pixels that were compared (``None``: all). Set by
            the pipeline; postprocessors must keep regions out of invalid pixels.
        unit: what the map's values are, in words (``"1 - SSIM"``, ``"|d score / d pixel|"``),
            or ``None``: the strategy's ``unit`` attribute, else undeclared. Recorded in the
            result's JSON (``map.unit``) and printed on colour bars.
        support: Nx1xHxW float in [0, 1], or ``None`` (1 everywhere): how much of each pixel's
            value the strategy holds to be a change of content rather than of the way the
            pair was made (a page drawn again moves its glyphs' edges). The map is left whole;
            a postprocessor that reports differences may keep only those that ``map x
            support`` holds too (``regions`` does). It passes down the postprocessor chain.
        images: ``(a, b)``, the two NxCxHxW images the map was made from, on the map's grid
            (after any pairwise preprocessor), or ``None``. Set by the pipeline for the
            postprocessors, which may read them (``regions:moves=true`` does) and never
            change them; the pipeline's output holds ``None`` here (the images are the
            computation's own ``a`` and ``b``).
    """

    map: Tensor
    mask: Tensor | None = None
    regions: list[list[Region]] | None = None
    info: list[dict[str, Any]] | None = None
    valid: Tensor | None = None
    unit: str | None = None
    support: Tensor | None = None
    images: tuple[Tensor, Tensor] | None = None

    def replace(self, **changes: Any) -> StageOutput:
        return dataclasses.replace(self, **changes)


@dataclass
class PairOutput:
    """What a pairwise preprocessor returns: both images on ``a``'s grid.

    ``valid`` (Nx1xHxW bool, ``None`` = all valid) marks pixels that have a counterpart in
    both images; ``info`` holds per-sample facts (the estimated transform, its residual).
    """

    a: Tensor
    b: Tensor
    valid: Tensor | None = None
    info: list[dict[str, Any]] | None = None


@dataclass
class Problem:
    """What a strategy works on.

    Attributes:
        a, b: the prepared images, NxCxHxW in [0, 1], on the device; the map's grid.
        metric: the metric bound to the preprocessors that follow the pairwise ones:
            ``metric(x, y)`` is the score, ``metric.distance(x, y)`` is oriented so that
            larger is more different, ``metric.preprocess(x)`` applies the preprocessors.
        valid: Nx1xHxW bool tensor of the pixels that count, or ``None``.
    """

    a: Tensor
    b: Tensor
    metric: MetricLike
    valid: Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)


class MetricLike(Protocol):
    """The metric a strategy receives in :class:`Problem` (the pipeline's ``BoundMetric``).

    It is the pipeline's metric stage bound to the preprocessors that follow the pairwise ones
    and to the pixels that count: ``metric(x, y)`` is the score, shape ``[N]``;
    ``distance(x, y)`` the same oriented so that larger is more different;
    ``preprocess(x)`` applies the bound preprocessors; ``stage`` is the metric stage object
    itself (for optional methods such as ``local_map`` or ``feature_layers``);
    ``repeated(k)`` scores ``k`` stacked copies of the batch at once.
    """

    stage: Any
    name: str
    higher_is_better: bool
    valid: Tensor | None

    def __call__(self, x: Tensor, y: Tensor) -> Tensor: ...

    def distance(self, x: Tensor, y: Tensor) -> Tensor: ...

    def preprocess(self, x: Tensor) -> Tensor: ...

    def repeated(self, times: int) -> MetricLike: ...


def beyond(score: float, threshold: float, higher_is_better: bool) -> bool:
    """Whether ``score`` is worse than ``threshold`` in the metric's direction, or not a number.

    Below ``threshold`` fails for a higher-is-better metric, above it for a lower-is-better
    one; a NaN never passes. ``--fail-above`` gates a run with it, and ``dfind approve
    --failing`` picks the pairs it fails.
    """
    if math.isnan(score):
        return True
    return score < threshold if higher_is_better else score > threshold


@runtime_checkable
class Preprocessor(Protocol):
    def __call__(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class PairwisePreprocessor(Protocol):
    pairwise: bool

    def pair(self, a: Tensor, b: Tensor) -> PairOutput: ...


@runtime_checkable
class Metric(Protocol):
    higher_is_better: bool

    def __call__(self, x: Tensor, y: Tensor) -> Tensor: ...


@runtime_checkable
class Strategy(Protocol):
    def __call__(self, problem: Problem) -> Tensor | StageOutput: ...


@runtime_checkable
class Postprocessor(Protocol):
    def __call__(self, out: StageOutput) -> Tensor | StageOutput: ...
