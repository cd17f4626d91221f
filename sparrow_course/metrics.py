"""Metrics shared by the chapters: ranking quality, top-K recall quality, latency percentiles, hit ratios."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .checks import check_fraction, check_frame, check_int, check_memory, check_seed
from .seeding import DEFAULT_SEED

__all__ = ["auc", "percentiles", "hit_ratio", "recall_at_k", "ndcg_at_k", "per_user_metrics", "evaluate_top_k", "top_k_frame",
           "RECOMMENDATION_COLUMNS", "paired_difference"]

#: The common shape of every recall channel's output: one row per (user, recommended movie),
#: best first within a user. Chapters 04-07 return it, so channels can be merged and compared.
RECOMMENDATION_COLUMNS = ("userId", "movieId", "score")


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


def recall_at_k(recommended: Sequence[int], relevant: Iterable[int], k: int) -> float:
    """Share of the relevant items found in the first ``k`` recommended: |top-k ∩ relevant| / |relevant|."""
    k = check_int(k, "k", low=1)
    relevant = set(relevant)
    if not relevant:
        raise ValueError("relevant is empty; recall is undefined for a user with nothing to find")
    return len(set(list(recommended)[:k]) & relevant) / len(relevant)


def ndcg_at_k(recommended: Sequence[int], relevant: Iterable[int], k: int) -> float:
    """Binary-relevance NDCG@k: hits discounted by log2(rank + 1), over the best possible ordering."""
    k = check_int(k, "k", low=1)
    relevant = set(relevant)
    if not relevant:
        raise ValueError("relevant is empty; NDCG is undefined for a user with nothing to find")
    top = list(recommended)[:k]
    if len(set(top)) != len(top):
        raise ValueError("recommended lists an item more than once in its first k; a recommendation list names "
                         "each item once (drop the duplicates first)")
    gains = [1.0 / np.log2(rank + 2) for rank, item in enumerate(top) if item in relevant]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return float(sum(gains) / ideal)


def top_k_frame(user_ids: Sequence[int], item_ids: Sequence[int], scores: np.ndarray, k: int, *,
                exclude: "np.ndarray | None" = None) -> pd.DataFrame:
    """Turn a (users x items) score matrix into the common recommendation frame, best ``k`` per user.

    ``exclude`` is an optional boolean (or scipy sparse) matrix of the same shape: True where an
    item must not be recommended to that user (for example, already rated). Ties are broken by
    item order, so the result is deterministic.
    """
    k = check_int(k, "k", low=1)
    scores = np.array(scores, dtype=float, copy=True)
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    if scores.ndim != 2 or scores.shape != (len(user_ids), len(item_ids)):
        raise ValueError(f"scores must have shape (len(user_ids), len(item_ids)) = "
                         f"({len(user_ids)}, {len(item_ids)}), got {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; expected a finite score (or -inf to rule an item out)")
    if exclude is not None:
        mask = exclude.toarray() if hasattr(exclude, "toarray") else np.asarray(exclude, dtype=bool)
        if mask.shape != scores.shape:
            raise ValueError(f"exclude must have the shape of scores {scores.shape}, got {mask.shape}")
        scores[mask.astype(bool)] = -np.inf
    k = min(k, scores.shape[1])
    # stable sort on the negated scores: ties keep item order
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(scores, order, axis=1)
    keep = top > -np.inf  # -inf rules an item out; +inf is a score like any other (first)
    frame = pd.DataFrame({
        "userId": np.repeat(user_ids, k)[keep.ravel()],
        "movieId": item_ids[order].ravel()[keep.ravel()],
        "score": top.ravel()[keep.ravel()],
    })
    return frame.reset_index(drop=True)


def per_user_metrics(recommendations: pd.DataFrame, truth: pd.DataFrame, k: int) -> pd.DataFrame:
    """recall@k and NDCG@k of every user in ``truth`` (index userId; 0 for a user with no recommendations).

    The per-user numbers behind :func:`evaluate_top_k`, for paired comparisons and bootstraps over
    users; computed for all users at once with joins, not a loop over users.
    """
    k = check_int(k, "k", low=1)
    check_frame(recommendations, RECOMMENDATION_COLUMNS, "recommendations")
    check_frame(truth, ["userId", "movieId"], "truth", allow_empty=False)
    for frame, name in ((recommendations, "recommendations"), (truth, "truth")):
        for column in ("userId", "movieId"):
            if len(frame) and frame[column].dtype.kind not in "iu":
                raise TypeError(f"{name}['{column}'] must hold integer ids, got dtype {frame[column].dtype}")
    relevant = truth[["userId", "movieId"]].drop_duplicates()
    n_relevant = relevant.groupby("userId").size()
    top = recommendations[["userId", "movieId"]].copy()
    top["rank"] = top.groupby("userId", sort=False).cumcount()
    top = top[top["rank"] < k].drop_duplicates(["userId", "movieId"])
    hits = top.merge(relevant, on=["userId", "movieId"], how="inner")
    hits["gain"] = 1.0 / np.log2(hits["rank"].to_numpy() + 2.0)
    per_user = hits.groupby("userId").agg(hits=("gain", "size"), dcg=("gain", "sum"))
    per_user = per_user.reindex(n_relevant.index, fill_value=0)
    discounts = np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))
    ideal = discounts[np.minimum(n_relevant.to_numpy(), k) - 1]
    return pd.DataFrame({f"recall@{k}": per_user["hits"].to_numpy() / n_relevant.to_numpy(),
                         f"ndcg@{k}": per_user["dcg"].to_numpy() / ideal},
                        index=pd.Index(n_relevant.index.to_numpy(), name="userId"))


def evaluate_top_k(recommendations: pd.DataFrame, truth: pd.DataFrame, k: int, *,
                   n_items: int | None = None) -> dict[str, float]:
    """Mean recall@k and NDCG@k over the users in ``truth`` (a user with no recommendations scores 0).

    ``recommendations`` has the common columns (userId, movieId, score), best first within a
    user; ``truth`` holds the held-out relevant (userId, movieId) pairs. With ``n_items`` the
    result also has ``coverage``: the share of the catalogue recommended to anyone.
    """
    per_user = per_user_metrics(recommendations, truth, k)
    result = {"users": float(len(per_user)), f"recall@{k}": float(per_user[f"recall@{k}"].mean()),
              f"ndcg@{k}": float(per_user[f"ndcg@{k}"].mean())}
    if n_items is not None:
        n_items = check_int(n_items, "n_items", low=1)
        shown = recommendations.groupby("userId", sort=False).head(k)["movieId"].nunique()
        result["coverage"] = shown / n_items
    return result


def paired_difference(a: Sequence[float] | pd.Series, b: Sequence[float] | pd.Series, *, n_boot: int = 2000,
                      seed: int = DEFAULT_SEED, level: float = 0.95) -> dict[str, float]:
    """Mean of ``a - b`` over paired units (users) with a bootstrap confidence interval.

    Two Series are paired by index (the users both have); two sequences by position (equal
    length). Resampling users keeps each user's two scores together, so differences between
    users (some are easy, some hard) cancel: the interval is much tighter than two separate ones.
    Returns ``difference``, ``low``, ``high`` (the ``level`` interval) and ``users``.
    """
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        a, b = a.align(b, join="inner")
    x = np.asarray(a, dtype=float) - np.asarray(b, dtype=float) if np.shape(a) == np.shape(b) else None
    if x is None or x.ndim != 1 or x.size < 2:
        raise ValueError(f"a and b must pair at least 2 users (equal-length 1-D sequences, or Series sharing "
                         f"an index), got shapes {np.shape(a)} and {np.shape(b)}")
    if not np.isfinite(x).all():
        raise ValueError("a and b contain NaN or infinite values")
    n_boot = check_int(n_boot, "n_boot", low=1)
    level = check_fraction(level, "level", include_low=False, include_high=False)
    check_memory(8.0 * n_boot * x.size, "the bootstrap resamples")
    rng = np.random.default_rng(check_seed(seed))
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"difference": float(x.mean()), "low": float(lo), "high": float(hi), "users": int(x.size)}
