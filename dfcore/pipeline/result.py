"""What a pipeline returns: :class:`DiffResult` per pair, and how a result is saved and shown.

A result holds host-side arrays (the map, mask, compared pixels, 8-bit previews of A and B)
and the record of how it was made. :meth:`DiffResult.save` writes its files through
:mod:`dfcore.io.layout`; :meth:`DiffResult.to_html` and :meth:`DiffResult.figure` hand the
same record to :mod:`dfcore.report`, which renders records and knows nothing of pipelines.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dfcore.contracts import Region, StageOutput
from dfcore.io.files import atomic_write, jsonable, write_npy, write_png
from dfcore.io.layout import output_roles, parse_outputs, score_fields, write_pair
from dfcore.io.render import color_scale, default_colormap, draw_heatmap
from dfcore.ops.strips import bands, strip_rows
from dfcore.report import notebook_html, result_html
from dfcore.report.figure import make_figure
from dfcore.version import __version__

if TYPE_CHECKING:
    from dfcore.pipeline.evaluation import Evaluation


@dataclass
class Computation:
    """Tensors of one batch, still on the device: scores ``[N]`` and the stage output."""

    score: torch.Tensor
    output: StageOutput
    a: torch.Tensor
    b: torch.Tensor


@dataclass
class PairFailure:
    """A pair of a folder run that could not be compared, and why."""

    name: str
    a: Path
    b: Path
    error: str
    ok: bool = False


@dataclass
class DiffResult:
    """The difference of one pair.

    Attributes:
        map: HxW float32 array, larger = more different, on A's pixel grid.
        score: the metric's value (see ``config["metric"]`` and ``higher_is_better``).
        config: the pipeline: every stage with its plugin, version, parameters and conventions.
        name: the pair's name (B's file stem, or the relative path in a folder run).
        mask: HxW bool array of detected change when a postprocessor made one.
        regions: the regions found, strongest first.
        info: facts stages reported for this pair (e.g. an estimated transform).
        inputs: how A and B were read (source, size, mode, bit depth, alpha handling).
        valid: HxW bool array of the pixels that were compared, when not all were.
        evaluation: the map and mask scored against a ground-truth mask, when one was given
            (``run(..., truth=...)``; see :mod:`dfcore.evaluation`).
        previews: A and B as compared (after pairwise preprocessing such as alignment, on
            the map's grid) as 8-bit HxW or HxWx3 arrays, for reports and figures; ``None``
            when the result was not made by :meth:`Finder.run`.
        seconds: time spent reading and computing this pair, when a folder run measured it.
        unit: what the map's values are, in words (declared by the strategy; ``None``: not
            declared), as the JSON's ``map.unit`` and the colour bars say.
    """

    map: np.ndarray
    score: float
    config: dict[str, Any]
    name: str | None = None
    mask: np.ndarray | None = None
    regions: list[Region] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    valid: np.ndarray | None = None
    evaluation: Evaluation | None = None
    previews: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    seconds: float | None = None
    ok: bool = True
    unit: str | None = None

    @property
    def higher_is_better(self) -> bool:
        return bool(self.config["metric"]["higher_is_better"])

    def __repr__(self) -> str:
        h, w = self.map.shape
        return f"DiffResult(name={self.name!r}, score={self.score:.6g}, map={h}x{w}, regions={len(self.regions)})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary written by :meth:`save` (without the ``files`` entry)."""
        finite = self.map if np.isfinite(self.map).all() else self.map[np.isfinite(self.map)]  # no copy when all are
        data: dict[str, Any] = {
            "dfind": __version__,
            "name": self.name,
            **score_fields("score", self.score),
            "metric": self.config["metric"]["name"],
            "higher_is_better": self.higher_is_better,
            "map": {
                "height": int(self.map.shape[0]),
                "width": int(self.map.shape[1]),
                "min": float(finite.min()) if finite.size else 0.0,
                "max": float(finite.max()) if finite.size else 0.0,
                "mean": float(finite.mean()) if finite.size else 0.0,
                "unit": self.unit,
            },
            "regions": [r.to_dict() for r in self.regions],
            "info": self.info,
            "inputs": self.inputs,
            "config": self.config,
        }
        if self.mask is not None:
            data["mask_fraction"] = float(self.mask.mean())
        if self.valid is not None:
            data["valid_fraction"] = float(self.valid.mean())
        if self.evaluation is not None:
            data["evaluation"] = self.evaluation.to_dict()
        if self.seconds is not None:
            data["seconds"] = round(self.seconds, 6)
        return jsonable(data)

    def save(self, directory: str | os.PathLike[str], name: str | None = None, *,
             colormap: str | None = None, vmax: float | None = None, previews: bool = False,
             outputs: str | Sequence[str] | None = None) -> dict[str, Path]:
        """Write ``NAME.heatmap.png``, ``NAME.map.npy``, ``NAME.mask.png`` (if any) and ``NAME.json``.

        ``outputs`` chooses among them (names of :data:`dfcore.io.layout.OUTPUTS`: ``heatmap``,
        ``npy``, ``mask``, ``json``; a list or ``"heatmap,npy"``); ``None`` writes them all.
        The JSON is always written, last, so its presence means the pair's outputs are
        complete; its ``files`` lists the others. ``colormap`` defaults to ``inferno``
        (``RdBu_r`` centred on zero for signed maps); ``vmax`` defaults to the map's largest
        absolute value; the JSON's ``display`` records the scale (see :meth:`display`, and
        :mod:`dfcore.io.scale` for one scale shared by a set of pairs). Pixels that were not
        compared (``valid`` False, e.g. outside the overlap after alignment) are drawn as a
        grey hatch and, with the heatmap or the map, written to ``NAME.valid.png`` (white =
        compared). ``previews=True`` also writes ``NAME.a.png`` and ``NAME.b.png``, the 8-bit
        :attr:`previews` an HTML report shows. Returns the written paths.
        """
        directory = Path(directory)
        roles = output_roles(parse_outputs(outputs))
        display = self.display(colormap, vmax)
        files: dict[str, Any] = {}
        if "heatmap" in roles:
            files["heatmap"] = lambda path: write_png(path, draw_heatmap(self.map, display["colormap"], display["vmin"],
                                                                         display["vmax"], self.valid))
        if "map" in roles:
            files["map"] = lambda path: write_npy(path, self.map)
        if "mask" in roles and self.mask is not None:
            files["mask"] = lambda path: write_png(path, self.mask.astype(np.uint8) * 255)
        if previews and self.previews is not None:
            files["a"] = lambda path: write_png(path, self.previews[0], photo=True)
            files["b"] = lambda path: write_png(path, self.previews[1], photo=True)
        if "valid" in roles and self.valid is not None:
            files["valid"] = lambda path: write_png(path, self.valid.astype(np.uint8) * 255)
        return write_pair(directory, name or self.name or "dfind", {**self.to_dict(), "display": display}, files)

    def display(self, colormap: str | None = None, vmax: float | None = None) -> dict[str, Any]:
        """The heatmap's colour scale: ``colormap``, ``vmin``, ``vmax`` and how it was chosen (``scale``).

        ``vmax=None`` scales this map on its own (``"scale": "image"``: 0 to its largest
        absolute value, or symmetric about 0 for signed maps); a number fixes it (``"fixed"``).
        A folder run with ``--scale shared`` rewrites it afterwards (:mod:`dfcore.io.scale`).
        """
        vmin, top = color_scale(self.map, vmax)
        return {"colormap": colormap or default_colormap(vmin), "vmin": vmin, "vmax": top,
                "scale": "image" if vmax is None else "fixed"}

    def to_html(self, path: str | os.PathLike[str] | None = None, *, max_side: int | None = 2048) -> str:
        """This result as one self-contained HTML page (images embedded), as ``dfind --report`` shows it.

        A and B side by side, the map with its colour scale, the map over A with an opacity
        slider, A/B flicker and swipe, the regions, the scores and the pipeline, with
        synchronized zoom and pan. Images are reduced to ``max_side`` pixels (the map by its
        largest values, so small changes stay visible); ``None`` keeps full size. Written
        to ``path`` when given. See ``docs/report.md``.
        """
        html = result_html(self, max_side=max_side)
        if path is not None:
            atomic_write(path, lambda f: f.write(html), mode="w")
        return html

    def _repr_html_(self) -> str:
        return notebook_html(self)

    def figure(self, path: str | os.PathLike[str] | None = None, **options: Any) -> Any:
        """A publication panel, A | B | map with colour bar | overlay, as a matplotlib Figure.

        Saved to ``path`` when given (PNG, PDF, SVG... by extension). ``options`` are those of
        :func:`dfcore.report.figure.make_figure` (``dpi``, ``width``, ``colormap``, ``titles``...).
        """
        return make_figure(self, path, **options)


def previews(batch: torch.Tensor) -> np.ndarray:
    """8-bit pictures of an NxCxHxW batch in [0, 1]: NxHxW (grey) or NxHxWx3, on the host.

    Four channels show the first three; two or more than four show their mean.
    """
    channels = batch.shape[1]
    if channels == 4:
        batch = batch[:, :3]
    elif channels not in (1, 3):
        batch = batch.mean(dim=1, keepdim=True)
    n, c, height, width = batch.shape
    pictures = np.empty((n, height, width, c), dtype=np.uint8)
    for _, _, rows in bands(height, strip_rows(width, 0), 0):  # a band at a time: no full-size float copy
        band = batch[..., rows, :].detach().mul(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8)
        pictures[:, rows] = band.permute(0, 2, 3, 1).cpu().numpy()
    return pictures[..., 0] if c == 1 else pictures
