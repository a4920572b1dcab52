"""Benchmark: eval-awareness classification throughput, plain encode vs cotwatch end to end.

Prints, in one run, on a generated RL run (cotwatch.analytics.synth.generator) ingested into a fresh store:

1. plain ``SentenceTransformer.encode`` sentences/s on a sample of the same reasoning sentences;
2. ``classify apply`` reasoning sentences/s end to end, **cold** (fresh store, empty embedding
   cache, the transformer loaded inside the timing) and **warm** (``--rescore``: every embedding
   already cached) — with distinct-sentence counts, since repeated sentences are part of the win;
3. peak RSS of the process after each phase;
4. the cascade: its first-stage recall on the held-out positives (model card) and on the run's
   ground-truth aware sentences, the share of sentences it sends to the transformer, and the
   AUROC the cascade loses against scoring everything (held-out).

    python bench/classify.py                      # default: 12 checkpoints x 4 envs x 50, generated
    python bench/classify.py --corpus real        # real reasoning: ../shared/data (+ --external DIR)
    python bench/classify.py --per-env 100 --json out.json

The shipped eval_awareness artifact is used unless ``--classifier`` names another one (``--train``
trains a fresh one into a temporary $COTWATCH_HOME first). Runs offline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_real_corpus(path: Path, external: str | None) -> int:
    """Every real labelled document (scratchpads, traces, external transcripts) as one JSONL record."""
    from cotwatch.classifiers.corpus import default_shared_data, shared_document_texts

    shared = default_shared_data()
    if shared is None:
        raise SystemExit("--corpus real needs ../shared/data (or $COTWATCH_SHARED_DATA)")
    texts = shared_document_texts(shared)
    if external:
        # one folder per source (often symlinks: Path.rglob does not follow them)
        for source in sorted(p for p in Path(external).iterdir() if p.is_dir()):
            for f in sorted(source.glob("*.txt")):
                texts[f"external/{source.name}/{f.stem}"] = f.read_text(encoding="utf-8")
    with path.open("w", encoding="utf-8") as fh:
        for i, (doc, text) in enumerate(sorted(texts.items())):
            fh.write(json.dumps({"id": doc, "run": "real", "step": i % 3, "environment": doc.split("/")[0],
                                 "reasoning": text}, ensure_ascii=False) + "\n")
    return len(texts)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", type=int, default=12)
    p.add_argument("--per-env", type=int, default=50, help="transcripts per checkpoint per environment")
    p.add_argument("--sample", type=int, default=2000, help="sentences for the plain-encode baseline")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--classifier", default="eval_awareness", help="artifact path or name (default: the shipped one)")
    p.add_argument("--train", action="store_true", help="train a fresh eval_awareness first and benchmark it")
    p.add_argument("--corpus", choices=("synthetic", "real"), default="synthetic",
                   help="synthetic: a generated RL run; real: the scratchpads and traces of ../shared/data "
                        "(and the external transcripts of --external), each document one transcript")
    p.add_argument("--external", default=None, help="folder of the external real transcripts (see classifiers/data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", dest="json_out", default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)

    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    work = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    # never train into (or read from) the user's own $COTWATCH_HOME
    shipped = None
    if not args.train and os.sep not in args.classifier and not args.classifier.endswith(".skops"):
        from cotwatch.classifiers.artifacts import shipped_dir
        shipped = str(shipped_dir() / f"{args.classifier}.skops")
    os.environ["COTWATCH_HOME"] = str(work / "home")
    figures: dict = {"checkpoints": args.checkpoints, "per_env": args.per_env, "batch_size": args.batch_size,
                     "cpus": os.cpu_count()}

    classifier = shipped or args.classifier
    figures["corpus"] = args.corpus
    if args.train:
        from cotwatch.classifiers.training import train

        t = time.perf_counter()
        classifier = str(train("eval_awareness", device="cpu", batch_size=args.batch_size).path)
        figures["train_seconds"] = round(time.perf_counter() - t, 1)
        # a fresh process would not have the transformer loaded: drop it so "cold" really is cold
        from cotwatch.classifiers import embeddings

        embeddings._load_sentence_transformer.cache_clear()
        embeddings._load_static.cache_clear()

    jsonl = work / "run.jsonl"
    if args.corpus == "synthetic":
        synth.write_jsonl(jsonl, checkpoints=args.checkpoints, transcripts_per_checkpoint=args.per_env, seed=args.seed)
    else:
        write_real_corpus(jsonl, args.external)
    db = work / "store.duckdb"
    with Store.open(db, read_only=False) as store:
        ingest_paths(store, [jsonl], count_terms=False)
        texts = [r[0] for r in store.rows(
            "select text from segments where kind in ('reasoning', 'reasoning_summary') and not redacted")]
        aware_truth = [s for r in store.rows("select metadata->>'$.synthetic.aware_sentences' from transcripts")
                       for s in json.loads(r[0] or "[]")]
    figures["rss_after_ingest_mb"] = round(peak_rss_mb(), 1)

    # -- cotwatch end to end, cold then warm -----------------------------------------------------
    from cotwatch.classifiers.applying import apply
    from cotwatch.classifiers.artifacts import load_artifact
    from cotwatch.classifiers.scoring import Scorer

    with Store.open(db, read_only=False) as store:
        t = time.perf_counter()
        scorer = Scorer(load_artifact(classifier), device="cpu", batch_size=args.batch_size)
        cold = apply(store, classifier, device="cpu", batch_size=args.batch_size, scorer=scorer)
        cold_s = time.perf_counter() - t
        figures["rss_after_cold_mb"] = round(peak_rss_mb(), 1)
        t = time.perf_counter()
        warm = apply(store, classifier, device="cpu", batch_size=args.batch_size, scorer=scorer, rescore=True)
        warm_s = time.perf_counter() - t
        figures["rss_after_warm_mb"] = round(peak_rss_mb(), 1)
    figures.update({
        "transcripts": cold.transcripts,
        "sentences": cold.sentences,
        "distinct_sentences": cold.unique_sentences,
        "candidates_distinct": cold.candidates,
        "candidate_share_of_distinct": round(cold.candidates / max(cold.unique_sentences, 1), 4),
        "encoded_cold": cold.encoded,
        "cold_seconds": round(cold_s, 2),
        "cold_sentences_per_s": round(cold.sentences / cold_s, 1),
        "cold_distinct_per_s": round(cold.unique_sentences / cold_s, 1),
        "cold_stage_seconds": {k: round(v, 2) for k, v in cold.stage_seconds.items()},
        "warm_seconds": round(warm_s, 2),
        "warm_encoded": warm.encoded,
        "warm_sentences_per_s": round(warm.sentences / warm_s, 1),
        "warm_stage_seconds": {k: round(v, 2) for k, v in warm.stage_seconds.items()},
    })

    # -- plain SentenceTransformer.encode on a sample of the same sentences ------------------------
    from cotwatch.classifiers.embeddings import _load_sentence_transformer, resolve_precision
    from cotwatch.classifiers.sentences import split_many

    _, _, _, sentences = split_many(texts)
    rnd = random.Random(args.seed)
    sample = rnd.sample(sentences, min(args.sample, len(sentences)))
    model = _load_sentence_transformer("default", "cpu")
    model.encode(sample[:64], batch_size=args.batch_size)  # warm-up (allocations, lazy init)
    t = time.perf_counter()
    model.encode(sample, batch_size=args.batch_size, convert_to_numpy=True)
    plain_s = time.perf_counter() - t
    figures["plain_encode_sentences_per_s"] = round(len(sample) / plain_s, 1)
    figures["rss_peak_mb"] = round(peak_rss_mb(), 1)
    figures["cold_speedup_vs_plain"] = round(figures["cold_sentences_per_s"] / figures["plain_encode_sentences_per_s"], 1)
    figures["warm_speedup_vs_plain"] = round(figures["warm_sentences_per_s"] / figures["plain_encode_sentences_per_s"], 1)

    # -- cascade recall ------------------------------------------------------------------------------
    card = scorer.artifact.card
    stage1 = scorer.first_stage(aware_truth) if aware_truth else []
    figures.update({
        "cascade_recall_heldout": card["cascade"]["stage1_recall_heldout"],
        "flagged_transcripts": cold.flagged_transcripts,
        "cascade_auroc_loss_heldout": round(card["cascade"]["auroc_loss"], 4),
        "cascade_recall_run_aware_sentences": round(float(sum(stage1)) / max(len(aware_truth), 1), 4),
        "run_aware_sentences": len(aware_truth),
        "encoder_precision": resolve_precision(None, "cpu"),
    })

    f = figures
    print(f"corpus: {f['corpus']}; {f['flagged_transcripts']} transcripts flagged")
    print(f"run: {f['transcripts']} transcripts, {f['sentences']} reasoning sentences "
          f"({f['distinct_sentences']} distinct), {f['cpus']} CPUs, batch {f['batch_size']}, "
          f"cotwatch encodes in {f['encoder_precision']} (plain encode: fp32)")
    print(f"plain SentenceTransformer.encode   {f['plain_encode_sentences_per_s']:>10,.0f} sentences/s")
    print(f"classify apply, cold (incl. load)  {f['cold_sentences_per_s']:>10,.0f} sentences/s "
          f"({f['cold_speedup_vs_plain']}x plain; {f['cold_distinct_per_s']:,.0f} distinct/s; "
          f"{f['encoded_cold']} encoded)  stages {f['cold_stage_seconds']}")
    print(f"classify apply, warm (cached)      {f['warm_sentences_per_s']:>10,.0f} sentences/s "
          f"({f['warm_speedup_vs_plain']}x plain; {f['warm_encoded']} encoded)  stages {f['warm_stage_seconds']}")
    print(f"cascade: {f['candidate_share_of_distinct']:.1%} of distinct sentences reach the transformer; "
          f"first-stage recall {f['cascade_recall_heldout']:.3f} on held-out positives, "
          f"{f['cascade_recall_run_aware_sentences']:.3f} on the run's {f['run_aware_sentences']} aware sentences; "
          f"AUROC loss {f['cascade_auroc_loss_heldout']:+.4f}")
    print(f"peak RSS: ingest {f['rss_after_ingest_mb']:.0f} MB, after cold {f['rss_after_cold_mb']:.0f} MB, "
          f"after warm {f['rss_after_warm_mb']:.0f} MB, overall {f['rss_peak_mb']:.0f} MB")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
