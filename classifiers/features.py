"""What the sentence head reads: the sentence's embedding, and (from 2.3) its lexicon cues and its
neighbours' lexicon cues.

A frozen MiniLM embedding blurs the few words that decide eval awareness ("test", "evaluated",
"too convenient") and sees one sentence at a time, while half of the eval-aware sentences in real
chain of thought lean on the sentence before or after ("Alternatively, maybe the alert is fake."
after "This could be a test."). Chosen by grouped cross-validation on the training side
(docs/classifiers.md, "Sentence features"), the head of ``eval_awareness`` 2.3 reads

* ``embedding``  — the sentence embedding (what every version reads);
* ``lexicon``    — one 0/1 column per pattern of the spec's lexicon (weighted baseline patterns,
  then recall stems): which cue words the sentence itself contains;
* ``neighbours`` — for the previous and next sentence of the same text, which baseline patterns
  and whether any recall stem match (the maximum of the two; 0 at the ends of a text and for a
  sentence given alone).

The lexicon columns need only the bounded regex engine (no transformer), so neighbour context
costs no extra encoding: cold scoring still embeds only the sentences the cascade lets through.
A score therefore depends on the sentence and on ``context`` (its neighbours' cue bits); callers
that deduplicate sentences deduplicate on both (:func:`context_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cotwatch.analytics.errors import SpecError
from cotwatch.analytics.regexes import compile_bounded, search_matrix

FEATURE_SETS = ("embedding", "lexicon", "neighbours")
DEFAULT_FEATURES = ("embedding",)


def check_features(names: Sequence[str], where: str) -> tuple[str, ...]:
    """The feature list of a spec or artifact, checked: known names, ``embedding`` first, no repeats."""
    names = tuple(names)
    unknown = [n for n in names if n not in FEATURE_SETS]
    if unknown or not names or names[0] != "embedding" or len(set(names)) != len(names):
        raise SpecError(f"{where}: features must start with 'embedding' and name each of "
                        f"{', '.join(FEATURE_SETS)} at most once (got {list(names)})")
    return names


class SentenceFeatures:
    """Builds the head's input matrix for a list of sentences (see the module docstring)."""

    def __init__(self, names: Sequence[str], baseline: Sequence, recall: Sequence[str], *, where: str = "features"):
        self.names = check_features(names, where)
        self._baseline = [compile_bounded(p.pattern, ignore_case=True, where=f"{where}: baseline[{i}]", error=SpecError)
                          for i, p in enumerate(baseline)]
        self._stems = [compile_bounded(p, ignore_case=True, where=f"{where}: recall[{i}]", error=SpecError)
                       for i, p in enumerate(recall)]
        self._any = (compile_bounded("|".join(f"(?:{p})" for p in recall), ignore_case=True,
                                     where=f"{where}: recall", error=SpecError) if recall else None)

    @property
    def uses_context(self) -> bool:
        return "neighbours" in self.names

    @property
    def context_width(self) -> int:
        return len(self._baseline) + 1 if self.uses_context else 0

    @property
    def extra_width(self) -> int:
        """Columns the head reads after the embedding."""
        lexicon = len(self._baseline) + len(self._stems) if "lexicon" in self.names else 0
        return lexicon + self.context_width

    def cues(self, texts: Sequence[str]) -> np.ndarray:
        """Per text: which baseline patterns match, and whether any recall stem matches (bool)."""
        regexes = self._baseline + ([self._any] if self._any is not None else [])
        out = search_matrix(regexes, texts)
        if self._any is None:
            out = np.hstack([out, np.zeros((len(texts), 1), dtype=bool)])
        return out

    def context(self, texts: Sequence[str], doc: Sequence[int] | np.ndarray | None = None) -> np.ndarray | None:
        """The neighbour cue bits of each sentence, ``texts`` in reading order with ``doc`` naming the
        text each comes from (None: every sentence on its own). None when the head reads no context."""
        if not self.uses_context:
            return None
        n = len(texts)
        out = np.zeros((n, self.context_width), dtype=bool)
        if n < 2 or doc is None:
            return out
        doc = np.asarray(doc)
        cues = self.cues(texts)
        same = doc[1:] == doc[:-1]                    # sentence i+1 follows sentence i in the same text
        out[1:][same] |= cues[:-1][same]              # previous sentence's cues
        out[:-1][same] |= cues[1:][same]              # next sentence's cues
        return out

    def context_of_neighbours(self, prev: Sequence[str], nxt: Sequence[str]) -> np.ndarray | None:
        """The same bits from the neighbours' texts themselves ("" = no neighbour): for labelled frames
        that carry ``prev``/``next`` columns."""
        if not self.uses_context:
            return None
        out = np.zeros((len(prev), self.context_width), dtype=bool)
        for col in (prev, nxt):
            col = list(col)
            have = np.flatnonzero([bool(t) for t in col])
            if len(have):
                out[have] |= self.cues([col[i] for i in have])
        return out

    def frame_context(self, frame) -> np.ndarray | None:
        """:meth:`context_of_neighbours` of a labelled corpus frame (columns ``prev``, ``next``)."""
        if not self.uses_context:
            return None
        return self.context_of_neighbours(frame["prev"].to_list(), frame["next"].to_list())

    def matrix(self, embeddings: np.ndarray, texts: Sequence[str], context: np.ndarray | None = None) -> np.ndarray:
        """The head's input for ``texts`` (rows aligned with ``embeddings`` and ``context``)."""
        parts = [np.asarray(embeddings, dtype=np.float32)]
        if "lexicon" in self.names:
            parts.append(search_matrix(self._baseline + self._stems, texts).astype(np.float32))
        if self.uses_context:
            if context is None:
                context = np.zeros((len(texts), self.context_width), dtype=bool)
            parts.append(np.asarray(context, dtype=np.float32))
        return parts[0] if len(parts) == 1 else np.hstack(parts)


def context_keys(hashes: np.ndarray, context: np.ndarray | None) -> np.ndarray:
    """One int64 key per sentence for deduplication: its text hash, mixed with its context bits
    when the head reads context (equal keys ⇒ equal scores)."""
    hashes = np.asarray(hashes, dtype=np.int64)
    if context is None or context.shape[1] == 0:
        return hashes
    bits = np.packbits(np.asarray(context, dtype=bool), axis=1, bitorder="little")
    code = np.zeros(len(hashes), dtype=np.uint64)
    for k in range(bits.shape[1]):
        code |= bits[:, k].astype(np.uint64) << np.uint64(8 * k)
    mixed = hashes.view(np.uint64) ^ (code * np.uint64(0x9E3779B97F4A7C15))
    return mixed.view(np.int64)
