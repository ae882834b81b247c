"""``dfind --report``, ``dfind --figure`` and ``dfind report``: what they write and refuse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dfcore.cli import main

FAST = ["-m", "mse", "-s", "difference", "--device", "cpu"]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
    b = a.copy()
    b[10:20, 30:44] = 255
    Image.fromarray(a).save(folder / "a.png")
    Image.fromarray(b).save(folder / "b.png")
    return folder / "a.png", folder / "b.png"


def run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_report_of_one_pair(images: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(*images, "-o", tmp_path, "--report", *FAST)
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "report.html") in result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.html", "b.a.png", "b.b.png", "b.heatmap.png", "b.json"} <= names
    page = (tmp_path / "report.html").read_text()
    assert 'src="b.a.png"' in page and 'src="b.heatmap.png"' in page and "mse" in page
    assert json.loads((tmp_path / "b.json").read_text())["files"]["b"] == "b.b.png"


def test_report_of_two_folders(images: tuple[Path, Path], tmp_path: Path) -> None:
    dir_a, dir_b = tmp_path / "a", tmp_path / "b"
    for folder, source in ((dir_a, images[0]), (dir_b, images[1])):
        (folder / "sub").mkdir(parents=True)
        shutil.copy(source, folder / "one.png")
        shutil.copy(source, folder / "sub" / "two.png")
    (dir_a / "bad.png").write_bytes(b"junk")
    (dir_b / "bad.png").write_bytes(b"junk")
    out = tmp_path / "out"
    result = run(dir_a, dir_b, "-o", out, "--report", *FAST)
    assert result.exit_code == 3, result.output
    index = (out / "index.html").read_text()
    assert 'href="one.report.html"' in index and 'href="sub/two.report.html"' in index
    assert "bad.png" in index and "failed" in index
    assert (out / "sub" / "two.report.html").is_file() and (out / "thumbs" / "sub" / "two.map.jpg").is_file()
    # the report is made from the folder alone: remade the same from results on disk
    (out / "index.html").unlink()
    remade = run("report", out)
    assert remade.exit_code == 0 and "index.html" in remade.output
    assert 'href="sub/two.report.html"' in (out / "index.html").read_text()
    page = run("report", out / "one.json")
    assert page.exit_code == 0 and (out / "one.report.html").is_file()


def test_report_and_figure_refuse_what_they_cannot_do(images: tuple[Path, Path], tmp_path: Path) -> None:
    no_output = run(*images, "--report", *FAST)
    assert no_output.exit_code == 2 and "--report writes into the output folder: give -o DIR" in no_output.output
    folders = run(images[0].parent, images[0].parent, "--figure", tmp_path / "f.png", *FAST)
    assert folders.exit_code == 2 and "--figure draws one pair" in folders.output
    bad = run(*images, "-o", tmp_path / "out", "--figure", tmp_path / "f.doc", *FAST)
    assert bad.exit_code == 2 and "cannot write a figure as doc" in bad.output
    assert not (tmp_path / "out").exists()  # refused before anything ran
    (tmp_path / "x.json").write_text("[]")
    not_result = run("report", tmp_path / "x.json")
    assert not_result.exit_code == 2 and "not a dfind result" in not_result.output


def test_figure_of_one_pair(images: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(*images, "--figure", tmp_path / "fig.png", *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "fig.png") as figure:
        assert figure.size[0] == round(7.16 * 300)
