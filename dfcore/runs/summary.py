"""What a folder run did: one :class:`PairRow` per pair, gathered in a :class:`BatchReport`.

The report is written as ``summary.csv`` and ``summary.json`` through :mod:`dfcore.io.layout`,
which owns the columns, the statuses and the schema. A row is made when a pair is computed,
when it fails, or from the record of a pair an earlier run completed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfcore.io.files import jsonable
from dfcore.io.layout import (
    COMPARE_COLUMNS,
    EVALUATION_COLUMNS,
    FAILED,
    OK,
    SKIPPED,
    SUMMARY_COLUMNS,
    complete_pair,
    json_scores,
    read_score,
    write_summary,
)
from dfcore.io.pairing import PairSpec
from dfcore.version import __version__


@dataclass
class PairRow:
    """One line of the summary.

    ``seconds`` is the time spent reading the pair and computing its map (its share of the
    batch); writing its files is not counted. ``regions`` is ``None`` when no postprocessor
    detected regions. A ``skipped`` row carries the values of the earlier run that made it.
    With truth masks, ``auroc``, ``average_precision`` and ``best_dice`` hold the map's scores
    against the pair's mask. A comparison (``dfind compare``) also has ``score_a``,
    ``score_b`` and ``better``.
    """

    pair: str
    a: str
    b: str
    status: str
    score: float | None = None
    regions: int | None = None
    seconds: float | None = None
    error: str | None = None
    auroc: float | None = None
    average_precision: float | None = None
    best_dice: float | None = None
    score_a: float | None = None
    score_b: float | None = None
    better: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def to_dict(self, columns: Sequence[str] = SUMMARY_COLUMNS) -> dict[str, Any]:
        return {key: getattr(self, key) for key in columns}


def make_row(spec: PairSpec, status: str, **values: Any) -> PairRow:
    """The row of ``spec`` with ``status`` and the given values."""
    return PairRow(spec.name, os.fspath(spec.a), os.fspath(spec.b), status, **values)


def evaluation_values(evaluation: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The summary's evaluation columns from an evaluation (its ``to_dict()``), or nothing."""
    if not evaluation:
        return {}
    return {key: as_float(evaluation.get(key)) for key in EVALUATION_COLUMNS}


def comparison_values(compare: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summary's comparison columns from a comparison record (``CompareResult.to_dict()["compare"]``)."""
    if not compare:
        return {}
    return {"score_a": read_score(compare, "score_a"), "score_b": read_score(compare, "score_b"),
            "better": compare.get("better")}


def evaluation_means(rows: Sequence[PairRow]) -> dict[str, float] | None:
    """The mean of each evaluation column over the pairs that have it, or ``None`` without any."""
    means = {}
    for key in EVALUATION_COLUMNS:
        values = [v for v in (getattr(r, key) for r in rows if r.ok) if v is not None and math.isfinite(v)]
        if values:
            means[key] = sum(values) / len(values)
    return means or None


def row_from_record(spec: PairSpec, data: Mapping[str, Any], status: str) -> PairRow:
    """The summary row of a pair whose outputs are complete, from its record (its JSON)."""
    return make_row(spec, status, score=read_score(data),
                    regions=len(data.get("regions") or []) if "mask_fraction" in data else None,
                    seconds=as_float(data.get("seconds")), **evaluation_values(data.get("evaluation")),
                    **comparison_values(data.get("compare")))


def as_float(value: Any) -> float | None:
    """A JSON number (or ``"inf"``/``"nan"`` as :func:`~dfcore.io.files.jsonable` writes them) as a float."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def recover_rows(output: Path, pairs: Iterable[PairSpec], needs: Sequence[str], reason: str | None
                 ) -> list[PairRow]:
    """Rows for pairs whose outcome never reached the driver (a worker stopped or died).

    A pair whose outputs are complete in ``output`` (its JSON was written last) is ``ok``
    with the values of its JSON; the others are ``failed`` with ``reason``, or left out when
    ``reason`` is ``None`` (an interrupted run: the next run computes them).
    """
    rows = []
    for spec in pairs:
        data = complete_pair(output, spec.name, needs)
        if data is not None:
            rows.append(row_from_record(spec, data, OK))
        elif reason is not None:
            rows.append(make_row(spec, FAILED, error=reason))
    return rows


@dataclass
class BatchReport:
    """What a folder run did: one row per pair (sorted by name) and where it wrote them.

    ``kind`` is ``"diff"`` (two folders) or ``"compare"`` (a truth and two reconstructions;
    the summary then has the comparison columns too). ``pairing`` is how the pairs were made
    (:attr:`dfcore.io.pairing.Pairing.rule`); ``only_a`` and ``only_b`` (and for a comparison
    ``only_truth``) the files it left over, relative to ``folders`` (the two folders, absolute;
    empty for a pairs file). ``cwd`` is the folder the run started in: the rows' ``a`` and
    ``b`` are as the run was given them, relative to it unless absolute. ``fail_above`` is
    the threshold the run was gated with (``--fail-above``), if any; ``dfind approve
    --failing`` reads it.
    """

    rows: list[PairRow]
    config: dict[str, Any]
    output: Path | None = None
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "local"})
    kind: str = "diff"
    pairing: dict[str, Any] = field(default_factory=lambda: {"rule": "path"})
    only_truth: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)
    cwd: str = field(default_factory=os.getcwd)
    fail_above: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        counts = {"total": len(self.rows), OK: 0, FAILED: 0, SKIPPED: 0}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    @property
    def failed(self) -> list[PairRow]:
        return [row for row in self.rows if row.status == FAILED]

    @property
    def columns(self) -> tuple[str, ...]:
        return SUMMARY_COLUMNS + (COMPARE_COLUMNS if self.kind == "compare" else ())

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "dfind": __version__,
            "kind": self.kind,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
            "counts": self.counts,
            "config": self.config,
            "pairing": self.pairing,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "folders": self.folders or None,
            "cwd": self.cwd,
            "fail_above": self.fail_above,
            **({"only_truth": self.only_truth} if self.kind == "compare" else {}),
            "evaluation_mean": evaluation_means(self.rows),
            "pairs": [json_scores(row.to_dict(self.columns)) for row in self.rows],
        })

    def write(self, output: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``summary.csv`` and ``summary.json`` into ``output``; returns their paths."""
        self.files = write_summary(output, self.to_dict(), self.columns)
        return self.files


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a folder run; ``report`` holds what was finished (and was written)."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__("interrupted")
        self.report = report


__all__ = ["BatchInterrupted", "BatchReport", "PairRow", "as_float", "comparison_values", "evaluation_means",
           "evaluation_values", "make_row", "recover_rows", "row_from_record"]
