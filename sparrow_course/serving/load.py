"""A bounded load test on loopback: asynchronous clients, a fixed number of requests, a time limit.

:func:`load_test` sends the given URLs (already routed to their worker by the client) from
``concurrency`` asynchronous clients (httpx), at most ``len(urls)`` requests and for at most
``max_seconds``, and returns every request's latency, status and the server's stage timings
(its ``Server-Timing`` header). It runs its event loop on a thread of its own, so it works
from a notebook (whose kernel already runs one) as from a script.
"""
from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..checks import check_int, check_number
from ..metrics import percentiles
from .service import STAGES

__all__ = ["LoadResult", "load_test", "replay_trace", "stage_budget"]


@dataclass(frozen=True)
class LoadResult:
    """Per request: latency (ms), HTTP status, cache hit, and the server's ms per stage; plus the wall time."""

    latency_ms: np.ndarray
    status: np.ndarray
    cached: np.ndarray
    stages: pd.DataFrame
    seconds: float
    concurrency: int

    @property
    def throughput(self) -> float:
        """Requests answered per second of wall time."""
        return len(self.latency_ms) / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> dict[str, float]:
        """requests, throughput (req/s), p50/p95/p99 (ms), share of errors, hit ratio."""
        p = percentiles(self.latency_ms) if len(self.latency_ms) else {"p50": np.nan, "p95": np.nan, "p99": np.nan}
        return {"requests": float(len(self.latency_ms)), "req/s": self.throughput, "p50 ms": p["p50"],
                "p95 ms": p["p95"], "p99 ms": p["p99"], "errors": float(np.mean(self.status != 200)),
                "hit ratio": float(np.mean(self.cached))}


def _parse_timing(header: str | None) -> dict[str, float]:
    out = dict.fromkeys(STAGES, 0.0)
    for part in (header or "").split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name in out and rest:
            out[name] = float(rest)
    return out


async def _run(urls: Sequence[str], concurrency: int, max_seconds: float) -> tuple[list, float]:
    import httpx

    results: list = []
    queue = iter(enumerate(urls))
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        async def user() -> None:
            for _, url in queue:
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    status, timing = response.status_code, response.headers.get("server-timing")
                    cached = bool(response.json().get("cached", False)) if status == 200 else False
                except httpx.HTTPError:
                    status, timing, cached = 599, None, False
                results.append((1000 * (time.perf_counter() - start), status, cached, _parse_timing(timing)))

        start = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return results, time.perf_counter() - start


def load_test(urls: Sequence[str], *, concurrency: int = 16, max_seconds: float = 30.0) -> LoadResult:
    """Send ``urls`` (at most that many requests, at most ``max_seconds``) from ``concurrency`` async clients."""
    if not len(urls):
        raise ValueError("urls is empty: give the request URLs to send")
    concurrency = check_int(concurrency, "concurrency", low=1, high=1024)
    max_seconds = check_number(max_seconds, "max_seconds", low=0, include_low=False, high=600)
    box: dict = {}

    def target() -> None:
        try:
            box["out"] = asyncio.run(_run(list(urls), concurrency, max_seconds))
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="load-test")
    thread.start()
    thread.join(max_seconds + 30)
    if "error" in box:
        raise box["error"]
    if "out" not in box:
        raise TimeoutError(f"the load test did not finish within {max_seconds + 30:g} s")
    rows, seconds = box["out"]
    return LoadResult(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                      np.array([r[2] for r in rows], dtype=bool), pd.DataFrame([r[3] for r in rows], columns=STAGES),
                      seconds, concurrency)


def stage_budget(result: LoadResult) -> pd.DataFrame:
    """Where the time goes: mean ms per request in each server stage, the rest (HTTP, queueing, client), and shares."""
    stages = result.stages.mean()
    rest = max(0.0, float(np.mean(result.latency_ms)) - float(stages.sum()))
    table = pd.DataFrame({"ms per request": list(stages.to_numpy()) + [rest]},
                         index=pd.Index(list(STAGES) + ["HTTP, queue and client"], name="stage"))
    table["share"] = table["ms per request"] / table["ms per request"].sum()
    return table


def replay_trace(recommender, requests: Sequence[dict], times: Sequence[float], *, time_scale: float,
                 size: int = 10, max_seconds: float = 60.0) -> pd.DataFrame:
    """Replay trace requests through ``recommender`` (and its cache) in real time, ``time_scale`` s per trace second.

    Each request waits until its scaled arrival time (never sleeps when behind); returns per
    request ``hit`` and ``arrived`` (the actual arrival, in trace seconds), so a TTL replay of
    chapter 03 can be run on exactly the times the cache saw. Bounded by ``max_seconds``.
    """
    scale = check_number(time_scale, "time_scale", low=0, include_low=False)
    times = np.asarray(times, dtype=float)
    if len(times) != len(requests):
        raise ValueError(f"times has {len(times)} entries but requests {len(requests)}")
    rows = []
    origin = time.monotonic()
    t0 = float(times[0]) if len(times) else 0.0
    for request, t in zip(requests, times):
        wait = origin + (t - t0) * scale - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        if now - origin > max_seconds:
            break
        _, hit, _ = recommender.recommend_request(request, size)
        rows.append({"hit": hit, "arrived": t0 + (now - origin) / scale})
    return pd.DataFrame(rows, columns=["hit", "arrived"])
