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
  answer is where that can be told without giving it away (too high or too low, a
  percentage where a fraction is asked, the wrong sign, type, length or shape, the right
  items in the wrong order) and keeps the value for ``solution()``;
- a **function question** shows the failing case's input and the expected output, as a
  unit test would: that is how one debugs. A long input is named, and
  ``ex.q2.case(3)`` returns its arguments.
"""
from __future__ import annotations

import copy
import inspect
import math
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, MutableMapping, NamedTuple, Sequence

import numpy as np

__all__ = [
    "NOT_ATTEMPTED", "INCORRECT", "ERROR", "CORRECT", "NOTED",
    "____", "is_placeholder", "CheckResult", "Text", "Progress", "CaseArgs",
    "compare", "diagnose", "Case", "Question", "FunctionQuestion", "ValueQuestion",
    "MultipartQuestion", "ThoughtQuestion", "questions",
]

NOT_ATTEMPTED = "not attempted"
INCORRECT = "incorrect"
ERROR = "error"
CORRECT = "correct"
NOTED = "noted"  # a thought question has no automatic verdict

_ICONS = {NOT_ATTEMPTED: "[ ]", INCORRECT: "[x]", ERROR: "[!]", CORRECT: "[v]", NOTED: "[~]"}
_DEFAULT_RTOL, _DEFAULT_ATOL = 1e-6, 1e-9


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
        sep = "\n" if "\n" in self.body else " "
        return f"{self.title}:{sep}{self.body}"

    def _repr_markdown_(self) -> str:
        sep = "\n\n" if "\n" in self.body else " "
        return f"**{self.title}**:{sep}{self.body}"


# --------------------------------------------------------------------------- tolerance

@dataclass(frozen=True)
class _Tolerance:
    """How close a number must be: ``decimals`` (as the prompt asks) or relative/absolute tolerances."""

    rtol: float = _DEFAULT_RTOL
    atol: float = _DEFAULT_ATOL
    decimals: int | None = None

    @classmethod
    def make(cls, rtol: float, atol: float, decimals: int | None) -> "_Tolerance":
        if decimals is not None:
            if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)) or decimals < 0:
                raise ValueError(f"decimals must be a non-negative int, got {decimals!r}")
            # "to N decimals": anything that rounds to the same value
            return cls(0.0, 0.5 * 10.0 ** -int(decimals) + 1e-12, int(decimals))
        return cls(float(rtol), float(atol), None)

    def close(self, expected: float, got: float) -> bool:
        return math.isclose(expected, got, rel_tol=self.rtol, abs_tol=self.atol)

    def describe(self) -> str:
        """The precision in words; empty when it is the near-exact default."""
        if self.decimals is not None:
            return f"to {self.decimals} decimal{'s' if self.decimals != 1 else ''}"
        if (self.rtol, self.atol) == (_DEFAULT_RTOL, _DEFAULT_ATOL):
            return ""
        if self.atol > _DEFAULT_ATOL and self.rtol <= _DEFAULT_RTOL:
            return f"within {self.atol:g}"
        return f"to a relative precision of {self.rtol:g}"


# --------------------------------------------------------------------------- comparing

def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=6, threshold=12)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _full(value: Any) -> str | None:
    """The full repr of a short input, or None when it is too long or abbreviated to show."""
    if isinstance(value, np.ndarray):
        text = "np.array(" + np.array2string(value, separator=", ", threshold=24) + ")"
    else:
        text = repr(value)
    if "\n" in text or "..." in text or len(text) > 160:
        return None
    return text


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _is_integral(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _type_name(x: Any) -> str:
    return type(x).__name__


def _kind(expected: Any) -> str:
    if isinstance(expected, (bool, np.bool_)):
        return "True or False"
    if _is_integral(expected):
        return "a whole number (int)"
    if _is_number(expected):
        return "a number"
    if isinstance(expected, str):
        return "a string"
    if isinstance(expected, tuple):
        return "a tuple"
    if isinstance(expected, list):
        return "a list"
    if isinstance(expected, (set, frozenset)):
        return "a set"
    if isinstance(expected, Mapping):
        return "a dict"
    if isinstance(expected, np.ndarray):
        return "an array"
    return f"a {_type_name(expected)}"


def _numbers_match(e: Any, g: Any, tol: _Tolerance) -> bool:
    e, g = float(e), float(g)
    if math.isnan(e) or math.isnan(g):
        return math.isnan(e) and math.isnan(g)
    if math.isinf(e) or math.isinf(g):
        return e == g
    return tol.close(e, g)


def _integer_matches(e: Any, g: Any, tol: _Tolerance) -> bool:
    """An int answer is exact; a float equal to it (3.0, or 2.9999999999 from arithmetic) counts."""
    if tol.decimals is not None or (tol.rtol, tol.atol) != (_DEFAULT_RTOL, _DEFAULT_ATOL):
        return _numbers_match(e, g, tol)  # the author asked for a tolerance: honour it
    g = float(g)
    return not math.isnan(g) and abs(g - float(e)) <= 1e-9 * max(1.0, abs(float(e)))


def _number_kind_of_wrong(e: float, g: float, tol: _Tolerance, integral: bool) -> str:
    """How number ``g`` misses ``e``, as a phrase after the learner's value, without saying ``e``."""
    if math.isnan(g):
        return "is NaN: something divided by zero or averaged nothing"
    if math.isinf(g):
        return "is infinite: something divided by zero"
    wider = _Tolerance(tol.rtol, max(tol.atol, 1e-12) * 100, None)
    if e != 0 and g != 0:
        if wider.close(100 * e, g):
            return "is 100 times too large: a percentage where a fraction is asked? Divide by 100"
        if tol.close(e, 100 * g):
            return "is 100 times too small: a fraction where a percentage is asked? Multiply by 100"
        if tol.close(e, -g):
            return "has the wrong sign"
    if integral and not float(g).is_integer():
        return "is not a whole number, and the answer is one (a count)"
    side = "too high" if g > e else "too low"
    if (tol.rtol, tol.atol) == (_DEFAULT_RTOL, _DEFAULT_ATOL) and not integral and e != 0:
        for d in range(1, 7):  # the learner rounded an answer the prompt wants unrounded
            if g == round(e, d) and g != e:
                return f"is {side}: did you round? Give it unrounded"
    precision = "" if integral else tol.describe()
    return f"is {side}" + (f" (compared {precision})" if precision else "")


def diagnose(expected: Any, got: Any, *, rtol: float = _DEFAULT_RTOL, atol: float = _DEFAULT_ATOL,
             decimals: int | None = None) -> str | None:
    """None when ``got`` matches ``expected``; otherwise what kind of wrong it is, never showing ``expected``."""
    return _diagnose(expected, got, _Tolerance.make(rtol, atol, decimals))


def _diagnose(expected: Any, got: Any, tol: _Tolerance) -> str | None:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pd = None
    if pd is not None and isinstance(expected, (pd.Series, pd.DataFrame)):
        return _diagnose_frame(expected, got, tol, pd)
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            return f"expected True or False, got {_short(got)} ({_type_name(got)})"
        return None if bool(got) == bool(expected) else f"{bool(got)!r} is not right"
    if _is_number(expected):
        if isinstance(got, str):
            return f"{got!r} is text (a str): give {_kind(expected)} without quotes"
        if not _is_number(got):
            return f"expected {_kind(expected)}, got {_short(got)} ({_type_name(got)})"
        integral = _is_integral(expected)
        if (_integer_matches if integral else _numbers_match)(expected, got, tol):
            return None
        return f"{_short(got)} {_number_kind_of_wrong(float(expected), float(got), tol, integral)}"
    if isinstance(expected, str):
        if not isinstance(got, str):
            return f"expected {_kind(expected)}, got {_short(got)} ({_type_name(got)})"
        if got == expected:
            return None
        if got.strip() == expected.strip():
            return f"{got!r} has stray spaces at its ends"
        if got.strip().lower() == expected.strip().lower():
            return f"{got!r} is right but for upper and lower case"
        return f"{_short(got)} is not the answer"
    if isinstance(expected, np.ndarray):
        return _diagnose_array(expected, got, tol)
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict, got {_short(got)} ({_type_name(got)})"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            parts = ([f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"] if missing else []) + \
                    ([f"unexpected key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}"] if extra else [])
            return "; ".join(parts)
        for k in expected:
            why = _diagnose(expected[k], got[k], tol)
            if why:
                return f"at key {k!r}: {why}"
        return None
    if isinstance(expected, (list, tuple)):
        if isinstance(got, (str, bytes)) or not isinstance(got, (list, tuple, np.ndarray)):
            return f"expected {_kind(expected)}, got {_short(got)} ({_type_name(got)})"
        if isinstance(expected, tuple) and not isinstance(got, tuple):
            # a tuple is asked for where it matters (a dict or cache key must be hashable): say so
            return f"expected a tuple (round brackets), got a {_type_name(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        whys = [_diagnose(e, g, tol) for e, g in zip(expected, got)]
        if not any(whys):
            return None
        if _same_items(expected, list(got), tol):
            return "the right items in the wrong order: check the order the question asks for"
        i = next(i for i, w in enumerate(whys) if w)
        return f"at position {i} (counting from 0): {whys[i]}"
    if isinstance(expected, (set, frozenset)):
        if isinstance(got, (str, bytes)) or not isinstance(got, (set, frozenset, list, tuple)):
            return f"expected a set, got {_short(got)} ({_type_name(got)})"
        try:
            g = set(got)
        except TypeError:
            return "the items must be hashable (numbers, strings or tuples, not lists)"
        if g == expected:
            return None
        missing, extra = len(expected - g), sorted(g - expected, key=repr)
        parts = ([f"{missing} item{'s are' if missing > 1 else ' is'} missing"] if missing else []) + \
                ([f"not in the answer: {_short(extra, 80)}"] if extra else [])
        return "; ".join(parts)
    try:
        same = bool(got == expected)
    except Exception:  # an object whose == raises or is ambiguous
        same = False
    return None if same else f"{_short(got)} is not the answer"


def _same_items(expected: Sequence, got: Sequence, tol: _Tolerance) -> bool:
    """True when ``got`` is a permutation of ``expected`` (items compared as ``_diagnose`` does)."""
    try:
        if Counter(map(repr, expected)) == Counter(map(repr, got)):
            return True
    except TypeError:  # pragma: no cover - repr always works
        pass
    if len(expected) > 200:  # item-by-item matching is quadratic; long answers are told by position instead
        return False
    left = list(got)
    for e in expected:
        j = next((j for j, g in enumerate(left) if _diagnose(e, g, tol) is None), None)
        if j is None:
            return False
        left.pop(j)
    return True


def _diagnose_array(expected: np.ndarray, got: Any, tol: _Tolerance) -> str | None:
    numeric = np.issubdtype(expected.dtype, np.number)
    try:
        g = np.asarray(got, dtype=float if numeric else None)
    except (TypeError, ValueError):
        return f"expected an array of numbers, got {_short(got, 60)} ({_type_name(got)})"
    if g.shape != expected.shape:
        return f"expected shape {expected.shape}, got {g.shape}"
    if not numeric:
        return None if np.array_equal(g, expected) else "the array's items are not the answer"
    ok = np.isclose(g, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    if ok.all():
        return None
    if g.ndim == 1 and _same_items(list(expected), list(g), tol):
        return "the right values in the wrong order"
    i = tuple(int(x) for x in np.argwhere(~ok)[0])
    why = _number_kind_of_wrong(float(expected[i]), float(g[i]), tol, False)
    return f"at index {i if len(i) > 1 else i[0]}: {_short(g[i].item())} {why}"


def _diagnose_frame(expected: Any, got: Any, tol: _Tolerance, pd: Any) -> str | None:
    kind = _type_name(expected)
    if not isinstance(got, type(expected)):
        return f"expected a {kind}, got {_type_name(got)}"
    if isinstance(expected, pd.DataFrame):
        if list(got.columns) != list(expected.columns):
            if set(got.columns) == set(expected.columns):
                return "the right columns in the wrong order"
            missing = [c for c in expected.columns if c not in got.columns]
            extra = [c for c in got.columns if c not in expected.columns]
            return "; ".join(([f"missing columns {missing}"] if missing else []) + ([f"unexpected columns {extra}"] if extra else []))
    if got.shape != expected.shape:
        return f"expected {len(expected)} rows, got {len(got)}"
    if not got.index.equals(expected.index):
        if set(got.index) == set(expected.index):
            return "the right rows in a different order: sort as the question asks"
        return "the index (row labels) differs: did you reset or set the index as the question asks?"
    columns = expected.columns if isinstance(expected, pd.DataFrame) else [None]
    for c in columns:
        e = expected[c] if c is not None else expected
        g = got[c] if c is not None else got
        where = f"column {c!r}" if c is not None else "the series"
        if pd.api.types.is_numeric_dtype(e) and pd.api.types.is_numeric_dtype(g):
            ev, gv = e.to_numpy(dtype=float), g.to_numpy(dtype=float)
            ok = np.isclose(gv, ev, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
            if not ok.all():
                r = int(np.argmax(~ok))
                return f"{where}, row {e.index[r]!r}: {_short(gv[r].item())} {_number_kind_of_wrong(ev[r], gv[r], tol, False)}"
        elif not e.equals(g):
            r = int(np.argmax((e.to_numpy() != g.to_numpy())))
            return f"{where}, row {e.index[r]!r}: {_short(g.iloc[r])} is not the answer"
    return None


def compare(expected: Any, got: Any, *, rtol: float = _DEFAULT_RTOL, atol: float = _DEFAULT_ATOL,
            decimals: int | None = None) -> str | None:
    """None when ``got`` matches ``expected``, else why not, showing the expected value (for function questions)."""
    tol = _Tolerance.make(rtol, atol, decimals)
    why = _diagnose(expected, got, tol)
    if why is None:
        return None
    precision = "" if _is_integral(expected) else tol.describe()
    return _with_reason(f"expected {_short(expected)}" + (f" ({precision})" if precision else "") + f", got {_short(got)}", got, why)


def _with_reason(told: str, got: Any, why: str) -> str:
    """'expected X, got Y' plus the kind of wrong, unless that only repeats 'too high' or 'too low'."""
    prefix = _short(got) + " "
    if why.startswith(prefix):
        rest = why[len(prefix):]
        if rest.startswith(("is too high", "is too low")) and "round" not in rest:
            return told
        return f"{told}: it {rest}"
    return f"{told}: {why}"


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
        return "\n".join([self._line()] + [f"  {_ICONS.get(o, '[-]')} {n}: {o}" for n, o in self.rows])

    def _repr_markdown_(self) -> str:
        return "\n".join([f"**{self._line()}**", ""] + [f"- `{n}`: {o}" for n, o in self.rows])


class Question:
    """Base of every question: a prompt, numbered hints, a solution and a one-line explanation."""

    kind = "question"

    def __init__(self, prompt: str, *, hints: Sequence[str] = (), solution: str | None = None,
                 explanation: str = "") -> None:
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

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.prompt.splitlines()[0][:70]}>"

    @property
    def _call_name(self) -> str:
        return f"ex.{self.name}"

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
        hints: Sequence[str] = (),
        rtol: float = _DEFAULT_RTOL,
        atol: float = _DEFAULT_ATOL,
        wrong_answers: Sequence[Callable[..., Any]] = (),
        solution: str | None = None,
        explanation: str = "",
        decimals: int | None = None,
    ) -> None:
        super().__init__(prompt, hints=hints, solution=solution, explanation=explanation)
        if not callable(reference):
            raise TypeError("reference must be a function")
        self.tolerance = _Tolerance.make(rtol, atol, decimals)
        self.decimals = decimals
        self.rtol, self.atol = self.tolerance.rtol, self.tolerance.atol
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
        hints: Sequence[str] = (),
        rtol: float = _DEFAULT_RTOL,
        atol: float = _DEFAULT_ATOL,
        wrong_answers: Sequence[Any] | Callable[[], Sequence[Any]] = (),
        explanations: Mapping[Any, str] | None = None,
        solution: str | None = None,
        explanation: str = "",
        decimals: int | None = None,
    ) -> None:
        super().__init__(prompt, hints=hints, solution=solution, explanation=explanation)
        self.tolerance = _Tolerance.make(rtol, atol, decimals)
        self.decimals = decimals
        self.rtol, self.atol = self.tolerance.rtol, self.tolerance.atol
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
        for wrong, explanation in self.explanations.items():
            try:
                matches = _diagnose(wrong, answer, self.tolerance) is None
            except Exception:
                matches = False
            if matches:
                return CheckResult(INCORRECT, f"{why}. {explanation}")
        return CheckResult(INCORRECT, f"{why}. `{self._call_name}.hint()` may help.")


class MultipartQuestion(Question):
    """A question of named parts, each a question of its own: ``ex.q3.a.check(...)``."""

    kind = "multipart"

    def __init__(self, prompt: str, parts: Mapping[str, Question], *, hints: Sequence[str] = (),
                 explanation: str = "", solution: str | None = None) -> None:
        super().__init__(prompt, hints=hints, explanation=explanation, solution=solution)
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
