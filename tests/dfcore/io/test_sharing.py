"""Who owns a file in flight, and when another process may remove it (real files and processes)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dfcore.io.layout import append_approvals, read_approvals
from dfcore.io.sharing import (
    STALE_SECONDS,
    Owner,
    create_exclusive,
    host_name,
    is_partial,
    is_stale,
    new_owner,
    owner_alive,
    partial_name,
    partial_owner,
    process_owner,
    read_holder,
    retire,
)


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True,
                              text=True).stdout)


def test_a_temporary_name_carries_its_writer():
    owner = process_owner()
    name = partial_name("scene.heatmap.png", owner)
    assert is_partial(name) and name.startswith(".scene.heatmap.png.")
    assert partial_owner(name) == owner
    assert partial_owner(".1.json.abc123.part") is None  # an older dfind's mkstemp name: no owner
    assert len(partial_name("x" * 250, owner)) < 255


def test_host_names_keep_the_separators_free():
    assert "." not in host_name() and "~" not in host_name()


def test_liveness_on_this_host_and_elsewhere():
    assert owner_alive(process_owner()) is True
    assert owner_alive(Owner(host_name(), _dead_pid(), "x")) is False
    assert owner_alive(Owner("elsewhere", 1, "x")) is None
    owner = new_owner()
    assert owner_alive(owner) is True
    retire(owner)
    assert owner_alive(owner) is False  # this process, but that user of it is done


def test_stale_files(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    old = time.time() - STALE_SECONDS - 5
    assert not is_stale(path, process_owner())
    assert is_stale(path, Owner(host_name(), _dead_pid(), "x"))
    assert not is_stale(path, Owner("elsewhere", 1, "x"))
    assert not is_stale(path, None)
    os.utime(path, (old, old))
    assert is_stale(path, Owner("elsewhere", 1, "x")) and is_stale(path, None)
    assert is_stale(path, process_owner())  # no change for that long: stale whoever it is
    assert not is_stale(tmp_path / "gone", None)


_APPEND = """
import sys
from dfcore.io.layout import append_approvals
for i in range(int(sys.argv[3])):
    append_approvals(sys.argv[1], [{"pair": f"{sys.argv[2]}-{i}.png"}])
"""


def test_approvals_appended_by_processes_at_once_are_all_kept(tmp_path):
    """Four processes append 25 entries each to one approvals.json: the lock keeps all 100."""
    runs = [subprocess.Popen([sys.executable, "-c", _APPEND, str(tmp_path), f"p{n}", "25"]) for n in range(4)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]
    pairs = [entry["pair"] for entry in read_approvals(tmp_path)]
    assert sorted(pairs) == sorted(f"p{n}-{i}.png" for n in range(4) for i in range(25))
    assert [p.name for p in tmp_path.iterdir()] == ["approvals.json"]  # the lock file is gone


def test_a_lock_left_by_a_dead_process_is_broken(tmp_path):
    lock = tmp_path / ".approvals.json.lock"
    create_exclusive(lock, Owner(host_name(), _dead_pid(), "gone"))
    append_approvals(tmp_path, [{"pair": "a.png"}])
    assert [entry["pair"] for entry in read_approvals(tmp_path)] == ["a.png"]
    assert not lock.exists()


def test_a_claim_never_exists_without_its_owner(tmp_path, monkeypatch):
    path, owner, seen = tmp_path / ".scene.claim", process_owner(), []
    link = os.link

    def watched(source, target):  # the claim appears by this link: its owner is already written
        seen.append(json.loads(Path(source).read_text())["token"])
        link(source, target)

    monkeypatch.setattr(os, "link", watched)
    assert create_exclusive(path, owner)
    assert seen == [owner.token] and read_holder(path)[0] == owner
    assert not create_exclusive(path, new_owner())  # taken: the second caller gets False...
    assert read_holder(path)[0] == owner and [p.name for p in tmp_path.iterdir()] == [path.name]  # ...and no leftovers


def test_a_claim_is_created_without_hard_links_too(tmp_path, monkeypatch):
    def refused(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    path, owner = tmp_path / ".scene.claim", process_owner()
    assert create_exclusive(path, owner) and read_holder(path)[0] == owner
    assert not create_exclusive(path, new_owner())
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
