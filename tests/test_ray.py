"""The Ray engine: the same kernels as the single-node path, equal results, safe reruns.

One local cluster for the session (2 CPUs, no dashboard), tiny shards, a timeout on every test.
Skipped when the ray extra is not installed (pip install 'cotwatch[ray]').
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'cotwatch[ray]')")

from cotwatch.analytics.errors import InputError  # noqa: E402
from cotwatch.analytics.scale.jobs import SUCCESS  # noqa: E402
from cotwatch.analytics.scale.shards import export_parquet  # noqa: E402
from cotwatch.analytics.scale.terms_job import materialize_shards, merge_terms_job  # noqa: E402
from cotwatch.analytics.store.database import Store  # noqa: E402
from cotwatch.analytics.synth import generator as synth  # noqa: E402

from tests._scale_helpers import (  # noqa: E402
    KeywordScorer,
    apply_single_node,
    ingest_store,
    score_tables,
    term_tables,
)
from tests.test_shards import _bad_shard  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster():
    # workers import tests._scale_helpers (the keyword scorer) from the checkout
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ray")
    source = tmp / "run.jsonl"
    synth.write_jsonl(source, checkpoints=2, transcripts_per_checkpoint=5, seed=11, chat_fraction=0.3)
    counted = ingest_store(tmp / "counted.duckdb", source)
    with Store.open(counted) as store:
        export_parquet(store, tmp / "shards", rows_per_file=8)
    return {"source": source, "counted": counted, "shards": tmp / "shards"}


@pytest.mark.timeout(180)
def test_ray_terms_equal_the_single_node_store(ray_cluster, corpus, tmp_path):
    result = materialize_shards(tmp_path / "ray.duckdb", corpus["shards"], engine="ray", batch_size=3,
                                partials=tmp_path / "jobs")
    assert (result.merge.engine, result.merge.transcripts, result.merge.added, result.merge.merged) == ("ray", 40, 40, 40)
    assert term_tables(tmp_path / "ray.duckdb") == term_tables(corpus["counted"])


@pytest.mark.timeout(180)
def test_ray_rerun_counts_nothing_twice(ray_cluster, corpus, tmp_path):
    db = ingest_store(tmp_path / "s.duckdb", corpus["source"], count_terms=False)
    first = materialize_shards(db, corpus["shards"], engine="ray", partials=tmp_path / "jobs", keep_partials=True)
    again = materialize_shards(db, corpus["shards"], engine="ray", partials=tmp_path / "jobs")
    assert (first.merge.merged, again.merge.merged, again.merge.skipped) == (40, 0, 40)
    with Store.open(db, read_only=False) as store:
        assert merge_terms_job(store, tmp_path / "jobs" / first.merge.job_id).already_merged
    assert term_tables(db) == term_tables(corpus["counted"])


@pytest.mark.timeout(180)
def test_ray_job_failing_midway_merges_nothing(ray_cluster, corpus, tmp_path):
    shards = tmp_path / "shards"
    subprocess.run(["cp", "-r", str(corpus["shards"]), str(shards)], check=True)
    _bad_shard(shards / "run=zzz" / "step=0" / "part-0.parquet")
    db = ingest_store(tmp_path / "s.duckdb", corpus["source"], count_terms=False)
    before = term_tables(db)
    with pytest.raises(InputError, match="transcript_id is null"):
        materialize_shards(db, shards, engine="ray", partials=tmp_path / "jobs")
    [job_dir] = list((tmp_path / "jobs").iterdir())
    assert not (job_dir / SUCCESS).exists()
    with Store.open(db, read_only=False) as store, pytest.raises(InputError, match="no _SUCCESS marker"):
        merge_terms_job(store, job_dir)
    assert term_tables(db) == before
    (shards / "run=zzz" / "step=0" / "part-0.parquet").unlink()
    materialize_shards(db, shards, engine="ray", partials=tmp_path / "jobs")
    assert term_tables(db) == term_tables(corpus["counted"])


@pytest.mark.timeout(180)
def test_ray_scores_equal_classify_apply(ray_cluster, corpus, tmp_path):
    from cotwatch.classifiers.shard_scores import apply_shards

    single = apply_single_node(ingest_store(tmp_path / "single.duckdb", corpus["source"]))
    # an actor pool of 2 at half a CPU each: with num_cpus=1 per actor, 2 cores can hang
    result = apply_shards(tmp_path / "ray.duckdb", corpus["shards"], engine="ray", concurrency=2, num_cpus=0.5,
                          batch_size=4, scorer_factory=KeywordScorer, partials=tmp_path / "jobs")
    assert (result.merge.engine, result.merge.transcripts, result.merge.merged) == ("ray", 40, 40)
    assert score_tables(tmp_path / "ray.duckdb") == score_tables(single)
