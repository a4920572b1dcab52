"""What a built report is made of: sections of charts and tables, the evidence behind them, and
what was left out and why. Plain data; ``build`` fills it, ``render``/``files`` write it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cotwatch.reports.spec import ReportSpec


@dataclass(frozen=True)
class Drill:
    """How a click on a chart mark filters the evidence panel: ``fields`` maps an evidence
    attribute (``run``, ``step``, ``term``, ``environment``) to the datum field holding its value;
    ``kinds`` says which evidence the chart points to (``kwic``, ``sentence``)."""

    kinds: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds), "fields": dict(self.fields)}


@dataclass
class ChartItem:
    name: str          # file-name safe, bounded; unique within the report
    chart: Any         # an altair chart; its .data is the frame saved as data/<name>.csv
    caption: str = ""
    drill: Drill | None = None


@dataclass
class TableItem:
    name: str
    caption: str
    frame: Any         # polars DataFrame of raw values; the template escapes every cell


@dataclass
class Section:
    name: str
    title: str
    intro: str = ""
    charts: list[ChartItem] = field(default_factory=list)
    tables: list[TableItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: a warning shown as a banner above the section (e.g. the awareness correction may not transfer)
    banner: str | None = None
    #: run → why this section has nothing for it
    runs_omitted: dict[str, str] = field(default_factory=dict)


@dataclass
class Omitted:
    name: str
    title: str
    reason: str


@dataclass
class Evidence:
    """The evidence rows embedded in the page (raw strings; escaped by the template).

    ``kwic``: ``run, step, environment, transcript_id, term, left, match, right`` — up to the
    spec's ``kwic_lines`` per (run, term, step) cell. ``sentences``: ``run, step, environment,
    transcript_id, score, text`` — up to ``sentences`` per (run, step, environment)."""

    kwic: Any = None
    sentences: Any = None
    notes: list[str] = field(default_factory=list)

    def rows(self) -> int:
        return sum(f.height for f in (self.kwic, self.sentences) if f is not None)


@dataclass
class BuiltReport:
    spec: ReportSpec
    store_path: str
    runs: list[str]
    transcript_counts: dict[str, int]
    sections: list[Section]
    omitted: list[Omitted]
    generated_at: datetime
    since: datetime | None = None
    evidence: Evidence = field(default_factory=Evidence)
    #: sections the spec did not ask for: name → reason ("not in the spec", "enabled = false")
    left_out: dict[str, str] = field(default_factory=dict)
