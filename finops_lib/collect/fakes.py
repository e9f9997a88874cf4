"""Recorded-shape responders for the operations moto lacks (tests and benchmark).

moto 5 implements neither CloudTrail LookupEvents nor the Price List API
(REFERENCES.md). :class:`LocalResponder` is a tiny HTTP server on 127.0.0.1
that speaks AWS JSON 1.1 (``X-Amz-Target``) and plain REST GET, so the real
boto3 / requests clients parse real bytes: the collector code under test is
the code that talks to AWS. It counts hits per operation/path and can inject
faults (throttling, AccessDenied, truncated or non-JSON bodies, 401...).

The builders (:func:`cloudtrail_record`, :func:`pricing_product`) produce
records shaped like the documented ones (CloudTrail log file examples;
Price List API ``PriceList`` items, which are JSON *strings*).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

AMZ_JSON = "application/x-amz-json-1.1"

Handler = Callable[[dict, dict], tuple[int, object]]


class LocalResponder:
    """HTTP responder on a free loopback port; use as a context manager.

    Parameters
    ----------
    targets : dict of str to callable, optional
        AWS JSON 1.1 operation name (the part of ``X-Amz-Target`` after the
        last dot, e.g. ``LookupEvents``) -> ``f(body, headers) -> (status, obj)``.
    routes : dict of str to callable, optional
        GET path (e.g. ``/v3/carbon-intensity/history``) ->
        ``f(query, headers) -> (status, obj)``; ``query`` maps names to single values.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT``.
    hits : Counter
        Requests per operation / path (faults included).
    requests : list of (key, headers, body)
    """

    def __init__(self, targets: dict[str, Handler] | None = None, routes: dict[str, Handler] | None = None):
        self.targets = dict(targets or {})
        self.routes = dict(routes or {})
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict, object]] = []
        self._faults: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        responder = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                try:
                    payload = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    payload = {}
                responder._serve(self, op, responder.targets.get(op), payload, AMZ_JSON)

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                responder._serve(self, parts.path, responder.routes.get(parts.path), query, "application/json")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def inject(self, key: str, status: int, body: object, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``key`` with ``status``/``body`` (str = raw bytes)."""
        for _ in range(times):
            self._faults[key].append((status, body))

    def throttle(self, operation: str, times: int = 1) -> None:
        """The next ``times`` calls of an AWS operation get ThrottlingException."""
        self.inject(operation, 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}, times)

    def _serve(self, h: BaseHTTPRequestHandler, key: str, fn, payload, ctype: str) -> None:
        with self._lock:
            self.hits[key] += 1
            self.requests.append((key, dict(h.headers), payload))
            fault = self._faults[key].popleft() if self._faults[key] else None
        if fault is not None:
            status, obj = fault
        elif fn is None:
            status, obj = 404, {"__type": "UnknownOperationException", "message": f"no handler for {key}"}
        else:
            status, obj = fn(payload, dict(h.headers))
        data = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        h.end_headers()
        h.wfile.write(data)

    def start(self) -> LocalResponder:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalResponder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- #
# CloudTrail LookupEvents
# --------------------------------------------------------------------------- #
def _epoch(ts) -> float:
    if isinstance(ts, int | float):
        return float(ts)
    ts = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    return ts.timestamp() if ts.tzinfo else ts.replace(tzinfo=UTC).timestamp()


def lookup_events_handler(records: list[dict], page_size: int = 50) -> Handler:
    """A LookupEvents handler over recorded ``Events`` items (newest first, 50 a page).

    Honours one EventName lookup attribute, StartTime/EndTime and NextToken,
    like the real API (CloudTrail API reference, LookupEvents).
    """
    ordered = sorted(records, key=lambda r: _epoch(r["EventTime"]), reverse=True)

    def handle(body: dict, headers: dict):
        attrs = body.get("LookupAttributes", [])
        if len(attrs) > 1:
            return 400, {"__type": "InvalidLookupAttributesException",
                         "message": "You cannot specify more than one lookup attribute."}
        sel = ordered
        if attrs:
            key, value = attrs[0]["AttributeKey"], attrs[0]["AttributeValue"]
            if key != "EventName":
                return 400, {"__type": "InvalidLookupAttributesException", "message": f"unsupported {key}"}
            sel = [r for r in sel if r["EventName"] == value]
        t0, t1 = body.get("StartTime"), body.get("EndTime")
        sel = [r for r in sel if (t0 is None or _epoch(r["EventTime"]) >= t0)
               and (t1 is None or _epoch(r["EventTime"]) <= t1)]
        size = min(int(body.get("MaxResults", page_size)), page_size)
        offset = int(body.get("NextToken") or 0)
        page = sel[offset:offset + size]
        out = {"Events": [{**r, "EventTime": _epoch(r["EventTime"])} for r in page]}
        if offset + size < len(sel):
            out["NextToken"] = str(offset + size)
        return 200, out

    return handle


_STATES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
_TRANSITIONS = {
    "StartInstances": ("stopped", "pending"),
    "StopInstances": ("running", "stopping"),
    "TerminateInstances": ("running", "shutting-down"),
}


def cloudtrail_record(event_name: str, instance_ids: list[str], event_time, *, region: str = "eu-central-1",
                      instance_type: str = "m5.large", account_id: str = "123456789012",
                      event_id: str | None = None) -> dict:
    """One LookupEvents ``Events`` item shaped like a real record.

    ``CloudTrailEvent`` is a JSON string. Start/Stop/Terminate carry the
    instance ids in ``requestParameters.instancesSet.items`` and the states in
    ``responseElements``; RunInstances only in ``responseElements`` (with
    ``instanceType``, ``launchTime``, ``instanceState``); BidEvictedEvent is an
    ``AwsServiceEvent`` (CloudTrail log file examples, EC2 Spot user guide).
    """
    t = datetime.fromtimestamp(_epoch(event_time), tz=UTC)
    iso = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    event_id = event_id or str(uuid.uuid4())
    ct: dict = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:ops", "accountId": account_id,
                         "arn": f"arn:aws:sts::{account_id}:assumed-role/ops/ops"},
        "eventTime": iso, "eventSource": "ec2.amazonaws.com", "eventName": event_name,
        "awsRegion": region, "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15",
        "requestID": str(uuid.uuid5(uuid.NAMESPACE_OID, event_id)), "eventID": event_id, "readOnly": False,
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if event_name == "RunInstances":
        ct["requestParameters"] = {"instancesSet": {"items": [{"imageId": "ami-0123456789abcdef0",
                                                                "minCount": len(instance_ids),
                                                                "maxCount": len(instance_ids)}]},
                                   "instanceType": instance_type}
        ct["responseElements"] = {"requestId": ct["requestID"], "reservationId": "r-0123456789abcdef0",
                                  "ownerId": account_id, "instancesSet": {"items": [
                                      {"instanceId": i, "imageId": "ami-0123456789abcdef0",
                                       "instanceState": {"code": 0, "name": "pending"},
                                       "instanceType": instance_type, "launchTime": int(t.timestamp() * 1000),
                                       "placement": {"availabilityZone": f"{region}a", "tenancy": "default"}}
                                      for i in instance_ids]}}
    elif event_name == "BidEvictedEvent":
        ct.update({"eventType": "AwsServiceEvent", "readOnly": False, "userIdentity": {
            "accountId": account_id, "invokedBy": "ec2.amazonaws.com"},
            "sourceIPAddress": "ec2.amazonaws.com", "userAgent": "ec2.amazonaws.com",
            "serviceEventDetails": {"instanceIdSet": list(instance_ids)}})
        ct.pop("requestID")
    else:
        prev, cur = _TRANSITIONS[event_name]
        ct["requestParameters"] = {"instancesSet": {"items": [{"instanceId": i} for i in instance_ids]}}
        ct["responseElements"] = {"requestId": ct["requestID"], "instancesSet": {"items": [
            {"instanceId": i, "currentState": {"code": _STATES[cur], "name": cur},
             "previousState": {"code": _STATES[prev], "name": prev}} for i in instance_ids]}}
    return {
        "EventId": event_id, "EventName": event_name, "ReadOnly": "false",
        "AccessKeyId": "ASIAEXAMPLEKEY", "EventTime": iso, "EventSource": "ec2.amazonaws.com",
        "Username": "ops",
        "Resources": [{"ResourceType": "AWS::EC2::Instance", "ResourceName": i} for i in instance_ids],
        "CloudTrailEvent": json.dumps(ct),
    }


# --------------------------------------------------------------------------- #
# Pricing GetProducts
# --------------------------------------------------------------------------- #
def pricing_product(instance_type: str, region: str, usd_per_hour: float, *,
                    effective_date: str = "2026-11-01T00:00:00Z", capacitystatus: str = "Used",
                    sku: str | None = None, usage_type: str | None = None,
                    extra_attributes: dict | None = None) -> str:
    """One ``PriceList`` item (a JSON string) for on-demand Linux, shared tenancy.

    The one builder of price-list items: the tests' recorded-shape responder and
    the sandbox's Pricing server both use it (the sandbox adds its own sku,
    capacity-reservation variants and catalogue attributes).
    """
    sku = sku or "SKU" + uuid.uuid5(uuid.NAMESPACE_DNS, f"{instance_type}/{region}").hex[:13].upper()
    term = f"{sku}.JRTCKXETXF"
    item = {
        "product": {"productFamily": "Compute Instance", "sku": sku, "attributes": {
            "servicecode": "AmazonEC2", "instanceType": instance_type, "regionCode": region,
            "location": "EU (Frankfurt)" if region == "eu-central-1" else region,
            "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
            "capacitystatus": capacitystatus, "licenseModel": "No License required",
            "usagetype": usage_type or f"EUC1-BoxUsage:{instance_type}", "operation": "RunInstances",
            **(extra_attributes or {})}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {term: {
            "priceDimensions": {f"{term}.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "rateCode": f"{term}.6YS6EN2CT7",
                "description": f"${usd_per_hour} per On Demand Linux {instance_type} Instance Hour",
                "pricePerUnit": {"USD": f"{usd_per_hour:.10f}"}}},
            "sku": sku, "effectiveDate": effective_date, "offerTermCode": "JRTCKXETXF", "termAttributes": {}}}},
        "version": effective_date[:10].replace("-", "") + "000000", "publicationDate": effective_date,
    }
    return json.dumps(item)


def get_products_handler(prices_usd_per_hour: dict[str, float], region: str) -> Handler:
    """A GetProducts handler answering TERM_MATCH instanceType queries from a price table."""

    def handle(body: dict, headers: dict):
        f = {x["Field"]: x["Value"] for x in body.get("Filters", [])}
        itype = f.get("instanceType")
        items = [pricing_product(itype, region, prices_usd_per_hour[itype])] if itype in prices_usd_per_hour else []
        return 200, {"FormatVersion": "aws_v1", "PriceList": items}

    return handle


class patch_moto_lookup_events:  # noqa: N801 - used like a function
    """Serve LookupEvents from ``records`` inside moto (which does not implement it).

    Replaces ``moto.cloudtrail.responses.CloudTrailResponse.lookup_events``
    for the duration of the ``with`` block (decorator mode and
    ``ThreadedMotoServer`` alike), so the boto3 CloudTrail client of the
    collector talks to moto like to AWS. ``hits`` counts the calls served.
    """

    def __init__(self, records: list[dict] | None = None, page_size: int = 50, handler: Handler | None = None):
        self.handler = handler or lookup_events_handler(records or [], page_size)
        self.hits = 0

    def __enter__(self):
        from moto.cloudtrail.responses import CloudTrailResponse

        self._cls, self._old = CloudTrailResponse, CloudTrailResponse.__dict__.get("lookup_events")
        patch = self

        def lookup_events(resp_self):
            patch.hits += 1
            status, obj = patch.handler(json.loads(resp_self.body or "{}"), {})
            return status, {"Content-Type": AMZ_JSON, "status": status}, json.dumps(obj)

        CloudTrailResponse.lookup_events = lookup_events
        return self

    def __exit__(self, *exc):
        if self._old is None:
            del self._cls.lookup_events
        else:
            self._cls.lookup_events = self._old
