"""The output folder's names and files: pairs never take the run's own names; summary.csv cells
are inert; the outputs a user chooses, and when a saved pair counts as complete for them."""

from __future__ import annotations

import json

import pytest

from dfcore.errors import ParameterError
from dfcore.io.layout import (
    DEFAULT_OUTPUTS,
    OUTPUTS,
    RUN_DIRS,
    RUN_FILES,
    claim_file,
    complete_pair,
    csv_cell,
    output_roles,
    output_stem,
    pair_file,
    parse_outputs,
    read_csv_cell,
)


@pytest.mark.parametrize(("name", "stem"), [
    ("001.png", "001"),
    ("scene/001.png", "scene/001"),
    ("summary.png", "summary_"),
    ("SUMMARY.jpg", "SUMMARY_"),  # case-blind file systems
    ("thumbs/001.png", "thumbs_/001"),
    ("Thumbs/a/b.png", "Thumbs_/a/b"),
    ("thumbs.png", "thumbs"),  # a file beside the folder, not in it
    ("scene/summary.png", "scene/summary"),  # only the top of the folder is the run's
    ("scene/thumbs/1.png", "scene/thumbs/1"),
    ("index.png", "index"),
    ("report.png", "report"),
    ("approvals.png", "approvals_"),  # its record would take approvals.json, dfind approve's
])
def test_output_stems_never_take_the_runs_own_names(name, stem):
    assert output_stem(name) == stem
    assert output_stem(stem) == stem  # a stem is its own stem: resume and rescale find the same files


def test_no_pair_file_is_a_run_file_or_lies_in_a_run_folder(tmp_path):
    firsts = [name.split(".")[0] for name in RUN_FILES] + list(RUN_DIRS)
    for name in [first.upper() + suffix for first in firsts for suffix in ("", ".png", "/x.png")] + firsts:
        for role in ("json", "heatmap", "map", "mask", "valid", "a", "b", "report"):
            parts = pair_file(tmp_path, name, role).relative_to(tmp_path).parts
            if len(parts) == 1:
                assert parts[0].lower() not in RUN_FILES, (name, role)
            else:
                assert parts[0].lower() not in RUN_DIRS, (name, role)


def test_claim_files_are_hidden_beside_the_pairs_files(tmp_path):
    assert claim_file(tmp_path, "scene/001.png") == tmp_path / "scene" / ".001.claim"
    assert claim_file(tmp_path, "summary.png") == tmp_path / ".summary_.claim"


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+2", "'+1+2"), ("-2+3.png", "'-2+3.png"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'quoted", "''quoted"), ("plain.png", "plain.png"),
    ("-inf", "-inf"), ("-0.5", "-0.5"), ("+3", "+3"),  # numbers stay numbers
    (-0.25, "-0.25"), (None, ""), (3, "3"),
])
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_quoted_reversibly(value, cell):
    assert csv_cell(value) == cell
    if isinstance(value, str):
        assert read_csv_cell(cell) == value



def test_outputs_are_read_from_text_or_a_list_in_one_order_with_the_record_always():
    assert parse_outputs(None) == DEFAULT_OUTPUTS == tuple(OUTPUTS)
    assert parse_outputs("npy, heatmap") == ("heatmap", "npy", "json")
    assert parse_outputs(["mask"]) == ("mask", "json")
    assert parse_outputs("json") == ("json",)
    assert parse_outputs(None, ("npy",)) == ("npy", "json")


@pytest.mark.parametrize(("value", "message"), [
    ("heatmap,png", "unknown output 'png': choose from heatmap, npy, mask, json"),
    ("", "no output named: choose from"),
    ([], "no output named"),
])
def test_unknown_or_no_outputs_are_refused(value, message):
    with pytest.raises(ParameterError, match=message):
        parse_outputs(value)


def test_roles_of_the_outputs_bring_the_valid_mask_with_the_heatmap_or_the_map():
    assert output_roles(parse_outputs("heatmap")) == ["heatmap", "valid"]
    assert output_roles(parse_outputs("npy,mask")) == ["map", "mask", "valid"]
    assert output_roles(parse_outputs("mask")) == ["mask"]
    assert output_roles(parse_outputs("json")) == []


def _record(folder, files, **extra):
    for name in files.values():
        (folder / name).write_bytes(b"x")
    data = {"score": 1.0, "map": {}, "config": {}, "files": files, **extra}
    (folder / "p.json").write_text(json.dumps(data))


def test_a_pair_is_complete_for_the_outputs_asked_and_the_files_it_has(tmp_path):
    _record(tmp_path, {"heatmap": "p.heatmap.png"})
    assert complete_pair(tmp_path, "p.png", output_roles(parse_outputs("heatmap,mask"))) is not None
    assert complete_pair(tmp_path, "p.png", output_roles(parse_outputs("heatmap,npy"))) is None
    _record(tmp_path, {"heatmap": "p.heatmap.png"}, mask_fraction=0.1)  # it made a mask, not written
    assert complete_pair(tmp_path, "p.png", output_roles(parse_outputs("heatmap"))) is not None
    assert complete_pair(tmp_path, "p.png", output_roles(parse_outputs("heatmap,mask"))) is None
    _record(tmp_path, {"map": "p.map.npy"}, valid_fraction=0.9)  # not every pixel compared: valid goes with it
    assert complete_pair(tmp_path, "p.png", output_roles(parse_outputs("npy"))) is None
    assert complete_pair(tmp_path, "p.png", output_roles(parse_outputs("json"))) is not None
