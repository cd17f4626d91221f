"""Benchmark: the chapter's LSH index against numpy brute force and faiss (IndexFlatL2, IndexLSH) on 100k x 32 vectors.

    python benchmarks/bench_lsh.py                 # 100k items, 1,000 queries, median of 3 runs each
    python benchmarks/bench_lsh.py --repeats 5 --queries 2000

All four answer the same top-10 queries on the same seeded, clustered vectors
(``lsh.clustered_vectors``, queries held out from the same clusters):

* ``LSHIndex``: the chapter's p-stable index, at the (k, L, w) that ``lsh.choose_parameters``
  picks for recall 0.9 within 10% of the items (or ``--k --tables --width``);
* numpy brute force: ``lsh.exact_top_k`` (one matrix product per chunk, then argpartition),
  the ground truth;
* faiss ``IndexFlatL2``: exact search, faiss's optimised flat scan;
* faiss ``IndexLSH``: sign random projections into ``--bits`` binary codes and a Hamming scan
  (a different LSH: it approximates angles, with no re-ranking by true distance).

Each is timed as the median of ``--repeats`` runs of the whole query batch; the script
prints queries per second, recall@10 against brute force, and the LSH index's ratios to each
peer. faiss is a benchmark-only dependency: ``pip install faiss-cpu`` (in the course's
environment, ``.venv/bin/pip install faiss-cpu``); without it the faiss rows are skipped
with that message. faiss is limited to one thread so the comparison is core for core.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sparrow_course import lsh
from timing import timed  # benchmarks/timing.py: the median of a few runs




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bits", type=int, default=256, help="code length of faiss IndexLSH")
    parser.add_argument("--k", type=int, default=None, help="hash functions per table (default: theory's choice)")
    parser.add_argument("--tables", type=int, default=None)
    parser.add_argument("--width", type=float, default=None)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    data = lsh.clustered_vectors(args.items + args.queries, args.dim, seed=args.seed)
    items, queries = data[:args.items], data[args.items:]
    print(f"data: {args.items:,} items and {args.queries:,} held-out queries, dimension {args.dim}, "
          f"clustered (lsh.clustered_vectors, seed {args.seed}); top-10; median of {args.repeats} runs")

    brute_time, (exact, near) = timed(lambda: lsh.exact_top_k(items, queries, 10), args.repeats)
    if None in (args.k, args.tables, args.width):
        rng = np.random.default_rng(args.seed)
        sample = rng.integers(0, args.items, size=(min(args.queries, 200), 20))
        far = np.linalg.norm(items[sample] - queries[:sample.shape[0], None, :], axis=2)
        choice = lsh.choose_parameters(near[:sample.shape[0]].ravel(), far.ravel(), target_recall=0.9,
                                       max_candidate_share=0.1)
        k, tables, width = choice.k, choice.n_tables, choice.width
        print(f"LSH setting from lsh.choose_parameters: k={k}, L={tables}, w={width:.3f} "
              f"(predicted recall {choice.predicted_recall:.3f}, candidates {choice.predicted_candidate_share:.2%})")
    else:
        k, tables, width = args.k, args.tables, args.width
    build_time, index = timed(lambda: lsh.LSHIndex(k, tables, width, seed=args.seed).fit(items), args.repeats)
    lsh_time, result = timed(lambda: index.query(queries, 10), args.repeats)

    rows = [("numpy brute force (lsh.exact_top_k)", brute_time, 1.0, "")]
    rows.append(("LSHIndex (this chapter)", lsh_time, float(lsh.neighbour_recall(result.indices, exact).mean()),
                 f"examines {result.n_candidates.mean() / args.items:.2%} of items; build {build_time:.2f} s"))
    try:
        import faiss
    except ImportError:
        print("faiss is not installed: the faiss rows are skipped. Install it with `pip install faiss-cpu` "
              "(in the course's environment: `.venv/bin/pip install faiss-cpu`).")
        faiss = None
    if faiss is not None:
        faiss.omp_set_num_threads(1)
        x32, q32 = np.ascontiguousarray(items, dtype=np.float32), np.ascontiguousarray(queries, dtype=np.float32)
        flat = faiss.IndexFlatL2(args.dim)
        flat.add(x32)
        flat_time, (_, flat_idx) = timed(lambda: flat.search(q32, 10), args.repeats)
        rows.append(("faiss IndexFlatL2 (exact)", flat_time, float(lsh.neighbour_recall(flat_idx, exact).mean()),
                     "float32, one thread"))
        hashed = faiss.IndexLSH(args.dim, args.bits)
        hashed.add(x32)
        hashed_time, (_, hashed_idx) = timed(lambda: hashed.search(q32, 10), args.repeats)
        rows.append((f"faiss IndexLSH ({args.bits} bits)", hashed_time,
                     float(lsh.neighbour_recall(hashed_idx, exact).mean()), "Hamming scan, no re-ranking"))

    print(f"\n{'method':40s} {'queries/s':>11s} {'recall@10':>10s}  note")
    for name, seconds, recall, note in rows:
        print(f"{name:40s} {args.queries / seconds:11,.0f} {recall:10.3f}  {note}")
    print("\nLSHIndex against each peer (queries per second ratio; > 1 means the LSH index is faster):")
    for name, seconds, recall, _ in rows:
        if name.startswith("LSHIndex"):
            continue
        print(f"  vs {name:38s} {seconds / lsh_time:6.2f}x   (recall {rows[1][2]:.3f} vs {recall:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
