"""The benchmark's scores on hand-made maps whose right answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.quality.scores import find_peaks, hit_at_k, hits, pixel_scores, score_map

H, W = 120, 160
DIAG = math.hypot(H, W)  # 200 px: the boxes grow by 2 px, the strike disk is 4 px


def truth_and_boxes() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    truth = np.zeros((H, W), bool)
    boxes = [(10, 10, 30, 25), (100, 20, 112, 60), (60, 80, 90, 110)]
    for x0, y0, x1, y1 in boxes:
        truth[y0:y1, x0:x1] = True
    return truth, boxes


def test_a_perfect_map_scores_one_everywhere():
    truth, boxes = truth_and_boxes()
    scores = score_map(truth.astype(float), truth, boxes)
    assert scores == pytest.approx({"auroc": 1.0, "ap": 1.0, "dice": 1.0, "hit": 1.0})


def test_a_constant_map_has_auroc_one_half_and_finds_nothing():
    truth, boxes = truth_and_boxes()
    constant = np.full((H, W), 0.7)
    scores = score_map(constant, truth, boxes)
    assert scores["auroc"] == pytest.approx(0.5)
    assert scores["ap"] == pytest.approx(truth.mean())  # precision of "everything is changed"
    assert find_peaks(constant, 3) == [] and scores["hit"] == 0.0


def test_an_inverted_map_has_auroc_zero():
    truth, _ = truth_and_boxes()
    assert pixel_scores((~truth).astype(float), truth)["auroc"] == pytest.approx(0.0)


def test_a_blob_outside_every_box_scores_no_hit():
    truth, boxes = truth_and_boxes()
    yy, xx = np.mgrid[:H, :W]
    blob = np.exp(-((yy - 100) ** 2 + (xx - 20) ** 2) / (2 * 4.0**2))  # bottom-left, far from the boxes
    assert hit_at_k(blob, boxes) == 0.0
    assert hit_at_k(blob + 0.5 * truth, boxes) == pytest.approx(2 / 3)  # the blob wastes one of the three peaks


def test_peaks_are_the_strongest_blobs_each_struck_out_once():
    yy, xx = np.mgrid[:H, :W]
    diff_map = np.zeros((H, W))
    for (y, x), height in (((20, 20), 1.0), ((90, 130), 0.6), ((60, 60), 0.3)):
        diff_map += height * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 3.0**2))
    assert find_peaks(diff_map, 3) == [(20, 20), (90, 130), (60, 60)]


def test_a_wide_plateau_is_struck_out_at_once():
    diff_map = np.zeros((H, W))
    diff_map[20:100, 20:120] = 1.0  # much wider than the strike disk: its component goes as a whole
    diff_map[50:54, 140:144] = 0.5
    (y0, x0), (y1, x1) = find_peaks(diff_map, 2)
    assert 20 <= y0 < 100 and 20 <= x0 < 120
    assert 50 <= y1 < 54 and 140 <= x1 < 144


def test_a_peak_counts_inside_the_box_grown_by_one_percent_of_the_diagonal():
    box = (50, 50, 60, 60)  # end-exclusive; grown by 2 px: x in [48, 62)
    assert hits([(55, 48)], [box], DIAG) == [True]
    assert hits([(55, 61)], [box], DIAG) == [True]
    assert hits([(55, 62)], [box], DIAG) == [False]
    assert hits([(40, 55)], [box], DIAG) == [False]


def test_hit_at_k_uses_as_many_peaks_as_boxes_unless_told():
    truth, boxes = truth_and_boxes()
    perfect = truth.astype(float)
    assert hit_at_k(perfect, boxes[:1]) == 1.0
    assert hit_at_k(perfect, boxes, k=1) == pytest.approx(1 / 3)


def test_bad_maps_are_refused():
    truth, boxes = truth_and_boxes()
    with pytest.raises(ValueError, match="NaN or infinite"):
        score_map(np.full((H, W), np.nan), truth, boxes)
    with pytest.raises(ValueError, match="differ in shape"):
        pixel_scores(np.zeros((H, W + 1)), truth)
    with pytest.raises(ValueError, match="both changed and unchanged"):
        pixel_scores(np.zeros((H, W)), np.zeros((H, W), bool))
    with pytest.raises(ValueError, match="at least one box"):
        hit_at_k(np.zeros((H, W)), [])
