"""The publication figure: A | B | map with its colour bar | the map over A, with matplotlib.

The figure is built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI
backend), with constrained layout so its size is exactly ``width`` inches by the height the
image's aspect gives. Text is embedded as real text in PDF, PS and SVG (TrueType, type 42),
so figures stay editable and searchable; the pictures themselves are raster, at most
``max_side`` pixels (the map reduced by its largest values, so small changes stay visible).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dfcore.errors import ParameterError
from dfcore.io.files import atomic_write
from dfcore.io.render import color_scale, default_colormap
from dfcore.report import pictures
from dfcore.report.model import picture_from_source

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.titlepad": 3,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "axes.linewidth": 0.5,
    "xtick.major.width": 0.5,
    "xtick.major.size": 2.5,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
}
BOX_COLOUR = "#00e5ff"


def make_figure(result: Any, path: str | os.PathLike[str] | None = None, *, width: float = 7.16,
                dpi: int = 300, colormap: str | None = None, vmax: float | None = None, alpha: float = 0.8,
                titles: Sequence[str] | None = None, regions: bool = True, max_side: int | str | None = "panel") -> Any:
    """Draw a :class:`~dfcore.pipeline.DiffResult` as four panels and return the Figure.

    Args:
        result: the result; A and B come from ``result.previews`` (or its source files).
        path: where to save it; the format follows the extension (png, pdf, svg, eps...).
        width: figure width in inches (7.16 is a two-column journal page; 3.5 one column).
        dpi: resolution of the saved raster (PNG) and of the embedded pictures.
        colormap, vmax: the map's colour scale (defaults: ``inferno`` from 0 to the map's
            maximum, ``RdBu_r`` centred on zero for signed maps), as in the heatmap PNG.
        alpha: the overlay's opacity where the map is strongest; weaker values fade
            proportionally, so A shows through where nothing differs.
        titles: four panel titles; default A, B (with the score), the map, the overlay.
        regions: draw the regions' boxes on the map and the overlay.
        max_side: largest picture side drawn, in pixels: ``"panel"`` (a panel's size at
            ``dpi``, so nothing is resampled twice), a number, or ``None`` for full size.
    Returns:
        a :class:`matplotlib.figure.Figure` with five axes: four panels and the colour bar.
    """
    import matplotlib
    from matplotlib import ticker
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if not 0.0 <= alpha <= 1.0:
        raise ParameterError(f"alpha must lie in [0, 1], got {alpha}")
    if titles is not None and len(titles) != 4:
        raise ParameterError(f"titles needs four texts (A, B, map, overlay), got {len(titles)}")
    map2d = np.asarray(result.map, dtype=np.float32)
    height, width_px = map2d.shape
    if hasattr(result, "display"):  # a result knows its scale (a comparison is always symmetric)
        shown = result.display(colormap, vmax)
        vmin, top, cmap_name, meaning = shown["vmin"], shown["vmax"], shown["colormap"], shown.get("meaning")
    else:
        vmin, top = color_scale(map2d, vmax)
        cmap_name, meaning = colormap or default_colormap(vmin), None
    try:
        cmap = matplotlib.colormaps[cmap_name]
    except KeyError:
        raise ParameterError(f"unknown colormap {cmap_name!r}") from None
    a, b = _pictures(result)
    panel = (width - 0.25) / 4.0
    if max_side == "panel":
        max_side = max(1, round(panel * dpi * max(height, width_px) / width_px))
    elif isinstance(max_side, str):
        raise ParameterError(f"max_side must be 'panel', a number of pixels or None, got {max_side!r}")
    factor = pictures.reduction(height, width_px, max_side)
    a, b = pictures.reduce_picture(a, factor), pictures.reduce_picture(b, factor)
    reduced = pictures.reduce_map(map2d, factor)
    norm = Normalize(vmin=vmin, vmax=top)
    overlay = cmap(norm(reduced))
    overlay[..., 3] = alpha * _strength(reduced, vmin, top)

    config = result.config or {}
    metric = (config.get("metric") or {}).get("name", "score")
    strategy = (config.get("strategy") or {}).get("name", "")
    if titles is None and hasattr(result, "figure_titles"):
        titles = result.figure_titles()
    if titles is None:
        titles = ("A", f"B  ({metric} = {result.score:.4g})", "Difference map", "Overlay on A")
    extent = (0, width_px, height, 0)

    with matplotlib.rc_context(RC):
        image_h = panel * height / width_px
        bar_h = 0.09
        fig = Figure(figsize=(width, image_h + bar_h + 0.62), dpi=dpi, layout="constrained")
        fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.03)
        grid = fig.add_gridspec(2, 4, height_ratios=(image_h, bar_h))
        axes = [fig.add_subplot(grid[0, i]) for i in range(4)]
        for ax, picture in ((axes[0], a), (axes[1], b)):
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255, extent=extent)
        axes[2].imshow(reduced, cmap=cmap, norm=norm, extent=extent)
        axes[3].imshow(_grey(a), cmap="gray", vmin=0, vmax=255, extent=extent)
        axes[3].imshow(overlay, extent=extent)
        for ax, title in zip(axes, titles):
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlim(0, width_px)
            ax.set_ylim(height, 0)
        if regions:
            for rank, region in enumerate(result.regions, 1):
                move = getattr(region, "move", None)
                places = (move.source, move.target) if move is not None else (region.bbox,)
                for ax in axes[2:]:
                    for x0, y0, x1, y1 in places:  # a thing that moved: both places, one number
                        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=BOX_COLOUR,
                                               linewidth=0.6))
                        ax.annotate(str(rank), (x0, y0), xytext=(0.5, 1.5), textcoords="offset points", fontsize=5,
                                    color=BOX_COLOUR, va="bottom", ha="left", annotation_clip=True)
                    if move is not None:
                        (fx0, fy0, fx1, fy1), (tx0, ty0, tx1, ty1) = places
                        ax.annotate("", ((tx0 + tx1) / 2, (ty0 + ty1) / 2), xytext=((fx0 + fx1) / 2, (fy0 + fy1) / 2),
                                    arrowprops={"arrowstyle": "->", "color": BOX_COLOUR, "linewidth": 0.5,
                                                "linestyle": "--"}, annotation_clip=True)
        cax = fig.add_subplot(grid[1, 2])
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        bar.outline.set_linewidth(0.4)
        bar.locator = ticker.MaxNLocator(nbins=4, symmetric=vmin < 0)
        bar.formatter = ticker.FuncFormatter(lambda value, _: f"{value:.3g}")  # no offset text to collide
        bar.update_ticks()
        bar.set_label(bar_label(result, strategy, metric, meaning), fontsize=6.5, wrap=True)
        if path is not None:
            save_figure(fig, path, dpi)
    return fig


def bar_label(result: Any, strategy: str, metric: str, meaning: str | None) -> str:
    """What the colour bar's numbers are: the map's unit (and what the colours mean, when said);
    results saved before units were recorded name the strategy and the metric instead."""
    unit = getattr(result, "unit", None)
    if unit:
        return f"{unit} · {meaning}" if meaning else unit
    return " · ".join(x for x in (strategy, metric, meaning) if x)


def figure_format(path: str | os.PathLike[str]) -> str:
    """The format a figure path asks for (its extension), refused early when matplotlib cannot write it."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = Path(path).suffix.lower().lstrip(".")
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise ParameterError(f"{path}: cannot write a figure as {fmt or 'a file without extension'}; "
                             f"use one of .{', .'.join(sorted(supported))}")
    return fmt


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int) -> Path:
    """Save in the format of the extension, with the figure's own fonts settings."""
    import matplotlib

    fmt = figure_format(path)
    with matplotlib.rc_context(RC):
        return atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=fmt))


def _pictures(result: Any) -> tuple[np.ndarray, np.ndarray]:
    if result.previews is not None:
        return pictures.to_uint8(result.previews[0]), pictures.to_uint8(result.previews[1])
    found = []
    data = result.to_dict()
    for role in ("a", "b"):
        picture, reason = picture_from_source(data, role)
        if picture is None:
            raise ParameterError(f"cannot draw {role.upper()}: {reason}")
        found.append(picture)
    return found[0], found[1]


def _strength(map2d: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """How far each value is from "no difference" (zero, or the scale's low end), in [0, 1]."""
    zero = min(max(0.0, vmin), vmax)
    half = max(vmax - zero, zero - vmin) or 1.0
    return np.clip(np.abs(map2d - zero) / half, 0.0, 1.0)


def _grey(picture: np.ndarray) -> np.ndarray:
    if picture.ndim == 2:
        return picture
    return (picture[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
