"""Chapter 00 exercises: reading SparrowLens's ratings and catalogue tags the way the course does.

Every expected value is measured on the bundled SparrowLens by the package itself, so the
questions stay right when the data is regenerated. Nothing a question asks for is computed
in notebook 00 before it.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from .core import Case, FunctionQuestion, ValueQuestion, questions


@lru_cache(maxsize=1)
def _bundled():
    from ..datasets import load_movielens

    return load_movielens()


# --- q1: move the positive threshold ------------------------------------------------------------


def _positive_share_at(threshold: float) -> float:
    return float((_bundled().ratings["rating"] >= threshold).mean())


q1 = ValueQuestion(
    """Transfer: the notebook labels a rating positive (正反馈) when it is at least 3.5 stars, as
    SparrowRecSys does. Move the threshold to 4.0: what share of all ratings in the bundled
    SparrowLens (`ml.ratings`) is at least 4.0 stars? Answer as a fraction of all ratings
    (not a percentage), to 3 decimals.""",
    expected=lambda: round(_positive_share_at(4.0), 3),
    decimals=3,
    hints=["Which ratings does 'at least 4.0' keep: is a rating of exactly 4.0 in or out?",
           "A comparison on `ml.ratings['rating']` gives a boolean Series; its mean is a share."],
    wrong_answers=[lambda: round(float((_bundled().ratings["rating"] > 4.0).mean()), 3),
                   lambda: round(100 * _positive_share_at(4.0), 3),
                   lambda: round(_positive_share_at(3.5), 3)],
    explanation="Raising the bar from 3.5 to 4.0 drops every 3.5-star rating, a large share at this "
                "threshold; positives and negatives become less balanced, which chapter 01's AUC must live with.",
    reruns_experiment=True,
)


# --- q2: top share of a long tail ---------------------------------------------------------------


def _top_share(counts, fraction):
    """Share of the total held by the ceil(fraction * n) largest counts (at least one)."""
    values = np.sort(np.asarray(counts, dtype=float))[::-1]
    k = max(1, math.ceil(fraction * len(values)))
    return float(values[:k].sum() / values.sum())


_COUNTS = [5, 1, 40, 3, 12, 0, 7, 2, 1, 9]

q2 = FunctionQuestion(
    """Write `top_share(counts, fraction)`: given how often each item occurs (`counts`, a list or
    array of non-negative numbers in any order, not all zero) and a `fraction` in (0, 1], return
    the share of the total held by the most frequent items, taking the `ceil(fraction * n)` largest
    counts (`n = len(counts)`, and at least one item). It is the measure behind "the top 10% of
    movies hold half of the ratings" and "the 10 most common tags hold a fifth of all tags".
    Return a float.""",
    reference=_top_share,
    cases=[Case((_COUNTS, 0.1)), Case((_COUNTS, 0.25)), Case((_COUNTS, 1.0)), Case(([4, 4, 4, 4], 0.5)),
           Case(([0, 3, 1], 0.01))],
    hints=["Sort the counts from largest to smallest first: the input is in any order.",
           "`math.ceil(fraction * len(counts))` items, but never fewer than one; then divide their sum "
           "by the sum of all counts."],
    wrong_answers=[lambda counts, fraction: float(sum(counts[: max(1, math.ceil(fraction * len(counts)))])
                                                  / sum(counts)),
                   lambda counts, fraction: float(np.sort(counts)[::-1][: int(fraction * len(counts))].sum()
                                                  / np.sum(counts))],
    explanation="The same measure gives the long tail of ratings (chapter 03's cache) and of tags "
                "(chapter 05's IDF): a few items hold much of the mass.",
)


# --- q3: sibling overlap at a relevance threshold ----------------------------------------------


def _overlap_at(min_relevance: float) -> float:
    from ..datasets import describe_movie_tags

    return float(describe_movie_tags(_bundled(), min_relevance=min_relevance)["sibling_leaf_overlap"])


q3 = ValueQuestion(
    """Transfer: the notebook measures the sibling leaf overlap over every catalogue tag row. Keep
    only the rows of `ml.movie_tags` with `relevance >= 0.9` (the package's
    `datasets.describe_movie_tags(ml, min_relevance=0.9)` does it for you) and measure it again:
    of the pairs of movies that carry leaves of one parent, what share have one of its leaves in
    common? Answer as a fraction to 3 decimals.""",
    expected=lambda: round(_overlap_at(0.9), 3),
    decimals=3,
    hints=["Predict first: with fewer tags per movie, do two films of one sub-genre share a leaf more or "
           "less often?",
           "The statistic is under the key 'sibling_leaf_overlap' of the dictionary the function returns."],
    wrong_answers=[lambda: round(_overlap_at(0.0), 3), lambda: round(100 * _overlap_at(0.9), 3)],
    explanation="A stricter threshold keeps fewer leaves per film, so siblings share a leaf even less "
                "often: exact leaf matching finds fewer neighbours, and the parent level matters more.",
)


# --- q4: does a generic tag carry signal? -------------------------------------------------------


def _funny_comedy_share() -> float:
    ml = _bundled()
    funny = ml.movie_tags.loc[ml.movie_tags["tag"] == "funny", "movieId"]
    genres = ml.movies.set_index("movieId")["genres"]
    return float(genres.loc[funny].str.split("|").apply(lambda g: "Comedy" in g).mean())


def _comedy_share() -> float:
    genres = _bundled().movies["genres"].str.split("|")
    return float(genres.apply(lambda g: "Comedy" in g).mean())


def _comedies_tagged_funny() -> float:
    ml = _bundled()
    comedies = ml.movies.loc[ml.movies["genres"].str.split("|").apply(lambda g: "Comedy" in g), "movieId"]
    funny = set(ml.movie_tags.loc[ml.movie_tags["tag"] == "funny", "movieId"])
    return float(pd.Series(comedies).isin(funny).mean())


q4 = ValueQuestion(
    """Generic tags carry a weaker signal than leaves. Measure one: among the movies whose catalogue
    tags (`ml.movie_tags`) include the generic tag `funny`, what share has `Comedy` among its genres
    in `ml.movies` (the `genres` column, split on `|`)? Answer as a fraction of the `funny` movies,
    to 3 decimals. Then compare it with the share of Comedy among all movies.""",
    expected=lambda: round(_funny_comedy_share(), 3),
    decimals=3,
    hints=["Two steps: the movieIds that carry `funny`, then the genres of exactly those movies.",
           "`movies.set_index('movieId').loc[ids, 'genres'].str.split('|')` gives lists of genres; "
           "test `'Comedy' in` each."],
    wrong_answers=[lambda: round(_comedy_share(), 3), lambda: round(_comedies_tagged_funny(), 3)],
    explanation="Funny films are Comedy far more often than films in general, but far from always: "
                "a generic tag is real, noisy signal, which TF-IDF down-weights because it is so common.",
)

QUESTIONS = questions(globals())
