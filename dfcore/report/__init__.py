"""Visual reports of results: HTML pages, notebook views and publication figures.

* :func:`write_pair_report` -- the page of one pair, from its JSON and the files beside it
  (``dfind A B -o OUT --report`` writes ``OUT/report.html``).
* :func:`write_index` -- for an output folder: ``OUT/index.html`` listing every pair worst
  first, and one page per pair (``NAME.report.html`` next to ``NAME.json``). It reads the
  folder alone, so it works the same after a local, distributed or resumed run.
* :func:`result_html` / :func:`notebook_html` -- a :class:`~dfcore.pipeline.DiffResult` (or any object with its fields) as
  one self-contained page, images embedded (``DiffResult.to_html()`` and ``_repr_html_``).
* :func:`dfcore.report.figure.make_figure` -- A | B | map with colour bar | overlay, with
  matplotlib (``DiffResult.figure()``, ``dfind A B --figure fig.pdf``).

Pages need no server and make no network request; see ``docs/report.md``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dfcore.errors import InputError
from dfcore.io.files import atomic_write
from dfcore.io.layout import INDEX_PAGE, read_pair, read_summary, sibling
from dfcore.report.index_page import render_index
from dfcore.report.pages import render_pair, src
from dfcore.report.model import (
    PairRecord,
    failures_from,
    make_thumbnails,
    merge_failures,
    read_failures,
    record_from_json,
    record_from_result,
    scan_output,
    sort_records,
)

NOTEBOOK_MAX_SIDE = 1024


def result_html(result: Any, max_side: int | None = 2048) -> str:
    """A :class:`~dfcore.pipeline.DiffResult` as one self-contained HTML document."""
    return render_pair(record_from_result(result, max_side=max_side))


def notebook_html(result: Any, height: int = 900) -> str:
    """The page in a sandboxed ``<iframe srcdoc>``, so its styles and script stay out of the notebook."""
    page = result_html(result, max_side=NOTEBOOK_MAX_SIDE)
    title = html.escape(f"dfind report: {result.name or 'pair'}", quote=True)
    return (f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{title}" sandbox="allow-scripts" '
            f'style="width:100%;height:{int(height)}px;border:1px solid #8884;border-radius:8px" '
            f'loading="lazy"></iframe>')


def write_pair_report(json_path: str | os.PathLike[str], page: str | os.PathLike[str] | None = None) -> Path:
    """Write the page of the pair whose result is ``json_path`` (a ``NAME.json`` from ``save``).

    ``page`` defaults to ``NAME.report.html`` beside the JSON; images are linked relatively.
    """
    json_path = Path(json_path)
    data = read_pair(json_path)
    if data is None:
        raise InputError(f"{json_path}: not a dfind result (a NAME.json written by dfind -o)")
    record = record_from_json(json_path, data)
    page = Path(page) if page is not None else _page_for(record)
    text = render_pair(record, page.parent.resolve())
    return atomic_write(page, lambda f: f.write(text), mode="w")


def write_index(out: str | os.PathLike[str], failures: Iterable[Any] = ()) -> Path:
    """Write ``out/index.html`` and one page per pair for the results in the folder ``out``.

    Pairs are every ``NAME.json`` result under ``out``; failed pairs come from the run's
    ``summary.json``/``summary.csv`` and from ``failures`` (summary rows or
    :class:`~dfcore.pipeline.PairFailure` objects), and so do how the folders were paired and
    the files left on one side. Thumbnails go to ``out/thumbs/``.
    """
    out = Path(out)
    if not out.is_dir():
        raise InputError(f"{out}: not a folder of dfind results")
    records = scan_output(out)
    records = sort_records(merge_failures(records, [*read_failures(out), *failures_from(failures)]))
    root = out.resolve()
    ok = [r for r in records if r.ok]
    pages = {r.name: _page_for(r) for r in ok}
    for record in ok:
        make_thumbnails(record, out)
    index = out / INDEX_PAGE
    for i, record in enumerate(ok):
        page = pages[record.name]
        here = page.parent.resolve()
        nav = {"index": src(index.resolve(), here)}
        if i > 0:
            nav["prev"] = src(pages[ok[i - 1].name].resolve(), here)
        if i + 1 < len(ok):
            nav["next"] = src(pages[ok[i + 1].name].resolve(), here)
        text = render_pair(record, here, nav)
        atomic_write(page, lambda f, t=text: f.write(t), mode="w")
    heading, folders = _heading(out, ok)
    text = render_index(records, root, {name: p.resolve() for name, p in pages.items()}, heading, folders,
                        read_summary(out))
    return atomic_write(index, lambda f: f.write(text), mode="w")


def _page_for(record: PairRecord) -> Path:
    """``NAME.report.html`` beside the record's ``NAME.json``."""
    return sibling(record.json_path or f"{record.name}.json", "report")


def _heading(out: Path, records: list[PairRecord]) -> tuple[str, list[str]]:
    """(``refs vs outputs``, the two folders) from the folders the sources share, else the output folder."""
    folders = []
    for role in ("a", "b"):
        sources = [r.sources.get(role) for r in records]
        if not sources or not all(sources):
            return out.resolve().name, []
        try:
            folders.append(os.path.commonpath([os.path.dirname(s) or "." for s in sources]))
        except ValueError:
            return out.resolve().name, []
    return f"{Path(folders[0]).name or folders[0]} vs {Path(folders[1]).name or folders[1]}", folders


__all__ = ["notebook_html", "result_html", "write_index", "write_pair_report"]
