"""Region rules: how the benchmark turns a map into the list of regions it scores.

A method yields a map, or a map and the regions it found (:class:`benchmarks.quality.scores.Reported`,
a box and a score each). For a method that yields a map only, the benchmark applies a *region
rule* -- a function ``map (HxW float) -> list[Reported]``, strongest first -- so every peer is
judged by the same rule. A rule is named by text (``--region-rule``, ``METHOD@RULE``):

============== ==================================================================================
components     the 8-connected components of the pixels above 0, each scored by its peak: what a
               mask-only method reports itself (pixelmatch's diff mask, its native output)
STAGE[:k=v,..] any dfind postprocessor stage that returns regions, applied to the map through
               dfind's registry, e.g. ``otsu`` (``extra.otsu``: Otsu's threshold of ``|map|``,
               regions of at least 16 px), ``otsu:min_area=64``, ``mean-std:k=4``,
               ``percentile:p=99.5``; a new dfind stage is a rule as soon as it is installed
============== ==================================================================================

:data:`RULES` maps further names to rule factories (a factory takes the text after ``:`` and
returns a rule); a rule written in Python is added there, without touching the scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.quality.scores import Reported

#: ``rule(map2d, valid=None, support=None, images=None)``: the regions of a map, given what the
#: pipeline that made it knows (:class:`benchmarks.quality.methods.Found`); a peer's map has no
#: ``valid`` or ``support``, and the pair itself as its ``images``.
RegionRule = Callable[..., list[Reported]]

#: The rule applied to maps when a run names none.
DEFAULT_RULE = "otsu"


def components(map2d: np.ndarray, connectivity: int = 8) -> list[Reported]:
    """The connected components of ``map2d > 0`` as regions, highest peak first (ties: larger first)."""
    import cv2

    mask = np.ascontiguousarray(np.asarray(map2d) > 0, dtype=np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity, ltype=cv2.CV_32S)
    if count <= 1:
        return []
    fg = labels > 0
    peaks = np.full(count, -np.inf)
    np.maximum.at(peaks, labels[fg], np.asarray(map2d, dtype=np.float64)[fg])
    found = []
    for k in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[k])
        found.append((-peaks[k], -area, Reported((x, y, x + w, y + h), float(peaks[k]))))
    return [r for *_, r in sorted(found, key=lambda item: item[:2])]


def _components_rule(params: str) -> RegionRule:
    if params:
        connectivity = int(params.removeprefix("connectivity="))
        if connectivity not in (4, 8):
            raise ValueError(f"components takes connectivity=4 or 8, got {params!r}")
        return lambda map2d, **_known: components(map2d, connectivity)
    return lambda map2d, **_known: components(map2d)


def from_dfind(regions: Sequence[Any]) -> list[Reported]:
    """dfind's ``Region`` records (``bbox``, ``peak``) as reported regions, in their order."""
    return [Reported(tuple(int(v) for v in r.bbox), float(r.peak)) for r in regions]


def dfind_stage_rule(reference: str) -> RegionRule:
    """A rule that runs the dfind postprocessor ``reference`` (``name[:key=value,...]``) on the map.

    The stage is found through dfind's registry and called as its contract says, on a
    ``StageOutput`` holding the map, and the pixels compared (``valid``) and the strategy's
    ``support`` when the map's pipeline had them, and the two ``images`` it was made from
    (HxWxC float), as a pipeline hands them to its postprocessors; the regions it returns
    (``Region.bbox``, ``Region.peak``) become the rule's. A stage that returns no regions is refused.
    """
    import torch

    from dfcore import get_registry
    from dfcore.contracts import StageOutput

    name, _, text = reference.partition(":")
    params = dict(item.split("=", 1) for item in text.split(",") if item) if text else {}
    stage = get_registry().find("postprocessor", name.strip())
    run = stage.build(params)

    def plane(values: np.ndarray | None, dtype: type) -> torch.Tensor | None:
        return None if values is None else torch.from_numpy(np.ascontiguousarray(values, dtype=dtype))[None, None]

    def image(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).permute(2, 0, 1)[None]

    def rule(map2d: np.ndarray, valid: np.ndarray | None = None, support: np.ndarray | None = None,
             images: tuple[np.ndarray, np.ndarray] | None = None) -> list[Reported]:
        out = run(StageOutput(map=plane(map2d, np.float32), valid=plane(valid, bool), support=plane(support, np.float32),
                              images=None if images is None else (image(images[0]), image(images[1]))))
        if not isinstance(out, StageOutput) or out.regions is None:
            raise ValueError(f"postprocessor {reference!r} returns no regions; it cannot be a region rule")
        return from_dfind(out.regions[0])

    return rule


#: Rule names handled here; any other name is taken as a dfind postprocessor stage.
RULES: dict[str, Callable[[str], RegionRule]] = {"components": _components_rule}


def region_rule(spec: str) -> RegionRule:
    """The rule named by ``spec``: ``NAME`` or ``NAME:params``, from :data:`RULES` or dfind's postprocessors."""
    name, _, params = spec.partition(":")
    if not name:
        raise ValueError(f"empty region rule in {spec!r}")
    if name in RULES:
        return RULES[name](params)
    return dfind_stage_rule(spec)
