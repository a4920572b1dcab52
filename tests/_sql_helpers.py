"""Fixtures for the SQL tests: a tiny store built through the real ingest from checked-in JSONL."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sql"
EXPECTED = FIXTURES / "expected"


def build_fixture_store(path: Path, *, with_classifiers: bool = True) -> Path:
    """Ingest ``fixtures/sql/transcripts.jsonl`` (one bad line, kept as a reject) into ``path``,
    then (``with_classifiers``) score it with :func:`add_classifier_results`.

    Ingested from inside the fixture folder so ``source`` reads ``transcripts.jsonl:N`` wherever
    the checkout lives.
    """
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store

    with contextlib.chdir(FIXTURES), Store.open(path, read_only=False) as store:
        [result] = ingest_paths(store, ["transcripts.jsonl"], skip_bad=True)
    assert (result.added, result.rejected) == (12, 1), result.summary()
    if with_classifiers:
        add_classifier_results(path)
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RuleScorer:
    """A deterministic stand-in for the embedding classifier, so the fixture's classifier results
    go through the real ``classifiers.apply`` (sentence splitting, offsets, registry, inserts)
    without loading a model. Sentences naming an evaluation/test score high; ones naming the grader
    pass the first stage with a low score; the rest are stopped by the first stage (score 0)."""

    AWARE = re.compile(r"\b(evaluation|test environment|a test of)\b", re.I)

    def __init__(self, version: str, high: float = 0.9):
        from types import SimpleNamespace

        self.high = high
        self.artifact = SimpleNamespace(
            name="eval_awareness", version=version, sha256=f"fixture-{version}", embedding_model="rules",
            threshold=0.5, card={"fixture": True, "version": version},
        )

    @property
    def decision(self):
        """The transcript decision: flagged when any sentence reaches the 0.5 threshold (100,000
        null scores of 0, so the length correction holds back no transcript under 10,000
        sentences: the rule stays "any sentence", which the tests re-count in Python)."""
        import numpy as np
        from cotwatch.classifiers.decision import TranscriptDecision

        if getattr(self, "_decision", None) is None:
            self._decision = TranscriptDecision(sentence_threshold=0.5, alpha=0.05, null_scores=np.zeros(100_000))
        return self._decision

    def context(self, texts, doc=None):  # a rule reads no neighbours
        return None

    def score(self, texts, *, cascade=True, cache=None, hashes=None, progress=None, doc=None, context=None):
        import numpy as np

        scores = np.array([self.high if self.AWARE.search(t) else 0.2 if "grader" in t.lower() else 0.0 for t in texts],
                          dtype=np.float32)
        return scores, scores > 0


def add_classifier_results(path: Path, runs: tuple[str, str] = ("rl-a", "rl-b")) -> None:
    """Score a store with the rule scorer: version v1 on every run, then a re-trained v2 on the
    first run only (so the views must pick the latest version per run)."""
    import warnings

    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply

    with Store.open(path, read_only=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duckdb's note about an Arrow copy in apply
        apply(store, "eval_awareness", scorer=RuleScorer("v1", high=0.8))
        apply(store, "eval_awareness", run=runs[0], scorer=RuleScorer("v2", high=0.9))


def migrated_store_0007(path: Path) -> Path:
    """The previous version's fixture store (``fixtures/store_0007.duckdb.gz``: the SQL fixture
    corpus with classifier results), migrated to the current schema — a ready store that does not
    depend on today's ingest."""
    import gzip
    import shutil

    from cotwatch.analytics.store.database import Store

    with gzip.open(FIXTURES.parent / "store_0007.duckdb.gz", "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    Store.open(path, read_only=False).close()
    return path
