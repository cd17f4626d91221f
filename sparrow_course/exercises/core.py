"""The exercises core: questions with ``check``, ``hint`` and ``solution``, in the style of learntools.

A chapter's exercises live in ``sparrow_course/exercises/chNN.py`` as module-level
question objects ``q1``, ``q2``, ... A notebook uses them like this::

    from sparrow_course.exercises import ch02 as ex, ____

    def keys_moved_fraction(n):
        return ____            # the learner replaces the placeholder

    ex.q1.check(keys_moved_fraction)
    ex.q1.hint()               # first hint; ex.q1.hint(2) for the second
    ex.q1.solution()

``check`` tells four outcomes apart: not attempted (the placeholder is still there),
incorrect (which case failed, expected against got), error (the learner's code
raised; reported, not re-raised) and correct.
"""
from __future__ import annotations

import inspect
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

NOT_ATTEMPTED = "not attempted"
INCORRECT = "incorrect"
ERROR = "error"
CORRECT = "correct"
NOTED = "noted"  # a thought question has no automatic verdict

_ICONS = {NOT_ATTEMPTED: "[ ]", INCORRECT: "[x]", ERROR: "[!]", CORRECT: "[v]", NOTED: "[~]"}


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


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found: an outcome and a message for the learner."""

    outcome: str
    message: str

    @property
    def correct(self) -> bool:
        return self.outcome == CORRECT

    def __repr__(self) -> str:
        return f"{_ICONS[self.outcome]} {self.outcome.capitalize()}: {self.message}"

    def _repr_markdown_(self) -> str:
        colour = {CORRECT: "green", INCORRECT: "firebrick", ERROR: "darkorange"}.get(self.outcome, "grey")
        return f'<span style="color:{colour}">**{self.outcome.capitalize()}**</span>: {self.message}'


@dataclass(frozen=True)
class Text:
    """Markdown shown by ``hint()`` and ``solution()``; its plain repr is the text itself."""

    title: str
    body: str

    def __repr__(self) -> str:
        return f"{self.title}: {self.body}"

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**: {self.body}"


# --------------------------------------------------------------------------- comparing

def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=6, threshold=12)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(expected: Any, got: Any, *, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """Return None when ``got`` matches ``expected`` (floats within tolerance), else why not."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pd = None
    if pd is not None and isinstance(expected, (pd.Series, pd.DataFrame)):
        if not isinstance(got, type(expected)):
            return f"expected a {type(expected).__name__}, got {type(got).__name__}"
        if expected.shape != got.shape:
            return f"expected shape {expected.shape}, got {got.shape}"
        try:
            check = pd.testing.assert_frame_equal if isinstance(expected, pd.DataFrame) else pd.testing.assert_series_equal
            check(expected, got, check_dtype=False, rtol=rtol, atol=atol)
        except AssertionError as exc:
            return str(exc).splitlines()[0]
        return None
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            return f"expected {expected!r} (a bool), got {_short(got)}"
        return None if bool(got) == bool(expected) else f"expected {expected!r}, got {got!r}"
    if isinstance(expected, (int, float, np.integer, np.floating)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)):
            return f"expected the number {_short(expected)}, got {_short(got)} ({type(got).__name__})"
        e, g = float(expected), float(got)
        if math.isnan(e) and math.isnan(g):
            return None
        if math.isclose(e, g, rel_tol=rtol, abs_tol=atol):
            return None
        return f"expected {_short(expected)}, got {_short(got)} (tolerance rel {rtol:g}, abs {atol:g})"
    if isinstance(expected, np.ndarray):
        try:
            g = np.asarray(got, dtype=float if np.issubdtype(expected.dtype, np.number) else None)
        except (TypeError, ValueError):
            return f"expected an array like {_short(expected)}, got {_short(got)}"
        if g.shape != expected.shape:
            return f"expected shape {expected.shape}, got {g.shape}"
        if np.issubdtype(expected.dtype, np.number):
            ok = np.isclose(g, expected, rtol=rtol, atol=atol, equal_nan=True)
            if ok.all():
                return None
            i = tuple(int(x) for x in np.argwhere(~ok)[0])
            return f"at index {i}: expected {expected[i]!r}, got {g[i]!r} (tolerance rel {rtol:g}, abs {atol:g})"
        return None if np.array_equal(g, expected) else f"expected {_short(expected)}, got {_short(got)}"
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict, got {_short(got)} ({type(got).__name__})"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            return f"keys differ: missing {missing}, unexpected {extra}"
        for k in expected:
            why = compare(expected[k], got[k], rtol=rtol, atol=atol)
            if why:
                return f"at key {k!r}: {why}"
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple, np.ndarray)):
            return f"expected a {type(expected).__name__}, got {_short(got)} ({type(got).__name__})"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}: {_short(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            why = compare(e, g, rtol=rtol, atol=atol)
            if why:
                return f"at position {i}: {why}"
        return None
    if isinstance(expected, (set, frozenset)):
        if not isinstance(got, (set, frozenset, list, tuple)):
            return f"expected a set, got {_short(got)}"
        g = set(got)
        if g == expected:
            return None
        return f"missing {sorted(expected - g, key=repr)}, unexpected {sorted(g - expected, key=repr)}"
    return None if got == expected else f"expected {_short(expected)}, got {_short(got)}"


def _call_text(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [_short(a, 40) for a in args] + [f"{k}={_short(v, 40)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


# --------------------------------------------------------------------------- questions

@dataclass
class Case:
    """One test case for a function question: positional and keyword arguments."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class Question:
    """Base of every question: a prompt, numbered hints and a solution."""

    kind = "question"

    def __init__(self, prompt: str, *, hints: Sequence[str] = (), solution: str | None = None,
                 explanation: str = "") -> None:
        if not prompt.strip():
            raise ValueError("a question needs a non-empty prompt")
        self.prompt = textwrap.dedent(prompt).strip()
        # one line shown after a correct answer: why it is right, what it connects to
        self.explanation = textwrap.dedent(explanation).strip()
        self.hints = [textwrap.dedent(h).strip() for h in hints]
        self._solution = solution
        self.name = "question"  # set by the chapter's `questions()` registry

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.prompt.splitlines()[0][:70]}>"

    def hint(self, n: int = 1) -> Text:
        """Show hint ``n`` (1-based)."""
        if not self.hints:
            return Text("Hint", "no hint for this one: read the prompt again, then the solution if you are stuck.")
        if not isinstance(n, int) or not 1 <= n <= len(self.hints):
            raise ValueError(f"hint number must be 1..{len(self.hints)}, got {n!r}")
        more = f" (hint {n} of {len(self.hints)})" if len(self.hints) > 1 else ""
        return Text(f"Hint{more}", self.hints[n - 1])

    def solution(self) -> Text:
        """Show the reference solution."""
        return Text("Solution", self._solution_text())

    def _solution_text(self) -> str:
        return self._solution or "(no written solution)"

    def _why_right(self, message: str) -> str:
        return f"{message} {self.explanation}" if self.explanation else message

    def check(self, answer: Any = ____) -> CheckResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # used by the shared test of every chapter's exercises
    reference_answer: Any = None
    wrong_answers: Sequence[Any] = ()


class FunctionQuestion(Question):
    """Learner writes a function; it is run on test cases and compared with the reference."""

    kind = "function"

    def __init__(
        self,
        prompt: str,
        reference: Callable[..., Any],
        cases: Iterable[Case | tuple],
        *,
        hints: Sequence[str] = (),
        rtol: float = 1e-6,
        atol: float = 1e-9,
        wrong_answers: Sequence[Callable[..., Any]] = (),
        solution: str | None = None,
        explanation: str = "",
        decimals: int | None = None,
    ) -> None:
        super().__init__(prompt, hints=hints, solution=solution, explanation=explanation)
        if decimals is not None:  # "to N decimals": anything that rounds to the same value
            rtol, atol = 0.0, 0.5 * 10.0 ** -decimals + 1e-12
        self.decimals = decimals
        if not callable(reference):
            raise TypeError("reference must be a function")
        self.reference = reference
        self.cases = [c if isinstance(c, Case) else Case(tuple(c)) for c in cases]
        if not self.cases:
            raise ValueError("a function question needs at least one test case")
        self.rtol, self.atol = rtol, atol
        self.reference_answer = reference
        self.wrong_answers = list(wrong_answers)

    def _solution_text(self) -> str:
        if self._solution:
            return self._solution
        source = textwrap.dedent(inspect.getsource(self.reference))
        return f"\n```python\n{source}```"

    def check(self, answer: Any = ____) -> CheckResult:
        """Run ``answer`` on every case; report the first that differs from the reference."""
        if is_placeholder(answer):
            return CheckResult(NOT_ATTEMPTED, "replace ____ with your function, then run the check again.")
        if not callable(answer):
            return CheckResult(INCORRECT, f"expected a function, got {_short(answer)} ({type(answer).__name__}).")
        if "____" in getattr(getattr(answer, "__code__", None), "co_names", ()):
            return CheckResult(NOT_ATTEMPTED, "your function still contains ____; fill in its body.")
        name = getattr(answer, "__name__", "your function")
        for number, case in enumerate(self.cases, start=1):
            # copies, so a learner's function that mutates its input cannot spoil the reference
            expected = self.reference(*_copy(case.args), **_copy(case.kwargs))
            call = _call_text(name, case.args, case.kwargs)
            try:
                got = answer(*_copy(case.args), **_copy(case.kwargs))
            except Exception as exc:  # the learner's code raised: report it, never re-raise
                return CheckResult(ERROR, f"on case {number} of {len(self.cases)}, {call} raised {type(exc).__name__}: {exc}")
            if is_placeholder(got):
                return CheckResult(NOT_ATTEMPTED, f"{name} still returns ____; fill in its body.")
            if got is None and expected is not None:
                return CheckResult(INCORRECT, f"on case {number} of {len(self.cases)}, {call} returned None: did you forget `return`?")
            why = compare(expected, got, rtol=self.rtol, atol=self.atol)
            if why:
                return CheckResult(INCORRECT, f"on case {number} of {len(self.cases)}, {call}: {why}.")
        return CheckResult(CORRECT, self._why_right(f"{name} agrees with the reference on all {len(self.cases)} cases."))


class ValueQuestion(Question):
    """Learner computes a value (a number, a list, a choice); compared with the expected one."""

    kind = "value"

    def __init__(
        self,
        prompt: str,
        expected: Any,
        *,
        hints: Sequence[str] = (),
        rtol: float = 1e-6,
        atol: float = 1e-9,
        wrong_answers: Sequence[Any] = (),
        explanations: Mapping[Any, str] | None = None,
        solution: str | None = None,
        explanation: str = "",
        decimals: int | None = None,
    ) -> None:
        super().__init__(prompt, hints=hints, solution=solution, explanation=explanation)
        if decimals is not None:  # "to N decimals": anything that rounds to the same value
            rtol, atol = 0.0, 0.5 * 10.0 ** -decimals + 1e-12
        self.decimals = decimals
        self._expected = expected
        self.rtol, self.atol = rtol, atol
        self.wrong_answers = list(wrong_answers)
        # what a known wrong answer usually means, told to the learner who gives it
        self.explanations = dict(explanations or {})

    @property
    def expected(self) -> Any:
        """The expected value, computed on first use when given as a zero-argument function."""
        if callable(self._expected):
            self._expected = self._expected()
        return self._expected

    @property
    def reference_answer(self) -> Any:  # type: ignore[override]
        return self.expected

    def _solution_text(self) -> str:
        return self._solution or f"{_short(self.expected)}"

    def check(self, answer: Any = ____) -> CheckResult:
        """Compare ``answer`` with the expected value."""
        if is_placeholder(answer):
            return CheckResult(NOT_ATTEMPTED, "replace ____ with your answer, then run the check again.")
        why = compare(self.expected, answer, rtol=self.rtol, atol=self.atol)
        if why is None:
            return CheckResult(CORRECT, self._why_right(f"{_short(answer)} is right."))
        for wrong, explanation in self.explanations.items():
            if compare(wrong, answer, rtol=self.rtol, atol=self.atol) is None:
                return CheckResult(INCORRECT, f"{why}. {explanation}")
        return CheckResult(INCORRECT, f"{why}.")


class MultipartQuestion(Question):
    """A question of named parts, each a question of its own: ``ex.q3.a.check(...)``."""

    kind = "multipart"

    def __init__(self, prompt: str, parts: Mapping[str, Question], *, hints: Sequence[str] = (),
                 explanation: str = "") -> None:
        super().__init__(prompt, hints=hints, explanation=explanation)
        if not parts:
            raise ValueError("a multi-part question needs at least one part")
        self.parts = dict(parts)

    def __getattr__(self, item: str) -> Question:
        parts = self.__dict__.get("parts", {})
        if item in parts:
            return parts[item]
        raise AttributeError(f"no part {item!r}; parts are {sorted(parts)}")

    def _solution_text(self) -> str:
        return " ".join(f"({k}) {p._solution_text()}" for k, p in self.parts.items())

    def check(self, answer: Mapping[str, Any] | Any = ____) -> CheckResult:
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
        return CheckResult(CORRECT, f"all {len(results)} parts are right.")

    @property
    def reference_answer(self) -> dict:  # type: ignore[override]
        return {k: p.reference_answer for k, p in self.parts.items()}

    @property
    def wrong_answers(self) -> list:  # type: ignore[override]
        ref = self.reference_answer
        return [dict(ref, **{k: w}) for k, p in self.parts.items() for w in p.wrong_answers[:1]]


class ThoughtQuestion(Question):
    """An open question: ``check`` records that it was answered; ``solution`` gives the discussion."""

    kind = "thought"

    def __init__(self, prompt: str, solution: str, *, hints: Sequence[str] = (), explanation: str = "") -> None:
        super().__init__(prompt, hints=hints, solution=solution, explanation=explanation)

    def check(self, answer: Any = ____) -> CheckResult:
        """No automatic verdict: write your answer as a string, then compare with ``solution()``."""
        if is_placeholder(answer) or (isinstance(answer, str) and not answer.strip()):
            return CheckResult(NOT_ATTEMPTED, "write your answer in a string, then compare it with .solution().")
        if not isinstance(answer, str):
            return CheckResult(INCORRECT, f"write your answer as a string of text, got {type(answer).__name__}.")
        return CheckResult(NOTED, "no automatic check for a thought question; compare your answer with .solution().")

    @property
    def reference_answer(self) -> str:  # type: ignore[override]
        return self._solution or ""


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def questions(namespace: Mapping[str, Any]) -> dict[str, Question]:
    """Name and collect the questions of a chapter module: ``QUESTIONS = questions(globals())``."""
    found = {k: v for k, v in namespace.items() if isinstance(v, Question)}
    for name, q in found.items():
        q.name = name
        if isinstance(q, MultipartQuestion):
            for part, sub in q.parts.items():
                sub.name = f"{name}.{part}"
    return dict(sorted(found.items()))
