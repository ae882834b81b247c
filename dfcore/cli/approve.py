"""``dfind approve OUT [NAME...]``: promote B images of a folder run to the references."""

from __future__ import annotations

from pathlib import Path

import click

from dfcore.cli.common import CONTEXT, finite_threshold, reported_errors

EXAMPLES = """\b
Examples:
  dfind refs/ new/ -o out --fail-above 0.001 --report   run, gate, review out/index.html
  dfind approve out login.png 'settings/*'   approve these pairs (names or glob patterns)
  dfind approve out --failing                the pairs beyond the run's --fail-above
  dfind approve out --failing --fail-above 0.01   beyond another threshold
  dfind approve out --all --dry-run          what --all would copy, copying nothing
"""


@click.command("approve", epilog=EXAMPLES, context_settings=CONTEXT)
@click.argument("output", metavar="OUT", type=click.Path(file_okay=False, path_type=Path))
@click.argument("names", nargs=-1, metavar="[NAME|PATTERN]...")
@click.option("--failing", is_flag=True,
              help="Approve the pairs whose score is beyond the run's --fail-above threshold (or --fail-above T).")
@click.option("--fail-above", "threshold", type=float, metavar="T", callback=finite_threshold,
              help="With --failing: the threshold instead of the run's.")
@click.option("--all", "everything", is_flag=True, help="Approve every pair and every file only in B.")
@click.option("--dry-run", is_flag=True, help="Say what would be copied; copy and record nothing.")
@click.option("--user", metavar="NAME", help="Who approves, for the record [default: the login name].")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def approve_command(output: Path, names: tuple[str, ...], failing: bool, threshold: float | None,
                    everything: bool, dry_run: bool, user: str | None, debug: bool) -> None:
    """Promote B images of a folder run to the references (the baseline), and record it.

    OUT is the output folder of `dfind REFS NEW -o OUT`. Each chosen pair's B file is copied
    over its A file in REFS, atomically; a file only in NEW (a new screenshot) is added to
    REFS under the same relative path. Each copy is appended to OUT/approvals.json: who,
    when, the pair, its score, the SHA-256 of the approved file, its source and destination.
    A B file equal to its reference already is left alone.
    """
    if not (names or failing or everything):
        raise click.UsageError("name the pairs to approve (names or glob patterns), or give --failing or --all")
    if everything and (names or failing):
        raise click.UsageError("--all approves every pair and new file: give it alone")
    if threshold is not None and not failing:
        raise click.UsageError("--fail-above: only with --failing")
    with reported_errors(debug):
        from dfcore.io.baseline import APPROVED, approve, read_run, select_approvals
        from dfcore.io.layout import APPROVALS_JSON

        run = read_run(output)
        chosen = select_approvals(run, names, failing=failing, threshold=threshold, everything=everything)
        if not chosen:
            limit = threshold if threshold is not None else run.fail_above
            click.echo(f"nothing to approve: no pair of {output} is beyond {limit:g}" if failing
                       else "nothing to approve")
            return
        done = approve(run, chosen, dry_run=dry_run, user=user)
        verb = "would approve" if dry_run else "approved"
        for item, status, _ in done:
            score = f" ({run.metric} {item.score:.6g})" if item.score is not None else ""
            if status == APPROVED:
                click.echo(f"{verb} {item.pair}{score}{' (new)' if item.kind == 'new' else ''}: "
                           f"{item.source} -> {item.destination}")
            else:
                click.echo(f"unchanged {item.pair}: the reference has these bytes already")
        copied = [item for item, status, _ in done if status == APPROVED]
        new = sum(item.kind == "new" for item in copied)
        line = f"{verb} {len(copied)} of {len(done)}" + (f" ({new} new)" if new else "")
        if copied and not dry_run:
            line += f"; recorded in {output / APPROVALS_JSON}"
        click.echo(line)
        if copied and not dry_run and any(item.kind != "new" for item in copied):
            click.echo(f"the results in {output} were made against the old references: "
                       "rerun with --overwrite to check the new ones")
