"""Misregistration beyond a translation: an affine transform measured from many tiles.

A printed and rescanned page, a photograph of a screen or a drawing redrawn at another size
is off by a small scale and rotation as well as an offset: the displacement grows towards
the corners (1% of scale moves the corner of a 640 px image by about 4 px) and no single
translation covers it. Here the displacement is measured where it can be: both images are
cut into overlapping tiles, each tile's translation is measured by phase correlation
(:func:`dfcore.ops.shift.phase_correlation`), tiles without structure or whose correlation
peak is weak are left out (and, when asked, tiles whose structure runs one way only: along a
straight line or edge the correlation is a ridge and the offset along it is not measured, so
such a tile reads a wrong translation, :func:`two_dimensional`), and an affine transform is
fitted to the rest by consensus (a tile over a local change reads the change, not the page;
one over a repeated pattern can read a period off), then refined by least squares; a fit
whose tiles lie nearly along one line, or whose field is sheared, is no scan's and is refused
(:func:`fit_affine`). B is then
resampled onto A's grid (``grid_sample``, bicubic) and the pixels of A whose counterpart
falls outside B are marked. A scan also changes the page's tone (paper tint, exposure):
:func:`match_tones` fits each channel of B to A by a gain and an offset, so the tint does not
light up every flat area; with a ``window`` it fits local means, where the scan's noise and blur
no longer flatten the gain of a channel with little contrast.

Everything runs on the images' device; the fit solves a few hundred 3x3 systems per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.ops.host import FLOATS, numpy_view
from dfcore.ops.shift import phase_correlation

#: Tile side in px: large enough for a tile to hold structure, small enough to see the field.
TILE = 64
#: Tiles overlap by half, spaced further apart on large images so that at most about this many are measured.
MAX_TILES = 300
#: A tile counts when its correlation peak reaches this height and both tiles have this much contrast.
MIN_PEAK, MIN_CONTRAST = 0.1, 0.02
#: The fit needs this many tiles that agree; a tile agrees when it lies within INLIER_PX of the field.
MIN_TILES, INLIER_PX = 6, 1.0
#: Fields tried by consensus (three tiles each), and least-squares refinements of the winner.
TRIALS, ROUNDS = 256, 3
#: A fit whose agreeing tiles lie farther than this from it (median, px) is refused.
MAX_RESIDUAL = 1.0
#: A fit whose agreeing tiles spread less than this across their narrowest direction (standard
#: deviation of their centres, px) is refused: its tilt across that direction rests on a tile or two.
MIN_SPREAD = TILE / 2
#: A fit whose field departs from a turn and a uniform scale by more than this is refused (the
#: displacement's gradient: |d(dy)/dy - d(dx)/dx| + |d(dy)/dx + d(dx)/dy|): a page scanned or
#: photographed square-on is turned and scaled, not sheared.
MAX_SHEAR = 0.02
#: Tone fit: residuals below this never make a pixel an outlier; below this variance no gain is fitted.
TONE_CUTOFF, MIN_TONE_VARIANCE = 0.05, 1e-4
#: The widest block :func:`match_tones` takes its means over (px).
MAX_TONE_WINDOW = 31


@dataclass(frozen=True)
class Affine:
    """A displacement field ``d(y, x) = [y, x, 1] @ matrix``: where the pixel ``(y, x)`` of A lies in B.

    ``matrix`` is 3x2 (float64, rows: y, x, 1; columns: dy, dx); ``tiles`` the number of
    tiles the fit kept, ``residual`` their median distance to the fit, in px.
    """

    matrix: Tensor
    tiles: int
    residual: float

    def displacement(self, height: int, width: int, device: torch.device | str | None = None) -> Tensor:
        """The HxWx2 ``(dy, dx)`` field on A's grid."""
        ys = torch.arange(height, dtype=torch.float64, device=device)
        xs = torch.arange(width, dtype=torch.float64, device=device)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([yy, xx, torch.ones_like(yy)], -1)
        return points @ self.matrix.to(device=points.device)

    def corners(self, height: int, width: int) -> Tensor:
        """The displacement at the four corners, 4x2."""
        points = torch.tensor([[0, 0, 1], [0, width - 1, 1], [height - 1, 0, 1], [height - 1, width - 1, 1]],
                              dtype=torch.float64, device=self.matrix.device)
        return points @ self.matrix

    def beyond_translation(self, height: int, width: int) -> float:
        """How far, in px, the field departs from its mean translation at the worst corner."""
        corners = self.corners(height, width)
        return float((corners - corners.mean(0)).norm(dim=1).max())


def tile_translations(a: Tensor, b: Tensor, tile: int = TILE, structure: float = 0.0, max_tiles: int = MAX_TILES
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """Each tile's translation from A to B, and whether to trust it.

    Args:
        a, b: NxCxHxW images on one device, H and W at least ``tile``.
        tile: side of the square tiles, in px; they overlap by half, or are spaced wider so
            that about ``max_tiles`` are measured on a large image.
        structure: a tile of A whose structure is less two-dimensional than this
            (:func:`two_dimensional`) is not trusted; 0 trusts every tile that passes the rest.
    Returns:
        ``(centres, shifts, trusted)``: Kx2 tile centres ``(y, x)`` (float64), NxKx2 ``(dy, dx)``
        and an NxK bool mask (a peak of at least ``MIN_PEAK``, contrast in both tiles, and
        structure in A's at least ``structure``).
    """
    height, width = a.shape[-2:]
    step = tile_step(height, width, tile, max_tiles)
    grey_a, grey_b = a.float().mean(1), b.float().mean(1)
    tiles_a = grey_a.unfold(1, tile, step).unfold(2, tile, step)  # N x rows x cols x tile x tile
    tiles_b = grey_b.unfold(1, tile, step).unfold(2, tile, step)
    n, rows, cols = tiles_a.shape[:3]
    flat_a, flat_b = tiles_a.reshape(-1, 1, tile, tile), tiles_b.reshape(-1, 1, tile, tile)
    shifts, peak = phase_correlation(flat_a, flat_b)
    contrast = torch.minimum(_std(flat_a), _std(flat_b))[:, 0]
    trusted = (peak >= MIN_PEAK) & (contrast >= MIN_CONTRAST)
    if structure > 0:
        trusted &= two_dimensional(flat_a) >= structure
    ys = torch.arange(rows, dtype=torch.float64, device=a.device) * step + (tile - 1) / 2
    xs = torch.arange(cols, dtype=torch.float64, device=a.device) * step + (tile - 1) / 2
    centres = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)
    return centres, shifts.view(n, rows * cols, 2).double(), trusted.view(n, rows * cols)


def tile_step(height: int, width: int, tile: int = TILE, max_tiles: int = MAX_TILES) -> int:
    """How far apart (px) :func:`tile_translations` places its tiles on an image of this size."""
    return max(tile // 2, round(math.sqrt(height * width / max_tiles)))


def _std(tiles: Tensor) -> Tensor:
    """``tiles.std((-2, -1))`` in two passes (to a float rounding): ten times as fast on a CPU as
    torch's one-pass reduction over two dimensions."""
    flat = tiles.flatten(-2)
    centred = flat - flat.mean(-1, keepdim=True)
    return centred.square_().sum(-1).div_(flat.shape[-1] - 1).sqrt_()


def two_dimensional(tiles: Tensor) -> Tensor:
    """How two-dimensional each tile's structure is, in [0, 1]: the smaller eigenvalue of the
    2x2 structure tensor of its gradients (central differences, Hann-weighted as phase
    correlation sees the tile) over the larger. Near 0 along one straight line or edge (the
    aperture problem: a shift along it changes nothing), near 1 at corners, dots and texture.

    Args:
        tiles: Kx1xTxT. Returns: K (0 for a flat tile).
    """
    plane = tiles[:, 0].float()
    gy = plane[:, 2:, 1:-1] - plane[:, :-2, 1:-1]
    gx = plane[:, 1:-1, 2:] - plane[:, 1:-1, :-2]
    hann = torch.hann_window(plane.shape[-1], periodic=False, device=plane.device)[1:-1]
    window = hann[:, None] * hann[None]
    jyy, jxx, jxy = ((u * v * window).sum((-2, -1)) for u, v in ((gy, gy), (gx, gx), (gx, gy)))
    trace = jyy + jxx
    spread = ((jyy - jxx).square() + 4 * jxy.square()).sqrt()
    return ((trace - spread) / (trace + spread).clamp_min(1e-12)).clamp_min(0)


def shear(matrix: Tensor) -> float:
    """How far a 3x2 field (:class:`Affine`'s ``matrix``) departs from a turn and a uniform
    scale: ``|d(dy)/dy - d(dx)/dx| + |d(dy)/dx + d(dx)/dy|`` (0 for a similarity)."""
    (dy_y, dx_y), (dy_x, dx_x) = matrix[:2].tolist()
    return abs(dy_y - dx_x) + abs(dy_x + dx_y)


def fit_affine(centres: Tensor, shifts: Tensor, trusted: Tensor) -> Affine | None:
    """The affine field that best explains one sample's trusted tile shifts, or ``None``.

    A tile over a repeated pattern (a fence, a row of windows) can read a shift off by the
    pattern's period, and such tiles agree with each other, so a least-squares fit with
    outliers trimmed can settle between the two. The fit is therefore found by consensus
    (RANSAC, Fischler and Bolles 1981, with a fixed seed: the same pair gives the same
    fit): ``TRIALS`` affine fields through three tiles each, the one that explains the most
    tiles within ``INLIER_PX`` wins, and it is refined by least squares on the tiles it
    explains, ``ROUNDS`` times. ``None`` when fewer than ``MIN_TILES`` tiles agree, when
    they lie more than ``MAX_RESIDUAL`` px from the fit (median), or when they lie nearly along
    one line (less than ``MIN_SPREAD`` px across it): five tiles in a row and one beside them
    fit exactly a field that turns the page by whatever that one tile misread; or when the
    field is sheared or scaled unevenly by more than ``MAX_SHEAR``: six tiles misread on a
    clock's face agree on a shear of 5 to 8%, no scan's or photograph's field.

    Args:
        centres: Kx2 float64 ``(y, x)``; shifts: Kx2 float64 ``(dy, dx)``; trusted: K bool.
    """
    points = torch.cat([centres, torch.ones_like(centres[:, :1])], 1)
    index = torch.nonzero(trusted).flatten()
    if len(index) < MIN_TILES:
        return None
    generator = torch.Generator().manual_seed(0)
    picks = index[torch.randint(len(index), (TRIALS, 3), generator=generator).to(index.device)]
    corners = points[picks]  # TRIALS x 3 x 3
    usable = torch.linalg.det(corners).abs() > 2 * TILE * TILE  # three tiles spanning a triangle
    if not bool(usable.any()):
        return None
    models = torch.linalg.solve(corners[usable], shifts[picks[usable]])
    support = ((points[index] @ models - shifts[index]).norm(dim=-1) <= INLIER_PX).sum(1)
    matrix = models[int(support.argmax())]
    for _ in range(ROUNDS):
        keep = trusted & ((points @ matrix - shifts).norm(dim=1) <= INLIER_PX)
        if int(keep.sum()) < MIN_TILES:
            return None
        matrix = torch.linalg.lstsq(points[keep], shifts[keep]).solution
    residual = (points @ matrix - shifts).norm(dim=1)
    keep = trusted & (residual <= INLIER_PX)
    if int(keep.sum()) < MIN_TILES or float(residual[keep].median()) > MAX_RESIDUAL:
        return None
    kept = centres[keep] - centres[keep].mean(0)
    if float(torch.linalg.eigvalsh(kept.T @ kept / len(kept))[0].clamp_min(0).sqrt()) < MIN_SPREAD:
        return None
    if shear(matrix) > MAX_SHEAR:
        return None
    return Affine(matrix, int(keep.sum()), float(residual[keep].median()))


def measure_affine(a: Tensor, b: Tensor, tile: int = TILE, structure: float = 0.0, max_tiles: int = MAX_TILES
                   ) -> list[Affine | None]:
    """Per sample, the affine field from A to B (:func:`fit_affine` over :func:`tile_translations`,
    ``structure`` and ``max_tiles`` as there).

    ``None`` for a sample whose tiles do not allow a fit, and for images smaller than two tiles.
    """
    if min(a.shape[-2:]) < 2 * tile:
        return [None] * a.shape[0]
    centres, shifts, trusted = tile_translations(a, b, tile, structure, max_tiles)
    return [fit_affine(centres, shifts[i], trusted[i]) for i in range(a.shape[0])]


def warp(b: Tensor, field: Tensor, border: tuple[int, int, int, int] = (0, 0, 0, 0)) -> tuple[Tensor, Tensor]:
    """B resampled at ``p + field[p]`` for every pixel ``p`` of A's grid (bicubic, values clamped).

    Args:
        b: 1xCxHxW image.
        field: HxWx2 ``(dy, dx)`` displacement (float64).
        border: rows and columns along B's edges (top, bottom, left, right) that hold no content
            (:func:`blank_border`): counterparts there count as outside B.
    Returns:
        ``(warped, inside)``: 1xCxHxW on A's grid, and 1x1xHxW bool of the pixels whose
        counterpart lies inside B, beyond its ``border`` (the others repeat B's edge).
    """
    height, width = b.shape[-2:]
    top, bottom, left, right = border
    ys = torch.arange(height, dtype=torch.float64, device=b.device)[:, None] + field[..., 0]
    xs = torch.arange(width, dtype=torch.float64, device=b.device)[None, :] + field[..., 1]
    grid = torch.stack([(2 * xs + 1) / width - 1, (2 * ys + 1) / height - 1], -1)[None].to(b.dtype)
    warped = F.grid_sample(b, grid, mode="bicubic", padding_mode="border", align_corners=False)
    inside = (ys >= top) & (ys <= height - 1 - bottom) & (xs >= left) & (xs <= width - 1 - right)
    return warped.clamp(0, 1), inside[None, None]


#: A row (column) of a blank band: its values' standard deviation along it at most FLAT in every
#: channel, its mean within APART / 2 of the band's edge row; the band ends where the page starts,
#: whose next rows' mean lies APART or more from the band's colour in some channel.
FLAT, APART = 0.05, 0.15


def blank_border(b: Tensor) -> tuple[int, int, int, int]:
    """The widths (top, bottom, left, right) of the blank bands along the edges of 1xCxHxW ``b``,
    in px: where a scanner's lid or glass showed and the page did not reach.

    A band is the rows (columns) from the edge inward that are flat (:data:`FLAT`) and of one
    colour, and that the page's first rows are set off from by :data:`APART`; at most a quarter
    of the side. A flat sky running to the edge, with nothing set off from it, is no band. The
    rows are read from the edge inward, :data:`BAND_STEP` at a time, until one is not flat.
    """
    x = b[0]
    height, width = x.shape[-2:]
    return (_band(x, 1, height, False), _band(x, 1, height, True), _band(x, 2, width, False),
            _band(x, 2, width, True))


#: :func:`blank_border` reads this many rows (columns) at a time from the edge inward.
BAND_STEP = 16


def _band(x: Tensor, dim: int, side: int, from_end: bool) -> int:
    """The width of the blank band along one edge of CxHxW ``x``: rows (``dim`` 1) or columns (2), from
    the start of that axis or its end; 0 when there is none."""
    def lines(start: int, stop: int) -> tuple[Tensor, Tensor]:  # (spread, CxL means), from the edge inward
        part = x.narrow(dim, side - stop, stop - start) if from_end else x.narrow(dim, start, stop - start)
        spread, means = part.std(dim=3 - dim).amax(0), part.mean(3 - dim)
        return (spread.flip(0), means.flip(1)) if from_end else (spread, means)

    limit, start, edge = side // 4, 0, None
    while start < limit:
        spread, means = lines(start, min(limit, start + BAND_STEP))
        edge = means[:, :1] if edge is None else edge
        flat = (spread <= FLAT) & ((means - edge).abs().amax(0) <= APART / 2)
        if not bool(flat.all()):
            width = start + int(flat.logical_not().to(torch.uint8).argmax())
            break
        start += flat.numel()
    else:
        return 0
    if width == 0:
        return 0
    page = lines(width, min(width + 3, side))[1].mean(1, keepdim=True)
    return width if float((page - edge).abs().amax()) >= APART else 0


def lower_median(values: Tensor) -> float:
    """The lower median of a 1-D tensor, as ``values.median()`` gives it; on the CPU by numpy's
    selection (the tensor's own memory, no copy), several times faster than torch's there."""
    array = numpy_view(values, FLOATS)
    if array is None:
        return float(values.median())
    rank = (values.numel() - 1) // 2
    return float(np.partition(array, rank)[rank])


def match_tones(a: Tensor, b: Tensor, valid: Tensor, rounds: int = 2, window: int = 1) -> Tensor:
    """B with each channel mapped by the gain and offset that best fit it to A over ``valid``.

    Least squares per channel, then ``rounds`` refits without the pixels whose residual lies
    beyond three robust standard deviations, and at least ``TONE_CUTOFF`` (the local
    changes; on a mostly white page the background fits exactly and must not make the ink
    an outlier). A channel with too little contrast to fit a gain (variance below
    ``MIN_TONE_VARIANCE``) gets an offset alone. 1xCxHxW images, 1x1xHxW bool; the result
    is clamped to [0, 1].

    ``window`` (odd, px, :func:`check_tone_window`): the fit reads the means of the ``window x
    window`` blocks of a grid laid from the corner, those wholly of compared pixels, instead of
    single pixels (a linear tone maps means as it maps pixels; each pixel is read once). B's noise
    and blur are errors in the fit's variable, which pull its gain towards zero: on a scan whose
    sky and ground are of like red, most of the red channel's variance is noise and blurred
    edges, and a gain of 0.55 instead of 1 turned every red-rich object into a difference.
    """
    check_tone_window(window)
    fitted = b
    if window > 1:  # the blocks' means, of the blocks wholly of compared pixels (if two are)
        whole = F.max_pool2d((~valid).float(), window) == 0
        if int(whole.count_nonzero()) >= 2:
            a, fitted, valid = F.avg_pool2d(a, window), F.avg_pool2d(b, window), whole
    weight = valid[0, 0].flatten()
    out = []
    for channel in range(b.shape[1]):
        # The fit and the residual's median read the compared pixels only: gathered once.
        x, y = fitted[0, channel].flatten()[weight].double(), a[0, channel].flatten()[weight].double()
        kept: tuple[Tensor, Tensor] = (x, y)
        gain, offset = 1.0, 0.0
        for fit in range(rounds + 1):
            xs, ys = kept
            if xs.numel() < 2:
                break
            spread = float(xs.var(unbiased=False))
            if spread < MIN_TONE_VARIANCE:
                gain, offset = 1.0, lower_median(ys - xs)
            else:
                mean_x, mean_y = xs.mean(), ys.mean()
                gain = float(((xs - mean_x) * (ys - mean_y)).mean() / spread)
                offset = float(mean_y - gain * mean_x)
            if fit == rounds:
                break
            residual = (gain * x + offset - y).abs_()
            keep = residual <= max(TONE_CUTOFF, 3 * 1.4826 * lower_median(residual))
            kept = (x[keep], y[keep])
        out.append((gain * b[:, channel] + offset).clamp(0, 1))
    return torch.stack(out, 1).to(b.dtype)


def check_tone_window(window: int, name: str = "window") -> int:
    """:func:`match_tones`'s ``window``: an odd whole number of px from 1 (single pixels) to
    :data:`MAX_TONE_WINDOW`."""
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_TONE_WINDOW \
            or window % 2 == 0:
        raise ValueError(f"{name} must be an odd number of pixels from 1 to {MAX_TONE_WINDOW}, got {window!r}")
    return window


def inner(height: int, width: int, margin: int, device: torch.device | str | None = None) -> Tensor:
    """1x1xHxW bool: the pixels at least ``margin`` px from the image's edge."""
    mask = torch.zeros(1, 1, height, width, dtype=torch.bool, device=device)
    if 2 * margin < min(height, width):
        mask[..., margin:height - margin, margin:width - margin] = True
    return mask
