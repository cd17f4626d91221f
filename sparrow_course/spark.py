"""Chapter 08: the course's offline pipeline as Spark jobs, the engine SparrowRecSys runs it on.

SparrowRecSys's offline job (Scala, ``Embedding.scala``) reads ratings, builds each user's
positively rated movies in time order, trains Spark ML ``Word2Vec`` on them, averages item
vectors into user vectors and indexes the items with ``BucketedRandomProjectionLSH``. This
module does the same in PySpark, on DataFrames, so the same code runs on a laptop
(``master="local[2]"``) and on a cluster (change only the master URL, or use spark-submit)::

    spark = start_spark()                                   # local mode, small and quiet
    result = run_pipeline(spark, "data", "out")             # sequences -> item2vec -> users -> LSH
    stop_spark(spark)

PySpark is an optional extra (``pip install -e .[spark]``) and needs a Java runtime:
:func:`java_runtime` says whether one is found and how to install it.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .checks import check_int, check_number, check_seed, check_str
from .datasets import POSITIVE_THRESHOLD, bundled_data_path
from .seeding import DEFAULT_SEED

__all__ = [
    "SparkUnavailable",
    "java_runtime",
    "start_spark",
    "stop_spark",
    "read_ratings",
    "positive_sequences",
    "train_item2vec",
    "item_vectors",
    "user_embeddings",
    "fit_lsh",
    "nearest_items",
    "lsh_candidate_pairs",
    "lsh_recall",
    "write_parquet",
    "stage_report",
    "scaled_ratings",
    "run_pipeline",
    "scaling_experiment",
    "neighbour_overlap",
    "to_numpy_vectors",
]

# PySpark 4 warns on every pandas conversion that pandas 3 is newer than it has been tested
# with; the conversions used here (collecting small result tables) are plain and work.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

_JAVA_HINT = ("Spark needs a Java runtime (17 or newer). On Debian or Ubuntu: "
              "'sudo apt-get install default-jre-headless'; on macOS: 'brew install openjdk'; "
              "with conda: 'conda install -c conda-forge openjdk'. Then make sure 'java' is on PATH "
              "or JAVA_HOME points to it.")

# Quiet log4j2 configuration for the driver: errors only, so notebooks store no JVM chatter.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


class SparkUnavailable(RuntimeError):
    """PySpark or a Java runtime is missing; the message says how to install it."""


def java_runtime() -> dict[str, Any]:
    """Whether a Java runtime is found (JAVA_HOME or PATH), its version line, and how to install one if not."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [Path(java_home) / "bin" / "java"] if java_home else []
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    for java in candidates:
        if java.is_file():
            try:
                done = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                continue
            lines = (done.stderr or done.stdout).strip().splitlines()
            version = lines[0] if lines else "unknown version"
            match = re.search(r'version "(\d+)', version)
            major = int(match.group(1)) if match else None
            return {"found": True, "version": version, "major": major,
                    "ok": major is None or major >= 17, "hint": "" if (major or 17) >= 17 else _JAVA_HINT}
    return {"found": False, "version": "", "major": None, "ok": False, "hint": _JAVA_HINT}


def _require_pyspark():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable("PySpark is not installed: 'pip install -e .[spark]' (or 'pip install pyspark') "
                               "adds it. " + _JAVA_HINT) from None
    java = java_runtime()
    if not java["found"] or not java["ok"]:
        raise SparkUnavailable(("no Java runtime was found. " if not java["found"] else
                                f"Java is too old ({java['version']}). ") + _JAVA_HINT)
    import pyspark
    return pyspark


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at ``path`` while the JVM starts, so the JVM keeps writing its log there."""
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_spark(master: str = "local[2]", *, app_name: str = "sparrow-course", shuffle_partitions: int = 4,
                driver_memory: str = "2g", log_dir: str | os.PathLike[str] | None = None):
    """Start (or reuse) a SparkSession sized for a 2-core laptop, quiet in notebooks.

    ``master`` is the only thing to change for a cluster (``"spark://host:7077"``, ``"yarn"``),
    or leave it to spark-submit. Few shuffle partitions suit small data (the default 200 would
    make 200 tiny tasks per shuffle). The JVM's own log goes to ``log_dir/spark-jvm.log``
    (a temporary folder by default), not into notebook outputs; ``spark.sparrow_log`` holds its path.
    """
    pyspark = _require_pyspark()
    from pyspark.sql import SparkSession

    check_str(master, "master")
    shuffle_partitions = check_int(shuffle_partitions, "shuffle_partitions", low=1, high=10_000)
    if not re.fullmatch(r"\d+[kmgt]", str(driver_memory).lower()):
        raise ValueError(f"driver_memory must look like '2g' or '512m', got {driver_memory!r}")
    folder = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="sparrow-spark-"))
    folder.mkdir(parents=True, exist_ok=True)
    log4j = folder / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    log = folder / "spark-jvm.log"
    # The loopback address keeps Spark from resolving the machine's host name (and warning about it).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    java_options = f"-Dlog4j2.configurationFile=file:{log4j}"
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.default.parallelism", str(shuffle_partitions))
               .config("spark.driver.memory", driver_memory)
               .config("spark.driver.extraJavaOptions", java_options)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               # results come back as plain rows; the course does not depend on pyarrow
               .config("spark.sql.execution.arrow.pyspark.enabled", "false")
               .config("spark.local.dir", str(folder)))
    with _stderr_to(log):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparrow_log = log  # type: ignore[attr-defined]
    _ = pyspark
    return spark


def stop_spark(spark) -> None:
    """Stop the session and its JVM-side context."""
    spark.stop()


# ---------------------------------------------------------------------------
# The pipeline, step by step
# ---------------------------------------------------------------------------


def read_ratings(spark, folder: str | os.PathLike[str] | None = None):
    """Read a MovieLens ``ratings.csv`` with Spark's own CSV reader and a fixed schema (no pandas in between)."""
    from pyspark.sql import types as T

    folder = Path(folder) if folder is not None else bundled_data_path()
    path = folder / "ratings.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no ratings.csv in {folder} (resolved: {folder.resolve()}); expected a "
                                "MovieLens-format folder")
    schema = T.StructType([T.StructField("userId", T.LongType(), False),
                           T.StructField("movieId", T.LongType(), False),
                           T.StructField("rating", T.DoubleType(), False),
                           T.StructField("timestamp", T.LongType(), False)])
    return spark.read.csv(str(path), header=True, schema=schema, mode="FAILFAST")


def positive_sequences(ratings, *, threshold: float = POSITIVE_THRESHOLD, min_length: int = 2):
    """Each user's movies rated >= ``threshold``, in time order (ties by movieId): DataFrame[userId, movieIds].

    As SparrowRecSys: filter, group by user, sort (timestamp, movieId) pairs, keep the ids as
    strings (Word2Vec's tokens). Users with fewer than ``min_length`` positives are dropped.
    """
    from pyspark.sql import functions as F

    threshold = check_number(threshold, "threshold", low=0.5, high=5.0)
    min_length = check_int(min_length, "min_length", low=1)
    pairs = F.sort_array(F.collect_list(F.struct("timestamp", "movieId")))
    sequences = (ratings.where(F.col("rating") >= threshold)
                 .groupBy("userId").agg(pairs.alias("pairs"))
                 .select("userId", F.transform("pairs", lambda p: p["movieId"].cast("string")).alias("movieIds"))
                 .where(F.size("movieIds") >= min_length))
    return sequences


def train_item2vec(sequences, *, dim: int = 10, window: int = 5, max_iter: int = 10, seed: int = DEFAULT_SEED,
                   partitions: int = 1):
    """Spark ML Word2Vec on the sequences, SparrowRecSys's settings (dimension 10, window 5, 10 iterations).

    ``partitions=1`` keeps training deterministic for a seed; more partitions train in
    parallel but average partial models, so results change with the partition count.
    """
    from pyspark.ml.feature import Word2Vec

    dim = check_int(dim, "dim", low=1, high=4096)
    window = check_int(window, "window", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1, high=1000)
    seed = check_seed(seed)
    partitions = check_int(partitions, "partitions", low=1, high=1024)
    word2vec = Word2Vec(vectorSize=dim, windowSize=window, maxIter=max_iter, minCount=1, seed=seed,
                        numPartitions=partitions, inputCol="movieIds", outputCol="vector")
    return word2vec.fit(sequences)


def item_vectors(model):
    """A fitted Word2Vec model's vectors as DataFrame[movieId (long), vector]."""
    from pyspark.sql import functions as F

    return model.getVectors().select(F.col("word").cast("long").alias("movieId"), "vector")


def user_embeddings(ratings, vectors, *, threshold: float = POSITIVE_THRESHOLD):
    """Each user's vector: the mean of the vectors of the movies they rated >= ``threshold`` (DataFrame[userId, vector])."""
    from pyspark.ml.stat import Summarizer
    from pyspark.sql import functions as F

    threshold = check_number(threshold, "threshold", low=0.5, high=5.0)
    liked = ratings.where(F.col("rating") >= threshold).select("userId", "movieId")
    return (liked.join(vectors, on="movieId", how="inner")
            .groupBy("userId").agg(Summarizer.mean(F.col("vector")).alias("vector")))


def fit_lsh(vectors, *, bucket_length: float = 0.1, num_hash_tables: int = 3, seed: int = DEFAULT_SEED):
    """Spark ML BucketedRandomProjectionLSH, SparrowRecSys's settings (bucket length 0.1, 3 tables).

    Spark's hash is floor(r . x / bucketLength) with r a random unit vector and no random
    offset: the fixed-edge variant chapter 07 studies.
    """
    from pyspark.ml.feature import BucketedRandomProjectionLSH

    bucket_length = check_number(bucket_length, "bucket_length", low=0.0, include_low=False)
    num_hash_tables = check_int(num_hash_tables, "num_hash_tables", low=1, high=1000)
    seed = check_seed(seed)
    lsh = BucketedRandomProjectionLSH(inputCol="vector", outputCol="buckets", bucketLength=bucket_length,
                                      numHashTables=num_hash_tables, seed=seed)
    return lsh.fit(vectors)


def nearest_items(lsh_model, vectors, key: Any, k: int = 5) -> pd.DataFrame:
    """The ``k`` items nearest to the vector ``key`` by ``approxNearestNeighbors`` (one Spark job), nearest first."""
    from pyspark.ml.linalg import Vectors

    k = check_int(k, "k", low=1)
    key = Vectors.dense([float(v) for v in np.asarray(key, dtype=float).ravel()])
    found = lsh_model.approxNearestNeighbors(vectors, key, k, distCol="distance").select("movieId", "distance")
    rows = found.collect()
    frame = pd.DataFrame({"movieId": [int(r["movieId"]) for r in rows],
                          "distance": [float(r["distance"]) for r in rows]})
    return frame.sort_values(["distance", "movieId"], kind="stable").reset_index(drop=True)


def lsh_candidate_pairs(lsh_model, vectors, *, threshold: float = 1e9):
    """All pairs of distinct items that share a bucket in at least one table (``approxSimilarityJoin``) within ``threshold``."""
    from pyspark.sql import functions as F

    threshold = check_number(threshold, "threshold", low=0.0, include_low=False)
    joined = lsh_model.approxSimilarityJoin(vectors, vectors, threshold, distCol="distance")
    return (joined.select(F.col("datasetA.movieId").alias("movieId"), F.col("datasetB.movieId").alias("neighbour"),
                          "distance")
            .where(F.col("movieId") != F.col("neighbour")))


def to_numpy_vectors(vectors) -> tuple[np.ndarray, np.ndarray]:
    """Collect DataFrame[movieId, vector] to (sorted ids, matrix) for exact comparisons on the driver."""
    rows = vectors.select("movieId", "vector").collect()
    ids = np.array([int(r["movieId"]) for r in rows], dtype=np.int64)
    matrix = np.array([r["vector"].toArray() for r in rows], dtype=float).reshape(len(rows), -1)
    order = np.argsort(ids, kind="stable")
    return ids[order], matrix[order]


def _exact_neighbours(matrix: np.ndarray, k: int, metric: str = "euclidean") -> np.ndarray:
    """Row positions of each row's ``k`` nearest other rows (euclidean distance or cosine)."""
    if metric == "cosine":
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        score = -(unit @ unit.T)
    else:
        sq = (matrix ** 2).sum(axis=1)
        score = sq[:, None] + sq[None, :] - 2 * matrix @ matrix.T
    np.fill_diagonal(score, np.inf)
    return np.argsort(score, axis=1, kind="stable")[:, :k]


def lsh_recall(lsh_model, vectors, *, k: int = 10, queries: int = 300, seed: int = DEFAULT_SEED
               ) -> dict[str, float]:
    """Recall@k of Spark's LSH against exact euclidean search, and the share of items it examined per query.

    ``queries`` items drawn at random (seeded) are joined against all items with
    ``approxSimilarityJoin``: an item is a candidate for a query when they share a bucket in
    some table. Each query's top ``k`` among its candidates is compared with its exact top ``k``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    k = check_int(k, "k", low=1)
    queries = check_int(queries, "queries", low=1)
    ids, matrix = to_numpy_vectors(vectors)
    chosen = np.sort(np.random.default_rng(check_seed(seed)).choice(len(ids), size=min(queries, len(ids)),
                                                                       replace=False))
    query_ids = [int(m) for m in ids[chosen]]
    exact = _exact_neighbours(matrix, k)[chosen]
    query_frame = vectors.where(F.col("movieId").isin(query_ids))
    joined = lsh_model.approxSimilarityJoin(query_frame, vectors, 1e9, distCol="distance")
    pairs = (joined.select(F.col("datasetA.movieId").alias("movieId"), F.col("datasetB.movieId").alias("neighbour"),
                           "distance")
             .where(F.col("movieId") != F.col("neighbour"))).cache()
    counts = {int(r["movieId"]): int(r["count"]) for r in pairs.groupBy("movieId").count().collect()}
    rank = F.row_number().over(Window.partitionBy("movieId").orderBy("distance", "neighbour"))
    found: dict[int, set[int]] = {}
    for r in pairs.withColumn("rank", rank).where(F.col("rank") <= k).select("movieId", "neighbour").collect():
        found.setdefault(int(r["movieId"]), set()).add(int(r["neighbour"]))
    pairs.unpersist()
    hits = [len(found.get(m, set()) & set(ids[exact[i]].tolist())) / k for i, m in enumerate(query_ids)]
    examined = np.array([counts.get(m, 0) for m in query_ids], dtype=float)
    return {"queries": float(len(query_ids)), f"recall@{k}": float(np.mean(hits)),
            "candidates_per_query": float(examined.mean()),
            "candidate_share": float(examined.mean() / max(len(ids) - 1, 1))}


def neighbour_overlap(ids_a: np.ndarray, matrix_a: np.ndarray, ids_b: np.ndarray, matrix_b: np.ndarray, *,
                      k: int = 10) -> dict[str, float]:
    """Mean share of each shared item's top-``k`` cosine neighbours that two embeddings agree on, and chance level.

    Only items present in both are compared; chance is k / (n - 1), the overlap of two random
    neighbour lists.
    """
    k = check_int(k, "k", low=1)
    shared = np.intersect1d(ids_a, ids_b)
    if len(shared) <= k:
        raise ValueError(f"the two embeddings share {len(shared)} items; need more than k={k} to compare neighbours")
    a = matrix_a[np.searchsorted(ids_a, shared)]
    b = matrix_b[np.searchsorted(ids_b, shared)]
    na, nb = _exact_neighbours(a, k, "cosine"), _exact_neighbours(b, k, "cosine")
    overlap = np.array([len(set(x) & set(y)) / k for x, y in zip(na.tolist(), nb.tolist())])
    return {"items": float(len(shared)), f"overlap@{k}": float(overlap.mean()), "chance": k / (len(shared) - 1)}


def write_parquet(frame, path: str | os.PathLike[str]) -> Path:
    """Write a Spark DataFrame as Parquet atomically: into a sibling temporary folder, then renamed into place.

    A failed job leaves no half-written ``path``; an existing ``path`` is replaced only after
    the new one is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        frame.write.mode("error").parquet(str(staging))
        if target.exists():
            old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def stage_report(spark, groups: list[str]) -> pd.DataFrame:
    """How each job group's work split up: jobs, stages and tasks, read from Spark's status tracker.

    A stage is a run of work without a shuffle; it runs as one task per partition. Stages
    skipped because an earlier job's result was reused (cached) are not counted.
    """
    tracker = spark.sparkContext.statusTracker()
    rows = []
    for group in groups:
        jobs = sorted(tracker.getJobIdsForGroup(group))
        stages = tasks = 0
        for job_id in jobs:
            job = tracker.getJobInfo(job_id)
            for stage_id in (job.stageIds if job is not None else []):
                stage = tracker.getStageInfo(stage_id)
                if stage is not None and stage.numCompletedTasks > 0:
                    stages += 1
                    tasks += stage.numCompletedTasks
        rows.append({"step": group, "jobs": len(jobs), "stages": stages, "tasks": tasks})
    return pd.DataFrame(rows, columns=["step", "jobs", "stages", "tasks"])


def scaled_ratings(ratings, factor: int):
    """A ``factor`` times larger ratings log: each user copied ``factor`` times under new user ids.

    Copies keep the per-user structure (history lengths, positives, time order), so the
    pipeline's work per record stays comparable while the data grows.
    """
    from pyspark.sql import functions as F

    factor = check_int(factor, "factor", low=1, high=10_000)
    span = ratings.agg(F.max("userId")).collect()[0][0] + 1
    copies = ratings.sparkSession.range(factor).withColumnRenamed("id", "copy")
    return (ratings.crossJoin(copies)
            .select((F.col("userId") + F.col("copy") * F.lit(span)).alias("userId"), "movieId", "rating",
                    "timestamp"))


@contextlib.contextmanager
def _job_group(spark, group: str) -> Iterator[None]:
    spark.sparkContext.setJobGroup(group, group)
    try:
        yield
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def run_pipeline(spark, data_folder: str | os.PathLike[str] | None, out_dir: str | os.PathLike[str], *,
                 dim: int = 10, window: int = 5, max_iter: int = 10, bucket_length: float = 0.1,
                 num_hash_tables: int = 3, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """SparrowRecSys's offline embedding job end to end; writes item and user vectors as Parquet.

    Returns the step timings (seconds), the output paths, the fitted models and the cached
    DataFrames, so a notebook can look inside each step.
    """
    out = Path(out_dir)
    timings: dict[str, float] = {}

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        start = time.perf_counter()
        with _job_group(spark, name):
            yield
        timings[name] = time.perf_counter() - start

    with step("read ratings"):
        ratings = read_ratings(spark, data_folder).cache()
        n_ratings = ratings.count()
    with step("positive sequences"):
        sequences = positive_sequences(ratings).cache()
        n_sequences = sequences.count()
    with step("item2vec"):
        model = train_item2vec(sequences, dim=dim, window=window, max_iter=max_iter, seed=seed)
        vectors = item_vectors(model).cache()
        n_items = vectors.count()
    with step("user embeddings"):
        users = user_embeddings(ratings, vectors).cache()
        n_users = users.count()
    with step("LSH index"):
        lsh = fit_lsh(vectors, bucket_length=bucket_length, num_hash_tables=num_hash_tables, seed=seed)
    with step("write Parquet"):
        paths = {"item_vectors": write_parquet(vectors, out / "item_vectors.parquet"),
                 "user_vectors": write_parquet(users, out / "user_vectors.parquet")}
    return {"counts": {"ratings": n_ratings, "sequences": n_sequences, "items": n_items, "users": n_users},
            "timings": timings, "steps": list(timings), "paths": paths, "ratings": ratings, "sequences": sequences,
            "model": model, "vectors": vectors, "users": users, "lsh": lsh}


def scaling_experiment(spark, ratings, factors=(1, 4, 16), *, repeats: int = 1) -> pd.DataFrame:
    """Time the data-parallel steps (positive sequences and user pooling) on logs ``factors`` times larger.

    Item vectors are trained once on the original log (Word2Vec's training does not split
    across partitions without changing its result); each larger log is built, then
    sequenced and pooled against those vectors. Returns one row per factor: records,
    seconds (median of ``repeats``) and microseconds per record.
    """
    from pyspark.sql import functions as F

    repeats = check_int(repeats, "repeats", low=1, high=20)
    factors = [check_int(f, "factors[i]", low=1, high=10_000) for f in factors]
    model = train_item2vec(positive_sequences(ratings), max_iter=1)
    vectors = F.broadcast(item_vectors(model).cache())
    rows = []
    for factor in factors:
        big = scaled_ratings(ratings, factor).cache()
        records = big.count()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            positive_sequences(big).agg(F.sum(F.size("movieIds"))).collect()
            user_embeddings(big, vectors).agg(F.count("userId")).collect()
            times.append(time.perf_counter() - start)
        big.unpersist()
        seconds = float(np.median(times))
        rows.append({"factor": factor, "records": records, "seconds": seconds,
                     "us_per_record": 1e6 * seconds / records})
    return pd.DataFrame(rows)
