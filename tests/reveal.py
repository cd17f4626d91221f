"""Does a message give away an expected value? Shared by the exercises tests."""
from __future__ import annotations

import re
from typing import Any

import numpy as np


def _renderings(value: Any) -> set[str]:
    """How a value may be printed: repr and str, and for a number its rounded and percentage forms."""
    if isinstance(value, (bool, np.bool_)):
        return set()  # "True or False" names the type; a bool cannot hide behind it
    if isinstance(value, np.ndarray):
        return {np.array2string(value), repr(value), repr(value.tolist())} if value.size > 1 else _renderings(value.item())
    if isinstance(value, (int, np.integer)):
        return {str(int(value))}
    if isinstance(value, (float, np.floating)):
        v = float(value)
        forms = {repr(v), str(v), f"{v:g}"}
        for d in range(1, 7):
            forms |= {f"{v:.{d}f}", f"{round(v, d)!r}", f"{100 * v:.{d}f}", f"{100 * v:.{d}f}%"}
        forms |= {f"{100 * v:g}", f"{100 * v:g}%"}
        return {f for f in forms if re.search(r"[1-9]", f)}  # "0.00" or "0" would match anything
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return {repr(value), str(value)}
    if isinstance(value, str):
        return {value, repr(value)}
    return {repr(value)}


def revealed(expected: Any, answer: Any, message: str) -> set[str]:
    """The renderings of ``expected`` found in ``message`` that are not just the learner's own ``answer`` echoed."""
    text = message
    for own in sorted(_renderings(answer) | {repr(answer), str(answer)}, key=len, reverse=True):
        if own:
            text = text.replace(own, " ")
    found = set()
    for form in _renderings(expected):
        if re.search(r"(?<![\w.])" + re.escape(form) + r"(?![\w]|\.\d)", text):
            found.add(form)
    return found
