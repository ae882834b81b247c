"""The folder engine: pairing, plans and resume, summaries, faults, batching, interruption."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfcore import DiffResult, Finder, PairFailure
from dfcore.errors import InputError
from dfcore.io.layout import FAILED, OK, SKIPPED, SUMMARY_COLUMNS
from dfcore.io.pairing import pair_directories, read_pairs_csv
from dfcore.io.sharing import STALE_SECONDS, host_name
from dfcore.runs import BatchInterrupted, DirRun, plan_run
from dfcore.runs.plan import read_complete
from dfcore.runs.worker import group_batches
from dfcore.testing import fresh_registry, using_registry


@pytest.fixture
def registry():
    with using_registry(fresh_registry()) as reg:
        yield reg


def _image(path: Path, seed: int, size=(24, 32), bright_box: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((*size, 3)) * 200).astype(np.uint8)
    if bright_box:
        pixels[4:10, 6:14] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _folders(root: Path, names, size=(24, 32)) -> tuple[Path, Path]:
    dir_a, dir_b = root / "A", root / "B"
    for index, name in enumerate(names):
        _image(dir_a / name, index, size)
        _image(dir_b / name, index, size, bright_box=True)
    return dir_a, dir_b


def _finder(**kwargs) -> Finder:
    kwargs.setdefault("metric", "mse")
    kwargs.setdefault("strategy", "gradient")
    return Finder(device="cpu", **kwargs)


def _summary(output: Path) -> list[dict[str, str]]:
    with open(output / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# -- pairing ----------------------------------------------------------------------------------


def test_nested_folders_pair_by_relative_path_and_report_one_sided_files(tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["x.png", "deep/er/y.png", "deep/z.png"])
    _image(dir_a / "deep" / "only_a.png", 9)
    _image(dir_b / "only_b.png", 9)
    _image(dir_b / "deep" / "er" / "extra.png", 9)
    pairing = pair_directories(dir_a, dir_b)
    assert [p.name for p in pairing.pairs] == ["deep/er/y.png", "deep/z.png", "x.png"]
    assert all(p.a.relative_to(dir_a).as_posix() == p.name == p.b.relative_to(dir_b).as_posix()
               for p in pairing.pairs)
    assert pairing.only_a == ["deep/only_a.png"]
    assert pairing.only_b == ["deep/er/extra.png", "only_b.png"]


def test_pairs_csv_resolves_paths_and_names(tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    listing = tmp_path / "pairs.csv"
    listing.write_text("a,b,name\n1.png,2.png,cross\n2.png,2.png,\n\n")
    pairing = read_pairs_csv(listing, dir_a, dir_b)
    assert [(p.name, p.a, p.b) for p in pairing.pairs] == [
        ("cross", dir_a / "1.png", dir_b / "2.png"),
        ("2.png", dir_a / "2.png", dir_b / "2.png"),
    ]
    beside = tmp_path / "beside.csv"  # without folders, paths are relative to the CSV file
    beside.write_text("b,a\nB/1.png,A/1.png\n")
    (spec,) = read_pairs_csv(beside).pairs
    assert (spec.name, spec.a, spec.b) == ("B/1.png", tmp_path / "A/1.png", tmp_path / "B/1.png")


@pytest.mark.parametrize(("text", "message"), [
    ("left,right\nx,y\n", "needs a header with the columns a and b"),
    ("a,b\nx.png,\n", r"pairs.csv:2: both a and b are needed"),
    ("a,b,name\nx,y,n\nz,w,n\n", r"pairs.csv:3: the name 'n' is already used on line 2"),
    ("a,b,name\nx,y,../up\n", "must be a relative path without '..'"),
    ("a,b,name\nx,y,/abs\n", "must be a relative path"),
    ("a,b\n", "no pairs listed"),
])
def test_bad_pairs_csv_is_a_one_line_error(tmp_path, text, message):
    listing = tmp_path / "pairs.csv"
    listing.write_text(text)
    with pytest.raises(InputError, match=message):
        read_pairs_csv(listing)


# -- running into a folder --------------------------------------------------------------------


def test_save_writes_every_pair_and_a_summary(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["p1.png", "sub/p2.png", "sub/p3.png"])
    out = tmp_path / "out"
    report = _finder().run_dirs(dir_a, dir_b).save(out, progress=False)

    assert report.counts == {"total": 3, OK: 3, FAILED: 0, SKIPPED: 0}
    for stem in ("p1", "sub/p2", "sub/p3"):
        for suffix in (".heatmap.png", ".map.npy", ".json"):
            assert (out / f"{stem}{suffix}").is_file(), stem + suffix
    rows = _summary(out)
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    assert [r["pair"] for r in rows] == ["p1.png", "sub/p2.png", "sub/p3.png"]
    for row in rows:
        data = json.loads((out / f"{Path(row['pair']).with_suffix('')}.json").read_text())
        assert row["status"] == OK and row["error"] == "" and row["regions"] == ""
        assert float(row["score"]) == pytest.approx(data["score"]) and data["score"] > 0
        assert float(row["seconds"]) > 0
        assert row["a"] == str(dir_a / row["pair"]) and row["b"] == str(dir_b / row["pair"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == report.counts and summary["interrupted"] is False
    assert summary["config"]["metric"]["name"] == "mse"
    assert [p["pair"] for p in summary["pairs"]] == [r["pair"] for r in rows]


def test_corrupt_and_mismatched_pairs_fail_with_reasons_and_the_rest_goes_on(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png", "3.png", "4.png", "5.png"])
    (dir_b / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _image(dir_b / "4.png", 4, size=(20, 32))
    out = tmp_path / "out"
    told: list[tuple[str, str, bool]] = []
    report = _finder().run_dirs(dir_a, dir_b, batch_size=4).save(
        out, progress=False, on_row=lambda row, result: told.append((row.pair, row.status, result is not None)))

    assert report.counts == {"total": 5, OK: 3, FAILED: 2, SKIPPED: 0}
    rows = {r["pair"]: r for r in _summary(out)}
    assert rows["2.png"]["status"] == FAILED and "2.png" in rows["2.png"]["error"]
    assert "corrupt" in rows["2.png"]["error"] or "not an image" in rows["2.png"]["error"]
    assert rows["4.png"]["status"] == FAILED and "32x24" in rows["4.png"]["error"] and "32x20" in rows["4.png"]["error"]
    assert rows["2.png"]["score"] == "" and rows["2.png"]["seconds"] == ""
    assert {r for r in rows if rows[r]["status"] == OK} == {"1.png", "3.png", "5.png"}
    assert not (out / "2.json").exists() and not (out / "4.json").exists()
    assert sorted(told) == [("1.png", OK, True), ("2.png", FAILED, False), ("3.png", OK, True),
                            ("4.png", FAILED, False), ("5.png", OK, True)]


def test_a_stage_failing_on_one_pair_of_a_batch_fails_that_pair_only(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png", "3.png"])

    def picky(x, y):
        if bool((x == 0).all(dim=(1, 2, 3)).any()):
            raise ValueError("an all-black image")
        return ((x - y) ** 2).flatten(1).mean(1)

    picky.higher_is_better = False
    Image.new("RGB", (32, 24)).save(dir_a / "2.png")
    report = _finder(metric=picky).run_dirs(dir_a, dir_b, batch_size=3).save(tmp_path / "out", progress=False)
    assert [(r.pair, r.status) for r in report.rows] == [("1.png", OK), ("2.png", FAILED), ("3.png", OK)]
    assert "an all-black image" in report.rows[1].error


def test_rerun_skips_complete_pairs_and_redoes_the_rest(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png", "3.png"])
    out = tmp_path / "out"
    _finder().run_dirs(dir_a, dir_b).save(out, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "2.map.npy").unlink()  # no longer complete
    report = _finder().run_dirs(dir_a, dir_b).save(out, progress=False)

    assert [(r.pair, r.status) for r in report.rows] == [("1.png", SKIPPED), ("2.png", OK), ("3.png", SKIPPED)]
    assert report.rows[0].score == pytest.approx(json.loads((out / "1.json").read_text())["score"])
    assert report.rows[0].seconds is not None
    assert (out / "1.json").stat().st_mtime_ns == before["1.json"]
    assert (out / "2.map.npy").is_file()

    again = _finder().run_dirs(dir_a, dir_b).save(out, progress=False, overwrite=True)
    assert {r.status for r in again.rows} == {OK}
    assert (out / "1.json").stat().st_mtime_ns != before["1.json"]


def test_an_output_folder_of_another_pipeline_is_refused_unless_overwrite(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png"])
    out = tmp_path / "out"
    _finder().run_dirs(dir_a, dir_b).save(out, progress=False)
    with pytest.raises(InputError, match=r"holds results of another pipeline \(1 pairs, e.g. 1.json\)"):
        _finder(metric="psnr").run_dirs(dir_a, dir_b).save(out, progress=False)
    report = _finder(metric="psnr").run_dirs(dir_a, dir_b).save(out, progress=False, overwrite=True)
    assert report.counts[OK] == 1
    assert json.loads((out / "1.json").read_text())["metric"] == "psnr"


def test_a_folder_written_before_a_stage_gained_a_parameter_still_resumes(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    out = tmp_path / "out"
    finder = _finder(strategy="difference:sigma=1")
    finder.run_dirs(dir_a, dir_b).save(out, progress=False)
    for name in ("1.json", "2.json"):  # as an older dfind wrote them: the window knobs did not exist
        record = json.loads((out / name).read_text())
        for key in ("rendered_window", "window_slack", "window_fade"):
            del record["config"]["strategy"]["params"][key]
        (out / name).write_text(json.dumps(record))
    report = _finder(strategy="difference:sigma=1").run_dirs(dir_a, dir_b).save(out, progress=False)
    assert {r.status for r in report.rows} == {SKIPPED}
    record = json.loads((out / "1.json").read_text())  # a value other than the default still counts
    record["config"]["strategy"]["params"]["sigma"] = 2.0
    (out / "1.json").write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"holds results of another pipeline \(1 pairs, e.g. 1.json\)"):
        _finder(strategy="difference:sigma=1").run_dirs(dir_a, dir_b).save(out, progress=False)
    record["config"]["strategy"]["params"]["sigma"] = 1.0
    (out / "1.json").write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"another pipeline \(2 pairs"):  # and so does a new knob turned on
        _finder(strategy="difference:sigma=1,rendered_window=3").run_dirs(dir_a, dir_b).save(out, progress=False)


def test_output_name_collisions_fail_both_pairs(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["x.png", "x.jpg", "y.png"])
    report = _finder().run_dirs(dir_a, dir_b).save(tmp_path / "out", progress=False)
    status = {r.pair: (r.status, r.error) for r in report.rows}
    assert status["y.png"] == (OK, None)
    assert status["x.png"][0] == status["x.jpg"][0] == FAILED
    assert "output name 'x' is also that of x.jpg" in status["x.png"][1]


def test_plan_removes_leftover_partial_files(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png"])
    out = tmp_path / "out"
    out.mkdir()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True,
                           text=True)
    dead = out / f".1.json.{host_name()}~{int(ended.stdout)}~0a1b2c3d~9f8e7d.part"  # its writer has exited
    old = out / ".1.map.npy.abc123.part"  # an older dfind's name, untouched for longer than STALE_SECONDS
    for leftover in (dead, old):
        leftover.write_text("{half")
    os.utime(old, (time.time() - STALE_SECONDS - 5,) * 2)
    plan = plan_run(pair_directories(dir_a, dir_b), out, _finder().config)
    assert [p.name for p in plan.todo] == ["1.png"] and not dead.exists() and not old.exists()


def test_a_run_removes_temporary_files_of_a_writer_that_died_while_it_ran(registry, tmp_path):
    """Planning keeps a live writer's temporary file; once that writer dies, the run's end removes it."""
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    out = tmp_path / "out"
    out.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        partial = out / f".2.json.{host_name()}~{writer.pid}~0a1b2c3d~9f8e7d.part"
        partial.write_text("{half")

        def writer_dies(row, result):
            if writer.poll() is None:
                writer.kill()
                writer.wait()

        _finder().run_dirs(dir_a, dir_b).save(out, progress=False, on_row=writer_dies)
    finally:
        writer.kill()
        writer.wait()
    assert not partial.exists()
    assert sorted(p.name for p in out.glob(".*")) == []


def test_incomplete_json_is_not_complete(tmp_path):
    from dfcore.io.pairing import PairSpec

    spec = PairSpec("a.png", tmp_path / "x", tmp_path / "y")
    (tmp_path / "a.json").write_text('{"files": {"map": "a.map.npy"}}')
    assert read_complete(tmp_path, spec) is None  # lists a file that is missing
    (tmp_path / "a.map.npy").write_bytes(b"")
    assert read_complete(tmp_path, spec) == {"files": {"map": "a.map.npy"}}
    (tmp_path / "a.json").write_text('{"files": ')
    assert read_complete(tmp_path, spec) is None


# -- batches and iteration ---------------------------------------------------------------------


def test_batched_iteration_equals_pair_by_pair(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png", "3.png", "4.png", "5.png"])
    _image(dir_a / "6.png", 6, size=(30, 20))
    _image(dir_b / "6.png", 7, size=(30, 20))
    finder = _finder(metric="ssim")
    batched = list(finder.run_dirs(dir_a, dir_b, batch_size=3, workers=2))
    single = [finder.run(dir_a / name, dir_b / name) for name in ("1.png", "2.png", "3.png", "4.png", "5.png", "6.png")]
    assert [r.name for r in batched] == ["1.png", "2.png", "3.png", "4.png", "5.png", "6.png"]
    for mine, reference in zip(batched, single):
        assert isinstance(mine, DiffResult)
        assert mine.score == pytest.approx(reference.score, rel=1e-5)
        np.testing.assert_allclose(mine.map, reference.map, rtol=1e-4, atol=1e-9)
        assert mine.inputs["b"]["source"] == reference.inputs["b"]["source"]


def test_groups_keep_order_and_split_on_shape_failure_and_size(tmp_path):
    from dfcore.io.pairing import PairSpec
    from dfcore.runs.worker import LoadedPair

    def item(name, h):
        spec = PairSpec(name, tmp_path, tmp_path)
        return spec, LoadedPair(spec, torch.zeros(1, 3, h, 8), torch.zeros(1, 3, h, 8), {}, 0.0)

    failure = (PairSpec("bad", tmp_path, tmp_path), InputError("broken"))
    items = [item("a", 4), item("b", 4), item("c", 4), item("d", 5), failure, item("e", 5), item("f", 5)]
    groups = [[spec.name for spec, _ in group] for group in group_batches(items, batch_size=2)]
    assert groups == [["a", "b"], ["c"], ["d"], ["bad"], ["e", "f"]]
    assert [[s.name for s, _ in g] for g in group_batches(items[:3], 8, max_pixels=64)] == [["a", "b"], ["c"]]


def test_iteration_records_or_raises(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    (dir_b / "1.png").write_bytes(b"nope")
    recorded = list(_finder().run_dirs(dir_a, dir_b, on_error="record", workers=0))
    assert isinstance(recorded[0], PairFailure) and isinstance(recorded[1], DiffResult)
    with pytest.raises(InputError, match="1.png"):
        list(_finder().run_dirs(dir_a, dir_b))


def test_run_dirs_validates_its_options(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png"])
    with pytest.raises(ValueError, match="on_error must be"):
        _finder().run_dirs(dir_a, dir_b, on_error="skip")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        DirRun(_finder(), pair_directories(dir_a, dir_b), batch_size=0)
    with pytest.raises(InputError, match="give two folders to compare, or a pairs file"):
        _finder().run_dirs(dir_a)


# -- interruption ------------------------------------------------------------------------------


def test_ctrl_c_keeps_what_is_done_and_writes_the_summary(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, [f"{i}.png" for i in range(6)])
    calls = []

    def interrupting(x, y):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return ((x - y) ** 2).flatten(1).mean(1)

    interrupting.higher_is_better = False
    out = tmp_path / "out"
    run = _finder(metric=interrupting, strategy="difference").run_dirs(dir_a, dir_b, batch_size=1, workers=1)
    with pytest.raises(BatchInterrupted) as stop:
        run.save(out, progress=False)
    report = stop.value.report
    assert report.interrupted and [r.pair for r in report.rows] == ["0.png", "1.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and [p["pair"] for p in summary["pairs"]] == ["0.png", "1.png"]
    assert sorted(p.name for p in out.glob("*.json")) == ["0.json", "1.json", "summary.json"]


_KILLABLE_RUN = textwrap.dedent("""
    import signal, sys, time
    from dfcore import Finder

    # Ctrl-C raises KeyboardInterrupt, as in a terminal, even when pytest was started in the
    # background (a shell starts its background jobs with SIGINT ignored, which Python keeps)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from dfcore.testing import fresh_registry, using_registry

    class Slow:
        name = "slow-mse"
        higher_is_better = False

        def __call__(self, x, y):
            print("computing", flush=True)
            time.sleep(float(sys.argv[4]))
            return ((x - y) ** 2).flatten(1).mean(1)

    with using_registry(fresh_registry()):
        finder = Finder(metric=Slow(), strategy="difference", device="cpu")
        try:
            report = finder.run_dirs(sys.argv[1], sys.argv[2], batch_size=1, workers=1).save(sys.argv[3], progress=False)
        except KeyboardInterrupt as stop:
            print("interrupted", len(stop.report.rows), flush=True)
            sys.exit(130)
    print("done", report.counts, flush=True)
""")


def _start_run(tmp_path: Path, dir_a: Path, dir_b: Path, out: Path, delay: float) -> subprocess.Popen:
    script = tmp_path / "run.py"
    script.write_text(_KILLABLE_RUN)
    return subprocess.Popen([sys.executable, str(script), str(dir_a), str(dir_b), str(out), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_outputs(out: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([p for p in out.glob("*.json") if p.name != "summary.json"]) >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the run made no progress")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_run_resumes_without_recomputing_or_losing_pairs(registry, tmp_path, how):
    names = [f"{i:02d}.png" for i in range(16)]
    dir_a, dir_b = _folders(tmp_path, names)
    out = tmp_path / "out"
    process = _start_run(tmp_path, dir_a, dir_b, out, delay=0.5)  # slow enough that writing cannot fall 13 pairs behind
    _wait_for_outputs(out, 3, process)
    process.send_signal(getattr(signal, how))
    stdout, _ = process.communicate(timeout=60)
    complete = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json") if p.name != "summary.json"}
    assert 3 <= len(complete) < len(names), stdout
    assert not list(out.glob(".*.part")) or how == "SIGKILL"
    if how == "SIGINT":
        assert process.returncode == 130 and "interrupted" in stdout
        summary = json.loads((out / "summary.json").read_text())
        assert summary["interrupted"] is True
        assert {p["pair"] for p in summary["pairs"]} == {Path(c).stem + ".png" for c in complete}

    process = _start_run(tmp_path, dir_a, dir_b, out, delay=0.0)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert stdout.count("computing") == len(names) - len(complete)  # nothing complete computed again
    rows = _summary(out)
    assert [r["pair"] for r in rows] == names  # nothing missing
    assert {r["pair"] for r in rows if r["status"] == SKIPPED} == {Path(c).stem + ".png" for c in complete}
    assert all(r["status"] in (OK, SKIPPED) for r in rows)
    for name, mtime in complete.items():
        assert (out / name).stat().st_mtime_ns == mtime
    assert not list(out.glob(".*.part"))
    for name in names:
        assert np.load(out / f"{Path(name).stem}.map.npy").shape == (24, 32)


def test_progress_bar_on_request_shows_count_and_rate(registry, tmp_path, capsys):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    _finder().run_dirs(dir_a, dir_b).save(tmp_path / "out", progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "pair/s" in err
    _finder().run_dirs(dir_a, dir_b).save(tmp_path / "out2")  # default: only on a terminal
    assert capsys.readouterr().err == ""


def test_prefetch_reads_fewer_pairs_ahead_once_they_turn_out_large(tmp_path):
    from dfcore.io.pairing import PairSpec
    from dfcore.runs.worker import LoadedPair, prefetch

    started: list[str] = []

    def load(spec):
        started.append(spec.name)
        side = 64 if spec.name.startswith("big") else 8
        return LoadedPair(spec, torch.zeros(1, 1, side, side), torch.zeros(1, 1, side, side), {}, 0.0)

    specs = [PairSpec(f"{kind}{i}", tmp_path, tmp_path) for kind, i in
             [("small", 0), ("small", 1), ("big", 2), ("big", 3), ("big", 4), ("big", 5), ("big", 6)]]
    ahead_of_use = []
    for consumed, (spec, loaded) in enumerate(prefetch(specs, load, workers=1, ahead=4, max_pixels=64 * 64), 1):
        assert loaded.spec is spec
        time.sleep(0.05)  # time for the reader to start whatever was submitted
        ahead_of_use.append(len(started) - consumed)
    assert ahead_of_use[0] == 3  # small pairs: a window of 4, one of which is in use
    assert ahead_of_use[-2:] == [0, 0]  # once big pairs are seen: the next is read when needed


# -- what a folder run carries: truth masks, ignored pixels, previews, sizes that differ ---------


def _truth_folder(root: Path, names) -> Path:
    truth = root / "T"
    for name in names:
        mask = np.zeros((24, 32), np.uint8)
        mask[4:10, 6:14] = 255  # where _folders brightens B
        (truth / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(truth / name)
    return truth


def test_truth_masks_are_scored_and_a_run_without_them_is_not_complete_for_one_with(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "sub/2.png"])
    truth = _truth_folder(tmp_path, ["1.png", "sub/2.png"])
    out = tmp_path / "out"
    _finder(strategy="difference").run_dirs(dir_a, dir_b).save(out, progress=False)
    report = _finder(strategy="difference").run_dirs(dir_a, dir_b, truth=truth).save(out, progress=False)
    assert [r.status for r in report.rows] == [OK, OK]  # recomputed: the earlier run had no evaluation
    for stem in ("1", "sub/2"):
        assert json.loads((out / f"{stem}.json").read_text())["evaluation"]["auroc"] > 0.9
    again = _finder(strategy="difference").run_dirs(dir_a, dir_b, truth=truth).save(out, progress=False)
    assert [r.status for r in again.rows] == [SKIPPED, SKIPPED]
    (truth / "sub" / "2.png").unlink()
    redo = _finder(strategy="difference").run_dirs(dir_a, dir_b, truth=truth).save(out, progress=False, overwrite=True)
    assert redo.rows[1].status == FAILED and "no single truth mask" in redo.rows[1].error


def test_the_summary_carries_each_pairs_scores_against_its_truth_and_their_means(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    truth = _truth_folder(tmp_path, ["1.png", "2.png"])
    out = tmp_path / "out"
    report = _finder(strategy="difference").run_dirs(dir_a, dir_b, truth=truth).save(out, progress=False)
    for row in report.rows:
        evaluation = json.loads((out / f"{Path(row.pair).stem}.json").read_text())["evaluation"]
        assert (row.auroc, row.average_precision, row.best_dice) == pytest.approx(
            (evaluation["auroc"], evaluation["average_precision"], evaluation["best_dice"]))
    summary = json.loads((out / "summary.json").read_text())
    expected = {key: np.mean([getattr(r, key) for r in report.rows]) for key in ("auroc", "average_precision", "best_dice")}
    assert summary["evaluation_mean"] == pytest.approx(expected)
    with open(out / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["auroc"]) for r in rows] == pytest.approx([r.auroc for r in report.rows])
    # a resumed run reads the same values back from each pair's JSON
    again = _finder(strategy="difference").run_dirs(dir_a, dir_b, truth=truth).save(out, progress=False)
    assert [r.status for r in again.rows] == [SKIPPED, SKIPPED]
    for resumed, computed in zip(again.rows, report.rows):
        assert (resumed.auroc, resumed.best_dice) == pytest.approx((computed.auroc, computed.best_dice))
    # without truth masks the columns stay empty and there is no mean
    plain = _finder(strategy="difference").run_dirs(dir_a, dir_b).save(tmp_path / "plain", progress=False)
    assert all(r.auroc is None for r in plain.rows)
    assert json.loads((tmp_path / "plain" / "summary.json").read_text())["evaluation_mean"] is None


def test_ignored_pixels_apply_to_every_pair_and_are_part_of_what_resume_compares(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png"])
    out = tmp_path / "out"
    report = _finder().run_dirs(dir_a, dir_b, ignore="0:0-32:12").save(out, progress=False)
    assert report.counts[OK] == 2
    data = json.loads((out / "1.json").read_text())
    assert data["inputs"]["ignore"]["fraction"] == pytest.approx(0.5)
    assert np.load(out / "1.map.npy")[:12].max() == 0  # nothing in the ignored half
    assert _finder().run_dirs(dir_a, dir_b, ignore="0:0-32:12").save(out, progress=False).counts[SKIPPED] == 2
    with pytest.raises(InputError, match="holds results of another pipeline"):
        _finder().run_dirs(dir_a, dir_b, ignore="0:0-32:6").save(out, progress=False)


def test_previews_for_a_report_are_written_and_required_on_resume(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png"])
    out = tmp_path / "out"
    _finder().run_dirs(dir_a, dir_b).save(out, progress=False)
    assert not (out / "1.a.png").exists()
    report = _finder().run_dirs(dir_a, dir_b).save(out, progress=False, previews=True)
    assert report.rows[0].status == OK and (out / "1.a.png").is_file() and (out / "1.b.png").is_file()
    assert _finder().run_dirs(dir_a, dir_b).save(out, progress=False, previews=True).rows[0].status == SKIPPED


def test_pairs_of_other_sizes_batch_only_with_their_own_kind(registry, tmp_path):
    dir_a, dir_b = _folders(tmp_path, ["1.png", "2.png", "3.png", "4.png"])
    _image(dir_b / "2.png", 2, size=(20, 30), bright_box=True)
    _image(dir_b / "3.png", 3, size=(20, 30), bright_box=True)
    finder = _finder(size_policy="crop")
    batched = list(finder.run_dirs(dir_a, dir_b, batch_size=4))
    single = [finder.run(dir_a / n, dir_b / n) for n in ("1.png", "2.png", "3.png", "4.png")]
    for mine, reference in zip(batched, single):
        assert mine.map.shape == reference.map.shape
        np.testing.assert_allclose(mine.map, reference.map, rtol=1e-4, atol=1e-9)
    assert [r.map.shape for r in batched] == [(24, 32), (20, 30), (20, 30), (24, 32)]
