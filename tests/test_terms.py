"""Term tracking: exact counts, intervals, trends, discovery, KWIC, word shift, watchlists, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats
from cotwatch.analytics.errors import InputError, NothingToReport, SpecError
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms import (
    RATE_COLUMNS,
    chained_word_shift,
    discover_terms,
    kwic,
    term_rates,
    term_trends,
    word_shift,
)
from cotwatch.analytics.terms import materialize as termcounts
from cotwatch.analytics.terms import stats as term_stats
from cotwatch.analytics.terms.specs import load_watchlist, parse_term

from tests.conftest import DATA, requires_data

TRACES = DATA / "thinking-traces"


def hand_tokens(text: str) -> list[str]:
    """An independent tokenizer (a character loop, no regex) for the exact-count test."""
    text = text.lower().replace("\u2019", "'")
    tokens, current = [], ""
    for i, c in enumerate(text):
        if c.isalnum():
            current += c
        elif c == "'" and current and i + 1 < len(text) and text[i + 1].isalnum():
            current += c
        else:
            if current:
                tokens.append(current)
            current = ""
    if current:
        tokens.append(current)
    return tokens


def write_records(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# stores
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def traces_store(tmp_path_factory):
    if not TRACES.exists():
        pytest.skip("../shared/data not present")
    db = tmp_path_factory.mktemp("traces") / "s.duckdb"
    with Store.open(db, read_only=False) as store:
        for step, name in enumerate(["deepseek_r1_zero", "deepseek_r1", "deepseek_r1_0528"]):
            ingest_paths(store, [TRACES / f"{name}.txt"], run="deepseek", step=step)
    with Store.open(db) as store:
        yield store


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from cotwatch.analytics.synth.generator import write_jsonl

    d = tmp_path_factory.mktemp("demo")
    write_jsonl(d / "run.jsonl", seed=11)
    with Store.open(d / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [d / "run.jsonl"])
    with Store.open(d / "s.duckdb") as store:
        yield store


SMALL = [
    # step 0: three transcripts in env a, one in env b
    {"id": "a1", "run": "r", "step": 0, "environment": "a", "reasoning": "Wait wait. Autop-run autopilot!", "output": "wait"},
    {"id": "a2", "run": "r", "step": 0, "environment": "a", "reasoning": "nothing here at all", "output": "ok"},
    {"id": "a3", "run": "r", "step": 0, "environment": "a", "reasoning": "Hmm. WAIT", "output": "x"},
    {"id": "b1", "run": "r", "step": 0, "environment": "b", "reasoning": "autop autop autop", "output": "done"},
    # step 1
    {"id": "a4", "run": "r", "step": 1, "environment": "a", "reasoning": "wait autopsy", "output": "y"},
    {"id": "b2", "run": "r", "step": 1, "environment": "b", "reasoning": "plain words only", "output": "wait wait"},
]


@pytest.fixture
def small_store(tmp_path):
    path = write_records(tmp_path / "small.jsonl", SMALL)
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


# ---------------------------------------------------------------------------------------------
# exact counts on real traces
# ---------------------------------------------------------------------------------------------
@requires_data
def test_exact_counts_on_deepseek_traces(traces_store):
    df = term_rates(traces_store, ["wait", "alternatively"], run="deepseek")
    got = {(r["term"], r["step"]): (r["occurrences"], r["tokens"], r["docs_with_term"]) for r in df.iter_rows(named=True)}
    expected = {}
    for step, name in enumerate(["deepseek_r1_zero", "deepseek_r1", "deepseek_r1_0528"]):
        tokens = hand_tokens((TRACES / f"{name}.txt").read_text(encoding="utf-8"))
        for term in ("wait", "alternatively"):
            n = tokens.count(term)
            expected[(term, step)] = (n, len(tokens), int(n > 0))
    assert got == expected
    # the published fact, as exact numbers: R1-Zero never says them, R1 often does
    assert expected[("wait", 0)] == (0, 3238, 0) and expected[("alternatively", 0)] == (0, 3238, 0)
    assert expected[("wait", 1)] == (86, 4721, 1) and expected[("alternatively", 1)] == (27, 4721, 1)
    assert expected[("wait", 2)] == (0, 2440, 0)


@requires_data
def test_wildcard_on_traces_counts_every_matching_token_once_per_doc(traces_store):
    df = term_rates(traces_store, ["wait*"], run="deepseek", expand=True)
    step1 = {r["term"]: r["occurrences"] for r in df.filter(df["step"] == 1).iter_rows(named=True)}
    tokens = hand_tokens((TRACES / "deepseek_r1.txt").read_text(encoding="utf-8"))
    members = {t: tokens.count(t) for t in set(tokens) if t.startswith("wait")}
    assert step1["wait*"] == sum(members.values()) == 87
    assert {k: v for k, v in step1.items() if k != "wait*"} == members


# ---------------------------------------------------------------------------------------------
# rates and intervals on a small hand-checked store
# ---------------------------------------------------------------------------------------------
def test_term_rates_columns_and_exact_values(small_store):
    df = term_rates(small_store, ["wait"], run="r")
    assert df.columns == RATE_COLUMNS
    rows = {r["step"]: r for r in df.iter_rows(named=True)}
    # step 0 reasoning: a1 "wait wait autop run autopilot" (5 tokens, 2), a2 (4, 0), a3 (2, 1), b1 (3, 0)
    r0 = rows[0]
    assert (r0["occurrences"], r0["tokens"], r0["docs"], r0["docs_with_term"]) == (3, 14, 4, 2)
    assert r0["rate_per_1k"] == pytest.approx(3 / 14 * 1000)
    assert r0["doc_fraction"] == 0.5
    ci = scipy.stats.binomtest(2, 4).proportion_ci(method="wilson")
    assert (r0["doc_fraction_lo"], r0["doc_fraction_hi"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    # cluster-robust ratio interval by hand: x = (2,0,1,0), t = (5,4,2,3); log scale, t(3)
    x, t = np.array([2, 0, 1, 0.0]), np.array([5, 4, 2, 3.0])
    rate = x.sum() / t.sum()
    se = math.sqrt(4 / 3 * ((x - rate * t) ** 2).sum()) / t.sum()
    factor = math.exp(scipy.stats.t.ppf(0.975, 3) * se / rate)
    assert r0["rate_lo"] == pytest.approx(rate / factor * 1000, rel=1e-9)
    assert r0["rate_hi"] == pytest.approx(rate * factor * 1000, rel=1e-9)
    # step 1: only a4 has it in reasoning (b2's "wait" is in its output)
    assert (rows[1]["occurrences"], rows[1]["docs_with_term"], rows[1]["tokens"]) == (1, 1, 5)


def test_patterns_groups_scopes_and_environments(small_store):
    df = term_rates(small_store, ["autop*"], run="r", expand=True)
    step0 = {r["term"]: (r["occurrences"], r["docs_with_term"]) for r in df.filter(df["step"] == 0).iter_rows(named=True)}
    assert step0 == {"autop*": (5, 2), "autop": (4, 2), "autopilot": (1, 1), "autopsy": (0, 0)}
    group = term_rates(small_store, ["/^(wait|hmm)$/"], run="r")
    assert group.filter(group["step"] == 0)["occurrences"].to_list() == [4]
    assert group.filter(group["step"] == 0)["docs_with_term"].to_list() == [2]  # a1 and a3, once each
    everything = term_rates(small_store, ["wait"], run="r", scope="all")
    assert everything["occurrences"].to_list() == [4, 3] and everything["docs_with_term"].to_list() == [2, 2]
    output = term_rates(small_store, ["wait"], run="r", scope="output")
    assert output["occurrences"].to_list() == [1, 2]
    by_env = term_rates(small_store, ["autop"], run="r", by_environment=True)
    assert by_env.columns[:4] == ["run", "step", "term", "environment"]
    cells = {(r["step"], r["environment"]): (r["occurrences"], r["docs"]) for r in by_env.iter_rows(named=True)}
    assert cells == {(0, "a"): (1, 3), (0, "b"): (3, 1), (1, "a"): (0, 1), (1, "b"): (0, 1)}
    only_b = term_rates(small_store, ["autop"], run="r", environment="b")
    assert only_b["occurrences"].to_list() == [3, 0]


def test_single_token_fast_path_equals_document_path(demo_store):
    # "@..." groups go through the per-transcript lists; a one-token regex too
    fast = term_rates(demo_store, ["autop"])
    slow = term_rates(demo_store, ["/^autop$/"])
    cols = ["occurrences", "docs_with_term", "tokens", "docs", "rate_lo", "rate_hi"]
    assert fast.select(cols).equals(slow.select(cols))


def test_term_errors(small_store):
    with pytest.raises(InputError, match="at most 5"):
        term_rates(small_store, ["a b c d e f"])
    with pytest.raises(InputError, match="no token"):
        term_rates(small_store, ["--"])
    with pytest.raises(InputError, match="no run named"):
        term_rates(small_store, ["wait"], run="nope")
    with pytest.raises(InputError, match="no run named 'nope'"):
        term_rates(small_store, ["wait"], run=["r", "nope"])
    with pytest.raises(NothingToReport):
        term_rates(small_store, ["wait"], run="r", environment="zzz")
    with pytest.raises(InputError, match="invalid or unboundable regular expression"):
        term_rates(small_store, ["/(/"])
    with pytest.raises(InputError, match="--case-sensitive applies to tokens and phrases"):
        term_rates(small_store, ["autop*"], case_sensitive=True)


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("docs, shape, low", [(150, 2.0, 0.935), (200, 1.0, 0.93), (60, 0.7, 0.91)])
def test_rate_interval_covers_truth_at_about_nominal_rate(docs, shape, low):
    # per-transcript rates overdispersed (gamma), lengths log-normal: tokens cluster
    rng = np.random.default_rng(7)
    sims, true_rate = 2000, 0.004
    lengths = rng.lognormal(mean=6.0, sigma=0.8, size=(sims, docs)).round() + 1
    doc_rate = true_rate * rng.gamma(shape=shape, scale=1 / shape, size=(sims, docs))
    x = rng.poisson(doc_rate * lengths)
    rate, lo, hi = term_stats.ratio_interval(x.sum(1), (x * x).sum(1), (x * lengths).sum(1), lengths.sum(1),
                                             (lengths * lengths).sum(1), np.full(sims, docs))
    coverage = np.mean((lo <= true_rate) & (true_rate <= hi))
    assert low <= coverage <= 0.965
    # a Poisson interval that ignores clustering is far too narrow on the same data
    naive_se = np.sqrt(x.sum(1)) / lengths.sum(1)
    assert np.mean(np.abs(rate - true_rate) <= 1.96 * naive_se) < 0.85


def test_wilson_interval_covers_truth_and_matches_scipy():
    rng = np.random.default_rng(3)
    k = rng.binomial(80, 0.12, size=4000)
    lo, hi = term_stats.wilson_interval(k, np.full(k.shape, 80))
    assert 0.93 <= np.mean((lo <= 0.12) & (0.12 <= hi)) <= 0.97
    for kk in (0, 3, 80):
        ci = scipy.stats.binomtest(kk, 80).proportion_ci(method="wilson")
        l1, h1 = term_stats.wilson_interval(np.array([kk]), np.array([80]))
        assert (l1[0], h1[0]) == (pytest.approx(ci.low, abs=1e-12), pytest.approx(ci.high, abs=1e-12))


def test_mann_kendall_and_theil_sen_equal_scipy():
    rng = np.random.default_rng(5)
    series = np.vstack([rng.integers(0, 4, 9).astype(float) for _ in range(30)] + [np.arange(9.0)])
    steps = np.arange(0, 900, 100.0)
    tau, p = term_stats.mann_kendall(series)
    slopes = term_stats.theil_sen(series, steps)
    for row, t, pp, s in zip(series, tau, p, slopes):
        ref = scipy.stats.kendalltau(steps, row, method="asymptotic")
        assert t == pytest.approx(ref.statistic) and pp == pytest.approx(ref.pvalue)
        assert s == pytest.approx(scipy.stats.theilslopes(row, steps).slope)


def test_jsd_contributions_sum_to_scipy_jsd():
    from scipy.spatial.distance import jensenshannon

    p = np.array([0.5, 0.3, 0.2, 0.0])
    q = np.array([0.1, 0.3, 0.2, 0.4])
    assert term_stats.jsd_contributions(p, q).sum() == pytest.approx(jensenshannon(p, q, base=2) ** 2)


# ---------------------------------------------------------------------------------------------
# trends, discovery, KWIC, shift on a generated run
# ---------------------------------------------------------------------------------------------
def test_trends_find_planted_directions(demo_store):
    from cotwatch.analytics.synth import generator as synth

    df = term_trends(demo_store, list(synth.RISING_TERMS[:3]) + list(synth.FALLING_TERMS))
    direction = dict(zip(df["term"], df["direction"]))
    assert all(direction[t] == "rising" for t in synth.RISING_TERMS[:3])
    assert all(direction[t] == "falling" for t in synth.FALLING_TERMS)
    assert df["steps"].to_list() == [12] * 5


def test_discover_finds_planted_terms(demo_store):
    from cotwatch.analytics.synth import generator as synth

    rising = discover_terms(demo_store, top=20)
    assert set(rising["term"].head(10).to_list()) <= set(synth.RISING_TERMS)
    assert not set(rising["term"].to_list()) & set(synth.FLAT_TERMS)
    assert rising.columns[:11] == ["run", "rank", "term", "score", "english_zipf", "keyness_z", "trend_p", "slope",
                                   "docs_with_term_early", "docs_with_term_late", "occurrences_early"]
    assert rising["rank"].to_list() == sorted(rising["rank"].to_list()) and rising["rank"][0] == 1
    assert all(f"[{t}]" in ex.lower() for t, ex in zip(rising["term"].head(3), rising["example"].head(3)))
    falling = discover_terms(demo_store, top=5, direction="falling")
    assert set(falling["term"].head(2).to_list()) == set(synth.FALLING_TERMS)
    assert synth.LOOP_TERM not in falling["term"].to_list()


def test_discover_is_not_fooled_by_a_repetition_loop(demo_store):
    from cotwatch.analytics.synth import generator as synth

    # the loop transcript spams LOOP_TERM hundreds of times at the second step
    loop = term_rates(demo_store, [synth.LOOP_TERM])
    assert loop["docs_with_term"].max() == 1 and loop["occurrences"].max() >= 300
    spike = discover_terms(demo_store, early=1, late=1, top=50, min_docs=1, direction="falling", examples=False)
    assert synth.LOOP_TERM not in spike["term"].head(5).to_list()


def test_kwic_lines_come_from_the_transcripts_with_the_term(demo_store):
    df = kwic(demo_store, "autop", step=1100, width=25, limit=7)
    assert df.columns == ["transcript_id", "run", "step", "environment", "left", "match", "right"]
    assert df.height == 7 and set(df["step"]) == {1100}
    assert all(m.lower() == "autop" for m in df["match"]) and all(len(x) == 25 for x in df["left"])
    assert kwic(demo_store, "zzzznotaword").height == 0


def test_kwic_maps_positions_back_through_case_folding(tmp_path):
    # 'İ'.lower() is two characters: positions in the normalized text must map back
    path = write_records(tmp_path / "tr.jsonl", [{"id": "tr", "run": "r", "step": 2, "reasoning": "İİİ then Wait here"}])
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
        df = kwic(store, "wait", width=9)
    assert df.select("left", "match", "right").rows() == [("İİİ then ", "Wait", " here")]


def test_word_shift_and_chained(demo_store):
    from cotwatch.analytics.synth import generator as synth

    df = word_shift(demo_store, from_step=0, to_step=1100, top=10)
    assert df.columns == ["run", "term", "occurrences_from", "occurrences_to", "rate_from", "rate_to", "shift",
                          "jsd_contribution", "share", "direction"]
    assert df["jsd_contribution"].is_sorted(descending=True)
    assert set(df["term"].head(4)) & set(synth.RISING_TERMS)
    chained = chained_word_shift(demo_store, top=3)
    assert chained.height == 11 * 3 and chained["from_step"].unique().to_list() == list(range(0, 1100, 100))
    first = chained.filter(chained["from_step"] == 0)
    assert first["term"][0] == synth.LOOP_TERM  # the loop transcript is the biggest jump 0 -> 100
    with pytest.raises(InputError, match="no counted step"):
        word_shift(demo_store, from_step=0, to_step=5)


# ---------------------------------------------------------------------------------------------
# materialization
# ---------------------------------------------------------------------------------------------
def test_materialize_is_incremental_batched_and_idempotent(tmp_path):
    from cotwatch.analytics.synth.generator import write_jsonl

    write_jsonl(tmp_path / "a.jsonl", checkpoints=3, transcripts_per_checkpoint=6, seed=2)
    write_jsonl(tmp_path / "b.jsonl", checkpoints=3, transcripts_per_checkpoint=6, seed=2, run="other")
    dump = ("select run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens "
            "from step_term_counts order by all")
    with Store.open(tmp_path / "one.duckdb", read_only=False) as one:
        ingest_paths(one, [tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
        expected = one.rows(dump)
        expected_docs = one.rows("select * from doc_terms order by all")
    with Store.open(tmp_path / "two.duckdb", read_only=False) as two:
        ingest_paths(two, [tmp_path / "a.jsonl"], count_terms=False)
        assert termcounts.pending_transcripts(two) == 72
        assert termcounts.materialize(two, batch_bytes=20_000) == 72
        ingest_paths(two, [tmp_path / "b.jsonl"], count_terms=False)
        assert termcounts.materialize(two, batch_bytes=5_000, workers=2) == 72
        assert termcounts.materialize(two) == 0
        assert two.rows(dump) == expected
        assert two.rows("select * from doc_terms order by all") == expected_docs
        batch = two.con.sql("select transcript_pk, kind, text from segments").to_arrow_table()
        assert termcounts.merge_partials(two, *termcounts.count_kernel(batch)) == 0
        assert two.rows(dump) == expected
    # counted and uncounted transcripts interleaved (ranges that are not "clean"), counted by
    # threads reading through their own cursors and by the serial path: the same store
    for workers in (1, 2):
        with Store.open(tmp_path / f"mixed{workers}.duckdb", read_only=False) as mixed:
            ingest_paths(mixed, [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], count_terms=False)
            odd = mixed.con.sql("select s.transcript_pk, s.kind, s.text from segments s "
                                "where s.transcript_pk % 2 = 1 order by s.transcript_pk desc").to_arrow_table()
            assert termcounts.merge_partials(mixed, *termcounts.count_kernel(odd)) == 72
            ranges = mixed.rows(load_sql("termcounts_pending"), {"target": 5_000, "block": 1})
            assert sum(not clean for *_, clean in ranges) >= 10  # most ranges hold counted pks
            assert termcounts.materialize(mixed, batch_bytes=5_000, workers=workers) == 72
            assert mixed.rows(dump) == expected
            assert mixed.rows("select * from doc_terms order by all") == expected_docs


def test_compiled_kernel_rejects_malformed_buffers():
    from cotwatch.analytics.terms import _tokcount

    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    u8 = lambda *v: np.array(v, np.uint8)  # noqa: E731
    ok = _tokcount.count_batch(b"Wait, wait", b"wait\nx", i64(0, 0), i64(10, 6), i64(0, 0), u8(0, 1), i64(0))
    assert np.frombuffer(ok[3], np.int32).tolist() == [3, 1]  # "wait" 2 + 1 (pre-cut), "x" 1
    with pytest.raises(ValueError, match="offsets"):
        _tokcount.count_batch(b"abc", b"", i64(0), i64(10), i64(0), u8(0), i64(0))
    with pytest.raises(ValueError, match="offsets"):
        _tokcount.count_batch(b"abc", b"", i64(0), i64(3), i64(0), u8(3), i64(0))  # mode 3 reads extra
    with pytest.raises(ValueError, match="bad mode"):
        _tokcount.count_batch(b"abc", b"", i64(0), i64(3), i64(0), u8(7), i64(0))
    with pytest.raises(ValueError, match="group outside"):
        _tokcount.count_batch(b"abc", b"", i64(0), i64(3), i64(3), u8(0), i64(0))
    with pytest.raises(ValueError, match="ascending"):
        _tokcount.count_batch(b"abcd", b"", i64(0, 2), i64(2, 4), i64(3, 0), u8(0, 0), i64(0, 0))


# ---------------------------------------------------------------------------------------------
# watchlists and term specs
# ---------------------------------------------------------------------------------------------
def test_default_watchlist_has_the_o3_terms():
    wl = load_watchlist()
    o3 = [s.label for s in wl.groups["o3_emergent"]]
    for term in ("autop", "watchers", "illusions", "vantage", "marinade", "disclaim", "overshadow", "parted",
                 "fudge", "cunning", "glean", "craft", "synergy", "scoreboard", "aggregator"):
        assert term in o3


@pytest.mark.parametrize("text, message", [
    ("[groups.x]\nterms = []\n", "non-empty list"),
    ("[groups.x]\nterms = ['a b c d e f']\n", "at most 5"),
    ("[groups.x]\nterms = ['/(a)\\1/']\n", "cannot run in bounded time"),
    ("[groups.x]\nterms = ['@y']\n", "groups cannot contain groups"),
    ("[groups.x]\nterms = ['a']\ncolour = 1\n", "unknown key"),
    ("groups = 3\n", "at least one"),
    ("[groups.x\n", "not valid TOML"),
])
def test_bad_watchlists_are_spec_errors(tmp_path, text, message):
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=message) as err:
        load_watchlist(path)
    assert str(path) in str(err.value)


def test_watchlist_groups_track_as_one_series(small_store, tmp_path):
    path = tmp_path / "w.toml"
    path.write_text('[groups.mine]\nterms = ["wait", "hmm", "autop*"]\n', encoding="utf-8")
    df = term_rates(small_store, ["@mine"], run="r", watchlist=path)
    assert df.filter(df["step"] == 0)[["occurrences", "docs_with_term"]].rows() == [(9, 3)]
    every = term_rates(small_store, [], run="r", watchlist=path)
    assert every["term"].unique(maintain_order=True).to_list() == ["wait", "hmm", "autop*"]
    assert parse_term("Don’t").label == "don't"


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def test_cli_terms_commands(cli, tmp_path):
    path = write_records(tmp_path / "small.jsonl", SMALL)
    assert cli("ingest", path).code == 0
    res = cli("terms", "track", "wait", "autop*", "--expand", "--format", "csv")
    assert res.code == 0, res
    lines = res.out.strip().splitlines()
    assert lines[0] == ",".join(RATE_COLUMNS)
    assert any(line.startswith("r,0,wait,3,14,") for line in lines)
    res = cli("terms", "kwic", "autop", "--format", "json")
    assert res.code == 0 and [r["match"] for r in json.loads(res.out)] == ["Autop", "autop", "autop", "autop"]
    assert cli("terms", "trend", "wait", "--format", "csv").code == 0
    assert cli("terms", "shift", "--from", "0", "--to", "1", "--format", "csv").code == 0
    assert cli("terms", "shift", "--chained", "--format", "csv").code == 0
    mat = cli("terms", "materialize", "--format", "json")
    assert mat.code == 0 and json.loads(mat.out)[0]["counted"] == 0
    phrase = cli("terms", "track", "autop-run", "--format", "csv")
    assert phrase.code == 0 and "r,0,autop-run,1,14," in phrase.out  # a1: "Autop-run"
    bad = cli("terms", "track", "a b c d e f")
    assert bad.code == 3 and "at most 5" in bad.err
    assert cli("terms", "shift").code == 2
    assert cli("terms", "track", "x", "--watchlist", tmp_path / "missing.toml").code == 6
    assert cli("terms", "discover").code == 7  # 2 steps, but no term in >= 5 transcripts


def test_sparse_counts_migration_rewrites_old_lists(tmp_path):
    """0007: a store counted before it (full parallel counts lists) keeps the same doc_terms and
    rates after the migration; new lists hold counts > 1 only, their terms first."""
    from cotwatch.analytics.synth.generator import write_jsonl

    write_jsonl(tmp_path / "a.jsonl", checkpoints=2, transcripts_per_checkpoint=5, seed=4)
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [tmp_path / "a.jsonl"])
        expected = store.rows("select * from doc_terms order by all")
        expected_rates = term_rates(store, ["wait", "the*"]).rows()
        rows = store.rows("select transcript_pk, scope, term_ids, counts from doc_term_lists order by all")
        assert all(len(c) <= len(t) for _, _, t, c in rows) and all(min(c, default=2) > 1 for *_, c in rows)
        assert any(c for *_, c in rows)
        # the same counts as before 0007: full counts in term_id order
        full = store.rows("select transcript_pk, scope, list_sort(list(term_id)), "
                          "list(n order by term_id) from (select transcript_pk, scope, unnest(term_ids) term_id, "
                          "unnest(list_resize(counts, len(term_ids), 1)) n from doc_term_lists) group by all")
        store.script("delete from doc_term_lists; delete from schema_migrations where name = '0007_sparse_counts'")
        store.con.register("_old", pa.table({"pk": [r[0] for r in full], "scope": [r[1] for r in full],
                                             "ids": [r[2] for r in full], "n": [r[3] for r in full]}))
        store.con.execute("insert into doc_term_lists select pk, scope, ids, n from _old")
        store.con.unregister("_old")
        assert store.migrate() == ["0007_sparse_counts"]
        assert store.rows("select * from doc_terms order by all") == expected
        assert term_rates(store, ["wait", "the*"]).rows() == expected_rates
        after = store.rows("select term_ids, counts from doc_term_lists")
        assert all(len(c) <= len(t) and min(c, default=2) > 1 for t, c in after)
        assert sum(len(c) for _, c in after) < sum(len(t) for t, _ in after)


@pytest.mark.parametrize("workers", [1, 2])
def test_materialized_store_equals_the_contract_per_transcript(tmp_path, workers):
    """Threaded and serial materialization against the contract itself, transcript by
    transcript: doc_terms (sparse counts decoded), doc_tokens and the step sums."""
    from collections import Counter

    from cotwatch.analytics.synth.generator import write_jsonl
    from cotwatch.analytics.terms.tokens import tokenize

    write_jsonl(tmp_path / "a.jsonl", checkpoints=3, transcripts_per_checkpoint=8, seed=7)
    extra = tmp_path / "b.jsonl"  # a token seen once before tokens seen twice and thrice
    extra.write_text(json.dumps({"id": "order", "run": "synth-rl", "step": 0,
                                 "reasoning": "x wait Wait gamma gamma GAMMA’s gamma y"}) + "\n", encoding="utf-8")
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [tmp_path / "a.jsonl", extra], count_terms=False)
        assert termcounts.materialize(store, workers=workers, batch_bytes=6_000) == 3 * 8 * 4 + 1
        texts = store.rows("select transcript_pk, kind, text from segments order by transcript_pk, ordinal")
        expected: dict = {}
        for pk, kind, text in texts:
            expected.setdefault((pk, termcounts.SCOPE_OF_KIND.get(kind, "other")), Counter()).update(tokenize(text))
        got: dict = {}
        for pk, scope, term, n in store.rows("select transcript_pk, scope, term, n from doc_terms"):
            got.setdefault((pk, scope), Counter())[term] = n
        assert got == {k: v for k, v in expected.items() if v}
        tokens = {(pk, scope): t for pk, scope, t in store.rows("select * from doc_tokens")}
        assert all(tokens[k] == sum(v.values()) for k, v in expected.items())
        step = store.rows("select sum(occurrences), sum(docs_with_term), sum(sum_n2) from step_term_counts")[0]
        flat = [n for c in expected.values() for n in c.values()]
        assert step == (sum(flat), len(flat), sum(n * n for n in flat))
        [(ids, counts)] = store.rows("select l.term_ids, l.counts from doc_term_lists l join transcripts t "
                                     "on t.pk = l.transcript_pk where t.id = 'order'")
        assert len(ids) == 5 and counts == [2, 3]  # wait, gamma first; then x, gamma's, y once each


@pytest.mark.parametrize("complete", [False, True])
def test_vocabulary_ids_known_new_and_repeated(tmp_path, complete):
    """Both ways of numbering terms (whole vocabulary loaded, or looked up in the store) keep
    known ids, give new terms new ids once, and leave term_vocab consistent."""
    with Store.open(tmp_path / "v.duckdb", read_only=False) as store:
        store.con.execute("insert into term_vocab values (1, 'wait'), (2, 'autop'), (7, 'café')")
        ids = termcounts._VocabIds(store.con, complete=complete)
        vocab = pa.array(["autop", "new", "café", "wait", "other’s", ""])
        got = ids.ids(vocab.slice(1), np.ones(5, bool))  # an array with an offset
        assert got[[1, 2]].tolist() == [7, 1] and got[0] > 7 and got[3] > 7 and got[0] != got[3]
        again = ids.ids(pa.array(["new", "wait", "zebra"]), np.array([True, True, False]))
        assert again[:2].tolist() == [got[0], 1] and again[2] == -1  # unused terms are not added
        rows = dict(store.rows("select term, term_id from term_vocab"))
        assert rows == {"wait": 1, "autop": 2, "café": 7, "new": got[0], "other’s": got[3], "": got[4]}
        assert len(set(rows.values())) == len(rows)


def test_interrupted_materialize_keeps_whole_commits_and_resumes(tmp_path, monkeypatch):
    """Ctrl-C in the middle of a threaded materialization: what was committed is whole batches
    with their step sums, the rest is pending, and a second run ends where a clean run ends."""
    from cotwatch.analytics.synth.generator import write_jsonl

    write_jsonl(tmp_path / "a.jsonl", checkpoints=4, transcripts_per_checkpoint=8, seed=9)
    dump = ("select run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens "
            "from step_term_counts order by all")
    with Store.open(tmp_path / "clean.duckdb", read_only=False) as clean:
        ingest_paths(clean, [tmp_path / "a.jsonl"])
        expected, expected_docs = clean.rows(dump), clean.rows("select * from doc_terms order by all")
    monkeypatch.setattr(termcounts, "COMMIT_BYTES", 12_000)
    calls = {"n": 0}
    real = termcounts._insert_docs

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [tmp_path / "a.jsonl"], count_terms=False)
        monkeypatch.setattr(termcounts, "_insert_docs", flaky)
        with pytest.raises(KeyboardInterrupt):
            termcounts.materialize(store, workers=2, batch_bytes=4_000)
        counted = store.rows("select count(distinct transcript_pk) from doc_tokens")[0][0]
        assert 0 < counted < 128 and termcounts.pending_transcripts(store) == 128 - counted
        # the committed part is self-consistent: step token sums cover exactly the counted transcripts
        assert store.rows("select sum(transcripts) from step_token_counts where scope = 'reasoning'")[0][0] == counted
        monkeypatch.setattr(termcounts, "_insert_docs", real)
        assert termcounts.materialize(store, workers=2, batch_bytes=4_000) == 128 - counted
        assert store.rows(dump) == expected
        assert store.rows("select * from doc_terms order by all") == expected_docs


def test_t_quantile_without_scipy_equals_scipy():
    """The rate intervals' t quantile (exact series + Newton to 1,000 df, Cornish–Fisher beyond)
    against scipy.stats.t.ppf, at every df from 1 to 3,000 and far beyond."""
    df = np.r_[np.arange(1, 3001), [4999, 10**4, 10**5, 10**6, 10**8]]
    for p in (0.9, 0.95, 0.975, 0.995, 0.9995):
        q = term_stats.t_quantile(p, df)
        ref = scipy.stats.t.ppf(p, df)
        assert np.max(np.abs(q - ref) / ref) < 1e-10, p
    shaped = term_stats.t_quantile(0.975, np.array([[3, 3], [30, 1]]))
    assert shaped.shape == (2, 2) and shaped[0, 0] == shaped[0, 1]
    with pytest.raises(ValueError):
        term_stats.t_quantile(0.975, np.array([0]))


def test_term_statistics_do_not_import_scipy():
    """scipy.special alone costs ~0.16 s, scipy.stats ~0.5 s: a first series must not pay it."""
    code = ("import sys, numpy as np\nfrom cotwatch.analytics.terms import stats as s\n"
            "s.ratio_interval(np.array([4]), np.array([8]), np.array([200]), np.array([100]), np.array([5000]), np.array([9]))\n"
            "s.mann_kendall(np.arange(12.0).reshape(2, 6))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
