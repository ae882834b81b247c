"""A result saves the outputs it is asked for, and its record lists them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dfcore import Finder, ParameterError
from dfcore.testing import planted_pair


@pytest.fixture(scope="module")
def result():
    a, b, _ = planted_pair(40, 48, boxes=((8, 8, 24, 30),))
    finder = Finder(metric="mse", strategy="difference", postprocessor="otsu", device="cpu")
    return finder.run(a, b, name="p.png", ignore="0:0-6:6")


@pytest.mark.parametrize(("outputs", "files"), [
    (None, {"heatmap", "map", "mask", "valid"}),
    ("heatmap", {"heatmap", "valid"}),
    (["npy", "json"], {"map", "valid"}),
    ("mask", {"mask"}),
    ("json", set()),
])
def test_save_writes_the_outputs_asked_and_the_record_lists_them(result, tmp_path, outputs, files):
    written = result.save(tmp_path, outputs=outputs)
    record = json.loads((tmp_path / "p.json").read_text())
    assert set(record["files"]) == files and set(written) == files | {"json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*record["files"].values(), "p.json"])
    assert record["mask_fraction"] == pytest.approx(float(result.mask.mean()))  # the record keeps its facts


def test_heatmap_written_by_dfinds_encoder_reads_back_as_rgb(result, tmp_path):
    files = result.save(tmp_path, outputs="heatmap,mask")
    with Image.open(files["heatmap"]) as heatmap, Image.open(files["mask"]) as mask:
        assert heatmap.mode == "RGB" and heatmap.size == (48, 40) and mask.mode == "L"
        np.testing.assert_array_equal(np.asarray(mask) > 0, result.mask)


def test_unknown_output_is_refused_before_anything_is_written(result, tmp_path):
    with pytest.raises(ParameterError, match="unknown output 'png'"):
        result.save(tmp_path / "out", outputs="heatmap,png")
    assert not (tmp_path / "out").exists()
