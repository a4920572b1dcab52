"""Binary classification metrics in one place (one dict per evaluation)."""

from __future__ import annotations

import numpy as np


def binary_metrics(y, scores, threshold: float) -> dict[str, float | int]:
    """precision, recall, f1, auroc and the confusion matrix at ``threshold``."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=float)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auroc = float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")
    return {"n": int(len(y)), "threshold": float(threshold), "precision": precision, "recall": recall,
            "f1": f1, "auroc": auroc, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def best_f1_threshold(y, scores, lo: float = 0.0, hi: float = 1.0) -> float:
    """The threshold in [lo, hi] maximising F1 (ties → the midpoint of the best plateau's edge)."""
    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=float)
    candidates = np.unique(np.clip(s, lo, hi))
    candidates = np.unique(np.concatenate([candidates, [lo, hi]]))
    best_t, best_f = lo, -1.0
    for t in candidates:
        pred = s >= t
        tp = np.sum(pred & (y == 1))
        fp = np.sum(pred & (y == 0))
        fn = np.sum(~pred & (y == 1))
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f > best_f + 1e-12:
            best_t, best_f = float(t), f
    return best_t


def max_fpr_threshold(y, scores, max_fpr: float, lo: float = 0.0, hi: float = 1.0) -> float:
    """The lowest threshold in [lo, hi] (an observed score, or lo/hi) whose false-positive rate on
    the negatives is <= max_fpr."""
    y = np.asarray(y).astype(int)
    s = np.asarray(scores, dtype=float)
    neg = np.sort(s[y == 0])
    candidates = np.unique(np.concatenate([np.clip(s, lo, hi), [lo, hi]]))
    if len(neg) == 0:
        return float(candidates[0])
    fpr = (len(neg) - np.searchsorted(neg, candidates, side="left")) / len(neg)  # non-increasing
    ok = np.flatnonzero(fpr <= max_fpr)
    return float(candidates[ok[0]]) if len(ok) else float(hi)
