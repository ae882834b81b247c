"""``wavelet``: keep chosen wavelet subbands of each image, on the input's pixel grid.

PyWavelets supplies the filter banks (any discrete wavelet it knows: ``haar``, ``db2``,
``sym4``, ``bior2.2``, ...); the transform runs in torch as strided convolutions, so it is
differentiable and runs on the input's device. :func:`wavedec2` and :func:`waverec2` follow
``pywt.wavedec2`` / ``pywt.waverec2`` coefficient for coefficient, for the boundary modes
``symmetric`` (pywt's default), ``reflect``, ``periodic``, ``zero``, ``constant`` and
``periodization``.

The preprocessor decomposes each channel, zeroes the subbands that are not kept and
reconstructs, so its output keeps the input's height, width and channels and every map still
lines up with the input image. Keeping every band reconstructs the input exactly.

Subband names: ``a`` is the approximation at the coarsest level; ``hK``, ``vK``, ``dK`` are
the horizontal, vertical and diagonal details of level K (1 = finest; pywt's ``cH``, ``cV``,
``cD``); ``detailK`` is the three of level K; ``detail``, ``approx`` and ``all`` are what they
say. Several are joined with ``+`` (``bands=h1+v1+d2``).

Reference:
    Mallat. A theory for multiresolution signal decomposition: the wavelet representation.
    IEEE TPAMI 11(7), 1989.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.errors import ShapeError

MODES = ("symmetric", "reflect", "periodic", "zero", "constant", "periodization")
_DIRECTIONS = ("h", "v", "d")
_BAND_RE = re.compile(r"^(?:(a)|([hvd])(\d+)|detail(\d+))$")

#: One level of coefficients: (cH, cV, cD), each NxCxhxw.
Details = tuple[Tensor, Tensor, Tensor]


class FilterBank:
    """The four filters of a pywt discrete wavelet, cached per device and dtype."""

    _cache: dict[str, FilterBank] = {}
    _lock = threading.Lock()

    def __init__(self, name: str) -> None:
        import pywt

        try:
            wavelet = pywt.Wavelet(name)
        except ValueError:
            known = pywt.wavelist(kind="discrete")
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else "see pywt.wavelist(kind='discrete')"
            raise ValueError(f"unknown discrete wavelet {name!r}; {hint}") from None
        self.name = name
        self.length = wavelet.dec_len
        if self.length % 2:
            raise ValueError(f"wavelet {name!r} has odd filter length {self.length}")
        self._filters = (wavelet.dec_lo, wavelet.dec_hi, wavelet.rec_lo, wavelet.rec_hi)
        self._tensors: dict[tuple[torch.device, torch.dtype], tuple[Tensor, Tensor]] = {}

    @classmethod
    def get(cls, name: str) -> FilterBank:
        with cls._lock:
            bank = cls._cache.get(name)
            if bank is None:
                bank = cls._cache[name] = FilterBank(name)
            return bank

    def tensors(self, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """(decomposition, reconstruction) filters, each 2xL: rows low-pass, high-pass.

        The decomposition filters are reversed, since ``conv`` correlates.
        """
        key = (device, dtype)
        cached = self._tensors.get(key)
        if cached is None:
            dec_lo, dec_hi, rec_lo, rec_hi = (torch.tensor(f, dtype=torch.float64) for f in self._filters)
            dec = torch.stack([dec_lo.flip(0), dec_hi.flip(0)]).to(device=device, dtype=dtype)
            rec = torch.stack([rec_lo, rec_hi]).to(device=device, dtype=dtype)
            cached = self._tensors[key] = (dec, rec)
        return cached


def coefficient_length(n: int, filter_length: int, mode: str) -> int:
    """Number of coefficients of one level for a signal of length ``n`` (as ``pywt.dwt_coeff_len``)."""
    if mode == "periodization":
        return (n + 1) // 2
    return (n + filter_length - 1) // 2


def max_level(n: int, filter_length: int) -> int:
    """The deepest useful level for length ``n`` (as ``pywt.dwt_max_level``)."""
    if n < filter_length - 1:
        return 0
    level = 0
    while (n >> (level + 1)) >= filter_length - 1:
        level += 1
    return level


def _extension_index(n: int, start: int, count: int, mode: str, device: torch.device) -> Tensor:
    """Indices into a signal of length ``n`` (``n`` itself meaning zero) for positions start..start+count-1."""
    pos = torch.arange(start, start + count, device=device)
    if mode == "symmetric":
        pos = pos % (2 * n)
        return torch.where(pos < n, pos, 2 * n - 1 - pos)
    if mode == "reflect":
        if n == 1:
            return torch.zeros_like(pos)
        pos = pos % (2 * n - 2)
        return torch.where(pos < n, pos, 2 * n - 2 - pos)
    if mode in ("periodic", "periodization"):
        return pos % n
    if mode == "constant":
        return pos.clamp(0, n - 1)
    if mode == "zero":
        return torch.where((pos >= 0) & (pos < n), pos, torch.full_like(pos, n))
    raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def _dwt_axis(x: Tensor, dec: Tensor, mode: str, dim: int) -> Tensor:
    """One analysis step along ``dim`` (-1 or -2) of Bx1xHxW: Bx2xH'xW' (low, high)."""
    n = x.shape[dim]
    length = dec.shape[1]
    if mode == "periodization" and n % 2:
        x = torch.cat([x, x.narrow(dim, n - 1, 1)], dim=dim)
        n += 1
    out = coefficient_length(n, length, mode)
    start = 1 - length // 2 if mode == "periodization" else 2 - length
    index = _extension_index(n, start, 2 * (out - 1) + length, mode, x.device)
    if mode == "zero":  # index n reads the appended zero
        x = F.pad(x, (0, 1) if dim == -1 else (0, 0, 0, 1))
    extended = x.index_select(dim, index)
    if dim == -1:
        return F.conv2d(extended, dec[:, None, None, :], stride=(1, 2))
    return F.conv2d(extended, dec[:, None, :, None], stride=(2, 1))


def _idwt_axis(c: Tensor, rec: Tensor, mode: str, dim: int) -> Tensor:
    """One synthesis step along ``dim``: Bx2xhxw (low, high) -> Bx1xH'xW'."""
    n = c.shape[dim]
    length = rec.shape[1]
    if dim == -1:
        full = F.conv_transpose2d(c, rec[:, None, None, :], stride=(1, 2))
    else:
        full = F.conv_transpose2d(c, rec[:, None, :, None], stride=(2, 1))
    if mode != "periodization":
        return full.narrow(dim, length - 2, 2 * n - length + 2)
    size = 2 * n
    index = (torch.arange(full.shape[dim], device=c.device) + 1 - length // 2) % size
    shape = list(full.shape)
    shape[dim] = size
    return full.new_zeros(shape).index_add(dim, index, full)


def dwt2(x: Tensor, wavelet: str = "haar", mode: str = "symmetric") -> tuple[Tensor, Details]:
    """One level of the 2-D discrete wavelet transform, as ``pywt.dwt2(x, wavelet, mode)``.

    Args:
        x: NxCxHxW tensor (any float dtype and device).
        wavelet: a discrete pywt wavelet name.
        mode: boundary handling, one of :data:`MODES`.
    Returns:
        ``(cA, (cH, cV, cD))``, each NxCxhxw with h, w given by :func:`coefficient_length`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    bank = FilterBank.get(wavelet)
    dec, _ = bank.tensors(x.device, x.dtype)
    n, c, h, w = x.shape
    rows = _dwt_axis(x.reshape(n * c, 1, h, w), dec, mode, dim=-1)  # (B, [lo, hi] along width, H, w')
    both = _dwt_axis(rows.reshape(n * c * 2, 1, h, rows.shape[-1]), dec, mode, dim=-2)
    both = both.reshape(n, c, 2, 2, both.shape[-2], both.shape[-1])  # [..., width band, height band, h', w']
    return both[:, :, 0, 0], (both[:, :, 0, 1], both[:, :, 1, 0], both[:, :, 1, 1])


def idwt2(approx: Tensor, details: Details, wavelet: str = "haar", mode: str = "symmetric") -> Tensor:
    """Inverse of :func:`dwt2`, as ``pywt.idwt2``: NxCxhxw coefficients -> NxCxHxW."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    ch, cv, cd = details
    for band in details:
        if band.shape != approx.shape:
            raise ShapeError(f"wavelet coefficients disagree in shape: {list(approx.shape)} and {list(band.shape)}")
    _, rec = FilterBank.get(wavelet).tensors(approx.device, approx.dtype)
    n, c, h, w = approx.shape
    bands = torch.stack([approx, ch, cv, cd], dim=2).reshape(n * c * 2, 2, h, w)  # [width band][height band]
    cols = _idwt_axis(bands, rec, mode, dim=-2)
    cols = cols.reshape(n * c, 2, cols.shape[-2], w)
    out = _idwt_axis(cols, rec, mode, dim=-1)
    return out.reshape(n, c, out.shape[-2], out.shape[-1])


def wavedec2(x: Tensor, wavelet: str = "haar", level: int = 1, mode: str = "symmetric") -> list[Any]:
    """Multi-level decomposition, as ``pywt.wavedec2``: ``[cA_n, (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)]``."""
    if level < 1:
        raise ValueError(f"level must be at least 1, got {level}")
    details: list[Details] = []
    approx = x
    for _ in range(level):
        approx, bands = dwt2(approx, wavelet, mode)
        details.append(bands)
    return [approx, *reversed(details)]


def waverec2(coeffs: Sequence[Any], wavelet: str = "haar", mode: str = "symmetric") -> Tensor:
    """Multi-level reconstruction, as ``pywt.waverec2`` (odd sizes come back one larger, as there)."""
    approx = coeffs[0]
    for details in coeffs[1:]:
        h, w = details[0].shape[-2:]
        approx = idwt2(approx[..., :h, :w], tuple(details), wavelet, mode)
    return approx


def parse_bands(bands: str | Sequence[str], level: int) -> frozenset[str]:
    """The subband names a ``bands`` value selects, e.g. ``"h1+v1"`` -> ``{"h1", "v1"}``.

    Raises ``ValueError`` naming the bad item and the valid ones.
    """
    items = re.split(r"[+,\s]+", bands.strip("[]() ")) if isinstance(bands, str) else list(bands)
    chosen: set[str] = set()
    for raw in items:
        item = str(raw).strip().strip("'\"").lower()
        if not item:
            continue
        if item == "all":
            chosen |= _all_bands(level)
            continue
        if item == "approx":
            chosen.add("a")
            continue
        if item == "detail":
            chosen |= _all_bands(level) - {"a"}
            continue
        match = _BAND_RE.match(item)
        scale = int(match.group(3) or match.group(4) or 1) if match else 0
        if not match or not 1 <= scale <= level:
            raise ValueError(
                f"unknown wavelet band {item!r} for level={level}; use all, approx, detail, a, "
                f"detail1..detail{level} or h/v/d followed by 1..{level} (joined with +)"
            )
        if match.group(1):
            chosen.add("a")
        elif match.group(2):
            chosen.add(f"{match.group(2)}{scale}")
        else:
            chosen |= {f"{d}{scale}" for d in _DIRECTIONS}
    if not chosen:
        raise ValueError("bands selects no subband")
    return frozenset(chosen)


def _all_bands(level: int) -> set[str]:
    return {"a"} | {f"{d}{k}" for k in range(1, level + 1) for d in _DIRECTIONS}


def keep_bands(x: Tensor, wavelet: str, level: int, keep: frozenset[str], mode: str = "symmetric") -> Tensor:
    """Reconstruct NxCxHxW ``x`` from the subbands in ``keep`` only, on its own grid."""
    height, width = x.shape[-2:]
    coeffs = wavedec2(x, wavelet, level, mode)
    if "a" not in keep:
        coeffs[0] = torch.zeros_like(coeffs[0])
    for index in range(1, level + 1):
        scale = level + 1 - index  # coeffs[1] is the coarsest level
        coeffs[index] = tuple(
            band if f"{d}{scale}" in keep else torch.zeros_like(band)
            for d, band in zip(_DIRECTIONS, coeffs[index])
        )
    return waverec2(coeffs, wavelet, mode)[..., :height, :width]


class Wavelet:
    """Keep chosen wavelet subbands of each image; output NxCxHxW on the input's grid.

    Args:
        wavelet: a discrete pywt wavelet (``haar``, ``db2``, ``sym4``, ``bior2.2``, ...).
        level: decomposition levels, >= 1.
        bands: which subbands to keep (see the module docstring); ``+`` joins several.
        mode: boundary handling, one of :data:`MODES`.
        offset: added to the result; ``None``: 0.5 when the approximation is dropped (the
            details are centred on zero) and 0 when it is kept.
    """

    def __init__(self, wavelet: str = "db2", level: int = 2, bands: str = "detail", mode: str = "symmetric",
                 offset: float | None = None) -> None:
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise ValueError(f"level must be an integer >= 1, got {level!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.bank = FilterBank.get(wavelet)
        self.wavelet, self.level, self.mode = wavelet, level, mode
        self.keep = parse_bands(bands, level)
        self.offset = float(offset) if offset is not None else (0.0 if "a" in self.keep else 0.5)

    def min_size(self) -> int:
        """The smallest height and width this level and wavelet accept."""
        return (self.bank.length - 1) << self.level

    def __call__(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        if max_level(min(height, width), self.bank.length) < self.level:
            raise ShapeError(
                f"wavelet {self.wavelet} at level {self.level} needs images of at least {self.min_size()} px "
                f"on each side; got {height}x{width} (lower the level or use a shorter wavelet)"
            )
        out = keep_bands(x, self.wavelet, self.level, self.keep, self.mode)
        return out + self.offset if self.offset else out

    def conventions(self) -> dict[str, object]:
        import pywt

        return {
            "wavelet": self.wavelet,
            "level": self.level,
            "bands": sorted(self.keep, key=_band_order),
            "mode": self.mode,
            "offset": self.offset,
            "pywt": pywt.__version__,
        }


def _band_order(name: str) -> tuple[int, int]:
    return (0, 0) if name == "a" else (int(name[1:]), _DIRECTIONS.index(name[0]) + 1)
