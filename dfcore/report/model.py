"""What a report shows, gathered from results: in memory, or from the files of an output folder.

The data model is the pair record that :meth:`dfcore.pipeline.DiffResult.save` writes (``to_dict()``
plus ``display`` and ``files``). A folder run's report is built from the folder alone, so it
looks the same whether the run was local, distributed or resumed: every ``NAME.json`` is a
pair, and failed pairs come from ``summary.json`` / ``summary.csv`` when the run wrote one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfcore.errors import DfindError
from dfcore.io.layout import (
    FAILED,
    THUMBS_DIR,
    pair_records,
    read_json,
    read_score,
    read_summary_rows,
    sibling,
    stem_of,
)
from dfcore.io.render import apply_colormap, color_scale, default_colormap
from dfcore.report import pictures


@dataclass
class PairRecord:
    """One pair as a report shows it.

    Attributes:
        name: the pair's name (B's file name, or its relative path in a folder run).
        data: the pair's JSON (``DiffResult.to_dict()`` and ``display``); ``None`` for a failure.
        images: role (``a``, ``b``, ``heatmap``, ``mask``) -> a file, or a ``data:`` URI.
        notes: lines the page shows about what is missing or how it was obtained.
        error: why the pair failed (a failure has no data and no page).
        json_path: the JSON file the record was read from, for folder runs.
        thumbs: role (``a``, ``b``, ``map``) -> thumbnail file, for the index.
    """

    name: str
    data: dict[str, Any] | None = None
    images: dict[str, Path | str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    json_path: Path | None = None
    thumbs: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.data is not None

    @property
    def score(self) -> float:
        score = read_score(self.data) if self.data else None
        return math.nan if score is None else score

    @property
    def higher_is_better(self) -> bool:
        return bool(self.data and self.data.get("higher_is_better"))

    @property
    def metric(self) -> str:
        return str(self.data.get("metric") or "") if self.data else ""

    @property
    def badness(self) -> float:
        """Larger = worse, whatever the metric's direction; NaN scores count as worst."""
        score = self.score
        if math.isnan(score):
            return math.inf
        return -score if self.higher_is_better else score


def as_float(value: Any) -> float:
    """A JSON score (a number, or ``"inf"``/``"-inf"``/``"nan"``) as a float."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def display_of(data: Mapping[str, Any], map2d: np.ndarray | None = None) -> dict[str, Any]:
    """The colour scale of a pair: the JSON's ``display``, or the defaults for its map."""
    display = data.get("display")
    if isinstance(display, Mapping) and "vmin" in display and "vmax" in display:
        return {**display, "colormap": display.get("colormap") or default_colormap(float(display["vmin"])),
                "vmin": float(display["vmin"]), "vmax": float(display["vmax"])}
    if map2d is not None:
        vmin, vmax = color_scale(map2d)
    else:
        stats = data.get("map") or {}
        low, high = as_float(stats.get("min", 0.0)), as_float(stats.get("max", 1.0))
        top = max(abs(low), abs(high)) if math.isfinite(low) and math.isfinite(high) else 1.0
        vmin, vmax = (-top if low < 0 else 0.0), (top or 1.0)
    return {"colormap": default_colormap(vmin), "vmin": vmin, "vmax": vmax}


# -- from a result in memory ----------------------------------------------------------------


def record_from_result(result: Any, max_side: int | None = 2048) -> PairRecord:
    """A record of a :class:`~dfcore.pipeline.DiffResult` with every image embedded as a data URI.

    Pictures larger than ``max_side`` are reduced by an integer factor (the map by its
    largest values); the page still measures everything in the map's pixels.
    """
    data = result.to_dict()
    data["display"] = result.display() if hasattr(result, "display") else display_of(data, result.map)
    height, width = result.map.shape
    factor = pictures.reduction(height, width, max_side)
    record = PairRecord(name=str(result.name or "pair"), data=data)
    display = data["display"]
    heat = apply_colormap(pictures.reduce_map(result.map, factor), display["colormap"], display["vmin"], display["vmax"])
    record.images["heatmap"] = pictures.data_uri(heat)
    if result.mask is not None:
        record.images["mask"] = pictures.data_uri(pictures.reduce_mask(result.mask, factor).astype(np.uint8) * 255)
    previews = result.previews
    for index, role in enumerate(("a", "b")):
        if previews is not None:
            picture, reason = pictures.to_uint8(previews[index]), None
        else:
            picture, reason = picture_from_source(data, role)
        if picture is None:
            record.notes.append(f"{role.upper()} is not shown: {reason}")
            continue
        if previews is None:
            record.notes.append(f"{role.upper()} was read again from {_source(data, role)}.")
        record.images[role] = pictures.data_uri(pictures.reduce_picture(picture, factor))
    if factor > 1:
        record.notes.append(f"Pictures are shown at 1/{factor} of full size (the map keeps each block's largest value).")
    return record


def _source(data: Mapping[str, Any], role: str) -> str | None:
    entry = (data.get("inputs") or {}).get(role)
    source = entry.get("source") if isinstance(entry, Mapping) else None
    return str(source) if source else None


def picture_from_source(data: Mapping[str, Any], role: str) -> tuple[np.ndarray | None, str]:
    source = _source(data, role)
    if source is None:
        return None, "the result holds no picture of it and names no source file"
    if not Path(source).is_file():
        return None, f"its source {source} is not a file here"
    picture, reason = pictures.read_picture_quietly(source)
    return picture, reason or ""


# -- from an output folder -------------------------------------------------------------------


def record_from_json(path: Path, data: Mapping[str, Any] | None = None) -> PairRecord:
    """A record of a pair's JSON file; images are the files next to it.

    A and B are the run's previews (``NAME.a.png`` / ``NAME.b.png``, listed in the JSON's
    ``files`` when the run wrote them). Otherwise they are read again from the sources the
    JSON records and written as those previews (again only when the JSON is newer).
    """
    path = Path(path)
    data = dict(data if data is not None else read_json(path) or {})
    stem = stem_of(path)
    folder = path.parent
    data["display"] = display_of(data)
    record = PairRecord(name=str(data.get("name") or stem), data=data, json_path=path)
    files = data.get("files") if isinstance(data.get("files"), Mapping) else {}
    for role in ("heatmap", "mask"):
        name = files.get(role) or (sibling(path, "heatmap").name if role == "heatmap" else None)
        if name and (folder / name).is_file():
            record.images[role] = folder / name
        elif role == "heatmap":
            record.notes.append(f"The heatmap {name} is missing.")
    for role in ("a", "b"):
        listed = files.get(role)
        preview = folder / listed if listed else sibling(path, role)
        record.sources[role] = _source(data, role) or ""
        if listed and preview.is_file():
            record.images[role] = preview
            continue
        if preview.is_file() and preview.stat().st_mtime >= path.stat().st_mtime:
            record.images[role] = preview
            record.notes.append(f"{role.upper()} was read again from {_source(data, role)}.")
            continue
        picture, reason = picture_from_source(data, role)
        if picture is None:
            record.notes.append(f"{role.upper()} is not shown: {reason}.")
            continue
        record.images[role] = pictures.write_picture(preview, picture)
        record.notes.append(f"{role.upper()} was read again from {_source(data, role)}.")
    return record


def scan_output(out: Path) -> list[PairRecord]:
    """Every pair record under ``out`` (recursively), as report records."""
    return [record_from_json(path, data) for path, data in pair_records(out)]


def read_failures(out: Path) -> list[PairRecord]:
    """The failed pairs a run recorded in its summary in ``out``."""
    return failures_from(read_summary_rows(out))


def failures_from(rows: Iterable[Any]) -> list[PairRecord]:
    """Failure records from summary rows (mappings) or :class:`~dfcore.pipeline.PairFailure` objects."""
    failures = []
    for row in rows:
        get = row.get if isinstance(row, Mapping) else lambda key, default=None, _r=row: getattr(_r, key, default)
        if not (get("status", None) == FAILED or get("ok", None) is False):
            continue
        name = get("pair", None) or get("name", None)
        if not name:
            continue
        record = PairRecord(name=str(name), error=str(get("error", None) or FAILED))
        for role in ("a", "b"):
            if get(role, None):
                record.sources[role] = os.fspath(get(role))
        failures.append(record)
    return failures


def merge_failures(records: list[PairRecord], failures: Iterable[PairRecord]) -> list[PairRecord]:
    """Add failures whose pair has no result (a later, resumed run may have computed it)."""
    done = {r.name for r in records} | {_stem_name(r) for r in records}
    seen: set[str] = set()
    merged = list(records)
    for failure in failures:
        if failure.name in done or failure.name in seen:
            continue
        seen.add(failure.name)
        merged.append(failure)
    return merged


def _stem_name(record: PairRecord) -> str:
    return stem_of(record.json_path) if record.json_path else record.name


def sort_records(records: Iterable[PairRecord]) -> list[PairRecord]:
    """Failures first, then each metric's pairs worst first (its direction taken into account)."""
    return sorted(records, key=lambda r: (r.ok, r.metric, -r.badness if r.ok else 0.0, r.name))


# -- thumbnails ------------------------------------------------------------------------------


def make_thumbnails(record: PairRecord, out: Path, box: int = 240) -> None:
    """Write ``out/thumbs/NAME.{a,b,map}.jpg`` for a folder record (skipped when up to date)."""
    if record.json_path is None or record.data is None:
        return
    stem = stem_of(record.json_path, out)
    newest = record.json_path.stat().st_mtime
    for role in ("a", "b", "map"):
        target = out / THUMBS_DIR / f"{stem}.{role}.jpg"
        if target.is_file() and target.stat().st_mtime >= newest:
            record.thumbs[role] = target
            continue
        picture = _thumbnail_picture(record, role, box)
        if picture is not None:
            record.thumbs[role] = pictures.write_picture(target, pictures.thumbnail(picture, box), "JPEG")


def _thumbnail_picture(record: PairRecord, role: str, box: int) -> np.ndarray | None:
    if role == "map":
        npy = sibling(record.json_path, "map")
        files = record.data.get("files") if isinstance(record.data.get("files"), Mapping) else {}
        if files.get("map"):
            npy = record.json_path.parent / files["map"]
        if npy.is_file():
            try:
                map2d = np.load(npy, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                map2d = None
            if map2d is not None and map2d.ndim == 2:
                factor = max(1, max(map2d.shape) // box)  # then Lanczos to the box, as the pictures
                display = record.data["display"]
                try:
                    return apply_colormap(pictures.reduce_map(np.asarray(map2d), factor), display["colormap"],
                                          display["vmin"], display["vmax"])
                except DfindError:  # a colormap this matplotlib lacks: the heatmap PNG will do
                    pass
        source = record.images.get("heatmap")
    else:
        source = record.images.get(role)
    if isinstance(source, Path):
        picture, _ = pictures.read_picture_quietly(source)
        return picture
    return None


__all__ = [
    "PairRecord",
    "failures_from",
    "make_thumbnails",
    "merge_failures",
    "read_failures",
    "record_from_json",
    "record_from_result",
    "scan_output",
    "sort_records",
]
