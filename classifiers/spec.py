"""Classifier specs (``classifiers/specs/<name>.toml``) and labelled data files.

A spec names the classifier, its labelled data folder, the embedding model, the hyper-parameter
grid, the threshold policy, the cascade target and the lexicons. Bad specs raise ``SpecError``
naming the file and key; bad labelled lines raise ``InputError`` naming file and line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cotwatch.analytics.errors import InputError, SpecError

ENV_HOME = "COTWATCH_HOME"


def cotwatch_home() -> Path:
    """``$COTWATCH_HOME`` if set, else ``~/.cotwatch``: user-trained artifacts and imported labels."""
    env = os.environ.get(ENV_HOME)
    return Path(env) if env else Path.home() / ".cotwatch"


def package_dir(*parts: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(*parts)))


@dataclass(frozen=True)
class Pattern:
    pattern: str
    weight: float


@dataclass(frozen=True)
class ClassifierSpec:
    name: str
    version: str
    description: str
    data: str
    path: Path
    embedding: str = "default"
    #: [model] features: what the head reads (cotwatch.classifiers.features)
    features: tuple[str, ...] = ("embedding",)
    c_grid: tuple[float, ...] = (0.25, 1.0, 4.0, 16.0)
    cv_folds: int = 5
    threshold_min: float = 0.5      # bounds of the sentence threshold
    threshold_max: float = 0.995
    target_recall: float = 0.995
    static_stage: bool = True
    static_recall: float = 0.8
    max_pass_rate: float = 1.0      # at most this share of fit-part negatives may reach the transformer
    baseline: tuple[Pattern, ...] = field(default_factory=tuple)
    recall: tuple[str, ...] = field(default_factory=tuple)
    #: [data]: labelled sources (see cotwatch.classifiers.corpus)
    data_sources: dict = field(default_factory=lambda: {"sentences": ["train.txt"], "team_heldout": "heldout.txt"})
    #: [model.finetune]: fine-tune the encoder's top layers before fitting the head (None: frozen)
    finetune: dict | None = None
    #: [transcript]: the transcript decision (false-flag rate alpha, sentence precision target)
    transcript: dict = field(default_factory=dict)

    def data_dir(self) -> Path:
        """``data`` as a folder relative to the spec file (custom specs), else the shipped folder."""
        local = Path(self.data)
        if not local.is_absolute():
            local = self.path.parent / local
        if local.is_dir() and (local / "train.txt").exists():
            return local
        return package_dir("data", self.data)

    @property
    def data_key(self) -> str:
        """The name of the labelled data: document splits and the calibration part are drawn per
        data set, so variants of one classifier (frozen, fine-tuned) split it the same way."""
        return Path(self.data).name

    def imported_label_files(self) -> list[Path]:
        """Sentence labels the user imported with ``cotwatch label import`` (train and held-out)."""
        return [p for p in (self.imported_labels("train"), self.imported_labels("heldout")) if p.exists()]

    def imported_labels(self, split: str = "train") -> Path:
        """Where ``cotwatch label import`` appends labels for this classifier and split."""
        suffix = "" if split == "train" else f".{split}"
        return cotwatch_home() / "labels" / f"{self.name}{suffix}.txt"


def shipped_specs() -> list[str]:
    return sorted(p.stem for p in package_dir("specs").glob("*.toml"))


def load_spec(name_or_path: str | os.PathLike[str]) -> ClassifierSpec:
    """Load a spec by shipped name (``eval_awareness``) or by path to a ``.toml`` file."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        path = package_dir("specs", f"{name_or_path}.toml")
        if not path.exists():
            raise SpecError(
                f"no classifier spec named {str(name_or_path)!r} (shipped: {', '.join(shipped_specs())})"
            )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read spec: {exc}") from exc

    def get(table: dict, key: str, kind, default=None, where: str = ""):
        value = table.get(key, default)
        if value is None:
            raise SpecError(f"{path}: missing key {where}{key}")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SpecError(f"{path}: {where}{key} must be {kind.__name__}, got {value!r}")
        return value

    model = raw.get("model", {})
    data_table = raw.get("data_sources", {"sentences": ["train.txt"], "team_heldout": "heldout.txt"})
    if not isinstance(data_table, dict) or not isinstance(data_table.get("sentences", []), list):
        raise SpecError(f"{path}: [data_sources] must be a table whose sentences is a list of files")
    finetune = model.get("finetune")
    if finetune is not None and not isinstance(finetune, dict):
        raise SpecError(f"{path}: model.finetune must be a table")
    transcript = raw.get("transcript", {})
    if not isinstance(transcript, dict):
        raise SpecError(f"{path}: [transcript] must be a table")
    if transcript.get("cutoff", "independent") not in ("independent", "calibrated"):
        raise SpecError(f"{path}: transcript.cutoff must be \"independent\" or \"calibrated\"")
    for key, lo, hi in (("alpha", 0.0, 0.5), ("sentence_fpr", 0.0, 0.2)):
        if key in transcript and not (isinstance(transcript[key], (int, float)) and lo < transcript[key] <= hi):
            raise SpecError(f"{path}: transcript.{key} must be a number in ({lo}, {hi}]")
    threshold = raw.get("threshold", {})
    cascade = raw.get("cascade", {})
    lexicon = raw.get("lexicon", {})
    name = get(raw, "name", str)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise SpecError(f"{path}: name {name!r} must be lowercase letters, digits and _")
    baseline = []
    for i, item in enumerate(lexicon.get("baseline", [])):
        if not isinstance(item, dict) or "pattern" not in item:
            raise SpecError(f"{path}: lexicon.baseline[{i}] needs a pattern")
        baseline.append(Pattern(_check_regex(path, f"lexicon.baseline[{i}]", item["pattern"]),
                                float(item.get("weight", 1.0))))
    recall = tuple(_check_regex(path, f"lexicon.recall[{i}]", p) for i, p in enumerate(lexicon.get("recall", [])))
    features = model.get("features", ["embedding"])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise SpecError(f"{path}: model.features must be a list of names")
    from cotwatch.classifiers.features import check_features

    features = check_features(features, f"{path}: model.features")
    c_grid = model.get("C_grid", [0.25, 1.0, 4.0, 16.0])
    if not c_grid or not all(isinstance(c, (int, float)) and c > 0 for c in c_grid):
        raise SpecError(f"{path}: model.C_grid must be a list of positive numbers")
    spec = ClassifierSpec(
        name=name,
        version=str(get(raw, "version", str)),
        description=get(raw, "description", str, ""),
        data=get(raw, "data", str, name),
        path=path,
        embedding=get(model, "embedding", str, "default", "model."),
        features=features,
        c_grid=tuple(float(c) for c in c_grid),
        cv_folds=get(model, "cv_folds", int, 5, "model."),
        threshold_min=get(threshold, "min", float, 0.5, "threshold."),
        threshold_max=get(threshold, "max", float, 0.995, "threshold."),
        target_recall=get(cascade, "target_recall", float, 0.995, "cascade."),
        static_stage=get(cascade, "static", bool, True, "cascade."),
        static_recall=get(cascade, "static_recall", float, 0.8, "cascade."),
        max_pass_rate=get(cascade, "max_pass_rate", float, 1.0, "cascade."),
        baseline=tuple(baseline),
        recall=recall,
        data_sources=data_table,
        finetune=finetune,
        transcript=transcript,
    )
    if not spec.baseline or not spec.recall:
        raise SpecError(f"{path}: lexicon.baseline and lexicon.recall must both be non-empty")
    if not 2 <= spec.cv_folds <= 20:
        raise SpecError(f"{path}: model.cv_folds must be between 2 and 20")
    return spec


def _check_regex(path: Path, where: str, pattern) -> str:
    """A pattern the bounded regex engine accepts (checked at load time: exit 6, never mid-run)."""
    from cotwatch.analytics.regexes import compile_bounded

    if not isinstance(pattern, str) or not pattern:
        raise SpecError(f"{path}: {where} must be a non-empty string")
    compile_bounded(pattern, ignore_case=True, where=f"{path}: {where}", error=SpecError)
    return pattern


# -- labelled data ---------------------------------------------------------------------------

@dataclass
class LabelledSet:
    texts: list[str]
    labels: list[int]
    styles: list[str]
    sources: list[str]  # "file:line" of each example

    def __len__(self) -> int:
        return len(self.texts)

    def extend(self, other: "LabelledSet") -> None:
        self.texts += other.texts
        self.labels += other.labels
        self.styles += other.styles
        self.sources += other.sources


def read_labelled(path: Path) -> LabelledSet:
    """Read ``<label> <style> <text>`` lines (``#`` comments, blank lines ignored)."""
    out = LabelledSet([], [], [], [])
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read labelled data: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(" ", 2)
        if len(parts) < 3 or not parts[2].strip():
            raise InputError(f"{path}:{number}: expected '<label> <style> <text>'")
        if parts[0] not in ("0", "1"):
            raise InputError(f"{path}:{number}: label must be 0 or 1, got {parts[0]!r}")
        out.texts.append(parts[2].strip())
        out.labels.append(int(parts[0]))
        out.styles.append(parts[1])
        out.sources.append(f"{path.name}:{number}")
    return out
