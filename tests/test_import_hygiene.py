"""`cotwatch --help`, `cotwatch sql` and `cotwatch query` never import the heavy stack.

Each case runs in a fresh interpreter and reports which heavy top-level packages ended up in
``sys.modules`` after the command finished.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests._sql_helpers import build_fixture_store

HEAVY = ("torch", "sentence_transformers", "transformers", "altair", "vl_convert", "sklearn", "inspect_ai")

_RUNNER = textwrap.dedent("""
    import json, sys
    from cotwatch.cli import main
    code = main(json.loads(sys.argv[1]))
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
    print("\\nHEAVY=" + json.dumps(heavy) + " CODE=" + str(code), file=sys.stderr)
""")


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_fixture_store(tmp_path_factory.mktemp("hygiene") / "store.duckdb", with_classifiers=False)


def _heavy_modules(args: list[str], watch: tuple[str, ...] = HEAVY) -> tuple[list[str], int]:
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(args), json.dumps(watch)],
                          capture_output=True, text=True, timeout=120)
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")]
    assert line, proc.stderr[-2000:]
    heavy, code = line[-1].removeprefix("HEAVY=").split(" CODE=")
    return json.loads(heavy), int(code)


@pytest.mark.parametrize("args", [
    ["--help"],
    ["sql", "--help"],
    ["query", "--help"],
    ["query", "list"],
    ["query", "show", "term_rate_by_step"],
])
def test_help_and_listing_stay_light(args):
    heavy, code = _heavy_modules(args)
    assert code == 0
    assert heavy == []


def test_running_sql_and_a_named_query_stays_light(fixture_db):
    heavy, code = _heavy_modules(["sql", "select count(*) from transcripts", "--db", str(fixture_db)])
    assert (heavy, code) == ([], 0)
    heavy, code = _heavy_modules(["query", "run", "transcripts_with_term", "-p", "term=grader", "--db", str(fixture_db)])
    assert (heavy, code) == ([], 0)


def test_the_probe_sees_what_is_imported():
    """The probe reports a watched package that the command does import (click, duckdb, rich)."""
    heavy, code = _heavy_modules(["query", "list"], watch=("click", "duckdb", "rich", "torch"))
    assert (heavy, code) == (["click", "duckdb", "rich"], 0)


def test_ingest_with_term_counts_and_a_first_series_never_import_pandas(tmp_path):
    """pyarrow imports pandas (0.12-0.2 s) on its first pa.array, pa.scalar or to_numpy: the
    ingest and its term counts build their arrays from buffers (analytics/arrowbuf.py), so the
    path from a JSONL file to the first series does not pay for it. Plain and chat records,
    non-ASCII text (the rewritten path of the counting kernel) and a bad record listed with
    --skip-bad (the rejects table) all go through."""
    lines = [json.dumps({"id": f"p{i}", "run": "r", "step": i % 3, "reasoning": f"Wait, step {i} — café naïve ok",
                         "output": "fine", "metadata": {"k": i}}) for i in range(30)]
    lines += [json.dumps({"id": f"c{i}", "run": "r", "step": 1, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "watchers wait"},
                                          {"type": "text", "text": "done"}]}]}) for i in range(10)]
    lines.append('{"id": "bad", "run": "r"')
    data = tmp_path / "rollouts.jsonl"
    data.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "store.duckdb")
    watch = ("pandas", "scipy", "torch", "sklearn")
    heavy, code = _heavy_modules(["ingest", str(data), "--db", db, "--skip-bad"], watch=watch)
    assert (heavy, code) == ([], 0)
    heavy, code = _heavy_modules(["terms", "track", "wait", "--db", db], watch=watch)
    assert (heavy, code) == ([], 0)
