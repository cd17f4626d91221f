"""The world every course process runs in: the kernel's name and its environment.

One home for both, read by the notebook runner, pytest (``conftest.py``), ``tasks.py``
and ``seeding.import_tensorflow``. Standard library only, and free of package-relative
imports, so ``tasks.py`` can load this file before the package's dependencies are installed.
"""
from __future__ import annotations

import os
from typing import MutableMapping

__all__ = ["KERNEL", "KERNEL_DISPLAY_NAME", "TENSORFLOW_ENV", "KERNEL_ENV", "TENSORFLOW_MODULES", "apply_kernel_env"]

KERNEL = "sparrow-course"
KERNEL_DISPLAY_NAME = "Python (sparrow-course)"
# TensorFlow quiet on stderr (its C++ logs would be stored as notebook outputs) and no GPU probing:
# the course's results are computed on the CPU, so they agree from machine to machine.
TENSORFLOW_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
# The course kernel carries these, so JupyterLab, nbval and the notebook runner see the same world;
# PYTHONHASHSEED fixes str hashing in the kernel and in every process it starts.
KERNEL_ENV = {"PYTHONHASHSEED": "0", **TENSORFLOW_ENV}
# The chapter modules that load TensorFlow when imported (their models are Keras models). Any other
# module must not import it (a test checks each in a fresh interpreter), and the tests of these are slow.
TENSORFLOW_MODULES = ("sparrow_course.depth",)


def apply_kernel_env(environ: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Put the kernel's environment into ``environ`` (default ``os.environ``), so processes started from it share it."""
    environ = os.environ if environ is None else environ
    environ.update(KERNEL_ENV)
    return environ
