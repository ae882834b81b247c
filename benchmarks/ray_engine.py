"""Folder runs on the local engine against the Ray engine with 1 and 2 workers: pairs per second.

    python benchmarks/ray_engine.py                        # 64 pairs of 512 px, 3 repeats
    python benchmarks/ray_engine.py --pairs 128 --size 256 --repeats 5 --workloads mse

One process, one local Ray instance (2 CPUs, as ``dfind ... --engine ray`` starts without
``--address``; its start and stop are timed once). For every workload the three engines run
round-robin, ``--repeats`` times, into fresh output folders (files written, nothing resumed),
so a busy spell on a shared machine hits all of them alike. Each Ray run starts its actors
(a process per worker importing torch and building the pipeline) and stops them; a run on
two pairs (one per worker) measures that fixed cost, and the steady rate is
``(pairs - 2) / (time for all pairs - time for two pairs)``.

Workloads: ``ssim`` (gradient of SSIM: compute-bound), ``mse`` (difference of MSE: decode and
write dominate), ``lpips`` (gradient of LPIPS with an AlexNet of seeded random weights, as the
pretrained ones cannot be downloaded everywhere: a network built once per actor).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run import compare, lpips_ref, machine, scratch, table, write_pngs  # noqa: E402

WORKLOADS = {
    "ssim": {"metric": "ssim", "strategy": "gradient"},
    "mse": {"metric": "mse", "strategy": "difference"},
    "lpips": {"metric": "lpips", "strategy": "gradient"},
}


def bench_workload(name: str, dir_a: Path, dir_b: Path, two_a: Path, two_b: Path, folder: Path,
                   repeats: int, pairs: int) -> list[list[object]]:
    from dfcore import Finder
    from dfcore.runs.engines.ray import RayEngine

    stages = dict(WORKLOADS[name])
    if name == "lpips":
        stages["metric"] = lpips_ref()
    finder = Finder(**stages, device="cpu")

    def run(engine: str, workers: int | None, source: tuple[Path, Path]):
        def go() -> None:
            out = folder / f"out-{engine}-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            chosen = "local" if engine == "local" else RayEngine(workers=workers)
            finder.run_dirs(*source).save(out, progress=False, engine=chosen)
        return go

    engines = [("local engine", "local", None), ("Ray, 1 worker", "ray", 1), ("Ray, 2 workers", "ray", 2)]
    variants = []
    for label, engine, workers in engines:
        variants.append((f"{label} | all", run(engine, workers, (dir_a, dir_b))))
        variants.append((f"{label} | two", run(engine, workers, (two_a, two_b))))
    times = compare(variants, repeats, warmup=1)
    rows = []
    base = None
    for label, *_ in engines:
        full, two = statistics.median(times[f"{label} | all"]), statistics.median(times[f"{label} | two"])
        steady = f"{(pairs - 2) / (full - two):.1f}" if full > 1.1 * two else "n/a (too few pairs)"
        base = base or pairs / full
        rows.append([name, label, f"{pairs / full:.1f} ({pairs / min(times[f'{label} | all']):.1f})",
                     f"{(pairs / full) / base:.2f}x", f"{two:.2f}", steady])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=64, help="pairs in the folders, at least 3 (default: 64)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default: 512)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure, round-robin (median reported)")
    parser.add_argument("--workloads", default="ssim,mse,lpips", help=f"comma-separated: {', '.join(WORKLOADS)}")
    args = parser.parse_args()
    if args.pairs < 3:
        parser.error("--pairs must be at least 3")
    chosen = args.workloads.split(",")
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")

    import ray

    from dfcore.runs.engines.ray import RayEngine

    print(f"Machine: {machine()}\n")
    start = time.perf_counter()
    RayEngine(workers=2)._connect(ray)  # the local instance a run without --address starts
    started = time.perf_counter() - start
    rows = []
    try:
        with scratch() as folder:
            dir_a, dir_b = write_pngs(folder / "all", args.pairs, args.size)
            two_a, two_b = folder / "two" / "A", folder / "two" / "B"
            two_a.mkdir(parents=True)
            two_b.mkdir(parents=True)
            for first in sorted(p.name for p in dir_a.iterdir())[:2]:
                shutil.copy(dir_a / first, two_a / first)
                shutil.copy(dir_b / first, two_b / first)
            for name in chosen:
                rows += bench_workload(name, dir_a, dir_b, two_a, two_b, folder, args.repeats, args.pairs)
    finally:
        start = time.perf_counter()
        ray.shutdown()
        stopped = time.perf_counter() - start
    print(table([f"{args.pairs} pairs of {args.size} px, files written", "engine", "pairs/s: median (best)",
                 "speed", "two pairs (s)", "steady pairs/s"], rows))
    print(f"\nLocal Ray instance (2 CPUs): start {started:.1f} s, stop {stopped:.1f} s, paid once per "
          "command without --address.")
    load = os.getloadavg()
    print(f"Load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores.")


if __name__ == "__main__":
    logging.getLogger("ray").setLevel(logging.ERROR)
    main()
