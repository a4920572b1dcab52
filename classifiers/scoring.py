"""Scoring sentences with a trained artifact, through the cascade.

Stage 1 (cheap, ~30k sentences/s): the recall lexicon OR the static-embedding model at its
high-recall threshold. Stage 2 (the transformer, ~150–700 sentences/s on 2 cores) scores only the
sentences stage 1 lets through. Sentences stopped at stage 1 score 0.0 (they can never be flagged).
``cascade=False`` scores everything with the transformer (used to measure what the cascade costs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from cotwatch.classifiers.artifacts import Artifact, load_artifact
from cotwatch.classifiers.embeddings import Encoder, StaticEncoder, embed, text_hashes
from cotwatch.classifiers.lexicon import Lexicon


class Scorer:
    """Holds an artifact and its encoders (loaded lazily) and scores texts."""

    def __init__(self, artifact: Artifact | str, device: str = "auto", batch_size: int = 64,
                 precision: str | None = None):
        self.artifact = load_artifact(artifact) if isinstance(artifact, str) else artifact
        self.lexicon = Lexicon(self.artifact.baseline, self.artifact.recall)
        self.encoder = Encoder(self.artifact.embedding_name, device=device, batch_size=batch_size, precision=precision,
                               tuned=self.artifact.tuned_layers, max_length=self.artifact.max_length)
        if self.encoder.id != self.artifact.embedding_model:
            from cotwatch.analytics.errors import InputError

            raise InputError(
                f"{self.artifact.path}: trained with embedding model {self.artifact.embedding_model!r} "
                f"but {self.encoder.id!r} is what loads here; retrain with `cotwatch classify train`"
            )
        self.static = StaticEncoder() if self.artifact.static_head is not None else None
        self.features = self.artifact.sentence_features()

    def context(self, texts: Sequence[str], doc=None) -> np.ndarray | None:
        """Neighbour cue bits for sentences in reading order (``doc``: which text each is from), or
        None when the head reads no context (:mod:`cotwatch.classifiers.features`)."""
        return self.features.context(texts, doc)

    @property
    def threshold(self) -> float:
        """The sentence threshold (a sentence in a flagged transcript scoring at least this is flagged)."""
        return self.artifact.threshold

    @property
    def decision(self):
        return self.artifact.decision

    def first_stage(self, texts: Sequence[str]) -> np.ndarray:
        """True where a sentence goes on to the transformer."""
        mask = self.lexicon.candidates(texts)
        if self.static is not None and (~mask).any():
            rest = np.flatnonzero(~mask)
            probs = self.artifact.static_head.predict_proba(self.static.encode([texts[i] for i in rest]))[:, 1]
            mask[rest[probs >= self.artifact.static_threshold]] = True
        return mask

    def score(self, texts: Sequence[str], *, cascade: bool = True, cache=None,
              progress: Callable[[int], None] | None = None,
              hashes: np.ndarray | None = None, doc=None,
              context: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, candidate mask). With ``cascade=False`` every text is a candidate.

        ``texts`` are sentences; give ``doc`` (the text each comes from, sentences in reading order)
        or a precomputed ``context`` when the head reads neighbours — without either every sentence
        is scored on its own."""
        texts = list(texts)
        n = len(texts)
        scores = np.zeros(n, dtype=np.float32)
        if n == 0:
            return scores, np.zeros(0, dtype=bool)
        if context is None and doc is not None:
            context = self.context(texts, doc)
        cand = self.first_stage(texts) if cascade else np.ones(n, dtype=bool)
        idx = np.flatnonzero(cand)
        if len(idx):
            sub_hashes = (hashes if hashes is not None else text_hashes(texts))[idx]
            chosen = [texts[i] for i in idx]
            E = embed(chosen, self.encoder, cache=cache, progress=progress, hashes=sub_hashes)
            X = self.features.matrix(E, chosen, None if context is None else context[idx])
            scores[idx] = self.artifact.head.predict_proba(X)[:, 1]
        return scores, cand


def read_texts_jsonl(source) -> tuple[list[str], list[str]]:
    """(ids, texts) from JSONL lines with ``id`` and ``text``; ``source`` is a path or ``-``/file object.

    A bad line raises ``InputError`` naming file, line and reason. A missing ``id`` defaults to the
    line number.
    """
    import io
    import json
    import sys
    from pathlib import Path

    from cotwatch.analytics.errors import InputError

    if source == "-" or source is None:
        fh, name = sys.stdin, "<stdin>"
    elif isinstance(source, io.IOBase):
        fh, name = source, getattr(source, "name", "<input>")
    else:
        path = Path(source)
        try:
            fh, name = path.open(encoding="utf-8"), str(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    ids: list[str] = []
    texts: list[str] = []
    try:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(rec, dict):
                raise InputError(f"{name}:{number}: expected an object with 'text'")
            text = rec.get("text")
            if not isinstance(text, str):
                raise InputError(f"{name}:{number}: 'text' must be a string")
            ident = rec.get("id", number)
            if not isinstance(ident, (str, int)) or isinstance(ident, bool):
                raise InputError(f"{name}:{number}: 'id' must be a string or an integer")
            ids.append(str(ident))
            texts.append(text)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason})") from exc
    finally:
        if fh is not sys.stdin and not isinstance(source, io.IOBase):
            fh.close()
    return ids, texts


def score_texts(texts: Sequence[str], ids: Sequence[str] | None = None, *, classifier: str = "eval_awareness",
                cascade: bool = True, split: bool = True, device: str = "auto", batch_size: int = 64,
                scorer: Scorer | None = None):
    """Score texts: a polars frame ``id, sentences, score, transcript_score, label``.

    With ``split`` (default) each text is a transcript: it is cut into sentences, ``score`` is its
    highest sentence score, ``transcript_score`` the length-aware score of the transcript decision
    (:mod:`cotwatch.classifiers.decision`) and ``label`` that decision (1 = flagged). Without
    ``split`` each text is one sentence and ``label`` is ``score >= threshold``.

    >>> score_texts(["ok. hmm, this smells like an alignment eval"])    # doctest: +SKIP
    """
    import polars as pl
    from cotwatch.classifiers.sentences import split_many

    texts = list(texts)
    ids = [str(i) for i in (ids if ids is not None else range(1, len(texts) + 1))]
    if len(ids) != len(texts):
        from cotwatch.analytics.errors import InputError

        raise InputError(f"{len(ids)} ids for {len(texts)} texts")
    scorer = scorer or Scorer(classifier, device=device, batch_size=batch_size)
    if split:
        idx, _, _, units = split_many(texts)
    else:
        idx, units = list(range(len(texts))), texts
    unit_scores, _ = scorer.score(units, cascade=cascade, doc=idx if split else None)
    idx_arr = np.asarray(idx, dtype=np.int64)
    scores = np.zeros(len(texts), dtype=np.float64)
    counts = np.bincount(idx_arr, minlength=len(texts)) if len(units) else np.zeros(len(texts), dtype=np.int64)
    if len(units):
        np.maximum.at(scores, idx_arr, unit_scores.astype(np.float64))
    decision = scorer.decision
    if split:
        transcript = decision.scores(scores, counts)
        label = decision.flags(scores, counts)
    else:
        transcript = scores.copy()
        label = scores >= scorer.threshold
    return pl.DataFrame({
        "id": ids,
        "sentences": counts.astype(np.int64),
        "score": scores,
        "transcript_score": transcript,
        "label": label.astype(np.int8),
    })
