"""Word shift: which terms account for the change between two checkpoints (JSD contributions)."""

from __future__ import annotations

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms import stats as term_stats
from cotwatch.analytics.terms.filters import StopwordsArg, TermFilter, term_filter
from cotwatch.analytics.terms.rates import RunArg, _cells, _check_scope, runs_or_only

# --------------------------------------------------------------------------------------------
# Word shift
# --------------------------------------------------------------------------------------------
SHIFT_COLUMNS = ["term", "occurrences_from", "occurrences_to", "rate_from", "rate_to", "shift",
                 "jsd_contribution", "share", "direction"]


def word_shift(store: Store, run: RunArg = None, from_step: int | None = None, to_step: int | None = None,
               top: int = 20, scope: str = "reasoning", environment: str | None = None, *,
               script: str = "auto", min_length: int = 2, stopwords: StopwordsArg = None):
    """Which terms drive the difference between two checkpoints.

    Per term: occurrences and rate_per_1k at each step, shift = rate_to − rate_from (the
    proportion shift, per 1k tokens), jsd_contribution = its share (bits) of the Jensen–Shannon
    divergence between the two word distributions (contributions sum to the JSD), share of the
    JSD and direction (which step uses it more). Top ``top`` by jsd_contribution, after the
    ``script``/``min_length``/``stopwords`` filters of :mod:`~cotwatch.analytics.terms.filters`
    (which only hide terms from the ranking: the distributions, the JSD and the shares are over
    every token). With several runs, each run's shift (a ``run`` column tells them apart).
    """
    import polars as pl

    out = []
    for name in runs_or_only(store, run):
        steps = _run_steps(store, name, scope, environment)
        for label, s in (("--from", from_step), ("--to", to_step)):
            if s is None:
                raise InputError(f"word shift needs {label} STEP")
            if s not in steps:
                raise InputError(f"{label} {s}: run {name!r} has no counted step {s} (steps: {', '.join(map(str, steps))})")
        flt = _filter(store, name, scope, environment, script, min_length, stopwords)
        df = _shift_pairs(store, name, [(from_step, to_step)], top, scope, environment, flt)
        out.append(df.drop("from_step", "to_step", "jsd"))
    return pl.concat(out).select(["run"] + SHIFT_COLUMNS)


def chained_word_shift(store: Store, run: RunArg = None, top: int = 10, scope: str = "reasoning",
                       environment: str | None = None, *, script: str = "auto", min_length: int = 2,
                       stopwords: StopwordsArg = None):
    """:func:`word_shift` between every pair of consecutive steps: run, from_step, to_step, jsd (the
    pair's total) and the word-shift columns, ``top`` terms per pair."""
    import polars as pl

    out = []
    for name in runs_or_only(store, run):
        steps = _run_steps(store, name, scope, environment)
        if len(steps) < 2:
            raise NothingToReport(f"run {name!r} has {len(steps)} counted step(s); a chained shift needs 2")
        flt = _filter(store, name, scope, environment, script, min_length, stopwords)
        out.append(_shift_pairs(store, name, list(zip(steps[:-1], steps[1:])), top, scope, environment, flt))
    return pl.concat(out).select(["run", "from_step", "to_step", "jsd"] + SHIFT_COLUMNS)


def _filter(store: Store, run: str, scope: str, environment, script, min_length, stopwords) -> TermFilter:
    return term_filter(store, script=script, min_length=min_length, stopwords=stopwords, runs=[run],
                       scopes=_check_scope(scope), environment=environment)


def _run_steps(store: Store, run: str, scope: str, environment: str | None) -> list[int]:
    cells = _cells(store, scope, run, environment)
    if cells.is_empty():
        raise NothingToReport(f"no counted transcripts in run {run!r}")
    return sorted(set(cells["step"].to_list()))


def _shift_pairs(store: Store, run: str, pairs: list[tuple[int, int]], top: int, scope: str,
                 environment: str | None, flt: TermFilter):
    import polars as pl

    if top < 1:
        raise InputError("--top must be at least 1")
    stored = _check_scope(scope)
    steps = sorted({s for pair in pairs for s in pair})
    counts = store.frame(load_sql("term_step_occurrences"), {
        "run": run, "steps": steps, "scopes": list(stored), "environment": environment})
    totals = counts.group_by("step").agg(pl.col("occurrences").sum().alias("total"))
    counts = counts.join(totals, on="step")
    out = []
    for a, b in pairs:
        left = counts.filter(pl.col("step") == a).select("term", pl.col("occurrences").alias("occurrences_from"),
                                                          pl.col("total").alias("_ta"))
        right = counts.filter(pl.col("step") == b).select("term", pl.col("occurrences").alias("occurrences_to"),
                                                           pl.col("total").alias("_tb"))
        pair = left.join(right, on="term", how="full", coalesce=True).with_columns(
            pl.col("occurrences_from", "occurrences_to").fill_null(0))
        ta = float(totals.filter(pl.col("step") == a)["total"].sum())
        tb = float(totals.filter(pl.col("step") == b)["total"].sum())
        p = pair["occurrences_from"].to_numpy() / ta if ta else np.zeros(pair.height)
        q = pair["occurrences_to"].to_numpy() / tb if tb else np.zeros(pair.height)
        contrib = term_stats.jsd_contributions(p, q)
        jsd = float(contrib.sum())
        frame = pair.select("term", "occurrences_from", "occurrences_to").with_columns(
            pl.Series("rate_from", p * 1000), pl.Series("rate_to", q * 1000),
            pl.Series("shift", (q - p) * 1000), pl.Series("jsd_contribution", contrib),
            pl.Series("share", contrib / jsd if jsd > 0 else np.zeros(pair.height)),
            pl.Series("direction", np.where(q > p, "to", "from")),
        ).filter(flt.expression("term")).sort(["jsd_contribution", "term"], descending=[True, False]).head(top)
        out.append(frame.with_columns(pl.lit(run).alias("run"), pl.lit(a, pl.Int64).alias("from_step"),
                                      pl.lit(b, pl.Int64).alias("to_step"), pl.lit(jsd, pl.Float64).alias("jsd")))
    return pl.concat(out).select(["run", "from_step", "to_step", "jsd"] + SHIFT_COLUMNS)
