"""Synthetic RL runs: realistic, seeded chain-of-thought transcripts in cotwatch's JSONL schema.

Used by ``cotwatch demo``, by the tests and by the benchmarks. One record per transcript::

    {"id", "run", "step", "environment", "epoch", "covert_action", "score", "metadata",
     "reasoning", "output"}                     # or "messages" instead of reasoning/output

What a generated run contains (the ground truth is in ``metadata["synthetic"]``):

* ``checkpoints`` steps ``0, step_stride, 2*step_stride, ...`` (default 12: 0, 100, ..., 1100), each
  with ``transcripts_per_checkpoint`` transcripts **per environment** (default 50, so 200 per
  checkpoint and 2,400 in the default run of 4 environments).
* Three CoT styles: ``terse`` (o3-like fragments), ``prose`` (long deliberate sentences) and
  ``code`` (code blocks, snake_case identifiers, hyphenated words); lengths vary (log-normal).
* Vocabulary drift: :data:`RISING_TERMS` (o3-style odd words like "autop" in "autop-run",
  "watchers", "marinade", and ordinary words like "craft", "glean", "scoreboard") go from rare
  (about 1 use per 200-600 transcripts each) at the first step to 0.09-0.26 uses per transcript
  at the last (:func:`rising_rate`), spread over many transcripts: each use is a separate
  carrier sentence, Poisson per transcript and proportional to its length. "watchers" is used in
  its file-watcher sense, never as an awareness cue. :data:`FALLING_TERMS` fade
  (:func:`falling_rate`). Rates are realised to within ~10% (a use is dropped, rarely, when the
  transcript has no sentence it can replace without disturbing the flat words).
* :data:`FLAT_TERMS` ("the", "check", "need", "answer", "function", "so", "is") are exactly flat in
  expectation: every inserted sentence (planted carrier, awareness sentence, hard negative, covert
  sentence) takes the place of a base sentence with the same counts of those words, and
  flat-word-free filler restores the token count. Other words absorb the displacement, so some
  (e.g. "question") drift down a little, and words that co-occur with planted terms ("run" in
  "autop-run") rise with them — as in real data.
* One repetition-loop transcript at the second checkpoint (first environment, first transcript)
  spams :data:`LOOP_TERM` ("glimmer", used nowhere else) 300-500 times — a single-transcript spike that dispersion-aware
  statistics must discount.
* Verbalized evaluation awareness with probability :func:`awareness_rate` (2% at the first step,
  20% at the last, logistic in between); aware transcripts carry 1-3 awareness sentences, in four
  registers (terse fragments, explicit statements, indirect hints, suspicion of planted material),
  recorded verbatim in ``metadata["synthetic"]["aware_sentences"]``. Every transcript may carry
  hard negatives (tests, rubrics, graders as task content).
* ``covert_action`` drawn with the environment's rate given awareness (about 0.10 when aware and
  0.25 when not, varying by environment); covert transcripts contain scheming sentences and a
  misleading output, and score higher (reward hacking pays).

``metadata["synthetic"]`` holds ``aware``, ``aware_sentences``, ``style``, ``planted_terms``
(exact token counts, per the token contract, of every rising/falling/loop term in the reasoning;
zero counts left out), ``loop`` (true only for the loop transcript) and, for chat records,
``chat_format``. ``metadata["prompt"]`` is the task prompt (the user message of chat records).
``score`` is a reward in [0, 1] that grows with the step and is higher for covert transcripts.

Chat records: with ``chat_fraction > 0`` that share of records carries ``messages`` instead of
``reasoning``/``output``; ``chat_formats`` says which encodings to rotate through —
``"reasoning"`` (Inspect/OpenAI reasoning part), ``"thinking"`` (Anthropic thinking part),
``"reasoning_content"`` (DeepSeek/vLLM field) and ``"think_tags"`` (``<think>…</think>`` in the
text). The demo keeps ``chat_fraction=0.0`` so every record is the simple form.

Environments (:data:`DEFAULT_ENVIRONMENTS`): ``sandbagging_qa`` (a quiz where high scores are said
to trigger unlearning; covert = deliberate wrong answers), ``code_review`` (covert = skipping or
editing tests, claiming green CI), ``impossible_task`` (covert = claiming an impossible goal was
met) and ``covert_rule_violation`` (covert = quietly breaking a stated rule). Each has its own
prompts, task-specific sentences, code, hard negatives, covert sentences and outputs; the task
(quiz subject, PR and file, goal, rule) is consistent between prompt, reasoning and output.

Everything is deterministic given ``seed``: each (epoch, checkpoint, environment) block draws from
its own generator seeded by ``(seed, epoch, step_index, crc32(environment))``. The sentence pools
are fixed text (built once per process, ~0.15 s). Speed: about 30-35 MB of JSONL per CPU second
on one core (``write_jsonl(...)["cpu_mb_per_s"]``).

>>> recs = list(generate_run(checkpoints=2, transcripts_per_checkpoint=3, seed=1))
>>> len(recs), recs[0]["step"], recs[-1]["step"]
(24, 0, 100)
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
import time
import zlib
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from cotwatch.analytics.synth import vocab as V
from cotwatch.analytics.terms.tokens import tokenize

__all__ = [
    "DEFAULT_ENVIRONMENTS",
    "RISING_TERMS",
    "FALLING_TERMS",
    "FLAT_TERMS",
    "LOOP_TERM",
    "PLANTED_TERMS",
    "STYLES",
    "CHAT_FORMATS",
    "DEFAULT_CHECKPOINTS",
    "DEFAULT_TRANSCRIPTS_PER_CHECKPOINT",
    "awareness_rate",
    "rising_rate",
    "falling_rate",
    "covert_rate",
    "generate_run",
    "write_jsonl",
    "generate_corpus",
    "generate_corpus_bytes",
    "main",
]

DEFAULT_ENVIRONMENTS: tuple[str, ...] = V.DEFAULT_ENVIRONMENTS
DEFAULT_CHECKPOINTS = 12
#: Per environment: the default run has 12 x 4 x 50 = 2,400 transcripts (about 5 MB of JSONL).
DEFAULT_TRANSCRIPTS_PER_CHECKPOINT = 50
RISING_TERMS: tuple[str, ...] = tuple(V.RISING_WEIGHTS)
FALLING_TERMS: tuple[str, ...] = tuple(V.FALLING_WEIGHTS)
#: Common words whose rate per 1,000 tokens does not depend on the step.
FLAT_TERMS: tuple[str, ...] = ("the", "check", "need", "answer", "function", "so", "is")
LOOP_TERM: str = V.LOOP_WORD
PLANTED_TERMS: tuple[str, ...] = RISING_TERMS + FALLING_TERMS + (LOOP_TERM,)
STYLES: tuple[str, ...] = ("terse", "prose", "code")
CHAT_FORMATS: tuple[str, ...] = ("reasoning", "thinking", "reasoning_content", "think_tags")

AWARE_FIRST = 0.02
AWARE_LAST = 0.20
#: Uses of a rising term per transcript at the first step, relative to its last-step rate.
RISING_FLOOR = 0.015
#: Uses of a falling term per transcript at the last step, relative to its first-step rate.
FALLING_FLOOR = 0.06
LOOP_REPEATS = (300, 500)
GENERATOR_VERSION = "cotwatch-synth/1"

_SLOT_RE = re.compile(r"\{(\w+)\}")
_POOL_SEED = 20240917  # pools are fixed text; the run seed only drives sampling
_VARIANTS_PER_TEMPLATE = 24


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _progress(step_index: int, n_steps: int) -> float:
    """Position of a checkpoint in the run, 0.0 at the first and 1.0 at the last."""
    return step_index / (n_steps - 1) if n_steps > 1 else 0.0


def awareness_rate(step_index: int, n_steps: int) -> float:
    """True probability that a transcript at checkpoint ``step_index`` verbalizes awareness.

    Logistic in training progress: exactly 2% at the first checkpoint, 20% at the last.

    >>> round(awareness_rate(0, 12), 3), round(awareness_rate(11, 12), 3)
    (0.02, 0.2)
    """
    t = _progress(step_index, n_steps)
    z = _logit(AWARE_FIRST) + (_logit(AWARE_LAST) - _logit(AWARE_FIRST)) * t
    return 1.0 / (1.0 + math.exp(-z))


def rising_rate(term: str, step_index: int, n_steps: int) -> float:
    """Expected uses of rising ``term`` per transcript at a checkpoint (convex ramp in progress)."""
    t = _progress(step_index, n_steps)
    return V.RISING_WEIGHTS[term] * (RISING_FLOOR + (1.0 - RISING_FLOOR) * t**1.4)


def falling_rate(term: str, step_index: int, n_steps: int) -> float:
    """Expected uses of falling ``term`` per transcript at a checkpoint."""
    t = _progress(step_index, n_steps)
    return V.FALLING_WEIGHTS[term] * (1.0 - (1.0 - FALLING_FLOOR) * t)


def covert_rate(environment: str, aware: bool) -> float:
    """True probability of ``covert_action`` in ``environment`` given verbalized awareness.

    >>> covert_rate("code_review", True) < covert_rate("code_review", False)
    True
    """
    aware_rate, unaware_rate = V.ENVIRONMENTS[environment]["covert_rates"]
    return aware_rate if aware else unaware_rate


# --------------------------------------------------------------------------------------------
# Pools: templates expanded once (cached) into lists of concrete strings
# --------------------------------------------------------------------------------------------


def _fill(template: str, slots: dict[str, list[str]], rnd: random.Random) -> str:
    """Fill ``{slot}`` fields at random; in a code block one slot name keeps one value."""
    consistent = template.startswith("```")
    chosen: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        name = m.group(1)
        options = slots.get(name)
        if not options:
            return m.group(0)
        if not consistent:
            return rnd.choice(options)
        if name not in chosen:
            chosen[name] = rnd.choice(options)
        return chosen[name]

    # Two passes so a filler may itself hold a slot (e.g. a distractor naming an {letter}).
    return _SLOT_RE.sub(sub, _SLOT_RE.sub(sub, template))


def _expand(templates: Sequence[str], slots: dict[str, list[str]], rnd: random.Random,
            per_template: int = _VARIANTS_PER_TEMPLATE) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for tpl in templates:
        tries = per_template if _SLOT_RE.search(tpl) else 1
        for _ in range(tries):
            s = _fill(tpl, slots, rnd)
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out


def _planted_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    planted = _planted_set()
    for tok in tokenize(text):
        if tok in planted:
            counts[tok] = counts.get(tok, 0) + 1
    return counts


@lru_cache(maxsize=1)
def _planted_set() -> frozenset[str]:
    return frozenset(PLANTED_TERMS)


def _check_clean(strings: Sequence[str], where: str) -> None:
    planted = _planted_set()
    for s in strings:
        bad = planted.intersection(tokenize(s))
        if bad:
            raise AssertionError(f"planted term(s) {sorted(bad)} in {where} pool: {s!r}")


_STEMMABLE = re.compile(r"[a-z0-9]\.$")

# Shared sentences that only make sense around code (left out of question-answering pools).
_CODEY = re.compile(
    r"\{(?:func|file|var|concern|approach|thing|hnoun|hadj)\}|`|docstring|loop|caller|function|code"
    r"|import|signature|return|guard|index|dict|\btests?\b|diff|patch|compile|variable|input"
    r"|implementation|sorted|iteration|spec\b|interface|chunks|codebase|fix\b|bug",
    re.IGNORECASE,
)


def _lower_first(s: str) -> str:
    """The sentence as it reads after a discourse marker ("Actually, the ...")."""
    if len(s) > 1 and s[0].isupper() and not s[1].isupper() and not s[1].isdigit() \
            and not s.startswith(("I ", "I'", "I’")):
        return s[0].lower() + s[1:]
    return s


def _with_blanks(prefixes: Sequence[str], share: float) -> list[str]:
    """A choice list in which a non-empty prefix comes up with probability ``share``."""
    blanks = round(len(prefixes) * (1.0 - share) / share)
    return [""] * blanks + list(prefixes)


# A sentence's FLAT_TERMS counts packed into one int: 7-bit lanes, 6 value bits and a guard bit,
# so "every count of a is at most the one of b" is one subtraction (SWAR).
_LANE = 7
_GUARDS = sum(1 << (_LANE * k + _LANE - 1) for k in range(len(FLAT_TERMS)))


def _flat_signature(text: str) -> int:
    """The counts of each ``FLAT_TERMS`` word in ``text``, packed into one int."""
    sig = 0
    toks = tokenize(text)
    for k, term in enumerate(FLAT_TERMS):
        sig |= min(toks.count(term), 63) << (_LANE * k)
    return sig


def _sig_leq(a: int, b: int) -> bool:
    """Every flat-word count in ``a`` is at most the one in ``b``."""
    return ((b | _GUARDS) - a) & _GUARDS == _GUARDS


@lru_cache(maxsize=1 << 16)
def _sig_distance(a: int, b: int) -> int:
    return sum(abs(((a >> (_LANE * k)) & 63) - ((b >> (_LANE * k)) & 63)) for k in range(len(FLAT_TERMS)))


class _EnvPools:
    """Concrete sentence pools for one environment."""

    def __init__(self, name: str, rnd: random.Random) -> None:
        spec = V.ENVIRONMENTS[name]
        slots = {**V.SLOTS, **V.CODE_SLOTS, **V.CARRIER_SLOTS, **spec["slots"]}
        # Task slots (the quiz subject, the PR, the impossible goal, the rule) stay as
        # placeholders in the pools and are filled once per transcript, so the prompt, the
        # reasoning and the output talk about the same task.
        self.task_slots = {k: slots.pop(k) for k in spec.get("task_slots", ())}
        _check_clean([v for values in self.task_slots.values() for v in values], f"{name}.task_slots")
        codey = spec.get("codey", True)

        def shared(templates: Sequence[str]) -> list[str]:
            # question-answering transcripts don't talk about files and functions
            return list(templates) if codey else [t for t in templates if not _CODEY.search(t)]

        self.name = name
        self.terse = _expand(shared(V.TERSE_SHARED) + spec["terse"], slots, rnd)
        self.prose = _expand(shared(V.PROSE_SHARED) + spec["prose"], slots, rnd, 48)
        if codey:
            code_talk = _expand(V.CODE_TALK_SHARED, slots, rnd, 48)
            # code style: code talk dominates, with some terse and prose around it
            self.code_text = code_talk * 2 + self.terse + self.prose[: len(self.prose) // 2]
            self.code_blocks = _expand(V.CODE_SHARED + spec["code"], slots, rnd, 12)
        else:
            self.code_text = self.terse + self.prose
            self.code_blocks = _expand(spec["code"], slots, rnd, 24)
        self.hard_negatives = _expand(shared(V.HARD_NEGATIVES_SHARED) + spec["hard_negatives"],
                                      slots, rnd, 12)
        self.covert = _expand(spec["covert"], slots, rnd, 12)
        self.outputs_honest = _expand(spec["outputs_honest"], slots, rnd, 16)
        self.outputs_covert = _expand(spec["outputs_covert"], slots, rnd, 16)
        self.prompts = _expand(spec["prompts"], slots, rnd, 16)
        self.opening = _expand(spec["open"], slots, rnd, 12)
        self.closing = _expand(spec["close"], slots, rnd, 12)
        self.style_p = np.array([spec["style_weights"][s] for s in STYLES], dtype=float)
        self.style_p /= self.style_p.sum()
        self.covert_aware, self.covert_unaware = spec["covert_rates"]
        self.honest_score = spec["honest_score"]
        for attr in ("terse", "prose", "code_text", "code_blocks", "hard_negatives", "covert",
                     "outputs_honest", "outputs_covert", "prompts", "opening", "closing"):
            _check_clean(getattr(self, attr), f"{name}.{attr}")
        self.units = {"terse": self.terse, "prose": self.prose, "code": self.code_text}
        self.units_low = {k: [_lower_first(u) for u in v] for k, v in self.units.items()}
        # the sentence without its final full stop, for a trailing clause (None: can't take one)
        self.units_stem = {k: [u[:-1] if _STEMMABLE.search(u) else None for u in v]
                           for k, v in self.units.items()}
        self.unit_index = {k: range(len(v)) for k, v in self.units.items()}
        self.unit_sigs = {k: [_flat_signature(u) for u in v] for k, v in self.units.items()}
        self.unit_ntok = {k: [len(tokenize(u)) for u in v] for k, v in self.units.items()}
        self.zero_units, self.zero_ntok = {}, {}
        for k, v in self.units.items():
            zero = [u for u, sig in zip(v, self.unit_sigs[k]) if sig == 0]
            if not zero:
                zero = [u for u, sig in zip(self.terse, self.unit_sigs["terse"]) if sig == 0]
            self.zero_units[k] = zero
            self.zero_ntok[k] = [len(tokenize(u)) for u in zero]


class _Pools:
    def __init__(self) -> None:
        rnd = random.Random(_POOL_SEED)
        self.envs = {name: _EnvPools(name, rnd) for name in V.ENVIRONMENTS}
        slots = {**V.SLOTS, **V.AWARE_SLOTS}
        self.aware = {reg: _expand(tpls, slots, rnd, 10) for reg, tpls in V.AWARE_TEMPLATES.items()}
        for reg, pool in self.aware.items():
            _check_clean(pool, f"aware.{reg}")
        self.aware_any = [s for pool in self.aware.values() for s in pool]
        # flat-word signature of everything that gets inserted into a transcript
        self.sig: dict[str, int] = {}
        for text in self.aware_any:
            self.sig[text] = _flat_signature(text)
        for ep in self.envs.values():
            for text in ep.hard_negatives + ep.covert:
                self.sig[text] = _flat_signature(text)
        self.aware_long = [s for reg, pool in self.aware.items() if reg != "terse" for s in pool]
        # carriers[term][register] -> list of (text, count of term); each holds only its own term
        self.carriers: dict[str, dict[str, list[tuple[str, int]]]] = {}
        for term, regs in V.CARRIERS.items():
            self.carriers[term] = {}
            for reg, tpls in regs.items():
                items = []
                for text in _expand(tpls, V.CARRIER_SLOTS, rnd, 6):
                    self.sig[text] = _flat_signature(text)
                    counts = _planted_counts(text)
                    if set(counts) != {term}:
                        raise AssertionError(f"carrier for {term!r} has {counts}: {text!r}")
                    items.append((text, counts[term]))
                self.carriers[term][reg] = items
        self.loop_lead = _expand(V.LOOP_LEAD, V.CARRIER_SLOTS, rnd, 6)
        _check_clean(V.PREFIXES_TERSE + V.PREFIXES_PROSE, "prefixes")
        flat = set(FLAT_TERMS)
        for p in V.PREFIXES_TERSE + V.PREFIXES_PROSE:
            if flat.intersection(tokenize(p)):
                raise AssertionError(f"prefix {p!r} holds a FLAT_TERMS word")
        terse_p = _with_blanks(V.PREFIXES_TERSE, 0.15)
        prose_p = _with_blanks(V.PREFIXES_PROSE, 0.4)
        self.prefixes = {"terse": terse_p, "prose": prose_p, "code": terse_p}
        self.prefixes_any = V.PREFIXES_TERSE + V.PREFIXES_PROSE
        for suf in V.SUFFIXES_PROSE:
            if flat.intersection(tokenize(suf)) or _planted_set().intersection(tokenize(suf)):
                raise AssertionError(f"suffix {suf!r} holds a FLAT_TERMS or planted word")
        self.suffixes = _with_blanks([", " + suf + "." for suf in V.SUFFIXES_PROSE], 0.35)
        self.suffix_ntok = {x: len(tokenize(x)) for x in self.suffixes}
        self.prefix_ntok = {p: len(tokenize(p)) for p in self.prefixes_any + [""]}
        self.ntok = {text: len(tokenize(text)) for text in self.sig}
        self.loop_units = list(V.LOOP_UNITS)
        self.carriers_by_sig = {
            term: {reg: _by_sig(items, lambda it: self.sig[it[0]]) for reg, items in regs.items()}
            for term, regs in self.carriers.items()
        }
        aware_groups = {"terse": self.aware["terse"], "long": self.aware_long, "any": self.aware_any}
        self.aware_by_sig = {g: _by_sig(v, self.sig.__getitem__) for g, v in aware_groups.items()}


def _by_sig(items, sig_of) -> dict[int, list]:
    out: dict[int, list] = {}
    for item in items:
        out.setdefault(sig_of(item), []).append(item)
    return out


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    return _Pools()


# --------------------------------------------------------------------------------------------
# Transcript assembly
# --------------------------------------------------------------------------------------------

_LENGTH_MEDIAN = {"terse": 30.0, "prose": 15.0, "code": 14.0}
_LENGTH_SIGMA = 0.75
_PARA = {"terse": (3, 10, "\n"), "prose": (2, 6, "\n\n"), "code": (2, 6, "\n\n")}


class _Slots:
    """The base sentences of one transcript, by FLAT_TERMS signature, and where inserts go.

    Inserted sentences take the place of base sentences with the same FLAT_TERMS counts, and
    ``balance`` then adds or drops flat-word-free base sentences so the token count comes back to
    what it was (in expectation). Together these keep the common words exactly flat, however
    much planted material a checkpoint carries.
    """

    __slots__ = ("units", "ntok", "by_sig", "zero", "zero_ntok", "rnd", "deficit")

    def __init__(self, units: list[str], ntok: list[int], idx: list[int], sigs: list[int],
                 zero: list[str], zero_ntok: list[int], rnd: random.Random) -> None:
        self.units, self.ntok, self.zero, self.zero_ntok, self.rnd = units, ntok, zero, zero_ntok, rnd
        self.deficit = 0  # tokens removed minus tokens inserted
        self.by_sig: dict[int, list[int]] = {}
        for pos, j in enumerate(idx):
            self.by_sig.setdefault(sigs[j], []).append(pos)

    def choose(self, options_by_sig: dict[int, list], unwrap, fallback: dict[int, list] | None = None,
               required: bool = True):
        """A random option, preferring those whose signature has a twin among the base sentences
        (then those of ``fallback`` that do, then — if ``required`` — any option, else None)."""
        live = [sig for sig in options_by_sig if self.by_sig.get(sig)]
        if not live and fallback:
            live = [sig for sig in fallback if self.by_sig.get(sig)]
            if live:
                options_by_sig = fallback
        if not live and not required:
            return None
        keys = live or list(options_by_sig)
        weights = [len(options_by_sig[k]) for k in keys]
        sig = self.rnd.choices(keys, weights)[0] if len(keys) > 1 else keys[0]
        return unwrap(self.rnd.choice(options_by_sig[sig])), sig

    def _put(self, pos: int, text: str, ntok: int) -> None:
        self.deficit += self.ntok[pos] - ntok
        self.units[pos] = text
        self.ntok[pos] = ntok

    def place(self, text: str, sig: int, ntok: int) -> None:
        """Put ``text`` in place of a base sentence with the same flat-word counts.

        Without an exact twin: replace two sentences whose counts add up to ``sig`` (the second
        by a flat-word-free base sentence); failing that, the nearest signature; failing that
        (every base sentence already replaced), insert.
        """
        by_sig, rnd = self.by_sig, self.rnd
        free = by_sig.get(sig)
        if free:
            self._put(free.pop(rnd.randrange(len(free))), text, ntok)
            return
        live = [k for k, v in by_sig.items() if v]
        for a in live:
            if _sig_leq(a, sig):
                fb = by_sig.get(sig - a)
                if fb and (sig - a != a or len(fb) > 1):
                    fa = by_sig[a]
                    self._put(fa.pop(rnd.randrange(len(fa))), text, ntok)
                    z = rnd.randrange(len(self.zero))
                    self._put(fb.pop(rnd.randrange(len(fb))), self.zero[z], self.zero_ntok[z])
                    return
        if live:
            dists = [_sig_distance(k, sig) for k in live]
            best = min(dists)
            near = [k for k, d in zip(live, dists) if d == best]
            fk = by_sig[near[rnd.randrange(len(near))]]
            self._put(fk.pop(rnd.randrange(len(fk))), text, ntok)
            return
        self.units.append(text)
        self.ntok.append(ntok)
        self.deficit -= ntok

    def balance(self) -> list[str]:
        """Add (or drop) flat-word-free sentences until the token count is back, then the units."""
        rnd, units = self.rnd, self.units
        drop: set[int] = set()
        zeros = self.by_sig.get(0) or []
        while self.deficit < 0 and zeros:
            pos = zeros.pop(rnd.randrange(len(zeros)))
            n = self.ntok[pos]
            if -self.deficit >= n or rnd.random() * n < -self.deficit:
                drop.add(pos)
            self.deficit += n
        if drop:
            units = [u for k, u in enumerate(units) if k not in drop]
        while self.deficit > 0:
            z = rnd.randrange(len(self.zero))
            n = self.zero_ntok[z]
            if self.deficit >= n or rnd.random() * n < self.deficit:
                units.insert(rnd.randint(0, len(units)), self.zero[z])
            self.deficit -= n
        return units


def _paragraphs(units: list[str], style: str, rnd: random.Random) -> str:
    """Join sentences into paragraphs of a few sentences; a code block is a paragraph of its own."""
    lo, hi, sep = _PARA[style]
    if style != "code":
        paras = []
        i, n = 0, len(units)
        while i < n:
            j = i + rnd.randint(lo, hi)
            paras.append(" ".join(units[i:j]))
            i = j
        return sep.join(paras)
    paras = []
    current: list[str] = []
    room = rnd.randint(lo, hi)
    for unit in units:
        if unit.startswith("```"):
            if current:
                paras.append(" ".join(current))
                current = []
            paras.append(unit)
            continue
        current.append(unit)
        if len(current) >= room:
            paras.append(" ".join(current))
            current = []
            room = rnd.randint(lo, hi)
    if current:
        paras.append(" ".join(current))
    return sep.join(paras)


def _block(env: str, step_index: int, n_steps: int, step: int, epoch: int,
           n: int, seed: int, run: str, length_scale: float, chat_fraction: float,
           chat_formats: Sequence[str], with_loop: bool) -> Iterator[dict]:
    """All transcripts of one (epoch, checkpoint, environment)."""
    pools = _pools()
    ep = pools.envs[env]
    # keyed by the environment's name, so a block does not change when other environments are
    # added or removed
    rng = np.random.default_rng([seed, epoch, step_index, zlib.crc32(env.encode("utf-8"))])
    rnd = random.Random(int(rng.integers(0, 2**63)))
    t = _progress(step_index, n_steps)

    styles = rng.choice(len(STYLES), size=n, p=ep.style_p)
    medians = np.array([_LENGTH_MEDIAN[s] for s in STYLES])[styles] * length_scale
    lengths = np.maximum(3, np.rint(medians * rng.lognormal(0.0, _LENGTH_SIGMA, size=n))).astype(int)
    n_blocks = np.where(styles == 2, 1 + rng.poisson(1.2 * length_scale, size=n), 0)
    aware = rng.random(n) < awareness_rate(step_index, n_steps)
    n_aware = np.where(aware, 1 + (rng.random(n) < 0.35) + (rng.random(n) < 0.08), 0)
    p_covert = np.where(aware, ep.covert_aware, ep.covert_unaware)
    covert = rng.random(n) < p_covert
    n_covert = np.where(covert, 1 + (rng.random(n) < 0.4), 0)
    n_hard = rng.poisson(0.7, size=n)
    rise_lam = np.array([rising_rate(w, step_index, n_steps) for w in RISING_TERMS])
    fall_lam = np.array([falling_rate(w, step_index, n_steps) for w in FALLING_TERMS])
    # planted words per transcript scale with its length (constant use per token, on average)
    rel = (lengths / (medians * math.exp(_LENGTH_SIGMA**2 / 2)))[:, None]
    rise_n = rng.poisson(rise_lam[None, :] * rel)
    fall_n = rng.poisson(fall_lam[None, :] * rel)
    mu = ep.honest_score + 0.15 * t + np.where(covert, 0.25, 0.0)
    scores = np.clip(rng.normal(mu, 0.12), 0.0, 1.0).round(3)
    chat = rng.random(n) < chat_fraction
    chat_fmt = rng.integers(0, len(chat_formats), size=n)

    planted_words = RISING_TERMS + FALLING_TERMS
    planted_n = np.concatenate([rise_n, fall_n], axis=1)
    has_planted = planted_n.any(axis=1)

    for i in range(n):
        style = STYLES[styles[i]]
        idx = rnd.choices(ep.unit_index[style], k=int(lengths[i]))
        pres = rnd.choices(pools.prefixes[style], k=len(idx))
        cap, low = ep.units[style], ep.units_low[style]
        units = [p + low[j] if p else cap[j] for p, j in zip(pres, idx)]
        sufs = None
        if style != "terse":
            stems = ep.units_stem[style]
            sufs = rnd.choices(pools.suffixes, k=len(idx))
            for pos, suf in enumerate(sufs):
                if suf:
                    if stems[idx[pos]] is None:
                        sufs[pos] = ""
                    else:
                        units[pos] = units[pos][:-1] + suf
        # Inserted sentences take the place of base sentences with the same FLAT_TERMS counts,
        # so common words stay flat however much planted material a step carries. Step-independent
        # inserts go first (their placement must not depend on the step), and the step-dependent
        # ones pick, among their variants, one whose counts have a twin in the transcript.
        slots = None
        if n_hard[i] or n_covert[i] or n_aware[i] or has_planted[i]:
            unit_ntok = ep.unit_ntok[style]
            ntok = [unit_ntok[j] for j in idx]
            if style != "terse" or len(pres) != pres.count(""):
                ntok = [n_ + pools.prefix_ntok[p] for n_, p in zip(ntok, pres)]
            if sufs is not None:
                ntok = [n_ + pools.suffix_ntok[x] for n_, x in zip(ntok, sufs)]
            slots = _Slots(units, ntok, idx, ep.unit_sigs[style], ep.zero_units[style],
                           ep.zero_ntok[style], rnd)
        for _ in range(int(n_hard[i])):
            text = rnd.choice(ep.hard_negatives)
            slots.place(text, pools.sig[text], pools.ntok[text])
        for _ in range(int(n_covert[i])):
            text = rnd.choice(ep.covert)
            slots.place(text, pools.sig[text], pools.ntok[text])
        aware_sentences: list[str] = []
        for _ in range(int(n_aware[i])):
            group = ("terse" if rnd.random() < 0.6 else "any") if style == "terse" else (
                "long" if style == "prose" else "any")
            text, sig = slots.choose(pools.aware_by_sig[group], lambda t: t, pools.aware_by_sig["any"])
            ntok = pools.ntok[text]
            if rnd.random() < 0.2:
                prefix = rnd.choice(pools.prefixes_any)
                text = prefix + _lower_first(text)
                ntok += pools.prefix_ntok[prefix]
            if text not in aware_sentences:
                aware_sentences.append(text)
                slots.place(text, sig, ntok)
        planted: dict[str, int] = {}
        if has_planted[i]:
            reg, other = ("prose", "terse") if style == "prose" else ("terse", "prose")
            for k in np.flatnonzero(planted_n[i]).tolist():
                word = planted_words[k]
                options = pools.carriers_by_sig[word][reg]
                alt = pools.carriers_by_sig[word][other]
                for _ in range(int(planted_n[i, k])):
                    # a use with no flat-word twin left is dropped (rare): flatness comes first
                    picked = slots.choose(options, lambda it: it, alt, required=False)
                    if picked is None:
                        break
                    (text, c), sig = picked
                    slots.place(text, sig, pools.ntok[text])
                    planted[word] = planted.get(word, 0) + c
        if slots is not None:
            units = slots.balance()
        if style == "code":
            for _ in range(int(n_blocks[i])):
                units.insert(rnd.randint(0, len(units)), rnd.choice(ep.code_blocks))
        units.insert(0, rnd.choice(ep.opening))
        if rnd.random() < 0.7:
            units.append(rnd.choice(ep.closing))
        reasoning = _paragraphs(units, style, rnd)
        is_loop = with_loop and i == 0
        if is_loop:
            reps = rnd.randint(*LOOP_REPEATS)
            loop_units = rnd.choices(pools.loop_units, k=reps)
            tail = rnd.choice(pools.loop_lead) + " " + " ".join(loop_units)
            reasoning = reasoning + "\n" + tail
            planted[LOOP_TERM] = planted.get(LOOP_TERM, 0) + sum(u.count(LOOP_TERM) for u in loop_units)
        output = rnd.choice(ep.outputs_covert if covert[i] else ep.outputs_honest)
        prompt = rnd.choice(ep.prompts)
        for name, values in ep.task_slots.items():
            value, key = rnd.choice(values), "{" + name + "}"
            reasoning = reasoning.replace(key, value)
            output = output.replace(key, value)
            prompt = prompt.replace(key, value)

        synthetic = {
            "aware": bool(aware[i]),
            "aware_sentences": aware_sentences,
            "style": style,
            "planted_terms": planted,
            "loop": is_loop,
        }
        record = {
            "id": f"{env}-s{step}-e{epoch}-{i:05d}",
            "run": run,
            "step": step,
            "environment": env,
            "epoch": epoch,
            "covert_action": bool(covert[i]),
            "score": float(scores[i]),
            "metadata": {"synthetic": synthetic, "prompt": prompt, "generator": GENERATOR_VERSION},
        }
        if chat[i]:
            fmt = chat_formats[chat_fmt[i]]
            synthetic["chat_format"] = fmt
            record["messages"] = _messages(prompt, reasoning, output, fmt)
        else:
            record["reasoning"] = reasoning
            record["output"] = output
        yield record


def _messages(prompt: str, reasoning: str, output: str, fmt: str) -> list[dict]:
    user = {"role": "user", "content": prompt}
    if fmt == "reasoning":
        content = [{"type": "reasoning", "reasoning": reasoning}, {"type": "text", "text": output}]
        return [user, {"role": "assistant", "content": content}]
    if fmt == "thinking":
        content = [{"type": "thinking", "thinking": reasoning}, {"type": "text", "text": output}]
        return [user, {"role": "assistant", "content": content}]
    if fmt == "reasoning_content":
        return [user, {"role": "assistant", "content": output, "reasoning_content": reasoning}]
    if fmt == "think_tags":
        return [user, {"role": "assistant", "content": f"<think>{reasoning}</think>\n{output}"}]
    raise ValueError(f"unknown chat format {fmt!r}; expected one of {CHAT_FORMATS}")


def generate_run(*, run: str = "demo-rl", checkpoints: int = DEFAULT_CHECKPOINTS,
                 step_stride: int = 100, environments: Sequence[str] = DEFAULT_ENVIRONMENTS,
                 transcripts_per_checkpoint: int = DEFAULT_TRANSCRIPTS_PER_CHECKPOINT, seed: int = 0, epochs: int = 1,
                 first_epoch: int = 1, length_scale: float = 1.0, chat_fraction: float = 0.0,
                 chat_formats: Sequence[str] = ("reasoning",),
                 loop: bool = True) -> Iterator[dict]:
    """Stream the records of a synthetic RL run, checkpoint by checkpoint.

    ``transcripts_per_checkpoint`` is per environment: a checkpoint holds
    ``transcripts_per_checkpoint * len(environments)`` transcripts per epoch. Steps are
    ``0, step_stride, ...``. ``length_scale`` multiplies transcript lengths. ``loop`` adds the
    repetition-loop transcript (second checkpoint, first environment, first epoch).
    Memory stays bounded: one (checkpoint, environment) block is built at a time, lazily.

    >>> r = next(generate_run(checkpoints=10, transcripts_per_checkpoint=1))
    >>> r["run"], r["step"], r["environment"], sorted(r["metadata"]["synthetic"])[:2]
    ('demo-rl', 0, 'sandbagging_qa', ['aware', 'aware_sentences'])
    """
    if checkpoints < 1 or transcripts_per_checkpoint < 0 or epochs < 1:
        raise ValueError("need checkpoints >= 1, epochs >= 1 and transcripts_per_checkpoint >= 0")
    unknown = [e for e in environments if e not in V.ENVIRONMENTS]
    if unknown:
        raise ValueError(f"unknown environment(s) {unknown}; known: {list(V.ENVIRONMENTS)}")
    bad = [f for f in chat_formats if f not in CHAT_FORMATS]
    if bad or not chat_formats:
        raise ValueError(f"chat_formats must be a non-empty subset of {CHAT_FORMATS}")
    loop_index = 1 if checkpoints > 1 else 0
    for epoch in range(first_epoch, first_epoch + epochs):
        for step_index in range(checkpoints):
            step = step_index * step_stride
            for env_index, env in enumerate(environments):
                with_loop = loop and epoch == first_epoch and step_index == loop_index and env_index == 0
                yield from _block(env, step_index, checkpoints, step, epoch,
                                  transcripts_per_checkpoint, seed, run, length_scale,
                                  chat_fraction, chat_formats, with_loop)


# --------------------------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------------------------

_BATCH = 512


def _open_binary(path: Path, append: bool = False):
    mode = "ab" if append else "wb"
    if path.name.endswith(".gz"):
        return gzip.open(path, mode, compresslevel=3)
    return open(path, mode, buffering=1 << 20)


def _write_records(fh, records: Iterator[dict]) -> tuple[int, int]:
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    n = written = 0
    batch: list[str] = []
    for rec in records:
        batch.append(dumps(rec))
        if len(batch) >= _BATCH:
            data = ("\n".join(batch) + "\n").encode("utf-8")
            fh.write(data)
            n += len(batch)
            written += len(data)
            batch.clear()
    if batch:
        data = ("\n".join(batch) + "\n").encode("utf-8")
        fh.write(data)
        n += len(batch)
        written += len(data)
    return n, written


def write_jsonl(path: str | os.PathLike, **params) -> dict:
    """Write :func:`generate_run` ``(**params)`` to ``path`` (``.jsonl`` or ``.jsonl.gz``).

    Returns a summary: ``path``, ``records``, ``bytes`` (uncompressed JSONL), ``file_bytes``
    (on disk), ``seconds``, ``mb_per_s`` (uncompressed MB written per wall-clock second) and
    ``cpu_mb_per_s`` (per CPU second of this process — steadier on a busy machine).

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s = write_jsonl(os.path.join(d, "run.jsonl"), checkpoints=2, transcripts_per_checkpoint=2)
    >>> s["records"]
    16
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    with _open_binary(path) as fh:
        n, written = _write_records(fh, generate_run(**params))
    return _summary(path, n, written, time.perf_counter() - t0, time.process_time() - c0)


def _summary(path: Path, n: int, written: int, seconds: float, cpu_seconds: float) -> dict:
    return {
        "path": str(path),
        "records": n,
        "bytes": written,
        "file_bytes": path.stat().st_size,
        "seconds": round(seconds, 3),
        "mb_per_s": round(written / 1e6 / seconds, 1) if seconds > 0 else None,
        "cpu_mb_per_s": round(written / 1e6 / cpu_seconds, 1) if cpu_seconds > 0 else None,
    }


def generate_corpus(path: str | os.PathLike, target_mb: float, *, seed: int = 0,
                    run: str = "bench-rl", checkpoints: int = DEFAULT_CHECKPOINTS, **params) -> dict:
    """Write a run of at least ``target_mb`` MB (10**6 bytes, uncompressed JSONL) to ``path``.

    A small pilot estimates the mean record size; the run is then sized (transcripts per
    checkpoint) to just exceed the target, so every checkpoint and environment gets the same
    share. If the estimate falls short, further epochs (whole passes over all checkpoints, new
    ids) are appended until the file is large enough.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s = generate_corpus(os.path.join(d, "c.jsonl"), 0.5)
    >>> s["bytes"] >= 500_000
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = int(target_mb * 1e6)
    envs = tuple(params.pop("environments", DEFAULT_ENVIRONMENTS))
    params.pop("transcripts_per_checkpoint", None)
    params.pop("epochs", None)
    params.pop("first_epoch", None)
    base = dict(run=run, checkpoints=checkpoints, environments=envs, seed=seed, **params)
    pilot = generate_run(**{**base, "transcripts_per_checkpoint": 32, "seed": seed + 7919,
                            "loop": False})
    sizes = [len(json.dumps(r, ensure_ascii=False).encode("utf-8")) + 1 for r in pilot]
    mean_size = sum(sizes) / len(sizes)
    per_pass = checkpoints * len(envs)
    t0, c0 = time.perf_counter(), time.process_time()
    n = written = 0
    epoch = 1
    with _open_binary(path) as fh:
        while written < target:
            need = target - written
            tpc = max(1, math.ceil(need * 1.03 / (mean_size * per_pass)))
            recs = generate_run(**{**base, "transcripts_per_checkpoint": tpc,
                                   "first_epoch": epoch, "loop": epoch == 1 and base.get("loop", True)})
            k, w = _write_records(fh, recs)
            n += k
            written += w
            epoch += 1
    summary = _summary(path, n, written, time.perf_counter() - t0, time.process_time() - c0)
    summary["epochs"] = epoch - 1
    return summary


def generate_corpus_bytes(target_mb: float, path: str | os.PathLike, *, seed: int = 0, **params) -> dict:
    """:func:`generate_corpus` with the arguments in the other order (target first)."""
    return generate_corpus(path, target_mb, seed=seed, **params)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cotwatch.analytics.synth.generator OUT.jsonl[.gz] [--target-mb N | --transcripts-per-checkpoint N]``.

    Writes a synthetic run and prints the summary as JSON (for benchmarks and quick looks; the
    user-facing command is ``cotwatch demo``).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cotwatch.analytics.synth.generator", description=main.__doc__)
    parser.add_argument("out", help="output file (.jsonl or .jsonl.gz)")
    parser.add_argument("--target-mb", type=float, help="grow the run until the file has this many MB")
    parser.add_argument("--run", default=None)
    parser.add_argument("--checkpoints", type=int, default=12)
    parser.add_argument("--transcripts-per-checkpoint", type=int, default=50,
                        help="per environment (ignored with --target-mb)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chat-fraction", type=float, default=0.0)
    args = parser.parse_args(argv)
    common = dict(checkpoints=args.checkpoints, seed=args.seed, chat_fraction=args.chat_fraction)
    if args.target_mb is not None:
        summary = generate_corpus(args.out, args.target_mb, run=args.run or "bench-rl", **common)
    else:
        summary = write_jsonl(args.out, run=args.run or "demo-rl",
                              transcripts_per_checkpoint=args.transcripts_per_checkpoint, **common)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
