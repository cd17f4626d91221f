"""Metrics shared by the chapters: ranking quality, latency percentiles, hit ratios."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def _as_1d(name: str, values: Iterable[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; expected at least one value")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """ROC AUC (scikit-learn's), with a clear error when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = _as_1d("labels", labels)
    s = _as_1d("scores", scores)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} and {s.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if y.min() == y.max():
        raise ValueError("AUC needs both positive and negative labels; got only one class")
    return float(roc_auc_score(y, s))


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """Percentiles keyed 'p50', 'p95', ... (linear interpolation, as numpy)."""
    arr = _as_1d("values", values)
    for q in qs:
        if not 0 <= q <= 100:
            raise ValueError(f"percentile must be in [0, 100], got {q}")
    return {f"p{q:g}": float(np.percentile(arr, q)) for q in qs}


def hit_ratio(hits: int, requests: int) -> float:
    """Share of requests served from a cache."""
    if requests <= 0:
        raise ValueError(f"requests must be positive, got {requests}")
    if not 0 <= hits <= requests:
        raise ValueError(f"hits must be between 0 and requests ({requests}), got {hits}")
    return hits / requests
