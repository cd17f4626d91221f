"""A serving-cluster simulator: nodes with speeds, workers, a FIFO queue and a feature cache each.

A request arrives at the load balancer, which picks a node. The node looks up the request's
key (the user, by default) in its in-memory feature cache: on a miss the worker must fetch the
features from the remote store first, which adds ``miss_penalty`` seconds to the service time.
The request then waits in the node's single FIFO queue for the first free worker, and is served
in ``work / speed`` seconds.

The cache keeps an entry while it is used: an entry expires ``cache_ttl`` seconds after its
last access (expire-after-access). By Che's approximation an LRU cache behaves like exactly such
a TTL cache with its characteristic time, and unlike LRU the hits can be computed for a million
requests at once.

Two ways to run one model:

* state-free strategies (round robin, hashing, ...) are assigned with numpy in one go; then
  each node's FIFO queue is solved on its own, with the Lindley recursion in closed form for a
  single worker (a cumulative maximum, no Python loop) and a small heap loop for several workers;
* load-aware strategies (least connections, two choices, bounded loads) and admission control
  (``max_queue``) need the live state of every node at each arrival, so they run through the
  one cluster engine (:mod:`.engine`), which also drives the autoscaler and the resize experiment.
"""
from __future__ import annotations

import copy
import heapq
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import percentiles
from .hashing import hash_keys
from ..checks import check_choice, check_int, check_number, check_str
from .engine import ClusterEngine, check_cache_options
from ..seeding import DEFAULT_SEED
from .strategies import Balancer, make_balancer
from ..traffic import Requests

__all__ = [
    "POPULATION",
    "Node",
    "SimulationResult",
    "check_nodes",
    "compare_balancers",
    "erlang_c_mean_wait",
    "fifo_start_times",
    "key_affinity",
    "make_cluster",
    "mm1_mean_wait",
    "simulate",
    "summary_table",
    "ttl_cache_hits",
]

#: Chapter 02's users, for ``poisson_traffic(rate, duration, **POPULATION)``: 100k users with Zipf-like
#: activity, visits of ~6 requests about 15 s apart, 20 ms of model work per request on a speed-1 node.
POPULATION = dict(n_users=100_000, user_skew=0.9, user_offset=20, session_requests=6, think_time=15, mean_work=0.02)


@dataclass(frozen=True)
class Node:
    """A serving node: ``speed`` (1 = reference hardware) and ``workers`` serving one FIFO queue."""

    name: str
    speed: float = 1.0
    workers: int = 1

    def __post_init__(self) -> None:
        if not check_str(self.name, "name").strip():
            raise ValueError(f"name must not be blank, got {self.name!r}")
        check_number(self.speed, f"speed of {self.name!r}", low=0, include_low=False)
        check_int(self.workers, f"workers of {self.name!r}", low=1)

    @property
    def capacity(self) -> float:
        """Work the node does per second (speed x workers): the weight a balancer should give it."""
        return float(self.speed * self.workers)


def make_cluster(speeds: Sequence[float], workers: int | Sequence[int] = 1, *, prefix: str = "node") -> list[Node]:
    """Nodes named ``node-0``, ``node-1``, ... with the given speeds and worker counts."""
    speeds = list(speeds)
    if not speeds:
        raise ValueError("a cluster needs at least one node: pass one speed per node")
    counts = [workers] * len(speeds) if isinstance(workers, (int, np.integer)) and not isinstance(workers, bool) else list(workers)
    if len(counts) != len(speeds):
        raise ValueError(f"got {len(speeds)} speeds but {len(counts)} worker counts; pass one per node or a single int")
    return [Node(f"{prefix}-{i}", float(s), int(c) if isinstance(c, (int, np.integer)) else c) for i, (s, c) in enumerate(zip(speeds, counts))]


# --------------------------------------------------------------------------- building blocks

def fifo_start_times(arrival: np.ndarray, service: np.ndarray, workers: int = 1) -> np.ndarray:
    """Start of service of each request in a FIFO queue with ``workers`` identical workers.

    One worker: the Lindley recursion D_n = max(A_n, D_(n-1)) + s_n unrolls to
    D_n = S_n + max_(k<=n) (A_k - S_(k-1)) with S the running sum of service times,
    a cumulative maximum that numpy computes without a Python loop. Several workers:
    each request takes the worker that frees up first (a heap of free times).
    """
    a = np.asarray(arrival, dtype=float)
    s = np.asarray(service, dtype=float)
    if a.shape != s.shape or a.ndim != 1:
        raise ValueError(f"arrival and service must be 1-D arrays of equal length, got {a.shape} and {s.shape}")
    workers = check_int(workers, "workers", low=1)
    if a.size == 0:
        return a.copy()
    if np.any(np.diff(a) < 0):
        raise ValueError("arrivals must be sorted in time (FIFO order)")
    if np.any(s < 0):
        raise ValueError("service times must be non-negative")
    if workers == 1:
        before = np.cumsum(s) - s                      # S_(n-1): work that arrived before request n
        start = before + np.maximum.accumulate(a - before)
        return np.maximum(start, a)                    # guard against rounding just below the arrival
    free = [0.0] * int(workers)
    start = np.empty(a.size)
    replace = heapq.heapreplace
    for i, (t, d) in enumerate(zip(a.tolist(), s.tolist())):
        f = free[0]
        st = t if t > f else f
        replace(free, st + d)
        start[i] = st
    return start


def ttl_cache_hits(node: np.ndarray, key: np.ndarray, time: np.ndarray, ttl: float) -> np.ndarray:
    """Whether each request finds its key in its node's cache (expire ``ttl`` s after the last access).

    A request hits when the same key reached the same node before and at most ``ttl`` seconds ago.
    """
    node, key, time = np.asarray(node), np.asarray(key), np.asarray(time, dtype=float)
    if not (node.shape == key.shape == time.shape) or node.ndim != 1:
        raise ValueError("node, key and time must be 1-D arrays of equal length")
    ttl = check_number(ttl, "ttl", low=0)
    hits = np.zeros(node.size, dtype=bool)
    if node.size < 2 or ttl == 0:
        return hits
    # group by (node, key), keeping time order inside each group (stable sorts)
    order = np.argsort(key, kind="stable")
    order = order[np.argsort(node[order], kind="stable")]
    n_o, k_o, t_o = node[order], key[order], time[order]
    again = (n_o[1:] == n_o[:-1]) & (k_o[1:] == k_o[:-1]) & (t_o[1:] - t_o[:-1] <= ttl)
    hits[order[1:]] = again
    return hits


# --------------------------------------------------------------------------- result

@dataclass
class SimulationResult:
    """Per-request outcome of a simulation; ``node`` indexes ``nodes`` (cluster order)."""

    strategy: str
    nodes: tuple[Node, ...]
    arrival: np.ndarray
    node: np.ndarray
    start: np.ndarray      # NaN when rejected
    service: np.ndarray    # NaN when rejected
    hit: np.ndarray
    rejected: np.ndarray
    duration: float
    timeout: float | None = None
    engine: str = "vector"
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"SimulationResult({self.strategy}: {len(self.arrival)} requests, p99 {s['p99_ms']:.1f} ms, "
                f"hit ratio {s['hit_ratio']:.3f}, engine {self.engine})")

    @property
    def served(self) -> np.ndarray:
        """Requests a node accepted (not rejected by admission control)."""
        return ~self.rejected

    @property
    def latency(self) -> np.ndarray:
        """Seconds from arrival to the end of service (NaN when rejected)."""
        return self.start + self.service - self.arrival

    @property
    def wait(self) -> np.ndarray:
        """Seconds spent queueing before a worker took the request (NaN when rejected)."""
        return self.start - self.arrival

    @property
    def timed_out(self) -> np.ndarray:
        """Requests answered later than ``timeout`` (the client gave up; the node still did the work)."""
        if self.timeout is None:
            return np.zeros(self.arrival.size, dtype=bool)
        with np.errstate(invalid="ignore"):
            return self.served & (self.latency > self.timeout)

    def utilisation(self) -> np.ndarray:
        """Busy share of each node's workers over the run (service time / (workers x duration))."""
        busy = np.bincount(self.node[self.served], weights=self.service[self.served], minlength=len(self.nodes))
        return busy / (np.array([n.workers for n in self.nodes]) * self.duration)

    def summary(self) -> dict[str, float]:
        """Cluster-wide figures: latency percentiles (ms), queueing, rejections, time-outs, cache hit ratio."""
        served = self.served
        n_served = int(served.sum())
        lat = self.latency[served]
        pct = percentiles(lat * 1e3) if n_served else {"p50": math.nan, "p95": math.nan, "p99": math.nan}
        util = self.utilisation()
        wait = self.wait[served]
        return {
            "requests": int(self.arrival.size),
            "p50_ms": pct["p50"],
            "p95_ms": pct["p95"],
            "p99_ms": pct["p99"],
            "mean_ms": float(lat.mean() * 1e3) if n_served else math.nan,
            "mean_wait_ms": float(wait.mean() * 1e3) if n_served else math.nan,
            "mean_queue": float(wait.sum() / self.duration),      # Little's law: L_q = lambda W_q
            "rejected_pct": float(100 * self.rejected.mean()),
            "timed_out_pct": float(100 * self.timed_out.mean()),
            "hit_ratio": float(self.hit[served].mean()) if n_served else math.nan,
            "max_util": float(util.max()),
            "min_util": float(util.min()),
        }

    def per_node(self) -> pd.DataFrame:
        """One row per node: requests, share, utilisation, queueing, p99 and cache hit ratio."""
        rows = []
        lat, wait, served = self.latency, self.wait, self.served
        util = self.utilisation()
        for j, node in enumerate(self.nodes):
            mine = self.node == j
            ok = mine & served
            count = int(mine.sum())
            rows.append({
                "node": node.name,
                "speed": node.speed,
                "workers": node.workers,
                "requests": count,
                "share_pct": 100 * count / max(self.arrival.size, 1),
                "utilisation": float(util[j]),
                "mean_wait_ms": float(wait[ok].mean() * 1e3) if ok.any() else math.nan,
                "p99_ms": float(np.percentile(lat[ok], 99) * 1e3) if ok.any() else math.nan,
                "hit_ratio": float(self.hit[ok].mean()) if ok.any() else math.nan,
                "rejected": int((mine & self.rejected).sum()),
            })
        return pd.DataFrame(rows).set_index("node")


def key_affinity(result: SimulationResult, keys: np.ndarray) -> float:
    """Share of requests served by their key's usual node (the node that served that key most often).

    1.0 means every key stayed on one node (perfect affinity, as pure hashing gives); a strategy
    that ignores the key spreads each key over many nodes and scores far lower.
    """
    keys = np.asarray(keys)
    if keys.shape != result.node.shape:
        raise ValueError(f"keys must have one entry per request ({result.node.size}), got {keys.shape}")
    served = result.served
    _, key_id = np.unique(keys[served], return_inverse=True)
    pair = key_id.astype(np.int64) * len(result.nodes) + result.node[served]
    uniq, counts = np.unique(pair, return_counts=True)
    # uniq is sorted by key first: the largest count within each key's run is its usual node
    owner = uniq // len(result.nodes)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return float(np.maximum.reduceat(counts, starts).sum() / max(served.sum(), 1))


def summary_table(results: Mapping[str, SimulationResult], columns: Sequence[str] | None = None,
                  digits: Mapping[str, int] | None = None) -> pd.DataFrame:
    """One row per named result with its ``summary()``, rounded for printing."""
    if not results:
        raise ValueError("results is empty; pass {name: SimulationResult}")
    rounding = {"p50_ms": 1, "p95_ms": 1, "p99_ms": 0, "mean_ms": 1, "mean_wait_ms": 1, "mean_queue": 2,
                "rejected_pct": 2, "timed_out_pct": 2, "hit_ratio": 3, "max_util": 2, "min_util": 2}
    rounding.update(digits or {})
    table = pd.DataFrame({name: r.summary() for name, r in results.items()}).T
    if columns is not None:
        table = table[list(columns)]
    for col in table.columns:
        if col in rounding:
            table[col] = table[col].astype(float).round(rounding[col])
    if "requests" in table.columns:
        table["requests"] = table["requests"].astype(int)
    return table


def compare_balancers(requests: Requests, nodes: Sequence[Node], balancers: Sequence[str] | Mapping[str, Balancer | str],
                      *, columns: Sequence[str] | None = None, seed: int = DEFAULT_SEED, **options
                      ) -> tuple[pd.DataFrame, dict[str, SimulationResult]]:
    """Serve the same ``requests`` on ``nodes`` under each balancer: a table and the runs, by name.

    ``balancers``: strategy names (built with :func:`make_balancer` over ``nodes`` with ``seed``),
    or ``{label: Balancer or strategy name}``. ``options`` go to :func:`simulate` (cache, key,
    engine...). The table has one row per balancer: the ``summary()`` ``columns`` (all by
    default, rounded as :func:`summary_table` does), then ``affinity`` (:func:`key_affinity` on
    the simulated key) and ``fetches_per_s`` (cache misses per second of traffic: the load on
    the feature store).
    """
    if isinstance(balancers, str) or not isinstance(balancers, (Sequence, Mapping)) or not len(balancers):
        raise ValueError(f"balancers must be a non-empty list of strategy names or {{label: Balancer}} dict, "
                         f"got {balancers!r}")
    named = dict(balancers) if isinstance(balancers, Mapping) else {kind: kind for kind in balancers}
    if len(named) != len(balancers):
        raise ValueError(f"balancers names a strategy twice: {list(balancers)}")
    runs = {}
    for label, balancer in named.items():
        if isinstance(balancer, str):
            balancer = make_balancer(balancer, nodes, seed=seed)
        runs[str(label)] = simulate(requests, nodes, balancer, **options)
    table = summary_table(runs, columns)
    keys = requests.keys(options.get("key", "user"))
    table["affinity"] = [round(key_affinity(r, keys), 3) for r in runs.values()]
    table["fetches_per_s"] = [round(float((r.served & ~r.hit).sum()) / requests.duration, 0) for r in runs.values()]
    return table, runs


# --------------------------------------------------------------------------- the simulator

def _validate(requests, nodes, balancer, key, cache_ttl, miss_penalty, timeout, max_queue, engine):
    if not isinstance(requests, Requests):
        raise TypeError(f"requests must be a Requests stream (see poisson_traffic), got {type(requests).__name__}")
    if not isinstance(balancer, Balancer):
        raise TypeError(f"balancer must be a Balancer (see make_balancer), got {type(balancer).__name__}")
    nodes = check_nodes(nodes)
    names = [n.name for n in nodes]
    if len(balancer) == 0:
        raise ValueError(f"balancer: {balancer.label} has no nodes: build it over the cluster's nodes")
    if set(balancer.nodes) != set(names):
        raise ValueError(f"balancer: its nodes {list(balancer.nodes)} differ from the cluster's {names}")
    requests.keys(key)  # validates the key name
    check_cache_options(cache_ttl, miss_penalty, max_queue)
    if timeout is not None:
        check_number(timeout, "timeout", low=0, include_low=False)
    check_choice(engine, "engine", ("auto", "vector", "events"))
    if engine == "vector" and (balancer.stateful or max_queue is not None):
        raise ValueError("engine='vector' needs a state-free strategy and no max_queue; use engine='events'")
    return nodes


def check_nodes(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """Validate a cluster: a non-empty sequence of ``Node`` with unique names."""
    if isinstance(nodes, (str, bytes)) or not hasattr(nodes, "__iter__"):
        raise TypeError(f"nodes must be a list of Node (see make_cluster), got {type(nodes).__name__}")
    nodes = tuple(nodes)
    if not nodes:
        raise ValueError("nodes is empty: a cluster needs at least one Node (see make_cluster)")
    if not all(isinstance(n, Node) for n in nodes):
        raise TypeError("nodes must be a list of Node (see make_cluster)")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError(f"nodes: names must be unique, got {names}")
    return nodes


def simulate(
    requests: Requests,
    nodes: Sequence[Node],
    balancer: Balancer,
    *,
    key: str = "user",
    cache_ttl: float = 60.0,
    miss_penalty: float = 0.01,
    timeout: float | None = None,
    max_queue: int | None = None,
    engine: str = "auto",
) -> SimulationResult:
    """Serve ``requests`` on ``nodes`` dispatched by ``balancer``; the balancer itself is left untouched.

    ``key``: the request field used for hashing and as the cache key ('user' or 'item').
    ``cache_ttl``: seconds an unused cache entry lives (0 disables the cache).
    ``miss_penalty``: seconds a cache miss adds to the service time (the feature fetch).
    ``timeout``: client deadline in seconds; later answers count as timed out.
    ``max_queue``: a node rejects a request when this many are already waiting (admission control).
    """
    nodes = _validate(requests, nodes, balancer, key, cache_ttl, miss_penalty, timeout, max_queue, engine)
    balancer = copy.deepcopy(balancer)  # the same balancer gives the same result every time
    if engine == "auto":
        engine = "events" if (balancer.stateful or max_queue is not None) else "vector"
    if engine == "vector":
        position = {n.name: j for j, n in enumerate(nodes)}
        to_cluster = np.array([position[name] for name in balancer.nodes], dtype=np.int64)
        keys = requests.keys(key)
        hashes = hash_keys(keys) if balancer.uses_key else None
        node, start, service, hit = _run_vector(requests, nodes, balancer, keys, hashes, to_cluster, cache_ttl, miss_penalty)
        rejected = np.zeros(len(requests), dtype=bool)
    else:
        node, start, service, hit, rejected = _run_events(requests, nodes, balancer, key, cache_ttl, miss_penalty,
                                                          max_queue)
    return SimulationResult(balancer.label, nodes, requests.time, node, start, service, hit, rejected,
                            requests.duration, timeout, engine,
                            meta={"key": key, "cache_ttl": cache_ttl, "miss_penalty": miss_penalty, "max_queue": max_queue})


def _run_vector(requests, nodes, balancer, keys, hashes, to_cluster, cache_ttl, miss_penalty):
    n = len(requests)
    node = to_cluster[balancer._assign(hashes, n)]
    hit = ttl_cache_hits(node, keys, requests.time, cache_ttl)
    speed = np.array([nd.speed for nd in nodes])
    service = requests.work / speed[node] + np.where(hit, 0.0, miss_penalty)
    start = np.empty(n)
    order = np.argsort(node, kind="stable")          # requests grouped by node, in arrival order
    bounds = np.searchsorted(node[order], np.arange(len(nodes) + 1))
    for j, nd in enumerate(nodes):
        idx = order[bounds[j]:bounds[j + 1]]
        start[idx] = fifo_start_times(requests.time[idx], service[idx], nd.workers)
    return node, start, service, hit


def _run_events(requests, nodes, balancer, key, cache_ttl, miss_penalty, max_queue):
    """One pass of the cluster engine over arrivals in time order, the cluster fixed for the whole run."""
    engine = ClusterEngine(nodes, requests, key=key, cache_ttl=cache_ttl, miss_penalty=miss_penalty,
                           max_queue=max_queue)
    position = {n.name: j for j, n in enumerate(nodes)}
    engine.route(balancer, [position[name] for name in balancer.nodes], 0)
    engine.run()
    out = engine.arrays()
    return out["slot"], out["start"], out["service"], out["hit"], out["rejected"]


# --------------------------------------------------------------------------- theory for checks

def mm1_mean_wait(arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue of an M/M/1 queue: W_q = rho / (mu - lambda)."""
    lam = check_number(arrival_rate, "arrival_rate", low=0, include_low=False)
    mu = check_number(service_rate, "service_rate", low=0, include_low=False)
    if lam >= mu:
        raise ValueError(f"arrival_rate must be below service_rate, got {lam:g} >= {mu:g}: "
                         "the queue is unstable and the wait grows without bound")
    return (lam / mu) / (mu - lam)


def erlang_c_mean_wait(arrival_rate: float, service_rate: float, workers: int) -> float:
    """Mean time in queue of an M/M/c queue (Erlang C): C(c, a) / (c mu - lambda).

    Computed through the recursion of Erlang's B formula, B(k) = a B(k-1) / (k + a B(k-1)),
    and C = c B / (c - a (1 - B)): no factorials or powers, so it stays finite for any c.
    """
    lam = check_number(arrival_rate, "arrival_rate", low=0, include_low=False)
    mu = check_number(service_rate, "service_rate", low=0, include_low=False)
    c = check_int(workers, "workers", low=1)
    if lam >= c * mu:
        raise ValueError(f"arrival_rate must be below workers x service_rate, got {lam:g} >= {c * mu:g}: "
                         "the queue is unstable")
    a = lam / mu
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    erlang_c = c * b / (c - a * (1.0 - b))
    return erlang_c / (c * mu - lam)
