"""Inputs written to hurt: each is refused on one line (exit 3) or stored correctly, never a
traceback, the store unchanged by a refused file, and memory bounded while reading."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cotwatch.analytics.store.database import Store

OK = b'{"id":"ok","run":"r","step":1,"reasoning":"fine"}\n'

CASES = {
    "deep_metadata": (OK + b'{"id":"d","run":"r","step":1,"reasoning":"x","metadata":' + b"[" * 100_000
                      + b"]" * 100_000 + b"}\n", 3, ":2: nested deeper than 64 levels"),
    "deep_array_line": (OK + b"[" * 100_000 + b"]" * 100_000 + b"\n", 3, ":2: nested deeper than 64 levels"),
    "invalid_utf8": (OK + b'{"id":"u","run":"r","step":1,"reasoning":"\xff\xfe"}\n', 3, ":2: not valid UTF-8"),
    "surrogate_bytes": (OK + b'{"id":"u","run":"r","step":1,"reasoning":"\xed\xa0\x80"}\n', 3, ":2: not valid UTF-8"),
    "lone_surrogate": (OK + b'{"id":"s","run":"r","step":1,"reasoning":"\\ud800"}\n', 3, ":2: a string holds a lone surrogate"),
    "raw_nul": (OK + b'{"id":"n","run":"r","step":1,"reasoning":"a\x00b"}\n', 3, ":2: invalid JSON"),
    "step_2_63": (OK + b'{"id":"b","run":"r","step":9223372036854775808,"reasoning":"x"}\n', 3,
                  ":2: 'step' is out of range"),
    "epoch_2_31": (OK + b'{"id":"e","run":"r","step":1,"epoch":2147483648,"reasoning":"x"}\n', 3,
                   ":2: 'epoch' is out of range"),
    "step_1e400": (OK + b'{"id":"f","run":"r","step":1e400,"reasoning":"x"}\n', 3, ":2: invalid JSON"),
    "nan": (OK + b'{"id":"n","run":"r","step":1,"reasoning":"x","score":NaN}\n', 3, ":2: invalid JSON"),
    "repeated_key": (OK + b'{"id":"k","run":"r","step":1,"reasoning":"x","reasoning":"y"}\n', 3,
                     ":2: an object repeats the key 'reasoning'"),
    "escaped_repeated_key": (OK + b'{"id":"k","run":"r","step":1,"reasoning":"x","reasonin\\u0067":"y"}\n', 3,
                             ":2: an object repeats the key 'reasoning'"),
    "not_an_object": (OK + b'"just a string"\n', 3, ":2: expected a JSON object"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_jsonl_is_one_line_exit_3_and_nothing_stored(cli, tmp_path, name):
    data, code, message = CASES[name]
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(data)
    res = cli("ingest", path)
    assert res.code == code, res
    assert message in res.err and "Traceback" not in res.err
    assert res.err.strip().splitlines()[-1].startswith("cotwatch: error: ")
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select count(*) from transcripts")[0][0] == 0  # the file is atomic
    res = cli("ingest", "--skip-bad", path)  # the good record goes in, the bad one to rejects
    assert res.code == 0 and "1 added" in res.err, res


def test_nul_escapes_many_keys_and_unicode_are_stored_as_they_are(cli, tmp_path):
    text = "a\u0000b – naïve Σ \U0001f600"
    keys = {f"k{i}": i for i in range(100_000)}
    path = tmp_path / "fine.jsonl"
    path.write_text(json.dumps({"id": "x", "run": "r", "step": 1, "reasoning": text, "metadata": keys}) + "\n")
    assert cli("ingest", path).code == 0
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select text from segments") == [(text,)]
        assert json.loads(store.rows("select metadata::varchar from transcripts")[0][0]) == keys


def test_deep_json_documents_are_refused_before_parsing(cli, tmp_path):
    records = tmp_path / "deep.json"
    records.write_bytes(b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]")
    res = cli("ingest", records, "--run", "r", "--step", "1")
    assert res.code == 3 and "nested deeper than 64 levels" in res.err
    log = tmp_path / "deep_log.json"
    log.write_bytes(b'{"version":2,"status":"success","eval":{"task":"t"},"samples":' + b"[" * 100_000
                    + b"]" * 100_000 + b"}")
    res = cli("ingest", log, "--step", "1")
    assert res.code == 3 and "nested deeper than 64 levels" in res.err and "Traceback" not in res.err


def _eval_with_entry(path: Path, name: str, payload: bytes, declared: int | None = None) -> Path:
    """An .eval (zip) with a header and one zstd entry, its declared size honest or not."""
    import zstandard

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"version": 2, "status": "success", "eval": {"task": "t"}}))
    compressed = zstandard.ZstdCompressor(level=19).compress(payload)
    info = zipfile.ZipInfo(name)
    info.compress_type = 93  # zstd, as Inspect writes
    with open(path, "r+b") as fh:
        z = zipfile.ZipFile(fh, "a")
        z.fp.seek(z.start_dir)
        info.header_offset = z.fp.tell()
        info.file_size, info.compress_size, info.CRC = declared or len(payload), len(compressed), 0
        z.fp.write(info.FileHeader(False))
        z.fp.write(compressed)
        z.start_dir = z.fp.tell()
        z.filelist.append(info)
        z.NameToInfo[name] = info
        z._didModify = True
        z.close()
    return path


def test_eval_decompression_bombs_are_refused_before_decompressing(cli, tmp_path):
    padding = b" " * (64 << 20)
    honest = _eval_with_entry(tmp_path / "bomb.eval", "samples/1_epoch_1.json", padding)
    res = cli("ingest", honest, "--step", "1", "--max-entry-mb", "32")
    assert res.code == 3 and "would decompress to 64 MB, more than 32 MB" in res.err, res
    res = cli("ingest", honest, "--step", "1")
    assert res.code == 3 and "compresses" in res.err and "more than 200:1" in res.err, res
    liar = _eval_with_entry(tmp_path / "liar.eval", "samples/1_epoch_1.json", padding, declared=1000)
    res = cli("ingest", liar, "--step", "1")
    assert res.code == 3 and "decompresses beyond its declared 1,000 bytes" in res.err, res
    assert "Traceback" not in res.err


def _peak_rss_mb(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Run `cotwatch ARGS` under /usr/bin/time: (exit code, stderr, peak RSS in MB)."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    if not Path(time_bin).exists():
        pytest.skip("/usr/bin/time is not installed (needed to measure a child's peak RSS)")
    report = cwd / "rss.txt"
    proc = subprocess.run([time_bin, "-f", "%M", "-o", str(report), sys.executable, "-c",
                           "from cotwatch.cli import run; run()", *args], capture_output=True, text=True, cwd=cwd)
    return proc.returncode, proc.stderr, int(report.read_text().split()[-1]) / 1024


@pytest.mark.slow
def test_huge_lines_and_gzip_bombs_stay_within_memory(tmp_path):
    big = tmp_path / "bigline.jsonl"
    with open(big, "wb") as fh:
        fh.write(OK)
        fh.write(b'{"id":"big","run":"r","step":1,"reasoning":"' + b"a " * (50 << 20) + b'"}\n')
    code, err, peak = _peak_rss_mb(["ingest", "--db", str(tmp_path / "a.duckdb"), str(big)], tmp_path)
    assert code == 3 and "record longer than 64 MB" in err and peak < 1500, (code, err[-500:], peak)
    code, err, peak = _peak_rss_mb(["ingest", "--db", str(tmp_path / "b.duckdb"), "--max-record-mb", "200", str(big)],
                                   tmp_path)
    assert code == 0 and peak < 1500, (code, err[-500:], peak)  # stored, and counted in pieces
    with Store.open(tmp_path / "b.duckdb") as store:
        assert store.rows("select sum(tokens) from doc_tokens")[0][0] == 1 + (50 << 20)
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        for _ in range(1024):
            fh.write(b"\0" * (1 << 20))
    code, err, peak = _peak_rss_mb(["ingest", "--db", str(tmp_path / "c.duckdb"), str(bomb)], tmp_path)
    assert code == 3 and "record longer than 64 MB" in err and peak < 1500, (code, err[-500:], peak)
    assert "Traceback" not in err
