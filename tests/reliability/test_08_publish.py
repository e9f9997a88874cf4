"""Item 8: publishing never leaves the target missing; stale temp folders are cleaned.

Before: an interrupt between the two renames of publish/overwrite left the
target missing and the old content only in a hidden ``.old-*`` folder;
``.raw-*`` / ``.old-*`` folders were never cleaned up; concurrent
``--overwrite`` writers could end in a raw FileNotFoundError.
"""

import multiprocessing
import os

import pytest

from finops_lib import evaluate, storage
from finops_lib.snapshot import prepare_target, read_snapshot, write_snapshot

from .conftest import MANIFEST, leftovers, tiny_snapshot, tiny_tables


def _interrupt_second_rename(monkeypatch):
    """No atomic exchange, and a Ctrl-C right between the two renames."""
    monkeypatch.setattr(storage, "_exchange", lambda a, b: False)
    real = os.rename
    calls = []

    def rename(a, b):
        calls.append((a, b))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr(storage.os, "rename", rename)


def test_interrupted_overwrite_is_recovered_at_the_next_start(tmp_path, monkeypatch):
    target = tiny_snapshot(tmp_path / "Y", n_instances=2)
    old_id = read_snapshot(target).snapshot_id
    with monkeypatch.context() as m:
        _interrupt_second_rename(m)
        with pytest.raises(KeyboardInterrupt):
            write_snapshot(tiny_tables(3), MANIFEST, target, overwrite=True)
    assert not target.exists() and len(list(tmp_path.glob(".Y.old-*"))) == 1  # the window of item 8
    note = prepare_target(target)  # what every collection does first, under the lock
    assert "restored" in note and read_snapshot(target).snapshot_id == old_id
    assert leftovers(tmp_path) == []


def test_with_atomic_exchange_the_target_is_never_missing(tmp_path, monkeypatch):
    target = tiny_snapshot(tmp_path / "Y", n_instances=2)

    def interrupted_cleanup(path, *a, **k):
        assert target.is_dir() and len(read_snapshot(target)["instances"]) == 3  # new one already in place
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(storage.shutil, "rmtree", interrupted_cleanup)
        with pytest.raises(KeyboardInterrupt):
            write_snapshot(tiny_tables(3), MANIFEST, target, overwrite=True)
    assert len(read_snapshot(target)["instances"]) == 3
    write_snapshot(tiny_tables(3), MANIFEST, target)  # next write cleans the swapped-out copy
    assert leftovers(tmp_path) == []


def test_stale_temp_folders_of_this_target_are_removed_and_others_kept(tmp_path):
    target = tiny_snapshot(tmp_path / "Y")
    for name in (".Y.raw-ab12", ".Y.tmp-cd34", ".Y.old-ef56", ".Z.raw-9999", "Y.raw-notours"):
        (tmp_path / name).mkdir()
    assert prepare_target(target) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".Z.raw-9999", "Y", "Y.raw-notours"]


def test_interrupted_result_publish_is_recovered_by_the_next_evaluate(project, monkeypatch):
    res = project["results"]
    (res / "tiny").mkdir(parents=True)
    (res / "tiny" / "metrics.json").write_text('{"metrics": {}}')
    storage.write_result_marker(res / "tiny", "tiny")
    os.rename(res / "tiny", res / ".tiny.old-1234")  # state after the first of the two renames
    monkeypatch.setattr(evaluate, "ensure_snapshot", lambda *a, **k: (_ for _ in ()).throw(OSError("no data")))
    assert evaluate.evaluate(["tiny"], experiments_dir=project["experiments"], notebooks_dir=project["notebooks"],
                             results_dir=res, progress=False) == 1
    assert (res / "tiny" / "metrics.json").exists() and not list(res.glob(".tiny.old-*"))


def _overwrite_many(target, k, rounds):
    for r in range(rounds):
        write_snapshot(tiny_tables(1 + (k + r) % 4), MANIFEST, target, overwrite=True)


def test_concurrent_overwrite_writers_all_succeed(tmp_path):
    target = tmp_path / "Y"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_overwrite_many, args=(target, k, 3)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert 1 <= len(read_snapshot(target)["instances"]) <= 4
    assert leftovers(tmp_path) == []
