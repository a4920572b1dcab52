"""Term tracking across checkpoints: rates with intervals, trends, discovery, KWIC, word shift.

Every series comes from the materialized counts (``analytics/termcounts.py``): single tokens from
the per-cell sums (``step_term_counts``), wildcards, regexes, groups and ``--scope all`` from the
per-transcript lists (``doc_term_lists``), so that a transcript with several matching tokens
counts once in ``docs_with_term``. Only :func:`kwic` (and discover's ``example``) read text, and
only of transcripts the counts say contain the term.

>>> from analytics.store import Store
>>> with Store.open("runs.duckdb") as store:                       # doctest: +SKIP
...     term_rates(store, ["autop", "disclaim*", "@o3_emergent"], run="rl-1")
...     discover_terms(store, run="rl-1", top=20)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from analytics import term_stats
from analytics.errors import InputError, NothingToReport
from analytics.store import Store, load_sql
from analytics.term_specs import TermSpec, Watchlist, load_watchlist, parse_terms
from analytics.tokens import SCOPES, TOKEN_RE, normalize

#: CLI scope → stored scopes (doc_tokens/doc_term_lists/step tables).
STORED_SCOPES = {"reasoning": ("reasoning",), "output": ("output",), "all": ("reasoning", "output", "other")}

RATE_COLUMNS = [
    "run", "step", "term", "occurrences", "tokens", "rate_per_1k", "docs", "docs_with_term",
    "doc_fraction", "doc_fraction_lo", "doc_fraction_hi", "rate_lo", "rate_hi",
]


def _check_scope(scope: str) -> tuple[str, ...]:
    if scope not in STORED_SCOPES:
        raise InputError(f"scope {scope!r}: expected one of {', '.join(STORED_SCOPES)}")
    return STORED_SCOPES[scope]


def _specs(terms: Iterable[str | TermSpec], watchlist: Watchlist | str | Path | None) -> list[TermSpec]:
    """Parse ``terms``; with none, every term of ``watchlist`` (a Watchlist or a TOML path; the
    shipped default watchlist when None)."""
    if watchlist is not None and not isinstance(watchlist, Watchlist):
        watchlist = load_watchlist(watchlist)
    specs, texts = [], []
    for t in terms or ():
        (specs if isinstance(t, TermSpec) else texts).append(t)
    specs += parse_terms(texts, watchlist)
    if not specs:  # no terms: every term of the watchlist (the shipped default when none is given)
        specs = (watchlist or load_watchlist()).all_terms()
    if not specs:
        raise InputError("no terms given and the watchlist is empty (name at least one TERM)")
    return specs


# --------------------------------------------------------------------------------------------
# Resolving specs against the counted vocabulary
# --------------------------------------------------------------------------------------------
def resolve_terms(store: Store, specs: Sequence[TermSpec]):
    """(label, term, term_id) for every counted token each spec matches (polars DataFrame).

    Tokens that were never counted have no row (their counts are zero).
    """
    import polars as pl

    rows: list[tuple[str, str, int]] = []
    all_vocab = None
    for spec in specs:
        leaves = spec.members if spec.kind == "group" else (spec,)
        found: dict[str, int] = {}
        tokens = [leaf.pattern for leaf in leaves if leaf.kind == "token"]
        if tokens:
            found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_exact"), {"terms": tokens})})
        for leaf in leaves:
            if leaf.kind == "wildcard":
                like = leaf.pattern.replace("*", "%")
                matcher = leaf.regex()
                found.update({term: tid for tid, term in store.rows(load_sql("term_vocab_match"), {"like": like})
                              if matcher.match(term)})
            elif leaf.kind == "regex":
                if all_vocab is None:
                    all_vocab = store.rows(load_sql("term_vocab_all"))
                matcher = leaf.regex()
                found.update({term: tid for tid, term in all_vocab if matcher.search(term)})
        rows += [(spec.label, term, tid) for term, tid in sorted(found.items())]
    return pl.DataFrame(rows, schema={"label": pl.String, "term": pl.String, "term_id": pl.Int64}, orient="row")


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------
def _cells(store: Store, scope: str, run: str | None, environment: str | None):
    stored = _check_scope(scope)
    if len(stored) == 1:
        return store.frame(load_sql("term_cells"), {"scope": stored[0], "run": run, "environment": environment})
    return store.frame(load_sql("term_cells_docs"), {"scopes": list(stored), "run": run, "environment": environment})


def _label_sums(store: Store, matches, single: set[str], scope: str, run, environment):
    """Per (run, step, environment, label) sums: occurrences, docs_with_term, sum_n2, sum_n_tokens."""
    import polars as pl

    stored = STORED_SCOPES[scope]
    frames = []
    fast = matches.filter(pl.col("label").is_in(list(single))) if len(stored) == 1 else matches.clear()
    slow = matches.filter(~pl.col("label").is_in(fast["label"].unique().to_list()))
    con = store.con
    if fast.height:
        con.register("_labels", fast.select("label", "term").to_arrow())
        try:
            frames.append(store.frame(load_sql("term_cell_counts"),
                                      {"scope": stored[0], "run": run, "environment": environment}))
        finally:
            con.unregister("_labels")
    if slow.height:
        con.register("_labels", slow.select("label", "term_id").to_arrow())
        try:
            frames.append(store.frame(load_sql("term_doc_counts"), {
                "ids": slow["term_id"].unique().sort().to_list(), "scopes": list(stored),
                "run": run, "environment": environment}))
        finally:
            con.unregister("_labels")
    schema = {"run": pl.String, "step": pl.Int64, "environment": pl.String, "label": pl.String,
              "occurrences": pl.Int64, "docs_with_term": pl.Int64, "sum_n2": pl.Int64, "sum_n_tokens": pl.Int64}
    frames = [f.cast(schema) for f in frames]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def term_rates(store: Store, terms: Iterable[str | TermSpec], run: str | None = None,
               environment: str | None = None, by_environment: bool = False,
               scope: str = "reasoning", expand: bool = False, watchlist: Watchlist | str | Path | None = None):
    """One row per (run, step, term[, environment]): occurrences, tokens, rate_per_1k, docs,
    docs_with_term, doc_fraction (+ 95% Wilson interval) and a 95% cluster-robust rate interval.

    ``terms``: tokens, wildcards (``autop*``), regexes (``/^disclaim/``) or watchlist groups
    (``@name``, from ``watchlist`` — a Watchlist or TOML path — else the default watchlist);
    with no terms, every term of ``watchlist``. ``expand`` adds a row per token a wildcard/regex/group matched. ``run=None``
    reports every run. Intervals: see :func:`analytics.term_stats.ratio_interval`.
    """
    import polars as pl

    specs = _specs(terms, watchlist)
    _check_scope(scope)
    if run is not None:
        store.require_run(run)
    cells = _cells(store, scope, run, environment)
    if cells.is_empty():
        where = f" in run {run!r}" if run else ""
        where += f" for environment {environment!r}" if environment else ""
        raise NothingToReport(f"no counted transcripts{where} (ingest some, or run `cotwatch terms materialize`)")
    matches = resolve_terms(store, specs)
    labels = [s.label for s in specs]
    single = {s.label for s in specs if s.is_single_token}
    if expand:
        members = matches.filter(~pl.col("label").is_in(list(single)))
        extra = members.select(pl.col("term").alias("label"), "term", "term_id").unique(maintain_order=True)
        extra = extra.filter(~pl.col("label").is_in(labels))
        matches = pl.concat([matches, extra])
        single |= set(extra["label"].to_list())
        labels += extra["label"].to_list()
    sums = _label_sums(store, matches, single, scope, run, environment)
    label_order = pl.DataFrame({"label": labels, "_order": list(range(len(labels)))},
                               schema={"label": pl.String, "_order": pl.Int64})
    grid = cells.join(label_order, how="cross")
    keys = ["run", "step", "environment", "label"]
    df = grid.join(sums, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col("occurrences", "docs_with_term", "sum_n2", "sum_n_tokens").fill_null(0)
    )
    if expand:  # expanded tokens that never occur in the selection are noise
        seen = df.group_by("label").agg(pl.col("occurrences").sum().alias("_total"))
        keep = set(seen.filter(pl.col("_total") > 0)["label"].to_list()) | {s.label for s in specs}
        df = df.filter(pl.col("label").is_in(list(keep)))
    group = ["run", "step", "label", "_order"] + (["environment"] if by_environment else [])
    sums_cols = ["occurrences", "docs_with_term", "sum_n2", "sum_n_tokens", "transcripts", "docs", "tokens", "sum_tokens2"]
    df = df.group_by(group).agg(pl.col(sums_cols).sum())
    df = _with_rate_stats(df)
    sort = ["_order", "run"] + (["environment"] if by_environment else []) + ["step"]
    columns = RATE_COLUMNS[:3] + (["environment"] if by_environment else []) + RATE_COLUMNS[3:]
    return df.sort(sort, nulls_last=True).rename({"label": "term"}).select(columns)


def _with_rate_stats(df):
    """Add rate_per_1k, doc_fraction (+ Wilson), rate_lo/hi from the summed columns."""
    import polars as pl

    rate, lo, hi = term_stats.ratio_interval(
        df["occurrences"].to_numpy(), df["sum_n2"].to_numpy(), df["sum_n_tokens"].to_numpy(),
        df["tokens"].to_numpy(), df["sum_tokens2"].to_numpy(), df["docs"].to_numpy())
    wlo, whi = term_stats.wilson_interval(df["docs_with_term"].to_numpy(), df["docs"].to_numpy())
    docs = df["docs"].to_numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = df["docs_with_term"].to_numpy() / docs
    return df.with_columns(
        pl.Series("rate_per_1k", rate * 1000.0).fill_nan(None),
        pl.Series("doc_fraction", fraction).fill_nan(None),
        pl.Series("doc_fraction_lo", wlo).fill_nan(None),
        pl.Series("doc_fraction_hi", whi).fill_nan(None),
        pl.Series("rate_lo", lo * 1000.0).fill_nan(None),
        pl.Series("rate_hi", hi * 1000.0).fill_nan(None),
    )


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------
def term_trends(store: Store, terms: Iterable[str | TermSpec], run: str | None = None,
                environment: str | None = None, by_environment: bool = False,
                scope: str = "reasoning", expand: bool = False, watchlist: Watchlist | str | Path | None = None,
                alpha: float = 0.05):
    """Per (run, term[, environment]): the trend of rate_per_1k across steps.

    Columns: run, term[, environment], steps, first_rate, last_rate, tau, trend_p (Mann–Kendall,
    two-sided), slope (Theil–Sen, rate_per_1k per training step), slope_per_1k_steps, direction
    (rising / falling when trend_p < ``alpha``, else flat).
    """
    import polars as pl

    rates = term_rates(store, terms, run=run, environment=environment, by_environment=by_environment,
                       scope=scope, expand=expand, watchlist=watchlist)
    keys = ["run", "term"] + (["environment"] if by_environment else [])
    return series_trends(rates, keys, "rate_per_1k", alpha=alpha).rename(
        {"first_value": "first_rate", "last_value": "last_rate"})


def series_trends(df, keys: list[str], value: str, *, alpha: float = 0.05):
    """Mann–Kendall + Theil–Sen of ``value`` over ``step`` for each ``keys`` group, vectorized
    over the groups that share a step grid (one matrix per grid). Null values count as 0."""
    import polars as pl

    order = df.select(keys).unique(maintain_order=True).with_row_index("_series")
    data = df.join(order, on=keys, how="left", nulls_equal=True).with_columns(pl.col(value).fill_null(0.0))
    grids = data.group_by("_series").agg(pl.col("step").sort().alias("_steps"))
    out = []
    for (steps,), members in grids.group_by("_steps"):
        ids = members["_series"].to_list()
        sub = data.filter(pl.col("_series").is_in(ids)).sort("_series", "step")
        matrix = sub[value].to_numpy().reshape(len(ids), len(steps)).astype(np.float64)
        ordered_ids = sub["_series"].unique(maintain_order=True).to_list()
        tau, p = term_stats.mann_kendall(matrix)
        slope = term_stats.theil_sen(matrix, np.asarray(steps, np.float64))
        out.append(pl.DataFrame({
            "_series": ordered_ids, "steps": [len(steps)] * len(ids),
            "first_value": matrix[:, 0], "last_value": matrix[:, -1],
            "tau": tau, "trend_p": p, "slope": slope,
        }, schema_overrides={"_series": pl.UInt32}))
    stats = pl.concat(out) if out else pl.DataFrame(schema={"_series": pl.UInt32})
    res = order.join(stats, on="_series", how="left").sort("_series").drop("_series")
    return res.with_columns(
        (pl.col("slope") * 1000).alias("slope_per_1k_steps"),
        pl.when(pl.col("trend_p") < alpha).then(
            pl.when(pl.col("tau") > 0).then(pl.lit("rising")).otherwise(pl.lit("falling"))
        ).otherwise(pl.lit("flat")).alias("direction"),
    ).with_columns(pl.col("tau", "trend_p", "slope", "slope_per_1k_steps").fill_nan(None))


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


# --------------------------------------------------------------------------------------------
# KWIC
# --------------------------------------------------------------------------------------------
KWIC_COLUMNS = ["transcript_id", "run", "step", "environment", "left", "match", "right"]


def kwic(store: Store, term: str | TermSpec, run: str | None = None, step: int | None = None,
         width: int = 60, limit: int = 20, scope: str = "reasoning", environment: str | None = None,
         watchlist: Watchlist | str | Path | None = None):
    """Keyword-in-context lines for ``term`` (any spec): transcript_id, run, step, environment,
    left, match, right — the original text around each occurrence, whitespace folded.

    The transcripts are found through the materialized counts, then only their text is read.
    """
    import polars as pl

    if width < 1 or limit < 1:
        raise InputError("--width and --limit must be at least 1")
    stored = _check_scope(scope)
    spec = _specs([term], watchlist)[0]
    if run is not None:
        store.require_run(run)
    matches = resolve_terms(store, [spec])
    rows: list[tuple] = []
    if matches.height:
        wanted = set(matches["term"].to_list())
        docs = store.rows(load_sql("term_kwic_docs"), {
            "ids": matches["term_id"].to_list(), "scopes": list(stored), "run": run, "step": step,
            "environment": environment, "limit": limit})
        kinds = [k for s in stored for k in _kinds_of(s)]
        for start in range(0, len(docs), 64):
            chunk = docs[start:start + 64]
            texts: dict[int, list[str]] = {}
            for pk, _, text in store.rows(load_sql("term_kwic_text"), {"pks": [d[0] for d in chunk], "kinds": kinds}):
                texts.setdefault(pk, []).append(text)
            for pk, tid, r, st, env in chunk:
                for text in texts.get(pk, []):
                    for left, match, right in _kwic_lines(text, wanted, width):
                        rows.append((tid, r, st, env, left, match, right))
                        if len(rows) >= limit:
                            break
                    if len(rows) >= limit:
                        break
                if len(rows) >= limit:
                    break
            if len(rows) >= limit:
                break
    schema = {"transcript_id": pl.String, "run": pl.String, "step": pl.Int64, "environment": pl.String,
              "left": pl.String, "match": pl.String, "right": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _kinds_of(stored_scope: str) -> tuple[str, ...]:
    from analytics.termcounts import SCOPE_OF_KIND

    return tuple(k for k, s in SCOPE_OF_KIND.items() if s == stored_scope)


_WS = re.compile(r"\s+")


def _kwic_lines(text: str, wanted: set[str], width: int):
    """(left, match, right) for each token of ``text`` in ``wanted`` (tokens per the contract),
    cut from the original text (normalization can change lengths: positions are mapped back)."""
    norm = normalize(text)
    if len(norm) == len(text):
        back = None
    else:  # map normalized offsets to original ones (e.g. 'İ'.lower() is two characters)
        lengths = np.fromiter((len(normalize(c)) for c in text), np.int64, len(text))
        ends = np.cumsum(lengths)
        back = lambda i: int(np.searchsorted(ends, i, side="right"))  # noqa: E731
    for m in TOKEN_RE.finditer(norm):
        if m.group() not in wanted:
            continue
        a, b = m.span()
        if back is not None:
            a, b = back(a), back(b - 1) + 1
        left = _WS.sub(" ", text[max(0, a - width):a])
        right = _WS.sub(" ", text[b:b + width])
        yield left.rjust(width) if len(left) < width else left[-width:], text[a:b], right[:width]


# --------------------------------------------------------------------------------------------
# Word shift
# --------------------------------------------------------------------------------------------
SHIFT_COLUMNS = ["term", "occurrences_from", "occurrences_to", "rate_from", "rate_to", "shift",
                 "jsd_contribution", "share", "direction"]


def word_shift(store: Store, run: str | None = None, from_step: int | None = None, to_step: int | None = None,
               top: int = 20, scope: str = "reasoning", environment: str | None = None):
    """Which terms drive the difference between two checkpoints.

    Per term: occurrences and rate_per_1k at each step, shift = rate_to − rate_from (the
    proportion shift, per 1k tokens), jsd_contribution = its share (bits) of the Jensen–Shannon
    divergence between the two word distributions (contributions sum to the JSD), share of the
    JSD and direction (which step uses it more). Top ``top`` by jsd_contribution.
    """
    run = store.require_run(run)
    steps = _run_steps(store, run, scope, environment)
    for label, s in (("--from", from_step), ("--to", to_step)):
        if s is None:
            raise InputError(f"word shift needs {label} STEP")
        if s not in steps:
            raise InputError(f"{label} {s}: run {run!r} has no counted step {s} (steps: {', '.join(map(str, steps))})")
    return _shift_pairs(store, run, [(from_step, to_step)], top, scope, environment).drop("from_step", "to_step", "jsd")


def chained_word_shift(store: Store, run: str | None = None, top: int = 10, scope: str = "reasoning",
                       environment: str | None = None):
    """:func:`word_shift` between every pair of consecutive steps: from_step, to_step, jsd (the
    pair's total) and the word-shift columns, ``top`` terms per pair."""
    run = store.require_run(run)
    steps = _run_steps(store, run, scope, environment)
    if len(steps) < 2:
        raise NothingToReport(f"run {run!r} has {len(steps)} counted step(s); a chained shift needs 2")
    return _shift_pairs(store, run, list(zip(steps[:-1], steps[1:])), top, scope, environment)


def _run_steps(store: Store, run: str, scope: str, environment: str | None) -> list[int]:
    cells = _cells(store, scope, run, environment)
    if cells.is_empty():
        raise NothingToReport(f"no counted transcripts in run {run!r}")
    return sorted(set(cells["step"].to_list()))


def _shift_pairs(store: Store, run: str, pairs: list[tuple[int, int]], top: int, scope: str,
                 environment: str | None):
    import polars as pl

    if top < 1:
        raise InputError("--top must be at least 1")
    stored = _check_scope(scope)
    steps = sorted({s for pair in pairs for s in pair})
    counts = store.frame(load_sql("term_step_occurrences"), {
        "run": run, "steps": steps, "scopes": list(stored), "environment": environment})
    totals = counts.group_by("step").agg(pl.col("occurrences").sum().alias("total"))
    counts = counts.join(totals, on="step")
    out = []
    for a, b in pairs:
        left = counts.filter(pl.col("step") == a).select("term", pl.col("occurrences").alias("occurrences_from"),
                                                          pl.col("total").alias("_ta"))
        right = counts.filter(pl.col("step") == b).select("term", pl.col("occurrences").alias("occurrences_to"),
                                                           pl.col("total").alias("_tb"))
        pair = left.join(right, on="term", how="full", coalesce=True).with_columns(
            pl.col("occurrences_from", "occurrences_to").fill_null(0))
        ta = float(totals.filter(pl.col("step") == a)["total"].sum())
        tb = float(totals.filter(pl.col("step") == b)["total"].sum())
        p = pair["occurrences_from"].to_numpy() / ta if ta else np.zeros(pair.height)
        q = pair["occurrences_to"].to_numpy() / tb if tb else np.zeros(pair.height)
        contrib = term_stats.jsd_contributions(p, q)
        jsd = float(contrib.sum())
        frame = pair.select("term", "occurrences_from", "occurrences_to").with_columns(
            pl.Series("rate_from", p * 1000), pl.Series("rate_to", q * 1000),
            pl.Series("shift", (q - p) * 1000), pl.Series("jsd_contribution", contrib),
            pl.Series("share", contrib / jsd if jsd > 0 else np.zeros(pair.height)),
            pl.Series("direction", np.where(q > p, "to", "from")),
        ).sort(["jsd_contribution", "term"], descending=[True, False]).head(top)
        out.append(frame.with_columns(pl.lit(a, pl.Int64).alias("from_step"), pl.lit(b, pl.Int64).alias("to_step"),
                                      pl.lit(jsd, pl.Float64).alias("jsd")))
    return pl.concat(out).select(["from_step", "to_step", "jsd"] + SHIFT_COLUMNS)


# --------------------------------------------------------------------------------------------
# Materializing (for the CLI: one call, one summary row)
# --------------------------------------------------------------------------------------------
def materialize_counts(store: Store, workers: int | None = None):
    """Count every transcript not counted yet (``termcounts.materialize``); one summary row:
    counted, pending (after), transcripts, terms (vocabulary size), seconds."""
    import time

    import polars as pl

    from analytics import termcounts

    start = time.perf_counter()
    counted = termcounts.materialize(store, workers=workers)
    seconds = time.perf_counter() - start
    pending = termcounts.pending_transcripts(store)
    total = store.rows("select count(*) from transcripts")[0][0]
    vocab = store.rows("select count(*) from term_vocab")[0][0]
    return pl.DataFrame({"counted": [counted], "pending": [pending], "transcripts": [total],
                         "terms": [vocab], "seconds": [round(seconds, 3)]})
