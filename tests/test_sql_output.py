"""Issue 17, the terminal and SQL parts: nothing cotwatch prints can act on the reader's terminal,
SQL stays local, and every late error, timeout and awkward type is one line with its exit code.

The hostile store is the previous version's fixture store, migrated, plus one transcript written
straight into the internal tables whose run name, id, source and text carry OSC 52 (clipboard
write), CSI 2J (clear screen), an 8-bit CSI, a bidi override, a carriage return, Rich markup and
an emoji code.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

from tests._sql_helpers import file_digest, migrated_store_0007

RUN = "evil\x1b[2J:x:[bold]"
TID = "id\x1b[31m"
TEXT = ("The grader \x1b]52;c;aGk=\x07 watches \x1b[2J :x: [bold]b[/bold] \u202edcba \x9b31m "
        "\u2066iso\u2069 \U000e0041tag end\rX")
# Bytes that must never reach a terminal from data: ESC, BEL, 8-bit CSI (UTF-8 C2 9B), CR, RLO, LRI, tag A.
RAW = [b"\x1b", b"\x07", b"\xc2\x9b", b"\r", "\u202e".encode(), "\u2066".encode(), "\U000e0041".encode()]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    from cotwatch.analytics.store.database import Store

    path = migrated_store_0007(tmp_path_factory.mktemp("hostile") / "store.duckdb")
    with Store.open(path, read_only=False) as store:
        store.con.execute("insert into runs (run) values ($r)", {"r": RUN})
        store.con.execute(
            "insert into transcripts (pk, id, run, step, content_hash, source_file, source_line) "
            "values (1000, $id, $r, 5, 'h', $f, 1)", {"r": RUN, "id": TID, "f": "f\x1b]0;title\x07.jsonl"})
        store.con.execute("insert into segments values (1000, 0, 'assistant', 'reasoning', $t, false)", {"t": TEXT})
    proc = _run("terms", "materialize", "--db", str(path))  # term counts for kwic
    assert proc.returncode == 0, proc.stderr.decode()
    return path


def _run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real console entry point in a child process (bytes, so nothing is decoded away)."""
    return subprocess.run([sys.executable, "-c", "from cotwatch.cli import run; run()", *args],
                          capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})


def _assert_inert(data: bytes) -> None:
    found = [raw for raw in RAW if raw in data]
    assert found == [], (found, data[-800:])


# ---------------------------------------------------------------------------------------------
# Terminal output
# ---------------------------------------------------------------------------------------------
def test_terminal_safe_makes_controls_visible():
    from cotwatch.output import terminal_safe

    assert terminal_safe("a\x1b[2Jb") == "a\u241b[2Jb"                    # ESC → ␛
    assert terminal_safe("\x00\x07\x7f\x9b") == "\u2400\u2407\u2421\\u009b"  # C0, DEL, C1
    assert terminal_safe("x\u202ey\u2066z\u200bw") == "x\\u202ey\\u2066z\\u200bw"
    assert terminal_safe("\U000e0041") == "\\U000e0041"
    assert terminal_safe("l1\r\nl2\tt\rX") == "l1\nl2\tt\u240dX"
    assert terminal_safe("l1\nl2\tt", keep_newlines=False) == "l1\u240al2\u2409t"
    plain = "Café naïve 日本語 👨\u200d👩\u200d👧 [bold] :x: \\u202e"
    assert terminal_safe(plain) == plain                                   # ordinary text untouched


def test_tables_never_interpret_markup_emoji_or_escapes():
    import polars as pl
    from cotwatch.output import render_table

    frame = pl.DataFrame({f"col\x1b[2J[red]": [TEXT, ":x: :thumbs_up: [link=http://x]y[/link]"]})
    text = render_table(frame, title="t\x1b]0;x\x07")
    _assert_inert(text.encode())
    assert ":x:" in text and ":thumbs_up:" in text and "[bold]b[/bold]" in text and "[link=http://x]y[/link]" in text
    assert "\u274c" not in text and "\U0001f44d" not in text                  # no emoji substituted
    assert "\u241b]52;c;aGk=\u2407" in text and "\\u202edcba" in text and "col\u241b[2J[red]" in text


@pytest.mark.parametrize("args", [
    ["sql", "select * from reasoning where run = $r", "-p", f"r={RUN}"],
    ["sql", "select run, transcript_id, source from transcripts where step = 5"],
    ["runs"],
    ["show", TID],
    ["terms", "kwic", "grader", "--run", RUN],
])
def test_hostile_data_never_reaches_the_terminal_raw(hostile_db, args):
    proc = _run(*args, "--db", str(hostile_db))
    assert proc.returncode == 0, proc.stderr.decode()
    _assert_inert(proc.stdout)
    _assert_inert(proc.stderr)
    assert b":x:" in proc.stdout and "\u241b".encode() in proc.stdout


def test_csv_and_json_stay_verbatim(hostile_db):
    proc = _run("sql", "select text from reasoning where run = $r", "-p", f"r={RUN}", "--format", "json",
                "--db", str(hostile_db))
    assert proc.returncode == 0 and json.loads(proc.stdout) == [{"text": TEXT}]
    proc = _run("show", TID, "--format", "json", "--db", str(hostile_db))
    assert json.loads(proc.stdout)[0]["text"] == TEXT
    proc = _run("sql", "select run from transcripts where step = 5", "--format", "csv", "--db", str(hostile_db))
    assert proc.stdout.decode().splitlines() == ["run", RUN]


def test_error_lines_show_hostile_names_inertly(hostile_db):
    proc = _run("sql", 'select * from "tab\x1b[2J\u202e"', "--db", str(hostile_db))
    assert proc.returncode == 3
    _assert_inert(proc.stderr)
    assert proc.stderr.decode().count("\n") == 1 and "tab\u241b[2J\\u202e" in proc.stderr.decode()


# ---------------------------------------------------------------------------------------------
# SQL stays local
# ---------------------------------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"a,b\n1,2\n")

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def local_http():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("sql", [
    "select * from read_csv('{http}/x.csv')",
    "select * from read_csv('https://example.invalid/x.csv')",
    "select * from read_parquet('s3://bucket/x.parquet')",
    "from '{http}/y.csv'",
    "select * from read_json('hf://datasets/x/y.json')",
    "select content from read_text('{http}/z.txt')",
])
def test_sql_with_urls_is_refused_without_network_or_home_writes(hostile_db, tmp_path, local_http, sql):
    home = tmp_path / "home"
    home.mkdir()
    before = file_digest(hostile_db)
    proc = _run("sql", sql.format(http=local_http), "--db", str(hostile_db),
                env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and "query refused: cannot read" in err and "never a URL" in err
    assert "Traceback" not in err
    assert list(home.iterdir()) == []        # no ~/.duckdb/extensions, nothing at all
    assert _Recorder.hits == []              # not one request reached the server
    assert file_digest(hostile_db) == before


def test_extensions_are_neither_installed_nor_loaded(hostile_db):
    from cotwatch.analytics.errors import InputError
    from cotwatch.analytics.sqlapi import open_sql, run_sql

    with open_sql(hostile_db) as store:
        settings = dict(store.rows(
            "select name, value from duckdb_settings() where name in ('enable_external_access', "
            "'autoinstall_known_extensions', 'autoload_known_extensions')"))
        assert settings == {"enable_external_access": "false", "autoinstall_known_extensions": "false",
                            "autoload_known_extensions": "false"}
        with pytest.raises(InputError, match="refused"):
            run_sql(store, "select * from read_csv('https://example.invalid/x.csv')")


def test_local_files_only_below_allow_read(hostile_db, tmp_path, cli):
    inside = tmp_path / "allowed"
    inside.mkdir()
    (inside / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "secret.csv").write_text("s\nhidden\n")
    res = cli("sql", f"select * from read_csv('{inside / 'x.csv'}')", "--format", "csv", "--db", hostile_db)
    assert res.code == 3 and "cannot read" in res.err                      # nothing readable by default
    res = cli("sql", f"select * from read_csv('{inside / 'x.csv'}')", "--format", "csv", "--allow-read", inside,
              "--db", hostile_db)
    assert res.code == 0 and res.out.splitlines() == ["a,b", "1,2"], res
    for outside in (tmp_path / "secret.csv", f"{inside}/../secret.csv"):
        res = cli("sql", f"select * from read_csv('{outside}')", "--allow-read", inside, "--db", hostile_db)
        assert res.code == 3 and "cannot read" in res.err and "hidden" not in res.out, res
    res = cli("sql", "select 1", "--allow-read", tmp_path / "absent", "--db", hostile_db)
    assert res.code == 2 and "does not exist" in res.err


def test_run_sql_needs_a_store_opened_for_sql(hostile_db):
    from cotwatch.analytics.errors import InputError
    from cotwatch.analytics.sqlapi import run_sql
    from cotwatch.analytics.store.database import Store

    with Store.open(hostile_db) as store, pytest.raises(InputError, match="open_sql"):
        run_sql(store, "select 1")


# ---------------------------------------------------------------------------------------------
# One line, the documented exit code
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, code, message", [
    (["sql", "select case when range > 300000 then error('boom') else range end from range(1000000)",
      "--max-rows", "0", "--format", "csv"], 3, "query failed: Invalid Input Error: boom"),
    (["sql", "select case when range > 300000 then (range::varchar || 'x')::int else range end from range(1000000)",
      "--max-rows", "0", "--format", "csv"], 3, "query failed: Conversion Error"),
    (["sql", "select range from range(10000000000) where range % 7 = 0", "--timeout", "0.5", "--max-rows", "0",
      "--format", "csv"], 8, "interrupted after its time limit of 0.5s"),
    (["sql", "update extensions"], 3, "statement refused"),
    (["sql", "select 1", "--output", "/proc/version"], 3, "/proc/version: cannot write"),
    (["sql", "select 1", "--output", "/proc/nope/x.csv"], 3, "/proc/nope/x.csv: cannot write"),
    (["sql", "select 1", "--output", "/dev/null"], 3, "/dev/null: cannot write (not a regular file)"),
])
def test_late_errors_and_bad_outputs_are_one_line(hostile_db, args, code, message):
    proc = _run(*args, "--db", str(hostile_db))
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_output_to_a_directory_or_through_a_symlink(hostile_db, tmp_path, cli):
    res = cli("sql", "select 1 as x", "--format", "csv", "--output", tmp_path, "--db", hostile_db)
    assert res.code == 2 and "is a directory" in res.err  # the shared --output option says so first
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    res = cli("sql", "select 1 as x", "--format", "csv", "--output", link, "--db", hostile_db)
    assert res.code == 0, res
    assert link.is_symlink() and target.read_text() == "x\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]  # no temp file left


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_infinite_dates_and_unsupported_types_print(hostile_db, cli, fmt):
    sql = ("select 'infinity'::timestamp as ts, '-infinity'::date as d, '294000-01-01'::timestamp as far, "
           "'infinity'::timestamptz as tz, interval 1 day as i, '101'::bit as b, 12345678901234567890123::bignum as n, "
           "'12:00:00+01'::timetz as t, union_value(k := 7) as u, 1::variant as v, 1::uhugeint as uh, "
           "'2024-05-01 10:00'::timestamp as ok")
    res = cli("sql", sql, "--format", fmt, "--db", hostile_db)
    assert res.code == 0, res
    for text in ("infinity", "-infinity", "294000-01-01", "1 day", "101", "12345678901234567890123", "12:00:00+01"):
        assert text in res.out, (text, res.out)
    if fmt == "json":
        [row] = json.loads(res.out)
        assert row["ts"] == "infinity" and row["d"] == "-infinity" and row["u"] == "7" and row["ok"] == "2024-05-01T10:00:00"


def test_nested_columns_are_json_in_csv(hostile_db, cli):
    res = cli("sql", "select [1, 2] as l, {'a': 1, 'b': [true]} as s, map([1], ['x']) as m, 'ab'::blob as bl, "
              "[1, 2]::int[2] as arr, [{'q': 'b'::blob}] as lb, 'nan'::double as nan, 'inf'::double as inf",
              "--format", "csv", "--db", hostile_db)
    assert res.code == 0, res
    import csv
    import io

    [header, row] = list(csv.reader(io.StringIO(res.out)))
    values = dict(zip(header, row))
    assert json.loads(values["l"]) == [1, 2] and json.loads(values["s"]) == {"a": 1, "b": [True]}
    assert json.loads(values["m"]) == {"1": "x"} and json.loads(values["bl"]) == "YWI="
    assert json.loads(values["arr"]) == [1, 2] and json.loads(values["lb"]) == [{"q": "Yg=="}]
    res = cli("sql", "select 'nan'::double as nan, 'inf'::double as inf, [1.5, 'nan'::double] as l", "--format", "json",
              "--db", hostile_db)
    assert json.loads(res.out) == [{"nan": None, "inf": "Infinity", "l": [1.5, None]}]


def test_allow_read_resolves_symlinks_and_is_one_setting_per_open_file(hostile_db, tmp_path):
    from cotwatch.analytics.errors import InputError, StoreLocked
    from cotwatch.analytics.sqlapi import open_sql, run_sql

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (tmp_path / "secret.txt").write_text("hidden")
    (allowed / "link.txt").symlink_to(tmp_path / "secret.txt")
    with open_sql(hostile_db, allow_read=[allowed]) as store:
        with pytest.raises(InputError, match="cannot read"):
            run_sql(store, f"select content from read_text('{allowed / 'link.txt'}')")
        with open_sql(hostile_db, allow_read=[allowed]) as again:       # same settings: shared
            assert run_sql(again, "select count(*) as n from transcripts").frame["n"].to_list() == [13]
        with pytest.raises(StoreLocked, match="other --allow-read directories"):
            open_sql(hostile_db)
    with pytest.raises(InputError, match="only local directories"):
        open_sql(hostile_db, allow_read=["https://example.invalid/"])
