"""Serving the viewer: the standard library's threaded HTTP server running the WSGI app.

Why this stack: every page is a few blocking DuckDB queries, so one thread per request (the
standard library's ``ThreadingMixIn`` around ``wsgiref``'s WSGI server) is the natural model and
needs nothing beyond Jinja2, which the package already depends on. An async framework
(Starlette on uvicorn) would run each handler in a thread pool anyway and would own signal
handling, which the CLI needs for its own exit code (130 on Ctrl-C, no traceback).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from cotwatch.analytics.errors import InputError
from cotwatch.reports.viewer.app import Viewer
from cotwatch.reports.viewer.text import _hidden_re, plain

#: seconds a connection may stay silent before the server drops it (slow clients hold a thread)
SOCKET_TIMEOUT = 30
DEFAULT_PORT = 8765


class _Handler(WSGIRequestHandler):
    timeout = SOCKET_TIMEOUT
    log_requests = False

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (the base class's name)
        if self.log_requests:
            self.server.log(plain(f"cotwatch view: {self.address_string()} {format % args}"))

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        self.server.log(plain(f"cotwatch view: {self.address_string()} {format % args}"))


class ViewerServer(socketserver.ThreadingMixIn, WSGIServer):
    """A threaded WSGI server (one thread per request, daemon threads)."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address, handler, *, log: Callable[[str], None], ipv6: bool = False):
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.log = log
        super().__init__(address, handler)

    def server_close(self) -> None:
        """Close the socket and let go of the store."""
        super().server_close()
        viewer = getattr(self, "viewer", None)
        if viewer is not None:
            viewer.lease.close()

    def handle_error(self, request, client_address) -> None:
        """A dropped connection or a client's garbage: one line, never a traceback."""
        import sys

        exc = sys.exc_info()[1]
        self.log(plain(f"cotwatch view: connection from {client_address[0]} failed: {type(exc).__name__}: {exc}"))


def make_server(db: str | os.PathLike[str] | None = None, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                report_dir: str | os.PathLike[str] | None = None, wait: float = 30.0,
                log: Callable[[str], None] | None = None, access_log: bool = False) -> ViewerServer:
    """A server bound to ``host:port`` (port 0: any free port) serving the store at ``db``.

    Checks first that the store opens read-only (StoreMissing/StoreNeedsUpgrade/StoreLocked) and
    that ``report_dir`` is a folder; a port in use is an InputError.
    """
    import sys

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if report_dir is not None and not Path(report_dir).is_dir():
        raise InputError(f"--report {report_dir}: no such folder")
    app = Viewer(db, report_dir=report_dir, wait=wait, log=log)
    app.lease.check()
    _hidden_re()  # build the hidden-character class now (~0.4 s), not on the first page
    try:
        ipv6 = isinstance(ipaddress.ip_address(host.strip("[]")), ipaddress.IPv6Address)
    except ValueError:
        ipv6 = False
    handler = type("Handler", (_Handler,), {"log_requests": access_log})
    try:
        server = ViewerServer((host.strip("[]"), port), handler, log=log, ipv6=ipv6)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                         + (" (choose another --port, or 0 for any free one)" if port else "")) from None
    app.port = server.server_address[1]
    server.set_app(app)
    server.viewer = app
    return server


def url_of(server: ViewerServer) -> str:
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def serve(db: str | os.PathLike[str] | None = None, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          report_dir: str | os.PathLike[str] | None = None, wait: float = 30.0,
          log: Callable[[str], None] | None = None, access_log: bool = False,
          ready: Callable[[ViewerServer], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C raises KeyboardInterrupt here, after the socket is closed).

    >>> serve("runs.duckdb", port=8765, report_dir="weekly-report")   # doctest: +SKIP
    """
    import sys

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    server = make_server(db, host=host, port=port, report_dir=report_dir, wait=wait, log=log, access_log=access_log)
    viewer: Viewer = server.viewer
    try:
        log(f"cotwatch view: serving {plain(viewer.lease.path)} read-only at {url_of(server)}"
            + (f" (report: {url_of(server)}report/)" if report_dir is not None else "") + " — Ctrl-C stops")
        if not is_loopback(host):
            log(f"cotwatch view: warning: {host} is not a loopback address: anyone who can reach this machine "
                "can read the store through the viewer (it has no login)")
        if ready is not None:
            ready(server)
        server.serve_forever(poll_interval=0.25)
    finally:
        server.server_close()


def serve_in_thread(server: ViewerServer) -> threading.Thread:
    """Run ``server`` in a daemon thread (tests, notebooks); stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread
