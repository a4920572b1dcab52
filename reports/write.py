"""``write_report``: build a report and publish it as a folder.

Writes, into a fresh staging directory beside ``out_dir``::

    index.html            one self-contained page: Vega, Vega-Lite and vega-embed inlined, no CDN;
                          the evidence behind the charts embedded (click a mark to filter it)
    charts/<name>.png     every chart as PNG (1x) and SVG (vl-convert, no network access allowed)
    charts/<name>.svg
    data/<name>.csv       exactly the rows each chart draws (and each table shows)
    report.json           spec, store path, runs, transcript counts, sections, what was left out
                          and why, package versions, time
    .cotwatch-report      the marker: cotwatch's id and every file written (see publish.py)
    history/              dated copies YYYY-MM-DD/ and an index page (kept across runs; a new
                          copy is added with ``history=True``)

and puts it in place (``cotwatch.reports.publish``): never over a directory holding files cotwatch
did not write, through a symlinked ``out_dir`` to where it points, atomically, a failed run
leaving the previous report untouched. The pieces: ``build`` (analyses → sections), ``files``
(CSV, images, report.json), ``render`` (the page, Jinja2 with autoescape), ``publish``.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cotwatch.analytics.errors import OutputError, UsageError
from cotwatch.analytics.store.database import Store
from cotwatch.reports import publish

MAX_PAGE_BYTES = 5_000_000


def write_report(store, spec=None, out_dir: str | os.PathLike[str] = "report", *, wait: float = 300.0,
                 since: str | datetime | None = None, history: bool = False, log=None, strict: bool = False,
                 images: bool | None = None, runs=None) -> Path:
    """Build the report for ``store`` (a path or an open :class:`Store`) and write it to ``out_dir``.

    ``spec`` is a :class:`~cotwatch.reports.spec.ReportSpec`, a path to a TOML spec, or None for the default
    ``reports/drift.toml``. ``runs`` (a list of run names) replaces the spec's runs. ``since``
    (``YYYY-MM-DD``, an ISO time, ``7d``/``24h``, or a datetime) keeps only runs with transcripts
    ingested since then. ``history`` adds a dated copy under ``out_dir/history/``. ``log``
    receives one line per section. Returns the directory written (a symlinked ``out_dir``
    resolved).

    >>> write_report("runs.duckdb", None, "weekly-report", runs=["rl-7"])          # doctest: +SKIP
    """
    from cotwatch.reports.build import build_report
    from cotwatch.reports.spec import ReportSpec, load_spec

    log = log or (lambda _msg: None)
    if not isinstance(spec, ReportSpec):
        spec = load_spec(spec)
    if runs:
        spec = spec.with_runs([runs] if isinstance(runs, str) else runs)
    since_dt = parse_since(since) if since is not None else None
    target = publish.resolve_target(out_dir)
    publish.clean_stale(target, log)
    if isinstance(store, Store):
        built = build_report(store, spec, since=since_dt, log=log, strict=strict)
    else:
        with Store.open(store, read_only=True, wait=wait) as opened:
            built = build_report(opened, spec, since=since_dt, log=log, strict=strict)
    render_images = spec.images if images is None else images
    tmp = publish.stage(target)
    try:
        try:
            size = _render(built, tmp, images=render_images, log=log,
                           history=history or (target.manifest is not None and (target.path / "history").is_dir()))
        except OSError as exc:
            raise OutputError(f"--out {target.given}: cannot write the report: {exc.strerror or exc}") from None
        if size > MAX_PAGE_BYTES:
            log(f"warning: index.html is {size / 1e6:.1f} MB (over {MAX_PAGE_BYTES / 1e6:.0f} MB); lower the spec's limits")
        _history(target, tmp, built, add=history)
        publish.seal(tmp)
        publish.publish(tmp, target, log)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {target.path / 'index.html'} ({size / 1e6:.2f} MB, {sum(len(s.charts) for s in built.sections)} charts, "
        f"{built.evidence.rows():,} evidence rows)")
    return target.path


def _render(built, root: Path, *, images: bool, log, history: bool = False) -> int:
    """Every file of the report into ``root``; returns the page's size in bytes."""
    import json

    from cotwatch.reports.files import report_meta, write_chart_files
    from cotwatch.reports.render import render_html

    specs, files = write_chart_files(built, root, images=images, log=log)
    page = render_html(built, specs, files, history=history)
    (root / "index.html").write_text(page, encoding="utf-8")
    (root / "report.json").write_text(json.dumps(report_meta(built, files, len(page.encode())), indent=2, default=str)
                                      + "\n", encoding="utf-8")
    return len(page.encode())


def _history(target, tmp: Path, built, *, add: bool) -> None:
    from cotwatch.reports.render import render_history_index

    day = built.generated_at.astimezone().strftime("%Y-%m-%d") if add else None
    try:
        publish.carry_history(target, tmp, day=day, render_index=lambda folder: render_history_index(folder, built.spec.title))
    except OSError as exc:
        raise OutputError(f"--out {target.given}: cannot carry the report history over: {exc.strerror or exc}") from None


def parse_since(value: str | datetime) -> datetime:
    """``YYYY-MM-DD``, an ISO datetime, ``Nd``/``Nh``/``Nw`` (ago), or a datetime → an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    text = str(value).strip()
    m = re.fullmatch(r"(\d+)\s*([dhw])", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]
        return datetime.now(timezone.utc) - delta
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since: expected YYYY-MM-DD, an ISO time or Nd/Nh/Nw, got {text!r}") from None
    return dt if dt.tzinfo else dt.astimezone()


__all__ = ["write_report", "parse_since", "MAX_PAGE_BYTES"]
