"""SQL surface benchmark: what the public views, the checks, the row cap and the time limit cost.

Builds a synthetic store (cotwatch.analytics.synth.generator) and, in one process, compares against named baselines:

* views vs internal tables — named queries through the `api` views vs the same aggregate written
  directly against the internal tables (`step_term_counts`, `step_token_counts`); results must match;
* run_sql vs a bare DuckDB call — the price of the statement check (parse + tree scan) and Arrow;
* row cap vs full fetch — `select * from reasoning` capped at 1,000 rows vs fetching every row;
* time limit — how long after its deadline an interrupted cross join stops.

Usage: .venv/bin/python bench/sql.py [--per-checkpoint 100] [--checkpoints 12] [--repeat 5]
Timings are medians of --repeat runs on a shared 2-core machine: expect noise of 10-30 %.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._util import print_table  # noqa: E402

BASE_TERM_RATE = """
with totals as (
    select run, step, sum(tokens) as tokens, sum(docs) as docs
    from internal.step_token_counts where scope = 'reasoning' group by run, step
),
hits as (
    select run, step, sum(occurrences) as occurrences, sum(docs_with_term) as docs_with_term
    from internal.step_term_counts where scope = 'reasoning' and term = $term group by run, step
)
select t.run, t.step, coalesce(h.occurrences, 0)::bigint as occurrences, t.tokens::bigint as tokens,
       round(1000.0 * coalesce(h.occurrences, 0) / nullif(t.tokens, 0), 4) as per_1k_tokens,
       coalesce(h.docs_with_term, 0)::bigint as docs_with_term, t.docs::bigint as docs,
       round(coalesce(h.docs_with_term, 0) / nullif(t.docs, 0), 4) as doc_fraction
from totals t left join hits h on h.run = t.run and h.step = t.step
order by t.run, t.step
"""

BASE_VOCAB = """
with per_term as (
    select run, step, term, sum(occurrences) as occurrences
    from internal.step_term_counts where scope = 'reasoning' group by run, step, term
),
vocab as (
    select run, step, count(*) as vocabulary, count(*) filter (where occurrences = 1) as hapax
    from per_term group by run, step
),
totals as (
    select run, step, sum(tokens) as tokens, sum(docs) as docs
    from internal.step_token_counts where scope = 'reasoning' group by run, step
)
select t.run, t.step, t.docs::bigint as docs, t.tokens::bigint as tokens,
       coalesce(v.vocabulary, 0)::bigint as vocabulary, coalesce(v.hapax, 0)::bigint as hapax,
       round(coalesce(v.vocabulary, 0) / nullif(t.tokens, 0), 4) as type_token_ratio
from totals t left join vocab v on v.run = t.run and v.step = t.step
order by t.run, t.step
"""


def median_seconds(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", type=int, default=12)
    parser.add_argument("--per-checkpoint", type=int, default=100, help="transcripts per checkpoint per environment")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from cotwatch.analytics.errors import QueryTimeout
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.sqlapi import (
        get_query,
        list_queries,
        open_sql,
        run_query,
        run_sql,
    )
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    folder = Path(tempfile.mkdtemp(prefix="cotwatch-bench-sql-"))
    jsonl = folder / "run.jsonl"
    t0 = time.perf_counter()
    info = synth.write_jsonl(jsonl, checkpoints=args.checkpoints, transcripts_per_checkpoint=args.per_checkpoint, seed=0)
    with Store.open(folder / "bench.duckdb", read_only=False) as store:
        ingest_paths(store, [jsonl])
    print(f"store: {info['records']:,} transcripts, {info['bytes'] / 1e6:.1f} MB JSONL, built in "
          f"{time.perf_counter() - t0:.1f} s ({folder})")
    last = (args.checkpoints - 1) * 100
    term = synth.RISING_TERMS[0]
    params = {
        "term_rate_by_step": {"term": term}, "phrase_rate_by_step": {"phrase": term},
        "top_rising_terms": {"from_step": 0, "to_step": last},
        "top_falling_terms": {"from_step": 0, "to_step": last}, "transcripts_with_term": {"term": term},
        "compare_runs": {"run_a": "demo-rl", "run_b": "demo-rl"}, "top_terms_at_step": {"step": last},
    }
    rows = []
    with open_sql(folder / "bench.duckdb") as store:
        # 1. views vs internal tables, same answer, both through the plain Store.frame path
        for name, base_sql, base_params in (("term_rate_by_step", BASE_TERM_RATE, {"term": term}),
                                            ("vocabulary_by_step", BASE_VOCAB, {})):
            query = get_query(name)
            bound = {p.name: params.get(name, {}).get(p.name, p.default) for p in query.parameters}
            view_s, view_df = median_seconds(lambda: store.frame(query.sql, bound), args.repeat)
            base_s, base_df = median_seconds(lambda: store.frame(base_sql, base_params), args.repeat)
            assert view_df.equals(base_df), f"{name}: view and baseline disagree"
            rows.append({"measure": f"{name}: api views / internal tables", "seconds": view_s,
                         "baseline_s": base_s, "ratio": view_s / base_s})
            ours, _ = median_seconds(lambda: run_query(store, name, params.get(name, {})), args.repeat)
            rows.append({"measure": f"{name}: run_query / Store.frame", "seconds": ours,
                         "baseline_s": view_s, "ratio": ours / view_s})
        # 2. run_sql (checks + Arrow + polars) vs a bare duckdb fetch of the same rows
        q = "select run, step, environment, tokens, docs from step_totals order by all"
        ours, _ = median_seconds(lambda: run_sql(store, q), args.repeat)
        bare, _ = median_seconds(lambda: store.con.execute(q).fetchall(), args.repeat)
        rows.append({"measure": "run_sql / bare con.execute (small result)", "seconds": ours, "baseline_s": bare,
                     "ratio": ours / bare})
        # 3. row cap: streaming stops early
        capped, (frame, truncated) = median_seconds(lambda: run_sql(store, "select * from reasoning", max_rows=1000), args.repeat)
        assert truncated and frame.height == 1000
        full, _ = median_seconds(lambda: run_sql(store, "select * from reasoning", max_rows=None), args.repeat)
        rows.append({"measure": "reasoning capped at 1,000 rows / full fetch", "seconds": capped, "baseline_s": full,
                     "ratio": capped / full})
        # 4. every named query
        for query in list_queries():
            s, (df, _) = median_seconds(lambda: run_query(store, query.name, params.get(query.name, {})), args.repeat)
            rows.append({"measure": f"query {query.name} ({df.height} rows)", "seconds": s})
        # 5. time limit: how late the interrupt lands
        deadline = 0.5
        t0 = time.perf_counter()
        try:
            run_sql(store, "select count(*) from range(1000000000) a, range(1000000) b where a.range + b.range = 7",
                    timeout=deadline)
        except QueryTimeout:
            pass
        rows.append({"measure": f"timeout {deadline}s: stopped after", "seconds": time.perf_counter() - t0,
                     "baseline_s": deadline, "ratio": (time.perf_counter() - t0) / deadline})
    for row in rows:
        for key in ("seconds", "baseline_s", "ratio"):
            if key in row:
                row[key] = f"{row[key]:.4f}" if key != "ratio" else f"{row[key]:.2f}"
    print_table(rows, ["measure", "seconds", "baseline_s", "ratio"])


if __name__ == "__main__":
    main()
