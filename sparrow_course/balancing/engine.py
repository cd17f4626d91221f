"""One cluster engine: serve requests one at a time, in arrival order, on machines that come and go.

Every experiment of chapter 02 that needs the live state of the nodes runs through
:class:`ClusterEngine`: ``simulate`` (load-aware strategies, admission control),
``simulate_autoscaling`` (nodes booting and draining over a day) and ``simulate_resize``
(a node joining or failing mid-run). The engine owns the per-machine state (workers' free
times, the feature cache, requests in flight) and dispatches one request at a time; the
experiments differ only in what they do at the two hooks:

* ``route(balancer, active, i0)``: a membership change. From request ``i0`` on, ``balancer``
  chooses among the ``active`` machines (balancer position ``p`` is machine ``active[p]``).
  Machines that leave the balancer keep serving what they hold (they drain).
* ``run(interval=, on_tick=)``: a periodic decision. ``on_tick(now, i)`` is called at every
  multiple of ``interval`` seconds, before request ``i`` (the first one at or after ``now``) is
  dispatched; it may call ``route`` or ``power_on``.

The model of one machine: a FIFO queue served by ``workers`` identical workers at ``speed``;
a feature cache that keeps a key for ``cache_ttl`` seconds after its last use on that machine
(a miss adds ``miss_penalty`` seconds of fetching to the service); optionally a queue limit
(``max_queue`` waiting requests) above which the machine rejects.
"""
from __future__ import annotations

import heapq
import math
from typing import Callable, Sequence

import numpy as np

from ..checks import check_int, check_number
from .hashing import hash_keys
from .strategies import Balancer, Load
from ..traffic import Requests

__all__ = ["ClusterEngine", "check_cache_options"]


def check_cache_options(cache_ttl: float, miss_penalty: float, max_queue: int | None = None) -> tuple:
    """Validate the cache and admission settings shared by every experiment; return them as plain numbers."""
    ttl = check_number(cache_ttl, "cache_ttl", low=0)
    penalty = check_number(miss_penalty, "miss_penalty", low=0)
    limit = None if max_queue is None else check_int(max_queue, "max_queue", low=0)
    return ttl, penalty, limit


class ClusterEngine:
    """Per-machine state and a one-request-at-a-time dispatch loop (see the module docstring).

    ``slots``: the machines (simulator ``Node`` objects), on or off; ``key``: the request field
    the feature cache and the hashing strategies use ('user' or 'item').
    After :meth:`run`, ``slot``, ``start``, ``service``, ``latency``, ``hit`` and ``rejected``
    hold one entry per request (start, service and latency are NaN when rejected).
    """

    def __init__(self, slots: Sequence, requests: Requests, *, key: str = "user", cache_ttl: float = 60.0,
                 miss_penalty: float = 0.01, max_queue: int | None = None) -> None:
        if not isinstance(requests, Requests):
            raise TypeError(f"requests must be a Requests stream (see poisson_traffic), got {type(requests).__name__}")
        self.slots = list(slots)
        self.requests = requests
        self.keys = requests.keys(key)
        self.cache_ttl, self.miss_penalty, self.max_queue = check_cache_options(cache_ttl, miss_penalty, max_queue)
        n = self.n = len(requests)
        m = len(self.slots)
        self.free = [[0.0] * nd.workers for nd in self.slots]      # when each worker is next free
        self.inv_speed = [1.0 / nd.speed for nd in self.slots]      # seconds of service per unit of work
        self.last_seen: list[dict] = [{} for _ in range(m)]         # the feature cache: key -> last use
        self.inflight_off = [0] * m                                 # in flight on machines outside the balancer
        self.active: list[int] = []
        self.pos = [-1] * m                                         # machine -> balancer position (-1: outside)
        self.load: Load | None = None
        self.choose: Callable[[int], int] | None = None
        self.base = 0
        self.slot = [0] * n
        self.start = [math.nan] * n
        self.service = [math.nan] * n
        self.latency = [math.nan] * n
        self.hit = [False] * n
        self.rejected = [False] * n

    # ---- the hooks
    def route(self, balancer: Balancer, active: Sequence[int], i0: int) -> None:
        """From request ``i0`` on, ``balancer`` dispatches over machines ``active`` (position p -> active[p])."""
        if len(balancer) != len(active):
            raise ValueError(f"the balancer has {len(balancer)} nodes but {len(active)} machines are active")
        if self.load is not None:                   # the leaving balancer's counts go back to their machines
            for p, s in enumerate(self.active):
                self.inflight_off[s] = self.load.inflight[p]
        self.active = list(active)
        self.pos = [-1] * len(self.slots)
        for p, s in enumerate(self.active):
            self.pos[s] = p
        self.load = Load(balancer.weights.tolist(), [self.inflight_off[s] for s in self.active])
        hashes = hash_keys(self.keys[i0:]) if balancer.uses_key else None
        self.choose = balancer.chooser(self.load, hashes, size=self.n - i0)
        self.base = i0

    def power_on(self, s: int) -> None:
        """Machine ``s`` (re)starts: idle workers and a cold cache."""
        self.free[s] = [0.0] * self.slots[s].workers
        self.last_seen[s] = {}

    def slow_down(self, s: int, factor: float = 1.0) -> None:
        """Machine ``s`` serves ``factor`` times slower from now on (1: its own speed again), e.g. while it warms up."""
        factor = check_number(factor, "factor", low=1.0)
        self.inv_speed[s] = factor / self.slots[s].speed

    def in_flight(self, s: int) -> int:
        """Requests machine ``s`` has accepted and not yet finished."""
        p = self.pos[s]
        return self.load.inflight[p] if p >= 0 else self.inflight_off[s]

    # ---- the loop
    def run(self, *, interval: float = math.inf, on_tick: Callable[[float, int], None] | None = None) -> None:
        """Dispatch every request in time order, calling ``on_tick(now, i)`` every ``interval`` seconds.

        After the last request the remaining ticks up to the end of the stream are called with
        ``i = n``, so a periodic decision also sees the stream's last window.
        """
        if self.choose is None:
            raise RuntimeError("call route(balancer, active, 0) before run(): no balancer dispatches yet")
        times, work = self.requests.time.tolist(), self.requests.work.tolist()
        ckeys = self.keys.tolist()
        inv_speed = self.inv_speed                  # the same list: slow_down() from a hook takes effect at once
        workers = [nd.workers for nd in self.slots]
        free, last_seen, inflight_off = self.free, self.last_seen, self.inflight_off
        slot, start, service, latency, hit, rejected = (self.slot, self.start, self.service, self.latency,
                                                         self.hit, self.rejected)
        limit = math.inf if self.max_queue is None else self.max_queue
        ttl = self.cache_ttl if self.cache_ttl > 0 else -1.0
        penalty = self.miss_penalty
        departures: list[tuple[float, int]] = []
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        next_tick = interval
        next_departure = math.inf                   # departures[0][0], kept in a local for speed
        choose, base, active, pos = self.choose, self.base, self.active, self.pos
        inflight, score, inv_w = self.load.inflight, self.load.score, self.load.inv_weight
        for i in range(self.n):
            t = times[i]
            if t >= next_tick:
                while t >= next_tick:
                    on_tick(next_tick, i)
                    next_tick += interval
                free, last_seen = self.free, self.last_seen
                choose, base, active, pos = self.choose, self.base, self.active, self.pos
                inflight, score, inv_w = self.load.inflight, self.load.score, self.load.inv_weight
            if t >= next_departure:
                while departures and departures[0][0] <= t:
                    s = pop(departures)[1]
                    p = pos[s]
                    if p >= 0:
                        c = inflight[p] - 1
                        inflight[p] = c
                        score[p] = (c + 1) * inv_w[p]
                    else:
                        inflight_off[s] -= 1
                next_departure = departures[0][0] if departures else math.inf
            p = choose(i - base)
            s = active[p]
            slot[i] = s
            if inflight[p] - workers[s] >= limit:   # queue full: admission control says no
                rejected[i] = True
                continue
            seen = last_seen[s]
            k = ckeys[i]
            prev = seen.get(k)
            seen[k] = t
            if prev is not None and t - prev <= ttl:
                hit[i] = True
                d = work[i] * inv_speed[s]
            else:
                d = work[i] * inv_speed[s] + penalty
            f = free[s]
            st = f[0]
            if t > st:
                st = t
            end = st + d
            replace(f, end)
            push(departures, (end, s))
            if end < next_departure:
                next_departure = end
            c = inflight[p] + 1
            inflight[p] = c
            score[p] = (c + 1) * inv_w[p]
            start[i] = st
            service[i] = d
            latency[i] = end - t
        if on_tick is not None:
            while next_tick <= self.requests.duration + 1e-9:
                on_tick(next_tick, self.n)
                next_tick += interval

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-request outcome as numpy arrays: slot, start, service, latency, hit, rejected."""
        return {"slot": np.array(self.slot, dtype=np.int64), "start": np.array(self.start),
                "service": np.array(self.service), "latency": np.array(self.latency),
                "hit": np.array(self.hit, dtype=bool), "rejected": np.array(self.rejected, dtype=bool)}
