"""Charts for drift reports: pure functions, a polars frame in, an ``alt.Chart`` out.

Every function takes the frame an analysis returns (column names as documented in
``docs/reports.md`` and the analytics/classifiers APIs), keeps only the columns it draws, reshapes
it if needed, and returns a titled chart whose axes name their units and whose marks carry
tooltips with the group sizes behind each rate. The frame a chart draws is ``chart.data``;
``cotwatch.reports.files`` saves it as ``data/<name>.csv`` (without the ``_key_*`` columns).

Conventions that hold in every chart:

* **Keys, not raw values, drive grouping.** Vega keeps per-group state in plain JavaScript objects
  keyed by data values, so a term, run or environment named ``constructor``, ``toString`` or
  ``__proto__`` used to break stacking and sorting and left a chart blank. Every nominal channel
  therefore encodes a ``_key_<column>`` copy of the value with an invisible prefix
  (:data:`KEY_PREFIX`, never the start of a JavaScript property name), and axes, legends and
  headers strip it again for display (``labelExpr``). Tooltips show the original columns.
* **No data is not zero.** A cell without transcripts has a null value and is drawn as "no data"
  (grey); a rate of 0 is drawn as 0.
* **Small groups are marked.** Cells resting on fewer than :data:`FEW` transcripts are drawn faded
  and say so in the tooltip (``n < 10``); they get no interval band.
* **Step axes never repeat a tick**: with few steps the ticks are the steps themselves.
* Panels are concatenated, not wrapped facets, so a grid never draws an empty panel's axes.

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
#: Cells with fewer transcripts than this are drawn faded, without an interval band.
FEW = 10
#: Prefix of key values (U+2063 INVISIBLE SEPARATOR): no JavaScript property name starts with it.
KEY_PREFIX = "\u2063"
#: Vega expression that removes the prefix from a label.
_STRIP = "slice(datum.label, 1)"
#: Axis labels of counts: integers only (a 0–1 domain would otherwise read "0 1 1" after rounding).
_INTEGER_LABELS = "datum.value % 1 === 0 ? format(datum.value, ',d') : ''"
#: At most this many distinct steps get one tick each; more get integer ticks chosen by Vega.
_EXPLICIT_TICKS = 12
NO_DATA_COLOR = "#bdbdbd"
_alt_module = None

#: Columns each chart needs (the documented analysis outputs; extra columns are ignored).
TERM_RATE_COLUMNS = ("run", "step", "term", "rate_per_1k", "rate_lo", "rate_hi", "occurrences", "tokens",
                     "docs", "docs_with_term")
HEATMAP_COLUMNS = ("run", "step", "term", "doc_fraction", "docs_with_term", "docs")
EMERGENT_COLUMNS = ("term", "score", "english_zipf", "keyness_z", "trend_p", "slope",
                    "docs_with_term_early", "docs_with_term_late")
WORD_SHIFT_COLUMNS = ("from_step", "to_step", "term", "contribution")
AWARENESS_COLUMNS = ("run", "step", "n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi")
COVERT_COLUMNS = ("run", "step", "group", "n", "covert", "rate", "lo", "hi")
OVERVIEW_COLUMNS = ("run", "step", "environment", "transcripts", "reasoning_tokens")
ENVIRONMENT_COLUMNS = ("run", "step", "environment", "measure", "value", "lo", "hi", "n")
USAGE_DRIFT_COLUMNS = ("run", "term", "step", "contexts", "drift_from_first", "lo", "hi")


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
            "point": {"size": 36, "filled": True},
            "concat": {"spacing": 24},
        }
    }


# -- shared helpers --------------------------------------------------------------------------
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


def key_column(name: str) -> str:
    return f"_key_{name}"


def with_keys(df, *columns: str, none: str = "(none)"):
    """Add ``_key_<c>`` = :data:`KEY_PREFIX` + value for each column (nulls shown as ``none``).

    The keys are what charts show (facet headers, legends, axis labels): characters that could
    disguise text there — a U+202E in a run name would reverse the header after it — are written
    as ``<U+XXXX>`` markers (:func:`~cotwatch.reports.viewer.text.plain`). The column itself, its
    tooltips, drill-down and CSV keep the value as it is."""
    import polars as pl

    def key(c: str):
        value = pl.col(c).cast(pl.String).fill_null(none)
        values = df.get_column(c).cast(pl.String).fill_null(none).unique().to_list()
        shown = {v: display_label(v) for v in values}
        if any(shown[v] != v for v in values) and len(set(shown.values())) == len(values):
            value = value.replace_strict(shown, return_dtype=pl.String)
        return (pl.lit(KEY_PREFIX) + value).alias(key_column(c))

    return df.with_columns(key(c) for c in columns)


def display_label(value: object) -> str:
    """A run, environment or term name as a chart title or label shows it (hidden characters as
    ``<U+XXXX>`` markers)."""
    from cotwatch.reports.viewer.text import plain

    return plain(value)


def _nominal(alt, channel, column: str, title: str | None, **kwargs):
    """A nominal channel on the keyed copy of ``column``, its labels shown without the prefix."""
    field = f"{key_column(column)}:N"
    if channel in (alt.X, alt.Y):
        return channel(field, title=title, axis=alt.Axis(labelExpr=_STRIP, **kwargs.pop("axis", {})), **kwargs)
    if channel in (alt.Row, alt.Column, alt.Facet):
        return channel(field, title=title, header=alt.Header(labelExpr=_STRIP, labelFontWeight="bold"), **kwargs)
    return channel(field, title=title, legend=alt.Legend(labelExpr=_STRIP, **kwargs.pop("legend", {})), **kwargs)


def _steps(data, column: str = "step") -> list[int]:
    return sorted(int(s) for s in data[column].drop_nulls().unique().to_list())


def _step_x(alt, steps: Sequence[int], title: str = STEP_TITLE, field: str = "step"):
    """A quantitative step axis: one tick per step when there are few (never "0 1 1 2 2"),
    else integer ticks."""
    if len(steps) <= _EXPLICIT_TICKS:
        axis = alt.Axis(format="d", values=list(steps), labelOverlap=True)
    else:
        axis = alt.Axis(format="d", tickMinStep=1)
    return alt.X(f"{field}:Q", title=title, axis=axis, scale=alt.Scale(nice=False, zero=False, padding=8))


def quoted(text: str) -> str:
    """A title made of a data value, in quotes: Vega fails to draw a chart whose title *is* a
    JavaScript property name (a panel titled ``constructor``), so a value never stands alone."""
    return f"“{text}”"


def _title(alt, text: str, subtitle: str | None = None):
    return alt.Title(text, subtitle=subtitle) if subtitle else alt.Title(text)


def _runs(df) -> int:
    return df["run"].n_unique() if "run" in df.columns and df.height else 0


def _few_opacity(alt, title: str = "transcripts"):
    """Opacity by the ``few`` column: faded when a cell rests on fewer than FEW transcripts."""
    return alt.Opacity("few:N", title=title, scale=alt.Scale(domain=[f"n ≥ {FEW}", f"n < {FEW}"], range=[1.0, 0.35]),
                       legend=alt.Legend(symbolType="circle"))


def _few_label(n_col: str):
    import polars as pl

    return pl.when(pl.col(n_col) < FEW).then(pl.lit(f"n < {FEW}")).otherwise(pl.lit(f"n ≥ {FEW}")).alias("few")


def _in_order(values) -> list[str]:
    return list(dict.fromkeys(values))


# -- overview -------------------------------------------------------------------------------
def overview_chart(df):
    """Transcripts per checkpoint, stacked by environment (one panel per run when several, each
    with its own y scale so a run of three transcripts is not a flat line beside one of 3,000).

    Columns: ``run, step, environment, transcripts, reasoning_tokens``.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, OVERVIEW_COLUMNS, "overview_chart").with_columns(
        pl.col("environment").fill_null("(none)"),
        (pl.col("reasoning_tokens") / pl.col("transcripts").clip(lower_bound=1)).round(1).alias("tokens_per_transcript"),
    ).sort("run", "step", "environment")
    data = with_keys(data, "run", "environment")
    steps = data["step"].n_unique()
    few = steps <= 16  # room for horizontal step labels
    title = _title(alt, "Transcripts per checkpoint", "stacked by environment; click a bar for its evidence")
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("step:O", title=STEP_TITLE, axis=alt.Axis(labelAngle=0 if few else -45)),
        y=alt.Y("transcripts:Q", title="transcripts (count)", axis=alt.Axis(labelExpr=_INTEGER_LABELS, tickMinStep=1)),
        color=_nominal(alt, alt.Color, "environment", "environment"),
        tooltip=[
            alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("environment:N"),
            alt.Tooltip("transcripts:Q", format=",d"),
            alt.Tooltip("reasoning_tokens:Q", format=",d", title="reasoning tokens"),
            alt.Tooltip("tokens_per_transcript:Q", format=",.1f", title="reasoning tokens / transcript"),
        ],
    ).properties(width=alt.Step(36) if few else min(900, 14 * steps), height=200)
    if _runs(data) > 1:
        return chart.facet(row=_nominal(alt, alt.Row, "run", "run")).resolve_scale(y="independent").properties(title=title)
    return chart.properties(title=title)


# -- watchlist terms ------------------------------------------------------------------------
def term_rates_chart(df, columns: int = 4):
    """Rate per 1,000 reasoning tokens over steps with its 95% interval band; one panel per term
    (concatenated: no empty panels), runs overlaid in colour.

    Columns (from ``term_rates``): ``run, step, term, rate_per_1k, rate_lo, rate_hi, occurrences,
    tokens, docs, docs_with_term``.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, TERM_RATE_COLUMNS, "term_rates_chart")
    terms = _in_order(data["term"].to_list())
    data = with_keys(data.with_columns(_few_label("docs")), "term", "run").sort("term", "run", "step")
    tooltip = [
        alt.Tooltip("term:N"), alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"),
        alt.Tooltip("rate_per_1k:Q", format=".3f", title="per 1k tokens"),
        alt.Tooltip("rate_lo:Q", format=".3f", title="95% lo"), alt.Tooltip("rate_hi:Q", format=".3f", title="95% hi"),
        alt.Tooltip("occurrences:Q", format=",d"), alt.Tooltip("tokens:Q", format=",d", title="tokens in scope"),
        alt.Tooltip("docs_with_term:Q", format=",d", title="transcripts with term"),
        alt.Tooltip("docs:Q", format=",d", title="n (transcripts)"),
    ]
    color = _nominal(alt, alt.Color, "run", "run", legend={"symbolOpacity": 1})
    panels = []
    for term in terms:
        keep = alt.FieldEqualPredicate(field=key_column("term"), equal=KEY_PREFIX + term)
        x = _step_x(alt, _steps(data.filter(pl.col("term") == term)))  # each panel's own steps: no stray ticks
        base = alt.Chart().encode(x=x, color=color)
        band = base.transform_filter(f"datum.docs >= {FEW}").mark_area(opacity=0.22).encode(
            y=alt.Y("rate_lo:Q", title="per 1,000 reasoning tokens"), y2="rate_hi:Q")
        line = base.mark_line().encode(y="rate_per_1k:Q")
        points = base.mark_point().encode(y="rate_per_1k:Q", opacity=_few_opacity(alt), tooltip=tooltip)
        panels.append(alt.layer(band, line, points).transform_filter(keep).properties(
            width=200, height=130, title=alt.Title(quoted(term), fontSize=13)))
    return alt.concat(*panels, columns=columns, data=data).resolve_scale(y="independent").properties(
        title=_title(alt, "Watchlist terms over checkpoints",
                     "rate per 1,000 reasoning tokens; band: 95% interval, cluster-robust (transcripts as clusters); "
                     f"faded: n < {FEW} transcripts; click a point for its lines"))


def term_heatmap(df):
    """Terms × steps, colour = share of transcripts using the term at least once; grey = no
    transcripts at that step; faded = fewer than FEW transcripts.

    Columns (from ``term_rates``): ``run, step, term, doc_fraction, docs_with_term, docs``.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, HEATMAP_COLUMNS, "term_heatmap").with_columns(
        pl.when(pl.col("docs") > 0).then(pl.col("doc_fraction")).otherwise(None).alias("doc_fraction"),
        _few_label("docs"),
        pl.when(pl.col("docs") > 0).then(pl.lit("data")).otherwise(pl.lit("no data")).alias("status"),
    )
    data = with_keys(data, "term", "run").sort("run", "term", "step")
    steps = data["step"].n_unique()
    few = steps <= 16  # room for horizontal step labels
    tooltip = [
        alt.Tooltip("term:N"), alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"),
        alt.Tooltip("doc_fraction:Q", format=".1%", title="share of transcripts"),
        alt.Tooltip("docs_with_term:Q", format=",d", title="transcripts with term"),
        alt.Tooltip("docs:Q", format=",d", title="n (transcripts)"), alt.Tooltip("status:N", title="cell"),
    ]
    base = alt.Chart().encode(
        x=alt.X("step:O", title=STEP_TITLE, axis=alt.Axis(labelAngle=0 if few else -45)),
        y=_nominal(alt, alt.Y, "term", "term", sort="ascending"), tooltip=tooltip)
    cells = base.transform_filter("datum.docs > 0").mark_rect().encode(
        color=alt.Color("doc_fraction:Q", title="share of transcripts", scale=alt.Scale(scheme="blues", domainMin=0),
                        legend=alt.Legend(format=".0%")),
        opacity=_few_opacity(alt))
    empty = base.transform_filter("datum.docs <= 0").mark_rect(color=NO_DATA_COLOR)
    chart = alt.layer(cells, empty, data=data).properties(width=alt.Step(34) if few else min(900, 14 * steps),
                                                         height=alt.Step(16))
    title = _title(alt, "Share of transcripts using each term",
                   f"per checkpoint; darker = more transcripts; grey = no data; faded: n < {FEW}; click a cell for its lines")
    if _runs(data) > 1:
        return chart.facet(row=_nominal(alt, alt.Row, "run", "run")).properties(title=title)
    return chart.properties(title=title)


def emergent_terms_chart(df):
    """Emergent terms ranked by discovery score; colour = English Zipf frequency (0 = not English).

    Columns (from ``discover_terms``): ``term, score, english_zipf, keyness_z, trend_p, slope,
    docs_with_term_early, docs_with_term_late`` (``run`` too, when present, for the drill-down).
    """
    alt = _alt()
    data = with_keys(_frame(df, EMERGENT_COLUMNS, "emergent_terms_chart", optional=("run",)).sort("score", descending=True),
                     "term")
    return alt.Chart(data, title=_title(
        alt, "Emergent terms", "ranked by discovery score (oddity × keyness × trend × dispersion); click a bar for its lines",
    )).mark_bar().encode(
        x=alt.X("score:Q", title="discovery score (unitless)"),
        y=_nominal(alt, alt.Y, "term", "term", sort=alt.EncodingSortField("score", order="descending")),
        color=alt.Color("english_zipf:Q", title="English Zipf freq.", scale=alt.Scale(scheme="viridis", domain=[0, 7])),
        tooltip=[
            alt.Tooltip("term:N"), alt.Tooltip("score:Q", format=".3f"),
            alt.Tooltip("english_zipf:Q", format=".2f", title="English Zipf (0 = not a word)"),
            alt.Tooltip("keyness_z:Q", format=".2f", title="keyness z (late vs early)"),
            alt.Tooltip("trend_p:Q", format=".2g", title="trend p"), alt.Tooltip("slope:Q", format=".3g", title="Theil-Sen slope"),
            alt.Tooltip("docs_with_term_early:Q", format=",d", title="transcripts early"),
            alt.Tooltip("docs_with_term_late:Q", format=",d", title="transcripts late"),
        ],
    ).properties(width=420, height=alt.Step(16))


def word_shift_chart(df, columns: int = 3):
    """Terms that drive the difference between two checkpoints (one panel per pair when chained,
    each with its own x scale: one loop-driven spike must not flatten every other panel).

    Columns: ``from_step, to_step, term, contribution`` — the term's Jensen–Shannon divergence
    contribution in bits, signed: > 0 when the later checkpoint uses it more; optional
    ``run, rate_from, rate_to, shift, occurrences_from, occurrences_to`` for the tooltip.
    """
    alt = _alt()
    import polars as pl

    optional = ("run", "rate_from", "rate_to", "shift", "occurrences_from", "occurrences_to")
    data = _frame(df, WORD_SHIFT_COLUMNS, "word_shift_chart", optional=optional).with_columns(
        pl.format("step {} → {}", "from_step", "to_step").alias("pair"),
        pl.when(pl.col("contribution") >= 0).then(pl.lit("more at later step"))
        .otherwise(pl.lit("less at later step")).alias("direction"),
    ).sort("from_step", "to_step", "contribution", descending=[False, False, True])
    data = with_keys(data, "term")
    tooltip = [alt.Tooltip("term:N"), alt.Tooltip("pair:N", title="checkpoints"),
               alt.Tooltip("contribution:Q", format=".5f", title="JSD contribution (bits, signed)")]
    for col, title, fmt in (("rate_from", "per 1k tokens before", ".3f"), ("rate_to", "per 1k tokens after", ".3f"),
                            ("shift", "change per 1k tokens", ".3f"), ("occurrences_from", "occurrences before", ",d"),
                            ("occurrences_to", "occurrences after", ",d")):
        if col in data.columns:
            tooltip.append(alt.Tooltip(f"{col}:Q", format=fmt, title=title))

    def bars(chart):
        return chart.mark_bar().encode(
            x=alt.X("contribution:Q", title="JSD contribution (bits, signed)"),
            y=_nominal(alt, alt.Y, "term", None, sort=alt.EncodingSortField("contribution", order="descending")),
            color=alt.Color("direction:N", title="direction", scale=alt.Scale(
                domain=["more at later step", "less at later step"], range=["#c0392b", "#2e6fb7"])),
            tooltip=tooltip,
        ).properties(width=220, height=alt.Step(14))

    subtitle = "each term's share of the Jensen–Shannon divergence; red: used more at the later checkpoint"
    pairs = _in_order(data["pair"].to_list())
    if len(pairs) <= 1:
        return bars(alt.Chart(data)).properties(title=_title(alt, "Word shift between checkpoints", subtitle))
    panels = [bars(alt.Chart().transform_filter(alt.FieldEqualPredicate(field="pair", equal=p))).properties(
        title=alt.Title(p, fontSize=13)) for p in pairs]
    return alt.concat(*panels, columns=columns, data=data).resolve_scale(x="independent", y="independent").properties(
        title=_title(alt, "Word shift, chained over consecutive checkpoints", subtitle))


# -- awareness ------------------------------------------------------------------------------
def awareness_chart(df):
    """Raw and corrected eval-awareness rate per step, with the corrected rate's 95% interval.

    Columns (from ``awareness_prevalence``): ``run, step, n, flagged, raw_rate, corrected_rate,
    ci_lo, ci_hi`` (``estimator`` too, when present, for the tooltip). Folded to ``run, step, n,
    flagged, measure, rate, ci_lo, ci_hi, status``. A step with no transcript to score (n = 0 or
    no rate) is drawn as a grey "no data" mark on the axis, never as 0%.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, AWARENESS_COLUMNS, "awareness_chart", optional=("estimator",))
    if "estimator" not in data.columns:
        data = data.with_columns(pl.lit(None, pl.String).alias("estimator"))
    keys = ["run", "step", "n", "flagged", "estimator"]
    no_data = (pl.col("n").fill_null(0) <= 0)
    long = pl.concat([
        data.select(*keys, pl.lit("raw (classify and count)").alias("measure"),
                    pl.when(no_data).then(None).otherwise(pl.col("raw_rate")).cast(pl.Float64).alias("rate"),
                    pl.lit(None, pl.Float64).alias("ci_lo"), pl.lit(None, pl.Float64).alias("ci_hi")),
        data.select(*keys, pl.lit("corrected for classifier error").alias("measure"),
                    pl.when(no_data).then(None).otherwise(pl.col("corrected_rate")).cast(pl.Float64).alias("rate"),
                    pl.when(no_data).then(None).otherwise(pl.col("ci_lo")).cast(pl.Float64).alias("ci_lo"),
                    pl.when(no_data).then(None).otherwise(pl.col("ci_hi")).cast(pl.Float64).alias("ci_hi")),
    ]).with_columns(
        pl.col("n").fill_null(0).cast(pl.Int64), pl.col("flagged").cast(pl.Int64),
        pl.when(pl.col("n").fill_null(0) <= 0).then(pl.lit("no data")).otherwise(pl.lit("data")).alias("status"),
        _few_label("n"),
    ).sort("run", "measure", "step")
    long = with_keys(long, "run")
    steps = _steps(long)
    top = max([v for v in long["rate"].to_list() + long["ci_hi"].to_list() if v is not None] or [0.0])
    # all zero (or nothing): a 0–5% axis instead of a degenerate one holding only "0%"
    y_scale = alt.Scale(domain=[0, 0.05]) if top < 0.05 else alt.Scale(zero=True)
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("measure:N"),
               alt.Tooltip("rate:Q", format=".1%", title="share of transcripts"),
               alt.Tooltip("ci_lo:Q", format=".1%", title="95% lo"), alt.Tooltip("ci_hi:Q", format=".1%", title="95% hi"),
               alt.Tooltip("flagged:Q", format=",d", title="flagged transcripts"),
               alt.Tooltip("n:Q", format=",d", title="n (transcripts)"), alt.Tooltip("estimator:N", title="correction")]
    measure_scale = alt.Scale(domain=["corrected for classifier error", "raw (classify and count)"], range=["#c0392b", "#7f7f7f"])
    base = alt.Chart().encode(x=_step_x(alt, steps))
    band = base.transform_filter("datum.measure === 'corrected for classifier error' && datum.ci_lo !== null").mark_area(
        opacity=0.2, color="#c0392b").encode(
        y=alt.Y("ci_lo:Q", title="share of transcripts", axis=alt.Axis(format="%"), scale=y_scale),
        y2="ci_hi:Q")
    # the interval as a bar at each checkpoint too: a band over one checkpoint has no width
    whisker = base.transform_filter("datum.measure === 'corrected for classifier error' && datum.ci_lo !== null").mark_rule(
        color="#c0392b", opacity=0.55, strokeWidth=2).encode(y="ci_lo:Q", y2="ci_hi:Q")
    line = base.transform_filter("datum.rate !== null").mark_line().encode(
        y="rate:Q", color=alt.Color("measure:N", title="estimate", scale=measure_scale),
        strokeDash=alt.StrokeDash("measure:N", title="estimate", scale=alt.Scale(
            domain=measure_scale.domain, range=[[1, 0], [4, 3]])))
    points = base.transform_filter("datum.rate !== null").mark_point().encode(
        y="rate:Q", color=alt.Color("measure:N", title="estimate", scale=measure_scale),
        opacity=_few_opacity(alt), tooltip=tooltip)
    missing = base.transform_filter("datum.status === 'no data' && datum.measure === 'raw (classify and count)'").mark_point(
        shape="cross", color=NO_DATA_COLOR, size=70).encode(y=alt.datum(0), tooltip=[
            alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("status:N", title="no data"),
            alt.Tooltip("n:Q", format=",d", title="n (transcripts scored)")])
    chart = alt.layer(band, whisker, line, points, missing, data=long).properties(width=480, height=220)
    title = _title(alt, "Verbalized eval awareness per checkpoint",
                   f"share of transcripts; band and bars: 95% interval of the corrected rate; grey ×: no data; faded: n < {FEW}; "
                   "click a point for its flagged sentences")
    if _runs(long) > 1:
        return chart.facet(row=_nominal(alt, alt.Row, "run", "run")).properties(title=title)
    return chart.properties(title=title)


def awareness_covert_chart(df):
    """Covert-action rate among transcripts flagged as eval-aware vs not flagged, per step, with
    95% Wilson intervals. Cells with fewer than FEW labelled transcripts are drawn as faded points
    without a band or a connecting line (a swing from 0% to 100% on one transcript is noise).

    Columns: ``run, step, group, n, covert, rate, lo, hi`` (``n`` = labelled transcripts in the
    group, ``covert`` = those with a covert action).
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, COVERT_COLUMNS, "awareness_covert_chart").with_columns(
        pl.col("rate", "lo", "hi").cast(pl.Float64).fill_nan(None), _few_label("n")).sort("run", "group", "step")
    data = with_keys(data, "run")
    steps = _steps(data)
    groups = _in_order(data["group"].to_list())
    palette = ["#c0392b", "#2e6fb7", "#7f7f7f", "#27ae60"]
    color = alt.Color("group:N", title="transcripts", scale=alt.Scale(domain=groups, range=palette[:len(groups)]),
                      legend=alt.Legend(symbolOpacity=1))
    base = alt.Chart().encode(x=_step_x(alt, steps), color=color)
    enough = f"datum.n >= {FEW}"
    band = base.transform_filter(enough).mark_area(opacity=0.18).encode(
        y=alt.Y("lo:Q", title="covert-action rate (share of transcripts)", axis=alt.Axis(format="%")),
        y2="hi:Q")
    line = base.transform_filter(enough).mark_line().encode(y="rate:Q")
    points = base.transform_filter("datum.rate !== null").mark_point().encode(
        y="rate:Q", opacity=_few_opacity(alt, "labelled transcripts"), tooltip=[
            alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"), alt.Tooltip("group:N"),
            alt.Tooltip("rate:Q", format=".1%", title="covert-action rate"),
            alt.Tooltip("lo:Q", format=".1%", title="95% lo"), alt.Tooltip("hi:Q", format=".1%", title="95% hi"),
            alt.Tooltip("covert:Q", format=",d", title="covert actions"),
            alt.Tooltip("n:Q", format=",d", title="n (labelled transcripts)")])
    chart = alt.layer(band, line, points, data=data).properties(width=480, height=220)
    title = _title(alt, "Covert actions with and without verbalized awareness",
                   f"share of labelled transcripts taking a covert action; band: 95% Wilson interval; "
                   f"faded points: n < {FEW}, no band, not joined; click a point for its flagged sentences")
    if _runs(data) > 1:
        return chart.facet(row=_nominal(alt, alt.Row, "run", "run")).properties(title=title)
    return chart.properties(title=title)


# -- environments ---------------------------------------------------------------------------
def collapse_identical(df):
    """Per (run, measure): when every environment has the same value at every step, one series
    ``all N environments (identical)`` instead of N lines drawn on top of each other. The rows
    gain ``env_filter`` (the environment to filter evidence by; null for a collapsed series)."""
    import polars as pl

    df = df.with_columns(pl.col("environment").alias("env_filter"))
    parts = []
    for (_run, _measure), group in df.group_by(["run", "measure"], maintain_order=True):
        envs = group["environment"].n_unique()
        per_step = group.group_by("step").agg(pl.col("value").n_unique().alias("values"),
                                              pl.col("environment").n_unique().alias("envs"))
        if envs > 1 and per_step["values"].max() == 1 and per_step["envs"].min() == envs:
            first = group.sort("environment").unique("step", keep="first", maintain_order=True)
            parts.append(first.with_columns(pl.lit(f"all {envs} environments (identical)").alias("environment"),
                                            pl.lit(None, pl.String).alias("env_filter")))
        else:
            parts.append(group)
    return pl.concat(parts, how="diagonal_relaxed") if parts else df


def split_measure(measure: str) -> tuple[str, str]:
    """``"covert-action rate (share of labelled transcripts)"`` → (name, unit); a measure without
    a parenthesised unit is its own unit.

    >>> split_measure("reasoning tokens per transcript (mean)")
    ('reasoning tokens per transcript', 'mean')
    """
    name, sep, unit = measure.rpartition(" (")
    if sep and unit.endswith(")") and name:
        return name, unit[:-1]
    return measure, measure


def _value_axis(alt, unit: str):
    """Counts get integer ticks (never "0.2 transcripts"); shares a percent format."""
    if unit == "count":
        return alt.Axis(labelExpr=_INTEGER_LABELS, tickMinStep=1)
    if unit.startswith("share"):
        return alt.Axis(format="%")
    return alt.Axis()


def environment_breakdown_chart(df, columns: int = 2):
    """One panel per measure (and run), titled with the measure, its unit as the y-axis title,
    one line per environment over steps.

    Columns: ``run, step, environment, measure, value`` and optionally ``lo, hi`` (an interval,
    drawn as a band) and ``n`` (transcripts behind the value). Measures are free text naming
    their unit in parentheses, e.g. ``"covert-action rate (share of labelled transcripts)"``
    (:func:`split_measure`). Environments with identical series are drawn once
    (:func:`collapse_identical`).
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, ENVIRONMENT_COLUMNS[:5], "environment_breakdown_chart", optional=("lo", "hi", "n"))
    for col in ("lo", "hi"):
        if col not in data.columns:
            data = data.with_columns(pl.lit(None, pl.Float64).alias(col))
    if "n" not in data.columns:
        data = data.with_columns(pl.lit(None, pl.Int64).alias("n"))
    data = data.with_columns(pl.col("environment").fill_null("(none)"), pl.col("value", "lo", "hi").cast(pl.Float64))
    data = collapse_identical(data).with_columns(_few_label("n").fill_null(f"n ≥ {FEW}"))
    several = _runs(data) > 1
    data = data.with_columns((pl.format("{} — {}", "measure", "run") if several else pl.col("measure")).alias("panel"))
    panels_order = _in_order(data["panel"].to_list())
    data = with_keys(data, "environment").sort("panel", "environment", "step")
    tooltip = [alt.Tooltip("run:N"), alt.Tooltip("environment:N"), alt.Tooltip("step:Q", format="d"),
               alt.Tooltip("measure:N"), alt.Tooltip("value:Q", format=",.4g"),
               alt.Tooltip("lo:Q", format=",.4g", title="95% lo"), alt.Tooltip("hi:Q", format=",.4g", title="95% hi"),
               alt.Tooltip("n:Q", format=",d", title="n (transcripts)")]
    color = _nominal(alt, alt.Color, "environment", "environment", legend={"symbolOpacity": 1, "labelLimit": 280})
    panels = []
    for panel in panels_order:
        rows = data.filter(pl.col("panel") == panel)
        measure = rows["measure"][0]
        name, unit = split_measure(measure)
        title = panel.replace(measure, name, 1) if name != measure else panel
        base = alt.Chart().encode(x=_step_x(alt, _steps(rows)), color=color)
        y = alt.Y("value:Q", title=unit, axis=_value_axis(alt, unit))
        band = base.transform_filter(f"datum.lo !== null && datum.n >= {FEW}").mark_area(opacity=0.15).encode(
            y=alt.Y("lo:Q", title=unit), y2="hi:Q")
        line = base.mark_line().encode(y=y)
        points = base.mark_point().encode(y=y, opacity=_few_opacity(alt), tooltip=tooltip)
        panels.append(alt.layer(band, line, points).transform_filter(alt.FieldEqualPredicate(field="panel", equal=panel))
                      .properties(width=300, height=160, title=alt.Title(title, fontSize=13)))
    return alt.concat(*panels, columns=columns, data=data).resolve_scale(y="independent").properties(
        title=_title(alt, "Per-environment breakdown",
                     "one line per environment (identical environments drawn once); each panel names its measure and unit; "
                     "click a point for that environment's evidence"))


# -- usage drift ------------------------------------------------------------------------------
def usage_drift_chart(df, columns: int = 3):
    """How far a term's contexts moved from its first step (cosine distance of context
    centroids), one panel per term, with the bootstrap interval.

    Columns (from ``usage_drift``, with ``run`` and ``term`` added): ``run, term, step,
    contexts, drift_from_first, lo, hi``.
    """
    alt = _alt()
    import polars as pl

    data = _frame(df, USAGE_DRIFT_COLUMNS, "usage_drift_chart", optional=("drift_from_previous",))
    terms = _in_order(data["term"].to_list())
    data = with_keys(data.with_columns(_few_label("contexts"), pl.col("drift_from_first", "lo", "hi").cast(pl.Float64)),
                     "term", "run").sort("term", "run", "step")
    tooltip = [alt.Tooltip("term:N"), alt.Tooltip("run:N"), alt.Tooltip("step:Q", format="d"),
               alt.Tooltip("drift_from_first:Q", format=".3f", title="drift from first step"),
               alt.Tooltip("lo:Q", format=".3f", title="95% lo"), alt.Tooltip("hi:Q", format=".3f", title="95% hi"),
               alt.Tooltip("contexts:Q", format=",d", title="n (contexts)")]
    if "drift_from_previous" in data.columns:
        tooltip.insert(4, alt.Tooltip("drift_from_previous:Q", format=".3f", title="drift from previous step"))
    color = _nominal(alt, alt.Color, "run", "run", legend={"symbolOpacity": 1})
    panels = []
    for term in terms:
        keep = alt.FieldEqualPredicate(field=key_column("term"), equal=KEY_PREFIX + term)
        base = alt.Chart().encode(x=_step_x(alt, _steps(data.filter(pl.col("term") == term))), color=color)
        band = base.transform_filter(f"datum.contexts >= {FEW} && datum.lo !== null").mark_area(opacity=0.2).encode(
            y=alt.Y("lo:Q", title="cosine distance from first step"), y2="hi:Q")
        line = base.mark_line().encode(y="drift_from_first:Q")
        points = base.mark_point().encode(y="drift_from_first:Q", opacity=_few_opacity(alt, "contexts"), tooltip=tooltip)
        panels.append(alt.layer(band, line, points).transform_filter(keep).properties(
            width=240, height=140, title=alt.Title(quoted(term), fontSize=13)))
    return alt.concat(*panels, columns=columns, data=data).resolve_scale(y="independent").properties(
        title=_title(alt, "Usage drift of watchlist terms",
                     "how far each term's contexts moved from its first step (0 = same usage); band: 95% bootstrap interval"))


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
    "usage_drift": usage_drift_chart,
}
