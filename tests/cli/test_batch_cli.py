"""Folder runs from the command line: outputs, summary, exit codes, --pairs, resume, quiet."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dfcore.cli import EXIT_DIFFERENT, EXIT_ERROR, EXIT_OK, EXIT_PAIRS_FAILED, main
from dfcore.cli.common import terminate_as_interrupt
from dfcore.testing import fresh_registry, using_registry


@pytest.fixture(autouse=True)
def _registry():
    with using_registry(fresh_registry()):
        yield


def dfind(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _image(path: Path, seed: int, size=(24, 32), box: bool = False) -> None:
    pixels = (np.random.default_rng(seed).random((*size, 3)) * 200).astype(np.uint8)
    if box:
        pixels[4:10, 6:14] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def folders(tmp_path):
    for index, name in enumerate(["1.png", "2.png", "sub/3.png"]):
        _image(tmp_path / "A" / name, index)
        _image(tmp_path / "B" / name, index, box=True)
    return tmp_path / "A", tmp_path / "B"


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "summary.csv", newline="") as handle:
        return {row["pair"]: row for row in csv.DictReader(handle)}


def test_folder_run_writes_outputs_and_summary(folders, tmp_path):
    out = tmp_path / "out"
    result = dfind(*folders, "-m", "mse", "-o", out, "--scale", "image")
    assert result.exit_code == EXIT_OK, result.output
    lines = result.stdout.splitlines()
    assert sorted(line.split(":")[0] for line in lines[:3]) == ["1.png", "2.png", "sub/3.png"]
    # -m mse alone: MSE's own map (squared error), no region count
    assert all(" mse = " in line and line.endswith("(lower is better)") for line in lines[:3])
    assert lines[3] == "3 of 3 pairs compared"
    assert re.fullmatch(r"mse: mean \S+, median \S+, worst \S+ at (1|2|sub/3)\.png \(lower is better\)", lines[4])
    worst = max(_rows(out).values(), key=lambda row: float(row["score"]))
    assert f" at {worst['pair']} (" in lines[4], "the worst pair is named"
    assert lines[5].startswith(f"summary: {out / 'summary.csv'} (")
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert set(_rows(out)) == {"1.png", "2.png", "sub/3.png"}
    assert (out / "sub" / "3.heatmap.png").is_file() and (out / "sub" / "3.map.npy").is_file()

    again = dfind(*folders, "-m", "mse", "-o", out, "--scale", "image")
    assert again.exit_code == EXIT_OK
    assert again.stdout.splitlines()[0] == "3 of 3 pairs compared (3 already complete from an earlier run)"
    assert {row["status"] for row in _rows(out).values()} == {"skipped"}


def test_shared_scale_covers_resumed_pairs_too(folders, tmp_path):
    out = tmp_path / "out"
    assert dfind(*folders, "-m", "mse", "-o", out).exit_code == EXIT_OK
    (out / "2.json").unlink()
    result = dfind(*folders, "-m", "mse", "-o", out)
    assert result.exit_code == EXIT_OK
    assert "one colour scale for 3 maps" in result.stdout
    scales = {json.loads((out / f"{stem}.json").read_text())["display"]["vmax"] for stem in ("1", "2", "sub/3")}
    assert len(scales) == 1


def test_failures_exit_3_and_are_named(folders, tmp_path):
    (folders[1] / "2.png").write_bytes(b"broken")
    out = tmp_path / "out"
    result = dfind(*folders, "-m", "mse", "-o", out)
    assert result.exit_code == EXIT_PAIRS_FAILED
    assert "2 of 3 pairs compared, 1 failed" in result.stdout.splitlines()
    assert result.stderr.startswith("dfind: 2.png: failed: ") and len(result.stderr.splitlines()) == 1
    assert _rows(out)["2.png"]["status"] == "failed"


def test_fail_above_counts_pairs_beyond_the_threshold(folders, tmp_path):
    result = dfind(*folders, "-m", "mse", "-o", tmp_path / "out", "--fail-above", "0")
    assert result.exit_code == EXIT_DIFFERENT
    assert "dfind: 3 pairs: mse worse than the threshold 0" in result.stderr
    assert dfind(*folders, "-m", "mse", "-o", tmp_path / "out", "--fail-above", "1").exit_code == EXIT_OK


def test_pairs_file_alone_or_with_folders(folders, tmp_path):
    listing = tmp_path / "pairs.csv"
    listing.write_text("a,b,name\nA/1.png,B/2.png,one-vs-two\nA/1.png,B/missing.png,gone\n")
    result = dfind("--pairs", listing, "-m", "mse", "-o", tmp_path / "out")
    assert result.exit_code == EXIT_PAIRS_FAILED
    rows = _rows(tmp_path / "out")
    assert rows["one-vs-two"]["status"] == "ok" and (tmp_path / "out" / "one-vs-two.json").is_file()
    assert "missing.png: no such file" in rows["gone"]["error"]

    inside = tmp_path / "inside.csv"
    inside.write_text("a,b\n1.png,sub/3.png\n")
    result = dfind(*folders, "--pairs", inside, "-m", "mse", "-o", tmp_path / "out2")
    assert result.exit_code == EXIT_OK, result.output
    assert _rows(tmp_path / "out2")["sub/3.png"]["a"] == str(folders[0] / "1.png")


def test_one_sided_files_are_reported_and_shortened(folders, tmp_path):
    for index in range(12):
        _image(folders[0] / f"extra{index:02d}.png", index)
    result = dfind(*folders, "-m", "mse", "-o", tmp_path / "out")
    assert result.exit_code == EXIT_OK
    lines = result.stderr.splitlines()
    assert lines[0] == f"dfind: only in {folders[0]}: extra00.png"
    assert lines[10] == f"dfind: ... and 2 more only in {folders[0]} (all listed in summary.json)"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(summary["only_a"]) == 12 and summary["only_b"] == []


def test_quiet_prints_only_errors(folders, tmp_path):
    _image(folders[0] / "lonely.png", 0)
    (folders[1] / "1.png").write_bytes(b"broken")
    result = dfind(*folders, "-m", "mse", "-o", tmp_path / "out", "--quiet")
    assert result.exit_code == EXIT_PAIRS_FAILED
    assert result.stdout == ""
    assert result.stderr.startswith("dfind: 1.png: failed:") and len(result.stderr.splitlines()) == 1


def test_without_output_one_line_per_pair(folders):
    result = dfind(*folders, "-m", "mse", "--batch-size", "2", "--workers", "0")
    assert result.exit_code == EXIT_OK
    assert result.stdout.splitlines()[0].startswith("1.png: mse = ")
    assert result.stdout.splitlines()[-1] == "3 of 3 pairs compared"


@pytest.mark.parametrize(("args", "message"), [
    (["--batch-size", "2"], "--batch-size, --workers and --overwrite apply to folder runs"),
    (["--overwrite"], "apply to folder runs"),
])
def test_folder_options_on_two_files_are_usage_errors(folders, args, message):
    result = dfind(folders[0] / "1.png", folders[1] / "1.png", *args)
    assert result.exit_code == EXIT_ERROR and message in result.stderr


def test_folder_and_file_mixed(folders):
    result = dfind(folders[0], folders[1] / "1.png")
    assert result.exit_code == EXIT_ERROR
    assert f"{folders[0]} is a folder but {folders[1] / '1.png'} is not" in result.stderr


def test_interrupt_reports_progress_and_exits_130(folders, tmp_path, monkeypatch):
    from dfcore.runs import BatchInterrupted, BatchReport, DirRun, PairRow

    def interrupted(self, output, **kwargs):
        report = BatchReport([PairRow("1.png", "a", "b", "ok")], {}, Path(output))
        report.files = {"csv": Path(output) / "summary.csv"}
        raise BatchInterrupted(report)

    monkeypatch.setattr(DirRun, "save", interrupted)
    result = dfind(*folders, "-m", "mse", "-o", tmp_path / "out")
    assert result.exit_code == 130
    assert ("dfind: interrupted: 1 of 3 pairs complete, summary in "
            f"{tmp_path / 'out' / 'summary.csv'}; rerun the same command to resume") in result.stderr


def test_sigterm_becomes_an_interrupt():
    import signal

    with terminate_as_interrupt(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# -- --outputs ------------------------------------------------------------------------------------


def _listed(out: Path, stem: str) -> dict[str, str]:
    return json.loads((out / f"{stem}.json").read_text())["files"]


def test_one_pair_writes_the_outputs_asked(folders, tmp_path):
    dir_a, dir_b = folders
    out = tmp_path / "out"
    result = dfind(dir_a / "1.png", dir_b / "1.png", "-m", "mse", "-o", out, "--outputs", "npy")
    assert result.exit_code == EXIT_OK, result.output
    assert sorted(p.name for p in out.iterdir()) == ["1.json", "1.map.npy"]
    assert _listed(out, "1") == {"map": "1.map.npy"}


def test_a_folder_on_the_shared_scale_draws_each_heatmap_once_at_the_end(folders, tmp_path):
    out = tmp_path / "out"
    result = dfind(*folders, "-m", "mse", "-o", out, "--outputs", "heatmap,npy")
    assert result.exit_code == EXIT_OK, result.output
    for stem in ("1", "2", "sub/3"):
        record = json.loads((out / f"{stem}.json").read_text())
        name = Path(stem).name
        assert record["files"] == {"map": f"{name}.map.npy", "heatmap": f"{name}.heatmap.png"}
        assert record["display"]["scale"] == "shared" and (out / f"{stem}.heatmap.png").is_file()


def test_without_the_maps_the_default_scale_of_a_folder_is_each_images_own(folders, tmp_path):
    out = tmp_path / "out"
    result = dfind(*folders, "-m", "mse", "-o", out, "--outputs", "heatmap")
    assert result.exit_code == EXIT_OK, result.output
    assert "one colour scale" not in result.stdout
    assert _listed(out, "2") == {"heatmap": "2.heatmap.png"}
    assert json.loads((out / "2.json").read_text())["display"]["scale"] == "image"
    again = dfind(*folders, "-m", "mse", "-o", out, "--outputs", "heatmap")
    assert again.stdout.splitlines()[0] == "3 of 3 pairs compared (3 already complete from an earlier run)"


def test_a_folder_without_heatmaps_draws_none(folders, tmp_path):
    out = tmp_path / "out"
    result = dfind(*folders, "-m", "mse", "-o", out, "--outputs", "npy")
    assert result.exit_code == EXIT_OK, result.output
    assert "one colour scale" not in result.stdout
    assert not list(out.rglob("*.png"))
    for stem in ("1", "2", "sub/3"):
        assert _listed(out, stem) == {"map": f"{Path(stem).name}.map.npy"}


@pytest.mark.parametrize(("args", "message"), [
    (["--outputs", "npy", "--scale", "shared"], "--scale shared draws the heatmaps: add heatmap to --outputs"),
    (["--outputs", "heatmap,png"], "unknown output 'png': choose from heatmap, npy, mask, json"),
    (["--outputs", "heatmap", "--scale", "shared"], "--scale shared draws the heatmaps from the saved maps"),
    (["--outputs", "npy", "--report"], "--report shows the heatmaps: add heatmap to --outputs"),
])
def test_outputs_that_cannot_work_are_refused(folders, tmp_path, args, message):
    result = dfind(*folders, "-m", "mse", "-o", tmp_path / "out", *args)
    assert result.exit_code == EXIT_ERROR and message in result.output
    assert not (tmp_path / "out").exists()


def test_outputs_need_an_output_folder(folders):
    dir_a, dir_b = folders
    result = dfind(dir_a / "1.png", dir_b / "1.png", "--outputs", "npy")
    assert result.exit_code == EXIT_ERROR and "--outputs chooses the files written into the output folder" in result.output


def test_a_folder_run_decodes_its_pairs_while_it_starts_and_leaves_out_completed_ones(folders, tmp_path,
                                                                                    monkeypatch):
    from dfcore.io import readahead

    opened: list[readahead.ReadAhead] = []
    real = readahead.ReadAhead.start

    def start(self):
        opened.append(self)
        real(self)

    monkeypatch.setattr(readahead.ReadAhead, "start", start)
    out = tmp_path / "out"
    assert dfind(*folders, "-m", "mse", "-o", out).exit_code == EXIT_OK
    (ahead,) = opened
    assert len(ahead.paths) == 6 and ahead.served == 6  # every file decoded ahead was used
    for suffix in (".json", ".map.npy", ".heatmap.png"):
        (out / f"2{suffix}").unlink()  # one pair to do again
    assert dfind(*folders, "-m", "mse", "-o", out).exit_code == EXIT_OK
    assert sorted(Path(path).relative_to(tmp_path).as_posix() for path in opened[1].paths) == ["A/2.png", "B/2.png"]
    assert dfind(*folders, "-m", "mse", "-o", out, "--overwrite").exit_code == EXIT_OK
    assert len(opened[2].paths) == 6


def test_two_files_are_decoded_while_the_command_starts(folders, monkeypatch):
    from dfcore.io import readahead

    opened: list[readahead.ReadAhead] = []
    real = readahead.ReadAhead.start
    monkeypatch.setattr(readahead.ReadAhead, "start", lambda self: opened.append(self) or real(self))
    a, b = folders
    assert dfind(a / "1.png", b / "1.png", "-m", "mse").exit_code == EXIT_OK
    assert opened[0].served == 2 and opened[0].budget > 2**40  # no budget: the run holds both anyway
