"""A learner's workspace (adds new chapters, never overwrites) and the progress report over exercise outcomes."""
from __future__ import annotations

import json

import nbformat
import pytest

from sparrow_course import learner


def _chapters(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")]), folder / name)
    (folder / "glossary.md").write_text("# Glossary\n")
    return folder


def test_workspace_adds_new_chapters_and_never_overwrites(tmp_path):
    course = _chapters(tmp_path / "course", ["00_welcome.ipynb", "01_depth.ipynb"])
    work = tmp_path / "work"
    first = learner.make_workspace(work, source=course)
    assert first.added == ("00_welcome.ipynb", "01_depth.ipynb", "glossary.md") and first.kept == ()
    (work / "01_depth.ipynb").write_text("my edits")
    _chapters(course, ["02_balancing.ipynb"])
    second = learner.make_workspace(work, source=course)
    assert second.added == ("02_balancing.ipynb",)
    assert set(second.kept) == {"00_welcome.ipynb", "01_depth.ipynb", "glossary.md"}
    assert (work / "01_depth.ipynb").read_text() == "my edits"
    assert not list(work.glob(".*partial"))
    assert "nothing new" in str(learner.make_workspace(work, source=course))


def test_workspace_refuses_a_file_and_the_course_folder(tmp_path):
    course = _chapters(tmp_path / "course", ["00_welcome.ipynb"])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        learner.make_workspace(tmp_path / "afile", source=course)
    with pytest.raises(ValueError, match="notebooks/ folder"):
        learner.make_workspace(course, source=course)


def _exercise_notebook(path, *, q1, q4, q5, q6):
    cells = [nbformat.v4.new_code_cell("from sparrow_course.exercises import ch08 as ex, ____\nimport numpy as np")]
    cells.append(nbformat.v4.new_code_cell(f"def spark_buckets(x, r, w):\n    return {q1}\n\nex.q1.check(spark_buckets)\n# ex.q1.hint()"))
    cells.append(nbformat.v4.new_code_cell("answer = ____\nex.q2.check(answer)"))
    cells.append(nbformat.v4.new_code_cell("raise RuntimeError('a learner cell fails part-way')"))
    cells.append(nbformat.v4.new_code_cell(f"def per_record_speedup(table, step):\n    return {q4}\n\nex.q4.check(per_record_speedup)"))
    cells.append(nbformat.v4.new_code_cell(f"ex.q5.check({q5!r})"))
    cells.append(nbformat.v4.new_code_cell(f"ex.q6.check({q6!r})"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "sparrow-course", "display_name": "Python (sparrow-course)", "language": "python"}
    nbformat.write(nb, path)
    return path


SOLVED_Q1 = "np.floor(np.atleast_2d(x) @ (np.asarray(r) / np.linalg.norm(r)) / w).astype(int).tolist()"


@pytest.mark.slow
def test_progress_runs_notebooks_and_tells_the_outcomes_apart(tmp_path):
    folder = tmp_path / "ws"
    folder.mkdir()
    _exercise_notebook(folder / "08_spark.ipynb", q1=SOLVED_Q1, q4="1.0", q5="b", q6="Shuffles scale out.")
    rows = learner.progress([folder])
    got = {r.question: r.outcome for r in rows}
    # solved, not attempted, wrong (a function and a choice), noted; a failing cell on the way does not stop the report
    assert got == {"q1": "correct", "q2": "not attempted", "q4": "incorrect", "q5": "incorrect", "q6": "noted"}
    assert {r.chapter for r in rows} == {"ch08"}
    table = learner.format_progress(rows)
    assert "ch08     total     2 of 5 done" in table
    assert json.loads(learner.progress_json(rows))[0] == {"notebook": "08_spark.ipynb", "chapter": "ch08",
                                                            "question": "q1", "outcome": "correct"}
    # the learner's file was not changed by the run
    assert all(c.get("outputs") == [] for c in nbformat.read(folder / "08_spark.ipynb", 4).cells if c.cell_type == "code")


def test_progress_without_running_reads_saved_outputs(tmp_path):
    path = _exercise_notebook(tmp_path / "08_spark.ipynb", q1="____", q4="1.0", q5="", q6="")
    rows = learner.progress([path], run=False)
    assert {r.outcome for r in rows} == {"not run"}
    nb = nbformat.read(path, 4)
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "[ ] Not attempted: replace ____"},
                                                  execution_count=2)]
    nb.cells[4].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[])]
    nbformat.write(nb, path)
    got = {r.question: r.outcome for r in learner.progress([path], run=False)}
    assert got["q1"] == "not attempted" and got["q4"] == "error" and got["q2"] == "not run"


def test_progress_errors_name_the_missing_or_broken_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder or notebook"):
        learner.progress([tmp_path / "nope"], run=False)
    with pytest.raises(FileNotFoundError, match="no chapter notebooks"):
        learner.progress([tmp_path], run=False)
    broken = tmp_path / "04_cold_start.ipynb"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="04_cold_start.ipynb is not a readable notebook"):
        learner.progress([broken], run=False)


def test_cli_workspace_and_progress(tmp_path, capsys):
    from sparrow_course import cli

    assert cli.main(["workspace", str(tmp_path / "ws")]) == 0
    assert "added 00_welcome_and_data.ipynb" in capsys.readouterr().out
    assert cli.main(["workspace", str(tmp_path / "ws")]) == 0
    assert "nothing new" in capsys.readouterr().out
    assert cli.main(["progress", "--no-run", "--json", str(tmp_path / "ws")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["outcome"] for r in rows} == {"not attempted"}
    assert cli.main(["progress", "--no-run", str(tmp_path / "missing")]) == 2
    assert "no folder or notebook" in capsys.readouterr().err
