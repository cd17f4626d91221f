"""Chapter 07 exercises: LSH tables for a target, an amplification run, pooling and cosine, Spark's settings, two towers, where b pays."""
from __future__ import annotations

import math

from .. import lsh
from ..seeding import DEFAULT_SEED
from .core import ChoiceQuestion, FunctionQuestion, ThoughtQuestion, ValueQuestion, questions

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

q3 = ChoiceQuestion(
    """
    **Sum instead of mean.** Rerun the chapter's user-to-item recall of section 1 with **sum**
    pooling instead of mean pooling, scored by **centred cosine**: pool with
    `embeddings.pool_user_vectors(train, model, pooling="sum", centre=True)` and score with
    `embeddings.fit_embedding_channel`, or pass `poolings=("sum",)` to
    `user_embeddings.user_embedding_experiment`. How does recall@20 compare with mean pooling's?
    Predict before you run it, and answer with the option's letter (a string such as `"a"`).
    """,
    options={"a": "higher: active users' longer sums weigh more",
             "b": "lower: summed vectors drift away from the items",
             "c": "the same"},
    answer="c",
    why_wrong={"a": "Active users' sums are longer, but a longer vector does not weigh more under cosine: "
                    "cosine divides by the length.",
               "b": "Summing turns no vector away from the items: each liked film's vector is added once, as in "
                    "the mean, and only the total length differs."},
    hints=[
        "Write a user's summed vector in terms of the same user's mean vector.",
        "Compare cos(u, v) with cos(c u, v) for a number c > 0.",
    ],
    solution="""
    "c", the same. `pool_user_vectors(..., pooling="sum", centre=True)` gives every user n x their mean
    vector (n = the user's liked items, a positive number); the centred cosine divides by the vector's
    length, so every user's ranking, and recall@20, is unchanged.
    """,
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
        "Spark's hash projects on a unit-length direction, so its collision chance is not the p-stable "
        "p(c): section 3 derives the one that fits.",
        "First the chance for one table; then the pair is missed only if every one of the 3 tables misses it.",
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

# --------------------------------------------------------------------------- q6: where the offset pays, on other vectors

_Q6_SETTINGS = {"a": (0.3, 1), "b": (10.0, 1), "c": (0.3, 3), "d": (10.0, 3)}


def _offset_vectors():
    import numpy as np

    x = lsh.clustered_vectors(4200, 10, n_clusters=30, seed=DEFAULT_SEED)
    x = x - x.mean(axis=0)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _offset_winner() -> str:
    x = _offset_vectors()
    table = lsh.offset_experiment(x[:4000], x[4000:], width_ratios=(0.3, 10.0), tables=(1, 3), seed=DEFAULT_SEED)
    pays = table["gain"] > 2 * table["gain_se"]
    found = [letter for letter, (ratio, L) in _Q6_SETTINGS.items()
             if pays[(table["width_over_spread"] == ratio) & (table["n_tables"] == L)].any()]
    return found[0] if len(found) == 1 else "e"


q6 = ChoiceQuestion(
    """
    **Where does b pay, on other vectors?** Make 4,200 clustered vectors of dimension 10, centred
    and scaled to unit length as the chapter's movie vectors are:
    `X = lsh.clustered_vectors(4200, 10, n_clusters=30, seed=SEED)`, then `X = X - X.mean(axis=0)` and
    `X /= np.linalg.norm(X, axis=1, keepdims=True)`. Index the first 4,000, query with the last 200:
    `lsh.offset_experiment(X[:4000], X[4000:], width_ratios=(0.3, 10.0), tables=(1, 3), seed=SEED)`.
    Predict first from section 3b, then measure: in which single setting does the offset raise
    recall@10 by more than two standard errors (`gain > 2 * gain_se`)? Answer with the option's
    letter (a string).
    """,
    options={"a": "w = 0.3 x spread, 1 table", "b": "w = 10 x spread, 1 table", "c": "w = 0.3 x spread, 3 tables",
             "d": "w = 10 x spread, 3 tables", "e": "none, or more than one"},
    answer=_offset_winner,
    why_wrong={
        "a": "With buckets narrower than the crowd of projections, the positions of the points relative to the "
             "edges are already spread out: a fixed edge costs no more than a moved one. Look at its gain_se.",
        "b": "Measure again: that is where the fixed edge at 0 falls in the middle of the crowd.",
        "c": "Fine buckets and several directions: each table's edges already fall elsewhere relative to the pairs.",
        "d": "With three coarse tables nearly every neighbour is a candidate with or without b: there is almost "
             "nothing left to gain.",
        "e": "Run the experiment and compare each row's gain with twice its gain_se.",
    },
    hints=[
        "Where does Spark's hash put an edge for every direction, and where do centred vectors project?",
        "A coarse bucket, as wide as the whole crowd of projections, leaves one edge in play: the one at 0.",
        "Run the call in the prompt and keep the rows with `table.gain > 2 * table.gain_se`.",
    ],
    solution="""
    "b". The offset matters only when one table's buckets are as wide as the whole spread of the
    projections: then Spark's fixed edge at 0 splits the centred crowd in half, in every draw of the
    direction, and b moves it out of the way (recall rises, and so does the share of items examined).
    With narrow buckets, or already with three tables, the gain is within noise. `table =
    lsh.offset_experiment(...)`, then `table[table.gain > 2 * table.gain_se]`.
    """,
    explanation="In d dimensions each table's own direction moves the edges relative to the pairs; the edge "
                "that never moves is the one at 0, and it only hurts when buckets are as wide as the data.",
    reruns_experiment=True,
)

QUESTIONS = questions(globals())
