"""The exercises core tells not attempted, incorrect, error and correct apart."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparrow_course.exercises import (
    CORRECT, ERROR, INCORRECT, NOT_ATTEMPTED, NOTED, Case, FunctionQuestion, MultipartQuestion,
    ThoughtQuestion, ValueQuestion, ____, compare, questions,
)


def mean(xs):
    return sum(xs) / len(xs)


@pytest.fixture
def fq():
    return FunctionQuestion("Mean of a list.", mean, [([1, 2, 3],), ([2.5],), Case(([1, 2],))],
                            hints=["sum, then divide", "len() counts"], wrong_answers=[lambda xs: sum(xs)])


def test_function_question_outcomes(fq):
    assert fq.check(mean).outcome == CORRECT
    assert fq.check().outcome == NOT_ATTEMPTED
    assert fq.check(____).outcome == NOT_ATTEMPTED

    def blank(xs):
        return ____
    assert fq.check(blank).outcome == NOT_ATTEMPTED

    def blank_statement(xs):
        ____
    assert fq.check(blank_statement).outcome == NOT_ATTEMPTED

    wrong = fq.check(lambda xs: sum(xs))
    assert wrong.outcome == INCORRECT
    assert "case 1 of 3" in wrong.message and "expected 2.0, got 6" in wrong.message

    def crashes(xs):
        return xs[10]
    err = fq.check(crashes)
    assert err.outcome == ERROR and "IndexError" in err.message and "case 1" in err.message

    def forgot_return(xs):
        sum(xs) / len(xs)
    assert "did you forget `return`" in fq.check(forgot_return).message
    assert fq.check(3).outcome == INCORRECT


def test_float_tolerance_and_mutation_safety():
    q = FunctionQuestion("Scale.", lambda xs: [x * 0.1 for x in xs], [([1, 2, 3],)], rtol=1e-6)
    assert q.check(lambda xs: [x / 10 for x in xs]).correct

    def mutating(xs):
        xs.append(99)
        return [x * 0.1 for x in xs[:-1]]
    assert q.check(mutating).correct  # the reference saw its own copy of the case
    assert q.check(lambda xs: [x * 0.1001 for x in xs]).outcome == INCORRECT


def test_hints_and_solution(fq):
    assert "sum, then divide" in repr(fq.hint())
    assert "hint 2 of 2" in repr(fq.hint(2))
    with pytest.raises(ValueError, match="hint number must be 1..2"):
        fq.hint(3)
    assert "def mean" in repr(fq.solution())


def test_value_question_with_explanation():
    q = ValueQuestion("How many keys move?", 0.75, wrong_answers=[0.25],
                      explanations={0.25: "That is 1/(N+1), the consistent-hashing figure."})
    assert q.check(0.75).correct
    assert q.check(0.7500000001).correct
    r = q.check(0.25)
    assert r.outcome == INCORRECT and "consistent-hashing" in r.message
    assert q.check().outcome == NOT_ATTEMPTED
    assert q.check("0.75").outcome == INCORRECT
    lazy = ValueQuestion("Computed lazily.", lambda: 2 + 2)
    assert lazy.check(4).correct and lazy.reference_answer == 4


def test_multipart_question():
    q = MultipartQuestion("Two parts.", {"a": ValueQuestion("a", 1, wrong_answers=[2]),
                                         "b": ValueQuestion("b", "x", wrong_answers=["y"])})
    assert q.a.check(1).correct
    assert q.check({"a": 1, "b": "x"}).correct
    r = q.check({"a": 1, "b": "y"})
    assert r.outcome == INCORRECT and r.message.startswith("part (b)")
    assert q.check().outcome == NOT_ATTEMPTED
    assert q.check({"a": ____, "b": ____}).outcome == NOT_ATTEMPTED
    with pytest.raises(AttributeError, match="parts are"):
        q.c


def test_thought_question():
    q = ThoughtQuestion("Why hash on user id?", "So the node's cache stays warm.")
    assert q.check().outcome == NOT_ATTEMPTED
    assert q.check("   ").outcome == NOT_ATTEMPTED
    assert q.check("cache affinity").outcome == NOTED
    assert "cache stays warm" in repr(q.solution())


def test_compare_understands_arrays_frames_and_dicts():
    assert compare(np.array([1.0, 2.0]), [1.0, 2.0]) is None
    assert "index (1,)" in compare(np.array([1.0, 2.0]), [1.0, 2.5])
    assert "shape" in compare(np.zeros(3), np.zeros(4))
    df = pd.DataFrame({"a": [1.0, 2.0]})
    assert compare(df, df.copy()) is None
    assert compare(df, df + 1) is not None
    assert compare({"a": 1}, {"a": 1, "b": 2}).startswith("keys differ")
    assert compare(True, 1) is not None  # a bool is not a number here
    assert compare({1, 2}, [2, 1]) is None


def test_questions_registry_names_questions():
    q1 = ValueQuestion("x", 1)
    found = questions({"q1": q1, "other": 3})
    assert list(found) == ["q1"] and q1.name == "q1"


def test_rendering_is_plain_and_deterministic(fq):
    assert repr(fq.check()).startswith("[ ] Not attempted")
    assert "**Correct**" in fq.check(mean)._repr_markdown_()
