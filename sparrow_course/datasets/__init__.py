"""MovieLens-format data: load and validate it, split it, describe it, and fetch real MovieLens.

Every chapter reads its data through :func:`load_movielens`, which returns the bundled
SparrowLens (``data/`` in the repository) or any MovieLens folder in the ml-latest-small
layout, e.g. one made by :func:`download_movielens`::

    from sparrow_course.datasets import load_movielens, download_movielens
    ml = load_movielens()                                  # bundled SparrowLens
    real = load_movielens(download_movielens("ml-data"))   # real ml-latest-small

One module a job: ``movielens`` loads, validates and splits (and holds the helpers every
chapter shares: genres, years, likes); ``exploration`` is chapter 00's tour of a dataset;
``download`` fetches real MovieLens; ``requirements`` says what a section needs that real
data may lack (``lacks``) and guards the planted truth (``planted_truth``).
"""
from .download import ML_LATEST_SMALL_SHA256, ML_LATEST_SMALL_URL, download_movielens
from .exploration import (describe, describe_movie_tags, format_description, genre_drift, genre_lift, tag_rank_frequency,
                          zipf_fit)
from .requirements import NEEDS, lacks, planted_truth
from .movielens import (DATA_HOME_ENV, ID_MAX, POSITIVE_THRESHOLD, RATING_COLUMNS, RATING_VALUES, TIMESTAMP_RANGE,
                        DataError, MovieLens, bundled_data_path, data_home, genre_matrix, load_movielens, positive,
                        release_year, time_split, user_time_split)

__all__ = [
    "DATA_HOME_ENV", "ID_MAX", "NEEDS", "lacks", "planted_truth", "ML_LATEST_SMALL_SHA256", "ML_LATEST_SMALL_URL", "POSITIVE_THRESHOLD", "RATING_COLUMNS",
    "RATING_VALUES", "TIMESTAMP_RANGE", "DataError", "MovieLens", "bundled_data_path", "data_home", "describe",
    "describe_movie_tags", "download_movielens", "format_description", "genre_drift", "genre_lift", "genre_matrix",
    "load_movielens", "positive", "release_year", "tag_rank_frequency", "time_split", "zipf_fit", "user_time_split",
]
