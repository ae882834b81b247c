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

_SMOOTH2 = "postprocessor=smooth:sigma=2.0"
_MULTI = "postprocessor=smooth:sigma=1.0,octaves=4"

#: label -> pipeline (``kind=ref`` items joined by ``;``); every stage is named.
CANDIDATES = {
    "diff": "strategy=difference;postprocessor=identity",
    "diff-pre1": "strategy=difference:sigma=1.0;postprocessor=identity",
    "diff+s2": f"strategy=difference;{_SMOOTH2}",
    "shift1+s2": f"strategy=difference:shift=1;{_SMOOTH2}",
    "pre1+shift1+s2": f"strategy=difference:sigma=1.0,shift=1;{_SMOOTH2}",
    "pre1+shift1+s2-l2": f"strategy=difference:sigma=1.0,shift=1,reduce=l2;{_SMOOTH2}",
    "pre1+shift1+s3-l2": f"strategy=difference:sigma=1.0,shift=1,reduce=l2;postprocessor=smooth:sigma=3.0",
    "pre2+shift1+s2-l2": f"strategy=difference:sigma=2.0,shift=1,reduce=l2;{_SMOOTH2}",
    "pre1+shift1+ms3-l2": "strategy=difference:sigma=1.0,shift=1,reduce=l2;postprocessor=smooth:sigma=1.0,octaves=3",
    "pre1+shift1+ms4-mean": f"strategy=difference:sigma=1.0,shift=1;{_MULTI}",
    "pre1+shift1+ms4-l2": f"strategy=difference:sigma=1.0,shift=1,reduce=l2;{_MULTI}",
    "pre0.5+shift1+ms4-l2": f"strategy=difference:sigma=0.5,shift=1,reduce=l2;{_MULTI}",
    "pre1+shift2+ms4-l2": f"strategy=difference:sigma=1.0,shift=2,reduce=l2;{_MULTI}",
    "ssim-k0.1-0.3-grad": "metric=ssim:k1=0.1,k2=0.3;strategy=gradient;postprocessor=identity",
    "ssim-k1-1-grad": "metric=ssim:k1=1.0,k2=1.0;strategy=gradient;postprocessor=identity",
}
PEERS = ("abs-diff", "ssim-skimage", "flip", "original", "ssim-grad")


def arguments(extra: Sequence[str] = ()) -> list[str]:
    args = ["--split", "dev", "--tracks", ",".join(ALL_TRACKS),
            "--methods", ",".join([*PEERS, *CANDIDATES])]
    for label, spec in CANDIDATES.items():
        stages = spec if "metric=" in spec else f"metric=mse;{spec}"
        args += ["--pipeline", f"{label}=preprocessor=identity;{stages}"]
    return [*args, *extra]


if __name__ == "__main__":
    run.main(arguments(sys.argv[1:]))
