"""The ``dfind`` command line.

Exit codes: 0 = ran (and every score is within ``--fail-above``), 1 = a score is beyond
``--fail-above``, 2 = usage or input error, 3 = a folder run in which some pairs failed.
This module imports torch only once a comparison actually runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from dfcore import __version__
from dfcore.errors import DfindError
from dfcore.plugins import AUTOLOAD_ENV, one_line
from dfcore.registry import KINDS, Registry, create_registry, get_registry, set_registry

EXIT_OK, EXIT_DIFFERENT, EXIT_ERROR, EXIT_PAIRS_FAILED = 0, 1, 2, 3

EXAMPLES = """\b
Examples:
  dfind a.png b.png                      default pipeline, prints the score
  dfind a.png b.png -o out               also writes out/b.heatmap.png, .map.npy, .json
  dfind a.png b.png -m ssim -s gradient  gradient of SSIM with respect to b
  dfind a.png b.png -p highpass:cutoff=0.1 -m mse -s gradient
  dfind refs/ outputs/ -o maps           two folders, paired by relative path;
                                         maps/summary.csv, resumes when rerun
  dfind --pairs pairs.csv -o maps        explicit pairs (CSV columns a,b[,name])
  dfind a.png b.png -m mse --fail-above 0.001   exit 1 when MSE > 0.001
  dfind --list-plugins                   every stage, its plugin and distribution
\b
Other commands: dfind COMMAND --help
"""


class _DefaultGroup(click.Group):
    """A group whose unknown first argument falls through to the ``diff`` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["diff", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dfind: where two images differ."""


@contextlib.contextmanager
def _reported_errors(debug: bool) -> Iterator[None]:
    """DfindError (and anything unexpected) -> one line on stderr and exit 2; traceback with --debug."""
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("dfind: interrupted", err=True)
        sys.exit(130)
    except DfindError as exc:
        if debug:
            raise
        click.echo(f"dfind: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"dfind: error: {one_line(exc)} (rerun with --debug for the traceback)", err=True)
        sys.exit(EXIT_ERROR)


def _registry(disable_autoload: bool) -> Registry:
    if disable_autoload:
        os.environ[AUTOLOAD_ENV] = "1"
        registry = create_registry(autoload=False)
        set_registry(registry)
        return registry
    return get_registry()


def _stage_options(func: Any) -> Any:
    options = [
        click.option("-p", "--preprocessor", "preprocessors", multiple=True, metavar="NAME[:K=V,...]",
                     help="Preprocessor; repeat for a chain (applied in order)."),
        click.option("-m", "--metric", metavar="NAME[:K=V,...]", help="Metric (score and what strategies differentiate)."),
        click.option("-s", "--strategy", metavar="NAME[:K=V,...]", help="Strategy that makes the map."),
        click.option("-q", "--postprocessor", "postprocessors", multiple=True, metavar="NAME[:K=V,...]",
                     help="Postprocessor; repeat for a chain."),
        click.option("--preset", metavar="NAME", help="Named pipeline filling the stages not given (default: default)."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
        click.option("--disable-plugin-autoload", is_flag=True,
                     help=f"Load only dfind's own plugins (also: {AUTOLOAD_ENV}=1)."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _finder_kwargs(preprocessors: Sequence[str], metric: str | None, strategy: str | None,
                   postprocessors: Sequence[str], preset: str | None, device: str,
                   registry: Registry) -> dict[str, Any]:
    return {
        "preprocessor": list(preprocessors) or None,
        "metric": metric,
        "strategy": strategy,
        "postprocessor": list(postprocessors) or None,
        "preset": preset,
        "device": device,
        "registry": registry,
    }


@main.command("diff", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("a", required=False, type=click.Path(path_type=Path))
@click.argument("b", required=False, type=click.Path(path_type=Path))
@_stage_options
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write NAME.heatmap.png, NAME.map.npy and NAME.json here (folder runs: and summary.csv/.json).")
@click.option("--colormap", default=None, help="Heatmap colormap (matplotlib name) [default: inferno].")
@click.option("--fail-above", type=float, metavar="T",
              help="Exit 1 when a score is worse than T (above T for lower-is-better metrics, below for higher).")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False, path_type=Path), metavar="CSV",
              help="Folder runs: explicit pairs, a CSV file with columns a,b[,name] (paths relative to A and B, "
                   "or to the CSV file).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Folder runs: most same-size pairs computed together [default: 8].")
@click.option("--workers", type=click.IntRange(min=0), default=None, metavar="N",
              help="Folder runs: threads decoding images and writing files (0: the main thread) "
                   "[default: half the cores, 1-4].")
@click.option("--overwrite", is_flag=True, help="Folder runs: recompute pairs already complete in the output folder.")
@click.option("--list-plugins", is_flag=True, help="List every stage and preset, then exit.")
@click.option("--verbose", "-v", is_flag=True, help="With --list-plugins: show parameters.")
@click.option("--json", "as_json", is_flag=True, help="With --list-plugins: machine-readable output.")
@click.option("--quiet", is_flag=True, help="Print only errors (no progress bar).")
@click.version_option(__version__, "--version", prog_name="dfind")
def diff(a: Path | None, b: Path | None, preprocessors: tuple[str, ...], metric: str | None, strategy: str | None,
         postprocessors: tuple[str, ...], preset: str | None, device: str, disable_plugin_autoload: bool,
         debug: bool, output: Path | None, colormap: str | None, fail_above: float | None,
         pairs_file: Path | None, batch_size: int | None, workers: int | None, overwrite: bool,
         list_plugins: bool, verbose: bool, as_json: bool, quiet: bool) -> None:
    """Show where images A and B differ: a difference map, a score, and regions.

    A and B are two image files or two folders (paired by relative path, recursively; with
    --pairs the folders are optional). A folder run with -o writes each pair's files and
    OUT/summary.csv and summary.json; rerun it to resume, Ctrl-C keeps what is done.
    """
    with _reported_errors(debug):
        registry = _registry(disable_plugin_autoload)
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
        if folders:
            _check_folders(a, b)
        from dfcore.pipeline import Finder

        finder = Finder(**_finder_kwargs(preprocessors, metric, strategy, postprocessors, preset, device, registry))
        if folders:
            code = _run_dirs(finder, a, b, pairs_file, output, colormap=colormap, fail_above=fail_above,
                             quiet=quiet, batch_size=batch_size, workers=workers, overwrite=overwrite)
        else:
            result = finder.run(a, b)
            code = EXIT_OK
            if output is not None:
                files = result.save(output, colormap=colormap)
            if not quiet:
                click.echo(_describe_result(result))
                if output is not None:
                    click.echo("wrote " + ", ".join(str(p) for p in files.values()))
            if fail_above is not None and _beyond(result.score, fail_above, result.higher_is_better):
                click.echo(_threshold_message(result, fail_above), err=True)
                code = EXIT_DIFFERENT
    sys.exit(code)


def _describe_result(result: Any) -> str:
    direction = "higher is better" if result.higher_is_better else "lower is better"
    metric = result.config["metric"]["name"]
    lines = [f"{result.name or 'pair'}: {metric} = {result.score:.6g} ({direction})"]
    if result.mask is not None or result.regions:
        lines.append(f"found {len(result.regions)} region{'s' if len(result.regions) != 1 else ''}")
    return "\n".join(lines)


def _beyond(score: float, threshold: float, higher_is_better: bool) -> bool:
    return score < threshold if higher_is_better else score > threshold


def _threshold_message(result: Any, threshold: float) -> str:
    metric = result.config["metric"]["name"]
    return f"dfind: {result.name or 'pair'}: {metric} = {result.score:.6g} is worse than the threshold {threshold:g}"


def _check_folders(dir_a: Path | None, dir_b: Path | None) -> None:
    from dfcore.errors import InputError

    for folder in (dir_a, dir_b):
        if folder is not None and not folder.is_dir():
            other = dir_b if folder is dir_a else dir_a
            if not folder.exists():
                raise InputError(f"{folder}: no such folder")
            raise InputError(f"{other} is a folder but {folder} is not: compare two files or two folders")


def _run_dirs(finder: Any, dir_a: Path | None, dir_b: Path | None, pairs_file: Path | None, output: Path | None, *,
              colormap: str | None, fail_above: float | None, quiet: bool, batch_size: int | None,
              workers: int | None, overwrite: bool) -> int:
    """A folder run: with ``-o`` the batch engine (files, summary, resume), else one line per pair."""
    from dfcore.batch import BatchInterrupted
    from dfcore.errors import InputError

    run = finder.run_dirs(dir_a, dir_b, pairs=pairs_file, on_error="record", batch_size=batch_size, workers=workers)
    if not quiet:
        _report_one_sided(run.pairing.only_a, dir_a)
        _report_one_sided(run.pairing.only_b, dir_b)
    if not run.pairing.pairs:
        raise InputError(f"no pairs: {dir_a} and {dir_b} have no image with the same relative path")
    higher = finder.higher_is_better
    metric = finder.metric.record["name"]
    if output is None:
        rows = []
        for result in run:
            if not result.ok:
                click.echo(f"dfind: {result.name}: failed: {result.error}", err=True)
            elif not quiet:
                click.echo(_describe_result(result))
            rows.append(result)
        failed = sum(not r.ok for r in rows)
        scores = [r.score for r in rows if r.ok]
        if not quiet:
            click.echo(f"{len(rows) - failed} of {len(rows)} pairs compared" + (f", {failed} failed" if failed else ""))
    else:
        with _terminate_as_interrupt():
            try:
                report = run.save(output, overwrite=overwrite, colormap=colormap, progress=None if not quiet else False,
                                  log=lambda line: click.echo(f"dfind: {line}", err=True))
            except BatchInterrupted as stop:
                counts = stop.report.counts
                click.echo(f"dfind: interrupted: {counts['ok'] + counts['skipped']} of {len(run)} pairs complete, "
                           f"summary in {stop.report.files['csv']}; rerun the same command to resume", err=True)
                return 130
        counts = report.counts
        failed = counts["failed"]
        scores = [r.score for r in report.rows if r.ok and r.score is not None]
        if not quiet:
            click.echo(_describe_report(report, metric, higher))
    beyond = sum(_beyond(score, fail_above, higher) for score in scores) if fail_above is not None else 0
    if beyond:
        click.echo(f"dfind: {beyond} pair{'s' if beyond != 1 else ''}: {metric} worse than the threshold "
                   f"{fail_above:g}", err=True)
    if failed:
        return EXIT_PAIRS_FAILED
    return EXIT_DIFFERENT if beyond else EXIT_OK


def _report_one_sided(names: Sequence[str], folder: Path | None, shown: int = 10) -> None:
    for rel in names[:shown]:
        click.echo(f"dfind: only in {folder}: {rel}", err=True)
    if len(names) > shown:
        click.echo(f"dfind: ... and {len(names) - shown} more only in {folder} (all listed in summary.json)", err=True)


def _describe_report(report: Any, metric: str, higher: bool) -> str:
    import math
    import statistics

    counts = report.counts
    line = f"{counts['ok'] + counts['skipped']} of {counts['total']} pairs compared"
    if counts["failed"]:
        line += f", {counts['failed']} failed"
    if counts["skipped"]:
        line += f" ({counts['skipped']} already complete from an earlier run)"
    lines = [line]
    scores = [r.score for r in report.rows if r.ok and r.score is not None and math.isfinite(r.score)]
    if scores:
        direction = "higher is better" if higher else "lower is better"
        lines.append(f"{metric}: mean {statistics.fmean(scores):.6g}, median {statistics.median(scores):.6g}, "
                     f"worst {(min if higher else max)(scores):.6g} ({direction})")
    lines.append(f"summary: {report.files['csv']} ({report.seconds:.1f} s)")
    return "\n".join(lines)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a batch scheduler stopping the job) stops a folder run as Ctrl-C does."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- --list-plugins ---------------------------------------------------------------------------


def listing_data(registry: Registry) -> dict[str, Any]:
    """Everything ``--list-plugins --json`` prints."""
    conflicts = registry.conflicts()
    stages = []
    for stage in registry.stages():
        entry = {
            "kind": stage.kind,
            "name": stage.name,
            "qualified_name": stage.qualified_name,
            "plugin": stage.origin.plugin,
            "distribution": stage.origin.distribution,
            "version": stage.origin.version,
            "summary": stage.spec.summary,
            "params": [
                {"name": p.name, "default": p.default, "help": p.help,
                 **({"choices": list(p.choices)} if p.choices is not None else {})}
                for p in stage.spec.params
            ],
            "conflict": (stage.kind, stage.name) in conflicts,
        }
        if stage.kind == "metric":
            entry["higher_is_better"] = stage.spec.higher_is_better
            entry["layers"] = list(stage.spec.layers)
        stages.append(entry)
    presets = [
        {"name": spec.name, "summary": spec.summary, "plugin": origin.plugin, "distribution": origin.distribution,
         "version": origin.version, "stages": _jsonable_refs(spec.stages)}
        for spec, origin in registry.presets()
    ]
    broken = [
        {"plugin": b.origin.plugin, "distribution": b.origin.distribution, "version": b.origin.version,
         "phase": b.phase, "reason": b.reason}
        for b in registry.broken
    ]
    return {"dfind": __version__, "stages": stages, "presets": presets, "broken": broken}


def _jsonable_refs(refs: Any) -> Any:
    if isinstance(refs, dict):
        return {k: _jsonable_refs(v) for k, v in refs.items()}
    if isinstance(refs, (list, tuple)):
        return [_jsonable_refs(v) for v in refs]
    return refs if isinstance(refs, (str, int, float, bool, type(None))) else repr(refs)


def render_listing(registry: Registry, as_json: bool = False, verbose: bool = False) -> str:
    data = listing_data(registry)
    if as_json:
        return json.dumps(data, indent=2) + "\n"
    rows = [("KIND", "NAME", "PLUGIN", "DISTRIBUTION", "DESCRIPTION")]
    details: dict[int, list[str]] = {}
    order = {kind: i for i, kind in enumerate(KINDS)}
    for entry in sorted(data["stages"], key=lambda e: (order[e["kind"]], e["name"], e["plugin"])):
        name = entry["name"] + (" (conflict: use " + entry["qualified_name"] + ")" if entry["conflict"] else "")
        summary = entry["summary"]
        if entry["kind"] == "metric":
            summary += " [higher is better]" if entry["higher_is_better"] else " [lower is better]"
        dist = f"{entry['distribution'] or '(in-process)'} {entry['version'] or ''}".strip()
        rows.append((entry["kind"], name, entry["plugin"], dist, summary))
        if verbose and entry["params"]:
            details[len(rows) - 1] = [
                f"{p['name']}={p['default']!r}" + (f" ({p['help']})" if p["help"] else "") for p in entry["params"]
            ]
    for preset in data["presets"]:
        dist = f"{preset['distribution'] or '(in-process)'} {preset['version'] or ''}".strip()
        rows.append(("preset", preset["name"], preset["plugin"], dist, preset["summary"]))
        if verbose:
            details[len(rows) - 1] = [f"{kind}: {ref}" for kind, ref in preset["stages"].items()]
    for broken in data["broken"]:
        dist = f"{broken['distribution'] or '(in-process)'} {broken['version'] or ''}".strip()
        rows.append(("broken", "-", broken["plugin"], dist, f"{broken['phase']} failed: {broken['reason']}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        for detail in details.get(index, []):
            lines.append(" " * (sum(widths) + 8) + "  " + detail)
    return "\n".join(lines)
