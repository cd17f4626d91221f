"""The tolerance comparison for outputs of floating-point training works both ways (tests/nbval_tolerance.py).

Fast tests pin the rule on strings, on outputs and on notebook 01's own stored outputs with
changes planted in them; a slow one runs nbval itself on a small notebook. That nbval passes the
course's notebooks re-executed under a numerically different set-up is shown by every nbval run:
its kernels always run under ``PERTURBED_SET_UP``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbval_tolerance import DEFAULT_TOLERANCE, TOLERANCE_TAG, align_outputs, numbers_agree, tolerance_of, without_streams

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TOL = {"abs": 0.003, "rel": 0.02}


@pytest.mark.parametrize("stored, fresh", [
    ("the rule picks depth 1 (0.76, +0.11)", "the rule picks depth 1 (0.77, +0.11)"),  # a rounding boundary crossed
    ("top-slot CTR 0.855", "top-slot CTR 0.856"),
    ("diff_to_best -0.002", "diff_to_best -0.003"),
    ("1,070,000 clicks a day", "1,081,000 clicks a day"),  # an integer within rel
    ("AUC 0.660 against 0.661", "AUC 0.660 against 0.661"),
    ("depth    0.002   0.76\n1   0.000   0.77", "depth   -0.001   0.76\n1    0.000   0.77"),  # columns re-padded
])
def test_numbers_within_the_tolerance_agree(stored, fresh):
    assert numbers_agree(stored, fresh, TOL)


@pytest.mark.parametrize("stored, fresh", [
    ("test AUC 0.76", "test AUC 0.81"),  # a planted +0.05
    ("top-slot CTR 0.855", "top-slot CTR 0.880"),
    ("the rule picks depth 1", "the rule picks depth 2"),  # integers get no rounding unit: a depth is discrete
    ("DIN is level with the MLP", "DIN beats the MLP"),  # words are compared exactly
    ("FM beats the MLP: +0.014", "DIN beats the MLP: +0.014"),
    ("exercise q1 asks", "exercise q2 asks"),  # digits inside names are text
    ("0.76 0.77", "0.76"),  # a number gone
    ("1.4x faster", "1.4 faster"),
    ("row 1\nrow 2", "row 1 row 2"),  # a line break is not padding
])
def test_numbers_beyond_the_tolerance_or_changed_text_disagree(stored, fresh):
    assert not numbers_agree(stored, fresh, TOL)


def test_the_rounding_unit_is_one_last_digit_and_relative_part_scales():
    assert numbers_agree("0.7", "0.8", {"abs": 0.0, "rel": 0.0}) is False
    assert numbers_agree("0.70", "0.71", {"abs": 1e-6, "rel": 0.0})  # one unit of 0.01 on top of abs
    assert not numbers_agree("0.70", "0.72", {"abs": 1e-6, "rel": 0.0})
    assert numbers_agree("1000", "1019", {"abs": 0.0, "rel": 0.02})
    assert not numbers_agree("1000", "1021", {"abs": 0.0, "rel": 0.02})


def test_tolerance_is_opt_in_per_cell_and_stated_by_the_notebook():
    assert tolerance_of({}, {"nbval": {"tolerance": {"abs": 0.1}}}) is None  # a notebook's value alone opts nobody in
    assert tolerance_of({"tags": [TOLERANCE_TAG]}, {}) == DEFAULT_TOLERANCE
    assert tolerance_of({"tags": [TOLERANCE_TAG]}, {"nbval": {"tolerance": {"abs": 0.01}}}) == {"abs": 0.01, "rel": 0.0}
    assert tolerance_of({"nbval": {"tolerance": {"rel": 0.1}}}, {}) == {"abs": 0.0, "rel": 0.1}
    with pytest.raises(ValueError, match="tolerance"):
        tolerance_of({"nbval": {"tolerance": {"abs": -1}}}, {})
    with pytest.raises(ValueError, match="tolerance"):
        tolerance_of({"nbval": {"tolerance": {"absolute": 0.1}}}, {})


def test_aligned_outputs_take_the_stored_text_only_where_it_agrees():
    stored = [{"output_type": "stream", "name": "stdout", "text": ["AUC 0.76\n"]},
              {"output_type": "execute_result", "data": {"text/plain": "  0.855", "text/html": "<td>0.855</td>"}}]
    fresh = [{"output_type": "stream", "name": "stdout", "text": "AUC 0.77\n"},
             {"output_type": "execute_result", "data": {"text/plain": "  0.856", "text/html": "<td>0.905</td>"}}]
    aligned = align_outputs(fresh, stored, TOL)
    assert aligned[0]["text"] == ["AUC 0.76\n"]
    assert aligned[1]["data"]["text/plain"] == "  0.855"
    assert aligned[1]["data"]["text/html"] == "<td>0.905</td>"  # beyond the tolerance: left for nbval to report
    assert fresh[1]["data"]["text/plain"] == "  0.856"  # the fresh outputs themselves are not changed
    assert align_outputs(fresh[:1], stored, TOL) == fresh[:1]  # a different number of outputs: nothing aligned


def test_a_stream_nbval_skips_does_not_shift_the_pairing():
    """gensim's worker thread may print to stderr under another BLAS; the outputs compared still pair up."""
    stored = [{"output_type": "execute_result", "data": {"text/plain": "  0.855"}}]
    fresh = [{"output_type": "stream", "name": "stderr", "text": "Exception ignored in: ...\n"},
             {"output_type": "execute_result", "data": {"text/plain": "  0.856"}}]
    kept = without_streams(fresh, ("stderr",))
    assert [o["output_type"] for o in kept] == ["execute_result"]
    assert align_outputs(kept, stored, TOL)[0]["data"]["text/plain"] == "  0.855"
    assert without_streams(fresh, ()) == fresh  # nothing skipped: nothing dropped
    assert len(without_streams(fresh, ("stdout",))) == 2


def test_conftest_installs_the_comparison_into_nbval():
    from nbval.plugin import IPyNbCell

    assert getattr(IPyNbCell.compare_outputs, "_sparrow_tolerance", False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tolerance_is_used_only_where_training_prints_numbers(path):
    """Only code cells can carry the tag, and a notebook's stated tolerance is no looser than the project's."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    stated = nb["metadata"].get("nbval", {}).get("tolerance")
    if stated is not None:
        assert tolerance_of({"tags": [TOLERANCE_TAG]}, nb["metadata"])  # well-formed
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            assert TOLERANCE_TAG not in cell.get("metadata", {}).get("tags", []), f"cell {i}: only code cells compare"
        else:
            tolerance = tolerance_of(cell.get("metadata", {}), nb["metadata"])
            assert tolerance is None or (tolerance["abs"] <= 0.02 and tolerance["rel"] <= 0.1), \
                f"cell {i}: a tolerance of {tolerance} compares almost nothing; state what training really moves"


# --- both ways, through nbval itself ----------------------------------------------------------------------------

def test_nbval_kernels_run_under_the_perturbed_set_up_and_this_process_does_not():
    """Every nbval run re-executes the notebooks numerically differently from `tasks.py notebooks`."""
    from nbval_tolerance import PERTURBED_SET_UP

    assert PERTURBED_SET_UP["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert all(os.environ.get(name) != value for name, value in PERTURBED_SET_UP.items())


def _tiny_notebook(cells: list[tuple[str, str, list[str]]]) -> dict:
    """A notebook of code cells (source, stored stdout, tags), as if executed once."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    nb = new_notebook(metadata={"kernelspec": {"name": "sparrow-course", "display_name": "", "language": "python"}})
    for n, (source, stored, tags) in enumerate(cells, start=1):
        nb.cells.append(new_code_cell(source, execution_count=n, metadata={"tags": tags} if tags else {},
                                      outputs=[new_output("stream", name="stdout", text=stored)]))
    return nbformat.from_dict(nb)


@pytest.mark.lab
def test_nbval_passes_numbers_within_the_tolerance_and_fails_the_rest(tmp_path):
    """A real nbval run: a fresh value one rounding step away passes where tagged, and nothing else does.

    The cells print the AUC a training run would, perturbed in its last bits (0.76499999 rounds to
    0.76 where the stored run, at 0.765000001, printed 0.77); a planted +0.05, a changed word and an
    untagged cell with the same last-bit change must fail.
    """
    import nbformat

    print_auc = "print(f'test AUC {0.76499999 + {delta}:.2f}, the rule picks depth 1')"
    cells = [
        (print_auc.replace("{delta}", "0"), "test AUC 0.77, the rule picks depth 1\n", [TOLERANCE_TAG]),  # passes
        (print_auc.replace("{delta}", "0.05"), "test AUC 0.77, the rule picks depth 1\n", [TOLERANCE_TAG]),  # +0.05
        (print_auc.replace("{delta}", "0").replace("picks", "chooses"),
         "test AUC 0.77, the rule picks depth 1\n", [TOLERANCE_TAG]),  # a word
        (print_auc.replace("{delta}", "0"), "test AUC 0.77, the rule picks depth 1\n", []),  # not tagged
        ("print('deterministic 3')", "deterministic 3\n", [TOLERANCE_TAG]),  # exact output, tagged: passes
    ]
    folder = ROOT / "build" / "nbval-tolerance"  # inside the checkout, so the project's conftest applies
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        path = folder / "tiny.ipynb"
        nbformat.write(_tiny_notebook(cells), path)
        report = folder / "report.xml"
        subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(path), "-q", "-n", "0",
                        f"--junitxml={report}", "--rootdir", str(ROOT)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
        xml = report.read_text()
        ran = sorted(int(m) for m in re.findall(r'<testcase [^>]*name="Cell (\d+)"', xml))
        failed = sorted(int(m) for m in re.findall(r'<testcase [^>]*name="Cell (\d+)"[^>]*>\s*<(?:failure|error)', xml))
        assert ran == [0, 1, 2, 3, 4] and failed == [1, 2, 3], f"cells failed: {failed} of {ran}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_planted_changes_in_notebook_01_are_not_taken_for_noise():
    """On notebook 01's own stored outputs: +0.05 in one AUC, or one word changed, is never aligned."""
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "01_network_depth.ipynb", as_version=4)
    tolerant = [c for c in nb.cells if c.cell_type == "code" and tolerance_of(c.metadata, nb.metadata)]
    assert tolerant, "notebook 01 prints training results; its cells carry the tolerance tag"
    planted = 0
    for cell in tolerant:
        tolerance = tolerance_of(cell.metadata, nb.metadata)
        assert align_outputs(cell.outputs, cell.outputs, tolerance) == cell.outputs
        for n, out in enumerate(cell.outputs):
            for key in ("text/plain", "text/markdown"):
                text = out.get("data", {}).get(key)
                if not text or not re.search(r"\b0\.\d\d\b", text):
                    continue
                for change in (lambda t: re.sub(r"\b0\.(\d\d)\b", lambda m: f"{int(m.group(1)) / 100 + 0.05:.2f}", t,
                                                count=1),
                               lambda t: re.sub(r"\b([a-z]{4,})\b", lambda m: m.group(1).upper(), t, count=1)):
                    changed = change(text)
                    if changed == text:
                        continue
                    fresh = [nbformat.from_dict(o) for o in cell.outputs]
                    fresh[n] = nbformat.from_dict({**out, "data": {**out["data"], key: changed}})
                    assert align_outputs(fresh, cell.outputs, tolerance)[n]["data"][key] == changed, \
                        f"taken for noise: {changed[:200]!r}"
                    planted += 1
    assert planted >= 10
