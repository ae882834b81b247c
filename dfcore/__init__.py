"""dfind's core: hookspecs, plugin registry and the difference-map pipeline.

Importing ``dfcore`` is cheap: it loads the plugin records and markers a plugin needs
(``StageSpec``, ``Param``, ``PresetSpec``, ``hookimpl``) and the error tree; every other name
(``Finder``, ``DiffResult``, ``Registry``...) is resolved on first access, so a plugin
module or ``dfind --list-plugins`` never imports torch. ``docs/architecture.md`` shows where
each name lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfcore import _deprecated
from dfcore.errors import (
    AmbiguousStageError,
    DfindError,
    InputError,
    MetricCheckError,
    NoPairsError,
    NoPairsWarning,
    PairingError,
    ParameterError,
    ShapeError,
    StageError,
    StageNotFoundError,
    StageRuntimeError,
)
from dfcore.plugin.hookspecs import hookimpl, hookspec
from dfcore.plugin.spec import Param, PresetSpec, StageSpec
from dfcore.version import __version__

if TYPE_CHECKING:
    from dfcore.finder import Finder
    from dfcore.io.pairing import PairBy
    from dfcore.pipeline import DiffResult, MetricHandle, PairFailure, check_metric, register_metric
    from dfcore.plugin.loading import BrokenPlugin, Origin
    from dfcore.plugin.registry import Registry, Stage, get_registry
    from dfcore.runs import BatchReport, DirRun

_deprecated.install()  # the module paths of dfind 0.1, for one release

_LAZY = {
    "BrokenPlugin": "dfcore.plugin.loading",
    "Origin": "dfcore.plugin.loading",
    "Registry": "dfcore.plugin.registry",
    "Stage": "dfcore.plugin.registry",
    "get_registry": "dfcore.plugin.registry",
    "Finder": "dfcore.finder",
    "PairBy": "dfcore.io.pairing",
    "DiffResult": "dfcore.pipeline",
    "PairFailure": "dfcore.pipeline",
    "MetricHandle": "dfcore.pipeline",
    "check_metric": "dfcore.pipeline",
    "register_metric": "dfcore.pipeline",
    "DirRun": "dfcore.runs",
    "BatchReport": "dfcore.runs",
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
    "NoPairsError",
    "NoPairsWarning",
    "Origin",
    "PairBy",
    "PairFailure",
    "PairingError",
    "Param",
    "ParameterError",
    "PresetSpec",
    "Registry",
    "ShapeError",
    "Stage",
    "StageError",
    "StageNotFoundError",
    "StageRuntimeError",
    "StageSpec",
    "__version__",
    "check_metric",
    "get_registry",
    "hookimpl",
    "hookspec",
    "register_metric",
]
