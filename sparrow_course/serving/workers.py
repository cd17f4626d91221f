"""Worker processes on free loopback ports, and client-side routing over chapter 02's consistent-hash ring.

Each worker is a separate Python process running uvicorn with the app of a pickled
:class:`~.service.Recommender` and its own in-process TTL cache (or a shared Redis). Routing is
done by the client, as Redis cluster clients do: the client holds the ring
(``balancing.ConsistentHashRing``) and sends a user's request straight to the worker that owns
the user's key. With one cache per worker that is what keeps a user's cached list useful; a
dispatcher process would add a hop and a process to the latency budget for no gain here.

Process management leaves nothing behind: :class:`WorkerPool` is a context manager, stops
every worker it started (terminate, then kill after a bounded wait) on exit, on error and at
interpreter exit, and a worker whose parent dies exits by itself (it polls its parent).
"""
from __future__ import annotations

import argparse
import atexit
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from ..balancing import ConsistentHashRing
from ..checks import check_int, check_number
from ..seeding import DEFAULT_SEED

__all__ = ["Worker", "WorkerPool", "free_port", "pid_alive", "start_worker"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie waiting to be reaped)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class Worker:
    """One service process on ``127.0.0.1:port``; :meth:`stop` ends it (and waits for it)."""

    def __init__(self, name: str, process: subprocess.Popen, port: int) -> None:
        self.name, self.process, self.port = name, process, port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate, wait up to ``timeout`` s, then kill: the process is gone when this returns."""
        _stop(self.process, timeout)

    def __repr__(self) -> str:
        return f"Worker({self.name!r}, {self.url}, {'alive' if self.alive() else 'stopped'})"


def _stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _wait_ready(worker: Worker, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            err = worker.process.stderr.read().decode(errors="replace")[-800:] if worker.process.stderr else ""
            raise RuntimeError(f"worker {worker.name} exited with code {worker.process.returncode} before serving:"
                               f"\n{err}")
        try:
            if httpx.get(worker.url + "/health", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    worker.stop()
    raise TimeoutError(f"worker {worker.name} did not answer on {worker.url} within {timeout:g} s")


def _spawn(model_path: str | os.PathLike, name: str, *, ttl: float = 600.0, redis_socket: str | None = None,
           port: int | None = None) -> Worker:
    """Start a worker process (not yet waiting for it to answer)."""
    port = free_port() if port is None else check_int(port, "port", low=1, high=65535)
    cmd = [sys.executable, "-m", "sparrow_course.serving.workers", "--model", str(model_path), "--port", str(port),
           "--name", name, "--ttl", repr(float(ttl)), "--parent", str(os.getpid())]
    if redis_socket:
        cmd += ["--redis", redis_socket]
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=env)
    return Worker(name, process, port)


def start_worker(model_path: str | os.PathLike, name: str, *, ttl: float = 600.0, redis_socket: str | None = None,
                 port: int | None = None, timeout: float = 60.0) -> Worker:
    """Start one worker process serving the pickled recommender at ``model_path``; return once it answers."""
    worker = _spawn(model_path, name, ttl=ttl, redis_socket=redis_socket, port=port)
    try:
        _wait_ready(worker, timeout)
    except BaseException:
        worker.stop()
        raise
    return worker


def _stop_all(processes: list) -> None:
    for process in list(processes):
        _stop(process)
    processes.clear()


class WorkerPool:
    """Several workers behind a consistent-hash ring held by the client.

    ``with WorkerPool(recommender, n_workers=3) as pool: pool.url_for(user_id)``;
    ``pool.add_worker()`` starts one more and puts it on the ring. Workers are named
    ``worker-0``, ``worker-1``, ...; ``vnodes`` and ``seed`` are the ring's (chapter 02).
    """

    def __init__(self, recommender: Any, n_workers: int = 2, *, ttl: float = 600.0, redis_socket: str | None = None,
                 vnodes: int = 160, seed: int = DEFAULT_SEED, names: list[str] | None = None,
                 timeout: float = 60.0) -> None:
        n = check_int(n_workers, "n_workers", low=1, high=16)
        self.ttl = check_number(ttl, "ttl", low=0, include_low=False)
        self.redis_socket, self.timeout = redis_socket, timeout
        self._dir = tempfile.TemporaryDirectory(prefix="sparrow-workers-")
        self.model_path = Path(self._dir.name) / "recommender.pkl"
        with open(self.model_path, "wb") as f:
            pickle.dump(recommender, f, protocol=pickle.HIGHEST_PROTOCOL)
        self.workers: dict[str, Worker] = {}
        self._processes: list = []
        self._finalizer = weakref.finalize(self, _stop_all, self._processes)
        atexit.register(self._finalizer)
        self.names = list(names) if names is not None else [f"worker-{i}" for i in range(n)]
        if len(self.names) != n:
            raise ValueError(f"names must give {n} worker names, got {len(self.names)}")
        self.ring = ConsistentHashRing([], vnodes=vnodes, seed=seed)
        try:
            self._start(*self.names)
        except BaseException:
            self.close()
            raise

    def _start(self, *names: str) -> Worker:
        """Start workers in parallel (their start-up is mostly loading the model), then wait for each to answer."""
        started = []
        for name in names:
            worker = _spawn(self.model_path, name, ttl=self.ttl, redis_socket=self.redis_socket)
            self._processes.append(worker.process)
            started.append(worker)
        for worker in started:
            _wait_ready(worker, self.timeout)
            self.workers[worker.name] = worker
            self.ring.add(worker.name)
        return started[-1]

    def add_worker(self, name: str | None = None) -> Worker:
        """Start one more worker (a cold cache) and put it on the ring: only the keys next to its points move."""
        return self._start(name or f"worker-{len(self.workers)}")

    def owner(self, key: int) -> str:
        """The worker that owns ``key`` (a user id) on the ring."""
        return self.ring.pick(key=int(key))

    def url_for(self, key: int) -> str:
        """The base URL of the worker that owns ``key``."""
        return self.workers[self.owner(key)].url

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers.values()]

    def stats(self) -> dict[str, dict]:
        """Each worker's /stats: cache hits, misses, lists computed."""
        import httpx

        return {name: httpx.get(w.url + "/stats", timeout=5).json() for name, w in self.workers.items()}

    def close(self) -> None:
        """Stop every worker (bounded waits) and remove the pickled model."""
        self._finalizer()
        self.workers.clear()
        self._dir.cleanup()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- the worker process

def _watch_parent(parent: int) -> None:
    """Exit when the process that started this worker is gone (so a killed notebook leaves no worker)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def main(argv: list[str] | None = None) -> None:
    """Run one worker: ``python -m sparrow_course.serving.workers --model PATH --port P --name N --ttl T``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--ttl", type=float, default=600.0)
    parser.add_argument("--redis", default=None, help="Unix socket of a running Redis to share")
    parser.add_argument("--parent", type=int, default=None)
    args = parser.parse_args(argv)
    import uvicorn

    from .app import make_app
    from .cache import LocalTTLCache, RedisCache

    with open(args.model, "rb") as f:
        recommender = pickle.load(f)
    recommender.cache = RedisCache(args.ttl, socket=args.redis) if args.redis else LocalTTLCache(args.ttl)
    if args.parent:
        threading.Thread(target=_watch_parent, args=(args.parent,), daemon=True).start()
    uvicorn.run(make_app(recommender, name=args.name), host=HOST, port=args.port, log_level="warning",
                access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
