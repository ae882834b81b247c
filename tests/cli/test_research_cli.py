"""The research options from the command line: --ignore, conventions, colour scales, compare, rescale."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from dfcore import Finder
from dfcore.cli import main
from dfcore.testing import planted_pair, save_image

from .test_cli import assert_one_line_error


def dfind(*args) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def images(tmp_path):
    a, b, _ = planted_pair(32, 48, boxes=((8, 20, 18, 34),))
    return save_image(tmp_path / "a.png", a), save_image(tmp_path / "b.png", b)


def read_json(path) -> dict:
    return json.loads(path.read_text())


# -- ignore and conventions ------------------------------------------------------------------------


def test_ignore_rectangles_and_mask_files(images, tmp_path):
    a, b = images
    mask = np.zeros((32, 48), dtype=np.uint8)
    mask[:, 40:] = 1
    Image.fromarray(mask).save(tmp_path / "ignore.png")
    out = tmp_path / "out"
    result = dfind(a, b, "-m", "mse", "-s", "difference", "--ignore", "20:8-34:18", "--ignore", tmp_path / "ignore.png",
                   "-o", out)
    assert result.exit_code == 0, result.output
    data = read_json(out / "b.json")
    assert data["inputs"]["ignore"]["given"] == [[20, 8, 34, 18], str(tmp_path / "ignore.png")]
    assert data["score"] == 0.0  # the planted change is inside the ignored rectangle
    valid = np.asarray(Image.open(out / "b.valid.png")) > 0
    assert not valid[8:18, 20:34].any() and not valid[:, 40:].any() and valid[0, 0]


def test_a_missing_ignore_mask_is_one_line(images, tmp_path):
    assert_one_line_error(dfind(*images, "--ignore", tmp_path / "none.png"),
                          f"--ignore {tmp_path / 'none.png'}: no such mask file (rectangles are written")
    assert_one_line_error(dfind(*images, "--ignore", "0:0-48:32"), "every pixel is ignored")


def test_psnr_y_with_a_cropped_border(images, tmp_path):
    a, b = images
    result = dfind(a, b, "-m", "psnr", "-s", "difference", "--y-channel", "--crop-border", "4", "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    data = read_json(tmp_path / "o" / "b.json")
    expected = Finder(metric="psnr", strategy="difference", device="cpu", y_channel=True, crop_border=4).run(a, b)
    assert data["score"] == pytest.approx(expected.score, rel=1e-9)
    assert data["config"]["conventions"]["y_channel"] is True and data["config"]["conventions"]["crop_border"] == 4
    assert f"psnr = {expected.score:.6g}" in result.stdout


def test_size_policy(images, tmp_path):
    a, _ = images
    big, _, _ = planted_pair(64, 96)
    save_image(tmp_path / "big.png", big)
    assert_one_line_error(dfind(a, tmp_path / "big.png"), "image sizes differ", "size policy (crop, pad, resize)")
    result = dfind(a, tmp_path / "big.png", "-m", "mse", "-s", "difference", "--size-policy", "resize",
                   "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    data = read_json(tmp_path / "o" / "big.json")
    assert data["info"]["conventions"] == {"size_policy": "resize", "a": [48, 32], "b": [96, 64], "compared": [48, 32]}
    assert dfind(a, tmp_path / "big.png", "--size-policy", "stretch").exit_code == 2


def test_integrated_from_the_command_line(images, tmp_path):
    result = dfind(*images, "-m", "mse", "-s", "integrated:steps=4", "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    info = read_json(tmp_path / "o" / "b.json")["info"]["integrated"]
    assert info["steps"] == 4 and info["completeness"]["relative_error"] < 1e-4


# -- colour scales ---------------------------------------------------------------------------------


def folders(root, count: int = 3):
    for index in range(count):
        a, b, _ = planted_pair(32, 48, boxes=((8, 20, 18, 34),), delta=0.15 * (index + 1), seed=index)
        save_image(root / "A" / f"p{index}.png", a)
        save_image(root / "B" / f"p{index}.png", b)
    return root / "A", root / "B"


def displays(folder) -> list[dict]:
    return [read_json(path)["display"] for path in sorted(folder.glob("p*.json"))]


def test_folder_runs_share_one_scale_by_default(tmp_path):
    dir_a, dir_b = folders(tmp_path)
    result = dfind(dir_a, dir_b, "-m", "mse", "-s", "difference", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    shown = displays(tmp_path / "out")
    assert len(shown) == 3 and len({d["vmax"] for d in shown}) == 1 and shown[0]["scale"] == "shared"
    assert re.search(r"one colour scale for 3 maps: 0 to [0-9.e-]+ \(99\.5th percentile of \|map\|\)", result.stdout)

    assert dfind(dir_a, dir_b, "-m", "mse", "-s", "difference", "-o", tmp_path / "own", "--scale", "image").exit_code == 0
    own = displays(tmp_path / "own")
    assert len({d["vmax"] for d in own}) == 3 and {d["scale"] for d in own} == {"image"}

    assert dfind(dir_a, dir_b, "-m", "mse", "-s", "difference", "-o", tmp_path / "fixed", "--vmax", "0.3").exit_code == 0
    assert all(d["vmax"] == 0.3 and d["scale"] == "fixed" for d in displays(tmp_path / "fixed"))

    clash = dfind(dir_a, dir_b, "--vmax", "0.3", "--scale", "shared")
    assert clash.exit_code == 2 and "give it or --scale, not both" in clash.output


def test_rescale_puts_two_runs_on_one_scale(tmp_path):
    dir_a, dir_b = folders(tmp_path)
    for out, args in ((tmp_path / "m1", ()), (tmp_path / "m2", ("-p", "lowpass"))):
        assert dfind(dir_a, dir_b, "-m", "mse", "-s", "difference", *args, "-o", out).exit_code == 0
    assert displays(tmp_path / "m1")[0]["vmax"] != displays(tmp_path / "m2")[0]["vmax"]
    result = dfind("rescale", tmp_path / "m1", tmp_path / "m2")
    assert result.exit_code == 0, result.output
    assert "re-rendered 6 heatmaps on one scale" in result.stdout
    shown = displays(tmp_path / "m1") + displays(tmp_path / "m2")
    assert len({d["vmax"] for d in shown}) == 1 and all(d["maps"] == 6 for d in shown)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert dfind("rescale", empty).exit_code == 2


# -- compare ---------------------------------------------------------------------------------------


def halves(root, name: str = "x.png", seed: int = 0):
    """Truth, A exact on the left and B exact on the right; A's errors are the larger."""
    truth, _, _ = planted_pair(32, 48, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    a, b = truth.clone(), truth.clone()
    a[..., 24:] = (a[..., 24:] + 0.3 * torch.randn(1, 3, 32, 24, generator=generator)).clamp(0, 1)
    b[..., :24] = (b[..., :24] + 0.1 * torch.randn(1, 3, 32, 24, generator=generator)).clamp(0, 1)
    return [save_image(root / folder / name, image) for folder, image in (("gt", truth), ("a", a), ("b", b))]


def test_compare_a_pair(tmp_path):
    truth, a, b = halves(tmp_path)
    out = tmp_path / "out"
    result = dfind("compare", truth, a, b, "-m", "mse", "-s", "difference", "-o", out)
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[0]
    assert re.fullmatch(r"x\.png: mse A = [0-9.e-]+, B = [0-9.e-]+ \(lower is better\): B is closer to the truth", line)
    data = read_json(out / "x.json")
    assert data["compare"]["better"] == "b" and data["compare"]["score_a"] > data["compare"]["score_b"]
    assert data["display"]["vmin"] == -data["display"]["vmax"]
    assert "blue: A closer" in data["display"]["meaning"]
    raw = np.load(out / "x.map.npy")
    assert (raw[:, :20] <= 0).all() and (raw[:, 28:] >= 0).all()


def test_compare_folders_with_a_report(tmp_path):
    halves(tmp_path, "one.png", 0)
    halves(tmp_path, "two.png", 1)
    save_image(tmp_path / "gt" / "alone.png", planted_pair(32, 48)[0])
    out = tmp_path / "out"
    result = dfind("compare", tmp_path / "gt", tmp_path / "a", tmp_path / "b", "-m", "mse", "-s", "difference",
                   "-o", out, "--report")
    assert result.exit_code == 0, result.output
    assert "alone.png: in the truth but not in A and B" in result.stderr
    assert "2 of 2 compared: A closer in 0, B closer in 2" in result.stdout
    shown = [read_json(out / f"{n}.json")["display"] for n in ("one", "two")]
    assert len({d["vmax"] for d in shown}) == 1 and shown[0]["scale"] == "shared"
    page = (out / "one.report.html").read_text()
    assert "blue: A closer to the truth, red: B closer" in page
    assert (out / "index.html").is_file()


def test_compare_refuses_a_mix_of_files_and_folders(tmp_path):
    _, a, b = halves(tmp_path)
    assert_one_line_error(dfind("compare", tmp_path / "gt", a, b), "truth is a folder but a, b are not")
