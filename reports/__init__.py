"""Drift reports: Altair charts (pure functions) and one writer for the offline HTML page.

>>> import reports
>>> reports.write_report("runs.duckdb", None, "weekly-report")   # doctest: +SKIP
>>> reports.term_rates_chart(df)                                  # doctest: +SKIP

Importing ``reports`` does not import altair: the chart functions and the writer are loaded on
first use (PEP 562 ``__getattr__``), so ``cotwatch --help`` stays light.
"""

from __future__ import annotations

from analytics.lazy import lazy_exports

_EXPORTS = {
    "overview_chart": "reports.charts",
    "term_rates_chart": "reports.charts",
    "term_heatmap": "reports.charts",
    "emergent_terms_chart": "reports.charts",
    "word_shift_chart": "reports.charts",
    "awareness_chart": "reports.charts",
    "awareness_covert_chart": "reports.charts",
    "environment_breakdown_chart": "reports.charts",
    "CHARTS": "reports.charts",
    "write_report": "reports.write",
    "build_report": "reports.build",
    "load_spec": "reports.spec",
    "parse_spec": "reports.spec",
    "ReportSpec": "reports.spec",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
