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
import traceback
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
  dfind refs/ outputs/ -o maps           two folders, paired by relative path
  dfind a.png b.png -o out --report      also out/report.html (folders: out/index.html)
  dfind a.png b.png --figure fig.pdf     A | B | map | overlay, for a paper
  dfind a.png b.png -m mse --fail-above 0.001   exit 1 when MSE > 0.001
  dfind a.png b.png --truth mask.png     score the map against a ground-truth mask
  dfind --list-plugins                   every stage, its plugin and distribution
  dfind check-metric psnr --gradcheck   can this metric drive a gradient map?
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
    """DfindError (and anything unexpected) -> one line on stderr and exit 2.

    With ``--debug`` the traceback is printed first; the exit code stays the same, so a CI
    job never reads a debug run's error as exit 1 ("difference beyond the threshold").
    """
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("dfind: interrupted", err=True)
        sys.exit(130)
    except DfindError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"dfind: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (rerun with --debug for the traceback)"
        click.echo(f"dfind: error: {one_line(exc)}{hint}", err=True)
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
              help="Write NAME.heatmap.png, NAME.map.npy and NAME.json here.")
@click.option("--colormap", default=None, help="Heatmap colormap (matplotlib name) [default: inferno].")
@click.option("--report", is_flag=True,
              help="With -o: write an HTML report, OUT/report.html (two folders: OUT/index.html and a page per pair).")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Write a figure, A | B | map | overlay, to PATH (.png, .pdf, .svg); one pair only.")
@click.option("--fail-above", type=float, metavar="T",
              help="Exit 1 when a score is worse than T (above T for lower-is-better metrics, below for higher).")
@click.option("--truth", type=click.Path(path_type=Path), metavar="MASK",
              help="Ground-truth mask of the change (non-zero = changed; a folder of masks for folders): "
                   "report Dice, Jaccard, AUROC and average precision.")
@click.option("--list-plugins", is_flag=True, help="List every stage and preset, then exit.")
@click.option("--verbose", "-v", is_flag=True, help="With --list-plugins: show parameters.")
@click.option("--json", "as_json", is_flag=True, help="With --list-plugins: machine-readable output.")
@click.option("--quiet", is_flag=True, help="Print only errors.")
@click.version_option(__version__, "--version", prog_name="dfind")
def diff(a: Path | None, b: Path | None, preprocessors: tuple[str, ...], metric: str | None, strategy: str | None,
         postprocessors: tuple[str, ...], preset: str | None, device: str, disable_plugin_autoload: bool,
         debug: bool, output: Path | None, colormap: str | None, report: bool, figure: Path | None,
         fail_above: float | None, truth: Path | None, list_plugins: bool, verbose: bool, as_json: bool,
         quiet: bool) -> None:
    """Show where images A and B differ: a difference map, a score, and regions.

    A and B are two image files or two folders (paired by relative path).
    """
    with _reported_errors(debug):
        registry = _registry(disable_plugin_autoload)
        if list_plugins:
            click.echo(render_listing(registry, as_json=as_json, verbose=verbose), nl=not as_json)
            return
        if a is None or b is None:
            raise click.UsageError("give two images (or two folders) to compare, or --list-plugins")
        if report and output is None:
            raise click.UsageError("--report writes into the output folder: give -o DIR too")
        if figure is not None:
            if a.is_dir() or b.is_dir():
                raise click.UsageError("--figure draws one pair: give two images, not folders (or use --report)")
            from dfcore.report.figure import figure_format

            figure_format(figure)
        from dfcore.pipeline import Finder

        finder = Finder(**_finder_kwargs(preprocessors, metric, strategy, postprocessors, preset, device, registry))
        if a.is_dir() or b.is_dir():
            code = _run_dirs(finder, a, b, output, colormap, fail_above, quiet, report, truth)
        else:
            result = finder.run(a, b, truth=truth)
            code = EXIT_OK
            written = []
            if output is not None:
                files = result.save(output, colormap=colormap, previews=report)
                written = list(files.values())
                if report:
                    from dfcore.report import write_pair_report

                    written.append(write_pair_report(files["json"], output / "report.html"))
            if figure is not None:
                result.figure(figure, colormap=colormap)
                written.append(figure)
            if not quiet:
                click.echo(_describe_result(result))
                if written:
                    click.echo("wrote " + ", ".join(str(p) for p in written))
            if fail_above is not None and _beyond(result.score, fail_above, result.higher_is_better):
                click.echo(_threshold_message(result, fail_above), err=True)
                code = EXIT_DIFFERENT
    sys.exit(code)


@main.command("check-metric", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", metavar="NAME[:K=V,...]")
@click.option("--gradcheck", is_flag=True, help="Also compare autograd with finite differences (float64).")
@click.option("--shape", default="2x3x32x32", show_default=True, metavar="NxCxHxW",
              help="Size of the probe images; metrics with size limits need larger ones (ms-ssim: 1x3x176x176).")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--disable-plugin-autoload", is_flag=True,
              help=f"Load only dfind's own plugins (also: {AUTOLOAD_ENV}=1).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def check_metric_command(name: str, gradcheck: bool, shape: str, device: str, disable_plugin_autoload: bool,
                         debug: bool) -> None:
    """Check that metric NAME can drive a difference map.

    Runs it on two different probe images and checks that it returns one finite value per
    sample, that the value depends on both images through autograd with a non-zero gradient,
    and that identical images score best; --gradcheck adds torch.autograd.gradcheck. Prints
    one line per check; exits 0 when every check passes, 2 otherwise.

    \b
    Examples:
      dfind check-metric ssim
      dfind check-metric ssim:win_size=7 --gradcheck
      dfind check-metric ms-ssim --shape 1x3x176x176
    """
    with _reported_errors(debug):
        registry = _registry(disable_plugin_autoload)
        from dfcore.custom import check_metric
        from dfcore.errors import ParameterError
        from dfcore.pipeline import resolve_device

        try:
            dims = [int(part) for part in shape.lower().split("x")]
        except ValueError:
            raise ParameterError(f"--shape must look like 2x3x32x32 (NxCxHxW), got {shape!r}") from None
        report = check_metric(name, gradcheck=gradcheck, shape=dims, device=resolve_device(device), registry=registry)
        click.echo(str(report))
        if not report.ok:
            failed = ", ".join(c.name for c in report.failures)
            click.echo(f"dfind: error: metric {report.metric!r} failed: {failed}", err=True)
    sys.exit(EXIT_OK if report.ok else EXIT_ERROR)


def _describe_result(result: Any) -> str:
    direction = "higher is better" if result.higher_is_better else "lower is better"
    metric = result.config["metric"]["name"]
    lines = [f"{result.name or 'pair'}: {metric} = {result.score:.6g} ({direction})"]
    if result.mask is not None or result.regions:
        lines.append(f"found {len(result.regions)} region{'s' if len(result.regions) != 1 else ''}")
    if getattr(result, "evaluation", None) is not None:
        lines.append(result.evaluation.summary())
    return "\n".join(lines)


def _beyond(score: float, threshold: float, higher_is_better: bool) -> bool:
    return score < threshold if higher_is_better else score > threshold


def _threshold_message(result: Any, threshold: float) -> str:
    metric = result.config["metric"]["name"]
    return f"dfind: {result.name or 'pair'}: {metric} = {result.score:.6g} is worse than the threshold {threshold:g}"


def _run_dirs(finder: Any, dir_a: Path, dir_b: Path, output: Path | None, colormap: str | None,
              fail_above: float | None, quiet: bool, report: bool = False, truth: Path | None = None) -> int:
    from dfcore.errors import InputError

    if not (dir_a.is_dir() and dir_b.is_dir()):
        raise InputError(f"{dir_a if dir_a.is_dir() else dir_b} is a folder but the other input is not")
    run = finder.run_dirs(dir_a, dir_b, on_error="record", truth=truth)
    for rel in run.pairing.only_a:
        click.echo(f"dfind: only in {dir_a}: {rel}", err=True)
    for rel in run.pairing.only_b:
        click.echo(f"dfind: only in {dir_b}: {rel}", err=True)
    if not run.pairing.pairs:
        raise InputError(f"no pairs: {dir_a} and {dir_b} have no image with the same relative path")
    failed = beyond = 0
    failures = []
    for result in run:
        if not result.ok:
            failed += 1
            failures.append(result)
            click.echo(f"dfind: {result.name}: failed: {result.error}", err=True)
            continue
        if output is not None:
            result.save(output, colormap=colormap, previews=report)
        if not quiet:
            click.echo(_describe_result(result))
        if fail_above is not None and _beyond(result.score, fail_above, result.higher_is_better):
            beyond += 1
            click.echo(_threshold_message(result, fail_above), err=True)
    if not quiet:
        click.echo(f"{len(run) - failed} of {len(run)} pairs compared" + (f", {failed} failed" if failed else ""))
    if report and output is not None:
        from dfcore.report import write_index

        index = write_index(output, failures)
        if not quiet:
            click.echo(f"wrote {index}")
    if failed:
        return EXIT_PAIRS_FAILED
    return EXIT_DIFFERENT if beyond else EXIT_OK


@main.command("report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def report_command(target: Path, debug: bool) -> None:
    """Write the HTML report of results already on disk.

    TARGET is an output folder (of a local, distributed or resumed run): writes
    TARGET/index.html, every pair worst first, and a NAME.report.html page per pair. Or
    TARGET is one pair's NAME.json: writes its NAME.report.html.
    """
    with _reported_errors(debug):
        from dfcore.report import write_index, write_pair_report

        written = write_index(target) if target.is_dir() else write_pair_report(target)
        click.echo(f"wrote {written}")


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
