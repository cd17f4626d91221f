"""Every notebook, run through JupyterLab's own UI in headless Chromium, as a learner runs it.

Starts JupyterLab on a free loopback port with a token, on a copy of the notebooks (so the UI's
saves never touch the committed ones) whose `parameters` cells carry the smoke run's small values
(tests/smoke_parameters.py: nbval already runs every notebook at its defaults, so the browser pass
checks the UI at a fraction of the cost); for each notebook clears the outputs, runs all cells
from the Run menu, waits until every code cell has an execution count and the kernel is idle,
then asserts: no cell shows an error or stderr, every figure rendered (at least as many images
as the committed notebook stores, each with pixels, none wider than its output area). A
screenshot of each notebook is saved under ``build/browser/``.

Needs Playwright (a dev dependency) and the system's Chromium (Debian's ``chromium``; Playwright's
own browser download is not used). `.ci/run` installs Chromium and a CJK font when missing;
locally: ``sudo apt-get install chromium fonts-wqy-microhei``, then
``.venv/bin/python -m pytest -m browser tests/test_browser.py``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lab_process import free_port, stop_group
from smoke_parameters import SMOKE_PARAMETERS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTEFACTS = ROOT / "build" / "browser"
CHROMIUM = next((p for p in (os.environ.get("SPARROW_COURSE_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p), None)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 900  # per notebook, generous: with the small values each runs well under a minute on 2 cores
STALL_S = 20  # the kernel idle and no prompt changing for this long: Run All stopped (an error, a dialog)

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extras install it
    sync_playwright = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason="Playwright is not installed (pip install -e .[dev])"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: sudo apt-get install chromium "
                                                "(or set SPARROW_COURSE_CHROMIUM to a Chromium binary)"),
]

# Lab settings for the test: no news pop-up over the notebook, and every cell rendered (JupyterLab
# otherwise renders only the cells on screen, so off-screen outputs could not be checked).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _inject_small_parameters(path: Path, overrides: dict) -> None:
    """Append the smoke values after the parameters cell's defaults, as the smoke run does."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []) and overrides:
            cell.source += "\n\n# small values for the browser test\n" + "\n".join(
                f"{k} = {v!r}" for k, v in overrides.items())
    nbformat.write(nb, path)



@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of the notebooks; yields (base URL, token, folder)."""
    tmp = tmp_path_factory.mktemp("browser")
    folder = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        _inject_small_parameters(path, SMOKE_PARAMETERS.get(path.stem, {}))
    settings = tmp / "settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = free_port(), "sparrow-browser-test"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--notebook-dir={folder}", f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}", *root]
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token, folder
    finally:
        stop_group(server, timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _stored_images(path: Path) -> int:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum("image/png" in out.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code"
               for out in c["outputs"])


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


IDLE_JS = """() => { const s = document.querySelector(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
    return s !== null && s.getAttribute('data-status') === 'idle'; }"""


def _accept_kernel_dialog(page) -> None:
    """Accept JupyterLab's 'Select Kernel' dialog (the notebook's own kernel is preselected) if it appears."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        dialog.first.wait_for(timeout=15_000)
    except Exception:  # no dialog: the kernel started on its own
        return
    dialog.first.click()


PROMPTS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')).map(e => e.textContent.trim())"""

CHECK_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const outputs = Array.from(panel.querySelectorAll('.jp-OutputArea-output'));
  const bad = outputs.filter(o => ['application/vnd.jupyter.stderr', 'application/vnd.jupyter.error']
      .includes(o.getAttribute('data-mime-type'))).map(o => o.textContent.slice(0, 300));
  const images = Array.from(panel.querySelectorAll('.jp-RenderedImage img')).map(img => ({
      natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
      area: img.closest('.jp-OutputArea').getBoundingClientRect().width}));
  return {bad, images};
}"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_clean_in_jupyterlab(lab, browser, path):
    base, token, _ = lab
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # ?reset: a fresh layout, so tabs of earlier notebooks do not come back and start kernels
        page.goto(f"{base}/lab/tree/{path.name}?reset&token={token}", wait_until="domcontentloaded")
        page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=120_000)
        _accept_kernel_dialog(page)
        page.wait_for_function(IDLE_JS, timeout=120_000)
        _menu(page, "Edit", "Clear Outputs of All Cells")
        cleared = page.evaluate(PROMPTS_JS)
        assert cleared and all(p in ("[ ]:", "[ ]") for p in cleared), f"outputs were not cleared: {cleared[:5]}"
        _menu(page, "Run", "Run All Cells")
        deadline = time.monotonic() + RUN_TIMEOUT_S
        prompts, last_change, idle_since = page.evaluate(PROMPTS_JS), time.monotonic(), None
        while not (prompts and all(p.startswith("[") and p[1:-2].isdigit() for p in prompts)):
            now = time.monotonic()
            stalled = idle_since is not None and now - idle_since > STALL_S and now - last_change > STALL_S
            if now > deadline or stalled:
                page.screenshot(path=str(ARTEFACTS / f"{path.stem}.png"), full_page=False)
                waiting = [i for i, p in enumerate(prompts) if not p[1:-2].isdigit()]
                pytest.fail(f"{path.name}: {'stopped' if stalled else 'still running'} with code cells {waiting[:5]} "
                            f"not run (prompts {[prompts[i] for i in waiting[:5]]}); errors shown: "
                            f"{page.evaluate(CHECK_JS)['bad'][:2]}; see build/browser/{path.stem}.png")
            time.sleep(1.0)
            current = page.evaluate(PROMPTS_JS)
            if current != prompts:
                prompts, last_change = current, now
            idle_since = (idle_since or now) if page.evaluate(IDLE_JS) else None
        found = page.evaluate(CHECK_JS)
        page.screenshot(path=str(ARTEFACTS / f"{path.stem}.png"), full_page=False)
        assert not found["bad"], f"{path.name}: cells show errors or stderr in the browser: {found['bad'][:3]}"
        assert len(found["images"]) >= _stored_images(path), \
            f"{path.name}: {len(found['images'])} figures rendered, {_stored_images(path)} stored"
        for image in found["images"]:
            assert image["natural"] > 0, f"{path.name}: a figure did not render"
            assert image["shown"] <= image["area"] + 1, f"{path.name}: a figure is wider than its output area"
    finally:
        page.close()
