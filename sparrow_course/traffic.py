"""Synthetic traffic, one home for chapters 02 and 03 (and later ones): popularity, the day, sessions.

* **Popularity.** :func:`zipf_probabilities` (Zipf, or Zipf-Mandelbrot with an offset) and
  :func:`zipf_trace`, independent requests drawn from it (the independent reference model).
* **The day.** ``DIURNAL_PROFILE``: the relative request rate by hour; :func:`diurnal_rate`
  interpolates it, :func:`hourly_shares` turns it into each hour's share of the day's sessions.
* **Sessions.** :func:`expand_sessions`: a visit of several requests, think times apart.
* **A day of recommendation requests** (chapter 03). :func:`generate_trace`: sessions of new and
  returning users on a users table, each request with its context (platform, network, place,
  time of day) and the feed page it asks for, the trace the cache keys of chapter 03 are tried on.
* **Request streams for a serving cluster** (chapter 02). A request has an arrival time, a user id, an item id (the item the page is about) and an
amount of work in seconds at speed 1. Users and items are drawn with a Zipf-like skew
(Zipf-Mandelbrot: P(rank r) proportional to 1 / (r + q)^s), so a few users are very active and
most are not; optional hot keys (a heavy user, a viral item) take a fixed share of traffic.
Arrivals are Poisson at a constant rate, or follow a diurnal day with bursts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .checks import check_fraction, check_frame, check_int, check_memory, check_number, check_seed
from .seeding import DEFAULT_SEED

__all__ = [
    "DAYPARTS", "DIURNAL_PROFILE", "HOURLY_SESSION_SHARE", "PAGES_PER_LIST", "Population", "Requests",
    "REGISTRATION", "TRACE_COLUMNS", "USER_COLUMNS", "daypart", "diurnal_rate", "diurnal_traffic", "expand_sessions",
    "generate_trace", "hourly_shares", "poisson_traffic", "zipf_probabilities", "zipf_trace",
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
        check_int(self.n_users, "n_users", low=0, include_low=False)
        check_int(self.n_items, "n_items", low=0, include_low=False)
        for name in ("user_skew", "user_offset", "item_skew"):
            check_number(getattr(self, name), name, low=0)
        check_number(self.hot_user_share, "hot_user_share", low=0, high=1, include_high=False)
        check_number(self.hot_item_share, "hot_item_share", low=0, high=1, include_high=False)
        check_number(self.session_requests, "session_requests", low=1)  # the mean requests of a session
        check_number(self.think_time, "think_time", low=0, include_low=False)
        check_number(self.mean_work, "mean_work", low=0, include_low=False)
        check_number(self.work_cv, "work_cv", low=0, include_low=False)
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
    rate = check_number(rate, "rate", low=0, include_low=False)
    duration = check_number(duration, "duration", low=0, include_low=False)
    pop = Population(**population)
    rng = np.random.default_rng(check_seed(seed))
    lead = _lead_time(pop)
    visits = rng.poisson(rate / pop.session_requests * (duration + lead))
    starts = np.sort(rng.uniform(-lead, duration, visits))  # given their number, Poisson arrivals are uniform
    return _stream(rng, starts, duration, pop, {"kind": "poisson", "rate": rate, "population": pop})


def _lead_time(pop: Population) -> float:
    """Visits start this long before the window too, so the stream is steady from its first second."""
    return 0.0 if pop.session_requests == 1 else 10.0 * pop.session_requests * pop.think_time


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
    peak_rate = check_number(peak_rate, "peak_rate", low=0, include_low=False)
    day_length = check_number(day_length, "day_length", low=0, include_low=False)
    bursts = check_int(bursts, "bursts", low=0)
    burst_length = check_number(burst_length, "burst_length", low=0, include_low=False)
    burst_extra = check_number(burst_extra, "burst_extra", low=0)
    if burst_length >= 15 / 24 * day_length:
        raise ValueError(f"burst_length ({burst_length:g} s) must fit between 08:00 and 23:00 of the day")
    pop = Population(**population)
    rng = np.random.default_rng(check_seed(seed))
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


#: registration features a trace carries when the users table has them (chapter 03's taste segments)
REGISTRATION = ("age_group", "gender", "occupation")


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

    Columns (``TRACE_COLUMNS``, then the registration features of ``REGISTRATION`` the users table
    has, a new user's being a random known user's): time (s from midnight), session, user, is_new, region, platform, network,
    geo_cell, hour, minute, daypart, page, and list_block: which cached ranked list of
    ``PAGES_PER_LIST`` pages covers the page (0 for pages 1-10).
    """
    users = _check_users(users)
    n_sessions = check_int(n_sessions, "n_sessions", low=1)
    share_new = check_fraction(share_new, "share_new")
    revisit_rate = check_fraction(revisit_rate, "revisit_rate", include_high=False)  # 1 would never leave a page
    # a session makes at least one request
    requests_per_session = check_number(requests_per_session, "requests_per_session", low=1)
    think_time = check_number(think_time, "think_time", low=0, include_low=False)
    activity_skew = check_number(activity_skew, "activity_skew", low=0)

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

    # what a sign-up form tells about a new user (a known user's own registration for returning ones);
    # taken from the same person as region and platform, so the random streams above are unchanged
    registration = {col: users[col].astype(str).to_numpy()[person] for col in REGISTRATION if col in users.columns}

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
        **{col: values[session] for col, values in registration.items()},
    })
    return trace.iloc[np.argsort(time, kind="stable")].reset_index(drop=True)
