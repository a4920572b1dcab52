"""`cotwatch migrate`"""

import click

from cotwatch.options import db_option, wait_option


@click.command()
@db_option
@wait_option
def migrate(db, wait):
    """Create the store if needed and apply pending schema migrations."""
    from cotwatch.analytics.store.database import Store

    with Store.open(db, read_only=False, wait=wait) as store:
        applied = store.applied_on_open
    click.echo(f"{store.path}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"), err=True)
