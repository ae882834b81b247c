"""Building stages from references, and the metric as strategies see it.

A stage reference is a name (``"highpass"``), a name with parameters (``("highpass",
{"cutoff": 0.1})`` or ``"highpass:cutoff=0.1"``), a qualified name (``"builtin.ssim"``), or a
stage object. :func:`build_stage` turns one into a :class:`BuiltStage`: the object and the
record of how it was made, for the result's configuration. :class:`BoundMetric` is the metric
a strategy receives: the metric stage bound to the preprocessors it differentiates through
and to the pixels that count; every value it returns goes through :func:`check_metric_value`.

Every call into a stage's code goes through :func:`stage_failures`: an exception it raises
becomes a :class:`~dfcore.errors.StageRuntimeError` naming the stage, its plugin and the plugin's
distribution and version (``metric 'acme.sharp' (plugin acme, distribution dfind-acme 1.2)
failed: RuntimeError: ...``), the original chained as its cause.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from dfcore.errors import DfindError, MetricCheckError, ParameterError, StageError, StageRuntimeError, one_line
from dfcore.plugin.loading import BrokenPlugin
from dfcore.plugin.registry import Registry
from dfcore.plugin.spec import split_stage_ref


@dataclass
class BuiltStage:
    """A stage object and the record of how it was made (for the result's configuration)."""

    kind: str
    obj: Any
    record: dict[str, Any]
    higher_is_better: bool | None = None
    #: The parameters' values when none is given (a plugin stage's; empty for an object).
    defaults: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        record = dict(self.record)
        conventions = getattr(self.obj, "conventions", None)
        if callable(conventions):
            record["conventions"] = conventions()
        return record

    def failures(self) -> contextlib.AbstractContextManager[None]:
        """The context in which this stage's code runs (:func:`stage_failures`)."""
        return stage_failures(self.kind, self.record)


def stage_label(kind: str, record: Mapping[str, Any]) -> str:
    """How an error names a stage: ``metric 'acme.sharp' (plugin acme, distribution dfind-acme 1.2)``."""
    name = record.get("qualified_name") or record.get("name")
    plugin = record.get("plugin")
    if plugin is None:
        return f"{kind} {name!r} (an object given to the pipeline, not a plugin)"
    distribution = record.get("distribution")
    source = (f"distribution {distribution} {record.get('version') or ''}".rstrip() if distribution
              else "registered in this process")
    return f"{kind} {name!r} (plugin {plugin}, {source})"


@contextlib.contextmanager
def stage_failures(kind: str, record: Mapping[str, Any] | None) -> Iterator[None]:
    """Run a stage's code: what it raises becomes a :class:`~dfcore.errors.StageRuntimeError` naming the stage
    and its origin.

    dfind's own errors (already one line, with their cause) and ``KeyboardInterrupt`` pass
    unchanged; so does everything when ``record`` is ``None`` (a stage used outside a pipeline).
    """
    try:
        yield
    except DfindError:
        raise
    except Exception as exc:
        if record is None:
            raise
        raise StageRuntimeError(f"{stage_label(kind, record)} failed: {one_line(exc)}") from exc


def build_stage(registry: Registry, kind: str, ref: Any, device: torch.device) -> BuiltStage:
    """Build one stage from a name, ``(name, params)``, ``"name:k=v"`` text or an object."""
    named = split_stage_ref(kind, ref)
    if named is not None:
        name, params = named
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
        defaults = stage.parse_params({})
    else:
        defaults = {}
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
    return BuiltStage(kind, obj, record, higher, defaults)


class BoundMetric:
    """A metric bound to the preprocessors that strategies differentiate through.

    ``bound(x, y)`` is the score (shape ``[N]``); ``bound.distance(x, y)`` is oriented so
    that larger means more different; ``bound.preprocess(x)`` applies the preprocessors.
    Pixels outside ``valid`` do not count: a metric with ``supports_valid`` receives the mask,
    for any other metric those pixels of ``x`` are replaced by ``y``'s so they add nothing.

    ``pair=(a, b)`` names the pair being compared: when a strategy evaluates the metric on
    exactly those tensors (the same storage and version, e.g. ``b.detach()``), the value is
    kept in :attr:`pair_value`, so the pipeline need not evaluate the score a second time.

    ``records`` (the metric's record and its preprocessors', as :class:`BuiltStage` holds them)
    name the stages in the errors they raise (:func:`stage_failures`); without them errors pass
    as raised.
    """

    def __init__(self, metric: Any, higher_is_better: bool, preprocessors: Sequence[Any] = (),
                 valid: torch.Tensor | None = None, name: str = "metric",
                 pair: tuple[torch.Tensor, torch.Tensor] | None = None,
                 records: tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]] | None = None) -> None:
        self.stage = metric
        self.higher_is_better = higher_is_better
        self.preprocessors = list(preprocessors)
        self.valid = valid
        self.name = name
        self.pair = pair
        self.records = records
        self.pair_value: torch.Tensor | None = None
        self._pair_versions = (pair[0]._version, pair[1]._version) if pair is not None else None

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        for index, stage in enumerate(self.preprocessors):
            with stage_failures("preprocessor", self.records[1][index] if self.records else None):
                x = stage(x)
        return x

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        supports_valid = bool(getattr(self.stage, "supports_valid", False))
        if self.valid is not None and not supports_valid:
            x = torch.where(self.valid, x, y)
        px, py = self.preprocess(x), self.preprocess(y)
        with stage_failures("metric", self.records[0] if self.records else None):
            if self.valid is not None and supports_valid:
                value = self.stage(px, py, valid=self.valid)
            else:
                value = self.stage(px, py)
        value = check_metric_value(value, x, self.name)
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
        return BoundMetric(self.stage, self.higher_is_better, self.preprocessors, valid, self.name, records=self.records)


def _same_data(x: torch.Tensor, ref: torch.Tensor, version: int) -> bool:
    """Whether ``x`` shows ``ref``'s memory, unmodified since ``ref`` was at ``version``."""
    return (x.data_ptr() == ref.data_ptr() and x.shape == ref.shape and x.stride() == ref.stride()
            and x.dtype == ref.dtype and x.device == ref.device and x._version == version)


def check_metric_value(value: Any, x: torch.Tensor, name: str) -> torch.Tensor:
    """A metric's return value checked against the contract: a float tensor ``[N]`` on ``x``'s device.

    A 0-d tensor is taken as the value of a single sample (N = 1). Anything else raises
    :class:`~dfcore.errors.MetricCheckError` (a :class:`~dfcore.errors.StageError`) on one line.
    """
    n = x.shape[0]
    if not isinstance(value, torch.Tensor):
        raise MetricCheckError(f"metric {name!r} returned {type(value).__name__}, expected a tensor of shape [{n}]")
    if value.ndim == 0 and n == 1:
        value = value.reshape(1)
    if tuple(value.shape) != (n,):
        hint = " (a scalar is only taken as the value of a single sample)" if value.ndim == 0 else ""
        raise MetricCheckError(
            f"metric {name!r} returned shape {list(value.shape)} for a {'x'.join(map(str, x.shape))} input, "
            f"expected [{n}] (one value per sample){hint}"
        )
    if not value.is_floating_point():
        raise MetricCheckError(f"metric {name!r} returned a {value.dtype} tensor, expected floating point")
    if value.device != x.device:
        raise MetricCheckError(
            f"metric {name!r} returned a tensor on {value.device} for inputs on {x.device}; "
            "keep every tensor on the input's device"
        )
    return value
