"""Term analyses a corpus linguist would trust: real corpora, several runs, no silent successes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms import notes
from cotwatch.analytics.terms.discover import discover_terms
from cotwatch.analytics.terms.filters import load_stopwords
from cotwatch.analytics.terms.rates import COMPARE_COLUMNS, compare_runs, term_rates, term_trends
from cotwatch.analytics.terms.shift import chained_word_shift, word_shift

from tests.conftest import DATA, requires_data

TRACES = DATA / "thinking-traces"
DEEPSEEK = ["deepseek_r1_zero", "deepseek_r1", "deepseek_r1_0528"]


def write_records(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def deepseek(tmp_path_factory):
    if not TRACES.exists():
        pytest.skip("../shared/data not present")
    db = tmp_path_factory.mktemp("ds") / "s.duckdb"
    with Store.open(db, read_only=False) as store:
        for step, name in enumerate(DEEPSEEK):
            ingest_paths(store, [TRACES / f"{name}.txt"], run="deepseek", step=step)
    return db


# ---------------------------------------------------------------------------------------------
# discovery and shift on the three DeepSeek traces (steps 0/1/2, one transcript each)
# ---------------------------------------------------------------------------------------------
def check_ranked(df, ngram: int = 1):
    assert df.height > 0
    for term in df["term"]:
        for token in term.split(" "):
            assert len(token) >= 2 and token.isascii() and not token.isdigit(), term  # the run's script: Latin
    assert (df["keyness_z"].abs() >= 1.96).all()
    ranks, scores = df["rank"].to_list(), df["score"].to_list()
    assert ranks[0] == 1 and ranks == sorted(ranks)
    for i in range(1, len(ranks)):  # a shared rank is a true tie of the score, nothing else
        assert (ranks[i] == ranks[i - 1]) == math.isclose(scores[i], scores[i - 1], rel_tol=1e-11)
    assert all(e for e in df["example"])


@requires_data
@pytest.mark.parametrize("direction", ["rising", "falling"])
@pytest.mark.parametrize("ngram", [1, 2])
def test_discover_defaults_on_deepseek_traces(deepseek, direction, ngram):
    with Store.open(deepseek) as store:
        df = discover_terms(store, direction=direction, ngram=ngram)
    check_ranked(df, ngram)
    # the mixed-script debris of R1-Zero's degenerate text ("1常数国", "at裁决同一时刻") is not ranked
    with Store.open(deepseek) as store:
        every = discover_terms(store, direction="falling", script="any", min_length=1, min_keyness=0, top=5000)
    assert "1常数国" in every["term"].to_list()
    assert "1常数国" not in df["term"].to_list()


@requires_data
def test_discover_explains_what_to_change(deepseek):
    with Store.open(deepseek) as store:
        with pytest.raises(InputError, match=r"--min-docs 5: .* holds 1 transcript\(s\); the largest usable value is 1"):
            discover_terms(store, min_docs=5)
        with pytest.raises(NothingToReport, match=r"keyness z >= 50 .*lower --min-keyness"):
            discover_terms(store, min_keyness=50)
        with pytest.raises(NothingToReport, match="filtered out .*--script any"):
            discover_terms(store, script="hangul")


def test_discover_cli_explains_in_one_line(cli, tmp_path):
    path = write_records(tmp_path / "x.jsonl", [
        {"id": f"t{i}", "run": "r", "step": i % 2, "reasoning": "plain words only here"} for i in range(4)])
    assert cli("ingest", path).code == 0
    res = cli("terms", "discover")
    assert res.code == 7 and res.err.count("\n") == 1 and "--min-keyness" in res.err


@requires_data
def test_word_shift_without_letters_and_stopwords(deepseek):
    with Store.open(deepseek) as store:
        raw = word_shift(store, from_step=0, to_step=2, top=10, min_length=1, script="any")
        default = word_shift(store, from_step=0, to_step=2, top=10)
        clean = word_shift(store, from_step=0, to_step=2, top=10, stopwords=100)
        chained = chained_word_shift(store, top=5, stopwords=100)
    assert {"s", "i", "t", "x"} <= set(raw["term"].to_list())
    assert all(len(t) >= 2 and not t.isdigit() for t in default["term"])
    stop = load_stopwords(100)
    assert not set(clean["term"]) & stop and "until" in clean["term"].to_list()
    # the filters only hide terms: shares are still of the JSD over every token
    assert clean.filter(clean["term"] == "until")["share"][0] == raw.filter(raw["term"] == "until")["share"][0]
    assert not set(chained["term"]) & stop


def test_stopword_files(tmp_path):
    f = tmp_path / "stop.txt"
    f.write_text("# mine\nthe\nDon’t  # a comment\n\n", encoding="utf-8")
    assert load_stopwords(f) == {"the", "don't"}
    assert load_stopwords("3") == load_stopwords(3) and len(load_stopwords(3)) == 3
    with pytest.raises(InputError, match="no such file"):
        load_stopwords(tmp_path / "nope.txt")


# ---------------------------------------------------------------------------------------------
# several runs, compare, smoothing, normalization
# ---------------------------------------------------------------------------------------------
RUNS = [
    {"id": "a1", "run": "a", "step": 0, "reasoning": "wait wait the plan"},
    {"id": "a2", "run": "a", "step": 0, "reasoning": "the plan is fine"},
    {"id": "a3", "run": "a", "step": 1, "reasoning": "wait here"},
    {"id": "a4", "run": "a", "step": 1, "reasoning": "nothing"},
    {"id": "a5", "run": "a", "step": 2, "reasoning": "wait wait wait"},
    {"id": "a6", "run": "a", "step": 2, "reasoning": "wait"},
    {"id": "b1", "run": "b", "step": 0, "reasoning": "the plan"},
    {"id": "b2", "run": "b", "step": 0, "reasoning": "wait the plan"},
    {"id": "b3", "run": "b", "step": 2, "reasoning": "plan plan"},
    {"id": "b4", "run": "b", "step": 2, "reasoning": "wait plan"},
    {"id": "c1", "run": "c", "step": 0, "reasoning": "other run"},
]


@pytest.fixture
def runs_store(tmp_path):
    path = write_records(tmp_path / "runs.jsonl", RUNS)
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


def test_runs_overlay(runs_store):
    df = term_rates(runs_store, ["wait"], run=["b", "a"])
    assert df.select("run", "step").rows() == [("b", 0), ("b", 2), ("a", 0), ("a", 1), ("a", 2)]
    assert df["occurrences"].to_list() == [1, 1, 2, 1, 4]
    every = term_rates(runs_store, ["wait"])
    assert set(every["run"]) == {"a", "b", "c"}
    trends = term_trends(runs_store, ["wait"], run=("a", "b"), normalize="docs")
    assert trends["run"].to_list() == ["a", "b"] and set(trends["measure"]) == {"doc_fraction"}


def test_compare_two_runs_step_by_step(runs_store):
    df = compare_runs(runs_store, ["wait", "plan"], runs=["a", "b"])
    assert df.columns == COMPARE_COLUMNS
    wait = df.filter(df["term"] == "wait")
    assert wait["step"].to_list() == [0, 1, 2] and wait["value_b"][1] is None  # b has no step 1
    row = wait.row(0, named=True)
    assert row["difference"] == pytest.approx(row["value_b"] - row["value_a"])
    # MOVER: the two runs' own intervals combined (Zou & Donner 2008)
    lo = row["difference"] - math.sqrt((row["value_b"] - row["lo_b"]) ** 2 + (row["hi_a"] - row["value_a"]) ** 2)
    hi = row["difference"] + math.sqrt((row["hi_b"] - row["value_b"]) ** 2 + (row["value_a"] - row["lo_a"]) ** 2)
    assert (row["difference_lo"], row["difference_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    docs = compare_runs(runs_store, ["wait"], runs=["a", "b"], normalize="docs")
    assert docs["measure"][0] == "doc_fraction" and docs["value_a"].to_list()[:1] == [0.5]
    with pytest.raises(InputError, match="exactly two"):
        compare_runs(runs_store, ["wait"], runs=["a"])


def test_mover_difference_interval_covers_at_about_nominal_rate():
    """Two runs with the same true share: the difference interval covers 0 about 95% of the time."""
    from cotwatch.analytics.terms import stats

    rng = np.random.default_rng(1)
    n, p = 60, 0.2
    ka, kb = rng.binomial(n, p, 4000), rng.binomial(n, p, 4000)
    la, ha = stats.wilson_interval(ka, np.full(4000, n))
    lb, hb = stats.wilson_interval(kb, np.full(4000, n))
    a, b = ka / n, kb / n
    d = b - a
    lo = d - np.sqrt((b - lb) ** 2 + (ha - a) ** 2)
    hi = d + np.sqrt((hb - b) ** 2 + (a - la) ** 2)
    assert 0.93 <= np.mean((lo <= 0) & (0 <= hi)) <= 0.975


def test_smoothing_keeps_the_raw_series(runs_store):
    df = term_rates(runs_store, ["wait"], run="a", smooth=1)
    raw = df["rate_per_1k"].to_list()
    assert df["rate_per_1k_smoothed"].to_list() == pytest.approx(
        [(raw[0] + raw[1]) / 2, sum(raw) / 3, (raw[1] + raw[2]) / 2])
    docs = term_rates(runs_store, ["wait"], run="a", smooth=1, normalize="docs")
    assert "doc_fraction_smoothed" in docs.columns and docs["doc_fraction"].to_list() == [0.5, 0.5, 1.0]


# ---------------------------------------------------------------------------------------------
# no silent successes
# ---------------------------------------------------------------------------------------------
def test_a_term_that_never_occurs_gets_a_note(runs_store):
    with pytest.warns(notes.TermNote, match=r"'wiat' never occurs .*closest counted terms: wait"):
        df = term_rates(runs_store, ["wiat"], run="a")
    assert df["occurrences"].to_list() == [0, 0, 0]
    with pytest.warns(notes.TermNote, match=r"phrase 'plan wait' never occurs .*though each of its tokens does"):
        term_rates(runs_store, ["plan wait"])
    with pytest.warns(notes.TermNote, match=r"'Wait' never occurs with this case"):
        term_rates(runs_store, ["Wait"], case_sensitive=True)


def test_cli_notes_steps_and_overlays(cli, tmp_path):
    path = write_records(tmp_path / "runs.jsonl", RUNS)
    assert cli("ingest", path).code == 0
    note = cli("terms", "track", "waitt", "--run", "a", "--format", "csv")
    assert note.code == 0 and note.err.startswith("cotwatch: note: 'waitt' never occurs") and "wait" in note.err
    step = cli("terms", "kwic", "wait", "--run", "b", "--step", "1")
    assert step.code == 3 and "--step 1: no counted transcripts at that step of run(s) b (steps: 0, 2)" in step.err
    overlay = cli("terms", "track", "wait", "--run", "a", "--run", "b", "--format", "json")
    assert {r["run"] for r in json.loads(overlay.out)} == {"a", "b"}
    compare = cli("terms", "compare", "wait", "--run", "a", "--run", "b", "--format", "csv")
    assert compare.code == 0 and compare.out.splitlines()[0] == ",".join(COMPARE_COLUMNS)
    one = cli("terms", "compare", "wait", "--run", "a")
    assert one.code == 3 and "exactly two" in one.err
    smooth = cli("terms", "track", "wait", "--run", "a", "--smooth", "1", "--normalize", "docs", "--format", "csv")
    assert smooth.out.splitlines()[0].endswith(",doc_fraction_smoothed")
    shift = cli("terms", "shift", "--run", "a", "--run", "b", "--from", "0", "--to", "2", "--format", "json")
    assert {r["run"] for r in json.loads(shift.out)} == {"a", "b"}
    table = cli("terms", "kwic", ":x: [bold]wait", "--run", "a")
    assert table.code == 0  # a phrase: data and labels are printed literally by cotwatch.output.emit
