"""Report specs: which runs, watchlist, classifier, sections and limits a drift report covers.

A spec is a TOML file (the default ships as ``reports/drift.toml``; the format is documented there
and in ``docs/reports.md``). :func:`load_spec` parses and validates it into a :class:`ReportSpec`;
anything wrong raises :class:`SpecError` with one line naming the file and the key.

>>> spec = parse_spec('title = "Weekly drift"\\n[sections.overview]\\n', source="inline")
>>> spec.title, spec.section_names()
('Weekly drift', ['overview'])
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import SpecError
from cotwatch.analytics.kinds import QUERY_SCOPES

#: Sections in page order, each with its options: name → (type, default, minimum). A default of
#: None means "leave it to the analysis" (discover_terms picks a third of the steps for early/late).
SECTIONS: dict[str, dict[str, tuple[type, Any, Any]]] = {
    "overview": {},
    "terms": {"columns": (int, 4, 1)},
    "heatmap": {},
    "emergent": {"top": (int, 20, 1), "early": (int, None, 1), "late": (int, None, 1), "min_docs": (int, 5, 1),
                 "direction": (str, "rising", None)},
    "word_shift": {"top": (int, 15, 1), "chained": (bool, True, None), "max_pairs": (int, 12, 1)},
    "usage_drift": {"terms": (list, [], None), "top": (int, 3, 1), "window": (int, 12, 1), "cap": (int, 50, 5),
                    "model": (str, "static", None)},
    "awareness": {},
    "awareness_covert": {},
    "environments": {},
    "evidence": {"kwic_terms": (int, 40, 0), "kwic_lines": (int, 3, 1), "width": (int, 50, 10),
                 "sentences": (int, 3, 0), "max_rows": (int, 4000, 10)},
}
SCOPES = tuple(QUERY_SCOPES)
DIRECTIONS = ("rising", "falling")
#: usage_drift.model: the sentence encoder behind the context embeddings (classifiers.usage)
USAGE_MODELS = ("static", "minilm")
_TOP_KEYS = {"title", "description", "runs", "scope", "max_steps", "images", "watchlist", "classifier", "sections"}
_WATCHLIST_KEYS = {"terms", "file"}
_CLASSIFIER_KEYS = {"name"}


@dataclass(frozen=True)
class ReportSpec:
    """A validated report spec. ``sections`` maps each enabled section to its resolved options."""

    title: str = "Reasoning drift report"
    description: str = ""
    runs: tuple[str, ...] = ()
    scope: str = "reasoning"
    max_steps: int = 200
    images: bool = True
    watch_terms: tuple[str, ...] = ()
    watchlist_file: Path | None = None
    classifier: str = "eval_awareness"
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "<default>"
    #: sections this spec does not draw, with why: "not listed in the spec" or "enabled = false"
    left_out: dict[str, str] = field(default_factory=dict)

    def section_names(self) -> list[str]:
        return [name for name in SECTIONS if name in self.sections]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable copy, for ``report.json``."""
        return {
            "source": self.source, "title": self.title, "description": self.description, "runs": list(self.runs),
            "scope": self.scope, "max_steps": self.max_steps, "images": self.images,
            "watchlist": {"terms": list(self.watch_terms),
                          "file": str(self.watchlist_file) if self.watchlist_file else None},
            "classifier": {"name": self.classifier},
            "sections": {name: {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}
                         for name, opts in self.sections.items()},
            "left_out": dict(self.left_out),
        }

    def with_runs(self, runs: Sequence[str]) -> "ReportSpec":
        """This spec for ``runs`` instead of its own (``cotwatch report --run``)."""
        return replace(self, runs=tuple(dict.fromkeys(runs)))


def default_spec_path() -> Path:
    """The shipped default spec, ``reports/drift.toml``."""
    return Path(str(resources.files(__package__) / "drift.toml"))


def load_spec(path: str | Path | None = None) -> ReportSpec:
    """Read and validate a spec file (the default spec when ``path`` is None)."""
    p = Path(path) if path is not None else default_spec_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such report spec") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read report spec: {exc}") from None
    return parse_spec(text, source=str(p), base_dir=p.parent)


def parse_spec(text: str, *, source: str = "<string>", base_dir: Path | None = None) -> ReportSpec:
    """Validate TOML ``text``. Relative paths (the watchlist file) resolve against ``base_dir``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from None
    _unknown(raw, _TOP_KEYS, source, "")
    title = _get(raw, "title", str, "Reasoning drift report", source)
    description = _get(raw, "description", str, "", source)
    runs = tuple(_str_list(raw.get("runs", []), "runs", source))
    scope = _get(raw, "scope", str, "reasoning", source)
    if scope not in SCOPES:
        raise SpecError(f"{source}: scope: must be one of {', '.join(SCOPES)}, got {scope!r}")
    max_steps = _get(raw, "max_steps", int, 200, source, minimum=2)
    images = _get(raw, "images", bool, True, source)

    watchlist = _table(raw, "watchlist", source)
    _unknown(watchlist, _WATCHLIST_KEYS, source, "watchlist.")
    terms = tuple(_str_list(watchlist.get("terms", []), "watchlist.terms", source))
    wl_file = None
    if "file" in watchlist:
        name = _get(watchlist, "file", str, "", source, key_path="watchlist.file")
        wl_file = Path(name) if Path(name).is_absolute() or base_dir is None else base_dir / name
        if not wl_file.is_file():
            raise SpecError(f"{source}: watchlist.file: no such file {str(wl_file)!r}")

    _check_terms(terms, wl_file, source)

    classifier = _table(raw, "classifier", source)
    _unknown(classifier, _CLASSIFIER_KEYS, source, "classifier.")
    clf_name = _get(classifier, "name", str, "eval_awareness", source, key_path="classifier.name")

    sections_raw = _table(raw, "sections", source)
    if not sections_raw and "sections" in raw:
        raise SpecError(f"{source}: sections: lists no section (known: {', '.join(SECTIONS)})")
    if "sections" not in raw:
        sections_raw = {name: {} for name in SECTIONS}
    sections: dict[str, dict[str, Any]] = {}
    left_out = {name: "not listed in the spec's [sections]" for name in SECTIONS if name not in sections_raw}
    for name, opts in sections_raw.items():
        if name not in SECTIONS:
            raise SpecError(f"{source}: sections.{name}: unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(opts, dict):
            raise SpecError(f"{source}: sections.{name}: must be a table, e.g. [sections.{name}]")
        schema = SECTIONS[name]
        _unknown(opts, set(schema) | {"enabled"}, source, f"sections.{name}.")
        if not _get(opts, "enabled", bool, True, source, key_path=f"sections.{name}.enabled"):
            left_out[name] = "switched off in the spec (enabled = false)"
            continue
        resolved = {}
        for key, (typ, default, minimum) in schema.items():
            resolved[key] = _get(opts, key, typ, default, source, key_path=f"sections.{name}.{key}", minimum=minimum)
        if name == "usage_drift":
            resolved["terms"] = tuple(_str_list(resolved["terms"], f"sections.{name}.terms", source))
            _check_terms(resolved["terms"], wl_file, source, key=f"sections.{name}.terms")
            if resolved["model"] not in USAGE_MODELS:
                raise SpecError(f"{source}: sections.usage_drift.model: must be one of {', '.join(USAGE_MODELS)}, "
                                f"got {resolved['model']!r}")
        if name == "emergent" and resolved["direction"] not in DIRECTIONS:
            raise SpecError(f"{source}: sections.emergent.direction: must be rising or falling, got {resolved['direction']!r}")
        sections[name] = resolved
    if not sections:
        raise SpecError(f"{source}: sections: every section is disabled; nothing would be reported")
    return ReportSpec(title=title, description=description, runs=runs, scope=scope, max_steps=max_steps,
                      images=images, watch_terms=terms, watchlist_file=wl_file, classifier=clf_name,
                      sections=sections, source=source,
                      left_out={name: left_out[name] for name in SECTIONS if name in left_out})


def _check_terms(terms: tuple[str, ...], wl_file: Path | None, source: str, key: str = "watchlist.terms") -> None:
    """Each watchlist term must parse (token, wildcard, /regex/, @group of the watchlist), so a typo
    is a spec error (exit 6) now rather than a missing section later."""
    from cotwatch.analytics.errors import CotwatchError
    from cotwatch.analytics.terms.specs import load_watchlist, parse_term

    for i, term in enumerate(terms):
        if not term.strip():
            raise SpecError(f"{source}: {key}[{i}]: empty term")
    try:
        watchlist = load_watchlist(wl_file) if (wl_file is not None or any(t.startswith("@") for t in terms)) else None
    except CotwatchError as exc:
        raise SpecError(f"{source}: watchlist.file: {exc}") from None
    for i, term in enumerate(terms):
        try:
            parse_term(term, watchlist, where=f"{key}[{i}]")
        except CotwatchError as exc:
            raise SpecError(f"{source}: {exc}") from None


def _unknown(table: dict, known: set[str], source: str, prefix: str) -> None:
    for key in table:
        if key not in known:
            raise SpecError(f"{source}: {prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _table(raw: dict, key: str, source: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(f"{source}: {key}: must be a table, e.g. [{key}]")
    return value


def _get(table: dict, key: str, typ: type, default: Any, source: str, *, key_path: str | None = None,
         minimum: Any = None) -> Any:
    name = key_path or key
    if key not in table:
        return default
    value = table[key]
    # bool is a subclass of int in Python: reject true/false where a number is expected
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise SpecError(f"{source}: {name}: expected {typ.__name__}, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise SpecError(f"{source}: {name}: must be >= {minimum}, got {value!r}")
    return value


def _str_list(value: Any, name: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{source}: {name}: expected a list of strings, got {value!r}")
    return value
