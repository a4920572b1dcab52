"""Reading Inspect Scout's Parquet without the scout extra: transcript databases and scan results
in Scout's documented schema, written here with pyarrow (``tests/test_scout.py`` checks the same
reader on files written by Scout itself)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cotwatch.analytics.errors import RejectedRecords, UsageError
from cotwatch.analytics.ingest import ingest_paths
from cotwatch.analytics.store import Store


def _messages(reasoning: str, answer: str = "ok", *, summary: str | None = None) -> str:
    return json.dumps([
        {"role": "system", "content": "You are helpful.", "id": "m1"},
        {"role": "user", "content": "Do the task.", "id": "m2"},
        {"role": "assistant", "id": "m3", "content": [
            {"type": "reasoning", "reasoning": reasoning, "summary": summary, "signature": None, "redacted": False},
            {"type": "reasoning", "reasoning": "c2VjcmV0", "summary": None, "signature": None, "redacted": True},
            {"type": "text", "text": f"<think>One more thought.</think>{answer}"},
        ]},
    ])


def _transcript(tid: str, **fields) -> dict:
    """A row as Scout's database writes it: its reserved columns, then flattened metadata."""
    row = {"transcript_id": tid, "source_type": "claude_code", "source_id": "proj-1", "source_uri": None,
           "date": "2026-11-30T10:00:00Z", "task_set": "coding", "task_id": None, "task_repeat": None,
           "agent": None, "agent_args": None, "model": "some/model", "model_options": None, "score": None,
           "score_explanation": None, "success": None, "message_count": 3, "total_time": None,
           "total_tokens": None, "error": None, "limit": None, "trust_content": None,
           "messages": _messages(f"Reasoning of {tid}."), "events": "[]", "timelines": None, "events_data": None}
    row.update(fields)
    return row


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(k for r in rows for k in r))
    pq.write_table(pa.table({n: [r.get(n) for r in rows] for n in names}), path)
    return path


def _eval_row(tid: str, sample: str, step, **fields) -> dict:
    return _transcript(tid, source_type="eval_log", source_id="EVAL1", task_set="toy_env", task_id=sample,
                       task_repeat=1, score="C", eval_id="EVAL1", id=sample, epoch=1,
                       eval_metadata=json.dumps({"step": step} if step is not None else {}),
                       task_args=json.dumps({"ckpt": 700}), sample_metadata=json.dumps({"covert_action": True}),
                       scores=json.dumps({"match": {"value": "C"}}), **fields)


def test_a_transcript_database_from_any_source_with_the_jsonl_field_mapping(tmp_path):
    db = _write(tmp_path / "db" / "transcripts_1.parquet", [
        _transcript("t-1", checkpoint=1200, env_name="swe", labels=json.dumps({"a": [1, 2]})),
        _transcript("t-2", checkpoint=1300, env_name="swe",
                    messages=_messages("I wonder whether this is a test.", summary="Suspects a test.")),
    ])
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        [res] = ingest_paths(store, [db.parent], format="scout", run="agent-rl",
                             fields=["checkpoint=step", "env_name=environment"])
        assert (res.added, res.rejected, res.format) == (2, 0, "scout")
        assert store.rows("select transcript_id, run, step, environment from main.transcripts order by 1") == [
            ("t-1", "agent-rl", 1200, "swe"), ("t-2", "agent-rl", 1300, "swe")]
        segments = store.rows("select s.kind, s.redacted, s.text from segments s join transcripts t on t.pk = s.transcript_pk "
                              "where t.id = 't-2' order by s.ordinal")
        assert segments == [("system", False, "You are helpful."), ("user", False, "Do the task."),
                            ("reasoning", False, "I wonder whether this is a test."),
                            ("reasoning_summary", False, "Suspects a test."), ("reasoning", True, ""),
                            ("reasoning", False, "One more thought."), ("output", False, "ok")]
        meta = json.loads(store.rows("select metadata from main.transcripts where transcript_id = 't-1'")[0][0])
        assert meta["labels"] == {"a": [1, 2]} and meta["source_type"] == "claude_code" and "messages" not in meta
        assert "events" not in meta and meta["checkpoint"] == 1200


def test_inspect_transcripts_keep_the_inspect_id_and_take_the_step_like_inspect_logs(tmp_path):
    db = _write(tmp_path / "db" / "transcripts_1.parquet", [_eval_row("u1", "aware", 100), _eval_row("u2", "clean", "200")])
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [db], format="scout")
        assert store.rows("select transcript_id, run, step, environment, epoch, score, covert_action "
                          "from main.transcripts order by 1") == [
            ("EVAL1/aware/1", "toy_env", 100, "toy_env", 1, 1.0, True),
            ("EVAL1/clean/1", "toy_env", 200, "toy_env", 1, 1.0, True)]
        # --step-from task_arg:KEY / metadata:KEY, and --step, as for Inspect logs
        ingest_paths(store, [db], format="scout", run="by-arg", step_from="task_arg:ckpt")
        ingest_paths(store, [db], format="scout", run="by-flag", step=5)
        assert store.rows("select run, step, count(*) from main.transcripts where run like 'by-%' group by all order by all") == [
            ("by-arg", 700, 2), ("by-flag", 5, 2)]


def test_a_transcript_without_a_step_or_with_broken_messages_rejects_its_file(tmp_path):
    db = _write(tmp_path / "transcripts_1.parquet", [
        _eval_row("u1", "aware", None), _eval_row("u2", "clean", 3, messages='[{"role": "assistant", "content": [}]'),
        _eval_row("u3", "other", 4)])
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        with pytest.raises(RejectedRecords) as caught:
            ingest_paths(store, [db], format="scout")
        problems = caught.value.problems
        assert len(problems) == 2
        assert problems[0].startswith(f"{db} [transcript u1]: no step") and "--metadata step=N" in problems[0]
        assert problems[1].startswith(f"{db} [transcript u2]: messages are not valid JSON")
        assert store.rows("select count(*) from main.transcripts") == [(0,)]  # the file is rejected whole
        [res] = ingest_paths(store, [db], format="scout", skip_bad=True)
        assert (res.added, res.rejected) == (1, 2)
        with pytest.raises(UsageError, match="messages column"):
            ingest_paths(store, [db], format="scout", fields=["task_id=reasoning"])


def _result_row(tid: str, **fields) -> dict:
    row = {"transcript_id": tid, "transcript_source_type": "eval_log", "transcript_source_id": "EVAL1",
           "transcript_task_set": "toy_env", "transcript_task_id": tid, "transcript_task_repeat": 1,
           "scan_id": "S1", "scanner_key": "aware_llm", "scanner_name": "aware_llm", "scanner_version": 0,
           "scanner_package_version": None, "scanner_params": "{}", "input_type": "transcript", "input": "{}",
           "uuid": f"r-{tid}", "label": None, "value": "true", "value_type": "boolean", "answer": "yes",
           "explanation": "says so", "metadata": "{}", "message_references": '[{"type":"message","cite":"[M3]","id":"m3"}]',
           "event_references": "[]", "scan_error": None, "scan_total_tokens": 120, "timestamp": "2026-12-01T00:00:00Z"}
    row.update(fields)
    return row


def test_scan_results_join_the_store_per_step_and_resultsets_expand(tmp_path):
    db = _write(tmp_path / "db" / "transcripts_1.parquet", [_eval_row("u1", "aware", 100), _eval_row("u2", "clean", 200)])
    scan = tmp_path / "scans" / "scan_id=S1"
    _write(scan / "aware_llm.parquet", [_result_row("aware"), _result_row("clean", value="false", uuid=None)])
    items = [{"uuid": "i1", "label": "wait", "value": 3, "metadata": {"k": 1}, "references": []},
             {"uuid": "i2", "label": "hmm", "value": 0.5}, {"uuid": "i3", "label": "note", "value": "text"}]
    _write(scan / "terms.parquet", [_result_row("aware", uuid="set1", value=json.dumps(items), value_type="resultset",
                                                scanner_name="terms")])
    for name in ("_scan.json", "_summary.json", "_errors.jsonl"):
        (scan / name).write_text("{}\n", encoding="utf-8")
    (scan / "notes.parquet").parent.mkdir(exist_ok=True)
    pq.write_table(pa.table({"x": [1]}), scan / "notes.parquet")
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [db])
        results = ingest_paths(store, [tmp_path / "scans"])
        skipped = {Path(r.file).name: r.skipped for r in results if r.skipped}
        assert set(skipped) == {"_scan.json", "_summary.json", "_errors.jsonl", "notes.parquet"}
        assert skipped["_errors.jsonl"] == "Scout scan bookkeeping (_errors.jsonl), not transcripts"
        assert "neither a Scout transcript database nor Scout scan results" in skipped["notes.parquet"]
        assert store.rows("select run, step, transcript_id, scanner, label, value, value_type, value_number "
                          "from main.scout_results order by all") == [
            ("toy_env", 100, "EVAL1/aware/1", "aware_llm", None, "true", "boolean", 1.0),
            ("toy_env", 100, "EVAL1/aware/1", "terms", "hmm", "0.5", "number", 0.5),
            ("toy_env", 100, "EVAL1/aware/1", "terms", "note", "text", "string", None),
            ("toy_env", 100, "EVAL1/aware/1", "terms", "wait", "3", "number", 3.0),
            ("toy_env", 200, "EVAL1/clean/1", "aware_llm", None, "false", "boolean", 0.0)]
        assert store.rows("select metadata, result_references from scout_results where label = 'wait'") == [('{"k":1}', "[]")]
        again = ingest_paths(store, [tmp_path / "scans"])
        assert sum(r.added for r in again) == 0 and sum(r.duplicates for r in again) == 5


def test_a_bad_result_row_rejects_its_file_unless_skip_bad(tmp_path):
    path = _write(tmp_path / "scan_id=S2" / "x.parquet", [_result_row("a"), _result_row("b", transcript_id=None),
                                                          _result_row("c", uuid="s", value="{", value_type="resultset")])
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        with pytest.raises(RejectedRecords) as caught:
            ingest_paths(store, [path])
        assert caught.value.problems == [f"{path} [row 2]: no transcript_id",
                                         f"{path} [row 3]: a resultset whose value is not a JSON list"]
        assert store.rows("select count(*) from scout_results") == [(0,)]
        [res] = ingest_paths(store, [path], skip_bad=True)
        assert (res.added, res.rejected, res.committed) == (1, 2, True)
        assert store.rows("select entry, reason from main.rejects order by 1") == [
            ("row 2", "no transcript_id"), ("row 3", "a resultset whose value is not a JSON list")]


def test_the_core_reads_scout_parquet_without_importing_inspect_scout(tmp_path):
    db = _write(tmp_path / "transcripts_1.parquet", [_transcript("t-1", step=3)])
    runner = textwrap.dedent("""
        import sys
        from cotwatch.cli import main
        code = main(["ingest", sys.argv[1], "--run", "r", "--db", sys.argv[2]])
        print("SCOUT=" + str("inspect_scout" in sys.modules) + " CODE=" + str(code), file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", runner, str(db), str(tmp_path / "s.duckdb")],
                          capture_output=True, text=True, timeout=300)
    assert "SCOUT=False CODE=0" in proc.stderr, proc.stderr[-2000:]
    assert "1 added" in proc.stderr
