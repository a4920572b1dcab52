"""Training and evaluation: spec + labelled data → a validated, calibrated artifact with a card.

Honest validation in three layers:

1. **Stratified k-fold CV on the training split** picks C (log loss), gives out-of-fold (OOF)
   calibrated probabilities, and from them the threshold (policy ``max_f1_oof``) and the cascade's
   static-stage threshold (the highest one keeping OOF stage-1 recall >= ``target_recall``).
2. **The held-out split** (never seen by any of the above) gives the reported precision, recall,
   F1, AUROC and confusion matrix — for the full model, the cascade and the lexicon baseline — plus
   the cascade's first-stage recall and its AUROC loss against scoring everything.
3. The held-out cascade scores are stored in the artifact as the validation sample that
   :mod:`cotwatch.classifiers.prevalence` bootstraps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cotwatch.classifiers.artifacts import (
    Artifact,
    load_artifact,
    save_artifact,
    user_dir,
)
from cotwatch.classifiers.embeddings import Encoder, StaticEncoder, embed, progress_bar
from cotwatch.classifiers.lexicon import Lexicon
from cotwatch.classifiers.metrics import (
    best_f1_threshold,
    binary_metrics,
    max_fpr_threshold,
)
from cotwatch.classifiers.model import make_head, make_static_head
from cotwatch.classifiers.prevalence import Validation
from cotwatch.classifiers.spec import (
    ClassifierSpec,
    data_hash,
    heldout_files,
    load_spec,
    load_split,
    training_files,
)


@dataclass
class TrainResult:
    path: Path
    card: dict


def _oof(make, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(make(), X, y, cv=cv, method="predict_proba")[:, 1]


def _pick_c(spec: ClassifierSpec, X: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, dict[str, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    losses = {}
    for C in spec.c_grid:
        p = _oof(lambda: LogisticRegression(C=C, class_weight="balanced", max_iter=5000), X, y, spec.cv_folds, seed)
        losses[str(C)] = float(log_loss(y, p))
    best = min(spec.c_grid, key=lambda c: losses[str(c)])
    return best, losses


def _static_threshold(lex_mask: np.ndarray, static_prob: np.ndarray, y: np.ndarray, target: float,
                      static_recall: float) -> float:
    """The static stage's threshold, from out-of-fold probabilities on the training split.

    Two conditions, the stricter (lower threshold) wins: the union with the lexicon keeps recall
    on positives >= ``target``; and the static model *alone* keeps recall >= ``static_recall``, so
    it remains an independent safety net for phrasings the lexicon (tuned on the same training
    sentences, hence optimistic there) has never seen.
    """
    pos = y == 1
    grid = sorted(np.unique(np.concatenate([static_prob[pos], [0.0]])), reverse=True)
    union_t = next((float(t) for t in grid if np.mean(lex_mask[pos] | (static_prob[pos] >= t)) >= target), 0.0)
    alone_t = next((float(t) for t in grid if np.mean(static_prob[pos] >= t) >= static_recall), 0.0)
    return min(union_t, alone_t)


def train(spec: str | ClassifierSpec = "eval_awareness", *, model: str | None = None, out: Path | None = None,
          device: str = "auto", batch_size: int = 64, seed: int = 0, progress: bool = False) -> TrainResult:
    """Train, cross-validate, evaluate on the held-out split and save the artifact.

    >>> result = train("eval_awareness")                      # doctest: +SKIP
    >>> result.card["heldout"]["model"]["f1"]                  # doctest: +SKIP
    """
    if not isinstance(spec, ClassifierSpec):
        spec = load_spec(spec)
    embedding_name = model or spec.embedding
    tr = load_split(spec, "train")
    ho = load_split(spec, "heldout")
    y, y_ho = np.asarray(tr.labels), np.asarray(ho.labels)
    encoder = Encoder(embedding_name, device=device, batch_size=batch_size)
    with progress_bar(progress, len(tr) + len(ho), f"embedding {spec.name}") as tick:
        E = embed(tr.texts, encoder, progress=tick)
        E_ho = embed(ho.texts, encoder, progress=tick)

    # 1. CV on training only: C, OOF probabilities, threshold
    C, c_losses = _pick_c(spec, E, y, seed)
    oof = _oof(lambda: make_head(C, spec.calibration, min(spec.cv_folds, 5), seed), E, y, spec.cv_folds, seed)
    threshold_f1 = best_f1_threshold(y, oof, spec.threshold_min, spec.threshold_max)
    if spec.threshold_policy == "fixed":
        threshold = spec.threshold_min
    elif spec.threshold_policy == "max_fpr_oof":
        threshold = max_fpr_threshold(y, oof, spec.max_fpr, spec.threshold_min, spec.threshold_max)
    else:
        threshold = threshold_f1
    cv_metrics = binary_metrics(y, oof, threshold)
    head = make_head(C, spec.calibration, min(spec.cv_folds, 5), seed).fit(E, y)

    # lexicon baseline: its threshold also chosen on training data only
    lexicon = Lexicon.from_spec(spec)
    base_tr = lexicon.score(tr.texts)
    base_threshold = best_f1_threshold(y, base_tr, 0.0, 1.0)

    # cascade first stage: lexicon OR static model at an OOF-chosen threshold
    lex_tr = lexicon.candidates(tr.texts)
    static_head, static_threshold = None, 1.0
    if spec.static_stage:
        static = StaticEncoder()
        S, S_ho = static.encode(tr.texts), static.encode(ho.texts)
        static_oof = _oof(make_static_head, S, y, spec.cv_folds, seed)
        static_threshold = _static_threshold(lex_tr, static_oof, y, spec.target_recall, spec.static_recall)
        static_head = make_static_head().fit(S, y)
        stage1_ho = lexicon.candidates(ho.texts) | (static_head.predict_proba(S_ho)[:, 1] >= static_threshold)
        stage1_tr_oof = lex_tr | (static_oof >= static_threshold)
    else:
        stage1_ho = lexicon.candidates(ho.texts)
        stage1_tr_oof = lex_tr

    # 2. held-out evaluation
    full_ho = head.predict_proba(E_ho)[:, 1]
    cascade_ho = np.where(stage1_ho, full_ho, 0.0)
    base_ho = lexicon.score(ho.texts)
    heldout = {
        "model": binary_metrics(y_ho, full_ho, threshold),
        "cascade": binary_metrics(y_ho, cascade_ho, threshold),
        "baseline": binary_metrics(y_ho, base_ho, base_threshold),
    }
    styles = sorted({s for s, l in zip(ho.styles, ho.labels) if l == 1})
    per_style = {}
    for style in styles:
        m = np.array([(s == style and l == 1) for s, l in zip(ho.styles, ho.labels)])
        per_style[style] = {"n": int(m.sum()), "recall": float(np.mean(cascade_ho[m] >= threshold))}
    neg_styles = sorted({s for s, l in zip(ho.styles, ho.labels) if l == 0})
    per_neg_style = {}
    for style in neg_styles:
        m = np.array([(s == style and l == 0) for s, l in zip(ho.styles, ho.labels)])
        per_neg_style[style] = {"n": int(m.sum()), "false_positive_rate": float(np.mean(cascade_ho[m] >= threshold))}
    cascade = {
        "stage1_recall_heldout": float(np.mean(stage1_ho[y_ho == 1])),
        "stage1_pass_rate_heldout_negatives": float(np.mean(stage1_ho[y_ho == 0])),
        "stage1_recall_train_oof": float(np.mean(stage1_tr_oof[y == 1])),
        "lexicon_recall_heldout": float(np.mean(lexicon.candidates(ho.texts)[y_ho == 1])),
        "auroc_full": heldout["model"]["auroc"],
        "auroc_cascade": heldout["cascade"]["auroc"],
        "auroc_loss": float(heldout["model"]["auroc"] - heldout["cascade"]["auroc"]),
        "static_threshold": static_threshold,
        "target_recall": spec.target_recall,
        "static_recall": spec.static_recall,
    }
    files = training_files(spec) + heldout_files(spec)
    import sklearn
    import skops

    card = {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "spec": str(spec.path.name),
        "spec_path": str(spec.path.resolve()),
        "embedding_model": encoder.id,
        "embedding_name": embedding_name if embedding_name != "default" else "default",
        "static_model": StaticEncoder().id if spec.static_stage else None,
        "training_data_sha256": data_hash(files),
        "training_files": [f.name for f in files],
        "n_train": len(tr), "n_train_positive": int(y.sum()),
        "n_heldout": len(ho), "n_heldout_positive": int(y_ho.sum()),
        "C": C, "cv_log_loss_by_C": c_losses, "calibration": spec.calibration, "cv_folds": spec.cv_folds,
        "threshold": threshold, "threshold_policy": spec.threshold_policy, "max_fpr": spec.max_fpr,
        "threshold_max_f1_oof": threshold_f1,
        "heldout_at_max_f1_threshold": binary_metrics(y_ho, cascade_ho, threshold_f1),
        "baseline_threshold": base_threshold,
        "cv_oof": cv_metrics,
        "heldout": heldout,
        "heldout_recall_by_style": per_style,
        "heldout_fpr_by_negative_style": per_neg_style,
        "cascade": cascade,
        "validation_counts": dataclasses.asdict(Validation.from_scores(y_ho, cascade_ho, stage1_ho, threshold)),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                     "skops": skops.__version__},
    }
    path = Path(out) if out else user_dir() / f"{spec.name}.skops"
    if path.suffix != ".skops":
        path = path / f"{spec.name}.skops"
    save_artifact(
        path, card=card, head=head, static_head=static_head, static_threshold=static_threshold,
        threshold=threshold, baseline=spec.baseline, recall=spec.recall,
        validation={"labels": y_ho.astype(np.int8), "scores": cascade_ho.astype(np.float32),
                    "candidate": stage1_ho.astype(bool)},
    )
    return TrainResult(path, card)


def evaluate(classifier: str = "eval_awareness", *, device: str = "auto", batch_size: int = 64):
    """Re-score the held-out split with a saved artifact; one row per scorer (model, cascade, baseline).

    Also reports the cross-validated OOF metrics recorded at training time and whether the shipped
    data changed since (``data_changed``).
    """
    import polars as pl
    from cotwatch.classifiers.scoring import Scorer

    art: Artifact = load_artifact(classifier)
    spec = _spec_of(art)
    ho = load_split(spec, "heldout")
    y = np.asarray(ho.labels)
    scorer = Scorer(art, device=device, batch_size=batch_size)
    full, _ = scorer.score(ho.texts, cascade=False)
    stage1 = scorer.first_stage(ho.texts)
    cascade = np.where(stage1, full, 0.0)
    baseline = scorer.lexicon.score(ho.texts)
    files = training_files(spec) + heldout_files(spec)
    changed = data_hash(files) != art.card["training_data_sha256"]
    rows = []
    for name, s, t in (("model", full, art.threshold), ("cascade", cascade, art.threshold),
                       ("baseline", baseline, art.card["baseline_threshold"])):
        m = binary_metrics(y, s, t)
        rows.append({"classifier": art.name, "split": "heldout", "scorer": name, **m})
    cv = art.card["cv_oof"]
    rows.append({"classifier": art.name, "split": "cv_oof", "scorer": "model", **cv})
    df = pl.DataFrame(rows)
    df = df.with_columns(
        pl.lit(float(np.mean(stage1[y == 1]))).alias("stage1_recall"),
        pl.lit(changed).alias("data_changed"),
    )
    return df


def train_summary(card: dict):
    """One row per (split, scorer) from a model card: the figures `classify train` prints."""
    import polars as pl

    rows = [{"classifier": card["name"], "split": "cv_oof", "scorer": "model", **card["cv_oof"]}]
    for scorer, m in card["heldout"].items():
        rows.append({"classifier": card["name"], "split": "heldout", "scorer": scorer, **m})
    df = pl.DataFrame(rows)
    return df.with_columns(
        pl.lit(card["cascade"]["stage1_recall_heldout"]).alias("stage1_recall"),
        pl.lit(card["cascade"]["auroc_loss"]).alias("cascade_auroc_loss"),
    )


def list_classifiers():
    """Artifacts (name, where, version, threshold, heldout F1/AUROC, path) plus untrained specs."""
    import polars as pl
    from cotwatch.classifiers.artifacts import available
    from cotwatch.classifiers.spec import shipped_specs

    rows = []
    for entry in available():
        try:
            art = load_artifact(entry["path"])
        except Exception as exc:  # a broken file is listed, not fatal
            rows.append({**entry, "version": None, "threshold": None, "heldout_f1": None, "heldout_auroc": None,
                         "note": str(exc)})
            continue
        m = art.card["heldout"]["cascade"]
        rows.append({**entry, "version": art.version, "threshold": art.threshold, "heldout_f1": m["f1"],
                     "heldout_auroc": m["auroc"], "note": ""})
    trained = {r["name"] for r in rows}
    for name in shipped_specs():
        if name not in trained:
            rows.append({"name": name, "where": "spec only", "path": "", "version": None, "threshold": None,
                         "heldout_f1": None, "heldout_auroc": None, "note": f"run `cotwatch classify train {name}`"})
    return pl.DataFrame(rows, schema={"name": pl.String, "where": pl.String, "path": pl.String, "version": pl.String,
                                      "threshold": pl.Float64, "heldout_f1": pl.Float64, "heldout_auroc": pl.Float64,
                                      "note": pl.String})


def _spec_of(art: Artifact) -> ClassifierSpec:
    """The spec an artifact was trained from: its recorded path if still there, else the shipped one."""
    recorded = Path(art.card.get("spec_path", ""))
    if recorded.suffix == ".toml" and recorded.exists():
        return load_spec(recorded)
    return load_spec(art.card["spec"].removesuffix(".toml"))
