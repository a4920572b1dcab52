"""The token contract — one definition, used by every code path that counts words.

Text is Unicode-lowercased with ``str.lower()``; the curly apostrophe U+2019 becomes ``'``; a
token is a match of ``[^\\W_]+(?:'[^\\W_]+)*`` under Python's ``re`` (letters and digits, joined
by inner apostrophes). Hyphens, underscores and every other character separate tokens:

>>> tokenize("The autop-run said: score_predictions_tool isn’t DONE")
['the', 'autop', 'run', 'said', 'score', 'predictions', 'tool', "isn't", 'done']
"""

from __future__ import annotations

import re

TOKEN_PATTERN = r"[^\W_]+(?:'[^\W_]+)*"
TOKEN_RE = re.compile(TOKEN_PATTERN)

from cotwatch.analytics.kinds import KINDS_OF_SCOPE as SCOPES  # noqa: F401  (segment kinds per --scope)


def normalize(text: str) -> str:
    """Lowercase and unify apostrophes, exactly as the contract says."""
    return text.lower().replace("\u2019", "'")


def tokenize(text: str) -> list[str]:
    """All tokens of ``text`` in order."""
    return TOKEN_RE.findall(normalize(text))


def count_tokens(text: str) -> int:
    return sum(1 for _ in TOKEN_RE.finditer(normalize(text)))
