"""The output folder: the one owner of its file names, the pair statuses and the JSON schemas.

A pair is named by B's file name for one pair, or by A's relative path in a folder run
(``scene/001.png``); its files are written under the name's *stem* (``scene/001``):

============================ =================================================================
``STEM.json``                the pair's record (:data:`PAIR_SCHEMA`); written last, so its
                             presence means the pair is complete; ``files`` lists the others
``STEM.heatmap.png``         the map in colour
``STEM.map.npy``             the map, HxW float32
``STEM.mask.png``            the mask of detected change, when a postprocessor made one
``STEM.valid.png``           the pixels compared (white), when not all were
``STEM.a.png``, ``STEM.b.png`` A and B as compared, for reports
``STEM.report.html``         the pair's report page
============================ =================================================================

Which of a pair's files are written is the user's choice (``--outputs``, ``save(outputs=...)``):
the names of :data:`OUTPUTS`, :data:`DEFAULT_OUTPUTS` when nothing is asked. The record is
always written (it marks the pair complete and feeds the summary); ``STEM.valid.png`` goes
with the heatmap or the map it qualifies; the previews go with a report.

A folder run also writes ``summary.csv`` and ``summary.json`` (:data:`SUMMARY_SCHEMA`; one
row per pair, with a status in :data:`STATUSES`; the JSON also says how the folders were
paired, ``pairing``, and lists the files left on one side, ``only_a``, ``only_b`` and, for
comparisons, ``only_truth``), and its report ``index.html`` with thumbnails under ``thumbs/``.
``dfind approve`` appends what it promoted to the references to ``approvals.json``
(:data:`APPROVALS_SCHEMA`). These names are the run's own (:data:`RUN_FILES`,
:data:`RUN_DIRS`): a pair whose files would take one of them, or lie in one of its folders,
has ``_`` added to the first part of its stem (``summary.png`` -> ``summary_.json``,
``approvals.png`` -> ``approvals_.json``, ``thumbs/001.png`` -> ``thumbs_/001.json``), so
no pair's result is overwritten by the run's.

Hidden files belong to runs in progress: the temporary files of atomic writes
(``.NAME.HOST~PID~TOKEN~R.part``) and a claim per pair being computed (``.STEM.claim``, see
:func:`claim_file` and :mod:`dfcore.io.sharing`). ``summary.csv`` is safe to open in a
spreadsheet: a text cell that a spreadsheet would take for a formula is written with a
leading ``'`` (:func:`csv_cell`); ``summary.json`` holds the values as they are.

A score that JSON cannot hold (PSNR of identical images is infinite; a failed metric may give
NaN) is written as ``null`` with an explicit field beside it, ``"score": null,
"score_nonfinite": "inf"`` (``"-inf"``, ``"nan"``; :func:`score_fields`), in a pair's record
and in ``summary.json``'s rows; ``summary.csv`` writes ``inf`` in the cell, which a
spreadsheet reads as text. :func:`read_score` reads both, and the strings of schema 1.

Schemas are versioned: a JSON file carries ``"schema"``; files written before versioning
have none and are read as version 1; a newer version than this dfind knows is refused with
a one-line error. Every writer and reader of these files goes through this module.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dfcore.errors import InputError, ParameterError
from dfcore.io.files import atomic_write, write_json
from dfcore.io.pairing import strip_image_extension
from dfcore.io.sharing import held

#: Version of a pair's JSON record (2: a non-finite score is ``null`` and ``score_nonfinite``).
PAIR_SCHEMA = 2
#: Version of ``summary.json`` (2: the same for its rows' scores).
SUMMARY_SCHEMA = 2
#: Added to a score's key for the field that says what a ``null`` score was: ``"inf"``, ``"-inf"``, ``"nan"``.
NONFINITE_SUFFIX = "_nonfinite"
#: Version of ``approvals.json``.
APPROVALS_SCHEMA = 1

#: A pair's files by role: the suffix added to its stem.
PAIR_FILES = {
    "json": ".json",
    "heatmap": ".heatmap.png",
    "map": ".map.npy",
    "mask": ".mask.png",
    "valid": ".valid.png",
    "a": ".a.png",
    "b": ".b.png",
    "report": ".report.html",
}

#: What a run may be asked to write (``--outputs``), by name, and the file role each one is.
OUTPUTS = {"heatmap": "heatmap", "npy": "map", "mask": "mask", "json": "json"}
#: What a single pair writes when nothing is asked: everything (the mask when a postprocessor made one).
DEFAULT_OUTPUTS = ("heatmap", "npy", "mask", "json")
#: What a folder run writes when nothing is asked.
FOLDER_OUTPUTS = DEFAULT_OUTPUTS
#: Files written only when the pair has what they show: the record entry that says so.
CONDITIONAL_FILES = {"mask": "mask_fraction", "valid": "valid_fraction"}

SUMMARY_CSV, SUMMARY_JSON = "summary.csv", "summary.json"
INDEX_PAGE = "index.html"
THUMBS_DIR = "thumbs"
#: The page of a single-pair run with ``--report``.
PAIR_REPORT_PAGE = "report.html"
#: The record of the B images ``dfind approve`` promoted to the references.
APPROVALS_JSON = "approvals.json"
#: Files and folders a run writes at the top of its output folder: no pair's file may take them.
RUN_FILES = (SUMMARY_CSV, SUMMARY_JSON, INDEX_PAGE, PAIR_REPORT_PAGE, APPROVALS_JSON)
RUN_DIRS = (THUMBS_DIR,)
#: Added to the first part of a pair's stem that would take one of the run's names.
RESERVED_ESCAPE = "_"
#: The hidden file that claims a pair while a run computes it: ``.STEM.claim``.
CLAIM_SUFFIX = ".claim"
#: A text cell starting with one of these is written to ``summary.csv`` after a ``'``: a
#: spreadsheet would evaluate ``= + - @`` (and tab, CR) as a formula; ``'`` keeps the escape reversible.
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")

#: Row statuses: computed by this run, failed (with its ``error``), complete from an earlier run.
OK, FAILED, SKIPPED = "ok", "failed", "skipped"
STATUSES = (OK, FAILED, SKIPPED)
#: The columns of ``summary.csv`` (and the keys of each row of ``summary.json``).
SUMMARY_COLUMNS = ("pair", "status", "score", "regions", "seconds", "error", "a", "b",
                   "auroc", "average_precision", "best_dice")
#: The columns a run against truth masks fills from each pair's evaluation.
EVALUATION_COLUMNS = ("auroc", "average_precision", "best_dice")
#: The columns a comparison run (``dfind compare`` on folders) adds.
COMPARE_COLUMNS = ("score_a", "score_b", "better")


# -- names ------------------------------------------------------------------------------------


def output_stem(name: str) -> str:
    """``"scene/001.png"`` -> ``"scene/001"``: the stem under which a pair's files are written.

    A stem whose files would take a name of the run's own (``summary`` -> ``summary.json``) or
    lie in one of its folders (``thumbs/001``) gets :data:`RESERVED_ESCAPE` after its first part
    (``summary_``, ``thumbs_/001``); names are compared without case, as some file systems do.
    A stem is its own stem.
    """
    stem = strip_image_extension(name)
    first, slash, rest = stem.partition("/")
    if _is_reserved(first, nested=bool(slash)):
        stem = first + RESERVED_ESCAPE + slash + rest
    return stem


def _is_reserved(first: str, nested: bool) -> bool:
    lowered = first.lower()
    if nested:
        return lowered in RUN_DIRS
    return any(lowered + suffix in RUN_FILES for suffix in PAIR_FILES.values())


def claim_file(directory: str | os.PathLike[str], name: str) -> Path:
    """The hidden file by which a run claims the pair ``name`` in ``directory`` while computing it."""
    path = Path(directory) / output_stem(name)
    return path.with_name(f".{path.name}{CLAIM_SUFFIX}")


def pair_file(directory: str | os.PathLike[str], name: str, role: str) -> Path:
    """The file of ``role`` (a key of :data:`PAIR_FILES`) for the pair ``name`` in ``directory``."""
    return Path(directory) / f"{output_stem(name)}{PAIR_FILES[role]}"


def stem_of(json_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """The stem of a pair from its JSON file, relative to ``root`` when given (``scene/001``)."""
    path = Path(json_path)
    if root is not None:
        path = Path(os.path.relpath(path, root))
    return path.as_posix()[: -len(PAIR_FILES["json"])]


def sibling(json_path: str | os.PathLike[str], role: str) -> Path:
    """The file of ``role`` beside a pair's JSON file."""
    path = Path(json_path)
    return path.with_name(path.name[: -len(PAIR_FILES["json"])] + PAIR_FILES[role])


def parse_outputs(outputs: str | Sequence[str] | None, default: Sequence[str] = DEFAULT_OUTPUTS) -> tuple[str, ...]:
    """The outputs asked for, in the order of :data:`OUTPUTS`, the record (``json``) always among them.

    ``outputs``: names of :data:`OUTPUTS` as a sequence or comma-separated text
    (``"heatmap,npy"``); ``None`` gives ``default``.

    Raises:
        ParameterError: an unknown name, or none at all.
    """
    if outputs is None:
        outputs = default
    names = [part.strip() for part in outputs.split(",")] if isinstance(outputs, str) else list(outputs)
    names = [name for name in names if name]
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown or not names:
        what = f"unknown output {unknown[0]!r}" if unknown else "no output named"
        raise ParameterError(f"{what}: choose from {', '.join(OUTPUTS)} (comma-separated)")
    return tuple(name for name in OUTPUTS if name in names or name == "json")


def output_roles(outputs: Sequence[str]) -> list[str]:
    """The pair files that ``outputs`` (from :func:`parse_outputs`) ask for, the record aside.

    ``valid`` goes with the heatmap or the map; ``mask`` and ``valid`` are written only when
    the pair has them (:data:`CONDITIONAL_FILES`).
    """
    roles = [OUTPUTS[name] for name in outputs if name != "json"]
    if "heatmap" in roles or "map" in roles:
        roles.append("valid")
    return roles


def is_run_file(name: str) -> bool:
    """Whether a file name at the top of an output folder is one of the run's own files."""
    return name in RUN_FILES


# -- reading ----------------------------------------------------------------------------------


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file's content, or ``None`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def check_schema(data: Mapping[str, Any], path: str | os.PathLike[str], known: int) -> None:
    """Refuse a record written by a newer dfind (a ``schema`` above ``known``)."""
    version = data.get("schema", 1)
    if not isinstance(version, int) or version > known:
        raise InputError(f"{path}: written with schema {version!r}, newer than this dfind reads ({known}); "
                         "upgrade dfind to read it")


def is_pair_record(data: Any) -> bool:
    """Whether parsed JSON is a pair's record (and not a summary or something else)."""
    return isinstance(data, dict) and "score" in data and isinstance(data.get("map"), dict) and "config" in data


def read_pair(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A pair's record from its JSON file, or ``None`` if the file is missing, unreadable or not a record."""
    data = read_json(path)
    if not is_pair_record(data):
        return None
    check_schema(data, path, PAIR_SCHEMA)
    return data


def complete_pair(directory: str | os.PathLike[str], name: str, needs: Sequence[str] = ()) -> dict[str, Any] | None:
    """The record of a pair whose files are all in ``directory``, or ``None`` if any is missing.

    ``needs``: entries the record must hold (``"evaluation"``) or files it must list (``"a"``,
    ``"b"``: the previews of a report; the roles of :func:`output_roles`) for the pair to
    count as complete. A file of :data:`CONDITIONAL_FILES` is needed only when the record
    says the pair has it.
    """
    path = pair_file(directory, name, "json")
    data = read_json(path)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return None
    check_schema(data, path, PAIR_SCHEMA)
    folder = path.parent
    if not all(isinstance(file, str) and (folder / file).is_file() for file in files.values()):
        return None
    for key in needs:
        if key in CONDITIONAL_FILES and CONDITIONAL_FILES[key] not in data:
            continue
        if key not in (files if key in PAIR_FILES else data):
            return None
    return data


def pair_records(root: str | os.PathLike[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(json_path, record)`` for every pair saved under ``root`` (recursively), in name order."""
    for directory, subdirs, files in os.walk(root):
        top = Path(directory) == Path(root)
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and not (top and d in RUN_DIRS))
        for filename in sorted(files):
            if not filename.endswith(PAIR_FILES["json"]) or filename.startswith("."):
                continue
            if top and is_run_file(filename):
                continue
            path = Path(directory) / filename
            data = read_pair(path)
            if data is not None:
                yield path, data


# -- writing ----------------------------------------------------------------------------------


#: Writes one file at the path it is given and returns it (``write_png`` with its picture bound...).
FileWriter = Callable[[Path], Path]


def write_pair(directory: str | os.PathLike[str], name: str, record: Mapping[str, Any],
               files: Mapping[str, FileWriter]) -> dict[str, Path]:
    """Write a pair's files (role -> writer, in order), then its JSON record listing them.

    Returns every path written by role, ``"json"`` last. The record is stamped with
    :data:`PAIR_SCHEMA`.
    """
    written = {role: write(pair_file(directory, name, role)) for role, write in files.items()}
    data = {"schema": PAIR_SCHEMA, **record, "files": {role: path.name for role, path in written.items()}}
    written["json"] = write_json(pair_file(directory, name, "json"), data)
    return written


def rewrite_record(json_path: str | os.PathLike[str], record: Mapping[str, Any]) -> Path:
    """Write a pair's JSON record again (after its heatmap was re-rendered)."""
    return write_json(json_path, {"schema": PAIR_SCHEMA, **record})


# -- scores ------------------------------------------------------------------------------------


def score_fields(key: str, value: float | None) -> dict[str, Any]:
    """A score as JSON fields: ``{key: value}``, or ``{key: None, key_nonfinite: "inf"}`` for inf, -inf and NaN."""
    if value is None or math.isfinite(value):
        return {key: value}
    return {key: None, key + NONFINITE_SUFFIX: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def read_score(data: Mapping[str, Any], key: str = "score") -> float | None:
    """A score written by :func:`score_fields` (or, in schema 1, as a number or ``"inf"``) as a float; ``None``: none."""
    value = data.get(key)
    if value is None:
        value = data.get(key + NONFINITE_SUFFIX)
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def json_scores(row: Mapping[str, Any], keys: Sequence[str] = ("score", "score_a", "score_b")) -> dict[str, Any]:
    """``row`` with each score among ``keys`` written by :func:`score_fields` (in place of the row's entry)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in keys and isinstance(value, float):
            out.update(score_fields(key, value))
        else:
            out[key] = value
    return out


# -- the run summary ----------------------------------------------------------------------------


def write_summary(output: str | os.PathLike[str], summary: Mapping[str, Any],
                  columns: Sequence[str] = SUMMARY_COLUMNS) -> dict[str, Path]:
    """Write ``summary.csv`` (the rows' ``columns``) and ``summary.json`` (all of it).

    ``summary`` holds a ``pairs`` list of rows (mappings with the summary columns) and whatever
    else the run records; it is stamped with :data:`SUMMARY_SCHEMA`.
    """
    output = Path(output)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in summary.get("pairs") or ():
        writer.writerow([csv_cell(read_score(row, key) if key + NONFINITE_SUFFIX in row else row.get(key))
                         for key in columns])
    csv_path = atomic_write(output / SUMMARY_CSV, lambda f: f.write(text.getvalue()), mode="w")
    json_path = write_json(output / SUMMARY_JSON, {"schema": SUMMARY_SCHEMA, **summary})
    return {"csv": csv_path, "json": json_path}


def csv_cell(value: Any) -> str:
    """A value as a ``summary.csv`` cell: numbers as numbers, text that could run as a formula after a ``'``.

    Following the CSV-injection guidance (OWASP), a text cell starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return is prefixed with ``'``; so is one starting with ``'``, so
    that :func:`read_csv_cell` can undo it. Text that reads as a number (``-inf``) is a number.
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    text = str(value)
    if text.startswith(CSV_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def read_csv_cell(text: str) -> str:
    """A ``summary.csv`` cell as it was before :func:`csv_cell` escaped it."""
    if text.startswith("'") and text[1:].startswith(CSV_FORMULA_START) and not _is_number(text[1:]):
        return text[1:]
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_summary(output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A run's ``summary.json`` in ``output``, or ``None`` when it is missing or unreadable."""
    path = Path(output) / SUMMARY_JSON
    data = read_json(path)
    if not isinstance(data, dict):
        return None
    check_schema(data, path, SUMMARY_SCHEMA)
    return data


def read_summary_rows(output: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a run's summary in ``output`` (``summary.json``, else ``summary.csv``); none without one."""
    output = Path(output)
    data = read_summary(output)
    if data is not None and isinstance(data.get("pairs"), list):
        return [dict(row) for row in data["pairs"] if isinstance(row, dict)]
    try:
        with open(output / SUMMARY_CSV, newline="", encoding="utf-8") as handle:
            return [{key: read_csv_cell(value) if isinstance(value, str) else value for key, value in row.items()}
                    for row in csv.DictReader(handle)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


# -- approvals ----------------------------------------------------------------------------------


def read_approvals(output: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The approvals recorded in ``output/approvals.json``, oldest first; none without the file.

    Raises:
        InputError: the file exists but is not an approvals record, or is newer than this dfind reads.
    """
    path = Path(output) / APPROVALS_JSON
    if not path.exists():
        return []
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("approvals"), list):
        raise InputError(f"{path}: not a dfind approvals record; move it away to start a new one")
    check_schema(data, path, APPROVALS_SCHEMA)
    return [dict(entry) for entry in data["approvals"] if isinstance(entry, dict)]


def append_approvals(output: str | os.PathLike[str], entries: Sequence[Mapping[str, Any]]) -> Path:
    """Add ``entries`` to ``output/approvals.json``; returns its path.

    The file is read and written whole (atomically) while a hidden lock file beside it is held,
    so that approvals made at the same moment by several processes are all kept.
    """
    path = Path(output) / APPROVALS_JSON
    with held(path.with_name(f".{APPROVALS_JSON}.lock")):
        approvals = [*read_approvals(output), *(dict(entry) for entry in entries)]
        return write_json(path, {"schema": APPROVALS_SCHEMA, "approvals": approvals})


__all__ = [
    "APPROVALS_JSON", "APPROVALS_SCHEMA", "CLAIM_SUFFIX", "COMPARE_COLUMNS", "CONDITIONAL_FILES",
    "CSV_FORMULA_START", "DEFAULT_OUTPUTS", "EVALUATION_COLUMNS", "FAILED", "FOLDER_OUTPUTS", "INDEX_PAGE",
    "NONFINITE_SUFFIX", "OK", "OUTPUTS", "PAIR_FILES", "PAIR_REPORT_PAGE", "PAIR_SCHEMA", "RESERVED_ESCAPE",
    "RUN_DIRS", "RUN_FILES", "SKIPPED", "STATUSES", "SUMMARY_COLUMNS", "SUMMARY_CSV", "SUMMARY_JSON",
    "SUMMARY_SCHEMA", "THUMBS_DIR", "append_approvals", "check_schema", "claim_file", "complete_pair", "csv_cell",
    "is_pair_record", "is_run_file", "json_scores", "output_roles", "output_stem", "pair_file", "pair_records",
    "parse_outputs", "read_approvals", "read_csv_cell", "read_json", "read_pair", "read_score", "read_summary",
    "read_summary_rows", "rewrite_record", "score_fields", "sibling", "stem_of", "write_pair", "write_summary",
]
