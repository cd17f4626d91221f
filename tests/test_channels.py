"""The one recall interface: every channel of chapters 04-07 keeps the same contract (see sparrow_course.channels).

One small SparrowLens world; each channel is fitted on its training ratings once and run
through the same checks: shape and order, never what a user rated, k as a cap, unknown
users, empty profiles, the popularity blend, the name, and bad input.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sparrow_course import coldstart, eges, sparrowlens, tags
from sparrow_course.channels import PopularityChannel, RecallChannel, fit_popularity
from sparrow_course.datasets import positive, user_time_split
from sparrow_course.embeddings import (fit_embedding_channel, pool_user_vectors, positive_sequences,
                                       train_item2vec)
from sparrow_course.metrics import RECOMMENDATION_COLUMNS

UNKNOWN = 10**9                   # in no table of the world
K = 10


@dataclasses.dataclass
class World:
    ml: object
    train: pd.DataFrame
    known: np.ndarray             # users with likes in training
    new: np.ndarray               # users with no training rating, but a first visit (cold start)
    no_likes: int                 # a user whose training ratings are all dislikes: an empty profile


@pytest.fixture(scope="module")
def world() -> World:
    ml = sparrowlens.generate(n_movies=300, n_users=400, mean_ratings_per_user=15).as_movielens()
    ratings = ml.ratings.copy()
    users = np.unique(ratings["userId"])
    no_likes = int(users[0])
    ratings.loc[ratings["userId"] == no_likes, "rating"] = 1.0
    ml = dataclasses.replace(ml, ratings=ratings)
    train, _ = user_time_split(ratings)
    new = users[-15:]
    train = train[~train["userId"].isin(new)].reset_index(drop=True)
    liked = np.unique(positive(train)["userId"])
    return World(ml, train, liked[:40], new, no_likes)


def _popularity(w: World):
    return fit_popularity(w.train, catalogue=w.ml.movies["movieId"])


def _user_vectors(w: World):
    model = train_item2vec(positive_sequences(w.train), dim=8, epochs=3, seed=1)
    return fit_embedding_channel(model, pool_user_vectors(w.train, model, centre=True), w.train,
                                 name="user vectors (chapter 07)")


FITS = {
    "popularity": _popularity,
    "clusters": lambda w: coldstart.fit_clusters(w.ml, w.train, ["age_group", "gender"], n_clusters=3, seed=1),
    "feature model": lambda w: coldstart.fit_feature_model(w.ml, w.train, ["age_group", "occupation"], seed=1),
    "item-to-item": lambda w: coldstart.fit_item_item(w.ml, w.train),
    "tags": lambda w: tags.fit_matcher(tags.catalogue_from(w.ml), w.train, decay=0.5),
    "DeepWalk vectors": lambda w: eges.fit_recall(w.ml, w.train, method="bge", n_walks=600, length=6, dim=8,
                                                  w2v_epochs=2, seed=1),
    "EGES vectors": lambda w: eges.fit_recall(w.ml, w.train, method="eges", n_walks=600, length=6, dim=8,
                                              epochs=1, seed=1),
    "user vectors": _user_vectors,
}
#: Which kinds of user each channel has something of its own to say about (the rest: the unknown-user rule).
KNOWS = {  # (known user, new user, user with no like in training, an id in no table)
    "popularity": (True, True, True, True),
    "clusters": (True, True, True, False),
    "feature model": (True, True, True, False),
    "item-to-item": (True, False, True, False),
    "tags": (True, False, False, False),
    "DeepWalk vectors": (True, False, False, False),
    "EGES vectors": (True, False, False, False),
    "user vectors": (True, False, False, False),
}
PARAMS = [pytest.param(name, id=name, marks=[pytest.mark.tensorflow] if name == "EGES vectors" else [])
          for name in FITS]


@pytest.fixture(scope="module")
def fitted(world):
    return {}


@pytest.fixture(params=PARAMS)
def case(request, world, fitted):
    name = request.param
    if name not in fitted:
        fitted[name] = FITS[name](world)
    return name, fitted[name]


def _rated(world: World) -> set[tuple[int, int]]:
    return set(zip(world.train["userId"].tolist(), world.train["movieId"].tolist()))


def test_every_channel_is_a_recall_channel_with_a_name(case):
    name, channel = case
    assert isinstance(channel, RecallChannel)
    assert isinstance(channel.name, str) and channel.name.strip()
    assert channel.blend == 0.0
    assert (np.diff(channel.item_ids) > 0).all(), "the catalogue is sorted and unique"


def test_shape_order_and_the_cap(case, world):
    name, channel = case
    users = np.concatenate([world.known[::-1][:20], world.new[:3]])
    recs = channel.recall(users, K)
    assert tuple(recs.columns) == RECOMMENDATION_COLUMNS
    assert recs["userId"].dtype.kind == "i" and recs["movieId"].dtype.kind == "i" and recs["score"].dtype.kind == "f"
    assert np.isfinite(recs["score"]).all()
    assert not recs.duplicated(["userId", "movieId"]).any()
    assert (recs.groupby("userId").size() <= K).all()
    asked = [u for u in users if u in set(recs["userId"])]
    assert list(dict.fromkeys(recs["userId"])) == asked, "users come back in the order asked"
    for _, part in recs.groupby("userId"):
        scores, movies = part["score"].to_numpy(), part["movieId"].to_numpy()
        assert (np.diff(scores) <= 0).all(), "best first"
        ties = np.diff(scores) == 0
        assert (np.diff(movies)[ties] > 0).all(), "ties by ascending movieId"
    known_rows = recs[recs["userId"].isin(world.known[:20])].groupby("userId").size()
    assert (known_rows == K).all(), "a known user gets k rows from a catalogue of hundreds"


def test_never_what_the_user_rated(case, world):
    name, channel = case
    users = np.concatenate([world.known, [world.no_likes]])
    for b in (0.0, 0.5, 1.0):
        recs = channel.with_blend(b).recall(users, 50)
        assert not set(zip(recs["userId"].tolist(), recs["movieId"].tolist())) & _rated(world), (name, b)


def test_k_larger_than_the_catalogue_gives_everything_unrated(case, world):
    name, channel = case
    user = int(world.known[0])
    n_rated = int((world.train["userId"] == user).sum())
    n_items = len(channel.item_ids)
    recs = channel.recall([user], n_items + 100)
    unknown = 0 if channel.unknown_items is None else int(channel.unknown_items.sum())
    rated_unknown = 0 if channel.unknown_items is None else int(
        np.isin(channel.item_ids[channel.unknown_items], world.train.loc[world.train["userId"] == user, "movieId"]).sum())
    assert len(recs) == n_items - n_rated - (unknown - rated_unknown)
    # blended with popularity, every unrated item of the catalogue has a score
    assert len(channel.with_blend(0.5).recall([user], n_items + 100)) == n_items - n_rated


def test_who_the_channel_knows_and_the_unknown_user_rule(case, world):
    name, channel = case
    probe = np.array([world.known[0], world.new[0], world.no_likes, UNKNOWN])
    assert channel.knows(probe).tolist() == list(KNOWS[name])
    recs = channel.recall(probe, K)
    served = set(recs["userId"])
    assert served == {int(u) for u, k in zip(probe, KNOWS[name]) if k}, "at blend 0, unknown users get no rows"
    # blended, an unknown user gets the popularity list (minus what they rated)
    popularity = fit_popularity(world.train, catalogue=channel.item_ids)
    for user, knows in zip(probe, KNOWS[name]):
        if not knows:
            blended = channel.with_blend(0.3).recall([user], K)
            assert blended["movieId"].tolist() == popularity.recall([user], K)["movieId"].tolist(), user


def test_blend_one_is_popularity_for_everyone(case, world):
    name, channel = case
    users = np.concatenate([world.known[:10], world.new[:2], [world.no_likes, UNKNOWN]])
    popularity = fit_popularity(world.train, catalogue=channel.item_ids)
    alone = channel.with_blend(1.0).recall(users, K)
    pd.testing.assert_frame_equal(alone[["userId", "movieId"]], popularity.recall(users, K)[["userId", "movieId"]])


def test_with_blend_is_a_copy_and_checks_its_argument(case):
    name, channel = case
    half = channel.with_blend(0.5)
    assert type(half) is type(channel) and half.blend == 0.5 and channel.blend == 0.0 and half.name == channel.name
    with pytest.raises(ValueError, match=r"\bblend must be a fraction in \[0, 1\]"):
        channel.with_blend(1.5)
    with pytest.raises(ValueError, match="percentage"):
        channel.with_blend(50)


def test_bad_input_is_refused_with_clear_errors(case, world):
    name, channel = case
    with pytest.raises(TypeError, match=r"\buser_ids must be a 1-D sequence"):
        channel.recall("7", K)
    with pytest.raises(TypeError, match=r"\buser_ids must be a 1-D sequence"):
        channel.recall(7, K)
    with pytest.raises(TypeError, match=r"\buser_ids must hold integer user ids"):
        channel.recall([7.0], K)
    with pytest.raises(ValueError, match=r"\buser_ids is empty"):
        channel.recall([], K)
    with pytest.raises(ValueError, match=r"\bk must be an integer >= 1"):
        channel.recall(world.known[:1], 0)
    with pytest.raises(TypeError, match=r"\bk must be an integer"):
        channel.recall(world.known[:1], 2.5)


def test_the_contract_covers_every_channel_the_course_has():
    """A new channel class must join FITS, so it is run through the contract too."""
    import inspect

    import sparrow_course.coldstart.users as users
    import sparrow_course.embeddings as embeddings

    classes = {c for m in (users, embeddings, tags) for _, c in inspect.getmembers(m, inspect.isclass)
               if issubclass(c, RecallChannel) and not inspect.isabstract(c)} | {PopularityChannel}
    assert {c.__name__ for c in classes} == {"PopularityChannel", "ClusterChannel", "FeatureChannel",
                                             "ItemItemChannel", "TagMatcher", "EmbeddingChannel"}


def test_with_history_serves_new_ratings_without_refitting(world):
    channel = coldstart.fit_item_item(world.ml, world.train)
    user = int(world.new[0])
    first = world.ml.ratings[world.ml.ratings["userId"] == user].head(3)
    served = channel.with_history(first).recall([user], K)
    assert len(served) == K and not set(served["movieId"]) & set(first["movieId"])
    with pytest.raises(TypeError, match="fit it again"):
        tags.fit_matcher(tags.catalogue_from(world.ml), world.train).with_history(first)
