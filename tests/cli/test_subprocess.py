"""The ``dfind`` command in real processes: a run, a failure's exit code, and a lean --list-plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dfcore.testing import planted_pair, save_image

#: What --list-plugins must never import: torch and every stage's heavy dependency.
HEAVY = {"torch", "torchvision", "pytorch_msssim", "lpips", "pywt", "cv2", "numpy", "matplotlib", "PIL",
         "scipy", "skimage"}
LAUNCH = "import sys; from dfcore.cli import main; sys.argv[0] = 'dfind'; main()"


def dfind_command() -> list[str]:
    """The installed console script when there is one (as users run it), else its entry point."""
    script = Path(sys.executable).with_name("dfind")
    return [str(script)] if script.is_file() else [sys.executable, "-c", LAUNCH]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    env.pop("DFIND_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run([*args], capture_output=True, text=True, timeout=300, env=env, check=False, **kwargs)


@pytest.fixture
def images(tmp_path):
    a, b, _ = planted_pair(32, 48, boxes=((8, 20, 18, 34),))
    return save_image(tmp_path / "a.png", a), save_image(tmp_path / "b.png", b)


def test_real_run_writes_outputs(images, tmp_path):
    a, b = images
    out = tmp_path / "out"
    done = run([*dfind_command(), str(a), str(b), "-o", str(out)])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("b.png: mse = ")
    assert sorted(p.name for p in out.iterdir()) == ["b.heatmap.png", "b.json", "b.map.npy", "b.mask.png"]
    assert json.loads((out / "b.json").read_text())["metric"] == "mse"


def test_debug_prints_the_traceback_and_still_exits_2(images, tmp_path):
    a, _ = images
    missing = str(tmp_path / "nope.png")
    debug = run([*dfind_command(), str(a), missing, "--debug"])
    assert debug.returncode == 2
    assert debug.stderr.startswith("Traceback (most recent call last)")
    assert debug.stderr.endswith(f"dfind: error: {missing}: no such file\n")


def imports_of(args, tmp_path) -> tuple[subprocess.CompletedProcess, list[str], list[str]]:
    """Run dfind with ``args``; its result, the modules ``-X importtime`` timed, and every module loaded at exit.

    ``-X importtime`` reports imports made by import statements; modules loaded another way
    (importlib.import_module) are caught by the sys.modules dump at exit.
    """
    modules_file = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys; "
        f"atexit.register(lambda: open({str(modules_file)!r}, 'w').write(json.dumps(sorted(sys.modules)))); "
        + LAUNCH
    )
    done = run([sys.executable, "-X", "importtime", "-c", code, *map(str, args)])
    timed = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "dfcore.plugin.registry" in timed, "importtime output was read"
    return done, timed, json.loads(modules_file.read_text())


def test_list_plugins_imports_no_heavy_module(tmp_path):
    done, timed, loaded = imports_of(["--list-plugins"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "builtin" in done.stdout and "ssim" in done.stdout
    assert "dfplugins_builtin.plugin" in loaded
    for name in (*timed, *loaded):
        assert name.split(".")[0] not in HEAVY, f"--list-plugins imported {name}"
    stage_modules = [m for m in loaded if m.startswith(("dfplugins_builtin.", "dfplugins_extra.")) and
                     not m.endswith(".plugin")]
    assert stage_modules == [], "only the plugin declaration modules are imported"
    assert "dfcore.pipeline" not in loaded and "dfcore.images" not in loaded


@pytest.mark.parametrize(("args", "message"), [
    (["{a}", "{missing}"], "{missing}: no such file"),
    (["{a}", "{text}"], "{text}: not an image Pillow can read"),
    (["{a}", "{b}", "-m", "sssim"], "unknown metric 'sssim'; did you mean ssim"),
    (["{a}", "{b}", "--preset", "nope"], "unknown preset 'nope'"),
    (["{a}", "{b}", "-m", "ssim:win_size=x"], "metric 'ssim': bad value for 'win_size'"),
    (["{a}", "{b}", "-s", "gradient:sign=true"], "strategy 'gradient' has no parameter 'sign'"),
    (["{a}", "{b}", "-o", "{out}", "--outputs", "npy,png"], "unknown output 'png'"),
    (["{a}", "{b}", "--truth", "{missing}"], "{missing}: no such file"),
], ids=["missing", "not-an-image", "unknown-stage", "unknown-preset", "bad-value", "unknown-param", "bad-output",
        "missing-truth"])
def test_bad_input_is_reported_before_torch_is_imported(images, tmp_path, args, message):
    a, b = images
    (tmp_path / "notes.txt").write_text("not an image")
    names = {"a": a, "b": b, "missing": tmp_path / "nope.png", "text": tmp_path / "notes.txt", "out": tmp_path / "o"}
    done, timed, loaded = imports_of([arg.format(**names) for arg in args], tmp_path)
    assert done.returncode == 2
    assert message.format(**names) in done.stderr
    assert [name for name in (*timed, *loaded) if name.split(".")[0] == "torch"] == []
