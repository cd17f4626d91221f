"""The shared embeddings module: sequences, the transition graph, weighted and node2vec walks, item2vec."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sparrow_course import embeddings as E
from sparrow_course.embeddings import ItemVectors, align_procrustes, fit_embedding_channel, pool_user_vectors

# a toy graph: 1 -> 2 (x3), 1 -> 3 (x1), 2 -> 3 (x2), 2 -> 1 (x2), 3 -> 1, 3 -> 4; 4 is dangling
TOY = [[1, 2, 1, 2, 3, 1, 2, 1, 3, 4], [1, 2, 3], [3, 1, 2, 1]]


def _ratings(rows):
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])


def test_positive_sequences_sorted_by_time_and_thresholded():
    r = _ratings([(1, 10, 4.0, 3), (1, 11, 5.0, 1), (1, 12, 2.0, 2), (1, 13, 3.5, 2), (2, 10, 4.0, 1)])
    seqs = E.positive_sequences(r)
    assert seqs.to_dict() == {1: [11, 13, 10]}          # user 2 has one positive: dropped


def test_positive_sequences_error_when_empty():
    with pytest.raises(ValueError, match="no user"):
        E.positive_sequences(_ratings([(1, 10, 1.0, 1), (1, 11, 2.0, 2)]))


def test_empty_sequences_are_refused():
    with pytest.raises(ValueError, match="no sequence"):
        E.transition_graph([[1], [2]])
    with pytest.raises(ValueError, match="no sequence"):
        E.train_item2vec([])
    with pytest.raises(TypeError):
        E.transition_graph("1 2 3")


def test_graph_with_no_edges_is_refused():
    with pytest.raises(ValueError, match="no edges"):
        E.transition_graph([[5, 5, 5]])       # only self-loops
    with pytest.raises(ValueError, match="no edges"):
        E.transition_graph([[1, 2]], exclude_edges=pd.DataFrame({"source": [2], "target": [1]}))


def test_transition_graph_weights_count_transitions():
    g = E.transition_graph(TOY)
    edges = g.edges().set_index(["source", "target"])["weight"].to_dict()
    expected = {}
    for seq in TOY:
        for a, b in zip(seq[:-1], seq[1:]):
            expected[(a, b)] = expected.get((a, b), 0) + 1
    assert edges == expected
    assert list(g.ids) == [1, 2, 3, 4]
    assert g.out_weight()[3] == 0                             # 4 is dangling


def test_excluded_edges_leave_the_graph_in_both_directions():
    held = pd.DataFrame({"source": [2], "target": [1]})
    g = E.transition_graph(TOY, exclude_edges=held)
    pairs = set(zip(g.edges()["source"], g.edges()["target"]))
    assert (1, 2) not in pairs and (2, 1) not in pairs
    assert (2, 3) in pairs


def test_walk_transition_frequencies_match_the_weights():
    """Chi-square: from each node, the next steps are drawn in proportion to the edge weights."""
    g = E.transition_graph(TOY)
    walks = E.random_walks(g, n_walks=20_000, length=6, seed=3)
    steps = pd.DataFrame({"a": walks[:, :-1].ravel(), "b": walks[:, 1:].ravel()})
    steps = steps[(steps["a"] >= 0) & (steps["b"] >= 0)]
    edges = g.edges()
    for source, out in edges.groupby("source"):
        observed = steps[steps["a"] == source]["b"].value_counts().reindex(out["target"]).fillna(0).to_numpy()
        assert observed.sum() > 1000
        assert set(steps[steps["a"] == source]["b"]) <= set(out["target"])   # only real edges are walked
        expected = out["weight"].to_numpy() / out["weight"].sum() * observed.sum()
        p = stats.chisquare(observed, expected).pvalue
        assert p > 1e-3, f"node {source}: observed {observed} against expected {expected.round(1)} (p={p:.2g})"


def test_walk_chi_square_detects_wrong_weights():
    """The test above has power: uniform choices instead of weighted ones would fail it."""
    g = E.transition_graph(TOY)
    walks = E.random_walks(g, n_walks=20_000, length=6, seed=3)
    steps = pd.DataFrame({"a": walks[:, :-1].ravel(), "b": walks[:, 1:].ravel()})
    observed = steps[steps["a"] == 1]["b"].value_counts().reindex([2, 3]).to_numpy()
    uniform = np.full(2, observed.sum() / 2)
    assert stats.chisquare(observed, uniform).pvalue < 1e-6


def test_walks_reproducible_by_seed():
    g = E.transition_graph(TOY)
    a = E.random_walks(g, n_walks=500, length=8, seed=7)
    b = E.random_walks(g, n_walks=500, length=8, seed=7)
    c = E.random_walks(g, n_walks=500, length=8, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    a2 = E.random_walks(g, n_walks=500, length=8, p=0.5, q=2.0, seed=7)
    assert np.array_equal(a2, E.random_walks(g, n_walks=500, length=8, p=0.5, q=2.0, seed=7))


def test_dangling_walks_stop_and_are_padded():
    g = E.transition_graph([[1, 2, 3], [1, 3]])         # 3 has no out-edge
    walks = E.random_walks(g, n_walks=200, length=5, seed=1)
    for row in walks:
        valid = row[row >= 0]
        assert (row[len(valid):] == -1).all()            # -1 only after the walk stopped
        if len(valid) < 5:
            assert valid[-1] == 3                        # it stopped at the dangling node
    assert (walks[:, 0] != 3).all()                      # walks start where they can move
    assert (walks == -1).any()


def _return_rate(walks):
    w = walks[:, :5]
    ok = (w[:, 2:] >= 0)
    return float(((w[:, 2:] == w[:, :-2]) & ok).sum() / ok.sum())


def test_node2vec_return_rate_rises_as_p_falls():
    # a small undirected ring with chords, so a walk can always go back or on
    seqs = [[i, (i + 1) % 8] for i in range(8)] + [[(i + 1) % 8, i] for i in range(8)] + [[0, 4], [4, 0], [2, 6], [6, 2]]
    g = E.transition_graph(seqs)
    rates = [_return_rate(E.random_walks(g, n_walks=4000, length=5, p=p, seed=2)) for p in (4.0, 1.0, 0.25)]
    assert rates[0] < rates[1] < rates[2]
    # theory at a node of degree 2 (no triangles): back with weight 1/p against 1 forward,
    # 1/2 at p = 1 and 4/5 at p = 1/4; degree-3 nodes give 1/3 and 2/3
    assert 0.33 < rates[1] < 0.5 and 0.66 < rates[2] < 0.8


def test_node2vec_q_above_one_keeps_walks_local():
    # ring of 8 with edges i - i+1 and i - i+2 (both directions): triangles, so a step can stay
    # next to the previous node (weight 1) or move away (weight 1/q)
    seqs = [[i, (i + d) % 8] for i in range(8) for d in (1, 2)]
    seqs += [s[::-1] for s in seqs]
    g = E.transition_graph(seqs)
    nbrs = {(a, b) for a, b in seqs}

    def local_share(q):
        w = E.random_walks(g, n_walks=3000, length=5, q=q, seed=2)
        prev, nxt = w[:, :-2].ravel(), w[:, 2:].ravel()
        moved = prev != nxt
        return np.mean([(a, b) in nbrs for a, b in zip(prev[moved], nxt[moved])])

    assert local_share(4.0) > local_share(1.0) + 0.1 > local_share(0.25) + 0.2


def test_walk_argument_errors():
    g = E.transition_graph(TOY)
    with pytest.raises(TypeError, match="TransitionGraph"):
        E.random_walks(TOY, n_walks=3)
    with pytest.raises(ValueError, match=r"\bp must be a number > 0"):
        E.random_walks(g, n_walks=3, p=0)
    with pytest.raises(ValueError, match="start"):
        E.random_walks(g, n_walks=3, start="random")


def test_extreme_return_and_in_out_parameters_still_finish():
    # p or q near zero once made the rejection sampler loop without bound; the walks must come back, full length
    g = E.transition_graph(TOY)
    for options in ({"p": 1e-9}, {"q": 1e-9}, {"p": 1e9, "q": 1e-9}):
        walks = E.random_walks(g, n_walks=2000, length=8, seed=1, **options)
        assert walks.shape == (2000, 8) and set(np.unique(walks)) <= set(g.ids.tolist()) | {-1}   # -1: a dangling stop


def test_float_ids_and_impossible_min_count_are_refused_not_truncated():
    with pytest.raises(ValueError, match=r"\bsequences\[0\] must hold integer movie ids.*1\.5"):
        E.train_item2vec([[1.5, 2.0, 3.0]], dim=4, epochs=1)
    with pytest.raises(ValueError, match=r"\bmin_count=1000000 leaves no item to train.*at most 7"):
        E.train_item2vec(TOY, dim=4, epochs=1, min_count=10**6)
    with pytest.raises(ValueError, match=r"\bids must hold integer movie ids.*1\.5"):
        E.ItemVectors(np.array([1.5, 2.0]), np.ones((2, 2)))
    assert E.ItemVectors(np.array([1.0, 2.0]), np.ones((2, 2))).ids.tolist() == [1, 2]   # whole floats are ids


def test_item2vec_reproducible_by_seed():
    seqs = [[(i * 7 + j) % 40 for j in range(8)] for i in range(60)]
    a = E.train_item2vec(seqs, dim=8, epochs=3, seed=5)
    b = E.train_item2vec(seqs, dim=8, epochs=3, seed=5)
    c = E.train_item2vec(seqs, dim=8, epochs=3, seed=6)
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)
    assert a.vectors.shape == (40, 8)


def test_item_vectors_lookups():
    iv = E.ItemVectors(np.array([30, 10, 20]), np.array([[1.0, 0], [0, 1.0], [1.0, 1.0]]))
    assert list(iv.ids) == [10, 20, 30]
    assert np.array_equal(iv.get(30), [1.0, 0])
    assert iv.similar(10, n=1)["movieId"].tolist() == [20]
    with pytest.raises(KeyError, match="99"):
        iv.get([99])
    assert np.allclose(iv.centred().vectors.mean(axis=0), 0)


def test_deepwalk_accepts_walk_arrays():
    g = E.transition_graph(TOY)
    vecs = E.deepwalk(g, n_walks=200, length=5, seed=1, dim=4, epochs=2)
    assert set(vecs.ids) <= {1, 2, 3, 4} and vecs.dim == 4


# --------------------------------------------------------------------------- user vectors


@pytest.fixture()
def tiny():
    items = ItemVectors(np.array([10, 20, 30, 40]),
                        np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]]))
    ratings = pd.DataFrame({"userId": [1, 1, 1, 2, 2], "movieId": [10, 20, 40, 30, 40],
                            "rating": [5.0, 4.0, 2.0, 3.5, 4.0],
                            "timestamp": [0, 86_400 * 10, 5, 0, 86_400 * 20]})
    return items, ratings


def test_pooling_by_hand(tiny):
    items, ratings = tiny
    mean = pool_user_vectors(ratings, items)
    assert mean.ids.tolist() == [1, 2] and mean.n_items.tolist() == [2, 2]
    assert np.allclose(mean.vectors, [[0.5, 0.5], [0.0, 0.5]])  # user 1 liked 10, 20; user 2 liked 30, 40
    assert np.allclose(pool_user_vectors(ratings, items, pooling="sum").vectors, [[1, 1], [0, 1]])
    assert np.allclose(pool_user_vectors(ratings, items, pooling="rating").vectors[0], [5 / 9, 4 / 9])
    recency = pool_user_vectors(ratings, items, pooling="recency", half_life_days=10.0).vectors
    assert np.allclose(recency[0], [0.5 / 1.5, 1 / 1.5])  # item 10 is one half-life older than item 20
    centred = pool_user_vectors(ratings, items, centre=True).vectors
    assert np.allclose(centred, mean.vectors - items.vectors.mean(axis=0))


def test_embedding_channel_excludes_rated_items_and_has_the_common_shape(tiny):
    items, ratings = tiny
    users = pool_user_vectors(ratings, items, centre=True)
    channel = fit_embedding_channel(items, users, ratings)
    recs = channel.recall([1, 2], 2)
    assert list(recs.columns) == ["userId", "movieId", "score"]
    assert set(recs.loc[recs.userId == 1, "movieId"]) == {30}  # 10, 20, 40 were rated
    with pytest.raises(ValueError, match="different spaces"):
        fit_embedding_channel(ItemVectors(items.ids, np.ones((4, 3))), users, ratings)


def test_procrustes_recovers_a_rotation():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(100, 5)) + 3.0
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    target = ItemVectors(np.arange(100), base)
    source = ItemVectors(np.arange(100), (base - base.mean(axis=0)) @ rotation.T + 7.0)
    aligned, fit = align_procrustes(source, target)
    assert np.allclose(aligned.vectors, base)
    assert fit["relative_error"].iloc[1] < 1e-9 < fit["relative_error"].iloc[0]


    with pytest.raises(ValueError, match="too few"):
        align_procrustes(source, target, on=[1, 2])
    with pytest.raises(ValueError, match="dimension"):
        align_procrustes(source, ItemVectors(np.arange(100), np.ones((100, 3))))
