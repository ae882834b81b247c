"""Writing pictures: dfind's own PNG encoder, and the colour tables kept without matplotlib."""

from __future__ import annotations

import io
import sys
import zlib

import matplotlib
import numpy as np
import pytest
from PIL import Image

from dfcore.io.colormaps import TABLES
from dfcore.io.files import encode_png, write_png
from dfcore.io.render import apply_colormap, colormap_lut


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (7, 13), (7, 13, 3), (64, 257, 3)])
def test_encoded_png_decodes_to_the_same_pixels(shape):
    array = np.random.default_rng(len(shape)).integers(0, 256, shape, dtype=np.uint8)
    with Image.open(io.BytesIO(encode_png(array))) as image:
        assert image.mode == ("RGB" if len(shape) == 3 else "L")
        np.testing.assert_array_equal(np.asarray(image), array)


@pytest.mark.parametrize("isal", [True, False], ids=["isal", "zlib"])
def test_either_deflate_gives_the_same_pixels(monkeypatch, isal):
    """ISA-L when it is installed, zlib where it has no wheel: the same picture either way."""
    if isal:
        pytest.importorskip("isal")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)  # `from isal import ...` now raises ImportError
    array = apply_colormap(np.linspace(0, 1, 96 * 128, dtype=np.float32).reshape(96, 128), "magma", 0.0, 1.0)
    for level in (None, 6):
        data = encode_png(array, level)
        with Image.open(io.BytesIO(data)) as image:
            np.testing.assert_array_equal(np.asarray(image), array)
    fastest = encode_png(array)
    assert zlib.decompress(fastest[41:-16]) == zlib.decompress(data[41:-16])  # the rows, deflated two ways
    assert (fastest != encode_png(array, 1)) == isal  # ISA-L's own stream when it is there, zlib's level 1 if not


def test_encoder_refuses_what_png_rows_cannot_hold():
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros(4, np.uint8)):
        with pytest.raises(ValueError, match="encode_png takes HxW or HxWx3 uint8 arrays"):
            encode_png(bad)


def test_photos_keep_pillows_encoder_and_the_same_pixels(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for photo in (False, True):
        path = write_png(tmp_path / f"p{photo}.png", array, photo=photo)
        with Image.open(path) as image:
            np.testing.assert_array_equal(np.asarray(image), array)
    assert (tmp_path / "pTrue.png").read_bytes() != (tmp_path / "pFalse.png").read_bytes()


@pytest.mark.parametrize("name", sorted(TABLES))
def test_stored_tables_equal_matplotlibs(name):
    expected = (matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(colormap_lut(name), expected)


def test_colour_lookup_matches_the_plain_formula_with_nan_and_infinities():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(33, 17)).astype(np.float32)
    values[1, 2], values[3, 4], values[5, 6] = np.nan, np.inf, -np.inf
    for name, vmin, vmax in (("inferno", 0.0, 1.5), ("RdBu_r", -2.0, 2.0), ("viridis", 0.0, 0.25)):
        lut = colormap_lut(name)
        with np.errstate(over="ignore"):
            scaled = (np.nan_to_num(values, nan=0.0) - vmin) / (vmax - vmin)
            expected = lut[np.clip(scaled * 255.0 + 0.5, 0, 255).astype(np.uint8)]
            picture = apply_colormap(values, name, vmin, vmax)
        np.testing.assert_array_equal(picture, expected)
