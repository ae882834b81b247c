"""docs/plugins.md and docs/custom-metrics.md stay true: every snippet is checked or run.

* A block whose first line names a file of the example package (``# examples/...``) must be
  an exact excerpt of that file, which the example's own tests and the pip test exercise.
* Blocks whose first line names a file of ``dfind_acme`` are assembled into that package,
  installed as a fake distribution, and run through a Finder.
* The Python blocks of docs/custom-metrics.md run in order, in one namespace; a ``text``
  block right after one is the output it must print.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import warnings
from pathlib import Path

import pytest

from dfcore import Finder, StageError
from dfcore.cli import main
from dfcore.plugin.loading import AUTOLOAD_ENV, TRACE_ENV, hook_names
from dfcore.plugin.registry import create_registry
from dfcore.testing import fake_distribution, fresh_registry, on_sys_path, planted_files, planted_pair, using_registry

ROOT = Path(__file__).resolve().parents[3]
PLUGINS_DOC = ROOT / "docs" / "plugins.md"
CUSTOM_DOC = ROOT / "docs" / "custom-metrics.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(path: Path) -> list[tuple[str, str]]:
    return FENCE.findall(path.read_text())


def tagged(path: Path, prefix: str) -> list[tuple[str, str]]:
    """``(file named on the first line, the rest)`` of each block whose first line is ``# <prefix>...``."""
    found = []
    for _, body in blocks(path):
        first, _, rest = body.partition("\n")
        if first.startswith(f"# {prefix}"):
            found.append((first[2:].strip(), rest))
    return found


def test_every_hookspec_has_a_section():
    text = PLUGINS_DOC.read_text()
    for name in hook_names():
        assert f"\n### `{name}`\n" in text, name


def test_example_excerpts_are_verbatim():
    excerpts = tagged(PLUGINS_DOC, "examples/")
    assert len(excerpts) >= 8
    for filename, excerpt in excerpts:
        assert excerpt.strip() in (ROOT / filename).read_text(), filename


def test_what_to_do_if_it_breaks_names_real_switches():
    text = PLUGINS_DOC.read_text()
    options = {opt for param in main.commands["diff"].params for opt in getattr(param, "opts", ())}
    for switch in ("--disable-plugin-autoload", "--debug", "--list-plugins"):
        assert switch in text and switch in options
    assert f"{AUTOLOAD_ENV}=1" in text and f"{TRACE_ENV}=1" in text
    assert "check-metric" in text and "check-metric" in main.commands


def test_the_acme_snippets_run(tmp_path):
    files: dict[str, str] = {"dfind_acme/__init__.py": ""}
    for filename, code in tagged(PLUGINS_DOC, "dfind_acme/"):
        files[filename] = files.get(filename, "") + code + "\n"
    assert set(files) == {"dfind_acme/__init__.py", "dfind_acme/plugin.py", "dfind_acme/stages.py"}
    fake_distribution(tmp_path, "dfind-acme", "1.0", {"acme": "dfind_acme.plugin"}, files)
    with on_sys_path(tmp_path, ["dfind_acme", "dfind_acme.plugin", "dfind_acme.stages"]):
        registry = create_registry(autoload=True)
        assert not [b for b in registry.broken if b.origin.plugin == "acme"]
        stages = {(s.kind, s.qualified_name) for s in registry.stages() if s.origin.plugin == "acme"}
        assert stages == {("strategy", "acme.local-map"), ("postprocessor", "acme.top-fraction")}
        top = registry.find("postprocessor", "top-fraction")
        assert inspect.signature(top.load()).parameters["fraction"].default == top.spec.params[0].default

        a, b, mask = planted_pair()
        for metric in ("mse", "ssim"):  # lower and higher is better: the map is oriented either way
            finder = Finder(metric=metric, strategy="local-map", postprocessor="top-fraction:fraction=0.02",
                            registry=registry, device="cpu")
            result = finder.run(a, b)
            inside, outside = result.map[mask.numpy()], result.map[~mask.numpy()]
            assert inside.mean() > outside.mean(), metric
            assert result.mask.mean() == pytest.approx(0.02, abs=0.002), metric  # the box is 3.9 % of the image
            ys, xs = result.mask.nonzero()  # inside the box (30, 40)-(50, 64), or SSIM's 5-px window halo
            assert ys.min() >= 25 and ys.max() < 55 and xs.min() >= 35 and xs.max() < 69, metric
        with pytest.raises(StageError, match="metric 'psnr' has no local_map; use the gradient strategy"):
            Finder(metric="psnr", strategy="local-map", registry=registry, device="cpu").run(a, b)


def test_the_custom_metrics_guide_runs_and_prints_what_it_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    planted_files(tmp_path)
    namespace: dict[str, object] = {"__name__": "guide"}
    found = blocks(CUSTOM_DOC)
    compared = 0
    with using_registry(fresh_registry()), warnings.catch_warnings():
        warnings.simplefilter("error")
        for index, (language, code) in enumerate(found):
            if language != "python":
                continue
            output = io.StringIO()
            with contextlib.redirect_stdout(output):
                exec(compile(code, f"{CUSTOM_DOC.name} block {index}", "exec"), namespace)
            if index + 1 < len(found) and found[index + 1][0] == "text":
                assert output.getvalue().strip() == found[index + 1][1].strip(), f"block {index}"
                compared += 1
    assert compared >= 5
