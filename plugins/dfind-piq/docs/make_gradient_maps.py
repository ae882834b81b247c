"""Make the README's picture: gradient maps of a few bridged metrics on dfind's sample pair.

    python plugins/dfind-piq/docs/make_gradient_maps.py     # writes plugins/dfind-piq/docs/gradient-maps.png

Run from anywhere with dfind and this bridge installed; it reads ``samples/a.png``,
``samples/b.png`` and ``samples/truth.png`` of the dfind repository and needs no download (the
metrics shown need no weights). Each map is what ``dfind samples/a.png samples/b.png -m
piq.NAME -s gradient`` writes, shown up to its 99.5th percentile; its title gives the map's
average precision against the truth mask. About a minute on a laptop CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[2] / "samples"
METRICS = ("fsim", "haarpsi", "vsi", "mdsi", "ms-gmsd", "dss")


def panels() -> list[tuple[str, np.ndarray, bool]]:
    """``(title, picture, is_map)`` for A, B, the truth mask and each metric's gradient map."""
    from PIL import Image

    from dfcore import Finder

    a, b, truth = (SAMPLES / name for name in ("a.png", "b.png", "truth.png"))
    out = [("A: samples/a.png", np.asarray(Image.open(a).convert("RGB")), False),
           ("B: seven planted changes", np.asarray(Image.open(b).convert("RGB")), False),
           ("where A and B differ (truth.png)", np.asarray(Image.open(truth)) > 0, False)]
    for name in METRICS:
        result = Finder(metric=f"piq.{name}", strategy="gradient", device="cpu").run(a, b, truth=truth)
        out.append((f"piq.{name}: AP {result.evaluation.average_precision:.2f}", result.map, True))
    return out


def figure(path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 5.4), dpi=110, layout="constrained")
    for ax, (title, picture, is_map) in zip(fig.subplots(3, 3).ravel(), panels()):
        if is_map:
            ax.imshow(picture, cmap="inferno", vmin=0, vmax=float(np.percentile(picture, 99.5)))
        else:
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
        ax.set_title(title, fontsize=8.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "gradient-maps.png")
    figure(parser.parse_args().out)


if __name__ == "__main__":
    main()
