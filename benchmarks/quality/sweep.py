"""The sweep that chose the default pipeline, on the development images only.

    python -m benchmarks.quality.sweep --out benchmarks/quality/results/dev-sweep

runs the candidate pipelines below, the original script and the cheap peers on the dev
split, on the five tracks and the stress tracks, and writes the runner's files. The rule
that picked the default (docs/quality.md): the highest hit@k summed over all nine tracks,
average precision breaking ties; the held-out test split is run only once, afterwards.
Extra arguments go to :mod:`benchmarks.quality.run` (e.g. ``--variants 1`` for a quick look).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks.quality import run
from benchmarks.quality.pairs import ALL_TRACKS

_ROBUST = "sigma=1.0,reduce=l2,scale=1.0,octaves=4"

#: label -> pipeline (``kind=ref`` items joined by ``;``); every stage is named. The first
#: round (docs/quality.md) chose pre-smoothing, a 1-px shift tolerance and four scales
#: (``ms4``); the second adds the background normalisation (``bg``), the measured shift
#: tolerance (``auto``) and the exact ranking of lossless pairs (``exact``).
CANDIDATES = {
    "diff": "strategy=difference",
    "diff-pre1": "strategy=difference:sigma=1.0",
    "shift1+s2": "strategy=difference:shift=1,scale=2.0",
    "ms4": f"strategy=difference:shift=1,{_ROBUST}",
    "ms4+bg32": f"strategy=difference:shift=1,{_ROBUST},background=32",
    "ms4+bg64": f"strategy=difference:shift=1,{_ROBUST},background=64",
    "ms4+bg128": f"strategy=difference:shift=1,{_ROBUST},background=128",
    "auto+ms4+bg64": f"strategy=difference:shift=auto,{_ROBUST},background=64",
    "auto+ms4+exact": f"strategy=difference:shift=auto,{_ROBUST},exact=auto",
    "auto+ms4+bg64+exact": f"strategy=difference:shift=auto,{_ROBUST},background=64,exact=auto",
    "shift2+ms4+bg64+exact": f"strategy=difference:shift=2,{_ROBUST},background=64,exact=auto",
    "ssim-k1-1-grad": "metric=ssim:k1=1.0,k2=1.0;strategy=gradient",
}
PEERS = ("abs-diff", "ssim-skimage", "flip", "pixelmatch", "original", "ssim-grad")
#: The candidate the paired table compares with the rest: the one the rule chose.
CHOSEN = "auto+ms4+bg64+exact"


def arguments(extra: Sequence[str] = ()) -> list[str]:
    args = ["--split", "dev", "--tracks", ",".join(ALL_TRACKS),
            "--methods", ",".join([*PEERS, *CANDIDATES]), "--reference", CHOSEN]
    for label, spec in CANDIDATES.items():
        stages = spec if "metric=" in spec else f"metric=mse;{spec}"
        args += ["--pipeline", f"{label}=preprocessor=identity;{stages}"]
    return [*args, *extra]


if __name__ == "__main__":
    run.main(arguments(sys.argv[1:]))
