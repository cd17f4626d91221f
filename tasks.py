#!/usr/bin/env python3
"""The course's runner, standard library only, so it works on a machine with just Python 3.11+ and pip.

    python3 tasks.py lab         set up .venv if needed, then start JupyterLab on notebooks/
    python3 tasks.py test        set up .venv if needed, then run unit tests and pytest --nbval
    python3 tasks.py test --fast only the unit tests that take seconds (no notebooks, JupyterLab or training)
    python3 tasks.py notebooks   re-execute notebooks in place (all, or the names given)
    python3 tasks.py setup       only the set-up: .venv, the package with dev extras, the kernel
    python3 tasks.py workspace   copy the chapters into workspace/ (yours to edit; never overwritten)

Set-up is idempotent: it reinstalls only when pyproject.toml changed since the last install.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".sparrow-course-installed"


def _runtime():
    """The package's runtime module (kernel name and environment), loaded by path: it works before set-up."""
    spec = importlib.util.spec_from_file_location("_sparrow_course_runtime", ROOT / "sparrow_course" / "runtime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The kernel carries KERNEL_ENV, so JupyterLab, nbval and the notebook runner all see the same world:
# fixed str hashing, TensorFlow quiet on stderr, no GPU probing.
_RUNTIME = _runtime()
KERNEL, KERNEL_DISPLAY_NAME, KERNEL_ENV = _RUNTIME.KERNEL, _RUNTIME.KERNEL_DISPLAY_NAME, _RUNTIME.KERNEL_ENV


def run(*cmd: str | Path, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def _install_fingerprint() -> str:
    """A hash of what installing depends on: pyproject's build system, project table and the kernel's name and env.

    The pytest configuration lives in the same file; changing a marker must not reinstall the package.
    """
    import json
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    relevant = {"build-system": config.get("build-system"), "project": config.get("project"),
                "setuptools": config.get("tool", {}).get("setuptools"),
                "kernel": [KERNEL, KERNEL_DISPLAY_NAME, KERNEL_ENV]}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def setup() -> None:
    """Create .venv, install the package with its dev extras and register the course kernel."""
    if sys.version_info < (3, 11):
        sys.exit(f"sparrow-course needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = _install_fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating the virtual environment in {VENV.name}/", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # pip compiles every installed file on one core (a third of the set-up: 74 s with, 47 s without);
    # compileall does the same on every core (13 s on 2), so the kernels the tests start find them compiled.
    run(PYTHON, "-m", "pip", "install", "--no-compile", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--no-compile", "-e", ".[dev]")
    compiled = subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-j", "0", str(VENV / ("Lib" if os.name == "nt" else "lib"))],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if compiled.returncode:  # a file some package ships that does not compile: Python reads it as source
        print("note: some installed files did not compile ahead; Python compiles what it imports", flush=True)
    env_args = [a for k, v in KERNEL_ENV.items() for a in ("--env", k, v)]
    run(PYTHON, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
        "--display-name", KERNEL_DISPLAY_NAME, *env_args)
    STAMP.write_text(wanted + "\n")


def _env() -> dict[str, str]:
    env = dict(os.environ, **KERNEL_ENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # The kernel and pytest import sparrow_course from this checkout, whichever one the
    # virtual environment was installed from (a second clone or a git worktree).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _workspace() -> Path:
    """A learner's own copies of the chapters (see `workspace`), as sparrow_course.learner places them."""
    env = os.environ.get("SPARROW_COURSE_WORKSPACE")
    return Path(env).expanduser() if env else ROOT / "workspace"


# JupyterLab settings the course ships: no news pop-up over the first notebook a learner opens.
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def _lab_overrides() -> None:
    """Write the course's JupyterLab settings into the environment (share/jupyter/lab/settings/overrides.json)."""
    import json

    path = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    if any(current.get(k) != v for k, v in LAB_OVERRIDES.items()):
        path.write_text(json.dumps({**current, **LAB_OVERRIDES}, indent=2) + "\n")


def lab(extra: list[str]) -> None:
    setup()
    _lab_overrides()
    # Jupyter refuses to run as root without being told; containers and CI machines often are root.
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    folder = _workspace() if any(_workspace().glob("[0-9][0-9]_*.ipynb")) else ROOT / "notebooks"
    if folder != ROOT / "notebooks":
        print(f"opening your workspace {folder} (the course's own notebooks are in notebooks/)", flush=True)
    run(PYTHON, "-m", "jupyter", "lab", "--notebook-dir", str(folder), *root, *extra, env=_env())


def workspace(extra: list[str]) -> None:
    setup()
    run(PYTHON, "-m", "sparrow_course.cli", "workspace", *extra, env=_env())


def test(extra: list[str]) -> None:
    setup()
    if "--fast" in extra:
        # The unit tests that take seconds: no notebooks, no JupyterLab server, no training (see conftest.py).
        rest = [a for a in extra if a != "--fast"]
        run(PYTHON, "-m", "ruff", "check", "sparrow_course", "tests")  # the lint (pinned in the dev extra), then the tests
        run(PYTHON, "-m", "pytest", "-m", "not slow", "tests", *rest, env=_env())
        return
    # One pytest run: unit tests and every notebook under nbval, so the closing line counts both.
    # conftest.py gives a bare `pytest --nbval` the same kernel and sanitize file; they are spelled out here too.
    run(PYTHON, "-m", "pytest", "--nbval", "--nbval-kernel-name", KERNEL,
        "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "tests", "notebooks", *extra, env=_env())


def notebooks(extra: list[str]) -> None:
    setup()
    run(PYTHON, "-m", "sparrow_course.cli", "notebooks", "run", *extra, env=_env())


def main(argv: list[str]) -> None:
    commands = {"lab": lab, "test": test, "notebooks": notebooks, "workspace": workspace,
                "setup": lambda extra: setup()}
    if not argv or argv[0] not in commands:
        sys.exit(__doc__)
    try:
        commands[argv[0]](argv[1:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode or 1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main(sys.argv[1:])
