"""What kind of wrong an answer is: the diagnosis behind every exercise's ``check``.

:func:`diagnose` compares an expected value with a learner's (numbers within a tolerance or
to a number of decimals, sequences, arrays, DataFrames) and says, without giving the
expected value away, how they differ: too high or too low, a percentage for a fraction, the
sign, the type, the length or shape, the right items in the wrong order.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["compare", "diagnose"]

_DEFAULT_RTOL, _DEFAULT_ATOL = 1e-6, 1e-9


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
