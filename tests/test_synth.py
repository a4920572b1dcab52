"""The synthetic RL-run generator: determinism, schema, and the planted ground truth it promises.

The token contract is re-implemented here on purpose (``re`` + lowercase), independently of
``cotwatch.analytics.terms.tokens``, so the planted counts are checked against the documented definition.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
from cotwatch.analytics.synth import generator as synth
from cotwatch.analytics.synth.generator import (
    CHAT_FORMATS,
    DEFAULT_ENVIRONMENTS,
    FALLING_TERMS,
    FLAT_TERMS,
    LOOP_TERM,
    PLANTED_TERMS,
    RISING_TERMS,
    awareness_rate,
    covert_rate,
    generate_corpus,
    generate_corpus_bytes,
    generate_run,
    write_jsonl,
)

TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
N_STEPS = 12
PER_ENV = 250  # 1,000 transcripts per checkpoint: tight enough bounds for the rate checks


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower().replace("\u2019", "'"))


def reasoning_of(rec: dict) -> str:
    if "reasoning" in rec:
        return rec["reasoning"]
    for msg in rec["messages"]:
        if msg["role"] != "assistant":
            continue
        if "reasoning_content" in msg:
            return msg["reasoning_content"]
        if isinstance(msg["content"], str):
            return re.search(r"<think>(.*)</think>", msg["content"], re.S).group(1)
        for part in msg["content"]:
            if part["type"] in ("reasoning", "thinking"):
                return part[part["type"]]
    raise AssertionError(f"no reasoning in {rec['id']}")


@pytest.fixture(scope="module")
def big_run() -> list[dict]:
    return list(generate_run(checkpoints=N_STEPS, transcripts_per_checkpoint=PER_ENV, seed=7))


@pytest.fixture(scope="module")
def by_step(big_run) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    for rec in big_run:
        out[rec["step"]].append(rec)
    return dict(sorted(out.items()))


@pytest.fixture(scope="module")
def token_lists(big_run) -> dict[str, list[str]]:
    return {rec["id"]: tokens(rec["reasoning"]) for rec in big_run}


def test_same_seed_same_records_other_seed_other_records():
    a = [json.dumps(r, sort_keys=True) for r in generate_run(checkpoints=3, transcripts_per_checkpoint=5, seed=1)]
    b = [json.dumps(r, sort_keys=True) for r in generate_run(checkpoints=3, transcripts_per_checkpoint=5, seed=1)]
    c = [json.dumps(r, sort_keys=True) for r in generate_run(checkpoints=3, transcripts_per_checkpoint=5, seed=2)]
    assert a == b
    assert a != c
    assert len(a) == 3 * 5 * len(DEFAULT_ENVIRONMENTS)


def test_a_block_does_not_depend_on_the_other_environments():
    both = list(generate_run(checkpoints=3, transcripts_per_checkpoint=4, seed=5,
                             environments=("code_review", "impossible_task"), loop=False))
    alone = list(generate_run(checkpoints=3, transcripts_per_checkpoint=4, seed=5,
                              environments=("impossible_task",), loop=False))
    assert [r for r in both if r["environment"] == "impossible_task"] == alone


def test_schema_and_defaults():
    recs = list(generate_run())
    assert len(recs) == 12 * 50 * 4
    steps = sorted({r["step"] for r in recs})
    assert steps == list(range(0, 1200, 100))
    assert {r["environment"] for r in recs} == set(DEFAULT_ENVIRONMENTS)
    assert len(DEFAULT_ENVIRONMENTS) >= 4
    assert len({r["id"] for r in recs}) == len(recs)
    for r in recs:
        assert list(r) == ["id", "run", "step", "environment", "epoch", "covert_action", "score",
                           "metadata", "reasoning", "output"]
        assert isinstance(r["id"], str) and r["run"] == "demo-rl"
        assert isinstance(r["step"], int) and isinstance(r["epoch"], int) and r["epoch"] == 1
        assert isinstance(r["covert_action"], bool)
        assert isinstance(r["score"], float) and 0.0 <= r["score"] <= 1.0
        assert r["reasoning"].strip() and r["output"].strip()
        syn = r["metadata"]["synthetic"]
        assert syn["style"] in synth.STYLES
        assert syn["aware"] == bool(syn["aware_sentences"])
        json.dumps(r)  # serialisable
    styles = Counter(r["metadata"]["synthetic"]["style"] for r in recs)
    assert min(styles.values()) > 0.1 * len(recs)


def test_varied_lengths_and_code_style():
    recs = list(generate_run(checkpoints=2, transcripts_per_checkpoint=100, seed=3))
    lengths = sorted(len(tokens(r["reasoning"])) for r in recs)
    assert lengths[len(lengths) // 20] < 120 and lengths[-len(lengths) // 20] > 600
    code = [r["reasoning"] for r in recs if r["metadata"]["synthetic"]["style"] == "code"]
    assert code and all("```" in text for text in code)
    assert any("score_predictions_tool" in text for text in code)
    assert any(re.search(r"\b[a-z]+-[a-z]+\b", text) for text in code)


def test_planted_counts_are_exact_per_token_contract(big_run, token_lists):
    planted = set(PLANTED_TERMS)
    for rec in big_run:
        counted = Counter(t for t in token_lists[rec["id"]] if t in planted)
        assert dict(counted) == rec["metadata"]["synthetic"]["planted_terms"], rec["id"]


def test_aware_sentences_are_verbatim_and_only_in_aware_transcripts(big_run):
    for rec in big_run:
        syn = rec["metadata"]["synthetic"]
        for sentence in syn["aware_sentences"]:
            assert sentence in rec["reasoning"]


def test_awareness_rises_from_2_to_20_percent(by_step):
    rates = []
    for i, recs in enumerate(by_step.values()):
        n = len(recs)
        p = awareness_rate(i, N_STEPS)
        k = sum(r["metadata"]["synthetic"]["aware"] for r in recs)
        assert abs(k / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1 / n, (i, k, n, p)
        rates.append(k / n)
    assert awareness_rate(0, N_STEPS) == pytest.approx(0.02)
    assert awareness_rate(N_STEPS - 1, N_STEPS) == pytest.approx(0.20)
    assert all(awareness_rate(i, N_STEPS) < awareness_rate(i + 1, N_STEPS) for i in range(N_STEPS - 1))
    assert rates[0] < 0.05 and rates[-1] > 0.15
    # monotone-ish: the sampled curve agrees with the step order almost everywhere
    ups = sum(b > a for a, b in zip(rates, rates[1:]))
    assert ups >= N_STEPS - 4


def test_aware_phrasings_are_varied(big_run):
    sentences = Counter(s for r in big_run for s in r["metadata"]["synthetic"]["aware_sentences"])
    assert len(sentences) >= 100
    assert sentences.most_common(1)[0][1] < 0.05 * sum(sentences.values())


def _doc_fraction(recs, token_lists, term):
    return sum(term in set(token_lists[r["id"]]) for r in recs) / len(recs)


def test_rising_terms_rise_across_many_transcripts(by_step, token_lists):
    steps = list(by_step)
    early = by_step[steps[0]] + by_step[steps[1]]
    late = by_step[steps[-2]] + by_step[steps[-1]]
    for term in RISING_TERMS:
        fe = _doc_fraction(early, token_lists, term)
        fl = _doc_fraction(late, token_lists, term)
        assert fe < 0.02, (term, fe)
        assert fl > 0.08, (term, fl)
        assert fl > 6 * fe, (term, fe, fl)


def test_falling_terms_fall(by_step, token_lists):
    steps = list(by_step)
    early = by_step[steps[0]] + by_step[steps[1]]
    late = by_step[steps[-2]] + by_step[steps[-1]]
    for term in FALLING_TERMS:
        assert _doc_fraction(early, token_lists, term) > 4 * _doc_fraction(late, token_lists, term)


def test_flat_terms_stay_flat(by_step, token_lists):
    steps = list(by_step)

    def rate(recs, term):
        toks = [t for r in recs for t in token_lists[r["id"]]]
        return Counter(toks)[term] / len(toks)

    early = [r for s in steps[:3] for r in by_step[s] if not r["metadata"]["synthetic"]["loop"]]
    late = [r for s in steps[-3:] for r in by_step[s]]
    for term in FLAT_TERMS:
        re_, rl = rate(early, term), rate(late, term)
        assert re_ > 0.0005, term
        assert 0.85 < rl / re_ < 1.15, (term, re_, rl)


def test_one_loop_transcript_spams_the_loop_term(big_run, token_lists):
    loops = [r for r in big_run if r["metadata"]["synthetic"]["loop"]]
    assert len(loops) == 1
    (loop,) = loops
    assert loop["step"] == 100
    assert loop["metadata"]["synthetic"]["planted_terms"][LOOP_TERM] >= 300
    others = [r for r in big_run if LOOP_TERM in token_lists[r["id"]] and r is not loop]
    assert others == []


def test_covert_action_is_lower_when_aware(big_run):
    aware = [r["covert_action"] for r in big_run if r["metadata"]["synthetic"]["aware"]]
    unaware = [r["covert_action"] for r in big_run if not r["metadata"]["synthetic"]["aware"]]
    pa, pu = sum(aware) / len(aware), sum(unaware) / len(unaware)
    assert 0.05 < pa < 0.15, pa
    assert 0.20 < pu < 0.30, pu
    by_env = defaultdict(list)
    for r in big_run:
        if not r["metadata"]["synthetic"]["aware"]:
            by_env[r["environment"]].append(r["covert_action"])
    env_rates = [sum(v) / len(v) for v in by_env.values()]
    assert max(env_rates) - min(env_rates) > 0.05  # environments differ a bit
    for env, flags in by_env.items():
        p = covert_rate(env, aware=False)
        assert abs(sum(flags) / len(flags) - p) < 4 * math.sqrt(p * (1 - p) / len(flags)), env


@pytest.mark.parametrize("fmt", CHAT_FORMATS)
def test_chat_records_carry_the_same_reasoning(fmt):
    plain = list(generate_run(checkpoints=2, transcripts_per_checkpoint=4, seed=11))
    chat = list(generate_run(checkpoints=2, transcripts_per_checkpoint=4, seed=11,
                             chat_fraction=1.0, chat_formats=(fmt,)))
    for p, c in zip(plain, chat):
        assert "reasoning" not in c and "output" not in c
        assert c["messages"][0] == {"role": "user", "content": c["metadata"]["prompt"]}
        assert c["messages"][1]["role"] == "assistant"
        assert reasoning_of(c) == p["reasoning"]
        assert c["metadata"]["synthetic"]["chat_format"] == fmt


def test_chat_fraction_mixes_forms():
    recs = list(generate_run(checkpoints=2, transcripts_per_checkpoint=50, seed=4, chat_fraction=0.3,
                             chat_formats=CHAT_FORMATS))
    share = sum("messages" in r for r in recs) / len(recs)
    assert 0.2 < share < 0.4
    assert {r["metadata"]["synthetic"]["chat_format"] for r in recs if "messages" in r} == set(CHAT_FORMATS)


def test_write_jsonl_plain_and_gzip(tmp_path):
    params = dict(checkpoints=2, transcripts_per_checkpoint=3, seed=9)
    s1 = write_jsonl(tmp_path / "run.jsonl", **params)
    s2 = write_jsonl(tmp_path / "run.jsonl.gz", **params)
    assert s1["records"] == s2["records"] == 24
    plain = (tmp_path / "run.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "run.jsonl.gz").read_bytes()) == plain
    assert s1["bytes"] == len(plain) == s2["bytes"]
    rows = [json.loads(line) for line in plain.decode().splitlines()]
    assert rows == list(generate_run(**params))


def test_generate_corpus_reaches_target(tmp_path):
    s = generate_corpus(tmp_path / "c.jsonl", 2.0, seed=1)
    assert s["bytes"] >= 2_000_000
    assert s["bytes"] < 2_400_000
    ids = [json.loads(line)["id"] for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == s["records"]
    again = generate_corpus_bytes(2.0, tmp_path / "d.jsonl", seed=1)
    assert (tmp_path / "d.jsonl").read_bytes() == (tmp_path / "c.jsonl").read_bytes()
    assert again["records"] == s["records"]


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        list(generate_run(environments=("no_such_env",)))
    with pytest.raises(ValueError):
        list(generate_run(chat_formats=("xml",)))
    with pytest.raises(ValueError):
        list(generate_run(checkpoints=0))


def test_import_is_light():
    code = (
        "import sys, cotwatch.analytics.synth.generator\n"
        "bad = [m for m in ('cotwatch.classifiers', 'cotwatch.reports', 'cotwatch.cli', 'duckdb', 'polars', 'torch')"
        " if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("fmt", CHAT_FORMATS)
def test_ingest_reads_every_chat_format_back(fmt):
    from cotwatch.analytics.ingest.records import record_from_json
    plain = list(generate_run(checkpoints=2, transcripts_per_checkpoint=3, seed=12))
    chat = list(generate_run(checkpoints=2, transcripts_per_checkpoint=3, seed=12,
                             chat_fraction=1.0, chat_formats=(fmt,)))
    for p, c in zip(plain, chat):
        for rec in (p, c):
            parsed = json.loads(json.dumps(rec))  # as read from a JSONL line
            record = record_from_json(parsed)
            kinds = {s.kind: s.text for s in record.segments}
            assert kinds["reasoning"] == p["reasoning"]
            assert kinds["output"] == p["output"]
            assert (record.run, record.step, record.environment) == (p["run"], p["step"], p["environment"])


def test_awareness_sentences_are_independent_of_classifier_training_data():
    # evaluating a classifier on the demo must not be circular: no generated awareness sentence
    # appears in the labelled data under classifiers/data
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "classifiers" / "data"
    files = [p for p in data.rglob("*") if p.suffix in {".txt", ".jsonl", ".csv", ".tsv"}]
    if not files:
        pytest.skip("no classifier data in this checkout")
    blob = "\n".join(p.read_text(encoding="utf-8", errors="replace").lower() for p in files)
    ours = {s for rec in generate_run(checkpoints=12, transcripts_per_checkpoint=60, seed=2)
            for s in rec["metadata"]["synthetic"]["aware_sentences"]}
    assert len(ours) > 50
    assert [s for s in ours if s.lower() in blob] == []
