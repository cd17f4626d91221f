"""Chapter 01 benchmark: the depth module's training loop against Keras' own ``model.fit``; the regime sweeps.

    python benchmarks/bench_depth.py [--steps 300] [--seeds 4] [--repeats 3]
    python benchmarks/bench_depth.py regimes [--only convergence din fm]   # rewrites benchmarks/results/depth/

``regimes`` runs the sweeps too long for notebook 01 and stores their tidy results, which the
notebook reads (``depth.read_regime``): the convergence regime (steps to converge and failures
against depth, per training set-up: ``convergence_runs.csv``, ``convergence_curves.csv``) and
the structures' regime maps (DIN against the sequence effect and history length, ``din_regime.csv``;
the FM term against the strength of the feature crosses, ``fm_regime.csv``). Every setting is
in ``REGIMES`` below and in ``settings.json`` next to the results; a run takes about half an
hour on two busy cores.

Peer: ``model.fit`` on the same Keras model (``structures.build_model``, one replica), the
same planted task, batch size, learning rate and number of gradient steps (``fit`` runs
whole epochs: its step count is rounded up to full epochs and reported). Measured per depth,
medians over repeats:

* one seed: ``depth.train(seeds=(0,))`` against one ``fit`` (both include model building and
  graph tracing; ``train`` also logs train/validation loss every ``eval_every`` steps and
  computes three AUCs, ``fit`` only its validation loss once per epoch);
* a sweep's seeds: ``depth.train(seeds=range(S))`` (S replicas in one batched graph) against
  S separate ``fit`` runs, which is what a sweep would otherwise cost.

Both test AUCs are printed (different batch orders, so close but not equal).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from sparrow_course import depth, seed_everything, structures
from sparrow_course.metrics import auc

OPTIONS = dict(batch_size=1024, learning_rate=1e-2)


def with_keras_fit(task: depth.DepthData, d: int, steps: int, seed: int) -> tuple[float, float]:
    """Seconds and test AUC of ``model.fit`` for at least ``steps`` steps (whole epochs)."""
    seed_everything(seed)  # imports TensorFlow quietly (seeding.import_tensorflow) before Keras
    import keras

    start = time.perf_counter()
    model = structures.build_model(task.spec, d, seeds=(seed,))
    model.compile(optimizer=keras.optimizers.Adam(OPTIONS["learning_rate"]),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    per_epoch = int(np.ceil(len(task.train) / OPTIONS["batch_size"]))
    x = {k: v[:, None] for k, v in task.train.inputs.items()}
    xv = {k: v[:, None] for k, v in task.valid.inputs.items()}
    model.fit(x, task.train.labels[:, None], batch_size=OPTIONS["batch_size"], epochs=int(np.ceil(steps / per_epoch)),
              shuffle=True, validation_data=(xv, task.valid.labels[:, None]), verbose=0)
    seconds = time.perf_counter() - start
    scores = model.predict({k: v[:, None] for k, v in task.test.inputs.items()}, batch_size=8192, verbose=0)
    return seconds, auc(task.test.labels, scores[:, 0])


def with_train(task: depth.DepthData, d: int, steps: int, seeds) -> tuple[float, float]:
    """Seconds and mean test AUC of ``depth.train`` (the chapter's loop) for ``steps`` steps."""
    start = time.perf_counter()
    run = depth.train(task, d, seeds=seeds, steps=steps, eval_every=25, **OPTIONS)
    return time.perf_counter() - start, float(run.results["test_auc"].mean())


#: the settings of the stored regime results (notebook 01 reads them; change them here, then rerun)
REGIMES = {
    "convergence": dict(depths=[1, 2, 4, 8, 16], seeds=list(range(8)), share=0.25,
                        training=dict(steps=400, batch_size=1024, eval_every=25)),
    "din": dict(task=dict(n_train=80_000, focus=0.0), seeds=[0, 1, 2, 3],
                grid=dict(sequence_scale=[0.0, 1.0, 2.0, 4.0], history_length=[10, 30, 50]),
                training=dict(steps=400, batch_size=1024, learning_rate=1e-2, eval_every=25)),
    "fm": dict(task=dict(n_train=20_000), seeds=list(range(8)), grid=dict(interaction_scale=[0.0, 0.25, 0.5, 1.0, 2.0]),
               training=dict(steps=300, batch_size=1024, learning_rate=1e-2, eval_every=25)),
}


def _grid(grid: dict) -> list[dict]:
    keys = list(grid)
    settings = [{}]
    for key in keys:
        settings = [{**s, key: v} for s in settings for v in grid[key]]
    return settings


def regimes(only: list[str]) -> None:
    """Run the regime sweeps named in ``only`` and write their results where ``depth.read_regime`` finds them."""
    out = depth.REGIME_RESULTS
    out.mkdir(parents=True, exist_ok=True)
    settings_file = out / "settings.json"
    stored = json.loads(settings_file.read_text()) if settings_file.exists() else {}
    for name in only:
        start = time.perf_counter()
        spec = REGIMES[name]
        if name == "convergence":
            runs, curves = depth.convergence_sweep(depth.make_click_task(), spec["depths"], spec["seeds"],
                                                   share=spec["share"], **spec["training"])
            _write(out / "convergence_runs.csv", runs)
            _write(out / "convergence_curves.csv", curves)
            print(depth.convergence_table(runs).round(3).to_string())
        else:
            rows = depth.structure_regime(name, _grid(spec["grid"]), spec["seeds"], task=spec["task"],
                                          **spec["training"])
            _write(out / f"{name}_regime.csv", rows)
            print(depth.regime_summary(rows, list(spec["grid"])).round(4).to_string())
        stored[name] = spec
        settings_file.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {time.perf_counter() - start:.0f} s\n", flush=True)


def _write(path, frame) -> None:
    """Write ``frame`` as CSV through a temporary file, so a stopped run leaves no half-written result."""
    tmp = path.with_suffix(".tmp")
    frame.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(path)


def main() -> None:
    import sys

    if sys.argv[1:2] == ["regimes"]:
        parser = argparse.ArgumentParser(description="the regime sweeps of chapter 01, stored for the notebook")
        parser.add_argument("--only", nargs="+", choices=list(REGIMES), default=list(REGIMES))
        regimes(parser.parse_args(sys.argv[2:]).only)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="gradient steps per model (default 300)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds of a sweep (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are printed")
    args = parser.parse_args()
    task = depth.make_click_task()
    per_epoch = int(np.ceil(len(task.train) / OPTIONS["batch_size"]))
    fit_steps = int(np.ceil(args.steps / per_epoch)) * per_epoch
    print(f"planted task, {len(task.train):,} training rows, batch {OPTIONS['batch_size']}: loop {args.steps} steps, "
          f"fit {fit_steps} steps (whole epochs); medians of {args.repeats} runs\n")
    print(f"{'depth':>5} | {'one seed: fit':>13} {'loop':>7} {'speed-up':>8} | {f'{args.seeds} seeds: fit':>14} "
          f"{'loop':>7} {'speed-up':>8} | {'AUC fit':>7} {'AUC loop':>8}")
    for d in (0, 2, 4):
        one = {"fit": [], "loop": []}
        many = {"fit": [], "loop": []}
        aucs = {"fit": [], "loop": []}
        for _ in range(args.repeats):
            s, a = with_keras_fit(task, d, args.steps, seed=0)
            one["fit"].append(s)
            aucs["fit"].append(a)
            s, a = with_train(task, d, args.steps, seeds=(0,))
            one["loop"].append(s)
            aucs["loop"].append(a)
            many["fit"].append(sum(with_keras_fit(task, d, args.steps, seed=k)[0] for k in range(args.seeds)))
            many["loop"].append(with_train(task, d, args.steps, seeds=tuple(range(args.seeds)))[0])
        o = {k: statistics.median(v) for k, v in one.items()}
        m = {k: statistics.median(v) for k, v in many.items()}
        print(f"{d:>5} | {o['fit']:>11.2f} s {o['loop']:>5.2f} s {o['fit'] / o['loop']:>7.1f}x | "
              f"{m['fit']:>12.2f} s {m['loop']:>5.2f} s {m['fit'] / m['loop']:>7.1f}x | "
              f"{np.median(aucs['fit']):>7.3f} {np.median(aucs['loop']):>8.3f}")


if __name__ == "__main__":
    main()
