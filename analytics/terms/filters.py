"""Which counted terms an exploratory ranking (discovery, word shift) may show.

Real corpora hold tokens no reader wants ranked: single letters of math (``x``, ``s``, ``t``),
numbers, and the debris of degenerate text mixing alphabets (``1常数国``, ``at裁决同一时刻``).
Three filters, applied to the *ranking only* (the statistics are computed on every token, so a
filtered term still counts in the totals):

* **script** — ``auto`` (default): the run's dominant script, the one whose letter-bearing tokens
  account for the most occurrences in the selection (Latin for English CoT); a script name
  (``latin``, ``han``, ``cyrillic``, ``greek``, ``arabic``, ``hebrew``, ``devanagari``,
  ``hangul``, ``hiragana``, ``katakana``, ``thai``): keep tokens with at least one letter, all of
  that script (digits and inner apostrophes allowed); ``any``: no filter. Number-only tokens have
  no script, so only ``any`` keeps them.
* **min_length** — drop tokens shorter than this many characters (default 2).
* **stopwords** — None (default), an integer N (the N most frequent English words of wordfreq),
  a path to a file (one word per line, ``#`` comments), or a collection of words.

For phrases (n-grams) every token of the phrase must pass.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql

#: Script name → Unicode script property (RE2 and Rust regex spell them alike).
SCRIPTS = {
    "latin": "Latin", "han": "Han", "cyrillic": "Cyrillic", "greek": "Greek", "arabic": "Arabic",
    "hebrew": "Hebrew", "devanagari": "Devanagari", "hangul": "Hangul", "hiragana": "Hiragana",
    "katakana": "Katakana", "thai": "Thai",
}
SCRIPT_CHOICES = ("auto", "any", *SCRIPTS)
StopwordsArg = int | str | Path | Collection[str] | None


@dataclass(frozen=True)
class TermFilter:
    """The resolved filter: ``script`` is a key of :data:`SCRIPTS` or "any"."""

    script: str
    min_length: int
    stopwords: frozenset[str]

    def describe(self) -> str:
        parts = [f"script {self.script}", f"min length {self.min_length}"]
        if self.stopwords:
            parts.append(f"{len(self.stopwords)} stopwords")
        return ", ".join(parts)

    def expression(self, column: str = "term", ngram: int = 1):
        """A polars boolean expression: which values of ``column`` pass (n-grams: every token)."""
        import polars as pl

        tokens = pl.col(column).str.split(" ") if ngram > 1 else pl.concat_list(pl.col(column))
        ok = tokens.list.eval(pl.element().str.len_chars() >= self.min_length).list.all()
        if self.script != "any":
            prop = SCRIPTS[self.script]
            pattern = rf"^[\p{{{prop}}}\p{{N}}']*\p{{{prop}}}[\p{{{prop}}}\p{{N}}']*$"
            ok = ok & tokens.list.eval(pl.element().str.contains(pattern)).list.all()
        if self.stopwords:
            ok = ok & ~tokens.list.eval(pl.element().is_in(list(self.stopwords))).list.any()
        return ok


def term_filter(store: Store, *, script: str = "auto", min_length: int = 2, stopwords: StopwordsArg = None,
                runs: Sequence[str] | None = None, scopes: Sequence[str] = ("reasoning",),
                environment: str | None = None) -> TermFilter:
    """Resolve the filter options (``auto`` looks up the selection's dominant script)."""
    if min_length < 1:
        raise InputError(f"--min-length {min_length}: expected at least 1")
    if script not in SCRIPT_CHOICES:
        raise InputError(f"--script {script!r}: expected one of {', '.join(SCRIPT_CHOICES)}")
    if script == "auto":
        script = dominant_script(store, runs, scopes, environment)
    return TermFilter(script, min_length, load_stopwords(stopwords))


def dominant_script(store: Store, runs: Sequence[str] | None, scopes: Sequence[str],
                    environment: str | None = None) -> str:
    """The script whose letter-bearing tokens occur most in the selection ("any" if none)."""
    cases = [(name, rf"\p{{{prop}}}") for name, prop in SCRIPTS.items()]
    rows = store.rows(load_sql("term_scripts"), {
        "names": [c[0] for c in cases], "patterns": [c[1] for c in cases],
        "runs": list(runs) if runs else None, "scopes": list(scopes), "environment": environment})
    return rows[0][0] if rows and rows[0][0] else "any"


def load_stopwords(stopwords: StopwordsArg) -> frozenset[str]:
    """The stopword set of a ``stopwords`` option (see the module docstring)."""
    from cotwatch.analytics.terms.tokens import tokenize

    if stopwords is None:
        return frozenset()
    if isinstance(stopwords, bool):
        raise InputError("stopwords: expected a number of wordfreq words, a file or a list of words")
    if isinstance(stopwords, int):
        if stopwords < 1:
            raise InputError(f"--stopwords {stopwords}: expected a positive number of words, or a file")
        from wordfreq import top_n_list

        return frozenset(t for w in top_n_list("en", stopwords) for t in tokenize(w))
    if isinstance(stopwords, (str, Path)):
        text = str(stopwords)
        if text.isdigit():
            return load_stopwords(int(text))
        path = Path(text)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InputError(f"--stopwords {path}: no such file (give a file of words, one per line, or a number "
                             "of wordfreq's most frequent English words)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--stopwords {path}: cannot read: {exc}") from None
        words = [line.split("#", 1)[0].strip() for line in lines]
        return frozenset(t for w in words if w for t in tokenize(w))
    return frozenset(t for w in stopwords for t in tokenize(str(w)))
