"""``ssim`` and ``ms-ssim``.

SSIM follows pytorch_msssim exactly (Gaussian window 11/1.5, 'valid' filtering, C1 =
(K1 R)^2, C2 = (K2 R)^2) but with ``data_range = 1`` for our [0, 1] images: pytorch_msssim's
default of 255 makes the constants 65,025 times too large, SSIM about 1 and its gradient
about 1000 times too small. The five local statistics are filtered in one grouped
convolution per axis instead of ten, which matters when it is differentiated. MS-SSIM is
pytorch_msssim's ``ms_ssim`` called with the same explicit conventions.

References:
    Wang, Bovik, Sheikh, Simoncelli. Image quality assessment: from error visibility to
    structural similarity. IEEE TIP 13(4), 2004.
    Wang, Simoncelli, Bovik. Multiscale structural similarity for image quality assessment. 2003.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from dfcore.errors import ShapeError

MS_SSIM_LEVELS = 5


@lru_cache(maxsize=16)
def gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    """The normalised 1-D Gaussian pytorch_msssim uses, shape (size,).

    Computed in float64 and then cast, so float64 inputs get a float64-exact window.
    """
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    window = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return (window / window.sum()).to(device=device, dtype=dtype)


def _blur_valid(x: Tensor, window: Tensor) -> Tensor:
    """Separable 'valid' Gaussian filtering of every channel of NxCxHxW ``x``."""
    channels, size = x.shape[1], window.numel()
    x = F.conv2d(x, window.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)
    return F.conv2d(x, window.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)


def ssim_maps(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
              k1: float = 0.01, k2: float = 0.03) -> tuple[Tensor, Tensor]:
    """SSIM and contrast-structure maps, each Nx C x (H - win_size + 1) x (W - win_size + 1).

    Args:
        x, y: NxCxHxW images with values in [0, ``data_range``]; H, W >= ``win_size``.
    Returns:
        ``(ssim_map, cs_map)``; the SSIM index of a sample is the mean of its ``ssim_map``.
    """
    check_window(x, win_size, "ssim")
    channels = x.shape[1]
    window = gaussian_window(int(win_size), float(win_sigma), x.device, x.dtype)
    stats = _blur_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), window)
    mu_x, mu_y, xx, yy, xy = stats.split(channels, dim=1)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    cs_map = (2.0 * (xy - mu_xy) + c2) / ((xx - mu_xx) + (yy - mu_yy) + c2)
    ssim_map = (2.0 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    return ssim_map, cs_map


def check_window(x: Tensor, win_size: int, name: str) -> None:
    if win_size % 2 != 1 or win_size < 1:
        raise ValueError(f"{name}: win_size must be a positive odd number, got {win_size}")
    height, width = x.shape[-2:]
    if min(height, width) < win_size:
        raise ShapeError(f"{name} needs images of at least {win_size}x{win_size} px (win_size), got {width}x{height}")


def valid_windows(valid: Tensor, win_size: int) -> Tensor:
    """Nx1xH'xW' mask of the SSIM windows lying entirely inside ``valid`` (Nx1xHxW)."""
    return -F.max_pool2d(-valid.float(), win_size, stride=1) > 0.5


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, win_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03, valid: Tensor | None = None) -> Tensor:
    """Mean SSIM per sample, shape (N,); higher is better, 1 for identical images.

    With ``valid`` (Nx1xHxW bool) only windows entirely made of valid pixels are averaged, so
    an ignored pixel never leaks into a window at the border of the ignored area.
    """
    ssim_map, _ = ssim_maps(x, y, data_range, win_size, win_sigma, k1, k2)
    if valid is None:
        return ssim_map.flatten(1).mean(1)
    inside = valid_windows(valid, win_size).to(ssim_map.dtype).expand_as(ssim_map)
    return (ssim_map * inside).flatten(1).sum(1) / inside.flatten(1).sum(1).clamp_min(1.0)


class SSIM:
    """Structural similarity (``ssim``) with explicit, recorded conventions."""

    higher_is_better = True
    supports_valid = True

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
    """Multi-scale SSIM (``ms-ssim``) by pytorch_msssim, with ``data_range`` passed explicitly.

    Needs the smaller image side to exceed ``(win_size - 1) * 16`` (161 px for the default
    window): smaller images get a one-line error suggesting ``ssim`` or a smaller window.
    """

    supports_valid = False

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        from pytorch_msssim import ms_ssim

        minimum = (self.win_size - 1) * 2 ** (MS_SSIM_LEVELS - 1) + 1
        height, width = x.shape[-2:]
        if min(height, width) < minimum:
            raise ShapeError(
                f"ms-ssim needs images of at least {minimum}x{minimum} px with win_size={self.win_size}, "
                f"got {width}x{height}; use ssim, or a smaller window (ms-ssim:win_size=7 needs 97 px)"
            )
        window = gaussian_window(self.win_size, self.win_sigma, x.device, x.dtype)
        window = window.view(1, 1, 1, -1).repeat(x.shape[1], 1, 1, 1)  # pytorch_msssim's own is float32 only
        return ms_ssim(x, y, data_range=self.data_range, size_average=False, win=window, K=(self.k1, self.k2))

    def conventions(self) -> dict[str, object]:
        import pytorch_msssim

        conventions = super().conventions()
        conventions.pop("filtering")
        conventions["implementation"] = f"pytorch_msssim {getattr(pytorch_msssim, '__version__', '')}".strip()
        conventions["levels"] = MS_SSIM_LEVELS
        conventions["weights"] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
        return conventions
