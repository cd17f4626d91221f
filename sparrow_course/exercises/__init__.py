"""Self-study exercises, one module per chapter (``ch00``, ``ch01``, ...), built on ``core``.

    from sparrow_course.exercises import ch00 as ex, ____
    ex.q1.check(my_answer)
    ex.q1.hint()
    ex.q1.solution()
    ex.progress()
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from .core import (
    CORRECT,
    ERROR,
    INCORRECT,
    NOT_ATTEMPTED,
    NOTED,
    Case,
    CaseArgs,
    CheckResult,
    ChoiceQuestion,
    FunctionQuestion,
    MultipartQuestion,
    Question,
    ThoughtQuestion,
    ValueQuestion,
    ____,
    compare,
    diagnose,
    is_placeholder,
    questions,
)

__all__ = [
    "CORRECT", "ERROR", "INCORRECT", "NOT_ATTEMPTED", "NOTED", "Case", "CheckResult",
    "CaseArgs", "ChoiceQuestion", "FunctionQuestion", "MultipartQuestion", "Question", "ThoughtQuestion", "ValueQuestion",
    "____", "compare", "diagnose", "is_placeholder", "questions", "chapters",
]


def chapters() -> dict[str, ModuleType]:
    """Every chapter's exercise module, by name (``ch00`` ...), each with a ``QUESTIONS`` dict."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch"))
    return {n: importlib.import_module(f"{__name__}.{n}") for n in names}
