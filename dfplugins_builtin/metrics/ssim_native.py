"""SSIM's sums and gradient from a small C++ kernel (``ssim_native.cpp``), built once per machine.

The kernel is :func:`~dfplugins_builtin.metrics.ssim_fused.fused_means` for float32 images on
the CPU, in one pass over rows (the source says how): the filters keep their window in
registers and the working rows stay in cache, which ``torch.compile``'s generated loops do
not. It has no torch headers: the system's C++ compiler (``$CXX``, else ``c++``) builds it in
a second or two into a shared library that later processes load in milliseconds, cached under
``$DFIND_CACHE_DIR`` (else ``$XDG_CACHE_HOME/dfind``, else ``~/.cache/dfind``) by a hash of
the source, the compiler, its flags and the processor's features. Tensors are passed by
pointer and strides (channels-last images need no copy); threads are torch's intra-op count.

:class:`~dfplugins_builtin.metrics.ssim_fused.FusedKernels` decides when it is built and used
(``DFIND_COMPILE``); this module only builds, loads and calls it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("ssim_native.cpp")
CACHE_ENV = "DFIND_CACHE_DIR"
#: Window lengths the library holds (each a compile-time constant there); others run torch.
WINDOWS = (7, 11)
FLAGS = ("-O3", "-march=native", "-std=c++17", "-fopenmp-simd", "-shared", "-fPIC", "-pthread")
OUTPUTS = {None: 0, "ssim": 1, "cs": 2}
#: Window rows a thread's band should have at least (a band recomputes k - 1 rows above it).
BAND_ROWS = 64

_P, _I = ctypes.c_void_p, ctypes.c_int64
_ARGTYPES = [_P, _P, _P, _P, _I, _I, _I, _I, _P, _P, _P, _P, _P, ctypes.c_int, ctypes.c_float, ctypes.c_float,
             ctypes.c_int, ctypes.c_int, ctypes.c_int, _P, _P]


class BuildError(RuntimeError):
    """The kernel could not be built or loaded here (no compiler, a compiler error, a bad library)."""


def cache_dir() -> Path:
    """Where built kernels are kept: ``$DFIND_CACHE_DIR``, ``$XDG_CACHE_HOME/dfind`` or ``~/.cache/dfind``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dfind"


def compiler() -> str | None:
    """The C++ compiler's path (``$CXX``, else ``c++``), or ``None`` when there is none."""
    return shutil.which(os.environ.get("CXX") or "c++")


def _cpu_features() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor()


@lru_cache(maxsize=4)
def _digest(cxx: str) -> str:
    digest = hashlib.sha256()
    for part in (SOURCE.read_bytes(), cxx.encode(), " ".join(FLAGS).encode(), platform.machine().encode(),
                 _cpu_features().encode(), str(os.stat(cxx).st_mtime_ns).encode()):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def library_path(cxx: str) -> Path:
    """The cached library for this source, compiler, flags and processor (built or not)."""
    return cache_dir() / f"ssim-{_digest(cxx)}.so"


def cached() -> Path | None:
    """The library if a process has already built it on this machine, else ``None``."""
    cxx = compiler()
    if cxx is None:
        return None
    path = library_path(cxx)
    return path if path.is_file() else None


def build() -> Path:
    """Build the library into the cache (written under a temporary name, then renamed) and return its path."""
    cxx = compiler()
    if cxx is None:
        raise BuildError(f"no C++ compiler ({os.environ.get('CXX') or 'c++'} not found)")
    target = library_path(cxx)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(suffix=".so.part", dir=target.parent)
        os.close(handle)
    except OSError as exc:
        raise BuildError(f"cannot write the kernel cache {target.parent}: {exc}") from None
    try:
        done = subprocess.run([cxx, *FLAGS, str(SOURCE), "-o", temporary], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip()[:200])
            raise BuildError(f"{Path(cxx).name} failed: {first}")
        os.replace(temporary, target)  # atomic: a process building the same library at once is harmless
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


class NativeSSIM:
    """The loaded library, called like :func:`~dfplugins_builtin.metrics.ssim_fused.fused_means`."""

    def __init__(self, path: Path) -> None:
        try:
            library = ctypes.CDLL(str(path))
            self.function = library.dfind_ssim_f32
        except (OSError, AttributeError) as exc:
            raise BuildError(f"cannot load {path.name}: {exc}") from None
        self.function.argtypes = _ARGTYPES
        self.function.restype = ctypes.c_int
        self.path = path

    @staticmethod
    def supports(x: Tensor, window_size: int, y: Tensor | None = None) -> bool:
        """float32 on the CPU, one of :data:`WINDOWS`, a plain strided buffer, and ``y`` (when given)
        of ``x``'s dtype and device: the kernel reads both with one element type."""
        same = y is None or (y.dtype, y.device, y.layout) == (x.dtype, x.device, x.layout)
        return (same and x.device.type == "cpu" and x.dtype == torch.float32 and window_size in WINDOWS
                and x.layout == torch.strided)

    def __call__(self, x: Tensor, y: Tensor, taps: tuple[float, ...], c1: float, c2: float, output: str | None,
                 want_x: bool, want_y: bool) -> tuple[Tensor, ...]:
        """``(ssim_sum [N, C], cs_sum [N, C], *gradients)``: the sums of the maps over all windows, and
        the gradients of the ``output`` sum with respect to ``x`` (if ``want_x``) and ``y`` (if ``want_y``)."""
        n, c, height, width = x.shape
        threads = max(1, torch.get_num_threads())
        bands = max(1, min(threads, height // BAND_ROWS))
        wanted = output is not None and (want_x or want_y)
        grad_x = torch.empty_like(x) if wanted and want_x else None
        grad_y = torch.empty_like(y) if wanted and want_y else None
        sums = torch.zeros((2, n * c * bands), dtype=torch.float64)
        window = torch.tensor(taps, dtype=torch.float32)

        def strides(t: Tensor | None) -> ctypes.Array[ctypes.c_int64] | None:
            return None if t is None else (ctypes.c_int64 * 4)(*t.stride())

        status = self.function(x.data_ptr(), y.data_ptr(), grad_x.data_ptr() if grad_x is not None else None,
                               grad_y.data_ptr() if grad_y is not None else None, n, c, height, width, strides(x),
                               strides(y), strides(grad_x), strides(grad_y), window.data_ptr(), len(taps), c1, c2,
                               OUTPUTS[output] if wanted else 0, bands, threads, sums[0].data_ptr(), sums[1].data_ptr())
        if status != 0:
            raise BuildError(f"the kernel holds no window of {len(taps)}")
        ssim_sum, cs_sum = sums.view(2, n, c, bands).sum(-1).to(x.dtype)
        return (ssim_sum, cs_sum, *(g for g in (grad_x, grad_y) if g is not None))


def load(build_if_missing: bool) -> NativeSSIM | None:
    """The kernel from the cache, built first if ``build_if_missing``; ``None`` when not cached and not built."""
    path = build() if build_if_missing else cached()
    return None if path is None else NativeSSIM(path)


__all__ = ["BAND_ROWS", "CACHE_ENV", "FLAGS", "SOURCE", "WINDOWS", "BuildError", "NativeSSIM", "build", "cache_dir", "cached",
           "compiler", "library_path", "load"]
