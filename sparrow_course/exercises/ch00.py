"""Chapter 00 warm-ups: reading the SparrowLens ratings the way SparrowRecSys does."""
from __future__ import annotations

import pandas as pd

from .core import Case, FunctionQuestion, ValueQuestion, questions


def _ratings() -> pd.DataFrame:
    from ..datasets import load_movielens

    return load_movielens().ratings


def _positive_share(ratings: pd.DataFrame, threshold: float = 3.5) -> float:
    """Share of ratings that SparrowRecSys counts as positive feedback (rating >= threshold)."""
    return float((ratings["rating"] >= threshold).mean())


_SMALL = pd.DataFrame({"userId": [1, 1, 2, 2, 3], "movieId": [10, 11, 10, 12, 11],
                       "rating": [3.5, 3.0, 5.0, 0.5, 4.0], "timestamp": [1, 2, 3, 4, 5]})

q1 = FunctionQuestion(
    """Write `positive_share(ratings, threshold=3.5)`: the share of rows of a ratings frame that count as
    positive feedback, i.e. whose rating is at least `threshold` (SparrowRecSys uses 3.5).""",
    reference=_positive_share,
    cases=[(_SMALL,), Case((_SMALL,), {"threshold": 4.0}), Case((_SMALL,), {"threshold": 0.5})],
    hints=["`ratings['rating'] >= threshold` is a boolean Series.",
           "The mean of a boolean Series is the share of True values."],
    wrong_answers=[lambda ratings, threshold=3.5: float((ratings["rating"] > threshold).mean()),
                   lambda ratings, threshold=3.5: int((ratings["rating"] >= threshold).sum())],
)


def _ratings_of_top_decile() -> float:
    counts = _ratings()["movieId"].value_counts()
    top = counts.iloc[: max(1, round(0.1 * len(counts)))]
    return round(float(top.sum() / counts.sum()), 2)


q2 = ValueQuestion(
    """Long tail (长尾): what share of all ratings in the bundled data go to the 10% most-rated movies
    (among movies with at least one rating)? Answer as a fraction rounded to 2 decimals, e.g. 0.37.""",
    expected=_ratings_of_top_decile,
    rtol=0, atol=0.0051,
    hints=["`ratings['movieId'].value_counts()` sorts movies by their number of ratings, most first.",
           "Take the first 10% of that Series (round the count), sum it, divide by the total."],
    wrong_answers=[0.1, 1.0],
    explanations={0.1: "That is what a flat popularity curve would give: the top 10% would hold 10%.",
                  1.0: "That would mean the other 90% of movies were never rated."},
)

QUESTIONS = questions(globals())
