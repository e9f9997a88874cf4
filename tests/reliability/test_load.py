"""Bounded concurrent load on loopback: 8 runs at once, nothing lost, nothing half-written.

Two sandbox collections of one tiny world into the same target, and six
evaluate runs into three results folders (two per folder), all started
together on a 2-core machine. Every run ends with 0 (or 3 = busy, only for
the runs without ``--wait``); every snapshot and result is complete and
readable; no temporary folder is left.
"""

import pytest

from finops_lib import exit_codes
from finops_lib.snapshot import read_snapshot

from .conftest import assert_complete_result, evaluate_args, finops, leftovers


@pytest.mark.slow
def test_eight_parallel_collect_and_evaluate_runs(project, tmp_path):
    target = tmp_path / "snaps" / "tiny-world"
    collect = ["collect", "--source", "sandbox", "--instances", "2", "--days", "1", "--seed", "5",
               "--out", target, "--no-progress"]
    env = {}  # BoaviztAPI as configured (a missing one is a gap in power_profiles, not a failure)
    folders = {name: tmp_path / name for name in ("A", "B", "C")}
    runs = [
        ("collect-wait", finops(*collect, "--wait", env=env), True),
        ("collect", finops(*collect, env=env), False),
    ]
    for name, folder in folders.items():
        wait = name != "B"  # B: the second run may stop with 3
        for k in range(2):
            runs.append((f"evaluate-{name}{k}", finops(*evaluate_args(project, *(["--wait"] if wait else []),
                                                                      results=folder)), wait))
    codes = {}
    for name, proc, _ in runs:
        _, err = proc.communicate(timeout=600)
        codes[name] = (proc.returncode, err[-2000:])
    for name, _proc, wait in runs:
        rc, err = codes[name]
        assert rc in ((exit_codes.OK,) if wait else (exit_codes.OK, exit_codes.BUSY)), f"{name}: {err}"
        if rc == exit_codes.BUSY:
            assert "in use by another finops run" in err
    assert sum(codes[f"evaluate-B{k}"][0] == exit_codes.OK for k in range(2)) >= 1
    snap = read_snapshot(target)  # complete and verified
    assert snap.is_simulated and len(snap["instances"]) == 2
    assert leftovers(target.parent) == []
    for folder in folders.values():
        assert_complete_result(folder / "tiny")
        assert not (folder / "tiny.FAILED").exists() and leftovers(folder) == []
        assert "`instances_count` = 2" in (folder / "index.md").read_text()
