"""dfind's core: hookspecs, plugin registry and the difference-map pipeline.

Importing ``dfcore`` is cheap: the torch-bound names (``Finder``, ``DiffResult``) are
resolved on first access, so ``dfind --list-plugins`` never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from dfcore.errors import (  # noqa: E402
    AmbiguousStageError,
    DfindError,
    InputError,
    MetricCheckError,
    ParameterError,
    ShapeError,
    StageError,
    StageNotFoundError,
)
from dfcore.hookspecs import hookimpl, hookspec  # noqa: E402
from dfcore.plugins import BrokenPlugin, Origin  # noqa: E402
from dfcore.registry import Param, PresetSpec, Registry, Stage, StageSpec, get_registry  # noqa: E402

if TYPE_CHECKING:
    from dfcore.batch import BatchReport, DirRun
    from dfcore.custom import MetricHandle, check_metric, register_metric
    from dfcore.pipeline import DiffResult, Finder, PairFailure

_LAZY = {
    "Finder": "dfcore.pipeline",
    "DiffResult": "dfcore.pipeline",
    "DirRun": "dfcore.batch",
    "BatchReport": "dfcore.batch",
    "PairFailure": "dfcore.pipeline",
    "MetricHandle": "dfcore.custom",
    "check_metric": "dfcore.custom",
    "register_metric": "dfcore.custom",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dfcore' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AmbiguousStageError",
    "BatchReport",
    "BrokenPlugin",
    "DfindError",
    "DiffResult",
    "DirRun",
    "Finder",
    "InputError",
    "MetricCheckError",
    "MetricHandle",
    "Origin",
    "PairFailure",
    "Param",
    "ParameterError",
    "PresetSpec",
    "Registry",
    "ShapeError",
    "Stage",
    "StageError",
    "StageNotFoundError",
    "StageSpec",
    "check_metric",
    "get_registry",
    "hookimpl",
    "hookspec",
    "register_metric",
]
