"""`cotwatch demo`"""

import click


@click.command()
@click.option("--out", default="demo", show_default=True, type=click.Path(file_okay=False), help="Directory to build.")
@click.option("--checkpoints", default=12, show_default=True, type=click.IntRange(2, 200))
@click.option("--per-checkpoint", "per_checkpoint", default=50, show_default=True, type=click.IntRange(1, 100000),
              help="Transcripts per checkpoint and environment.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--quiet", is_flag=True, help="Only print where the results are.")
def demo(out, checkpoints, per_checkpoint, seed, quiet):
    """Build DIR/cotwatch.duckdb from a synthetic RL run and run every analysis on it."""
    from cotwatch.demo import run_demo

    log = (lambda _msg: None) if quiet else (lambda msg: click.echo(f"demo: {msg}", err=True))
    result = run_demo(out, checkpoints=checkpoints, transcripts_per_checkpoint=per_checkpoint, seed=seed, log=log)
    rows = [("store", result.store), *result.outputs.items()]
    width = max(len(name) for name, _ in rows) + 2
    for name, path in rows:
        click.echo(f"{name + ':':<{width}}{path}")
