"""Plugins made in this process: they offer the stage records added to them, through the same hooks.

Metrics registered from Python (:func:`dfcore.register_metric`) live in one named ``local``;
a folder run shipped to other processes carries the records of such plugins and rebuilds
them there under the same names. :meth:`dfcore.plugin.registry.Registry.in_process` gets or
makes one.
"""

from __future__ import annotations

from collections.abc import Iterable

from dfcore.plugin.hookspecs import hookimpl
from dfcore.plugin.spec import KINDS, StageSpec


class InProcessPlugin:
    """A plugin made in this process: it offers the stage records added to it, through the same hooks.

    Metrics registered from Python (:func:`dfcore.register_metric`) live in one named
    ``local``; a folder run shipped to other processes carries the records of such plugins and
    rebuilds them there under the same names. :meth:`Registry.in_process` gets or makes one.
    """

    def __init__(self, stages: Iterable[tuple[str, StageSpec]] = ()) -> None:
        self.specs: dict[str, dict[str, StageSpec]] = {kind: {} for kind in KINDS}
        for kind, spec in stages:
            self.add(kind, spec)

    def add(self, kind: str, spec: StageSpec) -> None:
        """Offer ``spec`` as a stage of ``kind`` (replacing one of the same name)."""
        if kind not in KINDS:
            raise ValueError(f"unknown stage kind {kind!r}; kinds are {', '.join(KINDS)}")
        self.specs[kind][spec.name] = spec

    def remove(self, kind: str, name: str) -> None:
        self.specs[kind].pop(name, None)

    def get(self, kind: str, name: str) -> StageSpec | None:
        return self.specs[kind].get(name)

    def stages(self) -> list[tuple[str, StageSpec]]:
        """``(kind, spec)`` for every record offered."""
        return [(kind, spec) for kind in KINDS for spec in self.specs[kind].values()]

    def __bool__(self) -> bool:
        return any(self.specs.values())

    @hookimpl
    def dfind_preprocessors(self) -> list[StageSpec]:
        return list(self.specs["preprocessor"].values())

    @hookimpl
    def dfind_metrics(self) -> list[StageSpec]:
        return list(self.specs["metric"].values())

    @hookimpl
    def dfind_strategies(self) -> list[StageSpec]:
        return list(self.specs["strategy"].values())

    @hookimpl
    def dfind_postprocessors(self) -> list[StageSpec]:
        return list(self.specs["postprocessor"].values())
