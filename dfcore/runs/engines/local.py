"""The default engine: every pair in this process, by the worker itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dfcore.io.pairing import PairSpec
from dfcore.pipeline import DiffResult
from dfcore.runs.summary import PairRow
from dfcore.runs.worker import PairWorker


class LocalEngine:
    """Computes every pair in this process (decoding and writing in the worker's thread pools)."""

    name = "local"

    def process(self, worker: PairWorker, pairs: Sequence[PairSpec]) -> Iterator[tuple[PairRow, DiffResult | None]]:
        return worker.process_results(pairs)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


__all__ = ["LocalEngine"]
