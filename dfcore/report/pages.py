"""Render report pages: one HTML document per pair and an index for a folder.

Pages are plain HTML, CSS and JavaScript from ``dfcore/report/static/``, inlined into each
page, with a Content-Security-Policy that forbids every network request: images come from
files next to the page or from ``data:`` URIs. Every text from a result is escaped; the data
the script needs is embedded as JSON in a ``<script type="application/json">`` element.
"""

from __future__ import annotations

import html
import json
import math
import os
import string
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dfcore.io.layout import read_score
from dfcore.report.model import PairRecord, as_float
from dfcore.version import __version__

CSP = ("default-src 'none'; img-src 'self' data: blob: file:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
MAX_BOXES = 500
PANEL_TITLES = ("A", "B", "A ⇄ B", "Map", "Overlay")


@lru_cache(maxsize=None)
def static(name: str) -> str:
    """The text of a file in ``dfcore/report/static``."""
    text = (resources.files("dfcore.report") / "static" / name).read_text(encoding="utf-8")
    if name.endswith(".js") and "</script" in text.lower():
        raise RuntimeError(f"{name} must not contain '</script'")
    return text


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 6) -> str:
    """A number for people: 6 significant digits, ``∞`` for infinity; other values as text."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value).lower()
    number = as_float(value)
    if isinstance(value, str) and math.isnan(number) and value.lower() != "nan":
        return value
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u2009")
    return f"{number:.{digits}g}"


def percent(fraction: Any) -> str:
    number = as_float(fraction)
    return "–" if math.isnan(number) else f"{number * 100:.3g}%"


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def src(image: Path | str, page_dir: Path | None) -> str:
    """An image reference for a page in ``page_dir``: a relative URL, or the ``data:`` URI itself."""
    if isinstance(image, str):
        return image
    if page_dir is None:
        raise ValueError("a page without a folder can only show embedded images")
    relative = Path(os.path.relpath(image, page_dir)).as_posix()
    return quote(relative, safe="/")


def document(kind: str, *, title: str, heading: str, script: str, pager: str = "", data: str = "",
             **values: str) -> str:
    """A whole page: the shell around ``static/KIND.html`` (filled with ``values``) and its shortcuts."""
    version = esc(__version__)
    main = string.Template(static(f"{kind}.html")).substitute(values, version=version)
    return string.Template(static("page.html")).substitute(
        csp=CSP, version=version, css=static("report.css"), title=title, heading=heading, page_class=f"{kind}-page",
        pager=pager, main=main, keys=static(f"{kind}-keys.html"), data=data, script=script)


# -- the pair page ---------------------------------------------------------------------------


def render_pair(record: PairRecord, page_dir: Path | None = None, nav: Mapping[str, str] | None = None) -> str:
    """The HTML document of one pair; image files are linked relative to ``page_dir``."""
    data = record.data or {}
    width, height = int(data["map"]["width"]), int(data["map"]["height"])
    regions = [r for r in data.get("regions") or [] if isinstance(r, Mapping) and len(r.get("bbox") or ()) == 4]
    payload = {
        "name": record.name,
        "width": width,
        "height": height,
        "regions": [[float(v) for v in r["bbox"]] for r in regions[:MAX_BOXES]],
        "nav": dict(nav or {}),
        "images": {role: image for role, image in record.images.items() if isinstance(image, str)},
    }
    return document(
        "pair",
        title=esc(f"{record.name} · dfind"),
        heading=esc(record.name),
        pager=f'<nav class="pager" aria-label="Pairs">{_pager(nav)}</nav>' if nav else "",
        cards=_pair_cards(data, len(regions)),
        notes=_notes(record.notes),
        panels=_panels(record, page_dir, width, height, regions[:MAX_BOXES]) + "\n" + _regions_panel(regions),
        details=_details(data),
        data=f'<script type="application/json" id="dfind-data">{script_json(payload)}</script>',
        script=static("common.js") + "\n" + static("pair.js"),
    )


def _pager(nav: Mapping[str, str] | None) -> str:
    if not nav:
        return ""
    parts = [f'<a href="{esc(nav["index"])}" title="Index (u)">↑ Index</a>'] if nav.get("index") else []
    for key, label, hint in (("prev", "‹ Previous", "The previous pair, worse (p)"),
                             ("next", "Next ›", "The next pair, better (n)")):
        if nav.get(key):
            parts.append(f'<a href="{esc(nav[key])}" rel="{key}" title="{hint}">{esc(label)}</a>')
        else:
            parts.append(f"<span>{esc(label)}</span>")
    return "".join(parts)


def card(label: str, value: str, hint: str = "", primary: bool = False) -> str:
    hint_html = f'<div class="hint">{hint}</div>' if hint else ""
    return (f'<div class="card{" primary" if primary else ""}"><div class="label">{label}</div>'
            f'<div class="value">{value}</div>{hint_html}</div>')


def _pair_cards(data: Mapping[str, Any], n_regions: int) -> str:
    direction = "higher is better" if data.get("higher_is_better") else "lower is better"
    arrow = "↑" if data.get("higher_is_better") else "↓"
    stats = data.get("map") or {}
    cards = [
        card(esc(data.get("metric") or "score"), esc(fmt(read_score(data))), f"{arrow} {direction}", primary=True),
        card("Regions", esc(fmt(n_regions)), "found by the postprocessor" if data.get("regions") else
              ("mask, no regions" if "mask_fraction" in data else "no region postprocessor")),
        card("Map max", esc(fmt(stats.get("max"), 4)), f"mean {esc(fmt(stats.get('mean'), 4))}"),
    ]
    if "mask_fraction" in data:
        cards.append(card("Changed", esc(percent(data["mask_fraction"])), "of the pixels (mask)"))
    if "valid_fraction" in data:
        cards.append(card("Compared", esc(percent(data["valid_fraction"])), "of the pixels (valid)"))
    for key, value in list(flatten(data.get("evaluation")))[:4]:
        cards.append(card(esc(key), esc(fmt(value, 4)), "against the truth"))
    strategy = ((data.get("config") or {}).get("strategy") or {}).get("name", "")
    cards.append(card("Size", f"{esc(stats.get('width'))}×{esc(stats.get('height'))}",
                       esc(f"strategy {strategy}") if strategy else ""))
    return f'<section class="cards" aria-label="Scores">{"".join(cards)}</section>'


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return '<div class="notes">' + "".join(f"<p>{esc(n)}</p>" for n in notes) + "</div>"


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings -> ``[("mask.dice", 0.9), ...]``; lists and texts are kept as values."""
    if not isinstance(value, Mapping):
        return [(prefix, value)] if prefix else []
    items = []
    for key, item in value.items():
        items.extend(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return items


def _image(record: PairRecord, role: str, page_dir: Path | None, css: str, alt: str, extra: str = "") -> str:
    image = record.images.get(role)
    if image is None:
        return f'<div class="missing {css}">{esc(alt)} is not available</div>'
    if isinstance(image, str):  # embedded: the script gives every view of it one shared blob URL
        return f'<img class="{css}" data-image="{esc(role)}" alt="{esc(alt)}" draggable="false"{extra}>'
    return f'<img class="{css}" src="{esc(src(image, page_dir))}" alt="{esc(alt)}" draggable="false"{extra}>'


def _moved(region: Mapping[str, Any]) -> tuple[list[float], list[float]] | None:
    """A region's two places, ``(from, to)`` boxes, when it is a thing that moved; else ``None``."""
    move = region.get("move")
    if not isinstance(move, Mapping) or len(move.get("from") or ()) != 4 or len(move.get("to") or ()) != 4:
        return None
    return [float(v) for v in move["from"]], [float(v) for v in move["to"]]


def _boxes(regions: Sequence[Mapping[str, Any]], width: int, height: int) -> str:
    groups = []
    for i, region in enumerate(regions):
        places = _moved(region)
        parts = []
        for x0, y0, x1, y1 in places or [[float(v) for v in region["bbox"]]]:
            rect = f'x="{x0:g}" y="{y0:g}" width="{max(x1 - x0, 0):g}" height="{max(y1 - y0, 0):g}"'
            parts.append(f'<rect class="halo" {rect}/><rect {rect}/><text x="{x0:g}" y="{y0:g}" dy="-0.35em">{i + 1}'
                         "</text>")
        if places is not None:  # from where it was to where it went
            (fx0, fy0, fx1, fy1), (tx0, ty0, tx1, ty1) = places
            ends = (f'x1="{(fx0 + fx1) / 2:g}" y1="{(fy0 + fy1) / 2:g}" '
                    f'x2="{(tx0 + tx1) / 2:g}" y2="{(ty0 + ty1) / 2:g}"')
            parts.append(f'<line class="halo" {ends}/><line class="move" {ends}/>')
        groups.append(f'<g data-region="{i}">{"".join(parts)}</g>')
    return (f'<svg class="boxes" viewBox="0 0 {width} {height}" preserveAspectRatio="none" aria-hidden="true">'
            + "".join(groups) + "</svg>")


def _panel(index: int, key: str, sub: str, controls: str, layers: str, viewport_extra: str = "",
           after: str = "", attrs: str = "", width: int = 1, height: int = 1, boxes: str = "") -> str:
    title = PANEL_TITLES[index - 1]
    foot = f'<div class="controls">{controls}</div>' if controls else ""
    return (
        f'<section class="panel" data-panel="{key}"{attrs}>\n'
        f'<header><span class="index">{index}</span><span class="title">{esc(title)}</span>'
        f'<span class="sub" title="{sub}">{sub}</span><button type="button" class="max" aria-pressed="false" '
        f'title="Enlarge ({index}); Esc to go back">⤢</button></header>\n'
        f'<div class="viewport" style="aspect-ratio: {width} / {height}">'
        f'<div class="layer" style="width:{width}px;height:{height}px">{layers}{boxes}</div>{viewport_extra}</div>\n'
        f"{foot}{after}</section>"
    )


def _panels(record: PairRecord, page_dir: Path | None, width: int, height: int,
            regions: Sequence[Mapping[str, Any]]) -> str:
    data = record.data or {}
    display = data["display"]
    inputs = data.get("inputs") or {}
    boxes = _boxes(regions, width, height)
    size = {"width": width, "height": height, "boxes": boxes}
    has_mask = "mask" in record.images
    source = {role: esc(Path(str((inputs.get(role) or {}).get("source") or role.upper())).name) for role in "ab"}

    a_view = _panel(1, "a", source["a"], "", _image(record, "a", page_dir, "img-a", "A"), **size)
    b_view = _panel(2, "b", source["b"], "", _image(record, "b", page_dir, "img-b", "B"), **size)
    compare_controls = (
        '<button type="button" id="swap" aria-pressed="false" title="Show A or B (x)">Showing A</button>'
        '<button type="button" id="flicker" aria-pressed="false" title="Flicker A and B (f)">Flicker</button>'
        '<select id="flicker-rate" title="Flicker interval" aria-label="Flicker interval">'
        '<option value="250">4/s</option><option value="500" selected>2/s</option><option value="1000">1/s</option>'
        '</select><button type="button" id="swipe" aria-pressed="false" title="Swipe between A and B (s)">Swipe</button>'
        '<label class="swipe-only">at <input type="range" id="swipe-pos" min="0" max="100" value="50" '
        'aria-label="Swipe position"></label>'
        '<button type="button" id="onion" aria-pressed="false" title="Onion skin: A over B (c)">Onion</button>'
        '<label class="onion-only" title="Opacity of A over B: 0 shows B, 100 shows A">A <input type="range" '
        'id="onion-opacity" min="0" max="100" value="50" aria-label="Opacity of A over B"></label>'
        '<output class="onion-only" id="onion-opacity-value">50%</output>'
    )
    compare_layers = (_image(record, "a", page_dir, "img-a", "A")
                      + _image(record, "b", page_dir, "img-b", "B", ' id="compare-b"'))
    compare_view = _panel(3, "compare", "flicker, swipe or blend in place", compare_controls, compare_layers,
                          '<div class="swipe-line"></div><span class="badge-ab">A</span>'
                          '<span class="badge-ab right">B</span>', attrs=' data-mode="toggle" data-show="a"', **size)

    mask_control = ('<label title="Show the mask (m)"><input type="checkbox" id="show-mask"> mask</label>'
                    if has_mask else "")
    layer_attr = ' data-layer="heatmap"' if has_mask else ""
    map_layers = _image(record, "heatmap", page_dir, "img-map", "Difference map")
    if has_mask:
        map_layers += _image(record, "mask", page_dir, "img-mask", "Mask")
    strategy = ((data.get("config") or {}).get("strategy") or {}).get("name", "")
    metric = data.get("metric") or ""
    map_sub = esc(" · ".join(x for x in (strategy, metric) if x))
    unit = (data.get("map") or {}).get("unit")  # what the colour bar's numbers are
    caption = esc(unit) if unit else map_sub
    map_view = _panel(4, "map", map_sub, mask_control, map_layers, after=legend(display, caption),
                      attrs=layer_attr, **size)

    opacity = 75
    overlay_controls = (
        f'<label title="Opacity (o: on/off)">opacity <input type="range" id="overlay-opacity" min="0" max="100" '
        f'value="{opacity}" aria-label="Overlay opacity"></label><output id="overlay-opacity-value">{opacity}%</output>'
        '<select id="overlay-blend" title="How the map is blended over A" aria-label="Blend">'
        + "".join(f'<option value="{mode}"{" selected" if mode == blend_mode(display) else ""}>{mode}</option>'
                  for mode in ("screen", "multiply", "normal"))
        + '</select><label title="Grey A (g)"><input type="checkbox" id="overlay-grey" checked> grey A</label>'
    )
    overlay_layers = (_image(record, "a", page_dir, "img-a img-base", "A")
                      + _image(record, "heatmap", page_dir, "img-map overlay-map", "Difference map over A",
                               ' id="overlay-map"'))
    if has_mask:
        overlay_layers += _image(record, "mask", page_dir, "img-mask overlay-map", "Mask over A")
    overlay_view = _panel(5, "overlay", "the map over A", overlay_controls, overlay_layers, attrs=layer_attr,
                          **size)
    return "\n".join((a_view, b_view, compare_view, map_view, overlay_view))


def blend_mode(display: Mapping[str, Any]) -> str:
    """``screen`` when the colour of a zero difference is dark (it vanishes over A), else ``multiply``."""
    lut = _lut(display.get("colormap"))
    if lut is None:
        return "normal"
    vmin, vmax = float(display["vmin"]), float(display["vmax"])
    position = min(max((0.0 - vmin) / ((vmax - vmin) or 1.0), 0.0), 1.0)
    r, g, b = (int(c) for c in lut[int(round(position * 255))])
    return "screen" if (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0 < 0.5 else "multiply"


def _lut(name: Any) -> Any:
    from dfcore.errors import ParameterError
    from dfcore.io.render import colormap_lut

    try:
        return colormap_lut(str(name))
    except ParameterError:
        return None


def legend(display: Mapping[str, Any], caption: str = "", ticks: int = 5) -> str:
    """A colour bar with ``ticks`` evenly spaced values, from the page's ``display`` scale."""
    lut = _lut(display.get("colormap"))
    if lut is None:
        return f'<div class="legend"><div class="caption">colormap {esc(display.get("colormap"))}</div></div>'
    stops = ", ".join(f"rgb({r},{g},{b}) {i / 255 * 100:.1f}%" for i, (r, g, b) in enumerate(lut) if i % 16 == 0 or i == 255)
    vmin, vmax = float(display["vmin"]), float(display["vmax"])
    labels = []
    for k in range(ticks):
        value = vmin + (vmax - vmin) * k / (ticks - 1)
        labels.append(f'<span style="left:{k / (ticks - 1) * 100:.2f}%">{esc(fmt(value, 3))}</span>')
    colormap = esc(display.get("colormap"))
    note = f"{caption} · " if caption else ""
    return (f'<div class="legend" aria-label="Colour scale"><div class="colorbar" style="background:'
            f'linear-gradient(to right, {stops})"></div><div class="ticks">{"".join(labels)}</div>'
            f'<div class="caption">{note}{colormap}, {esc(fmt(vmin, 4))} to {esc(fmt(vmax, 4))}; '
            f'{esc(_meaning(display, vmin))}'
            f"</div></div>")


def _meaning(display: Mapping[str, Any], vmin: float) -> str:
    """What the colours say: the display's own ``meaning`` (a comparison), or the usual reading."""
    if display.get("meaning"):
        return str(display["meaning"])
    return "the further from 0, the more different; the sign gives the direction" if vmin < 0 else "larger = more different"


def _regions_panel(regions: Sequence[Mapping[str, Any]]) -> str:
    """The sixth grid cell: the regions, strongest first; a row click zooms every view there."""
    if not regions:
        body = ('<p class="empty">No regions: a thresholding postprocessor (<code>-q NAME</code>, see '
                "<code>dfind --list-plugins</code>) finds them.</p>")
        count = ""
    else:
        labelled = any(r.get("label") for r in regions)
        head = ("<tr><th class=\"num\">#</th>" + ("<th>label</th>" if labelled else "")
                + '<th>box x0,y0 → x1,y1</th><th class="num">area</th>'
                  '<th class="num">peak</th><th class="num">mean</th></tr>')
        rows = []
        for i, region in enumerate(regions[:MAX_BOXES]):
            x0, y0, x1, y1 = (int(round(float(v))) for v in region["bbox"])
            centroid = region.get("centroid") or ()
            centre = ", ".join(fmt(float(c), 4) for c in centroid) if len(centroid) == 2 else "–"
            label = f"<td>{esc(region.get('label') or '')}</td>" if labelled else ""
            places = _moved(region)
            moved = ""
            if places is not None:
                (fx0, fy0, *_), (tx0, ty0, *_) = ((int(round(v)) for v in box) for box in places)
                moved = f'<br><span class="muted">moved {fx0},{fy0} → {tx0},{ty0}</span>'
            rows.append(
                f'<tr class="region" data-region="{i}" tabindex="0" title="Zoom to region {i + 1}: '
                f'{x1 - x0}×{y1 - y0} px, centroid {esc(centre)}"><td class="num">{i + 1}</td>{label}'
                f'<td class="mono nowrap">{x0},{y0} → {x1},{y1}{moved}</td>'
                f'<td class="num">{esc(fmt(region.get("area")))}</td><td class="num">{esc(fmt(region.get("peak"), 4))}'
                f'</td><td class="num">{esc(fmt(region.get("mean"), 4))}</td></tr>'
            )
        more = (f'<p class="muted">The {MAX_BOXES} strongest of {len(regions)} regions.</p>'
                if len(regions) > MAX_BOXES else "")
        body = f'<table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>{more}'
        count = f"{len(regions)} · click one to zoom there · <kbd>[</kbd> <kbd>]</kbd>"
    return (f'<section class="panel regions-panel" id="regions" aria-label="Regions"><header>'
            f'<span class="title">Regions</span><span class="sub">{count}</span></header>'
            f'<div class="scroll">{body}</div></section>')


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    return '<table class="kv"><tbody>' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</tbody></table>"


def _block(title: str, body: str, block_id: str = "") -> str:
    ident = f' id="{block_id}"' if block_id else ""
    return f'<section class="block"{ident}><h2>{esc(title)}</h2><div class="body">{body}</div></section>'


def _details(data: Mapping[str, Any]) -> str:
    stats = data.get("map") or {}
    direction = "higher is better" if data.get("higher_is_better") else "lower is better"
    score_rows = [
        (esc(data.get("metric") or "score"), f'<span class="mono">{esc(fmt(read_score(data), 10))}</span> '
                                             f'<span class="muted">({direction})</span>'),
        ("map min / mean / max", esc(" / ".join(fmt(stats.get(k), 5) for k in ("min", "mean", "max")))),
    ]
    if "mask_fraction" in data:
        score_rows.append(("changed pixels (mask)", esc(percent(data["mask_fraction"]))))
    if "valid_fraction" in data:
        score_rows.append(("compared pixels (valid)", esc(percent(data["valid_fraction"]))))
    scores = _kv_table(score_rows)
    evaluation = flatten(data.get("evaluation"))
    if evaluation:
        scores += ("<h3 class=\"muted\" style=\"font-size:13px;margin:12px 0 4px\">Against the truth</h3>"
                   + _kv_table([(esc(k), f'<span class="mono">{esc(fmt(v, 6))}</span>') for k, v in evaluation]))
    blocks = [_block("Scores", scores, "scores"), _block("Pipeline", _pipeline(data.get("config") or {}), "pipeline"),
              _block("Inputs", _inputs(data.get("inputs") or {}), "inputs")]
    info = data.get("info")
    if info:
        blocks.append(_block("What the stages reported", f"<pre>{esc(json.dumps(info, indent=2))}</pre>", "info"))
    raw = {k: v for k, v in data.items() if k != "display"}
    blocks.append(_block("Result JSON", f"<details><summary>the full record ({esc(len(json.dumps(raw)))} bytes)"
                                        f"</summary><pre>{esc(json.dumps(raw, indent=2))}</pre></details>", "json"))
    return "\n".join(blocks)


def _pipeline(config: Mapping[str, Any]) -> str:
    rows = []
    for kind in ("preprocessor", "metric", "strategy", "postprocessor"):
        stages = config.get(kind)
        for stage in stages if isinstance(stages, list) else [stages] if stages else []:
            if not isinstance(stage, Mapping):
                continue
            origin = " ".join(str(x) for x in (stage.get("distribution"), stage.get("version")) if x)
            plugin = esc(stage.get("plugin") or stage.get("object") or "in-process")
            params = stage.get("params") or {}
            param_html = "".join(f"<code>{esc(k)}={esc(json.dumps(v))}</code>" for k, v in params.items())
            conventions = stage.get("conventions")
            if conventions:
                param_html += (f"<details><summary>conventions</summary><pre>"
                               f"{esc(json.dumps(conventions, indent=2))}</pre></details>")
            if kind == "metric" and "higher_is_better" in stage:
                param_html += f'<span class="muted">{"higher" if stage["higher_is_better"] else "lower"} is better</span>'
            rows.append(f"<tr><td>{kind}</td><td><strong>{esc(stage.get('name'))}</strong></td>"
                        f'<td>{plugin}<div class="muted">{esc(origin)}</div></td><td class="params">{param_html}</td></tr>')
    if not rows:
        return '<p class="empty">No pipeline recorded.</p>'
    facts = [(k, config.get(k)) for k in ("preset", "device", "dfind", "torch") if config.get(k)]
    footer = ('<p class="muted">' + " · ".join(f"{esc(k)} {esc(v)}" for k, v in facts) + "</p>") if facts else ""
    return ("<table><thead><tr><th>stage</th><th>name</th><th>plugin</th><th>parameters</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>" + footer)


def _inputs(inputs: Mapping[str, Any]) -> str:
    rows = []
    for role in ("a", "b"):
        entry = inputs.get(role)
        if not isinstance(entry, Mapping):
            continue
        size = f"{entry.get('width', '?')}×{entry.get('height', '?')}"
        rows.append(f"<tr><td><strong>{role.upper()}</strong></td><td class=\"mono\">{esc(entry.get('source', ''))}</td>"
                    f'<td class="num">{esc(size)}</td><td class="num">{esc(entry.get("channels", ""))}</td>'
                    f"<td>{esc(entry.get('mode', ''))}</td><td class=\"num\">{esc(entry.get('bit_depth', ''))}</td>"
                    f"<td>{esc(entry.get('alpha', ''))}</td></tr>")
    if not rows:
        return '<p class="empty">Not recorded.</p>'
    return ('<table><thead><tr><th></th><th>source</th><th class="num">size</th><th class="num">channels</th>'
            '<th>mode</th><th class="num">bits</th><th>alpha</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
