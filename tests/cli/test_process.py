"""The command's own process keeps freed arrays (glibc): fewer page faults, and the library leaves its host alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Twenty passes that each allocate two 1 MiB masks (a 1024 px image's), and the page faults they take.
FAULTS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from dfcore.cli.process import keep_freed_memory
        print(keep_freed_memory())

    def one_pass():
        first, second = np.ones(1 << 20, dtype=bool), np.ones(1 << 20, dtype=bool)
        return int(first.sum() + second.sum())

    one_pass()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        one_pass()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _run(mode: str, **environment: str) -> list[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True,
                          env={**env, **environment})
    return done.stdout.split()


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and "glibc" in os.confstr("CS_GNU_LIBC_VERSION").lower()
    except (ValueError, OSError, AttributeError):
        return False


@pytest.mark.skipif(not _glibc(), reason="glibc's allocator only")
def test_the_command_s_process_reuses_freed_arrays_instead_of_faulting_fresh_pages():
    kept, faults_kept = _run("keep")
    (faults_plain,) = _run("plain")
    assert kept == "True"
    # glibc as it starts maps each pass's masks anew (here about 9900 faults, one per 4 KiB touched);
    # kept, the heap serves them again: next to none, whatever another glibc's heuristics do
    assert int(faults_kept) < 200
    assert int(faults_kept) <= int(faults_plain)


@pytest.mark.skipif(not _glibc(), reason="glibc's allocator only")
def test_glibc_s_own_environment_variables_are_left_to_decide():
    kept, _ = _run("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert kept == "False"


def test_the_library_leaves_its_host_process_s_allocator_alone():
    """Importing dfcore and running a Finder never load the module that sets it: only the command does."""
    script = ("import sys, torch\nfrom dfcore import Finder\n"
              "Finder().run(torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8))\n"
              "print('dfcore.cli.process' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "False"


def test_the_command_sets_it_once_it_starts(monkeypatch):
    from click.testing import CliRunner

    from dfcore.cli import app

    calls = []
    monkeypatch.setattr(app, "keep_freed_memory", lambda: calls.append(1))
    result = CliRunner().invoke(app.main, ["--list-plugins"])
    assert result.exit_code == 0, result.output
    assert calls == [1]
