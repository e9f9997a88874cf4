"""Item 4: ``read_snapshot`` accepts no incomplete manifest.

Before: a contract table missing (file and entry removed), no window / id /
source (a missing source made ``is_simulated`` False), row counts unchecked,
and a table ``file`` outside the snapshot folder was opened.
"""

import json
import shutil

import pytest

from finops_lib.snapshot import SnapshotError, read_snapshot

from .conftest import tiny_snapshot


def _edit(path, fn):
    man = json.loads((path / "manifest.json").read_text())
    fn(man)
    (path / "manifest.json").write_text(json.dumps(man))


def test_missing_contract_table(tmp_path):
    path = tiny_snapshot(tmp_path / "s")
    (path / "prices.parquet").unlink()
    _edit(path, lambda m: m["tables"].pop("prices"))
    with pytest.raises(SnapshotError, match=r"misses contract tables \['prices'\]"):
        read_snapshot(path)


@pytest.mark.parametrize("key", ["window_start", "window_end", "snapshot_id", "source", "simulated", "region"])
def test_missing_identity_field(tmp_path, key):
    path = tiny_snapshot(tmp_path / "s")
    _edit(path, lambda m: m.pop(key))
    with pytest.raises(SnapshotError, match="manifest.json"):
        read_snapshot(path)


def test_row_count_is_checked(tmp_path):
    path = tiny_snapshot(tmp_path / "s", n_instances=2)
    _edit(path, lambda m: m["tables"]["instances"].update(rows=3))
    with pytest.raises(SnapshotError, match="has 2 rows, manifest says 3"):
        read_snapshot(path)


@pytest.mark.parametrize("file", ["../outside.parquet", "/etc/passwd", "sub/x.parquet", ".hidden.parquet"])
def test_table_file_outside_the_folder_is_never_opened(tmp_path, file):
    path = tiny_snapshot(tmp_path / "s")
    shutil.copy(path / "instances.parquet", tmp_path / "outside.parquet")  # same bytes, same sha256
    _edit(path, lambda m: m["tables"]["instances"].update(file=file))
    with pytest.raises(SnapshotError, match="plain file name|outside the snapshot"):
        read_snapshot(path)


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    path = tiny_snapshot(tmp_path / "s")
    shutil.move(path / "instances.parquet", tmp_path / "elsewhere.parquet")
    (path / "instances.parquet").symlink_to(tmp_path / "elsewhere.parquet")
    with pytest.raises(SnapshotError, match="outside the snapshot"):
        read_snapshot(path)


def test_unknown_table_and_bad_window(tmp_path):
    path = tiny_snapshot(tmp_path / "s")
    _edit(path, lambda m: m["tables"].update(costz={"file": "costs.parquet", "rows": 0, "sha256": "0" * 64}))
    with pytest.raises(SnapshotError, match="unknown tables"):
        read_snapshot(path)
    path = tiny_snapshot(tmp_path / "t")
    _edit(path, lambda m: m.update(window_end=m["window_start"]))
    with pytest.raises(SnapshotError, match="non-empty UTC interval"):
        read_snapshot(path)
