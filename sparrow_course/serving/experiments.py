"""The capstone's experiments on the real service: chapter 03's cache and chapter 02's join, measured.

Each function runs the real thing (a Redis server, worker processes) and returns what it
measured next to what the chapter's own model predicts for the same requests.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..balancing import Node, consistent_moved_theory, ring_share_cv, run_with_resize
from ..caching import list_bytes, replay_ttl
from ..checks import check_fraction, check_int, check_number
from ..seeding import DEFAULT_SEED
from ..traffic import Requests
from .cache import RedisCache, encode_list, list_key
from .load import replay_trace
from .service import Recommender
from .workers import WorkerPool

__all__ = ["cache_experiment", "join_experiment", "redis_list_memory", "trace_window"]


def trace_window(trace: pd.DataFrame, n_requests: int, *, known: Sequence[int]) -> pd.DataFrame:
    """``n_requests`` consecutive requests of a chapter 03 trace from its busiest hour, returning users mapped to ``known``.

    The trace's returning users are ids of the users table; those with no training history are
    served as new users by the recommender, so they are relabelled ``is_new`` here too: the
    key chapter 03's replay uses is then the key the service uses.
    """
    n = check_int(n_requests, "n_requests", low=1)
    busiest = int(trace["hour"].value_counts().idxmax())
    start = int(np.flatnonzero(trace["hour"].to_numpy() == busiest)[0])
    window = trace.iloc[start:start + n].reset_index(drop=True).copy()
    window["is_new"] = window["is_new"].to_numpy(bool) | ~np.isin(window["user"], np.asarray(known))
    return window


def cache_experiment(recommender: Recommender, cache: Any, window: pd.DataFrame, ttl: float, *,
                     time_scale: float, max_seconds: float = 90.0) -> dict[str, float]:
    """Replay ``window`` through the recommender and a real cache at ``time_scale`` real s per trace s.

    The cache's TTL is ``ttl x time_scale`` real seconds. Returns the measured hit ratio,
    chapter 03's prediction (``caching.replay_ttl`` with the same key design and TTL) on the
    times the requests actually arrived and on the trace's own times, and the request count.
    """
    ttl = check_number(ttl, "ttl", low=0, include_low=False)
    scale = check_number(time_scale, "time_scale", low=0, include_low=False)
    cache.ttl = ttl * scale
    cache.flush()
    cache.reset_stats()
    recommender.cache = cache
    requests = window.to_dict(orient="records")
    served = replay_trace(recommender, requests, window["time"].to_numpy(float), time_scale=scale,
                          max_seconds=max_seconds)
    n = len(served)
    keys = pd.factorize(pd.Series([list_key(r) for r in requests[:n]]))[0]
    on_arrival = replay_ttl(keys, served["arrived"].to_numpy(float), ttl).hit_ratio
    on_trace = replay_ttl(keys, window["time"].to_numpy(float)[:n], ttl).hit_ratio
    return {"requests": n, "measured hit ratio": float(served["hit"].mean()),
            "chapter 03 on the arrival times": float(on_arrival), "chapter 03 on the trace's times": float(on_trace),
            "distinct keys": int(keys.max() + 1)}


def redis_list_memory(cache: RedisCache, list_size: int, *, n_lists: int = 50) -> dict[str, float]:
    """Bytes Redis uses per cached list of ``list_size`` items (median of ``n_lists``) against chapter 03's estimate."""
    n = check_int(list_size, "list_size", low=1)
    rng = np.random.default_rng(0)
    used = []
    for i in range(check_int(n_lists, "n_lists", low=1)):
        key = list_key({"is_new": False, "user": 100_000 + i, "list_block": 0})
        cache.set(key, encode_list(rng.integers(1, 10_000, n), rng.random(n)))
        used.append(cache.memory_usage(key))
    key_bytes = len(list_key({"is_new": False, "user": 100_000, "list_block": 0}))
    return {"items per list": n, "Redis bytes per list": float(np.median(used)),
            "chapter 03 estimate (64-byte key and overhead)": float(list_bytes(n)),
            "payload bytes": float(8 * n), "key bytes": float(key_bytes)}


def join_experiment(recommender: Recommender, requests: Requests, n_workers: int = 3, *, at: float = 0.5,
                    ttl: float = 3600.0, seed: int = DEFAULT_SEED, timeout: float = 60.0) -> tuple[pd.DataFrame, dict]:
    """Serve ``requests`` (by user) on ``n_workers`` real workers routed by the ring; a worker joins at share ``at``.

    Requests are sent one at a time in order (the stream's times are not waited for: what
    matters is which worker holds which list). Returns (per request: position, user, worker,
    hit, after the join, and chapter 02's simulated hit for the same stream and event) and a
    summary: keys moved (measured on the ring for the stream's distinct users) against
    chapter 02's theory 1/(N+1) with its standard error, hit ratios before and after, extra
    lists computed after the join, measured and simulated.
    """
    import httpx

    n = check_int(n_workers, "n_workers", low=1, high=8)
    at = check_fraction(at, "at", include_low=False, include_high=False)
    names = [f"worker-{i}" for i in range(n)]
    joiner = f"{names[0]}-joined"  # chapter 02's name for the joining node: same name, same ring points
    users = requests.user.astype(np.int64)
    cut = int(len(users) * at)
    rows = []
    with WorkerPool(recommender, n, ttl=ttl, seed=seed, names=names, timeout=timeout) as pool, \
            httpx.Client(timeout=30.0) as client:
        distinct = np.unique(users)
        before = np.array([pool.owner(u) for u in distinct])
        for i, user in enumerate(users):
            if i == cut:
                pool.add_worker(joiner)
            worker = pool.owner(user)
            body = client.get(f"{pool.workers[worker].url}/getrecforyou", params={"id": int(user), "size": 10}).json()
            rows.append({"position": i, "user": int(user), "worker": worker, "hit": bool(body["cached"]),
                         "after join": i >= cut})
        after = np.array([pool.owner(u) for u in distinct])
    table = pd.DataFrame(rows)
    nodes = [Node(name) for name in names]
    # chapter 02's simulation of the same stream and event: the cluster engine with a ring, a node joining
    timed = dataclasses.replace(requests, time=np.arange(len(users), dtype=float) + 0.5, duration=float(len(users)))
    sim = run_with_resize(timed, nodes, "ring", "join", at=float(cut), cache_ttl=1e9, seed=seed)
    table["simulated hit"] = sim["hit"].astype(bool)
    moved = float(np.mean(before != after))
    theory = consistent_moved_theory(n, n + 1)
    se = math.hypot(theory * float(ring_share_cv(160, n + 1)), math.sqrt(theory * (1 - theory) / len(distinct)))
    ref = table[~table["after join"]]
    post = table[table["after join"]]
    # extra work: lists computed after the join for users already served before it (a warm list moved away)
    seen = set(ref["user"])
    extra = int(((~post["hit"]) & post["user"].isin(seen)).sum())
    extra_sim = int(((~post["simulated hit"]) & post["user"].isin(seen)).sum())
    summary = {"workers before": n, "distinct users": int(len(distinct)), "keys moved": moved,
               "theory 1/(N+1)": theory, "standard error": se,
               "hit ratio before": float(ref["hit"].mean()), "hit ratio after": float(post["hit"].mean()),
               "simulated hit ratio before": float(ref["simulated hit"].mean()),
               "simulated hit ratio after": float(post["simulated hit"].mean()),
               "extra lists computed": extra, "simulated extra lists": extra_sim}
    return table, summary
