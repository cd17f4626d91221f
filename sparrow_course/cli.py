"""The ``sparrow-course`` command: doctor, data info/download, notebooks run."""
from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

KEY_PACKAGES = ["numpy", "pandas", "tensorflow", "gensim", "sklearn", "matplotlib", "cachetools", "jupyterlab", "nbval"]
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Finding:
    """One line of the doctor's report: what was checked, whether it passed, and how to fix it."""

    what: str
    ok: bool
    detail: str
    fix: str = ""


def _version(module: str) -> Finding:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a broken install can raise anything at import
        return Finding(module, False, f"does not import ({type(exc).__name__}: {exc})",
                       "run `python3 tasks.py setup` (or `pip install -e .[dev]`) in the course folder")
    return Finding(module, True, getattr(mod, "__version__", "installed"))


def check_kernel(name: str = "sparrow-course") -> Finding:
    """Is the course's Jupyter kernel registered?"""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name in specs:
        return Finding("kernel", True, f"'{name}' is registered")
    return Finding("kernel", False, f"no Jupyter kernel named '{name}'",
                   f"python -m ipykernel install --sys-prefix --name {name} (tasks.py setup does this)")


def check_tensorflow() -> Finding:
    """Does TensorFlow import and compute on the CPU?"""
    try:
        from .seeding import import_tensorflow

        tf = import_tensorflow()
        with tf.device("/CPU:0"):
            value = float(tf.reduce_sum(tf.ones((2, 2))).numpy())
    except Exception as exc:
        return Finding("tensorflow", False, f"cannot run on the CPU ({type(exc).__name__}: {exc})",
                       "reinstall it: pip install --force-reinstall 'tensorflow>=2.16'")
    if value != 4.0:
        return Finding("tensorflow", False, f"2x2 ones summed to {value}, expected 4.0", "reinstall TensorFlow")
    return Finding("tensorflow", True, f"{tf.__version__} computes on the CPU")


def check_data(folder: Path = DATA_DIR) -> Finding:
    """Do the bundled data files match data/SHA256SUMS?"""
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        return Finding("data", False, f"no checksum file {folder.name}/SHA256SUMS",
                       "run from a clone of the course repository, or regenerate: python -m sparrow_course.sparrowlens")
    bad = []
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        path = folder / name.lstrip("*")
        if not path.exists():
            bad.append(f"{name} missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(f"{name} changed")
    if bad:
        return Finding("data", False, "; ".join(bad),
                       "restore with `git checkout -- data/` or regenerate: python -m sparrow_course.sparrowlens")
    return Finding("data", True, "bundled SparrowLens files match their checksums")


def doctor() -> int:
    """Print a report of the set-up; return the number of problems found."""
    # The course runs TensorFlow on the CPU; without these it logs GPU probing noise to stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    findings = [_version(m) for m in KEY_PACKAGES]
    findings += [check_kernel(), check_tensorflow(), check_data()]
    print(f"python {sys.version.split()[0]}")
    for f in findings:
        print(f"{'ok ' if f.ok else 'BAD'} {f.what:<11} {f.detail}")
        if not f.ok:
            print(f"    fix: {f.fix}")
    problems = sum(not f.ok for f in findings)
    print("all good" if not problems else f"{problems} problem(s) found")
    return problems


def data_info(path: str | None) -> int:
    from . import datasets

    ml = datasets.load_movielens(path)
    print(datasets.format_description(datasets.describe(ml)))
    return 0


def data_download(dest: str) -> int:
    from . import datasets

    folder = datasets.download_movielens(Path(dest))
    print(f"MovieLens ml-latest-small is in {folder}; load it with load_movielens('{folder}')")
    return 0


def notebooks_run(names: list[str]) -> int:
    from .notebooks import execute_notebook, notebook_paths

    from nbclient.exceptions import CellExecutionError

    failed = []
    for path in notebook_paths(names or None):
        print(f"executing {path.name} ...", flush=True)
        try:
            seconds = execute_notebook(path)
        except CellExecutionError as exc:
            # the stored notebook is left as it was; say which cell failed and why, not the whole traceback
            print(f"  FAILED, left unchanged: {exc.ename}: {exc.evalue}", flush=True)
            failed.append(path.name)
            continue
        print(f"  done in {seconds:.0f} s", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sparrow-course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check versions, the kernel, TensorFlow on the CPU and the bundled data")
    data = sub.add_parser("data", help="the dataset").add_subparsers(dest="action", required=True)
    info = data.add_parser("info", help="print the data card's statistics")
    info.add_argument("path", nargs="?", default=None, help="a MovieLens folder (default: the bundled SparrowLens)")
    dl = data.add_parser("download", help="download real MovieLens ml-latest-small (checksum verified, cached)")
    dl.add_argument("--dest", default="movielens", help="folder to extract into (default: ./movielens)")
    nbs = sub.add_parser("notebooks", help="the notebooks").add_subparsers(dest="action", required=True)
    run = nbs.add_parser("run", help="re-execute notebooks in place with the course kernel")
    run.add_argument("names", nargs="*", help="notebook names or prefixes, e.g. 02 (default: all)")
    args = parser.parse_args(argv)
    try:
        if args.command == "doctor":
            return 1 if doctor() else 0
        if args.command == "data":
            return data_info(args.path) if args.action == "info" else data_download(args.dest)
        return notebooks_run(args.names)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"sparrow-course: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
