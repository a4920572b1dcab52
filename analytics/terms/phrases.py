"""Token sequences counted exactly from stored text: phrases and case-sensitive tokens.

The materialized counts hold single folded tokens per transcript, so a phrase (``autop-run``,
``"might be a test"``) or a case-sensitive token (``Wait``) is counted from text — but only the
text that can hold it, in three steps:

1. **candidates** — transcripts whose per-transcript token lists (``doc_term_lists``) hold the
   sequence's (five) rarest folded tokens (a necessary condition, answered from the lists, no
   text read). When they are a large share of the selection (a common phrase), every segment is
   scanned by the prefilter instead: testing the list would cost more than reading the text once;
2. **prefilter** — DuckDB's RE2 keeps the segments of those transcripts whose text matches the
   tokens joined by runs of separators, case-insensitively: a superset of the exact matches.
   RE2's case folding covers every Python single-character lowercase mapping (checked over all
   code points); the few characters on which RE2 and Python disagree (:data:`RE2_DISAGREES`:
   letters of RE2's newer Unicode tables, separators to Python 3.11) count as separators in the
   pattern, and a token ending in ``i`` may be written ``İ`` (whose Python lowercase is ``i`` plus
   a combining dot, a separator: so no other separator need follow it);
3. **exact count** — in Python, on the contract's own normalization of the text (``str.lower()``,
   U+2019 → ``'``; case-sensitive: only the apostrophe), a regex finds the tokens joined by
   separators, and each hit's ends are checked against the contract's token boundaries (a letter
   or digit, or an apostrophe joining two of them, continues a token). A sequence that can
   overlap itself (``ha ha``) is searched at every start, so overlapping occurrences all count.

An occurrence lies within one segment (a phrase does not span two segments). Counts equal
``tokenize(text)`` searched for the sequence at every position — the tests check this on
hostile Unicode, the real thinking traces and a generated run.

>>> m = TokenSequence(("autop", "run"))
>>> m.count("The autop-run; AUTOP RUN, autop_run, xautop run, autop runs")
3
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from cotwatch.analytics.kinds import KINDS_OF_SCOPE, kinds_of_stored_scope
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

#: Characters on which DuckDB's RE2 and Python's ``re`` disagree, as an RE2 class body: letters
#: of RE2's newer Unicode tables that Python 3.11 (Unicode 14) does not know (Python: separators;
#: RE2: letters), and 'İ', whose Python lowercase is two characters. A segment holding any of them
#: bypasses the prefilter (it is always counted exactly). ``tests/test_terms_phrases.py``
#: recomputes the set from both engines.
RE2_DISAGREES = (
    "\u0130"
    r"\x{1123f}-\x{11240}\x{11f02}\x{11f04}-\x{11f10}\x{11f12}-\x{11f33}\x{11f50}-\x{11f59}"
    r"\x{1342f}\x{13441}-\x{13446}\x{1b132}\x{1b155}\x{1d2c0}-\x{1d2d3}\x{1df25}-\x{1df2a}"
    r"\x{1e030}-\x{1e06d}\x{1e4d0}-\x{1e4eb}\x{1e4f0}-\x{1e4f9}\x{2b739}\x{31350}-\x{323af}"
)
#: One separator between two tokens of the contract: non-token characters ([\W_]), but not a lone
#: apostrophe (a lone apostrophe between two letters/digits joins them into one token).
_SEPARATOR = r"(?:[\W_]{2,}|(?!')[\W_])"
_SCHEMA = {"transcript_pk": "int64", "label": "string", "n": "int64"}


class TokenSequence:
    """An exact matcher of a sequence of 1-5 tokens under the token contract (folded), or under
    the contract without lowercasing (``case_sensitive``)."""

    def __init__(self, tokens: Sequence[str], case_sensitive: bool = False):
        if not tokens:
            raise ValueError("a token sequence needs at least one token")
        self.tokens = tuple(tokens)
        self.case_sensitive = case_sensitive
        self.core = re.compile(_SEPARATOR.join(re.escape(t) for t in self.tokens))
        k = len(self.tokens)
        self.overlapping = any(self.tokens[j:] == self.tokens[:k - j] for j in range(1, k))

    # -- the exact count -------------------------------------------------------------------------
    def prepare(self, text: str) -> str:
        """The text as the contract sees it (lowercased unless case-sensitive, U+2019 → ')."""
        return text.replace("\u2019", "'") if self.case_sensitive else normalize(text)

    def _starts(self, norm: str) -> Iterable[tuple[int, int]]:
        """(start, end) of every occurrence in the prepared text."""
        search = self.core.search
        n = len(norm)
        pos = 0
        while True:
            m = search(norm, pos)
            if m is None:
                return
            s, e = m.span()
            pos = s + 1  # a hit that is not an occurrence can hide one starting inside it
            if s > 0:
                p = norm[s - 1]
                if p.isalnum() or (p == "'" and s > 1 and norm[s - 2].isalnum()):
                    continue
            if e < n:
                q = norm[e]
                if q.isalnum() or (q == "'" and e + 1 < n and norm[e + 1].isalnum()):
                    continue
            if not self.overlapping:  # an occurrence: the next one cannot start inside it
                pos = e
            yield s, e

    def count(self, text: str) -> int:
        """Occurrences in ``text`` (one segment)."""
        return sum(1 for _ in self._starts(self.prepare(text)))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each occurrence in the original ``text`` (for keyword in context)."""
        norm = self.prepare(text)
        back = original_offsets(text, norm)
        return [(back(a), back(b - 1) + 1) for a, b in self._starts(norm)]

    # -- the prefilter ---------------------------------------------------------------------------
    def prefilter(self) -> str:
        """An RE2 pattern matching every segment that can hold the sequence (a superset)."""
        def literal(token: str) -> str:  # tokens are letters, digits and inner apostrophes
            return "".join("['\u2019]" if c == "'" else c for c in token)

        separator = f"(?:[^\\pL\\pN]|[{RE2_DISAGREES[1:]}])"
        if self.case_sensitive:
            return f"{separator}+".join(literal(t) for t in self.tokens)
        parts = []
        for k, token in enumerate(self.tokens):
            last = k == len(self.tokens) - 1
            if token.endswith("i"):  # 'İ' lowercases to 'i' + a combining dot (a separator)
                head = literal(token[:-1])
                parts.append(f"{head}(?:\u0130|i)" if last else f"{head}(?:\u0130{separator}*|i{separator}+)")
            else:
                parts.append(literal(token) + ("" if last else f"{separator}+"))
        return "(?i)" + "".join(parts)

    def candidate_tokens(self) -> list[str]:
        """Folded tokens every transcript holding the sequence holds in its token lists. (A
        case-sensitive token with a sigma is left out: its folded form depends on context.)"""
        if not self.case_sensitive:
            return list(dict.fromkeys(self.tokens))
        out: list[str] = []
        for token in self.tokens:
            folded = normalize(token)
            if any(c in folded for c in "σςΣ"):
                continue
            out += TOKEN_RE.findall(folded)
        return list(dict.fromkeys(out))


def original_offsets(text: str, norm: str):
    """A function mapping an offset in ``norm`` (the lowercased ``text``) to one in ``text``:
    lowercasing can change lengths ('İ'.lower() is two characters)."""
    if len(norm) == len(text):
        return lambda i: i
    lengths = np.fromiter((len(normalize(c)) for c in text), np.int64, len(text))
    ends = np.cumsum(lengths)
    return lambda i: int(np.searchsorted(ends, i, side="right"))


# --------------------------------------------------------------------------------------------
# Counting in the store
# --------------------------------------------------------------------------------------------
def sequence_of(spec) -> TokenSequence:
    """The matcher of a token or phrase TermSpec (folded, or case-sensitive as it says)."""
    return TokenSequence(spec.tokens, case_sensitive=spec.case_sensitive)


def text_hits(store: Store, labelled: Sequence[tuple[str, object]], scopes: Sequence[str],
              runs: Sequence[str] | None = None, environment: str | None = None,
              steps: Sequence[int] | None = None):
    """Per transcript and label, the occurrences of text-counted specs (an Arrow table
    ``transcript_pk, label, n``, rows with n > 0 only).

    ``labelled``: (label, spec) pairs — a spec is a token/phrase TermSpec; a label may come
    several times (the members of a group) and its counts add up. ``scopes``: stored scopes.
    """
    import pyarrow as pa

    kinds = [k for s in scopes for k in kinds_of_stored_scope(s)]
    totals: dict[tuple[int, str], int] = {}
    for label, spec in labelled:
        matcher = sequence_of(spec)
        for pk, n in _count_sequence(store, matcher, scopes, kinds, runs, environment, steps).items():
            totals[(pk, label)] = totals.get((pk, label), 0) + n
    keys = list(totals)
    return pa.table({
        "transcript_pk": pa.array([k[0] for k in keys], pa.int64()),
        "label": pa.array([k[1] for k in keys], pa.string()),
        "n": pa.array([totals[k] for k in keys], pa.int64()),
    })


def candidate_ids(store: Store, matcher: TokenSequence) -> list[int] | None:
    """Term ids of the sequence's candidate tokens, rarest first; None when one was never counted
    (no transcript can hold the sequence)."""
    stats = _candidate_stats(store, matcher)
    return None if stats is None else [tid for tid, _ in stats]


def _candidate_stats(store: Store, matcher: TokenSequence) -> list[tuple[int, int]] | None:
    """(term id, transcripts using it) of the candidate tokens, rarest first (None: one never counted)."""
    tokens = matcher.candidate_tokens()
    if not tokens:
        return []
    found = store.rows(load_sql("term_doc_frequency"), {"terms": tokens})
    if len(found) < len(tokens):
        return None
    return [(tid, docs) for tid, _, docs in found]


def sequences_filter(store: Store, sequences: Sequence[TokenSequence]):
    """For finding transcripts that can hold any of ``sequences``: (the sequences that can occur at
    all, the rarest token id of each — None when one has no token to filter on — and their
    prefilters joined into one RE2 pattern, None when no sequence can occur)."""
    live, rare = [], []
    for seq in sequences:
        ids = candidate_ids(store, seq)
        if ids is None:
            continue
        live.append(seq)
        rare.append(ids[0] if ids else None)
    prefilter = "|".join(f"(?:{s.prefilter()})" for s in live) or None
    return live, (None if None in rare else rare), prefilter


def _count_sequence(store: Store, matcher: TokenSequence, scopes, kinds, runs, environment, steps) -> dict[int, int]:
    stats = _candidate_stats(store, matcher)
    if stats is None:
        return {}
    counts: dict[int, int] = {}
    rarest_docs = stats[0][1] if stats else None
    ids = [tid for tid, _ in stats]
    for pks, texts in candidate_segments(store, matcher, ids, scopes, kinds, runs, environment, steps,
                                         rarest_docs=rarest_docs):
        count = matcher.count
        for pk, text in zip(pks, texts):
            n = count(text)
            if n:
                counts[pk] = counts.get(pk, 0) + n
    return counts


#: Above this many candidate transcripts (and this share of the selection) every segment's text
#: is read once instead of testing the candidate list row by row (measured: docs/benchmarks.md).
LIST_CANDIDATES = 50_000
LIST_SHARE = 0.15


def candidate_segments(store: Store, matcher: TokenSequence, ids: list[int], scopes, kinds, runs, environment,
                       steps, batch_rows: int = 20_000, rarest_docs: int | None = None):
    """Batches (pks, texts) of the segments that pass the candidate lists and the prefilter.
    ``rarest_docs`` (transcripts using the rarest token, when known) skips the candidate query
    when it cannot pay off."""
    rarest = (list(ids) + [None] * 5)[:5]  # the five rarest tokens filter; the exact count does the rest
    where = {"runs": list(runs) if runs else None, "environment": environment,
             "steps": list(steps) if steps is not None else None}
    selection = None
    scan = False
    if rarest_docs is not None and rarest_docs > LIST_CANDIDATES:
        selection = store.rows(load_sql("term_text_selection"), where)[0][0]
        scan = rarest_docs > 2 * LIST_SHARE * selection  # surely many candidates: read every text once
    if not scan:
        pks = [r[0] for r in store.rows(load_sql("term_text_candidates"), {
            **{f"i{k + 1}": rarest[k] for k in range(5)}, "scopes": list(scopes), **where})]
        if not pks:
            return
        if len(pks) > LIST_CANDIDATES:
            if selection is None:
                selection = store.rows(load_sql("term_text_selection"), where)[0][0]
            scan = len(pks) > LIST_SHARE * selection
    if scan:
        sql, params = load_sql("term_text_segments_scan"), where
    else:
        sql, params = load_sql("term_text_segments"), {"pks": pks}
    params = {**params, "kinds": list(kinds), "prefilter": matcher.prefilter()}
    reader = store.con.sql(sql, params=params).to_arrow_reader(batch_rows)
    for batch in reader:
        yield batch.column(0).to_pylist(), batch.column(1).to_pylist()


def scope_kinds(scope: str) -> tuple[str, ...]:
    """Segment kinds of a query scope (reasoning, output, all)."""
    return KINDS_OF_SCOPE[scope]
