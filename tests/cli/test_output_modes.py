"""What a run prints for scripts and for people: ``--json``, ``-v``, the command list, paths before commands."""

from __future__ import annotations

import json

import pytest

from dfcore.cli import main
from dfcore.testing import fresh_registry, planted_pair, save_image, using_registry
from tests.cli import test_cli

dfind = test_cli.dfind
images = test_cli.images  # the fixture: two images with one planted change


@pytest.fixture(autouse=True)
def _registry():
    with using_registry(fresh_registry()):
        yield


@pytest.fixture
def folders(tmp_path):
    for index in range(3):
        a, b, _ = planted_pair(24, 32, boxes=((4, 4, 10 + index, 12),), seed=index)
        save_image(tmp_path / "A" / f"{index}.png", a)
        save_image(tmp_path / "B" / f"{index}.png", b)
    return tmp_path / "A", tmp_path / "B"


# -- --json ---------------------------------------------------------------------------------------


def test_json_prints_the_pairs_record_and_nothing_else(images):
    result = dfind(*images, "--json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert record["name"] == "b.png" and record["metric"] == "mse" and record["config"]["preset"] == "default"
    assert record["map"]["unit"].startswith("|a - b|") and len(record["regions"]) == 1
    assert result.stdout.count("\n") == 1


def test_json_with_an_output_folder_prints_the_written_record(images, tmp_path):
    result = dfind(*images, "-m", "ssim", "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record == json.loads((tmp_path / "out" / "b.json").read_text())
    assert record["files"]["heatmap"] == "b.heatmap.png" and record["config"]["strategy"]["name"] == "own"
    assert record["map"]["unit"] == "1 - SSIM (local, per window)"


def test_json_on_folders_prints_a_line_per_pair(folders, tmp_path):
    out = tmp_path / "out"
    result = dfind(*folders, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(line["pair"] for line in lines) == ["0.png", "1.png", "2.png"]
    assert {line["status"] for line in lines} == {"ok"} and all("map" in line for line in lines)
    assert "3 of 3 pairs compared" in result.stderr, "people's lines go to stderr"
    again = dfind(*folders, "-o", out, "--json")
    resumed = [json.loads(line) for line in again.stdout.splitlines()]
    assert {line["status"] for line in resumed} == {"skipped"} and all("score" in line for line in resumed)
    without_output = dfind(*folders, "--json")
    assert [json.loads(line)["status"] for line in without_output.stdout.splitlines()] == ["ok"] * 3


def test_json_keeps_an_infinite_score_out_of_the_numbers(images):
    a, _ = images
    result = dfind(a, a, "-m", "psnr", "--json")
    record = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert record["score"] is None and record["score_nonfinite"] == "inf"


# -- -v -------------------------------------------------------------------------------------------


def test_verbose_prints_the_resolved_pipeline_and_the_maps_unit(images):
    result = dfind(*images, "-m", "ssim:win_size=7", "-v")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("pipeline (preset metric, device cpu):")
    assert lines[start + 1:start + 6] == [
        "  preprocessor   -",
        "  metric         builtin.ssim: data_range=1.0, win_size=7, win_sigma=1.5, k1=0.01, k2=0.03",
        "  strategy       builtin.own",
        "  postprocessor  -",
        "map unit: 1 - SSIM (local, per window)",
    ]
    with_json = dfind(*images, "-v", "--json")
    json.loads(with_json.stdout)
    assert "pipeline (preset default" in with_json.stderr and "map unit: |a - b|" in with_json.stderr


def test_verbose_on_folders_says_the_unit_once(folders):
    result = dfind(*folders, "-m", "mse", "-v")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("map unit: squared error (per pixel, mean over channels)") == 1


# -- the command group ----------------------------------------------------------------------------


def test_help_lists_every_command_on_a_line(images):
    result = dfind("--help")
    assert result.exit_code == 0
    listed = result.stdout[result.stdout.index("Commands (dfind COMMAND --help"):].splitlines()[1:]
    assert [line.split()[1] for line in listed] == ["A", *[name for name in main.commands if name != "diff"]]
    assert {"compare", "check-metric", "rescale", "report"} <= set(main.commands)
    assert all(len(line.split()) > 3 for line in listed), "each command with its one-line help"


def test_a_path_wins_over_a_command_of_the_same_name(folders, tmp_path, monkeypatch):
    a, b = folders
    a.rename(tmp_path / "report")
    b.rename(tmp_path / "compare")
    monkeypatch.chdir(tmp_path)
    result = dfind("report", "compare", "-o", "out")
    assert result.exit_code == 0, result.output
    assert "report is a path here: comparing it, not running the report command" in result.stderr
    assert "3 of 3 pairs compared" in result.stdout
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["0.png", "1.png", "2.png"], \
        "nothing is written into the folder of images"
    assert (tmp_path / "out" / "summary.csv").is_file()
    monkeypatch.chdir(tmp_path / "out")
    assert dfind("report", ".").exit_code == 0, "without such a path, report is the command"
    assert (tmp_path / "out" / "index.html").is_file()
