"""Sentence scores over Parquet shards, on any engine, merged into the store in one transaction.

The scoring kernel is a callable class: it loads the classifier artifact and its encoders once per
worker (a Ray actor, or a process of the single-node engine) and then, per batch of whole
transcripts, does what ``classify apply`` does per chunk — split the reasoning segments
(reasoning + reasoning_summary, not redacted) into sentences with
:func:`cotwatch.classifiers.sentences.split_many`, score each distinct sentence once through the cascade
(:meth:`cotwatch.classifiers.scoring.Scorer.score`), flag at the artifact's threshold. The merge registers
the artifact and writes ``classifier_sentences`` / ``classifier_transcripts`` with the apply's own
SQL, for transcripts that have no results for that artifact yet.

>>> apply_shards("runs.duckdb", "s3://lake/run=rl-7/**/*.parquet", engine="ray",
...              num_gpus=1, concurrency=4)                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.kinds import REASONING_KINDS
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
from cotwatch.analytics.scale.terms_job import default_partials
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.classifiers.decision import TranscriptDecision

KIND = "scores"
#: Sentence rows handed to one insert.
MERGE_ROWS = 2_000_000


def artifact_meta(art) -> dict:
    """What the store's classifier registry keeps about an artifact (JSON-serialisable)."""
    decision = art.decision.to_payload()
    decision["null_scores"] = [float(x) for x in decision["null_scores"]]
    return {"name": art.name, "version": art.version, "sha256": art.sha256,
            "embedding_model": art.embedding_model, "threshold": float(art.threshold), "card": art.card,
            "decision": decision}


class ScorePartials:
    """The scoring kernel: built once per worker, then ``(table, source) -> partials``.

    ``classifier``: artifact name or path, as ``classify apply`` takes it; ``sha256``: the
    artifact the driver saw (a worker that loads a different file refuses). ``scorer_factory``: a
    picklable zero-argument callable returning an object with ``artifact`` and ``score(texts, *,
    cascade, cache, hashes)`` (default: :class:`cotwatch.classifiers.scoring.Scorer`).

    Partials: ``rows`` (run, transcript_id, content_hash, source) and ``sentences`` (run,
    transcript_id, ordinal, sentence, start_char, end_char, stage, score, flagged).
    """

    def __init__(self, classifier: str = "eval_awareness", *, sha256: str | None = None, device: str = "auto",
                 encode_batch: int = 64, cascade: bool = True, scorer_factory=None, meta: dict | None = None):
        from cotwatch.classifiers.embeddings import MemoryCache

        if scorer_factory is not None:
            self.scorer = scorer_factory()
        else:
            from cotwatch.classifiers.scoring import Scorer

            self.scorer = Scorer(classifier, device=device, batch_size=encode_batch)
        found = self.scorer.artifact.sha256
        if sha256 is not None and found != sha256:
            raise InputError(f"classifier {classifier!r} on this worker is artifact {found[:12]}, the job was "
                             f"started with {sha256[:12]}: give workers the same artifact file")
        self.cascade = cascade
        self.cache = MemoryCache()

    def __call__(self, table, source: str) -> dict:
        import numpy as np
        import pyarrow as pa
        from cotwatch.analytics.scale.shards import content_hashes
        from cotwatch.classifiers.embeddings import text_hashes
        from cotwatch.classifiers.features import context_keys
        from cotwatch.classifiers.sentences import split_many

        runs = table.column("run").to_pylist()
        tids = table.column("transcript_id").to_pylist()
        seg_row, seg_ord, seg_text = [], [], []
        for row, segments in enumerate(table.column("segments").to_pylist()):
            ordered = sorted(segments, key=lambda s: (s["ordinal"] is None, s["ordinal"] or 0))
            for ordinal, seg in enumerate(ordered):  # the store renumbers ordinals from 0
                if seg["kind"] in REASONING_KINDS and not seg["redacted"]:
                    seg_row.append(row)
                    seg_ord.append(ordinal)
                    seg_text.append(seg["text"])
        idx, starts, ends, sents = split_many(seg_text)
        idx = np.asarray(idx, dtype=np.int64)
        scores = np.zeros(len(sents), dtype=np.float32)
        cand = np.zeros(len(sents), dtype=bool)
        if sents:
            hashes = text_hashes(sents)
            context = self.scorer.context(sents, idx)  # neighbour cues: a score depends on them too
            uniq, first, inverse = np.unique(context_keys(hashes, context), return_index=True, return_inverse=True)
            u_scores, u_cand = self.scorer.score([sents[i] for i in first], cascade=self.cascade, cache=self.cache,
                                                 hashes=hashes[first],
                                                 context=None if context is None else context[first])
            scores = np.asarray(u_scores, dtype=np.float32)[inverse.reshape(-1)]
            cand = np.asarray(u_cand, dtype=bool)[inverse.reshape(-1)]
        rows_of = np.asarray(seg_row, dtype=np.int64)[idx] if len(idx) else np.zeros(0, np.int64)
        sentences = pa.table({
            "run": pa.array([runs[i] for i in rows_of], pa.string()),
            "transcript_id": pa.array([tids[i] for i in rows_of], pa.string()),
            "ordinal": pa.array(np.asarray(seg_ord, dtype=np.int32)[idx] if len(idx) else np.zeros(0, np.int32), pa.int32()),
            "sentence": pa.array(sentence_numbers(idx), pa.int32()),
            "start_char": pa.array(np.asarray(starts, dtype=np.int32), pa.int32()),
            "end_char": pa.array(np.asarray(ends, dtype=np.int32), pa.int32()),
            "stage": pa.array(np.where(cand, 2, 1).astype(np.int8), pa.int8()),
            "score": pa.array(scores, pa.float32()),
            "flagged": pa.array(scores >= self.scorer.artifact.threshold, pa.bool_()),
        })
        rows = pa.table({"run": table.column("run"), "transcript_id": table.column("transcript_id"),
                         "content_hash": pa.array(content_hashes(table, source), pa.string()),
                         "source": pa.array([source] * table.num_rows, pa.string())})
        return {"rows": rows, "sentences": sentences}


def sentence_numbers(idx):
    """0, 1, 2, ... within each run of equal segment indices (``idx`` is sorted), as apply numbers them."""
    import numpy as np

    if len(idx) == 0:
        return np.zeros(0, dtype=np.int32)
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(idx)]))
    return (np.arange(len(idx)) - run_start).astype(np.int32)


def scores_spec(classifier: str = "eval_awareness", *, device: str = "auto", encode_batch: int = 64,
                batch_size: int = 500, cascade: bool = True, scorer_factory=None) -> KernelSpec:
    """The job spec: the artifact is resolved here (driver) and checked again on every worker."""
    if scorer_factory is not None:
        art = scorer_factory().artifact
    else:
        from cotwatch.classifiers.artifacts import load_artifact

        art = load_artifact(classifier)
    kwargs = {"classifier": classifier, "sha256": art.sha256, "device": device, "encode_batch": encode_batch,
              "cascade": cascade, "scorer_factory": scorer_factory, "meta": artifact_meta(art)}
    return KernelSpec(kind=KIND, kernel=ScorePartials, kwargs=kwargs, actors=True, batch_size=batch_size)


def merge_scores_job(store, job_dir: str | os.PathLike[str], *, merge_rows: int = MERGE_ROWS) -> MergeResult:
    """Merge a finished scores job into ``store`` in one transaction (the shard jobs' one merge
    skeleton, :func:`cotwatch.analytics.scale.jobs.merge_job`): registers the artifact, inserts
    transcripts the store lacks, and stores results for transcripts that have none for that
    artifact (others are skipped). A job already merged is a no-op."""
    from cotwatch.classifiers.applying import register

    meta = Job.load(job_dir, KIND).params.get("kernel", {}).get("meta")
    if not meta:
        raise InputError(f"{job_dir}: the manifest does not say which classifier artifact scored it")

    def prepare(store, job):
        cid = register(store, SimpleNamespace(**meta))
        return (cid, TranscriptDecision.from_payload(meta["decision"])), {"classifier_id": cid}

    return merge_job(store, job_dir, KIND, todo_sql="shard_scores_todo", sql_package=__package__,
                     rows_column="sentences_rows", merge_chunk=_merge_sentences, prepare=prepare,
                     merge_rows=merge_rows)


def _merge_sentences(store, job: Job, chunk: list[dict], context) -> None:
    """One chunk of a scores job's sentence partials into the store, with classify apply's own
    transcript decision and inserts."""
    import pyarrow as pa

    cid, decision = context
    con = store.con
    register_partials(con, "_p_sentences", job, "sentences", chunk)
    con.register("_p_chunk", pa.table({"part": [p["part"] for p in chunk]}))
    try:
        sentences = con.sql(load_sql("shard_scores_sentences", __package__), params={"classifier_id": cid}).to_arrow_table()
        pks = con.sql(load_sql("shard_scores_chunk", __package__)).to_arrow_table()
    finally:
        con.unregister("_p_sentences")
        con.unregister("_p_chunk")
    sentences, transcripts = _transcript_decision(sentences, pks, decision, cid)
    con.register("cw_sentences", sentences)
    con.register("cw_transcripts", transcripts)
    try:
        con.execute(load_sql("insert_sentences", __package__))
        con.execute(load_sql("insert_transcripts", __package__))
    finally:
        con.unregister("cw_sentences")
        con.unregister("cw_transcripts")


def _transcript_decision(sentences, pks, decision, classifier_id: int):
    """The transcript decision for the transcripts of a merged chunk, and the sentences' flags
    under it (a sentence is flagged inside a flagged transcript only), as classify apply does."""
    import numpy as np
    import pyarrow as pa

    from cotwatch.classifiers.applying import transcript_results

    sent_pk = sentences.column("transcript_pk").to_numpy()
    scores = sentences.column("score").to_numpy().astype(np.float64)
    results = transcript_results(pks.column("pk").to_numpy(), sent_pk, scores,
                                 sentences.column("stage").to_numpy() == 2, decision)
    flagged = (scores >= decision.sentence_threshold) & results.flag_of(sent_pk)
    sentences = sentences.set_column(sentences.schema.get_field_index("flagged"), "flagged", pa.array(flagged))
    return sentences, results.table(classifier_id)


ApplyShardsResult = ShardJobResult  # labelled with the classifier, merged transcripts "scored"


def apply_shards(db, input: str | os.PathLike[str], classifier: str = "eval_awareness", *, engine: str = "ray",
                 partials: str | os.PathLike[str] | None = None, keep_partials: bool = False, wait: float = 0.0,
                 device: str = "auto", encode_batch: int = 64, batch_size: int = 500, cascade: bool = True,
                 num_gpus: float | None = None, concurrency: int | None = None, num_cpus: float | None = None,
                 scorer_factory=None, **engine_options) -> ApplyShardsResult:
    """Score the reasoning sentences of the shards named by ``input`` and merge the results into
    the store ``db`` (a path or an open writable ``Store``), opened only for the merge.

    Ray: ``concurrency`` actors, each with ``num_gpus`` GPUs (fractions share one) and
    ``num_cpus`` CPUs (default 0.5 without GPUs: on a small machine, actors that hold a whole CPU
    each can leave none for reading, and the pool hangs).
    """
    spec = scores_spec(classifier, device=device, encode_batch=encode_batch, batch_size=batch_size,
                       cascade=cascade, scorer_factory=scorer_factory)
    if engine == "ray" and num_cpus is None and not num_gpus:
        num_cpus = 0.5
    return run_then_merge(
        db, lambda: run_job(spec, input, partials or default_partials(db), engine=engine, num_gpus=num_gpus,
                            concurrency=concurrency, num_cpus=num_cpus, **engine_options),
        merge_scores_job, wait=wait, keep_partials=keep_partials,
        label={"classifier": spec.kwargs["meta"]["name"]}, merged_as="scored")


def merge_any_job(store, job_dir: str | os.PathLike[str]) -> MergeResult:
    """Merge a finished job of either kind (terms or scores), as its manifest says. Lives here,
    not in ``analytics``, because scores belong to this layer."""
    from cotwatch.analytics.scale.terms_job import merge_terms_job

    kind = Job.load(job_dir).kind
    if kind == KIND:
        return merge_scores_job(store, job_dir)
    if kind == "terms":
        return merge_terms_job(store, job_dir)
    raise InputError(f"{job_dir}: unknown job kind {kind!r}")
