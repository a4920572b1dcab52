"""The report page and the history index, rendered from Jinja2 templates with autoescape.

Safety: transcript text is untrusted model output. The templates (``reports/templates/``) are
rendered with autoescaping on, so every string from the store or the spec is HTML-escaped in
text and in attributes; nothing is marked safe except what this module builds itself (the
inlined scripts and the chart specs). Chart specs are embedded as ``application/json`` blocks
whose ``<``, ``>`` and ``&`` are written as ``\\u003c``-style escapes (:func:`json_for_script`,
so nothing in the data can close the script element), parsed with ``JSON.parse`` and rendered by
Vega as text nodes (SVG ``<text>`` and vega-tooltip with its default HTML sanitizer). The page's
own script (``reports/static/report.js``) builds no HTML from data: it shows and hides rows and
sets ``textContent``. A Content-Security-Policy allows only the page's own two scripts (by hash)
plus the ``eval`` Vega's expression compiler needs, and no network access of any kind
(``default-src 'none'``), so even a mistake in escaping could not run an injected ``<script>`` or
``onerror=`` handler, and the page cannot fetch anything.

The only ``http://`` strings in the page are the W3C XML namespace names inside Vega's SVG
renderer (``http://www.w3.org/2000/svg``, ``.../1999/xlink``, ``.../2000/xmlns/``): identifiers
passed to ``createElementNS``, never fetched. Three inert links in the bundle (the Vega editor,
the Vega schema and a Vega-Lite issue, reachable only through features the page turns off) are
blanked; :func:`page_urls` lists what remains and the tests assert it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

#: URL-shaped strings allowed in the page: XML namespace names (never fetched).
NAMESPACE_URLS = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/2000/xmlns/")
#: Inert links inside the vendored bundle, blanked (features that would use them are disabled).
_BUNDLE_LINKS = ("https://vega.github.io/editor/", "https://vega.github.io/schema/vega/v6.json",
                 "https://github.com/vega/vega-lite/issues/2415")
_URL_RE = re.compile(r"(?i)\b(?:https?|ftp|wss?)://[^\s\"'`<>)\\]*")
#: Columns of a table row that become ``data-*`` attributes (the report ↔ viewer contract:
#: every evidence row carries ``data-run`` and ``data-transcript-id``).
ROW_ATTRIBUTES = {"run": "data-run", "step": "data-step", "environment": "data-environment", "term": "data-term",
                  "transcript_id": "data-transcript-id"}
TEXT_COLUMNS = {"left": "text kwic-left", "match": "text kwic-match", "right": "text kwic-right", "sentence": "text",
                "text": "text", "example": "text", "context": "text"}


def page_urls(text: str) -> list[str]:
    """Every URL-shaped string in ``text`` that is not an XML namespace name."""
    return [u for u in _URL_RE.findall(text) if u.rstrip("/") not in {n.rstrip("/") for n in NAMESPACE_URLS}]


def json_for_script(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` or
    line separators appear literally, so data can never close the element."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def vl_version() -> str:
    import altair as alt

    return "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


@lru_cache(maxsize=2)
def _bundle(version: str) -> str:
    import vl_convert as vlc

    bundle = vlc.javascript_bundle(vl_version=version)
    for link in _BUNDLE_LINKS:
        bundle = bundle.replace(link, "")
    if re.search(r"</script", bundle, re.I):
        raise RuntimeError("the Vega bundle contains '</script'; cannot inline it")
    return bundle


def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (from vl-convert), inert links blanked."""
    return _bundle(vl_version())


def static_text(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader(__package__, "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = format_cell
    env.filters["cell_class"] = cell_class
    env.filters["row_attributes"] = row_attributes
    env.filters["drill_json"] = lambda drill: json.dumps(drill.to_json(), ensure_ascii=False, sort_keys=True)
    return env


@lru_cache(maxsize=1)
def environment():
    return _environment()


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def cell_class(column: str, numeric: bool) -> str:
    if column == "transcript_id":
        return "tid"
    return "num" if numeric else TEXT_COLUMNS.get(column, "")


def row_attributes(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(attribute, value) pairs for a table row: the contract's ``data-*`` attributes."""
    return [(attr, str(row[col])) for col, attr in ROW_ATTRIBUTES.items() if col in row and row[col] is not None]


def csp(scripts: list[str]) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    # 'unsafe-eval': Vega compiles its expressions with Function(); without it nothing renders.
    return (f"default-src 'none'; script-src {hashes} 'unsafe-eval'; style-src 'unsafe-inline'; "
            "img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")


def _table(table, csv_path: str, *, evidence: bool) -> dict[str, Any]:
    df = table.frame
    numeric = {c for c, t in zip(df.columns, df.dtypes) if t.is_numeric()}
    return {"name": table.name, "caption": table.caption, "csv": csv_path, "evidence": evidence,
            "kind": {"evidence_kwic": "kwic", "evidence_sentences": "sentence"}.get(table.name, ""),
            "columns": [(c, cell_class(c, c in numeric)) for c in df.columns],
            "rows": list(df.iter_rows(named=True))}


def render_html(built, specs: dict[str, dict], files: dict[str, dict[str, str]], *, history: bool = False) -> str:
    """The page, as a string (every piece of text from the store or spec is escaped by the template)."""
    bundle = vega_bundle()
    script = static_text("report.js")
    sections = []
    for section in built.sections:
        sections.append({
            "section": section,
            "charts": [{"item": item, "files": files[item.name], "drill": item.drill if built.evidence.rows() else None}
                       for item in section.charts],
            "tables": [_table(t, files[t.name]["csv"], evidence=section.name == "evidence") for t in section.tables],
        })
    page = environment().get_template("report.html").render(
        spec=built.spec, built=built, sections=sections, history=history,
        generated=built.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        since=built.since.isoformat(timespec="minutes") if built.since is not None else None,
        transcripts=sum(built.transcript_counts.values()),
        csp=csp([bundle, script]), css=static_text("report.css"),
        bundle=bundle, script=script,
        chart_specs=[(name, json_for_script(spec)) for name, spec in specs.items()],
    )
    return page


def render_history_index(folder: Path, title: str) -> str:
    """``history/index.html``: the dated copies, newest first, each with its runs and size."""
    from cotwatch.reports.publish import history_days

    days = []
    for day in history_days(folder):
        info = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            meta = json.loads((folder / day / "report.json").read_text(encoding="utf-8"))
            info = f"{meta['transcripts']:,} transcripts, runs: {', '.join(meta['runs'])}"
        days.append({"day": day, "info": info})
    return environment().get_template("history.html").render(title=title, days=days, css=static_text("report.css"))
