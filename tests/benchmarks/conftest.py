"""The benchmark code lives in ``benchmarks/`` at the repository root, outside the package.

``screens_renderer`` starts one headless Chromium for a module's screen pages.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def screens_renderer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module's screen pages, rendering into a fresh cache; also the
    process's renderer while the module runs.

    Module-scoped: Playwright's sync API runs one instance per thread, so it stops before other
    browser tests (the report's) start their own. Skips when Playwright or Chromium is missing,
    unless ``DFIND_REQUIRE_BROWSER`` is set (CI).
    """
    from benchmarks.quality import screens

    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (python -m pip install -e '.[test]')"
    if reason is None:
        try:
            screens.chromium_executable()
        except RuntimeError as exc:
            reason = str(exc)
    if reason is not None:
        if os.environ.get("DFIND_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}; DFIND_REQUIRE_BROWSER is set, so browser tests must run")
        pytest.skip(reason)
    renderer = screens.Renderer(cache=tmp_path_factory.mktemp("screens-cache"))
    before, screens._RENDERER = screens._RENDERER, renderer
    try:
        yield renderer
    finally:
        renderer.close()
        screens._RENDERER = before
