"""Synthetic traffic, one home for chapters 02 and 03 (and later ones): popularity, the day, sessions.

* **Popularity.** :func:`zipf_probabilities` (Zipf, or Zipf-Mandelbrot with an offset) and
  :func:`zipf_trace`, independent requests drawn from it (the independent reference model).
* **The day.** ``DIURNAL_PROFILE``: the relative request rate by hour; :func:`diurnal_rate`
  interpolates it, :func:`hourly_shares` turns it into each hour's share of the day's sessions.
* **Sessions.** :func:`expand_sessions`: a visit of several requests, think times apart.
* **Request streams for a serving cluster** (chapter 02). A request has an arrival time, a user id, an item id (the item the page is about) and an
amount of work in seconds at speed 1. Users and items are drawn with a Zipf-like skew
(Zipf-Mandelbrot: P(rank r) proportional to 1 / (r + q)^s), so a few users are very active and
most are not; optional hot keys (a heavy user, a viral item) take a fixed share of traffic.
Arrivals are Poisson at a constant rate, or follow a diurnal day with bursts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .checks import check_int, check_memory, check_number, check_seed
from .seeding import DEFAULT_SEED

__all__ = [
    "DIURNAL_PROFILE", "HOURLY_SESSION_SHARE", "Population", "Requests", "diurnal_rate", "diurnal_traffic",
    "expand_sessions", "hourly_shares", "poisson_traffic", "zipf_probabilities", "zipf_trace",
]

#: Relative request rate by hour of day (0-23): a night trough, a lunch bump and an evening peak,
#: the usual shape of consumer traffic. Interpolated linearly between hours.
DIURNAL_PROFILE = (
    0.34, 0.24, 0.18, 0.15, 0.15, 0.18, 0.27, 0.40, 0.52, 0.60, 0.65, 0.72,
    0.80, 0.76, 0.68, 0.66, 0.68, 0.74, 0.84, 0.94, 1.00, 0.97, 0.80, 0.55,
)



def hourly_shares(profile: Sequence[float] = DIURNAL_PROFILE) -> np.ndarray:
    """Each hour's share of the day's traffic under a profile interpolated as :func:`diurnal_rate` does.

    The rate is linear between the hourly values, so an hour carries the mean of its two ends.
    """
    prof = np.asarray(profile, dtype=float)
    if prof.ndim != 1 or prof.size < 2 or np.any(prof < 0) or not np.all(np.isfinite(prof)) or prof.max() <= 0:
        raise ValueError("profile must list at least two finite, non-negative relative rates")
    mean = (prof + np.roll(prof, -1)) / 2
    return mean / mean.sum()


#: Share of a day's sessions that start in each hour (0 = midnight to 1 am), from ``DIURNAL_PROFILE``.
HOURLY_SESSION_SHARE = hourly_shares()


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
    """A finite number > 0 (>= 0 with ``allow_zero``), through the shared checks."""
    if integer:
        return float(check_int(value, name, low=0, include_low=allow_zero))
    return check_number(value, name, low=0, include_low=allow_zero)


def _share(name: str, value: object) -> float:
    return check_number(value, name, low=0, high=1, include_high=False)


# --------------------------------------------------------------------------- popularity

def zipf_probabilities(n: int, s: float = 1.0, q: float = 0.0) -> np.ndarray:
    """P(rank r) proportional to 1 / (r + q)^s for ranks 1..n (Zipf when q = 0, Zipf-Mandelbrot otherwise)."""
    n = check_int(n, "n", low=1)
    s = check_number(s, "s", low=0)
    q = check_number(q, "q", low=0)
    check_memory(16.0 * n, f"zipf_probabilities over n={n} ranks")
    p = (np.arange(1, n + 1) + q) ** -s
    return p / p.sum()


def zipf_trace(n_requests: int, n_items: int, alpha: float, *, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Independent requests (the independent reference model) for keys 0..n_items-1, key i with Zipf rank i+1."""
    n_requests = check_int(n_requests, "n_requests", low=1)
    q = zipf_probabilities(n_items, alpha)
    rng = np.random.default_rng(check_seed(seed))
    return rng.choice(len(q), size=n_requests, p=q).astype(np.int64)


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


def expand_sessions(rng: np.random.Generator, n_sessions: int, mean_requests: float,
                    think_time: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand sessions into requests: (session of each request, its step 0, 1, ..., seconds since the session began).

    A session makes 1 + Geometric requests, ``mean_requests`` on average, ``think_time``
    seconds apart on average (exponential); the first request opens the session at 0 s.
    Requests come out grouped by session, in order within each. Draws the lengths, then the gaps.
    """
    length = rng.geometric(1.0 / mean_requests, n_sessions)
    session = np.repeat(np.arange(n_sessions), length)
    first = np.cumsum(length) - length              # position of each session's first request
    step = np.arange(session.size) - first[session]
    gaps = rng.exponential(think_time, session.size)
    gaps[first] = 0.0                               # the first request opens the session
    elapsed = np.cumsum(gaps)
    return session, step, elapsed - elapsed[first][session]


def _stream(rng: np.random.Generator, starts: np.ndarray, duration: float, pop: Population, meta: dict) -> Requests:
    """Requests from session start times: each session is one user's visit of several requests."""
    users = _draw_ids(rng, starts.size, pop.n_users, pop.user_skew, pop.user_offset, 0.0)
    if pop.session_requests > 1:
        owner, _, offset = expand_sessions(rng, starts.size, pop.session_requests, pop.think_time)
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


def poisson_traffic(rate: float, duration: float, *, seed: int = DEFAULT_SEED, **population) -> Requests:
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
    return check_seed(seed)


def diurnal_rate(t: np.ndarray | float, peak_rate: float, day_length: float = 86_400.0,
                 profile: Sequence[float] = DIURNAL_PROFILE,
                 bursts: Sequence[tuple[float, float, float]] = ()) -> np.ndarray:
    """Request rate at time ``t`` of a day lasting ``day_length`` s: ``peak_rate`` x hourly profile x bursts.

    ``bursts``: (start s, length s, extra) triples; during a burst the rate is multiplied by 1 + extra.
    """
    peak_rate = check_number(peak_rate, "peak_rate", low=0)
    day_length = check_number(day_length, "day_length", low=0, include_low=False)
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)):
        raise ValueError("t must hold finite times in seconds, got NaN or infinity")
    prof = np.asarray(profile, dtype=float)
    if prof.ndim != 1 or prof.size < 2 or np.any(prof < 0) or prof.max() <= 0:
        raise ValueError("profile must list at least two non-negative relative rates, one per equal slice of the day")
    slots = np.append(prof, prof[0])  # wrap round midnight
    x = (t % day_length) / day_length * prof.size
    rate = peak_rate / prof.max() * np.interp(x, np.arange(slots.size), slots)
    for start, length, extra in bursts:
        check_number(extra, "burst extra", low=-1)
        rate = rate * np.where((t >= start) & (t < start + length), 1.0 + extra, 1.0)
    return rate


def diurnal_traffic(
    peak_rate: float,
    *,
    day_length: float = 1440.0,
    bursts: int = 3,
    burst_length: float = 12.0,
    burst_extra: float = 0.4,
    seed: int = DEFAULT_SEED,
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
