"""Transcript text → HTML: escaped, never altered, with highlights.

Every character of the stored text reaches the page. Characters that HTML would drop or change
(NUL, CR) or that are invisible and can disguise text (other control characters, bidirectional
overrides such as U+202E, zero-width and other format characters) are shown as a visible marker
``<span class="cc" data-cp="HEX">ESC</span>``: the marker's ``data-cp`` holds the code point, so the
original text is recovered exactly from the page (the browser test does so). Everything else is
written through :func:`markupsafe.escape`, so ``<script>`` in a transcript is text.

Highlights are half-open ``[start, end)`` ranges in Python string indices (code points) — the unit
of classifier sentence offsets — and may overlap; the text is cut at every boundary and each
piece is wrapped in the marks covering it (sentences outside, term hits inside).
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize
from markupsafe import Markup, escape

#: format characters that shape scripts and emoji (kept as they are)
_SHAPING = {0x200C, 0x200D}


@functools.lru_cache(maxsize=1)
def _hidden_re() -> re.Pattern:
    """Characters shown as markers: Cc except TAB and LF, every Cf except ZWNJ/ZWJ, Zl, Zp."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if cp in (0x09, 0x0A) or cp in _SHAPING:
            continue
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    body = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"[{body}]")


#: short names of the C0 controls and DEL, shown in markers (ASCII: every font has them)
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB "
             "CAN EM SUB ESC FS GS RS US").split()


def _marker(ch: str) -> str:
    cp = ord(ch)
    shown = _C0_NAMES[cp] if cp < 0x20 else "DEL" if cp == 0x7F else f"U+{cp:04X}"
    name = unicodedata.name(ch, f"U+{cp:04X}")
    return f'<span class="cc" data-cp="{cp:x}" title="U+{cp:04X} {escape(name)}">{escape(shown)}</span>'


def visible(text: object) -> Markup:
    """``text`` escaped for HTML, hidden characters shown as markers (see the module docstring)."""
    s = "" if text is None else str(text)
    pattern = _hidden_re()
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(s):
        out.append(str(escape(s[pos:m.start()])))
        out.append(_marker(m.group()))
        pos = m.end()
    out.append(str(escape(s[pos:])))
    return Markup("".join(out))


def exact(text: object) -> Markup:
    """``text`` for an attribute whose value must come back unchanged (a form's hidden field, a
    ``data-`` attribute): escaped, with C0 control characters and DEL written as numeric character
    references — so no raw control byte is in the page (a terminal showing it cannot be driven)
    and CR is not turned into LF by the HTML parser. (C1 characters stay literal: a reference to
    one would be remapped to a Windows-1252 character.)"""
    escaped = str(escape("" if text is None else str(text)))
    return Markup(_C0.sub(lambda m: f"&#{ord(m.group())};", escaped))


_C0 = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: object) -> str:
    """``text`` for a place that holds plain text only (``title``, ``<title>``): hidden characters
    written as ``<U+XXXX>``. The caller's template escapes the result."""
    s = "" if text is None else str(text)
    return _hidden_re().sub(lambda m: f"<U+{ord(m.group()):04X}>", s)


# -- tokens with positions --------------------------------------------------------------------------
def token_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, token)`` of every token of ``text`` under the token contract
    (``cotwatch.analytics.terms.tokens``), positions in the original text (lowercasing can change
    lengths, e.g. ``'İ'.lower()`` is two characters: offsets are mapped back by the terms
    package's ``original_offsets``)."""
    from cotwatch.analytics.terms.phrases import original_offsets

    norm = normalize(text)
    back = original_offsets(text, norm)
    for m in TOKEN_RE.finditer(norm):
        yield back(m.start()), back(m.end() - 1) + 1, m.group()


# -- highlights --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mark:
    """A highlighted range. ``layer`` orders nesting (lower is outside); ``anchor`` is an element id
    put on the first piece; ``label`` is shown after the last piece (CSS generated content, not
    part of the text); ``title`` is the tooltip."""

    start: int
    end: int
    css: str
    layer: int = 0
    anchor: str | None = None
    label: str | None = None
    title: str | None = None
    data: tuple[tuple[str, str], ...] = field(default=())


def render(text: str, marks: Iterable[Mark] = ()) -> Markup:
    """``text`` as HTML with ``marks`` applied; the pieces concatenate to ``text`` exactly."""
    marks = sorted((m for m in marks if 0 <= m.start < m.end <= len(text)), key=lambda m: (m.layer, m.start, -m.end))
    if not marks:
        return visible(text)
    cuts = sorted({0, len(text), *(m.start for m in marks), *(m.end for m in marks)})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:]):
        active = [m for m in marks if m.start <= a and b <= m.end]
        html = str(visible(text[a:b]))
        for m in reversed(active):  # innermost first
            attrs = [f'class="{escape(m.css)}{" first" if m.start == a else ""}{" last" if m.end == b else ""}"']
            if m.anchor and m.start == a:
                attrs.append(f'id="{escape(m.anchor)}"')
            if m.label and m.end == b:
                attrs.append(f'data-label="{escape(plain(m.label))}"')
            if m.title:
                attrs.append(f'title="{escape(plain(m.title))}"')
            attrs.extend(f'data-{escape(k)}="{escape(plain(v))}"' for k, v in m.data)
            tag = "mark" if m.layer > 0 else "span"
            html = f"<{tag} {' '.join(attrs)}>{html}</{tag}>"
        out.append(html)
    return Markup("".join(out))


def kwic_line(text: str, start: int, end: int, width: int = 70) -> tuple[str, str, str]:
    """(left, match, right) around ``text[start:end]``, whitespace runs folded to one space."""
    left = _WS.sub(" ", text[max(0, start - width):start])
    right = _WS.sub(" ", text[end:end + width])
    return left[-width:], text[start:end], right[:width]


_WS = re.compile(r"\s+")
