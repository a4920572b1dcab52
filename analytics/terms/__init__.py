"""Term statistics across checkpoints.

``tokens`` holds the token contract; ``_tokcount.c`` and ``materialize`` count every stored
transcript once (per-transcript lists and per-cell sums); ``specs`` parses term queries and
watchlists; ``phrases`` counts token sequences (phrases, case-sensitive terms) exactly from text
and ``ngrams`` every n-gram of a run; ``stats`` holds the interval and trend statistics;
``rates`` (and ``compare_runs``), ``discover``, ``concordance`` (KWIC), ``contexts`` and ``shift``
are the analyses; ``filters`` and ``notes`` keep rankings clean and results honest. The public functions are importable from here (loaded on first use)::

    from cotwatch.analytics import terms
    terms.term_rates(store, ["autop", "autop-run", "disclaim*"], run="rl-1")
"""

from __future__ import annotations

from cotwatch.analytics.lazy import lazy_exports

_EXPORTS = {
    "term_rates": "cotwatch.analytics.terms.rates",
    "compare_runs": "cotwatch.analytics.terms.rates",
    "COMPARE_COLUMNS": "cotwatch.analytics.terms.rates",
    "term_contexts": "cotwatch.analytics.terms.contexts",
    "TokenSequence": "cotwatch.analytics.terms.phrases",
    "TermNote": "cotwatch.analytics.terms.notes",
    "term_trends": "cotwatch.analytics.terms.rates",
    "series_trends": "cotwatch.analytics.terms.rates",
    "resolve_terms": "cotwatch.analytics.terms.rates",
    "RATE_COLUMNS": "cotwatch.analytics.terms.rates",
    "discover_terms": "cotwatch.analytics.terms.discover",
    "kwic": "cotwatch.analytics.terms.concordance",
    "KWIC_COLUMNS": "cotwatch.analytics.terms.concordance",
    "word_shift": "cotwatch.analytics.terms.shift",
    "chained_word_shift": "cotwatch.analytics.terms.shift",
    "SHIFT_COLUMNS": "cotwatch.analytics.terms.shift",
    "materialize_counts": "cotwatch.analytics.terms.materialize",
    "pending_transcripts": "cotwatch.analytics.terms.materialize",
    "parse_terms": "cotwatch.analytics.terms.specs",
    "load_watchlist": "cotwatch.analytics.terms.specs",
    "tokenize": "cotwatch.analytics.terms.tokens",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
