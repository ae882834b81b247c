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

Region scores judge the list of regions a method reports ("the differences found"), each a
box ``(x0, y0, x1, y1)`` (end-exclusive) with a score, against the planted edits' boxes:

* ``region_precision``, ``region_recall``, ``region_f1``: a region and an edit *may match*
  when the region's box overlaps the edit's box grown by the hit@k tolerance (1% of the
  diagonal). Among the pairs that may match, a one-to-one assignment (Hungarian,
  ``scipy.optimize.linear_sum_assignment``) takes the most matches, and among those the
  largest summed IoU of the region's box with the grown edit box; precision = matches /
  regions reported, recall = matches / edits. A report with no region has precision 0.
* ``count_error``: regions reported minus edits planted; ``count_error_rel``: its absolute
  value over the number of edits.

Why overlap with the grown box and not an IoU threshold: a map is smoothed on purpose (the
default at four scales), so its region around a 10-px edit or a one-pixel line is several
times wider than the edit's box, and the box of a thin diagonal line is mostly empty; an
IoU of 0.5 would call most small edits missed although a person looking at the region
finds them. The tolerance is the one hit@k uses, so both scores agree on what "at the
edit" means. The one-to-one matching keeps what IoU would have caught: a region that
merges two edits finds one of them (the other is missed), and an edit cut into two
regions credits one (the other is a false region); so fragments cost precision and merges
cost recall, and a single region covering the whole image finds one edit, not all.

Larger map values mean "more different" for every score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

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


@dataclass(frozen=True)
class Reported:
    """A region a method reports: its box ``(x0, y0, x1, y1)``, end-exclusive, and its score."""

    box: tuple[int, int, int, int]
    score: float = 1.0


REGION_SCORES = ("region_precision", "region_recall", "region_f1", "count_error", "count_error_rel")


def _box_iou(p: Sequence[float], q: Sequence[float]) -> float:
    w = min(p[2], q[2]) - max(p[0], q[0])
    h = min(p[3], q[3]) - max(p[1], q[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)


def match_regions(regions: Sequence[Reported], boxes: Sequence[tuple[int, int, int, int]],
                  diagonal: float) -> list[tuple[int, int]]:
    """The one-to-one matching of reported regions to edit boxes, as ``(region, edit)`` index pairs.

    A pair may match when the region's box overlaps the edit's box grown by 1% of the
    diagonal; the assignment takes the most such matches, then the largest summed IoU.
    """
    grow = BOX_GROWTH * diagonal
    grown = [(x0 - grow, y0 - grow, x1 + grow, y1 + grow) for x0, y0, x1, y1 in boxes]
    if not regions or not boxes:
        return []
    iou = np.array([[_box_iou(r.box, g) for g in grown] for r in regions])
    allowed = iou > 0
    # An allowed pair is worth M plus its IoU (at most 1), M above the most matches possible,
    # so no gain in IoU outweighs one more match.
    worth = min(len(regions), len(boxes)) + 1.0
    weight = np.where(allowed, worth + iou, 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c]]


def region_scores(regions: Sequence[Reported], boxes: Sequence[tuple[int, int, int, int]],
                  diagonal: float) -> dict[str, float]:
    """Precision, recall and F1 of ``regions`` against the edits' ``boxes``, and the count error."""
    if not boxes:
        raise ValueError("region scores need at least one edit box")
    matched = len(match_regions(regions, boxes, diagonal))
    precision = matched / len(regions) if regions else 0.0
    recall = matched / len(boxes)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    error = len(regions) - len(boxes)
    return {"region_precision": precision, "region_recall": recall, "region_f1": f1,
            "count_error": float(error), "count_error_rel": abs(error) / len(boxes)}


def score_map(diff_map: np.ndarray, truth: np.ndarray, boxes: Sequence[tuple[int, int, int, int]],
              regions: Sequence[Reported] | None = None) -> dict[str, float]:
    """Every score of one map: ``auroc``, ``ap``, ``dice`` and ``hit``, and with ``regions`` the region scores."""
    scores = {**pixel_scores(diff_map, truth), "hit": hit_at_k(diff_map, boxes)}
    if regions is not None:
        scores.update(region_scores(regions, boxes, math.hypot(*np.shape(diff_map))))
    return scores
