"""The recall chapters (04-08) in JupyterLab in headless Chromium: the checks of tests/test_browser.py.

A file of their own, so that a second test worker runs them beside the serving chapters; this
module gets its own JupyterLab (the fixtures are module-scoped).
"""
from __future__ import annotations

import pytest
from test_browser import RECALL_NOTEBOOKS, browser, lab, pytestmark, run_in_jupyterlab  # noqa: F401 - fixtures

__all__ = ["pytestmark"]


@pytest.mark.parametrize("path", RECALL_NOTEBOOKS, ids=[p.name for p in RECALL_NOTEBOOKS])
def test_notebook_runs_clean_in_jupyterlab(lab, browser, path):  # noqa: F811 - the fixtures imported above
    run_in_jupyterlab(lab, browser, path)
