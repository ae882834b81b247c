"""The publication figure: four panels and a colour bar, at the size asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dfcore.errors import ParameterError


def test_figure_has_four_panels_and_a_colour_bar(result_with_regions: Any) -> None:
    fig = result_with_regions.figure()
    assert len(fig.axes) == 5
    panels, bar = fig.axes[:4], fig.axes[4]
    assert [ax.get_title() for ax in panels] == ["A", f"B  (mse = {result_with_regions.score:.4g})",
                                                 "Difference map", "Overlay on A"]
    assert [len(ax.get_images()) for ax in panels] == [1, 1, 1, 2]  # the overlay: A, then the map
    assert bar.get_xlabel() == "|a - b| (channels: mean)" == result_with_regions.unit  # the map's unit
    assert bar.get_xlim() == pytest.approx((0.0, float(result_with_regions.map.max())))
    boxes = len(result_with_regions.regions)
    assert [len(ax.patches) for ax in panels] == [0, 0, boxes, boxes]
    # left to right, one row, equal sizes; the colour bar under the map
    boxes_xy = [ax.get_position() for ax in panels]
    assert all(b1.x1 <= b2.x0 + 1e-6 for b1, b2 in zip(boxes_xy, boxes_xy[1:]))
    assert max(b.width for b in boxes_xy) - min(b.width for b in boxes_xy) < 0.01
    assert bar.get_position().y1 <= boxes_xy[2].y0 and abs(bar.get_position().x0 - boxes_xy[2].x0) < 0.05


def test_the_colour_bar_names_an_own_maps_unit_and_old_records_name_the_stages(result_with_regions: Any) -> None:
    import dataclasses

    from dfcore.report.figure import bar_label

    assert bar_label(dataclasses.replace(result_with_regions, unit="1 - SSIM"), "own", "ssim", None) == "1 - SSIM"
    assert bar_label(dataclasses.replace(result_with_regions, unit=None), "difference", "mse", None) == \
        "difference · mse"


def test_figure_saves_a_png_of_the_expected_size(result_with_regions: Any, tmp_path: Path) -> None:
    path = tmp_path / "fig.png"
    fig = result_with_regions.figure(path, width=7.0, dpi=200)
    width_in, height_in = fig.get_size_inches()
    with Image.open(path) as image:
        assert image.size == (round(width_in * 200), int(height_in * 200))
        assert image.size[0] == 1400 and 300 < image.size[1] < 700  # four 4:3 panels in a row
        pixels = np.asarray(image.convert("RGB"))
    # the panels are drawn: the overlay's region is coloured, the corners are white paper
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels.std() > 20


def test_figure_in_vector_formats_keeps_text_as_text(result_with_regions: Any, tmp_path: Path) -> None:
    result_with_regions.figure(tmp_path / "fig.svg")
    svg = (tmp_path / "fig.svg").read_text()
    assert "Difference map" in svg and "<image" in svg
    result_with_regions.figure(tmp_path / "fig.pdf")
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")


def test_figure_options_and_errors(result_with_regions: Any, tmp_path: Path) -> None:
    fig = result_with_regions.figure(titles=("Ref", "Ours", "|a-b|", "Where"), regions=False, colormap="viridis")
    assert [ax.get_title() for ax in fig.axes[:4]] == ["Ref", "Ours", "|a-b|", "Where"]
    assert all(not ax.patches for ax in fig.axes[:4])
    with pytest.raises(ParameterError, match="cannot write a figure as xyz"):
        result_with_regions.figure(tmp_path / "fig.xyz")
    assert not (tmp_path / "fig.xyz").exists()
    with pytest.raises(ParameterError, match="alpha"):
        result_with_regions.figure(alpha=2.0)
    with pytest.raises(ParameterError, match="four texts"):
        result_with_regions.figure(titles=("only one",))
    with pytest.raises(ParameterError, match="unknown colormap"):
        result_with_regions.figure(colormap="nope")
