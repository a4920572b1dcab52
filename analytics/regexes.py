"""Regular expressions from users and artifacts, run without backtracking (they cannot hang).

Python's ``re`` backtracks: ``(a+)+$`` against ``"aaaa…ab"`` takes exponential time, so a regex
from a user (a ``/…/`` term) or from a classifier artifact could stall a command — while it holds
the store's write lock, for ``classify apply``. Every such pattern goes through this module
instead: it is compiled and run by **RE2** (the engine inside DuckDB, always installed with
cotwatch), whose matching time is linear in the text, and whose program size is bounded (RE2's
memory budget; repetition counts up to 1000). What RE2 cannot bound is refused with one line.

The API::

    rx = compile_bounded(r"^disclaim", ignore_case=True, where="TERM '/^disclaim/'")
    rx.search("Disclaimer")                 # -> True  (one text)
    rx.search_many(["a", "disclaims"])      # -> numpy bool array, one DuckDB call for the batch
    rx.count_many(texts)                    # -> numpy int64, non-overlapping matches per text
    rx.re2                                  # the RE2 pattern to bind in SQL: regexp_matches(col, $p)
    rx.engine                               # "duckdb-re2"

:func:`compile_bounded` raises ``error`` (default :class:`~cotwatch.analytics.errors.InputError`,
exit 3; pass ``error=SpecError`` for artifacts and watchlists, exit 6) with a one-line message
naming ``where`` and the reason.

**Dialect.** RE2 syntax, which is Python's ``re`` without the features that need backtracking,
with these translations so that patterns mean what they mean in Python:

* ``\\w \\W \\d \\D \\s \\S`` are Unicode-aware as in Python (RE2's own are ASCII-only): they are
  rewritten to ``[\\pL\\pN_]``, ``\\p{Nd}``, Python's whitespace set, and their complements
  (``\\W`` and ``\\S`` inside ``[...]`` cannot be expressed in RE2 and are refused: write ``[^...]``);
* ``\\uXXXX``/``\\UXXXXXXXX`` become ``\\x{...}``, ``\\Z`` becomes ``\\z``, ``{,n}`` becomes ``{0,n}``;
* ``\\b`` and ``\\B`` keep RE2's meaning (ASCII word characters).

Refused (one line each): backreferences (``\\1``, ``(?P=name)``), lookahead/lookbehind
(``(?=``, ``(?!``, ``(?<=``, ``(?<!``), atomic groups and possessive quantifiers, conditionals,
the verbose flag ``(?x)``, ``\\N{...}``, repetition counts above 1000, programs over RE2's memory
budget, and patterns longer than :data:`MAX_PATTERN_LENGTH` characters.

The engine is an in-memory DuckDB connection per thread, created on first use (it holds no data;
external access and extension loading are off).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cotwatch.analytics.errors import CotwatchError, InputError

#: Longest pattern accepted (characters), a size budget on top of RE2's own memory budget.
MAX_PATTERN_LENGTH = 4096
ENGINE = "duckdb-re2"

_WORD = r"\pL\pN_"
_DIGIT = r"\p{Nd}"
# Python's str whitespace (str.isspace): \t \n \v \f \r, \x1c-\x1f, \x85 and the Z categories.
_SPACE = r"\t\n\x{0b}\f\r\x{1c}-\x{1f}\x{85}\p{Z}"
_OUTSIDE = {
    "w": f"[{_WORD}]", "W": f"[^{_WORD}]", "d": _DIGIT, "D": r"\P{Nd}",
    "s": f"[{_SPACE}]", "S": f"[^{_SPACE}]", "Z": r"\z",
}
_INSIDE = {"w": _WORD, "d": _DIGIT, "D": r"\P{Nd}", "s": _SPACE}
_REFUSED_GROUPS = {
    "(?=": "lookahead", "(?!": "lookahead", "(?<=": "lookbehind", "(?<!": "lookbehind",
    "(?>": "an atomic group", "(?(": "a conditional", "(?P=": "a backreference",
}


class _Unbounded(ValueError):
    """A construct that needs backtracking (no linear-time bound)."""


@dataclass(frozen=True)
class BoundedRegex:
    """A compiled, linear-time regular expression (see the module docstring)."""

    pattern: str
    re2: str
    ignore_case: bool = False
    engine: str = ENGINE

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (like ``re.search``)."""
        return bool(self.search_many([text])[0])

    def search_many(self, texts: Sequence[str | None]) -> np.ndarray:
        """``search`` for every text at once (one engine call); None counts as no match."""
        return self._apply("coalesce(regexp_matches(t, $p), false)", texts, bool)

    def count_many(self, texts: Sequence[str | None]) -> np.ndarray:
        """Non-overlapping matches per text (like ``len(re.findall(...))``); None counts 0."""
        return self._apply("coalesce(len(regexp_extract_all(t, $p)), 0)", texts, np.int64)

    def _apply(self, expression: str, texts: Sequence[str | None], dtype) -> np.ndarray:
        import pyarrow as pa

        if len(texts) == 0:
            return np.zeros(0, dtype)
        con = _engine()
        table = pa.table({"i": pa.array(np.arange(len(texts), dtype=np.int64)),
                          "t": pa.array(list(texts), pa.string())})
        con.register("_bounded_texts", table)
        try:
            # the SQL is a constant; only the pattern is bound
            rows = con.execute(f"select {expression} from _bounded_texts order by i",  # noqa: S608
                               {"p": self.re2}).fetchnumpy()
        finally:
            con.unregister("_bounded_texts")
        return np.asarray(next(iter(rows.values())), dtype)


def search_matrix(regexes: Sequence[BoundedRegex], texts: Sequence[str | None]) -> np.ndarray:
    """``search`` of every pattern in every text, in one engine pass: a bool matrix
    ``(len(texts), len(regexes))`` (None counts as no match)."""
    if len(texts) == 0 or len(regexes) == 0:
        return np.zeros((len(texts), len(regexes)), dtype=bool)
    import pyarrow as pa

    con = _engine()
    table = pa.table({"i": pa.array(np.arange(len(texts), dtype=np.int64)),
                      "t": pa.array(list(texts), pa.string())})
    columns = ", ".join(f"coalesce(regexp_matches(t, $p{k}), false) as m{k}" for k in range(len(regexes)))
    con.register("_bounded_texts", table)
    try:
        # the SQL is built from column numbers only; every pattern is bound
        rows = con.execute(f"select {columns} from _bounded_texts order by i",  # noqa: S608
                           {f"p{k}": rx.re2 for k, rx in enumerate(regexes)}).fetchnumpy()
    finally:
        con.unregister("_bounded_texts")
    return np.column_stack([np.asarray(rows[f"m{k}"], dtype=bool) for k in range(len(regexes))])


_local = threading.local()


def _engine():
    """This thread's in-memory DuckDB connection (a regex engine; it never holds data)."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(":memory:", config={
            "enable_external_access": False, "autoinstall_known_extensions": False,
            "autoload_known_extensions": False})
        _local.con = con
    return con


def translate(pattern: str) -> str:
    """The RE2 form of a Python-style ``pattern`` (see the dialect above). Raises ValueError
    with the reason when a construct cannot be translated."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("a trailing backslash")
            e = pattern[i + 1]
            if e in "123456789":
                raise _Unbounded(f"a backreference (\\{e})")
            if e == "N":
                raise ValueError("\\N{...} named characters (write the character itself or \\x{...})")
            if e in "uU":
                width = 4 if e == "u" else 8
                digits = pattern[i + 2:i + 2 + width]
                if len(digits) != width or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
                    raise ValueError(f"a malformed \\{e} escape")
                out.append(f"\\x{{{digits}}}")
                i += 2 + width
                continue
            if in_class:
                if e in ("W", "S"):
                    raise ValueError(f"\\{e} inside [...] (RE2 cannot complement inside a class: write [^...])")
                out.append(_INSIDE.get(e, "\\" + e))
            else:
                out.append(_OUTSIDE.get(e, "\\" + e))
            i += 2
            continue
        if in_class:
            if c == "[" and pattern.startswith("[:", i):  # POSIX class [:alpha:] inside a class
                end = pattern.find(":]", i + 2)
                if end != -1:
                    out.append(pattern[i:end + 2])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a ']' right after '[' or '[^' is a literal
                out.append("\\]")
                i += 1
            continue
        if c == "(":
            for prefix, what in _REFUSED_GROUPS.items():
                if pattern.startswith(prefix, i):
                    raise _Unbounded(f"{what} ({prefix}...)")
            if pattern.startswith("(?", i):
                j = i + 2
                while j < n and pattern[j].isalpha():
                    j += 1
                flags = pattern[i + 2:j]
                if "x" in flags:
                    raise ValueError("the verbose flag (?x)")
        if c in "*+?}" and i + 1 < n and pattern[i + 1] == "+":
            raise _Unbounded("a possessive quantifier")
        if c == "{" and pattern.startswith("{,", i):
            out.append("{0,")
            i += 2
            continue
        out.append(c)
        i += 1
    if in_class:
        raise ValueError("an unterminated character class [")
    return "".join(out)


def compile_bounded(pattern: str, *, ignore_case: bool = False, where: str = "regex",
                    error: type[CotwatchError] = InputError) -> BoundedRegex:
    """Translate and compile ``pattern`` for RE2; ``error(message)`` when it cannot be bounded.

    >>> compile_bounded("(a+)+$").search("a" * 100_000 + "b")
    False
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise error(f"{where}: regular expression of {len(pattern)} characters; at most "
                    f"{MAX_PATTERN_LENGTH} are accepted (a size budget)")
    try:
        body = translate(pattern)
    except _Unbounded as exc:
        raise error(f"{where}: regular expression uses {exc}, which cannot run in bounded time; "
                    "refused (cotwatch runs regexes with RE2: no backreferences or lookaround)") from None
    except ValueError as exc:
        raise error(f"{where}: regular expression uses {exc}, which the bounded engine (RE2) "
                    "does not support") from None
    re2 = ("(?i)" if ignore_case else "") + body
    import duckdb

    try:
        _engine().execute("select regexp_matches('', $p)", {"p": re2}).fetchall()
    except duckdb.Error as exc:
        reason = str(exc).split("Error:", 1)[-1].strip().splitlines()[0]
        hint = ""
        if "repetition" in reason:
            hint = " (RE2 allows repetition counts up to 1000)"
        elif "too large" in reason or "memory" in reason:
            hint = " (the compiled program exceeds RE2's memory budget)"
        elif "perl operator" in reason or "escape" in reason:
            hint = " (RE2 syntax: no backreferences, lookaround or verbose mode)"
        raise error(f"{where}: invalid or unboundable regular expression: {reason}{hint}") from None
    return BoundedRegex(pattern=pattern, re2=re2, ignore_case=ignore_case)
