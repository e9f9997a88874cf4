"""Served data agree with the truth, through real boto3 / HTTP clients against the sandbox servers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import requests
from botocore.exceptions import ClientError
from numpy.testing import assert_allclose

from finops_lib import constants, factors
from finops_lib.calc import parse_cloudtrail_events, running_intervals
from finops_lib.collect import aws, carbon
from finops_lib.sandbox.servers import serve
from finops_lib.sandbox.world import build_world

pytestmark = pytest.mark.slow

CONFIG = {"n_instances": 14, "days": 10, "seed": 5,
          "role_mix": {"production": 2, "office_hours": 4, "batch": 4, "spot_worker": 2, "variable": 1}, "os_shutdown_rate": 0.15, "missing_record_rate": 0.15,
          "late_record_rate": 0.15, "spot_interruption_rate": 0.5, "short_run_rate": 0.1,
          "cloudwatch_gap_rate": 0.05}  # fmt: skip


@pytest.fixture(scope="module")
def world():
    return build_world(CONFIG)


@pytest.fixture(scope="module")
def truth(world):
    return world.truth_tables()


@pytest.fixture(scope="module")
def ep(world):
    with serve(world, boavizta=False) as endpoints:
        yield endpoints


@pytest.fixture(scope="module")
def session(ep):
    return ep.boto3_session()


def _client(session, ep, name, **kw):
    return session.client(name, endpoint_url=ep.aws, **kw)


# --------------------------------------------------------------------------- CloudTrail
def test_lookup_events_pages_of_50_newest_first(world, session, ep):
    ct = _client(session, ep, "cloudtrail")
    params = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "StartInstances"}],
              "StartTime": world.window_start, "EndTime": world.window_end, "MaxResults": 50}  # fmt: skip
    pages, token = [], None
    while True:
        page = ct.lookup_events(**params, **({"NextToken": token} if token else {}))
        pages.append(page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    events = [e for p in pages for e in p]
    served = world.events[world.events["served"] & world.events["event_name"].eq("StartInstances")]
    assert len(served) > 50, "the test world should need more than one page"
    assert all(len(p) == 50 for p in pages[:-1]) and 0 < len(pages[-1]) <= 50
    assert len(pages) == math.ceil(len(served) / 50)
    assert sorted(e["EventId"] for e in events) == sorted(served["event_id"])
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    hidden = set(world.events.loc[~world.events["served"], "event_id"])
    assert hidden and not hidden & {e["EventId"] for e in events}


def test_lookup_events_time_range_and_limits(world, session, ep):
    ct = _client(session, ep, "cloudtrail")
    t0, t1 = world.window_start + pd.Timedelta(days=2), world.window_start + pd.Timedelta(days=3)
    got = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StopInstances"}],
                           StartTime=t0, EndTime=t1)["Events"]  # fmt: skip
    ev = world.events
    want = ev[ev["served"] & ev["event_name"].eq("StopInstances") & ev["event_time"].between(t0, t1)]
    assert sorted(e["EventId"] for e in got) == sorted(want["event_id"])
    with pytest.raises(ClientError, match="InvalidLookupAttributesException"):
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StopInstances"},
                                           {"AttributeKey": "EventName", "AttributeValue": "StartInstances"}])  # fmt: skip
    with pytest.raises(ClientError, match="InvalidMaxResultsException"):
        ct.lookup_events(MaxResults=51)


def test_runtime_from_served_records_equals_truth_without_faults(world, truth, session, ep):
    records, _ = aws.lookup_events(_client(session, ep, "cloudtrail"), world.window_start, world.window_end,
                                   min_interval_s=0)  # fmt: skip
    events, rejected = parse_cloudtrail_events(records, errors="raise")
    inst, _ = aws.get_instances(_client(session, ep, "ec2"))
    assert set(inst["instance_id"]) == set(world.instances["instance_id"]) - set(world.vanished_ids)
    inst, meta = aws.recover_vanished_instances(inst, events, aws.parse_run_instances(records),
                                                _client(session, ep, "cloudtrail"), _client(session, ep, "ec2"),
                                                now=world.as_of, min_interval_s=0)  # fmt: skip
    assert set(inst["instance_id"]) == set(world.instances["instance_id"])
    est, _ = running_intervals(events, inst, world.window_start, world.window_end)
    cases = world.instances.set_index("instance_id")["case"]
    # records still in CloudTrail's delivery pipeline at collection time (<= 15 min) are not faults but differ too
    ev = world.events
    pending = set(ev.loc[~ev["served"] & ev["fault"].isna(), "instance_id"])
    clean = cases[cases.isin(["complete", "before_window", "spot_interruption"]) & ~cases.index.isin(pending)].index
    faulty = cases[cases.isin(["os_shutdown", "missing_record", "late_record"])].index
    assert len(clean) >= 5 and len(faulty) >= 2

    def key(df):
        return sorted(zip(df["instance_id"], df["start"], df["end"], strict=True))

    ti = truth["truth_intervals"]
    assert key(est[est["instance_id"].isin(clean)]) == key(ti[ti["instance_id"].isin(clean)])

    def hours(df):
        return ((df["end"] - df["start"]).dt.total_seconds().groupby(df["instance_id"]).sum() / 3600)

    diff = (hours(est).reindex(faulty).fillna(0) - hours(ti).reindex(faulty).fillna(0)).abs()
    assert (diff > 0.01).any(), "injected faults should be visible in the reconstructed runtime"


def test_describe_instances_shows_final_state_tags_and_lifecycle(world, session, ep):
    inst, _ = aws.get_instances(_client(session, ep, "ec2"))
    got = inst.set_index("instance_id")
    want = world.instances.set_index("instance_id")
    assert not set(world.vanished_ids) & set(got.index), "terminated > 1 h ago: gone from DescribeInstances"
    want = want.drop(world.vanished_ids)
    assert (got.loc[want.index, "state"].to_numpy() == want["final_state"].to_numpy()).all()
    assert (got.loc[want.index, "instance_type"].to_numpy() == want["instance_type"].to_numpy()).all()
    assert (got.loc[want.index, "lifecycle"].to_numpy() == want["lifecycle"].to_numpy()).all()
    assert (got.loc[want.index, "launch_time"].to_numpy() == want["launch_time"].to_numpy()).all()
    for iid, tags in want["tags"].items():
        assert json.loads(got.at[iid, "tags"]) == tags


# --------------------------------------------------------------------------- CloudWatch
def test_cpu_served_matches_world(world, truth, session, ep):
    ids = list(world.instances["instance_id"])
    cpu, meta = aws.get_cpu_hourly(_client(session, ep, "cloudwatch"), ids, world.window_start, world.window_end)
    cw = world.cw_hourly
    assert len(cpu) == len(cw)
    m = cpu.merge(cw, on=["instance_id", "hour"], validate="one_to_one", suffixes=("", "_w"))
    assert_allclose(m["cpu_util_frac"], m["sum_pct"] / m["sample_count_w"] / 100)
    assert_allclose(m["cpu_util_max_frac"], m["max_pct"] / 100)
    assert_allclose(m["sample_count"], m["sample_count_w"])
    # gaps: hours where the truth ran but CloudWatch has no datum
    th = truth["truth_hourly"]
    ran = th[th["running_frac"] > 0]
    assert len(ran) > len(cpu) > 0.8 * len(ran)
    # the true hourly mean CPU is the served one (the truth's power uses the 5-minute values)
    t = ran.merge(cpu, on=["instance_id", "hour"], suffixes=("_true", ""))
    full = (t["running_frac"] == 1.0) & (t["sample_count"] == 12)
    assert_allclose(t.loc[full, "cpu_util_frac_true"], t.loc[full, "cpu_util_frac"])
    # basic monitoring: the first datapoint after a start comes late, single datapoints go missing
    assert ((t["running_frac"] == 1.0) & (t["sample_count"] < 12)).any()


# --------------------------------------------------------------------------- Cost Explorer
def _ce_pages(ce, op, **params):
    pages, token = [], None
    while True:
        page = getattr(ce, op)(**params, **({"NextPageToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextPageToken")
        if not token:
            return pages


def _groups(pages):
    return [(r["TimePeriod"]["Start"], g["Keys"], float(g["Metrics"]["UnblendedCost"]["Amount"]))
            for p in pages for r in p["ResultsByTime"] for g in r["Groups"]]  # fmt: skip


def test_cost_explorer_totals_equal_billing_truth(world, truth, session, ep):
    ce = _client(session, ep, "ce", region_name="us-east-1")
    tp = {"Start": world.window_start.strftime("%Y-%m-%d"), "End": world.window_end.strftime("%Y-%m-%d")}
    pages = _ce_pages(ce, "get_cost_and_usage", TimePeriod=tp, Granularity="DAILY",
                      Metrics=["UnblendedCost", "UsageQuantity"], GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}])
    rows = _groups(pages)
    assert len({r[0] for r in rows}) == world.config.days
    compute = sum(c for _, k, c in rows if "Usage:" in k[0])  # BoxUsage, SpotUsage, HeavyUsage (RI fee)
    assert_allclose(compute, truth["truth_billing"]["cost_usd"].sum(), rtol=1e-9)
    assert_allclose(sum(c for *_, c in rows), world.cost_lines["cost_usd"].sum(), rtol=1e-9)
    other = sum(c for _, k, c in rows if "Usage:" not in k[0])
    assert other > 0, "EBS and data transfer make billed totals exceed compute"
    # Reserved Instances: Cost Explorer shows the fee, and the covered usage at 0
    assert any("HeavyUsage:" in k[0] and c > 0 for _, k, c in rows) == bool(world.instances["ri_covered"].any())


def test_cost_explorer_filter_and_two_groups(world, session, ep):
    ce = _client(session, ep, "ce", region_name="us-east-1")
    tp = {"Start": world.window_start.strftime("%Y-%m-%d"), "End": world.window_end.strftime("%Y-%m-%d")}
    pages = _ce_pages(ce, "get_cost_and_usage", TimePeriod=tp, Granularity="MONTHLY", Metrics=["UnblendedCost"],
                      Filter={"Dimensions": {"Key": "SERVICE", "Values": ["EC2 - Other"]}},
                      GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}])
    rows = _groups(pages)
    assert {k[0] for _, k, _ in rows} == {"EC2 - Other"}
    lines = world.cost_lines
    assert_allclose(sum(c for *_, c in rows), lines.loc[lines["service"].eq("EC2 - Other"), "cost_usd"].sum())
    with pytest.raises(ClientError, match="ValidationException"):
        ce.get_cost_and_usage(TimePeriod=tp, Granularity="DAILY", Metrics=["UnblendedCost"],
                              GroupBy=[{"Type": "DIMENSION", "Key": k} for k in ("SERVICE", "USAGE_TYPE", "REGION")])


def test_cost_explorer_with_resources_hourly_paginated(world, truth, session, ep):
    ce = _client(session, ep, "ce", region_name="us-east-1")
    tp = {"Start": world.window_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
          "End": world.window_end.strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
    flt = {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Compute Cloud - Compute"]}}
    pages = _ce_pages(ce, "get_cost_and_usage_with_resources", TimePeriod=tp, Granularity="HOURLY",
                      Metrics=["UnblendedCost", "UsageQuantity"], Filter=flt,
                      GroupBy=[{"Type": "DIMENSION", "Key": "RESOURCE_ID"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}])
    assert len(pages) > 1
    rows = _groups(pages)
    per = pd.DataFrame([(k[0], c) for _, k, c in rows], columns=["iid", "c"])
    per = per.groupby(per["iid"].str.replace(r"^arn:.*/ri-", "i-", regex=True))["c"].sum()  # RI fees: the RI's ARN
    want = truth["truth_billing"].groupby("instance_id")["cost_usd"].sum()
    assert_allclose(per.reindex(want.index), want, rtol=1e-9)
    old = {"Start": (world.as_of - pd.Timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"), "End": tp["End"]}
    with pytest.raises(ClientError, match="DataUnavailableException"):
        ce.get_cost_and_usage_with_resources(TimePeriod=old, Granularity="HOURLY", Metrics=["UnblendedCost"],
                                             Filter=flt)  # fmt: skip


def test_collector_costs_equal_billing_truth(world, truth, session, ep):
    costs, meta = aws.get_costs(_client(session, ep, "ce", region_name="us-east-1"), world.window_start,
                                world.window_end, world.config.region, with_resources=True, now=world.as_of)  # fmt: skip
    daily = costs[costs["granularity"].eq("DAILY")]
    compute = daily[daily["usage_type"].str.contains("Usage:")]
    assert_allclose(compute["cost_usd"].sum(), truth["truth_billing"]["cost_usd"].sum(), rtol=1e-9)
    hourly = costs[costs["granularity"].eq("HOURLY")]
    assert_allclose(hourly["cost_usd"].sum(), compute["cost_usd"].sum(), rtol=1e-9)


# --------------------------------------------------------------------------- Pricing
def test_pricing_serves_the_catalog(world, session, ep):
    pricing = session.client("pricing", endpoint_url=ep.pricing, region_name="us-east-1")
    types = sorted(world.instances["instance_type"].unique())
    prices, _ = aws.get_prices(pricing, types, world.config.region)
    want = [factors.INSTANCE_CATALOG[t]["usd_per_hour"] for t in prices["instance_type"]]
    assert_allclose(prices["usd_per_hour"], want)
    loose = pricing.get_products(ServiceCode="AmazonEC2",
                                 Filters=[{"Type": "TERM_MATCH", "Field": "instanceType", "Value": types[0]}])
    assert len(loose["PriceList"]) == 3  # the capacitystatus filter matters, as on AWS
    item = json.loads(loose["PriceList"][0])
    assert item["product"]["attributes"]["regionCode"] == "eu-central-1" and "OnDemand" in item["terms"]


# --------------------------------------------------------------------------- intensity endpoints
def test_electricitymaps_endpoint(world, ep):
    url = f"{ep.electricitymaps}/carbon-intensity/past-range"
    q = {"zone": "DE", "start": "2026-10-27T00:00:00Z", "end": "2026-10-28T00:00:00Z"}
    assert requests.get(url, params=q, timeout=5).status_code == 401
    hdr = {"auth-token": ep.electricitymaps_api_key}
    long = {**q, "start": "2026-10-01T00:00:00Z"}
    assert requests.get(url, params=long, headers=hdr, timeout=5).status_code == 400
    df, _ = carbon.get_intensity_electricitymaps("DE", world.window_start, world.window_end,
                                                 ep.electricitymaps_api_key, ep.electricitymaps, now=world.as_of)  # fmt: skip
    assert len(df) == world.config.days * 24
    served = world.intensity_year.reindex(df["hour"]).to_numpy()
    assert_allclose(df["intensity_g_per_kwh"], served, rtol=1e-12)
    latest = requests.get(f"{ep.electricitymaps}/carbon-intensity/latest", params={"zone": "DE"}, headers=hdr,
                          timeout=5).json()  # fmt: skip
    assert pd.Timestamp(latest["datetime"]) == world.window_end - pd.Timedelta(hours=1)
    assert {"zone", "carbonIntensity", "datetime", "updatedAt", "createdAt", "emissionFactorType",
            "isEstimated", "estimationMethod"} <= set(latest)  # fmt: skip


def test_watttime_endpoint(world, ep):
    df, _ = carbon.get_intensity_watttime("DE", world.window_start, world.window_start + pd.Timedelta(days=2),
                                          (ep.watttime_username, ep.watttime_password), ep.watttime)  # fmt: skip
    assert len(df) == 48 and (df["emission_factor_type"] == "marginal").all()
    want = world.moer_year.reindex(df["hour"]).to_numpy() * constants.G_PER_KWH_PER_LB_PER_MWH
    assert_allclose(df["intensity_g_per_kwh"], want, rtol=1e-4)
    assert requests.get(f"{ep.watttime}/login", auth=("x", "y"), timeout=5).status_code == 401


def test_intensity_truth_is_hidden_behind_the_served_estimate(world, truth):
    ti = truth["truth_intensity"]
    ratio = world.intensity_year.reindex(ti["hour"]).to_numpy() / ti["intensity_g_per_kwh"].to_numpy()
    assert 0.005 < np.abs(np.log(ratio)).mean() < 0.2 and np.std(ratio) > 0.005
    assert np.isfinite(ti["intensity_g_per_kwh"]).all()


def test_watttime_forecasts_as_issued_round_trip(world, ep):
    start = world.window_start
    df, meta = carbon.get_forecasts_watttime("DE", start, start + pd.Timedelta(days=2),
                                             (ep.watttime_username, ep.watttime_password), ep.watttime)  # fmt: skip
    assert set(df["emission_factor_type"]) == {"marginal", "average"}
    avg = df[df["emission_factor_type"] == "average"]
    want = world.forecasts[(world.forecasts["signal"] == "co2_aoer") & world.forecasts["issued_at"].between(
        start, start + pd.Timedelta(days=2), inclusive="left")]
    m = avg.merge(want, on=["issued_at", "hour"], suffixes=("", "_w"), validate="one_to_one")
    assert len(m) == len(want) == 48 * 24
    assert_allclose(m["intensity_g_per_kwh"], m["intensity_g_per_kwh_w"], rtol=1e-4)
