"""Keyword/regex classifiers: the baseline the embedding model must beat, and the high-recall
first stage of the cascade.

The baseline scores a sentence ``1 - exp(-sum(weights of matching patterns))``: 0 when nothing
matches, approaching 1 as strong cues pile up. The recall lexicon is one big case-insensitive
alternation of broad stems; it only decides which sentences are worth a transformer pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from cotwatch.classifiers.spec import ClassifierSpec, Pattern


class Lexicon:
    """A weighted regex scorer plus a recall gate, both compiled once."""

    def __init__(self, baseline: Sequence[Pattern], recall: Sequence[str]):
        self.baseline = tuple(baseline)
        self.recall = tuple(recall)
        self._baseline = [(re.compile(p.pattern, re.IGNORECASE), p.weight) for p in self.baseline]
        self._recall = re.compile("|".join(f"(?:{p})" for p in self.recall), re.IGNORECASE)

    @classmethod
    def from_spec(cls, spec: ClassifierSpec) -> "Lexicon":
        return cls(spec.baseline, spec.recall)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Baseline score in [0, 1) for each text."""
        out = np.empty(len(texts), dtype=np.float64)
        for i, text in enumerate(texts):
            total = sum(w for rx, w in self._baseline if rx.search(text))
            out[i] = 1.0 - math.exp(-total)
        return out

    def candidates(self, texts: Sequence[str]) -> np.ndarray:
        """Boolean mask: does the recall lexicon match?"""
        search = self._recall.search
        return np.fromiter((search(t) is not None for t in texts), dtype=bool, count=len(texts))
