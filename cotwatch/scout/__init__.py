"""cotwatch as Inspect Scout scanners (the optional extra: ``pip install 'cotwatch[scout]'``).

Two scanner factories built on cotwatch's library, for ``scout scan`` over a log folder or a
transcript database, for ``inspect_ai.eval(..., scanner=[...])`` while an eval runs, and (through
Scout's ``as_scorer``) as an Inspect scorer::

    from cotwatch.scout import eval_awareness, watchlist_terms
    from inspect_scout import scan, transcripts_from

    scan([eval_awareness(), watchlist_terms()], transcripts=transcripts_from("./logs"), max_processes=1)

* :func:`eval_awareness` — cotwatch's local eval-awareness classifier: every reasoning sentence
  scored, the transcript decision of the artifact (length-aware, calibrated on real transcripts),
  the flagged sentences with their scores as the explanation and references to their messages;
  value ``True`` when the transcript is flagged. The artifact's name, version and sha256 go into
  every result's metadata.
* :func:`watchlist_terms` — one result per watchlist term: its count in the reasoning under
  cotwatch's token contract, with keyword-in-context snippets as the explanation and references.

Reasoning is read from the ``ContentReasoning`` parts of assistant messages (their ``summary``
too, and ``<think>`` in text), never from ``ChatMessage.text``, which leaves it out — exactly the
segments ``cotwatch ingest`` stores, so the scanners agree with ``cotwatch classify apply`` and
``cotwatch terms`` on the same transcripts.

Nothing in cotwatch's core imports this package; it is the only place that imports inspect_scout.
"""

from __future__ import annotations

try:
    import inspect_scout  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("cotwatch.scout needs Inspect Scout: pip install 'cotwatch[scout]'") from exc

from cotwatch.scout.scanners import eval_awareness, watchlist_terms

__all__ = ["eval_awareness", "watchlist_terms"]
