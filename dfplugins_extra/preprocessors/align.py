"""``align``: register B onto A with a global transform, so a diff shows changes, not misregistration.

A pairwise preprocessor: it sees both images, estimates the transform that maps each pixel of
A to its counterpart in B, resamples B there and hands both images on to the metric on A's
pixel grid, with a mask of the pixels of A that have a counterpart in B.

Estimation runs on the host, by nature: OpenCV on grey copies of the images, coarse to fine.
It is made robust to the local changes a diff is looking for:

1. Initial guesses (copies of at most 256 px): phase correlation (a translation, any size)
   and SIFT keypoints matched with Lowe's ratio test and fitted by RANSAC (a similarity; wide
   capture range, edits are outliers). The guess that correlates best is refined first.
2. Intensity refinement: ECC (Evangelidis and Psarakis 2008, ``cv2.findTransformECC``), which
   maximises the correlation coefficient, so a global gain or offset does not matter.
3. Robust re-weighting: blobs whose smoothed residual stands far above the typical residual
   (local edits) are masked out and ECC runs again, twice. ``auto`` compares the models here.
4. The chosen model is refined once more on copies of at most ``max_size`` px.

The warp itself runs in torch (``grid_sample``) on the input's device, so it is
differentiable in B and the output lies exactly on A's grid. See ``docs/alignment.md``.

References:
    G. D. Evangelidis, E. Z. Psarakis, "Parametric Image Alignment Using Enhanced Correlation
    Coefficient Maximization", IEEE TPAMI 30(10), 2008.
    D. G. Lowe, "Distinctive Image Features from Scale-Invariant Keypoints", IJCV 60, 2004.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.contracts import PairOutput
from dfcore.errors import DfindError, StageError
from dfcore.ops.checks import check_pair

MODELS = ("translation", "similarity", "affine", "homography")
#: Degrees of freedom of each model, for ``auto``.
DOF = {"translation": 2, "similarity": 4, "affine": 6, "homography": 8}
#: ``auto`` keeps the model with the smallest residual x (1 + AUTO_PENALTY x degrees of freedom).
AUTO_PENALTY = 0.02
#: Smallest side (in pixels, at estimation size) on which a transform is estimated.
MIN_SIDE = 16
#: Below this standard deviation (grey levels in [0, 1]) an image has nothing to align on.
MIN_CONTRAST = 2e-3
#: An estimate that leaves less than this fraction of A with a counterpart in B is refused.
MIN_OVERLAP = 0.5
#: An estimate after which A and B correlate less than this over the fit pixels is refused.
MIN_CORRELATION = 0.5
#: Long side of the level on which the initial guesses and the outlier rounds run.
COARSE_SIZE = 256
#: Residual smoothing (Gaussian sigma, pixels) and the outlier rule: median + K x MAD, at least FLOOR.
OUTLIER_SIGMA, OUTLIER_K, OUTLIER_FLOOR = 2.0, 8.0, 0.02
#: ECC stops when an iteration raises the correlation coefficient by less than this.
ECC_EPS = 1e-6
#: When more than this fraction of the overlap looks changed, no pixel is rejected as a local edit.
MAX_OUTLIERS = 0.5


class AlignmentError(DfindError):
    """The transform between the two images could not be estimated."""


# -- geometry -------------------------------------------------------------------------------


def apply_matrix(matrix: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map pixel coordinates through a 3x3 matrix (homogeneous division included)."""
    u = matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]
    v = matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]
    w = matrix[2, 0] * x + matrix[2, 1] * y + matrix[2, 2]
    return u / w, v / w


def rescale_matrix(matrix: np.ndarray, scale_a: tuple[float, float], scale_b: tuple[float, float]) -> np.ndarray:
    """The same transform in the coordinates of resized images.

    ``scale_a = (fx, fy)`` is new size / old size of A (likewise B); pixel centres follow
    ``x' = f (x + 0.5) - 0.5``, the convention of area and antialiased resizing.
    """
    def centres(f: tuple[float, float]) -> np.ndarray:
        fx, fy = f
        return np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]])

    out = centres(scale_b) @ matrix @ np.linalg.inv(centres(scale_a))
    return out / out[2, 2]


def _grid_points(width: int, height: int, steps: int = 17) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.linspace(0, width - 1, steps), np.linspace(0, height - 1, steps))
    return xs.ravel(), ys.ravel()


def closest_similarity(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """The similarity (scale, rotation, translation) nearest ``matrix`` over A's pixels (least squares)."""
    x, y = _grid_points(width, height)
    u, v = apply_matrix(matrix, x, y)
    xc, yc, uc, vc = x - x.mean(), y - y.mean(), u - u.mean(), v - v.mean()
    norm = float(np.sum(xc * xc + yc * yc))
    c = float(np.sum(xc * uc + yc * vc)) / norm
    s = float(np.sum(xc * vc - yc * uc)) / norm
    out = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    out[0, 2] = u.mean() - (c * x.mean() - s * y.mean())
    out[1, 2] = v.mean() - (s * x.mean() + c * y.mean())
    return out


def closest_translation(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """The translation nearest ``matrix`` over A's pixels: the mean displacement."""
    x, y = _grid_points(width, height)
    u, v = apply_matrix(matrix, x, y)
    out = np.eye(3)
    out[0, 2], out[1, 2] = float(np.mean(u - x)), float(np.mean(v - y))
    return out


def displacement(matrix: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """Mean and largest distance (pixels) by which ``matrix`` moves A's pixels."""
    x, y = _grid_points(width, height, 33)
    u, v = apply_matrix(matrix, x, y)
    d = np.hypot(u - x, v - y)
    return float(d.mean()), float(d.max())


def describe_matrix(matrix: np.ndarray, width: int, height: int) -> dict[str, Any]:
    """What a transform does, in numbers a reader can check: shift of A's centre, scale, rotation."""
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    u, v = apply_matrix(matrix, np.array([cx]), np.array([cy]))
    similar = closest_similarity(matrix, width, height)
    mean_shift, max_shift = displacement(matrix, width, height)
    return {
        "shift": [_round(float(u[0] - cx)), _round(float(v[0] - cy))],
        "scale": _round(math.hypot(similar[0, 0], similar[1, 0])),
        "rotation_deg": _round(math.degrees(math.atan2(similar[1, 0], similar[0, 0]))),
        "displacement": {"mean": _round(mean_shift), "max": _round(max_shift)},
    }


def _round(value: float, digits: int = 6) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


# -- estimation (host, OpenCV) -------------------------------------------------------------


@dataclass
class Estimate:
    """A transform of A's pixel grid onto B's and how well it fits.

    Attributes:
        model: the model of ``matrix``.
        matrix: 3x3, maps a pixel (x, y) of A (origin at the centre of the top-left pixel)
            to its counterpart in B, at full resolution.
        residual: RMS grey-level difference (values in [0, 1], after fitting a gain and an
            offset) of A and aligned B over the fit pixels (overlap minus local changes), at
            estimation size.
        residual_before: the same without alignment (identity).
        correlation: correlation coefficient of A and aligned B over the fit pixels.
        outlier_fraction: fraction of the overlap left out of the fit as local change.
        init: ``"phase correlation"`` or ``"features"``: the initial guess that was refined.
        size: ``(width, height)`` of A's grey copy the estimate was refined on.
        candidates: with ``auto``, the residual and cost of every model tried.
    """

    model: str
    matrix: np.ndarray
    residual: float
    residual_before: float
    correlation: float
    outlier_fraction: float
    init: str
    size: tuple[int, int]
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)


def estimate_transform(ga: np.ndarray, gb: np.ndarray, model: str = "auto", max_size: int = 512,
                       iterations: int = 100) -> Estimate:
    """Estimate the transform mapping each pixel of grey image ``ga`` to its counterpart in ``gb``.

    Coarse to fine: the initial guesses, the outlier rounds and (``auto``) the choice of model
    run on copies of at most ``COARSE_SIZE`` pixels; the chosen model is then refined on copies
    of at most ``max_size`` pixels.

    Args:
        ga, gb: 2-D float arrays with values in [0, 1]; sizes may differ.
        model: ``translation``, ``similarity``, ``affine``, ``homography`` or ``auto``.
        max_size: longer side of the copies the estimate is refined on (0: full size).
        iterations: most ECC iterations per fit.
    Returns:
        An :class:`Estimate` whose matrix is in full-resolution pixels.
    Raises:
        AlignmentError: images too small or featureless, or no fit converged.
    """
    if model not in (*MODELS, "auto"):
        raise ValueError(f"model must be one of {', '.join(MODELS)} or auto, got {model!r}")
    for name, image in (("A", ga), ("B", gb)):
        spread = float(image.std())
        if spread < MIN_CONTRAST:
            raise AlignmentError(f"image {name} is featureless (grey-level spread {spread:.2g}): nothing to align on")
    factor = min(1.0, max_size / max(*ga.shape, *gb.shape)) if max_size else 1.0
    fine_a, fine_b = _resize(ga, factor), _resize(gb, factor)
    if min(*fine_a.shape, *fine_b.shape) < MIN_SIDE:
        raise AlignmentError(
            f"images of {min(*ga.shape, *gb.shape)} px on their shorter side are too small to estimate a "
            f"transform (at least {math.ceil(MIN_SIDE / factor)} px needed)"
        )
    coarse = COARSE_SIZE / max(*fine_a.shape, *fine_b.shape)
    if coarse < 1.0 and min(*fine_a.shape, *fine_b.shape) * coarse >= 4 * MIN_SIDE:
        coarse_a, coarse_b = _resize(fine_a, coarse), _resize(fine_b, coarse)
    else:
        coarse_a, coarse_b = fine_a, fine_b
    try:
        matrix, chosen, init, candidates = _coarse_fit(coarse_a, coarse_b, model, iterations)
        if coarse_a is not fine_a:
            # Refine at the fine level; a similarity is refined as an affine, then projected.
            up_a, up_b = _scale(fine_a, coarse_a), _scale(fine_b, coarse_b)
            motion = "affine" if chosen == "similarity" else chosen
            matrix = _robust_rounds(fine_a, fine_b, rescale_matrix(matrix, up_a, up_b), motion, iterations, rounds=1)
    except cv2.error as exc:
        raise AlignmentError(f"OpenCV failed while estimating the {model} transform: {_cv_message(exc)}") from None
    if chosen == "similarity":
        matrix = closest_similarity(matrix, fine_a.shape[1], fine_a.shape[0])
    keep, valid = inlier_mask(fine_a, fine_b, matrix)
    after, _ = _residual(fine_a, fine_b, matrix, keep)
    before, valid_before = _residual(fine_a, fine_b, np.eye(3), keep)
    return Estimate(
        model=chosen,
        matrix=rescale_matrix(matrix, _scale(ga, fine_a), _scale(gb, fine_b)),
        residual=_rms(after, keep),
        residual_before=_rms(before, keep & valid_before),
        correlation=_correlation(fine_a, fine_b, matrix, keep),
        outlier_fraction=float(1.0 - keep.sum() / max(1, valid.sum())),
        init=init,
        size=(fine_a.shape[1], fine_a.shape[0]),
        candidates=candidates if model == "auto" else {},
    )


def _coarse_fit(ga: np.ndarray, gb: np.ndarray, model: str,
                iterations: int) -> tuple[np.ndarray, str, str, dict[str, dict[str, float]]]:
    """Initial guess, robust fit of the probe model, then the candidates compared over the same pixels.

    Returns the chosen matrix (for a similarity: the affine fit it is projected from), the
    chosen model, the initial guess used and the candidates' residuals and costs.
    """
    probe = "translation" if model == "translation" else "affine"
    matrix, init = _fit_probe(ga, gb, probe, iterations)
    matrix = _robust_rounds(ga, gb, matrix, probe, iterations)
    keep, _ = inlier_mask(ga, gb, matrix)
    height, width = ga.shape
    wanted = MODELS if model == "auto" else (model,)
    fits = {probe: matrix}
    if "similarity" in wanted:
        fits["similarity"] = closest_similarity(matrix, width, height)
    for extra, start in (("translation", closest_translation(matrix, width, height)), ("homography", matrix)):
        if extra in wanted and extra not in fits:
            try:
                fits[extra] = ecc(ga, gb, start, extra, keep, iterations)
            except cv2.error as exc:
                if model == extra:
                    raise AlignmentError(f"the {extra} fit did not converge ({_cv_message(exc)})") from None
    residuals, common = {}, keep.copy()
    for name in (m for m in MODELS if m in wanted and m in fits):
        residuals[name], overlap = _residual(ga, gb, fits[name], keep)
        common &= overlap
    candidates = {}
    for name, residual in residuals.items():
        rms = _rms(residual, common)
        candidates[name] = {"residual": rms, "cost": rms * (1.0 + AUTO_PENALTY * DOF[name])}
    chosen = min(candidates, key=lambda name: candidates[name]["cost"])
    return (matrix if chosen == "similarity" else fits[chosen]), chosen, init, candidates


def _fit_probe(ga: np.ndarray, gb: np.ndarray, probe: str, iterations: int) -> tuple[np.ndarray, str]:
    """ECC from the initial guess that correlates best; from the others if that one does not converge."""
    guesses = [("phase correlation", phase_correlation_guess(ga, gb))]
    if probe != "translation":
        features = feature_guess(ga, gb)
        if features is not None:
            guesses.append(("features", features))
    guesses.sort(key=lambda guess: -_correlation(ga, gb, guess[1]))
    failures = []
    for name, guess in guesses:
        try:
            return ecc(ga, gb, guess, probe, None, iterations), name
        except cv2.error as exc:
            failures.append(f"from {name}: {_cv_message(exc)}")
    raise AlignmentError(f"the {probe} fit did not converge ({'; '.join(failures)})")


def _robust_rounds(ga: np.ndarray, gb: np.ndarray, matrix: np.ndarray, model: str, iterations: int,
                   rounds: int = 2) -> np.ndarray:
    """Mask out local changes and refit, ``rounds`` times; a round that fails keeps the last fit."""
    for _ in range(rounds):
        keep, _ = inlier_mask(ga, gb, matrix)
        try:
            matrix = ecc(ga, gb, matrix, model, keep, iterations)
        except cv2.error:
            break
    return matrix


def phase_correlation_guess(ga: np.ndarray, gb: np.ndarray) -> np.ndarray:
    """A translation A -> B from phase correlation over the common top-left crop (Hann window)."""
    height, width = min(ga.shape[0], gb.shape[0]), min(ga.shape[1], gb.shape[1])
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    # Copies: OpenCV 5.0 multiplies its inputs by the window in place.
    first, second = ga[:height, :width].copy(), gb[:height, :width].copy()
    (dx, dy), _ = cv2.phaseCorrelate(first, second, window)
    out = np.eye(3)
    out[0, 2], out[1, 2] = dx, dy
    return out


def feature_guess(ga: np.ndarray, gb: np.ndarray, min_inliers: int = 8) -> np.ndarray | None:
    """A similarity A -> B from SIFT matches (ratio test) and RANSAC; ``None`` with too few inliers."""
    sift = cv2.SIFT_create()
    ka, da = sift.detectAndCompute(_to_uint8(ga), None)
    kb, db = sift.detectAndCompute(_to_uint8(gb), None)
    if da is None or db is None or len(ka) < min_inliers or len(kb) < min_inliers:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < min_inliers:
        return None
    pa = np.float32([ka[m.queryIdx].pt for m in good])
    pb = np.float32([kb[m.trainIdx].pt for m in good])
    found, inliers = cv2.estimateAffinePartial2D(pa, pb, method=cv2.RANSAC, ransacReprojThreshold=1.5)
    if found is None or inliers is None or int(inliers.sum()) < min_inliers:
        return None
    out = np.eye(3)
    out[:2] = found
    return out


_MOTIONS = {"translation": cv2.MOTION_TRANSLATION, "affine": cv2.MOTION_AFFINE, "homography": cv2.MOTION_HOMOGRAPHY}


def ecc(ga: np.ndarray, gb: np.ndarray, matrix: np.ndarray, model: str, keep: np.ndarray | None,
        iterations: int) -> np.ndarray:
    """Refine ``matrix`` (A -> B) by ECC; ``keep`` (on A's grid) limits the pixels that count.

    Raises ``cv2.error`` when ECC does not converge.
    """
    start = matrix.copy()
    if model == "translation":
        start[:2, :2] = np.eye(2)
        start[2] = (0.0, 0.0, 1.0)
    warp_matrix = start.astype(np.float32) if model == "homography" else start[:2].astype(np.float32)
    mask_b = None
    if keep is not None:
        # ECC's mask lives on B's grid: a pixel q of B counts when A's pixel at matrix^-1 q does.
        hb, wb = gb.shape
        ys, xs = np.mgrid[0:hb, 0:wb].astype(np.float64)
        u, v = apply_matrix(np.linalg.inv(start), xs, ys)
        mask_b = cv2.remap(keep.astype(np.uint8), u.astype(np.float32), v.astype(np.float32), cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=1)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, int(iterations), ECC_EPS)
    _, warp_matrix = cv2.findTransformECC(ga, gb, warp_matrix, _MOTIONS[model], criteria, mask_b, 5)
    out = np.eye(3)
    out[: warp_matrix.shape[0]] = warp_matrix
    if not np.all(np.isfinite(out)) or abs(out[2, 2]) < 1e-12:
        raise cv2.error("ECC returned a degenerate transform")
    return out / out[2, 2]


def inlier_mask(ga: np.ndarray, gb: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of A to fit on, and the overlap: the overlap minus blobs of large residual (local edits).

    The residual is smoothed (thin misregistration lines fade, blobs stay), then a pixel is an
    outlier when its smoothed residual exceeds median + K x MAD of the overlap (and an absolute
    floor); outliers are dilated by two pixels. When more than ``MAX_OUTLIERS`` of the overlap
    would go, nothing is rejected: the images then differ almost everywhere.
    """
    residual, valid = _residual(ga, gb, matrix)
    smooth = cv2.GaussianBlur(residual, (0, 0), OUTLIER_SIGMA)
    values = smooth[valid]
    if values.size == 0:
        return valid, valid
    median = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - median)))
    outliers = (smooth > max(median + OUTLIER_K * mad, OUTLIER_FLOOR)) & valid
    outliers = cv2.dilate(outliers.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    keep = valid & ~outliers
    if keep.sum() < (1.0 - MAX_OUTLIERS) * valid.sum():
        keep = valid
    return keep, valid


def _residual(ga: np.ndarray, gb: np.ndarray, matrix: np.ndarray,
              where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """|A - (g B' + o)| and the overlap: B' is B warped onto A, gain and offset fitted over ``where``.

    The fit is trimmed (refitted without its 10% worst pixels), so local changes do not skew it.
    """
    warped, valid = _warp_host(gb, matrix, ga.shape)
    use = valid if where is None else valid & where
    residual = np.zeros_like(ga)
    if use.sum() < 16:
        return residual, valid
    x, y = warped[use].astype(np.float64), ga[use].astype(np.float64)
    gain, offset = _linear_fit(x, y)
    error = np.abs(y - (gain * x + offset))
    trimmed = error <= np.quantile(error, 0.9)
    if trimmed.sum() >= 16:
        gain, offset = _linear_fit(x[trimmed], y[trimmed])
    residual[valid] = np.abs(ga[valid] - (gain * warped[valid] + offset))
    return residual, valid


def _linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares gain and offset of ``y ~ g x + o`` (gain 1 for a flat ``x``)."""
    var = float(x.var())
    gain = float(((x - x.mean()) * (y - y.mean())).mean() / var) if var > 1e-12 else 1.0
    return gain, float(y.mean() - gain * x.mean())


def _correlation(ga: np.ndarray, gb: np.ndarray, matrix: np.ndarray, where: np.ndarray | None = None) -> float:
    """Correlation coefficient of A and B warped by ``matrix`` over the overlap (and ``where``); -1 if empty."""
    warped, valid = _warp_host(gb, matrix, ga.shape)
    use = valid if where is None else valid & where
    if use.sum() < 16:
        return -1.0
    x, y = ga[use].astype(np.float64), warped[use].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    return float(np.dot(x, y)) / denominator if denominator > 0 else -1.0


def _rms(residual: np.ndarray, where: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(residual[where], dtype=np.float64)))) if where.any() else math.inf


def _warp_host(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bicubic resampling of ``image`` at ``matrix`` applied to every pixel of a ``shape`` grid, and the overlap."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = apply_matrix(matrix, xs, ys)
    hb, wb = image.shape
    valid = (u >= -1e-3) & (u <= wb - 1 + 1e-3) & (v >= -1e-3) & (v <= hb - 1 + 1e-3)
    warped = cv2.remap(image, u.astype(np.float32), v.astype(np.float32), cv2.INTER_CUBIC,
                       borderMode=cv2.BORDER_REPLICATE)
    return warped, valid


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    """Area-downscale by ``factor`` (float32); 1 or more leaves the size as it is."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    if factor >= 1.0:
        return image
    height, width = image.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _scale(target: np.ndarray, source: np.ndarray) -> tuple[float, float]:
    """``(fx, fy)``: the size of ``target`` over the size of ``source``, for :func:`rescale_matrix`."""
    return target.shape[1] / source.shape[1], target.shape[0] / source.shape[0]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


_CV_ERROR = re.compile(r"error: \(-?\d+:[^)]*\)\s*(.*?)(?:\s+in function '[^']*')?\s*$")


def _cv_message(exc: Exception) -> str:
    """The message of an OpenCV error, without its source location (``... error: (-7:...) message in function``)."""
    lines = str(exc).strip().splitlines()
    text = lines[-1] if lines else type(exc).__name__
    match = _CV_ERROR.search(text)
    return match.group(1) if match and match.group(1) else text


# -- the warp (torch, on the device) ---------------------------------------------------------


def warp(image: Tensor, matrix: Tensor, height: int, width: int,
         interpolation: str = "bicubic") -> tuple[Tensor, Tensor]:
    """Resample ``image`` at ``matrix`` applied to every pixel (x, y) of a ``height`` x ``width`` grid.

    Differentiable in ``image``; runs on ``image``'s device.

    Args:
        image: NxCxHbxWb.
        matrix: Nx3x3 (or 3x3), maps a pixel of the output grid to ``image``'s pixel coordinates
            (origin at the centre of the top-left pixel).
        height, width: the output grid.
        interpolation: ``bilinear`` or ``bicubic`` (values clamped to [0, 1]).
    Returns:
        ``(warped, valid)``: NxCxHxW, and an Nx1xHxW bool mask of the pixels whose source lies
        inside ``image`` (the others repeat its border and should not be compared).
    """
    n, _, hb, wb = image.shape
    if hb < 2 or wb < 2:
        raise ValueError(f"cannot resample an image of {wb}x{hb} pixels")
    matrix = matrix.to(device=image.device, dtype=torch.float32).reshape(-1, 3, 3).expand(n, 3, 3)
    ys = torch.arange(height, device=image.device, dtype=torch.float32)
    xs = torch.arange(width, device=image.device, dtype=torch.float32)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1).reshape(1, -1, 3)
    mapped = points @ matrix.transpose(1, 2)
    u, v = mapped[..., 0] / mapped[..., 2], mapped[..., 1] / mapped[..., 2]
    eps = 1e-3
    valid = (mapped[..., 2] > 0) & (u >= -eps) & (u <= wb - 1 + eps) & (v >= -eps) & (v <= hb - 1 + eps)
    grid = torch.stack([u * (2.0 / (wb - 1)) - 1.0, v * (2.0 / (hb - 1)) - 1.0], dim=-1).reshape(n, height, width, 2)
    source = image if image.is_floating_point() else image.float()
    warped = F.grid_sample(source, grid.to(source.dtype), mode=interpolation, padding_mode="border",
                           align_corners=True)
    if interpolation == "bicubic":
        warped = warped.clamp(0.0, 1.0)
    return warped, valid.reshape(n, 1, height, width)


# -- the stage --------------------------------------------------------------------------------


class Align:
    """Register B onto A with a global transform estimated per pair; B is resampled on A's grid.

    Args:
        model: ``translation``, ``similarity``, ``affine``, ``homography``, or ``auto`` (the
            simplest that fits: smallest residual x (1 + 0.02 x degrees of freedom)).
        interpolation: how B is resampled: ``bicubic`` (sharper) or ``bilinear``.
        max_size: longer side of the grey copies the transform is estimated on; 0: full size.
        iterations: most ECC iterations per fit.
        max_shift: refuse an estimate that moves some pixel further than this many pixels
            (``None``: no limit beyond the overlap check).
        on_failure: ``error`` (one-line error) or ``identity`` (compare the pair unaligned and
            say why in the result's info).
    """

    pairwise = True
    any_size = True

    def __init__(self, model: str = "auto", interpolation: str = "bicubic", max_size: int = 512,
                 iterations: int = 100, max_shift: float | None = None, on_failure: str = "error") -> None:
        if model not in (*MODELS, "auto"):
            raise ValueError(f"model must be one of {', '.join(MODELS)} or auto, got {model!r}")
        if interpolation not in ("bilinear", "bicubic"):
            raise ValueError(f"interpolation must be bilinear or bicubic, got {interpolation!r}")
        if isinstance(max_size, bool) or not isinstance(max_size, int) or (max_size != 0 and max_size < 4 * MIN_SIDE):
            raise ValueError(f"max_size must be 0 (full size) or an integer of at least {4 * MIN_SIDE}, "
                             f"got {max_size!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        if max_shift is not None and (isinstance(max_shift, bool) or not isinstance(max_shift, (int, float))
                                      or not max_shift > 0):
            raise ValueError(f"max_shift must be a positive number of pixels or None, got {max_shift!r}")
        if on_failure not in ("error", "identity"):
            raise ValueError(f"on_failure must be error or identity, got {on_failure!r}")
        self.model, self.interpolation = model, interpolation
        self.max_size, self.iterations = max_size, iterations
        self.max_shift = None if max_shift is None else float(max_shift)
        self.on_failure = on_failure

    def pair(self, a: Tensor, b: Tensor) -> PairOutput:
        """Estimate and apply the transform of each pair of the batch.

        Args:
            a: NxCxHxW, the reference: its grid is the output's.
            b: NxCxHbxWb (any size), resampled onto A's grid.
        Returns:
            :class:`PairOutput` with ``a`` unchanged, ``b`` aligned, ``valid`` (Nx1xHxW) and one
            info dict per sample (see ``docs/alignment.md``).
        """
        check_pair(a, b, "align")
        n, _, height, width = a.shape
        grey_a = self._grey(a)
        grey_b = self._grey(b)
        matrices, infos = [], []
        for i in range(n):
            try:
                found = estimate_transform(grey_a[i], grey_b[i], self.model, self.max_size, self.iterations)
                matrix = found.matrix
                info = self._info(found, width, height)
                self._check(found, width, height, b.shape[-1], b.shape[-2])
            except AlignmentError as exc:
                prefix = f"align (pair {i})" if n > 1 else "align"
                if self.on_failure == "error":
                    raise AlignmentError(f"{prefix}: {exc}") from None
                if (b.shape[-2], b.shape[-1]) != (height, width):
                    raise AlignmentError(f"{prefix}: {exc}; on_failure=identity needs images of one size") from None
                matrix = np.eye(3)
                info = {"status": "failed", "reason": str(exc), "model": "identity", "requested": self.model,
                        "matrix": np.eye(3).tolist()}
            matrices.append(matrix)
            infos.append(info)
        stacked = torch.from_numpy(np.stack(matrices)).to(device=a.device, dtype=torch.float32)
        try:
            aligned, valid = warp(b, stacked, height, width, self.interpolation)
        except (RuntimeError, NotImplementedError) as exc:
            raise StageError(f"align: {self.interpolation} resampling failed on {a.device} ({exc}); "
                             "try align:interpolation=bilinear") from None
        for info, mask in zip(infos, valid.flatten(1).float().mean(1).tolist()):
            info["valid_fraction"] = _round(mask)
        return PairOutput(a, aligned.to(a.dtype), valid, infos)

    @staticmethod
    def _grey(x: Tensor) -> list[np.ndarray]:
        """Grey copies on the host (channel mean), float32: what the estimation runs on."""
        grey = x.detach().float().mean(1)
        return list(grey.cpu().numpy())

    def _info(self, found: Estimate, width: int, height: int) -> dict[str, Any]:
        info: dict[str, Any] = {
            "status": "ok",
            "model": found.model,
            "requested": self.model,
            "matrix": [[_round(float(v), 8) for v in row] for row in found.matrix],
            **describe_matrix(found.matrix, width, height),
            "residual": _round(found.residual),
            "residual_before": _round(found.residual_before),
            "correlation": _round(found.correlation),
            "outlier_fraction": _round(found.outlier_fraction),
            "init": found.init,
            "estimated_on": list(found.size),
        }
        if found.candidates:
            info["candidates"] = {name: {k: _round(v) for k, v in values.items()}
                                  for name, values in found.candidates.items()}
        return info

    def _check(self, found: Estimate, width: int, height: int, width_b: int, height_b: int) -> None:
        """Refuse an estimate that cannot be right: too far (``max_shift``), too little overlap, poor match."""
        matrix = found.matrix
        _, largest = displacement(matrix, width, height)
        if self.max_shift is not None and largest > self.max_shift:
            raise AlignmentError(
                f"the estimated transform moves pixels by up to {largest:.1f} px, "
                f"more than max_shift={self.max_shift:g}"
            )
        x, y = _grid_points(width, height, 65)
        u, v = apply_matrix(matrix, x, y)
        inside = float(np.mean((u >= 0) & (u <= width_b - 1) & (v >= 0) & (v <= height_b - 1)))
        if inside < MIN_OVERLAP:
            raise AlignmentError(
                f"the estimated transform leaves only {inside:.0%} of A with a counterpart in B "
                f"(at least {MIN_OVERLAP:.0%} needed): are these images of one scene?"
            )
        if found.correlation < MIN_CORRELATION:
            raise AlignmentError(
                f"the images do not match after a {found.model} alignment (correlation {found.correlation:.2f}, "
                f"at least {MIN_CORRELATION} expected): are these images of one scene?"
            )

    def conventions(self) -> dict[str, Any]:
        copies = f"grey copies of at most {self.max_size} px" if self.max_size else "full-size grey copies"
        return {
            "matrix": "maps a pixel (x, y) of A to B; origin at the centre of the top-left pixel, y down",
            "rotation_deg": "clockwise on screen (y axis points down)",
            "estimation": f"host, OpenCV: phase correlation and SIFT + RANSAC guesses, robust ECC on {copies}",
            "interpolation": self.interpolation,
            "auto_penalty_per_dof": AUTO_PENALTY,
        }


__all__ = ["Align", "AlignmentError", "Estimate", "estimate_transform", "warp"]
