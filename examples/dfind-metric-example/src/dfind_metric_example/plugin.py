"""Entry-point module: declares the stages, imports nothing heavy."""

from __future__ import annotations

from collections.abc import Iterator

from dfcore import Param, PresetSpec, StageSpec, hookimpl


@hookimpl
def dfind_metrics() -> Iterator[StageSpec]:
    yield StageSpec(
        "charbonnier",
        target="dfind_metric_example.charbonnier:Charbonnier",
        summary="Charbonnier loss: mean of sqrt((x - y)^2 + eps^2), a smooth L1.",
        params=(Param("eps", 1e-3, "smoothing constant; > 0"),),
        higher_is_better=False,
    )


@hookimpl
def dfind_preprocessors() -> Iterator[StageSpec]:
    yield StageSpec(
        "sobel",
        target="dfind_metric_example.sobel:Sobel",
        summary="Sobel gradient magnitude of each channel, scaled to [0, 1].",
    )


@hookimpl
def dfind_presets() -> Iterator[PresetSpec]:
    yield PresetSpec(
        "edges",
        "Where the edges differ: Charbonnier on Sobel magnitudes, gradient map.",
        {"preprocessor": "metric-example.sobel", "metric": "metric-example.charbonnier", "strategy": "gradient"},
    )
