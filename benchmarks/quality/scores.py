"""Scores of a difference map against an exact change mask, independent of dfind's code.

* ``auroc``: pixel-level area under the ROC curve (scikit-learn's ``roc_auc_score``).
* ``ap``: pixel-level average precision (scikit-learn's ``average_precision_score``).
* ``dice``: the best Dice coefficient over all thresholds of the map,
  ``max 2PR / (P + R)`` along scikit-learn's precision-recall curve.
* ``hit``: hit@k, the share of planted edits found by the k strongest blobs, k = the number of
  edits. The map (shifted so its minimum is 0) is smoothed with a Gaussian of sigma 0.3% of
  the image diagonal; the strongest remaining value is a peak; its connected component
  (8-connected) above 10% of that peak and a disk of radius 2% of the diagonal around it are
  struck out; this repeats k times, or until nothing above 0 is left. An edit is found when
  a peak falls inside its box grown by 1% of the diagonal.

Larger map values mean "more different" for every score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

SMOOTH = 0.003
STRIKE_LEVEL = 0.1
STRIKE_RADIUS = 0.02
BOX_GROWTH = 0.01


def _check(diff_map: np.ndarray, truth: np.ndarray | None = None) -> np.ndarray:
    diff_map = np.asarray(diff_map, dtype=np.float64)
    if diff_map.ndim != 2:
        raise ValueError(f"a map must be HxW, got shape {diff_map.shape}")
    if not np.isfinite(diff_map).all():
        raise ValueError("the map holds NaN or infinite values")
    if truth is not None and truth.shape != diff_map.shape:
        raise ValueError(f"map {diff_map.shape} and truth {truth.shape} differ in shape")
    return diff_map


def pixel_scores(diff_map: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """AUROC, average precision and best Dice of ``diff_map`` (HxW) against ``truth`` (HxW bool)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    values = _check(diff_map, truth).ravel()
    labels = np.asarray(truth, dtype=bool).ravel()
    if labels.all() or not labels.any():
        raise ValueError("the truth mask must hold both changed and unchanged pixels")
    precision, recall, _ = precision_recall_curve(labels, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "auroc": float(roc_auc_score(labels, values)),
        "ap": float(average_precision_score(labels, values)),
        "dice": float(dice.max()),
    }


def find_peaks(diff_map: np.ndarray, k: int) -> list[tuple[int, int]]:
    """The ``k`` strongest blobs of a map as ``(y, x)`` peaks, by the hit@k procedure."""
    diff_map = _check(diff_map)
    diagonal = math.hypot(*diff_map.shape)
    work = ndimage.gaussian_filter(diff_map - diff_map.min(), SMOOTH * diagonal, mode="nearest")
    yy, xx = np.ogrid[: work.shape[0], : work.shape[1]]
    radius2 = (STRIKE_RADIUS * diagonal) ** 2
    eight = np.ones((3, 3), bool)
    peaks: list[tuple[int, int]] = []
    for _ in range(k):
        index = int(np.argmax(work))
        y, x = divmod(index, work.shape[1])
        peak = work[y, x]
        if not peak > 0:
            break
        peaks.append((y, x))
        labels, _ = ndimage.label(work > STRIKE_LEVEL * peak, structure=eight)
        strike = (labels == labels[y, x]) | ((yy - y) ** 2 + (xx - x) ** 2 <= radius2)
        work[strike] = -np.inf
    return peaks


def hits(peaks: Sequence[tuple[int, int]], boxes: Sequence[tuple[int, int, int, int]], diagonal: float) -> list[bool]:
    """For each box ``(x0, y0, x1, y1)`` (end-exclusive): does a peak fall inside it, grown by 1% of the diagonal?"""
    grow = BOX_GROWTH * diagonal
    found = []
    for x0, y0, x1, y1 in boxes:
        found.append(any(x0 - grow <= x < x1 + grow and y0 - grow <= y < y1 + grow for y, x in peaks))
    return found


def hit_at_k(diff_map: np.ndarray, boxes: Sequence[tuple[int, int, int, int]], k: int | None = None) -> float:
    """The share of ``boxes`` found by the ``k`` strongest blobs (``k`` defaults to the number of boxes)."""
    if not boxes:
        raise ValueError("hit@k needs at least one box")
    peaks = find_peaks(diff_map, len(boxes) if k is None else k)
    return float(np.mean(hits(peaks, boxes, math.hypot(*np.shape(diff_map)))))


def score_map(diff_map: np.ndarray, truth: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> dict[str, float]:
    """Every score of one map: ``auroc``, ``ap``, ``dice`` and ``hit``."""
    return {**pixel_scores(diff_map, truth), "hit": hit_at_k(diff_map, boxes)}
