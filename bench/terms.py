"""Benchmark: full-vocabulary term materialization vs naive baselines, in the same run.

    .venv/bin/python bench/terms.py                 # >= 300 MB of text, all methods
    .venv/bin/python bench/terms.py --text-mb 50    # quicker

A generated corpus (cotwatch.analytics.synth.generator) is ingested once with --defer-terms into bench/out/; then
each method runs in its own process over the same segments and computes occurrences and
transcripts-with-term for every token per (run, step, environment, scope) — and per transcript:

* ``cotwatch``  — ``cotwatch.analytics.terms.materialize.materialize`` (the shipped path: the compiled kernel in
  threads, per-transcript lists + per-cell sums written into the store and committed);
* ``duckdb``    — naive DuckDB: ``regexp_extract_all`` + ``unnest`` + ``GROUP BY`` (per-transcript
  counts, then per cell), with the Unicode-aware pattern;
* ``sklearn``   — scikit-learn ``CountVectorizer`` with the contract's pattern, per-cell sums by
  sparse products;
* ``counter``   — Python ``re`` + ``collections.Counter``.

Prints MB/s, peak RSS (the process and, for cotwatch, its worker processes) and ratios to the
cotwatch run; checks that every baseline's per-cell counts equal cotwatch's exactly. Then times
single-term series queries from the materialized counts. The machine is shared (2 cores, other
engineers' jobs): timings are noisy; ratios within one run are the figure to quote.

    .venv/bin/python bench/terms.py --phrases 1000000 --text-mb 60   # phrase series, 1M transcripts
    .venv/bin/python bench/terms.py --usage --text-mb 60             # usage drift per term per run

``--phrases N`` replicates the generated corpus (``--text-mb``, ingested once) in SQL to N
transcripts, counts them with the shipped ``materialize``, and times phrase series end to end
(``term_rates``: what ``cotwatch terms track PHRASE`` waits for) against two baselines in the same
run: **naive DuckDB** (tokenize every reasoning segment with ``regexp_extract_all`` and match the
phrase in the token lists, per cell: the query one would write without cotwatch) and **lists
only** (cotwatch's candidates from the token lists, then the exact count on all their text, no RE2
prefilter). The three methods' counts are checked equal. It also measures the alternative the
issue asks about, **materialized n-gram counts**, on the base corpus: the time to count every
bigram per transcript in DuckDB, the rows that adds next to the unigram lists, and a bigram
series read from such a table.

``--usage`` times ``usage_drift`` per term per run (a rising planted word and a frequent flat one
of the generated run) with the default encoder (MiniLM) and the static one, capped at 200 contexts
per step (the default), against the baseline of embedding **every** context of the term (no cap),
and reports how closely the capped drift curve follows it. The encoders are loaded once first
(their load time is reported apart); capped runs are the best of two, the baselines run once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PATTERN_RE2 = r"[\pL\pN]+(?:'[\pL\pN]+)*"
SCOPE_CASE = ("case kind when 'reasoning' then 'reasoning' when 'reasoning_summary' then 'reasoning' "
              "when 'output' then 'output' else 'other' end")


def connect(path, read_only: bool = True):
    """A plain DuckDB connection to a store that resolves its internal tables unqualified (since
    migration 0008 they live in the schema ``internal``)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set search_path = 'internal,main'")
    return con


def _own_peak_mb() -> float:
    """This process's peak RSS. On Linux VmHWM of its own address space: ru_maxrss of a child
    started by subprocess (vfork + exec) also counts the parent's peak before the exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return {"peak_rss_mb": round(_own_peak_mb()), "worker_peak_rss_mb": round(kids.ru_maxrss / 1024),
            "cpu_seconds_total": round(cpu, 1)}


# --------------------------------------------------------------------------------------------
# Methods (each runs in a fresh process: `bench/terms.py --method NAME --db PATH`)
# --------------------------------------------------------------------------------------------
def run_cotwatch(db: str, workers: int | None) -> dict:
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms import materialize as termcounts

    work = OUT / "terms-work.duckdb"
    shutil.copy(db, work)
    os.sync()  # the copy's write-back is not part of the method
    with Store.open(work, read_only=False) as store:
        start = time.perf_counter()
        counted = termcounts.materialize(store, workers=workers)
        seconds = time.perf_counter() - start
        cells = store.rows("select count(*) from step_term_counts")[0][0]
    return {"seconds": seconds, "transcripts": counted, "cell_rows": cells, **_peak()}


def run_duckdb(db: str) -> dict:

    con = connect(db)
    start = time.perf_counter()
    con.execute(f"""
        create temp table per_doc as
        select transcript_pk, scope, term, count(*) as n from (
            select s.transcript_pk, {SCOPE_CASE} as scope,
                   unnest(regexp_extract_all(lower(replace(s.text, '\u2019', '''')), '{PATTERN_RE2.replace("'", "''")}')) as term
            from segments s
        ) group by all""")
    con.execute("""
        create temp table per_cell as
        select t.run, t.step, t.environment, d.scope, d.term, sum(d.n) as occurrences, count(*) as docs_with_term
        from per_doc d join transcripts t on t.pk = d.transcript_pk group by all""")
    seconds = time.perf_counter() - start
    con.execute(f"copy per_cell to '{OUT / 'terms-duckdb.parquet'}' (format parquet)")
    return {"seconds": seconds, **_peak()}


def _segments(db: str):

    con = connect(db)
    return con.sql(f"select s.transcript_pk, {SCOPE_CASE} as scope, s.text, t.run, t.step, t.environment "
                   "from segments s join transcripts t on t.pk = s.transcript_pk").fetchall()


def run_counter(db: str) -> dict:
    from collections import Counter

    from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

    rows = _segments(db)
    start = time.perf_counter()
    per_doc: dict = {}
    for pk, scope, text, run, step, env in rows:
        per_doc.setdefault((pk, scope, run, step, env), Counter()).update(TOKEN_RE.findall(normalize(text)))
    occ: Counter = Counter()
    docs: Counter = Counter()
    for (pk, scope, run, step, env), counter in per_doc.items():
        for term, n in counter.items():
            occ[(run, step, env, scope, term)] += n
            docs[(run, step, env, scope, term)] += 1
    seconds = time.perf_counter() - start
    _write_cells(OUT / "terms-counter.parquet", occ, docs)
    return {"seconds": seconds, **_peak()}


def run_sklearn(db: str) -> dict:
    import numpy as np
    from cotwatch.analytics.terms.tokens import TOKEN_PATTERN, normalize
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    rows = _segments(db)
    start = time.perf_counter()
    keys: dict = {}
    doc_of_row = np.empty(len(rows), np.int64)
    for i, (pk, scope, *_rest) in enumerate(rows):
        doc_of_row[i] = keys.setdefault((pk, scope), len(keys))
    vec = CountVectorizer(token_pattern=TOKEN_PATTERN, preprocessor=normalize, lowercase=False)
    by_row = vec.fit_transform(r[2] for r in rows)
    combine = sparse.csr_matrix((np.ones(len(rows)), (doc_of_row, np.arange(len(rows)))), shape=(len(keys), len(rows)))
    per_doc = (combine @ by_row).tocsr()
    cell_of_key: dict = {}
    cell_of_doc = np.empty(len(keys), np.int64)
    meta = {}
    for (pk, scope, text, run, step, env) in rows:
        meta[(pk, scope)] = (run, step, env, scope)
    for (pk, scope), d in keys.items():
        cell_of_doc[d] = cell_of_key.setdefault(meta[(pk, scope)], len(cell_of_key))
    to_cell = sparse.csr_matrix((np.ones(len(keys)), (cell_of_doc, np.arange(len(keys)))), shape=(len(cell_of_key), len(keys)))
    occ = (to_cell @ per_doc).tocoo()
    present = per_doc.copy()
    present.data[:] = 1
    docs = (to_cell @ present).tocoo()
    seconds = time.perf_counter() - start
    vocab = vec.get_feature_names_out()
    cells = list(cell_of_key)
    occ_d = {(*cells[r], vocab[c]): int(v) for r, c, v in zip(occ.row, occ.col, occ.data)}
    docs_d = {(*cells[r], vocab[c]): int(v) for r, c, v in zip(docs.row, docs.col, docs.data)}
    _write_cells(OUT / "terms-sklearn.parquet", occ_d, docs_d)
    return {"seconds": seconds, **_peak()}


def _write_cells(path: Path, occ: dict, docs: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = list(occ)
    pq.write_table(pa.table({
        "run": [k[0] for k in keys], "step": [k[1] for k in keys], "environment": [k[2] for k in keys],
        "scope": [k[3] for k in keys], "term": [k[4] for k in keys],
        "occurrences": [occ[k] for k in keys], "docs_with_term": [docs[k] for k in keys],
    }), path)


def verify(name: str) -> bool:
    """Per-cell counts of a baseline equal cotwatch's, exactly (both directions)."""

    con = connect(OUT / "terms-work.duckdb")
    ours = ("select run, step, environment, scope, term, occurrences, docs_with_term "
            "from step_term_counts where occurrences > 0")
    theirs = (f"select run, step, environment, scope, term, occurrences::bigint, docs_with_term::bigint "
              f"from read_parquet('{OUT / f'terms-{name}.parquet'}')")
    diff = con.execute(f"select count(*) from (({ours}) except all ({theirs})) union all "
                       f"select count(*) from (({theirs}) except all ({ours}))").fetchall()
    return diff[0][0] == 0 and diff[1][0] == 0


def series_queries(db: Path | None = None) -> dict:
    """Single-term series from the materialized counts (best of 3, store opened read-only)."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.rates import term_rates
    out = {}
    with Store.open(db or OUT / "terms-work.duckdb") as store:
        transcripts = store.rows("select count(*) from transcripts")[0][0]
        for label, terms in (("token", ["autop"]), ("wildcard", ["disclaim*"]), ("token_by_env", ["watchers"])):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                df = term_rates(store, terms, by_environment=label == "token_by_env")
                best = min(best, time.perf_counter() - start)
            out[label] = {"seconds": round(best, 3), "rows": df.height}
    out["transcripts"] = transcripts
    return out


def million_store(n: int) -> dict:
    """A store of ``n`` short transcripts (50 steps x 4 environments) made in SQL, counted by the
    real ``materialize``; then the single-term series timings on it."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth.generator import RISING_TERMS
    from cotwatch.analytics.terms import materialize as termcounts

    db = OUT / f"terms-series-{n}.duckdb"
    db.unlink(missing_ok=True)
    words = ["the", "so", "check", "need", "answer", "function", "wait", "maybe", "test", "value",
             "option", "parser", "result", "because", "then", "list", "index", "error", "case", "loop"]
    words += [f"w{i}" for i in range(3000)]
    with Store.open(db, read_only=False) as store:
        con = store.con
        con.execute("insert into runs (run) values ('big')")
        con.execute("insert into checkpoints (run, step) select 'big', s * 100 from range(50) t(s)")
        con.execute("insert into transcripts (pk, id, run, step, environment, content_hash) "
                    "select i, 'tx' || i, 'big', (i % 50) * 100, 'env' || (i % 4), md5(i::varchar) from range($n) t(i)",
                    {"n": n})
        con.execute("insert into segments (transcript_pk, ordinal, role, kind, text) "
                    "select i, 0, 'assistant', 'reasoning', array_to_string(list_transform(range(14), "
                    "lambda k: case when random() < (i % 50) / 2000.0 then $planted[1 + (k % len($planted))] "
                    "else $words[1 + floor(random() * len($words))::int] end), ' ') from range($n) t(i)",
                    {"words": words, "planted": list(RISING_TERMS), "n": n})
        start = time.perf_counter()
        termcounts.materialize(store)
        build = time.perf_counter() - start
    res = series_queries(db)
    return {"materialize_seconds": round(build, 1), **res}


# --------------------------------------------------------------------------------------------
# Phrases over N transcripts
# --------------------------------------------------------------------------------------------
PHRASES = {  # label -> phrase: rare, planted, common in the generated run, and a case-sensitive token
    "rare": "might be a test",
    "planted": "autop-run",
    "common": "the function",
    "case": "Wait",
}
TOKEN_RE2 = r"[\pL\pN]+(?:''[\pL\pN]+)*"


def phrase_store(n: int, text_mb: float) -> Path:
    """A store of ``n`` transcripts: the generated corpus replicated in SQL (new pks and ids, same
    steps and environments), term counts materialized by the shipped ``materialize`` (cached)."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms import materialize as termcounts

    db = OUT / f"phrases-{n}.duckdb"
    meta = OUT / f"phrases-{n}.json"
    if db.exists() and meta.exists():
        return db
    base, _ = prepare(text_mb)
    tmp = db.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    shutil.copy(base, tmp)
    with Store.open(tmp, read_only=False) as store:
        have, top = store.rows("select count(*), max(pk) + 1 from transcripts")[0]
        copies = -(-n // have)
        for k in range(1, copies):
            take = min(have, n - k * have)
            params = {"off": top * k, "take": take, "suffix": f"~{k}"}
            with store.atomic():
                store.con.execute("insert into transcripts by name select * replace (pk + $off as pk, id || $suffix as id) "
                                  "from transcripts where pk < $off and pk < $top0 order by pk limit $take",
                                  {**params, "top0": top})
                store.con.execute("insert into segments by name select * replace (transcript_pk + $off as transcript_pk) "
                                  "from segments where transcript_pk < $top0 and transcript_pk + $off in "
                                  "(select pk from transcripts where pk >= $off)", {"off": top * k, "top0": top})
        start = time.perf_counter()
        termcounts.materialize(store)
        build = time.perf_counter() - start
        count = store.rows("select count(*) from transcripts")[0][0]
        mb = store.rows("select sum(strlen(text)) / 1e6 from segments")[0][0]
    tmp.rename(db)
    meta.write_text(json.dumps({"transcripts": count, "text_mb": mb, "materialize_seconds": build}))
    return db


def naive_phrase(db: Path, phrase: str, case_sensitive: bool) -> tuple[float, list]:
    """The baseline: every reasoning segment tokenized in DuckDB, the phrase matched in the lists."""
    from cotwatch.analytics.terms.specs import parse_term

    spec = parse_term(phrase, case_sensitive=case_sensitive)
    con = connect(db)
    fold = "replace(s.text, '’', '''')" if case_sensitive else "lower(replace(s.text, '’', ''''))"
    start = time.perf_counter()
    rows = con.execute(f"""
        with toks as (
            select t.run, t.step, s.transcript_pk, regexp_extract_all({fold}, '{TOKEN_RE2}') as tk
            from segments s join transcripts t on t.pk = s.transcript_pk
            where s.kind in ('reasoning', 'reasoning_summary')
        ), per_doc as (
            select run, step, transcript_pk,
                   sum(len(list_filter(list_filter(range(1, len(tk) - len($p) + 2), lambda i: tk[i] = $p[1]),
                                       lambda i: tk[i:i + len($p) - 1] = $p))) as n
            from toks group by run, step, transcript_pk
        )
        select run, step, sum(n)::bigint, count(*) filter (where n > 0)::bigint
        from per_doc group by run, step order by run, step""", {"p": list(spec.tokens)}).fetchall()
    seconds = time.perf_counter() - start
    con.close()
    return seconds, rows


def cotwatch_phrase(db: Path, phrase: str, case_sensitive: bool, prefilter: bool = True) -> tuple[float, list]:
    """The shipped path, end to end: open the store read-only, term_rates, close."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms import phrases as phrase_module
    from cotwatch.analytics.terms.rates import term_rates

    real = phrase_module.TokenSequence.prefilter
    if not prefilter:  # the "lists only" baseline: every candidate segment is read and counted
        phrase_module.TokenSequence.prefilter = lambda self: "(?s).?"
    try:
        start = time.perf_counter()
        with Store.open(db) as store:
            df = term_rates(store, [phrase], case_sensitive=case_sensitive)
        seconds = time.perf_counter() - start
    finally:
        phrase_module.TokenSequence.prefilter = real
    return seconds, df.select("run", "step", "occurrences", "docs_with_term").rows()


def materialized_bigrams(db: Path) -> dict:
    """The alternative: every bigram per transcript counted in DuckDB into a table (time, rows next
    to the unigram lists) and a bigram series read from it."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"attach '{db}' as s (read_only)")
    start = time.perf_counter()
    con.execute(f"""
        create table bigrams as
        with toks as (
            select s.transcript_pk, regexp_extract_all(lower(replace(s.text, '’', '''')), '{TOKEN_RE2}') as tk
            from s.internal.segments s where s.kind in ('reasoning', 'reasoning_summary')
        )
        select transcript_pk, gram, count(*)::integer as n from (
            select transcript_pk, unnest(list_transform(list_zip(tk[1:len(tk) - 1], tk[2:len(tk)]),
                                                        lambda p: p[1] || ' ' || p[2])) as gram
            from toks) group by all""")
    build = time.perf_counter() - start
    rows = con.execute("select count(*) from bigrams").fetchall()[0][0]
    unigrams = con.execute("select sum(len(term_ids)) from s.internal.doc_term_lists "
                           "where scope = 'reasoning'").fetchall()[0][0]
    mb = con.execute("select sum(strlen(text)) / 1e6 from s.internal.segments").fetchall()[0][0]
    start = time.perf_counter()
    con.execute("select t.run, t.step, sum(b.n), count(*) from bigrams b join s.internal.transcripts t "
                "on t.pk = b.transcript_pk where b.gram = 'the function' group by all").fetchall()
    query = time.perf_counter() - start
    return {"text_mb": round(mb, 1), "build_seconds": round(build, 1), "bigram_rows": rows,
            "unigram_entries": unigrams, "rows_ratio": round(rows / max(unigrams, 1), 2),
            "query_seconds": round(query, 3)}


def counted_base(text_mb: float) -> Path:
    """The generated corpus of ``prepare`` with its term counts materialized (cached)."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms import materialize as termcounts

    db, _ = prepare(text_mb)
    work = OUT / f"terms-{int(text_mb)}-counted.duckdb"
    if not work.exists():
        tmp = work.with_suffix(".tmp.duckdb")
        shutil.copy(db, tmp)
        with Store.open(tmp, read_only=False) as store:
            termcounts.materialize(store)
        tmp.rename(work)
    return migrated(work)


def migrated(db: Path) -> Path:
    """``db`` with every migration of this checkout applied (readers refuse a store behind)."""
    from cotwatch.analytics.store.database import Store

    with Store.open(db, read_only=False):
        pass
    return db


def run_phrases(n: int, text_mb: float, repeat: int) -> dict:
    db = migrated(phrase_store(n, text_mb))
    info = json.loads((OUT / f"phrases-{n}.json").read_text())
    print(f"phrase store: {info['transcripts']:,} transcripts, {info['text_mb']:.0f} MB of text (counted by "
          f"materialize in {info['materialize_seconds']:.0f}s); {os.cpu_count()} CPUs, shared machine")
    cotwatch_phrase(db, "wait", False)  # imports (polars, scipy) and the first open are not the phrase's cost
    results = {}
    for label, phrase in PHRASES.items():
        cs = label == "case"
        runs: dict[str, list] = {"cotwatch": [], "lists_only": [], "naive_duckdb": []}
        answers: dict[str, dict] = {}
        for round_ in range(repeat):  # interleaved rounds; the best of each is compared
            for method in runs:
                if method != "cotwatch" and round_:
                    continue  # the baselines are slow: once each
                if method == "naive_duckdb":
                    sec, rows = naive_phrase(db, phrase, cs)
                else:
                    sec, rows = cotwatch_phrase(db, phrase, cs, prefilter=method == "cotwatch")
                runs[method].append(round(sec, 2))
                answers[method] = {(r[0], r[1]): (r[2], r[3]) for r in rows if r[2] or r[3]}
        same = answers["lists_only"] == answers["cotwatch"] == answers["naive_duckdb"]
        total = sum(v[0] for v in answers["cotwatch"].values())
        docs = sum(v[1] for v in answers["cotwatch"].values())
        results[label] = {"phrase": phrase, "occurrences": total, "docs": docs, "identical": same,
                          **{m: {"best": min(v), "all": v} for m, v in runs.items()}}
        best = {m: results[label][m]["best"] for m in runs}
        print(f"{label:8s} {phrase!r:18s} {total:>9,} occ {docs:>8,} docs | cotwatch {best['cotwatch']:6.2f}s | "
              f"lists only {best['lists_only']:6.2f}s ({best['lists_only'] / best['cotwatch']:.1f}x) | "
              f"naive DuckDB {best['naive_duckdb']:6.2f}s ({best['naive_duckdb'] / best['cotwatch']:.1f}x) | "
              f"identical {same}")
    alt = materialized_bigrams(counted_base(text_mb))
    print(f"materialized bigrams on the base corpus ({alt['text_mb']} MB): built in {alt['build_seconds']}s, "
          f"{alt['bigram_rows']:,} rows = {alt['rows_ratio']}x the unigram list entries; a bigram series "
          f"from them {alt['query_seconds']}s")
    return {"transcripts": info["transcripts"], "results": results, "materialized_bigrams": alt}


# --------------------------------------------------------------------------------------------
# Usage drift
# --------------------------------------------------------------------------------------------
def run_usage(text_mb: float, terms: list[str]) -> dict:
    """usage_drift per term per run: capped (200 contexts per step, the default) vs every context,
    for MiniLM (default) and the static encoder; encoders loaded (and timed) once before."""
    import numpy as np
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.contexts import term_contexts
    from cotwatch.classifiers.embeddings import Encoder, StaticEncoder
    from cotwatch.classifiers.usage import usage_drift
    from scipy.stats import spearmanr

    work = counted_base(text_mb)
    out: dict = {"encoders": {}}
    encoders = {}
    for name, make in (("minilm", Encoder), ("static", StaticEncoder)):
        start = time.perf_counter()
        enc = make()
        enc.encode([f"warm up the encoder with sentence number {i} of a first batch" for i in range(512)])
        out["encoders"][name] = round(time.perf_counter() - start, 1)
        encoders[name] = enc
    print(f"encoder load: MiniLM {out['encoders']['minilm']}s, static {out['encoders']['static']}s "
          f"({os.cpu_count()} CPUs, shared machine)")
    every = {"cap": 10 ** 9, "per_transcript": 10 ** 6}
    with Store.open(work) as store:
        for term in terms:
            res: dict = {}
            start = time.perf_counter()
            n = term_contexts(store, term, cap=200).height
            res["contexts_only"] = {"seconds": round(time.perf_counter() - start, 2), "contexts": n}
            for label, enc, kw in (("minilm_cap200", "minilm", {}), ("minilm_all", "minilm", every),
                                   ("static_cap200", "static", {}), ("static_all", "static", every)):
                seconds = float("inf")
                for _ in range(1 if label.endswith("_all") else 2):  # capped runs: best of 2
                    start = time.perf_counter()
                    result = usage_drift(store, term, encoder=encoders[enc], **kw)
                    seconds = min(seconds, time.perf_counter() - start)
                res[label] = {"seconds": round(seconds, 1), "contexts": int(result.steps["contexts"].sum()),
                              "drift": [round(x, 4) for x in result.steps["drift_from_first"].to_list()],
                              "change": result.change.select("before_last_step", "after_first_step").row(0)}
                print(f"{term!r} {label:14s} {res[label]['contexts']:>7,} contexts {seconds:7.1f}s")
            for enc in ("minilm", "static"):
                capped, full = np.array(res[f"{enc}_cap200"]["drift"]), np.array(res[f"{enc}_all"]["drift"])
                rho = float(spearmanr(capped, full).statistic)
                ratio = res[f"{enc}_all"]["seconds"] / res[f"{enc}_cap200"]["seconds"]
                res[f"{enc}_agreement"] = {"spearman": round(rho, 3), "max_abs_diff": round(float(np.abs(capped - full).max()), 4),
                                           "speedup": round(ratio, 2)}
                print(f"{term!r} {enc}: capped vs every context: {ratio:.1f}x faster, drift curves Spearman {rho:.3f}, "
                      f"max |diff| {np.abs(capped - full).max():.4f}")
            out[term] = res
    return out


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------
def prepare(text_mb: float) -> tuple[Path, float]:
    """A store with >= text_mb MB of segment text, ingested with deferred term counts (cached)."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth.generator import generate_corpus

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / f"terms-{int(text_mb)}.duckdb"
    if not db.exists():
        corpus = OUT / f"terms-{int(text_mb)}.jsonl"
        generate_corpus(corpus, text_mb * 1.32, seed=7)  # JSON overhead: ~0.76 MB text per MB
        tmp = db.with_suffix(".tmp.duckdb")
        tmp.unlink(missing_ok=True)
        with Store.open(tmp, read_only=False) as store:
            ingest_paths(store, [corpus], count_terms=False)
        tmp.rename(db)
        corpus.unlink()

    con = connect(db)
    mb = con.execute("select sum(strlen(text)) / 1e6 from segments").fetchall()[0][0]
    con.close()
    return db, mb


def widen(db: Path, words_per_segment: int = 40, vocabulary: int = 200_000) -> Path:
    """A copy of the corpus store with a realistic vocabulary (cached): every segment gets a tail
    of ~``words_per_segment`` words drawn from wordfreq's top ``vocabulary`` English words at
    their real frequencies, so a batch meets tens of thousands of distinct tokens (the generated
    run alone has ~1,500) and most transcripts hold many words that occur once."""
    import numpy as np
    import pyarrow as pa
    import wordfreq

    wide = db.with_name(db.stem + "-wide.duckdb")
    if wide.exists():
        return wide
    tmp = wide.with_suffix(".tmp.duckdb")
    shutil.copy(db, tmp)
    words = wordfreq.top_n_list("en", vocabulary)
    weights = np.array([wordfreq.word_frequency(w, "en") for w in words])
    rng = np.random.default_rng(11)
    con = connect(tmp, read_only=False)
    seg = con.sql("select transcript_pk, ordinal, role, kind, text, redacted from segments").to_arrow_table()
    n = rng.poisson(words_per_segment, seg.num_rows)
    draws = rng.choice(len(words), size=int(n.sum()), p=weights / weights.sum())
    picked = np.array(words, object)[draws]
    cuts = np.cumsum(n)[:-1]
    tails = [" ".join(part) for part in np.split(picked, cuts)]
    text = [f"{t} {tail}" for t, tail in zip(seg.column("text").to_pylist(), tails)]
    con.register("_wide", seg.set_column(seg.schema.get_field_index("text"), "text", pa.array(text, pa.string())))
    con.execute("begin; delete from segments; insert into segments select * from _wide; commit")
    con.execute("checkpoint")
    con.close()
    tmp.rename(wide)
    return wide


def child(method: str, db: str, workers: int | None) -> dict:
    cmd = [sys.executable, __file__, "--method", method, "--db", db]
    if workers:
        cmd += ["--workers", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text-mb", type=float, default=300, help="Segment text in the corpus (MB).")
    ap.add_argument("--methods", default="cotwatch,duckdb,sklearn,counter")
    ap.add_argument("--workers", type=int, default=None, help="cotwatch counting threads (default: auto).")
    ap.add_argument("--vocab", choices=("synthetic", "wide"), default="synthetic",
                    help="wide: append words drawn from wordfreq's 200k English words to every segment "
                         "(a realistic vocabulary; the generated run alone has ~1,500 distinct tokens).")
    ap.add_argument("--repeat", type=int, default=3,
                    help="Interleaved rounds of cotwatch and naive DuckDB; the best of each is compared.")
    ap.add_argument("--series-transcripts", type=int, default=0,
                    help="Also build a store of this many short transcripts (e.g. 1000000) and time series queries on it.")
    ap.add_argument("--phrases", type=int, default=0,
                    help="Time phrase series over a store of this many transcripts (e.g. 1000000) instead.")
    ap.add_argument("--usage", action="store_true", help="Time usage drift of one term instead.")
    ap.add_argument("--usage-terms", default="watchers,maybe",
                    help="Terms for --usage (the default: a rising planted word and a frequent flat one).")
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.method:
        runner = {"cotwatch": lambda: run_cotwatch(args.db, args.workers), "duckdb": lambda: run_duckdb(args.db),
                  "sklearn": lambda: run_sklearn(args.db), "counter": lambda: run_counter(args.db),
                  "widen": lambda: {"db": str(widen(Path(args.db)))}}[args.method]
        print(json.dumps(runner()))
        return
    if args.phrases:
        print(json.dumps(run_phrases(args.phrases, args.text_mb, args.repeat), default=float))
        return
    if args.usage:
        print(json.dumps(run_usage(args.text_mb, args.usage_terms.split(",")), default=float))
        return
    if args.text_mb <= 0:  # only the series store
        big = million_store(args.series_transcripts)
        print(json.dumps(big))
        return
    db, mb = prepare(args.text_mb)
    if args.vocab == "wide":  # built in a child: its memory must not count in the methods' peak RSS

        subprocess.run([sys.executable, __file__, "--method", "widen", "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL)
        db = db.with_name(db.stem + "-wide.duckdb")
        with connect(db) as con:
            mb = con.execute("select sum(strlen(text)) / 1e6 from segments").fetchall()[0][0]
    print(f"corpus: {db.name}, {mb:.1f} MB of segment text; {os.cpu_count()} CPUs (shared machine: noisy timings)")
    methods = [m for m in args.methods.split(",") if m]
    if "cotwatch" in methods:
        methods.remove("cotwatch")
    methods.insert(0, "cotwatch")  # baselines are verified against its store
    results: dict = {}
    for round_ in range(args.repeat):  # interleaved rounds; the best of each method is reported
        for method in methods:
            if round_ and method not in ("cotwatch", "duckdb"):
                continue  # the slow baselines run once
            res = child(method, str(db), args.workers)
            if method != "cotwatch" and round_ == 0:
                res["identical"] = verify(method)
            runs = results.setdefault(method, {"all_seconds": []})
            runs["all_seconds"].append(round(res["seconds"], 2))
            if res["seconds"] < runs.get("seconds", float("inf")):
                runs.update({k: v for k, v in res.items() if k != "identical"})
            if "identical" in res:
                runs["identical"] = res["identical"]
    for res in results.values():
        res["mb_per_s"] = mb / res["seconds"]
    base = results["cotwatch"]["mb_per_s"]
    print(f"{'method':10s} {'best s':>7s} {'MB/s':>7s} {'peak RSS MB':>12s} {'workers RSS':>12s} "
          f"{'cotwatch x':>11s} {'CPU s*':>7s}  identical  all runs (s)")
    for method, r in results.items():
        print(f"{method:10s} {r['seconds']:7.1f} {r['mb_per_s']:7.1f} {r['peak_rss_mb']:12d} {r['worker_peak_rss_mb']:12d} "
              f"{base / r['mb_per_s']:11.2f} {r['cpu_seconds_total']:7.1f}  {str(r.get('identical', '-')):9s}  {r['all_seconds']}")
    print("* CPU seconds of the whole method process (incl. set-up such as reading the segments) and its workers")
    series = series_queries()
    print(f"single-term series from the materialized counts ({series.pop('transcripts')} transcripts): "
          + ", ".join(f"{k} {v['seconds']}s ({v['rows']} rows)" for k, v in series.items()))
    big = {}
    if args.series_transcripts:
        big = million_store(args.series_transcripts)
        print(f"single-term series over {big.pop('transcripts')} transcripts (materialized in "
              f"{big.pop('materialize_seconds')}s): " + ", ".join(f"{k} {v['seconds']}s ({v['rows']} rows)" for k, v in big.items()))
    print(json.dumps({"text_mb": round(mb, 1), "results": results, "series": series, "big": big}, default=float))


if __name__ == "__main__":
    main()
