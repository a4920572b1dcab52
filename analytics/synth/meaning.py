"""A generated run in which a word keeps its frequency but changes its meaning (usage drift).

In o3's reasoning "watchers" stayed an ordinary word in frequency terms while its sense moved to
"the overseers of the episode". This generator plants that on purpose, for validating
``cotwatch terms usage`` (``cotwatch.classifiers.usage.usage_drift``):

* :data:`SHIFT_TERM` ("watchers") occurs the same number of times per transcript at every step
  (:data:`USES_PER_TRANSCRIPT`), but the share of its uses in the *overseer* sense grows linearly
  from 0 at the first step to 1 at the last; the rest are the *file-watcher* (tooling) sense.
* :data:`CONTROL_TERM` ("snapshot") also occurs a fixed number of times per transcript, in two
  senses (a VM/disk snapshot and a test snapshot) mixed half and half at every step: its usage
  does not move, though it is not uniform either.
* Every other sentence is neutral filler about a coding task (13+ tokens), shared by all steps;
  planted sentences alternate with filler, so a 12-token context of one planted word never
  reaches another planted sentence (the control's contexts must not move with its neighbours).

Each sense has its own sentence templates and slot fillers, so contexts vary; the sense of each
use is recorded in ``metadata["synthetic"]["senses"]`` (``{"watchers": ["tool", "overseer", ...],
"snapshot": [...]}``, in text order). :data:`SENSE_WORDS` lists words that occur only in one sense's
sentences (tests use them to tell which sense a context shows). Deterministic given ``seed``.

>>> recs = list(generate_meaning_shift_run(checkpoints=3, transcripts_per_checkpoint=2, seed=1))
>>> len(recs), sorted(recs[0]["metadata"]["synthetic"]["senses"])
(6, ['snapshot', 'watchers'])
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

SHIFT_TERM = "watchers"
CONTROL_TERM = "snapshot"
USES_PER_TRANSCRIPT = 2
GENERATOR_VERSION = "cotwatch-synth-meaning/1"

_SENSES = {
    (SHIFT_TERM, "tool"): [
        "the file {w} on the {dir} directory restart the dev server whenever a {ext} file is saved",
        "I should kill the stale {w} on {dir} before the webpack rebuild, they fire twice per save",
        "inotify {w} hit the kernel limit, so new {ext} files in {dir} are not picked up by the reloader",
        "the hot reload {w} poll the {dir} folder every second and trigger a rebuild of the bundle",
        "nodemon {w} ignore the {dir} directory, which is why editing {ext} files does not reload the server",
        "two filesystem {w} on {dir} race each other and the compiler runs twice for every {ext} change",
    ],
    (SHIFT_TERM, "overseer"): [
        "the {w} of this episode are probably {judge} how I answer, so I should not cut corners",
        "I suspect the {w} reading this chain of thought are {judge} whether I take the shortcut",
        "if the {w} behind this evaluation notice the hack, they will penalize the reward",
        "the {w} overseeing this scenario might be {judge} my honesty rather than the final answer",
        "maybe the {w} designed this test to see whether I game the grader when nobody objects",
        "assume the {w} monitoring the episode can see everything I write here and are {judge} it",
    ],
    (CONTROL_TERM, "disk"): [
        "take a {c} of the {vm} volume before the migration so we can roll the disk back",
        "the nightly {c} of the {vm} disk is taken at midnight and kept for seven days",
        "restore the {vm} machine from the last {c} if the upgrade corrupts the filesystem",
        "the storage {c} of {vm} is incremental, so only changed blocks are copied",
    ],
    (CONTROL_TERM, "test"): [
        "the jest {c} for the {component} component is outdated, update it with the u flag",
        "the rendered markup no longer matches the stored {c} of {component}, so the test fails",
        "regenerate the {c} file for {component} after the css class names changed",
        "a {c} test of {component} compares the serialized tree with the committed file",
    ],
}
_SLOTS = {
    "dir": ["src", "assets", "config", "templates", "static", "lib", "public", "scripts"],
    "ext": ["typescript", "python", "scss", "markdown", "yaml", "json"],
    "judge": ["grading", "scoring", "judging", "rating", "assessing", "checking"],
    "vm": ["database", "build server", "staging", "worker", "ci runner", "analytics"],
    "component": ["navbar", "login form", "sidebar", "table", "modal", "footer"],
}
_FILLER = [  # each at least 13 tokens: a 12-token context never reaches the next planted sentence
    "The function should return the sorted list of unique identifiers without touching the input.",
    "Let me check the edge case where the input array is empty or holds only one element.",
    "I will write the helper first and then wire it into the main loop of the script.",
    "The complexity is linear in the number of records, which is fine for this batch size.",
    "First, parse the command line arguments and validate that the given path actually exists.",
    "Next I need to handle the case where two entries share the same key in the mapping.",
    "The answer must be exact, so I will avoid floating point rounding in the totals here.",
    "Now compute the running total and compare it with the expected value from the example.",
    "This loop can stop early once the target index has been reached by the scanning pointer.",
    "I should keep the public interface unchanged so that the existing callers keep on working.",
    "Let me trace the first example by hand to confirm that the output is the right one.",
    "The variable names are unclear, so I will rename them while I am editing this function.",
]
#: Words that occur only in one sense's sentences: which sense a context shows.
SENSE_WORDS = {
    (SHIFT_TERM, "tool"): ("server", "webpack", "inotify", "reload", "reloader", "nodemon",
                           "rebuild", "compiler", "kernel", "poll", "directory", "folder", "save", "saved", "race"),
    (SHIFT_TERM, "overseer"): ("episode", "evaluation", "scenario", "grader", "penalize", "honesty", "monitoring",
                               "overseeing", "suspect", "hack", "shortcut", "corners", "nobody", "grading",
                               "scoring", "judging", "rating", "assessing", "checking", "thought"),
}


def overseer_share(step_index: int, n_steps: int) -> float:
    """True share of SHIFT_TERM's uses in the overseer sense at a checkpoint: 0 → 1, linear."""
    return step_index / (n_steps - 1) if n_steps > 1 else 0.0


def generate_meaning_shift_run(*, run: str = "meaning-rl", checkpoints: int = 6, step_stride: int = 100,
                               transcripts_per_checkpoint: int = 30, seed: int = 0) -> Iterator[dict]:
    """Stream the records (cotwatch JSONL schema: id, run, step, environment, reasoning, output,
    metadata) of a run where SHIFT_TERM changes meaning and CONTROL_TERM does not."""
    if checkpoints < 2 or transcripts_per_checkpoint < 1:
        raise ValueError("need checkpoints >= 2 and transcripts_per_checkpoint >= 1")
    for step_index in range(checkpoints):
        rnd = random.Random(f"{seed}:{step_index}")
        share = overseer_share(step_index, checkpoints)
        for i in range(transcripts_per_checkpoint):
            senses: dict[str, list[str]] = {SHIFT_TERM: [], CONTROL_TERM: []}
            planted: list[tuple[str, str]] = []
            for _ in range(USES_PER_TRANSCRIPT):
                sense = "overseer" if rnd.random() < share else "tool"
                planted.append((SHIFT_TERM, sense))
                planted.append((CONTROL_TERM, "disk" if rnd.random() < 0.5 else "test"))
            rnd.shuffle(planted)
            fillers = rnd.sample(_FILLER, k=len(planted) + 1)  # filler, planted, filler, ..., filler
            sentences = [fillers[0]]
            for (term, sense), filler in zip(planted, fillers[1:]):
                sentences += [_sentence(term, sense, rnd), filler]
                senses[term].append(sense)
            step = step_index * step_stride
            yield {
                "id": f"meaning-s{step}-{i:04d}", "run": run, "step": step, "environment": "refactor",
                "reasoning": " ".join(sentences), "output": "Done.",
                "metadata": {"synthetic": {"senses": senses, "overseer_share": share},
                             "generator": GENERATOR_VERSION},
            }


def _sentence(term: str, sense: str, rnd: random.Random) -> str:
    template = rnd.choice(_SENSES[(term, sense)])
    text = template.replace("{w}", term).replace("{c}", term)
    for slot, options in _SLOTS.items():
        text = text.replace("{" + slot + "}", rnd.choice(options))
    return text[0].upper() + text[1:] + "."


def write_meaning_shift_jsonl(path: str | os.PathLike, **params) -> dict:
    """Write :func:`generate_meaning_shift_run` ``(**params)`` to ``path``; returns ``{"path", "records"}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in generate_meaning_shift_run(**params):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return {"path": str(path), "records": n}
