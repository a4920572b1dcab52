"""Scoring sentences with a trained artifact, through the cascade.

Stage 1 (cheap, ~30k sentences/s): the recall lexicon OR the static-embedding model at its
high-recall threshold. Stage 2 (the transformer, ~150–700 sentences/s on 2 cores) scores only the
sentences stage 1 lets through. Sentences stopped at stage 1 score 0.0 (they can never be flagged).
``cascade=False`` scores everything with the transformer (used to measure what the cascade costs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from classifiers.artifacts import Artifact, load_artifact
from classifiers.embeddings import Encoder, StaticEncoder, embed, text_hashes
from classifiers.lexicon import Lexicon


class Scorer:
    """Holds an artifact and its encoders (loaded lazily) and scores texts."""

    def __init__(self, artifact: Artifact | str, device: str = "auto", batch_size: int = 64):
        self.artifact = load_artifact(artifact) if isinstance(artifact, str) else artifact
        self.lexicon = Lexicon(self.artifact.baseline, self.artifact.recall)
        self.encoder = Encoder(self.artifact.embedding_name, device=device, batch_size=batch_size)
        if self.encoder.id != self.artifact.embedding_model:
            from analytics.errors import InputError

            raise InputError(
                f"{self.artifact.path}: trained with embedding model {self.artifact.embedding_model!r} "
                f"but {self.encoder.id!r} is what loads here; retrain with `cotwatch classify train`"
            )
        self.static = StaticEncoder() if self.artifact.static_head is not None else None

    @property
    def threshold(self) -> float:
        return self.artifact.threshold

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
              hashes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, candidate mask). With ``cascade=False`` every text is a candidate."""
        texts = list(texts)
        n = len(texts)
        scores = np.zeros(n, dtype=np.float32)
        if n == 0:
            return scores, np.zeros(0, dtype=bool)
        cand = self.first_stage(texts) if cascade else np.ones(n, dtype=bool)
        idx = np.flatnonzero(cand)
        if len(idx):
            sub_hashes = (hashes if hashes is not None else text_hashes(texts))[idx]
            E = embed([texts[i] for i in idx], self.encoder, cache=cache, progress=progress, hashes=sub_hashes)
            scores[idx] = self.artifact.head.predict_proba(E)[:, 1]
        return scores, cand
