"""Running a folder: plan, engine, summary -- the one runner behind every folder run.

:func:`run_batch` plans a run into an output folder (resume), hands the pairs left to do to
an engine (:mod:`dfcore.runs.engines`), writes the summary, and on Ctrl-C keeps what is done.
:class:`DirRun` is its Python face for two folders (``Finder().run("refs", "outputs")``),
:class:`CompareRun` for three (``Finder().compare("gt", "ours", "theirs")``): iterate one for
a result per pair, or call ``save(output)`` to run it into a folder.

>>> run = Finder(metric="ssim", strategy="gradient").run_dirs("refs", "outputs")  # doctest: +SKIP
>>> report = run.save("maps")                                   # doctest: +SKIP
>>> report.counts                                               # doctest: +SKIP
{'total': 200, 'ok': 198, 'failed': 2, 'skipped': 0}
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dfcore.io.files import check_writable
from dfcore.io.layout import FAILED
from dfcore.io.pairing import Pairing, Triples, make_pairing  # make_pairing: a name of dfcore.runs too
from dfcore.pipeline import DiffResult, PairFailure, Pipeline
from dfcore.runs.engines import Engine, RowCallback, resolve_engine
from dfcore.runs.plan import plan_run, remove_stale_files
from dfcore.runs.summary import BatchInterrupted, BatchReport, PairRow
from dfcore.runs.worker import DEFAULT_BATCH_SIZE, PairWorker, iter_results, reason

ON_ERROR = ("raise", "record")


def check_on_error(on_error: str) -> str:
    """``on_error`` of a folder run: ``raise`` (the first failure propagates) or ``record`` (it is kept)."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    return on_error


def run_batch(finder: Pipeline, pairing: Pairing, output: str | os.PathLike[str], *, overwrite: bool = False,
              batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None, ignore: Any = None,
              truth: str | os.PathLike[str] | None = None, colormap: str | None = None, vmax: float | None = None,
              previews: bool = False, progress: bool | None = None, on_row: RowCallback | None = None,
              engine: Engine | str | None = None, outputs: str | Sequence[str] | None = None,
              fail_above: float | None = None) -> BatchReport:
    """Compare every pair into ``output`` with resume, a progress bar and a summary.

    ``progress=None`` shows a bar (rate, ETA) only when stderr is a terminal. ``on_row`` is
    called with each pair's row as it is known (what it prints does not break the bar): first
    the pairs an earlier run completed (``skipped``) and those refused, with no result (a
    result's 8-bit ``previews`` are there only with ``previews=True``). On
    Ctrl-C the summary of what finished is written and :class:`BatchInterrupted` (a
    ``KeyboardInterrupt``) is raised with the report. ``engine`` computes the pairs to do:
    ``"local"`` (the default, this process) or ``"ray"`` (:mod:`dfcore.runs.engines.ray`), or an
    engine object; planning, resume and the summary are the same whichever computes.
    ``outputs`` chooses the files of each pair (``None``: :data:`~dfcore.io.layout.FOLDER_OUTPUTS`);
    a pair an earlier run completed counts as done when it has the outputs asked.
    ``fail_above`` is recorded in the summary as the threshold the run is gated with (it
    changes nothing here; ``dfind approve --failing`` reads it). The other options are those
    of :class:`PairWorker`.
    """
    start = time.perf_counter()
    engine = resolve_engine(engine)
    config = finder.config
    worker = PairWorker(finder, output, batch_size=batch_size, workers=workers, ignore=ignore, truth=truth,
                        colormap=colormap, vmax=vmax, previews=previews, overwrite=overwrite, outputs=outputs)
    check_writable(output)  # before anything is computed: a read-only folder fails now, not at every pair
    plan = plan_run(pairing, output, config, overwrite=overwrite, ignore=ignore, needs=worker.needs,
                    defaults=finder.param_defaults)
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
        for row in (*plan.rows_before, *plan.refused):  # complete from an earlier run, refused: no result
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
    kind = "compare" if any(spec.reference is not None for spec in pairing.pairs) else "diff"
    report = BatchReport(rows, config, plan.output, list(pairing.only_a), list(pairing.only_b), interrupted,
                         time.perf_counter() - start, engine=engine.describe(), kind=kind, pairing=dict(pairing.rule),
                         only_truth=list(pairing.only_truth), folders=dict(pairing.folders), fail_above=fail_above)
    report.write(plan.output)
    remove_stale_files(plan.output)  # temporary files of writers that died during the run
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


#: The bar's terminal size (columns, rows) when the terminal reports none (0x0: some CI runners,
#: serial consoles); tqdm would then take -1 rows and hide its bar.
FALLBACK_SIZE = (80, 24)


def _progress_bar(total: int, initial: int, enabled: bool | None) -> Any:
    """A tqdm bar on stderr; it follows the terminal's size, or takes :data:`FALLBACK_SIZE` when
    the terminal reports none."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    sized = _terminal_sized(sys.stderr)
    columns, rows = (None, None) if sized else FALLBACK_SIZE
    return tqdm(total=total, initial=initial, unit="pair", desc="dfind", dynamic_ncols=sized, ncols=columns,
                nrows=rows, file=sys.stderr, smoothing=0.1)


def _terminal_sized(stream: Any) -> bool:
    """Whether ``stream``'s terminal reports a size (columns and rows above 0)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns > 0 and size.lines > 0


# -- the Python face --------------------------------------------------------------------------


class DirRun:
    """The pairs of a folder run; iterate for one result per pair, or :meth:`save` them all.

    ``pairing.only_a`` and ``pairing.only_b`` list the files present on one side only, and
    ``pairing.rule`` how the folders were paired.
    Iterating decodes in the background and computes same-size pairs in batches, yielding a
    :class:`DiffResult` per pair in name order. With ``on_error="record"`` a pair that fails
    yields a :class:`PairFailure` and the run goes on; with ``"raise"`` (the default) the
    error propagates. ``ignore`` applies to every pair; ``truth`` is a folder of masks.
    """

    def __init__(self, finder: Pipeline, pairing: Pairing, on_error: str = "raise", *,
                 truth: str | os.PathLike[str] | None = None, ignore: Any = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None) -> None:
        check_on_error(on_error)
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
                    yield PairFailure(spec.name, spec.a, spec.b, reason(outcome))
                else:
                    yield outcome
        finally:
            results.close()

    def save(self, output: str | os.PathLike[str], *, overwrite: bool = False, colormap: str | None = None,
             vmax: float | None = None, previews: bool = False, progress: bool | None = None,
             on_row: RowCallback | None = None, engine: Engine | str | None = None,
             outputs: str | Sequence[str] | None = None, fail_above: float | None = None) -> BatchReport:
        """Write every pair's files and ``summary.csv``/``summary.json`` into ``output``.

        Pairs already complete in ``output`` are skipped (``overwrite=True`` redoes them);
        failures are recorded whatever ``on_error`` says. ``engine``: ``"local"`` (default),
        ``"ray"`` or an engine such as ``RayEngine(address="auto", workers=8, gpus_per_worker=1)``
        (:mod:`dfcore.runs.engines.ray`). ``outputs`` chooses each pair's files (``"heatmap,json"``,
        ``["npy"]``...: names of :data:`dfcore.io.layout.OUTPUTS`; the JSON record is always
        written); a pair already complete for them is skipped. ``fail_above``: the threshold
        the run is gated with, recorded in the summary. See :func:`run_batch`.
        """
        return run_batch(self.finder, self.pairing, output, overwrite=overwrite, batch_size=self.batch_size,
                         workers=self.workers, ignore=self.ignore, truth=self.truth, colormap=colormap, vmax=vmax,
                         previews=previews, progress=progress, on_row=on_row, engine=engine, outputs=outputs,
                         fail_above=fail_above)


class CompareRun(DirRun):
    """The comparisons of three folders (a truth, A and B), computed as they are iterated or saved.

    ``triples.missing`` lists the files without a partner in every folder. Iterating yields a
    :class:`~dfcore.pipeline.compare.CompareResult` per comparison (with
    ``on_error="record"``, a :class:`~dfcore.pipeline.PairFailure` for one that fails, whose
    ``a`` and ``b`` are A's and B's files); :meth:`save` runs them into a folder with resume
    and a summary, as :class:`DirRun` does.
    """

    def __init__(self, finder: Pipeline, triples: Triples, on_error: str = "raise", *, ignore: Any = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None) -> None:
        super().__init__(finder, triples.pairing(), on_error, ignore=ignore, batch_size=batch_size, workers=workers)
        self.triples = triples


__all__ = ["CompareRun", "DirRun", "check_on_error", "make_pairing", "run_batch"]
