"""What the count tools share (:mod:`benchmarks.quality.unchanged`, :mod:`benchmarks.quality.many`):
the finders of dfind's presets and of whole pipelines, and a command line that counts, prints a
table and writes ``NAME.json`` and ``NAME.md``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.quality import run

PRESETS = ("default", "redrawn", "robust", "strict")

Records = list[dict[str, Any]]


def finders(presets: Sequence[str], pipelines: Sequence[str]) -> dict[str, Any]:
    """label -> Finder: each preset, and each pipeline (``LABEL=SPEC`` as the runner's ``--pipeline``
    takes it)."""
    from dfcore import Finder

    found = {preset: Finder(device="cpu", preset=preset) for preset in presets}
    for text in pipelines:
        label, stages = run.parse_pipeline(text)
        found[label] = Finder(device="cpu", **stages)
    return found


def main(argv: Sequence[str] | None, *, doc: str, name: str, splits: Sequence[str], variants: int,
         variants_help: str, count: Callable[[str, int, Sequence[str], int, Sequence[str]], Records],
         table: Callable[[Records, Sequence[str]], str]) -> Records:
    """The command line of the count tool ``benchmarks.quality.NAME``: its records."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=splits)
    parser.add_argument("--variants", type=int, default=variants, help=variants_help)
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated; empty for none")
    parser.add_argument("--pipeline", action="append", default=[], metavar="LABEL=SPEC",
                        help="a dfind pipeline too, as the runner takes it (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help=f"write {name}.json and {name}.md here")
    args = parser.parse_args(argv)
    presets = [preset for preset in args.presets.split(",") if preset]
    records = count(args.split, args.variants, presets, args.seed, args.pipeline)
    text = table(records, [*presets, *(run.parse_pipeline(text)[0] for text in args.pipeline)])
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        command = " ".join(sys.argv[1:] if argv is None else argv)
        (args.out / f"{name}.json").write_text(json.dumps(
            {"command": f"python -m benchmarks.quality.{name} {command}", "records": records}, indent=1) + "\n")
        (args.out / f"{name}.md").write_text(text)
    return records
