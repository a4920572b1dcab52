"""What is in the store: runs and single transcripts, as polars DataFrames."""

from __future__ import annotations

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql


def runs_summary(store: Store):
    """One row per run: ``run, steps, environments, transcripts, reasoning_tokens``.

    Tokens follow the token contract (``cotwatch.analytics.terms.tokens``) and come from the materialized counts.
    """
    return store.frame(load_sql("runs_summary"))


def transcript_segments(store: Store, transcript_id: str, run: str | None = None):
    """Every segment of one transcript, in order. Raises InputError when the id is unknown or
    ambiguous across runs."""
    df = store.frame(load_sql("transcript_segments"), {"id": transcript_id, "run": run})
    if df.is_empty():
        where = f" in run {run!r}" if run else ""
        raise InputError(f"no transcript with id {transcript_id!r}{where}")
    runs = df["run"].unique().to_list()
    if len(runs) > 1:
        raise InputError(f"transcript id {transcript_id!r} exists in several runs ({', '.join(sorted(runs))}): pass --run")
    return df
