"""Re-execute the course notebooks in place with the course kernel, so stored outputs stay true."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .runtime import KERNEL, KERNEL_DISPLAY_NAME

__all__ = ["KERNEL", "NOTEBOOK_DIR", "notebook_paths", "execute_notebook", "parameter_names", "smoke_version",
           "read_overlaps", "smoke_notebook"]

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def notebook_paths(names: list[str] | None = None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The notebooks to run: all ``NN_*.ipynb`` in ``folder``, or those whose name starts with one of ``names``."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no notebooks folder at {folder.name}/; run this from a clone of the course repository")
    every = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        hits = [p for p in every if p.name.startswith(Path(name).name.removesuffix(".ipynb"))]
        if not hits:
            raise ValueError(f"no notebook matches {name!r}; expected one of: {', '.join(p.name for p in every)}")
        chosen += [p for p in hits if p not in chosen]
    return chosen


def execute_notebook(path: Path, *, kernel: str = KERNEL, timeout: int = 900) -> float:
    """Execute one notebook top to bottom in its own folder and write it back atomically; return seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
    start = time.perf_counter()
    NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        # execution timestamps would make every re-run a diff; they carry nothing a reader needs
        cell.metadata.pop("execution", None)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".ipynb")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
        # mkstemp makes the file private (0600); keep the notebook's own permissions
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return seconds


_WATCH_CELL = """\
# smoke run: record overlapping text in every figure this notebook renders
from sparrow_course import plotting as _smoke_plotting
_smoke_plotting.watch_overlaps()"""
_REPORT_CELL = """\
import json as _smoke_json
print("SMOKE-OVERLAPS " + _smoke_json.dumps(_smoke_plotting.watched_overlaps()))"""
_REPORT_PREFIX = "SMOKE-OVERLAPS "


def parameter_names(source: str) -> set[str]:
    """The names a parameters cell assigns at top level."""
    import ast

    names = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def smoke_version(path: Path, overrides: dict):
    """The notebook at ``path`` as the smoke run executes it: small values injected, figure text watched.

    As papermill does: the cell tagged ``parameters`` keeps its defaults, and one assignment per
    override follows them, so a knob left out keeps its default. A first cell starts recording
    overlapping figure text and a last cell prints what it recorded (read it back with
    :func:`read_overlaps`). Raises ``ValueError`` when the notebook has no single parameters cell
    or an override names a knob the cell does not define. The file on disk is not touched.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{path.name} has {len(tagged)} cells tagged `parameters`; expected exactly one")
    cell = tagged[0]
    unknown = sorted(set(overrides) - parameter_names(cell.source))
    if unknown:
        raise ValueError(f"{path.name}'s parameters cell does not define {', '.join(unknown)}; "
                         f"it defines {', '.join(sorted(parameter_names(cell.source)))}")
    if overrides:
        cell.source += "\n\n# smoke-run overrides\n" + "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
    nb.cells.insert(0, nbformat.v4.new_code_cell(_WATCH_CELL))
    nb.cells.append(nbformat.v4.new_code_cell(_REPORT_CELL))
    return nb


def read_overlaps(text: str) -> list[dict] | None:
    """The overlapping figure text a smoke version's last cell printed in ``text``, or None if it printed nothing."""
    import json

    for line in text.splitlines():
        if line.startswith(_REPORT_PREFIX):
            return json.loads(line.removeprefix(_REPORT_PREFIX))
    return None


def smoke_notebook(path: Path, overrides: dict, *, kernel: str = KERNEL, timeout: int = 900) -> list[dict]:
    """Execute :func:`smoke_version` of a notebook in memory with the course kernel; return overlapping figure text.

    Raises ``ValueError`` for a bad parameters cell or override (see :func:`smoke_version`), and
    nbclient's ``CellExecutionError`` when a cell fails. The notebook on disk is not touched.
    """
    from nbclient import NotebookClient

    nb = smoke_version(path, overrides)
    NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    overlaps = read_overlaps("".join(out.get("text", "") for out in nb.cells[-1].outputs))
    if overlaps is None:
        raise RuntimeError(f"{path.name}: the smoke run's report cell printed nothing")
    return overlaps
