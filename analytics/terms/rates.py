"""Term rates per checkpoint with intervals, their trends, and two runs compared.

Single folded tokens come from the per-cell sums (``step_term_counts``); wildcards, regexes,
groups and ``--scope all`` from the per-transcript lists (``doc_term_lists``), so that a
transcript with several matching tokens counts once in ``docs_with_term``; phrases and
case-sensitive tokens from stored text, exactly, reading only the transcripts the lists say can
hold them (:mod:`cotwatch.analytics.terms.phrases`). Every kind ends in the same per-cell sums,
so every kind gets the same intervals.

``run`` is one run name, a list of runs (overlaid: every frame has a ``run`` column), or None
for every run.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb") as store:                       # doctest: +SKIP
...     term_rates(store, ["autop", "autop-run", "disclaim*", "@o3_emergent"], run=["rl-1", "rl-2"])
...     compare_runs(store, ["autop"], runs=("rl-1", "rl-2"))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.kinds import QUERY_SCOPES
from cotwatch.analytics.store.database import Store, registered
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms import notes
from cotwatch.analytics.terms import stats as term_stats
from cotwatch.analytics.terms.specs import (
    TermSpec,
    Watchlist,
    load_watchlist,
    parse_terms,
)

#: CLI scope → stored scopes (doc_tokens/doc_term_lists/step tables).
STORED_SCOPES = QUERY_SCOPES

RATE_COLUMNS = [
    "run", "step", "term", "occurrences", "tokens", "rate_per_1k", "docs", "docs_with_term",
    "doc_fraction", "doc_fraction_lo", "doc_fraction_hi", "rate_lo", "rate_hi",
]
#: --normalize → (value column, its interval columns).
MEASURES = {
    "tokens": ("rate_per_1k", "rate_lo", "rate_hi"),
    "docs": ("doc_fraction", "doc_fraction_lo", "doc_fraction_hi"),
}
COMPARE_COLUMNS = ["term", "step", "measure", "run_a", "value_a", "lo_a", "hi_a", "run_b", "value_b", "lo_b",
                   "hi_b", "difference", "difference_lo", "difference_hi"]
RunArg = str | Sequence[str] | None


def _check_scope(scope: str) -> tuple[str, ...]:
    if scope not in STORED_SCOPES:
        raise InputError(f"scope {scope!r}: expected one of {', '.join(STORED_SCOPES)}")
    return STORED_SCOPES[scope]


def _check_measure(normalize: str) -> tuple[str, str, str]:
    if normalize not in MEASURES:
        raise InputError(f"normalize {normalize!r}: expected tokens (rate per 1,000 tokens) or docs (share of transcripts)")
    return MEASURES[normalize]


def run_list(store: Store, run: RunArg) -> list[str] | None:
    """The runs a ``run`` argument names (each checked to exist), in order, once each; None for
    every run."""
    if run is None:
        return None
    names = [run] if isinstance(run, str) else list(run)
    if not names:
        return None
    for name in names:
        store.require_run(name)
    return list(dict.fromkeys(names))


def runs_or_only(store: Store, run: RunArg) -> list[str]:
    """Like :func:`run_list`, but None means the only run (an error when there are several)."""
    runs = run_list(store, run)
    return runs if runs else [store.require_run(None)]


def _specs(terms: Iterable[str | TermSpec], watchlist: Watchlist | str | Path | None,
           case_sensitive: bool = False) -> list[TermSpec]:
    """Parse ``terms``; with none, every term of ``watchlist`` (a Watchlist or a TOML path; the
    shipped default watchlist when None)."""
    if watchlist is not None and not isinstance(watchlist, Watchlist):
        watchlist = load_watchlist(watchlist)
    specs, texts = [], []
    for t in terms or ():
        (specs if isinstance(t, TermSpec) else texts).append(t)
    specs += parse_terms(texts, watchlist, case_sensitive=case_sensitive)
    if not specs:  # no terms: every term of the watchlist (the shipped default when none is given)
        specs = (watchlist or load_watchlist()).all_terms()
    if not specs:
        raise InputError("no terms given and the watchlist is empty (name at least one TERM)")
    if case_sensitive:
        specs = [s.as_case_sensitive() for s in specs]
    return list({s.label: s for s in reversed(specs)}.values())[::-1]  # one row per label, first kept


# --------------------------------------------------------------------------------------------
# Resolving specs against the counted vocabulary
# --------------------------------------------------------------------------------------------
def resolve_terms(store: Store, specs: Sequence[TermSpec]):
    """(label, term, term_id) for every counted token each spec matches (polars DataFrame).

    Tokens that were never counted have no row (their counts are zero). Phrases and
    case-sensitive tokens match no single counted token and have no rows here.
    """
    import polars as pl

    rows: list[tuple[str, str, int]] = []
    for spec in specs:
        found: dict[str, int] = {}
        leaves = [leaf for leaf in spec.leaves() if not leaf.needs_text]
        tokens = [leaf.pattern for leaf in leaves if leaf.kind == "token"]
        if tokens:
            found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_exact"), {"terms": tokens})})
        for leaf in leaves:
            if leaf.kind == "wildcard":  # tokens never hold '_' or '%': LIKE is the wildcard itself
                like = leaf.pattern.replace("*", "%")
                found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_match"), {"like": like})})
            elif leaf.kind == "regex":  # RE2 in DuckDB: linear time whatever the pattern
                pattern = leaf.regex().re2
                found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_regex"), {"pattern": pattern})})
        rows += [(spec.label, term, tid) for term, tid in sorted(found.items())]
    return pl.DataFrame(rows, schema={"label": pl.String, "term": pl.String, "term_id": pl.Int64}, orient="row")


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------
def _cells(store: Store, scope: str, runs: str | Sequence[str] | None, environment: str | None):
    stored = _check_scope(scope)
    runs = [runs] if isinstance(runs, str) else (list(runs) if runs else None)
    if len(stored) == 1:
        return store.frame(load_sql("term_cells"), {"scope": stored[0], "runs": runs, "environment": environment})
    return store.frame(load_sql("term_cells_docs"), {"scopes": list(stored), "runs": runs, "environment": environment})


def _sums_schema():
    import polars as pl

    return {"run": pl.String, "step": pl.Int64, "environment": pl.String, "label": pl.String,
            "occurrences": pl.Int64, "docs_with_term": pl.Int64, "sum_n2": pl.Int64, "sum_n_tokens": pl.Int64}


def _label_sums(store: Store, matches, single: set[str], texts: list[tuple[str, TermSpec]], scope: str,
                runs, environment):
    """Per (run, step, environment, label) sums: occurrences, docs_with_term, sum_n2, sum_n_tokens.

    ``matches``: (label, term, term_id) of token-list leaves; ``single``: labels counted from the
    per-cell sums; ``texts``: (label, leaf) counted from text."""
    import polars as pl

    from cotwatch.analytics.terms.phrases import text_hits

    stored = STORED_SCOPES[scope]
    runs = list(runs) if runs else None
    frames = []
    fast = matches.filter(pl.col("label").is_in(list(single))) if len(stored) == 1 else matches.clear()
    fast_labels = set(fast["label"].unique().to_list()) | (single if len(stored) == 1 else set())
    slow = matches.filter(~pl.col("label").is_in(list(fast_labels)))
    text_pairs = [(label, leaf) for label, leaf in texts if label not in fast_labels]
    if fast.height:
        with registered(store.con, _labels=fast.select("label", "term").to_arrow()):
            frames.append(store.frame(load_sql("term_cell_counts"),
                                      {"scope": stored[0], "runs": runs, "environment": environment}))
    if slow.height or text_pairs:
        hits = text_hits(store, text_pairs, stored, runs=runs, environment=environment)
        with registered(store.con, _labels=slow.select("label", "term_id").to_arrow(), _text_hits=hits):
            frames.append(store.frame(load_sql("term_doc_counts"), {
                "ids": slow["term_id"].unique().sort().to_list(), "scopes": list(stored),
                "runs": runs, "environment": environment}))
    schema = _sums_schema()
    frames = [f.cast(schema) for f in frames]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def term_rates(store: Store, terms: Iterable[str | TermSpec], run: RunArg = None,
               environment: str | None = None, by_environment: bool = False,
               scope: str = "reasoning", expand: bool = False, watchlist: Watchlist | str | Path | None = None,
               *, case_sensitive: bool = False, normalize: str = "tokens", smooth: int = 0):
    """One row per (run, step, term[, environment]): occurrences, tokens, rate_per_1k, docs,
    docs_with_term, doc_fraction (+ 95% Wilson interval) and a 95% cluster-robust rate interval.

    ``terms``: tokens, phrases (``autop-run``, ``"might be a test"``: 2-5 tokens), wildcards
    (``autop*``), regexes (``/^disclaim/``) or watchlist groups (``@name``, from ``watchlist`` — a
    Watchlist or TOML path — else the default watchlist); with no terms, every term of
    ``watchlist``. ``expand`` adds a row per token a wildcard/regex/group matched (and per phrase
    of a group). ``run``: a run, several (overlaid) or None for every run. ``case_sensitive``:
    tokens and phrases match the text's own case (counted from text). ``smooth`` K > 0 adds
    ``rate_per_1k_smoothed`` (``normalize="tokens"``) or ``doc_fraction_smoothed`` (``"docs"``):
    the centred moving average over the 2K+1 steps around each step (fewer at the ends), per
    series; the raw columns stay. A term that never occurs in the selection gets its zero rows
    and a :class:`~cotwatch.analytics.terms.notes.TermNote` naming the closest counted tokens.
    Intervals: see :func:`cotwatch.analytics.terms.stats.ratio_interval`.
    """
    import polars as pl

    measure = _check_measure(normalize)[0]
    if smooth < 0:
        raise InputError(f"--smooth {smooth}: expected 0 (no smoothing) or a positive number of steps")
    specs = _specs(terms, watchlist, case_sensitive)
    stored = _check_scope(scope)
    runs = run_list(store, run)
    cells = _cells(store, scope, runs, environment)
    if cells.is_empty():
        where = f" in run(s) {', '.join(runs)}" if runs else ""
        where += f" for environment {environment!r}" if environment else ""
        raise NothingToReport(f"no counted transcripts{where} (ingest some, or run `cotwatch terms materialize`)")
    matches = resolve_terms(store, specs)
    labels = [s.label for s in specs]
    single = {s.label for s in specs if s.is_single_token}
    texts = [(s.label, leaf) for s in specs for leaf in s.leaves() if leaf.needs_text]
    if expand:
        members = matches.filter(~pl.col("label").is_in(list(single)))
        extra = members.select(pl.col("term").alias("label"), "term", "term_id").unique(maintain_order=True)
        extra = extra.filter(~pl.col("label").is_in(labels))
        matches = pl.concat([matches, extra])
        single |= set(extra["label"].to_list())
        labels += extra["label"].to_list()
        for s in specs:
            if s.kind == "group":
                for leaf in s.members:
                    if leaf.needs_text and leaf.label not in labels:
                        texts.append((leaf.label, leaf))
                        labels.append(leaf.label)
    sums = _label_sums(store, matches, single, texts, scope, runs, environment)
    label_order = pl.DataFrame({"label": labels, "_order": list(range(len(labels)))},
                               schema={"label": pl.String, "_order": pl.Int64})
    grid = cells.join(label_order, how="cross")
    keys = ["run", "step", "environment", "label"]
    df = grid.join(sums, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col("occurrences", "docs_with_term", "sum_n2", "sum_n_tokens").fill_null(0)
    )
    seen = df.group_by("label").agg(pl.col("occurrences").sum().alias("_total"))
    totals = dict(zip(seen["label"].to_list(), seen["_total"].to_list()))
    if expand:  # expanded tokens that never occur in the selection are noise
        keep = {label for label, total in totals.items() if total > 0} | {s.label for s in specs}
        df = df.filter(pl.col("label").is_in(list(keep)))
    where = notes.describe_selection(runs, scope, environment)
    for spec in specs:
        if not totals.get(spec.label):
            notes.note_missing(store, spec, stored, runs, where)
    group = ["run", "step", "label", "_order"] + (["environment"] if by_environment else [])
    sums_cols = ["occurrences", "docs_with_term", "sum_n2", "sum_n_tokens", "transcripts", "docs", "tokens", "sum_tokens2"]
    df = df.group_by(group).agg(pl.col(sums_cols).sum())
    df = _with_rate_stats(df)
    run_order = pl.col("run").replace_strict(runs, list(range(len(runs))), default=None) if runs else pl.col("run")
    df = df.with_columns(run_order.alias("_run"))  # runs in the order asked for (the overlay's legend)
    sort = ["_order", "_run"] + (["environment"] if by_environment else []) + ["step"]
    columns = RATE_COLUMNS[:3] + (["environment"] if by_environment else []) + RATE_COLUMNS[3:]
    df = df.sort(sort, nulls_last=True).rename({"label": "term"}).select(columns)
    if smooth:
        series = ["run", "term"] + (["environment"] if by_environment else [])
        df = df.with_columns(smoothed(measure, smooth).over(series).alias(f"{measure}_smoothed"))
    return df


def smoothed(column: str, k: int):
    """A polars expression: the centred moving average of ``column`` over the 2k+1 rows around
    each row (fewer at the ends; nulls skipped) — rows must be in step order within a series."""
    import polars as pl

    return pl.col(column).rolling_mean(window_size=2 * k + 1, center=True, min_samples=1)


def _with_rate_stats(df):
    """Add rate_per_1k, doc_fraction (+ Wilson), rate_lo/hi from the summed columns."""
    import polars as pl

    rate, lo, hi = term_stats.ratio_interval(
        df["occurrences"].to_numpy(), df["sum_n2"].to_numpy(), df["sum_n_tokens"].to_numpy(),
        df["tokens"].to_numpy(), df["sum_tokens2"].to_numpy(), df["docs"].to_numpy())
    wlo, whi = term_stats.wilson_interval(df["docs_with_term"].to_numpy(), df["docs"].to_numpy())
    docs = df["docs"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = df["docs_with_term"].to_numpy() / docs
    return df.with_columns(
        pl.Series("rate_per_1k", rate * 1000.0).fill_nan(None),
        pl.Series("doc_fraction", fraction).fill_nan(None),
        pl.Series("doc_fraction_lo", wlo).fill_nan(None),
        pl.Series("doc_fraction_hi", whi).fill_nan(None),
        pl.Series("rate_lo", lo * 1000.0).fill_nan(None),
        pl.Series("rate_hi", hi * 1000.0).fill_nan(None),
    )


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------
def term_trends(store: Store, terms: Iterable[str | TermSpec], run: RunArg = None,
                environment: str | None = None, by_environment: bool = False,
                scope: str = "reasoning", expand: bool = False, watchlist: Watchlist | str | Path | None = None,
                alpha: float = 0.05, *, case_sensitive: bool = False, normalize: str = "tokens"):
    """Per (run, term[, environment]): the trend of the term's series across steps —
    rate_per_1k (``normalize="tokens"``) or doc_fraction (``"docs"``), raw (not smoothed:
    smoothing would fake significance).

    Columns: run, term[, environment], measure, steps, first_rate, last_rate (the first and last
    values of the measure), tau, trend_p (Mann–Kendall, two-sided), slope (Theil–Sen, measure per
    training step), slope_per_1k_steps, direction (rising / falling when trend_p < ``alpha``,
    else flat).
    """
    import polars as pl

    measure = _check_measure(normalize)[0]
    rates = term_rates(store, terms, run=run, environment=environment, by_environment=by_environment,
                       scope=scope, expand=expand, watchlist=watchlist, case_sensitive=case_sensitive)
    keys = ["run", "term"] + (["environment"] if by_environment else [])
    out = series_trends(rates, keys, measure, alpha=alpha).rename(
        {"first_value": "first_rate", "last_value": "last_rate"})
    return out.with_columns(pl.lit(measure).alias("measure")).select(
        keys + ["measure"] + [c for c in out.columns if c not in keys])


def series_trends(df, keys: list[str], value: str, *, alpha: float = 0.05):
    """Mann–Kendall + Theil–Sen of ``value`` over ``step`` for each ``keys`` group, vectorized
    over the groups that share a step grid (one matrix per grid). Null values count as 0."""
    import polars as pl

    order = df.select(keys).unique(maintain_order=True).with_row_index("_series")
    data = df.join(order, on=keys, how="left", nulls_equal=True).with_columns(pl.col(value).fill_null(0.0))
    grids = data.group_by("_series").agg(pl.col("step").sort().alias("_steps"))
    out = []
    for (steps,), members in grids.group_by("_steps"):
        ids = members["_series"].to_list()
        sub = data.filter(pl.col("_series").is_in(ids)).sort("_series", "step")
        matrix = sub[value].to_numpy().reshape(len(ids), len(steps)).astype(np.float64)
        ordered_ids = sub["_series"].unique(maintain_order=True).to_list()
        tau, p = term_stats.mann_kendall(matrix)
        slope = term_stats.theil_sen(matrix, np.asarray(steps, np.float64))
        out.append(pl.DataFrame({
            "_series": ordered_ids, "steps": [len(steps)] * len(ids),
            "first_value": matrix[:, 0], "last_value": matrix[:, -1],
            "tau": tau, "trend_p": p, "slope": slope,
        }, schema_overrides={"_series": pl.UInt32}))
    stats = pl.concat(out) if out else pl.DataFrame(schema={"_series": pl.UInt32})
    res = order.join(stats, on="_series", how="left").sort("_series").drop("_series")
    return res.with_columns(
        (pl.col("slope") * 1000).alias("slope_per_1k_steps"),
        pl.when(pl.col("trend_p") < alpha).then(
            pl.when(pl.col("tau") > 0).then(pl.lit("rising")).otherwise(pl.lit("falling"))
        ).otherwise(pl.lit("flat")).alias("direction"),
    ).with_columns(pl.col("tau", "trend_p", "slope", "slope_per_1k_steps").fill_nan(None))


# --------------------------------------------------------------------------------------------
# Two runs, step by step
# --------------------------------------------------------------------------------------------
def compare_runs(store: Store, terms: Iterable[str | TermSpec], runs: Sequence[str],
                 environment: str | None = None, scope: str = "reasoning",
                 watchlist: Watchlist | str | Path | None = None, *, case_sensitive: bool = False,
                 normalize: str = "tokens"):
    """Two runs lined up step by step for each term: the measure (rate_per_1k or doc_fraction)
    and its 95% interval in each run, their difference (b − a) and a 95% interval of the
    difference by MOVER (Zou & Donner 2008: the two runs' own intervals combined, which for
    proportions is Newcombe's hybrid score interval). Steps only one run has get nulls on the
    other side. Columns: :data:`COMPARE_COLUMNS`.
    """
    import polars as pl

    pair = list(dict.fromkeys(runs))
    if len(pair) != 2:
        raise InputError(f"compare needs exactly two different runs (got {len(pair)}: {', '.join(pair) or 'none'}); "
                         "give --run A --run B")
    value, lo, hi = _check_measure(normalize)
    rates = term_rates(store, terms, run=pair, environment=environment, scope=scope, watchlist=watchlist,
                       case_sensitive=case_sensitive)
    order = rates.select("term").unique(maintain_order=True).with_row_index("_order")

    def side(name: str, suffix: str):
        return rates.filter(pl.col("run") == name).select(
            "term", "step", pl.col(value).alias(f"value_{suffix}"), pl.col(lo).alias(f"lo_{suffix}"),
            pl.col(hi).alias(f"hi_{suffix}"))

    df = side(pair[0], "a").join(side(pair[1], "b"), on=["term", "step"], how="full", coalesce=True)
    a, la, ua = (df[c].to_numpy().astype(np.float64) for c in ("value_a", "lo_a", "hi_a"))
    b, lb, ub = (df[c].to_numpy().astype(np.float64) for c in ("value_b", "lo_b", "hi_b"))
    with np.errstate(invalid="ignore"):
        diff = b - a
        d_lo = diff - np.sqrt((b - lb) ** 2 + (ua - a) ** 2)
        d_hi = diff + np.sqrt((ub - b) ** 2 + (a - la) ** 2)
    df = df.with_columns(
        pl.lit(value).alias("measure"), pl.lit(pair[0]).alias("run_a"), pl.lit(pair[1]).alias("run_b"),
        pl.Series("difference", diff).fill_nan(None), pl.Series("difference_lo", d_lo).fill_nan(None),
        pl.Series("difference_hi", d_hi).fill_nan(None))
    return df.join(order, on="term").sort("_order", "step").select(COMPARE_COLUMNS)
