"""Chapter 07: user embeddings in the item space, and locality-sensitive hashing (LSH) for nearest neighbours.

Two halves, one story: a user vector pooled from the vectors of the films the user liked
lives in the item space, so "which films are nearest to this user?" is a nearest-neighbour
query; LSH answers such queries without scanning every item.

LSH (局部敏感哈希), the p-stable scheme of Datar, Immorlica, Indyk and Mirrokni (2004)::

    h(v) = floor((a . v + b) / w),   a ~ N(0, I),  b ~ U[0, w)

Two points at distance c share a bucket with probability :func:`collision_probability`
``p(c)``; ``k`` functions AND-ed in a table and ``L`` tables OR-ed make a pair a candidate
with probability ``1 - (1 - p^k)^L`` (:func:`candidate_probability`).
:class:`LSHIndex` builds the tables (all items hashed in one matrix product, each table's
buckets found by sorting its keys once), answers batches of queries, re-ranks the
candidates by true distance and counts how many it examined. ``variant="spark"`` is
Spark's ``BucketedRandomProjectionLSH``: a unit-length Gaussian direction and no offset,
``floor(r . x / bucketLength)``. :func:`exact_top_k` is the brute-force ground truth.

User embeddings (用户嵌入): :func:`pool_user_vectors` (mean, sum, rating- or
recency-weighted), :func:`embedding_recall` (the chapter's recall channel in the common
``DataFrame[userId, movieId, score]`` shape), :func:`align_procrustes` (rotate one
embedding run onto another) and :func:`user_embedding_experiment`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .checks import (check_array, check_bool, check_choice, check_fraction, check_frame, check_int,
                     check_memory, check_number, check_seed)
from .datasets import POSITIVE_THRESHOLD
from .embeddings import ItemVectors
from .seeding import DEFAULT_SEED

__all__ = [
    "ParameterChoice",
    "VARIANTS",
    "POOLINGS",
    "HashFunctions",
    "hash_functions",
    "LSHIndex",
    "QueryResult",
    "exact_top_k",
    "neighbour_recall",
    "collision_probability",
    "spark_collision_probability",
    "candidate_probability",
    "choose_parameters",
    "edge_problem",
    "collision_experiment",
    "amplification_experiment",
    "clustered_vectors",
    "recall_work_grid",
    "pareto_front",
    "UserVectors",
    "pool_user_vectors",
    "align_procrustes",
    "embedding_recall",
    "segment_neighbour_share",
    "centroid_popularity",
    "user_embedding_experiment",
    "nearest_movies",
]

#: "pstable": h(v) = floor((a.v + b) / w) with a ~ N(0, I), b ~ U[0, w) (Datar et al.).
#: "spark": h(x) = floor(r.x / w) with r a unit-length Gaussian direction, no offset (Spark ML).
VARIANTS = ("pstable", "spark")

# A float's integer part is exact below 2**53; a hash value past it would merge buckets silently.
_MAX_HASH = 2.0 ** 52
# Pairs (query, item) handled at once while querying: bounds memory whatever the batch size.
_MAX_PAIRS_PER_CHUNK = 1_000_000


# ---------------------------------------------------------------------------
# Hash functions
# ---------------------------------------------------------------------------


def _bucket(projection: np.ndarray, offset: np.ndarray | float, width: float, *, overwrite: bool = False
            ) -> np.ndarray:
    """floor((projection + offset) / width) as int64: the one place the bucket arithmetic lives.

    With ``overwrite`` the projection array is reused for the intermediate values (one pass less).
    """
    scaled = np.add(projection, offset, out=projection if overwrite else None)
    scaled /= width
    if scaled.size and max(float(scaled.max()), -float(scaled.min())) > _MAX_HASH:
        raise ValueError(f"width={width:g} is too small for vectors of this scale: hash values pass the 2**52 "
                         "that int64 buckets hold exactly; use a larger width")
    return np.floor(scaled, out=scaled).astype(np.int64)


@dataclass(frozen=True, eq=False)
class HashFunctions:
    """``m`` LSH functions over ``dim``-dimensional vectors: ``directions`` (dim, m), ``offsets`` (m,), ``width``."""

    directions: np.ndarray
    offsets: np.ndarray
    width: float
    variant: str = "pstable"

    @property
    def dim(self) -> int:
        return int(self.directions.shape[0])

    @property
    def n_functions(self) -> int:
        return int(self.directions.shape[1])

    def __call__(self, vectors: Any) -> np.ndarray:
        """Hash values of every row of ``vectors`` under every function: int64 array (n, m), one matrix product."""
        x = _check_vectors(vectors, "vectors", dim=self.dim)
        check_memory(16.0 * x.shape[0] * self.n_functions, f"hashing {x.shape[0]} vectors with "
                     f"{self.n_functions} functions")
        return _bucket(x @ self.directions, self.offsets, self.width)


def hash_functions(dim: int, n_functions: int, width: float, *, variant: str = "pstable",
                   seed: int = DEFAULT_SEED) -> HashFunctions:
    """Draw ``n_functions`` hash functions: p-stable ``floor((a.v + b) / w)`` or Spark's ``floor(r.x / w)``."""
    dim = check_int(dim, "dim", low=1)
    n_functions = check_int(n_functions, "n_functions", low=1)
    width = _check_width(width)
    check_choice(variant, "variant", VARIANTS)
    seed = check_seed(seed)
    check_memory(8.0 * dim * n_functions, f"{n_functions} hash functions of dimension {dim}")
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((dim, n_functions))
    if variant == "pstable":
        offsets = rng.uniform(0.0, width, size=n_functions)
    else:  # Spark: each Gaussian direction scaled to unit length, and no offset
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        offsets = np.zeros(n_functions)
    return HashFunctions(directions, offsets, width, variant)


def _check_width(width: Any, name: str = "width") -> float:
    return check_number(width, name, low=0.0, include_low=False)


def _check_vectors(vectors: Any, name: str, *, dim: int | None = None) -> np.ndarray:
    """A 2-D finite float array (one row per vector), of ``dim`` columns when given."""
    x = check_array(vectors, name, ndim=2)
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} have dimension {x.shape[1]} but the index was built on dimension {dim}; "
                         "query with vectors from the same embedding")
    return x


# ---------------------------------------------------------------------------
# Theory
# ---------------------------------------------------------------------------


def collision_probability(distance: Any, width: float) -> np.ndarray | float:
    """p(c): chance that two points at distance ``c`` share a p-stable bucket of width ``w`` (Datar et al. 2004).

    With r = w / c and Phi the standard normal CDF::

        p(c) = 1 - 2 Phi(-r) - 2 / (sqrt(2 pi) r) * (1 - exp(-r^2 / 2))

    p(0) = 1 and p falls towards 0 as c grows past w.
    """
    width = _check_width(width)
    c = np.asarray(distance, dtype=float)
    if np.isnan(c).any() or (c < 0).any():
        raise ValueError("distance must be >= 0 (and not NaN)")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = width / c
        p = 1.0 - 2.0 * ndtr(-r) - 2.0 / (math.sqrt(2.0 * math.pi) * r) * (1.0 - np.exp(-r * r / 2.0))
    p = np.where(c == 0, 1.0, p)
    p = np.clip(p, 0.0, 1.0)
    return float(p) if np.ndim(distance) == 0 else p


def spark_collision_probability(distance: Any, width: float, dim: int) -> np.ndarray | float:
    """The same chance for Spark's hash floor(r.x / w), r a random unit direction in ``dim`` dimensions.

    The projected gap is c t with t one coordinate of a uniform unit vector; with the pair's
    position uniform relative to the bucket edges, it shares a bucket with probability
    max(0, 1 - c |t| / w). Averaged over t (density proportional to (1 - t^2)^((dim - 3) / 2))
    by numerical integration.
    """
    from scipy.integrate import quad
    from scipy.special import betaln

    width = _check_width(width)
    dim = check_int(dim, "dim", low=1)
    c = np.atleast_1d(np.asarray(distance, dtype=float))
    if np.isnan(c).any() or (c < 0).any():
        raise ValueError("distance must be >= 0 (and not NaN)")
    out = np.empty_like(c)
    for i, ci in enumerate(c):
        if ci == 0:
            out[i] = 1.0
        elif dim == 1:
            out[i] = max(0.0, 1.0 - ci / width)
        else:
            # |t| on [0, 1]: density 2 (1 - t^2)^((d-3)/2) / B(1/2, (d-1)/2)
            log_norm = math.log(2.0) - betaln(0.5, (dim - 1) / 2.0)
            top = min(1.0, width / ci)
            val, _ = quad(lambda t: (1.0 - ci * t / width) * math.exp(log_norm + (dim - 3) / 2.0 * math.log1p(-t * t))
                          if t < 1 else 0.0, 0.0, top, limit=200)
            out[i] = val
    out = np.clip(out, 0.0, 1.0)
    return float(out[0]) if np.ndim(distance) == 0 else out


def candidate_probability(p: Any, k: int, n_tables: int) -> np.ndarray | float:
    """1 - (1 - p^k)^L: chance that a pair with per-function collision probability ``p`` becomes a candidate."""
    k = check_int(k, "k", low=1)
    n_tables = check_int(n_tables, "n_tables", low=1)
    arr = np.asarray(p, dtype=float)
    if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
        raise ValueError("p must be probabilities in [0, 1]")
    out = 1.0 - (1.0 - arr ** k) ** n_tables
    return float(out) if np.ndim(p) == 0 else out


@dataclass(frozen=True)
class ParameterChoice:
    """The (k, L, w) the theory picks, its predictions, and the whole table it chose from."""

    k: int
    n_tables: int
    width: float
    predicted_recall: float
    predicted_candidate_share: float
    meets_target: bool
    table: pd.DataFrame


def choose_parameters(neighbour_distances: Any, random_distances: Any, *, target_recall: float = 0.9,
                      max_candidate_share: float = 0.1, ks: Sequence[int] = tuple(range(1, 13)),
                      tables: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
                      widths: Sequence[float] | None = None) -> ParameterChoice:
    """Pick (k, L, w) for a target recall and a candidate budget from the theory alone.

    ``neighbour_distances``: distances from sample queries to their true top-K neighbours;
    ``random_distances``: distances from sample queries to random items. A true neighbour at
    distance d is found when it becomes a candidate (re-ranking then keeps it), so the
    predicted recall is the mean of 1 - (1 - p(d)^k)^L over the neighbour distances, and the
    predicted share of items examined is the same mean over the random distances. The
    choice is the setting with the smallest predicted share that meets ``target_recall``
    within ``max_candidate_share`` (ties: fewer hash functions); if none does, the one with
    the highest predicted recall within the budget, with ``meets_target=False``.
    """
    near = check_array(neighbour_distances, "neighbour_distances", ndim=1)
    far = check_array(random_distances, "random_distances", ndim=1)
    if (near < 0).any() or (far < 0).any():
        raise ValueError("distances must be >= 0")
    target_recall = check_fraction(target_recall, "target_recall")
    max_candidate_share = check_fraction(max_candidate_share, "max_candidate_share")
    ks = [check_int(k, "ks[i]", low=1) for k in ks]
    tables = [check_int(t, "tables[i]", low=1) for t in tables]
    if not ks or not tables:
        raise ValueError("ks and tables must each hold at least one value")
    if widths is None:
        scale = float(np.median(near)) or float(np.median(far)) or 1.0
        widths = scale * np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])
    widths = [_check_width(w, "widths[i]") for w in widths]
    rows = []
    for w in widths:
        p_near, p_far = collision_probability(near, w), collision_probability(far, w)
        for k in ks:
            for L in tables:
                rows.append((k, L, w, float(np.mean(candidate_probability(p_near, k, L))),
                             float(np.mean(candidate_probability(p_far, k, L)))))
    table = pd.DataFrame(rows, columns=["k", "n_tables", "width", "predicted_recall", "predicted_candidate_share"])
    table["n_functions"] = table["k"] * table["n_tables"]
    ok = (table["predicted_recall"] >= target_recall) & (table["predicted_candidate_share"] <= max_candidate_share)
    table["meets_target"] = ok
    if ok.any():
        best = table[ok].sort_values(["predicted_candidate_share", "n_functions"], kind="stable").iloc[0]
    else:
        within = table[table["predicted_candidate_share"] <= max_candidate_share]
        pool = within if not within.empty else table
        best = pool.sort_values(["predicted_recall", "n_functions"], ascending=[False, True], kind="stable").iloc[0]
    table = table.sort_values(["meets_target", "predicted_candidate_share"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    return ParameterChoice(int(best["k"]), int(best["n_tables"]), float(best["width"]),
                           float(best["predicted_recall"]), float(best["predicted_candidate_share"]),
                           bool(best["meets_target"]), table)


# ---------------------------------------------------------------------------
# Exact search (the ground truth)
# ---------------------------------------------------------------------------


def exact_top_k(items: Any, queries: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``k`` by Euclidean distance: (indices (q, k), distances (q, k)), nearest first.

    Scores all items with one matrix product per chunk of queries; ties go to the lower index.
    """
    x = _check_vectors(items, "items")
    q = _check_vectors(queries, "queries", dim=x.shape[1])
    k = check_int(k, "k", low=1)
    k = min(k, x.shape[0])
    norms = np.einsum("ij,ij->i", x, x)
    chunk = max(1, int(2**25 // max(1, x.shape[0])))  # about 256 MB of scores at a time
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    dist = np.empty((q.shape[0], k))
    for start in range(0, q.shape[0], chunk):
        qq = q[start:start + chunk]
        d2 = norms[None, :] - 2.0 * (qq @ x.T) + np.einsum("ij,ij->i", qq, qq)[:, None]
        np.maximum(d2, 0.0, out=d2)
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < x.shape[0] else np.tile(np.arange(x.shape[0]),
                                                                                           (len(qq), 1))
        pd2 = np.take_along_axis(d2, part, axis=1)
        order = np.lexsort((part, pd2), axis=1)
        idx[start:start + chunk] = np.take_along_axis(part, order, axis=1)
        dist[start:start + chunk] = np.sqrt(np.take_along_axis(pd2, order, axis=1))
    return idx, dist


def neighbour_recall(found: Any, exact: Any) -> np.ndarray:
    """Per query, the share of the exact top-K found: |found ∩ exact| / K (-1 entries in ``found`` are empty slots)."""
    f = np.asarray(found)
    e = np.asarray(exact)
    if f.ndim != 2 or e.ndim != 2 or f.shape[0] != e.shape[0]:
        raise ValueError(f"found and exact must be 2-D with one row per query, got {f.shape} and {e.shape}")
    hits = (f[:, :, None] == e[:, None, :]) & (f[:, :, None] >= 0)
    return hits.any(axis=1).sum(axis=1) / e.shape[1]


# ---------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """Top-K of a batch of queries: item rows (-1 where fewer than K candidates), distances (inf there), work done."""

    indices: np.ndarray       # (q, K) int64 rows of the indexed items, nearest first
    distances: np.ndarray     # (q, K) Euclidean distances
    n_candidates: np.ndarray  # (q,) distinct items examined (distance computed) per query


class LSHIndex:
    """An LSH index of ``n_tables`` tables, each keyed by ``k`` hash values AND-ed.

    ``LSHIndex(k=4, n_tables=8, width=1.0).fit(vectors).query(queries, top_k=10)``.
    Each table's key mixes its k hash values into one 64-bit number (multiplied by random
    odd constants and summed); two different k-tuples share a key with probability about
    2^-64, and such a merge could only add candidates, never lose one. Buckets are the runs
    of equal keys after one sort per table; a query finds its bucket by binary search.
    """

    def __init__(self, k: int = 4, n_tables: int = 8, width: float = 1.0, *, variant: str = "pstable",
                 seed: int = DEFAULT_SEED) -> None:
        self.k = check_int(k, "k", low=1, high=64)
        self.n_tables = check_int(n_tables, "n_tables", low=1, high=10_000)
        self.width = _check_width(width)
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.seed = check_seed(seed)
        self.functions: HashFunctions | None = None
        self._vectors: np.ndarray | None = None

    def __repr__(self) -> str:
        size = "empty" if self._vectors is None else f"{self._vectors.shape[0]} items"
        return (f"LSHIndex(k={self.k}, n_tables={self.n_tables}, width={self.width:g}, "
                f"variant={self.variant!r}, seed={self.seed}; {size})")

    @property
    def n_items(self) -> int:
        return 0 if self._vectors is None else int(self._vectors.shape[0])

    def fit(self, vectors: Any) -> "LSHIndex":
        """Hash every row of ``vectors`` into the L tables (one matrix product, one sort per table)."""
        x = _check_vectors(vectors, "vectors")
        n, d = x.shape
        check_memory(24.0 * n * self.n_tables + 8.0 * d * self.k * self.n_tables,
                     f"an LSH index of {n} vectors with k={self.k}, n_tables={self.n_tables}")
        self.functions = hash_functions(d, self.k * self.n_tables, self.width, variant=self.variant, seed=self.seed)
        rng = np.random.default_rng([self.seed, 1])
        self._mix = (rng.integers(0, 2**63, size=(self.k, self.n_tables), dtype=np.uint64) * np.uint64(2)
                     + np.uint64(1))
        keys = self._keys(x)                                  # (L, n)
        self._order = np.argsort(keys, axis=1, kind="stable")  # items of each table, grouped by bucket
        self._sorted = np.take_along_axis(keys, self._order, axis=1)
        self._vectors = x
        return self

    def _keys(self, x: np.ndarray) -> np.ndarray:
        """One 64-bit key per (table, vector), shape (L, n): the table's k hash values mixed into one number.

        Hashes a block of tables per matrix product (function j of table t is column t*k + j),
        so memory stays near 64 MB whatever k * L is.
        """
        f = self.functions
        n = x.shape[0]
        keys = np.empty((self.n_tables, n), dtype=np.uint64)
        block = max(1, int(2**23 // max(1, n * self.k)))
        for t0 in range(0, self.n_tables, block):
            t1 = min(self.n_tables, t0 + block)
            cols = slice(t0 * self.k, t1 * self.k)
            projected = f.directions[:, cols].T @ x.T  # (functions, n): one row per function, contiguous
            h = _bucket(projected, f.offsets[cols, None], f.width, overwrite=True).reshape(t1 - t0, self.k, n)
            h = h.view(np.uint64)  # two's complement: negative bucket numbers mix like any other
            acc = h[:, 0, :] * self._mix[0, t0:t1, None]
            for j in range(1, self.k):  # sum_j h_j * m_j, wrapping around 2**64
                acc += h[:, j, :] * self._mix[j, t0:t1, None]
            keys[t0:t1] = acc
        return keys

    def _require_fitted(self) -> np.ndarray:
        if self._vectors is None:
            raise ValueError("the index is empty: call fit(vectors) before querying")
        return self._vectors

    def bucket_ranges(self, queries: Any) -> tuple[np.ndarray, np.ndarray]:
        """For each query and table, the [start, stop) run of the table's sorted items in the query's bucket."""
        x = self._require_fitted()
        q = _check_vectors(queries, "queries", dim=x.shape[1])
        keys = self._keys(q)                                  # (L, q)
        lo = np.empty((q.shape[0], self.n_tables), dtype=np.int64)
        hi = np.empty((q.shape[0], self.n_tables), dtype=np.int64)
        for t in range(self.n_tables):
            lo[:, t] = np.searchsorted(self._sorted[t], keys[t], side="left")
            hi[:, t] = np.searchsorted(self._sorted[t], keys[t], side="right")
        return lo, hi

    def candidates(self, queries: Any) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (query row, item row) candidate pairs, sorted by query then item: items sharing a bucket in any table."""
        lo, hi = self.bucket_ranges(queries)
        parts = [self._pairs(lo, hi, rows) for rows in self._chunks(lo, hi)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _chunks(self, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
        """Runs of query rows whose candidate marks (rows x items) and candidate lists stay within a fixed size."""
        upper = (hi - lo).sum(axis=1)  # candidates per query before removing repeats across tables
        per_chunk = max(1, min(lo.shape[0], _MAX_PAIRS_PER_CHUNK // max(1, self.n_items)))
        chunks, start = [], 0
        cum = np.cumsum(upper)
        while start < lo.shape[0]:
            base = cum[start - 1] if start else 0
            stop = int(np.searchsorted(cum, base + _MAX_PAIRS_PER_CHUNK, side="right"))
            stop = min(max(stop, start + 1), start + per_chunk, lo.shape[0])
            chunks.append(np.arange(start, stop))
            start = stop
        return chunks

    def _pairs(self, lo: np.ndarray, hi: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs of the query ``rows``, repeats across tables removed, sorted by query then item."""
        n = self.n_items
        local, codes = np.arange(rows.size, dtype=np.int64), []
        for t in range(self.n_tables):
            sizes = hi[rows, t] - lo[rows, t]
            total = int(sizes.sum())
            if total == 0:
                continue
            starts = np.cumsum(sizes) - sizes
            pos = np.repeat(lo[rows, t] - starts, sizes) + np.arange(total)
            codes.append(np.repeat(local, sizes) * n + self._order[t, pos])
        if not codes:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        code = np.concatenate(codes)
        if code.size * 16 < rows.size * n:
            code = np.unique(code)  # few candidates: sorting them is cheapest
        else:  # many: mark them in a (rows x items) mask and read it back in order
            mark = np.zeros(rows.size * n, dtype=bool)
            mark[code] = True
            code = np.flatnonzero(mark)
        return rows[code // n], code % n

    def query(self, queries: Any, top_k: int = 10) -> QueryResult:
        """Top-``top_k`` items by true Euclidean distance among each query's candidates, for a batch of queries."""
        x = self._require_fitted()
        top_k = check_int(top_k, "top_k", low=1)
        q = _check_vectors(queries, "queries", dim=x.shape[1])
        lo, hi = self.bucket_ranges(q)
        n_q = q.shape[0]
        indices = np.full((n_q, top_k), -1, dtype=np.int64)
        distances = np.full((n_q, top_k), np.inf)
        n_candidates = np.zeros(n_q, dtype=np.int64)
        item_norms = np.einsum("ij,ij->i", x, x)
        for rows in self._chunks(lo, hi):
            qi, ii = self._pairs(lo, hi, rows)
            if not qi.size:
                continue
            # squared distance |q|^2 + |x|^2 - 2 q.x, computed for the candidates only
            d2 = item_norms[ii] + np.einsum("ij,ij->i", q[qi], q[qi]) - 2.0 * np.einsum("ij,ij->i", q[qi], x[ii])
            d = np.sqrt(np.maximum(d2, 0.0))
            n_candidates[rows] = np.bincount(qi - rows[0], minlength=rows.size)
            order = np.lexsort((d, qi))  # by query, then distance; stable, so ties keep item order
            qi, ii, d = qi[order], ii[order], d[order]
            rank = np.arange(qi.size) - np.searchsorted(qi, qi, side="left")
            keep = rank < top_k
            indices[qi[keep], rank[keep]] = ii[keep]
            distances[qi[keep], rank[keep]] = d[keep]
        return QueryResult(indices, distances, n_candidates)


# ---------------------------------------------------------------------------
# Experiments (each returns a tidy table for the notebook)
# ---------------------------------------------------------------------------


def edge_problem(*, distance: float = 0.1, width: float = 1.0, n_pairs: int = 20_000,
                 n_functions: Sequence[int] = (1, 2, 4, 8), seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The edge problem in one dimension: the share of near pairs (gap ``distance``) that no function puts together.

    Points x spread over many buckets and partners x + c. Three kinds of functions, OR-ed m
    at a time: fixed edges (h = floor(x / w), every function the same: Spark's no-offset
    hash in one dimension); a random offset b ~ U[0, w) per function; and the full p-stable
    hash (random Gaussian a and b). Each pair gets its own random functions, so a share
    estimates the chance over the draw of functions. Theory for the share missed: c / w,
    (c / w)^m and (1 - p(c))^m.
    """
    distance = check_number(distance, "distance", low=0.0, include_low=False)
    width = _check_width(width)
    n_pairs = check_int(n_pairs, "n_pairs", low=1)
    ms = sorted({check_int(m, "n_functions[i]", low=1) for m in n_functions})
    seed = check_seed(seed)
    top = max(ms)
    check_memory(8.0 * n_pairs * top * 4, f"edge_problem with {n_pairs} pairs and {top} functions")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1000.0 * width, size=n_pairs)[:, None]
    y = x + distance
    split = {  # every function the same: floor(x / w)
        "fixed edges": np.repeat(_bucket(x, 0.0, width) != _bucket(y, 0.0, width), top, axis=1),
    }
    # fresh functions for every pair, so the share estimates the chance over the draw of functions
    b = rng.uniform(0.0, width, size=(n_pairs, top))
    split["random offset b"] = _bucket(x, b, width) != _bucket(y, b, width)
    a = rng.standard_normal((n_pairs, top))
    b = rng.uniform(0.0, width, size=(n_pairs, top))
    split["p-stable (random a and b)"] = _bucket(a * x, b, width) != _bucket(a * y, b, width)
    p_offset = max(0.0, 1.0 - distance / width)
    p_stable = collision_probability(distance, width)
    rows = []
    for name, s in split.items():
        for m in ms:
            missed = float(s[:, :m].all(axis=1).mean())
            if name == "fixed edges":
                theory = 1.0 - p_offset
            elif name == "random offset b":
                theory = (1.0 - p_offset) ** m
            else:
                theory = (1.0 - p_stable) ** m
            rows.append((name, m, missed, theory, math.sqrt(max(theory * (1 - theory), 1e-12) / n_pairs)))
    return pd.DataFrame(rows, columns=["hash", "n_functions", "missed_share", "theory", "standard_error"])


def _random_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    u = rng.standard_normal((n, dim))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def collision_experiment(ratios: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0),
                         *, width: float = 1.0, dim: int = 16, n_trials: int = 20_000,
                         seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Measured share of pairs at distance c = ratio * w that share a bucket, p-stable and Spark-style, against theory.

    Every trial draws a fresh pair (a random point, far from the origin relative to w, and a
    partner at distance c in a random direction) and a fresh hash function, so the trials
    are independent and the measured share has the binomial standard error
    sqrt(p (1 - p) / n_trials).
    """
    width = _check_width(width)
    dim = check_int(dim, "dim", low=1)
    n_trials = check_int(n_trials, "n_trials", low=1)
    seed = check_seed(seed)
    ratios = [check_number(r, "ratios[i]", low=0.0, include_low=False) for r in ratios]
    check_memory(8.0 * n_trials * dim * 4, f"collision_experiment with {n_trials} trials")
    rng = np.random.default_rng(seed)
    rows = []
    for ratio in ratios:
        c = ratio * width
        x = rng.normal(0.0, 10.0 * width, size=(n_trials, dim))
        y = x + c * _random_unit(rng, n_trials, dim)
        for variant in VARIANTS:
            a = rng.standard_normal((n_trials, dim))
            if variant == "pstable":
                b = rng.uniform(0.0, width, size=n_trials)
                theory = collision_probability(c, width)
            else:
                a /= np.linalg.norm(a, axis=1, keepdims=True)
                b = np.zeros(n_trials)
                theory = spark_collision_probability(c, width, dim)
            same = _bucket(np.einsum("ij,ij->i", a, x), b, width) == _bucket(np.einsum("ij,ij->i", a, y), b, width)
            rate = float(same.mean())
            se = math.sqrt(max(theory * (1 - theory), 1e-12) / n_trials)
            rows.append((variant, ratio, rate, theory, se))
    return pd.DataFrame(rows, columns=["variant", "c_over_w", "collision_rate", "theory", "standard_error"])


def amplification_experiment(settings: Sequence[tuple[int, int]] = ((1, 1), (2, 4), (4, 8), (8, 16)),
                             ratios: Sequence[float] = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0),
                             *, width: float = 1.0, dim: int = 16, n_pairs: int = 400, n_repeats: int = 20,
                             seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Measured share of pairs that become candidates in an :class:`LSHIndex` against 1 - (1 - p(c)^k)^L.

    For each (k, L) and distance ratio c/w: ``n_repeats`` indexes, each with fresh hash
    functions, hold ``n_pairs`` items; each item's partner at distance c queries the index,
    and the pair counts if the item is among its candidates. Items are spread far apart, so
    the share measures the tables, not crowding. The standard error is that of the mean
    over the repeats (the pairs of one index share its functions, so they are not
    independent of each other).
    """
    width = _check_width(width)
    dim = check_int(dim, "dim", low=1)
    n_pairs = check_int(n_pairs, "n_pairs", low=1)
    n_repeats = check_int(n_repeats, "n_repeats", low=2)
    seed = check_seed(seed)
    settings = [(check_int(k, "k", low=1), check_int(L, "n_tables", low=1)) for k, L in settings]
    ratios = [check_number(r, "ratios[i]", low=0.0, include_low=False) for r in ratios]
    rng = np.random.default_rng(seed)
    rows = []
    for k, L in settings:
        for ratio in ratios:
            c = ratio * width
            shares = np.empty(n_repeats)
            for r in range(n_repeats):
                items = rng.normal(0.0, 100.0 * width, size=(n_pairs, dim))
                partners = items + c * _random_unit(rng, n_pairs, dim)
                index = LSHIndex(k, L, width, seed=int(rng.integers(2**32))).fit(items)
                qi, ii = index.candidates(partners)
                shares[r] = np.count_nonzero(qi == ii) / n_pairs
            theory = candidate_probability(collision_probability(c, width), k, L)
            rows.append((k, L, ratio, float(shares.mean()), float(theory),
                         float(shares.std(ddof=1) / math.sqrt(n_repeats))))
    return pd.DataFrame(rows, columns=["k", "n_tables", "c_over_w", "candidate_rate", "theory", "standard_error"])


def clustered_vectors(n: int = 100_000, dim: int = 32, *, n_clusters: int = 200, spread: float = 0.35,
                      seed: int = DEFAULT_SEED) -> np.ndarray:
    """``n`` synthetic vectors in ``n_clusters`` Gaussian clusters of Zipf-like sizes (seeded), float64 (n, dim).

    Centres are standard normal; each point is its centre plus ``spread`` times standard
    normal noise, so neighbours are mostly in the same cluster, as items of one taste are.
    """
    n = check_int(n, "n", low=1)
    dim = check_int(dim, "dim", low=1)
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    spread = check_number(spread, "spread", low=0.0)
    seed = check_seed(seed)
    check_memory(8.0 * n * dim * 2, f"clustered_vectors({n}, {dim})")
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.5
    label = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    centres = rng.standard_normal((n_clusters, dim))
    return centres[label] + spread * rng.standard_normal((n, dim))


def recall_work_grid(items: Any, queries: Any, *, ks: Sequence[int] = (2, 4, 8),
                     tables: Sequence[int] = (4, 16), widths: Sequence[float] = (1.0, 2.0),
                     settings: Sequence[tuple[int, int, float]] = (), top_k: int = 10, variant: str = "pstable",
                     seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """recall@top_k, share of items examined and query time of an LSH index over a (k, L, w) grid, against brute force.

    One row per setting of the grid ``widths`` x ``ks`` x ``tables``, then one per extra
    (k, L, w) in ``settings``, plus a row "exact" for brute force (recall 1, every item examined).
    Times are wall-clock seconds for the whole batch of queries (machine-dependent; build
    time excluded); ``speedup`` is brute-force time over the setting's time.
    """
    x = _check_vectors(items, "items")
    q = _check_vectors(queries, "queries", dim=x.shape[1])
    top_k = check_int(top_k, "top_k", low=1)
    check_choice(variant, "variant", VARIANTS)
    seed = check_seed(seed)
    t0 = time.perf_counter()
    exact, _ = exact_top_k(x, q, top_k)
    exact_time = time.perf_counter() - t0
    rows = []
    grid = [(k, L, w) for w in widths for k in ks for L in tables] + [tuple(s) for s in settings]
    for k, L, w in grid:
        index = LSHIndex(k, L, w, variant=variant, seed=seed).fit(x)
        t0 = time.perf_counter()
        result = index.query(q, top_k)
        elapsed = time.perf_counter() - t0
        rows.append((k, L, float(w), float(neighbour_recall(result.indices, exact).mean()),
                     float(result.n_candidates.mean() / x.shape[0]), elapsed))
    rows.append(("exact", "exact", float("nan"), 1.0, 1.0, exact_time))
    table = pd.DataFrame(rows, columns=["k", "n_tables", "width", f"recall@{top_k}", "candidate_share",
                                        "query_seconds"])
    table["speedup"] = exact_time / table["query_seconds"]
    table["pareto"] = pareto_front(table["candidate_share"], table[f"recall@{top_k}"])
    return table


def pareto_front(cost: Any, quality: Any) -> np.ndarray:
    """True for the points no other point beats: none has lower-or-equal cost and higher-or-equal quality, one strictly."""
    c = np.asarray(cost, dtype=float)
    g = np.asarray(quality, dtype=float)
    if c.shape != g.shape or c.ndim != 1:
        raise ValueError(f"cost and quality must be 1-D of the same length, got {c.shape} and {g.shape}")
    better = (c[None, :] <= c[:, None]) & (g[None, :] >= g[:, None]) & ((c[None, :] < c[:, None]) | (g[None, :] > g[:, None]))
    return ~better.any(axis=1)


# ---------------------------------------------------------------------------
# User embeddings in the item space
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
        """Row positions of ``user_ids``; KeyError naming ids without a vector."""
        ids = np.atleast_1d(np.asarray(user_ids, dtype=np.int64))
        pos = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        missing = ids[self.ids[pos] != ids]
        if missing.size:
            raise KeyError(f"{missing.size} user id(s) have no vector (no liked item with a vector): "
                           f"{', '.join(map(str, missing[:5]))}")
        return pos


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
    liked = ratings.loc[(ratings["rating"] >= threshold) & ratings["movieId"].isin(items.ids)]
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


def align_procrustes(source: ItemVectors, target: ItemVectors) -> tuple[ItemVectors, pd.DataFrame]:
    """Rotate ``source`` onto ``target`` by orthogonal Procrustes on their shared items (both centred first).

    Returns the aligned source (centred, rotated, shifted to the target's mean) and a table
    of the fit: relative error ||S R - T|| / ||T|| on the shared items before and after.
    A small error after means the two runs differ by little more than a rotation.
    """
    from scipy.linalg import orthogonal_procrustes

    for name, v in (("source", source), ("target", target)):
        if not isinstance(v, ItemVectors):
            raise TypeError(f"{name} must be an ItemVectors, got {type(v).__name__}")
    if source.vectors.shape[1] != target.vectors.shape[1]:
        raise ValueError(f"source and target differ in dimension: {source.vectors.shape[1]} and "
                         f"{target.vectors.shape[1]}; Procrustes needs vectors of one size")
    shared = np.intersect1d(source.ids, target.ids)
    if len(shared) < source.vectors.shape[1]:
        raise ValueError(f"only {len(shared)} shared items; Procrustes needs at least the dimension "
                         f"({source.vectors.shape[1]})")
    s_mean, t_mean = source.vectors.mean(axis=0), target.vectors.mean(axis=0)
    s = source.get(shared) - s_mean
    t = target.get(shared) - t_mean
    rotation, _ = orthogonal_procrustes(s, t)
    norm = np.linalg.norm(t)
    fit = pd.DataFrame({"step": ["before (centred)", "after rotation"],
                        "relative_error": [np.linalg.norm(s - t) / norm, np.linalg.norm(s @ rotation - t) / norm],
                        "shared_items": len(shared)})
    return ItemVectors(source.ids, (source.vectors - s_mean) @ rotation + t_mean), fit


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1.0, n)


def embedding_recall(users: UserVectors, items: ItemVectors, user_ids: Any, k: int = 20, *,
                     exclude: pd.DataFrame | None = None, centre_items: bool = True,
                     popularity: pd.Series | None = None, popularity_weight: float = 0.0) -> pd.DataFrame:
    """The chapter's recall channel: each user's top-``k`` items by cosine in the shared space, common shape.

    score = cos(user, item) + popularity_weight * log(1 + n) / log(1 + max n), with n the
    item's count in ``popularity`` (a Series movieId -> count; 0 when missing). Items the user
    rated (``exclude``: userId, movieId) are left out. ``centre_items`` subtracts the item
    mean first: the user vectors must then be pooled with ``centre=True`` too.
    Returns DataFrame[userId, movieId, score], best first within a user.
    """
    from .channels import log_popularity
    from .metrics import top_k_frame

    if not isinstance(users, UserVectors) or not isinstance(items, ItemVectors):
        raise TypeError("users must be a UserVectors (pool_user_vectors) and items an ItemVectors")
    if users.vectors.shape[1] != items.vectors.shape[1]:
        raise ValueError(f"user vectors have dimension {users.vectors.shape[1]} but item vectors "
                         f"{items.vectors.shape[1]}: they come from different spaces")
    k = check_int(k, "k", low=1)
    check_bool(centre_items, "centre_items")
    popularity_weight = check_number(popularity_weight, "popularity_weight")
    uid = np.asarray(user_ids, dtype=np.int64)
    iv = items.vectors - items.vectors.mean(axis=0) if centre_items else items.vectors
    check_memory(8.0 * len(uid) * len(items.ids) * 3, f"scores for {len(uid)} users x {len(items.ids)} items")
    scores = _unit(users.vectors[users.rows(uid)]) @ _unit(iv).T
    if popularity_weight:
        if popularity is None:
            raise ValueError("popularity_weight needs popularity (a Series movieId -> count)")
        counts = popularity.reindex(items.ids).fillna(0).to_numpy(float)
        scores += popularity_weight * log_popularity(counts)
    mask = None
    if exclude is not None:
        check_frame(exclude, ["userId", "movieId"], "exclude")
        e = exclude.loc[exclude["userId"].isin(uid) & exclude["movieId"].isin(items.ids)]
        r = pd.Index(uid).get_indexer(e["userId"])
        mask = np.zeros(scores.shape, dtype=bool)
        mask[r, items.rows(e["movieId"].to_numpy())] = True
    return top_k_frame(uid, items.ids, scores, k, exclude=mask)


def segment_neighbour_share(users: UserVectors, segments: pd.Series, *, n_neighbours: int = 10,
                            max_users: int = 2000, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Share of a user's ``n_neighbours`` nearest users (centred cosine) in the user's own planted segment.

    ``segments``: a Series userId -> segment. Chance is the sum of squared segment shares.
    Up to ``max_users`` users (a seeded sample) are compared with each other.
    """
    n_neighbours = check_int(n_neighbours, "n_neighbours", low=1)
    max_users = check_int(max_users, "max_users", low=2)
    seed = check_seed(seed)
    if not isinstance(segments, pd.Series):
        raise TypeError(f"segments must be a pandas Series userId -> segment, got {type(segments).__name__}")
    ids = users.ids[np.isin(users.ids, segments.index)]
    if len(ids) > max_users:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_users, replace=False))
    if len(ids) <= n_neighbours:
        raise ValueError(f"need more than n_neighbours={n_neighbours} users with a segment, got {len(ids)}")
    v = users.vectors[users.rows(ids)]
    sim = _unit(v - v.mean(axis=0)) @ _unit(v - v.mean(axis=0)).T
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
    counts = ratings.loc[ratings["rating"] >= threshold, "movieId"].value_counts().reindex(model.ids).fillna(0)
    centroid = model.vectors.mean(axis=0, keepdims=True)
    item_cos = (_unit(model.vectors) @ _unit(centroid).T).ravel()
    users = pool_user_vectors(ratings, model, threshold=threshold)
    user_cos = (_unit(users.vectors) @ _unit(centroid).T).ravel()
    return {"spearman_count_vs_cosine_to_mean": float(spearmanr(counts.to_numpy(), item_cos)[0]),
            "median_item_cosine_to_mean": float(np.median(item_cos)),
            "median_user_cosine_to_mean": float(np.median(user_cos))}


def user_embedding_experiment(train: pd.DataFrame, test: pd.DataFrame, model: ItemVectors, *,
                              other_model: ItemVectors | None = None, segments: pd.Series | None = None,
                              k: int = 20, n_users: int | None = 2000, popularity_weight: float = 2.0,
                              poolings: Sequence[str] = POOLINGS, truth_items: Any = None,
                              seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """User-to-item recall@k of user vectors against ``model``'s item vectors, many ways, one row each.

    Rows: mean pooling scored by raw cosine, centred cosine and centred cosine blended with
    popularity (``embedding_recall``'s ``popularity_weight``); the other ``poolings`` by
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
    from .metrics import evaluate_top_k

    if not isinstance(model, ItemVectors):
        raise TypeError(f"model must be an ItemVectors, got {type(model).__name__}")
    check_frame(train, ["userId", "movieId", "rating", "timestamp"], "train")
    check_frame(test, ["userId", "movieId", "rating"], "test")
    k = check_int(k, "k", low=1)
    popularity_weight = check_number(popularity_weight, "popularity_weight", low=0.0)
    poolings = [check_choice(p, "poolings[i]", POOLINGS) for p in poolings]
    seed = check_seed(seed)
    liked_train = train.loc[train["rating"] >= POSITIVE_THRESHOLD]
    popularity = liked_train["movieId"].value_counts()
    truth_items = model.ids if truth_items is None else np.asarray(truth_items, dtype=np.int64)
    truth = test.loc[(test["rating"] >= POSITIVE_THRESHOLD) & test["movieId"].isin(truth_items), ["userId", "movieId"]]
    candidates = np.intersect1d(truth["userId"].unique(), liked_train.loc[liked_train["movieId"].isin(model.ids),
                                                                          "userId"].unique())
    if n_users is not None and len(candidates) > check_int(n_users, "n_users", low=1):
        candidates = np.sort(np.random.default_rng(seed).choice(candidates, n_users, replace=False))
    if len(candidates) == 0:
        raise ValueError("no user has both training and test positives of items with vectors")
    truth = truth.loc[truth["userId"].isin(candidates)]

    def measure(users: UserVectors, centre: bool, weight: float) -> tuple[float, float]:
        recs = embedding_recall(users, model, candidates, k, exclude=train, centre_items=centre,
                                popularity=popularity, popularity_weight=weight)
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
            rows.append((shared, pooling, "centred cosine + popularity", *measure(centred, True, popularity_weight)))
    # popularity alone: every user gets the zero vector, so only the popularity term ranks
    zero_users = UserVectors(candidates, np.zeros((len(candidates), model.vectors.shape[1])),
                             np.ones(len(candidates), dtype=np.int64))
    rows.append(("none", "-", "popularity only", *measure(zero_users, True, 1.0)))
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


def nearest_movies(user_id: int, users: UserVectors, items: ItemVectors, index: LSHIndex, movies: pd.DataFrame,
                   *, k: int = 10, exclude: pd.DataFrame | None = None) -> pd.DataFrame:
    """A user's ``k`` nearest movies in the shared space, by ``index`` (LSH) and by exact search, side by side.

    ``index`` must be fitted on the unit-length centred item vectors (rows in ``items``
    order); the user's vector is centred the same way by :func:`pool_user_vectors` with
    ``centre=True`` and scaled to unit length, so Euclidean order is cosine order. Films the
    user rated (``exclude``) are left out of both lists. Columns: rank, exact_title,
    exact_cosine, lsh_title, lsh_cosine, in_both; ``attrs["candidates"]`` holds how many
    items the index examined.
    """
    if not isinstance(index, LSHIndex) or index.n_items != len(items.ids):
        raise ValueError("index must be an LSHIndex fitted on the item vectors (one row per item, in order)")
    check_frame(movies, ["movieId", "title"], "movies")
    k = check_int(k, "k", low=1)
    row = users.rows([user_id])
    query = _unit(users.vectors[row])
    unit_items = _unit(items.vectors - items.vectors.mean(axis=0))
    rated = np.zeros(len(items.ids), dtype=bool)
    if exclude is not None:
        check_frame(exclude, ["userId", "movieId"], "exclude")
        seen = exclude.loc[(exclude["userId"] == user_id) & exclude["movieId"].isin(items.ids), "movieId"]
        rated[items.rows(seen.to_numpy())] = True
    wide = k + int(rated.sum())  # ask for enough that k remain after removing rated films
    exact, _ = exact_top_k(unit_items, query, wide)
    found = index.query(query, wide)
    titles = movies.set_index("movieId")["title"]

    def keep(rows: np.ndarray) -> np.ndarray:
        rows = rows[rows >= 0]
        return rows[~rated[rows]][:k]

    e, f = keep(exact[0]), keep(found.indices[0])
    f = np.concatenate([f, np.full(k - len(f), -1)]) if len(f) < k else f
    cos = lambda r: np.where(r >= 0, unit_items[np.maximum(r, 0)] @ query[0], np.nan)  # noqa: E731
    table = pd.DataFrame({
        "rank": np.arange(1, len(e) + 1),
        "exact_title": titles.reindex(items.ids[e]).to_numpy(),
        "exact_cosine": cos(e),
        "lsh_title": np.where(f[:len(e)] >= 0, titles.reindex(items.ids[np.maximum(f[:len(e)], 0)]).to_numpy(),
                              "(no candidate)"),
        "lsh_cosine": cos(f[:len(e)]),
    })
    table["in_both"] = np.isin(f[:len(e)], e)
    table.attrs["candidates"] = int(found.n_candidates[0])
    return table
