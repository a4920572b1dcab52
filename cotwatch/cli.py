"""The ``cotwatch`` command line: a registry of lazily imported commands and one error boundary.

Each command lives in its own module under ``cotwatch/commands`` and is imported only when it is
invoked, so ``cotwatch --help`` (and ``cotwatch sql``/``query``) never import torch,
sentence-transformers or altair. Commands parse options, make one library call and format the
result; expected failures are ``CotwatchError`` and become one line on stderr and an exit code.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from cotwatch.analytics.errors import INTERRUPTED, CotwatchError, RejectedRecords

#: name → (module:attribute, one-line help). Nested dicts are command groups.
COMMANDS: dict[str, tuple[str, str] | dict] = {
    "ingest": ("cotwatch.commands.ingest:ingest", "Ingest JSONL, Inspect logs or text files into the store."),
    "runs": ("cotwatch.commands.runs:runs", "One row per run: steps, environments, transcripts, tokens."),
    "show": ("cotwatch.commands.show:show", "Show one transcript, segment by segment."),
    "migrate": ("cotwatch.commands.migrate:migrate", "Create or upgrade the store schema."),
    "demo": ("cotwatch.commands.demo:demo", "Build a demo store from a synthetic RL run and analyse it."),
    "terms": ("cotwatch.commands.terms:terms", "Term frequencies across checkpoints: track, trend, discover, kwic, shift."),
    "classify": ("cotwatch.commands.classify:classify", "Train, evaluate and apply embedding classifiers."),
    "awareness": ("cotwatch.commands.awareness:awareness", "Eval-awareness prevalence per step, corrected for classifier error."),
    "label": ("cotwatch.commands.label:label", "Active learning: export sentences to label, import labels."),
    "export": {
        "counterfactual": ("cotwatch.commands.export_counterfactual:counterfactual", "Reasoning with aware sentences removed or injected."),
        "parquet": ("cotwatch.commands.export_parquet:parquet", "Transcripts and reasoning as Parquet shards."),
    },
    "report": ("cotwatch.commands.report:report", "Write the offline HTML drift report."),
    "query": ("cotwatch.commands.query:query", "Named SQL queries: list, show, run."),
    "sql": ("cotwatch.commands.sql:sql", "Run ad hoc read-only SQL against the store."),
    "view": ("cotwatch.commands.view:view", "Browse the store in a local, read-only web viewer."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, registry: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.registry = registry

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.registry)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = self.registry.get(name)
        if entry is None:
            return None
        if isinstance(entry, dict):
            return LazyGroup(name=name, registry=entry, help=f"{name} commands.")
        target, _ = entry
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # declared but not built into this installation
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            entry = self.registry[name]
            rows.append((name, f"{name} commands." if isinstance(entry, dict) else entry[1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, registry=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cotwatch", prog_name="cotwatch")
def cli() -> None:
    """Analyse reasoning (chain-of-thought) transcripts across training checkpoints.

    Exit codes: 0 ok · 1 internal error · 2 usage · 3 bad input · 4 store missing ·
    5 store locked · 6 bad spec · 7 nothing to report · 8 query timed out.
    """


def _say(line: str) -> None:
    """One line on stderr, with anything in it that could act on a terminal made visible
    (messages quote file names, run names and SQL the user or a data file supplied)."""
    from cotwatch.output import terminal_safe

    click.echo(terminal_safe(line, keep_newlines=False), err=True)


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, however it surfaced: KeyboardInterrupt, DuckDB's InterruptException (DuckDB turns
    SIGINT during a query into one), or the same error relayed through an Arrow stream."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    name = type(exc).__name__
    text = str(exc)
    return (name == "InterruptException"
            or (isinstance(exc, OSError) and text.startswith("INTERRUPT Error"))
            or (type(exc) is RuntimeError and text == "Query interrupted"))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, mapping expected failures to one line and an exit code.

    Ctrl-C anywhere in a command is exit code 130 with one line, never a traceback (work in
    progress is rolled back by the transactions and atomic writes below)."""
    try:
        try:
            # click's own main() would print an empty line on Ctrl-C; run the group directly
            args = sys.argv[1:] if argv is None else list(argv)
            with cli.make_context("cotwatch", args) as ctx:
                cli.invoke(ctx)
        except CotwatchError as exc:
            if isinstance(exc, RejectedRecords):
                for problem in exc.problems:
                    _say(f"cotwatch: rejected: {problem}")
            _say(f"cotwatch: error: {exc}")
            return exc.exit_code
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except click.exceptions.Abort:
            _say("cotwatch: interrupted")
            return INTERRUPTED
        except BrokenPipeError:
            _quiet_stdout()
            return 0
        except BaseException as exc:
            if _is_interrupt(exc):
                raise KeyboardInterrupt from exc
            raise
    except KeyboardInterrupt:  # also a second Ctrl-C while the first one's clean-up ran
        _say("cotwatch: interrupted; nothing half-written was kept")
        return INTERRUPTED
    return 0


def _quiet_stdout() -> None:
    """After the reader of our stdout went away (``cotwatch sql ... | head``), point stdout at
    /dev/null so the interpreter's final flush does not print a BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _exit_on_interrupt(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    os._exit(INTERRUPTED)


def run() -> None:
    """The ``cotwatch`` console script."""
    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C between the command's end and main's return
        _say("cotwatch: interrupted")
        code = INTERRUPTED
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        _quiet_stdout()
    except KeyboardInterrupt:
        code = INTERRUPTED
    # From here on (interpreter shutdown: joining worker threads, closing DuckDB) a Ctrl-C ends
    # the process at once instead of printing a traceback from an exit handler.
    signal.signal(signal.SIGINT, _exit_on_interrupt)
    sys.exit(code)
