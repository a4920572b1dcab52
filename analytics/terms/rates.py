"""Term rates per checkpoint with intervals, and their trends.

Every series comes from the materialized counts (``analytics/terms/materialize.py``): single tokens from
the per-cell sums (``step_term_counts``), wildcards, regexes, groups and ``--scope all`` from the
per-transcript lists (``doc_term_lists``), so that a transcript with several matching tokens
counts once in ``docs_with_term``. Only :func:`kwic` (and discover's ``example``) read text, and
only of transcripts the counts say contain the term.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb") as store:                       # doctest: +SKIP
...     term_rates(store, ["autop", "disclaim*", "@o3_emergent"], run="rl-1")
...     discover_terms(store, run="rl-1", top=20)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.kinds import QUERY_SCOPES
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
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


def _check_scope(scope: str) -> tuple[str, ...]:
    if scope not in STORED_SCOPES:
        raise InputError(f"scope {scope!r}: expected one of {', '.join(STORED_SCOPES)}")
    return STORED_SCOPES[scope]


def _specs(terms: Iterable[str | TermSpec], watchlist: Watchlist | str | Path | None) -> list[TermSpec]:
    """Parse ``terms``; with none, every term of ``watchlist`` (a Watchlist or a TOML path; the
    shipped default watchlist when None)."""
    if watchlist is not None and not isinstance(watchlist, Watchlist):
        watchlist = load_watchlist(watchlist)
    specs, texts = [], []
    for t in terms or ():
        (specs if isinstance(t, TermSpec) else texts).append(t)
    specs += parse_terms(texts, watchlist)
    if not specs:  # no terms: every term of the watchlist (the shipped default when none is given)
        specs = (watchlist or load_watchlist()).all_terms()
    if not specs:
        raise InputError("no terms given and the watchlist is empty (name at least one TERM)")
    return specs


# --------------------------------------------------------------------------------------------
# Resolving specs against the counted vocabulary
# --------------------------------------------------------------------------------------------
def resolve_terms(store: Store, specs: Sequence[TermSpec]):
    """(label, term, term_id) for every counted token each spec matches (polars DataFrame).

    Tokens that were never counted have no row (their counts are zero).
    """
    import polars as pl

    rows: list[tuple[str, str, int]] = []
    all_vocab = None
    for spec in specs:
        leaves = spec.members if spec.kind == "group" else (spec,)
        found: dict[str, int] = {}
        tokens = [leaf.pattern for leaf in leaves if leaf.kind == "token"]
        if tokens:
            found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_exact"), {"terms": tokens})})
        for leaf in leaves:
            if leaf.kind == "wildcard":
                like = leaf.pattern.replace("*", "%")
                matcher = leaf.regex()
                found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_match"), {"like": like})
                              if matcher.match(term)})
            elif leaf.kind == "regex":
                if all_vocab is None:
                    all_vocab = store.rows(load_sql("term_vocab_all"))
                matcher = leaf.regex()
                found.update({term: tid for tid, term in all_vocab if matcher.search(term)})
        rows += [(spec.label, term, tid) for term, tid in sorted(found.items())]
    return pl.DataFrame(rows, schema={"label": pl.String, "term": pl.String, "term_id": pl.Int64}, orient="row")


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------
def _cells(store: Store, scope: str, run: str | None, environment: str | None):
    stored = _check_scope(scope)
    if len(stored) == 1:
        return store.frame(load_sql("term_cells"), {"scope": stored[0], "run": run, "environment": environment})
    return store.frame(load_sql("term_cells_docs"), {"scopes": list(stored), "run": run, "environment": environment})


def _label_sums(store: Store, matches, single: set[str], scope: str, run, environment):
    """Per (run, step, environment, label) sums: occurrences, docs_with_term, sum_n2, sum_n_tokens."""
    import polars as pl

    stored = STORED_SCOPES[scope]
    frames = []
    fast = matches.filter(pl.col("label").is_in(list(single))) if len(stored) == 1 else matches.clear()
    slow = matches.filter(~pl.col("label").is_in(fast["label"].unique().to_list()))
    con = store.con
    if fast.height:
        con.register("_labels", fast.select("label", "term").to_arrow())
        try:
            frames.append(store.frame(load_sql("term_cell_counts"),
                                      {"scope": stored[0], "run": run, "environment": environment}))
        finally:
            con.unregister("_labels")
    if slow.height:
        con.register("_labels", slow.select("label", "term_id").to_arrow())
        try:
            frames.append(store.frame(load_sql("term_doc_counts"), {
                "ids": slow["term_id"].unique().sort().to_list(), "scopes": list(stored),
                "run": run, "environment": environment}))
        finally:
            con.unregister("_labels")
    schema = {"run": pl.String, "step": pl.Int64, "environment": pl.String, "label": pl.String,
              "occurrences": pl.Int64, "docs_with_term": pl.Int64, "sum_n2": pl.Int64, "sum_n_tokens": pl.Int64}
    frames = [f.cast(schema) for f in frames]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def term_rates(store: Store, terms: Iterable[str | TermSpec], run: str | None = None,
               environment: str | None = None, by_environment: bool = False,
               scope: str = "reasoning", expand: bool = False, watchlist: Watchlist | str | Path | None = None):
    """One row per (run, step, term[, environment]): occurrences, tokens, rate_per_1k, docs,
    docs_with_term, doc_fraction (+ 95% Wilson interval) and a 95% cluster-robust rate interval.

    ``terms``: tokens, wildcards (``autop*``), regexes (``/^disclaim/``) or watchlist groups
    (``@name``, from ``watchlist`` — a Watchlist or TOML path — else the default watchlist);
    with no terms, every term of ``watchlist``. ``expand`` adds a row per token a wildcard/regex/group matched. ``run=None``
    reports every run. Intervals: see :func:`cotwatch.analytics.terms.stats.ratio_interval`.
    """
    import polars as pl

    specs = _specs(terms, watchlist)
    _check_scope(scope)
    if run is not None:
        store.require_run(run)
    cells = _cells(store, scope, run, environment)
    if cells.is_empty():
        where = f" in run {run!r}" if run else ""
        where += f" for environment {environment!r}" if environment else ""
        raise NothingToReport(f"no counted transcripts{where} (ingest some, or run `cotwatch terms materialize`)")
    matches = resolve_terms(store, specs)
    labels = [s.label for s in specs]
    single = {s.label for s in specs if s.is_single_token}
    if expand:
        members = matches.filter(~pl.col("label").is_in(list(single)))
        extra = members.select(pl.col("term").alias("label"), "term", "term_id").unique(maintain_order=True)
        extra = extra.filter(~pl.col("label").is_in(labels))
        matches = pl.concat([matches, extra])
        single |= set(extra["label"].to_list())
        labels += extra["label"].to_list()
    sums = _label_sums(store, matches, single, scope, run, environment)
    label_order = pl.DataFrame({"label": labels, "_order": list(range(len(labels)))},
                               schema={"label": pl.String, "_order": pl.Int64})
    grid = cells.join(label_order, how="cross")
    keys = ["run", "step", "environment", "label"]
    df = grid.join(sums, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col("occurrences", "docs_with_term", "sum_n2", "sum_n_tokens").fill_null(0)
    )
    if expand:  # expanded tokens that never occur in the selection are noise
        seen = df.group_by("label").agg(pl.col("occurrences").sum().alias("_total"))
        keep = set(seen.filter(pl.col("_total") > 0)["label"].to_list()) | {s.label for s in specs}
        df = df.filter(pl.col("label").is_in(list(keep)))
    group = ["run", "step", "label", "_order"] + (["environment"] if by_environment else [])
    sums_cols = ["occurrences", "docs_with_term", "sum_n2", "sum_n_tokens", "transcripts", "docs", "tokens", "sum_tokens2"]
    df = df.group_by(group).agg(pl.col(sums_cols).sum())
    df = _with_rate_stats(df)
    sort = ["_order", "run"] + (["environment"] if by_environment else []) + ["step"]
    columns = RATE_COLUMNS[:3] + (["environment"] if by_environment else []) + RATE_COLUMNS[3:]
    return df.sort(sort, nulls_last=True).rename({"label": "term"}).select(columns)


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
def term_trends(store: Store, terms: Iterable[str | TermSpec], run: str | None = None,
                environment: str | None = None, by_environment: bool = False,
                scope: str = "reasoning", expand: bool = False, watchlist: Watchlist | str | Path | None = None,
                alpha: float = 0.05):
    """Per (run, term[, environment]): the trend of rate_per_1k across steps.

    Columns: run, term[, environment], steps, first_rate, last_rate, tau, trend_p (Mann–Kendall,
    two-sided), slope (Theil–Sen, rate_per_1k per training step), slope_per_1k_steps, direction
    (rising / falling when trend_p < ``alpha``, else flat).
    """

    rates = term_rates(store, terms, run=run, environment=environment, by_environment=by_environment,
                       scope=scope, expand=expand, watchlist=watchlist)
    keys = ["run", "term"] + (["environment"] if by_environment else [])
    return series_trends(rates, keys, "rate_per_1k", alpha=alpha).rename(
        {"first_value": "first_rate", "last_value": "last_rate"})


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
