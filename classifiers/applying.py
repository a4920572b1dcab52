"""``classify apply``: score every reasoning sentence of the store not yet scored, incrementally.

Work goes in chunks of transcripts; each chunk's sentence scores and per-transcript results are
written in one transaction, so an interrupted run keeps every finished chunk and re-running picks
up exactly where it stopped. Within a chunk, sentences are de-duplicated by text hash before
anything is scored, and the transformer's embeddings are cached in the store by
``(model, text hash)``: repeated sentences, re-runs and retrained heads on the same embedding
model cost no encoding. The cascade (see :mod:`cotwatch.classifiers.scoring`) keeps the transformer for
the few candidate sentences.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
from cotwatch.analytics.errors import InputError
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.classifiers.artifacts import Artifact, load_artifact
from cotwatch.classifiers.embeddings import StoreCache, progress_bar, text_hashes
from cotwatch.classifiers.features import context_keys
from cotwatch.classifiers.scoring import Scorer
from cotwatch.classifiers.sentences import split_many


class CountingCache(StoreCache):
    """A store cache that counts hits and misses (for the summary and the benchmark)."""

    def __init__(self, store):
        super().__init__(store)
        self.hits = 0
        self.misses = 0

    def get(self, model, hashes):
        mask, vecs = super().get(model, hashes)
        self.hits += int(mask.sum())
        self.misses += int((~mask).sum())
        return mask, vecs


@dataclass
class ApplyStats:
    transcripts: int = 0
    sentences: int = 0
    unique_sentences: int = 0   # distinct (sentence, neighbour cues) scored: each is scored once per chunk
    candidates: int = 0         # of those, the ones the cascade's first stage passed
    encoded: int = 0            # distinct sentence texts the transformer encoded (the rest came from the cache)
    cache_hits: int = 0
    flagged_sentences: int = 0
    flagged_transcripts: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)


def register(store, art: Artifact) -> int:
    """The registry id of ``art`` in ``store`` (registering it on first use)."""
    params = {"name": art.name, "sha256": art.sha256}
    store.con.execute(load_sql("register_classifier", __package__), {
        **params, "version": art.version, "embedding_model": art.embedding_model,
        "threshold": art.threshold, "card": json.dumps(art.card, sort_keys=True),
    })
    return int(store.rows(load_sql("classifier_id", __package__), params)[0][0])


def apply(store, classifier: str = "eval_awareness", *, run: str | None = None, device: str = "auto",
          batch_size: int = 64, chunk_transcripts: int = 2000, rescore: bool = False, cascade: bool = True,
          progress: bool = False, scorer: Scorer | None = None) -> ApplyStats:
    """Score pending reasoning sentences of ``run`` (every run when None) and store the results.

    >>> with Store.open("runs.duckdb", read_only=False) as store:     # doctest: +SKIP
    ...     stats = apply(store, "eval_awareness", run="demo-rl")
    """
    import pyarrow as pa

    if store.read_only:
        raise InputError(f"{store.path}: classify apply writes results; open the store for writing")
    started = time.perf_counter()
    if run is not None:
        store.require_run(run)
    scorer = scorer or Scorer(load_artifact(classifier), device=device, batch_size=batch_size)
    art = scorer.artifact
    with store.atomic():
        cid = register(store, art)
    if rescore:
        with store.atomic():
            store.con.execute(load_sql("delete_sentences", __package__), {"classifier_id": cid, "run": run})
            store.con.execute(load_sql("delete_transcripts", __package__), {"classifier_id": cid, "run": run})
    pending = np.array([r[0] for r in store.rows(load_sql("pending_transcripts", __package__),
                                                 {"run": run, "classifier_id": cid})], dtype=np.int64)
    stats = ApplyStats()
    cache = CountingCache(store)
    timers = {"split": 0.0, "score": 0.0, "write": 0.0, "read": 0.0}
    with progress_bar(progress, len(pending), f"{art.name}: transcripts") as tick:
        for lo in range(0, len(pending), chunk_transcripts):
            chunk = pending[lo:lo + chunk_transcripts]
            t0 = time.perf_counter()
            store.con.register("cw_chunk", pa.table({"pk": pa.array(chunk, pa.int64())}))
            try:
                segs = store.con.sql(load_sql("chunk_segments", __package__)).to_arrow_table()
                seg_pk = segs.column("transcript_pk").to_numpy()
                seg_ord = segs.column("ordinal").to_numpy()
                seg_text = segs.column("text").to_pylist()
                t1 = time.perf_counter()
                idx, starts, ends, sents = split_many(seg_text)
                idx = np.asarray(idx, dtype=np.int64)
                hashes = text_hashes(sents)
                context = scorer.context(sents, idx)  # neighbour cues: a score depends on them too
                uniq, first, inverse = np.unique(context_keys(hashes, context), return_index=True, return_inverse=True)
                t2 = time.perf_counter()
                u_scores, u_cand = scorer.score([sents[i] for i in first], cascade=cascade, cache=cache,
                                                hashes=hashes[first], context=None if context is None else context[first])
                scores = u_scores[inverse.reshape(-1)]
                cand = u_cand[inverse.reshape(-1)]
                sent_pk = seg_pk[idx] if len(idx) else np.zeros(0, np.int64)
                transcripts = transcript_results(chunk, sent_pk, scores, cand, scorer.decision)
                flagged = (scores >= art.threshold) & transcripts.flag_of(sent_pk)
                sentence_no = _sentence_numbers(idx)
                t3 = time.perf_counter()
                table = pa.table({
                    "classifier_id": pa.array(np.full(len(sents), cid, dtype=np.int32)),
                    "transcript_pk": pa.array(sent_pk, pa.int64()),
                    "ordinal": pa.array(seg_ord[idx] if len(idx) else np.zeros(0, np.int32), pa.int32()),
                    "sentence": pa.array(sentence_no, pa.int32()),
                    "start_char": pa.array(np.asarray(starts, dtype=np.int32), pa.int32()),
                    "end_char": pa.array(np.asarray(ends, dtype=np.int32), pa.int32()),
                    "stage": pa.array(np.where(cand, 2, 1).astype(np.int8), pa.int8()),
                    "score": pa.array(scores.astype(np.float32), pa.float32()),
                    "flagged": pa.array(flagged, pa.bool_()),
                })
                store.con.register("cw_sentences", table)
                store.con.register("cw_transcripts", transcripts.table(cid))
                with store.atomic():
                    store.con.execute(load_sql("insert_sentences", __package__))
                    store.con.execute(load_sql("insert_transcripts", __package__))
                t4 = time.perf_counter()
            finally:
                for name in ("cw_chunk", "cw_sentences", "cw_transcripts"):
                    try:
                        store.con.unregister(name)
                    except Exception:  # not registered when the chunk failed early
                        pass
            timers["read"] += t1 - t0
            timers["split"] += t2 - t1
            timers["score"] += t3 - t2
            timers["write"] += t4 - t3
            stats.transcripts += len(chunk)
            stats.sentences += len(sents)
            stats.unique_sentences += len(uniq)
            stats.candidates += int(u_cand.sum())
            stats.flagged_sentences += int(flagged.sum())
            stats.flagged_transcripts += int(transcripts.flagged.sum())
            if tick:
                tick(len(chunk))
    stats.encoded = cache.misses
    stats.cache_hits = cache.hits
    stats.seconds = time.perf_counter() - started
    stats.stage_seconds = timers
    return stats


class TranscriptResults:
    """Per-transcript results of one chunk (every transcript of the chunk, with or without reasoning)."""

    def __init__(self, pks, n_sentences, n_candidates, max_score, transcript_score, flagged, n_flagged):
        self.pks, self.n_sentences, self.n_candidates = pks, n_sentences, n_candidates
        self.max_score, self.transcript_score, self.flagged, self.n_flagged = max_score, transcript_score, flagged, n_flagged

    def flag_of(self, sentence_pks: np.ndarray) -> np.ndarray:
        """Whether the transcript of each sentence is flagged."""
        return self.flagged[np.searchsorted(self.pks, sentence_pks)] if len(sentence_pks) else np.zeros(0, bool)

    def table(self, classifier_id: int):
        import pyarrow as pa

        return pa.table({
            "classifier_id": pa.array(np.full(len(self.pks), classifier_id, dtype=np.int32)),
            "transcript_pk": pa.array(self.pks, pa.int64()),
            "n_sentences": pa.array(self.n_sentences.astype(np.int32)),
            "n_candidates": pa.array(self.n_candidates.astype(np.int32)),
            "max_score": pa.array(self.max_score.astype(np.float32), mask=self.n_sentences == 0),
            "flagged": pa.array(self.flagged, pa.bool_()),
            "n_flagged": pa.array(self.n_flagged.astype(np.int32)),
            "transcript_score": pa.array(self.transcript_score.astype(np.float64)),
        })


def transcript_results(chunk_pks: np.ndarray, sent_pk: np.ndarray, scores: np.ndarray, candidate: np.ndarray,
                       decision) -> TranscriptResults:
    """The transcript decision for every transcript of a chunk from its sentences' scores."""
    pks = np.sort(np.asarray(chunk_pks, dtype=np.int64))
    at = np.searchsorted(pks, sent_pk)
    n = np.bincount(at, minlength=len(pks)) if len(sent_pk) else np.zeros(len(pks), np.int64)
    n_cand = np.bincount(at, weights=candidate.astype(np.float64), minlength=len(pks)).astype(np.int64) \
        if len(sent_pk) else np.zeros(len(pks), np.int64)
    max_score = np.full(len(pks), -np.inf)
    if len(sent_pk):
        np.maximum.at(max_score, at, scores.astype(np.float64))
    max_score = np.where(n > 0, max_score, 0.0)
    t_score = decision.scores(max_score, n)
    flagged = decision.flags(max_score, n) & (n > 0)
    hits = (scores >= decision.sentence_threshold) & flagged[at] if len(sent_pk) else np.zeros(0, bool)
    n_flagged = np.bincount(at[hits], minlength=len(pks)) if hits.any() else np.zeros(len(pks), np.int64)
    return TranscriptResults(pks, n, n_cand, max_score, t_score, flagged, n_flagged)


def _sentence_numbers(idx: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal segment indices (idx is sorted)."""
    if len(idx) == 0:
        return np.zeros(0, dtype=np.int32)
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(idx)]))
    return (np.arange(len(idx)) - run_start).astype(np.int32)


def apply_summary(stats: ApplyStats, classifier: str, run: str | None):
    import polars as pl

    rate = stats.sentences / stats.seconds if stats.seconds > 0 else float("nan")
    return pl.DataFrame([{
        "classifier": classifier, "run": run or "(all)", "transcripts": stats.transcripts,
        "sentences": stats.sentences, "unique_sentences": stats.unique_sentences,
        "candidates": stats.candidates, "encoded": stats.encoded, "cache_hits": stats.cache_hits,
        "flagged_sentences": stats.flagged_sentences, "flagged_transcripts": stats.flagged_transcripts,
        "seconds": round(stats.seconds, 3), "sentences_per_s": round(rate, 1),
    }])
