"""Chapter 06's experiments, one table each: the methods side by side, the remedies, why EGES slows, walks against sequences."""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..checks import (check_choice, check_dataset, check_fraction, check_frame, check_int,
                      check_seed)
from ..datasets import MovieLens, POSITIVE_THRESHOLD
from ..embeddings import ItemVectors, _as_sequences, deepwalk, random_walks, transition_graph
from ..seeding import DEFAULT_SEED
from .link_prediction import LinkSplit, link_prediction_auc, link_prediction_split
from .model import EGESModel, SideInformation, cluster_items, degrade_side_information, side_information, train_eges

__all__ = ["compare_methods", "remedies", "attention_by_popularity", "epoch_time_by_id_count", "neighbour_agreement", "planted_subgenre", "sequences_against_walks",
           "side_mean_for_cold", "side_quality_sweep", "cluster_count_sweep", "grown_id_space"]


# ---------------------------------------------------------------------------
# The chapter's experiments, one table each
# ---------------------------------------------------------------------------


def _walks_and_pretrained(split: LinkSplit, n_walks: int, length: int, seed: int,
                          w2v_epochs: int) -> tuple[np.ndarray, ItemVectors]:
    walks = random_walks(split.graph, n_walks=n_walks, length=length, seed=seed)
    bge = deepwalk(split.graph, n_walks=n_walks, length=length, seed=seed, dim=16, window=2, epochs=w2v_epochs)
    return walks, bge


def compare_methods(ml: MovieLens, *, seeds: Sequence[int] = (DEFAULT_SEED,), n_walks: int = 20_000,
                    length: int = 10, dim: int = 16, max_epochs: int = 10, w2v_epochs: int = 5, n_clusters: int = 300,
                    holdout: float = 1 / 3, cold_share: float = 0.05, validation_share: float = 0.1,
                    tolerance: float = 0.002, patience: int = 2, side: SideInformation | None = None
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """BGE (DeepWalk), GES, EGES and both remedies on one link-prediction split per seed, each trained to convergence.

    A validation slice (``validation_share`` of the training graph's edges, no cold items) is
    carved from the training graph; walks, DeepWalk and clusters see only the rest. Each
    EGES-family model trains up to ``max_epochs``, stops ``patience`` epochs after its
    validation AUC last came within ``tolerance`` of its best, and keeps the weights of its
    converged epoch (:func:`epochs_to_converge`); the test edges are scored once, at that epoch.
    Returns a long table (seed, method, subset, auc, pairs, seconds_per_epoch, epochs_to_converge,
    epochs_trained, total_seconds, preparation_seconds, validation_auc, n_ids, parameters) and the
    last seed's fitted state (split, validation split, models, pretrained vectors, clusters).
    ``total_seconds`` sums the per-epoch seconds up to the converged epoch; ``preparation_seconds``
    is what a method needs before its first epoch: the DeepWalk pretraining for remedy 1, that
    and k-means for remedy 2 (wall clock), none for the others.
    """
    if isinstance(seeds, (int, np.integer)):
        seeds = (seeds,)
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    max_epochs = check_int(max_epochs, "max_epochs", low=1, high=1000)
    validation_share = check_fraction(validation_share, "validation_share", include_low=False, include_high=False)
    side = side_information(ml) if side is None else side
    sequences = _positive_in_catalogue(ml, side)
    rows, state = [], {}
    for seed in seeds:
        split = link_prediction_split(sequences, holdout=holdout, cold_share=cold_share, seed=seed)
        validation = link_prediction_split(sequences, holdout=validation_share, cold_share=0.0, seed=seed + 1,
                                           exclude_edges=split.excluded)
        start = time.perf_counter()
        walks, bge = _walks_and_pretrained(validation, n_walks, length, seed, w2v_epochs)
        pretraining = time.perf_counter() - start
        start = time.perf_counter()
        clusters = cluster_items(side, min(n_clusters, len(side)), pretrained=bge, seed=seed)
        clustering = time.perf_counter() - start
        preparation = {"pretrained": pretraining, "clustered": pretraining + clustering}
        models: dict[str, Any] = {"BGE (DeepWalk)": bge}
        for label, method in (("GES", "ges"), ("EGES", "eges"), ("remedy 1: pretrained", "pretrained"),
                              ("remedy 2: clustered", "clustered")):
            models[label] = train_eges(walks, side, method=method, dim=dim, epochs=max_epochs, pretrained=bge,
                                       clusters=clusters, validation=validation, tolerance=tolerance,
                                       patience=patience, seed=seed)
        for label, model in models.items():
            res = link_prediction_auc(model, split)
            is_eges = isinstance(model, EGESModel)
            res.insert(0, "method", label)
            res.insert(0, "seed", seed)
            res["seconds_per_epoch"] = float(model.history["seconds"].median()) if is_eges else np.nan
            res["epochs_to_converge"] = model.converged_epoch if is_eges else np.nan
            res["epochs_trained"] = len(model.history) if is_eges else np.nan
            res["total_seconds"] = model.total_seconds if is_eges else np.nan
            res["preparation_seconds"] = preparation.get(model.method, 0.0) if is_eges else np.nan
            res["validation_auc"] = (float(model.history["validation_auc"].iloc[model.converged_epoch - 1])
                                     if is_eges else link_prediction_auc(model, validation)["auc"].iloc[0])
            res["n_ids"] = model.n_ids if is_eges else len(model)
            res["parameters"] = model.n_parameters if is_eges else int(model.vectors.size * 2)
            rows.append(res)
        state = {"split": split, "validation": validation, "models": models, "clusters": clusters, "walks": walks,
                 "side": side}
    return pd.concat(rows, ignore_index=True), state


def _positive_in_catalogue(ml: MovieLens, side: SideInformation) -> pd.Series:
    from ..embeddings import positive_sequences

    seqs = positive_sequences(ml.ratings, threshold=POSITIVE_THRESHOLD)
    side.rows(np.unique(np.concatenate(seqs.to_numpy())))   # every rated movie needs side information
    return seqs


def attention_by_popularity(model: EGESModel, popularity: pd.Series, *, groups: int = 4) -> pd.DataFrame:
    """Mean attention weight of each source (id, fields) by popularity quartile of the trained movies."""
    if not isinstance(model, EGESModel):
        raise TypeError(f"model must be an EGESModel, got {type(model).__name__}")
    groups = check_int(groups, "groups", low=1, high=20)
    ids = model.trained_ids
    weights = model.attention(ids)
    pop = popularity.reindex(ids).fillna(0).to_numpy()
    ranks = pd.Series(pop).rank(method="first").to_numpy()
    weights["popularity group"] = np.minimum((ranks - 1) * groups // len(ids), groups - 1).astype(int) + 1
    weights["positives (median)"] = pop
    out = weights.drop(columns="movieId").groupby("popularity group").agg(
        {**{c: "mean" for c in weights.columns if c not in ("movieId", "popularity group", "positives (median)")},
         "positives (median)": "median"})
    return out.reset_index()


def epoch_time_by_id_count(walks: np.ndarray, side: SideInformation, *, copies: Sequence[int] = (1, 4, 16, 64),
                           methods: Sequence[str] = ("eges",), pretrained: ItemVectors | None = None,
                           clusters: np.ndarray | None = None, dim: int = 16, batch_size: int = 2048,
                           max_batches: int = 20, repeats: int = 1, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Seconds per epoch (median step of ``max_batches`` steps x steps per epoch, median of ``repeats``) by id count.

    Every item is split into ``c`` ids (each occurrence picks one at random): the training
    pairs are the same, only the id space grows. Remedy 1 and 2 have no id-sized table, so
    their time stays flat while end-to-end EGES grows with the id count.
    """
    repeats = check_int(repeats, "repeats", low=1, high=20)
    rows = []
    for c in copies:
        c = check_int(c, "copies", low=1, high=100_000)
        for method in methods:
            times = []
            for r in range(repeats):
                model = train_eges(walks, side, method=method, dim=dim, epochs=1, batch_size=batch_size,
                                   pretrained=pretrained, clusters=clusters, id_copies=c, max_batches=max_batches,
                                   seed=seed + r)
                times.append(float(model.history["seconds"].iloc[0]))
            rows.append({"method": method, "copies": c, "n_ids": model.n_ids if method != "pretrained" else 0,
                         "id space": len(side) * c, "parameters": model.n_parameters,
                         "seconds_per_epoch": float(np.median(times))})
    return pd.DataFrame(rows)


def remedies(results: pd.DataFrame) -> pd.DataFrame:
    """One row per EGES variant: AUC by subset, time per epoch, epochs to converge, total time, ids, ratios to EGES.

    AUC and epochs are means over seeds, times medians. ``id vocabulary reduction`` is the
    catalogue's movies over the method's trainable ids (clustering's reduction factor; NaN
    for remedy 1, which has no id table). Speed-ups divide EGES's time by the method's:
    per epoch, and in total training time to the converged epoch.
    """
    check_frame(results, ["method", "subset", "auc", "seconds_per_epoch", "epochs_to_converge", "total_seconds",
                          "preparation_seconds", "n_ids", "parameters"], "results", allow_empty=False)
    eges_rows = results[results["method"] != "BGE (DeepWalk)"]
    if "EGES" not in set(eges_rows["method"]):
        raise ValueError("results has no EGES rows to compare against; pass the table of compare_methods")
    wide = eges_rows.pivot_table(index="method", columns="subset", values="auc", aggfunc="mean")
    cost = eges_rows.groupby("method").agg(seconds_per_epoch=("seconds_per_epoch", "median"),
                                           epochs_to_converge=("epochs_to_converge", "mean"),
                                           total_seconds=("total_seconds", "median"),
                                           preparation_seconds=("preparation_seconds", "median"),
                                           n_ids=("n_ids", "first"), parameters=("parameters", "first"))
    out = wide.join(cost)
    n_movies = eges_rows.loc[eges_rows["method"] == "EGES", "n_ids"].iloc[0]
    out["id vocabulary reduction"] = np.where(out["n_ids"] > 0, n_movies / out["n_ids"].clip(lower=1), np.nan)
    base = out.loc["EGES"]
    out["speed-up per epoch vs EGES"] = base["seconds_per_epoch"] / out["seconds_per_epoch"]
    out["speed-up in total vs EGES"] = base["total_seconds"] / out["total_seconds"]
    out["AUC change vs EGES"] = out["overall"] - base["overall"]
    return out.reset_index()


def _check_item_parent(item_parent: Any) -> pd.Series:
    if not isinstance(item_parent, pd.Series):
        raise TypeError(f"item_parent must be a pandas Series of sub-genres indexed by movieId (from "
                        f"eges.planted_subgenre(ml)), got {type(item_parent).__name__}")
    if item_parent.index.dtype.kind not in "iu":
        raise TypeError(f"item_parent must be indexed by integer movie ids, got index dtype {item_parent.index.dtype}")
    return item_parent


def neighbour_agreement(vectors: ItemVectors, item_parent: pd.Series, *, k: int = 10,
                        popularity: pd.Series | None = None, tail_share: float = 0.5) -> pd.DataFrame:
    """Share of each movie's ``k`` nearest neighbours (centred cosine) with the same planted sub-genre.

    ``item_parent``: the planted main sub-genre of each movie (index movieId). Returns the
    mean over movies, overall and (with ``popularity``) for the long tail, beside the chance
    level (the share of same-sub-genre pairs).
    """
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be ItemVectors, got {type(vectors).__name__}")
    item_parent = _check_item_parent(item_parent)
    k = check_int(k, "k", low=1, high=max(1, len(vectors) - 1))
    ids = vectors.ids[np.isin(vectors.ids, item_parent.index)]
    if len(ids) < 2:
        raise ValueError(f"item_parent names the sub-genre of {len(ids)} of the {len(vectors):,} movies with a "
                         "vector; it must cover the movies the vectors were trained on")
    unit = ItemVectors(vectors.ids, vectors.centred().normalized()).get(ids)
    parent = item_parent.reindex(ids).to_numpy()
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    top = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    same = (parent[top] == parent[:, None]).mean(axis=1)
    counts = pd.Series(parent).value_counts().to_numpy()
    chance = float(((counts * (counts - 1)).sum()) / (len(ids) * (len(ids) - 1)))
    rows = [{"movies": "all", "same sub-genre": float(same.mean()), "chance": chance, "n": len(ids)}]
    if popularity is not None:
        pop = popularity.reindex(ids).fillna(0).to_numpy()
        tail = pop <= np.quantile(pop, tail_share)
        rows.append({"movies": "long tail", "same sub-genre": float(same[tail].mean()), "chance": chance,
                     "n": int(tail.sum())})
    return pd.DataFrame(rows)


def planted_subgenre(ml: MovieLens) -> pd.Series:
    """The planted main sub-genre of every movie of SparrowLens data ``ml`` (index movieId).

    Planted truth is compared only with the data it was planted in: for any other data this
    raises the DataError of ``datasets.planted_truth``. For the bundled data it is the same draw
    as ``sparrowlens.generate().truth.item_parent`` (by name), in well under a second:
    SparrowLens draws its movies from streams of their own, before the users.
    """
    from ..datasets import planted_truth
    from ..sparrowlens import generator as sl

    check_dataset(ml)
    if ml.truth is not None or not ml.bundled:
        truth = planted_truth(ml)          # DataError for data SparrowLens did not make
        names = np.asarray(truth.parent_names, dtype=object)[np.asarray(truth.item_parent)] \
            if hasattr(truth, "parent_names") else np.asarray(truth.item_parent, dtype=object)
        return pd.Series(names, index=pd.Index(np.asarray(truth.movie_ids, np.int64), name="movieId"),
                         name="sub-genre")
    seed = DEFAULT_SEED
    rng_vec, rng_mov = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)[:2])
    vocab = sl._vocabulary()
    vectors = sl._draw_vectors(rng_vec, vocab, 16)
    items = sl._draw_items(rng_mov, vocab, vectors, 3000, dict(sl._PARAMS))
    names = np.asarray(vocab["parents"], dtype=object)[items["parent"]]
    out = pd.Series(names, index=pd.Index(items["movie_ids"], name="movieId"), name="sub-genre")
    out.attrs["titles"] = items["frame"].set_index("movieId")["title"]
    return out


def sequences_against_walks(sequences: Any, item_parent: pd.Series, *, n_walks: int = 20_000, length: int = 10,
                            dim: int = 10, window: int = 5, epochs: int = 10, k: int = 10,
                            seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, dict[str, ItemVectors]]:
    """item2vec on the rating sequences against DeepWalk on walks over their graph, same Word2Vec settings.

    Scored by :func:`neighbour_agreement` (share of the ``k`` nearest neighbours with the
    same planted sub-genre), over all movies and the long tail. Returns the table and both models.
    """
    from ..embeddings import train_item2vec

    seqs = _as_sequences(sequences)
    item_parent = _check_item_parent(item_parent)
    seed = check_seed(seed)
    popularity = pd.Series(np.concatenate([np.asarray(s) for s in seqs])).value_counts()
    covered = float(np.isin(popularity.index.to_numpy(), item_parent.index).mean())
    if covered < 1.0:
        raise ValueError(f"item_parent names the planted sub-genre of only {covered:.0%} of the movies in sequences: "
                         "planted truth is compared only with the data it was planted in "
                         "(eges.planted_subgenre(ml) of the same SparrowLens data)")
    graph = transition_graph(seqs)
    models = {
        "item2vec (sequences)": train_item2vec(seqs, dim=dim, window=window, epochs=epochs, seed=seed),
        "DeepWalk (random walks)": deepwalk(graph, n_walks=n_walks, length=length, seed=seed, dim=dim,
                                            window=window, epochs=epochs),
    }
    rows = []
    for name, vectors in models.items():
        table = neighbour_agreement(vectors, item_parent, k=k, popularity=popularity)
        table.insert(0, "model", name)
        rows.append(table)
    return pd.concat(rows, ignore_index=True), models


# ---------------------------------------------------------------------------
# Regime maps: when attention pays, when clusters stop being free, the grown id space
# ---------------------------------------------------------------------------


def side_mean_for_cold(vectors: ItemVectors, side: SideInformation, *, field: str = "genres") -> ItemVectors:
    """DeepWalk's vectors, with every movie they lack given the mean vector of the known movies sharing its ``field``.

    A fair cold-item baseline (the trick of Airbnb's new listings and of chapter 04): a movie no
    walk visited borrows the mean DeepWalk vector of the movies with the same ``field`` values
    (the same genre set, by default); with no such movie it gets the mean over movies sharing
    any one value, else no vector.
    """
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be ItemVectors, got {type(vectors).__name__}")
    if not isinstance(side, SideInformation):
        raise TypeError(f"side must be a SideInformation (from side_information), got {type(side).__name__}")
    f = side.names.index(check_choice(field, "field", side.names))
    keys = [tuple(sorted(int(i) for i, w in zip(idx, wt) if w > 0)) for idx, wt in zip(side.index[f], side.weight[f])]
    known = np.isin(side.ids, vectors.ids)
    unit = vectors.centred()
    rows = {}
    by_key: dict[tuple, list[int]] = {}
    by_value: dict[int, list[int]] = {}
    for r in np.flatnonzero(known):
        by_key.setdefault(keys[r], []).append(r)
        for v in keys[r]:
            by_value.setdefault(v, []).append(r)
    vec_of = dict(zip(side.ids[known], unit.get(side.ids[known])))
    for r in np.flatnonzero(~known):
        donors = by_key.get(keys[r]) or sorted({d for v in keys[r] for d in by_value.get(v, [])})
        if donors:
            rows[int(side.ids[r])] = np.mean([vec_of[side.ids[d]] for d in donors], axis=0)
    if not rows:
        return unit
    ids = np.concatenate([unit.ids, np.fromiter(rows, np.int64)])
    return ItemVectors(ids, np.vstack([unit.vectors, np.array(list(rows.values()))]))


def _restricted(split: LinkSplit, movie_ids: np.ndarray) -> LinkSplit:
    """The same split with only the test pairs whose ``item`` end is one of ``movie_ids``."""
    from dataclasses import replace

    return replace(split, test=split.test[np.isin(split.test["item"].to_numpy(), movie_ids)].reset_index(drop=True))


def _prepare(ml: MovieLens, side: SideInformation, seed: int, n_walks: int, length: int, w2v_epochs: int,
             holdout: float = 1 / 3, cold_share: float = 0.05, validation_share: float = 0.1):
    sequences = _positive_in_catalogue(ml, side)
    split = link_prediction_split(sequences, holdout=holdout, cold_share=cold_share, seed=seed)
    validation = link_prediction_split(sequences, holdout=validation_share, cold_share=0.0, seed=seed + 1,
                                       exclude_edges=split.excluded)
    walks, bge = _walks_and_pretrained(validation, n_walks, length, seed, w2v_epochs)
    return split, validation, walks, bge


def _trained_row(model: EGESModel, split: LinkSplit, **labels: Any) -> dict[str, Any]:
    aucs = link_prediction_auc(model, split).set_index("subset")["auc"]
    return {**labels, **{f"auc {k}": float(v) for k, v in aucs.items()},
            "epochs_to_converge": model.converged_epoch, "epochs_trained": len(model.history),
            "seconds_per_epoch": float(model.history["seconds"].median()), "total_seconds": model.total_seconds,
            "n_ids": model.n_ids, "parameters": model.n_parameters}


def side_quality_sweep(ml: MovieLens, *, shares: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
                       seeds: Sequence[int] = (DEFAULT_SEED,), n_walks: int = 10_000, length: int = 10,
                       dim: int = 16, max_epochs: int = 10, w2v_epochs: int = 5, tolerance: float = 0.002,
                       patience: int = 2) -> pd.DataFrame:
    """GES against EGES as side information grows uneven: a ``share`` of movies get wrong values in every field.

    For each share and seed, :func:`degrade_side_information` corrupts that share of movies
    (the rest keep theirs); GES and EGES train to convergence on the same walks. Returns one
    row per (share, seed, method, movies) with the link-prediction AUC overall and on cold
    items, for all test pairs and for those whose scored movie was degraded or kept clean.
    """
    seeds = [check_seed(s) for s in seeds]
    clean = side_information(ml)
    rows = []
    for seed in seeds:
        split, validation, walks, _ = _prepare(ml, clean, seed, n_walks, length, w2v_epochs)
        for share in shares:
            side, bad = degrade_side_information(clean, share, seed=seed)
            for label, method in (("GES", "ges"), ("EGES", "eges")):
                model = train_eges(walks, side, method=method, dim=dim, epochs=max_epochs, validation=validation,
                                   tolerance=tolerance, patience=patience, seed=seed)
                groups = {"all": split, "degraded": _restricted(split, bad),
                          "clean": _restricted(split, np.setdiff1d(side.ids, bad))}
                for group, sp in groups.items():
                    if len(sp.test) == 0:
                        continue
                    row = _trained_row(model, sp, share=float(share), seed=seed, method=label, movies=group)
                    weights = model.attention(model.trained_ids)
                    row["mean id weight"] = float(weights.iloc[:, 1].mean())
                    rows.append(row)
    return pd.DataFrame(rows)


def cluster_count_sweep(ml: MovieLens, *, counts: Sequence[int] = (3000, 1000, 300, 100, 30), types: bool = True,
                        seed: int = DEFAULT_SEED, n_walks: int = 10_000, length: int = 10, dim: int = 16,
                        max_epochs: int = 10, w2v_epochs: int = 5, tolerance: float = 0.002,
                        patience: int = 2) -> pd.DataFrame:
    """Remedy 2's AUC as the clusters get coarser: k-means with each count, and Airbnb-style types.

    A count equal to the catalogue size gives every movie its own id (end-to-end EGES through
    the clustered code path). ``types`` adds one row for one id per combination of field values.
    """
    side = side_information(ml)
    split, validation, walks, bge = _prepare(ml, side, check_seed(seed), n_walks, length, w2v_epochs)
    settings = [(f"k-means, {int(c):,}", cluster_items(side, int(c), pretrained=bge, seed=seed)
                 if int(c) < len(side) else np.arange(len(side))) for c in counts]
    if types:
        settings.append(("Airbnb-style types", cluster_items(side, 0, by="types")))
    rows = []
    for label, clusters in settings:
        model = train_eges(walks, side, method="clustered", clusters=clusters, dim=dim, epochs=max_epochs,
                           validation=validation, tolerance=tolerance, patience=patience, seed=seed)
        rows.append(_trained_row(model, split, clusters=label, seed=seed))
    return pd.DataFrame(rows)


def grown_id_space(ml: MovieLens, *, copies: int = 256, seed: int = DEFAULT_SEED, n_walks: int = 10_000,
                   length: int = 10, dim: int = 16, max_epochs: int = 10, w2v_epochs: int = 5,
                   n_clusters: int = 300, tolerance: float = 0.002, patience: int = 2,
                   settings: Sequence[str] | None = None) -> pd.DataFrame:
    """AUC, epochs to converge and time, with every movie split into ``copies`` ids: optimisers and remedies.

    Settings (``settings`` picks some): EGES at the catalogue's ids (the reference); EGES at the
    grown id space under Keras Adam (every row, every step), LazyAdam and Adagrad (touched rows
    only); remedy 1 (no id table) and remedy 2 (cluster ids, which stand for all copies of their
    movies). Each trains to convergence on the validation slice.
    """
    copies = check_int(copies, "copies", low=1, high=100_000)
    side = side_information(ml)
    split, validation, walks, bge = _prepare(ml, side, check_seed(seed), n_walks, length, w2v_epochs)
    clusters = cluster_items(side, min(n_clusters, len(side)), pretrained=bge, seed=seed)
    grid = {
        "EGES, catalogue ids, Adam": dict(method="eges", id_copies=1),
        "EGES, Adam": dict(method="eges", id_copies=copies),
        "EGES, LazyAdam": dict(method="eges", id_copies=copies, optimizer="lazy_adam"),
        "EGES, Adagrad": dict(method="eges", id_copies=copies, optimizer="adagrad"),
        "remedy 1: pretrained": dict(method="pretrained", pretrained=bge),
        "remedy 2: clustered": dict(method="clustered", clusters=clusters),
    }
    names = list(grid) if settings is None else [check_choice(s, "settings", list(grid)) for s in settings]
    rows = []
    for name in names:
        kw = grid[name]
        model = train_eges(walks, side, dim=dim, epochs=max_epochs, validation=validation, tolerance=tolerance,
                           patience=patience, seed=seed, **kw)
        row = _trained_row(model, split, setting=name, seed=seed)
        row["id space"] = len(side) * kw.get("id_copies", copies)
        row["optimiser"] = kw.get("optimizer", "adam")
        rows.append(row)
    return pd.DataFrame(rows)
