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
  an aligned pair keeps every pixel's own difference. A pair the lossless test takes as
  lossless (``exact``, ``lossless``, below) is on one grid and is not measured: a large change
  can pull the phase correlation's peak off zero there; nor is one whose field ``register``
  measured (below) moves it nowhere by more than ``FIELD_ALIGNED_PX``: it is aligned;
* ``scale``, ``octaves``: the map's scale, the mean of its Gaussian smoothings at ``scale``,
  ``2 scale``... (as the ``smooth`` postprocessor): speckle averages away, a patchy change
  becomes one blob, fine scales keep a one-pixel line;
* ``background``: the map is divided by the square root of its local level (a Gaussian of
  ``background`` pixels) plus its image-wide mean, so a change stands out against what
  surrounds it: compression and resampling leave more residue in texture than in flat
  areas, and a change in a busy area is no longer outranked by the texture around it;
* ``antialias``, ``overshoot``: rasterisation tolerance. A pixel matches when each of its
  channels lies within the range of the other image's values within ``antialias`` px (and
  the reverse, :func:`dfcore.ops.shift.range_tolerant`), the range widened by ``overshoot``
  times its width: edges drawn with other anti-aliasing, font hinting or resampling, or a
  sub-pixel offset, no longer light up, while a stroke, an object or a colour that is not
  there in the other image does. With it, the tolerance is measured on the images as they
  are and ``sigma`` smooths the map instead of the images (smoothing first would blend the
  very edges the range is taken over); a measured misalignment (``shift``) widens the
  range to cover it, in place of the best-match tolerance. ``auto`` uses a 1-px range
  where an edge can have been drawn differently: on a pair measured as misaligned, on one
  ``register`` resampled, and on a re-rendered pair (at least ``RENDERED_SHARE`` of its
  pixels identical: its flat areas untouched, its edges not); a noisy or re-encoded
  photograph keeps the plain difference, whose pre-smoothing averages its noise out where
  the range would swallow faint changes along with it. ``rendered_overshoot`` replaces
  ``overshoot`` on a re-rendered pair (whatever ``antialias``): a plot or a page drawn again
  moves its strokes by more than a resampled photograph's edges overshoot;
* ``rendered_window``: on a re-rendered pair, the tolerance matches whole windows of this
  many px (odd) under one displacement within the range's radius (at least 1 px), in place
  of the range (:func:`dfcore.ops.shift.window_tolerant`): the map is the root mean square
  difference left over the window at its best displacement. Text drawn again with other
  hinting moves by a fraction of a pixel, nearly explained by one displacement; a digit
  changed into another lies within a pixel of the old strokes, so the range forgives most of
  it, but no one displacement matches the two glyphs. ``window_slack``: each pixel's
  difference less this fraction of the wider of the two images' ranges within 1 px (edges
  anti-aliased otherwise change their values within that range). ``window_fade``: the
  windows' difference counts beyond the range's only in proportion to ``rendered_contrast``'s
  factor (below), where the blurred images confirm a change. ``window_glyphs``: the windows'
  difference counts beyond the range's only on marks no taller than this fraction of the
  diagonal (:func:`dfcore.ops.glyphs.glyph_mask`: text, digits, small icons), the range judging
  the rest (a plot's long lines); on the CPU the windows are then computed in boxes around
  those marks only. Windows everywhere find changed digits on pages but light up plots drawn
  without anti-aliasing (docs/quality.md, rounds fifteen to eighteen). ``window_step``: the
  windows' displacements in steps of 1, 0.5 or 0.25 px, each image moved by bilinear
  interpolation below a pixel (:func:`dfcore.ops.shift.moved`): glyphs drawn again sit a
  fraction of a pixel off, which whole pixels match only as far as the slack forgives. The
  ``default`` preset takes 3-px windows on marks up to 0.02 of the diagonal (rounds
  twenty-seven and twenty-eight), matched in half-pixel steps with a slack of 0.7 (round
  forty-two);
* ``rendered_contrast``, ``rendered_motion``: on a re-rendered pair, the map is kept in full
  only where the two images still differ by at least ``rendered_contrast`` (a value in
  [0, 1], any channel) once both are blurred by ``CONTRAST_SIGMA`` px, within
  ``CONTRAST_REACH`` px; below it, in proportion. Text and strokes drawn again with other
  hinting or at another device scale move their edges by a fraction of a pixel, which the
  blur averages away, while a changed glyph, colour or object keeps its difference. With
  ``rendered_motion`` (px), what moving the blurred edges by that much can explain (the
  blurred image's slope times the distance) is taken off the difference first. A photograph
  or a lossless pair is left as it is. ``rendered_fade``: where that fading applies --
  ``map`` fades the map itself; ``regions`` leaves the map whole (its ranking of pixels the
  same) and hands the fading over as the output's ``support``, so that the ``regions``
  postprocessor reports a difference only where the faded map holds one too;
* ``register``: ``auto`` measures the misalignment tile by tile and fits an affine
  transform (:mod:`dfcore.ops.register`); when it departs from a translation by more than
  ``REGISTER_PX`` somewhere, or moves the pair by more than ``shift=auto`` tolerates, B is
  resampled onto A's grid first (a page printed and rescanned, turned by a fraction of a
  degree and scaled by a percent), its tones are fitted to A's (paper tint, exposure:
  :func:`dfcore.ops.register.match_tones`), the pixels of A with no counterpart in B and
  those within the largest displacement of the image's edge (where a scan's margin and the
  page's edge fall) are not compared, and what is left is tolerated as a 1-px offset. The field
  is first fitted to a third of the tiles (``GLANCE_TILES``): a pair it shows well inside both
  limits (an aligned photograph, a re-encoded or noisy one) is left as it is without the full
  measurement, which the others get. A pair
  is measured only when fewer than ``ONE_GRID_SHARE`` of its detail pixels are identical (the
  lossless test's share): bit-identical detail is on one grid, and a page whose table
  columns moved when a word grew, most of its detail identical to A, gives a field of many
  displacements whose fit would blur the whole page. On such a pair ``shift=auto``
  tolerates a measured translation of a pixel or more only when B moved back by it, to the
  nearest pixel, leaves more of A's detail pixels identical than B as it is.
  ``register_structure``: tiles whose structure runs one way only (the smaller eigenvalue of
  their structure tensor below this share of the larger: a horizon, a frame's side, one
  stroke) are left out of the fit, as they read the offset across the line and not along it.
  ``register_border``: the pixels whose counterpart lies in a blank band along B's edge (flat
  rows or columns of one colour that the page is set off from: where a scanner's lid showed and
  the page did not reach, :func:`dfcore.ops.register.blank_border`) are not compared either,
  nor do they count in the tone fit; the largest displacement alone leaves a wide margin's
  inner part in. ``register_tones``: the tone fit reads the means of blocks this many px wide
  instead of single pixels (:func:`dfcore.ops.register.match_tones`): the scan's noise and blur
  flatten the gain of a channel with little contrast (a sky and a ground of like red);
* ``edge_margin``: the pixels within this many px of the image's edge are not compared (zero
  in the map, left out of its background); ``auto``: on a pair whose frame is measured as
  moved by half a pixel or more, the shift's radius plus the reach of the ``sigma``
  smoothing -- along the edges, what one image shows lies outside the other's frame, and
  the tolerance reads replicated edges there. A smaller measured move (noise, a re-encoding)
  leaves the frame's content in place and the edge compared. A pair ``register`` resampled
  already leaves its margin out;
* ``exact``: on a lossless pair (as in screenshots, PNG puzzles and regression tests),
  every pixel whose values differ at all ranks above every pixel that is identical in A
  and B; the blobs keep the map's shape. ``on`` ranks every pair so (registration, the shift
  measurement and the re-rendering test still see each pair as the lossless test finds it);
  ``auto`` takes a pair as lossless when at least
  90% of its *detail* pixels (those that differ from a neighbour, in A or in B) are
  identical: flat areas stay bit-identical through JPEG, resampling and sub-pixel shifts,
  so the share of all pixels would take a lossy drawing or screenshot for a lossless one.
  ``lossless``: that test. ``share`` is the 90% above. ``clustered`` also takes a pair as
  lossless from 75% when its changed pixels lie in a few compact areas (the
  ``CLUSTERS`` largest connected areas of the changed pixels, grown by ``lossless_reach`` px
  (``CLUSTER_REACH`` unless set), hold ``CLUSTERED_HOLD`` of them, and cover at most
  ``CLUSTERED_AREA`` of the image): a large edit on a drawing or a plot, or a table laid out
  again, changes many detail pixels in one place, while JPEG, noise,
  resampling, a shift or a re-rendering changes them all over the image;

Memory: the local part of the map (smoothing, shift or rasterisation tolerance, scales) is
computed in row strips (:mod:`dfcore.ops.strips`) and the pair is measured and ranked
(lossless test, share of identical pixels, ``exact``) strip by strip, so beyond its inputs a
pair needs the map, one strip's work and the background level: about 16 bytes per pixel
whatever the image's size (docs/performance.md). A pair that ``register`` resamples also
holds B resampled and, while it is warped, the displacement field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
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
from dfcore.ops.glyphs import GLYPH_CONTRAST, check_glyph_height, glyph_mask
from dfcore.ops.host import differs, differs_numpy, differs_rightward, numpy_view
from dfcore.ops.params import check_fraction
from dfcore.ops.register import (
    MAX_SHEAR,
    MIN_SPREAD,
    Affine,
    blank_border,
    check_tone_window,
    inner,
    match_tones,
    measure_affine,
    tile_step,
    warp,
)
from dfcore.ops.shift import (
    ALIGNED_PX,
    AUTO_LIMIT,
    auto_radius,
    check_radius,
    check_shift,
    check_step,
    check_window,
    estimate_translation,
    neighbourhood_range,
    range_tolerant,
    shift_tolerant,
    window_tolerant,
)
from dfcore.ops.strips import bands, boxes_around, in_boxes, map_in_strips, strip_rows

#: ``window_glyphs``' windows are computed in boxes around the glyphs, runs of them closer than
#: this many px joined (:func:`dfcore.ops.strips.boxes_around`): the lines of a page's text
#: apart, the glyphs of one line together.
WINDOW_BOX_JOIN_PX = 8
#: ``exact=auto`` ranks differing pixels first when at least this share of detail pixels is identical.
LOSSLESS_SHARE = 0.9
#: ``lossless=clustered``: from this share, a pair is lossless too when the ``CLUSTERS`` largest
#: connected areas of its changed pixels (grown by ``lossless_reach`` px, ``CLUSTER_REACH`` unless
#: set) hold ``CLUSTERED_HOLD`` of that grown area.
CLUSTERED_SHARE = 0.75
CLUSTERS = 10
CLUSTER_REACH = 2
CLUSTERED_HOLD = 0.95
#: ... and when those grown areas cover at most this share of the compared pixels (changes
#: scattered densely over the image grow into one area that covers most of it).
CLUSTERED_AREA = 0.25
LOSSLESS_TESTS = ("share", "clustered")
EXACT_MODES = ("off", "auto", "on")
FADE_MODES = ("map", "regions")
REGISTER_MODES = ("off", "auto")
#: ``antialias=auto`` counts a pair as re-rendered (its flat areas untouched) when this share of its pixels is identical.
RENDERED_SHARE = 0.5
#: ``rendered_contrast``: the blur (px) under which a re-drawn edge's difference fades, and the
#: reach (px) within which the largest blurred difference counts for a pixel of the map.
CONTRAST_SIGMA = 2.0
CONTRAST_REACH = 4
#: ``register=auto`` leaves a pair with at least this share of its detail pixels identical on its
#: grid (module docstring), and ``shift=auto`` tolerates a whole-pixel translation there only when
#: moving B back by it leaves more of them identical.
ONE_GRID_SHARE = 0.5
#: ``register=auto`` resamples B when the measured field departs from a translation by more than this (px).
REGISTER_PX = 1.0
#: ``register=auto`` first fits the field to about GLANCE_TILES tiles (a third of the full
#: measurement's, half its time at 1024 px): a sample whose glance, fitted on at least GLANCE_MIN_TILES
#: of them, stays GLANCE_MARGIN_PX inside both limits (REGISTER_PX, and shift=auto's AUTO_LIMIT) is
#: not resampled and not measured again; the others are measured in full (docs/performance.md).
GLANCE_TILES, GLANCE_MIN_TILES, GLANCE_MARGIN_PX = 100, 20, 0.5
#: ``edge_margin=auto`` leaves the edge out when the frame moved by this much or more (px): a row
#: of one image then lies mostly outside the other's frame. A smaller measured move (a noisy or
#: re-encoded pair reads as a fraction of a pixel) keeps the frame's content in place.
FRAME_MOVED_PX = 0.5
#: ``shift=auto`` takes a sample as aligned without its whole-image phase correlation when
#: ``register=auto``'s field (fitted, not resampled) moves no corner by more than this (px), what
#: that measurement calls aligned, and records the field's mean move: on the development pairs
#: whose field stayed within twice this, the whole-image measurement never read more (docs/performance.md).
FIELD_ALIGNED_PX = ALIGNED_PX


def difference_map(a: Tensor, b: Tensor, reduce: str = "mean", shift: int = 0, sigma: float = 0.0) -> Tensor:
    """|a - b| per pixel, Nx1xHxW, after optional smoothing and with optional shift tolerance.

    Args:
        a, b: NxCxHxW images on one device.
        reduce: how channels are combined (``mean``, ``max``, ``sum``, ``l2``).
        shift: largest tolerated displacement in pixels along each axis (0: none).
        sigma: Gaussian pre-smoothing of both images in pixels (0: none). Without a shift, the
            difference is blurred instead (the blur is linear: the same values to a float rounding,
            one blur in place of two).
    Returns:
        Tensor of shape (N, 1, H, W), values >= 0.
    """
    if not shift:
        return reduce_channels(gaussian_blur(a - b, sigma).abs(), reduce)
    a, b = gaussian_blur(a, sigma), gaussian_blur(b, sigma)
    return shift_tolerant(lambda x, y: reduce_channels((x - y).abs(), reduce), a, b, shift, symmetric=True)


def _moved_by(field: Affine, height: int, width: int) -> float:
    """How far (px) a field moves the image on average: the norm of its mean corner displacement."""
    return float(field.corners(height, width).mean(0).norm())


def _samples(x: Tensor, indices: list[int]) -> Tensor:
    """The samples ``indices`` of the batch ``x``: ``x`` itself when that is all of them (indexing by a
    list copies the whole batch: 12 MB and several ms for a 1024^2 RGB image on a CPU)."""
    return x if indices == list(range(x.shape[0])) else x[indices]


def _field_moves(fields: dict[int, Affine | None], todo: list[int], height: int, width: int) -> dict[int, Tensor]:
    """The mean move ``(dy, dx)`` of each sample in ``todo`` whose field moves no corner by more
    than :data:`FIELD_ALIGNED_PX`: ``shift=auto`` needs no other measurement of it."""
    moves = {}
    for index in todo:
        field = fields.get(index)
        if field is not None:
            corners = field.corners(height, width)
            if float(corners.norm(dim=1).max()) <= FIELD_ALIGNED_PX:
                moves[index] = corners.mean(0)
    return moves


def slope(x: Tensor) -> Tensor:
    """Per pixel and channel, the magnitude of ``x``'s gradient (central differences, edges replicated)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    return torch.hypot(dx, dy)


def blurred_contrast(a: Tensor, b: Tensor, motion: float = 0.0, sigma: float = CONTRAST_SIGMA,
                     reach: int = CONTRAST_REACH) -> Tensor:
    """Per pixel (Nx1xHxW), the largest difference of any channel between ``a`` and ``b`` blurred
    by ``sigma`` px, less what moving their edges by ``motion`` px explains (the steeper slope
    of the two times ``motion``), over the pixels within ``reach`` px (a square)."""
    blurred_a, blurred_b = gaussian_blur(a, sigma), gaussian_blur(b, sigma)
    difference = (blurred_a - blurred_b).abs()
    if motion:
        difference = (difference - motion * torch.maximum(slope(blurred_a), slope(blurred_b))).clamp_min_(0)
    return neighbourhood_range(difference.amax(1, keepdim=True), reach)[1]


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


#: A channels-last image (as decoded from files) up to this many bytes is copied to planes first: the
#: channel mean of the phase correlations, the range tolerance and the lossless test then read
#: contiguous planes (together about a quarter faster at 1024 px on a CPU); a larger one is not
#: copied, so that its memory stays bounded by strips.
PLANAR_BYTES = 2**26


def planar(x: Tensor) -> Tensor:
    """``x`` in planar (NCHW-contiguous) layout when it is up to :data:`PLANAR_BYTES`, else as it is."""
    if x.is_contiguous() or x.numel() * x.element_size() > PLANAR_BYTES:
        return x
    return x.contiguous()


def detail_pixels(x: Tensor) -> Tensor:
    """Nx1xHxW bool: the pixels of NxCxHxW ``x`` whose values differ from a 4-neighbour's."""
    values = numpy_view(x)
    if values is not None:  # the same steps on a view of its memory (see differs)
        detail = np.zeros((x.shape[0], 1, *x.shape[2:]), dtype=bool)
        rows, cols = differs_numpy(values[..., 1:, :], values[..., :-1, :]), differs_rightward(values)
    else:
        detail = torch.zeros_like(x[:, :1], dtype=torch.bool)
        rows, cols = differs(x[..., 1:, :], x[..., :-1, :]), differs(x[..., :, 1:], x[..., :, :-1])
    detail[..., 1:, :] |= rows
    detail[..., :-1, :] |= rows
    detail[..., :, 1:] |= cols
    detail[..., :, :-1] |= cols
    return torch.from_numpy(detail) if isinstance(detail, np.ndarray) else detail


def identical_detail(a: Tensor, others: Sequence[Tensor], inside: Tensor) -> list[float]:
    """For each of ``others``, the share of A's detail pixels inside ``inside`` (1x1xHxW bool)
    that it holds bit for bit (NaN without such pixels)."""
    where = detail_pixels(a).to(inside.device) & inside
    return [float(identical_share(differs(a, other), where)[0]) for other in others]


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
    changed = differs(a, b)
    if valid is not None:
        changed &= valid

    def count(mask: Tensor) -> Tensor:  # no int64 copy of the mask; NumPy's count on a CPU (see differs)
        values = numpy_view(mask)
        if values is not None:
            return torch.from_numpy(np.count_nonzero(values[..., keep, :], axis=(1, 2, 3)).astype(np.int64))
        return torch.count_nonzero(mask[..., keep, :], dim=(1, 2, 3))

    counts = []
    for detail in (detail_pixels(a), detail_pixels(b)):
        if valid is not None:
            detail &= valid
        counted = count(detail)
        counts += [count(detail.logical_and_(changed)), counted]
    everywhere = count(valid) if valid is not None else torch.full_like(counts[0], changed[0, :, keep].numel())
    return torch.stack([*counts, count(changed), everywhere], 1)


def changes_clustered(a: Tensor, b: Tensor, valid: Tensor | None, reach: int = CLUSTER_REACH) -> bool:
    """Whether the pixels where one pair (1xCxHxW) differs lie in a few compact areas: the
    :data:`CLUSTERS` largest connected areas of them, grown by ``reach`` px, hold
    :data:`CLUSTERED_HOLD` of the grown area, which covers at most :data:`CLUSTERED_AREA` of the
    compared pixels (``lossless=clustered``, module docstring). The changed pixels are labelled
    on the host, as the ``regions`` postprocessor labels its masks (OpenCV, imported here: the
    test runs on few pairs, and a pipeline without it need not load OpenCV)."""
    import cv2

    from dfcore.ops.regions import label_regions

    changed = differs(a, b)
    if valid is not None:
        changed &= valid
    side = 2 * reach + 1  # grown on the host, with the labelling (OpenCV's dilation: 100x torch's max-pool)
    grown = cv2.dilate(changed[0, 0].cpu().numpy().astype(np.uint8), np.ones((side, side), np.uint8))
    compared = grown.size if valid is None else int(valid.count_nonzero())
    _, _, stats, _ = label_regions(grown, 8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
    total = float(areas.sum())
    return 0 < total <= CLUSTERED_AREA * compared and float(areas[:CLUSTERS].sum()) >= CLUSTERED_HOLD * total


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


def number(value: float | str, name: str) -> float:
    """A number given as text (the command line) or as a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    return value


def check_contrast(value: float) -> float:
    """``rendered_contrast`` as a float, or a ``ValueError`` unless it lies in [0, 1] (images in [0, 1])."""
    value = float(value)
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"rendered_contrast must be a number in [0, 1] (a difference of image values), got {value}")
    return value


def check_radius_or_auto(value: int | str, name: str) -> int | str:
    """A radius (whole px >= 0) or ``"auto"``."""
    if isinstance(value, str):
        if value.strip().lower() == "auto":
            return "auto"
        raise ValueError(f"{name} must be a whole number of pixels >= 0 or 'auto', got {value!r}")
    return check_radius(value, name)


@dataclass(frozen=True)
class PairFacts:
    """Per sample, measured before anything is resampled: whether its pixels are ranked exactly
    (N bool, ``exact``), the share of identical pixels (N), whether it was re-rendered (N bool:
    at least ``RENDERED_SHARE`` identical, yet not on one grid), and whether it is on one grid
    (N bool: lossless by the ``lossless`` test, whatever ``exact`` says: ``exact=on`` ranks
    every pair exactly, but registers, measures and fades it as what it is)."""

    lossless: Tensor
    untouched: Tensor
    rendered: Tensor
    aligned: Tensor
    #: N bool: aligned, or at least ``ONE_GRID_SHARE`` of the detail pixels identical (not registered).
    on_grid: Tensor


class Difference:
    """|pre(a) - pre(b)|, channels combined by ``reduce``; optional robustness (module docstring)."""

    def __init__(self, reduce: str = "mean", shift: int | str | None = 0, sigma: float = 0.0, scale: float = 0.0,
                 octaves: int = 1, background: float = 0.0, exact: str = "off", antialias: int | str = 0,
                 overshoot: float = 0.0, register: str = "off", rendered_overshoot: float | str | None = None,
                 rendered_contrast: float | str = 0.0, rendered_motion: float | str = 0.0,
                 edge_margin: int | str = 0, rendered_fade: str = "map", lossless: str = "share",
                 rendered_window: int = 0, window_slack: float | str = 0.0, window_fade: bool = False,
                 window_glyphs: float | str = 0.0, window_step: float | str = 1.0,
                 lossless_reach: int = CLUSTER_REACH, register_structure: float = 0.0,
                 register_border: bool = False, register_tones: int = 1) -> None:
        self.reduce = check_reduction(reduce)
        self.shift = check_shift(shift)
        self.sigma = check_sigma(sigma)
        self.scale = check_sigma(scale, "scale")
        self.octaves = check_octaves(octaves)
        self.background = check_sigma(background, "background")
        if exact not in EXACT_MODES:
            raise ValueError(f"exact must be one of {', '.join(EXACT_MODES)}, got {exact!r}")
        self.exact = exact
        if lossless not in LOSSLESS_TESTS:
            raise ValueError(f"lossless must be one of {', '.join(LOSSLESS_TESTS)}, got {lossless!r}")
        self.lossless = lossless
        self.lossless_reach = check_radius(lossless_reach, "lossless_reach")
        if self.lossless_reach != CLUSTER_REACH and lossless != "clustered":
            raise ValueError("lossless_reach is the reach of lossless=clustered's test: set lossless=clustered too")
        self.antialias = check_radius_or_auto(antialias, "antialias")
        self.overshoot = check_sigma(overshoot, "overshoot")
        self.rendered_overshoot = (self.overshoot if rendered_overshoot is None
                                   else check_sigma(number(rendered_overshoot, "rendered_overshoot"), "rendered_overshoot"))
        self.rendered_contrast = check_contrast(number(rendered_contrast, "rendered_contrast"))
        self.rendered_motion = check_sigma(number(rendered_motion, "rendered_motion"), "rendered_motion")
        self.rendered_window = check_window(rendered_window, "rendered_window")
        self.window_slack = check_sigma(number(window_slack, "window_slack"), "window_slack")
        self.window_fade = bool(window_fade)
        self.window_glyphs = check_glyph_height(window_glyphs)
        self.window_step = check_step(window_step)
        if self.window_fade and not self.rendered_contrast:
            raise ValueError("window_fade fades by rendered_contrast: set rendered_contrast too")
        self.edge_margin = check_radius_or_auto(edge_margin, "edge_margin")
        if rendered_fade not in FADE_MODES:
            raise ValueError(f"rendered_fade must be one of {', '.join(FADE_MODES)}, got {rendered_fade!r}")
        self.rendered_fade = rendered_fade
        if register not in REGISTER_MODES:
            raise ValueError(f"register must be one of {', '.join(REGISTER_MODES)}, got {register!r}")
        self.register = register
        self.register_structure = check_fraction(number(register_structure, "register_structure"),
                                                 "register_structure", "a tile's larger structure eigenvalue")
        if self.register_structure and register != "auto":
            raise ValueError("register_structure chooses the tiles of register=auto's fit: set register=auto too")
        self.register_border = bool(register_border)
        if self.register_border and register != "auto":
            raise ValueError("register_border leaves out what register=auto's resampling brings from B's blank "
                             "border: set register=auto too")
        self.register_tones = check_tone_window(register_tones, "register_tones")
        if self.register_tones > 1 and register != "auto":
            raise ValueError("register_tones is the window of register=auto's tone fit: set register=auto too")

    def __call__(self, problem: Problem) -> Tensor | StageOutput:
        with torch.no_grad():
            pre = problem.metric.preprocess
            a, b = planar(pre(problem.a)), planar(pre(problem.b))
            n = a.shape[0]
            infos: list[dict[str, Any]] = [{} for _ in range(n)]
            valid, resampled, fields = problem.valid, [False] * n, {}
            pair = self._measure(a, b, valid, infos)
            if self.register == "auto":
                b, inside, resampled, fields = self._register(a, b, infos, pair.on_grid)
                if inside is not None:
                    valid = inside if valid is None else valid & inside
            diff_map, valid = self._difference(a, b, valid, infos, resampled, pair, fields)
            if self.background:
                diff_map = background_normalise(diff_map, self.background, valid)
            support = None
            if self.rendered_contrast and bool(pair.rendered.any()):
                if self.rendered_fade == "map":
                    diff_map = self._fade_redrawn(diff_map, a, b, pair.rendered, infos)
                else:  # the fading itself: 1 on the samples not re-rendered
                    support = self._fade_redrawn(torch.ones_like(diff_map), a, b, pair.rendered, infos)
            if self.exact != "off":
                diff_map = self._rank_exact(diff_map, a, b, valid, pair.lossless)
        if support is not None or any(infos):
            return StageOutput(map=diff_map, info=infos, support=support)
        return diff_map

    def _measure(self, a: Tensor, b: Tensor, valid: Tensor | None, infos: list[dict[str, Any]]) -> PairFacts:
        """What the pair is, measured once before anything is resampled: lossless (``exact``),
        and its share of identical pixels (``antialias=auto``). Pixels are counted a strip of rows
        at a time (with one row of context for the detail test), so no full-size mask is held."""
        n, (height, width) = a.shape[0], a.shape[-2:]
        counts = None
        for read, keep, _ in bands(height, strip_rows(width, 1), 1):
            part = share_counts(a[..., read, :], b[..., read, :], valid[..., read, :] if valid is not None else None,
                                keep)
            counts = part if counts is None else counts + part
        assert counts is not None  # an image has at least one row
        lossless = torch.zeros(n, dtype=torch.bool, device=a.device)
        identical = share_from_counts(counts).nan_to_num(1.0)
        aligned = identical >= LOSSLESS_SHARE
        if self.lossless == "clustered":
            for index in ((identical >= CLUSTERED_SHARE) & ~aligned).nonzero().flatten().tolist():
                aligned[index] = changes_clustered(a[index:index + 1], b[index:index + 1],
                                                   valid[index:index + 1] if valid is not None else None,
                                                   self.lossless_reach)
        if self.exact != "off" or "auto" in (self.antialias, self.register):
            lossless = aligned.clone() if self.exact != "on" else ~lossless
            for info, share, used in zip(infos, identical.tolist(), lossless.tolist()):
                info.update(identical=round(share, 4), exact=bool(used) and self.exact != "off")
        untouched = 1 - counts[:, 4].double() / (height * width)
        return PairFacts(lossless, untouched, (untouched >= RENDERED_SHARE) & ~aligned, aligned,
                         aligned | (identical >= ONE_GRID_SHARE))

    def _register(self, a: Tensor, b: Tensor, infos: list[dict[str, Any]], on_grid: Tensor
                  ) -> tuple[Tensor, Tensor | None, list[bool], dict[int, Affine | None]]:
        """B resampled onto A where the measured field calls for it, the mask of A's pixels inside
        B (``None`` when nothing was resampled), which samples were, and the measured fields by
        sample. A pair on one grid (``on_grid``: lossless, or ``ONE_GRID_SHARE`` of its detail
        identical) is not measured."""
        height, width = a.shape[-2:]
        warped, inside, resampled = [], [], []
        models = self._fields(a, b, [i for i, done in enumerate(on_grid.tolist()) if not done])
        for index in range(a.shape[0]):
            model = models.get(index)
            sample, mask, used = b[index:index + 1], torch.ones_like(b[index:index + 1, :1], dtype=torch.bool), False
            infos[index]["register"] = None
            if model is not None:
                beyond = model.beyond_translation(height, width)
                used = beyond > REGISTER_PX or _moved_by(model, height, width) > AUTO_LIMIT
                infos[index]["register"] = {"affine": [[round(v, 5) for v in row] for row in model.matrix.T.tolist()],
                                            "beyond_translation_px": round(beyond, 2), "tiles": model.tiles,
                                            "residual_px": round(model.residual, 3), "resampled": used}
                if used:
                    border = blank_border(sample) if self.register_border else (0, 0, 0, 0)
                    sample, mask = warp(sample, model.displacement(height, width, a.device), border)
                    margin = math.ceil(float(model.corners(height, width).norm(dim=1).max()))
                    mask = mask & inner(height, width, margin, a.device)
                    sample = match_tones(a[index:index + 1], sample, mask, window=self.register_tones)
                    infos[index]["register"]["margin_px"] = margin
                    if self.register_border:
                        infos[index]["register"]["border_px"] = list(border)
            warped.append(sample)
            inside.append(mask)
            resampled.append(used)
        if not any(resampled):
            return b, None, resampled, models
        return torch.cat(warped), torch.cat(inside), resampled, models

    def _fields(self, a: Tensor, b: Tensor, todo: list[int]) -> dict[int, Affine | None]:
        """The measured field of each sample in ``todo``: its glance where that settles it
        (:data:`GLANCE_TILES`), else the full measurement's. An image too small for the glance to
        take fewer tiles is measured once, in full."""
        height, width = a.shape[-2:]
        fields: dict[int, Affine | None] = {}
        if todo and tile_step(height, width, max_tiles=GLANCE_TILES) != tile_step(height, width):
            glances = measure_affine(_samples(a, todo), _samples(b, todo), structure=self.register_structure,
                                     max_tiles=GLANCE_TILES)
            fields = {index: glance for index, glance in zip(todo, glances)
                      if glance is not None and glance.tiles >= GLANCE_MIN_TILES
                      and glance.beyond_translation(height, width) < REGISTER_PX - GLANCE_MARGIN_PX
                      and _moved_by(glance, height, width) < AUTO_LIMIT - GLANCE_MARGIN_PX}
        rest = [index for index in todo if index not in fields]
        if rest:
            fields.update(zip(rest, measure_affine(_samples(a, rest), _samples(b, rest),
                                                   structure=self.register_structure)))
        return fields

    def _difference(self, a: Tensor, b: Tensor, valid: Tensor | None, infos: list[dict[str, Any]],
                    resampled: list[bool], pair: PairFacts, fields: dict[int, Affine | None]
                    ) -> tuple[Tensor, Tensor | None]:
        """The local map of each sample (its tolerance: ``shift`` or measured, and the range; then its
        scales), in row strips: everything but the background and the exact ranking; and the
        pixels compared (``valid`` less each sample's ``edge_margin``).

        A sample that ``register`` resampled is left with the fit's residual, a fraction of a
        pixel: it gets a radius of 1 (a global translation measured on it would read the
        margin the resampling left, not the content), and is not measured. One whose measured
        field (``fields``) stays within :data:`FIELD_ALIGNED_PX` is aligned, with the field's mean move.
        """
        if self.shift == "auto":  # a pair on one grid is not measured (module docstring), nor one resampled
            translation = torch.zeros(a.shape[0], 2, device=a.device)
            todo = [i for i, (done, used) in enumerate(zip(pair.aligned.tolist(), resampled)) if not (done or used)]
            settled = _field_moves(fields, todo, *a.shape[-2:])
            for index, move in settled.items():
                translation[index] = move.to(translation)
            todo = [index for index in todo if index not in settled]
            if todo:
                reading = estimate_translation(_samples(a, todo), _samples(b, todo))
                translation[todo] = reading.to(translation.dtype)
            radii = [1 if used else radius for used, radius in zip(resampled, auto_radius(translation))]
            for index, (info, measured, used) in enumerate(zip(infos, translation.tolist(), resampled)):
                if not used:
                    info["misalignment_px"] = [round(v, 3) for v in measured]
                    if (radii[index] and bool(pair.on_grid[index])
                            and not self._shift_explains(a[index:index + 1], b[index:index + 1], measured, info)):
                        radii[index] = 0
                info["shift"] = radii[index]
        else:
            translation = None
            radii = [self.shift] * a.shape[0]
        valid = self._inside_margin(valid, radii, resampled, translation, a, infos)
        plan = list(zip(radii, self._ranges(radii, resampled, pair, infos), self._overshoots(pair, infos),
                        self._windows(pair, infos)))
        if len(set(plan)) == 1:  # one plan for the batch: one pass
            return self._in_strips(a, b, valid, *plan[0]), valid
        return torch.cat([self._in_strips(a[i:i + 1], b[i:i + 1], valid[i:i + 1] if valid is not None else None, *step)
                          for i, step in enumerate(plan)]), valid

    @staticmethod
    def _shift_explains(a: Tensor, b: Tensor, measured: list[float], info: dict[str, Any]) -> bool:
        """Whether B moved back by the measured translation, to the nearest pixel, leaves more of A's
        detail pixels identical than B as it is; a fraction of a pixel is taken as measured."""
        dy, dx = (round(v) for v in measured)
        if not (dy or dx):
            return True
        height, width = a.shape[-2:]
        moved = torch.roll(b, shifts=(-dy, -dx), dims=(-2, -1))
        inside = torch.zeros_like(a[:, :1], dtype=torch.bool)
        inside[..., max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)] = True
        before, after = identical_detail(a, (b, moved), inside)
        info["shift_identical"] = [round(before, 4), round(after, 4)]
        return after > before

    def _inside_margin(self, valid: Tensor | None, radii: list[int], resampled: list[bool],
                       translation: Tensor | None, like: Tensor, infos: list[dict[str, Any]]) -> Tensor | None:
        """``valid`` less the pixels within each sample's ``edge_margin`` of the image's edge: with
        ``auto``, on a pair whose frame moved by :data:`FRAME_MOVED_PX` or more (measured, or the
        fixed ``shift`` taken as the move), the shift's radius (what one image shows there lies
        outside the other's frame) plus the reach of the ``sigma`` smoothing that spreads it;
        none on a sample ``register`` resampled (its margin is left out already)."""
        if self.edge_margin == "auto":  # the shift's reach, and the pre-smoothing's that spreads it
            moved = ([radius > 0 for radius in radii] if translation is None
                     else (translation.abs().amax(dim=1) >= FRAME_MOVED_PX).tolist())
            margins = [radius + kernel_radius(self.sigma) if radius and move and not used else 0
                       for radius, move, used in zip(radii, moved, resampled)]
        else:
            margins = [0 if used else self.edge_margin for used in resampled]
        if not any(margins):
            return valid
        height, width = like.shape[-2:]
        for info, margin in zip(infos, margins):
            info["edge_margin_px"] = margin
        edge = torch.cat([inner(height, width, margin, like.device) for margin in margins])
        return edge if valid is None else valid & edge

    def _ranges(self, radii: list[int], resampled: list[bool], pair: PairFacts,
                infos: list[dict[str, Any]]) -> list[int]:
        """Per sample, the rasterisation tolerance's radius (0: the plain difference)."""
        if self.antialias != "auto":
            return [max(self.antialias, radius) if self.antialias else 0 for radius in radii]
        ranges = []
        for info, radius, used, rendered in zip(infos, radii, resampled, pair.rendered.tolist()):
            ranges.append(max(1, radius) if radius or used or rendered else 0)
            info["antialias"] = ranges[-1]
        return ranges

    def _overshoots(self, pair: PairFacts, infos: list[dict[str, Any]]) -> list[float]:
        """Per sample, the range's overshoot: ``rendered_overshoot`` on a re-rendered pair."""
        if self.rendered_overshoot == self.overshoot:
            return [self.overshoot] * len(infos)
        overshoots = [self.rendered_overshoot if rendered else self.overshoot for rendered in pair.rendered.tolist()]
        if self.antialias:
            for info, overshoot in zip(infos, overshoots):
                info["overshoot"] = overshoot
        return overshoots

    def _windows(self, pair: PairFacts, infos: list[dict[str, Any]]) -> list[int]:
        """Per sample, the matching window of ``rendered_window`` (0: the range, or the plain difference)."""
        windows = [self.rendered_window if rendered else 0 for rendered in pair.rendered.tolist()]
        for info, window in zip(infos, windows):
            if window:
                info["window"] = window
        return windows

    @property
    def _contrast_halo(self) -> int:
        """The rows of context :meth:`_contrast_factor` reads on each side."""
        return kernel_radius(CONTRAST_SIGMA) + CONTRAST_REACH + (1 if self.rendered_motion else 0)

    def _contrast_factor(self, x: Tensor, y: Tensor) -> Tensor:
        """``min(1, blurred contrast / rendered_contrast)`` per pixel, Nx1xHxW: how far re-rendering
        leaves a change."""
        return (blurred_contrast(x, y, self.rendered_motion) / self.rendered_contrast).clamp_(max=1.0)

    def _fade_redrawn(self, diff_map: Tensor, a: Tensor, b: Tensor, rendered: Tensor,
                      infos: list[dict[str, Any]]) -> Tensor:
        """The map of each re-rendered sample scaled by ``min(1, blurred contrast / rendered_contrast)``,
        strip by strip; the other samples' maps as they are."""
        def fade(values: Tensor, x: Tensor, y: Tensor) -> Tensor:
            factor = self._contrast_factor(x, y)
            return values * torch.where(rendered.view(-1, 1, 1, 1), factor, torch.ones_like(factor))

        for info, used in zip(infos, rendered.tolist()):
            if used:
                info["contrast_floor"] = self.rendered_contrast
        return map_in_strips(fade, (diff_map, a, b), self._contrast_halo)

    def _in_strips(self, a: Tensor, b: Tensor, valid: Tensor | None, radius: int, range_radius: int,
                   overshoot: float, window: int = 0) -> Tensor:
        """The per-pixel difference (with a ``window``, the windows' best match within ``range_radius``
        or ``radius``, at least 1 px; else the range within ``range_radius``, widened by ``overshoot``,
        when it is set, else the best match within ``radius``), zero outside ``valid``, at the map's
        scales; row strip by strip."""
        reach = max(1, radius, range_radius) if window else max(radius, range_radius)
        halo = (kernel_radius(self.sigma) + 2 * reach + window // 2 + (1 if window and self.window_slack else 0)
                + (self._contrast_halo if window and self.window_fade else 0)
                + (kernel_radius(self.scale * 2 ** (self.octaves - 1)) if self.scale else 0))

        def combine(d: Tensor) -> Tensor:
            return reduce_channels(d, self.reduce)

        def local(x: Tensor, y: Tensor, mask: Tensor | None, glyphs: Tensor | None) -> Tensor:
            if not (window or range_radius):
                diff_map = difference_map(x, y, self.reduce, radius, self.sigma)
                if mask is not None:
                    diff_map = diff_map * mask
                return multiscale_smooth(diff_map, self.scale, mask, self.octaves) if self.scale else diff_map
            # A tolerance compares the images as they are; ``sigma`` smooths the map instead.
            if window and (self.window_fade or glyphs is not None):  # the range, and the windows beyond it
                ranged = range_tolerant(x, y, reach, self.reduce, overshoot)
                diff_map = ranged + self._windows_beyond(x, y, ranged, glyphs, reach, window, combine)
            elif window:
                diff_map = window_tolerant(x, y, reach, window, combine, self.window_slack, self.window_step)
            else:
                diff_map = range_tolerant(x, y, range_radius, self.reduce, overshoot)
            if not self.scale:
                diff_map = gaussian_blur(diff_map, self.sigma)
                return diff_map if mask is None else diff_map * mask
            smoothed = multiscale_smooth(diff_map, self.scale, mask, self.octaves, pre=self.sigma)
            # A float rounding of the FFT must not make a zero difference negative.
            return smoothed.clamp_min_(0) if mask is None else smoothed

        glyphs = None
        if window and self.window_glyphs:  # judged whole, before the strips
            glyphs = glyph_mask(a, b, round(self.window_glyphs * math.hypot(*a.shape[-2:])))
        return map_in_strips(local, (a, b, valid, glyphs), halo)

    def _windows_beyond(self, x: Tensor, y: Tensor, ranged: Tensor, glyphs: Tensor | None, reach: int, window: int,
                        combine: Callable[[Tensor], Tensor]) -> Tensor:
        """The windows' difference beyond the ``ranged`` one: with ``window_fade``, as far as the blurred
        difference confirms it; with ``glyphs``, on those pixels only, and then (CPU tensors) computed
        in boxes around them, each wider by every pixel a window's value there reads."""
        def beyond(u: Tensor, v: Tensor, floor: Tensor, where: Tensor | None) -> Tensor:
            out = (window_tolerant(u, v, reach, window, combine, self.window_slack, self.window_step)
                   - floor).clamp_min_(0)
            if self.window_fade:
                out *= self._contrast_factor(u, v)
            return out if where is None else out * where

        marked = numpy_view(glyphs.any(0)[0]) if glyphs is not None else None
        if marked is None:  # no glyphs, or not on the CPU: the whole strip
            return beyond(x, y, ranged, glyphs)
        # A window's value at p reads both images within its half-width and a displacement of p, the
        # slack's 1-px range around them, and the fading its own halo.
        margin = (window // 2 + reach + (1 if self.window_slack else 0)
                  + (self._contrast_halo if self.window_fade else 0))
        boxes = boxes_around(marked, margin, WINDOW_BOX_JOIN_PX)
        return in_boxes(beyond, (x, y, ranged, glyphs), boxes) if boxes else torch.zeros_like(ranged)

    def _rank_exact(self, diff_map: Tensor, a: Tensor, b: Tensor, valid: Tensor | None, lossless: Tensor) -> Tensor:
        """Every differing pixel of a lossless sample lifted above every identical one, strip by strip
        (no full-size mask held); the map is changed in place. A batch with no lossless sample is
        left as it is (its lift is zero)."""
        if not bool(lossless.any()):
            return diff_map
        lift = diff_map.amax((-2, -1), keepdim=True)
        lift = torch.where(lift > 0, lift, torch.ones_like(lift)) * lossless.view(-1, 1, 1, 1)
        for _, _, rows in bands(a.shape[-2], strip_rows(a.shape[-1], 0), 0):
            changed = differs(a[..., rows, :], b[..., rows, :])
            if valid is not None:
                changed &= valid[..., rows, :]
            diff_map[..., rows, :] += lift * changed.to(diff_map.dtype)
        return diff_map

    @property
    def unit(self) -> str:
        """What the map's values are, with the options that change them (images in [0, 1])."""
        parts = [f"|a - b| (channels: {self.reduce})"]
        if self.antialias:
            where = " on pairs whose edges can be re-drawn" if self.antialias == "auto" else ""
            parts[0] += f" beyond a {'1' if self.antialias == 'auto' else self.antialias}-px rasterisation tolerance{where}"
        if self.rendered_window:
            where = f" on glyph-sized marks (<= {self.window_glyphs:g} of the diagonal)" if self.window_glyphs else ""
            parts[0] += (f"; on a re-rendered pair, the RMS over {self.rendered_window}-px windows at their best "
                         f"displacement{where}")
        if self.scale:
            parts.append(f"mean over {self.octaves} scale{'s' if self.octaves > 1 else ''} from {self.scale:g} px")
        if self.background:
            parts.append(f"/ sqrt(its {self.background:g}-px local level + its mean): relative to its surroundings")
        if self.rendered_contrast and self.rendered_fade == "map":
            moved = f" beyond a {self.rendered_motion:g}-px move" if self.rendered_motion else ""
            parts.append(f"x min(1, its {CONTRAST_SIGMA:g}-px blurred difference{moved} / {self.rendered_contrast:g}) "
                         "on a re-rendered pair")
        if self.exact != "off":
            lossless = " of a lossless pair" if self.exact == "auto" else ""
            parts.append(f"+ the map's maximum where the pixels{lossless} differ at all")
        return ", ".join(parts)

    def conventions(self) -> dict[str, object]:
        conventions: dict[str, object] = {"value": f"|a - b|, channels combined by {self.reduce}"}
        if self.sigma:
            conventions["smoothing"] = ("the map (after the rasterisation tolerance)" if self.antialias else "both images"
                                        ) + ", gaussian, truncated at 3 sigma, reflected borders"
        if self.antialias:
            where = (f" on pairs measured as misaligned, resampled by register, or with at least {RENDERED_SHARE:.0%} "
                     "of their pixels identical (re-rendered); 1 px, or the shift radius; each pair's in its info"
                     if self.antialias == "auto" else f" within {self.antialias} px")
            widened = (f"{self.overshoot} of its width; {self.rendered_overshoot} on a re-rendered pair"
                       if self.rendered_overshoot != self.overshoot else f"{self.overshoot} of its width")
            conventions["antialias"] = (
                f"a channel value within the range of the other image's values (widened by {widened}) matches; "
                f"else its distance to that range; both ways, the larger kept;{where}")
        if self.rendered_window:
            slack = (f", each pixel's difference less {self.window_slack:g} times the wider of the two images' ranges "
                     "within 1 px" if self.window_slack else "")
            fade = (", counted beyond the rasterisation tolerance's difference only in proportion to rendered_contrast's "
                    "factor" if self.window_fade else "")
            if self.window_glyphs:
                fade += (f", and only on the marks (where a channel of A or B spans {GLYPH_CONTRAST} within 1 px, "
                         f"8-connected) no taller than {self.window_glyphs:g} of the diagonal; the range elsewhere")
            steps = ("whole px" if self.window_step == 1 else
                     f"in steps of {self.window_step:g} px, the other image moved by bilinear interpolation")
            conventions["rendered_window"] = (
                f"on a re-rendered pair, in place of the range: per pixel, the root mean square over the "
                f"{self.rendered_window}x{self.rendered_window} px window around it{slack}, at the one displacement "
                f"({steps}, within the range's radius, at least 1) that fits the window best; both ways, the larger "
                f"kept{fade}; 'window' in its info")
        if self.register == "auto":
            one_way = (f", tiles whose smaller structure-tensor eigenvalue is below {self.register_structure:g} of the "
                       "larger left out" if self.register_structure else "")
            conventions["register"] = (
                f"per-tile phase correlation (64 px tiles, half overlap){one_way}, affine fit with outliers trimmed "
                f"(refused when its tiles lie nearly along one line, less than {MIN_SPREAD:g} px across it, or its "
                f"field is sheared or scaled unevenly by more than {MAX_SHEAR:.0%}), first on about {GLANCE_TILES} "
                f"tiles (a pair whose fit on {GLANCE_MIN_TILES} or more of them stays {GLANCE_MARGIN_PX} px inside both "
                "limits below is not measured again); B resampled "
                f"(bicubic) when the field departs from a translation by more than {REGISTER_PX} px or moves by more "
                f"than {AUTO_LIMIT} px, then its tones fitted to A's (gain and offset per channel"
                + (f", on the means of {self.register_tones}x{self.register_tones} px blocks"
                   if self.register_tones > 1 else "") + "); pixels without a "
                "counterpart, or within the largest displacement of the edge, not compared"
                + ("; nor those whose counterpart lies in a blank band along B's edge (flat rows or columns of one "
                   "colour set off from the page: a scanner's margin)" if self.register_border else "")
                + "; each pair's fit in its info")
        if self.shift:
            conventions["shift_tolerance"] = (
                "per pixel, the smallest difference over displacements |dy|, |dx| <= shift, "
                "a against moved b and b against moved a; the larger of the two; edges replicated")
        if self.edge_margin:
            margin = ("the shift's radius plus the sigma smoothing's reach on a pair whose frame moved by "
                      f"{FRAME_MOVED_PX} px or more"
                      if self.edge_margin == "auto" else f"{self.edge_margin} px")
            conventions["edge_margin"] = (f"pixels within {margin} of the image's edge not compared (none on a pair "
                                          "register resampled); each pair's in its info")
        if self.shift == "auto":
            conventions["shift_auto"] = (
                "misalignment measured by phase correlation (Hann window, parabolic peak); shift 0 within "
                "0.15 px, else the whole pixels that cover it (at most 4); a lossless pair is not measured (0); "
                "each pair's in its info")
        if self.scale:
            conventions["scales"] = [self.scale * 2**level for level in range(self.octaves)]
        if self.background:
            conventions["background"] = (
                f"map / sqrt(gaussian({self.background} px) of the map + its mean), computed at a coarser grid")
        if self.rendered_contrast:
            conventions["rendered_contrast"] = (
                f"on a pair with at least {RENDERED_SHARE:.0%} of its pixels identical, not lossless: the map times "
                f"min(1, c / {self.rendered_contrast:g}), c the largest |a - b| of any channel after a gaussian blur of "
                f"{CONTRAST_SIGMA:g} px" + (f", less {self.rendered_motion:g} px times the steeper slope of the two "
                                            "blurred images (central differences)" if self.rendered_motion else "")
                + f", within {CONTRAST_REACH} px (after the background); 'contrast_floor' in its info"
                + ("" if self.rendered_fade == "map" else "; the map is left whole, that factor is its support: the "
                   "differences reported are those the faded map holds too"))
        if self.exact != "off":
            conventions["exact"] = (
                "pixels whose values differ rank above every identical pixel"
                + (f" when at least {LOSSLESS_SHARE:.0%} of the detail pixels (differing from a 4-neighbour, in A or "
                   "in B; the larger share) are identical" if self.exact == "auto" else "")
                + (f", or at least {CLUSTERED_SHARE:.0%} and the {CLUSTERS} largest connected areas of the changed "
                   f"pixels, grown by {self.lossless_reach} px, hold {CLUSTERED_HOLD:.0%} of them and cover at most "
                   f"{CLUSTERED_AREA:.0%} of the image"
                   if self.exact == "auto" and self.lossless == "clustered" else ""))
        return conventions
