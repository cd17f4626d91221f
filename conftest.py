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
  Each worker and the kernels it starts get cores // workers threads for BLAS, OpenMP and
  TensorFlow (``share_cores_among_workers``), so that workers do not fight over cores.
  `--dist loadfile` keeps a file's tests on one worker, so a notebook's cells run in order in one
  kernel and a module's fixtures are built once; files go out longest first (`--no-loadscope-reorder`
  keeps that order; xdist would sort them by their number of tests), so that the workers finish
  together. `-n 0` runs in one process.
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

#: The thread pools of numpy's BLAS, OpenMP and TensorFlow, sized by these variables when a process starts.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def share_cores_among_workers(environ=os.environ) -> int | None:
    """Give each test worker's kernels and subprocesses their share of the cores: cores // workers threads each.

    With one worker per core (pytest-xdist), a kernel whose BLAS or TensorFlow starts a thread per
    core only makes two workers' threads fight over each core (measured on 2 cores: notebook 01 under
    nbval took 101 CPU-seconds with two threads and 83 with one). A variable the user set is kept;
    outside xdist nothing changes. Returns the threads given, or None.
    """
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers <= 1:
        return None
    threads = max(1, (os.cpu_count() or 1) // workers)
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    if environ is os.environ:  # this worker's own BLAS was loaded before the variables were set
        from threadpoolctl import threadpool_limits

        threadpool_limits(int(environ["OPENBLAS_NUM_THREADS"]))
    return threads


share_cores_among_workers()
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
    """`-n auto` (the project's default): one worker per core, at most 4 (each may start kernels and Spark).

    One worker more than cores was measured slower on 2 cores (1,003 s against 909 s for the suite)."""
    return max(1, min(4, os.cpu_count() or 1))


#: the longest files, longest first: each runs every notebook (or chapter 08's Spark tests, on one Spark session)
LONGEST_FILES = ("test_browser_recall.py", "test_browser.py", "test_spark.py", "test_real_shaped.py")


def _cost(item) -> int:
    """Long files first, so that the workers finish together: the longest files, notebooks, slow tests, the rest."""
    if item.path.name in LONGEST_FILES:
        return LONGEST_FILES.index(item.path.name)
    if item.path.suffix == ".ipynb":
        return len(LONGEST_FILES)
    return len(LONGEST_FILES) + (1 if item.get_closest_marker("slow") else 2)


def pytest_collection_modifyitems(config, items):
    tensorflow_tests = {f"test_{name.rsplit('.', 1)[-1]}.py" for name in TENSORFLOW_MODULES}
    for item in items:
        if item.path.name in tensorflow_tests:
            item.add_marker(pytest.mark.tensorflow)
        if any(item.get_closest_marker(m) for m in SLOW_MARKERS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_cost)  # stable: within a kind, collection order
