"""A learner's own workspace (copies of the course notebooks) and a progress report over its exercises.

    sparrow-course workspace            # copy the chapters into workspace/ (never overwrites your files)
    sparrow-course progress             # run your workspace notebooks headless; table of exercise outcomes
    sparrow-course progress --no-run 04_cold_start.ipynb --json

The course's own notebooks stay as committed, so ``git pull`` updates the course cleanly while a
learner's edits live in the workspace; re-running ``workspace`` adds chapters that are new since.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .exercises.core import OUTCOME_ICONS
from .notebooks import NOTEBOOK_DIR
from .runtime import KERNEL

__all__ = [
    "DEFAULT_WORKSPACE",
    "Outcome",
    "WorkspaceReport",
    "make_workspace",
    "notebook_outcomes",
    "progress",
    "format_progress",
    "progress_json",
    "default_workspace",
]

#: Where ``sparrow-course workspace`` puts a learner's copies by default: ``workspace/`` beside
#: ``notebooks/`` in the course folder (ignored by git), or ``$SPARROW_COURSE_WORKSPACE``.
DEFAULT_WORKSPACE = NOTEBOOK_DIR.parent / "workspace"

# the files a workspace needs besides the chapters: the glossary every chapter links to
_COMPANIONS = ("glossary.md",)

NOT_RUN = "not run"
# the marks a check prints before its outcome (exercises.core), read back from a notebook's stored outputs
_OUTCOMES = {icon: outcome for outcome, icon in OUTCOME_ICONS.items()}
_IMPORT = re.compile(r"from\s+sparrow_course\.exercises\s+import\s+(?P<names>[^\n]+)")
_CHECK = re.compile(r"\b(?P<alias>\w+)\.(?P<question>q\d+(?:\.\w+)?)\.check\(")


def default_workspace() -> Path:
    """The workspace folder: ``$SPARROW_COURSE_WORKSPACE`` if set, else ``workspace/`` in the course folder."""
    env = os.environ.get("SPARROW_COURSE_WORKSPACE")
    return Path(env).expanduser() if env else DEFAULT_WORKSPACE


@dataclass(frozen=True)
class WorkspaceReport:
    """What ``make_workspace`` did: the folder, the chapters it added and the files it left alone."""

    folder: Path
    added: tuple[str, ...]
    kept: tuple[str, ...]

    def __str__(self) -> str:
        lines = [f"workspace: {self.folder}"]
        lines += [f"  added {name}" for name in self.added]
        if self.kept:
            lines.append(f"  kept your {len(self.kept)} existing file(s) unchanged")
        if not self.added:
            lines.append("  nothing new: every chapter is already there")
        return "\n".join(lines)


def make_workspace(folder: str | os.PathLike[str] | None = None, *, source: Path = NOTEBOOK_DIR) -> WorkspaceReport:
    """Copy the course notebooks (and the glossary) into ``folder``; never overwrite a file already there."""
    target = Path(folder).expanduser() if folder is not None else default_workspace()
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"the workspace {str(folder or target)!r} exists and is a file; "
                                 "give a folder (new or existing)")
    if not source.is_dir():
        raise FileNotFoundError(f"no course notebooks at {source}; run this from a clone of the course repository")
    if target.resolve() == source.resolve():
        raise ValueError("the workspace cannot be the course's own notebooks/ folder; choose another folder")
    chapters = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    files = chapters + [source / name for name in _COMPANIONS if (source / name).is_file()]
    target.mkdir(parents=True, exist_ok=True)
    added, kept = [], []
    for path in files:
        dest = target / path.name
        if dest.exists():
            kept.append(path.name)
            continue
        # copy to a temporary name first, so an interrupted copy never leaves a half-written notebook
        partial = target / f".{path.name}.partial"
        shutil.copyfile(path, partial)
        os.replace(partial, dest)
        added.append(path.name)
    return WorkspaceReport(target, tuple(added), tuple(kept))


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One exercise check found in a notebook: chapter, question and what its check said."""

    notebook: str
    chapter: str
    question: str
    outcome: str

    def as_dict(self) -> dict[str, str]:
        return {"notebook": self.notebook, "chapter": self.chapter, "question": self.question, "outcome": self.outcome}


def _read(path: Path):
    import nbformat

    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {str(path)!r} (resolved: {path.resolve()})")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a damaged file
        raise ValueError(f"{path.name} is not a readable notebook ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200]}); restore it with `sparrow-course workspace` "
                         "into a new folder, or from git") from None
    return nb


def _aliases(source: str) -> dict[str, str]:
    """Map the names a cell imports from sparrow_course.exercises to chapter modules: ``ex`` -> ``ch04``."""
    found = {}
    for match in _IMPORT.finditer(source):
        for part in match.group("names").split(","):
            words = part.strip().strip("()").split()
            if words and re.fullmatch(r"ch\d\d", words[0]):
                found[words[-1] if len(words) == 3 and words[1] == "as" else words[0]] = words[0]
    return found


def _outcome_of(cell) -> str:
    """What the check in this cell reported, read from its stored outputs."""
    if cell.get("execution_count") is None and not cell.get("outputs"):
        return NOT_RUN
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return "error"
        text = out.get("data", {}).get("text/plain", "") if "data" in out else out.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        for icon, outcome in _OUTCOMES.items():
            if icon + " " in text:
                return outcome
    return NOT_RUN


def notebook_outcomes(nb, name: str) -> list[Outcome]:
    """Every ``ex.qN.check(...)`` call in a notebook's code cells, with the outcome its stored output shows."""
    aliases: dict[str, str] = {}
    rows = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        aliases.update(_aliases(source))
        code_lines = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
        for match in _CHECK.finditer("\n".join(code_lines)):
            chapter = aliases.get(match.group("alias"))
            if chapter is None:
                continue
            rows.append(Outcome(name, chapter, match.group("question"), _outcome_of(cell)))
    return rows


def _execute(nb, folder: Path, *, kernel: str, timeout: int) -> None:
    """Run a notebook in memory, on past errors, so the questions after a failing cell are still reached."""
    from nbclient import NotebookClient

    NotebookClient(nb, kernel_name=kernel, timeout=timeout, allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()


def progress(paths: Iterable[str | os.PathLike[str]] = (), *, run: bool = True, kernel: str = KERNEL,
             timeout: int = 900) -> list[Outcome]:
    """Exercise outcomes of a learner's notebooks (a folder's ``NN_*.ipynb``, or notebook files).

    With ``run`` the notebooks are executed headless in memory first (the files are not
    changed); without it their saved outputs are read.
    """
    paths = [Path(p).expanduser() for p in paths] or [default_workspace()]
    notebooks: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("[0-9][0-9]_*.ipynb"))
            if not found:
                raise FileNotFoundError(f"no chapter notebooks (NN_name.ipynb) in {str(path)!r}")
            notebooks += found
        elif path.suffix == ".ipynb" or path.exists():
            notebooks.append(path)
        else:
            raise FileNotFoundError(f"no folder or notebook at {str(path)!r} (resolved: {path.resolve()}); "
                                    "create a workspace with `sparrow-course workspace`")
    rows: list[Outcome] = []
    for path in notebooks:
        nb = _read(path)
        if run:
            _execute(nb, path.parent, kernel=kernel, timeout=timeout)
        rows += notebook_outcomes(nb, path.name)
    return rows


def format_progress(rows: list[Outcome]) -> str:
    """A table of outcomes with per-chapter totals."""
    if not rows:
        return "no exercise checks found (a chapter's exercises call ex.q1.check(...))"
    width = max([len("question")] + [len(r.question) for r in rows])
    lines = [f"{'chapter':<8} {'question':<{width}}  outcome"]
    for chapter in sorted({r.chapter for r in rows}):
        mine = [r for r in rows if r.chapter == chapter]
        for r in mine:
            lines.append(f"{chapter:<8} {r.question:<{width}}  {r.outcome}")
        correct = sum(r.outcome in ("correct", "noted") for r in mine)
        lines.append(f"{chapter:<8} {'total':<{width}}  {correct} of {len(mine)} done")
    return "\n".join(lines)


def progress_json(rows: list[Outcome]) -> str:
    """The outcomes as JSON, for tools."""
    return json.dumps([r.as_dict() for r in rows], indent=2)
