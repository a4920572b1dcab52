"""Held-out metrics of an eval-awareness artifact on one external real source, by subset.

For a held-out-only source (``agentic_v3``, ``agentic_v4``: real agentic-misalignment transcripts
of several frontier models, labelled by hand), the figures a user's run would be judged by —
flagged share of transcripts against the truly aware share, transcript AUROC, flagged-sentence
precision — overall and by model, by prompt condition (``bare/baseline``: no evaluation cue in the
prompt, so any awareness is spontaneous), and for the documents whose source file has no document
on the training side of the split. Run it once per frozen split; the split file says which.

    python bench/heldout_subsets.py --source agentic_v3 --external DIR [--classifier PATH] [--csv OUT]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def main(argv: list[str] | None = None):
    import polars as pl

    from cotwatch.classifiers.artifacts import load_artifact
    from cotwatch.classifiers.corpus import load_corpus
    from cotwatch.classifiers.scoring import Scorer
    from cotwatch.classifiers.training import _spec_of, evaluate_frame

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, help="external source name (classifiers/data/.../real/external/NAME.jsonl)")
    p.add_argument("--external", required=True, help="folder of the external texts (one folder per source)")
    p.add_argument("--classifier", default="eval_awareness", help="artifact path or name (default: the shipped one)")
    p.add_argument("--csv", default=None, help="also write the table (and OUT_docs.csv per document)")
    args = p.parse_args(argv)

    art = load_artifact(args.classifier)
    spec = _spec_of(art)
    corpus = load_corpus(spec, external=Path(args.external))
    name = f"external:{args.source}"
    held = corpus.frame.filter((pl.col("split") == "heldout") & (pl.col("source") == name))
    if held.height == 0:
        raise SystemExit(f"{name}: no held-out documents (texts missing under {args.external}/{args.source}/, "
                         f"or the split {corpus.split_file} does not hold them out)")
    split = json.loads(Path(corpus.split_file).read_text(encoding="utf-8"))["documents"]
    train_groups = {v["group"] for v in split.values() if v["split"] == "train"}
    real = spec.data_dir() / "real" / "external"
    meta = {f"external:{d['doc']}": d for d in json.loads((real / f"{args.source}.documents.json").read_text("utf-8"))}

    def file_of(doc: str) -> str:
        m = re.search(r"([^:\s]+) line \d+", meta[doc]["source"])  # the path after the commit
        return m.group(1) if m else meta[doc]["source"]

    unseen = [d for d in meta if not any(g.endswith(file_of(d)) for g in train_groups)]
    scorer = Scorer(art, precision="fp32")  # as training and the card
    held = held.with_columns(pl.Series("score", scorer.score(held["text"].to_list(), context=scorer.features.frame_context(held))[0]))
    rows = []

    def add(subset: str, docs: list[str] | None = None) -> None:
        f = held if docs is None else held.filter(pl.col("doc").is_in(docs))
        if f.height == 0:
            return
        r = evaluate_frame(f, scorer.decision)
        s, t = r["real"]["sentences"], r["real"]["transcripts"]
        rows.append({"subset": subset, "transcripts": t["n"], "aware": t["aware"], "flagged": t["flagged"],
                     "aware_share": t["aware_share"], "flagged_share": t["flagged_share"],
                     "t_precision": t["precision"], "t_recall": t["recall"], "t_auroc": t["auroc"],
                     "sentences": s["n"], "positives": s["positives"], "s_flagged": s["tp"] + s["fp"],
                     "s_precision": s["precision"], "s_recall": s["recall"], "s_auroc": s["auroc"]})

    add(f"all {args.source}")
    add("source file with no training document", unseen)
    for key in ("condition", "model"):
        for value in sorted({m[key] for m in meta.values()}):
            add(f"{key} {value}", [d for d in meta if meta[d][key] == value])
    out = pl.DataFrame(rows).with_columns(pl.selectors.float().round(3))
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=250):
        print(f"{art.name} {art.card.get('version')} on {name} (split {Path(corpus.split_file).name}, "
              f"sha256 {corpus.split_sha256[:12]}…)")
        print(out)
    if args.csv:
        out.write_csv(args.csv)
        docs = held.group_by("doc").agg(pl.col("label").max().alias("aware"), pl.col("score").max().alias("max_score"),
                                        pl.len().alias("sentences"))
        docs = docs.with_columns(pl.Series("flagged", scorer.decision.flags(docs["max_score"].to_numpy(),
                                                                             docs["sentences"].to_numpy())))
        docs.sort("doc").write_csv(args.csv.removesuffix(".csv") + "_docs.csv")
    return out


if __name__ == "__main__":
    main()
