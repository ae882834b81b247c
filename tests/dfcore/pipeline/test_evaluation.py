"""``dfcore.evaluation``: scoring a map against a truth mask (reference: scikit-learn)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dfcore.errors import InputError, ShapeError
from dfcore.io.masks import as_mask, read_mask
from dfcore.pipeline.evaluation import Evaluation, average_precision, best_dice, dice, evaluate, jaccard, roc_auc

metrics = pytest.importorskip("sklearn.metrics")


def _cases():
    rng = np.random.default_rng(0)
    for index in range(40):
        n = int(rng.integers(2, 400))
        labels = rng.random(n) < rng.uniform(0.05, 0.95)
        if labels.all() or not labels.any():
            labels[0] = not labels[0]
        # every other case has many ties, as quantised maps do
        scores = rng.integers(0, 6, n) / 5.0 if index % 2 else rng.random(n) + labels * rng.uniform(0, 1)
        yield scores, labels


@pytest.mark.parametrize(("scores", "labels"), list(_cases()))
def test_auroc_and_average_precision_match_scikit_learn(scores, labels):
    assert roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(scores, labels) == pytest.approx(metrics.average_precision_score(labels, scores),
                                                              abs=1e-12)


def test_best_dice_is_the_best_over_all_thresholds():
    for scores, labels in list(_cases())[:10]:
        value, threshold = best_dice(scores, labels)
        brute = max(metrics.f1_score(labels, scores >= t) for t in np.unique(scores))  # F1 = Dice
        assert value == pytest.approx(brute)
        assert dice(scores >= threshold, labels) == pytest.approx(value)


def test_hand_computed_values():
    truth = np.array([[1, 1, 0, 0]], bool)
    assert dice(np.array([[1, 0, 1, 0]], bool), truth) == 0.5  # 2*1 / (2+2)
    assert jaccard(np.array([[1, 0, 1, 0]], bool), truth) == pytest.approx(1 / 3)  # 1 / 3
    assert dice(truth, truth) == jaccard(truth, truth) == 1.0
    assert dice(~truth, truth) == jaccard(~truth, truth) == 0.0
    empty = np.zeros((2, 2), bool)
    assert dice(empty, empty) == jaccard(empty, empty) == 1.0
    # perfect ranking, reversed ranking, constant map
    map2d = np.array([[0.9, 0.8, 0.1, 0.0]])
    assert roc_auc(map2d, truth) == 1.0 and average_precision(map2d, truth) == 1.0
    assert roc_auc(-map2d, truth) == 0.0
    assert roc_auc(np.zeros(4), truth) == 0.5
    assert average_precision(np.zeros(4), truth) == 0.5  # precision = share of positives


def test_evaluate_scores_magnitude_mask_and_valid_pixels():
    truth = np.zeros((4, 5), bool)
    truth[1:3, 1:3] = True
    map2d = np.where(truth, -0.8, 0.1)  # signed: the magnitude is scored
    mask = truth.copy()
    mask[0, 0] = True
    result = evaluate(map2d, truth, mask)
    assert result.auroc == 1.0 and result.average_precision == 1.0
    assert result.best_dice == 1.0 and result.best_jaccard == 1.0 and result.best_threshold == pytest.approx(0.8)
    assert result.dice == pytest.approx(2 * 4 / (5 + 4)) and result.jaccard == pytest.approx(4 / 5)
    assert (result.pixels, result.positives, result.predicted) == (20, 4, 5)
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False  # the false positive was not compared
    assert evaluate(map2d, truth, mask, valid).dice == 1.0
    data = result.to_dict()
    assert data["map_score"] == "|map|" and data["dice"] == result.dice


def test_evaluate_without_mask_and_degenerate_truths():
    map2d = np.random.default_rng(0).random((6, 6))
    result = evaluate(map2d, np.zeros((6, 6), bool))
    assert result.dice is None and result.jaccard is None  # no mask was made
    assert result.auroc is None and result.average_precision is None and result.best_dice is None
    assert "AUROC n/a" in result.summary()
    full = evaluate(map2d, np.ones((6, 6), bool))
    assert full.auroc is None and full.average_precision == 1.0


def test_summary_is_one_line_with_every_number():
    truth = np.zeros((8, 8), bool)
    truth[2:5, 2:5] = True
    text = evaluate(truth * 1.0, truth, truth).summary()
    assert "\n" not in text
    for word in ("dice 1.0000", "jaccard 1.0000", "AUROC 1.0000", "AP 1.0000", "best dice 1.0000 at |map| >= 1"):
        assert word in text


def test_an_evaluation_comes_back_from_its_json_record():
    truth = np.zeros((8, 8), bool)
    truth[2:5, 2:5] = True
    original = evaluate(np.arange(64.0).reshape(8, 8) * truth, truth, truth, name="truth.png")
    record = json.loads(json.dumps(original.to_dict()))  # as a pair's JSON holds it
    assert Evaluation.from_dict(record) == original
    assert Evaluation.from_dict(record).summary() == original.summary()


def test_size_mismatch_is_a_one_line_error():
    with pytest.raises(ShapeError, match=r"^truth.png: the truth mask is 5x4 \(WxH\) but the map is 6x4$"):
        evaluate(np.zeros((4, 6)), np.zeros((4, 5), bool), name="truth.png")


def test_masks_from_arrays_and_files(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[1, 2, 1] = 7
    assert as_mask(rgb).sum() == 1 and as_mask(rgb)[1, 2]
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 3] = 255  # opaque black: nothing changed
    assert not as_mask(rgba).any()
    assert as_mask(np.array([[0.0, 0.2]])).tolist() == [[False, True]]
    with pytest.raises(ShapeError, match="HxW or HxWxC"):
        as_mask(np.zeros((2, 3, 4, 5)))
    with pytest.raises(InputError, match="NaN"):
        as_mask(np.array([[np.nan, 0.0]]))
    grey = np.zeros((5, 6), np.uint8)
    grey[1:3, 2:4] = 255
    Image.fromarray(grey).save(tmp_path / "m.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "m16.png")
    Image.fromarray(np.stack([grey, grey, grey, np.full_like(grey, 255)], -1)).save(tmp_path / "rgba.png")
    Image.fromarray(grey).convert("P").save(tmp_path / "palette.png")
    for name in ("m.png", "m16.png", "rgba.png", "palette.png"):
        np.testing.assert_array_equal(read_mask(tmp_path / name), grey > 0, err_msg=name)
    with pytest.raises(InputError, match="no such file"):
        read_mask(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read the truth mask"):
        read_mask(tmp_path / "bad.png")


def test_evaluation_module_needs_only_numpy():
    import subprocess
    import sys

    code = "import sys, dfcore.evaluation; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
