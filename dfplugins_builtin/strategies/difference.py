"""``difference``: the absolute difference of the preprocessed images, and the default map.

Plain, ``difference`` is ``|a - b|`` per pixel. Its parameters, all off by default, turn it
into a map that holds up on real pairs; the ``default`` preset sets them as measured on the
quality benchmark (docs/quality.md):

* ``sigma``: both images are smoothed by a Gaussian of ``sigma`` pixels before they are
  compared, which averages out sensor noise, JPEG blocks and resampling blur that differ
  between the two (the metric's score is not affected);
* ``shift``: each pixel takes its best match within ``shift`` pixels, in both directions
  (:mod:`dfcore.ops.shift`), so a pair off by a pixel does not light up
  every edge while an object present in one image only still does. ``shift=auto`` measures
  the pair's misalignment (phase correlation) and tolerates it only when there is some:
  an aligned pair keeps every pixel's own difference;
* ``scale``, ``octaves``: the map's scale, the mean of its Gaussian smoothings at ``scale``,
  ``2 scale``... (as the ``smooth`` postprocessor): speckle averages away, a patchy change
  becomes one blob, fine scales keep a one-pixel line;
* ``background``: the map is divided by the square root of its local level (a Gaussian of
  ``background`` pixels) plus its image-wide mean, so a change stands out against what
  surrounds it: compression and resampling leave more residue in texture than in flat
  areas, and a change in a busy area is no longer outranked by the texture around it;
* ``exact``: on a lossless pair (as in screenshots, PNG puzzles and regression tests),
  every pixel whose values differ at all ranks above every pixel that is identical in A
  and B; the blobs keep the map's shape. ``auto`` takes a pair as lossless when at least
  90% of its *detail* pixels (those that differ from a neighbour, in A or in B) are
  identical: flat areas stay bit-identical through JPEG, resampling and sub-pixel shifts,
  so the share of all pixels would take a lossy drawing or screenshot for a lossless one.

Memory: the local part of the map (smoothing, shift tolerance, scales) is computed in row
strips (:mod:`dfcore.ops.strips`) and the lossless test counts pixels strip by strip, so
beyond its inputs a pair needs the map, one strip's work and the background level: about 16
bytes per pixel whatever the image's size (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dfcore.contracts import Problem, StageOutput
from dfcore.ops.channels import check_reduction, reduce_channels
from dfcore.ops.filters import (
    check_octaves,
    check_sigma,
    coarse_blur,
    gaussian_blur,
    kernel_radius,
    multiscale_smooth,
)
from dfcore.ops.shift import auto_radius, check_shift, estimate_translation, shift_tolerant
from dfcore.ops.strips import bands, map_in_strips, strip_rows

#: ``exact=auto`` ranks differing pixels first when at least this share of detail pixels is identical.
LOSSLESS_SHARE = 0.9
EXACT_MODES = ("off", "auto", "on")


def difference_map(a: Tensor, b: Tensor, reduce: str = "mean", shift: int = 0, sigma: float = 0.0) -> Tensor:
    """|a - b| per pixel, Nx1xHxW, after optional smoothing and with optional shift tolerance.

    Args:
        a, b: NxCxHxW images on one device.
        reduce: how channels are combined (``mean``, ``max``, ``sum``, ``l2``).
        shift: largest tolerated displacement in pixels along each axis (0: none).
        sigma: Gaussian pre-smoothing of both images in pixels (0: none).
    Returns:
        Tensor of shape (N, 1, H, W), values >= 0.
    """
    a, b = gaussian_blur(a, sigma), gaussian_blur(b, sigma)
    return shift_tolerant(lambda x, y: reduce_channels((x - y).abs(), reduce), a, b, shift, symmetric=True)


def background_normalise(diff_map: Tensor, sigma: float, valid: Tensor | None = None) -> Tensor:
    """``map / sqrt(local level + image mean)``, the local level a Gaussian of ``sigma`` px.

    Pixels outside ``valid`` (Nx1xHxW bool) count in neither level and come out as zero.
    """
    if valid is None:
        weighted, local, mean = diff_map, coarse_blur(diff_map, sigma), diff_map.mean((-2, -1), keepdim=True)
    else:  # normalised convolution: the level of the valid pixels only
        weight = valid.to(diff_map.dtype)
        weighted = diff_map * weight
        local = coarse_blur(weighted, sigma) / coarse_blur(weight, sigma).clamp_min(1e-6)
        mean = weighted.sum((-2, -1), keepdim=True) / weight.sum((-2, -1), keepdim=True).clamp_min(1)
    floor = torch.finfo(diff_map.dtype).tiny
    level = local.clamp_min_(0).add_(mean).clamp_min_(floor).sqrt_()  # in place: one full-size temporary
    return weighted / level


def detail_pixels(x: Tensor) -> Tensor:
    """Nx1xHxW bool: the pixels of NxCxHxW ``x`` whose values differ from a 4-neighbour's."""
    detail = torch.zeros_like(x[:, :1], dtype=torch.bool)
    rows = (x[..., 1:, :] != x[..., :-1, :]).any(1, keepdim=True)
    cols = (x[..., :, 1:] != x[..., :, :-1]).any(1, keepdim=True)
    detail[..., 1:, :] |= rows
    detail[..., :-1, :] |= rows
    detail[..., :, 1:] |= cols
    detail[..., :, :-1] |= cols
    return detail


def identical_share(changed: Tensor, where: Tensor) -> Tensor:
    """Per sample, the share of the ``where`` pixels (Nx1xHxW bool) that are not ``changed``; NaN if none."""
    counted = where.flatten(1).sum(1)
    return 1 - (changed & where).flatten(1).sum(1) / counted.where(counted > 0, torch.nan)


def lossless_share(a: Tensor, b: Tensor, changed: Tensor, valid: Tensor | None) -> Tensor:
    """Per sample, the larger of the identical shares of A's and of B's detail pixels.

    Where A or B has no detail at all (a blank image), every differing pixel is a change of
    content, and the share of all pixels is used.
    """
    everywhere = torch.ones_like(changed) if valid is None else valid
    share_a, share_b = (identical_share(changed, detail_pixels(x) & everywhere) for x in (a, b))
    blank = share_a.isnan() | share_b.isnan()
    return torch.where(blank, identical_share(changed, everywhere), torch.maximum(share_a, share_b))


def share_counts(a: Tensor, b: Tensor, valid: Tensor | None, keep: slice = slice(None)) -> Tensor:
    """Per sample, the pixel counts :func:`lossless_share` divides, Nx6 int64: differing and all pixels
    among A's detail pixels, among B's, and among all compared pixels.

    ``keep``: the rows to count (the others are context for the detail test); counts of row
    strips add up to those of the whole image.
    """
    changed = (a != b).any(1, keepdim=True)
    everywhere = torch.ones_like(changed) if valid is None else valid
    if valid is not None:
        changed = changed & valid
    counts = []
    for where in (detail_pixels(a) & everywhere, detail_pixels(b) & everywhere, everywhere):
        counts += [(changed & where)[..., keep, :].flatten(1).sum(1), where[..., keep, :].flatten(1).sum(1)]
    return torch.stack(counts, 1)


def share_from_counts(counts: Tensor) -> Tensor:
    """:func:`lossless_share` from the counts of :func:`share_counts`, per sample."""
    def share(changed: Tensor, counted: Tensor) -> Tensor:
        return 1 - changed / counted.where(counted > 0, torch.nan)

    share_a, share_b = share(counts[:, 0], counts[:, 1]), share(counts[:, 2], counts[:, 3])
    blank = share_a.isnan() | share_b.isnan()
    return torch.where(blank, share(counts[:, 4], counts[:, 5]), torch.maximum(share_a, share_b))


def rank_exact(diff_map: Tensor, changed: Tensor) -> Tensor:
    """Lift the ``changed`` pixels (Nx1xHxW bool) above every other pixel of their sample."""
    lift = diff_map.amax((-2, -1), keepdim=True)
    lift = torch.where(lift > 0, lift, torch.ones_like(lift))
    return diff_map + lift * changed.to(diff_map.dtype)


class Difference:
    """|pre(a) - pre(b)|, channels combined by ``reduce``; optional robustness (module docstring)."""

    def __init__(self, reduce: str = "mean", shift: int | str | None = 0, sigma: float = 0.0, scale: float = 0.0,
                 octaves: int = 1, background: float = 0.0, exact: str = "off") -> None:
        self.reduce = check_reduction(reduce)
        self.shift = check_shift(shift)
        self.sigma = check_sigma(sigma)
        self.scale = check_sigma(scale, "scale")
        self.octaves = check_octaves(octaves)
        self.background = check_sigma(background, "background")
        if exact not in EXACT_MODES:
            raise ValueError(f"exact must be one of {', '.join(EXACT_MODES)}, got {exact!r}")
        self.exact = exact

    def __call__(self, problem: Problem) -> Tensor | StageOutput:
        with torch.no_grad():
            pre = problem.metric.preprocess
            a, b = pre(problem.a), pre(problem.b)
            infos: list[dict[str, Any]] = [{} for _ in range(a.shape[0])]
            diff_map = self._local_map(a, b, problem.valid, infos)
            if self.background:
                diff_map = background_normalise(diff_map, self.background, problem.valid)
            if self.exact != "off":
                diff_map = self._rank_exact(diff_map, a, b, problem.valid, infos)
        return StageOutput(map=diff_map, info=infos) if any(infos) else diff_map

    def _local_map(self, a: Tensor, b: Tensor, valid: Tensor | None, infos: list[dict[str, Any]]) -> Tensor:
        """The difference at its scales, in row strips: everything but the background and the exact ranking."""
        if self.shift != "auto":
            return self._in_strips(a, b, valid, self.shift)
        translation = estimate_translation(a, b)
        radii = auto_radius(translation)
        for info, measured, radius in zip(infos, translation.tolist(), radii):
            info.update(misalignment_px=[round(v, 3) for v in measured], shift=radius)
        if len(set(radii)) == 1:  # one radius for the batch: one pass
            return self._in_strips(a, b, valid, radii[0])
        return torch.cat([self._in_strips(a[i:i + 1], b[i:i + 1], valid[i:i + 1] if valid is not None else None,
                                          radius) for i, radius in enumerate(radii)])

    def _in_strips(self, a: Tensor, b: Tensor, valid: Tensor | None, shift: int) -> Tensor:
        halo = (kernel_radius(self.sigma) + 2 * shift
                + (kernel_radius(self.scale * 2 ** (self.octaves - 1)) if self.scale else 0))

        def local(x: Tensor, y: Tensor, mask: Tensor | None) -> Tensor:
            diff_map = difference_map(x, y, self.reduce, shift, self.sigma)
            return multiscale_smooth(diff_map, self.scale, mask, self.octaves) if self.scale else diff_map

        return map_in_strips(local, (a, b, valid), halo)

    def _rank_exact(self, diff_map: Tensor, a: Tensor, b: Tensor, valid: Tensor | None,
                    infos: list[dict[str, Any]]) -> Tensor:
        """Rank every differing pixel first on lossless pairs; pixels are counted and lifted strip by strip."""
        rows, counts = strip_rows(a.shape[-1], 1), None
        for read, keep, _ in bands(a.shape[-2], rows, 1):  # one row of context: the detail test's neighbours
            part = share_counts(a[..., read, :], b[..., read, :], valid[..., read, :] if valid is not None else None,
                                keep)
            counts = part if counts is None else counts + part
        identical = share_from_counts(counts).nan_to_num(1.0)
        lossless = identical >= LOSSLESS_SHARE if self.exact == "auto" else torch.ones_like(identical, dtype=torch.bool)
        for info, share, used in zip(infos, identical.tolist(), lossless.tolist()):
            info.update(identical=round(share, 4), exact=bool(used))
        lift = diff_map.amax((-2, -1), keepdim=True)
        lift = torch.where(lift > 0, lift, torch.ones_like(lift)) * lossless.view(-1, 1, 1, 1)
        for _, _, rows_of in bands(a.shape[-2], rows, 0):
            changed = (a[..., rows_of, :] != b[..., rows_of, :]).any(1, keepdim=True)
            if valid is not None:
                changed &= valid[..., rows_of, :]
            diff_map[..., rows_of, :] += lift * changed.to(diff_map.dtype)
        return diff_map

    def conventions(self) -> dict[str, object]:
        conventions: dict[str, object] = {"value": f"|a - b|, channels combined by {self.reduce}"}
        if self.sigma:
            conventions["smoothing"] = "both images, gaussian, truncated at 3 sigma, reflected borders"
        if self.shift:
            conventions["shift_tolerance"] = (
                "per pixel, the smallest difference over displacements |dy|, |dx| <= shift, "
                "a against moved b and b against moved a; the larger of the two; edges replicated")
        if self.shift == "auto":
            conventions["shift_auto"] = (
                "misalignment measured by phase correlation (Hann window, parabolic peak); shift 0 within "
                "0.15 px, else the whole pixels that cover it (at most 4); each pair's in its info")
        if self.scale:
            conventions["scales"] = [self.scale * 2**level for level in range(self.octaves)]
        if self.background:
            conventions["background"] = (
                f"map / sqrt(gaussian({self.background} px) of the map + its mean), computed at a coarser grid")
        if self.exact != "off":
            conventions["exact"] = (
                "pixels whose values differ rank above every identical pixel"
                + (f" when at least {LOSSLESS_SHARE:.0%} of the detail pixels (differing from a 4-neighbour, in A or "
                   "in B; the larger share) are identical" if self.exact == "auto" else ""))
        return conventions
