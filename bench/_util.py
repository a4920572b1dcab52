"""Helpers shared by the benchmark scripts: run a snippet in a fresh process, measure it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_WRAPPER = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, {repo!r})
    t0 = time.perf_counter()
    extra = {{}}
    {body}
    elapsed = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("__RESULT__" + json.dumps({{"seconds": elapsed, "peak_rss_mb": rss_mb, "peak_child_rss_mb": children_mb, **extra}}))
    """
)


def measure(body: str, **fmt) -> dict:
    """Run ``body`` (Python, may set ``extra[...]``) in a fresh interpreter: seconds and peak RSS.

    Start-up and imports before ``t0`` are not counted. ``peak_rss_mb`` is the process's own peak;
    ``peak_child_rss_mb`` the largest peak of any worker process it started.
    """
    code = _WRAPPER.format(repo=str(REPO), body=textwrap.indent(textwrap.dedent(body).format(**fmt), "").strip())
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("__RESULT__"))
    return json.loads(line.removeprefix("__RESULT__"))


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.rjust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).rjust(widths[c]) for c in columns))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)
