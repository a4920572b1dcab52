"""`cotwatch terms track|trend|discover|kwic|shift|usage|compare|materialize` — thin wrappers over
cotwatch.analytics.terms (and cotwatch.classifiers.usage for `usage`)."""

from __future__ import annotations

import contextlib
import warnings

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
    runs_option,
    scope_option,
    wait_option,
)

TERM_HELP = ("TERM: a token (autop), a phrase of 2-5 tokens (autop-run, 'might be a test'), a wildcard "
             "(autop*), a /regex/ over tokens, or @group of a watchlist.")

watchlist_option = click.option(
    "--watchlist", type=click.Path(dir_okay=False), default=None,
    help="Watchlist TOML file for @group terms (default: the shipped one); with no TERM, track all its terms.")
expand_option = click.option("--expand", is_flag=True,
                             help="Also report each token a wildcard, regex or group matched (and a group's phrases).")
by_environment_option = click.option("--by-environment", is_flag=True, help="One row per environment too.")
case_option = click.option(
    "--case-sensitive", is_flag=True,
    help="Match tokens and phrases in the case typed (counted exactly from the stored text; default: folded).")
normalize_option = click.option(
    "--normalize", type=click.Choice(["tokens", "docs"]), default="tokens", show_default=True,
    help="The measure: tokens = rate per 1,000 tokens; docs = share of transcripts using the term.")
filter_options = [
    click.option("--script", default="auto", show_default=True,
                 help="Rank only tokens of this script: auto (the run's dominant one), any, latin, han, cyrillic, "
                      "greek, arabic, hebrew, devanagari, hangul, hiragana, katakana, thai."),
    click.option("--min-length", type=int, default=2, show_default=True, help="Rank only tokens this long or longer."),
    click.option("--stopwords", default=None,
                 help="Leave out of the ranking: N (wordfreq's N most frequent English words) or a FILE of words."),
]


def _options(f, options):
    for option in reversed(options):
        f = option(f)
    return f


def ranking_filters(f):
    """--script, --min-length, --stopwords (discover, shift)."""
    return _options(f, filter_options)


def series_options(f):
    """TERM... and the options shared by `track` and `trend`, in the order their functions take."""
    return _options(f, [
        click.argument("term", nargs=-1), runs_option, environment_option, by_environment_option,
        watchlist_option, expand_option, scope_option, case_option, normalize_option, db_option, wait_option,
        format_option, output_option,
    ])


@contextlib.contextmanager
def notes():
    """Print the analyses' notes (a term that never occurs, a run left out) as one line each."""
    from cotwatch.analytics.terms.notes import TermNote

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TermNote)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, TermNote):
                    click.echo(f"cotwatch: note: {w.message}", err=True)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _stopwords(value):
    return int(value) if value is not None and value.isdigit() else value


@click.group()
def terms():
    """Term frequencies across checkpoints: track, trend, discover, kwic, shift, usage, compare, materialize."""


@terms.command()
@series_options
@click.option("--smooth", type=click.IntRange(min=0), default=0, show_default=True,
              help="Add <measure>_smoothed: the centred moving average over the 2K+1 steps around each step.")
def track(term, run, environment, by_environment, watchlist, expand, scope, case_sensitive, normalize, db, wait,
          fmt, output, smooth):
    """Rate of each TERM per checkpoint, with 95% intervals.

    Columns: run, step, term, occurrences, tokens, rate_per_1k, docs, docs_with_term,
    doc_fraction, doc_fraction_lo/hi (Wilson), rate_lo/hi (cluster-robust ratio interval);
    with --smooth K also rate_per_1k_smoothed (or doc_fraction_smoothed with --normalize docs).
    TERM: a token (autop), a phrase of 2-5 tokens (autop-run, 'might be a test'), a wildcard
    (autop*), a /regex/ over tokens, or @group of a watchlist. A TERM that never occurs gets a
    note naming the closest counted terms.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import term_rates
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store, notes():
        df = term_rates(store, list(term), run=run, environment=environment, by_environment=by_environment,
                        scope=scope, expand=expand, watchlist=watchlist, case_sensitive=case_sensitive,
                        normalize=normalize, smooth=smooth)
    emit(df, fmt, output)


@terms.command()
@series_options
def trend(term, run, environment, by_environment, watchlist, expand, scope, case_sensitive, normalize, db, wait,
          fmt, output):
    """Trend of each TERM's rate (or doc share) across steps: Mann–Kendall p-value, Theil–Sen slope.

    Columns: run, term, measure, steps, first_rate, last_rate, tau, trend_p, slope (measure per
    step), slope_per_1k_steps, direction (rising/falling at p < 0.05, else flat).
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import term_trends
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store, notes():
        df = term_trends(store, list(term), run=run, environment=environment, by_environment=by_environment,
                         scope=scope, expand=expand, watchlist=watchlist, case_sensitive=case_sensitive,
                         normalize=normalize)
    emit(df, fmt, output)


@terms.command()
@click.argument("term", nargs=-1, required=True)
@runs_option
@environment_option
@watchlist_option
@scope_option
@case_option
@normalize_option
@db_option
@wait_option
@format_option
@output_option
def compare(term, run, environment, watchlist, scope, case_sensitive, normalize, db, wait, fmt, output):
    """Two runs step by step for each TERM: --run A --run B.

    Columns: term, step, measure, run_a, value_a, lo_a, hi_a, run_b, value_b, lo_b, hi_b,
    difference (b - a), difference_lo/hi (95%, MOVER from the two runs' intervals).
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import compare_runs
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store, notes():
        df = compare_runs(store, list(term), runs=list(run or ()), environment=environment, scope=scope,
                          watchlist=watchlist, case_sensitive=case_sensitive, normalize=normalize)
    emit(df, fmt, output)


@terms.command()
@runs_option
@environment_option
@click.option("--early", type=int, default=None, help="Steps in the early window (default: a third of the steps).")
@click.option("--late", type=int, default=None, help="Steps in the late window (default: a third of the steps).")
@click.option("--top", type=int, default=20, show_default=True, help="How many terms to show.")
@click.option("--min-docs", type=int, default=None,
              help="Transcripts that must use a term in the target window (late when rising, early when falling); "
                   "default: 2% of the window's transcripts, between 1 and 5.")
@click.option("--direction", type=click.Choice(["rising", "falling"]), default="rising", show_default=True)
@click.option("--ngram", type=click.IntRange(1, 5), default=1, show_default=True,
              help="Discover phrases of this many tokens (2-5) instead of tokens.")
@click.option("--min-keyness", type=float, default=1.96, show_default=True,
              help="Rank only terms whose keyness z (late vs early) reaches this.")
@click.option("--scope", type=click.Choice(["reasoning", "output"]), default="reasoning", show_default=True,
              help="Which segments count.")
@ranking_filters
@db_option
@wait_option
@format_option
@output_option
def discover(run, environment, early, late, top, min_docs, direction, ngram, min_keyness, scope, script, min_length,
             stopwords, db, wait, fmt, output):
    """Emergent (or fading) vocabulary, found without a word list.

    score = keyness (Monroe et al. log-odds z, late vs early) x oddity (wordfreq Zipf; phrases:
    none) x dispersion (transcripts per occurrence) x trend agreement (Mann–Kendall). Columns:
    run, rank, term, score, english_zipf, keyness_z, trend_p, slope, docs_with_term_early,
    docs_with_term_late, occurrences_early, occurrences_late, example.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.discover import discover_terms
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store, notes():
        df = discover_terms(store, run=run, early=early, late=late, top=top, min_docs=min_docs,
                            direction=direction, scope=scope, environment=environment, ngram=ngram,
                            script=script, min_length=min_length, stopwords=_stopwords(stopwords),
                            min_keyness=min_keyness)
    emit(df, fmt, output)



@terms.command()
@click.argument("term")
@runs_option
@click.option("--step", type=int, default=None, help="Only this checkpoint step.")
@environment_option
@click.option("--width", type=int, default=60, show_default=True, help="Characters of context on each side.")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many lines.")
@watchlist_option
@scope_option
@case_option
@db_option
@wait_option
@format_option
@output_option
def kwic(term, run, step, environment, width, limit, watchlist, scope, case_sensitive, db, wait, fmt, output):
    """Keyword-in-context lines for TERM: transcript_id, run, step, environment, left, match, right.

    TERM: a token (autop), a phrase of 2-5 tokens (autop-run, 'might be a test'), a wildcard
    (autop*), a /regex/ over tokens, or @group of a watchlist.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.concordance import kwic as kwic_lines
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store, notes():
        df = kwic_lines(store, term, run=run, step=step, width=width, limit=limit, scope=scope,
                        environment=environment, watchlist=watchlist, case_sensitive=case_sensitive)
    emit(df, fmt, output)


@terms.command()
@runs_option
@click.option("--from", "from_step", type=int, default=None, help="Reference checkpoint step.")
@click.option("--to", "to_step", type=int, default=None, help="Comparison checkpoint step.")
@click.option("--chained", is_flag=True, help="Every pair of consecutive steps instead of --from/--to.")
@click.option("--top", type=int, default=20, show_default=True, help="Terms per comparison.")
@environment_option
@scope_option
@ranking_filters
@db_option
@wait_option
@format_option
@output_option
def shift(run, from_step, to_step, chained, top, environment, scope, script, min_length, stopwords, db, wait, fmt,
          output):
    """Which terms drive the difference between two checkpoints (Jensen–Shannon contributions).

    Columns: run, term, occurrences_from/to, rate_from/to (per 1k tokens), shift (rate_to -
    rate_from), jsd_contribution (bits), share (of the JSD), direction; --chained adds
    from_step, to_step, jsd. --script/--min-length/--stopwords only hide terms from the ranking.
    """
    from cotwatch.analytics.errors import UsageError
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.shift import chained_word_shift, word_shift
    from cotwatch.output import emit

    if chained and (from_step is not None or to_step is not None):
        raise UsageError("--chained compares every consecutive pair: drop --from/--to")
    if not chained and (from_step is None or to_step is None):
        raise UsageError("give --from STEP and --to STEP, or --chained")
    filters = {"script": script, "min_length": min_length, "stopwords": _stopwords(stopwords)}
    with Store.open(db, wait=wait) as store, notes():
        if chained:
            df = chained_word_shift(store, run=run, top=top, scope=scope, environment=environment, **filters)
        else:
            df = word_shift(store, run=run, from_step=from_step, to_step=to_step, top=top, scope=scope,
                            environment=environment, **filters)
    emit(df, fmt, output)



@terms.command()
@click.argument("term")
@runs_option
@click.option("--window", type=click.IntRange(min=1), default=12, show_default=True,
              help="Tokens of context on each side of the term.")
@click.option("--cap", type=click.IntRange(min=2), default=200, show_default=True,
              help="Contexts per step (sampled over transcripts, at most 3 from one).")
@click.option("--model", default=None,
              help="Sentence encoder: the default MiniLM, 'static' (fast static model) or a local "
                   "sentence-transformers folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling and resampling.")
@click.option("--contexts", "show_contexts", is_flag=True,
              help="Print the contexts most typical of before and after the largest change instead of the steps.")
@environment_option
@watchlist_option
@scope_option
@case_option
@db_option
@wait_option
@format_option
@output_option
def usage(term, run, window, cap, model, seed, show_contexts, environment, watchlist, scope, case_sensitive, db,
          wait, fmt, output):
    """Usage drift of TERM: has its meaning moved across steps, whatever its frequency did?

    Embeds the term's contexts per step with the sentence encoder. Columns: run, step,
    contexts, transcripts, drift_from_first (cosine distance of the step's context centroid
    from the first step's), lo, hi (95% bootstrap over transcripts), drift_from_previous,
    previous_lo, previous_hi, p_value (permutation test: same usage as the first step). A
    table also lists the contexts most typical of before and after the largest change.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.usage import usage_drift
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store, notes():
        result = usage_drift(store, term, run=run, window=window, cap=cap, model=model, seed=seed,
                             environment=environment, watchlist=watchlist, scope=scope,
                             case_sensitive=case_sensitive)
    if show_contexts:
        emit(result.typical, fmt, output)
        return
    if fmt != "table" or output is not None:
        emit(result.steps, fmt, output)
        return
    emit(result.steps, fmt, title=f"Usage drift of {term!r}")
    for row in result.change.iter_rows(named=True):
        title = (f"Contexts most typical of before (<= step {row['before_last_step']}) and after "
                 f"(>= step {row['after_first_step']}) the largest change in run {row['run']!r}")
        emit(result.typical.filter(result.typical["run"] == row["run"]), fmt, title=title)


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
