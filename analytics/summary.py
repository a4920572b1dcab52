"""What is in the store: runs and single transcripts, as polars DataFrames; deleting a run.

>>> runs_summary(store)                          # doctest: +SKIP
>>> delete_run(store, "rl-7")                    # doctest: +SKIP
"""

from __future__ import annotations

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql


def runs_summary(store: Store):
    """One row per run: ``run, steps, environments, transcripts, reasoning_tokens``.

    Tokens follow the token contract (``cotwatch.analytics.terms.tokens``) and come from the
    materialized counts; :func:`cotwatch.analytics.terms.materialize.pending_note` says when some
    transcripts are not counted yet.
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


def quote_identifier(name: str) -> str:
    """A SQL identifier, double-quoted (the one place identifiers are put into SQL text here)."""
    return '"' + name.replace('"', '""') + '"'


def delete_run(store: Store, run: str):
    """Delete run ``run`` from every table of the store, in one transaction: its transcripts and
    segments, term counts and step sums, classifier scores and flags, labels, checkpoints and the
    run itself — every base table with a ``run`` or ``transcript_pk`` column (found in the
    catalog, so tables added by later migrations are covered). Shared data stays: the term
    vocabulary, the embedding cache (keyed by sentence text), the ledgers of ingested files and
    jobs. Returns a frame ``table, rows`` of what was deleted. Raises InputError for an unknown run.
    """
    import polars as pl

    if store.read_only:
        raise InputError(f"{store.path}: opened read-only; deleting a run writes")
    store.require_run(run)
    tables = store.rows(load_sql("runs_delete_tables"))
    deleted: dict[str, int] = {}
    with store.atomic() as con:
        store.script(load_sql("runs_delete_pks"), {"run": run})
        for schema, table, column in tables:
            target = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            if column == "transcript_pk":
                sql = f"delete from {target} where transcript_pk in (select pk from _delete_pks)"  # noqa: S608 - catalog names, quoted
                params: dict = {}
            else:
                sql = f"delete from {target} where run = $run"  # noqa: S608 - catalog names, quoted
                params = {"run": run}
            rows = con.execute(sql, params).fetchall()
            deleted[table] = deleted.get(table, 0) + (rows[0][0] if rows else 0)
        con.execute("drop table _delete_pks")
    return pl.DataFrame({"table": list(deleted), "rows": list(deleted.values())}).sort("table")
