"""False differences on pairs with nothing changed: pages and plots drawn again, photographs
re-encoded or degraded, scenes rescanned.

    python -m benchmarks.quality.unchanged --split dev --variants 4 --out DIR
    python -m benchmarks.quality.unchanged --presets default --pipeline 'mine=strategy=difference;postprocessor=regions'

Every pair of the quality benchmark holds edits, so its scores never ask what a user comparing
screenshots from two machines asks first: with nothing changed, how many differences does a
preset report? For each page (``screens``) and plot (``figures``) source of the split and each
of the first ``--variants`` B settings, A is the reference rendering and B the same page or
figure drawn again under that setting with no edit (:func:`benchmarks.quality.screens.unchanged_pair`,
:func:`benchmarks.quality.figures.unchanged_pair`: the pairs of the degraded tracks, less their
edits). A third family, ``layout``, is the layout-shift page (``benchmarks/layout_shift.py``)
against its two anti-aliasing-only controls (its text drawn a third of a pixel to the right; the
page rendered at 3x and reduced), the same two pairs in every split: no round tunes on them,
and a sweep's ``--unchanged`` guard holds them as it holds the others (round twenty-eight's
windows had raised the first from 0 differences to 6 unseen). It prints, per family and preset,
the pairs, the share reported as unchanged (0 differences) and the mean and largest number of
differences, and writes ``unchanged.json``.

Three more families ask the same of the other tracks' degradations, each pair the degraded
pair of its track less the edits: ``photos`` (the photograph saved by A's and by B's encoder,
:func:`benchmarks.quality.photos.unchanged_pair`), ``drawn`` (the scene and the same scene printed
and rescanned, :func:`benchmarks.quality.drawn.unchanged_pair`) and ``degraded`` (the benchmark's
photographs degraded as the tracks ``jpeg``, ``noise``, ``shift``, ``resample`` and the stress
tracks degrade A and B, one track per variant, :func:`benchmarks.quality.pairs.unchanged_pair`).
A researcher comparing two restorations that differ only by an encoder, or a scan that differs only
by the scan, asks the same first question.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.quality import counting, drawn, figures, pairs, photos, real, screens
from benchmarks.quality.pairs import MAX_SIDE

PRESETS = counting.PRESETS
#: The layout-shift page's controls with nothing moved by a whole pixel (``layout`` family).
LAYOUT_CONTROLS = ("aa-subpixel", "aa-supersampled")


def layout_pair(source: str, variant: int = 0, seed: int = 0, max_side: int = MAX_SIDE
                ) -> tuple[np.ndarray, np.ndarray, str]:
    """The layout-shift page and one of its :data:`LAYOUT_CONTROLS` (one setting each: ``variant``,
    ``seed`` and ``max_side`` are the other makers'; the page is 640x400)."""
    from benchmarks import layout_shift

    case = next(case for case in layout_shift.cases() if case.name == source)
    return layout_shift.render(layout_shift.Page()), layout_shift.render(case.b), source


MAKERS = {"screens": screens.unchanged_pair, "figures": figures.unchanged_pair, "layout": layout_pair,
          "photos": photos.unchanged_pair, "drawn": drawn.unchanged_pair, "degraded": pairs.unchanged_pair}


def _pairs_of(family: str, split: str, variants: int) -> list[tuple[str, int]]:
    """``(source, variant)`` of a family's pairs: each source of the split under ``variants``
    settings; the layout controls once each, whatever the split."""
    if family == "layout":
        return [(source, 0) for source in LAYOUT_CONTROLS]
    sources = pairs.images_of(split) if family == "degraded" else real.sources_of(family, split)
    return [(source, variant) for source in sources for variant in range(variants)]


def count(split: str, variants: int, presets: Sequence[str], seed: int = 0,
          pipelines: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One record per pair: family, source, B's setting and the differences each preset, and each
    pipeline (``LABEL=SPEC`` as the runner's ``--pipeline`` takes it), reports."""
    finders = counting.finders(presets, pipelines)
    records = []
    for family, make in MAKERS.items():
        for source, variant in _pairs_of(family, split, variants):
            a, b, setting = make(source, variant, seed, MAX_SIDE)
            found = {preset: len(finder.run(a, b).regions) for preset, finder in finders.items()}
            records.append({"family": family, "source": source, "variant": variant, "setting": setting,
                            "differences": found})
    return records


def means(records: Sequence[dict[str, Any]], label: str) -> dict[str, float]:
    """family -> the mean number of differences ``label`` reports on its pairs."""
    return {family: statistics.mean(r["differences"][label] for r in records if r["family"] == family)
            for family in MAKERS if any(r["family"] == family for r in records)}


def table(records: Sequence[dict[str, Any]], presets: Sequence[str]) -> str:
    out = ["| family | preset | pairs | reported unchanged | differences: mean | largest |",
           "|---|---|---|---|---|---|"]
    for family in MAKERS:
        rows = [r for r in records if r["family"] == family]
        for preset in presets:
            counts = [r["differences"][preset] for r in rows]
            if counts:
                out.append(f"| {family} | `{preset}` | {len(counts)} | {sum(c == 0 for c in counts) / len(counts):.0%} | "
                           f"{statistics.mean(counts):.1f} | {max(counts)} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    return counting.main(argv, doc=__doc__, name="unchanged", splits=real.SPLITS, variants=4,
                         variants_help="B settings per source, cycled (default 4: each once)", count=count, table=table)


if __name__ == "__main__":
    main()
