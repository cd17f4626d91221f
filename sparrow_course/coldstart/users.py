"""Chapter 04, new users: cold-start (冷启动) recall channels from what a first visit brings.

Users are held out *as if new* (:func:`hold_out_users`): every rating of a share of users
leaves training, and the held-out users bring only registration features (``users.csv``)
and the context of their first visit (hour and weekday of their first rating).

Three cold-start channels, each a ``channels.RecallChannel`` (``recall(user_ids, k)``):
popularity (``channels.fit_popularity``), clusters of users (:func:`fit_clusters`, k-means, k
chosen on validation users by :func:`choose_n_clusters`) and a feature model
(:func:`fit_feature_model`, logistic regression on user features x item genres); and a
personal one for users with a little history (:func:`fit_item_item`).
:func:`warm_up_curve` measures when a new user's own first ratings beat the cluster list.

Everything works on any MovieLens-format folder: without ``users.csv`` the user features
are the visit context alone (:func:`user_features` says so in its result's
``attrs["note"]``), and asking for a registration feature raises an error naming the file.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..channels import RecallChannel, fit_popularity, interaction_matrix, like_popularity
from ..checks import (check_choice, check_choices, check_dataset, check_fraction, check_frame, check_int, check_memory,
                      check_number, check_seed, check_user_ids)
from ..datasets import RATING_COLUMNS, MovieLens, genre_matrix, positive, release_year
from ..metrics import paired_difference, per_user_metrics
from ..seeding import DEFAULT_SEED

__all__ = [
    "CONTEXT_FEATURES",
    "ClusterChannel",
    "FeatureChannel",
    "ItemItemChannel",
    "UserHoldout",
    "available_features",
    "choose_n_clusters",
    "cluster_profiles",
    "compare_feature_sets",
    "compare_user_approaches",
    "fit_clusters",
    "fit_feature_model",
    "fit_item_item",
    "first_visit_context",
    "history_length_quality",
    "hold_out_users",
    "typicality_table",
    "user_features",
    "warm_up_curve",
]

#: Context of a user's first visit, known without any history: the UTC hour (0-23) and weekday
#: (0 = Monday) of their first rating.
CONTEXT_FEATURES: tuple[str, ...] = ("hour", "weekday")
# users.csv columns that are not categorical features (an id and a raw time).
_NOT_FEATURES = ("userId", "signup_timestamp")


def _check_integer_ids(ratings: pd.DataFrame, name: str) -> None:
    """TypeError unless ``ratings``' userId and movieId columns hold integers (string ids would match nothing)."""
    for column in ("userId", "movieId"):
        kind = ratings[column].dtype.kind
        if kind not in "iu":
            raise TypeError(f"{name}['{column}'] must hold integer ids, got dtype {ratings[column].dtype} "
                            f"(e.g. {ratings[column].iloc[0]!r}); convert with .astype(int)")


def _check_item_item_memory(n_items: int) -> None:
    """Refuse before allocating: item-to-item keeps dense (items x items) float64 matrices, about three at once."""
    from .. import checks

    check_memory(3.0 * n_items * n_items * 8, f"item-to-item similarity over {n_items:,} movies (dense items x items)",
                 limit=checks.MEMORY_LIMIT_BYTES)


def _catalogue(ml: MovieLens) -> np.ndarray:
    """Every movie of the dataset, sorted: what a cold-start channel may recommend."""
    return np.sort(ml.movies["movieId"].to_numpy(np.int64))


def _has_first_visit(ml: MovieLens, users: np.ndarray) -> np.ndarray:
    """Boolean per user id: whether ``ml`` has a rating of theirs, hence a first visit to describe them by."""
    return np.isin(users, ml.ratings["userId"].to_numpy())


# ---------------------------------------------------------------------------
# The protocol: users held out as if new
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
        return positive(getattr(self, which))[["userId", "movieId"]].reset_index(drop=True)


def hold_out_users(ratings: pd.DataFrame, *, test_fraction: float = 0.2, validation_fraction: float = 0.1,
                   seed: int = DEFAULT_SEED) -> UserHoldout:
    """Hold a random share of users out as if new: all their ratings leave training.

    ``test_fraction`` of users are test users, ``validation_fraction`` validation users,
    the rest train every model. The split is by user, never by rating, so nothing a
    held-out user did reaches training.
    """
    check_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
    _check_integer_ids(ratings, "ratings")
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



# ---------------------------------------------------------------------------
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
    check_dataset(ml)
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
    check_dataset(ml)
    available = available_features(ml)
    if features is None:
        features = available
    if ml.users is None and not isinstance(features, str):
        if any(f not in CONTEXT_FEATURES for f in list(features)):
            ml.require_users()  # raises: names users.csv and why it is missing
    features = check_choices(features, "features", available)
    ids = np.unique(ml.ratings["userId"]) if user_ids is None else np.unique(check_user_ids(user_ids))
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
# (b) Clusters of users, one list each
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, kw_only=True)
class ClusterChannel(RecallChannel):
    """k-means clusters of users on one-hot features, one list each: a cold-start recall channel.

    A user gets their cluster's list, the cluster found from their features alone
    (registration and first visit, read from ``ml``); it knows every user ``ml`` has a first
    visit for. ``cluster_scores[c, i]`` is the smoothed share of cluster c's training users who
    liked item i.
    """

    ml: MovieLens
    features: tuple[str, ...]
    n_clusters: int
    encoder: object
    kmeans: object
    cluster_scores: np.ndarray  # (n_clusters, n_items)
    sizes: np.ndarray           # training users per cluster
    train_labels: pd.Series     # cluster of each training user
    name: str = "clusters"

    def assign(self, user_ids: Sequence[int]) -> np.ndarray:
        """The cluster of each user, from their features alone."""
        frame = user_features(self.ml, user_ids, self.features)
        with _one_thread():
            return self.kmeans.predict(self.encoder.transform(frame).toarray())

    def _known(self, users: np.ndarray) -> np.ndarray:
        return _has_first_visit(self.ml, users)

    def _own_scores(self, users: np.ndarray) -> np.ndarray:
        return self.cluster_scores[self.assign(users)]


def fit_clusters(ml: MovieLens, train: pd.DataFrame, features: Sequence[str] | None = None, *,
                 n_clusters: int = 8, shrinkage: float = 20.0, seed: int = DEFAULT_SEED) -> ClusterChannel:
    """k-means (scikit-learn) on the one-hot ``features`` of the training users; a top list per cluster.

    A cluster's score for an item is the share of its users who liked it, shrunk toward
    the global share by ``shrinkage`` pseudo-users, so a small cluster's list does not
    rest on a handful of people: (likes_c + m p) / (n_c + m).
    """
    check_dataset(ml)
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    _check_integer_ids(train, "train")
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    shrinkage = check_number(shrinkage, "shrinkage", low=0.0)
    seed = check_seed(seed)
    users = np.unique(train["userId"].to_numpy())
    if n_clusters > len(users):
        raise ValueError(f"n_clusters={n_clusters} is more than the {len(users)} training users")
    frame = user_features(ml, users, features)
    return _fit_clusters(ml, train, users, frame, n_clusters, shrinkage, seed)


#: Half-width of the jitter that breaks k-means' distance ties between one-hot points (see _fit_clusters).
_JITTER = 1e-4


def _fit_clusters(ml: MovieLens, train: pd.DataFrame, users: np.ndarray, frame: pd.DataFrame, n_clusters: int,
                  shrinkage: float, seed: int) -> ClusterChannel:
    from sklearn.cluster import KMeans

    encoder = _encoder(frame)
    x = encoder.transform(frame).toarray()
    # Users with equal features are equal points: cluster the distinct rows, weighted by how many
    # users share each (the same k-means objective, several times faster).
    distinct, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    n_clusters = min(n_clusters, len(distinct))
    # One-hot points sit at exactly equal distances from many centres, and which centre wins such a
    # tie is decided by the last bits of the floating-point sums, which differ from CPU to CPU (and
    # so would the clusters). A fixed, tiny jitter (1e-4 on coordinates of 0 and 1) breaks every tie
    # the same way on every machine and changes nothing else.
    jitter = np.random.default_rng(seed).uniform(-_JITTER, _JITTER, size=distinct.shape)
    with _one_thread():  # OpenMP threads only contend on a small, shared machine
        kmeans = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(distinct + jitter,
                                                                                sample_weight=counts)
    labels = kmeans.labels_[inverse.ravel()]
    items = _catalogue(ml)
    liked = positive(train)
    row = pd.Series(labels, index=users).reindex(liked["userId"]).to_numpy()
    col = np.searchsorted(items, liked["movieId"].to_numpy())
    counts_ci = sp.csr_matrix((np.ones(len(liked)), (row, col)), shape=(n_clusters, len(items))).toarray()
    sizes = np.bincount(labels, minlength=n_clusters).astype(float)
    prior = counts_ci.sum(axis=0) / len(users)
    scores = (counts_ci + shrinkage * prior) / (sizes[:, None] + shrinkage)
    return ClusterChannel(item_ids=items, log_popularity=like_popularity(train, items), user_ids=users,
                          rated=interaction_matrix(train, users, items), ml=ml, features=tuple(frame.columns),
                          n_clusters=n_clusters, encoder=encoder, kmeans=kmeans, cluster_scores=scores,
                          sizes=sizes.astype(int),
                          train_labels=pd.Series(labels, index=pd.Index(users, name="userId"), name="cluster"),
                          name=f"clusters (k={n_clusters})")


def choose_n_clusters(ml: MovieLens, holdout: UserHoldout, features: Sequence[str] | None = None, *,
                      candidates: Sequence[int] = (1, 2, 4, 8, 16, 32), k: int = 20, shrinkage: float = 20.0,
                      seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Validation recall@k and NDCG@k for each number of clusters; ``attrs["best"]`` is the chosen one.

    The criterion is measured on validation users (held out as if new, never the test
    users), by the paired one-standard-error rule (一倍标准误规则): the fewest clusters whose
    validation recall@k is within one standard error of the highest one, the difference
    taken user by user (``behind best`` and ``se``). Among counts that validation users
    cannot tell apart the simpler one wins, so the choice does not flip on noise (or on the
    last bits of another CPU). One cluster is global popularity. ``attrs["model"]`` is the
    chosen model, ``attrs["highest"]`` the count with the highest mean.
    """
    check_dataset(ml)
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
    rows, models, per_user = [], {}, {}
    for n in candidates:
        model = _fit_clusters(ml, holdout.train, users, frame, n, float(shrinkage), check_seed(seed))
        models[n] = model
        scores = per_user_metrics(model.recall(holdout.validation_users, k), truth, k)
        per_user[n] = scores[f"recall@{k}"]
        rows.append({"clusters": n, f"recall@{k}": scores[f"recall@{k}"].mean(),
                     f"ndcg@{k}": scores[f"ndcg@{k}"].mean()})
    table = pd.DataFrame(rows)
    wide = pd.DataFrame(per_user)
    highest = int(table["clusters"][table[f"recall@{k}"].round(12).idxmax()])
    diff = wide.sub(wide[highest], axis=0)
    se = (diff.std(ddof=1) / np.sqrt(len(wide))).fillna(0.0)
    table["behind best"] = 0.0 - diff.mean().to_numpy()   # 0.0 - : no -0.0 in the table
    table["se"] = se.to_numpy()
    table["within one SE"] = table["behind best"] <= table["se"] + 1e-12
    best = int(table.loc[table["within one SE"], "clusters"].min())
    table.attrs["best"] = best
    table.attrs["highest"] = highest
    table.attrs["model"] = models[best]
    return table


def cluster_profiles(ml: MovieLens, model: ClusterChannel, train: pd.DataFrame, *, n_values: int = 2,
                     n_genres: int = 2, n_titles: int = 2) -> pd.DataFrame:
    """Each cluster in words: who is in it (its most over-represented feature values) and what it likes.

    ``members`` lists feature values by lift (share in the cluster over share overall);
    ``likes`` lists genres by lift among the cluster's likes; ``distinctive titles`` are the titles of
    its 50 best that it likes most above the average user.
    """
    check_dataset(ml)
    frame = user_features(ml, model.train_labels.index, model.features)
    labels = model.train_labels.to_numpy()
    genres = genre_matrix(ml.movies)
    liked = positive(train)
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
        best = np.argsort(-model.cluster_scores[c], kind="stable")[:50]
        overall = model.cluster_scores.T @ model.sizes / model.sizes.sum()
        head = best[np.argsort(-(model.cluster_scores[c, best] / np.maximum(overall[best], 1e-12)), kind="stable")][:n_titles]
        rows.append({"cluster": c, "users": int(inside.sum()),
                     "members": ", ".join(text for _, text in lifts[:n_values]),
                     "likes more than average": ", ".join(f"{genres.columns[i]} x{lift[i]:.2f}" for i in order),
                     "distinctive titles": "; ".join(titles[model.item_ids[i]] for i in head)})
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


@dataclass(frozen=True, eq=False, kw_only=True)
class FeatureChannel(RecallChannel):
    """Logistic regression on (user feature x item side information) crosses plus an item bias: a cold-start channel.

    A user's score for an item is the logit of a like, from the user's features alone (read
    from ``ml``); it knows every user ``ml`` has a first visit for. The score is a logit, not
    on a cosine's scale: a blend with popularity mixes the two as they are.
    """

    ml: MovieLens
    features: tuple[str, ...]
    encoder: object
    item_side: np.ndarray      # (n_items, n_side)
    item_bias: np.ndarray      # (n_items,)
    cross: np.ndarray          # (n_user_columns, n_side): weight of each user value x item attribute
    name: str = "feature model"

    def _known(self, users: np.ndarray) -> np.ndarray:
        return _has_first_visit(self.ml, users)

    def logits(self, user_ids: Sequence[int]) -> np.ndarray:
        """Logit of a like for every (user, item): item bias + x_u W s_i, from features alone."""
        x = self.encoder.transform(user_features(self.ml, user_ids, self.features)).toarray()
        return self.item_bias[None, :] + (x @ self.cross) @ self.item_side.T

    def _own_scores(self, users: np.ndarray) -> np.ndarray:
        return self.logits(users)


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
                      seed: int = DEFAULT_SEED) -> FeatureChannel:
    """Logistic regression (scikit-learn, lbfgs) on likes against sampled items.

    Each row is a (user, item) pair: a like (label 1) or an item drawn uniformly at random
    (label 0, ``negatives`` per like). Its columns are the item's one-hot id (the item's
    bias: popularity) and every product of a user feature value with an item attribute
    (genre, release decade): a few thousand sparse columns. Capping the likes per user
    keeps heavy users from dominating and the design small (a few seconds to fit).
    """
    from sklearn.linear_model import LogisticRegression

    check_dataset(ml)
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    _check_integer_ids(train, "train")
    negatives = check_int(negatives, "negatives", low=1, high=50)
    max_positives_per_user = check_int(max_positives_per_user, "max_positives_per_user", low=1)
    c = check_number(c, "c", low=0.0, include_low=False)
    rng = np.random.default_rng(check_seed(seed))
    users = np.unique(train["userId"].to_numpy())
    frame = user_features(ml, users, features)
    encoder = _encoder(frame)
    x_users = encoder.transform(frame).tocsr()
    items = _catalogue(ml)
    side = _item_side_matrix(ml, items)
    liked = positive(train).sample(frac=1.0, random_state=int(rng.integers(2**31)))
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
    return FeatureChannel(item_ids=items, log_popularity=like_popularity(train, items), user_ids=users,
                          rated=interaction_matrix(train, users, items), ml=ml, features=tuple(frame.columns),
                          encoder=encoder, item_side=side, item_bias=w[:len(items)] + model.intercept_[0],
                          cross=w[len(items):].reshape(x_users.shape[1], n_side))


# ---------------------------------------------------------------------------
# Comparing the channels for new users
# ---------------------------------------------------------------------------


def compare_user_approaches(ml: MovieLens, holdout: UserHoldout, channels: dict, *, k: int = 20) -> pd.DataFrame:
    """recall@k, NDCG@k and catalogue coverage of each channel on the test users (held out as if new).

    ``channels`` maps a name to a fitted recall channel (``channels.RecallChannel``: popularity,
    clusters, the feature model, ...). ``attrs["per_user"]`` holds every test user's recall@k
    per channel, for paired comparisons.
    """
    check_dataset(ml)
    k = check_int(k, "k", low=1)
    if not isinstance(channels, dict) or not channels:
        raise TypeError("channels must be a non-empty dict {name: fitted recall channel}")
    truth = holdout.truth("test")
    rows, per_user = [], {}
    for name, channel in channels.items():
        if not isinstance(channel, RecallChannel):
            raise TypeError(f"channel {name!r} must be a fitted recall channel (channels.RecallChannel), "
                            f"got {type(channel).__name__}")
        recs = channel.recall(holdout.test_users, k)
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
    ``attrs["models"]`` holds each set's chosen ClusterChannel. With ``segments`` (a known group
    of each user, index userId, e.g. SparrowLens's planted taste segment) the chosen rows also
    get ``NMI with segments``: the normalised mutual information of the training users' clusters
    with those groups (0 = unrelated, 1 = the same partition).
    """
    check_dataset(ml)
    if not isinstance(feature_sets, dict) or not feature_sets:
        raise TypeError("feature_sets must be a non-empty dict {name: list of feature names}")
    truth = holdout.truth("test")
    parts, models = [], {}
    for name, features in feature_sets.items():
        table = choose_n_clusters(ml, holdout, features, candidates=candidates, k=k, seed=seed)
        model = models[name] = table.attrs["model"]
        test = per_user_metrics(model.recall(holdout.test_users, k), truth, k)[f"recall@{k}"].mean()
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


@dataclass(frozen=True, eq=False, kw_only=True)
class ItemItemChannel(RecallChannel):
    """Item-to-item: every item scored by the sum of its cosine similarities to the items a user liked.

    The similarity is learned from the training users' likes; a user's profile is their likes
    in the channel's history (the training ratings, or the ratings given to
    :meth:`with_history`). It knows every user with a rating in that history; a user with no
    like yet scores every item by the tie-break alone (popularity order, a millionth of one
    similarity at most).
    """

    similarity: np.ndarray     # (n_items, n_items), zero diagonal
    popularity: np.ndarray     # likes per item in training (the tie-break)
    likes: sp.csr_matrix       # (user_ids, items): what each user of the history liked
    name: str = "item-to-item"

    def with_history(self, history: pd.DataFrame) -> "ItemItemChannel":
        """The same similarity serving the users of ``history``: their likes there are their profiles."""
        channel = super().with_history(history)
        return dataclasses.replace(channel, likes=_like_matrix(history, channel.user_ids, self.item_ids))

    def _known(self, users: np.ndarray) -> np.ndarray:
        return np.isin(users, self.user_ids)

    def _own_scores(self, users: np.ndarray) -> np.ndarray:
        x = self.likes[np.searchsorted(self.user_ids, users)]
        tie = self.popularity / (self.popularity.max() + 1.0) * 1e-6
        return np.asarray(x @ self.similarity) + tie[None, :]


def _like_matrix(ratings: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> sp.csr_matrix:
    """(users, items) float matrix: 1 where the user liked the item in ``ratings``."""
    return interaction_matrix(positive(ratings), users, items).astype(np.float64)


def fit_item_item(ml: MovieLens, train: pd.DataFrame) -> ItemItemChannel:
    """Cosine similarity between items' columns of the (user x item) like matrix of ``train``; profiles from ``train``."""
    check_dataset(ml)
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    _check_integer_ids(train, "train")
    items = _catalogue(ml)
    _check_item_item_memory(len(items))
    liked = positive(train)
    users = np.unique(liked["userId"].to_numpy())
    x = sp.csr_matrix((np.ones(len(liked)), (np.searchsorted(users, liked["userId"].to_numpy()),
                                             np.searchsorted(items, liked["movieId"].to_numpy()))),
                      shape=(len(users), len(items)))
    co = np.asarray((x.T @ x).toarray(), dtype=np.float64)
    norms = np.sqrt(np.diag(co)).copy()
    norms[norms == 0] = 1.0
    sim = co / norms[:, None] / norms[None, :]
    np.fill_diagonal(sim, 0.0)
    fitted = np.unique(train["userId"].to_numpy(np.int64))
    return ItemItemChannel(item_ids=items, log_popularity=like_popularity(train, items), user_ids=fitted,
                           rated=interaction_matrix(train, fitted, items), similarity=sim, popularity=np.diag(co).copy(),
                           likes=_like_matrix(train, fitted, items))


def _first_n(ratings: pd.DataFrame, n: int) -> pd.DataFrame:
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    return ordered[ordered.groupby("userId").cumcount() < n]


def warm_up_curve(ml: MovieLens, holdout: UserHoldout, clusters: ClusterChannel, item_to_item: ItemItemChannel, *,
                  steps: Sequence[int] = (1, 3, 5, 10), k: int = 20, n_boot: int = 1000,
                  seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """recall@k of the cluster list and of the personal model after a new user's first n ratings.

    Test users with more than max(steps) ratings take part; what they should find is the same
    at every step, their likes after their first max(steps) ratings, so the curves are paired.
    Items a user has already rated are never recommended. ``difference`` (personal minus
    cluster) comes with a bootstrap interval over users.
    """
    check_dataset(ml)
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
    truth = positive(later)[["userId", "movieId"]]
    users = np.sort(truth["userId"].unique())
    if len(users) < 2:
        raise ValueError(f"fewer than 2 test users have likes after their first {last} ratings; lower the steps")
    rows = []
    for n in steps:
        # both channels serve the users' first n ratings as their history: never recommended again
        seen = _first_n(ordered[ordered["userId"].isin(users)], n)
        cluster = per_user_metrics(clusters.with_history(seen).recall(users, k), truth, k)
        personal = per_user_metrics(item_to_item.with_history(seen).recall(users, k), truth, k)
        diff = paired_difference(personal[f"recall@{k}"], cluster[f"recall@{k}"], n_boot=n_boot, seed=seed)
        rows.append({"ratings seen": n, "cluster list": cluster[f"recall@{k}"].mean(),
                     "personal (item-to-item)": personal[f"recall@{k}"].mean(),
                     "difference": diff["difference"], "low": diff["low"], "high": diff["high"],
                     "users": len(users)})
    return pd.DataFrame(rows)


def history_length_quality(ml: MovieLens, *, k: int = 20, bins: Sequence[int] = (8, 12, 20, 40, 80),
                           test_fraction: float = 0.2, min_users: int = 30) -> pd.DataFrame:
    """Why cold start hurts: a warm model's recall@k for users grouped by how much history it saw.

    The shared protocol (each user's latest ``test_fraction`` of ratings held out); the warm
    model is item-to-item on every user's earlier likes. ``bins`` are the lower edges of the
    history-length groups (number of training ratings). Popularity is measured beside it.
    ``enough users`` flags the groups with at least ``min_users`` users: a smaller group's
    mean says little (``attrs["note"]`` names them).
    """
    from ..datasets import user_time_split

    check_dataset(ml)
    k = check_int(k, "k", low=1)
    min_users = check_int(min_users, "min_users", low=1)
    if isinstance(bins, (str, bytes, int, np.integer)) or not len(bins):
        raise ValueError(f"bins must be a non-empty list of lower edges (training ratings), got {bins!r}")
    edges = sorted({check_int(b, "bins", low=0) for b in bins})
    _check_item_item_memory(len(ml.movies))
    train, test = user_time_split(ml.ratings, test_fraction)
    model = fit_item_item(ml, train)
    truth = positive(test)[["userId", "movieId"]]
    users = np.sort(truth["userId"].unique())
    personal = per_user_metrics(model.recall(users, k), truth, k)
    pop = per_user_metrics(fit_popularity(train, catalogue=model.item_ids).recall(users, k), truth, k)
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
    out = out.reset_index().drop(columns="order").rename(columns={"history": "training ratings"})
    out["enough users"] = out["users"] >= min_users
    few = out.loc[~out["enough users"], "training ratings"].tolist()
    out.attrs["note"] = (f"groups with fewer than {min_users} users (their means say little): {', '.join(few)}"
                         if few else f"every group has at least {min_users} users")
    return out


def typicality_table(ml: MovieLens, holdout: UserHoldout, cluster_model: ClusterChannel, *, k: int = 20,
                     n_groups: int = 4) -> pd.DataFrame:
    """Where clusters fail: recall@k of the cluster list and of popularity for test users grouped by how typical
    of their cluster their taste is (cosine of their liked-genre mix with their cluster's)."""
    check_dataset(ml)
    k = check_int(k, "k", low=1)
    n_groups = check_int(n_groups, "n_groups", low=2, high=10)
    genres = genre_matrix(ml.movies)
    truth = holdout.truth("test")
    users = np.sort(truth["userId"].unique())
    labels = cluster_model.assign(users)

    def genre_mix(likes: pd.DataFrame, keys: np.ndarray, key_of: np.ndarray) -> np.ndarray:
        g = genres.reindex(likes["movieId"]).fillna(0).to_numpy(float)
        out = np.zeros((len(keys), g.shape[1]))
        np.add.at(out, key_of, g)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    own = genre_mix(truth, users, np.searchsorted(users, truth["userId"].to_numpy()))
    train_likes = positive(holdout.train)
    train_likes = train_likes[train_likes["userId"].isin(cluster_model.train_labels.index)]
    cl = cluster_model.train_labels.reindex(train_likes["userId"]).to_numpy()
    mix = genre_mix(train_likes, np.arange(cluster_model.n_clusters), cl)
    typical = (own * mix[labels]).sum(axis=1)
    cluster = per_user_metrics(cluster_model.recall(users, k), truth, k)[f"recall@{k}"].reindex(users)
    popularity = fit_popularity(holdout.train, catalogue=_catalogue(ml))
    pop = per_user_metrics(popularity.recall(users, k), truth, k)[f"recall@{k}"].reindex(users)
    group = pd.qcut(pd.Series(typical).rank(method="first"), n_groups, labels=False).to_numpy()
    frame = pd.DataFrame({"group": group, "typicality": typical, "cluster list": cluster.to_numpy(),
                          "popularity": pop.to_numpy()})
    out = frame.groupby("group").agg(users=("typicality", "size"), typicality=("typicality", "mean"),
                                     **{"cluster list": ("cluster list", "mean"), "popularity": ("popularity", "mean")})
    out["cluster - popularity"] = out["cluster list"] - out["popularity"]
    out.index = [f"Q{i + 1}" for i in out.index]
    out.index.name = "typicality quartile" if n_groups == 4 else "typicality group"
    return out


