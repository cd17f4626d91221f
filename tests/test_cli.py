"""The sparrow-course command: doctor, data info, notebooks run arguments."""
from __future__ import annotations

import shutil

import pytest

from sparrow_course import cli


def test_doctor_reports_each_check(capsys):
    problems = cli.doctor()
    out = capsys.readouterr().out
    for what in ("numpy", "tensorflow", "kernel", "data"):
        assert what in out
    assert problems == out.count("BAD ")
    assert out.count("fix: ") == problems


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
