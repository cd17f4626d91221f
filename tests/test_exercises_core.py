"""The exercises core tells not attempted, incorrect, error and correct apart, and a wrong value never shows the answer."""
from __future__ import annotations

import re
import types

import numpy as np
import pandas as pd
import pytest
from reveal import revealed

from sparrow_course.exercises import (
    CORRECT, ERROR, INCORRECT, NOT_ATTEMPTED, NOTED, Case, FunctionQuestion, MultipartQuestion,
    ThoughtQuestion, ValueQuestion, ____, compare, diagnose, questions,
)


def mean(xs):
    return sum(xs) / len(xs)


@pytest.fixture
def fq():
    q = FunctionQuestion("Mean of a list.", mean, [([1, 2, 3],), ([2.5],), Case(([1, 2],))],
                         hints=["sum, then divide", "len() counts"], wrong_answers=[lambda xs: sum(xs)],
                         explanation="The mean is the sum over the count.")
    q.name = "q1"
    return q


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

    def total(xs):
        return sum(xs)
    wrong = fq.check(total)
    assert wrong.outcome == INCORRECT
    # a function question shows the failing case in full, with expected and actual output
    assert "case 1 of 3, total([1, 2, 3]): expected 2.0, got 6" in wrong.message

    def crashes(xs):
        return xs[10]
    err = fq.check(crashes)
    assert err.outcome == ERROR and "IndexError" in err.message and "crashes([1, 2, 3])" in err.message

    def forgot_return(xs):
        sum(xs) / len(xs)
    assert "did you forget `return`" in fq.check(forgot_return).message
    assert fq.check(3).outcome == INCORRECT


def test_messages_for_not_attempted_and_correct_are_stable(fq):
    """Notebooks store these outputs; nbval would flag every chapter if their wording drifted."""
    def blank(xs):
        return ____
    assert repr(fq.check(blank)) == "[ ] Not attempted: your function still contains ____; fill in its body."
    assert fq.check(blank)._repr_markdown_() == (
        '<span style="color:grey">**Not attempted**</span>: your function still contains ____; fill in its body.')
    assert repr(ValueQuestion("v", 1).check(____)) == "[ ] Not attempted: replace ____ with your answer, then run the check again."
    assert repr(ThoughtQuestion("t", "s").check(____)) == (
        "[ ] Not attempted: write your answer in a string, then compare it with .solution().")
    multi = MultipartQuestion("m", {"a": ValueQuestion("a", 1)})
    assert repr(multi.check({"a": ____})) == "[ ] Not attempted: no part attempted yet."


def test_correct_answer_shows_the_explanation(fq):
    assert fq.check(mean).message.endswith("The mean is the sum over the count.")
    q = ValueQuestion("v", 0.75, explanation="Three of four keys move.")
    assert q.check(0.75).message == "0.75 is right. Three of four keys move."
    multi = MultipartQuestion("m", {"a": ValueQuestion("a", 1)}, explanation="Both agree.")
    assert multi.check({"a": 1}).message.endswith("Both agree.")


def test_long_case_is_named_and_reproducible():
    frame = pd.DataFrame({"rating": [3.5, 4.0, 1.0, 5.0]})
    q = FunctionQuestion("Positive share.", lambda r: float((r["rating"] >= 3.5).mean()),
                         [Case((frame,), name="four ratings"), Case((np.arange(100.0),))])
    q.name = "q2"

    def share(r):
        return 0.5
    msg = q.check(share).message
    assert "case 1 of 2 (four ratings)" in msg and "ex.q2.case(1)" in msg and "share(*args, **kwargs)" in msg
    args, kwargs = q.case(1)
    pd.testing.assert_frame_equal(args[0], frame)
    args[0].loc[0, "rating"] = 0.0  # a copy: the question's own case is untouched
    assert q.cases[0].args[0].loc[0, "rating"] == 3.5
    assert q.case(1).call(lambda r: len(r)) == 4
    with pytest.raises(ValueError, match="case number must be 1..2"):
        q.case(3)


def test_float_tolerance_and_mutation_safety():
    q = FunctionQuestion("Scale.", lambda xs: [x * 0.1 for x in xs], [([1, 2, 3],)], rtol=1e-6)
    assert q.check(lambda xs: [x / 10 for x in xs]).correct

    def mutating(xs):
        xs.append(99)
        return [x * 0.1 for x in xs[:-1]]
    assert q.check(mutating).correct  # the reference saw its own copy of the case
    assert q.check(lambda xs: [x * 0.1001 for x in xs]).outcome == INCORRECT


def test_precision_is_told_in_the_prompts_words():
    q = FunctionQuestion("Half.", lambda x: x / 3, [(1,)], decimals=2)
    msg = q.check(lambda x: x / 4).message
    assert "(to 2 decimals)" in msg and "rel" not in msg and "abs" not in msg
    assert q.check(lambda x: 0.33).correct
    count = FunctionQuestion("Count.", lambda xs: len(xs), [([1, 2],)])
    msg = count.check(lambda xs: 3).message
    assert "expected 2, got 3" in msg and "tolerance" not in msg and "precision" not in msg
    assert "1e-" not in compare(0.5, 0.6)


def test_hints_past_the_last_answer_with_a_message(fq):
    assert "sum, then divide" in repr(fq.hint())
    assert "hint 2 of 2" in repr(fq.hint(2))
    past = fq.hint(3)
    assert "2 hints only" in past.body and "ex.q1.solution()" in past.body
    assert "numbered 1 to 2" in fq.hint(0).body and "numbered 1 to 2" in fq.hint("2").body
    assert "def mean" in repr(fq.solution())


def test_value_question_with_explanation():
    q = ValueQuestion("How many keys move?", 0.75, wrong_answers=[0.25],
                      explanations={0.25: "That is 1/(N+1), the consistent-hashing figure."})
    assert q.check(0.75).correct
    assert q.check(0.7500000001).correct
    r = q.check(0.25)
    # 0.75 is one of a few round shares: no direction, ever (it would leave one or two values to try)
    assert r.outcome == INCORRECT and "consistent-hashing" in r.message and "too low" not in r.message
    assert "too low" not in q.check(0.25).message
    assert "0.75" not in r.message
    assert q.check().outcome == NOT_ATTEMPTED
    text = q.check("0.75")
    assert text.outcome == INCORRECT and "without quotes" in text.message
    lazy = ValueQuestion("Computed lazily.", lambda: 2 + 2)
    assert lazy.check(4).correct and lazy.reference_answer == 4


@pytest.mark.parametrize("expected,got,kind", [
    (0.512, 0.6, "too high"),
    (0.512, 0.4, "too low"),
    (0.512, 51.2, "100 times too large"),
    (37.5, 0.375, "100 times too small"),
    (-0.125, 0.125, "wrong sign"),
    (7, 7.5, "whole number"),
    (7, "7", "without quotes"),
    (7, [7], "expected a whole number"),
    (True, 1, "True or False"),
    ((3, 5), (5, 3), "wrong order"),
    (["a", "b", "c"], ["a", "b"], "expected 3 items, got 2"),
    ((1, 2.5), (1, 2.9), "at position 1"),
    ({1, 2, 3}, {1, 2, 4}, "1 item is missing"),
    ({1, 2}, [[1], [2]], "hashable"),
    ({"a": 1.5, "b": 2}, {"a": 1.5}, "missing key 'b'"),
    ({"a": 1.5, "b": 2}, {"a": 1.5, "b": 5}, "at key 'b'"),
    (np.array([0.25, 0.5]), np.array([0.25, 0.5, 0.75]), "shape"),
    (np.array([[0.25, 0.5]]), np.array([[0.25, 0.9]]), "index (0, 1)"),
    ("east", "East", "upper and lower case"),
    ("east", "east ", "stray spaces"),
    (0.5123456, 0.51, "did you round"),
])
def test_a_wrong_value_says_what_kind_of_wrong_without_the_answer(expected, got, kind):
    q = ValueQuestion("A value.", expected)
    r = q.check(got)
    assert r.outcome == INCORRECT
    if kind in ("too high", "too low"):  # never on the first wrong answer; once, on the next
        assert kind not in r.message and "is not right" in r.message, r.message
        r = q.check(got)
    assert kind in r.message, r.message
    assert not revealed(expected, got, r.message), r.message


def test_decimals_accept_what_rounds_the_same_and_never_reveal():
    q = ValueQuestion("Share to 2 decimals.", 0.5163, decimals=2)
    assert q.check(0.52).correct and q.check(0.516).correct
    r = q.check(0.53)
    assert r.outcome == INCORRECT and "too high" not in r.message and "to 2 decimals" in r.message
    r = q.check(0.53)
    assert r.outcome == INCORRECT and "too high" in r.message and "to 2 decimals" in r.message
    assert "too" not in q.check(0.49).message  # told once only: no bracket
    assert not re.search(r"0\.516|0\.52(?!\d)|0\.5163", r.message)
    assert "`0.52`" in q.solution().body


def test_frames_are_diagnosed_cell_by_cell_without_values():
    e = pd.DataFrame({"k": [1, 2], "hit": [0.875, 0.625]})
    q = ValueQuestion("A table.", e)
    assert q.check(e.copy()).correct
    assert "wrong order" in q.check(e[["hit", "k"]]).message
    assert "missing columns ['hit']" in q.check(e[["k"]]).message
    r = q.check(e.assign(hit=[0.875, 0.7]))
    assert "column 'hit', row 1: 0.7 is too high" in r.message and "0.625" not in r.message
    assert "expected a DataFrame" in q.check([1, 2]).message


def test_diagnose_and_compare():
    assert diagnose(0.5, 0.5) is None
    assert "too low" in diagnose(0.5, 0.4) and "0.5" not in diagnose(0.5, 0.4).replace("0.4", "")
    assert compare(np.array([1.0, 2.0]), [1.0, 2.0]) is None
    assert "index 1" in compare(np.array([1.0, 2.0]), [1.0, 2.5])
    assert "shape" in compare(np.zeros(3), np.zeros(4))
    df = pd.DataFrame({"a": [1.0, 2.0]})
    assert compare(df, df.copy()) is None
    assert compare(df, df + 1) is not None
    assert "unexpected key 'b'" in compare({"a": 1}, {"a": 1, "b": 2})
    assert compare(True, 1) is not None  # a bool is not a number here
    assert compare({1, 2}, [2, 1]) is None
    assert compare(3, 3.0) is None and compare(3, 3.5) is not None
    assert compare(1_000_000, 1_000_001) is not None  # integers are exact, not within 1e-6


def test_multipart_question():
    q = MultipartQuestion("Two parts.", {"a": ValueQuestion("a", 1, wrong_answers=[2]),
                                         "b": ValueQuestion("b", "x", wrong_answers=["y"])})
    assert q.a.check(1).correct
    assert q.check({"a": 1, "b": "x"}).correct
    r = q.check({"a": 1, "b": "y"})
    assert r.outcome == INCORRECT and r.message.startswith("part (b)") and "'x'" not in r.message
    assert q.check().outcome == NOT_ATTEMPTED
    assert q.check({"a": ____, "b": ____}).outcome == NOT_ATTEMPTED
    assert len(q.wrong_answers) == 2
    with pytest.raises(AttributeError, match="parts are"):
        q.c


def test_thought_question_solution_is_clean_markdown():
    q = ThoughtQuestion("Why hash on user id?", """So the node's cache stays warm:
        the same user lands on the same node.

        - a second paragraph, as a list
        """, hints=["Think of the node's memory."])
    assert q.check().outcome == NOT_ATTEMPTED
    assert q.check("   ").outcome == NOT_ATTEMPTED
    assert q.check("cache affinity").outcome == NOTED
    body = q.solution().body
    assert body.startswith("So the node's cache stays warm:\nthe same user")
    assert not any(line.startswith(" ") for line in body.splitlines())
    assert q.solution()._repr_markdown_().startswith("**Solution**:\n\nSo the node's")


def test_progress_per_chapter_module():
    module = types.ModuleType("sparrow_course.exercises.ch99")
    module.q1 = ValueQuestion("one", 1, explanation="e")
    module.q2 = MultipartQuestion("two", {"a": ValueQuestion("a", 2), "b": ValueQuestion("b", 3)})
    module.q10 = ThoughtQuestion("ten", "s")
    module.QUESTIONS = questions(vars(module))
    assert list(module.QUESTIONS) == ["q1", "q2", "q10"]
    before = module.progress()
    assert "ch99: 0 of 3 questions correct so far" in repr(before)
    module.q1.check(1)
    module.q2.a.check(2)
    module.q10.check("an answer")
    rows = dict(module.progress().rows)
    assert rows == {"q1": CORRECT, "q2": "1 of 2 parts correct", "q10": NOTED}
    module.q2.b.check(3)
    assert dict(module.progress().rows)["q2"] == CORRECT
    module.q1.check(5)  # a later wrong attempt does not undo a solved question
    assert "ch99: 2 of 3" in repr(module.progress())


def test_questions_registry_names_questions():
    q1 = ValueQuestion("x", 1)
    found = questions({"q1": q1, "other": 3})
    assert list(found) == ["q1"] and q1.name == "q1"


def test_value_solution_shows_the_answer_and_how():
    q = ValueQuestion("Four.", lambda: 2 + 2, solution="Two and two.")
    assert q.solution().body == "`4`\n\nTwo and two."
    computed = ValueQuestion("Four.", lambda: 2 + 2)
    assert "lambda: 2 + 2" in computed.solution().body


def test_rendering_is_plain_and_deterministic(fq):
    assert repr(fq.check()).startswith("[ ] Not attempted")
    assert "**Correct**" in fq.check(mean)._repr_markdown_()


def test_the_reveal_check_catches_what_it_should():
    """The helper the generic test relies on finds the answer in its usual disguises."""
    assert revealed(0.5163, 0.6, "0.6 is too high; expected 0.52")
    assert revealed(0.5163, 0.6, "about 51.6%")
    assert revealed(7, 9, "9 is too high, 7 is right")
    assert revealed((3, 5), (5, 3), "expected (3, 5)")
    assert not revealed(7, 7.5, "7.5 is not a whole number")
    assert not revealed(0.5163, 0.6, "0.6 is too high (to 2 decimals)")


def test_a_tuple_is_asked_for_where_it_matters():
    q = ValueQuestion("A cache key.", ("east", "ios", "evening", 1))
    r = q.check(["east", "ios", "evening", 1])
    assert r.outcome == INCORRECT and "expected a tuple" in r.message
    assert ValueQuestion("A list.", [1, 2]).check((1, 2)).correct  # a list question takes any sequence


def test_wrong_answers_given_as_functions_are_measured_on_first_use_only():
    calls = []

    def measured():
        calls.append("item")
        return 0.25

    def whole_list():
        calls.append("list")
        return [0.75, measured]

    items = ValueQuestion("What share?", expected=lambda: 0.5, wrong_answers=[measured, 0.1])
    listed = ValueQuestion("What share?", expected=0.5, wrong_answers=whole_list)
    assert calls == []                       # building a chapter's questions runs no experiment
    assert items.wrong_answers == [0.25, 0.1] and listed.wrong_answers == [0.75, 0.25]
    assert calls == ["item", "list", "item"]
    assert listed.wrong_answers == [0.75, 0.25] and len(calls) == 3     # measured once
    assert items.check(0.25).outcome == INCORRECT


def test_choice_question_shows_options_and_says_why_a_pick_is_wrong():
    from sparrow_course.exercises import ChoiceQuestion

    q = ChoiceQuestion("Which blend weight wins at k = 10?", options=[0.25, 0.5, 0.75], answer=lambda: 0.5,
                       why_wrong={"a": "Too little popularity for a short list.", "c": "Popularity swamps the tags."},
                       hints=["Where is popularity strongest?"], explanation="The head of a list is popular.")
    q.name = "q4"
    assert "- (a) 0.25\n- (b) 0.5\n- (c) 0.75" in q.prompt
    assert q.check().outcome == NOT_ATTEMPTED
    assert q.check("b").correct and q.check("(B)").correct and q.check(0.5).correct
    wrong = q.check("c")
    assert wrong.outcome == INCORRECT and "swamps" in wrong.message and "(b)" not in wrong.message
    assert q.check(0.25).message.endswith("Too little popularity for a short list.")
    assert "one of 'a', 'b', 'c'" in q.check("d").message and "one of" in q.check(0.6).message
    assert q.reference_answer == "b" and q.wrong_answers == ["a", "c"]
    assert q.solution().body.startswith("(b) 0.5")
    with pytest.raises(ValueError, match=r"at least two options"):
        ChoiceQuestion("?", options=["only"], answer="a", why_wrong={})
    with pytest.raises(ValueError, match=r"why_wrong names options \['z'\]"):
        ChoiceQuestion("?", options=["x", "y"], answer="a", why_wrong={"z": "no"})
    with pytest.raises(ValueError, match=r"not among the options"):
        ChoiceQuestion("?", options=["x", "y"], answer="w", why_wrong={"b": "no"}).answer
