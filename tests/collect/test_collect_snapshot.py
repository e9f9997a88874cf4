"""collect_snapshot end to end: moto (EC2, CloudWatch, CE) + patched LookupEvents + local
Pricing / Electricity Maps responders; gaps, hard errors, manifest call counts, cache."""

from datetime import timedelta

import pandas as pd
import pytest
import requests

from finops_lib.collect import Endpoints, collect_snapshot, fakes
from finops_lib.collect.cli import summary
from finops_lib.collect.errors import AccessDeniedError
from finops_lib.snapshot import read_snapshot

from .conftest import FIXTURES, REGION, load

START, END = pd.Timestamp("2026-11-02T00:00Z"), pd.Timestamp("2026-11-04T00:00Z")


@pytest.fixture
def world(moto_session, responder):
    ec2 = moto_session.client("ec2")
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=3, MaxCount=3,
                                                       InstanceType="m5.large")["Instances"]]
    cw = moto_session.client("cloudwatch")
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": ids[0]}],
         "Timestamp": START.to_pydatetime() + timedelta(minutes=5 * k), "Value": 20.0, "Unit": "Percent"}
        for k in range(24)])
    requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                  json=load("ce_get_cost_and_usage_daily.json"), timeout=5)
    records = [fakes.cloudtrail_record("RunInstances", ids, START + timedelta(hours=8)),
               fakes.cloudtrail_record("StopInstances", ids[:1], START + timedelta(hours=18))]
    responder.targets["GetProducts"] = fakes.get_products_handler({"m5.large": 0.115}, REGION)

    def past(q, h):
        hours = pd.date_range(q["start"], q["end"], freq="h", inclusive="left")
        return 200, {"zone": "DE", "data": [{"zone": "DE", "carbonIntensity": 350, "isEstimated": True,
                                             "emissionFactorType": "lifecycle", "estimationMethod": "FORECASTS_HIERARCHY",
                                             "datetime": t.strftime("%Y-%m-%dT%H:%M:%S.000Z")} for t in hours[:36]]}

    responder.routes["/v3/carbon-intensity/past-range"] = past
    with fakes.patch_moto_lookup_events(records) as patch:
        yield moto_session, responder, patch, ids


def _collect(session, responder, out, **kw):
    kw = {"electricitymaps_api_key": "k", "power_source": "none", "progress": False,
          "cloudtrail_min_interval_s": 0, **kw}
    return collect_snapshot(session, region=REGION, window_start=START, window_end=END, out_dir=out,
                            endpoints=Endpoints(pricing=responder.url, electricitymaps=responder.url + "/v3"), **kw)


def test_full_collection_manifest(world, tmp_path):
    session, responder, _, ids = world
    snap = read_snapshot(_collect(session, responder, tmp_path / "s"))
    m = snap.manifest
    assert m["api_calls"] == {
        "ce.GetCostAndUsage": 2, "cloudtrail.LookupEvents": 5, "cloudwatch.GetMetricData": 1,
        "ec2.DescribeInstanceTypes": 1, "ec2.DescribeInstances": 1, "electricitymaps.past-range": 1,
        "pricing.GetProducts": 1}
    assert len(snap["instances"]) == 3 and len(snap["state_events"]) == 4 and len(snap["costs"]) == 4
    assert snap["prices"]["usd_per_hour"].tolist() == [0.115]
    assert snap["cpu_hourly"]["cpu_util_frac"].tolist() == [0.2, 0.2]
    # coverage: CPU for 1 of 3 instances; intensity 36 of 48 hours; CE 2 of 2 days
    assert m["coverage"]["cloudwatch"] == pytest.approx(1 / 3)
    assert m["coverage"]["electricitymaps"] == pytest.approx(36 / 48)
    assert m["coverage"]["cost_explorer"] == 1.0 and m["coverage"]["pricing"] == 1.0
    assert m["gaps"] == [{"table": "power_profiles", "source": "boavizta", "reason": "power_source='none' requested"}]
    assert m["details"]["intensity_estimation_methods"] == {"FORECASTS_HIERARCHY": 36}
    # served by loopback responders, not AWS: marked simulated with the reasons (issue 10, item 2)
    assert m["source"] == "aws" and m["simulated"] is True and m["zone"] == "DE"
    assert any(r.startswith("aws.pricing served by http://127.0.0.1") for r in m["not_real_reasons"])
    text = summary(m)
    assert "cloudtrail.LookupEvents" in text and "gaps: 1" in text and "33.3%" in text


def test_electricitymaps_401_becomes_a_gap(world, tmp_path):
    session, responder, _, _ = world
    responder.inject("/v3/carbon-intensity/past-range", 401, {"message": "Invalid auth-token"})
    snap = read_snapshot(_collect(session, responder, tmp_path / "s"))
    gap = [g for g in snap.manifest["gaps"] if g["table"] == "intensity_hourly"]
    assert len(gap) == 1 and "401" in gap[0]["reason"] and "ELECTRICITYMAPS_API_KEY" in gap[0]["reason"]
    assert snap["intensity_hourly"].empty and snap.manifest["coverage"]["electricitymaps"] == 0.0
    assert len(snap["instances"]) == 3  # the rest of the collection is intact


def test_access_denied_on_core_data_is_an_error(world, tmp_path):
    session, responder, patch, _ = world
    patch.handler = lambda body, h: (400, {"__type": "AccessDeniedException", "message": "denied"})
    with pytest.raises(AccessDeniedError, match="cloudtrail:LookupEvents"):
        _collect(session, responder, tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_second_collection_within_ttl_calls_no_cached_source(world, tmp_path):
    session, responder, _, _ = world
    first = read_snapshot(_collect(session, responder, tmp_path / "a", cache_dir=tmp_path / "cache"))
    second = read_snapshot(_collect(session, responder, tmp_path / "b", cache_dir=tmp_path / "cache"))
    cached = ("ce.", "cloudwatch.", "pricing.", "electricitymaps.")
    assert all(first.manifest["api_calls"].get(k) for k in first.manifest["api_calls"] if k.startswith(cached))
    assert not [k for k in second.manifest["api_calls"] if k.startswith(cached)]
    # not cached (state can change any minute): inventory and CloudTrail
    assert second.manifest["api_calls"]["cloudtrail.LookupEvents"] == 5
    # one GetCallerIdentity per collection scopes the cache to the account; hits are recorded
    assert first.manifest["api_calls"]["sts.GetCallerIdentity"] == 1
    assert second.manifest["api_calls"]["sts.GetCallerIdentity"] == 1
    assert first.manifest["cache_hits"] == {}
    assert second.manifest["cache_hits"] == {
        "ce.GetCostAndUsage": 1, "cloudwatch.GetMetricData": 1, "electricitymaps.past-range": 1,
        "pricing.GetProducts": 1}
    for name in ("costs", "cpu_hourly", "prices", "intensity_hourly"):
        pd.testing.assert_frame_equal(first[name], second[name])


def test_extra_tables_and_manifest_extra(world, tmp_path):
    session, responder, _, ids = world
    truth = pd.DataFrame({"name": ["pue"], "value": [1.35]})
    snap = read_snapshot(_collect(session, responder, tmp_path / "s", extra_tables={"truth_factors": truth},
                                  manifest_extra={"source": "sandbox", "simulated": True, "seed": 7}))
    assert snap.is_simulated and snap.manifest["seed"] == 7
    assert snap["truth_factors"]["value"].tolist() == [1.35]


def test_unreachable_pricing_endpoint_is_a_gap_not_a_crash(world, tmp_path):
    session, responder, _, _ = world
    snap = read_snapshot(collect_snapshot(
        session, region=REGION, window_start=START, window_end=END, out_dir=tmp_path / "s",
        endpoints=Endpoints(pricing="http://127.0.0.1:9", electricitymaps=responder.url + "/v3"),
        electricitymaps_api_key="k", power_source="none", progress=False, cloudtrail_min_interval_s=0,
        max_attempts=1))
    gap = [g for g in snap.manifest["gaps"] if g["table"] == "prices"]
    assert len(gap) == 1 and "GetProducts: cannot reach AWS (EndpointConnectionError)" in gap[0]["reason"]
    assert len(snap["costs"]) == 4 and len(snap["instances"]) == 3


def test_csv_without_rows_for_the_zone_and_window_is_a_gap(world, tmp_path):
    session, responder, _, _ = world
    csv = FIXTURES / "electricitymaps_DE_2024_hourly_sample.csv"  # DE, 2024: not the 2026 window
    snap = read_snapshot(_collect(session, responder, tmp_path / "s", intensity_source="electricitymaps-csv",
                                  electricitymaps_csv=csv))
    gap = [g for g in snap.manifest["gaps"] if g["table"] == "intensity_hourly"]
    assert len(gap) == 1 and gap[0]["source"] == "electricitymaps-csv"
    assert "no hourly intensity for zone 'DE'" in gap[0]["reason"] and "['DE']" in gap[0]["reason"]
    assert snap.manifest["coverage"]["electricitymaps-csv"] == 0.0 and len(snap["intensity_hourly"]) == 0


def test_cpu_status_warnings_reach_the_manifest(world, tmp_path, monkeypatch):
    from finops_lib.collect import aws

    real = aws.get_cpu_hourly

    def with_warning(*a, **kw):
        df, meta = real(*a, **kw)
        meta["warnings"].append("GetMetricData returned StatusCode Forbidden for 1 series")
        return df, meta

    monkeypatch.setattr(aws, "get_cpu_hourly", with_warning)
    session, responder, _, _ = world
    snap = read_snapshot(_collect(session, responder, tmp_path / "s"))
    assert "GetMetricData returned StatusCode Forbidden for 1 series" in snap.manifest["warnings"]
