"""Chapter 06: EGES (graph embedding with side information), why it trains slowly, and two remedies.

EGES (Wang et al., KDD 2018) gives item v one embedding per source, W_v^0 for its id and
W_v^1..W_v^n for its side information (genres, release-year bucket, top tag), and mixes
them with the item's own softmax weights::

    H_v = sum_j exp(a_v^j) W_v^j / sum_j exp(a_v^j)

trained by skip-gram with negative sampling on (centre, context) pairs from random walks
over the item graph. GES is the same model with every a_v frozen at zero (a plain mean);
a cold item, with no id embedding worth the name, is the mean of its side-information
embeddings. The pipeline of this module::

    side = side_information(ml)                        # per-movie field values
    split = link_prediction_split(positive_sequences(ml.ratings), seed=1)
    walks = random_walks(split.graph, n_walks=20_000, length=10, seed=1)
    model = train_eges(walks, side, method="eges", seed=1)
    link_prediction_auc(model, split)                  # overall, long tail, cold items
    recall(ml, user_ids, k=20)                         # a user-level recall channel, DataFrame[userId, movieId, score]

``compare_methods`` trains every variant to convergence: a validation slice carved from
the training graph (``link_prediction_split(..., exclude_edges=split.excluded)``) decides the
epoch (:func:`epochs_to_converge`), and :func:`remedies` reports time per epoch, epochs to
converge and total training time beside the AUC.

Why it is slow, as this module measures it: Adam (as most embedding trainers) updates
every row of every trainable table at every step (its moment estimates decay everywhere),
so a step costs time in proportion to the number of item ids. The two remedies take the
id-sized tables out: ``method="pretrained"`` feeds fixed DeepWalk vectors through small
dense maps; ``method="clustered"`` trains one id per k-means cluster of items.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .checks import check_bool, check_choice, check_fraction, check_frame, check_int, check_memory, check_number, check_seed
from .datasets import MovieLens, POSITIVE_THRESHOLD, genre_matrix, release_year, require_frame
from .embeddings import ItemVectors, TransitionGraph, _as_sequences, deepwalk, random_walks, transition_graph
from .channels import ProfileChannel, interaction_matrix, log_popularity
from .seeding import DEFAULT_SEED

__all__ = [
    "planted_subgenre",
    "sequences_against_walks",
    "FIELDS",
    "METHODS",
    "SideInformation",
    "side_information",
    "skipgram_pairs",
    "cluster_items",
    "EGESModel",
    "train_eges",
    "epochs_to_converge",
    "LinkSplit",
    "link_prediction_split",
    "link_prediction_auc",
    "compare_methods",
    "attention_by_popularity",
    "epoch_time_by_id_count",
    "remedies",
    "neighbour_agreement",
    "EmbeddingRecall",
    "RECALL_METHODS",
    "embedding_recall",
    "fit_recall",
    "recall",
    "recall_experiment",
]

#: Side-information fields :func:`side_information` can build.
FIELDS = ("genres", "year", "tag")
#: Training methods: end-to-end EGES, GES (equal weights), remedy 1 (pretrained inputs), remedy 2 (cluster ids).
METHODS = ("eges", "ges", "pretrained", "clustered")
#: Item vectors the user-level recall channel can be fitted with: EGES, or DeepWalk (BGE) alone.
RECALL_METHODS = ("eges", "bge")
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

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, movie_ids: Any) -> np.ndarray:
        """Positions of ``movie_ids``; ValueError naming movies that have no side information."""
        ids = np.atleast_1d(np.asarray(movie_ids, dtype=np.int64))
        pos = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        missing = np.unique(ids[self.ids[pos] != ids])
        if missing.size:
            shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if missing.size > 5 else "")
            raise ValueError(f"{missing.size} movie id(s) have no side information: {shown}; build the side "
                             "information from the movies table that the walks come from")
        return pos

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
        frame = require_frame(catalogue, ["movieId", "tag"], "movie_tags")
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
    without one gets the value "(none)", as does a movie whose title carries no year.
    """
    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens dataset (from load_movielens), got {type(ml).__name__}")
    if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
        raise TypeError(f"fields must be a list of field names from {list(FIELDS)}, got {fields!r}")
    if not fields:
        raise ValueError(f"fields is empty; name at least one of {list(FIELDS)}")
    for f in fields:
        check_choice(f, "side-information field", FIELDS)
    if len(set(fields)) != len(fields):
        raise ValueError(f"fields must not repeat, got {list(fields)}")
    year_bucket = check_int(year_bucket, "year_bucket", low=1, high=100)
    movies = require_frame(ml.movies, ["movieId", "title", "genres"], "movies", allow_empty=False)
    ids = np.sort(movies["movieId"].to_numpy(np.int64))
    index, weight, vocabulary = [], [], []
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
            i, w, v = _single_field(_top_tags(ml), ids)
            index.append(i), weight.append(w), vocabulary.append(v)
    return SideInformation(ids, tuple(fields), tuple(index), tuple(weight), tuple(vocabulary))


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
               patience: int | None = None, seed: int = DEFAULT_SEED) -> EGESModel:
    """Train EGES, GES or a remedy by skip-gram with negative sampling on pairs from ``walks``; Adam optimiser.

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
    optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)

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
        grads = tape.gradient(loss, trainable)
        optimizer.apply_gradients(zip(grads, trainable))
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
    from .seeding import import_tensorflow

    return import_tensorflow()


# ---------------------------------------------------------------------------
# Link prediction, as in the paper
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinkSplit:
    """Held-out edges and sampled non-edges for link prediction, and the graph with the held-out edges removed."""

    graph: TransitionGraph        # built without any held-out edge: walk on this one
    excluded: pd.DataFrame        # source, target: every pair kept out of training (held out, or touching a cold item)
    test: pd.DataFrame            # item, other, label (1 edge / 0 non-edge), subset ("overall"/"cold"), long_tail
    cold_ids: np.ndarray          # movies all of whose edges are held out
    popularity: pd.Series         # positive ratings per movie (training sequences)


def link_prediction_split(sequences: Any, *, holdout: float = 1 / 3, cold_share: float = 0.05,
                          tail_share: float = 0.5, max_cold_pairs: int = 20_000,
                          exclude_edges: pd.DataFrame | None = None, seed: int = DEFAULT_SEED) -> LinkSplit:
    """Hold out a share of the item graph's edges (undirected pairs) and every edge of a few cold items.

    Each test positive is a held-out pair (item, other), oriented so ``item`` is the cold one,
    or else the less popular one; each gets one negative (item, other') that is no edge of the
    full graph, with other' drawn from the other ends of the held-out pairs (so negatives are
    as popular as positives, and popularity alone scores an AUC of 0.5). ``long_tail`` marks pairs whose ``item`` is among the ``tail_share``
    least popular movies of the graph. The returned graph is built with every held-out pair
    excluded (``transition_graph(..., exclude_edges=)``), so walks over it never cross one.

    ``exclude_edges`` (source, target) are pairs kept out before splitting, e.g. the ``excluded``
    of an outer split: they are neither trained on nor held out here, and never drawn as
    negatives. ``link_prediction_split(seqs, holdout=0.1, cold_share=0, exclude_edges=outer.excluded)``
    so carves a validation slice from the outer split's training graph without touching its test edges.
    """
    holdout = check_fraction(holdout, "holdout", include_low=False, include_high=False)
    cold_share = check_fraction(cold_share, "cold_share", include_high=False)
    tail_share = check_fraction(tail_share, "tail_share", include_low=False)
    max_cold_pairs = check_int(max_cold_pairs, "max_cold_pairs", low=1)
    seed = check_seed(seed)
    seqs = _as_sequences(sequences)
    rng = np.random.default_rng(seed)
    full = transition_graph(seqs)
    coo = full.matrix.tocoo()
    a, b = np.minimum(coo.row, coo.col), np.maximum(coo.row, coo.col)
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)                 # undirected, node positions
    ids = full.ids
    all_pairs = pairs                                                    # every edge: never a negative
    if exclude_edges is not None:
        check_frame(exclude_edges, ["source", "target"], "exclude_edges")
        src = exclude_edges["source"].to_numpy(np.int64)
        dst = exclude_edges["target"].to_numpy(np.int64)
        inside = np.isin(src, ids) & np.isin(dst, ids)
        u, v = np.searchsorted(ids, src[inside]), np.searchsorted(ids, dst[inside])
        out_keys = np.minimum(u, v) * len(ids) + np.maximum(u, v)
        pairs = pairs[~np.isin(pairs[:, 0] * len(ids) + pairs[:, 1], out_keys)]
        if not len(pairs):
            raise ValueError("exclude_edges removes every edge of the graph; nothing is left to split")
    pop = pd.Series(np.concatenate([np.asarray(s) for s in seqs])).value_counts()
    popularity = pd.Series(pop.reindex(ids).fillna(0).to_numpy(np.int64), index=ids, name="positives")
    n_cold = int(round(cold_share * len(ids)))
    cold = np.sort(rng.choice(len(ids), size=n_cold, replace=False)) if n_cold else np.empty(0, np.int64)
    touches = np.isin(pairs, cold).any(axis=1)
    cold_pairs, warm_pairs = pairs[touches], pairs[~touches]
    held = rng.random(len(warm_pairs)) < holdout
    test_warm = warm_pairs[held]
    if not len(test_warm):
        raise ValueError("no edge was held out; the graph is too small for link prediction")
    # orient: item = the cold end, else the less popular end
    pop_arr = popularity.to_numpy()
    swap = pop_arr[test_warm[:, 0]] > pop_arr[test_warm[:, 1]]
    test_warm = np.where(swap[:, None], test_warm[:, ::-1], test_warm)
    is_cold = np.isin(cold_pairs[:, 0], cold)
    test_cold = np.where(is_cold[:, None], cold_pairs, cold_pairs[:, ::-1])
    if len(test_cold) > max_cold_pairs:
        test_cold = test_cold[np.sort(rng.choice(len(test_cold), max_cold_pairs, replace=False))]
    positives = np.concatenate([test_warm, test_cold])
    subset = np.array(["overall"] * len(test_warm) + ["cold"] * len(test_cold), dtype=object)
    # negatives: (item, other') with other' drawn from the other ends of all held-out edges, so
    # popularity alone cannot tell an edge from a non-edge; redrawn until no edge of the full graph
    edge_keys = set((all_pairs[:, 0] * len(ids) + all_pairs[:, 1]).tolist())
    partners = positives[:, 1]
    others = partners[rng.integers(0, len(partners), size=len(positives))]
    for _ in range(200):
        lo, hi = np.minimum(positives[:, 0], others), np.maximum(positives[:, 0], others)
        bad = (lo == hi) | np.fromiter(((x * len(ids) + y) in edge_keys for x, y in zip(lo.tolist(), hi.tolist())),
                                       bool, len(lo))
        if not bad.any():
            break
        others[bad] = partners[rng.integers(0, len(partners), size=int(bad.sum()))]
    else:
        raise ValueError("could not sample enough non-edges; the graph is nearly complete")
    tail_cut = np.quantile(pop_arr, tail_share)
    test = pd.DataFrame({
        "item": np.concatenate([ids[positives[:, 0]], ids[positives[:, 0]]]),
        "other": np.concatenate([ids[positives[:, 1]], ids[others]]),
        "label": np.repeat([1, 0], len(positives)),
        "subset": np.concatenate([subset, subset]),
    })
    test["long_tail"] = (popularity.reindex(test["item"]).to_numpy() <= tail_cut) & (test["subset"] == "overall")
    excluded_pairs = np.concatenate([test_warm, cold_pairs])
    excluded = pd.DataFrame({"source": ids[excluded_pairs[:, 0]], "target": ids[excluded_pairs[:, 1]]})
    if exclude_edges is not None:
        excluded = pd.concat([exclude_edges[["source", "target"]], excluded], ignore_index=True)
    graph = transition_graph(seqs, exclude_edges=excluded)
    return LinkSplit(graph=graph, excluded=excluded, test=test, cold_ids=ids[cold], popularity=popularity)


def _similarity(vectors: ItemVectors, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of centred vectors; 0 where either movie has no vector (an unknown item says nothing)."""
    unit = ItemVectors(vectors.ids, vectors.centred().normalized())
    out = np.zeros(len(a))
    known = np.isin(a, unit.ids) & np.isin(b, unit.ids)
    if known.any():
        out[known] = (unit.get(a[known]) * unit.get(b[known])).sum(axis=1)
    return out


def link_prediction_auc(model: EGESModel | ItemVectors, split: LinkSplit) -> pd.DataFrame:
    """AUC of embedding similarity on held-out edges against non-edges: overall, long tail, cold items.

    An :class:`EGESModel` represents cold movies (never in training) by their side information;
    plain :class:`ItemVectors` (DeepWalk) have no vector for them, so their similarity is 0.
    """
    from .metrics import auc

    if not isinstance(split, LinkSplit):
        raise TypeError(f"split must be a LinkSplit (from link_prediction_split), got {type(split).__name__}")
    if isinstance(model, EGESModel):
        vectors = model.item_vectors()
    elif isinstance(model, ItemVectors):
        vectors = model
    else:
        raise TypeError(f"model must be an EGESModel or ItemVectors, got {type(model).__name__}")
    t = split.test
    score = _similarity(vectors, t["item"].to_numpy(), t["other"].to_numpy())
    rows = []
    for name, mask in (("overall", t["subset"] == "overall"), ("long tail", t["long_tail"]),
                       ("cold", t["subset"] == "cold")):
        mask = mask.to_numpy()
        if mask.any() and t["label"][mask].nunique() == 2:
            rows.append({"subset": name, "auc": auc(t["label"][mask], score[mask]), "pairs": int(mask.sum())})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# The chapter's experiments, one table each
# ---------------------------------------------------------------------------


def _walks_and_pretrained(split: LinkSplit, n_walks: int, length: int, seed: int,
                          w2v_epochs: int) -> tuple[np.ndarray, ItemVectors]:
    walks = random_walks(split.graph, n_walks=n_walks, length=length, seed=seed)
    bge = deepwalk(split.graph, n_walks=n_walks, length=length, seed=seed, dim=16, window=2, epochs=w2v_epochs)
    return walks, bge


def compare_methods(ml: MovieLens, *, seeds: Sequence[int] = (DEFAULT_SEED,), n_walks: int = 20_000,
                    length: int = 10, dim: int = 16, max_epochs: int = 10, w2v_epochs: int = 5, n_clusters: int = 300,
                    holdout: float = 1 / 3, cold_share: float = 0.05, validation_share: float = 0.1,
                    tolerance: float = 0.002, patience: int = 2, side: SideInformation | None = None
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """BGE (DeepWalk), GES, EGES and both remedies on one link-prediction split per seed, each trained to convergence.

    A validation slice (``validation_share`` of the training graph's edges, no cold items) is
    carved from the training graph; walks, DeepWalk and clusters see only the rest. Each
    EGES-family model trains up to ``max_epochs``, stops ``patience`` epochs after its
    validation AUC last came within ``tolerance`` of its best, and keeps the weights of its
    converged epoch (:func:`epochs_to_converge`); the test edges are scored once, at that epoch.
    Returns a long table (seed, method, subset, auc, pairs, seconds_per_epoch, epochs_to_converge,
    epochs_trained, total_seconds, preparation_seconds, validation_auc, n_ids, parameters) and the
    last seed's fitted state (split, validation split, models, pretrained vectors, clusters).
    ``total_seconds`` sums the per-epoch seconds up to the converged epoch; ``preparation_seconds``
    is what a method needs before its first epoch: the DeepWalk pretraining for remedy 1, that
    and k-means for remedy 2 (wall clock), none for the others.
    """
    if isinstance(seeds, (int, np.integer)):
        seeds = (seeds,)
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    max_epochs = check_int(max_epochs, "max_epochs", low=1, high=1000)
    validation_share = check_fraction(validation_share, "validation_share", include_low=False, include_high=False)
    side = side_information(ml) if side is None else side
    sequences = _positive_in_catalogue(ml, side)
    rows, state = [], {}
    for seed in seeds:
        split = link_prediction_split(sequences, holdout=holdout, cold_share=cold_share, seed=seed)
        validation = link_prediction_split(sequences, holdout=validation_share, cold_share=0.0, seed=seed + 1,
                                           exclude_edges=split.excluded)
        start = time.perf_counter()
        walks, bge = _walks_and_pretrained(validation, n_walks, length, seed, w2v_epochs)
        pretraining = time.perf_counter() - start
        start = time.perf_counter()
        clusters = cluster_items(side, min(n_clusters, len(side)), pretrained=bge, seed=seed)
        clustering = time.perf_counter() - start
        preparation = {"pretrained": pretraining, "clustered": pretraining + clustering}
        models: dict[str, Any] = {"BGE (DeepWalk)": bge}
        for label, method in (("GES", "ges"), ("EGES", "eges"), ("remedy 1: pretrained", "pretrained"),
                              ("remedy 2: clustered", "clustered")):
            models[label] = train_eges(walks, side, method=method, dim=dim, epochs=max_epochs, pretrained=bge,
                                       clusters=clusters, validation=validation, tolerance=tolerance,
                                       patience=patience, seed=seed)
        for label, model in models.items():
            res = link_prediction_auc(model, split)
            is_eges = isinstance(model, EGESModel)
            res.insert(0, "method", label)
            res.insert(0, "seed", seed)
            res["seconds_per_epoch"] = float(model.history["seconds"].median()) if is_eges else np.nan
            res["epochs_to_converge"] = model.converged_epoch if is_eges else np.nan
            res["epochs_trained"] = len(model.history) if is_eges else np.nan
            res["total_seconds"] = model.total_seconds if is_eges else np.nan
            res["preparation_seconds"] = preparation.get(model.method, 0.0) if is_eges else np.nan
            res["validation_auc"] = (float(model.history["validation_auc"].iloc[model.converged_epoch - 1])
                                     if is_eges else link_prediction_auc(model, validation)["auc"].iloc[0])
            res["n_ids"] = model.n_ids if is_eges else len(model)
            res["parameters"] = model.n_parameters if is_eges else int(model.vectors.size * 2)
            rows.append(res)
        state = {"split": split, "validation": validation, "models": models, "clusters": clusters, "walks": walks,
                 "side": side}
    return pd.concat(rows, ignore_index=True), state


def _positive_in_catalogue(ml: MovieLens, side: SideInformation) -> pd.Series:
    from .embeddings import positive_sequences

    seqs = positive_sequences(ml.ratings, threshold=POSITIVE_THRESHOLD)
    side.rows(np.unique(np.concatenate(seqs.to_numpy())))   # every rated movie needs side information
    return seqs


def attention_by_popularity(model: EGESModel, popularity: pd.Series, *, groups: int = 4) -> pd.DataFrame:
    """Mean attention weight of each source (id, fields) by popularity quartile of the trained movies."""
    if not isinstance(model, EGESModel):
        raise TypeError(f"model must be an EGESModel, got {type(model).__name__}")
    groups = check_int(groups, "groups", low=1, high=20)
    ids = model.trained_ids
    weights = model.attention(ids)
    pop = popularity.reindex(ids).fillna(0).to_numpy()
    ranks = pd.Series(pop).rank(method="first").to_numpy()
    weights["popularity group"] = np.minimum((ranks - 1) * groups // len(ids), groups - 1).astype(int) + 1
    weights["positives (median)"] = pop
    out = weights.drop(columns="movieId").groupby("popularity group").agg(
        {**{c: "mean" for c in weights.columns if c not in ("movieId", "popularity group", "positives (median)")},
         "positives (median)": "median"})
    return out.reset_index()


def epoch_time_by_id_count(walks: np.ndarray, side: SideInformation, *, copies: Sequence[int] = (1, 4, 16, 64),
                           methods: Sequence[str] = ("eges",), pretrained: ItemVectors | None = None,
                           clusters: np.ndarray | None = None, dim: int = 16, batch_size: int = 2048,
                           max_batches: int = 20, repeats: int = 1, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Seconds per epoch (median step of ``max_batches`` steps x steps per epoch, median of ``repeats``) by id count.

    Every item is split into ``c`` ids (each occurrence picks one at random): the training
    pairs are the same, only the id space grows. Remedy 1 and 2 have no id-sized table, so
    their time stays flat while end-to-end EGES grows with the id count.
    """
    repeats = check_int(repeats, "repeats", low=1, high=20)
    rows = []
    for c in copies:
        c = check_int(c, "copies", low=1, high=100_000)
        for method in methods:
            times = []
            for r in range(repeats):
                model = train_eges(walks, side, method=method, dim=dim, epochs=1, batch_size=batch_size,
                                   pretrained=pretrained, clusters=clusters, id_copies=c, max_batches=max_batches,
                                   seed=seed + r)
                times.append(float(model.history["seconds"].iloc[0]))
            rows.append({"method": method, "copies": c, "n_ids": model.n_ids if method != "pretrained" else 0,
                         "id space": len(side) * c, "parameters": model.n_parameters,
                         "seconds_per_epoch": float(np.median(times))})
    return pd.DataFrame(rows)


def remedies(results: pd.DataFrame) -> pd.DataFrame:
    """One row per EGES variant: AUC by subset, time per epoch, epochs to converge, total time, ids, ratios to EGES.

    AUC and epochs are means over seeds, times medians. ``id vocabulary reduction`` is the
    catalogue's movies over the method's trainable ids (clustering's reduction factor; NaN
    for remedy 1, which has no id table). Speed-ups divide EGES's time by the method's:
    per epoch, and in total training time to the converged epoch.
    """
    check_frame(results, ["method", "subset", "auc", "seconds_per_epoch", "epochs_to_converge", "total_seconds",
                          "preparation_seconds", "n_ids", "parameters"], "results", allow_empty=False)
    eges_rows = results[results["method"] != "BGE (DeepWalk)"]
    if "EGES" not in set(eges_rows["method"]):
        raise ValueError("results has no EGES rows to compare against; pass the table of compare_methods")
    wide = eges_rows.pivot_table(index="method", columns="subset", values="auc", aggfunc="mean")
    cost = eges_rows.groupby("method").agg(seconds_per_epoch=("seconds_per_epoch", "median"),
                                           epochs_to_converge=("epochs_to_converge", "mean"),
                                           total_seconds=("total_seconds", "median"),
                                           preparation_seconds=("preparation_seconds", "median"),
                                           n_ids=("n_ids", "first"), parameters=("parameters", "first"))
    out = wide.join(cost)
    n_movies = eges_rows.loc[eges_rows["method"] == "EGES", "n_ids"].iloc[0]
    out["id vocabulary reduction"] = np.where(out["n_ids"] > 0, n_movies / out["n_ids"].clip(lower=1), np.nan)
    base = out.loc["EGES"]
    out["speed-up per epoch vs EGES"] = base["seconds_per_epoch"] / out["seconds_per_epoch"]
    out["speed-up in total vs EGES"] = base["total_seconds"] / out["total_seconds"]
    out["AUC change vs EGES"] = out["overall"] - base["overall"]
    return out.reset_index()


def neighbour_agreement(vectors: ItemVectors, item_parent: pd.Series, *, k: int = 10,
                        popularity: pd.Series | None = None, tail_share: float = 0.5) -> pd.DataFrame:
    """Share of each movie's ``k`` nearest neighbours (centred cosine) with the same planted sub-genre.

    ``item_parent``: the planted main sub-genre of each movie (index movieId). Returns the
    mean over movies, overall and (with ``popularity``) for the long tail, beside the chance
    level (the share of same-sub-genre pairs).
    """
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be ItemVectors, got {type(vectors).__name__}")
    k = check_int(k, "k", low=1, high=max(1, len(vectors) - 1))
    ids = vectors.ids[np.isin(vectors.ids, item_parent.index)]
    unit = ItemVectors(vectors.ids, vectors.centred().normalized()).get(ids)
    parent = item_parent.reindex(ids).to_numpy()
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    top = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    same = (parent[top] == parent[:, None]).mean(axis=1)
    counts = pd.Series(parent).value_counts().to_numpy()
    chance = float(((counts * (counts - 1)).sum()) / (len(ids) * (len(ids) - 1)))
    rows = [{"movies": "all", "same sub-genre": float(same.mean()), "chance": chance, "n": len(ids)}]
    if popularity is not None:
        pop = popularity.reindex(ids).fillna(0).to_numpy()
        tail = pop <= np.quantile(pop, tail_share)
        rows.append({"movies": "long tail", "same sub-genre": float(same[tail].mean()), "chance": chance,
                     "n": int(tail.sum())})
    return pd.DataFrame(rows)


def planted_subgenre(seed: int = DEFAULT_SEED) -> pd.Series:
    """The planted main sub-genre of every SparrowLens movie (index movieId), without generating the ratings.

    The same draw as ``sparrowlens.generate(seed).truth.item_parent`` (by name), in well under
    a second: SparrowLens draws its movies from streams of their own, before the users.
    """
    from . import sparrowlens as sl

    seed = check_seed(seed)
    rng_vec, rng_mov = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)[:2])
    vocab = sl._vocabulary()
    vectors = sl._draw_vectors(rng_vec, vocab, 16)
    items = sl._draw_items(rng_mov, vocab, vectors, 3000, dict(sl._PARAMS))
    names = np.asarray(vocab["parents"], dtype=object)[items["parent"]]
    out = pd.Series(names, index=pd.Index(items["movie_ids"], name="movieId"), name="sub-genre")
    out.attrs["titles"] = items["frame"].set_index("movieId")["title"]
    return out


def sequences_against_walks(sequences: Any, item_parent: pd.Series, *, n_walks: int = 20_000, length: int = 10,
                            dim: int = 10, window: int = 5, epochs: int = 10, k: int = 10,
                            seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, dict[str, ItemVectors]]:
    """item2vec on the rating sequences against DeepWalk on walks over their graph, same Word2Vec settings.

    Scored by :func:`neighbour_agreement` (share of the ``k`` nearest neighbours with the
    same planted sub-genre), over all movies and the long tail. Returns the table and both models.
    """
    from .embeddings import train_item2vec

    seqs = _as_sequences(sequences)
    seed = check_seed(seed)
    popularity = pd.Series(np.concatenate([np.asarray(s) for s in seqs])).value_counts()
    graph = transition_graph(seqs)
    models = {
        "item2vec (sequences)": train_item2vec(seqs, dim=dim, window=window, epochs=epochs, seed=seed),
        "DeepWalk (random walks)": deepwalk(graph, n_walks=n_walks, length=length, seed=seed, dim=dim,
                                            window=window, epochs=epochs),
    }
    rows = []
    for name, vectors in models.items():
        table = neighbour_agreement(vectors, item_parent, k=k, popularity=popularity)
        table.insert(0, "model", name)
        rows.append(table)
    return pd.concat(rows, ignore_index=True), models


# ---------------------------------------------------------------------------
# The user-level recall channel, in the common shape of the recall chapters
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EmbeddingRecall(ProfileChannel):
    """A fitted embedding recall channel: unit item vectors, each user's vector, what they rated, popularity.

    A user's vector is the recency-weighted mean of the centred, unit-length vectors of the
    movies they liked in training (the latest like weighs 1, each earlier one halves every
    ``half_life`` likes), scaled to length 1; an item's score is its cosine with it.
    ``recall(user_ids, k, blend=..., on_empty=...)`` and ``scores`` come from
    :class:`channels.ProfileChannel`.
    """

    item_ids: np.ndarray            # catalogue movie ids, sorted: the columns of every score
    item_unit: np.ndarray           # (n_items, dim) centred unit vectors; zero rows for movies without one
    has_vector: np.ndarray          # bool per item
    user_ids: np.ndarray            # the users fitted, sorted
    profiles: np.ndarray            # (n_users, dim) unit user vectors; zero rows for empty profiles
    rated: Any                      # scipy sparse (n_users, n_items) bool: rated in training, never recommended
    log_popularity: np.ndarray      # log(1 + training likes) scaled to [0, 1], per item
    settings: dict = field(default_factory=dict)

    EMPTY_REASON = "no liked training movie with a vector"

    @property
    def empty(self) -> np.ndarray:
        """Boolean per user: True where the user liked no movie that has a vector (an empty profile)."""
        return ~self.profiles.any(axis=1)

    @property
    def unknown_items(self) -> np.ndarray:
        """Boolean per item: True where the movie has no vector (alone, the channel cannot score it)."""
        return ~self.has_vector

    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        # 12 decimals: equal vectors score exactly equal, so ties break by item order
        return np.round(self.profiles[rows] @ self.item_unit.T, 12)


def embedding_recall(vectors: "EGESModel | ItemVectors", train: pd.DataFrame, *, catalogue: Any = None,
                     half_life: int = 10, user_ids: Sequence[int] | None = None) -> EmbeddingRecall:
    """Fit the channel from item vectors (an EGES model's, or DeepWalk's) and training ratings alone.

    ``catalogue``: the movie ids that may be recommended (default: every movie with a vector or
    a training rating). ``user_ids``: the users to fit (default: every user in ``train``).
    """
    from scipy import sparse

    if isinstance(vectors, EGESModel):
        vectors = vectors.item_vectors()
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be an EGESModel or ItemVectors, got {type(vectors).__name__}")
    check_frame(train, ["userId", "movieId", "rating", "timestamp"], "train", allow_empty=False)
    half_life = check_int(half_life, "half_life", low=1)
    if catalogue is None:
        items = np.union1d(vectors.ids, train["movieId"].to_numpy(np.int64))
    else:
        items = np.unique(np.asarray(catalogue, dtype=np.int64))
        if items.size == 0:
            raise ValueError("catalogue is empty; give the movie ids that may be recommended")
    users = (np.unique(train["userId"].to_numpy(np.int64)) if user_ids is None
             else np.unique(np.asarray(user_ids, dtype=np.int64)))
    unit_all = vectors.centred().normalized()
    has_vector = np.isin(items, vectors.ids)
    item_unit = np.zeros((len(items), vectors.dim))
    item_unit[has_vector] = unit_all[vectors.rows(items[has_vector])]
    known = train[train["userId"].isin(users)]
    liked = known[known["rating"] >= POSITIVE_THRESHOLD].sort_values(["userId", "timestamp", "movieId"],
                                                                     kind="stable")
    from_latest = liked.groupby("userId").cumcount(ascending=False).to_numpy()
    weight = 0.5 ** (from_latest / half_life)
    cols = pd.Index(items).get_indexer(liked["movieId"])
    keep = cols >= 0
    user_rows = pd.Index(users).get_indexer(liked["userId"])
    likes = sparse.csr_matrix((weight[keep], (user_rows[keep], cols[keep])), shape=(len(users), len(items)))
    profiles = np.asarray(likes @ item_unit)
    norms = np.linalg.norm(profiles, axis=1, keepdims=True)
    profiles = np.divide(profiles, norms, out=np.zeros_like(profiles), where=norms > 1e-12)
    rated = interaction_matrix(known, users, items)
    log_pop = log_popularity(liked["movieId"].value_counts().reindex(items, fill_value=0))
    return EmbeddingRecall(item_ids=items, item_unit=item_unit, has_vector=has_vector, user_ids=users,
                           profiles=profiles, rated=rated, log_popularity=log_pop,
                           settings={"half_life": half_life})


def fit_recall(ml: MovieLens, train: pd.DataFrame, *, method: str = "eges", n_walks: int = 10_000,
               length: int = 10, dim: int = 16, epochs: int = 2, w2v_epochs: int = 5, half_life: int = 10,
               side: SideInformation | None = None, seed: int = DEFAULT_SEED) -> EmbeddingRecall:
    """Train item vectors on ``train`` alone and fit the recall channel on them.

    The item graph is built from the training ratings' positive sequences; ``method="eges"``
    trains EGES on walks over it for ``epochs`` epochs (every catalogue movie gets a vector,
    an unwalked one from its side information), ``method="bge"`` trains DeepWalk on the same
    walks (only walked movies get one). The catalogue is ``ml.movies``.
    """
    from .embeddings import positive_sequences

    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens dataset (from load_movielens), got {type(ml).__name__}")
    check_choice(method, "method", RECALL_METHODS)
    check_frame(train, ["userId", "movieId", "rating", "timestamp"], "train", allow_empty=False)
    seed = check_seed(seed)
    side = side_information(ml) if side is None else side
    if not isinstance(side, SideInformation):
        raise TypeError(f"side must be a SideInformation (from side_information), got {type(side).__name__}")
    sequences = positive_sequences(train[train["movieId"].isin(side.ids)])
    graph = transition_graph(sequences)
    if method == "bge":
        vectors: Any = deepwalk(graph, n_walks=n_walks, length=length, seed=seed, dim=dim, window=2,
                                epochs=w2v_epochs)
    else:
        walks = random_walks(graph, n_walks=n_walks, length=length, seed=seed)
        vectors = train_eges(walks, side, method="eges", dim=dim, epochs=epochs, seed=seed)
    return embedding_recall(vectors, train, catalogue=side.ids, half_life=half_life)


def recall(ml: MovieLens, user_ids: Sequence[int], k: int = 20, *, train: pd.DataFrame | None = None,
           blend: float = 0.0, on_empty: str = "skip", **settings: Any) -> pd.DataFrame:
    """The chapter's recall channel in the common shape: DataFrame[userId, movieId, score], best first.

    Fits on ``train`` (default: the training part of ``user_time_split(ml.ratings)``) with
    ``settings`` passed to :func:`fit_recall` (method, n_walks, epochs, half_life, seed, ...);
    no held-out rating reaches the vectors or the user profiles.
    """
    from .datasets import user_time_split

    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens dataset (from load_movielens), got {type(ml).__name__}")
    k = check_int(k, "k", low=1)
    if train is None:
        train, _ = user_time_split(ml.ratings)
    channel = fit_recall(ml, train, **settings)
    return channel.recall(user_ids, k, blend=blend, on_empty=on_empty)


def recall_experiment(ml: MovieLens, *, k: int = 20, test_fraction: float = 0.2, n_walks: int = 10_000,
                      length: int = 10, dim: int = 16, epochs: int = 2, w2v_epochs: int = 5, half_life: int = 10,
                      blend: float = 0.5, methods: Sequence[str] = RECALL_METHODS, seed: int = DEFAULT_SEED
                      ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """recall@k and NDCG@k of the channel with EGES and with DeepWalk vectors, against popularity, on held-out likes.

    The shared per-user time split; the truth is each user's held-out positives (rating >= 3.5),
    for users with a liked movie on both sides. Rows: popularity (training likes, unrated
    movies only), DeepWalk (BGE) vectors, EGES vectors, and each blended with popularity
    (``blend``, fixed beforehand, not tuned on the held-out likes); ``methods`` picks which
    vectors to fit ("eges", "bge"). Returns the table (sorted by recall, best first) and the
    fitted channels.
    """
    from .datasets import user_time_split
    from .metrics import evaluate_top_k

    k = check_int(k, "k", low=1)
    blend = check_fraction(blend, "blend", include_low=False, include_high=False)
    if isinstance(methods, str) or not len(methods) or len(set(methods)) != len(methods):
        raise ValueError(f"methods must be a non-empty list of distinct names from {list(RECALL_METHODS)}, "
                         f"got {methods!r}")
    for m in methods:
        check_choice(m, "method", RECALL_METHODS)
    train, test = user_time_split(ml.ratings, test_fraction)
    truth = test.loc[test["rating"] >= POSITIVE_THRESHOLD, ["userId", "movieId"]]
    liked_before = train.loc[train["rating"] >= POSITIVE_THRESHOLD, "userId"].unique()
    users = np.intersect1d(truth["userId"].unique(), liked_before)
    if len(users) == 0:
        raise ValueError("no user has a liked movie both before and after the split; nothing to evaluate")
    truth = truth[truth["userId"].isin(users)]
    side = side_information(ml)
    common = dict(n_walks=n_walks, length=length, dim=dim, epochs=epochs, w2v_epochs=w2v_epochs,
                  half_life=half_life, side=side, seed=seed)
    channels = {m: fit_recall(ml, train, method=m, **common) for m in methods}
    names = {"eges": "EGES", "bge": "DeepWalk"}
    # popularity needs no vectors: any fitted channel serves it (training likes, unrated movies only)
    runs = {"popularity (unrated movies)": next(iter(channels.values())).recall(users, k, blend=1.0,
                                                                                on_empty="skip")}
    for m, channel in channels.items():
        runs[f"{names[m]} vectors" if m == "eges" else "DeepWalk (BGE) vectors"] = channel.recall(
            users, k, on_empty="skip")
    for m, channel in channels.items():
        runs[f"{names[m]} + popularity (blend {blend:g})"] = channel.recall(users, k, blend=blend, on_empty="skip")
    rows = []
    for name, recs in runs.items():
        result = evaluate_top_k(recs, truth, k, n_items=len(side))
        rows.append({"channel": name, f"recall@{k}": result[f"recall@{k}"], f"ndcg@{k}": result[f"ndcg@{k}"],
                     "coverage": result["coverage"], "users": int(result["users"])})
    table = pd.DataFrame(rows).sort_values(f"recall@{k}", ascending=False, kind="stable").reset_index(drop=True)
    return table, {"channels": channels, "train": train, "truth": truth, "users": users, "recommendations": runs}
