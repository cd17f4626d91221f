"""environment.yml (conda) and pyproject.toml (pip) ask for the same packages."""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDA_ONLY = {"python", "pip", "openjdk"}  # openjdk: the Java runtime Spark needs, which pip cannot install
CONDA_NAMES = {"redis-py": "redis"}  # conda-forge's name for a package -> pip's (conda's "redis" is the server)


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, f"cannot read requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return dict(_name_and_spec(r) for r in reqs)


def _environment() -> dict[str, str]:
    deps, section = {}, None
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"^\w", line):
            section = line.split(":")[0]
        m = re.match(r"^  - ([^\s:#][^#]*?)\s*$", line)  # conda entries
        nested = re.match(r"^      - ([A-Za-z][^#\s]*)\s*$", line)  # the nested pip: list (packages not on conda-forge)
        m = m or nested
        if m and section == "dependencies":
            name, spec = _name_and_spec(m.group(1))
            name = CONDA_NAMES.get(name, name)
            if name not in CONDA_ONLY:
                deps[name] = spec
    return deps


def test_same_packages_and_ranges():
    pip, conda = _pyproject(), _environment()
    assert pip == conda, f"only in pyproject: {sorted(pip.keys() - conda.keys())}, only in environment.yml: " \
                         f"{sorted(conda.keys() - pip.keys())}, differing ranges: " \
                         f"{ {k: (pip[k], conda[k]) for k in pip.keys() & conda.keys() if pip[k] != conda[k]} }"


# A linter is pinned: its rules change between releases, and a clean lint must not turn red by itself.
PINNED = {"ruff"}


def test_ranges_not_pins():
    for name, spec in _pyproject().items():
        if name in PINNED:
            assert spec.startswith("=="), f"{name}: pin it exactly (its rules change between releases), not {spec!r}"
        else:
            assert spec.startswith(">="), f"{name}: use a lower bound (a range), not {spec!r}"


def test_core_dependencies_present():
    core = {"jupyterlab", "pandas", "numpy", "gensim", "tensorflow", "nbval", "matplotlib", "scikit-learn"}
    assert core <= _pyproject().keys()


def test_test_workers_share_the_cores_and_keep_what_the_user_set():
    from conftest import THREAD_VARIABLES, share_cores_among_workers

    environ = {"PYTEST_XDIST_WORKER_COUNT": "2", "OMP_NUM_THREADS": "3"}
    threads = share_cores_among_workers(environ)
    assert threads == max(1, (os.cpu_count() or 1) // 2)
    assert environ["OMP_NUM_THREADS"] == "3", "a value the user set is kept"
    assert all(environ[name] == str(threads) for name in THREAD_VARIABLES if name != "OMP_NUM_THREADS")
    alone = {}
    assert share_cores_among_workers(alone) is None and alone == {}, "outside xdist nothing changes"
