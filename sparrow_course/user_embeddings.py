"""Chapter 07, user embeddings (用户嵌入): user vectors in the item space, and why separate models are not one space.

A user vector pooled from the vectors of the films the user liked (``embeddings.pool_user_vectors``)
lives in the item space, so user-item cosine is meaningful; pooled from an independently
trained run it is not, until a rotation aligns the runs (``embeddings.align_procrustes``).
:func:`user_embedding_experiment` measures it through the embedding recall channel
(``embeddings.fit_embedding_channel``); :func:`segment_neighbour_share` checks user-user
similarity against SparrowLens's planted segments; :func:`centroid_popularity` shows why raw
cosine favours rare films.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .channels import fit_popularity
from .checks import check_choice, check_fraction, check_frame, check_int, check_seed
from .datasets import POSITIVE_THRESHOLD, positive
from .embeddings import (POOLINGS, ItemVectors, UserVectors, align_procrustes, fit_embedding_channel,
                         pool_user_vectors, unit_rows)
from .metrics import evaluate_top_k
from .seeding import DEFAULT_SEED

__all__ = ["segment_neighbour_share", "centroid_popularity", "user_embedding_experiment"]


def segment_neighbour_share(users: UserVectors, segments: pd.Series, *, n_neighbours: int = 10,
                            max_users: int = 2000, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Share of a user's ``n_neighbours`` nearest users (centred cosine) in the user's own planted segment.

    ``segments``: a Series userId -> segment covering every user (planted truth of the same
    data; anything else is refused). Chance is the sum of squared segment shares.
    Up to ``max_users`` users (a seeded sample) are compared with each other.
    """
    n_neighbours = check_int(n_neighbours, "n_neighbours", low=1)
    max_users = check_int(max_users, "max_users", low=2)
    seed = check_seed(seed)
    if not isinstance(segments, pd.Series):
        raise TypeError(f"segments must be a pandas Series userId -> segment, got {type(segments).__name__}")
    covered = np.isin(users.ids, segments.index)
    if covered.mean() < 0.99:
        raise ValueError(f"segments name only {covered.sum()} of the {len(users.ids)} users ({covered.mean():.0%}): "
                         "planted segments belong to the data they were planted in; take them from "
                         "datasets.planted_truth(ml) for the same data, and skip this comparison on other data "
                         "(datasets.lacks(ml, 'planted truth'))")
    ids = users.ids[covered]
    if len(ids) > max_users:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_users, replace=False))
    if len(ids) <= n_neighbours:
        raise ValueError(f"need more than n_neighbours={n_neighbours} users with a segment, got {len(ids)}")
    v = users.vectors[users.rows(ids)]
    sim = unit_rows(v - v.mean(axis=0)) @ unit_rows(v - v.mean(axis=0)).T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :n_neighbours]
    seg = segments.reindex(ids).to_numpy()
    share = float((seg[nearest] == seg[:, None]).mean())
    freq = pd.Series(seg).value_counts(normalize=True).to_numpy()
    return {"same_segment_share": share, "chance": float((freq ** 2).sum())}


def centroid_popularity(model: ItemVectors, ratings: pd.DataFrame, *,
                        threshold: float = POSITIVE_THRESHOLD) -> dict[str, float]:
    """Why raw cosine favours rare films: how close items and pooled users sit to the items' mean direction.

    Returns the Spearman correlation between an item's positive count in ``ratings`` and its
    raw cosine to the mean item vector, the median of that cosine over items, and the median
    raw cosine of mean-pooled user vectors to the same mean.
    """
    from scipy.stats import spearmanr

    if not isinstance(model, ItemVectors):
        raise TypeError(f"model must be an ItemVectors, got {type(model).__name__}")
    check_frame(ratings, ["userId", "movieId", "rating", "timestamp"], "ratings")
    counts = positive(ratings, threshold)["movieId"].value_counts().reindex(model.ids).fillna(0)
    centroid = model.vectors.mean(axis=0, keepdims=True)
    item_cos = (unit_rows(model.vectors) @ unit_rows(centroid).T).ravel()
    users = pool_user_vectors(ratings, model, threshold=threshold)
    user_cos = (unit_rows(users.vectors) @ unit_rows(centroid).T).ravel()
    return {"spearman_count_vs_cosine_to_mean": float(spearmanr(counts.to_numpy(), item_cos)[0]),
            "median_item_cosine_to_mean": float(np.median(item_cos)),
            "median_user_cosine_to_mean": float(np.median(user_cos))}


def user_embedding_experiment(train: pd.DataFrame, test: pd.DataFrame, model: ItemVectors, *,
                              other_model: ItemVectors | None = None, segments: pd.Series | None = None,
                              k: int = 20, n_users: int | None = 2000, blend: float = 2 / 3,
                              poolings: Sequence[str] = POOLINGS, truth_items: Any = None,
                              seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """User-to-item recall@k of user vectors against ``model``'s item vectors, many ways, one row each.

    Rows: mean pooling scored by raw cosine, centred cosine and centred cosine blended with
    popularity (the channels' one rule, at ``blend``); the other ``poolings`` by
    centred cosine; popularity alone; with ``other_model`` (an independently trained run),
    users pooled from it scored against ``model``'s items, raw and after Procrustes alignment.
    Truth: each sampled user's test ratings >= 3.5 of items with a vector; the user's training
    ratings are excluded from the lists. ``truth_items`` (default: ``model``'s items) fixes
    which held-out positives count, so models with different vocabularies (``min_count``)
    are judged on the same truth: a film a model has no vector for is a miss. Columns: user_vectors, pooling, scoring, recall@k,
    median_positives (the median training positive count of the recommended items: how
    popular they are) and, with ``segments``, same_segment_share (share of a user's 10
    nearest users in the same planted segment; centred mean-pooled vectors).
    ``table.attrs["chance"]`` is k / n_items, the recall of a random list.
    """
    if not isinstance(model, ItemVectors):
        raise TypeError(f"model must be an ItemVectors, got {type(model).__name__}")
    check_frame(train, ["userId", "movieId", "rating", "timestamp"], "train")
    check_frame(test, ["userId", "movieId", "rating"], "test")
    k = check_int(k, "k", low=1)
    blend = check_fraction(blend, "blend")
    poolings = [check_choice(p, "poolings[i]", POOLINGS) for p in poolings]
    seed = check_seed(seed)
    liked_train = positive(train)
    popularity = liked_train["movieId"].value_counts()
    truth_items = model.ids if truth_items is None else np.asarray(truth_items, dtype=np.int64)
    truth = positive(test)
    truth = truth.loc[truth["movieId"].isin(truth_items), ["userId", "movieId"]]
    candidates = np.intersect1d(truth["userId"].unique(), liked_train.loc[liked_train["movieId"].isin(model.ids),
                                                                          "userId"].unique())
    if n_users is not None and len(candidates) > check_int(n_users, "n_users", low=1):
        candidates = np.sort(np.random.default_rng(seed).choice(candidates, n_users, replace=False))
    if len(candidates) == 0:
        raise ValueError("no user has both training and test positives of items with vectors")
    truth = truth.loc[truth["userId"].isin(candidates)]

    def measure(users: UserVectors, centre: bool, blend: float) -> tuple[float, float]:
        recs = fit_embedding_channel(model, users, train, centre=centre, blend=blend).recall(candidates, k)
        return score(recs)

    def score(recs: pd.DataFrame) -> tuple[float, float]:
        quality = evaluate_top_k(recs, truth, k)[f"recall@{k}"]
        return quality, float(popularity.reindex(recs["movieId"]).fillna(0).median())

    shared = "shared (pooled from the same model)"
    rows, pooled = [], {}
    for pooling in poolings:
        centred = pool_user_vectors(train, model, pooling=pooling, centre=True)
        pooled[pooling] = centred
        if pooling == "mean":
            rows.append((shared, pooling, "raw cosine", *measure(pool_user_vectors(train, model), False, 0.0)))
        rows.append((shared, pooling, "centred cosine", *measure(centred, True, 0.0)))
        if pooling == "mean":
            rows.append((shared, pooling, "centred cosine + popularity", *measure(centred, True, blend)))
    popularity_only = fit_popularity(train, catalogue=model.ids).recall(candidates, k)
    rows.append(("none", "-", "popularity only", *score(popularity_only)))
    if other_model is not None:
        other_users = pool_user_vectors(train, other_model, centre=True)
        aligned, _ = align_procrustes(other_model, model)
        aligned_users = pool_user_vectors(train, aligned, centre=True)
        pooled["independent (another run)"] = other_users
        pooled["independent, Procrustes-aligned"] = aligned_users
        rows.append(("independent (another run)", "mean", "centred cosine", *measure(other_users, True, 0.0)))
        rows.append(("independent, Procrustes-aligned", "mean", "centred cosine", *measure(aligned_users, True, 0.0)))
    table = pd.DataFrame(rows, columns=["user_vectors", "pooling", "scoring", f"recall@{k}", "median_positives"])
    if segments is not None:
        shares = []
        for u, p, sc in zip(table["user_vectors"], table["pooling"], table["scoring"]):
            users = pooled.get("mean") if u == shared else pooled.get(u)
            if sc == "centred cosine" and p == "mean" and users is not None:
                result = segment_neighbour_share(users, segments, seed=seed)
                shares.append(result["same_segment_share"])
                table.attrs["segment_chance"] = result["chance"]
            else:
                shares.append(np.nan)
        table["same_segment_share"] = shares
    # a random list of k items finds each held-out positive with chance about k / n_items
    table.attrs["chance"] = k / len(model.ids)
    return table
