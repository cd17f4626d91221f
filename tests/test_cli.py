"""The sparrow-course command: doctor, data info, notebooks run arguments."""
from __future__ import annotations

import shutil

import pytest

from sparrow_course import cli


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
