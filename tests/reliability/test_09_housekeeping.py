"""Item 9 (the parts of this engineer): folder permissions and one exit-code convention.

Before: snapshot folders were created 0700 while their files were 0644; a bad
world config exited 1 and a bad ``--days`` 2. Now: 0 ok, 1 the work failed,
2 bad input found before any work, 3 busy; all listed in ``--help``.
"""

import os
import stat
import threading

import pytest

from finops_lib import cli, exit_codes, storage

from .conftest import tiny_snapshot


def test_snapshot_folder_mode_follows_the_umask_like_its_files(tmp_path):
    old = os.umask(0o022)
    try:
        snap = tiny_snapshot(tmp_path / "s")
    finally:
        os.umask(old)
    assert stat.S_IMODE(snap.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in snap.iterdir()} == {0o644}


@pytest.mark.parametrize("argv", [
    ["collect", "--source", "sandbox", "--instances", "-5"],
    ["collect", "--source", "sandbox", "--days", "0"],
    ["collect", "--source", "sandbox", "--days", "400"],
    ["collect", "--source", "aws", "--days", "120"],
    ["collect", "--source", "sandbox", "--power-source", "none"],
])
def test_bad_input_is_exit_code_2_before_any_work(tmp_path, argv, capsys):
    assert cli.main([*argv, "--out", str(tmp_path / "s"), "--no-progress"]) == exit_codes.USAGE
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # nothing written


def test_argparse_errors_use_the_same_code(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["collect", "--days", "seven", "--out", "x"])
    assert info.value.code == exit_codes.USAGE


def test_busy_target_is_exit_code_3(tmp_path, capsys):
    out = tmp_path / "s"
    held, release = threading.Event(), threading.Event()

    def holder():  # another thread = another lock holder (like another process)
        with storage.lock(storage.lock_path_for(out), "x"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        held.wait(10)
        rc = cli.main(["collect", "--source", "sandbox", "--instances", "2", "--days", "1", "--out", str(out),
                       "--no-progress"])
    finally:
        release.set()
        t.join()
    assert rc == exit_codes.BUSY
    assert "in use by another finops run" in capsys.readouterr().err


def test_help_documents_the_convention(capsys):
    for argv in (["--help"], ["collect", "--help"], ["evaluate", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        text = capsys.readouterr().out
        assert "exit codes:" in text and "another finops run" in text and "nothing was changed" in text


def test_unknown_aws_profile_is_exit_code_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    rc = cli.main(["collect", "--source", "aws", "--profile", "no-such-profile", "--out", str(tmp_path / "s"),
                   "--no-progress"])
    assert rc == exit_codes.USAGE and "no-such-profile" in capsys.readouterr().err
