"""What a resize costs: a node joins or fails mid-run, and the caches pay for the keys that moved.

Under hash scheduling each node's feature cache holds the users that hash to it. When the
cluster changes size, every key whose node changes finds a cold cache on its new node: one
extra fetch from the feature store per moved, still-active user, and a slower request. Modulo
hashing moves N/(N+1) of the keys, consistent schemes about 1/(N+1); round robin has little
affinity to lose. :func:`resize_experiment` runs the same traffic three times per strategy
(no change, a node joins, the last node fails) through the cluster engine and returns a
timeline and a cost table; :func:`cache_entries_for_hit_ratio` says how large each node's LRU
cache must be for a target hit ratio under each strategy (the lesson's reason for hashing).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..caching import lru_stack_distances
from ..checks import check_choice, check_fraction, check_number
from ..metrics import percentiles
from ..seeding import DEFAULT_SEED
from ..traffic import Requests
from .engine import ClusterEngine
from .simulator import Node, check_nodes
from .strategies import STRATEGIES, make_balancer

__all__ = ["EVENTS", "cache_entries_for_hit_ratio", "resize_experiment", "run_with_resize"]

#: What happens to the cluster at the event: nothing (the reference run), one node joins, the last node fails.
EVENTS = ("none", "join", "fail")


def _strategies(kinds: Sequence[str], *, state_free: bool = False) -> list[str]:
    if isinstance(kinds, str) or not len(kinds):
        raise ValueError(f"kinds must be a non-empty list of strategy names from {sorted(STRATEGIES)}, got {kinds!r}")
    for kind in kinds:
        check_choice(kind, "kinds", sorted(STRATEGIES))
        if state_free and STRATEGIES[kind].stateful:
            raise ValueError(f"kinds: {kind!r} depends on live load, so its placement is not a function of the key")
    return list(kinds)


def run_with_resize(requests: Requests, nodes: Sequence[Node], kind: str, event: str, at: float, *,
                    key: str = "user", cache_ttl: float = 60.0, miss_penalty: float = 0.015, seed: int = DEFAULT_SEED,
                    **options) -> dict[str, np.ndarray]:
    """Serve ``requests`` on ``nodes`` with strategy ``kind``; at ``at`` seconds a node joins, fails, or nothing happens.

    The joining node (a copy of the first node's hardware) starts with a cold cache; the
    failing node is the last one (the only one jump hash can drop) and stops taking requests
    at once (what it already holds still completes: we do not model retries). Returns the
    engine's per-request arrays (slot, start, service, latency, hit, rejected).
    """
    nodes = list(check_nodes(nodes))
    check_choice(kind, "kind", sorted(STRATEGIES))
    check_choice(event, "event", EVENTS)
    at = check_number(at, "at", low=0, include_low=False)
    if event == "fail" and len(nodes) < 2:
        raise ValueError("nodes: a failure needs at least two nodes, so that one is left")
    spare = Node(f"{nodes[0].name}-joined", nodes[0].speed, nodes[0].workers)
    slots = nodes + [spare]
    engine = ClusterEngine(slots, requests, key=key, cache_ttl=cache_ttl, miss_penalty=miss_penalty)

    def route(active: list[int], i0: int) -> None:
        engine.route(make_balancer(kind, [slots[s] for s in active], seed=seed, **options), active, i0)

    done = [False]

    def on_tick(now: float, i: int) -> None:
        if done[0]:
            return
        done[0] = True
        if event == "join":
            engine.power_on(len(nodes))
            route(list(range(len(nodes) + 1)), i)
        elif event == "fail":
            route(list(range(len(nodes) - 1)), i)

    route(list(range(len(nodes))), 0)
    engine.run(interval=at, on_tick=on_tick)
    return engine.arrays()


def resize_experiment(requests: Requests, nodes: Sequence[Node], kinds: Sequence[str], *, at: float,
                      recovery: float = 60.0, window: float = 10.0, key: str = "user", cache_ttl: float = 60.0,
                      miss_penalty: float = 0.015, seed: int = DEFAULT_SEED, options: dict | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each strategy in ``kinds`` under each of ``EVENTS`` at time ``at``: (timeline, costs).

    ``timeline``: one row per strategy, event and ``window`` seconds: hit ratio, misses per
    second and p99 latency (ms). ``costs``: one row per strategy and event (join, fail): the
    hit ratio before the event and during ``recovery`` seconds after it, the extra fetches from
    the feature store in those seconds (misses beyond the no-change run's, in total and per
    node of the original cluster), and the p99 during recovery against the no-change run's.
    ``options``: per-strategy keyword arguments, e.g. {"ring": {"vnodes": 160}}.
    """
    kinds = _strategies(kinds)
    nodes = list(check_nodes(nodes))
    at = check_number(at, "at", low=0, include_low=False)
    recovery = check_number(recovery, "recovery", low=0, include_low=False)
    window = check_number(window, "window", low=0, include_low=False)
    if not isinstance(requests, Requests):
        raise TypeError(f"requests must be a Requests stream (see poisson_traffic), got {type(requests).__name__}")
    if at + recovery > requests.duration:
        raise ValueError(f"at + recovery must lie within the stream's {requests.duration:g} s, got {at + recovery:g}")
    options = options or {}
    t = requests.time
    edges = np.arange(0.0, requests.duration + window, window)
    bins = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    before = (t >= at - recovery) & (t < at)
    after = (t >= at) & (t < at + recovery)
    timeline, costs = [], []
    for kind in kinds:
        runs = {event: run_with_resize(requests, nodes, kind, event, at, key=key, cache_ttl=cache_ttl,
                                       miss_penalty=miss_penalty, seed=seed, **options.get(kind, {}))
                for event in EVENTS}
        for event, run in runs.items():
            hit, lat = run["hit"], run["latency"] * 1e3
            frame = pd.DataFrame({"bin": bins, "hit": hit, "lat": lat})
            for b, part in frame.groupby("bin"):
                timeline.append({"strategy": kind, "event": event, "time": float(edges[b]),
                                 "hit_ratio": float(part["hit"].mean()),
                                 "misses_per_s": float((~part["hit"]).sum() / window),
                                 "p99_ms": float(np.percentile(part["lat"], 99))})
        ref = runs["none"]
        ref_misses = int((~ref["hit"][after]).sum())
        for event in ("join", "fail"):
            run = runs[event]
            extra = int((~run["hit"][after]).sum()) - ref_misses
            costs.append({"strategy": kind, "event": event,
                          "hit_ratio_before": float(run["hit"][before].mean()),
                          "hit_ratio_recovery": float(run["hit"][after].mean()),
                          "hit_ratio_no_change": float(ref["hit"][after].mean()),
                          "extra_fetches": extra,
                          "extra_fetches_per_node": extra / len(nodes),
                          "p99_recovery_ms": percentiles(run["latency"][after] * 1e3)["p99"],
                          "p99_no_change_ms": percentiles(ref["latency"][after] * 1e3)["p99"]})
    return pd.DataFrame(timeline), pd.DataFrame(costs)


def cache_entries_for_hit_ratio(keys: np.ndarray, nodes: Sequence[str] | Sequence[Node], kinds: Sequence[str],
                                targets: Sequence[float], *, bytes_per_entry: float = 2048.0, seed: int = DEFAULT_SEED,
                                options: dict | None = None) -> pd.DataFrame:
    """Entries (and MiB) each node's LRU cache needs for the cluster to reach each target hit ratio.

    Requests (their ``keys``, in arrival order) are placed by each state-free strategy; a node
    of LRU size C serves a hit exactly when the request's stack distance on that node is at
    most C, so the smallest C that reaches a hit ratio h is a quantile of all the per-node
    distances together. NaN where even an unbounded cache cannot reach h (every key's first
    request on a node misses). One row per strategy and target.
    """
    kinds = _strategies(kinds, state_free=True)
    keys = np.asarray(keys)
    if keys.ndim != 1 or keys.size == 0:
        raise ValueError(f"keys must be a non-empty 1-D array of request keys, got shape {keys.shape}")
    targets = [check_fraction(h, "targets") for h in targets]
    if not targets:
        raise ValueError("targets is empty: give at least one hit ratio in [0, 1]")
    bytes_per_entry = check_number(bytes_per_entry, "bytes_per_entry", low=0, include_low=False)
    options = options or {}
    names = [n.name if isinstance(n, Node) else n for n in nodes]
    n = keys.size
    rows = []
    for kind in kinds:
        balancer = make_balancer(kind, names, seed=seed, **options.get(kind, {}))
        place = balancer.assign(keys) if balancer.uses_key else balancer.assign(size=n)
        distances = []
        for j in range(len(names)):
            d = lru_stack_distances(keys[place == j]) if np.any(place == j) else np.zeros(0)
            distances.append(d[np.isfinite(d)])
        d = np.sort(np.concatenate(distances))
        for h in targets:
            needed = math.ceil(h * n - 1e-9)        # hits the cluster needs
            entries = float(d[needed - 1]) if 0 < needed <= d.size else (0.0 if needed == 0 else math.nan)
            rows.append({"strategy": kind, "target_hit_ratio": h, "max_hit_ratio": d.size / n,
                         "entries_per_node": entries, "MiB_per_node": entries * bytes_per_entry / 2**20,
                         "entries_cluster": entries * len(names)})
    return pd.DataFrame(rows)
