"""MovieLens-format data: load and validate it, describe it, split it, and fetch real MovieLens.

Every chapter reads its data through :func:`load_movielens`, which returns the
bundled SparrowLens (``data/`` in the repository) or any MovieLens folder in the
ml-latest-small layout, e.g. one made by :func:`download_movielens`::

    from sparrow_course.datasets import load_movielens, download_movielens
    ml = load_movielens()                                  # bundled SparrowLens
    real = load_movielens(download_movielens("ml-data"))   # real ml-latest-small

Bad files raise :class:`DataError` naming the file and the CSV line, never a deep
pandas traceback.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "ML_LATEST_SMALL_SHA256",
    "ML_LATEST_SMALL_URL",
    "RATING_VALUES",
    "DataError",
    "MovieLens",
    "bundled_data_path",
    "describe",
    "describe_movie_tags",
    "download_movielens",
    "format_description",
    "genre_matrix",
    "load_movielens",
    "positive",
    "release_year",
    "tag_rank_frequency",
    "time_split",
]

ML_LATEST_SMALL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
# Pinned by TensorFlow Datasets (tensorflow_datasets/url_checksums/movie_lens.txt lists
# this URL at 978,202 bytes with this digest) and by several projects that download it.
ML_LATEST_SMALL_SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"

#: The ten allowed ratings: 0.5 to 5.0 in half stars.
RATING_VALUES: tuple[float, ...] = tuple(x / 2 for x in range(1, 11))
NO_GENRES = "(no genres listed)"  # how MovieLens marks a film without genres

# Column kinds per file: "id"/"int" -> int64, "rating" -> float64 on the half-star scale, "str" -> text.
_SCHEMAS: dict[str, dict[str, str]] = {
    "movies.csv": {"movieId": "id", "title": "str", "genres": "str"},
    "ratings.csv": {"userId": "id", "movieId": "id", "rating": "rating", "timestamp": "int"},
    "tags.csv": {"userId": "id", "movieId": "id", "tag": "str", "timestamp": "int"},
    "users.csv": {"userId": "id"},
    "tag_hierarchy.csv": {"tag": "str", "parent": "str", "root": "str"},
    "movie_tags.csv": {"movieId": "id", "tag": "str", "relevance": "relevance"},
    # Real ml-25m's tag genome, read into the movie_tags shape.
    "genome-scores.csv": {"movieId": "id", "tagId": "id", "relevance": "relevance"},
    "genome-tags.csv": {"tagId": "id", "tag": "str"},
}
# Known optional columns that are numbers, wherever they appear.
_OPTIONAL_INT_COLUMNS = {"signup_timestamp"}

# Which chapters need the extra SparrowLens files (for clear errors on real MovieLens).
_NEEDS_USERS = "chapter 03 (caching new users by their registration features) and chapter 04 (user cold start)"
_NEEDS_HIERARCHY = "chapter 05 (hierarchical tag matching)"


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file and, where it applies, the line."""


@dataclass(frozen=True, eq=False)
class MovieLens:
    """MovieLens-format tables with typed columns (ids and timestamps int64, rating float64).

    ``users``, ``tag_hierarchy`` and ``movie_tags`` are None when the folder has no
    users.csv, tag_hierarchy.csv or movie_tags.csv, as in real ml-latest-small; ``tags``
    is empty when there is no tags.csv. ``movie_tags`` (movieId, tag, relevance in [0, 1])
    is the catalogue's tags of every movie; for real ml-25m it is read from the tag
    genome (genome-scores.csv + genome-tags.csv), which scores every tag on every movie.
    """

    name: str
    movies: pd.DataFrame
    ratings: pd.DataFrame
    tags: pd.DataFrame
    users: pd.DataFrame | None = None
    tag_hierarchy: pd.DataFrame | None = None
    movie_tags: pd.DataFrame | None = None

    def require_users(self) -> pd.DataFrame:
        """Return ``users``, or raise a ValueError explaining that real MovieLens has no users.csv."""
        if self.users is None:
            raise ValueError(
                f"dataset '{self.name}' has no users.csv: real MovieLens (ml-latest-small, ml-25m, ...) "
                f"publishes no registration features. They are needed by {_NEEDS_USERS}; run those "
                "chapters on the bundled SparrowLens data (load_movielens() with no argument).")
        return self.users

    def require_tag_hierarchy(self) -> pd.DataFrame:
        """Return ``tag_hierarchy``, or raise a ValueError explaining which chapter needs it."""
        if self.tag_hierarchy is None:
            raise ValueError(
                f"dataset '{self.name}' has no tag_hierarchy.csv: real MovieLens tags are free text with no "
                f"hierarchy. It is needed by {_NEEDS_HIERARCHY}; use the bundled SparrowLens data there.")
        return self.tag_hierarchy

    def require_movie_tags(self) -> pd.DataFrame:
        """Return ``movie_tags``, or raise a ValueError naming what to load instead."""
        if self.movie_tags is None:
            raise ValueError(
                f"dataset '{self.name}' has no catalogue tags (movie_tags.csv, or ml-25m's genome-scores.csv with "
                f"genome-tags.csv): ml-latest-small has only users' free-text tags. They are needed by "
                f"{_NEEDS_HIERARCHY}; use the bundled SparrowLens data or real ml-25m there.")
        return self.movie_tags

    def __repr__(self) -> str:
        extra = "".join(f", {k}={'yes' if getattr(self, k) is not None else 'no'}" for k in ("users", "tag_hierarchy",
                                                                                          "movie_tags"))
        return (f"MovieLens(name={self.name!r}, movies={len(self.movies):,}, ratings={len(self.ratings):,}, "
                f"tags={len(self.tags):,}{extra})")


# ---------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------


def bundled_data_path() -> Path:
    """Return where the bundled SparrowLens files live: the ``data`` folder beside the package."""
    return Path(__file__).resolve().parent.parent / "data"


def load_movielens(path: str | os.PathLike[str] | None = None, *, name: str | None = None) -> MovieLens:
    """Load and validate a MovieLens-format folder; None loads the bundled SparrowLens data."""
    if path is None:
        folder = bundled_data_path()
        if not (folder / "movies.csv").is_file():
            raise DataError(
                "the bundled SparrowLens data was not found: it is expected in the 'data' folder next to the "
                "'sparrow_course' package folder, which exists in a git checkout installed with "
                "'pip install -e .'. A non-editable install does not ship it. Clone the repository, or "
                "regenerate it with 'python -m sparrow_course.sparrowlens --out data' and call "
                "load_movielens('data').")
        default_name = "SparrowLens"
    else:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        folder = _find_csv_folder(Path(path))
        default_name = folder.name
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")

    movies = _read_table(folder, "movies.csv")
    ratings = _read_table(folder, "ratings.csv")
    tags = _read_table(folder, "tags.csv", optional=True)
    users = _read_table(folder, "users.csv", optional=True)
    hierarchy = _read_table(folder, "tag_hierarchy.csv", optional=True)
    movie_tags = _read_movie_tags(folder)
    if tags is None:
        tags = pd.DataFrame({"userId": pd.Series(dtype=np.int64), "movieId": pd.Series(dtype=np.int64),
                             "tag": pd.Series(dtype=str), "timestamp": pd.Series(dtype=np.int64)})

    _check_unique(movies, ["movieId"], "movies.csv")
    _check_unique(ratings, ["userId", "movieId"], "ratings.csv")
    _check_known(ratings, "movieId", movies, "ratings.csv", "movies.csv")
    _check_known(tags, "movieId", movies, "tags.csv", "movies.csv")
    if users is not None:
        _check_unique(users, ["userId"], "users.csv")
        _check_known(ratings, "userId", users, "ratings.csv", "users.csv")
    if hierarchy is not None:
        _check_unique(hierarchy, ["tag"], "tag_hierarchy.csv")
    if movie_tags is not None:
        source = "movie_tags.csv" if "tagId" not in movie_tags.columns else "genome-scores.csv"
        _check_known(movie_tags, "movieId", movies, source, "movies.csv")
        movie_tags = movie_tags[["movieId", "tag", "relevance"]]
    return MovieLens(name=name or default_name, movies=movies, ratings=ratings, tags=tags, users=users,
                     tag_hierarchy=hierarchy, movie_tags=movie_tags)


def _read_movie_tags(folder: Path) -> pd.DataFrame | None:
    """Read movie_tags.csv, or ml-25m's genome-scores.csv + genome-tags.csv, into (movieId, tag, relevance)."""
    own = _read_table(folder, "movie_tags.csv", optional=True)
    if own is not None:
        _check_unique(own, ["movieId", "tag"], "movie_tags.csv")
        return own
    if not (folder / "genome-scores.csv").is_file():
        return None
    names = _read_table(folder, "genome-tags.csv", optional=True)
    if names is None:
        raise DataError("genome-scores.csv needs genome-tags.csv beside it (the names of its tagIds); "
                        f"it is missing from folder '{folder.name}'")
    _check_unique(names, ["tagId"], "genome-tags.csv")
    _check_unique(names, ["tag"], "genome-tags.csv")
    scores = _read_table(folder, "genome-scores.csv")
    if scores is None:  # only if the file vanished since the check above
        return None
    _check_unique(scores, ["movieId", "tagId"], "genome-scores.csv")
    _check_known(scores, "tagId", names, "genome-scores.csv", "genome-tags.csv")
    tag = names.set_index("tagId")["tag"]
    scores = scores.assign(tag=tag.reindex(scores["tagId"]).to_numpy())
    return scores.sort_values(["movieId", "relevance", "tag"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)


def _find_csv_folder(path: Path) -> Path:
    """Return the folder holding movies.csv: ``path`` itself or its single subfolder that has one."""
    if not path.exists():
        raise DataError(f"folder '{path.name}' does not exist; expected a folder with movies.csv and ratings.csv")
    if path.is_file():
        hint = " (unzip it first, or use download_movielens)" if path.suffix == ".zip" else ""
        raise DataError(f"'{path.name}' is a file; expected a folder with movies.csv and ratings.csv{hint}")
    if (path / "movies.csv").is_file():
        return path
    inner = sorted(p for p in path.iterdir() if p.is_dir() and (p / "movies.csv").is_file())
    if len(inner) == 1:  # e.g. the folder a MovieLens zip was unpacked into
        return inner[0]
    raise DataError(f"movies.csv is missing from folder '{path.name}': expected MovieLens files movies.csv and "
                    "ratings.csv (tags.csv, users.csv, tag_hierarchy.csv, movie_tags.csv optional)")


def _read_table(folder: Path, file: str, *, optional: bool = False) -> pd.DataFrame | None:
    """Read one CSV as text, check its columns, and convert them to their types with line-exact errors."""
    path = folder / file
    schema = _SCHEMAS[file]
    if not path.is_file():
        if optional:
            return None
        raise DataError(f"{file} is missing from folder '{folder.name}'; expected a MovieLens file with "
                        f"columns {','.join(schema)}")
    try:
        # All text first: converting ourselves lets us name the offending line.
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                          encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{file} is empty; expected a header line with columns {','.join(schema)}") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{file} is not valid CSV: {_first_line(exc)}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    missing = [c for c in schema if c not in raw.columns]
    if missing:
        raise DataError(f"{file}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(found: {', '.join(map(str, raw.columns))}); expected columns {','.join(schema)}")
    out = {}
    for column in raw.columns:
        kind = schema.get(column, "int" if column in _OPTIONAL_INT_COLUMNS else "str")
        out[column] = _convert(raw[column], kind, file, column)
    return pd.DataFrame(out, index=pd.RangeIndex(len(raw)))


def _first_line(exc: BaseException) -> str:
    """Return the first line of an exception message (pandas' parser messages name the line)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _line(row: int) -> int:
    """Return the CSV line number of a 0-based data row (line 1 is the header)."""
    return int(row) + 2


def _convert(column: pd.Series, kind: str, file: str, name: str) -> pd.Series:
    """Convert a text column to its kind, raising DataError at the first bad value."""
    if kind == "str":
        return column.astype(str)
    text = column.str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna().to_numpy()
    if kind in ("id", "int"):
        as_float = values.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = bad | ~np.isfinite(as_float) | (as_float % 1 != 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{file} line {_line(row)}: {name} {column.iloc[row]!r} is not an integer")
        if kind == "id" and (values < 0).any():
            row = int(np.flatnonzero((values < 0).to_numpy())[0])
            raise DataError(f"{file} line {_line(row)}: {name} {column.iloc[row]!r} is negative; expected an id >= 0")
        return values.astype(np.int64)
    if kind == "relevance":
        as_float = values.to_numpy(dtype=np.float64)
        off = bad | ~((as_float >= 0.0) & (as_float <= 1.0))
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise DataError(f"{file} line {_line(row)}: {name} {column.iloc[row]!r} is not a relevance; "
                            "expected a number from 0 to 1")
        return pd.Series(as_float, index=column.index, name=column.name)
    # kind == "rating"
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{file} line {_line(row)}: {name} {column.iloc[row]!r} is not a number; "
                        "expected 0.5 to 5.0 in half stars")
    as_float = values.to_numpy(dtype=np.float64)
    off = ~((as_float >= 0.5) & (as_float <= 5.0) & (as_float * 2 == np.round(as_float * 2)))
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise DataError(f"{file} line {_line(row)}: {name} {column.iloc[row]!r} is off the scale; "
                        "expected 0.5 to 5.0 in steps of 0.5")
    return pd.Series(as_float, index=column.index, name=column.name)


def _check_unique(frame: pd.DataFrame, keys: list[str], file: str) -> None:
    """Raise DataError at the first row whose key repeats an earlier row's."""
    dup = frame.duplicated(keys, keep="first").to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        key = tuple(frame[k].iloc[row] for k in keys)
        same = np.ones(len(frame), dtype=bool)
        for k, v in zip(keys, key):
            same &= (frame[k] == v).to_numpy()
        first = int(np.flatnonzero(same)[0])
        shown = ", ".join(f"{k} {v}" for k, v in zip(keys, key))
        raise DataError(f"{file} line {_line(row)}: duplicate {shown} (first on line {_line(first)})")


def _check_known(frame: pd.DataFrame, key: str, reference: pd.DataFrame, file: str, reference_file: str) -> None:
    """Raise DataError at the first row of ``frame`` whose ``key`` is not in ``reference``."""
    unknown = ~frame[key].isin(reference[key]).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(f"{file} line {_line(row)}: {key} {frame[key].iloc[row]} is not in {reference_file} "
                        f"({int(unknown.sum())} row{'s' if unknown.sum() > 1 else ''} affected)")


# ---------------------------------------------------------------------------
# Helpers the chapters share
# ---------------------------------------------------------------------------


def require_frame(frame: Any, columns: Sequence[str], what: str, *, allow_empty: bool = True) -> pd.DataFrame:
    """Raise TypeError/ValueError unless ``frame`` is a DataFrame with ``columns`` (and rows, unless allowed empty)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; expected at least {list(columns)}")
    if not allow_empty and frame.empty:
        raise ValueError(f"{what} is empty; expected at least one row")
    return frame


def genre_matrix(movies: pd.DataFrame) -> pd.DataFrame:
    """Return the multi-hot genre matrix: one int8 row per movie (index movieId), genre columns sorted."""
    require_frame(movies, ["movieId", "genres"], "movies")
    dummies = movies["genres"].astype(str).str.get_dummies(sep="|")
    dummies = dummies.drop(columns=[NO_GENRES], errors="ignore")  # "no genre" is the all-zero row
    dummies = dummies.reindex(columns=sorted(dummies.columns)).astype(np.int8)
    dummies.index = pd.Index(movies["movieId"].to_numpy(), name="movieId")
    dummies.columns.name = "genre"
    return dummies


def release_year(movies: pd.DataFrame) -> pd.Series:
    """Return each movie's year parsed from a title like 'Toy Story (1995)' (nullable Int64, index movieId)."""
    require_frame(movies, ["movieId", "title"], "movies")
    year = movies["title"].astype(str).str.extract(r"\((\d{4})\)\s*$", expand=False)
    return pd.Series(pd.to_numeric(year).astype("Int64").to_numpy(), index=pd.Index(movies["movieId"].to_numpy(),
                     name="movieId"), name="year")


#: A rating at or above this counts as positive feedback (a "like"), as in SparrowRecSys.
POSITIVE_THRESHOLD = 3.5


def positive(ratings: pd.DataFrame, threshold: float = POSITIVE_THRESHOLD) -> pd.DataFrame:
    """Return the positive ratings (rating >= threshold, 3.5 as in SparrowRecSys), index reset."""
    require_frame(ratings, ["rating"], "ratings")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    if not 0.5 <= float(threshold) <= 5.0:
        raise ValueError(f"threshold must be on the rating scale 0.5..5.0, got {threshold}")
    return ratings.loc[ratings["rating"] >= threshold].reset_index(drop=True)


def time_split(ratings: pd.DataFrame, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split globally by time: the last ``test_fraction`` of ratings by timestamp form the test set.

    Returns ``(train, test)`` in their original row order, index reset. Every test
    rating is at or after the cutoff and every train rating before it, so ties at
    the cutoff make the test share a little larger than asked.
    """
    require_frame(ratings, ["timestamp"], "ratings")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (float, int, np.floating)):
        raise TypeError(f"test_fraction must be a number, got {type(test_fraction).__name__}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    ts = ratings["timestamp"].to_numpy()
    if len(ts) < 2:
        raise ValueError(f"need at least 2 ratings to split, got {len(ts)}")
    cutoff = np.sort(ts)[min(len(ts) - 1, int(math.floor(len(ts) * (1.0 - float(test_fraction)))))]
    is_test = ts >= cutoff
    if is_test.all():
        raise ValueError("all ratings share the cutoff timestamp, so a time split leaves no training data")
    return (ratings.loc[~is_test].reset_index(drop=True), ratings.loc[is_test].reset_index(drop=True))


def user_time_split(ratings: pd.DataFrame, test_fraction: float = 0.2, *, min_train: int = 1
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each user's history by time: the user's latest ``test_fraction`` of ratings form the test set.

    The recall chapters' shared protocol (learn from each user's past, find their later
    likes). A user keeps at least ``min_train`` ratings in training; a user with no more
    than ``min_train`` ratings stays wholly in training. Ties in time are broken by movieId,
    so the split is deterministic. Returns ``(train, test)``, each sorted by user and time.
    """
    from .checks import check_fraction, check_frame, check_int

    check_frame(ratings, ["userId", "movieId", "timestamp"], "ratings", allow_empty=False)
    test_fraction = check_fraction(test_fraction, "test_fraction", include_low=False, include_high=False)
    min_train = check_int(min_train, "min_train", low=0)
    if not pd.api.types.is_numeric_dtype(ratings["timestamp"]):
        raise TypeError(f"ratings['timestamp'] must be numeric (seconds since 1970), got dtype "
                        f"{ratings['timestamp'].dtype}; text timestamps would be ordered as strings")
    ordered = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable").reset_index(drop=True)
    position = ordered.groupby("userId").cumcount().to_numpy()
    count = ordered.groupby("userId")["movieId"].transform("size").to_numpy()
    n_test = np.minimum(np.ceil(count * test_fraction).astype(np.int64), np.maximum(count - min_train, 0))
    is_test = position >= count - n_test
    return ordered.loc[~is_test].reset_index(drop=True), ordered.loc[is_test].reset_index(drop=True)


def genre_drift(ratings: pd.DataFrame, movies: pd.DataFrame, *, min_ratings: int = 50,
                edge: float = 0.2) -> pd.DataFrame:
    """Per active user, the cosine similarity of genre mixes: first vs last ``edge`` of the history, and odd vs even ratings.

    Both pairs cover the user's whole period except for the time between them, so
    ``early_late`` below ``interleaved`` is the signature of drifting interests.
    Users with fewer than ``min_ratings`` ratings are left out; one row per user.
    """
    require_frame(ratings, ["userId", "movieId", "timestamp"], "ratings")
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)) or min_ratings < 2:
        raise ValueError(f"min_ratings must be an integer of at least 2, got {min_ratings!r}")
    if not 0 < edge <= 0.5:
        raise ValueError(f"edge must be a fraction in (0, 0.5], got {edge!r}")
    genres = genre_matrix(movies)
    active = ratings[ratings.groupby("userId")["movieId"].transform("size") >= min_ratings]
    active = active.sort_values(["userId", "timestamp"], kind="stable")
    if active.empty:
        raise ValueError(f"no user has {min_ratings} ratings or more; lower min_ratings")
    rank = active.groupby("userId").cumcount().to_numpy()
    position = rank / active.groupby("userId")["movieId"].transform("size").to_numpy()
    rows = genres.reindex(active["movieId"]).fillna(0).to_numpy(dtype=float)
    users = active["userId"].to_numpy()

    def profiles(mask: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(rows[mask], index=users[mask]).groupby(level=0).sum()

    def cosine(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
        a, b = a.align(b, join="inner", axis=0)
        norms = np.linalg.norm(a.to_numpy(), axis=1) * np.linalg.norm(b.to_numpy(), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # a genre-less half has no direction: NaN
            return pd.Series((a.to_numpy() * b.to_numpy()).sum(1) / norms, index=a.index)

    odd = rank % 2 == 1
    out = pd.DataFrame({"early_late": cosine(profiles(position < edge), profiles(position >= 1 - edge)),
                        "interleaved": cosine(profiles(odd), profiles(~odd))})
    out.index.name = "userId"
    return out


# ---------------------------------------------------------------------------
# Description (the data card and `sparrow-course data info`)
# ---------------------------------------------------------------------------

_QUANTILES = {"min": 0.0, "10%": 0.1, "25%": 0.25, "50%": 0.5, "75%": 0.75, "90%": 0.9, "99%": 0.99, "max": 1.0}


def describe(ml: MovieLens) -> dict[str, Any]:
    """Return the data card statistics of ``ml`` as plain JSON-ready Python values."""
    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens (from load_movielens), got {type(ml).__name__}")
    r, movies = ml.ratings, ml.movies
    n_ratings, n_movies = len(r), len(movies)
    n_users = int(r["userId"].nunique())
    per_user = r.groupby("userId").size().to_numpy()
    per_movie = (r.groupby("movieId").size().reindex(movies["movieId"], fill_value=0).to_numpy())
    hist = r["rating"].value_counts()
    counts_desc = np.sort(per_movie)[::-1]
    total = max(int(counts_desc.sum()), 1)

    def top_share(fraction: float) -> float:
        return float(counts_desc[: max(1, math.ceil(fraction * n_movies))].sum() / total)

    genres = genre_matrix(movies)
    ts = r["timestamp"].to_numpy()
    stats: dict[str, Any] = {
        "name": ml.name,
        "n_movies": n_movies,
        "n_users": n_users,
        "n_ratings": n_ratings,
        "n_tags": len(ml.tags),
        "density": float(n_ratings / max(n_users * n_movies, 1)),
        "mean_rating": float(r["rating"].mean()) if n_ratings else float("nan"),
        "rating_histogram": {f"{v:.1f}": int(hist.get(v, 0)) for v in RATING_VALUES},
        "half_star_share": float(((r["rating"] * 2) % 2 == 1).mean()) if n_ratings else float("nan"),
        "ratings_per_user": _quantiles(per_user),
        "ratings_per_movie": _quantiles(per_movie),
        "popularity": {
            "top_1pct_share": top_share(0.01),
            "top_10pct_share": top_share(0.10),
            "top_20pct_share": top_share(0.20),
            "gini": _gini(per_movie),
            "movies_unrated": int((per_movie == 0).sum()),
            "movies_under_5_ratings": int((per_movie < 5).sum()),
        },
        "genre_counts": {g: int(genres[g].sum()) for g in genres.columns},
        "movies_without_genres": int((genres.sum(axis=1) == 0).sum()),
        "time_span": {
            "first": _day(ts.min()) if n_ratings else None,
            "last": _day(ts.max()) if n_ratings else None,
            "years": float((ts.max() - ts.min()) / (365.2425 * 86400)) if n_ratings else 0.0,
        },
        "tags": {
            "rows": len(ml.tags),
            "distinct_tags": int(ml.tags["tag"].nunique()),
            "taggers": int(ml.tags["userId"].nunique()),
            "movies": int(ml.tags["movieId"].nunique()),
        },
        "n_registered_users": None if ml.users is None else len(ml.users),
        "user_features": None,
        "tag_hierarchy": None,
        "movie_tags": None,
    }
    if ml.users is not None:
        features = [c for c in ml.users.columns if c != "userId" and not c.endswith("timestamp")]
        stats["user_features"] = {c: {str(k): int(v) for k, v in sorted(ml.users[c].value_counts().items())}
                                  for c in features}
    if ml.tag_hierarchy is not None:
        h = ml.tag_hierarchy
        stats["tag_hierarchy"] = {"roots": int(h["root"].nunique()), "parents": int(h["parent"].nunique()),
                                  "leaves": int(h["tag"].nunique())}
    if ml.movie_tags is not None:
        stats["movie_tags"] = describe_movie_tags(ml)
    return stats


def tag_rank_frequency(ml: MovieLens, *, min_relevance: float = 0.0) -> pd.DataFrame:
    """Return catalogue tags by how many movies carry them: rank, tag, kind, movies, share of movies.

    ``kind`` is "leaf", "parent" or "root" (from the tag hierarchy, when there is one) or
    "generic"; only rows with relevance >= ``min_relevance`` count (the genome scores every tag
    on every movie: pass a threshold such as 0.5 there).
    """
    tags = _catalogue_rows(ml, min_relevance)
    counts = tags["tag"].value_counts()
    frame = pd.DataFrame({"tag": counts.index.astype(str), "movies": counts.to_numpy(dtype=np.int64)})
    frame = frame.sort_values(["movies", "tag"], ascending=[False, True], kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame.insert(2, "kind", _tag_kinds(frame["tag"], ml.tag_hierarchy))
    frame["share_of_movies"] = frame["movies"] / max(len(ml.movies), 1)
    return frame


def _catalogue_rows(ml: MovieLens, min_relevance: float) -> pd.DataFrame:
    """Return ml.movie_tags rows with relevance >= min_relevance (validated arguments)."""
    if not isinstance(ml, MovieLens):
        raise TypeError(f"ml must be a MovieLens (from load_movielens), got {type(ml).__name__}")
    from .checks import check_fraction

    check_fraction(min_relevance, "min_relevance")
    tags = ml.require_movie_tags()
    return tags.loc[tags["relevance"] >= min_relevance] if min_relevance > 0 else tags


def _tag_kinds(tags: pd.Series, hierarchy: pd.DataFrame | None) -> np.ndarray:
    """Return "leaf", "parent", "root" or "generic" for each tag name."""
    kind = np.full(len(tags), "generic", dtype=object)
    if hierarchy is not None:
        for level, column in (("root", "root"), ("parent", "parent"), ("leaf", "tag")):
            kind[tags.isin(hierarchy[column]).to_numpy()] = level
    return kind


def describe_movie_tags(ml: MovieLens, *, min_relevance: float = 0.0) -> dict[str, Any]:
    """Return the shape of the catalogue tags: frequencies (top-10 share, Gini, Zipf slope), tags per
    movie, coverage, assignments by kind and the sibling leaf overlap (with a tag hierarchy).

    ``sibling_leaf_overlap``: for each parent of the hierarchy, take the movies that carry at least
    one of its leaves; of all pairs of such movies (pooled over parents), the share that have a
    leaf of that parent in common. None without a hierarchy.
    """
    tags = _catalogue_rows(ml, min_relevance)
    n_movies = len(ml.movies)
    freq = tag_rank_frequency(ml, min_relevance=min_relevance)
    counts = freq["movies"].to_numpy(dtype=np.float64)
    per_movie = tags.groupby("movieId").size().reindex(ml.movies["movieId"], fill_value=0).to_numpy()
    slope = float("nan")
    if len(counts) >= 2:
        slope = float(np.polyfit(np.log(freq["rank"].to_numpy(dtype=np.float64)), np.log(counts), 1)[0])
    stats: dict[str, Any] = {
        "rows": int(len(tags)),
        "distinct_tags": int(len(freq)),
        "coverage": float((per_movie > 0).mean()) if n_movies else 0.0,
        "tags_per_movie": _quantiles(per_movie),
        "top10_share": float(counts[:10].sum() / counts.sum()) if counts.sum() else 0.0,
        "gini": _gini(counts),
        "zipf_slope": slope,
        "most_common": [(str(t), int(m)) for t, m in zip(freq["tag"][:10], freq["movies"][:10])],
        "rows_by_kind": {k: int(v) for k, v in freq.groupby("kind")["movies"].sum().items()},
        "sibling_leaf_overlap": None,
    }
    if ml.tag_hierarchy is not None:
        stats["sibling_leaf_overlap"] = _sibling_leaf_overlap(tags, ml.tag_hierarchy)
    return stats


def _sibling_leaf_overlap(tags: pd.DataFrame, hierarchy: pd.DataFrame) -> float:
    """Return the share of same-parent movie pairs that share a leaf of that parent (NaN if no pairs)."""
    leaves = tags[["movieId", "tag"]].merge(hierarchy[["tag", "parent"]], on="tag")
    pairs = shared = 0.0
    for _, group in leaves.groupby("parent", sort=True):
        movie_codes, movies = pd.factorize(group["movieId"])
        tag_codes, tag_names = pd.factorize(group["tag"])
        incidence = np.zeros((len(movies), len(tag_names)), dtype=np.float32)
        incidence[movie_codes, tag_codes] = 1.0
        common = (incidence @ incidence.T) > 0
        m = len(movies)
        pairs += m * (m - 1) / 2
        shared += (common.sum() - m) / 2
    return float(shared / pairs) if pairs else float("nan")


def _quantiles(values: np.ndarray) -> dict[str, float]:
    """Return min, quantiles, max and mean of a count array (linear interpolation)."""
    if len(values) == 0:
        return {**{k: 0.0 for k in _QUANTILES}, "mean": 0.0}
    out = {k: float(np.quantile(values, q)) for k, q in _QUANTILES.items()}
    out["mean"] = float(np.mean(values))
    return out


def _gini(counts: np.ndarray) -> float:
    """Return the Gini coefficient of non-negative counts (0 even, 1 all on one item)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total)) - (n + 1) / n)


def _day(ts: int) -> str:
    """Return the UTC day of a Unix timestamp as YYYY-MM-DD."""
    return str(np.datetime64(int(ts), "s").astype("datetime64[D]"))


def format_description(stats: dict[str, Any]) -> str:
    """Return ``describe()`` output as readable text, for ``sparrow-course data info``."""
    if not isinstance(stats, dict) or "n_ratings" not in stats:
        raise TypeError("stats must be the dict returned by describe()")
    s = stats
    out = [f"{s['name']}: {s['n_movies']:,} movies, {s['n_users']:,} users with ratings, "
           f"{s['n_ratings']:,} ratings, {s['n_tags']:,} tag applications",
           f"  density {s['density']:.4f}; ratings from {s['time_span']['first']} to {s['time_span']['last']} "
           f"({s['time_span']['years']:.1f} years)",
           f"  mean rating {s['mean_rating']:.3f}; half-star ratings {s['half_star_share']:.1%}",
           "  rating histogram:"]
    peak = max(s["rating_histogram"].values()) or 1
    for value, count in s["rating_histogram"].items():
        out.append(f"    {value}  {count:>9,}  {count / max(s['n_ratings'], 1):6.1%}  {'#' * round(30 * count / peak)}")
    for label, key in (("ratings per user", "ratings_per_user"), ("ratings per movie", "ratings_per_movie")):
        q = s[key]
        out.append(f"  {label}: " + ", ".join(f"{k} {q[k]:g}" for k in _QUANTILES) + f", mean {q['mean']:.1f}")
    p = s["popularity"]
    out.append(f"  popularity: top 1% of movies hold {p['top_1pct_share']:.1%} of ratings, top 10% "
               f"{p['top_10pct_share']:.1%}, top 20% {p['top_20pct_share']:.1%}; Gini {p['gini']:.3f}; "
               f"{p['movies_unrated']:,} movies unrated")
    genres = sorted(s["genre_counts"].items(), key=lambda kv: (-kv[1], kv[0]))
    out.append("  genres: " + ", ".join(f"{g} {n:,}" for g, n in genres))
    t = s["tags"]
    out.append(f"  tags: {t['rows']:,} rows, {t['distinct_tags']:,} distinct tags, {t['taggers']:,} taggers")
    if s.get("tag_hierarchy"):
        h = s["tag_hierarchy"]
        out.append(f"  tag hierarchy: {h['roots']} roots, {h['parents']} parents, {h['leaves']} leaf tags")
    if s.get("movie_tags"):
        c = s["movie_tags"]
        out.append(f"  catalogue tags: {c['rows']:,} rows, {c['distinct_tags']:,} distinct tags on {c['coverage']:.1%} "
                   f"of movies, {c['tags_per_movie']['mean']:.1f} per movie; top 10 tags hold {c['top10_share']:.1%}, "
                   f"Gini {c['gini']:.3f}")
    if s.get("user_features"):
        out.append(f"  users.csv: {s['n_registered_users']:,} users")
        for feature, counts in s["user_features"].items():
            out.append(f"    {feature}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    else:
        out.append("  users.csv: absent (no registration features, as in real MovieLens)")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Real MovieLens
# ---------------------------------------------------------------------------


def _default_cache_dir() -> Path:
    """Return the archive cache folder: $XDG_CACHE_HOME/sparrow-course or ~/.cache/sparrow-course."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sparrow-course"


def download_movielens(dest: str | os.PathLike[str], *, url: str = ML_LATEST_SMALL_URL,
                       sha256: str | None = ML_LATEST_SMALL_SHA256,
                       cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Download a MovieLens zip (cached, SHA-256 checked), unpack it into ``dest``; return the CSV folder.

    The archive is kept in ``cache_dir`` (default ``~/.cache/sparrow-course``) so a
    second call does not download again. With ``sha256=None`` nothing unverified is
    used: the file is fetched, its digest reported in the error, and discarded.
    """
    if not isinstance(url, str) or not url:
        raise TypeError(f"url must be a non-empty str, got {url!r}")
    if sha256 is not None:
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise ValueError(f"sha256 must be 64 hex digits or None, got {sha256!r}")
        sha256 = sha256.lower()
    dest = Path(dest)
    archive_name = Path(urllib.parse.urlparse(url).path).name or "movielens.zip"
    if not archive_name.endswith(".zip"):
        raise ValueError(f"url must point to a .zip archive, got one ending in '{archive_name}'")

    # Already unpacked by an earlier call: nothing to do.
    if dest.is_dir() and any(dest.iterdir()):
        try:
            return _find_csv_folder(dest)
        except DataError:
            raise DataError(f"destination '{dest.name}' exists and is not empty but holds no MovieLens files; "
                            "choose an empty or new folder") from None

    cache = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / archive_name
    if archive.is_file() and sha256 is not None and _sha256_of(archive) != sha256:
        archive.unlink()  # stale or corrupt cache entry: fetch again
    if not archive.is_file() or sha256 is None:
        _fetch(url, archive, sha256)
    _extract_atomically(archive, dest)
    return _find_csv_folder(dest)


def _sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, archive: Path, sha256: str | None) -> None:
    """Download ``url`` into ``archive`` via a temp file, keeping it only if its SHA-256 matches."""
    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".part", dir=archive.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s)/file by design
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ConnectionError(f"could not download {url}: {reason}. Check the network, or pass "
                                      "url= a mirror or a file:// URL of a local copy.") from None
        got = digest.hexdigest()
        if sha256 is None:
            raise DataError(f"no SHA-256 given for {archive.name}, so the download was not used. Its SHA-256 is "
                            f"{got}; if you trust this file, call again with sha256='{got}'.")
        if got != sha256:
            raise DataError(f"checksum mismatch for {archive.name}: expected SHA-256 {sha256}, got {got}; the "
                            "download was discarded (a changed or corrupted file on the server, or a wrong url).")
        os.replace(tmp, archive)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _extract_atomically(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into a temp folder beside ``dest``, then rename it to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = Path(member)
                    # Refuse paths that would land outside the folder ("zip slip").
                    if target.is_absolute() or ".." in target.parts:
                        raise DataError(f"{archive.name} has an unsafe member path {member!r}; refusing to unpack")
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{archive.name} is not a valid zip archive: {exc}") from None
        try:
            _find_csv_folder(tmp)  # fail before renaming if the archive holds no MovieLens files
        except DataError:
            raise DataError(f"{archive.name} holds no movies.csv (at its top level or in one folder); "
                            "expected a MovieLens archive such as ml-latest-small.zip") from None
        if dest.is_dir():
            dest.rmdir()  # empty (checked by the caller); rename needs it gone
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
