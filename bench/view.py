"""Benchmark: how long a user of `cotwatch view` waits for each page on a large store.

Every viewer time is one HTTP GET through a real server on 127.0.0.1, from sending the request to
the last byte of the page (median of --repeat runs). Baselines, measured in the same run on the
same store, are what one would write without the viewer's windows:

* term search  → ``cotwatch.analytics.terms.kwic(store, term, limit=75)`` (the library's KWIC:
  finds its transcripts by one pass over every term list, ordered by run, step, id);
* phrase search → one query for the transcripts whose term lists hold every word (a full pass,
  ordered, first 200), then the same exact check on their text;
* text search  → one query over every reasoning segment, ``strpos(lower(text), needle)``,
  ordered by transcript key, first 25.

    flock /tmp/cotwatch-bench.lock .venv/bin/python bench/view.py --db /tmp/viewer-bench/big.duckdb

With no --db, a store of --transcripts synthetic transcripts is generated and ingested first
(``cotwatch.analytics.synth``; 1,000,000 takes a few minutes and ~5 GB of disk).
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote


def build_store(path: Path, transcripts: int) -> Path:
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    per = max(1, transcripts // (synth.DEFAULT_CHECKPOINTS * len(synth.DEFAULT_ENVIRONMENTS)))
    src = path.with_suffix(".jsonl")
    synth.write_jsonl(src, run="bench-rl", transcripts_per_checkpoint=per)
    with Store.open(path, read_only=False) as store:
        ingest_paths(store, [src])
    src.unlink()
    return path


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--transcripts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.concordance import kwic
    from cotwatch.reports.viewer.search import parse_query
    from cotwatch.reports.viewer.server import make_server, serve_in_thread

    db = args.db
    if db is None:
        db = build_store(Path(tempfile.mkdtemp(prefix="bench-view-")) / "store.duckdb", args.transcripts)
    server = make_server(db, port=0, log=lambda m: None)
    serve_in_thread(server)
    port = server.server_address[1]

    last = {"body": b""}

    def fetch(path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status == 200, (path, resp.status, body[-300:])
        last["body"] = body
        return len(body)

    with Store.open(db) as store:
        [(n, run)] = store.rows("select count(*), any_value(run) from transcripts")
        tid = store.rows("select id from transcripts order by pk limit 1 offset $k", {"k": n // 2})[0][0]
        kinds = ["reasoning", "reasoning_summary"]

        def term_baseline(term: str):
            return lambda: kwic(store, term, limit=75)

        def phrase_baseline(phrase: str):
            matcher = parse_query(phrase)
            ids = [r[0] for r in store.rows("select term_id from term_vocab where list_contains($t, term)",
                                            {"t": list(matcher.tokens)})]

            def run_it():
                docs = store.rows("select transcript_pk from doc_term_lists where scope = 'reasoning' "
                                  "and list_has_all(term_ids, $ids) order by transcript_pk limit 200", {"ids": ids})
                texts = store.rows("select text from segments where list_contains($pks, transcript_pk) "
                                   "and list_contains($kinds, kind)", {"pks": [d[0] for d in docs], "kinds": kinds})
                return sum(len(matcher.spans(t)) for (t,) in texts)
            return run_it

        def text_baseline(needle: str):
            return lambda: store.rows(
                "select distinct s.transcript_pk from segments s where list_contains($kinds, s.kind) "
                "and strpos(lower(s.text), $n) > 0 order by 1 limit 25", {"kinds": kinds, "n": needle.lower()})

        pages = [
            ("start page", "/", None),
            ("run page", f"/run?run={quote(run, safe='')}", None),
            ("transcript list, first page", f"/transcripts?run={quote(run, safe='')}", None),
            ("transcript list, last page", f"/transcripts?run={quote(run, safe='')}&page={(n - 1) // 50}", None),
            ("transcript page", f"/transcript?run={quote(run, safe='')}&id={quote(tid, safe='')}&q=autop", None),
            ("search term 'autop'", "/search?q=autop", ("terms.kwic", term_baseline("autop"))),
            ("search term 'grader'", "/search?q=grader", ("terms.kwic", term_baseline("grader"))),
            ("search phrase 'might be a test'", "/search?q=might+be+a+test",
             ("one full candidate query", phrase_baseline("might be a test"))),
            ("search text 'grader'", "/search?q=grader&mode=text", ("one full text scan", text_baseline("grader"))),
            ("search text '<script>' (absent)", "/search?q=%3Cscript%3E",
             ("one full text scan", text_baseline("<script>"))),
        ]
        print(f"store: {db} ({n:,} transcripts); median of {args.repeat}; other work shared the machine")
        print(f"{'page':38} {'viewer':>9} {'bytes':>8}   {'baseline':28} {'time':>9} {'ratio':>7}")
        for label, path, baseline in pages:
            size = fetch(path)
            t_view = timed(lambda: fetch(path), args.repeat)
            stopped = re.search(rb"with (\d+)% of the transcripts searched", last["body"])
            line = f"{label:38} {t_view * 1000:8.0f}ms {size:8,}"
            if baseline is not None:
                name, fn = baseline
                t_base = timed(fn, args.repeat)
                line += f"   {name:28} {t_base * 1000:8.0f}ms {t_base / t_view:6.1f}x"
            if stopped:
                line += f"   (page stopped at its budget, {stopped.group(1).decode()}% searched)"
            print(line, flush=True)
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
