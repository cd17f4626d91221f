"""Chapter 03: how a cache can absorb most recommendation requests.

Three pieces, each measured against something independent:

* **Policies and theory.** Cache objects that serve requests come from cachetools
  (LRU, LFU, FIFO, TTL): :func:`serve` replays a trace through one. For hit-ratio
  curves, :func:`lru_stack_distances` computes Mattson's stack distance of every
  request in one pass, so :func:`lru_hit_counts` gives the exact LRU hit count for
  *every* cache size at once (a request hits an LRU cache of size C exactly when its
  stack distance is at most C). Che's approximation (:func:`che_hit_ratio`) predicts
  the LRU curve under independent requests with known popularity.
* **Cache keys on realistic traffic.** ``traffic.generate_trace`` builds a day of
  recommendation requests on a users table: sessions of returning users (who page through
  the feed and come back to pages they saw) and of new users who bring only a region, a
  platform and the time of day. :func:`cache_keys` turns each request into a cache key
  under a :class:`KeyDesign` (raw request, user + page, segment of a new user, ...).
* **Time.** :func:`replay_ttl` replays an unbounded TTL cache exactly and fast; a
  :class:`ServeResult` knows the age of every list it served, so
  :meth:`ServeResult.stale_share` says how many were computed before the current model.

    trace = traffic.generate_trace(users, seed=7)
    keys = cache_keys(trace, DESIGNS["segment (new) + user + page"])
    result = replay_ttl(keys, trace["time"], ttl=600)
    result.hit_ratio, result.stale_share(refresh_interval=3600)

Nothing here uses Python's ``hash()`` of strings: keys are numbered in order of first
appearance (``pandas.factorize``), so every number is the same in every process.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import cachetools
import numpy as np
import pandas as pd

from .checks import check_choice, check_fraction, check_frame, check_int, check_memory, check_number, check_probability
from .explorers import choice, slider
from .seeding import DEFAULT_SEED
from .traffic import generate_trace

__all__ = [
    "CacheView",
    "DESIGNS",
    "EXPLORER_CONTROLS",
    "EXPLORER_POLICIES",
    "FIELDS",
    "KeyDesign",
    "POLICIES",
    "ServeResult",
    "backend_load",
    "cache_key",
    "cache_keys",
    "cache_summary",
    "capacity_table",
    "che_hit_ratio",
    "che_hit_ratio_curve",
    "design_hit_ratios",
    "draw_cache",
    "explore_cache",
    "list_bytes",
    "list_staleness",
    "longest_ttl_within",
    "lru_hit_counts",
    "lru_hit_ratio_curve",
    "lru_stack_distances",
    "lru_stack_distances_fenwick",
    "make_cache",
    "mean_live_entries",
    "new_user_scale_table",
    "policy_table",
    "replay_ttl",
    "SEGMENT_COLUMNS",
    "SEGMENT_DESIGNS",
    "segment_definitions_table",
    "segment_list_quality",
    "serve",
    "serve_expiring",
    "servers_needed",
    "session_grid",
    "static_top_hit_ratio",
    "ttl_size_table",
    "ttl_sweep",
]

POLICIES = ("lru", "lfu", "fifo", "ttl")


# --------------------------------------------------------------------------- validation helpers

def _key_codes(keys: Any) -> np.ndarray:
    """Number the keys 0, 1, ... in order of first appearance (deterministic across processes)."""
    if keys is None or isinstance(keys, (str, bytes)):
        raise TypeError(f"keys must be a sequence of cache keys (one per request), got {type(keys).__name__}")
    if isinstance(keys, pd.Series):
        arr = keys.to_numpy()
    elif isinstance(keys, np.ndarray):
        arr = keys
    else:
        items = list(keys)
        arr = np.fromiter(items, dtype=object, count=len(items))
    if arr.ndim != 1:
        raise ValueError(f"keys must be one-dimensional (one key per request), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("the trace is empty: expected at least one request key")
    codes, _ = pd.factorize(arr)
    if (codes < 0).any():
        raise ValueError("keys contain missing values (None or NaN); every request needs a key")
    return codes.astype(np.int64, copy=False)


def _times(times: Any, n: int) -> np.ndarray:
    if times is None:
        return np.arange(n, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size != n:
        raise ValueError(f"times must hold one timestamp per request ({n}), got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("times contain NaN or infinite values")
    if n > 1 and (np.diff(t) < 0).any():
        raise ValueError("times must be non-decreasing: replay requests in the order they arrived")
    return t


# --------------------------------------------------------------------------- serving with cachetools

def make_cache(policy: str, size: int, *, ttl: float | None = None,
               timer: Callable[[], float] | None = None) -> cachetools.Cache:
    """A cachetools cache: 'lru', 'lfu', 'fifo', or 'ttl' (LRU eviction plus expiry ``ttl`` after insertion)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    size = check_int(size, "size", low=0)
    if policy == "ttl":
        if ttl is None:
            raise ValueError("policy 'ttl' needs a ttl (seconds, or time units of the trace)")
        return cachetools.TTLCache(size, check_number(ttl, "ttl", low=0, include_low=False), timer=timer or (lambda: 0.0))
    if ttl is not None:
        raise ValueError(f"ttl applies only to policy 'ttl', not {policy!r}")
    return {"lru": cachetools.LRUCache, "lfu": cachetools.LFUCache, "fifo": cachetools.FIFOCache}[policy](size)


@dataclass(frozen=True, eq=False)
class ServeResult:
    """What a replayed cache did for each request: hit or miss, and when the list it served was computed.

    ``born[i]`` is the time the served list was computed: the request's own time on a
    miss (the model computed it now), the insertion time of the cache entry on a hit.
    The first ``warmup`` requests fill the cache and are not counted.
    """

    hit: np.ndarray
    times: np.ndarray
    born: np.ndarray
    warmup: int = 0

    @property
    def requests(self) -> int:
        """Requests counted (after the warm-up)."""
        return len(self.hit) - self.warmup

    @property
    def hits(self) -> int:
        """Requests served from the cache (after the warm-up)."""
        return int(self.hit[self.warmup:].sum())

    @property
    def hit_ratio(self) -> float:
        """Share of counted requests served from the cache."""
        return self.hits / self.requests

    @property
    def age(self) -> np.ndarray:
        """Age of the list served to each request (0 on a miss)."""
        return self.times - self.born

    def stale_share(self, refresh_interval: float, *, phase: float | None = None) -> float:
        """Share of counted requests served a list computed before the current model.

        The model is refreshed every ``refresh_interval``; a list is stale when a refresh
        happened between its computation and the moment it is served (misses are always
        fresh). With ``phase`` the refreshes happen at ``phase + k * refresh_interval``
        (``phase=0`` and 3600 s: on the hour); without it, the expected share when the
        refresh moment is independent of the traffic: a list of age a is stale with
        probability min(a / refresh_interval, 1).
        """
        r = check_number(refresh_interval, "refresh_interval", low=0, include_low=False)
        w = self.warmup
        if phase is None:
            return float(np.minimum(self.age[w:] / r, 1.0).sum() / self.requests)
        p = check_number(phase, "phase", allow_inf=True)
        stale = np.floor((self.times[w:] - p) / r) > np.floor((self.born[w:] - p) / r)
        return float(stale.sum() / self.requests)


def serve(keys: Sequence[Any] | np.ndarray, policy: str, size: int, *, times: Sequence[float] | None = None,
          ttl: float | None = None, warmup: int = 0) -> ServeResult:
    """Replay requests through a cachetools cache of ``size`` entries: hit if the key is cached, else compute and insert.

    ``times`` (non-decreasing) default to the request index, one request per time unit;
    ``ttl`` is for policy 'ttl' only; the first ``warmup`` requests are not counted.
    """
    codes = _key_codes(keys)
    n = len(codes)
    size = check_int(size, "size", low=0)
    t = _times(times, n)
    warmup = check_int(warmup, "warmup", low=0)
    if warmup >= n:
        raise ValueError(f"warmup ({warmup}) must leave at least one request of the {n} to count")
    clock = [0.0]
    cache = make_cache(policy, size, ttl=ttl, timer=lambda: clock[0])
    hit = np.zeros(n, dtype=bool)
    born = t.copy()
    if size == 0:  # nothing fits: every request goes to the model
        return ServeResult(hit, t, born, warmup)
    hits: list[int] = []
    born_on_hit: list[float] = []
    get = cache.get  # `get` refreshes recency (LRU) and frequency (LFU) like a read does
    for i, (key, now) in enumerate(zip(codes.tolist(), t.tolist())):
        clock[0] = now
        entry = get(key)
        if entry is None:
            cache[key] = now
        else:
            hits.append(i)
            born_on_hit.append(entry)
    hit[hits] = True
    born[hits] = born_on_hit
    return ServeResult(hit, t, born, warmup)


def replay_ttl(keys: Sequence[Any] | np.ndarray, times: Sequence[float], ttl: float, *,
               warmup: int = 0) -> ServeResult:
    """Exact, vectorised replay of an unbounded TTL cache: an entry serves requests until ``ttl`` after it was computed.

    Equal, request by request, to ``serve(keys, "ttl", size, times=times, ttl=ttl)`` when
    ``size`` is never reached (a test checks this), and fast enough for sweeps.
    """
    codes = _key_codes(keys)
    n = len(codes)
    t = _times(times, n)
    ttl = check_number(ttl, "ttl", low=0, include_low=False)
    warmup = check_int(warmup, "warmup", low=0)
    if warmup >= n:
        raise ValueError(f"warmup ({warmup}) must leave at least one request of the {n} to count")
    order = np.argsort(codes, kind="stable")  # grouped by key, in time order within a key
    c, ts = codes[order], t[order]
    first = np.ones(n, dtype=bool)
    first[1:] = c[1:] != c[:-1]
    starts = np.flatnonzero(first)
    group_end = np.repeat(np.append(starts[1:], n), np.diff(np.append(starts, n)))
    # For every request, the first later request of the same key at or after its expiry.
    # One lexsort of requests and expiry times (ties: expiry first, as TTLCache treats
    # `now == expires` as expired) finds them all without adding times to key offsets.
    kind = np.concatenate((np.zeros(n, np.int8), np.ones(n, np.int8)))  # 0 expiry, 1 request
    merged = np.lexsort((kind, np.concatenate((ts + ttl, ts)), np.concatenate((c, c))))
    is_request = merged >= n
    requests_before = np.cumsum(is_request) - is_request
    next_miss = np.empty(n, dtype=np.int64)
    next_miss[merged[~is_request]] = requests_before[~is_request]
    # Misses form a chain per key: its first request, then the first request after each expiry.
    miss = np.zeros(n, dtype=bool)
    frontier = starts
    while frontier.size:
        miss[frontier] = True
        step = next_miss[frontier]
        frontier = step[step < group_end[frontier]]
    last_miss = np.maximum.accumulate(np.where(miss, np.arange(n), 0))
    born_sorted = ts[last_miss]
    hit = np.empty(n, dtype=bool)
    born = np.empty(n, dtype=np.float64)
    hit[order] = ~miss
    born[order] = born_sorted
    return ServeResult(hit, t, born, warmup)


def mean_live_entries(result: ServeResult, ttl: float) -> float:
    """Mean number of unexpired entries of an unbounded TTL cache over the counted part of the trace: its memory."""
    ttl = check_number(ttl, "ttl", low=0, include_low=False)
    t = result.times
    begin, end = float(t[result.warmup]), float(t[-1])
    if end <= begin:
        raise ValueError("the counted trace spans no time: need requests at two or more distinct times")
    inserted = t[~result.hit]
    alive = np.minimum(inserted + ttl, end) - np.maximum(inserted, begin)  # each entry's life inside [begin, end]
    return float(np.clip(alive, 0.0, None).sum() / (end - begin))


# --------------------------------------------------------------------------- LRU for every size at once

def lru_stack_distances_fenwick(keys: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Mattson's LRU stack distance of each request, the classic way: a Fenwick tree over last-access positions.

    The teaching version (a plain Python loop, O(n log n)); :func:`lru_stack_distances`
    computes the same numbers vectorised. A request's distance is the number of
    distinct keys requested since the previous request for its key, itself included;
    ``inf`` for the first request of a key.
    """
    codes = _key_codes(keys).tolist()
    n = len(codes)
    tree = [0] * (n + 1)  # tree over positions: 1 where a key was last requested

    def add(position: int, delta: int) -> None:
        i = position + 1
        while i <= n:
            tree[i] += delta
            i += i & -i

    def marks_before(position: int) -> int:  # marks at positions 0 .. position-1
        total, i = 0, position
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    last: dict[int, int] = {}
    out = np.full(n, np.inf)
    for t, key in enumerate(codes):
        p = last.get(key)
        if p is not None:
            # keys whose last request lies strictly between p and t, plus the key itself
            out[t] = marks_before(t) - marks_before(p + 1) + 1
            add(p, -1)
        add(t, +1)
        last[key] = t
    return out


def lru_stack_distances(keys: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Mattson's LRU stack distance of every request, vectorised (``inf`` for a key's first request).

    For a request at t whose key was last requested at p, the distance is the number of
    distinct keys in positions p..t-1: (t - p) minus the requests u < t whose own
    previous request lies after p (those repeat a key already counted). So it reduces
    to "for each t, how many earlier u have prev(u) > prev(t)", which a wavelet
    matrix over prev answers for all t together, one bit level at a time: O(n log n)
    in a few dozen numpy passes.
    """
    codes = _key_codes(keys)
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    same = codes[order][1:] == codes[order][:-1]
    prev = np.full(n, -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    later_reuses = _count_earlier_greater(prev + 1)  # prev + 1 >= 1 for reuses, 0 for first requests
    distances = np.full(n, np.inf)
    reuse = prev >= 0
    distances[reuse] = (np.arange(n) - prev - later_reuses)[reuse]
    return distances


def _count_earlier_greater(values: np.ndarray) -> np.ndarray:
    """For each position t, the number of positions u < t with values[u] > values[t] (values >= 0)."""
    n = len(values)
    cur = values.astype(np.int64, copy=True)
    lo = np.zeros(n, dtype=np.int64)  # each query's range [lo, hi) in the current level's order:
    hi = np.arange(n, dtype=np.int64)  # the prefix [0, t), as elements sharing its high bits
    count = np.zeros(n, dtype=np.int64)
    zeros_before = np.zeros(n + 1, dtype=np.int64)
    for level in range(max(int(cur.max()).bit_length(), 1) - 1, -1, -1):
        bit = (cur >> level) & 1
        np.cumsum(1 - bit, out=zeros_before[1:])
        n_zeros = zeros_before[-1]
        lo0, hi0 = zeros_before[lo], zeros_before[hi]
        query_zero = ((values >> level) & 1) == 0
        # where the query's bit is 0, the range's elements with bit 1 are all greater
        count += np.where(query_zero, (hi - lo) - (hi0 - lo0), 0)
        lo = np.where(query_zero, lo0, n_zeros + lo - lo0)
        hi = np.where(query_zero, hi0, n_zeros + hi - hi0)
        cur = np.concatenate((cur[bit == 0], cur[bit == 1]))  # stable partition: the next level's order
    return count


def _sizes(sizes: Iterable[int] | np.ndarray) -> np.ndarray:
    if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
        sizes = [sizes]
    out = []
    for s in sizes:
        out.append(check_int(s, "sizes", low=0))
    if not out:
        raise ValueError("sizes is empty: give at least one cache size")
    return np.asarray(out, dtype=np.int64)


def _lru_counts(keys: Sequence[Any] | np.ndarray, sizes: Iterable[int], warmup: int) -> tuple[np.ndarray, int]:
    sizes = _sizes(sizes)
    distances = lru_stack_distances(keys)
    warmup = check_int(warmup, "warmup", low=0)
    if warmup >= len(distances):
        raise ValueError(f"warmup ({warmup}) must leave at least one request of the {len(distances)} to count")
    d = distances[warmup:]
    finite = d[np.isfinite(d)].astype(np.int64)
    # a distance never exceeds the number of distinct keys, so larger sizes all hit as often as that one
    longest = int(min(sizes.max(), finite.max(initial=0)))
    at_most = np.cumsum(np.bincount(finite, minlength=longest + 1))  # requests with distance <= C
    return at_most[np.minimum(sizes, len(at_most) - 1)], len(d)


def lru_hit_counts(keys: Sequence[Any] | np.ndarray, sizes: Iterable[int], *, warmup: int = 0) -> np.ndarray:
    """Exact LRU hit counts for every cache size in ``sizes``, from one pass (stack distances)."""
    return _lru_counts(keys, sizes, warmup)[0]


def lru_hit_ratio_curve(keys: Sequence[Any] | np.ndarray, sizes: Iterable[int], *, warmup: int = 0) -> np.ndarray:
    """LRU hit ratio for every cache size in ``sizes`` (counted after ``warmup`` requests)."""
    counts, n = _lru_counts(keys, sizes, warmup)
    return counts / n


# --------------------------------------------------------------------------- Che's approximation

def _popularity(popularity: Sequence[float] | np.ndarray) -> np.ndarray:
    q = np.asarray(popularity, dtype=np.float64)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"popularity must be a non-empty 1-D array of request probabilities, got shape {q.shape}")
    if not np.isfinite(q).all() or (q < 0).any():
        raise ValueError("popularity must hold finite, non-negative probabilities")
    if abs(q.sum() - 1.0) > 1e-6:
        raise ValueError(f"popularity must sum to 1 (request probabilities), got {q.sum():.6g}; "
                         "divide the weights by their sum first")
    return q


def che_characteristic_time(popularity: Sequence[float] | np.ndarray, cache_size: float) -> float:
    """Che's characteristic time T_C: the root of sum_i (1 - exp(-q_i T)) = C (in requests).

    Under independent requests an LRU cache behaves as if every key stayed T_C requests
    after its last request. 0 for an empty cache; inf when the cache holds every key.
    """
    from scipy.optimize import brentq

    q = _popularity(popularity)
    c = check_number(cache_size, "cache_size", low=0, allow_inf=True)
    if c == 0:
        return 0.0
    if c >= np.count_nonzero(q):
        return math.inf

    def excess(T: float) -> float:  # expected number of cached keys minus C
        return float(-np.expm1(-q * T).sum() - c)

    lo, hi = c, 2.0 * c  # 1 - exp(-x) < x, so excess(C) < 0: the root lies above C
    while excess(hi) <= 0:
        lo, hi = hi, 2.0 * hi
    return float(brentq(excess, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500))


def che_hit_ratio(popularity: Sequence[float] | np.ndarray, cache_size: float) -> float:
    """Che's approximation of the LRU hit ratio: sum_i q_i (1 - exp(-q_i T_C))."""
    q = _popularity(popularity)
    T = che_characteristic_time(q, cache_size)
    if math.isinf(T):
        return 1.0
    return float((q * -np.expm1(-q * T)).sum())


def che_hit_ratio_curve(popularity: Sequence[float] | np.ndarray, sizes: Iterable[float]) -> np.ndarray:
    """Che's LRU hit ratio for each cache size in ``sizes``, all sizes solved at once.

    Newton's method on sum_i (1 - exp(-q_i T)) = C, started at T = C (below the root): the left side
    is increasing and concave in T, so every step stays below the root and closes in on it
    monotonically; the result agrees with :func:`che_hit_ratio` (a bracketed root per size) to 1e-9.
    """
    q = _popularity(popularity)
    c = np.array([check_number(s, "sizes", low=0, allow_inf=True) for s in sizes], dtype=np.float64)
    out = np.ones_like(c)
    solve = (c > 0) & (c < np.count_nonzero(q))
    out[c == 0] = 0.0
    if solve.any():
        qq = q[q > 0][:, None]
        T = c[solve].copy()
        for _ in range(200):
            e = np.exp(-qq * T)
            excess = (1.0 - e).sum(axis=0) - c[solve]
            step = -excess / (qq * e).sum(axis=0)
            T = T + step
            if np.all(np.abs(step) <= 1e-13 * T):
                break
        out[solve] = (qq * -np.expm1(-qq * T)).sum(axis=0)
    return out


def static_top_hit_ratio(popularity: Sequence[float] | np.ndarray, cache_size: int) -> float:
    """Hit ratio of a cache that always holds the ``cache_size`` most popular keys (perfect LFU).

    Under independent requests no policy that knows only popularity does better: the
    ceiling the curves of LRU, LFU and FIFO approach.
    """
    q = np.sort(_popularity(popularity))[::-1]
    return float(q[: check_int(cache_size, "size", low=0)].sum())


# --------------------------------------------------------------------------- cache keys

#: What each element of a key stands for, as columns of a trace.
FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "page": ("page",),
    "list": ("list_block",),  # one cached ranked list serves PAGES_PER_LIST pages
    "context": ("platform", "network", "geo_cell", "minute"),  # the exact context as sent
    "bucket": ("platform", "daypart"),  # a coarse context bucket
    "segment": ("region", "platform", "daypart"),  # what is known of a new user
    "taste segment": ("age_group", "gender", "daypart"),  # what a new user's sign-up form says, and carries taste
}


@dataclass(frozen=True)
class KeyDesign:
    """A cache key design: the elements of the key for a returning user's request and for a new user's."""

    name: str
    returning: tuple[str, ...]
    new: tuple[str, ...]

    def __post_init__(self) -> None:
        for part in (self.returning, self.new):
            unknown = [e for e in part if e not in FIELDS]
            if unknown or not part:
                raise ValueError(f"key design {self.name!r}: elements must be a non-empty tuple from "
                                 f"{sorted(FIELDS)}, got {part}")

    def columns(self, is_new: bool) -> tuple[str, ...]:
        """The trace columns that make up the key of a new (True) or returning (False) user's request."""
        cols: list[str] = []
        for element in (self.new if is_new else self.returning):
            cols += [c for c in FIELDS[element] if c not in cols]
        return tuple(cols)


def _design(name: str, returning: tuple[str, ...], new: tuple[str, ...] | None = None) -> KeyDesign:
    return KeyDesign(name, returning, returning if new is None else new)


#: The key designs the chapter compares (the issue's list and their combinations).
DESIGNS: dict[str, KeyDesign] = {d.name: d for d in (
    _design("raw request", ("user", "page", "context")),
    _design("user + page", ("user", "page")),
    _design("user + page + context bucket", ("user", "page", "bucket")),
    _design("segment (new) + raw request", ("user", "page", "context"), ("segment", "page")),
    _design("segment (new) + user + page", ("user", "page"), ("segment", "page")),
    _design("segment (new) + user + page + context bucket", ("user", "page", "bucket"), ("segment", "page")),
    _design("segment (new) + user list", ("user", "list"), ("segment", "list")),
)}


#: The segment definitions section 4 compares for new users, each as a list-cache design (one list per session):
#: the context a logged-out visitor brings, and the registration features that carry taste.
SEGMENT_DESIGNS: dict[str, KeyDesign] = {d.name: d for d in (
    DESIGNS["segment (new) + user list"],
    _design("taste segment (new) + user list", ("user", "list"), ("taste segment", "list")),
)}
#: the users-table columns each segment definition groups ratings by to build its lists (a rating has no daypart)
SEGMENT_COLUMNS: dict[str, tuple[str, ...]] = {"segment (new) + user list": ("region", "signup_platform"),
                                               "taste segment (new) + user list": ("age_group", "gender")}


def _as_design(design: KeyDesign | str) -> KeyDesign:
    if isinstance(design, KeyDesign):
        return design
    if isinstance(design, str) and design in DESIGNS:
        return DESIGNS[design]
    if isinstance(design, str) and design in SEGMENT_DESIGNS:
        return SEGMENT_DESIGNS[design]
    raise ValueError(f"unknown key design {design!r}; pass a KeyDesign or one of {list(DESIGNS) + list(SEGMENT_DESIGNS)[1:]}")


def cache_key(request: Mapping[str, Any], design: KeyDesign | str) -> tuple:
    """The cache key of one request (a row of a trace, as a dict): ('new' | 'returning', values...)."""
    design = _as_design(design)
    if not isinstance(request, Mapping):
        raise TypeError(f"request must be a mapping of field -> value (a trace row as a dict), got {type(request).__name__}")
    new = bool(request.get("is_new", False))
    cols = design.columns(new)
    missing = [c for c in cols if c not in request]
    if missing:
        raise ValueError(f"request lacks {missing}, needed by key design {design.name!r}")
    return ("new" if new else "returning",) + tuple(request[c] for c in cols)


def cache_keys(trace: pd.DataFrame, design: KeyDesign | str) -> np.ndarray:
    """Integer cache keys of every request of a trace, numbered in order of first appearance.

    Two requests get the same number exactly when :func:`cache_key` gives them the same key.
    """
    design = _as_design(design)
    if not isinstance(trace, pd.DataFrame):
        raise TypeError(f"trace must be a DataFrame from generate_trace, got {type(trace).__name__}")
    if trace.empty:
        raise ValueError("the trace is empty: expected at least one request")
    needed = set(design.columns(True)) | set(design.columns(False)) | {"is_new"}
    missing = sorted(needed - set(trace.columns))
    if missing:
        raise ValueError(f"trace lacks column(s) {missing}, needed by key design {design.name!r}")
    is_new = trace["is_new"].to_numpy(dtype=bool)
    parts = {"part": is_new.astype(np.int8)}
    for col in sorted(needed - {"is_new"}):
        codes = pd.factorize(trace[col])[0].astype(np.int64)
        parts[col] = np.where(is_new, codes if col in design.columns(True) else -1,
                              codes if col in design.columns(False) else -1)
    frame = pd.DataFrame(parts)
    return frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy(dtype=np.int64)


# --------------------------------------------------------------------------- what it buys

def backend_load(result: ServeResult, *, bin_seconds: float = 3600.0) -> pd.DataFrame:
    """Requests per second reaching the cache and the model (misses), per time bin of the trace."""
    width = check_number(bin_seconds, "bin_seconds", low=0, include_low=False)
    w = result.warmup
    bins = np.floor(result.times[w:] / width).astype(np.int64)
    frame = pd.DataFrame({"bin": bins, "hit": result.hit[w:]})
    out = frame.groupby("bin").agg(requests=("hit", "size"), hits=("hit", "sum"))
    out["requests_per_s"] = out["requests"] / width
    out["backend_per_s"] = (out["requests"] - out["hits"]) / width
    out["hit_ratio"] = out["hits"] / out["requests"]
    out.index = out.index * width
    out.index.name = "bin_start"
    return out


def design_hit_ratios(trace: pd.DataFrame, design: str, ttl: float) -> dict[str, Any]:
    """Replay ``trace`` through a TTL cache keyed by ``design``: hit ratio overall, for new and for returning users."""
    keys = cache_keys(trace, design)
    result = replay_ttl(keys, trace["time"], ttl)
    is_new = trace["is_new"].to_numpy(dtype=bool)

    def share(mask: np.ndarray) -> float:
        return float(result.hit[mask].mean()) if mask.any() else float("nan")  # a trace may hold one kind of user

    return {"design": design, "hit ratio": result.hit_ratio, "new users": share(is_new),
            "returning users": share(~is_new), "distinct keys": int(len(np.unique(keys)))}


def servers_needed(requests_per_second: float, capacity_per_server: float, *, utilisation: float = 0.7) -> int:
    """Model servers to serve ``requests_per_second`` with each kept at ``utilisation`` of its capacity."""
    rps = check_number(requests_per_second, "requests_per_second", low=0)
    cap = check_number(capacity_per_server, "capacity_per_server", low=0, include_low=False)
    u = check_fraction(utilisation, "utilisation", include_low=False)
    return int(math.ceil(rps / (cap * u) - 1e-9))


# --------------------------------------------------------------------------- experiments as tables

def policy_table(keys: Sequence[Any] | np.ndarray, popularity: Sequence[float] | np.ndarray, sizes: Iterable[int], *,
                 warmup: int = 0) -> pd.DataFrame:
    """Hit ratio by cache size (index) of LRU (stack distances), Che's theory, LFU and FIFO (cachetools), and the top-C ceiling."""
    sizes = _sizes(sizes).tolist()
    lru = lru_hit_ratio_curve(keys, sizes, warmup=warmup)
    rows = [{"cache size": size, "LRU": lru[j], "Che (theory)": che_hit_ratio(popularity, size),
             "LFU": serve(keys, "lfu", size, warmup=warmup).hit_ratio,
             "FIFO": serve(keys, "fifo", size, warmup=warmup).hit_ratio,
             "top-C ceiling": static_top_hit_ratio(popularity, size)} for j, size in enumerate(sizes)]
    return pd.DataFrame(rows).set_index("cache size")


def ttl_size_table(keys: Sequence[Any] | np.ndarray, times: Sequence[float], ttls: Iterable[float], *,
                   warmup: int = 0) -> pd.DataFrame:
    """A TTL cache at each TTL: its hit ratio and its memory (mean live entries), one row per TTL."""
    rows = []
    for ttl in ttls:
        result = replay_ttl(keys, times, ttl, warmup=warmup)
        rows.append({"TTL": float(ttl), "mean live entries": mean_live_entries(result, ttl), "hit ratio": result.hit_ratio})
    if not rows:
        raise ValueError("ttls is empty: give at least one TTL")
    return pd.DataFrame(rows)


def ttl_sweep(trace: pd.DataFrame, designs: Sequence[str], ttls: Iterable[float], *,
              refresh_interval: float = 3600.0) -> pd.DataFrame:
    """Hit ratio and stale share (lists older than the current model, refreshed every ``refresh_interval``) by TTL and design."""
    rows = []
    for design in designs:
        keys = cache_keys(trace, design)
        for ttl in ttls:
            result = replay_ttl(keys, trace["time"], ttl)
            rows.append({"TTL (s)": float(ttl), "design": design, "hit ratio": result.hit_ratio,
                         "stale share": result.stale_share(refresh_interval)})
    if not rows:
        raise ValueError("designs and ttls must each hold at least one value")
    return pd.DataFrame(rows)


def longest_ttl_within(sweep: pd.DataFrame, design: str, stale_budget: float) -> float:
    """The longest TTL of a :func:`ttl_sweep` whose stale share for ``design`` stays within ``stale_budget``."""
    budget = check_fraction(stale_budget, "stale_budget")
    part = sweep[sweep["design"] == design]
    if part.empty:
        raise ValueError(f"design {design!r} is not in the sweep; it has {sorted(sweep['design'].unique())}")
    ok = part.loc[part["stale share"] <= budget, "TTL (s)"]
    if ok.empty:
        raise ValueError(f"stale_budget: no TTL of the sweep keeps the stale share within {budget}; try shorter TTLs")
    return float(ok.max())


def session_grid(users: pd.DataFrame, designs: Mapping[str, str], *, revisit_rates: Sequence[float],
                 session_lengths: Sequence[float], ttl: float, **trace_settings) -> pd.DataFrame:
    """Hit ratio of each named design on traces with each revisit rate and mean session length (tidy: one row per cell and design)."""
    rows = []
    for revisit in revisit_rates:
        for length in session_lengths:
            settings = dict(trace_settings, requests_per_session=length, revisit_rate=revisit)
            trace = generate_trace(users, **settings)
            for label, design in designs.items():
                rows.append({"revisit rate": revisit, "requests per session": length, "design": label,
                             "hit ratio": design_hit_ratios(trace, design, ttl)["hit ratio"]})
    return pd.DataFrame(rows)


def new_user_scale_table(users: pd.DataFrame, design: str, *, new_sessions: int, factors: Sequence[int], ttl: float,
                         **trace_settings) -> pd.DataFrame:
    """New users' hit ratio under ``design`` when new-user traffic grows by each factor (only new users in the trace)."""
    rows = []
    for factor in factors:
        f = check_int(factor, "factors", low=1)
        trace = generate_trace(users, n_sessions=new_sessions * f, **dict(trace_settings, share_new=1.0))
        rows.append({"new-user traffic": f"x{f}", "new sessions a day": new_sessions * f,
                     "new users' hit ratio": design_hit_ratios(trace, design, ttl)["new users"]})
    return pd.DataFrame(rows).set_index("new-user traffic")


# --------------------------------------------------------------------------- what a cache costs

def list_bytes(n_items: int = 200, *, id_bytes: int = 4, score_bytes: int = 4, key_bytes: int = 64,
               overhead_bytes: int = 64) -> int:
    """Memory of one cached ranked list: ``n_items`` (id, score) pairs, its key and the cache's per-entry overhead."""
    n_items = check_int(n_items, "n_items", low=1)
    for name, v in (("id_bytes", id_bytes), ("score_bytes", score_bytes), ("key_bytes", key_bytes),
                    ("overhead_bytes", overhead_bytes)):
        check_int(v, name, low=0)
    return n_items * (id_bytes + score_bytes) + key_bytes + overhead_bytes


def capacity_table(trace: pd.DataFrame, design: str, ttl: float, capacities: Iterable[int] = (), *,
                   fractions: Iterable[float] = (), bytes_per_entry: int | None = None) -> pd.DataFrame:
    """Hit ratio of a TTL cache with LRU eviction at each capacity (entries), with its memory.

    Capacities are given in entries, or as ``fractions`` of the unbounded cache's peak of live
    entries. One row per capacity, plus the unbounded cache (capacity = that peak):
    ``capacity``, ``MiB`` (capacity x ``bytes_per_entry``, default :func:`list_bytes`), ``hit ratio``.
    """
    per_entry = list_bytes() if bytes_per_entry is None else check_int(bytes_per_entry, "bytes_per_entry", low=1)
    keys = cache_keys(trace, design)
    times = trace["time"].to_numpy(dtype=float)
    unbounded = replay_ttl(keys, times, ttl)
    inserted = times[~unbounded.hit]
    # peak live entries: insertions alive at each insertion moment
    live = np.arange(1, inserted.size + 1) - np.searchsorted(inserted + ttl, inserted, side="right")
    peak = int(live.max())
    rows = []
    chosen = {check_int(c, "capacities", low=0) for c in capacities}
    chosen |= {max(1, round(peak * check_fraction(f, "fractions"))) for f in fractions}
    for capacity in sorted(chosen | {peak}):
        result = unbounded if capacity >= peak else serve(keys, "ttl", capacity, times=times, ttl=ttl)
        rows.append({"capacity": capacity, "MiB": capacity * per_entry / 2**20, "hit ratio": result.hit_ratio,
                     "unbounded": capacity >= peak})
    return pd.DataFrame(rows)


def list_staleness(trace: pd.DataFrame, design: str, ttl: float, *, click_rate: float = 0.1) -> dict[str, float]:
    """What a cached list ignores: a returning user's own requests (and clicks) since the list was computed.

    For each returning user's request, the list served was computed at some earlier request;
    every request the user made in between is an interaction the list has not seen. With a
    click on each request with probability ``click_rate``, a served list ignores at least one
    click with probability 1 - (1 - click_rate)^m, m the requests in between. Returns the hit
    ratio, the share of returning users' requests served a list that ignores >= 1 request, the
    mean number ignored, the expected share that ignores >= 1 click, and the mean age (s).
    """
    p = check_probability(click_rate, "click_rate")
    keys = cache_keys(trace, design)
    times = trace["time"].to_numpy(dtype=float)
    result = replay_ttl(keys, times, ttl)
    users = pd.factorize(trace["user"])[0].astype(np.float64)
    # position of each request among its user's requests in time order, and of the list's computation
    span = float(times.max() - times.min()) + 1.0
    stamp = users * span + (times - times.min())
    ordered = np.sort(stamp)
    first = np.searchsorted(ordered, users * span, side="left")
    rank = np.searchsorted(ordered, stamp, side="left") - first
    computed = np.searchsorted(ordered, users * span + (result.born - times.min()), side="right") - first
    ignored = np.where(result.hit, rank - computed + 1, 0)   # requests after the computing one, before this one
    back = ~trace["is_new"].to_numpy(dtype=bool)
    if not back.any():
        raise ValueError("trace has no returning users' requests: staleness is measured on returning users")
    m = ignored[back]
    return {"design": design, "TTL (s)": float(ttl), "hit ratio": result.hit_ratio,
            "served a list that ignores >= 1 request": float(np.mean(m >= 1)),
            "mean requests ignored": float(m.mean()),
            f"ignores >= 1 click (click rate {p:g})": float(np.mean(1 - (1 - p) ** m)),
            "mean age (s)": float(result.age[back].mean())}


def _cached_list_recs(user_ids: np.ndarray, item_ids: np.ndarray, group: np.ndarray, group_scores: np.ndarray,
                      seen: Any, k: int) -> pd.DataFrame:
    """Each user's top ``k`` of their group's one ranked list, skipping items they have seen (ties: item order).

    The same frame as ``metrics.top_k_frame`` over the tiled group scores, without sorting a
    users x items matrix: one ranking per group, then a walk down it per user.
    """
    parts = []
    for g in range(group_scores.shape[0]):
        members = np.flatnonzero(group == g)
        if not members.size:
            continue
        order = np.argsort(-group_scores[g], kind="stable")
        unseen = ~seen[members][:, order].toarray()
        take = unseen & (np.cumsum(unseen, axis=1) <= k)
        who, pos = np.nonzero(take)                     # row-major: each user's picks in ranking order
        parts.append(pd.DataFrame({"userId": user_ids[members[who]], "movieId": item_ids[order[pos]],
                                   "score": group_scores[g][order[pos]]}))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values("userId", kind="stable").reset_index(drop=True)


def segment_list_quality(ratings: pd.DataFrame, users: pd.DataFrame, *, k: int = 10, test_fraction: float = 0.2,
                         segment: Sequence[str] = ("region", "signup_platform"),
                         segments: Sequence[Sequence[str]] | None = None) -> pd.DataFrame:
    """Recall@k and NDCG@k, on each user's held-out later ratings, of a cached list per segment against a personal list.

    Same users, same protocol (``datasets.user_time_split``; relevant = positive held-out
    ratings): one global popularity list (one cache entry), one popularity list per
    ``segment`` (what a new user's cache key knows), and a personal list from item-to-item
    cosine similarity over the user's own training positives. Items the user rated in training
    are filtered from every list (a cheap step at serving time). One row per list; ``segments``
    (several column tuples) gives one segment row per definition, the personal list computed once.
    """
    from scipy import sparse

    from .datasets import positive, user_time_split
    from .metrics import evaluate_top_k, top_k_frame

    k = check_int(k, "k", low=1)
    check_frame(ratings, ["userId", "movieId", "rating", "timestamp"], "ratings", allow_empty=False)
    definitions = [list(segment)] if segments is None else [list(seg) for seg in segments]
    if not definitions or any(not seg for seg in definitions):
        raise ValueError("segments must hold at least one non-empty tuple of users columns")
    check_frame(users, ["userId", *sorted({c for seg in definitions for c in seg})], "users", allow_empty=False)
    train, test = user_time_split(ratings, test_fraction)
    truth = positive(test)[["userId", "movieId"]]
    liked = positive(train)
    user_ids = np.sort(truth["userId"].unique())
    user_ids = user_ids[np.isin(user_ids, liked["userId"].unique())]
    truth = truth[truth["userId"].isin(user_ids)]
    if truth.empty:
        raise ValueError("ratings: no user has positive ratings both before and after the split")
    item_ids = np.sort(train["movieId"].unique())
    check_memory(8.0 * len(user_ids) * len(item_ids) * 3, "segment_list_quality's user x item score matrices")
    u_index = pd.Index(user_ids)
    i_index = pd.Index(item_ids)

    def matrix(frame: pd.DataFrame) -> sparse.csr_matrix:
        frame = frame[frame["userId"].isin(user_ids)]
        rows, cols = u_index.get_indexer(frame["userId"]), i_index.get_indexer(frame["movieId"])
        return sparse.csr_matrix((np.ones(len(frame)), (rows, cols)), shape=(len(user_ids), len(item_ids)))

    seen = matrix(train).astype(bool).tocsr()
    likes = matrix(liked)
    likes.data[:] = 1.0
    everyone = liked[liked["movieId"].isin(item_ids)]
    popularity = everyone.groupby("movieId").size().reindex(item_ids, fill_value=0).to_numpy(dtype=float)
    # segment lists: popularity among the training positives of the segment's users (global popularity breaks ties)
    segment_recs = {}
    for seg in definitions:
        seg_of_user = users.set_index("userId")[seg].astype(str).agg(" / ".join, axis=1)
        tagged = everyone.assign(seg=seg_of_user.reindex(everyone["userId"]).to_numpy())
        by_seg = tagged.groupby(["seg", "movieId"]).size().unstack(fill_value=0).reindex(columns=item_ids, fill_value=0)
        seg_scores = by_seg.to_numpy(dtype=float) + popularity / (popularity.max() + 1.0)
        my_seg = pd.Index(by_seg.index).get_indexer(seg_of_user.reindex(user_ids).to_numpy())
        segment_recs[f"one list per segment ({' x '.join(seg)})"] = (
            _cached_list_recs(user_ids, item_ids, my_seg, seg_scores, seen, k), int(by_seg.shape[0]))
    # personal lists: item-item cosine over training positives
    co = (likes.T @ likes).toarray()
    norm = np.sqrt(np.diag(co))
    sim = co / np.maximum(np.outer(norm, norm), 1e-12)
    np.fill_diagonal(sim, 0.0)
    personal = np.asarray(likes @ sim)
    recs = {
        "one global list": (_cached_list_recs(user_ids, item_ids, np.zeros(len(user_ids), dtype=np.int64),
                                              popularity[None, :], seen, k), 1),
        **segment_recs,
        "personal list (item-to-item)": (top_k_frame(user_ids, item_ids, personal, k, exclude=seen), len(user_ids)),
    }
    rows = []
    for name, (frame, entries) in recs.items():
        got = evaluate_top_k(frame, truth, k, n_items=len(item_ids))
        rows.append({"list": name, "cached lists": entries, "users": int(got["users"]),
                     f"recall@{k}": got[f"recall@{k}"], f"ndcg@{k}": got[f"ndcg@{k}"], "coverage": got["coverage"]})
    return pd.DataFrame(rows).set_index("list")


def segment_definitions_table(trace: pd.DataFrame, ratings: pd.DataFrame, users: pd.DataFrame, *, ttl: float,
                              k: int = 10) -> pd.DataFrame:
    """Each new-user segment definition of ``SEGMENT_DESIGNS`` measured both ways: what its list cache absorbs on
    ``trace`` (segments seen, new users' and all hit ratio at ``ttl``) and how good its lists are on held-out
    ratings (recall@k, NDCG@k, with the global and the personal list as the two ends). One row per list."""
    quality = segment_list_quality(ratings, users, k=k, segments=list(SEGMENT_COLUMNS.values()))
    rows = []
    for name, columns in SEGMENT_COLUMNS.items():
        design = SEGMENT_DESIGNS[name]
        cache = design_hit_ratios(trace, name, ttl)
        cols = [c for c in design.columns(True) if c != "list_block"]
        q = quality.loc[f"one list per segment ({' x '.join(columns)})"]
        rows.append({"segment": " x ".join(cols), "design": name,
                     "segments seen": int(trace.loc[trace["is_new"], cols].drop_duplicates().shape[0]),
                     "new users' hit ratio": cache["new users"], "hit ratio": cache["hit ratio"],
                     f"recall@{k}": q[f"recall@{k}"], f"ndcg@{k}": q[f"ndcg@{k}"]})
    table = pd.DataFrame(rows).set_index("segment")
    ends = quality.loc[["one global list", "personal list (item-to-item)"], [f"recall@{k}", f"ndcg@{k}"]]
    return pd.concat([table, ends.rename(index={"one global list": "(one global list)",
                                                "personal list (item-to-item)": "(a personal list)"})])


# --------------------------------------------------------------------------- the chapter's explorer

#: the eviction policies the explorer offers; each also expires entries ``ttl`` seconds after they were computed
EXPLORER_POLICIES = ("lru", "lfu", "fifo")
EXPLORER_DESIGN = "segment (new) + user list"
EXPLORER_SESSIONS = 20_000  # the chapter's day: sessions the explorer's trace holds at most
#: the explorer's knobs and their default ranges (``explore_cache`` also needs ``users``: pass it with functools.partial)
EXPLORER_CONTROLS = {"cache_size": slider(10, 2000, 10, 200), "ttl": slider(60, 7200, 60, 600),
                     "sessions_per_user": slider(0.5, 6.0, 0.5, 2.5), "policy": choice(EXPLORER_POLICIES, "lru")}
_EXPLORER_TRACES: dict[tuple, tuple] = {}


def serve_expiring(keys: Sequence[Any] | np.ndarray, policy: str, size: int, *, times: Sequence[float],
                   ttl: float) -> ServeResult:
    """Replay requests through a cachetools ``policy`` cache of ``size`` entries whose entries expire after ``ttl``.

    An entry older than ``ttl`` at a read is a miss and is recomputed (expiry checked on access, as
    Redis does lazily): eviction is the policy's, expiry is the TTL's, for LRU, LFU and FIFO alike.
    """
    check_choice(policy, "policy", EXPLORER_POLICIES)
    codes = _key_codes(keys)
    n = len(codes)
    size = check_int(size, "size", low=0)
    t = _times(times, n)
    ttl = check_number(ttl, "ttl", low=0, include_low=False)
    hit = np.zeros(n, dtype=bool)
    born = t.copy()
    if size == 0:
        return ServeResult(hit, t, born)
    cache = make_cache(policy, size)
    get = cache.get
    for i, (key, now) in enumerate(zip(codes.tolist(), t.tolist())):
        entry = get(key)
        if entry is not None and now - entry < ttl:
            hit[i] = True
            born[i] = entry
        else:
            cache[key] = now
    return ServeResult(hit, t, born)


@dataclass
class CacheView:
    """What the chapter 03 explorer shows for one setting (shares in [0, 1])."""

    cache_size: int
    ttl: float
    policy: str
    sessions_per_user: float
    requests: int
    distinct_keys: int
    hit_ratio: float          # the policy at this size and TTL
    lru_hit_ratio: float      # LRU at this size without expiry, measured (stack distances)
    che_hit_ratio: float      # Che's prediction for LRU at this size, from the keys' popularity
    stale_share: float        # requests served a list computed before the latest model refresh
    memory_mib: float         # the capacity's memory, one ranked list per entry
    sizes: np.ndarray         # the curve: cache sizes
    lru_curve: np.ndarray     # measured LRU hit ratio at each size (no expiry)
    che_curve: np.ndarray     # Che's approximation at each size


def _explorer_trace(users: pd.DataFrame, sessions_per_user: float, share_new: float, seed: int) -> tuple:
    """The trace, its keys and its two curves for one setting of the traffic (kept: a slider move is cheap)."""
    # at most EXPLORER_SESSIONS sessions a day: more sessions per user means fewer (randomly chosen) known users,
    # so a trace never outgrows the half-second budget of an update
    known = int(users["userId"].nunique())
    cap = round(EXPLORER_SESSIONS * (1 - share_new) / sessions_per_user)
    n_users = min(known, max(1, cap))
    n_sessions = max(1, round(sessions_per_user * n_users / (1 - share_new)))
    memo = (id(users), len(users), known, n_users, n_sessions, share_new, seed)
    if memo not in _EXPLORER_TRACES:
        if len(_EXPLORER_TRACES) > 32:
            _EXPLORER_TRACES.clear()
        pool = users if n_users == known else users.sample(n=n_users, random_state=seed).sort_values("userId")
        trace = generate_trace(pool, n_sessions=n_sessions, share_new=share_new, seed=seed)
        keys = cache_keys(trace, EXPLORER_DESIGN)
        times = trace["time"].to_numpy(dtype=float)
        _, counts = np.unique(_key_codes(keys), return_counts=True)
        q = counts / counts.sum()
        sizes = np.unique(np.geomspace(1, counts.size, 16).astype(int))
        distances = lru_stack_distances(keys)
        lru = np.array([np.mean(distances <= size) for size in sizes])
        che = che_hit_ratio_curve(q, sizes)
        _EXPLORER_TRACES[memo] = (users, keys, times, q, distances, sizes, lru, che)
    return _EXPLORER_TRACES[memo][1:]


def explore_cache(cache_size: int = 200, ttl: float = 600.0, policy: str = "lru", sessions_per_user: float = 2.5, *,
                  users: pd.DataFrame, share_new: float = 0.3, refresh_interval: float = 3600.0,
                  list_items: int = 200, seed: int = DEFAULT_SEED) -> CacheView:
    """A day of traffic (``sessions_per_user`` sessions a day per known user) through one list cache.

    The day holds at most ``EXPLORER_SESSIONS`` sessions, as the chapter's: when ``sessions_per_user``
    asks for more, a random subset of the known users makes them (what a cache sees per user is the
    same; the day does not grow).

    The cache holds one ranked list per key of the chapter's best design (segment lists for new users,
    one list per returning user), ``cache_size`` entries evicted by ``policy``, each expiring ``ttl``
    seconds after it was computed. Returns the hit ratio, LRU's measured curve against Che's, the share
    of stale lists for a model refreshed every ``refresh_interval`` seconds, and the memory.
    """
    cache_size = check_int(cache_size, "cache_size", low=1, high=1_000_000)
    ttl = check_number(ttl, "ttl", low=0, include_low=False)
    check_choice(policy, "policy", EXPLORER_POLICIES)
    sessions_per_user = check_number(sessions_per_user, "sessions_per_user", low=0.1, high=50)
    share_new = check_fraction(share_new, "share_new", include_high=False)
    refresh_interval = check_number(refresh_interval, "refresh_interval", low=0, include_low=False)
    keys, times, q, distances, sizes, lru, che = _explorer_trace(users, sessions_per_user, share_new, seed)
    result = serve_expiring(keys, policy, cache_size, times=times, ttl=ttl)
    return CacheView(cache_size, ttl, policy, sessions_per_user, len(keys), int(q.size), result.hit_ratio,
                     float(np.mean(distances <= cache_size)), che_hit_ratio(q, cache_size),
                     result.stale_share(refresh_interval), cache_size * list_bytes(list_items) / 2**20,
                     sizes, lru, che)


def draw_cache(view: CacheView, fig) -> None:
    """LRU's measured hit-ratio curve against Che's, the policy's point at this size and TTL (left);
    hit ratio and stale share (right)."""
    from . import plotting

    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    ax1.plot(view.sizes, view.lru_curve, color="tab:blue", linewidth=2, label="LRU, measured (no expiry)")
    plotting.theory(ax1, view.sizes, view.che_curve, label="LRU, Che's approximation")
    ax1.plot([view.cache_size], [view.hit_ratio], "o", color="tab:red", markersize=8,
             label=f"{view.policy.upper()}, TTL {view.ttl / 60:g} min")
    ax1.set_xscale("log")
    ax1.set_ylim(0, 1)
    plotting.finish(ax1, title=f"Sessions beat Che's independent requests: {view.lru_hit_ratio:.2f} against "
                    f"{view.che_hit_ratio:.2f} at {view.cache_size:,}",
                    xlabel="cache size (lists, log scale)", ylabel="hit ratio")
    ax1.legend(loc="lower right", fontsize=7)
    ax2.bar(["hit ratio", "stale share"], [view.hit_ratio, view.stale_share], color=["tab:green", "tab:red"])
    ax2.set_ylim(0, 1)
    plotting.finish(ax2, title=f"{view.memory_mib:.2f} MiB of lists", xlabel="at this setting", ylabel="share of requests",
                    legend=False)
    fig.suptitle(f"{view.policy.upper()} cache of {view.cache_size:,} lists, TTL {view.ttl / 60:g} min, "
                 f"{view.sessions_per_user:g} sessions per user a day: {view.hit_ratio:.0%} of requests served from it")


def cache_summary(view: CacheView) -> str:
    """The numbers of a view, as the explorer prints them."""
    return (f"{view.requests:,} requests on {view.distinct_keys:,} keys; {view.policy} cache of {view.cache_size:,} lists, "
            f"TTL {view.ttl:g} s: hit ratio {view.hit_ratio:.3f}, stale share {view.stale_share:.3f}, "
            f"memory {view.memory_mib:.2f} MiB\n"
            f"LRU without expiry at this size: measured {view.lru_hit_ratio:.3f}, Che's approximation {view.che_hit_ratio:.3f}")
