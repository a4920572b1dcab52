"""The labelled corpus a classifier is trained and validated on: team-written sentences and
transcripts, and real reasoning labelled by hand, split by document.

Sources (declared in the spec's ``[data]`` table, all optional but ``sentences``):

* ``sentences`` — team-written ``<label> <style> <text>`` files (train side), e.g. ``train.txt``;
* ``team_heldout`` — the team-written held-out file (reported on its own, never trained on);
* ``transcripts`` — a folder of team-written whole transcripts with ``manifest.jsonl`` naming
  the positive sentences of each (every other sentence is 0);
* ``real`` — a folder of labels on **real** model reasoning: ``shared_data.jsonl`` (stand-off
  labels, by character offsets, on the texts in ``../shared/data``: the alignment-faking
  scratchpads and thinking traces; every unlisted sentence is 0), ``quotes.jsonl`` (single
  sentences of real CoT quoted verbatim from public sources, with their source) and
  ``external/<source>.jsonl`` + ``external/<source>.documents.json`` (stand-off labels on real
  transcripts whose text cannot be redistributed; read from ``--external DIR`` when given);
* ``split`` — the frozen document split (``real/heldout_v1.json``): which documents are held out.
  Documents are grouped by the source their text comes from, so one transcript never lands on
  both sides. The file is frozen before any evaluation and never edited after one.
* ``real_negatives`` — real sources assumed entirely negative for this trait (e.g. the puzzle
  traces for ``grader_seeking``), used to calibrate the transcript decision.

Texts in ``../shared/data`` are read in place (``$COTWATCH_SHARED_DATA`` or the folder beside the
checkout); sources that are not present are skipped and the skip is recorded in the model card.

>>> corpus = load_corpus(load_spec("eval_awareness"))          # doctest: +SKIP
>>> corpus.frame.group_by("source", "split").len()             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cotwatch.analytics.errors import InputError, SpecError
from cotwatch.classifiers.sentences import split_sentences
from cotwatch.classifiers.spec import ClassifierSpec, read_labelled

ENV_SHARED = "COTWATCH_SHARED_DATA"
ENV_EXTERNAL = "COTWATCH_EXTERNAL_DATA"

#: columns of :attr:`Corpus.frame`
COLUMNS = ("source", "origin", "doc", "group", "split", "idx", "start", "end", "text", "label", "category",
           "prev", "next")


def data_files_sha256(spec) -> str:
    """A hash of every file of the spec's data folder (the committed labels and team data): what a
    shipped artifact must have been trained on; changing any of them means retraining."""
    folder = spec.data_dir()
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def default_shared_data() -> Path | None:
    """``$COTWATCH_SHARED_DATA``, else ``shared/data`` beside a source checkout, else None."""
    env = os.environ.get(ENV_SHARED)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents[1:4]:
        candidate = parent.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


@dataclass
class Corpus:
    """Every labelled sentence with its document, split and neighbours; plus what was skipped."""

    frame: "object"                       # polars.DataFrame with COLUMNS
    skipped: list[str] = field(default_factory=list)
    split_file: Path | None = None
    split_sha256: str | None = None

    def side(self, split: str):
        import polars as pl

        return self.frame.filter(pl.col("split") == split)

    def transcripts(self, split: str | None = None):
        """Sentences of whole documents (transcripts, scratchpads, traces), not single quotes/lines."""
        import polars as pl

        f = self.frame.filter(pl.col("source").is_in(list(TRANSCRIPT_SOURCES)) | pl.col("source").str.starts_with("external:"))
        return f if split is None else f.filter(pl.col("split") == split)

    def data_sha256(self) -> str:
        """A hash of every labelled sentence (text, label, split): what the artifact was trained on."""
        h = hashlib.sha256()
        for row in self.frame.select("doc", "idx", "split", "label", "text").iter_rows():
            h.update(json.dumps(row, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        return h.hexdigest()


TRANSCRIPT_SOURCES = ("alignment-faking", "thinking-traces", "team_transcripts")


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def sentence(self, *, source, origin, doc, group, split, text, label, category, idx=0, start=0, end=None,
                 prev="", next=""):
        self.rows.append({"source": source, "origin": origin, "doc": doc, "group": group, "split": split, "idx": idx,
                          "start": start, "end": len(text) if end is None else end, "text": text, "label": int(label),
                          "category": category, "prev": prev, "next": next})

    def document(self, *, source, origin, doc, group, split, text, spans):
        """Every sentence of ``text``; a sentence overlapping a labelled span takes its label (1 wins)."""
        sents = split_sentences(text)
        for i, (s, e, t) in enumerate(sents):
            label, category = 0, "unlisted"
            for a, b, lab, cat in spans:
                if a < e and s < b and (lab == 1 or label == 0):
                    label, category = lab, cat
            self.sentence(source=source, origin=origin, doc=doc, group=group, split=split, text=t, label=label,
                          category=category, idx=i, start=s, end=e, prev=sents[i - 1][2] if i else "",
                          next=sents[i + 1][2] if i + 1 < len(sents) else "")


class SplitFile:
    """The frozen document split: ``{"documents": {doc: {"group", "split"}}}``."""

    def __init__(self, path: Path):
        self.path = path
        try:
            raw = path.read_bytes()
            data = json.loads(raw)
            self.documents: dict[str, dict] = data["documents"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SpecError(f"{path}: not a document split file: {exc}") from exc
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.version = data.get("version")

    def split_of(self, doc: str) -> str:
        entry = self.documents.get(doc)
        if entry is None:
            raise InputError(f"{self.path}: document {doc!r} is in no split; add it to a new split version "
                             "(a frozen split is never edited after an evaluation)")
        return "heldout" if entry["split"] == "heldout" else "train"

    def group_of(self, doc: str) -> str:
        return self.documents.get(doc, {}).get("group", doc)


def rule_split(group: str, name: str) -> str:
    """The split of a document group when a spec has no split file: half held out, by hash."""
    return "heldout" if hashlib.sha256(f"cotwatch/{name}/heldout/v1:{group}".encode()).digest()[0] < 128 else "train"


def quote_doc(q: dict) -> str:
    """The document id of a quoted sentence: its source and the transcript context it came from."""
    key = f"{q['source_url']}|{q.get('model', '')}|{q.get('context', '')}"
    return "quotes:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def jsonl_records(path: Path, problems: list[str] | None = None):
    """``(where, record)`` for every non-blank line of a JSONL file of objects. A line that is not
    a JSON object is reported in ``problems`` (``file:line: reason``) and skipped, or, without a
    ``problems`` list, raised as InputError; an unreadable file is always an InputError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            rec = json.loads(line)
            problem = None if isinstance(rec, dict) else "expected a JSON object"
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc.msg})"
        if problem is None:
            yield where, rec
        elif problems is None:
            raise InputError(f"{where}: {problem}")
        else:
            problems.append(f"{where}: {problem}")


def _jsonl(path: Path) -> list[dict]:
    return [rec for _, rec in jsonl_records(path)]


def _spans(labels: list[dict]) -> dict[str, list[tuple]]:
    by_doc: dict[str, list[tuple]] = {}
    for rec in labels:
        by_doc.setdefault(rec["doc"], []).append((rec["start"], rec["end"], int(rec["label"]), rec.get("category", "")))
    return by_doc


def _read_text(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def shared_document_texts(shared: Path) -> dict[str, str]:
    """doc id → text for the real documents in ``../shared/data`` this corpus labels."""
    texts: dict[str, str] = {}
    af = shared / "alignment-faking" / "gold_106.json"
    if af.exists():
        samples = json.loads(af.read_text(encoding="utf-8"))["samples"]
        for i, sample in enumerate(samples):
            texts[f"alignment-faking/gold_106.json#{i}"] = sample["text"]
    traces = shared / "thinking-traces"
    if traces.is_dir():
        for f in sorted(traces.glob("*.txt")):
            if not f.name.startswith("LICENSE"):
                texts[f"thinking-traces/{f.name}"] = _read_text(f)
    return texts


def load_corpus(spec: ClassifierSpec, *, shared: Path | None = None, external: Path | None = None) -> "Corpus":
    """The labelled corpus of ``spec`` (see the module docstring)."""
    import polars as pl

    data = spec.data_dir()
    rows = _Rows()
    skipped: list[str] = []
    d = spec.data_sources
    split = SplitFile(data / d["split"]) if d.get("split") else None

    for name in d.get("sentences", ["train.txt"]):
        labelled = read_labelled(data / name)
        for text, label, style, where in zip(labelled.texts, labelled.labels, labelled.styles, labelled.sources):
            rows.sentence(source=f"team:{name}", origin="team", doc=f"team:{where}", group=f"team:{where}", split="train",
                          text=text, label=label, category=style)
    for extra in spec.imported_label_files():
        labelled = read_labelled(extra)
        side = "heldout" if extra.name.endswith(".heldout.txt") else "train"
        for text, label, style, where in zip(labelled.texts, labelled.labels, labelled.styles, labelled.sources):
            rows.sentence(source="imported", origin="user", doc=f"imported:{where}", group=f"imported:{where}",
                          split=side, text=text, label=label, category=style)
    if d.get("team_heldout"):
        labelled = read_labelled(data / d["team_heldout"])
        for text, label, style, where in zip(labelled.texts, labelled.labels, labelled.styles, labelled.sources):
            rows.sentence(source="team:heldout", origin="team", doc=f"team:{where}", group=f"team:{where}",
                          split="team_heldout", text=text, label=label, category=style)
    if d.get("transcripts"):
        folder = data / d["transcripts"]
        for m in _jsonl(folder / "manifest.jsonl"):
            text = _read_text(folder / f"{m['id']}.txt")
            spans = []
            for s in m.get("aware_sentences", m.get("positive_sentences", [])):
                at = text.find(s)
                if at < 0:
                    raise InputError(f"{folder / 'manifest.jsonl'}: {m['id']}: labelled sentence not in the text: {s[:60]!r}")
                spans.append((at, at + len(s), 1, "team_positive"))
            doc = f"team_transcripts:{m['id']}"
            rows.document(source="team_transcripts", origin="team", doc=doc, group=split.group_of(doc) if split else doc,
                          split=split.split_of(doc) if split else "train", text=text, spans=spans)

    real = data / d["real"] if d.get("real") else None
    if real is not None:
        shared = shared if shared is not None else default_shared_data()
        labels_file = real / "shared_data.jsonl"
        if labels_file.exists():
            texts = shared_document_texts(shared) if shared is not None and shared.is_dir() else {}
            if not texts:
                skipped.append(f"real documents of ../shared/data ({labels_file.name}): folder not found "
                               f"(set ${ENV_SHARED})")
            _real_documents(rows, texts, _spans(_jsonl(labels_file)), split, real / "shared_documents.json", "shared")
        quotes = real / "quotes.jsonl"
        if quotes.exists():
            for q in _jsonl(quotes):
                doc = quote_doc(q)
                rows.sentence(source="quotes", origin="real", doc=doc, group=split.group_of(doc) if split else doc,
                              split=split.split_of(doc) if split else "train", text=q["text"], label=q["label"],
                              category=q.get("category", ""))
        ext_dir = real / "external"
        if ext_dir.is_dir():
            external = external if external is not None else (Path(os.environ[ENV_EXTERNAL]) if os.environ.get(ENV_EXTERNAL) else None)
            for labels_path in sorted(ext_dir.glob("*.jsonl")):
                name = labels_path.stem
                docs_path = ext_dir / f"{name}.documents.json"
                folder = external / name if external is not None else None
                if folder is None or not folder.is_dir():
                    skipped.append(f"external real transcripts {name!r}: texts not given (--external DIR with {name}/)")
                    continue
                texts = {e["doc"]: _read_text(folder / f"{e['doc']}.txt")
                         for e in json.loads(docs_path.read_text(encoding="utf-8")) if (folder / f"{e['doc']}.txt").exists()}
                _real_documents(rows, texts, _spans(_jsonl(labels_path)), split, docs_path, f"external:{name}",
                                doc_prefix="external:")
    negatives = d.get("real_negatives", [])
    texts = shared_document_texts(shared or default_shared_data() or Path("/nonexistent")) if negatives else {}
    for source in negatives:
        picked = {k: v for k, v in texts.items() if k.startswith(source)}
        if not picked:
            skipped.append(f"real negatives {source!r}: not found (set ${ENV_SHARED})")
        for doc, text in picked.items():
            side = split.split_of(doc) if split else rule_split(doc, spec.data_key)
            rows.document(source=doc.split("/")[0], origin="real", doc=doc, group=doc, split=side, text=text, spans=[])
    frame = pl.DataFrame(rows.rows, schema={c: (pl.Int64 if c in ("idx", "start", "end", "label") else pl.String)
                                              for c in COLUMNS})
    return Corpus(frame=frame, skipped=skipped, split_file=split.path if split else None,
                  split_sha256=split.sha256 if split else None)


def _real_documents(rows: _Rows, texts: dict[str, str], spans: dict[str, list], split: SplitFile | None,
                    documents_path: Path, source_label: str, doc_prefix: str = "") -> None:
    """Add labelled real documents whose text is available, checking each text's sha256."""
    expected = {}
    if documents_path.exists():
        expected = {e["doc"]: e["sha256"] for e in json.loads(documents_path.read_text(encoding="utf-8"))}
    for doc, text in sorted(texts.items()):
        if expected and doc not in expected:
            continue
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if expected and expected[doc] != digest:
            raise InputError(f"{documents_path}: {doc}: the text differs from the one that was labelled "
                             f"(sha256 {digest[:12]}…, expected {expected[doc][:12]}…)")
        key = doc_prefix + doc
        source = source_label if source_label.startswith("external:") else doc.split("/")[0]
        rows.document(source=source, origin="real", doc=key, group=split.group_of(key) if split else key,
                      split=split.split_of(key) if split else "train", text=text, spans=spans.get(doc, []))
