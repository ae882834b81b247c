"""Turning pairs into results and files: decoding ahead, same-size batches, writing behind.

The pieces, each usable on its own (every engine reuses them):

* :func:`load_pair` decodes a pair on the host and checks it as :meth:`Pipeline.run` does;
  :func:`prefetch` runs it in a thread pool ahead of the device;
* :func:`group_batches` groups consecutive pairs of one size, and :func:`compute_group`
  runs a group through :meth:`Pipeline.compute` as one batch (pair by pair when the batch
  fails, so a failure is pinned to its pair);
* :func:`iter_results` chains them: every pair's result, or the exception that stopped it;
* :class:`PairWorker` writes each result's files with another thread pool and yields the
  summary rows; it is all a distributed engine needs. It claims each pair before computing
  it (:mod:`dfcore.runs.claims`), so runs sharing an output folder split the pairs between
  them instead of computing one pair twice at once.

A pair with a ``reference`` (``dfind compare`` on folders) is a comparison: the reference is
the truth both images are measured against, and its result is a
:class:`~dfcore.pipeline.compare.CompareResult`.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dfcore.errors import DfindError, one_line
from dfcore.io.layout import FAILED, FOLDER_OUTPUTS, OK, SKIPPED, complete_pair, output_roles, parse_outputs
from dfcore.io.masks import describe
from dfcore.io.pairing import PairSpec, matching_file
from dfcore.io.render import colormap_lut
from dfcore.pipeline import CompareResult, DiffResult, Pipeline
from dfcore.pipeline.truth import evaluate_results, truth_masks
from dfcore.runs.claims import PairClaims
from dfcore.runs.plan import made_from, pipeline_signature, record_signature
from dfcore.runs.summary import PairRow, evaluation_values, make_row, row_from_record

DEFAULT_BATCH_SIZE = 8
#: A batch stops growing once its images hold this many pixels (per side of the pair).
MAX_BATCH_PIXELS = 16 * 2**20
#: Decoded pairs waiting for the device, and maps waiting to be written, hold about this many
#: pixels at most (so 4096x4096 pairs are not read 16 at a time).
PREFETCH_PIXELS = 32 * 2**20


def default_workers() -> int:
    """Decoding threads when ``workers`` is not given: half the CPU cores, between 1 and 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass
class LoadedPair:
    """A decoded pair on the host, checked: two 1xCxHxW tensors and what comes with them.

    ``valid`` is the 1x1xHxW mask of compared pixels an ignore spec leaves (``None``: all);
    ``truth`` the pair's ground-truth mask (HxW bool) and ``truth_source`` its file;
    ``reference`` the truth image of a comparison (1xCxHxW), ``None`` for a plain pair.
    """

    spec: PairSpec
    a: torch.Tensor
    b: torch.Tensor
    inputs: dict[str, Any]
    seconds: float
    valid: torch.Tensor | None = None
    truth: Any = None
    truth_source: str | None = None
    reference: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[Any, ...]:
        """What pairs computed together must share: the images' shapes, and having a mask."""
        reference = tuple(self.reference.shape[1:]) if self.reference is not None else None
        return tuple(self.a.shape[1:]), tuple(self.b.shape[1:]), self.valid is None, reference

    @property
    def pixels(self) -> int:
        return int(self.a.shape[-1] * self.a.shape[-2])


def load_pair(pipeline: Pipeline, spec: PairSpec, *, ignore: Any = None, truth: Path | None = None) -> LoadedPair:
    """Decode the files of a pair on the host and check them as :meth:`Pipeline.run` does.

    Runs in a worker thread: the images (:meth:`Pipeline.load_pair`, or
    :meth:`Pipeline.load_triple` for a comparison), the ignore mask (:meth:`Pipeline.ignored`)
    and, with a ``truth`` folder, the pair's truth mask.
    """
    start = time.perf_counter()
    reference = None
    if spec.reference is not None:
        reference, ta, tb, inputs = pipeline.load_triple(spec.reference, spec.a, spec.b, device="cpu")
    else:
        ta, tb, inputs = pipeline.load_pair(spec.a, spec.b, device="cpu")
    grid = reference if reference is not None else ta
    valid = pipeline.ignored(ignore, grid, inputs, device="cpu")
    mask = source = None
    if truth is not None:
        path = matching_file(truth, spec.name, "truth mask")
        (mask,) = truth_masks(path, 1, grid.shape[-2:])
        source = os.fspath(path)
    if pipeline.device.type == "cuda":
        ta, tb = ta.contiguous().pin_memory(), tb.contiguous().pin_memory()
        reference = reference.contiguous().pin_memory() if reference is not None else None
    return LoadedPair(spec, ta, tb, inputs, time.perf_counter() - start, valid, mask, source, reference)


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


def compute_group(pipeline: Pipeline, group: Sequence[LoadedPair], previews: bool = True
                  ) -> list[DiffResult | Exception]:
    """Run one batch through the pipeline; if it fails, run its pairs one by one to pin the cause.

    ``previews=False``: the results carry no 8-bit pictures of A and B (:meth:`Pipeline.results`).
    """
    start = time.perf_counter()
    device = pipeline.device

    def stacked(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(tensors)).to(device, non_blocking=True)

    try:
        a, b = stacked([item.a for item in group]), stacked([item.b for item in group])
        valid = stacked([item.valid for item in group]) if group[0].valid is not None else None
        names = [item.spec.name for item in group]
        if group[0].reference is not None:
            reference = stacked([item.reference for item in group])
            results: list[DiffResult] = list(pipeline.compare_tensors(reference, a, b, valid, names=names))
        else:
            results = pipeline.results(pipeline.compute(a, b, valid), names=names, previews=previews)
        for item, result in zip(group, results):
            result.inputs = item.inputs
            if item.truth is not None:
                evaluate_results([result], [item.truth], item.truth_source)
    except Exception as exc:  # noqa: BLE001 -- recorded per pair by the caller
        if len(group) == 1:
            return [exc]
        return [outcome for item in group for outcome in compute_group(pipeline, [item], previews)]
    share = (time.perf_counter() - start) / len(group)
    for item, result in zip(group, results):
        result.seconds = item.seconds + share
    return list(results)


def iter_results(pipeline: Pipeline, pairs: Iterable[PairSpec], *, batch_size: int = DEFAULT_BATCH_SIZE,
                 workers: int | None = None, ignore: Any = None, truth: Path | None = None,
                 previews: bool = True) -> Iterator[tuple[PairSpec, DiffResult | Exception]]:
    """Every pair's result (or the exception that stopped it), in the order of ``pairs``.

    ``ignore`` applies to every pair; ``truth`` is a folder of masks found by pair name;
    ``previews=False`` leaves the 8-bit pictures of A and B out of the results.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    workers = default_workers() if workers is None else int(workers)
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    loaded = prefetch(pairs, lambda spec: load_pair(pipeline, spec, ignore=ignore, truth=truth), workers,
                      ahead=batch_size + 2 * max(workers, 1))
    try:
        for group in group_batches(loaded, batch_size):
            spec, first = group[0]
            if isinstance(first, Exception):
                yield spec, first
                continue
            items = [item for _, item in group]  # type: ignore[misc]
            outcomes = compute_group(pipeline, items, previews)  # type: ignore[arg-type]
            yield from zip((item.spec for item in items), outcomes)  # type: ignore[union-attr]
    finally:
        loaded.close()


# -- the worker: pairs in, files and rows out ---------------------------------------------------


class PairWorker:
    """Turns pairs into output files and summary rows with one pipeline, built once.

    Args:
        pipeline: the pipeline (its stages are built; an LPIPS network is loaded once).
        output: the folder for ``NAME.heatmap.png``, ``NAME.map.npy``, ``NAME.mask.png`` and
            ``NAME.json`` (written last: its presence means the pair is complete).
        batch_size: most pairs of one size computed together.
        workers: decoding threads (``0``: decode in the calling thread); also the number of
            threads that write files. Default: :func:`default_workers`.
        ignore: pixels not to compare, for every pair (see :meth:`Pipeline.run`).
        truth: a folder of ground-truth masks found by pair name (see :meth:`dfcore.Finder.run_dirs`).
        colormap, vmax: the heatmaps' colour scale (see :meth:`DiffResult.save`).
        previews: also write ``NAME.a.png`` and ``NAME.b.png`` for an HTML report.
        outputs: the files to write (names of :data:`~dfcore.io.layout.OUTPUTS`, a list or
            ``"heatmap,npy"``); ``None``: :data:`~dfcore.io.layout.FOLDER_OUTPUTS`. The JSON
            record is always written, and a pair counts as complete for the outputs asked.
        overwrite: compute every pair given, even one that another run sharing the folder
            completed meanwhile (without it such a pair's row is ``skipped``).

    :meth:`process` is all a distributed engine needs: give each worker a share of
    :attr:`~dfcore.runs.plan.RunPlan.todo` and gather the rows. :attr:`settings` are the keywords
    that make an equal worker elsewhere, around a pipeline rebuilt there
    (:class:`~dfcore.runs.recipe.FinderRecipe`).
    """

    def __init__(self, pipeline: Pipeline, output: str | os.PathLike[str], *, batch_size: int = DEFAULT_BATCH_SIZE,
                 workers: int | None = None, ignore: Any = None, truth: str | os.PathLike[str] | None = None,
                 colormap: str | None = None, vmax: float | None = None, previews: bool = False,
                 outputs: str | Sequence[str] | None = None, overwrite: bool = False) -> None:
        self.pipeline = pipeline
        self.output = Path(output)
        self.batch_size = int(batch_size)
        self.workers = default_workers() if workers is None else int(workers)
        self.ignore = ignore
        self.truth = Path(truth) if truth is not None else None
        self.display = {"colormap": colormap, "vmax": vmax, "previews": previews}
        self.outputs = parse_outputs(outputs, FOLDER_OUTPUTS)
        self.overwrite = bool(overwrite)
        if colormap is not None:
            colormap_lut(colormap)  # an unknown name fails now, not once per pair

    @property
    def settings(self) -> dict[str, Any]:
        """The keyword arguments (all but ``pipeline`` and ``output``) that make an equal worker."""
        return {"batch_size": self.batch_size, "workers": self.workers, "ignore": self.ignore, "truth": self.truth,
                "outputs": self.outputs, "overwrite": self.overwrite, **self.display}

    @property
    def needs(self) -> list[str]:
        """What a pair's record must hold for this worker's run to count it complete (:func:`~dfcore.io.layout.complete_pair`)."""
        return ((["evaluation"] if self.truth is not None else []) + (["a", "b"] if self.display["previews"] else [])
                + output_roles(self.outputs))

    def process(self, pairs: Iterable[PairSpec]) -> Iterator[PairRow]:
        """Compute and write every pair; yield one row per pair as its files are complete.

        Rows come in completion order. On Ctrl-C the files being written are finished and
        their rows yielded before ``KeyboardInterrupt`` propagates. A pair that another run
        sharing the output folder is computing is left to it: its row comes once that run is
        done with it (``skipped`` when it completed it; computed here when it did not).
        """
        for row, _ in self.process_results(pairs):
            yield row

    def process_results(self, pairs: Iterable[PairSpec]) -> Iterator[tuple[PairRow, DiffResult | None]]:
        """As :meth:`process`, with each row the :class:`DiffResult` written (``None`` if it failed).

        A result carries :attr:`~DiffResult.previews` only when the worker writes them
        (``previews=True``, for a report).
        """
        with PairClaims(self.output) as claims:
            todo = list(pairs)
            while todo:
                aside: list[PairSpec] = []
                yield from self._compute(claims, todo, aside)
                claims.wait_for([spec.name for spec in aside])
                todo = aside

    def _compute(self, claims: PairClaims, pairs: Sequence[PairSpec], aside: list[PairSpec]
                 ) -> Iterator[tuple[PairRow, DiffResult | None]]:
        """One pass over ``pairs``: those claimed are computed and written; those held by another run go ``aside``."""
        writers = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="dfind-write")
        pending: collections.deque[tuple[PairSpec, DiffResult, Future[None]]] = collections.deque()
        settled: collections.deque[PairRow] = collections.deque()  # complete meanwhile: nothing to compute
        limit = max(2, self.batch_size) * 2

        def crowded() -> bool:
            return len(pending) > limit or sum(item[1].map.size for item in pending) > PREFETCH_PIXELS

        def claimed() -> Iterator[PairSpec]:
            for spec in pairs:
                if not claims.take(spec.name):
                    aside.append(spec)
                    continue
                row = self._settled(spec)
                if row is None:
                    yield spec
                else:
                    claims.release(spec.name)
                    settled.append(row)

        def finish(spec: PairSpec, result: DiffResult, future: Future[None]) -> tuple[PairRow, DiffResult | None]:
            try:
                return self._finish(spec, result, future)
            finally:
                claims.release(spec.name)

        results = iter_results(self.pipeline, claimed(), batch_size=self.batch_size, workers=self.workers,
                               ignore=self.ignore, truth=self.truth, previews=self.display["previews"])
        try:
            for spec, outcome in results:
                while settled:
                    yield settled.popleft(), None
                if isinstance(outcome, Exception):
                    claims.release(spec.name)
                    yield make_row(spec, FAILED, error=reason(outcome)), None
                    continue
                pending.append((spec, outcome, writers.submit(self._save, outcome, spec)))
                while pending and (pending[0][2].done() or (len(pending) > 1 and crowded())):
                    yield finish(*pending.popleft())
            while pending:
                yield finish(*pending.popleft())
            while settled:
                yield settled.popleft(), None
        except KeyboardInterrupt:
            while pending:
                yield finish(*pending.popleft())
            raise
        finally:
            results.close()
            writers.shutdown(wait=True, cancel_futures=True)

    def _settled(self, spec: PairSpec) -> PairRow | None:
        """The row of a pair that another run completed after this run was planned, or ``None`` to compute it.

        A pair completed by a run of another pipeline fails here rather than be replaced.
        """
        if self.overwrite:
            return None
        data = complete_pair(self.output, spec.name, self.needs)
        if data is None or not made_from(spec, data):  # not there, or made from files the name no longer stands for
            return None
        defaults = self.pipeline.param_defaults
        if record_signature(data, defaults) != pipeline_signature(self.pipeline.config, describe(self.ignore), defaults):
            return make_row(spec, FAILED, error="another run wrote this pair with another pipeline meanwhile; "
                                                "rerun with --overwrite to replace it, or use another output folder")
        return row_from_record(spec, data, SKIPPED)

    def _save(self, result: DiffResult, spec: PairSpec) -> None:
        result.save(self.output, spec.name, outputs=self.outputs, **self.display)

    @staticmethod
    def _finish(spec: PairSpec, result: DiffResult, future: Future[None]) -> tuple[PairRow, DiffResult | None]:
        try:
            future.result()
        except Exception as exc:  # noqa: BLE001
            return make_row(spec, FAILED, error=f"cannot write its outputs: {reason(exc)}"), None
        regions = len(result.regions) if result.mask is not None else None
        evaluation = result.evaluation.to_dict() if result.evaluation is not None else None
        sides = ({"score_a": result.score_a, "score_b": result.score_b, "better": result.better}
                 if isinstance(result, CompareResult) else {})
        return make_row(spec, OK, score=result.score, regions=regions, seconds=result.seconds,
                        **evaluation_values(evaluation), **sides), result


def reason(exc: BaseException) -> str:
    """How a pair's failure is told: a dfind error's own line, or the exception type and first line."""
    return str(exc) if isinstance(exc, DfindError) else one_line(exc)


__all__ = ["DEFAULT_BATCH_SIZE", "LoadedPair", "PairWorker", "compute_group", "default_workers", "group_batches",
           "iter_results", "load_pair", "prefetch", "reason"]
