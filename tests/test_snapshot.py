"""Snapshots: deterministic Parquet, hashes verified on read, atomic and non-clobbering writes."""

import json

import pandas as pd
import pytest

from finops_lib import schema
from finops_lib.snapshot import SnapshotError, read_snapshot, write_snapshot

MANIFEST = {"source": "aws", "region": "eu-central-1", "zone": "DE",
            "window_start": "2026-11-01T00:00:00Z", "window_end": "2026-11-02T00:00:00Z",
            "api_calls": {"cloudtrail.LookupEvents": 5}, "coverage": {"cloudwatch": 0.5}}


def _tables():
    t = {name: schema.empty_table(name) for name in schema.TABLES}
    t["cpu_hourly"] = pd.DataFrame({
        "instance_id": ["i-b", "i-a"],  # deliberately not sorted: order must be kept
        "hour": pd.to_datetime(["2026-11-01T01:00Z", "2026-11-01T00:00Z"], utc=True),
        "cpu_util_frac": [0.25, float("nan")], "cpu_util_max_frac": [0.5, 0.1], "sample_count": [12.0, 3.0],
    })
    t["instances"] = pd.DataFrame({
        "instance_id": ["i-a"], "instance_type": ["m5.large"], "region": ["eu-central-1"], "az": ["eu-central-1a"],
        "platform": ["linux"], "lifecycle": ["on-demand"], "launch_time": [pd.Timestamp("2026-10-01T08:00Z")],
        "state": ["running"], "tags": ['{"team": "web"}'], "vcpu": [2], "memory_gib": [8.0],
    })
    return t


def test_round_trip_and_manifest(tmp_path):
    path = write_snapshot(_tables(), MANIFEST, tmp_path / "snap")
    snap = read_snapshot(path)
    pd.testing.assert_frame_equal(snap["cpu_hourly"], schema.conform("cpu_hourly", _tables()["cpu_hourly"]))
    assert snap["cpu_hourly"]["instance_id"].tolist() == ["i-b", "i-a"]
    assert snap["instances"]["vcpu"].dtype == "Int64"
    m = snap.manifest
    for key in ("snapshot_id", "source", "simulated", "region", "zone", "window_start", "window_end",
                "created_at", "git_commit", "packages", "tables", "api_calls", "coverage", "gaps", "warnings"):
        assert key in m
    assert m["tables"]["cpu_hourly"]["rows"] == 2 and len(m["tables"]["cpu_hourly"]["sha256"]) == 64
    assert m["packages"]["pandas"] == pd.__version__ and m["simulated"] is False and not snap.is_simulated
    assert snap.window_start == pd.Timestamp("2026-11-01T00:00Z") and snap.window_end.tz is not None
    assert m["api_calls"] == {"cloudtrail.LookupEvents": 5}


def test_sandbox_is_simulated(tmp_path):
    snap = read_snapshot(write_snapshot(_tables(), {**MANIFEST, "source": "sandbox"}, tmp_path / "s"))
    assert snap.is_simulated and snap.manifest["simulated"] is True


def test_same_input_gives_byte_identical_parquet(tmp_path):
    a = write_snapshot(_tables(), MANIFEST, tmp_path / "a")
    b = write_snapshot(_tables(), MANIFEST, tmp_path / "b")
    for name in schema.TABLES:
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert ma["snapshot_id"] == mb["snapshot_id"]
    changed = _tables()
    changed["cpu_hourly"].loc[0, "cpu_util_frac"] = 0.26
    c = write_snapshot(changed, MANIFEST, tmp_path / "c")
    assert json.loads((c / "manifest.json").read_text())["snapshot_id"] != ma["snapshot_id"]


def test_changed_byte_is_detected(tmp_path):
    path = write_snapshot(_tables(), MANIFEST, tmp_path / "snap")
    f = path / "cpu_hourly.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="cpu_hourly.parquet"):
        read_snapshot(path)


def test_missing_file_and_missing_manifest(tmp_path):
    path = write_snapshot(_tables(), MANIFEST, tmp_path / "snap")
    (path / "prices.parquet").unlink()
    with pytest.raises(SnapshotError, match="prices.parquet is missing"):
        read_snapshot(path)
    (path / "manifest.json").unlink()
    with pytest.raises(SnapshotError, match="manifest.json not found"):
        read_snapshot(path)


def test_refuses_to_overwrite_a_different_snapshot(tmp_path):
    path = write_snapshot(_tables(), MANIFEST, tmp_path / "snap")
    old_id = read_snapshot(path).snapshot_id
    write_snapshot(_tables(), MANIFEST, path)  # same content: fine
    changed = _tables()
    changed["cpu_hourly"] = changed["cpu_hourly"].iloc[:1]
    with pytest.raises(SnapshotError, match=old_id):
        write_snapshot(changed, MANIFEST, path)
    assert read_snapshot(path).snapshot_id == old_id
    write_snapshot(changed, MANIFEST, path, overwrite=True)
    assert read_snapshot(path).manifest["tables"]["cpu_hourly"]["rows"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no temp or old dirs left


def test_bad_table_leaves_nothing_behind(tmp_path):
    bad = _tables()
    bad["prices"] = bad["prices"].drop(columns=["sku"])
    with pytest.raises(schema.SchemaError, match="sku"):
        write_snapshot(bad, MANIFEST, tmp_path / "snap")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(schema.SchemaError, match="unknown table"):
        write_snapshot({"costz": pd.DataFrame()}, MANIFEST, tmp_path / "snap")


def test_not_a_snapshot_directory_is_not_clobbered(tmp_path):
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "notes.txt").write_text("keep me")
    with pytest.raises(SnapshotError, match="not a snapshot"):
        write_snapshot(_tables(), MANIFEST, tmp_path / "snap")
    assert (tmp_path / "snap" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("manifest_text", [None, "not json", "[1, 2]", '{"source": "aws"}', '{"snapshot_id": ""}'])
def test_overwrite_never_deletes_a_directory_that_is_not_a_snapshot(tmp_path, manifest_text):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    if manifest_text is not None:
        (home / "manifest.json").write_text(manifest_text)
    with pytest.raises(SnapshotError, match="not a snapshot") as err:
        write_snapshot(_tables(), MANIFEST, home, overwrite=True)
    msg = str(err.value).replace(str(home), "<dir>")
    assert "overwrite" not in msg  # do not suggest the flag for a foreign directory
    assert (home / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no temp dirs left


def test_existing_file_path_is_a_snapshot_error(tmp_path):
    target = tmp_path / "snap"
    target.write_text("a file")
    for overwrite in (False, True):
        with pytest.raises(SnapshotError, match="is a file"):
            write_snapshot(_tables(), MANIFEST, target, overwrite=overwrite)
    assert target.read_text() == "a file"


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', '{"tables": {"prices": 3}}'])
def test_manifest_that_is_json_but_not_an_object_is_a_snapshot_error(tmp_path, text):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(SnapshotError, match="manifest.json"):
        read_snapshot(tmp_path)


def test_intensity_of_the_zone_inside_the_window_and_prices(tmp_path):
    t = _tables()
    hours = pd.to_datetime(["2026-10-31T23:00Z", "2026-11-01T00:00Z", "2026-11-01T05:00Z", "2026-11-02T00:00Z"], utc=True)
    t["intensity_hourly"] = pd.DataFrame({
        "zone": ["DE", "DE", "FR", "DE"], "hour": hours, "intensity_g_per_kwh": [1.0, 2.0, 3.0, 4.0],
        "emission_factor_type": "lifecycle", "is_estimated": False, "estimation_method": pd.NA,
        "source": "electricitymaps"})
    t["prices"] = pd.DataFrame({"instance_type": ["m5.large", "m5.large"], "region": ["eu-central-1", "eu-central-1"],
                                "operating_system": "Linux", "usd_per_hour": [0.115, 0.115],
                                "effective_date": pd.Timestamp("2026-01-01T00:00Z"), "sku": ["A", "B"]})
    snap = read_snapshot(write_snapshot(t, MANIFEST, tmp_path / "s"))
    assert snap.zone == "DE"
    # only DE, only hours in [window_start, window_end)
    assert snap.intensity().to_dict() == {pd.Timestamp("2026-11-01T00:00Z"): 2.0}
    assert snap.usd_per_hour() == {"m5.large": 0.115}
    no_zone = read_snapshot(write_snapshot(t, {**MANIFEST, "zone": None, "region": "xx-nowhere-1"}, tmp_path / "z"))
    with pytest.raises(SnapshotError, match="no zone"):
        _ = no_zone.zone
