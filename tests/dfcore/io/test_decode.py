"""Decoding files without torch: plain 8-bit PNG by OpenCV gives Pillow's pixels, anything else goes to Pillow."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from dfcore.errors import InputError
from dfcore.io import decode


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _png(array: np.ndarray, mode: str | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _by_pillow(data: bytes, monkeypatch) -> tuple[np.ndarray, decode.ImageInfo]:
    with monkeypatch.context() as patch:
        patch.setattr(decode, "plain_png8", lambda data: False)
        return decode.decode_image(data, "x.png")


@pytest.mark.parametrize("shape", [(37, 53), (37, 53, 3), (37, 53, 4)], ids=["grey", "rgb", "rgba"])
@pytest.mark.parametrize("interlace", [False, True])
def test_plain_png_decodes_as_pillow_does(shape, interlace, rng, monkeypatch):
    array = rng.integers(0, 256, shape, dtype=np.uint8)
    data = _png(array, interlace=interlace)
    assert decode.plain_png8(data)
    ours, info = decode.decode_image(data, "x.png")
    theirs, their_info = _by_pillow(data, monkeypatch)
    assert ours.dtype == np.float32 and ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, theirs)
    assert info == their_info
    assert info.mode == {1: "L", 3: "RGB", 4: "RGBA"}[1 if array.ndim == 2 else array.shape[2]]


def test_plain_png_is_read_by_opencv(rng, monkeypatch):
    import cv2

    calls = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *args: calls.append(args) or real(*args))
    decode.decode_image(_png(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)), "x.png")
    assert len(calls) == 1


def test_rgba_is_composited_over_white_on_the_fast_path(rng):
    array = rng.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    array[0, 0] = (10, 20, 30, 0)  # fully transparent: white
    decoded, info = decode.decode_image(_png(array), "x.png")
    assert info.alpha == "composited over white" and decoded.shape == (6, 7, 3)
    np.testing.assert_allclose(decoded[0, 0], 1.0)


def test_chunks_that_change_the_pixels_send_the_file_to_pillow(rng, monkeypatch):
    rgb = rng.integers(0, 256, (9, 9, 3), dtype=np.uint8)
    transparent = _png(rgb, transparency=(1, 2, 3))
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(buffer, format="PNG")
    palette = buffer.getvalue()
    orientation = Image.Exif()
    orientation[0x0112] = 6  # turned: Pillow's decoding rotates it
    exif = _png(rgb, exif=orientation)
    assert b"eXIf" in exif
    sixteen = _png(rng.integers(0, 65536, (9, 9), dtype=np.uint16))  # 16-bit grey
    for data in (transparent, palette, exif, sixteen):
        assert not decode.plain_png8(data)
        ours, info = decode.decode_image(data, "x.png")
        theirs, their_info = _by_pillow(data, monkeypatch)
        np.testing.assert_array_equal(ours, theirs)
        assert info == their_info


def test_a_png_with_a_text_chunk_is_still_plain(rng):
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Software", "dfind tests")
    assert decode.plain_png8(_png(rng.integers(0, 256, (5, 5, 3), dtype=np.uint8), pnginfo=meta))


def test_a_cut_or_damaged_png_is_not_plain_and_fails_in_one_line(rng, capfd):
    data = _png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    damaged = bytearray(data)
    damaged[100] ^= 0xFF  # inside IDAT: its CRC no longer matches
    for bad in (data[: len(data) // 2], bytes(damaged)):
        assert not decode.plain_png8(bad)
        with pytest.raises(InputError, match="corrupt or truncated image"):
            decode.decode_image(bad, "bad.png")
    assert "libpng" not in capfd.readouterr().err  # OpenCV never saw them


def test_a_png_without_its_end_goes_to_pillow(rng, monkeypatch):
    data = _png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))[:-12]  # IEND cut off: Pillow reads it
    assert not decode.plain_png8(data)
    np.testing.assert_array_equal(decode.decode_image(data, "x.png")[0], _by_pillow(data, monkeypatch)[0])


def test_not_a_png_is_not_plain():
    assert not decode.plain_png8(b"")
    assert not decode.plain_png8(b"\x89PNG\r\n\x1a\n")
    assert not decode.plain_png8(b"GIF89a" + bytes(40))


def test_decoded_bytes_reads_the_header_only(rng, tmp_path):
    assert decode.decoded_bytes(_png(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))) == 30 * 40 * 3 * 4
    assert decode.decoded_bytes(_png(rng.integers(0, 256, (30, 40), dtype=np.uint8))) == 30 * 40 * 1 * 4
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    assert decode.decoded_bytes(buffer.getvalue()) == 30 * 40 * 3 * 4
    assert decode.decoded_bytes(b"not an image") == sys.maxsize


def test_read_image_serves_from_an_installed_source(tmp_path, rng):
    path = tmp_path / "a.png"
    Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(path)
    served = (np.zeros((4, 4, 3), np.float32), decode.ImageInfo(str(path), 4, 4, 3))
    asked = []
    decode.serve_from(lambda name: asked.append(name) or (served if name == str(path) else None))
    try:
        assert decode.read_image(path) is served
        assert decode.read_image(str(path)) is served
        other = tmp_path / "b.png"
        Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(other)
        assert decode.read_image(other)[0].shape == (4, 4, 3)  # not served: read from the file
    finally:
        decode.serve_from(None)
    assert asked == [str(path), str(path), str(other)]


def test_decoding_imports_no_torch():
    code = "import sys, dfcore.io.decode, dfcore.io.readahead; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
