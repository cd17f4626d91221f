"""Benchmark: the chapter 02 cluster simulator against an equivalent SimPy model of the same scenario.

Both serve the same request stream (arrival times, users, work) on the same cluster (unequal
nodes, several workers each, a TTL feature cache) with the same dispatch rule, so they should
agree request by request; the script prints the speed ratio, the latency percentiles of both
and how far apart they are, and the requests per second of the stateful event loop.

It first times the chapter's explorer: every update over its default ranges against the 0.5-s budget.

    python benchmarks/bench_balancing.py [--requests 150000] [--repeats 3] [--explorer]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from sparrow_course.balancing import Load, make_balancer, make_cluster, poisson_traffic, simulate
from sparrow_course.balancing.hashing import hash_keys

SPEEDS = [1.0] * 4 + [2.0] * 4
WORKERS = 2
CACHE_TTL = 60.0
MISS_PENALTY = 0.015
STRATEGIES = ["round_robin", "ring", "least_connections", "two_choices"]


def simpy_model(requests, cluster, kind):
    """The same cluster written the usual SimPy way: a source process, one Resource per node."""
    import simpy

    env = simpy.Environment()
    balancer = make_balancer(kind, cluster, seed=0)
    names = list(balancer.nodes)
    by_pos = {n.name: n for n in cluster}
    resources = [simpy.Resource(env, capacity=by_pos[name].workers) for name in names]
    speed = [by_pos[name].speed for name in names]
    n = len(requests)
    last_seen = [dict() for _ in names]
    latency = np.empty(n)
    times, work, users = requests.time.tolist(), requests.work.tolist(), requests.user.tolist()

    # the dispatch decision through the balancer's public chooser; the SimPy model keeps the load current
    load = Load(balancer.weights.tolist())
    hashes = hash_keys(requests.user) if balancer.uses_key else None
    choose = balancer.chooser(load, hashes, size=n)

    def serve(i, j, service):
        with resources[j].request() as slot:
            yield slot
            yield env.timeout(service)
        load.finished(j)
        latency[i] = env.now - times[i]

    def source():
        for i in range(n):
            yield env.timeout(times[i] - env.now)
            j = choose(i)
            prev = last_seen[j].get(users[i])
            last_seen[j][users[i]] = env.now
            service = work[i] / speed[j] + (0.0 if prev is not None and env.now - prev <= CACHE_TTL else MISS_PENALTY)
            load.started(j)
            env.process(serve(i, j, service))

    env.process(source())
    env.run()
    return latency


def explorer_bench(repeats: int) -> None:
    """Chapter 02's explorer: every update over the default ranges, against the 0.5-s budget."""
    from sparrow_course import balancing, explorers
    from timing import time_explorer

    time_explorer(explorers.Explorer(balancing.explore_cluster, balancing.draw_cluster, balancing.EXPLORER_CONTROLS,
                                     balancing.cluster_summary), repeats, "chapter 02")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--explorer", action="store_true", help="only time the chapter's explorer")
    args = parser.parse_args()
    explorer_bench(args.repeats)
    if args.explorer:
        return

    cluster = make_cluster(SPEEDS, workers=WORKERS)
    capacity = sum(n.capacity for n in cluster)
    rate = 0.5 * capacity / 0.025
    requests = poisson_traffic(rate, args.requests / rate, seed=1, mean_work=0.02, session_requests=6, think_time=15)
    n = len(requests)
    hash_keys(requests.user[:10])  # warm imports and caches before timing
    print(f"scenario: {n} requests, {len(cluster)} nodes (speeds {SPEEDS}, {WORKERS} workers each), "
          f"TTL cache {CACHE_TTL:g} s, miss +{MISS_PENALTY * 1e3:g} ms; medians of {args.repeats} runs")
    print(f"{'strategy':18s} {'engine':7s} {'ours req/s':>11s} {'SimPy req/s':>12s} {'speed-up':>9s}   "
          f"{'p50/p95/p99 ours (ms)':>23s} {'p50/p95/p99 SimPy (ms)':>23s} {'max |diff| ms':>13s} {'same to 1us':>11s}")
    for kind in STRATEGIES:
        ours_t, peer_t = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ours = simulate(requests, cluster, make_balancer(kind, cluster, seed=0), cache_ttl=CACHE_TTL,
                            miss_penalty=MISS_PENALTY)
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            peer = simpy_model(requests, cluster, kind)
            peer_t.append(time.perf_counter() - t0)
        a, b = ours.latency * 1e3, peer * 1e3
        pa, pb = np.percentile(a, [50, 95, 99]), np.percentile(b, [50, 95, 99])
        t_ours, t_peer = statistics.median(ours_t), statistics.median(peer_t)
        print(f"{kind:18s} {ours.engine:7s} {n / t_ours:11,.0f} {n / t_peer:12,.0f} {t_peer / t_ours:8.1f}x   "
              f"{'/'.join(f'{v:.2f}' for v in pa):>23s} {'/'.join(f'{v:.2f}' for v in pb):>23s} "
              f"{np.abs(pa - pb).max():13.2e} {np.mean(np.abs(a - b) < 1e-3):11.4f}")
    print("speed-up = SimPy time / our time on the same scenario; 'same to 1us' = share of requests whose "
          "latency agrees within one microsecond")


if __name__ == "__main__":
    main()
