"""What each viewer page shows, read from the store through a :class:`~.lease.Reader`.

Functions return plain dicts and lists for the templates; nothing here writes HTML except the
transcript text, which goes through :mod:`.text` (escaped, verbatim, highlighted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cotwatch.analytics.kinds import REASONING_KINDS
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.reports.viewer.lease import Reader
from cotwatch.reports.viewer.text import Mark, render

#: transcripts per page of a step's list
PAGE_SIZE = 50
#: highest page offset the list accepts (a 1M-transcript run still pages; deeper = narrow by step)
MAX_OFFSET = 1_000_000_000


#: a sentence scoring at least this share of its classifier's threshold is underlined
NEAR_THRESHOLD = 0.5


class NotFound(Exception):
    """A run, transcript or file that does not exist (HTTP 404)."""


class BadRequest(Exception):
    """A parameter the page cannot use (HTTP 400)."""


# -- runs and steps ------------------------------------------------------------------------------
def runs(reader: Reader) -> list[dict[str, Any]]:
    return reader.dicts("viewer_runs")


def store_counts(reader: Reader) -> dict[str, int]:
    transcripts, segments, counted = reader.named("viewer_store_counts")[0]
    return {"transcripts": transcripts, "segments": segments, "counted": counted}


@dataclass
class Classifier:
    """The version of a classifier the views show for one run (latest registered with results)."""

    classifier_id: int
    name: str
    version: str
    threshold: float


def run_classifiers(reader: Reader, run: str) -> list[Classifier]:
    """Per classifier name, the version the SQL views show for ``run``: the rule of
    ``classifiers/sql/latest_classifier.sql`` (the one definition), asked once per name."""
    out = []
    latest = load_sql("latest_classifier", "cotwatch.classifiers")
    for (name,) in reader.named("viewer_classifier_names"):
        found = reader.rows(latest, {"name": name, "run": run})
        if found:
            cid = found[0][0]
            row = reader.dicts("viewer_classifier_version", {"classifier_id": cid})[0]
            out.append(Classifier(cid, row["name"], row["version"], row["threshold"]))
    return out


def require_run(reader: Reader, run: str | None) -> str:
    if run is None:
        raise BadRequest("which run? (the run parameter is missing)")
    if not reader.named("viewer_run", {"run": run}):
        raise NotFound(f"no run named {run!r} in this store")
    return run


def run_page(reader: Reader, run: str) -> dict[str, Any]:
    require_run(reader, run)
    steps = reader.dicts("viewer_steps", {"run": run})
    classifiers = run_classifiers(reader, run)
    flags: dict[int, dict[str, tuple[int, int]]] = {}
    for c in classifiers:
        for step, scored, flagged in reader.named("viewer_step_flags", {"run": run, "classifier_id": c.classifier_id}):
            flags.setdefault(step, {})[c.name] = (scored, flagged)
    for s in steps:
        s["flags"] = flags.get(s["step"], {})
    return {
        "run": run,
        "steps": steps,
        "environments": reader.dicts("viewer_environments", {"run": run}),
        "classifiers": classifiers,
        "transcripts": sum(s["transcripts"] for s in steps),
    }


def transcript_list(reader: Reader, run: str, *, step: int | None, environment: str | None,
                    no_environment: bool, page: int) -> dict[str, Any]:
    require_run(reader, run)
    offset = page * PAGE_SIZE
    if offset > MAX_OFFSET:
        raise BadRequest("page is too deep; narrow the list by step or environment")
    where = {"run": run, "step": step, "environment": environment, "no_environment": no_environment}
    [(total,)] = reader.named("viewer_transcript_count", where)
    classifiers = run_classifiers(reader, run)
    rows = reader.dicts("viewer_transcript_list", {
        **where, "classifier_ids": [c.classifier_id for c in classifiers], "limit": PAGE_SIZE, "offset": offset})
    for row in rows:
        row["scores"] = {entry["id"]: entry for entry in row["scores"] or []}
    pages = max(1, -(-total // PAGE_SIZE))
    return {"run": run, "step": step, "environment": environment, "no_environment": no_environment,
            "rows": rows, "total": total, "page": page, "pages": pages, "page_size": PAGE_SIZE,
            "classifiers": classifiers}


# -- one transcript --------------------------------------------------------------------------------
@dataclass
class Segment:
    ordinal: int
    role: str | None
    kind: str
    redacted: bool
    text: str
    html: Any = None
    hits: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_reasoning(self) -> bool:
        return self.kind in REASONING_KINDS


def find_transcript(reader: Reader, run: str | None, transcript_id: str | None) -> dict[str, Any] | list[dict]:
    """The transcript's fields; a list of candidates when ``run`` is None and the id is in
    several runs."""
    if transcript_id is None:
        raise BadRequest("which transcript? (the id parameter is missing)")
    found = reader.dicts("viewer_transcript", {"id": transcript_id, "run": run, "limit": 50})
    if not found:
        where = f" in run {run!r}" if run is not None else ""
        raise NotFound(f"no transcript with id {transcript_id!r}{where}")
    if len(found) > 1:
        return found
    return found[0]


def transcript_page(reader: Reader, head: dict[str, Any], highlight=None) -> dict[str, Any]:
    """Every segment of the transcript, highlighted: flagged sentences (with their scores) and the
    hits of ``highlight`` (a :class:`~.search.Matcher` or None)."""
    pk = head["pk"]
    classifiers = run_classifiers(reader, head["run"])
    by_id = {c.classifier_id: c for c in classifiers}
    ids = list(by_id)
    results = [{**r, "classifier": by_id[r["classifier_id"]]}
               for r in reader.dicts("viewer_transcript_scores", {"pk": pk, "classifier_ids": ids})]
    sentences = reader.dicts("viewer_sentence_scores", {"pk": pk, "classifier_ids": ids})
    per_segment: dict[int, list[dict]] = {}
    for s in sentences:
        s["classifier"] = by_id[s["classifier_id"]]
        per_segment.setdefault(s["ordinal"], []).append(s)

    segments = [Segment(*row) for row in reader.named("viewer_segments", {"pk": pk})]
    flagged_list: list[dict[str, Any]] = []
    total_hits = 0
    first_hit = None
    for seg in segments:
        marks: list[Mark] = []
        for s in per_segment.get(seg.ordinal, []):
            c = s["classifier"]
            anchor = f"s-{_css_id(c.name)}-{seg.ordinal}-{s['sentence']}"
            title = f"{c.name} {c.version}: score {s['score']:.3f} (flagged at ≥ {c.threshold:.3g})"
            if s["flagged"]:
                marks.append(Mark(s["start_char"], s["end_char"], f"flag flag-{_css_id(c.name)}", anchor=anchor,
                                  label=f"{c.name} {s['score']:.2f}", title=title,
                                  data=(("score", f"{s['score']:.6g}"), ("classifier", c.name))))
                entry = {**s, "anchor": anchor, "text": seg.text[s["start_char"]:s["end_char"]]}
                seg.flagged.append(entry)
                flagged_list.append(entry)
            else:
                if s["score"] >= c.threshold:  # above the sentence threshold in a transcript not flagged
                    near = " above"
                    title += "; the transcript decision did not flag this transcript"
                else:
                    near = " near" if s["score"] >= NEAR_THRESHOLD * c.threshold else ""
                marks.append(Mark(s["start_char"], s["end_char"], "scored" + near, anchor=anchor, title=title,
                                  data=(("score", f"{s['score']:.6g}"), ("classifier", c.name))))
        if highlight is not None and not seg.redacted:
            for start, end in highlight.spans(seg.text):
                marks.append(Mark(start, end, "hit", layer=1, anchor=f"h-{seg.ordinal}-{start}"))
                first_hit = first_hit or f"h-{seg.ordinal}-{start}"
                seg.hits += 1
        total_hits += seg.hits
        seg.html = render(seg.text, marks)
    flagged_list.sort(key=lambda s: -s["score"])
    metadata = head.get("metadata")
    try:
        metadata_pretty = json.dumps(json.loads(metadata), indent=2, ensure_ascii=False) if metadata else None
    except ValueError:
        metadata_pretty = metadata
    return {"head": head, "segments": segments, "classifiers": classifiers, "results": results,
            "flagged": flagged_list, "hits": total_hits, "first_hit": first_hit, "metadata": metadata_pretty,
            "scored_sentences": len(sentences)}


def _css_id(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in name)
