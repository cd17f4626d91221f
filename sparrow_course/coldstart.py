"""Chapter 04: cold start (冷启动), recommending to new users and placing new items.

Users and items are held out *as if new*:

* :func:`hold_out_users` hides every rating of a share of users from training; the
  held-out users bring only what a first visit brings: registration features
  (``users.csv``) and the context of the visit (hour and weekday of their first rating).
* :func:`hold_out_items` hides every rating of a few items from embedding training; they
  bring only side information (genres, release year, optionally tags).

User cold start compares three channels that each return the course's common recall
frame ``DataFrame[userId, movieId, score]``: :func:`popularity_recall`, clusters of users
(:func:`fit_clusters`, k-means, k chosen on validation users by :func:`choose_n_clusters`)
and a feature model (:func:`fit_feature_model`, logistic regression on user features x
item genres). :func:`warm_up_curve` measures when a new user's own first ratings beat
the cluster list. Item cold start (:func:`item_cold_start`) gives a new item the mean
vector of its most similar warm items by side information, as Airbnb did for new
listings, and compares it with a random vector, the global mean and the genre mean.

Everything works on any MovieLens-format folder: without ``users.csv`` the user features
are the visit context alone (:func:`user_features` says so in its result's
``attrs["note"]``), and asking for a registration feature raises an error naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .checks import check_choice, check_fraction, check_frame, check_int, check_number, check_seed
from .datasets import POSITIVE_THRESHOLD, MovieLens, genre_matrix, release_year
from .embeddings import ItemVectors, positive_sequences, train_item2vec
from .metrics import paired_difference, per_user_metrics, top_k_frame  # re-exported: paired_difference, per_user_metrics
from .seeding import DEFAULT_SEED

__all__ = [
    "COLD_ITEM_METHODS",
    "CONTEXT_FEATURES",
    "SIDE_FEATURES",
    "ClusterModel",
    "FeatureModel",
    "ItemColdStart",
    "ItemHoldout",
    "ItemItemModel",
    "UserHoldout",
    "available_features",
    "choose_n_clusters",
    "cluster_profiles",
    "compare_feature_sets",
    "compare_user_approaches",
    "cold_item_vectors",
    "fit_clusters",
    "fit_feature_model",
    "fit_item_item",
    "first_visit_context",
    "history_length_quality",
    "hold_out_items",
    "hold_out_users",
    "item_cold_start",
    "neighbour_k_sweep",
    "paired_difference",
    "per_user_metrics",
    "popularity_recall",
    "procrustes_align",
    "projection",
    "rarity_table",
    "similar_warm_items",
    "side_information",
    "typicality_table",
    "user_features",
    "warm_up_curve",
]

#: Context of a user's first visit, known without any history: the UTC hour (0-23) and weekday
#: (0 = Monday) of their first rating.
CONTEXT_FEATURES: tuple[str, ...] = ("hour", "weekday")
# users.csv columns that are not categorical features (an id and a raw time).
_NOT_FEATURES = ("userId", "signup_timestamp")
_RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")


def _check_ml(ml: object) -> MovieLens:
    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens dataset (from datasets.load_movielens), got {type(ml).__name__}")
    return ml


def _positives(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings.loc[ratings["rating"] >= POSITIVE_THRESHOLD, ["userId", "movieId", "rating", "timestamp"]]


# ---------------------------------------------------------------------------
# The protocol: users and items held out as if new
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class UserHoldout:
    """Users split into training, validation and test users; held-out users' ratings never reach ``train``."""

    train: pd.DataFrame             # every rating of the training users
    validation: pd.DataFrame        # every rating of the validation users (to choose k and the like)
    test: pd.DataFrame              # every rating of the test users (to report)
    train_users: np.ndarray
    validation_users: np.ndarray
    test_users: np.ndarray

    def truth(self, which: str = "test") -> pd.DataFrame:
        """The held-out users' positive ratings (rating >= 3.5): what a cold-start list should find."""
        check_choice(which, "which", ("validation", "test"))
        return _positives(getattr(self, which))[["userId", "movieId"]].reset_index(drop=True)


def hold_out_users(ratings: pd.DataFrame, *, test_fraction: float = 0.2, validation_fraction: float = 0.1,
                   seed: int = DEFAULT_SEED) -> UserHoldout:
    """Hold a random share of users out as if new: all their ratings leave training.

    ``test_fraction`` of users are test users, ``validation_fraction`` validation users,
    the rest train every model. The split is by user, never by rating, so nothing a
    held-out user did reaches training.
    """
    check_frame(ratings, _RATING_COLUMNS, "ratings", allow_empty=False)
    test_fraction = check_fraction(test_fraction, "test_fraction", include_low=False, include_high=False)
    validation_fraction = check_fraction(validation_fraction, "validation_fraction", include_high=False)
    if test_fraction + validation_fraction >= 1:
        raise ValueError(f"test_fraction + validation_fraction must leave training users, got "
                         f"{test_fraction} + {validation_fraction} >= 1")
    seed = check_seed(seed)
    users = np.unique(ratings["userId"].to_numpy())
    n_test = int(round(test_fraction * len(users)))
    n_val = int(round(validation_fraction * len(users)))
    if n_test < 1 or len(users) - n_test - n_val < 1 or (validation_fraction > 0 and n_val < 1):
        raise ValueError(f"{len(users)} users are too few to hold out {test_fraction} and {validation_fraction} "
                         "of them and keep some for training")
    perm = np.random.default_rng(seed).permutation(users)
    test_users, val_users, train_users = np.sort(perm[:n_test]), np.sort(perm[n_test:n_test + n_val]), \
        np.sort(perm[n_test + n_val:])

    def part(ids: np.ndarray) -> pd.DataFrame:
        return ratings.loc[ratings["userId"].isin(ids)].reset_index(drop=True)

    return UserHoldout(part(train_users), part(val_users), part(test_users), train_users, val_users, test_users)


@dataclass(frozen=True, eq=False)
class ItemHoldout:
    """Items held out as if new: ``warm`` holds every rating except theirs."""

    warm: pd.DataFrame
    new_items: np.ndarray


def hold_out_items(ratings: pd.DataFrame, *, n_items: int = 100, min_positive: int = 20,
                   seed: int = DEFAULT_SEED) -> ItemHoldout:
    """Hold ``n_items`` random items with at least ``min_positive`` likes out as if new (their ratings hidden).

    The minimum matters for measurement: an item needs enough likes for the vector it
    gets once trained with its ratings to be a stable reference.
    """
    check_frame(ratings, _RATING_COLUMNS, "ratings", allow_empty=False)
    n_items = check_int(n_items, "n_items", low=1)
    min_positive = check_int(min_positive, "min_positive", low=1)
    seed = check_seed(seed)
    likes = _positives(ratings)["movieId"].value_counts()
    eligible = np.sort(likes.index[likes >= min_positive].to_numpy())
    if n_items > len(eligible) // 2:
        raise ValueError(f"n_items={n_items} is too many: {len(eligible)} items have {min_positive} or more likes, "
                         "and at most half of them may be held out (the rest must stay warm)")
    new = np.sort(np.random.default_rng(seed).choice(eligible, size=n_items, replace=False))
    return ItemHoldout(ratings.loc[~ratings["movieId"].isin(new)].reset_index(drop=True), new)


# ---------------------------------------------------------------------------
# What a new user brings: registration features and the first visit's context
# ---------------------------------------------------------------------------


def first_visit_context(ratings: pd.DataFrame) -> pd.DataFrame:
    """Hour (UTC, 0-23) and weekday (0 = Monday) of each user's first rating, index userId.

    A first visit's time is known when the visit happens; nothing the user rated is used.
    """
    check_frame(ratings, ["userId", "timestamp"], "ratings", allow_empty=False)
    first = ratings.groupby("userId")["timestamp"].min()
    when = pd.to_datetime(first.to_numpy(), unit="s", utc=True)
    return pd.DataFrame({"hour": when.hour.to_numpy(), "weekday": when.day_of_week.to_numpy()},
                        index=pd.Index(first.index.to_numpy(), name="userId"))


def available_features(ml: MovieLens) -> tuple[str, ...]:
    """Every user feature this dataset offers: users.csv's categorical columns (if any) and the visit context."""
    _check_ml(ml)
    registration = () if ml.users is None else tuple(c for c in ml.users.columns if c not in _NOT_FEATURES)
    return registration + CONTEXT_FEATURES


def user_features(ml: MovieLens, user_ids: Sequence[int] | None = None,
                  features: Sequence[str] | None = None) -> pd.DataFrame:
    """Categorical features of users (one row each, index userId, values as text).

    ``features=None`` takes every available one: registration features from users.csv and
    the first visit's context. Without users.csv only the context is available, and the
    frame's ``attrs["note"]`` says so; naming a registration feature then raises a
    ValueError naming the missing users.csv.
    """
    _check_ml(ml)
    available = available_features(ml)
    if features is None:
        features = available
    if isinstance(features, str):
        raise TypeError(f"features must be a list of feature names, got the string {features!r}; "
                        f"write [{features!r}]")
    features = list(features)
    if not features:
        raise ValueError(f"features is empty; choose from {list(available)}")
    for f in features:
        if f not in available:
            if ml.users is None and f not in CONTEXT_FEATURES:
                ml.require_users()  # raises: names users.csv and why it is missing
            raise ValueError(f"unknown user feature {f!r}; dataset '{ml.name}' offers {list(available)}")
    if len(set(features)) != len(features):
        raise ValueError(f"features repeat a name: {features}")
    ids = np.unique(ml.ratings["userId"]) if user_ids is None else np.asarray(user_ids, dtype=np.int64)
    context = first_visit_context(ml.ratings)
    missing = np.setdiff1d(ids, context.index.to_numpy())
    if missing.size:
        raise ValueError(f"{missing.size} user id(s) have no rating, hence no first visit: {missing[:5].tolist()}")
    out = pd.DataFrame(index=pd.Index(ids, name="userId"))
    users = None if ml.users is None else ml.users.set_index("userId")
    for f in features:
        source = context[f] if f in CONTEXT_FEATURES else users[f]
        out[f] = source.reindex(ids).astype(str).to_numpy()
    out.attrs["note"] = ("registration features and first-visit context" if ml.users is not None else
                         f"dataset '{ml.name}' has no users.csv: users are described by their first visit's "
                         "context only (hour, weekday)")
    return out


def _one_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _encoder(frame: pd.DataFrame):
    from sklearn.preprocessing import OneHotEncoder

    return OneHotEncoder(handle_unknown="ignore", dtype=np.float64).fit(frame)


# ---------------------------------------------------------------------------
# Per-user metrics and paired comparisons
# ---------------------------------------------------------------------------



# ---------------------------------------------------------------------------
# (a) Global popularity
# ---------------------------------------------------------------------------


def _item_catalogue(ml: MovieLens) -> np.ndarray:
    return np.sort(ml.movies["movieId"].to_numpy(np.int64))


def _like_counts(train: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    counts = _positives(train)["movieId"].value_counts()
    return counts.reindex(items, fill_value=0).to_numpy(np.float64)


def popularity_recall(ml: MovieLens, train: pd.DataFrame, user_ids: Sequence[int], k: int = 20) -> pd.DataFrame:
    """The same list for everyone: the items most often liked in ``train`` (score = number of likes)."""
    _check_ml(ml)
    check_frame(train, _RATING_COLUMNS, "train", allow_empty=False)
    k = check_int(k, "k", low=1)
    items = _item_catalogue(ml)
    counts = _like_counts(train, items)
    user_ids = np.asarray(user_ids, dtype=np.int64)
    return _shared_lists(user_ids, np.zeros(len(user_ids), dtype=np.int64), items, counts[None, :], k)


def _shared_lists(user_ids: np.ndarray, group: np.ndarray, items: np.ndarray, scores: np.ndarray,
                  k: int) -> pd.DataFrame:
    """The common recall frame when users share lists: user i gets the top-k of row ``group[i]`` of ``scores``."""
    lists = top_k_frame(np.arange(len(scores)), items, scores, k)   # one sort per list, not per user
    start = np.searchsorted(lists["userId"].to_numpy(), np.arange(len(scores) + 1))
    take = np.concatenate([np.arange(start[g], start[g + 1]) for g in group]) if len(group) else np.array([], int)
    lengths = (start[1:] - start[:-1])[group]
    return pd.DataFrame({"userId": np.repeat(user_ids, lengths),
                         "movieId": lists["movieId"].to_numpy()[take],
                         "score": lists["score"].to_numpy()[take]})


# ---------------------------------------------------------------------------
# (b) Clusters of users, one list each
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClusterModel:
    """k-means clusters of users on one-hot features, each with its own item scores."""

    features: tuple[str, ...]
    n_clusters: int
    encoder: object
    kmeans: object
    items: np.ndarray          # movie ids, columns of ``scores``
    scores: np.ndarray         # (n_clusters, n_items): smoothed share of a cluster's users who liked each item
    sizes: np.ndarray          # training users per cluster
    train_labels: pd.Series    # cluster of each training user

    def assign(self, ml: MovieLens, user_ids: Sequence[int]) -> np.ndarray:
        """The cluster of each user, from their features alone."""
        frame = user_features(ml, user_ids, self.features)
        with _one_thread():
            return self.kmeans.predict(self.encoder.transform(frame).toarray())

    def recall(self, ml: MovieLens, user_ids: Sequence[int], k: int = 20) -> pd.DataFrame:
        """Top-``k`` of each user's cluster list, in the common recall frame."""
        k = check_int(k, "k", low=1)
        user_ids = np.asarray(user_ids, dtype=np.int64)
        return _shared_lists(user_ids, self.assign(ml, user_ids), self.items, self.scores, k)


def fit_clusters(ml: MovieLens, train: pd.DataFrame, features: Sequence[str] | None = None, *,
                 n_clusters: int = 8, shrinkage: float = 20.0, seed: int = DEFAULT_SEED) -> ClusterModel:
    """k-means (scikit-learn) on the one-hot ``features`` of the training users; a top list per cluster.

    A cluster's score for an item is the share of its users who liked it, shrunk toward
    the global share by ``shrinkage`` pseudo-users, so a small cluster's list does not
    rest on a handful of people: (likes_c + m p) / (n_c + m).
    """
    _check_ml(ml)
    check_frame(train, _RATING_COLUMNS, "train", allow_empty=False)
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    shrinkage = check_number(shrinkage, "shrinkage", low=0.0)
    seed = check_seed(seed)
    users = np.unique(train["userId"].to_numpy())
    if n_clusters > len(users):
        raise ValueError(f"n_clusters={n_clusters} is more than the {len(users)} training users")
    frame = user_features(ml, users, features)
    return _fit_clusters(ml, train, users, frame, n_clusters, shrinkage, seed)


def _fit_clusters(ml: MovieLens, train: pd.DataFrame, users: np.ndarray, frame: pd.DataFrame, n_clusters: int,
                  shrinkage: float, seed: int) -> ClusterModel:
    from sklearn.cluster import KMeans

    encoder = _encoder(frame)
    x = encoder.transform(frame).toarray()
    # Users with equal features are equal points: cluster the distinct rows, weighted by how many
    # users share each (the same k-means objective, several times faster).
    distinct, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    n_clusters = min(n_clusters, len(distinct))
    with _one_thread():  # OpenMP threads only contend on a small, shared machine
        kmeans = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(distinct, sample_weight=counts)
    labels = kmeans.labels_[inverse.ravel()]
    items = _item_catalogue(ml)
    liked = _positives(train)
    row = pd.Series(labels, index=users).reindex(liked["userId"]).to_numpy()
    col = np.searchsorted(items, liked["movieId"].to_numpy())
    counts_ci = sp.csr_matrix((np.ones(len(liked)), (row, col)), shape=(n_clusters, len(items))).toarray()
    sizes = np.bincount(labels, minlength=n_clusters).astype(float)
    prior = counts_ci.sum(axis=0) / len(users)
    scores = (counts_ci + shrinkage * prior) / (sizes[:, None] + shrinkage)
    return ClusterModel(tuple(frame.columns), n_clusters, encoder, kmeans, items, scores, sizes.astype(int),
                        pd.Series(labels, index=pd.Index(users, name="userId"), name="cluster"))


def choose_n_clusters(ml: MovieLens, holdout: UserHoldout, features: Sequence[str] | None = None, *,
                      candidates: Sequence[int] = (1, 2, 4, 8, 16, 32), k: int = 20, shrinkage: float = 20.0,
                      seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Validation recall@k and NDCG@k for each number of clusters; ``attrs["best"]`` is the chosen one.

    The criterion is measured on validation users (held out as if new, never the test
    users): the number of clusters with the highest validation recall@k, the smallest on a tie.
    One cluster is global popularity. ``attrs["model"]`` is the chosen model.
    """
    _check_ml(ml)
    if not isinstance(holdout, UserHoldout):
        raise TypeError(f"holdout must be a UserHoldout (from hold_out_users), got {type(holdout).__name__}")
    if isinstance(candidates, (int, np.integer)) or not len(candidates):
        raise ValueError(f"candidates must be a non-empty list of cluster counts, got {candidates!r}")
    candidates = sorted({check_int(c, "candidates", low=1) for c in candidates})
    k = check_int(k, "k", low=1)
    if len(holdout.validation_users) == 0:
        raise ValueError("the holdout has no validation users; use validation_fraction > 0 in hold_out_users")
    users = np.unique(holdout.train["userId"].to_numpy())
    if candidates[-1] > len(users):
        raise ValueError(f"a candidate of {candidates[-1]} clusters is more than the {len(users)} training users")
    frame = user_features(ml, users, features)
    truth = holdout.truth("validation")
    rows, models = [], {}
    for n in candidates:
        model = _fit_clusters(ml, holdout.train, users, frame, n, float(shrinkage), check_seed(seed))
        models[n] = model
        scores = per_user_metrics(model.recall(ml, holdout.validation_users, k), truth, k).mean()
        rows.append({"clusters": n, f"recall@{k}": scores[f"recall@{k}"], f"ndcg@{k}": scores[f"ndcg@{k}"]})
    table = pd.DataFrame(rows)
    best = int(table["clusters"][table[f"recall@{k}"].round(12).idxmax()])
    table.attrs["best"] = best
    table.attrs["model"] = models[best]
    return table


def cluster_profiles(ml: MovieLens, model: ClusterModel, train: pd.DataFrame, *, n_values: int = 2,
                     n_genres: int = 2, n_titles: int = 2) -> pd.DataFrame:
    """Each cluster in words: who is in it (its most over-represented feature values) and what it likes.

    ``members`` lists feature values by lift (share in the cluster over share overall);
    ``likes`` lists genres by lift among the cluster's likes; ``distinctive titles`` are the titles of
    its 50 best that it likes most above the average user.
    """
    _check_ml(ml)
    frame = user_features(ml, model.train_labels.index, model.features)
    labels = model.train_labels.to_numpy()
    genres = genre_matrix(ml.movies)
    liked = _positives(train)
    liked = liked[liked["userId"].isin(model.train_labels.index)]
    liked_cluster = model.train_labels.reindex(liked["userId"]).to_numpy()
    liked_genres = genres.reindex(liked["movieId"]).to_numpy(float)
    overall_genre = liked_genres.sum(0) / max(liked_genres.sum(), 1)
    titles = ml.movies.set_index("movieId")["title"]
    rows = []
    for c in range(model.n_clusters):
        inside = labels == c
        lifts = []
        for f in model.features:
            share_in = frame.loc[inside, f].value_counts(normalize=True)
            share_all = frame[f].value_counts(normalize=True)
            for value, s in share_in.items():
                if s >= 0.25:  # a value that describes a real part of the cluster
                    lifts.append((s / share_all[value], f"{f}={value} ({s:.0%})"))
        lifts.sort(key=lambda t: (-t[0], t[1]))
        g = liked_genres[liked_cluster == c].sum(0)
        g = g / max(g.sum(), 1)
        lift = np.where(overall_genre > 0, g / np.where(overall_genre > 0, overall_genre, 1), 0)
        order = np.argsort(-lift, kind="stable")[:n_genres]
        # its most distinctive titles: among its 50 best, those it likes most above the average user
        best = np.argsort(-model.scores[c], kind="stable")[:50]
        overall = model.scores.T @ model.sizes / model.sizes.sum()
        head = best[np.argsort(-(model.scores[c, best] / np.maximum(overall[best], 1e-12)), kind="stable")][:n_titles]
        rows.append({"cluster": c, "users": int(inside.sum()),
                     "members": ", ".join(text for _, text in lifts[:n_values]),
                     "likes more than average": ", ".join(f"{genres.columns[i]} x{lift[i]:.2f}" for i in order),
                     "distinctive titles": "; ".join(titles[model.items[i]] for i in head)})
    return pd.DataFrame(rows).sort_values("users", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# (c) A feature model: logistic regression on user features x item features
# ---------------------------------------------------------------------------


def _year_buckets(ml: MovieLens, items: np.ndarray) -> pd.DataFrame:
    year = release_year(ml.movies).reindex(items)
    decade = (year // 10 * 10).astype("Int64").astype(str).replace("<NA>", "unknown")
    return pd.get_dummies(decade.to_numpy()).set_axis(items, axis=0).astype(np.float64)


def _item_side_matrix(ml: MovieLens, items: np.ndarray) -> np.ndarray:
    """Genres (multi-hot) and release decade (one-hot) of each item, rows in ``items`` order."""
    genres = genre_matrix(ml.movies).reindex(items).fillna(0).to_numpy(np.float64)
    return np.hstack([genres, _year_buckets(ml, items).to_numpy()])


@dataclass(frozen=True, eq=False)
class FeatureModel:
    """Logistic regression on (user feature x item side information) crosses plus an item bias."""

    features: tuple[str, ...]
    encoder: object
    items: np.ndarray
    item_side: np.ndarray      # (n_items, n_side)
    item_bias: np.ndarray      # (n_items,)
    cross: np.ndarray          # (n_user_columns, n_side): weight of each user value x item attribute

    def score(self, ml: MovieLens, user_ids: Sequence[int]) -> np.ndarray:
        """Logit of a like for every (user, item): item bias + x_u W s_i, from features alone."""
        x = self.encoder.transform(user_features(ml, user_ids, self.features)).toarray()
        return self.item_bias[None, :] + (x @ self.cross) @ self.item_side.T

    def recall(self, ml: MovieLens, user_ids: Sequence[int], k: int = 20) -> pd.DataFrame:
        """Top-``k`` items by the model's score, in the common recall frame."""
        k = check_int(k, "k", low=1)
        user_ids = np.asarray(user_ids, dtype=np.int64)
        return top_k_frame(user_ids, self.items, self.score(ml, user_ids), k)


def _outer_rows(a: sp.csr_matrix, b: sp.csr_matrix) -> sp.csr_matrix:
    """Row-wise outer products: row r of the result is vec(a_r^T b_r), shape (n, a.cols * b.cols)."""
    a_entry_row = np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))
    b_len = np.diff(b.indptr)[a_entry_row]            # for each entry of a: how many entries its row of b has
    offsets = np.arange(b_len.sum()) - np.repeat(np.cumsum(b_len) - b_len, b_len)
    b_pos = np.repeat(b.indptr[a_entry_row], b_len) + offsets
    rows = np.repeat(a_entry_row, b_len)
    cols = np.repeat(a.indices, b_len) * b.shape[1] + b.indices[b_pos]
    vals = np.repeat(a.data, b_len) * b.data[b_pos]
    return sp.csr_matrix((vals, (rows, cols)), shape=(a.shape[0], a.shape[1] * b.shape[1]))


def fit_feature_model(ml: MovieLens, train: pd.DataFrame, features: Sequence[str] | None = None, *,
                      negatives: int = 2, max_positives_per_user: int = 30, c: float = 0.1,
                      seed: int = DEFAULT_SEED) -> FeatureModel:
    """Logistic regression (scikit-learn, lbfgs) on likes against sampled items.

    Each row is a (user, item) pair: a like (label 1) or an item drawn uniformly at random
    (label 0, ``negatives`` per like). Its columns are the item's one-hot id (the item's
    bias: popularity) and every product of a user feature value with an item attribute
    (genre, release decade): a few thousand sparse columns. Capping the likes per user
    keeps heavy users from dominating and the design small (a few seconds to fit).
    """
    from sklearn.linear_model import LogisticRegression

    _check_ml(ml)
    check_frame(train, _RATING_COLUMNS, "train", allow_empty=False)
    negatives = check_int(negatives, "negatives", low=1, high=50)
    max_positives_per_user = check_int(max_positives_per_user, "max_positives_per_user", low=1)
    c = check_number(c, "c", low=0.0, include_low=False)
    rng = np.random.default_rng(check_seed(seed))
    users = np.unique(train["userId"].to_numpy())
    frame = user_features(ml, users, features)
    encoder = _encoder(frame)
    x_users = encoder.transform(frame).tocsr()
    items = _item_catalogue(ml)
    side = _item_side_matrix(ml, items)
    liked = _positives(train).sample(frac=1.0, random_state=int(rng.integers(2**31)))
    liked = liked.groupby("userId", sort=True).head(max_positives_per_user)
    if liked.empty:
        raise ValueError("train has no likes (ratings >= 3.5); nothing to learn from")
    pos_user = np.searchsorted(users, liked["userId"].to_numpy())
    pos_item = np.searchsorted(items, liked["movieId"].to_numpy())
    neg_user = np.repeat(pos_user, negatives)
    neg_item = rng.integers(0, len(items), size=neg_user.size)
    row_user = np.concatenate([pos_user, neg_user])
    row_item = np.concatenate([pos_item, neg_item])
    y = np.concatenate([np.ones(pos_user.size), np.zeros(neg_user.size)])
    n_side = side.shape[1]
    # cross features: for a row (u, i), the outer product of x_u (one-hot) and s_i (side info), flattened
    cross = _outer_rows(x_users[row_user].tocsr(), sp.csr_matrix(side[row_item]))
    bias = sp.csr_matrix((np.ones(len(y)), (np.arange(len(y)), row_item)), shape=(len(y), len(items)))
    design = sp.hstack([bias, cross], format="csr")
    model = LogisticRegression(C=c, max_iter=300, solver="lbfgs").fit(design, y)
    w = model.coef_.ravel()
    return FeatureModel(tuple(frame.columns), encoder, items, side, w[:len(items)] + model.intercept_[0],
                        w[len(items):].reshape(x_users.shape[1], n_side))


# ---------------------------------------------------------------------------
# Comparing the channels for new users
# ---------------------------------------------------------------------------


def compare_user_approaches(ml: MovieLens, holdout: UserHoldout, channels: dict, *, k: int = 20) -> pd.DataFrame:
    """recall@k, NDCG@k and catalogue coverage of each channel on the test users (held out as if new).

    ``channels`` maps a name to a fitted model with ``recall(ml, user_ids, k)`` (ClusterModel,
    FeatureModel) or to the string ``"popularity"``. ``attrs["per_user"]`` holds every test
    user's recall@k per channel, for paired comparisons.
    """
    _check_ml(ml)
    k = check_int(k, "k", low=1)
    if not isinstance(channels, dict) or not channels:
        raise TypeError("channels must be a non-empty dict {name: fitted model or 'popularity'}")
    truth = holdout.truth("test")
    rows, per_user = [], {}
    for name, model in channels.items():
        if isinstance(model, str) and model == "popularity":
            recs = popularity_recall(ml, holdout.train, holdout.test_users, k)
        elif hasattr(model, "recall"):
            recs = model.recall(ml, holdout.test_users, k)
        else:
            raise TypeError(f"channel {name!r} must be 'popularity' or a model with a recall method, "
                            f"got {type(model).__name__}")
        scores = per_user_metrics(recs, truth, k)
        per_user[name] = scores[f"recall@{k}"]
        coverage = recs.groupby("userId", sort=False).head(k)["movieId"].nunique() / len(ml.movies)
        rows.append({"approach": name, f"recall@{k}": scores[f"recall@{k}"].mean(),
                     f"ndcg@{k}": scores[f"ndcg@{k}"].mean(), "coverage": coverage})
    table = pd.DataFrame(rows)
    table.attrs["per_user"] = pd.DataFrame(per_user)
    return table


def compare_feature_sets(ml: MovieLens, holdout: UserHoldout, feature_sets: dict, *,
                         candidates: Sequence[int] = (1, 2, 4, 8, 16, 32), k: int = 20,
                         segments: pd.Series | None = None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Which features to cluster on, and how many clusters: validation recall@k for every (feature set, k).

    One row per feature set and number of clusters; ``chosen`` marks each set's k chosen
    on validation users, and ``test recall@k`` is filled for that chosen model only.
    ``attrs["models"]`` holds each set's chosen ClusterModel. With ``segments`` (a known group
    of each user, index userId, e.g. SparrowLens's planted taste segment) the chosen rows also
    get ``NMI with segments``: the normalised mutual information of the training users' clusters
    with those groups (0 = unrelated, 1 = the same partition).
    """
    _check_ml(ml)
    if not isinstance(feature_sets, dict) or not feature_sets:
        raise TypeError("feature_sets must be a non-empty dict {name: list of feature names}")
    truth = holdout.truth("test")
    parts, models = [], {}
    for name, features in feature_sets.items():
        table = choose_n_clusters(ml, holdout, features, candidates=candidates, k=k, seed=seed)
        model = models[name] = table.attrs["model"]
        test = per_user_metrics(model.recall(ml, holdout.test_users, k), truth, k)[f"recall@{k}"].mean()
        table = table.rename(columns={f"recall@{k}": f"validation recall@{k}", f"ndcg@{k}": f"validation ndcg@{k}"})
        table.insert(0, "features", name)
        table["chosen"] = table["clusters"] == table.attrs["best"]
        table[f"test recall@{k}"] = np.where(table["chosen"], test, np.nan)
        if segments is not None:
            table["NMI with segments"] = np.where(table["chosen"], _nmi(model.train_labels, segments), np.nan)
        table.attrs = {}
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["models"] = models
    return out


def _nmi(labels: pd.Series, segments: pd.Series) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    if not isinstance(segments, pd.Series):
        raise TypeError(f"segments must be a pandas Series indexed by userId, got {type(segments).__name__}")
    known = segments.reindex(labels.index)
    if known.isna().any():
        raise ValueError(f"segments lacks {int(known.isna().sum())} training user(s); give every user a segment")
    return float(normalized_mutual_info_score(known.to_numpy(), labels.to_numpy()))


# ---------------------------------------------------------------------------
# A personal model for users with a little history: item-to-item co-occurrence
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ItemItemModel:
    """Item-to-item cosine similarity of who liked what, learned from training users' likes."""

    items: np.ndarray
    similarity: np.ndarray     # (n_items, n_items), zero diagonal
    popularity: np.ndarray     # likes per item in training (a tie-break)

    def score(self, history: pd.DataFrame, user_ids: Sequence[int]) -> np.ndarray:
        """Score every item for each user: the sum of its similarities to the items the user liked in ``history``.

        Ties (a user with no like yet scores all zeros) fall back to popularity order.
        """
        user_ids = np.asarray(user_ids, dtype=np.int64)
        liked = _positives(history)
        liked = liked[liked["userId"].isin(user_ids) & liked["movieId"].isin(self.items)]
        rows = np.searchsorted(user_ids, liked["userId"].to_numpy())
        cols = np.searchsorted(self.items, liked["movieId"].to_numpy())
        x = sp.csr_matrix((np.ones(len(liked)), (rows, cols)), shape=(len(user_ids), len(self.items)))
        tie = self.popularity / (self.popularity.max() + 1.0) * 1e-6
        return np.asarray(x @ self.similarity) + tie[None, :]

    def recall(self, history: pd.DataFrame, user_ids: Sequence[int], k: int = 20) -> pd.DataFrame:
        """Top-``k`` per user from their history, items already rated in ``history`` excluded."""
        k = check_int(k, "k", low=1)
        user_ids = np.sort(np.asarray(user_ids, dtype=np.int64))
        seen = history[history["userId"].isin(user_ids) & history["movieId"].isin(self.items)]
        exclude = sp.csr_matrix((np.ones(len(seen), dtype=bool),
                                 (np.searchsorted(user_ids, seen["userId"].to_numpy()),
                                  np.searchsorted(self.items, seen["movieId"].to_numpy()))),
                                shape=(len(user_ids), len(self.items)))
        return top_k_frame(user_ids, self.items, self.score(history, user_ids), k, exclude=exclude)


def fit_item_item(ml: MovieLens, train: pd.DataFrame) -> ItemItemModel:
    """Cosine similarity between items' columns of the (user x item) like matrix of ``train``."""
    _check_ml(ml)
    check_frame(train, _RATING_COLUMNS, "train", allow_empty=False)
    items = _item_catalogue(ml)
    liked = _positives(train)
    users = np.unique(liked["userId"].to_numpy())
    x = sp.csr_matrix((np.ones(len(liked)), (np.searchsorted(users, liked["userId"].to_numpy()),
                                             np.searchsorted(items, liked["movieId"].to_numpy()))),
                      shape=(len(users), len(items)))
    co = np.asarray((x.T @ x).toarray(), dtype=np.float64)
    norms = np.sqrt(np.diag(co)).copy()
    norms[norms == 0] = 1.0
    sim = co / norms[:, None] / norms[None, :]
    np.fill_diagonal(sim, 0.0)
    return ItemItemModel(items, sim, np.diag(co).copy())


def _first_n(ratings: pd.DataFrame, n: int) -> pd.DataFrame:
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    return ordered[ordered.groupby("userId").cumcount() < n]


def warm_up_curve(ml: MovieLens, holdout: UserHoldout, cluster_model: ClusterModel, item_model: ItemItemModel, *,
                  steps: Sequence[int] = (1, 3, 5, 10), k: int = 20, n_boot: int = 1000,
                  seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """recall@k of the cluster list and of the personal model after a new user's first n ratings.

    Test users with more than max(steps) ratings take part; what they should find is the same
    at every step, their likes after their first max(steps) ratings, so the curves are paired.
    Items a user has already rated are never recommended. ``difference`` (personal minus
    cluster) comes with a bootstrap interval over users.
    """
    _check_ml(ml)
    k = check_int(k, "k", low=1)
    if isinstance(steps, (int, np.integer)) or not len(steps):
        raise ValueError(f"steps must be a non-empty list of rating counts, got {steps!r}")
    steps = sorted({check_int(s, "steps", low=1) for s in steps})
    last = steps[-1]
    test = holdout.test
    counts = test.groupby("userId").size()
    users = np.sort(counts.index[counts > last].to_numpy())
    ordered = test[test["userId"].isin(users)].sort_values(["userId", "timestamp", "movieId"], kind="stable")
    later = ordered[ordered.groupby("userId").cumcount() >= last]
    truth = _positives(later)[["userId", "movieId"]]
    users = np.sort(truth["userId"].unique())
    if len(users) < 2:
        raise ValueError(f"fewer than 2 test users have likes after their first {last} ratings; lower the steps")
    base = cluster_model.scores[cluster_model.assign(ml, users)]
    rows = []
    for n in steps:
        seen = _first_n(ordered[ordered["userId"].isin(users)], n)
        exclude = sp.csr_matrix((np.ones(len(seen), dtype=bool),
                                 (np.searchsorted(users, seen["userId"].to_numpy()),
                                  np.searchsorted(item_model.items, seen["movieId"].to_numpy()))),
                                shape=(len(users), len(item_model.items))).toarray()
        cluster = per_user_metrics(top_k_frame(users, cluster_model.items, base, k, exclude=exclude), truth, k)
        personal = per_user_metrics(item_model.recall(seen, users, k), truth, k)
        diff = paired_difference(personal[f"recall@{k}"], cluster[f"recall@{k}"], n_boot=n_boot, seed=seed)
        rows.append({"ratings seen": n, "cluster list": cluster[f"recall@{k}"].mean(),
                     "personal (item-to-item)": personal[f"recall@{k}"].mean(),
                     "difference": diff["difference"], "low": diff["low"], "high": diff["high"],
                     "users": len(users)})
    return pd.DataFrame(rows)


def history_length_quality(ml: MovieLens, *, k: int = 20, bins: Sequence[int] = (8, 12, 20, 40, 80),
                           test_fraction: float = 0.2) -> pd.DataFrame:
    """Why cold start hurts: a warm model's recall@k for users grouped by how much history it saw.

    The shared protocol (each user's latest ``test_fraction`` of ratings held out); the warm
    model is item-to-item on every user's earlier likes. ``bins`` are the lower edges of the
    history-length groups (number of training ratings). Popularity is measured beside it.
    """
    from .datasets import user_time_split

    _check_ml(ml)
    k = check_int(k, "k", low=1)
    edges = sorted({check_int(b, "bins", low=0) for b in bins})
    train, test = user_time_split(ml.ratings, test_fraction)
    model = fit_item_item(ml, train)
    truth = _positives(test)[["userId", "movieId"]]
    users = np.sort(truth["userId"].unique())
    personal = pd.concat([per_user_metrics(model.recall(train, chunk, k), truth[truth["userId"].isin(chunk)], k)
                          for chunk in np.array_split(users, max(1, len(users) // 1000))])
    seen = train[train["userId"].isin(users)]
    counts = np.zeros((len(users), len(model.items)), dtype=bool)
    counts[np.searchsorted(users, seen["userId"].to_numpy()), np.searchsorted(model.items, seen["movieId"].to_numpy())] = True
    pop = per_user_metrics(top_k_frame(users, model.items, np.tile(model.popularity, (len(users), 1)), k,
                                       exclude=counts), truth, k)
    history = train.groupby("userId").size().reindex(users).to_numpy()
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+"]
    group = np.searchsorted(edges, history, side="right") - 1
    keep = group >= 0
    frame = pd.DataFrame({"history": np.array(labels)[group[keep]], "order": group[keep],
                          "item-to-item": personal[f"recall@{k}"].reindex(users).to_numpy()[keep],
                          "popularity": pop[f"recall@{k}"].reindex(users).to_numpy()[keep]})
    out = frame.groupby(["order", "history"]).agg(users=("item-to-item", "size"),
                                                    **{"item-to-item": ("item-to-item", "mean"),
                                                       "popularity": ("popularity", "mean")})
    return out.reset_index().drop(columns="order").rename(columns={"history": "training ratings"})


def typicality_table(ml: MovieLens, holdout: UserHoldout, cluster_model: ClusterModel, *, k: int = 20,
                     n_groups: int = 4) -> pd.DataFrame:
    """Where clusters fail: recall@k of the cluster list and of popularity for test users grouped by how typical
    of their cluster their taste is (cosine of their liked-genre mix with their cluster's)."""
    _check_ml(ml)
    k = check_int(k, "k", low=1)
    n_groups = check_int(n_groups, "n_groups", low=2, high=10)
    genres = genre_matrix(ml.movies)
    truth = holdout.truth("test")
    users = np.sort(truth["userId"].unique())
    labels = cluster_model.assign(ml, users)

    def genre_mix(likes: pd.DataFrame, keys: np.ndarray, key_of: np.ndarray) -> np.ndarray:
        g = genres.reindex(likes["movieId"]).fillna(0).to_numpy(float)
        out = np.zeros((len(keys), g.shape[1]))
        np.add.at(out, key_of, g)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    own = genre_mix(truth, users, np.searchsorted(users, truth["userId"].to_numpy()))
    train_likes = _positives(holdout.train)
    train_likes = train_likes[train_likes["userId"].isin(cluster_model.train_labels.index)]
    cl = cluster_model.train_labels.reindex(train_likes["userId"]).to_numpy()
    mix = genre_mix(train_likes, np.arange(cluster_model.n_clusters), cl)
    typical = (own * mix[labels]).sum(axis=1)
    cluster = per_user_metrics(cluster_model.recall(ml, users, k), truth, k)[f"recall@{k}"].reindex(users)
    pop = per_user_metrics(popularity_recall(ml, holdout.train, users, k), truth, k)[f"recall@{k}"].reindex(users)
    group = pd.qcut(pd.Series(typical).rank(method="first"), n_groups, labels=False).to_numpy()
    frame = pd.DataFrame({"group": group, "typicality": typical, "cluster list": cluster.to_numpy(),
                          "popularity": pop.to_numpy()})
    out = frame.groupby("group").agg(users=("typicality", "size"), typicality=("typicality", "mean"),
                                     **{"cluster list": ("cluster list", "mean"), "popularity": ("popularity", "mean")})
    out["cluster - popularity"] = out["cluster list"] - out["popularity"]
    out.index = [f"Q{i + 1}" for i in out.index]
    out.index.name = "typicality quartile" if n_groups == 4 else "typicality group"
    return out


# ---------------------------------------------------------------------------
# Item cold start: a new item's vector from its most similar warm items
# ---------------------------------------------------------------------------

#: Side information an item can be matched on.
SIDE_FEATURES: tuple[str, ...] = ("genres", "year", "tags")


def side_information(ml: MovieLens, features: Sequence[str] = ("genres", "year"), *, year_scale: float = 10.0,
                     tag_weight: float = 1.0) -> pd.DataFrame:
    """Numeric side information per movie (index movieId), for nearest-neighbour search.

    ``genres``: the multi-hot genres scaled to unit length (columns ``genre:...``);
    ``year``: the release year over ``year_scale`` years, centred on the median (a film
    without a year sits at the median); ``tags``: the share of each tag among the tags users
    applied to the film, times ``tag_weight`` (columns ``tag:...``; zero for untagged films).
    Two films' Euclidean distance then weighs a genre mismatch against ``year_scale`` years.
    """
    _check_ml(ml)
    if isinstance(features, str):
        raise TypeError(f"features must be a list of names, got the string {features!r}; write [{features!r}]")
    features = list(features)
    if not features:
        raise ValueError(f"features is empty; choose from {list(SIDE_FEATURES)}")
    for f in features:
        if f not in SIDE_FEATURES:
            raise ValueError(f"unknown side information {f!r}; choose from {list(SIDE_FEATURES)}")
    year_scale = check_number(year_scale, "year_scale", low=0.0, include_low=False)
    tag_weight = check_number(tag_weight, "tag_weight", low=0.0)
    ids = _item_catalogue(ml)
    parts = []
    if "genres" in features:
        g = genre_matrix(ml.movies).reindex(ids).fillna(0).astype(float)
        g = g.div(np.maximum(np.sqrt((g ** 2).sum(axis=1)), 1e-12), axis=0)
        parts.append(g.set_axis([f"genre:{c}" for c in g.columns], axis=1))
    if "year" in features:
        year = release_year(ml.movies).reindex(ids).astype("float64")
        year = year.fillna(year.median()) if year.notna().any() else year.fillna(0.0)
        parts.append(pd.DataFrame({"year": ((year - year.median()) / year_scale).to_numpy()}, index=ids))
    if "tags" in features:
        if ml.tags.empty:
            raise ValueError(f"dataset '{ml.name}' has no tags (tags.csv is missing or empty); drop 'tags' "
                             "from the side information")
        counts = pd.crosstab(ml.tags["movieId"], ml.tags["tag"].str.lower()).reindex(ids, fill_value=0)
        shares = counts.div(np.maximum(counts.sum(axis=1), 1), axis=0) * tag_weight
        parts.append(shares.set_axis([f"tag:{c}" for c in shares.columns], axis=1))
    out = pd.concat([p.set_axis(ids, axis=0) for p in parts], axis=1)
    out.index.name = "movieId"
    return out


def similar_warm_items(side: pd.DataFrame, new_items: Sequence[int], warm_items: Sequence[int], *, k: int = 10,
                       same_genre: bool = True) -> pd.DataFrame:
    """The ``k`` warm items nearest to each new item by side information (Euclidean distance).

    With ``same_genre`` only warm items sharing a genre with the new item are candidates (as
    Airbnb kept a new listing's neighbours to its own listing type); a new item without any
    such warm item raises a ValueError naming it. Ties are broken by movieId. Returns one row
    per (new item, neighbour): ``movieId``, ``neighbour``, ``rank`` (0 = nearest), ``distance``.
    """
    if not isinstance(side, pd.DataFrame) or side.empty:
        raise TypeError("side must be the non-empty DataFrame from side_information")
    new = np.unique(np.asarray(new_items, dtype=np.int64))
    warm = np.unique(np.asarray(warm_items, dtype=np.int64))
    k = check_int(k, "k", low=1)
    if new.size == 0:
        raise ValueError("new_items is empty; give at least one movie id")
    if warm.size == 0:
        raise ValueError("warm_items is empty: a new item needs warm items to borrow a vector from")
    if k > warm.size:
        raise ValueError(f"k={k} is larger than the {warm.size} warm items; choose k <= {warm.size}")
    unknown = np.setdiff1d(np.concatenate([new, warm]), side.index.to_numpy())
    if unknown.size:
        raise ValueError(f"{unknown.size} movie id(s) have no side information: {unknown[:5].tolist()}")
    if np.intersect1d(new, warm).size:
        raise ValueError(f"new and warm items overlap: {np.intersect1d(new, warm)[:5].tolist()}; a new item "
                         "must not be its own neighbour")
    a, b = side.loc[new].to_numpy(float), side.loc[warm].to_numpy(float)
    dist = np.sqrt(np.maximum((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T, 0.0))
    if same_genre:
        genre_cols = [c for c in side.columns if str(c).startswith("genre:")]
        if not genre_cols:
            raise ValueError("same_genre=True needs genres in the side information; add 'genres' or pass "
                             "same_genre=False")
        ga, gb = side.loc[new, genre_cols].to_numpy() > 0, side.loc[warm, genre_cols].to_numpy() > 0
        shares = (ga.astype(int) @ gb.T.astype(int)) > 0
        no_genre = ~ga.any(axis=1)
        shares[no_genre] = True  # a film without genres may match any warm film
        lonely = new[shares.sum(axis=1) == 0]
        if lonely.size:
            raise ValueError(f"empty neighbour set: {lonely.size} new item(s) share no genre with any warm item "
                             f"({lonely[:5].tolist()}); pass same_genre=False to use the nearest by all side "
                             "information")
        short = new[shares.sum(axis=1) < k]
        if short.size:
            raise ValueError(f"k={k} is larger than the warm items sharing a genre with {short.size} new item(s) "
                             f"({short[:5].tolist()}); lower k or pass same_genre=False")
        dist = np.where(shares, dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]   # warm ids are sorted: ties go to the lower id
    return pd.DataFrame({"movieId": np.repeat(new, k), "neighbour": warm[order].ravel(),
                         "rank": np.tile(np.arange(k), new.size),
                         "distance": np.take_along_axis(dist, order, axis=1).ravel()})


#: How a new item's vector is guessed: from its nearest warm items, or a baseline.
COLD_ITEM_METHODS: tuple[str, ...] = ("neighbours", "genre mean", "global mean", "random")


def cold_item_vectors(vectors: ItemVectors, side: pd.DataFrame, new_items: Sequence[int], *,
                      method: str = "neighbours", k: int = 10, same_genre: bool = True,
                      seed: int = DEFAULT_SEED) -> ItemVectors:
    """Vectors for new items, in the warm model's space, from side information alone.

    ``neighbours``: the mean vector of the ``k`` most similar warm items (Airbnb's recipe);
    ``genre mean``: the mean over the item's genres of each genre's mean warm vector;
    ``global mean``: the mean of all warm vectors; ``random``: a Gaussian draw with the warm
    vectors' mean and per-dimension spread.
    """
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be ItemVectors (from train_item2vec), got {type(vectors).__name__}")
    check_choice(method, "method", COLD_ITEM_METHODS)
    new = np.unique(np.asarray(new_items, dtype=np.int64))
    if new.size == 0:
        raise ValueError("new_items is empty; give at least one movie id")
    known = np.intersect1d(new, vectors.ids)
    if known.size:
        raise ValueError(f"{known.size} 'new' item(s) already have a trained vector ({known[:5].tolist()}): a new "
                         "item's ratings must be held out of training (see hold_out_items)")
    warm = vectors.ids
    mean = vectors.vectors.mean(axis=0)
    if method == "neighbours":
        nb = similar_warm_items(side, new, warm, k=k, same_genre=same_genre)
        out = vectors.get(nb["neighbour"].to_numpy()).reshape(new.size, k, -1).mean(axis=1)
    elif method == "global mean":
        out = np.tile(mean, (new.size, 1))
    elif method == "random":
        rng = np.random.default_rng(check_seed(seed))
        out = mean + rng.standard_normal((new.size, vectors.dim)) * vectors.vectors.std(axis=0)
    else:  # genre mean
        genre_cols = [c for c in side.columns if str(c).startswith("genre:")]
        if not genre_cols:
            raise ValueError("method='genre mean' needs genres in the side information")
        gw = side.loc[warm, genre_cols].to_numpy() > 0
        gn = side.loc[new, genre_cols].to_numpy() > 0
        sums = gw.T.astype(float) @ vectors.vectors
        count = gw.sum(axis=0)
        genre_means = np.where(count[:, None] > 0, sums / np.maximum(count, 1)[:, None], np.nan)
        usable = gn & (count > 0)[None, :]
        out = np.array([np.nanmean(genre_means[row], axis=0) if row.any() else mean for row in usable])
    return ItemVectors(new, out)


def procrustes_align(source: ItemVectors, target: ItemVectors, on: Sequence[int] | None = None) -> ItemVectors:
    """Rotate ``source`` into ``target``'s space by orthogonal Procrustes on the items both share (or ``on``).

    Two Word2Vec runs (another seed, other data) learn the same geometry up to a rotation;
    vectors are comparable across runs only after this alignment: centre both on the shared
    items, find the rotation R minimising ||S R - T||, map every source vector.
    """
    from scipy.linalg import orthogonal_procrustes

    for name, v in (("source", source), ("target", target)):
        if not isinstance(v, ItemVectors):
            raise TypeError(f"{name} must be ItemVectors, got {type(v).__name__}")
    if source.dim != target.dim:
        raise ValueError(f"source and target differ in dimension: {source.dim} and {target.dim}")
    shared = np.intersect1d(source.ids, target.ids) if on is None else np.unique(np.asarray(on, dtype=np.int64))
    if shared.size < source.dim:
        raise ValueError(f"{shared.size} shared items are too few to align {source.dim}-dimensional vectors")
    s, t = source.get(shared), target.get(shared)
    mu_s, mu_t = s.mean(axis=0), t.mean(axis=0)
    rotation, _ = orthogonal_procrustes(s - mu_s, t - mu_t)
    return ItemVectors(source.ids, (source.vectors - mu_s) @ rotation + mu_t)


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (a * b).sum(axis=1) / (na * nb)
    return np.where((na > 0) & (nb > 0), cos, 0.0)  # a zero vector points nowhere: cosine 0


@dataclass(frozen=True, eq=False)
class ItemColdStart:
    """Everything the item cold-start experiment built, to evaluate further without retraining."""

    ml: MovieLens
    holdout: ItemHoldout
    side: pd.DataFrame
    warm: ItemVectors          # item2vec trained without the new items' ratings
    trained: ItemVectors       # item2vec trained with every rating, aligned into warm's space
    repeat: ItemVectors        # the same, another seed, aligned into warm's space (the ceiling)
    k: int
    top_k: int
    seed: int
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    def guess(self, method: str, k: int | None = None) -> ItemVectors:
        """The new items' vectors by ``method`` (``neighbours`` uses ``k``, default the experiment's)."""
        return cold_item_vectors(self.warm, self.side, self.holdout.new_items, method=method,
                                 k=self.k if k is None else k, seed=self.seed)

    def cosines(self, guess: ItemVectors) -> pd.DataFrame:
        """Raw and centred cosine of each new item's guessed vector to its trained vector."""
        new = self.holdout.new_items
        centre = self.warm.vectors.mean(axis=0)
        g, t = guess.get(new), self.trained.get(new)
        return pd.DataFrame({"raw cosine": _cosine_rows(g, t), "centred cosine": _cosine_rows(g - centre, t - centre)},
                            index=pd.Index(new, name="movieId"))

    def user_ranks(self, guess: ItemVectors) -> pd.DataFrame:
        """For each (new item, user who liked it): the item's rank among the items that user has not rated.

        The user's vector is the mean of the centred, unit-length warm vectors of their other
        likes; every item is scored by cosine to it, warm items by their warm vectors and all
        new items by ``guess``. ``auc`` is the share of candidates the new item beats.
        """
        new = self.holdout.new_items
        ids, users, profile, rated_mask, pu, pi = self._users_who_liked_new_items()
        centre = self.warm.vectors.mean(axis=0)
        mat = np.vstack([self.warm.vectors, guess.get(new)]) - centre
        unit = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        unit = unit[np.argsort(np.concatenate([self.warm.ids, new]), kind="stable")]
        rows = []
        for start in range(0, len(pu), 2000):
            u, i = pu[start:start + 2000], pi[start:start + 2000]
            scores = profile[u] @ unit.T
            target = scores[np.arange(len(u)), i]
            candidate = ~rated_mask[u]
            candidate[np.arange(len(u)), i] = False
            above = ((scores > target[:, None]) & candidate).sum(axis=1)
            n_cand = candidate.sum(axis=1)
            rows.append(pd.DataFrame({"movieId": ids[i], "userId": users[u], "rank": above,
                                      "auc": 1.0 - above / np.maximum(n_cand, 1)}))
        return pd.concat(rows, ignore_index=True)

    def _users_who_liked_new_items(self) -> tuple:
        """What user_ranks needs that does not depend on the guess (computed once, then reused)."""
        cached = self.__dict__.get("_user_side")
        if cached is not None:
            return cached
        new = self.holdout.new_items
        ratings = self.ml.ratings
        centre = self.warm.vectors.mean(axis=0)
        ids = np.sort(np.concatenate([self.warm.ids, new]))
        warm_unit = self.warm.vectors - centre
        warm_unit = warm_unit / np.maximum(np.linalg.norm(warm_unit, axis=1, keepdims=True), 1e-12)
        likes = _positives(ratings)
        pairs = likes[likes["movieId"].isin(new)][["userId", "movieId"]]
        users = np.unique(pairs["userId"].to_numpy())
        warm_likes = likes[likes["userId"].isin(users) & likes["movieId"].isin(self.warm.ids)]
        u_rows = np.searchsorted(users, warm_likes["userId"].to_numpy())
        profile = np.zeros((len(users), warm_unit.shape[1]))
        np.add.at(profile, u_rows, warm_unit[self.warm.rows(warm_likes["movieId"].to_numpy())])
        has = np.bincount(u_rows, minlength=len(users)) > 0
        rated = ratings[ratings["userId"].isin(users) & ratings["movieId"].isin(ids)]
        rated_mask = sp.csr_matrix((np.ones(len(rated), dtype=bool),
                                    (np.searchsorted(users, rated["userId"].to_numpy()),
                                     np.searchsorted(ids, rated["movieId"].to_numpy()))),
                                   shape=(len(users), len(ids))).toarray()
        pairs = pairs[has[np.searchsorted(users, pairs["userId"].to_numpy())]]
        pu = np.searchsorted(users, pairs["userId"].to_numpy())
        pi = np.searchsorted(ids, pairs["movieId"].to_numpy())
        cached = (ids, users, profile, rated_mask, pu, pi)
        self.__dict__["_user_side"] = cached
        return cached

    def evaluate(self, guess: ItemVectors, name: str) -> dict:
        """One row of the comparison table for the vectors ``guess``."""
        cos = self.cosines(guess)
        ranks = self.user_ranks(guess)
        per_item = ranks.groupby("movieId").agg(auc=("auc", "mean"), hit=("rank", lambda r: (r < self.top_k).mean()))
        return {"method": name, "centred cosine": cos["centred cosine"].mean(), "raw cosine": cos["raw cosine"].mean(),
                "user AUC": per_item["auc"].mean(), f"found in top-{self.top_k}": per_item["hit"].mean()}


def item_cold_start(ml: MovieLens, *, n_items: int = 100, min_positive: int = 20, k: int = 10, top_k: int = 20,
                    dim: int = 10, epochs: int = 10, seed: int = DEFAULT_SEED) -> ItemColdStart:
    """Hold ``n_items`` items out as if new, train item2vec on the rest, and guess their vectors.

    Trains three item2vec models (SparrowRecSys settings: dim 10, window 5, 10 epochs): on
    warm items only; on every rating (the vector each new item gets once its ratings
    arrive); and the same with another seed (how reproducible a trained vector is: the
    ceiling). The last two are rotated into the warm model's space by Procrustes on the warm
    items. ``table`` compares the averaged neighbours with every baseline, per new item
    averaged: centred and raw cosine to the trained vector, and how high the users who liked
    the item rank it (AUC) or find it in their top-``top_k``.
    """
    _check_ml(ml)
    k = check_int(k, "k", low=1)
    top_k = check_int(top_k, "top_k", low=1)
    seed = check_seed(seed)
    holdout = hold_out_items(ml.ratings, n_items=n_items, min_positive=min_positive, seed=seed)
    side = side_information(ml, ("genres", "year"))
    warm = train_item2vec(positive_sequences(holdout.warm), dim=dim, epochs=epochs, seed=seed)
    full_sequences = positive_sequences(ml.ratings)
    full = train_item2vec(full_sequences, dim=dim, epochs=epochs, seed=seed)
    again = train_item2vec(full_sequences, dim=dim, epochs=epochs, seed=(seed + 1) % 2**32)
    trained = procrustes_align(full, warm)
    repeat = procrustes_align(again, warm)
    result = ItemColdStart(ml, holdout, side, warm, trained, repeat, k, top_k, seed)
    rows = [result.evaluate(result.guess(m), m if m != "neighbours" else f"mean of {k} neighbours")
            for m in COLD_ITEM_METHODS]
    rows.append(result.evaluate(ItemVectors(holdout.new_items, repeat.get(holdout.new_items)),
                                "ceiling: trained, another seed"))
    rows.append(result.evaluate(ItemVectors(holdout.new_items, trained.get(holdout.new_items)), "trained (reference)"))
    table = pd.DataFrame(rows)
    object.__setattr__(result, "table", table)
    return result


def neighbour_k_sweep(result: ItemColdStart, ks: Sequence[int] = (1, 2, 3, 5, 10, 20, 50)) -> pd.DataFrame:
    """The effect of k: centred cosine and user AUC of the mean of k neighbours, for each k."""
    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    rows = []
    for k in ks:
        row = result.evaluate(result.guess("neighbours", check_int(k, "ks", low=1)), f"k={k}")
        rows.append({"k": k, "centred cosine": row["centred cosine"], "user AUC": row["user AUC"]})
    return pd.DataFrame(rows)


def rarity_table(result: ItemColdStart, *, edges: Sequence[int] = (0, 5, 20)) -> pd.DataFrame:
    """Where averaging fails: centred cosine by how many warm items share the new item's exact genre set."""
    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    genres = result.ml.movies.set_index("movieId")["genres"]
    warm_sets = genres.reindex(result.warm.ids).value_counts()
    new = result.holdout.new_items
    same = warm_sets.reindex(genres.reindex(new).to_numpy()).fillna(0).to_numpy(int)
    edges = sorted({check_int(e, "edges", low=0) for e in edges})
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+"]
    group = np.searchsorted(edges, same, side="right") - 1
    neighbours = result.cosines(result.guess("neighbours"))["centred cosine"].to_numpy()
    genre = result.cosines(result.guess("genre mean"))["centred cosine"].to_numpy()
    frame = pd.DataFrame({"order": group, "warm items with the same genres": np.array(labels)[group],
                          "neighbours": neighbours, "genre mean": genre})
    out = frame.groupby(["order", "warm items with the same genres"]).agg(
        items=("neighbours", "size"), **{"mean of neighbours": ("neighbours", "mean"),
                                         "genre mean": ("genre mean", "mean")})
    return out.reset_index().drop(columns="order")


def projection(result: ItemColdStart, movie_ids: Sequence[int]) -> pd.DataFrame:
    """2-D PCA of the warm model's centred vectors, with chosen new items, their neighbours and trained vectors.

    Rows: ``role`` is ``warm`` (every warm item, for the background), ``neighbour`` (of
    ``of``), ``guess`` (the new item's averaged vector) or ``trained`` (its vector once trained).
    """
    from sklearn.decomposition import PCA

    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    chosen = np.asarray(movie_ids, dtype=np.int64)
    bad = np.setdiff1d(chosen, result.holdout.new_items)
    if bad.size:
        raise ValueError(f"movie ids {bad[:5].tolist()} are not among the held-out new items")
    centre = result.warm.vectors.mean(axis=0)
    pca = PCA(n_components=2, random_state=0).fit(result.warm.vectors - centre)
    sign = np.sign(pca.components_[:, 0:1])    # fix each axis' sign so the picture is reproducible
    sign[sign == 0] = 1

    def xy(v: np.ndarray) -> np.ndarray:
        return (pca.transform(v - centre) * sign.T)

    parts = [pd.DataFrame({"movieId": result.warm.ids, "role": "warm", "of": -1})]
    coords = [xy(result.warm.vectors)]
    nb = similar_warm_items(result.side, chosen, result.warm.ids, k=result.k)
    guess = result.guess("neighbours")
    for m in chosen:
        ids = nb.loc[nb["movieId"] == m, "neighbour"].to_numpy()
        parts.append(pd.DataFrame({"movieId": ids, "role": "neighbour", "of": m}))
        coords.append(xy(result.warm.get(ids)))
        parts.append(pd.DataFrame({"movieId": [m, m], "role": ["guess", "trained"], "of": [m, m]}))
        coords.append(xy(np.vstack([guess.get(m), result.trained.get(m)])))
    out = pd.concat(parts, ignore_index=True)
    xy_all = np.vstack(coords)
    out["x"], out["y"] = xy_all[:, 0], xy_all[:, 1]
    return out
