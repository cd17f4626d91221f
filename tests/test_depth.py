"""Chapter 01 module: features without leakage, models of any depth, sweeps and the one-SE rule."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparrow_course import depth
from sparrow_course.exercises import CORRECT, INCORRECT
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
        assert part.inputs["user"].shape == (n,) and part.inputs["user"].dtype == np.int32
        assert part.inputs["movie"].shape == (n,)
        assert part.inputs["genres"].shape == (n, len(GENRES)) and part.inputs["genres"].dtype == np.float32
        assert part.inputs["stats"].shape == (n, len(depth.STATS))
        assert set(np.unique(part.labels)) <= {0.0, 1.0}
    assert data.genres == GENRES
    assert data.n_users == ratings["userId"].nunique()
    positives = sum(p.labels.sum() for p in (data.train, data.valid, data.test))
    assert positives == (ratings["rating"] >= 3.5).sum()


def test_genres_are_the_movies_multi_hot(frames, data):
    ratings, movies = frames
    # every genre row of a sample is one of the movies' rows, and each movie has at least one genre
    assert (data.train.inputs["genres"].sum(axis=1) >= 1).all()
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
    assert data.split == "global" and len(data.test) > 0


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
        for key in ("user", "movie", "genres", "stats"):
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
    assert data.test.inputs["movie"][-1] == 0  # the film was first rated in the test period
    assert data.train.inputs["movie"].min() >= 1


def test_train_fraction_keeps_valid_and_test(data):
    part = data.with_train_fraction(0.3, seed=0)
    assert len(part.train) == round(0.3 * len(data.train)) and part.fraction == 0.3
    assert part.test is data.test and part.valid is data.valid
    again = data.with_train_fraction(0.3, seed=0)
    np.testing.assert_array_equal(part.train.labels, again.train.labels)
    with pytest.raises(ValueError, match="fraction"):
        data.with_train_fraction(0.0)


def test_sample_users(frames):
    ratings, _ = frames
    some = depth.sample_users(ratings, 10, seed=3)
    assert some["userId"].nunique() == 10
    assert set(some["userId"]) <= set(ratings["userId"])
    assert depth.sample_users(ratings, None) is ratings
    with pytest.raises(ValueError, match="n_users"):
        depth.sample_users(ratings, 0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(split="random"), "split must be"),
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


# --------------------------------------------------------------------------- models

def test_mlp_parameters_closed_form():
    assert depth.mlp_parameters([10, 1]) == 11
    assert depth.mlp_parameters([10, 5, 1]) == (10 + 1) * 5 + (5 + 1) * 1
    with pytest.raises(ValueError):
        depth.mlp_parameters([10])
    with pytest.raises(ValueError):
        depth.mlp_parameters([10, 0, 1])


@pytest.mark.parametrize("d,interaction", [(0, False), (1, False), (3, False), (2, True)])
def test_parameter_count_matches_keras(data, d, interaction):
    model = depth.build_model(data, d, width=16, embedding_dim=4, interaction=interaction)
    n_in = 2 * 4 + len(GENRES) + len(depth.STATS)
    dense = (n_in + 1) * 1 if d == 0 else (n_in + 1) * 16 + (d - 1) * 17 * 16 + 17
    expected = (data.n_users + 1 + data.n_movies + 1) * 4 + dense
    assert depth.parameter_count(data, d, width=16, embedding_dim=4, interaction=interaction) == expected
    assert model.count_params() == expected
    out = model({k: v[:5] for k, v in data.train.inputs.items()})
    assert tuple(out.shape) == (5, 1)
    assert ((np.asarray(out) > 0) & (np.asarray(out) < 1)).all()


def test_multiply_adds(data):
    n_in = 2 * 8 + len(GENRES) + len(depth.STATS)
    assert depth.multiply_adds(data, 0) == n_in
    assert depth.multiply_adds(data, 3, width=10) == n_in * 10 + 2 * 10 * 10 + 10
    assert depth.multiply_adds(data, 3, width=10, interaction=True) == n_in * 10 + 2 * 10 * 10 + 10 + 8
    costs = [depth.multiply_adds(data, d) for d in range(7)]
    assert costs == sorted(costs) and len(set(costs)) == 7


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(depth=-1), ValueError, "depth must be >= 0"),
    (dict(depth=2, width=0), ValueError, "width must be >= 1"),
    (dict(depth=1.5), TypeError, "depth must be an int"),
    (dict(depth=True), TypeError, "depth must be an int"),
    (dict(depth=1, embedding_dim=0), ValueError, "embedding_dim"),
])
def test_shape_errors(data, kwargs, error, match):
    for call in (depth.build_model, depth.parameter_count, depth.multiply_adds, depth.train_model):
        with pytest.raises(error, match=match):
            call(data, **kwargs)


# --------------------------------------------------------------------------- training

FAST = dict(width=8, embedding_dim=4, epochs=1, batch_size=256)


def test_train_model_returns_a_tidy_row(data):
    row = depth.train_model(data, 1, seed=0, **FAST)
    assert set(row) == set(depth.RESULT_COLUMNS)
    assert row["epochs_run"] == 1 and row["best_epoch"] == 1
    assert 0 <= row["test_auc"] <= 1 and 0 <= row["train_auc"] <= 1
    assert row["gap"] == pytest.approx(row["train_auc"] - row["test_auc"])
    assert row["params"] == depth.parameter_count(data, 1, width=8, embedding_dim=4)
    assert row["seconds_per_epoch"] > 0


def test_training_stops_after_patience_epochs_without_improvement(data):
    row = depth.train_model(data, 1, seed=0, **dict(FAST, epochs=12, batch_size=64), patience=1)
    assert 1 <= row["best_epoch"] <= row["epochs_run"] <= 12
    assert row["epochs_run"] == 12 or row["epochs_run"] - row["best_epoch"] == 1


def test_training_is_repeatable_and_reuse_changes_nothing(data):
    first, model = depth.fit_model(data, 2, seed=1, **FAST)
    other, _ = depth.fit_model(data, 2, seed=5, reuse=model, **FAST)  # train it on something else in between
    again, _ = depth.fit_model(data, 2, seed=1, reuse=model, **FAST)
    for key in ("train_auc", "valid_auc", "test_auc", "epochs_run", "best_epoch"):
        assert again[key] == first[key], key
    assert other["test_auc"] != first["test_auc"], "a different seed is a different run"


def test_reuse_must_match_the_architecture(data):
    with pytest.raises(ValueError, match="same data, depth"):
        depth.fit_model(data, 2, seed=0, reuse=depth.build_model(data, 1, width=8, embedding_dim=4), **FAST)


def test_train_model_rejects_bad_options_and_empty_splits(data):
    with pytest.raises(ValueError, match="epochs"):
        depth.train_model(data, 1, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        depth.train_model(data, 1, batch_size=0)
    empty = depth.DepthData(train=data.train.take(np.array([], dtype=int)), valid=data.valid, test=data.test,
                            n_users=data.n_users, n_movies=data.n_movies, genres=data.genres)
    with pytest.raises(ValueError, match="train split is empty"):
        depth.train_model(empty, 1, **FAST)


def test_run_sweep_is_tidy_and_sorted(data):
    sweep = depth.run_sweep(data, depths=[1, 0], seeds=[1, 0], fractions=[0.5], **FAST)
    assert list(sweep.columns) == list(depth.RESULT_COLUMNS)
    assert len(sweep) == 4
    assert sweep[["fraction", "depth", "seed"]].values.tolist() == sorted(sweep[["fraction", "depth", "seed"]].values.tolist())
    half = sweep[sweep["fraction"] == 0.5]
    assert (half["train_rows"] == round(0.5 * len(data.train))).all()
    with pytest.raises(ValueError, match="depths is empty"):
        depth.run_sweep(data, depths=[], **FAST)
    with pytest.raises(ValueError, match="depth must be >= 0"):
        depth.run_sweep(data, depths=[-1], **FAST)


# --------------------------------------------------------------------------- reading a sweep

def runs(table: dict[int, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"depth": d, "seed": s, "test_auc": v} for d, vs in table.items() for s, v in enumerate(vs)])


def test_one_se_rule_picks_the_simplest_close_enough():
    # depth 3 is best (mean 0.760, SE 0.02 / sqrt 3 = 0.0115): depth 1 (0.752) is within one SE, depth 0 is not
    table = runs({0: [0.70, 0.70, 0.70], 1: [0.75, 0.752, 0.754], 3: [0.74, 0.76, 0.78], 5: [0.755, 0.756, 0.757]})
    assert depth.simplest_within_one_se(table) == 1
    stats = depth.one_se_table(table)
    assert stats.loc[3, "se"] == pytest.approx(0.02 / np.sqrt(3))
    assert stats["within_one_se"].tolist() == [False, True, True, True]
    # with a steadier best (SE 0.0058) depth 1 falls outside the band and depth 3 itself is chosen
    steady = runs({0: [0.70, 0.70, 0.70], 1: [0.75, 0.752, 0.754], 3: [0.75, 0.76, 0.77]})
    assert depth.simplest_within_one_se(steady) == 3


def test_one_se_rule_edge_cases():
    assert depth.simplest_within_one_se(runs({0: [0.7], 2: [0.8], 4: [0.79]})) == 2  # one run: SE 0, the best
    assert depth.simplest_within_one_se(runs({4: [0.7, 0.7], 2: [0.7, 0.7]})) == 2  # ties go to the simpler
    custom = pd.DataFrame({"width": [8, 8, 64, 64], "valid_auc": [0.70, 0.72, 0.71, 0.73]})
    assert depth.simplest_within_one_se(custom, complexity="width", score="valid_auc") == 8
    with pytest.raises(ValueError, match="empty"):
        depth.simplest_within_one_se(runs({}).reindex(columns=["depth", "seed", "test_auc"]))
    with pytest.raises(ValueError, match="lacks column"):
        depth.simplest_within_one_se(runs({0: [0.7]}), score="auc")
    with pytest.raises(ValueError, match="missing values"):
        depth.simplest_within_one_se(runs({0: [0.7, float("nan")]}))


def test_summarize(data):
    table = runs({0: [0.70, 0.72], 1: [0.74, 0.76]})
    summary = depth.summarize(table, metrics=("test_auc",))
    assert summary.loc[1, "test_auc_mean"] == pytest.approx(0.75)
    assert summary.loc[0, "runs"] == 2
    assert summary.loc[0, "test_auc_std"] == pytest.approx(np.std([0.70, 0.72], ddof=1))


# --------------------------------------------------------------------------- exercises

def test_exercise_references_agree_with_the_package(data):
    assert ch01.q1.check(depth.mlp_parameters).outcome == CORRECT
    picked = ch01.q2.reference([0.70, 0.75, 0.76, 0.758], [0.002, 0.003, 0.012, 0.004])
    table = runs({0: [0.70], 1: [0.75], 2: [0.76], 3: [0.758]})
    stats = depth.one_se_table(table).assign(se=[0.002, 0.003, 0.012, 0.004])
    best = stats["mean"].idxmax()
    assert picked == stats.index[stats["mean"] >= stats.loc[best, "mean"] - stats.loc[best, "se"]].min()


def test_exercise_messages_say_what_went_wrong():
    def without_biases(sizes):
        return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    result = ch01.q1.check(without_biases)
    assert result.outcome == INCORRECT and "expected" in result.message

    def zero_based(val_losses, patience):
        best = int(np.argmin(val_losses))
        return best, best + patience + 1

    assert ch01.q3.check(zero_based).outcome == INCORRECT


# --------------------------------------------------------------------------- what the data allows

def test_fit_user_tastes_recovers_planted_tastes():
    rng = np.random.default_rng(0)
    items, tastes = rng.normal(size=(50, 3)), rng.normal(size=(4, 3))
    users = np.repeat(np.arange(4), 30)
    rated = np.concatenate([rng.choice(50, 30, replace=False) for _ in range(4)])
    residuals = (tastes[users] * items[rated]).sum(axis=1)
    fitted = depth.fit_user_tastes(items, users, rated, residuals, n_users=5, alpha=1e-6)
    np.testing.assert_allclose(fitted[:4], tastes, atol=1e-5)
    assert (fitted[4] == 0).all()  # a user without ratings keeps a zero taste
    # ridge shrinks: a strong penalty pulls every taste towards zero
    shrunk = depth.fit_user_tastes(items, users, rated, residuals, n_users=4, alpha=1e3)
    assert (np.linalg.norm(shrunk, axis=1) < 0.5 * np.linalg.norm(tastes, axis=1)).all()
    with pytest.raises(ValueError, match="alpha"):
        depth.fit_user_tastes(items, users, rated, residuals, n_users=4, alpha=0)
    with pytest.raises(ValueError, match="users must be"):
        depth.fit_user_tastes(items, users, rated, residuals, n_users=3, alpha=1.0)


def test_early_stopping_exercise_follows_keras():
    import keras

    cases = [([0.6, 0.55, 0.53, 0.54, 0.56, 0.57], 2), ([0.6, 0.55, 0.55, 0.55, 0.5], 2),
             ([0.5, 0.51, 0.49, 0.52, 0.53], 1), ([0.6, 0.58, 0.57], 2), ([0.7, 0.6, 0.65, 0.61, 0.62, 0.59, 0.58], 3)]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    for losses, patience in cases:
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
        model.stop_training = False
        stop.set_model(model)
        stop.on_train_begin()
        for epoch, loss in enumerate(losses):
            stop.on_epoch_end(epoch, {"val_loss": loss})
            if model.stop_training:
                break
        assert ch01.q3.reference(losses, patience) == (stop.best_epoch + 1, epoch + 1), (losses, patience)


def test_logit_terms_add_up_to_the_prediction(data):
    _, model = depth.fit_model(data, 1, seed=0, interaction=True, **FAST)
    terms = depth.logit_terms(model, data.test)
    assert terms["mlp"].shape == terms["dot"].shape == (len(data.test),)
    p = depth.predict(model, data.test)
    np.testing.assert_allclose(1 / (1 + np.exp(-(terms["mlp"] + terms["dot"]))), p, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="no dot-product term"):
        depth.logit_terms(depth.build_model(data, 1, width=8, embedding_dim=4), data.test)
