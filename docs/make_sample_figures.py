"""Make the README's pictures from the sample pair shipped in ``samples/``.

    python docs/make_sample_figures.py      # writes docs/images/sample.png and alignment.png

* ``sample.png``: A, B (seven planted differences) and the map ``dfind samples/a.png
  samples/b.png`` makes, the true changes outlined.
* ``alignment.png``: the same pair with B deliberately misaligned (``samples/b_shifted.png``:
  turned 0.6 degrees, scaled by 1.01, moved by (2.3, -1.7) px): the plain difference, the
  default map (it measures the misalignment and tolerates it), and the default map after
  ``-p align``, each scored against the
  true change mask (average precision, as ``--truth`` reports it).

Every map is computed by dfind on the CPU, in a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def _load(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name))


def _panels(path: Path, panels: list[tuple[str, np.ndarray]], truth: np.ndarray, width: float) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 2.55), dpi=110, layout="constrained")
    for ax, (title, picture) in zip(fig.subplots(1, len(panels)), panels):
        if picture.ndim == 3:
            ax.imshow(picture)
        else:
            ax.imshow(picture, cmap="inferno", vmin=0, vmax=np.percentile(picture, 99.9))
            ax.contour(truth, levels=[0.5], colors="cyan", linewidths=0.6)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def sample(path: Path) -> None:
    from dfcore import Finder

    truth = _load("truth.png") > 0
    result = Finder(device="cpu").run(SAMPLES / "a.png", SAMPLES / "b.png", truth=SAMPLES / "truth.png")
    ap = result.evaluation.average_precision
    _panels(path, [("A", _load("a.png")), ("B: seven differences", _load("b.png")),
                   (f"dfind A B (true changes outlined)\naverage precision {ap:.2f}", result.map)], truth, 8.4)


def alignment(path: Path) -> None:
    from dfcore import Finder

    truth = _load("truth.png") > 0
    panels = [("B, misaligned: 0.6°, 1%, (2.3, -1.7) px", _load("b_shifted.png"))]
    for title, stages in (("plain difference  (-s difference)", {"strategy": "difference"}),
                          ("default map  (shift=auto)", {}),
                          ("aligned, then the default  (-p align)", {"preprocessor": "align"})):
        result = Finder(device="cpu", **stages).run(SAMPLES / "a.png", SAMPLES / "b_shifted.png",
                                                     truth=SAMPLES / "truth.png")
        ap = result.evaluation.average_precision
        panels.append((f"{title}\naverage precision {ap:.2f}", np.nan_to_num(result.map)))
    _panels(path, panels, truth, 11.2)


if __name__ == "__main__":
    sample(ROOT / "docs" / "images" / "sample.png")
    alignment(ROOT / "docs" / "images" / "alignment.png")
