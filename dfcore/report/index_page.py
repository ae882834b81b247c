"""The index page of a folder run: every pair worst first, with thumbnails, scores and failures."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dfcore.io.layout import read_score
from dfcore.io.pair_rules import describe_rule
from dfcore.report.model import PairRecord, as_float
from dfcore.report.pages import card, document, esc, flatten, fmt, percent, src, static


def render_index(records: Sequence[PairRecord], out: Path, pages: Mapping[str, Path], heading: str,
                 folders: Sequence[str] = (), summary: Mapping[str, Any] | None = None) -> str:
    """The index of a folder run: ``records`` in order (failures first, then worst first).

    ``summary``: the run's ``summary.json``, for how the folders were paired and the files
    left on one side (listed below the pairs).
    """
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    metrics = sorted({r.metric for r in ok})
    eval_keys: list[str] = []
    for record in ok:
        for key, _ in flatten(record.data.get("evaluation")):
            if key not in eval_keys and len(eval_keys) < 4:
                eval_keys.append(key)
    show_metric = len(metrics) > 1
    show_changed = any("mask_fraction" in r.data for r in ok)
    detected = [r for r in ok if detects_regions(r.data)]
    head = ['<th data-sort="rank" title="Worst first">#</th>', "<th>pair</th>",
            '<th class="nosort">A</th>', '<th class="nosort">B</th>', '<th class="nosort">map</th>']
    if show_metric:
        head.append("<th>metric</th>")
    head.append(f'<th class="num">{esc(metrics[0]) if len(metrics) == 1 else "score"}</th>')
    head += ['<th class="num">regions</th>'] if detected else []
    head += ['<th class="num">changed</th>'] if show_changed else []
    head += [f'<th class="num">{esc(k)}</th>' for k in eval_keys]
    head.append("<th>status</th>")
    rows = []
    columns = {"metric": show_metric, "regions": bool(detected), "changed": show_changed}
    for rank, record in enumerate(records, start=1):
        rows.append(_index_row(rank, record, out, pages.get(record.name), columns, eval_keys))
    table = (f'<table class="pairs"><thead><tr>{"".join(head)}</tr></thead><tbody>\n'
             + "\n".join(rows) + "\n</tbody></table>")
    if not records:
        table = '<p class="empty">No results in this folder.</p>'
    notes = [f"{role} <code>{esc(folder)}</code>" for role, folder in zip("AB", folders)]
    if summary is not None and isinstance(summary.get("pairing"), Mapping):
        notes.append(f"paired {esc(describe_rule(summary['pairing']))}")
    config = (summary or {}).get("config") or (ok[0].data.get("config") if ok else None)
    if isinstance(config, Mapping) and what_ran(config):
        notes.append(f"ran {esc(what_ran(config))}")
    return document(
        "index",
        title=esc(f"{heading} · dfind"),
        heading=esc(heading),
        cards=_index_cards(ok, failed, metrics, detected, summary or {}),
        notes=f'<p class="muted folders">{" · ".join(notes)}</p>' if notes else "",
        table=table,
        leftover=_left_over(summary or {}, folders, out),
        script=static("common.js") + "\n" + static("index.js"),
    )


def detects_regions(data: Mapping[str, Any]) -> bool:
    """Whether region detection ran on a pair: a postprocessor made a mask (or regions), as the summary counts it."""
    return "mask_fraction" in data or bool(data.get("regions"))


def what_ran(config: Mapping[str, Any]) -> str:
    """The stages of a pipeline in order, by name: ``highpass → ssim → gradient → threshold``."""
    names = []
    for kind in ("preprocessor", "metric", "strategy", "postprocessor"):
        stages = config.get(kind)
        for stage in stages if isinstance(stages, list) else [stages] if stages else []:
            if isinstance(stage, Mapping) and stage.get("name"):
                names.append(str(stage["name"]))
    return " → ".join(names)


def _index_row(rank: int, record: PairRecord, out: Path, page: Path | None, columns: Mapping[str, bool],
               eval_keys: Sequence[str]) -> str:
    name = esc(record.name)
    show_metric, show_changed = columns["metric"], columns["changed"]
    if not record.ok:
        sources = " ⇄ ".join(esc(record.sources[k]) for k in ("a", "b") if record.sources.get(k))
        detail = f'<div class="muted mono">{sources}</div>' if sources else ""
        empty = '<td class="num" data-value="NaN">–</td>'
        cells = ['<td class="thumb"><span class="nothumb">failed</span></td>'] * 3
        cells += ["<td>–</td>"] * int(show_metric)
        cells += [empty] * (1 + int(columns["regions"]) + int(show_changed) + len(eval_keys))
        return (f'<tr class="failed" data-name="{name}"><td class="num" data-value="{rank}">{rank}</td>'
                f'<td class="name">{name}<div class="error">{esc(record.error)}</div>{detail}</td>{"".join(cells)}'
                f'<td data-value="0"><span class="status failed">failed</span></td></tr>')
    href = esc(src(page, out)) if page else ""
    partner = Path(record.sources.get("b") or "").name
    with_b = (f'<div class="muted mono">with {esc(partner)}</div>'
              if partner and partner != Path(record.name).name else "")  # paired by order or by stem
    cells = [f'<td class="num" data-value="{rank}">{rank}</td>',
             f'<td class="name"><a class="pair-link" href="{href}">{name}</a>{with_b}</td>']
    for role in ("a", "b", "map"):
        thumb = record.thumbs.get(role)
        image = (f'<img src="{esc(src(thumb, out))}" alt="{esc(role)} of {name}" loading="lazy" decoding="async">'
                 if thumb else '<span class="nothumb">none</span>')
        cells.append(f'<td class="thumb"><a href="{href}" tabindex="-1">{image}</a></td>')
    data = record.data
    if show_metric:
        cells.append(f"<td>{esc(record.metric)}</td>")
    score = record.score
    cells.append(f'<td class="num mono" data-value="{_sortable(score)}" title="'
                 f'{"higher" if record.higher_is_better else "lower"} is better">{esc(fmt(read_score(data)))}</td>')
    if columns["regions"]:
        n_regions = len(data.get("regions") or [])
        cells.append(f'<td class="num" data-value="{n_regions}">{n_regions}</td>'
                     if detects_regions(data) else '<td class="num" data-value="NaN">–</td>')
    if show_changed:
        fraction = data.get("mask_fraction")
        cells.append(f'<td class="num" data-value="{_sortable(as_float(fraction))}">'
                     f'{esc(percent(fraction)) if fraction is not None else "–"}</td>')
    evaluation = dict(flatten(data.get("evaluation")))
    for key in eval_keys:
        value = evaluation.get(key)
        cells.append(f'<td class="num" data-value="{_sortable(as_float(value))}">{esc(fmt(value, 4))}</td>')
    cells.append('<td data-value="1"><span class="status ok">ok</span></td>')
    return f'<tr data-name="{name}">' + "".join(cells) + "</tr>"


#: How the index names the files on one side only, by summary key: (a word for them, where they are).
ONE_SIDED = {"only_truth": ("", "the truth"), "only_a": ("deleted", "A"), "only_b": ("new", "B")}


def _left_over(summary: Mapping[str, Any], folders: Sequence[str], out: Path) -> str:
    """The files the pairing left on one side, a list per folder; nothing when there are none.

    In a run of two folders, a file only in B is *new* and one only in A *deleted* (the
    screenshot that appeared or went away); each links to the file, with a thumbnail, when
    the summary records the folders.
    """
    recorded = summary.get("folders") if isinstance(summary.get("folders"), Mapping) else {}
    where = dict(zip(("only_a", "only_b"), folders))
    two_folders = summary.get("kind", "diff") == "diff"
    lists = []
    for key, (word, side) in ONE_SIDED.items():
        names = summary.get(key)
        if not isinstance(names, list) or not names:
            continue
        folder = f" <code>{esc(where[key])}</code>" if key in where else ""
        root = recorded.get(key[-1]) if key in ("only_a", "only_b") else None
        items = "".join(_one_sided_item(str(name), root, out) for name in names)
        label = f"{word}: only in {side}" if two_folders and word else f"only in {side}"
        lists.append(f'<details class="one-sided" data-side="{esc(key)}"{" open" if len(names) <= 10 else ""}>'
                     f'<summary>{label}{folder}: '
                     f'{len(names)}</summary><ul>{items}</ul></details>')
    if not lists:
        return ""
    total = sum(len(summary[key]) for key in ONE_SIDED if isinstance(summary.get(key), list))
    return (f'<section class="block leftover" id="one-sided" aria-label="Files on one side only"><h2>Not paired: '
            f'{total} file{"s" if total != 1 else ""} on one side only</h2><div class="body">{"".join(lists)}</div>'
            "</section>")


def _one_sided_item(name: str, root: str | None, out: Path) -> str:
    if not root or not (Path(root) / name).is_file():
        return f"<li><code>{esc(name)}</code></li>"
    href = esc(src(Path(root) / name, out))
    return (f'<li><a href="{href}"><img class="one-sided-thumb" src="{href}" alt="" loading="lazy" '
            f'decoding="async"><code>{esc(name)}</code></a></li>')


def _sortable(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "1e308" if value > 0 else "-1e308"
    return repr(value)


def _index_cards(ok: Sequence[PairRecord], failed: Sequence[PairRecord], metrics: Sequence[str],
                 detected: Sequence[PairRecord], summary: Mapping[str, Any]) -> str:
    cards = [card("Pairs", esc(fmt(len(ok) + len(failed))), f"{len(ok)} compared", primary=True)]
    cards.append(card("Failed", esc(fmt(len(failed))), "see the first rows" if failed else "none"))
    if summary.get("kind", "diff") == "diff":
        for key, label, hint in (("only_b", "New", "only in B"), ("only_a", "Deleted", "only in A")):
            names = summary.get(key)
            if isinstance(names, list) and names:
                cards.append(card(label, f'<a href="#one-sided">{esc(fmt(len(names)))}</a>', hint))
    for metric in metrics:
        scores = [r.score for r in ok if r.metric == metric]
        finite = [s for s in scores if math.isfinite(s)]
        higher = next(r.higher_is_better for r in ok if r.metric == metric)
        if finite:
            worst = min(finite) if higher else max(finite)
            best = max(finite) if higher else min(finite)
            hint = f"median {fmt(statistics.median(finite), 4)} · best {fmt(best, 4)}"
            cards.append(card(esc(f"worst {metric}"), esc(fmt(worst, 6)),
                               esc(hint) + f" · {'higher' if higher else 'lower'} is better"))
            if len(finite) >= 3:
                cards.append(f'<div class="card"><div class="label">{esc(metric)} distribution</div>'
                             f"{_histogram(finite)}</div>")
    if detected:  # no count where no postprocessor looked for regions
        regions = sum(len(r.data.get("regions") or []) for r in detected)
        chain = what_ran({"postprocessor": (detected[0].data.get("config") or {}).get("postprocessor")})
        by = f" by {chain}" if chain else ""
        cards.append(card("Regions", esc(fmt(regions)), esc(f"found in {len(detected)} of {len(ok)} pairs{by}")))
    return f'<section class="cards" aria-label="Summary">{"".join(cards)}</section>'


def _histogram(values: Sequence[float], bins: int = 24, width: int = 220, height: int = 44) -> str:
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((v - low) / span * bins), bins - 1)] += 1
    top = max(counts)
    bar = width / bins
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - 12 - c / top * (height - 14):.1f}" width="{bar - 1:.1f}" '
        f'height="{c / top * (height - 14):.1f}"><title>{c}</title></rect>'
        for i, c in enumerate(counts) if c
    )
    return (f'<svg class="hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="score histogram">{rects}<text x="0" y="{height - 1}">{esc(fmt(low, 3))}</text>'
            f'<text x="{width}" y="{height - 1}" text-anchor="end">{esc(fmt(high, 3))}</text></svg>')
