"""Folder-to-folder runs: background decoding, same-size batches, outputs, summaries, resume.

The pieces, each usable on its own (a distributed engine reuses all of them but the loop):

* :func:`plan_run` -- which pairs still need work in an output folder: a pair whose JSON
  (written last, atomically) lists files that all exist, made by the same pipeline, is
  complete and skipped; ``overwrite=True`` redoes everything.
* :class:`PairWorker` -- holds one :class:`~dfcore.pipeline.Finder` (stages built once) and
  turns any list of pairs into output files and :class:`PairRow` summary rows: images are
  decoded by a thread pool while the device computes, consecutive pairs of the same size go
  through :meth:`Finder.compute` as one batch, files are written by another thread pool. A pair
  that cannot be read, has mismatched sizes or fails in a stage becomes a ``failed`` row with
  its reason; the others go on.
* :class:`BatchReport` and :func:`write_summary` -- ``summary.csv`` and ``summary.json``,
  written atomically.
* :class:`LocalEngine` -- the default engine: one :class:`PairWorker` in this process. An
  engine only distributes: :func:`run_batch` plans, hands the pairs to do to the engine, and
  writes the summary; :mod:`dfcore.ray_engine` is the other engine, same plan, same workers,
  same summary. :class:`FinderRecipe` rebuilds the pipeline in another process.
* :class:`DirRun` -- the Python face: iterate it for one result per pair, or call
  :meth:`DirRun.save` to run an engine into a folder.

>>> run = Finder(metric="ssim", strategy="gradient").run_dirs("refs", "outputs")  # doctest: +SKIP
>>> report = run.save("maps")                                   # doctest: +SKIP
>>> report.counts                                               # doctest: +SKIP
{'total': 200, 'ok': 198, 'failed': 2, 'skipped': 0}
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from dfcore import __version__
from dfcore.errors import DfindError, InputError
from dfcore.hookspecs import hookimpl
from dfcore.output import atomic_write, jsonable, write_json
from dfcore.pairing import Pairing, PairSpec, pair_directories, read_pairs_csv
from dfcore.pipeline import DiffResult, Finder, PairFailure, output_stem
from dfcore.plugins import Origin, one_line

if TYPE_CHECKING:
    from dfcore.registry import StageSpec

DEFAULT_BATCH_SIZE = 8
#: A batch stops growing once its images hold this many pixels (per side of the pair).
MAX_BATCH_PIXELS = 16 * 2**20
#: Decoded pairs waiting for the device, and maps waiting to be written, hold about this many
#: pixels at most (so 4096x4096 pairs are not read 16 at a time).
PREFETCH_PIXELS = 32 * 2**20
SUMMARY_CSV, SUMMARY_JSON = "summary.csv", "summary.json"
SUMMARY_COLUMNS = ("pair", "status", "score", "regions", "seconds", "error", "a", "b",
                   "auroc", "average_precision", "best_dice")
#: The columns a run against truth masks fills from each pair's :class:`~dfcore.evaluation.Evaluation`.
EVALUATION_COLUMNS = ("auroc", "average_precision", "best_dice")
#: Row statuses: computed now, failed (with ``error``), complete from an earlier run.
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


def default_workers() -> int:
    """Decoding threads when ``workers`` is not given: half the CPU cores, between 1 and 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


# -- summary rows and reports -----------------------------------------------------------------


@dataclass
class PairRow:
    """One line of the summary.

    ``seconds`` is the time spent reading the pair and computing its map (its share of the
    batch); writing its files is not counted. ``regions`` is ``None`` when no postprocessor
    detected regions. A ``skipped`` row carries the values of the earlier run that made it.
    With truth masks, the last three hold the map's scores against the pair's mask.
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

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in SUMMARY_COLUMNS}


def _row(spec: PairSpec, status: str, **values: Any) -> PairRow:
    return PairRow(spec.name, os.fspath(spec.a), os.fspath(spec.b), status, **values)


def _evaluation_values(evaluation: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The summary's evaluation columns from an evaluation (its ``to_dict()``), or nothing."""
    if not evaluation:
        return {}
    return {key: _float(evaluation.get(key)) for key in EVALUATION_COLUMNS}


def evaluation_means(rows: Sequence[PairRow]) -> dict[str, float] | None:
    """The mean of each evaluation column over the pairs that have it, or ``None`` without any."""
    means = {}
    for key in EVALUATION_COLUMNS:
        values = [v for v in (getattr(r, key) for r in rows if r.ok) if v is not None and math.isfinite(v)]
        if values:
            means[key] = sum(values) / len(values)
    return means or None


@dataclass
class BatchReport:
    """What a folder run did: one row per pair (sorted by name) and where it wrote them."""

    rows: list[PairRow]
    config: dict[str, Any]
    output: Path | None = None
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "local"})

    @property
    def counts(self) -> dict[str, int]:
        counts = {"total": len(self.rows), OK: 0, FAILED: 0, SKIPPED: 0}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    @property
    def failed(self) -> list[PairRow]:
        return [row for row in self.rows if row.status == FAILED]

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "dfind": __version__,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
            "counts": self.counts,
            "config": self.config,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "evaluation_mean": evaluation_means(self.rows),
            "pairs": [row.to_dict() for row in self.rows],
        })


def write_summary(report: BatchReport, output: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``summary.csv`` and ``summary.json`` atomically into ``output``; returns their paths."""
    output = Path(output)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for row in report.rows:
        writer.writerow([_csv_cell(getattr(row, key)) for key in SUMMARY_COLUMNS])
    csv_path = atomic_write(output / SUMMARY_CSV, lambda f: f.write(text.getvalue()), mode="w")
    json_path = write_json(output / SUMMARY_JSON, report.to_dict())
    report.files = {"csv": csv_path, "json": json_path}
    return report.files


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a folder run; ``report`` holds what was finished (and was written)."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__("interrupted")
        self.report = report


# -- planning and resume ----------------------------------------------------------------------


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


def pipeline_signature(config: dict[str, Any], ignore: Any = None) -> str:
    """The stages, parameters, input conventions and ignored pixels of a run, as text.

    Two runs with the same signature make the same maps. Versions, device and colormap are
    left out (a newer torch does not invalidate old maps). ``ignore`` is the ignore spec as
    :func:`dfcore.ignore.describe` records it.
    """
    def stage(record: dict[str, Any]) -> list[Any]:
        return [record.get("qualified_name") or record.get("name") or record.get("object"), record.get("params")]

    data = {
        "preprocessor": [stage(r) for r in config.get("preprocessor") or []],
        "metric": stage(config.get("metric") or {}),
        "strategy": stage(config.get("strategy") or {}),
        "postprocessor": [stage(r) for r in config.get("postprocessor") or []],
        "conventions": config.get("conventions"),
        "ignore": ignore,
    }
    return json.dumps(jsonable(data), sort_keys=True)


def read_complete(output: Path, spec: PairSpec, needs: Sequence[str] = ()) -> dict[str, Any] | None:
    """The JSON of a pair whose outputs are all in ``output``, or ``None`` if any is missing.

    ``needs``: entries the JSON must have (``"evaluation"``) and files it must list (``"a"``,
    ``"b"``: the previews of a report) for this run to count the pair as complete.
    """
    stem = output_stem(spec.name)
    path = output / f"{stem}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return None
    folder = path.parent
    if not all(isinstance(name, str) and (folder / name).is_file() for name in files.values()):
        return None
    if any(key not in data and key not in files for key in needs):
        return None
    return data


def plan_run(pairing: Pairing, output: str | os.PathLike[str], config: dict[str, Any], *,
             overwrite: bool = False, ignore: Any = None, needs: Sequence[str] = ()) -> RunPlan:
    """Decide what a run into ``output`` has to compute.

    Pairs whose outputs are complete and were made by the same pipeline (and ``ignore``
    spec) are skipped (their rows come from their JSON); ``overwrite`` redoes them; ``needs``
    are JSON entries or files a complete pair must have in this run (see
    :func:`read_complete`). Pairs whose output names collide (``001.png`` and ``001.jpg`` in
    A) are refused with the reason. Leftover temporary files of an interrupted run are
    removed.

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
    from dfcore.ignore import describe

    signature = pipeline_signature(config, describe(ignore))
    conflicts: list[str] = []
    for spec in pairing.pairs:
        clash = by_stem[output_stem(spec.name).lower()]
        if len(clash) > 1:
            others = ", ".join(s.name for s in clash if s is not spec)
            plan.refused.append(_row(spec, FAILED, error=(
                f"its output name {output_stem(spec.name)!r} is also that of {others}: rename one of them, "
                "or name the pairs in a --pairs file")))
            continue
        data = None if overwrite else read_complete(output, spec, needs)
        if data is None:
            plan.todo.append(spec)
        elif pipeline_signature(data.get("config") or {}, (data.get("inputs") or {}).get("ignore", {}).get("given")) \
                != signature:
            conflicts.append(f"{output_stem(spec.name)}.json")
        else:
            plan.done.append(row_from_json(spec, data, SKIPPED))
    if conflicts:
        raise InputError(
            f"{output} holds results of another pipeline ({len(conflicts)} pairs, e.g. {conflicts[0]}): "
            "choose another output folder, or pass --overwrite to replace them"
        )
    if output.is_dir():
        _remove_partial_files(output)
    return plan


def row_from_json(spec: PairSpec, data: dict[str, Any], status: str) -> PairRow:
    """The summary row of a pair whose outputs are complete, from its JSON (see :func:`read_complete`)."""
    return _row(spec, status, score=_float(data.get("score")),
                regions=len(data.get("regions") or []) if "mask_fraction" in data else None,
                seconds=_float(data.get("seconds")), **_evaluation_values(data.get("evaluation")))


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # "inf" and "nan" as written by jsonable()
    except (TypeError, ValueError):
        return None


def _remove_partial_files(output: Path) -> None:
    """Delete ``.NAME.*.part`` files that atomic writes of a killed run left behind."""
    for directory, subdirs, files in os.walk(output):
        for name in files:
            if name.startswith(".") and name.endswith(".part"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))


# -- decoding, batching, computing ------------------------------------------------------------


@dataclass
class LoadedPair:
    """A decoded pair on the host, checked: two 1xCxHxW tensors and what comes with them.

    ``valid`` is the 1x1xHxW mask of compared pixels an ignore spec leaves (``None``: all);
    ``truth`` the pair's ground-truth mask (HxW bool) and ``truth_source`` its file.
    """

    spec: PairSpec
    a: torch.Tensor
    b: torch.Tensor
    inputs: dict[str, Any]
    seconds: float
    valid: torch.Tensor | None = None
    truth: Any = None
    truth_source: str | None = None

    @property
    def shape(self) -> tuple[Any, ...]:
        """What pairs computed together must share: both images' shapes, and having a mask."""
        return tuple(self.a.shape[1:]), tuple(self.b.shape[1:]), self.valid is None

    @property
    def pixels(self) -> int:
        return int(self.a.shape[-1] * self.a.shape[-2])


def load_pair(finder: Finder, spec: PairSpec, *, ignore: Any = None, truth: Path | None = None) -> LoadedPair:
    """Decode both files of a pair on the host and check them as :meth:`Finder.run` does.

    Runs in a worker thread: the images (``Finder.load_pair``), the ignore mask
    (``Finder.ignored``) and, with a ``truth`` folder, the pair's truth mask.
    """
    from dfcore.pipeline import truth_file, truth_masks

    start = time.perf_counter()
    ta, tb, inputs = finder.load_pair(spec.a, spec.b, device="cpu")
    valid = finder.ignored(ignore, ta, inputs, device="cpu")
    mask = source = None
    if truth is not None:
        path = truth_file(truth, spec.name)
        (mask,) = truth_masks(path, 1, ta.shape[-2:])
        source = os.fspath(path)
    if finder.device.type == "cuda":
        ta, tb = ta.contiguous().pin_memory(), tb.contiguous().pin_memory()
    return LoadedPair(spec, ta, tb, inputs, time.perf_counter() - start, valid, mask, source)


def prefetch(pairs: Iterable[PairSpec], load: Callable[[PairSpec], LoadedPair], workers: int,
             ahead: int, max_pixels: int = PREFETCH_PIXELS) -> Iterator[tuple[PairSpec, LoadedPair | Exception]]:
    """Load pairs with ``workers`` threads ahead of their use; yield them in order.

    At most ``ahead`` pairs are loading or waiting, fewer once the pairs turn out large: the
    waiting pairs hold about ``max_pixels`` pixels per side at most (one is always ahead). A
    pair that fails to load is yielded with its exception. ``workers=0`` loads in the calling
    thread. Closing the iterator cancels the loads not yet started.
    """
    if workers <= 0:
        for spec in pairs:
            try:
                yield spec, load(spec)
            except Exception as exc:  # noqa: BLE001 -- recorded per pair by the caller
                yield spec, exc
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dfind-read")
    queue: collections.deque[tuple[PairSpec, Future[LoadedPair]]] = collections.deque()
    source = iter(pairs)
    window = max(1, ahead)
    try:
        while True:
            while len(queue) < window:
                following = next(source, None)
                if following is None:
                    break
                queue.append((following, pool.submit(load, following)))
            if not queue:
                return
            spec, future = queue.popleft()
            try:
                loaded: LoadedPair | Exception = future.result()
            except Exception as exc:  # noqa: BLE001
                loaded = exc
            if isinstance(loaded, LoadedPair):
                window = max(1, min(ahead, max_pixels // max(1, loaded.pixels)))
            yield spec, loaded
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def group_batches(items: Iterable[tuple[PairSpec, LoadedPair | Exception]], batch_size: int,
                  max_pixels: int = MAX_BATCH_PIXELS) -> Iterator[list[tuple[PairSpec, LoadedPair | Exception]]]:
    """Group consecutive loaded pairs of one shape (at most ``batch_size``, ``max_pixels``).

    Order is kept: a pair that failed to load, or of another shape, closes the current group.
    """
    group: list[tuple[PairSpec, LoadedPair | Exception]] = []
    pixels = 0
    for spec, loaded in items:
        if isinstance(loaded, Exception):
            if group:
                yield group
                group, pixels = [], 0
            yield [(spec, loaded)]
            continue
        size = loaded.pixels
        if group and (len(group) >= batch_size or pixels + size > max_pixels
                      or group[0][1].shape != loaded.shape):  # type: ignore[union-attr]
            yield group
            group, pixels = [], 0
        group.append((spec, loaded))
        pixels += size
    if group:
        yield group


def compute_group(finder: Finder, group: Sequence[LoadedPair]) -> list[DiffResult | Exception]:
    """Run one batch through the pipeline; if it fails, run its pairs one by one to pin the cause."""
    from dfcore.pipeline import evaluate_results

    start = time.perf_counter()
    try:
        a = torch.cat([item.a for item in group]).to(finder.device, non_blocking=True)
        b = torch.cat([item.b for item in group]).to(finder.device, non_blocking=True)
        valid = None
        if group[0].valid is not None:
            valid = torch.cat([item.valid for item in group]).to(finder.device, non_blocking=True)
        computed = finder.compute(a, b, valid)
        results = finder.results(computed, names=[item.spec.name for item in group])
        for item, result in zip(group, results):
            result.inputs = item.inputs
            if item.truth is not None:
                evaluate_results([result], [item.truth], item.truth_source)
    except Exception as exc:  # noqa: BLE001 -- recorded per pair by the caller
        if len(group) == 1:
            return [exc]
        return [outcome for item in group for outcome in compute_group(finder, [item])]
    share = (time.perf_counter() - start) / len(group)
    for item, result in zip(group, results):
        result.seconds = item.seconds + share
    return list(results)


def iter_results(finder: Finder, pairs: Iterable[PairSpec], *, batch_size: int = DEFAULT_BATCH_SIZE,
                 workers: int | None = None, ignore: Any = None,
                 truth: Path | None = None) -> Iterator[tuple[PairSpec, DiffResult | Exception]]:
    """Every pair's result (or the exception that stopped it), in the order of ``pairs``.

    ``ignore`` applies to every pair; ``truth`` is a folder of masks found by pair name.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    workers = default_workers() if workers is None else int(workers)
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    loaded = prefetch(pairs, lambda spec: load_pair(finder, spec, ignore=ignore, truth=truth), workers,
                      ahead=batch_size + 2 * max(workers, 1))
    try:
        for group in group_batches(loaded, batch_size):
            spec, first = group[0]
            if isinstance(first, Exception):
                yield spec, first
                continue
            items = [item for _, item in group]  # type: ignore[misc]
            yield from zip((item.spec for item in items), compute_group(finder, items))  # type: ignore[union-attr]
    finally:
        loaded.close()


# -- the worker: pairs in, files and rows out ---------------------------------------------------


class PairWorker:
    """Turns pairs into output files and summary rows with one pipeline, built once.

    Args:
        finder: the pipeline (its stages are built; an LPIPS network is loaded once).
        output: the folder for ``NAME.heatmap.png``, ``NAME.map.npy``, ``NAME.mask.png`` and
            ``NAME.json`` (written last: its presence means the pair is complete).
        batch_size: most pairs of one size computed together.
        workers: decoding threads (``0``: decode in the calling thread); also the number of
            threads that write files. Default: :func:`default_workers`.
        ignore: pixels not to compare, for every pair (see :meth:`Finder.run`).
        truth: a folder of ground-truth masks found by pair name (see :meth:`Finder.run_dirs`).
        colormap, vmax: the heatmaps' colour scale (see :meth:`DiffResult.save`).
        previews: also write ``NAME.a.png`` and ``NAME.b.png`` for an HTML report.

    :meth:`process` is all a distributed engine needs: give each worker a share of
    :attr:`RunPlan.todo` and gather the rows. :attr:`settings` are the keywords that make an
    equal worker elsewhere, around a pipeline rebuilt there (:class:`FinderRecipe`).
    """

    def __init__(self, finder: Finder, output: str | os.PathLike[str], *, batch_size: int = DEFAULT_BATCH_SIZE,
                 workers: int | None = None, ignore: Any = None, truth: str | os.PathLike[str] | None = None,
                 colormap: str | None = None, vmax: float | None = None, previews: bool = False) -> None:
        self.finder = finder
        self.output = Path(output)
        self.batch_size = int(batch_size)
        self.workers = default_workers() if workers is None else int(workers)
        self.ignore = ignore
        self.truth = Path(truth) if truth is not None else None
        self.display = {"colormap": colormap, "vmax": vmax, "previews": previews}
        if colormap is not None:
            from dfcore.output import colormap_lut

            colormap_lut(colormap)  # an unknown name fails now, not once per pair

    @property
    def settings(self) -> dict[str, Any]:
        """The keyword arguments (all but ``finder`` and ``output``) that make an equal worker."""
        return {"batch_size": self.batch_size, "workers": self.workers, "ignore": self.ignore, "truth": self.truth,
                **self.display}

    @property
    def needs(self) -> list[str]:
        """What a pair's JSON must hold for this worker's run to count it complete (:func:`read_complete`)."""
        return (["evaluation"] if self.truth is not None else []) + (["a", "b"] if self.display["previews"] else [])

    def process(self, pairs: Iterable[PairSpec]) -> Iterator[PairRow]:
        """Compute and write every pair; yield one row per pair as its files are complete.

        Rows come in completion order. On Ctrl-C the files being written are finished and
        their rows yielded before ``KeyboardInterrupt`` propagates.
        """
        for row, _ in self.process_results(pairs):
            yield row

    def process_results(self, pairs: Iterable[PairSpec]) -> Iterator[tuple[PairRow, DiffResult | None]]:
        """As :meth:`process`, with each row the :class:`DiffResult` written (``None`` if it failed)."""
        writers = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="dfind-write")
        pending: collections.deque[tuple[PairSpec, DiffResult, Future[None]]] = collections.deque()
        limit = max(2, self.batch_size) * 2

        def crowded() -> bool:
            return len(pending) > limit or sum(item[1].map.size for item in pending) > PREFETCH_PIXELS

        results = iter_results(self.finder, pairs, batch_size=self.batch_size, workers=self.workers,
                               ignore=self.ignore, truth=self.truth)
        try:
            for spec, outcome in results:
                if isinstance(outcome, Exception):
                    yield _row(spec, FAILED, error=_reason(outcome)), None
                    continue
                pending.append((spec, outcome, writers.submit(self._save, outcome, spec)))
                while pending and (pending[0][2].done() or (len(pending) > 1 and crowded())):
                    yield self._finish(*pending.popleft())
            while pending:
                yield self._finish(*pending.popleft())
        except KeyboardInterrupt:
            while pending:
                yield self._finish(*pending.popleft())
            raise
        finally:
            results.close()
            writers.shutdown(wait=True, cancel_futures=True)

    def _save(self, result: DiffResult, spec: PairSpec) -> None:
        result.save(self.output, spec.name, **self.display)

    @staticmethod
    def _finish(spec: PairSpec, result: DiffResult, future: Future[None]) -> tuple[PairRow, DiffResult | None]:
        try:
            future.result()
        except Exception as exc:  # noqa: BLE001
            return _row(spec, FAILED, error=f"cannot write its outputs: {_reason(exc)}"), None
        regions = len(result.regions) if result.mask is not None else None
        evaluation = result.evaluation.to_dict() if result.evaluation is not None else None
        return _row(spec, OK, score=result.score, regions=regions, seconds=result.seconds,
                    **_evaluation_values(evaluation)), result


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, DfindError) else one_line(exc)


# -- engines: who computes the pairs to do ------------------------------------------------------

#: Called with each row as it is known, and the result written for it (``None`` if it failed,
#: was complete before the run, or was computed in another process).
RowCallback = Callable[[PairRow, "DiffResult | None"], None]


class Engine(Protocol):
    """Computes the pairs a plan left to do; :func:`run_batch` does everything else.

    ``process(worker, pairs)`` yields one ``(row, result)`` per pair, in any order, as each
    pair's files are complete: ``worker`` is the :class:`PairWorker` of this process (its
    :attr:`~PairWorker.finder`, :attr:`~PairWorker.output` and :attr:`~PairWorker.settings`
    say what to build elsewhere); ``result`` is ``None`` when the map stayed in another
    process. When the caller stops iterating (Ctrl-C), the engine stops its work and returns.
    ``describe()`` is recorded in ``summary.json`` under ``engine``.
    """

    name: str

    def process(self, worker: PairWorker, pairs: Sequence[PairSpec]) -> Iterator[tuple[PairRow, DiffResult | None]]:
        ...

    def describe(self) -> dict[str, Any]:
        ...


class LocalEngine:
    """The default engine: every pair in this process, by the worker itself."""

    name = "local"

    def process(self, worker: PairWorker, pairs: Sequence[PairSpec]) -> Iterator[tuple[PairRow, DiffResult | None]]:
        return worker.process_results(pairs)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


ENGINES = ("local", "ray")


def resolve_engine(engine: Engine | str | None) -> Engine:
    """``None`` or ``"local"``: :class:`LocalEngine`; ``"ray"``: a :class:`~dfcore.ray_engine.RayEngine`
    with its defaults (a local Ray instance); an engine object is returned as it is.

    Raises:
        EngineError: ``"ray"`` without Ray installed (the message says how to install it).
    """
    if engine is None or engine == "local":
        return LocalEngine()
    if engine == "ray":
        from dfcore.ray_engine import RayEngine

        return RayEngine()
    if isinstance(engine, str):
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} or an engine object, got {engine!r}")
    return engine


def recover_rows(output: Path, pairs: Iterable[PairSpec], needs: Sequence[str], reason: str | None
                 ) -> list[PairRow]:
    """Rows for pairs whose outcome never reached the driver (a worker stopped or died).

    A pair whose outputs are complete in ``output`` (its JSON was written last) is ``ok``
    with the values of its JSON; the others are ``failed`` with ``reason``, or left out when
    ``reason`` is ``None`` (an interrupted run: the next run computes them).
    """
    rows = []
    for spec in pairs:
        data = read_complete(output, spec, needs)
        if data is not None:
            rows.append(row_from_json(spec, data, OK))
        elif reason is not None:
            rows.append(_row(spec, FAILED, error=reason))
    return rows


# -- rebuilding the pipeline in another process ------------------------------------------------


@dataclass(frozen=True)
class FinderRecipe:
    """What rebuilds a :class:`Finder` in another process, with the same configuration.

    Stages offered by installed plugins travel as ``(qualified_name, params)`` and are built
    there from that process's registry (so an LPIPS network is loaded once per process, not
    shipped). Stages registered in this process (``register_metric``, an in-process plugin)
    travel with their records and are registered there under the same plugin name; stage
    objects given to the :class:`Finder` directly travel as they are. The rebuilt pipeline's
    :attr:`Finder.config` equals this one's but for the device, so what it writes resumes
    and compares as this process's results do. The recipe must be picklable the way the
    engine ships it (Ray uses cloudpickle, which also takes functions defined in ``__main__``).
    """

    stages: dict[str, Any]
    shipped: tuple[tuple[Origin, tuple[tuple[str, StageSpec], ...]], ...]
    preset: str
    device: str
    conventions: tuple[bool, int, str]
    autoload: bool

    @classmethod
    def of(cls, finder: Finder) -> FinderRecipe:
        """The recipe of ``finder``."""
        shipped: dict[Origin, list[tuple[str, StageSpec]]] = collections.defaultdict(list)
        autoload = False

        def ref(built: Any) -> Any:
            nonlocal autoload
            qualified = built.record.get("qualified_name")
            if not qualified:
                return built.obj
            stage = finder.registry.find(built.kind, qualified)
            if stage.origin.distribution is None:
                shipped[stage.origin].append((built.kind, stage.spec))
            elif not stage.origin.first_party:
                autoload = True
            return (qualified, dict(built.record.get("params") or {}))

        stages = {
            "preprocessor": [ref(s) for s in finder.preprocessors],
            "metric": ref(finder.metric),
            "strategy": ref(finder.strategy),
            "postprocessor": [ref(s) for s in finder.postprocessors],
        }
        conventions = finder.conventions
        return cls(stages, tuple((origin, tuple(specs)) for origin, specs in shipped.items()), finder.preset,
                   str(finder.device), (conventions.y_channel, conventions.crop_border, conventions.size_policy),
                   autoload)

    def build(self, device: str | torch.device | None = None) -> Finder:
        """The pipeline, built here: on ``device``, or on the original pipeline's device."""
        from dfcore.registry import create_registry

        registry = create_registry(autoload=self.autoload)
        for origin, specs in self.shipped:
            registry.register(_ShippedStages(specs), origin.plugin, origin)
        y_channel, crop_border, size_policy = self.conventions
        finder = Finder(**self.stages, device=self.device if device is None else device, registry=registry,
                        y_channel=y_channel, crop_border=crop_border, size_policy=size_policy)
        finder.preset = self.preset  # every stage was given, so the preset only names the origin
        return finder


class _ShippedStages:
    """An in-process plugin offering, in another process, the stages a recipe carried."""

    def __init__(self, specs: Sequence[tuple[str, StageSpec]]) -> None:
        self.specs = list(specs)

    def _of(self, kind: str) -> list[StageSpec]:
        return [spec for spec_kind, spec in self.specs if spec_kind == kind]

    @hookimpl
    def dfind_preprocessors(self) -> list[StageSpec]:
        return self._of("preprocessor")

    @hookimpl
    def dfind_metrics(self) -> list[StageSpec]:
        return self._of("metric")

    @hookimpl
    def dfind_strategies(self) -> list[StageSpec]:
        return self._of("strategy")

    @hookimpl
    def dfind_postprocessors(self) -> list[StageSpec]:
        return self._of("postprocessor")


# -- running a folder: plan, engine, summary ------------------------------------------------------


def run_batch(finder: Finder, pairing: Pairing, output: str | os.PathLike[str], *, overwrite: bool = False,
              batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None, ignore: Any = None,
              truth: str | os.PathLike[str] | None = None, colormap: str | None = None, vmax: float | None = None,
              previews: bool = False, progress: bool | None = None, on_row: RowCallback | None = None,
              engine: Engine | str | None = None) -> BatchReport:
    """Compare every pair into ``output`` with resume, a progress bar and a summary.

    ``progress=None`` shows a bar (rate, ETA) only when stderr is a terminal. ``on_row`` is
    called with each pair's row as it is known (what it prints does not break the bar). On
    Ctrl-C the summary of what finished is written and :class:`BatchInterrupted` (a
    ``KeyboardInterrupt``) is raised with the report. ``engine`` computes the pairs to do:
    ``"local"`` (the default, this process) or ``"ray"`` (:mod:`dfcore.ray_engine`), or an
    engine object; planning, resume and the summary are the same whichever computes. The
    other options are those of :class:`PairWorker`.
    """
    start = time.perf_counter()
    engine = resolve_engine(engine)
    config = finder.config
    worker = PairWorker(finder, output, batch_size=batch_size, workers=workers, ignore=ignore, truth=truth,
                        colormap=colormap, vmax=vmax, previews=previews)
    plan = plan_run(pairing, output, config, overwrite=overwrite, ignore=ignore, needs=worker.needs)
    plan.output.mkdir(parents=True, exist_ok=True)
    rows = list(plan.rows_before)
    bar = _progress_bar(len(pairing.pairs), len(rows), progress)
    failed = len(plan.refused)

    def tell(row: PairRow, result: DiffResult | None) -> None:
        if on_row is None:
            return
        if bar is None:
            on_row(row, result)
            return
        with bar.external_write_mode():
            on_row(row, result)

    interrupted = False
    outcomes = engine.process(worker, plan.todo) if plan.todo else iter(())
    try:
        for row in plan.refused:
            tell(row, None)
        for row, result in outcomes:
            rows.append(row)
            failed += row.status == FAILED
            if bar is not None:
                if failed:
                    bar.set_postfix_str(f"{failed} failed", refresh=False)
                bar.update(1)
            tell(row, result)
    except KeyboardInterrupt:
        interrupted = True
        rows.extend(_close_interrupted(outcomes))
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        if bar is not None:
            bar.close()
    rows.sort(key=lambda r: r.pair)
    report = BatchReport(rows, config, plan.output, list(pairing.only_a), list(pairing.only_b), interrupted,
                         time.perf_counter() - start, engine=engine.describe())
    write_summary(report, plan.output)
    if interrupted:
        raise BatchInterrupted(report)
    return report


def _close_interrupted(outcomes: Iterator[tuple[PairRow, DiffResult | None]]) -> list[PairRow]:
    """Ctrl-C arrived outside the engine: pass it in, and keep the rows it still has to tell.

    An engine stopped this way finishes the files it is writing (or learns which pairs of its
    workers are complete) and yields their rows before re-raising; one that already stopped
    re-raises at once.
    """
    throw = getattr(outcomes, "throw", None)
    rows: list[PairRow] = []
    if throw is None:
        return rows
    try:
        row, _ = throw(KeyboardInterrupt)
        rows.append(row)
        rows.extend(row for row, _ in outcomes)
    except (KeyboardInterrupt, StopIteration):
        pass
    return rows


def _progress_bar(total: int, initial: int, enabled: bool | None) -> Any:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="pair", desc="dfind", dynamic_ncols=True, file=sys.stderr,
                smoothing=0.1)


# -- the Python face --------------------------------------------------------------------------


class DirRun:
    """The pairs of a folder run; iterate for one result per pair, or :meth:`save` them all.

    ``pairing.only_a`` and ``pairing.only_b`` list the files present on one side only.
    Iterating decodes in the background and computes same-size pairs in batches, yielding a
    :class:`DiffResult` per pair in name order. With ``on_error="record"`` a pair that fails
    yields a :class:`PairFailure` and the run goes on; with ``"raise"`` (the default) the
    error propagates. ``ignore`` applies to every pair; ``truth`` is a folder of masks.
    """

    def __init__(self, finder: Finder, pairing: Pairing, on_error: str = "raise", *,
                 truth: str | os.PathLike[str] | None = None, ignore: Any = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None) -> None:
        if on_error not in ("raise", "record"):
            raise ValueError("on_error must be 'raise' or 'record'")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.finder = finder
        self.pairing = pairing
        self.on_error = on_error
        self.truth = Path(truth) if truth is not None else None
        self.ignore = ignore
        self.batch_size = int(batch_size)
        self.workers = workers

    def __len__(self) -> int:
        return len(self.pairing.pairs)

    def __iter__(self) -> Iterator[DiffResult | PairFailure]:
        results = iter_results(self.finder, self.pairing.pairs, batch_size=self.batch_size, workers=self.workers,
                               ignore=self.ignore, truth=self.truth)
        try:
            for spec, outcome in results:
                if isinstance(outcome, Exception):
                    if self.on_error == "raise":
                        raise outcome
                    yield PairFailure(spec.name, spec.a, spec.b, _reason(outcome))
                else:
                    yield outcome
        finally:
            results.close()

    def save(self, output: str | os.PathLike[str], *, overwrite: bool = False, colormap: str | None = None,
             vmax: float | None = None, previews: bool = False, progress: bool | None = None,
             on_row: RowCallback | None = None, engine: Engine | str | None = None) -> BatchReport:
        """Write every pair's files and ``summary.csv``/``summary.json`` into ``output``.

        Pairs already complete in ``output`` are skipped (``overwrite=True`` redoes them);
        failures are recorded whatever ``on_error`` says. ``engine``: ``"local"`` (default),
        ``"ray"`` or an engine such as ``RayEngine(address="auto", workers=8, gpus_per_worker=1)``
        (:mod:`dfcore.ray_engine`). See :func:`run_batch`.
        """
        return run_batch(self.finder, self.pairing, output, overwrite=overwrite, batch_size=self.batch_size,
                         workers=self.workers, ignore=self.ignore, truth=self.truth, colormap=colormap, vmax=vmax,
                         previews=previews, progress=progress, on_row=on_row, engine=engine)


def make_pairing(dir_a: str | os.PathLike[str] | None, dir_b: str | os.PathLike[str] | None,
                 pairs: str | os.PathLike[str] | None = None, recursive: bool = True) -> Pairing:
    """Two folders paired by relative path, or the pairs of a CSV file (see :mod:`dfcore.pairing`)."""
    if pairs is not None:
        return read_pairs_csv(pairs, dir_a, dir_b)
    if dir_a is None or dir_b is None:
        raise InputError("give two folders to compare, or a pairs file")
    return pair_directories(dir_a, dir_b, recursive)


__all__ = [
    "BatchInterrupted",
    "BatchReport",
    "DirRun",
    "Engine",
    "FinderRecipe",
    "LoadedPair",
    "LocalEngine",
    "PairRow",
    "PairWorker",
    "RunPlan",
    "iter_results",
    "load_pair",
    "make_pairing",
    "pipeline_signature",
    "plan_run",
    "read_complete",
    "recover_rows",
    "resolve_engine",
    "row_from_json",
    "run_batch",
    "write_summary",
]
