"""The ``dfind`` command group: every command, and ``dfind A B`` as the default one.

The first argument names a command only when no file or folder of that name exists: a path
wins (``dfind report compare`` compares the folders ``report/`` and ``compare/``), with a note
on stderr saying so. ``dfind --help`` is ``diff``'s help with every command listed, a line each.
"""

from __future__ import annotations

from pathlib import Path

import click

from dfcore.cli.approve import approve_command
from dfcore.cli.check_metric import check_metric_command
from dfcore.cli.common import CONTEXT
from dfcore.cli.compare import compare_command
from dfcore.cli.diff import diff
from dfcore.cli.process import keep_freed_memory
from dfcore.cli.report import report_command
from dfcore.cli.rescale import rescale_command

DEFAULT_COMMAND = "diff"


class _DefaultGroup(click.Group):
    """A group whose first argument falls through to the ``diff`` command unless it names another
    command and no path of that name exists."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first in self.commands and Path(first).exists():
            click.echo(f"dfind: {first} is a path here: comparing it, not running the {first} command "
                       f"(run the command from another folder)", err=True)
            args = [DEFAULT_COMMAND, *args]
        elif first not in self.commands:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, context_settings=CONTEXT)
def main() -> None:
    """dfind: where two images differ."""
    keep_freed_memory()  # this process is the command's own: its allocator may keep freed arrays


for command in (diff, compare_command, check_metric_command, rescale_command, report_command, approve_command):
    main.add_command(command)


def commands_epilog(group: click.Group) -> str:
    """Every command of ``group``, a line each, for the end of ``dfind --help``."""
    width = max(len(name) for name in group.commands) + 2
    lines = ["\b", "Commands (dfind COMMAND --help; a file or folder of the same name wins over a command):"]
    for name, command in group.commands.items():
        usage = "dfind A B" if name == DEFAULT_COMMAND else f"dfind {name}"
        lines.append(f"  {usage:<{width + 6}}{command.get_short_help_str(limit=80)}")
    return "\n".join(lines)


diff.epilog = f"{diff.epilog}\n{commands_epilog(main)}"
