"""The pipeline: stages built once, then pairs run through them on the device.

>>> from dfcore.pipeline import Pipeline                        # doctest: +SKIP
>>> result = Pipeline(metric="ssim", strategy="gradient").run("a.png", "b.png")  # doctest: +SKIP
>>> result.map.shape, result.score                             # doctest: +SKIP

Stages that are not given come from the preset (``preset="default"`` unless another is
named), except that a preset's postprocessors belong to its strategy: naming a strategy
without postprocessors leaves the map as that strategy makes it. How a stage is referred to:
:mod:`dfcore.pipeline.stages`. What a run returns: :mod:`dfcore.pipeline.result`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfcore.contracts import PairOutput, Problem, StageOutput
from dfcore.errors import ShapeError, StageError
from dfcore.io.images import as_batch, match_pair
from dfcore.io.masks import describe, ignore_mask
from dfcore.pipeline.compare import CompareResult, as_comparisons, error_difference, label_all
from dfcore.pipeline.conventions import Conventions, and_masks, check_any_valid, neutral_fill
from dfcore.pipeline.device import resolve_device
from dfcore.pipeline.result import Computation, DiffResult
from dfcore.pipeline.result import previews as pictures_of
from dfcore.pipeline.stages import BoundMetric, BuiltStage, build_stage
from dfcore.pipeline.truth import evaluate_results, truth_masks
from dfcore.plugin.registry import Registry, get_registry
from dfcore.plugin.spec import as_chain
from dfcore.version import __version__


class Pipeline:
    """A difference-map pipeline: preprocessors, a metric, a strategy, postprocessors.

    Stages are built once, here, from the pipeline's registry; :meth:`run` and
    :meth:`compute` reuse them for every pair. :class:`dfcore.Finder`, the Python API, is a
    Pipeline that also takes folders; a folder run's workers hold a plain Pipeline.

    Args:
        preprocessor: a stage reference or a list of them (a chain); ``None``: the preset's.
        metric: a stage reference; ``None``: the preset's.
        strategy: a stage reference; ``None``: the preset's.
        postprocessor: a stage reference or a chain; ``None``: the preset's when the strategy is
            the preset's too, none when a strategy is given (a preset's postprocessing is tuned
            to its own strategy's map).
        preset: the named pipeline that fills the stages not given (``"default"``).
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
        registry: the stage registry; the process-wide default (:func:`dfcore.get_registry`) if not given.
        y_channel: compare BT.601 luma (studio range, as MATLAB's ``rgb2ycbcr``) instead of RGB.
        crop_border: pixels removed from every side of both images before comparing.
        size_policy: pairs of different sizes: ``"error"``, ``"crop"``, ``"pad"`` or ``"resize"``.

    The last three are input conventions (:mod:`dfcore.pipeline.conventions`), recorded in
    :attr:`config`.
    """

    def __init__(self, preprocessor: Any = None, metric: Any = None, strategy: Any = None,
                 postprocessor: Any = None, *, preset: str | None = None, device: str | torch.device = "auto",
                 registry: Registry | None = None, y_channel: bool = False, crop_border: int = 0,
                 size_policy: str = "error") -> None:
        self.conventions = Conventions(y_channel, crop_border, size_policy)
        self.registry = registry or get_registry()
        self.device = resolve_device(device)
        given = {"preprocessor": preprocessor, "metric": metric, "strategy": strategy, "postprocessor": postprocessor}
        self.preset = self.registry.preset_for(given, preset)
        refs = self.registry.pipeline_refs(given, preset)
        build = lambda kind, ref: build_stage(self.registry, kind, ref, self.device)
        self.preprocessors = [build("preprocessor", r) for r in as_chain(refs["preprocessor"])]
        self.metric = build("metric", refs["metric"])
        self.strategy = build("strategy", refs["strategy"])
        self.postprocessors = [build("postprocessor", r) for r in as_chain(refs["postprocessor"])]
        self._check_capabilities()

    def _check_capabilities(self) -> None:
        """Refuse now what would fail on the first pair: a strategy needing feature layers the metric lacks."""
        strategy, metric = self.strategy, self.metric
        if getattr(strategy.obj, "needs_layers", False) and not callable(getattr(metric.obj, "feature_layers", None)):
            having = sorted({s.name for s in self.registry.stages("metric") if s.spec.layers})
            hint = f"metrics with layers: {', '.join(having)}" if having else "no registered metric declares layers"
            raise StageError(f"{strategy.record['name']} needs a metric with feature layers; "
                             f"{metric.record['name']!r} has none ({hint})")

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

    @property
    def param_defaults(self) -> dict[str, dict[str, Any]]:
        """Per plugin stage of the pipeline (by qualified name), its parameters' values when none
        is given: what a run's signature leaves out (:func:`dfcore.runs.plan.pipeline_signature`)."""
        stages = [*self.preprocessors, self.metric, self.strategy, *self.postprocessors]
        return {stage.record["qualified_name"]: stage.defaults for stage in stages if stage.record.get("qualified_name")}

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
        merge_info(infos, prepared.info, "conventions")
        with torch.no_grad():
            for stage in self.preprocessors[: last_pairwise + 1]:
                if getattr(stage.obj, "pairwise", False):
                    with stage.failures():
                        paired = stage.obj.pair(a, b)
                    if not isinstance(paired, PairOutput):
                        raise StageError(f"pairwise preprocessor {stage.record['name']!r} must return a PairOutput")
                    a, b = paired.a, paired.b
                    if a.shape != b.shape:
                        raise StageError(f"pairwise preprocessor {stage.record['name']!r} returned shapes "
                                         f"{list(a.shape)} and {list(b.shape)}; both must lie on a's grid")
                    valid = and_masks(valid, paired.valid)
                    merge_info(infos, paired.info, stage.record["name"])
                else:
                    with stage.failures():
                        a, b = stage.obj(a), stage.obj(b)
        if a.shape[-2:] != b.shape[-2:]:
            raise ShapeError(f"image sizes differ: {a.shape[-1]}x{a.shape[-2]} and {b.shape[-1]}x{b.shape[-2]} "
                             "(width x height), and no pairwise preprocessor with any_size resamples B onto A's grid; "
                             "choose a size policy (crop, pad, resize) or align them (-p align)")
        check_any_valid(valid)
        seen_a, seen_b = a, b
        if valid is not None:
            a, b = neutral_fill(a, b, valid)
        differentiated = self.preprocessors[last_pairwise + 1:]
        bound = BoundMetric(self.metric.obj, self.higher_is_better, [s.obj for s in differentiated], valid,
                            self.metric.record["name"], pair=(a, b),
                            records=(self.metric.record, [s.record for s in differentiated]))
        with self.strategy.failures():
            made = self.strategy.obj(Problem(a, b, bound, valid))
        output = self._as_output(self.strategy, made, a)
        if output.unit is None:
            output.unit = getattr(self.strategy.obj, "unit", None)
        score = bound.pair_value  # the strategy evaluated the metric on the pair itself (gradient does)
        if score is None:
            with torch.no_grad():
                score = bound(a, b).detach()
        if valid is not None:
            output.map = output.map * valid
        merge_info(infos, output.info, self.strategy.record["name"])
        output = output.replace(map=prepared.uncrop_map(output.map), valid=prepared.uncrop_valid(valid), info=infos,
                                mask=prepared.uncrop_map(output.mask) if output.mask is not None else None,
                                support=prepared.uncrop_map(output.support) if output.support is not None else None,
                                regions=prepared.uncrop_regions(output.regions))
        seen_a, seen_b = prepared.uncrop_image(seen_a, prepared.full_a), prepared.uncrop_image(seen_b, prepared.full_b)
        if postprocess:
            output = self.postprocess(output.replace(images=(seen_a, seen_b)))
        return Computation(score, output, seen_a, seen_b)

    def postprocess(self, output: StageOutput) -> StageOutput:
        """Run the postprocessor chain on a strategy's output (from ``compute(..., postprocess=False)``).

        ``output.info`` (one dict per sample, or ``None``) gathers each stage's facts under its
        name; masks never cover pixels that were not compared (``output.valid``). Each stage
        sees the pair the map was made from (``output.images``, when the caller gave it); the
        output returned holds none.
        """
        valid, images = output.valid, output.images
        infos = output.info or [{} for _ in range(output.map.shape[0])]
        for stage in self.postprocessors:
            with stage.failures():
                made = stage.obj(output.replace(info=None))
            output = self._as_output(stage, made, output.map, previous=output)
            output.valid, output.images = valid, images
            merge_info(infos, output.info, stage.record["name"])
        if valid is not None and output.mask is not None:
            output.mask = output.mask & valid
        output.info, output.images = infos, None
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
            if output.unit is None and previous is not None:
                output.unit = previous.unit
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

    def run(self, a: Any, b: Any, *, name: str | None = None, truth: Any = None,
            ignore: Any = None) -> DiffResult | list[DiffResult]:
        """Compare two images, or two batches of them.

        ``a`` and ``b`` are paths, PIL images, numpy arrays (HxW, HxWxC) or torch tensors
        (HxW, CxHxW, NxCxHxW); see :mod:`dfcore.io.images` for the layout rule. One pair gives
        a :class:`DiffResult`; a batch of N > 1 gives a list.

        ``truth`` is a ground-truth mask of where A and B differ (non-zero = changed): a
        file, PIL image, numpy array (HxW, HxWxC), tensor (HxW, CxHxW, or NxCxHxW for a
        batch) or a list of them, one per sample. Each result then carries an
        :class:`~dfcore.pipeline.evaluation.Evaluation`. The mask is read and checked against
        A's size before anything is computed.

        ``ignore``: pixels that must not count, on A's grid, for every pair: a mask (file,
        array, PIL image or tensor; non-zero = ignore), rectangles ``"x0:y0-x1:y1,..."`` or
        ``(x0, y0, x1, y1)`` tuples, or a list of these (see :mod:`dfcore.io.masks`).
        """
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

    def compare(self, truth: Any, a: Any, b: Any, *, name: str | None = None,
                ignore: Any = None) -> CompareResult | list[CompareResult]:
        """Which of two reconstructions is closer to the truth, and where.

        Returns a :class:`~dfcore.pipeline.compare.CompareResult` (a batch: a list of them).
        The map is A's error map minus B's, both made by this pipeline against ``truth``:
        negative (blue) where A is closer, positive (red) where B is. See
        :mod:`dfcore.pipeline.compare`.
        """
        tt, ta, tb, inputs = self.load_triple(truth, a, b)
        valid = self.ignored(ignore, tt, inputs)
        if name is None and isinstance(truth, (str, os.PathLike)):
            name = Path(truth).name
        results = self.compare_tensors(tt, ta, tb, valid, names=[name] * tt.shape[0] if tt.shape[0] == 1 else None,
                                       inputs=inputs)
        return results[0] if len(results) == 1 else results

    def load_triple(self, truth: Any, a: Any, b: Any, device: str | torch.device | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Read a truth and two reconstructions as :meth:`load_pair` reads a pair (channels matched on all three)."""
        device = self.device if device is None else device
        inputs = {"truth": truth, "a": a, "b": b}
        names = {role: os.fspath(value) if isinstance(value, (str, os.PathLike)) else role
                 for role, value in inputs.items()}
        tt, info_t = as_batch(truth, device, names["truth"])
        ta, info_a = as_batch(a, device, names["a"])
        tb, info_b = as_batch(b, device, names["b"])
        same_size = not self.takes_any_size
        tt, ta = match_pair(tt, ta, (names["truth"], names["a"]), same_size=same_size)
        tt, tb = match_pair(tt, tb, (names["truth"], names["b"]), same_size=same_size)
        tt, ta = match_pair(tt, ta, (names["truth"], names["a"]), same_size=same_size)  # channels B added
        return tt, ta, tb, {"truth": info_t.to_dict(), "a": info_a.to_dict(), "b": info_b.to_dict()}

    def compare_tensors(self, truth: torch.Tensor, a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None = None,
                        names: Sequence[str | None] | None = None,
                        inputs: Mapping[str, Any] | None = None) -> list[CompareResult]:
        """Both error maps, their difference, the postprocessors and each region's winner, per sample."""
        with_a = self.compute(truth, a, valid, postprocess=False)
        with_b = self.compute(truth, b, valid, postprocess=False)
        output = label_all(self.postprocess(error_difference(with_a, with_b)))
        merged = Computation(with_a.score - with_b.score, output, with_a.b, with_b.b)
        return as_comparisons(self.results(merged, names=names, inputs=inputs), with_a, with_b)

    def results(self, computed: Computation, names: Sequence[str | None] | None = None,
                inputs: Mapping[str, Any] | None = None, previews: bool = True) -> list[DiffResult]:
        """Split a :class:`Computation` into one host-side :class:`DiffResult` per sample.

        ``previews=False`` leaves out the 8-bit pictures of A and B (:attr:`DiffResult.previews`
        is then ``None``; a figure reads the source files instead): a folder run that writes
        no report saves their time, about half of a 512-px ``gradient`` + ``ssim`` pair's.
        """
        out = computed.output
        n = out.map.shape[0]
        maps = out.map[:, 0].detach().float().cpu().numpy()
        masks = out.mask[:, 0].detach().cpu().numpy().astype(bool) if out.mask is not None else None
        valid = out.valid[:, 0].detach().cpu().numpy().astype(bool) if out.valid is not None else None
        pictures = (pictures_of(computed.a), pictures_of(computed.b)) if previews else None
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
                previews=(pictures[0][i], pictures[1][i]) if pictures is not None else None,
                unit=out.unit,
            ))
        return results


def merge_info(infos: list[dict[str, Any]], new: list[dict[str, Any]] | None, stage: str) -> None:
    """Add what a stage reported for each sample under the stage's name."""
    if not new:
        return
    if len(new) != len(infos):
        raise StageError(f"stage {stage!r} reported info for {len(new)} samples, expected {len(infos)}")
    for target, item in zip(infos, new):
        if item:
            target[stage] = item
