"""The embedding classifier (scikit-learn contract) and the heads it is built from.

``EmbeddingClassifier`` maps raw sentences to probabilities: sentence-transformers embedding →
logistic regression (class-balanced) → sigmoid (Platt) calibration via ``CalibratedClassifierCV``.
``__init__`` only stores parameters; ``fit`` returns ``self``; fitted attributes end in ``_``; the
encoder is loaded on first use, never at import or construction.

>>> clf = EmbeddingClassifier(C=4.0).fit(texts, labels)          # doctest: +SKIP
>>> clf.predict_proba(["maybe this is an alignment test"])[:, 1]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from cotwatch.classifiers.embeddings import DEFAULT_MODEL, Encoder, embed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted


def make_head(C: float = 1.0, calibration: str = "sigmoid", cv: int = 5, seed: int = 0):
    """Calibrated, class-balanced logistic regression on embedding vectors."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    # an integer cv (stratified, unshuffled folds) keeps the fitted object free of splitter
    # types, so the skops artifact needs no extra trusted type
    base = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
    return CalibratedClassifierCV(base, method=calibration, cv=cv)


def make_static_head(C: float = 4.0):
    """The first-stage model on 64-d static embeddings: plain class-balanced logistic regression."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000)


class EmbeddingClassifier(ClassifierMixin, BaseEstimator):
    """Sentences in, calibrated probabilities out.

    Parameters: ``model`` (embedding model name/path, ``"default"`` = shipped MiniLM), ``C``,
    ``calibration`` (``sigmoid``/``isotonic``), ``cv`` (calibration folds), ``threshold`` (for
    :meth:`predict`), ``device``, ``batch_size``.
    """

    def __init__(self, model: str = DEFAULT_MODEL, C: float = 1.0, calibration: str = "sigmoid", cv: int = 5,
                 threshold: float = 0.5, device: str = "auto", batch_size: int = 64):
        self.model = model
        self.C = C
        self.calibration = calibration
        self.cv = cv
        self.threshold = threshold
        self.device = device
        self.batch_size = batch_size

    def _encode(self, X: Sequence[str]) -> np.ndarray:
        texts = _as_texts(X)
        encoder = Encoder(self.model, device=self.device, batch_size=self.batch_size)
        return embed(texts, encoder)

    def fit(self, X: Sequence[str], y) -> "EmbeddingClassifier":
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} texts but y has {len(y)} labels")
        self.head_ = make_head(self.C, self.calibration, self.cv).fit(self._encode(X), y)
        self.classes_ = self.head_.classes_
        self.embedding_model_ = Encoder(self.model).id
        return self

    def fit_embeddings(self, E: np.ndarray, y) -> "EmbeddingClassifier":
        """Fit on pre-computed embeddings (training reuses one encoding for CV and the final fit)."""
        self.head_ = make_head(self.C, self.calibration, self.cv).fit(E, np.asarray(y))
        self.classes_ = self.head_.classes_
        self.embedding_model_ = Encoder(self.model).id
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "head_")
        return self.head_.predict_proba(self._encode(X))

    def predict_proba_embeddings(self, E: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "head_")
        return self.head_.predict_proba(E)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)[:, 1]
        return self.classes_[(proba >= self.threshold).astype(int)]


def _as_texts(X) -> list[str]:
    if isinstance(X, str):
        raise ValueError("X must be a sequence of texts, not a single string")
    texts = list(X)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"X[{i}] is {type(t).__name__}, expected str")
    return texts
