"""The command line as a whole: every command has help, `python -m cotwatch` works."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from cotwatch.cli import COMMANDS, cli


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
