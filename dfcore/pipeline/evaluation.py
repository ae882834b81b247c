"""Scoring a difference map against a ground-truth mask of where the images really differ.

``Finder.run(a, b, truth=MASK)`` and ``dfind A B --truth MASK`` call :func:`evaluate`. The
map is scored by its magnitude ``|map|`` (for the usual non-negative maps that is the map):

* ``auroc``: area under the pixel ROC curve; 0.5 is chance, 1 is a map whose every changed
  pixel outranks every unchanged one. Ties count one half.
* ``average_precision``: the step-wise area under the precision-recall curve,
  ``sum_k (R_k - R_{k-1}) P_k`` over the distinct values of the map (as scikit-learn's
  ``average_precision_score``; no interpolation).
* ``best_dice``, ``best_jaccard``, ``best_threshold``: the Dice and Jaccard of the mask
  ``|map| >= t`` at the ``t`` that maximises Dice: an oracle threshold, so an upper bound on
  what any global threshold of this map can reach.
* ``dice``, ``jaccard``: of the result's own mask, when a postprocessor made one.

Only the pixels that were compared count (``valid``). Undefined values are ``None``: AUROC
without both changed and unchanged pixels, the others without changed pixels. Dice and
Jaccard of two empty masks are 1 (perfect agreement). Truth masks are read by
:mod:`dfcore.io.masks`.

This module needs only numpy; it holds no stage code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from dfcore.errors import ShapeError
from dfcore.io.masks import check_size


@dataclass(frozen=True)
class Evaluation:
    """How well a map (and its mask) match the truth; see the module docstring."""

    pixels: int
    positives: int
    auroc: float | None
    average_precision: float | None
    best_dice: float | None
    best_jaccard: float | None
    best_threshold: float | None
    dice: float | None = None
    jaccard: float | None = None
    predicted: int | None = None
    truth: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["map_score"] = "|map|"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """The evaluation a pair's JSON holds (what :meth:`to_dict` wrote)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def summary(self) -> str:
        """One line for the terminal."""
        parts = []
        if self.dice is not None:
            parts += [f"dice {_fmt(self.dice)}", f"jaccard {_fmt(self.jaccard)}"]
        parts += [f"AUROC {_fmt(self.auroc)}", f"AP {_fmt(self.average_precision)}"]
        best = f"best dice {_fmt(self.best_dice)}"
        if self.best_threshold is not None:
            best += f" at |map| >= {self.best_threshold:.4g}"
        parts.append(best)
        return f"truth ({self.positives} of {self.pixels} px changed): " + ", ".join(parts)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


# -- scores ----------------------------------------------------------------------------------


def _curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives of ``scores >= t`` for each distinct score ``t``, descending."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # last index of each distinct value
    tps = np.cumsum(labels, dtype=np.int64)[last]
    fps = (last + 1) - tps
    return tps, fps, scores[last]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` for bool ``labels``; ``None`` if one class is absent."""
    scores, labels = _flat(scores, labels)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    tps, fps, _ = _curve(scores, labels)
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Step-wise average precision ``sum_k (R_k - R_{k-1}) P_k``; ``None`` without positives."""
    scores, labels = _flat(scores, labels)
    positives = int(labels.sum())
    if positives == 0:
        return None
    tps, fps, _ = _curve(scores, labels)
    precision = tps / (tps + fps)
    recall = np.r_[0.0, tps / positives]
    return float(np.sum(np.diff(recall) * precision))


def best_dice(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float] | None:
    """``(dice, t)``: the largest Dice of ``scores >= t`` over all ``t``; ``None`` without positives."""
    scores, labels = _flat(scores, labels)
    positives = int(labels.sum())
    if positives == 0:
        return None
    tps, fps, thresholds = _curve(scores, labels)
    dice_values = 2.0 * tps / (tps + fps + positives)
    best = int(np.argmax(dice_values))
    return float(dice_values[best]), float(thresholds[best])


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient of two bool masks; 1 when both are empty."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * int((prediction & truth).sum()) / total


def jaccard(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Jaccard index (intersection over union) of two bool masks; 1 when both are empty."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    union = int((prediction | truth).sum())
    return 1.0 if union == 0 else int((prediction & truth).sum()) / union


def _flat(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64).ravel(), np.asarray(labels, dtype=bool).ravel()
    if scores.shape != labels.shape:
        raise ShapeError(f"{scores.size} scores but {labels.size} labels")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    return scores, labels


def evaluate(map2d: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None,
             valid: np.ndarray | None = None, name: str | None = None) -> Evaluation:
    """Score an HxW map (and optionally its HxW bool mask) against an HxW bool truth mask.

    Args:
        map2d: HxW difference map, larger = more different (its magnitude is scored).
        truth: HxW bool, true where the images really differ.
        mask: HxW bool mask of detected change, or ``None``.
        valid: HxW bool of the pixels that were compared, or ``None`` (all).
        name: where the truth came from (recorded, and named in errors).
    """
    map2d = np.asarray(map2d)
    truth = np.asarray(truth, dtype=bool)
    check_size(truth, *map2d.shape, name=name or "truth")
    keep = np.ones(map2d.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
    scores, labels = np.abs(map2d[keep]), truth[keep]
    best = best_dice(scores, labels)
    values: dict[str, Any] = {}
    if mask is not None:
        predicted = np.asarray(mask, dtype=bool)[keep]
        values = {"dice": dice(predicted, labels), "jaccard": jaccard(predicted, labels),
                  "predicted": int(predicted.sum())}
    return Evaluation(
        pixels=int(labels.size),
        positives=int(labels.sum()),
        auroc=roc_auc(scores, labels),
        average_precision=average_precision(scores, labels),
        best_dice=best[0] if best else None,
        best_jaccard=best[0] / (2.0 - best[0]) if best else None,
        best_threshold=best[1] if best else None,
        truth=name,
        **values,
    )


__all__ = ["Evaluation", "average_precision", "best_dice", "dice", "evaluate", "jaccard", "roc_auc"]
