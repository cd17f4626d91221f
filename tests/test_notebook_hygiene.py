"""Committed notebooks are executed, clean and runnable by the course kernel."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MACHINE_PATH = re.compile(r"/(?:root|home|tmp|work|Users|private/var)/|[A-Za-z]:\\\\Users\\\\")


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome_and_data.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_executed_and_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "sparrow-course"
    cells = _code_cells(path)
    unrun = [i for i, c in enumerate(cells) if "".join(c["source"]).strip() and c["execution_count"] is None]
    assert not unrun, f"code cells {unrun} were not executed; run `python3 tasks.py notebooks {path.name[:2]}`"
    counts = [c["execution_count"] for c in cells if c["execution_count"] is not None]
    assert counts == list(range(1, len(counts) + 1)), "cells were run out of order; re-execute top to bottom"
    for i, cell in enumerate(cells):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"code cell {i} stores an error"
            assert out.get("name") != "stderr", f"code cell {i} stores stderr (a warning?): {''.join(out['text'])[:200]}"
        text = json.dumps(cell["outputs"])
        assert not MACHINE_PATH.search(text), f"code cell {i} shows a machine path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_follows_the_chapter_shape(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert nb["cells"][0]["cell_type"] == "markdown" and nb["cells"][0]["source"][0].startswith("# ")
    assert "Exercises" in markdown, "every notebook ends with exercises"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters` holds the knobs a learner may turn"
    code = _code_cells(path)
    ignored = sum("NBVAL_IGNORE_OUTPUT" in "".join(c["source"]) or "NBVAL_SKIP" in "".join(c["source"]) for c in code)
    assert ignored <= 0.25 * len(code), f"{ignored} of {len(code)} code cells escape nbval; keep those few"
    if not path.name.startswith("00_"):
        assert any(re.search(r"^\s*assert\b", "".join(c["source"]), re.M) for c in code), "a chapter asserts its claims"
        assert "## Claims" in markdown and "Further reading" in markdown


def test_chapter_template_has_every_section():
    nb = json.loads((ROOT / "templates" / "chapter_template.ipynb").read_text(encoding="utf-8"))
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for heading in ("## The question", "## Setup", "## Claims", "## Summary", "## Exercises", "## Further reading"):
        assert heading in markdown, f"template lacks {heading}"
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]) == 1
