"""``lowpass`` and ``highpass``: frequency masks applied with the FFT.

Frequencies are measured as a fraction of Nyquist along each axis, so a cut-off means the
same spatial scale on square and non-square images. Images are reflect-padded before the
transform (the FFT assumes a periodic image; without padding the left border would be
compared with the right one) and cropped back, so the output has the input's grid.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor


@lru_cache(maxsize=32)
def _radius(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    fy = torch.fft.fftfreq(height, device=device, dtype=dtype) / 0.5
    fx = torch.fft.rfftfreq(width, device=device, dtype=dtype) / 0.5
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def lowpass_mask(height: int, width: int, cutoff: float, profile: str = "gaussian", *,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """The low-pass transfer function on the ``rfft2`` grid, shape ``(height, width // 2 + 1)``.

    ``gaussian`` falls to 1/2 at ``cutoff``; ``ideal`` is 1 up to ``cutoff`` and 0 beyond.
    """
    radius = _radius(height, width, torch.device(device), dtype)
    if profile == "ideal":
        return (radius <= cutoff).to(dtype)
    return torch.exp(-math.log(2.0) * (radius / cutoff) ** 2)


def fft_filter(x: Tensor, cutoff: float, highpass: bool, profile: str = "gaussian", pad: str = "reflect") -> Tensor:
    """Filter NxCxHxW images with a radial FFT mask; differentiable, any device.

    Args:
        x: NxCxHxW images.
        cutoff: fraction of Nyquist in (0, 1].
        highpass: keep what is above the cut-off instead of below.
        profile: ``gaussian`` or ``ideal``.
        pad: ``reflect`` (pad by a quarter of each side first) or ``none`` (periodic).
    Returns:
        NxCxHxW filtered images (real).
    """
    height, width = x.shape[-2:]
    ph = min(height // 4, height - 1) if pad == "reflect" else 0
    pw = min(width // 4, width - 1) if pad == "reflect" else 0
    padded = F.pad(x, (pw, pw, ph, ph), mode="reflect") if ph or pw else x
    h2, w2 = padded.shape[-2:]
    mask = lowpass_mask(h2, w2, cutoff, profile, device=x.device, dtype=x.dtype)
    if highpass:
        mask = 1.0 - mask
    spectrum = torch.fft.rfft2(padded)
    filtered = torch.fft.irfft2(spectrum * mask, s=(h2, w2))
    return filtered[..., ph:ph + height, pw:pw + width]


class _FFTFilter:
    highpass = False

    def __init__(self, cutoff: float = 0.25, profile: str = "gaussian", pad: str = "reflect") -> None:
        if not 0.0 < float(cutoff) <= 1.0:
            raise ValueError(f"cutoff must lie in (0, 1] (a fraction of Nyquist), got {cutoff}")
        if profile not in ("gaussian", "ideal"):
            raise ValueError(f"profile must be gaussian or ideal, got {profile!r}")
        if pad not in ("reflect", "none"):
            raise ValueError(f"pad must be reflect or none, got {pad!r}")
        self.cutoff, self.profile, self.pad = float(cutoff), profile, pad

    def __call__(self, x: Tensor) -> Tensor:
        return fft_filter(x, self.cutoff, self.highpass, self.profile, self.pad)


class LowPass(_FFTFilter):
    """Keep frequencies below the cut-off: coarse structure, no fine detail or noise."""


class HighPass(_FFTFilter):
    """Keep frequencies above the cut-off: edges and texture, no slow shading.

    The filtered image is centred on zero; ``offset`` (0.5) moves it back to mid-grey so
    metrics that assume values near [0, 1] (SSIM's constants) behave.
    """

    highpass = True

    def __init__(self, cutoff: float = 0.25, profile: str = "gaussian", pad: str = "reflect",
                 offset: float = 0.5) -> None:
        super().__init__(cutoff, profile, pad)
        self.offset = float(offset)

    def __call__(self, x: Tensor) -> Tensor:
        return super().__call__(x) + self.offset
