"""Usage drift on a generated run where one word changes meaning at a constant frequency."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.synth import meaning
from cotwatch.analytics.terms import term_rates
from cotwatch.analytics.terms.contexts import term_contexts, token_windows
from cotwatch.analytics.terms.phrases import TokenSequence
from cotwatch.classifiers.usage import USAGE_COLUMNS, usage_drift
from scipy.stats import spearmanr

SHIFT, CONTROL = meaning.SHIFT_TERM, meaning.CONTROL_TERM


@pytest.fixture(scope="module")
def shift_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("meaning")
    meaning.write_meaning_shift_jsonl(d / "run.jsonl", checkpoints=6, transcripts_per_checkpoint=30, seed=3)
    with Store.open(d / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [d / "run.jsonl"])
    return d / "s.duckdb"


def sense_of(context: str, side_words) -> set[str]:
    words = set(context.lower().replace(".", " ").replace(",", " ").split())
    return {sense for (term, sense), vocab in side_words.items() if term == SHIFT and words & set(vocab)}


def test_the_generator_keeps_frequency_and_moves_meaning(shift_store):
    with Store.open(shift_store) as store:
        df = term_rates(store, [SHIFT, CONTROL])
    for term in (SHIFT, CONTROL):
        assert set(df.filter(df["term"] == term)["docs_with_term"].to_list()) == {30}
        assert set(df.filter(df["term"] == term)["occurrences"].to_list()) == {60}
    first = [json.loads(x) for x in (shift_store.parent / "run.jsonl").read_text(encoding="utf-8").splitlines()]
    senses = {(r["step"], s) for r in first for s in r["metadata"]["synthetic"]["senses"][SHIFT]}
    assert (0, "overseer") not in senses and (500, "tool") not in senses


def test_contexts_are_token_windows_sampled_per_step(shift_store):
    with Store.open(shift_store) as store:
        ctx = term_contexts(store, SHIFT, window=4, cap=7, per_transcript=1, seed=1)
        again = term_contexts(store, SHIFT, window=4, cap=7, per_transcript=1, seed=1)
        other = term_contexts(store, SHIFT, window=4, cap=7, per_transcript=1, seed=2)
    assert ctx.equals(again) and not ctx.equals(other)
    assert ctx.group_by("step").len().sort("step")["len"].to_list() == [7] * 6
    assert ctx.group_by("step").agg(pl.col("transcript_id").n_unique())["transcript_id"].to_list() == [7] * 6
    assert all(m == SHIFT for m in ctx["match"])
    text = "One two three four five six seven watchers eight nine ten eleven twelve."
    assert token_windows(text, {SHIFT}, [], 2) == [("six seven watchers eight nine", "watchers")]
    assert token_windows("a b-c d e", set(), [TokenSequence(("b", "c"))], 1) == [("a b-c d", "b-c")]


def check_drift(result, control) -> None:
    steps = result.steps
    assert steps.columns == USAGE_COLUMNS
    drift = steps["drift_from_first"].to_numpy()
    assert spearmanr(steps["step"], drift).statistic >= 0.8
    assert drift[-1] > 3 * control.steps["drift_from_first"].max()
    assert steps["p_value"][-1] < 0.05 and control.steps["p_value"][-1] > 0.05
    assert (steps["lo"] <= steps["drift_from_first"]).all() and (steps["drift_from_first"] <= steps["hi"] + 1e-9).all()
    assert np.isnan(steps["drift_from_previous"].to_numpy(allow_copy=True).astype(float)[0])
    typical = result.typical
    before = typical.filter(typical["side"] == "before")["context"].to_list()
    after = typical.filter(typical["side"] == "after")["context"].to_list()
    assert before and after
    assert all(sense_of(c, meaning.SENSE_WORDS) == {"tool"} for c in before), before
    assert all(sense_of(c, meaning.SENSE_WORDS) == {"overseer"} for c in after), after
    change = result.change.row(0, named=True)
    assert 0 < change["after_first_step"] < 500


def test_usage_drift_with_the_static_encoder(shift_store):
    with Store.open(shift_store) as store:
        shifted = usage_drift(store, SHIFT, cap=40, model="static", boots=100, permutations=100)
        control = usage_drift(store, CONTROL, cap=40, model="static", boots=100, permutations=100)
    check_drift(shifted, control)


@pytest.mark.slow
def test_usage_drift_with_the_default_encoder(shift_store):
    """The acceptance test: MiniLM (the project's encoder) on the planted meaning shift."""
    with Store.open(shift_store) as store:
        shifted = usage_drift(store, SHIFT, cap=40)
        control = usage_drift(store, CONTROL, cap=40)
    check_drift(shifted, control)


def test_usage_drift_errors_and_overlay(shift_store, tmp_path):
    from cotwatch.analytics.errors import NothingToReport

    with Store.open(shift_store) as store:
        with pytest.raises(NothingToReport, match="never occurs"):
            usage_drift(store, "zebra", model="static")
    meaning.write_meaning_shift_jsonl(tmp_path / "b.jsonl", run="other-rl", checkpoints=3, transcripts_per_checkpoint=6)
    with Store.open(shift_store, read_only=False) as store:
        ingest_paths(store, [tmp_path / "b.jsonl"])
        result = usage_drift(store, SHIFT, run=["meaning-rl", "other-rl"], cap=10, model="static", boots=20,
                             permutations=20)
    assert result.steps.group_by("run", maintain_order=True).len().rows() == [("meaning-rl", 6), ("other-rl", 3)]
    assert set(result.typical["run"]) == {"meaning-rl", "other-rl"} and result.change.height == 2


def test_usage_cli(cli, tmp_path):
    meaning.write_meaning_shift_jsonl(tmp_path / "m.jsonl", checkpoints=4, transcripts_per_checkpoint=8)
    assert cli("ingest", tmp_path / "m.jsonl").code == 0
    res = cli("terms", "usage", SHIFT, "--model", "static", "--cap", "10", "--format", "csv")
    assert res.code == 0, res
    assert res.out.splitlines()[0] == ",".join(USAGE_COLUMNS) and len(res.out.splitlines()) == 5
    ctx = cli("terms", "usage", SHIFT, "--model", "static", "--contexts", "--format", "json")
    assert {r["side"] for r in json.loads(ctx.out)} == {"before", "after"}
    table = cli("terms", "usage", SHIFT, "--model", "static", "--cap", "10")
    assert table.code == 0 and "Contexts most typical of before" in table.out
    missing = cli("terms", "usage", "zebra", "--model", "static")
    assert missing.code == 7 and "never occurs" in missing.err
