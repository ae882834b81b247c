"""Tracks of real-world content: screens, figures, drawn scenes and re-encoded photographs.

The tracks of :mod:`benchmarks.quality.pairs` edit photographs and degrade them with
synthetic noise, shifts and resampling. The tracks here are made of what a user compares:

=========== ==============================================================================
screens     web pages the benchmark writes, rendered by headless Chromium (Playwright);
            text, numbers, colours, icons, borders and positions changed; B rendered at
            another device scale factor resampled back, or with unhinted text
            (:mod:`benchmarks.quality.screens`)
figures     matplotlib plots with a data or label change; B rendered at another DPI
            resampled back, without antialiasing, or with other text hinting
            (:mod:`benchmarks.quality.figures`)
drawn       line-art scenes drawn from vector primitives (supersampled); objects added,
            removed, recoloured, moved; B printed and rescanned: scaled, turned, offset,
            blurred, tinted, noisy, with another scanner margin (:mod:`benchmarks.quality.drawn`)
photos      photographs the packages ship that the other splits do not use, with the seven
            edits of :mod:`benchmarks.quality.pairs`; A and B saved by other JPEG encoders
            and settings (Pillow, OpenCV, WebP) (:mod:`benchmarks.quality.photos`)
=========== ==============================================================================

Run ``python -m benchmarks.quality.real OUT --split dev --tracks screens,drawn`` to write
pairs to a folder (PNG files and ``pairs.json``), as :mod:`benchmarks.quality.pairs` does.

Each family has two tracks: ``NAME`` (B degraded as above) and ``NAME-pristine`` (B made
exactly as A, so the truth is the set of pixels that differ). Every pair is a pure function
of ``(source, variant, seed)``; each family's sources fall into a ``dev`` split (used to
study and tune) and a held-out ``test`` split of other sources (pages, plots, scenes,
photographs), kept for the final report.

The truth of a render is exact: the edited and the unedited content are rendered under the
*same* settings and compared; a degraded track takes the union of that comparison under
A's settings and under B's, so every pixel that differs because of the edit, in either
rasterisation, is true, and nothing else is. Each edit's mask is the part of the truth
nearest to the edit's own footprint (its element's or artist's box, its object's pixels),
and the edit's box is that mask's box.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy import ndimage

from benchmarks.quality.pairs import MAX_SIDE, Edit, Pair, write_pair

FAMILIES = ("screens", "figures", "drawn", "photos")
TRACKS = tuple(t for family in FAMILIES for t in (family, f"{family}-pristine"))
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Source:
    """A source of one family: its name, split and licence (``generated`` for the benchmark's own)."""

    name: str
    split: str
    licence: str


def family_of(track: str) -> str:
    family = track.removesuffix("-pristine")
    if track not in TRACKS:
        raise ValueError(f"unknown track {track!r}; real-content tracks are {', '.join(TRACKS)}")
    return family


def module(family: str) -> ModuleType:
    return importlib.import_module(f"benchmarks.quality.{family}")


def sources_of(family: str, split: str) -> list[str]:
    """The names of ``family``'s sources in ``split`` (``all``: every split)."""
    if split != "all" and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for real-content tracks; splits are {', '.join(SPLITS)} or all")
    return [name for name, source in module(family).SOURCES.items() if split == "all" or source.split == split]


def make_pair(track: str, source: str, variant: int = 0, seed: int = 0, max_side: int = MAX_SIDE) -> Pair:
    """The pair ``variant`` of ``source`` in ``track``; a pure function of its arguments."""
    family = family_of(track)
    found = module(family)
    if source not in found.SOURCES:
        raise ValueError(f"unknown {family} source {source!r}; sources are {', '.join(found.SOURCES)}")
    return found.make_pair(source, int(variant), not track.endswith("-pristine"), int(seed), int(max_side))


def generate(split: str, variants: int, tracks: Sequence[str], seed: int = 0, sources: Sequence[str] | None = None,
             max_side: int = MAX_SIDE) -> Iterator[Pair]:
    """Every pair of ``tracks`` in ``split``: each source, ``variants`` edit sets.

    ``sources`` (names of any family's sources) replaces the split, as ``--images`` does. A
    source, variant and seed on which no edit could be placed make no pair (said on stderr).
    """
    for track in tracks:
        family = family_of(track)
        names = sources_of(family, "all" if sources else split)
        if sources:
            names = [n for n in names if n in sources]
        for source in names:
            for variant in range(variants):
                try:
                    pair = make_pair(track, source, variant, seed, max_side)
                except NoEdits:
                    print(f"{source}-{variant}-{track}, seed {seed}: no edit could be placed; no pair",
                          file=sys.stderr)
                    continue
                yield pair


class NoEdits(ValueError):
    """A scene, page or figure on which no edit could be placed."""


def licence_of(track: str, source: str) -> str:
    return module(family_of(track)).SOURCES[source].licence


def assign(truth: np.ndarray, footprints: Sequence[tuple[str, np.ndarray]]) -> list[Edit]:
    """Split ``truth`` (HxW bool) among the edits: each true pixel goes to the nearest footprint.

    ``footprints`` are ``(kind, HxW bool)``: where each edit acts (its element's box, its
    object's pixels). An edit whose share of the truth is empty changed nothing and is left
    out. The edits' masks add up to ``truth`` exactly.
    """
    if not footprints:
        raise NoEdits("no edit to assign the truth to")
    distance = np.stack([ndimage.distance_transform_edt(~mask) if mask.any() else np.full(truth.shape, np.inf)
                         for _, mask in footprints])
    nearest = distance.argmin(0)
    edits = []
    for index, (kind, _) in enumerate(footprints):
        share = truth & (nearest == index)
        if share.any():
            edits.append(Edit(kind, share))
    return edits


def rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in keys]))


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels where two HxWx3 uint8 renders differ in any channel."""
    return (a != b).any(2)


def area_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resampled to ``size`` = (width, height): area when shrinking, bicubic when enlarging."""
    import cv2

    h, w = image.shape[:2]
    if (w, h) == tuple(size):
        return image
    interpolation = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write real-content pairs with exact change masks.")
    parser.add_argument("out", type=Path, help="folder for NAME.a.png, NAME.b.png, NAME.truth.png, pairs.json")
    parser.add_argument("--split", default="dev", choices=(*SPLITS, "all"))
    parser.add_argument("--variants", type=int, default=3, help="edit sets per source")
    parser.add_argument("--tracks", default=",".join(FAMILIES), help=f"comma-separated, from {', '.join(TRACKS)}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    records = [write_pair(p, args.out, licence_of(p.track, p.image))
               for p in generate(args.split, args.variants, args.tracks.split(","), args.seed)]
    (args.out / "pairs.json").write_text(json.dumps(records, indent=1) + "\n")
    print(f"wrote {len(records)} pairs to {args.out}")


if __name__ == "__main__":
    main()
