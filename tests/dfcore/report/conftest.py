"""Fixtures for the report tests: a pair of images with planted changes, a result with
regions, and a headless Chromium driven by Playwright.

Browser tests skip when Chromium or Playwright is missing, unless ``DFIND_REQUIRE_BROWSER``
is set (CI sets it, so there a missing browser fails). ``DFIND_CHROMIUM`` names the browser
executable; ``DFIND_TEST_ARTIFACTS`` names a folder that receives the screenshots.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM_ENV = "DFIND_CHROMIUM"
REQUIRE_ENV = "DFIND_REQUIRE_BROWSER"
ARTIFACTS_ENV = "DFIND_TEST_ARTIFACTS"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--disable-extensions"]
BOXES = ((30, 40, 62, 90), (120, 150, 140, 204))  # (y0, x0, y1, x1), as planted_pair takes them


def save_png(path: Path, tensor: Any) -> Path:
    from PIL import Image

    array = (tensor[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture(scope="session")
def pair_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``a.png`` and ``b.png``, 256x192 RGB, B brightened inside :data:`BOXES`."""
    from dfcore.testing import planted_pair

    folder = tmp_path_factory.mktemp("pair")
    a, b, _ = planted_pair(192, 256, boxes=BOXES)
    return save_png(folder / "a.png", a), save_png(folder / "b.png", b)


def threshold_regions(map2d: np.ndarray, fraction: float = 0.5) -> tuple[np.ndarray, list[Any]]:
    """The mask above ``fraction`` of the map's maximum and its connected regions, strongest first."""
    from scipy import ndimage

    from dfcore.contracts import Region

    mask = map2d > fraction * float(map2d.max())
    labels, _ = ndimage.label(mask)
    regions = []
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        ys, xs = found
        inside = labels[found] == index
        values = map2d[found][inside]
        cy, cx = ndimage.center_of_mass(labels == index)
        regions.append(Region((xs.start, ys.start, xs.stop, ys.stop), int(inside.sum()), float(values.max()),
                              float(values.mean()), (float(cx), float(cy))))
    return mask, sorted(regions, key=lambda r: -r.peak)


@pytest.fixture(scope="session")
def result_with_regions(pair_files: tuple[Path, Path]) -> Any:
    """``mse`` + ``difference`` on :func:`pair_files`, with the mask and regions of a threshold."""
    from dfcore import Finder
    from dfcore.testing import fresh_registry

    finder = Finder(metric="mse", strategy="difference", device="cpu", registry=fresh_registry())
    result = finder.run(*pair_files)
    mask, regions = threshold_regions(result.map)
    return dataclasses.replace(result, mask=mask, regions=regions)


# -- the browser -----------------------------------------------------------------------------


def chromium_executable() -> str | None:
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given if Path(given).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (Debian's ``chromium`` package; Playwright never downloads one).

    Module-scoped: Playwright's sync API runs one instance per thread, so a browser kept for the
    whole session made the quality benchmark's screen tests fail whenever they ran after these.
    """
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright is not installed (python -m pip install -e '.[test]')"
    executable = chromium_executable()
    if reason is None and executable is None:
        given = os.environ.get(CHROMIUM_ENV)
        reason = (f"{CHROMIUM_ENV}={given} is not a file" if given
                  else f"no Chromium found (apt-get install chromium, or set {CHROMIUM_ENV})")
    if reason is not None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so browser tests must run")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclasses.dataclass
class Visit:
    """A page opened in the browser, with what it logged and every URL it requested."""

    page: Any
    errors: list[str]
    requests: list[str]

    def assert_clean(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        remote = [u for u in self.requests if not u.startswith(("file://", "data:", "blob:", "about:"))]
        assert remote == [], f"requests other than file://, data: and blob:: {remote}"

    def undecoded_images(self) -> list[str]:
        """The ``<img>`` elements that have not decoded (naturalWidth 0), after they all settle."""
        # Polled from here: wait_for_function evaluates its predicate with eval(), which the
        # report's Content-Security-Policy forbids (the page must keep that policy).
        deadline = time.monotonic() + 30
        while not self.page.evaluate("[...document.images].every(i => i.complete)"):
            assert time.monotonic() < deadline, "images still loading after 30 s"
            self.page.wait_for_timeout(50)
        return self.page.evaluate("[...document.images].filter(i => !(i.naturalWidth > 0))"
                                  ".map(i => i.className + ' ' + i.src.slice(0, 80))")

    def screenshot(self, folder: Path, name: str) -> Path:
        """Keep a screenshot under ``folder`` and, when DFIND_TEST_ARTIFACTS is set, there too."""
        path = folder / name
        self.page.screenshot(path=str(path), full_page=True)
        target = os.environ.get(ARTIFACTS_ENV)
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, Path(target) / name)
        return path


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    """``visit(path_or_url)`` opens a page in a fresh context and records errors and requests."""
    contexts = []

    def open_page(target: Path | str, width: int = 1400, height: int = 1000) -> Visit:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        url = Path(target).resolve().as_uri() if isinstance(target, Path) else target
        page.goto(url, wait_until="load")
        return Visit(page, errors, requests)

    yield open_page
    for context in contexts:
        context.close()
