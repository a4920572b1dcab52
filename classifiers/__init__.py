"""Eval-awareness (and other) sentence classifiers: local embeddings, honest validation and
prevalence corrected for the classifier's own errors.

The public API, importable from here (loaded lazily so ``import cotwatch.classifiers`` stays light)::

    from cotwatch.classifiers import train, evaluate, score_texts, apply, awareness_prevalence
    result = train("eval_awareness")                         # -> TrainResult(path, card)
    score_texts(["maybe this is an alignment test"])         # -> polars: id, score, label, stage
    with Store.open("runs.duckdb", read_only=False) as store:
        apply(store, "eval_awareness", run="demo-rl")        # -> ApplyStats
    with Store.open("runs.duckdb") as store:
        awareness_prevalence(store, run="demo-rl")           # -> polars, one row per step

Also: ``top_flagged_sentences``, ``split_sentences``, ``EmbeddingClassifier``, ``load_artifact``,
``export_counterfactual``, ``export_for_labelling``/``import_labels`` (sentences, for retraining),
``export_transcripts_for_labelling``/``import_transcript_labels`` (a random sample of your own
transcripts, for prediction-powered prevalence), ``ppi_mean``, ``TranscriptDecision``,
``load_corpus`` and ``compare``.
"""

from __future__ import annotations

from cotwatch.analytics.lazy import lazy_exports

_API = {
    "train": "cotwatch.classifiers.training",
    "evaluate": "cotwatch.classifiers.training",
    "score_texts": "cotwatch.classifiers.scoring",
    "apply": "cotwatch.classifiers.applying",
    "awareness_prevalence": "cotwatch.classifiers.prevalence",
    "corrected_prevalence": "cotwatch.classifiers.prevalence",
    "top_flagged_sentences": "cotwatch.classifiers.prevalence",
    "split_sentences": "cotwatch.classifiers.sentences",
    "EmbeddingClassifier": "cotwatch.classifiers.model",
    "load_artifact": "cotwatch.classifiers.artifacts",
    "load_spec": "cotwatch.classifiers.spec",
    "export_counterfactual": "cotwatch.classifiers.counterfactual",
    "export_for_labelling": "cotwatch.classifiers.labeling",
    "import_labels": "cotwatch.classifiers.labeling",
    "export_transcripts_for_labelling": "cotwatch.classifiers.labeling",
    "import_transcript_labels": "cotwatch.classifiers.labeling",
    "ppi_mean": "cotwatch.classifiers.prevalence",
    "TranscriptDecision": "cotwatch.classifiers.decision",
    "load_corpus": "cotwatch.classifiers.corpus",
    "compare": "cotwatch.classifiers.training",
    "usage_drift": "cotwatch.classifiers.usage",
}

__all__ = sorted(_API)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _API)
