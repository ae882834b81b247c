"""Run the quality benchmark: every method on every pair of a split, scored against the truth.

    python -m benchmarks.quality.run --split test --out benchmarks/quality/results/test

writes ``scores.csv`` (one row per pair and method), ``summary.json`` (means per track and
method, with the versions and the command) and ``table.md`` (the tables of
``docs/quality.md``), and prints the tables. The scores come from
:mod:`benchmarks.quality.scores` (scikit-learn and scipy), not from dfind.

``--tracks`` takes the photograph tracks of :mod:`benchmarks.quality.pairs` and the
real-content tracks of :mod:`benchmarks.quality.real` (``screens``, ``figures``, ``drawn``,
``photos`` and their ``-pristine`` twins); ``--images`` names sources of either kind.

Region scores (precision, recall, F1, count error) judge the regions a method reports; a
method that reports none is given the regions ``--region-rule`` finds in its map
(:mod:`benchmarks.quality.regions`; default ``otsu``, dfind's Otsu postprocessor), and
``METHOD@RULE`` in ``--methods`` runs a method with another rule (``dfind:default@components``).

Methods whose package is not installed are skipped and listed as such; install the
benchmark's extra (``pip install -e '.[bench]'``) to run them all. ``--pipeline
LABEL=SPEC`` adds a dfind pipeline, SPEC being ``kind=ref`` items joined by ``;``, e.g.
``--pipeline 'tolerant=metric=mse;strategy=difference:shift=1;postprocessor=smooth:sigma=2'``
(stages left out come from the default preset).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.quality import methods as M
from benchmarks.quality import real
from benchmarks.quality.pairs import ALL_TRACKS, MAX_SIDE, SOURCES, SPLITS, TRACKS, Pair, generate
from benchmarks.quality.regions import DEFAULT_RULE, RegionRule, region_rule
from benchmarks.quality.scores import REGION_SCORES, region_scores, score_map

PIXEL_SCORES = ("hit", "ap", "auroc", "dice")
SCORES = (*PIXEL_SCORES, *REGION_SCORES, "count_error_abs")
#: The tables, in order; the region scores sit beside hit@k and AP.
TABLE_SCORES = ("hit", "ap", "region_f1", "region_precision", "region_recall", "count_error_abs", "count_error",
                "auroc", "dice")
#: The scores compared pair by pair with the reference method.
PAIRED_SCORES = ("hit", "ap", "region_f1", "count_error_abs")
SCORE_TITLES = {"hit": "hit@k", "ap": "average precision", "auroc": "pixel AUROC", "dice": "best Dice",
                "region_precision": "region precision", "region_recall": "region recall", "region_f1": "region F1",
                "count_error": "count error (regions reported - edits; mean, signed)",
                "count_error_abs": "|count error| (regions)", "count_error_rel": "|count error| / edits"}
LOWER_IS_BETTER = {"count_error_abs", "count_error_rel"}
#: Scores whose best value is nearest 0, not the highest.
NEAREST_ZERO = {"count_error"}


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
    for name in chosen:  # METHOD@RULE: the method, its regions found by RULE
        base, at, rule = name.partition("@")
        if at and base in available and rule:
            method = available[base]
            available[name] = dataclasses.replace(method, name=name, summary=f"{method.summary}; regions by {rule}",
                                                  regions=rule)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise SystemExit(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(available)} (and METHOD@RULE)")
    run, skipped = {}, {}
    for name in chosen:
        missing = available[name].missing()
        if missing:
            skipped[name] = f"not installed: {', '.join(missing)}"
        else:
            run[name] = available[name]
    return run, skipped


def pairs_of(split: str, variants: int, tracks: Sequence[str], seed: int = 0, images: Sequence[str] | None = None,
             max_side: int = MAX_SIDE, real_variants: int | None = None) -> Iterable[Pair]:
    """The pairs of ``tracks``: photograph tracks from :mod:`pairs`, real-content ones from :mod:`real`
    (``real_variants`` edit sets each, default ``variants``)."""
    unknown = [t for t in tracks if t not in ALL_TRACKS and t not in real.TRACKS]
    if unknown:
        raise SystemExit(f"unknown track(s) {', '.join(unknown)}; tracks are {', '.join((*ALL_TRACKS, *real.TRACKS))}")
    photo_tracks = [t for t in tracks if t in ALL_TRACKS]
    real_tracks = [t for t in tracks if t in real.TRACKS]
    if real_tracks and split not in (*real.SPLITS, "all") and not images:
        raise SystemExit(f"the real-content tracks have no {split!r} split; use {' or '.join(real.SPLITS)}")
    photo_images = [i for i in images if i in SOURCES] if images else None
    if photo_tracks and (photo_images or not images):
        yield from generate(split, variants, photo_tracks, seed, photo_images, max_side)
    if real_tracks:
        yield from real.generate(split, variants if real_variants is None else real_variants, real_tracks, seed, images,
                                 max_side)


def run(pairs: Iterable[Pair], methods: Mapping[str, M.Method], progress: bool = True,
        rule: str = DEFAULT_RULE) -> list[dict[str, Any]]:
    """Score every method on every pair; one row per (pair, method).

    A method's regions are its own (``Found``), else those of its ``regions`` rule, else those
    of ``rule``; the row's ``regions_by`` says which (``own`` or the rule's name). Methods that
    share one way of making a map (``METHOD`` and its ``METHOD@RULE`` variants) make it once
    per pair: the variants reuse the map, its time and its pixel scores.
    """
    built: dict[str, M.MapFn] = {}
    maker: dict[str, str] = {}  # method -> the first method with the same build, whose map it reuses
    for name, method in methods.items():
        maker[name] = next(other for other in methods if methods[other].build is method.build)
        if maker[name] == name:
            built[name] = method.build()
    rules: dict[str, RegionRule] = {}
    rows = []
    for index, pair in enumerate(pairs):
        boxes = [e.box for e in pair.edits]
        made: dict[str, tuple[Any, float, dict[str, float]]] = {}
        for name in methods:
            if maker[name] not in made:
                start = time.perf_counter()
                output = built[maker[name]](pair.a, pair.b)
                seconds = time.perf_counter() - start
                diff_map = M.map_of(output)
                if diff_map.shape != pair.truth.shape:
                    raise RuntimeError(f"{name} returned a map of shape {diff_map.shape} for {pair.name} "
                                       f"{pair.truth.shape}")
                made[maker[name]] = (output, seconds, score_map(diff_map, pair.truth, boxes))
            output, seconds, pixel = made[maker[name]]
            found = output.regions if isinstance(output, M.Found) else None
            diff_map = M.map_of(output)
            by = methods[name].regions or ("own" if found is not None else rule)
            if by != "own":
                if by not in rules:
                    rules[by] = region_rule(by)
                found = rules[by](diff_map, **M.known(output, pair.a, pair.b))
            scores = {**pixel, **region_scores(found, boxes, math.hypot(*diff_map.shape))}
            rows.append({"pair": pair.name, "image": pair.image, "track": pair.track, "variant": pair.variant,
                         "method": name, **scores, "count_error_abs": abs(scores["count_error"]),
                         "regions": len(found), "edits": len(boxes), "regions_by": by, "seconds": seconds})
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
            **{score: float(np.mean([r[score] for r in items])) for score in SCORES if score in items[0]},
            "seconds": float(np.median([r["seconds"] for r in items])),
            "pairs": len(items),
        }
    return summary


def goodness(score: str, value: float) -> float:
    """``value`` turned so that higher is better (the bold cell of a table is the highest)."""
    return -value if score in LOWER_IS_BETTER else -abs(value) if score in NEAREST_ZERO else value


def tables(summary: Mapping[str, Mapping[str, Mapping[str, float]]], methods: Sequence[str],
           tracks: Sequence[str]) -> str:
    """Markdown: one table per score, tracks as rows, methods as columns, the best in bold."""
    tracks = [t for t in tracks if t in summary]
    out = []
    for score in TABLE_SCORES:
        if not any(score in summary[t].get(m, {}) for t in tracks for m in methods):
            continue  # an earlier run's CSV, made before the score existed
        better = "lower" if score in LOWER_IS_BETTER else "nearest 0" if score in NEAREST_ZERO else "higher"
        out.append(f"**{SCORE_TITLES[score]}** ({better} is better)\n")
        out.append("| track | " + " | ".join(methods) + " |")
        out.append("|---|" + "---|" * len(methods))
        for track in tracks:
            values = [summary[track].get(m, {}).get(score) for m in methods]
            best = max((goodness(score, v) for v in values if v is not None), default=None)
            cells = [("—" if v is None else f"**{v:.3f}**" if round(goodness(score, v), 3) == round(best, 3)
                      else f"{v:.3f}") for v in values]
            out.append(f"| {track} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def paired_differences(rows: Sequence[Mapping[str, Any]], reference: str, scores: Sequence[str] = PAIRED_SCORES,
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
                if any((track, p, method) not in by_key or score not in by_key[(track, p, method)] for p in pairs):
                    continue
                diff = np.array([float(by_key[(track, p, reference)][score]) - float(by_key[(track, p, method)][score])
                                 for p in pairs])
                means = diff[draws].mean(1)
                out.setdefault(track, {}).setdefault(method, {})[score] = {
                    "mean": float(diff.mean()), "low": float(np.quantile(means, 0.025)),
                    "high": float(np.quantile(means, 0.975))}
    return out


def paired_table(paired: Mapping[str, Any], reference: str, methods: Sequence[str], score: str) -> str:
    """Markdown: ``reference`` minus each method, ``mean [low, high]``; bold where the interval says the
    reference is better (above 0, or below 0 for a score where lower is better)."""
    methods = [m for m in methods if m != reference]
    lower = score in LOWER_IS_BETTER
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
            cells.append(f"**{text}**" if (d["high"] < -1e-12 if lower else d["low"] > 1e-12) else text)
        out.append(f"| {track} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``scores.csv`` written by this runner, numbers as numbers."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in (*SCORES, "seconds", "regions", "edits"):
            if key in row:  # earlier runs have no region scores
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
    parser.add_argument("--split", default="test", choices=(*SPLITS, "all"),
                        help="photograph tracks: dev, test, fresh; real-content tracks: dev, test")
    parser.add_argument("--variants", type=int, default=3, help="edit sets per image (default 3)")
    parser.add_argument("--real-variants", type=int, default=None,
                        help="edit sets per source of the real-content tracks (default: --variants)")
    parser.add_argument("--tracks", default=",".join(TRACKS),
                        help=f"comma-separated, from {', '.join((*ALL_TRACKS, *real.TRACKS))}")
    parser.add_argument("--images", help="comma-separated source images, pages, figures... (default: the split's)")
    parser.add_argument("--region-rule", default=DEFAULT_RULE,
                        help=f"how regions are found in maps of methods that report none (default {DEFAULT_RULE}); "
                             "components, or a dfind postprocessor such as otsu:min_area=64")
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
        pairs = pairs_of(args.split, args.variants, tracks, args.seed, images, args.max_side, args.real_variants)
        rows = run(pairs, methods, progress=not args.quiet, rule=args.region_rule)
        described = {n: m.summary for n, m in methods.items()}
    summary = summarise(rows)
    table = tables(summary, list(described), tracks)
    paired = {}
    if args.reference in described:
        paired = paired_differences([r for r in rows if r["method"] in described], args.reference)
        table += "\n" + "\n".join(paired_table(paired, args.reference, list(described), s)
                                  for s in PAIRED_SCORES if any(s in v for d in paired.values() for v in d.values()))
    result = {
        "command": "python -m benchmarks.quality.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "split": args.split, "variants": args.variants, "real_variants": args.real_variants, "tracks": tracks,
        "seed": args.seed, "max_side": args.max_side, "region_rule": args.region_rule, "methods": described, "skipped": skipped,
        "versions": versions(), "summary": summary, "paired": paired,
    }
    if args.from_csv:  # how the scores were made is known only from a summary beside them, never from this run's defaults
        result.update({k: earlier.get(k) for k in ("split", "variants", "real_variants", "seed", "max_side", "region_rule")})
    result.update({k: earlier[k] for k in ("command", "skipped", "versions") if k in earlier})
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
