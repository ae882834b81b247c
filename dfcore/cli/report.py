"""``dfind report TARGET``: the HTML report of results already on disk."""

from __future__ import annotations

from pathlib import Path

import click

from dfcore.cli.common import CONTEXT, reported_errors


@click.command("report", context_settings=CONTEXT)
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def report_command(target: Path, debug: bool) -> None:
    """Write the HTML report of results already on disk.

    TARGET is an output folder (of a local, distributed or resumed run): writes
    TARGET/index.html, every pair worst first, and a NAME.report.html page per pair. Or
    TARGET is one pair's NAME.json: writes its NAME.report.html.
    """
    with reported_errors(debug):
        from dfcore.report import write_index, write_pair_report

        written = write_index(target) if target.is_dir() else write_pair_report(target)
        click.echo(f"wrote {written}")

