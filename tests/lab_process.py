"""Helpers the JupyterLab tests share: a free loopback port, stopping a server's whole process group, the browser."""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess

#: The system's Chromium (Debian's ``chromium``; Playwright's own browser download is not used).
CHROMIUM = next((p for p in (os.environ.get("SPARROW_COURSE_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p), None)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Why the browser pass cannot run here, or None when it can.
BROWSER_MISSING = (
    "Playwright is not installed (pip install -e .[dev])" if importlib.util.find_spec("playwright") is None else
    "no Chromium found: sudo apt-get install chromium (or set SPARROW_COURSE_CHROMIUM to a Chromium binary)"
    if CHROMIUM is None else None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(server: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it started (kernels included)."""
    if server.poll() is not None:  # stopped already (a test that checks what its stop leaves behind)
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def start_serve(port: int, *, timeout: float = 300) -> subprocess.Popen:
    """``sparrow-course serve --small`` on 127.0.0.1:port, in its own process group; returns once /health answers.

    Its stdout is a pipe: the first line says which cache it serves from (and a Redis server's pid).

    Stop it with :func:`stop_group` (the caller's finalizer), also when the start fails.
    """
    import sys
    import time
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "sparrow_course.cli", "serve", "--small", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"sparrow-course serve exited with {server.returncode}: "
                               f"{server.stderr.read().decode(errors='replace')[-600:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    stop_group(server)
    raise TimeoutError(f"sparrow-course serve did not answer within {timeout:g} s")
