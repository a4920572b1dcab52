"""`cotwatch runs` and `cotwatch runs delete RUN`"""

import sys

import click

from cotwatch.options import db_option, format_option, wait_option


@click.group(invoke_without_command=True)
@db_option
@format_option
@wait_option
@click.pass_context
def runs(ctx, db, fmt, wait):
    """One row per run: run, steps, environments, transcripts, reasoning_tokens.

    Says so on stderr when some transcripts are not counted yet (their tokens are left out).
    """
    if ctx.invoked_subcommand is not None:
        return
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.summary import runs_summary
    from cotwatch.analytics.terms.materialize import pending_note
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        note = pending_note(store)
        emit(runs_summary(store), fmt)
    if note:
        click.echo(f"cotwatch: note: {note}", err=True)


@runs.command("delete")
@click.argument("run")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@db_option
@format_option
@wait_option
def delete(run, yes, db, fmt, wait):
    """Delete RUN and everything derived from it, in one transaction.

    Transcripts, segments, term counts, step sums, classifier scores and flags, labels,
    checkpoints and the run itself; the term vocabulary and the embedding cache stay.
    """
    from cotwatch.analytics.errors import UsageError
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.summary import delete_run
    from cotwatch.analytics.terms.materialize import resume_pending
    from cotwatch.output import emit

    with Store.open(db, read_only=False, wait=wait) as store:
        store.require_run(run)
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"deleting run {run!r} needs --yes (or answer the question on a terminal)")
            click.confirm(f"Delete run {run!r} and everything derived from it?", abort=True, err=True)
        deleted = delete_run(store, run)
        resume_pending(store)
    emit(deleted, fmt)
    total = dict(zip(deleted["table"], deleted["rows"])).get("transcripts", 0)
    click.echo(f"deleted run {run!r}: {total} transcript(s)", err=True)
