"""Item 1: two ``finops evaluate`` runs of one experiment must not corrupt each other.

Before: run 2 deleted run 1's ``.partial``, run 1's failure handler renamed run
2's live folder to ``.FAILED``, run 2 exited 0 with a result missing its
figures. Now one run per results folder holds a lock: the second stops with
exit code 3 (nothing changed) or, with ``--wait``, runs after the first.
Item 10 is checked on the same runs: no kernel noise on stderr.
"""

import time

import pytest

from finops_lib import exit_codes

from .conftest import assert_complete_result, evaluate_args, finops, leftovers


def _start_slow_first_run(project, sleep_s=15.0):  # a second process needs ~5-10 s to start on 2 busy cores
    (project["experiments"] / "tiny.yaml").write_text(
        f"notebook: 01-tiny\nheadline: [instances_count]\nparameters: {{sleep_s: {sleep_s}}}\n")
    first = finops(*evaluate_args(project))
    partial = project["results"] / "tiny.partial"
    deadline = time.monotonic() + 90
    while not partial.exists():  # the first run holds the lock and is executing its notebook
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "first run never started its notebook"
        time.sleep(0.1)
    return first


@pytest.mark.slow
def test_a_second_run_stops_with_exit_3_and_the_first_publishes_a_complete_result(project):
    first = _start_slow_first_run(project)
    second = finops(*evaluate_args(project))
    _, err2 = second.communicate(timeout=60)
    assert second.returncode == exit_codes.BUSY, err2
    assert "in use by another finops run (pid" in err2 and "--wait" in err2
    assert first.poll() is None  # the second run did not disturb the first
    _, err1 = first.communicate(timeout=180)
    assert first.returncode == exit_codes.OK, err1
    res = project["results"]
    assert_complete_result(res / "tiny")
    assert not (res / "tiny.FAILED").exists() and leftovers(res) == []
    assert "`instances_count` = 2" in (res / "index.md").read_text()
    # item 10: a successful run prints nothing that reads like a failure
    assert "without encryption" not in err1 and "KeyboardInterrupt" not in err1 and "ERROR" not in err1


@pytest.mark.slow
def test_a_second_run_with_wait_runs_after_the_first(project):
    first = _start_slow_first_run(project, sleep_s=2.0)
    second = finops(*evaluate_args(project, "--wait"))
    _, err1 = first.communicate(timeout=180)
    _, err2 = second.communicate(timeout=180)
    assert (first.returncode, second.returncode) == (exit_codes.OK, exit_codes.OK), err1 + err2
    res = project["results"]
    assert_complete_result(res / "tiny")
    assert not (res / "tiny.FAILED").exists() and leftovers(res) == []
