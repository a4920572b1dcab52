"""Input ergonomics: JSON record files with field mapping, folder walks that skip what they
cannot take, --id-from / --step-from, format mismatches, Inspect log folders at several steps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cotwatch.analytics.store.database import Store

from tests.conftest import DATA, requires_data

GOLD = DATA / "alignment-faking" / "gold_106.json"


@requires_data
def test_alignment_faking_json_ingests_with_one_command_and_field_mapping(cli, tmp_path):
    args = ["ingest", GOLD, "--run", "af", "--step", "0", "--records-field", "samples",
            "--field", "text=reasoning", "--field", "label=metadata.label"]
    res = cli(*args)
    assert res.code == 0, res
    assert "106 added, 0 duplicates, 0 rejected" in res.err
    samples = json.loads(GOLD.read_text(encoding="utf-8"))["samples"]
    with Store.open(tmp_path / "store.duckdb") as store:
        rows = store.rows("select t.source_entry, t.id, t.metadata->>'label', s.kind, s.text from transcripts t "
                          "join segments s on s.transcript_pk = t.pk order by t.pk")
    assert len(rows) == 106
    for (entry, tid, label, kind, text), sample in zip(rows, samples):
        assert (kind, text, label) == ("reasoning", sample["text"], sample["label"])  # verbatim
        assert tid.startswith("h:") and entry.startswith("record ")
    assert "gold_106.json: 0 added, 106 duplicates" in cli(*args).err  # idempotent
    # without --records-field: the one list field is named in the error
    res = cli("ingest", GOLD, "--run", "af", "--step", "0")
    assert res.code == 3 and "pass --records-field samples" in res.err


def test_json_lists_jsonl_mapping_and_format_mismatches(cli, tmp_path):
    records = [{"text": "wait, the grader", "ckpt": 10, "label": "x"}, {"text": "fine", "ckpt": 20, "label": "y"}]
    listing = tmp_path / "records.json"
    listing.write_text(json.dumps(records))
    lines = tmp_path / "records.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in records))
    mapping = ["--run", "m", "--field", "text=reasoning", "--field", "ckpt=step", "--field", "label=metadata.label"]
    assert cli("ingest", listing, *mapping).code == 0
    res = cli("ingest", lines, *mapping)  # the same records from JSONL: duplicates
    assert res.code == 0 and "0 added, 2 duplicates" in res.err, res
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select step, metadata::varchar from transcripts order by step") == [
            (10, '{"label":"x"}'), (20, '{"label":"y"}')]
    res = cli("ingest", "--format", "text", listing, "--run", "r", "--step", "1")
    assert res.code == 3 and "--format text, but the file is JSON" in res.err
    res = cli("ingest", "--format", "json", lines)
    assert res.code == 3 and "not one" in res.err
    res = cli("ingest", lines, "--field", "text")
    assert res.code == 2 and "SOURCE=TARGET" in res.err


def test_folder_walk_skips_what_it_cannot_take_and_never_stops_half_way(cli, tmp_path):
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text(json.dumps({"id": "1", "run": "r", "step": 0, "reasoning": "one"}) + "\n")
    (folder / "sub" / "b.jsonl").write_text(json.dumps({"id": "2", "run": "r", "step": 1, "reasoning": "two"}) + "\n")
    (folder / "LICENSE.txt").write_text("MIT License ...")
    (folder / "notes.xyz").write_text("?")
    (folder / "weird.json").write_text('{"a": 1}')
    (folder / "fake.eval").write_text("not a zip")
    os.mkfifo(folder / "pipe.jsonl")
    (folder / ".hidden.jsonl").write_text("{broken")
    res = cli("ingest", folder)
    assert res.code == 0, res
    out = res.err
    assert "a.jsonl: 1 added" in out and "b.jsonl: 1 added" in out
    assert "LICENSE.txt: skipped (a licence or readme, not a transcript)" in out
    assert "notes.xyz: skipped (not a transcript file (.xyz))" in out
    assert "pipe.jsonl: skipped (not a regular file (a FIFO))" in out
    assert "fake.eval: skipped (not an Inspect .eval archive" in out
    assert "weird.json: skipped" in out and ".hidden" not in out
    assert "Traceback" not in out
    # a named FIFO is an error before anything is stored
    res = cli("ingest", folder / "pipe.jsonl")
    assert res.code == 3 and "not a regular file (a FIFO)" in res.err


def test_unreadable_file_in_a_folder_is_rejected_and_the_rest_stored(cli, tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    good = folder / "a.jsonl"
    good.write_text(json.dumps({"id": "1", "run": "r", "step": 0, "reasoning": "one"}) + "\n")
    locked = folder / "b.jsonl"
    locked.write_text(json.dumps({"id": "2", "run": "r", "step": 0, "reasoning": "two"}) + "\n")
    real_open = open

    def deny(path, *args, **kwargs):  # root reads anything: refuse this file as a mode-000 file would
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    res = cli("ingest", folder)
    assert res.code == 3, res
    assert "b.jsonl: cannot read: Permission denied" in res.err and "Traceback" not in res.err
    assert "a.jsonl: 1 added" in res.err


def test_text_ids_from_path_and_steps_from_the_path(cli, tmp_path):
    for step in (100, 200):
        d = tmp_path / "traces" / f"ckpt-{step}"
        d.mkdir(parents=True)
        (d / "trace.txt").write_text(f"reasoning at {step}")
    (tmp_path / "traces" / "README.md").write_text("about these traces")
    res = cli("ingest", tmp_path / "traces", "--run", "t", "--step-from", r"path:ckpt-(\d+)", "--id-from", "path")
    assert res.code == 0, res
    assert "README.md: skipped (a licence or readme" in res.err
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select id, step from transcripts order by step") == [
            ("ckpt-100/trace.txt", 100), ("ckpt-200/trace.txt", 200)]
    res = cli("ingest", tmp_path / "traces" / "ckpt-100" / "trace.txt", "--run", "t", "--step", "1",
              "--step-from", "path:(x)")
    assert res.code == 2 and "not both" in res.err
    # by name, the two files would collide: the second is a conflict, said so on one line
    res = cli("ingest", tmp_path / "traces", "--run", "n", "--step", "5")
    assert res.code == 3 and "trace.txt is already stored in run n with different content" in res.err.replace(
        "id ", "")


def _mock_log(log_dir: Path, *, step_metadata=None, checkpoint=None, name="ckpt_task") -> Path:
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ContentReasoning, ContentText, ModelOutput, ModelUsage, get_model
    from inspect_ai.solver import generate

    def output(i: int) -> ModelOutput:
        out = ModelOutput.from_content("mockllm/model", [ContentReasoning(reasoning=f"wait, sample {i}"),
                                                          ContentText(text=f"answer {i}")])
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # no tokenizer download
        return out

    model = get_model("mockllm/model", custom_outputs=[output(i) for i in range(2)])
    task = Task(dataset=[Sample(input=f"q{i}", target="a") for i in range(2)], solver=generate(), name=name,
                metadata={"checkpoint": checkpoint} if checkpoint is not None else None)
    [log] = inspect_eval(task, model=model, log_dir=str(log_dir), display="none", metadata=step_metadata)
    assert log.status == "success"
    return Path(log.location)


@pytest.mark.slow
def test_inspect_log_folder_at_three_steps_with_unrelated_files(cli, tmp_path):
    logs = tmp_path / "logs"
    for step in (100, 200, 300):
        _mock_log(logs / f"step_{step}")
    (logs / "LICENSE-MIT.txt").write_text("MIT")
    (logs / "log_invalid.txt").write_text("this is not a log")
    (logs / "step_100" / "notes.md").write_text("# notes")
    res = cli("ingest", logs, "--format", "inspect", "--step-from", r"path:step_(\d+)")
    assert res.code == 0, res
    assert "LICENSE-MIT.txt: skipped" in res.err and "log_invalid.txt: skipped" in res.err
    assert "notes.md: skipped" in res.err
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select run, step, count(*) from transcripts group by all order by step") == [
            ("ckpt_task", 100, 2), ("ckpt_task", 200, 2), ("ckpt_task", 300, 2)]
        assert store.rows("select count(*) from segments where kind = 'reasoning'")[0][0] == 6
    # the step from eval metadata under another key, or from a task argument
    other = tmp_path / "other"
    _mock_log(other / "a", step_metadata={"ckpt": 700})
    res = cli("ingest", "--db", tmp_path / "b.duckdb", other, "--format", "inspect", "--step-from", "metadata:ckpt")
    assert res.code == 0, res
    with Store.open(tmp_path / "b.duckdb") as store:
        assert store.rows("select distinct step from transcripts") == [(700,)]
    res = cli("ingest", "--db", tmp_path / "c.duckdb", other, "--format", "inspect", "--step-from", "task_arg:nope")
    assert res.code == 3 and "no task argument 'nope'" in res.err


@requires_data
def test_real_inspect_log_folder_skips_the_licence_and_the_invalid_log(cli, tmp_path):
    res = cli("ingest", DATA / "inspect-logs", "--format", "inspect", "--step", "0")
    assert res.code == 0, res
    assert "LICENSE-MIT.txt: skipped" in res.err and "log_invalid.txt: skipped (not an Inspect log" in res.err
    assert "Traceback" not in res.err
