"""Pairing two folders of images by relative path (never by sorted position).

``a/scene/001.png`` pairs with ``b/scene/001.png``. A file with no same-path partner pairs
with the one file of the same relative path and a different image extension
(``001.png`` with ``001.jpg``), when there is exactly one. Everything else is reported as
present on one side only. Hidden files and files that are not images are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dfcore.errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


@dataclass(frozen=True)
class PairSpec:
    """One pair: ``name`` is A's relative path (POSIX separators); ``a`` and ``b`` are files."""

    name: str
    a: Path
    b: Path


@dataclass
class Pairing:
    pairs: list[PairSpec] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)


def list_images(root: str | os.PathLike[str], recursive: bool = True) -> dict[str, Path]:
    """Relative POSIX path -> file, for every image under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    found: dict[str, Path] = {}
    walker = os.walk(root) if recursive else [(str(root), [], os.listdir(root))]
    for directory, subdirs, files in walker:
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
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


def _stem(rel: str) -> str:
    path = PurePosixPath(rel)
    return str(path.with_suffix(""))
