"""Who owns a file in flight, and when another process may remove it (real files and processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from dfcore.io.sharing import (
    STALE_SECONDS,
    Owner,
    host_name,
    is_partial,
    is_stale,
    new_owner,
    owner_alive,
    partial_name,
    partial_owner,
    process_owner,
    retire,
)


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
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
