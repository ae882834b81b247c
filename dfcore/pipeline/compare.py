"""Which of two reconstructions is closer to the truth, and where: ``Finder.compare`` and ``dfind compare``.

Researchers compare two methods' outputs, A and B, against one ground truth. For a pipeline
(preprocessors, metric, strategy), the comparison map is

    map = E_A - E_B,        E_X = the pipeline's map of (truth, X), before postprocessors

so it is **negative where A is closer to the truth** (its error there is smaller) and
**positive where B is**. The heatmap uses a diverging colour map centred on zero (``RdBu_r``
unless another is chosen): blue where A is closer, red where B is closer, white where they
tie; the scale is always symmetric, so equal colours mean equal advantages on both sides.

Why the difference of two error maps (and not, say, the attribution of ``metric(A) -
metric(B)`` along a path from A to B): it works with every strategy, differentiable or not
(``difference``, ``gradient``, ``gradcam``...), and each side is exactly the map that
``dfind TRUTH A`` shows, so the comparison is read in terms users already know. With the
``integrated`` strategy each error map adds up to its distance to the truth, so the
comparison map adds up to ``distance(truth, A) - distance(truth, B)``: the score gap is
split among the pixels. (For MSE both readings coincide: integrated gradients along the path
from A to B give exactly the difference of the squared-error maps.)

Both scores are reported, and which is better overall by the metric's own direction;
``score`` is ``score(A) - score(B)``, which keeps the metric's direction (for SSIM, positive =
A better; for MSE, negative = A better). With a thresholding postprocessor (``-q otsu``,
``-q percentile``...) the postprocessors run on the comparison map, and each region gets the
label of its winner, ``"a"`` or ``"b"``: the side whose error is smaller summed over the
region's pixels.

Three folders are paired by relative path (the truth's), as two folders are for ``dfind A B``,
and run by the same folder runner (:mod:`dfcore.runs`): resume, summary and report included.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from dfcore.contracts import Region, StageOutput
from dfcore.io.files import jsonable
from dfcore.io.layout import score_fields
from dfcore.io.render import DEFAULT_DIVERGING_COLORMAP, color_scale
from dfcore.pipeline.conventions import and_masks
from dfcore.pipeline.result import Computation, DiffResult

#: What the sign of a comparison map means, as written in the JSON and legends.
MEANING = "A's error minus B's: negative where A is closer to the truth, positive where B is closer"


@dataclass(repr=False)
class CompareResult(DiffResult):
    """A comparison of two reconstructions against one truth.

    Besides :class:`~dfcore.pipeline.result.DiffResult`'s fields (``map`` is A's error map minus
    B's; ``score`` is ``score_a - score_b``; ``previews`` are A and B as compared):

    Attributes:
        score_a, score_b: the metric of (truth, A) and (truth, B).
        better: ``"a"``, ``"b"`` or ``"tie"``, by the metric's direction.
    """

    score_a: float = 0.0
    score_b: float = 0.0

    @property
    def better(self) -> str:
        if self.score_a == self.score_b:
            return "tie"
        a_higher = self.score_a > self.score_b
        return "a" if a_higher == self.higher_is_better else "b"

    def __repr__(self) -> str:
        h, w = self.map.shape
        return (f"CompareResult(name={self.name!r}, score_a={self.score_a:.6g}, score_b={self.score_b:.6g}, "
                f"better={self.better!r}, map={h}x{w}, regions={len(self.regions)})")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update({"compare": {**score_fields("score_a", self.score_a), **score_fields("score_b", self.score_b),
                                 "better": self.better, "score": "score_a - score_b", "map": MEANING}})
        return jsonable(data)

    def figure_titles(self) -> tuple[str, str, str, str]:
        """Panel titles of :meth:`figure`: both scores, and what the map is."""
        metric = self.config["metric"]["name"]
        return (f"A  ({metric} = {self.score_a:.4g})", f"B  ({metric} = {self.score_b:.4g})",
                "A's error - B's error", "Overlay on A")

    def display(self, colormap: str | None = None, vmax: float | None = None) -> dict[str, Any]:
        """Always symmetric about zero, ``RdBu_r`` by default: blue = A closer, red = B closer."""
        _, top = color_scale(np.abs(self.map), vmax)
        colormap = colormap or DEFAULT_DIVERGING_COLORMAP
        sides = "blue: A closer to the truth, red: B closer" if colormap == DEFAULT_DIVERGING_COLORMAP else MEANING
        return {"colormap": colormap, "vmin": -top, "vmax": top, "scale": "image" if vmax is None else "fixed",
                "meaning": sides}


def error_difference(with_a: Computation, with_b: Computation) -> StageOutput:
    """A's error map minus B's (before postprocessors), on the pixels both compared."""
    joint = and_masks(with_a.output.valid, with_b.output.valid)
    difference = with_a.output.map - with_b.output.map
    if joint is not None:
        difference = difference * joint
    sides = [{role: info for role, info in (("a", ia), ("b", ib)) if info}
             for ia, ib in zip(with_a.output.info or [], with_b.output.info or [])] or None
    unit = with_a.output.unit
    return StageOutput(map=difference, valid=joint, info=sides,
                       unit=f"A's error - B's error, each {unit}" if unit else "A's error - B's error")


def label_all(output: StageOutput) -> StageOutput:
    """Every region of a postprocessed comparison labelled with its winner (:func:`label_winners`)."""
    if output.regions is not None:
        output.regions = [label_winners(regions, output.map[i, 0], output.mask[i, 0] if output.mask is not None else None)
                          for i, regions in enumerate(output.regions)]
    return output


def as_comparisons(results: list[DiffResult], with_a: Computation, with_b: Computation) -> list[CompareResult]:
    """The plain results of a comparison map, with both scores."""
    scores_a, scores_b = with_a.score.double().cpu().tolist(), with_b.score.double().cpu().tolist()
    return [CompareResult(**{f.name: getattr(result, f.name) for f in fields(DiffResult)},
                          score_a=float(sa), score_b=float(sb))
            for result, sa, sb in zip(results, scores_a, scores_b)]


def label_winners(regions: list[Region], values: torch.Tensor, mask: torch.Tensor | None) -> list[Region]:
    """Each region labelled ``"a"`` or ``"b"``: the sign of the comparison map summed over its pixels.

    A region's pixels are the mask's pixels inside its box (all of the box without a mask).
    A zero sum (a perfect tie) is labelled ``"tie"``.
    """
    labelled = []
    for region in regions:
        x0, y0, x1, y1 = region.bbox
        inside = values[y0:y1, x0:x1]
        if mask is not None:
            inside = inside * mask[y0:y1, x0:x1]
        total = float(inside.sum())
        winner = "a" if total < 0 else "b" if total > 0 else "tie"
        labelled.append(Region(region.bbox, region.area, region.peak, region.mean, region.centroid, winner))
    return labelled


__all__ = ["MEANING", "CompareResult", "as_comparisons", "error_difference", "label_all", "label_winners"]
