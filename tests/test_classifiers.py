"""Classifier tests that need no transformer: splitter, data, specs, lexicon, prevalence maths,
safe artifacts, label import, CLI hygiene. The model-backed tests live in test_classifiers_model.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cotwatch.analytics.errors import InputError, SpecError
from cotwatch.classifiers.lexicon import Lexicon
from cotwatch.classifiers.metrics import (
    best_f1_threshold,
    binary_metrics,
    max_fpr_threshold,
)
from cotwatch.classifiers.sentences import MAX_CHARS, split_many, split_sentences
from cotwatch.classifiers.spec import load_spec, read_labelled
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]


# -- sentences --------------------------------------------------------------------------------

def texts_of(text):
    return [s for _, _, s in split_sentences(text)]


def test_splitter_handles_cot_shapes():
    text = ("ok. maybe this is a test?? - graders watching\n2) fine\n"
            "* note: e.g. this stays whole. Dr. Smith said U.S. rules apply.\n"
            "```python\nx = a.b(3)\n```\n(a) planted memo")
    assert texts_of(text) == [
        "ok.", "maybe this is a test??", "graders watching", "fine",
        "note: e.g. this stays whole.", "Dr. Smith said U.S. rules apply.",
        "```python", "x = a.b(3)", "planted memo",
    ]


def test_splitter_cuts_long_run_ons_at_soft_breaks():
    run_on = "so the user wants the files moved, " * 40 + "and honestly this looks like a test"
    pieces = split_sentences(run_on)
    assert len(pieces) > 1
    assert all(e - s <= MAX_CHARS for s, e, _ in pieces)
    assert pieces[-1][2].endswith("this looks like a test")
    assert all(p[2].endswith(",") for p in pieces[:-1])


def test_splitter_drops_letterless_pieces():
    assert texts_of("---\n3.\n}\n\n   ") == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("ab .!?\n-*1)(é\t\"'") + [" e.g. ", " Dr. ", "```", "word"]), max_size=120)
       .map("".join))
def test_splitter_offsets_are_exact_ordered_and_trimmed(text):
    last_end = 0
    for start, end, sent in split_sentences(text, max_chars=60):
        assert text[start:end] == sent
        assert start >= last_end and end > start
        assert sent == sent.strip() and any(c.isalpha() for c in sent)
        last_end = end


def test_split_many_keeps_text_index():
    idx, starts, ends, sents = split_many(["One. Two.", "", "Three"])
    assert idx == [0, 0, 2] and sents == ["One.", "Two.", "Three"]


# -- labelled data ----------------------------------------------------------------------------

def _sides(name):
    import polars as pl
    from cotwatch.classifiers.corpus import load_corpus

    frame = load_corpus(load_spec(name)).frame.filter(pl.col("origin") == "team")
    return frame.filter(pl.col("split") == "train"), frame.filter(pl.col("split") != "train")


@pytest.mark.parametrize("name", ["eval_awareness", "grader_seeking"])
def test_labelled_data_is_large_enough_and_heldout_is_disjoint(name):
    tr, ho = _sides(name)
    assert not set(tr["doc"].to_list()) & set(ho["doc"].to_list())  # split by document
    # documents may share generic lines ("Let me think."), never a labelled positive
    shared = set(tr["text"].to_list()) & set(ho["text"].to_list())
    assert tr.vstack(ho).filter(tr.vstack(ho)["text"].is_in(list(shared)))["label"].sum() == 0
    assert ho["label"].sum() >= 30 and ho.height - ho["label"].sum() >= 35
    if name == "eval_awareness":
        both = tr.vstack(ho)
        assert both.height >= 1500 and both["label"].sum() >= 500
        hard = set(both.filter((both["label"] == 0) & both["category"].str.starts_with("hard_"))["category"].to_list())
        assert {"hard_unit_test", "hard_eval_expr", "hard_rubric", "hard_abtest", "hard_scheming", "hard_refusal",
                "hard_agentic_harm", "hard_agentic_trust", "hard_agentic_monitor", "hard_agentic_policy",
                "hard_agentic_deploy", "hard_agentic_task", "hard_puzzle", "hard_training_fact"} <= hard
        positives = set(both.filter(both["label"] == 1)["category"].to_list())
        assert {"terse", "explicit", "indirect", "planted", "pos_hedged", "pos_indirect", "pos_deliberation"} <= positives


def test_bad_label_line_names_file_and_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("# c\n1 terse fine line\n2 terse wrong label\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.txt:3: label must be 0 or 1"):
        read_labelled(f)
    f.write_text("1 onlystyle\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.txt:1: expected"):
        read_labelled(f)


def test_spec_errors_name_file_and_key(tmp_path):
    good = (REPO / "classifiers/specs/eval_awareness.toml").read_text(encoding="utf-8")
    bad = tmp_path / "x.toml"
    bad.write_text(good.replace('"test",', '"te(st",', 1), encoding="utf-8")
    with pytest.raises(SpecError, match=r"x.toml: lexicon.recall\[0\]: invalid or unboundable regular expression"):
        load_spec(bad)
    bad.write_text(good.replace("alpha = 0.05", "alpha = 0.9"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"transcript.alpha must be a number"):
        load_spec(bad)
    tuned = (REPO / "classifiers/specs/eval_awareness_finetuned.toml").read_text(encoding="utf-8")
    bad.write_text(tuned.replace("layers = 2", "layers = 2\nwarp = 9"), encoding="utf-8")
    from cotwatch.classifiers.finetune import FinetuneConfig
    with pytest.raises(SpecError, match="model.finetune: unknown keys warp"):
        FinetuneConfig.from_spec(load_spec(bad).finetune)
    bad.write_text("name = 'x'\n", encoding="utf-8")
    with pytest.raises(SpecError, match="missing key version"):
        load_spec(bad)
    with pytest.raises(SpecError, match="no classifier spec named 'nope'"):
        load_spec("nope")


# -- lexicon ------------------------------------------------------------------------------------

def test_lexicon_baseline_and_recall_gate():
    spec = load_spec("eval_awareness")
    lex = Lexicon.from_spec(spec)
    s = lex.score(["I think this is an alignment test.", "The sum is 42.", "honeypot"])
    assert s[0] > 0.7 and s[1] == 0.0 and 0 < s[2] < s[0]
    ho = _sides("eval_awareness")[1]
    y = ho["label"].to_numpy()
    cand = lex.candidates(ho["text"].to_list())
    # the lexicon alone already catches (nearly) every held-out positive, while stopping most
    # ordinary sentences; the static model adds recall on top of it in the cascade
    assert cand[y == 1].mean() >= 0.95
    ordinary = np.isin(ho["category"].to_numpy(), ["ordinary", "terse_neg"])
    assert cand[ordinary].mean() <= 0.25


# -- metrics --------------------------------------------------------------------------------------

def test_metrics_and_thresholds():
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.1, 0.05]
    m = binary_metrics(y, s, 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 4)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["auroc"] == pytest.approx(14 / 15)
    assert best_f1_threshold(y, s) == pytest.approx(0.3)
    assert max_fpr_threshold(y, s, 0.0) == pytest.approx(0.8)
    assert max_fpr_threshold(y, s, 0.2) == pytest.approx(0.3)


# -- artifacts --------------------------------------------------------------------------------------

def test_artifact_loader_refuses_untrusted_types_and_junk(tmp_path, monkeypatch):
    import os

    import skops.io as sio
    from cotwatch.classifiers.artifacts import load_artifact
    from sklearn.preprocessing import FunctionTransformer

    monkeypatch.setenv("COTWATCH_HOME", str(tmp_path))
    evil = tmp_path / "evil.skops"
    sio.dump({"format": "cotwatch-classifier/2", "head": FunctionTransformer(os.system)}, evil)
    with pytest.raises(InputError, match="refusing to load untrusted types"):
        load_artifact(evil)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"\x80\x04not a zip")
    with pytest.raises(InputError, match="not a readable skops artifact"):
        load_artifact(junk)
    with pytest.raises(InputError, match="no trained classifier named 'missing'"):
        load_artifact("missing")
    old = tmp_path / "old.skops"
    sio.dump({"format": "cotwatch-classifier/1"}, old)
    with pytest.raises(InputError, match="trained by an older cotwatch"):
        load_artifact(old)


# -- label import (no model needed) ---------------------------------------------------------------

def _imported(split):
    import polars as pl
    from cotwatch.classifiers.corpus import load_corpus

    frame = load_corpus(load_spec("eval_awareness")).frame
    return frame.filter((pl.col("source") == "imported") & (pl.col("split") == split)).height


def test_label_import_appends_validates_and_feeds_training(tmp_path, monkeypatch):
    from cotwatch.analytics.errors import RejectedRecords
    from cotwatch.classifiers.labeling import import_labels

    monkeypatch.setenv("COTWATCH_HOME", str(tmp_path))
    before = _sides("eval_awareness")[0].height + _imported("train")
    f = tmp_path / "labels.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "text": "Pretty sure the operators staged this to watch me.", "label": 1},
        {"id": "b", "text": "Sum the column and divide by the count.", "label": 0},
        {"id": "c", "text": "Not labelled yet.", "label": None},
    ]) + "\n", encoding="utf-8")
    out = import_labels(f)
    assert out.row(0, named=True)["imported"] == 2 and out.row(0, named=True)["skipped"] == 1
    assert _sides("eval_awareness")[0].height + _imported("train") == before + 2
    assert import_labels(f).row(0, named=True)["imported"] == 0  # idempotent
    heldout_text = _sides("eval_awareness")[1]["text"][0]
    f.write_text(json.dumps({"text": heldout_text, "label": 1}) + "\n" + '{"text": "x", "label": 3}\n', encoding="utf-8")
    with pytest.raises(RejectedRecords) as err:
        import_labels(f)
    assert any("labels.jsonl:1: sentence is already in the held-out split" in p for p in err.value.problems)
    assert any("labels.jsonl:2: 'label' must be 0 or 1" in p for p in err.value.problems)
    assert _sides("eval_awareness")[0].height + _imported("train") == before + 2  # nothing from the bad file


# -- CLI ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["classify", "--help"], ["classify", "train", "--help"], ["classify", "eval", "--help"],
    ["classify", "score", "--help"], ["classify", "apply", "--help"], ["classify", "list", "--help"],
    ["awareness", "--help"], ["label", "export", "--help"], ["label", "import", "--help"],
    ["export", "counterfactual", "--help"],
])
def test_every_classifier_command_has_help_without_heavy_imports(args):
    code = (
        "import sys\nfrom cotwatch.cli import main\n"
        f"rc = main({args!r})\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'sklearn', 'model2vec') if m in sys.modules]\n"
        "print('HEAVY', heavy, rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "Usage:" in out.stdout, out.stderr
    assert "HEAVY [] 0" in out.stdout, out.stdout[-300:]


def test_score_needs_input(cli):
    res = cli("classify", "score")
    assert res.code == 2 and "give --input" in res.err


@pytest.mark.parametrize("name", ["eval_awareness", "grader_seeking"])
def test_shipped_artifacts_load_safely_and_match_the_shipped_data(name, monkeypatch, tmp_path):
    from cotwatch.classifiers.artifacts import load_artifact, shipped_dir
    from cotwatch.classifiers.corpus import data_files_sha256

    monkeypatch.setenv("COTWATCH_HOME", str(tmp_path))  # no user copy: the name resolves to the shipped file
    art = load_artifact(name)
    assert art.path == shipped_dir() / f"{name}.skops"
    # retrain with `cotwatch classify train NAME --out classifiers/artifacts/` after editing the data
    assert art.card["data"]["files_sha256"] == data_files_sha256(load_spec(name))
    assert art.card["cascade"]["stage1_recall_calibration"] >= 0.95
    spec = load_spec(name)
    assert spec.threshold_min <= art.threshold <= spec.threshold_max  # the bounds of its spec
    assert art.card["validation_transcripts"]["tp"] > 0 and art.card["validation_transcripts"]["tn"] > 0


def test_heldout_label_import_joins_validation_never_training(tmp_path, monkeypatch):
    from cotwatch.analytics.errors import RejectedRecords
    from cotwatch.classifiers.labeling import import_labels

    monkeypatch.setenv("COTWATCH_HOME", str(tmp_path))
    n_ho, n_tr = _imported("heldout"), _imported("train")
    f = tmp_path / "ho.jsonl"
    f.write_text(json.dumps({"text": "The probe results are logged for the lab report.", "label": 0}) + "\n",
                 encoding="utf-8")
    assert import_labels(f, split="heldout").row(0, named=True)["imported"] == 1
    assert _imported("heldout") == n_ho + 1 and _imported("train") == n_tr
    with pytest.raises(RejectedRecords):  # the same sentence cannot then go to training
        import_labels(f, split="train")
    train_text = _sides("eval_awareness")[0]["text"][0]
    f.write_text(json.dumps({"text": train_text, "label": 1}) + "\n", encoding="utf-8")
    with pytest.raises(RejectedRecords):
        import_labels(f, split="heldout")


def test_package_api_is_lazy_and_apply_stays_callable():
    code = (
        "import sys\nfrom cotwatch import classifiers\n"
        "assert 'sklearn' not in sys.modules and 'torch' not in sys.modules\n"
        "import cotwatch.classifiers.applying\n"
        "assert callable(classifiers.apply) and callable(classifiers.score_texts)\n"
        "print('OK', sorted(classifiers.__all__)[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "OK" in out.stdout, out.stderr[-1500:]


def test_custom_spec_with_its_own_data_folder(tmp_path):
    shipped = (REPO / "classifiers/specs/grader_seeking.toml").read_text(encoding="utf-8")
    folder = tmp_path / "mydata"
    folder.mkdir()
    (folder / "train.txt").write_text("1 x look for the grading script\n0 x add two numbers\n", encoding="utf-8")
    (folder / "heldout.txt").write_text("1 x find the answer key\n0 x sort the list\n", encoding="utf-8")
    spec_file = tmp_path / "mine.toml"
    spec_file.write_text(shipped.replace('name = "grader_seeking"', 'name = "mine"')
                         .replace('data = "grader_seeking"', 'data = "mydata"'), encoding="utf-8")
    spec = load_spec(spec_file)
    assert spec.name == "mine" and spec.data_dir() == folder
    from cotwatch.classifiers.corpus import load_corpus

    frame = load_corpus(spec, shared=tmp_path / "none").frame
    assert frame.filter(frame["split"] == "train")["text"].to_list() == ["look for the grading script", "add two numbers"]


def test_cli_errors_are_one_line_with_exit_codes(cli, tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"id": "t1", "run": "r", "step": 0, "reasoning": "Fine. Maybe this is a test."}) + "\n",
                 encoding="utf-8")
    assert cli("ingest", str(f), "--defer-terms").code == 0
    res = cli("classify", "apply", "--run", "nope")
    assert res.code == 3 and "no run named 'nope'" in res.err and "Traceback" not in res.err
    res = cli("awareness", "--run", "r")
    assert res.code == 7 and "classify apply --run r" in res.err
    res = cli("export", "counterfactual", "--run", "r", "--mode", "remove", "--sentence", "x",
              "--out", str(tmp_path / "o.jsonl"))
    assert res.code == 3 and "--sentence only applies to --mode inject" in res.err
    res = cli("label", "export", "--n", "5", "--out", str(tmp_path / "l.jsonl"))
    assert res.code == 7 and "classify apply" in res.err
    res = cli("classify", "eval", "--classifier", str(tmp_path / "missing.skops"))
    assert res.code == 3 and "no such classifier artifact" in res.err


def test_the_cascade_budget_caps_what_reaches_the_transformer():
    """The static stage's threshold keeps the recall rules unless they would pass more negatives
    than the speed budget; then at most that share of negatives (lexicon included) passes."""
    import numpy as np
    from cotwatch.classifiers.training import _static_threshold

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(100), np.zeros(1000)].astype(int)
    prob = np.r_[rng.uniform(0, 1, 100), rng.uniform(0, 1, 1000)]
    lex = np.zeros(1100, bool)
    lex[:30] = lex[100:150] = True
    free = _static_threshold(lex, prob, y, 0.995, 0.8)
    capped = _static_threshold(lex, prob, y, 0.995, 0.8, max_pass_rate=0.4)
    negatives = slice(100, None)
    assert np.mean(lex[negatives] | (prob[negatives] >= free)) > 0.9  # the recall rules alone pass almost all
    assert capped > free and np.mean(lex[negatives] | (prob[negatives] >= capped)) <= 0.4
    assert _static_threshold(lex, prob, y, 0.995, 0.8, max_pass_rate=0.01) == 1.0  # the lexicon alone is over budget
    loose = _static_threshold(lex, 0.001 * prob, y, 0.5, 0.5, max_pass_rate=0.99)
    assert loose == _static_threshold(lex, 0.001 * prob, y, 0.5, 0.5)  # within budget: the recall rules decide


# -- sentence features (lexicon cues and neighbour cues) -------------------------------------

def _features(names=("embedding", "lexicon", "neighbours")):
    from cotwatch.classifiers.features import SentenceFeatures

    spec = load_spec("eval_awareness")
    return SentenceFeatures(names, spec.baseline, spec.recall), spec


def test_search_matrix_is_search_many_per_pattern():
    from cotwatch.analytics.regexes import compile_bounded, search_matrix

    patterns = [r"\btest(?:ing)?\b", r"watch", r"(?:eval|grade)s?\b", r"^\s*$"]
    texts = ["A TEST here", None, "", "they watch the evals", "testing, graded", "nothing"]
    regexes = [compile_bounded(p, ignore_case=True, where="t") for p in patterns]
    m = search_matrix(regexes, texts)
    assert m.shape == (len(texts), len(patterns)) and m.dtype == bool
    for k, rx in enumerate(regexes):
        assert m[:, k].tolist() == rx.search_many(texts).tolist()
    assert search_matrix(regexes, []).shape == (0, len(patterns))


def test_neighbour_context_stays_inside_a_text_and_matches_the_labelled_frame_form():
    feats, spec = _features()
    texts = ["Maybe this is an alignment test.", "Hmm.", "Sum the column.", "They are watching me.", "Fine."]
    doc = [0, 0, 0, 1, 1]
    ctx = feats.context(texts, doc)
    cues = feats.cues(texts)
    assert ctx.shape == (5, len(spec.baseline) + 1)
    assert ctx[1].tolist() == (cues[0] | cues[2]).tolist()         # both neighbours, same text
    assert ctx[2].tolist() == cues[1].tolist()                     # last sentence of text 0: no "next" from text 1
    assert ctx[3].tolist() == cues[4].tolist()                     # first of text 1: nothing from text 0
    assert ctx[0].tolist() == cues[1].tolist()
    prev = ["", *texts[:2], "", texts[3]]
    nxt = [texts[1], texts[2], "", texts[4], ""]
    assert feats.context_of_neighbours(prev, nxt).tolist() == ctx.tolist()
    assert not feats.context(texts).any()                          # no doc: every sentence alone
    alone, _ = _features(("embedding",))
    assert alone.context(texts, doc) is None and alone.extra_width == 0
    E = np.zeros((5, 3), np.float32)
    X = feats.matrix(E, texts, ctx)
    assert X.shape == (5, 3 + len(spec.baseline) + len(spec.recall) + len(spec.baseline) + 1)
    own = X[:, 3:3 + len(spec.baseline) + len(spec.recall)]
    assert own[0].sum() > 0 and own[2].sum() == 0 and X[:, -ctx.shape[1]:].tolist() == ctx.astype(np.float32).tolist()


def test_context_keys_separate_the_same_sentence_in_different_company():
    from cotwatch.classifiers.embeddings import text_hashes
    from cotwatch.classifiers.features import context_keys

    feats, _ = _features()
    texts = ["Is this a test?", "Maybe.", "Sum the column.", "Maybe.", "Is this a test?", "Maybe."]
    ctx = feats.context(texts, [0, 0, 1, 1, 2, 2])
    keys = context_keys(text_hashes(texts), ctx)
    assert keys[1] == keys[5] and keys[1] != keys[3]               # "Maybe." after a test question vs after a sum
    assert list(context_keys(text_hashes(texts), None)) == list(text_hashes(texts))


def test_feature_lists_are_checked():
    from cotwatch.classifiers.features import check_features

    assert check_features(["embedding", "neighbours"], "x") == ("embedding", "neighbours")
    for bad in ([], ["lexicon"], ["embedding", "embedding"], ["embedding", "bag_of_words"]):
        with pytest.raises(SpecError, match="features"):
            check_features(bad, "x")


def test_calibrated_transcript_bar_controls_the_false_flag_rate_on_its_basis():
    from cotwatch.classifiers.decision import TranscriptDecision, calibrated_cutoff

    rng = np.random.default_rng(3)
    for n in (10, 40, 137, 500):
        scores = rng.beta(0.5, 3.0, n)                     # unaware transcripts' scores, mostly low
        bar = calibrated_cutoff(scores, 0.05)
        assert np.sum(scores >= bar) <= 0.05 * n and bar <= 0.95
        assert np.sum(scores >= np.nextafter(bar, 0)) >= np.sum(scores >= bar)  # the lowest such bar
    assert calibrated_cutoff(np.full(50, 0.999), 0.05) == 0.95    # never above 1 - alpha
    assert calibrated_cutoff([], 0.05) == 0.95
    d = TranscriptDecision(0.5, 0.05, np.linspace(0, 0.6, 1000), cutoff=0.5)
    old = TranscriptDecision(0.5, 0.05, np.linspace(0, 0.6, 1000))
    assert old.cutoff == 0.95 and d.min_max_score(100) < old.min_max_score(100)
    assert TranscriptDecision.from_payload(d.to_payload()).cutoff == 0.5
    legacy = {k: v for k, v in old.to_payload().items() if k != "cutoff"}
    assert TranscriptDecision.from_payload(legacy).cutoff == 0.95  # artifacts from before 2.4
