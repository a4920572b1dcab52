"""Training and evaluation: spec + labelled corpus → a validated, calibrated artifact with a card.

The corpus (:mod:`cotwatch.classifiers.corpus`) mixes team-written sentences and transcripts with
real reasoning labelled by hand, each document on one side of a frozen split. Training uses the
``train`` side only, itself cut by document group into

* **fit** (75%): fine-tunes the encoder's top layers (when the spec asks for it), fits the
  logistic head (C chosen by grouped cross-validation) and the cascade's first stage;
* **calibration** (25%): Platt-scales the head, sets the sentence threshold (false-positive rate
  on negatives of real and team transcripts at most ``transcript.sentence_fpr``) and the null
  distribution of the transcript decision (:mod:`cotwatch.classifiers.decision`).

The ``heldout`` side is only scored, once, to report metrics per source — sentence level and
transcript level — and the transcript outcomes on it are stored as the validation counts that
``awareness`` uses when the user has no labels of their own. The team-written held-out file is
reported on its own (``heldout_team``): it is not real reasoning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cotwatch.classifiers.artifacts import Artifact, load_artifact, save_artifact, user_dir
from cotwatch.classifiers.corpus import data_files_sha256, load_corpus
from cotwatch.classifiers.decision import TranscriptDecision, calibrated_cutoff, transcript_outcomes
from cotwatch.classifiers.embeddings import Encoder, MemoryCache, StaticEncoder, embed, progress_bar
from cotwatch.classifiers.features import SentenceFeatures
from cotwatch.classifiers.finetune import FinetuneConfig, finetune_layers
from cotwatch.classifiers.lexicon import Lexicon
from cotwatch.classifiers.metrics import best_f1_threshold, binary_metrics, max_fpr_threshold
from cotwatch.classifiers.model import make_static_head
from cotwatch.classifiers.spec import ClassifierSpec, load_spec

CALIBRATION_SHARE = 0.25
DEFAULT_ALPHA = 0.05            # transcript false-flag rate the decision aims at
DEFAULT_SENTENCE_FPR = 0.003    # sentence false positives at ~2% base rate → precision ≈ 0.8
MIN_CUTOFF_BASIS = 40           # real unaware training transcripts needed to calibrate the transcript bar on them alone
TRACE_CAP = 1500                # puzzle-trace sentences used for fine-tuning (easy negatives; all used for the head)


@dataclass
class TrainResult:
    path: Path
    card: dict


def calibration_group(group: str, name: str) -> bool:
    """Whether a document group of the train side is in the calibration part (25%, by hash)."""
    digest = hashlib.sha256(f"cotwatch/{name}/calibration/v1:{group}".encode()).digest()
    return digest[0] < int(256 * CALIBRATION_SHARE)


def with_calibration_part(frame, spec: ClassifierSpec):
    """``frame`` with a boolean ``cal`` column: is the row's document group in the calibration part."""
    import polars as pl

    return frame.with_columns(pl.col("group").map_elements(lambda g: calibration_group(g, spec.data_key),
                                                           return_dtype=pl.Boolean).alias("cal"))


def _grouped_oof(fit, X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold probabilities: ``fit(X, y)`` (a fitted classifier) on the other folds of a
    grouped, stratified split predicts each fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    oof = np.zeros(len(y), dtype=np.float64)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for a, b in cv.split(X, y, groups):
        oof[b] = fit(X[a], y[a]).predict_proba(X[b])[:, 1]
    return oof


def _pick_c(spec: ClassifierSpec, X, y, groups, seed: int) -> tuple[float, dict[str, float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    losses = {}
    for C in spec.c_grid:
        p = _grouped_oof(lambda Xa, ya: LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(Xa, ya),
                         X, y, groups, spec.cv_folds, seed)
        losses[str(C)] = float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))
    return min(spec.c_grid, key=lambda c: losses[str(c)]), losses


def calibrated_head(X_fit, y_fit, X_cal, y_cal, C: float):
    """Class-balanced logistic regression, Platt-scaled on the calibration part, as ONE logistic
    regression (coefficients composed) so that scoring is a single ``predict_proba``."""
    from sklearn.linear_model import LogisticRegression

    base = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(X_fit, y_fit)
    z = base.decision_function(X_cal).reshape(-1, 1)
    platt = LogisticRegression(C=1e6, max_iter=5000).fit(z, y_cal)
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    base.coef_ = base.coef_ * a
    base.intercept_ = base.intercept_ * a + b
    return base


def _static_threshold(lex_mask: np.ndarray, static_prob: np.ndarray, y: np.ndarray, target: float,
                      static_recall: float, max_pass_rate: float = 1.0) -> float:
    """The static stage's threshold from out-of-fold probabilities on the fit part: the union with
    the lexicon keeps recall >= ``target`` and the static model alone keeps >= ``static_recall`` —
    unless that would let more than ``max_pass_rate`` of the negatives through to the transformer
    (the speed budget of cold scoring): then the budget wins, and recall is what it is."""
    pos = y == 1
    grid = sorted(np.unique(np.concatenate([static_prob[pos], [0.0]])), reverse=True)
    union_t = next((float(t) for t in grid if np.mean(lex_mask[pos] | (static_prob[pos] >= t)) >= target), 0.0)
    alone_t = next((float(t) for t in grid if np.mean(static_prob[pos] >= t) >= static_recall), 0.0)
    threshold = min(union_t, alone_t)
    neg, lex_neg = static_prob[~pos], lex_mask[~pos]
    if max_pass_rate < 1.0 and len(neg):
        allowed = int(np.floor(max_pass_rate * len(neg))) - int(lex_neg.sum())  # static-only passes left
        rest = np.sort(neg[~lex_neg])[::-1]
        if allowed <= 0 or len(rest) == 0:
            budget_t = 1.0
        elif allowed >= len(rest):
            budget_t = 0.0
        else:  # pass only what scores above the (allowed+1)-th highest: at most `allowed` of them
            budget_t = float(np.nextafter(rest[allowed], 2.0))
        threshold = max(threshold, min(budget_t, 1.0))
    return threshold


class _Model:
    """What scoring needs during training: encoder, head, cascade (mirrors ``Scorer``)."""

    def __init__(self, encoder: Encoder, head, lexicon: Lexicon, static: StaticEncoder | None, static_head,
                 static_threshold: float, features: SentenceFeatures):
        self.encoder, self.head, self.lexicon, self.features = encoder, head, lexicon, features
        self.static, self.static_head, self.static_threshold = static, static_head, static_threshold
        self.cache = MemoryCache()

    def embed(self, texts: list[str], tick=None) -> np.ndarray:
        return embed(texts, self.encoder, cache=self.cache, progress=tick)

    def first_stage(self, texts: list[str]) -> np.ndarray:
        mask = self.lexicon.candidates(texts)
        if self.static is not None and len(texts):
            mask |= self.static_head.predict_proba(self.static.encode(texts))[:, 1] >= self.static_threshold
        return mask

    def inputs(self, frame, tick=None) -> np.ndarray:
        """The head's input for the sentences of a labelled frame (neighbours from its prev/next)."""
        texts = frame["text"].to_list()
        return self.features.matrix(self.embed(texts, tick), texts, self.features.frame_context(frame))

    def scores(self, frame, tick=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(full model probability, cascade score, stage-1 mask) for the sentences of ``frame``."""
        texts = frame["text"].to_list()
        full = self.head.predict_proba(self.inputs(frame, tick))[:, 1] if texts else np.zeros(0)
        stage1 = self.first_stage(texts)
        return full, np.where(stage1, full, 0.0), stage1


def train(spec: str | ClassifierSpec = "eval_awareness", *, model: str | None = None, out: Path | None = None,
          device: str = "auto", batch_size: int = 64, seed: int = 0, progress: bool = False,
          shared: Path | None = None, external: Path | None = None) -> TrainResult:
    """Train on the corpus's train side, calibrate, evaluate on the held-out side, save the artifact.

    >>> result = train("eval_awareness")                                  # doctest: +SKIP
    >>> result.card["heldout"]["real"]["sentences"]["auroc"]               # doctest: +SKIP
    """
    import polars as pl

    if not isinstance(spec, ClassifierSpec):
        spec = load_spec(spec)
    corpus = load_corpus(spec, shared=shared, external=external)
    frame = with_calibration_part(corpus.frame, spec)
    fit = frame.filter((pl.col("split") == "train") & ~pl.col("cal"))
    cal = frame.filter((pl.col("split") == "train") & pl.col("cal"))
    if fit["label"].sum() == 0 or cal["label"].sum() == 0:
        raise ValueError(f"{spec.name}: both the fit and the calibration parts need positive examples")
    embedding_name = model or spec.embedding
    config = FinetuneConfig.from_spec(spec.finetune)

    # 1. fine-tune the top layers on the fit part (puzzle-trace negatives capped: they are easy)
    tuned = None
    if config is not None:
        rng = np.random.default_rng(seed)
        traces = fit.filter(pl.col("source") == "thinking-traces")
        keep = traces[sorted(rng.choice(traces.height, min(TRACE_CAP, traces.height), replace=False).tolist())]
        ft_rows = pl.concat([fit.filter(pl.col("source") != "thinking-traces"), keep])
        steps = max(1, int(config.epochs * ft_rows.height / config.batch_size))
        with progress_bar(progress, steps, f"fine-tuning {spec.name}") as tick:
            tuned = finetune_layers(ft_rows["text"].to_list(), ft_rows["label"].to_list(), config,
                                    model=embedding_name, device="cpu" if device == "auto" else device, progress=tick)
    encoder = Encoder(embedding_name, device=device, batch_size=batch_size, precision="fp32",
                      tuned=tuned.layers if tuned else None, max_length=config.max_length if config else None)
    lexicon = Lexicon.from_spec(spec)
    features = SentenceFeatures(spec.features, spec.baseline, spec.recall, where=str(spec.path))

    # 2. head on the fit part, C by grouped CV; Platt-scaled on the calibration part
    held = frame.filter(pl.col("split") == "heldout")
    team_ho = frame.filter(pl.col("split") == "team_heldout")
    every = pl.concat([fit, cal, held, team_ho])["text"].unique().to_list()
    probe = _Model(encoder, None, lexicon, None, None, 1.0, features)
    with progress_bar(progress, len(every), f"embedding {spec.name}") as tick:
        probe.embed(every, tick)
    E_fit, E_cal = probe.inputs(fit), probe.inputs(cal)
    y_fit, y_cal = fit["label"].to_numpy(), cal["label"].to_numpy()
    groups_fit = fit["group"].to_numpy()
    C, c_losses = _pick_c(spec, E_fit, y_fit, groups_fit, seed)
    head = calibrated_head(E_fit, y_fit, E_cal, y_cal, C)

    # 3. cascade first stage, fitted on the fit part
    lex_fit = lexicon.candidates(fit["text"].to_list())
    static = StaticEncoder() if spec.static_stage else None
    static_head, static_thr = None, 1.0
    if static is not None:
        S_fit = static.encode(fit["text"].to_list())
        static_oof = _grouped_oof(lambda Xa, ya: make_static_head().fit(Xa, ya), S_fit, y_fit, groups_fit,
                                  spec.cv_folds, seed)
        static_thr = _static_threshold(lex_fit, static_oof, y_fit, spec.target_recall, spec.static_recall,
                                       spec.max_pass_rate)
        static_head = make_static_head().fit(S_fit, y_fit)
    scorer = _Model(encoder, head, lexicon, static, static_head, static_thr, features)
    scorer.cache = probe.cache

    # 4. sentence threshold and transcript decision, on the calibration part
    cal_full, cal_scores, cal_stage1 = scorer.scores(cal)
    cal = cal.with_columns(pl.Series("score", cal_scores))
    cal_docs = corpus_documents(cal)
    t = spec.transcript
    fpr = float(t.get("sentence_fpr", DEFAULT_SENTENCE_FPR))
    alpha = float(t.get("alpha", DEFAULT_ALPHA))
    basis = cal_docs if cal_docs.height and (cal_docs["label"] == 0).sum() else cal
    t_s = max_fpr_threshold(basis["label"].to_numpy(), basis["score"].to_numpy(), fpr, spec.threshold_min,
                            spec.threshold_max)
    decision = TranscriptDecision(t_s, alpha, basis.filter(pl.col("label") == 0)["score"].to_numpy())
    cutoff_basis = None
    if t.get("cutoff", "independent") == "calibrated":
        # the bar on the transcript score, from real unaware training transcripts scored out of fold:
        # the fit part cross-fitted (each fold's head Platt-scaled on the calibration part, under the
        # cascade), the calibration part as scored above
        oof = _grouped_oof(lambda Xa, ya: calibrated_head(Xa, ya, E_cal, y_cal, C), E_fit, y_fit, groups_fit,
                           spec.cv_folds, seed)
        fit_scored = fit.with_columns(pl.Series("score", np.where(scorer.first_stage(fit["text"].to_list()), oof, 0.0)))
        trained = corpus_documents(pl.concat([fit_scored.select(cal.columns), cal], how="vertical_relaxed"))
        kind = "real"
        if trained.filter((pl.col("origin") == "real") & (pl.col("label") == 0))["doc"].n_unique() >= MIN_CUTOFF_BASIS:
            trained = trained.filter(pl.col("origin") == "real")
        else:  # too few real transcripts in this corpus: the team-written ones stand in, and the card says so
            kind = "real and team-written (fewer than %d real)" % MIN_CUTOFF_BASIS
        docs, _ = transcript_outcomes(trained, decision)
        unaware = docs.filter(pl.col("aware") == 0)["transcript_score"].to_numpy()
        decision.cutoff = calibrated_cutoff(unaware, alpha)
        cutoff_basis = {"transcripts": kind, "unaware_transcripts": int(len(unaware)),
                        "aware_transcripts": int((docs["aware"] == 1).sum()),
                        "flagged_unaware": int(np.sum(unaware >= decision.cutoff))}

    # 5. held-out evaluation (reported, never used to choose anything)
    ho_full, ho_scores, ho_stage1 = scorer.scores(held)
    held = held.with_columns(pl.Series("score", ho_scores), pl.Series("full", ho_full),
                             pl.Series("stage1", ho_stage1),
                             pl.Series("baseline", lexicon.score(held["text"].to_list())))
    cal_base = lexicon.score(cal["text"].to_list())
    base_threshold = best_f1_threshold(y_cal, cal_base, 0.0, 1.0)
    heldout = evaluate_frame(held, decision, base_threshold)
    team_full, team_scores, team_stage1 = scorer.scores(team_ho)
    heldout_team = binary_metrics(team_ho["label"].to_numpy(), team_scores, t_s) if team_ho.height else None
    validation = validation_counts(held, heldout, decision,
                                   team_scores[team_ho["label"].to_numpy() == 1] if team_ho.height else None)

    import sklearn
    import skops

    card = {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "spec": str(spec.path.name),
        "spec_path": str(spec.path.resolve()),
        "format": 2,
        "embedding_model": encoder.id,
        "embedding_name": embedding_name if embedding_name != "default" else "default",
        "features": list(spec.features),
        "finetune": None if tuned is None else {**tuned.config.__dict__, "steps": len(tuned.losses),
                                                "final_loss": float(np.mean(tuned.losses[-20:]))},
        "static_model": static.id if static is not None else None,
        "data": {
            "sha256": corpus.data_sha256(),
            "files_sha256": data_files_sha256(spec),
            "split_file": corpus.split_file.name if corpus.split_file else None,
            "split_sha256": corpus.split_sha256,
            "skipped_sources": corpus.skipped,
            "counts": _counts(frame),
        },
        "C": C, "cv_log_loss_by_C": c_losses,
        "threshold": t_s,
        "threshold_policy": f"sentence FPR <= {fpr} on negatives of calibration transcripts",
        "transcript": {"alpha": alpha, "sentence_threshold": t_s, "null_sentences": int(len(decision.null_scores)),
                       "cutoff": decision.cutoff,
                       "cutoff_policy": ("calibrated: at most alpha of the real unaware training transcripts (scored "
                                         "out of fold) reach it, never above 1 - alpha" if cutoff_basis else "1 - alpha"),
                       "cutoff_basis": cutoff_basis,
                       "min_max_score": {str(n): decision.min_max_score(n) for n in (30, 100, 300, 1000)}},
        "calibration": _cal_summary(cal, cal_docs, decision),
        "baseline_threshold": base_threshold,
        "heldout": heldout,
        "heldout_team": heldout_team,
        "cascade": {
            "static_threshold": static_thr, "target_recall": spec.target_recall, "static_recall": spec.static_recall,
            "max_pass_rate": spec.max_pass_rate,
            "stage1_recall_calibration": float(np.mean(cal_stage1[y_cal == 1])),
            "stage1_recall_heldout": float(held.filter(pl.col("label") == 1)["stage1"].mean() or 0.0),
            "stage1_pass_rate_heldout_negatives": float(held.filter(pl.col("label") == 0)["stage1"].mean() or 0.0),
            "auroc_loss": _auroc_loss(held),
        },
        "validation_transcripts": validation,
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                     "skops": skops.__version__},
    }
    path = Path(out) if out else user_dir() / f"{spec.name}.skops"
    if path.suffix != ".skops":
        path = path / f"{spec.name}.skops"
    save_artifact(
        path, card=card, head=head, static_head=static_head, static_threshold=static_thr, threshold=t_s,
        baseline=spec.baseline, recall=spec.recall,
        validation={"labels": held["label"].to_numpy().astype(np.int8), "scores": ho_scores.astype(np.float32),
                    "candidate": ho_stage1.astype(bool)},
        tuned_layers=tuned.layers if tuned else None, max_length=config.max_length if config else None,
        decision=decision, features=spec.features,
    )
    return TrainResult(path, card)


MIN_AWARE_DOCUMENTS = 5


def validation_counts(held, heldout: dict, decision: TranscriptDecision,
                      extra_positive_scores: np.ndarray | None = None) -> dict | None:
    """Transcript-level outcomes on held-out documents: the error rates ``awareness`` corrects with
    when the user has no labels. With fewer than MIN_AWARE_DOCUMENTS aware documents, the true
    positive side comes from held-out positive sentences each placed in a document of median
    length (flagged when it passes that length's threshold) — recorded as the ``basis``."""
    import polars as pl

    docs = heldout["transcripts"].get("all")
    if docs is None:
        return None
    counts = {k: docs[k] for k in ("tp", "fn", "fp", "tn")}
    counts["basis"] = "held-out documents"
    if docs["aware"] < MIN_AWARE_DOCUMENTS:
        lengths = corpus_documents(held).group_by("doc").len()["len"].to_numpy()
        need = decision.min_max_score(int(np.median(lengths)) if len(lengths) else 100)
        positives = held.filter(pl.col("label") == 1)["score"].to_numpy()
        if extra_positive_scores is not None:  # the team-written held-out file, when real ones are few
            positives = np.concatenate([positives, extra_positive_scores])
        if len(positives):
            counts["tp"] = int(np.sum(positives >= need))
            counts["fn"] = int(np.sum(positives < need))
            counts["basis"] = (f"false flags on held-out documents; detection from {len(positives)} held-out positive "
                               f"sentences at the threshold of a median-length document ({int(np.median(lengths)) if len(lengths) else 100} sentences)")
    return counts


def corpus_documents(frame):
    """The sentences of whole documents (transcripts, scratchpads, traces) in a scored frame."""
    import polars as pl

    return frame.filter(~pl.col("source").str.starts_with("team:") & (pl.col("source") != "quotes")
                        & (pl.col("source") != "imported"))


def _counts(frame) -> dict:
    import polars as pl

    rows = frame.group_by("source", "split").agg(pl.len().alias("sentences"), pl.col("label").sum().alias("positive"),
                                                 pl.col("doc").n_unique().alias("documents")).sort("source", "split")
    return {f"{r['source']}|{r['split']}": {k: int(r[k]) for k in ("sentences", "positive", "documents")}
            for r in rows.iter_rows(named=True)}


def _cal_summary(cal, cal_docs, decision: TranscriptDecision) -> dict:
    out = {"sentences": binary_metrics(cal["label"].to_numpy(), cal["score"].to_numpy(), decision.sentence_threshold)}
    if cal_docs.height:
        docs, _ = transcript_outcomes(cal_docs, decision)
        out["transcripts"] = _transcript_metrics(docs)
    return out


def _auroc_loss(held) -> float:
    y = held["label"].to_numpy()
    if not 0 < y.sum() < len(y):
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, held["full"].to_numpy()) - roc_auc_score(y, held["score"].to_numpy()))


def _transcript_metrics(docs) -> dict:
    y = docs["aware"].to_numpy().astype(int)
    flag = docs["flagged"].to_numpy().astype(bool)
    m = binary_metrics(y, docs["transcript_score"].to_numpy(), 0.5)  # auroc from the transcript score
    tp, fp = int(np.sum(flag & (y == 1))), int(np.sum(flag & (y == 0)))
    fn, tn = int(np.sum(~flag & (y == 1))), int(np.sum(~flag & (y == 0)))
    return {"n": int(len(y)), "aware": int(y.sum()), "flagged": int(flag.sum()),
            "aware_share": float(y.mean()) if len(y) else float("nan"),
            "flagged_share": float(flag.mean()) if len(y) else float("nan"),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "false_flag_rate": fp / (fp + tn) if fp + tn else float("nan"),
            "auroc": m["auroc"], "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def evaluate_frame(frame, decision: TranscriptDecision, base_threshold: float | None = None) -> dict:
    """Held-out metrics of a scored sentence frame (columns ``source, origin, doc, label, score``):
    per source and pooled over real reasoning, at sentence level (flagged = above the sentence
    threshold, and within documents only inside flagged transcripts) and at transcript level."""
    import polars as pl

    docs_frame = corpus_documents(frame)
    doc_rows, doc_sent = transcript_outcomes(docs_frame, decision) if docs_frame.height else (None, None)
    flags = frame.join(doc_sent.select("doc", "idx", "flag"), on=["doc", "idx"], how="left") if doc_sent is not None \
        else frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias("flag"))
    flags = flags.with_columns(pl.when(pl.col("flag").is_null()).then(pl.col("score") >= decision.sentence_threshold)
                               .otherwise(pl.col("flag")).alias("flag"))

    def sentence_metrics(f) -> dict:
        y, s, flag = f["label"].to_numpy(), f["score"].to_numpy(), f["flag"].to_numpy().astype(bool)
        m = binary_metrics(y, s, decision.sentence_threshold)
        tp, fp, fn = int(np.sum(flag & (y == 1))), int(np.sum(flag & (y == 0))), int(np.sum(~flag & (y == 1)))
        m.update({"precision": tp / (tp + fp) if tp + fp else float("nan"),
                  "recall": tp / (tp + fn) if tp + fn else float("nan"), "tp": tp, "fp": fp, "fn": fn,
                  "tn": int(np.sum(~flag & (y == 0))), "positives": int(y.sum())})
        if base_threshold is not None and "baseline" in f.columns:
            m["baseline"] = binary_metrics(y, f["baseline"].to_numpy(), base_threshold)
        return m

    out: dict = {"sentences": {}, "transcripts": {}, "real": {}}
    for (source,), part in flags.group_by(["source"], maintain_order=True):
        out["sentences"][source] = sentence_metrics(part)
    real = flags.filter(pl.col("origin") == "real")
    if real.height:
        out["real"]["sentences"] = sentence_metrics(real)
    if doc_rows is not None:
        for (source,), part in doc_rows.group_by(["source"], maintain_order=True):
            out["transcripts"][source] = _transcript_metrics(part)
        out["transcripts"]["all"] = _transcript_metrics(doc_rows)
        real_docs = doc_rows.join(docs_frame.select("doc", "origin").unique(), on="doc").filter(pl.col("origin") == "real")
        if real_docs.height:
            out["real"]["transcripts"] = _transcript_metrics(real_docs)
    return out


def evaluate(classifier: str = "eval_awareness", *, device: str = "auto", batch_size: int = 64,
             shared: Path | None = None, external: Path | None = None):
    """Re-score the held-out side of the corpus with a saved artifact: one row per (level, source),
    plus whether the corpus changed since training (``data_changed``)."""
    import polars as pl

    from cotwatch.classifiers.scoring import Scorer

    art: Artifact = load_artifact(classifier)
    spec = _spec_of(art)
    corpus = load_corpus(spec, shared=shared, external=external)
    held = corpus.side("heldout")
    scorer = Scorer(art, device=device, batch_size=batch_size, precision="fp32")  # as the card was computed
    texts = held["text"].to_list()
    scores, cand = scorer.score(texts, context=scorer.features.frame_context(held))
    held = held.with_columns(pl.Series("score", scores), pl.Series("baseline", scorer.lexicon.score(texts)))
    result = evaluate_frame(held, scorer.decision, art.card.get("baseline_threshold"))
    return evaluation_rows(art.name, result).with_columns(
        pl.lit(corpus.data_sha256() != art.card.get("data", {}).get("sha256")).alias("data_changed"),
        pl.lit("; ".join(corpus.skipped) or None, dtype=pl.String).alias("skipped"))


def evaluation_rows(name: str, result: dict):
    """A flat frame of an evaluation dict: classifier, level, source, n, positives, precision, recall, auroc…"""
    import polars as pl

    rows = []
    for level in ("sentences", "transcripts"):
        for source, m in result.get(level, {}).items():
            rows.append(_row(name, level, source, m))
        if level in result.get("real", {}):
            rows.append(_row(name, level, "real (pooled)", result["real"][level]))
    return pl.DataFrame(rows, schema={"classifier": pl.String, "level": pl.String, "source": pl.String, "n": pl.Int64,
                                      "positives": pl.Int64, "flagged": pl.Int64, "precision": pl.Float64,
                                      "recall": pl.Float64, "auroc": pl.Float64, "flagged_share": pl.Float64,
                                      "aware_share": pl.Float64})


def _row(name: str, level: str, source: str, m: dict) -> dict:
    positives = m.get("aware", m.get("positives", m.get("tp", 0) + m.get("fn", 0)))
    flagged = m.get("flagged", m.get("tp", 0) + m.get("fp", 0))
    return {"classifier": name, "level": level, "source": source, "n": m.get("n"), "positives": positives,
            "flagged": flagged, "precision": _num(m.get("precision")), "recall": _num(m.get("recall")),
            "auroc": _num(m.get("auroc")), "flagged_share": _num(m.get("flagged_share")),
            "aware_share": _num(m.get("aware_share"))}


def _num(x):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def train_summary(card: dict):
    """The figures `classify train` prints: held-out metrics per level and source."""
    return evaluation_rows(card["name"], card["heldout"])


def compare(classifiers: list[str]):
    """Side by side held-out metrics of several artifacts (from their cards; same split required)."""
    import polars as pl

    frames, splits = [], {}
    for name in classifiers:
        art = load_artifact(name)
        splits[name] = art.card.get("data", {}).get("split_sha256")
        frames.append(train_summary(art.card))
    if len(set(splits.values())) > 1:
        from cotwatch.analytics.errors import InputError

        raise InputError("these artifacts were evaluated on different document splits: "
                         + ", ".join(f"{k}: {(v or 'none')[:12]}" for k, v in splits.items()))
    return pl.concat(frames)


def list_classifiers():
    """Artifacts (name, where, version, threshold, real held-out sentence AUROC and transcript
    precision/recall, path) plus untrained specs."""
    import polars as pl

    from cotwatch.classifiers.artifacts import available
    from cotwatch.classifiers.spec import shipped_specs

    rows = []
    for entry in available():
        try:
            art = load_artifact(entry["path"])
        except Exception as exc:  # a broken file is listed, not fatal
            rows.append({**entry, "version": None, "threshold": None, "heldout_auroc": None,
                         "transcript_precision": None, "transcript_recall": None, "note": str(exc)})
            continue
        real = art.card.get("heldout", {}).get("real", {})
        sent, trans = real.get("sentences", {}), real.get("transcripts", {})
        rows.append({**entry, "version": art.version, "threshold": art.threshold, "heldout_auroc": _num(sent.get("auroc")),
                     "transcript_precision": _num(trans.get("precision")), "transcript_recall": _num(trans.get("recall")),
                     "note": "" if real else "no real held-out data in its card"})
    trained = {r["name"] for r in rows}
    for name in shipped_specs():
        if name not in trained:
            rows.append({"name": name, "where": "spec only", "path": "", "version": None, "threshold": None,
                         "heldout_auroc": None, "transcript_precision": None, "transcript_recall": None,
                         "note": f"run `cotwatch classify train {name}`"})
    return pl.DataFrame(rows, schema={"name": pl.String, "where": pl.String, "path": pl.String, "version": pl.String,
                                      "threshold": pl.Float64, "heldout_auroc": pl.Float64,
                                      "transcript_precision": pl.Float64, "transcript_recall": pl.Float64,
                                      "note": pl.String})


def _spec_of(art: Artifact) -> ClassifierSpec:
    """The spec an artifact was trained from: its recorded path if still there, else the shipped one."""
    recorded = Path(art.card.get("spec_path", ""))
    if recorded.suffix == ".toml" and recorded.exists():
        return load_spec(recorded)
    return load_spec(art.card["spec"].removesuffix(".toml"))
