"""Input checks at the package's public surface, one rule everywhere (as scikit-learn's ``check_scalar``).

A wrong *type* raises ``TypeError``, a wrong *value* raises ``ValueError``, and every
message names the argument, what it got and what is expected::

    >>> check_int(-3, "n_servers", low=1)
    Traceback (most recent call last):
    ValueError: n_servers must be an integer >= 1, got -3

numpy integer and float scalars are valid numbers; ``bool`` is not a number here (a
``True`` passed as a size is almost always a slip). NaN and infinity are refused unless
a check is told otherwise. Every check returns the value as a plain Python object (or a
numpy array), so callers can use what it returns.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Collection, Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MEMORY_LIMIT_BYTES",
    "check_array",
    "check_bool",
    "check_choice",
    "check_choices",
    "check_dataset",
    "check_fraction",
    "check_frame",
    "check_int",
    "check_known_ids",
    "check_memory",
    "check_number",
    "check_probability",
    "check_seed",
    "check_str",
    "check_user_ids",
    "describe",
    "UnknownIdError",
]

#: The largest single allocation a course function will attempt for a learner's request
#: (4 GiB, a sixth of the reference machine's memory); above it, a function refuses with a
#: ValueError that says how much was asked for, instead of failing in numpy with MemoryError.
MEMORY_LIMIT_BYTES = 4 * 2**30


def describe(value: Any) -> str:
    """A short, readable rendering of a bad value for an error message."""
    if isinstance(value, (str, bytes)):
        text = repr(value)
    elif isinstance(value, (bool, numbers.Number, np.generic)) or value is None:
        text = repr(value.item() if isinstance(value, np.generic) else value)
    else:
        text = f"a {type(value).__name__}"
        shape = getattr(value, "shape", None)
        if shape is not None:
            text += f" of shape {tuple(shape)}"
        return text
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _bounds_text(low: Any, high: Any, include_low: bool, include_high: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>=' if include_low else '>'} {low}")
    if high is not None:
        parts.append(f"{'<=' if include_high else '<'} {high}")
    return " and ".join(parts)


def _check_bounds(value: float, name: str, kind: str, low: Any, high: Any,
                  include_low: bool, include_high: bool) -> None:
    too_low = low is not None and (value < low if include_low else value <= low)
    too_high = high is not None and (value > high if include_high else value >= high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {kind} {_bounds_text(low, high, include_low, include_high)}, "
                         f"got {describe(value)}")


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None,
              include_low: bool = True, include_high: bool = True) -> int:
    """Return ``value`` as an int; TypeError unless an integer (not bool), ValueError outside the bounds."""
    if not _is_int(value):
        if _is_real(value) and math.isfinite(float(value)) and float(value).is_integer():
            hint = f" (write {int(value)}, not {describe(value)})"
        else:
            hint = ""
        raise TypeError(f"{name} must be an integer, got {describe(value)} of type "
                        f"{type(value).__name__}{hint}")
    value = int(value)
    _check_bounds(value, name, "an integer", low, high, include_low, include_high)
    return value


def check_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                 include_low: bool = True, include_high: bool = True,
                 allow_nan: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float; TypeError unless a real number (not bool), ValueError if NaN, inf or out of bounds."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a number, got {describe(value)} of type {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        if allow_nan:
            return value
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(value) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {value}")
    _check_bounds(value, name, "a number", low, high, include_low, include_high)
    return value


def check_fraction(value: Any, name: str, *, include_low: bool = True, include_high: bool = True) -> float:
    """Return a share in [0, 1] (ends included unless told otherwise) as a float.

    A value in (1, 100] gets a hint that it looks like a percentage.
    """
    value = check_number(value, name)
    if not ((value >= 0 if include_low else value > 0) and (value <= 1 if include_high else value < 1)):
        lo, hi = ("[" if include_low else "("), ("]" if include_high else ")")
        hint = f" (it looks like a percentage: write {value / 100:g})" if 1 < value <= 100 else ""
        raise ValueError(f"{name} must be a fraction in {lo}0, 1{hi}, got {describe(value)}{hint}")
    return value


def check_probability(value: Any, name: str) -> float:
    """Return a probability in [0, 1] as a float."""
    return check_fraction(value, name)


def check_seed(value: Any, name: str = "seed") -> int:
    """Return a seed for numpy, TensorFlow and gensim: an integer in [0, 2**32)."""
    return check_int(value, name, low=0, high=2**32, include_high=False)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a bool (numpy's included); TypeError otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)} of type {type(value).__name__}")
    return bool(value)


def check_str(value: Any, name: str, *, allow_empty: bool = False) -> str:
    """Return ``value`` if it is a str (non-empty unless allowed); TypeError or ValueError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {describe(value)} of type {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_choice(value: Any, name: str, choices: Collection[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; ValueError naming the valid ones otherwise."""
    try:
        ok = value in choices
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        listed = ", ".join(repr(c) for c in sorted(choices, key=str))
        raise ValueError(f"{name} must be one of {listed}; got {describe(value)}")
    return value


def check_memory(n_bytes: float, what: str, *, limit: int = MEMORY_LIMIT_BYTES) -> None:
    """Refuse, before allocating, a request whose estimated size exceeds ``limit`` bytes."""
    if n_bytes > limit:
        raise ValueError(f"{what} would need about {n_bytes / 2**30:.1f} GiB of memory, above the course's limit "
                         f"of {limit / 2**30:.0f} GiB (sparrow_course.checks.MEMORY_LIMIT_BYTES); "
                         "ask for a smaller size")


def check_array(value: Any, name: str, *, ndim: int | None = None, dtype: Any = float,
                allow_empty: bool = False, finite: bool = True, shape: Sequence[int | None] | None = None
                ) -> np.ndarray:
    """Return ``value`` as a numpy array of ``dtype``, checking dimensions, shape, emptiness and finiteness."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be array-like of numbers, got {describe(value)}")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of {np.dtype(dtype).name} values, got {describe(value)} "
                        f"({str(exc).splitlines()[0]})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None:
        if len(shape) != arr.ndim or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty; expected at least one value")
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} must be finite; it has {bad} NaN or infinite value(s)")
    return arr


def check_frame(frame: Any, columns: Iterable[str], name: str, *, allow_empty: bool = True) -> pd.DataFrame:
    """Return ``frame`` if it is a DataFrame with ``columns`` (and rows, unless allowed empty)."""
    columns = list(columns)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {describe(frame)}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; expected at least {columns}")
    if not allow_empty and frame.empty:
        raise ValueError(f"{name} is empty; expected at least one row")
    return frame


def check_choices(values: Any, name: str, choices: Sequence[Any], *, allow_empty: bool = False) -> list:
    """Return ``values`` as a list of distinct names, each one of ``choices``.

    A bare string is refused with a hint to wrap it in a list (``"genres"`` is a sequence of
    letters, not of names)::

        >>> check_choices(["year", "genres"], "fields", ("genres", "year", "tag"))
        ['year', 'genres']
        >>> check_choices("genres", "fields", ("genres", "year"))
        Traceback (most recent call last):
        TypeError: fields must be a list of names from ['genres', 'year'], got the string 'genres'; write ['genres']
    """
    listed = list(choices)
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of names from {listed}, got the string {values!r}; "
                        f"write [{values!r}]")
    if not isinstance(values, (list, tuple, pd.Index, np.ndarray)):
        raise TypeError(f"{name} must be a list of names from {listed}, got {describe(values)}")
    values = list(values)
    if not values and not allow_empty:
        raise ValueError(f"{name} is empty; choose at least one of {listed}")
    for value in values:
        check_choice(value, f"each of {name}", listed)
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} must not repeat a name, got {repeated} more than once")
    return values


def check_dataset(ml: Any, name: str = "ml") -> Any:
    """Return ``ml`` if it is a ``datasets.MovieLens`` (from ``load_movielens``); TypeError otherwise."""
    from .datasets import MovieLens  # here, not at the top: datasets itself validates through this module

    if not isinstance(ml, MovieLens):
        raise TypeError(f"{name} must be a MovieLens dataset (from datasets.load_movielens), got "
                        f"{describe(ml)} of type {type(ml).__name__}")
    return ml


def check_user_ids(user_ids: Any, name: str = "user_ids") -> np.ndarray:
    """Return a non-empty 1-D sequence of integer user ids as an int64 array."""
    if isinstance(user_ids, (str, bytes)) or np.ndim(user_ids) != 1:
        raise TypeError(f"{name} must be a 1-D sequence of integer user ids, got {describe(user_ids)}")
    users = np.asarray(user_ids)
    if users.size == 0:
        raise ValueError(f"{name} is empty; give at least one user id")
    if users.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer user ids, got dtype {users.dtype}")
    return users.astype(np.int64)


class UnknownIdError(KeyError, ValueError):
    """Ids that a table has no row for: a ``KeyError`` for lookups and a ``ValueError`` for argument checks."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def check_known_ids(ids: Any, known: np.ndarray, name: str, *, what: str = "unknown id(s)", hint: str = "") -> np.ndarray:
    """Positions of ``ids`` in the sorted array ``known``; UnknownIdError naming up to five ids it lacks.

    ``what`` says what a missing id is, ``hint`` what to do about it::

        >>> check_known_ids([30, 10], np.array([10, 20, 30]), "movie_ids")
        array([2, 0])
        >>> check_known_ids([40], np.array([10, 20, 30]), "movie_ids", what="movie id(s) with no vector",
        ...                 hint="train on more data")
        Traceback (most recent call last):
        sparrow_course.checks.UnknownIdError: movie_ids has 1 movie id(s) with no vector: 40; train on more data
    """
    query = np.atleast_1d(np.asarray(ids))
    if query.dtype.kind not in "iu" and query.size:
        raise TypeError(f"{name} must hold integer ids, got {describe(ids)} of dtype {query.dtype}")
    query = query.astype(np.int64)
    if len(known) == 0:
        pos = np.zeros(len(query), dtype=np.int64)
        missing = np.unique(query)
    else:
        pos = np.minimum(np.searchsorted(known, query), len(known) - 1)
        missing = np.unique(query[known[pos] != query])
    if missing.size:
        shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if missing.size > 5 else "")
        raise UnknownIdError(f"{name} has {missing.size} {what}: {shown}" + (f"; {hint}" if hint else ""))
    return pos
