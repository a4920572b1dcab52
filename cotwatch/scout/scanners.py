"""The scanner factories: cotwatch's eval-awareness classifier and watchlist terms, for Inspect Scout.

Both read the same reasoning ``cotwatch ingest`` stores (:func:`reasoning_parts`) and call the
library (``cotwatch.classifiers.scoring.Scorer`` and its transcript decision;
``cotwatch.analytics.terms`` specs, token contract, phrase matcher and keyword-in-context), so a
scan and the store give the same numbers for the same transcript. The work of a scan (sentence
scoring, counting) runs in a worker thread, so an eval that scans its samples online keeps its
event loop free while a transcript is scored.

References follow Scout's convention: ``[M<n>]`` is the n-th message of the transcript (1-based),
and each reference carries that message's id.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from inspect_scout import Reference, Result, Scanner, Transcript, scanner

__all__ = ["ReasoningPart", "eval_awareness", "reasoning_parts", "watchlist_terms"]


# --------------------------------------------------------------------------------------------
# Reasoning of a transcript
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReasoningPart:
    """One reasoning segment: the 1-based position of its message in the transcript (the ``[M<n>]``
    cite), that message's id, the segment kind (``reasoning`` or ``reasoning_summary``) and text."""

    message: int
    message_id: str | None
    kind: str
    text: str


def reasoning_parts(messages: Any) -> list[ReasoningPart]:
    """The reasoning of a transcript's messages, segment by segment, as ``cotwatch ingest`` stores
    it: every ``ContentReasoning`` of an assistant message (and its ``summary``), ``<think>`` in
    assistant text; redacted reasoning (no text) and blank segments are left out."""
    from cotwatch.analytics.ingest.inspect import sample_segments
    from cotwatch.analytics.kinds import REASONING_KINDS

    parts: list[ReasoningPart] = []
    for position, message in enumerate(messages or [], start=1):
        if getattr(message, "role", None) != "assistant":
            continue
        for segment in sample_segments(SimpleNamespace(messages=[message])):
            if segment.kind in REASONING_KINDS and not segment.redacted and segment.text.strip():
                parts.append(ReasoningPart(position, _message_id(message), segment.kind, segment.text))
    return parts


def _message_id(message: Any) -> str | None:
    if getattr(message, "id", None):
        return message.id
    try:  # the id Scout itself gives a message without one (its references must resolve alike)
        from inspect_scout._scanner.util import _message_id as scout_message_id
    except ImportError:  # pragma: no cover - a Scout without the helper
        return None
    return scout_message_id(message)


def _references(messages: list[tuple[int, str | None]]) -> list[Reference]:
    """One reference per cited message, in order of first citation."""
    seen: dict[int, Reference] = {}
    for position, message_id in messages:
        if position not in seen and message_id:
            seen[position] = Reference(type="message", cite=f"[M{position}]", id=message_id)
    return list(seen.values())


async def _in_thread(function, *args):
    import anyio

    return await anyio.to_thread.run_sync(function, *args)


# --------------------------------------------------------------------------------------------
# Eval awareness
# --------------------------------------------------------------------------------------------
class AwarenessJudge:
    """A classifier artifact, its scorer (the encoders load on first use) and the transcript
    decision, applied to one transcript's reasoning at a time. Picklable (Scout's worker
    processes get a copy without the loaded encoders)."""

    def __init__(self, classifier: str, device: str, batch_size: int):
        from cotwatch.classifiers.artifacts import load_artifact

        self.classifier, self.device, self.batch_size = classifier, device, batch_size
        self.artifact = load_artifact(classifier)  # a bad name or file fails when the scanner is made
        self._scorer = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"classifier": self.classifier, "device": self.device, "batch_size": self.batch_size,
                "artifact": self.artifact}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._scorer = None
        self._lock = threading.Lock()

    def scorer(self):
        if self._scorer is None:
            from cotwatch.classifiers.scoring import Scorer

            self._scorer = Scorer(self.artifact, device=self.device, batch_size=self.batch_size)
        return self._scorer

    def judge(self, parts: list[ReasoningPart]) -> Result:
        """The transcript decision over ``parts`` as a Scout result (value: flagged)."""
        import numpy as np
        from cotwatch.classifiers.sentences import split_many

        idx, starts, ends, sentences = split_many([p.text for p in parts])
        with self._lock:  # one scorer, loaded once, shared by every concurrent scan of the process
            scorer = self.scorer()
            scores, candidates = scorer.score(sentences, doc=idx)
        decision = scorer.decision
        art = scorer.artifact
        n = len(sentences)
        max_score = float(scores.max()) if n else 0.0
        flagged = bool(n) and bool(decision.flags(np.array([max_score]), np.array([n]))[0])
        transcript_score = float(decision.scores(np.array([max_score]), np.array([n]))[0])
        hits = np.flatnonzero(scores >= scorer.threshold) if flagged else np.zeros(0, np.int64)
        evidence = [{
            "message": parts[idx[i]].message, "message_id": parts[idx[i]].message_id, "kind": parts[idx[i]].kind,
            "score": round(float(scores[i]), 6), "text": sentences[i], "start": int(starts[i]), "end": int(ends[i]),
        } for i in hits.tolist()]
        if flagged:
            explanation = "\n".join(f"[M{e['message']}] {e['score']:.3f}: {e['text']}" for e in evidence)
        elif n:
            explanation = (f"not flagged: highest sentence score {max_score:.3f} over {n} reasoning sentences "
                           f"(transcript score {transcript_score:.3f})")
        else:
            explanation = "no reasoning to score"
        return Result(
            value=flagged,
            explanation=explanation,
            references=_references([(e["message"], e["message_id"]) for e in evidence]),
            metadata={
                "classifier": art.name, "classifier_version": art.version, "classifier_sha256": art.sha256,
                "transcript_score": transcript_score, "max_score": max_score, "n_sentences": n,
                "n_candidates": int(candidates.sum()), "sentence_threshold": float(scorer.threshold),
                "alpha": float(decision.alpha), "flagged_sentences": evidence,
            },
        )


@scanner(messages="all")
def eval_awareness(classifier: str = "eval_awareness", device: str = "auto", batch_size: int = 64) -> Scanner[Transcript]:
    """cotwatch's eval-awareness classifier as a Scout scanner.

    Every reasoning sentence is scored by the classifier artifact ``classifier`` (a name — your
    trained copy, else the shipped one — or a path to a ``.skops`` file); the transcript is
    flagged by the artifact's transcript decision (length-aware, calibrated on real transcripts:
    ``cotwatch.classifiers.decision``). The result's value is ``True`` for a flagged transcript;
    the explanation lists its flagged sentences (score ≥ the sentence threshold inside a flagged
    transcript) with their scores, each cited ``[M<n>]`` and referenced; the metadata holds the
    transcript score, the sentence count and the artifact's name, version and sha256.

    Args:
        classifier: Artifact name or path (default: the shipped ``eval_awareness``).
        device: Torch device for the sentence encoder (``auto``, ``cpu``, ``cuda``...).
        batch_size: Sentences per encoder batch.
    """
    judge = AwarenessJudge(classifier, device, batch_size)

    async def scan(transcript: Transcript) -> Result:
        return await _in_thread(judge.judge, reasoning_parts(transcript.messages))

    return scan


# --------------------------------------------------------------------------------------------
# Watchlist terms
# --------------------------------------------------------------------------------------------
@dataclass
class _Term:
    label: str
    kind: str
    tokens: frozenset[str]        # folded single tokens
    wildcards: tuple              # WildcardMatcher per wildcard member
    regexes: tuple                # BoundedRegex per regex member
    sequences: tuple              # TokenSequence per phrase / case-sensitive token member


class TermCounter:
    """Counts of watchlist terms in one transcript's reasoning, under cotwatch's token contract."""

    def __init__(self, terms: list[str] | None, watchlist: str | None, case_sensitive: bool, snippets: int, width: int):
        from cotwatch.analytics.terms.phrases import sequence_of
        from cotwatch.analytics.terms.specs import load_watchlist, parse_terms

        book = load_watchlist(watchlist)
        if terms:
            specs = parse_terms(list(terms), book, case_sensitive=case_sensitive)
        else:
            specs = [s.as_case_sensitive() if case_sensitive else s for s in book.all_terms()]
        if not specs:
            from cotwatch.analytics.errors import SpecError

            raise SpecError(f"{book.source}: no terms to count")
        self.source = book.source
        self.snippets, self.width = snippets, width
        self.terms: list[_Term] = []
        for spec in specs:
            leaves = spec.leaves()
            self.terms.append(_Term(
                label=spec.label, kind=spec.kind,
                tokens=frozenset(leaf.pattern for leaf in leaves if leaf.kind == "token" and not leaf.needs_text),
                wildcards=tuple(leaf.regex() for leaf in leaves if leaf.kind == "wildcard"),
                regexes=tuple(leaf.regex() for leaf in leaves if leaf.kind == "regex"),
                sequences=tuple(sequence_of(leaf) for leaf in leaves if leaf.needs_text),
            ))

    def count(self, parts: list[ReasoningPart]) -> list[Result]:
        from cotwatch.analytics.terms.concordance import _lines as kwic_lines
        from cotwatch.analytics.terms.tokens import tokenize

        counters = [Counter(tokenize(p.text)) for p in parts]
        vocabulary = sorted(set().union(*counters)) if counters else []
        reasoning_tokens = sum(sum(c.values()) for c in counters)
        results = []
        for term in self.terms:
            wanted = set(term.tokens)
            for matcher in term.wildcards:
                wanted.update(t for t in vocabulary if matcher.fullmatch(t))
            for regex in term.regexes:
                if vocabulary:
                    wanted.update(t for t, hit in zip(vocabulary, regex.search_many(vocabulary)) if hit)
            count = sum(c[t] for c in counters for t in wanted if t in c)
            count += sum(seq.count(p.text) for seq in term.sequences for p in parts)
            snippets: list[dict] = []
            for part in parts:
                if len(snippets) >= self.snippets or not count:
                    break
                for left, match, right in kwic_lines(part.text, wanted, list(term.sequences), self.width):
                    snippets.append({"message": part.message, "message_id": part.message_id,
                                     "left": left, "match": match, "right": right})
                    if len(snippets) >= self.snippets:
                        break
            results.append(Result(
                value=count,
                label=term.label,
                explanation="\n".join(f"[M{s['message']}]: {s['left'].lstrip()}**{s['match']}**{s['right']}"
                                      for s in snippets) or None,
                references=_references([(s["message"], s["message_id"]) for s in snippets]),
                metadata={"term": term.label, "kind": term.kind, "watchlist": self.source,
                          "reasoning_tokens": reasoning_tokens,
                          "per_1k_tokens": 1000.0 * count / reasoning_tokens if reasoning_tokens else None,
                          "kwic": snippets},
            ))
        return results


@scanner(messages="all")
def watchlist_terms(terms: list[str] | None = None, watchlist: str | None = None, case_sensitive: bool = False,
                    snippets: int = 5, width: int = 40) -> Scanner[Transcript]:
    """Counts of watchlist terms in the reasoning, one Scout result per term (``label`` = the term).

    Terms are cotwatch term specs (a token, a phrase of 2-5 tokens, ``prefix*`` wildcards,
    ``/regex/`` over tokens, ``@group`` of the watchlist) counted under cotwatch's token contract,
    as ``cotwatch terms`` counts them in the store. The value is the count; the explanation shows
    up to ``snippets`` keyword-in-context lines, each cited ``[M<n>]`` and referenced; the metadata
    holds the reasoning's token count and the rate per 1,000 tokens.

    Args:
        terms: Term specs to count (default: every term of the watchlist).
        watchlist: A watchlist TOML file (default: the shipped one).
        case_sensitive: Match tokens and phrases in the case they were typed.
        snippets: Keyword-in-context lines kept per term and transcript.
        width: Characters of context on each side of a hit.
    """
    counter = TermCounter(terms, watchlist, case_sensitive, snippets, width)

    async def scan(transcript: Transcript) -> list[Result]:
        return await _in_thread(counter.count, reasoning_parts(transcript.messages))

    return scan
