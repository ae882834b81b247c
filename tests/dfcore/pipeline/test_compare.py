"""``Finder.compare``: the sign of the map, both scores, the display, regions labelled by winner, folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from dfcore import Finder, InputError
from dfcore.io.pairing import pair_three
from dfcore.pipeline.compare import CompareResult
from dfcore.runs import CompareRun
from dfcore.contracts import Region, StageOutput
from dfcore.testing import planted_pair, save_image

H, W = 40, 48


def halves(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A truth; A exact in the left half and wrong in the right; B the other way round.

    B's errors are smaller than A's, so B is better overall.
    """
    truth, _, _ = planted_pair(H, W, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    a, b = truth.clone(), truth.clone()
    a[..., W // 2:] = (a[..., W // 2:] + 0.3 * torch.randn(1, 3, H, W // 2, generator=generator)).clamp(0, 1)
    b[..., :W // 2] = (b[..., :W // 2] + 0.1 * torch.randn(1, 3, H, W // 2, generator=generator)).clamp(0, 1)
    return truth, a, b


@pytest.mark.parametrize(("metric", "strategy"), [
    ("mse", "difference"), ("mse", "gradient"), ("ssim", "gradient"), ("ssim", ("integrated", {"steps": 8})),
])
def test_the_sign_says_where_a_is_closer_and_where_b_is(metric, strategy):
    truth, a, b = halves()
    result = Finder(metric=metric, strategy=strategy, device="cpu").compare(truth, a, b)
    assert isinstance(result, CompareResult)
    margin = 6  # SSIM windows and gradients reach a few pixels across the middle
    left, right = result.map[:, : W // 2 - margin], result.map[:, W // 2 + margin:]
    if not isinstance(strategy, tuple):  # non-negative error maps: the sign is exact
        assert (left <= 0).all() and (right >= 0).all()
    assert left.sum() < 0 < right.sum()  # signed attributions: a few pixels of the other sign, tiny
    assert (left < 0).mean() > 0.9 and (right > 0).mean() > 0.9
    assert result.better == "b"
    worse, better = (result.score_a, result.score_b)
    assert (worse < better) if result.higher_is_better else (worse > better)
    assert result.score == pytest.approx(result.score_a - result.score_b)


def test_the_map_is_the_difference_of_the_two_error_maps():
    truth, a, b = halves()
    finder = Finder(metric="ssim", strategy="gradient", device="cpu")
    result = finder.compare(truth, a, b)
    np.testing.assert_allclose(result.map, finder.run(truth, a).map - finder.run(truth, b).map, rtol=1e-5, atol=1e-9)
    assert result.score_a == pytest.approx(finder.run(truth, a).score)
    assert result.score_b == pytest.approx(finder.run(truth, b).score)
    np.testing.assert_array_equal(result.previews[0], finder.run(truth, a).previews[1])


def test_with_integrated_gradients_the_map_adds_up_to_the_score_gap():
    truth, a, b = halves()
    result = Finder(metric="mse", strategy="integrated", device="cpu").compare(truth, a, b)
    assert float(result.map.astype(np.float64).sum()) == pytest.approx(result.score_a - result.score_b, rel=1e-3)
    assert set(result.info) == {"a", "b"} and "completeness" in result.info["a"]["integrated"]


def test_swapping_a_and_b_negates_everything():
    truth, a, b = halves()
    finder = Finder(metric="mse", strategy="difference", device="cpu")
    forward, backward = finder.compare(truth, a, b), finder.compare(truth, b, a)
    np.testing.assert_array_equal(forward.map, -backward.map)
    assert (forward.better, backward.better) == ("b", "a")
    assert finder.compare(truth, a, a).better == "tie"


def test_the_display_is_symmetric_and_says_which_colour_is_which(tmp_path):
    truth, a, _ = halves()
    b = truth.clone()  # B exact everywhere: the map is >= 0 only, still drawn on a symmetric scale
    result = Finder(metric="mse", strategy="difference", device="cpu").compare(truth, a, b)
    assert result.map.min() >= 0
    files = result.save(tmp_path, "cmp")
    data = json.loads(files["json"].read_text())
    display = data["display"]
    assert display["colormap"] == "RdBu_r" and display["vmin"] == -display["vmax"] < 0
    assert display["meaning"] == "blue: A closer to the truth, red: B closer"
    assert data["compare"]["better"] == "b" and data["compare"]["score_a"] > data["compare"]["score_b"] == 0
    picture = np.asarray(Image.open(files["heatmap"])).astype(int)
    red, blue = picture[..., 0], picture[..., 2]
    assert (red[:, W // 2 + 2:] > blue[:, W // 2 + 2:]).mean() > 0.9  # B closer on the right: red
    assert np.abs(red[:, : W // 2 - 2] - blue[:, : W // 2 - 2]).max() <= 2  # a tie on the left: white
    own = result.display(colormap="PuOr")
    assert own["meaning"].startswith("A's error minus B's: negative where A is closer")


class TwoBoxes:
    """A thresholding stand-in: |map| above half its maximum, one region per half of the image."""

    def __call__(self, out: StageOutput) -> StageOutput:
        magnitude = out.map.abs()
        mask = magnitude > 0.5 * magnitude.amax(dim=(2, 3), keepdim=True)
        regions = []
        for sample in mask[:, 0]:
            found = []
            for x0, x1 in ((0, W // 2), (W // 2, W)):
                ys, xs = torch.nonzero(sample[:, x0:x1], as_tuple=True)
                if ys.numel():
                    box = (x0 + int(xs.min()), int(ys.min()), x0 + int(xs.max()) + 1, int(ys.max()) + 1)
                    found.append(Region(box, int(ys.numel()), 0.0, 0.0, (0.0, 0.0)))
            regions.append(found)
        return out.replace(mask=mask, regions=regions)


def test_regions_are_labelled_with_their_winner():
    truth, a, b = halves()
    b[..., : W // 2] = (truth[..., : W // 2] + 0.3).clamp(0, 1)  # make B as wrong on the left as A on the right
    result = Finder(metric="mse", strategy="difference", postprocessor=TwoBoxes(), device="cpu").compare(truth, a, b)
    labels = {("left" if region.bbox[2] <= W // 2 else "right"): region.label for region in result.regions}
    assert labels == {"left": "a", "right": "b"}
    assert [r["label"] for r in result.to_dict()["regions"]] == [r.label for r in result.regions]


def test_ignore_applies_to_both_sides():
    truth, a, b = halves()
    result = Finder(metric="mse", strategy="difference", device="cpu").compare(truth, a, b, ignore="24:0-48:40")
    assert not result.map[:, 24:].any() and result.valid is not None and not result.valid[:, 24:].any()
    assert result.better == "a"  # only the left half counts, where A is exact


def test_grey_and_colour_inputs_are_matched():
    truth, a, b = halves()
    result = Finder(metric="mse", strategy="difference", device="cpu").compare(truth.mean(1, keepdim=True), a, b)
    assert result.map.shape == (H, W)


# -- three folders --------------------------------------------------------------------------------


def three_folders(root):
    for name, seed in (("one.png", 0), ("sub/two.png", 3)):
        truth, a, b = halves(seed)
        for folder, image in (("gt", truth), ("a", a), ("b", b)):
            save_image(root / folder / name, image)
    save_image(root / "gt" / "lonely.png", halves(5)[0])
    save_image(root / "a" / "lonely.png", halves(5)[1])
    save_image(root / "b" / "stray.png", halves(6)[2])
    return root / "gt", root / "a", root / "b"


def test_three_folders_are_paired_by_relative_path(tmp_path):
    gt, a, b = three_folders(tmp_path)
    found = pair_three(gt, a, b)
    assert [t.name for t in found.triples] == ["one.png", "sub/two.png"]
    assert found.triples[1].a == a / "sub" / "two.png" and found.triples[1].b == b / "sub" / "two.png"
    assert found.missing == ["lonely.png: in the truth but not in B", "stray.png: in B but not in the truth"]
    run = Finder(metric="mse", strategy="difference", device="cpu").compare(gt, a, b)
    assert isinstance(run, CompareRun) and len(run) == 2
    results = list(run)
    assert [r.name for r in results] == ["one.png", "sub/two.png"] and all(r.better == "b" for r in results)


def test_a_folder_with_files_is_refused(tmp_path):
    gt, a, b = three_folders(tmp_path)
    with pytest.raises(InputError, match=r"truth, b are folders but a is not: give three files or three folders"):
        Finder(metric="mse", strategy="difference", device="cpu").compare(gt, a / "one.png", b)


def test_thresholding_postprocessors_label_their_regions():
    truth, a, b = halves()
    b[..., : W // 2] = (truth[..., : W // 2] + 0.3).clamp(0, 1)
    result = Finder(metric="mse", strategy="difference", postprocessor="otsu:min_area=4",
                    device="cpu").compare(truth, a, b)
    assert result.regions and {r.label for r in result.regions} == {"a", "b"}
    for region in result.regions:
        centre_x = region.centroid[0]
        assert region.label == ("a" if centre_x < W // 2 else "b")
    assert result.info["otsu"]["regions"] == len(result.regions)
