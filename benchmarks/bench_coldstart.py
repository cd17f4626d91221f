"""Chapter 04's regime map at full size: how much must registration features say before clusters beat popularity?

    python benchmarks/bench_coldstart.py [--users 6000] [--movies 3000] [--strengths 0 0.4 0.8 1.2 1.6 2.4 3.2]

Generates one SparrowLens variant per strength of the registration features' effects on the taste
segment (the bundled data uses 1.6) and prints, per variant: how often the features predict the
planted segment, recall@20 of k-means clusters (16, all registration features) and of global
popularity for users held out as if new, and their paired difference with its bootstrap 95%
interval; then the weakest strength at which clusters win beyond doubt. The notebook runs the same
sweep on smaller catalogues (3,000 users); this is the full-size, denser version.

    python benchmarks/bench_coldstart.py --items [--min-likes 5 20 50]

instead holds new movies out among those with at least N likes, for each N, and prints the centred
cosine of the averaged guess, of the genre mean and of the ceiling (another trained seed): what
changes when new items are drawn from less-liked movies (the chapter uses 20).
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

from sparrow_course import coldstart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6000)
    parser.add_argument("--movies", type=int, default=3000)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.4, 0.8, 1.2, 1.6, 2.4, 3.2])
    parser.add_argument("--items", action="store_true", help="the item-side sweep over minimum likes instead")
    parser.add_argument("--min-likes", type=int, nargs="+", default=[5, 20, 50])
    args = parser.parse_args()
    start = time.perf_counter()
    if args.items:
        from sparrow_course.datasets import load_movielens

        ml = load_movielens()
        rows = []
        for likes in args.min_likes:
            table = coldstart.item_cold_start(ml, n_items=100, min_positive=likes).table.set_index("method")
            rows.append({"min likes": likes, "neighbours": table.iloc[0]["centred cosine"],
                         "genre mean": table.loc["genre mean", "centred cosine"],
                         "ceiling": table.loc["ceiling: trained, another seed", "centred cosine"],
                         "neighbours / ceiling": table.iloc[0]["centred cosine"]
                         / table.loc["ceiling: trained, another seed", "centred cosine"]})
        print(pd.DataFrame(rows).round(3).to_string(index=False))
        print(f"{time.perf_counter() - start:.0f} s")
        return
    table = coldstart.segment_signal_sweep(args.strengths, n_users=args.users, n_movies=args.movies)
    pd.set_option("display.width", 200)
    print(table.round(4).to_string(index=False))
    clear = table[table["low"] > 0]
    if len(clear):
        print(f"clusters beat popularity beyond doubt from feature strength {clear['feature strength'].min():g} "
              f"(features predict the segment for {clear['segment predicted'].iloc[0]:.1%} of users)")
    else:
        print("clusters never beat popularity beyond doubt in this sweep")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
