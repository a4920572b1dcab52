"""Report size and time against the number of transcripts and checkpoints.

Builds stores of increasing size and writes the default report for each, printing index.html
bytes, the whole report directory's bytes, the evidence rows embedded and the wall time. Two
baselines, in the same run:

* the naive notebook habit — an Altair chart over the *per-transcript* frame (one row per
  transcript, Vega-Lite aggregating in the browser), saved with ``chart.save(inline=True)``; its
  size grows with the transcripts, ours does not;
* the same report without its evidence panel (``[sections.evidence] enabled = false``): the ratio
  is what the drill-down (KWIC lines per term × step, flagged sentences per step × environment)
  costs in page bytes and in seconds.

Sizes: two synthetic runs through the real ingest (every section that has its analysis installed),
a long run (200 checkpoints: the evidence budget at work), ``--demo DIR`` for a demo store with
classifier results (``cotwatch demo``), plus a 1,000,000-transcript store whose transcripts and step totals are written directly with SQL
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


def synthetic_store(root: Path, per_checkpoint: int, checkpoints: int = 12) -> Path:
    from cotwatch.demo import build_demo_store

    out = root / f"synth-{checkpoints}-{per_checkpoint}"
    return build_demo_store(out, checkpoints=checkpoints, transcripts_per_checkpoint=per_checkpoint, seed=0)


def no_evidence_spec(root: Path) -> Path:
    """The default spec with the evidence panel switched off (the drill-down baseline)."""
    from cotwatch.reports.spec import default_spec_path

    text = default_spec_path().read_text(encoding="utf-8")
    path = root / "no-evidence.toml"
    path.write_text(text.replace("[sections.evidence]\n", "[sections.evidence]\nenabled = false\n"), encoding="utf-8")
    return path


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
        df = store.frame("select run, step, environment, covert_action::int as covert, score from main.transcripts")
    alt.data_transformers.disable_max_rows()
    chart = alt.Chart(df).mark_line().encode(x="step:Q", y="mean(covert):Q", color="environment:N")
    chart.save(str(out), inline=True)
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (no long run, no 1M store)")
    parser.add_argument("--demo", type=Path, help="also a demo store with classifier results (its cotwatch.duckdb)")
    args = parser.parse_args()
    import json

    from cotwatch.reports.write import write_report

    root = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        plain = no_evidence_spec(root)
        cases = [("synthetic", 25, 12), ("synthetic", 250, 12)]
        if not args.quick:
            cases += [("long run", 2, 200), ("sql", 1_000_000, 12)]
        if args.demo:
            cases.append(("demo", None, None))
        print(f"{'store':<11}{'transcripts':>12}{'steps':>6}{'sections':>9}{'index.html':>12}{'report dir':>12}"
              f"{'evidence':>9}{'seconds':>8}{'no-evid. s':>11}{'page x':>7}{'time x':>7}{'naive page':>13}{'naive/ours':>11}")
        for kind, size, steps in cases:
            t0 = time.perf_counter()
            if kind == "demo":
                store = args.demo
            elif kind == "sql":
                store = sql_store(root, size)
            else:
                store = synthetic_store(root, size, steps)
            build_s = time.perf_counter() - t0
            out, base = root / f"report-{kind}-{size}", root / f"plain-{kind}-{size}"
            t0 = time.perf_counter()
            write_report(store, None, out)
            seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_report(store, plain, base)
            plain_s = time.perf_counter() - t0
            meta = json.loads((out / "report.json").read_text())
            plain_meta = json.loads((base / "report.json").read_text())
            naive = naive_page(store, root / f"naive-{kind}-{size}.html")
            page = meta["index_html_bytes"]
            evidence = meta["evidence"]["kwic_rows"] + meta["evidence"]["sentence_rows"]
            n_steps = len({row["step"] for row in _csv_rows(out / "data" / "overview.csv")})
            print(f"{kind:<11}{meta['transcripts']:>12,}{n_steps:>6}{len(meta['sections']):>9}{page:>12,}"
                  f"{_dir_bytes(out):>12,}{evidence:>9,}{seconds:>8.1f}{plain_s:>11.1f}"
                  f"{page / plain_meta['index_html_bytes']:>7.2f}{seconds / plain_s:>7.2f}{naive:>13,}{naive / page:>11.1f}",
                  flush=True)
            print(f"{'':<11}  (store ready in {build_s:.1f} s; sections: {', '.join(s['name'] for s in meta['sections'])})",
                  flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"cores: {os.cpu_count()} (shared; timings are noisy)")


def _csv_rows(path: Path) -> list[dict]:
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


if __name__ == "__main__":
    main()
