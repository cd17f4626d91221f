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
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .checks import check_choice, check_fraction, check_frame, check_int, check_number, check_seed
from . import RESULTS
from .datasets import POSITIVE_THRESHOLD, RATING_COLUMNS, genre_matrix
from .metrics import auc
from .seeding import DEFAULT_SEED, import_tensorflow
from .structures import (KINDS, InputSpec, build_model, layer_sizes, mlp_parameters, multiply_adds,
                         parameter_count)

__all__ = [
    "CURVE_COLUMNS", "DepthData", "MOVIE_COLUMNS", "PLANTED", "RESULT_COLUMNS", "STATS", "Split", "Sweep", "TrainingRun",
    "CONVERGENCE_COLUMNS", "OPTIMIZERS", "REGIME_FILES", "REGIME_RESULTS", "SETUPS", "TARGETS", "read_regime",
    "build_features", "click_value_by_base_rate", "click_value_curve", "convergence_sweep", "convergence_table",
    "ctr_gain_per_auc", "depth_choice", "expected_auc", "loss_targets", "regime_summary", "structure_regime",
    "term_worth", "fit_user_tastes", "layer_sizes", "make_click_task", "mlp_parameters", "movie_genres",
    "multiply_adds", "one_se_table", "parameter_count", "picks_by_group", "past_rating_sums", "planted_effects",
    "ratings_ceilings", "recent_positives", "run_sweep", "sample_users", "simplest_within_one_se", "slate_value", "summarize",
    "time_per_step", "train",
]

STATS = ("user_count", "user_mean", "user_std", "movie_count", "movie_mean", "movie_std")
MOVIE_COLUMNS = ("movieId", "genres")
PLANTED = ("main_effects", "segment_x_genre", "age_x_decade", "hour_x_genre", "history_match")
RESULT_COLUMNS = (
    "kind", "depth", "train_rows", "seed", "params", "mult_adds", "train_auc", "valid_auc", "test_auc",
    "test_auc_last", "gap", "best_step", "steps_to_converge", "valid_loss_best", "valid_loss_last",
    "ms_per_step", "us_per_example",
)
OPTIMIZERS = ("adam", "sgd")
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
                    history_length: int = 10, n_items: int = 300, focus: float = 0.6,
                    base_rate: float | None = None) -> DepthData:
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
    comes from ``seed``. ``base_rate`` (None: bias -0.2, a click share of about 0.53) moves the
    bias so that the mean true click probability is ``base_rate``; the draws stay the same.
    """
    for name, value in (("n_train", n_train), ("n_valid", n_valid), ("n_test", n_test)):
        check_int(value, name, low=50, high=5_000_000)
    check_seed(seed)
    interaction_scale = check_number(interaction_scale, "interaction_scale", low=0, high=10)
    sequence_scale = check_number(sequence_scale, "sequence_scale", low=0, high=10)
    check_int(history_length, "history_length", low=1, high=100)
    check_int(n_items, "n_items", low=8, high=100_000)
    focus = check_fraction(focus, "focus")
    if base_rate is not None:
        base_rate = check_number(base_rate, "base_rate", low=1e-4, high=0.9999)
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
    if base_rate is not None:
        logit = logit + _bias_for_rate(logit, base_rate)
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
                  history_length=history_length, n_items=n_items, focus=focus, base_rate=base_rate)
    return DepthData(part(0, a), part(a, b), part(b, n), spec, name="planted", params=params)


def _bias_for_rate(logit: np.ndarray, rate: float) -> float:
    """The shift of ``logit`` that makes the mean of sigmoid(logit + shift) equal ``rate`` (bisection)."""
    low, high = -40.0, 40.0
    for _ in range(100):  # the mean is increasing in the shift
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


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
    check_frame(ratings, ("userId",), "ratings", allow_empty=False)
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
    check_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
    check_frame(movies, MOVIE_COLUMNS, "movies", allow_empty=False)
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
          eval_every: int = 50, train_size: int | None = None, optimizer: str = "adam", init: str = "glorot",
          norm: str = "none", residual: bool = False) -> TrainingRun:
    """Train one architecture for ``steps`` optimiser steps per seed (no early stopping) and measure it.

    ``optimizer``: ``"adam"`` (the chapter's default) or ``"sgd"`` (plain stochastic gradient
    descent at a fixed learning rate); ``init``, ``norm``, ``residual``: the hidden stack's form
    (``structures.build_model``).

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
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    form = dict(init=init, norm=norm, residual=residual)
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

    model = build_model(data.spec, depth, kind=kind, seeds=seeds, width=width, embedding_dim=embedding_dim, **form)
    params = parameter_count(data.spec, depth, kind=kind, width=width, embedding_dim=embedding_dim, norm=norm,
                             residual=residual)
    if model.count_params() != params * len(seeds):  # the closed form is what the chapter teaches: keep it honest
        raise RuntimeError(f"parameter formula {params} x {len(seeds)} disagrees with Keras {model.count_params()}")
    optimizer = (keras.optimizers.Adam if optimizer == "adam" else keras.optimizers.SGD)(learning_rate)
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
            "mult_adds": multiply_adds(data.spec, depth, kind=kind, width=width, embedding_dim=embedding_dim,
                                       norm=norm, residual=residual),
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
    check_frame(results, [*by, *metrics], "results", allow_empty=False)
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
    check_frame(results, ("depth", "seed", score, by), "results", allow_empty=False)
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
    """One row per group of a ``depth_choice`` table: the one-SE pick, its AUC and its gap to the best mean; depth 0's deficit and SE.

    Which depth has the best mean is not reported: among depths within noise of each other it is
    decided by the last bits of training and flips from CPU to CPU. How far the pick trails the
    best mean is a number, and says the same thing robustly.
    """
    check_frame(choice, ("mean", "diff_to_best", "se_diff", "best", "choice"), "choice", allow_empty=False)
    rows = {}
    for group, part in choice.groupby(level=0, sort=True):
        part = part.droplevel(0)
        simplest, pick = part.index.min(), part["choice"].idxmax()
        rows[group] = {"one_se_pick": int(pick), "auc_at_pick": float(part.loc[pick, "mean"]),
                       "pick_behind_best": 0.0 - float(part.loc[pick, "diff_to_best"]),  # no -0.0
                       f"depth{simplest}_behind_best": 0.0 - float(part.loc[simplest, "diff_to_best"]),
                       "se_of_that": float(part.loc[simplest, "se_diff"])}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(choice.index.names[0])


def one_se_table(table: pd.DataFrame, *, complexity: str = "depth", score: str = "test_auc") -> pd.DataFrame:
    """Per complexity level: mean score, standard error over runs, and whether it is within one SE of the best."""
    check_frame(table, (complexity, score), "table", allow_empty=False)
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
    check_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
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
    A scorer's scores are one per test sample, or a ``(n_test, seeds)`` array (one column per
    training seed, as ``Sweep.test_scores``): then its test AUC and click-through rate are the
    means over the seeds. Rows: every scorer plus ``random`` and ``truth`` (the best possible),
    with test AUC, the standard error of the click-through rate over the slates, and ``seeds``.
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
        if s.ndim == 1:
            s = s[:, None]
        if s.ndim != 2 or s.shape[0] != len(data.test) or s.shape[1] == 0:
            raise ValueError(f"scores[{name!r}] must hold one score per test sample ({len(data.test)}), or one "
                             f"column of them per seed, got shape {s.shape}")
        per_seed = []
        for column in s.T:
            top = deal[np.arange(len(deal)), np.argmax(column[deal], axis=1)]
            per_seed.append((auc(data.test.labels, column), p[top].mean(), p[top].std(ddof=1) / np.sqrt(len(top))))
        a, ctr, se = np.mean(per_seed, axis=0)
        rows.append({"scorer": name, "test_auc": float(a), "top_slot_ctr": float(ctr), "ctr_se": float(se),
                     "seeds": s.shape[1]})
    return pd.DataFrame(rows).set_index("scorer")


def expected_auc(probabilities: np.ndarray, scores: np.ndarray) -> float:
    """AUC of ``scores`` against labels drawn from ``probabilities``, in expectation (no label noise).

    Every sample counts as a click with weight p and as a non-click with weight 1 - p; pairs of
    two different samples only, as with drawn labels.
    """
    from sklearn.metrics import roc_auc_score

    p, s = np.asarray(probabilities, dtype=float), np.asarray(scores, dtype=float)
    if p.shape != s.shape or p.ndim != 1 or len(p) < 2:
        raise ValueError(f"probabilities and scores must be 1-D of one length (at least 2), got {p.shape} and {s.shape}")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    n = len(p)
    with_self = roc_auc_score(np.r_[np.ones(n), np.zeros(n)], np.r_[s, s], sample_weight=np.r_[p, 1 - p])
    # take out the pairs of a sample with itself (a tie, counted as one half, weight p (1 - p))
    total, own = p.sum() * (1 - p).sum(), (p * (1 - p)).sum()
    return float((with_self * total - 0.5 * own) / (total - own))


def click_value_curve(data: DepthData, noise_sds: Sequence[float] = tuple(np.round(np.linspace(0, 6, 25), 2)), *,
                      slate_size: int = 10, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Top-slot click-through rate against AUC for a family of scorers: the true logit plus Gaussian noise.

    Scorer ``sd`` ranks by ``logit + sd * z`` (one ``z`` per test sample, from ``seed``): no noise is
    the truth, much noise is guessing, and in between lie models of every quality. Its AUC is the
    expected AUC (``expected_auc``); its click-through rate, as in ``slate_value``, the mean true
    click probability of the top-scored candidate of each slate. Rows sorted by AUC.
    """
    if data.test.truth is None:
        raise ValueError("click_value_curve needs the planted truth; use make_click_task")
    check_int(slate_size, "slate_size", low=2, high=len(data.test))
    sds = [check_number(v, "noise_sds", low=0) for v in noise_sds]
    if not sds:
        raise ValueError("noise_sds is empty; give at least one noise level")
    rng = np.random.default_rng(check_seed(seed))
    logit = data.test.truth["logit"]
    p = 1 / (1 + np.exp(-logit))
    n = (len(logit) // slate_size) * slate_size
    deal = rng.permutation(len(logit))[:n].reshape(-1, slate_size)
    z = rng.normal(size=len(logit))
    rows = []
    for sd in sds:
        score = logit + sd * z
        top = deal[np.arange(len(deal)), np.argmax(score[deal], axis=1)]
        rows.append({"noise_sd": sd, "auc": expected_auc(p, score), "top_slot_ctr": float(p[top].mean())})
    return pd.DataFrame(rows).sort_values("auc", kind="stable").reset_index(drop=True)


def ctr_gain_per_auc(curve: pd.DataFrame, *, at: float = 0.75, half_width: float = 0.025) -> float:
    """Slope of top-slot click-through rate against AUC around ``at`` (a chord over +- ``half_width``), from ``click_value_curve``."""
    check_frame(curve, ("auc", "top_slot_ctr"), "curve", allow_empty=False)
    at = check_number(at, "at", low=0.5, high=1.0)
    half_width = check_number(half_width, "half_width", low=0, include_low=False, high=0.25)
    a, c = curve["auc"].to_numpy(), curve["top_slot_ctr"].to_numpy()
    if not (a.min() <= at - half_width and at + half_width <= a.max()):
        raise ValueError(f"the curve spans AUC {a.min():.3f} to {a.max():.3f}; it must cover "
                         f"{at - half_width:.3f} to {at + half_width:.3f} (add noise levels, or move at)")
    order = np.argsort(a, kind="stable")
    lo, hi = np.interp([at - half_width, at + half_width], a[order], c[order])
    return float((hi - lo) / (2 * half_width))


def click_value_by_base_rate(base_rates: Sequence[float], *, n_test: int = 100_000, slate_size: int = 10,
                             at: float = 0.75, noise_sds: Sequence[float] = tuple(np.linspace(0, 6, 13)),
                             seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """What 0.001 AUC is worth in top-slot clicks at each base click rate, on the planted task.

    For each rate the task's bias is moved so the mean true click probability is that rate
    (``make_click_task(base_rate=...)``, ``n_test`` test samples); ``click_value_curve`` gives
    click-through against AUC, and the slope around AUC ``at`` times 0.001 is the gain per
    0.001 AUC (absolute, in clicks per impression) and, divided by the rate, relative;
    ``truth_ctr`` and ``bayes_auc`` are those of the true logit itself.
    """
    rates = [check_number(r, "base_rates", low=1e-4, high=0.9999) for r in base_rates]
    if not rates:
        raise ValueError("base_rates is empty; give at least one rate")
    check_int(n_test, "n_test", low=1000, high=5_000_000)
    rows = []
    for rate in rates:
        task = make_click_task(n_train=50, n_valid=50, n_test=n_test, seed=seed, base_rate=rate)
        curve = click_value_curve(task, noise_sds, slate_size=slate_size, seed=seed)
        per_milli = 0.001 * ctr_gain_per_auc(curve, at=at)
        rows.append({"base_rate": rate, "truth_ctr": float(curve["top_slot_ctr"].iloc[-1]),
                     "bayes_auc": float(curve["auc"].iloc[-1]),
                     "ctr_per_milli_auc": per_milli, "relative_per_milli_auc": per_milli / rate})
    return pd.DataFrame(rows).set_index("base_rate")


# --------------------------------------------------------------------------- stored regime results

#: where ``benchmarks/bench_depth.py regimes`` stores the sweeps too long for the notebook
REGIME_RESULTS = RESULTS / "depth"
REGIME_FILES = ("convergence_runs", "convergence_curves", "din_regime", "fm_regime")


def read_regime(name: str, folder: str | Path | None = None) -> pd.DataFrame:
    """One stored regime result (``REGIME_FILES``) from ``folder`` (default ``REGIME_RESULTS``), as a frame."""
    check_choice(name, "name", REGIME_FILES)
    path = Path(REGIME_RESULTS if folder is None else folder) / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no stored result {path.name} in {path.parent.name}/; make it with "
                                f"`python benchmarks/bench_depth.py regimes` from the project's folder")
    return pd.read_csv(path)


# --------------------------------------------------------------------------- when depth costs: the regime map

#: the training set-ups of the convergence regime, from an old recipe to modern practice (fixed learning rates)
SETUPS = {
    "SGD, small init": dict(optimizer="sgd", learning_rate=0.1, init="small"),
    "SGD, He init": dict(optimizer="sgd", learning_rate=0.1, init="he"),
    "Adam, Glorot init": dict(optimizer="adam", learning_rate=1e-2),
    "Adam, layer norm, residuals": dict(optimizer="adam", learning_rate=1e-2, norm="layer", residual=True),
}
CONVERGENCE_COLUMNS = ("setup", "depth", "seed", "steps", "target_loss", "steps_to_target", "converged",
                       "valid_loss_best", "test_auc")


def loss_targets(data: DepthData, *, share: float = 0.25) -> dict[str, float]:
    """Validation log losses that define convergence on the planted task.

    ``constant``: predicting the training click share for everyone; ``bayes``: the true
    probabilities (no model does better on average); ``target``: ``share`` of the way from
    the first to the second. A run converges when its validation loss reaches the target.
    """
    if data.valid.truth is None:
        raise ValueError("loss_targets needs the planted truth; use make_click_task")
    share = check_fraction(share, "share", include_low=False, include_high=False)
    y = data.valid.labels.astype(float)
    p = 1 / (1 + np.exp(-data.valid.truth["logit"]))
    q = float(np.clip(data.train.labels.mean(), 1e-6, 1 - 1e-6))
    constant = float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean())
    bayes = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    return {"constant": constant, "bayes": bayes, "target": constant - share * (constant - bayes)}


def convergence_sweep(data: DepthData, depths: Iterable[int], seeds: Iterable[int] = range(8), *,
                      setups: dict[str, dict] | None = None, share: float = 0.25, **training
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps to converge and failures, per training set-up, depth and seed: the regime where depth costs.

    Every (set-up, depth) trains all ``seeds`` with ``train`` (``training``: steps, batch_size,
    eval_every, ...; a set-up's own options win). A run converges at the first logged step whose
    validation loss reaches ``loss_targets(data, share=share)["target"]``; a run that never
    does within its steps has failed (``steps_to_target`` NaN). Returns (runs, curves): one
    row per run (``CONVERGENCE_COLUMNS``) and its validation-loss curve.
    """
    setups = SETUPS if setups is None else setups
    if not setups:
        raise ValueError("setups is empty; give at least one named set-up")
    depths, seeds = list(depths), list(seeds)
    if not depths or not seeds:
        raise ValueError("depths and seeds must each hold at least one value")
    target = loss_targets(data, share=share)["target"]
    runs, curves = [], []
    for name, options in setups.items():
        for d in depths:
            run = train(data, d, seeds=seeds, **{**training, **options})
            c = run.curves[["seed", "step", "valid_loss"]].copy()
            for seed, part in c.groupby("seed", sort=True):
                hit = part["step"][part["valid_loss"] <= target]
                r = run.results[run.results["seed"] == seed].iloc[0]
                runs.append({"setup": name, "depth": d, "seed": int(seed), "steps": int(part["step"].max()),
                             "target_loss": target, "steps_to_target": float(hit.iloc[0]) if len(hit) else np.nan,
                             "converged": bool(len(hit)), "valid_loss_best": float(r["valid_loss_best"]),
                             "test_auc": float(r["test_auc"])})
            c.insert(0, "depth", d)
            c.insert(0, "setup", name)
            curves.append(c)
    return pd.DataFrame(runs, columns=list(CONVERGENCE_COLUMNS)), pd.concat(curves, ignore_index=True)


def convergence_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (set-up, depth) of ``convergence_sweep`` runs: runs, failure rate, median steps to converge, test AUC.

    The median is over the runs that converged (NaN when none did); ``test_auc`` is the mean over all runs.
    """
    check_frame(runs, ("setup", "depth", "seed", "converged", "steps_to_target", "test_auc"), "runs",
                allow_empty=False)
    order = list(dict.fromkeys(runs["setup"]))  # the set-ups in the order they were run
    grouped = runs.groupby(["setup", "depth"], sort=False)
    table = pd.DataFrame({
        "runs": grouped.size(),
        "failure_rate": 1 - grouped["converged"].mean(),
        "median_steps": grouped["steps_to_target"].median(),
        "test_auc": grouped["test_auc"].mean(),
    })
    table = table.reset_index()
    table["setup"] = pd.Categorical(table["setup"], categories=order, ordered=True)
    return table.sort_values(["setup", "depth"], kind="stable").set_index(["setup", "depth"])


# --------------------------------------------------------------------------- when a structure pays: the regime map

#: what each structure is made for: the planted terms it targets
TARGETS = {"din": ("history_match",), "fm": ("segment_x_genre", "age_x_decade", "hour_x_genre")}


def term_worth(data: DepthData, terms: Sequence[str]) -> float:
    """Test AUC the true logit loses when ``terms`` (planted terms) are replaced by their means together."""
    truth = data.test.truth
    if truth is None:
        raise ValueError("term_worth needs the planted truth; use make_click_task")
    unknown = [t for t in terms if t not in PLANTED]
    if unknown or not terms:
        raise ValueError(f"terms must be some of {PLANTED}, got {list(terms)}")
    y, logit = data.test.labels, truth["logit"]
    without = logit - sum(truth[t] - truth[t].mean() for t in terms)
    return auc(y, logit) - auc(y, without)


def structure_regime(kind: str, settings: Sequence[dict], seeds: Iterable[int] = (0, 1, 2, 3), *,
                     depth: int = 1, task: dict | None = None, **training) -> pd.DataFrame:
    """A structure against the plain MLP of the same depth over a grid of planted tasks, seed by seed.

    Each entry of ``settings`` is a set of ``make_click_task`` options (e.g. ``{"sequence_scale": 2,
    "history_length": 30}``) laid over ``task`` (shared options such as ``n_train``); ``kind``
    ("din" or "fm") and "mlp" train on it with the same ``seeds`` (``training``: ``train``'s
    options). One row per (setting, seed): the setting's options, ``worth`` (what the structure's
    target terms are worth to the true logit, ``term_worth``), both AUCs and the paired ``gain``.
    """
    check_choice(kind, "kind", tuple(TARGETS))
    settings, seeds = list(settings), list(seeds)
    if not settings or not seeds:
        raise ValueError("settings and seeds must each hold at least one value")
    rows = []
    for setting in settings:
        if not isinstance(setting, dict):
            raise TypeError(f"each setting must be a dict of make_click_task options, got {type(setting).__name__}")
        data = make_click_task(**{**(task or {}), **setting})
        worth = term_worth(data, TARGETS[kind])
        structured = train(data, depth, kind=kind, seeds=seeds, **training).results.set_index("seed")["test_auc"]
        plain = train(data, depth, kind="mlp", seeds=seeds, **training).results.set_index("seed")["test_auc"]
        for seed in seeds:
            rows.append({**setting, "seed": seed, "worth": worth, "structure_auc": float(structured[seed]),
                         "mlp_auc": float(plain[seed]), "gain": float(structured[seed] - plain[seed])})
    return pd.DataFrame(rows)


def regime_summary(rows: pd.DataFrame, by: Sequence[str], *, z: float = 2.0) -> pd.DataFrame:
    """Per setting of ``structure_regime`` rows: mean paired gain, its SE over seeds, and the verdict.

    ``verdict``: "pays" when the gain exceeds ``z`` SEs, "costs" when it is below minus ``z`` SEs,
    else "level" (within noise).
    """
    check_frame(rows, (*by, "seed", "worth", "gain"), "rows", allow_empty=False)
    z = check_number(z, "z", low=0, include_low=False)
    grouped = rows.groupby(list(by), sort=True)
    table = pd.DataFrame({"worth": grouped["worth"].first(), "gain": grouped["gain"].mean(),
                          "se": grouped["gain"].std(ddof=1) / np.sqrt(grouped.size()), "seeds": grouped.size()})
    table["se"] = table["se"].fillna(0.0)
    table["verdict"] = np.where(table["gain"] > z * table["se"], "pays",
                                np.where(table["gain"] < -z * table["se"], "costs", "level"))
    return table
