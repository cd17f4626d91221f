"""Re-execute the course notebooks in place with the course kernel, so stored outputs stay true."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

KERNEL = "sparrow-course"
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
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python (sparrow-course)", "language": "python"}
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
