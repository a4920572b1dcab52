"""JSONL ingest throughput against DuckDB's own ``read_json`` of the same file, in one run.

For each corpus size (synthetic RL runs from ``cotwatch.analytics.synth.generator``), each variant runs in a fresh
process on a fresh store; we report MB/s, transcripts/s and peak RSS, and the ratio of cotwatch's
rate to the baseline's:

- baseline: ``create table raw as select * from read_json(file, format='newline_delimited')`` —
  DuckDB parsing the file into a plain table (no validation, no segments, no dedup);
- cotwatch ingest (store only): validation, segments, content hashing, dedup, one transaction
  (``ingest --defer-terms``);
- cotwatch ingest + terms: the same plus the materialized term counts (what plain
  ``cotwatch ingest`` does).

    .venv/bin/python bench/ingest.py --sizes 25,50,100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._util import measure, print_table  # noqa: E402

BASELINE = """
import duckdb
con = duckdb.connect({db!r})
con.execute("create table raw as select * from read_json({path!r}, format='newline_delimited')")
extra["records"] = con.execute("select count(*) from raw").fetchall()[0][0]
con.close()
"""

COTWATCH = """
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.ingest.loading import ingest_paths
with Store.open({db!r}, read_only=False) as store:
    [res] = ingest_paths(store, [{path!r}], count_terms={count_terms})
extra["records"] = res.added
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="25,50,100", help="corpus sizes in MB (comma-separated)")
    parser.add_argument("--no-terms", action="store_true", help="skip the ingest + terms variant")
    args = parser.parse_args()
    from cotwatch.analytics.synth.generator import generate_corpus

    rows = []
    with tempfile.TemporaryDirectory(prefix="cotwatch-bench-") as tmp:
        for size in [float(s) for s in args.sizes.split(",")]:
            path = Path(tmp) / f"corpus-{size:g}.jsonl"
            info = generate_corpus(path, size, seed=7)
            mb = info["bytes"] / 1e6
            variants = [("duckdb read_json (baseline)", BASELINE, {}),
                        ("cotwatch ingest (store only)", COTWATCH, {"count_terms": False})]
            if not args.no_terms:
                variants.append(("cotwatch ingest + terms", COTWATCH, {"count_terms": True}))
            base_rate = None
            for name, body, fmt in variants:
                db = Path(tmp) / f"{name.split()[0]}-{size:g}-{len(rows)}.duckdb"
                r = measure(body, db=str(db), path=str(path), **fmt)
                rate = mb / r["seconds"]
                base_rate = base_rate or rate
                rows.append({"MB": round(mb, 1), "variant": name, "seconds": r["seconds"], "MB/s": rate,
                             "transcripts/s": r["records"] / r["seconds"], "peak RSS MB": r["peak_rss_mb"], "worker RSS MB": r["peak_child_rss_mb"],
                             "ratio vs baseline": rate / base_rate})
                db.unlink(missing_ok=True)
            path.unlink()
    print_table(rows, ["MB", "variant", "seconds", "MB/s", "transcripts/s", "peak RSS MB", "worker RSS MB", "ratio vs baseline"])


if __name__ == "__main__":
    main()
