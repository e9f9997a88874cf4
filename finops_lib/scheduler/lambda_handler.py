"""AWS Lambda entry point of the scheduler (invoked hourly by EventBridge Scheduler).

Configuration, all from the function's environment (Terraform sets it):

``SCHEDULER_APPLY``
    ``true`` stops/starts instances; anything else is a dry run (the default:
    deploying stays opt-in, and so does acting).
``DECISION_TABLE``
    DynamoDB table of the decision log (key ``instance_id`` + ``decided_at``).
``GRID_ZONE``
    Electricity Maps zone, default ``DE``.
``ELECTRICITYMAPS_API_KEY_PARAMETER``
    Optional name of an SSM SecureString holding the Electricity Maps key
    (never the key itself in the environment). Without it there is no
    forecast: carbon-aware policies without a deadline hold, deadline
    policies run their hours as early as possible.
``POLICY_FILE``
    Optional policy file path inside the package (default: the bundled one).

The event's ``time`` (EventBridge) is the decision time when present.
"""

from __future__ import annotations

import json
import logging
import os

import pandas as pd

log = logging.getLogger(__name__)


def _forecast(session, zone: str, now):
    param = os.environ.get("ELECTRICITYMAPS_API_KEY_PARAMETER")
    if not param:
        log.warning("no ELECTRICITYMAPS_API_KEY_PARAMETER: deciding without an intensity forecast")
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from finops_lib.collect.errors import CollectError
    from finops_lib.scheduler.run import intensity_forecast_electricitymaps

    try:
        key = session.client("ssm").get_parameter(Name=param, WithDecryption=True)["Parameter"]["Value"]
        return intensity_forecast_electricitymaps(zone, now, api_key=key)
    except (ClientError, BotoCoreError, CollectError) as exc:
        # the hour-based policies still hold; carbon-aware ones without a forecast hold or meet their deadline
        log.warning("no intensity forecast (%s: %s): deciding without one", type(exc).__name__, exc)
        return None


def handler(event, context, session_factory=None) -> dict:
    """Run the scheduler once; returns counts (also logged as JSON).

    ``session_factory`` (tests) returns a ``boto3.Session``; default ``boto3.Session``.
    """
    import boto3

    from finops_lib.scheduler import aws
    from finops_lib.scheduler.policy import load_policies
    from finops_lib.scheduler.run import run_once

    logging.getLogger().setLevel(logging.INFO)
    session = (session_factory or boto3.Session)()
    region = os.environ.get("AWS_REGION") or session.region_name
    apply = os.environ.get("SCHEDULER_APPLY", "false").strip().lower() == "true"
    zone = os.environ.get("GRID_ZONE", "DE")
    now = pd.Timestamp((event or {}).get("time") or pd.Timestamp.now(tz="UTC"))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    policies = load_policies(os.environ.get("POLICY_FILE") or None)
    clients = aws.make_clients(session, region)
    res = run_once(clients, policies, now, _forecast(session, zone, now), apply=apply, zone=zone,
                   table=os.environ.get("DECISION_TABLE") or None)
    d = res.decisions
    summary = {
        "decided_at": now.isoformat(), "mode": "apply" if apply else "dry-run", "instances": len(d),
        "opted_in": int(d["policy"].notna().sum()), "stop": int((d["action"] == "stop").sum()),
        "start": int((d["action"] == "start").sum()),
        "failed": 0 if res.results is None else int((res.results["result"] != "ok").sum()),
        "expected_cost_saved_eur": float(d["expected_cost_saved_eur"].sum()),
        "metric_datums": len(res.metric_data) if apply else 0,
    }
    log.info(json.dumps(summary))
    return summary
