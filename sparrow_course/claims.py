"""Claims in code: a chapter's key statements, asserted at the knobs' defaults and reported otherwise.

Every notebook's "Claims" section gates its bounds the same way::

    from sparrow_course.claims import Claims
    claim = Claims(globals(), SEED=2024, K=20)       # the knobs the bounds were set for
    claim(gain > 0, "clusters beat popularity")      # prints "holds: ..."; at the defaults, fails if not

At the defaults a claim that does not hold raises :class:`ClaimError` with its statement, so
``pytest --nbval`` fails the day it stops being true; with a knob turned the bounds were not
set for, it is reported ("does NOT hold with these knobs: ...") and not asserted.
"""
from __future__ import annotations

from typing import Any, Mapping

from .checks import check_bool, check_str

__all__ = ["ClaimError", "Claims", "at_defaults"]


class ClaimError(AssertionError):
    """A chapter's claim that no longer holds at the default knobs: the message is the claim."""


def at_defaults(namespace: Mapping[str, Any], **defaults: Any) -> bool:
    """True when every knob named in ``defaults`` has that value in ``namespace`` (a notebook's ``globals()``)."""
    if not defaults:
        raise ValueError("name at least one knob and its default, e.g. at_defaults(globals(), SEED=2024)")
    missing = sorted(name for name in defaults if name not in namespace)
    if missing:
        raise ValueError(f"knobs {missing} are not defined: set them in the parameters cell before the claims")
    return all(_same(namespace[name], value) for name, value in defaults.items())


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, (list, tuple)) and isinstance(value, (list, tuple, range)):
        return tuple(value) == tuple(default)
    return bool(value == default)


class Claims:
    """The claims of one notebook: ``claim(holds, statement)`` asserts at the defaults and always reports."""

    def __init__(self, namespace: Mapping[str, Any], **defaults: Any) -> None:
        self.at_defaults = at_defaults(namespace, **defaults)
        self.changed = sorted(n for n, v in defaults.items() if not _same(namespace[n], v))

    def __call__(self, holds: Any, statement: str) -> None:
        """Report ``statement``; at the defaults, raise ClaimError if it does not hold."""
        check_str(statement, "statement")
        holds = check_bool(bool(holds) if hasattr(holds, "__bool__") else holds, "holds")
        if self.at_defaults and not holds:
            raise ClaimError(statement)
        print(("holds: " if holds else "does NOT hold with these knobs: ") + statement)

    def __repr__(self) -> str:
        state = "at the defaults" if self.at_defaults else f"knobs changed: {', '.join(self.changed)}"
        return f"Claims({state})"
