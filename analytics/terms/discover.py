"""Emergent-vocabulary discovery: terms (or phrases) that rise or fall against early checkpoints."""

from __future__ import annotations

import math

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.kinds import KINDS_OF_SCOPE as SCOPES
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms import notes
from cotwatch.analytics.terms import stats as term_stats
from cotwatch.analytics.terms.concordance import _cut, _kwic_lines
from cotwatch.analytics.terms.filters import StopwordsArg, TermFilter, term_filter
from cotwatch.analytics.terms.phrases import TokenSequence, candidate_ids, candidate_segments
from cotwatch.analytics.terms.rates import RunArg, _cells, _check_scope, runs_or_only

# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------
#: Strength of the informative Dirichlet prior, as a share of the run's tokens: α_w is this
#: share of the term's count over the whole run (Monroe et al. use background counts as prior).
PRIOR_SHARE = 0.1
#: Zipf frequency at and above which a word counts as fully ordinary English (oddity 0).
ORDINARY_ZIPF = 7.0
#: Default floor of |keyness_z|: the late-vs-early log-odds difference significant at 5% (two-sided).
MIN_KEYNESS = 1.96
DISCOVER_COLUMNS = ["run", "rank", "term", "score", "english_zipf", "keyness_z", "trend_p", "slope",
                    "docs_with_term_early", "docs_with_term_late", "occurrences_early", "occurrences_late",
                    "example"]


def discover_terms(store: Store, run: RunArg = None, early: int | None = None, late: int | None = None,
                   top: int = 20, min_docs: int | None = None, direction: str = "rising", scope: str = "reasoning",
                   environment: str | None = None, examples: bool = True, *, ngram: int = 1,
                   script: str = "auto", min_length: int = 2, stopwords: StopwordsArg = None,
                   min_keyness: float = MIN_KEYNESS):
    """Rank tokens (``ngram=1``) or phrases of ``ngram`` tokens (2-5) that emerge (or fade) across
    checkpoints, without being told what to look for.

    score = keyness_z × oddity_weight × dispersion × trend_weight, where keyness_z is the
    Monroe et al. log-odds z of the late vs early steps (sign flipped for ``falling``),
    oddity_weight = 0.25 + 0.75·clip((7 − english_zipf)/7, 0, 1) (wordfreq Zipf; 0 = not an
    English word; phrases have no English baseline — wordfreq holds no multi-word entries — so
    their weight is 1 and english_zipf is null), dispersion = sqrt(docs_with_term / occurrences)
    in the target window (a term repeated in one looping transcript scores near 0) and
    trend_weight = 1 when the Mann–Kendall trend of doc_fraction over all steps agrees with
    ``direction`` at p < 0.1, else 0.5. Only terms with keyness_z ≥ ``min_keyness`` in the asked
    direction are ranked.

    Terms need ``min_docs`` transcripts in the target window (late for rising, early for
    falling); by default 2% of the window's transcripts, between 1 and 5. ``script``,
    ``min_length`` and ``stopwords`` filter what is ranked (:mod:`~cotwatch.analytics.terms.filters`).
    Ties are broken by keyness, then occurrences and transcripts in the target window, then
    alphabetically; ``rank`` is shared by equal scores. With several runs each is ranked on its
    own (a ``run`` column tells them apart). When nothing qualifies, NothingToReport says why and
    which option to change.
    """
    import polars as pl

    if direction not in ("rising", "falling"):
        raise InputError(f"direction {direction!r}: expected rising or falling")
    stored = _check_scope(scope)
    if len(stored) != 1:
        raise InputError("discover works per stored scope: use --scope reasoning or --scope output")
    if top < 1 or (min_docs is not None and min_docs < 1):
        raise InputError("--top and --min-docs must be at least 1")
    if not 1 <= ngram <= 5:
        raise InputError(f"--ngram {ngram}: expected 1 (tokens) to 5")
    runs = runs_or_only(store, run)
    frames, reasons = [], []
    for name in runs:
        flt = term_filter(store, script=script, min_length=min_length, stopwords=stopwords, runs=[name],
                          scopes=stored, environment=environment)
        try:
            frames.append(_discover_run(store, name, early, late, top, min_docs, direction, stored[0], scope,
                                        environment, examples, ngram, flt, min_keyness))
        except NothingToReport as exc:
            if len(runs) == 1:
                raise
            reasons.append(str(exc))
            notes.note(str(exc))
    if not frames:
        raise NothingToReport("; ".join(reasons))
    return pl.concat(frames).select(DISCOVER_COLUMNS)


def _discover_run(store: Store, run: str, early, late, top, min_docs, direction, stored: str, scope: str,
                  environment, examples: bool, ngram: int, flt: TermFilter, min_keyness: float):
    import polars as pl

    cells = _cells(store, scope, [run], environment)
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
    window_docs = int(totals.filter(pl.col("step").is_in(window))["docs"].sum())
    what = "phrase" if ngram > 1 else "term"
    if min_docs is None:  # adaptive: 2% of the window's transcripts, between 1 and 5
        min_docs = max(1, min(5, math.ceil(0.02 * window_docs)))
    elif min_docs > window_docs:
        raise InputError(f"--min-docs {min_docs}: the target window (steps {_steps(window)} of run {run!r}) holds "
                         f"{window_docs} transcript(s); the largest usable value is {max(window_docs, 1)}")
    if ngram == 1:
        series = store.frame(load_sql("term_step_series"), {
            "run": run, "scope": stored, "window": window, "min_docs": min_docs, "environment": environment})
        denominators = totals.select("step", pl.col("tokens").alias("total"))
    else:
        from cotwatch.analytics.terms.ngrams import ngram_step_counts

        counts, grams = ngram_step_counts(store, run, ngram, SCOPES[scope], environment)
        in_window = counts.filter(pl.col("step").is_in(window)).group_by("term").agg(
            pl.col("docs_with_term").sum().alias("_w"))
        keep = in_window.filter(pl.col("_w") >= min_docs).select("term")
        series = counts.join(keep, on="term", how="semi")
        denominators = totals.select("step").join(grams.rename({"grams": "total"}), on="step", how="left").fill_null(0)
    if series.is_empty():
        most = _most_docs(store, run, stored, window, environment) if ngram == 1 else int(
            in_window["_w"].max() or 0)
        raise NothingToReport(f"no {what} is used in >= {min_docs} transcripts of steps {_steps(window)} in run "
                              f"{run!r} (the most any {what} reaches is {most}); use --min-docs {max(most, 1)}")
    candidates = series.select("term").unique()
    passing = candidates.filter(flt.expression("term", ngram))
    if passing.is_empty():
        raise NothingToReport(f"every {what} used in >= {min_docs} transcripts of steps {_steps(window)} in run "
                              f"{run!r} is filtered out ({flt.describe()}); use --script any, --min-length 1 "
                              "or fewer --stopwords")
    # terms x steps matrices (missing cells = 0)
    terms = series["term"].unique().sort()
    grid = terms.to_frame().join(totals.select("step"), how="cross")
    full = grid.join(series, on=["term", "step"], how="left").fill_null(0).sort("term", "step")
    k = len(steps)
    occ = full["occurrences"].to_numpy().reshape(len(terms), k).astype(np.float64)
    dwt = full["docs_with_term"].to_numpy().reshape(len(terms), k).astype(np.float64)
    tok = denominators.sort("step")["total"].to_numpy().astype(np.float64)
    docs = totals["docs"].to_numpy().astype(np.float64)
    e_idx, l_idx = np.arange(early), np.arange(k - late, k)
    occ_e, occ_l = occ[:, e_idx].sum(1), occ[:, l_idx].sum(1)
    prior = PRIOR_SHARE * occ.sum(1)
    alpha0 = PRIOR_SHARE * tok.sum()
    _, z = term_stats.log_odds_dirichlet(occ_e, tok[e_idx].sum(), occ_l, tok[l_idx].sum(), prior, alpha0)
    sign = 1.0 if direction == "rising" else -1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = dwt / docs
        rate = occ / tok * 1000.0
    tau, p = term_stats.mann_kendall(fraction)
    slope = term_stats.theil_sen(np.nan_to_num(rate), np.asarray(steps, np.float64))
    target = l_idx if direction == "rising" else e_idx
    occ_t, dwt_t = occ[:, target].sum(1), dwt[:, target].sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dispersion = np.sqrt(np.where(occ_t > 0, dwt_t / occ_t, 0.0))
    if ngram == 1:
        zipf = _english_zipf(terms.to_list())
        oddity = 0.25 + 0.75 * np.clip((ORDINARY_ZIPF - zipf) / ORDINARY_ZIPF, 0.0, 1.0)
    else:
        zipf = np.full(len(terms), np.nan)
        oddity = np.ones(len(terms))
    agrees = (np.sign(np.nan_to_num(tau)) == sign) & (np.nan_to_num(p, nan=1.0) < 0.1)
    trend_weight = np.where(agrees, 1.0, 0.5)
    keyness = sign * z
    score = np.where(keyness > 0, keyness * oddity * dispersion * trend_weight, 0.0)
    df = pl.DataFrame({
        "term": terms, "score": score, "english_zipf": zipf, "keyness_z": z, "trend_p": p,
        "slope": slope, "docs_with_term_early": dwt[:, e_idx].sum(1).astype(np.int64),
        "docs_with_term_late": dwt[:, l_idx].sum(1).astype(np.int64),
        "occurrences_early": occ_e.astype(np.int64), "occurrences_late": occ_l.astype(np.int64),
        "_keyness": keyness, "_occ_t": occ_t, "_dwt_t": dwt_t,
    }).with_columns(pl.col("trend_p", "slope", "english_zipf").fill_nan(None))
    df = df.join(passing, on="term", how="semi")
    ranked = df.filter((pl.col("score") > 0) & (pl.col("_keyness") >= min_keyness))
    if ranked.is_empty():
        best = df.sort("_keyness", descending=True).head(1)
        strongest = (f" (the strongest: {best['term'][0]!r} at keyness z = {best['_keyness'][0]:.2f})"
                     if best.height and best["_keyness"][0] > 0 else "")
        verb = "rises" if direction == "rising" else "falls"
        raise NothingToReport(
            f"no {what} {verb} with keyness z >= {min_keyness:g} between steps {_steps(early_steps)} and "
            f"{_steps(late_steps)} of run {run!r} ({_window_docs(totals, early_steps)} and "
            f"{_window_docs(totals, late_steps)} transcripts){strongest}; lower --min-keyness or widen --early/--late")
    ranked = ranked.sort(["score", "_keyness", "_occ_t", "_dwt_t", "term"],
                         descending=[True, True, True, True, False]).head(top)
    ranked = ranked.with_columns(pl.col("score").round_sig_figs(12).rank("min", descending=True).cast(pl.Int64)
                                 .alias("rank"), pl.lit(run).alias("run"))
    example = [""] * ranked.height
    if examples and ranked.height:
        terms_out = ranked["term"].to_list()
        example = (_examples(store, run, window, terms_out, stored) if ngram == 1
                   else _phrase_examples(store, run, window, terms_out, stored, environment))
    return ranked.with_columns(pl.Series("example", example, pl.String)).select(DISCOVER_COLUMNS)


def _steps(steps: list[int]) -> str:
    return "[" + ", ".join(map(str, steps)) + "]"


def _window_docs(totals, steps) -> int:
    import polars as pl

    return int(totals.filter(pl.col("step").is_in(steps))["docs"].sum())


def _most_docs(store: Store, run: str, scope: str, window: list[int], environment: str | None) -> int:
    rows = store.rows(load_sql("term_window_max_docs"), {"run": run, "scope": scope, "window": window,
                                                         "environment": environment})
    return int(rows[0][0] or 0) if rows else 0


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


def _phrase_examples(store: Store, run: str, steps: list[int], phrases: list[str], scope: str,
                     environment: str | None) -> list[str]:
    """A context line for each phrase, from the first segment (in transcript order) holding it."""
    from cotwatch.analytics.kinds import kinds_of_stored_scope

    kinds = kinds_of_stored_scope(scope)
    out = []
    for phrase in phrases:
        seq = TokenSequence(tuple(phrase.split(" ")))
        ids = candidate_ids(store, seq)
        line = ""
        if ids is not None:
            for _, texts in candidate_segments(store, seq, ids, [scope], kinds, [run], environment, steps, 256):
                for text in texts:
                    spans = seq.spans(text)
                    if spans:
                        left, match, right = _cut(text, *spans[0], 40)
                        line = f"…{left}[{match}]{right}…"
                        break
                if line:
                    break
        out.append(line)
    return out
