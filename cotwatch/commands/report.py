"""`cotwatch report [SPEC.toml] --out DIR`"""

from __future__ import annotations

import click

from cotwatch.options import db_option, runs_option


@click.command()
@click.argument("spec", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(),
              help="Report directory: created, or replaced atomically when cotwatch wrote it (never one holding other "
                   "files); a symlink is written through. A failed run leaves the old report.")
@db_option
@click.option("--wait", type=float, default=300.0, show_default=True,
              help="Seconds to wait, with back-off, while an ingest holds the store's write lock.")
@runs_option
@click.option("--since", default=None, metavar="WHEN",
              help="Only runs with transcripts ingested since WHEN: YYYY-MM-DD, an ISO time, or 7d / 24h / 2w ago.")
@click.option("--history", is_flag=True, help="Also keep a dated copy in DIR/history/YYYY-MM-DD/ (listed in DIR/history/index.html).")
@click.option("--no-images", "no_images", is_flag=True, help="Skip charts/*.png and *.svg (faster).")
@click.option("--quiet", "-q", is_flag=True, help="No log lines; only errors (for cron).")
def report(spec, out, db, wait, run, since, history, no_images, quiet):
    """Write the offline HTML drift report DIR/index.html (default spec: reports/drift.toml).

    --run (repeatable) replaces the spec's runs.
    Also writes DIR/charts/*.png|svg, DIR/data/*.csv and DIR/report.json. One log line per section
    on stderr. Exit codes: 0 ok, 4 store missing, 5 store locked, 6 bad spec, 7 nothing to report.
    """
    from cotwatch.reports.write import write_report

    log = (lambda _msg: None) if quiet else (lambda msg: click.echo(f"report: {msg}", err=True))
    path = write_report(db, spec, out, wait=wait, since=since, history=history, log=log,
                        images=False if no_images else None, runs=list(run) if run else None)
    if not quiet:
        click.echo(str(path / "index.html"))
