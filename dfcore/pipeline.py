"""The pipeline and the Python API: :class:`Finder` builds stages once and runs pairs through them.

>>> from dfcore import Finder                                   # doctest: +SKIP
>>> result = Finder(metric="ssim", strategy="gradient").run("a.png", "b.png")  # doctest: +SKIP
>>> result.map.shape, result.score                             # doctest: +SKIP

A stage is given as a name (``"highpass"``), a name with parameters (``("highpass",
{"cutoff": 0.1})`` or ``"highpass:cutoff=0.1"``), a qualified name (``"builtin.ssim"``), or a
stage object. Pre- and postprocessors may be lists (chains). Stages that are not given come
from the preset (``preset="default"`` unless another is named), except that a preset's
postprocessors belong to its strategy: naming a strategy without postprocessors leaves the
map as that strategy makes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dfcore import __version__
from dfcore.contracts import PairOutput, Problem, Region, StageOutput
from dfcore.conventions import Conventions, fit_top_left
from dfcore.errors import InputError, ParameterError, ShapeError, StageError
from dfcore.evaluation import Evaluation, as_mask, check_size, evaluate, read_mask
from dfcore.ignore import check_any_valid, describe, ignore_mask, neutral_fill
from dfcore.images import as_batch, match_pair
from dfcore.output import (apply_colormap, atomic_write, color_scale, default_colormap, hatch_invalid, jsonable,
                           write_json, write_npy, write_png)
from dfcore.pairing import IMAGE_EXTENSIONS
from dfcore.registry import Registry, get_registry, parse_stage_ref
from dfcore.plugins import BrokenPlugin

if TYPE_CHECKING:
    from dfcore.batch import DirRun

DEFAULT_PRESET = "default"


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then CPU; an unavailable device is a one-line error."""
    if isinstance(device, torch.device):
        resolved = device
    else:
        text = str(device or "auto").strip().lower()
        if text == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            if _mps_available():
                return torch.device("mps")
            return torch.device("cpu")
        try:
            resolved = torch.device(text)
        except RuntimeError:
            raise ParameterError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"device {device!s} requested but CUDA is not available here")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ParameterError(f"device {device!s} requested but only {torch.cuda.device_count()} CUDA devices exist")
    if resolved.type == "mps" and not _mps_available():
        raise ParameterError(f"device {device!s} requested but MPS is not available here")
    return resolved


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@dataclass
class BuiltStage:
    """A stage object and the record of how it was made (for the result's configuration)."""

    kind: str
    obj: Any
    record: dict[str, Any]
    higher_is_better: bool | None = None

    def describe(self) -> dict[str, Any]:
        record = dict(self.record)
        conventions = getattr(self.obj, "conventions", None)
        if callable(conventions):
            record["conventions"] = conventions()
        return record


def build_stage(registry: Registry, kind: str, ref: Any, device: torch.device) -> BuiltStage:
    """Build one stage from a name, ``(name, params)``, ``"name:k=v"`` text or an object."""
    if isinstance(ref, str) or (isinstance(ref, tuple) and len(ref) == 2 and isinstance(ref[0], str)):
        if isinstance(ref, str):
            name, params = parse_stage_ref(ref)
        elif ref[1] is None or isinstance(ref[1], Mapping):
            name, params = ref[0], dict(ref[1] or {})
        else:
            raise ParameterError(
                f"{kind} {ref!r}: a stage with parameters is (name, {{parameter: value}}); write a chain as a list"
            )
        stage = registry.find(kind, name)
        try:
            obj = stage.build(params)
        except StageError as exc:
            registry.mark_broken(BrokenPlugin(stage.origin, "target", str(exc)))
            raise
        record = {
            "name": stage.name,
            "qualified_name": stage.qualified_name,
            "plugin": stage.origin.plugin,
            "distribution": stage.origin.distribution,
            "version": stage.origin.version,
            "params": stage.parse_params(params),
        }
        higher = stage.spec.higher_is_better
    else:
        obj = ref
        name = getattr(ref, "name", None) or getattr(ref, "__name__", None) or type(ref).__name__
        record = {"name": str(name), "qualified_name": None, "plugin": None, "object": type(ref).__qualname__}
        higher = getattr(ref, "higher_is_better", None)
        if kind == "metric" and not isinstance(higher, bool):
            raise ParameterError(
                f"metric object {name!r} has no higher_is_better attribute; register it with "
                "dfcore.register_metric(fn, name=..., higher_is_better=...)"
            )
        if not callable(obj) and not (kind == "preprocessor" and hasattr(obj, "pair")):
            raise ParameterError(f"{kind} object {name!r} is not callable")
    if isinstance(obj, torch.nn.Module):
        obj = obj.to(device)
    return BuiltStage(kind, obj, record, higher)


def _as_chain(ref: Any) -> list[Any]:
    if ref is None:
        return []
    if isinstance(ref, list):
        return list(ref)
    return [ref]


class BoundMetric:
    """A metric bound to the preprocessors that strategies differentiate through.

    ``bound(x, y)`` is the score (shape ``[N]``); ``bound.distance(x, y)`` is oriented so
    that larger means more different; ``bound.preprocess(x)`` applies the preprocessors.
    Pixels outside ``valid`` do not count: a metric with ``supports_valid`` receives the mask,
    for any other metric those pixels of ``x`` are replaced by ``y``'s so they add nothing.

    ``pair=(a, b)`` names the pair being compared: when a strategy evaluates the metric on
    exactly those tensors (the same storage and version, e.g. ``b.detach()``), the value is
    kept in :attr:`pair_value`, so the pipeline need not evaluate the score a second time.
    """

    def __init__(self, metric: Any, higher_is_better: bool, preprocessors: Sequence[Any] = (),
                 valid: torch.Tensor | None = None, name: str = "metric",
                 pair: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.stage = metric
        self.higher_is_better = higher_is_better
        self.preprocessors = list(preprocessors)
        self.valid = valid
        self.name = name
        self.pair = pair
        self.pair_value: torch.Tensor | None = None
        self._pair_versions = (pair[0]._version, pair[1]._version) if pair is not None else None

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.preprocessors:
            x = stage(x)
        return x

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        supports_valid = bool(getattr(self.stage, "supports_valid", False))
        if self.valid is not None and not supports_valid:
            x = torch.where(self.valid, x, y)
        px, py = self.preprocess(x), self.preprocess(y)
        if self.valid is not None and supports_valid:
            value = self.stage(px, py, valid=self.valid)
        else:
            value = self.stage(px, py)
        value = _check_metric_value(value, x.shape[0], self.name)
        if (self.pair is not None and _same_data(x, self.pair[0], self._pair_versions[0])
                and _same_data(y, self.pair[1], self._pair_versions[1])):
            self.pair_value = value.detach()
        return value

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = self(x, y)
        return -value if self.higher_is_better else value

    def repeated(self, times: int) -> BoundMetric:
        """The same metric for ``times`` copies of the batch stacked along the first dimension.

        For strategies that evaluate several points at once (a path, samples): with a batch of
        N, ``metric.repeated(k)`` scores batches of ``k * N`` laid out as ``torch.cat([x] * k)``,
        each copy with the same mask of compared pixels.
        """
        valid = self.valid.repeat(times, 1, 1, 1) if self.valid is not None else None
        return BoundMetric(self.stage, self.higher_is_better, self.preprocessors, valid, self.name)


def _same_data(x: torch.Tensor, ref: torch.Tensor, version: int) -> bool:
    """Whether ``x`` shows ``ref``'s memory, unmodified since ``ref`` was at ``version``."""
    return (x.data_ptr() == ref.data_ptr() and x.shape == ref.shape and x.stride() == ref.stride()
            and x.dtype == ref.dtype and x.device == ref.device and x._version == version)


def _check_metric_value(value: Any, n: int, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise StageError(f"metric {name!r} returned {type(value).__name__}, expected a tensor of shape [{n}]")
    if value.ndim == 0 and n == 1:
        value = value.reshape(1)
    if tuple(value.shape) != (n,):
        raise StageError(f"metric {name!r} returned shape {list(value.shape)}, expected [{n}] (one value per sample)")
    return value


@dataclass
class Computation:
    """Tensors of one batch, still on the device: scores ``[N]`` and the stage output."""

    score: torch.Tensor
    output: StageOutput
    a: torch.Tensor
    b: torch.Tensor


@dataclass
class PairFailure:
    """A pair of a folder run that could not be compared, and why."""

    name: str
    a: Path
    b: Path
    error: str
    ok: bool = False


@dataclass
class DiffResult:
    """The difference of one pair.

    Attributes:
        map: HxW float32 array, larger = more different, on A's pixel grid.
        score: the metric's value (see ``config["metric"]`` and ``higher_is_better``).
        config: the pipeline: every stage with its plugin, version, parameters and conventions.
        name: the pair's name (B's file stem, or the relative path in a folder run).
        mask: HxW bool array of detected change when a postprocessor made one.
        regions: the regions found, strongest first.
        info: facts stages reported for this pair (e.g. an estimated transform).
        inputs: how A and B were read (source, size, mode, bit depth, alpha handling).
        valid: HxW bool array of the pixels that were compared, when not all were.
        evaluation: the map and mask scored against a ground-truth mask, when one was given
            (``run(..., truth=...)``; see :mod:`dfcore.evaluation`).
        previews: A and B as compared (after pairwise preprocessing such as alignment, on
            the map's grid) as 8-bit HxW or HxWx3 arrays, for reports and figures; ``None``
            when the result was not made by :meth:`Finder.run`.
        seconds: time spent reading and computing this pair, when a folder run measured it.
    """

    map: np.ndarray
    score: float
    config: dict[str, Any]
    name: str | None = None
    mask: np.ndarray | None = None
    regions: list[Region] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    valid: np.ndarray | None = None
    evaluation: Evaluation | None = None
    previews: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    seconds: float | None = None
    ok: bool = True

    @property
    def higher_is_better(self) -> bool:
        return bool(self.config["metric"]["higher_is_better"])

    def __repr__(self) -> str:
        h, w = self.map.shape
        return f"DiffResult(name={self.name!r}, score={self.score:.6g}, map={h}x{w}, regions={len(self.regions)})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary written by :meth:`save` (without the ``files`` entry)."""
        finite = self.map[np.isfinite(self.map)]
        data: dict[str, Any] = {
            "dfind": __version__,
            "name": self.name,
            "score": self.score,
            "metric": self.config["metric"]["name"],
            "higher_is_better": self.higher_is_better,
            "map": {
                "height": int(self.map.shape[0]),
                "width": int(self.map.shape[1]),
                "min": float(finite.min()) if finite.size else 0.0,
                "max": float(finite.max()) if finite.size else 0.0,
                "mean": float(finite.mean()) if finite.size else 0.0,
            },
            "regions": [r.to_dict() for r in self.regions],
            "info": self.info,
            "inputs": self.inputs,
            "config": self.config,
        }
        if self.mask is not None:
            data["mask_fraction"] = float(self.mask.mean())
        if self.valid is not None:
            data["valid_fraction"] = float(self.valid.mean())
        if self.evaluation is not None:
            data["evaluation"] = self.evaluation.to_dict()
        if self.seconds is not None:
            data["seconds"] = round(self.seconds, 6)
        return jsonable(data)

    def save(self, directory: str | os.PathLike[str], name: str | None = None, *,
             colormap: str | None = None, vmax: float | None = None, previews: bool = False) -> dict[str, Path]:
        """Write ``NAME.heatmap.png``, ``NAME.map.npy``, ``NAME.mask.png`` (if any) and ``NAME.json``.

        The JSON is written last, so its presence means the pair's outputs are complete.
        ``colormap`` defaults to ``inferno`` (``RdBu_r`` centred on zero for signed maps);
        ``vmax`` defaults to the map's largest absolute value; the JSON's ``display`` records
        the scale (see :meth:`display`, and :mod:`dfcore.scale` for one scale shared by a
        set of pairs). Pixels that were not compared
        (``valid`` False, e.g. outside the overlap after alignment) are drawn as a grey hatch
        and written to ``NAME.valid.png`` (white = compared). ``previews=True`` also writes
        ``NAME.a.png`` and ``NAME.b.png``, the 8-bit :attr:`previews` an HTML report shows.
        Returns the written paths.
        """
        stem = output_stem(name or self.name or "dfind")
        directory = Path(directory)
        files: dict[str, Path] = {}
        display = self.display(colormap, vmax)
        picture = apply_colormap(self.map, display["colormap"], display["vmin"], display["vmax"])
        if self.valid is not None:
            picture = hatch_invalid(picture, self.valid)
        files["heatmap"] = write_png(directory / f"{stem}.heatmap.png", picture)
        files["map"] = write_npy(directory / f"{stem}.map.npy", self.map)
        if self.mask is not None:
            files["mask"] = write_png(directory / f"{stem}.mask.png", self.mask.astype(np.uint8) * 255)
        if previews and self.previews is not None:
            files["a"] = write_png(directory / f"{stem}.a.png", self.previews[0])
            files["b"] = write_png(directory / f"{stem}.b.png", self.previews[1])
        if self.valid is not None:
            files["valid"] = write_png(directory / f"{stem}.valid.png", self.valid.astype(np.uint8) * 255)
        data = self.to_dict()
        data["display"] = display
        data["files"] = {key: path.name for key, path in files.items()}
        files["json"] = directory / f"{stem}.json"
        write_json(files["json"], data)
        return files

    def display(self, colormap: str | None = None, vmax: float | None = None) -> dict[str, Any]:
        """The heatmap's colour scale: ``colormap``, ``vmin``, ``vmax`` and how it was chosen (``scale``).

        ``vmax=None`` scales this map on its own (``"scale": "image"``: 0 to its largest
        absolute value, or symmetric about 0 for signed maps); a number fixes it (``"fixed"``).
        A folder run with ``--scale shared`` rewrites it afterwards (:mod:`dfcore.scale`).
        """
        vmin, top = color_scale(self.map, vmax)
        return {"colormap": colormap or default_colormap(vmin), "vmin": vmin, "vmax": top,
                "scale": "image" if vmax is None else "fixed"}

    def to_html(self, path: str | os.PathLike[str] | None = None, *, max_side: int | None = 2048) -> str:
        """This result as one self-contained HTML page (images embedded), as ``dfind --report`` shows it.

        A and B side by side, the map with its colour scale, the map over A with an opacity
        slider, A/B flicker and swipe, the regions, the scores and the pipeline, with
        synchronized zoom and pan. Images are reduced to ``max_side`` pixels (the map by its
        largest values, so small changes stay visible); ``None`` keeps full size. Written
        to ``path`` when given. See ``docs/report.md``.
        """
        from dfcore.report import result_html

        html = result_html(self, max_side=max_side)
        if path is not None:
            atomic_write(path, lambda f: f.write(html), mode="w")
        return html

    def _repr_html_(self) -> str:
        from dfcore.report import notebook_html

        return notebook_html(self)

    def figure(self, path: str | os.PathLike[str] | None = None, **options: Any) -> Any:
        """A publication panel, A | B | map with colour bar | overlay, as a matplotlib Figure.

        Saved to ``path`` when given (PNG, PDF, SVG... by extension). ``options`` are those of
        :func:`dfcore.report.figure.make_figure` (``dpi``, ``width``, ``colormap``, ``titles``...).
        """
        from dfcore.report.figure import make_figure

        return make_figure(self, path, **options)


def output_stem(name: str) -> str:
    """``"scene/001.png"`` -> ``"scene/001"``: the stem under which a pair's files are written."""
    lowered = name.lower()
    for ext in IMAGE_EXTENSIONS:
        if lowered.endswith(ext):
            return name[: -len(ext)]
    return name


class Finder:
    """A difference-map pipeline: preprocessors, a metric, a strategy, postprocessors.

    Args:
        preprocessor: a stage reference or a list of them (a chain); ``None``: the preset's.
        metric: a stage reference; ``None``: the preset's.
        strategy: a stage reference; ``None``: the preset's.
        postprocessor: a stage reference or a chain; ``None``: the preset's when the strategy is
            the preset's too, none when a strategy is given (a preset's postprocessing is tuned
            to its own strategy's map).
        preset: the named pipeline that fills the stages not given (``"default"``).
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
        registry: the stage registry; the process-wide one by default.
        y_channel: compare BT.601 luma (studio range, as MATLAB's ``rgb2ycbcr``) instead of RGB.
        crop_border: pixels removed from every side of both images before comparing.
        size_policy: pairs of different sizes: ``"error"``, ``"crop"``, ``"pad"`` or ``"resize"``.

    Stages are built once, here; :meth:`run` reuses them for every pair. The last three are
    input conventions (:mod:`dfcore.conventions`), recorded in :attr:`config`.
    """

    def __init__(self, preprocessor: Any = None, metric: Any = None, strategy: Any = None,
                 postprocessor: Any = None, *, preset: str | None = None, device: str | torch.device = "auto",
                 registry: Registry | None = None, y_channel: bool = False, crop_border: int = 0,
                 size_policy: str = "error") -> None:
        self.conventions = Conventions(y_channel, crop_border, size_policy)
        self.registry = registry or get_registry()
        self.device = resolve_device(device)
        given = {"preprocessor": preprocessor, "metric": metric, "strategy": strategy, "postprocessor": postprocessor}
        self.preset = preset or DEFAULT_PRESET
        refs = dict(given)
        if preset is not None or any(v is None for v in given.values()):
            spec = self.registry.find_preset(self.preset)
            for kind, value in given.items():
                if value is None and not (kind == "postprocessor" and strategy is not None):
                    refs[kind] = spec.stages.get(kind)
        for kind in ("metric", "strategy"):
            if refs[kind] is None:
                raise ParameterError(f"no {kind} given and preset {self.preset!r} defines none")
        build = lambda kind, ref: build_stage(self.registry, kind, ref, self.device)  # noqa: E731
        self.preprocessors = [build("preprocessor", r) for r in _as_chain(refs["preprocessor"])]
        self.metric = build("metric", refs["metric"])
        self.strategy = build("strategy", refs["strategy"])
        self.postprocessors = [build("postprocessor", r) for r in _as_chain(refs["postprocessor"])]

    @property
    def higher_is_better(self) -> bool:
        return bool(self.metric.higher_is_better)

    @property
    def takes_any_size(self) -> bool:
        """Whether B may differ from A in size: a size policy other than ``error``, or the first
        pairwise preprocessor says ``any_size = True``."""
        if self.conventions.size_policy != "error":
            return True
        for stage in self.preprocessors:
            if getattr(stage.obj, "pairwise", False):
                return bool(getattr(stage.obj, "any_size", False))
        return False

    @property
    def config(self) -> dict[str, Any]:
        """The pipeline as recorded in every result and JSON file."""
        metric = self.metric.describe()
        metric["higher_is_better"] = self.higher_is_better
        return {
            "dfind": __version__,
            "torch": torch.__version__,
            "device": str(self.device),
            "preset": self.preset,
            "preprocessor": [s.describe() for s in self.preprocessors],
            "metric": metric,
            "strategy": self.strategy.describe(),
            "postprocessor": [s.describe() for s in self.postprocessors],
            "input_convention": "float NxCxHxW in [0, 1]; alpha composited over white; grey repeated to match colour",
            "conventions": self.conventions.to_dict(),
        }

    def __repr__(self) -> str:
        pre = "+".join(s.record["name"] for s in self.preprocessors) or "-"
        post = "+".join(s.record["name"] for s in self.postprocessors) or "-"
        return (f"Finder(preprocessor={pre}, metric={self.metric.record['name']}, "
                f"strategy={self.strategy.record['name']}, postprocessor={post}, device={self.device})")

    # -- tensors in, tensors out ----------------------------------------------------------

    def compute(self, a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None = None, *,
                postprocess: bool = True) -> Computation:
        """Run the pipeline on two NxCxHxW batches already on the device; nothing leaves it.

        ``valid`` (Nx1xHxW bool, on A's grid) marks the pixels that count: an ignore mask.
        The input conventions are applied first. ``postprocess=False`` stops after the
        strategy (see :meth:`postprocess`).
        """
        prepared = self.conventions.prepare(a, b, valid)
        a, b, valid = prepared.a, prepared.b, prepared.valid
        last_pairwise = max((i for i, s in enumerate(self.preprocessors) if getattr(s.obj, "pairwise", False)),
                            default=-1)
        infos: list[dict[str, Any]] = [{} for _ in range(a.shape[0])]
        _merge_info(infos, prepared.info, "conventions")
        with torch.no_grad():
            for stage in self.preprocessors[: last_pairwise + 1]:
                if getattr(stage.obj, "pairwise", False):
                    paired = stage.obj.pair(a, b)
                    if not isinstance(paired, PairOutput):
                        raise StageError(f"pairwise preprocessor {stage.record['name']!r} must return a PairOutput")
                    a, b = paired.a, paired.b
                    if a.shape != b.shape:
                        raise StageError(f"pairwise preprocessor {stage.record['name']!r} returned shapes "
                                         f"{list(a.shape)} and {list(b.shape)}; both must lie on a's grid")
                    valid = _and_masks(valid, paired.valid)
                    _merge_info(infos, paired.info, stage.record["name"])
                else:
                    a, b = stage.obj(a), stage.obj(b)
        if a.shape[-2:] != b.shape[-2:]:
            raise ShapeError(f"image sizes differ: {a.shape[-1]}x{a.shape[-2]} and {b.shape[-1]}x{b.shape[-2]} "
                             "(width x height), and no pairwise preprocessor with any_size resamples B onto A's grid; "
                             "choose a size policy (crop, pad, resize) or align them (-p align)")
        check_any_valid(valid)
        seen_a, seen_b = a, b
        if valid is not None:
            a, b = neutral_fill(a, b, valid)
        bound = BoundMetric(self.metric.obj, self.higher_is_better,
                            [s.obj for s in self.preprocessors[last_pairwise + 1:]], valid, self.metric.record["name"],
                            pair=(a, b))
        output = self._as_output(self.strategy, self.strategy.obj(Problem(a, b, bound, valid)), a)
        score = bound.pair_value  # the strategy evaluated the metric on the pair itself (gradient does)
        if score is None:
            with torch.no_grad():
                score = bound(a, b).detach()
        if valid is not None:
            output.map = output.map * valid
        _merge_info(infos, output.info, self.strategy.record["name"])
        output = output.replace(map=prepared.uncrop_map(output.map), valid=prepared.uncrop_valid(valid), info=infos,
                                mask=prepared.uncrop_map(output.mask) if output.mask is not None else None,
                                regions=prepared.uncrop_regions(output.regions))
        if postprocess:
            output = self.postprocess(output)
        return Computation(score, output, prepared.uncrop_image(seen_a, prepared.full_a),
                           prepared.uncrop_image(seen_b, prepared.full_b))

    def postprocess(self, output: StageOutput) -> StageOutput:
        """Run the postprocessor chain on a strategy's output (from ``compute(..., postprocess=False)``).

        ``output.info`` (one dict per sample, or ``None``) gathers each stage's facts under its
        name; masks never cover pixels that were not compared (``output.valid``).
        """
        valid = output.valid
        infos = output.info or [{} for _ in range(output.map.shape[0])]
        for stage in self.postprocessors:
            output = self._as_output(stage, stage.obj(output.replace(info=None)), output.map, previous=output)
            output.valid = valid
            _merge_info(infos, output.info, stage.record["name"])
        if valid is not None and output.mask is not None:
            output.mask = output.mask & valid
        output.info = infos
        return output

    @staticmethod
    def _as_output(stage: BuiltStage, value: Any, grid: torch.Tensor, previous: StageOutput | None = None
                   ) -> StageOutput:
        """Check a stage's return value: a map of shape Nx1xHxW on ``grid``'s (an NxCxHxW tensor's) grid."""
        name = stage.record["name"]
        if isinstance(value, torch.Tensor):
            output = previous.replace(map=value, info=None) if previous is not None else StageOutput(map=value)
        elif isinstance(value, StageOutput):
            output = value
        else:
            raise StageError(f"{stage.kind} {name!r} returned {type(value).__name__}, expected a tensor or StageOutput")
        expected = (grid.shape[0], 1, grid.shape[2], grid.shape[3])
        if tuple(output.map.shape) != expected:
            raise StageError(
                f"{stage.kind} {name!r} returned a map of shape {list(output.map.shape)}, expected {list(expected)} "
                "(Nx1xHxW on the input grid)"
            )
        # One aminmax pass (NaN propagates) instead of a full-size isfinite mask.
        if output.map.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(output.map))).all()):
            raise StageError(f"{stage.kind} {name!r} produced NaN or infinite values")
        return output

    # -- the Python API ---------------------------------------------------------------------

    def run(self, a: Any, b: Any, *, name: str | None = None, on_error: str = "raise",
            truth: Any = None, ignore: Any = None) -> DiffResult | list[DiffResult] | DirRun:
        """Compare two images, a batch, or two folders.

        ``a`` and ``b`` are paths, PIL images, numpy arrays (HxW, HxWxC) or torch tensors
        (HxW, CxHxW, NxCxHxW); see :mod:`dfcore.images` for the layout rule. One pair gives
        a :class:`DiffResult`; a batch of N > 1 gives a list; two folders give a
        :class:`DirRun` that yields one result per pair matched by relative path.

        ``truth`` is a ground-truth mask of where A and B differ (non-zero = changed): a
        file, PIL image, numpy array (HxW, HxWxC), tensor (HxW, CxHxW, or NxCxHxW for a
        batch) or a list of them, one per sample; for folders, a folder of masks paired by
        relative path. Each result then carries an :class:`~dfcore.evaluation.Evaluation`.
        The mask is read and checked against A's size before anything is computed.

        ``ignore``: pixels that must not count, on A's grid, for every pair: a mask (file,
        array, PIL image or tensor; non-zero = ignore), rectangles ``"x0:y0-x1:y1,..."`` or
        ``(x0, y0, x1, y1)`` tuples, or a list of these (see :mod:`dfcore.ignore`).
        """
        if _is_dir(a) or _is_dir(b):
            if not (_is_dir(a) and _is_dir(b)):
                raise InputError(f"{a if _is_dir(a) else b} is a folder but the other input is not")
            return self.run_dirs(a, b, on_error=on_error, truth=truth, ignore=ignore)
        ta, tb, inputs = self.load_pair(a, b)
        truths = truth_masks(truth, ta.shape[0], ta.shape[-2:]) if truth is not None else None
        if name is None and isinstance(b, (str, os.PathLike)):
            name = Path(b).name
        computed = self.compute(ta, tb, self.ignored(ignore, ta, inputs))
        results = self.results(computed, names=[name] * ta.shape[0] if ta.shape[0] == 1 else None, inputs=inputs)
        if truths is not None:
            source = os.fspath(truth) if isinstance(truth, (str, os.PathLike)) else None
            evaluate_results(results, truths, source)
        return results[0] if len(results) == 1 else results

    def load_pair(self, a: Any, b: Any, device: str | torch.device | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Read two inputs onto the device (or ``device``) and match their channels and batch sizes.

        Returns the two NxCxHxW batches and how each was read (``{"a": ..., "b": ...}``).
        Sizes must agree unless :attr:`takes_any_size`.
        """
        device = self.device if device is None else device
        name_a = os.fspath(a) if isinstance(a, (str, os.PathLike)) else "a"
        name_b = os.fspath(b) if isinstance(b, (str, os.PathLike)) else "b"
        ta, info_a = as_batch(a, device, name_a)
        tb, info_b = as_batch(b, device, name_b)
        ta, tb = match_pair(ta, tb, (name_a, name_b), same_size=not self.takes_any_size)
        return ta, tb, {"a": info_a.to_dict(), "b": info_b.to_dict()}

    def ignored(self, ignore: Any, a: torch.Tensor, inputs: dict[str, Any] | None = None,
                device: str | torch.device | None = None) -> torch.Tensor | None:
        """The Nx1xHxW mask of pixels to compare (``valid``) that an ignore spec leaves on ``a``'s grid.

        ``None`` when nothing is ignored. With ``inputs``, records the spec and the ignored
        fraction there (``inputs["ignore"]``), for the result and its JSON. The mask is made on
        the pipeline's device unless ``device`` says otherwise.
        """
        if ignore is None:
            return None
        mask = ignore_mask(ignore, int(a.shape[-2]), int(a.shape[-1]))
        if inputs is not None:
            inputs["ignore"] = {"given": describe(ignore), "fraction": float(mask.mean())}
        valid = torch.from_numpy(~mask).to(self.device if device is None else device)
        return valid.view(1, 1, *valid.shape).expand(a.shape[0], 1, -1, -1)

    def run_dirs(self, dir_a: str | os.PathLike[str] | None = None, dir_b: str | os.PathLike[str] | None = None, *,
                 pairs: str | os.PathLike[str] | None = None, on_error: str = "raise", recursive: bool = True,
                 truth: str | os.PathLike[str] | None = None, ignore: Any = None,
                 batch_size: int | None = None, workers: int | None = None) -> DirRun:
        """Pair two folders by relative path (or read a ``pairs`` CSV file) for a folder run.

        The :class:`~dfcore.batch.DirRun` yields one result per pair when iterated, and
        ``.save(output)`` writes every pair's files plus ``summary.csv``/``summary.json``,
        resuming an earlier run. Same-size pairs are computed ``batch_size`` at a time while
        ``workers`` threads decode the next ones (see :mod:`dfcore.batch`).

        ``truth``: a folder of ground-truth masks, found by the pair's relative path (any
        image extension); a pair without one fails. ``ignore`` applies to every pair.
        """
        from dfcore.batch import DEFAULT_BATCH_SIZE, DirRun, make_pairing

        if on_error not in ("raise", "record"):
            raise ValueError("on_error must be 'raise' or 'record'")
        if truth is not None and not _is_dir(truth):
            raise InputError(f"{truth}: with two folders, the truth must be a folder of masks")
        pairing = make_pairing(dir_a, dir_b, pairs, recursive)
        return DirRun(self, pairing, on_error, truth=truth, ignore=ignore,
                      batch_size=batch_size or DEFAULT_BATCH_SIZE, workers=workers)

    def compare(self, truth: Any, a: Any, b: Any, *, name: str | None = None, on_error: str = "raise",
                ignore: Any = None) -> Any:
        """Which of two reconstructions is closer to the truth, and where.

        Returns a :class:`~dfcore.compare.CompareResult` (a batch: a list of them; three
        folders paired by relative path: a :class:`~dfcore.compare.CompareRun`). The map is
        A's error map minus B's, both made by this pipeline against ``truth``: negative (blue)
        where A is closer, positive (red) where B is. See :mod:`dfcore.compare`.
        """
        from dfcore.compare import compare

        return compare(self, truth, a, b, name=name, on_error=on_error, ignore=ignore)

    def results(self, computed: Computation, names: Sequence[str | None] | None = None,
                inputs: Mapping[str, Any] | None = None) -> list[DiffResult]:
        """Split a :class:`Computation` into one host-side :class:`DiffResult` per sample."""
        out = computed.output
        n = out.map.shape[0]
        maps = out.map[:, 0].detach().float().cpu().numpy()
        masks = out.mask[:, 0].detach().cpu().numpy().astype(bool) if out.mask is not None else None
        valid = out.valid[:, 0].detach().cpu().numpy().astype(bool) if out.valid is not None else None
        previews_a, previews_b = _previews(computed.a), _previews(computed.b)
        scores = computed.score.detach().double().cpu().tolist()
        config = self.config
        results = []
        for i in range(n):
            results.append(DiffResult(
                map=np.ascontiguousarray(maps[i], dtype=np.float32),
                score=float(scores[i]),
                config=config,
                name=(names[i] if names else None) or (f"{i}" if n > 1 else None),
                mask=masks[i] if masks is not None else None,
                regions=list(out.regions[i]) if out.regions is not None else [],
                info=out.info[i] if out.info else {},
                inputs=dict(inputs or {}),
                valid=valid[i] if valid is not None and not valid[i].all() else None,
                previews=(previews_a[i], previews_b[i]),
            ))
        return results


def evaluate_results(results: Sequence[DiffResult], truths: Sequence[np.ndarray], source: str | None = None) -> None:
    """Score each result's map and mask against its truth mask (``result.evaluation``)."""
    for result, mask in zip(results, truths):
        mask = fit_top_left(mask, *result.map.shape)  # a size policy may have cropped or padded A
        result.evaluation = evaluate(result.map, mask, result.mask, result.valid, name=source)


def truth_masks(truth: Any, n: int, size: Sequence[int]) -> list[np.ndarray]:
    """``n`` HxW bool truth masks from what :meth:`Finder.run` accepts, checked against ``size``."""
    if isinstance(truth, (list, tuple)):
        if len(truth) != n:
            raise ShapeError(f"{len(truth)} truth masks given for a batch of {n} pairs")
        masks = [mask for item in truth for mask in truth_masks(item, 1, size)]
    elif isinstance(truth, (str, os.PathLike)):
        masks = [read_mask(truth)]
    elif isinstance(truth, torch.Tensor):
        if truth.is_floating_point() and not bool(torch.isfinite(truth).all()):
            raise InputError("truth: the truth mask holds NaN or infinite values")
        batch, _ = as_batch(truth.detach() != 0, "cpu", "truth")  # the tensor layout rule of images
        masks = [sample.any(0).numpy() for sample in batch != 0]
    else:
        masks = [as_mask(truth)]
    if len(masks) == 1 and n > 1:
        masks = masks * n
    if len(masks) != n:
        raise ShapeError(f"{len(masks)} truth masks given for a batch of {n} pairs")
    name = os.fspath(truth) if isinstance(truth, (str, os.PathLike)) else "truth"
    for mask in masks:
        check_size(mask, int(size[0]), int(size[1]), name)
    return masks


def truth_file(folder: Path, rel: str) -> Path:
    """The mask for the pair ``rel`` in a truth folder: same relative path, any image extension."""
    exact = folder / rel
    if exact.is_file():
        return exact
    stem = Path(output_stem(rel))
    candidates = [folder / stem.with_name(stem.name + ext) for ext in IMAGE_EXTENSIONS]
    found = [path for path in candidates if path.is_file()]
    if len(found) != 1:
        reason = "none" if not found else f"{len(found)} candidates"
        raise InputError(f"{rel}: no single truth mask in {folder} ({reason} for {stem.as_posix()}.*)")
    return found[0]


def _previews(batch: torch.Tensor) -> np.ndarray:
    """8-bit pictures of an NxCxHxW batch in [0, 1]: NxHxW (grey) or NxHxWx3, on the host.

    Four channels show the first three; two or more than four show their mean.
    """
    channels = batch.shape[1]
    if channels == 4:
        batch = batch[:, :3]
    elif channels not in (1, 3):
        batch = batch.mean(dim=1, keepdim=True)
    pictures = batch.detach().mul(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return pictures[..., 0] if pictures.shape[-1] == 1 else pictures


def _is_dir(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike)) and Path(x).is_dir()


def _and_masks(first: torch.Tensor | None, second: torch.Tensor | None) -> torch.Tensor | None:
    if first is None:
        return second
    if second is None:
        return first
    return first & second


def _merge_info(infos: list[dict[str, Any]], new: list[dict[str, Any]] | None, stage: str) -> None:
    if not new:
        return
    if len(new) != len(infos):
        raise StageError(f"stage {stage!r} reported info for {len(new)} samples, expected {len(infos)}")
    for target, item in zip(infos, new):
        if item:
            target[stage] = item


def __getattr__(name: str) -> Any:
    if name == "DirRun":  # lives with the folder engine, which imports this module
        from dfcore.batch import DirRun

        return DirRun
    raise AttributeError(f"module 'dfcore.pipeline' has no attribute {name!r}")


__all__ = ["BoundMetric", "Computation", "DiffResult", "DirRun", "Finder", "PairFailure", "resolve_device"]
