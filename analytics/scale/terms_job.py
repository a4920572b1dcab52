"""Term counts over Parquet shards, on any engine, merged into the store in one transaction.

The kernel is :func:`cotwatch.analytics.terms.materialize.count_kernel` — the very function the single-node
``materialize`` runs — applied to each batch of whole transcripts; batch row indices stand in
for store pks, and the partials carry ``(run, transcript_id)`` instead. The merge maps them to
store pks (inserting transcripts the store lacks through the ingest's path), skips transcripts
that are already counted, and appends the rest with :func:`cotwatch.analytics.terms.materialize.merge_partials`.

>>> from cotwatch.analytics.scale.terms_job import materialize_shards
>>> materialize_shards("runs.duckdb", "s3://lake/rollouts/run=rl-7/**/*.parquet", engine="ray")
"""

from __future__ import annotations

import os

from cotwatch.analytics.scale.jobs import (
    Job,
    KernelSpec,
    MergeResult,
    ShardJobResult,
    merge_job,
    register_partials,
    run_job,
    run_then_merge,
)
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql

KIND = "terms"
#: doc_terms rows handed to one ``merge_partials`` call.
MERGE_ROWS = 4_000_000


class TermPartials:
    """The term kernel over a conformed shard batch → ``rows``, ``terms``, ``tokens`` partials.

    rows: (run, transcript_id, content_hash, source); terms: (run, transcript_id, scope, term, n);
    tokens: (run, transcript_id, scope, tokens).
    """

    def __call__(self, table, source: str) -> dict:
        import pyarrow as pa
        import pyarrow.compute as pc
        from cotwatch.analytics.scale.shards import content_hashes, kernel_input
        from cotwatch.analytics.terms.materialize import count_kernel

        doc_terms, doc_tokens = count_kernel(kernel_input(table))
        run, tid = table.column("run"), table.column("transcript_id")

        def keyed(out, columns):
            index = out.column("transcript_pk")
            return pa.table({"run": pc.take(run, index), "transcript_id": pc.take(tid, index),
                             **{c: out.column(c) for c in columns}})

        rows = pa.table({"run": run, "transcript_id": tid,
                         "content_hash": pa.array(content_hashes(table, source), pa.string()),
                         "source": pa.array([source] * table.num_rows, pa.string())})
        return {"rows": rows, "terms": keyed(doc_terms, ("scope", "term", "n")),
                "tokens": keyed(doc_tokens, ("scope", "tokens"))}


def terms_spec(batch_size: int = 4000) -> KernelSpec:
    return KernelSpec(kind=KIND, kernel=TermPartials, batch_size=batch_size)


def run_terms_job(input: str | os.PathLike[str], partials: str | os.PathLike[str], *, engine: str = "duckdb",
                  batch_size: int = 4000, **engine_options) -> Job:
    """Count terms over the shards named by ``input``; partials only (no store). See
    :func:`cotwatch.analytics.scale.jobs.run_job` for the engine options."""
    return run_job(terms_spec(batch_size), input, partials, engine=engine, **engine_options)


def merge_terms_job(store: Store, job_dir: str | os.PathLike[str], *, merge_rows: int = MERGE_ROWS) -> MergeResult:
    """Merge a finished terms job into ``store`` in one transaction (:func:`merge_job`). A job
    already merged is a no-op (``already_merged``); transcripts already counted are skipped,
    never counted twice; per-cell sums go through the same merger as ``materialize``."""
    return merge_job(store, job_dir, KIND, todo_sql="shard_terms_todo", rows_column="terms_rows",
                     merge_chunk=_merge_counts, merge_rows=merge_rows)


def _merge_counts(store: Store, job: Job, chunk: list[dict], context=None) -> None:
    from cotwatch.analytics.terms.materialize import merge_partials

    con = store.con
    register_partials(con, "_p_terms", job, "terms", chunk)
    register_partials(con, "_p_tokens", job, "tokens", chunk)
    try:
        doc_terms = con.sql(load_sql("shard_terms_doc_terms")).to_arrow_table()
        doc_tokens = con.sql(load_sql("shard_terms_doc_tokens")).to_arrow_table()
    finally:
        con.unregister("_p_terms")
        con.unregister("_p_tokens")
    if doc_tokens.num_rows:
        merge_partials(store, doc_terms, doc_tokens)


MaterializeResult = ShardJobResult  # counts merged are called "counted" (materialize_shards)


def default_partials(db) -> str:
    """``<store>.jobs`` beside the store file."""
    from cotwatch.analytics.store.database import resolve_db_path

    path = db.path if isinstance(db, Store) else resolve_db_path(db)
    return f"{os.path.abspath(path)}.jobs"


def materialize_shards(db, input: str | os.PathLike[str], *, engine: str = "duckdb",
                       partials: str | os.PathLike[str] | None = None, keep_partials: bool = False,
                       wait: float = 0.0, batch_size: int = 4000, **engine_options) -> MaterializeResult:
    """Count terms of the shards named by ``input`` with ``engine`` and merge them into the store
    ``db`` (a path, or an open writable ``Store``). The store is opened for writing only for the
    merge, so readers (and other writers) are not held up while the job runs. Partials go to
    ``partials`` (default ``<store>.jobs``) and are deleted after the merge unless
    ``keep_partials``."""
    return run_then_merge(
        db, lambda: run_terms_job(input, partials or default_partials(db), engine=engine, batch_size=batch_size,
                                  **engine_options),
        merge_terms_job, wait=wait, keep_partials=keep_partials, merged_as="counted")
