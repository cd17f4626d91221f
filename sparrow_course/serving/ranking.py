"""The ranking step (排序): chapter 01's FM or MLP re-ranks the merged candidates.

Samples are built as SparrowRecSys builds its ranking samples: a (user, movie) pair with the
user's and the movie's features, positive when the user rated the movie >= 3.5. A ranker sees
candidates the user has *not* rated, so the negatives are the user's dislikes plus movies the
user never rated, drawn in proportion to popularity^0.75 (as word2vec draws its negatives):
the model must tell a user's likes from popular movies, not popular from obscure ones.

Features (all from the training ratings, none from the future):

* fields: user id, movie id, and the user's age group, gender and occupation (0 = unknown);
* dense: the movie's genres, the user's genre profile (share of their likes per genre,
  without the sample's own movie), their match (dot product), the movie's log-popularity and
  mean rating, the user's log number of ratings and share of likes.

The model is ``structures.build_model`` trained by ``depth.train`` (Adam, the weights of the
best validation step). The service then scores in numpy (:meth:`Ranker.logits`) from the
exported weights, so a worker process never imports TensorFlow; a test checks the two agree.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..checks import check_choice, check_dataset, check_frame, check_int, check_seed
from ..datasets import POSITIVE_THRESHOLD, RATING_COLUMNS
from ..depth import DepthData, Split, movie_genres, train
from ..metrics import RECOMMENDATION_COLUMNS, evaluate_top_k
from ..seeding import DEFAULT_SEED
from ..structures import InputSpec

__all__ = ["USER_FIELDS", "Ranker", "fit_ranker", "ranking_cost", "rerank_table"]

#: Categorical user features read from users.csv when the dataset has it.
USER_FIELDS = ("age_group", "gender", "occupation")


def _codes(values: pd.Series, vocabulary: np.ndarray) -> np.ndarray:
    """Position in ``vocabulary`` plus one; 0 for a value not in it (or missing)."""
    return (pd.Index(vocabulary).get_indexer(values.astype(str)) + 1).astype(np.int32)


@dataclass(frozen=True, eq=False)
class Ranker:
    """A trained ranking model with the feature tables it reads: scores (user, movie) pairs in numpy."""

    kind: str
    depth: int
    spec: InputSpec
    weights: dict[str, np.ndarray]       # one replica's weights, as structures.initial_weights names them
    user_ids: np.ndarray                 # sorted training users (field "user" row = position + 1)
    movie_ids: np.ndarray                # sorted catalogue (field "movie" row = position + 1)
    user_fields: pd.DataFrame            # index userId (every user in users.csv), int codes per USER_FIELDS
    user_dense: np.ndarray               # (len(user_ids), G + 2) genre profile, log ratings, like share
    genre_counts: np.ndarray             # (len(user_ids), G) liked movies per genre
    like_counts: np.ndarray              # (len(user_ids),)
    movie_dense: np.ndarray              # (len(movie_ids), G + 2) genres, log-popularity, mean rating
    n_genres: int
    test_auc: float = float("nan")       # AUC on the held-out 10% of users' ranking samples

    def _features(self, users: np.ndarray, movies: np.ndarray, *, leave_out: np.ndarray | None = None
                  ) -> dict[str, np.ndarray]:
        urow = pd.Index(self.user_ids).get_indexer(users)
        mrow = pd.Index(self.movie_ids).get_indexer(movies)
        known_u, known_m = urow >= 0, mrow >= 0
        g = self.n_genres
        ufield = self.user_fields.reindex(users).fillna(0).to_numpy(np.int32)
        fields = np.column_stack([np.where(known_u, urow + 1, 0), np.where(known_m, mrow + 1, 0), ufield])
        mdense = np.where(known_m[:, None], self.movie_dense[np.maximum(mrow, 0)], 0.0)
        udense = np.where(known_u[:, None], self.user_dense[np.maximum(urow, 0)], 0.0)
        profile = udense[:, :g]
        if leave_out is not None:  # a training positive: its own genres do not count in the profile
            counts = self.genre_counts[np.maximum(urow, 0)] - leave_out[:, None] * mdense[:, :g]
            likes = self.like_counts[np.maximum(urow, 0)] - leave_out
            profile = np.where(known_u[:, None], counts / np.maximum(likes, 1)[:, None], 0.0)
        match = (profile * mdense[:, :g]).sum(axis=1, keepdims=True)
        dense = np.hstack([mdense, profile, udense[:, g:], match]).astype(np.float32)
        return {"fields": fields.astype(np.int32), "dense": dense}

    def logits(self, users: Sequence[int], movies: Sequence[int]) -> np.ndarray:
        """The model's logit for each (user, movie) pair, computed in numpy from the exported weights."""
        x = self._features(np.asarray(users, dtype=np.int64), np.asarray(movies, dtype=np.int64))
        return self.forward(x)

    def forward(self, x: dict[str, np.ndarray]) -> np.ndarray:
        """Chapter 01's structure in numpy: embeddings (+ dense) -> ReLU layers -> logit (+ the FM term)."""
        w = self.weights
        emb = w["embeddings"][x["fields"] + self.spec.offsets]           # (B, F, d)
        h = np.hstack([emb.reshape(len(emb), -1), x["dense"]])
        for i in range(self.depth + 1):
            h = h @ w[f"kernel_{i}"] + w[f"bias_{i}"]
            if i < self.depth:
                h = np.maximum(h, 0.0)
        logit = h[:, 0]
        if self.kind == "fm":
            total = emb.sum(axis=1)
            logit = logit + 0.5 * (total * total - (emb * emb).sum(axis=1)).sum(axis=1)
        return logit

    def rerank(self, candidates: pd.DataFrame, size: int | None = None) -> pd.DataFrame:
        """``candidates`` (userId, movieId, ...) re-ordered by the model, best first; the top ``size`` per user."""
        check_frame(candidates, ("userId", "movieId"), "candidates")
        scored = candidates.loc[:, [c for c in candidates.columns if c != "score"]].copy()
        scored["score"] = self.logits(scored["userId"].to_numpy(), scored["movieId"].to_numpy()).astype(float)
        order = pd.Index(pd.unique(scored["userId"])).get_indexer(scored["userId"])
        scored = scored.assign(_u=order).sort_values(["_u", "score", "movieId"], ascending=[True, False, True],
                                                     kind="stable").drop(columns="_u")
        if size is not None:
            scored = scored.groupby("userId", sort=False).head(check_int(size, "size", low=1))
        columns = list(RECOMMENDATION_COLUMNS) + [c for c in scored.columns if c not in RECOMMENDATION_COLUMNS]
        return scored[columns].reset_index(drop=True)


def _samples(train_ratings: pd.DataFrame, movie_ids: np.ndarray, popularity: np.ndarray, rng: np.random.Generator
             ) -> pd.DataFrame:
    """Positives (likes), the user's dislikes, and as many sampled unrated movies as likes: (userId, movieId, label)."""
    rated = train_ratings[["userId", "movieId", "rating"]]
    labelled = pd.DataFrame({"userId": rated["userId"].to_numpy(np.int64), "movieId": rated["movieId"].to_numpy(np.int64),
                             "label": (rated["rating"] >= POSITIVE_THRESHOLD).to_numpy(np.float32)})
    likes = labelled[labelled["label"] == 1]
    p = (popularity + 1.0) ** 0.75
    draws = rng.choice(len(movie_ids), size=len(likes), p=p / p.sum())
    negatives = pd.DataFrame({"userId": likes["userId"].to_numpy(), "movieId": movie_ids[draws], "label": 0.0})
    negatives = negatives.merge(labelled[["userId", "movieId"]], how="left", indicator=True)
    negatives = negatives[negatives["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([labelled, negatives], ignore_index=True)


def fit_ranker(ml: Any, train_ratings: pd.DataFrame, *, kind: str = "fm", depth: int = 1, steps: int = 1500,
               batch_size: int = 512, seed: int = DEFAULT_SEED) -> Ranker:
    """Train chapter 01's ``kind`` model ("fm" or "mlp") of ``depth`` hidden layers on ranking samples of ``train_ratings``.

    10% of the users' samples (by user) are kept for validation (the best step's weights are
    kept) and 10% for a test AUC (``ranker.test_auc``).
    """
    check_dataset(ml)
    check_frame(train_ratings, RATING_COLUMNS, "train_ratings", allow_empty=False)
    check_choice(kind, "kind", ("fm", "mlp"))
    depth = check_int(depth, "depth", low=0, high=4)
    seed = check_seed(seed)
    rng = np.random.default_rng([seed, 9])
    movie_ids = np.sort(ml.movies["movieId"].to_numpy(np.int64))
    user_ids = np.unique(train_ratings["userId"].to_numpy(np.int64))
    genres, vocabulary = movie_genres(ml.movies, movie_ids)
    g = len(vocabulary)
    liked = train_ratings[train_ratings["rating"] >= POSITIVE_THRESHOLD]
    popularity = liked["movieId"].value_counts().reindex(movie_ids, fill_value=0).to_numpy(float)
    stats = train_ratings.groupby("movieId")["rating"].mean().reindex(movie_ids)
    mean_rating = ((stats - stats.mean()) / stats.std()).fillna(0.0).to_numpy()
    movie_dense = np.column_stack([genres, np.log1p(popularity) / np.log1p(popularity.max()), mean_rating])
    urow = np.searchsorted(user_ids, liked["userId"].to_numpy(np.int64))
    mrow = np.searchsorted(movie_ids, liked["movieId"].to_numpy(np.int64))
    genre_counts = np.zeros((len(user_ids), g))
    np.add.at(genre_counts, urow, genres[mrow])
    like_counts = np.bincount(urow, minlength=len(user_ids)).astype(float)
    n_rated = train_ratings["userId"].value_counts().reindex(user_ids).to_numpy(float)
    user_dense = np.column_stack([genre_counts / np.maximum(like_counts, 1)[:, None],
                                  np.log1p(n_rated) / np.log1p(n_rated.max()), like_counts / n_rated])
    if ml.users is not None and set(USER_FIELDS) <= set(ml.users.columns):
        table = ml.users.set_index("userId")
        vocab = {f: np.unique(table[f].astype(str)) for f in USER_FIELDS}
        user_fields = pd.DataFrame({f: _codes(table[f], vocab[f]) for f in USER_FIELDS}, index=table.index)
        sizes = tuple(len(vocab[f]) + 1 for f in USER_FIELDS)
    else:  # no users.csv: the fields exist but only ever say "unknown"
        user_fields = pd.DataFrame({f: np.zeros(0, dtype=np.int32) for f in USER_FIELDS},
                                   index=pd.Index(np.zeros(0, dtype=np.int64), name="userId"))
        sizes = (1, 1, 1)
    spec = InputSpec(fields=("user", "movie") + USER_FIELDS, vocab=(len(user_ids) + 1, len(movie_ids) + 1) + sizes,
                     dense=tuple(f"genre_{x}" for x in vocabulary) + ("movie_popularity", "movie_mean")
                     + tuple(f"profile_{x}" for x in vocabulary) + ("user_ratings", "user_like_share", "genre_match"))
    ranker = Ranker(kind, depth, spec, {}, user_ids, movie_ids, user_fields, user_dense, genre_counts, like_counts,
                    movie_dense, g)
    samples = _samples(train_ratings, movie_ids, popularity, rng)
    x = ranker._features(samples["userId"].to_numpy(), samples["movieId"].to_numpy(),
                         leave_out=samples["label"].to_numpy(float))
    part = np.random.default_rng([seed, 10]).random(len(user_ids))[np.searchsorted(user_ids, samples["userId"])]

    def split(mask: np.ndarray) -> Split:
        return Split({k: v[mask] for k, v in x.items()}, samples["label"].to_numpy(np.float32)[mask])

    data = DepthData(split(part >= 0.2), split((part >= 0.1) & (part < 0.2)), split(part < 0.1), spec,
                     name="ranking samples")
    run = train(data, depth, kind=kind, seeds=(seed,), steps=check_int(steps, "steps", low=1),
                batch_size=check_int(batch_size, "batch_size", low=1), eval_every=max(1, steps // 6))
    weights = {name: np.asarray(var.numpy()[0]) for name, var in run.model.w.items()}
    return Ranker(kind, depth, spec, weights, user_ids, movie_ids, user_fields, user_dense, genre_counts,
                  like_counts, movie_dense, g, float(run.results["test_auc"].iloc[0]))


def rerank_table(ranker: Ranker, merged: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """NDCG@k and recall@k of the merged order and of the ranker's order over the same candidates."""
    ranked = ranker.rerank(merged)
    rows = []
    for label, frame in (("merged order", merged), (f"ranked ({ranker.kind}, depth {ranker.depth})", ranked)):
        r = evaluate_top_k(frame, truth, k)
        rows.append({"order": label, f"ndcg@{k}": r[f"ndcg@{k}"], f"recall@{k}": r[f"recall@{k}"]})
    return pd.DataFrame(rows)


def ranking_cost(ranker: Ranker, merged: pd.DataFrame, truth: pd.DataFrame, sizes: Sequence[int], k: int = 10,
                 *, repeats: int = 3) -> pd.DataFrame:
    """Candidates per user against quality and cost: NDCG@k after ranking the top ``n`` merged candidates.

    One row per ``n``: ``ndcg@k``, ``recall@k`` and ``ms per user`` (median of ``repeats``, the
    numpy model over n candidates of one user).
    """
    rows = []
    first = int(merged["userId"].iloc[0])
    for n in sizes:
        n = check_int(n, "sizes", low=1)
        top = merged.groupby("userId", sort=False).head(n)
        r = evaluate_top_k(ranker.rerank(top), truth, k)
        one = top[top["userId"] == first]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ranker.rerank(one)
            times.append(1000 * (time.perf_counter() - start))
        rows.append({"candidates": n, f"ndcg@{k}": r[f"ndcg@{k}"], f"recall@{k}": r[f"recall@{k}"],
                     "ms per user": float(np.median(times))})
    return pd.DataFrame(rows)
