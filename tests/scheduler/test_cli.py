"""``finops schedule`` and ``finops recommend`` end to end (moto in-process; the sandbox's moto server)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from finops_lib.cli import main
from finops_lib.scheduler import aws as sched_aws

AMI = "ami-12c6146b"


def _launch(ec2, tags):
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    return ec2.run_instances(ImageId=AMI, InstanceType="t3.small", MinCount=1, MaxCount=1,
                             TagSpecifications=spec)["Instances"][0]["InstanceId"]


def _state(ec2, iid):
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_schedule_dry_run_is_the_default_then_apply(moto_session, tmp_path, capsys):
    ec2 = moto_session.client("ec2")
    office = _launch(ec2, {"Schedule": "office-hours"})
    other = _launch(ec2, {"Name": "not-opted-in"})
    args = ["schedule", "--at", "2026-10-24T10:00Z", "--intensity", "none", "--log-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "DRY RUN (nothing changed)" in out and "1 stop" in out
    assert _state(ec2, office) == "running"
    assert main([*args, "--apply"]) == 0
    assert "APPLIED" in capsys.readouterr().out
    assert _state(ec2, office) == "stopped" and _state(ec2, other) == "running"
    lines = [json.loads(line) for f in sorted(tmp_path.glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert {(r["instance_id"], r["mode"], r["action"]) for r in lines} >= {(office, "dry-run", "stop"),
                                                                           (office, "apply", "stop")}


def test_schedule_bad_policy_file_is_a_clear_error_and_no_action(moto_session, tmp_path, capsys):
    ec2 = moto_session.client("ec2")
    office = _launch(ec2, {"Schedule": "office-hours"})
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\npolicies:\n  office-hours: {kind: hours, weekdays: [Mon], start: '18:00', end: '08:00'}\n")
    assert main(["schedule", "--apply", "--policies", str(bad), "--at", "2026-10-24T10:00Z", "--intensity", "none",
                 "--log-dir", str(tmp_path / "log")]) == 2
    assert "must be before end" in capsys.readouterr().err
    assert main(["schedule", "--validate", "--policies", str(bad)]) == 2
    assert main(["schedule", "--validate"]) == 0 and "valid (5 policies" in capsys.readouterr().out
    _launch(ec2, {"Schedule": "Office Hours"})
    assert main(["schedule", "--apply", "--at", "2026-10-24T10:00Z", "--intensity", "none",
                 "--log-dir", str(tmp_path / "log")]) == 2
    assert "names no policy" in capsys.readouterr().err
    assert _state(ec2, office) == "running" and not (tmp_path / "log").exists()


@pytest.mark.slow
def test_schedule_against_the_sandbox(tmp_path, monkeypatch, capsys):
    """The CLI against the sandbox's moto server and its Electricity Maps endpoint, --apply twice."""
    from finops_lib.sandbox import build_world, serve

    world = build_world({"seed": 7, "n_instances": 12, "days": 3})
    at = "2026-10-30T07:00Z"  # Friday 08:00 CET: office hours start
    with serve(world, boavizta=False) as ep:
        for k, v in ep.env().items():
            monkeypatch.setenv(k, v)
        session = ep.boto3_session()
        ec2 = session.client("ec2", endpoint_url=ep.aws)
        before = sched_aws.describe_instances(ec2).set_index("instance_id")["state"]
        args = ["schedule", "--at", at, "--endpoint-url", ep.aws, "--log-dir", str(tmp_path)]
        assert main(args) == 0
        assert sched_aws.describe_instances(ec2).set_index("instance_id")["state"].equals(before)
        assert main([*args, "--apply"]) == 0
        after = sched_aws.describe_instances(ec2).set_index("instance_id")["state"]
        assert main([*args, "--apply"]) == 0
        again = sched_aws.describe_instances(ec2).set_index("instance_id")["state"]
    out = capsys.readouterr().out
    tags = world.instances.set_index("instance_id")["tags"]
    office = [i for i, t in tags.items() if t["Schedule"] == "office-hours"]
    assert office and all(after[i] in ("pending", "running") for i in office)
    changed = {i: (before[i], after[i]) for i in after.index if after[i] != before[i]}
    for iid, (was, now) in changed.items():  # every change is what the instance's policy asks for
        assert tags[iid]["Schedule"] in ("office-hours", "nightly"), (iid, tags[iid]["Schedule"], was, now)
    spot = world.instances.loc[world.instances["lifecycle"] == "spot", "instance_id"]
    assert not set(spot) & set(changed)
    assert again.equals(after)  # apply twice == once
    applied = pd.concat([pd.read_parquet(f) for f in sorted(tmp_path.glob("*-apply.parquet"))])
    assert applied["intensity_g_per_kwh"].notna().all()  # the forecast came from the sandbox's Electricity Maps
    assert "APPLIED" in out


def test_recommend_on_the_sandbox_snapshot(small_sandbox_snapshot, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    assert main(["recommend", str(small_sandbox_snapshot), "--out", str(out), "--all"]) == 0
    df = pd.read_csv(out)
    assert {"instance_id", "current_type", "proposed_type", "saving_eur_per_month", "saving_co2_kg_per_month",
            "cpu_p95_frac", "cpu_max_frac", "risk"} <= set(df.columns)
    assert len(df) == 12 and "SIMULATED" in capsys.readouterr().out
    same = df["proposed_type"] == df["current_type"]
    assert (df.loc[same, "saving_eur_per_month"] == 0).all()
    assert (df.loc[~same, "saving_eur_per_month"] > 0).all()


def test_schedule_without_forecast_source_is_a_clear_error(moto_session, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ELECTRICITYMAPS_API_KEY", raising=False)
    assert main(["schedule", "--at", "2026-10-24T10:00Z", "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no intensity forecast" in err and "ELECTRICITYMAPS_API_KEY" in err and "--intensity none" in err
    assert main(["schedule", "--intensity", "snapshot", "--log-dir", str(tmp_path)]) == 2
    assert "needs --snapshot" in capsys.readouterr().err


def test_schedule_with_intensity_from_a_snapshot(moto_session, small_sandbox_snapshot, tmp_path, capsys):
    from finops_lib.scheduler.decide import persistence_forecast
    from finops_lib.snapshot import read_snapshot

    ec2 = moto_session.client("ec2")
    iid = _launch(ec2, {"Schedule": "Carbon-Aware 24/7"})
    snap = read_snapshot(small_sandbox_snapshot)
    at = snap.window_start + pd.Timedelta(days=3, hours=5)
    expected = persistence_forecast(snap.intensity(), at).iloc[0]
    assert main(["schedule", "--at", at.isoformat(), "--intensity", "snapshot", "--snapshot",
                 str(small_sandbox_snapshot), "--log-dir", str(tmp_path)]) == 0
    row = pd.read_parquet(next(tmp_path.glob("*.parquet"))).set_index("instance_id").loc[iid]
    assert row["intensity_g_per_kwh"] == pytest.approx(expected)
    assert row["target"] == ("running" if expected < 300 else "stopped")
