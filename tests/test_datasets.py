"""Tests of the loader, its validation errors, the chapter helpers, describe() and the offline download path."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparrow_course import datasets as ds
from sparrow_course.datasets import DataError, load_movielens

MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,"American President, The (1995)",Comedy|Drama|Romance
3,Unknown Film,(no genres listed)
10,Heat (1995),Action|Crime|Thriller
"""
RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,2,3.5,964981247
2,1,5.0,1445714835
2,10,0.5,1445714800
3,2,2.0,1494273047
3,10,4.5,1494273100
"""
TAGS = """userId,movieId,tag,timestamp
2,1,pixar,1445714994
3,10,heist,1494273200
"""
LINKS = """movieId,imdbId,tmdbId
1,0114709,862
2,0112346,9087
3,0000000,
10,0113277,949
"""
USERS = """userId,age_group,gender,occupation,region,signup_platform,signup_timestamp
1,25-34,F,writer,east,web,964980000
2,18-24,M,student,west,ios,1445710000
3,56+,M,retired,south,tv,1494270000
"""


def write_folder(folder: Path, **files: str | None) -> Path:
    """Write a MovieLens-shaped folder: ml-latest-small files by default, overridden or dropped (None)."""
    content = {"movies.csv": MOVIES, "ratings.csv": RATINGS, "tags.csv": TAGS, "links.csv": LINKS}
    content.update({k.replace("_csv", ".csv"): v for k, v in files.items()})
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in content.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- loading -----------------------------------------------------------------------------------


def test_loads_a_real_movielens_layout_with_types(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml-latest-small"))
    assert ml.name == "ml-latest-small"
    assert ml.users is None and ml.tag_hierarchy is None
    assert ml.movies["movieId"].dtype == np.int64
    assert ml.movies["title"].iloc[1] == "American President, The (1995)"
    assert ml.movies["title"].dtype.kind in "OT"  # str / object
    assert ml.ratings.dtypes.to_dict() == {"userId": np.int64, "movieId": np.int64, "rating": np.float64,
                                           "timestamp": np.int64}
    assert ml.tags["timestamp"].dtype == np.int64 and ml.tags["userId"].dtype == np.int64
    assert len(ml.ratings) == 6 and len(ml.tags) == 2
    assert "ml-latest-small" in repr(ml)


def test_without_users_only_the_functions_that_need_them_fail(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml"))
    ds.describe(ml)  # works without users
    with pytest.raises(ValueError, match=r"no users\.csv.*real MovieLens.*chapter 04"):
        ml.require_users()
    with pytest.raises(ValueError, match=r"tag_hierarchy\.csv.*chapter 05"):
        ml.require_tag_hierarchy()


def test_users_csv_is_loaded_and_typed(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml", users_csv=USERS))
    users = ml.require_users()
    assert users["userId"].dtype == np.int64 and users["signup_timestamp"].dtype == np.int64
    assert users["occupation"].tolist() == ["writer", "student", "retired"]


def test_tags_csv_is_optional(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml", tags_csv=None))
    assert len(ml.tags) == 0 and list(ml.tags.columns) == ["userId", "movieId", "tag", "timestamp"]
    assert ml.tags["userId"].dtype == np.int64


def test_finds_the_csv_folder_one_level_down(tmp_path):
    write_folder(tmp_path / "unzipped" / "ml-latest-small")
    assert load_movielens(tmp_path / "unzipped").name == "ml-latest-small"


@pytest.fixture(scope="module")
def bundled() -> ds.MovieLens:
    return load_movielens()


def test_loads_the_bundled_sparrowlens(bundled):
    ml = bundled
    assert ml.name == "SparrowLens"
    assert ml.users is not None and ml.tag_hierarchy is not None
    assert ml.require_users() is ml.users


def test_missing_bundled_data_explains_where_it_is_expected(tmp_path, monkeypatch):
    from sparrow_course.datasets import movielens

    monkeypatch.setattr(movielens, "bundled_data_path", lambda: tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"'data' folder next to the 'sparrow_course' package") as info:
        load_movielens()
    assert "pip install -e" in str(info.value)
    assert str(tmp_path) not in str(info.value)  # no machine paths in messages


@pytest.mark.parametrize("make, message", [
    (lambda d: write_folder(d, movies_csv=None), r"^movies\.csv is missing"),
    (lambda d: write_folder(d, ratings_csv=None), r"^ratings\.csv is missing"),
    (lambda d: write_folder(d, ratings_csv="userId,movieId,timestamp\n1,1,9\n"),
     r"^ratings\.csv: missing column rating \(found: userId, movieId, timestamp\)"),
    (lambda d: write_folder(d, ratings_csv=RATINGS.replace("3.5", "abc")),
     r"^ratings\.csv line 3: rating 'abc' is not a number"),
    (lambda d: write_folder(d, ratings_csv=RATINGS.replace("0.5", "5.5")),
     r"^ratings\.csv line 5: rating '5\.5' is off the scale"),
    (lambda d: write_folder(d, ratings_csv=RATINGS.replace("2.0", "2.3")),
     r"^ratings\.csv line 6: rating '2\.3' is off the scale; expected 0\.5 to 5\.0 in steps of 0\.5"),
    (lambda d: write_folder(d, ratings_csv=RATINGS.replace("5.0", "0")), r"^ratings\.csv line 4: rating '0' is off"),
    (lambda d: write_folder(d, ratings_csv=RATINGS.replace("3,2,2.0", ",2,2.0")),
     r"^ratings\.csv line 6: userId '' is not an integer"),
    (lambda d: write_folder(d, ratings_csv=RATINGS.replace("964981247", "soon")),
     r"^ratings\.csv line 3: timestamp 'soon' is not an integer"),
    (lambda d: write_folder(d, ratings_csv=RATINGS + "4,99,3.0,1500000000\n"),
     r"^ratings\.csv line 8: movieId 99 is not in movies\.csv"),
    (lambda d: write_folder(d, ratings_csv=RATINGS + "1,2,3.0,1500000000\n"),
     r"^ratings\.csv line 8: duplicate userId 1, movieId 2 \(first on line 3\)"),
    (lambda d: write_folder(d, movies_csv=MOVIES + "2,Again (2000),Drama\n"),
     r"^movies\.csv line 6: duplicate movieId 2 \(first on line 3\)"),
    (lambda d: write_folder(d, users_csv=USERS + "2,18-24,F,artist,east,web,1\n"),
     r"^users\.csv line 5: duplicate userId 2 \(first on line 3\)"),
    (lambda d: write_folder(d, users_csv=USERS.replace("3,56+", "4,56+")),
     r"^ratings\.csv line 6: userId 3 is not in users\.csv"),
    (lambda d: write_folder(d, tags_csv=TAGS.replace("3,10,heist", "3,11,heist")),
     r"^tags\.csv line 3: movieId 11 is not in movies\.csv"),
    (lambda d: write_folder(d, tag_hierarchy_csv="tag,parent,root\nheist,crime,dark\nheist,caper,fun\n"),
     r"^tag_hierarchy\.csv line 3: duplicate tag heist \(first on line 2\)"),
    (lambda d: write_folder(d, ratings_csv=RATINGS + "4,1,3.0,1500000000,extra\n"), r"^ratings\.csv line 8 has 5 fields; the header has 4"),
    (lambda d: write_folder(d, tag_hierarchy_csv="tag,parent\npixar,animation,family\n"),
     r"^tag_hierarchy\.csv line 2 has 3 fields; the header has 2"),
    (lambda d: write_folder(d, movies_csv=""), r"^movies\.csv is empty"),
])
def test_bad_files_raise_data_error_naming_file_and_line(tmp_path, make, message):
    folder = make(tmp_path / "ml")
    with pytest.raises(DataError, match=message) as info:
        load_movielens(folder)
    assert isinstance(info.value, ValueError)
    # A clear message, not a pandas traceback dressed up: no chained exception is shown.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_bad_paths_raise_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_movielens(tmp_path / "missing")
    (tmp_path / "ml.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="is a file.*unzip it first"):
        load_movielens(tmp_path / "ml.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="movies.csv is missing from folder 'empty'"):
        load_movielens(tmp_path / "empty")
    with pytest.raises(TypeError, match="path must be"):
        load_movielens(3)  # type: ignore[arg-type]


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture()
def small(tmp_path) -> ds.MovieLens:
    return load_movielens(write_folder(tmp_path / "small", users_csv=USERS))


def test_genre_matrix_is_sorted_multi_hot(small):
    g = ds.genre_matrix(small.movies)
    assert list(g.columns) == sorted(g.columns) and "(no genres listed)" not in g.columns
    assert g.index.tolist() == [1, 2, 3, 10] and g.index.name == "movieId"
    assert g.loc[3].sum() == 0 and g.loc[1].sum() == 5
    assert set(np.unique(g.to_numpy())) <= {0, 1} and (g.dtypes == np.int8).all()
    with pytest.raises(ValueError, match="lacks column"):
        ds.genre_matrix(small.movies.drop(columns="genres"))


def test_release_year_parses_titles(small):
    years = ds.release_year(small.movies)
    assert years.loc[1] == 1995 and years.loc[2] == 1995 and pd.isna(years.loc[3])


def test_positive_uses_the_sparrowrecsys_threshold(small):
    pos = ds.positive(small.ratings)
    assert (pos["rating"] >= 3.5).all() and len(pos) == 4
    assert pos.index.tolist() == list(range(4))
    assert len(ds.positive(small.ratings, threshold=5.0)) == 1
    with pytest.raises(ValueError, match=r"\bthreshold must be a number >= 0.5 and <= 5.0, got 7"):
        ds.positive(small.ratings, threshold=7)
    with pytest.raises(TypeError):
        ds.positive(small.ratings, threshold="high")  # type: ignore[arg-type]


def test_time_split_is_global_by_timestamp(bundled):
    ratings = bundled.ratings
    train, test = ds.time_split(ratings, test_fraction=0.2)
    assert len(train) + len(test) == len(ratings)
    assert train["timestamp"].max() < test["timestamp"].min()
    assert abs(len(test) / len(ratings) - 0.2) < 0.01
    for bad in (0, 1.0, -0.1):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            ds.time_split(ratings, test_fraction=bad)
    with pytest.raises(TypeError):
        ds.time_split(ratings, test_fraction=True)


def test_describe_and_format(small):
    stats = ds.describe(small)
    assert (stats["n_movies"], stats["n_users"], stats["n_ratings"], stats["n_tags"]) == (4, 3, 6, 2)
    assert list(stats["rating_histogram"]) == [f"{x / 2:.1f}" for x in range(1, 11)]
    assert sum(stats["rating_histogram"].values()) == 6 and stats["rating_histogram"]["4.0"] == 1
    assert stats["mean_rating"] == pytest.approx(np.mean([4.0, 3.5, 5.0, 0.5, 2.0, 4.5]))
    assert stats["half_star_share"] == pytest.approx(3 / 6)
    assert stats["ratings_per_user"]["min"] == 2 and stats["ratings_per_movie"]["min"] == 0
    assert stats["popularity"]["movies_unrated"] == 1
    assert stats["popularity"]["top_1pct_share"] == pytest.approx(2 / 6)
    assert stats["genre_counts"]["Comedy"] == 2 and stats["movies_without_genres"] == 1
    assert stats["time_span"]["first"] == "2000-07-30" and stats["time_span"]["last"] == "2017-05-08"
    assert stats["user_features"]["occupation"] == {"retired": 1, "student": 1, "writer": 1}
    text = ds.format_description(stats)
    assert text.startswith("small: 4 movies, 3 users") and "occupation: retired 1" in text
    with pytest.raises(TypeError):
        ds.format_description({"nothing": 1})


def test_describe_without_users_says_so(tmp_path):
    text = ds.format_description(ds.describe(load_movielens(write_folder(tmp_path / "ml"))))
    assert "users.csv: absent" in text


def test_bundled_card_quotes_describe(bundled):
    stats = ds.describe(bundled)
    card = (ds.bundled_data_path() / "README.md").read_text(encoding="utf-8")
    assert f"| movies | {stats['n_movies']:,} |" in card
    assert f"top 10% hold {stats['popularity']['top_10pct_share']:.1%}" in card


# --- download (offline: file:// URLs only) -------------------------------------------------------


def make_zip(path: Path, members: dict[str, str]) -> str:
    """Write a zip with the given members; return its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def fake_ml_zip(tmp_path) -> tuple[Path, str]:
    members = {f"ml-latest-small/{n}": t for n, t in
               {"movies.csv": MOVIES, "ratings.csv": RATINGS, "tags.csv": TAGS, "links.csv": LINKS,
                "README.txt": "fake\n"}.items()}
    src = tmp_path / "server" / "ml-latest-small.zip"
    return src, make_zip(src, members)


def test_download_verifies_caches_and_extracts(tmp_path, fake_ml_zip):
    src, digest = fake_ml_zip
    cache = tmp_path / "cache"
    folder = ds.download_movielens(tmp_path / "dest", url=src.as_uri(), sha256=digest, cache_dir=cache)
    assert folder == tmp_path / "dest" / "ml-latest-small"
    assert (cache / "ml-latest-small.zip").read_bytes() == src.read_bytes()
    assert len(load_movielens(folder).ratings) == 6
    assert not [p for p in (tmp_path).iterdir() if p.name.startswith(".dest")]  # no temp folder left

    src.unlink()  # the second call must not read the source again
    again = ds.download_movielens(tmp_path / "dest2", url=src.as_uri(), sha256=digest, cache_dir=cache)
    assert len(load_movielens(again).movies) == 4
    # Same destination again: already unpacked, nothing to do.
    assert ds.download_movielens(tmp_path / "dest", url=src.as_uri(), sha256=digest, cache_dir=cache) == folder


def test_download_with_bad_checksum_keeps_nothing(tmp_path, fake_ml_zip):
    src, _ = fake_ml_zip
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="checksum mismatch for ml-latest-small.zip: expected SHA-256 0{64}, got"):
        ds.download_movielens(tmp_path / "dest", url=src.as_uri(), sha256="0" * 64, cache_dir=cache)
    assert list(cache.iterdir()) == []
    assert not (tmp_path / "dest").exists()


def test_download_without_checksum_reports_it_and_refuses(tmp_path, fake_ml_zip):
    src, digest = fake_ml_zip
    with pytest.raises(DataError, match=f"sha256='{digest}'"):
        ds.download_movielens(tmp_path / "dest", url=src.as_uri(), sha256=None, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_corrupt_cache_is_fetched_again(tmp_path, fake_ml_zip):
    src, digest = fake_ml_zip
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-latest-small.zip").write_bytes(b"truncated")
    folder = ds.download_movielens(tmp_path / "dest", url=src.as_uri(), sha256=digest, cache_dir=cache)
    assert (folder / "movies.csv").is_file()
    assert hashlib.sha256((cache / "ml-latest-small.zip").read_bytes()).hexdigest() == digest


def test_download_errors(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError, match="could not download"):
        ds.download_movielens(tmp_path / "d1", url=(tmp_path / "absent.zip").as_uri(), sha256="a" * 64,
                              cache_dir=cache)
    evil = tmp_path / "evil.zip"
    digest = make_zip(evil, {"../escape.csv": "x\n", "movies.csv": MOVIES})
    with pytest.raises(DataError, match="unsafe member path"):
        ds.download_movielens(tmp_path / "d2", url=evil.as_uri(), sha256=digest, cache_dir=cache)
    assert not (tmp_path / "escape.csv").exists() and not (tmp_path / "d2").exists()
    empty = tmp_path / "other.zip"
    digest = make_zip(empty, {"notes/readme.txt": "no data\n"})
    with pytest.raises(DataError, match="holds no movies.csv"):
        ds.download_movielens(tmp_path / "d3", url=empty.as_uri(), sha256=digest, cache_dir=cache)
    assert not (tmp_path / "d3").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="exists and is not empty"):
        ds.download_movielens(tmp_path / "busy", url=empty.as_uri(), sha256=digest, cache_dir=cache)
    with pytest.raises(ValueError, match="64 hex digits"):
        ds.download_movielens(tmp_path / "d4", sha256="abc", cache_dir=cache)


def test_default_cache_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    from sparrow_course.datasets import download

    assert download._default_cache_dir() == tmp_path / "xdg" / "sparrow-course"


def test_real_movielens_constants():
    assert ds.ML_LATEST_SMALL_URL == "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
    assert len(ds.ML_LATEST_SMALL_SHA256) == 64 and int(ds.ML_LATEST_SMALL_SHA256, 16) >= 0


def test_genre_drift_tells_a_drifting_user_from_a_steady_one():
    movies = pd.DataFrame({"movieId": [1, 2], "title": ["A (2000)", "B (2000)"], "genres": ["Horror", "Comedy"]})
    # user 1 watches horror, then comedy; user 2 alternates the whole time
    drifting = [1] * 10 + [2] * 10
    steady = [1, 2] * 10
    ratings = pd.DataFrame({"userId": [1] * 20 + [2] * 20, "movieId": drifting + steady,
                            "rating": 4.0, "timestamp": list(range(20)) * 2})
    drift = ds.genre_drift(ratings, movies, min_ratings=20, edge=0.2)
    assert drift.loc[1, "early_late"] == pytest.approx(0.0)
    assert drift.loc[1, "interleaved"] == pytest.approx(1.0)
    assert drift.loc[2, "early_late"] == pytest.approx(1.0)
    assert list(drift.index) == [1, 2]
    assert ds.genre_drift(ratings[ratings.userId == 1], movies, min_ratings=20).shape == (1, 2)
    with pytest.raises(ValueError, match="no user has 21 ratings"):
        ds.genre_drift(ratings, movies, min_ratings=21)
    with pytest.raises(ValueError, match="edge must be a fraction"):
        ds.genre_drift(ratings, movies, edge=0.7)


# --- catalogue tags (movie_tags.csv, or ml-25m's tag genome) ----------------------------------

MOVIE_TAGS = """movieId,tag,relevance
1,pixar,0.9500
1,funny,0.7000
10,heist,1.0
10,atmospheric,0.0
"""


def test_movie_tags_are_read_when_present_and_none_when_absent(tmp_path):
    assert load_movielens(write_folder(tmp_path / "plain")).movie_tags is None
    ml = load_movielens(write_folder(tmp_path / "cat", movie_tags_csv=MOVIE_TAGS))
    assert list(ml.movie_tags.columns) == ["movieId", "tag", "relevance"]
    assert ml.movie_tags["movieId"].dtype == np.int64 and ml.movie_tags["relevance"].dtype == np.float64
    assert ml.movie_tags["relevance"].tolist() == [0.95, 0.7, 1.0, 0.0]
    assert ml.require_movie_tags() is ml.movie_tags
    with pytest.raises(ValueError, match="no catalogue tags.*genome"):
        load_movielens(tmp_path / "plain").require_movie_tags()


@pytest.mark.parametrize("text, message", [
    (MOVIE_TAGS.replace("0.7000", "1.2"), r"^movie_tags\.csv line 3: relevance '1\.2' is not a relevance; expected a number from 0 to 1"),
    (MOVIE_TAGS.replace("0.7000", "-0.1"), r"^movie_tags\.csv line 3: relevance '-0\.1' is not a relevance"),
    (MOVIE_TAGS.replace("0.7000", "high"), r"^movie_tags\.csv line 3: relevance 'high' is not a relevance"),
    (MOVIE_TAGS.replace("0.7000", "nan"), r"^movie_tags\.csv line 3: relevance 'nan' is not a relevance"),
    (MOVIE_TAGS + "1,pixar,0.5\n", r"^movie_tags\.csv line 6: duplicate movieId 1, tag pixar \(first on line 2\)"),
    (MOVIE_TAGS + "11,pixar,0.5\n", r"^movie_tags\.csv line 6: movieId 11 is not in movies\.csv"),
    ("movieId,tag\n1,pixar\n", r"^movie_tags\.csv: missing column relevance"),
])
def test_bad_movie_tags_raise_data_error(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_movielens(write_folder(tmp_path / "ml", movie_tags_csv=text))


GENOME_TAGS = "tagId,tag\n1,007\n2,atmospheric\n3,heist\n"
GENOME_SCORES = """movieId,tagId,relevance
1,1,0.02875
1,2,0.62500
1,3,0.05800
10,1,0.04100
10,2,0.70925
10,3,0.97775
"""


def test_ml25m_tag_genome_is_read_into_movie_tags(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml-25m", **{"genome-scores.csv": GENOME_SCORES,
                                                                  "genome-tags.csv": GENOME_TAGS}))
    got = ml.movie_tags
    assert list(got.columns) == ["movieId", "tag", "relevance"]
    assert got.values.tolist() == [[1, "atmospheric", 0.625], [1, "heist", 0.058], [1, "007", 0.02875],
                                   [10, "heist", 0.97775], [10, "atmospheric", 0.70925], [10, "007", 0.041]]
    stats = ds.describe_movie_tags(ml, min_relevance=0.5)
    assert stats["rows"] == 3 and stats["coverage"] == pytest.approx(2 / 4)
    assert stats["sibling_leaf_overlap"] is None and stats["rows_by_kind"] == {"generic": 3}
    with pytest.raises(DataError, match=r"genome-scores\.csv needs genome-tags\.csv"):
        load_movielens(write_folder(tmp_path / "half", **{"genome-scores.csv": GENOME_SCORES}))
    with pytest.raises(DataError, match=r"^genome-scores\.csv line 3: tagId 9 is not in genome-tags\.csv"):
        load_movielens(write_folder(tmp_path / "bad", **{
            "genome-scores.csv": GENOME_SCORES.replace("1,2,0.625", "1,9,0.625"), "genome-tags.csv": GENOME_TAGS}))


def test_tag_statistics_on_a_small_catalogue(tmp_path):
    hierarchy = "tag,parent,root\npixar,animation,family\ntoys,animation,family\nheist,crime,dark\n"
    tags = "movieId,tag,relevance\n1,pixar,0.9\n2,pixar,0.8\n3,toys,0.7\n1,funny,0.6\n2,funny,0.6\n3,funny,0.6\n10,funny,0.5\n"
    ml = load_movielens(write_folder(tmp_path / "ml", movie_tags_csv=tags, tag_hierarchy_csv=hierarchy))
    freq = ds.tag_rank_frequency(ml)
    assert freq[["rank", "tag", "kind", "movies"]].values.tolist() == [
        [1, "funny", "generic", 4], [2, "pixar", "leaf", 2], [3, "toys", "leaf", 1]]
    stats = ds.describe_movie_tags(ml)
    # Parent "animation" has movies 1, 2 (pixar) and 3 (toys): of 3 pairs, only (1, 2) share a leaf.
    assert stats["sibling_leaf_overlap"] == pytest.approx(1 / 3)
    assert stats["coverage"] == 1.0 and stats["top10_share"] == 1.0
    with pytest.raises(ValueError, match="min_relevance"):
        ds.describe_movie_tags(ml, min_relevance=2)


# --- hostile-but-fair input (issue: bad input gets a clear error, never a silent wrong answer) ---

MOVIE_TAGS_SMALL = "movieId,tag,relevance\n1,pixar,0.95\n2,funny,0.5\n10,heist,1.0\n"


@pytest.mark.parametrize("files, message", [
    # integers that would wrap around in int64, and timestamps no clock produced
    ({"ratings_csv": RATINGS.replace("3,2,2.0", "18446744073709551615,2,2.0")},
     r"^ratings\.csv line 6: userId '18446744073709551615' is too large; expected an id from 0 to 2\*\*63 - 1"),
    ({"ratings_csv": RATINGS.replace("1,2,3.5", "1,99999999999999999999999,3.5")},
     r"^ratings\.csv line 3: movieId '99999999999999999999999' is too large"),
    ({"ratings_csv": RATINGS.replace("964981247", "100000000000000000000")},
     r"^ratings\.csv line 3: timestamp '100000000000000000000' is not a plausible Unix timestamp; expected seconds"),
    ({"ratings_csv": RATINGS.replace("964981247", "964981247000")},
     r"^ratings\.csv line 3: timestamp '964981247000' is not a plausible .* It may be in milliseconds"),
    ({"ratings_csv": RATINGS.replace("964981247", "-5")}, r"^ratings\.csv line 3: timestamp '-5' is not a plausible"),
    ({"ratings_csv": RATINGS.replace("964981247", "1e20")}, r"^ratings\.csv line 3: timestamp '1e20' is not an integer"),
    ({"tags_csv": TAGS.replace("1445714994", "1445714994123")}, r"^tags\.csv line 2: timestamp .* milliseconds"),
    ({"users_csv": USERS.replace("964980000", "964980000000")},
     r"^users\.csv line 2: signup_timestamp '964980000000' is not a plausible .* milliseconds"),
    ({"ratings_csv": RATINGS.replace("3,10,4.5", "3,-10,4.5")}, r"^ratings\.csv line 7: movieId '-10' is negative"),
    ({"ratings_csv": RATINGS.replace("1,1,4.0", "1,1,nan")}, r"^ratings\.csv line 2: rating 'nan' is not a number"),
    ({"ratings_csv": RATINGS.replace("1,1,4.0", "1,1,inf")}, r"^ratings\.csv line 2: rating 'inf' is off the scale"),
    # the header
    ({"ratings_csv": RATINGS.replace("userId,movieId,rating,timestamp", "userId,movieId,rating,rating,timestamp")},
     r"^ratings\.csv: column 'rating' appears twice in the header \(columns 3 and 4\)"),
    ({"ratings_csv": "userId,movieId,rating,timestamp\n"}, r"^ratings\.csv has no ratings \(only a header line\)"),
    ({"ratings_csv": "userId,movieId,rating,timestamp\n\n\n"}, r"^ratings\.csv has no ratings"),
    ({"movies_csv": "movieId,title,genres\n"}, r"^movies\.csv has no movies"),
    ({"ratings_csv": "\n\n"}, r"^ratings\.csv is empty"),
    # lines
    ({"ratings_csv": RATINGS.replace("2,1,5.0,1445714835\n", "2,1,5.0,1445714835\n\n")},
     r"^ratings\.csv line 5 is blank; expected a row .*only blank lines at the end"),
    ({"ratings_csv": RATINGS.replace("2,1,5.0,1445714835\n", "2,1,5.0,1445714835\n   \n")}, r"line 5 is blank"),
    ({"movies_csv": MOVIES.replace('"American President, The (1995)"', '"American President, The (1995)')},
     r"^movies\.csv line 3: the double quotes do not balance \(a quote opens at character 3"),
    ({"tags_csv": TAGS.replace("pixar", 'pix"ar')}, r"^tags\.csv line 2: the double quotes do not balance"),
    ({}, None),  # movies.csv in Latin-1: see the test body
    # catalogue tags
    ({"movie_tags_csv": MOVIE_TAGS_SMALL.replace("0.95", "95")}, r"^movie_tags\.csv line 2: relevance '95' is not"),
    ({"movie_tags_csv": MOVIE_TAGS_SMALL.replace("1,pixar", "18446744073709551616,pixar")},
     r"^movie_tags\.csv line 2: movieId '18446744073709551616' is too large"),
])
def test_bad_input_table(tmp_path, files, message):
    if message is None:  # a file that is not UTF-8 (written as bytes: Latin-1)
        folder = write_folder(tmp_path / "ml")
        (folder / "movies.csv").write_bytes(MOVIES.replace("Heat", "H\xe9at").encode("latin-1"))
        message = r"^movies\.csv is not UTF-8 text"
    else:
        folder = write_folder(tmp_path / "ml", **files)
    with pytest.raises(DataError, match=message) as info:
        load_movielens(folder)
    assert len(str(info.value)) < 400  # says what is wrong, not a page of text


def test_trailing_blank_lines_crlf_and_bom_are_accepted(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "a", ratings_csv=RATINGS + "\n", tags_csv=TAGS + "\n\n  \n"))
    assert len(ml.ratings) == 6 and len(ml.tags) == 2
    crlf = RATINGS.replace("\n", "\r\n")
    ml = load_movielens(write_folder(tmp_path / "b", ratings_csv="\ufeff" + crlf))
    assert ml.ratings["timestamp"].tolist()[:2] == [964982703, 964981247]


def test_largest_int64_id_loads_exactly(tmp_path):
    big = 2**63 - 1
    ml = load_movielens(write_folder(tmp_path / "ml", ratings_csv=RATINGS.replace("3,2,2.0", f"{big},2,2.0")))
    assert ml.ratings["userId"].max() == big and ml.ratings["userId"].dtype == np.int64


def test_missing_folder_is_shown_as_given_and_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ds.DATA_HOME_ENV, str(tmp_path / "home"))
    with pytest.raises(DataError, match=r"folder 'nowhere/ml' does not exist: not in the working folder \(") as info:
        load_movielens("nowhere/ml")
    assert str(tmp_path / "nowhere" / "ml") in str(info.value)  # resolved
    assert str(tmp_path / "home" / "nowhere" / "ml") in str(info.value) and ds.DATA_HOME_ENV in str(info.value)


def test_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_folder(tmp_path / "mydata")
    assert len(load_movielens("~/mydata").ratings) == 6


def test_two_candidate_subfolders_are_both_named(tmp_path):
    write_folder(tmp_path / "outer" / "ml-a")
    write_folder(tmp_path / "outer" / "ml-b")
    with pytest.raises(DataError, match=r"several MovieLens folders \('ml-a' and 'ml-b'\)"):
        load_movielens(tmp_path / "outer")


def test_data_home_from_environment_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ds.DATA_HOME_ENV, str(tmp_path / "home"))
    assert ds.data_home() == tmp_path / "home"
    monkeypatch.delenv(ds.DATA_HOME_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ds.data_home() == tmp_path / "sparrow_course_data"
    assert ds.data_home("~/x") == tmp_path / "x"
    with pytest.raises(TypeError, match="path must be"):
        ds.data_home(3)  # type: ignore[arg-type]


def test_download_into_the_data_home_is_found_from_any_folder(tmp_path, monkeypatch, fake_ml_zip):
    # The README's example, as typed: `data download --dest movielens`, then, from a notebook in
    # another working folder, load_movielens("movielens/ml-latest-small").
    src, digest = fake_ml_zip
    monkeypatch.setenv(ds.DATA_HOME_ENV, str(tmp_path / "home"))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    folder = ds.download_movielens("movielens", url=str(src), sha256=digest, cache_dir=tmp_path / "cache")
    assert folder == tmp_path / "home" / "movielens" / "ml-latest-small"
    assert len(load_movielens("movielens/ml-latest-small").ratings) == 6


def test_download_to_a_file_destination_is_a_clear_error(tmp_path, fake_ml_zip):
    src, digest = fake_ml_zip
    (tmp_path / "taken").write_text("a file\n")
    with pytest.raises(DataError, match=r"destination '.*taken' is a file; expected a folder") as info:
        ds.download_movielens(tmp_path / "taken", url=src.as_uri(), sha256=digest, cache_dir=tmp_path / "cache")
    assert ".tmp" not in str(info.value)
    assert (tmp_path / "taken").read_text() == "a file\n"


def test_time_split_refuses_text_timestamps():
    ratings = pd.DataFrame({"userId": [1, 1, 1], "movieId": [1, 2, 3], "timestamp": ["9", "10", "11"]})
    with pytest.raises(TypeError, match=r"ratings\['timestamp'\] must be numeric"):
        ds.time_split(ratings)


def test_genre_drift_refuses_edges_that_would_be_empty(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml"))
    with pytest.raises(ValueError, match=r"min_ratings \* edge must be at least 1.*min_ratings=2 and edge=0\.2"):
        ds.genre_drift(ml.ratings, ml.movies, min_ratings=2, edge=0.2)
    drift = ds.genre_drift(ml.ratings, ml.movies, min_ratings=2, edge=0.5)
    assert drift["early_late"].notna().all()


# --- loader fuzz test: each corruption loads with validated values or raises DataError -------------

FUZZ_FILES = {"movies.csv": MOVIES, "ratings.csv": RATINGS, "tags.csv": TAGS, "users.csv": USERS,
              "movie_tags.csv": MOVIE_TAGS_SMALL,
              "tag_hierarchy.csv": "tag,parent,root\npixar,animation,family\nheist,caper,crime\n"}
GARBAGE = ["", " ", '"', '""', "nan", "inf", "-1", "1e400", "18446744073709551615", "9" * 30, "0x10", "3.7",
           "é", "\t", "NULL", "4.0.1", ",", "1,2", "-0", "+3"]


def _corrupt(rng: np.random.Generator, text: str) -> str:
    """Apply one random corruption to a CSV text."""
    lines = text.split("\n")
    body = [i for i in range(len(lines)) if lines[i]]
    i = int(rng.choice(body))
    fields = lines[i].split(",")
    j = int(rng.integers(len(fields)))
    op = int(rng.integers(10))
    if op == 0:
        del fields[j]
    elif op == 1:
        fields.insert(j, fields[j])
    elif op == 2 and len(fields) > 1:
        k = int(rng.integers(len(fields)))
        fields[j], fields[k] = fields[k], fields[j]
    elif op == 3:
        fields[j] = fields[j][: int(rng.integers(len(fields[j]) + 1))] + '"' + fields[j][int(rng.integers(len(fields[j]) + 1)):]
    elif op == 4:
        lines.insert(i, "")
    elif op == 5:
        lines.insert(i, lines[i])  # a duplicated row
    elif op == 6:
        return text[: int(rng.integers(len(text)))]  # truncated
    else:
        fields[j] = str(rng.choice(GARBAGE))
    lines[i] = ",".join(fields)
    return "\n".join(lines)


def _assert_valid(ml) -> None:
    """Every value the loader accepted is inside its documented range."""
    for frame in (ml.movies, ml.ratings, ml.tags, ml.users, ml.movie_tags):
        if frame is None:
            continue
        for column in ("userId", "movieId"):
            if column in frame:
                assert frame[column].dtype == np.int64 and (frame[column] >= 0).all()
        for column in ("timestamp", "signup_timestamp"):
            if column in frame:
                assert frame[column].dtype == np.int64
                assert frame[column].between(ds.TIMESTAMP_RANGE[0], ds.TIMESTAMP_RANGE[1] - 1).all()
    assert ml.ratings["rating"].isin(ds.RATING_VALUES).all()
    assert not ml.ratings.duplicated(["userId", "movieId"]).any() and ml.movies["movieId"].is_unique
    assert ml.ratings["movieId"].isin(ml.movies["movieId"]).all()
    if ml.movie_tags is not None:
        assert ml.movie_tags["relevance"].between(0, 1).all()
        assert not ml.movie_tags.duplicated(["movieId", "tag"]).any()


def test_loader_fuzz(tmp_path):
    rng = np.random.default_rng(12345)
    outcomes = {"loaded": 0, "refused": 0}
    for case in range(300):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        victim = str(rng.choice(sorted(FUZZ_FILES)))
        for name, text in FUZZ_FILES.items():
            (folder / name).write_text(_corrupt(rng, text) if name == victim else text, encoding="utf-8")
        if rng.random() < 0.1:  # now and then, an encoding the loader does not read
            (folder / victim).write_bytes((folder / victim).read_text(encoding="utf-8").encode("utf-16"))
        try:
            ml = load_movielens(folder)
        except DataError as exc:
            assert str(exc) and victim.split(".")[0] in str(exc) or "folder" in str(exc), (case, victim, str(exc))
            outcomes["refused"] += 1
            continue
        _assert_valid(ml)
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 20  # the fuzzing hits both sides


def test_genre_lift_by_registration_feature(tmp_path):
    ml = load_movielens(write_folder(tmp_path / "ml", users_csv=USERS))
    lift = ds.genre_lift(ml.ratings, ml.movies, ml.users, "gender", min_share=0.0)
    # Women (user 1) rated movies 1 and 2; of the 6 ratings' genre rows, Comedy is on 4 (movies 1, 2, 2, 1).
    overall_comedy = 4 / 6
    assert lift.loc["F", "Comedy"] == pytest.approx((2 / 2) / overall_comedy)
    assert lift.index.tolist() == ["F", "M"] and lift.index.name == "gender"
    with pytest.raises(ValueError, match="lacks column"):
        ds.genre_lift(ml.ratings, ml.movies, ml.users, "height")
    with pytest.raises(ValueError, match="min_share"):
        ds.genre_lift(ml.ratings, ml.movies, ml.users, min_share=1.5)


# --------------------------------------------------------------------------- what a section needs

def test_lacks_says_nothing_of_the_bundled_data_and_names_what_a_copy_lacks(tmp_path):
    from sparrow_course.datasets import NEEDS, lacks, planted_truth

    ml = load_movielens()
    assert ml.bundled and lacks(ml, *NEEDS) is None
    assert type(planted_truth(ml)).__name__ == "SparrowLensTruth"
    # a real-shaped copy: ratings and movies only, ids of its own
    folder = tmp_path / "real-shaped"
    folder.mkdir()
    ml.movies.head(50).to_csv(folder / "movies.csv", index=False)
    ml.ratings[ml.ratings.movieId.isin(ml.movies.movieId.head(50))].to_csv(folder / "ratings.csv", index=False)
    real = load_movielens(folder)
    assert not real.bundled and real.truth is None
    for need in ("planted truth", "users", "tag hierarchy", "movie tags", "tags"):
        why = lacks(real, need)
        assert why and "'real-shaped'" in why and NEEDS[need] in why, need
    both = lacks(real, "users", "tags")
    assert NEEDS["users"] in both and NEEDS["tags"] in both
    with pytest.raises(DataError, match=r"'real-shaped' has no planted truth"):
        planted_truth(real)


def test_lacks_refuses_unknown_needs_and_non_datasets():
    from sparrow_course.datasets import lacks, planted_truth

    ml = load_movielens()
    with pytest.raises(ValueError, match=r"unknown need\(s\) \['genome'\]"):
        lacks(ml, "genome")
    with pytest.raises(ValueError, match=r"at least one need"):
        lacks(ml)
    with pytest.raises(TypeError, match=r"\bml\b must be a MovieLens"):
        lacks(ml.ratings, "users")
    with pytest.raises(TypeError, match=r"\bml\b must be a MovieLens"):
        planted_truth("data")


def test_generated_data_carries_its_own_truth():
    from sparrow_course.datasets import lacks, planted_truth
    from sparrow_course.sparrowlens import generate

    small = generate(7, n_movies=300, n_users=300, mean_ratings_per_user=20)
    ml = small.as_movielens()
    assert not ml.bundled and lacks(ml, "planted truth") is None
    assert planted_truth(ml) is small.truth


def test_zipf_fit_recovers_a_power_law_and_flags_a_concave_curve():
    rank = np.arange(1, 301)
    exact = ds.zipf_fit(1000.0 * rank ** -1.2)
    assert exact["s"] == pytest.approx(1.2) and exact["worst_factor"] == pytest.approx(1.0)
    assert exact["head_slope"] == pytest.approx(-1.2) and exact["tail_slope"] == pytest.approx(-1.2)
    bent = ds.zipf_fit(1000.0 * np.exp(-rank / 60.0))  # concave on log-log axes
    assert bent["rank1_over_measured"] > 1.5 and bent["tail_slope"] < bent["head_slope"] - 1
    with pytest.raises(ValueError, match="positive"):
        ds.zipf_fit([3, 2, 0] * 20)
