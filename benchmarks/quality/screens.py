"""The ``screens`` tracks: web pages the benchmark writes, rendered by headless Chromium.

Every source is a page written here in HTML and CSS -- a dashboard, a form, an article
(``dev``); a data table, a shop listing, a settings page (``test``) -- with its words and
numbers drawn from the pair's seed, icons as inline SVG, and the DejaVu and Liberation fonts
Debian installs. They are the benchmark's own work, released with it (MIT). Each page is
800x600 CSS px, rendered by Chromium (``/usr/bin/chromium`` or ``$DFIND_CHROMIUM``) through
Playwright.

An edit is one of ``text`` (a word replaced by another of the same length), ``number`` (digits
changed), ``colour`` (a background, text or icon colour), ``icon`` (an SVG's shape swapped),
``border`` (a border added, removed or recoloured) and ``move`` (an element translated by 2 to
6 px, without reflow); five edits per page, on elements apart from each other.

A is the unedited page at device scale factor 1. In ``screens-pristine`` B is the edited page
under the same settings. In ``screens`` B is rendered as another machine's screenshot would
be, by variant: at device scale factor 2 or 1.5 and resampled back (area), with unhinted
text (``text-rendering: geometricPrecision``, ``-webkit-font-smoothing: antialiased``), or
both at 1.25. Chromium's ``--font-render-hinting``, ``--disable-lcd-text`` and
``--disable-font-subpixel-positioning`` switches were tried and change no pixel of a
headless screenshot (Chromium 156), so the settings differ through the scale factor and CSS.

Truth: the edited and unedited pages rendered under A's settings differ exactly there; in
``screens`` the same comparison under B's settings is added (union), so anti-aliased edges of
changed glyphs count in both rasterisations; nothing is dilated. Each edit's footprint is
its element's ``getBoundingClientRect()`` before and after the edit, grown by 2 px, with the
pixels the edit changes when applied alone (a word that reflows its neighbours takes them
along); the truth is split among the edits by nearest footprint
(:func:`benchmarks.quality.real.assign`).

Renders are cached as PNG files keyed by the SHA-256 of the page, the settings, the edits,
the scale, this module's render version and the browser executable (path, size, date), in
``$DFIND_QUALITY_CACHE/screens`` (default ``~/.cache/dfind-quality/screens``), so a scoring
run starts Chromium only for pages it has not seen.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.quality import real
from benchmarks.quality.pairs import Pair

WIDTH, HEIGHT = 800, 600
EDITS_PER_PAGE = 5
EDIT_KINDS = ("text", "number", "colour", "icon", "border", "move")
#: Bump when rendering changes, so cached renders of the old way are not reused.
RENDER_VERSION = 1
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--disable-extensions", "--hide-scrollbars"]


@dataclass(frozen=True)
class Setting:
    """How a page is rendered: the device scale factor (resampled back to 1) and extra CSS."""

    scale: float = 1.0
    css: str = ""


_UNHINTED = "*{text-rendering:geometricPrecision!important;-webkit-font-smoothing:antialiased!important}"
SETTINGS = {
    "reference": Setting(),
    "dsf2": Setting(2.0),
    "unhinted": Setting(1.0, _UNHINTED),
    "dsf1.5": Setting(1.5),
    "dsf1.25-unhinted": Setting(1.25, _UNHINTED),
}
#: B's settings in the degraded track, by variant (cycled).
B_SETTINGS = ("dsf2", "unhinted", "dsf1.5", "dsf1.25-unhinted")

# -- pages ---------------------------------------------------------------------------------------

WORDS = ("north", "south", "river", "stone", "cedar", "maple", "amber", "coral", "delta", "orbit", "pixel", "vapor",
         "lunar", "solar", "ridge", "grove", "harbor", "meadow", "summit", "canyon", "signal", "vector", "beacon",
         "falcon", "silver", "copper", "garden", "market", "office", "studio", "report", "budget", "growth", "travel")
NAMES = ("Ada Park", "Ben Ortiz", "Cleo Wang", "Dev Patel", "Eva Novak", "Finn Berg", "Gia Rossi", "Hugo Lima",
         "Iris Chen", "Jon Moss", "Kai Sato", "Lena Ruiz", "Milo Shah", "Nora Kim", "Omar Haddad", "Pia Lund")
COLOURS = ("#2f6fdb", "#1f9d55", "#d9822b", "#c0392b", "#8e44ad", "#16a085", "#34495e", "#e84393", "#0984e3",
           "#6c5ce7", "#00b894", "#fdcb6e")
ICONS = {
    "check": '<path d="M4 12l5 5L20 6" fill="none" stroke="currentColor" stroke-width="2.5"/>',
    "cross": '<path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="2.5"/>',
    "star": '<path d="M12 2l3 7h7l-5.5 4.5 2 7.5-6.5-4.5L5.5 21l2-7.5L2 9h7z" fill="currentColor"/>',
    "bell": '<path d="M6 17V11a6 6 0 0112 0v6l2 2H4zM10 21h4" fill="currentColor"/>',
    "user": '<circle cx="12" cy="8" r="4" fill="currentColor"/><path d="M4 21a8 8 0 0116 0z" fill="currentColor"/>',
    "up": '<path d="M12 4l7 9h-4v7H9v-7H5z" fill="currentColor"/>',
    "down": '<path d="M12 20l7-9h-4V4H9v7H5z" fill="currentColor"/>',
    "gear": '<circle cx="12" cy="12" r="7" fill="none" stroke="currentColor" stroke-width="4" stroke-dasharray="3 2.5"/>'
            '<circle cx="12" cy="12" r="2.5" fill="currentColor"/>',
    "home": '<path d="M3 11l9-8 9 8v10h-6v-6H9v6H3z" fill="currentColor"/>',
    "mail": '<rect x="3" y="5" width="18" height="14" rx="2" fill="none" stroke="currentColor" stroke-width="2"/>'
            '<path d="M3 7l9 6 9-6" fill="none" stroke="currentColor" stroke-width="2"/>',
}
BASE_CSS = """
*{box-sizing:border-box} html,body{margin:0;width:800px;height:600px;overflow:hidden}
body{font:14px/1.4 'DejaVu Sans',sans-serif;color:#222;background:#f4f5f7}
.nav{display:flex;align-items:center;gap:18px;height:48px;padding:0 16px;background:#1e2a3a;color:#e8edf3}
.nav b{font-size:16px;margin-right:20px} .nav span{white-space:nowrap}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 12px}
.row{display:flex;gap:12px} .muted{color:#6b7280;font-size:12px} .big{font-size:24px;font-weight:bold}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;white-space:nowrap}
svg.i{width:20px;height:20px;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{padding:4px 8px;border-bottom:1px solid #e5e7eb;
text-align:left;white-space:nowrap} th{background:#eef1f5}
.btn{display:inline-block;padding:6px 14px;border-radius:5px;background:#2f6fdb;color:#fff;white-space:nowrap}
input,.input{display:inline-block;width:230px;height:28px;border:1px solid #c5cad3;border-radius:4px;padding:4px 8px;
font:13px 'DejaVu Sans',sans-serif;background:#fff;white-space:nowrap}
h1,h2,h3{margin:0 0 6px 0;font-family:'Liberation Serif',serif}
"""


class _Page:
    """Builds a page's HTML; ``el`` marks an element as editable (an id and the edits it allows)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.count = 0

    def el(self, tag: str, content: str, kinds: str, style: str = "", cls: str = "") -> str:
        self.count += 1
        attrs = f' id="e{self.count}" data-edit="{kinds}"'
        attrs += f' class="{cls}"' if cls else ""
        attrs += f' style="{style}"' if style else ""
        return f"<{tag}{attrs}>{content}</{tag}>"

    def icon(self, name: str | None = None, colour: str | None = None) -> str:
        name = name or str(self.rng.choice(list(ICONS)))
        colour = colour or self.colour()
        return self.el("svg", ICONS[name], "icon,colour,move", f"color:{colour}", "i").replace(
            "<svg", '<svg viewBox="0 0 24 24"', 1)

    def word(self) -> str:
        return str(self.rng.choice(WORDS))

    def name(self) -> str:
        return str(self.rng.choice(NAMES))

    def colour(self) -> str:
        return str(self.rng.choice(COLOURS))

    def number(self, low: float, high: float, decimals: int = 0) -> str:
        value = self.rng.uniform(low, high)
        return f"{value:,.{decimals}f}"

    def title(self, n: int = 2) -> str:
        return " ".join(self.word().capitalize() for _ in range(n))

    def sentence(self, n: int = 9) -> str:
        words = [self.word() for _ in range(n)]
        return " ".join(words).capitalize() + "."


def _nav(p: _Page, items: int = 5) -> str:
    links = "".join(p.el("span", p.word().capitalize(), "text,colour,move") for _ in range(items))
    return f'<div class="nav">{p.icon("home", "#e8edf3")}<b>{p.title()}</b>{links}<span style="flex:1"></span>' \
           f'{p.icon("bell", "#e8edf3")}{p.icon("user", "#e8edf3")}</div>'


def page_dashboard(p: _Page) -> str:
    cards = "".join(
        f'<div class="card" style="flex:1">{p.el("div", p.word().capitalize(), "text", cls="muted")}'
        f'{p.el("div", p.number(100, 99999), "number,colour", cls="big")}'
        f'{p.icon(str(p.rng.choice(["up", "down"])))}{p.el("span", p.number(0.5, 25, 1) + "%", "number,colour")}</div>'
        for _ in range(4))
    bars = "".join(p.el("div", "", "colour,border,move",
                        f"width:26px;height:{int(p.rng.integers(30, 150))}px;background:{p.colour()};"
                        "align-self:flex-end;border-radius:3px 3px 0 0") for _ in range(12))
    rows = "".join(f"<tr><td>{p.el('span', '#' + p.number(1000, 9999), 'number')}</td><td>{p.name()}</td>"
                   f"<td>{p.el('span', '$' + p.number(10, 999, 2), 'number')}</td>"
                   f"<td>{p.el('span', p.word(), 'text,colour,border', f'background:{p.colour()}', 'pill')}</td></tr>"
                   for _ in range(6))
    return (f'{_nav(p)}<div style="padding:14px;display:flex;flex-direction:column;gap:12px">'
            f'<div class="row">{cards}</div><div class="row">'
            f'<div class="card" style="flex:1.2;height:230px"><h3>{p.title()}</h3>'
            f'<div style="display:flex;gap:6px;height:170px;align-items:flex-end">{bars}</div></div>'
            f'<div class="card" style="flex:1"><h3>{p.title()}</h3><table><tr><th>Order</th><th>Client</th>'
            f'<th>Total</th><th>State</th></tr>{rows}</table></div></div></div>')


def page_form(p: _Page) -> str:
    fields = "".join(
        f'<div style="margin:8px 0">{p.el("div", p.title(), "text")}'
        f'{p.el("div", p.name() if i % 2 else p.word() + "@" + p.word() + ".org", "text,border", cls="input")}'
        f'{p.el("div", p.sentence(5), "text", cls="muted")}</div>' for i in range(4))
    checks = "".join(f'<div style="margin:4px 0">{p.icon(str(p.rng.choice(["check", "cross"])))} '
                     f'{p.el("span", p.sentence(4), "text,colour")}</div>' for _ in range(4))
    return (f'{_nav(p, 4)}<div style="display:flex;gap:16px;padding:16px"><div class="card" style="width:430px">'
            f'<h2>{p.title(3)}</h2>{fields}<div style="margin-top:10px">'
            f'{p.el("span", "Save " + p.word(), "text,colour,border,move", cls="btn")} '
            f'{p.el("span", "Cancel", "colour,border,move", "background:#e5e7eb;color:#222", "btn")}</div></div>'
            f'<div style="flex:1;display:flex;flex-direction:column;gap:12px">'
            f'<div class="card" style="border-left:4px solid {p.colour()}">{p.icon("bell")} '
            f'{p.el("b", p.title(), "text,colour")}<p class="muted">{p.sentence(12)}</p></div>'
            f'<div class="card"><h3>{p.title()}</h3>{checks}</div>'
            f'<div class="card"><h3>{p.title()}</h3>'
            f'{p.el("div", "", "colour,border,move", f"width:{int(p.rng.integers(80, 280))}px;height:10px;border-radius:5px;background:{p.colour()}")}'
            f'<p class="muted">{p.el("span", p.number(1, 99) + " of 100", "number")} {p.sentence(4)}</p></div>'
            f'</div></div>')


def page_article(p: _Page) -> str:
    paragraphs = "".join(f'<p>{p.sentence(14)} {p.el("span", p.sentence(6), "text,colour")} {p.sentence(10)}</p>'
                         for _ in range(3))
    shapes = "".join(p.el("circle" if i % 2 else "rect", "", "colour,move",
                          f"fill:{p.colour()}") .replace(
        ">", f' {"cx" if i % 2 else "x"}="{30 + 55 * i}" {"cy" if i % 2 else "y"}="{40 + 20 * (i % 3)}" '
             f'{"r=18" if i % 2 else "width=34 height=34"}>', 1) for i in range(6))
    tags = " ".join(p.el("span", p.word(), "text,colour,border", f"background:{p.colour()}", "pill") for _ in range(8))
    return (f'{_nav(p)}<div style="display:flex;gap:18px;padding:16px 24px">'
            f'<div style="width:520px;font-family:\'Liberation Serif\',serif;font-size:15px">'
            f'<h1>{p.el("span", p.title(3), "text,colour")}</h1>'
            f'<div class="muted">{p.el("span", p.name(), "text")} · {p.el("span", p.number(1, 28) + " May 20" + p.number(10, 29), "number")}'
            f' · {p.el("span", p.number(2, 15) + " min read", "number")}</div>{paragraphs}'
            f'<svg width="360" height="100" style="background:#fff;border:1px solid #ddd">{shapes}</svg></div>'
            f'<div style="flex:1"><div class="card"><h3>{p.title()}</h3>{tags}</div>'
            f'<div class="card" style="margin-top:12px">{p.icon("mail")} {p.el("b", p.title(), "text,colour")}'
            f'<p class="muted">{p.sentence(9)}</p>{p.el("span", "Subscribe", "colour,border,move", cls="btn")}</div></div></div>')


def page_table(p: _Page) -> str:
    head = "".join(f"<th>{p.word().capitalize()}</th>" for _ in range(6))
    rows = "".join(
        f"<tr><td>{p.el('span', p.number(100000, 999999), 'number')}</td><td>{p.el('span', p.name(), 'text')}</td>"
        f"<td>{p.el('span', p.word(), 'text,colour')}</td><td>{p.el('span', p.number(1, 500), 'number')}</td>"
        f"<td>{p.el('span', p.number(1, 9999, 2), 'number,colour')}</td>"
        f"<td>{p.icon(str(p.rng.choice(['check', 'cross', 'star'])))}</td></tr>" for _ in range(14))
    pages = " ".join(p.el("span", str(i), "number,colour,border", "padding:2px 7px;border:1px solid #ccd",
                          "") for i in range(1, 8))
    return (f'{_nav(p, 6)}<div style="padding:14px"><div class="card"><h2>{p.title(2)} '
            f'{p.el("span", p.number(10, 99) + " rows", "number,colour", f"background:{p.colour()}", "pill")}</h2>'
            f'<table><tr>{head}</tr>{rows}</table><div style="margin-top:8px;text-align:right">{pages}</div></div></div>')


def page_shop(p: _Page) -> str:
    def product() -> str:
        stars = "".join(p.icon("star", "#f5b301") for _ in range(int(p.rng.integers(3, 6))))
        picture = p.el("div", "", "colour,border,move",
                       f"height:90px;border-radius:4px;background:linear-gradient(135deg,{p.colour()},{p.colour()})")
        return (f'<div class="card" style="width:180px">{picture}'
                f'{p.el("div", p.title(), "text,colour", "margin-top:6px;font-weight:bold")}'
                f'<div>{stars}</div>{p.el("div", "$" + p.number(5, 400, 2), "number,colour", "font-size:18px")}'
                f'{p.el("span", "Add to cart", "colour,border,move", "font-size:12px;padding:3px 10px", "btn")}</div>')

    grid = "".join(product() for _ in range(8))
    return (f'{_nav(p, 6)}<div style="padding:12px 16px"><div class="muted">'
            f'{p.el("span", p.number(20, 500) + " results", "number")} for {p.el("b", p.word(), "text,colour")}</div>'
            f'<div style="display:flex;flex-wrap:wrap;gap:10px;margin-top:8px">{grid}</div></div>')


def page_settings(p: _Page) -> str:
    menu = "".join(f'<div style="padding:7px 10px">{p.icon()} {p.el("span", p.word().capitalize(), "text,colour")}</div>'
                   for _ in range(8))

    def toggle() -> str:
        on = bool(p.rng.integers(0, 2))
        knob = f"width:18px;height:18px;border-radius:9px;background:#fff;margin:2px;margin-left:{20 if on else 2}px"
        return p.el("div", f'<div style="{knob}"></div>', "colour,border,move",
                    f"width:40px;height:22px;border-radius:11px;background:{'#1f9d55' if on else '#c5cad3'}")

    rows = "".join(f'<div style="display:flex;align-items:center;padding:9px 0;border-bottom:1px solid #eee">'
                   f'<div style="flex:1">{p.el("div", p.title(), "text")}{p.el("div", p.sentence(6), "text", cls="muted")}'
                   f'</div>{toggle()}</div>' for _ in range(6))
    slider = p.el("div", "", "colour,move", f"width:{int(p.rng.integers(40, 300))}px;height:6px;background:{p.colour()}")
    return (f'{_nav(p, 3)}<div style="display:flex"><div style="width:190px;height:552px;background:#e9ecf1">{menu}</div>'
            f'<div style="flex:1;padding:16px"><div class="card"><h2>{p.title(2)}</h2>{rows}'
            f'<div style="margin-top:12px">{p.el("span", p.title(), "text")} '
            f'{p.el("span", p.number(0, 100) + "%", "number,colour")}</div>'
            f'<div style="height:6px;width:320px;background:#e5e7eb">{slider}</div></div></div></div>')


PAGES: dict[str, Callable[[_Page], str]] = {
    "dashboard": page_dashboard, "form": page_form, "article": page_article,
    "table": page_table, "shop": page_shop, "settings": page_settings,
}
SOURCES = {s.name: s for s in (
    real.Source("dashboard", "dev", "generated by the benchmark (MIT)"),
    real.Source("form", "dev", "generated by the benchmark (MIT)"),
    real.Source("article", "dev", "generated by the benchmark (MIT)"),
    real.Source("table", "test", "generated by the benchmark (MIT)"),
    real.Source("shop", "test", "generated by the benchmark (MIT)"),
    real.Source("settings", "test", "generated by the benchmark (MIT)"),
)}


def page_html(source: str, rng: np.random.Generator) -> str:
    body = PAGES[source](_Page(rng))
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{BASE_CSS}</style></head><body>{body}</body></html>"


# -- the browser and the cache ---------------------------------------------------------------------

APPLY_EDITS = """ops => {
  for (const op of ops) {
    const el = document.getElementById(op.id);
    if (op.kind === 'text' || op.kind === 'number') el.textContent = op.value;
    else if (op.kind === 'colour') el.style.setProperty(op.property, op.value);
    else if (op.kind === 'icon') el.innerHTML = op.value;
    else if (op.kind === 'border') el.style.setProperty('outline', op.value);
    else if (op.kind === 'move') el.style.setProperty('transform', `translate(${op.value[0]}px, ${op.value[1]}px)`);
  }
}"""
CANDIDATES = """() => [...document.querySelectorAll('[data-edit]')].map(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return {id: e.id, kinds: e.dataset.edit.split(','), rect: [r.left, r.top, r.right, r.bottom],
          text: e.textContent, colour: s.color, background: s.backgroundColor, tag: e.tagName.toLowerCase()};
})"""
RECTS = "ids => ids.map(id => { const r = document.getElementById(id).getBoundingClientRect(); " \
        "return [r.left, r.top, r.right, r.bottom]; })"


def chromium_executable() -> str:
    given = os.environ.get("DFIND_CHROMIUM")
    for candidate in ([given] if given else []) + [shutil.which(n) or "" for n in ("chromium", "chromium-browser")]:
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError("the screens tracks need Chromium: apt-get install chromium, or set DFIND_CHROMIUM")


def cache_dir() -> Path:
    root = os.environ.get("DFIND_QUALITY_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "dfind-quality") / "screens"


class Renderer:
    """Renders pages in one headless Chromium, started on first use; renders are cached on disk."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache
        self._playwright: Any = None
        self._browser: Any = None
        self._pages: dict[float, Any] = {}
        self.renders = 0  # pages rendered by Chromium, not read from the cache

    def _identity(self) -> str:
        path = chromium_executable()
        stat = Path(path).stat()
        return f"{path}:{stat.st_size}:{int(stat.st_mtime)}"

    def browser(self) -> Any:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        return self._browser

    def _page(self, device_scale: float) -> Any:
        """A page at ``device_scale``, kept for the next render at that scale (its content is replaced)."""
        if device_scale not in self._pages:
            context = self.browser().new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                                 device_scale_factor=device_scale)
            self._pages[device_scale] = context.new_page()
        return self._pages[device_scale]

    def close(self) -> None:
        self._pages.clear()
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()
            self._browser = self._playwright = None

    def query(self, html: str, script: str, device_scale: float = 1.0) -> Any:
        """The result of ``script`` on the page (cached like a render)."""
        return self._cached({"html": html, "query": script}, lambda page: (None, page.evaluate(script)),
                            device_scale)[1]

    def render(self, html: str, setting: Setting, scale: float, ops: list[dict[str, Any]],
               ids: list[str]) -> tuple[np.ndarray, list[list[float]]]:
        """The page with ``ops`` applied, at ``scale`` x the setting's scale, resampled to ``scale``;
        and the CSS-px rects of the elements ``ids``."""

        def draw(page: Any) -> tuple[bytes, Any]:
            if setting.css:
                page.add_style_tag(content=setting.css)
            page.evaluate(APPLY_EDITS, ops)
            return page.screenshot(type="png"), page.evaluate(RECTS, ids)

        key = {"html": html, "setting": [setting.scale, setting.css], "scale": scale, "ops": ops, "ids": ids}
        png, rects = self._cached(key, draw, setting.scale * scale)
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        size = (round(WIDTH * scale), round(HEIGHT * scale))
        return real.area_resize(image, size), rects

    def _cached(self, key: dict[str, Any], draw: Callable[[Any], tuple[bytes | None, Any]],
                device_scale: float = 1.0) -> tuple[bytes | None, Any]:
        text = json.dumps({**key, "version": RENDER_VERSION, "browser": self._identity(), "dsf": device_scale},
                          sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        folder = self.cache if self.cache is not None else cache_dir()
        png_file, json_file = folder / f"{digest}.png", folder / f"{digest}.json"
        if json_file.is_file():
            data = json.loads(json_file.read_text())
            return (png_file.read_bytes() if data["png"] else None), data["value"]
        page = self._page(device_scale)
        page.set_content(key["html"], wait_until="load")
        png, value = draw(page)
        self.renders += 1
        folder.mkdir(parents=True, exist_ok=True)
        if png is not None:
            png_file.write_bytes(png)
        json_file.write_text(json.dumps({"png": png is not None, "value": value}))
        return png, value


_RENDERER: Renderer | None = None


def renderer() -> Renderer:
    """The process's renderer (closed at exit)."""
    global _RENDERER
    if _RENDERER is None:
        _RENDERER = Renderer()
        atexit.register(_RENDERER.close)
    return _RENDERER


# -- edits -------------------------------------------------------------------------------------------


def _same_length_word(old: str, rng: np.random.Generator) -> str:
    """Another word of the same length as the last word of ``old`` (the rest kept)."""
    head, _, last = old.rpartition(" ")
    options = [w for w in WORDS if len(w) == len(last) and w != last.lower()]
    new = str(rng.choice(options)) if options else last[::-1]
    if last[:1].isupper():
        new = new.capitalize()
    if new == last:
        new = last[:-1] + ("x" if last[-1] != "x" else "y")
    return f"{head} {new}" if head else new


def _other_digits(old: str, rng: np.random.Generator) -> str:
    """``old`` with one or two of its digits changed."""
    chars = list(old)
    digits = [i for i, c in enumerate(chars) if c.isdigit()]
    for i in rng.choice(digits, size=min(len(digits), int(rng.integers(1, 3))), replace=False):
        chars[i] = str((int(chars[i]) + int(rng.integers(1, 10))) % 10)
    return "".join(chars)


def plan_edits(candidates: list[dict[str, Any]], rng: np.random.Generator, count: int = EDITS_PER_PAGE,
               apart: float = 8.0) -> list[dict[str, Any]]:
    """Choose ``count`` candidate elements, apart from each other, and an edit for each."""
    order = rng.permutation(len(candidates))
    taken: list[list[float]] = []
    ops: list[dict[str, Any]] = []
    used_kinds: list[str] = []
    for index in order:
        c = candidates[int(index)]
        x0, y0, x1, y1 = c["rect"]
        if x1 - x0 < 2 or y1 - y0 < 2 or x0 < 0 or y0 < 0 or x1 > WIDTH or y1 > HEIGHT:
            continue
        if any(x0 - apart < t[2] and t[0] < x1 + apart and y0 - apart < t[3] and t[1] < y1 + apart for t in taken):
            continue
        kinds = [k for k in c["kinds"] if k in EDIT_KINDS]
        fresh = [k for k in kinds if k not in used_kinds] or kinds
        kind = str(rng.choice(fresh))
        op: dict[str, Any] = {"id": c["id"], "kind": kind}
        if kind == "text":
            op["value"] = _same_length_word(c["text"], rng)
        elif kind == "number":
            op["value"] = _other_digits(c["text"], rng)
        elif kind == "colour":
            is_svg = c["tag"] in ("svg", "circle", "rect")
            transparent = c["background"] in ("rgba(0, 0, 0, 0)", "transparent")
            op["property"] = "fill" if c["tag"] in ("circle", "rect") else \
                "color" if is_svg or transparent else "background-color"
            op["value"] = str(rng.choice(COLOURS))
        elif kind == "icon":
            op["value"] = ICONS[str(rng.choice(list(ICONS)))]
        elif kind == "border":
            op["value"] = f"{int(rng.integers(1, 3))}px solid {rng.choice(COLOURS)}"
        elif kind == "move":
            step = [int(rng.integers(2, 7)) * int(rng.choice([-1, 1])) for _ in range(2)]
            op["value"] = [step[0], 0] if rng.random() < 0.3 else [0, step[1]] if rng.random() < 0.4 else step
        ops.append(op)
        used_kinds.append(kind)
        taken.append(c["rect"])
        if len(ops) == count:
            break
    return ops


def _footprints(ops: list[dict[str, Any]], rects: list[list[list[float]]], alone: list[np.ndarray], scale: float,
                grow: float = 2.0) -> list[tuple[str, np.ndarray]]:
    """Each edit's footprint: its element's rects (before, after), grown, and what it changes alone."""
    out = []
    for index, op in enumerate(ops):
        mask = alone[index].copy()
        for rect_set in rects:
            x0, y0, x1, y1 = (v * scale for v in rect_set[index])
            mask[max(0, int(np.floor(y0 - grow))):int(np.ceil(y1 + grow)),
                 max(0, int(np.floor(x0 - grow))):int(np.ceil(x1 + grow))] = True
        out.append((op["kind"], mask))
    return out


def _planned(source: str, variant: int, seed: int, max_side: int) -> tuple[str, float, Callable[[Renderer], list[dict[str, Any]]]]:
    """Page ``source``'s HTML for ``variant``, its device scale for ``max_side``, and how its edits are planned
    (with a renderer, which measures the candidates)."""
    key = list(SOURCES).index(source)
    html = page_html(source, real.rng(seed, 101, key, variant))
    scale = min(1.0, max_side / max(WIDTH, HEIGHT))

    def plan(render: Renderer) -> list[dict[str, Any]]:
        return plan_edits(render.query(html, CANDIDATES, scale), real.rng(seed, 102, key, variant))

    return html, scale, plan


def unchanged_pair(source: str, variant: int, seed: int = 0, max_side: int = 1000,
                   render: Renderer | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """A and B of :func:`make_pair`'s degraded pair ``variant`` without its edits: the same page
    drawn again under B's setting, nothing changed; and that setting's name."""
    render = render or renderer()
    html, scale, plan = _planned(source, variant, seed, max_side)
    ids = [op["id"] for op in plan(render)]
    name = B_SETTINGS[variant % len(B_SETTINGS)]
    return (render.render(html, SETTINGS["reference"], scale, [], ids)[0],
            render.render(html, SETTINGS[name], scale, [], ids)[0], name)


def make_pair(source: str, variant: int, degraded: bool, seed: int = 0, max_side: int = 1000,
              render: Renderer | None = None) -> Pair:
    """The pair ``variant`` of page ``source``; B under another setting when ``degraded``.

    ``max_side`` below 800 renders the same 800x600 CSS-px page at a smaller device scale.
    """
    render = render or renderer()
    html, scale, plan = _planned(source, variant, seed, max_side)
    ops = plan(render)
    ids = [op["id"] for op in ops]
    reference = SETTINGS["reference"]
    a, rects_a = render.render(html, reference, scale, [], ids)
    edited, rects_b = render.render(html, reference, scale, ops, ids)
    truth = real.changed(a, edited)
    b, name = edited, "reference"
    if degraded:
        name = B_SETTINGS[variant % len(B_SETTINGS)]
        plain, _ = render.render(html, SETTINGS[name], scale, [], ids)
        b, _ = render.render(html, SETTINGS[name], scale, ops, ids)
        truth |= real.changed(plain, b)
    # What each edit changes on its own, so a text that reflows its neighbours keeps them.
    alone = [real.changed(a, render.render(html, reference, scale, [op], ids)[0]) for op in ops]
    edits = real.assign(truth, _footprints(ops, [rects_a, rects_b], alone, scale))
    track = "screens" if degraded else "screens-pristine"
    info = {"b_setting": name, "edits": [{k: v for k, v in op.items() if k != "value" or op["kind"] != "icon"}
                                         for op in ops]}
    return Pair(f"{source}-{variant}-{track}", source, track, variant, a, b, truth, edits, info)
