"""`cotwatch view`"""

import click

from cotwatch.options import db_option, wait_option


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port; the URL is printed).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Keep the loopback default: the viewer has no login.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="A report folder (cotwatch report --out DIR) to serve under /report/, its evidence linked to transcripts.")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
@db_option
@wait_option
def view(port, host, report_dir, access_log, db, wait):
    """Browse the store in a web browser: runs, steps, search, transcripts (read-only, local).

    Serves http://127.0.0.1:PORT/ until Ctrl-C (exit code 130). The store is opened read-only and
    only while a page is being answered, so ingests can run meanwhile.
    """
    from cotwatch.reports.viewer.server import serve

    try:
        serve(db, host=host, port=port, report_dir=report_dir, wait=wait, access_log=access_log)
    except KeyboardInterrupt:
        click.echo("cotwatch view: stopped", err=True)
        raise  # the CLI boundary turns Ctrl-C into exit code 130
