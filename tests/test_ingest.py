"""Ingest: JSONL chat shapes, gzip, idempotency, rejection, --skip-bad, Inspect logs, plain text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.ingest.records import record_from_json, split_think
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms.tokens import tokenize

from tests.conftest import DATA, requires_data


def write_jsonl(path: Path, records, *, gz: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def segments_of(store: Store, run: str, tid: str):
    return store.rows(
        "select s.kind, s.text, s.redacted from segments s join transcripts t on t.pk = s.transcript_pk "
        "where t.run = $run and t.id = $id order by s.ordinal",
        {"run": run, "id": tid},
    )


# ---------------------------------------------------------------------------------------------
# record shapes
# ---------------------------------------------------------------------------------------------
CHAT_RECORDS = [
    {"id": "plain", "run": "r", "step": 0, "reasoning": "Let me think.", "output": "42"},
    {"id": "inspect", "run": "r", "step": 0, "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": [
            {"type": "reasoning", "reasoning": "Maybe a test.", "summary": "Summary here.", "redacted": False},
            {"type": "text", "text": "A."}]}]},
    {"id": "anthropic", "run": "r", "step": 0, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Q?"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "Hmm, watchers."}, {"type": "text", "text": "B."}]}]},
    {"id": "deepseek", "run": "r", "step": 0, "messages": [
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "reasoning_content": "Wait, alternatively...", "content": "C."}]},
    {"id": "think", "run": "r", "step": 0, "messages": [
        {"role": "assistant", "content": "<think>inner monologue</think>final answer"}]},
    {"id": "redacted", "run": "r", "step": 0, "messages": [
        {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "ENCRYPTED==", "redacted": True}, {"type": "text", "text": "D."}]}]},
    {"id": "tool", "run": "r", "step": 0, "messages": [
        {"role": "assistant", "content": "calling"}, {"role": "tool", "content": "result 1"}]},
]

EXPECTED_SEGMENTS = {
    "plain": [("reasoning", "Let me think.", False), ("output", "42", False)],
    "inspect": [("system", "You are helpful.", False), ("user", "Q?", False), ("reasoning", "Maybe a test.", False),
                ("reasoning_summary", "Summary here.", False), ("output", "A.", False)],
    "anthropic": [("user", "Q?", False), ("reasoning", "Hmm, watchers.", False), ("output", "B.", False)],
    "deepseek": [("user", "Q?", False), ("reasoning", "Wait, alternatively...", False), ("output", "C.", False)],
    "think": [("reasoning", "inner monologue", False), ("output", "final answer", False)],
    "redacted": [("reasoning", "", True), ("output", "D.", False)],
    "tool": [("output", "calling", False), ("tool", "result 1", False)],
}


def test_chat_formats_become_segments(tmp_path, store_path):
    path = write_jsonl(tmp_path / "chat.jsonl", CHAT_RECORDS)
    with Store.open(store_path, read_only=False) as store:
        [res] = ingest_paths(store, [path])
        assert (res.added, res.duplicates, res.rejected) == (len(CHAT_RECORDS), 0, 0)
        for tid, expected in EXPECTED_SEGMENTS.items():
            assert segments_of(store, "r", tid) == expected, tid
        # reasoning tokens counted per the contract (redacted text not stored, so not counted)
        reasoning_text = " ".join(t for segs in EXPECTED_SEGMENTS.values() for k, t, _ in segs
                                  if k in ("reasoning", "reasoning_summary"))
        total = store.rows("select sum(tokens) from doc_tokens where scope = 'reasoning'")[0][0]
        assert total == len(tokenize(reasoning_text))


def test_think_split_without_opening_tag():
    segs = split_think("reasoning first</think>then the answer")
    assert [(s.kind, s.text) for s in segs] == [("reasoning", "reasoning first"), ("output", "then the answer")]


def test_flags_fill_missing_fields_only(tmp_path, store_path):
    path = write_jsonl(tmp_path / "f.jsonl", [
        {"id": "a", "reasoning": "x"},
        {"id": "b", "run": "own", "step": 5, "environment": "e1", "reasoning": "y"},
    ])
    with Store.open(store_path, read_only=False) as store:
        ingest_paths(store, [path], run="flag", step=9, environment="envflag")
        rows = store.rows("select id, run, step, environment from transcripts order by id")
    assert rows == [("a", "flag", 9, "envflag"), ("b", "own", 5, "e1")]


def test_gzip_and_idempotency(tmp_path, store_path):
    recs = [{"id": f"t{i}", "run": "r", "step": i % 3, "reasoning": f"word{i} text"} for i in range(50)]
    gz = write_jsonl(tmp_path / "rollouts.jsonl.gz", recs, gz=True)
    with Store.open(store_path, read_only=False) as store:
        [first] = ingest_paths(store, [gz])
        [again] = ingest_paths(store, [gz])
        assert (first.added, first.duplicates) == (50, 0)
        assert (again.added, again.duplicates) == (0, 50)
        assert store.rows("select count(*) from transcripts")[0][0] == 50
        assert store.rows("select count(*), count(distinct step) from checkpoints")[0] == (3, 3)


def test_records_without_id_are_deduplicated_by_content(tmp_path, store_path):
    path = write_jsonl(tmp_path / "noid.jsonl", [{"run": "r", "step": 1, "reasoning": "same"}] * 3)
    with Store.open(store_path, read_only=False) as store:
        [res] = ingest_paths(store, [path])
        assert (res.added, res.duplicates) == (1, 2)


def test_bad_records_reject_the_whole_file(tmp_path, store_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "g", "run": "r", "step": 0, "reasoning": "fine"}])
    bad = write_jsonl(tmp_path / "bad.jsonl", [
        {"id": "1", "run": "r", "step": 0, "reasoning": "ok"},
        "{not json",
        {"id": "3", "run": "r", "reasoning": "no step"},
        {"id": "4", "run": "r", "step": "ten", "reasoning": "bad step"},
        [1, 2],
        {"id": "6", "run": "r", "step": 1, "messages": "nope"},
        {"id": "1", "run": "r", "step": 0, "reasoning": "same id, other text"},
    ])
    with Store.open(store_path, read_only=False) as store:
        ingest_paths(store, [good])
    with Store.open(store_path, read_only=False) as store:
        from cotwatch.analytics.errors import RejectedRecords

        with pytest.raises(RejectedRecords) as info:
            ingest_paths(store, [bad])
        assert store.rows("select count(*) from transcripts")[0][0] == 1
        assert store.rows("select count(*) from rejects")[0][0] == 0
    problems = info.value.problems
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5", "6", "7"]
    assert all(p.startswith(f"{bad}:") for p in problems)
    assert "invalid JSON" in problems[0]
    assert "no step" in problems[1]
    assert "'step' must be an integer" in problems[2]
    assert "expected a JSON object" in problems[3]
    assert "'messages' must be a list" in problems[4]
    assert "appears earlier in this file (line 1) with different content" in problems[5]


def test_skip_bad_keeps_good_records_and_rejects_table(tmp_path, store_path):
    bad = write_jsonl(tmp_path / "mixed.jsonl", [
        {"id": "1", "run": "r", "step": 0, "reasoning": "ok"},
        "{broken",
        {"id": "3", "run": "r", "step": 0, "reasoning": "also ok"},
    ])
    with Store.open(store_path, read_only=False) as store:
        [res] = ingest_paths(store, [bad], skip_bad=True)
        assert (res.added, res.rejected) == (2, 1)
        assert store.rows("select file, line from rejects") == [(str(bad), 2)]


def test_conflict_with_stored_record_is_rejected(tmp_path, store_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "run": "r", "step": 0, "reasoning": "one"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "run": "r", "step": 0, "reasoning": "two"}])
    with Store.open(store_path, read_only=False) as store:
        ingest_paths(store, [a])
        from cotwatch.analytics.errors import RejectedRecords

        with pytest.raises(RejectedRecords, match="1 file"):
            ingest_paths(store, [b])
        assert store.rows("select count(*) from transcripts")[0][0] == 1


def test_interrupted_ingest_leaves_nothing(tmp_path, store_path, monkeypatch):
    recs = [{"id": f"t{i}", "run": "r", "step": 0, "reasoning": "text"} for i in range(5000)]
    path = write_jsonl(tmp_path / "big.jsonl", recs)
    import cotwatch.analytics.ingest.jsonl as jsonl_mod
    import cotwatch.analytics.ingest.staging as staging

    monkeypatch.setattr(jsonl_mod, "CHUNK_BYTES", 8192)  # many chunks, so many stored chunks
    calls = {"n": 0}
    original = staging.FileIngest._stage

    def flaky(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:  # two chunks are already stored (and counted) inside the transaction
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(staging.FileIngest, "_stage", flaky)
    with Store.open(store_path, read_only=False) as store:
        with pytest.raises(KeyboardInterrupt):
            ingest_paths(store, [path])
        for table in ("transcripts", "segments", "doc_tokens", "doc_term_lists", "step_token_counts", "runs"):
            assert store.rows(f"select count(*) from {table}")[0][0] == 0, table
    monkeypatch.setattr(staging.FileIngest, "_stage", original)
    with Store.open(store_path, read_only=False) as store:
        [res] = ingest_paths(store, [path])
        assert res.added == 5000


def test_record_validation_messages():
    from cotwatch.analytics.ingest.records import RecordError
    with pytest.raises(RecordError, match="either 'reasoning'"):
        record_from_json({"reasoning": "a", "messages": []})
    with pytest.raises(RecordError, match="'covert_action' must be true, false or null"):
        record_from_json({"reasoning": "a", "covert_action": "yes"})
    with pytest.raises(RecordError, match="no text"):
        record_from_json({"id": 1})


# ---------------------------------------------------------------------------------------------
# CLI: exit codes and summary lines
# ---------------------------------------------------------------------------------------------
def test_cli_ingest_exit_codes(cli, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "1", "run": "r", "step": 0, "reasoning": "ok"}, "{x"])
    res = cli("ingest", bad)
    assert res.code == 3, res
    assert f"cotwatch: rejected: {bad}:2: invalid JSON" in res.err
    assert "file rejected, nothing stored" in res.err
    res = cli("ingest", "--skip-bad", bad)
    assert res.code == 0, res
    assert "1 added, 0 duplicates, 1 rejected" in res.err
    res = cli("ingest", tmp_path / "missing.jsonl")
    assert res.code == 3 and "no such file" in res.err
    res = cli("runs", "--format", "json")
    assert json.loads(res.out) == [{"run": "r", "steps": 1, "environments": 0, "transcripts": 1, "reasoning_tokens": 1}]


def test_cli_text_needs_run_and_step(cli, tmp_path):
    p = tmp_path / "trace.txt"
    p.write_text("I think therefore I am.")
    res = cli("ingest", p)
    assert res.code == 3 and "need --run and --step" in res.err
    assert cli("ingest", p, "--run", "r", "--step", "3").code == 0
    res = cli("show", "trace.txt")
    assert res.code == 0 and "I think therefore I am." in res.out and "step=3" in res.out


def test_store_missing_is_exit_4(cli, tmp_path):
    res = cli("runs", "--db", tmp_path / "nope.duckdb")
    assert res.code == 4 and "no such store" in res.err


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------
INSPECT_LOGS = sorted(p.name for p in (DATA / "inspect-logs").glob("*") if p.suffix in (".eval", ".json")) if DATA.exists() else []


@requires_data
@pytest.mark.parametrize("name", INSPECT_LOGS)
def test_real_inspect_logs_keep_every_sample(name, store_path):
    from inspect_ai.log import read_eval_log

    path = DATA / "inspect-logs" / name
    expected = len(read_eval_log(str(path)).samples or [])
    with Store.open(store_path, read_only=False) as store:
        [res] = ingest_paths(store, [path], step=0)
        assert res.added == expected
        assert store.rows("select count(*) from transcripts")[0][0] == expected


@requires_data
def test_invalid_inspect_log_is_a_clean_error(cli):
    res = cli("ingest", "--format", "inspect", "--step", "0", DATA / "inspect-logs" / "log_invalid.txt")
    assert res.code == 3
    assert res.err.strip().splitlines()[-1].startswith("cotwatch: error: ")
    assert "log_invalid.txt: not a readable Inspect log" in res.err
    assert "Traceback" not in res.err


@requires_data
def test_inspect_log_without_step_says_how_to_fix(cli):
    res = cli("ingest", DATA / "inspect-logs" / "log_read_sample.eval")
    assert res.code == 3 and "pass --step" in res.err


@requires_data
def test_thinking_traces_ingest_as_plain_text(store_path):
    traces = sorted((DATA / "thinking-traces").glob("*.txt"))
    traces = [p for p in traces if not p.name.startswith("LICENSE")]
    with Store.open(store_path, read_only=False) as store:
        results = ingest_paths(store, traces, run="traces", step=0)
        assert sum(r.added for r in results) == len(traces) == 20
        stored = dict(store.rows("select t.id, s.text from transcripts t join segments s on s.transcript_pk = t.pk"))
    for p in traces:
        assert stored[p.name] == p.read_text(encoding="utf-8")


def _write_inspect_log_with_reasoning(log_dir: Path, step: int) -> Path:
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import (
        ContentReasoning,
        ContentText,
        ModelOutput,
        ModelUsage,
        get_model,
    )
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    def output(i: int) -> ModelOutput:
        out = ModelOutput.from_content("mockllm/model", [
            ContentReasoning(reasoning=f"Block one of sample {i}: the graders may be watching."),
            ContentReasoning(reasoning=f"Block two of sample {i}: check the autop-run harness.", summary=f"Summary {i}."),
            ContentReasoning(reasoning="opaque", redacted=True),
            ContentText(text=f"answer {i}"),
        ])
        out.usage = ModelUsage(input_tokens=5, output_tokens=5, total_tokens=10)  # no tokenizer download
        return out

    model = get_model("mockllm/model", custom_outputs=[output(i) for i in range(4)])
    task = Task(dataset=[Sample(input=f"question {i}", target=f"answer {i}") for i in range(4)],
                solver=generate(), scorer=match(), name="aware_env")
    [log] = inspect_eval(task, model=model, log_dir=str(log_dir), display="none", metadata={"step": step})
    assert log.status == "success"
    return Path(log.location)


@pytest.mark.slow
def test_inspect_log_written_by_inspect_keeps_every_reasoning_block(tmp_path, store_path):
    log = _write_inspect_log_with_reasoning(tmp_path / "logs", step=300)
    with Store.open(store_path, read_only=False) as store:
        [res] = ingest_paths(store, [log])
        assert res.added == 4
        assert store.rows("select distinct run, step, environment from transcripts") == [("aware_env", 300, "aware_env")]
        kinds = store.rows(
            "select kind, redacted, count(*) from segments where kind like 'reasoning%' group by all order by all")
        assert kinds == [("reasoning", False, 8), ("reasoning", True, 4), ("reasoning_summary", False, 4)]
        texts = [r[0] for r in store.rows("select text from segments where kind = 'reasoning' and not redacted order by all")]
        assert "Block one of sample 0: the graders may be watching." in texts
        assert "Block two of sample 3: check the autop-run harness." in texts
        scores = store.rows("select distinct score from transcripts")
        assert scores == [(1.0,)]
        # --run and --step override the log's own
        [res] = ingest_paths(store, [log], run="override", step=1)
        assert res.added == 4


def _hostile_but_valid_records():
    """Records of every shape the SQL path takes, and of shapes it leaves to Python, with the
    edge cases where the two could differ: whitespace-only fields, ints as ids, unicode,
    NUL characters, big metadata, think tags, mixed content parts."""
    recs = [dict(r) for r in CHAT_RECORDS]
    recs += [
        {"id": 7, "run": "r", "step": 3, "environment": "  ", "epoch": 2, "covert_action": True, "score": 0.1,
         "metadata": {"b": [1, {"z": None, "a": 1.5}], "a": "é", "n": 12345678901234567}, "reasoning": "Naïve café\u0000 ’x’"},
        {"run": "r", "step": -4, "reasoning": "no id", "output": "   "},
        {"run": "r", "step": 0, "output": "only output"},
        {"id": "big-int-score", "run": "r", "step": 1, "score": 18446744073709551615, "reasoning": "x"},
        {"id": "str-step", "run": "r", "step": "12", "reasoning": "step as a string"},
        {"id": "think-out", "run": "r", "step": 1, "reasoning": "a", "output": "<think>b</think>c"},
        {"id": "null-fields", "run": "r", "step": 1, "environment": None, "epoch": None, "covert_action": None,
         "score": None, "metadata": None, "reasoning": "x", "output": None},
        {"id": "user-parts", "run": "r", "step": 1, "messages": [
            {"role": "human", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
            {"role": "developer", "content": "sys"},
            {"role": "model", "content": [{"type": "thinking", "thinking": ""}, {"type": "text", "text": "  "},
                                           {"type": "reasoning", "reasoning": None, "summary": "  "},
                                           {"type": "redacted_thinking", "data": "x"}],
             "reasoning": "  ", "reasoning_content": 5}]},
        {"id": "string-parts", "run": "r", "step": 1, "messages": [
            {"role": "assistant", "content": ["plain string part", {"type": "image", "url": "x"}]}]},
        {"id": "summary-list", "run": "r", "step": 1, "messages": [
            {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "r",
                                               "summary": [{"type": "summary_text", "text": "s"}]}]}]},
        {"id": "ws\u3000", "run": "\u2003", "step": 2, "reasoning": "unicode-space run falls back to the flag"},
    ]
    return recs


@pytest.mark.parametrize("chunk", [1 << 20, 700])
def test_sql_path_stores_what_the_python_path_stores(tmp_path, monkeypatch, chunk):
    """The DuckDB path and records.record_from_json must store identical rows, hashes included:
    the same record must be a duplicate whichever path it took."""
    import cotwatch.analytics.ingest.jsonl as jsonl_mod
    import cotwatch.analytics.ingest.staging as staging

    monkeypatch.setattr(jsonl_mod, "CHUNK_BYTES", chunk)
    lines = [json.dumps(r, ensure_ascii=False) for r in _hostile_but_valid_records()]
    path = write_jsonl(tmp_path / "shapes.jsonl", lines)
    dumps = {}
    for use_compiled in (True, False):
        monkeypatch.setattr(staging.FileIngest, "use_compiled", use_compiled)
        with Store.open(tmp_path / f"{use_compiled}.duckdb", read_only=False) as store:
            [res] = ingest_paths(store, [path], run="flag")
            assert (res.added, res.rejected) == (len(lines), 0), res.problems
            # rare shapes only take the Python path: <think> in output or content, a step given
            # as a string, string and image parts, a summary list, a score beyond int64... 
            assert res.python_lines == (len(lines) if not use_compiled else 6), res.python_lines
            dumps[use_compiled] = (
                store.rows("select pk, id, run, step, environment, epoch, covert_action, score, source_line, "
                           "content_hash, metadata::varchar from transcripts order by pk"),
                store.rows("select transcript_pk, ordinal, role, kind, text, redacted from segments order by all"),
                store.rows("select * from doc_tokens order by all"),
            )
    assert dumps[True] == dumps[False]
    # the Python path's records re-ingested through the SQL path (and back) are duplicates
    monkeypatch.setattr(staging.FileIngest, "use_compiled", True)
    with Store.open(tmp_path / "False.duckdb", read_only=False) as store:
        [res] = ingest_paths(store, [path], run="flag")
        assert (res.added, res.duplicates) == (0, len(lines))
    stored = {row[1]: row for row in dumps[True][0]}
    assert stored["7"][4:8] == (None, 2, True, 0.1)  # whitespace environment is no environment
    assert stored["str-step"][3] == 12
    assert "h:" in "".join(stored)  # records without an id get h: + their hash


def _old_content_hash(rec: dict, run: str) -> str:
    """The content hash stores had before migration 0009 (BLAKE2b over a Python serialization),
    frozen here to write a store as the previous version did."""
    import hashlib

    from cotwatch.analytics.ingest.records import canonical_json

    h = hashlib.blake2b(digest_size=16)
    meta = None if rec.get("metadata") is None else canonical_json(rec["metadata"])
    head = f"{rec.get('run') or run}\x1f{rec['step']}\x1f{None}\x1f{None}\x1f{None}\x1f{None}\x1f{meta}"
    h.update(head.encode("utf-8", "surrogatepass"))
    h.update(f"\x1ereasoning\x1fassistant\x1f0\x1f".encode())
    h.update(rec["reasoning"].encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def test_migration_0009_rehashes_so_reingest_stays_a_no_op(tmp_path, store_path):
    """A store written with the old hash (and ids derived from it) is moved to the SQL hash: the
    same file ingested again adds nothing, and ids of id-less records follow the new hash."""
    recs = [{"id": "a", "run": "r", "step": 1, "reasoning": "with id", "metadata": {"k": [1, 2]}},
            {"run": "r", "step": 2, "reasoning": "without id"}]
    path = write_jsonl(tmp_path / "old.jsonl", recs)
    with Store.open(store_path, read_only=False) as store:
        ingest_paths(store, [path])
        new = store.rows("select id, content_hash from transcripts order by source_line")
        # make it a store of the previous version: old hashes, ids derived from them, 0009 not applied
        for rec, (tid, _) in zip(recs, new):
            old = _old_content_hash(rec, "r")
            old_id = rec.get("id") or f"h:{old[:16]}"
            store.con.execute("update transcripts set content_hash = $h, id = $i where id = $tid",
                              {"h": old, "i": old_id, "tid": tid})
        store.con.execute("delete from schema_migrations where name = '0009_content_hash_sql'")
        assert store.rows("select count(*) from transcripts where id like 'h:%' and content_hash = "
                          "(select content_hash from transcripts where id like 'h:%')") == [(1,)]
    with Store.open(store_path, read_only=False) as store:  # migrates
        assert "0009_content_hash_sql" in store.applied_on_open
        assert store.rows("select id, content_hash from transcripts order by source_line") == new
        [res] = ingest_paths(store, [path])
        assert (res.added, res.duplicates) == (0, 2)


# ---------------------------------------------------------------------------------------------
# committing a large file
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("direct", [True, False])
def test_a_large_file_commits_into_the_database_file_a_small_one_through_the_wal(tmp_path, monkeypatch, direct):
    """A file of at least DIRECT_COMMIT_BYTES is checkpointed at its commit (its rows are written
    once, into the database file); a smaller one goes through the WAL as DuckDB does by default.
    Either way the store holds the same rows, and the setting is DuckDB's default afterwards."""
    from cotwatch.analytics.ingest import loading

    data = write_jsonl(tmp_path / "big.jsonl", [
        {"id": f"t{i}", "run": "r", "step": i % 4, "reasoning": f"Wait, the watchers {i} " * 40, "output": "ok"}
        for i in range(3000)])
    monkeypatch.setattr(loading, "DIRECT_COMMIT_BYTES", 0 if direct else 1 << 40)
    db = tmp_path / "s.duckdb"
    wal = Path(f"{db}.wal")
    with Store.open(db, read_only=False) as store:
        [res] = ingest_paths(store, [data], count_terms=False)
        assert res.added == 3000
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        assert (wal_bytes < 1_000_000) == direct, wal_bytes
        assert store.rows("select current_setting('checkpoint_threshold')")[0][0] == "16.0 MiB"
    with Store.open(db) as store:
        assert store.rows("select count(*), count(distinct step) from transcripts") == [(3000, 4)]
