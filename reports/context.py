"""What the section builders share: the build context, the Omit signal, section titles, file
names made from run names, and step thinning."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.reports.model import Evidence
from cotwatch.reports.spec import ReportSpec

Log = Callable[[str], None]

SECTION_TITLES = {
    "overview": "Overview",
    "terms": "Watchlist terms",
    "heatmap": "Terms × checkpoints",
    "emergent": "Emergent terms",
    "word_shift": "Word shift",
    "usage_drift": "Usage drift",
    "awareness": "Eval awareness",
    "awareness_covert": "Awareness × covert action",
    "environments": "Per-environment breakdown",
    "evidence": "Evidence",
}

#: A file name made from a run name keeps at most this many characters of it (plus a hash).
SLUG_KEEP = 40


class Omit(Exception):
    """Raised by a section builder: the section is left out, for this reason."""


@dataclass
class Context:
    """What the section builders share: the store, the spec, the runs, and cached frames."""

    store: Store
    spec: ReportSpec
    runs: list[str]
    run_info: Any                      # polars frame from report_runs.sql
    log: Log
    strict: bool
    cache: dict[str, Any] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)


def slug(text: str) -> str:
    """A file-name-safe, bounded form of a run name (letters, digits, ``-``, ``_``, ``.``; at
    most ``SLUG_KEEP`` of them). A name that had to change carries a hash of the original, so
    ``rl a`` and ``rl-a`` never share files and a 300-character run name still fits a file name.

    >>> slug("rl-7.b_2"), slug("rl a")
    ('rl-7.b_2', 'rl-a-93e87bbd')
    """
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    if s == text and len(s) <= SLUG_KEEP:
        return s
    return f"{s[:SLUG_KEEP].rstrip('-.') or 'run'}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def item_name(base: str, run: str | None, several: bool) -> str:
    """A chart or table name (its files are ``data/<name>.csv`` etc.): ``base`` alone for a
    one-run report, else ``base__<slug(run)>``."""
    return base if run is None or not several else f"{base}__{slug(run)}"


# -- helpers shared by sections -----------------------------------------------------------------
def overview_frame(ctx: Context):
    if "overview" not in ctx.cache:
        ctx.cache["overview"] = ctx.store.frame(load_sql("report_overview", __package__), {"runs": ctx.runs})
    return ctx.cache["overview"]


def run_steps(ctx: Context, run: str) -> list[int]:
    import polars as pl

    return sorted(overview_frame(ctx).filter(pl.col("run") == run)["step"].unique().to_list())


def thin_steps(df, max_steps: int):
    """Keep at most ``max_steps`` evenly spaced steps per run (first and last always kept)."""
    import polars as pl

    if df.is_empty():
        return df
    steps = df.select("run", "step").unique().sort("run", "step").with_columns(
        pl.col("step").rank("ordinal").over("run").alias("_i"), pl.len().over("run").alias("_n"))
    keep = steps.filter(
        (pl.col("_n") <= max_steps)
        | ((pl.col("_i") - 1) * (max_steps - 1) // (pl.col("_n") - 1)
           != (pl.col("_i") - 2) * (max_steps - 1) // (pl.col("_n") - 1))
        | (pl.col("_i") == pl.col("_n"))
    ).select("run", "step")
    return df.join(keep, on=["run", "step"], how="semi")
