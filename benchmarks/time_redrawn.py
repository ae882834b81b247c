"""Time the ``redrawn`` preset and round ten's default against the default on re-rendered pages
and plots, in one process.

    python benchmarks/time_redrawn.py --repeat 7

The pairs are the quality benchmark's development `screens` and `figures` pairs (one per
source, the variant drawn at device scale 1.5 for the pages), made in memory. Each pipeline runs
``Finder().run`` on the arrays, round-robin (one call of each per round, so a load change hits
all alike), after one warm-up call each; per pair the median and minimum of the rounds are
printed, and the ratio of the sums to the default's. Round ten's default is the default without
re-rendering's fading judging its differences (round eleven, docs/quality.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args()

    from benchmarks.quality import real, sweep
    from dfcore import Finder

    pairs = [real.make_pair("screens", source, variant=2) for source in real.sources_of("screens", "dev")]
    pairs += [real.make_pair("figures", source) for source in real.sources_of("figures", "dev")]
    finders = {preset: Finder(device="cpu", preset=preset) for preset in ("default", "redrawn")}
    finders["round ten"] = Finder(device="cpu", metric="mse", strategy=sweep.ROUND_ELEVEN_MAPS["d10"],
                                  postprocessor=sweep.rule_spec(sweep.ROUND_SEVEN_RULES["rel"]))
    times: dict[tuple[str, str], list[float]] = {}
    for pair in pairs:
        for preset, finder in finders.items():
            finder.run(pair.a, pair.b)  # warm-up
            times[(pair.name, preset)] = []
    for _ in range(args.repeat):
        for pair in pairs:
            for preset, finder in finders.items():
                start = time.perf_counter()
                finder.run(pair.a, pair.b)
                times[(pair.name, preset)].append(time.perf_counter() - start)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"{args.repeat} rounds, load average {load}")
    print(f"{'pair':24s} {'size':>9s}" + "".join(f"{p + ' ms':>18s}" for p in finders))
    for pair in pairs:
        cells = [f"{statistics.median(v) * 1e3:8.0f} ({min(v) * 1e3:5.0f})"
                 for v in (times[(pair.name, p)] for p in finders)]
        print(f"{pair.name:24s} {pair.a.shape[1]:4d}x{pair.a.shape[0]:<4d}" + "".join(f"{c:>18s}" for c in cells))
    total = {p: sum(statistics.median(times[(pair.name, p)]) for pair in pairs) for p in finders}
    print("sum of medians: " + ", ".join(f"{p} {t:.3f} s ({t / total['default']:.2f}x the default)"
                                         for p, t in total.items()))


if __name__ == "__main__":
    main()
