"""Claims: a pair is computed by one run at a time, even when several runs share the output folder.

Before a worker computes a pair it creates the pair's claim file (:func:`~dfcore.io.layout.claim_file`)
with ``O_CREAT | O_EXCL``, holding its owner: host, process id and a token
(:mod:`dfcore.io.sharing`). It refreshes its claims every
:data:`~dfcore.io.sharing.HEARTBEAT_SECONDS` while it works and removes each one once the
pair's files are written or the pair failed. A pair that another live run holds is set aside;
when everything else is done the worker waits for that claim to go, then finds the pair
complete on disk (its row is ``skipped``) or claims and computes it itself (the other run
failed on it or stopped). A claim whose holder is gone -- its process ended, on this host, or
no heartbeat for :data:`~dfcore.io.sharing.STALE_SECONDS`, on any -- is broken and taken over.

Every write is atomic and a pair's JSON comes last, so even the worst case (two runs taking
over one stale claim at the same instant) costs a pair computed twice, never a lost one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from dfcore.io.layout import CLAIM_SUFFIX, claim_file
from dfcore.io.sharing import (
    HEARTBEAT_SECONDS,
    STALE_SECONDS,
    Owner,
    break_stale,
    create_exclusive,
    is_stale,
    new_owner,
    process_owner,
    read_holder,
    retire,
    touch,
)

if TYPE_CHECKING:
    from typing import Self  # Python 3.11

#: Seconds between two looks at the claims of pairs another run holds (doubling up to :data:`MAX_POLL`).
POLL = 0.2
MAX_POLL = 2.0
#: A claim that still names no holder this long after it last changed was left half-written: a
#: process was killed between creating it and writing its owner (claims are now hard-linked into
#: place whole; an earlier dfind, or a file system without hard links, takes two steps a few
#: microseconds apart).
HALF_WRITTEN_SECONDS = 10.0


def claim_is_stale(path: Path, holder: Owner | None, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether the claim at ``path`` can be broken: :func:`~dfcore.io.sharing.is_stale`, or it names
    no holder and has not changed for :data:`HALF_WRITTEN_SECONDS`."""
    if holder is None and is_stale(path, None, stale_seconds=HALF_WRITTEN_SECONDS):
        return True
    return is_stale(path, holder, stale_seconds=stale_seconds)


class PairClaims:
    """The claims of one worker on the pairs of ``output``; a context manager that releases them all.

    Args:
        output: the run's output folder.
        stale_seconds: a claim unchanged for this long is stale, whoever holds it.
        heartbeat: seconds between refreshes of the claims held.
    """

    def __init__(self, output: str | os.PathLike[str], *, stale_seconds: float = STALE_SECONDS,
                 heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.output = Path(output)
        self.owner = new_owner()
        self.stale_seconds = float(stale_seconds)
        self.heartbeat = float(heartbeat)
        self._held: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def take(self, name: str) -> bool:
        """Claim the pair ``name``; ``False`` when another live run holds it.

        A stale claim that cannot be removed (another user's, in a folder with the sticky bit)
        does not stop the pair: its holder is gone, so it is computed without a claim.
        """
        path = claim_file(self.output, name)
        for _ in range(3):  # a stale claim broken, or one that vanished meanwhile, gets another try
            if create_exclusive(path, self.owner):
                with self._lock:
                    self._held[name] = path
                self._start_heartbeat()
                return True
            holder, raw = read_holder(path)
            if raw is None:
                continue
            if not claim_is_stale(path, holder, self.stale_seconds):
                return False
            try:
                if not break_stale(path, self.owner, raw):
                    return False
            except OSError:
                return True
        return False

    def held_elsewhere(self, name: str) -> bool:
        """Whether another live run holds the pair ``name`` now."""
        path = claim_file(self.output, name)
        holder, raw = read_holder(path)
        return raw is not None and holder != self.owner and not claim_is_stale(path, holder, self.stale_seconds)

    def release(self, name: str) -> None:
        """Give the pair ``name`` up (its files are written, or it failed)."""
        with self._lock:
            path = self._held.pop(name, None)
        if path is not None and read_holder(path)[0] == self.owner:
            path.unlink(missing_ok=True)

    def wait_for(self, names: Sequence[str]) -> None:
        """Sleep until at least one of ``names`` is no longer held by another live run."""
        delay = POLL
        while names and all(self.held_elsewhere(name) for name in names):
            time.sleep(delay)
            delay = min(MAX_POLL, delay * 2)

    def close(self) -> None:
        """Release every claim still held and stop the heartbeat."""
        self._stop.set()
        if self._beating is not None:
            self._beating.join()
        with self._lock:
            names = list(self._held)
        for name in names:
            self.release(name)
        retire(self.owner)

    def _start_heartbeat(self) -> None:
        if self._beating is None and self.heartbeat > 0:
            self._beating = threading.Thread(target=self._beat, name="dfind-claims", daemon=True)
            self._beating.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with self._lock:
                paths = list(self._held.values())
            for path in paths:
                touch(path)


def remove_stale_claims(output: str | os.PathLike[str], stale_seconds: float = STALE_SECONDS) -> list[Path]:
    """Break every stale claim under ``output`` (its holder is gone); claims of live runs stay."""
    removed = []
    for directory, _, files in os.walk(output):
        for filename in files:
            if not (filename.startswith(".") and filename.endswith(CLAIM_SUFFIX)):
                continue
            path = Path(directory) / filename
            holder, raw = read_holder(path)
            if raw is not None and claim_is_stale(path, holder, stale_seconds):
                with contextlib.suppress(OSError):
                    if break_stale(path, process_owner(), raw):
                        removed.append(path)
    return removed


def release_claims_of(output: str | os.PathLike[str], names: Iterable[str], host: str, pid: int) -> None:
    """Remove the claims that the process ``pid`` on ``host`` held on ``names``: it is known to be gone.

    For an engine that lost a worker process: the pairs it held are free at once, not after
    :data:`~dfcore.io.sharing.STALE_SECONDS`.
    """
    for name in names:
        path = claim_file(output, name)
        holder, raw = read_holder(path)
        if raw is not None and isinstance(holder, Owner) and (holder.host, holder.pid) == (host, pid):
            with contextlib.suppress(OSError):
                break_stale(path, process_owner(), raw)


__all__ = ["HALF_WRITTEN_SECONDS", "MAX_POLL", "POLL", "PairClaims", "claim_is_stale", "release_claims_of",
           "remove_stale_claims"]
