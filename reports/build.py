"""Build a drift report: query the store through the analysis APIs, aggregate, chart.

:func:`build_report` returns a :class:`~cotwatch.reports.model.BuiltReport` — sections of charts
(``alt.Chart`` objects over small aggregated frames), tables and the embedded evidence (raw
strings; the template escapes them) — and writes nothing: ``cotwatch.reports.write`` turns it into
files. Every frame that reaches a chart is an aggregate per (run, step[, term | environment]),
bounded by the spec's limits, so the page size does not grow with the number of transcripts.

The section builders (``cotwatch.reports.sections``) import the analyses they draw directly.
Sections degrade on their own: when an analysis raises a
:class:`~cotwatch.analytics.errors.CotwatchError` (e.g. no classifier applied yet) or returns no
rows, the section — or, for a section drawn per run, that run — is omitted with a reason: logged,
shown on the page and listed in ``report.json``; never filled with made-up data. Sections the
spec does not ask for are listed too. With ``strict=True`` an unexpected exception (a bug)
propagates instead of becoming an omission.
"""

from __future__ import annotations

import time
import warnings
from datetime import datetime, timezone

from cotwatch.analytics.errors import CotwatchError, NothingToReport
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.reports.context import SECTION_TITLES, Context, Log, Omit
from cotwatch.reports.model import BuiltReport, Omitted
from cotwatch.reports.sections import BUILDERS
from cotwatch.reports.spec import ReportSpec

#: At most this many analysis warnings (e.g. terms that never occur) become notes of one section.
MAX_WARNING_NOTES = 10


def warning_notes(caught) -> list[str]:
    """The warnings an analysis raised while a section was built (e.g. the terms' "never occurs;
    closest counted terms: …" notes), as section notes: shown on the page, never printed on
    stderr (cron runs with --quiet stay silent)."""
    messages = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    notes = messages[:MAX_WARNING_NOTES]
    if len(messages) > MAX_WARNING_NOTES:
        notes.append(f"… and {len(messages) - MAX_WARNING_NOTES} more note(s) like these")
    return notes


# -- entry point ------------------------------------------------------------------------------
def build_report(store: Store, spec: ReportSpec, *, since: datetime | None = None, log: Log | None = None,
                 strict: bool = False) -> BuiltReport:
    """Run every section of ``spec`` against ``store``. Raises NothingToReport when no run matches."""
    log = log or (lambda _msg: None)
    run_info = store.frame(load_sql("report_runs", __package__), {"since": since})
    if spec.runs:
        missing = [r for r in spec.runs if r not in run_info["run"].to_list()]
        if missing and since is None:
            raise NothingToReport(f"{spec.source}: runs: no run named {', '.join(map(repr, missing))} in {store.path}")
        run_info = run_info.filter(run_info["run"].is_in(list(spec.runs)))
    if run_info.is_empty():
        when = f" with transcripts ingested since {since.isoformat()}" if since else ""
        raise NothingToReport(f"{store.path}: no runs{when} to report on")
    ctx = Context(store=store, spec=spec, runs=run_info["run"].to_list(), run_info=run_info, log=log, strict=strict)
    for name, reason in spec.left_out.items():
        log(f"{name}: left out: {reason}")
    sections, omitted = [], []
    for name in spec.section_names():
        title = SECTION_TITLES[name]
        started = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                section = BUILDERS[name](ctx)
        except (Omit, CotwatchError) as exc:
            omitted.append(Omitted(name, title, str(exc)))
            log(f"{name}: omitted: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 — one broken analysis must not sink a scheduled report
            if strict:
                raise
            reason = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            omitted.append(Omitted(name, title, reason))
            log(f"{name}: omitted: {reason}")
            continue
        section.notes += warning_notes(caught)
        sections.append(section)
        parts = [f"{len(section.charts)} chart(s)"] + ([f"{len(section.tables)} table(s)"] if section.tables else [])
        parts += [f"{len(section.notes)} note(s)"] if section.notes else []
        parts += [f"nothing for run {r}: {why}" for r, why in section.runs_omitted.items()]
        log(f"{name}: ok ({', '.join(parts)}) in {time.perf_counter() - started:.1f}s")
    if not sections:
        raise NothingToReport(f"{store.path}: every section was omitted ({'; '.join(f'{o.name}: {o.reason}' for o in omitted)})")
    counts = dict(zip(run_info["run"].to_list(), run_info["transcripts"].to_list()))
    return BuiltReport(spec=spec, store_path=str(store.path), runs=ctx.runs, transcript_counts=counts,
                       sections=sections, omitted=omitted, generated_at=datetime.now(timezone.utc), since=since,
                       evidence=ctx.evidence, left_out=dict(spec.left_out))


