"""The ``cotwatch`` command line: a registry of lazily imported commands and one error boundary.

Each command lives in its own module under ``cotwatch/commands`` and is imported only when it is
invoked, so ``cotwatch --help`` (and ``cotwatch sql``/``query``) never import torch,
sentence-transformers or altair. Commands parse options, make one library call and format the
result; expected failures are ``CotwatchError`` and become one line on stderr and an exit code.
"""

from __future__ import annotations

import importlib
import sys

import click

from cotwatch.analytics.errors import CotwatchError, RejectedRecords

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


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, mapping expected failures to one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="cotwatch", standalone_mode=False)
    except CotwatchError as exc:
        if isinstance(exc, RejectedRecords):
            for problem in exc.problems:
                click.echo(f"cotwatch: rejected: {problem}", err=True)
        click.echo(f"cotwatch: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("cotwatch: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("cotwatch: interrupted; nothing half-written was kept", err=True)
        return 130
    except BrokenPipeError:
        return 0
    return 0


def run() -> None:
    sys.exit(main())
