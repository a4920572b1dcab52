"""Prevalence of a trait (eval awareness) per checkpoint, corrected for the classifier's own errors.

The raw rate — the share of transcripts with at least one flagged sentence — mixes true positives
with false flags. We correct it with the Rogan–Gladen / adjusted classify-and-count estimator

    corrected = (raw − FPR_t) / (TPR_t − FPR_t), clipped to [0, 1],

where TPR_t and FPR_t are *transcript-level* true- and false-positive rates. They come from
sentence-level rates measured on the held-out split under the cascade, through a model of a
transcript with ``c`` candidate sentences (sentences that passed the cascade's first stage):

* ``r1`` — share of held-out positives that pass the first stage;
* ``s2`` — share of those candidates scoring >= threshold;
* ``f``  — share of held-out negatives *that pass the first stage* scoring >= threshold;
* an unaware transcript is flagged with probability ``1 − (1 − f)^c``;
* an aware transcript (assumed to voice it in one sentence — conservative, more sentences only
  raise detection) with probability ``r1·[1 − (1 − s2)(1 − f)^(c−1)] + (1 − r1)·[1 − (1 − f)^c]``;
* a transcript with no candidate sentence is never flagged.

TPR_t and FPR_t of a group are the means of those probabilities over its transcripts. Conditioning
on ``c`` is what makes held-out rates transfer: most corpus sentences never reach the transformer,
and the hard negatives that do are what the held-out negatives that pass the first stage resemble.

The 95% interval is a percentile bootstrap that resamples **both** the validation set (positives
and negatives, each over its three outcomes: stopped / passed and not flagged / flagged) **and**
the transcripts of each group (multinomially over their (covert, c, flagged) cells), recomputing
the estimate each time. The validation side is a Bayesian bootstrap (Dirichlet with a Jeffreys
prior over outcome counts) so that zero observed errors still carry uncertainty. With ``covert_action`` present, the same machinery corrects the awareness prevalence
among covert and among non-covert transcripts and turns them, by Bayes' rule, into
``covert_rate_aware`` = P(covert | aware) and ``covert_rate_unaware`` = P(covert | not aware).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.store.sqlfiles import load_sql

B_DEFAULT = 1000


@dataclass(frozen=True)
class Validation:
    """Held-out outcome counts under the cascade at the artifact's threshold."""

    pos_stopped: int
    pos_passed_missed: int
    pos_flagged: int
    neg_stopped: int
    neg_passed_clean: int
    neg_flagged: int

    @classmethod
    def from_scores(cls, labels, scores, candidate, threshold: float) -> "Validation":
        labels = np.asarray(labels).astype(bool)
        cand = np.asarray(candidate).astype(bool)
        flag = np.asarray(scores) >= threshold
        return cls(
            pos_stopped=int(np.sum(labels & ~cand)),
            pos_passed_missed=int(np.sum(labels & cand & ~flag)),
            pos_flagged=int(np.sum(labels & cand & flag)),
            neg_stopped=int(np.sum(~labels & ~cand)),
            neg_passed_clean=int(np.sum(~labels & cand & ~flag)),
            neg_flagged=int(np.sum(~labels & cand & flag)),
        )

    def rates(self, rng: np.random.Generator | None = None, size: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(r1, s2, f): maximum-likelihood point estimates, or ``size`` bootstrap replicates.

        Replicates are a Bayesian bootstrap of the validation examples: outcome shares drawn from
        Dirichlet(counts + 1/2) (Jeffreys prior), so an outcome never observed — zero false
        positives among 60 negatives — still carries its uncertainty into the interval, where a
        plain resampling bootstrap would pretend it is exactly zero.
        """
        pos = np.array([self.pos_stopped, self.pos_passed_missed, self.pos_flagged], dtype=float)
        neg = np.array([self.neg_stopped, self.neg_passed_clean, self.neg_flagged], dtype=float)
        if pos.sum() == 0 or neg.sum() == 0 or pos[1:].sum() == 0 or neg[1:].sum() == 0:
            raise InputError("validation set needs positives and first-stage-passing negatives to correct prevalence")
        if rng is None:
            pos, neg = pos[None, :], neg[None, :]
        else:
            pos = rng.dirichlet(pos + 0.5, size=size)
            neg = rng.dirichlet(neg + 0.5, size=size)
        r1 = (pos[:, 1] + pos[:, 2]) / pos.sum(1)
        s2 = pos[:, 2] / (pos[:, 1] + pos[:, 2])
        f = neg[:, 2] / (neg[:, 1] + neg[:, 2])
        return r1, s2, f


def flag_probabilities(r1, s2, f, c) -> tuple[np.ndarray, np.ndarray]:
    """P(flag | aware, c) and P(flag | unaware, c); broadcast over replicates × cells."""
    r1, s2, f = (np.asarray(x, dtype=float)[..., None] for x in (r1, s2, f))
    c = np.asarray(c, dtype=float)[None, ...]
    clean_rest = (1.0 - f) ** np.maximum(c - 1.0, 0.0)
    fp = 1.0 - (1.0 - f) ** c
    tp = r1 * (1.0 - (1.0 - s2) * clean_rest) + (1.0 - r1) * fp
    zero = c == 0
    return np.where(zero, 0.0, tp), np.where(zero, 0.0, fp)


def _rg(flagged: np.ndarray, tp: np.ndarray, fp: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Rogan–Gladen per replicate: counts (R, cells), tp/fp (R, cells), flagged (cells,) bool."""
    n = counts.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = (counts * flagged).sum(-1) / n
        tpr = (counts * tp).sum(-1) / n
        fpr = (counts * fp).sum(-1) / n
        est = (raw - fpr) / (tpr - fpr)
    est = np.where((tpr - fpr) > 1e-9, est, np.nan)
    return np.clip(est, 0.0, 1.0)


def corrected_prevalence(flagged, candidates, validation: Validation, *, covert=None, b: int = B_DEFAULT,
                         seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """Corrected prevalence with a bootstrap interval for one group of transcripts.

    ``flagged`` (bool per transcript), ``candidates`` (first-stage passes per transcript) and
    optionally ``covert`` (True/False/None per transcript). Returns raw_rate, corrected_rate,
    ci_lo, ci_hi, tpr_t, fpr_t and, with covert labels, covert_rate_aware/unaware and intervals.

    >>> v = Validation(0, 10, 90, 50, 45, 5)
    >>> round(corrected_prevalence([True] * 30 + [False] * 70, [1] * 100, v)["corrected_rate"], 3)
    0.25
    """
    flagged = np.asarray(flagged, dtype=bool)
    candidates = np.asarray(candidates, dtype=np.int64)
    cov = np.full(len(flagged), -1, dtype=np.int8) if covert is None else np.array(
        [-1 if v is None else int(bool(v)) for v in covert], dtype=np.int8)
    keys = np.stack([cov.astype(np.int64), candidates, flagged.astype(np.int64)], axis=1)
    cells, counts = np.unique(keys, axis=0, return_counts=True)
    return _estimate_cells(cells, counts.astype(float), validation, b=b, seed=seed, level=level)


def _estimate_cells(cells: np.ndarray, counts: np.ndarray, validation: Validation, *, b: int, seed: int,
                    level: float) -> dict[str, float]:
    cov, c, flag = cells[:, 0], cells[:, 1], cells[:, 2].astype(bool)
    n = counts.sum()
    rng = np.random.default_rng(seed)
    point = validation.rates()
    boot = validation.rates(rng, size=b)
    tp0, fp0 = flag_probabilities(*point, c)
    tpb, fpb = flag_probabilities(*boot, c)
    resampled = rng.multinomial(int(n), counts / n, size=b).astype(float)
    alpha = (1.0 - level) / 2.0

    def interval(values: np.ndarray) -> tuple[float, float]:
        ok = values[~np.isnan(values)]
        if len(ok) < 0.5 * len(values):
            return float("nan"), float("nan")
        return float(np.quantile(ok, alpha)), float(np.quantile(ok, 1.0 - alpha))

    est0 = _rg(flag, tp0, fp0, counts[None, :])[0]
    estb = _rg(flag, tpb, fpb, resampled)
    lo, hi = interval(estb)
    out = {
        "n": int(n), "flagged": int(counts[flag].sum()), "raw_rate": float(counts[flag].sum() / n),
        "corrected_rate": float(est0), "ci_lo": lo, "ci_hi": hi,
        "tpr_t": float((counts * tp0[0]).sum() / n), "fpr_t": float((counts * fp0[0]).sum() / n),
    }
    known = cov >= 0
    if known.any() and (cov[known] == 1).any() and (cov[known] == 0).any():
        def covert_rates(cnt: np.ndarray, tp: np.ndarray, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            is_cov, is_non = (cov == 1), (cov == 0)
            n_cov = (cnt * is_cov).sum(-1)
            n_non = (cnt * is_non).sum(-1)
            pi_cov = _rg(flag, tp, fp, np.where(is_cov, cnt, 0.0))
            pi_non = _rg(flag, tp, fp, np.where(is_non, cnt, 0.0))
            with np.errstate(invalid="ignore", divide="ignore"):
                aware = pi_cov * n_cov / (pi_cov * n_cov + pi_non * n_non)
                unaware = (1 - pi_cov) * n_cov / ((1 - pi_cov) * n_cov + (1 - pi_non) * n_non)
            return aware, unaware

        a0, u0 = covert_rates(counts[None, :], tp0, fp0)
        ab, ub = covert_rates(resampled, tpb, fpb)
        a_lo, a_hi = interval(ab)
        u_lo, u_hi = interval(ub)
        cov_flag = counts[(cov == 1) & flag].sum()
        all_flag = counts[(cov >= 0) & flag].sum()
        cov_unflag = counts[(cov == 1) & ~flag].sum()
        all_unflag = counts[(cov >= 0) & ~flag].sum()
        out.update({
            "covert_n": int(counts[known].sum()),
            "covert_rate_flagged": float(cov_flag / all_flag) if all_flag else float("nan"),
            "covert_rate_unflagged": float(cov_unflag / all_unflag) if all_unflag else float("nan"),
            "covert_rate_aware": float(a0[0]), "covert_aware_lo": a_lo, "covert_aware_hi": a_hi,
            "covert_rate_unaware": float(u0[0]), "covert_unaware_lo": u_lo, "covert_unaware_hi": u_hi,
        })
    return out


COVERT_COLUMNS = ("covert_n", "covert_rate_flagged", "covert_rate_unflagged", "covert_rate_aware",
                  "covert_aware_lo", "covert_aware_hi", "covert_rate_unaware", "covert_unaware_lo",
                  "covert_unaware_hi")


def awareness_prevalence(store, *, run: str | None = None, classifier: str = "eval_awareness",
                         by_environment: bool = False, pooled: bool = False, b: int = B_DEFAULT, seed: int = 0,
                         level: float = 0.95):
    """Per step (and environment): ``run, step, n, flagged, raw_rate, corrected_rate, ci_lo, ci_hi``
    plus transcript-level ``tpr_t, fpr_t`` and, when transcripts carry ``covert_action``, the covert
    rates among aware and unaware transcripts with intervals. Needs ``classify apply`` first.
    ``pooled`` gives one row for the whole run (``step`` null) — per-step covert comparisons rest
    on few aware transcripts, the pooled one on all of them.

    >>> with Store.open("runs.duckdb") as store:                        # doctest: +SKIP
    ...     awareness_prevalence(store, run="demo-rl")
    """
    import json

    import polars as pl

    run = store.require_run(run)
    latest = store.rows(load_sql("latest_classifier", __package__), {"name": classifier, "run": run})
    if not latest:
        raise NothingToReport(
            f"no {classifier} results for run {run!r} in {store.path}; run `cotwatch classify apply --run {run}` first"
        )
    cid, threshold, sha, card = latest[0]
    validation = _validation_for(store, classifier, sha, threshold, json.loads(card) if isinstance(card, str) else card)
    cells = store.frame(load_sql("awareness_cells", __package__), {"classifier_id": cid, "run": run})
    keys = ["run"] + ([] if pooled else ["step"]) + (["environment"] if by_environment else [])
    rows = []
    for i, (key, group) in enumerate(cells.group_by(keys, maintain_order=True)):
        cov = group["covert"].to_numpy()
        cell_arr = np.stack([cov.astype(np.int64), group["n_candidates"].to_numpy().astype(np.int64),
                             group["flagged"].to_numpy().astype(np.int64)], axis=1)
        est = _estimate_cells(cell_arr, group["n"].to_numpy().astype(float), validation, b=b, seed=seed + i,
                              level=level)
        rows.append({**dict(zip(keys, key)), **est})
    if not rows:
        raise NothingToReport(f"run {run!r} has no scored transcripts for {classifier}")
    df = pl.DataFrame(rows, infer_schema_length=None)
    if "covert_n" not in df.columns:
        df = df.with_columns([pl.lit(None, dtype=pl.Float64).alias(c) for c in COVERT_COLUMNS])
    if pooled:
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias("step"))
        keys = ["run", "step"] + (["environment"] if by_environment else [])
    front = keys + ["n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi", "tpr_t", "fpr_t"]
    # undefined estimates (e.g. P(covert | aware) when no transcript is estimated aware) are null, not NaN
    return df.select(front + list(COVERT_COLUMNS)).fill_nan(None).sort(keys)


def _validation_for(store, classifier: str, sha: str, threshold: float, card: dict) -> Validation:
    """Validation counts of the artifact that produced the stored results: from its model card as
    registered in the store, else from the artifact file (matched by sha256)."""
    from cotwatch.classifiers.artifacts import available, load_artifact

    counts = (card or {}).get("validation_counts")
    if counts:
        return Validation(**counts)
    for entry in available():
        if entry["name"] != classifier:
            continue
        art = load_artifact(entry["path"])
        if art.sha256 == sha:
            v = art.validation
            return Validation.from_scores(v["labels"], v["scores"], v["candidate"], threshold)
    raise InputError(f"the {classifier} artifact that scored this run (sha256 {sha[:12]}…) is no longer available")


def top_flagged_sentences(store, *, run: str | None = None, classifier: str = "eval_awareness", limit: int = 20):
    """The highest-scoring flagged sentences of a run (latest classifier version), with offsets:
    ``transcript_id, run, step, environment, ordinal, sentence_index, start_char, end_char,
    sentence, score``."""
    run = store.require_run(run)
    latest = store.rows(load_sql("latest_classifier", __package__), {"name": classifier, "run": run})
    if not latest:
        raise NothingToReport(
            f"no {classifier} results for run {run!r} in {store.path}; run `cotwatch classify apply --run {run}` first"
        )
    if limit < 1:
        raise InputError("limit must be at least 1")
    return store.frame(load_sql("flagged_sentences", __package__), {"classifier_id": latest[0][0], "run": run, "limit": limit})
