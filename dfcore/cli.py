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
  dfind refs/ outputs/ -o maps           two folders, paired by relative path;
                                         maps/summary.csv, resumes when rerun
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


def _input_options(func: Any) -> Any:
    """Ignore masks and the research conventions (docs/research.md), shared by diff and compare."""
    options = [
        click.option("--ignore", "ignore", multiple=True, metavar="MASK|x0:y0-x1:y1,...",
                     help="Leave pixels out: a mask image (non-zero = ignore) or rectangles in A's pixels "
                          "(end-exclusive); repeat to combine."),
        click.option("--y-channel", is_flag=True,
                     help="Compare the BT.601 luma (16-235, as MATLAB's rgb2ycbcr), as super-resolution papers do."),
        click.option("--crop-border", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
                     help="Remove N pixels from every side before comparing (hatched in the heatmap)."),
        click.option("--size-policy", type=click.Choice(["error", "crop", "pad", "resize"]), default="error",
                     show_default=True, help="Pairs of different sizes: refuse, crop both to the top-left common "
                                             "part, pad both (padding not compared), or resize B onto A."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _display_options(func: Any) -> Any:
    options = [
        click.option("--colormap", default=None,
                     help="Heatmap colormap (matplotlib name) [default: inferno; signed maps RdBu_r]."),
        click.option("--vmax", type=click.FloatRange(min=0.0, min_open=True), metavar="V",
                     help="Fixed colour scale: every heatmap from 0 (or -V) to V."),
        click.option("--scale", type=click.Choice(["image", "shared"]), default=None,
                     help="image: each heatmap scaled to its own maximum; shared: one scale for every map of "
                          "the run (99.5th percentile of all values) [default: shared for folders, image for a pair]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _finder_kwargs(preprocessors: Sequence[str], metric: str | None, strategy: str | None,
                   postprocessors: Sequence[str], preset: str | None, device: str,
                   registry: Registry, y_channel: bool = False, crop_border: int = 0,
                   size_policy: str = "error") -> dict[str, Any]:
    return {
        "preprocessor": list(preprocessors) or None,
        "metric": metric,
        "strategy": strategy,
        "postprocessor": list(postprocessors) or None,
        "preset": preset,
        "device": device,
        "registry": registry,
        "y_channel": y_channel,
        "crop_border": crop_border,
        "size_policy": size_policy,
    }


def _ignore_spec(values: Sequence[str]) -> list[str] | None:
    """``--ignore`` values: rectangles stay text; a mask file must exist (checked before any work)."""
    from dfcore.errors import InputError
    from dfcore.ignore import is_rectangles

    for value in values:
        if not is_rectangles(value) and not Path(value).is_file():
            raise InputError(f"--ignore {value}: no such mask file (rectangles are written x0:y0-x1:y1,...)")
    return list(values) or None


def _scale_mode(scale: str | None, vmax: float | None, folders: bool) -> str:
    """The colour scale of a run: ``fixed`` (--vmax), ``shared`` or ``image``."""
    if vmax is not None:
        if scale is not None:
            raise click.UsageError("--vmax fixes the scale; give it or --scale, not both")
        return "fixed"
    return scale or ("shared" if folders else "image")


@main.command("diff", epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("a", required=False, type=click.Path(path_type=Path))
@click.argument("b", required=False, type=click.Path(path_type=Path))
@_stage_options
@_input_options
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write NAME.heatmap.png, NAME.map.npy and NAME.json here (folder runs: and summary.csv/.json).")
@_display_options
@click.option("--report", is_flag=True,
              help="With -o: write an HTML report, OUT/report.html (two folders: OUT/index.html and a page per pair).")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Write a figure, A | B | map | overlay, to PATH (.png, .pdf, .svg); one pair only.")
@click.option("--fail-above", type=float, metavar="T",
              help="Exit 1 when a score is worse than T (above T for lower-is-better metrics, below for higher).")
@click.option("--truth", type=click.Path(path_type=Path), metavar="MASK",
              help="Ground-truth mask of the change (non-zero = changed; a folder of masks for folders): "
                   "report Dice, Jaccard, AUROC and average precision.")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False, path_type=Path), metavar="CSV",
              help="Folder runs: explicit pairs, a CSV file with columns a,b[,name] (paths relative to A and B, "
                   "or to the CSV file).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Folder runs: most same-size pairs computed together [default: 8].")
@click.option("--workers", type=click.IntRange(min=0), default=None, metavar="N",
              help="Folder runs: threads decoding images and writing files (0: the main thread) "
                   "[default: half the cores, 1-4]; with --engine ray: Ray workers [default: as many as fit].")
@click.option("--overwrite", is_flag=True, help="Folder runs: recompute pairs already complete in the output folder.")
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
@click.option("--verbose", "-v", is_flag=True, help="With --list-plugins: show parameters.")
@click.option("--json", "as_json", is_flag=True, help="With --list-plugins: machine-readable output.")
@click.option("--quiet", is_flag=True, help="Print only errors (no progress bar).")
@click.version_option(__version__, "--version", prog_name="dfind")
def diff(a: Path | None, b: Path | None, preprocessors: tuple[str, ...], metric: str | None, strategy: str | None,
         postprocessors: tuple[str, ...], preset: str | None, device: str, disable_plugin_autoload: bool,
         debug: bool, ignore: tuple[str, ...], y_channel: bool, crop_border: int, size_policy: str,
         output: Path | None, colormap: str | None, vmax: float | None, scale: str | None, report: bool,
         figure: Path | None, fail_above: float | None, truth: Path | None, pairs_file: Path | None,
         batch_size: int | None, workers: int | None, overwrite: bool, engine: str, address: str | None,
         gpus_per_worker: float | None, cpus_per_worker: float | None, list_plugins: bool, verbose: bool,
         as_json: bool, quiet: bool) -> None:
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
        mode = _scale_mode(scale, vmax, folders)
        ignored = _ignore_spec(ignore)
        runner: Any = None
        if engine == "ray":  # before the pipeline is built: a missing Ray fails at once
            from dfcore.ray_engine import RayEngine

            runner = RayEngine(address, workers=workers, gpus_per_worker=gpus_per_worker or 0.0,
                               cpus_per_worker=cpus_per_worker or 1.0, device=None if device == "auto" else device,
                               log_to_driver=debug)
            workers = None
        from dfcore.pipeline import Finder

        finder = Finder(**_finder_kwargs(preprocessors, metric, strategy, postprocessors, preset, device, registry,
                                         y_channel, crop_border, size_policy))
        display = {"colormap": colormap, "vmax": vmax, "scale": mode}
        if folders:
            code = _run_dirs(finder, a, b, pairs_file, output, display, fail_above=fail_above, quiet=quiet,
                             report=report, ignore=ignored, truth=truth, batch_size=batch_size, workers=workers,
                             overwrite=overwrite, engine=runner)
        else:
            result = finder.run(a, b, ignore=ignored, truth=truth)
            code = EXIT_OK
            written = []
            if output is not None:
                files = result.save(output, colormap=colormap, vmax=vmax, previews=report)
                if mode == "shared":
                    _share_scale(output, [files["json"]], quiet=True)
                written = list(files.values())
                if report:
                    from dfcore.report import write_pair_report

                    written.append(write_pair_report(files["json"], output / "report.html"))
            if figure is not None:
                result.figure(figure, colormap=colormap, vmax=vmax)
                written.append(figure)
            if not quiet:
                click.echo(_describe_result(result))
                if written:
                    click.echo("wrote " + ", ".join(str(p) for p in written))
            if fail_above is not None and _beyond(result.score, fail_above, result.higher_is_better):
                click.echo(_threshold_message(result, fail_above), err=True)
                code = EXIT_DIFFERENT
    sys.exit(code)


@main.command("compare", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("truth", type=click.Path(path_type=Path))
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@_stage_options
@_input_options
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Write NAME.heatmap.png, NAME.map.npy and NAME.json here (NAME: the truth's file name).")
@_display_options
@click.option("--report", is_flag=True, help="With -o: also an HTML report (folders: OUT/index.html).")
@click.option("--quiet", is_flag=True, help="Print only errors.")
def compare_command(truth: Path, a: Path, b: Path, preprocessors: tuple[str, ...], metric: str | None,
                    strategy: str | None, postprocessors: tuple[str, ...], preset: str | None, device: str,
                    disable_plugin_autoload: bool, debug: bool, ignore: tuple[str, ...], y_channel: bool,
                    crop_border: int, size_policy: str, output: Path | None, colormap: str | None,
                    vmax: float | None, scale: str | None, report: bool, quiet: bool) -> None:
    """Which of two reconstructions, A or B, is closer to TRUTH, and where.

    For the chosen pipeline the map is A's error map minus B's (both against TRUTH):
    negative, blue, where A is closer; positive, red, where B is closer; the colour scale is
    symmetric about zero. Prints both scores and which is better overall. With a
    thresholding postprocessor (-q otsu) each region is labelled with its winner. TRUTH, A
    and B are three images or three folders (paired by relative path).

    \b
    Examples:
      dfind compare gt.png ours.png baseline.png
      dfind compare gt/ ours/ baseline/ -o cmp --report
      dfind compare gt.png a.png b.png -m mse -s integrated -q otsu -o cmp
    """
    with _reported_errors(debug):
        registry = _registry(disable_plugin_autoload)
        if report and output is None:
            raise click.UsageError("--report writes into the output folder: give -o DIR too")
        folders = truth.is_dir() or a.is_dir() or b.is_dir()
        mode = _scale_mode(scale, vmax, folders)
        ignored = _ignore_spec(ignore)
        from dfcore.errors import InputError
        from dfcore.pipeline import Finder

        finder = Finder(**_finder_kwargs(preprocessors, metric, strategy, postprocessors, preset, device, registry,
                                         y_channel, crop_border, size_policy))
        outcome = finder.compare(truth, a, b, on_error="record", ignore=ignored)
        results = [outcome] if not folders else outcome
        if folders:
            for line in outcome.triples.missing:
                click.echo(f"dfind: {line}", err=True)
            if not len(outcome):
                raise InputError(f"no image of {truth} has a counterpart with the same relative path in both {a} and {b}")
        failures, saved, written, wins = [], [], [], {"a": 0, "b": 0, "tie": 0}
        for result in results:
            if not result.ok:
                failures.append(result)
                click.echo(f"dfind: {result.name}: failed: {result.error}", err=True)
                continue
            wins[result.better] += 1
            if output is not None:
                files = result.save(output, colormap=colormap, vmax=vmax, previews=report)
                saved.append(files["json"])
                written = list(files.values())
            if not quiet:
                click.echo(_describe_comparison(result))
        if not quiet and folders:
            done = len(results) - len(failures)
            tail = (f", tied in {wins['tie']}" if wins["tie"] else "") + (f", {len(failures)} failed" if failures else "")
            click.echo(f"{done} of {len(results)} compared: A closer in {wins['a']}, B closer in {wins['b']}{tail}")
        if mode == "shared" and saved:
            _share_scale(output, saved, quiet or not folders)
        if report and output is not None and saved:
            from dfcore.report import write_index, write_pair_report

            written.append(write_index(output, failures) if folders
                           else write_pair_report(saved[0], output / "report.html"))
        if saved and not quiet:
            shown = written if not folders else (written[-1:] if report else [output])
            click.echo("wrote " + ", ".join(str(p) for p in shown))
    sys.exit(EXIT_PAIRS_FAILED if failures else EXIT_OK)


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


def _describe_row(row: Any, metric: str, higher: bool, evaluation: Any = None) -> str:
    direction = "higher is better" if higher else "lower is better"
    line = f"{row.pair}: {metric} = {row.score:.6g} ({direction})"
    if row.regions is not None:
        line += f"\nfound {row.regions} region{'s' if row.regions != 1 else ''}"
    if evaluation is not None:
        line += f"\n{evaluation.summary()}"
    return line


def _written_evaluation(output: Path, row: Any) -> Any:
    """The evaluation in the JSON another process wrote for ``row``, or ``None``."""
    if row.average_precision is None and row.auroc is None:
        return None
    from dfcore.evaluation import Evaluation
    from dfcore.pipeline import output_stem

    try:
        data = json.loads((output / f"{output_stem(row.pair)}.json").read_text(encoding="utf-8"))
        return Evaluation.from_dict(data["evaluation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


def _run_dirs(finder: Any, dir_a: Path | None, dir_b: Path | None, pairs_file: Path | None, output: Path | None,
              display: dict[str, Any], *, fail_above: float | None, quiet: bool, report: bool = False,
              ignore: Any = None, truth: Path | None = None, batch_size: int | None = None,
              workers: int | None = None, overwrite: bool = False, engine: Any = None) -> int:
    """A folder run: with ``-o`` an engine (files, summary, resume, report), else one line per pair."""
    from dfcore.batch import FAILED, OK, SKIPPED, BatchInterrupted
    from dfcore.errors import InputError
    from dfcore.pipeline import output_stem

    run = finder.run_dirs(dir_a, dir_b, pairs=pairs_file, on_error="record", ignore=ignore, truth=truth,
                          batch_size=batch_size, workers=workers)
    if not quiet:
        _report_one_sided(run.pairing.only_a, dir_a)
        _report_one_sided(run.pairing.only_b, dir_b)
    if not run.pairing.pairs:
        raise InputError(f"no pairs: {dir_a} and {dir_b} have no image with the same relative path")
    higher = finder.higher_is_better
    metric = finder.metric.record["name"]
    if output is None:
        results = []
        for result in run:
            if not result.ok:
                click.echo(f"dfind: {result.name}: failed: {result.error}", err=True)
            elif not quiet:
                click.echo(_describe_result(result))
            results.append(result)
        failed = sum(not r.ok for r in results)
        scores = [r.score for r in results if r.ok]
        if not quiet:
            click.echo(f"{len(results) - failed} of {len(results)} pairs compared"
                       + (f", {failed} failed" if failed else ""))
    else:
        def show(row: Any, result: Any) -> None:
            if row.status == FAILED:
                click.echo(f"dfind: {row.pair}: failed: {row.error}", err=True)
            elif quiet or row.status != OK:
                return
            elif result is not None:
                click.echo(_describe_result(result))
            else:  # computed by another process: its row and its JSON have what to say
                click.echo(_describe_row(row, metric, higher, _written_evaluation(output, row)))

        with _terminate_as_interrupt():
            try:
                summary = run.save(output, overwrite=overwrite, colormap=display["colormap"], vmax=display["vmax"],
                                   previews=report, progress=False if quiet else None, on_row=show, engine=engine)
            except BatchInterrupted as stop:
                counts = stop.report.counts
                click.echo(f"dfind: interrupted: {counts['ok'] + counts['skipped']} of {len(run)} pairs complete, "
                           f"summary in {stop.report.files['csv']}; rerun the same command to resume", err=True)
                return 130
        failed = summary.counts[FAILED]
        complete = [row for row in summary.rows if row.status in (OK, SKIPPED)]
        scores = [row.score for row in complete if row.score is not None]
        if not quiet:
            click.echo(_describe_report(summary, metric, higher))
        if display["scale"] == "shared" and complete:
            _share_scale(output, [output / f"{output_stem(row.pair)}.json" for row in complete], quiet)
        if report:
            from dfcore.report import write_index

            index = write_index(output, [row.to_dict() for row in summary.failed])
            if not quiet:
                click.echo(f"wrote {index}")
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

    from dfcore.batch import evaluation_means

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
    means = evaluation_means(report.rows)
    if means:
        names = {"auroc": "AUROC", "average_precision": "AP", "best_dice": "best dice"}
        lines.append("against the truth masks, mean: " + ", ".join(f"{names[k]} {v:.4f}" for k, v in means.items()))
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


def _share_scale(output: Path, jsons: Sequence[Path], quiet: bool) -> None:
    """Re-render the heatmaps of the pairs saved (their JSON files) on one colour scale."""
    from dfcore.scale import SHARED_PERCENTILE, apply_shared_scale

    names = [json_path.relative_to(output).as_posix()[: -len(".json")] for json_path in jsons]
    top = apply_shared_scale(output, names)
    if not quiet:
        click.echo(f"one colour scale for {len(names)} maps: 0 to {top:.4g} "
                   f"({SHARED_PERCENTILE:g}th percentile of |map|)")


@main.command("rescale", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--vmax", type=click.FloatRange(min=0.0, min_open=True), metavar="V",
              help="A fixed scale instead of the percentile.")
@click.option("--percentile", type=click.FloatRange(min=0.0, max=100.0, min_open=True), default=None,
              metavar="P", help="Percentile of |map| over every compared pixel of every map [default: 99.5].")
@click.option("--colormap", default=None, help="Re-render with this colormap [default: each map's own].")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def rescale_command(folders: tuple[Path, ...], vmax: float | None, percentile: float | None, colormap: str | None,
                    debug: bool) -> None:
    """Put the heatmaps of finished runs on one colour scale.

    FOLDERS are output folders of dfind runs (-o); every heatmap in them is re-rendered from
    its NAME.map.npy with one scale, recorded in each NAME.json's display. Give several
    folders, e.g. the runs of two methods against the same references, to make their maps
    comparable. Rerun `dfind report DIR` afterwards to refresh a report.

    \b
    Examples:
      dfind rescale maps_a maps_b
      dfind rescale maps --vmax 0.05
    """
    with _reported_errors(debug):
        from dfcore.scale import SHARED_PERCENTILE, apply_shared_scale, saved_pairs

        if vmax is not None and percentile is not None:
            raise click.UsageError("--vmax fixes the scale; give it or --percentile, not both")
        count = len(saved_pairs(folders))
        if not count:
            raise click.UsageError(f"no dfind results (NAME.json with a map) in {', '.join(map(str, folders))}")
        chosen = percentile if percentile is not None else SHARED_PERCENTILE
        top = apply_shared_scale(folders, percentile=chosen, vmax=vmax, colormap=colormap)
        how = "fixed" if vmax is not None else f"{chosen:g}th percentile of |map|"
        click.echo(f"re-rendered {count} heatmaps on one scale: 0 to {top:.4g} ({how})")


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
                 **({"choices": list(p.choices)} if p.choices is not None else {}),
                 **({"words": list(p.words)} if p.words else {})}
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
