"""Every notebook runs with small values injected into its `parameters` cell, and draws no overlapping text.

As the notebook tests of Microsoft's recommenders do with papermill: the knobs a learner may turn
are set small (tests/smoke_parameters.py), and any error fails the test. Each notebook runs so
once: through JupyterLab in Chromium (tests/test_browser.py) where there is a browser, or else
headless here, in memory with the course kernel. Slow (a kernel per notebook): `-m "not slow"`
leaves it out.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from lab_process import BROWSER_MISSING
from smoke_parameters import SMOKE_PARAMETERS

from sparrow_course.notebooks import parameter_names, smoke_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_has_small_values():
    missing = [p.stem for p in NOTEBOOKS if p.stem not in SMOKE_PARAMETERS]
    assert not missing, f"add small parameter values for {missing} to tests/smoke_parameters.py"
    stale = sorted(set(SMOKE_PARAMETERS) - {p.stem for p in NOTEBOOKS})
    assert not stale, f"tests/smoke_parameters.py names notebooks that do not exist: {stale}"


def test_parameter_names_reads_assignments():
    assert parameter_names("SEED = 1\nA, B = 2, 3\nC: int = 4\n# D = 5\nprint(E)") == {"SEED", "A", "B", "C"}


@pytest.mark.smoke
@pytest.mark.skipif(BROWSER_MISSING is None, reason="the browser pass runs every notebook's smoke version (tests/test_browser.py)")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_small_parameters(path):
    overlaps = smoke_notebook(path, SMOKE_PARAMETERS.get(path.stem, {}))
    assert not overlaps, f"{path.name}: figures with overlapping text: {overlaps}"


def _tiny_notebook(tmp_path, cells):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(src, metadata={"tags": ["parameters"]} if i == 0 else {})
                             for i, src in enumerate(cells)])
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_smoke_run_injects_values_and_reports_overlapping_figure_text(tmp_path):
    path = _tiny_notebook(tmp_path, [
        "N = 1000\nLABEL = 'a long category name'",
        "assert N == 3, N",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\n"
        "ax.bar([f'{LABEL} {i}' for i in range(N)], range(N))\nax.set_title('crowded')\nplt.show()",
    ])
    before = path.read_bytes()
    overlaps = smoke_notebook(path, {"N": 3})
    assert overlaps and overlaps[0]["figure"] == "crowded"
    assert path.read_bytes() == before  # the notebook on disk is untouched


def test_smoke_run_refuses_unknown_knobs_and_reports_failures(tmp_path):
    from nbclient.exceptions import CellExecutionError

    path = _tiny_notebook(tmp_path, ["N = 1000", "assert N > 100, 'a claim that needs the default'"])
    with pytest.raises(ValueError, match="does not define SIZE; it defines N"):
        smoke_notebook(path, {"SIZE": 3})
    with pytest.raises(CellExecutionError, match="needs the default"):
        smoke_notebook(path, {"N": 3})
