"""Folder runs on Ray: the local engine's plan, workers and summary, with the pairs spread over actors.

Only the distribution lives here. :func:`dfcore.runs.run_batch` plans the run (resume),
hands the pairs to do to :class:`RayEngine`, and writes the summary, exactly as for the local
engine. The engine starts ``workers`` Ray actors; each rebuilds the pipeline once from a
:class:`~dfcore.runs.recipe.FinderRecipe` (an LPIPS network is loaded once per actor) and holds a
:class:`~dfcore.runs.worker.PairWorker`, which decodes, batches, computes and writes every pair of
the chunks it is given into the output folder, atomically, and returns their summary rows.

The driver cuts the pairs to do into chunks of consecutive pairs (so same-size pairs still
batch together) and keeps two chunks queued on every actor; a free actor gets the next chunk,
so a slow node takes fewer. Every pair ends with exactly one row: a pair that fails in a
worker is recorded there as the local engine records it; the pairs of a chunk whose actor
died are checked on disk (complete ones are ``ok``, the rest ``failed`` with the reason, and a
rerun retries them) and the claims its process held on them are removed at once
(:func:`~dfcore.runs.claims.release_claims_of`); on Ctrl-C the actors are stopped and the pairs
they had completed are read back from disk.

Ray is imported only when the engine is used; without it, :class:`RayEngine` raises
:class:`~dfcore.errors.EngineError` saying ``pip install "dfind[ray]"``.

>>> from dfcore.runs.engines.ray import RayEngine                       # doctest: +SKIP
>>> run = Finder(metric="lpips", strategy="gradient").run_dirs("refs", "outputs")  # doctest: +SKIP
>>> run.save("maps", engine=RayEngine(address="auto", gpus_per_worker=1))          # doctest: +SKIP
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dfcore.errors import EngineError, ParameterError, one_line
from dfcore.io.pairing import PairSpec
from dfcore.io.sharing import host_name
from dfcore.runs.claims import release_claims_of
from dfcore.runs.recipe import FinderRecipe
from dfcore.runs.summary import PairRow, recover_rows
from dfcore.runs.worker import PairWorker

INSTALL_HINT = 'pip install "dfind[ray]"'
#: Chunks waiting on each actor: one computing, one queued behind it.
QUEUED_PER_WORKER = 2
#: Restarts of an actor whose process died (a crash, the OOM killer) before it is given up.
MAX_RESTARTS = 2
#: Seconds to wait, after Ctrl-C, for stopped actors to be gone before reading what they wrote.
STOP_TIMEOUT = 30.0


def import_ray() -> Any:
    """The ``ray`` module, or an :class:`EngineError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise EngineError(f"the Ray engine needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


class RayEngine:
    """Computes a folder run's pairs on Ray actors, on this machine or on a cluster.

    Args:
        address: a Ray cluster to join (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``);
            ``None`` starts a local Ray instance for the run (and stops it after). When Ray is
            already initialised in this process, that instance is used.
        workers: Ray actors; default: as many as the cluster's CPUs (GPUs when
            ``gpus_per_worker`` > 0) allow, at most one per pair.
        gpus_per_worker: GPUs each actor reserves (fractions share a GPU); > 0 puts the
            pipeline on the actor's GPU.
        cpus_per_worker: CPUs each actor reserves; also its decoding and writing threads.
        device: the device the actors' pipelines use; default ``"cuda"`` with GPUs, else ``"cpu"``.
        chunk_size: pairs per task; default: about a quarter of each actor's share, between
            1 and four batches.
        log_to_driver: show the actors' stdout and stderr here (Ray prefixes each line with
            the actor); otherwise they stay in Ray's session logs.

    Every node must see the input files and the output folder at the same paths (a shared
    file system), and have dfind and the plugins of the pipeline installed.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, workers: int | None = None, gpus_per_worker: float = 0.0,
                 cpus_per_worker: float = 1.0, device: str | None = None, chunk_size: int | None = None,
                 log_to_driver: bool = False) -> None:
        if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
            raise ParameterError(f"the Ray engine needs at least 1 worker, got {workers!r}")
        if not gpus_per_worker >= 0:
            raise ParameterError(f"gpus_per_worker must be 0 or more, got {gpus_per_worker!r}")
        if not cpus_per_worker > 0:
            raise ParameterError(f"cpus_per_worker must be more than 0, got {cpus_per_worker!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ParameterError(f"chunk_size must be at least 1, got {chunk_size!r}")
        if device is not None and str(device).startswith("cuda") and not gpus_per_worker:
            raise ParameterError(f"device {device!r} on Ray needs gpus_per_worker (--gpus-per-worker): "
                                 "Ray shows an actor only the GPUs it reserved")
        self.address = address
        self.workers = None if workers is None else int(workers)
        self.gpus_per_worker = float(gpus_per_worker)
        self.cpus_per_worker = float(cpus_per_worker)
        self.device = device or ("cuda" if self.gpus_per_worker else "cpu")
        self.chunk_size = chunk_size
        self.log_to_driver = log_to_driver
        self._started: dict[str, Any] = {}
        import_ray()

    def describe(self) -> dict[str, Any]:
        """How the run was spread, for ``summary.json``."""
        return {"name": self.name, "address": self.address or "local", "cpus_per_worker": self.cpus_per_worker,
                "gpus_per_worker": self.gpus_per_worker, "device": self.device,
                **({"workers": self.workers} if not self._started else self._started)}

    # -- the run ------------------------------------------------------------------------------

    def process(self, worker: PairWorker, pairs: Sequence[PairSpec]) -> Iterator[tuple[PairRow, None]]:
        """Compute ``pairs`` on Ray actors into ``worker.output``; yield each pair's row (see :class:`~dfcore.runs.engines.Engine`)."""
        ray = import_ray()
        pairs = list(pairs)
        if not pairs:
            return
        recipe = FinderRecipe.of(worker.pipeline)
        try:  # before Ray starts: a stage that cannot travel fails now
            ray.cloudpickle.dumps(recipe)
        except Exception as exc:  # noqa: BLE001 -- pickling raises anything
            raise EngineError(f"the pipeline cannot be sent to Ray workers: {one_line(exc)}") from exc
        owned = self._connect(ray)
        actors: list[Any] = []
        try:
            count = self._worker_count(ray, len(pairs))
            settings = dict(worker.settings, workers=max(1, round(self.cpus_per_worker)))
            remote = ray.remote(PairActor).options(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker,
                                                    max_restarts=MAX_RESTARTS, max_task_retries=0)
            actors = [remote.remote(recipe, self.device, os.fspath(worker.output), settings) for _ in range(count)]
            identities = self._wait_ready(ray, actors)
            self._started = {"workers": count, "nodes": len({node for node, _, _ in identities})}
            chunks = split_chunks(pairs, self.chunk_size or chunk_size_for(len(pairs), count, worker.batch_size))
            yield from self._dispatch(ray, actors, chunks, worker, [(host, pid) for _, host, pid in identities])
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)
            if owned:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join the cluster, or start a local instance; ``True`` when this run must stop it."""
        if ray.is_initialized():
            return False
        options = {"include_dashboard": False, "log_to_driver": self.log_to_driver,
                   "logging_level": logging.ERROR, "configure_logging": True}
        # ray.init makes SIGTERM exit the process; keep the caller's handler (the command line's
        # turns SIGTERM into Ctrl-C, so that a stopped job still writes its summary).
        main_thread = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM")
        sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
        try:
            if self.address is not None:
                ray.init(address=self.address, **options)
            else:
                cpus = math.ceil(self.workers * self.cpus_per_worker) if self.workers else None
                ray.init(num_cpus=cpus, **options)
        except Exception as exc:  # noqa: BLE001 -- Ray raises ConnectionError, RuntimeError, ValueError
            where = f"join the Ray cluster at {self.address}" if self.address else "start a local Ray instance"
            raise EngineError(f"cannot {where}: {one_line(exc)}") from exc
        finally:
            if sigterm is not None:
                signal.signal(signal.SIGTERM, sigterm)
        return True

    def _worker_count(self, ray: Any, pairs: int) -> int:
        """The actors to start: as asked, or as many as the cluster fits; checked against its resources."""
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        fits = int(cpus // self.cpus_per_worker + 1e-9)
        if self.gpus_per_worker:
            fits = min(fits, int(gpus // self.gpus_per_worker + 1e-9))
        count = self.workers if self.workers is not None else max(1, fits)
        if count > fits:
            need = f"{count} x {self.cpus_per_worker:g} CPU" + (
                f" and {count} x {self.gpus_per_worker:g} GPU" if self.gpus_per_worker else "")
            raise EngineError(f"the Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs, and {count} workers need "
                              f"{need}: ask for fewer workers (--workers) or fewer resources per worker")
        return min(count, pairs)

    @staticmethod
    def _wait_ready(ray: Any, actors: Sequence[Any]) -> list[tuple[str, str, int]]:
        """Every actor's :meth:`PairActor.ready` once its pipeline is built, or the first reason one cannot start."""
        try:
            return ray.get([actor.ready.remote() for actor in actors])
        except ray.exceptions.RayError as exc:
            raise EngineError(f"a Ray worker cannot start: {_cause(exc)}") from None

    def _dispatch(self, ray: Any, actors: Sequence[Any], chunks: Sequence[list[PairSpec]],
                  worker: PairWorker, holders: list[tuple[str, int]]) -> Iterator[tuple[PairRow, None]]:
        """Keep every live actor busy with chunks; one row per pair, whatever happens to the actors.

        An actor runs its chunks one at a time, in the order they were sent. When it is lost,
        its oldest chunk was running: those pairs fail (unless complete on disk) and the claims
        its process (``holders``: host and pid per actor) held on them go; the chunks behind it
        never started and go back to the queue. An actor that Ray restarts gets chunks again
        once it answers.
        """
        queue = collections.deque(chunks)
        running: dict[Any, tuple[int, list[PairSpec]]] = {}
        sent: list[list[Any]] = [[] for _ in actors]  # per actor, oldest first
        restarting: dict[Any, int] = {}  # a probe that answers once the actor is back -> the actor
        abandoned: set[Any] = set()  # chunks put back in the queue; their errors are read and dropped
        untold: collections.deque[PairRow] = collections.deque()  # received, not yet yielded
        alive = set(range(len(actors)))
        lost = "no Ray worker was left to compute it"

        def fill() -> None:
            usable = sorted(alive - set(restarting.values()))
            for _ in range(QUEUED_PER_WORKER):
                for index in usable:
                    if queue and len(sent[index]) < QUEUED_PER_WORKER:
                        chunk = queue.popleft()
                        ref = actors[index].process.remote(chunk)
                        running[ref] = (index, chunk)
                        sent[index].append(ref)

        def put_back(refs: Sequence[Any]) -> None:
            for ref in reversed(refs):
                queue.appendleft(running.pop(ref)[1])
                abandoned.add(ref)

        def lose(index: int, ref: Any, chunk: list[PairSpec], exc: BaseException) -> None:
            nonlocal lost
            if not isinstance(exc, ray.exceptions.ActorUnavailableError):  # not restarting: dead for good
                alive.discard(index)
                lost = _lost_reason(exc)
            elif index not in restarting.values():  # Ray restarts it: ask when it is back
                restarting[actors[index].ready.options(max_task_retries=-1).remote()] = index
            position = sent[index].index(ref)
            if position == 0:  # it was running
                release_claims_of(worker.output, [spec.name for spec in chunk], *holders[index])
                untold.extend(recover_rows(worker.output, chunk, worker.needs, _lost_reason(exc)))
                put_back(sent[index][1:])
                del sent[index][:]
            else:  # it was waiting behind the one that was running
                queue.appendleft(chunk)
                put_back(sent[index][position + 1:])
                del sent[index][position:]

        fill()
        try:
            while running or restarting or abandoned or untold:
                while untold:
                    yield untold.popleft(), None
                if not (running or restarting or abandoned):
                    break
                (ref,), _ = ray.wait([*running, *restarting, *abandoned], num_returns=1)
                if ref in abandoned:
                    abandoned.discard(ref)
                    with contextlib.suppress(ray.exceptions.RayError):
                        ray.get(ref)
                elif ref in restarting:
                    index = restarting.pop(ref)
                    try:
                        holders[index] = tuple(ray.get(ref))[1:]
                    except ray.exceptions.RayError as exc:
                        alive.discard(index)
                        lost = _lost_reason(exc)
                else:
                    index, chunk = running.pop(ref)
                    try:
                        untold.extend(ray.get(ref))
                        sent[index].remove(ref)
                    except ray.exceptions.RayActorError as exc:
                        lose(index, ref, chunk, exc)
                    except ray.exceptions.RayError as exc:  # the task raised (pair faults are rows, not raises)
                        sent[index].remove(ref)
                        reason = f"its Ray task failed: {_cause(exc)}"
                        untold.extend(recover_rows(worker.output, chunk, worker.needs, reason))
                fill()
                while queue and not alive:
                    untold.extend(recover_rows(worker.output, queue.popleft(), worker.needs, lost))
        except KeyboardInterrupt:
            for actor in actors:  # stop writing, then read back what the actors had completed
                ray.kill(actor, no_restart=True)
            if running:  # their tasks end once the processes are gone (ray.kill does not wait)
                ray.wait(list(running), num_returns=len(running), timeout=STOP_TIMEOUT)
            for index, chunk in running.values():
                release_claims_of(worker.output, [spec.name for spec in chunk], *holders[index])
                untold.extend(recover_rows(worker.output, chunk, worker.needs, None))
            while untold:
                yield untold.popleft(), None
            raise


class PairActor:
    """A Ray actor: the pipeline, built once from the recipe, and a worker writing into the shared folder.

    Args:
        recipe: the driver's pipeline (:meth:`FinderRecipe.of`).
        device: where this actor's pipeline runs (its own GPU is ``cuda``).
        output: the run's output folder; it must be visible here (a shared file system).
        settings: the driver worker's :attr:`~dfcore.runs.worker.PairWorker.settings`.
    """

    def __init__(self, recipe: FinderRecipe, device: str, output: str, settings: dict[str, Any]) -> None:
        self.output = Path(output)
        if not self.output.is_dir():
            raise EngineError(f"the output folder {output} is not visible on node {socket.gethostname()}: "
                              "every node must see it at the same path (a shared file system)")
        self.worker = PairWorker(recipe.build(device), self.output, **settings)

    def ready(self) -> tuple[str, str, int]:
        """This actor's node, and its host and process as its claims name them, once the pipeline is built."""
        return socket.gethostname(), host_name(), os.getpid()

    def process(self, pairs: list[PairSpec]) -> list[PairRow]:
        """Compute and write ``pairs``; their rows (see :meth:`PairWorker.process`)."""
        return list(self.worker.process(pairs))


def chunk_size_for(pairs: int, workers: int, batch_size: int) -> int:
    """Pairs per task: about a quarter of each worker's share (so faster workers take more),
    at least one, at most four batches (so a lost task loses little)."""
    return max(1, min(4 * batch_size, math.ceil(pairs / (4 * workers))))


def split_chunks(pairs: Sequence[PairSpec], size: int) -> list[list[PairSpec]]:
    """Consecutive runs of ``size`` pairs (name order keeps same-size pairs together)."""
    return [list(pairs[i:i + size]) for i in range(0, len(pairs), size)]


def _cause(exc: BaseException) -> str:
    """The one-line reason inside a Ray error: the original exception, or the last line of its text."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return str(cause) if str(cause) else one_line(cause)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _lost_reason(exc: BaseException) -> str:
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return f"its Ray worker was lost before finishing it ({first}); rerun to retry it"


__all__ = ["INSTALL_HINT", "PairActor", "RayEngine", "chunk_size_for", "import_ray", "split_chunks"]
