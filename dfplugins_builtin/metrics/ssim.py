"""``ssim`` and ``ms-ssim``.

SSIM follows pytorch_msssim exactly (Gaussian window 11/1.5, 'valid' filtering, C1 =
(K1 R)^2, C2 = (K2 R)^2) but with ``data_range = 1`` for our [0, 1] images: pytorch_msssim's
default of 255 makes the constants 65,025 times too large, SSIM about 1 and its gradient
about 1000 times too small. MS-SSIM is pytorch_msssim's algorithm (five scales, its weights,
its padding of odd sizes, ``relu`` before the product) with the same explicit conventions;
tests hold both to pytorch_msssim's values and gradients.

How it is computed, because the ``gradient`` strategy differentiates it:

* The four local statistics (means, E[x^2 + y^2], E[xy]) are filtered together, in horizontal
  strips of rows with ``win_size - 1`` rows of overlap: every window lies whole in one strip,
  so the per-channel sums are exact, and memory does not grow with a full-size stack of
  statistics (a 4096x4096 pair runs in a few GiB).
* The gradient is closed form (:class:`SSIMMeans`, a ``torch.autograd.Function``): for each
  window the derivatives of SSIM with respect to the four statistics, filtered back by the
  adjoint of the Gaussian filter. It is about three times faster than autograd through the
  same arithmetic and keeps only the inputs (and, when small, the statistics) for backward.
  It is exact for any strategy that differentiates once (second derivatives are refused).
* On the CPU in float32, the separable filter runs as a depthwise transposed convolution on
  a channels-last tensor: oneDNN runs that several times faster than the equivalent 'valid'
  ``conv2d`` (``docs/performance.md``); other devices and dtypes use ``conv2d``.
* When the caller differentiates one output (:func:`ssim` its SSIM, each scale of
  :func:`ms_ssim` its own) and no window weights are given, the same sums and the gradient
  can come from one fused pass compiled by ``torch.compile``
  (:mod:`~dfplugins_builtin.metrics.ssim_fused`): several times faster once compiled, and
  compiled only when it pays (``DFIND_COMPILE``). The closed form below stays the eager path.

References:
    Wang, Bovik, Sheikh, Simoncelli. Image quality assessment: from error visibility to
    structural similarity. IEEE TIP 13(4), 2004.
    Wang, Simoncelli, Bovik. Multiscale structural similarity for image quality assessment. 2003.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from dfcore.ops.checks import check_min_side, check_same_shape
from dfplugins_builtin.metrics.ssim_fused import KERNELS, STRIP_ROWS

MS_SSIM_LEVELS = 5
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: Elements of filtered statistics per strip (N x 4C x rows x W'); bounds the working memory.
STRIP_ELEMENTS = 2**21
#: Statistics up to this size are kept from forward for backward; larger ones are recomputed.
KEEP_STATS_BYTES = 2**29


@lru_cache(maxsize=16)
def gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    """The normalised 1-D Gaussian pytorch_msssim uses, shape (size,).

    Computed in float64 and then cast, so float64 inputs get a float64-exact window.
    """
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    window = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return (window / window.sum()).to(device=device, dtype=dtype)


# -- filtering --------------------------------------------------------------------------------


def filter_valid(x: Tensor, window: Tensor) -> Tensor:
    """Separable 'valid' filtering (correlation) of every channel: NxCxHxW -> NxCx(H-k+1)x(W-k+1).

    The result is contiguous: the SSIM terms read each filtered statistic several times, so
    one copy out of the filter's channels-last layout costs less than strided reads.
    """
    if _onednn(x):
        return _transposed_filter(x, window.flip(0), crop=True).contiguous()
    return _conv_filter(x, window)


def filter_adjoint(x: Tensor, window: Tensor) -> Tensor:
    """The adjoint of :func:`filter_valid` ('full' convolution): NxCxhxw -> NxCx(h+k-1)x(w+k-1).

    The result stays in the layout the filter ran in (channels-last on the CPU): the gradient
    reads each field once, and reading it strided is cheaper than copying it first.
    """
    if _onednn(x):
        return _transposed_filter(x, window, crop=False)
    pad = window.numel() - 1
    return _conv_filter(F.pad(x, (pad, pad, pad, pad)), window.flip(0))


def _onednn(x: Tensor) -> bool:
    """float32 on the CPU, where oneDNN's depthwise transposed convolution is the fast filter."""
    return x.device.type == "cpu" and x.dtype == torch.float32


def _conv_filter(x: Tensor, window: Tensor) -> Tensor:
    channels, size = x.shape[1], window.numel()
    x = F.conv2d(x, window.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)
    return F.conv2d(x, window.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)


def _transposed_filter(x: Tensor, window: Tensor, crop: bool) -> Tensor:
    """Depthwise transposed convolution by ``window`` along both axes, channels-last in and out.

    ``crop=True`` removes ``k - 1`` rows and columns on each side, which with the flipped
    window is exactly 'valid' correlation.
    """
    channels, size = x.shape[1], window.numel()
    pad = size - 1 if crop else 0
    x = x.contiguous(memory_format=torch.channels_last)
    x = F.conv_transpose2d(x, window.view(1, 1, size, 1).repeat(channels, 1, 1, 1), groups=channels, padding=(pad, 0))
    return F.conv_transpose2d(x, window.view(1, 1, 1, size).repeat(channels, 1, 1, 1), groups=channels,
                              padding=(0, pad))


# -- the arithmetic of one window ---------------------------------------------------------------


def window_statistics(x: Tensor, y: Tensor, window: Tensor) -> tuple[Tensor, ...]:
    """Local means and second moments ``(mu_x, mu_y, E[x^2 + y^2], E[xy])``, each NxCxH'xW'.

    SSIM needs E[x^2] and E[y^2] only through their sum, so one filter serves both.
    """
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):  # autograd records a cat
        return filter_valid(torch.cat([x, y, x * x + y * y, x * y], 1), window).split(x.shape[1], 1)
    stack = _stack_buffer(x, 4)  # written in place, in the filter's layout: no copy afterwards
    mu_x, mu_y, squares, xy = stack.split(x.shape[1], 1)
    mu_x.copy_(x)
    mu_y.copy_(y)
    torch.mul(x, x, out=squares).addcmul_(y, y)
    torch.mul(x, y, out=xy)
    return filter_valid(stack, window).split(x.shape[1], 1)


def layout(x: Tensor) -> torch.memory_format:
    """The memory layout the arithmetic runs in: channels-last where oneDNN filters, else planes."""
    return torch.channels_last if _onednn(x) else torch.contiguous_format


def _stack_buffer(like: Tensor, groups: int) -> Tensor:
    """An empty (groups*N)xCxHxW tensor in :func:`layout`.

    Quantities are stacked along the batch axis, not the channel axis, so that each one is a
    dense block in either layout and the arithmetic on them vectorises.
    """
    n, c, h, w = like.shape
    return torch.empty((n, groups * c, h, w), dtype=like.dtype, device=like.device, memory_format=layout(like))


def ssim_parts(stats: tuple[Tensor, ...], c1: float, c2: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per window: luminance ``l``, contrast-structure ``cs`` and their denominators ``b1``, ``b2``.

    ``l = (2 mu_x mu_y + C1) / b1`` with ``b1 = mu_x^2 + mu_y^2 + C1``, and
    ``cs = (2 cov_xy + C2) / b2`` with ``b2 = var_x + var_y + C2``; SSIM is ``l * cs``.
    """
    mu_x, mu_y, squares, xy = stats
    b1 = torch.mul(mu_x, mu_x).addcmul_(mu_y, mu_y)  # mu_x^2 + mu_y^2, without C1 yet
    b2 = torch.sub(squares, b1).add_(c2)
    b1.add_(c1)
    # ``C + 2 u`` in one pass (C as a 0-d tensor), rounded as ``2 u + C`` is: identical images give exactly 1.
    mu_xy = mu_x * mu_y
    luminance = torch.add(mu_x.new_tensor(c1), mu_xy, alpha=2.0).div_(b1)
    cs = torch.add(mu_x.new_tensor(c2), torch.sub(xy, mu_xy), alpha=2.0).div_(b2)
    return luminance, cs, b1, b2


def ssim_part_gradients(stats: tuple[Tensor, ...], parts: tuple[Tensor, Tensor, Tensor, Tensor],
                        g_ssim: Tensor, g_cs: Tensor, want_x: bool, want_y: bool,
                        out: Sequence[Tensor] | None = None) -> Sequence[Tensor]:
    """Derivatives of ``g_ssim * l * cs + g_cs * cs`` with respect to the statistics.

    Returns ``[d mu_x] if want_x``, ``[d mu_y] if want_y``, then ``d E[x^2 + y^2]`` and
    ``d E[xy]``: the fields that :func:`filter_adjoint` carries back to pixels. ``out`` (as
    many tensors) receives them instead of new tensors.
    """
    mu_x, mu_y = stats[0], stats[1]
    luminance, cs, b1, b2 = parts
    g_ssim, g_cs = g_ssim * 2.0, g_cs * 2.0  # usually Nx C x1x1: doubling them here saves a pass on each field
    g2 = torch.addcmul(g_cs, g_ssim, luminance).div_(b2)  # 2 / b2 times the coefficient of d cs
    h = torch.mul(cs, g_ssim).div_(b1)                     # 2 / b1 times the coefficient of d l
    count = int(want_x) + int(want_y) + 2
    out = list(out) if out is not None else [torch.empty_like(mu_x) for _ in range(count)]
    index = 0
    for mu, other, wanted in ((mu_x, mu_y, want_x), (mu_y, mu_x, want_y)):
        if wanted:  # d/d mu = g2 (mu cs - other) + h (other - mu l)
            mixed = torch.addcmul(other, mu, luminance, value=-1.0).mul_(h)
            torch.addcmul(mixed, g2, torch.addcmul(other, mu, cs, value=-1.0), value=-1.0, out=out[index])
            index += 1
    torch.addcmul(g2.new_zeros(()), g2, cs, value=-0.5, out=out[index])  # d E[x^2 + y^2] = -g cs / b2
    out[index + 1].copy_(g2)                                             # d E[xy] = 2 g / b2
    return out


# -- per-channel means with a closed-form gradient ------------------------------------------------


def _strips(out_rows: int, rows: int) -> list[tuple[int, int]]:
    return [(start, min(out_rows, start + rows)) for start in range(0, out_rows, rows)]


def _strip_rows(x: Tensor, window: Tensor, rows: int | None) -> int:
    if rows is not None:
        if rows < 1:
            raise ValueError(f"rows must be at least 1, got {rows}")
        return int(rows)
    n, c, _, width = x.shape
    return max(16, STRIP_ELEMENTS // max(1, n * 4 * c * (width - window.numel() + 1)))


class SSIMMeans(torch.autograd.Function):
    """Per-channel means of the SSIM and contrast-structure maps, with a closed-form backward.

    ``apply(x, y, window, c1, c2, weight, rows, wants) -> (ssim [N, C], cs [N, C])``. ``weight``
    is ``None`` (plain means) or an Nx1xH'xW' map of window weights that sum to one per sample.
    ``wants`` names the output a caller differentiates (``"ssim"``, ``"cs"``, or ``None``:
    either). When it is known and ``weight`` is ``None``, the call may run the fused kernel of
    :mod:`~dfplugins_builtin.metrics.ssim_fused`, which computes that output's gradient in the
    forward pass; backward then only scales it (and falls back to the closed form below if the
    other output is differentiated after all).
    """

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, window: Tensor, c1: float, c2: float,  # type: ignore[override]
                weight: Tensor | None, rows: int, wants: str | None = None) -> tuple[Tensor, Tensor]:
        size = window.numel()
        out_rows, out_cols = x.shape[-2] - size + 1, x.shape[-1] - size + 1
        strips = _strips(out_rows, rows)
        needs_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        scale = 1.0 if weight is not None else 1.0 / (out_rows * out_cols)
        ctx.fused, ctx.kernel_key, ctx.kept = None, None, []
        if needs_grad:
            ctx.save_for_backward(x, y, window, weight)
            ctx.constants = (c1, c2, strips, scale)
        if weight is None and (wants is not None or not needs_grad):
            want_x, want_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            output = wants if needs_grad else None
            key = KERNELS.key(x, STRIP_ROWS, size, output, want_x, want_y)
            fused = KERNELS.run(key, x, y, tuple(window.tolist()), c1, c2, output, want_x, want_y)
            if fused is not None:
                ctx.fused = (output, fused[2:])
                return fused[0] * scale, fused[1] * scale
            ctx.kernel_key = key
        start = time.thread_time()
        # x and y keep their layout: a row band of a channels-last image is as dense as a planar one
        keep = needs_grad and 8 * x.numel() * x.element_size() <= KEEP_STATS_BYTES
        ssim_sum = x.new_zeros(x.shape[:2])
        cs_sum = x.new_zeros(x.shape[:2])
        for start_row, stop in strips:
            stats = window_statistics(x[..., start_row:stop + size - 1, :], y[..., start_row:stop + size - 1, :],
                                      window)
            parts = ssim_parts(stats, c1, c2)
            luminance, cs = parts[:2]
            ssim_map = luminance * cs
            if weight is not None:
                w = weight[..., start_row:stop, :]
                ssim_map, cs = ssim_map * w, cs * w
            ssim_sum += ssim_map.sum((2, 3))
            cs_sum += cs.sum((2, 3))
            if keep:
                ctx.kept.append((stats, parts))
        if ctx.kernel_key is not None:
            KERNELS.count(ctx.kernel_key, time.thread_time() - start)
        return ssim_sum * scale, cs_sum * scale

    @staticmethod
    @once_differentiable
    def backward(ctx, g_ssim: Tensor, g_cs: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, y, window, weight = ctx.saved_tensors
        c1, c2, strips, scale = ctx.constants
        if ctx.fused is not None:
            output, grads = ctx.fused
            wanted, other = (g_ssim, g_cs) if output == "ssim" else (g_cs, g_ssim)
            ctx.fused = None
            if not bool(other.any()):
                factor = (wanted * scale)[..., None, None]
                grads = iter(grads)
                return (*(next(grads).mul_(factor) if ctx.needs_input_grad[i] else None for i in (0, 1)),
                        None, None, None, None, None, None)
        start = time.thread_time()
        want_x, want_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        size = window.numel()
        x, y = x.contiguous(), y.contiguous()
        grad_x = torch.empty_like(x) if want_x else None  # every row is written by the strips below
        grad_y = torch.empty_like(y) if want_y else None
        g_ssim = (g_ssim * scale)[..., None, None]
        g_cs = (g_cs * scale)[..., None, None]
        groups = int(want_x) + int(want_y) + 2
        for index, (start_row, stop) in enumerate(strips):
            xs, ys = x[..., start_row:stop + size - 1, :], y[..., start_row:stop + size - 1, :]
            if ctx.kept:
                stats, parts = ctx.kept[index]
            else:
                stats = window_statistics(xs, ys, window)
                parts = ssim_parts(stats, c1, c2)
            gs, gc = g_ssim, g_cs
            if weight is not None:
                w = weight[..., start_row:stop, :]
                gs, gc = gs * w, gc * w
            fields = _stack_buffer(stats[0], groups)
            ssim_part_gradients(stats, parts, gs, gc, bool(want_x), bool(want_y), out=fields.split(x.shape[1], 1))
            back = filter_adjoint(fields, window).split(x.shape[1], 1)
            d_squares, d_xy = back[-2], back[-1]
            seen = 0 if index == 0 else size - 1  # rows the previous strip wrote: add to them, write the rest
            for grad, mine, other, field in ((grad_x, xs, ys, back[0]), (grad_y, ys, xs, back[-3])):
                if grad is not None:
                    _pixel_gradient(grad[..., start_row:stop + size - 1, :], seen, field, mine, other, d_squares,
                                    d_xy)
        ctx.kept = None
        if ctx.kernel_key is not None:
            KERNELS.count(ctx.kernel_key, time.thread_time() - start)
        return grad_x, grad_y, None, None, None, None, None, None


def _pixel_gradient(target: Tensor, seen: int, field: Tensor, mine: Tensor, other: Tensor, d_squares: Tensor,
                    d_xy: Tensor) -> None:
    """``target = adjoint(d mu) + 2 mine adjoint(d E[x^2 + y^2]) + other adjoint(d E[xy])``.

    The first ``seen`` rows of ``target`` already hold the previous strip's part and are added
    to; the others are written without being read, so the gradient needs no zero fill.
    """
    if seen:
        rows = slice(None, seen)
        target[..., rows, :].add_(field[..., rows, :]).addcmul_(mine[..., rows, :], d_squares[..., rows, :], value=2.0
                                                                ).addcmul_(other[..., rows, :], d_xy[..., rows, :])
    rows = slice(seen, None)
    torch.addcmul(field[..., rows, :], mine[..., rows, :], d_squares[..., rows, :], value=2.0,
                  out=target[..., rows, :]).addcmul_(other[..., rows, :], d_xy[..., rows, :])


def ssim_means(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
               k1: float = 0.01, k2: float = 0.03, weight: Tensor | None = None,
               rows: int | None = None, wants: str | None = None) -> tuple[Tensor, Tensor]:
    """Per-channel mean SSIM and mean contrast-structure, each of shape (N, C).

    Args:
        x, y: NxCxHxW images with values in [0, ``data_range``]; H, W >= ``win_size``.
        weight: optional Nx1xH'xW' weights of the windows (H' = H - win_size + 1), summing
            to one per sample; ``None`` averages all windows.
        rows: windows per strip (``None``: sized from :data:`STRIP_ELEMENTS`).
        wants: the output the caller differentiates (``"ssim"`` or ``"cs"``), when only one:
            it lets the fused kernel compute that gradient in the forward pass (see
            :class:`SSIMMeans`); ``None`` runs the closed form, which serves either.
    Returns:
        ``(ssim, cs)``, differentiable with respect to ``x`` and ``y`` (once).
    """
    check_window(x, win_size, "ssim")
    check_same_shape(x, y, "ssim")
    window = gaussian_window(int(win_size), float(win_sigma), x.device, x.dtype)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return SSIMMeans.apply(x, y, window, c1, c2, weight, _strip_rows(x, window, rows), wants)


def ssim_maps(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
              k1: float = 0.01, k2: float = 0.03) -> tuple[Tensor, Tensor]:
    """SSIM and contrast-structure maps, each Nx C x (H - win_size + 1) x (W - win_size + 1).

    Plain autograd arithmetic (for maps; :func:`ssim_means` is the fast way to the means).

    Args:
        x, y: NxCxHxW images with values in [0, ``data_range``]; H, W >= ``win_size``.
    Returns:
        ``(ssim_map, cs_map)``; the SSIM index of a sample is the mean of its ``ssim_map``.
    """
    check_window(x, win_size, "ssim")
    window = gaussian_window(int(win_size), float(win_sigma), x.device, x.dtype)
    luminance, cs = ssim_parts(window_statistics(x, y, window), (k1 * data_range) ** 2, (k2 * data_range) ** 2)[:2]
    return luminance * cs, cs


def check_window(x: Tensor, win_size: int, name: str) -> None:
    if win_size % 2 != 1 or win_size < 1:
        raise ValueError(f"{name}: win_size must be a positive odd number, got {win_size}")
    check_min_side(x, win_size, name, why="win_size")


def valid_windows(valid: Tensor, win_size: int) -> Tensor:
    """Nx1xH'xW' mask of the SSIM windows lying entirely inside ``valid`` (Nx1xHxW)."""
    return -F.max_pool2d(-valid.float(), win_size, stride=1) > 0.5


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03, valid: Tensor | None = None) -> Tensor:
    """Mean SSIM per sample, shape (N,); higher is better, 1 for identical images.

    With ``valid`` (Nx1xHxW bool) only windows entirely made of valid pixels are averaged, so
    an ignored pixel never leaks into a window at the border of the ignored area.
    """
    weight = None
    if valid is not None:
        check_window(x, win_size, "ssim")
        inside = valid_windows(valid, win_size).to(x.dtype)
        weight = inside / inside.flatten(1).sum(1).clamp_min(1.0)[:, None, None, None]
    return ssim_means(x, y, data_range, win_size, win_sigma, k1, k2, weight, wants="ssim")[0].mean(1)


def ms_ssim(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
            k1: float = 0.01, k2: float = 0.03, weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> Tensor:
    """Multi-scale SSIM per sample, shape (N,), as pytorch_msssim computes it.

    At each scale but the last the mean contrast-structure of each channel is kept and the
    images are halved (2x2 average, odd sizes padded); the last scale keeps the mean SSIM.
    The ``relu`` of each is raised to its weight, multiplied over scales, averaged over
    channels. The smaller side must exceed ``(win_size - 1) * 2 ** (scales - 1)``.
    """
    levels = len(weights)
    minimum = (win_size - 1) * 2 ** (levels - 1) + 1
    check_min_side(x, minimum, "ms-ssim", why=f"with win_size={win_size}",
                   hint="; use ssim, or a smaller window (ms-ssim:win_size=7 needs 97 px)")
    values = []
    for level in range(levels):
        wants = "cs" if level < levels - 1 else "ssim"  # the only output used at this scale
        level_ssim, level_cs = ssim_means(x, y, data_range, win_size, win_sigma, k1, k2, wants=wants)
        if level < levels - 1:
            values.append(torch.relu(level_cs))
            padding = [side % 2 for side in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    values.append(torch.relu(level_ssim))
    exponents = x.new_tensor(weights).view(-1, 1, 1)
    return torch.prod(torch.stack(values) ** exponents, dim=0).mean(1)


def ms_ssim_map(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
                k1: float = 0.01, k2: float = 0.03, weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> Tensor:
    """MS-SSIM per pixel, Nx1xHxW: :func:`ms_ssim`'s product taken pixel by pixel.

    Each scale's contrast-structure map (SSIM map at the last), its border replicated to the
    scale's grid, is brought back to HxW (bilinear), ``relu``-ed and raised to its weight; the
    product over scales is averaged over channels. A map of where the pair differs at every
    scale at once; its mean is close to, not equal to, the score (the mean of a product).
    """
    levels = len(weights)
    check_min_side(x, (win_size - 1) * 2 ** (levels - 1) + 1, "ms-ssim", why=f"with win_size={win_size}",
                   hint="; use ssim, or a smaller window (ms-ssim:win_size=7 needs 97 px)")
    size, half = x.shape[-2:], win_size // 2
    product: Tensor | None = None
    for level, weight in enumerate(weights):
        level_ssim, level_cs = ssim_maps(x, y, data_range, win_size, win_sigma, k1, k2)
        part = F.pad(torch.relu(level_cs if level < levels - 1 else level_ssim), (half, half, half, half),
                     mode="replicate")
        if part.shape[-2:] != size:
            part = F.interpolate(part, size=size, mode="bilinear", align_corners=False)
        part = part.clamp_min(0) ** weight
        product = part if product is None else product * part
        if level < levels - 1:
            padding = [side % 2 for side in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    assert product is not None  # MS-SSIM has at least one scale
    return product.mean(1, keepdim=True)


class SSIM:
    """Structural similarity (``ssim``) with explicit, recorded conventions."""

    higher_is_better = True
    supports_valid = True
    #: What the ``own`` strategy's map (``1 - local_map``) is.
    map_unit = "1 - SSIM (local, per window)"

    def __init__(self, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
                 k1: float = 0.01, k2: float = 0.03) -> None:
        if not data_range > 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        if win_size % 2 != 1 or win_size < 3:
            raise ValueError(f"win_size must be an odd number >= 3, got {win_size}")
        if not (win_sigma > 0 and k1 > 0 and k2 > 0):
            raise ValueError("win_sigma, k1 and k2 must be positive")
        self.data_range, self.win_size, self.win_sigma = float(data_range), int(win_size), float(win_sigma)
        self.k1, self.k2 = float(k1), float(k2)

    @property
    def min_side(self) -> int:
        """The smallest height and width this metric accepts (one window)."""
        return self.win_size

    @property
    def local_radius(self) -> int:
        """How far :meth:`local_map` reaches: half the window (the map's border rows are replicated)."""
        return self.win_size // 2

    def __call__(self, x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
        return ssim(x, y, self.data_range, self.win_size, self.win_sigma, self.k1, self.k2, valid)

    def local_map(self, x: Tensor, y: Tensor) -> Tensor:
        """The SSIM map averaged over channels on the input grid (Nx1xHxW), borders replicated."""
        ssim_map, _ = ssim_maps(x, y, self.data_range, self.win_size, self.win_sigma, self.k1, self.k2)
        half = self.win_size // 2
        return F.pad(ssim_map.mean(1, keepdim=True), (half, half, half, half), mode="replicate")

    def conventions(self) -> dict[str, object]:
        return {
            "data_range": self.data_range,
            "window": f"gaussian {self.win_size}/{self.win_sigma}",
            "K": [self.k1, self.k2],
            "C1": (self.k1 * self.data_range) ** 2,
            "C2": (self.k2 * self.data_range) ** 2,
            "filtering": "valid (no padding), as pytorch_msssim",
            "colour": "per channel, averaged",
        }


class MSSSIM(SSIM):
    """Multi-scale SSIM (``ms-ssim``), pytorch_msssim's algorithm with ``data_range`` explicit.

    Needs the smaller image side to exceed ``(win_size - 1) * 16`` (161 px for the default
    window): smaller images get a one-line error suggesting ``ssim`` or a smaller window.
    """

    supports_valid = False
    map_unit = "1 - MS-SSIM (per pixel, every scale brought back to the image's grid)"
    #: No local map whose mean is the score (the score is a product over scales): not SSIM's
    #: single-scale map either, so ``tolerant`` refuses MS-SSIM and ``own`` shows :meth:`own_map`.
    local_map = None
    local_radius = None

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        return ms_ssim(x, y, self.data_range, self.win_size, self.win_sigma, self.k1, self.k2)

    @property
    def min_side(self) -> int:
        """The smallest height and width MS-SSIM accepts: ``(win_size - 1) * 16 + 1`` (161 px by default)."""
        return (self.win_size - 1) * 2 ** (MS_SSIM_LEVELS - 1) + 1

    def own_map(self, x: Tensor, y: Tensor) -> Tensor:
        """``1 - MS-SSIM`` per pixel (:func:`ms_ssim_map`), Nx1xHxW: larger = more different."""
        return 1 - ms_ssim_map(x, y, self.data_range, self.win_size, self.win_sigma, self.k1, self.k2)

    def conventions(self) -> dict[str, object]:
        conventions = super().conventions()
        conventions.pop("filtering")
        conventions["implementation"] = "pytorch_msssim's ms_ssim algorithm (dfind closed-form gradient)"
        conventions["levels"] = MS_SSIM_LEVELS
        conventions["weights"] = list(MS_SSIM_WEIGHTS)
        return conventions
