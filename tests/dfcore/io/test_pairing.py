"""Pairing rules on the folder layouts research code writes: by path, by sorted position, by stem."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfcore.errors import NoPairsError, NoPairsWarning, PairingError, ParameterError
from dfcore.io.pairing import (
    PairBy,
    check_found,
    describe_rule,
    no_pairs_message,
    pair_directories,
    pair_three,
)


def images(root: Path, *names: str) -> Path:
    """Small real PNG (or JPEG) files under ``root``."""
    for index, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((4, 4, 3), index * 10, np.uint8)).save(path)
    root.mkdir(parents=True, exist_ok=True)
    return root


def pairs_of(pairing, dir_a: Path, dir_b: Path) -> list[tuple[str, str, str]]:
    return [(p.name, p.a.relative_to(dir_a).as_posix(), p.b.relative_to(dir_b).as_posix()) for p in pairing.pairs]


# -- by sorted position ------------------------------------------------------------------------


def test_the_original_scripts_example_pairs_by_order(tmp_path):
    # the script globbed and sorted both folders: img1.png with img2.png, img2_1.png with img2_2.png
    dir_a = images(tmp_path / "imgdir1", "img1.png", "img2_1.png")
    dir_b = images(tmp_path / "imgdir2", "img2.png", "img2_2.png")
    assert pair_directories(dir_a, dir_b).pairs == []  # nothing shares a name
    pairing = pair_directories(dir_a, dir_b, pair_by="order")
    assert pairs_of(pairing, dir_a, dir_b) == [("img1.png", "img1.png", "img2.png"),
                                                ("img2_1.png", "img2_1.png", "img2_2.png")]
    assert pairing.only_a == pairing.only_b == []
    assert pairing.rule == {"rule": "order"}


def test_order_is_that_of_sorted_text_over_relative_paths(tmp_path):
    dir_a = images(tmp_path / "A", "img10.png", "img2.png", "sub/a.png", "b.png")
    dir_b = images(tmp_path / "B", "x1.jpg", "x2.jpg", "x3.jpg", "x4.jpg")
    pairing = pair_directories(dir_a, dir_b, pair_by=PairBy.order())
    # sorted(["img10.png", "img2.png", "sub/a.png", "b.png"]): b, img10, img2, sub/a
    assert pairs_of(pairing, dir_a, dir_b) == [("b.png", "b.png", "x1.jpg"), ("img10.png", "img10.png", "x2.jpg"),
                                                ("img2.png", "img2.png", "x3.jpg"), ("sub/a.png", "sub/a.png", "x4.jpg")]


def test_order_refuses_folders_of_different_lengths_and_names_what_would_be_left(tmp_path):
    dir_a = images(tmp_path / "A", "1.png", "2.png")
    dir_b = images(tmp_path / "B", "1.png", "2.png", "3.png", "4.png", "5.png", "6.png")
    with pytest.raises(PairingError, match=r"A has 2, .*B has 6, which would leave 3.png, 4.png, 5.png and 1 more "
                                           r"of .*B over; allow it \(--allow-unequal"):
        pair_directories(dir_a, dir_b, pair_by="order")
    pairing = pair_directories(dir_a, dir_b, pair_by=PairBy.order(allow_unequal=True))
    assert [p.name for p in pairing.pairs] == ["1.png", "2.png"]
    assert pairing.only_a == [] and pairing.only_b == ["3.png", "4.png", "5.png", "6.png"]
    assert pairing.rule == {"rule": "order", "allow_unequal": True}


# -- by stem -----------------------------------------------------------------------------------


def test_super_resolution_outputs_pair_with_one_suffix_stripped(tmp_path):
    gt = images(tmp_path / "gt", "baboon.png", "Set5/bird.png", "Set5/butterfly.png", "lonely.png")
    sr = images(tmp_path / "sr", "baboon_x4_SR.png", "Set5/bird_x4_SR.png", "Set5/butterfly_x4_SR.png",
                "baboon_x4_LR.png", "Set5/bird.png")
    pairing = pair_directories(gt, sr, pair_by=PairBy.stem(strip_b="_x4_SR"))
    assert pairs_of(pairing, gt, sr) == [("Set5/bird.png", "Set5/bird.png", "Set5/bird_x4_SR.png"),
                                         ("Set5/butterfly.png", "Set5/butterfly.png", "Set5/butterfly_x4_SR.png"),
                                         ("baboon.png", "baboon.png", "baboon_x4_SR.png")]
    # B's names without the suffix are left over, never paired by their plain stem
    assert pairing.only_a == ["lonely.png"] and pairing.only_b == ["Set5/bird.png", "baboon_x4_LR.png"]
    assert pairing.rule == {"rule": "stem", "strip_b": ["_x4_SR"]}


def test_several_affixes_and_prefixes(tmp_path):
    gt = images(tmp_path / "gt", "baboon.png", "bird.png", "comic.png")
    out = images(tmp_path / "out", "baboon_SwinIR.png", "bird_x4_SR.png", "SR_comic.png")
    pairing = pair_directories(gt, out, pair_by=PairBy.stem(strip_b=["_x4_SR", "_SwinIR", "SR_"]))
    assert [(p.name, p.b.name) for p in pairing.pairs] == [
        ("baboon.png", "baboon_SwinIR.png"), ("bird.png", "bird_x4_SR.png"), ("comic.png", "SR_comic.png")]


def test_denoising_outputs_pair_by_stripping_both_sides_or_by_a_pattern(tmp_path):
    dir_a = images(tmp_path / "gt", "0001_gt.png", "0002_gt.png", "0003_gt.png")
    dir_b = images(tmp_path / "out", "0001_out.png", "0002_out.jpg", "0004_out.png", "notes_out.png")
    expected = [("0001_gt.png", "0001_out.png"), ("0002_gt.png", "0002_out.jpg")]
    stripped = pair_directories(dir_a, dir_b, pair_by=PairBy.stem(strip_a="_gt", strip_b="_out"))
    assert [(p.name, p.b.name) for p in stripped.pairs] == expected
    assert stripped.only_a == ["0003_gt.png"] and stripped.only_b == ["0004_out.png", "notes_out.png"]
    matched = pair_directories(dir_a, dir_b, pair_by=PairBy.stem(match=r"(?P<key>\d+)"))
    assert [(p.name, p.b.name) for p in matched.pairs] == expected
    assert matched.only_b == ["0004_out.png", "notes_out.png"]  # no digits: no key
    assert matched.rule == {"rule": "stem", "match": r"(?P<key>\d+)"}


def test_stem_alone_pairs_across_image_extensions(tmp_path):
    dir_a = images(tmp_path / "A", "x/001.png", "002.tif")
    dir_b = images(tmp_path / "B", "x/001.jpg", "002.webp", "x/002.png")
    pairing = pair_directories(dir_a, dir_b, pair_by="stem")
    assert pairs_of(pairing, dir_a, dir_b) == [("002.tif", "002.tif", "002.webp"), ("x/001.png", "x/001.png", "x/001.jpg")]
    assert pairing.only_b == ["x/002.png"]  # keys keep the folder


@pytest.mark.parametrize(("a_names", "b_names", "rule", "message"), [
    (["0001_gt.png", "0001_gt.jpg"], ["0001_out.png"], PairBy.stem(strip_a="_gt", strip_b="_out"),
     r"ambiguous: 0001_gt.jpg, 0001_gt.png in .*A and 0001_out.png in .*B all have the key '0001'"),
    (["0001_gt.png"], ["0001_out.png", "0001_old.png"], PairBy.stem(match=r"(?P<key>\d+)"),
     r"ambiguous: 0001_gt.png in .*A and 0001_old.png, 0001_out.png in .*B all have the key '0001'"),
])
def test_two_files_matching_one_is_an_error_naming_them(tmp_path, a_names, b_names, rule, message):
    dir_a, dir_b = images(tmp_path / "A", *a_names), images(tmp_path / "B", *b_names)
    with pytest.raises(PairingError, match=message) as error:
        pair_directories(dir_a, dir_b, pair_by=rule)
    assert "\n" not in str(error.value)


def test_the_same_key_twice_on_one_side_only_is_left_over_not_an_error(tmp_path):
    dir_a = images(tmp_path / "A", "0001_gt.png", "0001_gt.jpg", "0002_gt.png")
    dir_b = images(tmp_path / "B", "0002_out.png")
    pairing = pair_directories(dir_a, dir_b, pair_by=PairBy.stem(strip_a="_gt", strip_b="_out"))
    assert [p.name for p in pairing.pairs] == ["0002_gt.png"]
    assert pairing.only_a == ["0001_gt.jpg", "0001_gt.png"]


# -- the rule as a value -----------------------------------------------------------------------


@pytest.mark.parametrize(("make", "message"), [
    (lambda: PairBy("name"), "unknown rule 'name'; the rules are path, order, stem"),
    (lambda: PairBy("order", strip_b=("_SR",)), r"strip_b: only when pairing by stem \(the rule is order\)"),
    (lambda: PairBy("path", match="(?P<key>.+)"), "match: only when pairing by stem"),
    (lambda: PairBy("stem", allow_unequal=True), "allow_unequal: only when pairing by order"),
    (lambda: PairBy.stem(strip_b=""), "strip_b: give non-empty text"),
    (lambda: PairBy.stem(match=r"(\d+)"), r"needs a named group \(\?P<key>\.\.\.\)"),
    (lambda: PairBy.stem(match=r"(?P<id>\d+)"), r"needs a named group \(\?P<key>"),
    (lambda: PairBy.stem(match="(?P<key>"), "not a regular expression"),
    (lambda: PairBy.stem(match="(?P<key>.+)", strip_a="_gt"), "give a pattern or affixes to strip, not both"),
    (lambda: PairBy.of(3), "give one of path, order, stem or a PairBy"),
])
def test_bad_rules_are_one_line_errors(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def test_strip_truth_is_for_three_folders(tmp_path):
    dir_a, dir_b = images(tmp_path / "A", "1.png"), images(tmp_path / "B", "1.png")
    with pytest.raises(ParameterError, match="strip_truth: only for three folders"):
        pair_directories(dir_a, dir_b, pair_by=PairBy.stem(strip_truth="_gt"))


def test_rules_in_words():
    assert PairBy.of(None) == PairBy.of("path") == PairBy.path()
    assert describe_rule(PairBy().to_dict()) == "by relative path"
    assert describe_rule(PairBy.order(allow_unequal=True).to_dict()) == "by sorted position, unequal lengths allowed"
    assert describe_rule(PairBy.stem(strip_a="_gt", strip_b=["_out", "_dn"]).to_dict()) == \
        "by stem, A's names without _gt, B's names without _out or _dn"
    assert describe_rule(PairBy.stem(match=r"(?P<key>\d+)").to_dict()) == r"by stem, names matching (?P<key>\d+)"
    assert describe_rule({"rule": "csv", "file": "pairs.csv"}) == "as listed in pairs.csv"


# -- three folders -----------------------------------------------------------------------------


def test_three_folders_pair_by_stem_with_affixes_for_each(tmp_path):
    truth = images(tmp_path / "gt", "0001_gt.png", "0002_gt.png", "0003_gt.png")
    dir_a = images(tmp_path / "ours", "0001_ours.png", "0002_ours.png", "0003_ours.png", "0009_ours.png")
    dir_b = images(tmp_path / "base", "0001_base.png", "0002_base.png")
    found = pair_three(truth, dir_a, dir_b, pair_by=PairBy.stem(strip_truth="_gt", strip_a="_ours", strip_b="_base"))
    assert [(t.name, t.a.name, t.b.name) for t in found.triples] == [
        ("0001_gt.png", "0001_ours.png", "0001_base.png"), ("0002_gt.png", "0002_ours.png", "0002_base.png")]
    assert found.missing == ["0003_gt.png: in the truth but not in B", "0009_ours.png: in A but not in the truth"]
    assert (found.only_truth, found.only_a, found.only_b) == (["0003_gt.png"], ["0009_ours.png"], [])
    pairing = found.pairing()
    assert pairing.rule == {"rule": "stem", "strip_truth": ["_gt"], "strip_a": ["_ours"], "strip_b": ["_base"]}
    assert pairing.pairs[0].reference == truth / "0001_gt.png" and pairing.only_truth == ["0003_gt.png"]


def test_three_folders_pair_by_order(tmp_path):
    truth = images(tmp_path / "gt", "a.png", "b.png")
    dir_a = images(tmp_path / "ours", "a_ours.png", "b_ours.png")
    dir_b = images(tmp_path / "base", "x.png", "y.png")
    found = pair_three(truth, dir_a, dir_b, pair_by="order")
    assert [(t.name, t.a.name, t.b.name) for t in found.triples] == [("a.png", "a_ours.png", "x.png"),
                                                                      ("b.png", "b_ours.png", "y.png")]
    images(dir_b, "z.png")
    with pytest.raises(PairingError, match="base has 3"):
        pair_three(truth, dir_a, dir_b, pair_by="order")


# -- never silently empty ----------------------------------------------------------------------


def test_no_pairs_warns_at_the_callers_line_or_raises(tmp_path):
    dir_a = images(tmp_path / "imgdir1", "img1.png", "img2_1.png")
    dir_b = images(tmp_path / "imgdir2", "img2.png", "img2_2.png")
    pairing = pair_directories(dir_a, dir_b)
    message = no_pairs_message(pairing, dir_a, dir_b)
    assert message.startswith(f"no pairs by relative path: {dir_a} (2 images: img1.png, img2_1.png) and {dir_b} "
                              "(2 images: img2.png, img2_2.png); pair them by sorted position (--pair-by order")
    with pytest.warns(NoPairsWarning, match="no pairs by relative path") as caught:
        check_found(0, message)
    assert caught[0].filename == __file__
    with pytest.raises(NoPairsError, match="no pairs by relative path"):
        check_found(0, message, on_empty="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_found(2, message)  # pairs found: nothing to say
    with pytest.raises(ParameterError, match="on_empty must be 'warn' or 'raise', got 'ignore'"):
        check_found(2, message, on_empty="ignore")
    assert issubclass(NoPairsWarning, UserWarning)
