"""Chapter 01: how deep should a recommender network be?

An embedding + MLP click-through model in the style of SparrowRecSys: a rating of
3.5 or more is a click (label 1); the inputs are a user id and a movie id embedding,
the movie's genres as a multi-hot vector and six rating statistics of the user and
the movie; train and test are split by time (by default each user's latest ratings
are the test set). The chapter sweeps the number of hidden layers, measures quality and
cost, and sets raw depth against a model whose structure matches the data (an explicit
user-movie dot product next to the MLP, NeuralCF-style).

    data = build_features(ratings, movies)
    sweep = run_sweep(data, depths=range(7), seeds=(0, 1, 2))   # one tidy row per model
    simplest_within_one_se(sweep)                               # the depth to choose

Models are Keras models (``build_model``); ``fit_model`` trains them with a short
explicit loop (seeded shuffling, Adam, early stopping on the validation loss) whose
step is traced once per architecture, so a sweep of dozens of models fits a small machine.

Leakage rule: every statistic of a sample uses only training-period ratings that are
strictly earlier than the sample (the SparrowRecSys way); so a training sample never
sees its own rating, and nothing from the test period reaches any feature.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .datasets import genre_matrix, require_frame
from .metrics import auc
from .seeding import import_tensorflow, seed_everything


import_tensorflow()  # the chapter's models are Keras models: load TensorFlow once, quietly

THRESHOLD = 3.5
STATS = ("user_count", "user_mean", "user_std", "movie_count", "movie_mean", "movie_std")
RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
MOVIE_COLUMNS = ("movieId", "genres")
RESULT_COLUMNS = (
    "model", "fraction", "train_rows", "depth", "width", "seed", "params", "mult_adds",
    "train_auc", "valid_auc", "test_auc", "gap", "epochs_run", "best_epoch", "seconds_per_epoch",
)


# --------------------------------------------------------------------------- features

@dataclass(frozen=True)
class Split:
    """One period of samples: the model's inputs by name, the 0/1 click labels and who rated what when."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    ids: pd.DataFrame | None = None  # userId, movieId, timestamp of each sample (not a model input)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "Split":
        """The samples at ``index`` (positions), as a new split."""
        ids = None if self.ids is None else self.ids.iloc[index].reset_index(drop=True)
        return Split({k: v[index] for k, v in self.inputs.items()}, self.labels[index], ids)


@dataclass(frozen=True)
class DepthData:
    """Samples for the depth experiments: train (fitting), valid (early stopping), test (reporting)."""

    train: Split
    valid: Split
    test: Split
    n_users: int  # users with an embedding row; id 0 stands for "not seen in the training period"
    n_movies: int
    genres: tuple[str, ...]
    stats: tuple[str, ...] = STATS
    split: str = "user"  # how test samples were chosen: each user's latest ("user") or one cut in time ("global")
    fraction: float = 1.0  # share of the training samples kept (see `with_train_fraction`)

    @property
    def n_inputs(self) -> int:
        """Width of the dense input besides the two embeddings: genres plus statistics."""
        return len(self.genres) + len(self.stats)

    def with_train_fraction(self, fraction: float, seed: int = 0) -> "DepthData":
        """The same data with a random ``fraction`` of the training samples; valid and test untouched."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
        n = len(self.train)
        keep = max(1, int(round(fraction * n)))
        index = np.sort(np.random.default_rng(seed).choice(n, size=keep, replace=False))
        return replace(self, train=self.train.take(index), fraction=float(fraction))


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


def sample_users(ratings: pd.DataFrame, n_users: int | None, seed: int = 0) -> pd.DataFrame:
    """The ratings of ``n_users`` users drawn at random (all ratings when ``n_users`` is None or too large)."""
    require_frame(ratings, ("userId",), "ratings", allow_empty=False)
    if n_users is None:
        return ratings
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise ValueError(f"n_users must be a positive int or None, got {n_users!r}")
    users = np.sort(ratings["userId"].unique())
    if n_users >= len(users):
        return ratings
    chosen = np.random.default_rng(seed).choice(users, size=n_users, replace=False)
    return ratings[ratings["userId"].isin(chosen)].reset_index(drop=True)


def build_features(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    split: str = "user",
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    threshold: float = THRESHOLD,
) -> DepthData:
    """Samples for the depth experiments, split by time into train / valid / test, with leak-free features.

    ``split="user"``: the latest ``test_fraction`` of every user's ratings are the test
    set (each user keeps at least one rating to learn from); ``split="global"``: one
    cut in time for everybody, as SparrowRecSys does. Of the remaining training
    period, the latest ``valid_fraction`` (the same way) is held out for early stopping.
    Ids get embeddings only if seen in the training period; statistics count only
    training-period ratings strictly earlier than the sample.
    """
    require_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
    require_frame(movies, MOVIE_COLUMNS, "movies", allow_empty=False)
    if split not in ("user", "global"):
        raise ValueError(f"split must be 'user' or 'global', got {split!r}")
    for name, value in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    if not pd.api.types.is_numeric_dtype(ratings["rating"]) or ratings["rating"].isna().any():
        raise ValueError("ratings['rating'] must be numeric with no missing values")

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

    # ids seen in the training period get embedding rows 1..n; any other id shares row 0
    users = np.sort(period["userId"].unique())
    items = np.sort(period["movieId"].unique())
    genres, vocabulary = movie_genres(movies, frame["movieId"].to_numpy())
    inputs = {
        "user": _index_of(users, frame["userId"].to_numpy()),
        "movie": _index_of(items, frame["movieId"].to_numpy()),
        "genres": genres,
        "stats": stats,
    }
    labels = (frame["rating"].to_numpy() >= threshold).astype(np.float32)

    ids = frame[["userId", "movieId", "timestamp"]]

    def part(mask: np.ndarray) -> Split:
        return Split({k: v[mask] for k, v in inputs.items()}, labels[mask], ids[mask].reset_index(drop=True))

    return DepthData(train=part(in_fit), valid=part(in_valid), test=part(~in_training),
                     n_users=len(users), n_movies=len(items), genres=vocabulary, split=split)


def _index_of(known: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Embedding rows: position in sorted ``known`` plus one, 0 for ids not in it."""
    pos = np.searchsorted(known, ids)
    hit = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == ids)
    return np.where(hit, pos + 1, 0).astype(np.int32)


# --------------------------------------------------------------------------- models

def _check_shape(depth: int, width: int, embedding_dim: int) -> None:
    for name, value, low in (("depth", depth, 0), ("width", width, 1), ("embedding_dim", embedding_dim, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def _dims(data: DepthData, embedding_dim: int) -> tuple[int, int]:
    """(number of embedding rows, width of the concatenated input)."""
    return (data.n_users + 1) + (data.n_movies + 1), 2 * embedding_dim + data.n_inputs


def layer_sizes(data: DepthData, depth: int, *, width: int = 32, embedding_dim: int = 8) -> list[int]:
    """Sizes of the dense stack, input to output: [inputs, width x depth, 1]."""
    _check_shape(depth, width, embedding_dim)
    return [_dims(data, embedding_dim)[1], *([width] * depth), 1]


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights plus biases of fully connected layers of the given sizes: sum of (n_in + 1) * n_out."""
    if len(sizes) < 2 or any(isinstance(s, bool) or int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive layer widths, got {list(sizes)}")
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


def parameter_count(data: DepthData, depth: int, *, width: int = 32, embedding_dim: int = 8,
                    interaction: bool = False) -> int:
    """Closed form of the model's trainable parameters: embedding tables plus the dense stack.

    The dot-product branch reuses the same embeddings, so it adds no parameters.
    """
    rows, _ = _dims(data, embedding_dim)
    return rows * embedding_dim + mlp_parameters(layer_sizes(data, depth, width=width, embedding_dim=embedding_dim))


def multiply_adds(data: DepthData, depth: int, *, width: int = 32, embedding_dim: int = 8,
                  interaction: bool = False) -> int:
    """Multiply-adds for one example's forward pass (embedding look-ups are free): the deterministic cost."""
    sizes = layer_sizes(data, depth, width=width, embedding_dim=embedding_dim)
    dense = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return int(dense + (embedding_dim if interaction else 0))


def build_model(data: DepthData, depth: int, *, width: int = 32, embedding_dim: int = 8,
                interaction: bool = False, learning_rate: float = 3e-3):
    """A compiled Keras click model: embeddings + genres + statistics -> ``depth`` ReLU layers -> sigmoid.

    With ``interaction=True`` the dot product of the user and movie embeddings is added
    to the output logit (NeuralCF's idea: model the user-item match explicitly).
    """
    _check_shape(depth, width, embedding_dim)
    import keras

    user = keras.Input(shape=(), dtype="int32", name="user")
    movie = keras.Input(shape=(), dtype="int32", name="movie")
    genres = keras.Input(shape=(len(data.genres),), name="genres")
    stats = keras.Input(shape=(len(data.stats),), name="stats")
    u = keras.layers.Embedding(data.n_users + 1, embedding_dim, name="user_embedding")(user)
    m = keras.layers.Embedding(data.n_movies + 1, embedding_dim, name="movie_embedding")(movie)
    h = keras.layers.Concatenate(name="features")([u, m, genres, stats])
    for i in range(depth):
        h = keras.layers.Dense(width, activation="relu", name=f"hidden_{i + 1}")(h)
    logit = keras.layers.Dense(1, name="logit")(h)
    if interaction:
        match = keras.layers.Dot(axes=1, name="user_movie_dot")([u, m])
        logit = keras.layers.Add(name="logit_plus_dot")([logit, match])
    out = keras.layers.Activation("sigmoid", name="click")(logit)
    name = f"{'dot_' if interaction else ''}mlp_depth_{depth}"
    model = keras.Model({"user": user, "movie": movie, "genres": genres, "stats": stats}, out, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    return model


def predict(model, split: Split, batch_size: int = 65536) -> np.ndarray:
    """Click probabilities for a split (through a traced forward pass: an eager Keras call costs ~20 ms)."""
    forward = _traced(model)["predict"]
    parts = []
    for start in range(0, len(split), batch_size):
        chunk = {k: v[start:start + batch_size] for k, v in split.inputs.items()}
        parts.append(forward(chunk).numpy().reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def logit_terms(model, split: Split) -> dict[str, np.ndarray]:
    """The two terms of a dot-product model's logit per sample: ``{"mlp": ..., "dot": ...}``."""
    import keras

    names = [layer.name for layer in model.layers]
    if "user_movie_dot" not in names:
        raise ValueError("the model has no dot-product term; build it with interaction=True")
    terms = keras.Model(model.inputs, [model.get_layer("logit").output, model.get_layer("user_movie_dot").output])
    mlp, dot = terms.predict(split.inputs, batch_size=65536, verbose=0)
    return {"mlp": np.asarray(mlp).reshape(-1), "dot": np.asarray(dot).reshape(-1)}


# --------------------------------------------------------------------------- training

def train_model(data: DepthData, depth: int, **options) -> dict:
    """Train one model (see ``fit_model`` for the options) and return its tidy row of results."""
    return fit_model(data, depth, **options)[0]


def fit_model(
    data: DepthData,
    depth: int,
    *,
    width: int = 32,
    embedding_dim: int = 8,
    interaction: bool = False,
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 4096,
    patience: int = 2,
    learning_rate: float = 3e-3,
    reuse=None,
) -> tuple[dict, object]:
    """Train one model with early stopping on the validation loss; return (tidy row of results, model).

    Each epoch visits the training samples once in a fresh seeded order, in
    ``ceil(n / batch_size)`` equal batches; after ``patience`` epochs without a strictly
    lower validation loss training stops and the best epoch's weights are restored
    (Keras' ``EarlyStopping(patience=..., restore_best_weights=True)`` rule).
    ``best_epoch`` is that epoch (1-based); ``seconds_per_epoch`` is the median training
    time of an epoch after the first. ``reuse``: a model returned by an earlier call with
    the same data and settings; it is reset to the fresh seeded weights and optimiser,
    so the result is identical, and only its traced training step is reused.
    """
    _check_shape(depth, width, embedding_dim)
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("patience", patience, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    for name, split in (("train", data.train), ("valid", data.valid), ("test", data.test)):
        if len(split) == 0:
            raise ValueError(f"the {name} split is empty; expected samples in every period")

    seed_everything(seed)
    model = build_model(data, depth, width=width, embedding_dim=embedding_dim,
                        interaction=interaction, learning_rate=learning_rate)
    if reuse is not None:
        model = _reset(reuse, fresh=model)
    step = _traced(model)["step"]
    order_rng = np.random.default_rng(seed)
    x, y = data.train.inputs, data.train.labels
    n_batches = int(np.ceil(len(y) / batch_size))
    seconds, losses = [], []
    best_epoch, best_weights = 0, None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        for batch in np.array_split(order_rng.permutation(len(y)), n_batches):
            step({k: v[batch] for k, v in x.items()}, y[batch])
        seconds.append(time.perf_counter() - start)
        losses.append(validation_loss(model, data.valid))
        if best_weights is None or losses[-1] < losses[best_epoch - 1]:
            best_epoch, best_weights = epoch, model.get_weights()
        elif epoch - best_epoch >= patience:
            break
    model.set_weights(best_weights)

    row = {
        "model": "mlp+dot" if interaction else "mlp",
        "fraction": data.fraction,
        "train_rows": len(data.train),
        "depth": depth,
        "width": width,
        "seed": seed,
        "params": parameter_count(data, depth, width=width, embedding_dim=embedding_dim, interaction=interaction),
        "mult_adds": multiply_adds(data, depth, width=width, embedding_dim=embedding_dim, interaction=interaction),
        "train_auc": _safe_auc(data.train.labels, predict(model, data.train)),
        "valid_auc": _safe_auc(data.valid.labels, predict(model, data.valid)),
        "test_auc": _safe_auc(data.test.labels, predict(model, data.test)),
        "epochs_run": len(losses),
        "best_epoch": best_epoch,
        "seconds_per_epoch": float(np.median(seconds[1:] or seconds)),
    }
    row["gap"] = row["train_auc"] - row["test_auc"]
    if model.count_params() != row["params"]:  # the closed form is what the chapter teaches: keep it honest
        raise AssertionError(f"parameter formula {row['params']} disagrees with Keras {model.count_params()}")
    return row, model


_TRACED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _traced(model) -> dict:
    """The model's training step and forward pass as TensorFlow graphs, traced once for any batch size.

    A hand-written step instead of ``model.fit``: on a 2-core machine fit spends
    seconds per model building its data pipeline and tracing twice (full and last
    batch), which a sweep of dozens of models cannot afford. The step is the textbook
    one: forward pass, binary cross-entropy, gradients, Adam update.
    """
    if model in _TRACED:
        return _TRACED[model]
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.BinaryCrossentropy()
    model.optimizer.build(model.trainable_variables)
    spec = {t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in model.inputs}

    @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.float32)])
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[:, None], model(x, training=True))
            if model.losses:  # regularisation terms, should a learner add some to build_model
                loss = loss + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function(input_signature=[spec])
    def forward(x):
        return model(x, training=False)

    _TRACED[model] = {"step": step, "predict": forward}
    return _TRACED[model]


def _reset(model, *, fresh):
    """Give ``model`` the weights of the untrained ``fresh`` twin and a zeroed optimiser state."""
    if [tuple(w.shape) for w in model.weights] != [tuple(w.shape) for w in fresh.weights]:
        raise ValueError("reuse must be a model built with the same data, depth, width and embedding size")
    model.set_weights(fresh.get_weights())
    for variable in model.optimizer.variables:
        # Adam's step count and moment estimates restart at zero; the learning rate stays
        if not variable.path.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    return model


def validation_loss(model, split: Split) -> float:
    """Mean binary cross-entropy of the model on a split (probabilities clipped at 1e-7, as Keras)."""
    p = np.clip(predict(model, split).astype(np.float64), 1e-7, 1 - 1e-7)
    y = split.labels
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def _safe_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC, or NaN when a split holds one class only (tiny hand-made data)."""
    if len(labels) == 0 or labels.min() == labels.max():
        return float("nan")
    return auc(labels, scores)


def run_sweep(
    data: DepthData,
    depths: Iterable[int],
    seeds: Iterable[int] = (0, 1, 2),
    *,
    fractions: Iterable[float] = (1.0,),
    interaction: bool = False,
    models: dict | None = None,
    **train_options,
) -> pd.DataFrame:
    """Train every (training fraction, depth, seed) and return one tidy row per model, sorted.

    ``train_options`` go to ``fit_model``. ``models``: pass the same dict to several sweeps
    to reuse one traced model per architecture across all of them (results do not change);
    afterwards each entry holds the last model trained with its settings.
    """
    depths, seeds, fractions = list(depths), list(seeds), list(fractions)
    for name, values in (("depths", depths), ("seeds", seeds), ("fractions", fractions)):
        if not values:
            raise ValueError(f"{name} is empty; give at least one value")
    for d in depths:
        _check_shape(d, train_options.get("width", 32), train_options.get("embedding_dim", 8))
    models = {} if models is None else models
    # the subsample depends on the fraction only, so every depth and seed sees the same rows
    parts = {f: data if f == data.fraction else data.with_train_fraction(f, seed=0) for f in fractions}
    rows = []
    for depth in depths:
        key = (data.n_users, data.n_movies, data.n_inputs, depth, interaction,
               *sorted((k, v) for k, v in train_options.items() if k in ("width", "embedding_dim", "learning_rate")))
        for fraction in fractions:
            for seed in seeds:
                row, models[key] = fit_model(parts[fraction], depth, seed=seed, interaction=interaction,
                                             reuse=models.get(key), **train_options)
                rows.append(row)
    table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    return table.sort_values(["model", "fraction", "depth", "seed"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- what the data allows

def fit_user_tastes(item_vectors: np.ndarray, users: np.ndarray, items: np.ndarray, residuals: np.ndarray,
                    n_users: int, *, alpha: float) -> np.ndarray:
    """Each user's taste vector by ridge regression of their rating residuals on known item vectors.

    Solves ``(V_u' V_u + alpha I) z_u = V_u' r_u`` per user, where ``V_u`` holds the vectors
    of the items the user rated (rows ``items``) and ``r_u`` the residuals; users without
    ratings get zeros. Returns an ``(n_users, k)`` array. With the planted item vectors
    this tells how well a taste can be learned from a user's ratings alone.
    """
    v = np.asarray(item_vectors, dtype=float)
    users, items = np.asarray(users), np.asarray(items)
    r = np.asarray(residuals, dtype=float)
    if v.ndim != 2 or not (len(users) == len(items) == len(r)):
        raise ValueError("item_vectors must be 2-D and users, items, residuals of one length")
    if len(users) and (users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= len(v)):
        raise ValueError("users must be in [0, n_users) and items in [0, len(item_vectors))")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}")
    k = v.shape[1]
    rows = v[items]
    outer = (rows[:, :, None] * rows[:, None, :]).reshape(len(rows), k * k)
    gram = np.stack([np.bincount(users, outer[:, j], minlength=n_users) for j in range(k * k)], axis=1)
    rhs = np.stack([np.bincount(users, rows[:, j] * r, minlength=n_users) for j in range(k)], axis=1)
    return np.linalg.solve(gram.reshape(n_users, k, k) + alpha * np.eye(k), rhs[:, :, None])[:, :, 0]


# --------------------------------------------------------------------------- reading a sweep

def summarize(sweep: pd.DataFrame, by: Sequence[str] = ("depth",),
              metrics: Sequence[str] = ("test_auc", "train_auc", "gap", "best_epoch", "seconds_per_epoch")) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric, one row per group (sorted)."""
    require_frame(sweep, [*by, *metrics], "sweep", allow_empty=False)
    grouped = sweep.groupby(list(by), sort=True)[list(metrics)]
    table = grouped.agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table.insert(0, "runs", grouped.size())
    return table


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
    """The one-standard-error rule: the least complex level whose mean score is within one SE of the best mean.

    ``table`` holds one row per run (e.g. per seed); higher ``score`` is better and a
    smaller ``complexity`` value is simpler. The SE is that of the best level's mean.
    """
    stats = one_se_table(table, complexity=complexity, score=score)
    return stats.index[stats["within_one_se"].to_numpy()].min()
