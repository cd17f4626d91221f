"""Every question of every chapter: the reference passes, known wrong answers fail without giving the answer away,
the blank reads as not attempted, and hints, solutions and explanations are written for the question.

Chapters are discovered from ``sparrow_course/exercises/chNN.py``, so a new chapter is covered when it lands.
"""
from __future__ import annotations

import pytest
from reveal import revealed

from sparrow_course.exercises import (
    CORRECT, INCORRECT, NOT_ATTEMPTED, NOTED, FunctionQuestion, MultipartQuestion, ThoughtQuestion, ValueQuestion,
    ____, chapters,
)

CHAPTERS = chapters()
ALL = [(f"{ch}.{name}", q) for ch, mod in CHAPTERS.items() for name, q in mod.QUESTIONS.items()]
IDS = [n for n, _ in ALL]
# Questions whose reference reruns a chapter's experiment on the bundled data (seconds each, up to ~10 s):
# their checks are `slow`, so `tasks.py test --fast` leaves them to the full run.
RERUNS_AN_EXPERIMENT = {"ch00.q1", "ch01.q3", "ch01.q4", "ch01.q5", "ch02.q3", "ch03.q6", "ch03.q7", "ch04.q1",
                        "ch04.q3", "ch05.q2", "ch05.q3", "ch05.q4", "ch06.q1", "ch06.q4", "ch06.q6"}
MEASURED = [pytest.param(n, q, id=n, marks=[pytest.mark.slow] if n in RERUNS_AN_EXPERIMENT else []) for n, q in ALL]
# the texts the core falls back on when a question has none of its own: not counted as written
FALLBACKS = ("no hint for this one", "(no written solution)")


def _leaves(question):
    """A question, or each part of a multi-part question."""
    return list(question.parts.values()) if isinstance(question, MultipartQuestion) else [question]


def test_every_chapter_has_exercises():
    assert ALL, "no exercise modules found"
    assert RERUNS_AN_EXPERIMENT <= set(IDS), f"RERUNS_AN_EXPERIMENT names no question: {RERUNS_AN_EXPERIMENT - set(IDS)}"
    for ch, mod in CHAPTERS.items():
        assert len(mod.QUESTIONS) >= 3, f"{ch} has fewer than three questions"
        assert callable(getattr(mod, "progress", None)), f"{ch} has no progress(): end it with QUESTIONS = questions(globals())"


@pytest.mark.parametrize("name,question", ALL, ids=IDS)
def test_placeholder_reads_as_not_attempted(name, question):
    assert question.check(____).outcome == NOT_ATTEMPTED
    assert question.check().outcome == NOT_ATTEMPTED


@pytest.mark.parametrize("name,question", MEASURED)
def test_reference_passes(name, question):
    if isinstance(question, ThoughtQuestion):
        assert question.check("my answer").outcome == NOTED
        return
    ref = question.check(question.reference_answer)
    assert ref.outcome == CORRECT, f"{name}: the reference answer fails: {ref.message}"


@pytest.mark.parametrize("name,question", MEASURED)
def test_wrong_answers_fail_without_revealing_the_answer(name, question):
    if isinstance(question, ThoughtQuestion):
        pytest.skip("a thought question has no automatic verdict")
    for leaf in _leaves(question):
        assert leaf.wrong_answers, f"{leaf.name}: give at least one typical wrong answer (wrong_answers=)"
        for wrong in leaf.wrong_answers:
            result = leaf.check(wrong)
            assert result.outcome == INCORRECT, f"{leaf.name}: a known wrong answer gave {result.outcome}: {result.message}"
            assert result.message.strip()
            if isinstance(leaf, ValueQuestion):
                shown = revealed(leaf.expected, wrong, result.message)
                assert not shown, f"{leaf.name}: the message for {wrong!r} shows the expected value as {shown}: {result.message}"


@pytest.mark.parametrize("name,question", MEASURED)
def test_solution_is_written_for_the_question(name, question):
    for leaf in _leaves(question):
        if isinstance(leaf, ValueQuestion):
            # the bare value is not a solution: say how it is found (solution=, or expected= as a function)
            assert leaf._solution or leaf._expected_source, f"{leaf.name}: write solution= (how the value is found)"
        body = leaf.solution().body              # shows the value, so it measures it
        assert body.strip() and FALLBACKS[1] not in body, f"{leaf.name}: write a solution"


@pytest.mark.parametrize("name,question", ALL, ids=IDS)
def test_hints_and_explanation_are_written_for_the_question(name, question):
    hints = question.hints or [h for leaf in _leaves(question) for h in leaf.hints]
    assert hints, f"{name}: give at least one hint (hints=[...]) that nudges without stating the answer"
    assert all(h.strip() and not h.startswith(FALLBACKS) for h in hints)
    if isinstance(question, ThoughtQuestion):
        assert question._solution and len(question._solution.split()) >= 20, f"{name}: a thought question needs a discussion"
        return
    explained = bool(question.explanation) or all(leaf.explanation for leaf in _leaves(question))
    assert explained, f"{name}: give a one-line explanation= shown after a correct answer"


@pytest.mark.parametrize("name,question", [(n, q) for n, q in ALL if isinstance(q, FunctionQuestion)],
                         ids=[n for n, q in ALL if isinstance(q, FunctionQuestion)])
def test_every_case_can_be_reproduced(name, question):
    for n in range(1, len(question.cases) + 1):
        args, kwargs = question.case(n)
        question.reference(*args, **kwargs)  # the arguments a learner gets back run the reference
