"""A small run of the whole benchmark: two pairs per track, every method that is installed."""

from __future__ import annotations

import csv
import json

import pytest

from benchmarks.quality import methods as M
from benchmarks.quality import run as R
from benchmarks.quality.pairs import TRACKS


def test_a_small_run_scores_every_installed_method_on_every_track(tmp_path):
    out = tmp_path / "results"
    result = R.main(["--split", "all", "--images", "chelsea,camera", "--variants", "1", "--max-side", "160",
                     "--out", str(out), "--quiet"])
    every = M.all_methods()
    installed = [name for name, method in every.items() if not method.missing()]
    assert set(result["methods"]) == set(installed)
    assert set(result["skipped"]) == set(every) - set(installed)
    summary = result["summary"]
    assert list(summary) == list(TRACKS)
    for track in TRACKS:
        assert set(summary[track]) == set(installed)
        for scores in summary[track].values():
            assert scores["pairs"] == 2
            assert all(0.0 <= scores[s] <= 1.0 for s in R.SCORES)
    # The truth is exactly the changed pixels, so |a - b| separates them perfectly on pristine pairs.
    assert summary["pristine"]["abs-diff"]["auroc"] == pytest.approx(1.0)
    assert summary["pristine"]["abs-diff"]["ap"] == pytest.approx(1.0)

    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert len(rows) == 2 * len(TRACKS) * len(installed)
    saved = json.loads((out / "summary.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(summary)) and saved["versions"]["dfind"]
    table = (out / "table.md").read_text()
    assert all(f"| {track} |" in table for track in TRACKS) and all(name in table for name in installed)


def test_pipelines_are_added_by_label():
    methods, skipped = R.select_methods(
        ["abs-diff", "tolerant"],
        ["tolerant=preprocessor=identity;metric=mse;strategy=difference:shift=1;postprocessor=smooth:sigma=1+identity"])
    assert list(methods) == ["abs-diff", "tolerant"] and not skipped
    label, stages = R.parse_pipeline("x=metric=mse;postprocessor=smooth+identity;preset=sharp")
    assert label == "x" and stages == {"metric": "mse", "postprocessor": ["smooth", "identity"], "preset": "sharp"}
    with pytest.raises(ValueError, match="bad pipeline item"):
        R.parse_pipeline("x=shape=round")
    with pytest.raises(SystemExit, match="unknown method"):
        R.select_methods(["nope"])
