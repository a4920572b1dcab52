"""What a TERM argument means, and watchlists of terms.

A term spec is one of (matching is case-insensitive, against tokens of the token contract):

* ``autop`` — one token (normalized like text: lowercased, U+2019 → ``'``);
* ``autop-run``, ``"might be a test"``, ``wait, but`` — a **phrase**: the sequence of 2 to
  :data:`MAX_PHRASE_TOKENS` tokens the text holds under the token contract (hyphens, spaces and
  punctuation only separate), matched as consecutive tokens within one segment;
* ``autop*`` — a wildcard: ``*`` stands for any run of token characters (``autop*`` is a prefix);
* ``/^disclaim/`` — a regular expression searched in each token, run by RE2 with a bounded cost
  (``cotwatch.analytics.regexes``: Python syntax without backreferences or lookaround);
* ``@o3_capabilities`` — a named group of a watchlist (its members are specs themselves).

With ``case_sensitive=True`` tokens and phrases match the text's own case instead (see
:meth:`TermSpec.as_case_sensitive`); wildcards and regexes always match folded tokens.

Watchlists are TOML files (format in ``docs/terms.md``); the default one ships as
``analytics/terms/watchlists/default.toml``::

    [groups.o3_capabilities]
    description = "Words that grew in o3's reasoning over capabilities RL"
    terms = ["autop", "autop-run", "watchers", "disclaim*", "/^overshadow/"]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cotwatch.analytics.errors import InputError, SpecError
from cotwatch.analytics.regexes import compile_bounded
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

DEFAULT_WATCHLIST = "default"
#: Longest phrase, in tokens (like the Ngram Viewer's 5-grams).
MAX_PHRASE_TOKENS = 5
_GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class TermSpec:
    """A parsed term: ``label`` is how it is reported; ``kind`` is token, phrase, wildcard, regex
    or group. ``pattern`` is the folded token (token), the folded tokens joined by one space
    (phrase), the wildcard, or the regex. ``cased`` holds the tokens as typed (case kept) for
    tokens and phrases; ``case_sensitive`` says they are matched that way."""

    label: str
    kind: str
    pattern: str = ""
    members: tuple["TermSpec", ...] = field(default=())
    cased: tuple[str, ...] = ()
    case_sensitive: bool = False
    source: str = ""

    @property
    def is_single_token(self) -> bool:
        """Counted from the per-cell sums (a folded single token)."""
        return self.kind == "token" and not self.case_sensitive

    @property
    def tokens(self) -> tuple[str, ...]:
        """The token sequence a token or phrase matches (case kept when case-sensitive)."""
        if self.kind not in ("token", "phrase"):
            return ()
        if self.case_sensitive:
            return self.cased
        return tuple(self.pattern.split(" "))

    @property
    def needs_text(self) -> bool:
        """Counted from stored text (phrases, case-sensitive tokens), not from the token lists."""
        return self.kind == "phrase" or (self.kind == "token" and self.case_sensitive)

    def leaves(self) -> tuple["TermSpec", ...]:
        return self.members if self.kind == "group" else (self,)

    def regex(self):
        """A matcher for wildcard/regex specs (None for the other kinds): for a wildcard, an object
        with ``fullmatch``/``match``/``search`` over one token (linear time); for a regex, a
        :class:`~cotwatch.analytics.regexes.BoundedRegex` (RE2)."""
        if self.kind == "wildcard":
            return WildcardMatcher(self.pattern)
        if self.kind == "regex":
            return compile_bounded(self.pattern, ignore_case=True, where=f"TERM {self.label!r}")
        return None

    def as_case_sensitive(self) -> "TermSpec":
        """This spec matched with the text's own case: tokens and phrases (and groups of them)
        keep the case they were typed in; InputError for wildcards and regexes."""
        if self.case_sensitive:
            return self
        if self.kind == "group":
            return TermSpec(self.label, "group", members=tuple(m.as_case_sensitive() for m in self.members),
                            case_sensitive=True)
        if self.kind not in ("token", "phrase"):
            raise InputError(f"TERM {self.label!r}: --case-sensitive applies to tokens and phrases; "
                             f"{self.kind} terms match folded tokens (drop --case-sensitive for it)")
        if not self.cased or len(self.cased) > MAX_PHRASE_TOKENS:
            raise InputError(f"TERM {self.source or self.label!r}: holds {len(self.cased)} tokens with its case "
                             f"kept; a term has 1 to {MAX_PHRASE_TOKENS}")
        kind = "token" if len(self.cased) == 1 else "phrase"
        label = self.cased[0] if kind == "token" else (self.source or " ".join(self.cased))
        return TermSpec(label, kind, self.pattern, cased=self.cased, case_sensitive=True, source=self.source)


class WildcardMatcher:
    """Glob matching of one token against a wildcard (``*`` = any run of characters) in
    O(len(token) x len(pattern)) time — never the exponential backtracking of a ``.*`` regex."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.parts = pattern.split("*")

    def fullmatch(self, token: str) -> bool:
        parts = self.parts
        if len(parts) == 1:
            return token == parts[0]
        first, last = parts[0], parts[-1]
        if len(token) < len(first) + len(last) or not token.startswith(first) or not token.endswith(last):
            return False
        pos, end = len(first), len(token) - len(last)
        for middle in parts[1:-1]:  # leftmost placement of each middle part is optimal
            if not middle:
                continue
            found = token.find(middle, pos, end)
            if found < 0:
                return False
            pos = found + len(middle)
        return True

    match = search = fullmatch


@dataclass(frozen=True)
class Watchlist:
    name: str
    source: str
    groups: dict[str, tuple[TermSpec, ...]]
    descriptions: dict[str, str]

    def all_terms(self) -> list[TermSpec]:
        """Every member of every group, once, in file order."""
        seen: dict[str, TermSpec] = {}
        for members in self.groups.values():
            for spec in members:
                seen.setdefault(spec.label, spec)
        return list(seen.values())


def parse_term(text: str, watchlist: Watchlist | None = None, *, where: str = "TERM",
               case_sensitive: bool = False) -> TermSpec:
    """Parse one TERM argument (see the module docstring). Raises InputError/SpecError."""
    raw = _unquote(text.strip())
    if not raw:
        raise InputError(f"{where}: empty term")
    spec = _parse(raw, watchlist, where)
    return spec.as_case_sensitive() if case_sensitive else spec


def _unquote(raw: str) -> str:
    """Strip one pair of surrounding quotes ("might be a test" typed with its quotes)."""
    if len(raw) >= 2 and _QUOTES.get(raw[0]) == raw[-1]:
        return raw[1:-1].strip()
    return raw


def _parse(raw: str, watchlist: Watchlist | None, where: str) -> TermSpec:
    if raw.startswith("@"):
        name = raw[1:]
        wl = watchlist or load_watchlist()
        if name not in wl.groups:
            known = ", ".join(sorted(wl.groups)) or "none"
            raise InputError(f"{where} {raw!r}: no group {name!r} in watchlist {wl.source} (groups: {known})")
        return TermSpec(label=raw, kind="group", members=wl.groups[name])
    if len(raw) >= 2 and raw.startswith("/") and raw.endswith("/"):
        pattern = raw[1:-1]
        compile_bounded(pattern, ignore_case=True, where=f"{where} {raw!r}")
        return TermSpec(label=raw, kind="regex", pattern=pattern)
    norm = normalize(raw)
    if "*" in norm:
        parts = norm.split("*")
        for part in parts:
            if part and TOKEN_RE.fullmatch(part) is None and not _token_fragment(part):
                raise InputError(f"{where} {raw!r}: a wildcard may only join letters, digits and inner apostrophes")
        if not any(parts):
            raise InputError(f"{where} {raw!r}: a wildcard needs at least one letter or digit")
        return TermSpec(label=norm, kind="wildcard", pattern=norm)
    tokens = TOKEN_RE.findall(norm)
    cased = tuple(TOKEN_RE.findall(raw.replace("\u2019", "'")))
    if not tokens:
        raise InputError(f"{where} {raw!r} holds no token (letters or digits) under the token contract")
    source = " ".join(raw.replace("\u2019", "'").split())
    if len(tokens) == 1:
        return TermSpec(label=tokens[0], kind="token", pattern=tokens[0], cased=cased, source=source)
    if len(tokens) > MAX_PHRASE_TOKENS:
        raise InputError(f"{where} {raw!r} holds {len(tokens)} tokens; a phrase has at most {MAX_PHRASE_TOKENS}")
    return TermSpec(label=" ".join(norm.split()), kind="phrase", pattern=" ".join(tokens), cased=cased, source=source)


def _token_fragment(part: str) -> bool:
    """A piece of a wildcard: token characters, possibly starting/ending with an apostrophe."""
    return re.fullmatch(r"'?(?:[^\W_]+(?:'[^\W_]+)*)?'?", part) is not None


def parse_terms(texts, watchlist: Watchlist | None = None, *, case_sensitive: bool = False) -> list[TermSpec]:
    """Parse TERM arguments; duplicates (same label) are kept once."""
    out: dict[str, TermSpec] = {}
    for text in texts:
        spec = parse_term(text, watchlist, case_sensitive=case_sensitive)
        out.setdefault(spec.label, spec)
    return list(out.values())


def load_watchlist(path: str | Path | None = None) -> Watchlist:
    """Load a watchlist TOML file (the shipped default when ``path`` is None). Raises SpecError."""
    if path is None:
        resource = resources.files(__package__) / "watchlists" / f"{DEFAULT_WATCHLIST}.toml"
        source, text = f"analytics/terms/watchlists/{DEFAULT_WATCHLIST}.toml", resource.read_text(encoding="utf-8")
    else:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise SpecError(f"{p}: no such watchlist file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"{p}: cannot read watchlist: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"name", "description", "groups"})
    if unknown:
        raise SpecError(f"{source}: unknown top-level key(s) {', '.join(unknown)} (expected name, description, [groups.NAME])")
    groups_raw = data.get("groups")
    if not isinstance(groups_raw, dict) or not groups_raw:
        raise SpecError(f"{source}: needs at least one [groups.NAME] table with a 'terms' list")
    groups: dict[str, tuple[TermSpec, ...]] = {}
    descriptions: dict[str, str] = {}
    for name, body in groups_raw.items():
        where = f"{source}: [groups.{name}]"
        if not _GROUP_NAME_RE.match(name):
            raise SpecError(f"{where}: group names use letters, digits, '_', '.', '-'")
        if not isinstance(body, dict):
            raise SpecError(f"{where}: must be a table with a 'terms' list")
        extra = sorted(set(body) - {"terms", "description"})
        if extra:
            raise SpecError(f"{where}: unknown key(s) {', '.join(extra)} (expected terms, description)")
        terms = body.get("terms")
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) for t in terms):
            raise SpecError(f"{where}: 'terms' must be a non-empty list of strings")
        members = []
        for i, term in enumerate(terms):
            if term.strip().startswith("@"):
                raise SpecError(f"{where}: terms[{i}] {term!r}: groups cannot contain groups")
            try:
                members.append(parse_term(term, where=f"{where} terms[{i}]"))
            except InputError as exc:
                raise SpecError(str(exc)) from exc
        groups[name] = tuple(members)
        description = body.get("description", "")
        if not isinstance(description, str):
            raise SpecError(f"{where}: 'description' must be a string")
        descriptions[name] = description
    return Watchlist(name=str(data.get("name", Path(source).stem)), source=source, groups=groups,
                     descriptions=descriptions)
