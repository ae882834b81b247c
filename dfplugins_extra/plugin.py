"""dfind's extra stages, registered through the ``dfind`` entry-point group like any plugin."""

from __future__ import annotations

from collections.abc import Iterator

from dfcore import Param, StageSpec, hookimpl


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
