"""The package's shape: every module declares its public names, and only chapters that need it import TensorFlow."""
from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import pytest

import sparrow_course
from sparrow_course.runtime import TENSORFLOW_MODULES

MODULES = sorted(m.name for m in pkgutil.walk_packages(sparrow_course.__path__, "sparrow_course."))


def _undocumented(module) -> list[str]:
    """Names in ``__all__`` that are functions or classes without a docstring of their own."""
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
    return missing


def test_modules_are_found():
    assert {"sparrow_course.plotting", "sparrow_course.exercises.core", "sparrow_course.runtime",
            "sparrow_course.channels", "sparrow_course.claims"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_all_names_the_chosen_api_and_each_name_exists_and_is_documented(name):
    """``__all__`` is the API a module offers (not every definition): each name exists and says what it does."""
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{name} declares no __all__"
    assert len(declared) == len(set(declared)), f"{name}.__all__ repeats a name"
    absent = [n for n in declared if not hasattr(module, n)]
    assert not absent, f"{name}.__all__ names what the module does not have: {absent}"
    undocumented = _undocumented(module)
    assert not undocumented, f"{name}.__all__ names functions or classes without a docstring: {undocumented}"
    assert (module.__doc__ or "").strip(), f"{name} has no module docstring: say what the module is for"


def test_the_all_check_can_fail():
    import types

    module = types.ModuleType("fake")

    def bare():
        pass
    module.bare = bare
    module.__all__ = ["bare"]
    assert _undocumented(module) == ["bare"]
    bare.__doc__ = "Says what it does."
    assert _undocumented(module) == []


_PROBE = """
import importlib, json, sys
culprit = None
for name in sys.argv[1:]:
    importlib.import_module(name)
    if "tensorflow" in sys.modules:
        culprit = name
        break
print(json.dumps(culprit))
"""


@pytest.mark.slow   # imports every module in fresh interpreters, TensorFlow among them (~20 s)
def test_only_chapters_that_need_it_import_tensorflow():
    """Import every module in a fresh interpreter; one whose import loads TensorFlow must be a TensorFlow chapter."""
    remaining = [m for m in MODULES if m not in TENSORFLOW_MODULES]
    offenders = []
    while remaining:
        out = subprocess.run([sys.executable, "-c", _PROBE, *remaining], capture_output=True, text=True, check=True)
        culprit = json.loads(out.stdout.strip().splitlines()[-1])
        if culprit is None:
            break
        offenders.append(culprit)
        remaining = remaining[remaining.index(culprit) + 1:]
    assert not offenders, (f"importing {offenders} loads TensorFlow: import it inside the functions that train "
                           "(seeding.import_tensorflow()), or add the chapter to runtime.TENSORFLOW_MODULES")
    assert "tensorflow" not in subprocess.run(
        [sys.executable, "-c", "import sparrow_course, sys; print(sorted(m for m in sys.modules if m.startswith('tensorflow')))"],
        capture_output=True, text=True, check=True).stdout.replace("[]", "")


def test_tensorflow_chapters_exist():
    for name in TENSORFLOW_MODULES:
        assert importlib.util.find_spec(name) is not None, f"runtime.TENSORFLOW_MODULES names a missing module {name}"


def _literal_seed_defaults(source: str) -> list[str]:
    """Parameters called ``seed`` whose default is a number written in place (not DEFAULT_SEED)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            found += [f"{node.name}(seed={d.value})" for a, d in pairs
                      if a.arg == "seed" and isinstance(d, ast.Constant) and isinstance(d.value, int)]
    return found


def test_the_default_seed_has_one_home():
    """Every ``seed=`` default in the package is seeding.DEFAULT_SEED, so one edit reseeds the whole course."""
    from pathlib import Path

    root = Path(sparrow_course.__file__).parent
    offenders = {str(p.relative_to(root)): hits for p in sorted(root.rglob("*.py"))
                 if (hits := _literal_seed_defaults(p.read_text(encoding="utf-8")))}
    assert not offenders, f"use seeding.DEFAULT_SEED as the default seed, not a number: {offenders}"
    assert _literal_seed_defaults("def f(x, *, seed=0): pass\ndef g(seed=DEFAULT_SEED): pass") == ["f(seed=0)"]
