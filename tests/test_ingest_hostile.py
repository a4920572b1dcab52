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

from tests.conftest import DATA, requires_data

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


def _eval_with_raw_entry(path: Path, name: str, method: int, stream: bytes, size: int, crc: int) -> Path:
    """An .eval (zip) with a header and one entry written as given: its compressed ``stream``,
    compression ``method`` and the ``size`` and ``crc`` it declares, honest or not."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"version": 2, "status": "success", "eval": {"task": "t"}}))
    info = zipfile.ZipInfo(name)
    info.compress_type = method
    with open(path, "r+b") as fh:
        z = zipfile.ZipFile(fh, "a")
        z.fp.seek(z.start_dir)
        info.header_offset = z.fp.tell()
        info.file_size, info.compress_size, info.CRC = size, len(stream), crc
        z.fp.write(info.FileHeader(False))
        z.fp.write(stream)
        z.start_dir = z.fp.tell()
        z.filelist.append(info)
        z.NameToInfo[name] = info
        z._didModify = True
        z.close()
    return path


def _eval_with_entry(path: Path, name: str, payload: bytes, declared: int | None = None) -> Path:
    """An .eval with a header and one zstd entry (as Inspect writes), its declared size honest or not."""
    import binascii

    import zstandard

    compressed = zstandard.ZstdCompressor(level=19).compress(payload)
    return _eval_with_raw_entry(path, name, 93, compressed, declared or len(payload), binascii.crc32(payload))


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


def _deflate_liar(path: Path, name: str, honest: bytes, more: int) -> Path:
    """An .eval whose deflate entry declares the size and checksum of ``honest`` while its stream
    goes on for ``more`` bytes of spaces (the stdlib reader stops at the declared size; inspect_ai
    would inflate all of it)."""
    import binascii
    import zlib

    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = squeeze.compress(honest) + b"".join(squeeze.compress(b" " * (1 << 20)) for _ in range(more >> 20))
    stream += squeeze.flush()
    return _eval_with_raw_entry(path, name, zipfile.ZIP_DEFLATED, stream, len(honest), binascii.crc32(honest))


def test_an_eval_entry_whose_deflate_stream_runs_past_its_declared_size_is_refused(cli, tmp_path):
    """The directory and the local header agree on the declared size and checksum; only the
    stream goes on (2 GB in the attack that found it). A stream far longer than its declared
    size cannot hide its compressed bytes; one that hides them in deflate's slack is caught by
    decompressing it."""
    import os

    tiny = _deflate_liar(tmp_path / "tiny.eval", "samples/1_epoch_1.json", b'{"id": 1}', 64 << 20)
    with zipfile.ZipFile(tiny) as z:  # what the stdlib sees: a fine 9-byte entry
        assert z.read("samples/1_epoch_1.json") == b'{"id": 1}'
    res = cli("ingest", tiny, "--step", "1")
    assert res.code == 3, res
    assert "entry samples/1_epoch_1.json declares" in res.err and "compressed bytes for 9" in res.err, res
    honest = os.urandom(1 << 20)  # incompressible: the 8 MB that follow fit in deflate's slack
    hidden = _deflate_liar(tmp_path / "hidden.eval", "samples/1_epoch_1.json", honest, 8 << 20)
    with zipfile.ZipFile(hidden) as z:
        assert z.read("samples/1_epoch_1.json") == honest
    res = cli("ingest", hidden, "--step", "1")
    assert res.code == 3, res
    assert "entry samples/1_epoch_1.json decompresses beyond its declared 1,048,576 bytes" in res.err, res
    assert "Traceback" not in res.err
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select count(*) from transcripts")[0][0] == 0


def test_an_eval_entry_repeating_a_key_or_holding_too_many_values_is_refused(cli, tmp_path):
    repeated = _eval_with_entry(tmp_path / "rep.eval", "samples/1_epoch_1.json", b'{"reasoning": "a", "reasoning": "b"}')
    res = cli("ingest", repeated, "--step", "1")
    assert res.code == 3 and "entry samples/1_epoch_1.json: an object repeats the key 'reasoning'" in res.err, res
    many = _eval_with_entry(tmp_path / "many.eval", "samples/1_epoch_1.json", b'{"x": [' + b"{}," * 999 + b"{}]}")
    res = cli("ingest", many, "--step", "1", "--max-values", "500")
    assert res.code == 3 and "entry samples/1_epoch_1.json: holds more than 1,000 JSON values" in res.err, res


def test_records_with_too_many_json_values_are_bad_records_named_by_line(cli, tmp_path):
    """A line of empty objects: 60 MB of them would be 2 GB of Python dicts. The limit counts
    keys and values as the scanner passes; the record is bad (its line named), the rest stands."""
    many = b'{"id":"m","run":"r","step":1,"reasoning":"x","metadata":{"x":[' + b"{}," * 1999 + b"{}]}}\n"
    path = tmp_path / "many.jsonl"
    path.write_bytes(OK + many)
    res = cli("ingest", path, "--max-values", "1000")
    assert res.code == 3 and f"{path}:2: holds more than 1,000 JSON values; raise --max-values to read it" in res.err
    res = cli("ingest", path, "--max-values", "1000", "--skip-bad")
    assert res.code == 0 and "1 added" in res.err, res
    res = cli("ingest", path)  # under the default limit: stored
    assert res.code == 0 and "1 added" in res.err, res
    gz = tmp_path / "many.jsonl.gz"
    gz.write_bytes(gzip.compress(OK + many.replace(b'"m"', b'"g"')))
    res = cli("ingest", gz, "--max-values", "1000")
    assert res.code == 3 and ":2: holds more than 1,000 JSON values" in res.err, res
    document = tmp_path / "records.json"
    document.write_text(json.dumps([{"id": f"d{i}", "run": "r", "step": 1, "reasoning": "x"} for i in range(100)]))
    # 100 records of 9 values (the object, 4 keys, 4 values) and the list: 901; a document read
    # whole may hold twice --max-values
    res = cli("ingest", document, "--max-values", "450")
    assert res.code == 3 and "holds more than 900 JSON values (a document read whole" in res.err, res
    assert cli("ingest", document, "--max-values", "451").code == 0


def test_a_json_record_longer_than_the_record_limit_is_a_bad_record(cli, tmp_path):
    document = tmp_path / "records.json"
    document.write_text(json.dumps([{"id": "ok", "run": "r", "step": 1, "reasoning": "fine"},
                                    {"id": "big", "run": "r", "step": 1, "reasoning": "word " * 400_000}]))
    res = cli("ingest", document, "--max-record-mb", "1")
    assert res.code == 3 and "[record 2]: record longer than 1 MB" in res.err, res
    res = cli("ingest", document, "--max-record-mb", "1", "--skip-bad")
    assert res.code == 0 and "1 added" in res.err, res


@pytest.mark.parametrize(("args", "message"), [
    (["--step", str(1 << 63)], "--step"),
    (["--step", str(-(1 << 63) - 1)], "--step"),
    (["--step", "1", "--max-record-mb", "inf"], "--max-record-mb must be a positive number"),
    (["--step", "1", "--max-record-mb", "nan"], "--max-record-mb must be a positive number"),
    (["--step", "1", "--max-entry-mb", "inf"], "--max-entry-mb must be a positive number"),
    (["--step", "1", "--max-ratio", "nan"], "--max-ratio must be a finite number"),
    (["--step", "1", "--max-values", "0"], "--max-values"),
])
def test_out_of_range_options_are_one_line_errors(cli, tmp_path, args, message):
    path = tmp_path / "n.jsonl"
    path.write_text('{"id": "x", "run": "r", "reasoning": "y"}\n')
    res = cli("ingest", path, *args)
    assert res.code in (2, 3), res
    assert message in res.err and "Traceback" not in res.err, res
    assert not (tmp_path / "store.duckdb").exists() or Store.open(tmp_path / "store.duckdb").rows(
        "select count(*) from transcripts")[0][0] == 0


def _rewritten_eval(src: Path, out: Path, entry: str, old: bytes, new: bytes) -> Path:
    """A copy of the Inspect log ``src`` with ``old`` replaced by ``new`` in one entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == entry:
                assert old in data
                data = data.replace(old, new)
            zout.writestr(info.filename, data)
    return out


@requires_data
@pytest.mark.parametrize(("old", "new", "message"), [
    (b'"epoch": 1', b'"epoch": 2147483648', "'epoch' is out of range (a signed 32-bit integer)"),
    (b'"epoch": 1', b'"epoch": 100000000000000000000000', "'epoch' is out of range"),
])
def test_an_inspect_sample_out_of_range_is_a_bad_record(cli, tmp_path, old, new, message):
    src = DATA / "inspect-logs" / "log_read_sample.eval"
    log = _rewritten_eval(src, tmp_path / "bad.eval", "samples/1_epoch_1.json", old, new)
    res = cli("ingest", log, "--step", "5")
    assert res.code == 3, res
    assert f"{log} [sample 1 epoch " in res.err and message in res.err and "Traceback" not in res.err, res
    folder = tmp_path / "logs"
    folder.mkdir()
    log.rename(folder / "a_bad.eval")
    shutil.copy(src, folder / "b_good.eval")
    res = cli("ingest", folder, "--step", "5")  # a folder walk goes on past it
    assert res.code == 3 and "b_good.eval: 1 added" in res.err, res


@requires_data
@pytest.mark.parametrize("value", [b"1e999", b"NaN"])
def test_an_inspect_scorer_s_non_finite_score_is_no_score(cli, tmp_path, value):
    """A scorer may return NaN (inspect_ai writes it): the sample is stored without a score."""
    src = DATA / "inspect-logs" / "log_read_sample.eval"
    log = _rewritten_eval(src, tmp_path / "nan.eval", "samples/1_epoch_1.json", b'"value": "C"', b'"value": ' + value)
    res = cli("ingest", log, "--step", "5")
    assert res.code == 0 and "1 added" in res.err, res
    with Store.open(tmp_path / "store.duckdb") as store:
        assert store.rows("select score from transcripts") == [(None,)]


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


def test_a_store_that_cannot_be_written_is_one_line(cli, tmp_path, monkeypatch):
    """A full disk fails the commit (or, on the direct-commit path, invalidates DuckDB's database):
    one line naming the store, exit 3, no traceback, and nothing of the file stored."""
    import duckdb
    from cotwatch.analytics.ingest import staging

    path = tmp_path / "ok.jsonl"
    path.write_bytes(OK)

    def full(self):
        raise duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(staging.FileIngest, "finish", full)
    res = cli("ingest", path)
    assert res.code == 3, res
    assert "cannot write the store (Could not write file: No space left on device)" in res.err
    assert "Traceback" not in res.err


@pytest.mark.parametrize(("payload", "message"), [
    (b'{"a": NaN, "b": 1, "b": 2}', "an object repeats the key 'b'"),
    (b'{"a": -Infinity, "d": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper than 64 levels"),
    (b'{"a": Infinity, "x": [' + b"{}," * 1999 + b"{}]}", "holds more than 1,000 JSON values"),
    (b'{"reasoning": "a", "reasonin\\u0067": "b"}', "an object repeats the key 'reasoning'"),
])
def test_nan_or_escaped_keys_in_an_eval_entry_do_not_switch_its_checks_off(cli, tmp_path, payload, message):
    """Inspect writes NaN, which is not JSON: the scanner reads on past it, so depth, values and
    repeated keys are still judged; keys written with escapes are judged decoded."""
    log = _eval_with_entry(tmp_path / "nan.eval", "samples/1_epoch_1.json", payload)
    res = cli("ingest", log, "--step", "1", "--max-values", "500")
    assert res.code == 3 and f"entry samples/1_epoch_1.json: {message}" in res.err, res


@requires_data
def test_an_eval_with_bytes_before_its_zip_records_is_refused(cli, tmp_path):
    """Python's zipfile shifts every offset past leading bytes; inspect_ai's reader does not, so
    the two would read different entries (a checked one, and a bomb)."""
    src = DATA / "inspect-logs" / "log_read_sample.eval"
    shifted = tmp_path / "shifted.eval"
    shifted.write_bytes(b"\0" * 4096 + src.read_bytes())
    with zipfile.ZipFile(shifted) as z:
        assert z.testzip() is None  # the standard library reads it happily
    res = cli("ingest", shifted, "--step", "1")
    assert res.code == 3 and "bytes before or between its zip records" in res.err, res
    assert cli("ingest", src, "--step", "1").code == 0
