"""SSIM with its gradient in one fused pass, compiled by ``torch.compile`` when that pays.

The eager path of :mod:`~dfplugins_builtin.metrics.ssim` runs some thirty element-wise
passes over full-size statistics per pair; on a CPU most of its time goes to memory traffic.
:func:`strip_forward` and :func:`strip_backward` are the same arithmetic written so that a
compiler can fuse it: the separable Gaussian as shifted sums, the statistics, the SSIM terms,
the derivatives of the wanted output with respect to the statistics, and their adjoint
filtering back to pixels, for a strip of rows small enough to stay in cache. ``torch.compile``
turns each into a few loops (two graphs, so that the zero border the adjoint needs is written
once instead of tested at every tap); :func:`fused_means` runs them strip by strip and sample
by sample, so one pair of compiled graphs serves every image of one width and channel count,
whatever the batch.

In one forward pass it gives the per-channel sums of the SSIM and contrast-structure maps and,
when a gradient is wanted, the gradient of the wanted sum (``"ssim"`` or ``"cs"``) with respect
to the inputs: backward only scales it by the incoming cotangent. Strips end on window rows;
the last strip is moved back to end on the last row, and ``row_weight`` zeroes the window rows
an earlier strip already counted, so every shape is the same and every window counts once.

Two compiled forms serve it, chosen by :class:`FusedKernels`: for float32 on the CPU, the C++
kernel of :mod:`~dfplugins_builtin.metrics.ssim_native` (the same arithmetic in one pass over
rows, its filters' windows held in registers; built in a second or two, once per machine, and
loaded from a cache in milliseconds); for other devices and dtypes (CUDA tensors stay on their
device), these functions compiled by ``torch.compile``. When they are used follows ``DFIND_COMPILE``:

* ``auto`` (the default): a compiled form is made once the eager path has spent about what
  making it costs (a ski-rental rule: never more than twice the better choice made in
  hindsight). The seconds are the calling thread's CPU time, so a machine busy with other work
  does not hasten the decision. The C++ kernel costs :data:`AUTO_BUILD_SECONDS` once per
  machine, so its eager seconds are counted across processes (kept beside the cached library)
  and a library already cached is used from the first call: after a few folder runs, every run
  starts with it. ``torch.compile`` costs :data:`AUTO_COMPILE_SECONDS` per process and kernel
  shape (its code is cached on disk by torch, ``TORCHINDUCTOR_CACHE_DIR``, so later processes
  compile faster), so its seconds are counted per shape in the process: a folder of a few dozen
  pairs stays eager, a folder of thousands compiles after its first seconds;
* ``1``: build or compile at the first call (benchmarks, long runs);
* ``0``: never; the eager path serves.

A build or compilation that fails (no C++ compiler, a device torch cannot compile for) is told
once as a warning; then ``torch.compile`` is tried where the C++ kernel failed, and the eager
path serves where that fails too. ``docs/performance.md`` has the figures.
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.errors import ParameterError, one_line
from dfplugins_builtin.metrics import ssim_native

COMPILE_ENV = "DFIND_COMPILE"
MODES = {"auto": "auto", "1": "on", "on": "on", "true": "on", "0": "off", "off": "off", "false": "off"}
#: Eager seconds (CPU time of the calling thread) one kernel shape may take in ``auto`` mode before it is compiled.
AUTO_COMPILE_SECONDS = 10.0
#: Eager seconds (CPU time, summed over this machine's processes) spent on float32 CPU SSIM before
#: the C++ kernel is built: about its build time (2 to 4 s of CPU here).
AUTO_BUILD_SECONDS = 4.0
#: Window rows per strip: the strip's working set (a few MiB at 1024 px) stays in cache.
STRIP_ROWS = 64


def compile_mode() -> str:
    """``"auto"``, ``"on"`` or ``"off"``, from ``DFIND_COMPILE`` (unset: ``"auto"``)."""
    value = os.environ.get(COMPILE_ENV, "").strip().lower() or "auto"
    if value not in MODES:
        raise ParameterError(f"{COMPILE_ENV} must be auto, 1 or 0, got {value!r}")
    return MODES[value]


# -- the arithmetic -------------------------------------------------------------------------------


def _correlate(t: Tensor, taps: Sequence[float], dim: int) -> Tensor:
    """'Valid' correlation of ``t`` with ``taps`` along ``dim``, as shifted sums (folded when symmetric)."""
    size = len(taps)
    count = t.shape[dim] - size + 1

    def shifted(k: int) -> Tensor:
        return t.narrow(dim, k, count)

    if all(taps[k] == taps[size - 1 - k] for k in range(size // 2)):
        out = shifted(size // 2) * taps[size // 2] if size % 2 else None
        for k in range(size // 2):
            term = (shifted(k) + shifted(size - 1 - k)) * taps[k]
            out = term if out is None else out + term
        return out  # type: ignore[return-value]
    out = shifted(0) * taps[0]
    for k in range(1, size):
        out = out + shifted(k) * taps[k]
    return out


def strip_forward(x: Tensor, y: Tensor, row_weight: Tensor, taps: tuple[float, ...], c1: float, c2: float,
                  output: str | None, want_x: bool, want_y: bool) -> tuple[Tensor, ...]:
    """Sums of the SSIM and contrast-structure maps over a strip, and the fields of one sum's gradient.

    Args:
        x, y: 1 x C x (R + k - 1) x W, the rows of R window rows (k = ``len(taps)``).
        row_weight: (R,) weights of the window rows (1, or 0 for rows counted elsewhere).
        taps: the 1-D window; c1, c2: SSIM's constants.
        output: ``"ssim"`` or ``"cs"``, the sum to differentiate (``None``: none).
        want_x, want_y: with respect to which input.
    Returns:
        ``(ssim_sum, cs_sum)`` of shape (1, C) and, when a gradient is wanted, the derivatives of
        the ``output`` sum with respect to the statistics (``d mu_x`` if ``want_x``, ``d mu_y``
        if ``want_y``, ``d E[x^2 + y^2]``, ``d E[xy]``) stacked, zero-padded by ``k - 1`` on
        every side: what :func:`strip_backward` filters back to pixels.
    """
    stack = torch.stack([x, y, x * x + y * y, x * y])
    mu_x, mu_y, squares, xy = _correlate(_correlate(stack, taps, 4), taps, 3).unbind(0)
    mu_xy = mu_x * mu_y
    b1 = mu_x * mu_x + mu_y * mu_y
    b2 = squares - b1 + c2
    b1 = b1 + c1
    luminance = (2.0 * mu_xy + c1) / b1
    cs = (2.0 * (xy - mu_xy) + c2) / b2
    weight = row_weight.view(-1, 1)
    sums = ((luminance * cs * weight).sum((-1, -2)), (cs * weight).sum((-1, -2)))
    if output is None or not (want_x or want_y):
        return sums
    # d sum / d statistic per window: ssim_part_gradients of ssim.py with a cotangent of 1
    if output == "ssim":
        g2 = (2.0 * weight) * luminance / b2  # coefficient of d cs, times 2 / b2
        h = (2.0 * weight) * cs / b1          # coefficient of d l, times 2 / b1
    else:
        g2 = (2.0 * weight) / b2
        h = None
    fields = []
    for mu, other, wanted in ((mu_x, mu_y, want_x), (mu_y, mu_x, want_y)):
        if wanted:  # d/d mu = h (other - mu l) + g2 (mu cs - other)
            field = g2 * (mu * cs - other)
            fields.append(field if h is None else field + h * (other - mu * luminance))
    fields += [-0.5 * g2 * cs, g2]  # d E[x^2 + y^2], d E[xy]
    pad = len(taps) - 1  # materialised here, so that the filters of the backward read plain rows
    return (*sums, F.pad(torch.stack(fields), (pad, pad, pad, pad)))


def strip_backward(fields: Tensor, x: Tensor, y: Tensor, taps: tuple[float, ...], want_x: bool,
                   want_y: bool) -> tuple[Tensor, ...]:
    """The gradients of a strip: :func:`strip_forward`'s padded fields filtered back to pixels.

    The adjoint of 'valid' correlation is 'full' convolution, which on the padded fields is a
    'valid' correlation with the reversed window. Returns the gradient with respect to ``x``
    if ``want_x``, then to ``y`` if ``want_y``, each shaped like the inputs.
    """
    taps = tuple(reversed(taps))
    back = _correlate(_correlate(fields, taps, 4), taps, 3)
    d_squares, d_xy = back[-2], back[-1]
    grads = []
    for index, (mine, other, wanted) in enumerate(((x, y, want_x), (y, x, want_y))):
        if wanted:
            grads.append(back[index if want_x else 0] + 2.0 * mine * d_squares + other * d_xy)
    return tuple(grads)


# -- strips, samples and the choice of kernel ---------------------------------------------------------


def strip_layout(out_rows: int, rows: int) -> tuple[int, list[int], list[int]]:
    """``(R, starts, counted)``: R window rows per strip, each strip's first row, and how many of
    its first rows an earlier strip already counted (the last strip ends on the last row)."""
    size = max(1, min(rows, out_rows))
    starts = list(range(0, out_rows - size + 1, size))
    if starts[-1] + size < out_rows:
        starts.append(out_rows - size)
    counted = [max(0, (previous + size) - start) for previous, start in zip([-size, *starts], starts)]
    return size, starts, counted


def fused_means(kernels: tuple[Callable[..., tuple[Tensor, ...]], Callable[..., tuple[Tensor, ...]]], x: Tensor,
                y: Tensor, taps: tuple[float, ...], c1: float, c2: float, output: str | None, want_x: bool,
                want_y: bool, rows: int = STRIP_ROWS) -> tuple[Tensor, ...]:
    """Per-channel sums ``(ssim [N, C], cs [N, C])`` and the gradients wanted, strip by strip.

    ``kernels`` are :func:`strip_forward` and :func:`strip_backward`, or their compiled forms;
    they see one sample and R window rows at a time, so their shapes depend neither on the
    batch nor on the image's height.
    """
    forward, backward = kernels
    size = len(taps)
    n, c, height, _ = x.shape
    strip, starts, counted = strip_layout(height - size + 1, rows)
    weights = {}
    for skip in set(counted):
        weights[skip] = torch.ones(strip, dtype=x.dtype, device=x.device)
        weights[skip][:skip] = 0.0
    wanted = output is not None and (want_x or want_y)
    sums: list[tuple[Tensor, Tensor]] = []  # (ssim, cs) of each strip, each 1 x C
    grads = [torch.empty_like(t) for t, wants in ((x, want_x), (y, want_y)) if wants and wanted]
    for sample in range(n):
        written = 0  # rows of this sample's gradient written so far: the next strip adds to them
        for start, skip in zip(starts, counted):
            rows_in = slice(start, start + strip + size - 1)
            xs, ys = x[sample:sample + 1, :, rows_in], y[sample:sample + 1, :, rows_in]
            out = forward(xs, ys, weights[skip], taps, c1, c2, output, want_x, want_y)
            sums.append((out[0], out[1]))
            if not wanted:
                continue
            overlap = written - start
            for grad, part in zip(grads, backward(out[2], xs, ys, taps, want_x, want_y)):
                target = grad[sample:sample + 1, :, rows_in]
                target[..., :overlap, :].add_(part[..., :overlap, :])
                target[..., overlap:, :].copy_(part[..., overlap:, :])
            written = start + strip + size - 1
    ssim_sum, cs_sum = (torch.cat(parts).view(n, len(starts), c).sum(1) for parts in zip(*sums))
    return (ssim_sum, cs_sum, *grads)


class FusedKernels:
    """Which kernel serves a call: the C++ kernel, :func:`fused_means` compiled, or the eager path
    (see the module docstring).

    Eager time is counted per kernel shape (device, dtype, channels, width, strip, outputs);
    the compiled function is made once per process and compiles each shape on first use. The
    C++ kernel is one library for every shape: what counts for it is the eager time of every
    shape it serves, in this process and (``eager-seconds`` in the kernel cache) in earlier ones.
    """

    def __init__(self, threshold: float = AUTO_COMPILE_SECONDS, build_threshold: float = AUTO_BUILD_SECONDS) -> None:
        self.threshold = threshold
        self.build_threshold = build_threshold
        self.spent: dict[tuple[Any, ...], float] = {}
        self.compiled: tuple[Callable[..., tuple[Tensor, ...]], Callable[..., tuple[Tensor, ...]]] | None = None
        self.failed: str | None = None
        self.native: Callable[..., tuple[Tensor, ...]] | None = None
        self.native_failed: str | None = None
        self.native_spent = 0.0   # eager seconds on shapes the C++ kernel serves, this process
        self.native_before: float | None = None  # the same, earlier processes (read once)
        self.native_looked = False  # whether the cache was looked in
        self.lock = threading.Lock()

    @staticmethod
    def key(x: Tensor, rows: int, size: int, output: str | None, want_x: bool, want_y: bool) -> tuple[Any, ...]:
        strip, _, _ = strip_layout(x.shape[-2] - size + 1, rows)
        return x.device.type, x.dtype, x.shape[1], x.shape[-1], strip, output, want_x, want_y

    def choose(self, key: tuple[Any, ...]) -> tuple[Callable[..., tuple[Tensor, ...]], ...] | None:
        """The compiled kernel when this call should use it, else ``None`` (run eager and :meth:`count` it)."""
        if self.failed is not None:
            return None
        mode = compile_mode()
        if mode == "off" or (mode == "auto" and self.spent.get(key, 0.0) < self.threshold):
            return None
        with self.lock:
            if self.compiled is None:
                self.compiled = (torch.compile(strip_forward, dynamic=False),
                                 torch.compile(strip_backward, dynamic=False))
        return self.compiled

    def choose_native(self, x: Tensor, window_size: int, y: Tensor | None = None) -> Callable[..., tuple[Tensor, ...]] | None:
        """The C++ kernel when it serves this call (built or loaded now if the rule says so), else ``None``."""
        if self.native_failed is not None or not ssim_native.NativeSSIM.supports(x, window_size, y):
            return None
        if self.native is not None:
            return self.native if compile_mode() != "off" else None
        mode = compile_mode()
        if mode == "off":
            return None
        build = mode == "on" or self.native_seconds() >= self.build_threshold
        if not build and self.native_looked:
            return None  # not cached when looked for, and not yet worth building
        with self.lock:
            if self.native is None and self.native_failed is None:
                try:
                    self.native_looked = True
                    self.native = ssim_native.load(build_if_missing=build)
                except ssim_native.BuildError as exc:
                    self.native_failed = one_line(exc)
                    warnings.warn(f"dfind: the SSIM kernel could not be built ({self.native_failed}); SSIM runs "
                                  f"through torch (set {COMPILE_ENV}=0 to skip trying)", RuntimeWarning, stacklevel=3)
        return self.native

    def native_seconds(self) -> float:
        """Eager seconds spent on what the C++ kernel would serve, in this process and earlier ones."""
        if self.native_before is None:
            self.native_before = _read_seconds()
        return self.native_before + self.native_spent

    def count(self, key: tuple[Any, ...], seconds: float) -> None:
        """Add eager seconds spent on a kernel shape."""
        self.spent[key] = self.spent.get(key, 0.0) + seconds
        if (key[0] == "cpu" and key[1] == torch.float32 and self.native is None and self.native_failed is None
                and compile_mode() == "auto"):
            self.native_spent += seconds

    def run(self, key: tuple[Any, ...], x: Tensor, y: Tensor, taps: tuple[float, ...], *args: Any,
            **kwargs: Any) -> tuple[Tensor, ...] | None:
        """The sums and gradients of :func:`fused_means` from a compiled kernel, or ``None`` when this call runs eager."""
        native = self.choose_native(x, len(taps), y)
        if native is not None:
            kwargs.pop("rows", None)
            return native(x, y, taps, *args, **kwargs)
        kernel = self.choose(key)
        if kernel is None:
            return None
        try:
            return fused_means(kernel, x, y, taps, *args, **kwargs)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 -- any compiler failure: warn once, stay eager
            self.failed = one_line(exc)
            warnings.warn(f"dfind: the fused SSIM kernel could not be compiled ({self.failed}); "
                          f"SSIM runs eager (set {COMPILE_ENV}=0 to skip trying)", RuntimeWarning, stacklevel=2)
            return None

    def save_seconds(self) -> None:
        """Add this process's eager seconds toward the C++ kernel to the cache's count (at exit)."""
        if self.native is None and self.native_failed is None and self.native_spent > 0:
            _write_seconds(_read_seconds() + self.native_spent)
            self.native_spent = 0.0


def _seconds_file() -> str:
    return os.path.join(ssim_native.cache_dir(), "eager-seconds")


def _read_seconds() -> float:
    try:
        with open(_seconds_file(), encoding="ascii") as file:
            return max(0.0, float(file.read().strip() or 0.0))
    except (OSError, ValueError):
        return 0.0


def _write_seconds(seconds: float) -> None:
    try:
        os.makedirs(os.path.dirname(_seconds_file()), exist_ok=True)
        with open(_seconds_file(), "w", encoding="ascii") as file:
            file.write(f"{seconds:.3f}\n")
    except OSError:
        pass  # a read-only cache: each process counts alone


#: The process's kernels (compiled graphs are per process, as torch.compile's are).
KERNELS = FusedKernels()
atexit.register(KERNELS.save_seconds)


__all__ = ["AUTO_BUILD_SECONDS", "AUTO_COMPILE_SECONDS", "COMPILE_ENV", "KERNELS", "STRIP_ROWS", "FusedKernels", "compile_mode",
           "fused_means", "strip_backward", "strip_forward", "strip_layout"]
