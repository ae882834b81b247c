"""One colour scale for many heatmaps, so maps are comparable across images and methods.

Each heatmap PNG is by default scaled on its own (``"scale": "image"``): 0 to the map's
largest absolute value. That makes a nearly identical pair look as alarming as a broken one.
A shared scale gives every map of a set the same ``vmax``:

* ``--vmax V`` (``save(vmax=V)``): a fixed value, known in advance (``"scale": "fixed"``);
* ``--scale shared``: the ``SHARED_PERCENTILE`` (99.5th) percentile of ``|value|`` over every
  compared pixel of every map of the set (``"scale": "shared"``). A percentile rather than the
  maximum, so that a handful of extreme pixels in one pair does not wash out all the others;
  the pixels above it saturate. When the percentile is 0 (most pixels of the set are 0, as in
  a visual-regression run where few pairs differ) the largest value is used instead.

Signed maps keep a scale symmetric about zero (``-vmax`` to ``vmax``), unsigned ones run from 0.

A shared scale is known only once every map exists, so it is applied afterwards, from the
files: :func:`apply_shared_scale` reads each pair's ``NAME.map.npy`` (and ``NAME.valid.png``,
to leave out pixels that were not compared), computes the percentile, then re-renders each
``NAME.heatmap.png`` and rewrites the ``display`` entry of its ``NAME.json`` (scale, vmin,
vmax, percentile, number of maps), each file atomically, the JSON last. The folder engine calls
it at the end of a run; ``dfind rescale DIR...`` calls it on finished output folders, so that
several methods' folders can share one scale.

The percentile is exact (the order statistics of numpy's default, linear definition) and
computed in two streaming passes over the maps, so memory does not grow with the number of
maps. The first counts the values, the zeros and the largest value and fills a histogram of
``HISTOGRAM_BINS`` bins keyed by the bit pattern of each ``|value|`` as float64 (its exponent
and top 4 mantissa bits: 16 bins an octave, in value order, with no range to know in advance);
the second reads exactly the values of the one or two bins that hold the wanted ranks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dfcore.errors import InputError, ParameterError
from dfcore.io.files import write_png
from dfcore.io.layout import pair_file, pair_records, read_pair, rewrite_record, sibling
from dfcore.io.render import default_colormap, draw_heatmap

SHARED_PERCENTILE = 99.5
#: Heatmaps re-rendered at once (encoding a PNG and reading a map release the GIL).
RERENDER_THREADS = 8
HISTOGRAM_BINS = 2**15  # float64 bit patterns >> 48 of non-negative values
_FINITE_BINS = 0x7FF0  # bins from here on hold infinity and NaN
SCALES = ("image", "shared")


@dataclass(frozen=True)
class SavedPair:
    """The files of one saved pair that a rescale reads and rewrites."""

    json: Path
    data: dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.json.parent

    def file(self, role: str) -> Path | None:
        name = (self.data.get("files") or {}).get(role)
        return self.folder / name if isinstance(name, str) else None

    def values(self) -> np.ndarray:
        """``|map|`` over the compared pixels, as a flat float32 array (memory-mapped where possible)."""
        path = self.file("map")
        if path is None or not path.is_file():
            raise InputError(f"{self.json}: its map file is missing, so its heatmap cannot be re-rendered")
        values = np.abs(np.load(path, mmap_mode="r", allow_pickle=False))
        valid = self.valid()
        return values[valid] if valid is not None else values.ravel()

    def valid(self) -> np.ndarray | None:
        path = self.file("valid")
        if path is None or not path.is_file():
            return None
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image.convert("L")) > 0


def saved_pairs(folders: Iterable[str | os.PathLike[str]], names: Sequence[str] | None = None) -> list[SavedPair]:
    """The pairs saved in ``folders``: every pair record with a map, or only those of ``names``.

    ``names`` are pair names as saved (``scene/001.png``); they are looked up in each folder.
    """
    found: list[SavedPair] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"{folder}: not a folder of results")
        if names is None:
            records = list(pair_records(folder))
        else:
            records = []
            for name in names:
                path = pair_file(folder, name, "json")
                data = read_pair(path)
                if data is None:
                    raise InputError(f"{path}: missing or unreadable, so the shared scale cannot include it")
                records.append((path, data))
        found += [SavedPair(path, data) for path, data in records
                  if isinstance(data.get("files"), dict) and "map" in data["files"]]
    return found


def shared_vmax(maps: Iterable[np.ndarray], percentile: float = SHARED_PERCENTILE) -> float:
    """The ``percentile`` of the absolute values of several maps taken together (see the module docstring).

    The value of ``np.percentile(np.abs(np.concatenate(maps)), percentile)`` in float64 without
    holding all maps at once: ``maps`` is iterated twice (a list, or a re-iterable that reads
    them again). Returns the largest value when the percentile is 0, and 1.0 for a set of
    all-zero maps, like a single map's scale. Between two order statistics it interpolates as
    ``low + fraction * (high - low)``, as numpy does below the midpoint; past it numpy computes
    ``high - (1 - fraction) * (high - low)``, which can differ in the last bit.
    """
    if not 0.0 < percentile <= 100.0:
        raise ParameterError(f"percentile must lie in (0, 100], got {percentile}")
    largest, count, zeros, infinite = 0.0, 0, 0, False
    histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    for values in maps:
        values = _magnitudes(values)
        count += values.size
        largest = max(largest, float(values.max(initial=0.0)))  # a map holding NaN is left out, as max() does
        counts = np.bincount(values.view(np.int64) >> 48, minlength=HISTOGRAM_BINS)
        if counts[0]:  # zeros, and any positive values below 2**-1026
            zeros += values.size - int(np.count_nonzero(values))
        if counts[_FINITE_BINS:].any():  # infinity or NaN; only infinity is refused outright
            infinite = infinite or bool(np.isinf(values).any())
        histogram += counts
    if count == 0 or not largest > 0.0:
        return 1.0
    if infinite or not math.isfinite(largest):
        raise InputError("a map holds infinite values; a shared scale needs finite maps")
    rank = percentile / 100.0 * (count - 1)  # numpy's default, linear interpolation between order statistics
    low, high = _order_statistics(maps, (math.floor(rank), math.ceil(rank)), zeros, histogram)
    value = low + (rank - math.floor(rank)) * (high - low)
    return value if value > 0.0 else largest


def _magnitudes(values: np.ndarray) -> np.ndarray:
    """``|values|`` as a flat float64 array: exact for every float32 value, and one bit order for all maps."""
    values = np.array(values, dtype=np.float64)  # a copy, made absolute in place: one new array, not two
    return np.abs(values, out=values).ravel()


def _order_statistics(maps: Iterable[np.ndarray], ranks: Sequence[int], zeros: int, histogram: np.ndarray
                      ) -> list[float]:
    """The values of the given ranks (0-based, ascending, at most one apart) among all ``|values|`` of ``maps``.

    Zeros come first; ``histogram`` (of :func:`shared_vmax`'s first pass) locates the bins of the
    positive ranks, and one more pass reads the values of those bins exactly. Two ranks one
    apart in different bins leave every bin between them empty, so the values read are those
    of one run of bins, whose bit patterns lie in ``[first, end)``.
    """
    positives = histogram[:_FINITE_BINS].copy()
    positives[0] -= zeros
    cumulative = np.cumsum(positives)
    bins = {rank: int(np.searchsorted(cumulative, rank - zeros, side="right")) for rank in ranks if rank >= zeros}
    if not bins:
        return [0.0 for _ in ranks]
    if max(bins.values()) >= _FINITE_BINS:
        raise InputError("the percentile falls among the NaN values of the maps; a shared scale needs finite maps")
    low, high = min(bins.values()), max(bins.values())
    first, end = max(low << 48, 1), (high + 1) << 48  # 1: the smallest positive value, leaving zeros out
    parts = []
    for values in maps:
        values = _magnitudes(values)
        bits = values.view(np.int64)
        parts.append(values[(bits >= first) & (bits < end)])
    found = np.sort(np.concatenate(parts))
    before = int(cumulative[low - 1]) if low > 0 else 0
    return [float(found[rank - zeros - before]) if rank >= zeros else 0.0 for rank in ranks]


def apply_shared_scale(folders: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                       names: Sequence[str] | None = None, *, percentile: float = SHARED_PERCENTILE,
                       vmax: float | None = None, colormap: str | None = None) -> float:
    """Give every heatmap of the pairs saved in ``folders`` one colour scale; returns its ``vmax``.

    Args:
        folders: one output folder, or several (methods whose maps must be comparable).
        names: the pairs to rescale (as saved); ``None``: every result in the folders.
        percentile: of ``|value|`` over all compared pixels, when ``vmax`` is not given.
        vmax: a fixed scale instead of the percentile.
        colormap: re-render with this colormap; ``None``: each pair's own (from its JSON).
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    pairs = saved_pairs(folders, names)
    if vmax is not None:
        if not (math.isfinite(vmax) and vmax > 0.0):
            raise ParameterError(f"vmax must be a positive number, got {vmax}")
        top, display = float(vmax), {"scale": "fixed"}
    else:
        top = shared_vmax(_Values(pairs), percentile)
        display = {"scale": "shared", "percentile": percentile, "maps": len(pairs)}
    threads = min(RERENDER_THREADS, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dfind-scale") as pool:
        for _ in pool.map(lambda pair: rerender(pair, top, colormap, display), pairs):
            pass  # an error is raised here, in order
    return top


class _Values:
    """Re-iterable ``|map|`` of saved pairs, read from disk on each pass."""

    def __init__(self, pairs: Sequence[SavedPair]) -> None:
        self.pairs = pairs

    def __iter__(self):
        return (pair.values() for pair in self.pairs)


def rerender(pair: SavedPair, vmax: float, colormap: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Write a saved pair's heatmap again with the scale ``vmax`` and record it in its JSON.

    A pair saved without its heatmap (a folder run on a shared scale draws each one once, at
    the end) gets one, listed in the record's ``files``.
    """
    path = pair.file("map")
    if path is None or not path.is_file():
        raise InputError(f"{pair.json}: its map file is missing, so its heatmap cannot be re-rendered")
    map2d = np.load(path, allow_pickle=False)
    old = pair.data.get("display") if isinstance(pair.data.get("display"), dict) else {}
    signed = float(old.get("vmin", 0.0)) < 0.0 or bool(np.any(map2d < 0))
    vmin = -vmax if signed else 0.0
    name = colormap or old.get("colormap") or default_colormap(vmin)
    picture = draw_heatmap(map2d, name, vmin, vmax, pair.valid())
    heatmap = pair.file("heatmap") or sibling(pair.json, "heatmap")
    write_png(heatmap, picture)
    data = dict(pair.data)
    data["files"] = {**(data.get("files") or {}), "heatmap": heatmap.name}
    data["display"] = {**{k: v for k, v in old.items() if k not in ("percentile", "maps")},
                       "colormap": name, "vmin": vmin, "vmax": vmax, **(extra or {})}
    rewrite_record(pair.json, data)


__all__ = ["HISTOGRAM_BINS", "SCALES", "SHARED_PERCENTILE", "SavedPair", "apply_shared_scale", "rerender",
           "saved_pairs", "shared_vmax"]
