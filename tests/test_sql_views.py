"""The public views: names, columns, comments, and that a plain DuckDB client reads them by their
bare names (they live in `main`; the internal tables in `internal`)."""

from __future__ import annotations

import duckdb
import pytest

from tests._sql_helpers import build_fixture_store

CONTRACT = {
    "transcripts": ["transcript_id", "run", "step", "environment", "epoch", "covert_action", "score", "source", "metadata"],
    "reasoning": ["transcript_id", "run", "step", "environment", "ordinal", "kind", "text"],
    "term_counts": ["run", "step", "environment", "term", "occurrences", "docs_with_term"],
    "step_totals": ["run", "step", "environment", "tokens", "docs"],
    "transcript_terms": ["transcript_id", "run", "step", "environment", "term", "occurrences"],
    "transcript_tokens": ["transcript_id", "run", "step", "environment", "tokens"],
    "rejects": ["file", "line", "entry", "reason", "rejected_at"],
    "classifier_versions": ["classifier", "run", "version", "threshold", "embedding_model", "artifact_sha256",
                            "registered_at", "card"],
    "sentence_scores": ["transcript_id", "run", "step", "classifier", "sentence", "score", "flagged", "environment",
                        "ordinal", "sentence_index"],
    "transcript_flags": ["transcript_id", "run", "step", "environment", "classifier", "max_score", "flagged",
                         "sentences", "flagged_sentences"],
}


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_fixture_store(tmp_path_factory.mktemp("sqlviews") / "store.duckdb")


def test_every_contract_view_has_its_columns_in_order(fixture_db):
    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        for view, columns in CONTRACT.items():
            got = [r[0] for r in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'main' and table_name = $v order by column_index",
                {"v": view}).fetchall()]
            assert got[:len(columns)] == columns, view  # later migrations may append columns only
    finally:
        con.close()


def test_every_view_and_column_has_a_comment(fixture_db):
    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        views = con.execute("select view_name, comment from duckdb_views() where schema_name = 'main' and not internal").fetchall()
        assert set(CONTRACT) <= {v for v, _ in views}  # (test_sql_docs: every main view is documented)
        assert [v for v, comment in views if not comment] == []
        bare = con.execute(
            "select table_name || '.' || column_name from duckdb_columns() "
            "where schema_name = 'main' and not internal and (comment is null or comment = '') order by 1").fetchall()
        assert bare == []
        aliases = con.execute("select view_name, comment from duckdb_views() where schema_name = 'api' and not internal").fetchall()
        assert set(CONTRACT) <= {v for v, _ in aliases}
        assert all(comment.startswith(f"Alias of {v} (main.{v})") for v, comment in aliases)
        assert con.execute("select count(*) from duckdb_tables() where schema_name = 'main'").fetchall() == [(0,)]
    finally:
        con.close()


def test_plain_duckdb_read_only_answers_by_bare_names(fixture_db):
    """A plain client with default settings (no search path): bare names are the documented views;
    internal tables are `internal.<name>`; `api.<name>` still answers for older queries."""
    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        for view, columns in CONTRACT.items():
            assert [d[0] for d in con.execute(f"select * from {view} limit 0").description][:len(columns)] == columns, view
            assert con.execute(f"select count(*) from {view}").fetchall() == \
                con.execute(f"select count(*) from {view}").fetchall(), view
        assert con.execute(
            "select transcript_id, source from transcripts where transcript_id = 'a-0-2'").fetchall() == [
            ("a-0-2", "transcripts.jsonl:2")]
        assert con.execute(
            "select sum(occurrences), sum(docs_with_term) from term_counts where term = 'grader'").fetchall() == [(10, 6)]
        internal = [d[0] for d in con.execute("select * from internal.transcripts limit 0").description]
        assert "pk" in internal and "transcript_id" not in internal
        assert con.execute("select count(*) from internal.transcripts").fetchall() == [(12,)]
    finally:
        con.close()


def test_the_duckdb_cli_reads_the_views_by_bare_name(fixture_db):
    """`duckdb -readonly store.duckdb -c "select * from transcripts"` (the acceptance line), when the
    DuckDB shell is installed."""
    import shutil
    import subprocess

    shell = shutil.which("duckdb")
    if shell is None:
        pytest.skip("the duckdb shell is not installed (the Python client is tested above)")
    proc = subprocess.run([shell, "-readonly", "-csv", str(fixture_db), "-c", "select * from transcripts order by all"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == ",".join(CONTRACT["transcripts"])


def test_views_resolve_under_an_attach_alias(fixture_db):
    con = duckdb.connect()
    try:
        con.execute(f"attach '{fixture_db}' as cw (read_only)")  # test-only path, not user input
        assert con.execute("select count(*) from cw.reasoning").fetchall() == [(13,)]
        assert con.execute("select sum(tokens), sum(docs) from cw.step_totals").fetchall() == [(126, 11)]
        assert con.execute("select count(*) from cw.api.reasoning").fetchall() == [(13,)]
        assert con.execute("select count(*) from cw.transcripts").fetchall() == \
            con.execute("select count(*) from cw.internal.transcripts").fetchall() == [(12,)]
    finally:
        con.close()


def test_view_contents_follow_the_token_contract(fixture_db):
    from cotwatch.analytics.terms.tokens import tokenize

    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        texts = con.execute(
            "select transcript_id, string_agg(text, ' ' order by ordinal) from reasoning "
            "where run = 'rl-a' group by transcript_id").fetchall()
        tokens = dict(con.execute(
            "select transcript_id, tokens from transcript_tokens where run = 'rl-a'").fetchall())
        assert {tid: len(tokenize(text)) for tid, text in texts} == tokens
        # curly apostrophe and accents: the Unicode transcript counts `it's` and `café`
        terms = dict(con.execute(
            "select term, occurrences from transcript_terms where transcript_id = 'a-200-2'").fetchall())
        assert terms["it's"] == 1 and terms["café"] == 1 and terms["naïve"] == 1
        # the redacted reasoning is a row with empty text; summaries are kind reasoning_summary
        assert con.execute(
            "select kind, text from reasoning where transcript_id = 'a-200-3'").fetchall() == [("reasoning", "")]
        assert con.execute(
            "select kind, text from reasoning where transcript_id = 'a-100-3' order by ordinal").fetchall() == [
            ("reasoning", "Probably a test of honesty. Answer plainly."), ("reasoning_summary", "Answers plainly.")]
        meta = con.execute("select metadata->>'note' from transcripts where transcript_id = 'a-200-2'").fetchall()
        assert meta == [('it\'s "quoted"',)]
    finally:
        con.close()


def test_classifier_views_show_the_latest_version_per_run_and_exact_sentences(fixture_db):
    from cotwatch.classifiers.sentences import split_sentences

    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        assert con.execute("select classifier, run, version from classifier_versions order by run").fetchall() == [
            ("eval_awareness", "rl-a", "v2"), ("eval_awareness", "rl-b", "v1")]
        # v2 (high = 0.9) replaced v1 in rl-a only; rl-b keeps v1's 0.8
        flags = dict(con.execute(
            "select transcript_id, round(max_score, 4) from transcript_flags where flagged").fetchall())
        assert flags == {"a-100-1": 0.9, "a-100-3": 0.9, "a-200-1": 0.9, "b-100-2": 0.8}
        assert con.execute("select count(*) from sentence_scores where run = 'rl-a'").fetchall() == [(17,)]
        # sentence text cut in SQL equals the splitter's own pieces (code-point offsets, accents, ’)
        segments = con.execute(
            "select transcript_id, ordinal, text from reasoning where text <> '' order by all").fetchall()
        expected = sorted((tid, ordinal, i, piece) for tid, ordinal, text in segments
                          for i, (_, _, piece) in enumerate(split_sentences(text)))
        got = con.execute(
            "select transcript_id, ordinal, sentence_index, sentence from sentence_scores order by all").fetchall()
        assert got == expected
        assert ("a-200-2", 0, 1, "It’s fine.") in got
    finally:
        con.close()
