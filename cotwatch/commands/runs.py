"""`cotwatch runs`"""

import click

from cotwatch.options import db_option, format_option, wait_option


@click.command()
@db_option
@format_option
@wait_option
def runs(db, fmt, wait):
    """One row per run: run, steps, environments, transcripts, reasoning_tokens."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.summary import runs_summary
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        emit(runs_summary(store), fmt)
