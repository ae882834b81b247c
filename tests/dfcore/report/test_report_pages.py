"""Report pages built from results, without a browser: content, escaping, offline, folders."""

from __future__ import annotations

import csv
import json
import os
import re
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dfcore.contracts import Region
from dfcore.errors import InputError
from dfcore.pipeline import DiffResult
from dfcore.report import notebook_html, result_html, write_index, write_pair_report
from dfcore.report import pictures
from dfcore.report.pages import CSP, script_json

REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)|url\(\s*["']?(?:https?:|//)|@import""", re.I)


def make_result(name: str, score: float, metric: str = "mse", higher: bool = False, size: tuple[int, int] = (24, 32),
                sources: tuple[str, str] | None = None, **fields: Any) -> DiffResult:
    """A result as a run would make it, without running a pipeline."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    h, w = size
    config = {"metric": {"name": metric, "higher_is_better": higher, "params": {}},
              "strategy": {"name": "difference", "params": {}}, "preprocessor": [], "postprocessor": []}
    inputs = {role: {"source": src, "width": w, "height": h, "channels": 3} for role, src in zip("ab", sources or ())}
    previews = None if sources else (rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                                     rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    fields.setdefault("previews", previews)
    return DiffResult(map=rng.random((h, w), dtype=np.float32), score=score, config=config, name=name,
                      inputs=inputs, **fields)


def test_page_shows_scores_pipeline_regions_and_the_colour_scale(result_with_regions: Any) -> None:
    page = result_html(result_with_regions)
    data = json.loads(re.search(r'<script type="application/json" id="dfind-data">(.*?)</script>', page, re.S)[1])
    assert data["width"] == 256 and data["height"] == 192
    assert len(data["regions"]) == len(result_with_regions.regions) == page.count('<tr class="region"')
    assert data["regions"][0] == list(map(float, result_with_regions.regions[0].bbox))
    assert set(data["images"]) == {"a", "b", "heatmap", "mask"}
    assert f"{result_with_regions.score:.6g}" in page
    assert "lower is better" in page and "difference" in page and "builtin" in page
    # the legend runs from the JSON's vmin to vmax, in the heatmap's colormap
    vmax = float(result_with_regions.map.max())
    assert f">{vmax:.3g}</span>" in page and ">0</span>" in page and "inferno" in page
    assert '<div class="caption">|a - b| (channels: mean) · inferno' in page, "the colour bar says the map's unit"
    for control in ("overlay-opacity", "swap", "flicker", "swipe", "show-boxes", "show-mask", "zoom-fit"):
        assert f'id="{control}"' in page


def test_page_makes_no_network_request(result_with_regions: Any, tmp_path: Path) -> None:
    page = result_html(result_with_regions)
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    assert not REMOTE.search(page)
    files = result_with_regions.save(tmp_path, previews=True)
    linked = write_pair_report(files["json"], tmp_path / "report.html").read_text()
    assert not REMOTE.search(linked)
    assert re.findall(r'<img[^>]+src="([^"]+)"', linked)  # images are linked, relative to the page
    assert all(not s.startswith(("/", "file:")) and (tmp_path / s).is_file()
               for s in re.findall(r'<img[^>]+src="([^"]+)"', linked))


def test_text_from_results_is_escaped(tmp_path: Path) -> None:
    nasty = '<script>alert("x")</script>&'
    region = Region((1, 2, 5, 6), 16, 0.9, 0.5, (3.0, 4.0), label="<img src=x onerror=alert(1)>")
    result = make_result(nasty + ".png", 0.5, regions=[region])
    result.info["stage"] = {"note": "</script><b>"}
    page = result_html(result)
    assert "<script>alert" not in page and "<img src=x" not in page and "</script><b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    assert script_json({"s": "</script><!--"}) == '{"s": "\\u003c/script\\u003e\\u003c!--"}'
    files = result.save(tmp_path, name="nasty")
    assert "<script>alert" not in write_pair_report(files["json"]).read_text()


def test_embedded_images_are_reduced_but_small_changes_stay_visible() -> None:
    result = make_result("big.png", 1.0, size=(300, 500))
    result.map[:] = 0.0
    result.map[123, 321] = 5.0  # one pixel
    page = result_html(result, max_side=100)
    assert "1/5 of full size" in page
    reduced = pictures.reduce_map(result.map, 5)
    assert reduced.shape == (60, 100) and reduced.max() == 5.0 and reduced[123 // 5, 321 // 5] == 5.0
    signed = np.array([[1.0, -3.0], [2.0, 0.5]], np.float32)
    assert pictures.reduce_map(signed, 2).tolist() == [[-3.0]]
    assert pictures.reduce_mask(np.eye(4, dtype=bool), 3).tolist() == [[True, False], [False, True]]
    assert pictures.reduce_picture(np.full((5, 7, 3), 200, np.uint8), 2).shape == (3, 4, 3)


def test_to_uint8_handles_every_depth() -> None:
    assert pictures.to_uint8(np.array([[0, 65535, 257]], np.uint16)).tolist() == [[0, 255, 1]]
    assert pictures.to_uint8(np.array([[0.0, 1.0, 0.5, 2.0]], np.float32)).tolist() == [[0, 255, 128, 255]]
    assert pictures.to_uint8(np.zeros((2, 2, 4), np.uint8)).shape == (2, 2, 3)
    assert pictures.to_uint8(np.zeros((2, 2, 1), np.float32)).shape == (2, 2)
    assert pictures.to_uint8(np.ones((2, 2, 5), np.float32)).tolist() == [[255, 255], [255, 255]]


def test_runs_keep_8_bit_previews_of_16_bit_inputs(tmp_path: Path) -> None:
    from PIL import Image

    from dfcore import Finder
    from dfcore.testing import fresh_registry

    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "a.png")
    Image.fromarray(ramp[::-1].copy()).save(tmp_path / "b.png")
    result = Finder(metric="mse", strategy="difference", device="cpu", registry=fresh_registry()).run(
        tmp_path / "a.png", tmp_path / "b.png")
    a, b = result.previews
    assert a.dtype == np.uint8 and a.shape == (48, 64) and a[0, 0] == 0 and a[-1, -1] == 255
    assert np.array_equal(b, a[::-1])
    files = result.save(tmp_path / "out", previews=True)
    assert {"a", "b"} <= set(files) and json.loads(files["json"].read_text())["files"]["a"] == "b.a.png"
    assert np.array_equal(np.asarray(Image.open(files["a"])), a)
    assert "a" not in result.save(tmp_path / "plain")  # previews only on request


def test_pair_page_reads_sources_again_or_says_what_is_missing(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.full((24, 32, 3), 90, np.uint8)).save(tmp_path / "a.png")
    result = make_result("b.png", 0.1, sources=(str(tmp_path / "a.png"), str(tmp_path / "gone.png")))
    files = result.save(tmp_path / "out")
    page = write_pair_report(files["json"]).read_text()
    assert (tmp_path / "out" / "b.a.png").is_file() and not (tmp_path / "out" / "b.b.png").exists()
    assert "A was read again from" in page
    assert "B is not shown: its source" in page and "gone.png is not a file here" in page
    assert 'class="missing img-b"' in page
    (tmp_path / "out" / "other.json").write_text('{"not": "a result"}')
    with pytest.raises(InputError, match="not a dfind result"):
        write_pair_report(tmp_path / "out" / "other.json")


def header_cells(index_html: str) -> int:
    return len(re.findall(r"<th[\s>]", index_html.split("<thead>")[1].split("</thead>")[0]))


def cells_per_row(index_html: str) -> set[int]:
    rows = index_html.split('<table class="pairs">')[1].split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    return {len(re.findall(r"<td[\s>]", row)) for row in rows}


def rows_of(index: Path) -> list[str]:
    return re.findall(r'<tr(?: class="failed")? data-name="([^"]*)"', index.read_text())


def test_index_lists_pairs_worst_first_for_either_direction(tmp_path: Path) -> None:
    for name, score in (("good.png", 0.99), ("bad.png", 0.5), ("mid.png", 0.8), ("same.png", float("inf"))):
        make_result(name, score, metric="psnr", higher=True).save(tmp_path / "psnr")
    assert rows_of(write_index(tmp_path / "psnr")) == ["bad.png", "mid.png", "good.png", "same.png"]
    for name, score in (("good.png", 0.001), ("bad.png", 0.3), ("nan.png", float("nan"))):
        make_result(name, score, metric="mse", higher=False).save(tmp_path / "mse")
    assert rows_of(write_index(tmp_path / "mse")) == ["nan.png", "bad.png", "good.png"]


def test_index_pages_thumbnails_and_navigation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name, score in (("x/one.png", 0.2), ("two.png", 0.1)):
        make_result(name, score).save(out, previews=True)
    index = write_index(out)
    text = index.read_text()
    assert ">changed</th>" not in text  # no pair has a mask
    assert cells_per_row(text) == {header_cells(text)}
    assert 'href="x/one.report.html"' in text and 'href="two.report.html"' in text
    for stem in ("x/one", "two"):
        for role in ("a", "b", "map"):
            assert (out / "thumbs" / f"{stem}.{role}.jpg").is_file()
            assert f'src="thumbs/{stem}.{role}.jpg"' in text
    nested = (out / "x" / "one.report.html").read_text()
    nav = json.loads(re.search(r'id="dfind-data">(.*?)</script>', nested, re.S)[1])["nav"]
    assert nav == {"index": "../index.html", "next": "../two.report.html"}
    assert 'src="one.heatmap.png"' in nested and 'src="one.a.png"' in nested
    # thumbnails are kept while the result is unchanged, and remade when it changes
    thumb = out / "thumbs" / "two.map.jpg"
    made = thumb.stat().st_mtime_ns
    write_index(out)
    assert thumb.stat().st_mtime_ns == made
    time.sleep(0.01)
    make_result("two.png", 0.5).save(out, previews=True)
    os.utime(out / "two.json", (time.time() + 5, time.time() + 5))
    write_index(out)
    assert thumb.stat().st_mtime_ns != made


def test_index_shows_failures_from_the_run_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    make_result("fine.png", 0.1).save(out)
    make_result("redone.png", 0.2).save(out)
    summary = [
        {"pair": "fine.png", "status": "ok", "score": 0.1, "error": ""},
        {"pair": "broken.png", "status": "failed", "error": "broken.png: corrupt or truncated image"},
        {"pair": "redone.png", "status": "failed", "error": "an earlier attempt failed"},  # resumed since
    ]
    (out / "summary.json").write_text(json.dumps({"pairs": summary}))
    text = write_index(out).read_text()
    assert rows_of(out / "index.html") == ["broken.png", "redone.png", "fine.png"]
    assert cells_per_row(text) == {header_cells(text)}  # failed rows too: columns stay sortable
    assert "corrupt or truncated image" in text and "an earlier attempt failed" not in text
    # the same from a CSV summary, plus failures handed over by the caller
    (out / "summary.json").unlink()
    with open(out / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["pair", "score", "status", "error"])
        writer.writeheader()
        writer.writerow({"pair": "broken.png", "status": "failed", "error": "sizes differ"})
    failure = type("PairFailure", (), {"name": "late.png", "a": Path("a/late.png"), "b": Path("b/late.png"),
                                       "error": "cannot read", "ok": False})()
    text = write_index(out, [failure]).read_text()
    assert rows_of(out / "index.html")[:2] == ["broken.png", "late.png"]
    assert "sizes differ" in text and "cannot read" in text and "a/late.png" in text


def test_index_survives_a_colormap_this_matplotlib_lacks(tmp_path: Path) -> None:
    files = make_result("odd.png", 0.3).save(tmp_path)
    data = json.loads(files["json"].read_text())
    data["display"]["colormap"] = "from-a-newer-matplotlib"
    files["json"].write_text(json.dumps(data))
    page = write_pair_report(files["json"]).read_text()
    assert "colormap from-a-newer-matplotlib" in page
    write_index(tmp_path)
    assert (tmp_path / "thumbs" / "odd.map.jpg").is_file()  # from the heatmap PNG


def test_index_of_a_folder_without_results(tmp_path: Path) -> None:
    assert "No results in this folder" in write_index(tmp_path).read_text()
    with pytest.raises(InputError, match="not a folder"):
        write_index(tmp_path / "missing")


def test_notebook_view_is_a_sandboxed_iframe(result_with_regions: Any) -> None:
    view = result_with_regions._repr_html_()
    assert view.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in view
    assert "<script" not in view  # the page is escaped into the attribute
    assert notebook_html(result_with_regions) == view
    assert result_with_regions.to_html() == result_html(result_with_regions)


def test_evaluation_and_stage_info_are_shown_when_present() -> None:
    result = make_result("e.png", 0.3)
    page = result_html(result)
    assert "Against the truth" not in page and "What the stages reported" not in page
    result.info["align"] = {"shift": [0.5, -1.25]}
    page = result_html(result)
    assert "What the stages reported" in page and "-1.25" in page
    data = result.to_dict()
    data["evaluation"] = {"mask": {"dice": 0.875}, "auroc": 0.93}
    from dfcore.report.model import PairRecord
    from dfcore.report.pages import render_pair

    data["display"] = {"colormap": "inferno", "vmin": 0.0, "vmax": 1.0}
    page = render_pair(PairRecord("e.png", data=data))
    assert "Against the truth" in page and "mask.dice" in page and "0.875" in page and "auroc" in page
