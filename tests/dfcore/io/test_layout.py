"""The outputs a user chooses, and when a saved pair counts as complete for them."""

from __future__ import annotations

import json

import pytest

from dfcore.errors import ParameterError
from dfcore.io.layout import DEFAULT_OUTPUTS, OUTPUTS, complete_pair, output_roles, parse_outputs


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
