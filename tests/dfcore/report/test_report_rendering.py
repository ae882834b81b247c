"""What the pair page draws, read back from Chromium's pixels: sharp pixels when zoomed, the
onion-skin blend, and a pipeline table that wraps instead of overflowing.

Each test writes a pair page from hard-edged pictures (a one-pixel checkerboard, flat colours),
opens it in headless Chromium (``conftest.py``) and inspects a screenshot or the layout.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dfcore.report import write_pair_report

RED, BLUE, YELLOW = (220, 40, 40), (30, 60, 200), (250, 230, 20)
A_VIEW = '.panel[data-panel="a"] .viewport'
B_VIEW = '.panel[data-panel="b"] .viewport'
COMPARE_VIEW = '.panel[data-panel="compare"] .viewport'


def checkerboard(height: int, width: int, one: tuple[int, int, int], two: tuple[int, int, int]) -> np.ndarray:
    """An HxWx3 uint8 picture whose neighbouring pixels alternate between ``one`` and ``two``."""
    odd = (np.add.outer(np.arange(height), np.arange(width)) % 2).astype(bool)
    return np.where(odd[..., None], np.array(two, np.uint8), np.array(one, np.uint8))


def pair_page(folder: Path, a: np.ndarray, b: np.ndarray,
              edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The page of ``a`` and ``b`` (uint8 pictures) as a run writes it; ``edit`` may change the record first."""
    from PIL import Image

    from dfcore import Finder
    from dfcore.testing import fresh_registry

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, picture in (("a.png", a), ("b.png", b)):
        Image.fromarray(picture).save(folder / name)
        paths.append(folder / name)
    result = Finder(metric="mse", strategy="difference", device="cpu", registry=fresh_registry()).run(*paths)
    files = result.save(folder / "out", previews=True)
    if edit is not None:
        data = json.loads(files["json"].read_text(encoding="utf-8"))
        edit(data)
        files["json"].write_text(json.dumps(data), encoding="utf-8")
    return write_pair_report(files["json"], folder / "out" / "report.html")


@pytest.fixture(scope="module")
def checker_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 320x240 one-pixel red/blue checkerboard; B has a 40x30 block where red is yellow."""
    a = checkerboard(240, 320, RED, BLUE)
    b = a.copy()
    b[80:110, 100:140] = checkerboard(30, 40, YELLOW, BLUE)
    return pair_page(tmp_path_factory.mktemp("checker"), a, b)


def zoom_to(page: Any, scale: float) -> float:
    """Zoom every view to ``scale`` screen pixels per image pixel (1:1, then the wheel); the page's own reading."""
    box = page.locator(A_VIEW).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.press("=")
    page.mouse.wheel(0, -math.log(scale) / 0.002)  # the page zooms by exp(-deltaY * 0.002) per wheel pixel
    page.wait_for_timeout(100)
    level = page.locator("#zoom-level").text_content()
    return float(level[:-1]) / 100 if level.endswith("%") else float(level[:-1])


def colours(page: Any, selector: str) -> dict[tuple[int, ...], int]:
    """Every colour of the picture inside the element ``selector``, as rendered, with its pixel count.

    The screenshot keeps to the part of the view the image covers, whole pixels only, less a
    margin for the panel's rounded corners, so neither the view's background nor the corners'
    antialiasing counts.
    """
    from PIL import Image

    clip = page.evaluate("""(selector) => {
        const view = document.querySelector(selector), img = view.querySelector('img');
        const v = view.getBoundingClientRect(), i = img.getBoundingClientRect(), m = 12;
        const x0 = Math.ceil(Math.max(v.left, i.left)) + m, y0 = Math.ceil(Math.max(v.top, i.top)) + m;
        const x1 = Math.floor(Math.min(v.right, i.right)) - m, y1 = Math.floor(Math.min(v.bottom, i.bottom)) - m;
        return {x: x0, y: y0, width: x1 - x0, height: y1 - y0};
    }""", selector)
    assert clip["width"] > 100 and clip["height"] > 100, clip
    shot = Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")
    values, counts = np.unique(np.asarray(shot).reshape(-1, 3), axis=0, return_counts=True)
    return {tuple(int(c) for c in value): int(n) for value, n in zip(values, counts)}


@pytest.mark.parametrize("scale", [1.58, 4.0])
def test_zoomed_views_draw_sharp_pixels(visit: Any, checker_page: Path, scale: float) -> None:
    page = visit(checker_page, width=1400, height=1000)
    page.assert_clean()
    assert page.undecoded_images() == []
    assert zoom_to(page.page, scale) == pytest.approx(scale, abs=0.015)
    seen_a = colours(page.page, A_VIEW)
    seen_b = colours(page.page, B_VIEW)
    # each screen pixel is one of the picture's own colours: nothing smoothed between them
    assert set(seen_a) == {RED, BLUE}, sorted(seen_a.items(), key=lambda kv: -kv[1])[:8]
    assert set(seen_b) <= {RED, BLUE, YELLOW}, sorted(seen_b.items(), key=lambda kv: -kv[1])[:8]
    assert {RED, BLUE} <= set(seen_b)
    page.assert_clean()


def test_onion_skin_blends_a_over_b_at_the_sliders_opacity(visit: Any, tmp_path: Path) -> None:
    a = np.full((120, 160, 3), RED, np.uint8)
    b = np.full((120, 160, 3), BLUE, np.uint8)
    page = visit(pair_page(tmp_path, a, b)).page
    compare = page.locator('.panel[data-panel="compare"]')

    def centre() -> np.ndarray:
        from PIL import Image

        box = page.locator(COMPARE_VIEW).bounding_box()
        clip = {"x": round(box["x"] + box["width"] / 2) - 2, "y": round(box["y"] + box["height"] / 2) - 2,
                "width": 4, "height": 4}
        return np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB")).reshape(-1, 3)

    assert (centre() == RED).all()  # A, until asked
    assert not page.locator("#onion-opacity").is_visible()
    page.keyboard.press("c")
    assert compare.get_attribute("data-mode") == "onion"
    assert page.locator("#onion").get_attribute("aria-pressed") == "true"
    slider = page.locator("#onion-opacity")
    assert slider.is_visible()
    half = centre().astype(float)  # 50% of A over B
    assert np.abs(half - (np.array(RED) + np.array(BLUE)) / 2).max() <= 2
    slider.focus()
    page.keyboard.press("Home")
    assert (centre() == BLUE).all()  # opacity 0: B alone
    assert page.locator("#onion-opacity-value").text_content() == "0%"
    page.keyboard.press("End")
    assert (centre() == RED).all()  # opacity 100: A alone
    for _ in range(25):
        page.keyboard.press("ArrowLeft")
    quarter = centre().astype(float)
    assert np.abs(quarter - (0.75 * np.array(RED) + 0.25 * np.array(BLUE))).max() <= 2
    assert page.locator("#onion-opacity-value").text_content() == "75%"
    page.locator("body").focus()
    page.keyboard.press("c")  # c again: back to showing A or B
    assert compare.get_attribute("data-mode") == "toggle"
    assert (centre() == RED).all()
    page.keyboard.press("x")
    assert (centre() == BLUE).all()


def test_pipeline_table_wraps_long_parameters(visit: Any, tmp_path: Path) -> None:
    weights = [round(0.001 * i, 3) for i in range(160)]
    label = "a-very-long-label-without-spaces-" * 12

    def long_parameters(data: dict[str, Any]) -> None:
        data["config"]["strategy"]["params"] = {"weights": weights, "label": label, "sigma": 1.5}

    page = visit(pair_page(tmp_path, checkerboard(60, 80, RED, BLUE), checkerboard(60, 80, BLUE, RED),
                           long_parameters), width=1200, height=900).page
    sizes = page.evaluate("""() => {
        const body = document.querySelector('#pipeline .body'), table = body.querySelector('table');
        return {table: table.scrollWidth, body: body.clientWidth, overflow: body.scrollWidth - body.clientWidth,
                page: document.documentElement.scrollWidth - document.documentElement.clientWidth};
    }""")
    assert sizes["table"] <= sizes["body"], sizes
    assert sizes["overflow"] == 0 and sizes["page"] == 0, sizes
    text = page.locator("#pipeline table").text_content()
    assert f"weights={json.dumps(weights)}" in text
    assert f"label={json.dumps(label)}" in text
    assert "sigma=1.5" in text
