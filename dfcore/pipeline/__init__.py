"""One pair, or one batch of pairs: stages built once, run on the device, results on the host.

* :mod:`~dfcore.pipeline.pipeline` -- :class:`Pipeline`: build the stages, run pairs through them;
* :mod:`~dfcore.pipeline.stages` -- stage references, :class:`BoundMetric`, the metric contract check;
* :mod:`~dfcore.pipeline.conventions` -- research conventions (luma, border crop, size policy),
  and the mask of compared pixels;
* :mod:`~dfcore.pipeline.result` -- :class:`DiffResult` and how it is saved and shown;
* :mod:`~dfcore.pipeline.compare` -- which of two reconstructions is closer to a truth;
* :mod:`~dfcore.pipeline.truth`, :mod:`~dfcore.pipeline.evaluation` -- scoring against known changes;
* :mod:`~dfcore.pipeline.custom`, :mod:`~dfcore.pipeline.metric_check`,
  :mod:`~dfcore.pipeline.registration` -- metrics brought from Python.

Folders are not this layer's business: :mod:`dfcore.runs` runs many pairs through a
Pipeline, and :class:`dfcore.Finder`, the Python API, is a Pipeline that also takes folders.
"""

from __future__ import annotations

import warnings
from typing import Any

from dfcore.pipeline.compare import CompareResult
from dfcore.pipeline.device import resolve_device
from dfcore.pipeline.evaluation import Evaluation
from dfcore.pipeline.metric_check import MetricReport, check_metric
from dfcore.pipeline.pipeline import Pipeline
from dfcore.pipeline.registration import MetricHandle, register_metric
from dfcore.pipeline.result import Computation, DiffResult, PairFailure
from dfcore.pipeline.stages import BoundMetric, BuiltStage, build_stage
from dfcore.plugin.registry import DEFAULT_PRESET

#: Names this module offered before the layers were split, and where they live now.
_MOVED = {
    "Finder": "dfcore.finder",
    "DirRun": "dfcore.runs",
    "output_stem": "dfcore.io.layout",
    "truth_masks": "dfcore.pipeline.truth",
    "evaluate_results": "dfcore.pipeline.truth",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'dfcore.pipeline' has no attribute {name!r}")
    warnings.warn(f"dfcore.pipeline.{name} moved to {module}.{name}; the old name goes away in dfind 0.3",
                  DeprecationWarning, stacklevel=2)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_PRESET", "BoundMetric", "BuiltStage", "CompareResult", "Computation", "DiffResult", "Evaluation",
    "MetricHandle", "MetricReport", "PairFailure", "Pipeline", "build_stage", "check_metric", "register_metric",
    "resolve_device",
]
