"""The ``strict`` preset: exact differences for CI, where a 1-px layout shift must count.

Pages are drawn here with Pillow (a card, a line of text, a button with its label), as a
screenshot is: flat colours, anti-aliased text and rounded corners, lossless.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from dfcore import Finder
from dfcore.cli import main
from dfcore.contracts import StageOutput
from dfcore.testing import fresh_registry
from dfplugins_builtin.postprocessors.regions import Regions

BUTTON = (150, 90, 230, 116)  # x0, y0, x1, y1 (end-exclusive)


def page(button_dx: int = 0, text_dx: float = 0.0) -> np.ndarray:
    """A 256x160 screenshot-like page, HxWx3 uint8."""
    font = ImageFont.truetype("DejaVuSans.ttf", 12)
    image = Image.new("RGB", (256, 160), "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 255, 24), fill="#24292f")
    draw.text((10 + text_dx, 6), "Pipelines", font=font, fill="#ffffff")
    draw.rounded_rectangle((10, 34, 245, 150), radius=5, fill="#ffffff", outline="#d0d7de")
    draw.text((20 + text_dx, 46), "Deployments start when checks pass.", font=font, fill="#1f2328")
    x0, y0, x1, y1 = BUTTON
    draw.rounded_rectangle((x0 + button_dx, y0, x1 - 1 + button_dx, y1 - 1), radius=4, fill="#1f883d",
                           outline="#1a7f37")
    draw.text((x0 + 14 + button_dx + text_dx, y0 + 6), "Save", font=font, fill="#ffffff")
    return np.asarray(image)


def finder(**stages):
    return Finder(registry=fresh_registry(), device="cpu", **stages)


def inside(box, outer):
    return outer[0] <= box[0] and outer[1] <= box[1] and box[2] <= outer[2] and box[3] <= outer[3]


def test_strict_finds_a_button_moved_by_one_pixel_at_the_button():
    result = finder(preset="strict").run(page(), page(button_dx=1))
    moved = (BUTTON[0], BUTTON[1], BUTTON[2] + 1, BUTTON[3])  # before and after together
    assert result.regions
    assert all(inside(r.bbox, moved) for r in result.regions)
    left, top = min(r.bbox[0] for r in result.regions), min(r.bbox[1] for r in result.regions)
    right, bottom = max(r.bbox[2] for r in result.regions), max(r.bbox[3] for r in result.regions)
    assert (left, right) == (moved[0], moved[2]) and top <= BUTTON[1] + 1 and bottom >= BUTTON[3] - 1
    changed = (page() != page(button_dx=1)).any(-1)
    assert result.mask.sum() == changed.sum()  # every changed pixel, and only those
    assert result.score > 0


def test_strict_counts_an_antialiasing_only_rerender_where_the_text_is():
    a, b = page(), page(text_dx=1 / 3)  # the text drawn a third of a pixel to the right: nothing moved
    changed = (a != b).any(-1)
    result = finder(preset="strict").run(a, b)
    assert result.regions and result.mask.sum() == changed.sum()


def test_identical_images_give_no_difference_and_a_zero_score():
    result = finder(preset="strict").run(page(), page())
    assert result.regions == [] and result.score == 0 and float(np.abs(np.asarray(result.map)).max()) == 0


def test_the_map_is_the_largest_channel_difference():
    a, b = page(), page(button_dx=1)
    result = finder(preset="strict").run(a, b)
    expected = np.abs(a.astype(np.float32) - b.astype(np.float32)).max(-1) / 255
    assert np.allclose(np.asarray(result.map).reshape(expected.shape), expected, atol=1e-6)


def test_strict_resolves_from_python_with_its_stages():
    config = finder(preset="strict").config
    strategy = config["strategy"]
    assert strategy["qualified_name"] == "builtin.difference"
    assert strategy["params"]["reduce"] == "max" and strategy["params"]["antialias"] == 0
    assert strategy["params"]["shift"] == 0 and strategy["params"]["sigma"] == 0
    (post,) = config["postprocessor"]
    assert post["qualified_name"] == "builtin.regions" and post["params"]["nonzero"] is True


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, image in (("a", page()), ("same", page()), ("moved", page(button_dx=1))):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(image).save(paths[name])
    return paths


def test_identical_screenshots_pass_fail_above_zero_and_a_moved_button_fails(files, tmp_path):
    same = CliRunner().invoke(main, [str(files["a"]), str(files["same"]), "--preset", "strict", "--fail-above", "0"])
    assert same.exit_code == 0, same.output
    assert "no differences found" in same.stdout
    moved = CliRunner().invoke(main, [str(files["a"]), str(files["moved"]), "--preset", "strict", "--fail-above", "0",
                                      "-o", str(tmp_path / "out")])
    assert moved.exit_code == 1, moved.output
    data = json.loads((tmp_path / "out" / "moved.json").read_text())
    assert data["regions"] and all(inside(r["bbox"], (BUTTON[0], BUTTON[1], BUTTON[2] + 1, BUTTON[3]))
                                   for r in data["regions"])
    assert data["config"]["strategy"]["qualified_name"] == "builtin.difference"


def test_list_plugins_names_the_strict_preset():
    result = CliRunner().invoke(main, ["--list-plugins"])
    assert result.exit_code == 0
    assert any(line.split()[:3] == ["preset", "strict", "builtin"] for line in result.stdout.splitlines())


def test_nonzero_regions_take_every_changed_pixel_whatever_the_background():
    values = torch.zeros(1, 1, 40, 40)
    values[..., :30, :] = 1.0  # most of the map changed: the background is no longer zero
    values[..., 35, 5] = 1e-4  # one faint pixel, far below it
    valid = torch.ones(1, 1, 40, 40, dtype=torch.bool)
    valid[..., 38:, :] = False
    values[..., 39, 39] = 1.0  # not compared
    out = Regions(nonzero=True, min_size=0)(StageOutput(map=values, valid=valid))
    assert sorted(r.bbox for r in out.regions[0]) == [(0, 0, 40, 30), (5, 35, 6, 36)]
    assert Regions()(StageOutput(map=values, valid=valid)).regions[0] == []
    assert "differences" in Regions(nonzero=True).conventions()
