"""Benchmark: chapter 05's regime maps, the sweeps too long for the notebook, on every evaluated user.

    python benchmarks/bench_tags.py                # both maps, written to benchmarks/results/
    python benchmarks/bench_tags.py --only tfidf   # or --only hierarchy, --only explorer

Two maps over variant catalogues of SparrowLens (``tags.variant_catalogue``: one property of the
catalogue changed, the ratings, users and split the same):

* **TF-IDF against the informativeness of frequent tags**: the 40 generic tags redrawn by the
  generator's law at signal beta (0 = on random movies; the bundled data has 0.8) and at 1x and 3x
  their frequency; per setting TF-IDF minus multi-hot recall@20 (leaves only), paired over users,
  with a 95% bootstrap CI (``tags.tfidf_regime``).
* **The hierarchy's weight against leaf sparsity**: every leaf split into m copies under the same
  parent (m = 1 is the bundled data); per split, recall@20 at each decay and the fixed interior
  decay 0.5 against every decay, paired (``tags.leaf_sparsity_regime``), for TF-IDF and multi-hot.

* **The explorer's speed**: a move of the chapter's explorer (``ScoreCache.explore``: blend the
  cached cosines with popularity, rank, score) against its peer, refitting the channel for that
  setting (``fit_matcher(...).recall`` and ``metrics.per_user_metrics``) on the same 1,000 users;
  medians of a few moves, and the ratio. The target is under 0.5 s a move on two cores.

Each table is printed and written as CSV to ``benchmarks/results/`` (``tags_tfidf_regime.csv``,
``tags_hierarchy_regime.csv``); notebook 05 draws them and re-runs a few of their points live,
asserting that the stored rows still agree with the package. Runs take a few minutes on two cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from sparrow_course import tags
from sparrow_course.datasets import load_movielens

RESULTS = Path(__file__).resolve().parent / "results"
SIGNALS = (0.0, 0.2, 0.4, 0.8, 1.6, 2.4)
FREQUENCIES = (1.0, 3.0)
SPLITS = (1, 2, 4, 8, 16)
DECAYS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("tfidf", "hierarchy", "explorer"), default=None)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    RESULTS.mkdir(exist_ok=True)
    ml = load_movielens()
    exp = tags.prepare_experiment(ml, k=20, seed=args.seed)
    if args.only in (None, "tfidf"):
        start = time.perf_counter()
        table = tags.tfidf_regime(ml, exp, SIGNALS, FREQUENCIES, seed=args.seed, n_boot=args.n_boot)
        print(f"TF-IDF minus multi-hot against the generic tags' signal ({time.perf_counter() - start:.0f} s)")
        print(table.round(4).to_string(index=False))
        table.round(6).to_csv(RESULTS / "tags_tfidf_regime.csv", index=False)
    if args.only in (None, "hierarchy"):
        parts = []
        for weighting in ("tf-idf", "multi-hot"):
            start = time.perf_counter()
            part = tags.leaf_sparsity_regime(ml, exp, SPLITS, DECAYS, weighting=weighting, seed=args.seed,
                                             n_boot=args.n_boot).assign(weighting=weighting)
            print(f"{weighting}: recall@20 by leaf split and decay, interior decay 0.5 against each "
                  f"({time.perf_counter() - start:.0f} s)")
            print(part.round(4).to_string(index=False))
            parts.append(part)
        pd.concat(parts, ignore_index=True).round(6).to_csv(RESULTS / "tags_hierarchy_regime.csv", index=False)
    if args.only in (None, "explorer"):
        explorer_speed(exp, args.seed)
    return 0


def explorer_speed(exp: tags.TagExperiment, seed: int, users: int = 1000, repeats: int = 5) -> None:
    """Median seconds of an explorer move against a refit of the channel for the same setting."""
    from timing import timed  # benchmarks/timing.py: the median of a few runs

    from sparrow_course.metrics import per_user_metrics

    start = time.perf_counter()
    cache = tags.score_cache(exp, DECAYS, max_users=users, seed=seed)
    print(f"explorer cache for {len(cache.users):,} users x {len(DECAYS)} decays built in {time.perf_counter() - start:.1f} s")
    settings = [(0.5, 0.3), (0.75, 0.6), (1.0, 0.9), (0.25, 0.45), (0.0, 0.15)]
    moves = iter(settings * (repeats + 2))
    move, _ = timed(lambda: cache.explore(*next(moves)), repeats=repeats)

    def refit() -> None:
        recs = tags.fit_matcher(exp.catalogue, exp.train, user_ids=cache.users, decay=0.75, blend=0.6).recall(cache.users, exp.k)
        per_user_metrics(recs, exp.truth[exp.truth["userId"].isin(cache.users)], exp.k)

    full, _ = timed(refit, repeats=3)
    print(f"explorer move: median {move:.3f} s; refit of the channel: median {full:.3f} s; "
          f"the move is {full / move:.1f}x faster ({'under' if move < 0.5 else 'OVER'} the 0.5 s target)")


if __name__ == "__main__":
    sys.exit(main())
