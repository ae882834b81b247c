"""Many pairs: folder runs with resume, a summary and engines that spread the work.

* :mod:`~dfcore.runs.runner` -- :func:`run_batch`, the one runner; :class:`DirRun` and
  :class:`CompareRun`, its Python faces;
* :mod:`~dfcore.runs.plan` -- what an output folder still needs (resume);
* :mod:`~dfcore.runs.worker` -- decoding ahead, same-size batches, writing behind;
* :mod:`~dfcore.runs.summary` -- the rows and the report of a run;
* :mod:`~dfcore.runs.recipe` -- rebuilding the pipeline in another process;
* :mod:`~dfcore.runs.engines` -- who computes: ``local`` or ``ray``, found by name.

This layer drives a :class:`~dfcore.pipeline.Pipeline`; file names and the summary's format
belong to :mod:`dfcore.io.layout`.
"""

from __future__ import annotations

from dfcore.runs.engines import ENGINES, Engine, resolve_engine
from dfcore.runs.plan import RunPlan, pipeline_signature, plan_run
from dfcore.runs.recipe import FinderRecipe
from dfcore.runs.runner import CompareRun, DirRun, check_on_error, make_pairing, run_batch
from dfcore.runs.summary import BatchInterrupted, BatchReport, PairRow
from dfcore.runs.worker import DEFAULT_BATCH_SIZE, PairWorker

__all__ = [
    "DEFAULT_BATCH_SIZE", "ENGINES", "BatchInterrupted", "BatchReport", "CompareRun", "DirRun", "Engine",
    "FinderRecipe", "PairRow", "PairWorker", "RunPlan", "check_on_error", "make_pairing", "pipeline_signature",
    "plan_run", "resolve_engine", "run_batch",
]
