"""Every notebook, run through JupyterLab's own UI in headless Chromium, as a learner runs it: the smoke run.

nbval runs every notebook at its defaults and compares what it prints. This pass proves the rest,
once per notebook: that a learner who shrinks the knobs still gets a notebook that runs, claims
included, and that it runs in the browser. It starts JupyterLab on a free loopback port with a
token, on a copy of the notebooks (so the UI's saves never touch the committed ones), each the
smoke version of its notebook (``sparrow_course.notebooks.smoke_version``: the small values of
tests/smoke_parameters.py injected, overlapping figure text recorded); for each notebook clears
the outputs, runs all cells from the Run menu, waits until every code cell has an execution count
and the kernel is idle, then asserts: no cell shows an error or stderr, every figure rendered (at
least as many images as the committed notebook stores, each with pixels, none wider than its
output area), no figure has overlapping text. Then, in a notebook with explorers
(``sparrow_course.explorers``), it moves the first slider of each one with the keyboard, as a learner
would, and asserts that the live area shows the figure and the numbers the package computes from
scratch for the new setting (compared through the kernel: the PNG's SHA-256 and the text), and that
both differ from the default state's. A screenshot of each notebook is saved under
``build/browser/``.

The chapters of ``real_shaped.REAL_SHAPED_IN_BROWSER`` run here with ``DATA`` on a generated
real-shaped folder (tests/real_shaped.py), so that this run is also their real-shaped check (no
traceback; every "Skipped:" line says what the section needs) and tests/test_real_shaped.py need
not execute them a second time at small values. Where there is no Chromium, tests/test_notebook_smoke.py runs the same smoke
versions headless instead.

The recall chapters run from tests/test_browser_recall.py with the same fixtures and checks.

Needs Playwright (a dev dependency) and the system's Chromium (Debian's ``chromium``; Playwright's
own browser download is not used). `.ci/run` installs Chromium and a CJK font when missing;
locally: ``sudo apt-get install chromium fonts-wqy-microhei``, then
``.venv/bin/python -m pytest -m browser tests/test_browser.py tests/test_browser_recall.py``.
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

import nbformat
import pytest
from lab_process import BROWSER_MISSING, CHROMIUM, CHROMIUM_FLAGS, free_port, stop_group
from real_shaped import REAL_SHAPED_IN_BROWSER, check_real_shaped_output, write_real_shaped
from smoke_parameters import SMOKE_PARAMETERS

from sparrow_course.notebooks import read_overlaps, smoke_version

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTEFACTS = ROOT / "build" / "browser"
RUN_TIMEOUT_S = 900  # per notebook, generous: with the small values each runs well under a minute on 2 cores
STALL_S = 20  # the kernel idle and no prompt changing for this long: Run All stopped (an error, a dialog)

pytestmark = [pytest.mark.browser, pytest.mark.smoke,
              pytest.mark.skipif(BROWSER_MISSING is not None, reason=BROWSER_MISSING or "")]

# Lab settings for the test: no news pop-up over the notebook, and every cell rendered (JupyterLab
# otherwise renders only the cells on screen, so off-screen outputs could not be checked).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of the notebooks; yields (base URL, token, folder)."""
    tmp = tmp_path_factory.mktemp("browser")
    folder = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    real_shaped = write_real_shaped(tmp / "data" / "ml-real-shaped")
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        data = {"DATA": str(real_shaped)} if path.stem in REAL_SHAPED_IN_BROWSER else {}
        nbformat.write(smoke_version(path, {**SMOKE_PARAMETERS.get(path.stem, {}), **data}), path)
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
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.expose_app_in_browser=True", *root]
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
    from playwright.sync_api import sync_playwright

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


def _accept_kernel_dialog(page) -> bool:
    """Accept JupyterLab's 'Select Kernel' dialog (the notebook's own kernel is preselected) if it is up."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()
        return True
    return False


KERNEL_READY_JS = """() => { const w = window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }"""


def _start_kernel(page) -> None:
    """Wait until the notebook's kernel is connected and idle, accepting the kernel dialog if it comes first.

    Once the session has its kernel, JupyterLab asks no more (a late dialog is still accepted while Run All runs)."""
    deadline = time.monotonic() + 120
    while not page.evaluate(KERNEL_READY_JS):
        if time.monotonic() > deadline:
            pytest.fail("the notebook's kernel did not start within 120 s")
        _accept_kernel_dialog(page)
        time.sleep(0.2)
    page.wait_for_function(IDLE_JS, timeout=120_000)


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
  const text = outputs.map(o => o.textContent).join('\\n');
  return {bad, images, text};
}"""


# The serving chapters run here, the recall chapters (04-08) in tests/test_browser_recall.py: two files, so
# that two test workers share the notebooks (each file starts its own JupyterLab).
RECALL_CHAPTERS = ("04", "05", "06", "07", "08")
SERVING_NOTEBOOKS = [p for p in NOTEBOOKS if not p.name.startswith(RECALL_CHAPTERS)]
RECALL_NOTEBOOKS = [p for p in NOTEBOOKS if p.name.startswith(RECALL_CHAPTERS)]


@pytest.mark.parametrize("path", SERVING_NOTEBOOKS, ids=[p.name for p in SERVING_NOTEBOOKS])
def test_notebook_runs_clean_in_jupyterlab(lab, browser, path):
    run_in_jupyterlab(lab, browser, path)


def run_in_jupyterlab(lab, browser, path: Path) -> None:
    """Clear, Run All in JupyterLab's UI, then check the outputs and move each explorer's first slider."""
    base, token, _ = lab
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # ?reset: a fresh layout, so tabs of earlier notebooks do not come back and start kernels
        page.goto(f"{base}/lab/tree/{path.name}?reset&token={token}", wait_until="domcontentloaded")
        page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=120_000)
        _start_kernel(page)
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
            time.sleep(0.5)
            if _accept_kernel_dialog(page):  # a late dialog would hold Run All forever
                last_change = now
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
        overlaps = read_overlaps(found["text"])
        assert overlaps is not None, f"{path.name}: the smoke version's report cell printed nothing"
        assert not overlaps, f"{path.name}: figures with overlapping text: {overlaps}"
        if path.stem in REAL_SHAPED_IN_BROWSER:
            check_real_shaped_output(path.name, found["text"])
        if _explorer_count(path):
            _check_explorers(page, path)
    finally:
        page.close()
        _shut_down_kernels(base, token)  # a finished notebook's kernel (and chapter 08's Spark) must not load the next


def _shut_down_kernels(base: str, token: str) -> None:
    """Shut down every kernel of the test's JupyterLab through its REST API, as the Kernel menu would."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/kernels", headers=headers), timeout=30) as r:
        kernels = json.load(r)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", headers=headers, method="DELETE")
        with urllib.request.urlopen(request, timeout=60):
            pass


# --------------------------------------------------------------------------- explorers

def _explorer_count(path: Path) -> int:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum("".join(c["source"]).count("explorers.explore(") for c in nb["cells"] if c["cell_type"] == "code")


EXECUTE_JS = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let text = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') text += msg.content.text;
    if (msg.header.msg_type === 'error') text += 'ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
  };
  await future.done;
  return text;
}"""

REPORT_CODE = ("import json as _x_json\nfrom sparrow_course import explorers as _x\n"
               "print('EXPLORERS ' + _x_json.dumps(_x.live_report(), default=str))")

LIVE_JS = """(i) => {
  const box = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .sparrow-explorer')[i];
  const live = box.querySelector('.sparrow-explorer-live');
  const readout = box.querySelector('.widget-readout');
  return {frame: live ? Number(live.dataset.frame) : 0, sha256: live ? live.dataset.sha256 : null,
          numbers: live ? live.querySelector('.sparrow-explorer-numbers').textContent : null,
          images: live ? live.querySelectorAll('img').length : 0,
          readout: readout ? readout.textContent.trim() : null};
}"""


def _kernel_report(page) -> list[dict]:
    out = page.evaluate(EXECUTE_JS, REPORT_CODE)
    line = next((x for x in out.splitlines() if x.startswith("EXPLORERS ")), None)
    assert line is not None, f"the kernel did not report its explorers: {out[-500:]}"
    return json.loads(line.removeprefix("EXPLORERS "))


def _check_explorers(page, path: Path) -> None:
    """Move the first slider of every explorer one step; the live area must show the package's values for it."""
    boxes = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .sparrow-explorer")
    expected = _explorer_count(path)
    assert boxes.count() == expected, f"{path.name}: {boxes.count()} explorers shown, {expected} in the notebook"
    for i in range(expected):
        before = page.evaluate(LIVE_JS, i)
        handle = boxes.nth(i).locator(".noUi-handle").first
        for attempt in range(2):  # a key press can land before the slider's view takes focus; then press once more
            handle.scroll_into_view_if_needed()
            handle.focus()
            page.keyboard.press("ArrowRight")  # one step, reported on release like the end of a drag
            try:
                page.wait_for_function(f"() => ({LIVE_JS})({i}).readout !== {json.dumps(before['readout'])}",
                                       timeout=15_000)
                break
            except Exception:
                if attempt:
                    page.screenshot(path=str(ARTEFACTS / f"{path.stem}-explorer{i + 1}.png"), full_page=False)
                    pytest.fail(f"{path.name}, explorer {i + 1}: the slider's readout stayed at {before['readout']!r} "
                                "after two key presses on its focused handle")
        try:
            page.wait_for_function(f"() => ({LIVE_JS})({i}).frame > {before['frame']}", timeout=120_000)
        except Exception:
            page.screenshot(path=str(ARTEFACTS / f"{path.stem}-explorer{i + 1}.png"), full_page=False)
            pytest.fail(f"{path.name}, explorer {i + 1}: no new frame after a slider step; the kernel reports "
                        f"{_kernel_report(page)[i]}; the live area shows {boxes.nth(i).inner_text()[:300]!r}")
        page.wait_for_function(IDLE_JS, timeout=120_000)
        time.sleep(0.5)  # a later frame of the same move would still be on its way
        shown = page.evaluate(LIVE_JS, i)
        report = _kernel_report(page)[i]
        page.screenshot(path=str(ARTEFACTS / f"{path.stem}-explorer{i + 1}.png"), full_page=False)
        where = f"{path.name}, explorer {i + 1}"
        assert report["error"] is None, f"{where}: the update failed: {report['error']}"
        assert report["values"] != report["defaults"], f"{where}: the slider did not move ({report['values']})"
        assert shown["readout"] != before["readout"], f"{where}: the slider's readout did not change"
        assert shown["images"] == 1, f"{where}: the live area shows no figure"
        assert shown["sha256"] == report["sha256"] != report["default_sha256"], \
            f"{where}: the live figure is not the package's figure for {report['values']}"
        assert shown["numbers"] == report["text"] != report["default_text"], \
            f"{where}: the live numbers {shown['numbers']!r} are not the package's {report['text']!r} " \
            f"for {report['values']}"


@pytest.fixture(scope="module")
def served():
    """``sparrow-course serve --small`` on a free loopback port, stopped when the module's tests are done."""
    from lab_process import start_serve

    port = free_port()
    server = start_serve(port)
    yield f"http://127.0.0.1:{port}"
    stop_group(server)


def test_the_capstone_page_shows_movie_cards(served, browser):
    page = browser.new_page()
    try:
        page.goto(f"{served}/?id=1&size=8", timeout=60_000)
        assert page.locator("h1").inner_text() == "Recommended for you"
        assert page.locator(".card").count() == 8
        assert all(page.locator(".card h3").nth(i).inner_text().strip() for i in range(8))
        page.fill("input[name=id]", "999999")   # a user nobody knows: the cold-start path, through the form
        page.click("button")
        page.wait_for_load_state()
        assert "cold-start path" in page.locator("#path").inner_text()
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / "09_capstone_page.png"), full_page=True)
    finally:
        page.close()
