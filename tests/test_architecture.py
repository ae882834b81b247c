"""The layers of docs/architecture.md: the import-linter contracts hold, and no dfcore module grows past 500 lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import dfcore

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500


def test_the_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint is not None, "import-linter is in the test extras"
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


def test_no_dfcore_module_is_over_500_lines():
    long = {path.relative_to(ROOT).as_posix(): count for path in (ROOT / "dfcore").rglob("*.py")
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize(("old", "name", "new"), [
    ("dfcore.batch", "DirRun", "dfcore.runs"),
    ("dfcore.batch", "row_from_json", "dfcore.runs.summary:row_from_record"),
    ("dfcore.registry", "parse_stage_ref", "dfcore.plugin.spec"),
    ("dfcore.plugins", "one_line", "dfcore.errors"),
    ("dfcore.output", "colorize", "dfcore.io.render"),
    ("dfcore.ray_engine", "RayEngine", "dfcore.runs.engines.ray"),
    ("dfcore.compare", "CompareRun", "dfcore.runs"),
])
def test_the_old_import_paths_warn_and_resolve_where_the_names_moved(old, name, new):
    import importlib

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated: its names moved to .*dfind 0\.3"):
        module = importlib.import_module(old)
    target, _, new_name = new.partition(":")
    assert getattr(module, name) is getattr(importlib.import_module(target), new_name or name)
    with pytest.raises(AttributeError, match=rf"{old!r} has no attribute 'nothing_like_this'"):
        module.nothing_like_this  # noqa: B018


def test_the_public_names_did_not_move():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for name in dfcore.__all__:
            assert getattr(dfcore, name) is not None
    from dfcore.finder import Finder

    assert dfcore.Finder is Finder


def test_dfcore_pipeline_finder_is_an_alias_that_warns():
    from dfcore import pipeline

    with pytest.warns(DeprecationWarning, match=r"dfcore.pipeline.Finder moved to dfcore.finder.Finder"):
        assert pipeline.Finder is dfcore.Finder
