"""A corpus whose words are JavaScript property names (issue 17): every chart of its report draws,
no JavaScript stack trace reaches stderr (not even with --quiet), and nothing is silently blank.
The same report is opened in Chromium by test_reports_browser.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_reports import REPO, write_store

#: words of the corpus that name properties every JavaScript object has
JS_WORDS = ("constructor", "toString", "valueOf", "hasOwnProperty", "__proto__")


def write_js_words_store(path: Path) -> Path:
    """A synthetic run whose later checkpoints talk about ``constructor``, ``toString``… more and
    more (so they top the word shift, the emergent terms and the heatmap), with an environment
    named ``constructor`` and a run named ``toString``."""
    from cotwatch.analytics.synth import generator as synth

    extra = []
    for step in (0, 100, 200):
        for i in range(6):
            words = " ".join(w for k, w in enumerate(JS_WORDS) if k <= step // 100 + 1)
            reps = 1 + step // 50
            extra.append({"id": f"js-{step}-{i}", "run": "rl", "step": step, "environment": "constructor",
                          "covert_action": i % 2 == 0, "score": 0.5,
                          "reasoning": f"Check the {words} here. " * reps + "Then answer."})
    other = [dict(r, run="toString") for r in synth.generate_run(run="toString", checkpoints=3, transcripts_per_checkpoint=2,
                                                                  environments=synth.DEFAULT_ENVIRONMENTS[:1], seed=4)]
    return write_store(path, checkpoints=3, per_checkpoint=4, extra=extra + other)


JS_SPEC = f"""
[watchlist]
terms = {json.dumps([w for w in JS_WORDS if w != "__proto__"] + ["autop", "watchers"])}
[sections.overview]
[sections.terms]
[sections.heatmap]
[sections.emergent]
min_docs = 1
[sections.word_shift]
[sections.environments]
[sections.evidence]
"""


@pytest.fixture(scope="module")
def js_report(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("js-words")
    store = write_js_words_store(root / "store.duckdb")
    spec = root / "spec.toml"
    spec.write_text(JS_SPEC)
    out = root / "report"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "cotwatch", "report", str(spec), "--out", str(out), "--db", str(store),
                           "--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return out, done


@pytest.mark.slow
def test_javascript_property_names_draw_every_chart_silently(js_report):
    out, done = js_report
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""  # --quiet: no stack trace, no note, nothing
    meta = json.loads((out / "report.json").read_text())
    charts = [c for s in meta["sections"] for c in s["charts"]]
    assert {"word_shift__rl", "term_heatmap", "emergent_terms__rl", "environments"} <= set(charts)
    for name in charts:
        entry = meta["files"][name]
        assert "image_error" not in entry, (name, entry)
        svg = (out / entry["svg"]).read_text()
        assert svg.count("<path") + svg.count("<rect") > 5, name
    shift = (out / "charts" / "word_shift__rl.svg").read_text()
    assert ">constructor</text>" in shift  # tokens are lowercased: "constructor" is the one that collides
    heat = (out / "charts" / "term_heatmap.svg").read_text()
    assert ">constructor</text>" in heat and ">toString</text>" in heat  # a term, and a run's panel header
    assert meta["runs"] == ["rl", "toString"]
    env = (out / "charts" / "environments.svg").read_text()
    assert ">constructor</text>" in env


@pytest.mark.slow
def test_a_chart_that_cannot_be_drawn_is_reported_not_blank(js_report, monkeypatch, tmp_path):
    """If the renderer still failed on some chart, its stack trace stays off stderr, the report
    says so beside the chart and in report.json, and the run does not pretend all went well."""
    from cotwatch.reports import files

    calls = []

    def failing(spec, version):
        calls.append(version)
        with files.captured_stderr() as err:
            os.write(2, b"ERROR TypeError: d.push is not a function\n    at https://cdn.example/vega.js:7:12\n")
        return files._first_error_line(err[0]) if err else "?"

    monkeypatch.setattr(files, "chart_images", failing)
    from cotwatch.reports.write import write_report

    out, _ = js_report
    store = out.parent / "store.duckdb"
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.overview]\n")
    lines: list[str] = []
    target = write_report(store, spec, tmp_path / "r", log=lines.append)
    meta = json.loads((target / "report.json").read_text())
    assert meta["files"]["overview"]["image_error"] == "ERROR TypeError: d.push is not a function"
    assert "overview: chart overview: image not drawn: ERROR TypeError: d.push is not a function" in lines
    page = (target / "index.html").read_text()
    assert re.search(r"image not drawn: ERROR TypeError: d\.push is not a function", page)
    assert calls and not (target / "charts" / "overview.svg").exists()


def test_captured_stderr_catches_what_native_code_prints():
    from cotwatch.reports.files import captured_stderr

    with captured_stderr() as err:
        os.write(2, b"x" * 200_000)  # more than a pipe holds: must not block
    assert len(err[0]) == 200_000

