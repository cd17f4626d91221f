"""EGES vectors as a user-level recall channel, in the one interface of the recall chapters.

:func:`fit_recall` trains item vectors (EGES, or DeepWalk alone) on training ratings and
returns an ``embeddings.EmbeddingChannel``: ``channel.recall(user_ids, k)``. A user's vector is
the recency-weighted mean of the centred, unit-length vectors of the movies they liked in
training (the latest like weighs 1, each earlier one halves every ``half_life`` likes).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..channels import fit_popularity
from ..checks import check_choice, check_choices, check_dataset, check_fraction, check_frame, check_int, check_seed
from ..datasets import RATING_COLUMNS, MovieLens, positive, user_time_split
from ..embeddings import (EmbeddingChannel, ItemVectors, UserVectors, deepwalk, fit_embedding_channel,
                          positive_sequences, random_walks, transition_graph)
from ..metrics import evaluate_top_k
from ..seeding import DEFAULT_SEED
from .model import EGESModel, SideInformation, side_information, train_eges

__all__ = ["RECALL_METHODS", "recency_user_vectors", "fit_recall", "recall_experiment"]

#: Item vectors the user-level recall channel can be fitted with: EGES, or DeepWalk (BGE) alone.
RECALL_METHODS = ("eges", "bge")


def _check_rating_ids(train: pd.DataFrame, name: str = "train") -> None:
    """Integer userId and movieId columns: a string or float id would fail deep inside, or be truncated."""
    for column in ("userId", "movieId"):
        kind = train[column].dtype.kind
        if kind not in "iu":
            raise TypeError(f"{name}['{column}'] must hold integer ids, got dtype {train[column].dtype} "
                            f"(e.g. {train[column].iloc[0]!r}); load the ratings with datasets.load_movielens")


def recency_user_vectors(vectors: EGESModel | ItemVectors, train: pd.DataFrame, *, catalogue: Any = None,
                         half_life: int = 10) -> UserVectors:
    """Each user's vector: the recency-weighted sum of the centred unit vectors of the movies they liked.

    The latest like weighs 1 and each earlier one halves every ``half_life`` likes (counted
    over every like of a ``catalogue`` movie, with a vector or not); a movie without a
    vector adds nothing. Users whose likes have no vector get a zero vector.
    """
    from scipy import sparse

    if isinstance(vectors, EGESModel):
        vectors = vectors.item_vectors()
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be an EGESModel or ItemVectors, got {type(vectors).__name__}")
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    _check_rating_ids(train)
    half_life = check_int(half_life, "half_life", low=1)
    items = np.unique(np.asarray(vectors.ids if catalogue is None else catalogue, dtype=np.int64))
    unit_all = vectors.centred().normalized()
    has_vector = np.isin(items, vectors.ids)
    item_unit = np.zeros((len(items), vectors.dim))
    item_unit[has_vector] = unit_all[vectors.rows(items[has_vector])]
    users = np.unique(train["userId"].to_numpy(np.int64))
    liked = positive(train).sort_values(["userId", "timestamp", "movieId"], kind="stable")
    from_latest = liked.groupby("userId").cumcount(ascending=False).to_numpy()
    weight = 0.5 ** (from_latest / half_life)
    cols = pd.Index(items).get_indexer(liked["movieId"])
    keep = cols >= 0
    user_rows = pd.Index(users).get_indexer(liked["userId"])
    likes = sparse.csr_matrix((weight[keep], (user_rows[keep], cols[keep])), shape=(len(users), len(items)))
    return UserVectors(users, np.asarray(likes @ item_unit), np.asarray((likes > 0).sum(axis=1)).ravel())


def _channel(vectors: EGESModel | ItemVectors, train: pd.DataFrame, catalogue: np.ndarray, half_life: int,
             name: str) -> EmbeddingChannel:
    items = vectors.item_vectors() if isinstance(vectors, EGESModel) else vectors
    users = recency_user_vectors(items, train, catalogue=catalogue, half_life=half_life)
    return fit_embedding_channel(items, users, train, catalogue=catalogue, centre=True, name=name)


def fit_recall(ml: MovieLens, train: pd.DataFrame, *, method: str = "eges", n_walks: int = 10_000,
               length: int = 10, dim: int = 16, epochs: int = 2, w2v_epochs: int = 5, half_life: int = 10,
               blend: float = 0.0, side: SideInformation | None = None, seed: int = DEFAULT_SEED) -> EmbeddingChannel:
    """Train item vectors on ``train`` alone and fit the recall channel on them.

    The item graph is built from the training ratings' positive sequences; ``method="eges"``
    trains EGES on walks over it for ``epochs`` epochs (every catalogue movie gets a vector,
    an unwalked one from its side information), ``method="bge"`` trains DeepWalk on the same
    walks (only walked movies get one). The catalogue is ``ml.movies``; no held-out rating
    reaches the vectors or the user profiles.
    """
    check_dataset(ml)
    check_choice(method, "method", RECALL_METHODS)
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    _check_rating_ids(train)
    half_life = check_int(half_life, "half_life", low=1)
    seed = check_seed(seed)
    side = side_information(ml) if side is None else side
    if not isinstance(side, SideInformation):
        raise TypeError(f"side must be a SideInformation (from side_information), got {type(side).__name__}")
    sequences = positive_sequences(train[train["movieId"].isin(side.ids)])
    graph = transition_graph(sequences)
    if method == "bge":
        vectors: Any = deepwalk(graph, n_walks=n_walks, length=length, seed=seed, dim=dim, window=2,
                                epochs=w2v_epochs)
    else:
        walks = random_walks(graph, n_walks=n_walks, length=length, seed=seed)
        vectors = train_eges(walks, side, method="eges", dim=dim, epochs=epochs, seed=seed)
    name = "EGES vectors" if method == "eges" else "DeepWalk (BGE) vectors"
    return _channel(vectors, train, side.ids, half_life, name).with_blend(blend)


def recall_experiment(ml: MovieLens, *, k: int = 20, test_fraction: float = 0.2, n_walks: int = 10_000,
                      length: int = 10, dim: int = 16, epochs: int = 2, w2v_epochs: int = 5, half_life: int = 10,
                      blend: float = 0.5, methods: Sequence[str] = RECALL_METHODS, seed: int = DEFAULT_SEED
                      ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """recall@k and NDCG@k of the channel with EGES and with DeepWalk vectors, against popularity, on held-out likes.

    The shared per-user time split; the truth is each user's held-out positives (rating >= 3.5),
    for users with a liked movie on both sides. Rows: popularity (training likes, unrated
    movies only), DeepWalk (BGE) vectors, EGES vectors, and each blended with popularity
    (``blend``, fixed beforehand, not tuned on the held-out likes); ``methods`` picks which
    vectors to fit ("eges", "bge"). Returns the table (sorted by recall, best first) and the
    fitted channels.
    """
    check_dataset(ml)
    k = check_int(k, "k", low=1)
    blend = check_fraction(blend, "blend", include_low=False, include_high=False)
    methods = check_choices(methods, "methods", RECALL_METHODS)
    train, test = user_time_split(ml.ratings, test_fraction)
    truth = positive(test)[["userId", "movieId"]]
    users = np.intersect1d(truth["userId"].unique(), positive(train)["userId"].unique())
    if len(users) == 0:
        raise ValueError("no user has a liked movie both before and after the split; nothing to evaluate")
    truth = truth[truth["userId"].isin(users)]
    side = side_information(ml)
    common = dict(n_walks=n_walks, length=length, dim=dim, epochs=epochs, w2v_epochs=w2v_epochs,
                  half_life=half_life, side=side, seed=seed)
    channels = {m: fit_recall(ml, train, method=m, **common) for m in methods}
    names = {"eges": "EGES", "bge": "DeepWalk"}
    popularity = fit_popularity(train, catalogue=side.ids, name="popularity (unrated movies)")
    runs = {popularity.name: popularity.recall(users, k)}
    for channel in channels.values():
        runs[channel.name] = channel.recall(users, k)
    for m, channel in channels.items():
        runs[f"{names[m]} + popularity (blend {blend:g})"] = channel.with_blend(blend).recall(users, k)
    rows = []
    for name, recs in runs.items():
        result = evaluate_top_k(recs, truth, k, n_items=len(side))
        rows.append({"channel": name, f"recall@{k}": result[f"recall@{k}"], f"ndcg@{k}": result[f"ndcg@{k}"],
                     "coverage": result["coverage"], "users": int(result["users"])})
    table = pd.DataFrame(rows).sort_values(f"recall@{k}", ascending=False, kind="stable").reset_index(drop=True)
    return table, {"channels": channels, "popularity": popularity, "train": train, "truth": truth, "users": users,
                   "recommendations": runs}
