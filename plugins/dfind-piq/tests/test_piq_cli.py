"""The installed bridge from the command line: listing, maps of the sample pair, check-metric,
one-line errors, and dfind without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from dfcore.testing import planted_files

DIST, PLUGIN = "dfind-piq", "piq"
BRIDGE = Path(__file__).resolve().parents[1]
SAMPLES = BRIDGE.parents[1] / "samples"  # the dfind repository's sample pair
HANDCRAFTED = {"fsim": None, "gmsd": None, "ms-gmsd": None, "haarpsi": None, "vifp": "2x3x48x48", "vsi": None,
               "mdsi": None, "sr-sim": "2x3x48x48", "dss": None, "iw-ssim": "2x3x161x161"}


def dfind(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("dfind")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from dfcore.cli import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env or clean_env(), check=False,
                          timeout=600)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFIND_")}
    env.update(extra)
    return env


def listed() -> dict:
    result = dfind("--list-plugins", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_list_plugins_shows_the_bridges_metrics_under_its_distribution():
    data = listed()
    ours = [s for s in data["stages"] if s["plugin"] == PLUGIN]
    assert len(ours) >= 10
    assert {(s["kind"], s["distribution"], s["version"]) for s in ours} == {("metric", DIST, "0.1.0")}
    assert {s["qualified_name"] for s in ours} >= {f"{PLUGIN}.{name}" for name in HANDCRAFTED}
    assert not [b for b in data["broken"] if b["plugin"] == PLUGIN]


@pytest.mark.parametrize("name", ["fsim", "haarpsi"])
def test_the_gradient_map_of_the_sample_pair_peaks_on_a_change(tmp_path, name):
    out = tmp_path / "out"
    run = dfind(str(SAMPLES / "a.png"), str(SAMPLES / "b.png"), "-m", f"piq.{name}", "-s", "gradient", "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"b.png: {name} = ")
    heat = np.load(out / "b.map.npy")
    truth = np.asarray(Image.open(SAMPLES / "truth.png")) > 0
    assert heat.shape == truth.shape
    assert truth.ravel()[heat.argmax()], np.unravel_index(heat.argmax(), heat.shape)
    metric = json.loads((out / "b.json").read_text())["config"]["metric"]
    assert (metric["qualified_name"], metric["distribution"]) == (f"{PLUGIN}.{name}", DIST)
    assert metric["conventions"]["reduction"] == "none: one value per sample"


@pytest.mark.parametrize("name", list(HANDCRAFTED))
def test_check_metric_passes(name):
    shape = HANDCRAFTED[name]
    run = dfind("check-metric", f"{PLUGIN}.{name}", *(["--shape", shape] if shape else []))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("PASS") == 5


def test_check_metric_says_which_probe_a_large_metric_needs():
    run = dfind("check-metric", "piq.iw-ssim")
    assert run.returncode == 2
    assert ("FAIL  runs         raised ShapeError: piq.iw-ssim needs images of at least 161x161 px (5 scales of a "
            "11 px window), got 32x32; give a probe it accepts (shape=, or --shape)") in run.stdout


def test_missing_weights_offline_are_one_line_errors(tmp_path):
    run = dfind(str(SAMPLES / "a.png"), str(SAMPLES / "b.png"), "-m", "piq.dists:download=false",
                env=clean_env(TORCH_HOME=str(tmp_path)))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith("dfind: error: piq.dists needs dists_weights.pt, which is not in torch hub's cache ")
    assert "or pass piq.dists:weights=/path/to/dists_weights.pt" in run.stderr


def test_an_image_too_small_is_a_one_line_error(tmp_path):
    a, b, _ = planted_files(tmp_path, height=32, width=40, boxes=((8, 8, 16, 16),))
    run = dfind(str(a), str(b), "-m", "piq.vifp", "-s", "gradient")
    assert run.returncode == 2
    assert run.stderr == "dfind: error: piq.vifp needs images of at least 41x41 px (four scales of 'valid' Gaussian " \
                         "filtering), got 40x32\n"


# -- without the bridge ----------------------------------------------------------------------------


def _installed() -> dict | None:
    """The bridge's ``direct_url.json`` as a fresh interpreter sees it (``{}`` if it has none), or ``None``.

    Asked in a subprocess: this process keeps the import path it started with, and an editable
    install of a src layout puts ``src/`` on it, where the build left ``dfind_piq.egg-info``.
    """
    code = ("import importlib.metadata as m, sys\n"
            "try:\n    dist = m.distribution(sys.argv[1])\n"
            "except m.PackageNotFoundError:\n    print('null')\n"
            "else:\n    print(dist.read_text('direct_url.json') or '{}')\n")
    done = subprocess.run([sys.executable, "-c", code, DIST], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"], capture_output=True,
                          text=True, timeout=600, check=False)


def _reinstall_args(direct: dict | None) -> list[str] | None:
    """How to put the bridge back as it was: editable from its folder, from its folder, or not at all."""
    if direct is None:
        return None
    url = direct.get("url", "")
    source = Path(unquote(urlparse(url).path)) if url.startswith("file:") else BRIDGE
    return ["-e", str(source)] if direct.get("dir_info", {}).get("editable", False) else [str(source)]


@pytest.mark.slow
def test_uninstalling_the_bridge_leaves_dfind_working(tmp_path):
    before = _reinstall_args(_installed())
    a, b = SAMPLES / "a.png", SAMPLES / "b.png"
    try:
        if before is None:
            done = _pip("install", "--no-build-isolation", "--no-deps", "--no-index", str(BRIDGE))
            assert done.returncode == 0, done.stdout + done.stderr
        assert dfind(str(a), str(b), "-m", "fsim", "-s", "gradient").returncode == 0

        done = _pip("uninstall", "-y", DIST)
        assert done.returncode == 0, done.stderr
        assert _installed() is None
        data = listed()
        assert not [s for s in data["stages"] if s["plugin"] == PLUGIN]
        assert data["broken"] == []
        for args in ((), ("-m", "ssim", "-s", "gradient")):
            run = dfind(str(a), str(b), *args, "-o", str(tmp_path / "out"))
            assert run.returncode == 0, run.stderr
        gone = dfind(str(a), str(b), "-m", "piq.fsim")
        assert gone.returncode == 2
        assert gone.stderr.startswith("dfind: error: unknown metric 'piq.fsim'")
    finally:
        if before is not None and _installed() is None:
            done = _pip("install", "--no-build-isolation", "--no-deps", "--no-index", *before)
            assert done.returncode == 0, done.stdout + done.stderr
        elif before is None and _installed() is not None:
            _pip("uninstall", "-y", DIST)
    assert (_installed() is not None) == (before is not None)
