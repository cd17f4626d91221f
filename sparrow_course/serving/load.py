"""A bounded load test on loopback: asynchronous clients, a fixed number of requests, a time limit.

:func:`load_test` sends the given URLs (already routed to their worker by the client) and
returns every request's latency, status and the server's stage timings (its ``Server-Timing``
header). Two shapes of load, as load testers name them:

* **closed loop** (the default): ``concurrency`` clients, each sending its next request as soon
  as the last one is answered. It finds the most the service can answer; the latency it
  reports is set by the number of clients (Little's law: mean latency = clients / throughput).
* **open loop** (``rate=``): requests arrive at a fixed rate, whether or not earlier ones were
  answered, at most ``concurrency`` in flight. Each latency counts from the moment its request
  was due, so a server that falls behind shows it in its percentiles instead of slowing the
  clients down (what load testers call avoiding coordinated omission). It answers the question
  a latency target asks: at this rate, how long do requests take?

The client is a small HTTP/1.1 keep-alive client on asyncio streams (:class:`Connection`), on
uvloop's event loop. On two cores the load generator shares the CPU with the workers it
measures, so its own cost per request sets a ceiling on what can be measured: on the no-work
endpoint, ``benchmarks/bench_serving.py`` measured a general client (httpx) at a few hundred
requests a second and this one at more than ten thousand. The test runs its event loop on a thread of its own, so it
works from a notebook (whose kernel already runs one) as from a script.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..checks import check_int, check_number
from ..metrics import percentiles
from .service import STAGES

__all__ = ["Connection", "LoadResult", "load_test", "replay_trace", "stage_budget"]


@dataclass(frozen=True)
class LoadResult:
    """Per request: latency (ms), HTTP status, cache hit, and the server's ms per stage; plus the wall time.

    ``rate`` is the open loop's arrival rate (requests a second), None for a closed loop.
    """

    latency_ms: np.ndarray
    status: np.ndarray
    cached: np.ndarray
    stages: pd.DataFrame
    seconds: float
    concurrency: int
    rate: float | None = None

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


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port`` that sends GET requests, one at a time.

    ``await conn.get("/path?query")`` returns (status, headers with lower-case names, body).
    Reads bodies by Content-Length or chunked transfer; reconnects after the server closes.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, int(port), timeout
        self._request_head = f"Host: {host}:{port}\r\n\r\n".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        return await asyncio.wait_for(self._get(target), self.timeout)

    async def _get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader = self._reader
        self._writer.write(b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\n" + self._request_head)
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while (size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
                parts.append((await reader.readexactly(size + 2))[:-2])
            await reader.readuntil(b"\r\n")
            body = b"".join(parts)
        else:  # no length: the body ends when the server closes
            body = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _parse_timing(header: str | None) -> dict[str, float]:
    out = dict.fromkeys(STAGES, 0.0)
    for part in (header or "").split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name in out and rest:
            out[name] = float(rest)
    return out


def _split(urls: Sequence[str]) -> list[tuple[tuple[str, int], str]]:
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"load_test sends plain HTTP to host:port URLs, got {url!r}")
        out.append(((parts.hostname, parts.port), (parts.path or "/") + (f"?{parts.query}" if parts.query else "")))
    return out


async def _send(conn: Connection, target: str, started: float) -> tuple:
    try:
        status, headers, body = await conn.get(target)
        cached = bool(json.loads(body).get("cached", False)) if status == 200 and body[:1] == b"{" else False
        timing = headers.get("server-timing")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError):
        conn.close()
        status, timing, cached = 599, None, False
    return 1000 * (time.perf_counter() - started), status, cached, _parse_timing(timing)


async def _closed_loop(requests: list, concurrency: int, max_seconds: float) -> tuple[list, float]:
    results: list = []
    queue = iter(requests)
    deadline = time.monotonic() + max_seconds

    async def client() -> None:
        connections: dict[tuple[str, int], Connection] = {}
        try:
            for address, target in queue:
                if time.monotonic() > deadline:
                    return
                if address not in connections:
                    connections[address] = Connection(*address)
                conn = connections[address]
                results.append(await _send(conn, target, time.perf_counter()))
        finally:
            for conn in connections.values():
                conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results, time.perf_counter() - start


async def _open_loop(requests: list, rate: float, concurrency: int, max_seconds: float) -> tuple[list, float]:
    results: list = []
    idle: dict[tuple[str, int], list[Connection]] = {}
    slots = asyncio.Semaphore(concurrency)
    tasks = set()

    async def one(address, target, due: float) -> None:
        try:
            pool = idle.setdefault(address, [])
            conn = pool.pop() if pool else Connection(*address)
            results.append(await _send(conn, target, due))
            pool.append(conn)
        finally:
            slots.release()

    start = time.perf_counter()
    for i, (address, target) in enumerate(requests):
        due = start + i / rate
        if due - start > max_seconds:
            break
        while (wait := due - time.perf_counter()) > 0:  # timers have millisecond resolution: never send early
            await asyncio.sleep(wait)
        await slots.acquire()  # at most `concurrency` in flight; a late request still counts from when it was due
        task = asyncio.create_task(one(address, target, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    for pool in idle.values():
        for conn in pool:
            conn.close()
    return results, time.perf_counter() - start


def _event_loop():
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; asyncio's own loop works too, slower
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def load_test(urls: Sequence[str], *, concurrency: int = 16, max_seconds: float = 30.0,
              rate: float | None = None) -> LoadResult:
    """Send ``urls`` (at most that many requests, for at most ``max_seconds``) and time every answer.

    Closed loop (``rate=None``): ``concurrency`` clients, each waiting for its answer before the
    next request. Open loop: one request every ``1/rate`` s, at most ``concurrency`` in flight,
    each latency counted from when its request was due.
    """
    if not len(urls):
        raise ValueError("urls is empty: give the request URLs to send")
    concurrency = check_int(concurrency, "concurrency", low=1, high=1024)
    max_seconds = check_number(max_seconds, "max_seconds", low=0, include_low=False, high=600)
    if rate is not None:
        rate = check_number(rate, "rate", low=0, include_low=False, high=100_000)
    requests = _split(urls)
    box: dict = {}

    def target() -> None:
        try:
            with asyncio.Runner(loop_factory=_event_loop) as runner:
                box["out"] = runner.run(_closed_loop(requests, concurrency, max_seconds) if rate is None
                                        else _open_loop(requests, rate, concurrency, max_seconds))
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
    return LoadResult(np.array([r[0] for r in rows], dtype=float), np.array([r[1] for r in rows], dtype=int),
                      np.array([r[2] for r in rows], dtype=bool), pd.DataFrame([r[3] for r in rows], columns=STAGES),
                      seconds, concurrency, rate)


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
