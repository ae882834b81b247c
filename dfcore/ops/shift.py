"""Shift tolerance: compare each pixel with its best match within a few pixels.

Two images of one scene rarely sit on the same pixel grid: a re-saved screenshot, a scanned
puzzle or a reconstruction can be off by a pixel, and a plain difference then lights up
every edge. Here each pixel's difference is the smallest one over the displacements
``(dy, dx)`` with ``|dy|, |dx| <= radius``, taken in both directions -- A against B
moved, and B against A moved -- and the larger of the two is kept, so an object present in
only one image is found whichever image it is in (a one-sided minimum erases objects thinner
than the window from the image that lacks them).

The primitive takes any per-pixel distance, so it serves the ``difference`` strategy and
any metric that exposes a ``local_map(x, y)``. Device-agnostic; costs ``(2 radius + 1)^2``
evaluations of the distance (once per displacement when the distance is symmetric).

:func:`range_tolerant` is the looser, cheaper relative for rasterisation: a pixel matches
when its value lies within the range of the other image's values around it (edges
anti-aliased, hinted or resampled differently). :func:`phase_correlation` measures a
translation and how much to trust it (:mod:`dfcore.ops.register` fits a transform to those
of many tiles).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.ops.channels import check_reduction, reduce_channels
from dfcore.ops.filters import separable_filter
from dfcore.ops.host import FLOATS, differs, numpy_view, unit_phase_
from dfcore.ops.range_host import array_range, host_range_tolerant
from dfcore.ops.strips import Box, bands, boxes_around, in_boxes, map_in_strips, strip_rows

Distance = Callable[[Tensor, Tensor], Tensor]


def check_radius(radius: int, name: str = "shift") -> int:
    if isinstance(radius, bool) or int(radius) != radius or radius < 0:
        raise ValueError(f"{name} must be a whole number of pixels >= 0, got {radius!r}")
    return int(radius)


def displacements(radius: int) -> list[tuple[int, int]]:
    """Every ``(dy, dx)`` with ``|dy|, |dx| <= radius``, ``(0, 0)`` first."""
    radius = check_radius(radius)
    steps = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    steps.remove((0, 0))
    return [(0, 0), *steps]


def _pad(x: Tensor, radius: int) -> Tensor:
    return F.pad(x, (radius, radius, radius, radius), mode="replicate")


def _window(padded: Tensor, radius: int, dy: int, dx: int) -> Tensor:
    """The view of ``padded`` (padded by ``radius``) moved by ``(dy, dx)``: ``out[p] = x[p + d]``."""
    height, width = padded.shape[-2] - 2 * radius, padded.shape[-1] - 2 * radius
    return padded[..., radius + dy: radius + dy + height, radius + dx: radius + dx + width]


def shifted(x: Tensor, dy: int, dx: int) -> Tensor:
    """``x`` moved so that ``out[..., i, j] = x[..., i + dy, j + dx]``; edge pixels repeat."""
    radius = max(abs(dy), abs(dx))
    if radius == 0:
        return x
    return _window(_pad(x, radius), radius, dy, dx)


#: The displacement steps a match may take: whole pixels, halves, quarters.
WINDOW_STEPS = (1.0, 0.5, 0.25)


def check_step(step: float | str, name: str = "window_step") -> float:
    """A displacement step: 1 (whole pixels), 0.5 or 0.25 px."""
    try:
        value = float(step)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be one of 1, 0.5, 0.25 (px), got {step!r}") from None
    if value not in WINDOW_STEPS:
        raise ValueError(f"{name} must be one of 1, 0.5, 0.25 (px), got {step!r}")
    return value


def moved(x: Tensor, dy: float, dx: float) -> Tensor:
    """``x`` moved by a fraction of a pixel, bilinear: ``out[p] = x(p + d)``; edge pixels repeat.

    The interpolation is separable (rows, then columns), two taps each way; a whole-pixel
    displacement reads the pixels themselves (as :func:`shifted`)."""
    pad = math.ceil(max(abs(dy), abs(dx))) + 1
    return _lerp_along(_lerp_along(_pad(x, pad), pad, dy, -2), pad, dx, -1)


def _lerp_along(padded: Tensor, pad: int, d: float, axis: int) -> Tensor:
    """``padded`` (padded by ``pad`` along ``axis``) moved by ``d`` px along ``axis``, bilinear, and
    cut to its size there: views of the padding for the two taps, one ``lerp`` between them."""
    whole = math.floor(d)
    part = d - whole
    size = padded.shape[axis] - 2 * pad
    near = padded.narrow(axis, pad + whole, size)
    return near if not part else torch.lerp(near, padded.narrow(axis, pad + whole + 1, size), part)


def best_match(distance: Distance, x: Tensor, y: Tensor, radius: int, step: float = 1.0) -> Tensor:
    """One direction: ``min over d of distance(x, y moved by d)``, on ``x``'s grid.

    Args:
        distance: per-pixel distance of two NxCxHxW tensors (smaller = more alike), returning
            a map of any shape it likes on the same grid (e.g. Nx1xHxW).
        x, y: NxCxHxW tensors on one device.
        radius: largest displacement in pixels along each axis; 0 gives ``distance(x, y)``.
        step: the displacements' step (:func:`check_step`): below a pixel ``y`` is moved by
            bilinear interpolation (:func:`moved`), ``(2 radius / step + 1)^2`` displacements,
            each row displacement interpolated once for all the column displacements.
    """
    radius, step = check_radius(radius), check_step(step, "step")
    if radius == 0:
        return distance(x, y)
    best = None
    reach, pad = round(radius / step), radius + 1
    offsets = [k * step for k in range(-reach, reach + 1)]  # whole pixels: views of the padding, no lerp
    padded = _pad(y, pad)
    for dy in offsets:
        rows = _lerp_along(padded, pad, dy, -2)
        for dx in offsets:
            value = distance(x, _lerp_along(rows, pad, dx, -1))
            best = value if best is None else torch.minimum(best, value)
    return best


def shift_tolerant(distance: Distance, x: Tensor, y: Tensor, radius: int, symmetric: bool = False,
                   step: float = 1.0) -> Tensor:
    """Both directions: ``max(best_match(x, y), best_match(y, x))``, displacements in ``step`` px.

    With ``symmetric=True`` (``distance(u, v) == distance(v, u)`` pixel by pixel, as for an
    absolute difference) and whole pixels, each displacement is evaluated once: the reverse
    direction at ``p`` for ``d`` is the forward one at ``p + d`` for ``-d``, read from the
    padded forward map. Near the border that reads replicated values, which is the only
    difference from the general path. Below a pixel the interpolation is not symmetric: each
    image is moved in turn.
    """
    radius = check_radius(radius)
    if radius == 0:
        return distance(x, y)
    if not symmetric or step != 1.0:
        return torch.maximum(best_match(distance, x, y, radius, step), best_match(distance, y, x, radius, step))
    padded_y = _pad(y, radius)
    forward = backward = None
    for dy, dx in displacements(radius):
        value = distance(x, _window(padded_y, radius, dy, dx))
        # value[p] = distance(x[p], y[p + d]) = the reverse direction's value at p + d for -d.
        reverse = _window(_pad(value, radius), radius, -dy, -dx)
        forward = value if forward is None else torch.minimum(forward, value)
        backward = reverse if backward is None else torch.minimum(backward, reverse)
    return torch.maximum(forward, backward)


def check_window(window: int, name: str = "window") -> int:
    """A matching window: an odd whole number of px >= 3, or 0 (off)."""
    window = check_radius(window, name)
    if window and (window < 3 or window % 2 == 0):
        raise ValueError(f"{name} must be 0 (off) or an odd whole number of pixels >= 3, got {window!r}")
    return window


def window_tolerant(x: Tensor, y: Tensor, radius: int, window: int, combine: Callable[[Tensor], Tensor],
                    slack: float = 0.0, step: float = 1.0) -> Tensor:
    """Window tolerance: per pixel, how far the ``window`` x ``window`` px around it is from the
    best match of the whole window within ``radius`` px, in both directions (Nx1xHxW).

    The distance of two windows is the root mean square of ``combine(|x - y|)`` over them, and
    one displacement serves the whole window: :func:`shift_tolerant` of that windowed distance.
    Text or strokes drawn again with other hinting move by a fraction of a pixel, which one
    displacement nearly explains across the window; a glyph changed into another (a 9 into a 4)
    cannot be matched by any one displacement, while :func:`range_tolerant` lets each pixel pick
    its own neighbour and tolerates it inside the strokes' reach. Costs ``(2 radius + 1)^2``
    windowed distances (box means, separable).

    Args:
        x, y: NxCxHxW on one device.
        radius: the largest displacement, in px (0: the windowed distance of the images as they are).
        window: the window's side, odd, in px.
        combine: NxCxHxW -> Nx1xHxW (e.g. :func:`dfcore.ops.channels.reduce_channels`).
        slack: each pixel's difference less ``slack`` times the wider of the two images' ranges
            within 1 px around it (0: none): anti-aliasing drawn otherwise changes an edge's
            values within its range, a stroke moved onto a flat area by more.
        step: the displacements' step, 1, 0.5 or 0.25 px: below a pixel, each image in turn is
            moved by bilinear interpolation (:func:`moved`) and matched against the other as it
            is, ``(2 radius / step + 1)^2`` displacements each way. Glyphs drawn again sit a
            fraction of a pixel off, which whole pixels match only as far as the slack forgives.
    """
    window = check_window(window)
    if not window:
        raise ValueError("window_tolerant needs a window of 3 px or more")
    box = torch.full((window,), 1.0 / window, dtype=torch.float64)

    def windowed(gap: Tensor) -> Tensor:  # the mean over the window of combine(gap) squared
        return separable_filter(combine(gap).square_(), box, padding="replicate")

    def distance(u: Tensor, v: Tensor) -> Tensor:
        return windowed((u - v).abs())

    channels = x.shape[1]

    def with_range(z: Tensor) -> Tensor:  # the image, then the slack times its range within 1 px, as channels
        low, high = neighbourhood_range(z, 1)
        return torch.cat([z, high.sub_(low).mul_(slack)], 1)  # max(s a, s b) is s max(a, b), to the bit

    def slackened(u: Tensor, v: Tensor) -> Tensor:
        gap = (u[:, :channels] - v[:, :channels]).abs_()
        gap -= torch.maximum(u[:, channels:], v[:, channels:])
        return windowed(gap.clamp_min_(0))

    if slack:
        x, y, distance = with_range(x), with_range(y), slackened
    return shift_tolerant(distance, x, y, radius, symmetric=True, step=step).clamp_min_(0).sqrt_()


def neighbourhood_range(x: Tensor, radius: int) -> tuple[Tensor, Tensor]:
    """Per channel, the smallest and largest value within ``radius`` px (a square window); edges repeat.

    Separable (rows, then columns) on slices of one padded copy: on the CPU three times as
    fast as ``max_pool2d`` with stride 1, and the same values. A float32 or float64 CPU tensor
    goes to OpenCV's erosion and dilation instead, plane by plane: the same values, about ten
    times faster again. Neither is followed by autograd. For ``radius >= 1`` both are new
    tensors (the caller may change them in place).
    """
    radius = check_radius(radius)
    if radius == 0:
        return x, x
    values = numpy_view(x, FLOATS) if x.numel() else None
    if values is not None:
        return _host_range(values, radius)
    padded = _pad(x, radius)
    height, width = x.shape[-2:]
    size = 2 * radius + 1
    first, second = padded[..., :, :width], padded[..., :, 1:1 + width]
    low, high = torch.minimum(first, second), torch.maximum(first, second)
    for d in range(2, size):
        column = padded[..., :, d:d + width]
        torch.minimum(low, column, out=low)
        torch.maximum(high, column, out=high)
    low_out, high_out = torch.minimum(low[..., :height, :], low[..., 1:1 + height, :]), torch.maximum(
        high[..., :height, :], high[..., 1:1 + height, :])
    for d in range(2, size):
        torch.minimum(low_out, low[..., d:d + height, :], out=low_out)
        torch.maximum(high_out, high[..., d:d + height, :], out=high_out)
    return low_out, high_out


def _host_range(values: np.ndarray, radius: int) -> tuple[Tensor, Tensor]:
    """:func:`neighbourhood_range` of a CPU tensor's memory by OpenCV, each HxW plane at once."""
    low, high = np.empty(values.shape, values.dtype), np.empty(values.shape, values.dtype)
    for index in np.ndindex(values.shape[:-2]):
        array_range(values[index], radius, low[index], high[index])
    return torch.from_numpy(low), torch.from_numpy(high)


def check_overshoot(overshoot: float) -> float:
    if not (math.isfinite(overshoot) and overshoot >= 0):
        raise ValueError(f"overshoot must be a finite number >= 0, got {overshoot!r}")
    return overshoot


def _outside(x: Tensor, low: Tensor, high: Tensor, overshoot: float) -> Tensor:
    """How far ``x`` lies outside ``[low, high]`` widened by ``overshoot`` times its width; ``low``
    and ``high`` are new tensors, changed in place (one of them returned)."""
    if overshoot:
        spread = torch.sub(high, low).mul_(overshoot)
        low.sub_(spread)
        high.add_(spread)
        del spread
    above = high.neg_().add_(x).clamp_min_(0)  # x - high, the same rounding
    return above.add_(low.sub_(x).clamp_min_(0))


def range_distance(x: Tensor, y: Tensor, radius: int, overshoot: float = 0.0) -> Tensor:
    """Per channel, how far ``x`` lies outside the range of ``y``'s values within ``radius`` px.

    The range ``[lo, hi]`` is widened by ``overshoot * (hi - lo)`` on both sides; a value
    inside it gives 0. NxCxHxW in, NxCxHxW out, on the input's device.
    """
    check_overshoot(overshoot)
    low, high = neighbourhood_range(y, radius)
    if radius == 0:
        low, high = low.clone(), high.clone()
    return _outside(x, low, high, overshoot)


#: Pixels per sample of one band of :func:`range_tolerant`: its dozen passes over a band run in
#: the processor's cache instead of memory (about three times as fast on a CPU at 1024 px).
RANGE_BAND_PIXELS = 2**16


def range_tolerant(x: Tensor, y: Tensor, radius: int, combine: Callable[[Tensor], Tensor] | str,
                   overshoot: float = 0.0) -> Tensor:
    """Rasterisation tolerance: ``max(combine(range_distance(x, y)), combine(range_distance(y, x)))``.

    A continuous form of pixelmatch's anti-aliasing test: a pixel of one image matches when
    each of its channels lies within the range of the other image's values around it, as
    an edge drawn with other anti-aliasing, font hinting, resampling or a sub-pixel offset
    does; a value outside that range (an object, a colour, a stroke that is not there in the
    other image) keeps its distance to the range. Both directions count, so a thin object in
    either image is found. Weaker than :func:`shift_tolerant` at the same radius (a blend of
    neighbours matches, not only one of them), and cheaper: two max-pools per direction.
    Computed in bands of rows of about :data:`RANGE_BAND_PIXELS` (the same values as one pass:
    each band reads ``radius`` rows of context on each side), and on a CPU only in the boxes
    where the pair differs (:func:`differing_boxes`; zero elsewhere, the same values).

    Args:
        x, y: NxCxHxW on one device.
        radius: the neighbourhood, in px (``radius=0``: ``combine(|x - y|)``).
        combine: NxCxHxW -> Nx1xHxW, pixel by pixel, zero for zeros; or the name of a channel
            reduction (:func:`dfcore.ops.channels.reduce_channels`), which lets CPU tensors take
            :mod:`dfcore.ops.range_host` (the same values, a quarter to a third faster).
        overshoot: fraction of the range by which it is widened (resampling filters overshoot).
    """
    check_overshoot(overshoot)
    reduce = check_reduction(combine) if isinstance(combine, str) else None
    reduced = combine if reduce is None else lambda values: reduce_channels(values, reduce)

    def band(u: Tensor, v: Tensor) -> Tensor:
        return torch.maximum(reduced(range_distance(u, v, radius, overshoot)),
                             reduced(range_distance(v, u, radius, overshoot)))

    def banded(u: Tensor, v: Tensor) -> Tensor:
        host = None if reduce is None else host_range_tolerant(u, v, radius, reduce, overshoot, RANGE_BAND_PIXELS)
        if host is not None:
            return host
        return map_in_strips(band, (u, v), radius, max(8, RANGE_BAND_PIXELS // max(1, u.shape[-1])))

    height, width = x.shape[-2:]
    boxes = None if x.requires_grad or y.requires_grad else differing_boxes(x, y, radius)
    if boxes is None or boxes == [(0, height, 0, width)]:
        return banded(x, y)
    if boxes:  # only the boxes where the pair differs (differing_boxes)
        return in_boxes(banded, (x, y), boxes)
    pixel = banded(x[..., :1, :1], y[..., :1, :1])  # identical: zero, in the tolerance's channels and dtype
    return pixel.new_zeros((*pixel.shape[:-2], height, width))


def differing_boxes(x: Tensor, y: Tensor, margin: int) -> list[Box] | None:
    """Boxes ``(top, bottom, left, right)`` (ends exclusive) outside which ``x`` and ``y`` (NxCxHxW)
    are identical by more than ``margin`` px (:func:`dfcore.ops.strips.boxes_around` their
    differing pixels), or ``None`` when NumPy cannot read them (another device or dtype).

    A tolerance of radius ``r`` is zero at every pixel where the two images agree (its window
    holds the pixel itself, in both images), and a box ``r`` larger on each side than the
    differing pixels it holds holds their windows: so :func:`range_tolerant` computes only
    these boxes and leaves the rest zero, the same values as the whole image (a lossless
    screenshot pair is mostly identical).
    """
    if numpy_view(x, FLOATS) is None or numpy_view(y, FLOATS) is None or x.dtype != y.dtype:
        return None
    changed = differs(x, y).numpy().any(axis=(0, 1))
    height, width = changed.shape
    if changed.any(axis=0).all() and changed.any(axis=1).all():  # every row and column: the whole image
        return [(0, height, 0, width)]
    return boxes_around(changed, margin)


#: A pair measured closer than this to aligned (in px, phase correlation) is taken as aligned.
ALIGNED_PX = 0.15
#: ``shift=auto`` never tolerates more than this; larger misalignment needs the ``align`` preprocessor.
AUTO_LIMIT = 4


def check_shift(shift: int | str | None) -> int | str:
    """A tolerance radius (whole px >= 0), ``"auto"``, or ``None`` (0)."""
    if shift is None:
        return 0
    if isinstance(shift, str):
        if shift.strip().lower() == "auto":
            return "auto"
        raise ValueError(f"shift must be a whole number of pixels >= 0 or 'auto', got {shift!r}")
    return check_radius(shift)


def estimate_translation(a: Tensor, b: Tensor) -> Tensor:
    """The translation ``(dy, dx)`` per sample, Nx2, that moves ``a`` onto ``b``, by phase correlation.

    Both images are averaged over channels, centred and Hann-windowed; the peak of the
    normalised cross-power spectrum's inverse is refined to sub-pixel by a parabola along
    each axis. Whole-pixel shifts come out exact; the parabola pulls a fractional shift
    towards the nearest whole pixel (0.4 px reads about 0.3, 0.75 px about 0.85) but stays
    steady on noisy and compressed pairs, where a sinc-model refinement read aligned pairs
    as off by up to half a pixel. This measurement decides whether a pair is aligned; it is
    not an alignment (the ``align`` preprocessor is). Runs on the images' device (three
    real FFTs; on a CPU the cross-power spectrum's modulus by NumPy, :func:`phase_correlation`'s
    ``host``).
    """
    return phase_correlation(a, b, host=True)[0]


def phase_correlation(a: Tensor, b: Tensor, host: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`estimate_translation` and the height of the correlation peak, per sample.

    ``host``: a CPU pair's cross-power spectrum is divided by its modulus in NumPy
    (:func:`dfcore.ops.host.unit_phase_`: 3 ms less at 1024 px, a float rounding apart from
    torch's). The registration's tiles keep torch's division: a resampled pair's fit and tone
    fit carry such a rounding to 2e-5 of the map's peak.

    Returns:
        ``(translation, peak)``: Nx2 ``(dy, dx)`` moving ``a`` onto ``b``, and N peak heights
        in (0, 1]: 1 when ``b`` is ``a`` moved by whole pixels, near ``1 / sqrt(H W)`` when the
        two share no structure. The peak says how far the translation can be trusted (a flat
        or changed tile gives a low one).
    """
    height, width = a.shape[-2:]
    hann_y = torch.hann_window(height, periodic=False, device=a.device)
    hann_x = torch.hann_window(width, periodic=False, device=a.device)

    def spectrum(image: Tensor) -> Tensor:
        """The centred, windowed channel mean's spectrum; the window is applied a band of rows at a time."""
        plane = image.float().mean(1)
        plane.sub_(plane.mean((-2, -1), keepdim=True))
        for _, _, rows in bands(height, strip_rows(width, 0), 0):
            plane[:, rows].mul_(hann_y[rows, None] * hann_x[None])
        return torch.fft.rfft2(plane)

    cross = spectrum(b)
    cross.mul_(spectrum(a).conj())  # in place: of the full-size temporaries, at most three live at once
    surface = torch.fft.irfft2(unit_phase_(cross, host=host), s=(height, width))
    del cross
    height_of_peak, peak = surface.flatten(1).max(1)
    py, px = peak // width, peak % width
    samples = torch.arange(surface.shape[0], device=surface.device)

    def refine(centre: Tensor, size: int, axis: int) -> Tensor:
        pick = (lambda i: surface[samples, i, px]) if axis == 0 else (lambda i: surface[samples, py, i])
        low, mid, high = pick((centre - 1) % size), pick(centre), pick((centre + 1) % size)
        curvature = low - 2 * mid + high
        step = torch.where(curvature < 0, 0.5 * (low - high) / curvature.clamp_max(-1e-12), torch.zeros_like(mid))
        position = centre.to(step.dtype) + step
        return torch.where(position > size / 2, position - size, position)

    return torch.stack([refine(py, height, 0), refine(px, width, 1)], dim=1), height_of_peak


def auto_radius(translation: Tensor) -> list[int]:
    """The tolerance radius for each measured ``(dy, dx)``: 0 when aligned, else enough to cover it."""
    radii = []
    for dy, dx in translation.tolist():
        if math.hypot(dy, dx) <= ALIGNED_PX:
            radii.append(0)
        else:
            radii.append(min(AUTO_LIMIT, max(1, math.ceil(max(abs(dy), abs(dx)) - ALIGNED_PX))))
    return radii
