"""``dfind check-metric NAME``: can this metric drive a difference map?"""

from __future__ import annotations

import sys

import click

from dfcore.cli.common import CONTEXT, EXIT_ERROR, EXIT_OK, invocation_registry, reported_errors
from dfcore.errors import ParameterError
from dfcore.plugin.loading import AUTOLOAD_ENV


@click.command("check-metric", context_settings=CONTEXT)
@click.argument("name", metavar="NAME[:K=V,...]")
@click.option("--gradcheck", is_flag=True, help="Also compare autograd with finite differences (float64).")
@click.option("--shape", default=None, metavar="NxCxHxW",
              help="Size of the probe images [default: 2x3x32x32, each side at least the metric's minimum side "
                   "when it declares one: ms-ssim 2x3x161x161].")
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
    with reported_errors(debug):
        registry = invocation_registry(disable_plugin_autoload)
        from dfcore.pipeline import check_metric, resolve_device

        try:
            dims = [int(part) for part in shape.lower().split("x")] if shape is not None else None
        except ValueError:
            raise ParameterError(f"--shape must look like 2x3x32x32 (NxCxHxW), got {shape!r}") from None
        report = check_metric(name, gradcheck=gradcheck, shape=dims, device=resolve_device(device), registry=registry)
        click.echo(str(report))
        if not report.ok:
            failed = ", ".join(c.name for c in report.failures)
            click.echo(f"dfind: error: metric {report.metric!r} failed: {failed}", err=True)
    sys.exit(EXIT_OK if report.ok else EXIT_ERROR)

