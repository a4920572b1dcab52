"""Helpers for the scale-out tests (shards, jobs, engines): tiny stores and comparable tables."""

from __future__ import annotations

import json
import time
from pathlib import Path

from analytics.ingest import ingest_paths
from analytics.shard_terms import TermPartials
from analytics.store import Store

#: Per-transcript and per-cell term tables keyed by (run, transcript id), never by pk or order.
TABLE_QUERIES = {
    "doc_terms": "select t.run, t.id, d.scope, d.term, d.n from doc_terms d "
                 "join transcripts t on t.pk = d.transcript_pk order by all",
    "doc_tokens": "select t.run, t.id, d.scope, d.tokens from doc_tokens d "
                  "join transcripts t on t.pk = d.transcript_pk order by all",
    "step_term_counts": "select run, step, environment, scope, term, sum(occurrences), sum(docs_with_term), "
                        "sum(sum_n2), sum(sum_n_tokens) from step_term_counts group by all order by all",
    "step_token_counts": "select run, step, environment, scope, sum(transcripts), sum(docs), sum(tokens), "
                         "sum(sum_tokens2) from step_token_counts group by all order by all",
    "transcripts": "select run, id, step, environment, epoch, covert_action, score, metadata::varchar, "
                   "content_hash from transcripts order by all",
    "segments": "select t.run, t.id, s.ordinal, s.role, s.kind, s.text, s.redacted from segments s "
                "join transcripts t on t.pk = s.transcript_pk order by all",
}


def term_tables(db: Path) -> dict[str, list[tuple]]:
    with Store.open(db) as store:
        return {name: store.rows(q) for name, q in TABLE_QUERIES.items()}


def jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def ingest_store(db: Path, source: Path, *, count_terms: bool = True) -> Path:
    with Store.open(db, read_only=False) as store:
        ingest_paths(store, [source], count_terms=count_terms)
    return db


class SlowTermPartials(TermPartials):
    """The term kernel, slowed down so a test can kill the job between two batches."""

    def __call__(self, table, source):
        time.sleep(0.4)
        return super().__call__(table, source)
