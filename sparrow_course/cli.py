"""The ``sparrow-course`` command: doctor, data info/download, notebooks run, workspace, progress, serve."""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .runtime import KERNEL

__all__ = ["Finding", "check_data", "check_java", "check_kernel", "check_tensorflow", "data_download", "data_info",
           "doctor", "main", "notebooks_run", "progress", "serve", "workspace"]

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
    if module == "tensorflow":  # importing it here would print its CUDA probing; check_tensorflow runs it apart
        try:
            return Finding(module, True, importlib.metadata.version("tensorflow"))
        except importlib.metadata.PackageNotFoundError:
            return Finding(module, False, "is not installed",
                           "run `python3 tasks.py setup` (or `pip install -e .[dev]`) in the course folder")
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a broken install can raise anything at import
        return Finding(module, False, f"does not import ({type(exc).__name__}: {exc})",
                       "run `python3 tasks.py setup` (or `pip install -e .[dev]`) in the course folder")
    return Finding(module, True, getattr(mod, "__version__", "installed"))


def check_kernel(name: str = KERNEL) -> Finding:
    """Is the course's Jupyter kernel registered?"""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name in specs:
        return Finding("kernel", True, f"'{name}' is registered")
    return Finding("kernel", False, f"no Jupyter kernel named '{name}'",
                   f"python -m ipykernel install --sys-prefix --name {name} (tasks.py setup does this)")


_TF_PROBE = """
from sparrow_course.seeding import import_tensorflow
tf = import_tensorflow()
with tf.device("/CPU:0"):
    value = float(tf.reduce_sum(tf.ones((2, 2))).numpy())
print(tf.__version__, value)
"""


def check_tensorflow(timeout: float = 300.0) -> Finding:
    """Does TensorFlow import and compute on the CPU? Run in a child process, whose C++ log lines
    (CUDA and XLA probing, printed before any log level applies) are captured, not shown."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    fix = "reinstall it: pip install --force-reinstall 'tensorflow>=2.16'"
    try:
        done = subprocess.run([sys.executable, "-c", _TF_PROBE], capture_output=True, text=True, env=env,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Finding("tensorflow", False, f"did not answer within {timeout:.0f} s", fix)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return Finding("tensorflow", False, f"cannot run on the CPU ({lines[-1] if lines else 'no message'})", fix)
    version, value = done.stdout.split()[-2:]
    if float(value) != 4.0:
        return Finding("tensorflow", False, f"2x2 ones summed to {value}, expected 4.0", "reinstall TensorFlow")
    return Finding("tensorflow", True, f"{version} computes on the CPU")


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


def check_java() -> Finding:
    """Is there a Java runtime (17+) for chapter 08's Spark? Optional: the other chapters do not need it."""
    from .spark import java_runtime

    java = java_runtime()
    if java["found"] and java["ok"]:
        return Finding("java", True, f"{java['version']} (for chapter 08's Spark)")
    return Finding("java", False, java["version"] or "no Java runtime found (chapter 08 needs one for Spark)",
                   java["hint"])


def doctor() -> int:
    """Print a report of the set-up; return the number of problems found."""
    findings = [_version(m) for m in KEY_PACKAGES]
    findings += [check_kernel(), check_tensorflow(), check_data(), check_java()]
    print(f"python {sys.version.split()[0]}")
    for f in findings:
        print(f"{'ok ' if f.ok else 'BAD'} {f.what:<11} {f.detail}")
        if not f.ok:
            print(f"    fix: {f.fix}")
    problems = sum(not f.ok for f in findings)
    print("all good" if not problems else f"{problems} problem(s) found")
    return problems


def data_info(path: str | None) -> int:
    """`sparrow-course data info [PATH]`: print the statistics of a dataset (the bundled one by default)."""
    from . import datasets

    ml = datasets.load_movielens(path)
    print(datasets.format_description(datasets.describe(ml)))
    return 0


def data_download(dest: str, url: str | None = None, sha256: str | None = None) -> int:
    """`sparrow-course data download`: fetch real MovieLens into the data home, its SHA-256 checked."""
    from . import datasets

    kwargs = {}
    if url is not None:
        kwargs["url"] = url
    if sha256 is not None:
        kwargs["sha256"] = sha256
    folder = datasets.download_movielens(dest, **kwargs)
    home = datasets.data_home()
    try:
        short = folder.relative_to(home)  # what load_movielens finds from any working folder
    except ValueError:
        short = folder
    print(f"MovieLens is in {folder}; load it with load_movielens('{short}')")
    return 0


def notebooks_run(names: list[str]) -> int:
    """`sparrow-course notebooks [NN ...]`: re-execute notebooks in place with the course kernel."""
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


def workspace(folder: str | None) -> int:
    """`sparrow-course workspace [FOLDER]`: copy the chapters into a folder of the learner's own."""
    from .learner import make_workspace

    print(make_workspace(folder))
    return 0


def progress(paths: list[str], run: bool, as_json: bool) -> int:
    """`sparrow-course progress`: which exercises of the workspace notebooks are solved."""
    from .learner import format_progress, progress as outcomes, progress_json

    rows = outcomes(paths, run=run)
    print(progress_json(rows) if as_json else format_progress(rows))
    return 0


def serve(port: int, *, small: bool = False, ttl: float = 600.0, seed: int | None = None) -> int:
    """`sparrow-course serve`: fit chapter 09's recommender and serve its endpoints and page on 127.0.0.1:PORT."""
    import uvicorn

    from . import serving
    from .checks import check_int, check_number
    from .datasets import load_movielens
    from .seeding import DEFAULT_SEED

    seed = DEFAULT_SEED if seed is None else seed
    port = check_int(port, "port", low=1, high=65535)
    ttl = check_number(ttl, "ttl", low=0, include_low=False)
    if small:  # a small generated SparrowLens world: fits in seconds, for trying the service out
        from . import sparrowlens

        ml = sparrowlens.generate(n_movies=300, n_users=400, mean_ratings_per_user=15, seed=seed).as_movielens()
        recommender = serving.fit_recommender(ml, eges_walks=600, rank_steps=200, per_channel=50, seed=seed,
                                              tune_users=100)
    else:
        print("fitting the channels and the ranking model on the bundled data (about a minute) ...", flush=True)
        recommender = serving.fit_recommender(load_movielens(), seed=seed)
    cache, note = serving.open_cache(ttl)
    recommender.cache = cache
    pid = cache.server_pid() if isinstance(cache, serving.RedisCache) else None
    print(f"cache: {note}{'' if pid is None else f' (server pid {pid})'}; serving http://127.0.0.1:{port}/ "
          "(Ctrl-C stops)", flush=True)
    # uvicorn re-raises SIGTERM once it has shut down; as an exception it reaches the finally below, which
    # stops the Redis server (a daemon in its own session, so a signal to this process group misses it)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(serving.make_app(recommender, name="sparrow-course serve"), host="127.0.0.1", port=port,
                    log_level="warning", lifespan="off")
    finally:
        cache.close()
        signal.signal(signal.SIGTERM, previous)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """The `sparrow-course` command: parse the arguments and run the sub-command."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="sparrow-course", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sparrow-course {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check versions, the kernel, TensorFlow on the CPU and the bundled data")
    data = sub.add_parser("data", help="the dataset").add_subparsers(dest="action", required=True)
    info = data.add_parser("info", help="print the data card's statistics")
    info.add_argument("path", nargs="?", default=None, help="a MovieLens folder (default: the bundled SparrowLens)")
    dl = data.add_parser("download", help="download real MovieLens ml-latest-small (checksum verified, cached)",
                         description="A relative --dest is placed in the data home: $SPARROW_COURSE_DATA, or "
                                     "~/sparrow_course_data when unset; load_movielens looks there too.")
    dl.add_argument("--dest", default="movielens",
                    help="folder to extract into; relative to the data home unless absolute (default: movielens)")
    dl.add_argument("--url", default=None, help="a mirror, a file:// URL or a local path of the zip "
                                                "(default: the GroupLens ml-latest-small.zip)")
    dl.add_argument("--sha256", default=None, help="expected SHA-256 of the zip (default: ml-latest-small's)")
    nbs = sub.add_parser("notebooks", help="the notebooks").add_subparsers(dest="action", required=True)
    run = nbs.add_parser("run", help="re-execute notebooks in place with the course kernel")
    run.add_argument("names", nargs="*", help="notebook names or prefixes, e.g. 02 (default: all)")
    ws = sub.add_parser("workspace", help="copy the chapters into your own folder (never overwrites your files)",
                        description="Copies the course notebooks and glossary into FOLDER (default: workspace/ in "
                                    "the course folder, ignored by git, or $SPARROW_COURSE_WORKSPACE). Run it again "
                                    "after `git pull` to add new chapters; files already there are kept.")
    ws.add_argument("folder", nargs="?", default=None, help="where to put your copies")
    pg = sub.add_parser("progress", help="which exercises you have solved, per chapter",
                        description="Executes your notebooks headless (in memory: the files are not changed) "
                                    "and lists each exercise's outcome; --no-run reads the saved outputs instead.")
    pg.add_argument("paths", nargs="*", help="workspace folders or notebooks (default: the workspace)")
    pg.add_argument("--no-run", dest="run", action="store_false", help="read saved outputs; do not execute")
    pg.add_argument("--json", dest="as_json", action="store_true", help="print JSON for tools")
    sv = sub.add_parser("serve", help="serve chapter 09's recommender: /getrecforyou, /getsimilarmovie, a page",
                        description="Fits the recall channels and the ranking model, then serves SparrowRecSys's "
                                    "endpoints and a page of movie cards on loopback until Ctrl-C.")
    sv.add_argument("--port", type=int, default=6010, help="port on 127.0.0.1 (default: 6010, as SparrowRecSys)")
    sv.add_argument("--ttl", type=float, default=600.0, help="seconds a cached list lives (default: 600)")
    sv.add_argument("--small", action="store_true", help="a small generated dataset: ready in seconds")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args.port, small=args.small, ttl=args.ttl)
        if args.command == "workspace":
            return workspace(args.folder)
        if args.command == "progress":
            return progress(args.paths, args.run, args.as_json)
        if args.command == "doctor":
            return 1 if doctor() else 0
        if args.command == "data":
            if args.action == "info":
                return data_info(args.path)
            return data_download(args.dest, args.url, args.sha256)
        return notebooks_run(args.names)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"sparrow-course: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
