"""Helpers for the scale-out tests (shards, jobs, engines): tiny stores and comparable tables."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.scale.terms_job import TermPartials
from cotwatch.analytics.store.database import Store

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


class KeywordScorer:
    """A deterministic stand-in for the embedding classifier (no model load): sentences naming an
    evaluation or a test score 0.9, ones naming the grader pass the first stage at 0.2, the rest
    stop at the first stage (0). Same interface as ``cotwatch.classifiers.scoring.Scorer``."""

    def __init__(self):
        from types import SimpleNamespace

        import numpy as np
        from cotwatch.classifiers.decision import TranscriptDecision

        # the transcript decision classify apply and the shard merge both apply: a null of clean
        # sentences scoring 0-0.4, so one 0.9 sentence flags a transcript of a few sentences
        self.decision = TranscriptDecision(sentence_threshold=0.5, alpha=0.05, null_scores=np.linspace(0.0, 0.4, 20000))
        self.artifact = SimpleNamespace(name="eval_awareness", version="kw-1", sha256="keyword-scorer-1",
                                        embedding_model="keywords", threshold=0.5, card={"keyword": True},
                                        decision=self.decision)

    def context(self, texts, doc=None):  # a rule reads no neighbours
        return None

    def score(self, texts, *, cascade=True, cache=None, hashes=None, progress=None, doc=None, context=None):
        import re

        import numpy as np

        aware = re.compile(r"\b(evaluation|evaluated|being tested|a test)\b", re.I)
        scores = np.array([0.9 if aware.search(t) else 0.2 if "grader" in t.lower() else 0.0 for t in texts],
                          dtype=np.float32)
        return scores, scores > 0


SCORE_QUERIES = {
    "classifier_sentences": "select t.run, t.id, s.ordinal, s.sentence, s.start_char, s.end_char, s.stage, s.score, "
                            "s.flagged, r.name, r.version, r.artifact_sha256 from classifier_sentences s "
                            "join transcripts t on t.pk = s.transcript_pk "
                            "join classifier_registry r using (classifier_id) order by all",
    "classifier_transcripts": "select t.run, t.id, c.n_sentences, c.n_candidates, c.max_score, c.flagged, c.n_flagged, "
                              "r.name, r.artifact_sha256 from classifier_transcripts c "
                              "join transcripts t on t.pk = c.transcript_pk "
                              "join classifier_registry r using (classifier_id) order by all",
    "classifier_registry": "select name, version, artifact_sha256, embedding_model, threshold, card::varchar "
                           "from classifier_registry order by all",
}


def score_tables(db: Path) -> dict[str, list[tuple]]:
    with Store.open(db) as store:
        return {name: store.rows(q) for name, q in SCORE_QUERIES.items()}


def apply_single_node(db: Path) -> Path:
    """Score ``db`` through the real ``classify apply`` with the keyword scorer."""
    import warnings

    from cotwatch.classifiers.applying import apply

    with Store.open(db, read_only=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        apply(store, "eval_awareness", scorer=KeywordScorer())
    return db
