"""The import paths of dfind 0.1, kept for one release: ``dfcore.batch``, ``dfcore.registry``...

dfind 0.2 sorted the core into layers (``docs/architecture.md``). Code written against 0.1
imports modules that no longer exist as files; a finder installed by ``dfcore/__init__.py``
makes each of them an alias that warns once (``DeprecationWarning``) and resolves its old
names in the modules they moved to. Delete this module, and its installation, in dfind 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

#: Old module -> the modules its names now live in, searched in order.
MOVED: dict[str, tuple[str, ...]] = {
    "dfcore.batch": ("dfcore.runs", "dfcore.runs.worker", "dfcore.runs.summary", "dfcore.runs.plan",
                     "dfcore.runs.engines", "dfcore.runs.engines.local", "dfcore.io.layout"),
    "dfcore.ray_engine": ("dfcore.runs.engines.ray",),
    "dfcore.registry": ("dfcore.plugin.registry", "dfcore.plugin.spec"),
    "dfcore.plugins": ("dfcore.plugin.loading", "dfcore.errors"),
    "dfcore.hookspecs": ("dfcore.plugin.hookspecs",),
    "dfcore.images": ("dfcore.io.images",),
    "dfcore.pairing": ("dfcore.io.pairing",),
    "dfcore.output": ("dfcore.io.files", "dfcore.io.render"),
    "dfcore.scale": ("dfcore.io.scale",),
    "dfcore.ignore": ("dfcore.io.masks", "dfcore.pipeline.conventions"),
    "dfcore.evaluation": ("dfcore.pipeline.evaluation", "dfcore.io.masks"),
    "dfcore.conventions": ("dfcore.pipeline.conventions",),
    "dfcore.custom": ("dfcore.pipeline.registration", "dfcore.pipeline.metric_check", "dfcore.pipeline.custom"),
    "dfcore.compare": ("dfcore.pipeline.compare", "dfcore.runs", "dfcore.io.pairing"),
}
#: Old module -> {old name: new name}, for the few names that changed.
RENAMED: dict[str, dict[str, str]] = {
    "dfcore.batch": {"row_from_json": "row_from_record"},
}


def resolve(old: str, name: str) -> Any:
    """The object ``old.name`` now is."""
    new = RENAMED.get(old, {}).get(name, name)
    for target in MOVED[old]:
        module = importlib.import_module(target)
        if hasattr(module, new):
            return getattr(module, new)
    raise AttributeError(f"module {old!r} has no attribute {name!r} (it moved to {', '.join(MOVED[old])})")


class _Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes each module of :data:`MOVED` importable as an alias that warns."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        old = module.__name__
        warnings.warn(f"{old} is deprecated: its names moved to {' and '.join(MOVED[old])}; "
                      "the old path goes away in dfind 0.3", DeprecationWarning, stacklevel=2)
        module.__doc__ = f"Deprecated alias: see {', '.join(MOVED[old])}."
        module.__getattr__ = lambda name: resolve(old, name)  # type: ignore[attr-defined]


def install() -> None:
    """Add the alias finder after the normal ones (once)."""
    if not any(isinstance(finder, _Aliases) for finder in sys.meta_path):
        sys.meta_path.append(_Aliases())
