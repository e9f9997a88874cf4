"""Benchmark of the AWS collectors: API calls per operation vs the theoretical minimum.

For N = 20, 100 and 1,000 instances a fleet is seeded in moto (decorator mode;
EC2, CloudWatch, Cost Explorer), CloudTrail LookupEvents is served from
real-shaped records patched into moto and Pricing GetProducts from a local
JSON 1.1 responder. The collectors then run exactly as against AWS, and every
HTTP request is counted per operation.

Theoretical minimum for a window of H hours (REFERENCES.md):

- LookupEvents: Σ_k max(1, ⌈E_k/50⌉) over the five event names, independent of
  N (a per-instance query needs at least N calls per name);
- GetMetricData: max(⌈Q/500⌉, ⌈H·Q/100,800⌉) with Q = 3·N queries (one per
  instance and statistic: Average, Maximum, SampleCount);
- DescribeInstances ⌈N/1000⌉; DescribeInstanceTypes ⌈T/100⌉;
  GetProducts T (one per instance type); GetCostAndUsage ≥ 1 page.

Notes
-----
moto answers GetMetricData without the 100,800-datapoint page limit, so the
measured count can be *below* the AWS minimum when H·Q > 100,800 (N ≥ 47 for
30 days); the table shows both. CloudTrail's 2 requests/s is not slept here
(``min_interval_s=0``); the ``rate_floor_s`` column is the time that limit
imposes on a real account (calls / 2 s⁻¹). CPU data is seeded for two
instances only, because moto's GetMetricData scans every stored datapoint for
every query and period; call counts do not depend on it.
"""

from __future__ import annotations

import math
import os
import time

import pandas as pd

from finops_lib import factors

SIZES = (20, 100, 1_000)
DAYS = 30
TYPES = ("m5.large", "t3.medium", "c5.xlarge", "r5.large", "m6i.large")
REGION = "eu-central-1"
START = pd.Timestamp("2026-10-01T00:00Z")


def _events(ids: list[str], start: pd.Timestamp, days: int) -> list[dict]:
    """Office-hours fleet: a third of the instances start 08:00 and stop 18:00 on weekdays;
    1 in 20 is launched in the window, 1 in 50 terminated, 1 in 100 a Spot eviction."""
    from finops_lib.collect import fakes

    recs = []
    office = ids[::3]
    for d in range(days):
        day = start + pd.Timedelta(days=d)
        if day.dayofweek >= 5:
            continue
        for k, iid in enumerate(office):
            recs.append(fakes.cloudtrail_record("StartInstances", [iid], day + pd.Timedelta(hours=8, seconds=k)))
            recs.append(fakes.cloudtrail_record("StopInstances", [iid], day + pd.Timedelta(hours=18, seconds=k)))
    for k, iid in enumerate(ids[::20]):
        recs.append(fakes.cloudtrail_record("RunInstances", [iid], start + pd.Timedelta(hours=1, minutes=k)))
    for k, iid in enumerate(ids[1::50]):
        recs.append(fakes.cloudtrail_record("TerminateInstances", [iid], start + pd.Timedelta(days=20, minutes=k)))
    for k, iid in enumerate(ids[2::100]):
        recs.append(fakes.cloudtrail_record("BidEvictedEvent", [iid], start + pd.Timedelta(days=10, minutes=k)))
    return recs


def _one(n: int, days: int = DAYS) -> dict:
    import boto3
    import requests
    from moto import mock_aws

    from finops_lib.collect import aws, fakes

    end = START + pd.Timedelta(days=days)
    hours = days * 24
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        ec2 = session.client("ec2")
        ids = []
        per_type = [n // len(TYPES) + (1 if k < n % len(TYPES) else 0) for k in range(len(TYPES))]
        for itype, count in zip(TYPES, per_type, strict=True):
            if count:
                res = ec2.run_instances(ImageId="ami-12345678", MinCount=count, MaxCount=count, InstanceType=itype)
                ids += [i["InstanceId"] for i in res["Instances"]]
        cw = session.client("cloudwatch")
        for iid in ids[:2]:
            cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
                {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                 "Timestamp": (START + pd.Timedelta(minutes=5 * k)).to_pydatetime(), "Value": 30.0,
                 "Unit": "Percent"} for k in range(12)])
        requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results", timeout=5,
                      json={"results": [{"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"},
                                                            "Total": {}, "Groups": [], "Estimated": False}]}]})
        records = _events(sorted(ids), START, days)
        e_k = {name: sum(r["EventName"] == name for r in records) for name in aws.EVENT_NAMES}
        prices = {t: factors.INSTANCE_CATALOG[t]["usd_per_hour"] for t in TYPES}
        with fakes.LocalResponder(targets={"GetProducts": fakes.get_products_handler(prices, REGION)}) as resp, \
                fakes.patch_moto_lookup_events(records):
            clients = aws.make_clients(session, REGION, pricing_endpoint_url=resp.url)
            counter = clients["counter"]
            t0 = time.perf_counter()
            inst, _ = aws.get_instances(clients["ec2"])
            t1 = time.perf_counter()
            events, _ = aws.get_state_events(clients["cloudtrail"], START, end, min_interval_s=0)
            t2 = time.perf_counter()
            cpu, _ = aws.get_cpu_hourly(clients["cloudwatch"], inst["instance_id"], START, end)
            t3 = time.perf_counter()
            aws.get_prices(clients["pricing"], inst["instance_type"].unique(), REGION)
            aws.get_costs(clients["ce"], START, end, REGION)
            t4 = time.perf_counter()
    calls = counter.as_dict()
    q = 3 * n
    minimum = {
        "cloudtrail.LookupEvents": sum(max(1, math.ceil(e / 50)) for e in e_k.values()),
        "cloudwatch.GetMetricData": max(math.ceil(q / 500), math.ceil(hours * q / 100_800)),
        "ec2.DescribeInstances": math.ceil(n / 1000),
        "ec2.DescribeInstanceTypes": math.ceil(len(TYPES) / 100),
        "pricing.GetProducts": len(TYPES),
        "ce.GetCostAndUsage": 1,
    }
    per_instance = {"cloudtrail.LookupEvents": n * len(aws.EVENT_NAMES), "cloudwatch.GetMetricData": n}
    return {
        "instances": n, "events": sum(e_k.values()), "state_events_rows": len(events), "cpu_rows": len(cpu),
        "calls": calls, "minimum": minimum, "per_instance_queries": per_instance,
        "total_calls": sum(calls.values()), "total_minimum": sum(minimum.values()),
        "rate_floor_s": calls.get("cloudtrail.LookupEvents", 0) / 2.0,
        "wall_s": round(t4 - t0, 2),
        "wall_s_by_step": {"inventory": round(t1 - t0, 2), "cloudtrail": round(t2 - t1, 2),
                           "cloudwatch": round(t3 - t2, 2), "pricing+ce": round(t4 - t3, 2)},
    }


def run(sizes=SIZES, days: int = DAYS) -> list[dict]:
    """Run the benchmark for each fleet size, print a table, return the rows."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}.items():
        os.environ.setdefault(k, v)
    rows = [_one(n, days) for n in sizes]
    print(f"collect benchmark: {days}-day window, moto + recorded-shape CloudTrail/Pricing responders")
    print(f"{'N':>6} {'operation':<28} {'calls':>6} {'minimum':>8} {'per-instance':>13}")
    for r in rows:
        for op, n_calls in r["calls"].items():
            print(f"{r['instances']:>6} {op:<28} {n_calls:>6} {r['minimum'].get(op, '-'):>8} "
                  f"{r['per_instance_queries'].get(op, '-'):>13}")
        print(f"{r['instances']:>6} {'total':<28} {r['total_calls']:>6} {r['total_minimum']:>8}   "
              f"events={r['events']} wall={r['wall_s']:.2f} s {r['wall_s_by_step']} "
              f"CloudTrail 2 req/s floor={r['rate_floor_s']:.1f} s")
    return rows


if __name__ == "__main__":
    run()
