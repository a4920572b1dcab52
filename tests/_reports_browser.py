"""Drive headless Chromium through the DevTools protocol over a pipe — no extra dependencies.

Why the protocol and not ``--dump-dom``: a DOM dump shows what rendered, but not what went wrong
on the way. Over ``--remote-debugging-pipe`` (Chromium reads JSON commands, NUL-terminated, on
fd 3 and writes replies and events on fd 4) we subscribe, *before* the page loads, to:

* ``Runtime.consoleAPICalled`` (``console.error``/``assert``) and ``Runtime.exceptionThrown``
  (uncaught errors, including in Vega's rendering) — the page's console errors;
* ``Log.entryAdded`` at level ``error`` — errors the browser itself reports for the page, such as
  Content-Security-Policy violations and failed loads;
* ``Network.requestWillBeSent`` — every request the page starts, whatever its outcome, so a
  request to anything but ``file:``/``data:``/``blob:``/``about:`` is seen even though it fails.

Networking is off three ways: the page's network is emulated offline
(``Network.emulateNetworkConditions``), host names resolve to nothing (``--host-resolver-rules``)
and every proxied request goes to a closed local port (``--proxy-server``). The page is then
inspected with ``Runtime.evaluate`` and hovered with ``Input.dispatchMouseEvent``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def find_chromium() -> str | None:
    return os.environ.get("COTWATCH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _high_fd(fd: int) -> int:
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def remote_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


class Browser:
    """One headless Chromium with one page, controlled over the DevTools pipe."""

    def __init__(self, chromium: str, timeout: float = 60.0, loopback: bool = False):
        """``loopback=True``: pages may load from http://127.0.0.1 (every other host still resolves
        to nothing); otherwise the page's network is emulated offline as well."""
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="cotwatch-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        # Move the child's ends above fd 9 so "3<&X 4>&Y" below cannot clobber one with the other.
        cmd_r, resp_w = (_high_fd(fd) for fd in (cmd_r, resp_w))
        args = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if loopback else ""),
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=" + ("127.0.0.1" if loopback else "<-loopback>"),
            f"--user-data-dir={self.profile}", "--window-size=1300,2000", "--remote-debugging-pipe", "about:blank",
        ]
        # bash (dash cannot redirect fds above 9) puts our pipe ends on fd 3 (commands in) and fd 4 (replies out), as Chromium expects.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{resp_w}', *args],
            pass_fds=(cmd_r, resp_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(cmd_r)
        os.close(resp_w)
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: queue.Queue = queue.Queue()
        self.log = PageLog()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.session = None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
            self.send(method)
        if not loopback:
            self.send("Network.emulateNetworkConditions",
                      {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    def _drain_stderr(self) -> None:
        for _ in iter(self.proc.stderr.readline, b""):
            pass

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._resp_r, "rb", buffering=0) as fh:
            while True:
                chunk = fh.read(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    msg = json.loads(raw)
                    if "id" in msg:
                        with self._lock:
                            box = self._replies.get(msg["id"])
                        if box is not None:
                            box.put(msg)
                    else:
                        self._event(msg)

    def _event(self, msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.log.console_errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {}).get("description") or details.get("text")
            self.log.console_errors.append(f"exception: {exc}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.log.console_errors.append(f"log.{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params.get("request", {}).get("url", ""))
        self.events.put(msg)

    def send(self, method: str, params: dict | None = None) -> dict:
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            box: queue.Queue = queue.Queue()
            self._replies[mid] = box
        msg = {"id": mid, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        try:
            reply = box.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"chromium did not answer {method} within {self.timeout:g}s") from None
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path | str, ready: str, timeout: float = 45.0) -> None:
        """Navigate to ``path`` (a file, or a URL string) and wait until the JS expression ``ready`` is true."""
        self.send("Page.navigate", {"url": path if isinstance(path, str) else path.resolve().as_uri()})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"document.readyState === 'complete' && Boolean({ready})"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"page {path} not ready after {timeout:g}s ({ready})")

    def hover(self, x: float, y: float) -> None:
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def click(self, x: float, y: float) -> None:
        """A real left click (moved, pressed, released) at viewport coordinates."""
        self.hover(x, y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1,
                                                   "clickCount": 1})

    def close(self) -> None:
        try:
            os.close(self._cmd_w)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
