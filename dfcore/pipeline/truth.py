"""Ground-truth masks of known changes, and scoring results against them.

``Finder.run(a, b, truth=...)`` takes a mask as a file, PIL image, array, tensor or a list of
them (one per sample); :func:`truth_masks` reads and checks them before anything is
computed, :func:`evaluate_results` scores each result (:mod:`dfcore.pipeline.evaluation`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dfcore.errors import InputError, ShapeError
from dfcore.io.images import as_batch
from dfcore.io.masks import as_mask, check_size, read_mask
from dfcore.pipeline.conventions import fit_top_left
from dfcore.pipeline.evaluation import evaluate

if TYPE_CHECKING:
    from dfcore.pipeline.result import DiffResult


def evaluate_results(results: Sequence[DiffResult], truths: Sequence[np.ndarray], source: str | None = None) -> None:
    """Score each result's map and mask against its truth mask (``result.evaluation``)."""
    for result, mask in zip(results, truths):
        mask = fit_top_left(mask, *result.map.shape)  # a size policy may have cropped or padded A
        result.evaluation = evaluate(result.map, mask, result.mask, result.valid, name=source)


def truth_masks(truth: Any, n: int, size: Sequence[int]) -> list[np.ndarray]:
    """``n`` HxW bool truth masks from what :meth:`dfcore.Finder.run` accepts, checked against ``size``."""
    if isinstance(truth, (list, tuple)):
        if len(truth) != n:
            raise ShapeError(f"{len(truth)} truth masks given for a batch of {n} pairs")
        masks = [mask for item in truth for mask in truth_masks(item, 1, size)]
    elif isinstance(truth, (str, os.PathLike)):
        masks = [read_mask(truth)]
    elif isinstance(truth, torch.Tensor):
        if truth.is_floating_point() and not bool(torch.isfinite(truth).all()):
            raise InputError("truth: the truth mask holds NaN or infinite values")
        batch, _ = as_batch(truth.detach() != 0, "cpu", "truth")  # the tensor layout rule of images
        masks = [sample.any(0).numpy() for sample in batch != 0]
    else:
        masks = [as_mask(truth)]
    if len(masks) == 1 and n > 1:
        masks = masks * n
    if len(masks) != n:
        raise ShapeError(f"{len(masks)} truth masks given for a batch of {n} pairs")
    name = os.fspath(truth) if isinstance(truth, (str, os.PathLike)) else "truth"
    for mask in masks:
        check_size(mask, int(size[0]), int(size[1]), name)
    return masks

