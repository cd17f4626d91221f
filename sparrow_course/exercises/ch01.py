"""Chapter 01 exercises: parameter counts, the one-standard-error rule, and experiments to rerun."""
from __future__ import annotations

from .core import ChoiceQuestion, FunctionQuestion, ThoughtQuestion, ValueQuestion, questions

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
        "A dense layer from n_in to n_out units has one weight per (input, output) pair: how many biases?",
        "Pair each size with the next one, `zip(sizes[:-1], sizes[1:])`, and add up each pair's count.",
    ],
    wrong_answers=[_weights_only, _biases_per_input, _square_layers],
    explanation="Every layer costs (inputs + 1) x outputs; depth adds width x (width + 1) per layer, so cost "
                "grows linearly with depth while, past a point, quality does not.",
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
    **Pick a depth by the one-standard-error rule (一倍标准误规则).** `one_se_depth(means, ses)` gets, for
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
        "There is one bar for every depth, and it comes from a single depth: which one?",
        "Walk the depths from the simplest upwards; the first that clears the bar is the answer.",
    ],
    wrong_answers=[_best_depth, _own_se, _two_se],
    explanation="The rule pays for a deeper network only when its gain is larger than the noise of the "
                "best mean; the chapter's depth_choice applies it to paired per-seed differences.",
)

# --------------------------------------------------------------------------- transfer tasks: the package runs them

#: the settings every transfer task uses (as the chapter's TRAINING knobs): small, so a check takes seconds
SETTINGS = dict(steps=150, batch_size=1024, learning_rate=1e-2, eval_every=25)
SEEDS = (0, 1, 2)


def _mean_auc(task, d, kind="mlp", column="test_auc", **options):
    from .. import depth

    run = depth.train(task, d, kind=kind, seeds=SEEDS, **{**SETTINGS, **options})
    return float(run.results[column].mean())


def _no_interactions_gain() -> float:
    from .. import depth

    flat = depth.make_click_task(interaction_scale=0, sequence_scale=0)
    return round(_mean_auc(flat, 2) - _mean_auc(flat, 0), 3)


q3 = ValueQuestion(
    """
    **Take the interactions away.** Make the task with nothing for depth to find,
    `depth.make_click_task(interaction_scale=0, sequence_scale=0)` (main effects only), and train
    depths 0 and 2 with `depth.train(task, d, seeds=(0, 1, 2), steps=150, batch_size=1024,
    learning_rate=0.01)`. What is the mean test AUC of depth 2 **minus** that of depth 0 (means over
    the three seeds, column `test_auc`), to 3 decimals?
    """,
    _no_interactions_gain,
    decimals=3,
    wrong_answers=[0.1, -0.05, 0.05],
    hints=[
        "Before running it: what is there left for a hidden layer to represent when the true logit is a sum "
        "of one term per field?",
        "Train both depths on the same task object and subtract the two means of `run.results['test_auc']`.",
    ],
    explanation="With only main effects, depth 0 already represents the truth; hidden layers add parameters "
                "and variance, not quality. Depth pays only where there is non-linear structure.",
    reruns_experiment=True,
)


def _overfitting_loss() -> float:
    from .. import depth

    task = depth.make_click_task()
    run = depth.train(task, 4, seeds=SEEDS, train_size=1000, steps=300, batch_size=256, learning_rate=1e-2,
                      eval_every=5)
    return round(float((run.results["test_auc"] - run.results["test_auc_last"]).mean()), 3)


q4 = ValueQuestion(
    """
    **Overfitting, seen without early stopping.** On the chapter's task (`depth.make_click_task()`),
    train depth 4 on only 1,000 training rows for 300 steps of 256, validating every 5 steps:
    `depth.train(task, 4, seeds=(0, 1, 2), train_size=1000, steps=300, batch_size=256, learning_rate=0.01,
    eval_every=5)`.
    By how much does the test AUC at the last step (`test_auc_last`) fall below the test AUC at the step of
    the lowest validation loss (`test_auc`)? Give the mean over the seeds of `test_auc - test_auc_last`,
    to 3 decimals (positive when the last step is worse).
    """,
    _overfitting_loss,
    decimals=3,
    wrong_answers=[0.0, -0.05, 0.3],
    hints=[
        "300 steps of 256 rows is about 77 passes over 1,000 rows: what happens to the validation loss?",
        "Subtract the two columns of `run.results` row by row, then take the mean.",
    ],
    explanation="Without early stopping a deep net on little data keeps fitting noise after its best step; "
                "selecting the step by validation loss (early stopping) is what saves it.",
    reruns_experiment=True,
)


#: the run of question 5: Adam at depth 16, He's initialisation instead of Glorot's, nothing else changed
DEEP_RUN = dict(seeds=(0, 1, 2, 3), steps=300, batch_size=1024, learning_rate=1e-2, eval_every=25)
SHARES = {"a": 0.0, "b": 0.25, "c": 0.5, "d": 0.75, "e": 1.0}
SHARE_NAMES = {"a": "none of them", "b": "a quarter", "c": "half", "d": "three quarters", "e": "all of them"}


def _he_share_converged() -> str:
    from .. import depth

    task = depth.make_click_task()
    run = depth.train(task, 16, init="he", **DEEP_RUN)
    share = float((run.results["valid_loss_best"] <= depth.loss_targets(task)["target"]).mean())
    return next(k for k, v in SHARES.items() if v == share)


def _why_not(letter: str) -> str:
    return ("Not what the run gives. A seed converges when its lowest validation loss (column `valid_loss_best` "
            "of `run.results`) is at or below `depth.loss_targets(task)['target']`; count those rows. Did you pass "
            "`init=\"he\"` and the depth of the prompt?")


q5 = ChoiceQuestion(
    """
    **Is the initialisation enough?** In the convergence map, Adam with Glorot's initialisation leaves part of
    its seeds stuck at depth 16. Keep Adam, add no normalisation and no residuals, and change only the
    initialisation to He's, which keeps a ReLU layer's signal: on `task = depth.make_click_task()`, run
    `depth.train(task, 16, init="he", seeds=(0, 1, 2, 3), steps=300, batch_size=1024, learning_rate=0.01,
    eval_every=25)`. Which share of the four seeds converges, i.e. reaches a validation loss (`valid_loss_best`)
    at or below `depth.loss_targets(task)["target"]`? Predict before you run it; answer with the option's letter.
    """,
    options=SHARE_NAMES,
    answer=_he_share_converged,
    why_wrong=_why_not,
    hints=[
        "Glorot's scale halves a ReLU layer's signal at constant width; what do sixteen halvings do to the "
        "gradient that reaches the first layers, and what does He's scale change about that?",
        "After the run, compare `run.results['valid_loss_best']` with `depth.loss_targets(task)['target']` and take "
        "the mean of the comparison.",
    ],
    solution="Run the call of the prompt, then `(run.results['valid_loss_best'] <= depth.loss_targets(task)"
             "['target']).mean()`: the share of the four seeds whose best validation loss reaches the target.",
    explanation="At depth 16 the failures come from the initial scale: with a scale that keeps the signal, Adam "
                "trains every seed; normalisation and residuals make a stack robust to the scale as well.",
    reruns_experiment=True,
)

# --------------------------------------------------------------------------- q6

q6 = ThoughtQuestion(
    """
    **Depth at a bigger scale.** Next quarter your platform serves ten times more users and your training
    budget doubles. Using what this chapter measured (the depth sweep with its paired standard errors,
    the best depth against training-set size, the structures against depth, the value of a small AUC gain),
    what would you try first, what would you measure before adopting a deeper network, and which result
    would change your mind?
    """,
    """
    Try structure before depth: the FM cross and DIN's attention target behaviours (feature crosses,
    interest in items like recent ones) and, on the planted task, beat or match every MLP depth for a
    fraction of the extra compute that layers cost; on SparrowLens, where no such behaviour is learnable
    from this much data, none of them helped, so check first that the behaviour is there. Depth comes
    next: the best depth moved up with the training-set size, so with ten times the data a deeper net may
    pay; if it goes well past four layers, train it with normalisation and residual connections (without
    them, Adam left part of the seeds stuck at depth 16). Before adopting it measure, on the new data and
    with paired seeds: test AUC per depth and the
    one-standard-error pick; the learning curves without early stopping (does validation loss still fall
    at the end?); steps to converge and time per step (training budget); multiply-adds per candidate
    (serving cost per request). Adopt the deeper net when its paired gain exceeds its standard error and
    the expected click gain (the chapter's slate measure, priced at the platform's own click rate) is worth
    the serving cost. Change your mind if
    the gain stays inside one standard error, or if the structure-matched model already captures it.
    """,
    hints=["Look back at which depth the paired one-SE rule chose at each training-set size."],
)

QUESTIONS = questions(globals())
