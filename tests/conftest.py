"""Shared test fixtures (owned by the spine; area-specific fixtures live in their own modules)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the empty-store template (analytics/store/database.py) of this session, not the user's cache
os.environ.setdefault("COTWATCH_CACHE", tempfile.mkdtemp(prefix="cotwatch-test-cache-"))

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
requires_data = pytest.mark.skipif(
    not DATA.exists(), reason="../shared/data (real traces and Inspect logs) is not present beside the checkout"
)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-500:]!r}, err={self.err[-1500:]!r})"


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run `cotwatch ARGS...` in-process; returns CliResult(code, out, err).

    COTWATCH_DB points at a fresh store in tmp_path unless --db is given.
    """
    from cotwatch.cli import main

    monkeypatch.setenv("COTWATCH_DB", str(tmp_path / "store.duckdb"))

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "store.duckdb"
