"""Reports: chart specs, spec validation, the writer (files, escaping, no remote URL, atomic
replacement, history) and the CLI's exit codes. The real-browser test is in test_reports_browser.py;
the lock-wait test (a second process) is here, marked slow."""

from __future__ import annotations

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

from tests import _reports_helpers as H

REPO = Path(__file__).resolve().parents[1]


# -- fixtures ----------------------------------------------------------------------------------
def write_store(path: Path, *, checkpoints: int = 3, per_checkpoint: int = 4, payload: bool = True) -> Path:
    """A small store from the synthetic generator, plus (optionally) one hostile transcript whose
    environment and reasoning carry an HTML/JS payload."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    records = list(synth.generate_run(run="rl", checkpoints=checkpoints, transcripts_per_checkpoint=per_checkpoint,
                                      environments=synth.DEFAULT_ENVIRONMENTS[:2], seed=3))
    if payload:
        records.append({"id": "hostile-1", "run": "rl", "step": records[-1]["step"], "environment": H.PAYLOAD,
                        "covert_action": True, "score": 0.5,
                        "reasoning": f"Maybe the watchers are grading this, autop style. {H.PAYLOAD} The autop plan.",
                        "output": "done"})
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


def _encodings(spec: dict) -> list[dict]:
    """Every encoding block in a (possibly layered/faceted) spec."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "encoding" in node and "mark" in node:
                found.append(node["encoding"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(spec)
    return found


def _tooltip_fields(enc: dict) -> list[str]:
    return [t["field"] for t in enc.get("tooltip", [])]


# -- chart specs -----------------------------------------------------------------------------------
def test_term_rates_chart_spec():
    from cotwatch.reports.charts import term_rates_chart

    df = H.term_rates_frame()
    spec = term_rates_chart(df, columns=3).to_dict()
    rows = _datasets(spec)
    assert len(rows) == 6
    assert [(r["term"], r["step"], r["occurrences"]) for r in rows] == [
        ("autop", 0, 1), ("autop", 100, 2), ("autop", 200, 3), ("watchers", 0, 5), ("watchers", 100, 10), ("watchers", 200, 15)]
    assert rows[4]["rate_per_1k"] == pytest.approx(1.0) and rows[4]["rate_lo"] == pytest.approx(0.8)
    assert spec["facet"] == {"field": "term", "header": {"labelFontWeight": "bold"}, "title": None, "type": "nominal"}
    assert spec["columns"] == 3 and spec["resolve"] == {"scale": {"y": "independent"}}
    band, line = _encodings(spec)
    assert (band["y"]["field"], band["y2"]["field"]) == ("rate_lo", "rate_hi")
    assert band["y"]["title"] == "rate per 1,000 reasoning tokens"
    assert line["y"]["field"] == "rate_per_1k" and line["x"] == band["x"]
    assert line["x"]["field"] == "step" and line["x"]["title"] == "training step"
    assert _tooltip_fields(line) == ["term", "run", "step", "rate_per_1k", "rate_lo", "rate_hi", "occurrences",
                                     "tokens", "docs_with_term", "docs"]
    assert spec["title"]["text"] == "Watchlist terms over checkpoints"


def test_term_heatmap_spec_faceted_by_run_only_when_several():
    from cotwatch.reports.charts import term_heatmap

    df = H.term_rates_frame()
    spec = term_heatmap(df).to_dict()
    assert spec["mark"]["type"] == "rect"
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"], enc["y"]["field"], enc["color"]["field"]) == ("step", "ordinal", "term", "doc_fraction")
    assert enc["color"]["title"] == "share of transcripts" and enc["color"]["legend"]["format"] == ".0%"
    assert [r["doc_fraction"] for r in _datasets(spec)] == [0.0, 0.02, 0.02, 0.04, 0.1, 0.14]
    two = pl.concat([df, df.with_columns(pl.lit("r2").alias("run"))])
    spec2 = term_heatmap(two).to_dict()
    assert spec2["facet"]["row"]["field"] == "run" and len(_datasets(spec2)) == 12


def test_emergent_terms_chart_spec_keeps_example_in_tooltip():
    from cotwatch.reports.charts import emergent_terms_chart

    spec = emergent_terms_chart(H.discover_frame()).to_dict()
    rows = _datasets(spec)
    assert [r["term"] for r in rows] == ["autop", "marinade", "vantage"]  # by score, descending
    assert rows[0]["example"] == f"the autop {H.PAYLOAD_SCRIPT} run"       # raw in data; Vega renders text
    enc = spec["encoding"]
    assert enc["x"]["field"] == "score" and enc["color"]["field"] == "english_zipf"
    assert enc["y"]["sort"] == {"field": "score", "order": "descending"}
    assert _tooltip_fields(enc)[-1] == "example"


def test_word_shift_chart_single_and_chained():
    from cotwatch.reports.charts import word_shift_chart

    one = word_shift_chart(H.shift_frame()).to_dict()
    assert one["mark"]["type"] == "bar" and "facet" not in one
    rows = _datasets(one)
    assert [(r["term"], r["direction"], r["pair"]) for r in rows] == [
        ("autop", "more at later step", "step 0 → 200"), ("watchers", "more at later step", "step 0 → 200"),
        ("the", "less at later step", "step 0 → 200")]
    assert one["encoding"]["x"]["field"] == "contribution"
    chained = word_shift_chart(H.shift_frame(chained=True)).to_dict()
    assert chained["facet"]["field"] == "pair" and len(_datasets(chained)) == 6
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
    band, line = _encodings(spec)
    assert (band["y"]["field"], band["y2"]["field"]) == ("ci_lo", "ci_hi")
    assert band["y"]["axis"]["format"] == "%" and band["y"]["title"] == "share of transcripts"
    assert line["color"]["field"] == "measure" and line["strokeDash"]["field"] == "measure"
    assert "n" in _tooltip_fields(line) and "flagged" in _tooltip_fields(line)
    two = awareness_chart(H.awareness_frame(runs=("a", "b"))).to_dict()
    assert two["facet"]["row"]["field"] == "run" and len(_datasets(two)) == 12


def test_awareness_covert_chart_spec():
    from cotwatch.reports.charts import awareness_covert_chart

    df = H.awareness_frame(covert=True)
    spec = awareness_covert_chart(df).to_dict()
    rows = _datasets(spec)
    aware = [r for r in rows if r["group"] == "verbalizes awareness: yes"]
    # NaN at step 0 (no aware transcript) becomes null: a gap, not a zero
    assert [(r["step"], r["covert_rate"], r["lo"], r["hi"]) for r in aware] == [
        (0, None, None, None), (100, 0.1, 0.02, 0.3), (200, 0.1, 0.02, 0.3)]
    unaware = [r for r in rows if r["group"] == "verbalizes awareness: no"]
    assert [(r["covert_rate"], r["lo"], r["hi"]) for r in unaware] == [(0.25, 0.2, 0.31)] * 3
    renamed = df.rename({"covert_aware_lo": "covert_rate_aware_lo", "covert_unaware_hi": "covert_rate_unaware_hi"})
    assert _datasets(awareness_covert_chart(renamed).to_dict()) == rows
    band, line = _encodings(spec)
    assert (band["y"]["field"], band["y2"]["field"], line["y"]["field"]) == ("lo", "hi", "covert_rate")
    assert band["y"]["title"] == "covert-action rate (share of transcripts)"


def test_overview_and_environment_charts():
    from cotwatch.reports.charts import environment_breakdown_chart, overview_chart

    spec = overview_chart(H.overview_frame()).to_dict()
    rows = _datasets(spec)
    assert [(r["step"], r["environment"], r["tokens_per_transcript"]) for r in rows] == [
        (0, "env_a", 100.0), (0, "env_b", 108.3), (100, "(none)", 88.9), (100, "env_a", 109.1)]
    assert spec["encoding"]["y"]["title"] == "transcripts (count)"
    env = environment_breakdown_chart(H.environment_frame()).to_dict()
    assert env["facet"]["field"] == "panel"
    band, line = _encodings(env)
    assert (band["y"]["field"], band["y2"]["field"], line["y"]["field"]) == ("lo", "hi", "value")
    assert "n" in _tooltip_fields(line)


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
    assert spec.section_names() == list(SECTIONS)
    assert spec.watch_terms[:3] == ("autop", "watchers", "illusions") and spec.classifier == "eval_awareness"
    assert spec.sections["emergent"] == {"top": 20, "early": None, "late": None, "min_docs": 5, "direction": "rising"}


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
    ("[sections.overview]\nenabled = false", r"sections: every section is disabled"),
    ("[classifier]\nthreshold = 0.5", r"classifier.threshold: unknown key \(known: name\)"),
    ("[watchlist]\nfile = 'missing.toml'", r"watchlist.file: no such file"),
    ('[watchlist]\nterms = ["ok", " "]', r"watchlist.terms\[1\]: empty term"),
    ('[watchlist]\nterms = ["ok", "/[a/"]', r"watchlist.terms\[1\] '/\[a/': invalid regular expression"),
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


def test_spec_sections_subset_in_page_order(tmp_path):
    from cotwatch.reports.spec import parse_spec

    spec = parse_spec("[sections.evidence]\nsentences = 3\n[sections.overview]\n[sections.terms]\nenabled = false\n")
    assert spec.section_names() == ["overview", "evidence"]
    assert spec.sections["evidence"] == {"kwic_terms": 5, "kwic_lines": 4, "width": 60, "sentences": 3}


# -- writing -----------------------------------------------------------------------------------------
def test_json_for_script_cannot_close_the_element():
    from cotwatch.reports.write import json_for_script

    value = {"t": "</script><script>alert(1)</script>", "a": "a & b", "ls": "x\u2028y"}
    text = json_for_script(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_report_files_and_metadata(written):
    meta = json.loads((written / "report.json").read_text())
    assert meta["format"] == "cotwatch-report/1"
    assert meta["runs"] == ["rl"] and meta["transcript_counts"] == {"rl": 25} and meta["transcripts"] == 25
    assert meta["store"].endswith("store.duckdb")
    assert meta["spec"]["source"].endswith("drift.toml")
    assert set(meta["versions"]) >= {"cotwatch", "altair", "vl-convert-python", "duckdb", "polars", "vega", "vega-lite"}
    sections = [s["name"] for s in meta["sections"]]
    assert sections[0] == "overview" and "environments" in sections
    for s in meta["omitted"]:
        assert s["reason"]
    assert sorted(sections + [o["name"] for o in meta["omitted"]]) == sorted(
        ["overview", "terms", "heatmap", "emergent", "word_shift", "awareness", "awareness_covert", "environments", "evidence"])
    charts = [c for s in meta["sections"] for c in s["charts"]]
    assert charts[:3] == ["overview", "term_rates", "term_heatmap"] and "environments" in charts
    for name in charts:
        assert (written / "data" / f"{name}.csv").stat().st_size > 0
        assert meta["files"][name] == {"csv": f"data/{name}.csv"}
    log = (written.parent / "log.txt").read_text().splitlines()
    assert len(log) == 10  # one line per section of the default spec, then "wrote ..."
    assert re.fullmatch(r"overview: ok \(1 chart\(s\), 1 table\(s\)\) in \d+\.\ds", log[0]) and log[-1].startswith(f"wrote {written / 'index.html'}")


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
    assert ">grader &lt;script&gt;document.title=…</text>" in env_svg


def test_csv_is_exactly_the_chart_data(written):
    """data/<name>.csv holds the same rows as the dataset embedded in the page's spec for <name>."""

    page = (written / "index.html").read_text()
    meta = json.loads((written / "report.json").read_text())
    for name in [c for s in meta["sections"] for c in s["charts"]]:
        m = re.search(rf'<script type="application/json" id="spec-{re.escape(name)}">(.*?)</script>', page, re.S)
        spec = json.loads(m.group(1))
        embedded = _datasets(spec)
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
    from cotwatch.reports.write import NAMESPACE_URLS, page_urls

    page = (written / "index.html").read_text()
    assert page_urls(page) == []
    assert "jsdelivr" not in page and "unpkg" not in page
    # the only URL-shaped strings are XML namespace names inside Vega's SVG renderer
    assert set(re.findall(r"https?://[^\s\"'`<>)\\]*", page)) <= set(NAMESPACE_URLS)
    assert "vegaEmbed" in page and len(page) > 500_000  # the libraries themselves are in the page
    assert "<script src" not in page and "<link" not in page
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "'unsafe-inline'" not in csp.split(";")[1]


def test_payload_is_escaped_everywhere(written):
    """The hostile transcript's environment reaches chart data (legends, tooltips): there it is JSON
    with <, > and & as \\u escapes; nowhere is it markup."""
    from cotwatch.reports.write import json_for_script

    page = (written / "index.html").read_text()
    body = page.rsplit("</head>", 1)[1]
    assert H.PAYLOAD_SCRIPT not in page and H.PAYLOAD_IMG not in page
    escaped = json_for_script(H.PAYLOAD)[1:-1]
    assert "<img" not in body and body.count(escaped) >= 1  # the environment name, as escaped JSON in a spec
    assert "<script>document" not in body and 'onerror="document' not in body  # in no markup form
    assert body.count("<script") == 1 + body.count('<script type="application/json"')


def test_payload_escaped_in_html_tables():
    """Every table cell goes through html.escape (evidence lines are untrusted model output)."""
    from datetime import datetime, timezone

    from cotwatch.reports.build import BuiltReport, Section, TableItem
    from cotwatch.reports.spec import parse_spec
    from cotwatch.reports.write import render_html

    frame = pl.DataFrame({"transcript_id": ["t<1>"], "run": ["rl"], "step": [100], "environment": ["e&v"],
                          "left": [f"before {H.PAYLOAD_IMG}"], "match": ["autop"], "right": [H.PAYLOAD_SCRIPT]})
    built = BuiltReport(spec=parse_spec(f'title = "T {H.PAYLOAD_SCRIPT}"\n[sections.evidence]\n'), store_path="s<x>.duckdb",
                        runs=["rl"], transcript_counts={"rl": 1},
                        sections=[Section("evidence", "Evidence", intro=H.PAYLOAD, notes=[H.PAYLOAD_IMG],
                                          tables=[TableItem("evidence_kwic", "KWIC <b>", frame)])],
                        omitted=[], generated_at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    page = render_html(built, {}, {"evidence_kwic": {"csv": "data/evidence_kwic.csv"}})
    body = page.rsplit("</head>", 1)[1]
    assert H.PAYLOAD_SCRIPT not in page and H.PAYLOAD_IMG not in page and "<b>" not in body.replace("<b>Omitted", "")
    assert f'<td class="text">{html.escape(H.PAYLOAD_SCRIPT)}</td>' in body
    assert f'<td class="text kwic-left">{html.escape("before " + H.PAYLOAD_IMG)}</td>' in body
    assert "<td>t&lt;1&gt;</td>" in body and "<td>e&amp;v</td>" in body
    assert f"<title>T {html.escape(H.PAYLOAD_SCRIPT)}</title>" in page
    assert body.count("<script") == 1  # only the page's own init script (no charts here)


# -- atomic replacement and history ------------------------------------------------------------------
def test_failed_run_leaves_previous_report_intact(store_file, tmp_path, monkeypatch):
    from cotwatch.reports import write

    out = tmp_path / "report"
    write.write_report(store_file, None, out, images=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(built, root, *, images, history):
        (root / "index.html").write_text("half a report")
        raise RuntimeError("disk full")

    monkeypatch.setattr(write, "_render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write.write_report(store_file, None, out, images=False)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary directory left behind


def test_rerun_replaces_report_atomically(store_file, tmp_path):
    from cotwatch.reports import write

    out = tmp_path / "report"
    write.write_report(store_file, None, out, images=False)
    first = json.loads((out / "report.json").read_text())["generated_at"]
    inode = (out / "index.html").stat().st_ino
    write.write_report(store_file, None, out, images=False)
    second = json.loads((out / "report.json").read_text())["generated_at"]
    assert second > first and (out / "index.html").stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert not (out / "charts").exists()  # images=False: no stale charts carried over


def test_exchange_swaps_directories_in_one_step(tmp_path):
    from cotwatch.reports.write import _exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("new")
    (b / "x").write_text("old")
    if not _exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this system (two renames are used instead)")
    assert (b / "x").read_text() == "new" and (a / "x").read_text() == "old"


def test_refuses_to_replace_a_directory_that_is_not_a_report(store_file, tmp_path, cli):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    r = cli("report", "--out", out, "--db", store_file, "--quiet")
    assert r.code == 3 and "refusing to replace it" in r.err
    assert (out / "thesis.tex").read_text() == "precious"


def test_history_keeps_dated_copies(store_file, tmp_path):
    from cotwatch.reports.write import write_report

    out = tmp_path / "report"
    write_report(store_file, None, out, images=False)
    assert 'href="history/index.html"' not in (out / "index.html").read_text()  # no link to nothing
    write_report(store_file, None, out, history=True, images=False)
    [day] = [p.name for p in (out / "history").iterdir() if p.is_dir()]
    assert (out / "history" / day / "index.html").read_bytes() == (out / "index.html").read_bytes()
    assert not (out / "history" / day / "history").exists()
    # an older copy (as a previous week's run would have left) is carried over and listed
    (out / "history" / "2000-01-03").mkdir()
    for f in ("index.html", "report.json"):
        (out / "history" / "2000-01-03" / f).write_bytes((out / "history" / day / f).read_bytes())
    write_report(store_file, None, out, images=False)  # without --history: copies kept, none added
    assert sorted(p.name for p in (out / "history").iterdir()) == ["2000-01-03", day, "index.html"]
    index = (out / "history" / "index.html").read_text()
    assert index.index(f'href="{day}/index.html"') < index.index('href="2000-01-03/index.html"')
    assert "25 transcripts, runs: rl" in index
    assert 'href="history/index.html"' in (out / "index.html").read_text()


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
        "overview", "terms", "heatmap", "emergent", "word_shift", "awareness", "awareness_covert", "environments", "evidence"]
    assert all(line.startswith("report: ") for line in lines)


def test_help_and_import_do_not_load_altair():
    code = ("import sys, reports; from cotwatch.cli import main; main(['report', '--help']); "
            "bad = [m for m in ('altair', 'vl_convert', 'torch', 'sentence_transformers') if m in sys.modules]; "
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


# -- every section, wired to analyses with the documented shapes -------------------------------------
@pytest.fixture
def documented(monkeypatch):
    """Route cotwatch.reports.build's analysis lookup to stand-ins with the documented column shapes."""
    from cotwatch.reports import build

    calls: list = []
    fakes = H.documented_analyses(calls)
    monkeypatch.setattr(build, "find_analysis", lambda name: fakes.get(name))
    return calls


def test_every_section_with_documented_analyses(documented, store_file, tmp_path):
    from cotwatch.reports.write import write_report

    out = tmp_path / "report"
    lines: list[str] = []
    write_report(store_file, None, out, log=lines.append, strict=True, images=False)
    meta = json.loads((out / "report.json").read_text())
    assert meta["omitted"] == []
    assert {s["name"]: s["charts"] for s in meta["sections"]} == {
        "overview": ["overview"], "terms": ["term_rates"], "heatmap": ["term_heatmap"], "emergent": ["emergent_terms"],
        "word_shift": ["word_shift", "word_shift_chained"], "awareness": ["awareness"],
        "awareness_covert": ["awareness_covert"], "environments": ["environments"], "evidence": []}
    assert [s["tables"] for s in meta["sections"] if s["tables"]] == [
        ["overview_runs"], ["emergent_terms_examples"], ["evidence_kwic", "evidence_awareness"]]
    # the analyses were asked with the spec's parameters
    watch = ("autop", "watchers", "illusions", "vantage", "marinade", "disclaim", "overshadow", "parted",
             "fudge", "cunning", "glean", "craft", "synergy", "scoreboard", "aggregator")
    assert ("term_rates", watch, "rl", "reasoning") in documented
    assert ("discover_terms", "rl", 1, 1, 20, 5, "rising") in documented  # early/late: the analysis' defaults
    assert ("word_shift", "rl", 0, 200, 15) in documented and ("chained_word_shift", "rl", 15) in documented
    assert ("awareness_prevalence", "rl", "eval_awareness", True) in documented
    assert [c[1] for c in documented if c[0] == "kwic"] == ["autop", "marinade", "vantage", "watchers"]
    assert all(c[3] == 200 and c[4] == 60 and c[5] == 4 for c in documented if c[0] == "kwic")
    # word shift: JSD contributions signed by direction; chained: one panel per consecutive pair
    shift = list(csv.DictReader(io.StringIO((out / "data" / "word_shift.csv").read_text())))
    assert [(r["term"], float(r["contribution"]), r["direction"]) for r in shift] == [
        ("autop", 0.004, "more at later step"), ("watchers", 0.001, "more at later step"),
        ("the", -0.002, "less at later step")]
    assert list(shift[0]) == ["from_step", "to_step", "term", "contribution", "rate_from", "rate_to", "shift",
                              "pair", "direction"]
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
    # evidence: escaped, with transcript id, run, step and environment
    page = (out / "index.html").read_text()
    body = page.rsplit("</head>", 1)[1]
    assert "<img" not in body and H.PAYLOAD_SCRIPT not in body
    kwic = list(csv.DictReader(io.StringIO((out / "data" / "evidence_kwic.csv").read_text())))
    assert list(kwic[0]) == ["term", "transcript_id", "run", "step", "environment", "left", "match", "right"]
    assert kwic[0]["left"] == f"the {H.PAYLOAD_IMG} "  # the CSV keeps the text verbatim
    assert f'<td class="text kwic-left">{html.escape(f"the {H.PAYLOAD_IMG} ")}</td>' in body
    sentences = list(csv.DictReader(io.StringIO((out / "data" / "evidence_awareness.csv").read_text())))
    assert [(r["transcript_id"], r["score"]) for r in sentences] == [("hostile-1", "0.97"), ("t-2", "0.91")]
    assert f'<td class="text">{html.escape(H.PAYLOAD)}</td>' in body
    assert len(lines) == 10 and lines[-2].startswith("evidence: ok (0 chart(s), 2 table(s)) in ")


def test_section_omitted_with_reason_when_analysis_fails(monkeypatch, store_file, tmp_path):
    from cotwatch.analytics.errors import InputError as AnalysisInputError
    from cotwatch.reports import build
    from cotwatch.reports.write import write_report

    fakes = H.documented_analyses()

    def untrained(store, **kwargs):
        raise AnalysisInputError("classifier 'eval_awareness' has not been applied to run 'rl' (run `cotwatch classify apply`)")

    fakes["awareness_prevalence"] = untrained
    fakes["discover_terms"] = lambda store, **kw: pl.DataFrame(schema={c: pl.Float64 for c in ("term", "score")})
    monkeypatch.setattr(build, "find_analysis", lambda name: fakes.get(name))
    lines: list[str] = []
    write_report(store_file, None, tmp_path / "r", log=lines.append, images=False)
    meta = json.loads((tmp_path / "r" / "report.json").read_text())
    omitted = {o["name"]: o["reason"] for o in meta["omitted"]}
    assert omitted == {
        "emergent": "discovery found no emergent terms with the spec's limits",
        "awareness": "classifier 'eval_awareness' has not been applied to run 'rl' (run `cotwatch classify apply`)",
        "awareness_covert": "classifier 'eval_awareness' has not been applied to run 'rl' (run `cotwatch classify apply`)",
    }
    assert "awareness: omitted: classifier 'eval_awareness' has not been applied" in "\n".join(lines)
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<h2>Omitted sections</h2>" in page and "discovery found no emergent terms" in page


def test_unexpected_error_omits_section_unless_strict(monkeypatch, store_file, tmp_path):
    from cotwatch.reports import build
    from cotwatch.reports.write import write_report

    fakes = H.documented_analyses()
    fakes["word_shift"] = lambda store, **kw: 1 / 0
    monkeypatch.setattr(build, "find_analysis", lambda name: fakes.get(name))
    write_report(store_file, None, tmp_path / "r", images=False)
    meta = json.loads((tmp_path / "r" / "report.json").read_text())
    assert meta["omitted"] == [{"name": "word_shift", "title": "Word shift",
                                "reason": "internal error: ZeroDivisionError: division by zero"}]
    with pytest.raises(ZeroDivisionError):
        write_report(store_file, None, tmp_path / "r2", images=False, strict=True)
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize("path", ["top_flagged_sentences", "api.sentence_scores"])
def test_evidence_sentences_from_real_classifier_results(monkeypatch, tmp_path, path):
    """Scores stored by the real ``classifiers.apply`` (with a rule scorer instead of a model) reach
    the evidence table — through classifiers.top_flagged_sentences, or the public view
    api.sentence_scores when that function is absent — escaped, with transcript id, run, step and
    environment."""
    import warnings

    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply
    from cotwatch.reports import build
    from cotwatch.reports.write import write_report

    store_path = write_store(tmp_path / "store.duckdb", checkpoints=2, per_checkpoint=3)
    with Store.open(store_path, read_only=False) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        apply(store, "eval_awareness", scorer=H.RuleScorer())
    real = build.find_analysis
    if path == "api.sentence_scores":
        monkeypatch.setattr(build, "find_analysis", lambda name: None if name == "top_flagged_sentences" else real(name))
    else:
        assert real("top_flagged_sentences") is not None
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.evidence]\nkwic_terms = 0\nsentences = 50\n")
    out = write_report(store_path, spec, tmp_path / "r", images=False, strict=True)
    rows = list(csv.DictReader(io.StringIO((out / "data" / "evidence_awareness.csv").read_text())))
    with Store.open(store_path) as store:
        expected = store.rows("select count(*) from api.sentence_scores where classifier = 'eval_awareness' and flagged")[0][0]
    assert 0 < len(rows) == min(expected, 50)
    assert list(rows[0]) == ["transcript_id", "run", "step", "environment", "sentence", "score"]
    hostile = [r for r in rows if r["transcript_id"] == "hostile-1"]
    assert [r["sentence"] for r in hostile] == ["Maybe the watchers are grading this, autop style."]
    assert hostile[0]["environment"] == H.PAYLOAD and hostile[0]["step"] == "100" and hostile[0]["run"] == "rl"
    assert all(float(r["score"]) == pytest.approx(0.9) for r in rows)
    body = (out / "index.html").read_text().rsplit("</head>", 1)[1]
    assert f"<td>{html.escape(H.PAYLOAD)}</td>" in body and "<img" not in body


def test_slugs_are_file_safe_and_distinct():
    from cotwatch.reports.build import slug

    assert slug("rl-7.b_2") == "rl-7.b_2"
    assert slug("rl a") != slug("rl-a") == "rl-a"
    assert re.fullmatch(r"run-[0-9a-f]{6}", slug("../../"))


def test_thin_steps_keeps_first_last_and_at_most_max():
    from cotwatch.reports.build import _thin_steps

    df = pl.DataFrame({"run": ["a"] * 1000 + ["b"] * 5, "step": list(range(0, 10_000, 10)) + [0, 1, 2, 3, 4]})
    thin = _thin_steps(df, 200)
    a = thin.filter(pl.col("run") == "a")["step"].to_list()
    assert len(a) == 200 and a[0] == 0 and a[-1] == 9990 and a == sorted(a)
    assert thin.filter(pl.col("run") == "b")["step"].to_list() == [0, 1, 2, 3, 4]
    assert _thin_steps(df, 2).sort("run", "step").rows() == [("a", 0), ("a", 9990), ("b", 0), ("b", 4)]


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


def test_missing_analysis_module_omits_its_sections(monkeypatch, store_file, tmp_path):
    from cotwatch.reports import build
    from cotwatch.reports.write import write_report

    monkeypatch.setitem(build.ANALYSES, "term_rates", ("analytics.no_such_module:term_rates",))
    monkeypatch.setitem(build.ANALYSES, "awareness_prevalence", ("cotwatch.classifiers.prevalence:no_such_function",))
    assert build.find_analysis("term_rates") is None and build.find_analysis("awareness_prevalence") is None
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.overview]\n[sections.terms]\n[sections.heatmap]\n[sections.awareness]\n")
    write_report(store_file, spec, tmp_path / "r", images=False, strict=True)
    meta = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [s["name"] for s in meta["sections"]] == ["overview"]
    assert {o["name"]: o["reason"] for o in meta["omitted"]} == {
        "terms": "analysis term_rates() is not available in this installation",
        "heatmap": "analysis term_rates() is not available in this installation",
        "awareness": "analysis awareness_prevalence() is not available in this installation",
    }


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
    odd = "rl-b-2-" + hashlib.sha1(b"rl <b>/2").hexdigest()[:6]
    assert charts["emergent"] == [f"emergent_terms__{odd}", "emergent_terms__rl-a"]
    assert charts["word_shift"] == [f"word_shift__{odd}", f"word_shift_chained__{odd}", "word_shift__rl-a",
                                    "word_shift_chained__rl-a"]
    page = (out / "index.html").read_text()
    assert "runs: rl &lt;b&gt;/2, rl-a" in page and "<b>/2" not in page.rsplit("</head>", 1)[1]
    heat = json.loads(re.search(r'id="spec-term_heatmap">(.*?)</script>', page, re.S).group(1))
    assert heat["facet"]["row"]["field"] == "run"
    overview = pl.read_csv(out / "data" / "overview.csv")
    assert overview.group_by("run").agg(pl.col("transcripts").sum()).sort("run").rows() == [("rl <b>/2", 24), ("rl-a", 24)]
