"""Drift reports: Altair charts (pure functions) and the offline HTML page with its evidence.

``charts`` (frame in, chart out), ``spec`` (the TOML report spec), ``build`` + ``sections`` +
``evidence`` (analyses → a built report), ``render`` (the page, Jinja2 templates with autoescape),
``files`` (CSV, PNG/SVG, report.json), ``publish`` (staging, history, the swap) and ``write``
(``write_report``, which ties them together).

>>> from cotwatch import reports
>>> reports.write_report("runs.duckdb", None, "weekly-report")   # doctest: +SKIP
>>> reports.term_rates_chart(df)                                  # doctest: +SKIP

Importing ``reports`` does not import altair: the chart functions and the writer are loaded on
first use (PEP 562 ``__getattr__``), so ``cotwatch --help`` stays light.
"""

from __future__ import annotations

from cotwatch.analytics.lazy import lazy_exports

_EXPORTS = {
    "overview_chart": "cotwatch.reports.charts",
    "term_rates_chart": "cotwatch.reports.charts",
    "term_heatmap": "cotwatch.reports.charts",
    "emergent_terms_chart": "cotwatch.reports.charts",
    "word_shift_chart": "cotwatch.reports.charts",
    "awareness_chart": "cotwatch.reports.charts",
    "awareness_covert_chart": "cotwatch.reports.charts",
    "environment_breakdown_chart": "cotwatch.reports.charts",
    "usage_drift_chart": "cotwatch.reports.charts",
    "CHARTS": "cotwatch.reports.charts",
    "write_report": "cotwatch.reports.write",
    "build_report": "cotwatch.reports.build",
    "load_spec": "cotwatch.reports.spec",
    "parse_spec": "cotwatch.reports.spec",
    "ReportSpec": "cotwatch.reports.spec",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
