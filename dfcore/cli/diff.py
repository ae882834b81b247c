"""``dfind A B``: where two images, or two folders of images, differ."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from dfcore.cli.common import (
    CONTEXT,
    EXIT_DIFFERENT,
    EXIT_OK,
    EXIT_PAIRS_FAILED,
    beyond,
    check_output_folder,
    count_differences,
    describe_result,
    display_options,
    finder_kwargs,
    finite_threshold,
    ignore_spec,
    input_options,
    invocation_registry,
    pair_by_from,
    pairing_options,
    read_ahead,
    report_pairing,
    reported_errors,
    scale_mode,
    share_scale,
    stage_options,
    terminate_as_interrupt,
)
from dfcore.cli.plugins import render_listing
from dfcore.cli.show import echo_json, pair_line, pipeline_text, row_line, unit_of
from dfcore.errors import InputError
from dfcore.version import __version__

EXAMPLES = """\b
Examples:
  dfind a.png b.png                      default pipeline, prints the score
  dfind a.png b.png -o out               also writes out/b.heatmap.png, .map.npy, .json
  dfind a.png b.png -m ssim -s gradient  gradient of SSIM with respect to b
  dfind a.png b.png -p highpass:cutoff=0.1 -m mse -s gradient
  dfind refs/ outputs/ -o maps           two folders, paired by relative path;
                                         maps/summary.csv, resumes when rerun
  dfind refs/ outputs/ --pair-by order   pair the n-th image of each sorted folder
  dfind gt/ sr/ --strip-b _x4_SR         gt/baboon.png with sr/baboon_x4_SR.png
  dfind gt/ dn/ --match '(?P<key>\\d+)'   gt/0001_gt.png with dn/0001_out.png
  dfind --pairs pairs.csv -o maps        explicit pairs (CSV columns a,b[,name])
  dfind a.png b.png -o out --report      also out/report.html (folders: out/index.html)
  dfind a.png b.png --figure fig.pdf     A | B | map | overlay, for a paper
  dfind a.png b.png -m mse --fail-above 0.001   exit 1 when MSE > 0.001
  dfind a.png b.png --ignore 0:0-200:40  leave a rectangle (or --ignore mask.png) out
  dfind gt.png sr.png -m psnr --y-channel --crop-border 4   PSNR-Y as in SR papers
  dfind refs/ outputs/ -o maps --scale image   folders: one scale per map (default: shared)
  dfind refs/ outputs/ -o maps --engine ray --gpus-per-worker 1   the pairs spread over Ray workers
  dfind compare gt.png a.png b.png -o out   where is A closer to the truth than B?
  dfind rescale out_a out_b              one colour scale across finished runs
  dfind a.png b.png --truth mask.png     score the map against a ground-truth mask
  dfind --list-plugins                   every stage, its plugin and distribution
  dfind check-metric psnr --gradcheck   can this metric drive a gradient map?
"""


@click.command("diff", epilog=EXAMPLES, context_settings=CONTEXT)
@click.argument("a", required=False, type=click.Path(path_type=Path))
@click.argument("b", required=False, type=click.Path(path_type=Path))
@stage_options
@input_options
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write NAME.heatmap.png, NAME.map.npy and NAME.json here (folder runs: and summary.csv/.json).")
@display_options
@click.option("--report", is_flag=True,
              help="With -o: write an HTML report, OUT/report.html (two folders: OUT/index.html and a page per pair).")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Write a figure, A | B | map | overlay, to PATH (.png, .pdf, .svg); one pair only.")
@click.option("--fail-above", type=float, metavar="T", callback=finite_threshold,
              help="Exit 1 when a score is worse than T (above T for lower-is-better metrics, below for higher) "
                   "or is not a number; T must be finite.")
@click.option("--truth", type=click.Path(path_type=Path), metavar="MASK",
              help="Ground-truth mask of the change (non-zero = changed; a folder of masks for folders): "
                   "report Dice, Jaccard, AUROC and average precision.")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False, path_type=Path), metavar="CSV",
              help="Folder runs: explicit pairs, a CSV file with columns a,b[,name] (paths relative to A and B, "
                   "or to the CSV file).")
@pairing_options()
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Folder runs: most same-size pairs computed together [default: 8].")
@click.option("--workers", type=click.IntRange(min=0), default=None, metavar="N",
              help="Folder runs: threads decoding images and writing files (0: the main thread) "
                   "[default: half the cores, 1-4]; with --engine ray: Ray workers [default: as many as fit].")
@click.option("--overwrite", is_flag=True, help="Folder runs: recompute pairs already complete in the output folder.")
@click.option("--outputs", metavar="LIST", callback=lambda ctx, param, value: _outputs_option(value),
              help="With -o: the files to write for each pair, comma-separated, of heatmap, npy, mask, json "
                   "[default: all]. The JSON record is always written; a folder run resumes the pairs that have "
                   "these.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Folder runs with -o: compute in this process, or on Ray workers (pip install \"dfind[ray]\"; "
                   "docs/ray.md).")
@click.option("--address", metavar="ADDR",
              help="With --engine ray: the Ray cluster to join (auto, HOST:PORT, ray://HOST:PORT) "
                   "[default: start a local Ray instance].")
@click.option("--gpus-per-worker", type=click.FloatRange(min=0.0), default=None, metavar="G",
              help="With --engine ray: GPUs each worker reserves and runs on [default: 0, CPU].")
@click.option("--cpus-per-worker", type=click.FloatRange(min=0.0, min_open=True), default=None, metavar="C",
              help="With --engine ray: CPUs each worker reserves, also its decoding threads [default: 1].")
@click.option("--list-plugins", is_flag=True, help="List every stage and preset, then exit.")
@click.option("--verbose", "-v", is_flag=True,
              help="Print the resolved pipeline (every stage with its parameters) and the map's unit; "
                   "with --list-plugins: every parameter.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON on stdout, and nothing else there: one pair, its record; folders, "
                   "JSON Lines, one per pair; with --list-plugins, the listing.")
@click.option("--quiet", is_flag=True,
              help="Print only errors (no progress bar). No short flag: -q is a postprocessor, as -p, -m, -s are stages.")
@click.version_option(__version__, "--version", prog_name="dfind")
def diff(a: Path | None, b: Path | None, preprocessors: tuple[str, ...], metric: str | None, strategy: str | None,
         postprocessors: tuple[str, ...], preset: str | None, device: str, disable_plugin_autoload: bool,
         debug: bool, ignore: tuple[str, ...], y_channel: bool, crop_border: int, size_policy: str,
         output: Path | None, colormap: str | None, vmax: float | None, scale: str | None, report: bool,
         figure: Path | None, fail_above: float | None, truth: Path | None, pairs_file: Path | None,
         pair_by: str | None, strip_a: tuple[str, ...], strip_b: tuple[str, ...], match: str | None,
         allow_unequal: bool, batch_size: int | None, workers: int | None, overwrite: bool,
         outputs: tuple[str, ...] | None, engine: str, address: str | None,
         gpus_per_worker: float | None, cpus_per_worker: float | None, list_plugins: bool, verbose: bool,
         as_json: bool, quiet: bool) -> None:
    """Show where images A and B differ: a difference map, a score, and regions.

    A and B are two image files or two folders (paired by relative path, recursively, unless
    --pair-by says otherwise; with --pairs the folders are optional). A folder run with -o writes each pair's files and
    OUT/summary.csv and summary.json; rerun it to resume, Ctrl-C keeps what is done.
    """
    with reported_errors(debug), contextlib.ExitStack() as stack:
        registry = invocation_registry(disable_plugin_autoload)
        if list_plugins:
            click.echo(render_listing(registry, as_json=as_json, verbose=verbose), nl=not as_json)
            return
        folders = pairs_file is not None or (a is not None and b is not None and (a.is_dir() or b.is_dir()))
        if pairs_file is None and (a is None or b is None):
            raise click.UsageError("give two images (or two folders) to compare, or --list-plugins")
        if pairs_file is not None and (a is None) != (b is None):
            raise click.UsageError("with --pairs give both folders A and B, or neither")
        if not folders and (batch_size is not None or workers is not None or overwrite):
            raise click.UsageError("--batch-size, --workers and --overwrite apply to folder runs")
        rule = pair_by_from(pair_by, strip_a, strip_b, match, allow_unequal)
        if rule.rule != "path" and not (folders and pairs_file is None):
            raise click.UsageError(f"--pair-by {rule.rule} pairs two folders"
                                   + (": a pairs file lists its pairs already" if pairs_file else ", not two files"))
        if report and output is None:
            raise click.UsageError("--report writes into the output folder: give -o DIR too")
        ray_options = {"--address": address, "--gpus-per-worker": gpus_per_worker, "--cpus-per-worker": cpus_per_worker}
        if engine == "local" and any(value is not None for value in ray_options.values()):
            given = [name for name, value in ray_options.items() if value is not None]
            raise click.UsageError(f"{', '.join(given)}: only with --engine ray")
        if engine == "ray" and not (folders and output is not None):
            raise click.UsageError("--engine ray runs folders into an output folder: give two folders and -o DIR")
        if figure is not None:
            if folders:
                raise click.UsageError("--figure draws one pair: give two images, not folders (or use --report)")
            from dfcore.report.figure import figure_format

            figure_format(figure)
        if folders:
            _check_folders(a, b)
        mode = scale_mode(scale, vmax, folders)
        outputs, mode = _chosen_outputs(outputs, output, folders, mode, scale, report)
        ignored = ignore_spec(ignore)
        kwargs = finder_kwargs(preprocessors, metric, strategy, postprocessors, preset, device, registry, y_channel,
                               crop_border, size_policy)
        _check_inputs(registry, kwargs, a, b, folders, pairs_file, truth)
        pairing = None
        if folders:
            from dfcore.io.pairing import make_pairing

            pairing = make_pairing(a, b, pairs_file, pair_by=rule, on_empty="raise")
        if engine == "local":  # the files are decoded while torch is imported and the pipeline built
            stack.enter_context(read_ahead(pairing, a, b, output, overwrite))
        runner: Any = None
        if engine == "ray":  # before the pipeline is built: a missing Ray fails at once
            from dfcore.runs.engines.ray import RayEngine

            runner = RayEngine(address, workers=workers, gpus_per_worker=gpus_per_worker or 0.0,
                               cpus_per_worker=cpus_per_worker or 1.0, device=None if device == "auto" else device,
                               log_to_driver=debug)
            workers = None
        from dfcore.finder import Finder

        finder = Finder(**kwargs)
        check_output_folder(output)  # a bad stage name leaves no empty folder behind; no pair is computed yet
        display = {"colormap": colormap, "vmax": vmax, "scale": mode}
        if folders:
            code = _run_dirs(finder, pairing, a, b, output, display, fail_above=fail_above, quiet=quiet,
                             report=report, ignore=ignored, truth=truth, batch_size=batch_size, workers=workers,
                             overwrite=overwrite, engine=runner, outputs=outputs, as_json=as_json,
                             verbose=verbose)
        else:
            result = finder.run(a, b, ignore=ignored, truth=truth)
            code = EXIT_OK
            written = []
            if output is not None:
                files = result.save(output, colormap=colormap, vmax=vmax, previews=report, outputs=outputs)
                if mode == "shared":
                    share_scale(output, [files["json"]], quiet=True)
                written = list(files.values())
                if report:
                    from dfcore.report import write_pair_report

                    written.append(write_pair_report(files["json"], output / "report.html"))
            if figure is not None:
                result.figure(figure, colormap=colormap, vmax=vmax)
                written.append(figure)
            if as_json:
                from dfcore.io.layout import read_pair

                echo_json((read_pair(files["json"]) if output is not None else None) or result.to_dict())
            elif not quiet:
                click.echo(describe_result(result))
                if written:
                    click.echo("wrote " + ", ".join(str(p) for p in written))
            if verbose:
                click.echo(pipeline_text(result.config, result.unit), err=as_json)
            if fail_above is not None and beyond(result.score, fail_above, result.higher_is_better):
                click.echo(_threshold_message(result, fail_above), err=True)
                code = EXIT_DIFFERENT
    sys.exit(code)


def _outputs_option(value: str | None) -> tuple[str, ...] | None:
    """``--outputs``: the names checked now (the files are chosen once the run's kind is known)."""
    if value is None:
        return None
    from dfcore.errors import ParameterError
    from dfcore.io.layout import parse_outputs

    try:
        return parse_outputs(value)
    except ParameterError as exc:
        raise click.BadParameter(str(exc)) from None


def _chosen_outputs(outputs: tuple[str, ...] | None, output: Path | None, folders: bool, mode: str,
                    scale: str | None, report: bool) -> tuple[tuple[str, ...], str]:
    """The files a run writes and its colour scale: a default shared scale needs the maps, which --outputs may omit."""
    from dfcore.io.layout import DEFAULT_OUTPUTS, FOLDER_OUTPUTS, parse_outputs

    if outputs is not None and output is None:
        raise click.UsageError("--outputs chooses the files written into the output folder: give -o DIR too")
    outputs = outputs or parse_outputs(FOLDER_OUTPUTS if folders else DEFAULT_OUTPUTS)
    if report and "heatmap" not in outputs:
        raise click.UsageError("--report shows the heatmaps: add heatmap to --outputs")
    if mode == "shared" and "heatmap" not in outputs:  # no heatmap to draw on it, so no scale to share
        if scale == "shared":
            raise click.UsageError("--scale shared draws the heatmaps: add heatmap to --outputs")
        return outputs, "image"
    if mode == "shared" and "npy" not in outputs:
        if scale == "shared":
            raise click.UsageError("--scale shared draws the heatmaps from the saved maps: add npy to --outputs, "
                                   "or choose --scale image or --vmax")
        mode = "image"  # the folders' default scale, without the maps it is drawn from
    return outputs, mode


def _check_inputs(registry: Any, kwargs: dict[str, Any], a: Path | None, b: Path | None, folders: bool,
                  pairs_file: Path | None, truth: Path | None) -> None:
    """What can be checked before torch is imported: the stages, the preset, their parameters and the input files."""
    from dfcore.io.sources import check_file, check_image_file
    from dfcore.plugin.spec import KINDS

    registry.pipeline_refs({kind: kwargs[kind] for kind in KINDS}, kwargs["preset"])
    if not folders:
        check_image_file(a)  # type: ignore[arg-type]
        check_image_file(b)  # type: ignore[arg-type]
        if truth is not None:
            check_file(truth)
    if pairs_file is not None:
        check_file(pairs_file)


def _describe_row(row: Any, metric: str, higher: bool, evaluation: Any = None) -> str:
    direction = "higher is better" if higher else "lower is better"
    line = f"{row.pair}: {metric} = {row.score:.6g} ({direction})"
    if row.regions is not None:
        line += f", {count_differences(row.regions)}"
    if evaluation is not None:
        line += f"\n{evaluation.summary()}"
    return line


def _written_evaluation(output: Path, row: Any) -> Any:
    """The evaluation in the JSON another process wrote for ``row``, or ``None``."""
    if row.average_precision is None and row.auroc is None:
        return None
    from dfcore.io.layout import pair_file, read_pair
    from dfcore.pipeline import Evaluation

    data = read_pair(pair_file(output, row.pair, "json"))
    try:
        return Evaluation.from_dict(data["evaluation"])
    except (KeyError, TypeError):
        return None


def _threshold_message(result: Any, threshold: float) -> str:
    metric = result.config["metric"]["name"]
    worse = "is not a number, which fails" if math.isnan(result.score) else "is worse than"
    return f"dfind: {result.name or 'pair'}: {metric} = {result.score:.6g} {worse} the threshold {threshold:g}"


def _check_folders(dir_a: Path | None, dir_b: Path | None) -> None:
    for folder in (dir_a, dir_b):
        if folder is not None and not folder.is_dir():
            other = dir_b if folder is dir_a else dir_a
            if not folder.exists():
                raise InputError(f"{folder}: no such folder")
            raise InputError(f"{other} is a folder but {folder} is not: compare two files or two folders")


def _run_dirs(finder: Any, pairing: Any, dir_a: Path | None, dir_b: Path | None, output: Path | None,
              display: dict[str, Any], *, fail_above: float | None, quiet: bool, report: bool = False,
              ignore: Any = None, truth: Path | None = None, batch_size: int | None = None,
              workers: int | None = None, overwrite: bool = False, engine: Any = None,
              outputs: tuple[str, ...] | None = None, as_json: bool = False, verbose: bool = False) -> int:
    """A folder run: with ``-o`` an engine (files, summary, resume, report), else one line per pair
    (``as_json``: a JSON line per pair on stdout, people's lines on stderr)."""
    from dfcore.io.layout import FAILED, OK, SKIPPED, pair_file, read_pair
    from dfcore.runs import BatchInterrupted

    units: list[str | None] = []  # the map's unit, from the first pair that says it (for -v)

    run = finder.run_dirs(pairing=pairing, on_error="record", ignore=ignore, truth=truth, batch_size=batch_size,
                          workers=workers)
    if not quiet:
        report_pairing(run.pairing, [dir_a, dir_b])
        _report_one_sided(run.pairing.only_a, dir_a)
        _report_one_sided(run.pairing.only_b, dir_b)
    higher = finder.higher_is_better
    metric = finder.metric.record["name"]
    if output is None:
        results = []
        for result in run:
            if not result.ok:
                click.echo(f"dfind: {result.name}: failed: {result.error}", err=True)
                if as_json:
                    echo_json(pair_line(result.name, FAILED, {"error": result.error}))
            else:
                units.append(result.unit)
                if as_json:
                    echo_json(pair_line(result.name, OK, result.to_dict()))
                elif not quiet:
                    click.echo(describe_result(result, listed=0))
            results.append(result)
        failed = sum(not r.ok for r in results)
        scores = [r.score for r in results if r.ok]
        if not quiet:
            click.echo(f"{len(results) - failed} of {len(results)} pairs compared"
                       + (f", {failed} failed" if failed else ""), err=as_json)
    else:
        def show(row: Any, result: Any) -> None:
            if verbose and row.status != FAILED and not units:
                units.append(result.unit if result is not None
                             else unit_of(read_pair(pair_file(output, row.pair, "json"))))
            if as_json:
                echo_json(pair_line(row.pair, OK, result.to_dict()) if result is not None else row_line(row))
            if row.status == FAILED:
                click.echo(f"dfind: {row.pair}: failed: {row.error}", err=True)
            elif quiet or as_json or row.status != OK:
                return
            elif result is not None:
                click.echo(describe_result(result, listed=0))
            else:  # computed by another process: its row and its JSON have what to say
                click.echo(_describe_row(row, metric, higher, _written_evaluation(output, row)))

        if display["scale"] == "shared" and outputs is not None:  # each heatmap is drawn once, when every map is known
            outputs = tuple(name for name in outputs if name != "heatmap")
        with terminate_as_interrupt():
            try:
                summary = run.save(output, overwrite=overwrite, colormap=display["colormap"], vmax=display["vmax"],
                                   previews=report, progress=False if quiet else None, on_row=show, engine=engine,
                                   outputs=outputs, fail_above=fail_above)
            except BatchInterrupted as stop:
                counts = stop.report.counts
                click.echo(f"dfind: interrupted: {counts['ok'] + counts['skipped']} of {len(run)} pairs complete, "
                           f"summary in {stop.report.files['csv']}; rerun the same command to resume", err=True)
                return 130
        failed = summary.counts[FAILED]
        complete = [row for row in summary.rows if row.status in (OK, SKIPPED)]
        scores = [row.score for row in complete if row.score is not None]
        if not quiet:
            click.echo(_describe_report(summary, metric, higher), err=as_json)
        if display["scale"] == "shared" and complete:
            share_scale(output, [pair_file(output, row.pair, "json") for row in complete], quiet or as_json)
        if report:
            from dfcore.report import write_index

            index = write_index(output, [row.to_dict() for row in summary.failed])
            if not quiet:
                click.echo(f"wrote {index}", err=as_json)
    if verbose:
        click.echo(pipeline_text(finder.config, next((unit for unit in units if unit), None)), err=as_json)
    worse = sum(beyond(score, fail_above, higher) for score in scores) if fail_above is not None else 0
    if worse:
        nan = sum(math.isnan(score) for score in scores)
        click.echo(f"dfind: {worse} pair{'s' if worse != 1 else ''}: {metric} worse than the threshold "
                   f"{fail_above:g}" + (f" ({nan} of them not a number)" if nan else ""), err=True)
    if failed:
        return EXIT_PAIRS_FAILED
    return EXIT_DIFFERENT if worse else EXIT_OK


def _report_one_sided(names: Sequence[str], folder: Path | None, shown: int = 10) -> None:
    for rel in names[:shown]:
        click.echo(f"dfind: only in {folder}: {rel}", err=True)
    if len(names) > shown:
        click.echo(f"dfind: ... and {len(names) - shown} more only in {folder} (all listed in summary.json)", err=True)


def _describe_report(report: Any, metric: str, higher: bool) -> str:
    import statistics

    from dfcore.runs.summary import evaluation_means

    counts = report.counts
    line = f"{counts['ok'] + counts['skipped']} of {counts['total']} pairs compared"
    if counts["failed"]:
        line += f", {counts['failed']} failed"
    if counts["skipped"]:
        line += f" ({counts['skipped']} already complete from an earlier run)"
    lines = [line]
    rows = [r for r in report.rows if r.ok and r.score is not None and math.isfinite(r.score)]
    if rows:
        scores = [r.score for r in rows]
        worst = (min if higher else max)(rows, key=lambda r: r.score)
        direction = "higher is better" if higher else "lower is better"
        lines.append(f"{metric}: mean {statistics.fmean(scores):.6g}, median {statistics.median(scores):.6g}, "
                     f"worst {worst.score:.6g} at {worst.pair} ({direction})")
    means = evaluation_means(report.rows)
    if means:
        names = {"auroc": "AUROC", "average_precision": "AP", "best_dice": "best dice"}
        lines.append("against the truth masks, mean: " + ", ".join(f"{names[k]} {v:.4f}" for k, v in means.items()))
    lines.append(f"summary: {report.files['csv']} ({report.seconds:.1f} s)")
    return "\n".join(lines)
