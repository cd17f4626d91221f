"""Chapter 06 regime maps: when EGES's attention pays, what the remedies cost in AUC, and the grown id space.

    python benchmarks/bench_eges.py quality   [--shares 0 0.25 0.5 0.75 0.9] [--seeds 2024]   (stored: --seeds 2024 1 7)
    python benchmarks/bench_eges.py clusters  [--counts 3000 1000 300 100 30]
    python benchmarks/bench_eges.py grown     [--copies 256] [--settings ...]
    python benchmarks/bench_eges.py scaling   [--copies 1 4 16 64 256] [--repeats 3]

Each part writes ``benchmarks/results/eges_<part>.csv`` (what notebook 06 reads and
summarises) and prints it. ``quality``: GES and EGES trained to convergence while a share of
movies get wrong side information in every field (``eges.side_quality_sweep``), AUC for all
test pairs and for those of degraded and clean movies. ``clusters``: remedy 2 with k-means
cluster counts from the catalogue's 3,000 down to 30 and with Airbnb-style types
(``eges.cluster_count_sweep``). ``grown``: every movie split into ``--copies`` ids (768,000 at
256): AUC, epochs to converge and time per epoch of end-to-end EGES under Keras Adam,
LazyAdam and Adagrad, beside both remedies and EGES at the catalogue's ids
(``eges.grown_id_space``). ``scaling``: seconds per epoch (median step x steps) of EGES under
Adam and LazyAdam by id count, the time-per-epoch curve and its cost model.

All parts use the chapter's settings (seed 2024, 10,000 walks of length 10, dim 16, at most 10
epochs, converged within 0.002 of the best validation AUC, patience 2). Training runs with one
TensorFlow thread, so the parts can run side by side. Timings are this machine's: read ratios.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sparrow_course import eges, seed_everything  # noqa: E402
from sparrow_course.datasets import load_movielens  # noqa: E402
from sparrow_course.embeddings import random_walks  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _save(table: pd.DataFrame, part: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"eges_{part}.csv"
    tmp = path.with_suffix(".tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(path)                      # never a half-written result
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))


def scaling(ml, copies, repeats, seed):
    side = eges.side_information(ml)
    split = eges.link_prediction_split(eges.experiments._positive_in_catalogue(ml, side), seed=seed)
    walks = random_walks(split.graph, n_walks=10_000, length=10, seed=seed)
    rows = []
    for optimizer in ("adam", "lazy_adam"):
        for c in copies:
            times = []
            for r in range(repeats):
                model = eges.train_eges(walks, side, method="eges", epochs=1, id_copies=c, max_batches=20,
                                        optimizer=optimizer, seed=seed + r)
                times.append(float(model.history["seconds"].iloc[0]))
            rows.append({"optimiser": optimizer, "copies": c, "n_ids": model.n_ids,
                         "parameters": model.n_parameters, "seconds_per_epoch": float(np.median(times))})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("quality", "clusters", "grown", "scaling"))
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 0.9])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2024])
    parser.add_argument("--counts", type=int, nargs="+", default=[3000, 1000, 300, 100, 30])
    parser.add_argument("--copies", type=int, nargs="+", default=None)
    parser.add_argument("--settings", nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    seed = args.seeds[0]
    seed_everything(seed)
    ml = load_movielens()
    if args.part == "quality":
        table = eges.side_quality_sweep(ml, shares=args.shares, seeds=args.seeds)
    elif args.part == "clusters":
        table = eges.cluster_count_sweep(ml, counts=args.counts, seed=seed)
    elif args.part == "grown":
        table = eges.grown_id_space(ml, copies=(args.copies or [256])[0], seed=seed, settings=args.settings)
    else:
        table = scaling(ml, args.copies or [1, 4, 16, 64, 256], args.repeats, seed)
    _save(table, args.part)


if __name__ == "__main__":
    sys.exit(main())
