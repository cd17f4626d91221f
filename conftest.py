"""pytest set-up shared by unit tests and nbval."""
from __future__ import annotations

import os

# Same world as the course kernel (see tasks.py): quiet TensorFlow, no GPU probing.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


def pytest_collectstart(collector):
    """nbval compares stderr like stdout; a library's warning text is not what a notebook claims."""
    if hasattr(collector, "skip_compare") and "stderr" not in collector.skip_compare:
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)
