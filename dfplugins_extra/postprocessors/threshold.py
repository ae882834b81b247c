"""Dynamic thresholding of maps: percentile clipping, and binarisation into a mask and regions.

``clip`` is the "dynamic thresholding" of Imagen (Saharia et al., 2022) applied to maps: the
map is clipped at the p-th percentile ``s`` of ``|map|`` and divided by ``s``, so a few
extreme gradients no longer set the colour scale and wash out the rest of the picture.

``otsu``, ``percentile`` and ``mean-std`` binarise ``|map|`` at a threshold chosen from the
map itself, one per sample, and find the connected regions of the result:

* ``otsu``: the threshold that maximises the between-class variance of a 256-bin histogram
  (Otsu, 1979; as ``skimage.filters.threshold_otsu``): good when changes form a distinct mode.
* ``percentile``: the p-th percentile: marks a fixed share of the pixels.
* ``mean-std``: ``mean + k * std``: marks values that stand out from the map's spread.

They are separate stages because each has its own parameter (``p``, ``k``) and none of the
others'; they share the region parameters. A pixel is marked when its value is strictly above
the threshold, so an all-zero map (identical images) has no regions. Only pixels that were
compared count (``StageOutput.valid``): the statistics ignore the others and the mask never
covers them. The mask holds the kept regions only (after ``min_area`` and ``top_k``); the map
passes through unchanged. Thresholds are computed and the mask is kept on the map's device;
the regions are labelled on the host (see :mod:`dfcore.ops.regions`).

References:
    Saharia et al. Photorealistic text-to-image diffusion models with deep language
    understanding (Imagen). NeurIPS 2022, section 2.3.
    Otsu. A threshold selection method from gray-level histograms. IEEE SMC 9(1), 1979.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dfcore.contracts import StageOutput
from dfcore.ops.regions import batch_regions

OTSU_BINS = 256


def percentile(values: Tensor, p: float) -> Tensor:
    """The p-th percentile (0..100) of a 1-D tensor, with numpy's default linear interpolation.

    Uses ``kthvalue`` (no size limit, unlike ``torch.quantile``); stays on the device.
    """
    n = values.numel()
    if n == 0:
        raise ValueError("percentile of an empty set of values")
    rank = (n - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, n - 1)
    below = values.kthvalue(low + 1).values
    if high == low:
        return below
    above = values.kthvalue(high + 1).values
    return below + (above - below) * (rank - low)


def otsu_threshold(values: Tensor, bins: int = OTSU_BINS) -> Tensor:
    """Otsu's threshold of a 1-D tensor, as ``skimage.filters.threshold_otsu(values, nbins=bins)``.

    Values strictly above the returned threshold are the foreground. A constant input returns
    its value. The histogram is made on the values' device; the 256 counts are then scored on
    the host in float64 (some devices have no float64).
    """
    low, high = float(values.min()), float(values.max())
    if low == high:
        return values.new_tensor(low)
    hist = torch.histc(values, bins=bins, min=low, max=high).cpu().double()
    edges = torch.linspace(low, high, bins + 1, dtype=torch.float64)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight1 = hist.cumsum(0)
    weight2 = hist.flip(0).cumsum(0).flip(0)
    mean1 = (hist * centres).cumsum(0) / weight1.clamp_min(1e-300)
    mean2 = ((hist * centres).flip(0).cumsum(0) / weight2.flip(0).clamp_min(1e-300)).flip(0)
    between = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return values.new_tensor(float(centres[between.argmax()]))


def _sample_values(magnitude: Tensor, valid: Tensor | None, index: int) -> Tensor:
    values = magnitude[index].flatten()
    if valid is not None:
        values = values[valid[index].flatten()]
    return values


class PercentileClip:
    """Clip ``|map|`` at its p-th percentile and divide by it (``clip``).

    Args:
        percentile: p in (0, 100].
        rescale: divide by the clipping value, so maps lie in [0, 1] ([-1, 1] if signed).

    When the percentile is 0 (most of the map is zero), the map's maximum is used instead, so
    a sparse map is rescaled rather than erased.
    """

    def __init__(self, percentile: float = 99.5, rescale: bool = True) -> None:
        if not 0.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        self.percentile, self.rescale = float(percentile), bool(rescale)

    def __call__(self, out: StageOutput) -> StageOutput:
        magnitude = out.map.abs()
        limits, infos = [], []
        for index in range(out.map.shape[0]):
            values = _sample_values(magnitude, out.valid, index)
            limit = percentile(values, self.percentile) if values.numel() else magnitude.new_zeros(())
            if not bool(limit > 0) and values.numel():
                limit = values.max()
            limits.append(limit)
            infos.append({"clip": float(limit)})
        limit = torch.stack(limits).view(-1, 1, 1, 1)
        clipped = torch.maximum(torch.minimum(out.map, limit), -limit)
        if self.rescale:
            clipped = torch.where(limit > 0, clipped / limit.clamp_min(torch.finfo(clipped.dtype).tiny), clipped)
        return out.replace(map=clipped, info=infos)

    def conventions(self) -> dict[str, object]:
        return {"percentile": self.percentile, "rescale": self.rescale, "of": "|map| over compared pixels"}


class Binarize:
    """Base of the binarising stages: a threshold per sample, then the regions above it.

    Args:
        min_area: regions of fewer pixels are dropped.
        top_k: keep only the ``top_k`` regions with the highest peak (0: all).
        connectivity: 8 (diagonal neighbours connect) or 4.
    """

    method = ""

    def __init__(self, min_area: int = 16, top_k: int = 0, connectivity: int = 8) -> None:
        for name, value, least in (("min_area", min_area, 1), ("top_k", top_k, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        if connectivity not in (4, 8):
            raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
        self.min_area, self.top_k, self.connectivity = min_area, top_k, connectivity

    def threshold(self, values: Tensor) -> Tensor:
        """The threshold for one sample's compared values (1-D, non-negative)."""
        raise NotImplementedError

    def parameters(self) -> dict[str, Any]:
        """The method's own parameters, for the record."""
        return {}

    def __call__(self, out: StageOutput) -> StageOutput:
        magnitude = out.map.detach().abs()
        thresholds = []
        for index in range(magnitude.shape[0]):
            values = _sample_values(magnitude, out.valid, index)
            thresholds.append(self.threshold(values) if values.numel() else magnitude.new_full((), float("inf")))
        limit = torch.stack(thresholds).view(-1, 1, 1, 1).to(magnitude.dtype)
        mask = magnitude > limit
        if out.valid is not None:
            mask = mask & out.valid
        regions, mask = batch_regions(mask, magnitude, self.connectivity, self.min_area, self.top_k)
        infos = [{"method": self.method, "threshold": float(t), "regions": len(r)} for t, r in zip(thresholds, regions)]
        return out.replace(mask=mask, regions=regions, info=infos)

    def conventions(self) -> dict[str, object]:
        return {
            "method": self.method,
            **self.parameters(),
            "rule": "|map| > threshold, over compared pixels",
            "min_area": self.min_area,
            "top_k": self.top_k,
            "connectivity": self.connectivity,
            "regions_sorted_by": "peak, then area",
        }


class Otsu(Binarize):
    """Binarise at Otsu's threshold of ``|map|`` (``otsu``)."""

    method = "otsu"

    def threshold(self, values: Tensor) -> Tensor:
        return otsu_threshold(values)

    def parameters(self) -> dict[str, Any]:
        return {"bins": OTSU_BINS}


class PercentileThreshold(Binarize):
    """Binarise at the p-th percentile of ``|map|`` (``percentile``)."""

    method = "percentile"

    def __init__(self, p: float = 99.0, min_area: int = 16, top_k: int = 0, connectivity: int = 8) -> None:
        super().__init__(min_area, top_k, connectivity)
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"p must be in [0, 100], got {p}")
        self.p = float(p)

    def threshold(self, values: Tensor) -> Tensor:
        return percentile(values, self.p)

    def parameters(self) -> dict[str, Any]:
        return {"p": self.p}


class MeanStd(Binarize):
    """Binarise at ``mean + k * std`` of ``|map|`` (``mean-std``)."""

    method = "mean-std"

    def __init__(self, k: float = 3.0, min_area: int = 16, top_k: int = 0, connectivity: int = 8) -> None:
        super().__init__(min_area, top_k, connectivity)
        self.k = float(k)

    def threshold(self, values: Tensor) -> Tensor:
        return values.mean() + self.k * values.std(correction=0)

    def parameters(self) -> dict[str, Any]:
        return {"k": self.k}
