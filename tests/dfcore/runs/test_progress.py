"""The progress bar of a folder run stays visible on a terminal that reports no size."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios

import pytest

from dfcore.runs.runner import FALLBACK_SIZE, _progress_bar


def _bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch, columns: int, rows: int) -> tuple[object, bytes]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    stream = os.fdopen(slave, "w", buffering=1)
    try:
        monkeypatch.setattr(sys, "stderr", stream)
        bar = _progress_bar(10, 0, None)
        assert bar is not None, "stderr is a terminal: a bar is shown"
        for _ in range(10):
            bar.update(1)
        bar.close()
        stream.flush()
        return bar, _read_until(master, b"\n")
    finally:
        stream.close()
        os.close(master)


def _read_until(fd: int, end: bytes, wait: float = 10.0) -> bytes:
    """What the terminal shows up to ``end`` (the kernel hands a pty's output over asynchronously)."""
    shown = b""
    while not shown.endswith(end):
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            break
        shown += os.read(fd, 65536)
    return shown


def test_a_terminal_without_a_size_gets_an_80x24_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    bar, shown = _bar_on_a_terminal(monkeypatch, 0, 0)
    assert (bar.ncols, bar.nrows) == FALLBACK_SIZE == (80, 24)
    assert b"10/10" in shown and "█".encode() in shown
    last = shown.rstrip(b"\r\n").split(b"\r")[-1].decode()
    assert len(last) == 80


def test_a_terminal_with_a_size_keeps_following_it(monkeypatch: pytest.MonkeyPatch) -> None:
    bar, shown = _bar_on_a_terminal(monkeypatch, 100, 30)
    assert bar.dynamic_ncols and bar.ncols in (99, 100)  # tqdm keeps the last column free on some systems
    assert len(shown.rstrip(b"\r\n").split(b"\r")[-1].decode()) == bar.ncols
