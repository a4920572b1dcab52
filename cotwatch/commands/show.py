"""`cotwatch show ID`"""

import click

from cotwatch.options import db_option, wait_option


@click.command()
@click.argument("transcript_id")
@click.option("--run", default=None, help="Run of the transcript (needed when the id exists in several runs).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@db_option
@wait_option
def show(transcript_id, run, fmt, db, wait):
    """Show one transcript, segment by segment.

    Control characters and escape sequences in the text are shown visibly (ESC as ␛, bidi
    overrides as \\u202e); --format json prints the text verbatim.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.summary import transcript_segments
    from cotwatch.output import emit, terminal_safe

    with Store.open(db, wait=wait) as store:
        df = transcript_segments(store, transcript_id, run)
    if fmt == "json":
        emit(df, "json")
        return
    first = df.row(0, named=True)

    def line(text: str) -> None:
        click.echo(terminal_safe(text, keep_newlines=False))

    line(f"transcript {first['id']}  run={first['run']}  step={first['step']}  environment={first['environment']}  "
         f"epoch={first['epoch']}  covert_action={first['covert_action']}  score={first['score']}")
    where = f"{first['source_file']}" + (f":{first['source_line']}" if first["source_line"] is not None
                                         else f" [{first['source_entry']}]")
    line(f"source {where}")
    for seg in df.iter_rows(named=True):
        flag = " (redacted)" if seg["redacted"] else ""
        click.echo()
        line(f"── {seg['ordinal']}: {seg['kind']} [{seg['role'] or '-'}]{flag} ──")
        click.echo(terminal_safe(seg["text"]))
