"""piq's full-reference metrics that need no weights: FSIM, GMSD, MS-GMSD, HaarPSI, VIFp, VSI,
MDSI, SR-SIM, DSS and IW-SSIM.

Each stage calls piq's function with piq's keyword arguments (the same names and defaults),
``reduction='none'``, and dfind's conventions around it (:mod:`dfind_piq.base`). They work
offline. Minimum sizes are piq's, checked first: a smaller image gets a one-line
:class:`~dfcore.errors.ShapeError` naming the size needed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dfcore.errors import ShapeError
from dfind_piq.base import PiqMetric, at_least, positive, weights_tuple


def _weights(values: tuple[float, ...] | None, like: Tensor) -> Tensor | None:
    return None if values is None else torch.tensor(values, dtype=like.dtype, device=like.device)


class FSIM(PiqMetric):
    """Feature similarity, FSIM (grey) or FSIMc (``chromatic``); higher is better, 1 for identical images.

    Phase congruency and gradient magnitude of the luminance are compared, weighted by the
    larger phase congruency; FSIMc adds the I and Q chroma channels.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        chromatic: FSIMc, with colour (grey images are repeated to RGB, so the colour term is 1).
        scales, orientations, min_length, mult, sigma_f, delta_theta, k: piq's log-Gabor
            filter bank and noise threshold (``k`` noise standard deviations).
        noise_gradient: differentiate through the noise threshold too. It is estimated from
            the median of the finest filter responses, so its gradient falls on the one pixel
            that is the median (per orientation): spikes that say nothing about where the
            images differ. By default it is held fixed (the value is piq's either way).

    References:
        L. Zhang, L. Zhang, X. Mou, D. Zhang. FSIM: A Feature Similarity Index for Image
        Quality Assessment. IEEE Transactions on Image Processing 20(8):2378-2386, 2011.
    """

    name, function, higher_is_better = "fsim", "fsim", True

    def __init__(self, data_range: float = 1.0, chromatic: bool = True, scales: int = 4, orientations: int = 4,
                 min_length: int = 6, mult: int = 2, sigma_f: float = 0.55, delta_theta: float = 1.2,
                 k: float = 2.0, noise_gradient: bool = False) -> None:
        super().__init__(data_range)
        at_least(1, scales=scales, orientations=orientations, min_length=min_length, mult=mult)
        positive(sigma_f=sigma_f, delta_theta=delta_theta)
        if not k >= 0:
            raise ValueError(f"k must be at least 0, got {k}")
        self.options = dict(chromatic=bool(chromatic), scales=int(scales), orientations=int(orientations),
                            min_length=int(min_length), mult=int(mult), sigma_f=float(sigma_f),
                            delta_theta=float(delta_theta), k=float(k))
        self.noise_gradient = bool(noise_gradient)
        self.hold = () if self.noise_gradient else (torch.median,)

    @property
    def needs_rgb(self) -> bool:
        return self.options["chromatic"]

    def minimum_side(self) -> tuple[int, str]:
        return 2, ""

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.fsim(x, y, reduction="none", data_range=self.data_range, **self.options)

    def conventions(self) -> dict[str, object]:
        recorded = super().conventions()
        recorded["noise_threshold"] = ("differentiated (noise_gradient=true)" if self.noise_gradient else
                                       "held fixed when differentiating (its median's gradient is one pixel)")
        return recorded


class GMSD(PiqMetric):
    """Gradient magnitude similarity deviation; lower is better, 0 for identical images.

    The standard deviation of the per-pixel similarity of Prewitt gradient magnitudes, on
    the luminance halved by 2x2 averaging.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        t: stabilising constant of the similarity, for images in [0, 1] (170 / 255**2).

    References:
        W. Xue, L. Zhang, X. Mou, A. C. Bovik. Gradient Magnitude Similarity Deviation: A
        Highly Efficient Perceptual Image Quality Index. IEEE Transactions on Image
        Processing 23(2):684-695, 2014.
    """

    name, function, higher_is_better = "gmsd", "gmsd", False

    def __init__(self, data_range: float = 1.0, t: float = 170 / 255**2) -> None:
        super().__init__(data_range)
        positive(t=t)
        self.t = float(t)

    def minimum_side(self) -> tuple[int, str]:
        return 3, " (a deviation needs two pixels after halving)"

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.gmsd(x, y, reduction="none", data_range=self.data_range, t=self.t)


class MSGMSD(PiqMetric):
    """Multi-scale GMSD, MS-GMSD (or MS-GMSDc with ``chromatic``); lower is better, 0 for identical images.

    GMSD on a pyramid of 2x2-averaged luminance images, its squares weighted by scale.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        scale_weights: one weight per scale, normalised to sum 1; default (None): the paper's
            four, 0.096, 0.596, 0.289, 0.019.
        chromatic: MS-GMSDc, adding the I and Q chroma error (grey images repeated to RGB).
        alpha: masking coefficient of the similarity.
        beta1, beta2, beta3: weights of the chroma term (MS-GMSDc).
        t: stabilising constant, for images in [0, 255].

    References:
        B. Zhang, P. V. Sander, A. Bermak. Gradient Magnitude Similarity Deviation on
        Multiple Scales for Color Image Quality Assessment. ICASSP 2017.
    """

    name, function, higher_is_better = "ms-gmsd", "multi_scale_gmsd", False

    def __init__(self, data_range: float = 1.0, scale_weights: tuple[float, ...] | None = None,
                 chromatic: bool = False, alpha: float = 0.5, beta1: float = 0.01, beta2: float = 0.32,
                 beta3: float = 15.0, t: float = 170.0) -> None:
        super().__init__(data_range)
        positive(beta1=beta1, beta2=beta2, beta3=beta3, t=t)
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        self.scale_weights = weights_tuple("scale_weights", scale_weights)
        self.options = dict(chromatic=bool(chromatic), alpha=float(alpha), beta1=float(beta1), beta2=float(beta2),
                            beta3=float(beta3), t=float(t))

    @property
    def needs_rgb(self) -> bool:
        return self.options["chromatic"]

    def minimum_side(self) -> tuple[int, str]:
        levels = 4 if self.scale_weights is None else len(self.scale_weights)
        return 2**levels + 1, f" ({levels} scales)"

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.multi_scale_gmsd(x, y, reduction="none", data_range=self.data_range,
                                    scale_weights=_weights(self.scale_weights, x), **self.options)


class HaarPSI(PiqMetric):
    """Haar wavelet-based perceptual similarity index; higher is better, 1 for identical images.

    Local similarities of Haar wavelet coefficients (luminance, and chroma for RGB), weighted
    by the coarsest scale's magnitude and passed through a logistic function.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        scales: Haar wavelet scales: 3, the paper's; piq 0.8's indexing of the weights (the
            third scale) works for exactly 3, it fails with a shape error for more.
        subsample: halve the images first (2x2 average), as the paper does for viewing distance.
        c: stabilising constant of the similarities (images in [0, 255]).
        alpha: slope of the logistic function.

    References:
        R. Reisenhofer, S. Bosse, G. Kutyniok, T. Wiegand. A Haar Wavelet-Based Perceptual
        Similarity Index for Image Quality Assessment. Signal Processing: Image
        Communication 61:33-43, 2018.
    """

    name, function, higher_is_better = "haarpsi", "haarpsi", True

    def __init__(self, data_range: float = 1.0, scales: int = 3, subsample: bool = True, c: float = 30.0,
                 alpha: float = 4.2) -> None:
        super().__init__(data_range)
        if scales != 3:
            raise ValueError(f"scales must be 3 (piq 0.8 computes HaarPSI with three scales only), got {scales}")
        positive(c=c, alpha=alpha)
        self.options = dict(scales=int(scales), subsample=bool(subsample), c=float(c), alpha=float(alpha))

    def minimum_side(self) -> tuple[int, str]:
        scales = self.options["scales"]
        return 2 ** (scales + 1), f" (the Haar filter of scale {scales})"

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.haarpsi(x, y, reduction="none", data_range=self.data_range, **self.options)


class VIFp(PiqMetric):
    """Visual information fidelity in the pixel domain, VIFp; higher is better, 1 for identical images.

    Not symmetric: B is measured against the reference A (piq's ``vif_p(b, a)``). It can
    exceed 1 when B has more contrast than A. Computed on the luminance, over four scales.

    Args:
        sigma_n_sq: variance of the visual noise of the model (images in [0, 255]).
        data_range: the images' peak value (dfind: 1.0).

    References:
        H. R. Sheikh, A. C. Bovik. Image Information and Visual Quality. IEEE Transactions on
        Image Processing 15(2):430-444, 2006.
    """

    name, function, higher_is_better = "vifp", "vif_p", True

    def __init__(self, sigma_n_sq: float = 2.0, data_range: float = 1.0) -> None:
        super().__init__(data_range)
        positive(sigma_n_sq=sigma_n_sq)
        self.sigma_n_sq = float(sigma_n_sq)

    def minimum_side(self) -> tuple[int, str]:
        return 41, " (four scales of 'valid' Gaussian filtering)"

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.vif_p(x, y, reduction="none", sigma_n_sq=self.sigma_n_sq, data_range=self.data_range)


class VSI(PiqMetric):
    """Visual saliency-induced index, VSI; higher is better, 1 for identical images.

    Similarities of visual saliency (SDSP), gradient magnitude and chroma (LMN colour space),
    weighted by the larger saliency. Needs RGB: grey images are repeated.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        c1, c2, c3: stabilising constants of the saliency, gradient and chroma similarities.
        alpha, beta: exponents of the gradient and chroma terms.
        omega_0, sigma_f: centre frequency and bandwidth of SDSP's log-Gabor filter.
        sigma_d, sigma_c: SDSP's centre and warm-colour priors.

    References:
        L. Zhang, Y. Shen, H. Li. VSI: A Visual Saliency-Induced Index for Perceptual Image
        Quality Assessment. IEEE Transactions on Image Processing 23(10):4270-4281, 2014.
    """

    name, function, higher_is_better, rgb = "vsi", "vsi", True, True

    def __init__(self, data_range: float = 1.0, c1: float = 1.27, c2: float = 386.0, c3: float = 130.0,
                 alpha: float = 0.4, beta: float = 0.02, omega_0: float = 0.021, sigma_f: float = 1.34,
                 sigma_d: float = 145.0, sigma_c: float = 0.001) -> None:
        super().__init__(data_range)
        self.options = dict(c1=float(c1), c2=float(c2), c3=float(c3), alpha=float(alpha), beta=float(beta),
                            omega_0=float(omega_0), sigma_f=float(sigma_f), sigma_d=float(sigma_d),
                            sigma_c=float(sigma_c))
        positive(**self.options)

    def minimum_side(self) -> tuple[int, str]:
        return 2, ""

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.vsi(x, y, reduction="none", data_range=self.data_range, **self.options)


class MDSI(PiqMetric):
    """Mean deviation similarity index, MDSI; lower is better, 0 for identical images.

    Gradient similarity (with the pair's mean as a third image) and chromaticity similarity
    in the LHM colour space, combined, pooled by their deviation. Needs RGB: grey is repeated.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        c1, c2, c3: stabilising constants of the gradient and chromaticity similarities.
        combination: how the two similarities combine, ``sum`` or ``mult``.
        alpha: weight of the gradient similarity in a ``sum``.
        beta, gamma: exponents of the chromaticity and gradient terms in a ``mult``.
        rho, q, o: the Minkowski order, the power applied before pooling, and the pooling power.

    References:
        H. Z. Nafchi, A. Shahkolaei, R. Hedjam, M. Cheriet. Mean Deviation Similarity Index:
        Efficient and Reliable Full-Reference Image Quality Evaluator. IEEE Access
        4:5579-5590, 2016.
    """

    name, function, higher_is_better, rgb = "mdsi", "mdsi", False, True

    def __init__(self, data_range: float = 1.0, c1: float = 140.0, c2: float = 55.0, c3: float = 550.0,
                 combination: str = "sum", alpha: float = 0.6, beta: float = 0.1, gamma: float = 0.2,
                 rho: float = 1.0, q: float = 0.25, o: float = 0.25) -> None:
        super().__init__(data_range)
        if combination not in ("sum", "mult"):
            raise ValueError(f"combination must be sum or mult, got {combination!r}")
        positive(c1=c1, c2=c2, c3=c3, beta=beta, gamma=gamma, rho=rho, q=q, o=o)
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.options = dict(c1=float(c1), c2=float(c2), c3=float(c3), combination=combination, alpha=float(alpha),
                            beta=float(beta), gamma=float(gamma), rho=float(rho), q=float(q), o=float(o))

    def minimum_side(self) -> tuple[int, str]:
        return 2, ""

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.mdsi(x, y, reduction="none", data_range=self.data_range, **self.options)


def _pooled_side(side: int, smaller: int) -> int:
    """A side after piq's averaging of large images (SR-SIM): a ``round(smaller / 256)`` px box."""
    box = max(1, round(smaller / 256))
    padding = box // 2
    if padding:
        side += (box - 1) // 2 + padding
    return side // box


class SRSIM(PiqMetric):
    """Spectral residual based similarity, SR-SIM (or SR-SIMc with ``chromatic``); higher is better.

    Similarity of spectral-residual visual saliency and of Scharr gradient magnitudes,
    weighted by the larger saliency; 1 for identical images. piq scales the saliency maps by
    the minimum and maximum of the whole batch, so one sample's value would depend on the
    others: the stage calls piq once per sample.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        chromatic: SR-SIMc, adding FSIM's I and Q chroma terms (grey images repeated to RGB).
        scale: the images are shrunk by this factor for the saliency map.
        kernel_size: average filter of the log spectrum, in px.
        sigma, gaussian_size: Gaussian blur of the saliency map.

    References:
        L. Zhang, H. Li. SR-SIM: A Fast and High Performance IQA Index Based on Spectral
        Residual. IEEE International Conference on Image Processing (ICIP), 2012.
    """

    name, function, higher_is_better = "sr-sim", "srsim", True

    def __init__(self, data_range: float = 1.0, chromatic: bool = False, scale: float = 0.25, kernel_size: int = 3,
                 sigma: float = 3.8, gaussian_size: int = 10) -> None:
        super().__init__(data_range)
        if not 0 < scale <= 1:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        at_least(1, kernel_size=kernel_size, gaussian_size=gaussian_size)
        positive(sigma=sigma)
        self.options = dict(chromatic=bool(chromatic), scale=float(scale), kernel_size=int(kernel_size),
                            sigma=float(sigma), gaussian_size=int(gaussian_size))

    @property
    def needs_rgb(self) -> bool:
        return self.options["chromatic"]

    def minimum_side(self) -> tuple[int, str]:
        kernel = max(self.options["kernel_size"], self.options["gaussian_size"])
        side = math.ceil(kernel / self.options["scale"])
        return side, f" (scale={self.options['scale']:g} of the side must reach {kernel} px for the saliency filters)"

    def check_size(self, height: int, width: int) -> None:
        kernel = max(self.options["kernel_size"], self.options["gaussian_size"])
        smaller = min(height, width)
        if min(_pooled_side(height, smaller), _pooled_side(width, smaller)) * self.options["scale"] < kernel:
            side, why = self.minimum_side()
            raise ShapeError(f"{self.label} needs images of at least {side}x{side} px{why}, got {width}x{height}")

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return torch.cat([piq.srsim(x[i : i + 1], y[i : i + 1], reduction="none", data_range=self.data_range,
                                    **self.options) for i in range(x.shape[0])])


class DSS(PiqMetric):
    """DCT subband similarity, DSS; higher is better, 1 for identical images.

    The luminance is cut into ``dct_size`` blocks and transformed; each subband's local
    variance similarity is pooled over its worst ``percentile`` of blocks, and the subbands
    are weighted by a Gaussian over frequency.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        dct_size: DCT block size in px.
        sigma_weight: spread of the Gaussian weighting of subbands.
        kernel_size, sigma_similarity: Gaussian window of the local variances.
        percentile: share of the worst blocks kept, in (0, 1].

    References:
        A. Balanov, A. Schwartz, Y. Moshe, N. Peleg. Image Quality Assessment Based on DCT
        Subband Similarity. IEEE International Conference on Image Processing (ICIP), 2015.
    """

    name, function, higher_is_better = "dss", "dss", True

    def __init__(self, data_range: float = 1.0, dct_size: int = 8, sigma_weight: float = 1.55, kernel_size: int = 3,
                 sigma_similarity: float = 1.5, percentile: float = 0.05) -> None:
        super().__init__(data_range)
        at_least(1, dct_size=dct_size, kernel_size=kernel_size)
        positive(sigma_weight=sigma_weight, sigma_similarity=sigma_similarity)
        if not 0 < percentile <= 1:
            raise ValueError(f"percentile must be in (0, 1], got {percentile}")
        self.options = dict(dct_size=int(dct_size), sigma_weight=float(sigma_weight), kernel_size=int(kernel_size),
                            sigma_similarity=float(sigma_similarity), percentile=float(percentile))

    def _enough(self, height: int, width: int) -> bool:
        """piq's conditions: windows no larger than the image, and at least one block kept per subband."""
        dct, kernel = self.options["dct_size"], self.options["kernel_size"]
        blocks = (height // dct) * (width // dct)
        return max(dct, kernel) <= min(height, width) and round(self.options["percentile"] * blocks) >= 1

    def minimum_side(self) -> tuple[int, str]:
        side = max(self.options["dct_size"], self.options["kernel_size"])
        while not self._enough(side, side):
            side += 1
        percent = f"{100 * self.options['percentile']:g}%"
        return side, f" (the worst {percent} of its {self.options['dct_size']}x{self.options['dct_size']} blocks " \
                     f"must be at least one)"

    def check_size(self, height: int, width: int) -> None:
        if not self._enough(height, width):
            side, why = self.minimum_side()
            raise ShapeError(f"{self.label} needs images of at least {side}x{side} px{why}, got {width}x{height}")

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.dss(x, y, reduction="none", data_range=self.data_range, **self.options)


class IWSSIM(PiqMetric):
    """Information content weighted SSIM, IW-SSIM; higher is better, 1 for identical images.

    SSIM's contrast-structure on a Laplacian pyramid of the luminance, each scale pooled with
    weights from the local information content, the scales combined as in MS-SSIM.

    Args:
        data_range: the images' peak value (dfind: 1.0).
        kernel_size, kernel_sigma: SSIM's Gaussian window (odd size).
        k1, k2: SSIM's stabilisers.
        parent: use the parent scale in the information content model.
        blk_size: odd window of the information content, smaller than ``kernel_size``.
        sigma_nsq: noise variance of the distortion model.
        scale_weights: one weight per scale; default (None): MS-SSIM's five, 0.0448, 0.2856,
            0.3001, 0.2363, 0.1333.

    References:
        Z. Wang, Q. Li. Information Content Weighting for Perceptual Image Quality
        Assessment. IEEE Transactions on Image Processing 20(5):1185-1198, 2011.
    """

    name, function, higher_is_better = "iw-ssim", "information_weighted_ssim", True

    def __init__(self, data_range: float = 1.0, kernel_size: int = 11, kernel_sigma: float = 1.5, k1: float = 0.01,
                 k2: float = 0.03, parent: bool = True, blk_size: int = 3, sigma_nsq: float = 0.4,
                 scale_weights: tuple[float, ...] | None = None) -> None:
        super().__init__(data_range)
        for label, size in (("kernel_size", kernel_size), ("blk_size", blk_size)):
            if size < 1 or size % 2 != 1:
                raise ValueError(f"{label} must be a positive odd number, got {size}")
        if (blk_size - 1) // 2 >= math.ceil((kernel_size - 1) / 2):
            raise ValueError(f"blk_size must be smaller than kernel_size, got {blk_size} and {kernel_size}")
        positive(kernel_sigma=kernel_sigma, k1=k1, k2=k2, sigma_nsq=sigma_nsq)
        self.scale_weights = weights_tuple("scale_weights", scale_weights)
        self.options = dict(kernel_size=int(kernel_size), kernel_sigma=float(kernel_sigma), k1=float(k1),
                            k2=float(k2), parent=bool(parent), blk_size=int(blk_size), sigma_nsq=float(sigma_nsq))

    def minimum_side(self) -> tuple[int, str]:
        levels = 5 if self.scale_weights is None else len(self.scale_weights)
        side = (self.options["kernel_size"] - 1) * 2 ** (levels - 1) + 1
        return side, f" ({levels} scales of a {self.options['kernel_size']} px window)"

    def compute(self, x: Tensor, y: Tensor) -> Tensor:
        import piq

        return piq.information_weighted_ssim(x, y, reduction="none", data_range=self.data_range,
                                             scale_weights=_weights(self.scale_weights, x), **self.options)


__all__ = ["DSS", "FSIM", "GMSD", "IWSSIM", "MDSI", "MSGMSD", "SRSIM", "VIFp", "VSI", "HaarPSI"]
