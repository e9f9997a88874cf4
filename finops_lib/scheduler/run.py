"""One scheduler run: read the fleet, decide, (apply), publish metrics, log.

Used by ``finops schedule`` and the Lambda handler. The dry run (default)
calls no write operation (:data:`finops_lib.scheduler.aws.WRITE_OPERATIONS`);
it only writes the local decision log.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import pandas as pd

from finops_lib.scheduler import aws
from finops_lib.scheduler.decide import decide, parse_tags, persistence_forecast
from finops_lib.scheduler.policy import PolicyError, PolicySet

log = logging.getLogger(__name__)

#: Hours of intensity history the day-ahead persistence forecast needs (the last day). [h]
FORECAST_HISTORY_H = 24


@dataclass
class RunResult:
    decisions: pd.DataFrame
    results: pd.DataFrame | None
    metric_data: list
    metric_calls: int
    log_files: list


def deadline_instance_ids(instances: pd.DataFrame, policies: PolicySet) -> list[str]:
    """Instances whose Schedule tag names a policy with a deadline (they need history)."""
    out = []
    for iid, tags in zip(instances["instance_id"], instances["tags"], strict=True):
        value = parse_tags(tags).get(policies.schedule_tag)
        try:
            if value is not None and policies.resolve(value).has_deadline:
                out.append(iid)
        except PolicyError:
            continue  # decide() reports it
    return out


def run_once(clients: dict, policies: PolicySet, now, forecast_g_per_kwh: pd.Series | None, *, apply: bool = False,
             zone: str = "DE", log_dir=None, table: str | None = None) -> RunResult:
    """One run against the clients of :func:`finops_lib.scheduler.aws.make_clients`.

    History for deadline policies comes from the DynamoDB ``table`` when given,
    else from the local ``log_dir`` (applied runs only).

    Raises
    ------
    PolicyError
        Before any write call, when any instance cannot be scheduled.
    """
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    instances = aws.describe_instances(clients["ec2"])
    since = now - pd.Timedelta(hours=25)
    history = None
    ids = deadline_instance_ids(instances, policies)
    if ids and table:
        history = aws.read_dynamodb_history(clients["dynamodb"], table, ids, since)
    elif ids and log_dir:
        history = aws.read_local_log(log_dir)
    history = ran_history(history)
    decisions = decide(instances, now, forecast_g_per_kwh, policies, history=history)
    results, calls = None, 0
    if apply:
        results = aws.apply_decisions(clients["ec2"], decisions)
    # the decision log first (the next run's deadline history depends on it), metrics last
    if apply and table:
        aws.write_dynamodb(clients["dynamodb"], table, decisions, results, "apply")
    files = aws.write_local_log(decisions, results, log_dir, "apply" if apply else "dry-run") if log_dir else []
    datums = aws.metric_data(decisions, results, zone)
    if apply:
        calls = aws.put_metrics(clients["cloudwatch"], datums)
    return RunResult(decisions, results, datums, calls, files)


def ran_history(history: pd.DataFrame | None) -> pd.DataFrame | None:
    """The decision-log rows that count as hours a deadline job ran.

    Applied decisions only (no dry run), no ``skip`` (instance in transition),
    and no start that failed or was throttled: ``result`` is ``ok`` or empty
    (no call needed, the instance was already running).
    """
    if history is None:
        return None
    keep = history["mode"].eq("apply") if "mode" in history else pd.Series(True, index=history.index)
    if "action" in history:
        keep &= history["action"].ne("skip").fillna(True)
    if "result" in history:
        keep &= history["result"].isna() | history["result"].eq("ok")
    return history[keep]


def intensity_forecast_electricitymaps(zone: str, now, *, api_key: str | None = None, base_url: str | None = None,
                                       counter=None) -> pd.Series:
    """Persistence forecast from the last :data:`FORECAST_HISTORY_H` hours of Electricity Maps history.

    Key and URL from ``ELECTRICITYMAPS_API_KEY`` / ``ELECTRICITYMAPS_URL`` unless given. A decision
    time within the last hour uses the ``history`` endpoint (one request, free keys); an earlier one
    (a replay, the sandbox) ``past-range``.
    """
    from finops_lib.collect.carbon import EM_BASE_URL, get_intensity_electricitymaps

    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    api_key = api_key or os.environ.get("ELECTRICITYMAPS_API_KEY")
    base_url = base_url or os.environ.get("ELECTRICITYMAPS_URL", EM_BASE_URL)
    h0 = now.floor("h")
    live = abs(pd.Timestamp.now(tz="UTC") - now) < pd.Timedelta(hours=1)
    df, _ = get_intensity_electricitymaps(zone, h0 - pd.Timedelta(hours=FORECAST_HISTORY_H), h0, api_key, base_url,
                                          endpoint="history" if live else "past-range", counter=counter,
                                          cache_dir=None)
    hist = df.set_index("hour")["intensity_g_per_kwh"].sort_index()
    return persistence_forecast(hist, now)
