"""Build CloudTrail ``LookupEvents`` records in their real shape, for tests.

Each builder returns one item of ``Events`` as boto3 ``lookup_events`` returns
it: ``EventId``, ``EventName``, ``ReadOnly``, ``AccessKeyId``, ``EventTime``
(a timezone-aware datetime), ``EventSource``, ``Username``, ``Resources`` and
``CloudTrailEvent`` (a JSON **string**). The inner record follows the
CloudTrail log file examples (eventVersion, eventTime, eventSource
ec2.amazonaws.com, eventName, awsRegion, requestParameters.instancesSet,
responseElements.instancesSet with currentState/previousState {code, name}) and,
for ``BidEvictedEvent``, the EC2 user guide example (eventType AwsServiceEvent,
serviceEventDetails.instanceIdSet).

Usage::

    from tests.calc.cloudtrail_records import stop, start, run, terminate, bid_evicted
    rec = stop(["i-1", "i-2"], "2026-11-01T10:00:00Z")
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

#: EC2 instance state codes (EC2 API reference, InstanceState).
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

#: (previous, current) state each API call reports in responseElements.
TRANSITIONS = {
    "StartInstances": ("stopped", "pending"),
    "StopInstances": ("running", "stopping"),
    "TerminateInstances": ("running", "shutting-down"),
}


def _state(name: str) -> dict[str, Any]:
    return {"code": STATE_CODES[name], "name": name}


def _time(t: str | datetime) -> datetime:
    if isinstance(t, datetime):
        return t
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _wrap(detail: dict[str, Any], instance_ids: list[str], *, event_id: str | None = None,
          cloudtrail_event: str | None = None) -> dict[str, Any]:
    """The LookupEvents envelope around one inner record."""
    event_id = event_id or detail.get("eventID") or str(uuid.uuid4())
    detail.setdefault("eventID", event_id)
    return {
        "EventId": event_id,
        "EventName": detail["eventName"],
        "ReadOnly": "false",
        "AccessKeyId": "ASIAEXAMPLEKEY",
        "EventTime": _time(detail["eventTime"]),
        "EventSource": "ec2.amazonaws.com",
        "Username": "tester",
        "Resources": [{"ResourceType": "AWS::EC2::Instance", "ResourceName": i} for i in instance_ids],
        "CloudTrailEvent": json.dumps(detail) if cloudtrail_event is None else cloudtrail_event,
    }


def _base(name: str, t: str | datetime, region: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "accountId": "123456789012", "userName": "tester"},
        "eventTime": _iso(_time(t)),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.1",
        "userAgent": "aws-cli/2.15.0",
        "requestID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "123456789012",
        "eventCategory": "Management",
    }


def state_change(name: str, instance_ids: list[str] | str, t: str | datetime, *,
                 previous: str | None = None, current: str | None = None, region: str = "eu-central-1",
                 event_id: str | None = None, error_code: str | None = None) -> dict[str, Any]:
    """A StartInstances / StopInstances / TerminateInstances record naming ``instance_ids``."""
    ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
    prev_default, cur_default = TRANSITIONS[name]
    detail = _base(name, t, region)
    detail["requestParameters"] = {"instancesSet": {"items": [{"instanceId": i} for i in ids]}}
    if name == "StopInstances":
        detail["requestParameters"]["force"] = False
    if error_code:
        detail["errorCode"] = error_code
        detail["errorMessage"] = f"simulated {error_code}"
        detail["responseElements"] = None
    else:
        detail["responseElements"] = {
            "requestId": detail["requestID"],
            "instancesSet": {"items": [
                {"instanceId": i, "currentState": _state(current or cur_default),
                 "previousState": _state(previous or prev_default)} for i in ids
            ]},
        }
    return _wrap(detail, ids, event_id=event_id)


def start(instance_ids, t, **kw):
    """StartInstances (previousState stopped -> currentState pending by default)."""
    return state_change("StartInstances", instance_ids, t, **kw)


def stop(instance_ids, t, **kw):
    """StopInstances (previousState running -> currentState stopping by default)."""
    return state_change("StopInstances", instance_ids, t, **kw)


def terminate(instance_ids, t, **kw):
    """TerminateInstances (previousState running -> currentState shutting-down by default)."""
    return state_change("TerminateInstances", instance_ids, t, **kw)


def run(instance_ids: list[str] | str, t: str | datetime, *, instance_type: str = "m5.large",
        region: str = "eu-central-1", event_id: str | None = None) -> dict[str, Any]:
    """RunInstances: ids only in responseElements.instancesSet.items[] (with instanceState)."""
    ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
    detail = _base("RunInstances", t, region)
    detail["requestParameters"] = {
        "instancesSet": {"items": [{"imageId": "ami-0123456789abcdef0", "minCount": len(ids), "maxCount": len(ids)}]},
        "instanceType": instance_type,
    }
    detail["responseElements"] = {
        "requestId": detail["requestID"],
        "reservationId": "r-0123456789abcdef0",
        "ownerId": "123456789012",
        "instancesSet": {"items": [
            {"instanceId": i, "imageId": "ami-0123456789abcdef0", "instanceState": _state("pending"),
             "instanceType": instance_type, "launchTime": int(_time(t).timestamp() * 1000),
             "placement": {"availabilityZone": f"{region}a", "tenancy": "default"}} for i in ids
        ]},
    }
    return _wrap(detail, ids, event_id=event_id)


def bid_evicted(instance_ids: list[str] | str, t: str | datetime, *, region: str = "eu-central-1",
                event_id: str | None = None, with_resources: bool = True) -> dict[str, Any]:
    """Spot interruption: eventType AwsServiceEvent, ids in serviceEventDetails.instanceIdSet."""
    ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
    detail = {
        "eventVersion": "1.05",
        "userIdentity": {"accountId": "123456789012", "invokedBy": "ec2.amazonaws.com"},
        "eventTime": _iso(_time(t)),
        "eventSource": "ec2.amazonaws.com",
        "userAgent": "ec2.amazonaws.com",
        "sourceIPAddress": "ec2.amazonaws.com",
        "eventName": "BidEvictedEvent",
        "awsRegion": region,
        "eventType": "AwsServiceEvent",
        "recipientAccountId": "123456789012",
        "RequestParameters": None,
        "ResponseElements": None,
        "serviceEventDetails": {"instanceIdSet": ids},
    }
    rec = _wrap(detail, ids, event_id=event_id)
    if not with_resources:
        rec["Resources"] = []
    return rec


def raw(name: str, cloudtrail_event: str, t: str | datetime, *, event_id: str | None = None) -> dict[str, Any]:
    """A record with an arbitrary (possibly malformed) CloudTrailEvent string."""
    return _wrap({"eventName": name, "eventTime": _iso(_time(t))}, [], event_id=event_id,
                 cloudtrail_event=cloudtrail_event)
