"""Several ``dfind`` folder runs into one output folder at once: who computed what, and what was lost.

``python benchmarks/shared_folder.py`` writes PNG pairs to a scratch folder, then runs the same
command ``dfind A B -o OUT`` once alone and then as 2 and 3 processes started a moment apart
into one fresh folder. For each case it prints the pairs each process computed (its stdout has
a line per pair it computed itself), pairs computed more than once, failed pairs, the pairs
complete on disk and the wall time. Nothing is lost and nothing is computed twice when the
numbers add up to the pair count with no duplicate and no failure.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import table, write_pngs  # noqa: E402  (benchmarks/ is not a package)

LINE = re.compile(r"^(\S+\.png): ")


def dfind(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("dfind")
    return [str(script), *args] if script.exists() else [sys.executable, "-c", "from dfcore.cli import main; main()",
                                                         *args]


def run_together(dir_a: Path, dir_b: Path, out: Path, processes: int, stagger: float, options: list[str]
                 ) -> list[object]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    running = []
    for index in range(processes):
        if index:
            time.sleep(stagger)
        running.append(subprocess.Popen(dfind(str(dir_a), str(dir_b), "-o", str(out), *options),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate() for process in running]
    seconds = time.perf_counter() - start
    computed = [[m.group(1) for m in map(LINE.match, stdout.splitlines()) if m] for stdout, _ in outputs]
    counts = collections.Counter(name for names in computed for name in names)
    failed = sum(stderr.count(": failed: ") for _, stderr in outputs)
    codes = sorted({process.returncode for process in running})
    summary = json.loads((out / "summary.json").read_text())
    complete = sum(row["status"] in ("ok", "skipped") for row in summary["pairs"])
    leftovers = len([p for p in out.rglob(".*") if p.is_file()])
    return [processes, " + ".join(str(len(names)) for names in computed), sum(n > 1 for n in counts.values()),
            failed, f"{complete} of {len(summary['pairs'])}", leftovers, ",".join(map(str, codes)), f"{seconds:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds between two starts")
    args = parser.parse_args()
    options = ["-m", "ssim", "-s", "gradient", "--batch-size", "1", "--workers", "1", "--scale", "image"]
    folder = Path(tempfile.mkdtemp(prefix="dfind-shared-"))
    try:
        dir_a, dir_b = write_pngs(folder, args.pairs, args.size)
        rows = [run_together(dir_a, dir_b, folder / "out", n, args.stagger, options) for n in (1, 2, 3)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(table(["processes", "pairs computed by each", "computed twice", "failed", "complete on disk",
                 "files left in flight", "exit codes", "wall s"], rows))
    print(f"\n({args.pairs} pairs of {args.size} px, `dfind A B -o OUT {' '.join(options)}`, "
          f"processes started {args.stagger:g} s apart)")


if __name__ == "__main__":
    main()
