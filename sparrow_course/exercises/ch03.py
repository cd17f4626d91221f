"""Chapter 03 exercises: an LRU cache and a cold user's key by hand, Che's characteristic time, and four measurements."""
from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from .. import caching, traffic
from .core import INCORRECT, CheckResult, ChoiceQuestion, FunctionQuestion, ThoughtQuestion, ValueQuestion, is_placeholder, questions


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
    explanation="Refreshing recency on a hit is all that separates LRU from FIFO; cachetools.LRUCache does the same.",
)


# --------------------------------------------------------------------------- q2: a key for a cold user

def _cold_user_key(request: dict) -> tuple:
    """Cache key of a new user's request: the segment (region, platform, daypart) and the page."""
    return (request["region"], request["platform"], traffic.daypart(request["hour"]), request["page"])


def _request(user, region, platform, hour, page, network="wifi", cell=7):
    return {"user": user, "is_new": True, "region": region, "platform": platform, "hour": hour,
            "minute": hour * 60 + 13, "page": page, "network": network, "geo_cell": cell}


_COLD = [_request(90001, "east", "ios", 21, 1), _request(90002, "east", "ios", 19, 1, "cellular", 3),
         _request(90003, "west", "web", 8, 2), _request(90004, "overseas", "tv", 2, 1),
         _request(90005, "south", "android", 13, 3, "cellular", 44), _request(90006, "central", "web", 0, 1)]

class _KeyQuestion(FunctionQuestion):
    """A function question whose answer must be a hashable key (a tuple, not a list)."""

    def check(self, answer=FunctionQuestion.check.__defaults__[0]):
        if callable(answer) and not is_placeholder(answer):
            try:
                got = answer(dict(_COLD[0]))
            except Exception:  # reported by the generic check below
                got = None
            if got is not None and not is_placeholder(got) and not isinstance(got, Hashable):
                return CheckResult(INCORRECT, f"a cache key must be hashable to index a dict; your function returned "
                                              f"a {type(got).__name__}: return a tuple.")
        return super().check(answer)


q2 = _KeyQuestion(
    """Design the cache key of a new user's request (冷启动用户). The request is a dict with `user` (a
    fresh id), `region`, `platform`, `hour` (0-23), `minute`, `page`, `network` and `geo_cell`. New users
    have no history, so every new user of the same segment should share one cached list per page.
    Write `cold_user_key(request)` returning the **tuple** `(region, platform, daypart, page)`, in that
    order, where the daypart is night (hours 0-5), morning (6-11), afternoon (12-17) or evening (18-23);
    `traffic.daypart(hour)` computes it. A list is not a valid key: a cache key must be hashable.""",
    reference=_cold_user_key,
    cases=[(r,) for r in _COLD],
    hints=["Leave out everything that differs between two new users of the same segment.",
           "The hour is too fine: 21:00 and 19:00 are both 'evening' and must share a key."],
    wrong_answers=[
        lambda request: (request["user"], request["page"]),
        lambda request: (request["region"], request["platform"], request["hour"], request["page"]),
        lambda request: (request["region"], request["platform"], traffic.daypart(request["hour"])),
        lambda request: [request["region"], request["platform"], traffic.daypart(request["hour"]), request["page"]],
    ],
    explanation="Everything that varies between users of one segment is left out, so they all share one entry.",
)


# --------------------------------------------------------------------------- shared scenarios

@functools.lru_cache(maxsize=None)
def _lru_at(alpha: float, size: int) -> float:
    keys = traffic.zipf_trace(100_000, 10_000, alpha, seed=2024)
    return float(caching.lru_hit_ratio_curve(keys, [size], warmup=20_000)[0])


@functools.lru_cache(maxsize=None)
def _trace(**settings):
    from ..datasets import load_movielens
    return traffic.generate_trace(load_movielens().users, n_sessions=20_000, seed=2024, **settings)


LIST_DESIGN = "segment (new) + user list"
TTLS = (60, 120, 300, 600, 900, 1200, 1800)


@functools.lru_cache(maxsize=None)
def _ttl_for_budget(refresh: float, budget: float) -> float:
    sweep = caching.ttl_sweep(_trace(), [LIST_DESIGN], TTLS, refresh_interval=refresh)
    return caching.longest_ttl_within(sweep, LIST_DESIGN, budget)


@functools.lru_cache(maxsize=1)
def _capacity_table():
    """q7's table, computed once: the answer and the reason for each wrong option read the same rows."""
    return caching.capacity_table(_trace(), LIST_DESIGN, 600, [25, 50, 75, 100, 150])


@functools.lru_cache(maxsize=None)
def _smallest_capacity(within: float) -> int:
    table = _capacity_table()
    best = table["hit ratio"].max()
    return int(table.loc[table["hit ratio"] >= best - within, "capacity"].min())


@functools.lru_cache(maxsize=None)
def _ignores_click(click_rate: float) -> float:
    out = caching.list_staleness(_trace(), LIST_DESIGN, 600, click_rate=click_rate)
    return out[f"ignores >= 1 click (click rate {click_rate:g})"]


# --------------------------------------------------------------------------- q3: a steeper popularity

q3 = ValueQuestion(
    """**A steeper popularity.** Section 1 measured LRU on Zipf traffic with alpha = 0.8. Rerun it with
    alpha = 1.0: `keys = zipf_trace(100_000, 10_000, 1.0, seed=2024)`, then
    `caching.lru_hit_ratio_curve(keys, [200], warmup=20_000)`. What hit ratio does an LRU cache of
    200 entries reach, to 3 decimals?""",
    expected=lambda: _lru_at(1.0, 200),
    decimals=3,
    hints=["Change only alpha; keep the seed, the sizes and the warm-up.",
           "A larger alpha puts more of the traffic on the head: expect a higher hit ratio than at 0.8."],
    wrong_answers=[lambda: _lru_at(0.8, 200), lambda: 100 * _lru_at(1.0, 200)],
    explanation="The steeper the popularity, the more of the traffic a small cache of the head catches.",
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
           "Check yourself on 10 equally likely keys and C = 5: solve 10 (1 - exp(-T/10)) = 5 by hand."],
    wrong_answers=[_t_equals_c, _uncached_equation],
    explanation="T_C turns LRU into a TTL cache in request time: each key is cached with probability 1 - exp(-q_i T_C).",
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
    hints=["Ask how many different users' requests can land on one segment key, and on one per-user key, "
           "while an entry lives."],
    explanation="Shared keys gain from traffic volume; per-user keys only from what each user repeats.",
)

# --------------------------------------------------------------------------- q6: a TTL for a staleness budget

TTL_OPTIONS = [60, 120, 300, 600, 900, 1200, 1800]
_TTL_LETTERS = {chr(ord("a") + i): f"{ttl} s" for i, ttl in enumerate(TTL_OPTIONS)}


def _ttl_answer() -> str:
    return chr(ord("a") + TTL_OPTIONS.index(int(_ttl_for_budget(1800.0, 0.05))))


def _ttl_why_wrong(letter: str) -> str:
    chosen = TTL_OPTIONS[ord(letter) - ord("a")]
    if chosen > _ttl_for_budget(1800.0, 0.05):
        return (f"At a TTL of {chosen} s more than 5% of requests are served a list from before the latest refresh "
                "when the model is refreshed every 30 minutes: look at the stale share of that row.")
    return (f"A TTL of {chosen} s does keep the stale share within 5%, but the question asks for the longest TTL "
            "that does: check every row of the sweep against the budget.")


q6 = ChoiceQuestion(
    """**Choose a TTL for a staleness budget.** On the default trace
    (`trace = generate_trace(users, n_sessions=20_000, seed=2024)`) the model is now refreshed every
    **30 minutes** instead of hourly. Using `caching.ttl_sweep(trace, ["segment (new) + user list"],
    [60, 120, 300, 600, 900, 1200, 1800], refresh_interval=1800)`, which is the longest of these TTLs
    (seconds) whose stale share stays within 5% of requests? Answer with the option's letter.""",
    options=_TTL_LETTERS,
    answer=_ttl_answer,
    why_wrong=_ttl_why_wrong,
    hints=["Staleness is the share of requests whose list was computed before the latest model refresh: "
           "it grows with the TTL measured against the refresh interval.",
           "Run the sweep and keep the rows whose stale share is at most 0.05; "
           "`caching.longest_ttl_within(sweep, design, 0.05)` does the last step."],
    explanation="Staleness grows with TTL / refresh interval: halve the refresh interval and the TTL must shrink too.",
)

CAPACITY_OPTIONS = {"a": "25", "b": "50", "c": "75", "d": "100", "e": "150",
                    "f": "the unbounded cache (the table's last row, its peak of live entries)"}


def _capacity_answer() -> str:
    smallest = _smallest_capacity(0.01)
    return next((k for k, v in CAPACITY_OPTIONS.items() if v == str(smallest)), "f")


def _capacity_why_wrong(letter: str) -> str:
    table = _capacity_table()
    best = table["hit ratio"].max()
    option = CAPACITY_OPTIONS[letter]
    row = table.iloc[-1] if letter == "f" else table.set_index("capacity").loc[int(option)]
    if best - row["hit ratio"] > 0.01:
        return ("At this capacity the hit ratio is more than 0.01 below the table's best: "
                "eviction is throwing away lists that would have hit.")
    return ("This capacity is within 0.01 of the best, but the question asks for the smallest such capacity: "
            "check every row of the table.")


q7 = ChoiceQuestion(
    """**Capacity that binds.** For the list design with a 10-minute TTL on the same default trace,
    `caching.capacity_table(trace, "segment (new) + user list", 600, [25, 50, 75, 100, 150])` gives
    the hit ratio of a TTL cache with LRU eviction at each capacity (the last row is the unbounded
    cache). Which is the smallest capacity (entries) of the table whose hit ratio is within 0.01 of
    the best one? Answer with the option's letter.""",
    options=CAPACITY_OPTIONS,
    answer=_capacity_answer,
    why_wrong=_capacity_why_wrong,
    hints=["Compare each row's hit ratio with the table's maximum.",
           "The last row is the unbounded cache: its capacity is the peak number of live entries."],
    explanation="Below the peak of live entries, eviction starts to throw away lists that would have hit.",
)


q8 = ValueQuestion(
    """**What a cached list ignores.** If a user clicks on 20% of the pages they are shown (instead of
    the chapter's 10%), what share of returning users' requests is served a list that ignores at least
    one of their clicks? Use `caching.list_staleness(trace, "segment (new) + user list", 600,
    click_rate=0.2)` on the default trace and answer to 3 decimals.""",
    expected=lambda: _ignores_click(0.2),
    decimals=3,
    hints=["Read the entry of the result that names the click rate.",
           "More clicks per page: more of them fall between the list's computation and its use."],
    wrong_answers=[lambda: _ignores_click(0.1), lambda: 100 * _ignores_click(0.2)],
    explanation="A list cached for a session cannot react to what the user does in it: the price of the hit ratio.",
)

QUESTIONS = questions(globals())
