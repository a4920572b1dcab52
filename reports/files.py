"""The files of a report besides the page: each chart's data as CSV, each chart as PNG and SVG,
each table as CSV, and ``report.json``.

Chart images are drawn by vl-convert, whose embedded JavaScript engine prints errors (with stack
traces) straight to the process's stderr — file descriptor 2, past Python's ``sys.stderr``. Each
conversion therefore runs with fd 2 redirected to a temporary file (:func:`captured_stderr`):
nothing of it reaches the user's terminal, even with ``--quiet``, and whatever it printed makes
that chart's image a recorded failure (``files[<name>]["image_error"]`` in ``report.json``, a note
beside the chart, a log line) instead of a blank picture passed off as a chart.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError

#: PNG pixel density. 1x keeps a full report (page + every chart as PNG and SVG + CSVs) near 3 MB;
#: the SVG next to each PNG is the one to put in a paper or slides (vector, any size).
PNG_SCALE = 1.0
#: Columns that exist only to key Vega's grouping (see ``cotwatch.reports.charts``): not data.
KEY_COLUMN_PREFIX = "_key_"
REPORT_FORMAT = "cotwatch-report/2"


def chart_data(chart):
    """The polars frame a chart draws (its top-level ``data``), without the internal key columns."""
    import polars as pl

    data = getattr(chart, "data", None)
    if isinstance(data, pl.DataFrame):
        return data.select([c for c in data.columns if not c.startswith(KEY_COLUMN_PREFIX)])
    raise InputError(f"chart {type(chart).__name__} carries no top-level polars frame")


def clean(value: Any) -> Any:
    """NaN/inf → null (JSON has neither), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


@contextlib.contextmanager
def captured_stderr():
    """Redirect file descriptor 2 to a temporary file; yields a list that receives what was
    written there. (A file, not a pipe: a pipe's buffer could fill and block the writer.)"""
    box: list[str] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield box
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            box.append(sink.read().decode("utf-8", "replace"))


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("at "):
            return " ".join(line.split())[:200]
    return "the chart renderer reported an error"


def chart_images(spec: dict, version: str) -> tuple[str, bytes] | str:
    """(svg, png) of a Vega-Lite spec, or the one-line reason it could not be drawn."""
    import vl_convert as vlc

    try:
        with captured_stderr() as err:
            svg = vlc.vegalite_to_svg(spec, vl_version=version, allowed_base_urls=[])
            png = vlc.vegalite_to_png(spec, vl_version=version, scale=PNG_SCALE, allowed_base_urls=[])
    except ValueError as exc:  # vl-convert's conversion errors
        return _first_error_line(str(exc).partition("\n")[2] or str(exc))
    if err and err[0].strip():
        return _first_error_line(err[0])
    return svg, png


def write_chart_files(built, root: Path, *, images: bool, log) -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    """Write data/<name>.csv for every chart and table and, with ``images``, charts/<name>.png|svg.
    Returns (chart specs for the page, files by item name)."""
    import altair as alt
    from cotwatch.reports.charts import THEME, _alt
    from cotwatch.reports.render import vl_version

    _alt()  # registers the theme
    (root / "data").mkdir()
    if images:
        (root / "charts").mkdir()
    specs: dict[str, dict] = {}
    files: dict[str, dict[str, str]] = {}
    with alt.theme.enable(THEME), alt.data_transformers.disable_max_rows():
        for section in built.sections:
            for item in section.charts:
                spec = clean(item.chart.to_dict())
                spec.pop("$schema", None)
                specs[item.name] = spec
                entry = {"csv": f"data/{item.name}.csv"}
                chart_data(item.chart).write_csv(root / entry["csv"])
                if images:
                    drawn = chart_images(spec, vl_version())
                    if isinstance(drawn, str):
                        entry["image_error"] = drawn
                        log(f"{section.name}: chart {item.name}: image not drawn: {drawn}")
                    else:
                        svg, png = drawn
                        (root / "charts" / f"{item.name}.svg").write_text(svg, encoding="utf-8")
                        (root / "charts" / f"{item.name}.png").write_bytes(png)
                        entry.update(svg=f"charts/{item.name}.svg", png=f"charts/{item.name}.png")
                files[item.name] = entry
            for table in section.tables:
                table.frame.write_csv(root / "data" / f"{table.name}.csv")
                files[table.name] = {"csv": f"data/{table.name}.csv"}
    return specs, files


def report_meta(built, files: dict, page_bytes: int) -> dict:
    """``report.json``: what the report holds, what it left out and why, and the versions."""
    evidence = built.evidence
    return {
        "format": REPORT_FORMAT,
        "title": built.spec.title,
        "generated_at": built.generated_at.isoformat(),
        "since": built.since.isoformat() if built.since else None,
        "store": built.store_path,
        "runs": built.runs,
        "transcript_counts": built.transcript_counts,
        "transcripts": sum(built.transcript_counts.values()),
        "spec": built.spec.to_json(),
        "sections": [{"name": s.name, "title": s.title, "charts": [c.name for c in s.charts],
                      "tables": [t.name for t in s.tables], "notes": s.notes, "banner": s.banner,
                      "runs_omitted": s.runs_omitted} for s in built.sections],
        "omitted": [{"name": o.name, "title": o.title, "reason": o.reason} for o in built.omitted],
        "left_out": built.left_out,
        "evidence": {"kwic_rows": evidence.kwic.height if evidence.kwic is not None else 0,
                     "sentence_rows": evidence.sentences.height if evidence.sentences is not None else 0,
                     "notes": evidence.notes},
        "files": files,
        "index_html_bytes": page_bytes,
        "versions": package_versions(),
    }


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    import altair as alt
    import vl_convert as vlc

    versions: dict[str, str | None] = {}
    for dist in ("cotwatch", "altair", "vl-convert-python", "duckdb", "polars", "pyarrow", "scikit-learn",
                 "sentence-transformers", "jinja2"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    versions["vega"] = vlc.get_vega_version()
    versions["vega-embed"] = vlc.get_vega_embed_version()
    versions["vega-lite"] = alt.SCHEMA_VERSION
    return versions
