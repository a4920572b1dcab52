"""Emergent-vocabulary discovery: terms that rise (or fall) against early checkpoints and English."""

from __future__ import annotations

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.kinds import KINDS_OF_SCOPE as SCOPES
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms import stats as term_stats
from cotwatch.analytics.terms.concordance import _kwic_lines
from cotwatch.analytics.terms.rates import _cells, _check_scope

# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------
#: Strength of the informative Dirichlet prior, as a share of the run's tokens: α_w is this
#: share of the term's count over the whole run (Monroe et al. use background counts as prior).
PRIOR_SHARE = 0.1
#: Zipf frequency at and above which a word counts as fully ordinary English (oddity 0).
ORDINARY_ZIPF = 7.0


def discover_terms(store: Store, run: str | None = None, early: int | None = None, late: int | None = None,
                   top: int = 20, min_docs: int = 5, direction: str = "rising", scope: str = "reasoning",
                   environment: str | None = None, examples: bool = True):
    """Rank tokens that emerge (or fade) across checkpoints, without being told what to look for.

    score = keyness_z × oddity_weight × dispersion × trend_weight, where keyness_z is the
    Monroe et al. log-odds z of the late vs early steps (sign flipped for ``falling``),
    oddity_weight = 0.25 + 0.75·clip((7 − english_zipf)/7, 0, 1) (wordfreq Zipf; 0 = not an
    English word), dispersion = sqrt(docs_with_term / occurrences) in the target window (a term
    repeated in one looping transcript scores near 0) and trend_weight = 1 when the Mann–Kendall
    trend of doc_fraction over all steps agrees with ``direction`` at p < 0.1, else 0.5. Terms
    need ``min_docs`` transcripts in the target window (late for rising, early for falling).
    """
    import polars as pl

    if direction not in ("rising", "falling"):
        raise InputError(f"direction {direction!r}: expected rising or falling")
    stored = _check_scope(scope)
    if len(stored) != 1:
        raise InputError("discover works per stored scope: use --scope reasoning or --scope output")
    if top < 1 or min_docs < 1:
        raise InputError("--top and --min-docs must be at least 1")
    run = store.require_run(run)
    cells = _cells(store, scope, run, environment)
    totals = cells.group_by("step").agg(pl.col("tokens", "docs").sum()).sort("step")
    steps = totals["step"].to_list()
    if len(steps) < 2:
        raise NothingToReport(f"run {run!r} has {len(steps)} counted step(s); discover compares at least 2")
    default = max(1, len(steps) // 3)
    early = default if early is None else early
    late = default if late is None else late
    if early < 1 or late < 1 or early + late > len(steps):
        raise InputError(f"--early {early} and --late {late}: need >= 1 each and at most {len(steps)} steps together")
    early_steps, late_steps = steps[:early], steps[-late:]
    window = late_steps if direction == "rising" else early_steps
    series = store.frame(load_sql("term_step_series"), {
        "run": run, "scope": stored[0], "window": window, "min_docs": min_docs, "environment": environment})
    if series.is_empty():
        raise NothingToReport(f"no term is used in >= {min_docs} transcripts of steps {window} in run {run!r}")
    # terms x steps matrices (missing cells = 0)
    terms = series["term"].unique().sort()
    grid = terms.to_frame().join(totals.select("step"), how="cross")
    full = grid.join(series, on=["term", "step"], how="left").fill_null(0).sort("term", "step")
    k = len(steps)
    occ = full["occurrences"].to_numpy().reshape(len(terms), k).astype(np.float64)
    dwt = full["docs_with_term"].to_numpy().reshape(len(terms), k).astype(np.float64)
    tok = totals["tokens"].to_numpy().astype(np.float64)
    docs = totals["docs"].to_numpy().astype(np.float64)
    e_idx, l_idx = np.arange(early), np.arange(k - late, k)
    occ_e, occ_l = occ[:, e_idx].sum(1), occ[:, l_idx].sum(1)
    prior = PRIOR_SHARE * occ.sum(1)
    alpha0 = PRIOR_SHARE * tok.sum()
    _, z = term_stats.log_odds_dirichlet(occ_e, tok[e_idx].sum(), occ_l, tok[l_idx].sum(), prior, alpha0)
    sign = 1.0 if direction == "rising" else -1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = dwt / docs
    tau, p = term_stats.mann_kendall(fraction)
    slope = term_stats.theil_sen(occ / tok * 1000.0, np.asarray(steps, np.float64))
    target = l_idx if direction == "rising" else e_idx
    occ_t, dwt_t = occ[:, target].sum(1), dwt[:, target].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dispersion = np.sqrt(np.where(occ_t > 0, dwt_t / occ_t, 0.0))
    zipf = _english_zipf(terms.to_list())
    oddity = 0.25 + 0.75 * np.clip((ORDINARY_ZIPF - zipf) / ORDINARY_ZIPF, 0.0, 1.0)
    agrees = (np.sign(np.nan_to_num(tau)) == sign) & (np.nan_to_num(p, nan=1.0) < 0.1)
    trend_weight = np.where(agrees, 1.0, 0.5)
    keyness = sign * z
    score = np.where(keyness > 0, keyness * oddity * dispersion * trend_weight, 0.0)
    df = pl.DataFrame({
        "term": terms, "score": score, "english_zipf": zipf, "keyness_z": z, "trend_p": p,
        "slope": slope, "docs_with_term_early": dwt[:, e_idx].sum(1).astype(np.int64),
        "docs_with_term_late": dwt[:, l_idx].sum(1).astype(np.int64),
        "occurrences_early": occ_e.astype(np.int64), "occurrences_late": occ_l.astype(np.int64),
    }).with_columns(pl.col("trend_p", "slope").fill_nan(None))
    df = df.filter(pl.col("score") > 0).sort(["score", "term"], descending=[True, False]).head(top)
    example = [""] * df.height
    if examples and df.height:
        example = _examples(store, run, window, df["term"].to_list(), stored[0])
    return df.with_columns(pl.Series("example", example, pl.String))


def _english_zipf(terms: list[str]) -> np.ndarray:
    from wordfreq import zipf_frequency

    return np.array([zipf_frequency(t, "en") for t in terms], np.float64)


def _examples(store: Store, run: str, steps: list[int], terms: list[str], scope: str) -> list[str]:
    """A short context line for each term, from the first transcript in ``steps`` using it."""
    ids = dict((t, i) for i, t in store.rows(load_sql("term_vocab_exact"), {"terms": terms}))
    if not ids:
        return [""] * len(terms)
    rows = store.rows(load_sql("term_examples"), {"run": run, "steps": steps, "scope": scope, "ids": list(ids.values())})
    pk_of = {tid: pk for tid, pk in rows}
    pks = sorted(set(pk_of.values()))
    texts: dict[int, list[str]] = {}
    for pk, _, text in store.rows(load_sql("term_kwic_text"), {"pks": pks, "kinds": list(SCOPES[scope])}):
        texts.setdefault(pk, []).append(text)
    out = []
    for term in terms:
        pk = pk_of.get(ids.get(term, -1))
        line = ""
        for text in texts.get(pk, []):
            hit = next(_kwic_lines(text, {term}, 40), None)
            if hit:
                left, match, right = hit
                line = f"…{left}[{match}]{right}…"
                break
        out.append(line)
    return out
