"""Decoding the files a command will read while the rest of it starts (torch's import).

``dfind`` checks its inputs, then imports torch and builds the pipeline: about 1.5 s in which
one core imports and the others wait. A :class:`ReadAhead` started before that decodes the
pair's files (a folder run's first files, up to a memory budget) in a thread, and
:func:`dfcore.io.decode.read_image` takes them from it when the run asks for them. The
decoding that matters is OpenCV's (plain 8-bit PNG) and Pillow's inflate, which release the
GIL, so the import is not slowed.

What a run receives is what it would have decoded itself:

* a file is served once, and only when its size and modification time are still those it
  had when it was read; otherwise, or when its decoding failed, the run reads it again (and
  reports its error as always);
* a file the run asks for before the thread began it is left to the run;
* the decoded images are held up to ``budget`` bytes (``None``: all of them, for files the
  run will hold at once anyway); the files beyond it are not read ahead.

>>> with ReadAhead(["a.png", "b.png"]):                 # doctest: +SKIP
...     result = Finder().run("a.png", "b.png")         # the two files, decoded meanwhile
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dfcore.io import decode

if TYPE_CHECKING:
    from typing import Self  # Python 3.11

#: Bytes of decoded images held at most (float32 arrays): 48 pairs of 512x512 RGB.
READ_AHEAD_BYTES = 288 * 2**20

_Decoded = tuple[np.ndarray, decode.ImageInfo]


class ReadAhead:
    """Decodes ``paths`` in order in one thread and serves them to :func:`~dfcore.io.decode.read_image`.

    Use it as a context manager (or :meth:`start` and :meth:`close`): while it is open, every
    :func:`~dfcore.io.decode.read_image` of the process looks here first. Closing it stops the
    thread after the file it is decoding and drops what was not taken.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]], budget: int | None = READ_AHEAD_BYTES) -> None:
        self.paths = list(dict.fromkeys(os.fspath(path) for path in paths))
        self.budget = sys.maxsize if budget is None else int(budget)
        self.served = 0
        self._lock = threading.Lock()
        self._entries: dict[str, Future[tuple[_Decoded, os.stat_result] | None]] = {}
        self._left: set[str] = set()  # asked for before this thread began them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_all, name="dfind-read-ahead", daemon=True)

    def start(self) -> None:
        decode.serve_from(self.take)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        decode.serve_from(None)
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self._entries.clear()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def take(self, path: str) -> _Decoded | None:
        """``path`` decoded, waiting for it if it is being decoded; ``None`` to read it now."""
        with self._lock:
            entry = self._entries.pop(path, None)
            if entry is None:
                self._left.add(path)
                return None
        found = entry.result()
        if found is None:
            return None
        decoded, stat = found
        try:
            now = os.stat(path)
        except OSError:
            return None
        if (now.st_size, now.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            return None
        self.served += 1
        return decoded

    def _read_all(self) -> None:
        held = 0
        for path in self.paths:
            if self._stop.is_set():
                return
            entry: Future[tuple[_Decoded, os.stat_result] | None] = Future()
            with self._lock:
                if path in self._left:
                    continue
                self._entries[path] = entry
            entry.set_running_or_notify_cancel()
            found = self._read(path, self.budget - held)
            entry.set_result(found)
            if found is None:
                if held >= self.budget:
                    return
                continue
            held += found[0][0].nbytes

    def _read(self, path: str, room: int) -> tuple[_Decoded, os.stat_result] | None:
        """``path`` decoded with the file's stat before the read, or ``None`` (an error, or no room)."""
        try:
            stat = os.stat(path)
            with open(path, "rb") as file:
                data = file.read()
            if decode.decoded_bytes(data) > room:
                return None
            return decode.decode_image(data, str(Path(path))), stat  # named as read_file names it
        except Exception:  # noqa: BLE001 -- the run reads the file again and reports its error
            return None


__all__ = ["READ_AHEAD_BYTES", "ReadAhead"]
