"""Term counting over Parquet shards: single-node engine (1 and 2 processes) vs Ray local, by size.

For each corpus size (synthetic RL runs from ``analytics.synth``, written straight to shards with
``analytics.shards.write_shards``) and each engine configuration, one fresh process runs
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
    from analytics.shard_terms import materialize_shards, merge_terms_job
    from analytics.store import Store
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
    from analytics.shards import write_shards
    from analytics.synth import generate_corpus

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
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cotwatch-scale-") as tmp_name:
        tmp = Path(tmp_name)
        for size in [float(s) for s in args.sizes.split(",")]:
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
    base = {r["size_mb"]: r for r in rows if r["config"] == "duckdb x1"}
    smallest = {}
    for r in rows:
        smallest.setdefault(r["config"], r["s_per_mb"])
        r["per_mb_vs_smallest"] = r["s_per_mb"] / smallest[r["config"]]
        b = base.get(r["size_mb"])
        r["speedup_vs_x1"] = b["job_s"] / r["job_s"] if b else None
    print("term counting over shards (2 cores, shared machine: timings are noisy)")
    print_table(rows, ["config", "size_mb", "parquet_mb", "transcripts", "tokens", "startup_s", "job_s", "merge_s",
                       "counts_merge_s", "wall_s", "mb_per_s", "mtok_per_s_worker", "speedup_vs_x1",
                       "per_mb_vs_smallest", "peak_tree_mb", "partials_mb", "doc_terms_rows"])
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
