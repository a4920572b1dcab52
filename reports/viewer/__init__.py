"""``cotwatch view``: a local, read-only web viewer of the store.

Runs and steps, search in reasoning (words and phrases through the materialized term counts, any
text by a bounded scan) with keyword-in-context lines, one page per transcript with every segment
verbatim, flagged sentences and hits highlighted, and a report folder served under ``/report/``
whose evidence rows link to the transcript pages. See docs/viewer.md.

>>> from cotwatch.reports.viewer import serve
>>> serve("runs.duckdb", port=8765, report_dir="weekly-report")      # doctest: +SKIP

``Viewer`` is the WSGI application itself (any WSGI server can run it); ``make_server`` binds one
without serving.
"""

from __future__ import annotations

from cotwatch.analytics.lazy import lazy_exports

_EXPORTS = {
    "Viewer": "cotwatch.reports.viewer.app",
    "serve": "cotwatch.reports.viewer.server",
    "make_server": "cotwatch.reports.viewer.server",
    "serve_in_thread": "cotwatch.reports.viewer.server",
    "url_of": "cotwatch.reports.viewer.server",
    "parse_query": "cotwatch.reports.viewer.search",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
