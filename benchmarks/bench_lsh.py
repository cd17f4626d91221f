"""Benchmark: the chapter's LSH index against exact search (faiss IndexFlatL2), IVF and HNSW, at 10k, 100k and 1M items.

    python benchmarks/bench_lsh.py                         # 10k, 100k and 1M items, 1,000 queries, medians of 3
    python benchmarks/bench_lsh.py --sizes 100000 --repeats 5

Every index answers the same top-10 queries on the same seeded, clustered vectors
(``lsh.clustered_vectors``, dimension 32; queries held out from the same clusters), on one
thread (numpy's BLAS through threadpoolctl, faiss through ``omp_set_num_threads(1)``):

* faiss ``IndexFlatL2``: exact search, faiss's optimised float32 flat scan. It is the peer
  of every ratio, and its answers are the ground truth of recall@10;
* numpy brute force (``lsh.exact_top_k``, float64), up to ``--numpy-max`` items;
* ``lsh.LSHIndex``, tuned by ``lsh.tune_index`` on separate tuning queries: for each table
  count, the theory's cheapest (k, w) for recall 0.92, built and measured; the one reaching
  ``--target`` with the fewest candidates wins;
* faiss ``IndexIVFFlat`` (inverted lists: k-means into about sqrt(N) cells, ``nprobe`` of them
  scanned) and faiss ``IndexHNSWFlat`` (a navigable small-world graph, M = 32), each at the
  smallest ``nprobe`` / ``efSearch`` that reaches ``--target`` on the tuning queries.

For each size the script prints queries per second, recall@10 on the test queries, the
speed-up over IndexFlatL2 (a ratio of medians of ``--repeats`` runs), build seconds and
bytes per item; then query time against N for exact search and LSH. The chapter's targets,
at recall@10 >= 0.9 on an idle 2-core machine: LSH at least 3x IndexFlatL2 at 100k items
and 10x at 1M. faiss is a benchmark-only dependency (``pip install -e .[bench]``); without
it only the numpy rows run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from sparrow_course import lsh
from timing import timed  # benchmarks/timing.py: the median of a few runs

TARGETS = {100_000: 3.0, 1_000_000: 10.0}


def tune_faiss(make_search, settings, tune_q, truth, target):
    """The first setting (cheapest first) whose recall@10 on the tuning queries reaches ``target``."""
    for setting in settings:
        _, found = make_search(setting)(tune_q)
        recall = float(lsh.neighbour_recall(found, truth).mean())
        if recall >= target:
            return setting, recall
    return settings[-1], recall


def run_size(n, args, faiss):
    """Build and time every index on ``n`` items; return the table rows and the (exact, LSH) seconds per query."""
    data = lsh.clustered_vectors(n + args.tune + args.queries, args.dim, seed=args.seed)
    items, tune, test = data[:n], data[n:n + args.tune], data[n + args.tune:]
    x32, tune32, test32 = (np.ascontiguousarray(a, dtype=np.float32) for a in (items, tune, test))
    rows = []

    def recall(found, truth):
        return float(lsh.neighbour_recall(found, truth).mean())

    if faiss is not None:
        start = time.perf_counter()
        flat = faiss.IndexFlatL2(args.dim)
        flat.add(x32)
        flat_build = time.perf_counter() - start
        flat_time, (_, truth) = timed(lambda: flat.search(test32, 10), args.repeats)
        _, tune_truth = flat.search(tune32, 10)
        rows.append(("faiss IndexFlatL2 (exact)", "", flat_time, 1.0, flat_build, 4 * args.dim))
    else:
        truth, _ = lsh.exact_top_k(items, test, 10)
        tune_truth = None
        flat_time = None
    if n <= args.numpy_max:
        numpy_time, (found, _) = timed(lambda: lsh.exact_top_k(items, test, 10), args.repeats)
        rows.append(("numpy brute force (float64)", "", numpy_time, recall(found, truth), 0.0, 8 * args.dim))
        exact_time = numpy_time if flat_time is None else flat_time
    else:
        exact_time = flat_time

    index, tried = lsh.tune_index(items, tune, top_k=10, target_recall=args.target, tables=args.tables,
                                  seed=args.seed)
    chosen = tried[tried["chosen"]].iloc[0]
    lsh_time, result = timed(lambda: index.query(test, 10), args.repeats)
    rows.append(("LSHIndex (this chapter)",
                 f"k={index.k}, L={index.n_tables}, w={index.bucket_width:.2f}; examines "
                 f"{result.n_candidates.mean() / n:.2%}", lsh_time, recall(result.indices, truth),
                 float(chosen["build_seconds"]), index.nbytes / n))

    if faiss is not None:
        nlist = int(2 ** round(np.log2(np.sqrt(n))))
        start = time.perf_counter()
        quantizer = faiss.IndexFlatL2(args.dim)
        ivf = faiss.IndexIVFFlat(quantizer, args.dim, nlist)
        rng = np.random.default_rng(args.seed)
        ivf.train(x32[rng.choice(n, size=min(n, 40 * nlist), replace=False)])
        ivf.add(x32)
        ivf_build = time.perf_counter() - start

        def ivf_search(nprobe):
            ivf.nprobe = nprobe
            return lambda q: ivf.search(q, 10)

        nprobe, _ = tune_faiss(ivf_search, [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64], tune32, tune_truth,
                               args.target)
        ivf.nprobe = nprobe
        ivf_time, (_, found) = timed(lambda: ivf.search(test32, 10), args.repeats)
        rows.append(("faiss IndexIVFFlat", f"nlist={nlist}, nprobe={nprobe}", ivf_time, recall(found, truth),
                     ivf_build, 4 * args.dim + 8))

        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(args.dim, 32)
        hnsw.add(x32)
        hnsw_build = time.perf_counter() - start

        def hnsw_search(ef):
            hnsw.hnsw.efSearch = ef
            return lambda q: hnsw.search(q, 10)

        ef, _ = tune_faiss(hnsw_search, [10, 16, 24, 32, 48, 64, 96, 128, 192, 256], tune32, tune_truth,
                           args.target)
        hnsw.hnsw.efSearch = ef
        hnsw_time, (_, found) = timed(lambda: hnsw.search(test32, 10), args.repeats)
        rows.append(("faiss IndexHNSWFlat", f"M=32, efSearch={ef}", hnsw_time, recall(found, truth), hnsw_build,
                     faiss.serialize_index(hnsw).size / n))
    return rows, exact_time, lsh_time, flat_time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                        default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--queries", type=int, default=1000, help="test queries (timed)")
    parser.add_argument("--tune", type=int, default=300, help="tuning queries (separate from the test ones)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.9, help="recall@10 every approximate index must reach")
    parser.add_argument("--tables", type=lambda s: [int(v) for v in s.split(",")], default=[16, 32, 64])
    parser.add_argument("--numpy-max", type=int, default=100_000, help="largest N timed with numpy brute force")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    threadpool_limits(1)
    try:
        import faiss
        faiss.omp_set_num_threads(1)
    except ImportError:
        print("faiss is not installed: only the numpy rows run. Install the peers with `pip install -e .[bench]`.")
        faiss = None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"clustered vectors (lsh.clustered_vectors, dimension {args.dim}, seed {args.seed}); top-10; "
          f"{args.queries:,} test and {args.tune:,} tuning queries; one thread; medians of {args.repeats} runs; "
          f"load average at start {load:.1f} on {os.cpu_count()} cores")
    growth = []
    for n in args.sizes:
        rows, exact_time, lsh_time, flat_time = run_size(n, args, faiss)
        print(f"\n{n:,} items")
        print(f"  {'index':30s} {'setting':42s} {'queries/s':>10s} {'recall@10':>9s} {'vs flat':>8s} "
              f"{'build s':>8s} {'B/item':>7s}")
        for name, setting, seconds, rec, build, per_item in rows:
            ratio = f"{flat_time / seconds:7.2f}x" if flat_time else "       -"
            print(f"  {name:30s} {setting:42s} {args.queries / seconds:10,.0f} {rec:9.3f} {ratio} "
                  f"{build:8.2f} {per_item:7.0f}")
        if flat_time and n in TARGETS:
            ratio = flat_time / lsh_time
            verdict = "met" if ratio >= TARGETS[n] else "NOT met"
            print(f"  target at {n:,}: LSH >= {TARGETS[n]:g}x IndexFlatL2 at recall >= {args.target}: "
                  f"{ratio:.2f}x, {verdict}")
        growth.append((n, exact_time, lsh_time))
    print("\nquery time against N (ms per query; exact = faiss IndexFlatL2 where installed, else numpy):")
    print(f"  {'N':>10s} {'exact':>9s} {'LSH':>9s} {'exact/LSH':>10s}")
    for n, exact_time, lsh_time in growth:
        print(f"  {n:10,d} {1000 * exact_time / args.queries:9.3f} {1000 * lsh_time / args.queries:9.3f} "
              f"{exact_time / lsh_time:9.1f}x")
    if len(growth) >= 2:
        (n0, e0, l0), (n1, e1, l1) = growth[0], growth[-1]
        print(f"  from {n0:,} to {n1:,} items ({n1 / n0:g}x): exact time x{e1 / e0:.1f}, LSH time x{l1 / l0:.1f}")
    explorer_speed(args)
    return 0


def explorer_speed(args) -> None:
    """Seconds per update of chapter 07's explorer (lsh.SettingsExplorer) over its slider ranges, on movie-sized data."""
    data = lsh.clustered_vectors(3000 + 200, 10, n_clusters=30, seed=args.seed)
    explore = lsh.SettingsExplorer(data[:3000], data[3000:], seed=args.seed)
    times = []
    for k in (1, 4, 8):
        for tables in (1, 8, 32):
            for width in (0.1, 0.5, 2.0):
                start = time.perf_counter()
                explore(k=k, n_tables=tables, width=width)
                times.append(time.perf_counter() - start)
    print(f"\nexplorer (lsh.SettingsExplorer, 3,000 x 10 items, 200 queries), seconds per update over "
          f"k in 1-8, L in 1-32, w in 0.1-2: median {np.median(times):.3f}, slowest {max(times):.3f} "
          f"(target: every update under 0.5 s)")


if __name__ == "__main__":
    sys.exit(main())
