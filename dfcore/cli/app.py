"""The ``dfind`` command group: every command, and ``dfind A B`` as the default one."""

from __future__ import annotations

import click

from dfcore.cli.approve import approve_command
from dfcore.cli.check_metric import check_metric_command
from dfcore.cli.common import CONTEXT
from dfcore.cli.compare import compare_command
from dfcore.cli.diff import diff
from dfcore.cli.report import report_command
from dfcore.cli.rescale import rescale_command


class _DefaultGroup(click.Group):
    """A group whose unknown first argument falls through to the ``diff`` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["diff", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, context_settings=CONTEXT)
def main() -> None:
    """dfind: where two images differ."""


for command in (diff, compare_command, check_metric_command, rescale_command, report_command, approve_command):
    main.add_command(command)
