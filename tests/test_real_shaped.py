"""Every chapter at its DATA knob on real-shaped data: each section runs, or says in one line why it skips.

A learner who points a chapter at real MovieLens changes one knob (``DATA`` in the parameters
cell). Real data has no planted truth, no registration features, no tag hierarchy or catalogue
tags, often no tags, and very sparse users. Each notebook's smoke values (tests/smoke_parameters.py)
run here headless with ``DATA`` set to a generated real-shaped folder (tests/real_shaped.py): any
error fails the test, claims are reported but not asserted (the knob is off its default), and
every "Skipped:" line must say what the section needs. Slow (a kernel per notebook).

The chapters of ``real_shaped.REAL_SHAPED_IN_BROWSER`` are checked so inside the browser pass when
it runs in the same session (their smoke version runs there on the real-shaped folder); here they
are then skipped with that reason, and run here otherwise (no Chromium, or ``-m "not browser"``).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from real_shaped import REAL_SHAPED_IN_BROWSER, browser_notebooks, check_real_shaped_output, write_real_shaped
from smoke_parameters import SMOKE_PARAMETERS

from sparrow_course.notebooks import KERNEL, parameter_names, smoke_version

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _parameters(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return parameter_names(cells[0].source) if len(cells) == 1 else set()


def _parameters_source(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))


@pytest.fixture(scope="module")
def real_shaped(tmp_path_factory):
    return write_real_shaped(tmp_path_factory.mktemp("data") / "ml-real-shaped")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_chapter_has_the_data_knob(path):
    assert "DATA" in _parameters(path), (f"{path.name}: its parameters cell has no DATA knob "
                                         "(DATA = None: the bundled data; or a MovieLens folder name or path)")
    assert re.search(r"^DATA\s*=\s*None\b", _parameters_source(path), re.M), f"{path.name}: DATA must default to None"


def test_real_shaped_fixture_is_shaped_like_real_movielens(real_shaped):
    from sparrow_course.datasets import NEEDS, lacks, load_movielens

    ml = load_movielens(real_shaped)
    per_user = ml.ratings.groupby("userId").size()
    assert ml.users is None and ml.tag_hierarchy is None and ml.movie_tags is None and ml.tags.empty
    assert per_user.median() == 1 and per_user.max() > 20
    assert ml.movies.movieId.min() > 100_000  # ids SparrowLens does not use
    assert all(lacks(ml, need) for need in NEEDS)


@pytest.mark.slow
@pytest.mark.smoke
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_runs_or_skips_with_its_reason_on_real_shaped_data(path, request):
    from nbclient import NotebookClient

    if path.stem in REAL_SHAPED_IN_BROWSER and path.stem in browser_notebooks(request.session):
        pytest.skip("checked on real-shaped data by this run's browser pass (tests/test_browser.py)")
    if "DATA" not in _parameters(path):
        pytest.fail(f"{path.name} has no DATA knob")
    real_shaped = request.getfixturevalue("real_shaped")
    overrides = {**SMOKE_PARAMETERS.get(path.stem, {}), "DATA": str(real_shaped)}
    nb = smoke_version(path, overrides)
    NotebookClient(nb, kernel_name=KERNEL, timeout=900,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "\n".join(
        "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
        + "".join(out.get("data", {}).get("text/markdown", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))
    check_real_shaped_output(path.name, printed)
