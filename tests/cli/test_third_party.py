"""Third-party plugins: a real pip install of the example package, and plugins that are broken.

Broken plugins are fake distributions (``*.dist-info`` + modules in a temporary folder on the
path), one per way a plugin can fail: its module does not import, a hook takes arguments, a
hook raises (even ``SystemExit``), returns a bare record or yields an invalid one, a stage's
target does not import.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dfcore import Finder, StageError
from dfcore.plugin.loading import AUTOLOAD_ENV, TRACE_ENV
from dfcore.plugin.registry import create_registry
from dfcore.testing import fake_distribution, on_sys_path, planted_files, planted_pair

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dfind-metric-example"
EXAMPLE_DIST, EXAMPLE_PLUGIN = "dfind-metric-example", "metric-example"

BROKEN = {
    # plugin name: (distribution, version, entry-point module, {module file: source})
    "import-error": ("dfind-import-error", "1.0", "dfind_import_error", {"dfind_import_error.py": "import dfind_missing_dependency\n"}),
    "hook-error": ("dfind-hook-error", "2.0", "dfind_hook_error", {"dfind_hook_error.py": """
        from dfcore import StageSpec, hookimpl

        @hookimpl
        def dfind_strategies():
            yield StageSpec("orphan", "dfind_hook_error:Orphan", "withdrawn with the rest of the plugin")

        @hookimpl
        def dfind_metrics():
            raise RuntimeError("metric table is corrupt")
        """}),
    "hook-exit": ("dfind-hook-exit", "1.0", "dfind_hook_exit", {"dfind_hook_exit.py": """
        import sys
        from dfcore import hookimpl

        @hookimpl
        def dfind_presets():
            sys.exit("no presets today")
        """}),
    "bad-record": ("dfind-bad-record", "1.0", "dfind_bad_record", {"dfind_bad_record.py": """
        from dfcore import StageSpec, hookimpl

        @hookimpl
        def dfind_metrics():
            yield StageSpec("unoriented", "dfind_bad_record:Metric")
        """}),
    "hook-args": ("dfind-hook-args", "1.0", "dfind_hook_args", {"dfind_hook_args.py": """
        from dfcore import hookimpl

        @hookimpl
        def dfind_metrics(config):
            return []
        """}),
    "returns-record": ("dfind-returns-record", "1.0", "dfind_returns_record", {"dfind_returns_record.py": """
        from dfcore import StageSpec, hookimpl

        @hookimpl
        def dfind_strategies():
            return StageSpec("lonely", "dfind_returns_record:Lonely")
        """}),
    "missing-target": ("dfind-missing-target", "1.0", "dfind_missing_target", {"dfind_missing_target.py": """
        from dfcore import StageSpec, hookimpl

        @hookimpl
        def dfind_metrics():
            yield StageSpec("ghost", "dfind_ghost_impl:Ghost", "its implementation is not installed",
                            higher_is_better=False)
        """}),
    "healthy": ("dfind-healthy", "3.1", "dfind_healthy.plugin", {
        "dfind_healthy/__init__.py": "",
        "dfind_healthy/plugin.py": """
            from dfcore import StageSpec, hookimpl

            @hookimpl
            def dfind_metrics():
                yield StageSpec("healthy-l1", "dfind_healthy.stages:L1", "mean absolute error", higher_is_better=False)
            """,
        "dfind_healthy/stages.py": """
            class L1:
                higher_is_better = False

                def __call__(self, x, y):
                    return (x - y).abs().mean(dim=(1, 2, 3))
            """,
    }),
}
MODULES = ["dfind_import_error", "dfind_hook_error", "dfind_hook_exit", "dfind_bad_record", "dfind_hook_args",
           "dfind_returns_record", "dfind_missing_target", "dfind_healthy", "dfind_healthy.plugin",
           "dfind_healthy.stages"]


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    for plugin, (dist, version, module, files) in BROKEN.items():
        fake_distribution(root, dist, version, {plugin: module}, files)
    return root


@pytest.fixture
def registry(plugin_root):
    with on_sys_path(plugin_root, MODULES):
        yield create_registry(autoload=True)


def dfind(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``dfind`` command (or its entry function) in a subprocess."""
    script = Path(sys.executable).with_name("dfind")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from dfcore.cli import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env or clean_env(), cwd=cwd, check=False,
                          timeout=300)


def clean_env(plugin_root: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (AUTOLOAD_ENV, TRACE_ENV)}
    if plugin_root is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin_root), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


# -- broken plugins ----------------------------------------------------------------------------


def test_each_broken_plugin_is_recorded_with_its_phase_and_reason(registry):
    broken = {b.origin.plugin: b for b in registry.broken}
    assert {name: (b.phase, b.reason) for name, b in broken.items() if name in BROKEN} == {
        "import-error": ("import", "ModuleNotFoundError: No module named 'dfind_missing_dependency'"),
        "hook-error": ("hook", "dfind_metrics: RuntimeError: metric table is corrupt"),
        "hook-exit": ("hook", "dfind_presets: SystemExit: no presets today"),
        "bad-record": ("hook", "dfind_metrics: ValueError: metric 'unoriented' does not declare higher_is_better"),
        "hook-args": ("import", "PluginValidationError: Plugin 'hook-args' for hook 'dfind_metrics' hookimpl "
                                "definition: dfind_metrics(config) Argument(s) {'config'} are declared in the "
                                "hookimpl but can not be found in the hookspec"),
        "returns-record": ("hook", "dfind_strategies: TypeError: returned a StageSpec; yield the records, "
                                   "or return a list of them"),
    }
    assert (broken["hook-error"].origin.distribution, broken["hook-error"].origin.version) == ("dfind-hook-error", "2.0")
    names = {s.qualified_name for s in registry.stages()}
    assert {"healthy.healthy-l1", "missing-target.ghost", "builtin.ssim", "builtin.gradient"} <= names
    assert "hook-error.orphan" not in names  # a plugin whose hook failed offers nothing


def test_every_other_stage_keeps_working(registry):
    a, b, mask = planted_pair()
    for metric in ("ssim", "healthy-l1"):
        result = Finder(metric=metric, strategy="gradient", registry=registry, device="cpu").run(a, b)
        assert mask.numpy().ravel()[result.map.argmax()], metric
    with pytest.raises(StageError, match="metric 'missing-target.ghost' cannot be loaded from 'dfind_ghost_impl:Ghost'"
                                         ": ModuleNotFoundError"):
        Finder(metric="ghost", strategy="gradient", registry=registry, device="cpu")
    (target,) = [b for b in registry.broken if b.phase == "target"]
    assert target.origin.plugin == "missing-target"
    with pytest.raises(LookupError, match=r"unknown metric 'orphan'.*\(broken plugins: .*hook-error"):
        Finder(metric="orphan", strategy="gradient", registry=registry)


def test_list_plugins_shows_broken_rows_and_exits_0(plugin_root):
    result = dfind("--list-plugins", env=clean_env(plugin_root))
    assert result.returncode == 0, result.stderr
    rows = [
        (r"^broken +- +import-error +dfind-import-error 1\.0 +import failed: ModuleNotFoundError: "
         r"No module named 'dfind_missing_dependency'$"),
        r"^broken +- +hook-error +dfind-hook-error 2\.0 +hook failed: dfind_metrics: RuntimeError: metric table is corrupt$",
        r"^metric +healthy-l1 +healthy +dfind-healthy 3\.1 +mean absolute error \[lower is better\]$",
    ]
    for row in rows:
        assert re.search(row, result.stdout, re.MULTILINE), row

    data = json.loads(dfind("--list-plugins", "--json", env=clean_env(plugin_root)).stdout)
    entry = next(b for b in data["broken"] if b["plugin"] == "hook-exit")
    assert entry == {"plugin": "hook-exit", "distribution": "dfind-hook-exit", "version": "1.0", "phase": "hook",
                     "reason": "dfind_presets: SystemExit: no presets today"}


def test_a_comparison_runs_with_broken_plugins_installed(plugin_root, tmp_path):
    a, b, _ = planted_files(tmp_path)
    result = dfind(str(a), str(b), "-m", "healthy-l1", "-s", "gradient", env=clean_env(plugin_root))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("b.png: healthy-l1 = ")


@pytest.mark.parametrize("how", ["env", "flag"])
def test_autoload_can_be_turned_off(plugin_root, how):
    args, env = ["--list-plugins", "--json"], clean_env(plugin_root)
    if how == "env":
        env[AUTOLOAD_ENV] = "1"
    else:
        args.append("--disable-plugin-autoload")
    data = json.loads(dfind(*args, env=env).stdout)
    assert data["broken"] == []
    assert {s["distribution"] for s in data["stages"]} == {"dfind"}
    assert "ssim" in {s["name"] for s in data["stages"]}


def test_trace_prints_each_load_and_hook_call(plugin_root):
    result = dfind("--list-plugins", env=clean_env(plugin_root, **{TRACE_ENV: "1"}))
    assert result.returncode == 0
    trace = result.stderr.splitlines()
    assert any(line.startswith("dfind trace: import-error = dfind_import_error (dfind-import-error 1.0): "
                               "ModuleNotFoundError") for line in trace)
    assert any(line.startswith("dfind trace: healthy = dfind_healthy.plugin (dfind-healthy 3.1): ok, ") for line in trace)
    assert "dfind trace: hook-error.dfind_metrics: raised RuntimeError: metric table is corrupt [hook]" in trace
    assert any(line.startswith("dfind trace: builtin.dfind_metrics: mse, psnr, ssim") for line in trace)


# -- the example package -----------------------------------------------------------------------


def test_the_example_and_the_piq_bridge_are_not_part_of_dfinds_distribution():
    from setuptools import find_namespace_packages
    from setuptools.config.pyprojecttoml import read_configuration

    config = read_configuration(ROOT / "pyproject.toml", expand=False)["tool"]["setuptools"]["packages"]["find"]
    packages = find_namespace_packages(where=str(ROOT), include=config["include"], exclude=config.get("exclude", ()))
    assert "dfcore" in packages and "dfplugins_builtin" in packages
    separate = ("examples", "tests", "plugins", "dfind_metric_example", "dfind_piq")  # distributions of their own
    assert not [p for p in packages if p.split(".")[0] in separate]


def _installed(distribution: str) -> bool:
    importlib.invalidate_caches()
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_the_example_package_installs_lists_runs_and_uninstalls(tmp_path):
    if _installed(EXAMPLE_DIST):
        pytest.skip(f"{EXAMPLE_DIST} is already installed here; the test would uninstall it")
    source = tmp_path / "dfind-metric-example"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"))
    a, b, mask = planted_files(tmp_path / "images")
    try:
        install = _pip("install", "--no-build-isolation", "--no-deps", "--no-index", str(source))
        assert install.returncode == 0, install.stdout + install.stderr

        data = json.loads(dfind("--list-plugins", "--json").stdout)
        ours = {(s["kind"], s["qualified_name"], s["distribution"], s["version"])
                for s in data["stages"] if s["plugin"] == EXAMPLE_PLUGIN}
        assert ours == {("metric", "metric-example.charbonnier", EXAMPLE_DIST, "0.1.0"),
                        ("preprocessor", "metric-example.sobel", EXAMPLE_DIST, "0.1.0")}
        assert [(p["name"], p["distribution"]) for p in data["presets"] if p["plugin"] == EXAMPLE_PLUGIN] == [
            ("edges", EXAMPLE_DIST)]
        assert not [x for x in data["broken"] if x["plugin"] == EXAMPLE_PLUGIN]

        run = dfind(str(a), str(b), "-m", "charbonnier", "-s", "gradient", "-o", str(tmp_path / "out"))
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("b.png: charbonnier = ")
        metric = json.loads((tmp_path / "out" / "b.json").read_text())["config"]["metric"]
        assert (metric["qualified_name"], metric["distribution"], metric["version"]) == (
            "metric-example.charbonnier", EXAMPLE_DIST, "0.1.0")
        heat = np.load(tmp_path / "out" / "b.map.npy")
        assert mask.numpy().ravel()[heat.argmax()]

        # The plugin's own tests (what docs/plugins.md shows) pass against the installed package.
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                               cwd=source, capture_output=True, text=True, timeout=300, env=clean_env(), check=False)
        assert tests.returncode == 0, tests.stdout[-3000:]
    finally:
        uninstall = _pip("uninstall", "-y", EXAMPLE_DIST)
    assert uninstall.returncode == 0, uninstall.stderr
    assert not _installed(EXAMPLE_DIST)
    data = json.loads(dfind("--list-plugins", "--json").stdout)
    assert not [s for s in data["stages"] + data["presets"] if s["plugin"] == EXAMPLE_PLUGIN]
