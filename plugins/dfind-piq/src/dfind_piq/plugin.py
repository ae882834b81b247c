"""Entry-point module: declares piq's full-reference metrics as dfind metric stages.

Records only, no torch or piq import: ``dfind --list-plugins`` stays fast. Each record's
parameters are piq's keyword arguments with piq's defaults, minus ``reduction`` (always
``'none'``: one value per sample) plus, for the learned metrics, the files their weights come
from. Summaries end with the paper; the stage classes' docstrings give the full reference.
"""

from __future__ import annotations

from collections.abc import Iterator

from dfcore import Param, StageSpec, hookimpl

_HANDCRAFTED = "dfind_piq.handcrafted"
_LEARNED = "dfind_piq.learned"

_DATA_RANGE = Param("data_range", 1.0, "the images' peak value; inputs must lie in [0, data_range] (dfind: [0, 1])")
_SCALE_WEIGHTS = "one weight per scale, e.g. [0.2,0.3,0.5] (their number sets the scales); none: the paper's"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_NORMALISATION = (
    Param("mean", _IMAGENET_MEAN, "input normalisation: mean of R, G, B (ImageNet's)"),
    Param("std", _IMAGENET_STD, "input normalisation: standard deviation of R, G, B (ImageNet's)"),
)
_DOWNLOAD = Param("download", True,
                  "download missing weights into torch hub's cache (where piq and torchvision put them)")
_DISTANCE = Param("distance", "mse", "distance between features", choices=("mse", "mae"))


def _weights(filename: str) -> Param:
    return Param("weights", None, f"piq's trained weights file ({filename}); default: torch hub's cache")


def _backbone(what: str) -> Param:
    return Param("backbone", None, f"torchvision's {what} weights file; default: torch hub's cache")


def _perceptual() -> tuple[Param, ...]:
    return (
        Param("feature_extractor", "vgg16", "VGG network with torchvision's ImageNet weights",
              choices=("vgg16", "vgg19")),
        Param("layers", ("relu3_3",), "layers compared, piq's names, e.g. ['relu2_2','relu3_3']"),
        Param("layer_weights", (1.0,), "one weight per layer (piq's `weights` argument)"),
        Param("replace_pooling", False, "average pooling instead of max pooling"),
        _DISTANCE,
        *_NORMALISATION,
        Param("normalize_features", False, "unit-normalise features across channels first"),
        _backbone("vgg16 or vgg19 (vgg16-397923af.pth, vgg19-dcbb9e9d.pth)"),
        _DOWNLOAD,
    )


@hookimpl
def dfind_metrics() -> Iterator[StageSpec]:
    yield StageSpec(
        "fsim", f"{_HANDCRAFTED}:FSIM",
        "FSIM/FSIMc: phase congruency and gradient similarity (Zhang et al., IEEE TIP 2011).",
        params=(
            _DATA_RANGE,
            Param("chromatic", True, "FSIMc: add the I and Q chroma (grey images are repeated to RGB)"),
            Param("scales", 4, "log-Gabor filter scales"),
            Param("orientations", 4, "log-Gabor filter orientations"),
            Param("min_length", 6, "wavelength of the smallest filter, px"),
            Param("mult", 2, "scale factor between filters"),
            Param("sigma_f", 0.55, "log-Gabor bandwidth (ratio to the centre frequency)"),
            Param("delta_theta", 1.2, "angular spacing over the angular spread of the filters"),
            Param("k", 2.0, "noise threshold, in noise standard deviations"),
            Param("noise_gradient", False, "differentiate through the noise threshold (its median: a one-pixel "
                                           "spike per orientation); off: held fixed, the value is the same"),
        ),
        higher_is_better=True,
    )
    yield StageSpec(
        "gmsd", f"{_HANDCRAFTED}:GMSD",
        "GMSD: deviation of gradient magnitude similarity (Xue et al., IEEE TIP 2014).",
        params=(_DATA_RANGE, Param("t", 170 / 255**2, "stabilising constant, for [0, 1] images")),
        higher_is_better=False,
    )
    yield StageSpec(
        "ms-gmsd", f"{_HANDCRAFTED}:MSGMSD",
        "MS-GMSD/MS-GMSDc: GMSD over four scales (Zhang et al., ICASSP 2017).",
        params=(
            _DATA_RANGE,
            Param("scale_weights", None, _SCALE_WEIGHTS),
            Param("chromatic", False, "MS-GMSDc: add the chroma error (grey images are repeated to RGB)"),
            Param("alpha", 0.5, "masking coefficient, in [0, 1)"),
            Param("beta1", 0.01, "weight of the chroma error (MS-GMSDc)"),
            Param("beta2", 0.32, "chroma blending constant (MS-GMSDc)"),
            Param("beta3", 15.0, "chroma blending slope (MS-GMSDc)"),
            Param("t", 170.0, "stabilising constant, for [0, 255] images"),
        ),
        higher_is_better=False,
    )
    yield StageSpec(
        "haarpsi", f"{_HANDCRAFTED}:HaarPSI",
        "HaarPSI: Haar wavelet perceptual similarity (Reisenhofer et al., Signal Process. Image Commun. 2018).",
        params=(
            _DATA_RANGE,
            Param("scales", 3, "Haar wavelet scales; piq 0.8 computes 3 only (its index of the weights assumes 3)",
                  choices=(3,)),
            Param("subsample", True, "halve the images first (2x2 average), as the paper does"),
            Param("c", 30.0, "stabilising constant of the similarities"),
            Param("alpha", 4.2, "slope of the logistic function"),
        ),
        higher_is_better=True,
    )
    yield StageSpec(
        "vifp", f"{_HANDCRAFTED}:VIFp",
        "VIFp: visual information fidelity, pixel domain; B against reference A (Sheikh & Bovik, IEEE TIP 2006).",
        params=(Param("sigma_n_sq", 2.0, "variance of the visual noise of the model"), _DATA_RANGE),
        higher_is_better=True,
    )
    yield StageSpec(
        "vsi", f"{_HANDCRAFTED}:VSI",
        "VSI: visual saliency-induced index (Zhang et al., IEEE TIP 2014).",
        params=(
            _DATA_RANGE,
            Param("c1", 1.27, "stabilising constant of the saliency similarity"),
            Param("c2", 386.0, "stabilising constant of the gradient similarity"),
            Param("c3", 130.0, "stabilising constant of the chroma similarity"),
            Param("alpha", 0.4, "exponent of the gradient term"),
            Param("beta", 0.02, "exponent of the chroma term"),
            Param("omega_0", 0.021, "centre frequency of the saliency (SDSP) log-Gabor filter"),
            Param("sigma_f", 1.34, "bandwidth of the SDSP log-Gabor filter"),
            Param("sigma_d", 145.0, "SDSP's centre prior"),
            Param("sigma_c", 0.001, "SDSP's warm-colour prior"),
        ),
        higher_is_better=True,
    )
    yield StageSpec(
        "mdsi", f"{_HANDCRAFTED}:MDSI",
        "MDSI: mean deviation similarity index; B against reference A (Nafchi et al., IEEE Access 2016).",
        params=(
            _DATA_RANGE,
            Param("c1", 140.0, "stabilising constant of the gradient similarity"),
            Param("c2", 55.0, "stabilising constant of the similarities to the mean image"),
            Param("c3", 550.0, "stabilising constant of the chromaticity similarity"),
            Param("combination", "sum", "how gradient and chromaticity similarities combine", choices=("sum", "mult")),
            Param("alpha", 0.6, "weight of the gradient similarity (combination=sum), in [0, 1]"),
            Param("beta", 0.1, "exponent of the chromaticity term (combination=mult)"),
            Param("gamma", 0.2, "exponent of the gradient term (combination=mult)"),
            Param("rho", 1.0, "order of the Minkowski pooling"),
            Param("q", 0.25, "power applied before pooling"),
            Param("o", 0.25, "power of the pooled deviation"),
        ),
        higher_is_better=False,
    )
    yield StageSpec(
        "sr-sim", f"{_HANDCRAFTED}:SRSIM",
        "SR-SIM/SR-SIMc: spectral residual saliency and gradient similarity (Zhang & Li, ICIP 2012).",
        params=(
            _DATA_RANGE,
            Param("chromatic", False, "SR-SIMc: add the I and Q chroma (grey images are repeated to RGB)"),
            Param("scale", 0.25, "shrink factor for the saliency map, in (0, 1]"),
            Param("kernel_size", 3, "average filter of the log spectrum, px"),
            Param("sigma", 3.8, "Gaussian blur of the saliency map, px"),
            Param("gaussian_size", 10, "size of that Gaussian, px"),
        ),
        higher_is_better=True,
    )
    yield StageSpec(
        "dss", f"{_HANDCRAFTED}:DSS",
        "DSS: DCT subband similarity (Balanov et al., ICIP 2015).",
        params=(
            _DATA_RANGE,
            Param("dct_size", 8, "DCT block size, px"),
            Param("sigma_weight", 1.55, "spread of the Gaussian weighting of subbands"),
            Param("kernel_size", 3, "Gaussian window of the local variances, px"),
            Param("sigma_similarity", 1.5, "sigma of that window"),
            Param("percentile", 0.05, "share of the worst blocks kept, in (0, 1]"),
        ),
        higher_is_better=True,
    )
    yield StageSpec(
        "iw-ssim", f"{_HANDCRAFTED}:IWSSIM",
        "IW-SSIM: information content weighted multi-scale SSIM (Wang & Li, IEEE TIP 2011); images >= 161 px.",
        params=(
            _DATA_RANGE,
            Param("kernel_size", 11, "SSIM's Gaussian window, odd, px"),
            Param("kernel_sigma", 1.5, "sigma of that window"),
            Param("k1", 0.01, "SSIM's luminance stabiliser"),
            Param("k2", 0.03, "SSIM's contrast stabiliser"),
            Param("parent", True, "use the parent scale in the information content model"),
            Param("blk_size", 3, "window of the information content, odd, smaller than kernel_size"),
            Param("sigma_nsq", 0.4, "noise variance of the distortion model"),
            Param("scale_weights", None, _SCALE_WEIGHTS),
        ),
        higher_is_better=True,
    )
    yield StageSpec(
        "dists", f"{_LEARNED}:DISTS",
        "DISTS as a distance, 1 - similarity: VGG16 structure and texture (Ding et al., IEEE TPAMI 2022).",
        params=(*_NORMALISATION, _weights("dists_weights.pt"), _backbone("vgg16 (vgg16-397923af.pth)"), _DOWNLOAD),
        higher_is_better=False,
    )
    yield StageSpec(
        "lpips-vgg", f"{_LEARNED}:LPIPSVGG",
        "LPIPS on VGG16 with piq's weights and options (Zhang et al., CVPR 2018).",
        params=(
            Param("replace_pooling", False, "average pooling instead of max pooling"),
            _DISTANCE,
            *_NORMALISATION,
            _weights("lpips_weights.pt, or the lpips package's vgg.pth"),
            _backbone("vgg16 (vgg16-397923af.pth)"),
            _DOWNLOAD,
        ),
        higher_is_better=False,
    )
    yield StageSpec(
        "pieapp", f"{_LEARNED}:PieAPP",
        "PieAPP: learned perceptual error of B against A, 64 px patches (Prashnani et al., CVPR 2018).",
        params=(_DATA_RANGE, Param("stride", 27, "step between 64x64 patches, px"), _weights("PieAPPv0.1.pth"),
                _DOWNLOAD),
        higher_is_better=False,
    )
    yield StageSpec(
        "content", f"{_LEARNED}:Content",
        "Content loss: distance of VGG features (Gatys et al., CVPR 2016; Johnson et al., ECCV 2016).",
        params=_perceptual(),
        higher_is_better=False,
    )
    yield StageSpec(
        "style", f"{_LEARNED}:Style",
        "Style loss: distance of Gram matrices of VGG features (Gatys et al., CVPR 2016).",
        params=_perceptual(),
        higher_is_better=False,
    )
