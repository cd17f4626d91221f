"""Chapter 03 exercises: an LRU cache by hand, a cache key for a cold user, stack distances, Che's characteristic time."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .. import caching, traffic
from .core import Case, FunctionQuestion, ThoughtQuestion, ValueQuestion, questions


# --------------------------------------------------------------------------- q1: LRU with OrderedDict

def _lru_hits(keys: list, size: int) -> int:
    """Hits of an LRU cache of `size` entries replaying `keys` (a miss inserts the key)."""
    cache: OrderedDict = OrderedDict()
    hits = 0
    for key in keys:
        if key in cache:
            hits += 1
            cache.move_to_end(key)  # now the most recently used
        elif size > 0:
            if len(cache) >= size:
                cache.popitem(last=False)  # evict the least recently used
            cache[key] = True
    return hits


def _fifo_hits(keys: list, size: int) -> int:  # typical mistake: a hit does not refresh recency
    cache: OrderedDict = OrderedDict()
    hits = 0
    for key in keys:
        if key in cache:
            hits += 1
        elif size > 0:
            if len(cache) >= size:
                cache.popitem(last=False)
            cache[key] = True
    return hits


def _evict_newest_hits(keys: list, size: int) -> int:  # typical mistake: popitem() pops the newest
    cache: OrderedDict = OrderedDict()
    hits = 0
    for key in keys:
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        elif size > 0:
            if len(cache) >= size:
                cache.popitem()
            cache[key] = True
    return hits


_LOOP = list("abcabcabcabc")
_MIXED = [1, 2, 1, 3, 1, 4, 2, 1, 5, 1, 2, 3, 1, 2, 6, 1]

q1 = FunctionQuestion(
    """Write `lru_hits(keys, size)`: replay the list of request keys through an LRU cache (最近最少使用)
    of `size` entries and return the number of hits. On a miss the key is inserted; when the cache is
    full, the least recently used key is evicted first. A cache of size 0 stores nothing.
    Use `collections.OrderedDict`: `move_to_end(key)` marks a key as just used and
    `popitem(last=False)` removes the oldest.""",
    reference=_lru_hits,
    cases=[(_MIXED, 2), (_MIXED, 3), (_LOOP, 2), (_LOOP, 3), (_MIXED, 0), (list("abba"), 1)],
    hints=["A hit must also make the key the most recently used, or you have built FIFO.",
           "Evict before inserting when `len(cache) >= size`; `popitem(last=False)` pops the least recent."],
    wrong_answers=[_fifo_hits, _evict_newest_hits],
)


# --------------------------------------------------------------------------- q2: a key for a cold user

def _cold_user_key(request: dict) -> tuple:
    """Cache key of a new user's request: the segment (region, platform, daypart) and the page."""
    return (request["region"], request["platform"], caching.daypart(request["hour"]), request["page"])


def _request(user, region, platform, hour, page, network="wifi", cell=7):
    return {"user": user, "is_new": True, "region": region, "platform": platform, "hour": hour,
            "minute": hour * 60 + 13, "page": page, "network": network, "geo_cell": cell}


_COLD = [_request(90001, "east", "ios", 21, 1), _request(90002, "east", "ios", 19, 1, "cellular", 3),
         _request(90003, "west", "web", 8, 2), _request(90004, "overseas", "tv", 2, 1),
         _request(90005, "south", "android", 13, 3, "cellular", 44), _request(90006, "central", "web", 0, 1)]

q2 = FunctionQuestion(
    """Design the cache key of a new user's request (冷启动用户). The request is a dict with `user` (a
    fresh id), `region`, `platform`, `hour` (0-23), `minute`, `page`, `network` and `geo_cell`. New users
    have no history, so every new user of the same segment should share one cached list per page.
    Write `cold_user_key(request)` returning the tuple `(region, platform, daypart, page)`, where the
    daypart is night (hours 0-5), morning (6-11), afternoon (12-17) or evening (18-23);
    `caching.daypart(hour)` computes it.""",
    reference=_cold_user_key,
    cases=[(r,) for r in _COLD],
    hints=["Leave out everything that differs between two new users of the same segment: user id, "
           "minute, network, location cell.",
           "The hour is too fine: 21:00 and 19:00 are both 'evening' and must share a key."],
    wrong_answers=[
        lambda request: (request["user"], request["page"]),
        lambda request: (request["region"], request["platform"], request["hour"], request["page"]),
        lambda request: (request["region"], request["platform"], caching.daypart(request["hour"])),
    ],
)


# --------------------------------------------------------------------------- q3: stack distances

q3 = ValueQuestion(
    """Stack distances by hand. The trace is `a b a c b a d a`. A request's LRU stack distance is the
    number of distinct keys requested since the previous request for its key, itself included (a first
    request has distance infinity). An LRU cache of C entries hits exactly the requests with distance
    at most C. How many hits does an LRU cache of **3** entries get on this trace?""",
    expected=lambda: int(caching.lru_hit_counts(list("abacbada"), [3])[0]),
    hints=["The distances are inf, inf, 2, inf, 3, 3, inf, 2.",
           "Count the distances that are <= 3, not < 3."],
    wrong_answers=[2, 8],
    explanations={2: "That counts distances < 3, or the hits of a cache of 2. A key at distance exactly C "
                     "is the C-th most recent and still in a cache of C entries.",
                  8: "First requests (distance infinity) are always misses: no cache has seen the key yet."},
)


# --------------------------------------------------------------------------- q4: Che's characteristic time

def _characteristic_time(q: np.ndarray, cache_size: float) -> float:
    """Che's T_C: the root of sum_i (1 - exp(-q_i T)) = C, found by bisection."""
    q = np.asarray(q, dtype=float)
    lo, hi = 0.0, 1.0
    while np.sum(1 - np.exp(-q * hi)) < cache_size:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.sum(1 - np.exp(-q * mid)) < cache_size:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _t_equals_c(q: np.ndarray, cache_size: float) -> float:  # the first-order guess, exact only as q -> 0
    return float(cache_size)


def _uncached_equation(q: np.ndarray, cache_size: float) -> float:  # mixes up cached and uncached keys
    q = np.asarray(q, dtype=float)
    lo, hi = 0.0, 1.0
    while np.sum(np.exp(-q * hi)) > cache_size:  # sum_i exp(-q_i T) = C: C keys *out* of the cache
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.sum(np.exp(-q * mid)) > cache_size else (lo, mid)
    return (lo + hi) / 2


q4 = FunctionQuestion(
    """Che's approximation (Che, Tung, Wang 2002). Under independent requests with probabilities `q`
    (a numpy array summing to 1), an LRU cache of C entries behaves as if every key stayed T_C requests
    after its last request, where T_C solves  sum_i (1 - exp(-q_i T)) = C.
    Write `characteristic_time(q, cache_size)` returning T_C (C is smaller than the number of keys).
    Any root finder will do: bisection, or `scipy.optimize.brentq`.""",
    reference=_characteristic_time,
    cases=[(traffic.zipf_probabilities(100, 0.8), 10), (traffic.zipf_probabilities(1000, 1.0), 50),
           (np.full(10, 0.1), 5), (traffic.zipf_probabilities(500, 0.6), 1)],
    rtol=1e-5,
    hints=["The left side grows with T from 0 to the number of keys: bracket the root, then bisect.",
           f"For 10 equally likely keys and C = 5: 10 (1 - exp(-T/10)) = 5, so T = 10 ln 2 = {10 * math.log(2):.4f}."],
    wrong_answers=[_t_equals_c, _uncached_equation],
)


# --------------------------------------------------------------------------- q5: scale

q5 = ThoughtQuestion(
    """The segment cache for new users hit more when the traffic grew, while a returning user's per-user
    cache did not. Why? What does that mean for a small platform hoping to stop 90% of requests?""",
    solution="""A segment key is shared by every new user of that segment, so its hit ratio depends on how many
    requests reach the key while one entry lives: with rate lambda per key and a TTL T, about
    lambda T / (1 + lambda T). More traffic raises lambda and the shared list is computed once per TTL
    for ever more users. A per-user key only ever sees its own user, whose behaviour (session length,
    reloads) does not change with the size of the platform. A small platform therefore gets less from
    shared keys: it must rely on what each user repeats, which is why the per-user part (sessions served
    from one cached list) decides whether it reaches 90%.""",
)

QUESTIONS = questions(globals())
