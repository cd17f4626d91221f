"""Chapter 04: cold start. Planted answers, leakage, and clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparrow_course import coldstart as cs
from sparrow_course import sparrowlens
from sparrow_course.datasets import MovieLens, load_movielens
from sparrow_course.embeddings import ItemVectors, positive_sequences
from sparrow_course.channels import fit_popularity
from sparrow_course.metrics import evaluate_top_k, per_user_metrics


def _popularity(ml, holdout):
    """Global popularity over the dataset's catalogue, fitted on the holdout's training users."""
    return fit_popularity(holdout.train, catalogue=ml.movies["movieId"])


# --------------------------------------------------------------------------- data

@pytest.fixture(scope="module")
def ml():
    return load_movielens()


@pytest.fixture(scope="module")
def planted():
    """A small SparrowLens with its truth: segments come from registration features."""
    return sparrowlens.generate(n_movies=300, n_users=1500, mean_ratings_per_user=15)


def _toy(n_per_group: int = 40, with_users: bool = True) -> MovieLens:
    """Two groups of users told apart by occupation; group A likes Action films 1-5, group B Romance films 6-10.

    Everyone also rates (low) one shared film, 11. First visits are at group-independent hours.
    """
    movies = pd.DataFrame({"movieId": np.arange(1, 12),
                           "title": [f"Film {i} ({1990 + i})" for i in range(1, 12)],
                           "genres": ["Action"] * 5 + ["Romance"] * 5 + ["Drama"]})
    rows, users = [], []
    rng = np.random.default_rng(0)
    for g, (occupation, liked) in enumerate((("engineer", range(1, 6)), ("writer", range(6, 11)))):
        for j in range(n_per_group):
            uid = 1 + g * n_per_group + j
            users.append({"userId": uid, "occupation": occupation, "gender": "F" if j % 2 else "M"})
            t0 = 1_000_000_000 + int(rng.integers(0, 10**7))
            for n, m in enumerate(rng.permutation(list(liked))[:4]):
                rows.append({"userId": uid, "movieId": int(m), "rating": 4.5, "timestamp": t0 + 60 * n})
            rows.append({"userId": uid, "movieId": 11, "rating": 2.0, "timestamp": t0 + 600})
    ratings = pd.DataFrame(rows).astype({"rating": float})
    tags = pd.DataFrame({"userId": [1, 2], "movieId": [1, 6], "tag": ["kung fu", "wedding"],
                         "timestamp": [1, 2]})
    return MovieLens(name="toy", movies=movies, ratings=ratings, tags=tags,
                     users=pd.DataFrame(users) if with_users else None)


# --------------------------------------------------------------------------- protocol and leakage

def test_held_out_users_never_reach_training(ml):
    h = cs.hold_out_users(ml.ratings, test_fraction=0.2, validation_fraction=0.1, seed=1)
    train, val, test = set(h.train_users), set(h.validation_users), set(h.test_users)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(ml.ratings["userId"])
    assert not set(h.train["userId"]) & (val | test), "a held-out user's rating reached training"
    assert len(h.train) + len(h.validation) + len(h.test) == len(ml.ratings)
    assert abs(len(test) - 0.2 * len(ml.ratings["userId"].unique())) <= 1
    truth = h.truth("test")
    assert set(truth["userId"]) <= test
    # every model is fitted on h.train alone: clusters know only training users
    model = cs.fit_clusters(ml, h.train, ["age_group", "gender"], n_clusters=3)
    assert set(model.train_labels.index) == train


def test_held_out_items_never_reach_embedding_training(ml):
    h = cs.hold_out_items(ml.ratings, n_items=30, min_positive=20, seed=3)
    assert len(h.new_items) == 30 and not h.warm["movieId"].isin(h.new_items).any()
    seq_items = {m for s in positive_sequences(h.warm) for m in s}
    assert not seq_items & set(h.new_items.tolist())
    likes = ml.ratings[ml.ratings["rating"] >= 3.5]["movieId"].value_counts()
    assert (likes.reindex(h.new_items) >= 20).all()
    with pytest.raises(ValueError, match="too many"):
        cs.hold_out_items(ml.ratings, n_items=5000)


def test_cold_item_vectors_refuse_an_item_that_was_trained():
    vectors = ItemVectors(np.array([1, 2, 3]), np.eye(3))
    side = pd.DataFrame({"genre:A": [1.0, 1.0, 1.0, 1.0]}, index=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="held out"):
        cs.cold_item_vectors(vectors, side, [3, 4])


@pytest.fixture(scope="module")
def small_items(ml):
    return cs.item_cold_start(ml, n_items=20, min_positive=30, k=5, dim=6, epochs=2, seed=5)


@pytest.mark.slow   # trains item2vec on the bundled data (~4 s)
def test_item_cold_start_end_to_end_small(small_items):
    result = small_items
    assert not np.isin(result.holdout.new_items, result.warm.ids).any(), "a new item was trained in the warm model"
    table = result.table.set_index("method")
    assert table.loc["trained (reference)", "centred cosine"] == pytest.approx(1.0)
    assert table.loc["global mean", "centred cosine"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["mean of 5 neighbours", "centred cosine"] > table.loc["random", "centred cosine"] + 0.2
    ranks = result.user_ranks(result.guess("neighbours"))
    assert ranks["auc"].between(0, 1).all() and ranks["movieId"].isin(result.holdout.new_items).all()


# --------------------------------------------------------------------------- features, and no users.csv

def test_user_features_context_and_registration():
    toy = _toy()
    frame = cs.user_features(toy, [1, 41], ["occupation", "hour"])
    assert list(frame.columns) == ["occupation", "hour"] and list(frame["occupation"]) == ["engineer", "writer"]
    first = toy.ratings.groupby("userId")["timestamp"].min()
    assert frame.loc[1, "hour"] == str(pd.to_datetime(first[1], unit="s").hour)
    with pytest.raises(ValueError, match="features must be one of .*'occupation'.*got 'shoe_size'"):
        cs.user_features(toy, [1], ["shoe_size"])
    with pytest.raises(TypeError, match="list"):
        cs.user_features(toy, [1], "occupation")
    with pytest.raises(ValueError, match="no rating"):
        cs.user_features(toy, [999], ["hour"])


def test_without_users_csv_clusters_use_context_and_say_so():
    toy = _toy(with_users=False)
    assert cs.available_features(toy) == cs.CONTEXT_FEATURES
    frame = cs.user_features(toy)
    assert list(frame.columns) == list(cs.CONTEXT_FEATURES) and "no users.csv" in frame.attrs["note"]
    model = cs.fit_clusters(toy, toy.ratings, n_clusters=2)          # context only: works
    assert model.features == cs.CONTEXT_FEATURES
    recs = model.recall([1, 2], k=3)
    assert list(recs.columns) == ["userId", "movieId", "score"] and len(recs) == 6
    with pytest.raises(ValueError, match="users.csv"):
        cs.user_features(toy, [1], ["occupation"])
    with pytest.raises(ValueError, match="users.csv"):
        cs.fit_feature_model(toy, toy.ratings, ["occupation", "hour"])


# --------------------------------------------------------------------------- planted answers

def test_clustering_recovers_planted_segments_above_chance(planted):
    from sklearn.metrics import normalized_mutual_info_score

    data = planted.as_movielens()
    model = cs.fit_clusters(data, data.ratings, ["age_group", "gender", "occupation"], n_clusters=12, seed=0)
    segment = pd.Series(planted.truth.user_segment, index=planted.truth.user_ids)
    labels = model.train_labels
    nmi = normalized_mutual_info_score(segment.reindex(labels.index), labels)
    rng = np.random.default_rng(0)
    chance = max(normalized_mutual_info_score(segment.reindex(labels.index), rng.permutation(labels.to_numpy()))
                 for _ in range(20))
    assert nmi > 3 * chance and nmi > 0.05, (nmi, chance)
    # region carries no planted effect: clusters on region alone know the segments barely better than chance
    region = cs.fit_clusters(data, data.ratings, ["region"], n_clusters=6, seed=0).train_labels
    assert normalized_mutual_info_score(segment.reindex(region.index), region) < nmi / 2


def test_cluster_lists_find_the_planted_groups_and_beat_popularity():
    toy = _toy()
    h = cs.hold_out_users(toy.ratings, test_fraction=0.25, validation_fraction=0.25, seed=0)
    table = cs.choose_n_clusters(toy, h, ["occupation"], candidates=[1, 2], k=5)
    assert table.attrs["best"] == 2
    # the one-SE rule: more clusters that validation users cannot tell apart (here the same two) are not chosen
    wider = cs.choose_n_clusters(toy, h, ["occupation"], candidates=[1, 2, 3], k=5)
    assert wider.attrs["best"] == 2 and wider.set_index("clusters").loc[3, "within one SE"]
    assert wider.set_index("clusters").loc[1, "behind best"] > wider.set_index("clusters").loc[1, "se"]
    model = table.attrs["model"]
    truth = h.truth("test")
    cluster = per_user_metrics(model.recall(h.test_users, 5), truth, 5)["recall@5"]
    pop = per_user_metrics(_popularity(toy, h).recall(h.test_users, 5), truth, 5)["recall@5"]
    assert cluster.mean() == pytest.approx(1.0) and pop.mean() < 0.8
    profiles = cs.cluster_profiles(toy, model, h.train)
    assert set(profiles["members"].str.extract(r"occupation=(\w+)")[0]) == {"engineer", "writer"}
    # gender says nothing about taste here: its clusters do no better than popularity
    by_gender = cs.fit_clusters(toy, h.train, ["gender"], n_clusters=2)
    g = per_user_metrics(by_gender.recall(h.test_users, 5), truth, 5)["recall@5"]
    assert g.mean() < cluster.mean() - 0.2


def test_feature_model_learns_which_group_likes_which_genre():
    toy = _toy()
    new = toy.ratings["userId"].isin([1, 41])          # held out: the model meets them as new users
    model = cs.fit_feature_model(toy, toy.ratings[~new], ["occupation"], negatives=3, c=10.0, seed=0)
    scores = model.logits([1, 41])           # an engineer, a writer
    action, romance = slice(0, 5), slice(5, 10)
    assert scores[0, action].mean() > scores[0, romance].mean() + 1
    assert scores[1, romance].mean() > scores[1, action].mean() + 1
    recs = model.recall([1, 41], k=5)
    assert set(recs.loc[recs["userId"] == 1, "movieId"]) == {1, 2, 3, 4, 5}


def test_per_user_metrics_agree_with_the_shared_metrics(ml):
    h = cs.hold_out_users(ml.ratings, seed=2)
    recs = _popularity(ml, h).recall(h.test_users, 20)
    per_user = per_user_metrics(recs, h.truth(), 20).mean()
    shared = evaluate_top_k(recs, h.truth(), 20)
    assert per_user["recall@20"] == pytest.approx(shared["recall@20"])
    assert per_user["ndcg@20"] == pytest.approx(shared["ndcg@20"])


def test_item_to_item_never_recommends_what_the_user_rated_and_follows_history():
    toy = _toy()
    model = cs.fit_item_item(toy, toy.ratings[toy.ratings["userId"] > 2])
    history = pd.DataFrame({"userId": [1], "movieId": [1], "rating": [5.0], "timestamp": [0]})
    recs = model.with_history(history).recall([1], k=4)
    assert 1 not in set(recs["movieId"]) and set(recs["movieId"]) == {2, 3, 4, 5}
    assert model.with_history(history).recall([2], k=4).empty      # not in the history: nothing to say


def test_warm_up_curve_is_paired_and_excludes_seen_items(ml):
    h = cs.hold_out_users(ml.ratings, seed=4)
    clusters = cs.fit_clusters(ml, h.train, ["age_group", "gender"], n_clusters=4)
    items = cs.fit_item_item(ml, h.train)
    curve = cs.warm_up_curve(ml, h, clusters, items, steps=[1, 10], k=20, n_boot=100)
    assert list(curve["ratings seen"]) == [1, 10] and curve["users"].nunique() == 1
    assert (curve["difference"] - (curve["personal (item-to-item)"] - curve["cluster list"])).abs().max() < 1e-12
    assert (curve["low"] <= curve["difference"]).all() and (curve["difference"] <= curve["high"]).all()
    with pytest.raises(ValueError, match="steps"):
        cs.warm_up_curve(ml, h, clusters, items, steps=[])


# --------------------------------------------------------------------------- item cold start pieces

def _side() -> pd.DataFrame:
    return pd.DataFrame({"genre:A": [1, 1, 1, 0, 0, 1.0], "genre:B": [0, 0, 0, 1, 1, 0.0],
                         "year": [0.0, 0.1, 2.0, 0.0, 0.1, 0.05]}, index=[1, 2, 3, 4, 5, 6])


def test_similar_warm_items_known_neighbours_and_errors():
    side = _side()
    nb = cs.similar_warm_items(side, [6], [1, 2, 3, 4, 5], k=2)
    assert list(nb["neighbour"]) == [1, 2] and list(nb["rank"]) == [0, 1]
    with pytest.raises(ValueError, match="larger than the 5 warm items"):
        cs.similar_warm_items(side, [6], [1, 2, 3, 4, 5], k=6)
    with pytest.raises(ValueError, match="warm_items is empty"):
        cs.similar_warm_items(side, [6], [], k=1)
    with pytest.raises(ValueError, match="empty neighbour set"):
        cs.similar_warm_items(side, [6], [4, 5], k=1)           # 6 is genre A, the warm items are all B
    assert list(cs.similar_warm_items(side, [6], [4, 5], k=1, same_genre=False)["neighbour"]) == [4]
    with pytest.raises(ValueError, match="overlap"):
        cs.similar_warm_items(side, [1], [1, 2], k=1)
    with pytest.raises(ValueError, match="no side information"):
        cs.similar_warm_items(side, [99], [1, 2], k=1)


def test_cold_item_vectors_methods():
    vectors = ItemVectors(np.array([1, 2, 3, 4, 5]), np.array([[1, 0], [3, 0], [9, 9], [0, 2], [0, 4.0]]))
    side = _side()
    nb = cs.cold_item_vectors(vectors, side, [6], method="neighbours", k=2)
    assert np.allclose(nb.get(6), [2.0, 0.0])
    genre = cs.cold_item_vectors(vectors, side, [6], method="genre mean")
    assert np.allclose(genre.get(6), np.mean([[1, 0], [3, 0], [9, 9]], axis=0))
    mean = cs.cold_item_vectors(vectors, side, [6], method="global mean")
    assert np.allclose(mean.get(6), vectors.vectors.mean(axis=0))
    r1 = cs.cold_item_vectors(vectors, side, [6], method="random", seed=1).get(6)
    assert np.allclose(r1, cs.cold_item_vectors(vectors, side, [6], method="random", seed=1).get(6))
    with pytest.raises(ValueError, match="method must be one of"):
        cs.cold_item_vectors(vectors, side, [6], method="median")


def test_side_information_features_and_errors():
    toy = _toy()
    side = cs.side_features(toy, ["genres", "year"], year_scale=5.0)
    assert side.loc[1, "genre:Action"] == 1.0 and side.loc[3, "year"] - side.loc[1, "year"] == pytest.approx(2 / 5)
    tagged = cs.side_features(toy, ["genres", "tags"])
    assert tagged.loc[1, "tag:kung fu"] == 1.0 and tagged.loc[2].filter(like="tag:").sum() == 0
    with pytest.raises(ValueError, match="features must be one of .*got 'budget'"):
        cs.side_features(toy, ["budget"])
    no_tags = MovieLens(name="bare", movies=toy.movies, ratings=toy.ratings, tags=toy.tags.iloc[:0])
    with pytest.raises(ValueError, match="no tags"):
        cs.side_features(no_tags, ["tags"])


def test_clear_errors_at_the_surface(ml):
    h = cs.hold_out_users(ml.ratings, seed=0)
    with pytest.raises(TypeError, match="MovieLens"):
        cs.fit_clusters("ml", h.train)
    with pytest.raises(ValueError, match="n_clusters"):
        cs.fit_clusters(ml, h.train, ["gender"], n_clusters=0)
    with pytest.raises(ValueError, match="more than the"):
        cs.choose_n_clusters(ml, h, ["gender"], candidates=[1, 10**6])
    with pytest.raises(ValueError, match="test_fraction"):
        cs.hold_out_users(ml.ratings, test_fraction=0.6, validation_fraction=0.5)
    with pytest.raises(ValueError, match="which"):
        h.truth("train")


@pytest.mark.slow   # shares that run
def test_item_tables_sweep_rarity_and_projection(small_items):
    sweep = cs.neighbour_k_sweep(small_items, ks=[1, 5])
    assert list(sweep["k"]) == [1, 5]
    table = small_items.table.set_index("method")
    assert sweep.loc[1, "centred cosine"] == pytest.approx(table.loc["mean of 5 neighbours", "centred cosine"])
    rare = cs.rarity_table(small_items)
    assert rare["items"].sum() == len(small_items.holdout.new_items)
    shown = small_items.holdout.new_items[:2]
    points = cs.projection(small_items, shown)
    assert (points["role"] == "warm").sum() == len(small_items.warm.ids)
    assert (points["role"] == "neighbour").sum() == 2 * small_items.k
    assert set(points.loc[points["role"].isin(["guess", "trained"]), "movieId"]) == set(shown.tolist())
    with pytest.raises(ValueError, match="not among the held-out"):
        cs.projection(small_items, [small_items.warm.ids[0]])


def test_user_tables_on_planted_groups():
    toy = _toy()
    h = cs.hold_out_users(toy.ratings, test_fraction=0.25, validation_fraction=0.25, seed=0)
    clusters = cs.fit_clusters(toy, h.train, ["occupation"], n_clusters=2)
    table = cs.compare_user_approaches(toy, h, {"popularity": _popularity(toy, h), "clusters": clusters}, k=5)
    assert list(table["approach"]) == ["popularity", "clusters"]
    per_user = table.attrs["per_user"]
    assert per_user.shape == (h.truth()["userId"].nunique(), 2)
    assert table.loc[1, "recall@5"] == pytest.approx(per_user["clusters"].mean())
    with pytest.raises(TypeError, match="channel 'x'"):
        cs.compare_user_approaches(toy, h, {"x": 3}, k=5)
    groups = pd.Series(np.where(toy.users["occupation"] == "engineer", 0, 1), index=toy.users["userId"])
    grid = cs.compare_feature_sets(toy, h, {"occupation": ["occupation"], "gender": ["gender"]}, candidates=[1, 2],
                                   k=5, segments=groups)
    assert grid.groupby("features")["chosen"].sum().tolist() == [1, 1]
    nmi = grid[grid["chosen"]].set_index("features")["NMI with segments"]
    assert nmi["occupation"] == pytest.approx(1.0) and nmi["gender"] < 0.1
    assert set(grid.attrs["models"]) == {"occupation", "gender"}
    typical = cs.typicality_table(toy, h, clusters, k=5, n_groups=2)
    assert typical["users"].sum() == h.truth()["userId"].nunique()


def test_history_length_quality_groups_every_user(planted):
    data = planted.as_movielens()
    table = cs.history_length_quality(data, k=10, bins=(0, 10, 20))
    assert list(table.columns) == ["training ratings", "users", "item-to-item", "popularity", "enough users"]
    assert (table["enough users"] == (table["users"] >= 30)).all()
    assert list(table["training ratings"]) == ["0-9", "10-19", "20+"][:len(table)]
    assert table[["item-to-item", "popularity"]].stack().between(0, 1).all()


def test_a_group_of_one_user_is_flagged(planted):
    data = planted.as_movielens()
    table = cs.history_length_quality(data, k=10, bins=(0, 10, 30), min_users=30)
    few = table.loc[~table["enough users"], "training ratings"].tolist()
    assert all(name in table.attrs["note"] for name in few)
    small = cs.history_length_quality(data, k=10, bins=(0, 10), min_users=10**6)
    assert not small["enough users"].any() and "fewer than 1000000 users" in small.attrs["note"]


def _string_ids(frame):
    out = frame.copy()
    out["userId"] = "u" + out["userId"].astype(str)
    return out


BAD_INPUTS = [
    # (call, exception type, the argument its message must name)
    (lambda ml, h: cs.user_features(ml, [1.7]), TypeError, "user_ids"),
    (lambda ml, h: cs.user_features(ml, "1"), TypeError, "user_ids"),
    (lambda ml, h: cs.fit_clusters(ml, _string_ids(h.train), ["gender"]), TypeError, "train"),
    (lambda ml, h: cs.fit_feature_model(ml, _string_ids(h.train), ["gender"]), TypeError, "train"),
    (lambda ml, h: cs.fit_item_item(ml, _string_ids(h.train)), TypeError, "train"),
    (lambda ml, h: cs.hold_out_users(_string_ids(ml.ratings)), TypeError, "ratings"),
    (lambda ml, h: cs.history_length_quality(ml, bins=[]), ValueError, "bins"),
    (lambda ml, h: cs.history_length_quality(ml, bins=5), ValueError, "bins"),
    (lambda ml, h: cs.history_length_quality(ml, min_users=0), ValueError, "min_users"),
    (lambda ml, h: cs.item_cold_start(ml, same_genre="no"), TypeError, "same_genre"),
    (lambda ml, h: cs.segment_signal_sweep([]), ValueError, "strengths"),
    (lambda ml, h: cs.segment_signal_sweep([-1.0]), ValueError, "strengths"),
]


@pytest.mark.parametrize("case", range(len(BAD_INPUTS)))
def test_bad_inputs_get_a_clear_error_naming_the_argument(ml, case):
    call, kind, argument = BAD_INPUTS[case]
    h = cs.hold_out_users(ml.ratings, seed=0)
    with pytest.raises(kind, match=rf"\b{argument}\b"):
        call(ml, h)


def test_dense_item_to_item_is_refused_before_allocating(ml, monkeypatch):
    from sparrow_course import checks

    # a 60,000-movie catalogue would need about 80 GiB; here the limit is lowered below the bundled catalogue's need
    monkeypatch.setattr(checks, "MEMORY_LIMIT_BYTES", 1024)
    h = cs.hold_out_users(ml.ratings, seed=0)
    with pytest.raises(ValueError, match=r"item-to-item similarity over [\d,]+ movies.*GiB"):
        cs.fit_item_item(ml, h.train)
    with pytest.raises(ValueError, match=r"GiB"):
        cs.history_length_quality(ml)


def test_the_regime_map_moves_with_the_features_signal():
    table = cs.segment_signal_sweep((0.0, 6.4), n_users=600, n_movies=600, n_clusters=8, n_boot=200)
    assert table["segment predicted"].iloc[1] > table["segment predicted"].iloc[0] + 0.2
    assert table["difference"].iloc[1] > table["difference"].iloc[0]
    assert (table["low"] <= table["difference"]).all() and (table["difference"] <= table["high"]).all()


def test_generator_params_are_validated():
    from sparrow_course import sparrowlens

    with pytest.raises(ValueError, match=r"\bparams\b.*segment_strength"):
        sparrowlens.generate(n_users=20, n_movies=600, params={"segment_strength": 1.0})
    with pytest.raises(TypeError, match=r"\bparams\b"):
        sparrowlens.generate(n_users=20, n_movies=600, params=[("segment_feature_strength", 1.0)])


@pytest.mark.slow   # shares that run
def test_item_side_models_beside_the_neighbours(small_items):
    table = cs.compare_item_tricks(small_items, n_clusters=5, n_boot=100).set_index("method")
    assert {"attribute clusters", "attribute regression", "genre mean"} <= set(table.index)
    assert table["centred cosine"].between(-1, 1).all()
    assert table.loc["trained (reference)", "centred cosine"] == pytest.approx(1.0)
    hits = small_items.found_in_top_k(small_items.guess("neighbours"))
    assert hits.between(0, 1).all() and len(hits) <= len(small_items.holdout.new_items)
