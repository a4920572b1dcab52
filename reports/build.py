"""Build a drift report: query the store through the analysis APIs, aggregate, chart.

:func:`build_report` returns a :class:`BuiltReport` — sections of charts (``alt.Chart`` objects over
small aggregated frames) and evidence tables (raw strings; the writer escapes them) — and writes
nothing: ``cotwatch.reports.write`` turns it into files. Every frame that reaches a chart is an aggregate
per (run, step[, term | environment]), bounded by the spec's limits, so the page size does not
grow with the number of transcripts.

Sections degrade on their own: when the analysis a section needs is not installed, raises a
:class:`~cotwatch.analytics.errors.CotwatchError` (e.g. no classifier trained yet) or returns no rows, the
section is omitted with a reason — logged, listed at the foot of the page and in
``report.json`` — and never filled with made-up data. With ``strict=True`` an unexpected
exception (a bug) propagates instead of becoming an omission.
"""

from __future__ import annotations

import importlib
import inspect
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cotwatch.analytics.errors import CotwatchError, NothingToReport
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.reports.spec import ReportSpec

Log = Callable[[str], None]

SECTION_TITLES = {
    "overview": "Overview",
    "terms": "Watchlist terms",
    "heatmap": "Terms × checkpoints",
    "emergent": "Emergent terms",
    "word_shift": "Word shift",
    "awareness": "Eval awareness",
    "awareness_covert": "Awareness × covert action",
    "environments": "Per-environment breakdown",
    "evidence": "Evidence",
}

#: Where each analysis lives (``module:function``). Looked up at run time, so a report still works,
#: minus the sections concerned, in an installation without one of them.
ANALYSES: dict[str, tuple[str, ...]] = {
    "term_rates": ("cotwatch.analytics.terms:term_rates",),
    "discover_terms": ("cotwatch.analytics.terms:discover_terms",),
    "kwic": ("cotwatch.analytics.terms:kwic",),
    "word_shift": ("cotwatch.analytics.terms:word_shift",),
    "chained_word_shift": ("cotwatch.analytics.terms:chained_word_shift",),
    "load_watchlist": ("cotwatch.analytics.terms.specs:load_watchlist",),
    "awareness_prevalence": ("cotwatch.classifiers.prevalence:awareness_prevalence",),
    # without it, the evidence section reads the public view api.sentence_scores instead
    "top_flagged_sentences": ("cotwatch.classifiers.prevalence:top_flagged_sentences",),
}


class Omit(Exception):
    """Raised by a section builder: the section is left out, for this reason."""


@dataclass
class ChartItem:
    name: str          # file-name safe; unique within the report
    chart: Any         # an altair chart; its .data is the frame saved as data/<name>.csv
    caption: str = ""


@dataclass
class TableItem:
    name: str
    caption: str
    frame: Any         # polars DataFrame of raw values; the writer escapes every cell


@dataclass
class Section:
    name: str
    title: str
    intro: str = ""
    charts: list[ChartItem] = field(default_factory=list)
    tables: list[TableItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Omitted:
    name: str
    title: str
    reason: str


@dataclass
class BuiltReport:
    spec: ReportSpec
    store_path: str
    runs: list[str]
    transcript_counts: dict[str, int]
    sections: list[Section]
    omitted: list[Omitted]
    generated_at: datetime
    since: datetime | None = None


@dataclass
class _Context:
    store: Store
    spec: ReportSpec
    runs: list[str]
    run_info: Any                      # polars frame from report_runs.sql
    log: Log
    strict: bool
    cache: dict[str, Any] = field(default_factory=dict)


def find_analysis(name: str) -> Callable | None:
    """The analysis function ``name`` if some module provides it (see :data:`ANALYSES`), else None."""
    for target in ANALYSES[name]:
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # the module itself is not there (yet)
            raise
        fn = getattr(module, attr, None)
        if callable(fn):
            return fn
    return None


def _need(name: str) -> Callable:
    fn = find_analysis(name)
    if fn is None:
        raise Omit(f"analysis {name}() is not available in this installation")
    return fn


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with the keyword arguments it accepts (None values are left to its defaults)."""
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    usable = {k: v for k, v in kwargs.items() if v is not None and (takes_any or k in params)}
    return fn(*args, **usable)


def _accepts(fn: Callable, name: str) -> bool:
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def slug(text: str) -> str:
    """A file-name-safe form of a run name (letters, digits, ``-``, ``_``, ``.``). A name that had
    to change carries a short hash of the original, so ``rl a`` and ``rl-a`` never share files."""
    import hashlib

    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    if s == text:
        return s
    return f"{s or 'run'}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"


# -- entry point ------------------------------------------------------------------------------
def build_report(store: Store, spec: ReportSpec, *, since: datetime | None = None, log: Log | None = None,
                 strict: bool = False) -> BuiltReport:
    """Run every section of ``spec`` against ``store``. Raises NothingToReport when no run matches."""
    log = log or (lambda _msg: None)
    run_info = store.frame(load_sql("report_runs", __package__), {"since": since})
    if spec.runs:
        missing = [r for r in spec.runs if r not in run_info["run"].to_list()]
        if missing and since is None:
            raise NothingToReport(f"{spec.source}: runs: no run named {', '.join(map(repr, missing))} in {store.path}")
        run_info = run_info.filter(run_info["run"].is_in(list(spec.runs)))
    if run_info.is_empty():
        when = f" with transcripts ingested since {since.isoformat()}" if since else ""
        raise NothingToReport(f"{store.path}: no runs{when} to report on")
    ctx = _Context(store=store, spec=spec, runs=run_info["run"].to_list(), run_info=run_info, log=log, strict=strict)
    sections, omitted = [], []
    for name in spec.section_names():
        title = SECTION_TITLES[name]
        started = time.perf_counter()
        try:
            section = BUILDERS[name](ctx)
        except Omit as exc:
            omitted.append(Omitted(name, title, str(exc)))
            log(f"{name}: omitted: {exc}")
            continue
        except CotwatchError as exc:
            omitted.append(Omitted(name, title, str(exc)))
            log(f"{name}: omitted: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 — one broken analysis must not sink a scheduled report
            if strict:
                raise
            reason = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            omitted.append(Omitted(name, title, reason))
            log(f"{name}: omitted: {reason}")
            continue
        sections.append(section)
        parts = [f"{len(section.charts)} chart(s)"] + ([f"{len(section.tables)} table(s)"] if section.tables else [])
        log(f"{name}: ok ({', '.join(parts)}{'; ' + '; '.join(section.notes) if section.notes else ''})"
            f" in {time.perf_counter() - started:.1f}s")
    if not sections:
        raise NothingToReport(f"{store.path}: every section was omitted ({'; '.join(f'{o.name}: {o.reason}' for o in omitted)})")
    counts = dict(zip(run_info["run"].to_list(), run_info["transcripts"].to_list()))
    return BuiltReport(spec=spec, store_path=str(store.path), runs=ctx.runs, transcript_counts=counts,
                       sections=sections, omitted=omitted, generated_at=datetime.now(timezone.utc), since=since)


# -- helpers shared by sections -----------------------------------------------------------------
def _overview_frame(ctx: _Context):
    if "overview" not in ctx.cache:
        ctx.cache["overview"] = ctx.store.frame(load_sql("report_overview", __package__), {"runs": ctx.runs})
    return ctx.cache["overview"]


def _thin_steps(df, max_steps: int):
    """Keep at most ``max_steps`` evenly spaced steps per run (first and last always kept)."""
    import polars as pl

    if df.is_empty():
        return df
    steps = df.select("run", "step").unique().sort("run", "step").with_columns(
        pl.col("step").rank("ordinal").over("run").alias("_i"), pl.len().over("run").alias("_n"))
    keep = steps.filter(
        (pl.col("_n") <= max_steps)
        | ((pl.col("_i") - 1) * (max_steps - 1) // (pl.col("_n") - 1)
           != (pl.col("_i") - 2) * (max_steps - 1) // (pl.col("_n") - 1))
        | (pl.col("_i") == pl.col("_n"))
    ).select("run", "step")
    return df.join(keep, on=["run", "step"], how="semi")


def _watch_terms(ctx: _Context) -> list[str]:
    """The spec's term queries, plus every term of its watchlist file; with neither, every term
    of analytics' default watchlist."""
    if "watch_terms" in ctx.cache:
        return ctx.cache["watch_terms"]
    terms = list(ctx.spec.watch_terms)
    if ctx.spec.watchlist_file is not None or not terms:
        loader = _need("load_watchlist")
        terms += [getattr(t, "label", str(t)) for t in loader(ctx.spec.watchlist_file).all_terms()]
    if not terms:
        raise Omit("the watchlist is empty")
    ctx.cache["watch_terms"] = list(dict.fromkeys(terms))
    return ctx.cache["watch_terms"]


def _term_rates(ctx: _Context):
    """term_rates for the watchlist, every run, thinned to max_steps; cached for terms + heatmap."""
    if "term_rates" in ctx.cache:
        return ctx.cache["term_rates"]
    import polars as pl

    fn = _need("term_rates")
    terms = _watch_terms(ctx)
    watchlist = str(ctx.spec.watchlist_file) if ctx.spec.watchlist_file else None
    frames = [_call(fn, ctx.store, terms, run=run, scope=ctx.spec.scope, watchlist=watchlist) for run in ctx.runs]
    df = pl.concat([f for f in frames if f is not None and not f.is_empty()], how="diagonal_relaxed") if frames else pl.DataFrame()
    if df.is_empty():
        raise Omit("the watchlist terms have no rows (no counted transcripts in scope)")
    if "run" not in df.columns:
        raise Omit("term_rates() returned no run column")
    df = _thin_steps(df, ctx.spec.max_steps)
    used = df.group_by("term").agg(pl.col("occurrences").sum().alias("total")).filter(pl.col("total") > 0)
    ctx.cache["term_rates_unused"] = sorted(set(df["term"].unique().to_list()) - set(used["term"].to_list()))
    df = df.join(used.select("term"), on="term", how="semi")
    if df.is_empty():
        raise Omit(f"none of the {len(terms)} watchlist terms occurs in the selected runs")
    ctx.cache["term_rates"] = df
    return df


# -- sections -----------------------------------------------------------------------------------
def _section_overview(ctx: _Context) -> Section:
    import polars as pl
    from cotwatch.reports.charts import overview_chart

    df = _overview_frame(ctx)
    if df.is_empty():
        raise Omit("no transcripts in the selected runs")
    summary = df.group_by("run").agg(
        pl.col("step").n_unique().alias("steps"),
        pl.col("step").min().alias("first_step"),
        pl.col("step").max().alias("last_step"),
        pl.col("environment").drop_nulls().n_unique().alias("environments"),
        pl.col("transcripts").sum().alias("transcripts"),
        pl.col("reasoning_tokens").sum().alias("reasoning_tokens"),
    ).sort("run")
    info = ctx.run_info.select("run", pl.col("last_ingested_at").dt.strftime("%Y-%m-%d %H:%M").alias("last_ingested"))
    summary = summary.join(info, on="run", how="left")
    chart_df = _thin_steps(df.select("run", "step", "environment", "transcripts", "reasoning_tokens"), ctx.spec.max_steps)
    return Section("overview", SECTION_TITLES["overview"],
                   intro="Runs, checkpoints, environments, transcripts and reasoning tokens in this report.",
                   charts=[ChartItem("overview", overview_chart(chart_df))],
                   tables=[TableItem("overview_runs", "One row per run.", summary)])


def _section_terms(ctx: _Context) -> Section:
    from cotwatch.reports.charts import term_rates_chart

    df = _term_rates(ctx)
    opts = ctx.spec.sections["terms"]
    unused = ctx.cache.get("term_rates_unused", [])
    notes = [f"{len(unused)} watchlist term(s) never occur: {', '.join(unused[:20])}"] if unused else []
    cols = [c for c in ("run", "step", "term", "occurrences", "tokens", "rate_per_1k", "rate_lo", "rate_hi",
                        "docs", "docs_with_term") if c in df.columns]
    return Section("terms", SECTION_TITLES["terms"],
                   intro="How often each watchlist term occurs in reasoning, per 1,000 reasoning tokens, at "
                         "every checkpoint. Bands are 95% intervals that account for tokens clustering within "
                         "transcripts.",
                   charts=[ChartItem("term_rates", term_rates_chart(df.select(cols), columns=opts["columns"]))],
                   notes=notes)


def _section_heatmap(ctx: _Context) -> Section:
    from cotwatch.reports.charts import term_heatmap

    df = _term_rates(ctx)
    cols = ["run", "step", "term", "doc_fraction", "docs_with_term", "docs"]
    return Section("heatmap", SECTION_TITLES["heatmap"],
                   intro="Share of transcripts that use each watchlist term at least once, per checkpoint.",
                   charts=[ChartItem("term_heatmap", term_heatmap(df.select(cols)))])


def _section_emergent(ctx: _Context) -> Section:
    import polars as pl
    from cotwatch.reports.charts import EMERGENT_COLUMNS, emergent_terms_chart

    fn = _need("discover_terms")
    opts = ctx.spec.sections["emergent"]
    charts, tables, per_run = [], [], {}
    for run in ctx.runs:
        df = _call(fn, ctx.store, run=run, early=opts["early"], late=opts["late"], top=opts["top"],
                   min_docs=opts["min_docs"], direction=opts["direction"], scope=ctx.spec.scope)
        if df is None or df.is_empty():
            continue
        df = df.head(opts["top"])
        per_run[run] = df
        name = "emergent_terms" if len(ctx.runs) == 1 else f"emergent_terms__{slug(run)}"
        chart = emergent_terms_chart(df)
        if len(ctx.runs) > 1:
            chart = chart.properties(title=f"Emergent terms — {run}")
        charts.append(ChartItem(name, chart))
        table = df.select([c for c in ("term", "score", "english_zipf", "keyness_z", "docs_with_term_early",
                                       "docs_with_term_late", "example") if c in df.columns])
        tables.append(TableItem(f"{name}_examples", f"Example context for each emergent term ({run}).",
                                table.with_columns(pl.lit(run).alias("run"))))
    if not charts:
        raise Omit("discovery found no emergent terms with the spec's limits")
    ctx.cache["emergent"] = per_run
    return Section("emergent", SECTION_TITLES["emergent"],
                   intro="Vocabulary found without a watchlist: tokens that are odd in English (low Zipf "
                         "frequency), key to the late checkpoints versus the early ones, trending across all "
                         f"steps and used by many transcripts. Direction: {opts['direction']}. Columns: "
                         + ", ".join(EMERGENT_COLUMNS) + ".",
                   charts=charts, tables=tables)


def _normalize_shift(df, from_step: int | None = None, to_step: int | None = None):
    """A word-shift result as ``from_step, to_step, term, contribution[, rate_from, rate_to, shift]``.

    ``contribution`` is the term's Jensen–Shannon contribution (bits) signed by direction: > 0 when
    the later checkpoint uses the term more (``word_shift``'s ``jsd_contribution`` and
    ``direction``)."""
    import polars as pl

    missing = [c for c in ("term", "jsd_contribution", "direction") if c not in df.columns]
    if missing:
        raise Omit(f"word_shift() result lacks {', '.join(missing)} (has {', '.join(df.columns)})")
    if "from_step" not in df.columns:
        df = df.with_columns(pl.lit(from_step, pl.Int64).alias("from_step"))
    if "to_step" not in df.columns:
        df = df.with_columns(pl.lit(to_step, pl.Int64).alias("to_step"))
    df = df.with_columns(
        (pl.col("jsd_contribution").cast(pl.Float64)
         * pl.when(pl.col("direction") == "from").then(-1.0).otherwise(1.0)).alias("contribution"))
    keep = ["from_step", "to_step", "term", "contribution"] + [c for c in ("rate_from", "rate_to", "shift") if c in df.columns]
    return df.select(keep)


def _section_word_shift(ctx: _Context) -> Section:
    import polars as pl
    from cotwatch.reports.charts import word_shift_chart

    fn = _need("word_shift")
    opts = ctx.spec.sections["word_shift"]
    overview = _overview_frame(ctx)
    charts = []
    for run in ctx.runs:
        steps = sorted(overview.filter(pl.col("run") == run)["step"].unique().to_list())
        if len(steps) < 2:
            continue
        suffix = "" if len(ctx.runs) == 1 else f"__{slug(run)}"
        df = _normalize_shift(_call(fn, ctx.store, run=run, from_step=steps[0], to_step=steps[-1], top=opts["top"],
                                    scope=ctx.spec.scope), steps[0], steps[-1])
        if not df.is_empty():
            chart = word_shift_chart(df)
            charts.append(ChartItem(f"word_shift{suffix}", chart.properties(title=f"Word shift, step {steps[0]} → {steps[-1]}"
                                                                              + ("" if not suffix else f" — {run}"))))
        if opts["chained"] and len(steps) > 2:
            pairs = list(zip(steps[:-1], steps[1:]))[-opts["max_pairs"]:]
            chained_fn = find_analysis("chained_word_shift")
            if chained_fn is not None:
                chained = _normalize_shift(_call(chained_fn, ctx.store, run=run, top=opts["top"], scope=ctx.spec.scope))
                chained = chained.join(pl.DataFrame(pairs, schema=["from_step", "to_step"], orient="row")
                                       .cast(chained.select("from_step", "to_step").schema), on=["from_step", "to_step"], how="semi")
            else:
                chained = pl.concat([_normalize_shift(_call(fn, ctx.store, run=run, from_step=a, to_step=b, top=opts["top"],
                                                            scope=ctx.spec.scope), a, b) for a, b in pairs],
                                    how="diagonal_relaxed")
            if not chained.is_empty():
                charts.append(ChartItem(f"word_shift_chained{suffix}", word_shift_chart(chained)))
    if not charts:
        raise Omit("no run has two checkpoints to compare")
    return Section("word_shift", SECTION_TITLES["word_shift"],
                   intro="Which terms drive the difference between the first and the last checkpoint, and "
                         "between consecutive checkpoints.", charts=charts)


def _awareness(ctx: _Context, by_environment: bool = False):
    key = f"awareness:{by_environment}"
    if key in ctx.cache:
        return ctx.cache[key]
    import polars as pl

    fn = _need("awareness_prevalence")
    if by_environment and not _accepts(fn, "by_environment"):
        raise Omit("awareness_prevalence() has no by_environment option")
    frames = []
    for run in ctx.runs:
        kwargs = {"run": run, "classifier": ctx.spec.classifier}
        if by_environment:
            kwargs["by_environment"] = True
        frames.append(_call(fn, ctx.store, **kwargs))
    frames = [f for f in frames if f is not None and not f.is_empty()]
    if not frames:
        raise Omit(f"classifier {ctx.spec.classifier!r} has scored no transcripts in the selected runs")
    df = _thin_steps(pl.concat(frames, how="diagonal_relaxed"), ctx.spec.max_steps)
    ctx.cache[key] = df
    return df


def _section_awareness(ctx: _Context) -> Section:
    from cotwatch.reports.charts import AWARENESS_COLUMNS, awareness_chart

    df = _awareness(ctx)
    return Section("awareness", SECTION_TITLES["awareness"],
                   intro=f"Share of transcripts whose reasoning verbalizes evaluation awareness (classifier "
                         f"{ctx.spec.classifier!r}): the raw classify-and-count rate and the rate corrected for "
                         "the classifier's estimated true- and false-positive rates, with its 95% interval.",
                   charts=[ChartItem("awareness", awareness_chart(df.select(AWARENESS_COLUMNS)))])


def _section_awareness_covert(ctx: _Context) -> Section:
    import polars as pl
    from cotwatch.reports.charts import COVERT_COLUMNS, awareness_covert_chart

    df = _awareness(ctx)
    missing = [c for c in COVERT_COLUMNS if c not in df.columns]
    if missing:
        raise Omit("transcripts carry no covert_action labels (awareness_prevalence() gave no covert_rate columns)")
    df = df.select(COVERT_COLUMNS).filter(pl.col("covert_rate_aware").is_not_null() | pl.col("covert_rate_unaware").is_not_null())
    if df.is_empty():
        raise Omit("no step has covert_action labels")
    return Section("awareness_covert", SECTION_TITLES["awareness_covert"],
                   intro="Covert-action rate among transcripts that verbalize evaluation awareness versus those "
                         "that do not, per checkpoint.",
                   charts=[ChartItem("awareness_covert", awareness_covert_chart(df))])


def _wilson(k, n, z: float = 1.959963984540054):
    """Vectorized 95% Wilson interval (polars expressions) for k successes out of n."""
    import polars as pl

    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)).sqrt()) / denom
    return (pl.when(n > 0).then(centre - half).otherwise(None).clip(lower_bound=0.0),
            pl.when(n > 0).then(centre + half).otherwise(None).clip(upper_bound=1.0))


def _section_environments(ctx: _Context) -> Section:
    import polars as pl
    from cotwatch.reports.charts import environment_breakdown_chart

    df = _overview_frame(ctx)
    if df.is_empty():
        raise Omit("no transcripts in the selected runs")
    if df["environment"].drop_nulls().n_unique() < 2:
        raise Omit("fewer than two environments in the selected runs")
    df = _thin_steps(df, ctx.spec.max_steps)
    keys = [pl.col("run"), pl.col("step"), pl.col("environment")]
    measures = [
        df.select(*keys, pl.lit("transcripts (count)").alias("measure"), pl.col("transcripts").cast(pl.Float64).alias("value"),
                  pl.lit(None, pl.Float64).alias("lo"), pl.lit(None, pl.Float64).alias("hi"), pl.col("transcripts").alias("n")),
        df.select(*keys, pl.lit("reasoning tokens per transcript (mean)").alias("measure"),
                  (pl.col("reasoning_tokens") / pl.col("transcripts")).alias("value"),
                  pl.lit(None, pl.Float64).alias("lo"), pl.lit(None, pl.Float64).alias("hi"), pl.col("transcripts").alias("n")),
    ]
    notes = []
    labelled = df.filter(pl.col("covert_labelled") > 0)
    if not labelled.is_empty():
        k, n = pl.col("covert_actions").cast(pl.Float64), pl.col("covert_labelled").cast(pl.Float64)
        lo, hi = _wilson(k, n)
        measures.append(labelled.select(*keys, pl.lit("covert-action rate (share of labelled transcripts)").alias("measure"),
                                        (k / n).alias("value"), lo.alias("lo"), hi.alias("hi"), pl.col("covert_labelled").alias("n")))
    scored = df.filter(pl.col("scored") > 0)
    if not scored.is_empty():
        measures.append(scored.select(*keys, pl.lit("score / reward (mean)").alias("measure"),
                                      (pl.col("score_sum") / pl.col("scored")).alias("value"),
                                      pl.lit(None, pl.Float64).alias("lo"), pl.lit(None, pl.Float64).alias("hi"),
                                      pl.col("scored").alias("n")))
    try:
        aware = _awareness(ctx, by_environment=True)
        if "environment" in aware.columns:
            measures.append(aware.select(*keys, pl.lit("verbalized eval awareness, corrected (share)").alias("measure"),
                                         pl.col("corrected_rate").cast(pl.Float64).alias("value"),
                                         pl.col("ci_lo").cast(pl.Float64).alias("lo"), pl.col("ci_hi").cast(pl.Float64).alias("hi"),
                                         pl.col("n")))
    except (Omit, CotwatchError) as exc:
        notes.append(f"awareness by environment left out: {exc}")
    long = pl.concat([m.with_columns(pl.col("n").cast(pl.Int64), pl.col("step").cast(pl.Int64)) for m in measures],
                     how="diagonal_relaxed")
    return Section("environments", SECTION_TITLES["environments"],
                   intro="The same run split by environment: volume, reasoning length, covert actions (95% Wilson "
                         "intervals), reward and, when a classifier has scored them, eval awareness.",
                   charts=[ChartItem("environments", environment_breakdown_chart(long))], notes=notes)


def _evidence_terms(ctx: _Context, k: int) -> list[str]:
    """Top terms for KWIC: emergent terms first, then the watchlist terms that rose most."""
    import polars as pl

    terms: list[str] = []
    for df in ctx.cache.get("emergent", {}).values():
        terms += df["term"].to_list()
    if len(terms) < k:
        try:
            rates = _term_rates(ctx)
            rise = rates.sort("step").group_by("term", "run").agg(
                (pl.col("rate_per_1k").last() - pl.col("rate_per_1k").first()).alias("rise")).sort("rise", descending=True)
            terms += rise["term"].to_list()
        except (Omit, CotwatchError):
            pass
    return list(dict.fromkeys(terms))[:k]


def _section_evidence(ctx: _Context) -> Section:
    import polars as pl

    opts = ctx.spec.sections["evidence"]
    tables, notes = [], []
    kwic_fn = find_analysis("kwic")
    if opts["kwic_terms"] and kwic_fn is None:
        notes.append("KWIC lines left out: analysis kwic() is not available")
    elif opts["kwic_terms"]:
        terms = _evidence_terms(ctx, opts["kwic_terms"])
        frames = []
        for run in ctx.runs:
            last = ctx.run_info.filter(pl.col("run") == run)["last_step"][0]
            for term in terms:
                df = _call(kwic_fn, ctx.store, term, run=run, step=last if _accepts(kwic_fn, "step") else None,
                           width=opts["width"], limit=opts["kwic_lines"], scope=ctx.spec.scope)
                if df is not None and not df.is_empty():
                    frames.append(_normalize_kwic(df.head(opts["kwic_lines"]), term))
        if frames:
            tables.append(TableItem("evidence_kwic", "Keyword in context at the latest checkpoint, for the top terms.",
                                    pl.concat(frames, how="diagonal_relaxed")))
        else:
            notes.append("no KWIC lines for the top terms" if terms else "no top terms for KWIC lines")
    if opts["sentences"]:
        merged = _top_sentences(ctx, opts["sentences"], notes)
        if merged is not None and not merged.is_empty():
            tables.append(TableItem("evidence_awareness",
                                    f"Highest-scoring sentences flagged by {ctx.spec.classifier!r}.", merged))
        elif not any(n.startswith("awareness sentences") for n in notes):
            notes.append(f"awareness sentences: none flagged by {ctx.spec.classifier!r} in the selected runs")
    if not tables:
        raise Omit("; ".join(notes) or "no evidence to show")
    return Section("evidence", SECTION_TITLES["evidence"],
                   intro="The reasoning behind the numbers: keyword-in-context lines and the sentences the "
                         "awareness classifier scored highest, each with its transcript id, run, step and "
                         "environment. Transcript text is shown verbatim, as text.",
                   tables=tables, notes=notes)


def _top_sentences(ctx: _Context, limit: int, notes: list[str]):
    """Flagged sentences by score: the classifiers' own function when it exists, else the public
    view ``api.sentence_scores`` (latest classifier version per run)."""
    import polars as pl

    fn = find_analysis("top_flagged_sentences")
    if fn is None:
        try:
            return ctx.store.frame(load_sql("report_top_sentences", __package__),
                                   {"classifier": ctx.spec.classifier, "runs": ctx.runs, "limit": limit})
        except Exception as exc:  # noqa: BLE001 — the view needs the classifier migrations
            if ctx.strict:
                raise
            notes.append(f"awareness sentences: api.sentence_scores unavailable ({type(exc).__name__})")
            return None
    frames = []
    for run in ctx.runs:
        try:
            df = _call(fn, ctx.store, run=run, classifier=ctx.spec.classifier, limit=limit, top=limit)
        except CotwatchError as exc:
            notes.append(f"awareness sentences for {run}: {exc}")
            continue
        if df is not None and not df.is_empty():
            frames.append(_normalize_sentences(df.head(limit), run))
    if not frames:
        return None
    return pl.concat(frames, how="diagonal_relaxed").sort("score", descending=True).head(limit)


def _first(df, options: Iterable[str]) -> str | None:
    return next((c for c in options if c in df.columns), None)


def _normalize_kwic(df, term: str):
    import polars as pl

    tid = _first(df, ("transcript_id", "id", "transcript"))
    cols = {"term": pl.lit(term)}
    if tid:
        cols["transcript_id"] = pl.col(tid).cast(pl.String)
    for c in ("run", "step", "environment", "left", "match", "right"):
        if c in df.columns:
            cols[c] = pl.col(c)
    return df.select(**cols)


def _normalize_sentences(df, run: str):
    """``top_flagged_sentences`` rows as ``transcript_id, run, step, environment, sentence, score``
    (the same columns the api.sentence_scores path gives)."""
    import polars as pl

    missing = [c for c in ("transcript_id", "step", "environment", "sentence", "score") if c not in df.columns]
    if missing:
        raise Omit(f"top_flagged_sentences() result lacks {', '.join(missing)} (has {', '.join(df.columns)})")
    return df.select(pl.col("transcript_id").cast(pl.String), pl.col("run") if "run" in df.columns else pl.lit(run).alias("run"),
                     "step", "environment", "sentence", pl.col("score").cast(pl.Float64))


BUILDERS: dict[str, Callable[[_Context], Section]] = {
    "overview": _section_overview,
    "terms": _section_terms,
    "heatmap": _section_heatmap,
    "emergent": _section_emergent,
    "word_shift": _section_word_shift,
    "awareness": _section_awareness,
    "awareness_covert": _section_awareness_covert,
    "environments": _section_environments,
    "evidence": _section_evidence,
}
