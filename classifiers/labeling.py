"""Active learning: pick the sentences most worth labelling, and take labels back in.

``export_for_labelling`` takes the distinct candidate sentences of the store closest to the
classifier's threshold (most uncertain), skips any already labelled, and among the ``pool``
most uncertain picks ``n`` diverse ones by greedy farthest-point selection on their cached
embeddings (so a hundred near-copies of one template cost one label, not a hundred).
It writes JSONL lines ``{"id", "text", "score", "label": null, "classifier", "transcript_id",
"run", "step"}``; fill in ``label`` with 0 or 1 following ``classifiers/data/GUIDELINES.md``.

``import_labels`` reads such a file (lines with a null label are skipped), validates every line
and appends the labels to ``$COTWATCH_HOME/labels/<classifier>.txt``, which ``classify train``
adds to the training split — or, with ``split="heldout"``, to ``<classifier>.heldout.txt``, which
joins the held-out split that validates the model and feeds the prevalence correction.
Re-importing is idempotent; a sentence can never be in both splits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from cotwatch.analytics.errors import InputError, NothingToReport
from cotwatch.analytics.store.atomic import atomic_open
from cotwatch.analytics.store.sqlfiles import load_sql


def _labelled_texts(spec) -> set[str]:
    from cotwatch.classifiers.spec import heldout_files, read_labelled, training_files

    return {t for f in training_files(spec) + heldout_files(spec) for t in read_labelled(f).texts}


def export_for_labelling(store, n: int, out: str | os.PathLike[str], *, classifier: str = "eval_awareness",
                         run: str | None = None, pool: int | None = None):
    """Write the ``n`` most uncertain, diverse unlabelled sentences to ``out``; returns a polars frame of them."""
    import polars as pl
    from cotwatch.classifiers.embeddings import StoreCache, text_hashes
    from cotwatch.classifiers.spec import load_spec

    if n < 1:
        raise InputError("--n must be at least 1")
    if run is not None:
        store.require_run(run)
    rows = store.rows(load_sql("latest_classifier", __package__), {"name": classifier, "run": run})
    if not rows:
        raise NothingToReport(f"no {classifier} results in {store.path}; run `cotwatch classify apply` first")
    cid, threshold, _, card = rows[0]
    card = json.loads(card) if isinstance(card, str) else card
    spec_path = Path(card.get("spec_path", ""))
    spec = load_spec(spec_path if spec_path.suffix == ".toml" and spec_path.exists()
                     else card["spec"].removesuffix(".toml"))
    pool = pool or max(10 * n, 200)
    cands = store.frame(load_sql("uncertain_sentences", __package__),
                        {"classifier_id": cid, "run": run, "threshold": threshold, "limit": pool + 1000})
    known = _labelled_texts(spec)
    cands = cands.filter(~pl.col("text").is_in(list(known))).head(pool)
    if cands.height == 0:
        raise NothingToReport("no unlabelled candidate sentences to export")
    texts = cands["text"].to_list()
    mask, vecs = StoreCache(store).get(card["embedding_model"], np.unique(text_hashes(texts)))
    chosen = _diverse(texts, vecs if mask.all() else None, min(n, len(texts)))
    picked = cands[chosen].with_columns(
        pl.Series("id", [f"{h & 0xFFFFFFFFFFFF:012x}" for h in text_hashes([texts[i] for i in chosen]).tolist()]),
        pl.lit(None, dtype=pl.Int8).alias("label"),
        pl.lit(classifier).alias("classifier"),
    ).select("id", "text", "score", "label", "classifier", "transcript_id", "run", "step")
    with atomic_open(out) as fh:
        for rec in picked.iter_rows(named=True):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return picked


def _diverse(texts: list[str], vecs: np.ndarray | None, k: int) -> list[int]:
    """Greedy farthest-point selection, starting from the most uncertain (index 0)."""
    if vecs is None:
        from cotwatch.classifiers.embeddings import StaticEncoder

        vecs = StaticEncoder().encode(texts)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = vecs / np.where(norms == 0, 1, norms)
    else:
        from cotwatch.classifiers.embeddings import text_hashes

        # vecs is ordered by unique hash; map back to text order
        uniq = np.unique(text_hashes(texts))
        order = np.searchsorted(uniq, text_hashes(texts))
        vecs = vecs[order]
    chosen = [0]
    dist = 1.0 - vecs @ vecs[0]
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        if dist[nxt] <= 1e-6:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, 1.0 - vecs @ vecs[nxt])
    return chosen


def import_labels(path: str | os.PathLike[str], *, classifier: str = "eval_awareness", split: str = "train"):
    """Append labelled sentences from a JSONL file (``text`` + ``label`` 0/1) to the user's labels.

    ``split="train"`` (default) feeds retraining. ``split="heldout"`` adds them to the validation
    side instead: labels drawn from *your* corpus make the held-out error rates — and so the
    prevalence correction — representative of it. A sentence can only ever be in one split.
    """
    import polars as pl
    from cotwatch.classifiers.spec import (
        heldout_files,
        load_spec,
        read_labelled,
        training_files,
    )

    if split not in ("train", "heldout"):
        raise InputError(f"split must be train or heldout, got {split!r}")
    spec = load_spec(classifier)
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read labels: {exc}") from exc
    other_files = heldout_files(spec) if split == "train" else training_files(spec)
    other = {t for f in other_files for t in read_labelled(f).texts}
    if split == "heldout":
        other |= set(read_labelled(spec.data_dir() / "heldout.txt").texts)  # shipped held-out: already there
    target = spec.imported_labels(split)
    existing: dict[str, int] = {}
    if target.exists():
        prior = read_labelled(target)
        existing = dict(zip(prior.texts, prior.labels))
    new: list[tuple[int, str]] = []
    skipped = 0
    problems = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"{path}:{number}: expected an object with 'text' and 'label'")
            continue
        text, label = rec.get("text"), rec.get("label")
        if not isinstance(text, str) or not text.strip() or "\n" in text.strip():
            problems.append(f"{path}:{number}: 'text' must be a non-empty single-line string")
            continue
        if label is None:
            skipped += 1
            continue
        if label not in (0, 1) or isinstance(label, bool):
            problems.append(f"{path}:{number}: 'label' must be 0 or 1 (or null to skip), got {label!r}")
            continue
        text = " ".join(text.split())
        if text in other:
            where = "held-out split; it cannot be used for training" if split == "train" else \
                "training data (or shipped held-out split); it cannot validate"
            problems.append(f"{path}:{number}: sentence is already in the {where}")
            continue
        if text in existing and existing[text] != label:
            problems.append(f"{path}:{number}: conflicts with an earlier imported label ({existing[text]})")
            continue
        if text in existing or any(t == text for _, t in new):
            skipped += 1
            continue
        new.append((label, text))
    if problems:
        from cotwatch.analytics.errors import RejectedRecords

        raise RejectedRecords(f"{path}: {len(problems)} bad label line(s); nothing imported", problems)
    if new:
        target.parent.mkdir(parents=True, exist_ok=True)
        header = "" if target.exists() else f"# labels imported with `cotwatch label import` for {spec.name}\n"
        with target.open("a", encoding="utf-8") as fh:
            fh.write(header + "".join(f"{label} imported {text}\n" for label, text in new))
    return pl.DataFrame([{"classifier": spec.name, "split": split, "imported": len(new),
                          "positives": sum(l for l, _ in new), "skipped": skipped, "file": str(target)}])
