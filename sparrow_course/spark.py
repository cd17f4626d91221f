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

from .checks import check_array, check_int, check_number, check_seed, check_str, describe
from .datasets import POSITIVE_THRESHOLD, bundled_data_path, load_movielens
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
    "lsh_recall",
    "write_parquet",
    "stage_report",
    "scaled_ratings",
    "run_pipeline",
    "scaling_experiment",
    "neighbour_overlap",
    "to_numpy_vectors",
    "scaling_exponents",
    "typical_neighbour_distance",
    "standalone_cluster",
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


def start_spark(master: str | None = "local[2]", *, app_name: str = "sparrow-course", shuffle_partitions: int = 4,
                driver_memory: str = "2g", executor_memory: str | None = None,
                log_dir: str | os.PathLike[str] | None = None):
    """Start (or reuse) a SparkSession sized for a 2-core laptop, quiet in notebooks.

    ``master`` is the only thing to change for a cluster (``"spark://host:7077"``, ``"yarn"``,
    ``"k8s://https://host:443"``); None leaves it to spark-submit's ``--master``. Few shuffle partitions suit small data (the default 200 would
    make 200 tiny tasks per shuffle). The JVM's own log goes to ``log_dir/spark-jvm.log``
    (a temporary folder by default), not into notebook outputs; ``spark.sparrow_log`` holds its path.
    """
    pyspark = _require_pyspark()
    from pyspark.sql import SparkSession

    if master is not None:
        check_str(master, "master")
    shuffle_partitions = check_int(shuffle_partitions, "shuffle_partitions", low=1, high=10_000)
    if not re.fullmatch(r"\d+[kmgt]", str(driver_memory).lower()):
        raise ValueError(f"driver_memory must look like '2g' or '512m', got {driver_memory!r}")
    if executor_memory is not None and not re.fullmatch(r"\d+[kmgt]", str(executor_memory).lower()):
        raise ValueError(f"executor_memory must look like '1g' or '512m', got {executor_memory!r}")
    folder = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="sparrow-spark-"))
    folder.mkdir(parents=True, exist_ok=True)
    log4j = folder / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    log = folder / "spark-jvm.log"
    # The loopback address keeps Spark from resolving the machine's host name (and warning about it).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    java_options = f"-Dlog4j2.configurationFile=file:{log4j}"
    builder = SparkSession.builder if master is None else SparkSession.builder.master(master)
    builder = (builder.appName(app_name)
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
    if master is not None and not master.startswith("local"):
        # executors on a cluster reach the driver at this address; on one machine that is loopback
        builder = builder.config("spark.driver.host", os.environ["SPARK_LOCAL_IP"])
    if executor_memory is not None:
        builder = builder.config("spark.executor.memory", executor_memory)
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


def _ratings_folder(data: str | os.PathLike[str] | None) -> Path:
    """The folder whose ratings.csv Spark reads, after the loader has validated the whole dataset there."""
    if data is not None and not isinstance(data, (str, os.PathLike)):
        raise TypeError(f"data must be None (the bundled SparrowLens), a MovieLens folder name in the data home "
                        f"or a path, got {describe(data)}")
    from .datasets.movielens import _find_csv_folder, _locate

    folder = bundled_data_path() if data is None else _find_csv_folder(_locate(data))
    # The loader's rules, exactly: ratings on the half-star scale, integer ids and timestamps in range, no
    # duplicate (userId, movieId), every movie in movies.csv. A bad file stops here with the loader's
    # line-exact DataError instead of a JVM stack trace, or a silent 99-star "like".
    load_movielens(data)
    return folder


def read_ratings(spark, data: str | os.PathLike[str] | None = None):
    """Read a MovieLens ``ratings.csv`` with Spark's CSV reader, after the course's loader has validated it.

    ``data`` is what ``load_movielens`` takes: None for the bundled SparrowLens, a folder name in
    the data home, or a path. A file the loader refuses raises its :class:`DataError`, naming
    the line; a file it accepts is parsed by Spark column by column into the same values
    (columns found by header name, surrounding spaces allowed, ``5.0`` read as the id 5).
    """
    from pyspark.sql import functions as F

    folder = _ratings_folder(data)
    raw = (spark.read.option("header", True).option("escape", '"').option("mode", "FAILFAST")
           .option("inferSchema", False).csv(str(folder / "ratings.csv")))
    raw = raw.toDF(*[c.lstrip("\ufeff") for c in raw.columns])  # a byte-order mark some editors add

    def integer(name: str):  # exact for every int64, as the loader's conversion
        return F.trim(F.col(name)).cast("decimal(38,10)").cast("long").alias(name)

    return raw.select(integer("userId"), integer("movieId"), F.trim(F.col("rating")).cast("double").alias("rating"),
                      integer("timestamp"))


_RATING_COLUMNS = {"userId": "integral", "movieId": "integral", "rating": "numeric", "timestamp": "integral"}


def _check_ratings_frame(ratings, name: str = "ratings"):
    """Refuse a Spark DataFrame without numeric userId, movieId, rating and timestamp columns (TypeError)."""
    from pyspark.sql import DataFrame
    from pyspark.sql import types as T

    if not isinstance(ratings, DataFrame):
        raise TypeError(f"{name} must be a Spark DataFrame (from read_ratings), got {describe(ratings)}")
    fields = {f.name: f.dataType for f in ratings.schema.fields}
    missing = [c for c in _RATING_COLUMNS if c not in fields]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; expected userId, movieId, rating, timestamp")
    for column, kind in _RATING_COLUMNS.items():
        ok = (isinstance(fields[column], T.IntegralType) if kind == "integral"
              else isinstance(fields[column], T.NumericType))
        if not ok:
            raise TypeError(f"{name} column {column} must be {'an integer' if kind == 'integral' else 'a numeric'} "
                            f"column, got {fields[column].simpleString()}; read the file with read_ratings, "
                            "which validates it first")
    return ratings


def positive_sequences(ratings, *, threshold: float = POSITIVE_THRESHOLD, min_length: int = 2):
    """Each user's movies rated >= ``threshold``, in time order (ties by movieId): DataFrame[userId, movieIds].

    As SparrowRecSys: filter, group by user, sort (timestamp, movieId) pairs, keep the ids as
    strings (Word2Vec's tokens). Users with fewer than ``min_length`` positives are dropped.
    """
    from pyspark.sql import functions as F

    _check_ratings_frame(ratings)
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

    The sentences are first put into one partition in a fixed order (by ``userId`` when the
    frame has it), so the result does not depend on how upstream shuffles split them: for a
    seed, local mode and a cluster train the same vectors. ``partitions=1`` trains on one
    task; more partitions train in parallel but average partial models, so results change
    with the partition count.
    """
    from pyspark.ml.feature import Word2Vec

    dim = check_int(dim, "dim", low=1, high=4096)
    window = check_int(window, "window", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1, high=1000)
    seed = check_seed(seed)
    partitions = check_int(partitions, "partitions", low=1, high=1024)
    # One input partition in a fixed order: Word2Vec's own repartition then has a single block to
    # read, so its sentence order (and the vocabulary's order among equal counts) is the same everywhere.
    ordered = sequences.orderBy("userId") if "userId" in sequences.columns else sequences
    sequences = ordered.coalesce(1)
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

    _check_ratings_frame(ratings)
    threshold = check_number(threshold, "threshold", low=0.5, high=5.0)
    liked = ratings.where(F.col("rating") >= threshold).select("userId", "movieId")
    return (liked.join(vectors, on="movieId", how="inner")
            .groupBy("userId").agg(Summarizer.mean(F.col("vector")).alias("vector")))


def _vector_size(vectors, name: str = "vectors") -> tuple[int, int]:
    """(number of items, vector dimension) of DataFrame[movieId, vector]; ValueError when it is empty."""
    n = vectors.count()
    if n == 0:
        raise ValueError(f"{name} is empty; expected the item vectors of a trained model")
    return n, int(vectors.select("vector").first()["vector"].size)


def typical_neighbour_distance(vectors, sample: int = 1000) -> float:
    """Median distance from an item to its nearest other item, among the first ``sample`` items by movieId."""
    rows = vectors.orderBy("movieId").limit(sample).select("vector").collect()
    matrix = np.array([r["vector"].toArray() for r in rows], dtype=float)
    if len(matrix) < 2:
        return float("nan")
    sq = (matrix ** 2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * matrix @ matrix.T
    np.fill_diagonal(d2, np.inf)
    return float(np.median(np.sqrt(np.maximum(d2.min(axis=1), 0.0))))


def fit_lsh(vectors, *, bucket_length: float = 0.1, num_hash_tables: int = 3, seed: int = DEFAULT_SEED):
    """Spark ML BucketedRandomProjectionLSH, SparrowRecSys's settings (bucket length 0.1, 3 tables).

    Spark's hash is floor(r . x / bucketLength) with r a random unit vector and no random
    offset: the fixed-edge variant chapter 07 studies. A bucket length so small against the
    data that nearest neighbours could share a bucket in fewer than 1 in 1,000 queries is
    refused (recall would be 0): two items at distance d share one table's bucket with
    probability at most sqrt(dim) * w / d.
    """
    from pyspark.ml.feature import BucketedRandomProjectionLSH

    bucket_length = check_number(bucket_length, "bucket_length", low=0.0, include_low=False)
    num_hash_tables = check_int(num_hash_tables, "num_hash_tables", low=1, high=1000)
    seed = check_seed(seed)
    _, dim = _vector_size(vectors)
    distance = typical_neighbour_distance(vectors)
    if distance > 0:
        bound = min(1.0, num_hash_tables * np.sqrt(dim) * bucket_length / distance)
        if bound < 1e-3:
            raise ValueError(
                f"bucket_length={bucket_length:g} is {bucket_length / distance:.1e} times the items' typical "
                f"nearest-neighbour distance ({distance:.3g}): neighbours would share a bucket in at most "
                f"{bound:.1e} of queries over {num_hash_tables} table(s), so recall would be 0; expected a bucket "
                f"length of the order of that distance (say {distance / 4:.2g} to {4 * distance:.2g})")
    lsh = BucketedRandomProjectionLSH(inputCol="vector", outputCol="buckets", bucketLength=bucket_length,
                                      numHashTables=num_hash_tables, seed=seed)
    return lsh.fit(vectors)


def nearest_items(lsh_model, vectors, key: Any, k: int = 5) -> pd.DataFrame:
    """The ``k`` items nearest to the vector ``key`` by ``approxNearestNeighbors`` (one Spark job), nearest first.

    ``key`` is a 1-D array (or list, or Spark vector) of the items' dimension, finite; ``k``
    above the catalogue's size returns the whole catalogue (as a larger k could find no more).
    """
    from pyspark.ml.linalg import DenseVector, Vectors

    k = check_int(k, "k", low=1)
    n, dim = _vector_size(vectors)
    if isinstance(key, DenseVector):
        key = key.toArray()
    key = check_array(key, "key", ndim=1)
    if key.shape != (dim,):
        raise ValueError(f"key must be a vector of the items' dimension {dim}, got {len(key)} value(s)")
    found = (lsh_model.approxNearestNeighbors(vectors, Vectors.dense(key.tolist()), min(k, n), distCol="distance")
             .select("movieId", "distance"))
    rows = found.collect()
    frame = pd.DataFrame({"movieId": [int(r["movieId"]) for r in rows],
                          "distance": [float(r["distance"]) for r in rows]})
    return frame.sort_values(["distance", "movieId"], kind="stable").reset_index(drop=True)


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

    ``queries`` items drawn at random (seeded; all items when there are fewer) are joined against all items with
    ``approxSimilarityJoin``: an item is a candidate for a query when they share a bucket in
    some table. Each query's top ``k`` among its candidates is compared with its exact top ``k``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    k = check_int(k, "k", low=1)
    queries = check_int(queries, "queries", low=1)
    ids, matrix = to_numpy_vectors(vectors)
    if k > len(ids) - 1:
        raise ValueError(f"k must be at most {len(ids) - 1} (each query's other items in a catalogue of "
                         f"{len(ids)}), got {k}")
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


def run_pipeline(spark, data: str | os.PathLike[str] | None, out_dir: str | os.PathLike[str], *,
                 dim: int = 10, window: int = 5, max_iter: int = 10, bucket_length: float = 0.1,
                 num_hash_tables: int = 3, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """SparrowRecSys's offline embedding job end to end; writes item and user vectors as Parquet.

    ``data`` is what ``load_movielens`` takes (None: the bundled SparrowLens; a MovieLens
    folder name in the data home; a path); the loader validates it first (see :func:`read_ratings`).
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
        ratings = read_ratings(spark, data).cache()
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


def scaling_experiment(spark, ratings, factors=(1, 2, 4), *, max_iter: int = 1, repeats: int = 1,
                       warm_up: bool = True) -> pd.DataFrame:
    """Time the pipeline's three data-dependent steps on logs ``factors`` times larger, Word2Vec included.

    For each factor the log is built (``scaled_ratings``, cached), then timed step by step:
    positive sequences, item2vec (Spark ML Word2Vec on one partition, ``max_iter``
    iterations) and user pooling against the vectors just trained. ``warm_up`` first runs
    the smallest factor once untimed, so the JVM's first-use costs do not land on it. Returns
    one row per (factor, step): records, seconds (median of ``repeats``) and microseconds per record.
    """
    from pyspark.sql import functions as F

    _check_ratings_frame(ratings)
    repeats = check_int(repeats, "repeats", low=1, high=20)
    max_iter = check_int(max_iter, "max_iter", low=1, high=1000)
    if isinstance(factors, (str, bytes)) or not hasattr(factors, "__iter__"):
        raise TypeError(f"factors must be a sequence of integers, got {describe(factors)}")
    factors = [check_int(f, "factors[i]", low=1, high=10_000) for f in factors]
    if not factors:
        raise ValueError("factors is empty; expected at least one log size, e.g. (1, 2, 4)")

    def one_run(big) -> dict[str, float]:
        seconds = {}
        start = time.perf_counter()
        sequences = positive_sequences(big).cache()
        sequences.count()
        seconds["positive sequences"] = time.perf_counter() - start
        start = time.perf_counter()
        vectors = item_vectors(train_item2vec(sequences, max_iter=max_iter)).cache()
        vectors.count()
        seconds["item2vec"] = time.perf_counter() - start
        start = time.perf_counter()
        user_embeddings(big, F.broadcast(vectors)).agg(F.count("userId")).collect()
        seconds["user embeddings"] = time.perf_counter() - start
        sequences.unpersist()
        vectors.unpersist()
        return seconds

    rows = []
    for position, factor in enumerate(([min(factors)] if warm_up else []) + factors):
        big = scaled_ratings(ratings, factor).cache()
        records = big.count()
        runs = [one_run(big) for _ in range(1 if warm_up and position == 0 else repeats)]
        big.unpersist()
        if warm_up and position == 0:
            continue
        for step in runs[0]:
            seconds = float(np.median([run[step] for run in runs]))
            rows.append({"factor": factor, "records": records, "step": step, "seconds": seconds,
                         "us_per_record": 1e6 * seconds / records})
    return pd.DataFrame(rows, columns=["factor", "records", "step", "seconds", "us_per_record"])


def scaling_exponents(table: pd.DataFrame) -> pd.DataFrame:
    """Per step, the exponent b of time = a * records**b fitted on log-log axes (1: linear, below 1: sub-linear).

    ``table`` is what :func:`scaling_experiment` returns; each step needs at least two sizes.
    Also returns each step's share of the time on the largest log.
    """
    from .checks import check_frame

    check_frame(table, ["records", "step", "seconds"], "table", allow_empty=False)
    if table["records"].nunique() < 2:
        raise ValueError("table has one log size; an exponent needs at least two (factors such as (1, 2, 4))")
    largest = table[table["records"] == table["records"].max()]
    total = largest["seconds"].sum()
    rows = []
    for step, group in table.groupby("step", sort=False):
        slope = np.polyfit(np.log(group["records"].to_numpy(float)), np.log(group["seconds"].to_numpy(float)), 1)[0]
        share = float(largest.loc[largest["step"] == step, "seconds"].sum() / total) if total > 0 else float("nan")
        rows.append({"step": step, "exponent": float(slope), "share_of_time_at_largest": share})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# A real cluster on this machine: Spark's standalone master and workers
# ---------------------------------------------------------------------------


def _free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive_workers(ui_port: int) -> int:
    """How many workers the master's web UI reports alive (0 while it is not up yet)."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def _stop_process(process: subprocess.Popen, grace: float = 20.0) -> None:
    """Stop a process and everything in its process group (a worker's executors): TERM, then KILL."""
    import signal

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            if sig == signal.SIGTERM:  # the group leader is gone; make sure its children are too
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        except subprocess.TimeoutExpired:
            continue


class StandaloneCluster:
    """A running standalone cluster: ``master_url`` to pass to :func:`start_spark`, the process ids, the logs."""

    def __init__(self, master_url: str, processes: list[subprocess.Popen], log_dir: Path):
        self.master_url = master_url
        self.processes = processes
        self.log_dir = log_dir

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def __repr__(self) -> str:
        return f"StandaloneCluster({self.master_url!r}, {len(self.processes) - 1} workers)"


@contextlib.contextmanager
def standalone_cluster(workers: int = 2, *, cores_per_worker: int = 1, memory_per_worker: str = "1g",
                       log_dir: str | os.PathLike[str] | None = None, timeout: float = 180.0
                       ) -> Iterator[StandaloneCluster]:
    """Start a Spark standalone master and ``workers`` workers on loopback, yield the cluster, stop them all.

    The processes come from the pip-installed PySpark (``spark-class ...deploy.master.Master``
    and ``...deploy.worker.Worker``), listen on 127.0.0.1 on free ports, and are stopped with
    their executors when the block ends, also when it raises. The start is bounded by
    ``timeout`` seconds; a process that dies on the way raises with the tail of its log::

        with standalone_cluster(2) as cluster:
            spark = start_spark(cluster.master_url, executor_memory="512m")
            ...
            stop_spark(spark)
    """
    _require_pyspark()
    from pyspark.find_spark_home import _find_spark_home

    workers = check_int(workers, "workers", low=1, high=8)
    cores_per_worker = check_int(cores_per_worker, "cores_per_worker", low=1, high=64)
    if not re.fullmatch(r"\d+[kmgt]", str(memory_per_worker).lower()):
        raise ValueError(f"memory_per_worker must look like '1g' or '512m', got {memory_per_worker!r}")
    timeout = check_number(timeout, "timeout", low=1.0, high=3600.0)
    spark_home = Path(_find_spark_home())
    spark_class = spark_home / "bin" / "spark-class"
    folder = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="sparrow-cluster-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1",
               SPARK_LOCAL_HOSTNAME="127.0.0.1", SPARK_LOG_DIR=str(folder))
    import sys
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    processes: list[subprocess.Popen] = []
    logs: list[Path] = []

    def launch(name: str, args: list[str]) -> None:
        log = folder / f"{name}.log"
        logs.append(log)
        with open(log, "ab") as out:
            processes.append(subprocess.Popen([str(spark_class), *args], stdout=out, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=env, start_new_session=True))

    def died() -> str | None:
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                return f"{log.stem} exited with code {process.returncode}: " + " | ".join(tail)
        return None

    try:
        port, ui_port = _free_port(), _free_port()
        master_url = f"spark://127.0.0.1:{port}"
        launch("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                          "--webui-port", str(ui_port)])
        for i in range(workers):
            work = folder / f"worker-{i}"
            work.mkdir(exist_ok=True)
            launch(f"worker-{i}", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                   "--port", str(_free_port()), "--webui-port", str(_free_port()),
                                   "--cores", str(cores_per_worker), "--memory", str(memory_per_worker),
                                   "--work-dir", str(work), master_url])
        deadline = time.monotonic() + timeout
        while _alive_workers(ui_port) < workers:
            problem = died()
            if problem:
                raise SparkUnavailable(f"the standalone cluster did not start: {problem}")
            if time.monotonic() > deadline:
                raise SparkUnavailable(f"the standalone cluster did not register {workers} worker(s) within "
                                       f"{timeout:g} s; logs in {folder}")
            time.sleep(1.0)
        yield StandaloneCluster(master_url, processes, folder)
    finally:
        for process in reversed(processes):  # workers (and their executors) first, then the master
            _stop_process(process)
        if log_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
