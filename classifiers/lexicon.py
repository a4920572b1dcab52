"""Keyword/regex classifiers: the baseline the embedding model must beat, and the high-recall
first stage of the cascade.

The baseline scores a sentence ``1 - exp(-sum(weights of matching patterns))``: 0 when nothing
matches, approaching 1 as strong cues pile up. The recall lexicon is one big case-insensitive
alternation of broad stems; it only decides which sentences are worth a transformer pass.

Patterns come from specs and from artifacts — files a user may have been sent — so they run on
the bounded engine of :mod:`cotwatch.analytics.regexes` (RE2: linear time, no backtracking); a
pattern it cannot bound is refused when the spec or artifact is loaded (exit 6), never mid-run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cotwatch.analytics.errors import SpecError
from cotwatch.analytics.regexes import compile_bounded
from cotwatch.classifiers.spec import ClassifierSpec, Pattern


class Lexicon:
    """A weighted regex scorer plus a recall gate, both compiled (and checked) once."""

    def __init__(self, baseline: Sequence[Pattern], recall: Sequence[str], *, where: str = "lexicon"):
        self.baseline = tuple(baseline)
        self.recall = tuple(recall)
        self._baseline = [(compile_bounded(p.pattern, ignore_case=True, where=f"{where}: baseline[{i}]",
                                           error=SpecError), p.weight) for i, p in enumerate(self.baseline)]
        self._recall = compile_bounded("|".join(f"(?:{p})" for p in self.recall), ignore_case=True,
                                       where=f"{where}: recall", error=SpecError) if self.recall else None

    @classmethod
    def from_spec(cls, spec: ClassifierSpec) -> "Lexicon":
        return cls(spec.baseline, spec.recall, where=str(spec.path))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Baseline score in [0, 1) for each text."""
        total = np.zeros(len(texts), dtype=np.float64)
        for rx, weight in self._baseline:
            total += weight * rx.search_many(texts)
        return 1.0 - np.exp(-total)

    def candidates(self, texts: Sequence[str]) -> np.ndarray:
        """Boolean mask: does the recall lexicon match?"""
        if self._recall is None:
            return np.zeros(len(texts), dtype=bool)
        return self._recall.search_many(texts)
