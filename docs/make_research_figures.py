"""Make the figures of docs/research.md and the README: integrated vs gradient, and compare.

    python docs/make_research_figures.py            # writes docs/images/integrated-vs-gradient.png, compare.png

Both start from scikit-image's bundled ``astronaut`` photograph (public domain, NASA; part of
the test extras), so they are reproduced exactly without any download. Runs on the CPU in
about a minute.

* ``integrated-vs-gradient.png``: a patch of the photograph with a planted change (a brightened
  box) and independent sensor noise on both images; the map of SSIM's plain gradient and of its
  integrated gradients, with the share of each map's mass inside the changed box.
* ``compare.png``: a noisy photograph denoised two ways, a Gaussian blur (A) and non-local
  means (B, OpenCV), compared against the clean original with ``Finder.compare``: blue where A
  is closer to the truth, red where B is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BOX = (150, 60, 200, 130)  # y0, x0, y1, x1 of the planted change, in the 256 px patch


def photograph() -> np.ndarray:
    """A 256x256 RGB patch of scikit-image's astronaut, float in [0, 1]."""
    from skimage import data

    return data.astronaut()[40:296, 150:406].astype(np.float64) / 255.0


def integrated_vs_gradient(path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from dfcore import Finder

    clean = photograph()
    changed = clean.copy()
    y0, x0, y1, x1 = BOX
    changed[y0:y1, x0:x1] = np.clip(changed[y0:y1, x0:x1] + 0.2, 0, 1)
    rng = np.random.default_rng(0)
    a = np.clip(clean + rng.normal(0, 0.02, clean.shape), 0, 1).astype(np.float32)
    b = np.clip(changed + rng.normal(0, 0.02, clean.shape), 0, 1).astype(np.float32)
    inside = np.zeros(clean.shape[:2], dtype=bool)
    inside[y0:y1, x0:x1] = True
    panels = [("A", a, None), ("B: a brightened box, and new noise", b, None)]
    for strategy, title in (("gradient", "gradient of SSIM"), ("integrated", "integrated gradients of SSIM")):
        result = Finder(metric="ssim", strategy=strategy, device="cpu").run(a, b)
        magnitude = np.abs(result.map)
        share = magnitude[inside].sum() / magnitude.sum()
        panels.append((f"{title}\n{share:.0%} of |map| inside the box", magnitude, np.percentile(magnitude, 99.5)))
    fig = Figure(figsize=(10.0, 2.9), dpi=110, layout="constrained")
    axes = fig.subplots(1, 4)
    for ax, (title, picture, top) in zip(axes, panels):
        if top is None:
            ax.imshow(picture)
        else:
            ax.imshow(picture, cmap="inferno", vmin=0, vmax=top)
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="white",
                                   linewidth=0.9, linestyle="--"))
        ax.set_title(title, fontsize=8.5)
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, path)


def compare_figure(path: Path) -> None:
    import cv2
    from matplotlib.figure import Figure

    from dfcore import Finder

    truth = photograph().astype(np.float32)
    rng = np.random.default_rng(1)
    noisy = np.clip(truth + rng.normal(0, 0.08, truth.shape), 0, 1).astype(np.float32)
    blurred = cv2.GaussianBlur(noisy, (0, 0), 1.6)
    as8 = (noisy * 255 + 0.5).astype(np.uint8)
    nlm = cv2.fastNlMeansDenoisingColored(as8, None, 12, 12, 7, 21).astype(np.float32) / 255.0
    result = Finder(metric="ssim", strategy="integrated", device="cpu").compare(truth, blurred, nlm)
    top = float(np.percentile(np.abs(result.map), 99.0))
    fig = Figure(figsize=(10.0, 2.9), dpi=110, layout="constrained")
    axes = fig.subplots(1, 4)
    panels = [("truth", truth), (f"A: Gaussian blur, SSIM {result.score_a:.3f}", blurred),
              (f"B: non-local means, SSIM {result.score_b:.3f}", nlm)]
    for ax, (title, picture) in zip(axes, panels):
        ax.imshow(np.clip(picture, 0, 1))
        ax.set_title(title, fontsize=8.5)
    shown = axes[3].imshow(result.map, cmap=result.display()["colormap"], vmin=-top, vmax=top)
    axes[3].set_title("dfind compare (SSIM, integrated):\nwhere each is closer to the truth", fontsize=8.5)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    bar = fig.colorbar(shown, ax=axes[3], fraction=0.046, pad=0.02, ticks=[-top, 0.0, top])
    bar.ax.set_yticklabels(["A closer", "tie", "B closer"], fontsize=7)
    save(fig, path)


def save(fig, path: Path) -> None:
    """Save as a 256-colour PNG: a third of the size of a full-colour one, no visible loss here."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    picture = Image.open(buffer).convert("RGB")
    picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for the PNG files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    integrated_vs_gradient(args.out / "integrated-vs-gradient.png")
    compare_figure(args.out / "compare.png")
    print(f"wrote {args.out / 'integrated-vs-gradient.png'} and {args.out / 'compare.png'}")


if __name__ == "__main__":
    main()
