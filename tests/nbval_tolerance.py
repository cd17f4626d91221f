"""Numbers that come out of floating-point training are compared within a stated tolerance; all else exactly.

TensorFlow (and threaded BLAS, gensim, Spark) give results that differ in their last bits from
CPU to CPU, and any rounding has boundaries that such a change can cross: a stored 0.76 comes
back as 0.77 on another machine while every claim still holds. nbval compares outputs digit for
digit, so this module teaches it one thing more, for the cells that ask for it:

- A code cell opts in with the tag ``nbval-tolerance``; it then uses the notebook's stated
  tolerance, ``metadata.nbval.tolerance`` of the notebook, or :data:`DEFAULT_TOLERANCE` when the
  notebook states none. A cell may state its own in its metadata, ``metadata.nbval.tolerance``
  (which implies the opt-in). A tolerance is ``{"abs": a, "rel": r}``.
- In such a cell the text outputs (``text/plain``, ``text/markdown``, ``text/html`` and streams)
  are split into numbers and the text between them. The text must be identical (but for how
  wide a run of spaces is: a table's columns widen when a number gains a digit); each pair of
  numbers (stored ``s``, fresh ``f``) must satisfy ``|f - s| <= abs + rel * |s| + unit``, where
  ``unit`` is one unit of the last printed digit of a rounded number (``0.01`` for ``0.76``):
  two values within ``abs + rel * |s|`` of each other may print one unit apart after rounding.
  Integers as printed (a depth, a count) get no such unit: they may be discrete by nature.
  Percentages are compared as the numbers printed (``89%`` is 89).
- Everything else (other cells, the number and kind of outputs, every word) is compared by nbval
  exactly, as before.

Numbers inside words (``q1``, ``ch05``, ``x2``) are text, not numbers, so names never pass as
"close".

nbval also runs every notebook under a numerical set-up other than the one that executed it
(:data:`PERTURBED_SET_UP`: TensorFlow without oneDNN's fused kernels, OpenBLAS on its baseline
x86-64 kernels), as another CPU would: a cell whose training numbers move but carry no tolerance
fails on the contributor's own machine, not on a learner's. Both are installed by the project's
``conftest.py`` (:func:`install`), so a bare ``pytest --nbval`` uses them too.
"""
from __future__ import annotations

import math
import os
import platform
import re
from typing import Any, Callable, Mapping

__all__ = ["DEFAULT_TOLERANCE", "TOLERANCE_TAG", "NUMBER", "PERTURBED_SET_UP", "tolerance_of", "numbers_agree",
           "align_outputs", "without_streams", "install"]

TOLERANCE_TAG = "nbval-tolerance"
#: The project's stated tolerance for outputs of floating-point training: AUC, log loss and rates
#: (all in [0, 1]) move by at most a few thousandths from CPU to CPU. A cell that prints counts
#: derived from training (steps to converge, clicks a day) states its own relative tolerance.
DEFAULT_TOLERANCE = {"abs": 0.003, "rel": 0.0}
#: a number as the notebooks print them: sign, thousands separators, decimals, exponent. Not a
#: digit glued to a letter, underscore or dot before it (identifiers such as q1 or ch05 stay text);
#: a unit after it (1.4x, 150s) is text.
NUMBER = re.compile(r"(?<![\w.])([-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_TEXT_KEYS = ("text/plain", "text/markdown", "text/html")
_SPACES = re.compile(r"[ \t]+")
#: The environment of nbval's kernels: valid on every machine, and numerically not the default.
#: oneDNN off changes how TensorFlow sums; OpenBLAS's Prescott kernels (SSE3, which every x86-64
#: CPU has) change how numpy, scipy and gensim sum, as an older or newer CPU would.
PERTURBED_SET_UP = {"TF_ENABLE_ONEDNN_OPTS": "0",
                    **({"OPENBLAS_CORETYPE": "Prescott"} if platform.machine().lower() in ("x86_64", "amd64") else {})}


def tolerance_of(cell_metadata: Mapping[str, Any], notebook_metadata: Mapping[str, Any]) -> dict | None:
    """The tolerance a cell's numbers are compared with, or None when the cell compares exactly."""
    own = (cell_metadata.get("nbval") or {}).get("tolerance")
    if own is None and TOLERANCE_TAG not in (cell_metadata.get("tags") or []):
        return None
    stated = own if own is not None else (notebook_metadata.get("nbval") or {}).get("tolerance", DEFAULT_TOLERANCE)
    tolerance = {"abs": float(stated.get("abs", 0.0)), "rel": float(stated.get("rel", 0.0))}
    if set(stated) - {"abs", "rel"} or min(tolerance.values()) < 0 or not all(map(math.isfinite, tolerance.values())):
        raise ValueError(f"an nbval tolerance is {{'abs': a, 'rel': r}} with finite a, r >= 0; got {dict(stated)!r}")
    return tolerance


def _value(text: str) -> float:
    return float(text.replace(",", "").replace("\u2212", "-"))


def _unit(text: str) -> float:
    """One unit of the last printed digit of a rounded number (``0.01`` for ``0.76``); 0 for an integer.

    An integer as printed (a depth, a count, a rank) may be discrete by nature, so it gets no
    rounding allowance: it must agree within ``abs + rel * |s|`` alone.
    """
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals) if decimals or exponent else 0.0


def numbers_agree(stored: str, fresh: str, tolerance: Mapping[str, float]) -> bool:
    """True when ``fresh`` reads as ``stored`` with every number within ``tolerance`` (see the module docstring)."""
    if stored == fresh:
        return True
    a, b = NUMBER.split(stored), NUMBER.split(fresh)
    # even places: the text between numbers, compared exactly but for the width of runs of spaces
    # (a table's columns widen by one when a number gains a minus sign)
    if len(a) != len(b) or [_SPACES.sub(" ", t) for t in a[0::2]] != [_SPACES.sub(" ", t) for t in b[0::2]]:
        return False
    for s, f in zip(a[1::2], b[1::2]):
        allowed = tolerance["abs"] + tolerance["rel"] * abs(_value(s))
        if allowed > 0:  # values within `allowed` of each other may print up to one unit further apart
            allowed += max(_unit(s), _unit(f))
        if abs(_value(f) - _value(s)) > allowed + 1e-12:
            return False
    return True


def align_outputs(fresh: list, stored: list, tolerance: Mapping[str, float],
                  clean: Callable[[str], str] = lambda text: text) -> list:
    """``fresh`` outputs with each text that agrees with its stored counterpart replaced by the stored text.

    Outputs pair up in order; those that do not pair (a different count or kind) are left as they
    are, so nbval reports the difference as it always does. ``clean`` is applied to both texts
    before they are compared (nbval's sanitize patterns).
    """
    if len(fresh) != len(stored):
        return fresh
    aligned = []
    for new, old in zip(fresh, stored):
        new = _copy(new)
        if new.get("output_type") != old.get("output_type"):
            aligned.append(new)
            continue
        if "text" in new and "text" in old and numbers_agree(clean(_joined(old["text"])), clean(_joined(new["text"])), tolerance):
            new["text"] = old["text"]
        for key in _TEXT_KEYS:
            if key in new.get("data", {}) and key in old.get("data", {}) and \
                    numbers_agree(clean(_joined(old["data"][key])), clean(_joined(new["data"][key])), tolerance):
                new["data"][key] = old["data"][key]
        aligned.append(new)
    return aligned


def without_streams(outputs: list, names) -> list:
    """``outputs`` without the stream outputs (``stdout``, ``stderr``) whose name is in ``names``."""
    return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") in tuple(names or ()))]


def _joined(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else text


def _copy(output: Mapping) -> Mapping:
    """A copy of one output that may be edited without touching the original (nbval's own node type kept)."""
    from nbformat import from_dict

    return from_dict({key: dict(value) if key == "data" else value for key, value in output.items()})


def install() -> None:
    """Make nbval start its kernels in :data:`PERTURBED_SET_UP` and compare each cell within its tolerance (idempotent)."""
    from nbval.plugin import IPyNbCell, IPyNbFile

    if getattr(IPyNbCell.compare_outputs, "_sparrow_tolerance", False):
        return
    exact, start = IPyNbCell.compare_outputs, IPyNbFile.setup

    def setup(self):
        saved = {name: os.environ.get(name) for name in PERTURBED_SET_UP}
        os.environ.update(PERTURBED_SET_UP)
        try:
            start(self)  # the kernel inherits this environment; the test process itself keeps its own
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def compare_outputs(self, test, ref, skip_compare=None):
        tolerance = tolerance_of(self.cell.metadata, self.parent.nb.metadata)
        if tolerance is not None:
            # streams nbval does not compare (stderr: a library's message from a worker thread) must not
            # shift the pairing of the outputs it does compare
            skipped = skip_compare or self.parent.skip_compare
            test, ref = without_streams(test, skipped), without_streams(ref, skipped)
            test = align_outputs(test, ref, tolerance, clean=self.sanitize)
        return exact(self, test, ref, skip_compare)

    compare_outputs._sparrow_tolerance = True
    compare_outputs.__doc__ = exact.__doc__
    IPyNbCell.compare_outputs = compare_outputs
    IPyNbFile.setup = setup
