"""Split chain-of-thought text into sentences, keeping character offsets into the segment.

CoT is not prose: bullets, numbered steps, code, shell commands, missing capitals after a full
stop ("likely eval. graders watching") and run-ons of several hundred characters. The rules:

* a line break always ends a sentence (bullets, steps and code lines stand alone);
* ``.``, ``!``, ``?`` (possibly repeated, possibly followed by a closing quote or bracket) followed
  by whitespace end a sentence, whatever case follows — except after common abbreviations
  (``e.g.``, ``i.e.``, ``etc.``, ``vs.``, ``Dr.``) and single-letter initials;
* list markers (``-``, ``*``, ``•``, ``1.``, ``2)``, ``(a)``) and markdown heading hashes at the start
  of a sentence are not part of it;
* a piece longer than ``max_chars`` is cut at the last comma/semicolon/colon (else whitespace)
  before the limit, so one run-on cannot drown a short suspicious clause;
* pieces without a single letter (``---``, ``3.``, ``}``) are dropped.

Offsets are Python string indices (code points): ``text[start:end] == sentence``.

>>> [text for _, _, text in split_sentences("ok. maybe this is a test?? - graders watching\\n2) fine")]
['ok.', 'maybe this is a test??', 'graders watching', 'fine']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

MAX_CHARS = 400

_BOUNDARY = re.compile(r"[.!?]+[\"'\u2019\u201d)\]]*(?=\s)|\n")
_MARKER = re.compile(r"(?:#{1,6}|[-*\u2022\u2023\u25aa\u25e6>]+|\d{1,3}[.)]|\(?[a-zA-Z0-9]{1,2}\))[ \t]+")
_LETTER = re.compile(r"[^\W\d_]")
_ABBREV = frozenset(
    "e.g i.e etc vs cf al fig eq approx dr mr mrs ms prof st jr sr inc ltd no vol ca resp".split()
)
_SOFT_BREAK = re.compile(r"[,;:]\s")


def split_sentences(text: str, max_chars: int = MAX_CHARS) -> list[tuple[int, int, str]]:
    """``(start, end, sentence)`` for every sentence of ``text``, in order."""
    return list(iter_sentences(text, max_chars))


def iter_sentences(text: str, max_chars: int = MAX_CHARS) -> Iterator[tuple[int, int, str]]:
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group() != "\n" and _is_abbreviation(text, m.start()):
            continue
        end = m.end() if m.group() != "\n" else m.start()
        yield from _emit(text, start, end, max_chars)
        start = m.end()
    yield from _emit(text, start, len(text), max_chars)


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    begin = dot
    while begin > 0 and (text[begin - 1].isalpha() or text[begin - 1] == "."):
        begin -= 1
    word = text[begin:dot].lower()
    if not word:
        return False
    if word in _ABBREV:
        return True
    parts = word.split(".")
    if len(parts) > 1 and all(len(part) == 1 for part in parts):  # "U.S.", "a.m."
        return True
    # single-letter initials ("J. Smith", "U.S.") but not a lone pronoun/article ending a clause
    return len(word) == 1 and word not in ("i", "a") and text[begin].isupper()


def _emit(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int, str]]:
    # trim whitespace, then list markers, then whitespace again
    while start < end and text[start].isspace():
        start += 1
    m = _MARKER.match(text, start, end)
    if m:
        start = m.end()
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return
    while end - start > max_chars:
        cut = _cut_point(text, start, start + max_chars)
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        if _LETTER.search(text, start, piece_end):
            yield start, piece_end, text[start:piece_end]
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end and _LETTER.search(text, start, end):
        yield start, end, text[start:end]


def _cut_point(text: str, start: int, limit: int) -> int:
    """Where to cut a too-long piece: after the last , ; : before ``limit``, else last space."""
    window = text[start:limit]
    soft = [m.end() for m in _SOFT_BREAK.finditer(window)]
    if soft and soft[-1] > len(window) // 3:
        return start + soft[-1]
    space = window.rfind(" ")
    if space > len(window) // 3:
        return start + space + 1
    return limit


def split_many(texts: Iterable[str], max_chars: int = MAX_CHARS) -> tuple[list[int], list[int], list[int], list[str]]:
    """Split many texts at once: parallel lists (text index, start, end, sentence)."""
    idx: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    sents: list[str] = []
    for i, text in enumerate(texts):
        for s, e, sent in iter_sentences(text or "", max_chars):
            idx.append(i)
            starts.append(s)
            ends.append(e)
            sents.append(sent)
    return idx, starts, ends, sents
