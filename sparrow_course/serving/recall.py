"""Multi-channel recall (多路召回): the channels of chapters 04-07, fitted once, asked side by side.

Every channel keeps ``channels.RecallChannel``'s contract, so this module only decides which
channels to fit and how to ask them: one after another, or each on its own thread as the
multi-threaded recall layer of SparrowRecSys does. Threads help exactly as far as the work
releases the GIL: numpy's matrix products and partitions do (they run in C without the
interpreter lock), pandas' frame building and Python loops do not.
"""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..channels import RecallChannel, fit_popularity
from ..coldstart import ClusterChannel
from ..checks import check_dataset, check_frame, check_int, check_seed, check_user_ids
from ..datasets import RATING_COLUMNS, lacks
from ..embeddings import EmbeddingChannel, fit_embedding_channel, pool_user_vectors, positive_sequences, train_item2vec
from ..seeding import DEFAULT_SEED
from ..tags import TagMatcher

__all__ = ["CHANNEL_NAMES", "LSHUserChannel", "fit_channels", "fit_lsh_channel", "for_serving", "recall_all", "recall_latency"]

#: The channels of the capstone, in the order of their chapters.
CHANNEL_NAMES = ("popularity", "clusters", "tags", "EGES", "LSH user vectors")


@dataclass(frozen=True, eq=False, kw_only=True)
class LSHUserChannel(EmbeddingChannel):
    """Chapter 07's user vectors, searched through an LSH index instead of a full scan.

    Only the movies an LSH index over the item vectors puts in one of the user's buckets
    (``candidates``: bool users x items, sparse) can be recommended; among them the score is
    the cosine, as in :class:`~sparrow_course.embeddings.EmbeddingChannel`. A user without
    candidates is scored like one without a vector.
    """

    candidates: Any = None
    name: str = "LSH user vectors"

    @property
    def empty(self) -> np.ndarray:
        """Boolean per fitted user: no vector, or no LSH candidate."""
        counts = np.asarray(self.candidates.sum(axis=1)).ravel()
        return ~self.profiles.any(axis=1) | (counts == 0)

    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        cosine = np.round(self.profiles[rows] @ self.item_unit.T, 12)
        return np.where(self.candidates[rows].toarray(), cosine, -np.inf)


def fit_lsh_channel(train: pd.DataFrame, *, catalogue: Sequence[int], dim: int = 16, epochs: int = 5,
                    k: int = 2, n_tables: int = 4, width: float = 0.5, seed: int = DEFAULT_SEED) -> LSHUserChannel:
    """Item2vec on ``train``'s liked sequences, users as the mean of their liked items, and an LSH index (chapter 07).

    The index is ``n_tables`` tables of ``k`` p-stable functions of bucket width ``width`` over the
    centred unit item vectors; a user's candidates are the items in any of the user's buckets.
    """
    from scipy import sparse

    from ..lsh import LSHIndex

    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    seed = check_seed(seed)
    model = train_item2vec(positive_sequences(train), dim=dim, epochs=epochs, seed=seed)
    base = fit_embedding_channel(model, pool_user_vectors(train, model, centre=True), train, catalogue=catalogue)
    index = LSHIndex(k=k, n_tables=n_tables, width=width, seed=seed).fit(base.item_unit)
    r, c = index.candidates(base.profiles)  # (user row, item row): the items in any of the user's buckets
    keep = base.has_vector[c]
    candidates = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=bool), (r[keep], c[keep])),
                                   shape=base.profiles.shape[:1] + (len(base.item_ids),))
    candidates.sum_duplicates()
    fields = {f: getattr(base, f) for f in ("item_ids", "log_popularity", "user_ids", "rated", "item_unit",
                                            "has_vector", "profiles")}
    return LSHUserChannel(**fields, candidates=candidates.astype(bool))


def fit_channels(ml: Any, train: pd.DataFrame, *, eges_walks: int = 5_000, eges_epochs: int = 1, dim: int = 16,
                 n_clusters: int = 8, seed: int = DEFAULT_SEED) -> dict[str, RecallChannel]:
    """The five channels of :data:`CHANNEL_NAMES`, each fitted once on ``train`` (the catalogue: ``ml.movies``).

    Popularity (the baseline), cold-start clusters over the users' features (chapter 04), tag
    matching with TF-IDF and hierarchy (chapter 05), EGES item vectors with recency-weighted user
    vectors (chapter 06) and LSH over item2vec user vectors (chapter 07). On data with no tags
    (neither movie_tags.csv nor tags.csv) the tag channel matches on genres, as chapter 05 does;
    on data with no users.csv the clusters group users by their first visit's context (hour, weekday),
    as chapter 04 does.
    """
    from .. import coldstart, eges, tags

    check_dataset(ml)
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    seed = check_seed(seed)
    catalogue = np.sort(ml.movies["movieId"].to_numpy(np.int64))
    # data with no tags at all (real MovieLens subsets often): genres stand in for tags, as in chapter 05
    tag_source = "genres" if lacks(ml, "movie tags") and lacks(ml, "tags") else "auto"
    return {
        "popularity": fit_popularity(train, catalogue=catalogue, name="popularity"),
        "clusters": coldstart.fit_clusters(ml, train, n_clusters=check_int(n_clusters, "n_clusters", low=1),
                                           seed=seed),
        "tags": tags.fit_matcher(tags.catalogue_from(ml, source=tag_source), train, decay=0.5),
        "EGES": eges.fit_recall(ml, train, method="eges", n_walks=check_int(eges_walks, "eges_walks", low=1),
                                dim=dim, epochs=check_int(eges_epochs, "eges_epochs", low=1), seed=seed),
        "LSH user vectors": fit_lsh_channel(train, catalogue=catalogue, dim=dim, seed=seed),
    }


def _check_channels(channels: Any) -> dict[str, RecallChannel]:
    if not isinstance(channels, Mapping) or not channels:
        raise TypeError(f"channels must be a non-empty mapping of name -> RecallChannel, got {type(channels).__name__}")
    for name, channel in channels.items():
        if not isinstance(channel, RecallChannel):
            raise TypeError(f"channels[{name!r}] must be a RecallChannel, got {type(channel).__name__}")
    return dict(channels)


def recall_all(channels: Mapping[str, RecallChannel], user_ids: Any, k: int = 50, *,
               threads: bool = False) -> dict[str, pd.DataFrame]:
    """Each channel's top ``k`` for ``user_ids``: name -> DataFrame[userId, movieId, score], sequentially or on threads."""
    channels = _check_channels(channels)
    users = check_user_ids(user_ids)
    k = check_int(k, "k", low=1)
    if not threads:
        return {name: channel.recall(users, k) for name, channel in channels.items()}
    with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="recall") as pool:
        futures = {name: pool.submit(channel.recall, users, k) for name, channel in channels.items()}
        return {name: future.result() for name, future in futures.items()}


def recall_latency(channels: Mapping[str, RecallChannel], user_ids: Any, k: int = 50, *, repeats: int = 5,
                   batch: int = 1) -> pd.DataFrame:
    """Median wall-clock milliseconds to recall ``batch`` users from every channel, sequentially and on threads.

    One row per mode (and one per channel alone, sequential): ``ms`` (median over ``repeats``
    batches of ``user_ids``), and ``sum of channels`` for reference. A thread helps when the
    channels' work releases the GIL (numpy) and the machine has a free core.
    """
    channels = _check_channels(channels)
    users = check_user_ids(user_ids)
    repeats = check_int(repeats, "repeats", low=1)
    batch = check_int(batch, "batch", low=1)
    blocks = [users[(i * batch) % len(users):(i * batch) % len(users) + batch] for i in range(repeats)]
    blocks = [b for b in blocks if len(b)] or [users[:batch]]

    def median_ms(run) -> float:
        times = []
        for block in blocks:
            start = time.perf_counter()
            run(block)
            times.append(1000 * (time.perf_counter() - start))
        return float(np.median(times))

    rows = [{"mode": f"channel: {name}", "ms": median_ms(lambda b, c=c: c.recall(b, k))} for name, c in channels.items()]
    rows.append({"mode": "sequential", "ms": median_ms(lambda b: recall_all(channels, b, k))})
    rows.append({"mode": "threads", "ms": median_ms(lambda b: recall_all(channels, b, k, threads=True))})
    return pd.DataFrame(rows)




# --------------------------------------------------------------------------- offline work moved out of the request

def _fields(channel: RecallChannel) -> dict[str, Any]:
    return {f.name: getattr(channel, f.name) for f in dataclasses.fields(channel) if f.init}


def for_serving(channels: Mapping[str, RecallChannel]) -> dict[str, RecallChannel]:
    """The same channels with the work that does not depend on the request done once, offline.

    A request asks for one user, so what a channel computes per call for any user is paid on
    every request: the cold-start clusters find a user's cluster from features read off the
    whole ratings table, and tag matching densifies the item-tag matrix. Here the clusters of
    every user the dataset describes are assigned once and the dense item-tag matrix built
    once; the scores, and so every recommendation, are the same (a test checks it).
    """
    out = {}
    for name, channel in _check_channels(channels).items():
        if isinstance(channel, ClusterChannel) and not isinstance(channel, _AssignedClusters):
            known = np.unique(channel.ml.ratings["userId"].to_numpy(np.int64))  # every user with a first visit
            labels = pd.Series(channel.assign(known), index=known)
            channel = _AssignedClusters(**_fields(channel), labels=labels)
        elif isinstance(channel, TagMatcher) and not isinstance(channel, _DenseTags):
            channel = _DenseTags(**_fields(channel), dense_items=channel.vectors.T.toarray())
        out[name] = channel
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class _AssignedClusters(ClusterChannel):
    """Cold-start clusters with the cluster of every user the dataset knows assigned once (see :func:`for_serving`)."""

    labels: pd.Series = None

    def assign(self, user_ids: Sequence[int]) -> np.ndarray:
        found = self.labels.reindex(np.asarray(user_ids, dtype=np.int64))
        return super().assign(user_ids) if found.isna().any() else found.to_numpy(np.int64)

    def _known(self, users: np.ndarray) -> np.ndarray:
        return np.isin(users, self.labels.index.to_numpy())


@dataclass(frozen=True, eq=False, kw_only=True)
class _DenseTags(TagMatcher):
    """Tag matching with the item-tag matrix densified once (see :func:`for_serving`)."""

    dense_items: np.ndarray = None

    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        scores = self.profiles[rows].toarray() @ self.dense_items
        return np.round(scores, 12, out=scores)
