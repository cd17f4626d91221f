"""Benchmark: the all-sizes LRU curve (stack distances, one pass) against looping cachetools.LRUCache over sizes.

    python benchmarks/bench_caching.py            # 1M requests, 20 sizes, median of 3 runs each
    python benchmarks/bench_caching.py --repeats 1
    python benchmarks/bench_caching.py --explorer  # only the chapter's explorer: every update against 0.5 s

The peer is what one would write without stack distances: replay the trace through a
cachetools.LRUCache once per cache size. Both must give identical hit counts at every
size; the script prints the median times, their ratio (target: at least 10x) and
exits non-zero if the curves differ.
"""
from __future__ import annotations

import argparse
import sys

import cachetools
import numpy as np

from sparrow_course import caching, traffic
from timing import timed  # benchmarks/timing.py: the median of a few runs


def cachetools_hits(keys: list[int], size: int) -> int:
    """Hits of a cachetools.LRUCache of ``size`` entries over the trace (the peer, one size per pass)."""
    cache = cachetools.LRUCache(size)
    get = cache.get
    hits = 0
    for key in keys:
        if get(key) is None:
            cache[key] = True
        else:
            hits += 1
    return hits




def explorer_bench(repeats: int) -> None:
    """Chapter 03's explorer on the bundled users: every update over the default ranges, against the 0.5-s budget."""
    from functools import partial

    from sparrow_course import explorers
    from sparrow_course.datasets import load_movielens
    from timing import time_explorer

    compute = partial(caching.explore_cache, users=load_movielens().users)
    time_explorer(explorers.Explorer(compute, caching.draw_cache, caching.EXPLORER_CONTROLS, caching.cache_summary),
                  repeats, "chapter 03")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--alpha", type=float, default=0.8)
    parser.add_argument("--sizes", type=int, default=20, help="number of cache sizes, log-spaced")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--explorer", action="store_true", help="only time the chapter's explorer")
    args = parser.parse_args(argv)
    explorer_bench(args.repeats)
    if args.explorer:
        return 0

    keys = traffic.zipf_trace(args.requests, args.items, args.alpha, seed=args.seed)
    sizes = np.unique(np.geomspace(10, args.items // 2, args.sizes).astype(np.int64))
    key_list = keys.tolist()
    print(f"trace: {args.requests:,} independent requests over {args.items:,} keys, Zipf alpha {args.alpha}; "
          f"{len(sizes)} LRU sizes from {sizes[0]} to {sizes[-1]:,}")

    ours_s, ours = timed(lambda: caching.lru_hit_counts(keys, sizes), args.repeats)
    print(f"stack distances (all sizes, one pass): median {ours_s:.2f} s of {args.repeats}")
    peer_s, peer = timed(lambda: np.array([cachetools_hits(key_list, int(s)) for s in sizes]), args.repeats)
    print(f"cachetools.LRUCache, one pass per size: median {peer_s:.2f} s of {args.repeats}")

    agree = np.array_equal(ours, peer)
    print(f"hit counts identical at all {len(sizes)} sizes: {'yes' if agree else 'NO'}")
    if not agree:
        bad = np.flatnonzero(ours != peer)
        print(f"  differ at sizes {sizes[bad].tolist()}: {ours[bad].tolist()} vs {peer[bad].tolist()}")
    che = caching.che_hit_ratio_curve(traffic.zipf_probabilities(args.items, args.alpha), sizes)
    print(f"largest gap to Che's approximation (cold misses included): {np.abs(ours / len(keys) - che).max():.4f}")
    ratio = peer_s / ours_s
    print(f"speed ratio (cachetools loop / stack distances): {ratio:.1f}x (target >= 10x: "
          f"{'met' if ratio >= 10 else 'NOT met'})")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
