"""Fixed 64-bit hashes: the same key lands on the same node in every process and on every machine.

Python's built-in ``hash()`` of a string changes with ``PYTHONHASHSEED``, so a load balancer
built on it would send a user to a different node after every restart. Integer keys (user
and item ids) go through splitmix64, a fast, well-mixed 64-bit finaliser that numpy can apply
to a million keys at once; strings (node names, virtual-node labels) go through BLAKE2b.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Iterable

import numpy as np

__all__ = [
    "hash_keys",
    "hash_stream",
    "splitmix64",
    "stable_hash",
    "unit_interval",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray | Iterable[int] | int) -> np.ndarray:
    """splitmix64 finaliser applied elementwise to unsigned 64-bit integers (wrapping arithmetic)."""
    z = np.atleast_1d(np.asarray(x)).astype(np.uint64, copy=True)
    z += _GOLDEN
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def stable_hash(text: str, salt: int = 0) -> int:
    """A 64-bit hash of a string that never changes between runs (BLAKE2b, 8-byte digest)."""
    if not isinstance(text, str):
        raise TypeError(f"stable_hash hashes strings, got {type(text).__name__}")
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, salt=_salt_bytes(salt)).digest()
    return int.from_bytes(digest, "little")


@functools.lru_cache(maxsize=64)
def _salt_bytes(salt: int) -> bytes:
    return int(salt % 2**64).to_bytes(8, "little") + bytes(8)


def hash_keys(keys: Iterable | np.ndarray | int | str, salt: int = 0) -> np.ndarray:
    """Hash request keys (ints or strings) to uniform uint64 values; ``salt`` gives an independent hash."""
    if isinstance(keys, (str, bytes)) or np.isscalar(keys):
        keys = [keys]
    arr = np.asarray(keys)
    if arr.ndim != 1:
        raise ValueError(f"keys must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        raw = arr.astype(np.uint64)  # negative ids wrap to large unsigned values: still one key, one hash
    elif arr.dtype.kind in "USO":
        raw = np.fromiter((_one_key(k) for k in arr.tolist()), dtype=np.uint64, count=arr.size)
    elif arr.size == 0:
        raw = np.zeros(0, dtype=np.uint64)
    else:
        raise TypeError(f"keys must be integers or strings, got an array of {arr.dtype}")
    if salt:
        raw = raw ^ splitmix64(np.uint64(salt % 2**64))[0]
    return splitmix64(raw)


def _one_key(key: object) -> int:
    if isinstance(key, str):
        return stable_hash(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return key % 2**64
    raise TypeError(f"keys must be integers or strings, got {key!r} ({type(key).__name__})")


def hash_stream(seed: int, count: int) -> np.ndarray:
    """``count`` well-mixed 64-bit values derived from one 64-bit seed (the splitmix64 sequence)."""
    steps = np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
    return splitmix64(np.uint64(seed % 2**64) + steps - _GOLDEN)


def unit_interval(h: np.ndarray) -> np.ndarray:
    """Map uint64 hashes to floats strictly inside (0, 1)."""
    return (np.asarray(h, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * 2.0**-53 + 2.0**-54
