"""Chapter 01 package: planted task, SparrowLens features, structures (MLP, FM, DIN), training, reading a sweep."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparrow_course import depth, structures
from sparrow_course.datasets import POSITIVE_THRESHOLD
from sparrow_course.metrics import auc
from sparrow_course.exercises import ch01

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance")


def synthetic(n_users: int = 40, n_movies: int = 30, per_user: int = 12, seed: int = 0):
    """A small ratings/movies pair: bias + dot-product ratings at random times, half stars."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, n_users + 1), per_user)
    movies = np.concatenate([rng.choice(n_movies, per_user, replace=False) + 101 for _ in range(n_users)])
    taste, factor = rng.normal(size=(n_users, 3)), rng.normal(size=(n_movies, 3))
    score = 3.2 + (taste[users - 1] * factor[movies - 101]).sum(axis=1) * 0.6 + rng.normal(0, 0.5, len(users))
    ratings = pd.DataFrame({
        "userId": users,
        "movieId": movies,
        "rating": np.clip(np.round(score * 2) / 2, 0.5, 5.0),
        "timestamp": rng.integers(1_000_000, 2_000_000, len(users)),
    })
    table = pd.DataFrame({
        "movieId": np.arange(101, 101 + n_movies),
        "title": [f"Film {i}" for i in range(n_movies)],
        "genres": ["|".join(sorted(rng.choice(GENRES, rng.integers(1, 3), replace=False))) for _ in range(n_movies)],
    })
    return ratings, table


@pytest.fixture(scope="module")
def frames():
    return synthetic()


@pytest.fixture(scope="module")
def data(frames):
    return depth.build_features(*frames)


# --------------------------------------------------------------------------- features

def test_shapes_and_labels(frames, data):
    ratings, movies = frames
    assert len(data.train) + len(data.valid) + len(data.test) == len(ratings)
    for part in (data.train, data.valid, data.test):
        n = len(part)
        assert part.inputs["fields"].shape == (n, 2) and part.inputs["fields"].dtype == np.int32
        assert part.inputs["dense"].shape == (n, len(GENRES) + len(depth.STATS))
        assert part.inputs["dense"].dtype == np.float32
        assert part.inputs["history"].shape == (n, 10)
        assert set(np.unique(part.labels)) <= {0.0, 1.0}
    assert data.spec.dense[:len(GENRES)] == tuple(f"genre_{g}" for g in GENRES)
    assert data.vocabulary("user") == ratings["userId"].nunique() + 1
    positives = sum(p.labels.sum() for p in (data.train, data.valid, data.test))
    assert positives == (ratings["rating"] >= POSITIVE_THRESHOLD).sum()


def test_genres_are_the_movies_multi_hot(frames, data):
    ratings, movies = frames
    # every genre row of a sample is one of the movies' rows, and each movie has at least one genre
    assert (data.train.inputs["dense"][:, :len(GENRES)].sum(axis=1) >= 1).all()
    rows, names = depth.movie_genres(movies, np.array([101, 999]))
    assert names == GENRES
    expected = [g in movies.loc[0, "genres"].split("|") for g in GENRES]
    assert rows[0].tolist() == [float(e) for e in expected]
    assert rows[1].sum() == 0  # a movie missing from the table has no genres


def test_user_split_holds_out_each_users_latest_ratings(frames):
    ratings, movies = frames
    frame = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    in_training, in_fit = depth._split_masks(frame, 0.2, 0.1, "user")
    for _, group in frame.assign(training=in_training, fit=in_fit).groupby("userId"):
        assert group["training"].any(), "every user keeps ratings to learn from"
        test_times, train_times = group.loc[~group["training"], "timestamp"], group.loc[group["training"], "timestamp"]
        assert test_times.min() >= train_times.max()
        assert (~group["training"]).sum() == int(np.ceil(0.2 * len(group)))
        valid_times = group.loc[group["training"] & ~group["fit"], "timestamp"]
        assert valid_times.min() >= group.loc[group["fit"], "timestamp"].max()


def test_global_split_is_one_cut_in_time(frames):
    ratings, _ = frames
    frame = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    in_training, in_fit = depth._split_masks(frame, 0.2, 0.1, "global")
    ts = frame["timestamp"].to_numpy()
    assert ts[~in_training].min() > ts[in_training].max()
    assert ts[in_training & ~in_fit].min() > ts[in_fit].max()
    assert abs((~in_training).mean() - 0.2) < 0.02
    data = depth.build_features(*synthetic(), split="global")
    assert data.params["split"] == "global" and len(data.test) > 0


def test_past_rating_sums_count_only_earlier_training_ratings():
    frame = pd.DataFrame({"userId": [1, 1, 2, 1, 1, 1], "rating": [4.0, 2.0, 5.0, 3.0, 1.0, 5.0],
                          "timestamp": [10, 20, 20, 20, 30, 40]})
    counted = np.array([True, True, True, True, True, False])
    sums = depth.past_rating_sums(frame, counted, "userId")
    # user 1: nothing before t=10; the two ratings at t=20 see only t=10; t=30 sees 4+2+3; t=40 sees all four
    assert sums[:, 0].tolist() == [0, 1, 0, 1, 3, 4]
    assert sums[:, 1].tolist() == [0, 4, 0, 4, 9, 10]
    assert sums[:, 2].tolist() == [0, 16, 0, 16, 29, 30]
    # an uncounted rating (the last, t=40) never feeds anyone: a later one would not see it
    later = pd.concat([frame, pd.DataFrame({"userId": [1], "rating": [2.0], "timestamp": [50]})], ignore_index=True)
    assert depth.past_rating_sums(later, np.append(counted, True), "userId")[-1, 0] == 4


def test_features_use_no_test_period_data(frames):
    """Leakage test: rewrite every test-period rating and the features stay bit-for-bit the same."""
    ratings, movies = frames
    before = depth.build_features(ratings, movies)
    frame = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    in_training, _ = depth._split_masks(frame, 0.2, 0.1, "user")
    test_rows = frame.index[~in_training]
    changed = frame.copy()
    changed.loc[test_rows, "rating"] = 5.5 - changed.loc[test_rows, "rating"]  # flip every test rating
    after = depth.build_features(changed.sample(frac=1.0, random_state=1), movies)  # row order must not matter
    for name in ("train", "valid", "test"):
        for key in ("fields", "dense", "history"):
            np.testing.assert_array_equal(getattr(before, name).inputs[key], getattr(after, name).inputs[key])
    np.testing.assert_array_equal(before.train.labels, after.train.labels)
    assert (before.test.labels != after.test.labels).any(), "the test labels did change: the check has teeth"


def test_a_sample_never_sees_its_own_rating(frames):
    ratings, movies = frames
    frame = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    in_training, in_fit = depth._split_masks(frame, 0.2, 0.1, "user")
    row = int(np.flatnonzero(in_fit)[-1])  # a late training sample
    changed = frame.copy()
    changed.loc[row, "rating"] = 0.5 if frame.loc[row, "rating"] > 2.5 else 5.0
    sums = depth.past_rating_sums(frame, in_training, "userId")
    sums_changed = depth.past_rating_sums(changed, in_training, "userId")
    np.testing.assert_array_equal(sums[row], sums_changed[row])
    user = frame.loc[row, "userId"]
    later = (frame["userId"] == user) & (frame["timestamp"] > frame.loc[row, "timestamp"])
    assert later.any() and (sums[later.to_numpy(), 1] != sums_changed[later.to_numpy(), 1]).all()


def test_ids_unseen_in_training_share_row_zero():
    ratings, movies = synthetic()
    late = pd.DataFrame({"userId": [1], "movieId": [130 + 1], "rating": [4.0], "timestamp": [3_000_000]})
    movies = pd.concat([movies, pd.DataFrame({"movieId": [131], "title": ["New"], "genres": ["Drama"]})])
    data = depth.build_features(pd.concat([ratings, late], ignore_index=True), movies)
    assert data.test.inputs["fields"][-1, 1] == 0  # the film was first rated in the test period
    assert data.train.inputs["fields"][:, 1].min() >= 1


def test_sample_users(frames):
    ratings, _ = frames
    some = depth.sample_users(ratings, 10, seed=3)
    assert some["userId"].nunique() == 10
    assert set(some["userId"]) <= set(ratings["userId"])
    assert depth.sample_users(ratings, None) is ratings
    with pytest.raises(ValueError, match="n_users"):
        depth.sample_users(ratings, 0)
    assert not depth.sample_users(ratings, 10, seed=3).equals(depth.sample_users(ratings, 10, seed=4))


@pytest.mark.parametrize("kwargs,match", [
    (dict(split="random"), "split must be one of"),
    (dict(test_fraction=1.0), "test_fraction"),
    (dict(valid_fraction=0), "valid_fraction"),
])
def test_build_features_rejects_bad_options(frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        depth.build_features(*frames, **kwargs)


def test_build_features_rejects_bad_data(frames):
    ratings, movies = frames
    with pytest.raises(ValueError, match="empty"):
        depth.build_features(ratings.iloc[:0], movies)
    with pytest.raises(ValueError, match="lacks column"):
        depth.build_features(ratings.drop(columns="timestamp"), movies)
    with pytest.raises(TypeError, match="DataFrame"):
        depth.build_features(ratings.to_numpy(), movies)
    with pytest.raises(ValueError, match="numeric"):
        depth.build_features(ratings.assign(rating="good"), movies)
    with pytest.raises(ValueError, match="left the test period empty"):
        depth.build_features(ratings.assign(userId=np.arange(len(ratings))), movies)  # one rating per user


def test_history_is_earlier_training_positives_only(frames):
    users = np.array([1, 1, 1, 1, 2, 1])
    ts = np.array([10, 20, 20, 30, 15, 40])
    items = np.array([5, 6, 7, 8, 9, 4])
    counted = np.array([True, True, True, False, True, True])
    h = depth.recent_positives(users, ts, items, counted, 3)
    assert h.tolist() == [[-1, -1, -1], [5, -1, -1], [5, -1, -1], [7, 6, 5], [-1, -1, -1], [7, 6, 5]]
    # SparrowLens: no history item is a test-period rating or a negative one
    ratings, movies = synthetic()
    data = depth.build_features(ratings, movies, history_length=4)
    assert (data.test.inputs["history"] >= -1).all() and (data.train.inputs["history"] >= 0).any()


# --------------------------------------------------------------------------- the planted task

@pytest.fixture(scope="module")
def task():
    return depth.make_click_task(n_train=3000, n_valid=1500, n_test=3000, seed=7)


def test_click_task_shapes_padding_and_seed(task):
    assert task.spec.fields == ("segment", "age_group", "hour", "genre", "decade", "item")
    f, h = task.train.inputs["fields"], task.train.inputs["history"]
    assert f.shape == (3000, 6) and h.shape == (3000, 10)
    assert (f < np.array(task.spec.vocab)).all() and (f >= 0).all()
    # padding only after the real items, and some users have no history at all
    real = h >= 0
    assert (np.diff(real.astype(int), axis=1) <= 0).all() and (~real.any(axis=1)).any() and real.all(axis=1).any()
    again = depth.make_click_task(n_train=3000, n_valid=1500, n_test=3000, seed=7)
    np.testing.assert_array_equal(again.test.labels, task.test.labels)
    other = depth.make_click_task(n_train=3000, n_valid=1500, n_test=3000, seed=8)
    assert not np.array_equal(other.test.inputs["fields"], task.test.inputs["fields"])


def test_planted_interactions_are_present_and_measurable(task):
    effects = depth.planted_effects(task)
    assert effects.loc["all (Bayes)", "auc_without"] > 0.8
    for term in depth.PLANTED:
        assert effects.loc[term, "auc_lost"] > 0.015, term  # each planted term carries signal
    # an interaction is invisible to main effects: a logistic regression on one-hot fields gains from the cross
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    def fitted_auc(columns):
        enc = OneHotEncoder(handle_unknown="ignore").fit(columns(task.train))
        model = LogisticRegression(max_iter=500).fit(enc.transform(columns(task.train)), task.train.labels)
        return auc(task.test.labels, model.decision_function(enc.transform(columns(task.test))))

    main = fitted_auc(lambda s: s.inputs["fields"][:, :5])
    cross = fitted_auc(lambda s: np.column_stack([s.inputs["fields"][:, :5],
                                                  s.inputs["fields"][:, 0] * 8 + s.inputs["fields"][:, 3]]))
    assert cross > main + 0.02
    flat = depth.make_click_task(n_train=3000, n_valid=1500, n_test=3000, seed=7, interaction_scale=0, sequence_scale=0)
    assert all(np.all(flat.test.truth[t] == 0) for t in depth.PLANTED[1:])


# --------------------------------------------------------------------------- structures

def test_attention_weights_sum_to_one_over_valid_history_and_ignore_padding():
    rng = np.random.default_rng(0)
    k, b, h, d, u = 2, 5, 4, 3, structures.ATTENTION_UNITS
    items = rng.normal(size=(k, b, h, d)).astype(np.float32)
    cand = rng.normal(size=(k, b, d)).astype(np.float32)
    mask = np.array([[True, True, False, False], [True, False, False, False], [True] * 4,
                     [False] * 4, [True, True, True, False]])[None].repeat(k, axis=0)
    unit = (rng.normal(size=(k, 3 * d, u)).astype(np.float32), rng.normal(size=(k, u)).astype(np.float32),
            rng.normal(size=(k, u)).astype(np.float32), np.zeros(k, np.float32))
    w = structures.attention_weights(items, cand, mask, unit).numpy()
    assert np.allclose(w.sum(axis=-1)[:, [0, 1, 2, 4]], 1.0, atol=1e-6)
    assert (w[~mask] == 0).all() and (w[:, 3] == 0).all()  # padding and an empty history get no weight
    changed = np.where(mask[..., None], items, 99.0).astype(np.float32)  # rewrite the padded slots
    assert np.allclose(structures.attention_weights(changed, cand, mask, unit).numpy(), w)


def test_din_model_ignores_what_sits_in_padding(task):
    model = structures.build_model(task.spec, 1, kind="din", seeds=(0, 1))
    x = {k: np.repeat(v[:64, None], 2, axis=1) for k, v in task.train.inputs.items()}
    out = model(x).numpy()
    assert out.shape == (64, 2) and not np.allclose(out[:, 0], out[:, 1])  # two seeds, two models
    padded = x["history"] < 0
    y = dict(x, history=np.where(padded, -7, x["history"]))  # any negative id is padding
    np.testing.assert_allclose(model(y).numpy(), out, rtol=1e-6)


def test_fm_term_equals_its_closed_form():
    e = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)  # 3 examples, 4 fields, d = 5
    pairs = sum(np.sum(e[:, i] * e[:, j], axis=-1) for i in range(4) for j in range(i + 1, 4))
    np.testing.assert_allclose(structures.fm_term(e).numpy(), pairs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind,d", [("mlp", 0), ("mlp", 2), ("fm", 1), ("din", 1), ("din", 0)])
def test_parameter_count_closed_form_matches_keras(task, kind, d):
    spec = task.spec
    n_in = 6 * 4 + 4  # six fields and the pooled history, d = 4
    dense = (n_in + 1) if d == 0 else (n_in + 1) * 8 + (d - 1) * 9 * 8 + 9
    attention = (3 * 4 + 1) * structures.ATTENTION_UNITS + structures.ATTENTION_UNITS + 1 if kind == "din" else 0
    expected = sum(spec.vocab) * 4 + dense + attention
    assert structures.parameter_count(spec, d, kind=kind, width=8, embedding_dim=4) == expected
    model = structures.build_model(spec, d, kind=kind, seeds=(0, 1, 2), width=8, embedding_dim=4)
    assert model.count_params() == 3 * expected


def test_multiply_adds(task):
    spec = task.spec
    n_in = 6 * 8 + 8
    assert structures.multiply_adds(spec, 0) == n_in
    assert structures.multiply_adds(spec, 3, width=10) == n_in * 10 + 2 * 10 * 10 + 10
    assert structures.multiply_adds(spec, 0, kind="fm") == n_in + 7 * 8
    u = structures.ATTENTION_UNITS
    assert structures.multiply_adds(spec, 0, kind="din") == n_in + 10 * (2 * 8 + 3 * 8 * u + u)
    costs = [structures.multiply_adds(spec, d) for d in range(7)]
    assert costs == sorted(costs) and len(set(costs)) == 7


def test_mlp_parameters_closed_form():
    assert depth.mlp_parameters([10, 1]) == 11
    assert depth.mlp_parameters([10, 5, 1]) == (10 + 1) * 5 + (5 + 1) * 1
    with pytest.raises(ValueError):
        depth.mlp_parameters([10])


# --------------------------------------------------------------------------- training

FAST = dict(steps=40, batch_size=256, learning_rate=1e-2, eval_every=20, width=8, embedding_dim=4)


def test_train_returns_tidy_rows_and_curves(task):
    run = depth.train(task, 1, seeds=(3, 1), **FAST)
    assert list(run.results.columns) == list(depth.RESULT_COLUMNS) and len(run.results) == 2
    assert list(run.curves.columns) == list(depth.CURVE_COLUMNS)
    assert run.curves["step"].unique().tolist() == [0, 20, 40]  # no early stopping: every block is trained
    r = run.results.iloc[0]
    assert r["best_step"] in (0, 20, 40) and r["steps_to_converge"] <= 40
    assert r["params"] == structures.parameter_count(task.spec, 1, width=8, embedding_dim=4)
    assert run.test_scores.shape == (len(task.test), 2)
    assert auc(task.test.labels, run.test_scores[:, 0]) == pytest.approx(r["test_auc"])


def test_a_seeds_run_does_not_depend_on_its_batch_mates(task):
    together = depth.train(task, 1, seeds=(0, 5), **FAST).results.set_index("seed")
    alone = depth.train(task, 1, seeds=(5,), **FAST).results.set_index("seed")
    assert together.loc[5, "test_auc"] == pytest.approx(alone.loc[5, "test_auc"], abs=2e-4)
    assert together.loc[0, "test_auc"] != together.loc[5, "test_auc"]


def test_train_size_subsample_depends_on_the_seed(task):
    run = depth.train(task, 0, seeds=(0, 1), train_size=500, **FAST)
    assert (run.results["train_rows"] == 500).all()
    a, b = depth._pools(3000, [0, 1], 500)
    assert len(a) == 500 and not np.array_equal(a, b)
    np.testing.assert_array_equal(a, depth._pools(3000, [0, 2], 500)[0])  # the same seed, the same rows


def test_structure_recovers_planted_interactions_better_than_a_linear_model():
    toy = depth.make_click_task(n_train=10_000, n_valid=2000, n_test=4000, seed=3, sequence_scale=0)
    options = dict(steps=200, batch_size=512, learning_rate=1e-2, eval_every=50)
    linear = depth.train(toy, 0, seeds=(0,), **options).results["test_auc"].iloc[0]
    fm = depth.train(toy, 0, kind="fm", seeds=(0,), **options).results["test_auc"].iloc[0]
    deep = depth.train(toy, 1, seeds=(0,), **options).results["test_auc"].iloc[0]
    assert fm > linear + 0.03 and deep > linear + 0.03


def test_run_sweep_is_tidy_and_sorted(task):
    sweep = depth.run_sweep(task, depths=[1, 0], seeds=[1, 0], **FAST)
    assert len(sweep.results) == 4 and set(sweep.test_scores) == {("mlp", 0, 3000), ("mlp", 1, 3000)}
    keys = sweep.results[["depth", "seed"]].values.tolist()
    assert keys == sorted(keys)
    with pytest.raises(ValueError, match="depths is empty"):
        depth.run_sweep(task, depths=[], **FAST)


@pytest.mark.parametrize("call,kwargs,error,match", [
    ("train", dict(depth=-1), ValueError, "depth"),
    ("train", dict(depth=1.5), TypeError, "depth"),
    ("train", dict(depth=True), TypeError, "depth"),
    ("train", dict(depth=1, learning_rate=-1), ValueError, "learning_rate"),
    ("train", dict(depth=1, learning_rate=float("nan")), ValueError, "learning_rate"),
    ("train", dict(depth=1, steps=0), ValueError, "steps"),
    ("train", dict(depth=1, batch_size=0), ValueError, "batch_size"),
    ("train", dict(depth=1, seeds=()), ValueError, "seeds"),
    ("train", dict(depth=1, seeds=(1, 1)), ValueError, "seeds"),
    ("train", dict(depth=1, seeds=(-1,)), ValueError, "seeds"),
    ("train", dict(depth=1, kind="cnn"), ValueError, "kind"),
    ("train", dict(depth=1, train_size=10**9), ValueError, "train_size"),
    ("train", dict(depth=1, width=0), ValueError, "width"),
    ("make_click_task", dict(n_train=10), ValueError, "n_train"),
    ("make_click_task", dict(seed=-1), ValueError, "seed"),
    ("make_click_task", dict(interaction_scale=float("inf")), ValueError, "interaction_scale"),
    ("make_click_task", dict(sequence_scale="big"), TypeError, "sequence_scale"),
    ("make_click_task", dict(history_length=0), ValueError, "history_length"),
])
def test_bad_inputs_get_clear_errors(task, call, kwargs, error, match):
    fn = getattr(depth, call)
    with pytest.raises(error, match=match):
        fn(task, **kwargs) if call == "train" else fn(**kwargs)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(threshold=9), ValueError, "threshold"),
    (dict(threshold=0.5), ValueError, "threshold"),
    (dict(threshold="high"), TypeError, "threshold"),
    (dict(history_length=0), ValueError, "history_length"),
    (dict(test_fraction=float("nan")), ValueError, "test_fraction"),
])
def test_build_features_bad_values(frames, kwargs, error, match):
    with pytest.raises(error, match=match):
        depth.build_features(*frames, **kwargs)


def test_din_needs_a_history():
    spec = structures.InputSpec(fields=("a",), vocab=(3,))
    with pytest.raises(ValueError, match="history"):
        structures.build_model(spec, 1, kind="din")


# --------------------------------------------------------------------------- reading a sweep

def _results(table):
    return pd.DataFrame([{"train_rows": 100, "depth": d, "seed": s, "test_auc": v}
                         for d, values in table.items() for s, v in enumerate(values)])


def test_depth_choice_is_paired():
    # depth 2 is best; depth 1 is behind by exactly 0.002 on every seed (paired SE 0): not within
    # one SE, although the unpaired spread across seeds is large
    results = _results({0: [0.60, 0.70, 0.80], 1: [0.648, 0.748, 0.848], 2: [0.65, 0.75, 0.85],
                        3: [0.652, 0.747, 0.85]})
    table = depth.depth_choice(results).loc[100]
    assert table["best"].idxmax() == 2 and table["choice"].idxmax() == 2
    assert table.loc[1, "se_diff"] == pytest.approx(0.0, abs=1e-12)
    assert depth.simplest_within_one_se(results) == 0  # unpaired, the seed spread swallows everything
    noisy = _results({0: [0.60, 0.70, 0.80], 1: [0.66, 0.74, 0.85], 2: [0.65, 0.75, 0.85]})
    assert depth.depth_choice(noisy).loc[100]["choice"].idxmax() == 1
    with pytest.raises(ValueError, match="same seeds"):
        depth.depth_choice(results.drop(index=0))


def test_one_se_rule_agrees_with_the_exercise_reference():
    means, ses = [0.70, 0.75, 0.76, 0.758], [0.002, 0.003, 0.012, 0.004]
    runs = pd.DataFrame([{"depth": d, "test_auc": m + e * sign}
                         for d, (m, e) in enumerate(zip(means, ses)) for sign in (-1, 1)])
    stats = depth.one_se_table(runs)
    np.testing.assert_allclose(stats["se"], ses)
    assert depth.simplest_within_one_se(runs) == ch01.q2.reference(means, ses) == 1


def test_summarize_reports_standard_errors(task):
    results = _results({0: [0.6, 0.7], 1: [0.65, 0.75]}).assign(kind="mlp", test_auc_last=0.5, gap=0.1,
                                                                 steps_to_converge=10)
    table = depth.summarize(results)
    assert table.loc[("mlp", 0), "test_auc_se"] == pytest.approx(np.std([0.6, 0.7], ddof=1) / np.sqrt(2))


def test_slate_value_ranks_truth_first(task):
    scores = {"noise": np.random.default_rng(0).random(len(task.test)), "truth_again": task.test.truth["logit"]}
    table = depth.slate_value(task, scores, slate_size=10)
    assert table.loc["truth", "top_slot_ctr"] == pytest.approx(table.loc["truth_again", "top_slot_ctr"])
    assert table.loc["truth", "top_slot_ctr"] > table.loc["noise", "top_slot_ctr"] + 0.1
    with pytest.raises(ValueError, match="one score per test sample"):
        depth.slate_value(task, {"short": np.zeros(3)})


# --------------------------------------------------------------------------- what SparrowLens allows

def test_fit_user_tastes_recovers_planted_tastes():
    rng = np.random.default_rng(0)
    items, tastes = rng.normal(size=(50, 3)), rng.normal(size=(4, 3))
    users = np.repeat(np.arange(4), 30)
    rated = np.concatenate([rng.choice(50, 30, replace=False) for _ in range(4)])
    residuals = (tastes[users] * items[rated]).sum(axis=1)
    fitted = depth.fit_user_tastes(items, users, rated, residuals, n_users=5, alpha=1e-6)
    np.testing.assert_allclose(fitted[:4], tastes, atol=1e-5)
    assert (fitted[4] == 0).all()  # a user without ratings keeps a zero taste
    shrunk = depth.fit_user_tastes(items, users, rated, residuals, n_users=4, alpha=1e3)
    assert (np.linalg.norm(shrunk, axis=1) < 0.5 * np.linalg.norm(tastes, axis=1)).all()
    with pytest.raises(ValueError, match="alpha"):
        depth.fit_user_tastes(items, users, rated, residuals, n_users=4, alpha=0)
    with pytest.raises(ValueError, match="users must be"):
        depth.fit_user_tastes(items, users, rated, residuals, n_users=3, alpha=1.0)


def test_ratings_ceilings_order_on_a_small_generated_sparrowlens():
    from sparrow_course import sparrowlens

    made = sparrowlens.generate(5, n_movies=300, n_users=120, mean_ratings_per_user=30.0)
    ratings, movies = made.ratings, made.movies
    data = depth.build_features(ratings, movies)
    ceilings = depth.ratings_ceilings(data, ratings, made.truth)
    assert list(ceilings.index)[0] == "truth: biases only" and len(ceilings) == 4
    # the generator's own score is the best of them, and knowing tastes beats knowing biases only
    assert ceilings.iloc[-1] == ceilings.max() and ceilings.iloc[-1] > ceilings.iloc[0]
    with pytest.raises(ValueError, match="SparrowLens samples"):
        depth.ratings_ceilings(depth.make_click_task(n_train=100, n_valid=100, n_test=100), ratings, made.truth)


# --------------------------------------------------------------------------- the hidden stack's form

def test_initial_scales_follow_the_init():
    spec = structures.InputSpec(fields=("a",), vocab=(4,))
    he = structures.initial_weights(spec, 3, 0, width=256, init="he")
    small = structures.initial_weights(spec, 3, 0, width=256, init="small")
    glorot = structures.initial_weights(spec, 3, 0, width=256)
    assert he["kernel_1"].std() == pytest.approx(np.sqrt(2 / 256), rel=0.02)
    assert small["kernel_1"].std() == pytest.approx(0.01, rel=0.02)
    assert glorot["kernel_1"].std() == pytest.approx(np.sqrt(2 / 512), rel=0.02)
    # the default draws are those of before the knobs existed: the embeddings come first, then Glorot kernels
    np.testing.assert_array_equal(he["embeddings"], glorot["embeddings"])
    normed = structures.initial_weights(spec, 2, 0, width=8, norm="layer")
    assert {"ln_scale_0", "ln_shift_1"} <= set(normed) and "ln_scale_2" not in normed
    np.testing.assert_array_equal(normed["kernel_0"], structures.initial_weights(spec, 2, 0, width=8)["kernel_0"])


@pytest.mark.parametrize("norm,residual", [("layer", False), ("none", True), ("layer", True)])
def test_norm_and_residual_counts_match_keras(task, norm, residual):
    spec = task.spec
    plain = structures.parameter_count(spec, 3, width=8, embedding_dim=4)
    counted = structures.parameter_count(spec, 3, width=8, embedding_dim=4, norm=norm, residual=residual)
    assert counted == plain + (2 * 8 * 3 if norm == "layer" else 0)
    model = structures.build_model(spec, 3, seeds=(0, 1), width=8, embedding_dim=4, norm=norm, residual=residual)
    assert model.count_params() == 2 * counted
    extra = (3 * 8 * 3 if norm == "layer" else 0) + (8 * 2 if residual else 0)
    assert structures.multiply_adds(spec, 3, width=8, embedding_dim=4, norm=norm, residual=residual) == \
        structures.multiply_adds(spec, 3, width=8, embedding_dim=4) + extra


def test_layer_norm_and_residual_change_the_forward_pass(task):
    x = {k: np.repeat(v[:32, None], 1, axis=1) for k, v in task.train.inputs.items()}
    plain = structures.build_model(task.spec, 3, width=8, embedding_dim=4)(x).numpy()
    normed = structures.build_model(task.spec, 3, width=8, embedding_dim=4, norm="layer")(x).numpy()
    resid = structures.build_model(task.spec, 3, width=8, embedding_dim=4, residual=True)(x).numpy()
    assert not np.allclose(plain, normed) and not np.allclose(plain, resid)
    # one hidden layer has nothing to add back: the residual model is the plain one
    one = structures.build_model(task.spec, 1, width=8, embedding_dim=4)(x).numpy()
    np.testing.assert_allclose(structures.build_model(task.spec, 1, width=8, embedding_dim=4, residual=True)(x).numpy(),
                               one, rtol=1e-6)


def test_deep_stack_signal_vanishes_with_small_init_not_with_he(task):
    x = {k: v[:256, None] for k, v in task.train.inputs.items()}
    spread = {init: structures.build_model(task.spec, 12, init=init)(x).numpy().std() for init in ("small", "he")}
    assert spread["small"] < 1e-6 < spread["he"]


@pytest.mark.parametrize("kwargs,match", [(dict(init="zeros"), "init"), (dict(norm="batch"), "norm"),
                                          (dict(residual="yes"), "residual")])
def test_bad_forms_get_clear_errors(task, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        structures.build_model(task.spec, 2, **kwargs)


def test_sgd_trains_and_differs_from_adam(task):
    sgd = depth.train(task, 1, seeds=(0,), optimizer="sgd", **{**FAST, "learning_rate": 0.1}).results
    adam = depth.train(task, 1, seeds=(0,), **FAST).results
    assert sgd["test_auc"].iloc[0] != adam["test_auc"].iloc[0]
    with pytest.raises(ValueError, match="optimizer"):
        depth.train(task, 1, seeds=(0,), optimizer="rmsprop", **FAST)


# --------------------------------------------------------------------------- the convergence regime

def test_loss_targets_order(task):
    t = depth.loss_targets(task)
    assert t["constant"] > t["target"] > t["bayes"]
    assert t["target"] == pytest.approx(t["constant"] - 0.25 * (t["constant"] - t["bayes"]))
    with pytest.raises(ValueError, match="share"):
        depth.loss_targets(task, share=1.5)


def test_convergence_sweep_tells_converged_from_failed(task):
    setups = {"Adam": dict(learning_rate=1e-2), "SGD, tiny steps": dict(optimizer="sgd", learning_rate=1e-5)}
    runs, curves = depth.convergence_sweep(task, [1], [0, 1], setups=setups, share=0.05, **FAST)
    assert list(runs.columns) == list(depth.CONVERGENCE_COLUMNS) and len(runs) == 4
    table = depth.convergence_table(runs)
    assert table.loc[("Adam", 1), "failure_rate"] == 0 and table.loc[("SGD, tiny steps", 1), "failure_rate"] == 1
    assert np.isnan(table.loc[("SGD, tiny steps", 1), "median_steps"])
    assert list(table.index.get_level_values(0).unique()) == ["Adam", "SGD, tiny steps"]  # in the order run
    reached = runs[runs["converged"]]
    for r in reached.itertuples():  # the recorded step is the first logged step at or below the target
        c = curves[(curves["setup"] == r.setup) & (curves["seed"] == r.seed)]
        assert c.loc[c["valid_loss"] <= r.target_loss, "step"].min() == r.steps_to_target
    with pytest.raises(ValueError, match="setups is empty"):
        depth.convergence_sweep(task, [1], setups={}, **FAST)


# --------------------------------------------------------------------------- the structures' regime

def test_term_worth(task):
    assert depth.term_worth(task, ["history_match"]) == pytest.approx(
        depth.planted_effects(task).loc["history_match", "auc_lost"], rel=1e-3)
    assert depth.term_worth(task, depth.TARGETS["fm"]) > depth.term_worth(task, ["age_x_decade"])
    flat = depth.make_click_task(n_train=100, n_valid=100, n_test=2000, sequence_scale=0)
    assert depth.term_worth(flat, ["history_match"]) == 0
    with pytest.raises(ValueError, match="terms"):
        depth.term_worth(task, ["colour"])


def test_regime_summary_verdicts():
    rows = pd.DataFrame({"scale": [0, 0, 0, 1, 1, 1, 2, 2, 2], "seed": [0, 1, 2] * 3, "worth": [0] * 3 + [0.1] * 6,
                         "gain": [0.001, -0.001, 0.0, 0.010, 0.012, 0.011, -0.01, -0.011, -0.012]})
    table = depth.regime_summary(rows, ["scale"])
    assert table["verdict"].tolist() == ["level", "pays", "costs"]
    assert table.loc[1, "se"] == pytest.approx(np.std([0.010, 0.012, 0.011], ddof=1) / np.sqrt(3))


def test_structure_regime_is_paired_and_tidy():
    rows = depth.structure_regime("fm", [dict(interaction_scale=0.0), dict(interaction_scale=1.5)], [0, 1],
                                  task=dict(n_train=3000, n_valid=1000, n_test=2000), **FAST)
    assert len(rows) == 4 and {"interaction_scale", "seed", "worth", "structure_auc", "mlp_auc", "gain"} <= set(rows)
    np.testing.assert_allclose(rows["gain"], rows["structure_auc"] - rows["mlp_auc"])
    assert rows.loc[rows["interaction_scale"] == 0, "worth"].eq(0).all()
    with pytest.raises(ValueError, match="kind"):
        depth.structure_regime("mlp", [{}], [0])
    with pytest.raises(TypeError, match="dict"):
        depth.structure_regime("fm", [0.5], [0])


# --------------------------------------------------------------------------- what an AUC gain is worth

def test_base_rate_moves_the_bias_only():
    default = depth.make_click_task(n_train=100, n_valid=100, n_test=20_000, seed=3)
    rare = depth.make_click_task(n_train=100, n_valid=100, n_test=20_000, seed=3, base_rate=0.04)
    p = 1 / (1 + np.exp(-np.concatenate([s.truth["logit"] for s in (rare.train, rare.valid, rare.test)])))
    assert p.mean() == pytest.approx(0.04, abs=1e-6)
    assert rare.test.labels.mean() == pytest.approx(0.04, abs=0.005)
    np.testing.assert_array_equal(rare.test.inputs["fields"], default.test.inputs["fields"])
    shift = rare.test.truth["logit"] - default.test.truth["logit"]
    np.testing.assert_allclose(shift, shift[0])
    with pytest.raises(ValueError, match="base_rate"):
        depth.make_click_task(base_rate=1.5)


def test_expected_auc():
    p = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    s = np.array([0.1, 0.9, 0.3, 0.2, 0.8])
    assert depth.expected_auc(p, s) == pytest.approx(auc(p.astype(int), s))
    q = np.array([0.2, 0.8])  # pairs: (high, low) counts with weight 0.8 * 0.8, (low, high) with 0.2 * 0.2
    assert depth.expected_auc(q, np.array([0.0, 1.0])) == pytest.approx(0.64 / (0.64 + 0.04))
    with pytest.raises(ValueError, match="one length"):
        depth.expected_auc(q, np.zeros(3))


def test_click_value_curve_and_its_slope():
    task = depth.make_click_task(n_train=100, n_valid=100, n_test=20_000)
    curve = depth.click_value_curve(task, [0, 1, 2, 4, 8])
    assert curve["auc"].is_monotonic_increasing and curve["noise_sd"].iloc[-1] == 0
    assert curve["top_slot_ctr"].iloc[-1] == pytest.approx(
        depth.slate_value(task, {}, seed=2024).loc["truth", "top_slot_ctr"])
    assert depth.ctr_gain_per_auc(curve) > 0
    with pytest.raises(ValueError, match="must cover"):
        depth.ctr_gain_per_auc(curve.iloc[-2:], at=0.6)


def test_click_value_grows_with_the_base_rate_but_less_than_in_proportion():
    table = depth.click_value_by_base_rate([0.01, 0.1], n_test=20_000)
    assert (table["ctr_per_milli_auc"] > 0).all()
    assert table.loc[0.1, "ctr_per_milli_auc"] > 3 * table.loc[0.01, "ctr_per_milli_auc"]
    assert table.loc[0.01, "relative_per_milli_auc"] > table.loc[0.1, "relative_per_milli_auc"]


def test_slate_value_averages_seed_columns(task):
    rng = np.random.default_rng(1)
    two = np.column_stack([task.test.truth["logit"] + rng.normal(0, 2, len(task.test)) for _ in range(2)])
    both = depth.slate_value(task, {"m": two}).loc["m"]
    each = [depth.slate_value(task, {"m": two[:, j]}).loc["m"] for j in range(2)]
    assert both["seeds"] == 2 and each[0]["seeds"] == 1
    assert both["test_auc"] == pytest.approx(np.mean([e["test_auc"] for e in each]))
    assert both["top_slot_ctr"] == pytest.approx(np.mean([e["top_slot_ctr"] for e in each]))


def test_read_regime_says_how_to_make_a_missing_result(tmp_path):
    with pytest.raises(FileNotFoundError, match="bench_depth.py regimes"):
        depth.read_regime("din_regime", tmp_path)
    with pytest.raises(ValueError, match="name"):
        depth.read_regime("nothing")
