"""The README's lab command serves the course notebooks: start JupyterLab headless, list notebooks over its API, stop it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lab_process import free_port, stop_group

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.lab



def test_jupyterlab_serves_the_notebooks(tmp_path):
    port, token = free_port(), "sparrow-test-token"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    # The README's own lab command, with the flags a headless test needs passed through to JupyterLab.
    cmd = [sys.executable, str(ROOT / "tasks.py"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}"]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/contents?token={token}"
        deadline, listing = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.load(response)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert listing is not None, f"JupyterLab did not answer on port {port}:\n{(tmp_path / 'lab.log').read_text()[-2000:]}"
        served = {item["name"] for item in listing["content"] if item["type"] == "notebook"}
        expected = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
        assert expected and expected <= served
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as response:
            assert response.status == 200 and b"JupyterLab" in response.read()
    finally:
        # tasks.py started JupyterLab as its child: stop the whole process group
        stop_group(server, timeout=20)
        log.close()
