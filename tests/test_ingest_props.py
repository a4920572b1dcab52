"""The compiled JSONL path against its Python definition, on generated records.

``_jsonscan.scan_lines`` must accept exactly the lines Python's strict parser accepts as JSON
objects (or send them to Python), and ``_jsonscan.extract_records`` must give, for every record it
takes, the fields and segments ``records.record_from_json`` gives."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotwatch.analytics.ingest.jsonl import Limits, LineChunk, scan
from cotwatch.analytics.ingest.records import RECORD_FIELDS, RecordError, parse_json_record, record_from_json
from cotwatch.analytics.ingest.staging import _extract

FIELDS = tuple(f.encode() for f in RECORD_FIELDS)
TEXT = st.text(alphabet=st.sampled_from(list("ab Σé\u3000\u00a0\t\n<>/think\\\"'\u2019😀\x00\x1f")), max_size=12)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=False), TEXT)
PART = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(TEXT, SCALAR)}),
    st.fixed_dictionaries({"type": st.just("reasoning")}, optional={
        "reasoning": st.one_of(TEXT, st.none(), st.integers()), "summary": st.one_of(TEXT, st.none(), st.lists(TEXT)),
        "redacted": st.one_of(st.booleans(), st.none(), TEXT)}),
    st.fixed_dictionaries({"type": st.just("thinking"), "thinking": st.one_of(TEXT, st.none())}),
    st.fixed_dictionaries({"type": st.sampled_from(["redacted_thinking", "image", "tool_use"])}),
    TEXT,
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.one_of(st.sampled_from(["assistant", "model", "user", "human", "system", "developer", "tool",
                                        "function", "ipython", "robot"]), st.integers())},
    optional={"content": st.one_of(TEXT, st.none(), st.lists(PART, max_size=4), st.integers()),
              "reasoning_content": st.one_of(TEXT, st.none(), st.integers()), "reasoning": st.one_of(TEXT, st.integers())},
)
RECORD = st.fixed_dictionaries({}, optional={
    "id": st.one_of(TEXT, st.integers(-(2 ** 65), 2 ** 65), st.booleans(), st.none()),
    "run": st.one_of(TEXT, st.integers(0, 9), st.none()),
    "step": st.one_of(st.integers(-(2 ** 64), 2 ** 64), st.floats(allow_nan=False), TEXT, st.none()),
    "environment": st.one_of(TEXT, st.none(), st.lists(TEXT)),
    "epoch": st.one_of(st.integers(-(2 ** 33), 2 ** 33), st.none()),
    "covert_action": st.one_of(st.booleans(), st.none(), TEXT),
    "score": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2 ** 66), 2 ** 66), st.none(), TEXT),
    "metadata": st.one_of(st.none(), st.dictionaries(TEXT, SCALAR, max_size=3), TEXT),
    "reasoning": st.one_of(TEXT, st.none(), st.integers()),
    "output": st.one_of(TEXT, st.none(), st.integers()),
    "messages": st.one_of(st.none(), st.lists(MESSAGE, max_size=4), TEXT),
    "other": SCALAR,
})


def _python(line: bytes):
    """What the Python definition makes of a line: a Record, or the RecordError."""
    try:
        return record_from_json(parse_json_record(line))
    except RecordError as exc:
        return exc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORD, min_size=1, max_size=6))
def test_extractor_gives_what_record_from_json_gives(records):
    lines = [json.dumps(r, ensure_ascii=bool(i % 2)).encode() for i, r in enumerate(records)]
    chunk = scan(LineChunk(b"\n".join(lines) + b"\n", 1), Limits().max_depth, fields=FIELDS)
    candidates = np.flatnonzero(chunk.status == 0)
    (xt, xs), taken = _extract(chunk, candidates, 1 + np.arange(len(lines)), FIELDS, ())
    rows = xt.to_pylist()
    segments = xs.to_pylist()
    for pos, i in enumerate(candidates.tolist()):
        if not taken[pos]:
            continue  # left to Python: nothing to compare
        expected = _python(lines[i])
        assert not isinstance(expected, RecordError), (lines[i], expected)
        row = rows[pos]
        assert (row["id"], row["run"], row["step"], row["environment"], row["epoch"], row["covert_action"]) == (
            expected.id, expected.run, expected.step, expected.environment, expected.epoch, expected.covert_action)
        assert row["score"] == expected.score or (row["score"] is None and expected.score is None)
        assert (None if row["metadata"] is None else json.loads(row["metadata"])) == expected.metadata
        mine = [(s["kind"], s["role"], s["text"], s["redacted"]) for s in segments if s["pk"] == i + 1]
        assert sorted(s["ordinal"] for s in segments if s["pk"] == i + 1) == list(range(len(mine)))
        ordered = [(s["kind"], s["role"], s["text"], s["redacted"])
                   for s in sorted((s for s in segments if s["pk"] == i + 1), key=lambda s: s["ordinal"])]
        assert ordered == [(s.kind, s.role, s.text, s.redacted) for s in expected.segments], lines[i]


JSONISH = st.text(alphabet=st.sampled_from(list('{}[]":,0123456789-.eE+ tu\\rfalsnxé\t')), max_size=40)


@settings(max_examples=1500, deadline=None)
@given(st.lists(JSONISH, min_size=1, max_size=20))
def test_scanner_accepts_exactly_the_json_objects(texts):
    lines = [t.replace("\n", " ").encode() for t in texts]
    chunk = scan(LineChunk(b"\n".join(lines) + b"\n", 1), 64, fields=FIELDS)
    for line, status in zip(lines, chunk.status.tolist()):
        try:
            value = json.loads(line, object_pairs_hook=_refuse_repeats)
            valid = isinstance(value, dict) and _finite(value)
        except (ValueError, RecursionError):
            valid = False
        if status == 0:
            assert valid, line  # passed on as a record: Python must agree it is one
        elif status == 1:
            assert not line.strip(b" \t\r")
        elif status in (2, 3, 4):
            assert not valid or status == 4, line  # refused: never a valid record (repeats aside)


def _refuse_repeats(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("repeated key")
    return dict(pairs)


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def test_the_whitespace_table_is_pythons():
    """records.PYTHON_WHITESPACE (and the C extractor's is_blank) are exactly str.isspace()."""
    import sys

    from cotwatch.analytics.ingest.records import NONBLANK_PATTERN, PYTHON_WHITESPACE

    assert PYTHON_WHITESPACE == "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert NONBLANK_PATTERN.count("\\x{") == len(PYTHON_WHITESPACE)
