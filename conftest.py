"""pytest set-up shared by the unit tests and nbval, so that `pytest --nbval` typed bare runs what CI runs.

- The course kernel, its environment (runtime.KERNEL_ENV: fixed str hashing, quiet TensorFlow on
  the CPU) and this checkout on PYTHONPATH reach every kernel and subprocess a test starts.
- nbval uses the course kernel and the sanitize file unless told otherwise on the command line,
  and does not compare stderr.
- Slow tests carry markers: `tensorflow` (trains Keras models), `lab` (starts JupyterLab),
  `smoke` (runs a notebook with small parameters) and `browser` (JupyterLab in Chromium) each imply `slow`; the tests of a chapter module
  that loads TensorFlow (runtime.TENSORFLOW_MODULES) are marked `tensorflow`.
  `python3 tasks.py test --fast` (pytest -m "not slow" tests) runs the rest.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparrow_course.runtime import KERNEL, TENSORFLOW_MODULES, apply_kernel_env

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
SLOW_MARKERS = ("tensorflow", "lab", "smoke", "browser")

apply_kernel_env()
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


def pytest_collection_modifyitems(config, items):
    tensorflow_tests = {f"test_{name.rsplit('.', 1)[-1]}.py" for name in TENSORFLOW_MODULES}
    for item in items:
        if item.path.name in tensorflow_tests:
            item.add_marker(pytest.mark.tensorflow)
        if any(item.get_closest_marker(m) for m in SLOW_MARKERS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
