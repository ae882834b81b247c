"""Folder runs under every pairing rule: the Python API, the summary, resume, and empty folders."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from dfcore import Finder, NoPairsError, NoPairsWarning, PairBy, PairingError
from dfcore.errors import ParameterError
from dfcore.io.layout import OK, SKIPPED, SUMMARY_SCHEMA
from dfcore.runs import make_pairing
from dfcore.testing import fresh_registry, using_registry
from tests.dfcore.runs.test_batch import _image


@pytest.fixture(autouse=True)
def registry():
    with using_registry(fresh_registry()) as reg:
        yield reg


def _finder(**kwargs) -> Finder:
    kwargs.setdefault("metric", "mse")
    kwargs.setdefault("strategy", "gradient")
    return Finder(device="cpu", **kwargs)


def _layout(root: Path, names_a, names_b) -> tuple[Path, Path]:
    """Two folders of real images; B's image of position i is A's i-th with a bright box."""
    dir_a, dir_b = root / "A", root / "B"
    for seed, name in enumerate(names_a):
        _image(dir_a / name, seed)
    for seed, name in enumerate(names_b):
        _image(dir_b / name, seed, bright_box=True)
    return dir_a, dir_b


def _sources(out: Path, stem: str) -> tuple[str, str]:
    inputs = json.loads((out / f"{stem}.json").read_text())["inputs"]
    return Path(inputs["a"]["source"]).name, Path(inputs["b"]["source"]).name


def test_the_original_scripts_example_from_python(tmp_path):
    """``Finder(...).run("imgdir1", "imgdir2")`` of the script dfind grew from: by order it pairs as the script did;
    by path it pairs nothing, and says so."""
    root = tmp_path
    for seed, name in enumerate(["imgdir1/img1.png", "imgdir1/img2_1.png"]):
        _image(root / name, seed)
    for seed, name in enumerate(["imgdir2/img2.png", "imgdir2/img2_2.png"]):
        _image(root / name, seed, bright_box=True)
    finder = Finder(preprocessor="identity", strategy="gradient", metric="psnr", device="cpu")
    with pytest.warns(NoPairsWarning, match=r"no pairs by relative path: .*imgdir1 \(2 images: img1.png, "
                                            r"img2_1.png\) and .*pair_by='order'") as caught:
        run = finder.run(root / "imgdir1", root / "imgdir2")
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert len(run) == 0 and run.pairing.only_a == ["img1.png", "img2_1.png"]
    with pytest.raises(NoPairsError, match="no pairs by relative path"):
        finder.run(root / "imgdir1", root / "imgdir2", on_empty="raise")

    results = list(finder.run(root / "imgdir1", root / "imgdir2", pair_by="order"))
    assert [(r.name, Path(r.inputs["b"]["source"]).name) for r in results] == [("img1.png", "img2.png"),
                                                                                ("img2_1.png", "img2_2.png")]
    assert all(r.score > 0 for r in results)


def test_pairing_options_are_for_folders_only(tmp_path):
    a, b = _image(tmp_path / "a.png", 0), _image(tmp_path / "b.png", 1)
    with pytest.raises(ParameterError, match="pair_by and on_empty: only for folders"):
        _finder().run(a, b, pair_by="order", on_empty="raise")
    with pytest.raises(ParameterError, match="pair_by: only for folders"):
        _finder().compare(a, a, b, pair_by="stem")
    with pytest.raises(ParameterError, match="a pairs file lists its pairs; give one or the other"):
        make_pairing(None, None, pairs=tmp_path / "pairs.csv", pair_by="order")


def test_summary_records_the_rule_what_it_paired_and_what_it_left(tmp_path):
    gt, sr = _layout(tmp_path, ["baboon.png", "bird.png", "lonely.png"],
                     ["baboon_x4_SR.png", "bird_x4_SR.png", "bird_x4_LR.png"])
    report = _finder().run_dirs(gt, sr, pair_by=PairBy.stem(strip_b="_x4_SR")).save(tmp_path / "out", progress=False)
    assert [(r.pair, Path(r.b).name, r.status) for r in report.rows] == [("baboon.png", "baboon_x4_SR.png", OK),
                                                                         ("bird.png", "bird_x4_SR.png", OK)]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["schema"] == SUMMARY_SCHEMA == 2
    assert summary["pairing"] == {"rule": "stem", "strip_b": ["_x4_SR"]}
    assert summary["only_a"] == ["lonely.png"] and summary["only_b"] == ["bird_x4_LR.png"]
    assert "only_truth" not in summary
    assert [(row["pair"], Path(row["b"]).name) for row in summary["pairs"]] == [("baboon.png", "baboon_x4_SR.png"),
                                                                                ("bird.png", "bird_x4_SR.png")]


def test_a_pairs_file_is_recorded_as_the_rule(tmp_path):
    dir_a, dir_b = _layout(tmp_path, ["1.png"], ["x.png"])
    listing = tmp_path / "pairs.csv"
    listing.write_text("a,b\nA/1.png,B/x.png\n")
    report = _finder().run_dirs(pairs=listing).save(tmp_path / "out", progress=False)
    assert report.pairing == {"rule": "csv", "file": str(listing)}


@pytest.mark.parametrize(("names_a", "names_b", "pair_by"), [
    (["img1.png", "img2_1.png", "img3.png"], ["img2.png", "img2_2.png", "img4.png"], PairBy.order()),
    (["0001_gt.png", "0002_gt.png", "0003_gt.png"], ["0001_out.png", "0002_out.png", "0003_out.png"],
     PairBy.stem(match=r"(?P<key>\d+)")),
])
def test_resume_skips_the_pairs_of_every_rule(tmp_path, names_a, names_b, pair_by):
    dir_a, dir_b = _layout(tmp_path, names_a, names_b)
    out = tmp_path / "out"
    first = _finder().run_dirs(dir_a, dir_b, pair_by=pair_by).save(out, progress=False)
    assert first.counts == {"total": 3, OK: 3, "failed": 0, SKIPPED: 0}
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.map.npy")}
    again = _finder().run_dirs(dir_a, dir_b, pair_by=pair_by).save(out, progress=False)
    assert again.counts == {"total": 3, OK: 0, "failed": 0, SKIPPED: 3}
    assert [(r.pair, r.b, r.score) for r in again.rows] == [(r.pair, r.b, r.score) for r in first.rows]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.map.npy")} == written


def test_a_pair_whose_name_comes_to_stand_for_another_file_is_computed_again(tmp_path):
    """By order, a file added to B shifts the positions: the names of A now pair with other files of B."""
    dir_a, dir_b = _layout(tmp_path, ["a1.png", "a2.png", "a3.png"], ["b1.png", "b2.png", "b3.png"])
    out = tmp_path / "out"
    _finder().run_dirs(dir_a, dir_b, pair_by="order").save(out, progress=False)
    assert _sources(out, "a1") == ("a1.png", "b1.png")
    _image(dir_b / "b0.png", 7, bright_box=True)
    _image(dir_a / "a9.png", 8)
    report = _finder().run_dirs(dir_a, dir_b, pair_by="order").save(out, progress=False)
    assert [(r.pair, Path(r.b).name, r.status) for r in report.rows] == [
        ("a1.png", "b0.png", OK), ("a2.png", "b1.png", OK), ("a3.png", "b2.png", OK), ("a9.png", "b3.png", OK)]
    assert _sources(out, "a1") == ("a1.png", "b0.png")
    assert _finder().run_dirs(dir_a, dir_b, pair_by="order").save(out, progress=False).counts[SKIPPED] == 4


def test_ambiguity_and_unequal_lengths_stop_before_any_work(tmp_path):
    dir_a, dir_b = _layout(tmp_path, ["0001_gt.png", "0001_gt.jpg"], ["0001_out.png", "0002_out.png", "0003_out.png"])
    with pytest.raises(PairingError, match="ambiguous: 0001_gt.jpg, 0001_gt.png"):
        _finder().run_dirs(dir_a, dir_b, pair_by=PairBy.stem(strip_a="_gt", strip_b="_out"))
    with pytest.raises(PairingError, match="as many images on each side"):
        _finder().run(dir_a, dir_b, pair_by="order")
    run = _finder().run(dir_a, dir_b, pair_by=PairBy.order(allow_unequal=True))
    assert len(run) == 2 and run.pairing.only_b == ["0003_out.png"]


def test_three_folders_by_stem_and_never_silently_empty(tmp_path):
    for seed, name in enumerate(["gt/0001_gt.png", "gt/0002_gt.png"]):
        _image(tmp_path / name, seed)
    for seed, name in enumerate(["ours/0001_ours.png", "ours/0002_ours.png"]):
        _image(tmp_path / name, seed, bright_box=True)
    for seed, name in enumerate(["base/0001_base.png", "base/0002_base.png", "base/0003_base.png"]):
        _image(tmp_path / name, seed)
    folders = [tmp_path / "gt", tmp_path / "ours", tmp_path / "base"]
    with pytest.warns(NoPairsWarning, match="no comparisons by relative path: no image of .*gt has a counterpart"):
        assert len(_finder().compare(*folders)) == 0
    rule = PairBy.stem(match=r"(?P<key>\d+)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = _finder().compare(*folders, pair_by=rule)
    assert [r.better for r in run] == ["b", "b"]  # B is the truth itself
    report = run.save(tmp_path / "out", progress=False)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["kind"] == "compare" and summary["pairing"] == {"rule": "stem", "match": r"(?P<key>\d+)"}
    assert summary["only_b"] == ["0003_base.png"] and summary["only_truth"] == summary["only_a"] == []
    again = _finder().compare(*folders, pair_by=rule).save(tmp_path / "out", progress=False)
    assert report.counts[OK] == again.counts[SKIPPED] == 2
    with pytest.raises(NoPairsError, match="no comparisons by stem"):
        _finder().compare(*folders, pair_by=PairBy.stem(strip_a="_nothing"), on_empty="raise")


def test_a_pairing_made_beforehand_is_run_as_made(tmp_path):
    dir_a, dir_b = _layout(tmp_path, ["1.png", "2.png"], ["1_x4.png", "2_x4.png"])
    pairing = make_pairing(dir_a, dir_b, pair_by=PairBy.stem(strip_b="_x4"))
    run = _finder().run_dirs(pairing=pairing)
    assert run.pairing is pairing
    assert [(r.name, Path(r.inputs["b"]["source"]).name) for r in run] == [("1.png", "1_x4.png"), ("2.png", "2_x4.png")]
    with pytest.raises(ParameterError, match="give the pairing, or the folders"):
        _finder().run_dirs(dir_a, dir_b, pairing=pairing)


def test_a_folder_run_makes_previews_only_for_a_report(tmp_path):
    dir_a, dir_b = _layout(tmp_path, ["1.png"], ["1.png"])
    seen = []
    _finder().run_dirs(dir_a, dir_b).save(tmp_path / "plain", on_row=lambda row, result: seen.append(result))
    _finder().run_dirs(dir_a, dir_b).save(tmp_path / "report", previews=True,
                                          on_row=lambda row, result: seen.append(result))
    assert seen[0].previews is None
    assert seen[1].previews is not None and (tmp_path / "report" / "1.a.png").is_file()
    assert all(r.previews is not None for r in _finder().run_dirs(dir_a, dir_b))  # iterated: each result whole
