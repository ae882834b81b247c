"""docs/visual-regression.md tells the truth: its commands run as written, in order, on real
folders, and its GitHub Actions workflow compares with a valid dfind command and uploads the
report folder that command writes, whatever the gate said."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from dfcore.cli import EXIT_DIFFERENT, EXIT_OK
from tests.cli.test_batch_cli import dfind

ROOT = Path(__file__).resolve().parent.parent.parent
GUIDE = (ROOT / "docs" / "visual-regression.md").read_text()


@pytest.fixture(autouse=True)
def _registry():
    from dfcore.testing import fresh_registry, using_registry

    with using_registry(fresh_registry()):
        yield


def _block(language: str, index: int = 0) -> str:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE, flags=re.MULTILINE | re.DOTALL)[index]


def _screenshots(folder: Path, changed: bool) -> None:
    """Two small 'pages': flat colours and a text-like bar; with ``changed``, the bar has moved."""
    for seed, name in enumerate(("home.png", "login.png")):
        page = np.full((48, 64, 3), 240, np.uint8)
        page[8:14, 6:40] = (30, 30, 30)
        page[20:40, 6 + seed * 20:26 + seed * 20] = (40, 90, 200)
        if changed and name == "login.png":
            page[8:14, 6:40] = 240
            page[30:36, 10:60] = (30, 30, 30)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(page).save(folder / name)


def _run(line: str) -> object:
    words = shlex.split(line.split("#")[0])
    assert words[0] == "dfind"
    return dfind(*words[1:])


def test_the_workflow_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _screenshots(tmp_path / "refs", changed=False)
    _screenshots(tmp_path / "new", changed=True)
    lines = [line for line in _block("bash").splitlines() if line.strip()]
    assert len(lines) == 4
    gated = _run(lines[0])
    assert gated.exit_code == EXIT_DIFFERENT, gated.output  # login.png is beyond the gate
    assert (tmp_path / "dfind-out" / "index.html").is_file()
    dry = _run(lines[1])
    assert dry.exit_code == EXIT_OK and "would approve login.png" in dry.stdout, dry.output
    assert not (tmp_path / "dfind-out" / "approvals.json").exists()
    approved = _run(lines[2])
    assert approved.exit_code == EXIT_OK, approved.output
    assert (tmp_path / "refs" / "login.png").read_bytes() == (tmp_path / "new" / "login.png").read_bytes()
    assert (tmp_path / "dfind-out" / "approvals.json").is_file()
    passes = _run(lines[3])
    assert passes.exit_code == EXIT_OK, passes.output


def test_the_github_actions_example_uploads_the_report_it_writes(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = yaml.safe_load(_block("yaml"))
    steps = workflow["jobs"]["screenshots"]["steps"]
    (compare,) = [s for s in steps if str(s.get("run", "")).startswith("dfind ")]
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert steps.index(upload) > steps.index(compare)
    assert upload["if"] == "always()"  # a failing gate still uploads its report
    words = shlex.split(compare["run"])
    out = words[words.index("-o") + 1]
    assert upload["with"]["path"].rstrip("/") == out
    # the comparison step itself, on real folders where the workflow has them
    monkeypatch.chdir(tmp_path)
    refs, new = words[1], words[2]
    _screenshots(tmp_path / refs, changed=False)
    _screenshots(tmp_path / new, changed=True)
    result = dfind(*words[1:])
    assert result.exit_code == EXIT_DIFFERENT, result.output
    assert (tmp_path / out / "index.html").is_file()
    assert not list((tmp_path / out).rglob("*.map.npy"))  # --outputs heatmap,json


def test_the_python_example_approves_as_the_command_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from dfcore import Finder

    monkeypatch.chdir(tmp_path)
    _screenshots(tmp_path / "refs", changed=False)
    _screenshots(tmp_path / "new", changed=True)
    report = Finder(metric="mse", device="cpu").run_dirs("refs", "new").save("dfind-out", fail_above=0.001)
    assert report.to_dict()["fail_above"] == 0.001
    exec(compile(_block("python"), "docs/visual-regression.md", "exec"), {})  # noqa: S102 (the page's own example)
    assert capsys.readouterr().out.startswith("approved login.png ")
    assert (tmp_path / "refs" / "login.png").read_bytes() == (tmp_path / "new" / "login.png").read_bytes()


def test_the_window_recipe_is_the_default_with_windows_everywhere():
    from dfcore import Finder

    strategy, post = re.search(r'`-s "([^"]+)" -q "([^"]+)"`\s+is the default\'s map with windows everywhere',
                               GUIDE).groups()
    default, recipe = Finder(device="cpu").config, Finder(strategy=strategy, postprocessor=post, device="cpu").config
    assert default["strategy"]["params"]["window_glyphs"] > 0  # the default's windows: on glyphs only
    assert recipe["strategy"]["params"] == {**default["strategy"]["params"], "rendered_window": 3,
                                            "window_slack": 0.5, "window_fade": True, "window_glyphs": 0.0,
                                            "window_step": 1.0}
    assert recipe["postprocessor"] == default["postprocessor"]


def test_the_default_s_own_regions_it_quotes_are_the_default_s():
    """The page quotes the default's ``regions`` stage with ``frame=0`` (and the default's map with
    windows everywhere): each must be the default's, that knob aside, or the advice drifts."""
    from dfcore.testing import fresh_registry

    preset = fresh_registry().find_preset("default").stages["postprocessor"]
    quoted = re.findall(r'-q "(builtin\.regions:[^"]*)"', GUIDE)
    assert quoted
    for rule in quoted:
        assert re.sub(r"frame=[0-9.]+", "frame=0.05", rule) == preset
