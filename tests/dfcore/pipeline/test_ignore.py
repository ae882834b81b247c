"""Ignore masks: parsed from every accepted form, and provably without influence on score and map."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dfcore import Finder, InputError, ParameterError, ShapeError
from dfcore.contracts import StageOutput
from dfcore.io.masks import ignore_mask, parse_rectangles
from dfcore.pipeline.conventions import neutral_fill
from dfcore.io.render import INVALID_HATCH
from dfcore.testing import planted_pair
from dfplugins_builtin.metrics.ssim import ssim_maps, valid_windows

H, W = 40, 48
RECT = "10:8-30:24"  # x 10..29, y 8..23


def inside_rect() -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[8:24, 10:30] = True
    return mask


class BlurredMSE:
    """A metric that knows nothing of masks and mixes neighbouring pixels (as a network does)."""

    higher_is_better = False

    def __call__(self, x, y):
        return (F.avg_pool2d(x - y, 5, stride=1, padding=2) ** 2).flatten(1).mean(1)


def scrambled(image: torch.Tensor, mask: np.ndarray, seed: int) -> torch.Tensor:
    """``image`` with random values inside ``mask``."""
    generator = torch.Generator().manual_seed(seed)
    out = image.clone()
    noise = torch.rand(out.shape, generator=generator)
    where = torch.from_numpy(mask).expand_as(out)
    out[where] = noise[where]
    return out


PIPELINES = [
    {"metric": "mse", "strategy": "difference"},
    {"metric": "mse", "strategy": "gradient"},
    {"metric": "psnr", "strategy": "gradient"},
    {"metric": "ssim", "strategy": "gradient"},
    {"metric": "ssim", "strategy": ("integrated", {"steps": 4})},
    {"preprocessor": "highpass", "metric": "mse", "strategy": "gradient"},
    {"metric": BlurredMSE(), "strategy": "gradient"},
]


@pytest.mark.parametrize("stages", PIPELINES, ids=lambda s: "-".join(str(v) if isinstance(v, str) else
                                                                      getattr(v, "__name__", type(v).__name__)
                                                                      for v in s.values()))
def test_nothing_inside_the_ignored_area_changes_score_or_map(stages):
    a, b, _ = planted_pair(H, W, boxes=((4, 30, 20, 44), (14, 12, 30, 26)))
    finder = Finder(**stages, device="cpu")
    base = finder.run(a, b, ignore=RECT)
    ignored = inside_rect()
    for seed in range(3):
        other = finder.run(scrambled(a, ignored, seed), scrambled(b, ignored, seed + 10), ignore=RECT)
        assert other.score == base.score
        np.testing.assert_array_equal(other.map, base.map)
    assert not base.map[ignored].any()
    unmasked = finder.run(a, scrambled(b, ignored, 0))
    assert unmasked.score != base.score  # without the mask the same change does count


def test_ssim_averages_only_windows_entirely_outside_the_ignored_area():
    a, b, _ = planted_pair(H, W)
    result = Finder(metric="ssim", strategy="gradient", device="cpu").run(a, b, ignore=RECT)
    valid = torch.from_numpy(~inside_rect())[None, None]
    ssim_map, _ = ssim_maps(a, b)
    windows = valid_windows(valid, 11).expand_as(ssim_map)
    assert result.score == pytest.approx(float(ssim_map[windows].mean()), rel=1e-6)


def test_ignored_pixels_are_zero_hatched_and_recorded(tmp_path):
    a, b, _ = planted_pair(H, W)
    result = Finder(metric="mse", strategy="difference", device="cpu").run(a, b, ignore=RECT)
    ignored = inside_rect()
    np.testing.assert_array_equal(result.valid, ~ignored)
    files = result.save(tmp_path, "pair")
    picture = np.asarray(Image.open(files["heatmap"]))
    assert {tuple(p) for p in picture[ignored]} == set(INVALID_HATCH)
    np.testing.assert_array_equal(np.asarray(Image.open(files["valid"])) > 0, ~ignored)
    data = json.loads(files["json"].read_text())
    assert data["inputs"]["ignore"] == {"given": [[10, 8, 30, 24]], "fraction": pytest.approx(ignored.mean())}
    assert data["valid_fraction"] == pytest.approx(1 - ignored.mean())


class MarkEverything:
    """A postprocessor that marks every pixel as changed: the pipeline must clear ignored ones."""

    def __call__(self, out: StageOutput) -> StageOutput:
        return out.replace(mask=torch.ones_like(out.map, dtype=torch.bool))


def test_masks_never_cover_ignored_pixels():
    a, b, _ = planted_pair(H, W)
    result = Finder(metric="mse", strategy="difference", postprocessor=MarkEverything(), device="cpu").run(
        a, b, ignore=RECT)
    np.testing.assert_array_equal(result.mask, ~inside_rect())


def test_every_form_of_ignore_spec(tmp_path):
    expected = inside_rect()
    picture = np.zeros((H, W), dtype=np.uint8)
    picture[expected] = 255
    Image.fromarray(picture).save(tmp_path / "mask.png")
    forms = [
        RECT, (10, 8, 30, 24), [(10, 8, 20, 24), (20, 8, 30, 24)], "10:8-20:24, 20:8-30:24",
        tmp_path / "mask.png", str(tmp_path / "mask.png"), expected, expected.astype(np.float32),
        torch.from_numpy(expected), torch.from_numpy(expected)[None], Image.fromarray(picture),
        np.dstack([picture, picture, picture, np.full_like(picture, 255)]),  # RGBA: alpha left out
    ]
    for form in forms:
        np.testing.assert_array_equal(ignore_mask(form, H, W), expected, err_msg=repr(type(form)))
    union = ignore_mask([RECT, "0:0-2:2"], H, W)
    assert union[0, 0] and union[8, 10] and union.sum() == expected.sum() + 4


def test_rectangles_are_clipped_to_the_image():
    mask = ignore_mask("-5:-5-3:2", H, W)
    assert mask[:2, :3].all() and mask.sum() == 6


@pytest.mark.parametrize(("spec", "error", "message"), [
    ("10:8-10:24", ParameterError, r"rectangle 10:8-10:24 is empty"),
    ("60:0-70:10", ParameterError, r"rectangle 60:0-70:10 lies outside the 48x40 image"),
    ("0:0-48:40", ParameterError, "every pixel is ignored"),
    ("nothing-here.png", InputError, "nothing-here.png: no such file"),
    (np.zeros((H, W + 1)), ShapeError, r"ignore mask \(array\) is 49x40, A is 48x40"),
    (np.zeros((2, H, W)), ShapeError, "ignore: the ignore mask must be HxW or HxWxC"),
    (torch.zeros(2, H, W), ShapeError, "a mask tensor must be HxW or 1xHxW"),
    (3.5, ParameterError, "cannot use a float"),
    ([], ParameterError, "an empty list"),
])
def test_bad_ignore_specs(spec, error, message):
    with pytest.raises(error, match=message):
        ignore_mask(spec, H, W)


def test_parse_rectangles_names_what_it_cannot_read():
    assert parse_rectangles("1:2-3:4,5:6-7:8") == [(1, 2, 3, 4), (5, 6, 7, 8)]
    with pytest.raises(ParameterError, match=r"'1:2-3' is neither a mask file nor rectangles x0:y0-x1:y1"):
        parse_rectangles("1:2-3")


def test_neutral_fill_depends_on_valid_pixels_only():
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    valid = torch.rand(2, 1, 8, 8) > 0.3
    fa, fb = neutral_fill(a, b, valid)
    invalid = ~valid.expand_as(a)
    assert torch.equal(fa[invalid], fb[invalid]) and torch.equal(fa[~invalid], a[~invalid])
    ga, gb = neutral_fill(torch.where(invalid, 0.0, a), torch.where(invalid, 1.0, b), valid)
    assert torch.equal(ga, fa) and torch.equal(gb, fb)


@pytest.mark.parametrize("postprocessor", ["otsu", "percentile:p=90", "mean-std:k=1"])
def test_regions_never_fall_inside_ignored_pixels(postprocessor):
    """A change planted inside the ignored rectangle and another outside: only the outside one is found."""
    a, b, _ = planted_pair(H, W, boxes=((10, 12, 22, 28), (28, 34, 38, 46)), delta=0.5)
    result = Finder(metric="mse", strategy="difference", postprocessor=postprocessor, device="cpu").run(
        a, b, ignore=RECT)
    ignored = inside_rect()
    assert result.regions and not result.mask[ignored].any()
    for region in result.regions:
        x0, y0, x1, y1 = region.bbox
        assert not ignored[y0:y1, x0:x1][result.mask[y0:y1, x0:x1]].any()
    unmasked = Finder(metric="mse", strategy="difference", postprocessor=postprocessor, device="cpu").run(a, b)
    assert unmasked.mask[ignored].any()  # without the mask the planted change inside is found
