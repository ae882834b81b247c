"""How long reports take to write: a folder index with its pages and thumbnails, the
self-contained page of one result, and the publication figure.

    python benchmarks/report.py               # 50 pairs of 512 px; one pair of 1024 and 4096 px
    python benchmarks/report.py --pairs 200

Results are made with ``difference`` + ``mse`` (the cheapest pipeline: this measures the
report, not the metric). Times are wall-clock seconds on this machine; other processes
sharing the CPU make them noisy, so compare numbers from one run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def textured(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def make_pairs(root: Path, n: int, size: int) -> tuple[Path, Path]:
    for side in ("a", "b"):
        (root / side).mkdir(parents=True)
    for i in range(n):
        a = textured(size, i)
        b = a.copy()
        b[size // 4: size // 3, size // 5: size // 2] //= 2
        Image.fromarray(a).save(root / "a" / f"{i:04d}.png")
        Image.fromarray(b).save(root / "b" / f"{i:04d}.png")
    return root / "a", root / "b"


def timed(label: str, func, rows: list[tuple[str, float]]):
    start = time.perf_counter()
    value = func()
    rows.append((label, time.perf_counter() - start))
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    from dfcore import Finder
    from dfcore.report import write_index

    finder = Finder(metric="mse", strategy="difference", device="cpu")
    rows: list[tuple[str, float]] = []
    root = Path(tempfile.mkdtemp(prefix="dfind-report-bench-"))
    try:
        dir_a, dir_b = make_pairs(root, args.pairs, args.size)
        n, s = args.pairs, args.size
        for previews in (False, True):
            out = root / f"out-{previews}"
            timed(f"run + save {n} pairs of {s} px, previews={previews}",
                  lambda: [r.save(out, previews=previews) for r in finder.run(dir_a, dir_b)], rows)
        timed(f"write_index, {n} pairs, previews re-read from sources", lambda: write_index(root / "out-False"), rows)
        timed(f"write_index, {n} pairs, previews saved by the run", lambda: write_index(root / "out-True"), rows)
        timed(f"write_index again, {n} pairs, thumbnails up to date", lambda: write_index(root / "out-True"), rows)
        for size in (1024, 4096):
            a = textured(size, 1)
            b = a.copy()
            b[size // 3: size // 2, size // 3: size // 2] = 255
            result = finder.run(a, b)
            html = timed(f"to_html, {size} px (embedded, reduced to 2048)", result.to_html, rows)
            rows.append((f"  page size, {size} px: {len(html) / 1e6:.1f} MB", float("nan")))
            timed(f"_repr_html_, {size} px (reduced to 1024)", result._repr_html_, rows)
            timed(f"figure saved as PNG, {size} px", lambda: result.figure(root / f"fig{size}.png"), rows)
            timed(f"figure saved as PDF, {size} px", lambda: result.figure(root / f"fig{size}.pdf"), rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    width = max(len(label) for label, _ in rows)
    print(f"{'step'.ljust(width)}  seconds")
    for label, seconds in rows:
        print(f"{label.ljust(width)}  {'' if seconds != seconds else f'{seconds:7.2f}'}")


if __name__ == "__main__":
    main()
