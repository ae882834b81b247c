"""A grid of maps per method on a few benchmark pairs, for ``docs/quality.md``.

    python -m benchmarks.quality.figure --out docs/images/quality-grid.png

One row per pair (one per track by default), columns A, B, the truth with the edits' boxes,
then each method's map scaled to its own maximum. The k strongest blobs that hit@k finds are
circled: green when they hit an edit, cyan when they do not. With ``--region-rule RULE`` the
regions each method reports (its own, else the rule's) are drawn too: green boxes when
matched to an edit, red when false. Pairs may come from any track, the real-content ones
too (``--pairs dashboard:0:screens,garden:1:drawn``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.quality import methods as M
from benchmarks.quality import real
from benchmarks.quality.pairs import MAX_SIDE, Pair, make_pair
from benchmarks.quality.regions import region_rule
from benchmarks.quality.scores import BOX_GROWTH, find_peaks, hits, match_regions

#: (image, variant, track): held-out images, one per track.
DEFAULT_PAIRS = (("coffee", 0, "pristine"), ("astronaut", 1, "jpeg"), ("retina", 0, "noise"),
                 ("brick", 0, "shift"), ("grass", 2, "resample"))


def any_pair(image: str, variant: int, track: str, max_side: int = MAX_SIDE) -> Pair:
    """A pair of a photograph track or of a real-content one."""
    if track in real.TRACKS:
        return real.make_pair(track, image, variant, max_side=max_side)
    return make_pair(image, variant, track, max_side=max_side)


def draw(pairs: Sequence[tuple[str, int, str]], method_names: Sequence[str], out: Path,
         max_side: int = MAX_SIDE, dpi: int = 80, rule: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Rectangle

    methods, _ = _available(method_names)
    built = {name: methods[name].build() for name in methods}
    columns = 3 + len(built)
    fig, axes = plt.subplots(len(pairs), columns, figsize=(1.7 * columns, 1.35 * len(pairs)), squeeze=False)
    for row, (image, variant, track) in enumerate(pairs):
        pair = any_pair(image, variant, track, max_side=max_side)
        boxes = [e.box for e in pair.edits]
        panels = [("A", pair.a), ("B", pair.b), ("truth", pair.truth)]
        outputs = {name: fn(pair.a, pair.b) for name, fn in built.items()}
        panels += [(name, o.map if isinstance(o, M.Found) else o) for name, o in outputs.items()]
        for col, (title, panel) in enumerate(panels):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=7)
            if col == 0:
                ax.set_ylabel(f"{image}\n{track}", fontsize=7)
            if col < 2:
                ax.imshow(panel)
                continue
            if col == 2:
                ax.imshow(panel, cmap="gray")
                for x0, y0, x1, y1 in boxes:
                    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.6, ec="yellow"))
                continue
            values = np.asarray(panel, dtype=np.float64)
            values = values - values.min()
            ax.imshow(values / max(values.max(), 1e-12), cmap="inferno", vmin=0, vmax=1)
            peaks = find_peaks(values, len(boxes))
            radius = 2.5 * BOX_GROWTH * math.hypot(*values.shape)
            for y, x in peaks:
                hit = any(hits([(y, x)], boxes, pair.diagonal))
                ax.add_patch(Circle((x, y), radius, fill=False, lw=0.6, ec="lime" if hit else "cyan"))
            if rule is not None:
                output, method = outputs[title], methods[title]
                found = output.regions if isinstance(output, M.Found) and not method.regions else \
                    region_rule(method.regions or rule)(np.asarray(panel, dtype=np.float64), **M.known(output, pair.a, pair.b))
                matched = {r for r, _ in match_regions(found, boxes, pair.diagonal)}
                for index, region in enumerate(found):
                    x0, y0, x1, y1 = region.box
                    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.5,
                                           ec="lime" if index in matched else "red"))
    fig.tight_layout(pad=0.2, w_pad=0.1, h_pad=0.2)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _available(names: Sequence[str]) -> tuple[dict[str, M.Method], list[str]]:
    every = M.all_methods()
    chosen = {n: every[n] for n in names if n in every and not every[n].missing()}
    return chosen, [n for n in names if n not in chosen]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw the grid of maps per method.")
    parser.add_argument("--out", type=Path, default=Path("docs/images/quality-grid.png"))
    # dfind:sharp draws the same map as ssim-grad (both are the gradient of SSIM at data_range=1)
    default_methods = [m for m in M.all_methods() if m != "dfind:sharp"]
    parser.add_argument("--methods", default=",".join(default_methods), help="comma-separated methods")
    parser.add_argument("--pairs", help="IMAGE:VARIANT:TRACK items, comma-separated (default: one per track)")
    parser.add_argument("--dpi", type=int, default=80)
    parser.add_argument("--region-rule", help="draw each method's regions, found by this rule when it reports none")
    args = parser.parse_args(argv)
    pairs = DEFAULT_PAIRS
    if args.pairs:
        pairs = tuple((i, int(v), t) for i, v, t in (item.split(":") for item in args.pairs.split(",")))
    methods = args.methods.split(",")
    _, missing = _available(methods)
    if missing:
        print(f"skipping {', '.join(missing)} (unknown or not installed)")
    print(f"wrote {draw(pairs, methods, args.out, dpi=args.dpi, rule=args.region_rule)}")


if __name__ == "__main__":
    main()
