"""Fault injection on folder runs, with real processes and files: runs sharing one output folder,
runs killed mid-way, claims and temporary files of live and dead writers, names that would
collide with the run's own files, spreadsheets, file modes, unwritable folders.

Command-line faults (thresholds, presets, plugin errors, pairs files) are in
``tests/cli/test_faults_cli.py``; the memory of large pairs is measured by
``benchmarks/run.py --only memory``, and the strips that bound it are checked for equality
with whole-image computation in ``tests/builtin/test_strips.py``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dfcore.errors import InputError
from dfcore.io.layout import FAILED, OK, SKIPPED, claim_file, read_summary_rows
from dfcore.io.pairing import pair_directories
from dfcore.io.sharing import STALE_SECONDS, Owner, host_name, partial_name, process_owner
from dfcore.runs import plan_run
from dfcore.runs.claims import HALF_WRITTEN_SECONDS, PairClaims, release_claims_of, remove_stale_claims
from dfcore.testing import fresh_registry, using_registry
from tests.faults import computed, dfind, env, make_plugins, numbered_pairs, pair_jsons, start, wait_until

SLOW = ("-m", "faulty.slow", "-s", "difference", "--batch-size", "1", "--workers", "1", "--quiet")


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    return make_plugins(tmp_path_factory.mktemp("site"))


def _config() -> dict:
    from dfcore import Finder

    with using_registry(fresh_registry()):
        return Finder(metric="mse", strategy="difference", device="cpu").config


def _hidden(out: Path, suffix: str) -> list[Path]:
    return [p for p in out.rglob(f".*{suffix}")]


def _dead_pid() -> int:
    """The id of a process that has ended (and was reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True,
                          text=True)
    return int(done.stdout)


# -- two runs into one folder -------------------------------------------------------------------


def test_two_overlapping_runs_share_the_pairs_and_lose_nothing(plugins, tmp_path):
    """The audit's case: a second run started a moment after the first, into the same folder,
    while the folder is planned again and again by a third process (this one)."""
    dir_a, dir_b = numbered_pairs(tmp_path, 20)
    out, log = tmp_path / "out", tmp_path / "computed.log"
    environment = env(plugins, DFIND_TEST_DELAY="0.8", DFIND_TEST_LOG=str(log))  # the work outlasts a start-up
    first = start(dir_a, dir_b, "-o", out, *SLOW, environment=environment)
    wait_until(lambda: len(pair_jsons(out)) >= 2, first)
    second = start(dir_a, dir_b, "-o", out, *SLOW, environment=environment)
    config = None
    while first.poll() is None or second.poll() is None:  # plan the folder over and over meanwhile
        config = config or _config()
        plan_run(pair_directories(dir_a, dir_b), out, config, overwrite=True)  # cleans up what it thinks is stale
        time.sleep(0.1)
    results = [process.communicate() for process in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), results
    scored = computed(log)
    assert sorted(pair for _, pair in scored) == list(range(20))  # every pair once: none twice, none lost
    assert {pid for pid, _ in scored} == {first.pid, second.pid}  # the second run took pairs of its own
    rows = read_summary_rows(out)
    assert [row["pair"] for row in rows] == [f"{i:02d}.png" for i in range(20)]
    assert {row["status"] for row in rows} <= {OK, SKIPPED}
    assert all(json.loads(path.read_text())["score"] > 0 for path in pair_jsons(out))
    assert len(pair_jsons(out)) == 20 and all(np.load(path.with_suffix(".map.npy")).shape == (24, 32)
                                              for path in pair_jsons(out))
    assert not _hidden(out, ".part") and not _hidden(out, ".claim")


def test_a_run_waits_for_a_pair_another_live_run_holds_then_computes_it_if_left_undone(plugins, tmp_path):
    dir_a, dir_b = numbered_pairs(tmp_path, 4)
    out, log = tmp_path / "out", tmp_path / "computed.log"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from dfcore.runs.claims import PairClaims
        log = Path({str(log)!r})
        with PairClaims({str(out)!r}) as claims:
            assert claims.take("02.png")
            print("held", flush=True)
            while not log.exists() or len(log.read_text().splitlines()) < 3:  # the run did all it could
                time.sleep(0.05)
            time.sleep(1)
        """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    done = dfind(dir_a, dir_b, "-o", out, *SLOW, environment=env(plugins, DFIND_TEST_LOG=str(log)))
    holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert [pair for _, pair in computed(log)] == [0, 1, 3, 2]  # 02 set aside, then done once its claim went
    assert {row["status"] for row in read_summary_rows(out)} == {OK}
    assert not _hidden(out, ".claim")


def test_a_pair_another_run_completed_meanwhile_is_read_back_not_recomputed(registry, tmp_path):
    from dfcore import Finder

    dir_a, dir_b = numbered_pairs(tmp_path, 3)
    out = tmp_path / "out"
    finder = Finder(metric="mse", strategy="difference", device="cpu")
    run = finder.run_dirs(dir_a, dir_b)
    plan = plan_run(run.pairing, out, finder.config)  # planned before the other run finished 01.png
    finder.run(dir_a / "01.png", dir_b / "01.png").save(out, "01.png")
    from dfcore.runs import PairWorker

    rows = {row.pair: row for row in PairWorker(finder, out, workers=0).process(plan.todo)}
    assert rows["01.png"].status == SKIPPED and rows["00.png"].status == rows["02.png"].status == OK
    other = Finder(metric="psnr", strategy="difference", device="cpu")
    (out / "02.json").unlink()
    other.run(dir_a / "02.png", dir_b / "02.png").save(out, "02.png")  # another pipeline, meanwhile
    (row,) = PairWorker(finder, out, workers=0).process([spec for spec in plan.todo if spec.name == "02.png"])
    assert row.status == FAILED and "another pipeline" in row.error
    assert json.loads((out / "02.json").read_text())["metric"] == "psnr"  # never replaced behind its back


# -- killed runs, stale claims and temporary files ------------------------------------------------


def test_a_killed_runs_claims_and_temporary_files_are_taken_over_at_once(plugins, tmp_path):
    dir_a, dir_b = numbered_pairs(tmp_path, 8)
    out, log = tmp_path / "out", tmp_path / "computed.log"
    environment = env(plugins, DFIND_TEST_DELAY="0.5", DFIND_TEST_LOG=str(log))
    process = start(dir_a, dir_b, "-o", out, *SLOW, environment=environment)
    wait_until(lambda: len(pair_jsons(out)) >= 2 and _hidden(out, ".claim"), process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    left = _hidden(out, ".claim")
    assert left and all(json.loads(path.read_text())["pid"] == process.pid for path in left)
    # The dead process's claims do not hold the rerun up (dfind() gives up long before STALE_SECONDS).
    done = dfind(dir_a, dir_b, "-o", out, *SLOW, environment=env(plugins, DFIND_TEST_LOG=str(log)))
    assert done.returncode == 0, done.stderr
    assert {row["status"] for row in read_summary_rows(out)} <= {OK, SKIPPED}
    assert len(pair_jsons(out)) == 8 and not _hidden(out, ".claim") and not _hidden(out, ".part")


def test_plan_keeps_a_live_writers_temporary_file_and_removes_it_once_the_writer_is_gone(registry, tmp_path):
    dir_a, dir_b = numbered_pairs(tmp_path, 1)
    out = tmp_path / "out"
    out.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from dfcore.io.sharing import partial_name, process_owner
        path = Path({str(out)!r}) / partial_name("00.map.npy", process_owner())
        path.write_bytes(b"half a map")
        print(path, flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        partial = Path(writer.stdout.readline().strip())
        plan_run(pair_directories(dir_a, dir_b), out, _config())
        assert partial.exists()  # its writer is alive: another run must not delete it
    finally:
        writer.kill()
        writer.wait()
    plan_run(pair_directories(dir_a, dir_b), out, _config())
    assert not partial.exists()


def test_claims_of_other_hosts_count_until_they_age(tmp_path):
    name = "00.png"
    path = claim_file(tmp_path, name)
    path.write_text(json.dumps(Owner("elsewhere", 1, "cafe0001").to_dict()))
    with PairClaims(tmp_path) as claims:
        assert not claims.take(name) and claims.held_elsewhere(name)  # a live-looking claim on another host
        os.utime(path, (time.time() - STALE_SECONDS - 5,) * 2)  # no heartbeat for longer than STALE_SECONDS
        assert not claims.held_elsewhere(name) and claims.take(name)
        assert json.loads(path.read_text())["token"] == claims.owner.token
    assert not path.exists()  # released when done


def test_a_dead_processs_claim_on_this_host_is_stale_at_once(tmp_path):
    path = claim_file(tmp_path, "scene/00.png")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(Owner(host_name(), _dead_pid(), "cafe0002").to_dict()))
    with PairClaims(tmp_path) as claims:
        assert claims.take("scene/00.png")


def test_a_claim_left_naming_no_holder_is_taken_over_once_it_is_seconds_old(tmp_path):
    path = claim_file(tmp_path, "00.png")
    path.write_text("")  # created, and its writer killed before it wrote its owner
    with PairClaims(tmp_path) as claims:
        assert not claims.take("00.png") and claims.held_elsewhere("00.png")  # it may be being written now
        os.utime(path, (time.time() - HALF_WRITTEN_SECONDS - 1,) * 2)
        assert not claims.held_elsewhere("00.png") and claims.take("00.png")
        assert json.loads(path.read_text())["token"] == claims.owner.token
    path.write_text("{")
    os.utime(path, (time.time() - HALF_WRITTEN_SECONDS - 1,) * 2)
    assert remove_stale_claims(tmp_path) == [path] and not path.exists()


def test_claims_are_refreshed_while_held(tmp_path):
    with PairClaims(tmp_path, heartbeat=0.2) as claims:
        assert claims.take("00.png")
        path = claim_file(tmp_path, "00.png")
        os.utime(path, (time.time() - 100,) * 2)
        wait_until(lambda: time.time() - path.stat().st_mtime < 50, timeout=10)


def test_an_engine_frees_the_claims_of_a_worker_process_it_lost(tmp_path):
    holder = Owner(host_name(), 424242, "cafe0003")
    for name in ("00.png", "01.png"):
        claim_file(tmp_path, name).write_text(json.dumps(holder.to_dict()))
    claim_file(tmp_path, "02.png").write_text(json.dumps(process_owner().to_dict()))  # someone else's: kept
    release_claims_of(tmp_path, ["00.png", "01.png", "02.png"], holder.host, holder.pid)
    assert [p.name for p in _hidden(tmp_path, ".claim")] == [".02.claim"]


# -- names, spreadsheets, modes, writability ---------------------------------------------------------


def test_pairs_named_like_the_runs_own_files_keep_their_results_and_resume(plugins, tmp_path):
    names = ["summary.png", "Summary.jpg", "thumbs/x.png", "index.png", "y.png"]
    dir_a, dir_b = numbered_pairs(tmp_path, len(names), names=names)
    out = tmp_path / "out"
    first = dfind(dir_a, dir_b, "-o", out, "--report", "-m", "mse", "-s", "difference", "--quiet",
                  environment=env())
    assert first.returncode == 3, first.stderr  # summary.png and Summary.jpg collide on a case-blind disk
    rows = {row["pair"]: row for row in read_summary_rows(out)}
    assert rows["summary.png"]["status"] == rows["Summary.jpg"]["status"] == FAILED
    assert "output name 'summary_' is also that of" in rows["summary.png"]["error"]
    (dir_a / "Summary.jpg").unlink()
    (dir_b / "Summary.jpg").unlink()
    second = dfind(dir_a, dir_b, "-o", out, "--report", "-m", "mse", "-s", "difference", "--quiet",
                   environment=env())
    assert second.returncode == 0, second.stderr
    assert json.loads((out / "summary_.json").read_text())["name"] == "summary.png"  # its own record
    assert json.loads((out / "thumbs_" / "x.json").read_text())["name"] == "thumbs/x.png"
    assert json.loads((out / "summary.json").read_text())["counts"]["total"] == 4  # the run's, beside it
    index = (out / "index.html").read_text()
    assert all(f"{stem}.report.html" in index for stem in ("summary_", "thumbs_/x", "index", "y"))
    third = dfind(dir_a, dir_b, "-o", out, "-m", "mse", "-s", "difference", "--quiet", environment=env())
    assert third.returncode == 0 and {row["status"] for row in read_summary_rows(out)} == {SKIPPED}


def test_summary_csv_cells_cannot_run_as_spreadsheet_formulas(registry, tmp_path):
    from dfcore import Finder

    names = ["=HYPERLINK(1).png", "+1.png", "-2.png", "@SUM(1).png", "'quoted.png", "plain.png"]
    dir_a, dir_b = numbered_pairs(tmp_path, len(names), names=names)
    Finder(metric="mse", strategy="difference", device="cpu").run_dirs(dir_a, dir_b).save(tmp_path / "out")
    with open(tmp_path / "out" / "summary.csv", newline="") as handle:
        cells = [row["pair"] for row in csv.DictReader(handle)]
    assert sorted(cells) == sorted(["'+1.png", "'-2.png", "'=HYPERLINK(1).png", "'@SUM(1).png", "''quoted.png",
                                    "plain.png"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sorted(row["pair"] for row in summary["pairs"]) == sorted(names)  # the JSON holds them as they are
    (tmp_path / "out" / "summary.json").unlink()
    assert sorted(row["pair"] for row in read_summary_rows(tmp_path / "out")) == sorted(names)  # read back exactly


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    dir_a, dir_b = numbered_pairs(tmp_path, 2)
    out = tmp_path / "out"
    done = dfind(dir_a, dir_b, "-o", out, "--report", "--quiet", environment=env(),
                 preexec_fn=lambda: os.umask(umask))
    assert done.returncode == 0, done.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o666 & ~umask)}


def test_an_unwritable_output_folder_fails_before_any_pair_is_computed(registry, tmp_path):
    from dfcore import Finder

    dir_a, dir_b = numbered_pairs(tmp_path, 2)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    finder = Finder(metric="mse", strategy="difference", device="cpu")
    with pytest.raises(InputError, match=r"a-file/out: cannot create the output folder: not a directory"):
        finder.run_dirs(dir_a, dir_b).save(blocker / "out")
    with pytest.raises(InputError, match=r"a-file: the output must be a folder, and this is a file"):
        finder.run_dirs(dir_a, dir_b).save(blocker)


def test_the_probe_leaves_nothing_behind(tmp_path):
    from dfcore.io.files import check_writable

    check_writable(tmp_path / "new" / "out")
    assert list((tmp_path / "new" / "out").iterdir()) == []
    assert partial_name("x", process_owner()).endswith(".part")
