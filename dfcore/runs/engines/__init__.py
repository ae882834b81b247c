"""Engines: who computes the pairs a folder run has to do.

:func:`dfcore.runs.run_batch` plans a run (resume), hands the pairs left to do to an engine
and writes the summary; an engine only distributes. Engines are found by name in
:data:`ENGINES` (``local``: this process; ``ray``: Ray actors on this machine or a cluster),
each imported only when it is chosen, or given as an object that follows :class:`Engine`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dfcore.io.pairing import PairSpec
    from dfcore.pipeline import DiffResult
    from dfcore.runs.summary import PairRow
    from dfcore.runs.worker import PairWorker

#: Engine name -> ``"module:class"``, built with its defaults when chosen by name.
ENGINES = {
    "local": "dfcore.runs.engines.local:LocalEngine",
    "ray": "dfcore.runs.engines.ray:RayEngine",
}

#: Called with each row as it is known, and the result written for it (``None`` if it failed,
#: was complete before the run, or was computed in another process).
RowCallback = Callable[["PairRow", "DiffResult | None"], None]


class Engine(Protocol):
    """Computes the pairs a plan left to do; :func:`dfcore.runs.run_batch` does everything else.

    ``process(worker, pairs)`` yields one ``(row, result)`` per pair, in any order, as each
    pair's files are complete: ``worker`` is the :class:`~dfcore.runs.worker.PairWorker` of
    this process (its ``pipeline``, ``output`` and ``settings`` say what to build elsewhere);
    ``result`` is ``None`` when the map stayed in another process. When the caller stops
    iterating (Ctrl-C), the engine stops its work and returns. ``describe()`` is recorded in
    ``summary.json`` under ``engine``.
    """

    name: str

    def process(self, worker: PairWorker, pairs: Sequence[PairSpec]) -> Iterator[tuple[PairRow, DiffResult | None]]:
        ...

    def describe(self) -> dict[str, Any]:
        ...


def resolve_engine(engine: Engine | str | None) -> Engine:
    """An engine by name (``None`` is ``"local"``), built with its defaults; an engine object as it is.

    Raises:
        ValueError: an unknown name.
        EngineError: ``"ray"`` without Ray installed (the message says how to install it).
    """
    if engine is None:
        engine = "local"
    if not isinstance(engine, str):
        return engine
    target = ENGINES.get(engine)
    if target is None:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} or an engine object, got {engine!r}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


__all__ = ["ENGINES", "Engine", "RowCallback", "resolve_engine"]
