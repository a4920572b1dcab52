"""Reports: chart specs, spec validation, the sections' wiring to the analyses, the evidence, the
page (escaping, no remote URL, drill-down attributes) and the CLI's exit codes. Publishing (what
may be replaced, symlinks, stale directories) is in test_reports_publish.py; the real-browser
tests in test_reports_browser.py; the lock-wait test (a second process) is here, marked slow."""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import html
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from cotwatch.analytics.errors import InputError, SpecError
from markupsafe import escape

from tests import _reports_helpers as H

REPO = Path(__file__).resolve().parents[1]


# -- fixtures ----------------------------------------------------------------------------------
def write_store(path: Path, *, checkpoints: int = 3, per_checkpoint: int = 4, payload: bool = True,
                extra: list[dict] | None = None, run: str = "rl") -> Path:
    """A small store from the synthetic generator, plus (optionally) one hostile transcript whose
    environment and reasoning carry an HTML/JS payload, and any ``extra`` records."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    records = list(synth.generate_run(run=run, checkpoints=checkpoints, transcripts_per_checkpoint=per_checkpoint,
                                      environments=synth.DEFAULT_ENVIRONMENTS[:2], seed=3))
    if payload:
        records.append({"id": "hostile-1", "run": run, "step": records[-1]["step"], "environment": H.PAYLOAD,
                        "covert_action": True, "score": 0.5,
                        "reasoning": f"Maybe the watchers are grading this, autop style. {H.PAYLOAD} The autop plan.",
                        "output": "done"})
    records += extra or []
    src = path.parent / f"{path.stem}.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    with Store.open(path, read_only=False) as store:
        ingest_paths(store, [src])
    return path


def write_two_run_store(path: Path) -> Path:
    """Two small synthetic runs, one with a name that needs escaping and slugging."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    src = path.parent / f"{path.stem}.jsonl"
    with src.open("w") as fh:
        for run, seed in (("rl-a", 1), ("rl <b>/2", 2)):
            for rec in synth.generate_run(run=run, checkpoints=3, transcripts_per_checkpoint=4,
                                          environments=synth.DEFAULT_ENVIRONMENTS[:2], seed=seed):
                fh.write(json.dumps(rec) + "\n")
    with Store.open(path, read_only=False) as store:
        ingest_paths(store, [src])
    return path


@pytest.fixture(scope="module")
def store_file(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("reports") / "store.duckdb")


@pytest.fixture(scope="module")
def written(store_file, tmp_path_factory) -> Path:
    """One report written from the module's store with the default spec (images: see
    test_chart_images)."""
    from cotwatch.reports.write import write_report

    out = tmp_path_factory.mktemp("written") / "report"
    lines: list[str] = []
    write_report(store_file, None, out, log=lines.append, strict=True, images=False)
    (out.parent / "log.txt").write_text("\n".join(lines))
    return out


def _datasets(spec: dict) -> list[dict]:
    [values] = spec["datasets"].values()
    return values


def _walk(node, found: list, test) -> list:
    if isinstance(node, dict):
        if test(node):
            found.append(node)
        for v in node.values():
            _walk(v, found, test)
    elif isinstance(node, list):
        for v in node:
            _walk(v, found, test)
    return found


def _marks(spec: dict) -> list[dict]:
    """Every unit spec (a mark with its encoding and transforms) in a layered/concatenated/faceted spec."""
    return _walk(spec, [], lambda n: "mark" in n and "encoding" in n)


def _encodings(spec: dict) -> list[dict]:
    return [m["encoding"] for m in _marks(spec)]


def _tooltip_fields(enc: dict) -> list[str]:
    return [t["field"] for t in enc.get("tooltip", [])]


def _filters(mark: dict) -> list:
    return [t["filter"] for t in mark.get("transform", []) if "filter" in t]


def _mark_type(mark: dict) -> str:
    return mark["mark"]["type"] if isinstance(mark["mark"], dict) else mark["mark"]


# -- chart specs -----------------------------------------------------------------------------------
def test_term_rates_chart_one_panel_per_term_no_empty_panels():
    """Concatenated panels (not a wrapped facet): 2 terms in a 3-column grid draw 2 panels, and no
    empty third panel with axes."""
    from cotwatch.reports.charts import KEY_PREFIX, term_rates_chart

    df = H.term_rates_frame()
    spec = term_rates_chart(df, columns=3).to_dict()
    assert "facet" not in spec and spec["columns"] == 3 and len(spec["concat"]) == 2
    assert [p["title"]["text"] for p in spec["concat"]] == ["“autop”", "“watchers”"]  # a title is never a bare value
    assert spec["resolve"] == {"scale": {"y": "independent"}}
    rows = _datasets(spec)
    assert [(r["term"], r["step"], r["occurrences"]) for r in rows] == [
        ("autop", 0, 1), ("autop", 100, 2), ("autop", 200, 3), ("watchers", 0, 5), ("watchers", 100, 10), ("watchers", 200, 15)]
    assert rows[0]["_key_term"] == KEY_PREFIX + "autop"
    first = spec["concat"][0]
    assert first["transform"] == [{"filter": {"field": "_key_term", "equal": KEY_PREFIX + "autop"}}]
    band, line, points = first["layer"]
    assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == ("rate_lo", "rate_hi")
    assert _filters(band) == ["datum.docs >= 10"]  # no band on fewer than 10 transcripts
    assert points["encoding"]["opacity"]["field"] == "few"
    assert line["encoding"]["x"]["field"] == "step" and line["encoding"]["x"]["title"] == "training step"
    assert _tooltip_fields(points["encoding"]) == ["term", "run", "step", "rate_per_1k", "rate_lo", "rate_hi",
                                                   "occurrences", "tokens", "docs_with_term", "docs"]
    assert spec["title"]["text"] == "Watchlist terms over checkpoints"


def test_term_heatmap_no_data_and_small_cells():
    from cotwatch.reports.charts import term_heatmap

    df = H.term_rates_frame().with_columns(
        pl.when(pl.col("step") == 100).then(0).otherwise(pl.col("docs")).alias("docs"))
    spec = term_heatmap(df).to_dict()
    cells, empty = spec["layer"]
    assert _mark_type(cells) == "rect" and _filters(cells) == ["datum.docs > 0"]
    assert _filters(empty) == ["datum.docs <= 0"] and empty["mark"]["color"] == "#bdbdbd"  # grey: no data, not 0%
    assert cells["encoding"]["color"]["field"] == "doc_fraction" and cells["encoding"]["opacity"]["field"] == "few"
    enc = cells["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"], enc["y"]["field"]) == ("step", "ordinal", "_key_term")
    assert enc["y"]["axis"]["labelExpr"] == "slice(datum.label, 1)"
    rows = {(r["term"], r["step"]): r for r in _datasets(spec)}
    assert rows[("autop", 100)]["doc_fraction"] is None and rows[("autop", 100)]["status"] == "no data"
    assert rows[("autop", 200)]["doc_fraction"] == 0.02 and rows[("autop", 200)]["few"] == "n ≥ 10"
    assert "docs" in _tooltip_fields(enc)
    two = pl.concat([H.term_rates_frame(), H.term_rates_frame().with_columns(pl.lit("r2").alias("run"))])
    spec2 = term_heatmap(two).to_dict()
    assert spec2["facet"]["row"]["field"] == "_key_run" and len(_datasets(spec2)) == 12


def test_emergent_terms_chart_spec():
    from cotwatch.reports.charts import emergent_terms_chart

    spec = emergent_terms_chart(H.discover_frame().with_columns(pl.lit("r1").alias("run"))).to_dict()
    rows = _datasets(spec)
    assert [r["term"] for r in rows] == ["autop", "marinade", "vantage"]  # by score, descending
    assert rows[0]["run"] == "r1"  # the drill-down reads the run from the datum
    enc = spec["encoding"]
    assert enc["x"]["field"] == "score" and enc["color"]["field"] == "english_zipf"
    assert enc["y"]["field"] == "_key_term" and enc["y"]["sort"] == {"field": "score", "order": "descending"}
    assert "docs_with_term_late" in _tooltip_fields(enc)


def test_word_shift_chart_single_and_chained():
    from cotwatch.reports.charts import word_shift_chart

    one = word_shift_chart(H.shift_frame()).to_dict()
    assert one["mark"]["type"] == "bar" and "concat" not in one and "facet" not in one
    rows = _datasets(one)
    assert [(r["term"], r["direction"], r["pair"]) for r in rows] == [
        ("autop", "more at later step", "step 0 → 200"), ("watchers", "more at later step", "step 0 → 200"),
        ("the", "less at later step", "step 0 → 200")]
    assert one["encoding"]["x"]["field"] == "contribution"
    chained = word_shift_chart(H.shift_frame(chained=True)).to_dict()
    assert len(chained["concat"]) == 2 and "facet" not in chained and len(_datasets(chained)) == 6
    assert [p["title"]["text"] for p in chained["concat"]] == ["step 0 → 100", "step 100 → 200"]
    assert chained["resolve"] == {"scale": {"x": "independent", "y": "independent"}}
    assert chained["title"]["text"] == "Word shift, chained over consecutive checkpoints"


def test_awareness_chart_folds_raw_and_corrected():
    from cotwatch.reports.charts import awareness_chart

    spec = awareness_chart(H.awareness_frame()).to_dict()
    rows = _datasets(spec)
    assert len(rows) == 6
    corrected = [r for r in rows if r["measure"] == "corrected for classifier error"]
    raw = [r for r in rows if r["measure"] == "raw (classify and count)"]
    assert [r["rate"] for r in raw] == [0.02, 0.11, 0.2]
    assert [r["rate"] for r in corrected] == pytest.approx([0.018, 0.099, 0.18])
    assert [r["ci_hi"] for r in corrected] == pytest.approx([0.026, 0.143, 0.26])
    assert all(r["ci_lo"] is None for r in raw)
    band, whisker, line, points, missing = _marks(spec)
    assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == ("ci_lo", "ci_hi")
    assert band["encoding"]["y"]["axis"]["format"] == "%" and band["encoding"]["y"]["title"] == "share of transcripts"
    # the interval is also a bar at each checkpoint: a band over a single checkpoint has no width
    assert whisker["mark"]["type"] == "rule"
    assert (whisker["encoding"]["y"]["field"], whisker["encoding"]["y2"]["field"]) == ("ci_lo", "ci_hi")
    assert line["encoding"]["color"]["field"] == "measure" and line["encoding"]["strokeDash"]["field"] == "measure"
    assert {"n", "flagged", "estimator"} <= set(_tooltip_fields(points["encoding"]))
    two = awareness_chart(H.awareness_frame(runs=("a", "b"))).to_dict()
    assert two["facet"]["row"]["field"] == "_key_run" and len(_datasets(two)) == 12


def test_bidi_overrides_in_run_names_are_markers_in_charts_and_verbatim_in_data():
    """A U+202E in a run name would reverse the facet header after it: the chart shows a visible
    <U+202E> marker; the data (tooltips, drill-down, CSV) keeps the name as it is."""
    from cotwatch.reports.charts import awareness_chart

    evil, other = "rl\u202eevil", "base"
    spec = awareness_chart(H.awareness_frame(runs=(evil, other))).to_dict()
    rows = _datasets(spec)
    assert {r["run"] for r in rows} == {evil, other}
    keys = {r["_key_run"] for r in rows}
    assert all("\u202e" not in k for k in keys) and any("rl<U+202E>evil" in k for k in keys)
    assert any(k.endswith(other) for k in keys)


def test_awareness_chart_no_data_is_not_zero():
    """A step with nothing to score (a run without reasoning) is a grey "no data" mark, never 0%."""
    from cotwatch.reports.charts import awareness_chart

    df = H.awareness_frame().with_columns(
        pl.when(pl.col("step") == 100).then(0).otherwise(pl.col("n")).alias("n"),
        pl.when(pl.col("step") == 100).then(0.0).otherwise(pl.col("raw_rate")).alias("raw_rate"),
        pl.when(pl.col("step") == 100).then(0.0).otherwise(pl.col("corrected_rate")).alias("corrected_rate"))
    spec = awareness_chart(df).to_dict()
    at_100 = [r for r in _datasets(spec) if r["step"] == 100]
    assert {(r["rate"], r["ci_lo"], r["status"]) for r in at_100} == {(None, None, "no data")}
    band, whisker, line, points, missing = _marks(spec)
    assert "datum.rate !== null" in _filters(points) and "datum.rate !== null" in _filters(line)
    assert missing["mark"]["shape"] == "cross" and any("no data" in f for f in _filters(missing))
    assert missing["encoding"]["y"] == {"datum": 0}
    assert all(any("datum.ci_lo !== null" in f for f in _filters(m)) for m in (band, whisker))


def test_awareness_covert_chart_small_groups_not_joined():
    """Groups of fewer than 10 labelled transcripts: a faded point, no band, no connecting line;
    n in the tooltip."""
    from cotwatch.reports.charts import awareness_covert_chart

    spec = awareness_covert_chart(H.covert_frame()).to_dict()
    band, line, points = _marks(spec)
    assert _filters(band) == ["datum.n >= 10"] and _filters(line) == ["datum.n >= 10"]
    assert points["encoding"]["opacity"]["field"] == "few"
    assert {"n", "covert", "lo", "hi"} <= set(_tooltip_fields(points["encoding"]))
    small = [r for r in _datasets(spec) if r["n"] < 10]
    assert [(r["step"], r["group"], r["few"]) for r in small] == [(100, "flagged as eval-aware", "n < 10")]
    assert band["encoding"]["y"]["title"] == "covert-action rate (share of transcripts)"


def test_overview_runs_have_their_own_scale():
    """A run of 3 transcripts next to one of 3,000: each run's panel has its own y scale."""
    from cotwatch.reports.charts import overview_chart

    spec = overview_chart(H.overview_frame()).to_dict()
    rows = _datasets(spec)
    assert [(r["step"], r["environment"], r["tokens_per_transcript"]) for r in rows] == [
        (0, "env_a", 100.0), (0, "env_b", 108.3), (100, "(none)", 88.9), (100, "env_a", 109.1)]
    assert spec["encoding"]["y"]["title"] == "transcripts (count)"
    tiny = pl.DataFrame({"run": ["tiny"], "step": [0], "environment": ["env_a"], "transcripts": [3], "reasoning_tokens": [90]})
    two = overview_chart(pl.concat([H.overview_frame().with_columns(pl.col("transcripts") * 300), tiny])).to_dict()
    assert two["facet"]["row"]["field"] == "_key_run" and two["resolve"] == {"scale": {"y": "independent"}}


def test_environment_chart_names_units_and_draws_identical_series_once():
    from cotwatch.reports.charts import environment_breakdown_chart

    spec = environment_breakdown_chart(H.environment_frame()).to_dict()
    assert "facet" not in spec and len(spec["concat"]) == 2
    titles = [p["title"]["text"] for p in spec["concat"]]
    assert titles == ["covert-action rate", "transcripts"]
    y_titles = [p["layer"][1]["encoding"]["y"]["title"] for p in spec["concat"]]
    assert y_titles == ["share of labelled transcripts", "count"]
    assert "value (unit in panel title)" not in json.dumps(spec)
    rows = _datasets(spec)
    counts = [r for r in rows if r["measure"] == "transcripts (count)"]
    assert {r["environment"] for r in counts} == {"all 2 environments (identical)"} and len(counts) == 2
    assert all(r["env_filter"] is None for r in counts)  # a click filters no environment
    covert = [r for r in rows if r["measure"].startswith("covert")]
    assert {r["environment"] for r in covert} == {"env_a", "env_b"}
    assert [r["few"] for r in covert if r["n"] < 10] == ["n < 10"]
    band, line, points = spec["concat"][0]["layer"]
    assert _filters(band)[-1] == "datum.lo !== null && datum.n >= 10"
    assert "n" in _tooltip_fields(points["encoding"])


def usage_frame() -> pl.DataFrame:
    return pl.DataFrame({"run": ["r1"] * 6, "term": ["watchers"] * 3 + ["autop"] * 3, "step": [0, 100, 200] * 2,
                         "contexts": [40, 3, 40, 20, 20, 20], "drift_from_first": [0.0, 0.1, 0.3, 0.0, 0.01, 0.02],
                         "lo": [0.0, 0.02, 0.2, 0.0, 0.0, 0.01], "hi": [0.0, 0.4, 0.4, 0.0, 0.03, 0.04],
                         "drift_from_previous": [None, 0.1, 0.2, None, 0.01, 0.01]})


def test_usage_drift_chart_spec():
    from cotwatch.reports.charts import usage_drift_chart

    spec = usage_drift_chart(usage_frame()).to_dict()
    assert [p["title"]["text"] for p in spec["concat"]] == ["“watchers”", "“autop”"]
    band, line, points = spec["concat"][0]["layer"]
    assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == ("lo", "hi")
    assert _filters(band) == ["datum.contexts >= 10 && datum.lo !== null"]  # no band on 3 contexts
    assert line["encoding"]["y"]["field"] == "drift_from_first" and points["encoding"]["opacity"]["field"] == "few"
    assert {"contexts", "drift_from_previous"} <= set(_tooltip_fields(points["encoding"]))
    assert [r["few"] for r in _datasets(spec) if r["contexts"] < 10] == ["n < 10"]


def test_step_ticks_never_repeat():
    """With three steps 0, 1, 2 the ticks are exactly those (not "0 1 1 2 2"); with many, integer ticks."""
    from cotwatch.reports.charts import term_rates_chart

    few = H.term_rates_frame().with_columns(pl.col("step") // 100)
    x = term_rates_chart(few).to_dict()["concat"][0]["layer"][1]["encoding"]["x"]
    assert x["axis"]["values"] == [0, 1, 2] and x["axis"]["format"] == "d"
    many = pl.concat([H.term_rates_frame().with_columns(pl.lit(s, pl.Int64).alias("step")) for s in range(30)])
    x = term_rates_chart(many).to_dict()["concat"][0]["layer"][1]["encoding"]["x"]
    assert "values" not in x["axis"] and x["axis"]["tickMinStep"] == 1


def _all_charts():
    from cotwatch.reports import charts

    return {
        "overview": charts.overview_chart(H.overview_frame()),
        "term_rates": charts.term_rates_chart(H.term_rates_frame()),
        "term_heatmap": charts.term_heatmap(H.term_rates_frame()),
        "emergent": charts.emergent_terms_chart(H.discover_frame()),
        "word_shift": charts.word_shift_chart(H.shift_frame(chained=True)),
        "awareness": charts.awareness_chart(H.awareness_frame()),
        "covert": charts.awareness_covert_chart(H.covert_frame()),
        "environments": charts.environment_breakdown_chart(H.environment_frame()),
        "usage_drift": charts.usage_drift_chart(usage_frame()),
    }


def test_every_rate_tooltip_shows_its_group_size():
    sizes = {"n", "docs", "transcripts", "docs_with_term_late", "occurrences_from", "contexts"}
    for name, chart in _all_charts().items():
        if name == "word_shift":
            continue  # a divergence, not a rate
        tooltips = [_tooltip_fields(e) for e in _encodings(chart.to_dict()) if e.get("tooltip")]
        assert tooltips and all(sizes & set(t) for t in tooltips), (name, tooltips)


#: nominal fields whose values are the charts' own constants, never data
OWN_NOMINAL_FIELDS = {"measure", "direction", "group", "few", "status", "pair", "panel"}


def test_nominal_channels_never_group_by_raw_data_values():
    """Every nominal channel that carries data (term, run, environment) encodes its ``_key_`` copy,
    so a value like ``constructor`` cannot collide with a JavaScript object property in Vega."""
    for name, chart in _all_charts().items():
        spec = chart.to_dict()
        grouping = [{k: v for k, v in e.items() if k != "tooltip"} for e in _encodings(spec)]
        grouping += _walk(spec, [], lambda n: "facet" in n and isinstance(n["facet"], dict))
        channels = _walk(grouping, [], lambda n: isinstance(n.get("field"), str) and n.get("type") == "nominal")
        assert channels, name
        for ch in channels:
            assert ch["field"].startswith("_key_") or ch["field"] in OWN_NOMINAL_FIELDS, (name, ch)
            if "axis" in ch or "legend" in ch or "header" in ch:
                expr = (ch.get("axis") or ch.get("legend") or ch.get("header") or {}).get("labelExpr")
                assert expr == "slice(datum.label, 1)" or not ch["field"].startswith("_key_"), (name, ch)


def hostile_frames() -> dict:
    """Each chart's input with JavaScript property names as terms, runs and environments."""
    names = list(H.JS_PROPERTY_NAMES)
    rates = pl.concat([H.term_rates_frame().filter(pl.col("term") == "autop").with_columns(
        pl.lit(t).alias("term"), pl.lit(names[(i + 1) % len(names)]).alias("run")) for i, t in enumerate(names)])
    shift = pl.concat([H.shift_frame(chained=True).head(1).with_columns(pl.lit(t).alias("term")) for t in names])
    shift = shift.with_columns(pl.Series("to_step", [100 + 100 * (i % 2) for i in range(shift.height)]),
                               pl.Series("from_step", [100 * (i % 2) for i in range(shift.height)]))
    discover = pl.concat([H.discover_frame().head(1).with_columns(pl.lit(t).alias("term")) for t in names])
    overview = pl.concat([H.overview_frame().head(2).with_columns(pl.lit(env).alias("environment"), pl.lit(run).alias("run"))
                          for env, run in zip(names, names[::-1])])
    env = pl.concat([H.environment_frame().with_columns(pl.lit(e).alias("environment")) for e in names[:3]]).with_columns(
        pl.col("value") + pl.int_range(pl.len()).cast(pl.Float64) / 100)
    aware = pl.concat([H.awareness_frame(runs=(r,)) for r in names[:3]])
    covert = pl.concat([H.covert_frame().with_columns(pl.lit(r).alias("run")) for r in names[:3]])
    usage = pl.concat([usage_frame().filter(pl.col("term") == "autop").with_columns(
        pl.lit(t).alias("term"), pl.lit(names[(i + 3) % len(names)]).alias("run")) for i, t in enumerate(names[:4])])
    return {"term_rates_chart": rates, "term_heatmap": rates, "word_shift_chart": shift, "emergent_terms_chart": discover,
            "overview_chart": overview, "environment_breakdown_chart": env, "awareness_chart": aware,
            "awareness_covert_chart": covert, "usage_drift_chart": usage}


@pytest.mark.slow
def test_charts_with_javascript_property_names_draw_every_mark():
    """Terms, runs and environments named ``constructor``, ``__proto__``, ``toString``…: every chart
    draws (vl-convert: no JavaScript error on fd 2, no blank SVG) and shows the names as text."""
    import altair as alt
    from cotwatch.reports import charts
    from cotwatch.reports.files import chart_images, clean
    from cotwatch.reports.render import vl_version

    charts._alt()
    for fn_name, frame in hostile_frames().items():
        chart = getattr(charts, fn_name)(frame)
        with alt.theme.enable(charts.THEME), alt.data_transformers.disable_max_rows():
            drawn = chart_images(clean(chart.to_dict()), vl_version())
        assert not isinstance(drawn, str), (fn_name, drawn)
        svg, png = drawn
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
        shown = {n for n in H.JS_PROPERTY_NAMES if any(n in t for t in texts)}
        assert shown, (fn_name, texts[:40])
        assert not any(t.startswith(charts.KEY_PREFIX) for t in texts), fn_name  # the key prefix never shows
        assert svg.count("<path") + svg.count("<rect") > 5, fn_name


def test_chart_rejects_frame_missing_columns():
    from cotwatch.reports.charts import awareness_chart

    with pytest.raises(InputError, match=r"awareness_chart: frame lacks column\(s\) ci_lo, ci_hi"):
        awareness_chart(H.awareness_frame().drop("ci_lo", "ci_hi"))


def test_charts_accept_pandas():
    from cotwatch.reports.charts import term_heatmap

    spec = term_heatmap(H.term_rates_frame().to_pandas()).to_dict()
    assert len(_datasets(spec)) == 6


def test_one_theme_registered_and_enabled():
    import altair as alt
    from cotwatch.reports.charts import THEME, _alt, awareness_chart

    awareness_chart(H.awareness_frame())
    _alt()
    assert THEME in alt.theme.names() and alt.theme.active == THEME
    assert awareness_chart(H.awareness_frame()).to_dict()["config"]["title"]["anchor"] == "start"


# -- spec --------------------------------------------------------------------------------------------
def test_default_spec_lists_every_section():
    from cotwatch.reports.spec import SECTIONS, load_spec

    spec = load_spec()
    assert spec.section_names() == list(SECTIONS) and spec.left_out == {}
    assert spec.watch_terms[:3] == ("autop", "watchers", "illusions") and spec.classifier == "eval_awareness"
    assert spec.sections["emergent"] == {"top": 20, "early": None, "late": None, "min_docs": 5, "direction": "rising"}
    assert spec.sections["evidence"] == {"kwic_terms": 40, "kwic_lines": 3, "width": 50, "sentences": 3, "max_rows": 4000}
    assert spec.sections["usage_drift"] == {"terms": (), "top": 3, "window": 12, "cap": 50, "model": "static"}


@pytest.mark.parametrize("text, message", [
    ('titel = "x"', r"titel: unknown key"),
    ("max_steps = true", r"max_steps: expected int, got bool True"),
    ("max_steps = 1", r"max_steps: must be >= 2"),
    ('scope = "thoughts"', r"scope: must be one of reasoning, output, all"),
    ("runs = 'rl'", r"runs: expected a list of strings"),
    ("[sections.charts]", r"sections.charts: unknown section"),
    ("[sections.emergent]\ntopp = 3", r"sections.emergent.topp: unknown key"),
    ("[sections.emergent]\ntop = 'many'", r"sections.emergent.top: expected int, got str"),
    ("[sections.emergent]\ndirection = 'up'", r"sections.emergent.direction: must be rising or falling"),
    ("[sections.evidence]\nmax_rows = 2", r"sections.evidence.max_rows: must be >= 10"),
    ("[sections.usage_drift]\nmodel = 'bert'", r"sections.usage_drift.model: must be one of static, minilm"),
    ("[sections.usage_drift]\nterms = 'autop'", r"sections.usage_drift.terms: expected list, got str"),
    ('[sections.usage_drift]\nterms = ["ok", "/[a/"]', r"sections.usage_drift.terms\[1\] '/\[a/': "),
    ('[watchlist]\nterms = ["ok", "/[a/"]', r"watchlist.terms\[1\] '/\[a/': "),
    ("[sections.overview]\nenabled = false", r"sections: every section is disabled"),
    ("[classifier]\nthreshold = 0.5", r"classifier.threshold: unknown key \(known: name\)"),
    ("[watchlist]\nfile = 'missing.toml'", r"watchlist.file: no such file"),
    ('[watchlist]\nterms = ["ok", " "]', r"watchlist.terms\[1\]: empty term"),
    ('[watchlist]\nterms = ["@nosuchgroup"]', r"watchlist.terms\[0\] '@nosuchgroup': no group 'nosuchgroup'"),
    ("title = ", r"not valid TOML"),
])
def test_bad_specs_name_the_key(tmp_path, text, message):
    from cotwatch.reports.spec import load_spec

    path = tmp_path / "spec.toml"
    path.write_text(text + "\n")
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_spec_sections_subset_in_page_order_and_what_it_leaves_out():
    from cotwatch.reports.spec import SECTIONS, parse_spec

    spec = parse_spec("[sections.evidence]\nsentences = 3\n[sections.overview]\n[sections.terms]\nenabled = false\n")
    assert spec.section_names() == ["overview", "evidence"]
    assert spec.sections["evidence"] == {"kwic_terms": 40, "kwic_lines": 3, "width": 50, "sentences": 3, "max_rows": 4000}
    assert list(spec.left_out) == [s for s in SECTIONS if s not in ("overview", "evidence")]
    assert spec.left_out["terms"] == "switched off in the spec (enabled = false)"
    assert spec.left_out["heatmap"] == "not listed in the spec's [sections]"
    assert spec.to_json()["left_out"] == spec.left_out


# -- the page ----------------------------------------------------------------------------------------
def test_json_for_script_cannot_close_the_element():
    from cotwatch.reports.render import json_for_script

    value = {"t": "</script><script>alert(1)</script>", "a": "a & b", "ls": "x\u2028y"}
    text = json_for_script(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_report_files_and_metadata(written):
    from cotwatch.reports.publish import MARKER, TOOL_ID

    meta = json.loads((written / "report.json").read_text())
    assert meta["format"] == "cotwatch-report/2"
    assert meta["runs"] == ["rl"] and meta["transcript_counts"] == {"rl": 25} and meta["transcripts"] == 25
    assert meta["store"].endswith("store.duckdb")
    assert meta["spec"]["source"].endswith("drift.toml")
    assert set(meta["versions"]) >= {"cotwatch", "altair", "vl-convert-python", "duckdb", "polars", "vega", "vega-lite", "jinja2"}
    sections = [s["name"] for s in meta["sections"]]
    assert sections[0] == "overview" and "environments" in sections
    for s in meta["omitted"]:
        assert s["reason"]
    assert sorted(sections + [o["name"] for o in meta["omitted"]]) == sorted(
        ["overview", "terms", "heatmap", "emergent", "word_shift", "usage_drift", "awareness", "awareness_covert",
         "environments", "evidence"])
    charts = [c for s in meta["sections"] for c in s["charts"]]
    assert charts[:3] == ["overview", "term_rates", "term_heatmap"] and "environments" in charts
    for name in charts:
        assert (written / "data" / f"{name}.csv").stat().st_size > 0
        assert meta["files"][name] == {"csv": f"data/{name}.csv"}
    assert meta["evidence"]["kwic_rows"] > 0
    marker = (written / MARKER).read_text().splitlines()
    assert marker[0] == TOOL_ID
    listed = json.loads("\n".join(marker[1:]))["files"]
    assert sorted(listed) == sorted(p.relative_to(written).as_posix() for p in written.rglob("*")
                                    if p.is_file() and p.name != MARKER)
    log = (written.parent / "log.txt").read_text().splitlines()
    assert len(log) == 11  # one line per section of the default spec, then "wrote ..."
    assert re.fullmatch(r"overview: ok \(1 chart\(s\), 1 table\(s\)\) in \d+\.\ds", log[0])
    assert log[-1].startswith(f"wrote {written / 'index.html'}")


def test_chart_images(store_file, tmp_path):
    from cotwatch.reports.write import write_report

    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.overview]\n[sections.environments]\n")
    out = write_report(store_file, spec, tmp_path / "r", strict=True)
    meta = json.loads((out / "report.json").read_text())
    assert meta["files"]["overview"] == {"csv": "data/overview.csv", "svg": "charts/overview.svg", "png": "charts/overview.png"}
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "environments.png", "environments.svg", "overview.png", "overview.svg"]
    for name in ("overview", "environments"):
        assert (out / "charts" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        svg = (out / "charts" / f"{name}.svg").read_text()
        assert svg.startswith("<svg") and "Transcripts per checkpoint" in (out / "charts" / "overview.svg").read_text()
    env_svg = (out / "charts" / "environments.svg").read_text()
    assert "<script" not in env_svg and "<img" not in env_svg  # the payload legend label is text (truncated)
    assert ">grader &lt;script&gt;document.title=" in env_svg


def test_csv_is_exactly_the_chart_data(written):
    """data/<name>.csv holds the same rows as the dataset embedded in the page's spec for <name>
    (minus the ``_key_*`` columns, which only key Vega's grouping)."""
    page = (written / "index.html").read_text()
    meta = json.loads((written / "report.json").read_text())
    for name in [c for s in meta["sections"] for c in s["charts"]]:
        m = re.search(rf'<script type="application/json" id="spec-{re.escape(name)}">(.*?)</script>', page, re.S)
        embedded = [{k: v for k, v in row.items() if not k.startswith("_key_")} for row in _datasets(json.loads(m.group(1)))]
        rows = list(csv.DictReader(io.StringIO((written / "data" / f"{name}.csv").read_text())))
        assert len(rows) == len(embedded) > 0
        assert list(rows[0]) == list(embedded[0])
        for got, want in zip(rows, embedded):
            assert got == {k: "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in want.items()}


def test_overview_counts_match_the_store(written):
    rows = list(csv.DictReader(io.StringIO((written / "data" / "overview.csv").read_text())))
    assert sum(int(r["transcripts"]) for r in rows) == 25
    by_step = {}
    for r in rows:
        by_step[int(r["step"])] = by_step.get(int(r["step"]), 0) + int(r["transcripts"])
    assert by_step == {0: 8, 100: 8, 200: 9}  # 2 environments x 4, plus the hostile transcript at the last step


def test_page_has_no_remote_url_and_inlines_vega(written):
    from cotwatch.reports.render import NAMESPACE_URLS, page_urls

    page = (written / "index.html").read_text()
    assert page_urls(page) == []
    assert "jsdelivr" not in page and "unpkg" not in page
    assert set(re.findall(r"https?://[^\s\"'`<>)\\]*", page)) <= set(NAMESPACE_URLS)
    assert "vegaEmbed" in page and len(page) > 500_000  # the libraries themselves are in the page
    assert "<script src" not in page and "<link" not in page
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "'unsafe-inline'" not in csp.split(";")[1]


def test_payload_is_escaped_everywhere(written):
    """The hostile transcript's environment reaches chart data (legends, tooltips): there it is JSON
    with <, > and & as \\u escapes; in tables and attributes it is HTML-escaped; nowhere is it markup."""
    from cotwatch.reports.render import json_for_script

    page = (written / "index.html").read_text()
    body = page.rsplit("</head>", 1)[1]
    assert H.PAYLOAD_SCRIPT not in page and H.PAYLOAD_IMG not in page
    escaped = json_for_script(H.PAYLOAD)[1:-1]
    assert "<img" not in body and body.count(escaped) >= 1  # the environment name, as escaped JSON in a spec
    assert f'data-environment="{escape(H.PAYLOAD)}"' in body  # an evidence row's attribute, escaped
    assert "<script>document" not in body and 'onerror="document' not in body  # in no markup form
    assert body.count("<script") == 1 + body.count('<script type="application/json"')


def test_payload_escaped_in_html_tables():
    """Every table cell and row attribute is escaped by the template (evidence is untrusted model output)."""
    from datetime import datetime, timezone

    from cotwatch.reports.model import BuiltReport, Section, TableItem
    from cotwatch.reports.render import render_html
    from cotwatch.reports.spec import parse_spec

    frame = pl.DataFrame({"transcript_id": ['t<1>"'], "run": ["rl"], "step": [100], "environment": ["e&v"],
                          "left": [f"before {H.PAYLOAD_IMG}"], "match": ["autop"], "right": [H.PAYLOAD_SCRIPT]})
    built = BuiltReport(spec=parse_spec(f'title = "T {H.PAYLOAD_SCRIPT}"\n[sections.evidence]\n'), store_path="s<x>.duckdb",
                        runs=["rl"], transcript_counts={"rl": 1},
                        sections=[Section("evidence", "Evidence", intro=H.PAYLOAD, notes=[H.PAYLOAD_IMG],
                                          runs_omitted={"r<b>": H.PAYLOAD_IMG}, banner=H.PAYLOAD_SCRIPT,
                                          tables=[TableItem("evidence_kwic", "KWIC <b>", frame)])],
                        omitted=[], generated_at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    page = render_html(built, {}, {"evidence_kwic": {"csv": "data/evidence_kwic.csv"}})
    body = page.rsplit("</head>", 1)[1]
    assert H.PAYLOAD_SCRIPT not in page and H.PAYLOAD_IMG not in page and "<b>" not in body.replace("<b>r&lt;b&gt;</b>", "")
    assert f'<td class="text kwic-right">{escape(H.PAYLOAD_SCRIPT)}</td>' in body
    assert f'<td class="text kwic-left">{escape("before " + H.PAYLOAD_IMG)}</td>' in body
    assert '<td class="tid">t&lt;1&gt;&#34;</td>' in body and "<td>e&amp;v</td>" in body
    assert 'data-transcript-id="t&lt;1&gt;&#34;"' in body and 'data-environment="e&amp;v"' in body
    assert f'<p class="banner" role="alert">{escape(H.PAYLOAD_SCRIPT)}</p>' in body
    assert f"<title>T {escape(H.PAYLOAD_SCRIPT)}</title>" in page
    assert body.count("<script") == 1  # only the page's own script (no charts here)


def test_templates_autoescape():
    from cotwatch.reports.render import environment

    assert environment().autoescape is True
    rendered = environment().from_string("{{ x }}").render(x="<b>&")
    assert rendered == "&lt;b&gt;&amp;"


# -- evidence -------------------------------------------------------------------------------------
def test_whole_words_never_cuts_a_word():
    from cotwatch.reports.evidence import whole_words

    left, right = whole_words("xx the aggregator drops nulls", "merges the per-shard results", 20)
    assert left == "…drops nulls" and right == "merges the per-shard…"  # "gregator" was cut: dropped
    assert whole_words("a b", "c", 20) == ("a b", "c")           # short: the text's start and end, not cut
    assert whole_words("xxxxxxxxxxxxxxxxxxxxxxxxx", "y" * 30, 10) == ("…" + "x" * 10, "y" * 10 + "…")  # one long token
    assert whole_words("x" * 25 + " ", " " + "y" * 30, 10) == ("…" + "x" * 9 + " ", " " + "y" * 9 + "…")  # spaces at the match kept
    left, _ = whole_words("abc defghij klmno", "", 13)           # the cut falls on a space: nothing more dropped
    assert left == "…defghij klmno"


def test_kwic_match_never_wraps():
    from cotwatch.reports.render import static_text

    css = static_text("report.css")
    assert re.search(r"td\.kwic-match\{[^}]*white-space:nowrap", css)


def test_plan_kwic_fits_the_budget():
    from cotwatch.reports.evidence import plan_kwic

    cells = [("r", t, s) for t in ("a", "b") for s in range(100)]
    assert plan_kwic(cells, 3, 1000).lines == 3 and len(plan_kwic(cells, 3, 1000).cells) == 200
    fewer = plan_kwic(cells, 3, 300)
    assert fewer.lines == 1 and len(fewer.cells) == 200 and "1 per cell instead of 3" in fewer.notes[0]
    thin = plan_kwic(cells, 3, 50)
    assert thin.lines == 1 and len(thin.cells) <= 50 and {0, 99} <= {s for _, t, s in thin.cells if t == "a"}


def test_every_step_has_kwic_evidence(written, store_file):
    """Evidence rows for every (term, step) cell where the term occurs, not only the last step;
    each row carries the report ↔ viewer attributes."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import term_rates

    kwic = pl.read_csv(written / "data" / "evidence_kwic.csv")
    assert sorted(kwic["step"].unique().to_list()) == [0, 100, 200]
    rates = pl.read_csv(written / "data" / "term_heatmap.csv")
    occurs = rates.filter(pl.col("docs_with_term") > 0).select("term", "step").unique()
    assert occurs.join(kwic.select("term", "step").unique(), on=["term", "step"], how="anti").is_empty()
    # one line per transcript within a cell, at most kwic_lines (3) per cell
    per_cell = kwic.group_by("term", "step").agg(pl.len().alias("n"), pl.col("transcript_id").n_unique().alias("ids"))
    assert per_cell["n"].max() <= 3 and (per_cell["n"] == per_cell["ids"]).all()
    with Store.open(store_file) as store:
        autop = term_rates(store, ["autop"], run="rl").filter(pl.col("docs_with_term") > 0)
    got = kwic.filter(pl.col("term") == "autop").group_by("step").len().sort("step")
    assert got["len"].to_list() == [min(3, d) for d in autop.sort("step")["docs_with_term"].to_list()]
    body = (written / "index.html").read_text().rsplit("</head>", 1)[1]
    table = re.search(r'<table id="table-evidence_kwic" class="evidence" data-kind="kwic">.*?</table>', body, re.S).group(0)
    rows = re.findall(r'<tr data-run="([^"]*)" data-step="(\d+)" data-environment="[^"]*" data-term="([^"]*)" '
                      r'data-transcript-id="([^"]*)">', table)
    assert len(rows) == kwic.height and {r[0] for r in rows} == {"rl"}


def test_link_script_follows_the_viewer_contract(written):
    """Served over http(s) (by `cotwatch view`), evidence rows link to /transcript?run=…&id=…;
    the script builds the link with URLSearchParams (URL-encoded) and textContent, no HTML."""
    from cotwatch.reports.render import static_text

    script = static_text("report.js")
    assert 'location.protocol === "http:"' in script and '"/transcript?" + new URLSearchParams' in script
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    assert script in (written / "index.html").read_text()


# -- every section, wired to analyses with the documented shapes -------------------------------------
@pytest.fixture
def documented(monkeypatch):
    """Point the report's sections at stand-ins with the analyses' signatures and column shapes."""
    calls: list = []
    H.patch_analyses(monkeypatch, H.documented_analyses(calls))
    return calls


def test_every_section_with_documented_analyses(documented, store_file, tmp_path):
    from cotwatch.reports.evidence import whole_words
    from cotwatch.reports.write import write_report

    out = tmp_path / "report"
    lines: list[str] = []
    write_report(store_file, None, out, log=lines.append, strict=True, images=False)
    meta = json.loads((out / "report.json").read_text())
    assert [o["name"] for o in meta["omitted"]] == ["awareness_covert"]  # the synthetic store has no classifier results
    assert {s["name"]: s["charts"] for s in meta["sections"]} == {
        "overview": ["overview"], "terms": ["term_rates"], "heatmap": ["term_heatmap"], "emergent": ["emergent_terms"],
        "word_shift": ["word_shift", "word_shift_chained"], "usage_drift": ["usage_drift"], "awareness": ["awareness"],
        "environments": ["environments"], "evidence": []}
    assert [s["tables"] for s in meta["sections"] if s["tables"]] == [
        ["overview_runs"], ["emergent_terms_examples"], ["usage_drift_contexts"], ["evidence_kwic"]]
    # the analyses were asked with the spec's parameters
    watch = ("autop", "watchers", "illusions", "vantage", "marinade", "disclaim", "overshadow", "parted",
             "fudge", "cunning", "glean", "craft", "synergy", "scoreboard", "aggregator")
    assert ("term_rates", watch, "rl", "reasoning") in documented
    assert ("discover_terms", "rl", None, None, 20, 5, "rising") in documented  # early/late: the analysis' defaults
    assert ("word_shift", "rl", 0, 200, 15) in documented and ("chained_word_shift", "rl", 15) in documented
    assert ("awareness_prevalence", "rl", "eval_awareness", True) in documented
    awareness = next(sec for sec in meta["sections"] if sec["name"] == "awareness")
    assert awareness["banner"] == H.TRANSFER_WARNING  # the correction's own warning, once
    assert f'<p class="banner" role="alert">{escape(H.TRANSFER_WARNING)}</p>' in (out / "index.html").read_text()
    # usage drift: the 3 watchlist terms in the most transcripts (the stand-in counts autop and watchers)
    assert [c[1:] for c in documented if c[0] == "usage_drift"] == [("watchers", "rl", 12, 50), ("autop", "rl", 12, 50)]
    drift = pl.read_csv(out / "data" / "usage_drift.csv")
    assert drift.select("term", "step", "drift_from_first").rows()[:3] == [("autop", 0, 0.0), ("autop", 100, 0.05), ("autop", 200, 0.2)]
    contexts = pl.read_csv(out / "data" / "usage_drift_contexts.csv")
    assert contexts.columns == ["term", "run", "side", "step", "transcript_id", "context", "typicality"]
    assert "“watchers” in run rl: largest change of usage between steps 100 and 200 (centroid distance 0.150)" in \
        next(sec for sec in meta["sections"] if sec["name"] == "usage_drift")["notes"]
    # evidence: a KWIC call per (term, step) cell where the term occurs — the watchlist terms (the
    # stand-in counts only autop and watchers; autop not at step 0: no transcript has it), then the
    # top word-shift terms of each pair at both of its steps ("the"; autop at step 0) — 50
    # characters + 20 of margin, 4x the lines to pick one per transcript
    evidence_calls = [c for c in documented if c[0] == "kwic" and c[5] == 12]
    assert [(c[1], c[3]) for c in evidence_calls][:5] == [
        ("autop", 100), ("autop", 200), ("watchers", 0), ("watchers", 100), ("watchers", 200)]
    assert sorted((c[1], c[3]) for c in evidence_calls) == [
        ("autop", 0), ("autop", 100), ("autop", 200), ("the", 0), ("the", 100), ("the", 200),
        ("watchers", 0), ("watchers", 100), ("watchers", 200)]
    assert all(c[4] == 70 for c in evidence_calls)
    # word shift: JSD contributions signed by direction; chained: one panel per consecutive pair
    shift = list(csv.DictReader(io.StringIO((out / "data" / "word_shift.csv").read_text())))
    assert [(r["term"], float(r["contribution"]), r["direction"]) for r in shift] == [
        ("autop", 0.004, "more at later step"), ("watchers", 0.001, "more at later step"),
        ("the", -0.002, "less at later step")]
    assert list(shift[0]) == ["from_step", "to_step", "term", "contribution", "run", "rate_from", "rate_to", "shift",
                              "occurrences_from", "occurrences_to", "pair", "direction"]
    chained = list(csv.DictReader(io.StringIO((out / "data" / "word_shift_chained.csv").read_text())))
    assert sorted({r["pair"] for r in chained}) == ["step 0 → 100", "step 100 → 200"] and len(chained) == 6
    # environment breakdown: store measures plus awareness by environment
    env = list(csv.DictReader(io.StringIO((out / "data" / "environments.csv").read_text())))
    assert sorted({r["measure"] for r in env}) == [
        "covert-action rate (share of labelled transcripts)", "reasoning tokens per transcript (mean)",
        "score / reward (mean)", "transcripts (count)", "verbalized eval awareness, corrected (share)"]
    covert = [r for r in env if r["measure"].startswith("covert") and r["environment"] == H.PAYLOAD]
    assert [(r["step"], r["value"], r["n"]) for r in covert] == [("200", "1.0", "1")]
    assert float(covert[0]["lo"]) == pytest.approx(0.20654, abs=1e-5) and float(covert[0]["hi"]) == 1.0  # Wilson, n=1
    # emergent examples: each with run, step and transcript id
    examples = list(csv.DictReader(io.StringIO((out / "data" / "emergent_terms_examples.csv").read_text())))
    assert [(r["term"], r["run"], r["step"], r["transcript_id"]) for r in examples] == [
        ("autop", "rl", "200", "hostile-1"), ("marinade", "rl", "", ""), ("vantage", "rl", "", "")]
    # evidence: escaped, with transcript id, run, step and environment
    page = (out / "index.html").read_text()
    body = page.rsplit("</head>", 1)[1]
    assert "<img" not in body and H.PAYLOAD_SCRIPT not in body
    kwic = list(csv.DictReader(io.StringIO((out / "data" / "evidence_kwic.csv").read_text())))
    assert list(kwic[0]) == ["term", "run", "step", "environment", "transcript_id", "left", "match", "right"]
    left, right = whole_words(f"the {H.PAYLOAD_IMG} ", f" {H.PAYLOAD_SCRIPT}", 50)  # verbatim, cut to whole words
    assert (kwic[0]["left"], kwic[0]["right"]) == (left, right) and left.startswith("…") and left.endswith(H.PAYLOAD_IMG[-20:] + " ")
    assert f'<td class="text kwic-left">{escape(left)}</td>' in body
    assert len(lines) == 11 and lines[-2].startswith("evidence: ok (0 chart(s), 1 table(s)")


def test_section_omitted_with_reason_when_analysis_fails(monkeypatch, store_file, tmp_path):
    from cotwatch.analytics.errors import NothingToReport
    from cotwatch.reports.write import write_report

    fakes = H.documented_analyses()

    def untrained(store, **kwargs):
        raise NothingToReport("no eval_awareness results for run 'rl'; run `cotwatch classify apply --run rl` first")

    fakes["awareness_prevalence"] = untrained
    fakes["discover_terms"] = lambda store, **kw: pl.DataFrame(schema={c: pl.Float64 for c in ("term", "score")})
    H.patch_analyses(monkeypatch, fakes)
    lines: list[str] = []
    write_report(store_file, None, tmp_path / "r", log=lines.append, images=False)
    meta = json.loads((tmp_path / "r" / "report.json").read_text())
    omitted = {o["name"]: o["reason"] for o in meta["omitted"]}
    assert omitted == {
        "emergent": "no rising term is used in >= 5 transcripts (min_docs)",
        "awareness": "no eval_awareness results for run 'rl'; run `cotwatch classify apply --run rl` first",
        "awareness_covert": "no transcript scored by 'eval_awareness' carries a covert_action label",
    }
    assert "awareness: omitted: no eval_awareness results for run 'rl'" in "\n".join(lines)
    page = (tmp_path / "r" / "index.html").read_text()
    assert '<section id="omitted">' in page and "no rising term is used in &gt;= 5 transcripts" in page


def test_unexpected_error_omits_section_unless_strict(monkeypatch, store_file, tmp_path):
    from cotwatch.reports.write import write_report

    fakes = H.documented_analyses()
    fakes["word_shift"] = lambda store, **kw: 1 / 0
    H.patch_analyses(monkeypatch, fakes)
    write_report(store_file, None, tmp_path / "r", images=False)
    meta = json.loads((tmp_path / "r" / "report.json").read_text())
    assert {"name": "word_shift", "title": "Word shift",
            "reason": "internal error: ZeroDivisionError: division by zero"} in meta["omitted"]
    with pytest.raises(ZeroDivisionError):
        write_report(store_file, None, tmp_path / "r2", images=False, strict=True)
    assert not (tmp_path / "r2").exists()


def test_partial_spec_states_what_it_left_out(store_file, tmp_path):
    from cotwatch.reports.write import write_report

    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.overview]\n[sections.heatmap]\nenabled = false\n")
    lines: list[str] = []
    out = write_report(store_file, spec, tmp_path / "r", images=False, log=lines.append)
    meta = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in meta["sections"]] == ["overview"]
    assert meta["left_out"]["heatmap"] == "switched off in the spec (enabled = false)"
    assert set(meta["left_out"]) == {"terms", "heatmap", "emergent", "word_shift", "usage_drift", "awareness",
                                     "awareness_covert", "environments", "evidence"}
    body = (out / "index.html").read_text().rsplit("</head>", 1)[1]
    assert f"Sections this spec ({escape(str(spec))}) does not draw:" in body
    assert "<li><b>heatmap</b>: switched off in the spec (enabled = false)</li>" in body
    assert "heatmap: left out: switched off in the spec (enabled = false)" in lines


def test_per_run_omissions_keep_the_other_runs(tmp_path):
    """A run with a single checkpoint has no emergent terms or word shift; the other run keeps its
    sections, and the page says which run was left out and why."""
    from cotwatch.analytics.synth import generator as synth
    from cotwatch.reports.write import write_report

    single = [dict(r, run="one-step") for r in synth.generate_run(run="one-step", checkpoints=1, transcripts_per_checkpoint=3,
                                                                   environments=synth.DEFAULT_ENVIRONMENTS[:1], seed=9)]
    store = write_store(tmp_path / "s.duckdb", payload=False, extra=single, per_checkpoint=6)
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.emergent]\nmin_docs = 1\n[sections.word_shift]\n")
    lines: list[str] = []
    out = write_report(store, spec, tmp_path / "r", images=False, strict=True, log=lines.append)
    meta = json.loads((out / "report.json").read_text())
    by_name = {s["name"]: s for s in meta["sections"]}
    assert by_name["emergent"]["charts"] == ["emergent_terms__rl"]
    assert "one-step" in by_name["emergent"]["runs_omitted"] and "1 counted step" in by_name["emergent"]["runs_omitted"]["one-step"]
    assert by_name["word_shift"]["runs_omitted"] == {"one-step": "1 checkpoint(s); a word shift compares two"}
    body = (out / "index.html").read_text().rsplit("</head>", 1)[1]
    assert "<li>Not drawn for run <b>one-step</b>: 1 checkpoint(s); a word shift compares two</li>" in body
    assert any(line.startswith("word_shift: ok (2 chart(s), nothing for run one-step: 1 checkpoint(s)") for line in lines)


def test_cli_run_selects_runs(cli, tmp_path):
    """``report --run R`` (repeatable) replaces the spec's runs; a spec's runs work the same way."""
    store = write_two_run_store(tmp_path / "s.duckdb")
    out = tmp_path / "r"
    r = cli("report", "--out", out, "--db", store, "--no-images", "--quiet", "--run", "rl-a")
    assert r.code == 0, r
    meta = json.loads((out / "report.json").read_text())
    assert meta["runs"] == ["rl-a"] and meta["spec"]["runs"] == ["rl-a"]
    r = cli("report", "--out", out, "--db", store, "--no-images", "--quiet", "--run", "rl-a", "--run", "rl <b>/2")
    assert r.code == 0 and json.loads((out / "report.json").read_text())["runs"] == ["rl <b>/2", "rl-a"]
    r = cli("report", "--out", out, "--db", store, "--no-images", "--run", "nope")
    assert r.code == 7 and "no run named 'nope'" in r.err
    spec = tmp_path / "spec.toml"
    spec.write_text('runs = ["rl <b>/2"]\n[sections.overview]\n')
    assert cli("report", spec, "--out", out, "--db", store, "--no-images", "-q").code == 0
    assert json.loads((out / "report.json").read_text())["runs"] == ["rl <b>/2"]


def test_evidence_sentences_from_real_classifier_results(tmp_path):
    """Scores stored by the real ``classifiers.apply`` (with a rule scorer instead of a model) reach
    the evidence: the best flagged sentence of each transcript, per (run, step, environment) cell,
    escaped, with transcript id, run, step, environment and score."""
    import warnings

    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply
    from cotwatch.reports.write import write_report

    store_path = write_store(tmp_path / "store.duckdb", checkpoints=2, per_checkpoint=3)
    with Store.open(store_path, read_only=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        apply(store, "eval_awareness", scorer=H.RuleScorer())
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.evidence]\nkwic_terms = 0\nsentences = 2\n")
    out = write_report(store_path, spec, tmp_path / "r", images=False, strict=True)
    rows = pl.read_csv(out / "data" / "evidence_sentences.csv", schema_overrides={"step": pl.Int64})
    assert rows.columns == ["run", "step", "environment", "transcript_id", "score", "text"]
    with Store.open(store_path) as store:
        flagged = store.frame("select run, step, environment, transcript_id from main.sentence_scores "
                              "where classifier = 'eval_awareness' and flagged")
    cells = flagged.unique("transcript_id").group_by("run", "step", "environment").len()
    expected = cells.with_columns(pl.col("len").clip(upper_bound=2))["len"].sum()
    assert 0 < rows.height == expected and rows["transcript_id"].n_unique() == rows.height
    hostile = rows.filter(pl.col("transcript_id") == "hostile-1")
    assert hostile["text"].to_list() == ["Maybe the watchers are grading this, autop style."]
    assert hostile["environment"].to_list() == [H.PAYLOAD] and hostile["step"].to_list() == [100]
    assert all(s == pytest.approx(0.9) for s in rows["score"].to_list())
    body = (out / "index.html").read_text().rsplit("</head>", 1)[1]
    assert f"<td>{escape(H.PAYLOAD)}</td>" in body and "<img" not in body
    assert 'data-transcript-id="hostile-1"' in body


def test_a_run_without_reasoning_is_no_data_not_zero(tmp_path):
    """The real classifier path on a run whose transcripts have no reasoning: awareness_prevalence
    counts them (n = 3, 0 flagged), but nothing was there to score — the chart says "no data"."""
    import warnings

    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply
    from cotwatch.reports.write import write_report

    silent = [{"id": f"s-{s}-{i}", "run": "silent", "step": s, "environment": "env", "output": "Answer: 42."}
              for s in (0, 100) for i in range(3)]
    store_path = write_store(tmp_path / "s.duckdb", checkpoints=2, per_checkpoint=3, extra=silent)
    with Store.open(store_path, read_only=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        apply(store, "eval_awareness", scorer=H.RuleScorer())
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.awareness]\n")
    out = write_report(store_path, spec, tmp_path / "r", images=False, strict=True)
    rows = pl.read_csv(out / "data" / "awareness.csv")
    quiet = rows.filter(pl.col("run") == "silent")
    assert quiet.height == 4 and set(quiet["status"]) == {"no data"} and quiet["rate"].null_count() == 4
    assert set(quiet["n"]) == {0}
    spoken = rows.filter((pl.col("run") == "rl") & (pl.col("measure") == "raw (classify and count)"))
    assert set(spoken["status"]) == {"data"} and spoken["rate"].null_count() == 0
    notes = next(s for s in json.loads((out / "report.json").read_text())["sections"] if s["name"] == "awareness")["notes"]
    assert "2 checkpoint(s) with no scored reasoning are drawn as “no data”, not as 0%" in notes


def test_awareness_estimators_are_stated(monkeypatch, store_file, tmp_path):
    from cotwatch.reports.write import write_report

    def awareness_prevalence(store, *, run, classifier, by_environment=False):
        df = H.awareness_frame(runs=(run,))
        return df.with_columns(
            pl.Series("estimator", ["ppi", "none", "validation-only"]), pl.Series("n_labelled", [40, 0, 0]),
            pl.Series("transfer_warning", [None, "only 5 transcripts (fewer than 10): no corrected estimate", H.TRANSFER_WARNING]),
            pl.Series("n", [200, 5, 200]), pl.Series("corrected_rate", [0.02, None, 0.2]))

    H.patch_analyses(monkeypatch, {"awareness_prevalence": awareness_prevalence})
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.awareness]\n")
    out = write_report(store_file, spec, tmp_path / "r", images=False, strict=True)
    section = json.loads((out / "report.json").read_text())["sections"][0]
    assert section["banner"] == H.TRANSFER_WARNING  # only the validation-only cell's warning, not the small cell's
    assert section["notes"] == [
        "1 checkpoint(s) with too few transcripts for a corrected estimate: raw rate only",
        "1 checkpoint(s) corrected with your own labels of the run (prediction-powered inference, 40 labelled transcripts)"]
    rows = pl.read_csv(out / "data" / "awareness.csv").filter(pl.col("step") == 100)
    assert rows.filter(pl.col("measure") == "corrected for classifier error")["rate"].to_list() == [None]
    assert set(rows["estimator"]) == {"none"} and set(rows["few"]) == {"n < 10"}


def test_reports_import_their_analyses_directly():
    """No registry of "module:function" strings, no signature sniffing that drops arguments, no
    guessed column names: the report modules import what they call."""
    for path in (REPO / "reports").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
                 if isinstance(n, (ast.Attribute, ast.Name))}
        assert not names & {"import_module", "signature", "find_analysis", "_first"}, path
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        assert not [s for s in strings if re.fullmatch(r"cotwatch\.[\w.]+:\w+", s)], path
    from cotwatch.reports import sections

    assert sections.term_rates.__module__ == "cotwatch.analytics.terms.rates"
    assert sections.awareness_prevalence.__module__ == "cotwatch.classifiers.prevalence"


def test_slugs_are_file_safe_bounded_and_distinct():
    from cotwatch.reports.context import slug

    assert slug("rl-7.b_2") == "rl-7.b_2"
    assert slug("rl a") != slug("rl-a") == "rl-a"
    assert re.fullmatch(r"run-[0-9a-f]{8}", slug("../../"))
    long = "x" * 230
    assert len(slug(long)) <= 50 and slug(long) != slug("x" * 231)


def test_thin_steps_keeps_first_last_and_at_most_max():
    from cotwatch.reports.context import thin_steps

    df = pl.DataFrame({"run": ["a"] * 1000 + ["b"] * 5, "step": list(range(0, 10_000, 10)) + [0, 1, 2, 3, 4]})
    thin = thin_steps(df, 200)
    a = thin.filter(pl.col("run") == "a")["step"].to_list()
    assert len(a) == 200 and a[0] == 0 and a[-1] == 9990 and a == sorted(a)
    assert thin.filter(pl.col("run") == "b")["step"].to_list() == [0, 1, 2, 3, 4]
    assert thin_steps(df, 2).sort("run", "step").rows() == [("a", 0), ("a", 9990), ("b", 0), ("b", 4)]


def test_watchlist_file_terms_and_groups_reach_the_terms_chart(store_file, tmp_path):
    from cotwatch.reports.write import write_report

    (tmp_path / "mine.toml").write_text('name = "mine"\n[groups.odd]\nterms = ["autop", "watcher*"]\n')
    spec = tmp_path / "spec.toml"
    spec.write_text('[watchlist]\nterms = ["@odd", "grader"]\nfile = "mine.toml"\n[sections.terms]\n[sections.heatmap]\n')
    out = write_report(store_file, spec, tmp_path / "r", images=False, strict=True)
    rates = pl.read_csv(out / "data" / "term_rates.csv")
    heat = pl.read_csv(out / "data" / "term_heatmap.csv")
    assert sorted(set(rates["term"])) == ["@odd", "autop", "grader", "watcher*"]  # the group and its members
    grader = rates.filter(pl.col("term") == "grader").sort("step")
    assert grader.select("step", "occurrences", "docs_with_term").rows() == [(0, 0, 0), (100, 0, 0), (200, 1, 1)]
    occ = {t: rates.filter(pl.col("term") == t)["occurrences"].sum() for t in ("@odd", "autop", "watcher*")}
    assert occ["@odd"] == occ["autop"] + occ["watcher*"] >= 4  # the hostile transcript alone has 2 + 2
    assert rates.select("term", "step").sort("term", "step").rows() == heat.select("term", "step").sort("term", "step").rows()
    meta = json.loads((out / "report.json").read_text())
    assert meta["spec"]["watchlist"] == {"terms": ["@odd", "grader"], "file": str(tmp_path / "mine.toml")}


def test_two_runs_with_awkward_names(tmp_path):
    """Several runs: run-faceted charts, one emergent/word-shift chart per run under a file-safe
    name, run names escaped in the page."""
    from cotwatch.reports.write import write_report

    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.overview]\n[sections.heatmap]\n[sections.emergent]\nmin_docs = 1\n[sections.word_shift]\n")
    out = write_report(write_two_run_store(tmp_path / "s.duckdb"), spec, tmp_path / "r", images=False, strict=True)
    meta = json.loads((out / "report.json").read_text())
    assert meta["runs"] == ["rl <b>/2", "rl-a"] and meta["transcript_counts"] == {"rl <b>/2": 24, "rl-a": 24}
    charts = {s["name"]: s["charts"] for s in meta["sections"]}
    odd = "rl-b-2-" + hashlib.sha1(b"rl <b>/2").hexdigest()[:8]
    assert charts["emergent"] == [f"emergent_terms__{odd}", "emergent_terms__rl-a"]
    assert charts["word_shift"] == [f"word_shift__{odd}", f"word_shift_chained__{odd}", "word_shift__rl-a",
                                    "word_shift_chained__rl-a"]
    page = (out / "index.html").read_text()
    assert "runs: rl &lt;b&gt;/2, rl-a" in page and "<b>/2" not in page.rsplit("</head>", 1)[1]
    heat = json.loads(re.search(r'id="spec-term_heatmap">(.*?)</script>', page, re.S).group(1))
    assert heat["facet"]["row"]["field"] == "_key_run"
    overview = pl.read_csv(out / "data" / "overview.csv")
    assert overview.group_by("run").agg(pl.col("transcripts").sum()).sort("run").rows() == [("rl <b>/2", 24), ("rl-a", 24)]


# -- CLI -----------------------------------------------------------------------------------------------
def test_cli_exit_codes(cli, store_file, tmp_path):
    out = tmp_path / "r"
    assert cli("report", "--out", out, "--db", tmp_path / "none.duckdb").code == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("[sections.overview]\ncolumns = 2\n")
    r = cli("report", bad, "--out", out, "--db", store_file)
    assert r.code == 6 and r.err.strip() == f"cotwatch: error: {bad}: sections.overview.columns: unknown key (known: enabled)"
    r = cli("report", "--out", out, "--db", store_file, "--since", "2999-01-01")
    assert r.code == 7 and "no runs with transcripts ingested since 2999-01-01" in r.err
    spec = tmp_path / "other.toml"
    spec.write_text('runs = ["nope"]\n')
    r = cli("report", spec, "--out", out, "--db", store_file)
    assert r.code == 7 and "runs: no run named 'nope'" in r.err
    assert cli("report", "--out", out, "--db", store_file, "--since", "last tuesday").code == 2
    assert not out.exists()


def test_cli_quiet_and_log_lines(cli, store_file, tmp_path):
    out = tmp_path / "r"
    r = cli("report", "--out", out, "--db", store_file, "--quiet", "--no-images", "--since", "30d")
    assert r.code == 0 and r.out == "" and r.err == ""
    assert (out / "index.html").exists() and not (out / "charts").exists()
    r = cli("report", "--out", out, "--db", store_file, "--no-images")
    assert r.code == 0 and r.out.strip() == str(out.absolute() / "index.html")
    lines = r.err.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines[:-1]] == [
        "overview", "terms", "heatmap", "emergent", "word_shift", "usage_drift", "awareness", "awareness_covert",
        "environments", "evidence"]
    assert all(line.startswith("report: ") for line in lines)


def test_help_and_import_do_not_load_altair():
    code = ("import sys, cotwatch.reports; from cotwatch.cli import main; main(['report', '--help']); "
            "bad = [m for m in ('altair', 'vl_convert', 'jinja2', 'torch', 'sentence_transformers') if m in sys.modules]; "
            "print('LOADED', bad)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "LOADED []"


# -- lock wait -----------------------------------------------------------------------------------------
_HOLD_WRITE_LOCK = """
import sys
from cotwatch.analytics.store.database import Store
store = Store.open(sys.argv[1], read_only=False)
print("holding", flush=True)
sys.stdin.read()          # hold the write lock until the test closes our stdin
store.close()
"""


@pytest.mark.slow
def test_report_waits_for_the_write_lock(tmp_path):
    store = write_store(tmp_path / "store.duckdb", checkpoints=2, per_checkpoint=2, payload=False)
    out = tmp_path / "report"
    exe = [sys.executable, "-m", "cotwatch", "report", "--out", str(out), "--db", str(store), "--no-images"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", _HOLD_WRITE_LOCK, str(store)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        assert writer.stdout.readline().strip() == "holding"
        short = subprocess.run(exe + ["--wait", "0.5", "--quiet"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
        assert short.returncode == 5, short.stderr
        assert short.stderr.startswith("cotwatch: error: ") and "gave up waiting to read after 0.5s" in short.stderr
        assert len(short.stderr.strip().splitlines()) == 1 and not out.exists()
        patient = subprocess.Popen(exe + ["--wait", "120", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=REPO, env=env)
        # it cannot finish while the lock is held; give it time to start and hit the lock
        with pytest.raises(subprocess.TimeoutExpired):
            patient.wait(timeout=4)
        assert not out.exists()
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    out_text, err_text = patient.communicate(timeout=120)
    assert patient.returncode == 0, err_text
    assert json.loads((out / "report.json").read_text())["transcripts"] == 8


def test_demo_terms_step_logs_notes_instead_of_printing_warnings(tmp_path, capfd):
    """`cotwatch demo` (its analyses and report are this area's): a watchlist phrase the demo run
    never uses is one `demo:` note, not a Python warning with a source line on stderr."""
    from cotwatch.demo import DemoResult, _terms, build_demo_store

    store = build_demo_store(tmp_path / "demo", checkpoints=3, transcripts_per_checkpoint=3)
    lines: list[str] = []
    _terms(DemoResult(tmp_path / "demo", store), lines.append)
    captured = capfd.readouterr()
    assert "TermNote" not in captured.err and "Warning" not in captured.err
    assert any(line.startswith("terms: note: ") for line in lines), lines
    assert lines[-1].startswith("terms: ") and "watchlist terms tracked" in lines[-1]
