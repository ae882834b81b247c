"""The report pages in a real headless Chromium: offline, images decoded, every control works.

Each test opens a generated file through ``file://`` and records console errors and
requests; a screenshot of each page is kept (see ``conftest.py`` for DFIND_TEST_ARTIFACTS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dfcore.cli import main
from dfcore.report import write_pair_report

LAYER = '.panel[data-panel="{}"] .layer'


@pytest.fixture
def pair_page(result_with_regions: Any, tmp_path: Path) -> Path:
    """A pair's page as a folder run writes it: files beside it, previews written by ``save``."""
    files = result_with_regions.save(tmp_path / "out", previews=True)
    return write_pair_report(files["json"], tmp_path / "out" / "report.html")


def transforms(page: Any) -> list[str]:
    """Where each view's layer is and how large: its offset and size (the layer is sized, never scaled)."""
    return page.evaluate("[...document.querySelectorAll('.layer')]"
                         ".map(l => `${l.style.transform} ${l.style.width} ${l.style.height}`)")


def scales(page: Any) -> list[float]:
    """Screen pixels per image pixel in each view."""
    return [float(s) for s in page.evaluate("[...document.querySelectorAll('.layer')].map(l => l.dataset.scale)")]


def test_cli_report_loads_offline_and_every_image_decodes(visit: Any, pair_files: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(pair_files[0]), str(pair_files[1]), "-o", str(out), "--report",
                                       "-m", "mse", "-s", "difference", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    page = visit(out / "report.html")
    page.assert_clean()
    assert page.undecoded_images() == []
    assert page.page.locator("img").count() >= 7  # A, B, A and B in the compare view, map, A and map in the overlay
    assert any(url.endswith("/b.heatmap.png") for url in page.requests)
    assert page.page.title().startswith("b.png")
    page.screenshot(tmp_path, "report-cli-pair.png")


def test_overlay_slider_sets_the_map_opacity(visit: Any, pair_page: Path) -> None:
    page = visit(pair_page)
    overlay = page.page.locator("#overlay-map")
    before = float(overlay.evaluate("e => getComputedStyle(e).opacity"))
    slider = page.page.locator("#overlay-opacity")
    slider.focus()
    page.page.keyboard.press("Home")
    assert float(overlay.evaluate("e => getComputedStyle(e).opacity")) == 0.0
    page.page.keyboard.press("End")
    assert float(overlay.evaluate("e => getComputedStyle(e).opacity")) == 1.0
    for _ in range(10):
        page.page.keyboard.press("ArrowLeft")
    assert float(overlay.evaluate("e => getComputedStyle(e).opacity")) == pytest.approx(0.9)
    assert page.page.locator("#overlay-opacity-value").text_content() == "90%"
    assert before == pytest.approx(0.75)
    page.page.keyboard.press("o")  # o turns the overlay off, and on again at its last opacity
    assert float(overlay.evaluate("e => getComputedStyle(e).opacity")) == 0.0
    page.page.keyboard.press("o")
    assert float(overlay.evaluate("e => getComputedStyle(e).opacity")) == pytest.approx(0.9)
    page.assert_clean()


def test_flicker_swaps_a_and_b_in_place(visit: Any, pair_page: Path) -> None:
    page = visit(pair_page)
    b = page.page.locator("#compare-b")
    visible = lambda: b.evaluate("e => getComputedStyle(e).visibility")  # noqa: E731
    assert visible() == "hidden"
    page.page.click("#swap")
    assert visible() == "visible"
    assert page.page.locator("#swap").text_content() == "Showing B"
    page.page.keyboard.press("x")
    assert visible() == "hidden"
    # flicker: B appears and disappears on its own
    page.page.select_option("#flicker-rate", "250")
    page.page.click("#flicker")
    seen = set()
    for _ in range(12):
        seen.add(visible())
        page.page.wait_for_timeout(90)
    assert seen == {"hidden", "visible"}
    page.page.click("#flicker")
    assert page.page.locator("#flicker").get_attribute("aria-pressed") == "false"
    # swipe: B visible, clipped on its left part
    page.page.click("#swipe")
    assert visible() == "visible"
    clip = b.evaluate("e => e.style.clipPath")
    assert clip.startswith("inset(0") and "50%" in clip
    page.assert_clean()


def test_region_row_click_zooms_every_view_there(visit: Any, pair_page: Path, result_with_regions: Any,
                                                 tmp_path: Path) -> None:
    page = visit(pair_page)
    rows = page.page.locator("tr.region")
    assert rows.count() == len(result_with_regions.regions) >= 2
    assert page.page.locator('.panel[data-panel="map"] .boxes g').count() == rows.count()
    before = transforms(page.page)
    rows.nth(1).click()
    after = transforms(page.page)
    assert after != before
    assert len(set(after)) == 1 or len(set(scales(page.page))) == 1  # every view shares the zoom
    assert min(scales(page.page)) > 1.5  # zoomed in
    # the chosen region is now in the middle of the A view
    centre = page.page.evaluate("""() => {
        const vp = document.querySelector('.panel[data-panel="a"] .viewport').getBoundingClientRect();
        const box = document.querySelector('.panel[data-panel="a"] .boxes g[data-region="1"] rect:not(.halo)')
            .getBoundingClientRect();
        return [box.x + box.width / 2 - (vp.x + vp.width / 2), box.y + box.height / 2 - (vp.y + vp.height / 2)];
    }""")
    assert abs(centre[0]) < 2 and abs(centre[1]) < 2
    assert "active" in rows.nth(1).get_attribute("class")
    page.screenshot(tmp_path, "report-region-zoom.png")
    page.assert_clean()


def test_wheel_zoom_and_drag_pan_move_every_view_together(visit: Any, pair_page: Path) -> None:
    page = visit(pair_page)
    viewport = page.page.locator('.panel[data-panel="b"] .viewport')
    box = viewport.bounding_box()
    page.page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    start = scales(page.page)
    page.page.mouse.wheel(0, -400)
    zoomed = scales(page.page)
    assert all(z > s * 1.5 for z, s in zip(zoomed, start))
    assert max(zoomed) - min(zoomed) < 1e-6 * max(zoomed)
    before = transforms(page.page)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
    page.page.mouse.up()
    after = transforms(page.page)
    assert all(a != b for a, b in zip(after, before))  # every view panned
    page.page.keyboard.press("0")
    assert scales(page.page) == pytest.approx(start)
    # 2 enlarges view B to the window; Escape puts it back
    page.page.keyboard.press("2")
    assert page.page.locator('.panel[data-panel="b"]').get_attribute("class").split() == ["panel", "maximized"]
    assert page.page.locator(LAYER.format("b")).bounding_box()["width"] > 2 * box["width"]
    page.page.keyboard.press("Escape")
    assert "maximized" not in page.page.locator('.panel[data-panel="b"]').get_attribute("class")
    assert scales(page.page) == pytest.approx(start)
    page.assert_clean()


def test_embedded_page_and_notebook_view_work_without_files(visit: Any, result_with_regions: Any,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "embedded.html"
    result_with_regions.to_html(path)
    page = visit(path)
    page.assert_clean()
    assert page.undecoded_images() == []
    assert not any(u.startswith("file://") and not u.endswith("embedded.html") for u in page.requests)
    # the notebook view: the same page inside a sandboxed iframe
    host = tmp_path / "notebook.html"
    host.write_text("<!DOCTYPE html><meta charset='utf-8'><body>" + result_with_regions._repr_html_() + "</body>")
    notebook = visit(host)
    frame = notebook.page.frame_locator("iframe")
    frame.locator("tr.region").first.click()
    assert notebook.page.frames[1].evaluate("[...document.images].every(i => i.naturalWidth > 0)")
    notebook.assert_clean()


def test_folder_index_links_every_pair_page(visit: Any, pair_files: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    dir_a, dir_b = tmp_path / "refs", tmp_path / "outputs"
    for name in ("one.png", "two.png", "nested/three.png"):
        for folder, source in ((dir_a, pair_files[0]), (dir_b, pair_files[1] if name != "two.png" else pair_files[0])):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / name)
    (dir_a / "broken.png").write_bytes(b"not a png")
    (dir_b / "broken.png").write_bytes(b"not a png either")
    out = tmp_path / "maps"
    result = CliRunner().invoke(main, [str(dir_a), str(dir_b), "-o", str(out), "--report", "-m", "mse",
                                       "-s", "difference", "--device", "cpu"])
    assert result.exit_code == 3, result.output  # one pair failed
    index = visit(out / "index.html")
    index.assert_clean()
    index.page.set_viewport_size({"width": 1400, "height": 3000})
    assert index.undecoded_images() == []
    assert index.page.locator("tr.failed").count() == 1
    assert "broken.png" in index.page.locator("tr.failed").text_content()
    names = index.page.eval_on_selector_all("table.pairs tbody tr", "rows => rows.map(r => r.dataset.name)")
    assert names[0] == "broken.png"  # failures first, then worst MSE first: two.png is identical, so last
    assert names[-1] == "two.png"
    links = index.page.eval_on_selector_all("a.pair-link", "links => links.map(a => a.href)")
    assert len(links) == 3
    index.screenshot(tmp_path, "report-index.png")
    for link in links:
        page = visit(link)
        page.assert_clean()
        assert page.undecoded_images() == []
        up = page.page.locator(".pager a", has_text="Index")
        assert up.count() == 1
        up.click()
        page.page.wait_for_load_state()
        assert page.page.url.endswith("/maps/index.html")


def test_index_lists_new_and_deleted_files_and_counts_only_what_ran(visit: Any, pair_files: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    import shutil

    refs, new = tmp_path / "refs", tmp_path / "new"
    for folder, names in ((refs, ("same.png", "changed.png", "gone.png")),
                          (new, ("same.png", "changed.png", "added.png", "nested/added2.png"))):
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(pair_files[1] if folder == new and name == "changed.png" else pair_files[0], folder / name)
    plain, detected = tmp_path / "plain", tmp_path / "detected"
    for out, extra in ((plain, []), (detected, ["-q", "regions"])):
        result = CliRunner().invoke(main, [str(refs), str(new), "-o", str(out), "--report", "-m", "mse",
                                           "-s", "difference", "--device", "cpu", *extra])
        assert result.exit_code == 0, result.output

    index = visit(plain / "index.html")
    index.assert_clean()
    assert index.undecoded_images() == []
    page = index.page
    cards = dict(zip(page.locator(".card .label").all_text_contents(),
                     page.locator(".card .value").all_text_contents()))
    assert cards["New"] == "2" and cards["Deleted"] == "1"
    assert "Regions" not in cards  # no postprocessor looked for regions: no count of them
    headers = [h.strip().lower() for h in page.locator("table.pairs thead th").all_text_contents()]
    assert "regions" not in headers
    assert "ran mse → difference" in page.locator(".folders").text_content()
    new_list = page.locator('details[data-side="only_b"]')
    assert new_list.locator("summary").text_content().startswith("new: only in B")
    assert new_list.locator("li").all_text_contents() == ["added.png", "nested/added2.png"]
    assert new_list.locator("img").count() == 2  # thumbnails of the new files, decoded (above)
    assert page.locator('details[data-side="only_a"] li').all_text_contents() == ["gone.png"]
    page.locator(".card a[href='#one-sided']").first.click()
    assert page.url.endswith("#one-sided")

    index = visit(detected / "index.html")
    index.assert_clean()
    page = index.page
    cards = dict(page.eval_on_selector_all(".card", "cards => cards.map(c => [c.querySelector('.label').textContent, "
                                                    "(c.querySelector('.hint') || {}).textContent || ''])"))
    assert "found in 2 of 2 pairs by regions" in cards["Regions"]
    headers = [h.strip().lower() for h in page.locator("table.pairs thead th").all_text_contents()]
    assert "regions" in headers
    cells = page.eval_on_selector_all(f"table.pairs tbody td:nth-child({headers.index('regions') + 1})",
                                      "cells => cells.map(c => c.textContent)")
    assert all(c.isdigit() for c in cells) and int(cells[0]) >= 1  # changed.png, worst first, has regions
