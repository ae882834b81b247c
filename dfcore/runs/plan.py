"""Planning a folder run: which pairs an output folder still needs, and which it already holds.

A pair whose record (written last, atomically) lists files that all exist, made by the same
pipeline from files of the same names, is complete and skipped, so rerunning a command
resumes it; ``overwrite=True`` redoes everything. Pairs whose output names would collide are
refused with the reason. Temporary files and claims that runs which have ended left behind
are removed; those of runs still writing into the folder are left alone
(:mod:`dfcore.io.sharing`, :mod:`dfcore.runs.claims`).
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from dfcore.errors import InputError
from dfcore.io.files import jsonable
from dfcore.io.layout import FAILED, SKIPPED, complete_pair, output_stem, pair_file
from dfcore.io.masks import describe
from dfcore.io.pairing import Pairing, PairSpec
from dfcore.io.sharing import remove_stale_partials
from dfcore.runs.claims import remove_stale_claims
from dfcore.runs.summary import PairRow, make_row, row_from_record


@dataclass
class RunPlan:
    """The pairs of a folder run split into work to do and work an earlier run completed."""

    pairing: Pairing
    output: Path
    todo: list[PairSpec]
    done: list[PairRow] = field(default_factory=list)
    refused: list[PairRow] = field(default_factory=list)

    @property
    def rows_before(self) -> list[PairRow]:
        """Rows known before anything runs: complete pairs and pairs refused by the plan."""
        return self.done + self.refused


def pipeline_signature(config: dict[str, Any], ignore: Any = None,
                       defaults: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The stages, parameters, input conventions and ignored pixels of a run, as text.

    Two runs with the same signature make the same maps. Versions, device and colormap are
    left out (a newer torch does not invalidate old maps). ``ignore`` is the ignore spec as
    :func:`dfcore.io.masks.describe` records it. ``defaults`` (qualified stage name -> its
    parameters' values when none is given: :attr:`Pipeline.param_defaults`) leaves out the
    parameters at those values, so that a folder written before a stage gained a parameter
    (which is off by default) still resumes; a parameter whose default changed still counts.
    """
    def stage(record: dict[str, Any]) -> list[Any]:
        name = record.get("qualified_name")
        params, given = record.get("params"), (defaults or {}).get(name or "", {})
        if isinstance(params, dict) and given:
            params = {key: value for key, value in params.items()
                      if key not in given or jsonable(value) != jsonable(given[key])}
        return [name or record.get("name") or record.get("object"), params]

    data = {
        "preprocessor": [stage(r) for r in config.get("preprocessor") or []],
        "metric": stage(config.get("metric") or {}),
        "strategy": stage(config.get("strategy") or {}),
        "postprocessor": [stage(r) for r in config.get("postprocessor") or []],
        "conventions": config.get("conventions"),
        "ignore": ignore,
    }
    return json.dumps(jsonable(data), sort_keys=True)


def record_signature(data: dict[str, Any], defaults: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The :func:`pipeline_signature` of the run that wrote a pair's record (``defaults``: the run's now)."""
    return pipeline_signature(data.get("config") or {}, (data.get("inputs") or {}).get("ignore", {}).get("given"),
                              defaults)


def read_complete(output: Path, spec: PairSpec, needs: Sequence[str] = ()) -> dict[str, Any] | None:
    """The record of a pair whose outputs are all in ``output``, or ``None`` if any is missing.

    ``needs``: entries the record must have (``"evaluation"``) and files it must list (``"a"``,
    ``"b"``: the previews of a report) for this run to count the pair as complete
    (:func:`dfcore.io.layout.complete_pair`).
    """
    return complete_pair(output, spec.name, needs)


def made_from(spec: PairSpec, data: dict[str, Any]) -> bool:
    """Whether a pair's record was made from files with the names of ``spec``'s.

    A pair is named after A's file, so when folders are paired by order or by stem a name can
    come to stand for another B (a file added shifts the order): its record then no longer
    counts as complete. Names, not whole paths, are compared, so a run resumed from another
    working directory still finds its pairs. A record without its sources counts as made
    from them.
    """
    inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
    for role, path in (("a", spec.a), ("b", spec.b), ("truth", spec.reference)):
        source = inputs.get(role, {}).get("source") if isinstance(inputs.get(role), dict) else None
        if path is not None and isinstance(source, str) and PurePath(source).name != path.name:
            return False
    return True


def plan_run(pairing: Pairing, output: str | os.PathLike[str], config: dict[str, Any], *,
             overwrite: bool = False, ignore: Any = None, needs: Sequence[str] = (),
             defaults: Mapping[str, Mapping[str, Any]] | None = None) -> RunPlan:
    """Decide what a run into ``output`` has to compute.

    Pairs whose outputs are complete and were made by the same pipeline (and ``ignore``
    spec) are skipped (their rows come from their JSON); ``overwrite`` redoes them; ``needs``
    are JSON entries or files a complete pair must have in this run (see
    :func:`read_complete`). Pairs whose output names collide (``001.png`` and ``001.jpg`` in
    A) are refused with the reason. Temporary files and claims left by runs that have ended
    are removed; those of live runs sharing the folder stay.

    Raises:
        InputError: ``output`` is a file, or holds complete results of a different pipeline.
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: the output must be a folder, and this is a file")
    plan = RunPlan(pairing, output, [])
    by_stem: dict[str, list[PairSpec]] = collections.defaultdict(list)
    for spec in pairing.pairs:
        by_stem[output_stem(spec.name).lower()].append(spec)
    signature = pipeline_signature(config, describe(ignore), defaults)
    conflicts: list[str] = []
    for spec in pairing.pairs:
        clash = by_stem[output_stem(spec.name).lower()]
        if len(clash) > 1:
            others = ", ".join(s.name for s in clash if s is not spec)
            plan.refused.append(make_row(spec, FAILED, error=(
                f"its output name {output_stem(spec.name)!r} is also that of {others}: rename one of them, "
                "or name the pairs in a --pairs file")))
            continue
        data = None if overwrite else read_complete(output, spec, needs)
        if data is None or not made_from(spec, data):
            plan.todo.append(spec)
        elif record_signature(data, defaults) != signature:
            conflicts.append(pair_file(output, spec.name, "json").relative_to(output).as_posix())
        else:
            plan.done.append(row_from_record(spec, data, SKIPPED))
    if conflicts:
        raise InputError(
            f"{output} holds results of another pipeline ({len(conflicts)} pairs, e.g. {conflicts[0]}): "
            "choose another output folder, or pass --overwrite to replace them"
        )
    remove_stale_files(output)
    return plan


def remove_stale_files(output: str | os.PathLike[str]) -> None:
    """Remove the temporary files and claims under ``output`` whose writers are gone (those of live runs stay).

    Called when a run is planned and again when it ends, so that a writer that died during the
    run (a Ray worker stopped by Ctrl-C while a write was in flight) leaves nothing behind.
    """
    if Path(output).is_dir():
        remove_stale_partials(output)
        remove_stale_claims(output)


__all__ = [
    "RunPlan", "made_from", "pipeline_signature", "plan_run", "read_complete", "record_signature", "remove_stale_files",
]
