"""Benchmark: how the Spark pipeline's steps grow with the log, Word2Vec included, against linear growth.

    python benchmarks/bench_spark.py                        # logs 1, 2, 4, 8 and 16x SparrowLens, 1 iteration
    python benchmarks/bench_spark.py --max-iter 10 --repeats 3 --factors 1 4 16

Chapter 08's notebook times the three data-dependent steps (positive sequences, item2vec,
user pooling) on logs 1 and 4 times SparrowLens; this script runs the longer sweep. Each log
is SparrowLens with every user copied ``factor`` times under new ids (``spark.scaled_ratings``),
so the work per record stays comparable while the data grows. The named peer is linear
growth from the smallest log: for each step and size the script prints the median seconds
of ``--repeats`` runs, the ratio to the time linear growth predicts (below 1: fixed costs
still being spread), and the fitted exponent b of time = a * records**b (1 is linear). It
needs PySpark and a Java runtime, like the chapter.
"""
from __future__ import annotations

import argparse
import sys

from sparrow_course import spark as S


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--max-iter", type=int, default=1, help="Word2Vec iterations (SparrowRecSys: 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)
    try:
        spark = S.start_spark(args.master)
    except S.SparkUnavailable as exc:
        print(f"skipped: {exc}")
        return 0
    try:
        ratings = S.read_ratings(spark).cache()
        ratings.count()
        table = S.scaling_experiment(spark, ratings, sorted(set(args.factors)), max_iter=args.max_iter,
                                     repeats=args.repeats)
    finally:
        S.stop_spark(spark)
    smallest = table["records"].min()
    print(f"Spark pipeline steps, {args.master}, Word2Vec {args.max_iter} iteration(s), median of {args.repeats}")
    print(f"{'step':<20}{'records':>12}{'seconds':>10}{'vs linear':>11}")
    for step, rows in table.groupby("step", sort=False):
        base = float(rows.loc[rows["records"] == smallest, "seconds"].iloc[0])
        for _, row in rows.iterrows():
            linear = base * row["records"] / smallest
            print(f"{step:<20}{int(row['records']):>12,}{row['seconds']:>10.2f}{row['seconds'] / linear:>11.2f}")
    print()
    print(S.scaling_exponents(table).round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
