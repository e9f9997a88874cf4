"""The scheduler against moto: only opted-in instances change, the dry run writes nothing, apply is idempotent."""

from __future__ import annotations

import botocore.exceptions
import pandas as pd
import pytest

from finops_lib.scheduler import PolicyError, load_policies
from finops_lib.scheduler import aws as sched_aws
from finops_lib.scheduler.decide import persistence_forecast
from finops_lib.scheduler.run import run_once

SATURDAY = pd.Timestamp("2026-10-24T10:00Z")  # office hours: stop
THURSDAY = pd.Timestamp("2026-10-22T10:00Z")  # office hours: run
TABLE = "finops-scheduler-decisions"
AMI = "ami-12c6146b"  # any id: moto does not check it (describe_images costs seconds)


def _launch(ec2, n, tags, itype="t3.small"):
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    r = ec2.run_instances(ImageId=AMI, InstanceType=itype, MinCount=n, MaxCount=n, TagSpecifications=spec)
    return [i["InstanceId"] for i in r["Instances"]]


@pytest.fixture
def fleet(counted):
    session, counter = counted
    clients = sched_aws.make_clients(session, "eu-central-1")
    ec2 = clients["ec2"]
    ids = {
        "office": _launch(ec2, 3, {"Schedule": "Office Hours + Weekend Shutdown"}),
        "untagged": _launch(ec2, 2, {}),
        "optout": _launch(ec2, 1, {"Schedule": "office-hours", "ScheduleOptOut": "true"}),
        "asg": _launch(ec2, 1, {"Schedule": "office-hours", "aws:autoscaling:groupName": "web-asg"}),
        "always": _launch(ec2, 1, {"Schedule": "24/7 Always Running"}),
    }
    sched_aws.create_decision_table(clients["dynamodb"], TABLE)
    counter.calls.clear()
    return clients, ids, counter


def _states(ec2) -> dict:
    df = sched_aws.describe_instances(ec2)
    return dict(zip(df["instance_id"], df["state"], strict=True))


def test_dry_run_makes_no_write_call(fleet, tmp_path):
    clients, ids, counter = fleet
    before = _states(clients["ec2"])
    res = run_once(clients, load_policies(), SATURDAY, None, apply=False, log_dir=tmp_path, table=TABLE)
    assert counter.writes() == []
    assert ("ec2", "DescribeInstances") in counter.calls
    assert _states(clients["ec2"]) == before
    d = res.decisions.set_index("instance_id")
    assert set(d.loc[ids["office"], "action"]) == {"stop"}  # it would stop them ...
    assert res.results is None and res.metric_calls == 0  # ... but did not
    assert clients["dynamodb"].scan(TableName=TABLE)["Count"] == 0
    logged = sched_aws.read_local_log(tmp_path)
    assert len(logged) == len(before) and set(logged["mode"]) == {"dry-run"}
    assert (tmp_path / f"decisions-{SATURDAY:%Y%m%dT%H%M%SZ}-dry-run.jsonl").exists()


def test_apply_touches_only_opted_in_instances_and_twice_equals_once(fleet, tmp_path):
    clients, ids, counter = fleet
    before = _states(clients["ec2"])
    res = run_once(clients, load_policies(), SATURDAY, None, apply=True, log_dir=tmp_path, table=TABLE)
    after = _states(clients["ec2"])
    for group in ("untagged", "optout", "asg", "always"):
        assert all(after[i] == before[i] == "running" for i in ids[group]), group
    assert all(after[i] == "stopped" for i in ids["office"])
    writes = counter.writes()
    assert writes.count(("ec2", "StopInstances")) == 1 and ("ec2", "StartInstances") not in writes  # one batch
    assert list(res.results["result"]) == ["ok"] * 3
    # the instances never touched appear in no write call
    untouched = {i for g in ("untagged", "optout", "asg", "always") for i in ids[g]}
    assert untouched.isdisjoint(res.results["instance_id"])
    # second run: same target states, no EC2 write at all
    counter.calls.clear()
    res2 = run_once(clients, load_policies(), SATURDAY + pd.Timedelta(minutes=5), None, apply=True, log_dir=tmp_path,
                    table=TABLE)
    assert [w for w in counter.writes() if w[0] == "ec2"] == []
    assert _states(clients["ec2"]) == after
    assert set(res2.decisions.set_index("instance_id").loc[ids["office"], "action"]) == {"none"}
    # Monday morning starts them again
    run_once(clients, load_policies(), pd.Timestamp("2026-10-26T07:00Z"), None, apply=True, table=TABLE)
    assert all(_states(clients["ec2"])[i] == "running" for i in ids["office"])


def test_apply_publishes_metrics_and_logs_to_dynamodb(fleet):
    clients, ids, counter = fleet
    hist = pd.Series(420.0, index=pd.date_range("2026-10-22T00:00Z", periods=48, freq="h"))
    res = run_once(clients, load_policies(), SATURDAY, persistence_forecast(hist, SATURDAY), apply=True, table=TABLE)
    assert counter.writes().count(("cloudwatch", "PutMetricData")) == 1 == res.metric_calls
    cw = clients["cloudwatch"]
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="CarbonAwareFinOps")["Metrics"]}
    assert names == {"InstanceShutdown", "InstanceStartup", "CarbonIntensity", "CostSavings"}

    def stat(name, dims):
        r = cw.get_metric_statistics(Namespace="CarbonAwareFinOps", MetricName=name, Dimensions=dims,
                                     StartTime=SATURDAY - pd.Timedelta(hours=1), EndTime=SATURDAY + pd.Timedelta(hours=1),
                                     Period=3600, Statistics=["Sum"])
        return sum(p["Sum"] for p in r["Datapoints"])

    assert stat("InstanceShutdown", [{"Name": "Policy", "Value": "office-hours"}]) == 3
    fleet_wide = {d["MetricName"]: d["Value"] for d in res.metric_data if not d["Dimensions"]}
    assert fleet_wide == {"InstanceShutdown": 3, "InstanceStartup": 0, "CostSavings": pytest.approx(3 * 0.024 * 0.9239)}
    assert stat("CarbonIntensity", [{"Name": "Zone", "Value": "DE"}]) == 420.0
    assert stat("CostSavings", [{"Name": "Policy", "Value": "office-hours"}]) == pytest.approx(3 * 0.024 * 0.9239)
    items = clients["dynamodb"].scan(TableName=TABLE)["Items"]
    assert len(items) == len(res.decisions)
    office = [it for it in items if it["instance_id"]["S"] in ids["office"]]
    assert {it["action"]["S"] for it in office} == {"stop"} and {it["result"]["S"] for it in office} == {"ok"}
    back = sched_aws.read_dynamodb_history(clients["dynamodb"], TABLE, ids["office"], SATURDAY - pd.Timedelta(hours=1))
    assert set(back["target"]) == {"stopped"} and len(back) == 3


def test_bad_tag_or_policy_means_no_action(fleet, tmp_path):
    clients, ids, counter = fleet
    _launch(clients["ec2"], 1, {"Schedule": "Office Hours"})  # names no policy
    counter.calls.clear()
    before = _states(clients["ec2"])
    with pytest.raises(PolicyError, match="'Office Hours' names no policy"):
        run_once(clients, load_policies(), SATURDAY, None, apply=True, log_dir=tmp_path, table=TABLE)
    assert counter.writes() == [] and _states(clients["ec2"]) == before
    assert not list(tmp_path.iterdir())


class _FakeEC2:
    """Answers StopInstances with a scripted error for batches, per-instance results otherwise."""

    def __init__(self, batch_error: str, bad: set, single_error: str = "IncorrectInstanceState"):
        self.batch_error, self.bad, self.single_error, self.calls = batch_error, bad, single_error, []

    def stop_instances(self, InstanceIds):  # noqa: N803 (boto3's parameter name)
        self.calls.append(list(InstanceIds))
        if len(InstanceIds) > 1 or InstanceIds[0] in self.bad:
            code = self.batch_error if len(InstanceIds) > 1 else self.single_error
            raise botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "scripted"}}, "StopInstances")
        return {"StoppingInstances": [{"InstanceId": InstanceIds[0], "CurrentState": {"Name": "stopping"}}]}


def _decisions(ids, action="stop"):
    return pd.DataFrame({"instance_id": ids, "action": action})


def test_incorrect_instance_state_retries_one_by_one():
    ec2 = _FakeEC2("IncorrectInstanceState", bad={"i-2"})
    out = sched_aws.apply_decisions(ec2, _decisions(["i-1", "i-2", "i-3"])).set_index("instance_id")
    assert list(out["result"]) == ["ok", "incorrect_state", "ok"]
    assert ec2.calls == [["i-1", "i-2", "i-3"], ["i-1"], ["i-2"], ["i-3"]]


def test_throttling_marks_the_batch_and_continues():
    ec2 = _FakeEC2("RequestLimitExceeded", bad=set())
    out = sched_aws.apply_decisions(ec2, _decisions([f"i-{k}" for k in range(5)]), batch_size=3)
    assert list(out["result"]) == ["throttled"] * 3 + ["throttled"] * 2
    assert [len(c) for c in ec2.calls] == [3, 2]  # batched, no per-instance storm on throttling


def test_batches_of_fifty(fleet):
    clients, _, counter = fleet
    ids = _launch(clients["ec2"], 60, {"Schedule": "office-hours"}, itype="t3.micro")
    counter.calls.clear()
    res = run_once(clients, load_policies(), SATURDAY, None, apply=True)
    assert counter.writes().count(("ec2", "StopInstances")) == 2
    assert set(ids) <= set(res.results.loc[res.results["result"] == "ok", "instance_id"])
