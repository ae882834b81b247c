"""``dfind rescale FOLDERS...``: one colour scale for the heatmaps of finished runs."""

from __future__ import annotations

from pathlib import Path

import click

from dfcore.cli.common import CONTEXT, reported_errors


@click.command("rescale", context_settings=CONTEXT)
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
    with reported_errors(debug):
        from dfcore.io.scale import SHARED_PERCENTILE, apply_shared_scale, saved_pairs

        if vmax is not None and percentile is not None:
            raise click.UsageError("--vmax fixes the scale; give it or --percentile, not both")
        count = len(saved_pairs(folders))
        if not count:
            raise click.UsageError(f"no dfind results (NAME.json with a map) in {', '.join(map(str, folders))}")
        chosen = percentile if percentile is not None else SHARED_PERCENTILE
        top = apply_shared_scale(folders, percentile=chosen, vmax=vmax, colormap=colormap)
        how = "fixed" if vmax is not None else f"{chosen:g}th percentile of |map|"
        click.echo(f"re-rendered {count} heatmaps on one scale: 0 to {top:.4g} ({how})")

