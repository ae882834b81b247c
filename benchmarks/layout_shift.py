"""Layout shifts in aligned screenshot pairs: does a 1-px move of one element count?

A screenshot-like page (a navigation bar, a sidebar, two cards with text, an input box and a
button; DejaVu fonts drawn by Pillow) is drawn twice from one description, B with one change:

* ``button-dx1``, ``-dx2``, ``-dx3``: the button (box and label) moved right by 1, 2, 3 px;
* ``text-dy1``: a paragraph moved down by 1 px;
* ``button-wider1``: the button 1 px wider (its label where it was);
* ``scroll-1``: the whole capture moved down by 1 px (a page scrolled by a pixel): a
  misaligned pair, not a layout change; every preset's answer is reported as it is;
* ``aa-subpixel``: every text drawn a third of a pixel to the right (sub-pixel positioning):
  its anti-aliasing differs, nothing moved by a whole pixel -- the false-positive control;
* ``aa-supersampled``: the whole page rendered at 3x and box-filtered down (another
  rasteriser's anti-aliasing: text, rounded corners), nothing moved -- the second control;
* ``identical``.

For each preset it reports the map's peak inside the changed element's box (the union of its
box before and after, grown by 2 px) and outside it, whether a region meets the box, the
number of regions, and the score (MSE)::

    python -m benchmarks.layout_shift                 # all presets, markdown table
    python -m benchmarks.layout_shift --presets default,strict --save /tmp/pairs

Peaks are in each map's own unit; ``in/out`` is the ratio that says whether the element stands
out of its own map (what a per-image colour scale shows), and ``in/shared`` divides the peak
by the 99.5th percentile of the values of every map of the preset's run over the cases (what
a folder's shared colour scale, ``--scale shared``, shows).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 640, 400
Box = tuple[int, int, int, int]

_LINES = ("Release notes are generated from merged pull requests and",
          "grouped by label; review them before the tag is pushed.",
          "Deployments to staging start when the checks have passed.")


@dataclass(frozen=True)
class Page:
    """What is drawn: offsets and sizes of the elements that can change, in px."""

    button: Box = (470, 300, 590, 334)
    paragraph: tuple[float, float] = (186, 112)
    dx: float = 0.0  # the whole capture
    dy: float = 0.0
    text_dx: float = 0.0  # every text, sub-pixel positioning
    supersample: int = 1
    extra: dict[str, object] = field(default_factory=dict)


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)


def render(page: Page) -> np.ndarray:
    """HxWx3 uint8 screenshot of ``page``."""
    k = page.supersample
    image = Image.new("RGB", (WIDTH * k, HEIGHT * k), "#ffffff")
    draw = ImageDraw.Draw(image)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x + page.dx) * k, (y + page.dy) * k

    def box(b: Box | tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return (*at(b[0], b[1]), *(v - 1 for v in at(b[2], b[3])))

    def text(x: float, y: float, words: str, size: int = 13, colour: str = "#1f2328", bold: bool = False) -> None:
        draw.text(at(x + page.text_dx, y), words, font=_font(size * k, bold), fill=colour)

    draw.rectangle(box((0, 0, WIDTH, 44)), fill="#24292f")
    text(16, 13, "dfind dashboard", 15, "#ffffff", bold=True)
    for i, name in enumerate(("Runs", "Reports", "Settings")):
        text(400 + 72 * i, 14, name, 13, "#d0d7de")
    draw.rectangle(box((0, 44, 150, HEIGHT)), fill="#f6f8fa")
    draw.line((*at(150, 44), *at(150, HEIGHT)), fill="#d0d7de", width=k)
    for i, name in enumerate(("Overview", "Pipelines", "Artifacts", "Members", "Billing")):
        text(20, 64 + 30 * i, name, 13, "#57606a")
    draw.rounded_rectangle(box((170, 60, 620, 200)), radius=6 * k, fill="#ffffff", outline="#d0d7de", width=k)
    text(186, 76, "Release 4.2", 17, bold=True)
    px, py = page.paragraph
    for i, line in enumerate(_LINES):
        text(px, py + 20 * i, line)
    draw.rounded_rectangle(box((170, 220, 620, 360)), radius=6 * k, fill="#ffffff", outline="#d0d7de", width=k)
    text(186, 236, "Notify on failure", 15, bold=True)
    draw.rounded_rectangle(box((186, 300, 450, 334)), radius=4 * k, fill="#ffffff", outline="#8c959f", width=k)
    text(196, 309, "team@example.org", 13, "#6e7781")
    bx0, by0, bx1, by1 = page.button
    draw.rounded_rectangle(box(page.button), radius=5 * k, fill="#1f883d", outline="#1a7f37", width=k)
    text((bx0 + bx1) / 2 - 44 + page.extra.get("label_dx", 0), (by0 + by1) / 2 - 8, "Save rules", 13, "#ffffff", True)
    text(170, 376, "Last run 3 minutes ago - 12 checks passed", 11, "#6e7781")
    if k > 1:
        image = image.resize((WIDTH, HEIGHT), Image.Resampling.BOX)
    return np.asarray(image)


def _moved(b: Box, dx: int = 0, dy: int = 0, grow: int = 0) -> Box:
    return b[0] + dx, b[1] + dy, b[2] + dx + grow, b[3] + dy


def _paragraph_box(x: float, y: float) -> Box:
    width = max(_font(13).getbbox(line)[2] for line in _LINES)
    return int(x), int(y), int(x) + width + 1, int(y) + 20 * (len(_LINES) - 1) + 17


@dataclass(frozen=True)
class Case:
    name: str
    b: Page
    element: Box | None  # the changed element's box, before and after together, grown by 2 px
    expect: str  # what a visual-regression user expects: "count", "no", or "?"


def _union(*boxes: Box, grow: int = 2) -> Box:
    return (min(b[0] for b in boxes) - grow, min(b[1] for b in boxes) - grow,
            max(b[2] for b in boxes) + grow, max(b[3] for b in boxes) + grow)


def cases() -> Iterator[Case]:
    """The pairs: A is ``Page()`` each time."""
    a = Page()
    for step in (1, 2, 3):
        moved = _moved(a.button, dx=step)
        # the label moves with its box (it is centred on it)
        yield Case(f"button-dx{step}", replace(a, button=moved), _union(a.button, moved), "count")
    px, py = a.paragraph
    yield Case("text-dy1", replace(a, paragraph=(px, py + 1)), _union(_paragraph_box(px, py), _paragraph_box(px, py + 1)),
               "count")
    wider = _moved(a.button, grow=1)
    # a wider box centres its label half a pixel further: keep the label where it was
    yield Case("button-wider1", replace(a, button=wider, extra={"label_dx": -0.5}), _union(a.button, wider), "count")
    yield Case("scroll-1", replace(a, dy=1), None, "?")
    yield Case("aa-subpixel", replace(a, text_dx=1 / 3), None, "no")
    yield Case("aa-supersampled", replace(a, supersample=3), None, "no")
    yield Case("identical", a, None, "no")


PRESETS = {
    "default": {},
    "robust": {"preset": "robust"},
    "difference": {"strategy": "difference", "postprocessor": "regions"},
    "strict": {"preset": "strict"},
    # not a preset: the default's map told that the pair is aligned and lossless (what finding
    # every local move would take), to weigh changing the default
    "default-aligned": {"strategy": "difference:shift=0,sigma=1.0,reduce=l2,scale=1.0,octaves=4,background=64,"
                                    "exact=on,antialias=1,overshoot=0.15,register=off",
                        "postprocessor": "regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15"},
}


def _meets(region_box: Box, element: Box) -> bool:
    x0, y0, x1, y1 = region_box
    return x0 < element[2] and element[0] < x1 and y0 < element[3] and element[1] < y1


def measure(presets: list[str], save: str | None = None) -> list[dict[str, object]]:
    from dfcore import Finder

    a = render(Page())
    pairs = [(case, render(case.b)) for case in cases()]
    if save:
        from pathlib import Path

        folder = Path(save)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(folder / "A.png")
        for case, b in pairs:
            Image.fromarray(b).save(folder / f"{case.name}.png")
    rows = []
    for preset in presets:
        finder = Finder(**PRESETS[preset])
        results = [(case, finder.run(a, b)) for case, b in pairs]
        values = np.concatenate([np.abs(np.asarray(result.map)).ravel() for _, result in results])
        shared = float(np.percentile(values, 99.5)) or 1.0
        for case, result in results:
            diff_map = np.abs(np.asarray(result.map).reshape(HEIGHT, WIDTH))
            regions = result.regions or []
            inside = np.zeros(diff_map.shape, dtype=bool)
            if case.element is not None:
                x0, y0, x1, y1 = case.element
                inside[max(y0, 0):y1, max(x0, 0):x1] = True
            peak_in = float(diff_map[inside].max()) if inside.any() else float("nan")
            peak_out = float(diff_map[~inside].max())
            rows.append({
                "preset": preset, "case": case.name, "expect": case.expect,
                "changed_px": int((a != render(case.b)).any(-1).sum()),
                "peak_in": peak_in, "peak_out": peak_out,
                "in_out": peak_in / peak_out if peak_out > 0 else (float("inf") if peak_in > 0 else float("nan")),
                "in_shared": peak_in / shared,
                "found": (any(_meets(r.bbox, case.element) for r in regions) if case.element is not None else None),
                "regions": len(regions),
                "outside": sum(not _meets(r.bbox, case.element) for r in regions) if case.element else len(regions),
                "score": float(result.score),
            })
    return rows


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value == float("inf"):
            return "∞"
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"
    return str(value)


def table(rows: list[dict[str, object]]) -> str:
    head = ("preset", "case", "expect", "changed_px", "peak_in", "peak_out", "in_out", "in_shared", "found", "regions",
            "outside", "score")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(row[key]) for key in head) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated, of: " + ", ".join(PRESETS))
    parser.add_argument("--save", metavar="DIR", help="also write A.png and each case's B as PNG")
    args = parser.parse_args()
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = sorted(set(presets) - set(PRESETS))
    if unknown:
        parser.error(f"unknown preset(s): {', '.join(unknown)}")
    print(table(measure(presets, args.save)))


if __name__ == "__main__":
    main()
