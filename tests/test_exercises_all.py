"""Every question of every chapter: the reference passes, known wrong answers fail without giving the answer away,
the blank reads as not attempted, and hints, solutions and explanations are written for the question.

Chapters are discovered from ``sparrow_course/exercises/chNN.py``, so a new chapter is covered when it lands.
"""
from __future__ import annotations

import copy
import re

import pytest
from reveal import revealed

from sparrow_course.exercises import (
    CORRECT, INCORRECT, NOT_ATTEMPTED, NOTED, ChoiceQuestion, FunctionQuestion, MultipartQuestion, ThoughtQuestion,
    ValueQuestion, ____, chapters,
)
from sparrow_course.exercises.core import _few_plausible_values

CHAPTERS = chapters()
ALL = [(f"{ch}.{name}", q) for ch, mod in CHAPTERS.items() for name, q in mod.QUESTIONS.items()]
IDS = [n for n, _ in ALL]
# A question whose reference reruns a chapter's experiment on the bundled data (seconds each) says so
# (``reruns_experiment=True``): its checks are `slow`, so `tasks.py test --fast` leaves them to the full run.
MEASURED = [pytest.param(n, q, id=n, marks=[pytest.mark.slow] if q.reruns_experiment else []) for n, q in ALL]
# the texts the core falls back on when a question has none of its own: not counted as written
FALLBACKS = ("no hint for this one", "(no written solution)")


def _leaves(question):
    """A question, or each part of a multi-part question."""
    return list(question.parts.values()) if isinstance(question, MultipartQuestion) else [question]


def test_every_chapter_has_exercises():
    assert ALL, "no exercise modules found"
    for name, question in ALL:
        if question.reruns_experiment:   # the flag names a measured question, never a constant one
            measured = [leaf for leaf in _leaves(question) if isinstance(leaf, ValueQuestion) and leaf._expected_source
                        or isinstance(leaf, ChoiceQuestion) and leaf._answer_source]
            assert measured or isinstance(question, FunctionQuestion), f"{name} reruns nothing: drop reruns_experiment"
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


# --------------------------------------------------------------------------- no bisecting, hints that nudge

DIRECTION = re.compile(r"\btoo (?:high|low)\b|\b(?:higher|lower|larger|smaller) than the answer\b", re.I)


def _numeric_leaves(question):
    return [leaf for leaf in _leaves(question) if isinstance(leaf, ValueQuestion)]


def _probes(expected: float) -> list[float]:
    """Wrong answers on both sides of ``expected``, alternating, as a learner bisecting would try them."""
    step = max(abs(expected) * 0.37, 0.37)
    return [expected + step, expected - step, expected + step / 2, expected - step / 2,
            expected + step / 4, expected - step / 4]


@pytest.mark.parametrize("name,question", MEASURED)
def test_numbers_cannot_be_bisected(name, question):
    """No direction on the first wrong answer, at most one direction ever, none where the answer is one of a few."""
    for leaf in _numeric_leaves(question):
        expected = leaf.expected
        if isinstance(expected, bool) or not isinstance(expected, (int, float)) and not hasattr(expected, "__float__"):
            continue
        try:
            expected = float(expected)
        except (TypeError, ValueError):
            continue
        fresh = copy.deepcopy(leaf)
        fresh.reset()
        messages = [fresh.check(int(p) if float(expected).is_integer() else p).message for p in _probes(expected)]
        told = [m for m in messages if DIRECTION.search(m)]
        assert not DIRECTION.search(messages[0]), f"{leaf.name}: the first wrong answer is told a direction: {messages[0]}"
        assert len(told) <= 1, f"{leaf.name}: direction told {len(told)} times, so the answer can be bracketed: {told}"
        if _few_plausible_values(expected):
            assert not told, (f"{leaf.name}: its answer is one of a few values, so a direction gives it away; make it a "
                              f"ChoiceQuestion: {told}")


def test_the_bisection_test_can_fail():
    class Leaky(ValueQuestion):  # the old behaviour: a direction on every wrong answer
        def _direction_rule(self, why):
            return why
    leaky = Leaky("x?", expected=0.4321)
    leaky.name = "leaky"
    messages = [leaky.check(p).message for p in _probes(0.4321)]
    assert DIRECTION.search(messages[0]) and len([m for m in messages if DIRECTION.search(m)]) > 1
    fair = ValueQuestion("x?", expected=0.4321)
    fair.name = "fair"
    told = [m for m in (fair.check(p).message for p in _probes(0.4321)) if DIRECTION.search(m)]
    assert len(told) == 1
    small = ValueQuestion("k?", expected=7)
    small.name = "small"
    assert not [m for m in (small.check(int(p)).message for p in _probes(7.0)) if DIRECTION.search(m)]


CHOICES = [pytest.param(n, q, id=n, marks=[pytest.mark.slow] if q.reruns_experiment else [])
           for n, q in ALL if any(isinstance(leaf, ChoiceQuestion) for leaf in _leaves(q))]


@pytest.mark.parametrize("name,question", CHOICES or [pytest.param(None, None, marks=pytest.mark.skip("none yet"))])
def test_choice_questions_show_options_and_say_why_a_pick_is_wrong(name, question):
    for leaf in _leaves(question):
        if not isinstance(leaf, ChoiceQuestion):
            continue
        for key, option in leaf.options.items():
            assert f"({key}) {option}" in leaf.prompt, f"{leaf.name}: option ({key}) is not shown in the prompt"
        for key in leaf.wrong_answers:
            message = leaf.check(key).message
            assert leaf.why_wrong(key), f"{leaf.name}: option ({key}) has no reason why it is wrong (why_wrong=)"
            assert not DIRECTION.search(message), f"{leaf.name}: a choice is told a direction: {message}"
            assert leaf.options[leaf.answer] not in message.replace(str(leaf.options[key]), ""), (
                f"{leaf.name}: the message for ({key}) names the right option: {message}")


RECIPE = re.compile(r"```|`[^`]*\w+\s*=\s*[^=`][^`]*`|`[^`]*\w+\([^`]*\)\.\w+\(")


@pytest.mark.parametrize("name,question", ALL, ids=IDS)
def test_first_hints_nudge_and_only_the_last_gives_a_recipe(name, question):
    for leaf in [question, *(_leaves(question) if isinstance(question, MultipartQuestion) else [])]:
        hints = leaf.hints
        if len(hints) < 2:
            continue  # a single hint is the last one
        for i, hint in enumerate(hints[:-1], start=1):
            found = RECIPE.search(hint)
            assert not found, (f"{leaf.name}: hint {i} of {len(hints)} gives a recipe ({found.group(0)[:60]!r}); "
                               "first hints nudge (a concept, where to look), only the last may give code")


TRACE = re.compile(r"\bissues?\b|\bcommissioned\b|\bthe probe\b|\btarget was\b|\brewritten\b", re.I)


@pytest.mark.parametrize("name,question", ALL, ids=IDS)
def test_questions_speak_of_the_course_not_its_making(name, question):
    for leaf in [question, *(_leaves(question) if isinstance(question, MultipartQuestion) else [])]:
        for text in [leaf.prompt, leaf.explanation, leaf._solution or "", *leaf.hints]:
            found = TRACE.search(text)
            assert not found, f"{leaf.name}: {found.group(0)!r} belongs to the project's making: {text[:120]!r}"
