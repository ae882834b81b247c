"""Separable filtering: one Gaussian for every stage that works at a scale.

One implementation serves the ``difference`` strategy's pre-smoothing and map scale, the
``smooth`` postprocessor, the background level, and the pyramids and local means of the
``filterbank`` metric. Everything stays on the input's device and dtype; borders are
reflected by default, so a blob at the edge keeps its height.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.ops.host import FLOATS, numpy_view
from dfcore.ops.strips import boxes_around, in_boxes

#: The kernel reaches this many sigmas on each side (a truncation error below 0.3%).
TRUNCATE = 3.0
PADDINGS = ("reflect", "replicate")


def kernel_radius(sigma: float) -> int:
    """The radius in pixels of :func:`gaussian_kernel` for ``sigma`` (0 for no blur): how far a blur reaches."""
    return max(1, math.ceil(TRUNCATE * sigma)) if sigma > 0 else 0


@lru_cache(maxsize=32)
def gaussian_kernel(sigma: float, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> Tensor:
    """The normalised 1-D Gaussian of standard deviation ``sigma`` pixels, odd length.

    Computed in float64, then cast to ``dtype`` on ``device``; its radius is
    ``ceil(TRUNCATE * sigma)``, at least 1.
    """
    radius = max(1, math.ceil(TRUNCATE * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    return (kernel / kernel.sum()).to(device=device, dtype=dtype)


def check_sigma(sigma: float, name: str = "sigma") -> float:
    """``sigma`` as a float, or a ``ValueError`` unless it is finite and >= 0."""
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (pixels), got {sigma}")
    return sigma


def separable_filter(x: Tensor, kernel: Tensor, padding: str = "reflect", stride: int = 1) -> Tensor:
    """Correlate every channel of ``x`` with a 1-D ``kernel`` along y, then along x.

    Args:
        x: NxCxHxW float tensor, any device.
        kernel: 1-D kernel of odd length (cast to ``x``'s device and dtype).
        padding: ``reflect`` or ``replicate``; reflection falls back to replication when the
            kernel is wider than the image.
        stride: subsampling after filtering along each axis (2 for a pyramid level).
    Returns:
        NxCx(H/stride)x(W/stride), rounded up; the same dtype and device as ``x``.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    kernel = kernel.to(device=x.device, dtype=x.dtype)
    radius = kernel.numel() // 2
    if padding == "reflect" and radius >= min(x.shape[-2:]):
        padding = "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=padding)
    return _correlate(_correlate(x, kernel, -2, stride), kernel, -1, stride)


def _correlate(x: Tensor, kernel: Tensor, dim: int, stride: int) -> Tensor:
    """``x`` (already padded) correlated with ``kernel`` along ``dim``, only where the kernel fits,
    every ``stride``-th output kept.

    A weighted sum of shifted views, one multiply-add per tap: on a CPU a depthwise
    ``conv2d`` of a 1-D kernel runs 10 to 40 times slower than this for the kernels used here
    (docs/performance.md), and the sums are the same to the last bit in float32.
    """
    size = kernel.numel()
    span = (x.shape[dim] - size) // stride * stride + 1

    def tap(offset: int) -> Tensor:
        view = x.narrow(dim, offset, span)
        return view if stride == 1 else view.unfold(dim, 1, stride).squeeze(-1)

    out = tap(0) * kernel[0]
    for offset in range(1, size):
        if out.requires_grad:  # autograd (a differentiable metric's filters): no in-place update, same sums
            out = torch.addcmul(out, tap(offset), kernel[offset])
        else:
            out.addcmul_(tap(offset), kernel[offset])
    return out


def gaussian_blur(x: Tensor, sigma: float, padding: str = "reflect") -> Tensor:
    """Blur every channel of ``x`` with a Gaussian of ``sigma`` pixels; ``sigma=0`` returns ``x``.

    Args:
        x: NxCxHxW float tensor, any device.
        sigma: standard deviation in pixels, >= 0.
        padding: ``reflect`` (default) or ``replicate``.
    Returns:
        Tensor of the same shape, dtype and device.
    """
    sigma = check_sigma(sigma)
    if sigma == 0:
        return x
    return separable_filter(x, gaussian_kernel(sigma, x.device, x.dtype), padding)


def coarse_blur(x: Tensor, sigma: float) -> Tensor:
    """A wide Gaussian blur computed on a coarser grid: for a slowly varying level, not for detail.

    For ``sigma`` of 8 px or more the input is area-averaged by a power of two ``f`` with
    ``f <= sigma / 4``, blurred by ``sigma / f`` and brought back by bilinear interpolation:
    the cost no longer grows with ``sigma``, and the result stays within a small fraction of
    the full-resolution blur for the smooth fields it is meant for.
    """
    sigma = check_sigma(sigma)
    factor = 1
    while sigma / (2 * factor) >= 4 and min(x.shape[-2:]) // (2 * factor) >= 8:
        factor *= 2
    if factor == 1:
        return gaussian_blur(x, sigma)
    height, width = x.shape[-2:]
    small = F.avg_pool2d(x, factor, ceil_mode=True, count_include_pad=False)
    small = gaussian_blur(small, sigma / factor)
    return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)


def check_octaves(octaves: int) -> int:
    """``octaves`` as an int, or a ``ValueError`` unless it is a whole number >= 1."""
    if isinstance(octaves, bool) or int(octaves) != octaves or octaves < 1:
        raise ValueError(f"octaves must be a whole number >= 1, got {octaves!r}")
    return int(octaves)


def multiscale_smooth(values: Tensor, sigma: float, valid: Tensor | None = None, octaves: int = 1,
                      pre: float = 0.0) -> Tensor:
    """Mean of the Gaussian smoothings of an Nx1xHxW map at ``sigma * 2**i``, ``i < octaves``.

    Pixels outside ``valid`` (Nx1xHxW bool) neither contribute nor receive a value
    (normalised convolution); they are set to zero. ``pre``: the map is first blurred by a
    Gaussian of ``pre`` px (as :func:`gaussian_blur`).

    Without ``valid``, when the widest kernel reaches :data:`FFT_RADIUS` px or more, the whole
    filter (``pre`` and every scale) is one product of spectra (:func:`_smooth_by_fft`): the
    same values to a float rounding, at a cost that does not grow with ``sigma``. A ``valid``
    that is a rectangle in every sample (an edge margin, a resampled pair's inner part) is
    smoothed so too, with its edges corrected (:func:`_rectangle_scales`).
    """
    octaves = check_octaves(octaves)
    sigma, pre = check_sigma(sigma), check_sigma(pre)
    reach = kernel_radius(pre) + kernel_radius(sigma * 2 ** (octaves - 1))
    by_fft = (sigma > 0 and FFT_RADIUS <= reach < min(values.shape[-2:])
              and values.dtype in (torch.float32, torch.float64))
    if by_fft and valid is None:
        return _smooth_by_fft(values, sigma, octaves, pre)
    values = gaussian_blur(values, pre)
    weight = None if valid is None else valid.to(values.dtype)
    if weight is not None:
        values = values * weight
        rectangles = _rectangles(valid) if by_fft else None
        if rectangles is not None:
            return _rectangle_scales(values, rectangles, sigma, octaves) * weight
    total = None
    for level in range(octaves):
        scale = sigma * 2**level
        smoothed = gaussian_blur(values, scale)
        if weight is not None:
            smoothed = smoothed / gaussian_blur(weight, scale).clamp_min(1e-6)
        total = smoothed if total is None else total + smoothed
    total = total / octaves
    return total if weight is None else total * weight


#: :func:`multiscale_smooth` filters by FFT when its widest kernel reaches this many px: on a
#: CPU, a 1024 px map's four scales then cost about a tenth of their separable convolutions.
FFT_RADIUS = 8


def fft_size(n: int) -> int:
    """The smallest ``m >= n`` whose prime factors are 2, 3 and 5 (a fast FFT length)."""
    m = n
    while True:
        rest = m
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return m
        m += 1


@lru_cache(maxsize=16)
def _scales_spectrum(sigma: float, octaves: int, pre: float, height: int, width: int,
                     device: torch.device | str, dtype: torch.dtype) -> Tensor:
    """The rfft2 of the kernel of :func:`multiscale_smooth` on a ``height x width`` grid, centred
    at the origin: ``G_pre(y) G_pre(x) mean_i G_i(y) G_i(x)``. A Gaussian is symmetric, so the
    spectrum is real; computed in float64."""

    def spectrum(s: float, size: int, full: bool) -> Tensor:
        if s == 0:
            return torch.ones(size if full else size // 2 + 1, dtype=torch.float64)
        kernel = gaussian_kernel(s)
        radius = kernel.numel() // 2
        line = torch.zeros(size, dtype=torch.float64)
        line[torch.arange(-radius, radius + 1) % size] = kernel
        return (torch.fft.fft(line) if full else torch.fft.rfft(line)).real

    total = torch.zeros(height, width // 2 + 1, dtype=torch.float64)
    for level in range(octaves):
        scale = sigma * 2**level
        total += spectrum(scale, height, True)[:, None] * spectrum(scale, width, False)[None]
    total *= spectrum(pre, height, True)[:, None] * spectrum(pre, width, False)[None] / octaves
    return total.to(device=device, dtype=dtype)


#: :func:`multiscale_smooth` filters the boxes around a sparse map's non-zero pixels instead of
#: the whole map when their FFTs' area is at most this share of the whole map's.
SPARSE_SHARE = 0.5


def _smooth_by_fft(values: Tensor, sigma: float, octaves: int, pre: float) -> Tensor:
    """:func:`multiscale_smooth` without a mask, by FFT: of the whole map, or of each box around
    its non-zero pixels when they fill little of it.

    A filter of reach ``R`` leaves zero every pixel farther than ``R`` from a non-zero one (and
    so does the filter of a box), and gives the pixels within ``R`` of them from a box ``2 R``
    larger than the non-zero pixels on each side: what they read lies in the box, or in the
    zeros its reflection brings in, or beyond the image's edge where the box reflects as the
    image does. On a CPU tensor, boxes (:func:`dfcore.ops.strips.boxes_around`)
    whose FFTs cover at most :data:`SPARSE_SHARE` of the whole map's are filtered instead of
    the map (a lossless pair's map is mostly zero): the same values to the FFT's rounding.
    """
    height, width = values.shape[-2:]
    reach = kernel_radius(pre) + kernel_radius(sigma * 2 ** (octaves - 1))
    support = None if values.requires_grad else numpy_view(values, FLOATS)
    if support is not None:
        boxes = boxes_around(np.not_equal(support, 0).any(axis=tuple(range(support.ndim - 2))), 2 * reach)
        if not boxes:
            return torch.zeros_like(values)
        area = sum(fft_size(bottom - top + 2 * reach) * fft_size(right - left + 2 * reach)
                   for top, bottom, left, right in boxes)
        if area <= SPARSE_SHARE * fft_size(height + 2 * reach) * fft_size(width + 2 * reach):
            return in_boxes(lambda part: _fft_filter(part, sigma, octaves, pre, reach), (values,), boxes)
    return _fft_filter(values, sigma, octaves, pre, reach)


def _fft_filter(values: Tensor, sigma: float, octaves: int, pre: float, reach: int) -> Tensor:
    """:func:`_smooth_by_fft` of the whole of ``values``.

    The map is reflected by the reach of the whole filter (``pre``'s radius plus the widest
    scale's): a symmetric kernel keeps a reflected signal reflected, so filtering once with
    the combined kernel equals ``pre``'s blur followed by each scale's, borders included.
    Zero padding up to a fast FFT length lies beyond what the kept pixels read.
    """
    height, width = values.shape[-2:]
    padded = F.pad(values, (reach, reach, reach, reach), mode="reflect")
    rows, cols = fft_size(height + 2 * reach), fft_size(width + 2 * reach)
    spectrum = torch.fft.rfft2(padded, s=(rows, cols))
    del padded
    spectrum *= _scales_spectrum(sigma, octaves, pre, rows, cols, values.device, values.dtype)
    out = torch.fft.irfft2(spectrum, s=(rows, cols))[..., reach:reach + height, reach:reach + width].contiguous()
    # A convolution leaves exact zeros where it reads only zeros (a lossless pair's map is mostly
    # zero, and the regions' background is measured on it); the FFT leaves a rounding there.
    return out.masked_fill_(~_reaches((values != 0).any(1, keepdim=True), reach), 0)


def _rectangles(valid: Tensor) -> list[tuple[int, int, int, int] | None] | None:
    """Each sample's ``valid`` (Nx1xHxW bool) as the rectangle ``(top, bottom, left, right)`` it fills
    (``None`` for an empty one), or ``None`` when some sample's is not a rectangle."""
    mask = numpy_view(valid)  # on a CPU, NumPy's boolean reductions: several times torch's
    if mask is not None:
        rows, columns, counts = mask[:, 0].any(2), mask[:, 0].any(1), np.count_nonzero(mask[:, 0], axis=(1, 2))
    else:  # another device: only the rows', columns' and counts' few values come to the host
        rows, columns = (side.cpu().numpy() for side in (valid[:, 0].any(2), valid[:, 0].any(1)))
        counts = valid[:, 0].flatten(1).sum(1).cpu().numpy()
    spans = []
    for row, column, count in zip(rows, columns, counts):
        ys, xs = np.flatnonzero(row), np.flatnonzero(column)
        if not len(ys):
            spans.append(None)
            continue
        # a rectangle: its rows and its columns run without a gap, and it fills every pair of them
        if ys[-1] - ys[0] + 1 != len(ys) or xs[-1] - xs[0] + 1 != len(xs) or count != len(ys) * len(xs):
            return None
        spans.append((int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1))
    return spans


def _rectangle_scales(values: Tensor, rectangles: list[tuple[int, int, int, int] | None], sigma: float,
                      octaves: int) -> Tensor:
    """:func:`multiscale_smooth`'s mean of normalised scales for ``values`` that are zero outside
    each sample's rectangle, before the product by the mask.

    Each scale divides the blur of ``values`` by the blur of the mask ``W``. Wherever a scale's
    kernel lies wholly inside the rectangle ``W`` is 1, so there the mean of the scales is the
    unmasked one, a product of spectra (:func:`_fft_filter`, borders reflected as the blurs
    reflect them); within a kernel's radius of the rectangle's edges each scale adds its blur
    times ``1 / W - 1``, blurred separably in strips along those edges. ``W`` of a rectangle is
    the product of its rows' and columns' 1-D blurs. The same values as the masked blurs to a
    float rounding; pixels that read only zeros stay exactly zero.
    """
    height, width = values.shape[-2:]
    reach = kernel_radius(sigma * 2 ** (octaves - 1))
    total = _fft_filter(values, sigma, octaves, 0.0, reach)
    for index, rectangle in enumerate(rectangles):
        if rectangle is None:
            continue
        top, bottom, left, right = rectangle
        sample, out = values[index:index + 1], total[index:index + 1]
        for level in range(octaves):
            kernel = gaussian_kernel(sigma * 2**level, values.device, values.dtype)
            radius = kernel.numel() // 2
            rows = _blur_line(_indicator(height, top, bottom, values), kernel)  # W is rows[y] * columns[x]
            columns = _blur_line(_indicator(width, left, right, values), kernel)
            upper, lower = min(top + radius, bottom), max(bottom - radius, top + radius)
            strips = [(top, upper, left, right), (lower, bottom, left, right)]  # along the top and bottom edges,
            strips += [(upper, lower, left, min(left + radius, right)),  # then the sides between them
                       (upper, lower, max(right - radius, left + radius), right)]
            for y0, y1, x0, x1 in strips:
                if y0 >= y1 or x0 >= x1:
                    continue
                blurred = _blur_box(sample, kernel, y0, y1, x0, x1)
                factor = (rows[y0:y1, None] * columns[None, x0:x1]).clamp_min_(1e-6).reciprocal_().sub_(1)
                out[..., y0:y1, x0:x1] += blurred.mul_(factor).div_(octaves)
    return total


def _indicator(size: int, start: int, stop: int, like: Tensor) -> Tensor:
    """A 1-D ``size``-long vector of ``like``'s dtype and device: 1 on ``[start, stop)``, else 0."""
    line = torch.zeros(size, dtype=like.dtype, device=like.device)
    line[start:stop] = 1
    return line


def _blur_line(line: Tensor, kernel: Tensor) -> Tensor:
    """A 1-D ``line`` blurred by ``kernel``, its ends reflected (as :func:`separable_filter` reflects)."""
    radius = kernel.numel() // 2
    return _correlate(F.pad(line[None, None], (radius, radius), mode="reflect")[0, 0], kernel, 0, 1)


def _blur_box(x: Tensor, kernel: Tensor, top: int, bottom: int, left: int, right: int) -> Tensor:
    """:func:`separable_filter` of the whole of ``x`` (reflected borders), on the box alone: the box
    and the kernel's radius around it (the image's own border where it comes first)."""
    radius = kernel.numel() // 2
    height, width = x.shape[-2:]
    y0, y1 = max(top - radius, 0), min(bottom + radius, height)
    x0, x1 = max(left - radius, 0), min(right + radius, width)
    blurred = separable_filter(x[..., y0:y1, x0:x1], kernel)
    return blurred[..., top - y0:bottom - y0, left - x0:right - x0]


def _reaches(mask: Tensor, radius: int) -> Tensor:
    """The pixels within ``radius`` px (a square window) of a ``True`` pixel of an Nx1xHxW bool mask."""
    for dim in (-2, -1):
        size = mask.shape[dim]
        pad = (0, 0, radius, radius) if dim == -2 else (radius, radius)
        spread, span = F.pad(mask, pad), 1  # spread[i]: any of the padded mask's [i, i + span)
        while 2 * span <= 2 * radius + 1:
            spread = spread.narrow(dim, 0, spread.shape[dim] - span) | spread.narrow(dim, span, spread.shape[dim] - span)
            span *= 2
        mask = spread.narrow(dim, 0, size) | spread.narrow(dim, 2 * radius + 1 - span, size)
    return mask
