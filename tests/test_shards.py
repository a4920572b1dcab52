"""Parquet shards and shard jobs on the single-node engine: export layout and schema, equality
with the ingest path, repeated, failed, killed and conflicting jobs, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from cotwatch.analytics.errors import InputError, RejectedRecords
from cotwatch.analytics.scale.jobs import SUCCESS, Job
from cotwatch.analytics.scale.shards import (
    export_parquet,
    resolve_input,
    shard_schema,
    write_shards,
)
from cotwatch.analytics.scale.terms_job import (
    materialize_shards,
    merge_terms_job,
    run_terms_job,
)
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.synth import generator as synth

from tests._scale_helpers import ingest_store, jsonl, term_tables

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small synthetic run (chat formats, metadata, a slash in no run) ingested two ways."""
    tmp = tmp_path_factory.mktemp("corpus")
    source = tmp / "run.jsonl"
    synth.write_jsonl(source, checkpoints=3, transcripts_per_checkpoint=4, seed=7, chat_fraction=0.4,
                      chat_formats=("reasoning", "thinking", "think_tags", "reasoning_content"))
    counted = ingest_store(tmp / "counted.duckdb", source)
    shards = tmp / "shards"
    with Store.open(counted) as store:
        export_parquet(store, shards, rows_per_file=5)
    return {"tmp": tmp, "source": source, "counted": counted, "shards": shards}


def fresh_copy(corpus, tmp_path, *, count_terms: bool) -> Path:
    return ingest_store(tmp_path / "store.duckdb", corpus["source"], count_terms=count_terms)


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------
def test_export_layout_schema_and_rows(corpus):
    files = sorted(p.relative_to(corpus["shards"]).as_posix() for p in corpus["shards"].rglob("*.parquet"))
    # 3 checkpoints x 16 transcripts (4 environments x 4), 5 per file -> 4 files per step
    assert files == [f"run=demo-rl/step={s}/part-{n}.parquet" for s in (0, 100, 200) for n in range(4)]
    table = pq.read_table(corpus["shards"] / "run=demo-rl/step=100/part-0.parquet")
    assert table.schema.equals(shard_schema(), check_metadata=False)
    assert table.num_rows == 5 and set(table.column("step").to_pylist()) == {100}
    total = sum(pq.read_metadata(corpus["shards"] / f).num_rows for f in files)
    assert total == 48
    with Store.open(corpus["counted"]) as store:
        first = store.rows("select id from transcripts where step = 100 order by pk limit 1")[0][0]
        n_segments = store.rows("select count(*) from segments s join transcripts t on t.pk = s.transcript_pk "
                                "where t.id = $id", {"id": first})[0][0]
    row = table.slice(0, 1).to_pylist()[0]
    assert row["transcript_id"] == first
    assert [s["ordinal"] for s in row["segments"]] == list(range(n_segments))


def test_export_refuses_a_used_folder_and_unknown_runs(corpus, tmp_path):
    with Store.open(corpus["counted"]) as store:
        with pytest.raises(InputError, match="already holds Parquet files"):
            export_parquet(store, corpus["shards"])
        with pytest.raises(InputError, match="no run named 'nope'"):
            export_parquet(store, tmp_path / "x", run="nope")


def test_run_names_are_percent_encoded_in_paths_but_kept_in_rows(tmp_path):
    recs = [{"id": "a", "run": "team/exp 1=x", "step": 5, "reasoning": "hello world"}]
    write_shards(recs, tmp_path / "s")
    [path] = list((tmp_path / "s").rglob("*.parquet"))
    assert path.relative_to(tmp_path / "s").as_posix() == "run=team%2Fexp%201%3Dx/step=5/part-0.parquet"
    assert pq.read_table(path).column("run").to_pylist() == ["team/exp 1=x"]


def test_resolve_input_accepts_folders_globs_and_uris(corpus):
    shards = corpus["shards"]
    _, by_dir = resolve_input(shards)
    _, by_glob = resolve_input(f"{shards}/run=*/step=1*/*.parquet")
    _, by_deep = resolve_input(f"{shards}/**/*.parquet")
    _, by_uri = resolve_input(f"file://{shards}/**/part-0.parquet")
    assert len(by_dir) == len(by_deep) == 12
    assert [Path(p).parent.name for p in by_glob] == ["step=100"] * 4
    assert [Path(p).name for p in by_uri] == ["part-0.parquet"] * 3
    with pytest.raises(InputError, match="no Parquet shards found"):
        resolve_input(f"{shards}/*.csv")


# ---------------------------------------------------------------------------------------------
# the term job on the duckdb engine
# ---------------------------------------------------------------------------------------------
def test_shard_job_equals_the_ingest_path_in_a_fresh_store(corpus, tmp_path):
    result = materialize_shards(tmp_path / "new.duckdb", corpus["shards"], workers=2, batch_size=3,
                                partials=tmp_path / "jobs")
    assert (result.merge.transcripts, result.merge.added, result.merge.merged, result.merge.skipped) == (48, 48, 48, 0)
    assert result.shards == 12 and result.parts == 21  # files of 5, 5, 5, 1 rows per step, batches of 3: 2+2+2+1
    assert term_tables(tmp_path / "new.duckdb") == term_tables(corpus["counted"])
    assert not (tmp_path / "jobs" / result.merge.job_id).exists()  # partials removed after the merge
    with Store.open(tmp_path / "new.duckdb") as store:
        assert store.rows("select count(*), sum(added) from ingested_files where format = 'parquet'")[0] == (12, 48)


def test_shard_job_counts_the_pending_transcripts_of_an_existing_store(corpus, tmp_path):
    db = fresh_copy(corpus, tmp_path, count_terms=False)
    result = materialize_shards(db, f"file://{corpus['shards']}/**/*.parquet", partials=tmp_path / "jobs")
    assert (result.merge.added, result.merge.merged) == (0, 48)
    assert term_tables(db) == term_tables(corpus["counted"])


def test_repeated_job_and_repeated_merge_never_double_count(corpus, tmp_path):
    db = fresh_copy(corpus, tmp_path, count_terms=False)
    first = materialize_shards(db, corpus["shards"], partials=tmp_path / "jobs", keep_partials=True)
    again = materialize_shards(db, corpus["shards"], partials=tmp_path / "jobs")
    assert (again.merge.merged, again.merge.skipped) == (0, 48)
    with Store.open(db, read_only=False) as store:
        remerge = merge_terms_job(store, tmp_path / "jobs" / first.merge.job_id)
        assert remerge.already_merged and remerge.merged == 0
        assert store.rows("select job_id, merged, skipped from jobs order by merged_at") == [
            (first.merge.job_id, 48, 0), (again.merge.job_id, 0, 48)]
    assert term_tables(db) == term_tables(corpus["counted"])


def test_a_transcript_in_two_shards_counts_once(corpus, tmp_path):
    shards = tmp_path / "shards"
    write_shards([{"id": "x", "run": "r", "step": 0, "reasoning": "alpha beta beta"}], shards)
    pq.write_table(pq.read_table(shards / "run=r/step=0/part-0.parquet"), shards / "run=r/step=0/part-1.parquet")
    result = materialize_shards(tmp_path / "s.duckdb", shards, partials=tmp_path / "jobs")
    assert (result.merge.transcripts, result.merge.added) == (1, 1)
    tables = term_tables(tmp_path / "s.duckdb")
    assert [r[3:] for r in tables["doc_terms"]] == [("alpha", 1), ("beta", 2)]


def _bad_shard(path: Path) -> None:
    row = {"transcript_id": None, "run": "zzz", "step": 0, "segments": [{"ordinal": 0, "role": None, "kind": "reasoning",
                                                                         "text": "x", "redacted": False}]}
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=shard_schema().set(0, pa.field("transcript_id", pa.string()))), path)


def test_a_job_that_fails_midway_merges_nothing(corpus, tmp_path):
    shards = tmp_path / "shards"
    subprocess.run(["cp", "-r", str(corpus["shards"]), str(shards)], check=True)
    _bad_shard(shards / "run=zzz" / "step=0" / "part-0.parquet")  # sorted last: read after the good ones
    db = fresh_copy(corpus, tmp_path, count_terms=False)
    before = term_tables(db)
    with pytest.raises(InputError, match=r"run=zzz/step=0/part-0.parquet: row 0 \(run 'zzz', transcript None\): transcript_id is null"):
        materialize_shards(db, shards, partials=tmp_path / "jobs")
    [job_dir] = list((tmp_path / "jobs").iterdir())
    assert len(list((job_dir / "terms").glob("*.parquet"))) == 12 and not (job_dir / SUCCESS).exists()
    with Store.open(db, read_only=False) as store, pytest.raises(InputError, match="no _SUCCESS marker"):
        merge_terms_job(store, job_dir)
    assert term_tables(db) == before
    (shards / "run=zzz" / "step=0" / "part-0.parquet").unlink()
    materialize_shards(db, shards, partials=tmp_path / "jobs")
    assert term_tables(db) == term_tables(corpus["counted"])


@pytest.mark.timeout(60)
def test_a_killed_job_merges_nothing_and_a_rerun_counts_right(corpus, tmp_path):
    db = fresh_copy(corpus, tmp_path, count_terms=False)
    before = term_tables(db)
    jobs = tmp_path / "jobs"
    script = (
        "from cotwatch.analytics.scale.jobs import KernelSpec, run_job\n"
        "from tests._scale_helpers import SlowTermPartials\n"
        f"run_job(KernelSpec('terms', SlowTermPartials), {str(corpus['shards'])!r}, {str(jobs)!r}, job_id='killed')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 40
        while not list((jobs / "killed" / "rows").glob("*.parquet")):
            assert proc.poll() is None and time.monotonic() < deadline, "job ended before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (jobs / "killed" / SUCCESS).exists()
    with Store.open(db, read_only=False) as store, pytest.raises(InputError, match="did not finish"):
        merge_terms_job(store, jobs / "killed")
    assert term_tables(db) == before
    job = run_terms_job(corpus["shards"], jobs)
    with Store.open(db, read_only=False) as store:
        assert merge_terms_job(store, job.dir).merged == 48
    assert term_tables(db) == term_tables(corpus["counted"])


def test_conflicting_content_is_refused_and_nothing_merged(corpus, tmp_path):
    db = fresh_copy(corpus, tmp_path, count_terms=False)
    with Store.open(db) as store:
        victim = store.rows("select id from transcripts order by pk limit 1")[0][0]
    shards = tmp_path / "shards"
    write_shards([{"id": victim, "run": "demo-rl", "step": 0, "reasoning": "not what was stored"},
                  {"id": "brand-new", "run": "demo-rl", "step": 0, "reasoning": "fresh text"}], shards)
    before = term_tables(db)
    with pytest.raises(RejectedRecords) as err:
        materialize_shards(db, shards, partials=tmp_path / "jobs")
    assert err.value.problems == [f"{shards}/run=demo-rl/step=0/part-0.parquet: run 'demo-rl', transcript "
                                  f"{victim!r} is already stored with different content"]
    assert term_tables(db) == before
    with Store.open(db) as store:
        assert store.rows("select count(*) from jobs")[0][0] == 0


def test_job_manifest_names_its_parts(corpus, tmp_path):
    job = run_terms_job(corpus["shards"], tmp_path / "jobs", batch_size=100)
    loaded = Job.load(job.dir, "terms")
    assert loaded.job_id == job.job_id and loaded.transcripts_read == 48 and len(loaded.parts) == 12
    assert sorted(p.name for p in (Path(job.dir) / "terms").iterdir()) == sorted(
        f"part-{p['part']}.parquet" for p in loaded.parts)
    with pytest.raises(InputError, match="a terms job, not a scores job"):
        Job.load(job.dir, "scores")


def test_ray_engine_without_ray_is_one_line_with_the_install_hint(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError) as err:
        materialize_shards(tmp_path / "s.duckdb", corpus["shards"], engine="ray", partials=tmp_path / "jobs")
    assert str(err.value) == "the ray engine needs the ray extra: pip install 'cotwatch[ray]'"


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def test_cli_export_parquet(cli, corpus, tmp_path):
    res = cli("export", "parquet", "--db", corpus["counted"], "--out", tmp_path / "out", "--format", "csv")
    assert res.code == 0, res
    assert res.out.splitlines() == ["out,partitions,files,transcripts", f"{tmp_path / 'out'},3,3,48"]
    res = cli("export", "parquet", "--db", corpus["counted"], "--out", tmp_path / "out")
    assert res.code == 3 and "already holds Parquet files" in res.err


def test_cli_materialize_and_merge_job(corpus, tmp_path):
    from cotwatch.commands.distributed import materialize, merge_job

    db = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    res = runner.invoke(materialize, ["--db", db, "--input", str(corpus["shards"]), "--partials", str(tmp_path / "jobs"),
                                      "--keep-partials", "--format", "json"])
    assert res.exit_code == 0, res.output
    [job_dir] = list((tmp_path / "jobs").iterdir())
    res = runner.invoke(merge_job, ["--db", db, str(job_dir), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[1].endswith(",terms,duckdb,0,0,0,0,true")
    assert term_tables(Path(db)) == term_tables(corpus["counted"])


# ---------------------------------------------------------------------------------------------
# sentence scores over shards (keyword scorer: the real apply path without a model)
# ---------------------------------------------------------------------------------------------
def test_scores_from_shards_equal_classify_apply(corpus, tmp_path):
    from cotwatch.classifiers.shard_scores import apply_shards

    from tests._scale_helpers import KeywordScorer, apply_single_node, score_tables

    single = apply_single_node(fresh_copy(corpus, tmp_path, count_terms=True))
    result = apply_shards(tmp_path / "sharded.duckdb", corpus["shards"], engine="duckdb", batch_size=4,
                          scorer_factory=KeywordScorer, partials=tmp_path / "jobs", keep_partials=True)
    assert (result.merge.transcripts, result.merge.added, result.merge.merged) == (48, 48, 48)
    want = score_tables(single)
    assert score_tables(tmp_path / "sharded.duckdb") == want
    assert any(row[8] for row in want["classifier_sentences"])  # some sentences are flagged
    again = apply_shards(tmp_path / "sharded.duckdb", corpus["shards"], engine="duckdb",
                         scorer_factory=KeywordScorer, partials=tmp_path / "jobs")
    assert (again.merge.merged, again.merge.skipped) == (0, 48)
    with Store.open(tmp_path / "sharded.duckdb", read_only=False) as store:
        from cotwatch.classifiers.shard_scores import merge_scores_job

        assert merge_scores_job(store, tmp_path / "jobs" / result.merge.job_id).already_merged
    assert score_tables(tmp_path / "sharded.duckdb") == want


def test_cli_apply_from_shards_and_its_errors(corpus, tmp_path, monkeypatch):
    import cotwatch.classifiers.shard_scores as shard_scores

    from cotwatch.commands import distributed
    from tests._scale_helpers import KeywordScorer

    real = shard_scores.apply_shards
    monkeypatch.setattr(shard_scores, "apply_shards",
                        lambda *a, **k: real(*a, **{**k, "scorer_factory": KeywordScorer}))
    runner = CliRunner()
    db = str(tmp_path / "s.duckdb")
    res = runner.invoke(distributed.apply, ["--db", db, "--input", str(corpus["shards"]), "--shard-batch", "7",
                                            "--partials", str(tmp_path / "jobs"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    header, row = res.output.splitlines()
    assert header.startswith("job_id,classifier,engine,shards,parts,transcripts,added,scored,skipped")
    assert ",eval_awareness,duckdb,12,12,48,48,48,0," in row
    with pytest.raises(Exception, match="pass --input"):
        distributed.apply_from_shards(db=db, wait=0, fmt="csv", classifier="x", engine="ray", input=None)
    with pytest.raises(Exception, match="--run does not apply"):
        distributed.apply_from_shards(db=db, wait=0, fmt="csv", classifier="x", engine="duckdb",
                                      input=str(corpus["shards"]), run="demo-rl")
