"""Fixtures for the SQL tests: a tiny store built through the real ingest from checked-in JSONL."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sql"
EXPECTED = FIXTURES / "expected"


def build_fixture_store(path: Path) -> Path:
    """Ingest ``fixtures/sql/transcripts.jsonl`` (one bad line, kept as a reject) into ``path``.

    Ingested from inside the fixture folder so ``source`` reads ``transcripts.jsonl:N`` wherever
    the checkout lives.
    """
    from analytics.ingest import ingest_paths
    from analytics.store import Store

    with contextlib.chdir(FIXTURES), Store.open(path, read_only=False) as store:
        [result] = ingest_paths(store, ["transcripts.jsonl"], skip_bad=True)
    assert (result.added, result.rejected) == (12, 1), result.summary()
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
