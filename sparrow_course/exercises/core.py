"""The exercises core: questions with ``check``, ``hint`` and ``solution``, in the style of learntools.

A chapter's exercises live in ``sparrow_course/exercises/chNN.py`` as module-level
question objects ``q1``, ``q2``, ... A notebook uses them like this::

    from sparrow_course.exercises import ch02 as ex, ____

    def keys_moved_fraction(n):
        return ____            # the learner replaces the placeholder

    ex.q1.check(keys_moved_fraction)
    # ex.q1.hint()
    # ex.q1.hint(2)
    # ex.q1.solution()
    # ex.progress()

``check`` tells four outcomes apart: not attempted (the placeholder is still there),
incorrect, error (the learner's code raised; reported, not re-raised) and correct (with
the question's one-line explanation).

What an incorrect answer is told depends on the kind of question:

- a **value question** never shows the expected value; it says what kind of wrong the
  answer is where that can be told without giving it away (a percentage where a fraction
  is asked, the wrong sign, type, length or shape, the right items in the wrong order) and
  keeps the value for ``solution()``. "Too high" or "too low" is told once at most, never on
  the first wrong answer, and never for an answer that is one of a few values, so no number
  can be bisected;
- a **choice question** shows its options; a wrong pick is told why it is wrong;
- a **function question** shows the failing case's input and the expected output, as a
  unit test would: that is how one debugs. A long input is named, and
  ``ex.q2.case(3)`` returns its arguments.

Telling what kind of wrong an answer is lives in :mod:`.diagnosis`; this module holds the
outcomes, the placeholder and the question classes.
"""
from __future__ import annotations

import copy
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, MutableMapping, NamedTuple, Sequence

import numpy as np

from .diagnosis import (_DEFAULT_ATOL, _DEFAULT_RTOL, _diagnose, _full, _is_integral, _is_number, _short, _Tolerance,
                        _with_reason, compare, diagnose)

__all__ = [
    "NOT_ATTEMPTED", "INCORRECT", "ERROR", "CORRECT", "NOTED", "OUTCOME_ICONS",
    "____", "is_placeholder", "CheckResult", "Text", "Progress", "CaseArgs",
    "compare", "diagnose", "Case", "Question", "FunctionQuestion", "ValueQuestion", "ChoiceQuestion",
    "MultipartQuestion", "ThoughtQuestion", "questions",
]


NOT_ATTEMPTED = "not attempted"


INCORRECT = "incorrect"


ERROR = "error"


CORRECT = "correct"


NOTED = "noted"  # a thought question has no automatic verdict


#: How each outcome is marked where it is printed; ``sparrow-course progress`` reads the marks back with it.
OUTCOME_ICONS = {NOT_ATTEMPTED: "[ ]", INCORRECT: "[x]", ERROR: "[!]", CORRECT: "[v]", NOTED: "[~]"}




class _Placeholder:
    """The blank a learner fills in; an answer that still is (or returns) it was not attempted."""

    _instance: "_Placeholder | None" = None

    def __new__(cls) -> "_Placeholder":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "____"

    def __bool__(self) -> bool:
        return False


____ = _Placeholder()


def is_placeholder(value: Any) -> bool:
    """True when ``value`` is the blank ``____`` or a container holding it."""
    if value is ____:
        return True
    if isinstance(value, (list, tuple, set)):
        return any(is_placeholder(v) for v in value)
    if isinstance(value, dict):
        return any(is_placeholder(v) for v in value.values())
    return False


def _clean(text: str) -> str:
    """Text as written in a triple-quoted string, without its indentation (first line included)."""
    return inspect.cleandoc(text) if text else ""


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found: an outcome and a message for the learner."""

    outcome: str
    message: str

    @property
    def correct(self) -> bool:
        return self.outcome == CORRECT

    def __repr__(self) -> str:
        return f"{OUTCOME_ICONS[self.outcome]} {self.outcome.capitalize()}: {self.message}"

    def _repr_markdown_(self) -> str:
        colour = {CORRECT: "green", INCORRECT: "firebrick", ERROR: "darkorange"}.get(self.outcome, "grey")
        return f'<span style="color:{colour}">**{self.outcome.capitalize()}**</span>: {self.message}'


@dataclass(frozen=True)
class Text:
    """Markdown shown by ``hint()`` and ``solution()``; its plain repr is the text itself."""

    title: str
    body: str

    def __repr__(self) -> str:
        sep = "\n" if "\n" in self.body else " "
        return f"{self.title}:{sep}{self.body}"

    def _repr_markdown_(self) -> str:
        sep = "\n\n" if "\n" in self.body else " "
        return f"**{self.title}**:{sep}{self.body}"


# --------------------------------------------------------------------------- questions

@dataclass
class Case:
    """One test case for a function question: positional and keyword arguments, and an optional name."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str = ""


class CaseArgs(NamedTuple):
    """The arguments of one test case: ``args, kwargs = ex.q2.case(3)``, then ``f(*args, **kwargs)``."""

    args: tuple
    kwargs: dict

    def call(self, function: Callable[..., Any]) -> Any:
        """Call ``function`` on this case: ``ex.q2.case(3).call(my_function)``."""
        return function(*self.args, **self.kwargs)


@dataclass(frozen=True)
class Progress:
    """Which questions of a chapter were answered correctly so far in this kernel."""

    chapter: str
    rows: tuple  # (name, outcome) pairs

    def _line(self) -> str:
        done = sum(o == CORRECT for _, o in self.rows)
        return f"{self.chapter}: {done} of {len(self.rows)} questions correct so far"

    def __repr__(self) -> str:
        return "\n".join([self._line()] + [f"  {OUTCOME_ICONS.get(o, '[-]')} {n}: {o}" for n, o in self.rows])

    def _repr_markdown_(self) -> str:
        return "\n".join([f"**{self._line()}**", ""] + [f"- `{n}`: {o}" for n, o in self.rows])


class Question:
    """Base of every question: a prompt, numbered hints, a solution and a one-line explanation."""

    kind = "question"

    def __init__(self, prompt: str, *, hints: Sequence[str] = (), solution: str | None = None,
                 explanation: str = "", reruns_experiment: bool = False) -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("a question needs a non-empty prompt")
        if isinstance(hints, str):
            raise TypeError("hints must be a list of strings, not one string")
        self.prompt = _clean(prompt)
        # one line shown after a correct answer: why it is right, what it connects to
        self.explanation = _clean(explanation)
        self.hints = [_clean(h) for h in hints]
        self._solution = _clean(solution) if solution else None
        self.name = "question"  # set by the chapter's `questions()` registry
        self.outcome = NOT_ATTEMPTED  # the last check's outcome in this kernel
        self.solved = False
        # checking it reruns one of the chapter's experiments on the bundled data (seconds): the full test run
        # checks it, `tasks.py test --fast` leaves it out
        self.reruns_experiment = bool(reruns_experiment)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.prompt.splitlines()[0][:70]}>"

    def _set_tolerance(self, rtol: float, atol: float, decimals: int | None) -> None:
        """How close an answer must be: relative and absolute tolerance, or a number of decimals."""
        self.tolerance = _Tolerance.make(rtol, atol, decimals)
        self.decimals = decimals
        self.rtol, self.atol = self.tolerance.rtol, self.tolerance.atol

    @property
    def _call_name(self) -> str:
        return f"ex.{self.name}"

    def reset(self) -> None:
        """Forget this kernel's attempts (outcome, solved, what feedback was already told)."""
        self.outcome = NOT_ATTEMPTED
        self.solved = False
        for part in getattr(self, "parts", {}).values():
            part.reset()
        if hasattr(self, "_wrong_so_far"):
            self._wrong_so_far, self._direction_told = 0, False

    def hint(self, n: int = 1) -> Text:
        """Show hint ``n`` (1-based); past the last one, say so and point to the solution."""
        if not self.hints:
            return Text("Hint", f"no hint for this one: read the prompt again, then `{self._call_name}.solution()` if you are stuck.")
        count = len(self.hints)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            return Text("Hint", f"hints are numbered 1 to {count}: `{self._call_name}.hint(1)`.")
        if n > count:
            plural = "s" if count > 1 else ""
            return Text("Hint", f"this question has {count} hint{plural} only; "
                                f"`{self._call_name}.solution()` shows the answer.")
        more = f" (hint {n} of {count})" if count > 1 else ""
        return Text(f"Hint{more}", self.hints[int(n) - 1])

    def solution(self) -> Text:
        """Show the reference solution."""
        return Text("Solution", self._solution_text())

    def _solution_text(self) -> str:
        return self._solution or "(no written solution)"

    def _why_right(self, message: str) -> str:
        return f"{message} {self.explanation}" if self.explanation else message

    def check(self, answer: Any = ____) -> CheckResult:
        """Check ``answer``; the outcome is remembered for ``progress()``."""
        result = self._check(answer)
        self.outcome = result.outcome
        self.solved = self.solved or result.outcome == CORRECT
        return result

    def _check(self, answer: Any) -> CheckResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # used by the shared test of every chapter's exercises
    reference_answer: Any = None
    wrong_answers: Sequence[Any] = ()


def _source_of(function: Callable[..., Any]) -> str:
    """The source of a function as a markdown code block (a lambda's line, without its keyword)."""
    try:
        source = textwrap.dedent(inspect.getsource(function)).strip()
    except (OSError, TypeError):
        return ""
    for prefix in ("expected=", "reference="):
        if source.startswith(prefix):
            source = source[len(prefix):]
    source = source.rstrip().rstrip(",")
    return f"```python\n{source}\n```"


class FunctionQuestion(Question):
    """Learner writes a function; it is run on test cases and compared with the reference."""

    kind = "function"

    def __init__(
        self,
        prompt: str,
        reference: Callable[..., Any],
        cases: Iterable[Case | tuple],
        *,
        rtol: float = _DEFAULT_RTOL,
        atol: float = _DEFAULT_ATOL,
        wrong_answers: Sequence[Callable[..., Any]] = (),
        decimals: int | None = None,
        **question: Any,
    ) -> None:
        super().__init__(prompt, **question)   # hints, solution, explanation, reruns_experiment
        if not callable(reference):
            raise TypeError("reference must be a function")
        self._set_tolerance(rtol, atol, decimals)
        self.reference = reference
        self.cases = [c if isinstance(c, Case) else Case(tuple(c)) for c in cases]
        if not self.cases:
            raise ValueError("a function question needs at least one test case")
        self.reference_answer = reference
        self.wrong_answers = list(wrong_answers)

    def case(self, n: int) -> CaseArgs:
        """The arguments of test case ``n`` (1-based), copied: ``args, kwargs = ex.q2.case(3)``."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(self.cases):
            raise ValueError(f"case number must be 1..{len(self.cases)}, got {n!r}")
        c = self.cases[int(n) - 1]
        return CaseArgs(copy.deepcopy(tuple(c.args)), copy.deepcopy(dict(c.kwargs)))

    def _solution_text(self) -> str:
        if self._solution:
            return self._solution
        return _source_of(self.reference)

    def _case_text(self, number: int, name: str) -> str:
        """How to reproduce case ``number``: the call in full when short, else its name and ``case(n)``."""
        case = self.cases[number - 1]
        label = f"case {number} of {len(self.cases)}" + (f" ({case.name})" if case.name else "")
        parts = [_full(a) for a in case.args] + [(f"{k}={_full(v)}" if _full(v) is not None else None)
                                                 for k, v in case.kwargs.items()]
        call = f"{name}({', '.join(p for p in parts if p is not None)})"
        if None not in parts and len(call) <= 200:
            return f"{label}, {call}"
        return (f"{label} (get its arguments with `args, kwargs = {self._call_name}.case({number})`, "
                f"then call `{name}(*args, **kwargs)`)")

    def _check(self, answer: Any) -> CheckResult:
        """Run ``answer`` on every case; report the first that differs from the reference."""
        if is_placeholder(answer):
            return CheckResult(NOT_ATTEMPTED, "replace ____ with your function, then run the check again.")
        if not callable(answer):
            return CheckResult(INCORRECT, f"expected a function, got {_short(answer)} ({type(answer).__name__}).")
        if "____" in getattr(getattr(answer, "__code__", None), "co_names", ()):
            return CheckResult(NOT_ATTEMPTED, "your function still contains ____; fill in its body.")
        name = getattr(answer, "__name__", "your function")
        if name == "<lambda>":
            name = "your function"
        for number, case in enumerate(self.cases, start=1):
            # copies, so a learner's function that mutates its input cannot spoil the reference
            expected = self.reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            try:
                got = answer(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            except Exception as exc:  # the learner's code raised: report it, never re-raise
                return CheckResult(ERROR, f"on {self._case_text(number, name)}, it raised {type(exc).__name__}: {exc}")
            if is_placeholder(got):
                return CheckResult(NOT_ATTEMPTED, f"{name} still returns ____; fill in its body.")
            if got is None and expected is not None:
                return CheckResult(INCORRECT, f"on {self._case_text(number, name)}, it returned None: did you forget `return`?")
            why = _diagnose(expected, got, self.tolerance)
            if why:
                precision = "" if _is_integral(expected) else self.tolerance.describe()
                told = f"expected {_short(expected)}" + (f" ({precision})" if precision else "") + f", got {_short(got)}"
                return CheckResult(INCORRECT, f"on {self._case_text(number, name)}: {_with_reason(told, got, why)}.")
        return CheckResult(CORRECT, self._why_right(f"{name} agrees with the reference on all {len(self.cases)} cases."))


class ValueQuestion(Question):
    """Learner computes a value (a number, a list, a choice); compared with the expected one, which is never shown."""

    kind = "value"

    def __init__(
        self,
        prompt: str,
        expected: Any,
        *,
        rtol: float = _DEFAULT_RTOL,
        atol: float = _DEFAULT_ATOL,
        wrong_answers: Sequence[Any] | Callable[[], Sequence[Any]] = (),
        explanations: Mapping[Any, str] | None = None,
        decimals: int | None = None,
        direction: bool = True,
        **question: Any,
    ) -> None:
        super().__init__(prompt, **question)   # hints, solution, explanation, reruns_experiment
        self._set_tolerance(rtol, atol, decimals)
        # "too high" / "too low": told at most once, and never on the first wrong answer (see _direction_rule)
        self.direction = bool(direction)
        self._wrong_so_far = 0
        self._direction_told = False
        self._expected = expected
        self._expected_source = _source_of(expected) if callable(expected) else ""
        self.wrong_answers = wrong_answers
        # what a known wrong answer usually means, told to the learner who gives it
        self.explanations = {k: _clean(v) for k, v in (explanations or {}).items()}

    @property
    def expected(self) -> Any:
        """The expected value, computed on first use when given as a zero-argument function."""
        if callable(self._expected):
            self._expected = self._expected()
        return self._expected

    @property
    def reference_answer(self) -> Any:  # type: ignore[override]
        return self.expected

    @property  # type: ignore[override]
    def wrong_answers(self) -> list:
        """Typical wrong answers, measured on first use (like ``expected``) where given as zero-argument
        functions: each entry, or the whole list, may be one, so importing a chapter runs no experiment."""
        if self._wrong_values is None:
            listed = self._wrong() if callable(self._wrong) else self._wrong
            self._wrong_values = [w() if callable(w) else w for w in listed]
        return self._wrong_values

    @wrong_answers.setter
    def wrong_answers(self, values: Sequence[Any] | Callable[[], Sequence[Any]]) -> None:
        self._wrong, self._wrong_values = (values if callable(values) else list(values)), None

    def _solution_text(self) -> str:
        answer = self.expected
        shown = f"{answer:.{self.decimals}f}" if self.decimals is not None and _is_number(answer) else _short(answer)
        how = self._solution or (f"Computed as:\n\n{self._expected_source}" if self._expected_source else "")
        return f"`{shown}`" + (f"\n\n{how}" if how else "")

    def _check(self, answer: Any) -> CheckResult:
        """Compare ``answer`` with the expected value; say what kind of wrong it is, never what is expected."""
        if is_placeholder(answer):
            return CheckResult(NOT_ATTEMPTED, "replace ____ with your answer, then run the check again.")
        try:
            why = _diagnose(self.expected, answer, self.tolerance)
        except Exception as exc:  # an answer the comparison cannot handle is still only incorrect
            why = f"could not compare a {type(answer).__name__} with the answer ({type(exc).__name__})"
        if why is None:
            return CheckResult(CORRECT, self._why_right(f"{_short(answer)} is right."))
        why = self._direction_rule(why)
        for wrong, explanation in self.explanations.items():
            try:
                matches = _diagnose(wrong, answer, self.tolerance) is None
            except Exception:
                matches = False
            if matches:
                return CheckResult(INCORRECT, f"{why}. {explanation}")
        return CheckResult(INCORRECT, f"{why}. `{self._call_name}.hint()` may help.")


    def gives_direction(self) -> bool:
        """Whether "too high" / "too low" may ever be told: not for answers that are one of a few values."""
        if not self.direction:
            return False
        try:
            expected = self.expected
        except Exception:  # pragma: no cover - an experiment that fails is reported by check itself
            return False
        return not _few_plausible_values(expected)

    def _direction_rule(self, why: str) -> str:
        """Direction only where it cannot be bisected: never on the first wrong answer, told once at most.

        A learner told "too high" once and never again cannot narrow the answer to a bracket; one
        told "too high" then "too low" could. Answers that are one of a few values (a small count,
        a share such as 0.25/0.5/0.75) never get a direction: one hint would leave one or two to try.
        """
        self._wrong_so_far += 1
        if not _DIRECTION.search(why):
            return why
        if self.gives_direction() and self._wrong_so_far > 1 and not self._direction_told:
            self._direction_told = True
            return why
        return _DIRECTION.sub("is not right", why)


_DIRECTION = re.compile(r"\bis too (?:high|low)\b")


def _few_plausible_values(expected: Any) -> bool:
    """True for an answer a learner could guess among a few: a count up to 20, a share on a quarter grid."""
    if isinstance(expected, (bool, np.bool_)) or not _is_number(expected):
        return False
    value = float(expected)
    if value.is_integer() and abs(value) <= 20:
        return True
    return 0 <= value <= 1 and float(value * 20).is_integer()  # 0.05, 0.25, 0.5, ...: a handful of round shares


class ChoiceQuestion(Question):
    """Learner picks one of the shown options; a wrong pick is told why it is wrong, never which is right.

    For answers that are one of a few values (a count from 1 to 10, a share of 0.25, 0.5 or 0.75, a
    strategy's name): "too high" would leave one or two values to try, so the options are shown and
    the feedback teaches instead::

        q4 = ChoiceQuestion("Which blend weight gives the highest recall@10?",
                            options={"a": "0.25", "b": "0.5", "c": "0.75"}, answer="b",
                            why_wrong={"a": "...", "c": "..."})
        ex.q4.check("b")      # the option's letter; its text or value is accepted too

    ``options`` may be a list of values (lettered a, b, c, ...); ``answer`` is a letter, an option's
    value, or a zero-argument function returning one (computed on first use, as for value questions);
    ``why_wrong`` gives the reason told for every option that can be wrong (a mapping by letter, or
    a function of the letter).
    """

    kind = "choice"

    def __init__(self, prompt: str, options: Mapping[str, Any] | Sequence[Any], answer: Any, *,
                 why_wrong: Mapping[str, str] | Callable[[str], str], **question: Any) -> None:
        if isinstance(options, Mapping):
            keyed = {str(k).strip().lower(): v for k, v in options.items()}
        elif isinstance(options, (list, tuple)):
            keyed = {chr(ord("a") + i): v for i, v in enumerate(options)}
        else:
            raise TypeError("options must be a dict {letter: option} or a list of options")
        if len(keyed) < 2:
            raise ValueError("a choice question needs at least two options")
        self.options = keyed
        self._answer = answer
        self._answer_source = _source_of(answer) if callable(answer) else ""  # a measured answer: it reruns something
        if not callable(why_wrong) and not isinstance(why_wrong, Mapping):
            raise TypeError("why_wrong must be a dict {letter: reason} or a function of the letter")
        self._why_wrong = why_wrong if callable(why_wrong) else {str(k).strip().lower(): _clean(v)
                                                                 for k, v in why_wrong.items()}
        if isinstance(self._why_wrong, dict):
            unknown = sorted(set(self._why_wrong) - set(keyed))
            if unknown:
                raise ValueError(f"why_wrong names options {unknown} that are not among {sorted(keyed)}")
        listing = "\n".join(f"- ({k}) {v}" for k, v in keyed.items())
        super().__init__(f"{_clean(prompt)}\n\n{listing}", **question)

    def _key_of(self, value: Any) -> str | None:
        """The letter of an answer given as a letter, '(b)', an option's text or its value."""
        if isinstance(value, str):
            text = value.strip().lower().strip("()")
            if text in self.options:
                return text
        for key, option in self.options.items():
            try:
                if _diagnose(option, value, self.tolerance) is None:
                    return key
            except Exception:
                continue
            if isinstance(option, str) and isinstance(value, str) and option.strip().lower() == value.strip().lower():
                return key
        return None

    tolerance = _Tolerance.make(_DEFAULT_RTOL, _DEFAULT_ATOL, None)

    @property
    def answer(self) -> str:
        """The right option's letter (computed on first use when given as a function)."""
        if callable(self._answer):
            self._answer = self._answer()
        key = self._key_of(self._answer)
        if key is None:
            raise ValueError(f"the answer {self._answer!r} is not among the options {sorted(self.options)}")
        return key

    def why_wrong(self, key: str) -> str:
        """The reason told to a learner who picks option ``key`` (wrong)."""
        reason = self._why_wrong(key) if callable(self._why_wrong) else self._why_wrong.get(key, "")
        return _clean(reason) if reason else ""

    @property
    def reference_answer(self) -> str:  # type: ignore[override]
        return self.answer

    @property  # type: ignore[override]
    def wrong_answers(self) -> list:
        return [k for k in self.options if k != self.answer]

    @wrong_answers.setter
    def wrong_answers(self, values: Any) -> None:
        pass  # every other option is a wrong answer

    def _solution_text(self) -> str:
        key = self.answer
        head = f"({key}) {self.options[key]}"
        return head + (f"\n\n{self._solution}" if self._solution else "")

    def _check(self, answer: Any) -> CheckResult:
        if is_placeholder(answer):
            return CheckResult(NOT_ATTEMPTED, "replace ____ with the letter of your choice, then run the check again.")
        letters = ", ".join(f"'{k}'" for k in self.options)
        key = self._key_of(answer)
        if key is None:
            return CheckResult(INCORRECT, f"{_short(answer)} is not one of the options: answer with one of {letters}.")
        if key == self.answer:
            return CheckResult(CORRECT, self._why_right(f"({key}) is right."))
        reason = self.why_wrong(key) or f"read the options again; `{self._call_name}.hint()` may help"
        return CheckResult(INCORRECT, f"({key}) is not right: {reason}")


class MultipartQuestion(Question):
    """A question of named parts, each a question of its own: ``ex.q3.a.check(...)``."""

    kind = "multipart"

    def __init__(self, prompt: str, parts: Mapping[str, Question], *, hints: Sequence[str] = (),
                 explanation: str = "", solution: str | None = None, reruns_experiment: bool = False) -> None:
        super().__init__(prompt, hints=hints, explanation=explanation, solution=solution,
                         reruns_experiment=reruns_experiment)
        if not parts:
            raise ValueError("a multi-part question needs at least one part")
        self.parts = dict(parts)

    def __getattr__(self, item: str) -> Question:
        parts = self.__dict__.get("parts", {})
        if item in parts:
            return parts[item]
        raise AttributeError(f"no part {item!r}; parts are {sorted(parts)}")

    def hint(self, n: int = 1) -> Text:
        """The question's own hint, or, when it has none, the first hint of each part."""
        if self.hints:
            return super().hint(n)
        lines = [f"- ({k}) {p.hint(n).body}" for k, p in self.parts.items() if p.hints]
        if not lines:
            return super().hint(n)
        return Text("Hints", "\n".join(lines))

    def _solution_text(self) -> str:
        parts = "\n".join(f"- ({k}) " + p._solution_text().replace("\n", "\n  ") for k, p in self.parts.items())
        return f"{self._solution}\n\n{parts}" if self._solution else parts

    def _check(self, answer: Mapping[str, Any] | Any) -> CheckResult:
        """Check all parts at once from a dict ``{part: answer}``, or use ``q.<part>.check``."""
        if is_placeholder(answer) and not isinstance(answer, Mapping):
            return CheckResult(NOT_ATTEMPTED, f"check each part with .{'/.'.join(self.parts)}.check(...), or pass a dict of answers.")
        if not isinstance(answer, Mapping):
            return CheckResult(INCORRECT, f"expected a dict with keys {sorted(self.parts)}, got {type(answer).__name__}.")
        results = {k: p.check(answer.get(k, ____)) for k, p in self.parts.items()}
        if all(r.outcome == NOT_ATTEMPTED for r in results.values()):
            return CheckResult(NOT_ATTEMPTED, "no part attempted yet.")
        for k, r in results.items():
            if r.outcome != CORRECT:
                return CheckResult(r.outcome, f"part ({k}): {r.message}")
        return CheckResult(CORRECT, self._why_right(f"all {len(results)} parts are right."))

    @property
    def solved(self) -> bool:  # type: ignore[override]
        return all(p.solved for p in self.parts.values()) if "parts" in self.__dict__ else False

    @solved.setter
    def solved(self, value: bool) -> None:
        pass  # derived from the parts, which a learner may check one by one

    @property
    def reference_answer(self) -> dict:  # type: ignore[override]
        return {k: p.reference_answer for k, p in self.parts.items()}

    @property
    def wrong_answers(self) -> list:  # type: ignore[override]
        ref = self.reference_answer
        return [dict(ref, **{k: w}) for k, p in self.parts.items() for w in p.wrong_answers]


class ThoughtQuestion(Question):
    """An open question: ``check`` records that it was answered; ``solution`` gives the discussion."""

    kind = "thought"

    def __init__(self, prompt: str, solution: str, *, hints: Sequence[str] = (), explanation: str = "") -> None:
        super().__init__(prompt, hints=hints, solution=solution, explanation=explanation)

    def _check(self, answer: Any) -> CheckResult:
        """No automatic verdict: write your answer as a string, then compare with ``solution()``."""
        if is_placeholder(answer) or (isinstance(answer, str) and not answer.strip()):
            return CheckResult(NOT_ATTEMPTED, "write your answer in a string, then compare it with .solution().")
        if not isinstance(answer, str):
            return CheckResult(INCORRECT, f"write your answer as a string of text, got {type(answer).__name__}.")
        return CheckResult(NOTED, "no automatic check for a thought question; compare your answer with .solution().")

    @property
    def reference_answer(self) -> str:  # type: ignore[override]
        return self._solution or ""


def questions(namespace: MutableMapping[str, Any] | Mapping[str, Any]) -> dict[str, Question]:
    """Name and collect the questions of a chapter module: ``QUESTIONS = questions(globals())``.

    Given a module's ``globals()``, it also gives the module a ``progress()`` function
    (``ex.progress()`` lists which questions were answered correctly so far in this kernel) and,
    unless it has one, an ``__all__`` of its questions, ``QUESTIONS`` and ``progress``.
    """
    found = {k: v for k, v in namespace.items() if isinstance(v, Question)}
    for name, q in found.items():
        q.name = name
        if isinstance(q, MultipartQuestion):
            for part, sub in q.parts.items():
                sub.name = f"{name}.{part}"
    found = dict(sorted(found.items(), key=lambda kv: _natural(kv[0])))
    if isinstance(namespace, MutableMapping) and "progress" not in namespace:
        chapter = str(namespace.get("__name__", "exercises")).rsplit(".", 1)[-1]

        def progress() -> Progress:
            """Which of this chapter's questions were answered correctly so far in this kernel."""
            rows = []
            for n, q in found.items():
                if q.solved:
                    rows.append((n, CORRECT))
                elif isinstance(q, ThoughtQuestion) and q.outcome == NOTED:
                    rows.append((n, NOTED))
                elif isinstance(q, MultipartQuestion) and any(p.outcome != NOT_ATTEMPTED for p in q.parts.values()):
                    done = sum(p.solved for p in q.parts.values())
                    rows.append((n, INCORRECT if done == 0 else f"{done} of {len(q.parts)} parts correct"))
                else:
                    rows.append((n, q.outcome))
            return Progress(chapter, tuple(rows))

        namespace["progress"] = progress
    if isinstance(namespace, MutableMapping) and "__all__" not in namespace:
        namespace["__all__"] = [*found, "QUESTIONS", "progress"]
    return found


def _natural(name: str) -> tuple:
    """Sort q2 before q10."""
    digits = "".join(ch for ch in name if ch.isdigit())
    return (name.rstrip("0123456789"), int(digits) if digits else -1, name)
