"""The Ray engine: the same outputs, failures and resume as the local engine, on Ray actors.

One local Ray instance (2 CPUs) serves the whole module; each run starts its own actors in it.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from dfcore import Finder, PairBy, StageSpec, hookimpl, register_metric
from dfcore.cli import EXIT_ERROR, EXIT_PAIRS_FAILED, main
from dfcore.errors import EngineError, ParameterError
from dfcore.io.layout import FAILED, OK, SKIPPED
from dfcore.runs import BatchInterrupted, FinderRecipe, resolve_engine
from dfcore.testing import fresh_registry, using_registry
from tests.dfcore.runs.test_batch import _image

NAMES = ["0.png", "1.png", "2.png", "3.png", "deep/4.png", "deep/5.png", "deep/6.png"]


@pytest.fixture(scope="module")
def ray():
    """One local Ray instance for the module, started as a run without --address starts its own."""
    ray = pytest.importorskip("ray")
    from dfcore.runs.engines.ray import RayEngine

    assert not ray.is_initialized()
    sigterm = signal.getsignal(signal.SIGTERM)
    assert RayEngine(workers=2)._connect(ray) is True  # True: the engine started it, and would stop it
    assert signal.getsignal(signal.SIGTERM) is sigterm  # SIGTERM still stops a run as Ctrl-C does
    assert ray.cluster_resources()["CPU"] == 2
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def registry():
    with using_registry(fresh_registry()) as reg:
        yield reg


@pytest.fixture
def folders(tmp_path):
    """Seven pairs (one corrupt, one of two sizes) and a file on each side without a partner."""
    dir_a, dir_b = tmp_path / "A", tmp_path / "B"
    for index, name in enumerate(NAMES):
        _image(dir_a / name, index, size=(24, 32) if index < 5 else (16, 20))
        _image(dir_b / name, index, size=(24, 32) if index < 5 else (16, 20), bright_box=True)
    (dir_b / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _image(dir_b / "3.png", 3, size=(20, 32))
    _image(dir_a / "only_a.png", 9)
    _image(dir_b / "deep" / "only_b.png", 9)
    return dir_a, dir_b


def _finder(**kwargs) -> Finder:
    kwargs.setdefault("metric", "mse")
    kwargs.setdefault("strategy", "gradient")
    return Finder(device="cpu", **kwargs)


def _ray_engine(**kwargs):
    from dfcore.runs.engines.ray import RayEngine

    kwargs.setdefault("workers", 2)
    return RayEngine(**kwargs)


def _pair_jsons(out: Path) -> dict[str, dict]:
    """Every pair's JSON without what differs between two runs of one pipeline (timing)."""
    found = {}
    for path in sorted(out.rglob("*.json")):
        if path.name != "summary.json":
            data = json.loads(path.read_text())
            data.pop("seconds")
            found[path.relative_to(out).as_posix()] = data
    return found


def _assert_close(found, expected, where: str = "") -> None:
    """Equal structure and text; numbers equal to float32 rounding, since the local engine
    batches same-size pairs and a convolution's rounding depends on the batch it runs in."""
    if isinstance(expected, dict):
        assert isinstance(found, dict) and set(found) == set(expected), where
        for key in expected:
            _assert_close(found[key], expected[key], f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(found, list) and len(found) == len(expected), where
        for i, (f, e) in enumerate(zip(found, expected)):
            _assert_close(f, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert found == pytest.approx(expected, rel=1e-5, abs=1e-9), where
    else:
        assert found == expected, where


def _same_outputs(out: Path, reference: Path) -> None:
    _assert_close(_pair_jsons(out), _pair_jsons(reference))
    maps = sorted(p.relative_to(reference) for p in reference.rglob("*.map.npy"))
    assert maps and maps == sorted(p.relative_to(out) for p in out.rglob("*.map.npy"))
    for name in maps:
        np.testing.assert_allclose(np.load(out / name), np.load(reference / name), rtol=1e-6, atol=1e-9)
        assert (out / name).with_suffix("").with_suffix(".heatmap.png").is_file()


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


# -- the same results as the local engine -------------------------------------------------------


def test_ray_outputs_equal_the_local_engines(ray, folders, tmp_path):
    def l1(x, y):  # registered here only: the workers get it with the pipeline
        return (x - y).abs().flatten(1).mean(1)

    register_metric(l1, higher_is_better=False)
    local, remote = tmp_path / "local", tmp_path / "ray"
    expected = _finder(metric="l1", postprocessor="otsu").run_dirs(*folders, batch_size=2).save(local, progress=False)
    told = []
    report = _finder(metric="l1", postprocessor="otsu").run_dirs(*folders, batch_size=2).save(
        remote, progress=False, engine=_ray_engine(chunk_size=2),
        on_row=lambda row, result: told.append((row.pair, row.status, result)))

    assert report.counts == expected.counts == {"total": 7, OK: 5, FAILED: 2, SKIPPED: 0}
    assert [(r.pair, r.status, r.score, r.regions, r.error) for r in report.rows] == \
        [(r.pair, r.status, r.score, r.regions, r.error) for r in expected.rows]
    assert "corrupt" in report.rows[2].error or "not an image" in report.rows[2].error
    assert "32x20" in report.rows[3].error
    assert report.rows[0].regions is not None and report.rows[0].score > 0
    assert _rows(remote) == _rows(local)
    _same_outputs(remote, local)
    assert sorted((pair, status) for pair, status, _ in told) == [(r.pair, r.status) for r in expected.rows]
    assert all(result is None for *_, result in told)  # maps stay with the workers

    summary = json.loads((remote / "summary.json").read_text())
    assert summary["only_a"] == ["only_a.png"] and summary["only_b"] == ["deep/only_b.png"]
    assert summary["engine"] == {"name": "ray", "address": "local", "cpus_per_worker": 1.0, "gpus_per_worker": 0.0,
                                 "device": "cpu", "workers": 2, "nodes": 1}
    assert json.loads((local / "summary.json").read_text())["engine"] == {"name": "local"}


def test_interrupted_ray_run_resumes_with_only_the_missing_pairs(ray, folders, tmp_path):
    out, reference = tmp_path / "ray", tmp_path / "local"
    driver = os.getpid()

    def slow_mse(x, y):  # in the workers, a pair takes long enough for the interrupt to come before the last
        if os.getpid() != driver:
            time.sleep(0.3)
        return ((x - y) ** 2).flatten(1).mean(1)

    slow_mse.higher_is_better = False
    _finder(metric=slow_mse).run_dirs(*folders).save(reference, progress=False)

    def stop(row, result):
        raise KeyboardInterrupt

    with pytest.raises(BatchInterrupted) as interrupted:
        _finder(metric=slow_mse).run_dirs(*folders).save(out, progress=False, on_row=stop,
                                                         engine=_ray_engine(chunk_size=1))
    complete = {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*.json")
                if p.name != "summary.json"}
    done = {name.removesuffix(".json") + ".png" for name in complete}
    report = interrupted.value.report
    assert report.interrupted and 1 <= len(complete) < 5
    told = {r.pair for r in report.rows if r.status == OK}  # what the stopped workers completed, read back
    assert told and told <= done  # (a file whose writer is being killed may land after the read)
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True

    # what is complete when the run resumes: a file whose writer was being stopped may land after
    # the first read, and even a second one soon after it (seen on a loaded machine): read until
    # two reads half a second apart agree
    def landed() -> set[str]:
        return {p.relative_to(out).as_posix().removesuffix(".json") + ".png" for p in out.rglob("*.json")
                if p.name != "summary.json"}

    done, deadline = landed(), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        again = landed()
        if again == done:
            break
        done = again
    resumed = _finder(metric=slow_mse).run_dirs(*folders).save(out, progress=False, engine=_ray_engine(chunk_size=1))
    statuses = {r.pair: r.status for r in resumed.rows}
    assert {pair for pair, status in statuses.items() if status == SKIPPED} == done
    assert {pair for pair, status in statuses.items() if status == OK} == \
        {"0.png", "1.png", "deep/4.png", "deep/5.png", "deep/6.png"} - done
    assert statuses["2.png"] == statuses["3.png"] == FAILED
    for name, mtime in complete.items():  # nothing complete was computed again
        assert (out / name).stat().st_mtime_ns == mtime
    assert not list(out.rglob(".*.part"))
    _same_outputs(out, reference)


# -- faults of the workers themselves -------------------------------------------------------------


def test_a_worker_that_dies_fails_its_pairs_with_the_reason_and_the_run_goes_on(ray, folders, tmp_path):
    driver = os.getpid()

    def fragile(x, y):
        if os.getpid() != driver and bool((x[:, :, 0, 0] == 0).all()):  # A of 1.png: a black corner
            os._exit(1)  # a segfault, the OOM killer
        return ((x - y) ** 2).flatten(1).mean(1)

    fragile.higher_is_better = False
    pixels = np.asarray(Image.open(folders[0] / "1.png")).copy()
    pixels[0, 0] = 0
    Image.fromarray(pixels).save(folders[0] / "1.png")
    report = _finder(metric=fragile).run_dirs(*folders, batch_size=1).save(
        tmp_path / "out", progress=False, engine=_ray_engine(workers=1, chunk_size=1))
    statuses = {r.pair: (r.status, r.error) for r in report.rows}
    assert statuses["1.png"][0] == FAILED and "Ray worker was lost" in statuses["1.png"][1]
    assert "rerun to retry it" in statuses["1.png"][1]
    assert [pair for pair, (status, _) in statuses.items() if status == OK] == \
        ["0.png", "deep/4.png", "deep/5.png", "deep/6.png"]  # the queued pairs went to the restarted worker
    assert statuses["2.png"][0] == statuses["3.png"][0] == FAILED and "Ray" not in statuses["2.png"][1]


def test_a_worker_that_cannot_build_the_pipeline_stops_the_run_with_its_reason(ray, folders, tmp_path):
    driver = os.getpid()

    class OnlyHere(torch.nn.Module):
        higher_is_better = False

        def __init__(self):
            super().__init__()
            if os.getpid() != driver:
                raise ValueError("weights only on the driver")

        def forward(self, x, y):
            return ((x - y) ** 2).flatten(1).mean(1)

    class Plugin:
        @hookimpl
        def dfind_metrics(self):
            yield StageSpec("only-here", target=OnlyHere, higher_is_better=False)

    registry = fresh_registry()
    registry.register(Plugin(), "lab")
    finder = Finder(metric="only-here", strategy="gradient", device="cpu", registry=registry)
    with pytest.raises(EngineError, match="a Ray worker cannot start: .*weights only on the driver"):
        finder.run_dirs(*folders).save(tmp_path / "out", progress=False, engine=_ray_engine(workers=1))
    assert list((tmp_path / "out").iterdir()) == []  # no summary: an earlier run's would stay as it was


def test_more_than_the_cluster_holds_is_refused_before_any_work(ray, folders, tmp_path):
    with pytest.raises(EngineError, match=r"the Ray cluster has 2 CPUs and 0 GPUs, and 1 workers need 1 x 1 CPU and "
                                          r"1 x 1 GPU"):
        _finder().run_dirs(*folders).save(tmp_path / "out", progress=False,
                                          engine=_ray_engine(workers=1, gpus_per_worker=1))
    with pytest.raises(EngineError, match="3 workers need 3 x 1 CPU"):
        _finder().run_dirs(*folders).save(tmp_path / "out", progress=False, engine=_ray_engine(workers=3))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"workers": 0}, "at least 1 worker"),
    ({"cpus_per_worker": 0}, "cpus_per_worker must be more than 0"),
    ({"device": "cuda"}, "needs gpus_per_worker"),
])
def test_bad_engine_options_are_one_line_errors(ray, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        _ray_engine(**kwargs)


# -- the command line ---------------------------------------------------------------------------


def dfind(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_engine_ray_prints_and_writes_what_the_local_engine_does(ray, folders, tmp_path):
    local = dfind(*folders, "-m", "mse", "-q", "otsu", "-o", tmp_path / "local")
    remote = dfind(*folders, "-m", "mse", "-q", "otsu", "-o", tmp_path / "ray", "--engine", "ray",
                   "--workers", "2")
    assert remote.exit_code == local.exit_code == EXIT_PAIRS_FAILED, remote.output

    def per_pair(stdout: str) -> list[str]:  # pairs come in completion order; each line with its differences
        return sorted(line for line in stdout.splitlines() if " mse = " in line)

    assert per_pair(remote.stdout) == per_pair(local.stdout) and len(per_pair(local.stdout)) == 5
    assert "5 of 7 pairs compared, 2 failed" in remote.stdout.splitlines()
    assert sorted(remote.stderr.splitlines()) == sorted(local.stderr.splitlines())
    assert _rows(tmp_path / "ray") == _rows(tmp_path / "local")
    _same_outputs(tmp_path / "ray", tmp_path / "local")  # the shared colour scale included (JSON display)


def test_cli_engine_ray_prints_each_pairs_evaluation_against_truth(ray, folders, tmp_path):
    truth = tmp_path / "truth"
    for index, name in enumerate(NAMES):
        mask = np.zeros((24, 32) if index < 5 else (16, 20), np.uint8)
        mask[4:10, 6:14] = 255  # where _image brightened B
        (truth / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(truth / name)
    local = dfind(*folders, "--truth", truth, "-o", tmp_path / "local")
    remote = dfind(*folders, "--truth", truth, "-o", tmp_path / "ray", "--engine", "ray", "--workers", "2")
    assert remote.exit_code == local.exit_code == EXIT_PAIRS_FAILED, remote.output

    def evaluations(stdout: str) -> list[str]:
        lines = stdout.splitlines()
        return sorted(f"{lines[i - 1]} | {line}" for i, line in enumerate(lines) if line.startswith("truth ("))

    assert evaluations(remote.stdout) == evaluations(local.stdout) and len(evaluations(local.stdout)) == 5
    assert all(" mse = " in line for line in evaluations(remote.stdout))


def test_cli_ray_options_need_the_ray_engine_and_an_output_folder(folders, tmp_path):
    result = dfind(*folders, "--address", "auto", "--gpus-per-worker", "1", "-o", tmp_path / "out")
    assert result.exit_code == EXIT_ERROR and "--address, --gpus-per-worker: only with --engine ray" in result.stderr
    result = dfind(*folders, "--engine", "ray")
    assert result.exit_code == EXIT_ERROR and "give two folders and -o DIR" in result.stderr


def test_without_ray_the_engine_says_how_to_install_it(folders, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = dfind(*folders, "-o", tmp_path / "out", "--engine", "ray")
    assert result.exit_code == EXIT_ERROR
    assert result.stderr == 'dfind: error: the Ray engine needs Ray, which is not installed: pip install "dfind[ray]"\n'
    assert not (tmp_path / "out").exists()
    with pytest.raises(EngineError, match=r'pip install "dfind\[ray\]"'):
        resolve_engine("ray")


# -- the recipe that rebuilds a pipeline elsewhere ----------------------------------------------


def test_a_recipe_rebuilds_the_same_pipeline(registry):
    finder = Finder(preprocessor="highpass:cutoff=0.2", metric="ssim:win_size=7", strategy="gradient",
                    postprocessor=["percentile:p=90.0"], preset="default", device="cpu", crop_border=2)
    recipe = pickle.loads(pickle.dumps(FinderRecipe.of(finder)))
    assert recipe.shipped == () and recipe.autoload is False
    assert recipe.stages["metric"] == ("builtin.ssim", finder.metric.record["params"])
    assert recipe.build().config == finder.config


def test_a_recipe_carries_stages_registered_in_this_process(registry):
    cloudpickle = pytest.importorskip("ray.cloudpickle")

    def l1(x, y):
        return (x - y).abs().flatten(1).mean(1)

    handle = register_metric(l1, higher_is_better=False)
    finder = Finder(metric="l1", strategy="gradient", device="cpu")
    recipe = cloudpickle.loads(cloudpickle.dumps(FinderRecipe.of(finder)))
    handle.unregister()  # what the other process has: no such registration
    rebuilt = recipe.build()
    assert rebuilt.config == finder.config and rebuilt.metric.record["qualified_name"] == "local.l1"
    a, b = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    assert torch.equal(rebuilt.compute(a, b).score, finder.compute(a, b).score)


# -- pairing rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("pair_by", [PairBy.order(), PairBy.stem(strip_b="_x4_SR")])
def test_ray_runs_and_resumes_pairs_made_by_any_rule(ray, tmp_path, pair_by):
    """Workers get pairs whose files differ in name; outputs, summary and resume are the local engine's."""
    dir_a, dir_b = tmp_path / "gt", tmp_path / "sr"
    for index, name in enumerate(["baboon", "bird", "deep/comic"]):
        _image(dir_a / f"{name}.png", index)
        _image(dir_b / f"{name}_x4_SR.png", index, bright_box=True)
    local, remote = tmp_path / "local", tmp_path / "ray"
    expected = _finder().run_dirs(dir_a, dir_b, pair_by=pair_by).save(local, progress=False)
    report = _finder().run_dirs(dir_a, dir_b, pair_by=pair_by).save(remote, progress=False, engine=_ray_engine())
    assert [(r.pair, Path(r.b).name, r.status) for r in report.rows] == \
        [(r.pair, Path(r.b).name, r.status) for r in expected.rows] == \
        [("baboon.png", "baboon_x4_SR.png", OK), ("bird.png", "bird_x4_SR.png", OK),
         ("deep/comic.png", "comic_x4_SR.png", OK)]
    _same_outputs(remote, local)
    assert json.loads((remote / "summary.json").read_text())["pairing"] == pair_by.to_dict()
    resumed = _finder().run_dirs(dir_a, dir_b, pair_by=pair_by).save(remote, progress=False, engine=_ray_engine())
    assert resumed.counts == {"total": 3, OK: 0, FAILED: 0, SKIPPED: 3}
