"""One call that makes a run repeatable: Python, NumPy, TensorFlow and hash seeds."""
from __future__ import annotations

import os
import random

import numpy as np

DEFAULT_SEED = 2024


def seed_everything(seed: int = DEFAULT_SEED, *, tensorflow: bool = True) -> np.random.Generator:
    """Seed random, NumPy, TensorFlow (with deterministic ops) and PYTHONHASHSEED; return a NumPy Generator."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    # PYTHONHASHSEED only reaches child processes (e.g. gensim workers); this
    # interpreter's str hashes were fixed at start-up, which is why the package
    # never relies on hash() of strings for anything that must be reproducible.
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if tensorflow:
        _seed_tensorflow(seed)
    return np.random.default_rng(seed)


def _seed_tensorflow(seed: int) -> None:
    """Seed TensorFlow/Keras and ask for deterministic kernels, importing TF only when asked."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except AttributeError:  # very old TensorFlow: seeds alone
        pass
