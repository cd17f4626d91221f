"""Seeded request streams for a recommendation serving cluster: who asks, when, and for how much work.

A request has an arrival time, a user id, an item id (the item the page is about) and an
amount of work in seconds at speed 1. Users and items are drawn with a Zipf-like skew
(Zipf-Mandelbrot: P(rank r) proportional to 1 / (r + q)^s), so a few users are very active and
most are not; optional hot keys (a heavy user, a viral item) take a fixed share of traffic.
Arrivals are Poisson at a constant rate, or follow a diurnal day with bursts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: Relative request rate by hour of day (0-23): a night trough, a lunch bump and an evening peak,
#: the usual shape of consumer traffic. Interpolated linearly between hours.
DIURNAL_PROFILE = (
    0.34, 0.24, 0.18, 0.15, 0.15, 0.18, 0.27, 0.40, 0.52, 0.60, 0.65, 0.72,
    0.80, 0.76, 0.68, 0.66, 0.68, 0.74, 0.84, 0.94, 1.00, 0.97, 0.80, 0.55,
)


@dataclass(frozen=True)
class Requests:
    """A request stream, sorted by arrival time; arrays aligned request by request."""

    time: np.ndarray        # arrival, seconds from the start
    user: np.ndarray        # user id
    item: np.ndarray        # item id
    work: np.ndarray        # service demand in seconds on a node of speed 1
    duration: float         # length of the window the stream covers, seconds
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = len(self.time)
        for name in ("user", "item", "work"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, expected {n} (one per request)")
        if n and np.any(np.diff(self.time) < 0):
            raise ValueError("request times must be sorted (non-decreasing)")
        if n and (self.time[0] < 0 or self.time[-1] > self.duration):
            raise ValueError(f"request times must lie in [0, duration={self.duration}]")
        if n and not np.all(self.work > 0):
            raise ValueError("work must be positive (seconds of service at speed 1)")

    def __len__(self) -> int:
        return len(self.time)

    def __repr__(self) -> str:
        return f"Requests({len(self)} requests over {self.duration:g} s, {self.rate:.0f} req/s)"

    @property
    def rate(self) -> float:
        """Mean arrival rate, requests per second."""
        return len(self) / self.duration

    def keys(self, key: str) -> np.ndarray:
        """The request field the balancer hashes on: 'user' or 'item'."""
        if key not in ("user", "item"):
            raise ValueError(f"key must be 'user' or 'item', got {key!r}")
        return getattr(self, key)

    def offered_load(self, capacity: float) -> float:
        """Work arriving per second divided by ``capacity`` (total speed x workers): the utilisation it asks for."""
        return float(self.work.sum() / self.duration / capacity)


# --------------------------------------------------------------------------- validation

def _positive(name: str, value: object, *, integer: bool = False, allow_zero: bool = False) -> float:
    ok_types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite, got {value!r}")
    return v


def _share(name: str, value: object) -> float:
    v = _positive(name, value, allow_zero=True)
    if v >= 1:
        raise ValueError(f"{name} is a share of all requests and must be in [0, 1), got {value!r}")
    return v


# --------------------------------------------------------------------------- popularity

def zipf_probabilities(n: int, s: float = 1.0, q: float = 0.0) -> np.ndarray:
    """P(rank r) proportional to 1 / (r + q)^s for ranks 1..n (Zipf when q = 0, Zipf-Mandelbrot otherwise)."""
    n = int(_positive("n", n, integer=True))
    _positive("s", s, allow_zero=True)
    _positive("q", q, allow_zero=True)
    p = (np.arange(1, n + 1) + q) ** -float(s)
    return p / p.sum()


def _draw_ids(rng: np.random.Generator, size: int, n: int, s: float, q: float, hot_share: float) -> np.ndarray:
    """Ids 0..n-1 with Zipf-like popularity over a random order of ids; id 0 is the hot key when hot_share > 0."""
    p = zipf_probabilities(n, s, q)
    ranks = np.searchsorted(np.cumsum(p), rng.random(size), side="right").clip(max=n - 1)
    ids = rng.permutation(n)[ranks]  # popularity must not follow id order (that would flatter modulo hashing)
    if hot_share > 0:
        ids = np.where(ids == 0, 1, ids)  # id 0 is reserved for the hot key
        ids[rng.random(size) < hot_share] = 0
    return ids.astype(np.int64)


def _work(rng: np.random.Generator, size: int, mean: float, cv: float) -> np.ndarray:
    """Service demand with the given mean and coefficient of variation (gamma; exponential when cv = 1)."""
    shape = 1.0 / cv**2
    return rng.gamma(shape, mean / shape, size)


@dataclass(frozen=True)
class Population:
    """Who sends the requests and how much work each brings (shared by every traffic generator)."""

    n_users: int = 100_000
    user_skew: float = 0.9
    user_offset: float = 20.0
    n_items: int = 3_000
    item_skew: float = 1.0
    hot_user_share: float = 0.0
    hot_item_share: float = 0.0
    session_requests: float = 1.0
    think_time: float = 10.0
    mean_work: float = 0.02
    work_cv: float = 1.0

    def __post_init__(self) -> None:
        _positive("n_users", self.n_users, integer=True)
        _positive("n_items", self.n_items, integer=True)
        for name in ("user_skew", "user_offset", "item_skew"):
            _positive(name, getattr(self, name), allow_zero=True)
        _share("hot_user_share", self.hot_user_share)
        _share("hot_item_share", self.hot_item_share)
        if _positive("session_requests", self.session_requests) < 1:
            raise ValueError(f"session_requests is the mean number of requests per session, at least 1; got {self.session_requests!r}")
        _positive("think_time", self.think_time)
        _positive("mean_work", self.mean_work)
        _positive("work_cv", self.work_cv)
        if (self.hot_user_share and self.n_users < 2) or (self.hot_item_share and self.n_items < 2):
            raise ValueError("a hot key needs at least two ids (one hot, the rest ordinary)")


def _stream(rng: np.random.Generator, starts: np.ndarray, duration: float, pop: Population, meta: dict) -> Requests:
    """Requests from session start times: each session is one user's visit of several requests."""
    users = _draw_ids(rng, starts.size, pop.n_users, pop.user_skew, pop.user_offset, 0.0)
    if pop.session_requests > 1:
        # a visit of L requests (geometric, mean session_requests), think_time apart on average
        length = rng.geometric(1.0 / pop.session_requests, starts.size)
        owner = np.repeat(np.arange(starts.size), length)
        first = np.cumsum(length) - length          # position of each visit's first request
        gaps = rng.exponential(pop.think_time, owner.size)
        gaps[first] = 0.0                           # the first request opens the visit
        elapsed = np.cumsum(gaps)
        offset = elapsed - np.repeat(elapsed[first], length)
        times = starts[owner] + offset
        inside = (times >= 0) & (times < duration)  # only the requests inside the window
        order = np.argsort(times[inside], kind="stable")
        times, users = times[inside][order], users[owner[inside][order]]
    else:
        times = starts
    n = times.size
    if pop.hot_user_share > 0:
        users = np.where(users == 0, 1, users)      # id 0 is reserved for the hot user
        users[rng.random(n) < pop.hot_user_share] = 0
    item = _draw_ids(rng, n, pop.n_items, pop.item_skew, 0.0, pop.hot_item_share)
    work = _work(rng, n, pop.mean_work, pop.work_cv)
    return Requests(times, users.astype(np.int64), item, work, float(duration), meta)


def poisson_traffic(rate: float, duration: float, *, seed: int = 0, **population) -> Requests:
    """Poisson arrivals at ``rate`` req/s for ``duration`` s, from a :class:`Population` (keyword arguments).

    ``session_requests > 1`` groups requests into visits: visits start as a Poisson stream and
    each brings that many requests on average, ``think_time`` s apart, from one user.
    ``hot_user_share`` / ``hot_item_share``: share of all requests from user 0 / about item 0
    (a heavy user such as a crawler; a viral item). ``work_cv = 1`` gives exponential service.
    """
    rate = _positive("rate", rate)
    duration = _positive("duration", duration)
    pop = Population(**population)
    rng = np.random.default_rng(_seed(seed))
    lead = _lead_time(pop)
    visits = rng.poisson(rate / pop.session_requests * (duration + lead))
    starts = np.sort(rng.uniform(-lead, duration, visits))  # given their number, Poisson arrivals are uniform
    return _stream(rng, starts, duration, pop, {"kind": "poisson", "rate": rate, "population": pop})


def _lead_time(pop: Population) -> float:
    """Visits start this long before the window too, so the stream is steady from its first second."""
    return 0.0 if pop.session_requests == 1 else 10.0 * pop.session_requests * pop.think_time


def _seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return int(seed)


def diurnal_rate(t: np.ndarray | float, peak_rate: float, day_length: float = 86_400.0,
                 profile: Sequence[float] = DIURNAL_PROFILE,
                 bursts: Sequence[tuple[float, float, float]] = ()) -> np.ndarray:
    """Request rate at time ``t`` of a day lasting ``day_length`` s: ``peak_rate`` x hourly profile x bursts.

    ``bursts``: (start s, length s, extra) triples; during a burst the rate is multiplied by 1 + extra.
    """
    t = np.asarray(t, dtype=float)
    prof = np.asarray(profile, dtype=float)
    if prof.ndim != 1 or prof.size < 2 or np.any(prof < 0) or prof.max() <= 0:
        raise ValueError("profile must list at least two non-negative relative rates, one per equal slice of the day")
    slots = np.append(prof, prof[0])  # wrap round midnight
    x = (t % day_length) / day_length * prof.size
    rate = peak_rate / prof.max() * np.interp(x, np.arange(slots.size), slots)
    for start, length, extra in bursts:
        rate = rate * np.where((t >= start) & (t < start + length), 1.0 + extra, 1.0)
    return rate


def diurnal_traffic(
    peak_rate: float,
    *,
    day_length: float = 1440.0,
    bursts: int = 3,
    burst_length: float = 12.0,
    burst_extra: float = 0.4,
    seed: int = 0,
    **population,
) -> Requests:
    """One day of traffic following ``DIURNAL_PROFILE`` (peak ``peak_rate`` req/s) with random bursts.

    The day lasts ``day_length`` simulated seconds: the default 1440 compresses 24 hours so that
    one simulated second stands for one minute of the day, while service times stay real. Bursts
    (a push notification, a trending event) start at random moments between 08:00 and 23:00,
    last ``burst_length`` s and add ``burst_extra`` to the rate. Arrivals by thinning a Poisson
    stream; other keyword arguments describe the :class:`Population`.
    """
    peak_rate = _positive("peak_rate", peak_rate)
    day_length = _positive("day_length", day_length)
    bursts = int(_positive("bursts", bursts, integer=True, allow_zero=True))
    burst_length = _positive("burst_length", burst_length)
    burst_extra = _positive("burst_extra", burst_extra, allow_zero=True)
    if burst_length >= 15 / 24 * day_length:
        raise ValueError(f"burst_length ({burst_length:g} s) must fit between 08:00 and 23:00 of the day")
    pop = Population(**population)
    rng = np.random.default_rng(_seed(seed))
    starts = np.sort(rng.uniform(8 / 24 * day_length, 23 / 24 * day_length - burst_length, bursts))
    burst_list = [(float(s), burst_length, burst_extra) for s in starts]
    top = peak_rate * (1.0 + burst_extra) / pop.session_requests
    lead = _lead_time(pop)
    n = rng.poisson(top * (day_length + lead))
    candidates = np.sort(rng.uniform(-lead, day_length, n))
    rate = diurnal_rate(candidates, peak_rate, day_length, bursts=burst_list) / pop.session_requests
    visits = candidates[rng.random(n) * top < rate]
    meta = {"kind": "diurnal", "peak_rate": peak_rate, "day_length": day_length, "bursts": burst_list, "population": pop}
    return _stream(rng, visits, day_length, pop, meta)
