"""Item embeddings shared by chapters 04, 06 and 07: item2vec on rating sequences, and DeepWalk on the item graph.

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
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .checks import check_array, check_frame, check_int, check_memory, check_number, check_seed
from .datasets import POSITIVE_THRESHOLD
from .seeding import DEFAULT_SEED

__all__ = [
    "ItemVectors",
    "TransitionGraph",
    "positive_sequences",
    "train_item2vec",
    "transition_graph",
    "random_walks",
    "deepwalk",
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
    liked = ratings.loc[ratings["rating"] >= threshold, ["userId", "movieId", "timestamp"]]
    liked = liked.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    sequences = liked.groupby("userId", sort=True)["movieId"].agg(list)
    sequences = sequences[sequences.map(len) >= min_length]
    if sequences.empty:
        raise ValueError(f"no user has {min_length} or more ratings >= {threshold}; there are no sequences "
                         "to learn from (check the threshold and the ratings' scale)")
    sequences.name = "movieIds"
    return sequences


def _as_sequences(sequences: Any, name: str = "sequences") -> list[list[int]]:
    """Accept a Series or list of id lists, or a 2-D walk array padded with -1; return lists of ints."""
    if isinstance(sequences, pd.Series):
        sequences = sequences.tolist()
    if isinstance(sequences, np.ndarray):
        if sequences.ndim != 2:
            raise ValueError(f"{name} as an array must be 2-D (walks x steps), got shape {sequences.shape}")
        out = [[int(v) for v in row if v >= 0] for row in sequences]
    elif isinstance(sequences, (list, tuple)):
        out = []
        for i, seq in enumerate(sequences):
            if isinstance(seq, (str, bytes)) or not hasattr(seq, "__iter__"):
                raise TypeError(f"{name}[{i}] must be a list of movie ids, got {type(seq).__name__}")
            out.append([int(v) for v in seq])
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
        ids = np.asarray(self.ids, dtype=np.int64)
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
        """Row positions of ``movie_ids``; KeyError naming the ids that have no vector."""
        ids = np.atleast_1d(np.asarray(movie_ids, dtype=np.int64))
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, len(self.ids) - 1)
        missing = ids[self.ids[pos] != ids]
        if missing.size:
            shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if missing.size > 5 else "")
            raise KeyError(f"{missing.size} movie id(s) have no vector: {shown} (unseen in training, or "
                           "dropped by min_count)")
        return pos

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
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.where(norms == 0, 1.0, norms)

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
    accept with probability factor / max factor), still vectorised over walks.
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
        while pending.size:
            c, prev = walks[pending, t - 1], walks[pending, t - 2]
            proposal = step(c)
            keys = prev * graph.n_nodes + proposal
            at = np.minimum(np.searchsorted(edge_keys, keys), edge_keys.size - 1)
            factor = np.where(proposal == prev, 1.0 / p, np.where(edge_keys[at] == keys, 1.0, 1.0 / q))
            accept = rng.random(pending.size) * top < factor
            walks[pending[accept], t] = proposal[accept]
            pending = pending[~accept]
    valid = walks >= 0
    walks[valid] = graph.ids[walks[valid]]
    return walks


def deepwalk(graph: TransitionGraph, *, n_walks: int = 20_000, length: int = 10, p: float = 1.0, q: float = 1.0,
             seed: int = DEFAULT_SEED, **word2vec: Any) -> ItemVectors:
    """DeepWalk (node2vec when p, q != 1): Word2Vec trained on random walks over the item graph."""
    walks = random_walks(graph, n_walks=n_walks, length=length, p=p, q=q, seed=seed)
    return train_item2vec(walks, seed=seed, **word2vec)
