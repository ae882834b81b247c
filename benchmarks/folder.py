"""A folder run end to end: against the research script it grew from, where its time goes, its floor.

    python benchmarks/folder.py                       # every section, 52 pairs of 512 px
    python benchmarks/folder.py --only throughput --repeats 5

Sections (``--only a,b``):

* ``throughput`` -- whole processes, round-robin: ``benchmarks/original_loop.py`` (the research
  script: glob, PIL + ToTensor, autograd of ``pytorch_msssim.ssim``, maps saved as ``.npy``)
  against ``dfind DIR_A DIR_B -m ssim -s gradient -o OUT`` with its default outputs, and with
  ``--outputs npy`` (the script's output). Pairs per second, and dfind's speed-up; and a process
  that imports torch and does nothing else, the start-up any torch-based run pays.
* ``phases`` -- one ``dfind`` folder run (its default outputs) timed by phase: start-up
  (process start to the first pair), decoding (ahead, while torch is imported, and in the
  run's threads), computing, drawing and encoding heatmaps,
  writing files, the summary and the shared colour scale. Decoding and writing run in
  threads beside the computation, so the phases add up to more than the run's wall time.
* ``floor`` -- what the run cannot avoid, pair by pair in one thread: decoding the two images
  and writing the default outputs (heatmap, map, record) of a result computed beforehand;
  against the folder run's time per pair after start-up.
* ``errors`` -- bad input (a missing file, an unknown stage, a bad parameter) reported as a
  whole process, with ``dfind --list-plugins`` for scale: torch is never imported for them.

The pairs are made here (smooth random images and a noisy copy), as ``benchmarks/run.py``
makes them. On a shared machine compare the rows of one run; see ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import machine, scratch, table, write_pngs

SECTIONS = ("throughput", "phases", "floor", "errors")


def dfind_command() -> list[str]:
    script = shutil.which("dfind", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-c", "import sys; from dfcore.cli import main; main()"]


def whole_process(args: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds of one process, run as on an installed machine: Python may cache its bytecode (a
    ``PYTHONDONTWRITEBYTECODE`` set in the environment would have every run compile dfind's
    modules again, while the script's imports, installed packages, come compiled)."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env={**environment, **(env or {})})
    return time.perf_counter() - start


def bench_throughput(folder: Path, dir_a: Path, dir_b: Path, pairs: int, repeats: int) -> str:
    out = folder / "out"
    variants: dict[str, Callable[[], float]] = {
        "original script (benchmarks/original_loop.py)":
            lambda: whole_process([sys.executable, str(ROOT / "benchmarks" / "original_loop.py"), str(dir_a),
                                   str(dir_b), str(out)]),
        "dfind -m ssim -s gradient -o OUT (default outputs)":
            lambda: whole_process([*dfind_command(), str(dir_a), str(dir_b), "-m", "ssim", "-s", "gradient", "-o",
                                   str(out), "--quiet"]),
        "dfind ... --outputs npy (the script's output)":
            lambda: whole_process([*dfind_command(), str(dir_a), str(dir_b), "-m", "ssim", "-s", "gradient", "-o",
                                   str(out), "--quiet", "--outputs", "npy"]),
        "import torch, nothing else (no pair)":
            lambda: whole_process([sys.executable, "-c", "import torch"]),
    }
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(repeats):
        for label, run in variants.items():
            shutil.rmtree(out, ignore_errors=True)
            times[label].append(run())
            print(f"  throughput: {label}: {times[label][-1]:.1f} s", file=sys.stderr)
    base = statistics.median(next(iter(times.values())))
    rows = [[label, f"{statistics.median(t):.1f} ({min(t):.1f})", f"{pairs / statistics.median(t):.2f}",
             f"{base / statistics.median(t):.2f}x"] for label, t in times.items()]
    budget, torch_import = base / 3, statistics.median(times["import torch, nothing else (no pair)"])
    return (table([f"{pairs} pairs of 512 px, whole processes", "s: median (min)", "pairs/s", "speed-up"], rows)
            + f"\n\n3x the script's throughput is {budget:.2f} s for the {pairs} pairs; a torch-based run spends "
              f"{torch_import:.2f} s importing torch, which leaves {budget - torch_import:.2f} s "
              f"({1000 * (budget - torch_import) / pairs:.1f} ms a pair) to decode, compute and write.")


# -- phases: one dfind run, its functions wrapped with timers ----------------------------------------


def child_phases(dir_a: str, dir_b: str, out: str, launched: float) -> None:
    """Run ``dfind`` in this process with timers around each phase; print them as JSON."""
    import threading

    spent: dict[str, float] = {}
    lock = threading.Lock()

    def timed(module: object, name: str, phase: str) -> None:
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    spent[phase] = spent.get(phase, 0.0) + time.perf_counter() - start

        setattr(module, name, wrapper)

    first: dict[str, float] = {}
    from dfcore.cli import main
    from dfcore.io import files, readahead, scale
    from dfcore.pipeline import result
    from dfcore.runs import summary, worker

    original_load = worker.load_pair

    def load(*args, **kwargs):
        first.setdefault("start", time.time())
        return original_load(*args, **kwargs)

    worker.load_pair = load
    timed(readahead.ReadAhead, "_read", "read ahead: decode during start-up (a thread)")
    timed(worker, "load_pair", "decode two images (threads; read-ahead's served)")
    timed(worker, "compute_group", "compute (pipeline, batches)")
    timed(result, "draw_heatmap", "draw heatmaps (colour lookup)")
    timed(scale, "draw_heatmap", "draw heatmaps (colour lookup)")
    timed(files, "encode_png", "encode PNGs")
    timed(files, "atomic_write", "write files (npy, json, PNG bytes)")
    timed(summary.BatchReport, "write", "summary.csv / summary.json")
    timed(scale, "shared_vmax", "shared scale: percentile of all maps")
    timed(scale, "apply_shared_scale", "shared scale: all (percentile, heatmaps, records)")
    start = time.perf_counter()
    try:
        main([dir_a, dir_b, "-m", "ssim", "-s", "gradient", "-o", out, "--quiet"], standalone_mode=False)
    except SystemExit:
        pass
    total = time.perf_counter() - start
    print(json.dumps({"spent": spent, "startup": first.get("start", time.time()) - launched,
                      "run": total, "launched": launched, "end": time.time()}))


def bench_phases(folder: Path, dir_a: Path, dir_b: Path, pairs: int) -> str:
    out = folder / "phases"
    launched = time.time()
    done = subprocess.run([sys.executable, __file__, "--child-phases", str(dir_a), str(dir_b), str(out),
                           repr(launched)], capture_output=True, text=True, check=True)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    wall = data["end"] - launched
    rows = [["start-up: process start to the first pair (imports, plugins, pipeline)", f"{data['startup']:.2f}",
             f"{data['startup'] / wall:.0%}"]]
    rows += [[phase, f"{seconds:.2f}", f"{seconds / wall:.0%}"] for phase, seconds in data["spent"].items()]
    rows.append(["whole process, wall", f"{wall:.2f}", "100%"])
    return table([f"dfind folder run, {pairs} pairs of 512 px, gradient+ssim", "seconds", "of the wall time"], rows)


def bench_floor(folder: Path, dir_a: Path, dir_b: Path, pairs: int, repeats: int) -> str:
    from dfcore import Finder
    from dfcore.io.images import as_batch

    names = sorted(p.name for p in dir_a.iterdir())
    finder = Finder(metric="ssim", strategy="gradient", device="cpu")
    sample = finder.run(dir_a / names[0], dir_b / names[0])

    def floor() -> None:
        for name in names:
            as_batch(dir_a / name, "cpu")
            as_batch(dir_b / name, "cpu")
            sample.save(folder / "floor", name)

    def engine() -> None:
        shutil.rmtree(folder / "engine", ignore_errors=True)
        finder.run_dirs(dir_a, dir_b).save(folder / "engine", progress=False)

    times: dict[str, list[float]] = {"floor": [], "engine": []}
    for _ in range(repeats):
        for label, run in (("floor", floor), ("engine", engine)):
            start = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - start)
    base, engine_time = statistics.median(times["floor"]), statistics.median(times["engine"])
    rows = [
        ["floor: decode two PNGs, write heatmap, map and record (one thread, no compute)",
         f"{base / pairs * 1000:.1f}", "1.00x"],
        ["folder engine: decode, compute gradient+ssim, write (Finder.run_dirs(...).save)",
         f"{engine_time / pairs * 1000:.1f}", f"{engine_time / base:.2f}x"],
    ]
    return table([f"{pairs} pairs of 512 px, after start-up", "ms per pair (median)", "vs floor"], rows)


def bench_errors(folder: Path, dir_a: Path, dir_b: Path, repeats: int) -> str:
    a, b = dir_a / min(os.listdir(dir_a)), dir_b / min(os.listdir(dir_b))
    cases = {
        "dfind --list-plugins (for scale)": ["--list-plugins"],
        "missing file": [str(a), str(folder / "missing.png")],
        "unknown metric (-m sssim)": [str(a), str(b), "-m", "sssim"],
        "bad parameter (-m ssim:win_size=x)": [str(a), str(b), "-m", "ssim:win_size=x"],
        "unknown output (--outputs png)": [str(a), str(b), "-o", str(folder / "o"), "--outputs", "png"],
    }
    times: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(repeats):
        for label, args in cases.items():
            start = time.perf_counter()
            subprocess.run([*dfind_command(), *args], capture_output=True, check=False)
            times[label].append(time.perf_counter() - start)
    rows = [[label, f"{statistics.median(t) * 1000:.0f}", f"{min(t) * 1000:.0f}"] for label, t in times.items()]
    return table(["whole process, until the error", "median ms", "min ms"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median reported)")
    parser.add_argument("--pairs", type=int, default=52)
    parser.add_argument("--child-phases", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_phases:
        dir_a, dir_b, out, launched = args.child_phases
        child_phases(dir_a, dir_b, out, float(launched))
        return
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    print(f"Machine: {machine()}\n")
    with scratch() as folder:
        dir_a, dir_b = write_pngs(folder, args.pairs, 512)
        for name in chosen:
            start = time.perf_counter()
            if name == "throughput":
                text = bench_throughput(folder, dir_a, dir_b, args.pairs, args.repeats)
            elif name == "phases":
                text = bench_phases(folder, dir_a, dir_b, args.pairs)
            elif name == "floor":
                text = bench_floor(folder, dir_a, dir_b, args.pairs, args.repeats)
            else:
                text = bench_errors(folder, dir_a, dir_b, max(5, args.repeats))
            print(f"### {name}\n\n{text}\n\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
