"""Chapter 07: the LSH hash, index and theory, and user embeddings in the item space."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from sparrow_course import lsh
from sparrow_course.embeddings import ItemVectors


# --------------------------------------------------------------------------- hash values


def test_hash_values_match_a_hand_computation():
    funcs = lsh.HashFunctions(directions=np.array([[1.0, -0.5], [2.0, 0.25]]), offsets=np.array([0.3, 0.0]),
                              width=0.5)
    # v = (1, 1): a1.v + b1 = 1 + 2 + 0.3 = 3.3 -> floor(6.6) = 6; a2.v = -0.25 -> floor(-0.5) = -1
    # v = (-1, 0.1): -1 + 0.2 + 0.3 = -0.5 -> floor(-1.0) = -1; 0.5 + 0.025 = 0.525 -> floor(1.05) = 1
    assert funcs(np.array([[1.0, 1.0], [-1.0, 0.1]])).tolist() == [[6, -1], [-1, 1]]


def test_drawn_functions_follow_the_two_variants():
    p = lsh.hash_functions(5, 400, 2.0, seed=3)
    assert ((p.offsets >= 0) & (p.offsets < 2.0)).all() and p.offsets.std() > 0.4
    assert abs(p.directions.std() - 1.0) < 0.1  # Gaussian directions, not unit ones
    s = lsh.hash_functions(5, 400, 2.0, variant="spark", seed=3)
    assert np.allclose(np.linalg.norm(s.directions, axis=0), 1.0) and (s.offsets == 0).all()


def test_same_seed_same_index_other_seed_other_index():
    x = np.random.default_rng(0).normal(size=(300, 6))
    a = lsh.LSHIndex(3, 4, 1.0, seed=7).fit(x).query(x[:20], 5)
    b = lsh.LSHIndex(3, 4, 1.0, seed=7).fit(x).query(x[:20], 5)
    c = lsh.LSHIndex(3, 4, 1.0, seed=8).fit(x).query(x[:20], 5)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.n_candidates, b.n_candidates)
    assert not np.array_equal(a.n_candidates, c.n_candidates)
    assert np.array_equal(lsh.hash_functions(4, 9, 1.0, seed=1).directions,
                          lsh.hash_functions(4, 9, 1.0, seed=1).directions)


# --------------------------------------------------------------------------- the index


def test_many_wide_tables_give_the_exact_answer():
    rng = np.random.default_rng(1)
    x, q = rng.normal(size=(500, 8)), rng.normal(size=(40, 8))
    exact_idx, exact_dist = lsh.exact_top_k(x, q, 10)
    got = lsh.LSHIndex(2, 30, 50.0, seed=2).fit(x).query(q, 10)
    assert np.array_equal(got.indices, exact_idx)
    assert np.allclose(got.distances, exact_dist)
    assert (lsh.neighbour_recall(got.indices, exact_idx) == 1).all()


def test_exact_top_k_against_a_plain_sort():
    rng = np.random.default_rng(2)
    x, q = rng.normal(size=(200, 5)), rng.normal(size=(7, 5))
    idx, dist = lsh.exact_top_k(x, q, 4)
    full = np.linalg.norm(q[:, None, :] - x[None, :, :], axis=2)
    assert np.array_equal(idx, np.argsort(full, axis=1, kind="stable")[:, :4])
    assert np.allclose(dist, np.sort(full, axis=1)[:, :4])


def test_candidates_are_exactly_the_items_sharing_a_bucket_in_some_table():
    rng = np.random.default_rng(3)
    x, q = rng.normal(size=(300, 4)), rng.normal(size=(25, 4))
    index = lsh.LSHIndex(2, 3, 1.0, seed=5).fit(x)
    h_items = index.functions(x).reshape(300, 3, 2)  # (items, tables, k)
    h_queries = index.functions(q).reshape(25, 3, 2)
    same = (h_queries[:, None, :, :] == h_items[None, :, :, :]).all(axis=3).any(axis=2)  # (queries, items)
    qi, ii = index.candidates(q)
    expected_q, expected_i = np.nonzero(same)
    assert np.array_equal(qi, expected_q) and np.array_equal(ii, expected_i)
    result = index.query(q, 5)
    assert np.array_equal(result.n_candidates, same.sum(axis=1))
    # every returned item is a candidate, and the nearest of them
    for row in range(25):
        cands = np.flatnonzero(same[row])
        d = np.linalg.norm(x[cands] - q[row], axis=1)
        want = cands[np.argsort(d, kind="stable")[:5]]
        got = result.indices[row][result.indices[row] >= 0]
        assert np.array_equal(got, want)
        assert (result.distances[row][len(got):] == np.inf).all()


def test_spark_variant_has_one_function_per_table_without_offset():
    x = np.random.default_rng(4).normal(size=(100, 3))
    index = lsh.LSHIndex(1, 3, 0.1, variant="spark", seed=0).fit(x)
    r = index.functions.directions
    assert np.array_equal(index.functions(x), np.floor(x @ r / 0.1).astype(np.int64))


# --------------------------------------------------------------------------- theory


@pytest.mark.parametrize("c,w", [(0.3, 1.0), (1.0, 1.0), (2.5, 1.0), (1.0, 4.0), (7.0, 0.5)])
def test_collision_probability_against_numerical_integration(c, w):
    # p(c) = integral_0^w (1/c) f(t/c) (1 - t/w) dt, f the density of |N(0, 1)|
    numeric, _ = integrate.quad(lambda t: 2 * stats.norm.pdf(t / c) / c * (1 - t / w), 0, w)
    assert lsh.collision_probability(c, w) == pytest.approx(numeric, abs=1e-9)


def test_collision_probability_limits_and_vectors():
    assert lsh.collision_probability(0.0, 1.0) == 1.0
    p = lsh.collision_probability(np.array([0.01, 0.5, 1, 2, 10, 100]), 1.0)
    assert (np.diff(p) < 0).all() and p[0] > 0.99 and p[-1] < 0.01


def test_spark_collision_probability_in_one_dimension_and_by_simulation():
    assert lsh.spark_collision_probability(0.25, 1.0, 1) == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    d, c, w, n = 6, 0.2, 0.3, 200_000
    r = rng.standard_normal((n, d))
    t = (r / np.linalg.norm(r, axis=1, keepdims=True))[:, 0]
    simulated = np.maximum(0, 1 - c * np.abs(t) / w).mean()
    assert lsh.spark_collision_probability(c, w, d) == pytest.approx(simulated, abs=0.005)


def test_candidate_probability():
    assert lsh.candidate_probability(0.5, 2, 3) == pytest.approx(1 - 0.75 ** 3)
    assert lsh.candidate_probability(1.0, 5, 1) == 1.0
    assert np.allclose(lsh.candidate_probability(np.array([0.0, 1.0]), 3, 4), [0.0, 1.0])


def test_choose_parameters_meets_its_targets_in_theory():
    rng = np.random.default_rng(0)
    near, far = rng.uniform(0.5, 1.0, 200), rng.uniform(3.0, 6.0, 500)
    choice = lsh.choose_parameters(near, far, target_recall=0.9, max_candidate_share=0.05)
    assert choice.meets_target
    assert choice.predicted_recall >= 0.9 and choice.predicted_candidate_share <= 0.05
    p_near = lsh.collision_probability(near, choice.width)
    assert np.mean(lsh.candidate_probability(p_near, choice.k, choice.n_tables)) == pytest.approx(
        choice.predicted_recall)
    impossible = lsh.choose_parameters(far, near, target_recall=0.99, max_candidate_share=0.01)
    assert not impossible.meets_target


def test_edge_problem_fixed_edges_never_recover():
    table = lsh.edge_problem(distance=0.2, width=1.0, n_pairs=20_000, seed=1)
    fixed = table[table["hash"] == "fixed edges"]
    assert fixed["missed_share"].nunique() == 1  # more identical functions change nothing
    assert abs(fixed["missed_share"].iloc[0] - 0.2) < 4 * fixed["standard_error"].iloc[0]
    offset = table[table["hash"] == "random offset b"].set_index("n_functions")
    assert offset.loc[8, "missed_share"] < 0.001
    assert (abs(table["missed_share"] - table["theory"]) <= 4 * table["standard_error"] + 1e-9).all()


def test_collision_experiment_agrees_with_theory():
    table = lsh.collision_experiment((0.5, 1.0, 2.0), n_trials=20_000, seed=3)
    assert (abs(table["collision_rate"] - table["theory"]) <= 4 * table["standard_error"]).all()


def test_amplification_experiment_agrees_with_theory():
    table = lsh.amplification_experiment(((2, 3),), (0.5, 1.5), n_pairs=200, n_repeats=10, seed=4)
    assert (abs(table["candidate_rate"] - table["theory"]) <= 4 * table["standard_error"] + 0.02).all()


def test_pareto_front():
    flags = lsh.pareto_front([0.1, 0.2, 0.3, 0.2], [0.5, 0.9, 0.8, 0.4])
    assert flags.tolist() == [True, True, False, False]


def test_recall_work_grid_has_an_exact_row():
    rng = np.random.default_rng(0)
    x = lsh.clustered_vectors(2000, 8, n_clusters=10, seed=1)
    grid = lsh.recall_work_grid(x, x[:20] + 0.01 * rng.normal(size=(20, 8)), ks=(2,), tables=(2,), widths=(1.0,))
    assert grid["k"].tolist() == [2, "exact"]
    assert grid.loc[1, "recall@10"] == 1.0 and 0 < grid.loc[0, "candidate_share"] <= 1


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs,exc,words", [
    ({"width": 0.0}, ValueError, "width"), ({"width": -1.0}, ValueError, "width"),
    ({"k": 0}, ValueError, "k must be"), ({"n_tables": 0}, ValueError, "n_tables"),
    ({"k": 2.0}, TypeError, "k must be an integer"), ({"variant": "sparky"}, ValueError, "variant"),
])
def test_bad_index_settings_are_refused(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        lsh.LSHIndex(**kwargs)


def test_bad_vectors_and_queries_are_refused():
    x = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.raises(ValueError, match="empty: call fit"):
        lsh.LSHIndex().query(x)
    index = lsh.LSHIndex().fit(x)
    with pytest.raises(ValueError, match="dimension 3 but the index was built on dimension 4"):
        index.query(x[:, :3])
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lsh.LSHIndex().fit(bad)
    with pytest.raises(ValueError, match="NaN"):
        index.query(bad)
    with pytest.raises(ValueError, match="empty"):
        lsh.LSHIndex().fit(np.empty((0, 4)))
    with pytest.raises(ValueError, match="2-dimensional"):
        lsh.LSHIndex().fit(x[0])
    with pytest.raises(ValueError, match="width"):
        lsh.collision_probability(1.0, 0.0)
    with pytest.raises(ValueError, match="too small"):
        lsh.LSHIndex(width=1e-300).fit(x)


def test_huge_requests_are_refused_before_allocating():
    with pytest.raises(ValueError, match="GiB"):
        lsh.hash_functions(100_000, 10_000, 1.0)
    with pytest.raises(ValueError, match="GiB"):
        lsh.clustered_vectors(10**9, 64)


# --------------------------------------------------------------------------- user embeddings


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
    mean = lsh.pool_user_vectors(ratings, items)
    assert mean.ids.tolist() == [1, 2] and mean.n_items.tolist() == [2, 2]
    assert np.allclose(mean.vectors, [[0.5, 0.5], [0.0, 0.5]])  # user 1 liked 10, 20; user 2 liked 30, 40
    assert np.allclose(lsh.pool_user_vectors(ratings, items, pooling="sum").vectors, [[1, 1], [0, 1]])
    assert np.allclose(lsh.pool_user_vectors(ratings, items, pooling="rating").vectors[0], [5 / 9, 4 / 9])
    recency = lsh.pool_user_vectors(ratings, items, pooling="recency", half_life_days=10.0).vectors
    assert np.allclose(recency[0], [0.5 / 1.5, 1 / 1.5])  # item 10 is one half-life older than item 20
    centred = lsh.pool_user_vectors(ratings, items, centre=True).vectors
    assert np.allclose(centred, mean.vectors - items.vectors.mean(axis=0))


def test_embedding_recall_excludes_rated_items_and_has_the_common_shape(tiny):
    items, ratings = tiny
    users = lsh.pool_user_vectors(ratings, items, centre=True)
    recs = lsh.embedding_recall(users, items, [1, 2], 2, exclude=ratings)
    assert list(recs.columns) == ["userId", "movieId", "score"]
    assert set(recs.loc[recs.userId == 1, "movieId"]) == {30}  # 10, 20, 40 were rated
    with pytest.raises(ValueError, match="different spaces"):
        lsh.embedding_recall(users, ItemVectors(items.ids, np.ones((4, 3))), [1], 2)


def test_procrustes_recovers_a_rotation():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(100, 5)) + 3.0
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    target = ItemVectors(np.arange(100), base)
    source = ItemVectors(np.arange(100), (base - base.mean(axis=0)) @ rotation.T + 7.0)
    aligned, fit = lsh.align_procrustes(source, target)
    assert np.allclose(aligned.vectors, base)
    assert fit["relative_error"].iloc[1] < 1e-9 < fit["relative_error"].iloc[0]


def test_segment_neighbour_share_sees_planted_groups():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 4)) * 5
    seg = np.repeat([0, 1, 2], 30)
    users = lsh.UserVectors(np.arange(90), centres[seg] + rng.normal(size=(90, 4)), np.ones(90, dtype=np.int64))
    got = lsh.segment_neighbour_share(users, pd.Series(seg, index=np.arange(90)), n_neighbours=5)
    assert got["same_segment_share"] > 0.95 and got["chance"] == pytest.approx(1 / 3)


def test_nearest_movies_with_a_wide_index_is_the_exact_list():
    rng = np.random.default_rng(5)
    items = ItemVectors(np.arange(1, 61) * 10, rng.normal(size=(60, 4)))
    movies = pd.DataFrame({"movieId": items.ids, "title": [f"film {i}" for i in items.ids]})
    ratings = pd.DataFrame({"userId": [7, 7, 7], "movieId": [10, 20, 30], "rating": [5.0, 4.0, 4.5],
                            "timestamp": [1, 2, 3]})
    users = lsh.pool_user_vectors(ratings, items, centre=True)
    index = lsh.LSHIndex(1, 20, 100.0, seed=1).fit(items.centred().normalized())
    table = lsh.nearest_movies(7, users, items, index, movies, k=5, exclude=ratings)
    assert table["in_both"].all() and len(table) == 5
    assert not set(table["exact_title"]) & {"film 10", "film 20", "film 30"}  # rated films are left out
    assert (np.diff(table["exact_cosine"]) <= 1e-12).all()


def test_user_embedding_experiment_on_a_planted_toy():
    rng = np.random.default_rng(0)
    n_items, n_users = 40, 60
    taste = rng.integers(0, 2, n_users)  # two groups of users, each liking its own half of the films
    rows = []
    for u in range(n_users):
        liked = rng.choice(np.arange(20) + 20 * taste[u], 8, replace=False)
        rows += [(u + 1, int(m) + 1, 4.5, t) for t, m in enumerate(liked)]
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    centres = np.array([[3.0, 0.0], [0.0, 3.0]])
    model = ItemVectors(np.arange(1, n_items + 1), centres[np.arange(n_items) // 20] + rng.normal(size=(n_items, 2)))
    train = ratings[ratings["timestamp"] < 6]
    test = ratings[ratings["timestamp"] >= 6]
    segments = pd.Series(taste, index=np.arange(1, n_users + 1))
    table = lsh.user_embedding_experiment(train, test, model, other_model=model, segments=segments, k=5,
                                          n_users=None)
    shared = table.query("scoring == 'centred cosine' and pooling == 'mean'")["recall@5"].iloc[0]
    assert shared > 1.8 * table.attrs["chance"]  # a list from the right half of the films (random: k / n_items)
    assert table.query("user_vectors == 'independent, Procrustes-aligned'")["recall@5"].iloc[0] == pytest.approx(shared)
    assert table["same_segment_share"].dropna().min() > 0.9
