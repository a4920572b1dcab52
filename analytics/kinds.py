"""Segment kinds and term-count scopes: the one definition every layer uses.

A transcript is stored as ordered segments, each of one *kind*. Term counts are materialized per
*stored scope* (every kind belongs to exactly one), and analyses take a *query scope*, which is a
set of stored scopes.

>>> KINDS_OF_SCOPE["reasoning"]
('reasoning', 'reasoning_summary')
"""

from __future__ import annotations

#: Every segment kind a transcript can hold, in the store's order.
SEGMENT_KINDS: tuple[str, ...] = ("reasoning", "reasoning_summary", "output", "user", "system", "tool")

#: The kinds that are the model's chain of thought (what classifiers score and terms count).
REASONING_KINDS: tuple[str, ...] = ("reasoning", "reasoning_summary")

#: Stored scope of each kind (term counts are kept per stored scope).
SCOPE_OF_KIND: dict[str, str] = {
    "reasoning": "reasoning",
    "reasoning_summary": "reasoning",
    "output": "output",
    "user": "other",
    "system": "other",
    "tool": "other",
}

#: The stored scopes, in the order their integer codes use.
STORED_SCOPES: tuple[str, ...] = ("reasoning", "output", "other")

#: Query scopes (``--scope``) → the stored scopes they sum.
QUERY_SCOPES: dict[str, tuple[str, ...]] = {
    "reasoning": ("reasoning",),
    "output": ("output",),
    "all": STORED_SCOPES,
}

#: Query scope → the segment kinds it covers.
KINDS_OF_SCOPE: dict[str, tuple[str, ...]] = {
    scope: tuple(k for k in SEGMENT_KINDS if SCOPE_OF_KIND[k] in stored)
    for scope, stored in QUERY_SCOPES.items()
}


def kinds_of_stored_scope(stored_scope: str) -> tuple[str, ...]:
    """The segment kinds counted under one stored scope."""
    return tuple(k for k, s in SCOPE_OF_KIND.items() if s == stored_scope)
