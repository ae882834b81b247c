"""dfind's extra stages, registered through the ``dfind`` entry-point group like any plugin.

This module only declares records; each stage's code lives in the module its target names
and is imported when the stage is first built. ``docs/extra.md`` describes every stage.
"""

from __future__ import annotations

from collections.abc import Iterator

from dfcore import Param, StageSpec, hookimpl

_PKG = "dfplugins_extra"
_REGION_PARAMS = (
    Param("min_area", 16, "drop regions of fewer pixels"),
    Param("top_k", 0, "keep only the k regions with the highest peak (0: all)"),
    Param("connectivity", 8, "8: diagonal neighbours connect; 4: they do not", choices=(4, 8)),
)


@hookimpl
def dfind_preprocessors() -> Iterator[StageSpec]:
    yield StageSpec(
        "wavelet", f"{_PKG}.preprocessors.wavelet:Wavelet",
        "Keep chosen wavelet subbands (pywt filters, torch transform), reconstructed on the input grid.",
        params=(
            Param("wavelet", "db2", "discrete pywt wavelet: haar, db2, sym4, bior2.2, ..."),
            Param("level", 2, "decomposition levels, >= 1"),
            Param("bands", "detail", "detail, approx, all, detailK, or subbands a, hK, vK, dK joined with + (h1+v1)"),
            Param("mode", "symmetric", "boundary handling, as in pywt",
                  choices=("symmetric", "reflect", "periodic", "zero", "constant", "periodization")),
            Param("offset", None, "added to the result; default 0.5 without the approximation band, else 0"),
        ),
    )


@hookimpl
def dfind_metrics() -> Iterator[StageSpec]:
    smooth = (Param("smooth", 1.0, "added to numerator and denominator, > 0"),
              Param("squared", False, "sum squares in the denominator (V-Net's form): 1 for any two identical "
                                      "inputs, not only binary masks"))
    yield StageSpec("dice", f"{_PKG}.metrics.overlap:Dice",
                    "Soft Dice overlap of images or masks in [0, 1].", params=smooth, higher_is_better=True)
    yield StageSpec("jaccard", f"{_PKG}.metrics.overlap:Jaccard",
                    "Soft Jaccard index (IoU) of images or masks in [0, 1].", params=smooth, higher_is_better=True)
    yield StageSpec(
        "filterbank", f"{_PKG}.metrics.filterbank:FilterBank",
        "Distance of normalised multi-scale Gabor energies; no weights needed, layers for gradcam.",
        params=(
            Param("scales", 4, "pyramid levels (layers scale1..scaleN), >= 1"),
            Param("orientations", 4, "filter directions per level, >= 1"),
            Param("norm", 0.05, "divisive normalisation constant, > 0"),
        ),
        higher_is_better=False,
        layers=("scale1", "scale2", "scale3", "scale4"),
    )


@hookimpl
def dfind_strategies() -> Iterator[StageSpec]:
    yield StageSpec(
        "gradcam", f"{_PKG}.strategies.gradcam:GradCAM",
        "Grad-CAM of the metric at one of its feature layers (metrics listing layers).",
        params=(
            Param("layer", None, "feature layer name or index (default: the first, finest one)"),
            Param("reference", "both", "the image held fixed (the CAM is of the other); both: sum of the two CAMs",
                  choices=("a", "b", "both")),
            Param("weighting", "hirescam", "hirescam: element-wise, on the change (chosen on the quality "
                  "benchmark); gradcam: channel means of the gradient (the paper), follows texture",
                  choices=("gradcam", "hirescam")),
        ),
    )


@hookimpl
def dfind_postprocessors() -> Iterator[StageSpec]:
    yield StageSpec(
        "clip", f"{_PKG}.postprocessors.threshold:PercentileClip",
        "Clip the map at the p-th percentile of |map| and rescale (Imagen's dynamic thresholding).",
        params=(Param("percentile", 99.5, "p in (0, 100]"),
                Param("rescale", True, "divide by the clipping value (maps in [0, 1])")),
    )
    yield StageSpec("otsu", f"{_PKG}.postprocessors.threshold:Otsu",
                    "Mask and regions above Otsu's threshold of |map|.", params=_REGION_PARAMS)
    yield StageSpec("percentile", f"{_PKG}.postprocessors.threshold:PercentileThreshold",
                    "Mask and regions above the p-th percentile of |map|.",
                    params=(Param("p", 99.0, "percentile in [0, 100]"), *_REGION_PARAMS))
    yield StageSpec("mean-std", f"{_PKG}.postprocessors.threshold:MeanStd",
                    "Mask and regions above mean + k * std of |map|.",
                    params=(Param("k", 3.0, "standard deviations above the mean"), *_REGION_PARAMS))


@hookimpl(specname="dfind_preprocessors")
def alignment_preprocessors() -> Iterator[StageSpec]:
    """``align``: the pairwise preprocessor that registers B onto A (docs/alignment.md)."""
    yield StageSpec(
        "align", "dfplugins_extra.preprocessors.align:Align",
        "Register B onto A (translation to homography, or auto); pixels without a counterpart are not compared.",
        params=(
            Param("model", "auto", "transform of B onto A; auto: the simplest that fits",
                  choices=("auto", "translation", "similarity", "affine", "homography")),
            Param("interpolation", "bicubic", "how B is resampled on A's grid", choices=("bicubic", "bilinear")),
            Param("max_size", 512, "longer side (px) of the grey copies the transform is refined on; 0: full size"),
            Param("iterations", 100, "most ECC iterations per fit"),
            Param("max_shift", None, "refuse estimates that move a pixel further than this (px); none: no limit"),
            Param("on_failure", "error", "error, or identity: compare unaligned and say why in the info",
                  choices=("error", "identity")),
        ),
    )


@hookimpl(specname="dfind_strategies")
def attribution_strategies() -> Iterator[StageSpec]:
    """``integrated``: integrated gradients, a map whose sum is the score's gap (docs/research.md)."""
    yield StageSpec(
        "integrated", "dfplugins_extra.strategies.integrated:IntegratedGradients",
        "Integrated gradients of the metric from the reference image to the other: the map adds up to the score.",
        params=(
            Param("steps", 32, "Gauss-Legendre nodes on the path, >= 1"),
            Param("batch_size", None, "path points per forward/backward pass; none: chosen from the image size"),
            Param("reference", "a", "the image held fixed, where the path starts; the other is attributed",
                  choices=("a", "b")),
            Param("signed", True, "keep the sign (positive: the change added difference); false: absolute value"),
        ),
    )
