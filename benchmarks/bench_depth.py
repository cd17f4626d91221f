"""Chapter 01 benchmark: the depth module's training loop against Keras' own ``model.fit``.

    python benchmarks/bench_depth.py [--users 2000] [--repeats 3]

Both train the same Keras model (``depth.build_model``) on the same samples for the same
fixed number of epochs, with a validation loss after every epoch (``fit``: its
``validation_data``). Reported per depth, as medians over repeats: seconds for a model of
a new architecture (graph tracing included), seconds for a further run of that
architecture (``fit_model(reuse=...)``; ``fit`` on an already-trained model), the
speed-ups, and the one a sweep sees: a new ``fit`` per run against the loop reusing its
traced step. The loop's times include what ``fit_model`` does besides training (a fresh
seeded twin for the weights, train/valid/test AUC); ``fit``'s do not. Both test AUCs are
shown (different shuffling, so close but not equal). The notebook trains about 60 models.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from sparrow_course import depth, seed_everything
from sparrow_course.datasets import load_movielens
from sparrow_course.metrics import auc

EPOCHS = 4
OPTIONS = dict(width=32, embedding_dim=8, batch_size=4096, learning_rate=3e-3)


def with_keras_fit(data: depth.DepthData, d: int, model=None) -> tuple[float, float, object]:
    """Seconds and test AUC of ``model.fit`` for EPOCHS epochs (a new model when none is given)."""
    seed_everything(0)
    start = time.perf_counter()
    if model is None:
        model = depth.build_model(data, d, width=OPTIONS["width"], embedding_dim=OPTIONS["embedding_dim"],
                                  learning_rate=OPTIONS["learning_rate"])
    model.fit(data.train.inputs, data.train.labels, batch_size=OPTIONS["batch_size"], epochs=EPOCHS, shuffle=True,
              validation_data=(data.valid.inputs, data.valid.labels), verbose=0)
    seconds = time.perf_counter() - start
    return seconds, auc(data.test.labels, depth.predict(model, data.test)), model


def with_fit_model(data: depth.DepthData, d: int, reuse=None) -> tuple[float, float, object]:
    """Seconds and test AUC of ``depth.fit_model`` for EPOCHS epochs (no early stop: patience = EPOCHS)."""
    start = time.perf_counter()
    row, model = depth.fit_model(data, d, seed=0, epochs=EPOCHS, patience=EPOCHS, reuse=reuse, **OPTIONS)
    return time.perf_counter() - start, row["test_auc"], model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000, help="users sampled from SparrowLens (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are printed")
    args = parser.parse_args()
    ml = load_movielens()
    data = depth.build_features(depth.sample_users(ml.ratings, args.users, seed=2024), ml.movies)
    print(f"{len(data.train):,} training samples, {EPOCHS} epochs, batch {OPTIONS['batch_size']}, "
          f"medians of {args.repeats} runs\n")
    print(f"{'depth':>5} | {'new model: fit':>15} {'loop':>7} {'speed-up':>8} | {'again: fit':>11} {'loop':>7} "
          f"{'speed-up':>8} | {'sweep':>6} | {'AUC fit':>7} {'AUC loop':>8}")
    for d in (0, 3, 6):
        cold = {"fit": [], "loop": []}
        warm = {"fit": [], "loop": []}
        aucs = {"fit": [], "loop": []}
        for _ in range(args.repeats):
            s, a, keras_model = with_keras_fit(data, d)
            cold["fit"].append(s)
            aucs["fit"].append(a)
            warm["fit"].append(with_keras_fit(data, d, model=keras_model)[0])
            s, a, loop_model = with_fit_model(data, d)
            cold["loop"].append(s)
            aucs["loop"].append(a)
            warm["loop"].append(with_fit_model(data, d, reuse=loop_model)[0])
        c = {k: statistics.median(v) for k, v in cold.items()}
        w = {k: statistics.median(v) for k, v in warm.items()}
        print(f"{d:>5} | {c['fit']:>13.2f} s {c['loop']:>5.2f} s {c['fit'] / c['loop']:>7.1f}x | "
              f"{w['fit']:>9.2f} s {w['loop']:>5.2f} s {w['fit'] / w['loop']:>7.1f}x | "
              f"{c['fit'] / w['loop']:>5.1f}x | {np.median(aucs['fit']):>7.3f} {np.median(aucs['loop']):>8.3f}")


if __name__ == "__main__":
    main()
