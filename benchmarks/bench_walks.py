"""Chapter 06 benchmark: the vectorised walker against a plain Python walker, and EGES's remedies against end to end.

    python benchmarks/bench_walks.py [--walks 20000] [--repeats 3] [--copies 1 64 256] [--seeds 2024 1 2]

Part 1 draws the same number of weighted random walks of length 10 over SparrowLens's item
graph two ways: ``embeddings.random_walks`` (every walk advanced at once by a binary search
in the cumulative weights of the CSR rows) and the peer, a plain Python walker that draws each
step with ``random.choices`` over the row's weights. It prints walks per second of each
(medians of the repeats), the speed-up, and how closely their first-step transition
frequencies agree (both sample the same distribution: the largest absolute difference of
the per-edge step shares).

Part 2 times one epoch (median step x steps, median of the repeats) of end-to-end EGES,
remedy 1 (pretrained DeepWalk inputs) and remedy 2 (300 k-means cluster ids) on the
catalogue's 3,000 ids and on id spaces grown by splitting each movie into ``--copies`` ids,
and prints each remedy's speed-up over EGES at each size. Part 3 (``--seeds``) repeats the
chapter's link-prediction comparison on several seeds and prints the AUC of every method
overall, on the long tail and on cold items, per seed, with each remedy's AUC change against
EGES, with each model's epochs to converge and total training time to them, and part 4 the
recall@20 of the chapter's user-level recall channel (EGES and DeepWalk vectors, alone and
blended with popularity, against popularity) per seed.
"""
from __future__ import annotations

import argparse
import random

import numpy as np

from sparrow_course import eges, seed_everything
from sparrow_course.datasets import load_movielens
from sparrow_course.embeddings import positive_sequences, random_walks, train_item2vec, transition_graph
from timing import timed  # benchmarks/timing.py: the median of a few runs


def python_walks(graph, n_walks: int, length: int, seed: int) -> list[list[int]]:
    """The peer: one walk at a time, one step at a time, random.choices over the row's weights."""
    rnd = random.Random(seed)
    m = graph.matrix
    rows = [(m.indices[m.indptr[i]:m.indptr[i + 1]].tolist(), m.data[m.indptr[i]:m.indptr[i + 1]].tolist())
            for i in range(graph.n_nodes)]
    out_weight = [sum(w) for _, w in rows]
    alive = [i for i in range(graph.n_nodes) if out_weight[i] > 0]
    start_w = [out_weight[i] for i in alive]
    walks = []
    for _ in range(n_walks):
        node = rnd.choices(alive, weights=start_w)[0]
        walk = [node]
        for _ in range(length - 1):
            targets, weights = rows[node]
            if not targets:
                break
            node = rnd.choices(targets, weights=weights)[0]
            walk.append(node)
        walks.append([int(graph.ids[v]) for v in walk])
    return walks


def step_shares(pairs: np.ndarray) -> dict[tuple[int, int], float]:
    a, counts = np.unique(pairs, axis=0, return_counts=True)
    return {tuple(p): c / counts.sum() for p, c in zip(a.tolist(), counts)}




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walks", type=int, default=20_000, help="walks per run (default 20000, as SparrowRecSys)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are printed")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 64, 256], help="ids per movie in part 2")
    parser.add_argument("--seeds", type=int, nargs="*", default=[2024, 1, 2], help="seeds of part 3 (none: skip)")
    args = parser.parse_args()
    seed_everything(2024)
    ml = load_movielens()
    sequences = positive_sequences(ml.ratings)
    graph = transition_graph(sequences)

    # part 1: walkers
    t_vec, walks = timed(lambda: random_walks(graph, n_walks=args.walks, length=10, seed=1), args.repeats)
    t_py, py = timed(lambda: python_walks(graph, args.walks, 10, seed=1), args.repeats)
    vec_steps = np.stack([walks[:, 0], walks[:, 1]], axis=1)
    vec_steps = vec_steps[(vec_steps >= 0).all(axis=1)]
    py_steps = np.array([w[:2] for w in py if len(w) > 1])
    a, b = step_shares(vec_steps), step_shares(py_steps)
    diff = max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))
    print(f"Part 1: {args.walks:,} walks of length 10 over {graph.n_nodes:,} movies and {graph.n_edges:,} edges, "
          f"medians of {args.repeats} runs")
    print(f"  vectorised walker: {args.walks / t_vec:12,.0f} walks/s")
    print(f"  Python walker:     {args.walks / t_py:12,.0f} walks/s")
    print(f"  speed-up: {t_py / t_vec:.1f}x; largest difference in first-step edge shares: {diff:.5f}\n")

    # part 2: time per epoch of EGES and the remedies
    side = eges.side_information(ml)
    train_walks = random_walks(graph, n_walks=10_000, length=10, seed=1)
    pretrained = train_item2vec(train_walks, dim=16, window=2, epochs=5, seed=1)
    clusters = eges.cluster_items(side, 300, pretrained=pretrained, seed=1)
    print(f"Part 2: seconds per epoch (median step x steps, medians of {args.repeats} runs), "
          f"{len(eges.skipgram_pairs(train_walks)):,} training pairs")
    print(f"  {'ids':>9} | {'EGES':>7} | {'remedy 1':>8} {'speed-up':>8} | {'remedy 2':>8} {'speed-up':>8}")
    remedy = {m: eges.epoch_time_by_id_count(train_walks, side, copies=(1,), methods=(m,), pretrained=pretrained,
                                             clusters=clusters, repeats=args.repeats, max_batches=40)
              ["seconds_per_epoch"].iloc[0] for m in ("pretrained", "clustered")}
    for c in args.copies:
        e = eges.epoch_time_by_id_count(train_walks, side, copies=(c,), repeats=args.repeats,
                                        max_batches=40)["seconds_per_epoch"].iloc[0]
        print(f"  {len(side) * c:>9,} | {e:7.2f} | {remedy['pretrained']:8.2f} {e / remedy['pretrained']:7.1f}x | "
              f"{remedy['clustered']:8.2f} {e / remedy['clustered']:7.1f}x")
    print("  (the remedies have no id-sized table: their time does not depend on the ids)\n")

    # part 3: AUC across seeds
    if args.seeds:
        results, _ = eges.compare_methods(ml, seeds=tuple(args.seeds), n_walks=10_000)
        table = results.pivot_table(index=["method", "seed"], columns="subset", values="auc")
        print("Part 3: link-prediction AUC per seed")
        print(table[["overall", "long tail", "cold"]].round(3).to_string())
        for seed in args.seeds:
            per = results[(results["seed"] == seed) & (results["subset"] == "overall")].set_index("method")["auc"]
            print(f"  seed {seed}: remedy 1 {per['remedy 1: pretrained'] - per['EGES']:+.3f}, "
                  f"remedy 2 {per['remedy 2: clustered'] - per['EGES']:+.3f} AUC against EGES; "
                  f"EGES {per['EGES'] - per['BGE (DeepWalk)']:+.3f} against BGE")
        cost = results[results["subset"] == "overall"].dropna(subset=["epochs_to_converge"])
        print("  epochs to converge (validation slice of the training graph) and total training seconds to them:")
        print(cost.pivot_table(index="method", columns="seed", values=["epochs_to_converge", "total_seconds"])
              .round(2).to_string())
        for seed in args.seeds:
            table = eges.remedies(results[results["seed"] == seed]).set_index("method")
            print(f"  seed {seed}: to convergence, remedy 1 {table.loc['remedy 1: pretrained', 'speed-up in total vs EGES']:.1f}x, "
                  f"remedy 2 {table.loc['remedy 2: clustered', 'speed-up in total vs EGES']:.1f}x as fast as EGES")
        # part 4: the user-level recall channel across seeds (the bounds of the notebook's recall claims)
        print("\nPart 4: recall@20 of the recall channel on held-out likes, per seed")
        for seed in args.seeds:
            recall_table, _ = eges.recall_experiment(ml, seed=seed)
            print(f"  seed {seed}: " + ", ".join(f"{c} {v:.3f}" for c, v in
                                                zip(recall_table["channel"], recall_table["recall@20"])))


if __name__ == "__main__":
    main()
