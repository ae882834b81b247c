"""Where a method's regions go wrong, edit by edit and region by region, on development pairs.

    python -m benchmarks.quality.failures --tracks screens,figures,drawn,photos --method dfind:default

For every pair it makes the method's map and regions (its own, else ``--region-rule``'s),
matches them to the edits as :func:`benchmarks.quality.scores.match_regions` does, and sorts
what went wrong:

* each **missed edit**: ``merged`` (a region overlaps its grown box but was matched to another
  edit), ``faint`` (the map's highest value on the edit is below the 99th percentile of the map
  over unchanged pixels: the map itself does not single it out), or ``dropped`` (it stands out
  in the map, but the rule kept no region there);
* each **false region**: ``fragment`` (it overlaps the grown box of an edit: a second piece of
  an edit), ``border`` (its box comes within 2% of the diagonal of the image's edge),
  ``edges`` (at least 10% of its box lies on A's edges, Canny: text, outlines, texture),
  ``elsewhere``.

Each false region and each found edit's region also carries ``shift``: how much of the pair's
difference in its box (grown by :data:`SHIFT_MARGIN` px) one whole-pixel move of B by at most
:data:`SHIFT_REACH` px takes away (:func:`shift_explained`: the mean |A - B| at the best move
over the mean at none, and the move). A region that text drawn again a pixel or two off makes
and a thing the edit moved by as much are told apart by nothing else; the table's last lines
count the regions each way at or below :data:`SHIFT_EXPLAINED`.

It prints one table per track and writes ``failures.json`` with the counts and, per pair, the
boxes. Only the development split runs here: the held-out splits are kept for reports.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.quality import methods as M
from benchmarks.quality import real
from benchmarks.quality.pairs import Pair, images_of
from benchmarks.quality.regions import DEFAULT_RULE, region_rule
from benchmarks.quality.run import pairs_of, select_methods
from benchmarks.quality.scores import BOX_GROWTH, Reported, find_peaks, hits, match_regions

MISSES = ("merged", "faint", "dropped")
FALSE = ("fragment", "border", "edges", "elsewhere")


def _overlaps(p: Sequence[float], q: Sequence[float]) -> bool:
    return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]


#: :func:`shift_explained`: B moved by up to this many px each way, in a box grown by this margin.
SHIFT_REACH, SHIFT_MARGIN = 2, 4
#: A region counts as explained by a move of B when the best move leaves at most this share.
SHIFT_EXPLAINED = 0.4


def shift_explained(a: np.ndarray, b: np.ndarray, box: Sequence[int], reach: int = SHIFT_REACH,
                    margin: int = SHIFT_MARGIN) -> dict[str, Any] | None:
    """The share of the mean ``|A - B|`` over ``box`` (grown by ``margin``) that is left when B is moved
    by the best whole-pixel ``(dy, dx)`` within ``reach``, and that move; ``None`` without room or difference."""
    h, w = a.shape[:2]
    x0, y0 = max(box[0] - margin, reach), max(box[1] - margin, reach)
    x1, y1 = min(box[2] + margin, w - reach), min(box[3] + margin, h - reach)
    if x1 <= x0 or y1 <= y0:
        return None
    a_box = a[y0:y1, x0:x1].astype(np.float64)
    left = {(dy, dx): float(np.abs(a_box - b[y0 + dy:y1 + dy, x0 + dx:x1 + dx]).mean())
            for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)}
    if left[(0, 0)] == 0:
        return None
    move = min(left, key=left.get)
    return {"left": round(left[move] / left[(0, 0)], 3), "by": list(move)}


def diagnose(pair: Pair, diff_map: np.ndarray, found: list[Reported]) -> dict[str, Any]:
    """The matching of one pair, each missed edit and each false region with its cause."""
    boxes = [e.box for e in pair.edits]
    diagonal = math.hypot(*pair.truth.shape)
    grow = BOX_GROWTH * diagonal
    grown = [(x0 - grow, y0 - grow, x1 + grow, y1 + grow) for x0, y0, x1, y1 in boxes]
    matched = match_regions(found, boxes, diagonal)
    region_of = {edit: region for region, edit in matched}
    peaks = find_peaks(diff_map, len(boxes))
    level = float(np.quantile(diff_map[~pair.truth], 0.99)) if (~pair.truth).any() else 0.0
    edges = cv2.Canny(cv2.cvtColor(pair.a, cv2.COLOR_RGB2GRAY), 60, 160) > 0
    h, w = pair.truth.shape
    edits = []
    for index, edit in enumerate(pair.edits):
        record = {"kind": edit.kind, "box": list(edit.box), "found": index in region_of,
                  "hit": bool(hits(peaks, [edit.box], diagonal)[0]),
                  "strength": float(diff_map[edit.mask].max() / level) if level > 0 else float("inf")}
        if index in region_of:
            record["shift"] = shift_explained(pair.a, pair.b, found[region_of[index]].box)
        if index not in region_of:
            if any(_overlaps(r.box, grown[index]) for r in found):
                record["why"] = "merged"
            elif diff_map[edit.mask].max() <= level:
                record["why"] = "faint"
            else:
                record["why"] = "dropped"
        edits.append(record)
    false = []
    matched_regions = {region for region, _ in matched}
    for index, region in enumerate(found):
        if index in matched_regions:
            continue
        x0, y0, x1, y1 = region.box
        if any(_overlaps(region.box, g) for g in grown):
            why = "fragment"
        elif min(x0, y0, w - x1, h - y1) < 0.02 * diagonal:
            why = "border"
        elif edges[y0:y1, x0:x1].mean() >= 0.1:
            why = "edges"
        else:
            why = "elsewhere"
        false.append({"box": list(region.box), "score": region.score, "why": why,
                      "shift": shift_explained(pair.a, pair.b, region.box)})
    return {"pair": pair.name, "track": pair.track, "regions": len(found), "edits": edits, "false": false}


def analyse(pairs: Iterable[Pair], method: M.Method, rule: str = DEFAULT_RULE) -> list[dict[str, Any]]:
    fn = method.build()
    rules = region_rule(method.regions or rule)
    out = []
    for pair in pairs:
        output = fn(pair.a, pair.b)
        found = output.regions if isinstance(output, M.Found) and not method.regions else None
        diff_map = M.map_of(output)
        out.append(diagnose(pair, diff_map, found if found is not None else rules(diff_map, **M.known(output, pair.a, pair.b))))
    return out


def summary(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Counts per track: edits and their finding per kind, misses and false regions by cause."""
    tracks: dict[str, dict[str, Any]] = {}
    for record in records:
        t = tracks.setdefault(record["track"], {"pairs": 0, "regions": 0, "kinds": {}, "missed": Counter(),
                                                "false": Counter(), "shifted": Counter()})
        t["pairs"] += 1
        t["regions"] += record["regions"]
        for edit in record["edits"]:
            k = t["kinds"].setdefault(edit["kind"], {"edits": 0, "found": 0, "hit": 0})
            k["edits"] += 1
            k["found"] += edit["found"]
            k["hit"] += edit["hit"]
            if "why" in edit:
                t["missed"][edit["why"]] += 1
            if edit.get("found"):
                t["shifted"]["found" + ("" if _explained(edit.get("shift")) else ": not")] += 1
        for region in record["false"]:
            t["false"][region["why"]] += 1
            t["shifted"]["false" + ("" if _explained(region.get("shift")) else ": not")] += 1
    return {name: {**t, "missed": dict(t["missed"]), "false": dict(t["false"]), "shifted": dict(t["shifted"])}
            for name, t in tracks.items()}


def _explained(shift: dict[str, Any] | None) -> bool:
    return shift is not None and shift["left"] <= SHIFT_EXPLAINED


def table(counts: dict[str, dict[str, Any]]) -> str:
    out = []
    for track, t in counts.items():
        edits = sum(k["edits"] for k in t["kinds"].values())
        out.append(f"**{track}**: {t['pairs']} pairs, {edits} edits, {t['regions']} regions reported\n")
        out.append("| edit kind | edits | found by a region | hit@k |\n|---|---|---|---|")
        for kind, k in sorted(t["kinds"].items()):
            out.append(f"| {kind} | {k['edits']} | {k['found']} | {k['hit']} |")
        causes = [f"missed: {m}" for m in MISSES] + [f"false: {f}" for f in FALSE]
        out.append("\n| " + " | ".join(causes) + " |\n|" + "---|" * len(causes))
        out.append("| " + " | ".join(str(t["missed"].get(m, 0)) for m in MISSES) + " | "
                   + " | ".join(str(t["false"].get(f, 0)) for f in FALSE) + " |")
        shifted = t.get("shifted", {})
        out.append(f"\nExplained by moving B up to {SHIFT_REACH} px (at most {SHIFT_EXPLAINED} left): "
                   f"{shifted.get('found', 0)} of {shifted.get('found', 0) + shifted.get('found: not', 0)} found "
                   f"edits' regions, {shifted.get('false', 0)} of {shifted.get('false', 0) + shifted.get('false: not', 0)} "
                   "false regions.")
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Sort a method's misses and false regions by cause (dev pairs).")
    parser.add_argument("--tracks", default="screens,figures,drawn,photos")
    parser.add_argument("--method", default="dfind:default", help="a method of the runner (METHOD@RULE too)")
    parser.add_argument("--region-rule", default=DEFAULT_RULE)
    parser.add_argument("--images", help="comma-separated sources (default: the development split's)")
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write failures.json and failures.md here")
    args = parser.parse_args(argv)
    methods, skipped = select_methods([args.method])
    if skipped:
        raise SystemExit(f"{args.method}: {skipped[args.method]}")
    images = args.images.split(",") if args.images else None
    development = set(images_of("dev")).union(*(real.sources_of(f, "dev") for f in real.FAMILIES))
    if images and not set(images) <= development:
        raise SystemExit(f"not development sources: {', '.join(sorted(set(images) - development))}")
    pairs = pairs_of("dev", args.variants, args.tracks.split(","), args.seed, images)
    records = analyse(pairs, methods[args.method], args.region_rule)
    counts = summary(records)
    text = table(counts)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        command = " ".join(sys.argv[1:] if argv is None else argv)
        result = {"command": f"python -m benchmarks.quality.failures {command}", "method": args.method,
                  "region_rule": args.region_rule, "summary": counts, "pairs": records}
        (args.out / "failures.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.out / "failures.md").write_text(text + "\n")
    print(text)
    return counts


if __name__ == "__main__":
    main()
