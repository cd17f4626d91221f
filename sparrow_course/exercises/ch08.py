"""Chapter 08 exercises: Spark's bucket hash by hand, a wider bucket and more partitions predicted and measured,
scaling read off and changed, a cluster."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .core import Case, ChoiceQuestion, FunctionQuestion, ThoughtQuestion, questions


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
    BucketedRandomProjectionLSH with direction `r` and bucket length `w`. The inputs are plain
    Python lists, not numpy arrays: `x` a list of rows (each a list of floats), `r` a list of
    floats as long as a row, `w` a positive float. Return a list of ints, one per row. Spark
    scales `r` to unit length, projects, divides by `w` and takes the floor; it adds no random
    offset.
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


# --------------------------------------------------------------------------- q2: a wider bucket

q2 = ChoiceQuestion(
    """
    Predict, then measure. Section 4 measured Spark's LSH with SparrowRecSys's bucket length
    0.1 and 3 tables. Refit it on the same item vectors with a bucket four times wider,
    `lsh_wide = S.fit_lsh(result["vectors"], bucket_length=0.4, seed=SEED)` (still 3 tables),
    and measure it as section 4 did: `S.lsh_recall(lsh_wide, result["vectors"], k=10,
    queries=LSH_QUERIES, seed=SEED)`. Compared with section 4's table, what happens to
    recall@10 and to `candidate_share` (the share of the catalogue each query examines)?
    Answer with the option's letter, a string.
    """,
    options={"a": "recall@10 rises while candidate_share stays within 10% of its old value",
             "b": "recall@10 rises, and candidate_share more than doubles",
             "c": "recall@10 falls, because wider buckets mix far items into each query's top 10",
             "d": "nothing changes: the bucket length only rescales the bucket numbers"},
    answer="b",
    why_wrong={"a": "A wider bucket holds every item whose projection falls in a longer stretch: more candidates, "
                    "not the same number. Measure candidate_share.",
               "c": "Each query's top 10 is ranked by exact distance among its candidates, so extra far candidates "
                    "cannot push a true neighbour out; they only cost work.",
               "d": "The bucket numbers are floor(projection / w): a larger w puts more projections under one "
                    "number, so more items share each bucket."},
    hints=[
        "Two items are candidates when their projections fall between the same two bucket edges in some table; "
        "think about what happens to that chance, for near and for far items, as the edges move apart.",
        "Compare both rows of the two `S.lsh_recall` tables: the recall and the share of the catalogue examined.",
    ],
    solution="""
    In code: `lsh_wide = S.fit_lsh(result["vectors"], bucket_length=0.4, seed=SEED)` then
    `S.lsh_recall(lsh_wide, result["vectors"], k=10, queries=LSH_QUERIES, seed=SEED)`. Recall@10 rises,
    and so does the work: each query now examines far more of the catalogue than with 0.1.
    """,
    explanation="A wider bucket raises the collision chance of near and far items alike, so recall is bought "
                "with work; chapter 07's recall-against-work curve is that trade-off.",
)


# --------------------------------------------------------------------------- q3: partitions

q3 = ChoiceQuestion(
    """
    Predict, then measure. Train Spark's Word2Vec on the same sequences with two partitions
    instead of one, same seed: `two = S.item_vectors(S.train_item2vec(result["sequences"],
    max_iter=MAX_ITER, partitions=2, seed=SEED))`. Compare it with the one-partition vectors
    `result["vectors"]`: the vectors themselves (`S.to_numpy_vectors` of both, then `np.allclose`)
    and their neighbours (`S.neighbour_overlap` on the two (ids, matrix) pairs). Which is it?
    Answer with the option's letter, a string.
    """,
    options={"a": "the same vectors, to the last digits: the partitions only share out the work",
             "b": "different vectors, whose neighbours still agree far above chance",
             "c": "unrelated vectors: neighbour overlap at chance level"},
    answer="b",
    why_wrong={"a": "Each partition trains its own copy on its own share of the sentences; how are the copies made "
                    "one model again? Run `np.allclose` on the two matrices.",
               "c": "Both runs learn from the same sentences, so the strongest neighbours come out in both; compare "
                    "the overlap with the `chance` value `S.neighbour_overlap` returns."},
    hints=[
        "Spark ML's Word2Vec trains one model per partition, on that partition's sentences only.",
        "Look at both numbers: whether `np.allclose` holds, and the overlap against its chance level.",
    ],
    solution="""
    (b). `np.allclose(S.to_numpy_vectors(two)[1], S.to_numpy_vectors(result["vectors"])[1])` is False, while
    `S.neighbour_overlap(*S.to_numpy_vectors(two), *S.to_numpy_vectors(result["vectors"]))` is many times its
    chance level: the partial models are averaged after every iteration, a different training run rather than
    a faster copy of the same one, which learns the same strong neighbours.
    """,
    explanation="The partition count is part of Word2Vec's result in Spark: parallel training changes the vectors, "
                "so raise it on a cluster only after measuring what it does to quality.",
)


# --------------------------------------------------------------------------- q4: scaling, read off

def _speedup(table, step):
    """How many times less time per record the largest log takes than the smallest, for one step."""
    rows = table[table["step"] == step].sort_values("records")
    per_record = rows["seconds"] / rows["records"]
    return float(per_record.iloc[0] / per_record.iloc[-1])


def _seconds_ratio(table, step):  # typical mistake: compares total seconds, not seconds per record
    rows = table[table["step"] == step].sort_values("records")
    return float(rows["seconds"].iloc[-1] / rows["seconds"].iloc[0])


def _inverted(table, step):  # typical mistake: largest over smallest
    rows = table[table["step"] == step].sort_values("records")
    per_record = rows["seconds"] / rows["records"]
    return float(per_record.iloc[-1] / per_record.iloc[0])


def _all_steps(table, step):  # typical mistake: forgets to keep only the asked step
    rows = table.groupby("records", as_index=False)["seconds"].sum().sort_values("records")
    per_record = rows["seconds"] / rows["records"]
    return float(per_record.iloc[0] / per_record.iloc[-1])


def _table(records, seconds_by_step):
    rows = [{"factor": i + 1, "records": r, "step": step, "seconds": seconds[i]}
            for step, seconds in seconds_by_step.items() for i, r in enumerate(records)]
    return pd.DataFrame(rows)


q4 = FunctionQuestion(
    """
    Write `per_record_speedup(table, step)`: `table` is a pandas DataFrame shaped like section 5's
    scaling table (columns `records`, `step`, `seconds`; one row per log size and step, rows in
    any order), `step` a string such as `"item2vec"`. Return, as a float, how many times LESS
    time per record the largest log takes than the smallest for that step (above 1 means the
    per-record cost fell).
    """,
    _speedup,
    [
        Case((_table([100, 400, 1600], {"item2vec": [2.0, 6.0, 24.0], "user embeddings": [2.0, 3.0, 6.0]}),
              "user embeddings")),
        Case((_table([1600, 100], {"item2vec": [32.0, 2.0], "positive sequences": [4.0, 1.0]}), "item2vec")),
        Case((_table([240_000, 960_000], {"positive sequences": [4.0, 6.0], "item2vec": [3.0, 9.0]}),
              "positive sequences")),
    ],
    hints=[
        "Keep only the rows of the asked step; then time per record is seconds divided by records.",
        "Sort those rows by `records` first (they may come in any order), then divide the smallest log's "
        "per-record time by the largest log's.",
    ],
    wrong_answers=[_seconds_ratio, _inverted, _all_steps],
    explanation="Fixed costs (starting jobs, scheduling tasks) are paid once per job, so per-record cost "
                "falls as data grows until the cores are saturated; a step whose ratio stays near 1 grows linearly.",
)


# --------------------------------------------------------------------------- q5: scaling, changed

q5 = ChoiceQuestion(
    """
    Predict, then measure. Section 5 timed the steps with one Word2Vec iteration
    (`max_iter=1`); SparrowRecSys trains ten. Rerun the measurement with three:
    `S.scaling_experiment(spark, result["ratings"], (1, 4), max_iter=3, warm_up=False)`, and look
    at item2vec's share of the time on the largest log (`S.scaling_exponents(...)`, column
    `share_of_time_at_largest`) against section 5's. Which is it? Answer with the option's
    letter, a string.
    """,
    options={"a": "item2vec's share rises: each iteration is another pass over every sentence, on one core",
             "b": "item2vec's share stays the same: the iterations run in parallel on the partitions",
             "c": "item2vec's share falls: the extra iterations reuse the cached sequences"},
    answer="a",
    why_wrong={"b": "With `partitions=1` Spark's Word2Vec trains on one task, so iterations follow one another; "
                    "look at the item2vec row's seconds in both tables.",
               "c": "Caching saves re-reading the sequences, not the training itself: each iteration still "
                    "updates the vectors word by word. Compare item2vec's seconds in both tables."},
    hints=[
        "Ask what an iteration of Word2Vec does and which of the three steps it belongs to.",
        "The other two steps do not depend on `max_iter`; only one row of the table can change much.",
    ],
    solution="""
    (a). In code: `more = S.scaling_experiment(spark, result["ratings"], (1, 4), max_iter=3, warm_up=False)`,
    then `S.scaling_exponents(more)`: item2vec's seconds grow with the iterations while sequences and pooling
    take what they took, so item2vec's share of the time rises above section 5's.
    """,
    explanation="Word2Vec's cost is iterations times words on one core, the serial part of the pipeline; by "
                "Amdahl's law it caps what more machines can save.",
)


# --------------------------------------------------------------------------- q6: a real cluster

q6 = ThoughtQuestion(
    """
    The pipeline moves to a cluster of 10 machines with 8 cores each, on a log 100 times larger.
    Which steps of the pipeline speed up with the extra machines, which do not, and what would
    you change in the code (only settings) to make use of them? Answer in a string.
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
