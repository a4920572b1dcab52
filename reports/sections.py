"""The report's sections: one builder per section, each calling the analyses it draws directly.

A builder takes the shared :class:`~cotwatch.reports.context.Context` and returns a
:class:`~cotwatch.reports.model.Section`, or raises :class:`~cotwatch.reports.context.Omit` (or a
``CotwatchError`` from an analysis) with the reason it has nothing to show. Sections drawn per run
keep going when one run has nothing: that run is listed in ``Section.runs_omitted`` with its
reason (shown on the page and in ``report.json``).
"""

from __future__ import annotations

from collections.abc import Callable

from cotwatch.analytics.errors import CotwatchError
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.concordance import kwic
from cotwatch.analytics.terms.discover import discover_terms
from cotwatch.analytics.terms.rates import term_rates
from cotwatch.analytics.terms.shift import chained_word_shift, word_shift
from cotwatch.analytics.terms.specs import load_watchlist
from cotwatch.analytics.terms.stats import wilson_interval
from cotwatch.classifiers.prevalence import awareness_prevalence
from cotwatch.classifiers.usage import usage_drift
from cotwatch.reports import charts
from cotwatch.reports import evidence as ev
from cotwatch.reports.context import (
    SECTION_TITLES,
    Context,
    Omit,
    item_name,
    overview_frame,
    run_steps,
    thin_steps,
)
from cotwatch.reports.model import ChartItem, Drill, Section, TableItem

#: What a click on each chart shows in the evidence panel (see reports/static/report.js).
KWIC_CELL = Drill(("kwic",), (("run", "run"), ("term", "term"), ("step", "step")))
KWIC_TERM = Drill(("kwic",), (("run", "run"), ("term", "term")))
KWIC_SHIFT = Drill(("kwic",), (("run", "run"), ("term", "term"), ("step", "to_step")))
SENTENCES_STEP = Drill(("sentence",), (("run", "run"), ("step", "step")))
ENVIRONMENT_STEP = Drill(("kwic", "sentence"), (("run", "run"), ("step", "step"), ("environment", "env_filter")))
OVERVIEW_CELL = Drill(("kwic", "sentence"), (("run", "run"), ("step", "step"), ("environment", "environment")))

COVERT_GROUPS = {True: "flagged as eval-aware", False: "not flagged"}


def _per_run(ctx: Context, omitted: dict[str, str], fn: Callable[[str], object]) -> dict[str, object]:
    """``fn(run)`` for every run; a run whose analysis has nothing (Omit, CotwatchError or an
    empty result) goes to ``omitted`` with the reason."""
    results = {}
    for run in ctx.runs:
        try:
            out = fn(run)
        except (Omit, CotwatchError) as exc:
            omitted[run] = str(exc)
            continue
        if out is None or len(out) == 0:  # a frame without rows, or no chart
            omitted.setdefault(run, "the analysis returned no rows")
            continue
        results[run] = out
    return results


def _all_runs_omitted(what: str, omitted: dict[str, str]) -> Omit:
    """The Omit for a section that has nothing for any run: the one reason, or each run's."""
    if not omitted:
        return Omit(what)
    if len(omitted) == 1:
        return Omit(next(iter(omitted.values())))
    reasons = set(omitted.values())
    if len(reasons) == 1:
        return Omit(f"{what} (every run: {reasons.pop()})")
    return Omit(f"{what}: " + "; ".join(f"run {run}: {why}" for run, why in omitted.items()))


# -- watchlist and rates ------------------------------------------------------------------------
def watch_terms(ctx: Context) -> list[str]:
    """The spec's term queries, plus every term of its watchlist file; with neither, every term
    of analytics' default watchlist."""
    if "watch_terms" in ctx.cache:
        return ctx.cache["watch_terms"]
    terms = list(ctx.spec.watch_terms)
    if ctx.spec.watchlist_file is not None or not terms:
        terms += [t.label for t in load_watchlist(ctx.spec.watchlist_file).all_terms()]
    if not terms:
        raise Omit("the watchlist is empty")
    ctx.cache["watch_terms"] = list(dict.fromkeys(terms))
    return ctx.cache["watch_terms"]


def _watchlist_arg(ctx: Context) -> str | None:
    return str(ctx.spec.watchlist_file) if ctx.spec.watchlist_file else None


def watch_rates(ctx: Context):
    """term_rates for the watchlist per run, thinned to max_steps, terms that never occur dropped:
    ``(frame, runs_omitted)``; cached for terms, heatmap and evidence."""
    if "term_rates" in ctx.cache:
        return ctx.cache["term_rates"]
    import polars as pl

    terms = watch_terms(ctx)
    omitted: dict[str, str] = {}
    frames = _per_run(ctx, omitted, lambda run: term_rates(ctx.store, terms, run=run, scope=ctx.spec.scope,
                                                            watchlist=_watchlist_arg(ctx)))
    if not frames:
        raise _all_runs_omitted("the watchlist terms have no rows", omitted)
    df = thin_steps(pl.concat(list(frames.values()), how="diagonal_relaxed"), ctx.spec.max_steps)
    used = df.group_by("term").agg(pl.col("occurrences").sum().alias("total")).filter(pl.col("total") > 0)
    ctx.cache["term_rates_unused"] = sorted(set(df["term"].unique().to_list()) - set(used["term"].to_list()))
    df = df.join(used.select("term"), on="term", how="semi")
    if df.is_empty():
        raise Omit(f"none of the {len(terms)} watchlist terms occurs in the selected runs")
    ctx.cache["term_rates"] = (df, omitted)
    return ctx.cache["term_rates"]


# -- sections -----------------------------------------------------------------------------------
def section_overview(ctx: Context) -> Section:
    import polars as pl

    df = overview_frame(ctx)
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
    chart_df = thin_steps(df.select("run", "step", "environment", "transcripts", "reasoning_tokens"), ctx.spec.max_steps)
    notes = [f"run {r}: no reasoning tokens in any transcript (term and awareness sections have no data for it)"
             for r in summary.filter(pl.col("reasoning_tokens") == 0)["run"].to_list()]
    return Section("overview", SECTION_TITLES["overview"],
                   intro="Runs, checkpoints, environments, transcripts and reasoning tokens in this report.",
                   charts=[ChartItem("overview", charts.overview_chart(chart_df), drill=OVERVIEW_CELL)],
                   tables=[TableItem("overview_runs", "One row per run.", summary)], notes=notes)


def section_terms(ctx: Context) -> Section:
    df, omitted = watch_rates(ctx)
    unused = ctx.cache.get("term_rates_unused", [])
    notes = [f"{len(unused)} watchlist term(s) never occur: {', '.join(unused[:20])}"] if unused else []
    return Section("terms", SECTION_TITLES["terms"],
                   intro="How often each watchlist term occurs in reasoning, per 1,000 reasoning tokens, at "
                         "every checkpoint. Bands are 95% intervals that account for tokens clustering within "
                         "transcripts. Click a point to see its keyword-in-context lines.",
                   charts=[ChartItem("term_rates", charts.term_rates_chart(df.select(charts.TERM_RATE_COLUMNS),
                                                                           columns=ctx.spec.sections["terms"]["columns"]),
                                     drill=KWIC_CELL)],
                   notes=notes, runs_omitted=dict(omitted))


def section_heatmap(ctx: Context) -> Section:
    df, omitted = watch_rates(ctx)
    return Section("heatmap", SECTION_TITLES["heatmap"],
                   intro="Share of transcripts that use each watchlist term at least once, per checkpoint. "
                         "Click a cell to see its keyword-in-context lines.",
                   charts=[ChartItem("term_heatmap", charts.term_heatmap(df.select(charts.HEATMAP_COLUMNS)), drill=KWIC_CELL)],
                   runs_omitted=dict(omitted))


def _latest_steps(ctx: Context, run: str, terms: list[str]):
    """Per term, the last step at which it occurs in ``run`` (from its rates; cached for the
    evidence cells)."""
    import polars as pl

    rates = term_rates(ctx.store, terms, run=run, scope=ctx.spec.scope)
    occurs = rates.filter(pl.col("docs_with_term") > 0).select("run", "step", "term", "docs_with_term")
    ctx.cache.setdefault("emergent_cells", []).append(occurs)
    return dict(occurs.group_by("term").agg(pl.col("step").max()).iter_rows())


def _emergent_examples(ctx: Context, run: str, df):
    """Each emergent term with one keyword-in-context line from the last step that uses it:
    run, step, environment and transcript id included."""
    import polars as pl

    width = 40
    last = _latest_steps(ctx, run, df["term"].to_list())
    rows = []
    for term in df["term"].to_list():
        step = last.get(term)
        lines = (kwic(ctx.store, term, run=run, step=step, width=width + ev.MARGIN, limit=1, scope=ctx.spec.scope)
                 if step is not None else None)
        if lines is None or lines.is_empty():
            rows.append({"term": term, "run": run, "step": step, "environment": None, "transcript_id": None,
                         "left": None, "match": None, "right": None})
            continue
        line = lines.row(0, named=True)
        left, right = ev.whole_words(line["left"], line["right"], width)
        rows.append({"term": term, "run": run, "step": line["step"], "environment": line["environment"],
                     "transcript_id": line["transcript_id"], "left": left, "match": line["match"], "right": right})
    examples = pl.DataFrame(rows, schema={"term": pl.String, "run": pl.String, "step": pl.Int64, "environment": pl.String,
                                          "transcript_id": pl.String, "left": pl.String, "match": pl.String,
                                          "right": pl.String})
    return df.select("term", "score").join(examples, on="term", how="left", maintain_order="left")


def section_emergent(ctx: Context) -> Section:
    opts = ctx.spec.sections["emergent"]
    omitted: dict[str, str] = {}

    def discover(run):
        df = discover_terms(ctx.store, run=run, early=opts["early"], late=opts["late"], top=opts["top"],
                            min_docs=opts["min_docs"], direction=opts["direction"], scope=ctx.spec.scope)
        if df.is_empty():
            raise Omit(f"no {opts['direction']} term is used in >= {opts['min_docs']} transcripts (min_docs)")
        return df

    found = _per_run(ctx, omitted, discover)
    if not found:
        raise _all_runs_omitted("discovery found no emergent terms", omitted)
    several = len(ctx.runs) > 1
    chart_items, tables = [], []
    import polars as pl

    for run, df in found.items():
        df = df.head(opts["top"]).with_columns(pl.lit(run).alias("run"))
        name = item_name("emergent_terms", run, several)
        chart = charts.emergent_terms_chart(df)
        if several:
            chart = chart.properties(title=f"Emergent terms — {charts.display_label(run)}")
        chart_items.append(ChartItem(name, chart, drill=KWIC_TERM))
        tables.append(TableItem(f"{name}_examples",
                                f"An example line for each emergent term, from the last checkpoint that uses it ({run}).",
                                _emergent_examples(ctx, run, df)))
    ctx.cache["emergent"] = {run: df.head(opts["top"]) for run, df in found.items()}
    return Section("emergent", SECTION_TITLES["emergent"],
                   intro="Vocabulary found without a watchlist: tokens that are odd in English (low Zipf "
                         "frequency), key to the late checkpoints versus the early ones, trending across all "
                         f"steps and used by many transcripts. Direction: {opts['direction']}. Click a bar to see "
                         "the term's lines at every checkpoint.",
                   charts=chart_items, tables=tables, runs_omitted=omitted)


def _shift_frame(df, run: str, from_step: int | None = None, to_step: int | None = None):
    """A word_shift / chained_word_shift result as the chart's frame: ``run, from_step, to_step,
    term, contribution`` (the JSD contribution signed by direction: > 0 when the later checkpoint
    uses the term more) and the rates and occurrences for the tooltip."""
    import polars as pl

    if from_step is not None:
        df = df.with_columns(pl.lit(from_step, pl.Int64).alias("from_step"), pl.lit(to_step, pl.Int64).alias("to_step"))
    return df.select(
        pl.lit(run).alias("run"), pl.col("from_step").cast(pl.Int64), pl.col("to_step").cast(pl.Int64), "term",
        (pl.col("jsd_contribution").cast(pl.Float64)
         * pl.when(pl.col("direction") == "from").then(-1.0).otherwise(1.0)).alias("contribution"),
        "rate_from", "rate_to", "shift", "occurrences_from", "occurrences_to")


#: KWIC evidence for this many top word-shift terms per pair of checkpoints, at both checkpoints
SHIFT_EVIDENCE_TERMS = 3


def _remember_shift_cells(ctx: Context, df) -> None:
    """The (run, term, step) cells of each pair's top word-shift terms, for the evidence: a click
    on a bar shows the term's lines, and every checkpoint of a run with two has some evidence."""
    import polars as pl

    top = df.with_columns(pl.col("contribution").abs().alias("_size")).sort("_size", descending=True).group_by(
        "run", "from_step", "to_step", maintain_order=True).head(SHIFT_EVIDENCE_TERMS)
    cells = pl.concat([top.filter(pl.col(f"occurrences_{side}") > 0).select("run", "term", pl.col(f"{side}_step").alias("step"))
                       for side in ("to", "from")])
    ctx.cache.setdefault("shift_cells", []).append(cells)


def section_word_shift(ctx: Context) -> Section:
    import polars as pl

    opts = ctx.spec.sections["word_shift"]
    several = len(ctx.runs) > 1
    omitted: dict[str, str] = {}
    chart_items = []

    def shifts(run):
        steps = run_steps(ctx, run)
        if len(steps) < 2:
            raise Omit(f"{len(steps)} checkpoint(s); a word shift compares two")
        items = []
        df = _shift_frame(word_shift(ctx.store, run=run, from_step=steps[0], to_step=steps[-1], top=opts["top"],
                                     scope=ctx.spec.scope), run, steps[0], steps[-1])
        _remember_shift_cells(ctx, df)
        title = f"Word shift, step {steps[0]} → {steps[-1]}" + (f" — {charts.display_label(run)}" if several else "")
        items.append(ChartItem(item_name("word_shift", run, several), charts.word_shift_chart(df).properties(title=title),
                               drill=KWIC_SHIFT))
        if opts["chained"] and len(steps) > 2:
            pairs = pl.DataFrame(list(zip(steps[:-1], steps[1:]))[-opts["max_pairs"]:], schema=["from_step", "to_step"],
                                 orient="row").cast(pl.Int64)
            chained = _shift_frame(chained_word_shift(ctx.store, run=run, top=opts["top"], scope=ctx.spec.scope), run)
            chained = chained.join(pairs, on=["from_step", "to_step"], how="semi")
            _remember_shift_cells(ctx, chained)
            if not chained.is_empty():
                items.append(ChartItem(item_name("word_shift_chained", run, several), charts.word_shift_chart(chained),
                                       drill=KWIC_SHIFT))
        return items

    for items in _per_run(ctx, omitted, shifts).values():
        chart_items += items
    if not chart_items:
        raise _all_runs_omitted("no run has two checkpoints to compare", omitted)
    return Section("word_shift", SECTION_TITLES["word_shift"],
                   intro="Which terms drive the difference between the first and the last checkpoint, and "
                         "between consecutive checkpoints.", charts=chart_items, runs_omitted=omitted)


def _drift_terms(ctx: Context, opts) -> list[str]:
    """The spec's usage-drift terms; else the ``top`` watchlist terms used most in the report."""
    import polars as pl

    if opts["terms"]:
        return list(opts["terms"])
    rates, _ = watch_rates(ctx)
    ranked = rates.group_by("term").agg(pl.col("docs_with_term").sum().alias("docs")).sort(["docs", "term"], descending=[True, False])
    return ranked["term"].head(opts["top"]).to_list()


def _sentence_encoder(model: str):
    """One encoder for every term of the section (loaded once): the static model or MiniLM."""
    from cotwatch.classifiers.embeddings import Encoder, StaticEncoder

    return StaticEncoder() if model == "static" else Encoder(None)


def section_usage_drift(ctx: Context) -> Section:
    import polars as pl

    opts = ctx.spec.sections["usage_drift"]
    terms = _drift_terms(ctx, opts)
    if not terms:
        raise Omit("no watchlist term occurs in the selected runs")
    encoder = _sentence_encoder(opts["model"])
    steps, typical, notes = [], [], []
    for term in terms:
        for run in ctx.runs:
            try:
                result = usage_drift(ctx.store, term, run=run, window=opts["window"], cap=opts["cap"], encoder=encoder,
                                     scope=ctx.spec.scope, watchlist=_watchlist_arg(ctx))
            except CotwatchError as exc:
                notes.append(f"“{term}” in run {run}: {exc}")
                continue
            steps.append(result.steps.with_columns(pl.lit(term).alias("term")))
            typical.append(result.typical.with_columns(pl.lit(term).alias("term")))
            for change in result.change.iter_rows(named=True):
                notes.append(f"“{term}” in run {run}: largest change of usage between steps {change['before_last_step']} "
                             f"and {change['after_first_step']} (centroid distance {change['distance']:.3f})")
    if not steps:
        shown = "; ".join(notes[:3]) + (f"; … and {len(notes) - 3} more" if len(notes) > 3 else "")
        raise Omit(f"none of {', '.join(map(repr, terms))} has contexts at two checkpoints of a run ({shown})")
    df = thin_steps(pl.concat(steps, how="vertical_relaxed"), ctx.spec.max_steps)
    contexts = pl.concat(typical, how="vertical_relaxed").select("term", "run", "side", "step", "transcript_id", "context",
                                                                 "typicality")
    model = "the static embedding model (fast; `model = \"minilm\"` for MiniLM)" if opts["model"] == "static" else "MiniLM"
    return Section("usage_drift", SECTION_TITLES["usage_drift"],
                   intro="Whether a term's meaning moved, whatever its frequency did: the term's contexts "
                         f"({opts['window']} tokens each side, up to {opts['cap']} per checkpoint) embedded with {model}; "
                         "per checkpoint, the cosine distance of their centroid from the first checkpoint's, with a "
                         "95% bootstrap interval over transcripts. Below: the contexts most typical of before and "
                         "after the largest change. Click a point to see the term's lines at that checkpoint.",
                   charts=[ChartItem("usage_drift", charts.usage_drift_chart(df.select(
                       list(charts.USAGE_DRIFT_COLUMNS) + ["drift_from_previous"])), drill=KWIC_CELL)],
                   tables=[TableItem("usage_drift_contexts", "Contexts most typical of before and after the largest "
                                                             "change, per term and run.", contexts)],
                   notes=notes)


def _awareness(ctx: Context, by_environment: bool = False):
    """awareness_prevalence per run, thinned; ``(frame, runs_omitted)``; cached."""
    key = f"awareness:{by_environment}"
    if key in ctx.cache:
        return ctx.cache[key]
    import polars as pl

    omitted: dict[str, str] = {}
    frames = _per_run(ctx, omitted, lambda run: awareness_prevalence(
        ctx.store, run=run, classifier=ctx.spec.classifier, by_environment=by_environment))
    if not frames:
        raise _all_runs_omitted(f"classifier {ctx.spec.classifier!r} has no results for the selected runs", omitted)
    df = thin_steps(pl.concat(list(frames.values()), how="diagonal_relaxed"), ctx.spec.max_steps)
    ctx.cache[key] = (df, omitted)
    return ctx.cache[key]


def _with_no_data_steps(ctx: Context, df):
    """Mark steps where the classifier had nothing to score as "no data" (n = 0): steps whose
    scored transcripts have no reasoning sentence, and steps of the run it did not score at all."""
    import polars as pl

    scored = ctx.store.frame(load_sql("report_scored", __package__),
                             {"classifier": ctx.spec.classifier, "runs": df["run"].unique().to_list()})
    df = df.join(scored, on=["run", "step"], how="left").with_columns(
        pl.when(pl.col("with_sentences").fill_null(1) == 0).then(0).otherwise(pl.col("n")).alias("n"))
    steps = thin_steps(overview_frame(ctx).select("run", "step").unique(), ctx.spec.max_steps)
    steps = steps.filter(pl.col("run").is_in(df["run"].unique().to_list()))
    missing = steps.join(df.select("run", "step"), on=["run", "step"], how="anti").with_columns(pl.lit(0, pl.Int64).alias("n"))
    notes = []
    empty = df.filter(pl.col("n") == 0).height + missing.height
    if empty:
        notes.append(f"{empty} checkpoint(s) with no scored reasoning are drawn as “no data”, not as 0%")
    return pl.concat([df.drop("scored", "with_sentences"), missing], how="diagonal_relaxed").sort("run", "step"), notes


def _awareness_banner(df) -> str | None:
    """The correction's own warning (``transfer_warning``), once, when any checkpoint's corrected
    rate rests on the classifier's validation data rather than labels of this run."""
    import polars as pl

    warnings = df.filter(pl.col("estimator") == "validation-only")["transfer_warning"].drop_nulls().unique(
        maintain_order=True).to_list()
    return " ".join(warnings) or None


def _estimator_notes(df) -> list[str]:
    import polars as pl

    notes = []
    small = df.filter(pl.col("estimator") == "none").height
    if small:
        notes.append(f"{small} checkpoint(s) with too few transcripts for a corrected estimate: raw rate only")
    ppi = df.filter(pl.col("estimator") == "ppi")
    if ppi.height:
        notes.append(f"{ppi.height} checkpoint(s) corrected with your own labels of the run (prediction-powered "
                     f"inference, {int(ppi['n_labelled'].sum()):,} labelled transcripts)")
    return notes


def section_awareness(ctx: Context) -> Section:
    df, omitted = _awareness(ctx)
    banner = _awareness_banner(df)
    notes = _estimator_notes(df)
    df, no_data = _with_no_data_steps(ctx, df)
    cols = list(charts.AWARENESS_COLUMNS) + ["estimator"]
    return Section("awareness", SECTION_TITLES["awareness"],
                   intro=f"Share of transcripts whose reasoning verbalizes evaluation awareness (classifier "
                         f"{ctx.spec.classifier!r}, its transcript-level decision): the raw classify-and-count rate "
                         "and the rate corrected for the classifier's errors, with its 95% interval (the tooltip "
                         "names what the correction rests on). Click a point to see that checkpoint's flagged "
                         "sentences.",
                   charts=[ChartItem("awareness", charts.awareness_chart(df.select(cols)), drill=SENTENCES_STEP)],
                   notes=notes + no_data, runs_omitted=omitted, banner=banner)


def covert_frame(counts):
    """``report_covert`` counts → the covert chart's frame: run, step, group, n, covert, rate and
    its 95% Wilson interval."""
    import polars as pl

    lo, hi = wilson_interval(counts["covert"].to_numpy(), counts["n"].to_numpy())
    return counts.with_columns(
        pl.col("flagged").replace_strict(COVERT_GROUPS, return_dtype=pl.String).alias("group"),
        (pl.col("covert") / pl.col("n")).alias("rate"), pl.Series("lo", lo), pl.Series("hi", hi),
    ).select(charts.COVERT_COLUMNS)


def section_awareness_covert(ctx: Context) -> Section:
    import polars as pl

    counts = ctx.store.frame(load_sql("report_covert", __package__), {"classifier": ctx.spec.classifier, "runs": ctx.runs})
    if counts.is_empty():
        raise Omit(f"no transcript scored by {ctx.spec.classifier!r} carries a covert_action label")
    df = thin_steps(covert_frame(counts), ctx.spec.max_steps)
    pooled = covert_frame(counts.group_by("run", "flagged").agg(pl.col("n", "covert").sum())
                          .with_columns(pl.lit(None, pl.Int64).alias("step"))).sort("run", "group")
    notes = [f"all checkpoints pooled, run {r['run']}, {r['group']}: {r['covert']:,} of {r['n']:,} labelled transcripts "
             f"took a covert action ({r['rate']:.1%}, 95% interval {r['lo']:.1%}–{r['hi']:.1%})"
             for r in pooled.iter_rows(named=True)]
    labelled = set(counts["run"].to_list())
    omitted = {r: f"no transcript scored by {ctx.spec.classifier!r} carries a covert_action label"
               for r in ctx.runs if r not in labelled}
    return Section("awareness_covert", SECTION_TITLES["awareness_covert"],
                   intro="Covert-action rate among transcripts the classifier flags as verbalizing evaluation "
                         "awareness versus those it does not, per checkpoint (counting transcripts with a "
                         f"covert_action label). Points resting on fewer than {charts.FEW} transcripts are faded and "
                         "not joined; the pooled comparison below rests on every checkpoint.",
                   charts=[ChartItem("awareness_covert", charts.awareness_covert_chart(df), drill=SENTENCES_STEP)],
                   notes=notes, runs_omitted=omitted)


def section_environments(ctx: Context) -> Section:
    import polars as pl

    df = overview_frame(ctx)
    if df.is_empty():
        raise Omit("no transcripts in the selected runs")
    if df["environment"].drop_nulls().n_unique() < 2:
        raise Omit("fewer than two environments in the selected runs")
    df = thin_steps(df, ctx.spec.max_steps)
    keys = [pl.col("run"), pl.col("step"), pl.col("environment")]
    none = pl.lit(None, pl.Float64)
    measures = [
        df.select(*keys, pl.lit("transcripts (count)").alias("measure"), pl.col("transcripts").cast(pl.Float64).alias("value"),
                  none.alias("lo"), none.alias("hi"), pl.col("transcripts").alias("n")),
        df.select(*keys, pl.lit("reasoning tokens per transcript (mean)").alias("measure"),
                  (pl.col("reasoning_tokens") / pl.col("transcripts")).alias("value"),
                  none.alias("lo"), none.alias("hi"), pl.col("transcripts").alias("n")),
    ]
    notes = []
    labelled = df.filter(pl.col("covert_labelled") > 0)
    if not labelled.is_empty():
        lo, hi = wilson_interval(labelled["covert_actions"].to_numpy(), labelled["covert_labelled"].to_numpy())
        measures.append(labelled.select(*keys, pl.lit("covert-action rate (share of labelled transcripts)").alias("measure"),
                                        (pl.col("covert_actions") / pl.col("covert_labelled")).alias("value"),
                                        pl.Series("lo", lo), pl.Series("hi", hi), pl.col("covert_labelled").alias("n")))
    scored = df.filter(pl.col("scored") > 0)
    if not scored.is_empty():
        measures.append(scored.select(*keys, pl.lit("score / reward (mean)").alias("measure"),
                                      (pl.col("score_sum") / pl.col("scored")).alias("value"),
                                      none.alias("lo"), none.alias("hi"), pl.col("scored").alias("n")))
    try:
        aware, _ = _awareness(ctx, by_environment=True)
        measures.append(aware.select(*keys, pl.lit("verbalized eval awareness, corrected (share)").alias("measure"),
                                     pl.col("corrected_rate").cast(pl.Float64).alias("value"),
                                     pl.col("ci_lo").cast(pl.Float64).alias("lo"), pl.col("ci_hi").cast(pl.Float64).alias("hi"),
                                     pl.col("n")))
    except (Omit, CotwatchError) as exc:
        notes.append(f"awareness by environment left out: {exc}")
    long = pl.concat([m.with_columns(pl.col("n").cast(pl.Int64), pl.col("step").cast(pl.Int64)) for m in measures],
                     how="diagonal_relaxed")
    empty = long.group_by("run", "measure", maintain_order=True).agg(pl.col("value").is_not_null().any().alias("any"))
    for run, measure, _ in empty.filter(~pl.col("any")).iter_rows():
        notes.append(f"{measure}, run {run}: no value at any checkpoint (no estimate for cells this small); panel left out")
    long = long.join(empty.filter(pl.col("any")).select("run", "measure"), on=["run", "measure"], how="semi")
    return Section("environments", SECTION_TITLES["environments"],
                   intro="The same runs split by environment: volume, reasoning length, covert actions (95% Wilson "
                         "intervals), reward and, when a classifier has scored them, eval awareness. Click a point "
                         "to see that environment's evidence at that checkpoint.",
                   charts=[ChartItem("environments", charts.environment_breakdown_chart(long), drill=ENVIRONMENT_STEP)],
                   notes=notes)


# -- evidence -----------------------------------------------------------------------------------
def _kwic_cells(ctx: Context, max_terms: int, notes: list[str]) -> list[tuple[str, str, int]]:
    """(run, term, step) cells whose term occurs at that step: watchlist terms (as drawn in the
    terms and heatmap charts) first, then emergent terms (at most ``max_terms`` of these two), then
    the top word-shift terms of each pair of checkpoints."""
    import polars as pl

    frames = []
    try:
        rates, _ = watch_rates(ctx)
        frames.append(rates.filter(pl.col("docs_with_term") > 0).select("run", "step", "term"))
    except (Omit, CotwatchError) as exc:
        notes.append(f"watchlist KWIC lines left out: {exc}")
    for occurs in ctx.cache.get("emergent_cells", []):
        frames.append(thin_steps(occurs, ctx.spec.max_steps).select("run", "step", "term"))
    cells = pl.concat(frames, how="vertical_relaxed").unique(maintain_order=True) if frames else None
    if cells is not None:
        terms = list(dict.fromkeys(cells["term"].to_list()))
        if len(terms) > max_terms:
            notes.append(f"KWIC lines for the first {max_terms} of {len(terms)} watchlist and emergent terms "
                         "(evidence.kwic_terms)")
            cells = cells.filter(pl.col("term").is_in(terms[:max_terms]))
    shift = ctx.cache.get("shift_cells", [])
    if shift:
        shift = pl.concat(shift, how="vertical_relaxed").select("run", "step", "term").cast({"step": pl.Int64})
        cells = shift if cells is None else pl.concat([cells.cast({"step": pl.Int64}), shift], how="vertical_relaxed")
    if cells is None:
        return []
    ordered = cells.unique(maintain_order=True)
    return [(r, t, int(s)) for r, s, t in ordered.iter_rows()]


def _cap_sentences(df, budget: int, notes: list[str]):
    """At most ``budget`` sentence rows: fewer per (run, step, environment) cell first."""
    import polars as pl

    if df.height <= budget:
        return df
    ranked = df.with_columns(pl.int_range(pl.len()).over("run", "step", "environment").alias("_rank"))
    cells = df.select("run", "step", "environment").n_unique()
    keep = max(1, budget // max(cells, 1))
    out = ranked.filter(pl.col("_rank") < keep).drop("_rank").head(budget)
    notes.append(f"flagged sentences: {keep} per (step, environment) cell, to keep the page within budget "
                 f"({out.height:,} of {df.height:,} rows)")
    return out


def section_evidence(ctx: Context) -> Section:
    import polars as pl

    opts = ctx.spec.sections["evidence"]
    notes: list[str] = []
    tables = []
    budget = opts["max_rows"]
    sentences = None
    if opts["sentences"]:
        try:
            sentences = ev.sentence_evidence(ctx.store, ctx.spec.classifier, ctx.runs, opts["sentences"])
        except CotwatchError as exc:
            notes.append(f"flagged sentences left out: {exc}")
        if sentences is not None:
            sentences = thin_steps(sentences, ctx.spec.max_steps)
            if sentences.is_empty():
                notes.append(f"no sentence flagged by {ctx.spec.classifier!r} in the selected runs "
                             "(has `cotwatch classify apply` been run?)")
                sentences = None
            else:
                sentences = _cap_sentences(sentences, budget // 2 if opts["kwic_terms"] else budget, notes)
                budget -= sentences.height
                tables.append(TableItem("evidence_sentences",
                                        f"Flagged sentences ({ctx.spec.classifier!r}): the best sentence of up to "
                                        f"{opts['sentences']} transcripts per checkpoint and environment, highest "
                                        "score first.", sentences))
    kwic_rows = None
    if opts["kwic_terms"]:
        plan = ev.plan_kwic(_kwic_cells(ctx, opts["kwic_terms"], notes), opts["kwic_lines"], max(budget, 1))
        notes += plan.notes
        if plan.cells:
            kwic_rows = ev.kwic_evidence(ctx.store, plan, width=opts["width"], scope=ctx.spec.scope,
                                         watchlist=_watchlist_arg(ctx))
        if kwic_rows is not None and not kwic_rows.is_empty():
            tables.insert(0, TableItem("evidence_kwic",
                                       f"Keyword in context: up to {plan.lines} line(s) per term and checkpoint, one per "
                                       "transcript.", kwic_rows))
        else:
            kwic_rows = None
            notes.append("no KWIC lines: no watchlist or emergent term occurs in the selected runs")
    if not tables:
        raise Omit("; ".join(notes) or "no evidence to show")
    ctx.evidence.kwic, ctx.evidence.sentences, ctx.evidence.notes = kwic_rows, sentences, notes
    covered = pl.concat([f.select("run", "step") for f in (kwic_rows, sentences) if f is not None]).unique()
    steps = thin_steps(overview_frame(ctx).select("run", "step").unique(), ctx.spec.max_steps)
    bare = steps.join(covered, on=["run", "step"], how="anti").sort("run", "step")
    if not bare.is_empty():
        listed = ", ".join(f"{r} {s}" for r, s in bare.head(12).iter_rows())
        notes.append(f"{bare.height} of {steps.height} checkpoint(s) have no evidence lines "
                     f"(no watchlist/emergent term and no flagged sentence there): {listed}"
                     + (" …" if bare.height > 12 else ""))
    return Section("evidence", SECTION_TITLES["evidence"],
                   intro="The reasoning behind the numbers: keyword-in-context lines for every term and checkpoint "
                         "and the flagged sentences of every checkpoint, each with its run, step, environment and "
                         "transcript id. Click a point, bar or cell in a chart above to show only its evidence here. "
                         "Transcript text is shown verbatim, as text.",
                   tables=tables, notes=notes)


BUILDERS: dict[str, Callable[[Context], Section]] = {
    "overview": section_overview,
    "terms": section_terms,
    "heatmap": section_heatmap,
    "emergent": section_emergent,
    "word_shift": section_word_shift,
    "usage_drift": section_usage_drift,
    "awareness": section_awareness,
    "awareness_covert": section_awareness_covert,
    "environments": section_environments,
    "evidence": section_evidence,
}
