"""Chapter 08: the Spark pipeline on a small slice in local mode (skipped, with the reason, without Java or PySpark)."""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pandas as pd
import pytest

from sparrow_course import embeddings
from sparrow_course import spark as S
from sparrow_course.datasets import load_movielens

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
    return folder, ratings


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
def test_pipeline_writes_vectors_and_user_vectors_are_means_of_liked_items(spark, small, tmp_path):
    folder, ratings = small
    result = S.run_pipeline(spark, folder, tmp_path, max_iter=2, seed=3)
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
    again = S.item_vectors(S.train_item2vec(result["sequences"], max_iter=2, seed=3))
    ids2, matrix2 = S.to_numpy_vectors(again)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(matrix, matrix2, rtol=1e-5, atol=1e-6)
    # each step's work is visible in the status tracker
    report = S.stage_report(spark, result["steps"])
    assert list(report["step"]) == result["steps"]
    assert (report.loc[report["step"] != "LSH index", "tasks"] > 0).all()


@needs_spark
@pytest.mark.slow
def test_lsh_finds_an_item_itself_first_and_recall_grows_with_tables(spark, small, tmp_path):
    folder, _ = small
    result = S.run_pipeline(spark, folder, tmp_path, max_iter=1, seed=5)
    ids, matrix = S.to_numpy_vectors(result["vectors"])
    near = S.nearest_items(result["lsh"], result["vectors"], matrix[0], k=3)
    assert near["movieId"].iloc[0] == ids[0] and near["distance"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    one = S.lsh_recall(S.fit_lsh(result["vectors"], num_hash_tables=1, seed=5), result["vectors"], queries=50)
    many = S.lsh_recall(S.fit_lsh(result["vectors"], num_hash_tables=12, seed=5), result["vectors"], queries=50)
    assert 0.0 <= one["recall@10"] <= many["recall@10"] <= 1.0
    assert one["candidates_per_query"] <= many["candidates_per_query"]


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
