"""What a TERM argument means, and watchlists of terms.

A term spec is one of (matching is case-insensitive, against tokens of the token contract):

* ``autop`` — one token (normalized like text: lowercased, U+2019 → ``'``);
* ``autop*`` — a wildcard: ``*`` stands for any run of token characters (``autop*`` is a prefix);
* ``/^disclaim/`` — a Python regular expression searched in each token (``re.search``);
* ``@o3_capabilities`` — a named group of a watchlist (its members are specs themselves).

Watchlists are TOML files (format in ``docs/terms.md``); the default one ships as
``analytics/terms/watchlists/default.toml``::

    [groups.o3_capabilities]
    description = "Words that grew in o3's reasoning over capabilities RL"
    terms = ["autop", "watchers", "disclaim*", "/^overshadow/"]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cotwatch.analytics.errors import InputError, SpecError
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

DEFAULT_WATCHLIST = "default"
_GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class TermSpec:
    """A parsed term: ``label`` is how it is reported; ``kind`` is token, wildcard, regex or group."""

    label: str
    kind: str
    pattern: str = ""
    members: tuple["TermSpec", ...] = field(default=())

    @property
    def is_single_token(self) -> bool:
        return self.kind == "token"

    def regex(self) -> re.Pattern | None:
        """Compiled matcher for wildcard/regex specs (None for tokens and groups)."""
        if self.kind == "wildcard":
            body = ".*".join(re.escape(part) for part in self.pattern.split("*"))
            return re.compile(f"^{body}$")
        if self.kind == "regex":
            return re.compile(self.pattern, re.IGNORECASE)
        return None


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


def parse_term(text: str, watchlist: Watchlist | None = None, *, where: str = "TERM") -> TermSpec:
    """Parse one TERM argument (see the module docstring). Raises InputError/SpecError."""
    raw = text.strip()
    if not raw:
        raise InputError(f"{where}: empty term")
    if raw.startswith("@"):
        name = raw[1:]
        wl = watchlist or load_watchlist()
        if name not in wl.groups:
            known = ", ".join(sorted(wl.groups)) or "none"
            raise InputError(f"{where} {raw!r}: no group {name!r} in watchlist {wl.source} (groups: {known})")
        return TermSpec(label=raw, kind="group", members=wl.groups[name])
    if len(raw) >= 2 and raw.startswith("/") and raw.endswith("/"):
        pattern = raw[1:-1]
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise InputError(f"{where} {raw!r}: invalid regular expression: {exc}") from exc
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
    if tokens != [norm]:
        inner = ", ".join(repr(t) for t in tokens) or "no token"
        raise InputError(
            f"{where} {raw!r} is not one token under the token contract (it holds {inner}); "
            "hyphens, underscores and spaces separate tokens: track the parts separately"
        )
    return TermSpec(label=norm, kind="token", pattern=norm)


def _token_fragment(part: str) -> bool:
    """A piece of a wildcard: token characters, possibly starting/ending with an apostrophe."""
    return re.fullmatch(r"'?(?:[^\W_]+(?:'[^\W_]+)*)?'?", part) is not None


def parse_terms(texts, watchlist: Watchlist | None = None) -> list[TermSpec]:
    """Parse TERM arguments; duplicates (same label) are kept once."""
    out: dict[str, TermSpec] = {}
    for text in texts:
        spec = parse_term(text, watchlist)
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
