"""The token contract on hostile strings: every counting path equals cotwatch.analytics.terms.tokens.tokenize."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pytest
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms import materialize as termcounts
from cotwatch.analytics.terms.concordance import _kwic_lines
from cotwatch.analytics.terms.tokens import tokenize
from hypothesis import given, settings
from hypothesis import strategies as st

HOSTILE = {
    "apostrophes": ("Don’t 'tis rock'n'roll a''b '' x' 'y O'NEIL’S", ["don't", "tis", "rock'n'roll", "a", "b", "x", "y", "o'neil's"]),
    "hyphens_underscores": ("autop-run score_predictions_tool __init__ x-y_z", ["autop", "run", "score", "predictions", "tool", "init", "x", "y", "z"]),
    "code": ("def f(x): return x**2 // 3 # TODO: fix()", ["def", "f", "x", "return", "x", "2", "3", "todo", "fix"]),
    "turkish": ("İstanbul DİKKAT ıi", ["i", "stanbul", "di", "kkat", "ıi"]),
    "greek_final_sigma": ("ΟΔΟΣ ΣΟΦΟΣ σοφός", ["οδος", "σοφος", "σοφός"]),
    "combining": ("e\u0301cole hindi हिन्दी", ["e", "cole", "hindi", "ह", "न", "द"]),
    "accents": ("Café naïve COÖPERATE Straße", ["café", "naïve", "coöperate", "straße"]),
    "digits": ("x² ½ ① ٣ 42nd", ["x²", "½", "①", "٣", "42nd"]),
    "punctuation": ("“quoted” — dash… • a→b «c» d\u00a0e", ["quoted", "dash", "a", "b", "c", "d", "e"]),
    "fullwidth": ("ＡＢＣ１２３", ["ａｂｃ１２３"]),
    "empty": ("", []),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_contract_on_hostile_strings(name):
    text, expected = HOSTILE[name]
    assert tokenize(text) == expected


def kernel_counts(rows):
    """{(pk, scope): Counter} from count_kernel over rows (pk, kind, text)."""
    batch = pa.table({"transcript_pk": [r[0] for r in rows], "kind": [r[1] for r in rows],
                      "text": [r[2] for r in rows]})
    doc_terms, doc_tokens = termcounts.count_kernel(batch)
    out: dict = {}
    for r in doc_terms.to_pylist():
        out.setdefault((r["transcript_pk"], r["scope"]), Counter())[r["term"]] += r["n"]
    tokens = {(r["transcript_pk"], r["scope"]): r["tokens"] for r in doc_tokens.to_pylist()}
    return out, tokens


def contract_counts(rows):
    out: dict = {}
    for pk, kind, text in rows:
        scope = termcounts.SCOPE_OF_KIND.get(kind, "other")
        out.setdefault((pk, scope), Counter()).update(tokenize(text or ""))
    return {k: v for k, v in out.items() if v}


def test_kernel_matches_contract_on_every_hostile_string_alone_and_mixed():
    rows = [(i, "reasoning", text) for i, (text, _) in enumerate(HOSTILE.values())]
    # one transcript mixing an ASCII segment with a non-ASCII summary: one path for the scope
    rows += [(100, "reasoning", "plain ascii wait"), (100, "reasoning_summary", "İi wait"),
             (100, "output", "ascii output"), (100, "tool", "tool_call(x)"), (101, None, None)]
    got, tokens = kernel_counts(rows)
    assert got == contract_counts(rows)
    assert tokens[(100, "reasoning")] == 6 and tokens[(100, "output")] == 2 and tokens[(100, "other")] == 3
    assert tokens[(101, "reasoning")] == 0 and tokens[(101, "other")] == 0


def test_separator_punctuation_is_a_separator_everywhere():
    for ch in termcounts.SEPARATOR_PUNCTUATION:
        assert not ch.isalnum() and ch.lower() == ch, repr(ch)
        assert tokenize(f"a{ch}b") == ["a", "b"], repr(ch)
        got, _ = kernel_counts([(1, "reasoning", f"A{ch}b")])
        assert got == {(1, "reasoning"): Counter({"a": 1, "b": 1})}, repr(ch)


ALPHABET = st.sampled_from(list("aZ9 '’-_\n\tİıΣσςé\u0301\u00a0—“…ß½x") + ["\u2019s", "wait", "Wait"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["reasoning", "reasoning_summary", "output", "user", "tool"]),
                          st.lists(ALPHABET, max_size=30).map("".join)), max_size=8))
def test_kernel_equals_contract_property(rows):
    got, tokens = kernel_counts(rows)
    expected = contract_counts(rows)
    assert got == expected
    for key, counter in expected.items():
        assert tokens[key] == sum(counter.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_kwic_finds_exactly_the_contract_tokens(text):
    for term in set(tokenize(text)):
        hits = list(_kwic_lines(text, {term}, 10))
        assert len(hits) == tokenize(text).count(term)
        # the match is cut from the original text; alone it lowercases to the same token, except
        # that a final sigma depends on its context ('aΣ' -> 'aς' but 'Σ' alone -> 'σ')
        assert all([t.replace("ς", "σ") for t in tokenize(match)] == [term.replace("ς", "σ")] for _, match, _ in hits)


def test_store_path_matches_contract(tmp_path):
    texts = [t for t, _ in HOSTILE.values()]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "run": "r", "step": 0, "reasoning": t or "-",
                                        "output": "Done’s"}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
        rows = store.rows("select t.id, d.term, d.n from doc_terms d join transcripts t on t.pk = d.transcript_pk "
                          "where d.scope = 'reasoning'")
    got: dict = {}
    for tid, term, n in rows:
        got.setdefault(tid, Counter())[term] = n
    expected = {f"t{i}": Counter(tokenize(t or "-")) for i, t in enumerate(texts)}
    assert got == {k: v for k, v in expected.items() if v}
