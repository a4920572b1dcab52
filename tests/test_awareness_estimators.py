"""Estimators behind the awareness numbers, without a transformer: the transcript decision, the
Rogan–Gladen correction on validation transcripts, prediction-powered inference (PPI++) with a
planted biased classifier, small cells, and the labelled corpus (document split, frozen hash)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from cotwatch.classifiers.decision import TranscriptDecision
from cotwatch.classifiers.prevalence import (
    MIN_CELL,
    TranscriptValidation,
    corrected_prevalence,
    ppi_mean,
    rogan_gladen,
)
from tests.conftest import DATA, requires_data

# -- the transcript decision ------------------------------------------------------------------


def test_transcript_threshold_grows_with_length_and_controls_false_flags():
    rng = np.random.default_rng(0)
    null = rng.beta(0.4, 6, 50_000)  # negative sentence scores: mostly low, a long thin tail
    d = TranscriptDecision(sentence_threshold=0.5, alpha=0.05, null_scores=null)
    thresholds = [d.min_max_score(n) for n in (10, 100, 1000)]
    assert thresholds == sorted(thresholds) and thresholds[0] >= 0.5
    for n in (30, 100, 400):  # unaware transcripts drawn from the null: false flags near alpha
        m = rng.beta(0.4, 6, (4000, n)).max(axis=1)
        rate = d.flags(m, np.full(4000, n)).mean()
        assert rate <= 0.05 + 0.015, (n, rate)
    # "any sentence above the sentence threshold" would flag far more of the long ones
    m = rng.beta(0.4, 6, (4000, 400)).max(axis=1)
    assert (m >= 0.5).mean() > 3 * d.flags(m, np.full(4000, 400)).mean()


def test_transcript_score_ranks_beyond_the_null_sample_and_handles_empty_transcripts():
    d = TranscriptDecision(0.5, 0.05, np.linspace(0, 0.6, 1001))
    s = d.scores(np.array([0.7, 0.99, 0.3, np.nan]), np.array([50, 50, 50, 0]))
    assert s[1] >= s[0] > s[2] and s[3] == 0.0
    assert not d.flags(np.array([np.nan]), np.array([0]))[0]


def test_decision_payload_roundtrip():
    d = TranscriptDecision(0.6, 0.1, np.array([0.3, 0.1, 0.2]))
    e = TranscriptDecision.from_payload(d.to_payload())
    assert (e.sentence_threshold, e.alpha) == (0.6, 0.1) and e.null_scores.tolist() == pytest.approx([0.1, 0.2, 0.3])


# -- Rogan–Gladen on validation transcripts ---------------------------------------------------


def test_rogan_gladen_point_estimate_clipping_and_chance_level():
    assert rogan_gladen(0.3, 0.9, 0.1) == pytest.approx(0.25)
    assert rogan_gladen(0.05, 0.9, 0.1) == 0.0
    assert np.isnan(rogan_gladen(0.3, 0.5, 0.5))
    v = TranscriptValidation(tp=90, fn=10, fp=5, tn=95)
    est = corrected_prevalence([True] * 30 + [False] * 70, v, b=300)
    assert est["corrected_rate"] == pytest.approx((0.3 - 0.05) / (0.9 - 0.05))
    assert est["ci_lo"] <= est["corrected_rate"] <= est["ci_hi"]


def test_small_cells_get_no_corrected_estimate():
    v = TranscriptValidation(90, 10, 5, 95)
    one = corrected_prevalence([True], v, b=200)  # the old failure: raw = corrected = 100%, [1, 1]
    assert one["raw_rate"] == 1.0 and np.isnan(one["corrected_rate"]) and np.isnan(one["ci_lo"])
    assert not np.isnan(corrected_prevalence([True] * MIN_CELL, v, b=200)["corrected_rate"])


@pytest.mark.parametrize("pi,tpr,fpr", [(0.2, 0.85, 0.05), (0.05, 0.8, 0.02)])
def test_rogan_gladen_interval_covers_when_the_validation_rates_transfer(pi, tpr, fpr):
    rng = np.random.default_rng(11)
    hits = 0
    for r in range(100):
        aware = rng.random(600) < pi
        flagged = np.where(aware, rng.random(600) < tpr, rng.random(600) < fpr)
        pos, neg = rng.random(80) < tpr, rng.random(200) < fpr
        v = TranscriptValidation(int(pos.sum()), int((~pos).sum()), int(neg.sum()), int((~neg).sum()))
        est = corrected_prevalence(flagged, v, b=300, seed=r)
        hits += est["ci_lo"] <= aware.mean() <= est["ci_hi"]
    assert hits >= 88, hits


def test_covert_rates_recover_conditional_rates():
    rng = np.random.default_rng(3)
    n = 4000
    aware = rng.random(n) < 0.3
    covert = np.where(aware, rng.random(n) < 0.10, rng.random(n) < 0.30)
    flagged = np.where(aware, rng.random(n) < 0.9, rng.random(n) < 0.05)
    est = corrected_prevalence(flagged, TranscriptValidation(180, 20, 10, 190), covert=covert.tolist(), b=300)
    assert est["covert_aware_lo"] <= 0.10 <= est["covert_aware_hi"]
    assert est["covert_unaware_lo"] <= 0.30 <= est["covert_unaware_hi"]


# -- prediction-powered inference ---------------------------------------------------------------


def _biased_world(rng, n, pi, tpr, fpr):
    aware = rng.random(n) < pi
    pred = np.where(aware, rng.random(n) < tpr, rng.random(n) < fpr).astype(float)
    return aware.astype(float), pred


def test_ppi_covers_the_truth_with_a_biased_classifier_where_validation_only_does_not():
    """The classifier on this 'run' misses half the aware transcripts and flags 8% of the others,
    while its validation transcripts say 90% / 2%: Rogan–Gladen with those rates is biased and its
    interval misses; PPI with 150 labels of a uniform random sample covers the truth >= 90%."""
    rng = np.random.default_rng(2024)
    reps, ppi_hits, rg_hits, widths = 200, 0, 0, []
    shipped = TranscriptValidation(tp=90, fn=10, fp=4, tn=196)
    for r in range(reps):
        y, f = _biased_world(rng, 2000, pi=0.25, tpr=0.5, fpr=0.08)
        truth = y.mean()
        lab = rng.choice(len(y), 150, replace=False)
        est, lo, hi, lam = ppi_mean(f, f[lab], y[lab])
        ppi_hits += lo <= truth <= hi
        widths.append(hi - lo)
        rg = corrected_prevalence(f.astype(bool), shipped, b=200, seed=r)
        rg_hits += rg["ci_lo"] <= truth <= rg["ci_hi"]
    assert ppi_hits / reps >= 0.90, ppi_hits / reps
    assert rg_hits / reps < 0.5, rg_hits / reps  # the planted bias is real: without labels it misses
    assert np.mean(widths) < 0.2


def test_ppi_is_never_worse_than_labels_alone_and_uses_a_good_classifier():
    rng = np.random.default_rng(5)
    y, f = _biased_world(rng, 5000, pi=0.2, tpr=0.95, fpr=0.01)
    lab = rng.choice(len(y), 100, replace=False)
    est, lo, hi, lam = ppi_mean(f, f[lab], y[lab])
    classical = 2 * 1.984 * np.sqrt(y[lab].var(ddof=1) / 100)
    assert lam > 0.5 and hi - lo < classical
    noise = rng.random(len(y)).round()  # a useless classifier: power tuning turns it off
    est2, lo2, hi2, lam2 = ppi_mean(noise, noise[lab], y[lab])
    assert lam2 < 0.3 and hi2 - lo2 <= classical * 1.1


def test_ppi_needs_labels():
    from cotwatch.analytics.errors import InputError

    with pytest.raises(InputError, match="at least two labelled"):
        ppi_mean(np.ones(10), np.ones(1), np.ones(1))


# -- the labelled corpus ---------------------------------------------------------------------------


#: every version of the frozen split, with the hash recorded when it was frozen (docs/classifiers.md)
SPLITS = {"heldout_v1.json": "19d77714ebef5c3ee38fba27ae61db2febdc9b142bff629ca9d373633449656e",
          "heldout_v2.json": "981bc42c7ceec1c198d0004090b461c859b3baed1ec12727bee517db43958c46",
          "heldout_v3.json": "9be29dfabd9d5c2643ddc9cbdf0e48e47917a12787851b7702dac7cfc2034ca3",
          "heldout_v4.json": "7ce3563d0d3a106f60d859835d82db38f1de9ad8cca7192d711c9dab15e3798f",
          "heldout_v5.json": "cae095950ec53b64d0a3f7b97d6c641e767d64cfaf23992bbe8ac8e9c26f5e4c",
          "heldout_v6.json": "9e17840813f203a23b328f7641fcf90008908dd525a362f7c5a55ea219f7958b",
          "heldout_v7.json": "3721379270da96c294a9327ba0e2a1f688a1fd21f92e629c0c5447b0ea8484db",
          "heldout_v8.json": "57335cc92ec428092c7f0a85b2e6754b25ed149cb463915c82c838f8dfd94f5d"}


def test_the_frozen_split_is_the_recorded_one():
    """The held-out split is frozen: every version's hash is recorded (docs/classifiers.md and
    the model card); a changed split is a new versioned file, never an edit. A new version keeps
    every document of the one before; a document may leave the held-out side (once it has been
    evaluated, it may become training material) but never enters it from the training side."""
    from cotwatch.classifiers.spec import load_spec

    spec = load_spec("eval_awareness")
    path = spec.data_dir() / spec.data_sources["split"]
    assert path.name == max(SPLITS, key=lambda name: int(name.removesuffix(".json").split("_v")[1]))
    for name, digest in SPLITS.items():
        assert hashlib.sha256((path.parent / name).read_bytes()).hexdigest() == digest, name
    versions = [json.loads((path.parent / name).read_text(encoding="utf-8"))["documents"] for name in SPLITS]
    for before, after in zip(versions, versions[1:]):
        assert set(before) <= set(after)
        for doc, entry in before.items():
            if entry["split"] == "train":
                assert after[doc]["split"] == "train", doc  # trained on: never held out again
    data = versions[-1]
    by_group: dict[str, set[str]] = {}
    for entry in data.values():
        by_group.setdefault(entry["group"], set()).add(entry["split"])
    assert all(len(sides) == 1 for sides in by_group.values())  # a source never spans both sides


@requires_data
def test_real_corpus_labels_resolve_and_documents_never_span_splits():
    import polars as pl
    from cotwatch.classifiers.corpus import load_corpus
    from cotwatch.classifiers.spec import load_spec

    corpus = load_corpus(load_spec("eval_awareness"), shared=DATA)
    f = corpus.frame
    real = f.filter(pl.col("origin") == "real")
    assert real.filter(pl.col("source") == "thinking-traces")["doc"].n_unique() == 20
    assert real.filter(pl.col("source") == "alignment-faking")["doc"].n_unique() == 106
    assert real.filter(pl.col("source") == "thinking-traces")["label"].sum() == 0
    assert real.filter(pl.col("source") == "alignment-faking")["label"].sum() == 7
    sides = f.group_by("group").agg(pl.col("split").n_unique().alias("k"))
    assert sides["k"].max() == 1
    # every labelled span still lands on a sentence of the text it was labelled on
    shared = f.filter(pl.col("source").is_in(["alignment-faking", "thinking-traces"]))
    labels = [json.loads(line) for line in (load_spec("eval_awareness").data_dir() / "real" / "shared_data.jsonl")
              .read_text(encoding="utf-8").splitlines()]
    starts = set(zip(shared["doc"].to_list(), shared["start"].to_list()))
    assert all((rec["doc"], rec["start"]) in starts for rec in labels)
    held = f.filter(pl.col("split") == "heldout")
    train = f.filter(pl.col("split") == "train")
    assert not set(held["doc"].to_list()) & set(train["doc"].to_list())


def test_corpus_checks_the_text_it_labels(tmp_path):
    from cotwatch.analytics.errors import InputError
    from cotwatch.classifiers.corpus import _real_documents, _Rows

    docs = tmp_path / "docs.json"
    docs.write_text(json.dumps([{"doc": "a", "sha256": hashlib.sha256(b"original text.").hexdigest()}]),
                    encoding="utf-8")
    _real_documents(_Rows(), {"a": "original text."}, {}, None, docs, "shared")
    with pytest.raises(InputError, match="differs from the one that was labelled"):
        _real_documents(_Rows(), {"a": "edited text."}, {}, None, docs, "shared")
