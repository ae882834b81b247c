"""What the commands share: exit codes, one-line errors, the registry of an invocation, options.

Exit codes: 0 = ran (and every score is within ``--fail-above``), 1 = a score is beyond
``--fail-above``, 2 = usage or input error, 3 = a folder run in which some pairs failed.
Nothing here imports torch; a command imports the library only once it runs a comparison.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from dfcore.contracts import beyond  # noqa: F401 (the commands import it from here)
from dfcore.errors import DfindError, InputError, StageRuntimeError, one_line
from dfcore.io.pair_rules import RULES, PairBy, describe_rule
from dfcore.plugin.loading import AUTOLOAD_ENV
from dfcore.plugin.registry import Registry, create_registry, get_registry

EXIT_OK, EXIT_DIFFERENT, EXIT_ERROR, EXIT_PAIRS_FAILED = 0, 1, 2, 3
#: ``context_settings`` of every command.
CONTEXT = {"help_option_names": ["-h", "--help"]}


@contextlib.contextmanager
def reported_errors(debug: bool) -> Iterator[None]:
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
        hint = " (rerun with --debug for the traceback)" if isinstance(exc, StageRuntimeError) and not debug else ""
        click.echo(f"dfind: error: {exc}{hint}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (rerun with --debug for the traceback)"
        click.echo(f"dfind: error: {one_line(exc)}{hint}", err=True)
        sys.exit(EXIT_ERROR)


def invocation_registry(disable_autoload: bool) -> Registry:
    """The registry this invocation uses, built once and passed down to everything it runs.

    A caller embedding the CLI may hand one in as the click context's ``obj``
    (``main(args, obj=registry)``, ``CliRunner().invoke(main, args, obj=registry)``).
    Otherwise: with ``--disable-plugin-autoload`` a new registry of dfind's own plugins,
    built for this invocation; else the process-wide default (a console script is one
    process per invocation). Flags are read, never written back to the environment.
    """
    given = click.get_current_context().find_object(Registry)
    if given is not None:
        return given
    if disable_autoload:
        return create_registry(autoload=False)
    return get_registry()


def stage_options(func: Any) -> Any:
    options = [
        click.option("-p", "--preprocessor", "preprocessors", multiple=True, metavar="NAME[:K=V,...]",
                     help="Preprocessor; repeat for a chain (applied in order)."),
        click.option("-m", "--metric", metavar="NAME[:K=V,...]",
                     help="Metric (score and what strategies differentiate). Named without -s or --preset, the map is "
                          "the metric's own (preset metric: 1 - SSIM, squared error..., else its gradient)."),
        click.option("-s", "--strategy", metavar="NAME[:K=V,...]",
                     help="Strategy that makes the map [default: the preset's; with -m alone: own]."),
        click.option("-q", "--postprocessor", "postprocessors", multiple=True, metavar="NAME[:K=V,...]",
                     help="Postprocessor; repeat for a chain."),
        click.option("--preset", metavar="NAME",
                     help="Named pipeline filling the stages not given [default: default; metric when -m is given "
                          "without -s]."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
        click.option("--disable-plugin-autoload", is_flag=True,
                     help=f"Load only dfind's own plugins (also: {AUTOLOAD_ENV}=1)."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def input_options(func: Any) -> Any:
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


def display_options(func: Any) -> Any:
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


def pairing_options(three: bool = False) -> Any:
    """``--pair-by`` and its options (docs/batch.md#pairing); ``three``: for TRUTH, A and B (``--strip-truth`` too)."""
    roles = "the truth, A or B" if three else "A or B"
    options = [
        click.option("--pair-by", type=click.Choice(RULES), default=None,
                     help="Folders: pair by relative path (path), by position in each sorted folder (order), or "
                          "by name without extension, after --strip-* or --match (stem) "
                          "[default: path; stem with --strip-* or --match]."),
        *([click.option("--strip-truth", multiple=True, metavar="AFFIX",
                        help="Pairing by stem: remove AFFIX from the end (else the start) of the truth's names.")]
          if three else []),
        click.option("--strip-a", multiple=True, metavar="AFFIX",
                     help="Pairing by stem: remove AFFIX from the end (else the start) of A's names "
                          "(repeatable: the first that fits); a name without it is left over."),
        click.option("--strip-b", multiple=True, metavar="AFFIX",
                     help="Pairing by stem: the same for B's names (--strip-b _x4_SR pairs baboon.png with "
                          "baboon_x4_SR.png)."),
        click.option("--match", metavar="REGEX",
                     help=f"Pairing by stem: names of {roles} pair on the part a named group (?P<key>...) finds "
                          r"in them (e.g. '(?P<key>\d+)' for 0001_gt.png and 0001_out.png)."),
        click.option("--allow-unequal", is_flag=True,
                     help="Pairing by order: pair folders of different lengths (the first N) and report the rest."),
    ]
    def apply(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func
    return apply


def pair_by_from(pair_by: str | None, strip_a: Sequence[str], strip_b: Sequence[str], match: str | None,
                 allow_unequal: bool, strip_truth: Sequence[str] = ()) -> PairBy:
    """The rule the pairing options ask for: ``--strip-*`` and ``--match`` alone mean ``--pair-by stem``."""
    stem_given = [flag for flag, value in (("--strip-truth", strip_truth), ("--strip-a", strip_a),
                                           ("--strip-b", strip_b), ("--match", match)) if value]
    rule = pair_by or ("stem" if stem_given else "path")
    if stem_given and rule != "stem":
        raise click.UsageError(f"{', '.join(stem_given)}: only with --pair-by stem")
    if allow_unequal and rule != "order":
        raise click.UsageError("--allow-unequal: only with --pair-by order")
    if match is not None and (strip_a or strip_b or strip_truth):
        raise click.UsageError("--match and --strip-*: give a pattern or affixes, not both")
    return PairBy(rule, strip_a=tuple(strip_a), strip_b=tuple(strip_b), strip_truth=tuple(strip_truth), match=match,
                  allow_unequal=allow_unequal)


def report_pairing(pairing: Any, folders: Sequence[Path], shown: int = 3) -> None:
    """On stderr: how a rule other than by path paired the folders, with its first pairs."""
    if pairing.rule.get("rule") in ("path", "csv"):
        return
    examples = []
    for spec in pairing.pairs[:shown]:
        files = [spec.a, spec.b] if spec.reference is None else [spec.reference, spec.a, spec.b]
        names = [Path(os.path.relpath(file, folder)).as_posix() for file, folder in zip(files, folders)]
        examples.append(f"{names[0]} with {' and '.join(names[1:])}")
    more = f" and {len(pairing.pairs) - shown} more" if len(pairing.pairs) > shown else ""
    count = len(pairing.pairs)
    click.echo(f"dfind: {count} pair{'s' if count != 1 else ''} {describe_rule(pairing.rule)}: "
               f"{', '.join(examples)}{more}", err=True)


def finder_kwargs(preprocessors: Sequence[str], metric: str | None, strategy: str | None,
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


def ignore_spec(values: Sequence[str]) -> list[str] | None:
    """``--ignore`` values: rectangles stay text; a mask file must exist (checked before any work)."""
    from dfcore.io.masks import is_rectangles  # numpy: not for --list-plugins

    for value in values:
        if not is_rectangles(value) and not Path(value).is_file():
            raise InputError(f"--ignore {value}: no such mask file (rectangles are written x0:y0-x1:y1,...)")
    return list(values) or None


def scale_mode(scale: str | None, vmax: float | None, folders: bool) -> str:
    """The colour scale of a run: ``fixed`` (--vmax), ``shared`` or ``image``."""
    if vmax is not None:
        if scale is not None:
            raise click.UsageError("--vmax fixes the scale; give it or --scale, not both")
        return "fixed"
    return scale or ("shared" if folders else "image")


#: A single pair's terminal output lists at most this many differences (all are in its JSON).
LISTED = 10


def describe_result(result: Any, listed: int = LISTED) -> str:
    """The terminal's account of one result: the score, the differences found, the evaluation.

    ``listed`` caps the differences listed one per line (0: only their number, as folder runs
    print each pair).
    """
    direction = "higher is better" if result.higher_is_better else "lower is better"
    metric = result.config["metric"]["name"]
    head = f"{result.name or 'pair'}: {metric} = {result.score:.6g} ({direction})"
    lines = [head]
    if result.mask is not None or result.regions:
        if listed:
            flat = result.map is None or not result.map.any()
            lines += describe_regions(result.regions, listed, flat=flat)
        else:
            lines[0] = f"{head}, {count_differences(len(result.regions))}"
    if getattr(result, "evaluation", None) is not None:
        lines.append(result.evaluation.summary())
    return "\n".join(lines)


def count_differences(count: int) -> str:
    """``"no differences"``, ``"1 difference"``, ``"7 differences"``."""
    return "no differences" if count == 0 else f"{count} difference{'s' if count != 1 else ''}"


def describe_regions(regions: Sequence[Any], listed: int = LISTED, flat: bool = True) -> list[str]:
    """``7 differences, strongest first:`` and one line per region (box, size, peak, significance).

    With none: ``no differences found`` when the map is zero everywhere (``flat``), else that
    nothing in it stands out: the pair differs, but much alike all over (noise, compression,
    two unrelated images).
    """
    if not regions:
        return ["no differences found" if flat else "no difference stands out from the rest of the map"]
    lines = [f"{count_differences(len(regions))}, strongest first:"]
    width = len(str(min(len(regions), listed)))
    for rank, region in enumerate(regions[:listed], 1):
        x0, y0, x1, y1 = region.bbox
        cx, cy = region.centroid
        line = (f"  {rank:>{width}}. x {x0}-{x1 - 1}, y {y0}-{y1 - 1} ({x1 - x0}x{y1 - y0} px), "
                f"centre ({cx:.0f}, {cy:.0f}), area {region.area} px, peak {region.peak:.4g}")
        if getattr(region, "significance", None) is not None:
            line += f", {region.significance:.3g} sigma above the background"
        if region.label:
            line += f" [{region.label}]"
        move = getattr(region, "move", None)
        if move is not None:
            (fx0, fy0, fx1, fy1), (tx0, ty0, tx1, ty1) = move.source, move.target
            line += (f"; moved by ({move.shift[0]:+d}, {move.shift[1]:+d}) from x {fx0}-{fx1 - 1}, y {fy0}-{fy1 - 1} "
                     f"to x {tx0}-{tx1 - 1}, y {ty0}-{ty1 - 1}")
        lines.append(line)
    if len(regions) > listed:
        lines.append(f"  ...and {len(regions) - listed} more")
    return lines


def finite_threshold(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """``--fail-above`` must be a finite number: against ``nan`` or ``inf`` no score would ever fail."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value:g} (no score would ever fail against it)")
    return value


def check_output_folder(output: Path | None) -> None:
    """``-o``: create it and prove it can be written, before any pair is computed (:func:`~dfcore.io.files.check_writable`)."""
    if output is not None:
        from dfcore.io.files import check_writable  # numpy: not for --list-plugins

        check_writable(output)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
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


def read_ahead(pairing: Any, a: Path | None, b: Path | None, output: Path | None,
               overwrite: bool) -> contextlib.AbstractContextManager[Any]:
    """The files a run will read, decoded while torch is imported (:mod:`dfcore.io.readahead`).

    Two files: both, whatever their size (the run holds them at once anyway). A folder run
    (``pairing``): its pairs in order, those an earlier run completed into ``output`` left
    out, up to :data:`~dfcore.io.readahead.READ_AHEAD_BYTES` of decoded images.
    """
    from dfcore.io.readahead import ReadAhead

    if pairing is None:
        return ReadAhead([a, b], budget=None)  # type: ignore[list-item]
    from dfcore.io.layout import pair_file

    files = []
    for spec in pairing.pairs:
        if output is not None and not overwrite and pair_file(output, spec.name, "json").exists():
            continue  # most likely skipped as complete: not worth decoding ahead
        files.extend(path for path in (spec.reference, spec.a, spec.b) if path is not None)
    return ReadAhead(files)


def share_scale(output: Path, jsons: Sequence[Path], quiet: bool) -> None:
    """Re-render the heatmaps of the pairs saved (their JSON files) on one colour scale."""
    from dfcore.io.layout import stem_of
    from dfcore.io.scale import SHARED_PERCENTILE, apply_shared_scale

    names = [stem_of(json_path, output) for json_path in jsons]
    top = apply_shared_scale(output, names)
    if not quiet:
        click.echo(f"one colour scale for {len(names)} maps: 0 to {top:.4g} "
                   f"({SHARED_PERCENTILE:g}th percentile of |map|)")
