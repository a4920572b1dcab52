"""Term counting over Parquet shards: single-node engine (1 and 2 processes) vs Ray local, by size.

For each corpus size (synthetic RL runs from ``cotwatch.analytics.synth.generator``, written straight to shards with
``cotwatch.analytics.scale.shards.write_shards``) and each engine configuration, one fresh process runs
``materialize_shards`` into a fresh store; the parent samples the RSS of that process *and all its
descendants* (Ray's raylet and workers included) every 0.1 s. Reported per run:

- ``job_s`` (kernel over every batch, partials written), ``merge_s`` (the one-transaction merge
  into a fresh store: transcripts + segments inserted, counts appended) and ``counts_merge_s``
  (the same job merged again into a store that already holds the transcripts: counts only);
- ``startup_s`` (Ray only: ``ray.init`` of a local 2-CPU cluster);
- MB/s of uncompressed text, tokens/s, and per worker; peak tree RSS;
- the per-MB cost at each size relative to the smallest (1.00 = perfectly linear).

Baseline: ``duckdb x1`` — the same kernel in one process (what ``cotwatch terms materialize``
does on one machine). Ratios are ``baseline job_s / variant job_s``.

    .venv/bin/python bench/scale.py --sizes 50,100,200

With ``--scores-artifact PATH`` (a trained ``.skops``, e.g. from ``cotwatch classify train``) it
also scores the reasoning sentences of a smaller run (``--scores-transcripts``) three ways:
``classify apply`` on the store (baseline), the shard job on the single-node engine (1 process),
and on Ray with 2 actors at 0.5 CPU each — sentences/s overall and per worker.

    .venv/bin/python bench/scale.py --sizes 50 --scores-artifact ~/.cotwatch/classifiers/eval_awareness.skops
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._util import print_table  # noqa: E402

CONFIGS = {
    "duckdb x1": {"engine": "duckdb", "workers": 1},
    "duckdb x2": {"engine": "duckdb", "workers": 2},
    "ray x2": {"engine": "ray", "workers": 1},
}

CHILD = textwrap.dedent(
    """
    import json, logging, sys, time
    sys.path.insert(0, {repo!r})
    from cotwatch.analytics.scale.terms_job import materialize_shards, merge_terms_job
    from cotwatch.analytics.store.database import Store
    out = {{}}
    if {engine!r} == "ray":
        import ray
        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        out["startup_s"] = time.perf_counter() - t
    res = materialize_shards({db!r}, {shards!r}, engine={engine!r}, workers={workers}, partials={jobs!r},
                             keep_partials=True)
    out.update(job_s=res.job_seconds, merge_s=res.merge_seconds, transcripts=res.merge.transcripts,
               parts=res.parts)
    with Store.open({db!r}, read_only=False) as store:
        out["tokens"] = store.rows("select sum(tokens) from doc_tokens")[0][0]
        out["doc_terms_rows"] = store.rows("select count(*) from doc_terms")[0][0]
        # the same partials again, into a store that already holds the transcripts: counts only
        store.script("delete from doc_term_lists; delete from doc_tokens; delete from step_term_counts; "
                     "delete from step_token_counts; delete from jobs;")
        t = time.perf_counter()
        merge_terms_job(store, res.job_dir)
        out["counts_merge_s"] = time.perf_counter() - t
    import pathlib
    out["partials_mb"] = sum(p.stat().st_size for p in pathlib.Path(res.job_dir).rglob("*.parquet")) / 1e6
    print("__RESULT__" + json.dumps(out))
    """
)


SCORE_BASELINE = textwrap.dedent(
    """
    import json, sys, time, warnings
    sys.path.insert(0, {repo!r})
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply
    with Store.open({db!r}, read_only=False) as store:
        ingest_paths(store, [{jsonl!r}], count_terms=False)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = apply(store, {artifact!r}, device="cpu")
        sentences, candidates = store.rows("select count(*), count(*) filter (where stage = 2) from classifier_sentences")[0]
        out = {{"job_s": time.perf_counter() - t, "merge_s": 0.0, "sentences": sentences,
               "candidates": candidates, "unique_candidates": stats.candidates, "transcripts": stats.transcripts}}
    print("__RESULT__" + json.dumps(out))
    """
)

SCORE_SHARDS = textwrap.dedent(
    """
    import json, logging, sys, time
    sys.path.insert(0, {repo!r})
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.shard_scores import apply_shards
    out = {{}}
    if {engine!r} == "ray":
        import ray
        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        out["startup_s"] = time.perf_counter() - t
    res = apply_shards({db!r}, {shards!r}, {artifact!r}, engine={engine!r}, device="cpu", batch_size=300,
                       partials={jobs!r}, concurrency=2, num_cpus=0.5)
    with Store.open({db!r}) as store:
        sentences, candidates = store.rows("select count(*), count(*) filter (where stage = 2) from classifier_sentences")[0]
    out.update(job_s=res.job_seconds, merge_s=res.merge_seconds, sentences=sentences, candidates=candidates,
               transcripts=res.merge.transcripts)
    print("__RESULT__" + json.dumps(out))
    """
)


def bench_scores(tmp: Path, artifact: str, transcripts: int) -> list[dict]:
    """Sentence scoring: classify apply (store) vs the shard job on duckdb x1 and Ray (2 actors)."""
    from cotwatch.analytics.scale.shards import write_shards
    from cotwatch.analytics.synth.generator import generate_run, write_jsonl

    per = max(1, transcripts // 48)  # 12 checkpoints x 4 environments
    jsonl = tmp / "scores.jsonl"
    write_jsonl(jsonl, run="score-rl", transcripts_per_checkpoint=per, seed=3)
    shards = tmp / "scores-shards"
    write_shards(generate_run(run="score-rl", transcripts_per_checkpoint=per, seed=3), shards, rows_per_file=300)
    rows = []
    for name, template, engine, workers in (("classify apply (store)", SCORE_BASELINE, None, 1),
                                            ("shards duckdb x1", SCORE_SHARDS, "duckdb", 1),
                                            ("shards ray 2 actors", SCORE_SHARDS, "ray", 2)):
        db = tmp / f"scores-{engine}.duckdb"
        code = template.format(repo=str(REPO), db=str(db), jsonl=str(jsonl), shards=str(shards),
                               jobs=str(tmp / "score-jobs"), artifact=artifact, engine=engine)
        r = run_child(code)
        r.update(config=name, sentences_per_s=r["sentences"] / r["job_s"],
                 sentences_per_s_worker=r["sentences"] / r["job_s"] / workers,
                 candidates_per_s_worker=r["candidates"] / r["job_s"] / workers)
        rows.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
        for f in tmp.glob(f"scores-{engine}.duckdb*"):
            f.unlink()
    base = rows[0]["job_s"]
    for r in rows:
        r["speedup_vs_apply"] = base / r["job_s"]
    return rows


def tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_child(code: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter()
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{err[-3000:]}")
    line = next(ln for ln in out.splitlines() if ln.startswith("__RESULT__"))
    return {**json.loads(line.removeprefix("__RESULT__")), "wall_s": wall, "peak_tree_mb": peak / 1e6}


def make_shards(tmp: Path, size: float) -> tuple[Path, float, float]:
    """A synthetic run of ``size`` MB of JSONL as shards; (folder, text MB, Parquet MB)."""
    from cotwatch.analytics.scale.shards import write_shards
    from cotwatch.analytics.synth.generator import generate_corpus

    jsonl = tmp / f"corpus-{size:g}.jsonl"
    info = generate_corpus(jsonl, size, seed=7)
    shards = tmp / f"shards-{size:g}"

    def records():
        with open(jsonl, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)

    write_shards(records(), shards, rows_per_file=5000)
    jsonl.unlink()
    parquet_mb = sum(p.stat().st_size for p in shards.rglob("*.parquet")) / 1e6
    return shards, info["bytes"] / 1e6, parquet_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,100,200", help="corpus sizes in MB of JSONL text (comma-separated)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"any of: {', '.join(CONFIGS)}")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--scores-artifact", default=None, help="also benchmark sentence scoring with this artifact")
    parser.add_argument("--scores-transcripts", type=int, default=1200, help="transcripts for the scoring benchmark")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    rows, score_rows = [], []
    with tempfile.TemporaryDirectory(prefix="cotwatch-scale-") as tmp_name:
        tmp = Path(tmp_name)
        if args.scores_artifact:
            score_rows = bench_scores(tmp, args.scores_artifact, args.scores_transcripts)
        for size in [float(s) for s in args.sizes.split(",") if s.strip() and configs]:
            shards, text_mb, parquet_mb = make_shards(tmp, size)
            for name in configs:
                cfg = CONFIGS[name]
                db, jobs = tmp / f"{name.replace(' ', '')}-{size:g}.duckdb", tmp / "jobs"
                code = CHILD.format(repo=str(REPO), db=str(db), shards=str(shards), jobs=str(jobs), **cfg)
                r = run_child(code)
                workers = 2 if name != "duckdb x1" else 1
                r.update(config=name, size_mb=round(text_mb, 1), parquet_mb=round(parquet_mb, 1),
                         mb_per_s=text_mb / r["job_s"], mtok_per_s=r["tokens"] / 1e6 / r["job_s"],
                         mtok_per_s_worker=r["tokens"] / 1e6 / r["job_s"] / workers,
                         s_per_mb=(r["job_s"] + r["merge_s"]) / text_mb)
                rows.append(r)
                print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}),
                      file=sys.stderr, flush=True)
                for f in tmp.glob(f"{name.replace(' ', '')}-{size:g}.duckdb*"):
                    f.unlink()
                subprocess.run(["rm", "-rf", str(jobs)], check=True)
            subprocess.run(["rm", "-rf", str(shards)], check=True)
    if score_rows:
        print("sentence scoring (CPU, cascade on; 2 cores, shared machine: timings are noisy)")
        print_table(score_rows, ["config", "transcripts", "sentences", "candidates", "startup_s", "job_s", "merge_s",
                                 "wall_s", "sentences_per_s", "sentences_per_s_worker", "candidates_per_s_worker",
                                 "speedup_vs_apply", "peak_tree_mb"])
    base = {r["size_mb"]: r for r in rows if r["config"] == "duckdb x1"}
    smallest = {}
    for r in rows:
        smallest.setdefault(r["config"], r["s_per_mb"])
        r["per_mb_vs_smallest"] = r["s_per_mb"] / smallest[r["config"]]
        b = base.get(r["size_mb"])
        r["speedup_vs_x1"] = b["job_s"] / r["job_s"] if b else None
    if rows:
        print("term counting over shards (2 cores, shared machine: timings are noisy)")
        print_table(rows, ["config", "size_mb", "parquet_mb", "transcripts", "tokens", "startup_s", "job_s", "merge_s",
                           "counts_merge_s", "wall_s", "mb_per_s", "mtok_per_s_worker", "speedup_vs_x1",
                           "per_mb_vs_smallest", "peak_tree_mb", "partials_mb", "doc_terms_rows"])
    if args.json:
        Path(args.json).write_text(json.dumps({"terms": rows, "scores": score_rows}, indent=1))


if __name__ == "__main__":
    main()
