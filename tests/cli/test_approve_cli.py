"""``dfind approve``: B images of a folder run promoted to the references, with a record.

Every test runs a real folder run (``dfind refs new -o out``) on small PNG files, then
approves through click's runner and checks the files on disk and ``approvals.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfcore.cli import EXIT_DIFFERENT, EXIT_ERROR, EXIT_OK
from tests.cli.test_batch_cli import dfind

THRESHOLD = 0.01  # MSE: between "changed" (a small box) and "worse" (a large one)


@pytest.fixture(autouse=True)
def _registry():
    from dfcore.testing import fresh_registry, using_registry

    with using_registry(fresh_registry()):
        yield


def _png(path: Path, seed: int, box: tuple[int, int] | None = None) -> Path:
    pixels = (np.random.default_rng(seed).random((24, 32, 3)) * 200).astype(np.uint8)
    if box is not None:
        pixels[: box[0], : box[1]] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, Path, Path]:
    """refs/ and new/ (same, changed a little, changed a lot, one deleted, two new) and out/, run with a gate."""
    refs, new, out = tmp_path / "refs", tmp_path / "new", tmp_path / "out"
    for seed, name in enumerate(("same.png", "changed.png", "worse.png", "gone.png")):
        _png(refs / name, seed)
    _png(new / "same.png", 0)
    _png(new / "changed.png", 1, box=(3, 4))
    _png(new / "worse.png", 2, box=(20, 30))
    _png(new / "added.png", 7)
    _png(new / "nested" / "added2.png", 8)
    result = dfind(refs, new, "-o", out, "-m", "mse", "-s", "difference", "--device", "cpu",
                   "--fail-above", THRESHOLD, "--quiet")
    assert result.exit_code == EXIT_DIFFERENT, result.output  # worse.png is beyond the gate
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fail_above"] == THRESHOLD
    scores = {row["pair"]: row["score"] for row in summary["pairs"]}
    assert scores["same.png"] == 0 and 0 < scores["changed.png"] < THRESHOLD < scores["worse.png"]
    return refs, new, out


def _approvals(out: Path) -> list[dict]:
    data = json.loads((out / "approvals.json").read_text())
    assert data["schema"] == 1
    return data["approvals"]


def test_failing_approves_the_pairs_beyond_the_runs_threshold(run: tuple[Path, Path, Path]) -> None:
    refs, new, out = run
    before = _sha(refs / "worse.png")
    dry = dfind("approve", out, "--failing", "--dry-run")
    assert dry.exit_code == EXIT_OK, dry.output
    worse = next(row for row in json.loads((out / "summary.json").read_text())["pairs"] if row["pair"] == "worse.png")
    assert dry.stdout.splitlines()[0] == (f"would approve worse.png (mse {worse['score']:.6g}): "
                                          f"{new / 'worse.png'} -> {refs / 'worse.png'}")
    assert dry.stdout.splitlines()[-1] == "would approve 1 of 1"
    assert _sha(refs / "worse.png") == before and not (out / "approvals.json").exists()

    done = dfind("approve", out, "--failing", "--user", "ci-bot")
    assert done.exit_code == EXIT_OK, done.output
    assert done.stdout.splitlines()[-2:] == [
        f"approved 1 of 1; recorded in {out / 'approvals.json'}",
        f"the results in {out} were made against the old references: rerun with --overwrite to check the new ones"]
    assert _sha(refs / "worse.png") == _sha(new / "worse.png") != before
    [entry] = _approvals(out)
    assert entry["pair"] == "worse.png" and entry["kind"] == "changed" and entry["user"] == "ci-bot"
    assert entry["metric"] == "mse" and entry["score"] > THRESHOLD
    assert entry["sha256"] == _sha(refs / "worse.png")
    assert Path(entry["source"]) == new / "worse.png" and Path(entry["destination"]) == refs / "worse.png"
    assert entry["time"].endswith("+00:00") and entry["dfind"]
    # a stricter threshold than the run's also picks changed.png; worse.png is the reference now
    stricter = dfind("approve", out, "--failing", "--fail-above", 0.0001)
    assert stricter.exit_code == EXIT_OK, stricter.output
    assert "approved changed.png" in stricter.stdout
    assert "unchanged worse.png: the reference has these bytes already" in stricter.stdout
    assert [e["pair"] for e in _approvals(out)] == ["worse.png", "changed.png"]  # appended
    # the next run passes its gate
    again = dfind(refs, new, "-o", out.parent / "out2", "-m", "mse", "-s", "difference", "--device", "cpu",
                  "--fail-above", 0.0001, "--quiet")
    assert again.exit_code == EXIT_OK, again.output


def test_names_and_patterns_approve_pairs_and_new_files(run: tuple[Path, Path, Path]) -> None:
    refs, new, out = run
    result = dfind("approve", out, "changed.png", "nested/*")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout.splitlines()[-2] == f"approved 2 of 2 (1 new); recorded in {out / 'approvals.json'}"
    assert _sha(refs / "changed.png") == _sha(new / "changed.png")
    assert _sha(refs / "nested" / "added2.png") == _sha(new / "nested" / "added2.png")  # added to the references
    kinds = {(e["pair"], e["kind"]) for e in _approvals(out)}
    assert kinds == {("changed.png", "changed"), ("nested/added2.png", "new")}
    assert _sha(refs / "worse.png") != _sha(new / "worse.png")  # not asked


def test_all_promotes_every_pair_and_new_file_and_keeps_deleted_references(run: tuple[Path, Path, Path]) -> None:
    refs, new, out = run
    result = dfind("approve", out, "--all")
    assert result.exit_code == EXIT_OK, result.output
    assert "unchanged same.png" in result.stdout
    assert result.stdout.splitlines()[-2].startswith("approved 4 of 5 (2 new)")
    for name in ("same.png", "changed.png", "worse.png", "added.png", "nested/added2.png"):
        assert _sha(refs / name) == _sha(new / name)
    assert (refs / "gone.png").is_file()  # a deleted screenshot's reference is the user's to remove
    assert sorted(e["pair"] for e in _approvals(out)) == ["added.png", "changed.png", "nested/added2.png", "worse.png"]
    rerun = dfind(refs, new, "-o", out.parent / "out2", "-m", "mse", "--device", "cpu", "--quiet")
    assert rerun.exit_code == EXIT_OK and json.loads((out.parent / "out2" / "summary.json").read_text())["only_b"] == []


@pytest.mark.parametrize(("args", "message"), [
    (["chnged.png"], ("dfind: error: unknown pair 'chnged.png': not a pair nor a new file of the run in {out}; "
                      "did you mean changed.png?")),
    (["gone.png"], ("dfind: error: gone.png: only in A (deleted in B); approve promotes B's files, delete the "
                    "reference by hand")),
    (["no/such/*"], ("dfind: error: unknown pair 'no/such/*': not a pair nor a new file of the run in {out} "
                     "(3 pairs, 2 new files)")),
])
def test_unknown_names_fail_in_one_line_and_copy_nothing(run: tuple[Path, Path, Path], args: list[str],
                                                        message: str) -> None:
    refs, _, out = run
    before = {p: _sha(p) for p in refs.rglob("*.png")}
    result = dfind("approve", out, "changed.png", *args)
    assert result.exit_code == EXIT_ERROR
    assert result.stderr == message.format(out=out) + "\n"
    assert {p: _sha(p) for p in refs.rglob("*.png")} == before and not (out / "approvals.json").exists()


def test_errors_name_their_cause(run: tuple[Path, Path, Path], tmp_path: Path) -> None:
    refs, new, out = run
    missing = dfind("approve", tmp_path / "elsewhere", "x.png")
    assert missing.exit_code == EXIT_ERROR
    assert missing.stderr == (f"dfind: error: {tmp_path / 'elsewhere'}: no run summary (summary.json); approve "
                              f"after a folder run, dfind REFS NEW -o {tmp_path / 'elsewhere'}\n")
    usage = dfind("approve", out)
    assert usage.exit_code == EXIT_ERROR and "name the pairs to approve" in usage.stderr
    # a reference folder that cannot be written (here a file where the folder should be): nothing copied
    shutil.rmtree(refs / "nested", ignore_errors=True)
    (refs / "nested").write_text("not a folder")
    blocked = dfind("approve", out, "changed.png", "nested/added2.png")
    assert blocked.exit_code == EXIT_ERROR
    assert blocked.stderr == f"dfind: error: {refs / 'nested'}: the reference must be a folder, and this is a file\n"
    assert _sha(refs / "changed.png") != _sha(new / "changed.png") and not (out / "approvals.json").exists()
    # a run without a gate: --failing needs a threshold
    ungated = tmp_path / "ungated"
    assert dfind(refs.parent / "refs", new, "-o", ungated, "-m", "mse", "--device", "cpu", "--quiet").exit_code == 0
    nothing = dfind("approve", ungated, "--failing")
    assert nothing.exit_code == EXIT_ERROR
    assert nothing.stderr == (f"dfind: error: {ungated}: the run recorded no --fail-above threshold; give one "
                              "(--fail-above T)\n")
    none_beyond = dfind("approve", ungated, "--failing", "--fail-above", 1.0)
    assert none_beyond.exit_code == EXIT_OK
    assert none_beyond.stdout == f"nothing to approve: no pair of {ungated} is beyond 1\n"


@pytest.mark.skipif(getattr(os, "geteuid", lambda: -1)() == 0, reason="root writes into read-only folders")
def test_a_read_only_reference_folder_fails_before_copying(run: tuple[Path, Path, Path]) -> None:
    refs, _, out = run
    refs.chmod(0o555)
    try:
        result = dfind("approve", out, "changed.png")
    finally:
        refs.chmod(0o755)
    assert result.exit_code == EXIT_ERROR
    assert result.stderr.startswith(f"dfind: error: {refs}: cannot write into the reference folder: ")
