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

Three folders are paired by relative path (the truth's), as two folders are for ``dfind A B``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dfcore.contracts import Region, StageOutput
from dfcore.errors import DfindError, InputError
from dfcore.images import as_batch, match_pair
from dfcore.output import DEFAULT_DIVERGING_COLORMAP, color_scale, jsonable
from dfcore.pairing import pair_directories
from dfcore.pipeline import Computation, DiffResult, PairFailure, _and_masks, _is_dir

if TYPE_CHECKING:
    from dfcore.pipeline import Finder

#: What the sign of a comparison map means, as written in the JSON and legends.
MEANING = "A's error minus B's: negative where A is closer to the truth, positive where B is closer"


@dataclass(repr=False)
class CompareResult(DiffResult):
    """A comparison of two reconstructions against one truth.

    Besides :class:`~dfcore.pipeline.DiffResult`'s fields (``map`` is A's error map minus
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
        data.update({"compare": {"score_a": self.score_a, "score_b": self.score_b, "better": self.better,
                                 "score": "score_a - score_b", "map": MEANING}})
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


def compare(finder: Finder, truth: Any, a: Any, b: Any, *, name: str | None = None, on_error: str = "raise",
            ignore: Any = None) -> CompareResult | list[CompareResult] | CompareRun:
    """:meth:`dfcore.pipeline.Finder.compare`: see the module docstring."""
    inputs = {"truth": truth, "a": a, "b": b}
    folders = [role for role, value in inputs.items() if _is_dir(value)]
    if folders:
        if len(folders) != 3:
            files = ", ".join(role for role in inputs if role not in folders)
            raise InputError(f"{', '.join(folders)} {'is a folder' if len(folders) == 1 else 'are folders'} "
                             f"but {files} {'is not' if len(folders) == 2 else 'are not'}: give three files or three folders")
        return CompareRun(finder, truth, a, b, on_error=on_error, ignore=ignore)
    names = {role: os.fspath(value) if isinstance(value, (str, os.PathLike)) else role
             for role, value in inputs.items()}
    tt, info_t = as_batch(truth, finder.device, names["truth"])
    ta, info_a = as_batch(a, finder.device, names["a"])
    tb, info_b = as_batch(b, finder.device, names["b"])
    same_size = not finder.takes_any_size
    tt, ta = match_pair(tt, ta, (names["truth"], names["a"]), same_size=same_size)
    tt, tb = match_pair(tt, tb, (names["truth"], names["b"]), same_size=same_size)
    tt, ta = match_pair(tt, ta, (names["truth"], names["a"]), same_size=same_size)  # channels B added
    records = {"truth": info_t.to_dict(), "a": info_a.to_dict(), "b": info_b.to_dict()}
    valid = finder.ignored(ignore, tt, records)
    if name is None and isinstance(truth, (str, os.PathLike)):
        name = Path(truth).name
    return _finish(finder, tt, ta, tb, valid, name, records)


def _finish(finder: Finder, truth: torch.Tensor, a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None,
            name: str | None, inputs: dict[str, Any]) -> CompareResult | list[CompareResult]:
    """Both error maps, their difference, the postprocessors, the winners: the results."""
    with_a = finder.compute(truth, a, valid, postprocess=False)
    with_b = finder.compute(truth, b, valid, postprocess=False)
    joint = _and_masks(with_a.output.valid, with_b.output.valid)
    difference = with_a.output.map - with_b.output.map
    if joint is not None:
        difference = difference * joint
    sides = [{role: info for role, info in (("a", ia), ("b", ib)) if info}
             for ia, ib in zip(with_a.output.info or [], with_b.output.info or [])] or None
    output = finder.postprocess(StageOutput(map=difference, valid=joint, info=sides))
    if output.regions is not None:
        output.regions = [label_winners(regions, output.map[i, 0], output.mask[i, 0] if output.mask is not None else None)
                          for i, regions in enumerate(output.regions)]
    gap = with_a.score - with_b.score
    merged = Computation(gap, output, with_a.b, with_b.b)
    n = truth.shape[0]
    plain = finder.results(merged, names=[name] * n if n == 1 else None, inputs=inputs)
    scores_a, scores_b = with_a.score.double().cpu().tolist(), with_b.score.double().cpu().tolist()
    results = [CompareResult(**{f.name: getattr(result, f.name) for f in fields(DiffResult)},
                             score_a=float(sa), score_b=float(sb))
               for result, sa, sb in zip(plain, scores_a, scores_b)]
    return results[0] if n == 1 else results


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


# -- three folders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Triple:
    """One comparison of a folder run: ``name`` is the truth's relative path."""

    name: str
    truth: Path
    a: Path
    b: Path


@dataclass
class Triples:
    """Three folders paired by relative path, and what is missing where."""

    triples: list[Triple] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def pair_three(truth: str | os.PathLike[str], a: str | os.PathLike[str], b: str | os.PathLike[str],
               recursive: bool = True) -> Triples:
    """Pair the images of three folders by the truth's relative paths (see :mod:`dfcore.pairing`)."""
    pairing_a, pairing_b = pair_directories(truth, a, recursive), pair_directories(truth, b, recursive)
    with_a = {spec.name: spec for spec in pairing_a.pairs}
    with_b = {spec.name: spec for spec in pairing_b.pairs}
    found = Triples()
    for rel in sorted(set(with_a) | set(with_b) | set(pairing_a.only_a)):
        if rel in with_a and rel in with_b:
            found.triples.append(Triple(rel, with_a[rel].a, with_a[rel].b, with_b[rel].b))
        else:
            lacking = " and ".join(role for role, side in (("A", with_a), ("B", with_b)) if rel not in side)
            found.missing.append(f"{rel}: in the truth but not in {lacking}")
    found.missing += [f"{rel}: in A but not in the truth" for rel in pairing_a.only_b]
    found.missing += [f"{rel}: in B but not in the truth" for rel in pairing_b.only_b]
    return found


class CompareRun:
    """The comparisons of three folders, computed as they are iterated.

    ``triples.missing`` lists the files without a partner in every folder. With
    ``on_error="record"`` a comparison that fails yields a :class:`~dfcore.pipeline.PairFailure`
    (``a`` and ``b`` are A's and B's files) and the run goes on.
    """

    def __init__(self, finder: Finder, truth: Any, a: Any, b: Any, *, on_error: str = "raise",
                 ignore: Any = None, recursive: bool = True) -> None:
        if on_error not in ("raise", "record"):
            raise ValueError("on_error must be 'raise' or 'record'")
        self.finder = finder
        self.triples = pair_three(truth, a, b, recursive)
        self.on_error = on_error
        self.ignore = ignore

    def __len__(self) -> int:
        return len(self.triples.triples)

    def __iter__(self) -> Iterator[CompareResult | PairFailure]:
        for triple in self.triples.triples:
            try:
                yield self.finder.compare(triple.truth, triple.a, triple.b, name=triple.name, ignore=self.ignore)
            except DfindError as exc:
                if self.on_error == "raise":
                    raise
                yield PairFailure(triple.name, triple.a, triple.b, str(exc))


__all__ = ["MEANING", "CompareResult", "CompareRun", "Triple", "Triples", "compare", "label_winners", "pair_three"]
