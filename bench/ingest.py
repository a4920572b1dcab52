"""JSONL ingest against DuckDB itself, in one run, at several sizes: what the user waits for.

For each size (MB of JSONL from ``cotwatch.analytics.synth.generator``) two corpora are written:
*plain* (``reasoning``/``output`` fields) and *chat* (every record a ``messages`` list whose
assistant turn holds a reasoning part and a text part). Every variant runs in a fresh process on a
fresh store; the figures are wall seconds, MB/s of JSONL and the process's peak RSS (VmHWM).

Store only (per corpus):

- ``read_json``: DuckDB's ``create table raw as select * from read_json(file)`` into a fresh
  database file — parsing and writing, no validation, no segments, no hashing, no dedup;
- ``cotwatch ingest --defer-terms``: validation, segments, content hashes, dedup, one
  transaction, the store's tables.

End to end, from the plain JSONL to the first term series (the rate of one term per step):

- ``naive DuckDB``: ``read_json`` + ``regexp_extract_all`` + ``unnest`` + ``GROUP BY`` — per
  transcript counts of every token, then per step, then the series of the term;
- ``cotwatch``: ``ingest`` (term counts included) + ``term_rates(store, [term])``.

The same path as a terminal user takes it, timed as whole processes (interpreter start and
every import included): the naive script run by ``python -c`` against ``cotwatch ingest FILE``
followed by ``cotwatch terms track TERM`` (two processes; peak RSS is the larger of the two).

Each (baseline, cotwatch) pair runs ``--repeat`` rounds back to back; the best of each is
compared and every round is printed.

    flock /tmp/cotwatch-bench.lock .venv/bin/python bench/ingest.py --sizes 50,100,200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERN_RE2 = r"[\pL\pN]+(?:'[\pL\pN]+)*"

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})

    def peak_mb():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    extra = {{}}
    t0 = time.perf_counter()
    {body}
    seconds = time.perf_counter() - t0
    print("__RESULT__" + json.dumps({{"seconds": seconds, "peak_rss_mb": peak_mb(), **extra}}))
    """
)

READ_JSON = """
import duckdb
con = duckdb.connect({db!r})
con.execute("create table raw as select * from read_json({path!r}, format='newline_delimited')")
extra["records"] = con.execute("select count(*) from raw").fetchall()[0][0]
con.close()
"""

INGEST = """
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.ingest.loading import ingest_paths
with Store.open({db!r}, read_only=False) as store:
    [res] = ingest_paths(store, [{path!r}], count_terms={count_terms})
    extra["records"] = res.added
    extra["python_lines"] = res.python_lines
    if {series!r}:
        from cotwatch.analytics.terms.rates import term_rates
        series = term_rates(store, [{term!r}])
        extra["series_rows"] = series.height
        extra["occurrences"] = int(series["occurrences"].sum())
"""

NAIVE = """
import duckdb
con = duckdb.connect({db!r})
con.execute("create table raw as select * from read_json({path!r}, format='newline_delimited')")
con.execute({naive_per_doc!r})
con.execute("create temp table per_step as select step, term, sum(n) as occurrences, count(*) as docs from per_doc group by all")
rows = con.execute({naive_series!r}, {{"term": {term!r}}}).fetchall()
extra["records"] = con.execute("select count(*) from raw").fetchall()[0][0]
extra["series_rows"] = len(rows)
extra["occurrences"] = int(sum(r[1] for r in rows))
con.close()
"""

APOSTROPHE = "''''"  # the SQL literal holding one apostrophe
NAIVE_PER_DOC = (
    "create temp table per_doc as select id, step, term, count(*) as n from ("
    f"select id, step, unnest(regexp_extract_all(lower(replace(reasoning, '\u2019', {APOSTROPHE})), '"
    + PATTERN_RE2.replace("'", "''") + "')) as term from raw) group by all"
)
NAIVE_SERIES = (
    "select s.step, coalesce(t.occurrences, 0) as occurrences, s.tokens "
    "from (select step, sum(occurrences) as tokens from per_step group by step) s "
    "left join per_step t on t.step = s.step and t.term = $term order by s.step"
)


def measure(body: str, **fmt) -> dict:
    """Run ``body`` in a fresh interpreter; seconds (after imports of the body's own) and VmHWM."""
    code = _CHILD.format(root=str(ROOT), body=textwrap.dedent(body).format(**fmt).strip())
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    line = next(line for line in proc.stdout.splitlines() if line.startswith("__RESULT__"))
    return json.loads(line.removeprefix("__RESULT__"))


def measure_processes(commands: list[list[str]]) -> dict:
    """Wall seconds of ``commands`` run one after the other (each a fresh process, its output
    discarded) and the largest peak RSS among them (os.wait4's rusage of that child)."""
    import time

    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    peak_kb, start = 0, time.perf_counter()
    for command in commands:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"benchmark step failed: {' '.join(command)}\n{proc.stderr.read().decode()[-3000:]}")
        proc.stderr.close()
        peak_kb = max(peak_kb, usage.ru_maxrss)
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": peak_kb / 1024}


def _generate(path: Path, size: float, chat: bool) -> dict:
    from cotwatch.analytics.synth.generator import generate_corpus

    params = {"chat_fraction": 1.0, "chat_formats": ("reasoning",)} if chat else {}
    return generate_corpus(path, size, seed=7, **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,100,200", help="corpus sizes in MB (comma-separated)")
    parser.add_argument("--term", default="wait", help="the term of the first series")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: plain,chat,e2e,cli")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds; each round runs a pair (baseline, cotwatch) back to back and the best "
                             "of each is compared (the machine is shared: a round can land on a busy moment)")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    rows = []

    def once(body: str, path: Path, tmp: Path, **fmt) -> dict:
        db = tmp / "bench.duckdb"
        try:
            if fmt.get("cli"):
                cotwatch = str(Path(sys.executable).with_name("cotwatch"))
                return measure_processes([[cotwatch, "ingest", str(path), "--db", str(db)],
                                          [cotwatch, "terms", "track", args.term, "--db", str(db)]])
            if fmt.get("process"):
                code = _CHILD.format(root=str(ROOT), body=textwrap.dedent(body).format(
                    db=str(db), path=str(path), term=args.term, naive_per_doc=NAIVE_PER_DOC,
                    naive_series=NAIVE_SERIES).strip())
                return measure_processes([[sys.executable, "-c", code]])
            return measure(body, db=str(db), path=str(path), term=args.term, naive_per_doc=NAIVE_PER_DOC,
                           naive_series=NAIVE_SERIES, **fmt)
        finally:
            for f in (db, Path(f"{db}.wal")):
                f.unlink(missing_ok=True)

    def pair(corpus: str, path: Path, tmp: Path, baseline: tuple[str, str, dict], ours: tuple[str, str, dict]):
        runs: dict[str, list[dict]] = {baseline[0]: [], ours[0]: []}
        for _ in range(args.repeat):
            for name, body, fmt in (baseline, ours):
                runs[name].append(once(body, path, tmp, **fmt))
        mb = path.stat().st_size / 1e6
        best = {name: min(results, key=lambda r: r["seconds"]) for name, results in runs.items()}
        for name, _, _ in (baseline, ours):
            r = best[name]
            row = {"MB": round(mb, 1), "corpus": corpus, "variant": name, "seconds": round(r["seconds"], 2),
                   "MB/s": round(mb / r["seconds"], 1),
                   "peak RSS MB": round(max(x["peak_rss_mb"] for x in runs[name])),
                   "vs baseline": round(best[baseline[0]]["seconds"] / r["seconds"], 2),
                   "all runs s": ", ".join(f"{x['seconds']:.2f}" for x in runs[name]),
                   **{k: v for k, v in r.items() if k not in ("seconds", "peak_rss_mb")}}
            rows.append(row)
            print(json.dumps(row), flush=True)

    with tempfile.TemporaryDirectory(prefix="cotwatch-bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        for size in [float(s) for s in args.sizes.split(",")]:
            for corpus in ("plain", "chat"):
                if corpus in skip and (corpus == "chat" or "e2e" in skip):
                    continue
                path = tmp / f"{corpus}-{size:g}.jsonl"
                _generate(path, size, corpus == "chat")
                if corpus not in skip:
                    pair(corpus, path, tmp, ("read_json (baseline)", READ_JSON, {}),
                         ("cotwatch ingest --defer-terms", INGEST, {"count_terms": False, "series": False}))
                if corpus == "plain" and "e2e" not in skip:
                    pair(corpus, path, tmp, ("naive DuckDB to first series (baseline)", NAIVE, {}),
                         ("cotwatch ingest + first series", INGEST, {"count_terms": True, "series": True}))
                if corpus == "plain" and "cli" not in skip:
                    pair(corpus, path, tmp, ("naive DuckDB script, whole process (baseline)", NAIVE, {"process": True}),
                         ("CLI: cotwatch ingest, then cotwatch terms track", "", {"cli": True}))
                path.unlink()
    print()
    columns = ["MB", "corpus", "variant", "seconds", "MB/s", "peak RSS MB", "vs baseline", "all runs s"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
