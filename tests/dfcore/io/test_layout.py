"""The output folder's names: pairs never take the run's own names; summary.csv cells are inert."""

from __future__ import annotations

import pytest

from dfcore.io.layout import (
    RUN_DIRS,
    RUN_FILES,
    claim_file,
    csv_cell,
    output_stem,
    pair_file,
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
