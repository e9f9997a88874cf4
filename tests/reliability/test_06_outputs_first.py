"""Item 6: a bad output location is found before the first API call.

Before: a bad ``--out`` surfaced only after the collection (~20 s of sandbox;
on AWS after the paid Cost Explorer calls); ``--out /proc/x`` and
``finops figures --out /proc/x`` ended in a raw traceback.
"""

import time

import pytest

from finops_lib import cli, exit_codes
from finops_lib.collect import aws
from finops_lib.collect.core import collect_snapshot
from finops_lib.storage import OutputError

from .conftest import tiny_snapshot


@pytest.fixture
def no_api(monkeypatch):
    """Any AWS client or sandbox collection fails the test: nothing may be called."""
    from finops_lib import sandbox

    monkeypatch.setattr(aws, "make_clients", lambda *a, **k: pytest.fail("an API client was built"))
    monkeypatch.setattr(sandbox, "collect_sandbox_snapshot", lambda *a, **k: pytest.fail("collected"))


@pytest.mark.parametrize("source", ["sandbox", "aws"])
def test_collect_to_proc_is_a_clear_error_before_anything(no_api, capsys, source):
    t0 = time.perf_counter()
    assert cli.main(["collect", "--source", source, "--out", "/proc/x", "--no-progress"]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "not writable" in err and "Traceback" not in err
    assert time.perf_counter() - t0 < 5


def test_collect_onto_a_file_is_a_clear_error(no_api, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert cli.main(["collect", "--out", str(tmp_path / "f"), "--no-progress"]) == exit_codes.USAGE
    assert "is a file" in capsys.readouterr().err


def test_library_collect_checks_out_dir_before_building_clients(no_api, tmp_path):
    with pytest.raises(OutputError, match="not writable"):
        collect_snapshot(None, region="eu-central-1", window_start="2026-11-01", window_end="2026-11-02",
                         out_dir="/proc/x", progress=False)


def test_figures_to_proc_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["figures", "--out", "/proc/x", "--results", str(tmp_path)]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "not writable" in err and "Traceback" not in err


def test_evaluate_into_an_unwritable_results_folder_runs_nothing(project, capsys):
    assert cli.main(["evaluate", "tiny", "--experiments", str(project["experiments"]), "--notebooks",
                     str(project["notebooks"]), "--results", "/proc/x", "--no-progress"]) == exit_codes.USAGE
    assert "not writable" in capsys.readouterr().err


def test_evaluate_into_a_file_runs_nothing(project, tmp_path, capsys):
    target = tmp_path / "results-file"
    target.write_text("x")
    assert cli.main(["evaluate", "tiny", "--experiments", str(project["experiments"]), "--notebooks",
                     str(project["notebooks"]), "--results", str(target), "--no-progress"]) == exit_codes.USAGE
    assert target.read_text() == "x"


def test_an_existing_snapshot_target_passes_the_check(tmp_path):
    from finops_lib.storage import check_snapshot_target

    snap = tiny_snapshot(tmp_path / "s")
    assert check_snapshot_target(snap) == snap  # ours: may be replaced (same id or --overwrite)
