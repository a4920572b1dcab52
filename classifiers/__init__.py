"""Eval-awareness (and other) sentence classifiers: local embeddings, honest validation and
prevalence corrected for the classifier's own errors.

The public API, importable from here (loaded lazily so ``import classifiers`` stays light)::

    from classifiers import train, evaluate, score_texts, apply, awareness_prevalence
    result = train("eval_awareness")                         # -> TrainResult(path, card)
    score_texts(["maybe this is an alignment test"])         # -> polars: id, score, label, stage
    with Store.open("runs.duckdb", read_only=False) as store:
        apply(store, "eval_awareness", run="demo-rl")        # -> ApplyStats
    with Store.open("runs.duckdb") as store:
        awareness_prevalence(store, run="demo-rl")           # -> polars, one row per step

Also: ``top_flagged_sentences``, ``split_sentences``, ``EmbeddingClassifier``, ``load_artifact``, ``export_counterfactual``,
``export_for_labelling`` and ``import_labels``.
"""

from __future__ import annotations

from analytics.lazy import lazy_exports

_API = {
    "train": "classifiers.training",
    "evaluate": "classifiers.training",
    "score_texts": "classifiers.scoring",
    "apply": "classifiers.applying",
    "awareness_prevalence": "classifiers.prevalence",
    "corrected_prevalence": "classifiers.prevalence",
    "top_flagged_sentences": "classifiers.prevalence",
    "split_sentences": "classifiers.sentences",
    "EmbeddingClassifier": "classifiers.model",
    "load_artifact": "classifiers.artifacts",
    "load_spec": "classifiers.spec",
    "export_counterfactual": "classifiers.counterfactual",
    "export_for_labelling": "classifiers.labeling",
    "import_labels": "classifiers.labeling",
}

__all__ = sorted(_API)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _API)
