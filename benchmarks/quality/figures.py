"""The ``figures`` tracks: matplotlib plots with a change of data or labels.

Every source is a plot drawn here with matplotlib (Agg) from data drawn from the pair's seed:
a line chart, grouped bars, a scatter of clusters, a line chart and bars side by side, stacked
bars with their totals (``dev``; the last two appended in round fifty, so the others keep their
pairs); an annotated heatmap with a colour bar, a 2x2 grid of small plots, a stacked area chart
with steps (``test``). They are
the benchmark's own work (MIT); the font is DejaVu Sans, which matplotlib ships. Each figure
is 6.4x4.8 in at 100 dpi: 640x480 px.

An edit changes the data or the words, never the axes: limits, ticks and the layout are fixed
from the unedited data, so nothing else moves. Kinds: ``point`` (a point of a line or a
scatter moved), ``bar`` (a bar, bin or cell changed, with its value label; a stacked bar's lower
segment grown, which lifts the segments above it and the total), ``label`` (a
title, axis label or tick label changed), ``legend`` (a legend entry renamed), ``colour`` (a
series or marker recoloured). Four edits per figure, on artists apart from each other.

A is rendered with matplotlib's defaults. In ``figures-pristine`` B is the edited figure
under the same settings. In ``figures`` B is rendered, by variant, at twice the DPI and
resampled back (area), without antialiasing (text, lines, patches), with unhinted text and
path simplification (``text.hinting: none``, ``path.simplify_threshold: 0.5``), or at 1.5
times the DPI.

Truth: the edited and unedited figure rendered under A's settings differ exactly there; in
``figures`` the same comparison under B's settings is added (union). Each edit's footprint
is what it changes when applied alone (under A's settings), grown by 2 px; the truth is
split among the edits by nearest footprint.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import ndimage

from benchmarks.quality import real
from benchmarks.quality.pairs import Pair

WIDTH_IN, HEIGHT_IN, DPI = 6.4, 4.8, 100
EDITS_PER_FIGURE = 4
EDIT_KINDS = ("point", "bar", "label", "legend", "colour")
WORDS = ("alpha", "bravo", "delta", "gamma", "omega", "sigma", "north", "south", "cedar", "maple", "river", "stone",
         "amber", "coral", "lunar", "solar", "pixel", "orbit", "ridge", "grove")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


@dataclass(frozen=True)
class Setting:
    """How a figure is rendered: a DPI factor (resampled back) and rcParams."""

    scale: float = 1.0
    rc: tuple[tuple[str, Any], ...] = ()


SETTINGS = {
    "reference": Setting(),
    "dpi2": Setting(2.0),
    "no-antialias": Setting(1.0, (("text.antialiased", False), ("lines.antialiased", False),
                                  ("patch.antialiased", False))),
    "unhinted-simplified": Setting(1.0, (("text.hinting", "none"), ("path.simplify_threshold", 0.5))),
    "dpi1.5": Setting(1.5),
}
B_SETTINGS = ("dpi2", "no-antialias", "unhinted-simplified", "dpi1.5")


@dataclass
class Panel:
    """One axes: its kind, data and words; limits are fixed when the figure is made."""

    kind: str
    data: dict[str, Any]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xticklabels: list[str] | None = None
    legend: list[str] | None = None
    colours: list[str] = field(default_factory=list)
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None


def _word(rng: np.random.Generator, n: int = 1) -> str:
    return " ".join(str(rng.choice(WORDS)).capitalize() for _ in range(n))


def _colours(rng: np.random.Generator, n: int) -> list[str]:
    return [str(c) for c in rng.choice(COLOURS, size=n, replace=False)]


def fig_line(rng: np.random.Generator) -> list[Panel]:
    walks = np.cumsum(rng.normal(0, 1, size=(3, 24)), axis=1) + rng.uniform(-3, 3, size=(3, 1))
    return [Panel("line", {"y": walks.round(3).tolist()}, _word(rng, 2), "Month", _word(rng),
                  [MONTHS[i % 12] for i in range(0, 24, 3)], [_word(rng) for _ in range(3)], _colours(rng, 3))]


def fig_bar(rng: np.random.Generator) -> list[Panel]:
    values = rng.uniform(2, 20, size=(2, 7)).round(1)
    return [Panel("bar", {"values": values.tolist(), "labels": True}, _word(rng, 2), "", _word(rng),
                  [_word(rng) for _ in range(7)], [_word(rng) for _ in range(2)], _colours(rng, 2))]


def fig_scatter(rng: np.random.Generator) -> list[Panel]:
    centres = rng.uniform(-4, 4, size=(3, 2))
    points = [(c + rng.normal(0, 0.9, size=(30, 2))).round(3).tolist() for c in centres]
    return [Panel("scatter", {"points": points}, _word(rng, 2), _word(rng), _word(rng), None,
                  [_word(rng) for _ in range(3)], _colours(rng, 3))]


def fig_heatmap(rng: np.random.Generator) -> list[Panel]:
    values = rng.uniform(0, 10, size=(6, 8)).round(1)
    return [Panel("heat", {"values": values.tolist(), "rows": [_word(rng) for _ in range(6)]}, _word(rng, 2), "", "",
                  [MONTHS[i] for i in range(8)])]


def fig_grid(rng: np.random.Generator) -> list[Panel]:
    hist = rng.integers(2, 30, size=10).tolist()
    walk = (np.cumsum(rng.normal(0, 1, size=30))).round(3).tolist()
    points = [rng.normal(0, 1, size=(40, 2)).round(3).tolist()]
    bars = rng.uniform(1, 10, size=5).round(1).tolist()
    return [Panel("hist", {"counts": hist}, _word(rng), "", "", None, None, _colours(rng, 1)),
            Panel("line", {"y": [walk]}, _word(rng), "", "", None, None, _colours(rng, 1)),
            Panel("scatter", {"points": points}, _word(rng), "", "", None, None, _colours(rng, 1)),
            Panel("barh", {"values": bars}, _word(rng), "", "", [_word(rng) for _ in range(5)], None, _colours(rng, 1))]


def fig_area(rng: np.random.Generator) -> list[Panel]:
    layers = rng.uniform(0.5, 3, size=(3, 16)).round(2)
    return [Panel("area", {"layers": layers.tolist()}, _word(rng, 2), "Week", _word(rng),
                  [f"W{i}" for i in range(1, 17, 3)], [_word(rng) for _ in range(3)], _colours(rng, 3))]


def fig_panels(rng: np.random.Generator) -> list[Panel]:
    walks = np.cumsum(rng.normal(0, 1, size=(2, 18)), axis=1).round(3)
    values = rng.uniform(2, 12, size=(1, 5)).round(1)
    return [Panel("line", {"y": walks.tolist()}, _word(rng), "Day", "", None, [_word(rng) for _ in range(2)],
                  _colours(rng, 2)),
            Panel("bar", {"values": values.tolist(), "labels": True}, _word(rng), "", _word(rng),
                  [_word(rng) for _ in range(5)], [_word(rng)], _colours(rng, 1))]


def fig_stacked(rng: np.random.Generator) -> list[Panel]:
    values = rng.uniform(1, 6, size=(3, 6)).round(1)
    return [Panel("stacked", {"values": values.tolist()}, _word(rng, 2), "", _word(rng),
                  [_word(rng) for _ in range(6)], [_word(rng) for _ in range(3)], _colours(rng, 3))]


FIGURES: dict[str, Callable[[np.random.Generator], list[Panel]]] = {
    "line": fig_line, "bar": fig_bar, "scatter": fig_scatter,
    "heatmap": fig_heatmap, "grid": fig_grid, "area": fig_area, "panels": fig_panels,
    "stacked": fig_stacked,
}
SOURCES = {s.name: s for s in (
    real.Source("line", "dev", "generated by the benchmark (MIT)"),
    real.Source("bar", "dev", "generated by the benchmark (MIT)"),
    real.Source("scatter", "dev", "generated by the benchmark (MIT)"),
    real.Source("heatmap", "test", "generated by the benchmark (MIT)"),
    real.Source("grid", "test", "generated by the benchmark (MIT)"),
    real.Source("area", "test", "generated by the benchmark (MIT)"),
    real.Source("panels", "dev", "generated by the benchmark (MIT)"),
    real.Source("stacked", "dev", "generated by the benchmark (MIT)"),
)}


def _draw_panel(ax: Any, panel: Panel) -> None:
    d = panel.data
    if panel.kind == "line":
        for i, y in enumerate(d["y"]):
            ax.plot(y, color=panel.colours[i], lw=1.6, label=panel.legend[i] if panel.legend else None)
        if panel.xticklabels:
            ax.set_xticks(range(0, 3 * len(panel.xticklabels), 3), panel.xticklabels)
    elif panel.kind == "bar":
        values = np.asarray(d["values"])
        x = np.arange(values.shape[1])
        for i, row in enumerate(values):
            bars = ax.bar(x + (i - 0.5) * 0.38, row, 0.38, color=panel.colours[i], label=panel.legend[i])
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        ax.set_xticks(x, panel.xticklabels, fontsize=8)
    elif panel.kind == "scatter":
        markers = "osD^v"
        for i, pts in enumerate(d["points"]):
            pts = np.asarray(pts)
            colours = d.get("point_colours", {}).get(str(i))
            ax.scatter(pts[:, 0], pts[:, 1], s=22, marker=markers[i], c=colours or panel.colours[i],
                       label=panel.legend[i] if panel.legend else None, edgecolors="none")
    elif panel.kind == "heat":
        values = np.asarray(d["values"])
        image = ax.imshow(values, cmap="viridis", vmin=0, vmax=10, aspect="auto", interpolation="nearest")
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=7, color="w" if v < 6 else "k")
        ax.set_xticks(range(values.shape[1]), panel.xticklabels)
        ax.set_yticks(range(values.shape[0]), d["rows"])
        ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    elif panel.kind == "stacked":
        values = np.asarray(d["values"])
        x, bottom = np.arange(values.shape[1]), np.zeros(values.shape[1])
        for i, row in enumerate(values):
            ax.bar(x, row, 0.6, bottom=bottom, color=panel.colours[i], label=panel.legend[i])
            bottom = bottom + row
        for c, total in enumerate(bottom):
            ax.text(c, total + 0.2, f"{total:.1f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, panel.xticklabels, fontsize=8)
    elif panel.kind == "hist":
        ax.bar(np.arange(len(d["counts"])), d["counts"], 0.9, color=panel.colours[0])
    elif panel.kind == "barh":
        ax.barh(np.arange(len(d["values"])), d["values"], color=panel.colours[0])
        ax.set_yticks(range(len(d["values"])), panel.xticklabels, fontsize=7)
    elif panel.kind == "area":
        layers = np.asarray(d["layers"])
        ax.stackplot(np.arange(layers.shape[1]), layers, colors=panel.colours, labels=panel.legend, alpha=0.85)
        ax.step(np.arange(layers.shape[1]), layers.sum(0) + 0.4, where="mid", color="k", lw=1.2)
        ax.set_xticks(range(0, layers.shape[1], 3), panel.xticklabels)
    if panel.xlim is not None:
        ax.set_xlim(*panel.xlim)
        ax.set_ylim(*panel.ylim)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.legend and panel.kind != "heat":
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)


def render(panels: list[Panel], setting: Setting, scale: float = 1.0) -> np.ndarray:
    """The figure as HxWx3 uint8 at ``scale`` x 100 dpi; rendered at the setting's DPI and resampled back."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.family": "DejaVu Sans", **dict(setting.rc)}):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI * scale * setting.scale)
        canvas = FigureCanvasAgg(fig)
        rows = 2 if len(panels) == 4 else 1
        cols = len(panels) // rows
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        fig.subplots_adjust(left=0.1, right=0.97, bottom=0.1, top=0.92, wspace=0.25, hspace=0.35)
        for ax, panel in zip(axes, panels):
            _draw_panel(ax, panel)
        canvas.draw()
        image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    return real.area_resize(image, (round(WIDTH_IN * DPI * scale), round(HEIGHT_IN * DPI * scale)))


def fix_limits(panels: list[Panel]) -> None:
    """Freeze each panel's limits at matplotlib's choice for the unedited data, with room for edits."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        for panel in panels:
            ax = fig.add_subplot()
            _draw_panel(ax, panel)
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            pad = 0.15 * (y1 - y0)
            panel.xlim = (x0, x1)
            panel.ylim = (y0, y1) if panel.kind == "heat" else (y0 - (pad if y0 < 0 else 0), y1 + pad)
            fig.delaxes(ax)


def candidate_edits(panels: list[Panel], rng: np.random.Generator) -> list[tuple[str, Callable[[list[Panel]], None]]]:
    """Every edit a figure allows, each a (kind, change of the panels)."""
    out: list[tuple[str, Callable[[list[Panel]], None]]] = []
    for p_index, panel in enumerate(panels):
        d = panel.data
        span = (panel.ylim[1] - panel.ylim[0]) if panel.ylim else 1.0

        def on(fn: Callable[[Panel], None], i: int = p_index) -> Callable[[list[Panel]], None]:
            return lambda ps: fn(ps[i])

        if panel.kind == "line":
            for s, y in enumerate(d["y"]):
                i = int(rng.integers(1, len(y) - 1))
                delta = float(rng.uniform(0.12, 0.2) * span * rng.choice([-1, 1]))
                out.append(("point", on(lambda p, s=s, i=i, dl=delta: p.data["y"][s].__setitem__(i, p.data["y"][s][i] + dl))))
                colour = _other(panel.colours[s], rng)
                out.append(("colour", on(lambda p, s=s, c=colour: p.colours.__setitem__(s, c))))
        if panel.kind == "scatter":
            for s, pts in enumerate(d["points"]):
                i = int(rng.integers(0, len(pts)))
                move = (rng.uniform(0.08, 0.15, size=2) * span * rng.choice([-1, 1], size=2)).tolist()
                out.append(("point", on(lambda p, s=s, i=i, m=move: p.data["points"][s].__setitem__(
                    i, [p.data["points"][s][i][0] + m[0], p.data["points"][s][i][1] + m[1]]))))
                colours = [panel.colours[s]] * len(pts)
                colours[i] = _other(panel.colours[s], rng)
                out.append(("colour", on(lambda p, s=s, c=colours: p.data.setdefault("point_colours", {}).__setitem__(
                    str(s), c))))
        if panel.kind in ("bar", "heat"):
            values = np.asarray(d["values"])
            for _ in range(3):
                r, c = int(rng.integers(0, values.shape[0])), int(rng.integers(0, values.shape[1]))
                factor = float(rng.uniform(1.2, 1.45))
                top = 9.9 if panel.kind == "heat" else panel.ylim[1] / 1.05
                out.append(("bar", on(lambda p, r=r, c=c, f=factor, t=top: p.data["values"][r].__setitem__(
                    c, round(min(t, max(p.data["values"][r][c] * f, p.data["values"][r][c] + 2.5)), 1)))))
        if panel.kind == "stacked":  # a lower segment grows: those above it rise, and the total
            values = np.asarray(d["values"])
            for _ in range(2):
                r, c = int(rng.integers(0, values.shape[0] - 1)), int(rng.integers(0, values.shape[1]))
                grow = float(min(values[r, c] * rng.uniform(0.4, 0.7) + 1.0, panel.ylim[1] * 0.95 - values[:, c].sum()))
                out.append(("bar", on(lambda p, r=r, c=c, g=grow: p.data["values"][r].__setitem__(
                    c, round(p.data["values"][r][c] + g, 1)))))
        if panel.kind in ("hist", "barh"):
            key = "counts" if panel.kind == "hist" else "values"
            i = int(rng.integers(0, len(d[key])))
            limit = panel.ylim[1] if panel.kind == "hist" else panel.xlim[1]
            out.append(("bar", on(lambda p, i=i, k=key, lim=limit: p.data[k].__setitem__(
                i, min(lim * 0.95, p.data[k][i] * 1.5 + 2)))))
        if panel.kind == "area":
            layers = np.asarray(d["layers"])
            i = int(rng.integers(2, layers.shape[1] - 2))
            out.append(("bar", on(lambda p, i=i: p.data["layers"][1].__setitem__(i, p.data["layers"][1][i] + 1.5))))
        for attribute in ("title", "ylabel"):
            if getattr(panel, attribute):
                text = _renamed(getattr(panel, attribute), rng)
                out.append(("label", on(lambda p, a=attribute, t=text: setattr(p, a, t))))
        for attribute, kind in (("xticklabels", "label"), ("legend", "legend")):
            words = getattr(panel, attribute)
            if words:
                i = int(rng.integers(0, len(words)))
                text = _renamed(words[i], rng)
                out.append((kind, on(lambda p, a=attribute, i=i, t=text: getattr(p, a).__setitem__(i, t))))
    return out


def _other(colour: str, rng: np.random.Generator) -> str:
    return str(rng.choice([c for c in COLOURS if c != colour]))


def _renamed(text: str, rng: np.random.Generator) -> str:
    """``text`` with its last word replaced by another."""
    head, _, last = text.rpartition(" ")
    options = [w.capitalize() for w in WORDS if w.capitalize() != last] + [m for m in MONTHS if m != last]
    new = str(rng.choice(options))
    return f"{head} {new}" if head else new


@lru_cache(maxsize=2)
def _edited(source: str, variant: int, seed: int, scale: float) -> tuple[list[Panel], list[Panel], np.ndarray,
                                                                         list[tuple[str, np.ndarray]]]:
    """The figure, the figure with its edits, A and the edits' footprints (shared by both tracks)."""
    key = list(SOURCES).index(source)
    panels = FIGURES[source](real.rng(seed, 201, key, variant))
    fix_limits(panels)
    reference = SETTINGS["reference"]
    a = render(panels, reference, scale)
    candidates = candidate_edits(panels, real.rng(seed, 202, key, variant))
    rng = real.rng(seed, 203, key, variant)
    chosen: list[tuple[str, Callable[[list[Panel]], None]]] = []
    footprints: list[tuple[str, np.ndarray]] = []
    taken = np.zeros(a.shape[:2], bool)
    used: set[str] = set()
    # Kinds not used yet first, then any; an edit is kept only when it shows and keeps apart.
    order = [int(i) for i in rng.permutation(len(candidates))]
    for strict in (True, False):
        for index in order:
            kind, change = candidates[index]
            if len(chosen) == EDITS_PER_FIGURE or any(change is c for _, c in chosen) or (strict and kind in used):
                continue
            alone = copy.deepcopy(panels)
            change(alone)
            own = real.changed(a, render(alone, reference, scale))
            if not own.any():
                continue
            grown = ndimage.binary_dilation(own, iterations=2)
            if (ndimage.binary_dilation(grown, iterations=4) & taken).any():
                continue
            chosen.append((kind, change))
            footprints.append((kind, grown))
            taken |= grown
            used.add(kind)
    edited = copy.deepcopy(panels)
    for _, change in chosen:
        change(edited)
    return panels, edited, a, footprints


def unchanged_pair(source: str, variant: int, seed: int = 0, max_side: int = 640) -> tuple[np.ndarray, np.ndarray, str]:
    """A and B of :func:`make_pair`'s degraded pair ``variant`` without its edits: the same figure
    drawn again under B's setting, nothing changed; and that setting's name."""
    scale = min(1.0, max_side / (WIDTH_IN * DPI))
    panels, _, a, _ = _edited(source, variant, seed, scale)
    name = B_SETTINGS[variant % len(B_SETTINGS)]
    return a.copy(), render(panels, SETTINGS[name], scale), name


def make_pair(source: str, variant: int, degraded: bool, seed: int = 0, max_side: int = 640) -> Pair:
    """The pair ``variant`` of figure ``source``; B under another setting when ``degraded``."""
    scale = min(1.0, max_side / (WIDTH_IN * DPI))
    panels, edited, a, footprints = _edited(source, variant, seed, scale)
    b = render(edited, SETTINGS["reference"], scale)
    truth = real.changed(a, b)
    name = "reference"
    if degraded:
        name = B_SETTINGS[variant % len(B_SETTINGS)]
        plain = render(panels, SETTINGS[name], scale)
        b = render(edited, SETTINGS[name], scale)
        truth |= real.changed(plain, b)
    edits = real.assign(truth, footprints)
    track = "figures" if degraded else "figures-pristine"
    return Pair(f"{source}-{variant}-{track}", source, track, variant, a.copy(), b, truth, edits, {"b_setting": name})
