"""The scheduler's edge: read the fleet, stop/start, publish metrics, keep the decision log.

Every function takes boto3 clients built by the caller (from an injected
``boto3.Session``, c7n's ``session_factory`` style); nothing here builds a
session. The only write calls are ``ec2:StopInstances``/``StartInstances``
(:func:`apply_decisions`), ``cloudwatch:PutMetricData`` (:func:`put_metrics`)
and ``dynamodb:BatchWriteItem`` (:func:`write_dynamodb`) -- :data:`WRITE_OPERATIONS`.

CloudWatch metrics (namespace :data:`METRICS_NAMESPACE`), one datum per run
(timestamp = decision time) for each policy with the dimension ``Policy`` and
once fleet-wide without dimensions:

================ ====== ===================================================
metric           unit   value
================ ====== ===================================================
InstanceShutdown Count  instances stopped by this run (successful calls)
InstanceStartup  Count  instances started by this run (successful calls)
CostSavings      None   expected EUR saved over the next interval by the
                        instances held stopped (decision ``target=stopped``)
CarbonIntensity  None   forecast intensity of the current hour [gCO2e/kWh],
                        dimension ``Zone`` (e.g. DE) only
================ ====== ===================================================
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from pathlib import Path

import botocore.exceptions
import numpy as np
import pandas as pd
from botocore.config import Config

from finops_lib.report import atomic_write_text

log = logging.getLogger(__name__)

METRICS_NAMESPACE = "CarbonAwareFinOps"
#: API operations that change anything; the dry run calls none of them.
WRITE_OPERATIONS = {
    "ec2": ("StartInstances", "StopInstances"),
    "cloudwatch": ("PutMetricData",),
    "dynamodb": ("BatchWriteItem",),
}
#: IAM actions the scheduler needs (terraform/ scheduler role; tests compare).
REQUIRED_IAM_ACTIONS = ("cloudwatch:PutMetricData", "dynamodb:BatchWriteItem",
                        "dynamodb:Query", "ec2:DescribeInstances", "ec2:StartInstances", "ec2:StopInstances")
#: Instances per StartInstances/StopInstances call (our choice: a failed batch is retried per instance).
EC2_BATCH = 50
#: Datums per PutMetricData call (CloudWatch API reference: up to 1,000 metrics per request).
METRIC_BATCH = 1000
#: Items per BatchWriteItem call (DynamoDB API reference: at most 25).
DYNAMODB_BATCH = 25
THROTTLED = {"RequestLimitExceeded", "Throttling", "ThrottlingException", "ProvisionedThroughputExceededException",
             "RequestThrottled", "TooManyRequestsException"}
INCORRECT_STATE = "IncorrectInstanceState"
#: botocore standard retries (throttling included) before a call is reported throttled.
MAX_ATTEMPTS = 5


def make_clients(session, region: str, *, endpoint_url: str | None = None, max_attempts: int = MAX_ATTEMPTS) -> dict:
    """ec2, cloudwatch and dynamodb clients from an injected ``boto3.Session``."""
    cfg = Config(retries={"mode": "standard", "total_max_attempts": max_attempts})
    return {name: session.client(name, region_name=region, endpoint_url=endpoint_url, config=cfg)
            for name in ("ec2", "cloudwatch", "dynamodb")}


def describe_instances(ec2) -> pd.DataFrame:
    """Every instance the credentials see (paginated DescribeInstances).

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``instance_type``, ``state``, ``lifecycle``
        (spot/on-demand), ``tags`` (dict).
    """
    rows = []
    for page in ec2.get_paginator("describe_instances").paginate():
        for res in page["Reservations"]:
            for i in res["Instances"]:
                rows.append({"instance_id": i["InstanceId"], "instance_type": i["InstanceType"],
                             "state": i["State"]["Name"], "lifecycle": i.get("InstanceLifecycle", "on-demand"),
                             "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])}})
    return pd.DataFrame(rows, columns=["instance_id", "instance_type", "state", "lifecycle", "tags"])


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def apply_decisions(ec2, decisions: pd.DataFrame, batch_size: int = EC2_BATCH) -> pd.DataFrame:
    """Stop / start the instances whose decision says so, in batches.

    Only rows with ``action`` start or stop are acted on (the decision already
    skipped everything not opted in and everything in its target state). A
    batch failing with ``IncorrectInstanceState`` is retried instance by
    instance, so one instance that changed state meanwhile does not block the
    others; throttling left after botocore's retries marks the batch
    ``throttled`` (the next run retries it).

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``action``, ``result`` (ok, incorrect_state,
        throttled, or failed:<code>), ``current_state`` (as EC2 answered).
    """
    out = []
    for action, op in (("stop", "stop_instances"), ("start", "start_instances")):
        ids = decisions.loc[decisions["action"] == action, "instance_id"].tolist()
        key = "StoppingInstances" if action == "stop" else "StartingInstances"
        for k in range(0, len(ids), batch_size):
            batch = ids[k:k + batch_size]
            try:
                resp = getattr(ec2, op)(InstanceIds=batch)
                out += [{"instance_id": c["InstanceId"], "action": action, "result": "ok",
                         "current_state": c["CurrentState"]["Name"]} for c in resp[key]]
                continue
            except botocore.exceptions.ClientError as exc:
                code = _code(exc)
                if code in THROTTLED:
                    log.warning("%s of %d instances still throttled (%s); the next run retries", action, len(batch), code)
                    out += [{"instance_id": i, "action": action, "result": "throttled", "current_state": None}
                            for i in batch]
                    continue
                if code != INCORRECT_STATE:
                    out += [{"instance_id": i, "action": action, "result": f"failed:{code}", "current_state": None}
                            for i in batch]
                    log.error("%s failed for %s: %s", action, batch, exc)
                    continue
            for iid in batch:  # IncorrectInstanceState: one by one
                try:
                    c = getattr(ec2, op)(InstanceIds=[iid])[key][0]
                    out.append({"instance_id": iid, "action": action, "result": "ok",
                                "current_state": c["CurrentState"]["Name"]})
                except botocore.exceptions.ClientError as exc:
                    code = _code(exc)
                    result = "incorrect_state" if code == INCORRECT_STATE else \
                        "throttled" if code in THROTTLED else f"failed:{code}"  # fmt: skip
                    out.append({"instance_id": iid, "action": action, "result": result, "current_state": None})
    return pd.DataFrame(out, columns=["instance_id", "action", "result", "current_state"])


def metric_data(decisions: pd.DataFrame, results: pd.DataFrame | None, zone: str) -> list[dict]:
    """The PutMetricData datums of one run (see the module docstring)."""
    if decisions.empty:
        return []
    ts = pd.Timestamp(decisions["decided_at"].iloc[0]).to_pydatetime()
    ok = set() if results is None or results.empty else set(results.loc[results["result"] == "ok", "instance_id"])
    d = decisions.assign(ok=decisions["instance_id"].isin(ok))
    datums = []

    def add(name, value, unit, dims):
        datums.append({"MetricName": name, "Timestamp": ts, "Value": float(value), "Unit": unit,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]})

    scheduled = d[d["policy"].notna()]
    for dims, g in [({"Policy": p}, g) for p, g in scheduled.groupby("policy", sort=True)] + [({}, scheduled)]:
        add("InstanceShutdown", ((g["action"] == "stop") & g["ok"]).sum(), "Count", dims)
        add("InstanceStartup", ((g["action"] == "start") & g["ok"]).sum(), "Count", dims)
        add("CostSavings", g["expected_cost_saved_eur"].sum(min_count=1) if len(g) else 0.0, "None", dims)
    cur = d["intensity_g_per_kwh"].iloc[0]
    if not pd.isna(cur):
        add("CarbonIntensity", cur, "None", {"Zone": zone})
    return [x for x in datums if not np.isnan(x["Value"])]


def put_metrics(cloudwatch, datums: list[dict], namespace: str = METRICS_NAMESPACE,
                batch_size: int = METRIC_BATCH) -> int:
    """PutMetricData in batches; returns the number of calls."""
    calls = 0
    for k in range(0, len(datums), batch_size):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[k:k + batch_size])
        calls += 1
    return calls


# --------------------------------------------------------------------------- #
# decision log
# --------------------------------------------------------------------------- #
def _records(decisions: pd.DataFrame, results: pd.DataFrame | None, mode: str) -> pd.DataFrame:
    df = decisions.copy()
    df["mode"] = mode
    if results is not None and not results.empty:
        df = df.merge(results[["instance_id", "result"]], on="instance_id", how="left")
    else:
        df["result"] = None
    return df


def write_local_log(decisions: pd.DataFrame, results: pd.DataFrame | None, log_dir, mode: str) -> list[Path]:
    """One JSONL and one Parquet file per run in ``log_dir`` (atomic), named by decision time."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    df = _records(decisions, results, mode)
    stamp = pd.Timestamp(df["decided_at"].iloc[0]).strftime("%Y%m%dT%H%M%SZ") if len(df) else "empty"
    base = log_dir / f"decisions-{stamp}-{mode}"
    jsonl = df.assign(decided_at=df["decided_at"].map(lambda t: pd.Timestamp(t).isoformat()))
    atomic_write_text(base.with_suffix(".jsonl"),
                      "".join(json.dumps(r, default=str) + "\n" for r in jsonl.to_dict("records")))
    tmp = base.with_name(base.name + ".parquet.tmp")
    df.astype({c: "string" for c in ("policy", "target", "co2_basis", "result", "reason")}).to_parquet(tmp, index=False)
    tmp.replace(base.with_suffix(".parquet"))
    return [base.with_suffix(".jsonl"), base.with_suffix(".parquet")]


def read_local_log(log_dir) -> pd.DataFrame:
    """All decisions logged in ``log_dir`` (applied runs only are history for deadlines)."""
    files = sorted(Path(log_dir).glob("decisions-*.parquet"))
    if not files:
        return pd.DataFrame(columns=["instance_id", "decided_at", "target", "mode"])
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _ddb_value(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return {"NULL": True}
    if isinstance(v, bool | np.bool_):
        return {"BOOL": bool(v)}
    if isinstance(v, int | float | np.integer | np.floating):
        return {"N": str(Decimal(str(round(float(v), 9))))}
    if isinstance(v, pd.Timestamp):
        return {"S": v.isoformat()}
    return {"S": str(v)}


def write_dynamodb(dynamodb, table: str, decisions: pd.DataFrame, results: pd.DataFrame | None, mode: str,
                   max_rounds: int = 5) -> int:
    """Decisions into the DynamoDB table (key ``instance_id`` + ``decided_at``), 25 items a call.

    Unprocessed items are resent with exponential backoff, at most
    ``max_rounds`` times; returns the number of calls.
    """
    df = _records(decisions, results, mode)
    items = [{"PutRequest": {"Item": {k: _ddb_value(v) for k, v in r.items()}}} for r in df.to_dict("records")]
    calls = 0
    for k in range(0, len(items), DYNAMODB_BATCH):
        pending = {table: items[k:k + DYNAMODB_BATCH]}
        for rnd in range(max_rounds):
            resp = dynamodb.batch_write_item(RequestItems=pending)
            calls += 1
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(0.05 * 2**rnd)
        else:
            raise RuntimeError(f"DynamoDB {table}: {len(pending.get(table, []))} items unprocessed after {max_rounds} rounds")
    return calls


def read_dynamodb_history(dynamodb, table: str, instance_ids, since) -> pd.DataFrame:
    """Applied decisions of ``instance_ids`` since ``since`` (Query by key, one per instance)."""
    since = pd.Timestamp(since)
    rows = []
    for iid in instance_ids:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="instance_id = :i AND decided_at >= :t",
            ExpressionAttributeValues={":i": {"S": iid}, ":t": {"S": since.isoformat()}})
        for page in pages:
            for it in page["Items"]:
                rows.append({"instance_id": iid, "decided_at": it["decided_at"]["S"],
                             **{k: it.get(k, {}).get("S") for k in ("target", "mode", "action", "result")}})
    return pd.DataFrame(rows, columns=["instance_id", "decided_at", "target", "mode", "action", "result"])


class CallLog:
    """Every API call made through a boto3 Session, in order (botocore ``before-call`` event).

    ``CallLog(session).writes()`` lists the calls of :data:`WRITE_OPERATIONS`
    -- how the dry run proves it changed nothing.
    """

    def __init__(self, session):
        self.calls: list[tuple[str, str]] = []
        session.events.register("before-call", self._hook)

    def _hook(self, model, **kwargs):
        svc = model.service_model.endpoint_prefix
        self.calls.append(("cloudwatch" if svc == "monitoring" else svc, model.name))

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[1] in WRITE_OPERATIONS.get(c[0], ())]


def create_decision_table(dynamodb, table: str) -> None:
    """Create the decision-log table (key ``instance_id`` + ``decided_at``) -- for the sandbox; Terraform does it on AWS."""
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "instance_id", "KeyType": "HASH"},
                   {"AttributeName": "decided_at", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "instance_id", "AttributeType": "S"},
                              {"AttributeName": "decided_at", "AttributeType": "S"}])  # fmt: skip
