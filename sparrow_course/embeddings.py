"""Embeddings shared by chapters 04, 06 and 07: item2vec, DeepWalk, and user vectors in the item space.

The pipeline of SparrowRecSys's offline embedding job, in Python::

    sequences = positive_sequences(ml.ratings)           # each user's liked movies, in time order
    item2vec = train_item2vec(sequences, seed=1)          # Word2Vec over the sequences
    graph = transition_graph(sequences)                   # weighted item -> next-item edges
    walks = random_walks(graph, n_walks=20_000, length=10, seed=1)
    deepwalk = train_item2vec(walks, seed=1)              # DeepWalk = Word2Vec over random walks

Both give an :class:`ItemVectors`: movie ids and one vector per movie, with lookups and
nearest neighbours. Walks are advanced many at a time with numpy (a cumulative-sum
search over the rows of a CSR matrix), optionally with node2vec's return and in-out
parameters ``p`` and ``q``.

User vectors live beside them: :func:`pool_user_vectors` pools the vectors of the films a
user liked (SparrowRecSys: the mean) into a :class:`UserVectors` in the same space;
:func:`align_procrustes` rotates one embedding run onto another; and
:func:`fit_embedding_channel` turns item and user vectors into a recall channel
(``channels.RecallChannel``: cosine of user and item, blended with popularity).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .channels import ProfileChannel, like_popularity, interaction_matrix
from .checks import (check_array, check_bool, check_choice, check_frame, check_int, check_known_ids, check_memory,
                     check_number, check_seed)
from .datasets import POSITIVE_THRESHOLD, RATING_COLUMNS, positive
from .seeding import DEFAULT_SEED

__all__ = [
    "ItemVectors",
    "TransitionGraph",
    "positive_sequences",
    "train_item2vec",
    "transition_graph",
    "random_walks",
    "deepwalk",
    "POOLINGS",
    "UserVectors",
    "pool_user_vectors",
    "align_procrustes",
    "unit_rows",
    "EmbeddingChannel",
    "fit_embedding_channel",
]


# ---------------------------------------------------------------------------
# Sequences
# ---------------------------------------------------------------------------


def positive_sequences(ratings: pd.DataFrame, *, threshold: float = POSITIVE_THRESHOLD,
                       min_length: int = 2) -> pd.Series:
    """Each user's positively rated movies (rating >= ``threshold``) in time order, as SparrowRecSys builds them.

    Returns a Series indexed by userId whose values are lists of movieIds; users with
    fewer than ``min_length`` positives are dropped (a one-item sequence has no context).
    Ties in time are broken by movieId, so the order is deterministic.
    """
    check_frame(ratings, ["userId", "movieId", "rating", "timestamp"], "ratings")
    threshold = check_number(threshold, "threshold", low=0.5, high=5.0)
    min_length = check_int(min_length, "min_length", low=1)
    liked = positive(ratings, threshold)[["userId", "movieId", "timestamp"]]
    liked = liked.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    sequences = liked.groupby("userId", sort=True)["movieId"].agg(list)
    sequences = sequences[sequences.map(len) >= min_length]
    if sequences.empty:
        raise ValueError(f"no user has {min_length} or more ratings >= {threshold}; there are no sequences "
                         "to learn from (check the threshold and the ratings' scale)")
    sequences.name = "movieIds"
    return sequences


def _check_integral(values: Any, name: str) -> None:
    """Movie ids must be whole numbers: 1.7 is not movie 1, and "12" is not a number."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer movie ids, got dtype {arr.dtype}")
    finite = np.isfinite(arr)
    if not finite.all() or (arr != np.round(arr)).any():
        bad = arr[~finite | (arr != np.round(arr))].ravel()[:3]
        raise ValueError(f"{name} must hold integer movie ids, got non-integer value(s) {bad.tolist()}")


def _as_sequences(sequences: Any, name: str = "sequences") -> list[list[int]]:
    """Accept a Series or list of id lists, or a 2-D walk array padded with -1; return lists of ints."""
    if isinstance(sequences, pd.Series):
        sequences = sequences.tolist()
    if isinstance(sequences, np.ndarray):
        if sequences.ndim != 2:
            raise ValueError(f"{name} as an array must be 2-D (walks x steps), got shape {sequences.shape}")
        if sequences.dtype.kind not in "iu":
            _check_integral(sequences, name)
        out = [[int(v) for v in row if v >= 0] for row in sequences]
    elif isinstance(sequences, (list, tuple)):
        out = []
        for i, seq in enumerate(sequences):
            if isinstance(seq, (str, bytes)) or not hasattr(seq, "__iter__"):
                raise TypeError(f"{name}[{i}] must be a list of movie ids, got {type(seq).__name__}")
            values = list(seq)
            if values and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
                _check_integral(values, f"{name}[{i}]")
            out.append([int(v) for v in values])
    else:
        raise TypeError(f"{name} must be a list of id lists, a pandas Series of them, or a 2-D walk array; "
                        f"got {type(sequences).__name__}")
    out = [s for s in out if len(s) >= 2]
    if not out:
        raise ValueError(f"{name} holds no sequence of 2 or more items; nothing to learn from")
    return out


# ---------------------------------------------------------------------------
# Item vectors
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ItemVectors:
    """Movie ids and their vectors (one row each), with lookups and nearest neighbours."""

    ids: np.ndarray       # int64 movie ids, sorted
    vectors: np.ndarray   # float64, shape (len(ids), dim)

    def __post_init__(self) -> None:
        raw = np.asarray(self.ids)
        if raw.ndim != 1:
            raise ValueError(f"ids must be a 1-D array of movie ids, got shape {raw.shape}")
        if raw.dtype.kind not in "iu":
            _check_integral(raw, "ids")
        ids = raw.astype(np.int64)
        vectors = check_array(self.vectors, "vectors", ndim=2)
        if len(ids) != len(vectors):
            raise ValueError(f"ids and vectors differ in length: {len(ids)} and {len(vectors)}")
        order = np.argsort(ids, kind="stable")
        if len(ids) > 1 and (np.diff(ids[order]) == 0).any():
            raise ValueError("ids must be unique")
        object.__setattr__(self, "ids", ids[order])
        object.__setattr__(self, "vectors", vectors[order])

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, movie_id: object) -> bool:
        return np.ndim(movie_id) == 0 and bool(np.isin(movie_id, self.ids))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def rows(self, movie_ids: Iterable[int] | int) -> np.ndarray:
        """Row positions of ``movie_ids``; UnknownIdError (a KeyError) naming the ids that have no vector."""
        return check_known_ids(movie_ids, self.ids, "movie_ids", what="movie id(s) with no vector",
                               hint="unseen in training, or dropped by min_count")

    def get(self, movie_ids: Iterable[int] | int) -> np.ndarray:
        """Vectors of ``movie_ids`` (one row each; a single id gives a 1-D vector)."""
        rows = self.rows(movie_ids)
        return self.vectors[rows[0]] if np.ndim(movie_ids) == 0 else self.vectors[rows]

    def centred(self) -> "ItemVectors":
        """The same vectors minus their mean.

        Word2Vec vectors share a common direction (their mean is far from zero), so raw
        cosines are all high; centring removes it, and cosines then compare directions
        of taste rather than that shared offset.
        """
        return ItemVectors(self.ids, self.vectors - self.vectors.mean(axis=0))

    def normalized(self) -> np.ndarray:
        """Rows scaled to unit length (zero rows stay zero)."""
        return unit_rows(self.vectors)

    def similar(self, movie_id: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` movies with the highest cosine to ``movie_id`` (itself excluded), best first."""
        n = check_int(n, "n", low=1)
        unit = self.normalized()
        row = int(self.rows(movie_id)[0])
        cos = unit @ unit[row]
        cos[row] = -np.inf
        n = min(n, len(self.ids) - 1)
        order = np.argsort(-cos, kind="stable")[:n]
        return pd.DataFrame({"movieId": self.ids[order], "cosine": cos[order]})


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length; a zero row stays zero (it points nowhere)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def _stable_hash(text: str) -> int:
    """A hash of a string that does not change between Python processes (unlike ``hash``)."""
    return zlib.crc32(text.encode("utf-8"))


def train_item2vec(sequences: Any, *, dim: int = 10, window: int = 5, epochs: int = 10, min_count: int = 1,
                   negative: int = 5, ns_exponent: float = 0.75, sample: float = 1e-3, sg: int = 1,
                   seed: int = DEFAULT_SEED, workers: int = 1) -> ItemVectors:
    """Word2Vec (skip-gram, negative sampling) over item sequences, as SparrowRecSys's item2vec (dim 10, window 5, 10 epochs).

    Reproducible: the seed, a process-independent hash for the initial vectors and one
    worker thread make the same call return the same vectors. One worker is the price of
    that: gensim's threads race on shared weights, so ``workers=2`` trains about 1.5-2x
    faster on two cores but gives slightly different vectors each run.
    ``sequences`` is a list of movie-id lists, a Series of them (from
    :func:`positive_sequences`) or a walk array from :func:`random_walks`.
    """
    from gensim.models import Word2Vec

    seqs = _as_sequences(sequences)
    dim = check_int(dim, "dim", low=1, high=4096)
    window = check_int(window, "window", low=1)
    epochs = check_int(epochs, "epochs", low=1, high=10_000)
    min_count = check_int(min_count, "min_count", low=1)
    negative = check_int(negative, "negative", low=1)
    ns_exponent = check_number(ns_exponent, "ns_exponent", low=-5.0, high=5.0)
    sample = check_number(sample, "sample", low=0.0, high=1.0)
    if sg not in (0, 1) or isinstance(sg, bool):
        raise ValueError(f"sg must be 1 (skip-gram) or 0 (CBOW), got {sg!r}")
    seed = check_seed(seed)
    workers = check_int(workers, "workers", low=1, high=64)
    most = int(pd.Series([v for s in seqs for v in s]).value_counts().iloc[0])
    if most < min_count:
        raise ValueError(f"min_count={min_count} leaves no item to train: the most frequent item appears "
                         f"{most:,} times; lower min_count to at most {most:,}")
    sentences = [[str(v) for v in s] for s in seqs]
    model = Word2Vec(sentences=sentences, vector_size=dim, window=window, min_count=min_count, sg=sg,
                     negative=negative, ns_exponent=ns_exponent, sample=sample, epochs=epochs, seed=seed,
                     workers=workers, hashfxn=_stable_hash)
    if len(model.wv.index_to_key) == 0:
        raise ValueError(f"no item appears min_count={min_count} times; lower min_count")
    ids = np.array([int(k) for k in model.wv.index_to_key], dtype=np.int64)
    return ItemVectors(ids, np.asarray(model.wv.vectors, dtype=np.float64))


# ---------------------------------------------------------------------------
# The item graph and random walks
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TransitionGraph:
    """A weighted directed item graph: ``matrix[i, j]`` counts how often item ``ids[j]`` followed ``ids[i]``."""

    ids: np.ndarray            # int64 movie ids, sorted; node i is ids[i]
    matrix: sp.csr_matrix      # (n, n) float64 weights, rows = from, columns = to

    @property
    def n_nodes(self) -> int:
        return len(self.ids)

    @property
    def n_edges(self) -> int:
        return int(self.matrix.nnz)

    def out_weight(self) -> np.ndarray:
        """Total out-going weight of each node (0 for a dangling node)."""
        return np.asarray(self.matrix.sum(axis=1)).ravel()

    def edges(self) -> pd.DataFrame:
        """One row per edge: source and target movie ids and the weight."""
        coo = self.matrix.tocoo()
        frame = pd.DataFrame({"source": self.ids[coo.row], "target": self.ids[coo.col], "weight": coo.data})
        return frame.sort_values(["source", "target"], kind="stable").reset_index(drop=True)


def transition_graph(sequences: Any, *, exclude_edges: pd.DataFrame | None = None) -> TransitionGraph:
    """The item transition graph: an edge a -> b weighted by how often b directly follows a in a sequence.

    ``exclude_edges`` (columns source, target) removes those pairs, in either direction, so
    link-prediction experiments can hold edges out of everything learned from the graph.
    Self-loops (a film liked twice in a row cannot happen in ratings) are dropped.
    """
    seqs = _as_sequences(sequences)
    src = np.concatenate([np.asarray(s[:-1], dtype=np.int64) for s in seqs])
    dst = np.concatenate([np.asarray(s[1:], dtype=np.int64) for s in seqs])
    keep = src != dst
    src, dst = src[keep], dst[keep]
    if exclude_edges is not None:
        check_frame(exclude_edges, ["source", "target"], "exclude_edges")
        a = exclude_edges["source"].to_numpy(np.int64)
        b = exclude_edges["target"].to_numpy(np.int64)
        held = set(zip(a.tolist(), b.tolist())) | set(zip(b.tolist(), a.tolist()))
        keep = np.fromiter(((s, d) not in held for s, d in zip(src.tolist(), dst.tolist())), dtype=bool,
                           count=len(src))
        src, dst = src[keep], dst[keep]
    if src.size == 0:
        raise ValueError("the sequences give a graph with no edges: every sequence needs two different "
                         "consecutive items")
    ids = np.unique(np.concatenate([src, dst]))
    n = len(ids)
    matrix = sp.csr_matrix((np.ones(src.size), (np.searchsorted(ids, src), np.searchsorted(ids, dst))),
                           shape=(n, n))
    matrix.sum_duplicates()
    matrix.sort_indices()
    return TransitionGraph(ids, matrix)


#: Rounds of rejection sampling before a node2vec step is drawn from its exact distribution.
_MAX_REJECTION_ROUNDS = 30


def random_walks(graph: TransitionGraph, *, n_walks: int = 20_000, length: int = 10, p: float = 1.0,
                 q: float = 1.0, start: str = "weighted", seed: int = DEFAULT_SEED) -> np.ndarray:
    """Weighted random walks over ``graph``, all advanced together; returns an int64 array (n_walks, length).

    From node i the next node is j with probability weight(i, j) / out_weight(i), found by a
    binary search in the cumulative weights of row i, for every walk at once. Starting
    nodes are drawn in proportion to their out-going weight (``start="weighted"``, as
    SparrowRecSys) or uniformly among nodes with out-edges (``"uniform"``). A walk that
    reaches a node with no out-edges (dangling) stops there: the rest of its row is -1.

    With ``p`` or ``q`` other than 1 the walk is node2vec's second-order walk: a step back
    to the previous node is weighted 1/p, a step to a neighbour of the previous node 1,
    any other step 1/q. It is drawn by rejection (propose from the first-order weights,
    accept with probability factor / max factor), still vectorised over walks; a walk whose
    proposals are still rejected after a few rounds (an extreme p or q makes acceptance
    rare) draws its step from the exact second-order distribution of its node instead.
    """
    if not isinstance(graph, TransitionGraph):
        raise TypeError(f"graph must be a TransitionGraph (from transition_graph), got {type(graph).__name__}")
    n_walks = check_int(n_walks, "n_walks", low=1)
    length = check_int(length, "length", low=1)
    check_memory(8.0 * n_walks * length, f"random_walks(n_walks={n_walks}, length={length})")
    p = check_number(p, "p", low=0.0, include_low=False)
    q = check_number(q, "q", low=0.0, include_low=False)
    if start not in ("weighted", "uniform"):
        raise ValueError(f"start must be 'weighted' or 'uniform', got {start!r}")
    seed = check_seed(seed)
    if graph.n_edges == 0:
        raise ValueError("the graph has no edges; there is nowhere to walk")
    rng = np.random.default_rng(seed)
    m = graph.matrix
    indptr, indices = m.indptr, m.indices
    cum = np.cumsum(m.data)                          # global running weight, row after row
    row_base = np.concatenate([[0.0], cum])[indptr[:-1]]   # running weight before each row
    out = graph.out_weight()
    alive_nodes = np.flatnonzero(out > 0)
    start_p = out[alive_nodes] / out[alive_nodes].sum() if start == "weighted" else None
    walks = np.full((n_walks, length), -1, dtype=np.int64)
    walks[:, 0] = rng.choice(alive_nodes, size=n_walks, p=start_p)

    def step(current: np.ndarray) -> np.ndarray:
        target = row_base[current] + rng.random(current.size) * out[current]
        pos = np.searchsorted(cum, target, side="right")
        pos = np.clip(pos, indptr[current], indptr[current + 1] - 1)
        return indices[pos]

    second_order = not (p == 1.0 and q == 1.0)
    if second_order:
        edge_keys = np.sort(np.repeat(np.arange(graph.n_nodes, dtype=np.int64), np.diff(indptr))
                            * graph.n_nodes + indices)
        top = max(1.0 / p, 1.0, 1.0 / q)

        def factor_of(prev: np.ndarray, proposal: np.ndarray) -> np.ndarray:
            keys = prev * graph.n_nodes + proposal
            at = np.minimum(np.searchsorted(edge_keys, keys), edge_keys.size - 1)
            return np.where(proposal == prev, 1.0 / p, np.where(edge_keys[at] == keys, 1.0, 1.0 / q))
    for t in range(1, length):
        cur = walks[:, t - 1]
        live = np.flatnonzero((cur >= 0))
        live = live[out[cur[live]] > 0]
        if live.size == 0:
            break
        if not second_order or t == 1:
            walks[live, t] = step(cur[live])
            continue
        pending = live
        for _ in range(_MAX_REJECTION_ROUNDS):
            if not pending.size:
                break
            c, prev = walks[pending, t - 1], walks[pending, t - 2]
            proposal = step(c)
            accept = rng.random(pending.size) * top < factor_of(prev, proposal)
            walks[pending[accept], t] = proposal[accept]
            pending = pending[~accept]
        for w in pending:   # rejection is slow here (an extreme p or q): draw from the exact distribution
            c, prev = walks[w, t - 1], walks[w, t - 2]
            nbrs = indices[indptr[c]:indptr[c + 1]]
            weights = m.data[indptr[c]:indptr[c + 1]] * factor_of(np.full(nbrs.size, prev), nbrs)
            walks[w, t] = nbrs[np.searchsorted(np.cumsum(weights), rng.random() * weights.sum(), side="right")
                               .clip(max=nbrs.size - 1)]
    valid = walks >= 0
    walks[valid] = graph.ids[walks[valid]]
    return walks


def deepwalk(graph: TransitionGraph, *, n_walks: int = 20_000, length: int = 10, p: float = 1.0, q: float = 1.0,
             seed: int = DEFAULT_SEED, **word2vec: Any) -> ItemVectors:
    """DeepWalk (node2vec when p, q != 1): Word2Vec trained on random walks over the item graph."""
    walks = random_walks(graph, n_walks=n_walks, length=length, p=p, q=q, seed=seed)
    return train_item2vec(walks, seed=seed, **word2vec)


# ---------------------------------------------------------------------------
# User vectors in the item space
# ---------------------------------------------------------------------------

#: How a user's liked items are pooled: plain mean; sum (same direction as the mean, so the same
#: cosines, but longer for active users); weighted by rating; weighted by recency (half-life in days).
POOLINGS = ("mean", "sum", "rating", "recency")


@dataclass(frozen=True, eq=False)
class UserVectors:
    """User ids (sorted) and one pooled vector per user, in the space of the item vectors they came from."""

    ids: np.ndarray
    vectors: np.ndarray
    n_items: np.ndarray  # how many liked items each vector pools

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, user_ids: Any) -> np.ndarray:
        """Row positions of ``user_ids``; UnknownIdError (a KeyError) naming ids without a vector."""
        return check_known_ids(user_ids, self.ids, "user_ids",
                               what="user id(s) with no vector (no liked item with a vector)")


def pool_user_vectors(ratings: pd.DataFrame, items: ItemVectors, *, pooling: str = "mean",
                      threshold: float = POSITIVE_THRESHOLD, half_life_days: float = 180.0,
                      centre: bool = False) -> UserVectors:
    """Each user's vector: the pooled vectors of the items they rated >= ``threshold`` (SparrowRecSys: the mean).

    ``pooling``: "mean", "sum", "rating" (weights = the rating) or "recency" (weights halve
    every ``half_life_days`` before the user's latest liked rating). ``centre=True`` pools
    the item vectors minus their mean, the space in which cosines compare tastes. Items
    without a vector are skipped; users with no liked item that has one get no vector.
    """
    check_frame(ratings, ["userId", "movieId", "rating", "timestamp"], "ratings")
    if not isinstance(items, ItemVectors):
        raise TypeError(f"items must be an ItemVectors (from embeddings.train_item2vec), got {type(items).__name__}")
    check_choice(pooling, "pooling", POOLINGS)
    threshold = check_number(threshold, "threshold")
    half_life_days = check_number(half_life_days, "half_life_days", low=0.0, include_low=False)
    check_bool(centre, "centre")
    for column in ("userId", "movieId"):
        if ratings[column].dtype.kind not in "iu":
            raise TypeError(f"ratings['{column}'] must hold integer ids, got dtype {ratings[column].dtype} "
                            f"(e.g. {ratings[column].iloc[0]!r}); load ratings with datasets.load_movielens, "
                            "or map the ids to integers first")
    liked = positive(ratings, threshold)
    liked = liked.loc[liked["movieId"].isin(items.ids)]
    if liked.empty:
        raise ValueError(f"no rating >= {threshold} is of an item with a vector; nothing to pool")
    liked = liked.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    vecs = items.vectors - items.vectors.mean(axis=0) if centre else items.vectors
    user_ids, user_pos = np.unique(liked["userId"].to_numpy(np.int64), return_inverse=True)
    check_memory(8.0 * len(user_ids) * vecs.shape[1], f"{len(user_ids)} user vectors")
    if pooling in ("mean", "sum"):
        weight = np.ones(len(liked))
    elif pooling == "rating":
        weight = liked["rating"].to_numpy(float)
    else:
        ts = liked["timestamp"].to_numpy(float)
        latest = pd.Series(ts).groupby(user_pos).transform("max").to_numpy()
        weight = 0.5 ** ((latest - ts) / (half_life_days * 86_400.0))
    total = np.zeros((len(user_ids), vecs.shape[1]))
    np.add.at(total, user_pos, weight[:, None] * vecs[items.rows(liked["movieId"].to_numpy())])
    if pooling != "sum":
        total /= np.bincount(user_pos, weights=weight)[:, None]
    return UserVectors(user_ids, total, np.bincount(user_pos))


def align_procrustes(source: ItemVectors, target: ItemVectors, *, on: Iterable[int] | None = None
                     ) -> tuple[ItemVectors, pd.DataFrame]:
    """Rotate ``source`` into ``target``'s space by orthogonal Procrustes on the items both share (or ``on``).

    Two Word2Vec runs (another seed, other data) learn the same geometry up to a rotation;
    vectors are comparable across runs only after this alignment: centre both on the shared
    items, find the rotation R minimising ||S R - T||, map every source vector. Returns the
    aligned source and a table of the fit: relative error ||S R - T|| / ||T|| on the shared
    items before and after (a small error after: the runs differ by little more than a rotation).
    """
    from scipy.linalg import orthogonal_procrustes

    for name, v in (("source", source), ("target", target)):
        if not isinstance(v, ItemVectors):
            raise TypeError(f"{name} must be ItemVectors, got {type(v).__name__}")
    if source.dim != target.dim:
        raise ValueError(f"source and target differ in dimension: {source.dim} and {target.dim}; Procrustes needs "
                         "vectors of one size")
    shared = np.intersect1d(source.ids, target.ids) if on is None else np.unique(np.asarray(on, dtype=np.int64))
    if shared.size < source.dim:
        raise ValueError(f"{shared.size} shared items are too few to align {source.dim}-dimensional vectors; "
                         "Procrustes needs at least the dimension")
    s, t = source.get(shared), target.get(shared)
    mu_s, mu_t = s.mean(axis=0), t.mean(axis=0)
    s, t = s - mu_s, t - mu_t
    rotation, _ = orthogonal_procrustes(s, t)
    norm = np.linalg.norm(t)
    fit = pd.DataFrame({"step": ["before (centred)", "after rotation"],
                        "relative_error": [np.linalg.norm(s - t) / norm, np.linalg.norm(s @ rotation - t) / norm],
                        "shared_items": len(shared)})
    return ItemVectors(source.ids, (source.vectors - mu_s) @ rotation + mu_t), fit


# ---------------------------------------------------------------------------
# The embedding recall channel: user vectors against item vectors
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True)
class EmbeddingChannel(ProfileChannel):
    """A recall channel in the shared space: cosine of each user's vector with every item's (``channels``' contract).

    It knows a user who has a vector (liked a film with one); items without a vector have a
    zero row and, at blend 0, are never recommended.
    """

    item_unit: np.ndarray           # (n_items, dim) unit item vectors (centred first, if so fitted); zero rows: no vector
    has_vector: np.ndarray          # bool per item
    profiles: np.ndarray            # (n_users, dim) unit user vectors; zero rows for users without one
    name: str = "embedding vectors"

    @property
    def empty(self) -> np.ndarray:
        """Boolean per fitted user: True where the user has no vector (an empty profile)."""
        return ~self.profiles.any(axis=1)

    @property
    def unknown_items(self) -> np.ndarray:
        """Boolean per item: True where the movie has no vector (alone, the channel cannot score it)."""
        return ~self.has_vector

    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        # 12 decimals: equal vectors score exactly equal, so ties break by item order
        return np.round(self.profiles[rows] @ self.item_unit.T, 12)


def fit_embedding_channel(items: ItemVectors, users: UserVectors, train: pd.DataFrame, *,
                          catalogue: Iterable[int] | None = None, centre: bool = True, name: str = "embedding vectors",
                          blend: float = 0.0) -> EmbeddingChannel:
    """The recall channel of ``users`` against ``items`` (one space), never recommending what ``train`` rated.

    ``centre`` subtracts the item vectors' mean first (pool the users with ``centre=True``
    too); ``catalogue`` is the movie ids that may be recommended (default: every item with a
    vector). Popularity for the blend is the likes in ``train``.
    """
    if not isinstance(items, ItemVectors):
        raise TypeError(f"items must be ItemVectors, got {type(items).__name__}")
    if not isinstance(users, UserVectors):
        raise TypeError(f"users must be UserVectors (from pool_user_vectors), got {type(users).__name__}")
    if users.vectors.shape[1] != items.dim:
        raise ValueError(f"user vectors have dimension {users.vectors.shape[1]} but item vectors {items.dim}: "
                         "they come from different spaces")
    check_frame(train, RATING_COLUMNS, "train")
    check_bool(centre, "centre")
    ids = items.ids if catalogue is None else np.unique(np.asarray(list(catalogue), dtype=np.int64))
    if ids.size == 0:
        raise ValueError("catalogue is empty; give the movie ids that may be recommended")
    unit = (items.centred() if centre else items).normalized()
    has_vector = np.isin(ids, items.ids)
    item_unit = np.zeros((len(ids), items.dim))
    item_unit[has_vector] = unit[items.rows(ids[has_vector])]
    fitted = np.union1d(users.ids, train["userId"].to_numpy(np.int64))
    check_memory(8.0 * len(fitted) * items.dim, f"{len(fitted)} user vectors")
    profiles = np.zeros((len(fitted), items.dim))
    profiles[np.searchsorted(fitted, users.ids)] = unit_rows(users.vectors)
    return EmbeddingChannel(item_ids=ids, log_popularity=like_popularity(train, ids), user_ids=fitted,
                            rated=interaction_matrix(train, fitted, ids), item_unit=item_unit, has_vector=has_vector,
                            profiles=profiles, name=name, blend=blend)
