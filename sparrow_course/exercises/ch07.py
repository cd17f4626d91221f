"""Chapter 07 exercises: LSH tables for a target, an amplification run, pooling and cosine, Spark's settings, two towers."""
from __future__ import annotations

import math

from .. import lsh
from ..seeding import DEFAULT_SEED
from .core import FunctionQuestion, ThoughtQuestion, ValueQuestion, questions

# --------------------------------------------------------------------------- q1: tables for a target


def _tables_needed(p, k, target):
    return math.ceil(math.log(1 - target) / math.log(1 - p ** k))


def _tables_floor(p, k, target):
    # a typical mistake: rounding down, which falls just short of the target
    return math.floor(math.log(1 - target) / math.log(1 - p ** k))


def _tables_p_not_pk(p, k, target):
    # a typical mistake: one function per table (p instead of p^k)
    return math.ceil(math.log(1 - target) / math.log(1 - p))


def _tables_linear(p, k, target):
    # a typical mistake: adding the tables' chances, L * p^k >= target
    return math.ceil(target / p ** k)


q1 = FunctionQuestion(
    """
    **How many tables for a target?** A pair collides in one hash function with probability `p`;
    a table ANDs `k` functions, and L tables are OR-ed. Write `tables_needed(p, k, target)`
    returning the **smallest whole number L** of tables for which the pair becomes a candidate
    with probability at least `target` (0 < p < 1, 0 < target < 1).
    """,
    _tables_needed,
    [(0.8, 4, 0.9), (0.5, 2, 0.95), (0.9, 10, 0.99), (0.3, 1, 0.5), (0.7, 6, 0.8)],
    hints=[
        "Write the chance that the pair is missed by all L tables, and ask when it is at most 1 - target.",
        "Missed by one table: 1 - p**k. By all L: (1 - p**k)**L. Take logarithms, and round the right way.",
    ],
    wrong_answers=[_tables_floor, _tables_p_not_pk, _tables_linear],
    explanation="(1 - p^k)^L <= 1 - target gives L >= log(1 - target) / log(1 - p^k): AND-ing makes each "
                "table picky, OR-ing many tables wins the near pairs back.",
)

# --------------------------------------------------------------------------- q2: measure an amplification


def _measured_rate() -> float:
    table = lsh.amplification_experiment(((3, 6),), (1.0,), seed=DEFAULT_SEED)
    return round(float(table["candidate_rate"].iloc[0]), 2)


q2 = ValueQuestion(
    """
    **Measure an amplification you have not seen.** Run the chapter's amplification experiment
    for **k = 3, L = 6** at **c/w = 1.0** only, with the chapter's seed and otherwise default
    settings: `lsh.amplification_experiment(((3, 6),), (1.0,), seed=SEED)`. What share of the
    pairs became candidates (the `candidate_rate` column), **to 2 decimals**? Predict it from
    the formula first.
    """,
    _measured_rate,
    decimals=2,
    hints=[
        "The function returns a table with one row; read its `candidate_rate`.",
        "Your prediction: p(c) at c = w is `lsh.collision_probability(1.0, 1.0)`, then 1 - (1 - p**3)**6.",
    ],
    wrong_answers=[0.37, 0.0, 1.0],
    explanations={0.37: "That is the collision probability of a single function at c = w, not the rate "
                        "after AND-ing 3 and OR-ing 6 tables."},
    explanation="The measured rate sits within a couple of standard errors of 1 - (1 - p^3)^6: the index "
                "does what the theory says.",
)

# --------------------------------------------------------------------------- q3: sum pooling and cosine

q3 = ValueQuestion(
    """
    **Sum instead of mean.** Rerun the chapter's user-to-item recall with **sum** pooling
    instead of mean pooling, scored by **centred cosine** (`pool_user_vectors(...,
    pooling="sum", centre=True)`). Is recall@20 `"higher"`, `"lower"` or `"the same"`?
    Answer with one of the three strings; predict before you run it.
    """,
    "the same",
    hints=[
        "How does a user's summed vector relate to the same user's mean vector?",
        "The sum is the mean times the number of liked items: a positive number. What does cosine do with length?",
    ],
    solution="""
    "the same". `pool_user_vectors(..., pooling="sum", centre=True)` gives every user n x their mean vector
    (n = the user's liked items, a positive number); the centred cosine divides by the vector's length, so
    every user's ranking, and recall@20, is unchanged.
    """,
    wrong_answers=["higher", "lower"],
    explanations={"higher": "Active users' sums are longer, but cosine divides the length away.",
                  "lower": "Active users' sums are longer, but cosine divides the length away."},
    explanation="Sum = n x mean points the same way, and cosine ignores length; sum pooling only matters "
                "under a dot product (or an LSH on raw Euclidean distance).",
)

# --------------------------------------------------------------------------- q4: SparrowRecSys's Spark settings


def _spark_share() -> float:
    p = lsh.spark_collision_probability(0.05, 0.1, 10)
    return round(float(lsh.candidate_probability(p, 1, 3)), 3)


def _spark_one_table() -> float:
    return round(float(lsh.spark_collision_probability(0.05, 0.1, 10)), 3)


def _pstable_share() -> float:
    return round(float(lsh.candidate_probability(lsh.collision_probability(0.05, 0.1), 1, 3)), 3)


q4 = ValueQuestion(
    """
    **SparrowRecSys's Spark settings.** Its LSH is Spark's `BucketedRandomProjectionLSH` with
    bucket length **0.1** and **3** hash tables (one function each), on **10**-dimensional item
    vectors. For two items at Euclidean distance **0.05**, what is the chance that they become
    candidates of each other (share a bucket in at least one of the 3 tables), by the chapter's
    theory for the Spark-style hash, **to 3 decimals**?
    """,
    _spark_share,
    decimals=3,
    hints=[
        "Spark's hash uses a unit-length direction, so its collision chance is not p(c) of the p-stable "
        "hash: the chapter has a function for it.",
        "`lsh.spark_collision_probability(c, w, dim)` for one table, then OR 3 tables with "
        "`lsh.candidate_probability(p, 1, 3)`.",
    ],
    wrong_answers=[_spark_one_table(), _pstable_share()],
    explanations={_spark_one_table(): "That is one table; the 3 tables are OR-ed.",
                  _pstable_share(): "That uses the p-stable p(c), whose Gaussian direction is about sqrt(10) "
                                  "times longer than Spark's unit one."},
    explanation="A unit direction shrinks projected gaps by about sqrt(dim), so even 0.1 buckets hold "
                "pairs at 0.05 most of the time; 3 tables make it nearly certain.",
)

# --------------------------------------------------------------------------- q5: two towers

q5 = ThoughtQuestion(
    """
    **Two towers, one index?** A colleague trains a two-tower model: a user tower and an item
    tower, trained together so that the dot product of their outputs predicts a click. She also
    has item2vec vectors of the same items. She proposes to build the LSH index on the item2vec
    vectors and query it with the user tower's outputs. What goes wrong, what would you index
    instead, and what could you do if you had to use the item2vec index?
    """,
    """
    The user tower's outputs live in the two-tower model's space, not in item2vec's: like the
    chapter's independently trained run, their coordinates mean nothing against item2vec's, so
    nearest items by LSH would be close to chance. Index the item tower's outputs: the model
    trained user and item vectors against each other, so their dot product (or, after
    normalising, their distance) is what it learned to score. If the item2vec index must be
    used, either pool each user's vector from item2vec vectors of liked items (the chapter's
    shared space), or learn a map from the user tower's space into item2vec's, as Procrustes
    did for two item2vec runs, and check on held-out data that it recovers the recall.
    """,
    hints=["Which model made each of the two vectors, and what did each model learn to compare?"],
    explanation="Similarity is only meaningful between vectors one model trained against each other.",
)

QUESTIONS = questions(globals())
