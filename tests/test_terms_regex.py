"""Regexes from users cannot hang: RE2 (no backtracking), a size budget, and one-line refusals.

No timing assertions: the checks are structural (which engine ran, what was refused); on
Python's backtracking ``re`` the hostile cases below would not finish in any test's lifetime.
"""

from __future__ import annotations

import re

import pytest
from cotwatch.analytics.errors import InputError, SpecError
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.regexes import ENGINE, MAX_PATTERN_LENGTH, compile_bounded, translate
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms import kwic, term_rates
from cotwatch.analytics.terms.specs import WildcardMatcher, parse_term

HOSTILE = "a" * 50_000 + "b"  # '(a+)+$' fails on it after exponential backtracking in Python's re


def test_catastrophic_pattern_runs_on_the_linear_engine():
    rx = compile_bounded("(a+)+$")
    assert rx.engine == ENGINE == "duckdb-re2" and not isinstance(rx, re.Pattern)
    assert rx.search(HOSTILE) is False and rx.search("xaaa") is True
    assert rx.search_many([HOSTILE, "aa", None]).tolist() == [False, True, False]
    assert compile_bounded("a").count_many(["banana", "", None]).tolist() == [3, 0, 0]


@pytest.mark.parametrize("pattern, reason", [
    (r"(a)\1", "backreference"),
    (r"(?P<x>a)(?P=x)", "backreference"),
    (r"(?=a)a", "lookahead"),
    (r"(?<!a)b", "lookbehind"),
    (r"(?>a+)b", "atomic group"),
    (r"a++b", "possessive"),
    (r"(?x) a b", "verbose"),
    (r"a{1001}", "repetition"),
    (r"((a{100}){100}){100}", "repetition"),
    (r"[\W]", "inside [...]"),
    (r"(", "missing )"),
])
def test_unboundable_patterns_are_refused_in_one_line(pattern, reason):
    with pytest.raises(InputError, match=re.escape(reason)) as err:
        compile_bounded(pattern, where="TERM '/x/'")
    assert "\n" not in str(err.value) and str(err.value).startswith("TERM '/x/': ")
    with pytest.raises(SpecError):  # artifacts and watchlists ask for their own error type
        compile_bounded(pattern, error=SpecError)


def test_size_budget():
    with pytest.raises(InputError, match=f"at most {MAX_PATTERN_LENGTH}"):
        compile_bounded("a" * (MAX_PATTERN_LENGTH + 1))


def test_python_meanings_are_kept():
    # RE2's own \w and \d are ASCII; translated, they are Unicode as in Python
    assert translate(r"\w+\d\s\Z") == r"[\pL\pN_]+\p{Nd}[\t\n\x{0b}\f\r\x{1c}-\x{1f}\x{85}\p{Z}]\z"
    assert compile_bounded(r"^\w+$").search("café") is True and re.search(r"^\w+$", "café")
    assert compile_bounded(r"^\d+$").search("٣٤") is True
    assert compile_bounded(r"^x{,2}$").search("xx") is True and compile_bounded(r"^x{,2}$").search("xxx") is False
    assert compile_bounded(r"\u00e9").search("é") is True
    assert compile_bounded(r"[]a]").search("]") is True and compile_bounded(r"[^]a]").search("a") is False
    assert compile_bounded("DISCLAIM", ignore_case=True).search("disclaimer") is True


def test_regex_terms_never_backtrack_in_the_store(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "x", "run": "r", "step": 0, "reasoning": "' + HOSTILE + ' aaa disclaimer"}\n'
                    '{"id": "y", "run": "r", "step": 1, "reasoning": "b aa"}\n', encoding="utf-8")
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
    with Store.open(tmp_path / "s.duckdb") as store:
        spec = parse_term("/(a+)+$/")
        assert spec.regex().engine == ENGINE  # what resolves the term against the vocabulary
        df = term_rates(store, ["/(a+)+$/", "/^disclaim/"])
        assert df.filter(df["term"] == "/(a+)+$/")["occurrences"].to_list() == [1, 1]  # 'aaa', 'aa'; not HOSTILE
        assert df.filter(df["term"] == "/^disclaim/")["occurrences"].to_list() == [1, 0]
        assert kwic(store, "/(a+)+$/")["match"].to_list() == ["aaa", "aa"]


def test_wildcards_match_in_linear_time():
    matcher = parse_term("a*a*a*a*a*a*a*a*a*a*b").regex()
    assert isinstance(matcher, WildcardMatcher)  # a glob matcher, not a '.*' regex
    assert matcher.fullmatch("a" * 5000) is False and matcher.fullmatch("a" * 5000 + "b") is True
    assert WildcardMatcher("dis*im*").fullmatch("disclaim") and not WildcardMatcher("dis*im*").fullmatch("dimdis")
    assert WildcardMatcher("*ab*ab").fullmatch("abab") and not WildcardMatcher("ab*ab").fullmatch("ab")


def test_cli_refuses_an_unboundable_regex(cli, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "x", "run": "r", "step": 0, "reasoning": "aaa"}\n', encoding="utf-8")
    assert cli("ingest", path).code == 0
    res = cli("terms", "track", r"/(a)\1/")
    assert res.code == 3 and res.err.count("\n") == 1 and "cannot run in bounded time" in res.err
    ok = cli("terms", "track", "/(a+)+$/", "--format", "csv")
    assert ok.code == 0 and "r,0,/(a+)+$/,1," in ok.out
