"""Chapter 01's network structures: a plain MLP, DeepFM's FM term and DIN's attention, side by side.

Every model reads the same inputs (see ``InputSpec``): categorical fields looked up in one
shared embedding table, an optional list of the user's recent positive items (padded with
-1) and optional dense features. What differs is the structure on top:

* ``mlp``: concatenated embeddings (the history mean-pooled) -> ``depth`` ReLU layers -> logit.
  Depth 0 is a logistic regression on the embeddings: it cannot represent any interaction.
* ``fm``: the MLP plus DeepFM's factorisation-machine term, ``sum_{i<j} <e_i, e_j>`` over the
  fields' embeddings: every pairwise field cross, explicitly, for no extra parameters.
* ``din``: the MLP, but the history is pooled by attention: a small "activation unit"
  scores each past item against the candidate, a softmax over the valid (non-padding)
  items turns the scores into weights (DIN, Zhou et al. 2018, with normalised weights).

The MLP stack has three more knobs, for the chapter's regime where depth costs: ``init`` (the
kernels' initial scale: ``"glorot"`` Keras' default, ``"he"`` scaled for ReLU, ``"small"`` a fixed
N(0, 0.01^2), as early deep nets used), ``norm`` (``"layer"``: layer normalisation of every hidden
layer's pre-activation, Ba et al. 2016; no batch statistics, so replicas and serving stay simple)
and ``residual`` (every hidden layer after the first adds its input back, He et al. 2016).

A model holds ``replicas`` independent copies (one per training seed) that run as one batched
graph: replica ``k`` has its own weights and sees its own batches, so K seeds cost about one
model's worth of TensorFlow overhead. Inputs are batch-major: ``fields`` (B, K, F),
``history`` (B, K, H), ``dense`` (B, K, D); the output is logits (B, K).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .checks import check_bool, check_choice, check_int, check_seed
from .seeding import import_tensorflow

__all__ = [
    "ATTENTION_UNITS", "INITS", "KINDS", "NORMS", "InputSpec", "attention_weights", "build_model", "fm_term",
    "initial_weights", "layer_sizes", "mlp_parameters", "multiply_adds", "parameter_count",
]

KINDS = ("mlp", "fm", "din")
INITS = ("glorot", "he", "small")  # initial scale of the dense kernels
NORMS = ("none", "layer")  # normalisation of each hidden layer
ATTENTION_UNITS = 16  # hidden units of DIN's activation unit


@dataclass(frozen=True)
class InputSpec:
    """What a model reads: field names and vocabulary sizes, history length, dense width."""

    fields: tuple[str, ...]
    vocab: tuple[int, ...]  # rows per field's embedding block (index 0 may stand for "unknown")
    history_length: int = 0  # 0: no history input
    history_field: str | None = None  # the field whose embeddings the history items share (the candidate)
    dense: tuple[str, ...] = ()

    def __post_init__(self):
        if len(self.fields) != len(self.vocab) or not self.fields:
            raise ValueError("fields and vocab must be non-empty and of one length")
        if self.history_length and self.history_field not in self.fields:
            raise ValueError(f"history_field must be one of {self.fields}, got {self.history_field!r}")

    @property
    def offsets(self) -> np.ndarray:
        """First row of each field's block in the shared embedding table."""
        return np.concatenate([[0], np.cumsum(self.vocab)[:-1]]).astype(np.int32)

    @property
    def rows(self) -> int:
        return int(sum(self.vocab))

    def input_width(self, embedding_dim: int) -> int:
        """Width of the MLP's input: every field's embedding, the pooled history, the dense features."""
        return len(self.fields) * embedding_dim + (embedding_dim if self.history_length else 0) + len(self.dense)


def _check(kind: str, depth: int, width: int, embedding_dim: int, init: str = "glorot", norm: str = "none",
           residual: bool = False) -> None:
    check_choice(kind, "kind", KINDS)
    check_int(depth, "depth", low=0, high=32)
    check_int(width, "width", low=1, high=4096)
    check_int(embedding_dim, "embedding_dim", low=1, high=512)
    check_choice(init, "init", INITS)
    check_choice(norm, "norm", NORMS)
    check_bool(residual, "residual")


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights plus biases of fully connected layers of the given sizes: sum of (n_in + 1) * n_out."""
    if len(sizes) < 2 or any(isinstance(s, bool) or int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive layer widths, got {list(sizes)}")
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


def layer_sizes(spec: InputSpec, depth: int, *, width: int = 32, embedding_dim: int = 8) -> list[int]:
    """Sizes of the dense stack, input to output: [inputs, width x depth, 1]."""
    _check("mlp", depth, width, embedding_dim)
    return [spec.input_width(embedding_dim), *([width] * depth), 1]


def parameter_count(spec: InputSpec, depth: int, *, kind: str = "mlp", width: int = 32, embedding_dim: int = 8,
                    norm: str = "none", residual: bool = False) -> int:
    """Closed form of one model's trainable parameters: embedding table + dense stack (+ attention unit).

    The FM term reuses the field embeddings, so it adds none; DIN's activation unit reads
    [item, candidate, item * candidate] (3d numbers) into ``ATTENTION_UNITS`` ReLUs and one score.
    Layer normalisation adds a scale and a shift per hidden unit; a residual connection adds none.
    """
    _check(kind, depth, width, embedding_dim, norm=norm, residual=residual)
    total = spec.rows * embedding_dim + mlp_parameters(layer_sizes(spec, depth, width=width, embedding_dim=embedding_dim))
    if norm == "layer":
        total += 2 * width * depth
    if kind == "din":
        total += mlp_parameters([3 * embedding_dim, ATTENTION_UNITS, 1])
    return int(total)


def multiply_adds(spec: InputSpec, depth: int, *, kind: str = "mlp", width: int = 32, embedding_dim: int = 8,
                  norm: str = "none", residual: bool = False) -> int:
    """Multiply-adds of one example's forward pass (look-ups free): the deterministic serving cost.

    Dense stack: sum n_in * n_out. FM term: ``(F + 1) * d`` (the squares of F embeddings and of
    their sum). DIN: per history slot, ``d`` for item * candidate, ``3d * u + u`` for the
    activation unit and ``d`` for the weighted sum. Layer normalisation: 3 per hidden unit (its
    square for the variance, the normalisation, the scale and shift); a residual add: 1 per unit
    of every hidden layer after the first.
    """
    _check(kind, depth, width, embedding_dim, norm=norm, residual=residual)
    sizes = layer_sizes(spec, depth, width=width, embedding_dim=embedding_dim)
    total = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    if norm == "layer":
        total += 3 * width * depth
    if residual:
        total += width * max(depth - 1, 0)
    if kind == "fm":
        total += (len(spec.fields) + 1) * embedding_dim
    if kind == "din":
        u = ATTENTION_UNITS
        total += spec.history_length * (2 * embedding_dim + 3 * embedding_dim * u + u)
    return int(total)


# --------------------------------------------------------------------------- the two structures, as functions

def fm_term(embeddings):
    """DeepFM's second-order term per example: ``sum_{i<j} <e_i, e_j> = 0.5 * sum_d((sum_i e_i)^2 - sum_i e_i^2)``.

    ``embeddings``: (..., F, d). Linear in F instead of quadratic: Rendle's identity.
    """
    tf = import_tensorflow()
    e = tf.convert_to_tensor(embeddings)
    total = tf.reduce_sum(e, axis=-2)
    return 0.5 * tf.reduce_sum(total * total - tf.reduce_sum(e * e, axis=-2), axis=-1)


def attention_weights(items, candidate, mask, unit):
    """DIN-style weights of the history items for a candidate: softmax over the valid items only.

    ``items`` (K, B, H, d), ``candidate`` (K, B, d), ``mask`` (K, B, H) True where an item is
    real, ``unit`` = (W1 (K, 3d, u), b1 (K, u), w2 (K, u), b2 (K,)). Padding gets weight 0; a
    history with no valid item gets all zeros (its pooled vector is then zero).
    """
    tf = import_tensorflow()
    w1, b1, w2, b2 = unit
    c = tf.broadcast_to(candidate[:, :, None, :], tf.shape(items))
    z = tf.concat([items, c, items * c], axis=-1)
    hidden = tf.nn.relu(tf.einsum("kbhi,kiu->kbhu", z, w1) + b1[:, None, None, :])
    scores = tf.einsum("kbhu,ku->kbh", hidden, w2) + b2[:, None, None]
    scores = tf.where(mask, scores, tf.fill(tf.shape(scores), tf.constant(-1e9, scores.dtype)))
    weights = tf.nn.softmax(scores, axis=-1)
    return tf.where(mask, weights, tf.zeros_like(weights))


# --------------------------------------------------------------------------- the model

def initial_weights(spec: InputSpec, depth: int, seed: int, *, kind: str = "mlp", width: int = 32,
                    embedding_dim: int = 8, init: str = "glorot", norm: str = "none") -> dict[str, np.ndarray]:
    """One replica's starting weights, drawn from ``seed`` alone (so a seed's run never depends on its batch-mates).

    Embeddings ~ N(0, 0.05^2); biases zero; dense kernels by ``init``: ``"glorot"`` uniform with
    variance 2 / (n_in + n_out) (which halves a ReLU layer's signal at constant width),
    ``"he"`` normal with variance 2 / n_in (keeps it), ``"small"`` N(0, 0.01^2) (shrinks it
    layer after layer). Layer normalisation starts at scale 1, shift 0. The attention unit is
    always Glorot.
    """
    _check(kind, depth, width, embedding_dim, init=init, norm=norm)
    rng = np.random.default_rng(check_seed(seed))

    def glorot(n_in: int, n_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)

    def kernel(n_in: int, n_out: int) -> np.ndarray:
        if init == "he":
            return rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32)
        if init == "small":
            return rng.normal(0.0, 0.01, (n_in, n_out)).astype(np.float32)
        return glorot(n_in, n_out)

    weights = {"embeddings": rng.normal(0.0, 0.05, (spec.rows, embedding_dim)).astype(np.float32)}
    sizes = layer_sizes(spec, depth, width=width, embedding_dim=embedding_dim)
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights[f"kernel_{i}"] = kernel(a, b)
        weights[f"bias_{i}"] = np.zeros(b, dtype=np.float32)
        if norm == "layer" and i < depth:
            weights[f"ln_scale_{i}"] = np.ones(b, dtype=np.float32)
            weights[f"ln_shift_{i}"] = np.zeros(b, dtype=np.float32)
    if kind == "din":
        weights["att_kernel"] = glorot(3 * embedding_dim, ATTENTION_UNITS)
        weights["att_bias"] = np.zeros(ATTENTION_UNITS, dtype=np.float32)
        weights["att_out"] = glorot(ATTENTION_UNITS, 1)[:, 0]
        weights["att_out_bias"] = np.zeros((), dtype=np.float32)
    return weights


def build_model(spec: InputSpec, depth: int, *, kind: str = "mlp", seeds: Sequence[int] = (0,), width: int = 32,
                embedding_dim: int = 8, init: str = "glorot", norm: str = "none", residual: bool = False):
    """A Keras model of ``len(seeds)`` independent replicas of one architecture, weights drawn from each seed.

    Call it on ``{"fields": (B, K, F) int32, "history": (B, K, H) int32 (-1 = padding),
    "dense": (B, K, D) float32}`` (only the inputs ``spec`` declares); it returns logits (B, K).
    ``init``, ``norm`` and ``residual`` shape the hidden stack (see the module's docstring).
    """
    _check(kind, depth, width, embedding_dim, init=init, norm=norm, residual=residual)
    seeds = [check_seed(s, "seeds") for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    if kind == "din" and not spec.history_length:
        raise ValueError("kind='din' attends over a history; this data has none (history_length=0)")
    import_tensorflow()
    import keras

    return _ClickModel(spec, depth, kind, seeds, width, embedding_dim, keras, init, norm, residual)


def _ClickModel(spec, depth, kind, seeds, width, embedding_dim, keras, init, norm, residual):  # noqa: N802 - a class factory
    """Build the Keras model class lazily, so importing this module never imports TensorFlow."""
    tf = import_tensorflow()

    class ClickModel(keras.Model):
        def __init__(self):
            super().__init__(name=f"{kind}_depth_{depth}")
            self.spec, self.depth, self.kind, self.seeds = spec, depth, kind, list(seeds)
            self.width, self.embedding_dim = width, embedding_dim
            self.norm, self.residual = norm, residual
            per_seed = [initial_weights(spec, depth, s, kind=kind, width=width, embedding_dim=embedding_dim,
                                        init=init, norm=norm) for s in seeds]
            self.names = list(per_seed[0])
            self.w = {}
            for name in self.names:
                value = np.stack([w[name] for w in per_seed])
                var = self.add_weight(shape=value.shape, initializer="zeros", name=name)
                var.assign(value)
                self.w[name] = var
            self.built = True  # every weight exists already: the shapes follow from the spec
            self.offsets = tf.constant(spec.offsets)
            self.n_layers = depth + 1
            if spec.history_length:
                self.item_offset = int(spec.offsets[spec.fields.index(spec.history_field)])
                self.item_field = spec.fields.index(spec.history_field)

        @property
        def replicas(self) -> int:
            return len(self.seeds)

        def pooled_history(self, fields_emb, history, return_weights=False):
            table = self.w["embeddings"]
            h = tf.transpose(history, (1, 0, 2))  # (K, B, H)
            mask = h >= 0
            items = tf.gather(table, tf.where(mask, h + self.item_offset, 0), batch_dims=1)  # (K, B, H, d)
            if self.kind == "din":
                unit = (self.w["att_kernel"], self.w["att_bias"], self.w["att_out"], self.w["att_out_bias"])
                weights = attention_weights(items, fields_emb[:, :, self.item_field, :], mask, unit)
            else:  # mean over the valid items
                m = tf.cast(mask, items.dtype)
                weights = m / tf.maximum(tf.reduce_sum(m, axis=-1, keepdims=True), 1.0)
            pooled = tf.einsum("kbh,kbhd->kbd", weights, items)
            return (pooled, weights) if return_weights else pooled

        def call(self, inputs):
            fields = tf.transpose(tf.cast(inputs["fields"], tf.int32), (1, 0, 2)) + self.offsets  # (K, B, F)
            emb = tf.gather(self.w["embeddings"], fields, batch_dims=1)  # (K, B, F, d)
            shape = tf.shape(emb)
            parts = [tf.reshape(emb, (shape[0], shape[1], len(self.spec.fields) * self.embedding_dim))]
            if self.spec.history_length:
                parts.append(self.pooled_history(emb, tf.cast(inputs["history"], tf.int32)))
            if self.spec.dense:
                parts.append(tf.transpose(tf.cast(inputs["dense"], emb.dtype), (1, 0, 2)))
            h = tf.concat(parts, axis=-1)
            for i in range(self.n_layers):
                z = tf.matmul(h, self.w[f"kernel_{i}"]) + self.w[f"bias_{i}"][:, None, :]
                if i == self.n_layers - 1:
                    h = z
                    break
                if self.norm == "layer":  # per example and replica, over the layer's units
                    mean, var = tf.nn.moments(z, axes=[-1], keepdims=True)
                    z = (z - mean) * tf.math.rsqrt(var + 1e-5)
                    z = z * self.w[f"ln_scale_{i}"][:, None, :] + self.w[f"ln_shift_{i}"][:, None, :]
                z = tf.nn.relu(z)
                h = h + z if (self.residual and i > 0) else z
            logit = h[..., 0]
            if self.kind == "fm":
                logit = logit + fm_term(emb)
            return tf.transpose(logit)  # (B, K)

    return ClickModel()
