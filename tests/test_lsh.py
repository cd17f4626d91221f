"""Chapter 07: the LSH hash, index and theory, and user embeddings in the item space."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from sparrow_course import lsh
from sparrow_course.embeddings import ItemVectors, pool_user_vectors


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
    ({"k": 0}, ValueError, r"\bk must be"), ({"n_tables": 0}, ValueError, "n_tables"),
    ({"k": 2.0}, TypeError, r"\bk must be an integer"), ({"variant": "sparky"}, ValueError, "variant"),
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


# --------------------------------------------------------------------------- LSH for a user


def test_nearest_movies_with_a_wide_index_is_the_exact_list():
    rng = np.random.default_rng(5)
    items = ItemVectors(np.arange(1, 61) * 10, rng.normal(size=(60, 4)))
    movies = pd.DataFrame({"movieId": items.ids, "title": [f"film {i}" for i in items.ids]})
    ratings = pd.DataFrame({"userId": [7, 7, 7], "movieId": [10, 20, 30], "rating": [5.0, 4.0, 4.5],
                            "timestamp": [1, 2, 3]})
    users = pool_user_vectors(ratings, items, centre=True)
    index = lsh.LSHIndex(1, 20, 100.0, seed=1).fit(items.centred().normalized())
    table = lsh.nearest_movies(7, users, items, index, movies, k=5, exclude=ratings)
    assert table["in_both"].all() and len(table) == 5
    assert not set(table["exact_title"]) & {"film 10", "film 20", "film 30"}  # rated films are left out
    assert (np.diff(table["exact_cosine"]) <= 1e-12).all()


# --------------------------------------------------------------------------- the batched index


def test_wide_buckets_and_many_tables_equal_brute_force_on_a_large_batch():
    # many queries in several blocks, items in every bucket of every table: the answer is exact search's
    rng = np.random.default_rng(11)
    x, q = rng.normal(size=(3000, 6)), rng.normal(size=(700, 6))
    exact_idx, exact_dist = lsh.exact_top_k(x, q, 10)
    got = lsh.LSHIndex(1, 12, 1e4, seed=3).fit(x).query(q, 10)
    assert np.array_equal(got.indices, exact_idx) and np.allclose(got.distances, exact_dist)
    assert (got.n_candidates == 3000).all()


def test_batched_query_equals_one_query_at_a_time():
    x = lsh.clustered_vectors(4000, 8, n_clusters=20, seed=2)
    q = x[:300] + 0.05 * np.random.default_rng(0).normal(size=(300, 8))
    index = lsh.LSHIndex(3, 10, 1.5, seed=4).fit(x)
    batch = index.query(q, 7)
    for row in (0, 17, 150, 299):
        one = index.query(q[row:row + 1], 7)
        assert np.array_equal(one.indices[0], batch.indices[row])
        assert one.n_candidates[0] == batch.n_candidates[row]


def test_top_k_beyond_the_catalogue_is_capped_at_the_catalogue():
    x = np.random.default_rng(0).normal(size=(40, 3))
    result = lsh.LSHIndex(1, 20, 100.0, seed=0).fit(x).query(x[:1], 10**9)
    assert result.indices.shape == (1, 40) and sorted(result.indices[0]) == list(range(40))
    assert lsh.exact_top_k(x, x[:1], 10**9)[0].shape == (1, 40)


def test_a_query_with_no_candidate_gets_empty_slots():
    x = np.random.default_rng(0).normal(size=(200, 4))
    result = lsh.LSHIndex(8, 2, 0.01, seed=0).fit(x).query(x[:3] + 50.0, 5)
    assert (result.indices == -1).all() and np.isinf(result.distances).all() and (result.n_candidates == 0).all()


def test_index_memory_is_reported_per_table():
    x = np.random.default_rng(0).normal(size=(1000, 8))
    index = lsh.LSHIndex(4, 16, 1.0, seed=0).fit(x)
    per_item = index.nbytes / 1000
    assert 16 * (8 + 4) + 8 * 8 <= per_item <= 16 * (8 + 4) + 8 * 8 + 40  # keys, int32 rows, vectors, a little more
    assert lsh.LSHIndex().nbytes == 0


def test_default_width_comes_from_the_data_and_finds_neighbours_at_any_scale():
    rng = np.random.default_rng(5)
    x, q = rng.normal(size=(20_000, 32)), rng.normal(size=(100, 32))
    exact, _ = lsh.exact_top_k(x, q, 10)
    for scale in (1.0, 1000.0):
        index = lsh.LSHIndex().fit(scale * x)
        assert index.width is None and index.bucket_width > 0
        result = index.query(scale * q, 10)
        assert lsh.neighbour_recall(result.indices, exact).mean() >= 0.5
    assert lsh.LSHIndex().fit(1000 * x).bucket_width == pytest.approx(1000 * lsh.LSHIndex().fit(x).bucket_width)
    with pytest.raises(ValueError, match="call fit"):
        lsh.LSHIndex().bucket_width


def test_tune_index_reaches_the_target_with_the_fewest_candidates():
    data = lsh.clustered_vectors(20_200, 16, seed=6)
    x, q = data[:20_000], data[20_000:]
    index, tried = lsh.tune_index(x, q, target_recall=0.9, tables=(4, 16, 32))
    assert tried["chosen"].sum() == 1 and len(tried) == 3
    chosen = tried[tried["chosen"]].iloc[0]
    assert chosen["recall@10"] >= 0.9 and index.n_tables == chosen["n_tables"] and index.k == chosen["k"]
    reaching = tried[tried["recall@10"] >= 0.9]
    assert chosen["candidate_share"] == reaching["candidate_share"].min()
    exact, _ = lsh.exact_top_k(x, q, 10)
    assert lsh.neighbour_recall(index.query(q, 10).indices, exact).mean() == pytest.approx(chosen["recall@10"])


def test_scaling_experiment_has_exact_and_lsh_rows_per_size():
    table = lsh.scaling_experiment((2000, 8000), dim=8, n_queries=50, tables=(8,), seed=1)
    assert table["n_items"].tolist() == [2000, 2000, 8000, 8000]
    assert table["method"].tolist() == ["exact", "LSH"] * 2
    lsh_rows = table[table["method"] == "LSH"]
    assert (lsh_rows["candidate_share"] < 1).all() and (lsh_rows["recall@10"] > 0.5).all()


# --------------------------------------------------------------------------- the offset b in Spark's hash


def test_spark_with_offset_shares_spark_directions():
    a = lsh.hash_functions(6, 5, 0.5, variant="spark", seed=9)
    b = lsh.hash_functions(6, 5, 0.5, variant="spark+offset", seed=9)
    assert np.array_equal(a.directions, b.directions) and (a.offsets == 0).all()
    assert ((b.offsets >= 0) & (b.offsets < 0.5)).all() and b.offsets.std() > 0


def test_offset_experiment_matches_the_index_and_finds_the_coarse_regime():
    x = lsh.clustered_vectors(3000, 10, n_clusters=30, seed=3)
    x = x - x.mean(axis=0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:200] + 0.02 * np.random.default_rng(1).normal(size=(200, 10))
    table = lsh.offset_experiment(x[200:], q, width_ratios=(0.3, 10.0), tables=(1, 3), n_repeats=6, seed=2)
    assert len(table) == 4 and (table["gain_se"] >= 0).all()
    # the same measurement through the index itself (same functions: seeds 2, 3, ..., 7), with and without b
    row = table[(table["width_over_spread"] == 0.3) & (table["n_tables"] == 3)].iloc[0]
    exact, _ = lsh.exact_top_k(x[200:], q, 10)
    for variant, column in (("spark", "recall_without_b"), ("spark+offset", "recall_with_b")):
        recalls = [lsh.neighbour_recall(lsh.LSHIndex(1, 3, row["width"], variant=variant, seed=2 + r).fit(x[200:])
                                        .query(q, 10).indices, exact).mean() for r in range(6)]
        assert np.mean(recalls) == pytest.approx(row[column])
    coarse = table[(table["width_over_spread"] == 10.0) & (table["n_tables"] == 1)].iloc[0]
    fine = table[(table["width_over_spread"] == 0.3) & (table["n_tables"] == 3)].iloc[0]
    assert coarse["gain"] > 2 * coarse["gain_se"]        # one coarse table: the edge at 0 cuts the crowd
    assert abs(fine["gain"]) <= 3 * fine["gain_se"] + 0.01  # fine buckets: each direction moves the edges anyway


# --------------------------------------------------------------------------- bad inputs: type, and a message naming the argument

_X = np.random.default_rng(0).normal(size=(60, 4))
_RATINGS_STR = pd.DataFrame({"userId": ["a", "b", "a"], "movieId": [10, 20, 30], "rating": [5.0, 4.0, 4.5],
                             "timestamp": [1, 2, 3]})
_ITEMS = ItemVectors(np.array([10, 20, 30]), np.random.default_rng(1).normal(size=(3, 4)))

BAD_CALLS = [
    ("width zero", lambda: lsh.LSHIndex(width=0.0), ValueError, r"\bwidth\b"),
    ("width nan", lambda: lsh.LSHIndex(width=float("nan")), ValueError, r"\bwidth\b"),
    ("width text", lambda: lsh.LSHIndex(width="1"), TypeError, r"\bwidth\b"),
    ("width_factor negative", lambda: lsh.LSHIndex(width_factor=-1.0), ValueError, r"\bwidth_factor\b"),
    ("k float", lambda: lsh.LSHIndex(k=2.5), TypeError, r"\bk\b"),
    ("k too large", lambda: lsh.LSHIndex(k=65), ValueError, r"\bk\b"),
    ("n_tables zero", lambda: lsh.LSHIndex(n_tables=0), ValueError, r"\bn_tables\b"),
    ("variant unknown", lambda: lsh.LSHIndex(variant="spark-ish"), ValueError, r"\bvariant\b"),
    ("seed text", lambda: lsh.LSHIndex(seed="x"), TypeError, r"\bseed\b"),
    ("vectors text", lambda: lsh.LSHIndex().fit("abc"), TypeError, r"\bvectors\b"),
    ("vectors inf", lambda: lsh.LSHIndex().fit(np.full((3, 2), np.inf)), ValueError, r"\bvectors\b"),
    ("queries 1-d", lambda: lsh.LSHIndex(width=1.0).fit(_X).query(_X[0]), ValueError, r"\bqueries\b"),
    ("queries other dimension", lambda: lsh.LSHIndex(width=1.0).fit(_X).query(_X[:, :2]), ValueError, r"\bqueries\b"),
    ("top_k zero", lambda: lsh.LSHIndex(width=1.0).fit(_X).query(_X, 0), ValueError, r"\btop_k\b"),
    ("top_k float", lambda: lsh.LSHIndex(width=1.0).fit(_X).query(_X, 2.5), TypeError, r"\btop_k\b"),
    ("candidates before fit", lambda: lsh.LSHIndex().candidates(_X), ValueError, r"\bfit\b"),
    ("distance negative", lambda: lsh.collision_probability(-1.0, 1.0), ValueError, r"\bdistance\b"),
    ("distance nan", lambda: lsh.collision_probability(float("nan"), 1.0), ValueError, r"\bdistance\b"),
    ("spark distance negative", lambda: lsh.spark_collision_probability(-1.0, 1.0, 3), ValueError, r"\bdistance\b"),
    ("spark dim zero", lambda: lsh.spark_collision_probability(1.0, 1.0, 0), ValueError, r"\bdim\b"),
    ("candidate p above 1", lambda: lsh.candidate_probability(1.5, 2, 3), ValueError, r"\bp\b"),
    ("target_recall above 1", lambda: lsh.choose_parameters([1.0], [2.0], target_recall=1.5), ValueError,
     r"\btarget_recall\b"),
    ("tune tables empty", lambda: lsh.tune_index(_X, _X[:5], tables=()), ValueError, r"\btables\b"),
    ("tune margin text", lambda: lsh.tune_index(_X, _X[:5], margin="a"), TypeError, r"\bmargin\b"),
    ("offset width ratio zero", lambda: lsh.offset_experiment(_X, _X[:5], width_ratios=(0.0,)), ValueError,
     r"\bwidth_ratios\[i\]"),
    ("offset one repeat", lambda: lsh.offset_experiment(_X, _X[:5], n_repeats=1), ValueError, r"\bn_repeats\b"),
    ("scaling sizes tiny", lambda: lsh.scaling_experiment((10,)), ValueError, r"\bsizes\[i\]"),
    ("pool string user ids", lambda: pool_user_vectors(_RATINGS_STR, _ITEMS), TypeError, r"\buserId\b"),
]


@pytest.mark.parametrize("call,exc,words", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_inputs_get_the_package_error_naming_the_argument(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_infinite_distance_never_collides():
    assert lsh.collision_probability(np.inf, 1.0) == 0.0
    assert lsh.spark_collision_probability(np.inf, 0.5, 4) == 0.0
    assert lsh.collision_probability(np.array([0.0, np.inf]), 1.0).tolist() == [1.0, 0.0]


# --------------------------------------------------------------------------- the settings explorer


def test_settings_explorer_agrees_with_the_grid_and_the_theory():
    x = lsh.clustered_vectors(3000, 10, n_clusters=30, seed=4)
    q = x[:100] + 0.05 * np.random.default_rng(2).normal(size=(100, 10))
    explore = lsh.SettingsExplorer(x, q, seed=7)
    got = explore(k=3, n_tables=8, width=2.0)
    grid = lsh.recall_work_grid(x, q, ks=(3,), tables=(8,), widths=(2.0,), seed=7)
    assert got["recall"] == pytest.approx(grid.loc[0, "recall@10"])
    assert got["candidate_share"] == pytest.approx(grid.loc[0, "candidate_share"])
    p = lsh.collision_probability(explore.near, 2.0)
    assert got["predicted_recall"] == pytest.approx(np.mean(lsh.candidate_probability(p, 3, 8)))
    assert got["probability"][0] == 1.0 and (np.diff(got["probability"]) <= 1e-12).all()
    wider = explore(k=3, n_tables=8, width=4.0)
    assert wider["candidate_share"] > got["candidate_share"] and wider["recall"] >= got["recall"]
    spark = lsh.SettingsExplorer(x, q, variant="spark", seed=7)(k=1, n_tables=3, width=0.5)
    assert 0 <= spark["predicted_recall"] <= 1 and 0 < spark["candidate_share"] <= 1
    with pytest.raises(ValueError, match=r"\bwidth\b"):
        explore(width=0.0)


def test_settings_explorer_draws_and_summarises_its_result():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparrow_course import explorers

    x = lsh.clustered_vectors(1500, 6, n_clusters=10, seed=1)
    compute = lsh.SettingsExplorer(x[:1400], x[1400:], seed=1)
    explorer = explorers.Explorer(compute, lsh.draw_settings,
                                  {"k": explorers.slider(1, 8, 1, 2), "n_tables": explorers.slider(1, 32, 1, 4),
                                   "width": explorers.slider(0.1, 4.0, 0.1, 1.0)}, lsh.settings_summary)
    fig = plt.figure()
    result = compute(k=2, n_tables=4, width=1.0)
    lsh.draw_settings(result, fig)
    assert len(fig.axes) == 2 and "recall" in fig._suptitle.get_text()
    plt.close(fig)
    text = lsh.settings_summary(result)
    assert f"recall@10 {result['recall']:.3f}" in text and "theory" in text
    assert explorer.expected(k=3).text != explorer.expected().text


def test_nearest_movies_caps_k_at_the_catalogue():
    rng = np.random.default_rng(6)
    items = ItemVectors(np.arange(1, 21) * 10, rng.normal(size=(20, 4)))
    movies = pd.DataFrame({"movieId": items.ids, "title": [f"film {i}" for i in items.ids]})
    ratings = pd.DataFrame({"userId": [7, 7], "movieId": [10, 20], "rating": [5.0, 4.0], "timestamp": [1, 2]})
    users = pool_user_vectors(ratings, items, centre=True)
    index = lsh.LSHIndex(1, 20, 100.0, seed=1).fit(items.centred().normalized())
    table = lsh.nearest_movies(7, users, items, index, movies, k=10**9, exclude=ratings)
    assert len(table) == 18 and table["in_both"].all()
