"""Chapter 08 exercises: Spark's bucket hash by hand, tables and partitions predicted, scaling read off, a cluster."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .core import Case, FunctionQuestion, ThoughtQuestion, ValueQuestion, questions


# --------------------------------------------------------------------------- q1: Spark's bucket hash

def _spark_buckets(x, r, w):
    """Spark's BucketedRandomProjectionLSH hash of each row of x: floor(x . r_unit / w)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    r = np.asarray(r, dtype=float)
    unit = r / np.linalg.norm(r)
    return np.floor(x @ unit / w).astype(int).tolist()


def _unnormalised(x, r, w):  # typical mistake: r used as drawn, not scaled to unit length
    x = np.atleast_2d(np.asarray(x, dtype=float))
    return np.floor(x @ np.asarray(r, dtype=float) / w).astype(int).tolist()


def _rounded(x, r, w):  # typical mistake: round to the nearest bucket instead of floor
    x = np.atleast_2d(np.asarray(x, dtype=float))
    r = np.asarray(r, dtype=float)
    return np.round(x @ (r / np.linalg.norm(r)) / w).astype(int).tolist()


q1 = FunctionQuestion(
    """
    Write `spark_buckets(x, r, w)`: the bucket of each row of `x` under Spark's
    BucketedRandomProjectionLSH with direction `r` and bucket length `w`, as a list of ints.
    Spark scales `r` to unit length, projects, divides by `w` and takes the floor; it adds no
    random offset.
    """,
    _spark_buckets,
    [
        Case(([[0.3, 0.4]], [3.0, 4.0], 0.1)),
        Case(([[1.0, 0.0], [-0.05, 0.0], [0.25, 2.0]], [2.0, 0.0], 0.1)),
        Case(([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], [1.0, -2.0, 2.0], 0.5)),
    ],
    hints=[
        "Three steps per row: a dot product with the unit-length direction, a division by w, a floor.",
        "`np.floor` rounds towards minus infinity, so a projection of -0.05 with w = 0.1 lands in bucket -1.",
    ],
    wrong_answers=[_unnormalised, _rounded],
    explanation="Two points share a bucket only if their projections fall between the same two fixed edges; "
                "that is the edge problem chapter 07 fixes with a random offset.",
)


# --------------------------------------------------------------------------- q2: fewer tables

q2 = ValueQuestion(
    """
    Fit Spark's LSH with `num_hash_tables=1` instead of 3 (same seed) and measure recall@10 with
    `S.lsh_recall` as in the notebook. Compared with 3 tables, is recall@10 'higher', 'lower' or
    'the same'? Answer with one of those strings.
    """,
    "lower",
    hints=[
        "A candidate is an item that shares a bucket with the query in at least ONE table.",
        "With the same seed, Spark draws the same first direction, so one table's candidates are a "
        "subset of three tables' candidates.",
    ],
    solution="""
    'lower'. In code: `S.lsh_recall(S.fit_lsh(result["vectors"], num_hash_tables=1, seed=SEED), result["vectors"],
    queries=LSH_QUERIES, seed=SEED)["recall@10"]` comes out below the 3-table figure of section 4, and so does
    `candidate_share`: with one table, a neighbour across one fixed bucket edge is simply lost.
    """,
    wrong_answers=["higher", "the same"],
    explanations={"higher": "Fewer tables cannot add candidates: the OR runs over fewer buckets.",
                  "the same": "Run it: the OR over three tables finds neighbours that one table misses."},
    explanation="OR-ing tables only adds candidates, so recall can only fall as tables are removed, and "
                "the work per query falls with it: the trade-off chapter 07 measures.",
)


# --------------------------------------------------------------------------- q3: partitions

q3 = ValueQuestion(
    """
    Train Spark's Word2Vec on the same sequences with `partitions=2` instead of 1 (same seed):
    `S.train_item2vec(result["sequences"], partitions=2, seed=SEED)`. Are the item vectors
    identical to the one-partition vectors? Answer `True` or `False`.
    """,
    False,
    hints=[
        "Spark ML's Word2Vec trains one model per partition on that partition's sentences.",
        "Compare `S.to_numpy_vectors(...)` of both models with `np.allclose`.",
    ],
    solution="""
    `False`. `np.allclose(S.to_numpy_vectors(S.item_vectors(two))[1], S.to_numpy_vectors(result["vectors"])[1])`
    is False for `two = S.train_item2vec(result["sequences"], partitions=2, seed=SEED)`: the two partial models
    are averaged after every iteration, which is a different training run, not a faster copy of the same one.
    """,
    wrong_answers=[True],
    explanation="Each partition trains on its own share and the partial models are averaged, so the "
                "partition count is part of the result: the price of parallel training.",
)


# --------------------------------------------------------------------------- q4: scaling

def _speedup(table):
    """How many times less time per record the largest log takes than the smallest."""
    table = table.sort_values("records")
    per_record = table["seconds"] / table["records"]
    return float(per_record.iloc[0] / per_record.iloc[-1])


def _seconds_ratio(table):  # typical mistake: compares total seconds, not seconds per record
    table = table.sort_values("records")
    return float(table["seconds"].iloc[-1] / table["seconds"].iloc[0])


def _inverted(table):  # typical mistake: largest over smallest
    table = table.sort_values("records")
    per_record = table["seconds"] / table["records"]
    return float(per_record.iloc[-1] / per_record.iloc[0])


def _table(records, seconds):
    return pd.DataFrame({"factor": np.arange(1, len(records) + 1), "records": records, "seconds": seconds})


q4 = FunctionQuestion(
    """
    Write `per_record_speedup(table)`: given a scaling table with columns `records` and
    `seconds` (one row per log size, in any order), return how many times LESS time per record
    the largest log takes than the smallest (a float; above 1 means per-record cost fell).
    """,
    _speedup,
    [
        Case((_table([100, 400, 1600], [2.0, 3.0, 6.0]),)),
        Case((_table([1600, 100], [32.0, 2.0]),)),
        Case((_table([240_000, 960_000], [4.0, 6.0]),)),
    ],
    hints=[
        "Time per record is seconds / records; compute it for the smallest and the largest log.",
        "Sort by `records` first: the rows may come in any order.",
    ],
    wrong_answers=[_seconds_ratio, _inverted],
    explanation="Fixed costs (starting jobs, scheduling tasks) are paid once per job, so per-record cost "
                "falls as data grows until the cores are saturated.",
)


# --------------------------------------------------------------------------- q5: a real cluster

q5 = ThoughtQuestion(
    """
    The pipeline moves to a cluster of 10 machines with 8 cores each, on a log 100 times larger.
    Which steps of the pipeline speed up with the extra machines, which do not, and what would
    you change in the code (only settings) to make use of them?
    """,
    """
    - **Positive sequences and user pooling** are group-bys with a shuffle: they split into one
      task per partition, so they scale out; raise `spark.sql.shuffle.partitions` (to a few times
      the 80 cores) so every core has work.
    - **Reading** scales with the number of input splits: store the log as many files (Parquet)
      rather than one CSV.
    - **Word2Vec** with `partitions=1` trains on one core whatever the cluster; more partitions
      train in parallel but average partial models, which changes (usually lowers) quality, so
      raise it with care and measure.
    - **LSH**: hashing is per row and scales; `approxSimilarityJoin` shuffles candidate pairs and
      can explode on crowded buckets; `approxNearestNeighbors` is one job per query, so batch
      queries with the join instead.
    - Only the master URL (or `spark-submit --master ...`) and memory settings change; the code stays.
    """,
    hints=["Look at which steps group by a key (a shuffle) and which one trains a single model."],
    explanation="Scaling out pays for data-parallel steps; a model trained on one partition stays serial.",
)


QUESTIONS = questions(globals())
