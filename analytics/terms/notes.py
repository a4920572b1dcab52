"""No silent successes: one-line notes about a result, and the closest stored terms.

A term that never occurs in the selection still gets its rows (zeros are data), plus a
:class:`TermNote` warning naming the closest counted tokens (Levenshtein distance over the
vocabulary, in DuckDB), so a misspelling (``waitt``) does not pass for a real zero::

    TermNote: 'waitt' never occurs in the selection (run 'deepseek', scope reasoning); closest counted terms: wait, waits

In Python the note is a ``warnings.warn``; the CLI prints each as ``cotwatch: note: …`` on stderr
and keeps exit code 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql


class TermNote(UserWarning):
    """A one-line note about a term result (e.g. a term that never occurs in the selection)."""


def note(message: str) -> None:
    """Emit one note (a :class:`TermNote` warning)."""
    warnings.warn(TermNote(" ".join(message.split())), stacklevel=3)


def closest_terms(store: Store, token: str, scopes: Sequence[str], runs: Sequence[str] | None = None,
                  limit: int = 3) -> list[str]:
    """Up to ``limit`` counted tokens nearest ``token`` by edit distance (Damerau-Levenshtein: a
    swap of two letters is one edit; at most 1 for tokens of up to 3 characters, 2 up to 8, else
    3), used in the selection; nearest, then most used first."""
    max_distance = 1 if len(token) <= 3 else 2 if len(token) <= 8 else 3
    rows = store.rows(load_sql("term_closest"), {
        "term": token, "max_distance": max_distance, "scopes": list(scopes),
        "runs": list(runs) if runs else None, "limit": limit})
    return [r[0] for r in rows]


def describe_selection(runs: Sequence[str] | None, scope: str, environment: str | None = None,
                       steps: Sequence[int] | None = None) -> str:
    parts = []
    if runs:
        parts.append(("run " if len(runs) == 1 else "runs ") + ", ".join(repr(r) for r in runs))
    if environment is not None:
        parts.append(f"environment {environment!r}")
    if steps is not None:
        parts.append(("step " if len(steps) == 1 else "steps ") + ", ".join(map(str, steps)))
    parts.append(f"scope {scope}")
    return ", ".join(parts)


def note_missing(store: Store, spec, scopes: Sequence[str], runs: Sequence[str] | None, where: str) -> None:
    """The note for a spec with no occurrence in the selection (described by ``where``)."""
    def hint(token: str) -> str:
        near = closest_terms(store, token, scopes, runs)
        return f"closest counted terms: {', '.join(near)}" if near else "no counted term is close"

    if spec.kind == "token":
        folded = spec.pattern
        if spec.case_sensitive and _occurs(store, folded, scopes, runs):
            note(f"{spec.label!r} never occurs with this case in the selection ({where}); "
                 f"{folded!r} does in some case (drop --case-sensitive)")
        else:
            note(f"{spec.label!r} never occurs in the selection ({where}); {hint(folded)}")
        return
    if spec.kind == "phrase":
        tokens = spec.pattern.split(" ")
        absent = [t for t in dict.fromkeys(tokens) if not _occurs(store, t, scopes, runs)]
        if absent:
            detail = "; ".join(f"{t!r} never occurs ({hint(t)})" for t in absent)
            note(f"phrase {spec.label!r} never occurs in the selection ({where}): {detail}")
        else:
            note(f"phrase {spec.label!r} never occurs in the selection ({where}), though each of its tokens does")
        return
    if spec.kind in ("wildcard", "regex"):
        note(f"{spec.label!r} matches no token used in the selection ({where})")
        return
    note(f"group {spec.label!r}: none of its {len(spec.members)} members occurs in the selection ({where})")


def _occurs(store: Store, token: str, scopes: Sequence[str], runs: Sequence[str] | None) -> bool:
    rows = store.rows(load_sql("term_occurs"), {"term": token, "scopes": list(scopes),
                                                "runs": list(runs) if runs else None})
    return bool(rows and rows[0][0])
