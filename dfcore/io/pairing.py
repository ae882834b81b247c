r"""Pairing folders of images: by relative path, by sorted position, or by stem.

A :class:`PairBy` names the rule (``pair_by=`` in Python, ``--pair-by`` on the command line):

* ``path`` (the default): ``a/scene/001.png`` pairs with ``b/scene/001.png``. A file with no
  same-path partner pairs with the one file of the same relative path and a different image
  extension (``001.png`` with ``001.jpg``), when there is exactly one.
* ``order``: the n-th image of A with the n-th of B, their relative paths sorted as Python's
  ``sorted`` sorts text (``img10.png`` before ``img2.png``), as a script that globs and sorts
  both folders pairs them. Folders of different lengths are refused unless
  ``allow_unequal``; then the images past the end of the shorter folder are left over.
* ``stem``: images pair when their *keys* are equal. A key is the relative path without its
  extension, after ``strip_a``/``strip_b`` remove a suffix (``baboon_x4_SR`` -> ``baboon``) or,
  when the name does not end with it, a prefix; or the part of the name that ``match``, a
  regular expression with a named group ``key``, picks out (``(?P<key>\d+)`` gives ``0001``
  for ``0001_gt`` and ``0001_out``). An image whose name carries none of the affixes, or
  that the pattern does not match, is left over. Two images of one folder with the key of
  an image of the other are an error that names them, never a silent choice.

Every rule gives a :class:`Pairing`: the pairs, each named by A's relative path (the name of
its output files), the images left on one side, and the rule as ``summary.json`` records it.
Hidden files and files that are not images are ignored; symbolic
links to folders are followed like folders (a link back to a folder above it, a loop, is not). :func:`pair_three` pairs three
folders (``dfind compare``) by the same rules, the truth taking the place of A.
:func:`check_found` is how a caller says that no pair at all was found; :func:`make_pairing`
takes what a user gives (two folders or a pairs file, a rule) and makes its pairing.

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
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dfcore.errors import InputError, NoPairsError, NoPairsWarning, PairingError, ParameterError
from dfcore.io.pair_rules import PairBy, describe_rule, name_key

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
#: What an empty pairing does: warn (:class:`~dfcore.errors.NoPairsWarning`) or raise (:class:`~dfcore.errors.NoPairsError`).
ON_EMPTY = ("warn", "raise")
_SHOWN = 3  # names shown in a message before "and N more"


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
    """The pairs to compare and, for two folders, the files found on one side only.

    ``rule`` is how they were paired, as ``summary.json`` records it (:meth:`PairBy.to_dict`,
    or ``{"rule": "csv", "file": ...}`` for a pairs file). Three folders (comparisons) also
    have ``only_truth``: the truth's images without a comparison. ``folders`` holds the two
    folders as absolute paths (``{"a": ..., "b": ...}``; empty for a pairs file): ``only_a``
    and ``only_b`` are relative to them.
    """

    pairs: list[PairSpec] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    rule: dict[str, Any] = field(default_factory=lambda: {"rule": "path"})
    only_truth: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)


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


@dataclass(frozen=True)
class _Side:
    """One folder being paired: where it is (for messages), its images, the affixes stripped from them."""

    folder: str
    files: dict[str, Path]
    strip: tuple[str, ...] = ()


def pair_directories(dir_a: str | os.PathLike[str], dir_b: str | os.PathLike[str], recursive: bool = True,
                     pair_by: PairBy | str | None = None) -> Pairing:
    """Pair the images of two folders by ``pair_by`` (by relative path unless told); see the module docstring.

    Raises:
        PairingError: an ambiguous match (``stem``), or folders of different lengths (``order``
            without ``allow_unequal``).
    """
    rule = PairBy.of(pair_by)
    if rule.strip_truth:
        raise ParameterError("strip_truth: only for three folders (a truth, A and B)")
    side_a = _Side(os.fspath(dir_a), list_images(dir_a, recursive), rule.strip_a)
    side_b = _Side(os.fspath(dir_b), list_images(dir_b, recursive), rule.strip_b)
    pairing = _pair(rule, side_a, side_b)
    pairing.folders = {"a": os.path.abspath(dir_a), "b": os.path.abspath(dir_b)}
    return pairing


def _pair(rule: PairBy, side_a: _Side, side_b: _Side) -> Pairing:
    if rule.rule == "order":
        pairing = _by_order(side_a, side_b, rule.allow_unequal)
    elif rule.rule == "stem":
        pairing = _by_stem(side_a, side_b, rule.match)
    else:
        pairing = _by_path(side_a.files, dict(side_b.files))
    pairing.rule = rule.to_dict()
    pairing.pairs.sort(key=lambda p: p.name)
    return pairing


def _by_path(files_a: dict[str, Path], files_b: dict[str, Path]) -> Pairing:
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
    return pairing


def _by_order(side_a: _Side, side_b: _Side, allow_unequal: bool) -> Pairing:
    names_a, names_b = sorted(side_a.files), sorted(side_b.files)
    common = min(len(names_a), len(names_b))
    if len(names_a) != len(names_b) and not allow_unequal:
        longer, extra = (side_a, names_a) if len(names_a) > len(names_b) else (side_b, names_b)
        raise PairingError(
            f"pairing by order needs as many images on each side: {side_a.folder} has {len(names_a)}, "
            f"{side_b.folder} has {len(names_b)}, which would leave {_names(extra[common:])} of {longer.folder} over; "
            "allow it (--allow-unequal, PairBy.order(allow_unequal=True)) to pair the first "
            f"{common} and report the rest")
    pairs = [PairSpec(a, side_a.files[a], side_b.files[b]) for a, b in zip(names_a, names_b)]
    return Pairing(pairs, names_a[common:], names_b[common:])


def _by_stem(side_a: _Side, side_b: _Side, match: str | None) -> Pairing:
    keys_a, left_a = _keys(side_a, match)
    keys_b, left_b = _keys(side_b, match)
    pairing = Pairing()
    for key, rels_a in keys_a.items():
        rels_b = keys_b.pop(key, None)
        if rels_b is None:
            left_a += rels_a
        elif len(rels_a) == 1 and len(rels_b) == 1:
            pairing.pairs.append(PairSpec(rels_a[0], side_a.files[rels_a[0]], side_b.files[rels_b[0]]))
        else:
            raise PairingError(
                f"pairing by stem is ambiguous: {_names(rels_a, None)} in {side_a.folder} and {_names(rels_b, None)} "
                f"in {side_b.folder} all have the key {key!r}; make the affixes or the pattern tell them apart, "
                "or list the pairs in a pairs file (--pairs)")
    for rels_b in keys_b.values():
        left_b += rels_b
    pairing.only_a, pairing.only_b = sorted(left_a), sorted(left_b)
    return pairing


def _keys(side: _Side, match: str | None) -> tuple[dict[str, list[str]], list[str]]:
    """Key -> the relative paths that have it, and the paths without a key (no affix, no match)."""
    keys: dict[str, list[str]] = {}
    left: list[str] = []
    for rel in side.files:
        folder, _, name = strip_image_extension(rel).rpartition("/")
        key = name_key(name, side.strip, match)
        if key:
            keys.setdefault(f"{folder}/{key}" if folder else key, []).append(rel)
        else:
            left.append(rel)
    return keys, left


def _names(names: Sequence[str], shown: int | None = _SHOWN) -> str:
    """``a.png, b.png and 3 more``."""
    listed = list(names) if shown is None else list(names[:shown])
    text = ", ".join(listed)
    return text + (f" and {len(names) - len(listed)} more" if len(names) > len(listed) else "")


@dataclass(frozen=True)
class Triple:
    """One comparison of a folder run: ``name`` is the truth's relative path."""

    name: str
    truth: Path
    a: Path
    b: Path


@dataclass
class Triples:
    """Three folders paired: the comparisons, what is missing where (``missing``: a line each),
    the images left out of every comparison (``only_truth``, ``only_a``, ``only_b``), and
    ``rule`` as in :class:`Pairing`."""

    triples: list[Triple] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rule: dict[str, Any] = field(default_factory=lambda: {"rule": "path"})
    only_truth: list[str] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    def pairing(self) -> Pairing:
        """The comparisons as a :class:`Pairing` of A and B with the truth as each pair's ``reference``."""
        return Pairing([PairSpec(t.name, t.a, t.b, reference=t.truth) for t in self.triples], list(self.only_a),
                       list(self.only_b), dict(self.rule), list(self.only_truth))


def pair_three(truth: str | os.PathLike[str], a: str | os.PathLike[str], b: str | os.PathLike[str],
               recursive: bool = True, pair_by: PairBy | str | None = None) -> Triples:
    """Pair the images of three folders as :func:`pair_directories` pairs two, the truth taking A's place.

    The truth is paired with A and with B by ``pair_by``; a comparison needs both. With
    ``stem``, ``strip_truth``, ``strip_a`` and ``strip_b`` are the affixes of each folder.
    """
    rule = PairBy.of(pair_by)
    side_truth = _Side(os.fspath(truth), list_images(truth, recursive), rule.strip_truth)
    pairing_a = _pair(rule, side_truth, _Side(os.fspath(a), list_images(a, recursive), rule.strip_a))
    pairing_b = _pair(rule, side_truth, _Side(os.fspath(b), list_images(b, recursive), rule.strip_b))
    with_a = {spec.name: spec for spec in pairing_a.pairs}
    with_b = {spec.name: spec for spec in pairing_b.pairs}
    found = Triples(rule=rule.to_dict())
    for rel in sorted(set(with_a) | set(with_b) | set(pairing_a.only_a)):
        if rel in with_a and rel in with_b:
            found.triples.append(Triple(rel, with_a[rel].a, with_a[rel].b, with_b[rel].b))
        else:
            lacking = " and ".join(role for role, side in (("A", with_a), ("B", with_b)) if rel not in side)
            found.missing.append(f"{rel}: in the truth but not in {lacking}")
            found.only_truth.append(rel)
    found.missing += [f"{rel}: in A but not in the truth" for rel in pairing_a.only_b]
    found.missing += [f"{rel}: in B but not in the truth" for rel in pairing_b.only_b]
    found.only_a, found.only_b = list(pairing_a.only_b), list(pairing_b.only_b)
    return found


def check_found(count: int, message: str, on_empty: str = "warn") -> None:
    """Say so when folders gave no pair: ``count`` is how many they gave, ``message`` why none.

    ``on_empty="warn"`` warns with a :class:`~dfcore.errors.NoPairsWarning` (pointing at the
    caller's line, outside dfcore), ``"raise"`` raises :class:`~dfcore.errors.NoPairsError`.
    """
    if on_empty not in ON_EMPTY:
        raise ParameterError(f"on_empty must be 'warn' or 'raise', got {on_empty!r}")
    if count:
        return
    if on_empty == "raise":
        raise NoPairsError(message)
    warnings.warn(message, NoPairsWarning, stacklevel=_caller_outside_dfcore())


def no_pairs_message(pairing: Pairing, dir_a: Any, dir_b: Any) -> str:
    """Why two folders gave no pair, with a few names of each and the rules that might pair them."""
    sides = [f"{folder} ({len(names)} image{'s' if len(names) != 1 else ''}{': ' + _names(names) if names else ''})"
             for folder, names in ((dir_a, pairing.only_a), (dir_b, pairing.only_b))]
    hint = ""
    if pairing.only_a and pairing.only_b:
        hint = ("; pair them by sorted position (--pair-by order, pair_by='order') or by names with a suffix "
                "stripped (--strip-b SUFFIX, PairBy.stem(strip_b=...))")
    return f"no pairs {describe_rule(pairing.rule)}: {sides[0]} and {sides[1]}{hint}"


def no_triples_message(triples: Triples, truth: Any, a: Any, b: Any) -> str:
    """Why three folders gave no comparison, with the first of what is missing where."""
    missing = f" ({_names(triples.missing)})" if triples.missing else f" ({truth} has no images)"
    return (f"no comparisons {describe_rule(triples.rule)}: no image of {truth} has a counterpart in both {a} "
            f"and {b}{missing}")


def _caller_outside_dfcore() -> int:
    """The ``stacklevel`` of :func:`warnings.warn` that names the first caller outside dfcore."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "dfcore":
        frame, level = frame.f_back, level + 1
    return level


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


def make_pairing(dir_a: str | os.PathLike[str] | None, dir_b: str | os.PathLike[str] | None,
                 pairs: str | os.PathLike[str] | None = None, recursive: bool = True,
                 pair_by: PairBy | str | None = None, on_empty: str = "warn") -> Pairing:
    """Two folders paired by ``pair_by``, or the pairs of a CSV file (see :mod:`dfcore.io.pairing`).

    ``pair_by``: ``"path"`` (``None``: the default), ``"order"``, ``"stem"`` or a
    :class:`~dfcore.io.pairing.PairBy` with options. Two folders that give no pair warn
    (:class:`~dfcore.errors.NoPairsWarning`), or raise :class:`~dfcore.errors.NoPairsError`
    with ``on_empty="raise"``.
    """
    rule = PairBy.of(pair_by)
    if pairs is not None:
        if rule != PairBy():
            raise ParameterError(f"pair_by={rule.rule!r}: a pairs file lists its pairs; give one or the other")
        pairing = read_pairs_csv(pairs, dir_a, dir_b)
        pairing.rule = {"rule": "csv", "file": os.fspath(pairs)}
        return pairing
    if dir_a is None or dir_b is None:
        raise InputError("give two folders to compare, or a pairs file")
    pairing = pair_directories(dir_a, dir_b, recursive, rule)
    check_found(len(pairing.pairs), no_pairs_message(pairing, dir_a, dir_b), on_empty)
    return pairing
