"""`cotwatch migrate`"""

import click

from cotwatch.options import db_option, wait_option


@click.command()
@db_option
@wait_option
def migrate(db, wait):
    """Create the store if needed, apply pending schema migrations, count uncounted transcripts."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.materialize import resume_pending

    with Store.open(db, read_only=False, wait=wait) as store:
        applied = store.applied_on_open
        counted = resume_pending(store)
    message = f"applied {', '.join(applied)}" if applied else "schema up to date"
    if counted:
        message += f"; counted the terms of {counted} transcript(s) left uncounted"
    click.echo(f"{store.path}: {message}", err=True)
