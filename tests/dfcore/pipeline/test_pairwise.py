"""Pairwise preprocessors in the pipeline: validity masks, info, images of another size, the heatmap hatch.

A toy stage stands in for alignment: it moves B by one pixel to the left, so A's last column has
no counterpart, and reports the shift.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dfcore import Finder, ShapeError, StageError, StageSpec, hookimpl
from dfcore.contracts import PairOutput
from dfcore.io.images import match_pair
from dfcore.io.render import INVALID_HATCH, colorize, hatch_invalid
from dfcore.testing import fresh_registry, planted_pair, using_registry


class ShiftLeft:
    """B moved one pixel to the left; A's last column has no counterpart and gets garbage."""

    pairwise = True

    def pair(self, a, b):
        moved = torch.cat([b[..., 1:], 1.0 - a[..., -1:]], dim=-1)
        valid = torch.ones_like(a[:, :1], dtype=torch.bool)
        valid[..., -1] = False
        return PairOutput(a, moved, valid, [{"shift": 1} for _ in range(a.shape[0])])


class ResizeOnto(ShiftLeft):
    """B resampled onto A's grid, whatever its size."""

    any_size = True

    def pair(self, a, b):
        return PairOutput(a, F.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False))


class WrongSize(ShiftLeft):
    any_size = True

    def pair(self, a, b):
        return PairOutput(a, b)


class MeanAbs:
    """A metric without ``supports_valid``: the pipeline must neutralise invalid pixels itself."""

    higher_is_better = False

    def __call__(self, x, y):
        return (x - y).abs().flatten(1).mean(1)


class Toys:
    @hookimpl
    def dfind_preprocessors(self):
        yield StageSpec("shift-left", ShiftLeft, "B one pixel to the left.")
        yield StageSpec("resize-onto", ResizeOnto, "B resampled onto A's grid.")
        yield StageSpec("wrong-size", WrongSize, "Claims any size, returns B as it is.")

    @hookimpl
    def dfind_metrics(self):
        yield StageSpec("mean-abs", MeanAbs, "Mean absolute difference.", higher_is_better=False)


@pytest.fixture
def registry():
    with using_registry(fresh_registry()) as registry, registry.temporary_plugin(Toys(), name="toys"):
        yield registry


def shifted_pair():
    """A and B = A moved one pixel to the right: the toy stage undoes it exactly."""
    a, _, _ = planted_pair(height=24, width=32, boxes=())
    b = torch.cat([a[..., :1], a[..., :-1]], dim=-1)
    return a, b


def test_valid_mask_reaches_the_score_the_map_and_the_result(registry):
    a, b = shifted_pair()
    result = Finder(preprocessor="shift-left", metric="mse", strategy="difference", device="cpu").run(a, b)
    assert result.score == pytest.approx(0.0, abs=1e-12)
    assert result.valid is not None and not result.valid[:, -1].any() and result.valid[:, :-1].all()
    assert not result.map.any()
    assert result.info == {"shift-left": {"shift": 1}}
    unaligned = Finder(metric="mse", strategy="difference", device="cpu").run(a, b)
    assert unaligned.score > 1e-4 and unaligned.valid is None


def test_a_metric_without_valid_support_does_not_see_invalid_pixels(registry):
    a, b = shifted_pair()
    result = Finder(preprocessor="shift-left", metric="mean-abs", strategy="gradient", device="cpu").run(a, b)
    assert result.score == pytest.approx(0.0, abs=1e-7)
    assert not result.map[~result.valid].any()


def test_invalid_pixels_are_hatched_and_written(registry, tmp_path):
    a, b = shifted_pair()
    b[..., 10:14, 10:14] = 1.0
    result = Finder(preprocessor="shift-left", metric="mse", strategy="difference", device="cpu").run(a, b)
    files = result.save(tmp_path, "pair")
    picture = np.asarray(Image.open(files["heatmap"]))
    assert {tuple(p) for p in picture[:, -1]} == set(INVALID_HATCH)
    assert {tuple(p) for p in picture[:, :-1].reshape(-1, 3)}.isdisjoint(INVALID_HATCH)
    np.testing.assert_array_equal(np.asarray(Image.open(files["valid"])) > 0, result.valid)
    data = json.loads(files["json"].read_text())
    assert data["valid_fraction"] == pytest.approx(31 / 32)
    assert data["info"] == {"shift-left": {"shift": 1}}
    assert data["files"]["valid"] == "pair.valid.png"


def test_all_valid_writes_no_valid_file(registry, tmp_path):
    a, b = shifted_pair()
    files = Finder(metric="mse", strategy="difference", device="cpu").run(a, b).save(tmp_path, "pair")
    assert "valid" not in files and not (tmp_path / "pair.valid.png").exists()


def test_hatch_alternates_two_greys_and_leaves_valid_pixels():
    picture = colorize(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    valid = np.ones((8, 8), bool)
    valid[:, :3] = False
    hatched = hatch_invalid(picture, valid, period=4)
    np.testing.assert_array_equal(hatched[valid], picture[valid])
    assert {tuple(p) for p in hatched[~valid]} == set(INVALID_HATCH)
    assert tuple(hatched[0, 0]) != tuple(hatched[0, 2])  # stripes two pixels wide


def test_b_of_another_size_needs_a_stage_that_takes_any_size(registry):
    a, _ = shifted_pair()
    b = F.interpolate(a, size=(30, 40), mode="bilinear", align_corners=False)
    finder = Finder(preprocessor="resize-onto", metric="mse", strategy="difference", device="cpu")
    assert finder.takes_any_size
    result = finder.run(a, b)
    assert result.map.shape == (24, 32)
    assert result.inputs["b"]["width"] == 40
    plain = Finder(metric="mse", strategy="difference", device="cpu")
    assert not plain.takes_any_size
    with pytest.raises(ShapeError, match=r"image sizes differ: a is 32x24, b is 40x30"):
        plain.run(a, b)
    with pytest.raises(ShapeError, match=r"image sizes differ: 32x24 and 40x30 .*no pairwise preprocessor"):
        plain.compute(a, b)


def test_only_the_first_pairwise_stage_decides_about_sizes(registry):
    first = Finder(preprocessor=["shift-left", "resize-onto"], metric="mse", strategy="difference", device="cpu")
    assert not first.takes_any_size
    before = Finder(preprocessor=["identity", "resize-onto"], metric="mse", strategy="difference", device="cpu")
    assert before.takes_any_size


def test_a_pairwise_stage_must_return_both_images_on_a_grid(registry):
    a, _ = shifted_pair()
    b = F.interpolate(a, size=(30, 40), mode="bilinear", align_corners=False)
    with pytest.raises(StageError, match=r"'wrong-size' returned shapes \[1, 3, 24, 32\] and \[1, 3, 30, 40\]"):
        Finder(preprocessor="wrong-size", metric="mse", strategy="difference", device="cpu").run(a, b)


def test_match_pair_keeps_the_other_checks_when_sizes_may_differ():
    a, b = torch.rand(1, 1, 8, 8), torch.rand(1, 3, 9, 7)
    a2, b2 = match_pair(a, b, same_size=False)
    assert a2.shape == (1, 3, 8, 8) and b2.shape == (1, 3, 9, 7)
    with pytest.raises(ShapeError, match="channel counts differ"):
        match_pair(torch.rand(1, 2, 8, 8), torch.rand(1, 3, 9, 7), same_size=False)
