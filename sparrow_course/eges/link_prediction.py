"""Link prediction as in the EGES paper: hold edges of the item graph out, score them against non-edges by AUC."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..checks import (check_fraction, check_frame, check_int,
                      check_seed)
from ..embeddings import ItemVectors, TransitionGraph, _as_sequences, transition_graph
from ..seeding import DEFAULT_SEED

if TYPE_CHECKING:
    from .model import EGESModel

__all__ = ["LinkSplit", "link_prediction_split", "uniform_negatives", "link_prediction_auc"]


# ---------------------------------------------------------------------------
# Link prediction, as in the paper
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinkSplit:
    """Held-out edges and sampled non-edges for link prediction, and the graph with the held-out edges removed."""

    graph: TransitionGraph        # built without any held-out edge: walk on this one
    excluded: pd.DataFrame        # source, target: every pair kept out of training (held out, or touching a cold item)
    test: pd.DataFrame            # item, other, label (1 edge / 0 non-edge), subset ("overall"/"cold"), long_tail
    cold_ids: np.ndarray          # movies all of whose edges are held out
    popularity: pd.Series         # positive ratings per movie (training sequences)


def link_prediction_split(sequences: Any, *, holdout: float = 1 / 3, cold_share: float = 0.05,
                          tail_share: float = 0.5, max_cold_pairs: int = 20_000,
                          exclude_edges: pd.DataFrame | None = None, seed: int = DEFAULT_SEED) -> LinkSplit:
    """Hold out a share of the item graph's edges (undirected pairs) and every edge of a few cold items.

    Each test positive is a held-out pair (item, other), oriented so ``item`` is the cold one,
    or else the less popular one; each gets one negative (item, other') that is no edge of the
    full graph, with other' drawn from the other ends of the held-out pairs (so negatives are
    as popular as positives, and popularity alone scores an AUC of 0.5). ``long_tail`` marks pairs whose ``item`` is among the ``tail_share``
    least popular movies of the graph. The returned graph is built with every held-out pair
    excluded (``transition_graph(..., exclude_edges=)``), so walks over it never cross one.

    ``exclude_edges`` (source, target) are pairs kept out before splitting, e.g. the ``excluded``
    of an outer split: they are neither trained on nor held out here, and never drawn as
    negatives. ``link_prediction_split(seqs, holdout=0.1, cold_share=0, exclude_edges=outer.excluded)``
    so carves a validation slice from the outer split's training graph without touching its test edges.
    """
    holdout = check_fraction(holdout, "holdout", include_low=False, include_high=False)
    cold_share = check_fraction(cold_share, "cold_share", include_high=False)
    tail_share = check_fraction(tail_share, "tail_share", include_low=False)
    max_cold_pairs = check_int(max_cold_pairs, "max_cold_pairs", low=1)
    seed = check_seed(seed)
    seqs = _as_sequences(sequences)
    rng = np.random.default_rng(seed)
    full = transition_graph(seqs)
    coo = full.matrix.tocoo()
    a, b = np.minimum(coo.row, coo.col), np.maximum(coo.row, coo.col)
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)                 # undirected, node positions
    ids = full.ids
    all_pairs = pairs                                                    # every edge: never a negative
    if exclude_edges is not None:
        check_frame(exclude_edges, ["source", "target"], "exclude_edges")
        src = exclude_edges["source"].to_numpy(np.int64)
        dst = exclude_edges["target"].to_numpy(np.int64)
        inside = np.isin(src, ids) & np.isin(dst, ids)
        u, v = np.searchsorted(ids, src[inside]), np.searchsorted(ids, dst[inside])
        out_keys = np.minimum(u, v) * len(ids) + np.maximum(u, v)
        pairs = pairs[~np.isin(pairs[:, 0] * len(ids) + pairs[:, 1], out_keys)]
        if not len(pairs):
            raise ValueError("exclude_edges removes every edge of the graph; nothing is left to split")
    pop = pd.Series(np.concatenate([np.asarray(s) for s in seqs])).value_counts()
    popularity = pd.Series(pop.reindex(ids).fillna(0).to_numpy(np.int64), index=ids, name="positives")
    n_cold = int(round(cold_share * len(ids)))
    cold = np.sort(rng.choice(len(ids), size=n_cold, replace=False)) if n_cold else np.empty(0, np.int64)
    touches = np.isin(pairs, cold).any(axis=1)
    cold_pairs, warm_pairs = pairs[touches], pairs[~touches]
    held = rng.random(len(warm_pairs)) < holdout
    test_warm = warm_pairs[held]
    if not len(test_warm):
        raise ValueError("no edge was held out; the graph is too small for link prediction")
    # orient: item = the cold end, else the less popular end
    pop_arr = popularity.to_numpy()
    swap = pop_arr[test_warm[:, 0]] > pop_arr[test_warm[:, 1]]
    test_warm = np.where(swap[:, None], test_warm[:, ::-1], test_warm)
    is_cold = np.isin(cold_pairs[:, 0], cold)
    test_cold = np.where(is_cold[:, None], cold_pairs, cold_pairs[:, ::-1])
    if len(test_cold) > max_cold_pairs:
        test_cold = test_cold[np.sort(rng.choice(len(test_cold), max_cold_pairs, replace=False))]
    positives = np.concatenate([test_warm, test_cold])
    subset = np.array(["overall"] * len(test_warm) + ["cold"] * len(test_cold), dtype=object)
    # negatives: (item, other') with other' drawn from the other ends of all held-out edges, so
    # popularity alone cannot tell an edge from a non-edge; redrawn until no edge of the full graph
    edge_keys = set((all_pairs[:, 0] * len(ids) + all_pairs[:, 1]).tolist())
    partners = positives[:, 1]
    others = partners[rng.integers(0, len(partners), size=len(positives))]
    for _ in range(200):
        lo, hi = np.minimum(positives[:, 0], others), np.maximum(positives[:, 0], others)
        bad = (lo == hi) | np.fromiter(((x * len(ids) + y) in edge_keys for x, y in zip(lo.tolist(), hi.tolist())),
                                       bool, len(lo))
        if not bad.any():
            break
        others[bad] = partners[rng.integers(0, len(partners), size=int(bad.sum()))]
    else:
        raise ValueError("could not sample enough non-edges; the graph is nearly complete")
    tail_cut = np.quantile(pop_arr, tail_share)
    test = pd.DataFrame({
        "item": np.concatenate([ids[positives[:, 0]], ids[positives[:, 0]]]),
        "other": np.concatenate([ids[positives[:, 1]], ids[others]]),
        "label": np.repeat([1, 0], len(positives)),
        "subset": np.concatenate([subset, subset]),
    })
    test["long_tail"] = (popularity.reindex(test["item"]).to_numpy() <= tail_cut) & (test["subset"] == "overall")
    excluded_pairs = np.concatenate([test_warm, cold_pairs])
    excluded = pd.DataFrame({"source": ids[excluded_pairs[:, 0]], "target": ids[excluded_pairs[:, 1]]})
    if exclude_edges is not None:
        excluded = pd.concat([exclude_edges[["source", "target"]], excluded], ignore_index=True)
    graph = transition_graph(seqs, exclude_edges=excluded)
    return LinkSplit(graph=graph, excluded=excluded, test=test, cold_ids=ids[cold], popularity=popularity)


def uniform_negatives(split: LinkSplit, *, seed: int = DEFAULT_SEED) -> LinkSplit:
    """The same held-out edges, each negative redrawn uniformly from every movie of the graph (the paper's kind).

    :func:`link_prediction_split` draws a negative's other end from the other ends of the held-out
    edges, as popular as a true partner, so popularity alone scores 0.5. Uniform negatives are
    mostly rare movies that sit in few edges: easier to tell from a true partner, and a model
    scores a higher AUC on them with the same vectors. Negatives are never an edge of the full graph.
    """
    from dataclasses import replace

    if not isinstance(split, LinkSplit):
        raise TypeError(f"split must be a LinkSplit (from link_prediction_split), got {type(split).__name__}")
    rng = np.random.default_rng(check_seed(seed))
    ids = split.popularity.index.to_numpy(np.int64)
    coo = split.graph.matrix.tocoo()
    src = np.concatenate([split.graph.ids[coo.row], split.excluded["source"].to_numpy(np.int64)])
    dst = np.concatenate([split.graph.ids[coo.col], split.excluded["target"].to_numpy(np.int64)])
    edges = set(zip(np.minimum(src, dst).tolist(), np.maximum(src, dst).tolist()))
    negative = (split.test["label"] == 0).to_numpy()
    items = split.test["item"].to_numpy(np.int64)[negative]
    others = ids[rng.integers(0, len(ids), size=len(items))]
    for _ in range(200):
        bad = (items == others) | np.fromiter(((min(x, y), max(x, y)) in edges
                                               for x, y in zip(items.tolist(), others.tolist())), bool, len(items))
        if not bad.any():
            break
        others[bad] = ids[rng.integers(0, len(ids), size=int(bad.sum()))]
    else:
        raise ValueError("could not sample enough non-edges; the graph is nearly complete")
    test = split.test.copy()
    test.loc[negative, "other"] = others
    return replace(split, test=test)


def _similarity(vectors: ItemVectors, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of centred vectors; 0 where either movie has no vector (an unknown item says nothing)."""
    unit = ItemVectors(vectors.ids, vectors.centred().normalized())
    out = np.zeros(len(a))
    known = np.isin(a, unit.ids) & np.isin(b, unit.ids)
    if known.any():
        out[known] = (unit.get(a[known]) * unit.get(b[known])).sum(axis=1)
    return out


def link_prediction_auc(model: "EGESModel | ItemVectors", split: LinkSplit) -> pd.DataFrame:
    """AUC of embedding similarity on held-out edges against non-edges: overall, long tail, cold items.

    An :class:`EGESModel` represents cold movies (never in training) by their side information;
    plain :class:`ItemVectors` (DeepWalk) have no vector for them, so their similarity is 0.
    """
    from ..metrics import auc
    from .model import EGESModel  # here: the model's training scores its epochs with this function

    if not isinstance(split, LinkSplit):
        raise TypeError(f"split must be a LinkSplit (from link_prediction_split), got {type(split).__name__}")
    if isinstance(model, EGESModel):
        vectors = model.item_vectors()
    elif isinstance(model, ItemVectors):
        vectors = model
    else:
        raise TypeError(f"model must be an EGESModel or ItemVectors, got {type(model).__name__}")
    t = split.test
    score = _similarity(vectors, t["item"].to_numpy(), t["other"].to_numpy())
    rows = []
    for name, mask in (("overall", t["subset"] == "overall"), ("long tail", t["long_tail"]),
                       ("cold", t["subset"] == "cold")):
        mask = mask.to_numpy()
        if mask.any() and t["label"][mask].nunique() == 2:
            rows.append({"subset": name, "auc": auc(t["label"][mask], score[mask]), "pairs": int(mask.sum())})
    return pd.DataFrame(rows)
