"""MovieLens-format data: load and validate a folder, and the helpers and splits every chapter shares.

Every chapter reads its data through :func:`load_movielens`, which returns the bundled
SparrowLens (``data/`` in the repository) or any MovieLens folder in the ml-latest-small
layout. Bad files raise :class:`DataError` naming the file and the CSV line, never a deep
pandas traceback.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..checks import check_fraction, check_frame, check_int, check_number

__all__ = [
    "POSITIVE_THRESHOLD",
    "RATING_COLUMNS",
    "RATING_VALUES",
    "DATA_HOME_ENV",
    "ID_MAX",
    "TIMESTAMP_RANGE",
    "bundled_data_path",
    "data_home",
    "DataError",
    "genre_matrix",
    "load_movielens",
    "MovieLens",
    "positive",
    "release_year",
    "time_split",
    "user_time_split",
]

#: The ten allowed ratings: 0.5 to 5.0 in half stars.
RATING_VALUES: tuple[float, ...] = tuple(x / 2 for x in range(1, 11))
NO_GENRES = "(no genres listed)"  # how MovieLens marks a film without genres

#: The columns of a ratings table, as every chapter reads it.
RATING_COLUMNS: tuple[str, ...] = ("userId", "movieId", "rating", "timestamp")

# Column kinds per file: "id"/"int" -> int64, "rating" -> float64 on the half-star scale, "str" -> text.
_SCHEMAS: dict[str, dict[str, str]] = {
    "movies.csv": {"movieId": "id", "title": "str", "genres": "str"},
    "ratings.csv": dict(zip(RATING_COLUMNS, ("id", "id", "rating", "timestamp"))),
    "tags.csv": {"userId": "id", "movieId": "id", "tag": "str", "timestamp": "timestamp"},
    "users.csv": {"userId": "id"},
    "tag_hierarchy.csv": {"tag": "str", "parent": "str", "root": "str"},
    "movie_tags.csv": {"movieId": "id", "tag": "str", "relevance": "relevance"},
    # Real ml-25m's tag genome, read into the movie_tags shape.
    "genome-scores.csv": {"movieId": "id", "tagId": "id", "relevance": "relevance"},
    "genome-tags.csv": {"tagId": "id", "tag": "str"},
}
# Known optional columns that are numbers, wherever they appear.
_OPTIONAL_INT_COLUMNS = {"signup_timestamp": "timestamp"}

#: Ids are non-negative integers that fit in int64.
ID_MAX = 2**63 - 1
#: Plausible Unix timestamps (seconds, UTC): from 1970-01-01 up to, not including, 2100-01-01.
TIMESTAMP_RANGE = (0, 4_102_444_800)

#: Environment variable naming the folder where downloaded datasets live (see ``data_home``).
DATA_HOME_ENV = "SPARROW_COURSE_DATA"

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
    #: True for the bundled SparrowLens files, whose planted truth is known (see ``datasets.planted_truth``).
    bundled: bool = False
    #: The generator's planted truth when the data was generated in memory (``SparrowLens.as_movielens``).
    truth: Any = field(default=None, repr=False)

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
    return Path(__file__).resolve().parent.parent.parent / "data"


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
        bundled = True
    else:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        folder = _find_csv_folder(_locate(path))
        default_name = folder.name
        bundled = folder.resolve() == bundled_data_path().resolve()
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

    for frame, file, what in ((movies, "movies.csv", "movies"), (ratings, "ratings.csv", "ratings")):
        if frame is not None and frame.empty:
            raise DataError(f"{file} has no {what} (only a header line); expected at least one row")
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
                     tag_hierarchy=hierarchy, movie_tags=movie_tags, bundled=bundled)


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


def data_home(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder where downloaded datasets live, as scikit-learn's ``get_data_home``.

    ``path`` if given, else the environment variable ``SPARROW_COURSE_DATA``, else
    ``~/sparrow_course_data``; ``~`` is expanded. A relative dataset path that does not exist
    in the working folder is looked up here, so ``load_movielens("movielens/ml-latest-small")``
    works from a notebook after ``sparrow-course data download --dest movielens``.
    """
    if path is None:
        path = os.environ.get(DATA_HOME_ENV) or os.path.join("~", "sparrow_course_data")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path).expanduser()


def _locate(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` with ``~`` expanded; a relative path missing here is looked up in the data home."""
    given = Path(path).expanduser()
    if given.exists() or given.is_absolute():
        return given
    home = data_home() / given
    if home.exists():
        return home
    raise DataError(f"folder '{path}' does not exist: not in the working folder ({given.resolve()}) nor in the "
                    f"data home ({home}; set {DATA_HOME_ENV} to move it); expected a folder with movies.csv and "
                    "ratings.csv, e.g. one made by `sparrow-course data download`")


def _find_csv_folder(path: Path) -> Path:
    """Return the folder holding movies.csv: ``path`` itself or its single subfolder that has one."""
    if not path.exists():
        raise DataError(f"folder '{path}' does not exist (resolved: {path.resolve()}); expected a folder with "
                        "movies.csv and ratings.csv")
    if path.is_file():
        hint = " (unzip it first, or use download_movielens)" if path.suffix == ".zip" else ""
        raise DataError(f"'{path.name}' is a file; expected a folder with movies.csv and ratings.csv{hint}")
    if (path / "movies.csv").is_file():
        return path
    inner = sorted(p for p in path.iterdir() if p.is_dir() and (p / "movies.csv").is_file())
    if len(inner) == 1:  # e.g. the folder a MovieLens zip was unpacked into
        return inner[0]
    if len(inner) > 1:
        names = " and ".join(f"'{p.name}'" for p in inner)
        raise DataError(f"folder '{path.name}' holds several MovieLens folders ({names}); pass the one you mean, "
                        f"e.g. load_movielens('{path / inner[0].name}')")
    raise DataError(f"movies.csv is missing from folder '{path.name}': expected MovieLens files movies.csv and "
                    "ratings.csv (tags.csv, users.csv, tag_hierarchy.csv, movie_tags.csv optional)")


def _read_table(folder: Path, file: str, *, optional: bool = False) -> pd.DataFrame | None:
    """Read one CSV as text, check its shape, and convert its columns to their types with line-exact errors."""
    path = folder / file
    schema = _SCHEMAS[file]
    if not path.is_file():
        if optional:
            return None
        raise DataError(f"{file} is missing from folder '{folder.name}'; expected a MovieLens file with "
                        f"columns {','.join(schema)}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors add
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # trailing blank lines (common after hand editing) are fine
        lines.pop()
    if not lines:
        raise DataError(f"{file} is empty; expected a header line with columns {','.join(schema)}")
    del text  # keep one copy of a large file in memory, not three
    body = "\n".join(lines)
    _check_lines(body, lines, file)
    header = next(csv.reader([lines[0]]))
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"{file}: column '{name}' appears twice in the header (columns {seen[name]} and "
                            f"{position}); expected each of {','.join(schema)} once")
        seen[name] = position
    _check_field_counts(body, lines, len(header), file)
    try:
        # All text first: converting ourselves lets us name the offending line.
        raw = pd.read_csv(io.StringIO(body + "\n"), dtype=str, keep_default_na=False,
                          na_filter=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{file} is not valid CSV: {_first_line(exc)}") from None
    missing = [c for c in schema if c not in raw.columns]
    if missing:
        raise DataError(f"{file}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(found: {', '.join(map(str, raw.columns))}); expected columns {','.join(schema)}")
    out = {}
    for column in raw.columns:
        kind = schema.get(column, _OPTIONAL_INT_COLUMNS.get(column, "str"))
        out[column] = _convert(raw[column], kind, file, column)
    return pd.DataFrame(out, index=pd.RangeIndex(len(raw)))


def _check_lines(body: str, lines: list[str], file: str) -> None:
    """Raise DataError naming a blank line inside the file or a line whose double quotes do not balance."""
    blank = re.search(r"(?m)^[ \t]*$", body)
    if blank:
        number = body.count("\n", 0, blank.start()) + 1
        raise DataError(f"{file} line {number} is blank; expected a row of comma-separated values (only "
                        "blank lines at the end of the file are allowed)")
    if '"' not in body:
        return
    for number, line in enumerate(lines, start=1):
        if '"' in line and line.count('"') % 2:
            start = line.index('"')
            raise DataError(f"{file} line {number}: the double quotes do not balance (a quote opens at character "
                            f"{start + 1} and never closes on this line): {_clip(line)}; expected a field in quotes "
                            'as "like, this" with a quote inside written twice ("")')


def _check_field_counts(body: str, lines: list[str], n_fields: int, file: str) -> None:
    """Raise DataError at the first row whose number of fields differs from the header's.

    pandas would otherwise take one extra field for an index and shift every column silently.
    """
    if '"' in body:  # quoted commas: count with the csv module
        counts = np.array([len(row) for row in csv.reader(lines)])
    else:  # commas per line, vectorised over the bytes
        data = np.frombuffer(body.encode("utf-8") + b"\n", dtype=np.uint8)
        commas = np.concatenate([[0], np.cumsum(data == ord(","))])
        ends = np.flatnonzero(data == ord("\n"))
        counts = np.diff(np.concatenate([[0], commas[ends]])) + 1
    off = np.flatnonzero(counts != n_fields)
    if len(off):
        number = int(off[0]) + 1
        raise DataError(f"{file} line {number} has {int(counts[off[0]])} fields; the header has {n_fields}, "
                        f"and every row must have as many: {_clip(lines[off[0]])}")


def _clip(text: str, limit: int = 80) -> str:
    """Return ``text`` quoted, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


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
    if kind in ("id", "int", "timestamp"):
        return _convert_integers(column, kind, file, name)
    values = pd.to_numeric(column, errors="coerce")  # surrounding spaces are allowed
    bad = values.isna().to_numpy()
    if kind == "relevance":
        as_float = values.to_numpy(dtype=np.float64)
        off = bad | ~((as_float >= 0.0) & (as_float <= 1.0))
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise DataError(f"{file} line {_line(row)}: {name} {_clip(column.iloc[row])} is not a relevance; "
                            "expected a number from 0 to 1")
        return pd.Series(as_float, index=column.index, name=column.name)
    # kind == "rating"
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{file} line {_line(row)}: {name} {_clip(column.iloc[row])} is not a number; "
                        "expected 0.5 to 5.0 in half stars")
    as_float = values.to_numpy(dtype=np.float64)
    off = ~((as_float >= 0.5) & (as_float <= 5.0) & (as_float * 2 == np.round(as_float * 2)))
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise DataError(f"{file} line {_line(row)}: {name} {_clip(column.iloc[row])} is off the scale; "
                        "expected 0.5 to 5.0 in steps of 0.5")
    return pd.Series(as_float, index=column.index, name=column.name)


_INTEGER_TEXT = re.compile(r"[+-]?\d+(?:\.0*)?")


def _convert_integers(column: pd.Series, kind: str, file: str, name: str) -> pd.Series:
    """Convert integer text exactly (no float rounding, no int64 wrap-around) and check its range."""
    low, high = ((0, ID_MAX + 1) if kind == "id" else TIMESTAMP_RANGE if kind == "timestamp"
                 else (-ID_MAX - 1, ID_MAX + 1))
    values = pd.to_numeric(column, errors="coerce")  # surrounding spaces are allowed
    if values.dtype == np.int64:  # the common case: every value parsed exactly as an int64
        array = values.to_numpy()
        out = (array < low) | (array >= high)
        if not out.any():
            return pd.Series(array, index=column.index, name=column.name)
        rows: Sequence[int] = [int(np.flatnonzero(out)[0])]
        numbers = [int(array[rows[0]])]
    else:  # floats, huge values or text: check each value exactly, as Python ints of any size
        text = column.str.strip()
        shape_ok = text.str.fullmatch(_INTEGER_TEXT).to_numpy(dtype=bool)
        if not shape_ok.all():
            row = int(np.flatnonzero(~shape_ok)[0])
            raise DataError(f"{file} line {_line(row)}: {name} {_clip(column.iloc[row])} is not an integer")
        numbers = [int(d) for d in text.str.replace(r"\.0*$", "", regex=True)]
        rows = range(len(numbers))
    for row, value in zip(rows, numbers):
        if low <= value < high:
            continue
        shown = _clip(column.iloc[row])
        if kind == "id":
            what = "negative" if value < 0 else "too large"
            raise DataError(f"{file} line {_line(row)}: {name} {shown} is {what}; expected an id from 0 to 2**63 - 1")
        if kind == "timestamp":
            hint = ""
            if TIMESTAMP_RANGE[0] <= value // 1000 < TIMESTAMP_RANGE[1]:
                hint = " It may be in milliseconds: divide by 1000."
            raise DataError(f"{file} line {_line(row)}: {name} {shown} is not a plausible Unix timestamp; expected "
                            f"seconds since 1970-01-01 UTC, before 2100-01-01 ({TIMESTAMP_RANGE[1]}).{hint}")
        raise DataError(f"{file} line {_line(row)}: {name} {shown} does not fit in a 64-bit integer")
    return pd.Series(np.array(numbers, dtype=np.int64), index=column.index, name=column.name)


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
# Helpers the chapters share: genres, years, likes and the time splits
# ---------------------------------------------------------------------------


def genre_matrix(movies: pd.DataFrame) -> pd.DataFrame:
    """Return the multi-hot genre matrix: one int8 row per movie (index movieId), genre columns sorted."""
    check_frame(movies, ["movieId", "genres"], "movies")
    dummies = movies["genres"].astype(str).str.get_dummies(sep="|")
    dummies = dummies.drop(columns=[NO_GENRES], errors="ignore")  # "no genre" is the all-zero row
    dummies = dummies.reindex(columns=sorted(dummies.columns)).astype(np.int8)
    dummies.index = pd.Index(movies["movieId"].to_numpy(), name="movieId")
    dummies.columns.name = "genre"
    return dummies


def release_year(movies: pd.DataFrame) -> pd.Series:
    """Return each movie's year parsed from a title like 'Toy Story (1995)' (nullable Int64, index movieId)."""
    check_frame(movies, ["movieId", "title"], "movies")
    year = movies["title"].astype(str).str.extract(r"\((\d{4})\)\s*$", expand=False)
    return pd.Series(pd.to_numeric(year).astype("Int64").to_numpy(), index=pd.Index(movies["movieId"].to_numpy(),
                     name="movieId"), name="year")


#: A rating at or above this counts as positive feedback (a "like"), as in SparrowRecSys.
POSITIVE_THRESHOLD = 3.5


def positive(ratings: pd.DataFrame, threshold: float = POSITIVE_THRESHOLD) -> pd.DataFrame:
    """The positive ratings ("likes": rating >= ``threshold``, 3.5 as in SparrowRecSys), index reset.

    The one definition of a like in the package: every chapter that needs a user's liked
    movies takes them from here.
    """
    check_frame(ratings, ["rating"], "ratings")
    threshold = check_number(threshold, "threshold", low=0.5, high=5.0)
    return ratings.loc[ratings["rating"] >= threshold].reset_index(drop=True)


def time_split(ratings: pd.DataFrame, test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split globally by time: the last ``test_fraction`` of ratings by timestamp form the test set.

    Returns ``(train, test)`` in their original row order, index reset. Every test
    rating is at or after the cutoff and every train rating before it, so ties at
    the cutoff make the test share a little larger than asked.
    """
    check_frame(ratings, ["timestamp"], "ratings")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (float, int, np.floating)):
        raise TypeError(f"test_fraction must be a number, got {type(test_fraction).__name__}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    if not pd.api.types.is_numeric_dtype(ratings["timestamp"]) or pd.api.types.is_bool_dtype(ratings["timestamp"]):
        raise TypeError(f"ratings['timestamp'] must be numeric (seconds since 1970), got dtype "
                        f"{ratings['timestamp'].dtype}; text timestamps would be ordered as strings")
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

