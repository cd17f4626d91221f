"""sparrow-course: experiments on how industrial recommender systems are served and how their recall works.

One module per chapter (``depth``, ``balancing``, ``caching``, ...) and shared pieces:
``datasets`` (the bundled SparrowLens data and real MovieLens), ``sparrowlens`` (its
generator), ``checks``, ``metrics``, ``embeddings``, ``plotting``, ``exercises``, ``runtime`` (the kernel's
name and environment), ``seed_everything`` and ``RESULTS`` (the benchmarks' stored sweeps).
"""
from __future__ import annotations

from pathlib import Path

from .seeding import DEFAULT_SEED, seed_everything

__version__ = "0.1.0"
__all__ = ["DEFAULT_SEED", "RESULTS", "seed_everything", "__version__"]

#: where the scripts in ``benchmarks/`` store the sweeps too long for a notebook, which the chapters read and draw
RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
