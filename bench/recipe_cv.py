"""How eval_awareness 2.3's sentence features were chosen: grouped cross-validation over labelled
documents, never the fresh held-out source.

Each fold mirrors ``cotwatch classify train``: the training folds are cut by document group into a
fit part (75%) and a calibration part (25%, same hash as training); the head is fitted and Platt-
scaled, the sentence threshold and the transcript decision are set on the calibration part, and the
test fold is scored. Reported over real sentences, with the product's flag rule (a sentence counts
as flagged only inside a flagged transcript), and over real transcripts. No cascade (every sentence
scored), so the candidates compare as models.

    python bench/recipe_cv.py --external DIR --exclude external:agentic_v6 [--only embedding,shipped]

Candidates: ``embedding`` (2.2's head), ``cues`` (+ baseline-pattern matches and the recall gate),
``shipped`` (+ every pattern and the neighbours' cues: the features of the spec),
``context_embedding`` (+ the mean MiniLM embedding of the two neighbours: needs the neighbours
through the transformer, so it costs cold speed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

CANDIDATES = ("embedding", "cues", "shipped", "context_embedding")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--external", default=os.environ.get("COTWATCH_EXTERNAL_DATA"))
    ap.add_argument("--exclude", action="append", default=[], help="a source to leave out (repeatable)")
    ap.add_argument("--only", default=",".join(CANDIDATES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)

    import polars as pl
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    from cotwatch.classifiers.corpus import load_corpus
    from cotwatch.classifiers.decision import TranscriptDecision, transcript_outcomes
    from cotwatch.classifiers.embeddings import Encoder, MemoryCache, embed
    from cotwatch.classifiers.features import SentenceFeatures
    from cotwatch.classifiers.metrics import max_fpr_threshold
    from cotwatch.classifiers.spec import load_spec
    from cotwatch.classifiers.training import (
        DEFAULT_SENTENCE_FPR,
        calibrated_head,
        corpus_documents,
        with_calibration_part,
    )

    spec = load_spec("eval_awareness")
    corpus = load_corpus(spec, external=Path(args.external) if args.external else None)
    f = corpus.frame.filter((pl.col("split") != "team_heldout") & ~pl.col("source").is_in(args.exclude))
    f = f.with_columns(pl.col("group").str.replace(r"^v\d+:", "").alias("group"))  # a source file is one group
    f = with_calibration_part(f, spec)
    texts = f["text"].to_list()
    print(f"{f.height} sentences, {f['doc'].n_unique()} documents; excluded: {args.exclude or 'nothing'}", flush=True)
    cache = MemoryCache()
    E = embed(texts, Encoder(device="cpu"), cache=cache)
    full = SentenceFeatures(("embedding", "lexicon", "neighbours"), spec.baseline, spec.recall)
    gate = SentenceFeatures(("embedding", "neighbours"), spec.baseline, spec.recall)

    def build(name: str) -> np.ndarray:
        if name == "embedding":
            return E
        if name == "cues":
            return np.hstack([E, gate.cues(texts).astype(np.float32)])
        if name == "shipped":
            return full.matrix(E, texts, full.frame_context(f))
        if name == "context_embedding":
            index = {t: i for i, t in enumerate(texts)}
            zero = np.zeros(E.shape[1], np.float32)

            def side(col: str) -> np.ndarray:
                return np.stack([E[index[t]] if t in index else (embed([t], Encoder(device="cpu"), cache=cache)[0] if t else zero)
                                 for t in f[col].to_list()])
            return np.hstack([E, gate.cues(texts).astype(np.float32), 0.5 * (side("prev") + side("next"))])
        raise SystemExit(f"unknown candidate {name!r}")

    y = f["label"].to_numpy()
    groups = f["group"].to_numpy()
    real = (f["origin"] == "real").to_numpy()
    is_doc = corpus_documents(f.with_row_index("i"))["i"].to_numpy()
    doc_mask = np.zeros(len(f), bool)
    doc_mask[is_doc] = True
    results: dict = {"excluded": args.exclude, "sentences": f.height, "documents": f["doc"].n_unique(), "models": {}}
    for name in [c for c in args.only.split(",") if c]:
        X = build(name)
        oof, flag, docs = np.zeros(len(y)), np.zeros(len(y), bool), []
        for a, b in StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=0).split(X, y, groups):
            cal = f["cal"].to_numpy()[a]
            fit_i, cal_i = a[~cal], a[cal]
            head = calibrated_head(X[fit_i], y[fit_i], X[cal_i], y[cal_i], 16.0)
            basis = corpus_documents(f[cal_i].with_columns(pl.Series("score", head.predict_proba(X[cal_i])[:, 1])))
            t = max_fpr_threshold(basis["label"].to_numpy(), basis["score"].to_numpy(), DEFAULT_SENTENCE_FPR,
                                  spec.threshold_min, spec.threshold_max)
            decision = TranscriptDecision(t, 0.05, basis.filter(pl.col("label") == 0)["score"].to_numpy())
            oof[b] = head.predict_proba(X[b])[:, 1]
            test = f[b].with_columns(pl.Series("score", oof[b]), pl.Series("i", b))
            in_docs = corpus_documents(test)
            flag[b] = oof[b] >= t
            if in_docs.height:
                d, sent = transcript_outcomes(in_docs, decision)
                docs.append(d.join(in_docs.select("doc", "origin").unique(), on="doc"))
                flag[sent["i"].to_numpy()] = sent["flag"].to_numpy()
        tp, fp, fn = (int(np.sum(flag & (y == 1) & real)), int(np.sum(flag & (y == 0) & real)),
                      int(np.sum(~flag & (y == 1) & real)))
        d = pl.concat(docs).filter(pl.col("origin") == "real")
        dtp = int((d["flagged"] & d["aware"].cast(pl.Boolean)).sum())
        dfp = int((d["flagged"] & ~d["aware"].cast(pl.Boolean)).sum())
        dfn = int((~d["flagged"] & d["aware"].cast(pl.Boolean)).sum())
        row = {"sentence_auroc": round(float(roc_auc_score(y[real], oof[real])), 3),
               "sentence_precision": round(tp / max(tp + fp, 1), 3), "sentence_recall": round(tp / max(tp + fn, 1), 3),
               "transcripts": d.height, "transcript_precision": round(dtp / max(dtp + dfp, 1), 3),
               "transcript_recall": round(dtp / max(dtp + dfn, 1), 3), "features": int(X.shape[1])}
        results["models"][name] = row
        print(f"{name:18s} real sentences: AUROC {row['sentence_auroc']:.3f} P {row['sentence_precision']:.3f} "
              f"R {row['sentence_recall']:.3f} | real transcripts ({d.height}): P {row['transcript_precision']:.3f} "
              f"R {row['transcript_recall']:.3f}", flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
