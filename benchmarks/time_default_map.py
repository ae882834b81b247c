"""Time the default pipeline's map of a 1024x1024 pair next to the peers, in one process.

    python benchmarks/time_default_map.py --repeat 9

The pair is the benchmark generator's ``retina`` pair at 1024x1024 (seven planted edits).
Methods are timed round-robin (one call of each per round), so a load change on a shared
machine hits them alike; the median and the spread (min, max) over the rounds are printed.
``dfind default`` is ``Finder().compute`` on tensors already in memory; ``dfind default
(files)`` is ``Finder().run`` on the two PNG files, decoding included. The first call of
each method (imports, kernel caches) is a warm-up and is not counted.

``dfind previous default`` is the default before round four (docs/quality.md), timed in the
same rounds so that the new default's cost is read against it; ``dfind default, moves off``
is today's default without pairing the things that moved (round twenty), what that costs. ``--track shift`` (or
``resample``...) times a pair of that benchmark track instead of the lossless one: a
misaligned pair is where the new default measures and resamples.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The default pipeline before round four: its map and its provisional region rule.
PREVIOUS_DEFAULT = {"metric": "mse", "postprocessor": "regions",
                    "strategy": "difference:shift=auto,sigma=1.0,reduce=l2,scale=1.0,octaves=4,background=64,exact=auto"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed rounds (default 9)")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--track", default="pristine", help="the benchmark track of the pair (default pristine)")
    parser.add_argument("--with-pixelmatch", action="store_true", help="also time pixelmatch (pure Python, slow)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch
    from PIL import Image

    from benchmarks.quality import methods as M
    from benchmarks.quality.pairs import make_pair
    from dfcore import Finder, get_registry

    if args.threads:
        torch.set_num_threads(args.threads)
    pair = make_pair("retina", 0, args.track, max_side=args.size)
    if pair.a.shape[:2] != (args.size, args.size):
        raise SystemExit(f"expected a {args.size}x{args.size} pair, got {pair.a.shape[:2]}")
    tmp = Path(tempfile.mkdtemp())
    Image.fromarray(pair.a).save(tmp / "a.png")
    Image.fromarray(pair.b).save(tmp / "b.png")
    finder = Finder(device="cpu")
    previous = Finder(device="cpu", **PREVIOUS_DEFAULT)
    regions = get_registry().find_preset("default").stages["postprocessor"]
    if "moves=true" not in regions:  # else the two rows would time the same pipeline
        raise SystemExit(f"the default's regions no longer pair moves ({regions}); update this benchmark")
    unpaired = Finder(device="cpu", postprocessor=regions.replace("moves=true", "moves=false"))
    x = torch.from_numpy(pair.a).permute(2, 0, 1)[None].float() / 255
    y = torch.from_numpy(pair.b).permute(2, 0, 1)[None].float() / 255

    contenders: dict[str, Callable[[], object]] = {
        "dfind default": lambda: finder.compute(x, y).output.map,
        "dfind default (files)": lambda: finder.run(tmp / "a.png", tmp / "b.png").map,
        "dfind previous default": lambda: previous.compute(x, y).output.map,
        "dfind default, moves off": lambda: unpaired.compute(x, y).output.map,
    }
    for name in ("flip", "ssim-skimage", "original", "abs-diff") + (("pixelmatch",) if args.with_pixelmatch else ()):
        method = M.PEERS[name]
        if method.missing():
            print(f"skipping {name}: not installed", file=sys.stderr)
            continue
        fn = method.build()
        contenders[name] = lambda fn=fn: fn(pair.a, pair.b)

    for fn in contenders.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"{args.size}x{args.size} {args.track} pair, {args.repeat} rounds, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load}")
    print(f"preset default: {finder!r}")
    print(f"{'method':24s} {'median s':>9s} {'min s':>7s} {'max s':>7s}")
    for name, values in times.items():
        print(f"{name:24s} {statistics.median(values):9.3f} {min(values):7.3f} {max(values):7.3f}")
    ratios = [new / old for new, old in zip(times["dfind default"], times["dfind previous default"])]
    print(f"dfind default / previous default, per round: median {statistics.median(ratios):.2f}, "
          f"min {min(ratios):.2f}, max {max(ratios):.2f}")
    if args.json:
        args.json.write_text(json.dumps({
            "size": args.size, "track": args.track, "repeat": args.repeat, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "load_average": load, "platform": platform.platform(), "pipeline": repr(finder),
            "ratio_to_previous_default": ratios,
            "seconds": {n: {"median": statistics.median(v), "min": min(v), "max": max(v), "all": v}
                        for n, v in times.items()},
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
