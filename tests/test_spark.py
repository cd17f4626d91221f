"""Chapter 08: the Spark pipeline on a small slice in local mode (skipped, with the reason, without Java or PySpark)."""
from __future__ import annotations

import importlib.util
import math
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from sparrow_course import embeddings
from sparrow_course import spark as S
from sparrow_course.datasets import DataError, bundled_data_path, load_movielens

_JAVA = S.java_runtime()
_REASON = ("PySpark is not installed ('pip install -e .[spark]')" if importlib.util.find_spec("pyspark") is None
           else "" if _JAVA["found"] and _JAVA["ok"] else f"no usable Java runtime: {_JAVA['hint']}")
needs_spark = pytest.mark.skipif(bool(_REASON), reason=_REASON or "spark available")


def test_java_runtime_reports_missing_java_with_a_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))
    found = S.java_runtime()
    assert found["found"] is False and found["ok"] is False
    assert "apt-get install default-jre-headless" in found["hint"]


def test_start_spark_refuses_bad_settings_before_starting_anything():
    with pytest.raises(ValueError, match="shuffle_partitions"):
        S.start_spark(shuffle_partitions=0)
    with pytest.raises(ValueError, match="driver_memory"):
        S.start_spark(driver_memory="lots")
    with pytest.raises(TypeError, match="master"):
        S.start_spark(master=2)


# --------------------------------------------------------------------------- bad inputs, refused before Spark works

def _ratings_folder(tmp_path, ratings_text: str):
    """A MovieLens folder: the bundled movies.csv and the given ratings.csv text."""
    folder = tmp_path / "ml"
    folder.mkdir(exist_ok=True)
    shutil.copy(bundled_data_path() / "movies.csv", folder / "movies.csv")
    (folder / "ratings.csv").write_text(ratings_text, encoding="utf-8")
    return folder


HEADER = "userId,movieId,rating,timestamp\n"
GOOD_ROWS = "7,1,4.0,1000000000\n7,2,3.5,1000000100\n8,1,2.0,1000000200\n"


@pytest.mark.parametrize("rows,words", [
    ("1,1,nan,1000000000\n", r"line 2: rating 'nan' is not a number"),
    ("1,1,NaN,1000000000\n", r"line 2: rating 'NaN' is not a number"),
    ("1,1,99,1000000000\n", r"line 2: rating '99' is off the scale"),
    ("1,1,-1,1000000000\n", r"line 2: rating '-1' is off the scale"),
    ("1,1,4.25,1000000000\n", r"rating '4.25' is off the scale; expected 0.5 to 5.0 in steps of 0.5"),
    ("abc,1,4.0,1000000000\n", r"line 2: userId 'abc'"),
    ("1,abc,4.0,1000000000\n", r"line 2: movieId 'abc'"),
    ("1,1,4.0,yesterday\n", r"line 2: timestamp 'yesterday'"),
    ("1,1,4.0,1000000000\n1,1,5.0,1000000001\n", r"line 3: duplicate userId 1, movieId 1 \(first on line 2\)"),
    ("1,999999999,4.0,1000000000\n", r"movieId 999999999 is not in movies.csv"),
    ("1,1,4.0\n", r"line 2 has 3 fields; the header has 4"),
])
def test_read_ratings_refuses_what_the_loader_refuses_with_its_message(tmp_path, rows, words):
    folder = _ratings_folder(tmp_path, HEADER + rows + GOOD_ROWS)
    with pytest.raises(DataError, match=words):
        load_movielens(folder)
    # the Spark path stops at the same rule, before Spark reads a line (no session needed)
    with pytest.raises(DataError, match=words):
        S.read_ratings(None, folder)


@pytest.mark.parametrize("data,exc,words", [
    (42, TypeError, r"\bdata must be None"),
    (["data"], TypeError, r"\bdata must be None"),
    ("no-such-folder-anywhere", DataError, r"folder 'no-such-folder-anywhere' does not exist"),
])
def test_read_ratings_names_a_bad_data_argument(data, exc, words):
    with pytest.raises(exc, match=words):
        S.read_ratings(None, data)


def test_neighbour_overlap_is_one_for_identical_embeddings_and_names_too_few_items():
    rng = np.random.default_rng(0)
    ids = np.arange(50)
    matrix = rng.normal(size=(50, 4))
    same = S.neighbour_overlap(ids, matrix, ids, matrix, k=5)
    assert same["overlap@5"] == 1.0 and math.isclose(same["chance"], 5 / 49)
    other = S.neighbour_overlap(ids, matrix, ids, rng.normal(size=(50, 4)), k=5)
    assert other["overlap@5"] < 0.5
    with pytest.raises(ValueError, match="share 3 items"):
        S.neighbour_overlap(ids[:3], matrix[:3], ids[:3], matrix[:3], k=5)


def test_write_parquet_leaves_nothing_half_written_when_the_job_fails(tmp_path):
    class FailingWriter:
        def mode(self, _):
            return self

        def parquet(self, path):
            import os
            os.makedirs(path)
            open(os.path.join(path, "part-0000.parquet"), "w").close()
            raise RuntimeError("executor lost")

    class FailingFrame:
        write = FailingWriter()

    with pytest.raises(RuntimeError, match="executor lost"):
        S.write_parquet(FailingFrame(), tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- with a Spark session

@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = S.start_spark("local[1]", shuffle_partitions=2, log_dir=tmp_path_factory.mktemp("spark"))
    yield session
    S.stop_spark(session)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The ratings of 150 SparrowLens users, written as a MovieLens folder."""
    ml = load_movielens()
    users = np.sort(ml.ratings["userId"].unique())[:150]
    ratings = ml.ratings[ml.ratings["userId"].isin(users)].reset_index(drop=True)
    folder = tmp_path_factory.mktemp("small")
    ratings.to_csv(folder / "ratings.csv", index=False)
    shutil.copy(bundled_data_path() / "movies.csv", folder / "movies.csv")
    return folder, ratings


@pytest.fixture(scope="module")
def pipeline(spark, small, tmp_path_factory):
    """One pipeline run on the small folder (one Word2Vec iteration), shared by the tests that only read it."""
    return S.run_pipeline(spark, small[0], tmp_path_factory.mktemp("pipeline"), max_iter=1, seed=5)


@needs_spark
@pytest.mark.slow
def test_positive_sequences_match_the_single_machine_version(spark, small):
    folder, ratings = small
    rows = S.positive_sequences(S.read_ratings(spark, folder)).collect()
    got = {int(r["userId"]): [int(m) for m in r["movieIds"]] for r in rows}
    want = embeddings.positive_sequences(ratings)
    assert got == {int(u): list(map(int, ms)) for u, ms in want.items()}


@needs_spark
@pytest.mark.slow
def test_pipeline_writes_vectors_and_user_vectors_are_means_of_liked_items(spark, small, pipeline):
    _, ratings = small
    result = pipeline
    assert set(result["timings"]) == {"read ratings", "positive sequences", "item2vec", "user embeddings",
                                      "LSH index", "write Parquet"}
    items = spark.read.parquet(str(result["paths"]["item_vectors"]))
    users = spark.read.parquet(str(result["paths"]["user_vectors"]))
    assert items.count() == result["counts"]["items"] and users.count() == result["counts"]["users"]
    ids, matrix = S.to_numpy_vectors(result["vectors"])
    assert matrix.shape == (len(ids), 10)
    # one user's vector is the plain mean of the vectors of the movies they rated >= 3.5
    user = int(ratings["userId"].iloc[0])
    liked = ratings[(ratings["userId"] == user) & (ratings["rating"] >= 3.5)]["movieId"].to_numpy()
    liked = liked[np.isin(liked, ids)]
    row = result["users"].where(f"userId = {user}").collect()[0]
    np.testing.assert_allclose(row["vector"].toArray(), matrix[np.searchsorted(ids, liked)].mean(axis=0),
                               rtol=1e-6, atol=1e-9)
    # the same seed trains the same vectors (one partition)
    again = S.item_vectors(S.train_item2vec(result["sequences"], max_iter=1, seed=5))
    ids2, matrix2 = S.to_numpy_vectors(again)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(matrix, matrix2, rtol=1e-5, atol=1e-6)
    # each step's work is visible in the status tracker
    report = S.stage_report(spark, result["steps"])
    assert list(report["step"]) == result["steps"]
    assert (report.loc[report["step"] != "LSH index", "tasks"] > 0).all()


@needs_spark
@pytest.mark.slow
def test_lsh_finds_an_item_itself_first_and_recall_grows_with_tables(pipeline):
    result = pipeline
    ids, matrix = S.to_numpy_vectors(result["vectors"])
    near = S.nearest_items(result["lsh"], result["vectors"], matrix[0], k=3)
    assert near["movieId"].iloc[0] == ids[0] and near["distance"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    one = S.lsh_recall(S.fit_lsh(result["vectors"], num_hash_tables=1, seed=5), result["vectors"], queries=50)
    many = S.lsh_recall(S.fit_lsh(result["vectors"], num_hash_tables=12, seed=5), result["vectors"], queries=50)
    assert 0.0 <= one["recall@10"] <= many["recall@10"] <= 1.0
    assert one["candidates_per_query"] <= many["candidates_per_query"]


@needs_spark
@pytest.mark.slow
def test_bad_search_and_index_arguments_get_clear_errors(spark, pipeline):
    result = pipeline
    vectors, model = result["vectors"], result["lsh"]
    ids, matrix = S.to_numpy_vectors(vectors)
    # k beyond the catalogue returns the catalogue, and the JVM lives on (it used to die of a heap error)
    every = S.nearest_items(model, vectors, matrix[0], k=10**9)
    assert len(every) <= len(ids) and every["movieId"].is_unique
    assert len(S.nearest_items(model, vectors, matrix[1], k=3)) == 3
    nan_key = matrix[0].copy()
    nan_key[2] = np.nan
    table = [
        (lambda: S.nearest_items(model, vectors, nan_key), ValueError, r"\bkey must be finite"),
        (lambda: S.nearest_items(model, vectors, matrix[0][:3]), ValueError,
         r"\bkey must be a vector of the items' dimension 10, got 3 value"),
        (lambda: S.nearest_items(model, vectors, matrix[:2]), ValueError, r"\bkey must be 1-dimensional"),
        (lambda: S.nearest_items(model, vectors, "far"), TypeError, r"\bkey must be array-like"),
        (lambda: S.nearest_items(model, vectors, matrix[0], k=0), ValueError, r"\bk must be"),
        (lambda: S.nearest_items(model, vectors, matrix[0], k=2.5), TypeError, r"\bk must be an integer"),
        (lambda: S.lsh_recall(model, vectors, k=10**6), ValueError, rf"\bk must be at most {len(ids) - 1}\b"),
        (lambda: S.lsh_recall(model, vectors, queries=0), ValueError, r"\bqueries must be"),
        (lambda: S.fit_lsh(vectors, bucket_length=1e-300), ValueError, r"\bbucket_length=1e-300 is .* recall would be 0"),
        (lambda: S.fit_lsh(vectors, bucket_length=0.0), ValueError, r"\bbucket_length must be"),
        (lambda: S.fit_lsh(vectors, bucket_length=float("nan")), ValueError, r"\bbucket_length\b"),
        (lambda: S.fit_lsh(vectors, num_hash_tables=0), ValueError, r"\bnum_hash_tables must be"),
        (lambda: S.positive_sequences(result["ratings"].withColumn("userId", result["ratings"]["userId"].cast("string"))),
         TypeError, r"\bratings column userId must be an integer column, got string"),
        (lambda: S.positive_sequences(result["ratings"].drop("rating")), ValueError, r"\bratings lacks column"),
        (lambda: S.positive_sequences(ids), TypeError, r"\bratings must be a Spark DataFrame"),
        (lambda: S.scaling_experiment(spark, result["ratings"], ()), ValueError, r"\bfactors is empty"),
        (lambda: S.scaling_experiment(spark, result["ratings"], 4), TypeError, r"\bfactors must be a sequence"),
    ]
    for call, exc, words in table:
        with pytest.raises(exc, match=words):
            call()
    # a bucket length merely small still fits: refusing is only for lengths that cannot find anything
    assert S.fit_lsh(vectors, bucket_length=0.01) is not None
    # and Spark still answers after all of it
    assert vectors.count() == len(ids)


@needs_spark
@pytest.mark.slow
def test_run_pipeline_refuses_a_bad_ratings_file_and_writes_nothing(spark, tmp_path):
    folder = _ratings_folder(tmp_path, HEADER + GOOD_ROWS + "3,1,99,1000000000\n")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"rating '99' is off the scale"):
        S.run_pipeline(spark, folder, out)
    assert not out.exists()


# Corruptions of a ratings file in the loader fuzz test's spirit: each one is refused by both paths with
# the loader's DataError, or read by Spark into exactly the values the loader reads.
FUZZ_VALUES = ["", " ", "nan", "NaN", "inf", "-1", "0", "99", "1e400", "9" * 30, "0x10", "abc", "4.25", "5.5",
               " 4.0 ", "4.0", "+3", "3.", "3.000", "-0", "2.5e0", "9223372036854775807", "9223372036854775808"]


def _corrupt_ratings(rng: np.random.Generator, text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    i = int(rng.integers(1, len(lines)))
    fields = lines[i].split(",")
    op = int(rng.integers(8))
    if op == 0:
        lines.insert(i, lines[i])                              # a duplicated row
    elif op == 1:
        lines[0] = "movieId,userId,timestamp,rating"           # columns in another order
        for n in range(1, len(lines)):
            u, m, r, t = lines[n].split(",")
            lines[n] = ",".join([m, u, t, r])
    elif op == 2:
        lines[0] = "\ufeff" + lines[0]                          # a byte-order mark
    elif op == 3:
        lines = [line + ",x" for line in lines]                # an extra column
        lines[0] = lines[0][:-2] + ",note"
    else:
        fields[int(rng.integers(4))] = str(rng.choice(FUZZ_VALUES))
        lines[i] = ",".join(fields)
    return "\n".join(lines) + "\n"


@needs_spark
@pytest.mark.slow
def test_spark_path_fuzz_reads_what_the_loader_reads_or_refuses_it_the_same_way(spark, tmp_path):
    rng = np.random.default_rng(2024)
    base = HEADER + "".join(f"{u},{m},{r},{1_000_000_000 + 7 * u + m}\n"
                            for u, m, r in [(1, 1, 4.0), (1, 2, 3.5), (2, 1, 2.0), (2, 5, 5.0), (3, 2, 0.5)])
    outcomes = {"read": 0, "refused": 0}
    for case in range(40):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        shutil.copy(bundled_data_path() / "movies.csv", folder / "movies.csv")
        (folder / "ratings.csv").write_text(_corrupt_ratings(rng, base), encoding="utf-8")
        try:
            want = load_movielens(folder).ratings
        except DataError as exc:
            with pytest.raises(DataError) as caught:
                S.read_ratings(spark, folder)
            assert str(caught.value) == str(exc)
            outcomes["refused"] += 1
            continue
        got = pd.DataFrame(S.read_ratings(spark, folder).collect(), columns=["userId", "movieId", "rating", "timestamp"])
        keys = ["userId", "movieId"]
        pd.testing.assert_frame_equal(got.sort_values(keys).reset_index(drop=True),
                                      want[got.columns].sort_values(keys).reset_index(drop=True), check_dtype=False)
        outcomes["read"] += 1
    assert outcomes["read"] >= 8 and outcomes["refused"] >= 8  # the fuzzing hits both sides


@needs_spark
@pytest.mark.slow
def test_scaled_ratings_copy_every_user_under_new_ids(spark, small):
    folder, ratings = small
    frame = S.read_ratings(spark, folder)
    big = S.scaled_ratings(frame, 3)
    assert big.count() == 3 * len(ratings)
    assert big.select("userId").distinct().count() == 3 * ratings["userId"].nunique()
    with pytest.raises(ValueError, match="factor"):
        S.scaled_ratings(frame, 0)


@needs_spark
@pytest.mark.slow
def test_exercise_2_a_wider_bucket_buys_recall_with_more_than_twice_the_work(spark, tmp_path):
    """What exercise 2 asks, on the chapter's own data and settings (the bundled data, 10 iterations)."""
    from sparrow_course.exercises import ch08

    result = S.run_pipeline(spark, None, tmp_path, max_iter=10, seed=2024)
    narrow = S.lsh_recall(result["lsh"], result["vectors"], queries=300, seed=2024)
    wide = S.lsh_recall(S.fit_lsh(result["vectors"], bucket_length=0.4, seed=2024), result["vectors"], queries=300,
                        seed=2024)
    assert ch08.q2.answer == "b"
    assert wide["recall@10"] > narrow["recall@10"] and wide["candidate_share"] > 2 * narrow["candidate_share"]


@needs_spark
@pytest.mark.slow
def test_exercise_3_two_partitions_train_other_vectors_with_shared_neighbours(spark, small, tmp_path):
    from sparrow_course.exercises import ch08

    folder, _ = small
    result = S.run_pipeline(spark, folder, tmp_path, max_iter=5, seed=2024)
    two = S.to_numpy_vectors(S.item_vectors(S.train_item2vec(result["sequences"], max_iter=5, partitions=2,
                                                             seed=2024)))
    one = S.to_numpy_vectors(result["vectors"])
    overlap = S.neighbour_overlap(*two, *one)
    assert ch08.q3.answer == "b"
    assert not np.allclose(two[1], one[1]) and overlap["overlap@10"] > 5 * overlap["chance"]
    # the same seed and partitions, twice: equal (so the difference above is the partitions')
    again = S.to_numpy_vectors(S.item_vectors(S.train_item2vec(result["sequences"], max_iter=5, partitions=2,
                                                               seed=2024)))
    np.testing.assert_array_equal(again[1], two[1])


# --------------------------------------------------------------------------- the cluster path
# Last in this file: a process holds one SparkContext, so this test ends the module's local session.

def _processes_under(folder) -> list[int]:
    """Ids of live processes whose working folder or command line lies under ``folder`` (Linux /proc)."""
    folder = str(folder)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(folder) or folder in cmdline:
            found.append(int(entry))
    return found


def _pipeline_result(session, folder, out) -> dict:
    """What the cluster test compares of one pipeline run (two Word2Vec iterations) on ``session``."""
    result = S.run_pipeline(session, folder, out, max_iter=2, seed=7)
    ids, matrix = S.to_numpy_vectors(result["vectors"])
    user_ids, user_matrix = S.to_numpy_vectors(result["users"].withColumnRenamed("userId", "movieId"))
    return {"master": session.sparkContext.master,
            "executors": session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1,  # less the driver
            "counts": result["counts"],
            "sequences": {int(r["userId"]): list(r["movieIds"]) for r in result["sequences"].collect()},
            "ids": ids, "matrix": matrix, "user_ids": user_ids, "user_matrix": user_matrix}


@pytest.fixture(scope="module")
def local_result(spark, small, tmp_path_factory):
    """The cluster test's reference, run on this module's local session before that test stops it
    (a second local session would cost another JVM start)."""
    return _pipeline_result(spark, small[0], tmp_path_factory.mktemp("out-local"))


@needs_spark
@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="process checks read Linux's /proc")
def test_the_pipeline_on_a_standalone_cluster_gives_local_modes_result(small, local_result, tmp_path):
    from pyspark.sql import SparkSession

    folder, _ = small
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    cluster_dir = tmp_path / "cluster"
    with S.standalone_cluster(2, memory_per_worker="768m", log_dir=cluster_dir) as cluster:
        pids = cluster.pids
        assert cluster.master_url.startswith("spark://127.0.0.1:") and len(pids) == 3
        session = S.start_spark(cluster.master_url, shuffle_partitions=2, executor_memory="512m",
                                log_dir=tmp_path / "driver-cluster")
        try:
            remote = _pipeline_result(session, folder, tmp_path / "out-cluster")
        finally:
            S.stop_spark(session)
    # every process the cluster started is gone: master, workers and the executors they launched
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")]
    assert _processes_under(cluster_dir) == []
    local = local_result
    assert local["master"].startswith("local")

    assert remote["master"] == cluster.master_url and remote["executors"] == 2
    assert remote["counts"] == local["counts"]
    assert remote["sequences"] == local["sequences"]
    np.testing.assert_array_equal(remote["ids"], local["ids"])
    np.testing.assert_array_equal(remote["user_ids"], local["user_ids"])
    # Word2Vec trains on one partition in a fixed order (train_item2vec), so the same seed gives the same
    # vectors to the last bit on two executors as on local threads
    np.testing.assert_array_equal(remote["matrix"], local["matrix"])
    # a user's mean sums partial sums from the partitions in whatever order they arrive: equal up to rounding
    np.testing.assert_allclose(remote["user_matrix"], local["user_matrix"], rtol=1e-12, atol=1e-15)


def test_standalone_cluster_refuses_bad_settings_before_starting_anything():
    with pytest.raises(ValueError, match=r"\bworkers must be"):
        with S.standalone_cluster(0):
            pass
    with pytest.raises(ValueError, match=r"\bmemory_per_worker must look like"):
        with S.standalone_cluster(1, memory_per_worker="plenty"):
            pass
