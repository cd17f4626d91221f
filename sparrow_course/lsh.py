"""Chapter 07: locality-sensitive hashing (LSH) for nearest neighbours, and the nearest films of a user.

A user vector pooled from the vectors of the films the user liked lives in the item space
(``embeddings.pool_user_vectors``; chapter 07's experiments on it are in
``user_embeddings``), so "which films are nearest to this user?" is a nearest-neighbour
query; LSH answers such queries without scanning every item (:func:`nearest_movies`).

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

"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .checks import (check_array, check_choice, check_fraction, check_frame, check_int,
                     check_memory, check_number, check_seed)
from .embeddings import ItemVectors, UserVectors, unit_rows
from .seeding import DEFAULT_SEED

__all__ = [
    "ParameterChoice",
    "VARIANTS",
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
    "tune_index",
    "SettingsExplorer",
    "draw_settings",
    "settings_summary",
    "offset_experiment",
    "scaling_experiment",
    "pareto_front",
    "nearest_movies",
]

#: "pstable": h(v) = floor((a.v + b) / w) with a ~ N(0, I), b ~ U[0, w) (Datar et al.).
#: "spark": h(x) = floor(r.x / w) with r a unit-length Gaussian direction, no offset (Spark ML).
#: "spark+offset": Spark's unit directions (the same ones, for the same seed) with an offset b ~ U[0, w) added.
VARIANTS = ("pstable", "spark", "spark+offset")

# A float's integer part is exact below 2**53; a hash value past it would merge buckets silently.
_MAX_HASH = 2.0 ** 52
# Queries are answered in blocks of about this many bucket members (before repeats are removed), so a
# block's candidate lists, gathered vectors and padded distance matrix stay within the CPU's cache.
_BLOCK_PAIRS = 2**15
_MAX_BLOCK_QUERIES = 4096


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
    """Draw ``n_functions`` hash functions: p-stable ``floor((a.v + b) / w)``, Spark's ``floor(r.x / w)`` or Spark's plus b."""
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
    else:  # Spark: each Gaussian direction scaled to unit length, and no offset (or, to compare, one added)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        offsets = rng.uniform(0.0, width, size=n_functions) if variant == "spark+offset" else np.zeros(n_functions)
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
    p = np.where(c == 0, 1.0, np.where(np.isinf(c), 0.0, p))  # the limits: together at 0, apart at infinity
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
        elif np.isinf(ci):
            out[i] = 0.0
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

    How it is laid out, for answering a batch of queries with a handful of numpy calls:

    * each table's key mixes its k hash values into one 64-bit number (multiplied by random
      odd constants and summed); two different k-tuples share a key with probability about
      2^-64, and such a merge could only add candidates, never lose one;
    * every table is one sorted array of keys beside the rows of its items (int32 below
      2^31 items), so a bucket is a run of equal keys, found for all queries at once by
      ``searchsorted``; the L tables sit end to end, so the members of every (query, table)
      bucket are gathered by one fancy index;
    * the item vectors are stored in the first table's bucket order, so a bucket's members
      are neighbouring rows in memory and re-ranking reads them nearly in sequence;
    * queries are answered in blocks whose candidate lists fit in the CPU cache: per block,
      one sort removes the items found by several tables, one gathered product gives the
      candidates' squared distances |q|^2 + |x|^2 - 2 q.x, and one ``argpartition`` over a
      padded (queries x candidates) matrix keeps each query's top-k.

    ``width=None`` derives the bucket width from the data at ``fit``: the median distance
    from a sample of items to their 10th nearest neighbour, times ``width_factor`` (the
    p-stable theory's good widths are a few neighbour distances; see :func:`choose_parameters`
    for a choice by target recall).
    """

    def __init__(self, k: int = 4, n_tables: int = 8, width: float | None = None, *, variant: str = "pstable",
                 seed: int = DEFAULT_SEED, width_factor: float = 3.0) -> None:
        self.k = check_int(k, "k", low=1, high=64)
        self.n_tables = check_int(n_tables, "n_tables", low=1, high=10_000)
        self.width = None if width is None else _check_width(width)
        self.width_factor = check_number(width_factor, "width_factor", low=0.0, include_low=False)
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.seed = check_seed(seed)
        self.functions: HashFunctions | None = None
        self._vectors: np.ndarray | None = None

    def __repr__(self) -> str:
        size = "empty" if self._vectors is None else f"{self._vectors.shape[0]} items"
        width = "from the data" if self.width is None else f"{self.width:g}"
        return (f"LSHIndex(k={self.k}, n_tables={self.n_tables}, width={width}, "
                f"variant={self.variant!r}, seed={self.seed}; {size})")

    @property
    def n_items(self) -> int:
        return 0 if self._vectors is None else int(self._vectors.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes the fitted index holds: vectors, their norms, and per table the sorted keys and member rows."""
        if self._vectors is None:
            return 0
        return int(self._vectors.nbytes + self._norms.nbytes + self._rows.nbytes + self._sorted.nbytes
                   + self._members.nbytes + self.functions.directions.nbytes + self.functions.offsets.nbytes)

    def fit(self, vectors: Any) -> "LSHIndex":
        """Hash every row of ``vectors`` into the L tables (one matrix product per block of tables, one sort per table)."""
        x = _check_vectors(vectors, "vectors")
        n, d = x.shape
        row_bytes = 4 if n < 2**31 else 8
        check_memory((8.0 + row_bytes + 8.0) * n * self.n_tables + 16.0 * n * d + 8.0 * d * self.k * self.n_tables,
                     f"an LSH index of {n} vectors with k={self.k}, n_tables={self.n_tables}")
        width = self.width if self.width is not None else self.width_factor * _neighbour_scale(x, self.seed)
        self.functions = hash_functions(d, self.k * self.n_tables, width, variant=self.variant, seed=self.seed)
        rng = np.random.default_rng([self.seed, 1])
        self._mix = (rng.integers(0, 2**63, size=(self.k, self.n_tables), dtype=np.uint64) * np.uint64(2)
                     + np.uint64(1))
        keys = self._keys(x)                                    # (L, n)
        order = np.argsort(keys, axis=1, kind="stable")         # items of each table, grouped by bucket
        self._sorted = np.take_along_axis(keys, order, axis=1)  # (L, n) sorted keys
        del keys
        # storage row s holds item rows[s]; the first table's buckets are runs of consecutive rows
        self._rows = np.append(order[0], -1)  # and a last -1: the row of an empty slot
        position = np.empty(n, dtype=np.int64)
        position[order[0]] = np.arange(n)
        row_type = np.int32 if row_bytes == 4 else np.int64
        self._members = position[order].astype(row_type).ravel()  # (L * n,) storage rows, table after table
        del order, position
        self._vectors = np.ascontiguousarray(x[self._rows[:-1]])
        self._norms = np.einsum("ij,ij->i", self._vectors, self._vectors)
        return self

    @property
    def bucket_width(self) -> float:
        """The width w the hash functions use (the one given, or the one derived from the data at fit)."""
        if self.functions is None:
            raise ValueError("the index is empty: call fit(vectors) first")
        return self.functions.width

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
        return self._ranges(q)

    def _ranges(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = self._keys(q)                                    # (L, q)
        lo = np.empty((q.shape[0], self.n_tables), dtype=np.int64)
        hi = np.empty((q.shape[0], self.n_tables), dtype=np.int64)
        for t in range(self.n_tables):
            order = np.argsort(keys[t])  # binary search runs about twice as fast on sorted needles
            needles = keys[t, order]
            lo[order, t] = np.searchsorted(self._sorted[t], needles, side="left")
            hi[order, t] = np.searchsorted(self._sorted[t], needles, side="right")
        return lo, hi

    def _blocks(self, found: np.ndarray) -> list[tuple[int, int]]:
        """Runs [a, b) of queries whose bucket members (before removing repeats) number about _BLOCK_PAIRS."""
        cum = np.cumsum(found)
        blocks, a = [], 0
        while a < found.size:
            base = cum[a - 1] if a else 0
            b = int(np.searchsorted(cum, base + _BLOCK_PAIRS, side="right"))
            b = min(max(b, a + 1), a + _MAX_BLOCK_QUERIES, found.size)
            blocks.append((a, b))
            a = b
        return blocks

    def _block_candidates(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (local query, storage row) pairs of a block, sorted by query then row: one sort, adjacent repeats out."""
        n = self.n_items
        sizes = (hi - lo).ravel()                               # (block queries * L,) bucket sizes
        total = int(sizes.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        starts = (lo + np.arange(self.n_tables) * n).ravel()    # where each bucket starts in the flat tables
        pos = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(total)
        per_query = (hi - lo).sum(axis=1)
        code = np.repeat(np.arange(lo.shape[0], dtype=np.int64) * n, per_query) + self._members[pos]
        if 2 * code.size >= lo.shape[0] * n:
            # buckets holding much of the catalogue: mark the pairs in a (queries x items) mask, read it in order
            mark = np.zeros(lo.shape[0] * n, dtype=bool)
            mark[code] = True
            code = np.flatnonzero(mark)
        else:
            # np.unique would do, but numpy >= 2.3 takes a hash path that is far slower on these ints than a sort
            code.sort()
            keep = np.empty(code.size, dtype=bool)
            keep[0] = True
            np.not_equal(code[1:], code[:-1], out=keep[1:])
            code = code[keep]
        qi = code // n
        return qi, code - qi * n

    def candidates(self, queries: Any) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (query row, item row) candidate pairs, sorted by query then item: items sharing a bucket in any table."""
        x = self._require_fitted()
        q = _check_vectors(queries, "queries", dim=x.shape[1])
        lo, hi = self._ranges(q)
        qs, items = [], []
        for a, b in self._blocks((hi - lo).sum(axis=1)):
            qi, si = self._block_candidates(lo[a:b], hi[a:b])
            ii = self._rows[si]
            order = np.lexsort((ii, qi))
            qs.append(qi[order] + a)
            items.append(ii[order])
        if not qs:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(qs), np.concatenate(items)

    def query(self, queries: Any, top_k: int = 10) -> QueryResult:
        """Top-``top_k`` items by true Euclidean distance among each query's candidates, for a batch of queries.

        ``top_k`` larger than the catalogue is capped at the number of items indexed.
        """
        x = self._require_fitted()
        top_k = min(check_int(top_k, "top_k", low=1), self.n_items)
        q = _check_vectors(queries, "queries", dim=x.shape[1])
        n_q = q.shape[0]
        check_memory(16.0 * n_q * (top_k + self.n_tables), f"answering {n_q} queries for their top {top_k}")
        lo, hi = self._ranges(q)
        q_norms = np.einsum("ij,ij->i", q, q)
        indices = np.full((n_q, top_k), -1, dtype=np.int64)
        distances = np.full((n_q, top_k), np.inf)
        n_candidates = np.zeros(n_q, dtype=np.int64)
        n_items, rows = self.n_items, self._rows
        for a, b in self._blocks((hi - lo).sum(axis=1)):
            qi, si = self._block_candidates(lo[a:b], hi[a:b])
            if not qi.size:
                continue
            # re-rank: squared distances of the candidates only, one gathered product
            counts = np.bincount(qi, minlength=b - a)
            d2 = np.einsum("ij,ij->i", x[si], np.repeat(q[a:b], counts, axis=0))
            d2 *= -2.0
            d2 += self._norms[si]
            d2 += np.repeat(q_norms[a:b], counts)
            np.maximum(d2, 0.0, out=d2)
            n_candidates[a:b] = counts
            # each query's top_k: a padded (queries x most candidates) matrix, one argpartition
            width = int(counts.max())
            starts = np.cumsum(counts) - counts
            col = np.arange(qi.size) - starts[qi]
            pad_d = np.full((b - a, width), np.inf)
            pad_d[qi, col] = d2
            pad_s = np.full((b - a, width), n_items, dtype=np.int64)  # n_items: an empty slot
            pad_s[qi, col] = si
            kk = min(top_k, width)
            if kk < width:
                part = np.argpartition(pad_d, kk - 1, axis=1)[:, :kk]
                pad_d = np.take_along_axis(pad_d, part, axis=1)
                pad_s = np.take_along_axis(pad_s, part, axis=1)
            pad_r = rows[pad_s]  # storage rows to item rows; an empty slot becomes -1
            # nearest first; equal distances in item order; empty slots (inf, -1) last
            order = np.lexsort((np.where(pad_r < 0, n_items, pad_r), pad_d), axis=1)
            distances[a:b, :kk] = np.sqrt(np.take_along_axis(pad_d, order, axis=1))
            indices[a:b, :kk] = np.take_along_axis(pad_r, order, axis=1)
        return QueryResult(indices, distances, n_candidates)


def _neighbour_scale(x: np.ndarray, seed: int, *, n_sample: int = 200, rank: int = 10) -> float:
    """Median distance from a seeded sample of rows to their ``rank``-th nearest other row: the data's neighbour scale."""
    n = x.shape[0]
    if n < 2:
        return 1.0
    rng = np.random.default_rng([seed, 2])
    sample = x[rng.choice(n, size=min(n_sample, n), replace=False)]
    r = min(rank + 1, n)  # the row itself is its own nearest neighbour
    _, dist = exact_top_k(x, sample, r)
    scale = float(np.median(dist[:, -1]))
    return scale if scale > 0 else 1.0


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


def _randomunit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
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
        y = x + c * _randomunit_rows(rng, n_trials, dim)
        for variant in ("pstable", "spark"):
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
                partners = items + c * _randomunit_rows(rng, n_pairs, dim)
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


def tune_index(items: Any, queries: Any, *, top_k: int = 10, target_recall: float = 0.9,
               tables: Sequence[int] = (8, 16, 32, 64), margin: float = 0.02, variant: str = "pstable",
               seed: int = DEFAULT_SEED) -> tuple[LSHIndex, pd.DataFrame]:
    """An LSH index tuned to reach ``target_recall`` (recall@top_k on ``queries``) while examining the fewest items.

    For each table count L in ``tables``, the theory (:func:`choose_parameters` on the
    queries' true neighbour distances and their distances to random items) proposes the
    (k, w) with the fewest predicted candidates at a predicted recall of ``target_recall +
    margin``; each proposal is built and measured on the queries. The winner is the one that
    reaches ``target_recall`` with the fewest candidates examined (ties: fewer tables), or, if
    none does, the one with the highest recall. Candidates examined, not seconds, decide, so
    the choice is the same on every machine. Returns the fitted winner and the table of the
    settings tried (``chosen`` marks the winner; ``build_seconds`` is wall clock).
    """
    x = _check_vectors(items, "items")
    q = _check_vectors(queries, "queries", dim=x.shape[1])
    top_k = min(check_int(top_k, "top_k", low=1), x.shape[0])
    target_recall = check_fraction(target_recall, "target_recall")
    margin = check_number(margin, "margin", low=0.0, high=1.0)
    tables = sorted({check_int(t, "tables[i]", low=1, high=10_000) for t in tables})
    if not tables:
        raise ValueError("tables must hold at least one table count")
    check_choice(variant, "variant", VARIANTS)
    seed = check_seed(seed)
    exact, near = exact_top_k(x, q, top_k)
    rng = np.random.default_rng([seed, 3])
    sample = rng.integers(0, x.shape[0], size=(q.shape[0], 20))
    far = np.linalg.norm(x[sample] - q[:, None, :], axis=2)
    rows, best, best_key = [], None, None
    for L in tables:
        choice = choose_parameters(near.ravel(), far.ravel(), target_recall=min(1.0, target_recall + margin),
                                   max_candidate_share=1.0, tables=(L,))
        t0 = time.perf_counter()
        index = LSHIndex(choice.k, L, choice.width, variant=variant, seed=seed).fit(x)
        build = time.perf_counter() - t0
        result = index.query(q, top_k)
        recall = float(neighbour_recall(result.indices, exact).mean())
        share = float(result.n_candidates.mean() / x.shape[0])
        rows.append((choice.k, L, choice.width, choice.predicted_recall, recall, share, build))
        # reaching the target beats not; then fewer candidates (or, short of the target, more recall); then fewer tables
        key = (recall < target_recall, share if recall >= target_recall else -recall, L)
        if best_key is None or key < best_key:
            best, best_key, best_row = index, key, len(rows) - 1
        del index
    table = pd.DataFrame(rows, columns=["k", "n_tables", "width", "predicted_recall", f"recall@{top_k}",
                                        "candidate_share", "build_seconds"])
    table["chosen"] = table.index == best_row
    return best, table


def scaling_experiment(sizes: Sequence[int] = (10_000, 30_000, 100_000), *, dim: int = 32, n_queries: int = 300,
                       top_k: int = 10, target_recall: float = 0.9, tables: Sequence[int] = (16, 32, 64),
                       seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Query time against catalogue size N for exact search and for LSH tuned to the same recall, on clustered vectors.

    For each N: ``clustered_vectors(N + 2 * n_queries)``, the last ``2 * n_queries`` held out
    as queries; LSH is tuned on the first half (:func:`tune_index`) and measured on the
    second, against :func:`exact_top_k` (numpy brute force) on the same queries. One row per
    (N, method): the setting, recall@top_k, share of items examined, build seconds and
    milliseconds per query (wall clock: machine-dependent).
    """
    sizes = [check_int(n, "sizes[i]", low=100) for n in sizes]
    dim = check_int(dim, "dim", low=1)
    n_queries = check_int(n_queries, "n_queries", low=1)
    top_k = check_int(top_k, "top_k", low=1)
    seed = check_seed(seed)
    rows = []
    for n in sizes:
        data = clustered_vectors(n + 2 * n_queries, dim, seed=seed)
        x, tune, test = data[:n], data[n:n + n_queries], data[n + n_queries:]
        t0 = time.perf_counter()
        exact, _ = exact_top_k(x, test, top_k)
        exact_seconds = time.perf_counter() - t0
        index, tried = tune_index(x, tune, top_k=top_k, target_recall=target_recall, tables=tables, seed=seed)
        build = float(tried.loc[tried["chosen"], "build_seconds"].iloc[0])
        t0 = time.perf_counter()
        result = index.query(test, top_k)
        lsh_seconds = time.perf_counter() - t0
        rows.append((n, "exact", "", 1.0, 1.0, 0.0, 1000 * exact_seconds / n_queries))
        rows.append((n, "LSH", f"k={index.k}, L={index.n_tables}, w={index.bucket_width:.2f}",
                     float(neighbour_recall(result.indices, exact).mean()),
                     float(result.n_candidates.mean() / n), build, 1000 * lsh_seconds / n_queries))
    return pd.DataFrame(rows, columns=["n_items", "method", "setting", f"recall@{top_k}", "candidate_share",
                                       "build_seconds", "ms_per_query"])


def offset_experiment(items: Any, queries: Any, *, width_ratios: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0),
                      tables: Sequence[int] = (1, 3, 10), widths: Sequence[float] | None = None, top_k: int = 10,
                      n_repeats: int = 10, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """What the offset b adds to Spark's hash: the same tables with and without b, over bucket widths and table counts.

    Spark hashes floor(r . x / w) with one unit direction r per table and no offset, so each
    table already cuts along its own direction; the question is whether edges at fixed places
    (multiples of w along r, one of them at 0) still cost near pairs. For each width and L,
    ``n_repeats`` seeds each draw L unit directions and L offsets; the index is built twice on
    the same directions ("spark" without b, "spark+offset" with it) and recall@top_k of the
    queries against exact search is measured (the share of each query's true top_k that
    shares its bucket in some table: what an index that re-ranks its candidates finds). Widths are ``width_ratios`` times the spread
    of the items' projections (the median over the directions of the standard deviation of
    r . x): the regime variable, since a fixed edge at 0 cuts through the crowd of projections
    when w is as wide as that crowd. ``width_over_neighbour`` gives the same width against
    the median distance from a query to its top_k-th neighbour; ``widths`` (absolute, such as
    Spark's bucket length) replaces ``width_ratios`` when given. One row per (width, L):
    recall and share of items examined with and without b, the paired difference (with b
    minus without) and its standard error over the repeats.
    """
    x = _check_vectors(items, "items")
    q = _check_vectors(queries, "queries", dim=x.shape[1])
    ratios = [check_number(r, "width_ratios[i]", low=0.0, include_low=False) for r in width_ratios]
    if widths is not None:
        widths = [_check_width(w, "widths[i]") for w in widths]
    tables = [check_int(t, "tables[i]", low=1, high=1000) for t in tables]
    top_k = min(check_int(top_k, "top_k", low=1), x.shape[0])
    n_repeats = check_int(n_repeats, "n_repeats", low=2)
    seed = check_seed(seed)
    exact, near = exact_top_k(x, q, top_k)
    rng = np.random.default_rng([seed, 4])
    probe = rng.standard_normal((x.shape[1], 64))
    probe /= np.linalg.norm(probe, axis=0, keepdims=True)
    spread = float(np.median((x @ probe).std(axis=0)))
    neighbour = float(np.median(near[:, -1]))
    if widths is not None:
        ratios = [w / spread for w in widths]
    top_l = max(tables)
    check_memory(2.0 * q.shape[0] * x.shape[0] + 16.0 * (x.shape[0] + q.shape[0]) * top_l,
                 f"offset_experiment on {x.shape[0]} items and {q.shape[0]} queries")
    rows = []
    for ratio in ratios:
        w = ratio * spread
        for L in tables:
            rec = np.empty((n_repeats, 2))
            share = np.empty((n_repeats, 2))
            for r in range(n_repeats):
                for j, variant in enumerate(("spark", "spark+offset")):
                    # one function per table, as in Spark: an item is a candidate when it shares the query's
                    # bucket in some table, and re-ranking keeps every true neighbour that is a candidate
                    f = hash_functions(x.shape[1], L, w, variant=variant, seed=seed + r)
                    hx, hq = f(x), f(q)
                    same = np.zeros((q.shape[0], x.shape[0]), dtype=bool)
                    for t in range(L):
                        same |= hq[:, t, None] == hx[None, :, t]
                    rec[r, j] = np.take_along_axis(same, exact, axis=1).mean()
                    share[r, j] = same.mean()
            diff = rec[:, 1] - rec[:, 0]
            rows.append((ratio, w, w / neighbour if neighbour > 0 else np.inf, L, rec[:, 0].mean(), rec[:, 1].mean(),
                         diff.mean(), diff.std(ddof=1) / math.sqrt(n_repeats), share[:, 0].mean(), share[:, 1].mean()))
    return pd.DataFrame(rows, columns=["width_over_spread", "width", "width_over_neighbour", "n_tables",
                                       "recall_without_b", "recall_with_b", "gain", "gain_se",
                                       "share_without_b", "share_with_b"])


class SettingsExplorer:
    """What one (k, L, w) does on fixed items and queries: candidates examined, recall@top_k, and the theory's prediction.

    ``explore = SettingsExplorer(items, queries); explore(k=4, n_tables=16, width=1.0)``. The
    exact answers, the distances to true neighbours and to random items are computed once,
    so a call costs one index build and one batch query (milliseconds on the course's movie
    vectors): fast enough to follow a slider. Returns a dict: the setting, ``recall`` and
    ``candidate_share`` measured, ``predicted_recall`` and ``predicted_candidate_share`` from
    1 - (1 - p(d)^k)^L averaged over the neighbour and random distances, and the curve of that
    probability against distance (``distance``, ``probability``) with both distance samples,
    for a figure.
    """

    def __init__(self, items: Any, queries: Any, *, top_k: int = 10, n_random: int = 20,
                 variant: str = "pstable", seed: int = DEFAULT_SEED) -> None:
        self.items = _check_vectors(items, "items")
        self.queries = _check_vectors(queries, "queries", dim=self.items.shape[1])
        self.top_k = min(check_int(top_k, "top_k", low=1), self.items.shape[0])
        n_random = check_int(n_random, "n_random", low=1)
        self.variant = check_choice(variant, "variant", VARIANTS)
        self.seed = check_seed(seed)
        self.exact, near = exact_top_k(self.items, self.queries, self.top_k)
        rng = np.random.default_rng([self.seed, 5])
        sample = rng.integers(0, self.items.shape[0], size=(self.queries.shape[0], n_random))
        self.near = near.ravel()
        self.far = np.linalg.norm(self.items[sample] - self.queries[:, None, :], axis=2).ravel()
        self.grid = np.linspace(0.0, float(np.quantile(self.far, 0.99)), 120)

    def __call__(self, k: int = 4, n_tables: int = 8, width: float = 1.0) -> dict:
        k = check_int(k, "k", low=1, high=64)
        n_tables = check_int(n_tables, "n_tables", low=1, high=10_000)
        width = _check_width(width)
        result = LSHIndex(k, n_tables, width, variant=self.variant, seed=self.seed).fit(self.items).query(
            self.queries, self.top_k)
        if self.variant == "pstable":
            p = lambda d: collision_probability(d, width)  # noqa: E731
        else:  # Spark's hash has no closed form: the same average over unit directions, on the grid
            curve = spark_collision_probability(self.grid, width, self.items.shape[1])
            p = lambda d: np.interp(d, self.grid, curve)  # noqa: E731
        return {
            "k": k, "n_tables": n_tables, "width": width,
            "recall": float(neighbour_recall(result.indices, self.exact).mean()),
            "predicted_recall": float(np.mean(candidate_probability(p(self.near), k, n_tables))),
            "candidates_per_query": float(result.n_candidates.mean()),
            "candidate_share": float(result.n_candidates.mean() / self.items.shape[0]),
            "predicted_candidate_share": float(np.mean(candidate_probability(p(self.far), k, n_tables))),
            "distance": self.grid, "probability": candidate_probability(p(self.grid), k, n_tables),
            "near": self.near, "far": self.far,
        }


def draw_settings(result: dict, fig: Any) -> None:
    """Draw a :class:`SettingsExplorer` result: the candidate chance against distance, and measured against predicted."""
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    left.plot(result["distance"], result["probability"], linestyle="--", color="black",
              label="theory 1 - (1 - p(c)^k)^L")
    for sample, color, name in ((result["near"], "tab:green", "true neighbours"),
                                (result["far"], "tab:red", "random items")):
        left.axvspan(*np.quantile(sample, [0.1, 0.9]), color=color, alpha=0.15, label=f"{name} (10-90%)")
    left.set_ylim(0, 1.02)
    left.set_xlabel("distance from the query")
    left.set_ylabel("chance of being a candidate")
    left.legend(loc="upper right", fontsize=8)
    names = ["recall@10", "share examined"]
    measured = [result["recall"], result["candidate_share"]]
    predicted = [result["predicted_recall"], result["predicted_candidate_share"]]
    pos = np.arange(2)
    right.bar(pos - 0.2, measured, width=0.4, color="tab:blue", label="measured")
    right.bar(pos + 0.2, predicted, width=0.4, color="lightgrey", edgecolor="black", label="theory")
    for x_pos, m in zip(pos, measured):
        right.text(x_pos - 0.2, m + 0.02, f"{m:.2f}", ha="center", fontsize=8)
    right.set_xticks(pos, names)
    right.set_ylim(0, 1.1)
    right.set_ylabel("share")
    right.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"k={result['k']}, L={result['n_tables']}, w={result['width']:g}: recall {result['recall']:.2f} "
                 f"examining {result['candidate_share']:.1%} of the items")


def settings_summary(result: dict) -> str:
    """The numbers of a :class:`SettingsExplorer` result, as one line of text."""
    return (f"k={result['k']}, L={result['n_tables']}, w={result['width']:g}: recall@10 {result['recall']:.3f} "
            f"(theory {result['predicted_recall']:.3f}), {result['candidates_per_query']:.0f} candidates per query = "
            f"{result['candidate_share']:.1%} of the items (theory {result['predicted_candidate_share']:.1%})")


def pareto_front(cost: Any, quality: Any) -> np.ndarray:
    """True for the points no other point beats: none has lower-or-equal cost and higher-or-equal quality, one strictly."""
    c = np.asarray(cost, dtype=float)
    g = np.asarray(quality, dtype=float)
    if c.shape != g.shape or c.ndim != 1:
        raise ValueError(f"cost and quality must be 1-D of the same length, got {c.shape} and {g.shape}")
    better = (c[None, :] <= c[:, None]) & (g[None, :] >= g[:, None]) & ((c[None, :] < c[:, None]) | (g[None, :] > g[:, None]))
    return ~better.any(axis=1)


# ---------------------------------------------------------------------------
# LSH for a user: nearest films in the shared space
# ---------------------------------------------------------------------------


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
    k = min(check_int(k, "k", low=1), len(items.ids))  # no list longer than the catalogue
    row = users.rows([user_id])
    query = unit_rows(users.vectors[row])
    unit_items = unit_rows(items.vectors - items.vectors.mean(axis=0))
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
