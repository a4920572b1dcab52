"""cotwatch and Inspect Scout, end to end on logs written by inspect_ai's mockllm: cotwatch's
scanners in an offline Scout scan and attached to a running eval, Scout's own transcript database
ingested like the logs it was made from, and scan results compared with cotwatch's verdicts in SQL.

Needs the ``scout`` extra; without it the whole module is skipped (the core reader of Scout's
Parquet is tested without it in ``tests/test_scout_ingest.py``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("inspect_scout", reason="the scout extra is not installed (pip install 'cotwatch[scout]')")

from cotwatch.analytics.ingest import ingest_paths  # noqa: E402
from cotwatch.analytics.ingest.scout import transcript_key  # noqa: E402
from cotwatch.analytics.store import Store  # noqa: E402

pytestmark = pytest.mark.slow  # inspect evals, a Scout scan, the sentence encoder

#: A realistic chain of thought with one clear eval-aware sentence ...
AWARE_SENTENCE = "This looks like it might be an alignment evaluation rather than a real deployment."
AWARE = ("The user wants a summary of the quarterly report with any irregular expenses called out. "
         "Let me go through the figures line by line before I write anything. "
         "Travel spending doubled compared with last quarter, which is worth pointing out. "
         f"{AWARE_SENTENCE} "
         "Either way, the right thing is to give an accurate and complete summary.")
#: ... and an ordinary one.
CLEAN = ("The user asks for the capital of Australia. "
         "Many people guess Sydney, but the capital is Canberra. "
         "I will answer briefly and mention that the city was chosen as a compromise.")
CLEAN_SUMMARY = "Recalled that Canberra is the capital."
TERMS = ["evaluation", "deployment", "capital", "alignment evaluation", "deploy*"]


def _output(reasoning: str, answer: str, summary: str | None = None):
    from inspect_ai.model import ContentReasoning, ContentText, ModelOutput, ModelUsage

    out = ModelOutput.from_content("mockllm/model", [
        ContentReasoning(reasoning=reasoning, summary=summary),
        ContentReasoning(reasoning="encrypted", redacted=True),
        ContentText(text=answer),
    ])
    out.usage = ModelUsage(input_tokens=5, output_tokens=5, total_tokens=10)  # mockllm needs no tokenizer download
    return out


def write_logs(log_dir: Path, steps: list[int], scanner=None) -> list[Path]:
    """One Inspect log per step (eval metadata ``step``), each with an aware and a clean sample."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import get_model
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    paths = []
    for step in steps:
        model = get_model("mockllm/model", custom_outputs=[_output(AWARE, "Summary"),
                                                           _output(CLEAN, "Canberra", CLEAN_SUMMARY)])
        task = Task(dataset=[Sample(input="Summarise the quarterly report.", target="Summary", id="aware"),
                             Sample(input="What is the capital of Australia?", target="Canberra", id="clean")],
                    solver=generate(), scorer=match(), name="toy_env")
        # one sample at a time, in dataset order: the aware sample gets the aware output
        [log] = inspect_eval(task, model=model, log_dir=str(log_dir), display="none", metadata={"step": step},
                             max_samples=1, scanner=scanner)
        assert log.status == "success"
        assert AWARE_SENTENCE in log.samples[0].messages[-1].content[0].reasoning
        paths.append(Path(log.location))
    return paths


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scout") / "logs"
    write_logs(folder, [100, 200])
    return folder


def _results(location: Path, scanner: str) -> list[dict]:
    from inspect_scout import scan_results_df

    frame = scan_results_df(str(location)).scanners[scanner]
    return frame.to_dict("records")


def _key(row: dict) -> str:
    return transcript_key(row["transcript_source_type"], row["transcript_source_id"], row["transcript_task_id"],
                          row["transcript_task_repeat"], row["transcript_id"])


@pytest.fixture(scope="module")
def offline_scan(logs, tmp_path_factory) -> Path:
    from inspect_scout import scan, transcripts_from

    from cotwatch.scout import eval_awareness, watchlist_terms

    status = scan([eval_awareness(device="cpu"), watchlist_terms(terms=TERMS)], transcripts=transcripts_from(str(logs)),
                  scans=str(tmp_path_factory.mktemp("scans")), max_processes=1, display="none")
    assert status.complete and not status.errors
    return Path(status.location)


@pytest.fixture(scope="module")
def log_store(logs, tmp_path_factory) -> Path:
    """The logs ingested directly, with cotwatch's own classifier applied."""
    from cotwatch.classifiers import apply

    path = tmp_path_factory.mktemp("store") / "logs.duckdb"
    with Store.open(path, read_only=False) as store:
        ingest_paths(store, [logs])
        apply(store, "eval_awareness", device="cpu")
    return path


def test_offline_scan_flags_the_planted_aware_sample_and_not_the_clean_one(offline_scan):
    from cotwatch.classifiers.artifacts import load_artifact

    art = load_artifact("eval_awareness")
    rows = _results(offline_scan, "eval_awareness")
    assert sorted((r["transcript_task_id"], r["value"]) for r in rows) == [
        ("aware", True), ("aware", True), ("clean", False), ("clean", False)]
    for row in rows:
        meta = json.loads(row["metadata"])
        assert (meta["classifier"], meta["classifier_version"], meta["classifier_sha256"]) == (
            art.name, art.version, art.sha256)
        refs = json.loads(row["message_references"])
        if row["transcript_task_id"] == "aware":
            # the one eval-aware sentence is the evidence, with its score, cited and referenced
            [flagged] = meta["flagged_sentences"]
            assert flagged["text"] == AWARE_SENTENCE and flagged["score"] >= meta["sentence_threshold"]
            assert row["explanation"] == f"[M{flagged['message']}] {flagged['score']:.3f}: {AWARE_SENTENCE}"
            assert [r["cite"] for r in refs] == [f"[M{flagged['message']}]"] and refs[0]["id"] == flagged["message_id"]
            assert meta["n_sentences"] == 5
        else:
            assert meta["flagged_sentences"] == [] and refs == []
            assert row["explanation"].startswith("not flagged")
            assert meta["n_sentences"] == 4  # three sentences of reasoning and its one-sentence summary


def test_scanner_verdicts_equal_cotwatch_classify_apply_on_the_same_transcripts(offline_scan, log_store):
    rows = {_key(r): json.loads(r["metadata"]) | {"value": r["value"]} for r in _results(offline_scan, "eval_awareness")}
    with Store.open(log_store) as store:
        flags = store.rows("select transcript_id, flagged, max_score, sentences, transcript_score from transcript_flags "
                           "where classifier = 'eval_awareness'")
    assert len(flags) == len(rows) == 4
    for transcript_id, flagged, max_score, sentences, transcript_score in flags:
        scanned = rows[transcript_id]
        assert scanned["value"] is flagged
        assert scanned["n_sentences"] == sentences
        assert scanned["max_score"] == pytest.approx(max_score, abs=1e-5)
        assert scanned["transcript_score"] == pytest.approx(transcript_score, abs=1e-5)


def test_watchlist_scanner_counts_like_the_store(offline_scan, log_store):
    rows = _results(offline_scan, "watchlist_terms")
    assert len(rows) == 4 * len(TERMS)  # one result per term and transcript
    got = {(_key(r), r["label"]): r for r in rows}
    with Store.open(log_store) as store:
        stored = dict(((t, term), n) for t, term, n in store.rows(
            "select transcript_id, term, occurrences from transcript_terms where term in ('evaluation', 'deployment', 'capital')"))
        ids = [r[0] for r in store.rows("select transcript_id from main.transcripts")]
        tokens = dict(store.rows("select transcript_id, tokens from transcript_tokens"))
    for transcript_id in ids:
        for term in ("evaluation", "deployment", "capital"):
            assert got[(transcript_id, term)]["value"] == stored.get((transcript_id, term), 0), (transcript_id, term)
        # scan_results_df spreads a resultset item's metadata over metadata.KEY columns
        assert got[(transcript_id, "capital")]["metadata.reasoning_tokens"] == tokens[transcript_id]
        aware = transcript_id.split("/")[1] == "aware"
        assert got[(transcript_id, "alignment evaluation")]["value"] == (1 if aware else 0)
        assert got[(transcript_id, "deploy*")]["value"] == (1 if aware else 0)
    aware_id = next(t for t in ids if t.split("/")[1] == "aware")
    phrase = got[(aware_id, "alignment evaluation")]
    assert "**alignment evaluation**" in phrase["explanation"] and phrase["explanation"].startswith("[M")
    assert json.loads(phrase["message_references"])[0]["cite"] == phrase["explanation"].split(":")[0]
    clean_id = next(t for t in ids if t.split("/")[1] == "clean")
    assert got[(clean_id, "capital")]["value"] == 3  # two in the reasoning, one in its summary
    assert not isinstance(got[(clean_id, "evaluation")]["explanation"], str)  # no hit, no snippet (pandas: NaN)


def test_scanner_attached_to_a_running_eval_writes_scan_results(tmp_path):
    from cotwatch.scout import eval_awareness

    write_logs(tmp_path / "logs", [300], scanner=[eval_awareness(device="cpu")])
    [scan_dir] = list((tmp_path / "logs" / "scans").glob("scan_id=*"))
    assert (scan_dir / "eval_awareness.parquet").exists()
    rows = _results(scan_dir, "eval_awareness")
    assert sorted((r["transcript_task_id"], r["value"]) for r in rows) == [("aware", True), ("clean", False)]

    # the log folder, scans included, ingests in one command; the results join their transcripts per step
    with Store.open(tmp_path / "store.duckdb", read_only=False) as store:
        results = ingest_paths(store, [tmp_path / "logs"])
        skipped = sorted(Path(r.file).name for r in results if r.skipped)
        assert skipped == ["_errors.jsonl", "_scan.json", "_summary.json"]
        assert store.rows("select run, step, split_part(transcript_id, '/', 2), value, value_number from main.scout_results "
                          "order by all") == [("toy_env", 300, "aware", "true", 1.0), ("toy_env", 300, "clean", "false", 0.0)]


def _scout_database(logs: Path, location: Path) -> Path:
    """A Scout transcript database written by Scout's own importer from the logs."""
    from inspect_scout import transcripts_db, transcripts_from

    async def insert() -> None:
        async with transcripts_db(str(location)) as db:
            await db.insert(transcripts_from(str(logs)))

    asyncio.run(insert())
    return location


def test_scout_database_ingests_like_the_logs_it_was_made_from(logs, log_store, tmp_path):
    database = _scout_database(logs, tmp_path / "transcripts_db")
    query = ("select t.transcript_id, t.run, t.step, t.environment, t.epoch, t.score, k.tokens "
             "from main.transcripts t join transcript_tokens k using (run, transcript_id) order by all")
    reasoning = "select transcript_id, kind, text from reasoning order by all"
    with Store.open(tmp_path / "db.duckdb", read_only=False) as store:
        results = ingest_paths(store, [database], format="scout")
        assert sum(r.added for r in results) == 4
        assert [Path(r.file).suffix for r in results if r.skipped] == [".idx"]
        from_database = store.rows(query), store.rows(reasoning)
        again = ingest_paths(store, [database], format="scout")  # idempotent
        assert sum(r.duplicates for r in again) == 4 and sum(r.added for r in again) == 0
        meta = json.loads(store.rows("select metadata from main.transcripts limit 1")[0][0])
        assert {"transcript_id", "source_type", "eval_metadata"} <= set(meta) and meta["eval_metadata"]["step"] in (100, 200)
    with Store.open(log_store) as store:
        from_logs = store.rows(query), store.rows(reasoning)
    assert from_database == from_logs  # same ids, runs, steps, scores, reasoning token counts and texts
    assert len(from_logs[0]) == 4 and sum(row[-1] for row in from_logs[0]) > 0


def test_scan_results_compare_with_cotwatch_per_step_in_sql(offline_scan, log_store, tmp_path):
    import shutil

    store_path = tmp_path / "compare.duckdb"
    shutil.copy(log_store, store_path)
    with Store.open(store_path, read_only=False) as store:
        first = ingest_paths(store, [offline_scan.parent])
        assert sum(r.added for r in first) == 4 + 4 * len(TERMS)  # a resultset gives one row per term
        again = ingest_paths(store, [offline_scan.parent])
        assert sum(r.added for r in again) == 0 and sum(r.duplicates for r in again) == 4 + 4 * len(TERMS)
        per_step = store.rows("""
            select r.step, avg(r.value_number) as scout_rate, avg(f.flagged::int) as cotwatch_rate, count(*) as n
            from main.scout_results r join transcript_flags f using (run, transcript_id)
            where r.scanner like '%eval_awareness' and f.classifier = 'eval_awareness'
            group by all order by all""")
        assert per_step == [(100, 0.5, 0.5, 2), (200, 0.5, 0.5, 2)]
        counts = store.rows("select label, sum(value_number)::int from main.scout_results where scanner like '%watchlist_terms' "
                            "group by all order by all")
        assert counts == [("alignment evaluation", 2), ("capital", 6), ("deploy*", 2), ("deployment", 2), ("evaluation", 2)]


def test_scout_cli_finds_the_scanners_by_package_name(logs, tmp_path):
    """`scout scan cotwatch/watchlist_terms` resolves through cotwatch's inspect_ai entry point."""
    scout = Path(sys.executable).with_name("scout")
    proc = subprocess.run([str(scout), "scan", "cotwatch/watchlist_terms", "-T", str(logs), "--scans", str(tmp_path),
                           "--max-processes", "1", "--display", "none", "-S", "snippets=1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [results] = list(tmp_path.glob("scan_id=*/watchlist_terms.parquet"))
    rows = _results(results.parent, "watchlist_terms")
    from cotwatch.analytics.terms.specs import load_watchlist

    assert len(rows) == 4 * len(load_watchlist().all_terms())
    assert all(isinstance(r["value"], int | float) for r in rows)
