"""``Finder.run(a, b, truth=...)``: results scored against a ground-truth mask."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from dfcore import Finder
from dfcore.errors import InputError, ShapeError
from dfcore.testing import fresh_registry, planted_pair

BOX = (20, 30, 40, 60)  # y0, x0, y1, x1


@pytest.fixture(scope="module")
def finder():
    return Finder(metric="mse", strategy="difference", postprocessor="otsu:min_area=4", registry=fresh_registry(),
                  device="cpu")


@pytest.fixture(scope="module")
def pair():
    return planted_pair(64, 80, boxes=(BOX,), delta=0.3)


def test_truth_as_array_tensor_and_file_give_the_same_evaluation(finder, pair, tmp_path):
    a, b, truth = pair
    Image.fromarray(truth.numpy().astype(np.uint8) * 255).save(tmp_path / "truth.png")
    results = [finder.run(a, b, truth=t) for t in (truth.numpy(), truth, tmp_path / "truth.png")]
    for result in results:
        evaluation = result.evaluation
        assert evaluation.pixels == 64 * 80 and evaluation.positives == 20 * 30
        assert evaluation.auroc > 0.99 and evaluation.average_precision > 0.9
        assert evaluation.dice > 0.9 and evaluation.jaccard > 0.8
        assert evaluation.predicted == int(result.mask.sum())
        assert evaluation.best_dice >= evaluation.dice - 1e-12
    assert results[0].evaluation.to_dict() | {"truth": None} == results[2].evaluation.to_dict() | {"truth": None}
    assert results[2].evaluation.truth == str(tmp_path / "truth.png")


def test_without_a_postprocessor_mask_only_map_scores(pair):
    a, b, truth = pair
    result = Finder(metric="mse", strategy="difference", registry=fresh_registry(), device="cpu").run(a, b, truth=truth)
    assert result.mask is None
    assert result.evaluation.dice is None and result.evaluation.jaccard is None
    assert result.evaluation.best_dice > 0.9


def test_evaluation_is_in_the_json(finder, pair, tmp_path):
    a, b, truth = pair
    files = finder.run(a, b, truth=truth, name="pair.png").save(tmp_path)
    data = json.loads(files["json"].read_text())
    assert set(data["evaluation"]) >= {"dice", "jaccard", "auroc", "average_precision", "best_dice",
                                       "best_threshold", "positives", "pixels", "map_score"}
    assert data["evaluation"]["positives"] == 600
    assert data["regions"] and "mask" in data["files"]


def test_no_truth_no_evaluation(finder, pair, tmp_path):
    a, b, _ = pair
    result = finder.run(a, b)
    assert result.evaluation is None
    assert "evaluation" not in result.to_dict()


def test_batches_take_one_mask_for_all_or_one_per_sample(finder, pair):
    a, b, truth = pair
    batch_a, batch_b = torch.cat([a, a]), torch.cat([b, a])
    shared = finder.run(batch_a, batch_b, truth=truth)
    assert shared[0].evaluation.auroc > 0.99 and shared[1].evaluation.dice == 0.0  # nothing found where truth says
    per_sample = finder.run(batch_a, batch_b, truth=[truth, torch.zeros_like(truth)])
    assert per_sample[1].evaluation.dice == 1.0 and per_sample[1].evaluation.auroc is None  # both empty
    stacked = finder.run(batch_a, batch_b, truth=torch.stack([truth, torch.zeros_like(truth)])[:, None])
    assert stacked[1].evaluation.dice == 1.0
    with pytest.raises(ShapeError, match="3 truth masks given for a batch of 2 pairs"):
        finder.run(batch_a, batch_b, truth=[truth] * 3)


def test_bad_truths_fail_before_computing(finder, pair, tmp_path, monkeypatch):
    a, b, _ = pair
    calls = []
    monkeypatch.setattr(finder, "compute", lambda *args: calls.append(args))
    with pytest.raises(ShapeError, match=r"the truth mask is 40x30 \(WxH\) but the map is 80x64"):
        finder.run(a, b, truth=np.zeros((30, 40), bool))
    with pytest.raises(InputError, match="no such file"):
        finder.run(a, b, truth=tmp_path / "missing.png")
    assert calls == []


def test_folders_pair_truth_masks_by_relative_path(finder, pair, tmp_path):
    a, b, truth = pair
    for folder in ("a", "b", "t"):
        (tmp_path / folder / "sub").mkdir(parents=True)
    to_png = lambda t: Image.fromarray((t[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))  # noqa: E731
    for rel in ("one.png", "sub/two.png"):
        to_png(a).save(tmp_path / "a" / rel)
        to_png(b).save(tmp_path / "b" / rel)
    Image.fromarray(truth.numpy().astype(np.uint8) * 255).save(tmp_path / "t" / "one.png")
    Image.fromarray(truth.numpy().astype(np.uint8) * 255).convert("RGB").save(tmp_path / "t" / "sub" / "two.tif")
    results = list(finder.run(tmp_path / "a", tmp_path / "b", truth=tmp_path / "t"))
    assert [r.name for r in results] == ["one.png", "sub/two.png"]
    assert all(r.evaluation.dice > 0.9 for r in results)
    (tmp_path / "t" / "sub" / "two.tif").unlink()
    outcome = list(finder.run(tmp_path / "a", tmp_path / "b", truth=tmp_path / "t", on_error="record"))
    assert outcome[0].ok and not outcome[1].ok
    assert "no single truth mask" in outcome[1].error
    with pytest.raises(InputError, match="the truth must be a folder of masks"):
        finder.run(tmp_path / "a", tmp_path / "b", truth=tmp_path / "t" / "one.png")
