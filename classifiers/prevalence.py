"""Prevalence of a trait (eval awareness) per checkpoint, corrected for the classifier's own errors —
and honest about what the correction rests on.

The **raw rate** is the share of transcripts the transcript decision flags
(:mod:`cotwatch.classifiers.decision`). Two corrections, in order of preference:

1. **Prediction-powered inference (PPI++)**, when the user has labelled a uniform random sample of
   the run's own transcripts (``cotwatch label export --transcripts N`` → label →
   ``cotwatch label import``). With predictions ``f`` (the transcript decision, 0/1) on all ``N``
   transcripts of a cell and ``n`` labelled ones ``(Y, f)``::

       theta = mean(Y_lab) + lam * (mean(f_all) - mean(f_lab))
       var   = lam**2 * var(f) / N + var(Y - lam * f) / n
       lam   = cov(Y, f) / ((1 + n / N) * var(f)), clipped to [0, 1]   (power tuning)

   (Angelopoulos et al. 2023, "PPI++", the mean estimator of ``ppi_py.ppi_mean_ci``; when the
   tuned ``lam`` is 0 — the predictions carry no information about the labels of this cell, or the
   labels do not vary — it is the labelled share with a Wilson interval.) The
   interval is valid whatever the classifier's bias, because the labelled sample measures the
   bias on this very data; the classifier only narrows it. A cell needs ``MIN_LABELS`` labelled
   transcripts for its own estimate; the pooled row uses every label.
2. **Rogan–Gladen on the shipped validation transcripts** (no labels of the user's): transcript
   true/false-positive rates measured on the held-out real and team-written transcripts of the
   artifact's corpus correct the raw rate, ``(raw − FPR) / (TPR − FPR)``, with a bootstrap over
   the run's transcripts and a Bayesian bootstrap (Beta, Jeffreys prior) of the validation counts.
   Those rates come from another distribution of text; they may not transfer to this run, and the
   result says so (``estimator = validation-only`` and a ``transfer_warning``).

Cells with fewer than ``MIN_CELL`` transcripts get no corrected estimate at all: a rate from one
transcript (0% or 100% with a [1, 1] interval) is noise dressed as a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.store.sqlfiles import load_sql

B_DEFAULT = 1000
MIN_CELL = 10       # transcripts a cell needs for a corrected point estimate
MIN_LABELS = 10     # labelled transcripts a cell needs for its own PPI estimate

TRANSFER_WARNING = ("corrected with error rates measured on the classifier's validation transcripts (other text "
                    "than this run); they may not transfer — label a random sample of this run "
                    "(`cotwatch label export --transcripts 100`) for an estimate that does not rest on them")


@dataclass(frozen=True)
class TranscriptValidation:
    """Outcomes of the transcript decision on held-out labelled transcripts."""

    tp: int
    fn: int
    fp: int
    tn: int

    @classmethod
    def from_card(cls, card: dict | None) -> "TranscriptValidation":
        v = (card or {}).get("validation_transcripts")
        if not v or v.get("tp", 0) + v.get("fn", 0) == 0 or v.get("fp", 0) + v.get("tn", 0) == 0:
            raise InputError("the classifier's card has no transcript-level validation counts (aware and unaware "
                             "held-out transcripts); retrain it with `cotwatch classify train`, or label a sample "
                             "of your transcripts (`cotwatch label export --transcripts 100`)")
        return cls(int(v["tp"]), int(v["fn"]), int(v["fp"]), int(v["tn"]))

    def rates(self, rng: np.random.Generator | None = None, size: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(TPR, FPR): point estimates, or ``size`` draws from Beta(count + 1/2) posteriors."""
        if rng is None:
            return (np.array([self.tp / (self.tp + self.fn)]), np.array([self.fp / (self.fp + self.tn)]))
        return (rng.beta(self.tp + 0.5, self.fn + 0.5, size), rng.beta(self.fp + 0.5, self.tn + 0.5, size))


def rogan_gladen(raw, tpr, fpr) -> np.ndarray:
    """``(raw − fpr) / (tpr − fpr)`` clipped to [0, 1]; NaN where the classifier is no better than chance."""
    raw, tpr, fpr = (np.asarray(x, dtype=float) for x in (raw, tpr, fpr))
    with np.errstate(invalid="ignore", divide="ignore"):
        est = (raw - fpr) / (tpr - fpr)
    return np.where(tpr - fpr > 1e-9, np.clip(est, 0.0, 1.0), np.nan)


def corrected_prevalence(flagged, validation: TranscriptValidation, *, covert=None, b: int = B_DEFAULT, seed: int = 0,
                         level: float = 0.95) -> dict[str, float]:
    """Rogan–Gladen corrected prevalence of one group of transcripts with a bootstrap interval.

    ``flagged`` holds the transcript decisions, ``covert`` optionally True/False/None per
    transcript (then P(covert | aware) and P(covert | not aware) are estimated too).

    >>> v = TranscriptValidation(tp=90, fn=10, fp=5, tn=95)
    >>> round(corrected_prevalence([True] * 30 + [False] * 70, v)["corrected_rate"], 3)
    0.294
    """
    flagged = np.asarray(flagged, dtype=bool)
    n = len(flagged)
    cov = np.full(n, -1, dtype=np.int8) if covert is None else np.array(
        [-1 if v is None else int(bool(v)) for v in covert], dtype=np.int8)
    rng = np.random.default_rng(seed)
    tpr0, fpr0 = validation.rates()
    tprb, fprb = validation.rates(rng, b)
    raw = float(flagged.mean()) if n else float("nan")
    out = {"n": n, "flagged": int(flagged.sum()), "raw_rate": raw,
           "tpr_t": float(tpr0[0]), "fpr_t": float(fpr0[0])}
    if n < MIN_CELL:
        out.update({"corrected_rate": float("nan"), "ci_lo": float("nan"), "ci_hi": float("nan")})
    else:
        k = rng.binomial(n, raw, size=b) / n
        est_b = rogan_gladen(k, tprb, fprb)
        lo, hi = _interval(est_b, level)
        out.update({"corrected_rate": float(rogan_gladen(raw, tpr0, fpr0)[0]), "ci_lo": lo, "ci_hi": hi})
    known = cov >= 0
    if known.sum() >= MIN_CELL and (cov[known] == 1).any() and (cov[known] == 0).any():
        out.update(_covert_rates(flagged[known], cov[known] == 1, tpr0, fpr0, tprb, fprb, rng, b, level))
    return out


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    ok = values[~np.isnan(values)]
    if len(ok) < 0.5 * len(values):
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(ok, alpha)), float(np.quantile(ok, 1.0 - alpha))


def _covert_rates(flagged, covert, tpr0, fpr0, tprb, fprb, rng, b, level) -> dict:
    """P(covert | aware) and P(covert | not aware) from corrected awareness among covert and
    non-covert transcripts (Bayes' rule), with bootstrap intervals."""
    n_cov, n_non = int(covert.sum()), int((~covert).sum())

    def rates(raw_cov, raw_non, tpr, fpr):
        pi_cov, pi_non = rogan_gladen(raw_cov, tpr, fpr), rogan_gladen(raw_non, tpr, fpr)
        with np.errstate(invalid="ignore", divide="ignore"):
            aware = pi_cov * n_cov / (pi_cov * n_cov + pi_non * n_non)
            unaware = (1 - pi_cov) * n_cov / ((1 - pi_cov) * n_cov + (1 - pi_non) * n_non)
        return aware, unaware

    raw_cov, raw_non = flagged[covert].mean(), flagged[~covert].mean()
    a0, u0 = rates(raw_cov, raw_non, tpr0, fpr0)
    ab, ub = rates(rng.binomial(n_cov, raw_cov, b) / n_cov, rng.binomial(n_non, raw_non, b) / n_non, tprb, fprb)
    a_lo, a_hi = _interval(ab, level)
    u_lo, u_hi = _interval(ub, level)
    return {
        "covert_n": n_cov + n_non,
        "covert_rate_flagged": float(covert[flagged].mean()) if flagged.any() else float("nan"),
        "covert_rate_unflagged": float(covert[~flagged].mean()) if (~flagged).any() else float("nan"),
        "covert_rate_aware": float(a0[0]), "covert_aware_lo": a_lo, "covert_aware_hi": a_hi,
        "covert_rate_unaware": float(u0[0]), "covert_unaware_lo": u_lo, "covert_unaware_hi": u_hi,
    }


def ppi_mean(predictions, labelled_predictions, labels, *, level: float = 0.95) -> tuple[float, float, float, float]:
    """PPI++ estimate of the mean of the labels: ``(estimate, lo, hi, lambda)``.

    ``predictions`` are the classifier's predictions on every unit of the population,
    ``labelled_predictions``/``labels`` those of a uniform random sample with human labels.

    >>> est, lo, hi, lam = ppi_mean(np.r_[np.ones(300), np.zeros(700)], np.r_[np.ones(30), np.zeros(70)],
    ...                             np.r_[np.ones(25), np.zeros(5), np.ones(5), np.zeros(65)])
    >>> round(est, 3), lo < est < hi
    (0.3, True)
    """
    from scipy import stats

    f_all = np.asarray(predictions, dtype=float)
    f = np.asarray(labelled_predictions, dtype=float)
    y = np.asarray(labels, dtype=float)
    N, n = len(f_all), len(y)
    if n < 2 or N < 1:
        raise InputError("a prediction-powered estimate needs at least two labelled transcripts")
    var_f = float(np.var(f_all, ddof=1)) if N > 1 else 0.0
    if var_f > 0 and np.var(f) > 0:
        lam = float(np.cov(y, f, ddof=1)[0, 1] / ((1.0 + n / N) * var_f))
        lam = float(np.clip(lam, 0.0, 1.0))
    else:
        lam = 0.0
    if lam == 0.0:
        # the classifier adds nothing here (or the labels do not vary, e.g. no aware transcript
        # among a few labels at a rare rate): the estimate is the labelled share, and its interval
        # the Wilson score interval — the CLT one would be [0, 0] for 0 of 20
        from cotwatch.analytics.terms.stats import wilson_interval

        lo, hi = wilson_interval(np.array([y.sum()]), np.array([n]), z=float(stats.norm.ppf(0.5 + level / 2.0)))
        return float(y.mean()), float(lo[0]), float(hi[0]), 0.0
    est = float(y.mean() + lam * (f_all.mean() - f.mean()))
    var = lam ** 2 * var_f / N + float(np.var(y - lam * f, ddof=1)) / n
    half = float(stats.t.ppf(0.5 + level / 2.0, df=n - 1)) * np.sqrt(max(var, 0.0))
    return est, float(max(0.0, est - half)), float(min(1.0, est + half)), lam


COVERT_COLUMNS = ("covert_n", "covert_rate_flagged", "covert_rate_unflagged", "covert_rate_aware",
                  "covert_aware_lo", "covert_aware_hi", "covert_rate_unaware", "covert_unaware_lo",
                  "covert_unaware_hi")
FRONT_COLUMNS = ("n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi", "estimator", "n_labelled",
                 "labelled_aware", "transfer_warning", "tpr_t", "fpr_t")


def _latest(store, classifier: str, run: str):
    latest = store.rows(load_sql("latest_classifier", __package__), {"name": classifier, "run": run})
    if not latest:
        raise NothingToReport(
            f"no {classifier} results for run {run!r} in {store.path}; run `cotwatch classify apply --run {run}` first"
        )
    return latest[0]


def awareness_prevalence(store, *, run=None, classifier: str = "eval_awareness", by_environment: bool = False,
                         pooled: bool = False, b: int = B_DEFAULT, seed: int = 0, level: float = 0.95):
    """One row per run and step (and environment): ``n, flagged, raw_rate, corrected_rate, ci_lo,
    ci_hi, estimator, n_labelled, labelled_aware, transfer_warning, tpr_t, fpr_t`` plus, when
    transcripts carry ``covert_action``, the covert rates among aware and unaware transcripts.

    ``estimator`` is ``ppi`` (the user's labels of this run correct the classifier),
    ``validation-only`` (corrected with the artifact's validation transcripts: see
    ``transfer_warning``) or ``none`` (fewer than ``MIN_CELL`` transcripts: no corrected value).
    ``n`` counts transcripts with reasoning to score; a cell with none has ``n = 0`` and no rate.
    ``run`` is a name, a list of names or None (the only run). ``pooled`` gives one row per run.

    >>> with Store.open("runs.duckdb") as store:                        # doctest: +SKIP
    ...     awareness_prevalence(store, run="demo-rl")
    """
    import json

    import polars as pl

    runs = [store.require_run(r) for r in run] if isinstance(run, (list, tuple)) else [store.require_run(run)]
    frames = []
    for i, name in enumerate(runs):
        cid, threshold, sha, card = _latest(store, classifier, name)
        card = json.loads(card) if isinstance(card, str) else card
        rows = store.frame(load_sql("awareness_transcripts", __package__), {"classifier_id": cid, "run": name,
                                                                          "classifier": classifier})
        frames.append(_prevalence_rows(rows, card, name, by_environment=by_environment, pooled=pooled, b=b,
                                       seed=seed + 7919 * i, level=level))
    df = pl.concat(frames, how="diagonal_relaxed")
    keys = ["run", "step"] + (["environment"] if by_environment else [])
    for column in COVERT_COLUMNS:
        if column not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    return df.select(keys + list(FRONT_COLUMNS) + list(COVERT_COLUMNS)).fill_nan(None).sort(keys, nulls_last=True)


def _prevalence_rows(rows, card: dict, run: str, *, by_environment: bool, pooled: bool, b: int, seed: int,
                     level: float):
    import polars as pl

    if rows.is_empty():
        raise NothingToReport(f"run {run!r} has no scored transcripts")
    labelled_all = rows.filter(pl.col("label").is_not_null())
    validation = None
    keys = ([] if pooled else ["step"]) + (["environment"] if by_environment else [])
    groups = [((), rows)] if not keys else rows.group_by(keys, maintain_order=True)
    out = []
    for j, (key, everything) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        group = everything.filter(pl.col("observed"))
        if group.is_empty():  # transcripts without reasoning: nothing was there to score
            out.append({"run": run, **dict(zip(keys, key)), "n": 0, "flagged": 0, "raw_rate": None,
                        "n_labelled": 0, "labelled_aware": 0, "corrected_rate": None, "ci_lo": None,
                        "ci_hi": None, "estimator": "none",
                        "transfer_warning": "no transcript with reasoning to score: no data"})
            continue
        flagged = group["flagged"].to_numpy().astype(bool)
        lab = group.filter(pl.col("label").is_not_null())
        row = {"run": run, **dict(zip(keys, key)), "n": group.height, "flagged": int(flagged.sum()),
               "raw_rate": float(flagged.mean()), "n_labelled": lab.height,
               "labelled_aware": int(lab["label"].sum()) if lab.height else 0}
        if group.height < MIN_CELL:
            row.update({"corrected_rate": None, "ci_lo": None, "ci_hi": None, "estimator": "none",
                        "transfer_warning": f"only {group.height} transcripts (fewer than {MIN_CELL}): no corrected estimate"})
        elif lab.height >= MIN_LABELS:
            est, lo, hi, _ = ppi_mean(flagged.astype(float), lab["flagged"].to_numpy().astype(float),
                                      lab["label"].to_numpy().astype(float), level=level)
            row.update({"corrected_rate": est, "ci_lo": lo, "ci_hi": hi, "estimator": "ppi", "transfer_warning": None})
        else:
            if validation is None:
                validation = TranscriptValidation.from_card(card)
            est = corrected_prevalence(flagged, validation, b=b, seed=seed + j, level=level)
            note = TRANSFER_WARNING
            if labelled_all.height:
                note = (f"only {lab.height} labelled transcripts here (a cell needs {MIN_LABELS} for its own "
                        f"prediction-powered estimate; the pooled row uses all {labelled_all.height}); " + TRANSFER_WARNING)
            row.update({"corrected_rate": est["corrected_rate"], "ci_lo": est["ci_lo"], "ci_hi": est["ci_hi"],
                        "estimator": "validation-only", "transfer_warning": note})
        if validation is None and card.get("validation_transcripts"):
            try:
                validation = TranscriptValidation.from_card(card)
            except InputError:
                validation = None
        if validation is not None:
            tpr, fpr = validation.rates()
            row.update({"tpr_t": float(tpr[0]), "fpr_t": float(fpr[0])})
            covert = group["covert_action"].to_list()
            if any(c is not None for c in covert):
                extra = corrected_prevalence(flagged, validation, covert=covert, b=b, seed=seed + j, level=level)
                row.update({k: extra[k] for k in COVERT_COLUMNS if k in extra})
        out.append(row)
    df = pl.DataFrame(out, infer_schema_length=None).with_columns(pl.col("raw_rate").cast(pl.Float64))
    if pooled:
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias("step"))
    for column, dtype in (("tpr_t", pl.Float64), ("fpr_t", pl.Float64), ("corrected_rate", pl.Float64),
                          ("ci_lo", pl.Float64), ("ci_hi", pl.Float64), ("transfer_warning", pl.String)):
        if column not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dtype).alias(column))
    return df


def top_flagged_sentences(store, *, run: str | None = None, classifier: str = "eval_awareness", limit: int = 20,
                          per_step: int | None = None):
    """Flagged sentences of a run (latest classifier version), highest score first, with offsets:
    ``transcript_id, run, step, environment, ordinal, sentence_index, start_char, end_char,
    sentence, score``. ``per_step`` caps each step instead of the whole run (the report's evidence)."""
    run = store.require_run(run)
    cid = _latest(store, classifier, run)[0]
    if limit < 1 or (per_step is not None and per_step < 1):
        raise InputError("limit and per_step must be at least 1")
    return store.frame(load_sql("flagged_sentences", __package__),
                       {"classifier_id": cid, "run": run, "limit": limit if per_step is None else 1 << 31,
                        "per_step": per_step if per_step is not None else 1 << 31})
