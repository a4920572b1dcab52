"""Usage drift: has a term's *meaning* moved across checkpoints, whatever its frequency did?

Rates cannot show that "watchers" went from file watchers to the overseers of an episode;
contexts can. For each step, up to ``cap`` contexts of the term (the occurrence and ``window``
tokens either side, sampled over transcripts: :func:`cotwatch.analytics.terms.contexts.term_contexts`)
are embedded with the project's sentence encoder (MiniLM, offline; ``model="static"`` for the fast
static model) and averaged into a centroid. Per step:

* ``drift_from_first`` = 1 − cos(centroid of the step, centroid of the first step with contexts);
  ``lo``/``hi`` = its 95% percentile interval from a cluster bootstrap (transcripts resampled
  with replacement within each of the two steps, ``boots`` times);
* ``drift_from_previous`` (+ ``previous_lo``/``previous_hi``) the same against the step before;
* ``p_value``: a permutation test of "same usage as the first step" (transcripts shuffled between
  the two steps, ``permutations`` times) — centroid distances are never 0 on finite samples, so a
  drift is only a change when it beats this noise.

The **largest change** is the split of the steps into an earlier and a later part that best
separates their contexts (the largest centroid distance weighted by sqrt(n_before·n_after/n), a
CUSUM-style statistic, so one noisy step at an end does not win); its ``typical`` contexts are,
on each side, those most similar to their own side's centroid and least to the other's.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb") as store:                        # doctest: +SKIP
...     result = usage_drift(store, "watchers", run="rl-1")
...     result.steps          # run, step, contexts, transcripts, drift_from_first, lo, hi, ...
...     result.typical        # run, side, step, transcript_id, context, typicality
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport

USAGE_COLUMNS = ["run", "step", "contexts", "transcripts", "drift_from_first", "lo", "hi", "drift_from_previous",
                 "previous_lo", "previous_hi", "p_value"]
TYPICAL_COLUMNS = ["run", "side", "step", "transcript_id", "context", "typicality"]
CHANGE_COLUMNS = ["run", "before_last_step", "after_first_step", "distance", "statistic"]


@dataclass(frozen=True)
class UsageDrift:
    """The result of :func:`usage_drift`: ``steps`` (:data:`USAGE_COLUMNS`, one row per run and
    step), ``typical`` (:data:`TYPICAL_COLUMNS`: the contexts most typical of before/after the
    largest change), ``change`` (:data:`CHANGE_COLUMNS`, one row per run) and ``contexts`` (every
    context embedded: run, step, transcript_id, context, match)."""

    term: str
    steps: Any
    typical: Any
    change: Any
    contexts: Any


def usage_drift(store, term: str, run: str | Sequence[str] | None = None, window: int = 12, cap: int = 200, *,
                per_transcript: int = 3, scope: str = "reasoning", environment: str | None = None,
                model: str | None = None, encoder=None, boots: int = 200, permutations: int = 200,
                typical: int = 5, seed: int = 0, watchlist: str | Path | None = None,
                case_sensitive: bool = False) -> UsageDrift:
    """Usage drift of ``term`` (a token, phrase, wildcard, regex or @group) per step of ``run``
    (one, several — overlaid, a ``run`` column tells them apart — or None for the only run).

    ``window``: tokens of context on each side; ``cap``: contexts per step (sampled over
    transcripts, at most ``per_transcript`` each, reproducibly for ``seed``); ``model``: None
    (the default MiniLM), "static" (tokenlearn static model, ~40x faster, coarser) or a local
    sentence-transformers folder; ``encoder``: any object with ``encode(texts) -> array``
    instead. ``boots``/``permutations``: resamples for the intervals and the p-value.
    """
    import polars as pl
    from cotwatch.analytics.terms.contexts import term_contexts

    if boots < 10 or permutations < 10:
        raise InputError("boots and permutations must be at least 10")
    contexts = term_contexts(store, term, run=run, window=window, cap=cap, per_transcript=per_transcript,
                             seed=seed, scope=scope, environment=environment, watchlist=watchlist,
                             case_sensitive=case_sensitive)
    if contexts.is_empty():
        raise NothingToReport(f"{term!r} never occurs in the selection: no contexts to compare")
    encoder = encoder or _encoder(model)
    vectors = _unit(np.asarray(_embed(encoder, contexts["context"].to_list()), np.float64))
    rng = np.random.default_rng(seed)
    step_rows, typical_rows, change_rows = [], [], []
    for (name,), part in contexts.with_row_index("_i").group_by("run", maintain_order=True):
        steps = sorted(set(part["step"].to_list()))
        if len(steps) < 2:
            raise NothingToReport(f"{term!r} has contexts at {len(steps)} step of run {name!r}; usage drift compares "
                                  "at least 2 steps")
        groups = [_Group(part.filter(pl.col("step") == s), vectors) for s in steps]
        first = groups[0]
        for i, (step, g) in enumerate(zip(steps, groups)):
            d0, lo0, hi0, p = (0.0, 0.0, 0.0, None) if i == 0 else _compare(first, g, rng, boots, permutations)
            if i == 0:
                dp = lop = hip = None
            else:
                dp, lop, hip, _ = _compare(groups[i - 1], g, rng, boots, 0)
            step_rows.append((name, step, g.n, g.m, d0, lo0, hi0, dp, lop, hip, p))
        split, distance, statistic = _largest_change(groups)
        change_rows.append((name, steps[split], steps[split + 1], distance, statistic))
        typical_rows += _typical(part, vectors, steps, split, typical, name)
    steps_df = pl.DataFrame(step_rows, schema={
        "run": pl.String, "step": pl.Int64, "contexts": pl.Int64, "transcripts": pl.Int64,
        "drift_from_first": pl.Float64, "lo": pl.Float64, "hi": pl.Float64, "drift_from_previous": pl.Float64,
        "previous_lo": pl.Float64, "previous_hi": pl.Float64, "p_value": pl.Float64}, orient="row")
    typical_df = pl.DataFrame(typical_rows, schema={
        "run": pl.String, "side": pl.String, "step": pl.Int64, "transcript_id": pl.String, "context": pl.String,
        "typicality": pl.Float64}, orient="row")
    change_df = pl.DataFrame(change_rows, schema={
        "run": pl.String, "before_last_step": pl.Int64, "after_first_step": pl.Int64, "distance": pl.Float64,
        "statistic": pl.Float64}, orient="row")
    return UsageDrift(term, steps_df, typical_df, change_df, contexts)


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------
def _encoder(model: str | None):
    from cotwatch.classifiers.embeddings import Encoder, StaticEncoder

    if model == "static":
        return StaticEncoder()
    return Encoder(model)


def _embed(encoder, texts: list[str]) -> np.ndarray:
    """Embeddings of ``texts``, each distinct text encoded once."""
    uniq, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    vecs = np.asarray(encoder.encode(list(uniq)), np.float64)
    return vecs[inverse.reshape(-1)]


def _unit(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


class _Group:
    """One step's contexts, summed per transcript (the bootstrap's clusters)."""

    def __init__(self, part, vectors: np.ndarray):
        idx = part["_i"].to_numpy()
        ids = part["transcript_id"].to_numpy()
        uniq, inverse = np.unique(ids, return_inverse=True)
        self.n = len(idx)
        self.m = len(uniq)
        self.sums = np.zeros((self.m, vectors.shape[1]))
        np.add.at(self.sums, inverse, vectors[idx])
        self.counts = np.bincount(inverse, minlength=self.m).astype(np.float64)
        self.centroid = self.sums.sum(0) / self.counts.sum()

    def resampled(self, rng: np.random.Generator, times: int) -> np.ndarray:
        """``times`` bootstrap centroids (transcripts drawn with replacement)."""
        weights = rng.multinomial(self.m, np.full(self.m, 1.0 / self.m), size=times).astype(np.float64)
        return (weights @ self.sums) / (weights @ self.counts)[:, None]


def _cos_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return 1.0 - num / np.where(den > 0, den, 1.0)


def _compare(a: _Group, b: _Group, rng: np.random.Generator, boots: int, permutations: int):
    """(distance, lo, hi, p) between two steps' centroids: bootstrap interval, permutation p."""
    d = float(_cos_distance(a.centroid, b.centroid)[0])
    reps = _cos_distance(a.resampled(rng, boots), b.resampled(rng, boots))
    lo, hi = (float(x) for x in np.percentile(reps, [2.5, 97.5]))
    p = None
    if permutations:
        sums = np.vstack([a.sums, b.sums])
        counts = np.concatenate([a.counts, b.counts])
        total = a.m + b.m
        keys = rng.random((permutations, total))
        in_a = np.argsort(keys, axis=1) < a.m  # a random set of a.m transcripts per permutation
        wa, wb = in_a.astype(np.float64), (~in_a).astype(np.float64)
        ca = (wa @ sums) / (wa @ counts)[:, None]
        cb = (wb @ sums) / (wb @ counts)[:, None]
        null = _cos_distance(ca, cb)
        p = float((1 + np.sum(null >= d - 1e-12)) / (1 + permutations))
    return d, lo, hi, p


def _largest_change(groups: list[_Group]) -> tuple[int, float, float]:
    """(index of the last step before the change, centroid distance, weighted statistic)."""
    best = (0, 0.0, -1.0)
    for k in range(len(groups) - 1):
        before, after = groups[:k + 1], groups[k + 1:]
        nb, na = sum(g.n for g in before), sum(g.n for g in after)
        cb = sum(g.sums.sum(0) for g in before) / nb
        ca = sum(g.sums.sum(0) for g in after) / na
        d = float(_cos_distance(cb, ca)[0])
        statistic = d * np.sqrt(nb * na / (nb + na))
        if statistic > best[2]:
            best = (k, d, float(statistic))
    return best


def _typical(part, vectors: np.ndarray, steps: list[int], split: int, k: int, run: str) -> list[tuple]:
    """The ``k`` contexts most typical of each side of the change (distinct texts)."""
    import polars as pl

    before = part.filter(pl.col("step") <= steps[split])
    after = part.filter(pl.col("step") > steps[split])
    vb = vectors[before["_i"].to_numpy()]
    va = vectors[after["_i"].to_numpy()]
    cb, ca = _unit(vb.mean(0, keepdims=True))[0], _unit(va.mean(0, keepdims=True))[0]
    rows = []
    for side, frame, vecs, own, other in (("before", before, vb, cb, ca), ("after", after, va, ca, cb)):
        score = vecs @ own - vecs @ other
        seen: set[str] = set()
        for i in np.argsort(-score, kind="stable"):
            text = frame["context"][int(i)]
            if text in seen:
                continue
            seen.add(text)
            rows.append((run, side, int(frame["step"][int(i)]), frame["transcript_id"][int(i)], text, float(score[i])))
            if len(seen) >= k:
                break
    return rows
