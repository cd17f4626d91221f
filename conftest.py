"""pytest set-up shared by the unit tests and nbval, so that `pytest --nbval` typed bare runs what CI runs.

- The course kernel, its environment (runtime.KERNEL_ENV: fixed str hashing, quiet TensorFlow on
  the CPU) and this checkout on PYTHONPATH reach every kernel and subprocess a test starts.
- nbval uses the course kernel and the sanitize file unless told otherwise on the command line,
  and does not compare stderr.
- Cells whose numbers come from floating-point training (tag ``nbval-tolerance``) are compared
  within the notebook's stated tolerance; everything else exactly (``tests/nbval_tolerance.py``).
- Slow tests carry markers: `tensorflow` (trains Keras models), `lab` (starts JupyterLab),
  `smoke` (runs a notebook with small parameters) and `browser` (JupyterLab in Chromium) each imply `slow`; the tests of a chapter module
  that loads TensorFlow (runtime.TENSORFLOW_MODULES) are marked `tensorflow`.
  `python3 tasks.py test --fast` (pytest -m "not slow" tests) runs the rest.
- Tests run on every core (pytest-xdist, `-n auto` from pyproject's addopts, at most 4 workers).
  `--dist loadgroup` with a group per file keeps a file's tests on one worker (a notebook's cells run
  in order in one kernel, a module's fixtures are built once), except the files with one test per
  notebook (the browser, real-shaped and smoke runs), whose notebooks spread over the workers. The
  groups go out longest first (`--no-loadscope-reorder` keeps this order), so that the workers
  finish together. `-n 0` runs in one process.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sparrow_course.runtime import KERNEL, TENSORFLOW_MODULES, apply_kernel_env

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
SLOW_MARKERS = ("tensorflow", "lab", "smoke", "browser")

sys.path.insert(0, str(ROOT / "tests"))
from nbval_tolerance import install as install_nbval_tolerance  # noqa: E402

apply_kernel_env()
install_nbval_tolerance()
# kernels started by nbval or the smoke run import sparrow_course from this checkout, as tasks.py arranges
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)


def pytest_configure(config):
    option = config.option
    if getattr(option, "nbval", False) or getattr(option, "nbval_lax", False):
        if not option.nbval_kernel_name and not getattr(option, "nbval_current_env", False):
            option.nbval_kernel_name = KERNEL
        if not option.nbval_sanitize_with:
            option.nbval_sanitize_with = str(SANITIZE)


def pytest_collectstart(collector):
    """nbval compares stderr like stdout; a library's warning text is not what a notebook claims."""
    if hasattr(collector, "skip_compare") and "stderr" not in collector.skip_compare:
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (the project's default): one worker per core, at most 4 (each may start kernels and Spark)."""
    return max(1, min(4, os.cpu_count() or 1))


#: files with one long test per notebook: each test is its own group, so the notebooks spread over the workers
PER_NOTEBOOK_FILES = ("test_browser.py", "test_real_shaped.py", "test_notebook_smoke.py")
#: the longest single group: chapter 08's Spark tests share one Spark session, so they stay together
LONGEST_FILES = ("test_spark.py",)


def _group(item) -> str:
    """The xdist group of a test: its file, or for a file of PER_NOTEBOOK_FILES the test itself."""
    file = item.nodeid.split("::", 1)[0]   # relative to the checkout
    return f"{file}::{item.name}" if item.path.name in PER_NOTEBOOK_FILES else file


def _cost(item) -> int:
    """Long groups first, so that the workers finish together: Spark, notebooks, the per-notebook runs, slow, the rest."""
    if item.path.name in LONGEST_FILES:
        return 0
    if item.path.suffix == ".ipynb":
        return 1
    if item.path.name in PER_NOTEBOOK_FILES:
        return 2
    return 3 if item.get_closest_marker("slow") else 4


def pytest_collection_modifyitems(config, items):
    tensorflow_tests = {f"test_{name.rsplit('.', 1)[-1]}.py" for name in TENSORFLOW_MODULES}
    for item in items:
        if item.path.name in tensorflow_tests:
            item.add_marker(pytest.mark.tensorflow)
        if any(item.get_closest_marker(m) for m in SLOW_MARKERS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    items.sort(key=_cost)  # stable: within a kind, collection order
