"""The one module that writes report files.

:func:`write_report` opens the store read-only (waiting while an ingest holds the write lock),
builds the report (``cotwatch.reports.build``) and writes, into a temporary directory beside ``out_dir``::

    index.html            one self-contained page: Vega, Vega-Lite and vega-embed inlined, no CDN
    charts/<name>.png     every chart as PNG (1x) and SVG (vl-convert, no network access allowed)
    charts/<name>.svg
    data/<name>.csv       exactly the rows each chart draws (and each evidence table shows)
    report.json           spec, store path, runs, transcript counts, sections, package versions, time
    history/              dated copies YYYY-MM-DD/ and an index page (kept across runs; a new
                          copy is added with ``history=True``)

then swaps it into place atomically (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two
renames, with a gap of one rename during which ``out_dir`` is absent). A failed run removes its
temporary directory and leaves the previous report untouched.

Safety: transcript text is untrusted model output. Every string that reaches the HTML goes
through :func:`html.escape`; chart specs are embedded as ``application/json`` blocks whose ``<``,
``>`` and ``&`` are written as ``\\u003c``-style escapes (so nothing in the data can close the
script element), parsed with ``JSON.parse`` and rendered by Vega as text nodes (SVG ``<text>``
and vega-tooltip with its default HTML sanitizer). A Content-Security-Policy allows only the
page's own two scripts (by hash) plus the ``eval`` Vega's expression compiler needs, and no
network access of any kind (``default-src 'none'``), so even a mistake in escaping could not run an
injected ``<script>`` or ``onerror=`` handler, and the page cannot fetch anything.

The only ``http://`` strings in the page are the W3C XML namespace names inside Vega's SVG
renderer (``http://www.w3.org/2000/svg``, ``.../1999/xlink``, ``.../2000/xmlns/``): identifiers
passed to ``createElementNS``, never fetched. Three inert links in the bundle (the Vega editor,
the Vega schema and a Vega-Lite issue, reachable only through features the page turns off) are
blanked; :func:`page_urls` lists what remains and the tests assert it.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import hashlib
import html
import json
import math
import os
import re
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError, UsageError
from cotwatch.analytics.store.database import Store

#: URL-shaped strings allowed in the page: XML namespace names (never fetched).
NAMESPACE_URLS = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/2000/xmlns/")
#: Inert links inside the vendored bundle, blanked (features that would use them are disabled).
_BUNDLE_LINKS = ("https://vega.github.io/editor/", "https://vega.github.io/schema/vega/v6.json",
                 "https://github.com/vega/vega-lite/issues/2415")
_URL_RE = re.compile(r"(?i)\b(?:https?|ftp|wss?)://[^\s\"'`<>)\\]*")
_MARKER = "report.json"
MAX_PAGE_BYTES = 5_000_000
#: PNG pixel density. 1x keeps a full report (page + every chart as PNG and SVG + CSVs) near 3 MB;
#: the SVG next to each PNG is the one to put in a paper or slides (vector, any size).
PNG_SCALE = 1.0
_bundle_cache: dict[str, str] = {}


def page_urls(text: str) -> list[str]:
    """Every URL-shaped string in ``text`` that is not an XML namespace name."""
    return [u for u in _URL_RE.findall(text) if u.rstrip("/") not in {n.rstrip("/") for n in NAMESPACE_URLS}]


# -- public entry point ---------------------------------------------------------------------------
def write_report(store, spec=None, out_dir: str | os.PathLike[str] = "report", *, wait: float = 300.0,
                 since: str | datetime | None = None, history: bool = False, log=None, strict: bool = False,
                 images: bool | None = None) -> Path:
    """Build the report for ``store`` (a path or an open :class:`Store`) and write it to ``out_dir``.

    ``spec`` is a :class:`~cotwatch.reports.spec.ReportSpec`, a path to a TOML spec, or None for the default
    ``reports/drift.toml``. ``since`` (``YYYY-MM-DD``, an ISO time, ``7d``/``24h``, or a datetime)
    keeps only runs with transcripts ingested since then. ``history`` adds a dated copy under
    ``out_dir/history/``. ``log`` receives one line per section. Returns ``out_dir``.

    >>> write_report("runs.duckdb", None, "weekly-report")          # doctest: +SKIP
    """
    from cotwatch.reports.build import build_report
    from cotwatch.reports.spec import ReportSpec, load_spec

    log = log or (lambda _msg: None)
    if not isinstance(spec, ReportSpec):
        spec = load_spec(spec)
    since_dt = parse_since(since) if since is not None else None
    out = Path(out_dir).absolute()
    _check_replaceable(out)
    if isinstance(store, Store):
        built = build_report(store, spec, since=since_dt, log=log, strict=strict)
    else:
        with Store.open(store, read_only=True, wait=wait) as opened:
            built = build_report(opened, spec, since=since_dt, log=log, strict=strict)
    render_images = spec.images if images is None else images
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a report is meant to be shared
        size = _render(built, tmp, images=render_images, history=history or (out / "history").is_dir())
        if size > MAX_PAGE_BYTES:
            log(f"warning: index.html is {size / 1e6:.1f} MB (over {MAX_PAGE_BYTES / 1e6:.0f} MB); lower the spec's limits")
        _carry_history(out, tmp, built, add=history)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"wrote {out / 'index.html'} ({size / 1e6:.2f} MB, {sum(len(s.charts) for s in built.sections)} charts)")
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def parse_since(value: str | datetime) -> datetime:
    """``YYYY-MM-DD``, an ISO datetime, ``Nd``/``Nh`` (ago), or a datetime → an aware datetime."""
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


# -- rendering ------------------------------------------------------------------------------------
def _render(built, root: Path, *, images: bool, history: bool = False) -> int:
    import altair as alt
    from cotwatch.reports.charts import THEME, _alt

    _alt()  # registers the theme
    (root / "data").mkdir()
    if images:
        (root / "charts").mkdir()
    specs: dict[str, dict] = {}
    files: dict[str, dict[str, str]] = {}
    with alt.theme.enable(THEME), alt.data_transformers.disable_max_rows():
        for section in built.sections:
            for item in section.charts:
                spec = _clean(item.chart.to_dict())
                spec.pop("$schema", None)
                specs[item.name] = spec
                entry = {"csv": f"data/{item.name}.csv"}
                chart_data(item.chart).write_csv(root / entry["csv"])
                if images:
                    import vl_convert as vlc

                    vl_version = "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
                    svg = vlc.vegalite_to_svg(spec, vl_version=vl_version, allowed_base_urls=[])
                    (root / "charts" / f"{item.name}.svg").write_text(svg, encoding="utf-8")
                    png = vlc.vegalite_to_png(spec, vl_version=vl_version, scale=PNG_SCALE, allowed_base_urls=[])
                    (root / "charts" / f"{item.name}.png").write_bytes(png)
                    entry.update(svg=f"charts/{item.name}.svg", png=f"charts/{item.name}.png")
                files[item.name] = entry
            for table in section.tables:
                table.frame.write_csv(root / "data" / f"{table.name}.csv")
                files[table.name] = {"csv": f"data/{table.name}.csv"}
        page = render_html(built, specs, files, history=history)
    (root / "index.html").write_text(page, encoding="utf-8")
    (root / "report.json").write_text(json.dumps(_meta(built, files, len(page.encode())), indent=2, default=str) + "\n",
                                      encoding="utf-8")
    return len(page.encode())


def chart_data(chart):
    """The polars frame a chart draws (its top-level ``data``)."""
    import polars as pl

    data = getattr(chart, "data", None)
    if isinstance(data, pl.DataFrame):
        return data
    raise InputError(f"chart {type(chart).__name__} carries no top-level polars frame")


def _clean(value: Any) -> Any:
    """NaN/inf → null (JSON has neither), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def json_for_script(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` or
    line separators appear literally, so data can never close the element."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (from vl-convert), inert links blanked."""
    import altair as alt
    import vl_convert as vlc

    vl_version = "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    if vl_version not in _bundle_cache:
        bundle = vlc.javascript_bundle(vl_version=vl_version)
        for link in _BUNDLE_LINKS:
            bundle = bundle.replace(link, "")
        if re.search(r"</script", bundle, re.I):
            raise RuntimeError("the Vega bundle contains '</script'; cannot inline it")
        _bundle_cache[vl_version] = bundle
    return _bundle_cache[vl_version]


_INIT_JS = """
(function () {
  "use strict";
  var opts = {actions: false, renderer: "svg", mode: "vega-lite"};
  document.querySelectorAll("div.vega-chart").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-spec")).textContent);
    vegaEmbed(el, spec, opts).then(function () {
      el.setAttribute("data-rendered", "1");
    }).catch(function (err) {
      el.setAttribute("data-rendered", "error");
      el.textContent = "This chart could not be drawn: " + err;
      console.error("cotwatch report: chart " + el.id + ": " + err);
    });
  });
})();
"""

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0;color:#222;background:#fff}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 24px}
header{padding-top:20px;border-bottom:1px solid #ddd}
h1{font-size:24px;margin:0 0 6px}
h2{font-size:19px;margin:28px 0 6px;border-bottom:1px solid #eee;padding-bottom:4px}
.meta{color:#555;font-size:13px;margin:4px 0}
nav{font-size:13px;margin:10px 0 14px}
nav a{margin-right:12px}
figure{margin:12px 0 20px}
figcaption{font-size:12px;color:#666}
.note{font-size:13px;color:#7a5b00;background:#fff8e1;padding:4px 8px;border-radius:3px}
caption{text-align:left;font-size:13px;color:#444;padding:2px 0}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0 18px;max-width:100%}
th,td{border:1px solid #e2e2e2;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word;max-width:720px}
td.kwic-left{text-align:right}
td.kwic-match{font-weight:bold;color:#b03a2e}
.omitted li{font-size:13px;color:#555}
"""


def _csp(scripts: list[str]) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    # 'unsafe-eval': Vega compiles its expressions with Function(); without it nothing renders.
    return (f"default-src 'none'; script-src {hashes} 'unsafe-eval'; style-src 'unsafe-inline'; "
            "img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")


def render_html(built, specs: dict[str, dict], files: dict[str, dict[str, str]], *, history: bool = False) -> str:
    """The page, as a string. Every piece of text from the store or spec goes through html.escape."""
    e = html.escape
    bundle = vega_bundle()
    spec = built.spec
    runs = ", ".join(built.runs)
    n = sum(built.transcript_counts.values())
    body: list[str] = []
    body.append("<header>")
    body.append(f"<h1>{e(spec.title)}</h1>")
    if spec.description:
        body.append(f"<p>{e(spec.description)}</p>")
    meta = (f"Generated {e(built.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} from {e(built.store_path)}"
            f" · runs: {e(runs)} · {n:,} transcripts")
    if built.since is not None:
        meta += f" · runs with transcripts ingested since {e(built.since.isoformat(timespec='minutes'))}"
    body.append(f'<p class="meta">{meta}</p>')
    links = [f'<a href="#{e(s.name)}">{e(s.title)}</a>' for s in built.sections]
    if history:
        links.append('<a href="history/index.html">History</a>')
    body.append(f"<nav>{''.join(links)}</nav></header><main>")
    for section in built.sections:
        body.append(f'<section id="{e(section.name)}"><h2>{e(section.title)}</h2>')
        if section.intro:
            body.append(f"<p>{e(section.intro)}</p>")
        for note in section.notes:
            body.append(f'<p class="note">{e(note)}</p>')
        for item in section.charts:
            f = files[item.name]
            downloads = " · ".join(f'<a href="{e(path)}">{e(kind.upper())}</a>' for kind, path in
                                   (("png", f.get("png")), ("svg", f.get("svg")), ("csv", f["csv"])) if path)
            body.append(f'<figure><div class="vega-chart" id="chart-{e(item.name)}" data-spec="spec-{e(item.name)}"></div>'
                        f"<figcaption>{e(item.caption) + ' · ' if item.caption else ''}{downloads}</figcaption></figure>")
        for table in section.tables:
            body.append(_table_html(table, files[table.name]["csv"]))
        body.append("</section>")
    if built.omitted:
        body.append('<section id="omitted"><h2>Omitted sections</h2><ul class="omitted">')
        body.extend(f"<li><b>{e(o.title)}</b>: {e(o.reason)}</li>" for o in built.omitted)
        body.append("</ul></section>")
    body.append('</main><footer><p class="meta">cotwatch report · <a href="report.json">report.json</a>'
                " · every chart's data is under data/</p></footer>")
    for name, chart_spec in specs.items():
        body.append(f'<script type="application/json" id="spec-{e(name)}">{json_for_script(chart_spec)}</script>')
    body.append(f"<script>{_INIT_JS}</script>")
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{e(_csp([bundle, _INIT_JS]))}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(spec.title)}</title>\n<style>{_CSS}</style>\n"
        f"<script>{bundle}</script>\n</head>\n<body>\n"
    )
    return head + "\n".join(body) + "\n</body>\n</html>\n"


def _table_html(table, csv_path: str) -> str:
    e = html.escape
    df = table.frame
    numeric = {c for c, t in zip(df.columns, df.dtypes) if t.is_numeric()}
    rows = [f"<caption>{e(table.caption)} <a href=\"{e(csv_path)}\">CSV</a></caption>",
            "<thead><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in df.columns) + "</tr></thead><tbody>"]
    for row in df.iter_rows(named=True):
        cells = []
        for col, value in row.items():
            cls = "num" if col in numeric else {"left": "text kwic-left", "match": "text kwic-match", "right": "text",
                                                 "sentence": "text", "example": "text"}.get(col, "")
            cells.append(f'<td class="{cls}">{e(_fmt(value))}</td>' if cls else f"<td>{e(_fmt(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rows.append("</tbody>")
    return f'<table id="table-{e(table.name)}">' + "".join(rows) + "</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _meta(built, files: dict, page_bytes: int) -> dict:
    return {
        "format": "cotwatch-report/1",
        "title": built.spec.title,
        "generated_at": built.generated_at.isoformat(),
        "since": built.since.isoformat() if built.since else None,
        "store": built.store_path,
        "runs": built.runs,
        "transcript_counts": built.transcript_counts,
        "transcripts": sum(built.transcript_counts.values()),
        "spec": built.spec.to_json(),
        "sections": [{"name": s.name, "title": s.title, "charts": [c.name for c in s.charts],
                      "tables": [t.name for t in s.tables], "notes": s.notes} for s in built.sections],
        "omitted": [{"name": o.name, "title": o.title, "reason": o.reason} for o in built.omitted],
        "files": files,
        "index_html_bytes": page_bytes,
        "versions": package_versions(),
    }


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    import vl_convert as vlc

    versions: dict[str, str | None] = {}
    for dist in ("cotwatch", "altair", "vl-convert-python", "duckdb", "polars", "pyarrow", "scikit-learn",
                 "sentence-transformers"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    versions["vega"] = vlc.get_vega_version()
    versions["vega-embed"] = vlc.get_vega_embed_version()
    import altair as alt

    versions["vega-lite"] = alt.SCHEMA_VERSION
    return versions


# -- history and atomic publication ---------------------------------------------------------------
def _check_replaceable(out: Path) -> None:
    """Refuse to replace a directory that is not a previous report (it may hold the user's files)."""
    if out.exists():
        if not out.is_dir():
            raise InputError(f"--out {out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / _MARKER).is_file():
            raise InputError(f"--out {out}: directory exists, is not empty and holds no cotwatch report "
                             f"({_MARKER}); refusing to replace it")


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a tree by hard links (report files are never modified in place), copying when linking fails."""
    def link(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)
    shutil.copytree(src, dst, copy_function=link)


def _carry_history(out: Path, tmp: Path, built, *, add: bool) -> None:
    old = out / "history"
    if old.is_dir():
        _link_tree(old, tmp / "history")
    if add:
        day = built.generated_at.astimezone().strftime("%Y-%m-%d")
        dest = tmp / "history" / day
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for entry in tmp.iterdir():
            if entry.name == "history":
                continue
            if entry.is_dir():
                _link_tree(entry, dest / entry.name)
            else:
                os.link(entry, dest / entry.name)
    if (tmp / "history").is_dir():
        (tmp / "history" / "index.html").write_text(_history_index(tmp / "history", built.spec.title), encoding="utf-8")


def _history_index(folder: Path, title: str) -> str:
    e = html.escape
    days = sorted((p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name)),
                  reverse=True)
    items = []
    for day in days:
        info = ""
        with contextlib.suppress(OSError, ValueError, KeyError):
            meta = json.loads((folder / day / _MARKER).read_text(encoding="utf-8"))
            info = f" — {meta['transcripts']:,} transcripts, runs: {', '.join(meta['runs'])}"
        items.append(f'<li><a href="{e(day)}/index.html">{e(day)}</a>{e(info)}</li>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{e(title)} — history</title><style>{_CSS}</style></head><body><header>"
            f"<h1>{e(title)} — history</h1><p class=\"meta\"><a href=\"../index.html\">latest report</a></p></header>"
            f"<main><ul>{''.join(items) or '<li>no dated copies yet (run with --history)</li>'}</ul></main></body></html>\n")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _publish(tmp: Path, out: Path) -> None:
    """Put the finished tree ``tmp`` at ``out``; the previous report (if any) is removed after."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous report
        return
    old = tmp.with_name(tmp.name.replace(".tmp-", ".old-"))
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["write_report", "parse_since", "render_html", "json_for_script", "page_urls", "chart_data",
           "vega_bundle", "package_versions", "NAMESPACE_URLS"]
