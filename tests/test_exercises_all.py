"""Every question of every chapter: the reference passes, known wrong answers fail, the blank reads as not attempted."""
from __future__ import annotations

import pytest

from sparrow_course.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, NOTED, ThoughtQuestion, ____, chapters

ALL = [(f"{ch}.{name}", q) for ch, mod in chapters().items() for name, q in mod.QUESTIONS.items()]


def test_every_chapter_has_exercises():
    assert ALL, "no exercise modules found"
    for ch, mod in chapters().items():
        assert len(mod.QUESTIONS) >= 2, f"{ch} has fewer than two questions"


@pytest.mark.parametrize("name,question", ALL, ids=[n for n, _ in ALL])
def test_question(name, question):
    assert question.check(____).outcome == NOT_ATTEMPTED
    assert question.hint().body
    assert question.solution().body
    if isinstance(question, ThoughtQuestion):
        assert question.check("my answer").outcome == NOTED
        return
    ref = question.check(question.reference_answer)
    assert ref.outcome == CORRECT, f"{name}: the reference answer fails: {ref.message}"
    assert question.wrong_answers, f"{name}: give at least one typical wrong answer"
    for wrong in question.wrong_answers:
        result = question.check(wrong)
        assert result.outcome == INCORRECT, f"{name}: a known wrong answer gave {result.outcome}: {result.message}"
        assert result.message
