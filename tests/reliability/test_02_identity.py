"""Item 2: simulated data can never be labelled real.

Before: ``read_snapshot`` did not recompute ``snapshot_id``, so editing
``"source": "aws", "simulated": false`` into a sandbox manifest kept its id and
``metrics.json`` said ``is_simulated: false``; ``finops collect --source aws``
with the environment ``finops sandbox serve`` prints wrote moto data as real
AWS, endpoint overrides unrecorded, and ``ELECTRICITYMAPS_URL`` read by nothing.
"""

import json

import boto3
import pytest

from finops_lib.collect import carbon
from finops_lib.collect.core import (
    Endpoints,
    collect_snapshot,
    endpoint_overrides,
    not_real_reasons,
)
from finops_lib.snapshot import SnapshotError, read_snapshot

from .conftest import tiny_snapshot


@pytest.mark.parametrize("edit", [
    {"source": "aws", "simulated": False},
    {"simulated": False},  # also caught by "sandbox but not simulated"
    {"source": "aws"},  # simulated stays true, but the id covers source
    {"region": "us-east-1"},
    {"window_end": "2026-11-03T00:00:00+00:00"},
    {"endpoints": {"aws.ec2": "https://ec2.eu-central-1.amazonaws.com"}},
])
def test_editing_an_identity_field_makes_the_snapshot_unreadable(tmp_path, edit):
    path = tiny_snapshot(tmp_path / "s", endpoints={"aws.ec2": "http://127.0.0.1:5000"})
    assert read_snapshot(path).is_simulated
    man = json.loads((path / "manifest.json").read_text())
    man.update(edit)
    (path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(SnapshotError, match="manifest was edited|sandbox' but simulated false"):
        read_snapshot(path)


def test_loopback_ports_do_not_change_the_id_but_the_host_does(tmp_path):
    a = read_snapshot(tiny_snapshot(tmp_path / "a", endpoints={"aws.ec2": "http://127.0.0.1:5000"}))
    b = read_snapshot(tiny_snapshot(tmp_path / "b", endpoints={"aws.ec2": "http://127.0.0.1:6000"}))
    c = read_snapshot(tiny_snapshot(tmp_path / "c", endpoints={"aws.ec2": "https://ec2.eu-central-1.amazonaws.com"}))
    assert a.snapshot_id == b.snapshot_id != c.snapshot_id


def test_non_aws_endpoints_are_reasons_and_real_ones_are_not():
    real = {f"aws.{s}": f"https://{s}.eu-central-1.amazonaws.com" for s in ("ec2", "ce", "pricing")}
    real["electricitymaps"] = carbon.EM_BASE_URL
    assert not_real_reasons(real, "electricitymaps") == []
    moto = {**real, "aws.ce": "http://127.0.0.1:5000"}
    assert not_real_reasons(moto, "electricitymaps") == ["aws.ce served by http://127.0.0.1:5000 (not an AWS endpoint)"]
    fake_em = {**real, "electricitymaps": "http://127.0.0.1:7000/v3"}
    assert len(not_real_reasons(fake_em, "electricitymaps")) == 1
    assert not_real_reasons(fake_em, "none") == []  # an unused intensity API does not matter
    spoof = {**real, "aws.ec2": "http://ec2.eu-central-1.amazonaws.com.evil.example"}
    assert len(not_real_reasons(spoof, "electricitymaps")) == 1


def test_endpoint_overrides_and_intensity_urls_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:2")
    monkeypatch.setenv("ELECTRICITYMAPS_URL", "http://127.0.0.1:3/v3")
    monkeypatch.setenv("WATTTIME_URL", "http://127.0.0.1:4")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never-recorded")
    assert endpoint_overrides() == {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_PRICING":
                                    "http://127.0.0.1:2", "ELECTRICITYMAPS_URL": "http://127.0.0.1:3/v3",
                                    "WATTTIME_URL": "http://127.0.0.1:4"}
    ep = Endpoints()
    assert (ep.electricitymaps, ep.watttime) == ("http://127.0.0.1:3/v3", "http://127.0.0.1:4")
    monkeypatch.delenv("ELECTRICITYMAPS_URL")
    assert Endpoints().electricitymaps == carbon.EM_BASE_URL


@pytest.mark.slow
def test_collect_as_aws_with_the_sandbox_environment_is_marked_simulated(tmp_path, monkeypatch):
    """The repro of item 2: the env ``finops sandbox serve`` prints, then an 'aws' collection."""
    from finops_lib.sandbox.servers import serve
    from finops_lib.sandbox.world import WorldConfig, build_world

    world = build_world(WorldConfig.from_dict({"seed": 3, "n_instances": 2, "days": 1}))
    with serve(world, boavizta=False) as ep:
        for k, v in ep.env().items():
            monkeypatch.setenv(k, v)
        path = collect_snapshot(boto3.Session(), region=world.config.region, window_start=world.window_start,
                                window_end=world.window_end, out_dir=tmp_path / "s", power_source="none",
                                progress=False, cloudtrail_min_interval_s=0, now=world.as_of)
    snap = read_snapshot(path)
    m = snap.manifest
    assert m["source"] == "aws" and m["simulated"] is True and snap.is_simulated
    assert m["endpoint_overrides"]["AWS_ENDPOINT_URL"] == ep.aws
    assert m["endpoint_overrides"]["ELECTRICITYMAPS_URL"] == ep.electricitymaps
    assert m["endpoints"]["aws.ec2"] == ep.aws and m["endpoints"]["aws.pricing"] == ep.pricing
    assert any(r.startswith("aws.ce served by http://127.0.0.1") for r in m["not_real_reasons"])
    assert any("marked simulated" in w for w in m["warnings"])
    # the printed ELECTRICITYMAPS_URL was read: intensity came from the sandbox, not the public API
    assert m["endpoints"]["electricitymaps"] == ep.electricitymaps
    assert m["coverage"]["electricitymaps"] > 0.9 and len(snap["intensity_hourly"]) >= 24
    assert "never-recorded" not in (path / "manifest.json").read_text()


def test_endpoint_urls_are_recorded_without_credentials_or_query():
    from finops_lib.collect.core import endpoint_overrides, redact_url

    assert redact_url("https://user:s3cret@proxy.example:8443/v3?api_key=abc#x") == "https://proxy.example:8443/v3"
    assert redact_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    env = {"AWS_ENDPOINT_URL": "http://k:v@127.0.0.1:1/", "ELECTRICITYMAPS_URL": "https://em/v3?token=t", "HOME": "/x"}
    assert endpoint_overrides(env) == {"AWS_ENDPOINT_URL": "http://127.0.0.1:1/", "ELECTRICITYMAPS_URL": "https://em/v3"}
