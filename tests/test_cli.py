"""The command line as a whole: every command has help, `python -m cotwatch` works."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from cotwatch.cli import COMMANDS, cli

from tests._signals import SIGINT_DEFAULT


def all_command_paths() -> list[tuple[str, ...]]:
    paths = []

    def walk(prefix: tuple[str, ...], command: click.Command) -> None:
        paths.append(prefix)
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                walk(prefix + (name,), command.get_command(ctx, name))

    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, f"registered command {name!r} has no module"
        walk((name,), command)
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=" ".join)
def test_every_command_has_help(cli, path):  # noqa: F811 - the fixture shadows the group on purpose
    result = cli(*path, "--help")
    assert result.code == 0, result
    assert "Usage: cotwatch" in result.out
    doc_line = result.out.split("\n\n")[1].strip()
    assert doc_line, f"{' '.join(path)} has no description"


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "cotwatch", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "ingest" in proc.stdout


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.code == 2 and "No such command" in result.err


# ---------------------------------------------------------------------------------------------
# The boundary: Ctrl-C anywhere is one line and exit code 130; a closed pipe is not an error
# ---------------------------------------------------------------------------------------------
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    from tests._sql_helpers import migrated_store_0007

    return migrated_store_0007(tmp_path_factory.mktemp("cli") / "store.duckdb")


def _interrupt_after(args: list[str], seconds: float) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-c", "from cotwatch.cli import run; run()", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **SIGINT_DEFAULT)
    time.sleep(seconds)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize("args", [
    # DuckDB is computing: SIGINT arrives as DuckDB's InterruptException
    ["sql", "select count(*) from range(100000000000) a where a.range % 7 = 3", "--timeout", "0"],
    # Python is formatting rows: SIGINT arrives as KeyboardInterrupt
    ["sql", "select range, range::varchar as s from range(20000000)", "--max-rows", "0", "--timeout", "0",
     "--format", "json"],
])
def test_ctrl_c_is_one_line_and_exit_130(small_store, args):
    code, err = _interrupt_after([*args, "--db", str(small_store)], 3.0)
    assert code == 130, err
    assert err.startswith("cotwatch: interrupted") and err.count("\n") == 1 and "Traceback" not in err, err


def test_interrupts_from_duckdb_map_to_130(cli, small_store, monkeypatch):
    import duckdb

    def interrupted(*args, **kwargs):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr("cotwatch.analytics.sqlapi.open_sql", interrupted)
    res = cli("sql", "select 1", "--db", small_store)
    assert res.code == 130 and res.err == "cotwatch: interrupted; nothing half-written was kept\n"


def test_a_closed_pipe_is_quiet(small_store):
    proc = subprocess.Popen([sys.executable, "-c", "from cotwatch.cli import run; run()", "sql",
                             "select * from range(2000000)", "--max-rows", "0", "--format", "csv",
                             "--db", str(small_store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"range\n"
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert proc.returncode == 0 and err == "", err


def test_progress_bar_shows_file_names_literally(tmp_path):
    import io

    from rich.console import Console

    from cotwatch.progress import file_progress

    name = tmp_path / "[bold]x\x1b[2J:x:.jsonl"
    name.write_text("{}\n")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, emoji=True)
    with file_progress(True, console=console) as factory:
        factory(name)(1)
        console.file.flush()
    shown = buffer.getvalue()
    assert "[bold]x\u241b[2J:x:.jsonl" in shown and "\u274c" not in shown


_CTRL_C_WHILE_LOADING = """
import builtins, os, signal, time
import cotwatch.entry as entry
real_import = builtins.__import__
def importing(name, *args, **kwargs):
    if name == "cotwatch.cli":  # Ctrl-C while the CLI module is being imported
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
    return real_import(name, *args, **kwargs)
builtins.__import__ = importing
entry.run()
"""


def test_ctrl_c_while_the_cli_is_still_loading_is_one_line_and_130():
    proc = subprocess.run([sys.executable, "-c", _CTRL_C_WHILE_LOADING, "runs"], capture_output=True, text=True,
                          timeout=60, **SIGINT_DEFAULT)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "cotwatch: interrupted\n"
