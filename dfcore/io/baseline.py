"""Approving a run's B images as the new references: the baseline step of visual regression.

After a folder run ``dfind REFS NEW -o OUT``, :func:`read_run` reads what it compared from
``OUT/summary.json``; :func:`select_approvals` picks pairs (by name or glob pattern, those
beyond a threshold, or all) and the files only in NEW; :func:`approve` copies each B file
over its reference, atomically (a temporary file beside the reference, then renamed), and
appends one entry per copy to ``OUT/approvals.json`` (:func:`dfcore.io.layout.append_approvals`):
who, when, the pair, its score, the SHA-256 of the approved bytes, the source and the
destination. A B file whose bytes are its reference's already is left alone and not recorded.
"""

from __future__ import annotations

import difflib
import fnmatch
import getpass
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dfcore.contracts import beyond
from dfcore.errors import InputError
from dfcore.io.files import atomic_write, check_writable
from dfcore.io.layout import FAILED, SUMMARY_JSON, append_approvals, read_summary
from dfcore.version import __version__

#: What an approval promotes: a pair's B over its A, or a file only in B added to the references.
CHANGED, NEW = "changed", "new"
#: What :func:`approve` did with each: copied, or nothing since the reference has the same bytes.
APPROVED, UNCHANGED = "approved", "unchanged"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Approval:
    """One B file to promote: ``pair`` (its name in the run), ``kind`` (:data:`CHANGED` or :data:`NEW`),
    ``source`` (B's file), ``destination`` (the reference it replaces or adds) and the pair's ``score``."""

    pair: str
    kind: str
    source: Path
    destination: Path
    score: float | None = None


@dataclass
class RunRecord:
    """What :func:`select_approvals` needs of a folder run, read from its ``summary.json``."""

    output: Path
    pairs: dict[str, Approval] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    new: dict[str, Approval] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    metric: str = "score"
    higher_is_better: bool = False
    fail_above: float | None = None
    rule: str = "path"


def read_run(output: str | os.PathLike[str]) -> RunRecord:
    """The pairs, failures and new files of the folder run in ``output``.

    Raises:
        InputError: no ``summary.json`` there, or the run was a comparison of three folders.
    """
    output = Path(output)
    summary = read_summary(output)
    if summary is None:
        raise InputError(f"{output}: no run summary ({SUMMARY_JSON}); approve after a folder run, "
                         f"dfind REFS NEW -o {output}")
    if summary.get("kind", "diff") != "diff":
        raise InputError(f"{output}: a comparison run (dfind compare); approve promotes B of a run of two folders")
    cwd = Path(str(summary.get("cwd") or "."))
    metric = (summary.get("config") or {}).get("metric") or {}
    run = RunRecord(output, metric=str(metric.get("name") or "score"),
                    higher_is_better=bool(metric.get("higher_is_better")),
                    fail_above=_number(summary.get("fail_above")),
                    rule=str((summary.get("pairing") or {}).get("rule") or "path"))
    for row in summary.get("pairs") or ():
        if not isinstance(row, Mapping) or not row.get("pair"):
            continue
        name = str(row["pair"])
        if row.get("status") == FAILED:
            run.failed[name] = str(row.get("error") or FAILED)
        elif row.get("a") and row.get("b"):
            run.pairs[name] = Approval(name, CHANGED, cwd / str(row["b"]), cwd / str(row["a"]),
                                       _number(row.get("score")))
    folders = summary.get("folders") if isinstance(summary.get("folders"), Mapping) else {}
    if folders.get("a") and folders.get("b"):
        for rel in summary.get("only_b") or ():
            run.new[str(rel)] = Approval(str(rel), NEW, Path(folders["b"]) / str(rel), Path(folders["a"]) / str(rel))
    run.deleted = [str(rel) for rel in summary.get("only_a") or ()]
    return run


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def select_approvals(run: RunRecord, names: Sequence[str] = (), *, failing: bool = False,
                     threshold: float | None = None, everything: bool = False) -> list[Approval]:
    """The approvals asked for, in name order: ``names`` (pair names or glob patterns, which also
    match the files only in B), the pairs beyond ``threshold`` (else the run's ``--fail-above``)
    with ``failing``, or every pair and new file with ``everything``.

    Raises:
        InputError: a name that is no pair nor new file of the run (with close matches), a
            failed pair, ``failing`` without a threshold, or new files of a run not paired by path.
    """
    chosen: dict[str, Approval] = {}
    every = {**run.pairs, **run.new}
    for name in names:
        hits = [key for key in every if key == name or fnmatch.fnmatchcase(key, name)]
        if not hits:
            raise InputError(_unknown(run, name))
        chosen.update((key, every[key]) for key in hits)
    if failing:
        limit = threshold if threshold is not None else run.fail_above
        if limit is None:
            raise InputError(f"{run.output}: the run recorded no --fail-above threshold; give one (--fail-above T)")
        chosen.update((key, a) for key, a in run.pairs.items()
                      if beyond(a.score if a.score is not None else float("nan"), limit, run.higher_is_better))
    if everything:
        chosen.update(every)
    if run.rule != "path" and any(a.kind == NEW for a in chosen.values()):
        raise InputError(f"new files are approved only for a run paired by path (this one: by {run.rule}): "
                         "copy them into the references by hand")
    return [chosen[key] for key in sorted(chosen)]


def _unknown(run: RunRecord, name: str) -> str:
    if name in run.failed:
        return f"{name}: the pair failed in the run ({run.failed[name]}); there is no result to approve"
    if name in run.deleted:
        return f"{name}: only in A (deleted in B); approve promotes B's files, delete the reference by hand"
    close = difflib.get_close_matches(name, [*run.pairs, *run.new], n=3, cutoff=0.75)
    hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(run.pairs)} pairs, {len(run.new)} new files)"
    return f"unknown pair {name!r}: not a pair nor a new file of the run in {run.output}{hint}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def approve(run: RunRecord, approvals: Iterable[Approval], *, dry_run: bool = False, user: str | None = None,
            now: datetime | None = None) -> list[tuple[Approval, str, str]]:
    """Copy each approval's B file over its reference and record it; ``(approval, status, sha256)`` each.

    Every source is checked and every reference folder probed for writing before anything is
    copied; with ``dry_run`` nothing is written. The entries copied so far are recorded even
    when a later copy fails.

    Raises:
        InputError: a B file that is gone, or a reference folder or ``OUT`` that cannot be written.
    """
    approvals = list(approvals)
    for item in approvals:
        if not item.source.is_file():
            raise InputError(f"{item.source}: B's file of {item.pair} is not there any more; nothing approved")
    if not dry_run:
        check_writable(run.output)
        for folder in sorted({item.destination.parent for item in approvals}):
            check_writable(folder, "reference")
    who = user or _login()
    when = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    done: list[tuple[Approval, str, str]] = []
    entries: list[dict[str, Any]] = []
    try:
        for item in approvals:
            digest = sha256_of(item.source)
            if item.destination.is_file() and sha256_of(item.destination) == digest:
                done.append((item, UNCHANGED, digest))
                continue
            if not dry_run:
                digest = _copy(item.source, item.destination)
                entries.append({"pair": item.pair, "kind": item.kind, "metric": run.metric, "score": item.score,
                                "sha256": digest, "source": os.fspath(item.source),
                                "destination": os.fspath(item.destination), "user": who, "time": when,
                                "dfind": __version__})
            done.append((item, APPROVED, digest))
    finally:
        if entries:
            append_approvals(run.output, entries)
    return done


def _copy(source: Path, destination: Path) -> str:
    """Copy ``source`` to ``destination`` atomically; the SHA-256 of the bytes written."""
    digest = hashlib.sha256()

    def write(handle: Any) -> None:
        with open(source, "rb") as reader:
            for chunk in iter(lambda: reader.read(_CHUNK), b""):
                digest.update(chunk)
                handle.write(chunk)

    try:
        atomic_write(destination, write)
    except OSError as exc:
        raise InputError(f"{destination}: cannot write the reference: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


__all__ = ["APPROVED", "CHANGED", "NEW", "UNCHANGED", "Approval", "RunRecord", "approve", "read_run",
           "select_approvals", "sha256_of"]
