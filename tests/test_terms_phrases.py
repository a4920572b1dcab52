"""Phrases and case-sensitive terms: exact against independent tokenizers, on hostile Unicode, the
real thinking traces and a generated run, through Python, the CLI, watchlists, KWIC and SQL."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.sqlapi import open_sql, run_query
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms import kwic, term_rates
from cotwatch.analytics.terms.phrases import RE2_DISAGREES, TokenSequence
from cotwatch.analytics.terms.specs import load_watchlist, parse_term
from cotwatch.analytics.terms.tokens import tokenize
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import DATA, requires_data

TRACES = DATA / "thinking-traces"


def hand_tokens(text: str, fold: bool = True) -> list[str]:
    """An independent tokenizer (a character loop, no regex): letters/digits, joined by an
    apostrophe only between two of them."""
    text = (text.lower() if fold else text).replace("\u2019", "'")
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


def occurrences(tokens: list[str], phrase: tuple[str, ...]) -> int:
    """Every start position (overlapping ones too) where ``phrase`` follows in ``tokens``."""
    k = len(phrase)
    return sum(1 for i in range(len(tokens) - k + 1) if tuple(tokens[i:i + k]) == phrase)


def write_records(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# the matcher against the contract, on hostile text
# ---------------------------------------------------------------------------------------------
HOSTILE = [
    "The autop-run; AUTOP RUN, autop_run, xautop run, autop runs, autop'run, autop''run, autop' run",
    "Don’t stop; don't  STOP — don’t-stop 'don't stop' ha ha ha ha",
    "İstanbul İSTANBUL i stanbul ΟΔΟΣ ΣΟΦΟΣ οδος σοφος e\u0301cole e cole",
    "x² ½ ① ٣ 42nd x²-½ 常数国 常数 国 a\U0001123fb a b",  # U+1123F: a letter to RE2, a separator to Python 3.11
    "wait, but... Wait — but WAIT\nbut wait but",
]
ALPHABET = st.sampled_from(list("ab '’-_\n İıΣσςé\u0301\u00a0—…½9\U0001123f") + ["ab", "Ab", "b'a", "a b", "ba ", "ba"])


def check(text: str, phrase: tuple[str, ...], case_sensitive: bool = False) -> None:
    seq = TokenSequence(phrase, case_sensitive=case_sensitive)
    reference = hand_tokens(text, fold=not case_sensitive)
    assert seq.count(text) == occurrences(reference, phrase), (text, phrase)
    for a, b in seq.spans(text):  # each span is the phrase, cut from the original text
        cut = hand_tokens(text[a:b], fold=not case_sensitive)
        assert [t.replace("ς", "σ") for t in cut] == [t.replace("ς", "σ") for t in phrase], (text, phrase, text[a:b])


@pytest.mark.parametrize("text", HOSTILE)
def test_sequences_equal_the_contract_on_hostile_text(text):
    folded, cased = hand_tokens(text), hand_tokens(text, fold=False)
    assert folded == tokenize(text)
    for tokens, case_sensitive in ((folded, False), (cased, True)):
        for n in range(1, 6):
            for i in range(len(tokens) - n + 1):
                check(text, tuple(tokens[i:i + n]), case_sensitive)
    check(text, ("autop", "run"))
    check(text, ("ha", "ha"))  # overlaps itself: every start counts


def test_examples_from_the_docs():
    # autop-run, AUTOP RUN, autop_run, autop''run, autop' run; not xautop, runs, autop'run (one token)
    assert TokenSequence(("autop", "run")).count(HOSTILE[0]) == 5
    assert TokenSequence(("autop", "run")).count("autop''run autop' run") == 2
    assert TokenSequence(("ha", "ha")).count("ha ha ha ha") == 3
    assert TokenSequence(("ba", "ba", "b")).count("ba ba ba b") == 1  # a failed hit hides an occurrence
    assert TokenSequence(("Wait",), case_sensitive=True).count("wait Wait WAIT Wait’s") == 1
    assert TokenSequence(("i", "stanbul")).count("İstanbul") == 1  # 'İ'.lower() is 'i' + a combining dot


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map("".join), st.integers(1, 4), st.booleans())
def test_sequences_equal_the_contract_property(text, n, case_sensitive):
    tokens = hand_tokens(text, fold=not case_sensitive)
    for i in range(len(tokens) - n + 1):
        check(text, tuple(tokens[i:i + n]), case_sensitive)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(ALPHABET, max_size=25).map("".join), min_size=1, max_size=10), st.booleans())
def test_prefilter_keeps_every_segment_with_an_occurrence(texts, case_sensitive):
    """RE2's prefilter is a superset of the exact matches (else counts would silently drop)."""
    import duckdb

    con = duckdb.connect()
    for text in texts:
        tokens = hand_tokens(text, fold=not case_sensitive)
        for n in (1, 2):
            for i in range(len(tokens) - n + 1):
                seq = TokenSequence(tuple(tokens[i:i + n]), case_sensitive=case_sensitive)
                assert con.execute("select regexp_matches($t, $p)", {"t": text, "p": seq.prefilter()}).fetchall()[0][0]


def test_re2_disagreements_are_exactly_the_listed_characters():
    """The characters on which DuckDB's RE2 and Python disagree (letters/digits; lowercasing),
    recomputed over every code point: the prefilter bypass must cover all of them."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    con.register("c", pa.table({"ch": chars}))
    rows = con.execute(r"select ch, regexp_matches(ch, '^[\pL\pN]$'), lower(ch), "
                       r"regexp_matches(ch, '^[' || $listed || ']$') from c", {"listed": RE2_DISAGREES}).fetchall()
    disagree = {ch for ch, letter, low, _ in rows if letter != ch.isalnum() or low != ch.lower()}
    listed = {ch for ch, _, _, hit in rows if hit}
    assert disagree == listed


# ---------------------------------------------------------------------------------------------
# stores
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """Every real thinking trace, one step each (21 models' reasoning, hostile Unicode included)."""
    if not TRACES.exists():
        pytest.skip("../shared/data not present")
    files = sorted(TRACES.glob("*.txt"))
    files = [f for f in files if not f.name.startswith("LICENSE")]
    db = tmp_path_factory.mktemp("traces") / "s.duckdb"
    with Store.open(db, read_only=False) as store:
        for step, path in enumerate(files):
            ingest_paths(store, [path], run="traces", step=step)
    return db, files


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from cotwatch.analytics.synth.generator import write_jsonl

    d = tmp_path_factory.mktemp("gen")
    write_jsonl(d / "run.jsonl", checkpoints=6, transcripts_per_checkpoint=25, seed=5)
    with Store.open(d / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [d / "run.jsonl"])
    records = [json.loads(line) for line in (d / "run.jsonl").read_text(encoding="utf-8").splitlines()]
    return d / "s.duckdb", records


def rates(path: Path, terms, **kw):
    with Store.open(path) as store:
        return term_rates(store, terms, **kw)


def named(path: Path, phrase: str):
    with open_sql(path) as sql:
        return run_query(sql, "phrase_rate_by_step", {"phrase": phrase})[0]


def frequent_ngrams(token_lists, n: int, k: int) -> list[tuple[str, ...]]:
    counter: Counter = Counter()
    for tokens in token_lists:
        counter.update(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return [g for g, _ in counter.most_common(k)]


@requires_data
def test_phrase_counts_exact_on_every_real_trace(traces):
    db, files = traces
    tokens = {step: hand_tokens(path.read_text(encoding="utf-8")) for step, path in enumerate(files)}
    phrases = ["might be a test", "wait, but", "autop-run", "so the answer is"]
    for n in (2, 3, 5):
        phrases += [" ".join(g) for g in frequent_ngrams(tokens.values(), n, 4)]
    df = rates(db, phrases, run="traces")
    got = {(r["term"], r["step"]): (r["occurrences"], r["docs_with_term"]) for r in df.iter_rows(named=True)}
    for phrase in phrases:
        seq = tuple(hand_tokens(phrase))
        for step, toks in tokens.items():
            n = occurrences(toks, seq)
            assert got[(parse_term(phrase).label, step)] == (n, int(n > 0)), (phrase, files[step].name)
    assert sum(v[0] for k, v in got.items() if k[0] == "wait, but") > 0


@requires_data
def test_case_sensitive_counts_exact_on_real_traces(traces):
    db, files = traces
    terms = ["Wait", "wait", "But wait", "I", "OK"]
    df = rates(db, terms, run="traces", case_sensitive=True)
    for term in terms:
        seq = tuple(hand_tokens(term, fold=False))
        expected = [occurrences(hand_tokens(p.read_text(encoding="utf-8"), fold=False), seq) for p in files]
        assert df.filter(df["term"] == term)["occurrences"].to_list() == expected, term


def test_phrase_counts_exact_on_a_generated_run(generated):
    path, records = generated
    per_step: dict[int, list[list[str]]] = {}
    for r in records:
        per_step.setdefault(r["step"], []).append(hand_tokens(r["reasoning"]))
    all_lists = [t for lists in per_step.values() for t in lists]
    phrases = [("autop", "run")] + frequent_ngrams(all_lists, 2, 3) + frequent_ngrams(all_lists, 4, 2)
    df = rates(path, [" ".join(p) for p in phrases])
    for phrase in phrases:
        rows = df.filter(df["term"] == " ".join(phrase)).sort("step")
        expected_occ = [sum(occurrences(t, phrase) for t in per_step[s]) for s in sorted(per_step)]
        expected_docs = [sum(occurrences(t, phrase) > 0 for t in per_step[s]) for s in sorted(per_step)]
        assert rows["occurrences"].to_list() == expected_occ, phrase
        assert rows["docs_with_term"].to_list() == expected_docs, phrase
    assert sum(df.filter(df["term"] == "autop run")["occurrences"]) > 20  # the planted "autop-run"


def test_phrase_named_query_equals_python(generated):
    path, _ = generated
    for phrase in ["autop-run", "the function", "Wait", "might be a test"]:
        ours = rates(path, [phrase]).select("run", "step", "occurrences", "docs_with_term")
        theirs = named(path, phrase).select("run", "step", "occurrences", "docs_with_term")
        assert theirs.rows() == ours.rows(), phrase


@requires_data
def test_phrase_named_query_equals_python_on_real_traces(traces):
    db, _ = traces
    for phrase in ["wait, but", "so the", "let me"]:
        ours = rates(db, [phrase]).select("run", "step", "occurrences", "docs_with_term")
        theirs = named(db, phrase).select("run", "step", "occurrences", "docs_with_term")
        assert theirs.rows() == ours.rows(), phrase
        assert sum(ours["occurrences"]) > 0


# ---------------------------------------------------------------------------------------------
# phrases in every surface
# ---------------------------------------------------------------------------------------------
SMALL = [
    {"id": "a", "run": "r", "step": 0, "reasoning": "This might be a test. Might be a TEST? autop-run ha ha ha"},
    {"id": "b", "run": "r", "step": 0, "reasoning": "It might be a testing rig; autop run; Wait, but"},
    {"id": "c", "run": "r", "step": 1, "reasoning": "might be... a test! wait but WAIT but İstanbul"},
    {"id": "d", "run": "r", "step": 1, "reasoning": "nothing to see", "output": "might be a test"},
]


@pytest.fixture
def small(tmp_path):
    path = write_records(tmp_path / "small.jsonl", SMALL)
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
    with Store.open(tmp_path / "s.duckdb") as store:
        yield store


def test_phrase_rates_intervals_scopes_and_groups(small, tmp_path):
    df = term_rates(small, ["might be a test", "autop-run", "ha ha"])
    cells = {(r["term"], r["step"]): (r["occurrences"], r["docs_with_term"]) for r in df.iter_rows(named=True)}
    assert cells[("might be a test", 0)] == (2, 1) and cells[("might be a test", 1)] == (1, 1)
    assert cells[("autop-run", 0)] == (2, 2) and cells[("ha ha", 0)] == (2, 1)
    row = df.filter((df["term"] == "might be a test") & (df["step"] == 0)).row(0, named=True)
    assert row["doc_fraction_lo"] < 0.5 < row["doc_fraction_hi"] and row["rate_lo"] < row["rate_per_1k"] < row["rate_hi"]
    everything = term_rates(small, ["might be a test"], scope="all")
    assert everything["occurrences"].to_list() == [2, 2]  # d's output counts in scope all
    wl = tmp_path / "w.toml"
    wl.write_text('[groups.doubt]\nterms = ["might be a test", "wait but", "testing"]\n', encoding="utf-8")
    assert [s.kind for s in load_watchlist(wl).groups["doubt"]] == ["phrase", "phrase", "token"]
    group = term_rates(small, ["@doubt"], watchlist=wl, expand=True)
    step0 = {r["term"]: (r["occurrences"], r["docs_with_term"]) for r in group.filter(group["step"] == 0).iter_rows(named=True)}
    # a: 2 phrases; b: "testing" + "Wait, but" = 2: a transcript counts once in docs_with_term
    assert step0["@doubt"] == (4, 2) and step0["testing"] == (1, 1) and step0["wait but"] == (1, 1)


def test_case_sensitive_terms(small):
    folded = term_rates(small, ["wait but"])
    cased = term_rates(small, ["wait but", "Wait, but", "İstanbul"], case_sensitive=True)
    assert folded["occurrences"].to_list() == [1, 2]
    assert cased.filter(cased["term"] == "wait but")["occurrences"].to_list() == [0, 1]
    assert cased.filter(cased["term"] == "Wait, but")["occurrences"].to_list() == [1, 0]
    assert cased.filter(cased["term"] == "İstanbul")["occurrences"].to_list() == [0, 1]  # one token with its case


def test_phrase_kwic_cuts_the_phrase_from_the_text(small):
    df = kwic(small, "might be a test", width=8)
    assert df["match"].to_list() == ["might be a test", "Might be a TEST", "might be... a test"]
    assert df["transcript_id"].to_list() == ["a", "a", "c"]
    assert kwic(small, "Might be a TEST", case_sensitive=True)["match"].to_list() == ["Might be a TEST"]


def test_phrases_from_the_cli(cli, tmp_path):
    path = write_records(tmp_path / "small.jsonl", SMALL)
    assert cli("ingest", path).code == 0
    res = cli("terms", "track", "autop-run", "might be a test", "--format", "csv")
    assert res.code == 0, res
    assert "r,0,autop-run,2," in res.out and "r,0,might be a test,2," in res.out
    kw = cli("terms", "kwic", "autop-run", "--format", "json")
    assert [r["match"] for r in json.loads(kw.out)] == ["autop-run", "autop run"]
    trend = cli("terms", "trend", "might be a test", "--normalize", "docs", "--format", "json")
    assert json.loads(trend.out)[0]["measure"] == "doc_fraction"
    q = cli("query", "run", "phrase_rate_by_step", "-p", "phrase=autop-run", "--format", "json")
    assert q.code == 0, q
    assert [r["occurrences"] for r in json.loads(q.out)] == [2, 0]
