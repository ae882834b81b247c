"""``dfind compare TRUTH A B``: which of two reconstructions is closer to the truth, and where."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dfcore.cli.common import (
    CONTEXT,
    EXIT_OK,
    EXIT_PAIRS_FAILED,
    check_output_folder,
    display_options,
    finder_kwargs,
    ignore_spec,
    input_options,
    invocation_registry,
    pair_by_from,
    pairing_options,
    report_pairing,
    reported_errors,
    scale_mode,
    share_scale,
    stage_options,
    terminate_as_interrupt,
)


@click.command("compare", context_settings=CONTEXT)
@click.argument("truth", type=click.Path(path_type=Path))
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@stage_options
@input_options
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write NAME.heatmap.png, NAME.map.npy and NAME.json here (NAME: the truth's file name).")
@display_options
@click.option("--report", is_flag=True, help="With -o: also an HTML report (folders: OUT/index.html).")
@pairing_options(three=True)
@click.option("--quiet", is_flag=True, help="Print only errors.")
def compare_command(truth: Path, a: Path, b: Path, preprocessors: tuple[str, ...], metric: str | None,
                    strategy: str | None, postprocessors: tuple[str, ...], preset: str | None, device: str,
                    disable_plugin_autoload: bool, debug: bool, ignore: tuple[str, ...], y_channel: bool,
                    crop_border: int, size_policy: str, output: Path | None, colormap: str | None,
                    vmax: float | None, scale: str | None, report: bool, pair_by: str | None,
                    strip_truth: tuple[str, ...], strip_a: tuple[str, ...], strip_b: tuple[str, ...],
                    match: str | None, allow_unequal: bool, quiet: bool) -> None:
    """Which of two reconstructions, A or B, is closer to TRUTH, and where.

    For the chosen pipeline the map is A's error map minus B's (both against TRUTH):
    negative, blue, where A is closer; positive, red, where B is closer; the colour scale is
    symmetric about zero. Prints both scores and which is better overall. With a
    thresholding postprocessor (-q otsu) each region is labelled with its winner. TRUTH, A
    and B are three images or three folders (paired by relative path, or as --pair-by says:
    the truth is paired with A and with B).

    \b
    Examples:
      dfind compare gt.png ours.png baseline.png
      dfind compare gt/ ours/ baseline/ -o cmp --report
      dfind compare gt/ ours/ base/ --strip-a _ours --strip-b _base -o cmp
      dfind compare gt.png a.png b.png -m mse -s integrated -q otsu -o cmp
    """
    with reported_errors(debug):
        registry = invocation_registry(disable_plugin_autoload)
        if report and output is None:
            raise click.UsageError("--report writes into the output folder: give -o DIR too")
        folders = truth.is_dir() or a.is_dir() or b.is_dir()
        rule = pair_by_from(pair_by, strip_a, strip_b, match, allow_unequal, strip_truth)
        if rule.rule != "path" and not folders:
            raise click.UsageError(f"--pair-by {rule.rule} pairs three folders, not three files")
        mode = scale_mode(scale, vmax, folders)
        ignored = ignore_spec(ignore)
        from dfcore.finder import Finder

        finder = Finder(**finder_kwargs(preprocessors, metric, strategy, postprocessors, preset, device, registry,
                                        y_channel, crop_border, size_policy))
        check_output_folder(output)
        pairing = {"pair_by": rule, "on_empty": "raise"} if folders else {}
        outcome = finder.compare(truth, a, b, on_error="record", ignore=ignored, **pairing)
        if folders:
            if not quiet:
                report_pairing(outcome.pairing, [truth, a, b])
            for line in outcome.triples.missing:
                click.echo(f"dfind: {line}", err=True)
            code = _compare_folders(outcome, output, colormap, vmax, mode, report, quiet)
        else:
            code = _compare_pair(outcome, output, colormap, vmax, mode, report, quiet)
    sys.exit(code)


def _compare_pair(result: Any, output: Path | None, colormap: str | None, vmax: float | None, mode: str,
                  report: bool, quiet: bool) -> int:
    written: list[Path] = []
    if output is not None:
        files = result.save(output, colormap=colormap, vmax=vmax, previews=report)
        if mode == "shared":
            share_scale(output, [files["json"]], quiet=True)
        written = list(files.values())
        if report:
            from dfcore.io.layout import PAIR_REPORT_PAGE
            from dfcore.report import write_pair_report

            written.append(write_pair_report(files["json"], output / PAIR_REPORT_PAGE))
    if not quiet:
        click.echo(_describe_comparison(result))
        if written:
            click.echo("wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _compare_folders(run: Any, output: Path | None, colormap: str | None, vmax: float | None, mode: str,
                     report: bool, quiet: bool) -> int:
    """Three folders: one line per comparison; with ``-o``, the folder runner (resume, summary, report)."""
    wins = {"a": 0, "b": 0, "tie": 0}
    if output is None:
        failed = 0
        for result in run:
            if not result.ok:
                failed += 1
                click.echo(f"dfind: {result.name}: failed: {result.error}", err=True)
                continue
            wins[result.better] += 1
            if not quiet:
                click.echo(_describe_comparison(result))
        done = len(run) - failed
    else:
        from dfcore.io.layout import FAILED, OK, SKIPPED, pair_file
        from dfcore.runs import BatchInterrupted

        def show(row: Any, result: Any) -> None:
            if row.status == FAILED:
                click.echo(f"dfind: {row.pair}: failed: {row.error}", err=True)
            elif not quiet and row.status == OK and result is not None:
                click.echo(_describe_comparison(result))

        with terminate_as_interrupt():
            try:
                summary = run.save(output, colormap=colormap, vmax=vmax, previews=report,
                                   progress=False if quiet else None, on_row=show)
            except BatchInterrupted as stop:
                click.echo(f"dfind: interrupted: summary in {stop.report.files['csv']}; "
                           "rerun the same command to resume", err=True)
                return 130
        complete = [row for row in summary.rows if row.status in (OK, SKIPPED)]
        for row in complete:
            wins[row.better or "tie"] += 1
        failed, done = summary.counts[FAILED], len(complete)
        if mode == "shared" and complete:
            share_scale(output, [pair_file(output, row.pair, "json") for row in complete], quiet)
        if report:
            from dfcore.report import write_index

            index = write_index(output)
            if not quiet:
                click.echo(f"wrote {index}")
    if not quiet:
        tail = (f", tied in {wins['tie']}" if wins["tie"] else "") + (f", {failed} failed" if failed else "")
        click.echo(f"{done} of {len(run)} compared: A closer in {wins['a']}, B closer in {wins['b']}{tail}")
    return EXIT_PAIRS_FAILED if failed else EXIT_OK


def _describe_comparison(result: Any) -> str:
    direction = "higher is better" if result.higher_is_better else "lower is better"
    metric = result.config["metric"]["name"]
    verdict = {"a": "A is closer to the truth", "b": "B is closer to the truth", "tie": "A and B tie"}[result.better]
    scores = f"{metric} A = {result.score_a:.6g}, B = {result.score_b:.6g}"
    lines = [f"{result.name or 'pair'}: {scores} ({direction}): {verdict}"]
    if result.mask is not None or result.regions:
        by_a = sum(r.label == "a" for r in result.regions)
        by_b = sum(r.label == "b" for r in result.regions)
        lines.append(f"found {len(result.regions)} region{'s' if len(result.regions) != 1 else ''}: "
                     f"A closer in {by_a}, B closer in {by_b}")
    return "\n".join(lines)

