"""Chapter 01 exercises: network depth (parameter counts, the one-standard-error rule, early stopping)."""
from __future__ import annotations

import math

from .core import Case, FunctionQuestion, ThoughtQuestion, questions

# --------------------------------------------------------------------------- q1


def _mlp_parameters(sizes):
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _weights_only(sizes):
    # a typical mistake: forgetting that every output unit of a layer has a bias
    return sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _biases_per_input(sizes):
    # a typical mistake: one bias per *input* unit instead of per output unit
    return sum((n_out + 1) * n_in for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _square_layers(sizes):
    # a typical mistake: counting width x width for every layer, as if all were as wide as the first hidden one
    width = sizes[1]
    return sum((width + 1) * width for _ in sizes[1:])


q1 = FunctionQuestion(
    """
    **Parameters of an MLP.** `mlp_parameters(sizes)` takes the sizes of a fully connected
    network from input to output, e.g. `[41, 64, 64, 1]` (41 inputs, two hidden layers of 64,
    one output), and returns its number of trainable parameters: every layer has one weight per
    (input, output) pair and one bias per output. This is the count of the dense stack of the
    chapter's model (embeddings not included).
    """,
    _mlp_parameters,
    [([41, 1],), ([41, 64, 1],), ([41, 64, 64, 1],), ([10, 5, 3, 1],), ([2, 3],), ([41] + [64] * 6 + [1],)],
    hints=[
        "A dense layer from n_in to n_out units holds an n_in x n_out weight matrix plus n_out biases.",
        "Pair each size with the next one: `zip(sizes[:-1], sizes[1:])`, and add `(n_in + 1) * n_out` per pair.",
    ],
    wrong_answers=[_weights_only, _biases_per_input, _square_layers],
)

# --------------------------------------------------------------------------- q2


def _one_se_depth(means, ses):
    best = max(range(len(means)), key=lambda d: means[d])
    bar = means[best] - ses[best]
    return min(d for d in range(len(means)) if means[d] >= bar)


def _best_depth(means, ses):
    # a typical mistake: the depth with the highest mean, ignoring that seeds make the means noisy
    return max(range(len(means)), key=lambda d: means[d])


def _own_se(means, ses):
    # a typical mistake: giving every depth its own error bar instead of measuring against the best's
    best = max(means)
    return min(d for d in range(len(means)) if means[d] + ses[d] >= best)


def _two_se(means, ses):
    # a typical mistake: a band of two standard errors
    best = max(range(len(means)), key=lambda d: means[d])
    return min(d for d in range(len(means)) if means[d] >= means[best] - 2 * ses[best])


q2 = FunctionQuestion(
    """
    **Pick a depth by the one-standard-error rule.** `one_se_depth(means, ses)` gets, for
    depths 0, 1, 2, ... (the list index), the mean test AUC over seeds and its standard error.
    Return the **smallest** depth whose mean is at least `best mean - SE of the best depth`.
    (`depth.simplest_within_one_se` does this on a sweep table.)
    """,
    _one_se_depth,
    [
        ([0.70, 0.75, 0.76, 0.758], [0.002, 0.003, 0.012, 0.004]),
        ([0.70, 0.75, 0.76, 0.758], [0.002, 0.003, 0.002, 0.004]),
        ([0.74, 0.738, 0.741, 0.733], [0.001, 0.004, 0.0005, 0.003]),
        ([0.72, 0.74, 0.745, 0.75, 0.749], [0.01, 0.01, 0.004, 0.003, 0.02]),
        ([0.60, 0.70, 0.72, 0.73], [0.001, 0.03, 0.001, 0.0049]),
        ([0.70], [0.01]),
    ],
    hints=[
        "First find the depth with the best mean and read off its standard error; that gives one bar for all.",
        "Then walk the depths from 0 upwards and return the first whose mean reaches `best - se_best`.",
    ],
    wrong_answers=[_best_depth, _own_se, _two_se],
)

# --------------------------------------------------------------------------- q3


def _early_stopping(val_losses, patience):
    best, best_epoch, wait = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def _global_minimum(val_losses, patience):
    # a typical mistake: the lowest loss of the whole curve, as if training never stopped early
    best = min(range(len(val_losses)), key=lambda i: val_losses[i]) + 1
    return best, min(best + patience, len(val_losses))


def _zero_based(val_losses, patience):
    # a typical mistake: Keras logs epochs from 0, the chapter counts them from 1
    best_epoch, run = _early_stopping(val_losses, patience)
    return best_epoch - 1, run - 1


def _counts_ties_as_better(val_losses, patience):
    # a typical mistake: an equal loss is not an improvement, but this resets the patience on it
    best, best_epoch, wait = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss <= best:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


q3 = FunctionQuestion(
    """
    **When does early stopping stop?** `early_stopping(val_losses, patience)` gets the
    validation loss a model *would* have after epochs 1, 2, 3, ... and the patience. Like
    Keras' `EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)`,
    training stops after `patience` epochs in a row without a strictly lower loss than the
    best so far. Return `(best_epoch, epochs_run)`, both counted from 1: the epoch whose
    weights are kept, and how many epochs were trained. If it never stops, it runs them all.
    """,
    _early_stopping,
    [
        ([0.60, 0.55, 0.53, 0.54, 0.56, 0.57], 2),
        ([0.60, 0.55, 0.56, 0.57, 0.50, 0.49], 2),
        ([0.60, 0.55, 0.56, 0.54, 0.57, 0.58, 0.59], 2),
        ([0.60, 0.55, 0.55, 0.55, 0.50], 2),
        ([0.60, 0.58, 0.57, 0.56], 2),
        ([0.50, 0.51, 0.49, 0.52, 0.53, 0.54], 1),
        (Case(([0.7, 0.6, 0.65, 0.61, 0.62, 0.59, 0.58],), {"patience": 3})),
    ],
    hints=[
        "Walk the epochs from 1, remembering the best loss, its epoch, and how many epochs have passed since it.",
        "An epoch that is not strictly better adds one to the wait; when the wait reaches `patience`, "
        "stop there: that epoch is `epochs_run`. A better epoch resets the wait to 0.",
    ],
    wrong_answers=[_global_minimum, _zero_based, _counts_ties_as_better],
)

# --------------------------------------------------------------------------- q4

q4 = ThoughtQuestion(
    """
    **Depth at a bigger scale.** Next quarter your team will have ten times more ratings and a
    budget of twice today's training time. Using what this chapter measured (the depth sweep,
    the data-scale sweep and the dot-product model), what would you try first, what would you
    measure before adopting a deeper network, and which result would change your mind?
    """,
    """
    Start from structure, not depth: the explicit user-movie interaction is cheap (a dot product
    of embeddings the model already has) and targets the behaviour the data is made of, so try it,
    and a wider embedding, first. Depth is a candidate once data grows, because the data-scale
    sweep shows the best depth can move with the amount of data; but measure before adopting it:
    test AUC over several seeds (mean and spread) for each depth on the larger data, the
    one-standard-error choice, epochs to early stopping, time per epoch and multiply-adds per
    example (serving cost). Adopt the deeper model only if its gain is larger than the seed spread
    and pays for its training and serving cost. You would change your mind if, on the bigger data,
    the deeper networks beat the shallow ones by more than one standard error and the
    structure-matched model stops improving.
    """,
    hints=["Look back at which depth the one-standard-error rule chose at 10%, 30% and 100% of the data."],
)

QUESTIONS = questions(globals())
