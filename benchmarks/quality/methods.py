"""The maps compared by the quality benchmark: the peers and dfind's pipelines.

Every method turns a pair of HxWx3 uint8 images into an HxW float map, larger = more
different, or into a :class:`Found`: the map and the regions the method reports itself. A
method that reports no regions is scored on those a region rule finds in its map
(:mod:`benchmarks.quality.regions`); ``Method.regions`` names the rule that is its native
output, when it has one. The peers are called as their users call them, with their
documented defaults:

============== ==================================================================================
abs-diff       ``|a - b|`` averaged over channels (numpy)
ssim-skimage   ``1 - SSIM map`` of ``skimage.metrics.structural_similarity`` (defaults, 7x7 uniform
               window, ``data_range=1``, ``channel_axis=2``), averaged over channels
flip           NVIDIA's FLIP error map (``flip-evaluator``, LDR, default 67 pixels per degree)
pixelmatch     the ``pixelmatch`` port's diff mask (default threshold 0.1, anti-aliasing
               detection on): 1 where it reports a difference, 0 elsewhere; its regions are
               the mask's connected components (rule ``components``)
original       the research script this project started from: the autograd gradient of
               ``pytorch_msssim.ssim(a, b)`` with respect to b, with pytorch_msssim's default
               ``data_range=255`` on [0, 1] images, absolute value averaged over channels
ssim-grad      the same with the correct ``data_range=1``
============== ==================================================================================

dfind pipelines are named ``dfind:<preset>`` (``dfind:default``, ``dfind:sharp``...) or given
as stage references (:func:`dfind_method`); a pipeline whose postprocessors find regions
(``-q otsu``) reports them, the others get the run's region rule -- with the pixels the
pipeline compared, its strategy's support and the images the map was made from, as its own
postprocessors would get them (:class:`Found`), so that ``MAP@RULE`` reports what the pipeline ending in ``RULE`` reports.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.quality.regions import from_dfind
from benchmarks.quality.scores import Reported


@dataclass
class Found:
    """A map, the regions a method reported in it (strongest first; ``None``: it reports none),
    and what the dfind pipeline that made it knows of it, which a region rule is given as the
    pipeline's own postprocessors are: the pixels compared (``valid``, HxW bool) and the
    strategy's ``support`` (HxW), each ``None`` when the pipeline has none; and the two images
    the map was made from (HxWxC float in [0, 1], on the map's grid)."""

    map: np.ndarray
    regions: list[Reported] | None = None
    valid: np.ndarray | None = None
    support: np.ndarray | None = None
    images: tuple[np.ndarray, np.ndarray] | None = None


def map_of(output: np.ndarray | Found) -> np.ndarray:
    """A method's map as float64, whether it came alone or in a :class:`Found`."""
    return np.asarray(output.map if isinstance(output, Found) else output, dtype=np.float64)


def known(output: np.ndarray | Found, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """What a region rule is given beside the map: ``valid``, ``support`` and the ``images`` it was
    made from (module docstring); for a peer's map, the pair ``a``, ``b`` (HxWxC uint8) themselves."""
    if isinstance(output, Found):
        images = output.images if output.images is not None else (_float(a), _float(b))
        return {"valid": output.valid, "support": output.support, "images": images}
    return {"valid": None, "support": None, "images": (_float(a), _float(b))}


MapFn = Callable[[np.ndarray, np.ndarray], np.ndarray | Found]


@dataclass
class Method:
    """A named way of making a map; ``requires`` lists the modules it needs.

    ``regions`` names the region rule that gives the method's own regions (a mask-only
    method's components); ``None``: the method reports regions itself or gets the run's rule.
    """

    name: str
    summary: str
    build: Callable[[], MapFn]
    requires: tuple[str, ...] = ()
    regions: str | None = None

    def missing(self) -> list[str]:
        return [module for module in self.requires if importlib.util.find_spec(module) is None]


def _float(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def abs_diff() -> MapFn:
    return lambda a, b: np.abs(_float(a) - _float(b)).mean(2)


def ssim_skimage() -> MapFn:
    from skimage.metrics import structural_similarity

    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        _, full = structural_similarity(_float(a), _float(b), data_range=1.0, channel_axis=2, full=True)
        return 1.0 - full.mean(2)

    return run


def flip() -> MapFn:
    import flip_evaluator

    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        error, _, _ = flip_evaluator.evaluate(_float(a), _float(b), "LDR", applyMagma=False, computeMeanError=False)
        return np.asarray(error, dtype=np.float32).reshape(a.shape[:2])

    return run


def pixelmatch() -> MapFn:
    from PIL import Image
    from pixelmatch.contrib.PIL import pixelmatch as match

    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        first, second = Image.fromarray(a), Image.fromarray(b)
        out = Image.new("RGBA", first.size)
        match(first, second, out, diff_mask=True)
        return (np.asarray(out)[..., 3] > 0).astype(np.float32)

    return run


def ssim_gradient(data_range: float | None) -> Callable[[], MapFn]:
    """|d SSIM / d b| from pytorch_msssim; ``data_range=None`` keeps its default (255)."""

    def build() -> MapFn:
        import torch
        from pytorch_msssim import ssim

        def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(_float(a)).permute(2, 0, 1)[None]
            y = torch.from_numpy(_float(b)).permute(2, 0, 1)[None].requires_grad_(True)
            value = ssim(x, y) if data_range is None else ssim(x, y, data_range=data_range)
            (grad,) = torch.autograd.grad(value, y)
            return grad.abs().mean(1)[0].numpy()

        return run

    return build


def dfind_method(preset: str | None = None, **stages: Any) -> Callable[[], MapFn]:
    """A dfind pipeline on the CPU: a preset, or stages as :class:`dfcore.Finder` takes them."""

    def build() -> MapFn:
        import torch

        from dfcore import Finder

        finder = Finder(preset=preset, device="cpu", **stages)

        def run(a: np.ndarray, b: np.ndarray) -> Found:
            x = torch.from_numpy(_float(a)).permute(2, 0, 1)[None]
            y = torch.from_numpy(_float(b)).permute(2, 0, 1)[None]
            computed = finder.compute(x, y)
            output = computed.output
            return Found(output.map[0, 0].numpy(),
                         from_dfind(output.regions[0]) if output.regions is not None else None,
                         output.valid[0, 0].numpy() if output.valid is not None else None,
                         output.support[0, 0].numpy() if output.support is not None else None,
                         tuple(image[0].permute(1, 2, 0).numpy() for image in (computed.a, computed.b)))

        return run

    return build


PEERS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("abs-diff", "plain |a - b|", abs_diff),
        Method("ssim-skimage", "1 - SSIM map, scikit-image", ssim_skimage, ("skimage",)),
        Method("flip", "FLIP error map (flip-evaluator)", flip, ("flip_evaluator",)),
        Method("pixelmatch", "pixelmatch diff mask", pixelmatch, ("pixelmatch",), regions="components"),
        Method("original", "original script: gradient of SSIM, data_range=255", ssim_gradient(None),
               ("pytorch_msssim",)),
        Method("ssim-grad", "gradient of SSIM, data_range=1", ssim_gradient(1.0), ("pytorch_msssim",)),
    )
}

#: The dfind presets run by default, next to the peers.
DFIND_PRESETS = ("default", "sharp", "robust")


def dfind_presets(names: tuple[str, ...] = DFIND_PRESETS) -> dict[str, Method]:
    return {f"dfind:{n}": Method(f"dfind:{n}", f"dfind preset {n}", dfind_method(preset=n), ("dfcore",))
            for n in names}


def all_methods(extra: Mapping[str, Method] | None = None) -> dict[str, Method]:
    """The peers, dfind's presets and any ``extra`` methods, in table order."""
    return {**PEERS, **dfind_presets(), **(extra or {})}
