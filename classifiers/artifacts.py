"""Trained classifier artifacts: one ``.skops`` file plus a human-readable model card.

Why skops: a pickle (or joblib) file executes arbitrary code when loaded, so loading a classifier
someone sent you, or one found under a shared path, would be running their program. ``skops.io``
stores the estimator as a zip of JSON schema + numpy arrays and reconstructs only types we allow;
anything else in the file makes :func:`load_artifact` refuse with a clear error. The allowlist is
the handful of scikit-learn calibration types the heads use, on top of skops' own trusted set.

Layout of the payload (a dict): ``format``, ``card_json`` (the model card), ``head`` (calibrated
logistic regression on transformer embeddings), ``static_head`` (logistic regression on 64-d static
embeddings, or None), ``static_threshold``, ``threshold``, the lexicons, ``features`` (what the head
reads besides the embedding: :mod:`cotwatch.classifiers.features`; absent = embedding only), and ``validation``: the
held-out labels, cascade scores and stage-1 decisions that ``awareness`` bootstraps to carry the
classifier's own error into its intervals.

Where artifacts live: ``cotwatch classify train`` writes ``$COTWATCH_HOME/classifiers/<name>.skops``
(default ``~/.cotwatch/classifiers``); pre-trained ones ship in ``classifiers/artifacts/``. A name
resolves to the user's copy first, then the shipped one; a path to a ``.skops`` file is used as is.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cotwatch.analytics.errors import InputError, SpecError
from cotwatch.analytics.store.atomic import atomic_path, atomic_write_text
from cotwatch.classifiers.spec import Pattern, cotwatch_home, package_dir

FORMAT = "cotwatch-classifier/2"
OLD_FORMATS = ("cotwatch-classifier/1",)
ALLOWED_TYPES = frozenset({
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
})  # on top of skops' defaults (LogisticRegression, numpy arrays, ...)


def user_dir() -> Path:
    return cotwatch_home() / "classifiers"


def shipped_dir() -> Path:
    return package_dir("artifacts")


def resolve_artifact(name_or_path: str) -> Path:
    """Path of the artifact for a classifier name (user copy, then shipped) or an explicit path."""
    path = Path(name_or_path)
    if path.suffix == ".skops" or os.sep in str(name_or_path):
        if not path.exists():
            raise InputError(f"{path}: no such classifier artifact")
        return path
    for folder in (user_dir(), shipped_dir()):
        candidate = folder / f"{name_or_path}.skops"
        if candidate.exists():
            return candidate
    raise InputError(
        f"no trained classifier named {name_or_path!r} in {user_dir()} or the shipped artifacts; "
        f"run `cotwatch classify train {name_or_path}`"
    )


@dataclass
class Artifact:
    """A loaded classifier: heads, thresholds, lexicons, validation scores and the model card."""

    path: Path
    sha256: str
    card: dict[str, Any]
    head: Any
    static_head: Any
    static_threshold: float
    threshold: float
    baseline: tuple[Pattern, ...]
    recall: tuple[str, ...]
    validation: dict[str, np.ndarray]
    tuned_layers: dict[str, np.ndarray] | None = None
    max_length: int | None = None
    decision_payload: dict | None = None
    features: tuple[str, ...] = ("embedding",)

    def sentence_features(self):
        """The head's input builder (:class:`~cotwatch.classifiers.features.SentenceFeatures`)."""
        from cotwatch.classifiers.features import SentenceFeatures

        return SentenceFeatures(self.features, self.baseline, self.recall, where=str(self.path))

    @property
    def decision(self):
        """The transcript decision (:class:`~cotwatch.classifiers.decision.TranscriptDecision`)."""
        from cotwatch.classifiers.decision import TranscriptDecision

        return TranscriptDecision.from_payload(self.decision_payload)

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def embedding_model(self) -> str:
        return self.card["embedding_model"]

    @property
    def embedding_name(self) -> str:
        """What to pass to ``Encoder``: ``default`` or the model path/name used in training."""
        return self.card.get("embedding_name", "default")


def save_artifact(path: Path, *, card: dict, head, static_head, static_threshold: float, threshold: float,
                  baseline, recall, validation: dict[str, np.ndarray], decision, tuned_layers: dict | None = None,
                  max_length: int | None = None, features=("embedding",)) -> Path:
    """Write ``path`` (.skops) and ``path.with_suffix('.card.json')`` atomically."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "card_json": json.dumps(card, sort_keys=True),
        "head": head,
        "static_head": static_head,
        "static_threshold": float(static_threshold),
        "threshold": float(threshold),
        "baseline": [[p.pattern, float(p.weight)] for p in baseline],
        "recall": list(recall),
        "validation": {k: np.asarray(v) for k, v in validation.items()},
        "tuned_layers": {k: np.asarray(v, dtype=np.float16) for k, v in (tuned_layers or {}).items()},
        "max_length": max_length,
        "decision": decision.to_payload(),
        "features": list(features),
    }
    with atomic_path(path) as tmp:
        sio.dump(payload, tmp)
    atomic_write_text(path.with_name(path.stem + ".card.json"), json.dumps(card, indent=2, sort_keys=True) + "\n")
    return path


def load_artifact(name_or_path: str | os.PathLike[str]) -> Artifact:
    """Load a classifier by name or path without executing code from the file."""
    import skops.io as sio

    path = resolve_artifact(str(name_or_path))
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt zip raises BadZipFile/KeyError/JSONDecodeError variants
        raise InputError(f"{path}: not a readable skops artifact ({type(exc).__name__}: {exc})") from exc
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:
        raise InputError(f"{path}: refusing to load untrusted types {', '.join(refused)}")
    try:
        payload = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise InputError(f"{path}: cannot load artifact ({type(exc).__name__}: {exc})") from exc
    if isinstance(payload, dict) and payload.get("format") in OLD_FORMATS:
        raise InputError(f"{path}: trained by an older cotwatch (no transcript decision); retrain it with "
                         f"`cotwatch classify train`")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a cotwatch classifier artifact (expected format {FORMAT})")
    try:
        card = json.loads(payload["card_json"])
        art = Artifact(
            path=path,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            card=card,
            head=payload["head"],
            static_head=payload["static_head"],
            static_threshold=float(payload["static_threshold"]),
            threshold=float(payload["threshold"]),
            baseline=tuple(Pattern(p, float(w)) for p, w in payload["baseline"]),
            recall=tuple(payload["recall"]),
            validation=dict(payload["validation"]),
            tuned_layers=dict(payload["tuned_layers"]) or None,
            max_length=payload["max_length"],
            decision_payload=dict(payload["decision"]),
            features=tuple(payload.get("features", ["embedding"])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"{path}: artifact is missing or has a malformed field: {exc}") from exc
    validate_artifact(art)
    return art


def _is_head(head) -> bool:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    return isinstance(head, (LogisticRegression, CalibratedClassifierCV)) and list(getattr(head, "classes_", [])) == [0, 1]


def validate_artifact(art: Artifact) -> None:
    """Check every field an artifact's scoring will use, before any is used: a crafted or damaged
    file fails here with one line (exit 6), not mid-run with a traceback or a hung regex."""
    import re

    from cotwatch.classifiers.lexicon import Lexicon

    where = str(art.path)
    card = art.card
    if not isinstance(card, dict) or not all(isinstance(card.get(k), str) for k in ("name", "version", "embedding_model")):
        raise SpecError(f"{where}: the model card needs string name, version and embedding_model")
    if not _is_head(art.head):
        raise SpecError(f"{where}: head is not a fitted binary scikit-learn classifier ({type(art.head).__name__})")
    if art.static_head is not None and not _is_head(art.static_head):
        raise SpecError(f"{where}: static_head is not a fitted binary scikit-learn classifier")
    for name, value in (("threshold", art.threshold), ("static_threshold", art.static_threshold)):
        if not 0.0 <= value <= 1.0:
            raise SpecError(f"{where}: {name} must be in [0, 1], got {value}")
    Lexicon(art.baseline, art.recall, where=where)  # every pattern must run on the bounded engine
    from cotwatch.classifiers.features import check_features

    check_features(art.features, f"{where}: features")
    extra = art.sentence_features().extra_width
    if int(getattr(art.head, "n_features_in_", extra + 1)) <= extra:
        raise SpecError(f"{where}: the head reads {art.head.n_features_in_} features, fewer than its feature list "
                        f"{list(art.features)} adds to the embedding ({extra})")
    d = art.decision_payload or {}
    null = np.asarray(d.get("null_scores", []), dtype=np.float64)
    if (not 0.0 <= float(d.get("sentence_threshold", -1)) <= 1.0 or not 0.0 < float(d.get("alpha", -1)) <= 0.5
            or not 0.0 <= float(d.get("cutoff", 1.0)) <= 1.0
            or null.ndim != 1 or len(null) == 0 or not np.all(np.isfinite(null)) or null.min() < 0 or null.max() > 1):
        raise SpecError(f"{where}: malformed transcript decision (sentence_threshold, alpha, null_scores)")
    for name, value in (art.tuned_layers or {}).items():
        if not re.fullmatch(r"encoder\.layer\.\d+\.[A-Za-z0-9_.]+", name) or not isinstance(value, np.ndarray) \
                or not np.all(np.isfinite(value)):
            raise SpecError(f"{where}: tuned layer {name!r} is not a finite weight of an encoder layer")
    if art.max_length is not None and not (isinstance(art.max_length, int) and 8 <= art.max_length <= 512):
        raise SpecError(f"{where}: max_length must be an integer in [8, 512]")


def available() -> list[dict[str, str]]:
    """Every artifact that a name would resolve to: name, where, path."""
    seen: dict[str, dict[str, str]] = {}
    for where, folder in (("shipped", shipped_dir()), ("user", user_dir())):
        for f in sorted(folder.glob("*.skops")) if folder.exists() else []:
            seen[f.stem] = {"name": f.stem, "where": where, "path": str(f)}
    return list(seen.values())
