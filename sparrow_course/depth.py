"""Chapter 01: how deep should a recommender network be, and what beats depth?

Two data sets, one set of models (``structures``: MLP of any depth, DeepFM's FM term, DIN's
attention), one training loop:

* ``make_click_task``: a CTR-style task with a known ground truth. The click logit holds main
  effects plus planted non-linear interactions (user segment x genre, age group x release
  decade, time of day x genre) and a sequence effect (a click is likelier when the candidate
  resembles one of the user's recent positive items). A model without hidden layers cannot
  represent any of them; the true logit gives the ceiling (the Bayes AUC).
* ``build_features``: SparrowLens ratings as SparrowRecSys makes samples (a rating >=
  ``datasets.POSITIVE_THRESHOLD`` is a click), with leak-free statistics, a per-user time
  split and the user's recent positive movies as history.

    task = make_click_task(seed=2024)
    sweep = run_sweep(task, depths=range(5), seeds=(0, 1, 2, 3))   # results + learning curves
    depth_choice(sweep.results)                                     # paired one-SE pick

``train`` runs a fixed number of Adam steps WITHOUT early stopping, logging train and
validation loss every ``eval_every`` steps; it reports AUC at the step of the lowest
validation loss (the model one would keep) and at the last step (what overfitting left).
All seeds of one architecture train at once as independent replicas of one batched graph.

Leakage rule (SparrowLens): every statistic and history item of a sample uses only
training-period ratings strictly earlier than the sample.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .checks import check_choice, check_fraction, check_int, check_number, check_seed
from .datasets import POSITIVE_THRESHOLD, genre_matrix, require_frame
from .metrics import auc
from .seeding import DEFAULT_SEED, import_tensorflow
from .structures import (KINDS, InputSpec, build_model, layer_sizes, mlp_parameters, multiply_adds,
                         parameter_count)

__all__ = [
    "CURVE_COLUMNS", "DepthData", "MOVIE_COLUMNS", "PLANTED", "RATING_COLUMNS", "RESULT_COLUMNS", "STATS", "Split", "Sweep", "TrainingRun",
    "build_features", "depth_choice", "fit_user_tastes", "layer_sizes", "make_click_task", "mlp_parameters", "movie_genres",
    "multiply_adds", "one_se_table", "parameter_count", "picks_by_group", "past_rating_sums", "planted_effects",
    "ratings_ceilings", "recent_positives", "run_sweep", "sample_users", "simplest_within_one_se", "slate_value", "summarize",
    "time_per_step", "train",
]

STATS = ("user_count", "user_mean", "user_std", "movie_count", "movie_mean", "movie_std")
RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIE_COLUMNS = ("movieId", "genres")
PLANTED = ("main_effects", "segment_x_genre", "age_x_decade", "hour_x_genre", "history_match")
RESULT_COLUMNS = (
    "kind", "depth", "train_rows", "seed", "params", "mult_adds", "train_auc", "valid_auc", "test_auc",
    "test_auc_last", "gap", "best_step", "steps_to_converge", "valid_loss_best", "valid_loss_last",
    "ms_per_step", "us_per_example",
)
CURVE_COLUMNS = ("kind", "depth", "train_rows", "seed", "step", "train_loss", "valid_loss")


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Split:
    """One period of samples: model inputs by name, 0/1 labels, and (optionally) ids or the planted truth."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    ids: pd.DataFrame | None = None  # SparrowLens: userId, movieId, timestamp of each sample
    truth: dict[str, np.ndarray] | None = None  # planted task: the true logit and its components

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "Split":
        """The samples at ``index`` (positions), as a new split."""
        ids = None if self.ids is None else self.ids.iloc[index].reset_index(drop=True)
        truth = None if self.truth is None else {k: v[index] for k, v in self.truth.items()}
        return Split({k: v[index] for k, v in self.inputs.items()}, self.labels[index], ids, truth)


@dataclass(frozen=True)
class DepthData:
    """Samples for the depth experiments: train (fitting), valid (model selection), test (reporting)."""

    train: Split
    valid: Split
    test: Split
    spec: InputSpec
    name: str = "data"
    params: dict = field(default_factory=dict)  # how the data was made (generator settings, split)

    def vocabulary(self, name: str) -> int:
        """Embedding rows of field ``name``."""
        return self.spec.vocab[self.spec.fields.index(name)]


# --------------------------------------------------------------------------- the planted-interaction task

def _double_centred(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A random interaction table with no main effects: every row and column sums to zero."""
    t = rng.normal(size=(rows, cols))
    return t - t.mean(axis=0) - t.mean(axis=1, keepdims=True) + t.mean()


def make_click_task(n_train: int = 20_000, n_valid: int = 5_000, n_test: int = 10_000, *,
                    seed: int = DEFAULT_SEED, interaction_scale: float = 1.0, sequence_scale: float = 1.0,
                    history_length: int = 10, n_items: int = 300, focus: float = 0.6) -> DepthData:
    """A CTR-style task whose click logit is known: main effects + planted interactions + a history match.

    Fields: user segment (6), age group (5), time of day (4), genre (8), release decade (5) and
    the candidate item (``n_items``; its genre and decade are fixed properties). History: up to
    ``history_length`` recent positive items (-1 = padding; some users have none); a share
    ``focus`` of them comes from the user's favourite genre, the rest from any genre. The true logit is

        bias + main effects + s_i * (T_sg[segment, genre] + T_ad[age, decade] + T_hg[hour, genre])
             + s_h * max_j cos(v_candidate, v_history_j)

    with each interaction table double-centred (no main effect hides in it) and each planted
    term scaled to a standard deviation of 0.8 times its scale (``interaction_scale`` s_i,
    ``sequence_scale`` s_h; 0 removes it). Labels are Bernoulli(sigmoid(logit)). Every draw
    comes from ``seed``.
    """
    for name, value in (("n_train", n_train), ("n_valid", n_valid), ("n_test", n_test)):
        check_int(value, name, low=50, high=5_000_000)
    check_seed(seed)
    interaction_scale = check_number(interaction_scale, "interaction_scale", low=0, high=10)
    sequence_scale = check_number(sequence_scale, "sequence_scale", low=0, high=10)
    check_int(history_length, "history_length", low=1, high=100)
    check_int(n_items, "n_items", low=8, high=100_000)
    focus = check_fraction(focus, "focus")
    rng = np.random.default_rng(seed)
    n_seg, n_age, n_hour, n_genre, n_decade = 6, 5, 4, 8, 5
    n = n_train + n_valid + n_test

    # items: genre, decade, popularity and a taste vector close to their genre's centre
    item_genre = np.concatenate([np.arange(n_genre), rng.integers(0, n_genre, n_items - n_genre)])
    item_decade = rng.integers(0, n_decade, n_items)
    centre = rng.normal(size=(n_genre, 6))
    vec = centre[item_genre] + rng.normal(0, 0.9, (n_items, 6))
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)

    seg, age, hour = rng.integers(0, n_seg, n), rng.integers(0, n_age, n), rng.integers(0, n_hour, n)
    item = rng.integers(0, n_items, n)
    favourite = rng.integers(0, n_genre, n)
    length = rng.integers(0, history_length + 1, n)
    by_genre = [np.flatnonzero(item_genre == g) for g in range(n_genre)]
    from_favourite = rng.random((n, history_length)) < focus
    any_item = rng.integers(0, n_items, (n, history_length))
    fav_pick = rng.random((n, history_length))
    fav_item = np.empty((n, history_length), dtype=np.int64)
    for g in range(n_genre):  # the user's favourite-genre items, uniformly within the genre
        rows = favourite == g
        fav_item[rows] = by_genre[g][(fav_pick[rows] * len(by_genre[g])).astype(int)]
    history = np.where(from_favourite, fav_item, any_item)
    history = np.where(np.arange(history_length)[None, :] < length[:, None], history, -1).astype(np.int32)

    def scaled(values: np.ndarray, scale: float) -> np.ndarray:
        sd = values.std()
        return scale * 0.8 * (values - values.mean()) / (sd if sd > 0 else 1.0)

    main = (rng.normal(0, 0.3, n_seg)[seg] + rng.normal(0, 0.3, n_age)[age] + rng.normal(0, 0.3, n_hour)[hour]
            + rng.normal(0, 0.3, n_genre)[item_genre[item]] + rng.normal(0, 0.3, n_decade)[item_decade[item]]
            + rng.normal(0, 0.3, n_items)[item])
    genre, decade = item_genre[item], item_decade[item]
    t_sg, t_ad, t_hg = (_double_centred(rng, n_seg, n_genre), _double_centred(rng, n_age, n_decade),
                        _double_centred(rng, n_hour, n_genre))
    cosine = np.einsum("nd,nhd->nh", vec[item], vec[np.maximum(history, 0)])
    match = np.where(length > 0, np.where(history >= 0, cosine, -1.0).max(axis=1), 0.0)
    match = np.where(length > 0, match, match[length > 0].mean() if (length > 0).any() else 0.0)
    components = {
        "main_effects": main,
        "segment_x_genre": scaled(t_sg[seg, genre], interaction_scale),
        "age_x_decade": scaled(t_ad[age, decade], interaction_scale),
        "hour_x_genre": scaled(t_hg[hour, genre], interaction_scale),
        "history_match": scaled(match, sequence_scale),
    }
    logit = -0.2 + sum(components.values())
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)

    fields = np.column_stack([seg, age, hour, genre, decade, item]).astype(np.int32)
    spec = InputSpec(fields=("segment", "age_group", "hour", "genre", "decade", "item"),
                     vocab=(n_seg, n_age, n_hour, n_genre, n_decade, n_items),
                     history_length=history_length, history_field="item")
    truth = {"logit": logit, **components}

    def part(lo: int, hi: int) -> Split:
        s = slice(lo, hi)
        return Split({"fields": fields[s], "history": history[s]}, labels[s], None,
                     {k: v[s] for k, v in truth.items()})

    a, b = n_train, n_train + n_valid
    params = dict(seed=seed, interaction_scale=interaction_scale, sequence_scale=sequence_scale,
                  history_length=history_length, n_items=n_items, focus=focus)
    return DepthData(part(0, a), part(a, b), part(b, n), spec, name="planted", params=params)


def planted_effects(data: DepthData) -> pd.DataFrame:
    """What each planted term is worth on the test split: its logit sd and the true logit's AUC without it.

    ``auc_without`` replaces one term by its mean; ``auc_lost`` = Bayes AUC - auc_without.
    The row ``all (Bayes)`` is the true logit itself: no model can beat it on average.
    """
    truth = data.test.truth
    if truth is None:
        raise ValueError("this data has no planted truth; use make_click_task")
    y, logit = data.test.labels, truth["logit"]
    bayes = auc(y, logit)
    rows = [{"term": "all (Bayes)", "logit_sd": float(logit.std()), "auc_without": bayes, "auc_lost": 0.0}]
    for name in PLANTED:
        without = auc(y, logit - truth[name])
        rows.append({"term": name, "logit_sd": float(truth[name].std()), "auc_without": without,
                     "auc_lost": bayes - without})
    return pd.DataFrame(rows).set_index("term")


# --------------------------------------------------------------------------- SparrowLens samples

def _split_masks(frame: pd.DataFrame, test_fraction: float, valid_fraction: float, split: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(in_training, in_fit) boolean masks over time-sorted ``frame``; training = fit + valid."""
    if split == "global":
        # as datasets.time_split: everything at or after the cutoff is held out (ties go with it)
        ts = frame["timestamp"].to_numpy()
        in_training = ts < ts[min(len(ts) - 1, int(np.floor(len(ts) * (1 - test_fraction))))]
        inside = ts[in_training]
        if len(inside) == 0:
            return in_training, in_training
        return in_training, ts < inside[min(len(inside) - 1, int(np.floor(len(inside) * (1 - valid_fraction))))]
    # per user: the latest ratings of every user are held out; each user keeps at least one to fit on
    by_user = frame.groupby("userId", sort=False)
    rank = by_user.cumcount().to_numpy()
    n = by_user["userId"].transform("size").to_numpy()
    n_test = np.minimum(np.ceil(test_fraction * n), n - 1)
    n_train = n - n_test
    n_valid = np.minimum(np.ceil(valid_fraction * n_train), n_train - 1)
    return rank < n_train, rank < n_train - n_valid


def past_rating_sums(frame: pd.DataFrame, counted: np.ndarray, key: str) -> np.ndarray:
    """Per row: count, sum and sum of squares of the counted ratings of the row's ``key`` strictly earlier.

    ``frame`` (userId/movieId, rating, timestamp) must be sorted by time; ``counted``
    is True for ratings that may feed statistics (the training period), so test
    ratings never count and no row ever sees its own rating.
    """
    weight = np.asarray(counted, dtype=float)
    r = frame["rating"].to_numpy(dtype=float)
    parts = pd.DataFrame({"count": weight, "sum": weight * r, "sumsq": weight * r * r})
    before = parts.groupby(frame[key].to_numpy(), sort=False).cumsum() - parts  # exclusive running sums
    # ratings of one key at the same timestamp are simultaneous: none may see another
    same_time = [frame[key].to_numpy(), frame["timestamp"].to_numpy()]
    return before.groupby(same_time, sort=False).transform("first").to_numpy()


def recent_positives(users: np.ndarray, timestamps: np.ndarray, items: np.ndarray, counted: np.ndarray,
                     length: int) -> np.ndarray:
    """Per row: the ``items`` of the user's latest ``length`` counted rows strictly earlier, newest first, -1 padded.

    ``counted`` marks the rows that may enter a history (training-period positives), so a
    sample never sees itself, anything simultaneous, or the test period.
    """
    users, ts, items = np.asarray(users), np.asarray(timestamps, dtype=np.int64), np.asarray(items)
    counted = np.asarray(counted, dtype=bool)
    check_int(length, "length", low=1, high=1000)
    code = pd.factorize(users)[0].astype(np.int64)
    t = ts - ts.min() if len(ts) else ts
    span = int(t.max()) + 1 if len(t) else 1
    key = code * span + t
    order = np.argsort(key[counted], kind="stable")
    pkey, pitem = key[counted][order], items[counted][order]
    before = np.searchsorted(pkey, key, side="left")  # counted rows with a smaller key come first
    first = np.searchsorted(pkey, code * span, side="left")  # where this user's counted rows start
    src = before[:, None] - 1 - np.arange(length)[None, :]
    valid = src >= first[:, None]
    return np.where(valid, pitem[np.maximum(src, 0)] if len(pitem) else -1, -1).astype(np.int32)


def _describe(past: np.ndarray, prior: float) -> np.ndarray:
    """[log1p(count), mean, std] from running sums; the mean of nothing is the training-period mean."""
    count, total, sumsq = past[:, 0], past[:, 1], past[:, 2]
    mean = np.where(count > 0, total / np.maximum(count, 1), prior)
    var = np.where(count > 1, sumsq / np.maximum(count, 1) - mean**2, 0.0)
    return np.column_stack([np.log1p(count), mean, np.sqrt(np.maximum(var, 0.0))])


def movie_genres(movies: pd.DataFrame, movie_ids: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Multi-hot genres (float32) for each of ``movie_ids`` and the genre names; unknown movies get none."""
    table = genre_matrix(movies)
    table = table[~table.index.duplicated()]
    rows = table.reindex(np.asarray(movie_ids), fill_value=0).to_numpy(dtype=np.float32)
    return rows, tuple(str(g) for g in table.columns)


def sample_users(ratings: pd.DataFrame, n_users: int | None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The ratings of ``n_users`` users drawn at random (all ratings when ``n_users`` is None or too large)."""
    require_frame(ratings, ("userId",), "ratings", allow_empty=False)
    if n_users is None:
        return ratings
    check_int(n_users, "n_users", low=1)
    users = np.sort(ratings["userId"].unique())
    if n_users >= len(users):
        return ratings
    chosen = np.random.default_rng(check_seed(seed)).choice(users, size=n_users, replace=False)
    return ratings[ratings["userId"].isin(chosen)].reset_index(drop=True)


def build_features(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    split: str = "user",
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    threshold: float = POSITIVE_THRESHOLD,
    history_length: int = 10,
) -> DepthData:
    """SparrowLens samples, split by time into train / valid / test, with leak-free features.

    Fields: user id and movie id (rows 1..n for ids seen in the training period, 0 for any
    other); dense: the movie's genres and six statistics; history: the user's latest
    ``history_length`` training-period positives strictly before the sample. ``split="user"``:
    each user's latest ``test_fraction`` is the test set; ``"global"``: one cut in time.
    """
    require_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
    require_frame(movies, MOVIE_COLUMNS, "movies", allow_empty=False)
    check_choice(split, "split", ("user", "global"))
    check_fraction(test_fraction, "test_fraction", include_low=False, include_high=False)
    check_fraction(valid_fraction, "valid_fraction", include_low=False, include_high=False)
    threshold = check_number(threshold, "threshold")
    check_int(history_length, "history_length", low=1, high=1000)
    if not pd.api.types.is_numeric_dtype(ratings["rating"]) or ratings["rating"].isna().any():
        raise ValueError("ratings['rating'] must be numeric with no missing values")
    low, high = float(ratings["rating"].min()), float(ratings["rating"].max())
    if not low < threshold <= high:
        raise ValueError(f"threshold must lie above the lowest rating and at most the highest "
                         f"({low:g} < threshold <= {high:g}) so that both labels occur; got {threshold:g}")

    frame = ratings.loc[:, list(RATING_COLUMNS)].sort_values("timestamp", kind="stable").reset_index(drop=True)
    in_training, in_fit = _split_masks(frame, test_fraction, valid_fraction, split)
    in_valid = in_training & ~in_fit
    for name, mask in (("test", ~in_training), ("validation", in_valid), ("training", in_fit)):
        if not mask.any():
            raise ValueError(f"the time split left the {name} period empty; pass more ratings "
                             f"(users with several ratings, spread over time) or other fractions")

    period = frame[in_training]
    prior = float(period["rating"].mean())
    stats = np.hstack([_describe(past_rating_sums(frame, in_training, key), prior) for key in ("userId", "movieId")])
    # standardise with the fitting samples' own moments, so nothing later shapes the scale
    centre, scale = stats[in_fit].mean(axis=0), stats[in_fit].std(axis=0)
    stats = ((stats - centre) / np.where(scale > 0, scale, 1.0)).astype(np.float32)

    users = np.sort(period["userId"].unique())
    items = np.sort(period["movieId"].unique())
    genres, vocabulary = movie_genres(movies, frame["movieId"].to_numpy())
    movie_row = _index_of(items, frame["movieId"].to_numpy())
    rating = frame["rating"].to_numpy()
    history = recent_positives(frame["userId"].to_numpy(), frame["timestamp"].to_numpy(), movie_row,
                               in_training & (rating >= threshold) & (movie_row > 0), history_length)
    labels = (rating >= threshold).astype(np.float32)
    if labels[in_fit].min() == labels[in_fit].max():
        raise ValueError(f"threshold {threshold:g} gives the training samples one label only; choose another")
    inputs = {
        "fields": np.column_stack([_index_of(users, frame["userId"].to_numpy()), movie_row]).astype(np.int32),
        "dense": np.hstack([genres, stats]).astype(np.float32),
        "history": history,
    }
    ids = frame[["userId", "movieId", "timestamp"]]

    def part(mask: np.ndarray) -> Split:
        return Split({k: v[mask] for k, v in inputs.items()}, labels[mask], ids[mask].reset_index(drop=True))

    spec = InputSpec(fields=("user", "movie"), vocab=(len(users) + 1, len(items) + 1),
                     history_length=history_length, history_field="movie",
                     dense=tuple(f"genre_{g}" for g in vocabulary) + STATS)
    params = dict(split=split, test_fraction=test_fraction, valid_fraction=valid_fraction, threshold=threshold)
    return DepthData(part(in_fit), part(in_valid), part(~in_training), spec, name="sparrowlens", params=params)


def _index_of(known: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Embedding rows: position in sorted ``known`` plus one, 0 for ids not in it."""
    pos = np.searchsorted(known, ids)
    hit = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == ids)
    return np.where(hit, pos + 1, 0).astype(np.int32)


# --------------------------------------------------------------------------- training

@dataclass
class TrainingRun:
    """One architecture trained with several seeds: a row per seed, learning curves, test scores, the model."""

    results: pd.DataFrame
    curves: pd.DataFrame
    test_scores: np.ndarray  # (n_test, seeds): logits at each seed's best-validation step
    model: object


def _bce(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per replica column of ``logits`` (B, K), computed stably."""
    z = logits.astype(np.float64)
    y = labels.astype(np.float64)[:, None]
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=0)


def _replicated(split: Split, index: np.ndarray) -> dict[str, np.ndarray]:
    """Model inputs (B, K, ...) for per-replica sample positions ``index`` (B, K)."""
    return {k: v[index] for k, v in split.inputs.items()}


def _pools(n: int, seeds: Sequence[int], train_size: int | None) -> list[np.ndarray]:
    """Each seed's training rows: all of them, or a subsample of ``train_size`` drawn from (seed, size)."""
    if train_size is None or train_size >= n:
        return [np.arange(n) for _ in seeds]
    return [np.sort(np.random.default_rng([s, train_size]).choice(n, train_size, replace=False)) for s in seeds]


def train(data: DepthData, depth: int, *, kind: str = "mlp", seeds: Iterable[int] = (0, 1, 2), steps: int = 600,
          batch_size: int = 256, learning_rate: float = 3e-3, width: int = 32, embedding_dim: int = 8,
          eval_every: int = 50, train_size: int | None = None) -> TrainingRun:
    """Train one architecture for ``steps`` Adam steps per seed (no early stopping) and measure it.

    Seed ``s`` fixes the initial weights, the order of the batches and (with ``train_size``)
    which training rows are used, so runs of different depths with the same seed are paired.
    Every ``eval_every`` steps (and at step 0) the loss on the validation split and on up to
    4,096 of the seed's training rows is logged; for a small training set the interval shrinks
    to at most about three passes over its rows. Reported per seed: AUC at the step with the
    lowest validation loss (``test_auc``; the weights one would keep) and at the last step
    (``test_auc_last``); ``steps_to_converge``: the first logged step whose validation loss
    has made 95% of its drop from step 0 to its minimum; ``ms_per_step``: median wall-clock
    time of a step of all replicas together (the first block, with tracing, excluded).
    """
    seeds = [check_seed(s, "seeds") for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct seeds, got {seeds}")
    check_choice(kind, "kind", KINDS)
    steps = check_int(steps, "steps", low=1, high=1_000_000)
    batch_size = check_int(batch_size, "batch_size", low=1, high=1_000_000)
    learning_rate = check_number(learning_rate, "learning_rate", low=0, include_low=False, high=10)
    eval_every = check_int(eval_every, "eval_every", low=1)
    for name, split in (("train", data.train), ("valid", data.valid), ("test", data.test)):
        if len(split) == 0:
            raise ValueError(f"the {name} split is empty; expected samples in every split")
    for name, split in (("valid", data.valid), ("test", data.test)):
        if split.labels.min() == split.labels.max():
            raise ValueError(f"the {name} split holds one label only; AUC needs clicks and non-clicks")
    n = len(data.train)
    if train_size is not None:
        train_size = check_int(train_size, "train_size", low=1, high=n)
    tf = import_tensorflow()
    import keras

    model = build_model(data.spec, depth, kind=kind, seeds=seeds, width=width, embedding_dim=embedding_dim)
    params = parameter_count(data.spec, depth, kind=kind, width=width, embedding_dim=embedding_dim)
    if model.count_params() != params * len(seeds):  # the closed form is what the chapter teaches: keep it honest
        raise RuntimeError(f"parameter formula {params} x {len(seeds)} disagrees with Keras {model.count_params()}")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    signature = {k: tf.TensorSpec((None, len(seeds), *v.shape[1:]), tf.as_dtype(v.dtype))
                 for k, v in data.train.inputs.items()}

    @tf.function(input_signature=[signature, tf.TensorSpec((None, len(seeds)), tf.float32)])
    def step(x, y):
        with tf.GradientTape() as tape:
            per_example = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=model(x))
            loss = tf.reduce_sum(tf.reduce_mean(per_example, axis=0))  # sum over replicas: each its own gradient
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    forward = tf.function(model.call, input_signature=[signature])

    def logits(split: Split, index: np.ndarray | None = None) -> np.ndarray:
        if index is None:
            index = np.repeat(np.arange(len(split))[:, None], len(seeds), axis=1)
        out = [forward(_replicated(split, index[i:i + 8192])).numpy() for i in range(0, len(index), 8192)]
        return np.concatenate(out)

    k = len(seeds)
    pools = _pools(n, seeds, train_size)
    rows = len(pools[0])
    # at most about three passes over the rows between two logs, so a small set cannot overfit unseen
    eval_every = max(1, min(eval_every, 3 * rows // batch_size))
    # each seed's batches: fresh permutations of its rows, one after another
    need = steps * batch_size
    epochs = -(-need // rows)
    orders = np.stack([np.concatenate([np.random.default_rng([s, 1]).permutation(pool) if e == 0 else
                                       np.random.default_rng([s, 1, e]).permutation(pool) for e in range(epochs)])[:need]
                       for s, pool in zip(seeds, pools)], axis=1)  # (steps * batch, K)
    monitor = np.stack([np.random.default_rng([s, 2]).permutation(pool)[:4096] for s, pool in zip(seeds, pools)],
                       axis=1)  # each seed's own training rows, for the training loss
    y_train = data.train.labels
    curve, timings = [], []
    best_loss = np.full(k, np.inf)
    best_step = np.zeros(k, dtype=int)
    best_weights = [w.copy() for w in model.get_weights()]

    def evaluate(at: int) -> None:
        valid_loss = _bce(logits(data.valid), data.valid.labels)
        train_logits = logits(data.train, monitor)
        train_loss = np.array([_bce(train_logits[:, [j]], y_train[monitor[:, j]])[0] for j in range(k)])
        for j in range(k):
            curve.append((seeds[j], at, float(train_loss[j]), float(valid_loss[j])))
        improved = valid_loss < best_loss
        if improved.any():
            for w_best, w_now in zip(best_weights, model.get_weights()):
                w_best[improved] = w_now[improved]
            best_loss[improved] = valid_loss[improved]
            best_step[improved] = at

    evaluate(0)
    done = 0
    while done < steps:
        block = min(eval_every, steps - done)
        start = time.perf_counter()
        for t in range(done, done + block):
            index = orders[t * batch_size:(t + 1) * batch_size]
            step(_replicated(data.train, index), y_train[index])
        timings.append((time.perf_counter() - start) / block)
        done += block
        evaluate(done)

    last = logits(data.test)
    model.set_weights(best_weights)
    test_scores = logits(data.test)
    valid_scores = logits(data.valid)
    train_scores = logits(data.train, monitor)
    curves = pd.DataFrame(curve, columns=["seed", "step", "train_loss", "valid_loss"])
    ms = 1000 * float(np.median(timings[1:] or timings))
    result = []
    for j, s in enumerate(seeds):
        c = curves[curves["seed"] == s]
        drop = c["valid_loss"].iloc[0] - c["valid_loss"].min()
        reached = c["step"][c["valid_loss"] <= c["valid_loss"].min() + 0.05 * drop]
        row = {
            "kind": kind, "depth": depth, "train_rows": rows, "seed": s, "params": params,
            "mult_adds": multiply_adds(data.spec, depth, kind=kind, width=width, embedding_dim=embedding_dim),
            "train_auc": auc(y_train[monitor[:, j]], train_scores[:, j]),
            "valid_auc": auc(data.valid.labels, valid_scores[:, j]),
            "test_auc": auc(data.test.labels, test_scores[:, j]),
            "test_auc_last": auc(data.test.labels, last[:, j]),
            "best_step": int(best_step[j]), "steps_to_converge": int(reached.iloc[0]),
            "valid_loss_best": float(best_loss[j]), "valid_loss_last": float(c["valid_loss"].iloc[-1]),
            "ms_per_step": ms, "us_per_example": 1000 * ms / (batch_size * k),
        }
        row["gap"] = row["train_auc"] - row["test_auc"]
        result.append(row)
    curves.insert(0, "train_rows", rows)
    curves.insert(0, "depth", depth)
    curves.insert(0, "kind", kind)
    return TrainingRun(pd.DataFrame(result, columns=list(RESULT_COLUMNS)), curves[list(CURVE_COLUMNS)],
                       test_scores, model)


@dataclass
class Sweep:
    """Many architectures: one row per (kind, depth, train_rows, seed), their learning curves and test scores."""

    results: pd.DataFrame
    curves: pd.DataFrame
    test_scores: dict  # (kind, depth, train_rows) -> (n_test, seeds) logits

    def __add__(self, other: "Sweep") -> "Sweep":
        return Sweep(_sorted(pd.concat([self.results, other.results], ignore_index=True)),
                     _sorted(pd.concat([self.curves, other.curves], ignore_index=True)),
                     {**self.test_scores, **other.test_scores})


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("kind", "train_rows", "depth", "seed", "step") if c in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def run_sweep(data: DepthData, depths: Iterable[int], seeds: Iterable[int] = (0, 1, 2), *,
              kinds: Iterable[str] = ("mlp",), train_sizes: Iterable[int | None] = (None,), **options) -> Sweep:
    """Train every (kind, training-set size, depth) with all ``seeds`` (see ``train``); return a ``Sweep``."""
    depths, seeds, kinds, sizes = list(depths), list(seeds), list(kinds), list(train_sizes)
    for name, values in (("depths", depths), ("seeds", seeds), ("kinds", kinds), ("train_sizes", sizes)):
        if not values:
            raise ValueError(f"{name} is empty; give at least one value")
    for d in depths:
        check_int(d, "depth", low=0, high=32)
    for kind in kinds:
        check_choice(kind, "kinds", KINDS)
    results, curves, scores = [], [], {}
    for kind in kinds:
        for size in sizes:
            for d in depths:
                run = train(data, d, kind=kind, seeds=seeds, train_size=size, **options)
                results.append(run.results)
                curves.append(run.curves)
                scores[(kind, d, int(run.results["train_rows"].iloc[0]))] = run.test_scores
    return Sweep(_sorted(pd.concat(results, ignore_index=True)), _sorted(pd.concat(curves, ignore_index=True)),
                 scores)


def time_per_step(data: DepthData, depths: Iterable[int], *, kind: str = "mlp", steps: int = 120,
                  batch_size: int = 256, **options) -> pd.DataFrame:
    """Wall-clock cost of ONE model (a single seed) per training step and per example, by depth (machine-dependent)."""
    rows = []
    for d in depths:
        run = train(data, d, kind=kind, seeds=(0,), steps=steps, batch_size=batch_size,
                    eval_every=max(1, steps // 4), **options)
        r = run.results.iloc[0]
        rows.append({"depth": d, "kind": kind, "mult_adds": int(r["mult_adds"]), "ms_per_step": r["ms_per_step"],
                     "us_per_example": r["us_per_example"]})
    return pd.DataFrame(rows).set_index("depth")


# --------------------------------------------------------------------------- reading a sweep

def summarize(results: pd.DataFrame, by: Sequence[str] = ("kind", "depth"),
              metrics: Sequence[str] = ("test_auc", "test_auc_last", "gap", "steps_to_converge")) -> pd.DataFrame:
    """Mean, standard deviation and standard error over seeds of each metric, one row per group (sorted)."""
    require_frame(results, [*by, *metrics], "results", allow_empty=False)
    grouped = results.groupby(list(by), sort=True)[list(metrics)]
    table = grouped.agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    runs = grouped.size()
    for metric in metrics:
        table[f"{metric}_se"] = table[f"{metric}_std"] / np.sqrt(runs)
    table.insert(0, "runs", runs)
    return table


def depth_choice(results: pd.DataFrame, *, score: str = "test_auc", by: str = "train_rows") -> pd.DataFrame:
    """The paired one-standard-error rule, per ``by`` group: the smallest depth within one SE of the best.

    For each depth, the per-seed difference to the best-mean depth (same seed = same
    initialisation and rows, so the comparison is paired) has a mean and a standard error;
    a depth is ``within_one_se`` when its mean difference is at least minus that SE.
    Columns: mean score, difference to the best, its SE, and the flags ``best`` and ``choice``.
    """
    require_frame(results, ("depth", "seed", score, by), "results", allow_empty=False)
    if results[score].isna().any():
        raise ValueError(f"column {score!r} has missing values; every run needs a score")
    rows = []
    for group, part in results.groupby(by, sort=True):
        wide = part.pivot_table(index="seed", columns="depth", values=score)
        if wide.isna().any().any():
            raise ValueError(f"{by}={group}: every depth needs the same seeds for a paired comparison")
        means = wide.mean()
        best = means.idxmax()
        diff = wide.sub(wide[best], axis=0)
        se = (diff.std(ddof=1) / np.sqrt(len(wide))).fillna(0.0)
        within = diff.mean() >= -se
        choice = min(d for d in means.index if within[d])
        for d in means.index:
            rows.append({by: group, "depth": d, "mean": means[d], "diff_to_best": diff[d].mean(), "se_diff": se[d],
                         "within_one_se": bool(within[d]), "best": d == best, "choice": d == choice,
                         "seeds": len(wide)})
    return pd.DataFrame(rows).set_index([by, "depth"])


def picks_by_group(choice: pd.DataFrame) -> pd.DataFrame:
    """One row per group of a ``depth_choice`` table: best-mean depth, one-SE pick, its AUC, depth 0's deficit and SE."""
    require_frame(choice, ("mean", "diff_to_best", "se_diff", "best", "choice"), "choice", allow_empty=False)
    rows = {}
    for group, part in choice.groupby(level=0, sort=True):
        part = part.droplevel(0)
        simplest = part.index.min()
        rows[group] = {"best_mean_depth": int(part["best"].idxmax()), "one_se_pick": int(part["choice"].idxmax()),
                       "auc_at_pick": float(part.loc[part["choice"].idxmax(), "mean"]),
                       f"depth{simplest}_behind_best": float(-part.loc[simplest, "diff_to_best"]),
                       "se_of_that": float(part.loc[simplest, "se_diff"])}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(choice.index.names[0])


def one_se_table(table: pd.DataFrame, *, complexity: str = "depth", score: str = "test_auc") -> pd.DataFrame:
    """Per complexity level: mean score, standard error over runs, and whether it is within one SE of the best."""
    require_frame(table, (complexity, score), "table", allow_empty=False)
    if table[score].isna().any():
        raise ValueError(f"column {score!r} has missing values; every run needs a score")
    grouped = table.groupby(complexity, sort=True)[score]
    stats = pd.DataFrame({"mean": grouped.mean(), "runs": grouped.size()})
    # with one run per level the spread is unknown; its SE counts as 0 (the rule becomes "the best")
    stats["se"] = (grouped.std(ddof=1) / np.sqrt(stats["runs"])).fillna(0.0)
    best = stats["mean"].idxmax()
    stats["within_one_se"] = stats["mean"] >= stats.loc[best, "mean"] - stats.loc[best, "se"]
    return stats


def simplest_within_one_se(table: pd.DataFrame, *, complexity: str = "depth", score: str = "test_auc"):
    """The one-standard-error rule (unpaired): the least complex level within one SE of the best mean.

    ``table`` holds one row per run; the SE is that of the best level's mean.
    """
    stats = one_se_table(table, complexity=complexity, score=score)
    return stats.index[stats["within_one_se"].to_numpy()].min()


# --------------------------------------------------------------------------- what SparrowLens allows

def fit_user_tastes(item_vectors: np.ndarray, users: np.ndarray, items: np.ndarray, residuals: np.ndarray,
                    n_users: int, *, alpha: float) -> np.ndarray:
    """Each user's taste vector by ridge regression of their rating residuals on known item vectors.

    Solves ``(V_u' V_u + alpha I) z_u = V_u' r_u`` per user (rows ``items`` of ``item_vectors``,
    residuals ``r_u``); users without ratings get zeros. Returns an ``(n_users, k)`` array.
    """
    v = np.asarray(item_vectors, dtype=float)
    users, items = np.asarray(users), np.asarray(items)
    r = np.asarray(residuals, dtype=float)
    if v.ndim != 2 or not (len(users) == len(items) == len(r)):
        raise ValueError("item_vectors must be 2-D and users, items, residuals of one length")
    n_users = check_int(n_users, "n_users", low=1)
    if len(users) and (users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= len(v)):
        raise ValueError("users must be in [0, n_users) and items in [0, len(item_vectors))")
    alpha = check_number(alpha, "alpha", low=0, include_low=False)
    k = v.shape[1]
    rows = v[items]
    outer = (rows[:, :, None] * rows[:, None, :]).reshape(len(rows), k * k)
    gram = np.stack([np.bincount(users, outer[:, j], minlength=n_users) for j in range(k * k)], axis=1)
    rhs = np.stack([np.bincount(users, rows[:, j] * r, minlength=n_users) for j in range(k)], axis=1)
    return np.linalg.solve(gram.reshape(n_users, k, k) + alpha * np.eye(k), rhs[:, :, None])[:, :, 0]


def ratings_ceilings(data: DepthData, ratings: pd.DataFrame, truth) -> pd.Series:
    """Test AUC of scorers built from SparrowLens' planted truth: what the data allows a model to reach.

    ``truth`` is ``sparrowlens.generate(...).truth`` for the data ``ratings`` came from. Scorers:
    the true biases only; biases plus each user's taste fitted by ridge regression to that user's
    training-period ratings with the TRUE film vectors (what a model could learn about tastes at
    best from this much data); the planted score with the taste frozen at mid-window; the planted
    score with the drifting taste (the generator itself).
    """
    if data.name != "sparrowlens" or data.test.ids is None:
        raise ValueError("ratings_ceilings needs SparrowLens samples from build_features")
    require_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
    ids = data.test.ids
    uid, mid, ts = ids["userId"].to_numpy(), ids["movieId"].to_numpy(), ids["timestamp"].to_numpy()
    u, i = truth.user_index(uid), truth.item_index(mid)
    biases = truth.global_mean + truth.user_bias[u] + truth.item_bias[i]
    seen = pd.concat([data.train.ids, data.valid.ids]).merge(ratings, on=["userId", "movieId", "timestamp"])
    su, si = truth.user_index(seen["userId"].to_numpy()), truth.item_index(seen["movieId"].to_numpy())
    residual = seen["rating"].to_numpy() - (truth.global_mean + truth.user_bias[su] + truth.item_bias[si])
    # penalty = noise variance / taste variance: the Bayes choice for a Gaussian prior on tastes
    alpha = truth.params["noise_sd"] ** 2 / truth.user_factors_early.var()
    tastes = fit_user_tastes(truth.item_factors, su, si, residual, len(truth.user_ids), alpha=alpha)
    scorers = {
        "truth: biases only": biases,
        "truth: biases + tastes fitted to training": biases + np.einsum("nk,nk->n", tastes[u], truth.item_factors[i]),
        "truth: taste frozen at mid-window": truth.expected_rating(uid, mid),
        "truth: drifting taste (the generator)": truth.expected_rating(uid, mid, ts),
    }
    return pd.Series({name: auc(data.test.labels, score) for name, score in scorers.items()}, name="test_auc")


# --------------------------------------------------------------------------- what a small AUC gain is worth

def slate_value(data: DepthData, scores: dict[str, np.ndarray], *, slate_size: int = 10, seed: int = DEFAULT_SEED
                ) -> pd.DataFrame:
    """Expected clicks when each scorer fills the top slot of random slates of test candidates (planted task).

    The test samples are dealt into slates of ``slate_size``; each scorer shows its top-scored
    candidate; its click-through rate is the mean TRUE click probability of what it showed.
    Rows: every scorer plus ``random`` and ``truth`` (the best possible), with test AUC and the
    standard error of the click-through rate over the slates.
    """
    if data.test.truth is None:
        raise ValueError("slate_value needs the planted truth; use make_click_task")
    check_int(slate_size, "slate_size", low=2, high=len(data.test))
    rng = np.random.default_rng(check_seed(seed))
    n = (len(data.test) // slate_size) * slate_size
    deal = rng.permutation(len(data.test))[:n].reshape(-1, slate_size)
    p = 1 / (1 + np.exp(-data.test.truth["logit"]))
    everyone = {"random": rng.random(len(data.test)), **scores, "truth": data.test.truth["logit"]}
    rows = []
    for name, s in everyone.items():
        s = np.asarray(s, dtype=float)
        if s.shape != (len(data.test),):
            raise ValueError(f"scores[{name!r}] must hold one score per test sample ({len(data.test)}), got {s.shape}")
        top = deal[np.arange(len(deal)), np.argmax(s[deal], axis=1)]
        rows.append({"scorer": name, "test_auc": auc(data.test.labels, s), "top_slot_ctr": float(p[top].mean()),
                     "ctr_se": float(p[top].std(ddof=1) / np.sqrt(len(top)))})
    return pd.DataFrame(rows).set_index("scorer")
