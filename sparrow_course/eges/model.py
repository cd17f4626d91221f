"""EGES itself: side information, the model (one embedding per source, softmax weights) and its training."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..checks import (check_bool, check_choice, check_choices, check_dataset, check_fraction, check_frame, check_int,
                      check_known_ids, check_memory, check_number, check_seed)
from ..datasets import MovieLens, genre_matrix, release_year
from ..embeddings import ItemVectors
from ..seeding import DEFAULT_SEED
from .link_prediction import LinkSplit, link_prediction_auc

__all__ = ["FIELDS", "METHODS", "OPTIMIZERS", "SideInformation", "side_information", "degrade_side_information", "skipgram_pairs", "cluster_items", "EGESModel", "train_eges", "epochs_to_converge"]


#: Side-information fields :func:`side_information` can build.
FIELDS = ("genres", "year", "tag")


#: Training methods: end-to-end EGES, GES (equal weights), remedy 1 (pretrained inputs), remedy 2 (cluster ids).
METHODS = ("eges", "ges", "pretrained", "clustered")


#: Optimisers of the id-sized tables (id, context, attention): Keras Adam, which decays its moments and
#: moves every row at every step; Adam applied to the rows a batch touches only (LazyAdam); row-wise Adagrad.
OPTIMIZERS = ("adam", "lazy_adam", "adagrad")


_NONE = "(none)"


# ---------------------------------------------------------------------------
# Side information
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SideInformation:
    """Each movie's side-information values, field by field, as padded index arrays.

    ``index[f]`` is an int array (n_movies, m_f) of positions in ``vocabulary[f]``; a
    multi-valued field (genres) has several per movie, each weighted ``weight[f]`` (1/count,
    0 on padding), so its embedding is the mean of its values' embeddings.
    """

    ids: np.ndarray                     # int64 movie ids, sorted
    names: tuple[str, ...]              # field names, e.g. ("genres", "year", "tag")
    index: tuple[np.ndarray, ...]       # per field: (n, m_f) int32 positions in the vocabulary
    weight: tuple[np.ndarray, ...]      # per field: (n, m_f) float32 weights, rows sum to 1
    vocabulary: tuple[np.ndarray, ...]  # per field: the values (str)
    skipped: dict = field(default_factory=dict)   # field name -> why it was left out (the data lacks it)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, movie_ids: Any) -> np.ndarray:
        """Positions of ``movie_ids``; UnknownIdError (a ValueError) naming movies that have no side information."""
        return check_known_ids(movie_ids, self.ids, "movie_ids", what="movie id(s) with no side information",
                               hint="build the side information from the movies table that the walks come from")

    def values(self, movie_id: int) -> dict[str, list[str]]:
        """The side-information values of one movie, by field."""
        row = int(self.rows(movie_id)[0])
        return {name: [str(voc[i]) for i, w in zip(idx[row], wt[row]) if w > 0]
                for name, idx, wt, voc in zip(self.names, self.index, self.weight, self.vocabulary)}

    def one_hot(self) -> np.ndarray:
        """All fields as one (n_movies, sum of vocabulary sizes) matrix of weights: features for k-means."""
        blocks = []
        for idx, wt, voc in zip(self.index, self.weight, self.vocabulary):
            block = np.zeros((len(self.ids), len(voc)))
            np.add.at(block, (np.repeat(np.arange(len(self.ids)), idx.shape[1]), idx.ravel()), wt.ravel())
            blocks.append(block)
        return np.hstack(blocks)

    def combination_types(self) -> np.ndarray:
        """Airbnb-style types: one integer per distinct combination of all field values."""
        keys = np.hstack([np.where(w > 0, i, -1) for i, w in zip(self.index, self.weight)])
        _, types = np.unique(keys, axis=0, return_inverse=True)
        return types.ravel().astype(np.int64)


def _single_field(values: pd.Series, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = values.reindex(ids).astype(object).where(lambda s: s.notna(), _NONE).astype(str)
    vocabulary, index = np.unique(values.to_numpy(), return_inverse=True)
    return index.reshape(-1, 1).astype(np.int32), np.ones((len(ids), 1), np.float32), vocabulary


def _top_tags(ml: MovieLens) -> pd.Series:
    """Each movie's top tag: the catalogue tag of highest relevance, else its most applied user tag."""
    catalogue = getattr(ml, "movie_tags", None)
    if catalogue is not None and len(catalogue):
        frame = check_frame(catalogue, ["movieId", "tag"], "movie_tags")
        if "relevance" not in frame.columns:
            frame = frame.assign(relevance=1.0)
        frame = frame.sort_values(["movieId", "relevance", "tag"], ascending=[True, False, True], kind="stable")
        return frame.drop_duplicates("movieId").set_index("movieId")["tag"]
    if ml.tags is None or not len(ml.tags):
        return pd.Series(dtype=object)
    counts = ml.tags.groupby(["movieId", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates("movieId").set_index("movieId")["tag"]


def side_information(ml: MovieLens, fields: Sequence[str] = FIELDS, *, year_bucket: int = 5) -> SideInformation:
    """Side information of every movie: ``genres`` (multi-valued), ``year`` (a ``year_bucket``-year bucket), ``tag``.

    ``tag`` is the movie's catalogue tag of highest relevance (``ml.movie_tags``) when the
    dataset has a catalogue tag file, otherwise its most often applied user tag; a movie
    without one gets the value "(none)", as does a movie whose title carries no year. On data
    with no tags at all the ``tag`` field is left out (a constant says nothing about a movie):
    ``side.skipped`` says why, and ``side.names`` lists the fields kept.
    """
    check_dataset(ml)
    fields = check_choices(fields, "fields", FIELDS)
    year_bucket = check_int(year_bucket, "year_bucket", low=1, high=100)
    movies = check_frame(ml.movies, ["movieId", "title", "genres"], "movies", allow_empty=False)
    ids = np.sort(movies["movieId"].to_numpy(np.int64))
    index, weight, vocabulary, skipped = [], [], [], {}
    for f in fields:
        if f == "genres":
            genres = genre_matrix(movies).reindex(ids).fillna(0)
            matrix = genres.to_numpy(np.float32)
            voc = list(genres.columns)
            none = matrix.sum(axis=1) == 0
            if none.any():          # "(no genres listed)": a value of its own
                matrix = np.hstack([matrix, none[:, None].astype(np.float32)])
                voc.append(_NONE)
            m = int(matrix.sum(axis=1).max())
            order = np.argsort(-matrix, axis=1, kind="stable")[:, :m].astype(np.int32)
            present = np.take_along_axis(matrix, order, axis=1) > 0
            wt = present / present.sum(axis=1, keepdims=True)
            index.append(np.where(present, order, 0).astype(np.int32))
            weight.append(wt.astype(np.float32))
            vocabulary.append(np.asarray(voc, dtype=object))
        elif f == "year":
            year = release_year(movies)
            bucket = (year // year_bucket) * year_bucket
            labels = bucket.map(lambda b: f"{int(b)}-{int(b) + year_bucket - 1}" if pd.notna(b) else _NONE)
            i, w, v = _single_field(labels, ids)
            index.append(i), weight.append(w), vocabulary.append(v)
        else:
            tags = _top_tags(ml)
            if not tags.index.isin(ids).any():     # a catalogue without tags: a constant "(none)" says nothing
                skipped[f] = (f"dataset '{getattr(ml, 'name', 'ml')}' has no tags for its movies, so every movie "
                              f"would get the tag {_NONE!r}; the field is left out")
                continue
            i, w, v = _single_field(tags, ids)
            index.append(i), weight.append(w), vocabulary.append(v)
    kept = tuple(f for f in fields if f not in skipped)
    if not kept:
        raise ValueError(f"no side-information field is left: {'; '.join(skipped.values())}")
    return SideInformation(ids, kept, tuple(index), tuple(weight), tuple(vocabulary), skipped)


def degrade_side_information(side: SideInformation, share: float, *, fields: Sequence[str] | None = None,
                             seed: int = DEFAULT_SEED) -> tuple[SideInformation, np.ndarray]:
    """Side information of uneven quality: a random ``share`` of movies get wrong values in ``fields``.

    Each chosen movie's values of every field in ``fields`` (default: all) are replaced by one
    value drawn uniformly from that field's vocabulary, so its side information says nothing
    about it while the other movies keep theirs. Returns the new side information and the
    movie ids that were degraded (sorted).
    """
    if not isinstance(side, SideInformation):
        raise TypeError(f"side must be a SideInformation (from side_information), got {type(side).__name__}")
    share = check_fraction(share, "share")
    fields = side.names if fields is None else check_choices(fields, "fields", side.names)
    rng = np.random.default_rng(check_seed(seed))
    chosen = np.sort(rng.choice(len(side), size=int(round(share * len(side))), replace=False))
    index, weight = list(side.index), list(side.weight)
    for f, name in enumerate(side.names):
        if name not in fields or not len(chosen):
            continue
        idx, wt = index[f].copy(), weight[f].copy()
        idx[chosen] = 0
        wt[chosen] = 0
        idx[chosen, 0] = rng.integers(0, len(side.vocabulary[f]), size=len(chosen))
        wt[chosen, 0] = 1
        index[f], weight[f] = idx, wt
    out = SideInformation(side.ids, side.names, tuple(index), tuple(weight), side.vocabulary, dict(side.skipped))
    return out, side.ids[chosen].copy()


# ---------------------------------------------------------------------------
# Training pairs and clusters
# ---------------------------------------------------------------------------


def skipgram_pairs(walks: np.ndarray, window: int = 2) -> np.ndarray:
    """(centre, context) movie-id pairs of every two walk positions at most ``window`` apart, both directions."""
    walks = np.asarray(walks)
    if walks.ndim != 2 or not np.issubdtype(walks.dtype, np.integer):
        raise ValueError(f"walks must be a 2-D integer array (walks x steps, -1 padded), got shape {walks.shape}")
    window = check_int(window, "window", low=1)
    out = []
    for offset in range(1, min(window, walks.shape[1] - 1) + 1):
        a, b = walks[:, :-offset].ravel(), walks[:, offset:].ravel()
        ok = (a >= 0) & (b >= 0)
        out += [np.stack([a[ok], b[ok]], axis=1), np.stack([b[ok], a[ok]], axis=1)]
    pairs = np.concatenate(out) if out else np.empty((0, 2), np.int64)
    if len(pairs) == 0:
        raise ValueError("the walks hold no two consecutive items; nothing to train on")
    return pairs.astype(np.int64)


def cluster_items(side: SideInformation, n_clusters: int, *, pretrained: ItemVectors | None = None,
                  by: str = "kmeans", seed: int = DEFAULT_SEED) -> np.ndarray:
    """A cluster id per movie (in ``side.ids`` order): k-means on side information and pretrained vectors.

    ``by="kmeans"`` clusters the side-information weights, beside the pretrained vectors
    (centred, unit length; zero for a movie without one) when given. ``by="types"`` ignores
    ``n_clusters`` and returns Airbnb-style types, one per combination of field values.
    """
    from sklearn.cluster import KMeans

    if not isinstance(side, SideInformation):
        raise TypeError(f"side must be a SideInformation (from side_information), got {type(side).__name__}")
    check_choice(by, "by", ("kmeans", "types"))
    if by == "types":
        return side.combination_types()
    n_clusters = check_int(n_clusters, "n_clusters", low=1, high=len(side))
    seed = check_seed(seed)
    features = side.one_hot()
    if pretrained is not None:
        if not isinstance(pretrained, ItemVectors):
            raise TypeError(f"pretrained must be ItemVectors, got {type(pretrained).__name__}")
        vectors = np.zeros((len(side), pretrained.dim))
        known = np.isin(side.ids, pretrained.ids)
        unit = pretrained.centred().normalized()
        vectors[known] = unit[pretrained.rows(side.ids[known])]
        features = np.hstack([features / np.sqrt(len(side.names)), vectors])
    km = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit(features)
    return km.labels_.astype(np.int64)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class EGESModel:
    """A trained EGES-family model: its weights as numpy arrays, and item vectors from them."""

    method: str
    side: SideInformation
    field_tables: list[np.ndarray]          # per side-information field: (vocabulary, dim)
    id_table: np.ndarray | None             # eges/ges: (n_ids, dim); clustered: (n_clusters, dim)
    attention_logits: np.ndarray | None     # (n_ids or n_clusters, 1 + fields); None for "pretrained"
    id_of_row: np.ndarray | None            # per side row: its id-table rows (n, copies), or cluster (n, 1)
    pretrained: np.ndarray | None = None    # remedy 1: fixed inputs (n, d_pre), zero where unknown
    projection: np.ndarray | None = None    # remedy 1: (d_pre, dim)
    attention_map: np.ndarray | None = None  # remedy 1: (d_pre + 1, 1 + fields)
    trained_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    history: pd.DataFrame = field(default_factory=pd.DataFrame)   # epoch, loss, batches, seconds (median step x steps)[, validation_auc]
    n_parameters: int = 0
    converged_epoch: int = 0                # the epoch these weights are from (see epochs_to_converge)

    @property
    def total_seconds(self) -> float:
        """Training time up to the converged epoch: the sum of the per-epoch ``seconds`` of ``history``."""
        h = self.history
        return float(h.loc[h["epoch"] <= self.converged_epoch, "seconds"].sum())

    @property
    def dim(self) -> int:
        return int(self.field_tables[0].shape[1])

    @property
    def n_ids(self) -> int:
        """Rows of the trainable id table (0 for remedy 1, which has none)."""
        return 0 if self.id_table is None else int(self.id_table.shape[0])

    def _field_parts(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), fields, dim): each movie's side-information embeddings."""
        return np.stack([(self.side.weight[f][rows][:, :, None] * self.field_tables[f][self.side.index[f][rows]])
                         .sum(axis=1) for f in range(len(self.field_tables))], axis=1)

    def attention(self, movie_ids: Any) -> pd.DataFrame:
        """The softmax weights over [id, fields...] of each movie (rows sum to one)."""
        rows = self.side.rows(movie_ids)
        logits = self._logits(rows)
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        first = "pretrained vector" if self.method == "pretrained" else ("cluster id" if self.method == "clustered"
                                                                          else "item id")
        frame = pd.DataFrame(w, columns=[first, *self.side.names])
        frame.insert(0, "movieId", self.side.ids[rows])
        return frame

    def _logits(self, rows: np.ndarray) -> np.ndarray:
        if self.method == "pretrained":
            inputs = np.hstack([self.pretrained[rows], np.ones((len(rows), 1))])
            return inputs @ self.attention_map
        return self.attention_logits[self.id_of_row[rows]].mean(axis=1)

    def _id_part(self, rows: np.ndarray) -> np.ndarray:
        if self.method == "pretrained":
            return self.pretrained[rows] @ self.projection
        return self.id_table[self.id_of_row[rows]].mean(axis=1)   # split ids: the mean of an item's copies

    def vectors(self, movie_ids: Any, *, cold: bool = False) -> np.ndarray:
        """H_v of each movie; ``cold=True`` gives the cold-item vector, the mean of its side-information embeddings."""
        rows = self.side.rows(movie_ids)
        fields = self._field_parts(rows)
        if cold:
            return fields.mean(axis=1)
        parts = np.concatenate([self._id_part(rows)[:, None, :], fields], axis=1)
        logits = self._logits(rows)
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        return (w[:, :, None] * parts).sum(axis=1)

    def item_vectors(self) -> ItemVectors:
        """Vectors of every movie: H_v for movies seen in training, the side-information mean for the rest."""
        seen = np.isin(self.side.ids, self.trained_ids)
        out = np.empty((len(self.side), self.dim))
        if seen.any():
            out[seen] = self.vectors(self.side.ids[seen])
        if (~seen).any():
            out[~seen] = self.vectors(self.side.ids[~seen], cold=True)
        return ItemVectors(self.side.ids.copy(), out)


def _glorot(rng: np.random.Generator, rows: int, cols: int, scale: float | None = None) -> np.ndarray:
    scale = (1.0 / np.sqrt(cols)) if scale is None else scale
    return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)


def train_eges(walks: np.ndarray, side: SideInformation, *, method: str = "eges", dim: int = 16, window: int = 2,
               negatives: int = 5, epochs: int = 3, batch_size: int = 2048, learning_rate: float = 0.01,
               pretrained: ItemVectors | None = None, clusters: np.ndarray | None = None, id_copies: int = 1,
               max_batches: int | None = None, validation: "LinkSplit | None" = None, tolerance: float = 0.002,
               patience: int | None = None, optimizer: str = "adam",
               sparse_learning_rate: float | None = None, seed: int = DEFAULT_SEED) -> EGESModel:
    """Train EGES, GES or a remedy by skip-gram with negative sampling on pairs from ``walks``.

    method:
      * ``"eges"``: per-item id table, side-information tables, per-item attention logits,
        per-item context (output) table: everything end to end.
      * ``"ges"``: the same with the attention frozen at equal weights.
      * ``"pretrained"`` (remedy 1): ``pretrained`` vectors (e.g. DeepWalk) are fixed inputs; a
        dense map turns them into the id part, another into the context vector, a third into
        the attention logits. No trainable table grows with the number of items.
      * ``"clustered"`` (remedy 2): ``clusters`` (one id per movie, in ``side.ids`` order) replace
        the item ids in the id, attention and context tables; each item keeps its own side information.
    ``id_copies`` > 1 splits every item into that many ids (each occurrence in a pair picks one
    at random): the same data over a bigger id space, to measure how the cost grows with it.
    ``max_batches`` stops an epoch early (for timing a slice of an epoch).

    ``optimizer`` (one of :data:`OPTIMIZERS`) updates the id-sized tables: ``"adam"`` is Keras's
    Adam, whose moment estimates decay, and whose update moves, every row at every step;
    ``"lazy_adam"`` applies Adam to the rows the batch touched only (a row's moments and its
    update wait until it is touched again, as TensorFlow Addons' LazyAdam does); ``"adagrad"``
    is row-wise Adagrad on the touched rows (initial accumulator 0.1). Both use
    ``sparse_learning_rate`` (default: ``learning_rate`` for LazyAdam, 0.1 for Adagrad, whose
    steps shrink as its accumulators grow and so start larger). The small side-information
    tables and remedy 1's dense maps always use Adam.

    With ``validation`` (a :class:`LinkSplit` carved from the training graph, never the test
    split) ``epochs`` is the most epochs trained: after each one the overall link-prediction
    AUC on ``validation`` joins ``history`` (column ``validation_auc``), and the model returned
    holds the weights of the converged epoch, the first within ``tolerance`` of the best
    (:func:`epochs_to_converge`). With ``patience`` as well, training stops early once that many
    epochs have passed since the converged epoch (the rule applied to the epochs so far). Without
    ``validation`` the model is the last epoch's.
    """
    check_choice(method, "method", METHODS)
    if not isinstance(side, SideInformation):
        raise TypeError(f"side must be a SideInformation (from side_information), got {type(side).__name__}")
    dim = check_int(dim, "dim", low=1, high=1024)
    negatives = check_int(negatives, "negatives", low=1, high=100)
    epochs = check_int(epochs, "epochs", low=1, high=1000)
    batch_size = check_int(batch_size, "batch_size", low=1, high=1_000_000)
    learning_rate = check_number(learning_rate, "learning_rate", low=0.0, include_low=False, high=10.0)
    id_copies = check_int(id_copies, "id_copies", low=1, high=100_000)
    if max_batches is not None:
        max_batches = check_int(max_batches, "max_batches", low=1)
    if validation is not None and not isinstance(validation, LinkSplit):
        raise TypeError(f"validation must be a LinkSplit (from link_prediction_split), got {type(validation).__name__}")
    tolerance = check_number(tolerance, "tolerance", low=0.0, high=1.0)
    if patience is not None:
        patience = check_int(patience, "patience", low=1)
        if validation is None:
            raise ValueError("patience needs validation: early stopping watches the validation AUC")
    optimizer = check_choice(optimizer, "optimizer", OPTIMIZERS)
    if sparse_learning_rate is None:
        sparse_learning_rate = 0.1 if optimizer == "adagrad" else learning_rate
    sparse_learning_rate = check_number(sparse_learning_rate, "sparse_learning_rate", low=0.0, include_low=False,
                                        high=10.0)
    seed = check_seed(seed)
    pairs_ids = skipgram_pairs(walks, window)
    pairs = side.rows(pairs_ids.ravel()).reshape(-1, 2)
    n = len(side)
    rng = np.random.default_rng(seed)
    n_fields = len(side.names)

    # the id space: which table row each (item, copy) uses
    if method == "clustered":
        if clusters is None:
            raise ValueError("method='clustered' needs clusters: one cluster id per movie (see cluster_items)")
        clusters = np.asarray(clusters)
        if clusters.shape != (n,) or not np.issubdtype(clusters.dtype, np.integer) or clusters.min() < 0:
            raise ValueError(f"clusters must hold one non-negative integer per movie of side ({n}), "
                             f"got shape {clusters.shape}")
        _, clusters = np.unique(clusters, return_inverse=True)
        id_of_row = clusters.reshape(-1, 1).astype(np.int64)
        n_ids = int(clusters.max()) + 1
        copies = 1
    elif method == "pretrained":
        if pretrained is None or not isinstance(pretrained, ItemVectors):
            raise ValueError("method='pretrained' needs pretrained ItemVectors (e.g. from embeddings.deepwalk)")
        id_of_row, n_ids, copies = None, 0, 1
    else:
        copies = id_copies
        id_of_row = np.arange(n * copies, dtype=np.int64).reshape(n, copies)
        n_ids = n * copies
    check_memory(4.0 * 3 * 2 * max(n_ids, 1) * (dim + n_fields + 1), f"train_eges with {n_ids} ids")
    tf = _tensorflow()                      # imported once the arguments are known to be good

    # negatives in proportion to count^0.75 over the training items (word2vec's unigram table)
    counts = np.bincount(pairs[:, 1], minlength=n).astype(float)
    noise = counts ** 0.75
    noise_cum = np.cumsum(noise / noise.sum())

    variables: dict[str, Any] = {}
    fields_v = [tf.Variable(_glorot(rng, len(v), dim, 0.1), name=f"field_{k}") for k, v in enumerate(side.vocabulary)]
    f_index = [tf.constant(i) for i in side.index]
    f_weight = [tf.constant(w) for w in side.weight]
    if method == "pretrained":
        pre = np.zeros((n, pretrained.dim), np.float32)
        known = np.isin(side.ids, pretrained.ids)
        pre[known] = pretrained.centred().vectors[pretrained.rows(side.ids[known])]
        pre /= max(float(np.linalg.norm(pre, axis=1).mean()), 1e-12)   # rows of unit length on average
        pre_c = tf.constant(pre)
        variables["projection"] = tf.Variable(_glorot(rng, pretrained.dim, dim), name="projection")
        variables["context_map"] = tf.Variable(_glorot(rng, pretrained.dim, dim), name="context_map")
        variables["attention_map"] = tf.Variable(np.zeros((pretrained.dim + 1, n_fields + 1), np.float32),
                                                 name="attention_map")
    else:
        variables["id_table"] = tf.Variable(_glorot(rng, n_ids, dim, 0.1), name="id_table")
        variables["context"] = tf.Variable(np.zeros((n_ids, dim), np.float32), name="context")
        variables["attention"] = tf.Variable(np.zeros((n_ids, n_fields + 1), np.float32), name="attention",
                                             trainable=method != "ges")
        id_map = tf.constant(id_of_row)
    trainable = fields_v + [v for k, v in variables.items() if v.trainable]
    # id-sized tables under a sparse optimiser; everything else under Keras Adam
    sparse = [v for k, v in variables.items() if v.trainable and k in ("id_table", "context", "attention")] \
        if optimizer != "adam" else []
    dense = [v for v in trainable if all(v is not w for w in sparse)]
    adam = tf.keras.optimizers.Adam(learning_rate=learning_rate)
    slots = {id(v): [tf.Variable(tf.zeros_like(v) + (0.1 if optimizer == "adagrad" else 0.0), trainable=False)
                     for _ in range(2 if optimizer == "lazy_adam" else 1)] for v in sparse}
    sparse_step = tf.Variable(0.0, trainable=False)
    beta1, beta2, eps = 0.9, 0.999, 1e-7

    def sparse_update(var, grad):
        """One row-wise update of the rows in ``grad`` (an IndexedSlices): no other row is read or written."""
        rows, where = tf.unique(grad.indices)
        g = tf.math.unsorted_segment_sum(grad.values, where, tf.shape(rows)[0])
        if optimizer == "adagrad":
            acc, = slots[id(var)]
            acc_rows = tf.gather(acc, rows) + g * g
            acc.scatter_update(tf.IndexedSlices(acc_rows, rows))
            var.scatter_sub(tf.IndexedSlices(sparse_learning_rate * g / (tf.sqrt(acc_rows) + eps), rows))
            return
        m, v = slots[id(var)]
        m_rows = beta1 * tf.gather(m, rows) + (1 - beta1) * g
        v_rows = beta2 * tf.gather(v, rows) + (1 - beta2) * g * g
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        t = sparse_step
        lr = sparse_learning_rate * tf.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        var.scatter_sub(tf.IndexedSlices(lr * m_rows / (tf.sqrt(v_rows) + eps), rows))

    def represent(items, copy):
        parts = [tf.reduce_sum(tf.gather(fields_v[k], tf.gather(f_index[k], items))
                               * tf.gather(f_weight[k], items)[:, :, None], axis=1) for k in range(n_fields)]
        if method == "pretrained":
            x = tf.gather(pre_c, items)
            id_part = x @ variables["projection"]
            logits = tf.concat([x, tf.ones_like(x[:, :1])], axis=1) @ variables["attention_map"]
        else:
            rows = tf.gather_nd(id_map, tf.stack([items, copy], axis=1))
            id_part = tf.gather(variables["id_table"], rows)
            logits = tf.gather(variables["attention"], rows)
        stacked = tf.stack([id_part, *parts], axis=1)
        return tf.reduce_sum(tf.nn.softmax(logits, axis=1)[:, :, None] * stacked, axis=1)

    def context(items, copy):
        if method == "pretrained":
            return tf.gather(pre_c, items) @ variables["context_map"]
        return tf.gather(variables["context"], tf.gather_nd(id_map, tf.stack([items, copy], axis=1)))

    @tf.function(reduce_retracing=True)
    def step(centre, centre_copy, ctx, ctx_copy, neg, neg_copy):
        with tf.GradientTape() as tape:
            h = represent(centre, centre_copy)                                   # (B, d)
            pos = tf.reduce_sum(h * context(ctx, ctx_copy), axis=1)
            neg_v = tf.reshape(context(tf.reshape(neg, [-1]), tf.reshape(neg_copy, [-1])), [-1, negatives, dim])
            negs = tf.einsum("bd,bkd->bk", h, neg_v)
            loss = tf.reduce_mean(tf.nn.softplus(-pos) + tf.reduce_sum(tf.nn.softplus(negs), axis=1))
        grads = tape.gradient(loss, dense + sparse)
        adam.apply_gradients(zip(grads[:len(dense)], dense))
        if sparse:
            sparse_step.assign_add(1.0)
            for var, grad in zip(sparse, grads[len(dense):]):
                sparse_update(var, grad)
        return loss

    n_parameters = int(sum(np.prod(v.shape) for v in trainable))
    trained_ids = np.unique(pairs_ids)

    def snapshot(epoch: int) -> EGESModel:
        """The model as it stands: the variables copied out as numpy arrays."""
        return EGESModel(
            method=method, side=side, field_tables=[v.numpy().astype(np.float64) for v in fields_v],
            id_table=None if method == "pretrained" else variables["id_table"].numpy().astype(np.float64),
            attention_logits=None if method == "pretrained" else variables["attention"].numpy().astype(np.float64),
            id_of_row=id_of_row,
            pretrained=pre.astype(np.float64) if method == "pretrained" else None,
            projection=variables["projection"].numpy().astype(np.float64) if method == "pretrained" else None,
            attention_map=variables["attention_map"].numpy().astype(np.float64) if method == "pretrained" else None,
            trained_ids=trained_ids, n_parameters=n_parameters, converged_epoch=epoch)

    history, snapshots = [], []
    for epoch in range(epochs):
        order = rng.permutation(len(pairs))
        neg = np.searchsorted(noise_cum, rng.random((len(pairs), negatives)), side="right")
        neg = np.minimum(neg, n - 1)
        cp = rng.integers(0, copies, size=(len(pairs), 2 + negatives)) if copies > 1 else \
            np.zeros((len(pairs), 2 + negatives), np.int64)
        losses, step_times = [], []
        n_batches = int(np.ceil(len(pairs) / batch_size))
        if max_batches is not None:
            n_batches = min(n_batches, max_batches)
        for b in range(n_batches):
            sel = order[b * batch_size:(b + 1) * batch_size]
            start = time.perf_counter()
            loss = step(tf.constant(pairs[sel, 0]), tf.constant(cp[sel, 0]), tf.constant(pairs[sel, 1]),
                        tf.constant(cp[sel, 1]), tf.constant(neg[sel]), tf.constant(cp[sel, 2:]))
            losses.append(float(loss))
            step_times.append(time.perf_counter() - start)
        # the median step (robust to the first step's tracing and to a shared machine's noise) times the steps
        full_batches = int(np.ceil(len(pairs) / batch_size))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "batches": n_batches,
                        "seconds": float(np.median(step_times)) * full_batches})
        if validation is not None:   # scored outside the timed steps
            snapshots.append(snapshot(epoch + 1))
            scores = link_prediction_auc(snapshots[-1], validation).set_index("subset")["auc"]
            history[-1]["validation_auc"] = float(scores["overall"])
            so_far = epochs_to_converge([h["validation_auc"] for h in history], tolerance=tolerance)
            if patience is not None and epoch + 1 - so_far >= patience:
                break
    history = pd.DataFrame(history)
    if validation is None:
        model = snapshot(epochs)
    else:
        model = snapshots[epochs_to_converge(history["validation_auc"], tolerance=tolerance) - 1]
    model.history = history
    return model


def epochs_to_converge(scores: Sequence[float], *, tolerance: float = 0.002, higher_is_better: bool = True) -> int:
    """The first epoch (counted from 1) whose score is within ``tolerance`` of the best score of all epochs.

    ``scores[e - 1]`` is the validation score after epoch ``e`` (AUC: higher is better; a loss:
    pass ``higher_is_better=False``). Later epochs that gain less than ``tolerance`` do not
    count as progress, so a curve that has flattened has converged where it flattened.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D sequence of per-epoch scores, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("scores contain NaN or infinite values")
    tolerance = check_number(tolerance, "tolerance", low=0.0)
    higher_is_better = check_bool(higher_is_better, "higher_is_better")
    if not higher_is_better:
        values = -values
    return int(np.flatnonzero(values >= values.max() - tolerance)[0]) + 1


def _tensorflow():
    from ..seeding import import_tensorflow

    return import_tensorflow()
