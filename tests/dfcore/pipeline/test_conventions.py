"""Research conventions: the Y channel, a cropped border and size policies, applied and recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dfcore import Finder, ParameterError, ShapeError
from dfcore.pipeline.conventions import Conventions, rgb_to_y
from dfcore.io.render import INVALID_HATCH
from dfcore.testing import planted_pair
from dfplugins_builtin.metrics.ssim import ssim


def pair_uint8(height: int = 20, width: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_psnr_on_the_y_channel_with_a_cropped_border_matches_a_hand_computation():
    a, b = pair_uint8()
    border = 3

    def luma(image: np.ndarray) -> np.ndarray:  # MATLAB rgb2ycbcr, BT.601 studio range, on [0, 255]
        rgb = image.astype(np.float64) / 255.0
        return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]

    ya, yb = luma(a)[border:-border, border:-border], luma(b)[border:-border, border:-border]
    expected = 10.0 * np.log10(255.0**2 / np.mean((ya - yb) ** 2))
    finder = Finder(metric="psnr", strategy="difference", device="cpu", y_channel=True, crop_border=border)
    assert finder.run(a, b).score == pytest.approx(expected, abs=1e-4)
    plain = Finder(metric="psnr", strategy="difference", device="cpu").run(a, b).score
    assert abs(plain - expected) > 0.1  # the conventions did change the number


def test_ssim_with_a_cropped_border_is_ssim_of_the_cropped_images():
    a, b, _ = planted_pair(48, 56)
    result = Finder(metric="ssim", strategy="gradient", device="cpu", crop_border=4).run(a, b)
    cropped = ssim(a[..., 4:-4, 4:-4], b[..., 4:-4, 4:-4])
    assert result.score == pytest.approx(float(cropped), rel=1e-6)


def test_rgb_to_y_follows_the_formula_and_keeps_grey():
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    expected = (16.0 + 65.481 * x[:, 0] + 128.553 * x[:, 1] + 24.966 * x[:, 2]) / 255.0
    torch.testing.assert_close(rgb_to_y(x)[:, 0], expected)
    grey = torch.rand(1, 1, 4, 4)
    assert rgb_to_y(grey) is grey
    with pytest.raises(ShapeError, match="the Y channel needs RGB or grey images, got 4 channels"):
        rgb_to_y(torch.rand(1, 4, 4, 4))


def test_the_map_stays_on_a_grid_with_the_border_hatched(tmp_path):
    a, b, _ = planted_pair(40, 48)
    result = Finder(metric="mse", strategy="difference", device="cpu", crop_border=5).run(a, b)
    assert result.map.shape == (40, 48)
    inner = np.zeros((40, 48), dtype=bool)
    inner[5:-5, 5:-5] = True
    np.testing.assert_array_equal(result.valid, inner)
    assert not result.map[~inner].any()
    expected = (a - b).abs().mean(1)[0].numpy()
    np.testing.assert_allclose(result.map[inner], expected[inner], rtol=1e-6)
    files = result.save(tmp_path)
    picture = np.asarray(Image.open(files["heatmap"]))
    assert {tuple(p) for p in picture[~inner]} == set(INVALID_HATCH)
    assert result.previews[0].shape == (40, 48, 3)


def test_conventions_are_recorded_in_the_config_and_the_json(tmp_path):
    a, b, _ = planted_pair(32, 32)
    finder = Finder(metric="psnr", strategy="difference", device="cpu", y_channel=True, crop_border=2,
                    size_policy="crop")
    files = finder.run(a, b).save(tmp_path, "pair")
    recorded = json.loads(files["json"].read_text())["config"]["conventions"]
    assert recorded["y_channel"] is True and recorded["crop_border"] == 2 and recorded["size_policy"] == "crop"
    assert "65.481" in recorded["colour"]
    default = Finder(metric="mse", strategy="difference", device="cpu").config["conventions"]
    assert default == {"y_channel": False, "colour": "as read (RGB or grey)", "crop_border": 0, "size_policy": "error"}


def test_y_channel_of_a_grey_and_a_colour_image():
    colour = torch.rand(1, 3, 16, 16)
    grey = colour.mean(1, keepdim=True)
    result = Finder(metric="mse", strategy="difference", device="cpu", y_channel=True).run(grey, colour)
    expected = torch.mean((rgb_to_y(grey.expand(-1, 3, -1, -1)) - rgb_to_y(colour)) ** 2)
    assert result.score == pytest.approx(float(expected), rel=1e-5)


# -- size policies ---------------------------------------------------------------------------------


def test_without_a_policy_different_sizes_are_refused_with_the_choices():
    with pytest.raises(ShapeError, match=r"a is 20x16, b is 22x18 .*size policy \(crop, pad, resize\)"):
        Finder(metric="mse", strategy="difference", device="cpu").run(torch.rand(1, 3, 16, 20), torch.rand(1, 3, 18, 22))


def test_crop_keeps_the_top_left_common_part():
    a, b = torch.rand(1, 3, 16, 20), torch.rand(1, 3, 18, 17)
    result = Finder(metric="mse", strategy="difference", device="cpu", size_policy="crop").run(a, b)
    assert result.map.shape == (16, 17)
    assert result.score == pytest.approx(float(((a[..., :16, :17] - b[..., :16, :17]) ** 2).mean()), rel=1e-6)
    assert result.info["conventions"] == {"size_policy": "crop", "a": [20, 16], "b": [17, 18], "compared": [17, 16]}


def test_pad_compares_only_real_pixels_and_hatches_the_padding():
    a, b = torch.rand(1, 3, 16, 20), torch.rand(1, 3, 18, 17)
    result = Finder(metric="mse", strategy="difference", device="cpu", size_policy="pad").run(a, b)
    assert result.map.shape == (18, 20)
    expected_valid = np.zeros((18, 20), dtype=bool)
    expected_valid[:16, :17] = True
    np.testing.assert_array_equal(result.valid, expected_valid)
    assert result.score == pytest.approx(float(((a[..., :16, :17] - b[..., :16, :17]) ** 2).mean()), rel=1e-6)
    assert not result.map[~expected_valid].any()


def test_resize_brings_b_onto_a_and_never_touches_a():
    a, b = torch.rand(1, 3, 16, 20), torch.rand(1, 3, 32, 40)
    result = Finder(metric="mse", strategy="difference", device="cpu", size_policy="resize").run(a, b)
    resized = F.interpolate(b, size=(16, 20), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    assert result.map.shape == (16, 20)
    assert result.score == pytest.approx(float(((a - resized) ** 2).mean()), rel=1e-5)


def test_an_ignore_mask_follows_a_through_the_size_policy():
    a, b = torch.rand(1, 3, 16, 20), torch.rand(1, 3, 18, 17)
    result = Finder(metric="mse", strategy="difference", device="cpu", size_policy="crop").run(a, b, ignore="0:0-4:16")
    assert result.valid is not None and not result.valid[:, :4].any() and result.valid[:, 4:].all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"crop_border": -1}, "crop_border must be a whole number of pixels >= 0"),
    ({"crop_border": 1.5}, "crop_border must be a whole number"),
    ({"size_policy": "stretch"}, "size_policy must be one of error, crop, pad, resize"),
    ({"y_channel": "yes"}, "y_channel must be true or false"),
])
def test_bad_conventions_are_refused(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Conventions(**kwargs)


def test_a_border_that_leaves_nothing_is_refused():
    with pytest.raises(ShapeError, match="crop_border=8 leaves nothing of A, which is 20x16"):
        Finder(metric="mse", strategy="difference", device="cpu", crop_border=8).run(torch.rand(1, 3, 16, 20),
                                                                                       torch.rand(1, 3, 16, 20))


def test_a_truth_mask_follows_a_through_a_size_policy():
    a, b, changed = planted_pair(40, 48, boxes=((4, 6, 20, 30),))
    bigger = torch.nn.functional.pad(b, (0, 5, 0, 3), mode="replicate")
    result = Finder(metric="mse", strategy="difference", device="cpu", size_policy="crop").run(a, bigger, truth=changed)
    assert result.map.shape == (40, 48) and result.evaluation.auroc == pytest.approx(1.0)
    padded = Finder(metric="mse", strategy="difference", device="cpu", size_policy="pad").run(a, bigger, truth=changed)
    assert padded.map.shape == (43, 53) and padded.evaluation.positives == int(changed.sum())
