"""Fault injection on the command line, each case a real ``dfind`` process: gates that cannot be
switched off, an unwritable output folder, third-party presets named ``default``, a plugin stage
that raises, a parameter given twice, pairs files and folders that used to trip a run, the
decode limit. Folder runs sharing an output folder are in ``tests/dfcore/runs/test_faults.py``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from dfcore.io.images import run_memory
from dfcore.io.layout import read_summary_rows
from tests.faults import computed, dfind, env, make_plugins, numbered_pairs, pair_jsons


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    return make_plugins(tmp_path_factory.mktemp("site"))


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    dir_a, dir_b = numbered_pairs(tmp_path, 1)
    return dir_a / "00.png", dir_b / "00.png"


# -- gates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf"])
def test_fail_above_refuses_thresholds_no_score_could_fail(pair, threshold):
    done = dfind(*pair, "-m", "mse", "-s", "difference", f"--fail-above={threshold}", environment=env())
    assert done.returncode == 2
    assert "Invalid value for '--fail-above': must be a finite number" in done.stderr


def test_a_nan_score_fails_the_gate_and_says_so(plugins, pair, tmp_path):
    done = dfind(*pair, "-m", "faulty.nan", "-s", "difference", "--fail-above", "1", environment=env(plugins))
    assert done.returncode == 1
    assert "00.png: nan = nan is not a number, which fails the threshold 1" in done.stderr
    assert dfind(*pair, "-m", "faulty.nan", "-s", "difference", environment=env(plugins)).returncode == 0
    dir_a, dir_b = numbered_pairs(tmp_path / "folders", 2)
    done = dfind(dir_a, dir_b, "-o", tmp_path / "out", "-m", "faulty.nan", "-s", "difference", "--fail-above", "1",
                 "--quiet", environment=env(plugins))
    assert done.returncode == 1
    assert "2 pairs: nan worse than the threshold 1 (2 of them not a number)" in done.stderr
    rows = read_summary_rows(tmp_path / "out")
    assert {(row["score"], row["score_nonfinite"]) for row in rows} == {(None, "nan")}
    with open(tmp_path / "out" / "summary.csv", newline="") as handle:
        assert {row["score"] for row in csv.DictReader(handle)} == {"nan"}, "summary.csv keeps the readable text"


# -- an output folder that cannot be written ------------------------------------------------------------


#: Linux capabilities that let root write where permissions say no (linux/capability.h), and prctl's
#: PR_CAPBSET_DROP: dropped from the bounding set, they are gone once the child process execs.
_OVERRIDES = {"CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3}
_PR_CAPBSET_DROP = 24


def _without_write_permission(out: Path) -> dict:
    """``subprocess`` options under which the folder ``out`` cannot be written: its write permission is
    taken away, and a root process also loses the capabilities that override permissions."""
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() != 0:
        return {}
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def drop_overrides() -> None:
        for capability in _OVERRIDES.values():
            if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "cannot drop a capability")

    return {"preexec_fn": drop_overrides}


@pytest.mark.parametrize("folders", [False, True])
def test_an_unwritable_output_folder_fails_before_any_pair_is_computed(plugins, tmp_path, folders):
    dir_a, dir_b = numbered_pairs(tmp_path, 3)
    out, log = tmp_path / "out", tmp_path / "computed.log"
    options = _without_write_permission(out)
    inputs = (dir_a, dir_b) if folders else (dir_a / "00.png", dir_b / "00.png")
    try:
        done = dfind(*inputs, "-o", out, "-m", "faulty.slow", "-s", "difference",
                     environment=env(plugins, DFIND_TEST_LOG=str(log)), **options)
    finally:
        out.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"dfind: error: {out}: cannot write into the output folder: permission denied"
    assert computed(log) == [] and list(out.iterdir()) == []


def test_an_output_path_under_a_file_is_refused_in_words(pair, tmp_path):
    (tmp_path / "file").write_text("")
    done = dfind(*pair, "-o", tmp_path / "file" / "out", environment=env())
    assert done.returncode == 2
    assert done.stderr.strip().endswith("file/out: cannot create the output folder: not a directory")


# -- presets ----------------------------------------------------------------------------------------------


def test_a_third_party_default_preset_does_not_break_dfind_a_b(plugins, pair, tmp_path):
    done = dfind(*pair, "-o", tmp_path / "default", environment=env(plugins))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "default" / "00.json").read_text())["metric"] == "mse"  # dfind's own default
    for preset, metric in (("builtin.default", "mse"), ("acme.default", "psnr")):
        done = dfind(*pair, "--preset", preset, "-o", tmp_path / preset, environment=env(plugins))
        assert done.returncode == 0, done.stderr
        assert json.loads((tmp_path / preset / "00.json").read_text())["metric"] == metric
    done = dfind(*pair, "--preset", "fancy", environment=env(plugins))  # two third parties: no winner
    assert done.returncode == 2
    assert "preset 'fancy' is offered by acme and faulty: use acme.fancy or faulty.fancy" in done.stderr


def test_list_plugins_says_which_preset_the_bare_name_picks(plugins):
    listing = dfind("--list-plugins", environment=env(plugins)).stdout
    rows = {tuple(line.split()[1:4]) for line in listing.splitlines() if line.startswith("preset")}
    assert ("default", "(conflict:", "the") in rows and ("default", "(conflict:", "use") in rows
    assert "default (conflict: the bare name picks this one)  builtin" in listing
    assert "default (conflict: use acme.default)" in listing
    presets = json.loads(dfind("--list-plugins", "--json", environment=env(plugins)).stdout)["presets"]
    flags = {p["qualified_name"]: (p["conflict"], p["bare"]) for p in presets}
    assert flags["builtin.default"] == (True, True) and flags["acme.default"] == (True, False)
    assert flags["acme.fancy"] == flags["faulty.fancy"] == (True, False)
    assert flags["builtin.sharp"] == (False, True)


# -- plugin errors and stage references --------------------------------------------------------------------


def test_a_plugin_stages_runtime_error_names_the_stage_its_plugin_and_distribution(plugins, pair, tmp_path):
    done = dfind(*pair, "-m", "faulty.boom", "-s", "difference", environment=env(plugins))
    assert done.returncode == 2
    assert done.stderr.strip() == ("dfind: error: metric 'faulty.boom' (plugin faulty, distribution dfind-faulty 1.0) "
                                   "failed: RuntimeError: kaboom (rerun with --debug for the traceback)")
    debug = dfind(*pair, "-m", "faulty.boom", "-s", "difference", "--debug", environment=env(plugins))
    assert 'faulty_stages.py", line' in debug.stderr and "raise RuntimeError" in debug.stderr  # the plugin's own line
    done = dfind(*pair, "-m", "mse", "-s", "faulty.explode", environment=env(plugins))
    assert "strategy 'faulty.explode' (plugin faulty, distribution dfind-faulty 1.0) failed: " \
           "ValueError: the strategy fell over" in done.stderr
    dir_a, dir_b = numbered_pairs(tmp_path / "folders", 2)
    done = dfind(dir_a, dir_b, "-o", tmp_path / "out", "-m", "faulty.boom", "-s", "difference", "--quiet",
                 environment=env(plugins))
    assert done.returncode == 3
    errors = {row["error"] for row in read_summary_rows(tmp_path / "out")}
    assert errors == {"metric 'faulty.boom' (plugin faulty, distribution dfind-faulty 1.0) failed: RuntimeError: kaboom"}


def test_a_parameter_given_twice_is_refused(pair):
    done = dfind(*pair, "-s", "difference:sigma=1,sigma=2", environment=env())
    assert done.returncode == 2
    assert "parameter 'sigma' is given twice in 'difference:sigma=1,sigma=2'; give it once" in done.stderr


# -- pairs files and folders ------------------------------------------------------------------------------


def _pairs_file(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_pairs_file_with_absolute_and_parent_b_paths_and_no_name_column_runs(tmp_path):
    dir_a, dir_b = numbered_pairs(tmp_path / "data", 2)
    lists = tmp_path / "lists"
    lists.mkdir()
    pairs = _pairs_file(lists / "pairs.csv", [{"a": str(dir_a / "00.png"), "b": str(dir_b / "00.png")},
                                              {"a": "../data/A/01.png", "b": "../data/B/01.png"}])
    done = dfind("--pairs", pairs, "-o", tmp_path / "out", "--quiet", environment=env())
    assert done.returncode == 0, done.stderr
    names = [row["pair"] for row in read_summary_rows(tmp_path / "out")]
    assert names == sorted(["data/B/01.png", str(dir_b / "00.png").lstrip("/")])
    assert len(pair_jsons(tmp_path / "out")) == 2


@pytest.mark.parametrize("name", ["scene/", ".hidden", "scene/.x"])
def test_pair_names_that_would_write_hidden_files_are_refused(tmp_path, name):
    dir_a, dir_b = numbered_pairs(tmp_path, 1)
    pairs = _pairs_file(tmp_path / "pairs.csv", [{"a": "A/00.png", "b": "B/00.png", "name": name}])
    done = dfind("--pairs", pairs, "-o", tmp_path / "out", environment=env())
    assert done.returncode == 2
    assert f"the name {name!r} must name a file: no trailing '/' and no part starting with '.'" in done.stderr


def test_symlinked_subfolders_are_followed_and_a_link_loop_is_not(tmp_path):
    dir_a, dir_b = numbered_pairs(tmp_path / "main", 1)
    other_a, other_b = numbered_pairs(tmp_path / "elsewhere", 2)
    (dir_a / "linked").symlink_to(other_a, target_is_directory=True)
    (dir_b / "linked").symlink_to(other_b, target_is_directory=True)
    (dir_a / "loop").symlink_to(dir_a, target_is_directory=True)
    done = dfind(dir_a, dir_b, "-o", tmp_path / "out", "--quiet", environment=env())
    assert done.returncode == 0, done.stderr
    assert [row["pair"] for row in read_summary_rows(tmp_path / "out")] == ["00.png", "linked/00.png", "linked/01.png"]


# -- the decode limit -------------------------------------------------------------------------------------


def test_the_decode_limit_says_what_memory_the_run_would_need(pair):
    done = dfind(*pair, environment=env(DFIND_MAX_PIXELS="100"))
    assert done.returncode == 2
    need = f"{run_memory(24 * 32) / 2**30:.1f} GiB"
    assert f"refusing to decode 32x24 = 768 pixels, more than the limit of 100 (a decompression-bomb guard); " \
           f"comparing it needs about {need} of memory with the default pipeline" in done.stderr
