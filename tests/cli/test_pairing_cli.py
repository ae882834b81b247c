"""``--pair-by`` and its options: the layouts research code writes, from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dfcore.cli import EXIT_ERROR, EXIT_OK, main
from tests.cli.test_batch_cli import _image, _rows, dfind


@pytest.fixture(autouse=True)
def _registry():
    from dfcore.testing import fresh_registry, using_registry

    with using_registry(fresh_registry()):
        yield


def _layout(root: Path, names: dict[str, list[str]]) -> list[Path]:
    """Folders of real images: the i-th image of every folder is one scene (B's with a bright box)."""
    folders = []
    for folder, files in names.items():
        for seed, name in enumerate(files):
            _image(root / folder / name, seed, box=folder not in ("imgdir1", "gt", "A"))
        folders.append(root / folder)
    return folders


@pytest.fixture
def script_example(tmp_path):
    """The example folders of the research script dfind grew from."""
    return _layout(tmp_path, {"imgdir1": ["img1.png", "img2_1.png"], "imgdir2": ["img2.png", "img2_2.png"]})


def test_the_original_scripts_example_pairs_by_order(script_example, tmp_path):
    refused = dfind(*script_example, "-m", "mse")
    assert refused.exit_code == EXIT_ERROR and refused.stdout == ""
    assert refused.stderr == (f"dfind: error: no pairs by relative path: {script_example[0]} (2 images: img1.png, "
                              f"img2_1.png) and {script_example[1]} (2 images: img2.png, img2_2.png); pair them by "
                              "sorted position (--pair-by order, pair_by='order') or by names with a suffix stripped "
                              "(--strip-b SUFFIX, PairBy.stem(strip_b=...))\n")
    result = dfind(*script_example, "-m", "mse", "--pair-by", "order", "-o", tmp_path / "out")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stderr == ("dfind: 2 pairs by sorted position: img1.png with img2.png, img2_1.png with "
                             "img2_2.png\n")
    assert [line.split(":")[0] for line in result.stdout.splitlines()[:2]] == ["img1.png", "img2_1.png"]
    rows = _rows(tmp_path / "out")
    assert {pair: Path(row["b"]).name for pair, row in rows.items()} == {"img1.png": "img2.png",
                                                                         "img2_1.png": "img2_2.png"}
    resumed = dfind(*script_example, "-m", "mse", "--pair-by", "order", "-o", tmp_path / "out")
    assert "2 of 2 pairs compared (2 already complete from an earlier run)" in resumed.stdout


def test_super_resolution_outputs_pair_with_one_option(tmp_path):
    gt, sr = _layout(tmp_path, {"gt": ["baboon.png", "comic.png", "Set5/bird.png", "zebra.png"],
                                "sr": ["baboon_x4_SR.png", "comic_x4_SR.png", "Set5/bird_x4_SR.png", "zebra.png"]})
    out = tmp_path / "out"
    result = dfind(gt, sr, "-m", "mse", "--strip-b", "_x4_SR", "-o", out, "--report")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stderr.splitlines() == [
        "dfind: 3 pairs by stem, B's names without _x4_SR: Set5/bird.png with Set5/bird_x4_SR.png, "
        "baboon.png with baboon_x4_SR.png, comic.png with comic_x4_SR.png",
        f"dfind: only in {gt}: zebra.png",
        f"dfind: only in {sr}: zebra.png",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairing"] == {"rule": "stem", "strip_b": ["_x4_SR"]}
    assert (summary["only_a"], summary["only_b"]) == (["zebra.png"], ["zebra.png"])
    assert sorted(_rows(out)) == ["Set5/bird.png", "baboon.png", "comic.png"]
    index = (out / "index.html").read_text()
    assert "paired by stem, B&#x27;s names without _x4_SR" in index
    assert "Not paired: 2 files on one side only" in index
    assert 'baboon.png</a><div class="muted mono">with baboon_x4_SR.png</div>' in index  # B's file beside A's
    # a file only in B is new, one only in A deleted; each links to its file, with a thumbnail
    assert re.search(r'data-side="only_b" open><summary>new: only in B <code>[^<]*sr</code>: 1</summary>'
                     r'<ul><li><a href="\.\./sr/zebra\.png"><img [^>]*src="\.\./sr/zebra\.png"[^>]*>'
                     r"<code>zebra.png</code></a></li></ul>", index)
    assert re.search(r'data-side="only_a" open><summary>deleted: only in A <code>[^<]*gt</code>: 1</summary>', index)
    assert summary["folders"] == {"a": str(gt.resolve()), "b": str(sr.resolve())}


def test_denoising_outputs_pair_by_stripping_or_a_pattern(tmp_path):
    gt, dn = _layout(tmp_path, {"gt": ["0001_gt.png", "0002_gt.png"], "dn": ["0001_out.png", "0002_out.png"]})
    stripped = dfind(gt, dn, "-m", "mse", "--strip-a", "_gt", "--strip-b", "_out", "-o", tmp_path / "one")
    matched = dfind(gt, dn, "-m", "mse", "--match", r"(?P<key>\d+)", "-o", tmp_path / "two")
    for result in (stripped, matched):
        assert result.exit_code == EXIT_OK, result.output
        assert "2 of 2 pairs compared" in result.stdout
    assert _rows(tmp_path / "one").keys() == _rows(tmp_path / "two").keys() == {"0001_gt.png", "0002_gt.png"}
    resumed = dfind(gt, dn, "-m", "mse", "--match", r"(?P<key>\d+)", "-o", tmp_path / "two")
    assert "(2 already complete from an earlier run)" in resumed.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--strip-b", "_SR", "--pair-by", "order"], "Error: --strip-b: only with --pair-by stem"),
    (["--allow-unequal"], "Error: --allow-unequal: only with --pair-by order"),
    (["--match", "(?P<key>.+)", "--strip-a", "_gt"], "Error: --match and --strip-*: give a pattern or affixes"),
    (["--match", r"(\d+)"], r"dfind: error: match '(\\d+)': the pattern needs a named group (?P<key>...)"),
    (["--pair-by", "order", "--pairs", "x.csv"], "Error: --pair-by order pairs two folders: a pairs file lists"),
])
def test_bad_pairing_options_are_one_line_errors(script_example, args, message):
    result = dfind(*script_example, *args)
    assert result.exit_code == EXIT_ERROR and message in result.stderr, result.stderr


def test_pairing_two_files_is_a_usage_error(script_example):
    result = dfind(script_example[0] / "img1.png", script_example[1] / "img2.png", "--pair-by", "order")
    assert result.exit_code == EXIT_ERROR and "--pair-by order pairs two folders, not two files" in result.stderr


def test_unequal_lengths_and_ambiguity_name_the_files(script_example, tmp_path):
    _image(script_example[1] / "img3.png", 5)
    result = dfind(*script_example, "--pair-by", "order")
    assert result.exit_code == EXIT_ERROR
    assert "which would leave img3.png of" in result.stderr and len(result.stderr.splitlines()) == 1
    allowed = dfind(*script_example, "-m", "mse", "--pair-by", "order", "--allow-unequal")
    assert allowed.exit_code == EXIT_OK and f"dfind: only in {script_example[1]}: img3.png" in allowed.stderr
    _image(script_example[0] / "img2_2.png", 6)
    ambiguous = dfind(*script_example, "--match", r"img(?P<key>\d)")
    assert ambiguous.exit_code == EXIT_ERROR and len(ambiguous.stderr.splitlines()) == 1
    assert "ambiguous: img2_1.png, img2_2.png in" in ambiguous.stderr and "the key '2'" in ambiguous.stderr


def test_compare_pairs_three_folders_by_the_same_rules(tmp_path):
    truth, ours, base = _layout(tmp_path, {"gt": ["0001_gt.png", "0002_gt.png"],
                                           "ours": ["0001_ours.png", "0002_ours.png"],
                                           "base": ["0001_base.png", "0002_base.png", "0003_base.png"]})
    refused = dfind("compare", truth, ours, base, "-m", "mse")
    assert refused.exit_code == EXIT_ERROR
    assert refused.stderr.startswith(f"dfind: error: no comparisons by relative path: no image of {truth} has a "
                                     f"counterpart in both {ours} and {base} (0001_gt.png: in the truth but not in A "
                                     "and B, ")
    result = dfind("compare", truth, ours, base, "-m", "mse", "--strip-truth", "_gt", "--strip-a", "_ours",
                   "--strip-b", "_base", "-o", tmp_path / "cmp", "--report")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stderr.splitlines() == [
        "dfind: 2 pairs by stem, the truth's names without _gt, A's names without _ours, B's names without _base: "
        "0001_gt.png with 0001_ours.png and 0001_base.png, 0002_gt.png with 0002_ours.png and 0002_base.png",
        "dfind: 0003_base.png: in B but not in the truth",
    ]
    assert "2 of 2 compared" in result.stdout
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["only_b"] == ["0003_base.png"] and summary["pairing"]["strip_truth"] == ["_gt"]
    assert "<code>0003_base.png</code>" in (tmp_path / "cmp" / "index.html").read_text()


def test_help_shows_the_pairing_options():
    from click.testing import CliRunner

    text = CliRunner().invoke(main, ["--help"]).stdout
    for option in ("--pair-by [path|order|stem]", "--strip-a AFFIX", "--strip-b AFFIX", "--match REGEX",
                   "--allow-unequal", "dfind gt/ sr/ --strip-b _x4_SR"):
        assert option in text
    assert "--strip-truth AFFIX" in CliRunner().invoke(main, ["compare", "--help"]).stdout
