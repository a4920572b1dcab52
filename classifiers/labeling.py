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
from cotwatch.analytics.store.database import registered
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.classifiers.corpus import jsonl_records


def _labelled_texts(spec) -> set[str]:
    """Every sentence the classifier's corpus already labels (any split)."""
    from cotwatch.classifiers.corpus import load_corpus

    return set(load_corpus(spec).frame["text"].to_list())


def _split_texts(spec, split: str) -> set[str]:
    """Texts a label imported into ``split`` must not repeat: anything on the other side, and for
    the held-out side also the shipped held-out data (re-importing one's own labels is idempotent)."""
    import polars as pl

    from cotwatch.classifiers.corpus import load_corpus

    frame = load_corpus(spec).frame
    train_side = pl.col("split") == "train"
    if split == "train":
        return set(frame.filter(~train_side)["text"].to_list())
    return set(frame.filter(train_side | (pl.col("source") != "imported"))["text"].to_list())


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
    from cotwatch.classifiers.spec import load_spec, read_labelled

    if split not in ("train", "heldout"):
        raise InputError(f"split must be train or heldout, got {split!r}")
    spec = load_spec(classifier)
    path = Path(path)
    other = _split_texts(spec, split)
    target = spec.imported_labels(split)
    existing: dict[str, int] = {}
    if target.exists():
        prior = read_labelled(target)
        existing = dict(zip(prior.texts, prior.labels))
    new: list[tuple[int, str]] = []
    skipped = 0
    problems: list[str] = []
    for where, rec in jsonl_records(path, problems):
        text, label = rec.get("text"), rec.get("label")
        if not isinstance(text, str) or not text.strip() or "\n" in text.strip():
            problems.append(f"{where}: 'text' must be a non-empty single-line string")
            continue
        if label is None:
            skipped += 1
            continue
        if label not in (0, 1) or isinstance(label, bool):
            problems.append(f"{where}: 'label' must be 0 or 1 (or null to skip), got {label!r}")
            continue
        text = " ".join(text.split())
        if text in other:
            side = "held-out split; it cannot be used for training" if split == "train" else \
                "training data (or shipped held-out split); it cannot validate"
            problems.append(f"{where}: sentence is already in the {side}")
            continue
        if text in existing and existing[text] != label:
            problems.append(f"{where}: conflicts with an earlier imported label ({existing[text]})")
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


# -- transcript labels: a uniform random sample of the user's own transcripts, for PPI --------

def export_transcripts_for_labelling(store, n: int, out: str | os.PathLike[str], *, classifier: str = "eval_awareness",
                                     run: str | None = None, seed: int | None = None, evidence: int = 3):
    """Write a uniform random sample of ``n`` transcripts of ``run`` (every run when None) to label.

    Each JSONL line names the transcript and carries the sampling design (``sample``, ``design``,
    ``population``, ``seed``) and, as evidence, the transcript decision and its ``evidence``
    highest-scoring sentences — so that labelling usually takes seconds; read the whole transcript
    (``cotwatch show ID --run RUN``) whenever the evidence does not settle it. Fill in ``label``
    with 1 (the model voices a suspicion that it is being tested) or 0, for EVERY line: the labels
    are a uniform random sample only if no line is skipped because of what it says.
    """
    import secrets

    import polars as pl

    if n < 1:
        raise InputError("--transcripts must be at least 1")
    if run is not None:
        store.require_run(run)
    rows = store.rows(load_sql("latest_classifier", __package__), {"name": classifier, "run": run})
    if not rows:
        raise NothingToReport(f"no {classifier} results in {store.path}; run `cotwatch classify apply` first")
    cid = rows[0][0]
    population = store.frame(load_sql("label_population", __package__), {"classifier_id": cid, "run": run})
    if population.is_empty():
        raise NothingToReport(f"no scored transcripts{f' in run {run!r}' if run else ''} to sample")
    seed = secrets.randbits(48) if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    size = min(n, population.height)
    picked = population[sorted(rng.choice(population.height, size, replace=False).tolist())]
    sample = f"{classifier}:{run or '*'}:{seed}"
    ev = store.frame(load_sql("label_evidence", __package__), {"classifier_id": cid, "per_transcript": evidence,
                                                               "pks": picked["pk"].to_list()})
    by_pk = {pk: g.drop("pk").to_dicts() for (pk,), g in ev.partition_by("pk", as_dict=True).items()} if ev.height else {}
    lines = []
    for r in picked.iter_rows(named=True):
        lines.append({"sample": sample, "design": "uniform", "population": population.height, "seed": seed,
                      "classifier": classifier, "run": r["run"], "step": r["step"], "environment": r["environment"],
                      "transcript_id": r["transcript_id"], "label": None, "flagged": r["flagged"],
                      "transcript_score": r["transcript_score"], "evidence": by_pk.get(r["pk"], [])})
    with atomic_open(out) as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return pl.DataFrame(lines).select("sample", "run", "step", "transcript_id", "flagged")


def is_transcript_label_file(path: str | os.PathLike[str]) -> bool:
    """Whether a labels file holds transcript labels (from ``--transcripts``) rather than sentences."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    return isinstance(rec, dict) and "transcript_id" in rec and "sample" in rec
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return False


def import_transcript_labels(store, path: str | os.PathLike[str], *, classifier: str | None = None):
    """Store transcript labels from a file written by :func:`export_transcripts_for_labelling`.

    Every line is validated (file:line and reason for each problem; nothing is stored when any line
    is bad); the sample's design is recorded so that ``awareness`` uses the labels for a
    prediction-powered estimate. Re-importing is idempotent; a changed label replaces the old one.
    """
    import polars as pl

    from cotwatch.analytics.errors import RejectedRecords

    if store.read_only:
        raise InputError(f"{store.path}: importing transcript labels writes to the store; open it for writing")
    path = Path(path)
    problems: list[str] = []
    good, unlabelled = [], 0
    samples: dict[str, dict] = {}
    for where, rec in jsonl_records(path, problems):
        if not all(k in rec for k in ("sample", "design", "population", "seed",
                                                                  "classifier", "run", "transcript_id", "label")):
            problems.append(f"{where}: not a transcript label line (export one with `label export --transcripts N`)")
            continue
        if classifier is not None and rec["classifier"] != classifier:
            problems.append(f"{where}: labels classifier {rec['classifier']!r}, not {classifier!r}")
            continue
        label = rec["label"]
        if label is None:
            unlabelled += 1
            continue
        if label not in (0, 1) or isinstance(label, bool):
            problems.append(f"{where}: 'label' must be 0 or 1 (or null when not labelled), got {label!r}")
            continue
        meta = {k: rec[k] for k in ("design", "population", "seed", "classifier")}
        if samples.setdefault(rec["sample"], meta) != meta:
            problems.append(f"{where}: sample {rec['sample']!r} has a different design than on an earlier line")
            continue
        if meta["design"] != "uniform":
            problems.append(f"{where}: unknown sampling design {meta['design']!r}")
            continue
        good.append((where, rec))
    if good:
        keys = pl.DataFrame({"run": [r["run"] for _, r in good], "transcript_id": [str(r["transcript_id"]) for _, r in good]})
        with registered(store.con, cw_label_keys=keys.to_arrow()):
            found = {(r, i): pk for r, i, pk in store.rows(load_sql("label_transcripts", __package__))}
        for where, rec in good:
            if (rec["run"], str(rec["transcript_id"])) not in found:
                problems.append(f"{where}: no transcript {rec['transcript_id']!r} in run {rec['run']!r}")
    if problems:
        raise RejectedRecords(f"{path}: {len(problems)} bad label line(s); nothing imported", problems)
    if not good:
        raise NothingToReport(f"{path}: no labelled line (every 'label' is null)")
    label_rows = pl.DataFrame({
        "classifier": [r["classifier"] for _, r in good],
        "transcript_pk": [found[(r["run"], str(r["transcript_id"]))] for _, r in good],
        "label": [bool(r["label"]) for _, r in good],
        "sample": [r["sample"] for _, r in good],
        "note": [r.get("note") for _, r in good],
    }, schema={"classifier": pl.String, "transcript_pk": pl.Int64, "label": pl.Boolean, "sample": pl.String,
               "note": pl.String})
    sample_rows = pl.DataFrame([{"sample": k, "classifier": v["classifier"], "design": v["design"],
                                 "population": int(v["population"]), "seed": int(v["seed"]),
                                 "run": None if k.split(":")[1] == "*" else k.split(":")[1],
                                 "size": int(sum(1 for _, r in good if r["sample"] == k))} for k, v in samples.items()],
                               schema={"sample": pl.String, "classifier": pl.String, "design": pl.String,
                                       "population": pl.Int64, "seed": pl.Int64, "run": pl.String, "size": pl.Int64})
    with store.atomic() as con, registered(con, cw_labels=label_rows.to_arrow(), cw_samples=sample_rows.to_arrow()):
        store.script(load_sql("import_transcript_labels", __package__))
    return pl.DataFrame([{"classifier": label_rows["classifier"][0], "kind": "transcripts", "imported": len(good),
                          "aware": int(label_rows["label"].sum()), "unlabelled": unlabelled, "file": str(path)}])
