"""Run the quality benchmark: every method on every pair of a split, scored against the truth.

    python -m benchmarks.quality.run --split test --out benchmarks/quality/results/test

writes ``scores.csv`` (one row per pair and method), ``summary.json`` (means per track and
method, with the versions and the command) and ``table.md`` (the tables of
``docs/quality.md``), and prints the tables. The scores come from
:mod:`benchmarks.quality.scores` (scikit-learn and scipy), not from dfind.

Methods whose package is not installed are skipped and listed as such; install the
benchmark's extra (``pip install -e '.[bench]'``) to run them all. ``--pipeline
LABEL=SPEC`` adds a dfind pipeline, SPEC being ``kind=ref`` items joined by ``;``, e.g.
``--pipeline 'tolerant=metric=mse;strategy=difference:shift=1;postprocessor=smooth:sigma=2'``
(stages left out come from the default preset).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.quality import methods as M
from benchmarks.quality.pairs import ALL_TRACKS, MAX_SIDE, SPLITS, TRACKS, Pair, generate
from benchmarks.quality.scores import score_map

SCORES = ("hit", "ap", "auroc", "dice")
SCORE_TITLES = {"hit": "hit@k", "ap": "average precision", "auroc": "pixel AUROC", "dice": "best Dice"}


def parse_pipeline(text: str) -> tuple[str, dict[str, Any]]:
    """``LABEL=kind=ref;kind=ref`` -> ``(LABEL, {kind: ref})``; pre/postprocessor chains use ``+``."""
    label, eq, spec = text.partition("=")
    if not eq or not label or not spec:
        raise ValueError(f"--pipeline needs LABEL=kind=ref;kind=ref..., got {text!r}")
    stages: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        kind, eq, ref = item.partition("=")
        if not eq or kind not in ("preprocessor", "metric", "strategy", "postprocessor", "preset"):
            raise ValueError(f"bad pipeline item {item!r}; use preprocessor=, metric=, strategy=, postprocessor=, preset=")
        stages[kind] = ref.split("+") if kind in ("preprocessor", "postprocessor") else ref
    return label, stages


def select_methods(names: Sequence[str] | None, pipelines: Sequence[str] = ()) -> tuple[dict[str, M.Method], dict[str, str]]:
    """The methods to run and the ones skipped (name -> why)."""
    extra = {}
    for text in pipelines:
        label, stages = parse_pipeline(text)
        preset = stages.pop("preset", None)
        extra[label] = M.Method(label, f"dfind pipeline {text.partition('=')[2]}", M.dfind_method(preset, **stages),
                                ("dfcore",))
    available = M.all_methods(extra)
    chosen = list(names) if names else list(available)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise SystemExit(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(available)}")
    run, skipped = {}, {}
    for name in chosen:
        missing = available[name].missing()
        if missing:
            skipped[name] = f"not installed: {', '.join(missing)}"
        else:
            run[name] = available[name]
    return run, skipped


def run(pairs: Iterable[Pair], methods: Mapping[str, M.Method], progress: bool = True) -> list[dict[str, Any]]:
    """Score every method on every pair; one row per (pair, method)."""
    built = {name: method.build() for name, method in methods.items()}
    rows = []
    for index, pair in enumerate(pairs):
        boxes = [e.box for e in pair.edits]
        for name, fn in built.items():
            start = time.perf_counter()
            diff_map = np.asarray(fn(pair.a, pair.b), dtype=np.float64)
            seconds = time.perf_counter() - start
            if diff_map.shape != pair.truth.shape:
                raise RuntimeError(f"{name} returned a map of shape {diff_map.shape} for {pair.name} {pair.truth.shape}")
            rows.append({"pair": pair.name, "image": pair.image, "track": pair.track, "variant": pair.variant,
                         "method": name, **score_map(diff_map, pair.truth, boxes), "seconds": seconds})
        if progress:
            print(f"[{index + 1}] {pair.name}", file=sys.stderr, flush=True)
    return rows


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean of every score per track and method (hit@k averaged over pairs, i.e. over edits)."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["track"], row["method"]), []).append(row)
    for (track, method), items in groups.items():
        summary.setdefault(track, {})[method] = {
            **{score: float(np.mean([r[score] for r in items])) for score in SCORES},
            "seconds": float(np.median([r["seconds"] for r in items])),
            "pairs": len(items),
        }
    return summary


def tables(summary: Mapping[str, Mapping[str, Mapping[str, float]]], methods: Sequence[str],
           tracks: Sequence[str]) -> str:
    """Markdown: one table per score, tracks as rows, methods as columns, the best in bold."""
    tracks = [t for t in tracks if t in summary]
    out = []
    for score in SCORES:
        out.append(f"**{SCORE_TITLES[score]}** (higher is better)\n")
        out.append("| track | " + " | ".join(methods) + " |")
        out.append("|---|" + "---|" * len(methods))
        for track in tracks:
            values = [summary[track].get(m, {}).get(score) for m in methods]
            best = max(v for v in values if v is not None)
            cells = [("—" if v is None else f"**{v:.3f}**" if round(v, 3) == round(best, 3) else f"{v:.3f}")
                     for v in values]
            out.append(f"| {track} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def paired_differences(rows: Sequence[Mapping[str, Any]], reference: str, scores: Sequence[str] = ("hit", "ap"),
                       resamples: int = 2000, seed: int = 0) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``reference`` minus every other method, per track and score, with a 95% bootstrap interval.

    The pairs of a track are resampled with replacement (paired: both methods keep the same
    pairs), so the interval says how much the difference depends on which pairs were drawn.
    """
    by_key = {(r["track"], r["pair"], r["method"]): r for r in rows}
    tracks = list(dict.fromkeys(r["track"] for r in rows))
    methods = [m for m in dict.fromkeys(r["method"] for r in rows) if m != reference]
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for track in tracks:
        pairs = sorted({r["pair"] for r in rows if r["track"] == track and r["method"] == reference})
        draws = rng.integers(0, len(pairs), size=(resamples, len(pairs)))
        for method in methods:
            for score in scores:
                if any((track, p, method) not in by_key for p in pairs):
                    continue
                diff = np.array([float(by_key[(track, p, reference)][score]) - float(by_key[(track, p, method)][score])
                                 for p in pairs])
                means = diff[draws].mean(1)
                out.setdefault(track, {}).setdefault(method, {})[score] = {
                    "mean": float(diff.mean()), "low": float(np.quantile(means, 0.025)),
                    "high": float(np.quantile(means, 0.975))}
    return out


def paired_table(paired: Mapping[str, Any], reference: str, methods: Sequence[str], score: str) -> str:
    """Markdown: ``reference`` minus each method, ``mean [low, high]``; bold where the interval is above 0."""
    methods = [m for m in methods if m != reference]
    out = [f"**{reference} minus each method, {SCORE_TITLES[score]}** (mean over pairs [95% bootstrap interval])\n",
           "| track | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for track, per_method in paired.items():
        cells = []
        for m in methods:
            d = per_method.get(m, {}).get(score)
            if d is None:
                cells.append("—")
                continue
            text = f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
            cells.append(f"**{text}**" if d["low"] > 0 else text)
        out.append(f"| {track} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``scores.csv`` written by this runner, numbers as numbers."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in (*SCORES, "seconds"):
            row[key] = float(row[key])
        row["variant"] = int(row["variant"])
    return rows


def versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {"python": platform.python_version()}
    for dist in ("dfind", "torch", "numpy", "scikit-image", "scikit-learn", "scipy", "opencv-python-headless",
                 "pillow", "pytorch-msssim", "flip-evaluator", "pixelmatch"):
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return found


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=(*SPLITS, "all"))
    parser.add_argument("--variants", type=int, default=3, help="edit sets per image (default 3)")
    parser.add_argument("--tracks", default=",".join(TRACKS), help=f"comma-separated, from {', '.join(ALL_TRACKS)}")
    parser.add_argument("--images", help="comma-separated source images (default: the split's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-side", type=int, default=MAX_SIDE, help="scale sources down to this long side")
    parser.add_argument("--methods", help="comma-separated methods (default: all); see --list")
    parser.add_argument("--pipeline", action="append", default=[], metavar="LABEL=SPEC", help="add a dfind pipeline")
    parser.add_argument("--out", type=Path, help="write scores.csv, summary.json and table.md here")
    parser.add_argument("--reference", default="dfind:default",
                        help="method compared pair by pair with every other one (default: dfind:default)")
    parser.add_argument("--from-csv", type=Path, metavar="SCORES_CSV",
                        help="do not run: rebuild summary and tables from a scores.csv of an earlier run")
    parser.add_argument("--list", action="store_true", help="list the methods and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    tracks = args.tracks.split(",")
    earlier: dict[str, Any] = {}
    if args.from_csv:
        rows = read_rows(args.from_csv)
        summary_file = args.from_csv.parent / "summary.json"
        if summary_file.is_file():  # keep how the scores were made, not how they were re-read
            earlier = json.loads(summary_file.read_text())
        tracks = [t for t in tracks if any(r["track"] == t for r in rows)]
        names = list(dict.fromkeys(r["method"] for r in rows))
        if args.methods:
            names = [n for n in args.methods.split(",") if n in names]
        described = {n: earlier.get("methods", {}).get(n, "") for n in names}
        skipped: dict[str, str] = {}
    else:
        methods, skipped = select_methods(args.methods.split(",") if args.methods else None, args.pipeline)
        if args.list:
            for name, method in methods.items():
                print(f"{name:16s} {method.summary}")
            for name, why in skipped.items():
                print(f"{name:16s} skipped: {why}")
            return {}
        for name, why in skipped.items():
            print(f"skipping {name}: {why}", file=sys.stderr)
        images = args.images.split(",") if args.images else None
        pairs = generate(args.split, args.variants, tracks, args.seed, images, args.max_side)
        rows = run(pairs, methods, progress=not args.quiet)
        described = {n: m.summary for n, m in methods.items()}
    summary = summarise(rows)
    table = tables(summary, list(described), tracks)
    paired = {}
    if args.reference in described:
        paired = paired_differences([r for r in rows if r["method"] in described], args.reference)
        table += "\n" + "\n".join(paired_table(paired, args.reference, list(described), s) for s in ("hit", "ap"))
    result = {
        "command": "python -m benchmarks.quality.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "split": args.split, "variants": args.variants, "tracks": tracks, "seed": args.seed,
        "max_side": args.max_side, "methods": described, "skipped": skipped,
        "versions": versions(), "summary": summary, "paired": paired,
    }
    result.update({k: earlier[k] for k in ("command", "split", "variants", "seed", "max_side", "skipped", "versions")
                   if k in earlier})
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.out and not args.from_csv:
        with open(args.out / "scores.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.out:
        (args.out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.out / "table.md").write_text(table + "\n")
    print(table)
    return result


if __name__ == "__main__":
    main()
