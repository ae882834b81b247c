"""The extra stages and ``--truth`` from the command line, on image files written here."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dfcore.cli import main
from dfcore.testing import planted_pair

BOX = (24, 32, 48, 64)  # y0, x0, y1, x1


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    a, b, truth = planted_pair(72, 96, boxes=(BOX,), delta=0.35, seed=2)
    for name, tensor in (("a.png", a), ("b.png", b)):
        array = (tensor[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(root / name)
    Image.fromarray(truth.numpy().astype(np.uint8) * 255).save(root / "truth.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "small.png")
    return root


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _overlaps_box(bbox) -> bool:
    x0, y0, x1, y1 = bbox
    return x0 < BOX[3] and BOX[1] < x1 and y0 < BOX[2] and BOX[0] < y1


def test_gradcam_with_the_offline_metric_otsu_and_truth(images, tmp_path):
    code, out, err = run(images / "a.png", images / "b.png", "-s", "gradcam", "-m", "filterbank",
                         "-q", "otsu", "--truth", images / "truth.png", "-o", tmp_path, "--device", "cpu")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("b.png: filterbank = ") and "(lower is better)" in lines[0]
    assert re.fullmatch(r"\d+ differences?, strongest first:", lines[1])
    assert lines[2].lstrip().startswith("1. x ") and "sigma" not in lines[2]  # otsu measures no significance
    assert any(line.startswith("truth (768 of 6912 px changed): dice ") for line in lines[2:])
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["config"]["strategy"]["name"] == "gradcam"
    assert data["config"]["strategy"]["plugin"] == "extra"
    assert data["evaluation"]["auroc"] > 0.8
    assert data["regions"] and _overlaps_box(data["regions"][0]["bbox"])
    assert set(data["regions"][0]) == {"bbox", "area", "peak", "mean", "centroid"}
    assert data["files"]["mask"] == "b.mask.png"
    mask = np.asarray(Image.open(tmp_path / "b.mask.png"))
    assert mask.shape == (72, 96) and set(np.unique(mask)) <= {0, 255}
    assert int((mask > 0).sum()) == sum(r["area"] for r in data["regions"])


def test_wavelet_preprocessing_gradient_and_thresholds(images, tmp_path):
    code, out, err = run(images / "a.png", images / "b.png", "-p", "wavelet:wavelet=db2,level=2", "-m", "mse",
                         "-s", "gradient", "-q", "clip:percentile=99", "-q", "otsu:top_k=1", "-o", tmp_path,
                         "--device", "cpu")
    assert code == 0, err
    assert "1 difference, strongest first:" in out
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["config"]["preprocessor"][0]["conventions"]["wavelet"] == "db2"
    assert data["map"]["max"] == pytest.approx(1.0)  # clipped and rescaled
    assert _overlaps_box(data["regions"][0]["bbox"])


@pytest.mark.parametrize("post", ["percentile:p=98", "mean-std:k=2"])
def test_other_binarisations(images, post):
    code, out, err = run(images / "a.png", images / "b.png", "-q", post, "--device", "cpu")
    assert code == 0, err
    assert "strongest first:" in out or "no differences found" in out


def test_truth_of_another_size_is_a_one_line_error(images):
    code, out, err = run(images / "a.png", images / "b.png", "--truth", images / "small.png", "--device", "cpu")
    assert code == 2
    assert err.strip().splitlines() == [
        f"dfind: error: {images / 'small.png'}: the truth mask is 10x10 (WxH) but the map is 96x72"]
    code, _, err = run(images / "a.png", images / "b.png", "--truth", images / "none.png", "--device", "cpu")
    assert code == 2 and "none.png: no such file" in err


def test_gradcam_with_a_metric_without_layers(images):
    code, _, err = run(images / "a.png", images / "b.png", "-s", "gradcam", "-m", "ssim", "--device", "cpu")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "'ssim' has none (metrics with layers: filterbank, lpips)" in err


def test_listing_shows_the_extra_stages(images):
    code, out, _ = run("--list-plugins", "--json")
    assert code == 0
    stages = {(s["kind"], s["name"]): s for s in json.loads(out)["stages"] if s["plugin"] == "extra"}
    assert set(stages) == {
        ("preprocessor", "align"), ("preprocessor", "wavelet"), ("metric", "dice"), ("metric", "jaccard"), ("metric", "filterbank"),
        ("strategy", "gradcam"), ("strategy", "integrated"), ("postprocessor", "clip"), ("postprocessor", "otsu"),
        ("postprocessor", "percentile"), ("postprocessor", "mean-std"),
    }
    assert all(s["distribution"] == "dfind" for s in stages.values())
    assert stages[("metric", "filterbank")]["layers"] == ["scale1", "scale2", "scale3", "scale4"]
