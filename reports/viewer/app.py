"""The viewer's WSGI application: routes, parameters, templates, headers, and the report folder.

Routes (all GET/HEAD; every page is reachable by links from ``/``)::

    /                              runs, store totals, search box, the report when one is served
    /run?run=R                     steps of a run (counts, environments, raw classifier flags)
    /transcripts?run=R[&step=S][&environment=E|&no_environment=1][&page=N]
    /transcript?run=R&id=ID[&q=…]  one transcript: every segment, flagged sentences, hits of q
    /search?q=…[&mode=auto|term|phrase|text][&scope=…][&run=…][&step=…][&environment=…][&after=K]
    /report/…                      the files of ``--report DIR`` (sandboxed, see below)
    /static/viewer.css             the one stylesheet (and /static/favicon.svg, /favicon.ico: the icon)

Safety (transcripts are untrusted model output; see docs/viewer.md for the attack list):

* Templates autoescape; transcript text goes through :mod:`.text` (escaped, hidden characters
  shown). Viewer pages carry a Content-Security-Policy without any script source at all.
* Requests whose ``Host`` is a name other than ``localhost`` or this machine's own (a DNS-rebinding
  page) are refused, and so are cross-site subresource requests (``Sec-Fetch-Site``).
* ``/report/`` serves regular files inside the folder only: any ``..``, ``.`` or hidden path
  component, NUL, backslash or a symlink leading outside is a 404. Report pages run sandboxed
  (CSP ``sandbox``, an opaque origin) with no network access, so not even a hostile HTML file in
  that folder can read the viewer's pages.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import duckdb
from cotwatch.analytics.errors import (
    CotwatchError,
    QueryTimeout,
    StoreLocked,
    StoreMissing,
)
from cotwatch.reports.viewer import data, search
from cotwatch.reports.viewer.data import BadRequest, NotFound
from cotwatch.reports.viewer.lease import StoreLease
from cotwatch.reports.viewer.text import exact, plain, visible
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

#: viewer pages run no script at all
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
#: report HTML: its own inline scripts (each report page also pins them by hash in a <meta> CSP),
#: no network, and a sandbox (an opaque origin: it cannot read the viewer's pages)
REPORT_HTML_CSP = ("sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads; "
                   "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
                   "img-src 'self' data:; font-src data:; connect-src 'none'; frame-src 'none'; "
                   "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
#: any other report file (SVG, PNG, CSV, JSON): nothing runs
REPORT_FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
#: the report's file types; anything else is sent as a download
REPORT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".json": "application/json", ".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml", ".css": "text/css",
}
COMMON_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]
MAX_QUERY_STRING = 8192
_STATUS = {200: "200 OK", 301: "301 Moved Permanently", 400: "400 Bad Request", 403: "403 Forbidden",
           404: "404 Not Found", 405: "405 Method Not Allowed", 414: "414 URI Too Long",
           421: "421 Misdirected Request", 500: "500 Internal Server Error", 503: "503 Service Unavailable"}


class Response:
    def __init__(self, body: bytes | Iterable[bytes], status: int = 200, content_type: str = "text/html; charset=utf-8",
                 headers: list[tuple[str, str]] | None = None, csp: str = PAGE_CSP, length: int | None = None):
        self.body = body
        self.status = status
        self.content_type = content_type
        self.headers = headers or []
        self.csp = csp
        self.length = len(body) if isinstance(body, bytes) else length


class Viewer:
    """``Viewer(db, report_dir=None)`` is a WSGI application serving the store read-only.

    >>> from wsgiref.simple_server import make_server
    >>> make_server("127.0.0.1", 8765, Viewer("runs.duckdb")).serve_forever()   # doctest: +SKIP
    """

    def __init__(self, db: str | os.PathLike[str] | None = None, *, report_dir: str | os.PathLike[str] | None = None,
                 wait: float = 30.0, linger: float = 2.0, time_limit: float = 10.0, port: int | None = None,
                 log: Callable[[str], None] | None = None):
        self.lease = StoreLease(db, wait=wait, linger=linger, time_limit=time_limit)
        self.report_dir = Path(report_dir).resolve() if report_dir is not None else None
        self.port = port
        sink = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        # one line, with anything that could act on a terminal made visible (messages quote data)
        self.log = lambda msg: sink(plain(" ".join(str(msg).splitlines())))
        self.env = Environment(loader=PackageLoader(__package__, "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(url=url, report=self.report_dir is not None, store_path=str(self.lease.path))
        self.env.filters.update(visible=visible, plain=plain, exact=exact, num=_num, score=_score)
        self._local_names = _local_names()
        self.routes: dict[str, Callable[[dict[str, str]], Response]] = {
            "/": self.index, "/run": self.run, "/transcripts": self.transcripts, "/transcript": self.transcript,
            "/search": self.search, "/static/viewer.css": self.stylesheet,
            "/static/favicon.svg": self.favicon, "/favicon.ico": self.favicon,
        }

    # -- WSGI ----------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            response = self.dispatch(environ)
        except Exception as exc:  # a bug: one line on stderr, a plain page, never a traceback
            self.log(f"cotwatch view: error: {_one_line(environ)}: {type(exc).__name__}: {exc}")
            if os.environ.get("COTWATCH_VIEW_DEBUG"):
                traceback.print_exc()
            response = self.error_page(500, "Internal error", "The viewer failed on this page (details on its stderr).")
        headers = [("Content-Type", response.content_type), *COMMON_HEADERS,
                   ("Content-Security-Policy", response.csp), *response.headers]
        if response.length is not None:
            headers.append(("Content-Length", str(response.length)))
        start_response(_STATUS.get(response.status, f"{response.status} Error"), headers)
        if method == "HEAD":
            close = getattr(response.body, "close", None)
            if close:
                close()
            return [b""]
        return [response.body] if isinstance(response.body, bytes) else response.body

    def dispatch(self, environ: dict[str, Any]) -> Response:
        refusal = self.refuse(environ)
        if refusal is not None:
            return refusal
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self.error_page(405, "Method not allowed", "The viewer only reads.", [("Allow", "GET, HEAD")])
        try:
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return self.error_page(400, "Bad request", "The path is not UTF-8.")
        if path == "/report" or path.startswith("/report/"):
            return self.report_file(path)
        handler = self.routes.get(path)
        if handler is None:
            return self.error_page(404, "Not found", "There is no page here.")
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_STRING:
            return self.error_page(414, "Request too long", "The query string is too long.")
        try:
            params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True, strict_parsing=False,
                                                    errors="strict", max_num_fields=40).items()}
        except (UnicodeDecodeError, ValueError):
            return self.error_page(400, "Bad request", "The query string is not valid (UTF-8, at most 40 fields).")
        try:
            return handler(params)
        except NotFound as exc:
            return self.error_page(404, "Not found", str(exc))
        except BadRequest as exc:
            return self.error_page(400, "Bad request", str(exc))
        except QueryTimeout as exc:
            return self.error_page(503, "Too slow", f"{exc}. Narrow the page (a run, a step, an environment).",
                                   [("Retry-After", "5")])
        except StoreLocked as exc:
            return self.error_page(503, "Store busy", f"{exc}. The viewer reads again on the next request.",
                                   [("Retry-After", "5")])
        except StoreMissing as exc:
            return self.error_page(503, "Store unavailable", str(exc))
        except CotwatchError as exc:
            return self.error_page(400, "Bad request", str(exc))
        except duckdb.Error as exc:
            self.log(f"cotwatch view: error: {_one_line(environ)}: {' '.join(str(exc).split())[:300]}")
            return self.error_page(500, "Store error", "The store could not answer this page (details on the viewer's stderr).")

    def refuse(self, environ: dict[str, Any]) -> Response | None:
        """Refuse requests a local viewer must not answer: another site's page reading it (DNS
        rebinding: a Host name that is not local) or fetching from it (Sec-Fetch-Site)."""
        host = environ.get("HTTP_HOST")
        if host is not None and not self._host_ok(host):
            return self.error_page(421, "Misdirected request",
                                   "The viewer answers requests for localhost, this machine's name or an IP address only.")
        site = environ.get("HTTP_SEC_FETCH_SITE")
        mode = environ.get("HTTP_SEC_FETCH_MODE")
        if site == "cross-site" and mode not in (None, "navigate"):
            return self.error_page(403, "Forbidden", "Another site may not load the viewer's pages.")
        return None

    def _host_ok(self, host: str) -> bool:
        name, port = _split_host(host)
        if name is None:
            return False
        if self.port is not None and port is not None and port != self.port:
            return False
        if name in self._local_names or name.endswith(".localhost"):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    # -- pages ---------------------------------------------------------------------------------------
    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        body = self.env.get_template(template).render(**context).encode("utf-8")
        return Response(body, status)

    def error_page(self, status: int, title: str, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
        body = self.env.get_template("error.html").render(title=title, message=message, status=status).encode("utf-8")
        return Response(body, status, headers=headers)

    def index(self, params: dict[str, str]) -> Response:
        with self.lease.reader() as reader:
            runs = data.runs(reader)
            counts = data.store_counts(reader)
        return self.render("index.html", runs=runs, counts=counts, title="Runs")

    def run(self, params: dict[str, str]) -> Response:
        run = params.get("run")
        with self.lease.reader() as reader:
            page = data.run_page(reader, data.require_run(reader, run))
        return self.render("run.html", title=f"Run {plain(run)}", **page)

    def transcripts(self, params: dict[str, str]) -> Response:
        step = _int(params, "step")
        page_no = _int(params, "page") or 0
        if page_no < 0:
            raise BadRequest("page must be 0 or more")
        environment = params.get("environment")
        with self.lease.reader() as reader:
            page = data.transcript_list(reader, params.get("run"), step=step, environment=environment,
                                        no_environment=params.get("no_environment") == "1", page=page_no)
        return self.render("transcripts.html", title=f"Transcripts of {plain(page['run'])}", **page)

    def transcript(self, params: dict[str, str]) -> Response:
        q = params.get("q") or None
        matcher = search.parse_query(q, params.get("mode") or "auto") if q else None
        with self.lease.reader() as reader:
            head = data.find_transcript(reader, params.get("run"), params.get("id"))
            if isinstance(head, list):
                return self.render("choose.html", title="Which transcript?", choices=head, q=q)
            page = data.transcript_page(reader, head, matcher)
        return self.render("transcript.html", title=f"Transcript {plain(head['id'])}", q=q, matcher=matcher, **page)

    def search(self, params: dict[str, str]) -> Response:
        q = params.get("q") or ""
        mode = params.get("mode") or "auto"
        scope = params.get("scope") or "reasoning"
        filters = search.Filters(run=params.get("run") or None, step=_int(params, "step"),
                                 environment=params.get("environment") or None)
        after = _int(params, "after")
        matcher, error, result = None, None, None
        if q:
            try:
                matcher = search.parse_query(q, mode)
            except BadRequest as exc:
                error = str(exc)
        with self.lease.reader() as reader:
            runs = data.runs(reader)
            if matcher is not None:
                if filters.run is not None:
                    data.require_run(reader, filters.run)
                result = search.search(reader, matcher, scope=scope, filters=filters,
                                       after=after if after is not None else -1)
        return self.render("search.html", status=400 if error else 200, title=f"Search: {plain(q)}" if q else "Search",
                           q=q, mode=mode, scope=scope, filters=filters, modes=search.MODES, scopes=search.SCOPES,
                           runs=runs, result=result, error=error, progress=search.progress)

    def stylesheet(self, params: dict[str, str]) -> Response:
        css = (resources.files(__package__) / "static" / "viewer.css").read_bytes()
        return Response(css, content_type="text/css; charset=utf-8")

    def favicon(self, params: dict[str, str]) -> Response:
        """The icon (browsers ask for /favicon.ico on every site, report pages included)."""
        svg = (resources.files(__package__) / "static" / "favicon.svg").read_bytes()
        return Response(svg, content_type="image/svg+xml", csp="default-src 'none'; style-src 'unsafe-inline'")

    # -- the report folder -----------------------------------------------------------------------------
    def report_file(self, path: str) -> Response:
        if self.report_dir is None:
            return self.error_page(404, "No report", "Start the viewer with --report DIR to serve a report here.")
        if path == "/report":
            return Response(b"", 301, headers=[("Location", "/report/")])
        target = safe_report_path(self.report_dir, path.removeprefix("/report/"))
        if target is None:
            return self.error_page(404, "Not found", "There is no such file in the report.")
        try:
            fh = open(target, "rb")  # noqa: SIM115  (closed by the WSGI server through the iterator)
        except OSError:
            return self.error_page(404, "Not found", "There is no such file in the report.")
        size = os.fstat(fh.fileno()).st_size
        ctype = REPORT_TYPES.get(target.suffix.lower())
        headers = []
        if ctype is None:
            ctype = "application/octet-stream"
            headers.append(("Content-Disposition", "attachment"))
        csp = REPORT_HTML_CSP if ctype.startswith("text/html") else REPORT_FILE_CSP
        return Response(_FileBody(fh), content_type=ctype, headers=headers, csp=csp, length=size)


class _FileBody:
    """A file streamed in chunks, closed by the server when the response ends."""

    def __init__(self, fh):
        self.fh = fh

    def __iter__(self):
        while True:
            chunk = self.fh.read(1 << 16)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        self.fh.close()


def safe_report_path(root: Path, relative: str) -> Path | None:
    """The regular file ``relative`` names inside ``root``, or None. Refused: empty, ``.``/``..``
    or hidden components, NUL, backslashes, and anything whose real path (symlinks resolved)
    leaves ``root``. A directory means its ``index.html``."""
    if "\x00" in relative or "\\" in relative:
        return None
    parts = [p for p in relative.split("/") if p != ""]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    target = root.joinpath(*parts)
    try:
        real = target.resolve(strict=True)
        if real.is_dir():
            real = (real / "index.html").resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    return real


# -- helpers -----------------------------------------------------------------------------------------
def url(path: str, **params: Any) -> str:
    """A link to one of the viewer's pages; every parameter value is percent-encoded (UTF-8)."""
    kept = {k: str(v) for k, v in params.items() if v is not None and v is not False and v != ""}
    return path + ("?" + urlencode(kept, quote_via=quote, safe="") if kept else "")


def _int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {value!r}") from None
    if abs(number) > 2**62:
        raise BadRequest(f"{name} is out of range")
    return number


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _score(value: Any) -> str:
    return "" if value is None else f"{value:.3f}"


def _split_host(host: str) -> tuple[str | None, int | None]:
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None, None
        name, rest = host[1:end], host[end + 1:]
        port = rest[1:] if rest.startswith(":") else None
    else:
        name, _, port = host.partition(":")
        port = port or None
    if port is not None:
        if not port.isdigit():
            return None, None
        return name, int(port)
    return name, None


def _local_names() -> set[str]:
    names = {"localhost"}
    for get in (socket.gethostname, socket.getfqdn):
        try:
            names.add(get().lower())
        except OSError:
            pass
    return names


def _one_line(environ: dict[str, Any]) -> str:
    text = f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"
    if environ.get("QUERY_STRING"):
        text += "?" + environ["QUERY_STRING"]
    return plain(text)[:300]
