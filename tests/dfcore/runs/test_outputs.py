"""Folder runs write the outputs a user chooses and resume the pairs complete for them."""

from __future__ import annotations

import json

import pytest

from dfcore import Finder
from dfcore.io.layout import OK, SKIPPED
from dfcore.runs import PairWorker
from dfcore.testing import fresh_registry, planted_pair, save_image, using_registry


@pytest.fixture
def folders(tmp_path):
    with using_registry(fresh_registry()):
        for index, name in enumerate(["1.png", "2.png", "3.png"]):
            a, b, _ = planted_pair(24, 32, boxes=((4, 6, 12, 20),), seed=index)
            save_image(tmp_path / "A" / name, a)
            save_image(tmp_path / "B" / name, b)
        yield tmp_path / "A", tmp_path / "B"


def _save(folders, out, **kwargs):
    finder = Finder(metric="mse", strategy="gradient", device="cpu")
    return finder.run_dirs(*folders).save(out, progress=False, **kwargs)


def _files(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith(("1.", "2.", "3.")))


def test_a_run_writes_only_the_outputs_asked_and_records_them(folders, tmp_path):
    out = tmp_path / "out"
    report = _save(folders, out, outputs="npy")
    assert {row.status for row in report.rows} == {OK}
    assert _files(out) == ["1.json", "1.map.npy", "2.json", "2.map.npy", "3.json", "3.map.npy"]
    assert json.loads((out / "2.json").read_text())["files"] == {"map": "2.map.npy"}
    assert (out / "summary.csv").is_file()


def test_resume_counts_a_pair_complete_for_the_outputs_asked(folders, tmp_path):
    out = tmp_path / "out"
    _save(folders, out, outputs=["heatmap"])
    assert [row.status for row in _save(folders, out, outputs="heatmap").rows] == [SKIPPED] * 3
    more = _save(folders, out, outputs="heatmap,npy")  # the maps were not written: computed again
    assert [row.status for row in more.rows] == [OK] * 3
    assert json.loads((out / "1.json").read_text())["files"] == {"heatmap": "1.heatmap.png", "map": "1.map.npy"}
    assert [row.status for row in _save(folders, out, outputs="json").rows] == [SKIPPED] * 3
    (out / "3.map.npy").unlink()
    rows = _save(folders, out).rows  # the default outputs include the map
    assert [row.status for row in rows] == [SKIPPED, SKIPPED, OK]


def test_the_worker_passes_its_outputs_to_an_equal_worker_elsewhere(tmp_path):
    finder = Finder(metric="mse", strategy="gradient", device="cpu")
    worker = PairWorker(finder, tmp_path, outputs="mask,heatmap")
    assert worker.settings["outputs"] == ("heatmap", "mask", "json")
    assert PairWorker(finder, tmp_path, **worker.settings).needs == worker.needs == ["heatmap", "mask", "valid"]
    assert PairWorker(finder, tmp_path).outputs == ("heatmap", "npy", "mask", "json")
