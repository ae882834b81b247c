"""The ``dfind`` command through click's CliRunner: runs, outputs, listing, exit codes, errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

import dfcore
from dfcore import Finder
from dfcore.cli import main
from dfcore.testing import planted_pair, save_image

BUILTINS = {
    ("preprocessor", "identity"), ("preprocessor", "normalize"), ("preprocessor", "highpass"),
    ("preprocessor", "lowpass"), ("metric", "mse"), ("metric", "psnr"), ("metric", "ssim"),
    ("metric", "ms-ssim"), ("metric", "lpips"), ("strategy", "difference"), ("strategy", "gradient"), ("strategy", "tolerant"),
    ("strategy", "own"), ("postprocessor", "identity"), ("postprocessor", "smooth"), ("postprocessor", "regions"),
}


@pytest.fixture
def images(tmp_path):
    a, b, _ = planted_pair(32, 48, boxes=((8, 20, 18, 34),))
    return save_image(tmp_path / "a.png", a), save_image(tmp_path / "b.png", b)


def dfind(*args) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit 2, one line on stderr that names the cause, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dfind: error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# -- a run ----------------------------------------------------------------------------------------


def test_run_prints_the_score_and_exits_0(images):
    a, b = images
    result = dfind(a, b)
    assert result.exit_code == 0, result.output
    match = re.match(r"b\.png: mse = ([0-9.e+-]+) \(lower is better\)\n1 difference, strongest first:\n", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) == pytest.approx(Finder(device="cpu").run(a, b).score, rel=1e-5)


def test_output_directory_gets_heatmap_map_and_json(images, tmp_path):
    a, b = images
    out = tmp_path / "out"
    result = dfind(a, b, "-m", "mse", "-s", "gradient", "-p", "highpass:cutoff=0.2", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["b.heatmap.png", "b.json", "b.map.npy"]
    assert f"wrote {out / 'b.heatmap.png'}" in result.stdout
    heatmap = Image.open(out / "b.heatmap.png")
    assert heatmap.size == (48, 32) and heatmap.mode == "RGB"
    raw = np.load(out / "b.map.npy")
    assert raw.shape == (32, 48) and raw.dtype == np.float32
    data = json.loads((out / "b.json").read_text())
    assert data["metric"] == "mse" and data["score"] > 0
    assert data["config"]["preprocessor"][0]["params"]["cutoff"] == 0.2
    assert data["config"]["strategy"]["name"] == "gradient"
    assert data["display"]["colormap"] == "inferno"


def test_colormap_option(images, tmp_path):
    a, b = images
    assert dfind(a, b, "-o", tmp_path / "o", "--colormap", "gray").exit_code == 0
    heatmap = np.asarray(Image.open(tmp_path / "o" / "b.heatmap.png"))
    assert np.array_equal(heatmap[..., 0], heatmap[..., 1]), "a grey colormap"
    assert_one_line_error(dfind(a, b, "-o", tmp_path / "p", "--colormap", "infern"), "did you mean inferno")


def test_quiet_prints_nothing(images):
    result = dfind(*images, "--quiet")
    assert result.exit_code == 0 and result.output == ""


# -- exit codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "threshold", "code"), [
    ("mse", "0.0001", 1),   # lower is better: beyond means above
    ("mse", "0.5", 0),
    ("psnr", "60", 1),      # higher is better: beyond means below
    ("psnr", "5", 0),
])
def test_fail_above(images, metric, threshold, code):
    result = dfind(*images, "-m", metric, "-s", "difference", "--fail-above", threshold)
    assert result.exit_code == code, result.output
    if code == 1:
        assert f"is worse than the threshold {threshold}" in result.stderr
        assert f"b.png: {metric} = " in result.stdout
    else:
        assert result.stderr == ""


def test_identical_images_pass_any_psnr_threshold(images):
    a, _ = images
    assert dfind(a, a, "-m", "psnr", "-s", "difference", "--fail-above", "1000").exit_code == 0


def test_usage_errors_exit_2(images):
    a, _ = images
    assert dfind(a).exit_code == 2
    assert dfind().exit_code == 2
    assert dfind(a, a, "--no-such-option").exit_code == 2
    assert dfind(a, a, "--fail-above", "much").exit_code == 2


# -- bad input: one line, exit 2 ------------------------------------------------------------------


def test_missing_file(images, tmp_path):
    a, _ = images
    assert_one_line_error(dfind(a, tmp_path / "nope.png"), f"{tmp_path / 'nope.png'}: no such file")


def test_corrupt_image(images, tmp_path):
    a, b = images
    data = b.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert_one_line_error(dfind(a, tmp_path / "cut.png"), "cut.png: corrupt or truncated image")
    (tmp_path / "text.png").write_text("hello")
    assert_one_line_error(dfind(a, tmp_path / "text.png"), "text.png: not an image")


def test_sizes_differ(images, tmp_path):
    a, _ = images
    small = save_image(tmp_path / "small.png", np.zeros((30, 40, 3)))
    assert_one_line_error(dfind(a, small), "image sizes differ", "is 48x32", "is 40x30")


def test_unknown_stage_suggests(images):
    assert_one_line_error(dfind(*images, "-m", "ssmi"), "unknown metric 'ssmi'; did you mean ssim")  # first of the close names
    assert_one_line_error(dfind(*images, "-s", "gradiant"), "did you mean gradient")
    assert_one_line_error(dfind(*images, "-p", "ssim"), "unknown preprocessor 'ssim' ('ssim' is a metric)")


def test_unknown_parameter_lists_the_valid_ones(images):
    assert_one_line_error(dfind(*images, "-p", "highpass:cutof=0.1"),
                          "has no parameter 'cutof'; valid parameters: cutoff, profile, pad, offset")


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("-p", "highpass:cutoff=abc", "bad value for 'cutoff': expected a number, got 'abc'"),
    ("-p", "lowpass:cutoff=3", "cutoff must lie in (0, 1]"),
    ("-s", "gradient:signed=maybe", "expected true or false, got 'maybe'"),
    ("-m", "ssim:win_size=8", "win_size must be an odd number"),
    ("-p", "highpass:cutoff", "bad parameter 'cutoff'"),
])
def test_bad_parameter_value(images, option, value, fragment):
    assert_one_line_error(dfind(*images, option, value), fragment)


def test_nan_in_a_float_tiff(images, tmp_path):
    a, _ = images
    values = np.full((32, 48), 0.5, np.float32)
    values[3, 4] = np.nan
    Image.fromarray(values, mode="F").save(tmp_path / "nan.tif")
    assert_one_line_error(dfind(a, tmp_path / "nan.tif"), "nan.tif: contains 1 NaN or infinite value")


def test_device_that_is_not_there(images, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert_one_line_error(dfind(*images, "--device", "cuda"), "CUDA is not available")


def test_unexpected_errors_are_one_line_too(images):
    class Exploding:
        higher_is_better = False

        def __call__(self, x, y):
            raise RuntimeError("boom\nmore detail")

    from dfcore import StageSpec, hookimpl
    from dfcore.plugin.registry import get_registry

    class Plugin:
        @hookimpl
        def dfind_metrics(self):
            yield StageSpec("explode", Exploding, "Raises.", higher_is_better=False)

    with get_registry().temporary_plugin(Plugin(), name="acme"):
        line = assert_one_line_error(dfind(*images, "-m", "explode"), "RuntimeError: boom")
    assert line.endswith("(rerun with --debug for the traceback)")


def test_debug_shows_the_traceback_and_keeps_exit_2(images, tmp_path):
    a, _ = images
    result = dfind(a, tmp_path / "nope.png", "--debug")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "dfcore.errors.InputError" in result.stderr
    assert result.stderr.rstrip().endswith(f"dfind: error: {tmp_path / 'nope.png'}: no such file")


# -- help and listing -----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["diff", "--help"]])
def test_help_shows_examples(args):
    result = dfind(*args)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "dfind a.png b.png -o out" in result.stdout
    assert "--fail-above" in result.stdout and "--list-plugins" in result.stdout


def test_version():
    result = dfind("--version")
    assert result.exit_code == 0 and dfcore.__version__ in result.stdout


def test_list_plugins_table():
    result = dfind("--list-plugins")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "PLUGIN", "DISTRIBUTION", "DESCRIPTION"]
    rows = {tuple(line.split()[:5]) for line in lines[1:]}
    for kind, name in BUILTINS:
        assert (kind, name, "builtin", "dfind", dfcore.__version__) in rows, (kind, name)
    assert any(line.startswith("preset") and " default " in line for line in lines)
    assert "[higher is better]" in result.stdout and "[lower is better]" in result.stdout


def test_list_plugins_json():
    result = dfind("--list-plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    builtin = {(s["kind"], s["name"]): s for s in data["stages"] if s["plugin"] == "builtin"}
    assert set(builtin) == BUILTINS
    assert all((s["distribution"], s["version"]) == ("dfind", dfcore.__version__) for s in builtin.values())
    ssim = builtin[("metric", "ssim")]
    assert ssim["higher_is_better"] is True and ssim["qualified_name"] == "builtin.ssim"
    assert {"name": "data_range", "default": 1.0} in [{k: p[k] for k in ("name", "default")} for p in ssim["params"]]
    assert builtin[("preprocessor", "highpass")]["params"][1]["choices"] == ["gaussian", "ideal"]
    assert data["broken"] == [] and data["dfind"] == dfcore.__version__


def test_list_plugins_verbose_shows_parameters():
    result = dfind("--list-plugins", "-v")
    assert "cutoff=0.25" in result.stdout and "data_range=1.0" in result.stdout


def test_disable_plugin_autoload_option(tmp_path):
    from dfcore.testing import fake_distribution, on_sys_path

    fake_distribution(tmp_path, "dfind-acme", "1.0", {"acme": "acme_cli_plugin"}, {"acme_cli_plugin.py": """
        from dfcore import StageSpec, hookimpl

        @hookimpl
        def dfind_strategies():
            yield StageSpec("acme-edges", "acme_cli_stage:Edges", "Edges.")
    """})
    with on_sys_path(tmp_path, ["acme_cli_plugin"]):
        with_plugin = json.loads(dfind("--list-plugins", "--json").stdout)
        from dfcore.plugin.registry import set_registry

        set_registry(None)
        without = json.loads(dfind("--list-plugins", "--json", "--disable-plugin-autoload").stdout)
    assert "acme-edges" in {s["name"] for s in with_plugin["stages"]}
    assert {s["distribution"] for s in without["stages"]} == {"dfind"}


def test_broken_plugin_is_listed(tmp_path):
    from dfcore.testing import fake_distribution, on_sys_path

    fake_distribution(tmp_path, "dfind-broken", "0.3", {"broken": "broken_cli_plugin"},
                      {"broken_cli_plugin.py": "import not_installed_anywhere_xyz\n"})
    with on_sys_path(tmp_path, ["broken_cli_plugin"]):
        result = dfind("--list-plugins")
    assert result.exit_code == 0
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("broken")]
    assert "dfind-broken 0.3" in row
    assert "import failed: ModuleNotFoundError: No module named 'not_installed_anywhere_xyz'" in row


# -- folders --------------------------------------------------------------------------------------


def test_folders(tmp_path):
    a, b, _ = planted_pair(32, 48, boxes=((8, 20, 18, 34),))
    save_image(tmp_path / "A" / "same.png", a)
    save_image(tmp_path / "B" / "same.png", a)
    save_image(tmp_path / "A" / "sub" / "changed.png", a)
    save_image(tmp_path / "B" / "sub" / "changed.png", b)
    save_image(tmp_path / "A" / "left.png", a)
    save_image(tmp_path / "B" / "right.png", a)
    result = dfind(tmp_path / "A", tmp_path / "B", "-m", "mse", "-s", "difference", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert f"only in {tmp_path / 'A'}: left.png" in result.stderr
    assert f"only in {tmp_path / 'B'}: right.png" in result.stderr
    assert "same.png: mse = 0 (lower is better)" in result.stdout
    assert "2 of 2 pairs compared" in result.stdout
    assert (tmp_path / "out" / "sub" / "changed.json").is_file()

    (tmp_path / "B" / "same.png").write_bytes(b"broken")
    result = dfind(tmp_path / "A", tmp_path / "B", "-m", "mse", "-s", "difference")
    assert result.exit_code == 3
    assert "same.png: failed:" in result.stderr
    assert "1 of 2 pairs compared, 1 failed" in result.stdout
