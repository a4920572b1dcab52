"""Interrupted ingests: `kill -9` at several moments and Ctrl-C, then the same ingest again.

Every file goes in with its term counts in one transaction, so whatever moment the process dies
at, the store holds whole files (with their counts) or nothing of them, and running the same
ingest again ends with exactly the totals of a clean run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cotwatch.analytics.store.database import Store

from tests._signals import SIGINT_DEFAULT

pytestmark = pytest.mark.slow

TOTALS = [
    ("transcripts", "select count(*), sum(hash(content_hash)) from transcripts"),
    ("segments", "select count(*), sum(strlen(text)) from segments"),
    ("counted", "select count(distinct transcript_pk), sum(tokens) from doc_tokens"),
    ("step_terms", "select count(*), sum(occurrences), sum(docs_with_term), sum(sum_n2), sum(sum_n_tokens) "
                   "from (select run, step, environment, scope, term, sum(occurrences) as occurrences, "
                   "sum(docs_with_term) as docs_with_term, sum(sum_n2) as sum_n2, sum(sum_n_tokens) as sum_n_tokens "
                   "from step_term_counts group by all)"),
    ("step_tokens", "select count(*), sum(tokens), sum(transcripts) from (select run, step, environment, scope, "
                    "sum(tokens) as tokens, sum(transcripts) as transcripts from step_token_counts group by all)"),
    ("checkpoints", "select count(*) from checkpoints"),
]


def totals(db: Path) -> dict:
    with Store.open(db) as store:
        return {name: store.rows(sql)[0] for name, sql in TOTALS}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from cotwatch.analytics.synth.generator import generate_corpus

    folder = tmp_path_factory.mktemp("crash")
    files = []
    for i, chat in enumerate((False, True, False)):
        path = folder / f"part-{i}.jsonl"
        params = {"chat_fraction": 1.0} if chat else {}
        generate_corpus(path, 6, seed=i, run=f"crash-{i}", **params)
        files.append(path)
    return folder, files


def _ingest(db: Path, files, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from cotwatch.cli import run; run()", "ingest", "--db", str(db), *extra,
           *map(str, files)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **SIGINT_DEFAULT)


@pytest.fixture(scope="module")
def reference(corpus):
    folder, files = corpus
    db = folder / "clean.duckdb"
    start = time.monotonic()
    proc = _ingest(db, files)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return totals(db), time.monotonic() - start


@pytest.mark.parametrize("fraction", [0.15, 0.35, 0.55, 0.8])
def test_kill_9_at_any_moment_then_the_same_ingest_gives_a_clean_runs_totals(corpus, reference, tmp_path, fraction):
    _, files = corpus
    expected, seconds = reference
    db = tmp_path / "store.duckdb"
    proc, _ = _kill_mid_run(db, files, seconds * fraction, signal.SIGKILL)
    assert not _children_of(proc.pid)
    if db.exists():  # whatever is stored came in whole files, with their counts
        with Store.open(db, read_only=False) as store:
            stored = store.rows("select count(*) from transcripts")[0][0]
            assert stored in (0, *_file_sums(files))
            assert store.rows("select count(*) from transcripts t where not exists "
                              "(select 1 from doc_tokens d where d.transcript_pk = t.pk)")[0][0] == 0
    again = _ingest(db, files)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert totals(db) == expected


def test_kill_9_while_counting_deferred_terms_then_the_next_ingest_counts_them(corpus, reference, tmp_path):
    _, files = corpus
    expected, seconds = reference
    db = tmp_path / "store.duckdb"
    proc = _ingest(db, files, "--defer-terms")
    assert proc.wait(timeout=600) == 0
    materialize = subprocess.Popen([sys.executable, "-c", "from cotwatch.cli import run; run()", "terms", "materialize",
                                    "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(seconds * 0.2)
    materialize.send_signal(signal.SIGKILL)
    materialize.communicate(timeout=60)
    again = _ingest(db, files)  # adds nothing, counts whatever is pending
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert totals(db) == expected


def test_ctrl_c_exits_130_keeps_whole_files_only_and_leaves_no_process(corpus, reference, tmp_path):
    _, files = corpus
    expected, seconds = reference
    db = tmp_path / "store.duckdb"
    proc, err = _kill_mid_run(db, files, seconds * 0.5, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("cotwatch: interrupted")
    assert not _children_of(proc.pid)
    with Store.open(db) as store:
        per_file = store.rows("select source_file, count(*) from transcripts group by 1")
        stored = {Path(f).name: n for f, n in per_file}
        pending = store.rows("select count(*) from transcripts t where not exists "
                             "(select 1 from doc_tokens d where d.transcript_pk = t.pk)")[0][0]
    assert pending == 0  # every stored file came with its counts
    clean = {f.name: sum(1 for line in open(f, "rb") if line.strip()) for f in files}
    assert all(stored[name] == clean[name] for name in stored)  # whole files or nothing
    again = _ingest(db, files)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert totals(db) == expected


def _kill_mid_run(db: Path, files, delay: float, sig) -> tuple[subprocess.Popen, str]:
    """Start the ingest, send ``sig`` after ``delay`` seconds; when the machine ran faster than the
    clean run and it had already finished, start over on a fresh store with half the delay."""
    for _ in range(5):
        proc = _ingest(db, files)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=120)
            return proc, err
        proc.communicate()
        for leftover in (db, Path(f"{db}.wal")):
            leftover.unlink(missing_ok=True)
        delay /= 2
    pytest.fail("the ingest always finished before it could be interrupted")


def _file_sums(files) -> list[int]:
    """Transcripts stored after the first k files (k = 1..n)."""
    counts = [sum(1 for line in open(f, "rb") if line.strip()) for f in files]
    return [sum(counts[: k + 1]) for k in range(len(counts))]


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (none may outlive an interrupted ingest)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def test_a_ctrl_c_as_the_file_commits_still_reports_the_file_as_stored(tmp_path):
    """Ctrl-C during DuckDB's commit is raised once the commit returns: the file is stored whole,
    so its summary line is reported before the interrupt goes on (a re-run finds duplicates)."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store

    data = tmp_path / "a.jsonl"
    data.write_text("".join(f'{{"id": "t{i}", "run": "r", "step": 1, "reasoning": "wait {i}"}}\n' for i in range(50)))
    from cotwatch.analytics.ingest import staging

    real_commit = staging.FileIngest._commit

    def commit_then_interrupt(self):
        real_commit(self)
        raise KeyboardInterrupt

    seen = []
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        staging.FileIngest._commit = commit_then_interrupt
        try:
            ingest_paths(store, [data], on_file=seen.append)
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the interrupt was swallowed")
        finally:
            staging.FileIngest._commit = real_commit
    assert [(r.added, r.committed) for r in seen] == [(50, True)]
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.rows("select count(*) from transcripts")[0][0] == 50
