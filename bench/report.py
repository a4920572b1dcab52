"""Report size and time against the number of transcripts: aggregate-before-charting vs a naive page.

Builds stores of increasing size and writes the default report for each, printing index.html
bytes, the whole report directory's bytes and the wall time. Baseline, in the same run: the naive
notebook habit — an Altair chart over the *per-transcript* frame (one row per transcript, Vega-Lite
aggregating in the browser), saved with ``chart.save(inline=True)``; its size grows with the
transcripts, ours does not.

Sizes: two synthetic runs through the real ingest (every section that has its analysis installed),
plus a 1,000,000-transcript store whose transcripts and step totals are written directly with SQL
(only the store-backed sections, overview and environments, have data there: term counts and
classifier scores for a million generated transcripts would take hours on 2 cores).

    .venv/bin/python bench/report.py [--quick]

Timings on this 2-core machine are noisy (several engineers run jobs at once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def synthetic_store(root: Path, per_checkpoint: int) -> Path:
    from cotwatch.demo import build_demo_store

    out = root / f"synth-{per_checkpoint}"
    return build_demo_store(out, checkpoints=12, transcripts_per_checkpoint=per_checkpoint, seed=0)


def sql_store(root: Path, transcripts: int) -> Path:
    """A store with ``transcripts`` transcripts (12 steps x 4 environments) written with SQL."""
    from cotwatch.analytics.store.database import Store

    path = root / f"sql-{transcripts}.duckdb"
    with Store.open(path, read_only=False) as store, store.atomic() as con:
        con.execute("insert into runs (run) values ('big-rl')")
        con.execute("""
            insert into transcripts (pk, id, run, step, environment, epoch, content_hash, covert_action, score)
            select i, 't' || i, 'big-rl', (i % 12) * 100, 'env' || ((i // 12) % 4), 1, md5(i::varchar),
                   hash(i) % 100 < 20, (hash(i * 7) % 1000) / 1000.0
            from range($n) r(i)""", {"n": transcripts})
        con.execute("insert into checkpoints select distinct run, step, null from transcripts")
        con.execute("""
            insert into step_token_counts (run, step, environment, scope, transcripts, docs, tokens, sum_tokens2)
            select run, step, environment, 'reasoning', count(*), count(*), count(*) * 250, count(*) * 62500
            from transcripts group by all""")
    return path


def naive_page(store_path: Path, out: Path) -> int:
    """Baseline: per-transcript rows into an Altair chart, aggregated by Vega-Lite in the browser."""
    import altair as alt
    from cotwatch.analytics.store.database import Store

    with Store.open(store_path) as store:
        df = store.frame("select run, step, environment, covert_action::int as covert, score from api.transcripts")
    alt.data_transformers.disable_max_rows()
    chart = alt.Chart(df).mark_line().encode(x="step:Q", y="mean(covert):Q", color="environment:N")
    chart.save(str(out), inline=True)
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (no 1M store)")
    args = parser.parse_args()
    from cotwatch.reports.write import write_report

    root = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        cases = [("synthetic", 25), ("synthetic", 250)] + ([] if args.quick else [("sql", 1_000_000)])
        print(f"{'store':<12}{'transcripts':>12}{'sections':>10}{'index.html':>14}{'report dir':>13}"
              f"{'seconds':>9}{'naive page':>14}{'naive/ours':>11}")
        for kind, size in cases:
            t0 = time.perf_counter()
            store = synthetic_store(root, size) if kind == "synthetic" else sql_store(root, size)
            build_s = time.perf_counter() - t0
            out = root / f"report-{kind}-{size}"
            t0 = time.perf_counter()
            write_report(store, None, out)
            seconds = time.perf_counter() - t0
            import json

            meta = json.loads((out / "report.json").read_text())
            naive = naive_page(store, root / f"naive-{kind}-{size}.html")
            page = meta["index_html_bytes"]
            print(f"{kind:<12}{meta['transcripts']:>12,}{len(meta['sections']):>10}{page:>14,}{_dir_bytes(out):>13,}"
                  f"{seconds:>9.1f}{naive:>14,}{naive / page:>11.1f}", flush=True)
            print(f"{'':<12}  (store built in {build_s:.1f} s; sections: {', '.join(s['name'] for s in meta['sections'])})",
                  flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"cores: {os.cpu_count()} (shared; timings are noisy)")


if __name__ == "__main__":
    main()
