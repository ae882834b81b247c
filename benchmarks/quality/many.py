"""Changes found on pairs that hold many of them.

    python -m benchmarks.quality.many --split dev --out DIR
    python -m benchmarks.quality.many --presets default --pipeline 'mine=postprocessor=regions:typical=4'

No pair of the quality benchmark holds more than ten edits, so its scores never ask what a rule
does where the candidates are the changes themselves: a screenshot test with forty changed
widgets, a photograph with dozens of retouched spots. Round fifty-three's ``typical`` floor got
through a guarded sweep and a held-out run that way, and then dropped every one of forty changes
on a large photograph (docs/quality.md). For each photograph of the split and each variant,
:func:`pair` plants a grid of :data:`ROWS` x :data:`COLS` squares (:data:`SIDE` of the diagonal),
each brightened (a dark one) or darkened (a light one) by 10 to 50%, farther apart than any rule
joins; A and B are then degraded as the variant's track (:data:`TRACKS`, cycled) degrades them.
It prints, per track and preset, the share of the changes found (a region's box within
:data:`REACH` px of the square) and the mean number of regions, and writes ``many.json``. A
sweep's ``--many`` guards on these shares.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.quality import counting, pairs

PRESETS = counting.PRESETS
#: The grid of changed squares, and each square's side as a fraction of the image's diagonal.
ROWS, COLS, SIDE = 5, 8, 0.02
#: The tracks that keep the grid in place, one per variant (cycled).
TRACKS = ("pristine", "jpeg", "noise")
#: A change is found when a region's box comes within this many px of its square.
REACH = 4

Box = tuple[int, int, int, int]


def pair(image: str, variant: int, seed: int = 0, max_side: int = pairs.MAX_SIDE
         ) -> tuple[np.ndarray, np.ndarray, list[Box], str]:
    """A and B of photograph ``image`` with :data:`ROWS` x :data:`COLS` changed squares, degraded as
    ``TRACKS[variant]``; the squares' boxes ``(x0, y0, x1, y1)`` (ends inclusive) and the track."""
    track = TRACKS[variant % len(TRACKS)]
    a = pairs.SOURCES[image].load(max_side)
    height, width = a.shape[:2]
    side = max(4, round(SIDE * math.hypot(height, width)))
    rng = np.random.default_rng((seed, 53, list(pairs.SOURCES).index(image), variant))
    b, boxes = a.astype(np.float32), []
    for row in range(ROWS):
        for col in range(COLS):
            y0, x0 = round((row + 0.5) * height / ROWS - side / 2), round((col + 0.5) * width / COLS - side / 2)
            square = b[y0:y0 + side, x0:x0 + side]
            change = float(rng.uniform(0.1, 0.5)) * 255 * (-1.0 if square.mean() > 127.5 else 1.0)  # room to change
            b[y0:y0 + side, x0:x0 + side] = np.clip(square + change, 0, 255)
            boxes.append((x0, y0, x0 + side - 1, y0 + side - 1))
    a, b, _, _ = pairs.degrade(a.copy(), b.round().astype(np.uint8), [], track, rng)
    return a, b, boxes, track


def found(regions: Sequence[Any], boxes: Sequence[Box]) -> int:
    """How many of ``boxes`` a region's box comes within :data:`REACH` px of."""
    return sum(any(r.bbox[0] <= x1 + REACH and x0 <= r.bbox[2] + REACH and r.bbox[1] <= y1 + REACH
                   and y0 <= r.bbox[3] + REACH for r in regions) for x0, y0, x1, y1 in boxes)


def count(split: str, variants: int, presets: Sequence[str], seed: int = 0, pipelines: Sequence[str] = ()
          ) -> list[dict[str, Any]]:
    """One record per pair: the track, source, changes, and what each preset and pipeline (``LABEL=SPEC``
    as the runner's ``--pipeline`` takes it) found and reported."""
    finders = counting.finders(presets, pipelines)
    records = []
    for image in pairs.images_of(split):
        for variant in range(variants):
            a, b, boxes, track = pair(image, variant, seed)
            results = {label: finder.run(a, b).regions for label, finder in finders.items()}
            records.append({"track": track, "source": image, "variant": variant, "changes": len(boxes),
                            "found": {label: found(regions, boxes) for label, regions in results.items()},
                            "regions": {label: len(regions) for label, regions in results.items()}})
    return records


def shares(records: Sequence[dict[str, Any]], label: str) -> dict[str, float]:
    """track -> the share of its changes ``label`` found."""
    return {track: sum(r["found"][label] for r in rows) / sum(r["changes"] for r in rows)
            for track in TRACKS if (rows := [r for r in records if r["track"] == track])}


def table(records: Sequence[dict[str, Any]], labels: Sequence[str]) -> str:
    out = ["| track | preset | pairs | changes found | regions: mean |", "|---|---|---|---|---|"]
    for track in TRACKS:
        rows = [r for r in records if r["track"] == track]
        for label in labels:
            if rows:
                out.append(f"| {track} | `{label}` | {len(rows)} | {shares(rows, label)[track]:.1%} | "
                           f"{statistics.mean(r['regions'][label] for r in rows):.1f} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    return counting.main(argv, doc=__doc__, name="many", splits=pairs.SPLITS, variants=len(TRACKS),
                         variants_help="variants per photograph (tracks cycled)", count=count, table=table)


if __name__ == "__main__":
    main()
