"""One call that makes a run repeatable: Python, NumPy, TensorFlow and hash seeds."""
from __future__ import annotations

import os
import random
import sys
from types import ModuleType

import numpy as np

from .checks import check_seed
from .runtime import TENSORFLOW_ENV

__all__ = ["DEFAULT_SEED", "seed_everything", "import_tensorflow"]

DEFAULT_SEED = 2024


def seed_everything(seed: int = DEFAULT_SEED, *, tensorflow: bool = True) -> np.random.Generator:
    """Seed random, NumPy, TensorFlow (with deterministic ops) and PYTHONHASHSEED; return a NumPy Generator."""
    seed = check_seed(seed)
    # PYTHONHASHSEED only reaches child processes (e.g. gensim workers); this
    # interpreter's str hashes were fixed at start-up, which is why the package
    # never relies on hash() of strings for anything that must be reproducible.
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow:
        _seed_tensorflow(seed)
    return np.random.default_rng(seed)


def import_tensorflow() -> ModuleType:
    """Import TensorFlow with its C++ start-up lines (the CUDA probe) kept out of stderr.

    TensorFlow 2.21 logs "Could not find cuda drivers" through absl before
    ``TF_CPP_MIN_LOG_LEVEL`` applies, straight to file descriptor 2, where Jupyter
    stores it as a stderr output. Only that descriptor, and only during the import,
    is pointed at the null device; Python warnings and errors go through as usual.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # quiet logs only: whether TensorFlow may use a GPU is the kernel's choice (runtime.KERNEL_ENV), not the import's
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TENSORFLOW_ENV["TF_CPP_MIN_LOG_LEVEL"])
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tensorflow


def _seed_tensorflow(seed: int) -> None:
    """Seed TensorFlow/Keras and ask for deterministic kernels, importing TF only when asked."""
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except AttributeError:  # very old TensorFlow: seeds alone
        pass
