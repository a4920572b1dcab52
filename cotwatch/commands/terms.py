"""`cotwatch terms track|trend|discover|kwic|shift|materialize` — thin wrappers over cotwatch.analytics.terms."""

from __future__ import annotations

import click

from cotwatch.commands.distributed import (
    ENGINES,
    materialize_from_shards,
    merge_job,
    shard_input_options,
)
from cotwatch.options import (
    db_option,
    environment_option,
    format_option,
    output_option,
    run_option,
    scope_option,
    wait_option,
)

TERM_HELP = "TERM: a token (autop), a wildcard (autop*), a /regex/ over tokens, or @group of a watchlist."

watchlist_option = click.option(
    "--watchlist", type=click.Path(dir_okay=False), default=None,
    help="Watchlist TOML file for @group terms (default: the shipped one); with no TERM, track all its terms.")
expand_option = click.option("--expand", is_flag=True, help="Also report each token a wildcard, regex or group matched.")
by_environment_option = click.option("--by-environment", is_flag=True, help="One row per environment too.")


def series_options(f):
    """TERM... and the options shared by `track` and `trend`, in the order their functions take."""
    for option in reversed([
        click.argument("term", nargs=-1), run_option, environment_option, by_environment_option,
        watchlist_option, expand_option, scope_option, db_option, wait_option, format_option, output_option,
    ]):
        f = option(f)
    return f


@click.group()
def terms():
    """Term frequencies across checkpoints: track, trend, discover, kwic, shift, materialize."""


@terms.command()
@series_options
def track(term, run, environment, by_environment, watchlist, expand, scope, db, wait, fmt, output):
    """Rate of each TERM per checkpoint, with 95% intervals.

    Columns: run, step, term, occurrences, tokens, rate_per_1k, docs, docs_with_term,
    doc_fraction, doc_fraction_lo/hi (Wilson), rate_lo/hi (cluster-robust ratio interval).
    TERM: a token (autop), a wildcard (autop*), a /regex/ over tokens, or @group of a watchlist.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import term_rates
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        df = term_rates(store, list(term), run=run, environment=environment, by_environment=by_environment,
                        scope=scope, expand=expand, watchlist=watchlist)
    emit(df, fmt, output)


@terms.command()
@series_options
def trend(term, run, environment, by_environment, watchlist, expand, scope, db, wait, fmt, output):
    """Trend of each TERM's rate across steps: Mann–Kendall p-value and Theil–Sen slope.

    Columns: run, term, steps, first_rate, last_rate, tau, trend_p, slope (rate_per_1k per
    step), slope_per_1k_steps, direction (rising/falling at p < 0.05, else flat).
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import term_trends
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        df = term_trends(store, list(term), run=run, environment=environment, by_environment=by_environment,
                         scope=scope, expand=expand, watchlist=watchlist)
    emit(df, fmt, output)


@terms.command()
@run_option
@environment_option
@click.option("--early", type=int, default=None, help="Steps in the early window (default: a third of the steps).")
@click.option("--late", type=int, default=None, help="Steps in the late window (default: a third of the steps).")
@click.option("--top", type=int, default=20, show_default=True, help="How many terms to show.")
@click.option("--min-docs", type=int, default=5, show_default=True,
              help="Transcripts that must use a term in the target window (late when rising, early when falling).")
@click.option("--direction", type=click.Choice(["rising", "falling"]), default="rising", show_default=True)
@click.option("--scope", type=click.Choice(["reasoning", "output"]), default="reasoning", show_default=True,
              help="Which segments count.")
@db_option
@wait_option
@format_option
@output_option
def discover(run, environment, early, late, top, min_docs, direction, scope, db, wait, fmt, output):
    """Emergent (or fading) vocabulary, found without a word list.

    score = keyness (Monroe et al. log-odds z, late vs early) x oddity (wordfreq Zipf) x
    dispersion (transcripts per occurrence) x trend agreement (Mann–Kendall). Columns: term,
    score, english_zipf, keyness_z, trend_p, slope, docs_with_term_early, docs_with_term_late,
    occurrences_early, occurrences_late, example.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.discover import discover_terms
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        df = discover_terms(store, run=run, early=early, late=late, top=top, min_docs=min_docs,
                            direction=direction, scope=scope, environment=environment)
    emit(df, fmt, output)


@terms.command()
@click.argument("term")
@run_option
@click.option("--step", type=int, default=None, help="Only this checkpoint step.")
@environment_option
@click.option("--width", type=int, default=60, show_default=True, help="Characters of context on each side.")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many lines.")
@watchlist_option
@scope_option
@db_option
@wait_option
@format_option
@output_option
def kwic(term, run, step, environment, width, limit, watchlist, scope, db, wait, fmt, output):
    """Keyword-in-context lines for TERM: transcript_id, run, step, environment, left, match, right.

    TERM: a token (autop), a wildcard (autop*), a /regex/ over tokens, or @group of a watchlist.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.concordance import kwic as kwic_lines
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        df = kwic_lines(store, term, run=run, step=step, width=width, limit=limit, scope=scope,
                        environment=environment, watchlist=watchlist)
    emit(df, fmt, output)


@terms.command()
@run_option
@click.option("--from", "from_step", type=int, default=None, help="Reference checkpoint step.")
@click.option("--to", "to_step", type=int, default=None, help="Comparison checkpoint step.")
@click.option("--chained", is_flag=True, help="Every pair of consecutive steps instead of --from/--to.")
@click.option("--top", type=int, default=20, show_default=True, help="Terms per comparison.")
@environment_option
@scope_option
@db_option
@wait_option
@format_option
@output_option
def shift(run, from_step, to_step, chained, top, environment, scope, db, wait, fmt, output):
    """Which terms drive the difference between two checkpoints (Jensen–Shannon contributions).

    Columns: term, occurrences_from/to, rate_from/to (per 1k tokens), shift (rate_to -
    rate_from), jsd_contribution (bits), share (of the JSD), direction; --chained adds
    from_step, to_step, jsd.
    """
    from cotwatch.analytics.errors import UsageError
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.shift import chained_word_shift, word_shift
    from cotwatch.output import emit

    if chained and (from_step is not None or to_step is not None):
        raise UsageError("--chained compares every consecutive pair: drop --from/--to")
    if not chained and (from_step is None or to_step is None):
        raise UsageError("give --from STEP and --to STEP, or --chained")
    with Store.open(db, wait=wait) as store:
        if chained:
            df = chained_word_shift(store, run=run, top=top, scope=scope, environment=environment)
        else:
            df = word_shift(store, run=run, from_step=from_step, to_step=to_step, top=top, scope=scope,
                            environment=environment)
    emit(df, fmt, output)


@terms.command()
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Where the counting kernel runs: this machine (duckdb) or a Ray cluster (ray: needs "
                   "--input shards and `pip install 'cotwatch[ray]'`).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Counting threads (default: CPUs, up to 4, for large backlogs; 1 = in the calling thread); "
                   "with --input, worker processes of the duckdb engine (default 1).")
@shard_input_options
@db_option
@wait_option
@format_option
def materialize(engine, workers, input, partials, keep_partials, address, shard_batch, db, wait, fmt):
    """Count the terms of every transcript not counted yet (ingest does this unless --defer-terms).

    With --input, count Parquet shards instead (`cotwatch export parquet` writes them; a lake can
    write the same schema) on --engine duckdb or ray, and merge them into the store in one
    transaction. Prints one summary row.
    """
    if input is not None or engine == "ray":
        return materialize_from_shards(db=db, wait=wait, fmt=fmt, engine=engine, input=input, partials=partials,
                                       keep_partials=keep_partials, address=address, workers=workers or 1,
                                       shard_batch=shard_batch)
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.materialize import materialize_counts
    from cotwatch.output import emit

    with Store.open(db, read_only=False, wait=wait) as store:
        df = materialize_counts(store, workers=workers)
    emit(df, fmt)


terms.add_command(merge_job)
