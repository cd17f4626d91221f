"""The sparrow-course command: doctor, data info, notebooks run arguments."""
from __future__ import annotations

import os
import re
import shutil
import signal
import time

import pytest

from sparrow_course import cli, serving


@pytest.mark.tensorflow   # the doctor imports TensorFlow in a child process
def test_doctor_reports_each_check(capfd):
    problems = cli.doctor()
    out, err = capfd.readouterr()  # file descriptors: TensorFlow's C++ log lines would land here
    for what in ("numpy", "tensorflow", "kernel", "data"):
        assert what in out
    assert problems == out.count("BAD ")
    assert out.count("fix: ") == problems
    # One line per finding and nothing else: no CUDA/XLA probing lines from TensorFlow.
    assert all(line.startswith(("python ", "ok  ", "BAD ", "    fix: ", "all good")) or "problem(s)" in line
               for line in out.splitlines()), out
    assert "cuda" not in (out + err).lower() and err == ""


def test_data_check_finds_a_changed_file(tmp_path):
    data = cli.DATA_DIR
    for f in data.iterdir():
        if f.suffix in {".csv", ""} and f.is_file():
            shutil.copy(f, tmp_path / f.name)
    assert cli.check_data(tmp_path).ok
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(ratings.read_text() + "1,1,5.0,0\n")
    finding = cli.check_data(tmp_path)
    assert not finding.ok and "ratings.csv changed" in finding.detail and "regenerate" in finding.fix
    (tmp_path / "SHA256SUMS").unlink()
    assert "no checksum file" in cli.check_data(tmp_path).detail


def test_missing_kernel_has_a_fix_line():
    finding = cli.check_kernel("no-such-kernel-here")
    assert not finding.ok and "ipykernel install" in finding.fix


def test_data_info_prints_the_card_statistics(capsys):
    assert cli.main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "ratings" in out.lower() and "movies" in out.lower()


def test_unknown_notebook_is_a_clear_error(capsys):
    assert cli.main(["notebooks", "run", "99_nothing"]) == 2
    assert "no notebook matches '99_nothing'" in capsys.readouterr().err


def test_usage_errors_exit_with_argparse_code():
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2


def test_version(capsys):
    from sparrow_course import __version__

    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"sparrow-course {__version__}"


def _fake_zip(tmp_path):
    import zipfile

    src = tmp_path / "mirror" / "ml-latest-small.zip"
    src.parent.mkdir()
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("ml-latest-small/movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n")
        zf.writestr("ml-latest-small/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    import hashlib

    return src, hashlib.sha256(src.read_bytes()).hexdigest()


def test_data_download_from_a_local_url_into_the_data_home(tmp_path, monkeypatch, capsys):
    src, digest = _fake_zip(tmp_path)
    monkeypatch.setenv("SPARROW_COURSE_DATA", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cli.main(["data", "download", "--url", str(src), "--sha256", digest]) == 0
    out = capsys.readouterr().out
    assert "load_movielens('movielens/ml-latest-small')" in out
    assert (tmp_path / "home" / "movielens" / "ml-latest-small" / "ratings.csv").is_file()


def test_data_download_to_a_file_is_a_clear_error(tmp_path, monkeypatch, capsys):
    src, digest = _fake_zip(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "taken").write_text("x\n")
    assert cli.main(["data", "download", "--dest", str(tmp_path / "taken"), "--url", src.as_uri(),
                     "--sha256", digest]) == 2
    err = capsys.readouterr().err
    assert "is a file; expected a folder" in err and ".tmp" not in err


def test_serve_refuses_a_bad_port(capsys):
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "port must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.tensorflow
def test_serve_serves_the_endpoints_and_the_page(request):
    import json
    import urllib.error
    import urllib.request

    from lab_process import free_port, start_serve, stop_group

    port = free_port()
    server = start_serve(port)
    request.addfinalizer(lambda: stop_group(server))
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(base + "/getrecforyou?id=1&size=4", timeout=60) as r:
        body = json.loads(r.read())
    assert len(body["movies"]) == 4 and body["userId"] == 1
    with urllib.request.urlopen(base + "/getsimilarmovie?movieId=1&size=2", timeout=60) as r:
        assert len(json.loads(r.read())["movies"]) == 2
    with urllib.request.urlopen(base + "/?id=1&size=3", timeout=60) as r:
        assert r.read().decode().count('class="card"') == 3
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(base + "/getrecforyou?id=x", timeout=60)
    assert bad.value.code == 400 and "id must be an integer" in json.loads(bad.value.read())["error"]
    # the Redis server is a daemon in its own session: stopping serve's process group must still stop it
    first = server.stdout.readline().decode()
    assert first.startswith("cache: "), first
    found = re.search(r"\(server pid (\d+)\)", first)
    stop_group(server)
    if found:  # a real Redis (else the in-process cache, which dies with serve)
        redis_pid = int(found.group(1))
        deadline = time.monotonic() + 10
        while serving.pid_alive(redis_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        leaked = serving.pid_alive(redis_pid)
        if leaked:
            os.kill(redis_pid, signal.SIGTERM)  # a failing test leaves nothing behind either
        assert not leaked, "serve's Redis server outlived it"
