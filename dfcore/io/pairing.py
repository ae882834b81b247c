"""Pairing two folders of images by relative path (never by sorted position).

``a/scene/001.png`` pairs with ``b/scene/001.png``. A file with no same-path partner pairs
with the one file of the same relative path and a different image extension
(``001.png`` with ``001.jpg``), when there is exactly one. Everything else is reported as
present on one side only. Hidden files and files that are not images are ignored. Symbolic
links to folders are followed like folders (a link back to a folder above it, a loop, is not).

Explicit pairings come from a CSV file (:func:`read_pairs_csv`) with a header naming the
columns ``a`` and ``b`` and, optionally, ``name`` (the pair's name and the stem of its output
files)::

    a,b,name
    refs/001.png,method/001_x4.png,001
    refs/002.png,method/002_x4.png,002
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dfcore.errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


@dataclass(frozen=True)
class PairSpec:
    """One pair: ``name`` is A's relative path (POSIX separators) or the name a CSV gives it;
    ``a`` and ``b`` are files. ``reference`` is the truth both are compared against when the
    pair is a comparison (``dfind compare`` on folders), else ``None``."""

    name: str
    a: Path
    b: Path
    reference: Path | None = None


@dataclass
class Pairing:
    """The pairs to compare and, for two folders, the files found on one side only."""

    pairs: list[PairSpec] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)


def list_images(root: str | os.PathLike[str], recursive: bool = True) -> dict[str, Path]:
    """Relative POSIX path -> file, for every image under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    found: dict[str, Path] = {}
    walker = os.walk(root, followlinks=True) if recursive else [(str(root), [], os.listdir(root))]
    above = {str(root): {os.path.realpath(root)}}  # each folder's own real path and those of the folders above it
    for directory, subdirs, files in walker:
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")
                            and os.path.realpath(os.path.join(directory, d)) not in above[directory])
        for d in subdirs:
            above[os.path.join(directory, d)] = above[directory] | {os.path.realpath(os.path.join(directory, d))}
        for filename in sorted(files):
            if filename.startswith(".") or not filename.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = Path(directory) / filename
            found[path.relative_to(root).as_posix()] = path
    return found


def pair_directories(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str],
                     recursive: bool = True) -> Pairing:
    """Pair the images of two folders by relative path; see the module docstring."""
    files_a, files_b = list_images(dir_a, recursive), list_images(dir_b, recursive)
    pairing = Pairing()
    unmatched_a = []
    for rel, path in files_a.items():
        if rel in files_b:
            pairing.pairs.append(PairSpec(rel, path, files_b.pop(rel)))
        else:
            unmatched_a.append(rel)
    stems_b: dict[str, list[str]] = {}
    for rel in files_b:
        stems_b.setdefault(_stem(rel), []).append(rel)
    stems_a: dict[str, int] = {}
    for rel in unmatched_a:
        stems_a[_stem(rel)] = stems_a.get(_stem(rel), 0) + 1
    for rel in unmatched_a:
        candidates = stems_b.get(_stem(rel), [])
        if len(candidates) == 1 and stems_a[_stem(rel)] == 1:
            pairing.pairs.append(PairSpec(rel, files_a[rel], files_b.pop(candidates[0])))
        else:
            pairing.only_a.append(rel)
    pairing.only_b = sorted(files_b)
    pairing.pairs.sort(key=lambda p: p.name)
    return pairing


@dataclass(frozen=True)
class Triple:
    """One comparison of a folder run: ``name`` is the truth's relative path."""

    name: str
    truth: Path
    a: Path
    b: Path


@dataclass
class Triples:
    """Three folders paired by relative path, and what is missing where."""

    triples: list[Triple] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def pairing(self) -> Pairing:
        """The comparisons as a :class:`Pairing` of A and B with the truth as each pair's ``reference``."""
        return Pairing([PairSpec(t.name, t.a, t.b, reference=t.truth) for t in self.triples])


def pair_three(truth: str | os.PathLike[str], a: str | os.PathLike[str], b: str | os.PathLike[str],
               recursive: bool = True) -> Triples:
    """Pair the images of three folders by the truth's relative paths, as :func:`pair_directories` pairs two."""
    pairing_a, pairing_b = pair_directories(truth, a, recursive), pair_directories(truth, b, recursive)
    with_a = {spec.name: spec for spec in pairing_a.pairs}
    with_b = {spec.name: spec for spec in pairing_b.pairs}
    found = Triples()
    for rel in sorted(set(with_a) | set(with_b) | set(pairing_a.only_a)):
        if rel in with_a and rel in with_b:
            found.triples.append(Triple(rel, with_a[rel].a, with_a[rel].b, with_b[rel].b))
        else:
            lacking = " and ".join(role for role, side in (("A", with_a), ("B", with_b)) if rel not in side)
            found.missing.append(f"{rel}: in the truth but not in {lacking}")
    found.missing += [f"{rel}: in A but not in the truth" for rel in pairing_a.only_b]
    found.missing += [f"{rel}: in B but not in the truth" for rel in pairing_b.only_b]
    return found


def strip_image_extension(name: str) -> str:
    """``"scene/001.png"`` -> ``"scene/001"``: ``name`` without an image extension (any case)."""
    lowered = name.lower()
    for ext in IMAGE_EXTENSIONS:
        if lowered.endswith(ext):
            return name[: -len(ext)]
    return name


def matching_file(folder: str | os.PathLike[str], rel: str, what: str = "truth mask") -> Path:
    """The file for the pair ``rel`` in ``folder``: the same relative path, with any image extension."""
    folder = Path(folder)
    exact = folder / rel
    if exact.is_file():
        return exact
    stem = Path(strip_image_extension(rel))
    candidates = [folder / stem.with_name(stem.name + ext) for ext in IMAGE_EXTENSIONS]
    found = [path for path in candidates if path.is_file()]
    if len(found) != 1:
        reason = "none" if not found else f"{len(found)} candidates"
        raise InputError(f"{rel}: no single {what} in {folder} ({reason} for {stem.as_posix()}.*)")
    return found[0]


def _stem(rel: str) -> str:
    path = PurePosixPath(rel)
    return str(path.with_suffix(""))


def read_pairs_csv(path: str | os.PathLike[str], dir_a: str | os.PathLike[str] | None = None,
                   dir_b: str | os.PathLike[str] | None = None) -> Pairing:
    """Explicit pairs from a CSV file with the columns ``a``, ``b`` and optionally ``name``.

    Relative paths in column ``a`` are taken inside ``dir_a`` (and ``b`` inside ``dir_b``)
    when given, else next to the CSV file. A pair without a ``name`` is named after its ``b``
    path as written, less a leading ``/`` (or drive) and any ``..`` (``../sr/001.png`` is named
    ``sr/001.png``). Names must be unique relative paths naming a file (they become output
    file names). Files are not opened here: a missing one makes its pair fail when it is run.

    Raises:
        InputError: the file is unreadable, lacks the ``a``/``b`` columns, or has an empty,
            absolute, ``..``-containing, hidden, ``/``-ending or repeated name.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = [(c or "").strip() for c in reader.fieldnames or []]
    except OSError as exc:
        raise InputError(f"{path}: cannot read the pairs file ({exc.strerror or exc})") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    if "a" not in columns or "b" not in columns:
        raise InputError(f"{path}: a pairs file needs a header with the columns a and b (and optionally name), "
                         f"found {', '.join(columns) or 'no header'}")
    base_a = Path(dir_a) if dir_a is not None else path.parent
    base_b = Path(dir_b) if dir_b is not None else path.parent
    pairing = Pairing()
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        a, b = row.get("a", ""), row.get("b", "")
        if not a and not b and not row.get("name"):
            continue
        if not a or not b:
            raise InputError(f"{path}:{line}: both a and b are needed")
        name = row.get("name") or _name_from_path(b)
        _check_name(name, f"{path}:{line}" + ("" if row.get("name") else f" (the name made from b, {b})"))
        if name in seen:
            made = "" if row.get("name") else f" (made from b, {b}, as the row names none)"
            raise InputError(f"{path}:{line}: the name {name!r}{made} is already used on line {seen[name]}; "
                             "names must be unique (add a name column)")
        seen[name] = line
        pairing.pairs.append(PairSpec(name, base_a / a, base_b / b))
    if not pairing.pairs:
        raise InputError(f"{path}: no pairs listed")
    return pairing


def _name_from_path(path: str) -> str:
    """A pair's name from its ``b`` path as written: POSIX separators, no root or drive, no ``.`` or ``..``."""
    text = path.replace(os.sep, "/")
    if len(text) > 1 and text[1] == ":":
        text = text[2:]
    return "/".join(part for part in text.split("/") if part not in ("", ".", ".."))


def _check_name(name: str, where: str) -> None:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise InputError(f"{where}: the name {name!r} must be a relative path without '..' "
                         "(it names the output files)")
    if name.endswith(("/", "\\")) or any(part.startswith(".") for part in parts):
        raise InputError(f"{where}: the name {name!r} must name a file: no trailing '/' and no part starting "
                         "with '.' (its output files would be hidden)")
