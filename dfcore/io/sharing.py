"""Sharing an output folder between processes: who has a file in flight, and whether it still can.

Several runs, or Ray workers on several machines, may write into one output folder. Every
process is an :class:`Owner` -- its host, its process id and a token -- and each file it has
in flight says so:

* the temporary file of an atomic write is ``.NAME.HOST~PID~TOKEN.part`` (:func:`partial_name`,
  :func:`dfcore.io.files.atomic_write`), renamed to ``NAME`` once complete;
* a pair being computed is claimed by a hidden claim file holding its owner as JSON
  (:func:`dfcore.io.layout.claim_file`; the protocol is :mod:`dfcore.runs.claims`).

Another process removes such a file only when it is *stale* (:func:`is_stale`): its owner is on
this host and its process is gone (or it is this process and the token was retired), or the
file has not changed for :data:`STALE_SECONDS` -- the only test that works across hosts (a
claim's holder touches it every :data:`HEARTBEAT_SECONDS`; a temporary file changes while it is
written). A temporary file written by an older dfind names no owner and is stale by age alone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A file in flight that has not changed for this long is stale whoever owns it (seconds).
STALE_SECONDS = 600.0
#: How often a claim's holder refreshes it (seconds); well below :data:`STALE_SECONDS`.
HEARTBEAT_SECONDS = 60.0
PARTIAL_SUFFIX = ".part"
#: How much of a file's name its temporary name repeats (file names are limited to 255 bytes).
_NAME_KEPT = 120
_HOST_CHARS = re.compile(r"[^A-Za-z0-9-]+")


@dataclass(frozen=True)
class Owner:
    """Who has a file in flight: a host, a process on it, and a token naming one user of it in that process."""

    host: str
    pid: int
    token: str

    @property
    def tag(self) -> str:
        """``HOST~PID~TOKEN``, as temporary file names carry it."""
        return f"{self.host}~{self.pid}~{self.token}"

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "token": self.token}

    @classmethod
    def from_dict(cls, data: Any) -> Owner | None:
        """The owner a claim file holds, or ``None`` when it holds none that can be read."""
        try:
            return cls(str(data["host"]), int(data["pid"]), str(data["token"]))
        except (KeyError, TypeError, ValueError):
            return None


#: The token of this process's atomic writes; live as long as the process.
_PROCESS_TOKEN = secrets.token_hex(4)
_live_tokens: set[str] = {_PROCESS_TOKEN}
_tokens_lock = threading.Lock()


def host_name() -> str:
    """This machine's name as owners record it: letters, digits and ``-`` (dots and the rest become ``-``)."""
    return _HOST_CHARS.sub("-", socket.gethostname())[:63] or "host"


def process_owner() -> Owner:
    """This process, as the owner of its atomic writes' temporary files."""
    return Owner(host_name(), os.getpid(), _PROCESS_TOKEN)


def new_owner() -> Owner:
    """An owner for this process with a token of its own, live until :func:`retire`."""
    owner = Owner(host_name(), os.getpid(), secrets.token_hex(4))
    with _tokens_lock:
        _live_tokens.add(owner.token)
    return owner


def retire(owner: Owner) -> None:
    """Mark ``owner`` as done: what it left behind is stale from now on."""
    with _tokens_lock:
        _live_tokens.discard(owner.token)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError as exc:
        return exc.errno != errno.ESRCH
    return True


def owner_alive(owner: Owner) -> bool | None:
    """``True``/``False`` when this host can tell whether ``owner`` still runs; ``None`` for another host."""
    if owner.host != host_name():
        return None
    if owner.pid == os.getpid():
        with _tokens_lock:
            return owner.token in _live_tokens
    return process_alive(owner.pid)


def is_stale(path: str | os.PathLike[str], owner: Owner | None, now: float | None = None,
             stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether the file in flight at ``path``, owned by ``owner`` (``None``: unknown), can be removed.

    Stale: its owner is on this host and gone, or it has not changed for ``stale_seconds``.
    A file that is already gone is not stale (there is nothing to remove).
    """
    try:
        changed = os.stat(path).st_mtime
    except OSError:
        return False
    if owner is not None and owner_alive(owner) is False:
        return True
    return (time.time() if now is None else now) - changed > stale_seconds


# -- temporary files of atomic writes ---------------------------------------------------------------


def partial_name(name: str, owner: Owner) -> str:
    """The temporary name under which ``owner`` writes the file ``name``: ``.NAME.HOST~PID~TOKEN.part``."""
    return f".{name[:_NAME_KEPT]}.{owner.tag}~{secrets.token_hex(3)}{PARTIAL_SUFFIX}"


def is_partial(name: str) -> bool:
    """Whether a file name is that of an atomic write's temporary file (ours or an older dfind's)."""
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def partial_owner(name: str) -> Owner | None:
    """The owner a temporary file's name carries, or ``None`` (an older dfind's ``mkstemp`` name)."""
    tag = name[: -len(PARTIAL_SUFFIX)].rpartition(".")[2]
    parts = tag.split("~")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return Owner(parts[0], int(parts[1]), parts[2])


def remove_stale_partials(folder: str | os.PathLike[str], now: float | None = None) -> list[Path]:
    """Delete the stale temporary files under ``folder`` (see :func:`is_stale`); returns them.

    Temporary files of live writers, here or on other hosts, are left alone.
    """
    removed = []
    for directory, _, files in os.walk(folder):
        for name in files:
            if not is_partial(name):
                continue
            path = Path(directory) / name
            if is_stale(path, partial_owner(name), now):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


# -- claim files ------------------------------------------------------------------------------------


def create_exclusive(path: Path, owner: Owner) -> bool:
    """Create ``path`` holding ``owner`` unless it exists; ``True`` when this call created it.

    The owner is written to a temporary file of its own (:func:`partial_name`) first, which is
    then hard-linked to ``path``: the link is atomic and fails if ``path`` exists (on local file
    systems and on NFS), so the claim never exists without its owner -- a process killed
    between creating an empty claim and writing it would leave one that no run could tell
    from a live holder's until it is :data:`STALE_SECONDS` old. Where hard links are not
    supported, ``O_CREAT | O_EXCL`` creates the file and the owner is written into it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**owner.to_dict(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    private = path.with_name(partial_name(path.name, owner))
    private.write_text(text, encoding="utf-8")
    try:
        os.link(private, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        return _create_and_write(path, text)
    finally:
        private.unlink(missing_ok=True)
    return True


def _create_and_write(path: Path, text: str) -> bool:
    """``create_exclusive`` without hard links: ``O_CREAT | O_EXCL``, then the owner written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def read_holder(path: Path) -> tuple[Owner | None, bytes | None]:
    """The owner a claim file names (``None`` if unreadable or half-written) and its raw bytes (``None``: gone)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None, None
    try:
        return Owner.from_dict(json.loads(raw)), raw
    except (ValueError, UnicodeDecodeError):
        return None, raw


def break_stale(path: Path, owner: Owner, raw: bytes) -> bool:
    """Remove the stale claim file ``path`` whose content was ``raw``; ``True`` when it is gone.

    The file is first renamed to a name of ``owner``'s own, so that two processes breaking one
    claim cannot both succeed, and checked: if it is not the stale file seen (a new holder
    claimed in between), it is put back and ``False`` returned.

    Raises:
        OSError: the claim cannot be removed (another user's file in a folder with the sticky bit).
    """
    private = path.with_name(partial_name(path.name, owner))  # a temporary name: cleaned up if we die here
    try:
        os.replace(path, private)
    except FileNotFoundError:
        return True  # someone else removed it: try to claim it again
    try:
        if private.read_bytes() == raw:
            return True
        with contextlib.suppress(FileExistsError):
            os.link(private, path)  # a fresh claim: give it back (unless yet another one appeared)
        return False
    finally:
        with contextlib.suppress(OSError):
            private.unlink()


@contextlib.contextmanager
def held(path: Path, poll: float = 0.05) -> Iterator[None]:
    """Hold the lock file ``path`` for the ``with`` block: one holder at a time, across processes and hosts.

    For short read-modify-write updates of a shared file (``approvals.json``). A holder that is
    gone, or a lock file left unchanged for :data:`STALE_SECONDS`, is broken as a stale claim is
    (:func:`break_stale`); otherwise the caller waits for the holder to finish.
    """
    owner = process_owner()
    while not create_exclusive(path, owner):
        holder, raw = read_holder(path)
        if raw is not None and is_stale(path, holder):
            break_stale(path, owner, raw)
        else:
            time.sleep(poll)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def touch(path: Path) -> None:
    """Refresh a file's modification time (a claim's heartbeat); a file that is gone is left gone."""
    with contextlib.suppress(OSError):
        os.utime(path)


__all__ = [
    "HEARTBEAT_SECONDS",
    "PARTIAL_SUFFIX",
    "STALE_SECONDS",
    "Owner",
    "break_stale",
    "create_exclusive",
    "held",
    "host_name",
    "is_partial",
    "is_stale",
    "new_owner",
    "owner_alive",
    "partial_name",
    "partial_owner",
    "process_alive",
    "process_owner",
    "read_holder",
    "remove_stale_partials",
    "retire",
    "touch",
]
