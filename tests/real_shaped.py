"""A generated dataset shaped like a real MovieLens subset, for running every chapter at its DATA knob offline.

Real MovieLens differs from SparrowLens in what the chapters depend on: there is no users.csv
(no registration features), no tag hierarchy and no catalogue tags, often no tags at all; most
users rate a single film; ids are not SparrowLens's. :func:`write_real_shaped` writes such a
folder (movies.csv and ratings.csv only) in the ml-latest-small layout, deterministically, so the
browser pass (or the headless smoke run) can execute each chapter with ``DATA`` pointing at it and
check that every section either runs or says why it skips. No network: nothing is downloaded.

The default shape follows a real subset tried through the chapters: 982 movies, about 22,000
ratings by about 12,000 users, median one rating per user, with a few heavy users.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]


#: Chapters whose real-shaped run is the browser pass's own (tests/test_browser.py runs their smoke
#: version with ``DATA`` on the real-shaped folder, in JupyterLab, and makes the checks below), so that
#: a notebook is not executed twice at small values. Listed: the chapters where the real-shaped data
#: skips none of the figures the browser counts, and whose smoke run costs most (Spark, TensorFlow,
#: the serving stack). The browser asserts at least as many figures as the notebook stores, so a
#: chapter that starts to skip a figure on real-shaped data fails there: move it out of this list.
#: The other chapters' smoke runs stay on the bundled data (their claims, explorers and every
#: section at small values), and tests/test_real_shaped.py runs them on real-shaped data headless.
REAL_SHAPED_IN_BROWSER = ("01_network_depth", "02_load_balancing", "08_scaling_out_with_spark",
                          "09_capstone_serving")

SKIP_LINE = re.compile(r"^Skipped: (.*)$", re.M)


def browser_notebooks(session: pytest.Session) -> set[str]:
    """The notebooks (stems) this pytest session runs in the browser pass: selected, and Chromium is there."""
    from lab_process import BROWSER_MISSING

    if BROWSER_MISSING is not None:
        return set()
    return {item.callspec.params["path"].stem for item in session.items
            if item.path.name.startswith("test_browser") and hasattr(item, "callspec") and "path" in item.callspec.params}


def check_real_shaped_output(name: str, printed: str) -> None:
    """What a chapter printed on real-shaped data: no traceback, and every "Skipped:" line says what it needs."""
    for reason in SKIP_LINE.findall(printed):
        assert "needs" in reason and "ml-real-shaped" in reason, (
            f"{name}: a skip that does not say what the section needs: {reason!r}")
    assert "Traceback" not in printed, f"{name}: a section printed a traceback on real-shaped data"


def real_shaped_frames(*, n_movies: int = 982, n_users: int = 12_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """movies and ratings frames shaped like real MovieLens (see the module docstring)."""
    rng = np.random.default_rng(seed)
    # ids SparrowLens never uses (its movies are numbered from 1 to a few thousand), with gaps
    movie_ids = np.sort(rng.choice(np.arange(500_000, 600_000), size=n_movies, replace=False))
    years = rng.integers(1930, 2019, size=n_movies)
    genres = []
    for _ in range(n_movies):
        if rng.random() < 0.02:
            genres.append("(no genres listed)")
        else:
            k = int(rng.integers(1, 4))
            genres.append("|".join(sorted(rng.choice(GENRES, size=k, replace=False))))
    movies = pd.DataFrame({"movieId": movie_ids,
                           "title": [f"Real-Shaped Film {i} ({y})" for i, y in enumerate(years, start=1)],
                           "genres": genres})
    # users: median one rating, a long tail of heavy raters
    per_user = np.minimum(1 + rng.geometric(0.65, size=n_users) - 1 + (rng.random(n_users) < 0.012)
                          * rng.integers(10, 80, size=n_users), n_movies)
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    popularity = popularity[rng.permutation(n_movies)]
    popularity /= popularity.sum()
    user_ids = np.sort(rng.choice(np.arange(1_000_000, 2_000_000), size=n_users, replace=False))
    rows_user, rows_movie = [], []
    for uid, count in zip(user_ids, per_user):
        picks = rng.choice(n_movies, size=int(count), replace=False, p=popularity)
        rows_user.append(np.full(len(picks), uid))
        rows_movie.append(movie_ids[picks])
    users = np.concatenate(rows_user)
    items = np.concatenate(rows_movie)
    quality = rng.normal(3.5, 0.5, size=n_movies)
    by_id = pd.Series(quality, index=movie_ids)
    raw = by_id.reindex(items).to_numpy() + rng.normal(0, 0.9, size=len(items))
    ratings = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
    start, end = 1_262_304_000, 1_546_300_800  # 2010 to 2019
    timestamps = rng.integers(start, end, size=len(items))
    frame = pd.DataFrame({"userId": users, "movieId": items, "rating": ratings, "timestamp": timestamps})
    frame = frame.sort_values(["userId", "timestamp"], kind="stable").reset_index(drop=True)
    return movies, frame


def write_real_shaped(folder: str | Path, **shape) -> Path:
    """Write movies.csv and ratings.csv of :func:`real_shaped_frames` into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    movies, ratings = real_shaped_frames(**shape)
    movies.to_csv(folder / "movies.csv", index=False)
    ratings.to_csv(folder / "ratings.csv", index=False, float_format="%.1f")
    return folder
