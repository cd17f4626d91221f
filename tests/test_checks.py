"""The one validator: every check of sparrow_course.checks, its hints, and its doctests.

A wrong type raises TypeError, a wrong value ValueError, and the message names the argument,
what it got and what is expected. The argument's name is matched as a word of its own.
"""
from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from sparrow_course import checks
from sparrow_course.checks import (
    MEMORY_LIMIT_BYTES, UnknownIdError, check_array, check_bool, check_choice, check_choices, check_dataset,
    check_fraction, check_frame, check_int, check_known_ids, check_memory, check_number, check_probability,
    check_seed, check_str, check_user_ids, describe,
)


def test_doctests_of_the_module_run():
    result = doctest.testmod(checks)
    assert result.attempted >= 5 and result.failed == 0


def test_every_public_check_is_tested_here():
    import inspect
    import sys

    tested = {name for name in dir(sys.modules[__name__]) if name.startswith("test_")}
    for name in checks.__all__:
        obj = getattr(checks, name)
        if inspect.isfunction(obj) and name.startswith("check_"):
            assert f"test_{name}" in tested, f"checks.{name} has no test_{name} here"


def test_describe():
    assert describe(3) == "3" and describe(np.int64(4)) == "4" and describe(None) == "None"
    assert describe("x" * 100).endswith("...") and len(describe("x" * 100)) == 60
    assert describe(np.zeros((2, 3))) == "a ndarray of shape (2, 3)"
    assert describe([1, 2]) == "a list"


def test_check_int():
    assert check_int(np.int32(5), "n") == 5 and type(check_int(np.int32(5), "n")) is int
    with pytest.raises(ValueError, match=r"^n_servers must be an integer >= 1, got -3$"):
        check_int(-3, "n_servers", low=1)
    with pytest.raises(ValueError, match=r"\bk must be an integer > 0 and < 10, got 10"):
        check_int(10, "k", low=0, high=10, include_low=False, include_high=False)
    with pytest.raises(TypeError, match=r"\bk must be an integer, got 3.0 of type float \(write 3, not 3.0\)"):
        check_int(3.0, "k")   # the hint: a whole float, written as an integer
    with pytest.raises(TypeError, match=r"\bk must be an integer, got 2.5 of type float$"):
        check_int(2.5, "k")   # no hint for a fraction
    with pytest.raises(TypeError, match=r"\bk must be an integer, got True of type bool"):
        check_int(True, "k")


def test_check_number():
    assert check_number(2, "w") == 2.0 and type(check_number(np.float32(1.5), "w")) is float
    with pytest.raises(ValueError, match=r"\bw must be a number, got NaN"):
        check_number(float("nan"), "w")
    assert np.isnan(check_number(float("nan"), "w", allow_nan=True))
    with pytest.raises(ValueError, match=r"\bw must be finite, got inf"):
        check_number(float("inf"), "w")
    assert check_number(float("inf"), "w", allow_inf=True) == float("inf")
    with pytest.raises(ValueError, match=r"\bw must be a number > 0, got 0.0"):
        check_number(0, "w", low=0, include_low=False)
    with pytest.raises(ValueError, match=r"\bw must be a number >= 1 and <= 2, got 2.5"):
        check_number(2.5, "w", low=1, high=2)
    with pytest.raises(TypeError, match=r"\bw must be a number, got '3' of type str"):
        check_number("3", "w")
    with pytest.raises(TypeError, match=r"\bw must be a number, got False"):
        check_number(False, "w")


def test_check_fraction():
    assert check_fraction(0, "blend") == 0.0 and check_fraction(1, "blend") == 1.0
    with pytest.raises(ValueError, match=r"\bblend must be a fraction in \[0, 1\], got 50.0 \(it looks like a percentage: write 0.5\)"):
        check_fraction(50, "blend")
    with pytest.raises(ValueError, match=r"\bshare must be a fraction in \(0, 1\), got 1.0$"):
        check_fraction(1, "share", include_low=False, include_high=False)
    with pytest.raises(ValueError, match=r"\bshare must be a fraction in \[0, 1\], got 150.0$"):
        check_fraction(150, "share")   # above 100: no percentage hint
    with pytest.raises(TypeError, match=r"\bshare must be a number"):
        check_fraction("half", "share")


def test_check_probability():
    assert check_probability(0.25, "p") == 0.25
    with pytest.raises(ValueError, match=r"\bp must be a fraction in \[0, 1\], got -0.1"):
        check_probability(-0.1, "p")


def test_check_seed():
    assert check_seed(np.uint32(7)) == 7 and check_seed(2**32 - 1) == 2**32 - 1
    with pytest.raises(ValueError, match=r"\bseed must be an integer >= 0 and < 4294967296, got -1"):
        check_seed(-1)
    with pytest.raises(TypeError, match=r"\brandom_state must be an integer"):
        check_seed(1.5, "random_state")


def test_check_bool():
    assert check_bool(np.bool_(True), "centre") is True
    with pytest.raises(TypeError, match=r"\bcentre must be True or False, got 1 of type int"):
        check_bool(1, "centre")


def test_check_str():
    assert check_str("a", "name") == "a" and check_str("", "name", allow_empty=True) == ""
    with pytest.raises(ValueError, match=r"\bname must be a non-empty string, got '  '"):
        check_str("  ", "name")
    with pytest.raises(TypeError, match=r"\bname must be a string, got 3 of type int"):
        check_str(3, "name")


def test_check_choice():
    assert check_choice("lru", "policy", ("lru", "lfu")) == "lru"
    with pytest.raises(ValueError, match=r"\bpolicy must be one of 'lfu', 'lru'; got 'LRU'"):
        check_choice("LRU", "policy", ("lru", "lfu"))
    with pytest.raises(ValueError, match=r"\bpolicy must be one of"):
        check_choice([1], "policy", {"lru"})     # unhashable against a set: refused, not a TypeError from set


def test_check_choices():
    assert check_choices(("tag", "year"), "fields", ["genres", "year", "tag"]) == ["tag", "year"]
    assert check_choices([], "fields", ["a"], allow_empty=True) == []
    with pytest.raises(TypeError, match=r"\bfields must be a list of names from \['genres', 'year'\], got the string "
                                        r"'genres'; write \['genres'\]"):
        check_choices("genres", "fields", ("genres", "year"))
    with pytest.raises(TypeError, match=r"\bfields must be a list of names .*got 3"):
        check_choices(3, "fields", ("genres",))
    with pytest.raises(ValueError, match=r"\bfields is empty; choose at least one of \['genres'\]"):
        check_choices([], "fields", ("genres",))
    with pytest.raises(ValueError, match=r"\beach of fields must be one of 'genres', 'year'; got 'budget'"):
        check_choices(["genres", "budget"], "fields", ("genres", "year"))
    with pytest.raises(ValueError, match=r"\bfields must not repeat a name, got \['year'\] more than once"):
        check_choices(["year", "genres", "year"], "fields", ("genres", "year"))


def test_check_dataset():
    from sparrow_course.datasets import MovieLens

    empty = pd.DataFrame()
    ml = MovieLens("toy", empty, empty, empty)
    assert check_dataset(ml) is ml
    with pytest.raises(TypeError, match=r"\bml must be a MovieLens dataset \(from datasets.load_movielens\), got 'ml' "
                                        r"of type str"):
        check_dataset("ml")
    with pytest.raises(TypeError, match=r"\bdata must be a MovieLens dataset"):
        check_dataset(empty, "data")


def test_check_user_ids():
    out = check_user_ids(np.array([3, 1], dtype=np.int32))
    assert out.dtype == np.int64 and out.tolist() == [3, 1]
    with pytest.raises(TypeError, match=r"\busers must be a 1-D sequence of integer user ids, got '7'"):
        check_user_ids("7", "users")
    with pytest.raises(TypeError, match=r"\buser_ids must be a 1-D sequence of integer user ids, got 7"):
        check_user_ids(7)
    with pytest.raises(TypeError, match=r"\buser_ids must be a 1-D sequence"):
        check_user_ids([[1, 2]])
    with pytest.raises(TypeError, match=r"\buser_ids must hold integer user ids, got dtype float64"):
        check_user_ids([1.0])
    with pytest.raises(ValueError, match=r"\buser_ids is empty; give at least one user id"):
        check_user_ids([])


def test_check_known_ids():
    known = np.array([10, 20, 30])
    assert check_known_ids([30, 10, 10], known, "movie_ids").tolist() == [2, 0, 0]
    assert check_known_ids(20, known, "movie_ids").tolist() == [1]
    with pytest.raises(UnknownIdError, match=r"^movie_ids has 6 unknown id\(s\): 1, 2, 3, 4, 5 \.\.\.$"):
        check_known_ids([1, 2, 3, 4, 5, 6, 10], known, "movie_ids")
    with pytest.raises(KeyError):          # a lookup's error ...
        check_known_ids([99], known, "movie_ids")
    with pytest.raises(ValueError):        # ... and an argument check's
        check_known_ids([99], known, "movie_ids")
    with pytest.raises(UnknownIdError, match=r"^ids has 1 unknown id\(s\): 5$"):
        check_known_ids([5], np.array([], dtype=np.int64), "ids")
    with pytest.raises(TypeError, match=r"\bmovie_ids must hold integer ids"):
        check_known_ids([1.5], known, "movie_ids")


def test_check_memory():
    check_memory(MEMORY_LIMIT_BYTES, "exactly the limit")
    with pytest.raises(ValueError, match=r"^the score matrix would need about 8.0 GiB of memory, above the course's "
                                        r"limit of 4 GiB"):
        check_memory(8 * 2**30, "the score matrix")
    with pytest.raises(ValueError, match=r"limit of 1 GiB"):
        check_memory(2 * 2**30, "a table", limit=2**30)


def test_check_array():
    out = check_array([[1, 2], [3, 4]], "x", ndim=2, shape=(None, 2))
    assert out.dtype == float and out.shape == (2, 2)
    assert check_array([], "x", allow_empty=True).size == 0
    assert np.isnan(check_array([np.nan], "x", finite=False)).all()
    with pytest.raises(TypeError, match=r"\bx must be array-like of numbers, got 'abc'"):
        check_array("abc", "x")
    with pytest.raises(TypeError, match=r"\bx must be array-like of float64 values"):
        check_array([["a", "b"]], "x")
    with pytest.raises(ValueError, match=r"\bx must be 2-dimensional, got shape \(3,\)"):
        check_array([1, 2, 3], "x", ndim=2)
    with pytest.raises(ValueError, match=r"\bx must have shape \(any, 3\), got \(2, 2\)"):
        check_array([[1, 2], [3, 4]], "x", shape=(None, 3))
    with pytest.raises(ValueError, match=r"\bx is empty; expected at least one value"):
        check_array([], "x")
    with pytest.raises(ValueError, match=r"\bx must be finite; it has 2 NaN or infinite value\(s\)"):
        check_array([np.nan, np.inf, 1.0], "x")


def test_check_frame():
    frame = pd.DataFrame({"userId": [1], "movieId": [2]})
    assert check_frame(frame, ["userId"], "ratings") is frame
    with pytest.raises(TypeError, match=r"\bratings must be a pandas DataFrame, got a list"):
        check_frame([1], ["userId"], "ratings")
    with pytest.raises(ValueError, match=r"\bratings lacks column\(s\) \['rating'\]; expected at least \['userId', 'rating'\]"):
        check_frame(frame, ["userId", "rating"], "ratings")
    with pytest.raises(ValueError, match=r"\bratings is empty; expected at least one row"):
        check_frame(frame.iloc[:0], ["userId"], "ratings", allow_empty=False)
