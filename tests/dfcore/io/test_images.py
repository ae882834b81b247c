"""Inputs: the layout rule, value scaling, file formats, orientation, and refusals."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from dfcore.errors import InputError, ParameterError, ShapeError
from dfcore.io.decode import apply_orientation
from dfcore.io.images import MAX_PIXELS_ENV, as_batch, match_pair, read_image, run_memory

ORIENTATION = 0x0112


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def batch(source, name="x"):
    tensor, _ = as_batch(source, "cpu", name)
    return tensor


# -- the layout rule ----------------------------------------------------------------------------


def test_numpy_is_channels_last(rng):
    grey = rng.random((5, 7), dtype=np.float32)
    colour = rng.random((5, 7, 3), dtype=np.float32)
    assert torch.equal(batch(grey), torch.from_numpy(grey)[None, None])
    assert torch.equal(batch(colour), torch.from_numpy(colour).permute(2, 0, 1)[None])
    assert batch(colour[:, :, :1]).shape == (1, 1, 5, 7)


def test_channels_first_numpy_is_refused_with_the_rule(rng):
    with pytest.raises(ShapeError) as info:
        as_batch(rng.random((3, 32, 32), dtype=np.float32), "cpu", "img")
    message = str(info.value)
    assert "img: numpy arrays are HxW or HxWxC with C in 1..4 (channels last); got shape (3, 32, 32)" in message
    assert "pass a torch tensor" in message
    with pytest.raises(ShapeError, match=r"got shape \(1, 8, 8, 3\)"):
        as_batch(np.zeros((1, 8, 8, 3), np.float32), "cpu")


def test_torch_is_channels_first(rng):
    data = torch.from_numpy(rng.random((2, 3, 5, 7), dtype=np.float32))
    assert torch.equal(batch(data[0, 0]), data[:1, :1])
    assert torch.equal(batch(data[0]), data[:1])
    assert torch.equal(batch(data), data)
    with pytest.raises(ShapeError, match=r"tensors are HxW, CxHxW or NxCxHxW; got shape \(1, 2, 3, 5, 7\)"):
        as_batch(data[None], "cpu")


def test_tensor_input_needing_grad_is_taken_as_a_value():
    source = torch.full((4, 4), 0.5, dtype=torch.float64, requires_grad=True)
    tensor = batch(source)
    assert tensor.dtype == torch.float32 and not tensor.requires_grad


def test_read_only_inputs_are_taken_without_warning(tmp_path):
    values = np.full((4, 5), 0.25, np.float32)
    values.flags.writeable = False
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")  # Pillow hands float images out read-only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert batch(values).shape == (1, 1, 4, 5)
        assert batch(tmp_path / "f.tif").shape == (1, 1, 4, 5)


def test_unsupported_type_is_an_input_error():
    with pytest.raises(InputError, match="x: cannot use a bytes; pass a path, PIL image, numpy array or torch tensor"):
        as_batch(b"png", "cpu", "x")


# -- value scaling ------------------------------------------------------------------------------


@pytest.mark.parametrize(("array", "expected"), [
    (np.array([[0, 51, 255]], np.uint8), [0.0, 0.2, 1.0]),
    (np.array([[0, 257, 65535]], np.uint16), [0.0, 257 / 65535, 1.0]),
    (np.array([[False, True]]), [0.0, 1.0]),
    (np.array([[0.0, 0.25, 1.0]], np.float64), [0.0, 0.25, 1.0]),
])
def test_numpy_dtypes_scale_to_unit_range(array, expected):
    tensor = batch(array)
    assert tensor.dtype == torch.float32
    assert tensor.flatten().tolist() == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(("tensor", "expected"), [
    (torch.tensor([[0, 255]], dtype=torch.uint8), [0.0, 1.0]),
    (torch.tensor([[0, 65535]], dtype=torch.uint16), [0.0, 1.0]),
    (torch.tensor([[True, False]]), [1.0, 0.0]),
    (torch.tensor([[0.5, 1.0]], dtype=torch.float16), [0.5, 1.0]),
])
def test_tensor_dtypes_scale_to_unit_range(tensor, expected):
    assert batch(tensor).flatten().tolist() == expected


@pytest.mark.parametrize("bad", [
    np.array([[0.0, 1.5]], np.float32), np.array([[-0.2, 0.5]]), torch.tensor([[2.0, 0.0]]),
])
def test_floats_outside_unit_range_are_refused(bad):
    with pytest.raises(InputError) as info:
        as_batch(bad, "cpu", "img")
    assert "img: float values must lie in [0, 1], got [" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(value):
    for source in (np.array([[0.5, value, value]], np.float32), torch.tensor([[0.5, value, value]])):
        with pytest.raises(InputError, match=r"^img: contains 2 NaN or infinite values$"):
            as_batch(source, "cpu", "img")


def test_integer_arrays_other_than_uint8_and_uint16_are_refused():
    with pytest.raises(InputError, match="unsupported array dtype int64; use uint8, uint16, bool or float"):
        as_batch(np.zeros((4, 4), np.int64), "cpu")
    with pytest.raises(InputError, match="unsupported tensor dtype torch.int32"):
        as_batch(torch.zeros(4, 4, dtype=torch.int32), "cpu")


def test_empty_images_are_refused():
    with pytest.raises(ShapeError, match=r"empty image \(1, 1, 0, 4\)"):
        as_batch(np.zeros((0, 4), np.float32), "cpu")


def test_numpy_alpha_is_composited_over_white():
    rgba = np.array([[[0.0, 0.0, 0.0, 0.0], [0.2, 0.4, 0.6, 1.0], [0.0, 0.0, 0.0, 0.5]]], np.float32)
    tensor, info = as_batch(rgba, "cpu")
    assert tensor.shape == (1, 3, 1, 3)
    assert tensor[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert tensor[0, :, 0, 1].tolist() == pytest.approx([0.2, 0.4, 0.6])
    assert tensor[0, :, 0, 2].tolist() == [0.5, 0.5, 0.5]
    assert info.alpha == "composited over white"


# -- files --------------------------------------------------------------------------------------


def _pixels(path):
    array, info = read_image(path)
    return array, info


def test_png_grey_rgb_rgba(tmp_path, rng):
    rgb = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    alpha = np.zeros((6, 9), np.uint8)
    alpha[:, 3:6], alpha[:, 6:] = 255, 102
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "rgba.png")

    array, info = _pixels(tmp_path / "rgb.png")
    assert np.array_equal(array, rgb.astype(np.float32) / 255)
    assert (info.width, info.height, info.channels, info.bit_depth, info.alpha) == (9, 6, 3, 8, "none")

    array, info = _pixels(tmp_path / "grey.png")
    assert array.shape == (6, 9, 1) and info.mode == "L"
    assert np.array_equal(array[:, :, 0], rgb[:, :, 0].astype(np.float32) / 255)

    array, info = _pixels(tmp_path / "rgba.png")
    assert array.shape == (6, 9, 3) and info.alpha == "composited over white"
    assert np.all(array[:, :3] == 1.0), "transparent pixels compare as white"
    assert np.allclose(array[:, 3:6], rgb[:, 3:6] / 255, atol=1e-6), "opaque pixels keep their colour"
    expected = rgb[:, 6:] / 255 * 0.4 + 0.6
    assert np.allclose(array[:, 6:], expected, atol=1e-6)


def test_grey_with_alpha(tmp_path):
    Image.fromarray(np.dstack([np.zeros((2, 2), np.uint8), np.array([[0, 255], [0, 255]], np.uint8)]),
                    mode="LA").save(tmp_path / "la.png")
    array, _ = _pixels(tmp_path / "la.png")
    assert array.shape == (2, 2, 1)
    assert array[:, :, 0].tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_palette_images(tmp_path, rng):
    rgb = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    palette = Image.fromarray(rgb).quantize(16)
    palette.save(tmp_path / "p.png")
    array, info = _pixels(tmp_path / "p.png")
    assert info.mode == "P" and array.shape == (6, 9, 3)
    assert np.array_equal(array, np.asarray(palette.convert("RGB"), np.float32) / 255)

    palette.info["transparency"] = 0
    palette.save(tmp_path / "pt.png", transparency=0)
    array, info = _pixels(tmp_path / "pt.png")
    transparent = np.asarray(palette) == 0
    assert transparent.any() and info.alpha == "composited over white"
    assert np.all(array[transparent] == 1.0)


def test_bilevel_image(tmp_path):
    Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert("1").save(tmp_path / "bw.png")
    array, info = _pixels(tmp_path / "bw.png")
    assert array[:, :, 0].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert info.bit_depth == 1


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_keeps_full_precision(tmp_path, rng, suffix):
    source = rng.integers(0, 65536, (6, 9), dtype=np.uint16)
    source[0, :3] = [1, 256, 65534]  # values 8 bits cannot tell apart from their neighbours
    assert cv2.imwrite(str(tmp_path / f"g{suffix}"), source)
    array, info = _pixels(tmp_path / f"g{suffix}")
    assert info.bit_depth == 16 and array.shape == (6, 9, 1)
    assert np.array_equal(array[:, :, 0], source.astype(np.float32) / np.float32(65535))
    assert np.array_equal(np.rint(array[:, :, 0] * 65535).astype(np.uint16), source)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_colour_keeps_full_precision(tmp_path, rng, suffix):
    source = rng.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    source[0, 0] = [1, 2, 3]
    assert cv2.imwrite(str(tmp_path / f"c{suffix}"), source[:, :, ::-1])  # OpenCV writes BGR
    array, info = _pixels(tmp_path / f"c{suffix}")
    assert (info.bit_depth, info.channels) == (16, 3)
    assert np.array_equal(array, source.astype(np.float32) / np.float32(65535))


def test_16_bit_colour_with_alpha_is_composited(tmp_path, rng):
    source = rng.integers(0, 65536, (4, 5, 4), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "ca.png"), source[:, :, [2, 1, 0, 3]])
    array, info = _pixels(tmp_path / "ca.png")
    unit = source.astype(np.float64) / 65535
    expected = unit[..., :3] * unit[..., 3:] + (1 - unit[..., 3:])
    assert info.alpha == "composited over white"
    assert np.allclose(array, expected, atol=1e-6)


def test_float_tiff(tmp_path):
    values = np.array([[0.0, 0.123456789], [0.5, 1.0]], np.float32)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    array, info = _pixels(tmp_path / "f.tif")
    assert np.array_equal(array[:, :, 0], values) and info.bit_depth == 32


@pytest.mark.parametrize(("suffix", "options", "tolerance"), [
    (".jpg", {"quality": 95}, 0.1), (".webp", {"lossless": True}, 0.0), (".bmp", {}, 0.0), (".tif", {}, 0.0),
])
def test_other_formats_decode(tmp_path, suffix, options, tolerance):
    smooth = np.linspace(0, 255, 16 * 24 * 3).reshape(16, 24, 3).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / f"x{suffix}", **options)
    array, info = _pixels(tmp_path / f"x{suffix}")
    assert array.shape == (16, 24, 3) and info.channels == 3
    assert np.abs(array - smooth.astype(np.float32) / np.float32(255)).max() <= tolerance


def _with_orientation(image: Image.Image, orientation: int, fmt: str, **options) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif, **options)
    return buffer.getvalue()


def test_exif_orientation_of_a_jpeg_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = 255  # stored: left half white, landscape
    (tmp_path / "o6.jpg").write_bytes(_with_orientation(Image.fromarray(stored), 6, "JPEG", quality=95))
    array, info = _pixels(tmp_path / "o6.jpg")
    # orientation 6: the camera was turned; shown rotated 90 degrees clockwise: portrait, top half white
    assert (info.width, info.height) == (20, 40)
    assert array[:18].min() > 0.9 and array[22:].max() < 0.1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow(orientation, rng):
    stored = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    encoded = _with_orientation(Image.fromarray(stored), orientation, "PNG")
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(encoded))))
    assert np.array_equal(apply_orientation(stored, orientation), expected)


def test_orientation_of_a_16_bit_colour_png_is_applied(tmp_path, rng):
    source = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", source[:, :, ::-1])
    assert ok
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    payload = exif.tobytes()[len(b"Exif\0\0"):]
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload + struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    data = encoded.tobytes()
    at = data.index(b"IDAT") - 4
    (tmp_path / "o.png").write_bytes(data[:at] + chunk + data[at:])
    array, info = _pixels(tmp_path / "o.png")
    assert info.bit_depth == 16
    assert np.array_equal(np.rint(array * 65535).astype(np.uint16), np.rot90(source, -1))


def test_pil_image_input(rng):
    rgb = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    tensor, info = as_batch(Image.fromarray(rgb), "cpu", "pil")
    assert torch.equal(tensor, torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)
    assert info.mode == "RGB"


# -- refusals -----------------------------------------------------------------------------------


def _input_error(path) -> str:
    with pytest.raises(InputError) as info:
        read_image(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_missing_file_and_directory(tmp_path):
    assert _input_error(tmp_path / "nope.png").endswith("no such file")
    assert _input_error(tmp_path).endswith("is a directory, not an image")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file(tmp_path, rng, suffix):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"full{suffix}")
    data = (tmp_path / f"full{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    assert "corrupt or truncated image" in _input_error(tmp_path / f"cut{suffix}")


def test_corrupt_file(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    data = bytearray((tmp_path / "x.png").read_bytes())
    data[100:140] = b"x" * 40
    (tmp_path / "bad.png").write_bytes(bytes(data))
    assert "corrupt or truncated image" in _input_error(tmp_path / "bad.png")


@pytest.mark.parametrize("content", [b"hello, not an image", b""])
def test_non_image_file(tmp_path, content):
    (tmp_path / "notes.png").write_bytes(content)
    assert "not an image Pillow can read" in _input_error(tmp_path / "notes.png")


def test_decompression_bomb_guard(tmp_path, monkeypatch):
    Image.new("L", (50, 40)).save(tmp_path / "big.png")
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000")
    message = _input_error(tmp_path / "big.png")
    assert "refusing to decode 50x40 = 2000 pixels, more than the limit of 1000" in message
    assert MAX_PIXELS_ENV in message
    monkeypatch.setenv(MAX_PIXELS_ENV, "2000")
    assert read_image(tmp_path / "big.png")[0].shape == (40, 50, 1)


def test_the_guard_says_what_memory_a_run_would_need(tmp_path, monkeypatch):
    Image.new("L", (50, 40)).save(tmp_path / "big.png")
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000")
    need = run_memory(2000) / 2**30
    assert f"comparing it needs about {need:.1f} GiB of memory with the default pipeline" in _input_error(
        tmp_path / "big.png")
    assert run_memory(6000 * 6000) < 3 * 2**30 < run_memory(8000 * 8000)  # the figures of docs/performance.md


def test_raising_the_guard_also_lifts_pillows_own_refusal(tmp_path, monkeypatch):
    Image.new("L", (100, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses > 2000 pixels itself
    message = _input_error(tmp_path / "big.png")
    assert "refusing to decode" in message and f"needs about {run_memory(10000) / 2**30:.1f} GiB" in message
    monkeypatch.setenv(MAX_PIXELS_ENV, "20000")
    assert read_image(tmp_path / "big.png")[0].shape == (100, 100, 1)


@pytest.mark.parametrize("value", ["lots", "0", "-5"])
def test_bad_guard_value_is_a_parameter_error(tmp_path, monkeypatch, value):
    Image.new("L", (4, 4)).save(tmp_path / "x.png")
    monkeypatch.setenv(MAX_PIXELS_ENV, value)
    with pytest.raises(ParameterError, match=f"{MAX_PIXELS_ENV} must be a positive number of pixels, got '{value}'"):
        read_image(tmp_path / "x.png")


# -- pairs --------------------------------------------------------------------------------------


def test_match_pair_names_both_sizes():
    with pytest.raises(ShapeError) as info:
        match_pair(torch.zeros(1, 3, 20, 30), torch.zeros(1, 3, 21, 30), ("a.png", "b.png"))
    assert str(info.value) == ("image sizes differ: a.png is 30x20, b.png is 30x21 (width x height); "
                               "choose a size policy (crop, pad, resize) or align them (-p align)")


def test_match_pair_repeats_grey_to_colour():
    grey, colour = torch.rand(1, 1, 4, 5), torch.rand(1, 3, 4, 5)
    a, b = match_pair(grey, colour)
    assert a.shape == b.shape == (1, 3, 4, 5)
    assert all(torch.equal(a[:, c], grey[:, 0]) for c in range(3))
    b2, a2 = match_pair(colour, grey)
    assert torch.equal(a2, a) and torch.equal(b2, colour)


def test_match_pair_refuses_other_channel_mismatches_and_broadcasts_single_images():
    with pytest.raises(ShapeError, match="channel counts differ: a has 3, b has 2"):
        match_pair(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 4, 4))
    a, b = match_pair(torch.zeros(1, 3, 4, 4), torch.zeros(2, 3, 4, 4))
    assert a.shape == b.shape == (2, 3, 4, 4)
    with pytest.raises(ShapeError, match="batch sizes differ: a has 2, b has 3"):
        match_pair(torch.zeros(2, 3, 4, 4), torch.zeros(3, 3, 4, 4))


def test_eight_bit_files_are_not_scanned_but_other_sources_are(tmp_path, monkeypatch, rng):
    """Pixels decoded from 8-bit or bilevel files lie in [0, 1] by construction: no value scan.
    A signed 32-bit image ("I", read as 16-bit) and float images still are, and still refused."""
    from dfcore.io import images

    path = tmp_path / "a.png"
    Image.fromarray(rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)).save(path)
    scanned = []
    monkeypatch.setattr(images, "check_values", lambda tensor, name: scanned.append(name))
    for source in (path, Image.open(path), Image.new("1", (4, 3))):
        as_batch(source, "cpu", "eight")
    assert scanned == []
    as_batch(Image.fromarray(np.full((3, 4), 0.5, np.float32), "F"), "cpu", "float")
    as_batch(np.zeros((3, 4), np.uint8), "cpu", "array")
    assert scanned == ["float", "array"]
    monkeypatch.undo()
    with pytest.raises(InputError, match="must lie in"):
        as_batch(Image.fromarray(np.full((3, 4), -7, np.int32), "I"), "cpu", "signed")
    with pytest.raises(ShapeError, match="empty image"):
        as_batch(Image.new("RGB", (0, 0)), "cpu", "empty")


def test_a_32_bit_integer_pil_image_made_in_memory_is_read_as_the_file_would_be():
    """An "I" image from Image.fromarray has no decoder tiles: it is read as 16-bit, and refused above it."""
    tensor = batch(Image.fromarray(np.full((3, 4), 1000, np.int32), "I"))
    assert torch.allclose(tensor, torch.full_like(tensor, 1000 / 65535))
    with pytest.raises(InputError, match="^img: 32-bit integer images are not supported$"):
        as_batch(Image.fromarray(np.full((3, 4), 100000, np.int32), "I"), "cpu", "img")


@pytest.mark.parametrize(("mode", "channels"), [("RGBX", 3), ("RGBa", 3), ("La", 1)])
def test_pillows_padded_and_premultiplied_modes_are_read(mode, channels):
    """RGBX is RGB with a padding byte; RGBa and La carry a premultiplied alpha, composited over white."""
    image = Image.new(mode, (4, 3), (100, 150, 200, 255)[:len(mode)] if mode != "La" else (100, 255))
    tensor, info = as_batch(image, "cpu", "img")
    assert tensor.shape == (1, channels, 3, 4) and info.mode == mode
    expected = [100 / 255, 150 / 255, 200 / 255][:channels]
    assert torch.allclose(tensor[0, :, 0, 0], torch.tensor(expected), atol=1 / 255)
