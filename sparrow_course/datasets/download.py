"""Real MovieLens: download ml-latest-small (or a mirror, or a local zip), check its SHA-256, unpack atomically."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from .movielens import DataError, _find_csv_folder, data_home

__all__ = ["ML_LATEST_SMALL_SHA256", "ML_LATEST_SMALL_URL", "download_movielens"]

ML_LATEST_SMALL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
# Pinned by TensorFlow Datasets (tensorflow_datasets/url_checksums/movie_lens.txt lists
# this URL at 978,202 bytes with this digest) and by several projects that download it.
ML_LATEST_SMALL_SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"


# ---------------------------------------------------------------------------
# Real MovieLens
# ---------------------------------------------------------------------------


def _default_cache_dir() -> Path:
    """Return the archive cache folder: $XDG_CACHE_HOME/sparrow-course or ~/.cache/sparrow-course."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sparrow-course"


def download_movielens(dest: str | os.PathLike[str] = "movielens", *, url: str = ML_LATEST_SMALL_URL,
                       sha256: str | None = ML_LATEST_SMALL_SHA256,
                       cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Download a MovieLens zip (cached, SHA-256 checked), unpack it into ``dest``; return the CSV folder.

    A relative ``dest`` is placed in the data home (``data_home()``: $SPARROW_COURSE_DATA or
    ``~/sparrow_course_data``), where ``load_movielens`` also looks, so
    ``load_movielens("movielens/ml-latest-small")`` finds it from any working folder; an
    absolute ``dest`` is used as is. ``url`` may be a mirror, a ``file://`` URL or a local
    path to a copy of the zip. The archive is kept in ``cache_dir`` (default
    ``~/.cache/sparrow-course``) so a second call does not download again. With ``sha256=None``
    nothing unverified is used: the file is fetched, its digest reported in the error, and discarded.
    """
    if not isinstance(url, str) or not url:
        raise TypeError(f"url must be a non-empty str, got {url!r}")
    if not isinstance(dest, (str, os.PathLike)):
        raise TypeError(f"dest must be a str or os.PathLike, got {type(dest).__name__}")
    if "://" not in url and Path(url).expanduser().is_file():  # a local copy of the archive
        url = Path(url).expanduser().resolve().as_uri()
    if sha256 is not None:
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise ValueError(f"sha256 must be 64 hex digits or None, got {sha256!r}")
        sha256 = sha256.lower()
    dest = Path(dest).expanduser()
    if not dest.is_absolute():
        dest = data_home() / dest
    if dest.exists() and not dest.is_dir():
        raise DataError(f"destination '{dest}' is a file; expected a folder to unpack into (new or empty)")
    archive_name = Path(urllib.parse.urlparse(url).path).name or "movielens.zip"
    if not archive_name.endswith(".zip"):
        raise ValueError(f"url must point to a .zip archive, got one ending in '{archive_name}'")

    # Already unpacked by an earlier call: nothing to do.
    if dest.is_dir() and any(dest.iterdir()):
        try:
            return _find_csv_folder(dest)
        except DataError:
            raise DataError(f"destination '{dest.name}' exists and is not empty but holds no MovieLens files; "
                            "choose an empty or new folder") from None

    cache = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / archive_name
    if archive.is_file() and sha256 is not None and _sha256_of(archive) != sha256:
        archive.unlink()  # stale or corrupt cache entry: fetch again
    if not archive.is_file() or sha256 is None:
        _fetch(url, archive, sha256)
    _extract_atomically(archive, dest)
    return _find_csv_folder(dest)


def _sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, archive: Path, sha256: str | None) -> None:
    """Download ``url`` into ``archive`` via a temp file, keeping it only if its SHA-256 matches."""
    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".part", dir=archive.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s)/file by design
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ConnectionError(f"could not download {url}: {reason}. Check the network, or pass "
                                      "url= a mirror or a file:// URL of a local copy.") from None
        got = digest.hexdigest()
        if sha256 is None:
            raise DataError(f"no SHA-256 given for {archive.name}, so the download was not used. Its SHA-256 is "
                            f"{got}; if you trust this file, call again with sha256='{got}'.")
        if got != sha256:
            raise DataError(f"checksum mismatch for {archive.name}: expected SHA-256 {sha256}, got {got}; the "
                            "download was discarded (a changed or corrupted file on the server, or a wrong url; "
                            "for another archive you trust, pass its SHA-256 as sha256= or --sha256).")
        os.replace(tmp, archive)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _extract_atomically(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into a temp folder beside ``dest``, then rename it to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = Path(member)
                    # Refuse paths that would land outside the folder ("zip slip").
                    if target.is_absolute() or ".." in target.parts:
                        raise DataError(f"{archive.name} has an unsafe member path {member!r}; refusing to unpack")
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{archive.name} is not a valid zip archive: {exc}") from None
        try:
            _find_csv_folder(tmp)  # fail before renaming if the archive holds no MovieLens files
        except DataError:
            raise DataError(f"{archive.name} holds no movies.csv (at its top level or in one folder); "
                            "expected a MovieLens archive such as ml-latest-small.zip") from None
        if dest.is_dir():
            dest.rmdir()  # empty (checked by the caller); rename needs it gone
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
