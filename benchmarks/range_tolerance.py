"""The range tolerance's host path (OpenCV and NumPy) against its torch path, on the default section's pairs.

``python benchmarks/range_tolerance.py [--repeats 15] [--threads 1 2]``

For each of ``benchmarks/run.py``'s default pairs (1024 px) it times
``dfcore.ops.shift.range_tolerant(a, b, 1, reduce, 0.15)`` as the default map calls it (radius 1,
overshoot 0.15, ``l2``): with ``reduce`` named, which takes :mod:`dfcore.ops.range_host` on a CPU,
and with the same reduction passed as a function, which keeps torch's kernels; at each torch
thread count, round-robin, median wall and CPU milliseconds; and checks that both give the
same values to the bit. The pairs are as ``default_pairs`` holds them: planar (the noisy one) or
channels-last as decoded; the turned pair's A and B differ in layout, which the host path does not
take, so both of its rows time torch's path (the pipeline copies such pairs to planes first). Set
``OMP_NUM_THREADS`` for a steady reading of one thread. The CPU time counts OpenCV's own pool of
threads too (its erosions run on it, on either path).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from benchmarks.run import default_pairs
    from dfcore.ops.channels import reduce_channels
    from dfcore.ops.shift import range_tolerant

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()])
    args = parser.parse_args()

    def by_torch(values: torch.Tensor) -> torch.Tensor:
        return reduce_channels(values, "l2")

    print("| pair | torch threads | torch path: wall ms (CPU ms) | host path: wall ms (CPU ms) | same values |")
    print("| --- | --- | --- | --- | --- |")
    for name, (a, b) in default_pairs().items():
        if a.shape[-1] != 1024:
            continue
        same = torch.equal(range_tolerant(a, b, 1, "l2", 0.15), range_tolerant(a, b, 1, by_torch, 0.15))
        for threads in dict.fromkeys(args.threads):
            torch.set_num_threads(threads)
            times: dict[str, list[tuple[float, float]]] = {"torch": [], "host": []}
            for repeat in range(args.repeats + 1):
                for path, combine in (("torch", by_torch), ("host", "l2")):
                    wall, cpu = time.perf_counter(), time.process_time()
                    range_tolerant(a, b, 1, combine, 0.15)
                    if repeat:  # the first round warms up
                        times[path].append((time.perf_counter() - wall, time.process_time() - cpu))

            print(f"| {name} | {threads} | {_cell(times['torch'])} | {_cell(times['host'])} | {'yes' if same else 'NO'} |")


def _cell(times: list[tuple[float, float]]) -> str:
    """Median wall and CPU milliseconds."""
    wall, cpu = (statistics.median(t[k] for t in times) * 1e3 for k in (0, 1))
    return f"{wall:.1f} ({cpu:.1f})"


if __name__ == "__main__":
    main()
