"""Charts for drift reports: pure functions, a polars frame in, an ``alt.Chart`` out.

Every function takes the frame an analysis returns (column names as documented in
``docs/reports.md`` and the analytics/classifiers APIs), keeps only the columns it draws, reshapes
it if needed (e.g. raw and corrected rates folded into one ``measure`` column), and returns a
titled chart whose axes name their units and whose marks carry tooltips. The frame a chart draws is
``chart.data`` — exactly what ``cotwatch.reports.write`` saves as ``data/<name>.csv``.

>>> import polars as pl
>>> from cotwatch.reports.charts import awareness_chart
>>> df = pl.DataFrame({"run": ["r"] * 2, "step": [0, 100], "n": [200, 200], "flagged": [4, 40],
...                    "raw_rate": [0.02, 0.2], "corrected_rate": [0.01, 0.21],
...                    "ci_lo": [0.0, 0.15], "ci_hi": [0.04, 0.27]})
>>> awareness_chart(df).to_dict()["title"]["text"]
'Verbalized eval awareness per checkpoint'

Altair is imported on first use (``import cotwatch.reports`` stays light). The first call registers and
enables one theme, ``cotwatch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cotwatch.analytics.errors import InputError

THEME = "cotwatch"
STEP_TITLE = "training step"
_alt_module = None

#: Columns each chart needs (the documented analysis outputs; extra columns are ignored).
TERM_RATE_COLUMNS = ("run", "step", "term", "rate_per_1k", "rate_lo", "rate_hi", "occurrences", "tokens",
                     "docs", "docs_with_term")
HEATMAP_COLUMNS = ("run", "step", "term", "doc_fraction", "docs_with_term", "docs")
EMERGENT_COLUMNS = ("term", "score", "english_zipf", "keyness_z", "trend_p", "slope",
                    "docs_with_term_early", "docs_with_term_late", "example")
WORD_SHIFT_COLUMNS = ("from_step", "to_step", "term", "contribution")
AWARENESS_COLUMNS = ("run", "step", "n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi")
COVERT_COLUMNS = ("run", "step", "covert_rate_aware", "covert_aware_lo", "covert_aware_hi",
                  "covert_rate_unaware", "covert_unaware_lo", "covert_unaware_hi")
OVERVIEW_COLUMNS = ("run", "step", "environment", "transcripts", "reasoning_tokens")
ENVIRONMENT_COLUMNS = ("run", "step", "environment", "measure", "value", "lo", "hi", "n")


def _alt():
    """altair, imported on first use, with the cotwatch theme registered and enabled once."""
    global _alt_module
    if _alt_module is None:
        import altair as alt

        if THEME not in alt.theme.names():
            alt.theme.register(THEME, enable=True)(_theme)
        else:
            alt.theme.enable(THEME)
        _alt_module = alt
    return _alt_module


def _theme() -> dict[str, Any]:
    font = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
    return {
        "config": {
            "font": font,
            "view": {"continuousWidth": 420, "continuousHeight": 220, "stroke": "#d0d0d0"},
            "title": {"fontSize": 15, "anchor": "start", "subtitleColor": "#555", "subtitleFontSize": 12},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#eeeeee", "titleFontWeight": "normal"},
            "header": {"labelFontSize": 12, "titleFontSize": 12},
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "right"},
            "range": {"category": {"scheme": "tableau10"}, "heatmap": {"scheme": "blues"}},
            "line": {"strokeWidth": 2},
            "point": {"size": 30, "filled": True},
        }
    }


def _frame(df, columns: Sequence[str], chart: str, optional: Sequence[str] = ()):
    """``df`` as a polars frame with only ``columns`` (+ any ``optional`` present); checks they exist."""
    import polars as pl

    if not isinstance(df, pl.DataFrame):
        try:
            df = pl.from_pandas(df) if hasattr(df, "to_numpy") and hasattr(df, "iloc") else pl.DataFrame(df)
        except Exception as exc:  # noqa: BLE001 — any conversion failure is the caller's input
            raise InputError(f"{chart}: expected a polars or pandas DataFrame, got {type(df).__name__}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{chart}: frame lacks column(s) {', '.join(missing)} (has: {', '.join(df.columns)})")
    keep = list(columns) + [c for c in optional if c in df.columns and c not in columns]
    return df.select(keep)


def _step_x(alt, title: str = STEP_TITLE):
    return alt.X("step:Q", title=title, axis=alt.Axis(format="d", tickMinStep=1))


def _title(alt, text: str, subtitle: str | None = None):
    return alt.Title(text, subtitle=subtitle) if subtitle else alt.Title(text)


def _runs(df) -> int:
    return df["run"].n_unique() if "run" in df.columns and df.height else 0


# -- overview -------------------------------------------------------------------------------
def overview_chart(df):
    """Transcripts per checkpoint, stacked by environment (one panel per run when several).

    Columns: ``run, step, environment, transcripts, reasoning_tokens``.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, OVERVIEW_COLUMNS, "overview_chart").with_columns(
        pl.col("environment").fill_null("(none)"),
        (pl.col("reasoning_tokens") / pl.col("transcripts").clip(lower_bound=1)).round(1).alias("tokens_per_transcript"),
    ).sort("run", "step", "environment")
    steps = data["step"].n_unique()
    few = steps <= 16  # room for horizontal step labels
    chart = alt.Chart(data, title=_title(alt, "Transcripts per checkpoint", "stacked by environment")).mark_bar().encode(
        x=alt.X("step:O", title=STEP_TITLE, axis=alt.Axis(labelAngle=0 if few else -45)),
        y=alt.Y("transcripts:Q", title="transcripts (count)"),
        color=alt.Color("environment:N", title="environment"),
        tooltip=[
            alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("environment:N"),
            alt.Tooltip("transcripts:Q", format=",d"),
            alt.Tooltip("reasoning_tokens:Q", format=",d", title="reasoning tokens"),
            alt.Tooltip("tokens_per_transcript:Q", format=",.1f", title="reasoning tokens / transcript"),
        ],
    ).properties(width=alt.Step(36) if few else min(900, 14 * steps), height=200)
    if _runs(data) > 1:
        chart = chart.facet(row=alt.Row("run:N", title="run"))
    return chart


# -- watchlist terms ------------------------------------------------------------------------
def term_rates_chart(df, columns: int = 4):
    """Rate per 1,000 reasoning tokens over steps with its 95% interval band; one panel per term.

    Columns (from ``term_rates``): ``run, step, term, rate_per_1k, rate_lo, rate_hi, occurrences,
    tokens, docs, docs_with_term``.
    """
    alt = _alt()
    data = _frame(df, TERM_RATE_COLUMNS, "term_rates_chart").sort("term", "run", "step")
    color = alt.Color("run:N", title="run", legend=alt.Legend(symbolOpacity=1))
    tooltip = [
        alt.Tooltip("term:N"), alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"),
        alt.Tooltip("rate_per_1k:Q", format=".3f", title="per 1k tokens"),
        alt.Tooltip("rate_lo:Q", format=".3f", title="95% lo"), alt.Tooltip("rate_hi:Q", format=".3f", title="95% hi"),
        alt.Tooltip("occurrences:Q", format=",d"), alt.Tooltip("tokens:Q", format=",d", title="tokens in scope"),
        alt.Tooltip("docs_with_term:Q", format=",d", title="transcripts with term"),
        alt.Tooltip("docs:Q", format=",d", title="transcripts"),
    ]
    base = alt.Chart().encode(x=_step_x(alt), color=color)
    band = base.mark_area(opacity=0.22).encode(
        y=alt.Y("rate_lo:Q", title="rate per 1,000 reasoning tokens"), y2="rate_hi:Q")
    line = base.mark_line(point=True).encode(y="rate_per_1k:Q", tooltip=tooltip)
    return alt.layer(band, line, data=data).properties(width=200, height=130).facet(
        facet=alt.Facet("term:N", title=None, header=alt.Header(labelFontWeight="bold")), columns=columns,
    ).resolve_scale(y="independent").properties(
        title=_title(alt, "Watchlist terms over checkpoints",
                     "rate per 1,000 reasoning tokens; band: 95% interval, cluster-robust (transcripts as clusters)"))


def term_heatmap(df):
    """Terms × steps, colour = share of transcripts using the term at least once.

    Columns (from ``term_rates``): ``run, step, term, doc_fraction, docs_with_term, docs``.
    """
    alt = _alt()
    data = _frame(df, HEATMAP_COLUMNS, "term_heatmap").sort("run", "term", "step")
    steps = data["step"].n_unique()
    few = steps <= 16  # room for horizontal step labels
    chart = alt.Chart(data, title=_title(alt, "Share of transcripts using each term",
                                         "per checkpoint; darker = more transcripts")).mark_rect().encode(
        x=alt.X("step:O", title=STEP_TITLE, axis=alt.Axis(labelAngle=0 if few else -45)),
        y=alt.Y("term:N", title="term", sort="ascending"),
        color=alt.Color("doc_fraction:Q", title="share of transcripts", scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(format=".0%")),
        tooltip=[
            alt.Tooltip("term:N"), alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"),
            alt.Tooltip("doc_fraction:Q", format=".1%", title="share of transcripts"),
            alt.Tooltip("docs_with_term:Q", format=",d", title="transcripts with term"),
            alt.Tooltip("docs:Q", format=",d", title="transcripts"),
        ],
    ).properties(width=alt.Step(34) if few else min(900, 14 * steps), height=alt.Step(16))
    if _runs(data) > 1:
        chart = chart.facet(row=alt.Row("run:N", title="run"))
    return chart


def emergent_terms_chart(df):
    """Emergent terms ranked by discovery score; colour = English Zipf frequency (0 = not English).

    Columns (from ``discover_terms``): ``term, score, english_zipf, keyness_z, trend_p, slope,
    docs_with_term_early, docs_with_term_late, example``.
    """
    alt = _alt()
    data = _frame(df, EMERGENT_COLUMNS, "emergent_terms_chart").sort("score", descending=True)
    return alt.Chart(data, title=_title(
        alt, "Emergent terms", "ranked by discovery score (oddity × keyness × trend × dispersion)",
    )).mark_bar().encode(
        x=alt.X("score:Q", title="discovery score (unitless)"),
        y=alt.Y("term:N", title="term", sort=alt.EncodingSortField("score", order="descending")),
        color=alt.Color("english_zipf:Q", title="English Zipf freq.", scale=alt.Scale(scheme="viridis", domain=[0, 7])),
        tooltip=[
            alt.Tooltip("term:N"), alt.Tooltip("score:Q", format=".3f"),
            alt.Tooltip("english_zipf:Q", format=".2f", title="English Zipf (0 = not a word)"),
            alt.Tooltip("keyness_z:Q", format=".2f", title="keyness z (late vs early)"),
            alt.Tooltip("trend_p:Q", format=".2g", title="trend p"), alt.Tooltip("slope:Q", format=".3g", title="Theil-Sen slope"),
            alt.Tooltip("docs_with_term_early:Q", format=",d", title="transcripts early"),
            alt.Tooltip("docs_with_term_late:Q", format=",d", title="transcripts late"),
            alt.Tooltip("example:N", title="example"),
        ],
    ).properties(width=420, height=alt.Step(16))


def word_shift_chart(df, columns: int = 3):
    """Terms that drive the difference between two checkpoints (one panel per pair when chained,
    each with its own x scale: one loop-driven spike must not flatten every other panel).

    Columns: ``from_step, to_step, term, contribution`` — the term's Jensen–Shannon divergence
    contribution in bits, signed: > 0 when the later checkpoint uses it more; optional
    ``rate_from, rate_to, shift`` (per 1,000 tokens) for the tooltip.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, WORD_SHIFT_COLUMNS, "word_shift_chart", optional=("rate_from", "rate_to", "shift")).with_columns(
        pl.format("step {} → {}", "from_step", "to_step").alias("pair"),
        pl.when(pl.col("contribution") >= 0).then(pl.lit("more at later step"))
        .otherwise(pl.lit("less at later step")).alias("direction"),
    ).sort("from_step", "to_step", "contribution", descending=[False, False, True])
    tooltip = [alt.Tooltip("term:N"), alt.Tooltip("pair:N", title="checkpoints"),
               alt.Tooltip("contribution:Q", format=".5f", title="JSD contribution (bits, signed)")]
    for col, title in (("rate_from", "per 1k tokens before"), ("rate_to", "per 1k tokens after"),
                       ("shift", "change per 1k tokens")):
        if col in data.columns:
            tooltip.append(alt.Tooltip(f"{col}:Q", format=".3f", title=title))
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("contribution:Q", title="JSD contribution (bits, signed)"),
        y=alt.Y("term:N", title=None, sort=alt.EncodingSortField("contribution", order="descending")),
        color=alt.Color("direction:N", title="direction", scale=alt.Scale(
            domain=["more at later step", "less at later step"], range=["#c0392b", "#2e6fb7"])),
        tooltip=tooltip,
    ).properties(width=220, height=alt.Step(14))
    subtitle = "each term's share of the Jensen–Shannon divergence; red: used more at the later checkpoint"
    if data["pair"].n_unique() <= 1:
        return chart.properties(title=_title(alt, "Word shift between checkpoints", subtitle))
    return chart.facet(facet=alt.Facet("pair:N", title=None, sort=alt.SortField("from_step")), columns=columns).resolve_scale(
        x="independent", y="independent").properties(title=_title(alt, "Word shift, chained over consecutive checkpoints", subtitle))


# -- awareness ------------------------------------------------------------------------------
def awareness_chart(df):
    """Raw and corrected eval-awareness rate per step, with the corrected rate's 95% interval.

    Columns (from ``awareness_prevalence``): ``run, step, n, flagged, raw_rate, corrected_rate,
    ci_lo, ci_hi``. Folded to ``run, step, n, flagged, measure, rate, ci_lo, ci_hi`` (the interval
    belongs to the corrected rate and is null on the raw rows).
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, AWARENESS_COLUMNS, "awareness_chart")
    keys = ["run", "step", "n", "flagged"]
    long = pl.concat([
        data.select(*keys, pl.lit("raw (classify and count)").alias("measure"), pl.col("raw_rate").alias("rate"),
                    pl.lit(None, pl.Float64).alias("ci_lo"), pl.lit(None, pl.Float64).alias("ci_hi")),
        data.select(*keys, pl.lit("corrected for classifier error").alias("measure"), pl.col("corrected_rate").alias("rate"),
                    pl.col("ci_lo").cast(pl.Float64), pl.col("ci_hi").cast(pl.Float64)),
    ]).with_columns(pl.col("rate").cast(pl.Float64)).sort("run", "measure", "step")
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("measure:N"),
               alt.Tooltip("rate:Q", format=".1%", title="share of transcripts"),
               alt.Tooltip("ci_lo:Q", format=".1%", title="95% lo"), alt.Tooltip("ci_hi:Q", format=".1%", title="95% hi"),
               alt.Tooltip("flagged:Q", format=",d", title="flagged transcripts"), alt.Tooltip("n:Q", format=",d", title="transcripts")]
    measure_scale = alt.Scale(domain=["corrected for classifier error", "raw (classify and count)"], range=["#c0392b", "#7f7f7f"])
    base = alt.Chart().encode(x=_step_x(alt))
    band = base.mark_area(opacity=0.2, color="#c0392b").encode(
        y=alt.Y("ci_lo:Q", title="share of transcripts", axis=alt.Axis(format="%")), y2="ci_hi:Q",
    ).transform_filter("datum.measure === 'corrected for classifier error'")
    line = base.mark_line(point=True).encode(
        y="rate:Q", color=alt.Color("measure:N", title="estimate", scale=measure_scale),
        strokeDash=alt.StrokeDash("measure:N", title="estimate", scale=alt.Scale(
            domain=measure_scale.domain, range=[[1, 0], [4, 3]])),
        tooltip=tooltip,
    )
    chart = alt.layer(band, line, data=long).properties(width=480, height=220)
    title = _title(alt, "Verbalized eval awareness per checkpoint",
                   "share of transcripts; band: 95% interval of the corrected rate")
    if _runs(long) > 1:
        return chart.facet(row=alt.Row("run:N", title="run")).properties(title=title)
    return chart.properties(title=title)


def awareness_covert_chart(df):
    """Covert-action rate among aware vs unaware transcripts per step, with 95% intervals.

    Columns (from ``awareness_prevalence``): ``run, step, covert_rate_aware, covert_aware_lo,
    covert_aware_hi, covert_rate_unaware, covert_unaware_lo, covert_unaware_hi`` (the spelling
    ``covert_rate_aware_lo`` etc. is accepted too). Folded to ``run, step, group, covert_rate, lo,
    hi``; NaN (no transcript in a group at that step) becomes null and leaves a gap.
    """
    alt = _alt()
    import polars as pl

    if hasattr(df, "columns"):
        aliases = {f"covert_rate_{g}_{b}": f"covert_{g}_{b}" for g in ("aware", "unaware") for b in ("lo", "hi")}
        df = df.rename({k: v for k, v in aliases.items() if k in df.columns and v not in df.columns})
    data = _frame(df, COVERT_COLUMNS, "awareness_covert_chart")
    parts = []
    for group in ("aware", "unaware"):
        parts.append(data.select("run", "step", pl.lit(f"verbalizes awareness: {'yes' if group == 'aware' else 'no'}").alias("group"),
                                 pl.col(f"covert_rate_{group}").cast(pl.Float64).alias("covert_rate"),
                                 pl.col(f"covert_{group}_lo").cast(pl.Float64).alias("lo"),
                                 pl.col(f"covert_{group}_hi").cast(pl.Float64).alias("hi")))
    long = pl.concat(parts).with_columns(pl.col("covert_rate", "lo", "hi").fill_nan(None)).sort("run", "group", "step")
    color = alt.Color("group:N", title="transcripts", scale=alt.Scale(
        domain=["verbalizes awareness: yes", "verbalizes awareness: no"], range=["#c0392b", "#2e6fb7"]))
    base = alt.Chart().encode(x=_step_x(alt), color=color)
    band = base.mark_area(opacity=0.18).encode(
        y=alt.Y("lo:Q", title="covert-action rate (share of transcripts)", axis=alt.Axis(format="%")), y2="hi:Q")
    line = base.mark_line(point=True).encode(y="covert_rate:Q", tooltip=[
        alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("group:N"),
        alt.Tooltip("covert_rate:Q", format=".1%", title="covert-action rate"),
        alt.Tooltip("lo:Q", format=".1%", title="95% lo"), alt.Tooltip("hi:Q", format=".1%", title="95% hi")])
    chart = alt.layer(band, line, data=long).properties(width=480, height=220)
    title = _title(alt, "Covert actions with and without verbalized awareness",
                   "share of transcripts taking a covert action; band: 95% interval")
    if _runs(long) > 1:
        return chart.facet(row=alt.Row("run:N", title="run")).properties(title=title)
    return chart.properties(title=title)


# -- environments ---------------------------------------------------------------------------
def environment_breakdown_chart(df, columns: int = 2):
    """One panel per measure (and run), one line per environment, over steps.

    Columns: ``run, step, environment, measure, value`` and optionally ``lo, hi`` (an interval,
    drawn as a band) and ``n`` (transcripts behind the value). Measures are free text and should
    name their unit, e.g. ``"covert-action rate (share)"``.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, ENVIRONMENT_COLUMNS[:5], "environment_breakdown_chart", optional=("lo", "hi", "n"))
    data = data.with_columns(pl.col("environment").fill_null("(none)"), pl.col("value").cast(pl.Float64))
    if _runs(data) > 1:
        data = data.with_columns(pl.format("{} — {}", "run", "measure").alias("panel"))
    else:
        data = data.with_columns(pl.col("measure").alias("panel"))
    order = data.unique("panel", maintain_order=True)["panel"].to_list()
    data = data.with_columns(pl.col("panel").cast(pl.Enum(order))).sort("panel", "environment", "step").with_columns(
        pl.col("panel").cast(pl.String))
    y_title = "value (unit in panel title)"
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("environment:N"), alt.Tooltip("step:Q", format="d"),
               alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=",.4g")]
    base = alt.Chart().encode(x=_step_x(alt), color=alt.Color("environment:N", title="environment", legend=alt.Legend(symbolOpacity=1)))
    layers = []
    if "lo" in data.columns and "hi" in data.columns:
        tooltip += [alt.Tooltip("lo:Q", format=",.4g", title="95% lo"), alt.Tooltip("hi:Q", format=",.4g", title="95% hi")]
        layers.append(base.mark_area(opacity=0.15).encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q"))
    if "n" in data.columns:
        tooltip.append(alt.Tooltip("n:Q", format=",d", title="transcripts"))
    layers.append(base.mark_line(point=True).encode(y=alt.Y("value:Q", title=y_title), tooltip=tooltip))
    return alt.layer(*layers, data=data).properties(width=300, height=160).facet(
        facet=alt.Facet("panel:N", title=None, sort=order, header=alt.Header(labelFontWeight="bold")), columns=columns,
    ).resolve_scale(y="independent").properties(
        title=_title(alt, "Per-environment breakdown", "one line per environment; each panel names its measure and unit"))


#: name → chart function, for the writer and for notebooks.
CHARTS = {
    "overview": overview_chart,
    "term_rates": term_rates_chart,
    "term_heatmap": term_heatmap,
    "emergent_terms": emergent_terms_chart,
    "word_shift": word_shift_chart,
    "awareness": awareness_chart,
    "awareness_covert": awareness_covert_chart,
    "environments": environment_breakdown_chart,
}
