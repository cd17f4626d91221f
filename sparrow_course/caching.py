"""Chapter 03: how a cache can absorb most recommendation requests.

Three pieces, each measured against something independent:

* **Policies and theory.** Cache objects that serve requests come from cachetools
  (LRU, LFU, FIFO, TTL): :func:`serve` replays a trace through one. For hit-ratio
  curves, :func:`lru_stack_distances` computes Mattson's stack distance of every
  request in one pass, so :func:`lru_hit_counts` gives the exact LRU hit count for
  *every* cache size at once (a request hits an LRU cache of size C exactly when its
  stack distance is at most C). Che's approximation (:func:`che_hit_ratio`) predicts
  the LRU curve under independent requests with known popularity.
* **Realistic traffic.** :func:`generate_trace` builds a day of recommendation
  requests on a users table: sessions of returning users (who page through the feed
  and come back to pages they saw) and of new users who bring only a region, a
  platform and the time of day. :func:`cache_keys` turns each request into a cache key
  under a :class:`KeyDesign` (raw request, user + page, segment of a new user, ...).
* **Time.** :func:`replay_ttl` replays an unbounded TTL cache exactly and fast; a
  :class:`ServeResult` knows the age of every list it served, so
  :meth:`ServeResult.stale_share` says how many were computed before the current model.

    trace = generate_trace(users, seed=7)
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

from .checks import check_fraction, check_frame, check_int, check_memory, check_number, check_probability
from .seeding import DEFAULT_SEED
from .traffic import HOURLY_SESSION_SHARE, expand_sessions

__all__ = [
    "DAYPARTS",
    "DESIGNS",
    "FIELDS",
    "KeyDesign",
    "PAGES_PER_LIST",
    "POLICIES",
    "ServeResult",
    "backend_load",
    "cache_key",
    "cache_keys",
    "capacity_table",
    "che_characteristic_time",
    "che_hit_ratio",
    "che_hit_ratio_curve",
    "daypart",
    "design_hit_ratios",
    "generate_trace",
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
    "segment_list_quality",
    "serve",
    "servers_needed",
    "session_grid",
    "static_top_hit_ratio",
    "ttl_size_table",
    "ttl_sweep",
]

POLICIES = ("lru", "lfu", "fifo", "ttl")


# --------------------------------------------------------------------------- validation helpers

def _cache_size(value: Any, name: str = "size") -> int:
    return check_int(value, name, low=0)


def _ttl(value: Any) -> float:
    return check_number(value, "ttl", low=0, include_low=False)


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
    size = _cache_size(size)
    if policy == "ttl":
        if ttl is None:
            raise ValueError("policy 'ttl' needs a ttl (seconds, or time units of the trace)")
        return cachetools.TTLCache(size, _ttl(ttl), timer=timer or (lambda: 0.0))
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
        r = check_number(refresh_interval, "refresh_interval", allow_inf=True)
        if not r > 0 or math.isinf(r):
            raise ValueError(f"refresh_interval must be a positive, finite time, got {refresh_interval}")
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
    size = _cache_size(size)
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
    ttl = _ttl(ttl)
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
    ttl = _ttl(ttl)
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
        out.append(_cache_size(s, "sizes"))
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
    """Che's LRU hit ratio for each cache size in ``sizes``."""
    q = _popularity(popularity)
    return np.array([che_hit_ratio(q, s) for s in sizes])


def static_top_hit_ratio(popularity: Sequence[float] | np.ndarray, cache_size: int) -> float:
    """Hit ratio of a cache that always holds the ``cache_size`` most popular keys (perfect LFU).

    Under independent requests no policy that knows only popularity does better: the
    ceiling the curves of LRU, LFU and FIFO approach.
    """
    q = np.sort(_popularity(popularity))[::-1]
    return float(q[: _cache_size(cache_size)].sum())


# --------------------------------------------------------------------------- realistic traffic

DAYPARTS = ("night", "morning", "afternoon", "evening")  # hours 0-5, 6-11, 12-17, 18-23

OTHER_DEVICE_RATE = 0.2  # a returning user's session is on another platform than the one they signed up on
CELLULAR_RATE = 0.35  # phone sessions on a cellular network rather than wifi
GEO_CELLS = 50  # fine location cells per region (the "place" of an exact context)
PAGES_PER_LIST = 10  # pages one cached ranked list covers (200 items at 20 a page)
USER_COLUMNS = ("userId", "region", "signup_platform")
TRACE_COLUMNS = ("time", "session", "user", "is_new", "region", "platform", "network", "geo_cell",
                 "hour", "minute", "daypart", "page", "list_block")


def daypart(hour: int) -> str:
    """The coarse time of day of an hour 0..23: night (0-5), morning (6-11), afternoon (12-17), evening (18-23)."""
    h = check_int(hour, "hour", low=0)
    if h > 23:
        raise ValueError(f"hour must be in 0..23, got {hour}")
    return DAYPARTS[h // 6]


def _check_users(users: Any) -> pd.DataFrame:
    check_frame(users, USER_COLUMNS, "users", allow_empty=False)
    if users[list(USER_COLUMNS)].isna().any().any():
        raise ValueError(f"users has missing values in {list(USER_COLUMNS)}")
    if not users["userId"].is_unique:
        raise ValueError("users has duplicate userId values")
    if not pd.api.types.is_integer_dtype(users["userId"]):
        raise ValueError("userId must be integers")
    return users


def generate_trace(users: pd.DataFrame, *, n_sessions: int = 20_000, share_new: float = 0.3,
                   requests_per_session: float = 5.0, revisit_rate: float = 0.5, think_time: float = 40.0,
                   activity_skew: float = 1.0, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """A day of recommendation requests on a users table, one row per request, sorted by time.

    * ``n_sessions`` sessions start over 24 hours with the shape ``HOURLY_SESSION_SHARE``.
    * A share ``share_new`` of sessions come from new users: no history, a fresh id, and
      a region and platform drawn from the known users' mix (all a cold-start request knows).
    * The other sessions belong to known users, picked in proportion to a per-user
      activity drawn lognormal with sigma ``activity_skew`` (0: everyone alike); a
      session is on the user's sign-up platform, or another with probability 0.2.
    * A session makes 1 + Geometric requests, ``requests_per_session`` on average,
      ``think_time`` seconds apart on average (exponential). The first opens page 1 of
      the feed; each later request re-requests the page on screen (back from a detail
      page, pull to refresh) with probability ``revisit_rate``, else opens the next page.
    * The exact context of a request is its platform, network (wifi/cellular), location
      cell and minute; ``daypart`` is the coarse time of day.

    Columns: time (s from midnight), session, user, is_new, region, platform, network,
    geo_cell, hour, minute, daypart, page, and list_block: which cached ranked list of
    ``PAGES_PER_LIST`` pages covers the page (0 for pages 1-10).
    """
    users = _check_users(users)
    n_sessions = check_int(n_sessions, "n_sessions", low=1)
    for name, value, upper in (("share_new", share_new, 1.0), ("revisit_rate", revisit_rate, 1.0)):
        v = check_number(value, name)
        if not 0.0 <= v <= upper or (name == "revisit_rate" and v == 1.0):
            raise ValueError(f"{name} must be in [0, 1{']' if name == 'share_new' else ')'}, got {value}")
    requests_per_session = check_number(requests_per_session, "requests_per_session", allow_inf=True)
    if not 1.0 <= requests_per_session < math.inf:
        raise ValueError(f"requests_per_session must be a finite number >= 1 (a session makes at least one request), "
                         f"got {requests_per_session}")
    think_time = check_number(think_time, "think_time", allow_inf=True)
    if not 0 < think_time < math.inf:
        raise ValueError(f"think_time must be a positive number of seconds, got {think_time}")
    activity_skew = check_number(activity_skew, "activity_skew", allow_inf=True)
    if not 0 <= activity_skew < math.inf:
        raise ValueError(f"activity_skew must be a finite number >= 0, got {activity_skew}")

    rng = np.random.default_rng(seed)
    user_ids = users["userId"].to_numpy(dtype=np.int64)
    regions = users["region"].astype(str).to_numpy()
    platforms = users["signup_platform"].astype(str).to_numpy()
    n_users = len(user_ids)

    # Sessions: who, on what, where, when.
    is_new = rng.random(n_sessions) < float(share_new)
    n_new = int(is_new.sum())
    activity = rng.lognormal(0.0, activity_skew, n_users)
    member = rng.choice(n_users, size=n_sessions, p=activity / activity.sum())  # for returning sessions
    template = rng.integers(0, n_users, size=n_sessions)  # a new user's features follow a random known user's
    person = np.where(is_new, template, member)
    user = user_ids[member].copy()
    user[is_new] = user_ids.max() + 1 + np.arange(n_new)
    region = regions[person]
    platform = platforms[person].copy()
    switch = ~is_new & (rng.random(n_sessions) < OTHER_DEVICE_RATE)
    platform[switch] = platforms[rng.integers(0, n_users, size=int(switch.sum()))]
    phone = np.isin(platform, ["android", "ios"])
    network = np.where(phone & (rng.random(n_sessions) < CELLULAR_RATE), "cellular", "wifi")
    geo_cell = rng.integers(0, GEO_CELLS, size=n_sessions)
    start_hour = rng.choice(24, size=n_sessions, p=HOURLY_SESSION_SHARE)
    start = (start_hour + rng.random(n_sessions)) * 3600.0

    # Requests: expand sessions, then walk pages within each session.
    session, step, elapsed = expand_sessions(rng, n_sessions, requests_per_session, think_time)
    n = session.size
    offset = np.flatnonzero(step == 0)  # each session's first request
    advance = (rng.random(n) >= float(revisit_rate)) & (step > 0)
    pages = np.cumsum(advance)
    page = 1 + pages - pages[offset][session]
    time = start[session] + elapsed
    hour = (time // 3600).astype(np.int64) % 24

    trace = pd.DataFrame({
        "time": time,
        "session": session,
        "user": user[session],
        "is_new": is_new[session],
        "region": region[session],
        "platform": platform[session],
        "network": network[session],
        "geo_cell": geo_cell[session],
        "hour": hour,
        "minute": (time // 60).astype(np.int64),
        "daypart": np.asarray(DAYPARTS)[hour // 6],
        "page": page.astype(np.int64),
        "list_block": ((page - 1) // PAGES_PER_LIST).astype(np.int64),
    })
    return trace.iloc[np.argsort(time, kind="stable")].reset_index(drop=True)


# --------------------------------------------------------------------------- cache keys

#: What each element of a key stands for, as columns of a trace.
FIELDS: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "page": ("page",),
    "list": ("list_block",),  # one cached ranked list serves PAGES_PER_LIST pages
    "context": ("platform", "network", "geo_cell", "minute"),  # the exact context as sent
    "bucket": ("platform", "daypart"),  # a coarse context bucket
    "segment": ("region", "platform", "daypart"),  # what is known of a new user
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


def _as_design(design: KeyDesign | str) -> KeyDesign:
    if isinstance(design, KeyDesign):
        return design
    if isinstance(design, str) and design in DESIGNS:
        return DESIGNS[design]
    raise ValueError(f"unknown key design {design!r}; pass a KeyDesign or one of {list(DESIGNS)}")


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
    width = check_number(bin_seconds, "bin_seconds", allow_inf=True)
    if not width > 0:
        raise ValueError(f"bin_seconds must be positive, got {bin_seconds}")
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
    rps = check_number(requests_per_second, "requests_per_second", allow_inf=True)
    cap = check_number(capacity_per_server, "capacity_per_server", allow_inf=True)
    u = check_number(utilisation, "utilisation", allow_inf=True)
    if rps < 0 or math.isinf(rps):
        raise ValueError(f"requests_per_second must be a finite number >= 0, got {requests_per_second}")
    if not 0 < cap < math.inf:
        raise ValueError(f"capacity_per_server must be positive, got {capacity_per_server}")
    if not 0 < u <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation}")
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
    chosen = {_cache_size(c, "capacities") for c in capacities}
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
                         segment: Sequence[str] = ("region", "signup_platform")) -> pd.DataFrame:
    """Recall@k and NDCG@k, on each user's held-out later ratings, of a cached list per segment against a personal list.

    Same users, same protocol (``datasets.user_time_split``; relevant = positive held-out
    ratings): one global popularity list (one cache entry), one popularity list per
    ``segment`` (what a new user's cache key knows), and a personal list from item-to-item
    cosine similarity over the user's own training positives. Items the user rated in training
    are filtered from every list (a cheap step at serving time). One row per list.
    """
    from scipy import sparse

    from .datasets import positive, user_time_split
    from .metrics import evaluate_top_k, top_k_frame

    k = check_int(k, "k", low=1)
    check_frame(ratings, ["userId", "movieId", "rating", "timestamp"], "ratings", allow_empty=False)
    segment = list(segment)
    check_frame(users, ["userId", *segment], "users", allow_empty=False)
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
    seg_of_user = users.set_index("userId")[segment].astype(str).agg(" / ".join, axis=1)
    everyone = everyone.assign(seg=seg_of_user.reindex(everyone["userId"]).to_numpy())
    by_seg = everyone.groupby(["seg", "movieId"]).size().unstack(fill_value=0).reindex(columns=item_ids, fill_value=0)
    seg_scores = by_seg.to_numpy(dtype=float) + popularity / (popularity.max() + 1.0)
    my_seg = pd.Index(by_seg.index).get_indexer(seg_of_user.reindex(user_ids).to_numpy())
    # personal lists: item-item cosine over training positives
    co = (likes.T @ likes).toarray()
    norm = np.sqrt(np.diag(co))
    sim = co / np.maximum(np.outer(norm, norm), 1e-12)
    np.fill_diagonal(sim, 0.0)
    personal = np.asarray(likes @ sim)
    recs = {
        "one global list": (_cached_list_recs(user_ids, item_ids, np.zeros(len(user_ids), dtype=np.int64),
                                              popularity[None, :], seen, k), 1),
        f"one list per segment ({' x '.join(segment)})": (_cached_list_recs(user_ids, item_ids, my_seg, seg_scores,
                                                                              seen, k), int(by_seg.shape[0])),
        "personal list (item-to-item)": (top_k_frame(user_ids, item_ids, personal, k, exclude=seen), len(user_ids)),
    }
    rows = []
    for name, (frame, entries) in recs.items():
        got = evaluate_top_k(frame, truth, k, n_items=len(item_ids))
        rows.append({"list": name, "cached lists": entries, "users": int(got["users"]),
                     f"recall@{k}": got[f"recall@{k}"], f"ndcg@{k}": got[f"ndcg@{k}"], "coverage": got["coverage"]})
    return pd.DataFrame(rows).set_index("list")
