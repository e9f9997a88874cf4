"""AWS collectors: inventory, state events, CPU, prices, billed cost.

Every function takes a boto3 client that the caller built (tests inject
clients bound to moto or to a local responder); none builds one at import.
Each ``get_*`` returns ``(data, meta)``: ``data`` a tidy DataFrame in the
snapshot contract's columns (UTC, interval start), ``meta`` a dict with the
request, the region, the retrieval time, call counts and warnings.

Limits used here (see ``shared/REFERENCES.md``):

- CloudTrail LookupEvents: 2 requests/s, 50 events a page, one lookup
  attribute -> one query per event name (CloudTrail API reference).
- CloudWatch GetMetricData: <= 500 queries a call, <= 100,800 datapoints a
  call (CloudWatch API reference).
- Cost Explorer: $0.01 per request, every page a request (CE FAQ);
  hourly/with resources only for the last 14 days (CE API reference).
- Pricing GetProducts: one call per instance type (Billing user guide).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.exceptions
import botocore.parsers
import pandas as pd
from botocore.config import Config

from finops_lib import schema
from finops_lib.collect.errors import (
    AccessDeniedError,
    CollectError,
    CredentialsError,
    PayloadError,
    SourceUnavailable,
    ThrottledError,
    conform_payload,
)
from finops_lib.constants import PERCENT

#: Event names queried in CloudTrail, one LookupEvents query each.
EVENT_NAMES = ("RunInstances", "StartInstances", "StopInstances", "TerminateInstances", "BidEvictedEvent")
#: LookupEvents page size (CloudTrail API reference, LookupEvents).
LOOKUP_EVENTS_PAGE = 50
#: LookupEvents rate limit: 2 requests/s per account and region (same). [s]
LOOKUP_EVENTS_MIN_INTERVAL_S = 0.5
#: GetMetricData: at most 500 queries a call (CloudWatch API reference).
GET_METRIC_DATA_MAX_QUERIES = 500
#: GetMetricData: at most 100,800 datapoints a call (same).
GET_METRIC_DATA_MAX_DATAPOINTS = 100_800
#: Statistics requested per instance (one query each).
CPU_STATS = ("Average", "Maximum", "SampleCount")
#: Cost Explorer hourly / resource-level data: last 14 days only (CE API reference).
CE_RESOURCE_DAYS = 14
#: Cost Explorer SERVICE values of EC2 compute and of everything else EC2 bills (EBS, transfer...).
CE_EC2_SERVICES = ("Amazon Elastic Compute Cloud - Compute", "EC2 - Other")
#: Response-cache TTLs from the issue. [s]
CACHE_TTL_S = {"pricing": 7 * 86_400, "ce": 6 * 3_600, "cloudwatch": 3 * 3_600}
#: Default retry budget (botocore standard mode, attempts incl. the first).
MAX_ATTEMPTS = 5

#: Operation -> IAM action named in AccessDenied errors.
IAM_ACTIONS = {
    "DescribeInstances": "ec2:DescribeInstances",
    "DescribeInstanceTypes": "ec2:DescribeInstanceTypes",
    "LookupEvents": "cloudtrail:LookupEvents",
    "GetMetricData": "cloudwatch:GetMetricData",
    "GetProducts": "pricing:GetProducts",
    "GetCostAndUsage": "ce:GetCostAndUsage",
    "GetCostAndUsageWithResources": "ce:GetCostAndUsageWithResources",
}
#: Every IAM action the collectors need: the read-only policy in terraform/main.tf
#: grants exactly these (tests/test_terraform.py).
REQUIRED_IAM_ACTIONS = tuple(sorted(IAM_ACTIONS.values()))
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
_THROTTLED = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "TooManyRequestsException", "LimitExceededException", "RequestThrottled",
    "RequestThrottledException", "SlowDown",
}
_BAD_CREDENTIALS = {
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
    "UnrecognizedClientException", "AuthFailure", "InvalidSignatureException", "SignatureDoesNotMatch",
}
_LOGIN_HINT = (
    "log in again (e.g. `aws sso login --profile PROFILE`), or set AWS_PROFILE / "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


# --------------------------------------------------------------------------- #
# Clients, call counting, errors, caching
# --------------------------------------------------------------------------- #
class CallCounter:
    """Count every HTTP request sent, per ``service.Operation`` (retries included).

    Hooks botocore's ``before-send`` event first in line, so it counts
    requests that moto answers in-process as well as real ones; and can wrap a
    ``requests`` session (see :func:`finops_lib.collect.http.cached_session`).
    """

    def __init__(self):
        self.calls: Counter[str] = Counter()
        #: responses served from a cache instead (no request sent), per label
        self.hits: Counter[str] = Counter()

    def attach(self, client, label: str | None = None):
        """Count the requests of a boto3 ``client``; returns the client."""
        label = label or client.meta.service_model.service_name

        def _count(event_name=None, **_):
            self.calls[f"{label}.{event_name.rsplit('.', 1)[-1]}"] += 1

        client.meta.events.register_first("before-send", _count)
        guard_payloads(client)
        return client

    def add(self, key: str, n: int = 1) -> None:
        self.calls[key] += n

    def hit(self, key: str, n: int = 1) -> None:
        self.hits[key] += n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.calls.items()))


def guard_payloads(client):
    """Make a truncated or non-JSON success body an error instead of an empty result.

    botocore's JSON parsers turn an unparsable 2xx body into ``{}`` (logged
    at debug level only), which would look like "no data". This ``after-call``
    hook raises :class:`PayloadError` instead. Returns the client.
    """
    protocol = client.meta.service_model.protocol
    if protocol not in ("json", "rest-json"):
        return client

    def _check(http_response=None, model=None, **_):
        if http_response is None or http_response.status_code >= 300:
            return
        body = http_response.content or b""
        if body.strip():
            try:
                json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise PayloadError(f"{model.name if model else 'call'}: response is not valid JSON (truncated?): "
                                   f"{body[:120]!r}") from exc

    client.meta.events.register("after-call", _check)
    return client


def retry_config(max_attempts: int = MAX_ATTEMPTS) -> Config:
    """botocore ``standard`` retries (throttling included; REFERENCES.md, boto3 retries guide)."""
    return Config(retries={"mode": "standard", "total_max_attempts": max_attempts})


def make_clients(session, region: str, *, endpoint_url: str | None = None, pricing_endpoint_url: str | None = None,
                 counter: CallCounter | None = None, max_attempts: int = MAX_ATTEMPTS) -> dict:
    """Build the counted clients the collectors need from a boto3 ``session``.

    Cost Explorer lives in us-east-1; the Price List API is served from
    us-east-1, eu-central-1 and ap-south-1 (Billing user guide), so pricing
    uses eu-central-1 for European regions and us-east-1 otherwise.
    """
    counter = counter or CallCounter()
    cfg = retry_config(max_attempts)
    pricing_region = "eu-central-1" if region.startswith("eu-") else "us-east-1"
    specs = {
        "ec2": (region, endpoint_url),
        "cloudtrail": (region, endpoint_url),
        "cloudwatch": (region, endpoint_url),
        "ce": ("us-east-1", endpoint_url),
        "pricing": (pricing_region, pricing_endpoint_url),
        "sts": (region, endpoint_url),
    }
    clients = {
        name: counter.attach(session.client(name, region_name=reg, endpoint_url=url, config=cfg), name)
        for name, (reg, url) in specs.items()
    }
    return {**clients, "counter": counter}


def call_aws(client, operation: str, **params) -> dict:
    """Call ``client.<operation>(**params)`` and turn AWS failures into clear errors.

    Raises
    ------
    AccessDeniedError
        Names the missing IAM action.
    CredentialsError
        Missing or expired credentials; says how to log in.
    ThrottledError
        Still throttled after botocore's retry budget.
    PayloadError
        Truncated or non-JSON response.
    SourceUnavailable
        Any other AWS error code, or the endpoint cannot be reached / timed
        out (the message names the operation and the code or exception).
    """
    method = getattr(client, _snake(operation))
    try:
        return method(**params)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        msg = exc.response.get("Error", {}).get("Message", "")
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
        if code in _ACCESS_DENIED:
            action = IAM_ACTIONS.get(operation, operation)
            raise AccessDeniedError(f"{operation} denied ({code}): the credentials lack IAM permission {action!r}. "
                                    f"Grant it (see terraform/ read-only role). AWS said: {msg}") from exc
        if code in _THROTTLED:
            raise ThrottledError(f"{operation} still throttled ({code}) after {attempts} attempts") from exc
        if code in _BAD_CREDENTIALS:
            raise CredentialsError(f"{operation}: AWS rejected the credentials ({code}); {_LOGIN_HINT}") from exc
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise SourceUnavailable(f"{operation} failed ({code or 'no error code'}, HTTP {status}): {msg}") from exc
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as exc:
        raise CredentialsError(f"{operation}: no AWS credentials found; {_LOGIN_HINT}") from exc
    except (botocore.exceptions.TokenRetrievalError, botocore.exceptions.SSOTokenLoadError,
            botocore.exceptions.UnauthorizedSSOTokenError, botocore.exceptions.CredentialRetrievalError) as exc:
        raise CredentialsError(f"{operation}: AWS login expired or unusable ({exc}); {_LOGIN_HINT}") from exc
    except botocore.parsers.ResponseParserError as exc:
        raise PayloadError(f"{operation}: response could not be parsed (truncated or not JSON): {exc}") from exc
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError, SSLError...
        raise SourceUnavailable(f"{operation}: cannot reach AWS ({type(exc).__name__}): {exc}") from exc


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def account_scope(sts_client) -> str:
    """Who the credentials belong to, for cache keys: ``account:<id>`` from one STS GetCallerIdentity.

    When STS cannot answer (other than for bad credentials), falls back to
    :func:`credential_scope` of the client (a hash of the access key id).
    """
    try:
        return f"account:{call_aws(sts_client, 'GetCallerIdentity')['Account']}"
    except (SourceUnavailable, ThrottledError, PayloadError, AccessDeniedError, KeyError, TypeError):
        return credential_scope(sts_client)


def credential_scope(client) -> str:
    """``key:<sha256(access key id)[:16]>`` of the credentials ``client`` signs with ("anonymous" if none)."""
    creds = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    if creds is None:
        return "anonymous"
    key = creds.get_frozen_credentials().access_key or ""
    return f"key:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


class ResponseCache:
    """A small on-disk cache of AWS responses with a TTL per source.

    Keys hash the account scope, service, endpoint, region, operation and
    parameters (never credentials themselves): ``scope`` is the account
    (:func:`account_scope`); when None, a hash of the client's access key id
    (:func:`credential_scope`), so two accounts never share entries. Values
    are JSON with datetimes tagged so they round-trip. ``hits`` counts the
    responses served from the cache per ``service.Operation``.
    """

    def __init__(self, cache_dir, ttl_s: dict[str, float] | None = None, clock: Callable[[], float] = time.time,
                 scope: str | None = None):
        self.dir = Path(cache_dir)
        self.ttl_s = {**CACHE_TTL_S, **(ttl_s or {})}
        self.clock = clock
        self.scope = scope
        self.hits: Counter[str] = Counter()

    def _path(self, client, operation: str, params: dict) -> Path:
        ident = json.dumps(
            [self.scope or credential_scope(client), client.meta.service_model.service_name,
             client.meta.endpoint_url, client.meta.region_name, operation, params], sort_keys=True, default=str)
        return self.dir / "aws" / f"{hashlib.sha256(ident.encode()).hexdigest()}.json"

    def get(self, client, operation: str, params: dict):
        service = client.meta.service_model.service_name
        ttl = self.ttl_s.get(service)
        if ttl is None:
            return None
        path = self._path(client, operation, params)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"), object_hook=_decode_dt)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if self.clock() - entry["stored_at"] > ttl:
            return None
        self.hits[f"{service}.{operation}"] += 1
        return entry["value"]

    def put(self, client, operation: str, params: dict, value) -> None:
        path = self._path(client, operation, params)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"stored_at": self.clock(), "value": value}, default=_encode_dt)
        # a unique temp name: concurrent collections never write into each other's file
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _encode_dt(obj):
    if isinstance(obj, datetime):
        return {"__dt__": obj.isoformat()}
    raise TypeError(f"cannot cache {type(obj).__name__}")


def _decode_dt(obj):
    return datetime.fromisoformat(obj["__dt__"]) if set(obj) == {"__dt__"} else obj


def _pages(client, operation: str, params: dict, token_in: str, token_out: str | None = None,
           cache: ResponseCache | None = None, before_call: Callable[[], None] | None = None) -> list[dict]:
    """All pages of ``operation``; served from ``cache`` when fresh."""
    token_out = token_out or token_in
    if cache is not None:
        hit = cache.get(client, operation, params)
        if hit is not None:
            return hit
    pages, token = [], None
    while True:
        if before_call is not None:
            before_call()
        page = call_aws(client, operation, **params, **({token_in: token} if token else {}))
        page.pop("ResponseMetadata", None)
        pages.append(page)
        token = page.get(token_out)
        if not token:
            break
    if cache is not None:
        cache.put(client, operation, params, pages)
    return pages


def _utc(ts) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _meta(operation: str, region, request: dict, **extra) -> dict:
    return {"operation": operation, "region": region, "request": request,
            "retrieved_at": datetime.now(UTC).isoformat(), "warnings": [], **extra}


# --------------------------------------------------------------------------- #
# Inventory
# --------------------------------------------------------------------------- #
def get_instances(ec2_client) -> tuple[pd.DataFrame, dict]:
    """Every instance DescribeInstances returns, with vCPU and memory.

    Parameters
    ----------
    ec2_client : botocore client
        EC2 client of the region to inventory.

    Returns
    -------
    data : DataFrame
        Table ``instances`` of the snapshot contract. ``vcpu`` and
        ``memory_gib`` come from DescribeInstanceTypes; a type it does not
        know stays NA (with a warning), never guessed.
    meta : dict

    Notes
    -----
    Terminated instances disappear from DescribeInstances about an hour after
    termination (EC2 API reference), so the inventory alone misses them; the
    state events fill that gap. ``platform`` is ``windows`` when EC2 says so,
    else ``linux``; ``lifecycle`` is ``spot``/``scheduled`` or ``on-demand``.
    """
    region = ec2_client.meta.region_name
    pages = _pages(ec2_client, "DescribeInstances", {"MaxResults": 1000}, "NextToken")
    rows = []
    for page in pages:
        for res in page.get("Reservations", []):
            for inst in res.get("Instances", []):
                tags = {t["Key"]: t.get("Value", "") for t in inst.get("Tags", [])}
                rows.append({
                    "instance_id": inst["InstanceId"],
                    "instance_type": inst["InstanceType"],
                    "region": region,
                    "az": inst.get("Placement", {}).get("AvailabilityZone"),
                    "platform": "windows" if inst.get("Platform", "").lower() == "windows" else "linux",
                    "lifecycle": inst.get("InstanceLifecycle", "on-demand"),
                    "launch_time": inst.get("LaunchTime"),
                    "state": inst.get("State", {}).get("Name"),
                    "tags": json.dumps(tags, sort_keys=True),
                })
    df = pd.DataFrame(rows, columns=[c for c in schema.TABLES["instances"] if c not in ("vcpu", "memory_gib")])
    meta = _meta("DescribeInstances", region, {"MaxResults": 1000}, pages=len(pages))
    specs = {}
    types = sorted(df["instance_type"].unique()) if len(df) else []
    for i in range(0, len(types), 100):  # DescribeInstanceTypes takes up to 100 types
        chunk = types[i:i + 100]
        try:
            tpages = _pages(ec2_client, "DescribeInstanceTypes", {"InstanceTypes": chunk}, "NextToken")
        except SourceUnavailable as exc:
            if "InvalidInstanceType" not in str(exc):
                raise
            raise PayloadError(f"DescribeInstanceTypes does not know instance type(s) among {chunk} that "
                               f"DescribeInstances reported: {exc}") from exc
        for page in tpages:
            for it in page.get("InstanceTypes", []):
                specs[it["InstanceType"]] = (it["VCpuInfo"]["DefaultVCpus"], it["MemoryInfo"]["SizeInMiB"] / 1024)
    unknown = sorted(set(types) - set(specs))
    if unknown:
        meta["warnings"].append(f"DescribeInstanceTypes does not know {unknown}; vcpu/memory left NA")
    df["vcpu"] = pd.array([specs.get(t, (None, None))[0] for t in df["instance_type"]], dtype="Int64")
    df["memory_gib"] = [specs.get(t, (None, math.nan))[1] for t in df["instance_type"]]
    df = df.sort_values("instance_id", kind="stable").reset_index(drop=True)
    return conform_payload("instances", df, "DescribeInstances"), meta


# --------------------------------------------------------------------------- #
# State events
# --------------------------------------------------------------------------- #
class RateLimiter:
    """Space calls at least ``min_interval_s`` apart (CloudTrail: 2 requests/s)."""

    def __init__(self, min_interval_s: float, clock=time.monotonic, sleep=time.sleep):
        self.min_interval_s = min_interval_s
        self.clock, self.sleep = clock, sleep
        self._last: float | None = None

    def __call__(self) -> None:
        if self._last is not None and self.min_interval_s > 0:
            wait = self._last + self.min_interval_s - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()


def lookup_events(cloudtrail_client, start, end, *, event_names: Iterable[str] = EVENT_NAMES,
                  min_interval_s: float = LOOKUP_EVENTS_MIN_INTERVAL_S) -> tuple[list[dict], dict]:
    """Raw LookupEvents records, one paginated query per event name.

    Returns
    -------
    records : list of dict
        The ``Events`` items as boto3 returns them (``CloudTrailEvent`` is a
        JSON string).
    meta : dict
        ``calls`` and ``events`` per event name.
    """
    limiter = RateLimiter(min_interval_s)
    start, end = _utc(start), _utc(end)
    records, calls, counts = [], {}, {}
    for name in event_names:
        params = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
            "StartTime": start.to_pydatetime(), "EndTime": end.to_pydatetime(),
            "MaxResults": LOOKUP_EVENTS_PAGE,
        }
        pages = _pages(cloudtrail_client, "LookupEvents", params, "NextToken", before_call=limiter)
        events = [e for p in pages for e in p.get("Events", [])]
        calls[name], counts[name] = len(pages), len(events)
        records.extend(events)
    meta = _meta("LookupEvents", cloudtrail_client.meta.region_name,
                 {"event_names": list(event_names), "start": start.isoformat(), "end": end.isoformat()},
                 calls=calls, events=counts)
    return records, meta


def get_state_events(cloudtrail_client, start, end, *, event_names: Iterable[str] = EVENT_NAMES,
                     min_interval_s: float = LOOKUP_EVENTS_MIN_INTERVAL_S) -> tuple[pd.DataFrame, dict]:
    """Instance state-change events from CloudTrail, parsed by the calc parser.

    CloudTrail is queried once per event name over the window, not once per
    instance, so the number of LookupEvents calls is
    Σ_k max(1, ⌈E_k / 50⌉) whatever the fleet size (REFERENCES.md).

    Parameters
    ----------
    cloudtrail_client : botocore client
    start, end : datetime-like
        Window [start, end). [UTC]
    event_names : iterable of str, default :data:`EVENT_NAMES`
    min_interval_s : float, default 0.5
        Minimum spacing of calls, from the 2 requests/s limit. [s]

    Returns
    -------
    data : DataFrame
        Table ``state_events``.
    meta : dict
        ``calls``/``events`` per name, ``rejected`` (records the parser
        skipped), ``launched`` (:func:`parse_run_instances` of the records)
        and warnings.
    """
    from finops_lib.calc import parse_cloudtrail_events  # calc is pure; imported lazily

    records, meta = lookup_events(cloudtrail_client, start, end, event_names=event_names,
                                  min_interval_s=min_interval_s)
    events, rejected = parse_cloudtrail_events(records, errors="skip")
    n_rejected = len(rejected) if hasattr(rejected, "__len__") else int(rejected)
    meta["rejected"] = n_rejected
    meta["launched"] = parse_run_instances(records)
    if n_rejected:
        meta["warnings"].append(f"{n_rejected} CloudTrail record(s) could not be parsed and were skipped")
    return conform_payload("state_events", events, "LookupEvents"), meta


#: Columns of :func:`parse_run_instances`.
LAUNCH_COLUMNS = ("instance_id", "instance_type", "az", "lifecycle", "launch_time", "tags")


def parse_run_instances(records: Iterable[dict]) -> pd.DataFrame:
    """What each RunInstances record says about the instances it launched.

    A terminated instance vanishes from DescribeInstances about an hour after
    termination (EC2 API reference); its type, AZ, lifecycle (``spot`` when
    ``instanceLifecycle`` or ``instanceMarketOptions.marketType`` says so,
    else ``on-demand``), launch time and launch tags survive in the
    RunInstances record's ``responseElements``.

    Returns
    -------
    pandas.DataFrame
        :data:`LAUNCH_COLUMNS`; one row per launched instance (the latest
        record wins if an id repeats). Records that are not RunInstances, or
        whose detail is not JSON, are skipped.
    """
    rows = []
    for rec in records:
        if rec.get("EventName") != "RunInstances":
            continue
        try:
            detail = json.loads(rec.get("CloudTrailEvent") or "")
        except (TypeError, json.JSONDecodeError):
            continue
        if not isinstance(detail, dict) or detail.get("errorCode"):
            continue
        req = detail.get("requestParameters") or {}
        market = ((req.get("instanceMarketOptions") or {}).get("marketType") or "").lower()
        items = ((detail.get("responseElements") or {}).get("instancesSet") or {}).get("items") or []
        for it in items:
            if not isinstance(it, dict) or not it.get("instanceId"):
                continue
            lt = it.get("launchTime")
            launch = (pd.Timestamp(lt, unit="ms", tz="UTC") if isinstance(lt, int | float) and not isinstance(lt, bool)
                      else _utc(lt if lt is not None else detail.get("eventTime")))  # fmt: skip
            tags = {t.get("key"): t.get("value", "") for t in ((it.get("tagSet") or {}).get("items") or [])}
            life = "spot" if (it.get("instanceLifecycle") == "spot" or market == "spot") else "on-demand"
            rows.append({"instance_id": it["instanceId"], "instance_type": it.get("instanceType") or req.get("instanceType"),
                         "az": (it.get("placement") or {}).get("availabilityZone"), "lifecycle": life,
                         "launch_time": launch, "tags": json.dumps(tags, sort_keys=True)})  # fmt: skip
    df = pd.DataFrame(rows, columns=list(LAUNCH_COLUMNS))
    return df.sort_values("launch_time", kind="stable").drop_duplicates("instance_id", keep="last").reset_index(drop=True)


def recover_vanished_instances(instances: pd.DataFrame, state_events: pd.DataFrame, launched: pd.DataFrame,
                               cloudtrail_client=None, ec2_client=None, *, now=None,
                               min_interval_s: float = LOOKUP_EVENTS_MIN_INTERVAL_S) -> tuple[pd.DataFrame, dict]:
    """Inventory rows for instances the state events name but DescribeInstances no longer lists.

    Type, AZ, lifecycle, launch time and tags come from the instance's
    RunInstances record: first from ``launched`` (the window's records), then
    -- for an instance launched before the window -- from one LookupEvents
    call by ``ResourceName`` over CloudTrail's 90 days. ``state`` is
    ``terminated`` when a TerminateInstances / BidEvictedEvent record says so,
    else NA (DescribeInstances did not answer). An instance whose launch
    record is older than 90 days keeps NA type and lifecycle: a reported gap
    (warning), never a guess.

    Returns
    -------
    instances : pandas.DataFrame
        The inventory plus the recovered rows (contract ``instances``).
    meta : dict
        ``recovered`` (ids), ``unrecovered`` (ids), ``calls`` (LookupEvents
        by ResourceName), warnings.
    """
    meta = {"recovered": [], "unrecovered": [], "calls": 0, "warnings": []}
    known = set(instances["instance_id"])
    missing = sorted(set(state_events["instance_id"].dropna()) - known)
    if not missing:
        return instances, meta
    launched = launched.set_index("instance_id") if len(launched) else pd.DataFrame(columns=list(LAUNCH_COLUMNS[1:]))
    extra = []
    limiter = RateLimiter(min_interval_s)
    now = _utc(now) if now is not None else pd.Timestamp.now(tz="UTC")
    for iid in missing:
        row = launched.loc[iid].to_dict() if iid in launched.index else None
        if row is None and cloudtrail_client is not None:
            params = {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": iid}],
                      "StartTime": (now - pd.Timedelta(days=90)).to_pydatetime(), "EndTime": now.to_pydatetime(),
                      "MaxResults": LOOKUP_EVENTS_PAGE}  # fmt: skip
            pages = _pages(cloudtrail_client, "LookupEvents", params, "NextToken", before_call=limiter)
            meta["calls"] += len(pages)
            found = parse_run_instances([e for p in pages for e in p.get("Events", [])])
            found = found[found["instance_id"] == iid]
            row = found.iloc[-1].drop("instance_id").to_dict() if len(found) else None
        ev = state_events[state_events["instance_id"] == iid]
        gone = ev["event_name"].isin(["TerminateInstances", "BidEvictedEvent"]).any()
        base = {"instance_id": iid, "region": (instances["region"].dropna().iloc[0] if len(instances) else pd.NA),
                "platform": pd.NA, "state": "terminated" if gone else pd.NA}  # fmt: skip
        if row is None:
            meta["unrecovered"].append(iid)
            extra.append(base | {"instance_type": pd.NA, "az": pd.NA, "lifecycle": pd.NA, "launch_time": pd.NaT,
                                 "tags": "{}"})  # fmt: skip
        else:
            meta["recovered"].append(iid)
            extra.append(base | {"platform": "linux"} | row)
    add = pd.DataFrame(extra)
    if ec2_client is not None and ec2_client.meta.region_name and len(add):
        add_types = sorted(set(add["instance_type"].dropna()) - set(instances["instance_type"].dropna()))
        specs = _type_specs(ec2_client, add_types, meta) if add_types else {}
        inv_specs = instances.drop_duplicates("instance_type").set_index("instance_type")[["vcpu", "memory_gib"]]
        specs |= {t: (r.vcpu, r.memory_gib) for t, r in inv_specs.iterrows()}
        add["vcpu"] = pd.array([specs.get(t, (None, None))[0] if pd.notna(t) else None for t in add["instance_type"]],
                               dtype="Int64")  # fmt: skip
        add["memory_gib"] = [specs.get(t, (None, math.nan))[1] if pd.notna(t) else math.nan for t in add["instance_type"]]
    else:
        add["vcpu"], add["memory_gib"] = pd.array([None] * len(add), dtype="Int64"), math.nan
    if meta["recovered"]:
        meta["warnings"].append(f"{len(meta['recovered'])} instance(s) no longer in DescribeInstances recovered from "
                                f"their RunInstances record: {meta['recovered'][:5]}")  # fmt: skip
    if meta["unrecovered"]:
        meta["warnings"].append(f"{len(meta['unrecovered'])} instance(s) named by state events are gone from "
                                f"DescribeInstances and have no RunInstances record within CloudTrail's 90 days: "
                                f"type and lifecycle unknown (gap) {meta['unrecovered'][:5]}")  # fmt: skip
    out = pd.concat([instances, conform_payload("instances", add, "RunInstances")], ignore_index=True)
    out = out.sort_values("instance_id", kind="stable").reset_index(drop=True)
    return conform_payload("instances", out, "DescribeInstances + RunInstances"), meta


def _type_specs(ec2_client, types: list[str], meta: dict) -> dict:
    """(vCPU, memory GiB) per type from DescribeInstanceTypes; unknown types are left out (warning)."""
    specs = {}
    for i in range(0, len(types), 100):
        try:
            pages = _pages(ec2_client, "DescribeInstanceTypes", {"InstanceTypes": types[i:i + 100]}, "NextToken")
        except SourceUnavailable as exc:
            meta["warnings"].append(f"DescribeInstanceTypes failed for {types[i:i + 100]}: {exc}")
            continue
        for page in pages:
            for it in page.get("InstanceTypes", []):
                specs[it["InstanceType"]] = (it["VCpuInfo"]["DefaultVCpus"], it["MemoryInfo"]["SizeInMiB"] / 1024)
    return specs


# --------------------------------------------------------------------------- #
# CPU
# --------------------------------------------------------------------------- #
def get_cpu_hourly(cloudwatch_client, instance_ids: Iterable[str], start, end, *, stats: Iterable[str] = CPU_STATS,
                   cache: ResponseCache | None = None) -> tuple[pd.DataFrame, dict]:
    """Hourly CPU utilisation per instance from CloudWatch GetMetricData.

    One query per instance and statistic, batched up to 500 queries a call,
    each batch paginated.

    Parameters
    ----------
    cloudwatch_client : botocore client
    instance_ids : iterable of str
    start, end : datetime-like
        Window; widened to whole hours. [UTC]
    stats : iterable of str, default ("Average", "Maximum", "SampleCount")
        Statistics to fetch; a statistic not fetched stays NaN.
    cache : ResponseCache, optional

    Returns
    -------
    data : DataFrame
        Table ``cpu_hourly``: one row per instance × hour with data.
    meta : dict

    Notes
    -----
    CloudWatch reports ``CPUUtilization`` in percent; it is divided by 100
    here, once, into ``cpu_util_frac`` and ``cpu_util_max_frac`` [0..1].
    ``sample_count`` is the number of datapoints in the hour (12 with basic
    5-minute monitoring, EC2 user guide).
    """
    ids = list(dict.fromkeys(instance_ids))
    stats = tuple(stats)
    start, end = _utc(start).floor("h"), _utc(end).ceil("h")
    queries = []
    for i, iid in enumerate(ids):
        for k, stat in enumerate(stats):
            queries.append({
                "Id": f"q{i}_{k}",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                               "Dimensions": [{"Name": "InstanceId", "Value": iid}]},
                    "Period": 3600, "Stat": stat,
                },
                "ReturnData": True,
            })
    columns = {"Average": "cpu_util_frac", "Maximum": "cpu_util_max_frac", "SampleCount": "sample_count"}
    values: dict[tuple[str, pd.Timestamp], dict] = {}
    last_status: dict[str, tuple[str, str]] = {}
    n_batches = 0
    for b in range(0, len(queries), GET_METRIC_DATA_MAX_QUERIES):
        batch = queries[b:b + GET_METRIC_DATA_MAX_QUERIES]
        params = {"MetricDataQueries": batch, "StartTime": start.to_pydatetime(),
                  "EndTime": end.to_pydatetime(), "ScanBy": "TimestampAscending"}
        n_batches += 1
        for page in _pages(cloudwatch_client, "GetMetricData", params, "NextToken", cache=cache):
            for res in page.get("MetricDataResults", []):
                try:
                    i, k = (int(x) for x in res["Id"][1:].split("_"))
                    col = columns[stats[k]]
                    scale = 1.0 if col == "sample_count" else 1.0 / PERCENT
                    for ts, val in zip(res.get("Timestamps", []), res.get("Values", []), strict=True):
                        values.setdefault((ids[i], _utc(ts)), {})[col] = float(val) * scale
                except (KeyError, IndexError, TypeError, ValueError) as exc:
                    raise PayloadError(f"GetMetricData: unexpected MetricDataResults entry {res!r}: {exc!r}") from exc
                # the last page's status counts: earlier pages of a continued series say PartialData
                last_status[res["Id"]] = (f"{ids[i]} {stats[k]}", res.get("StatusCode", "Complete"))
    rows = [{"instance_id": iid, "hour": hour, **v} for (iid, hour), v in values.items()]
    df = pd.DataFrame(rows, columns=["instance_id", "hour", *columns.values()])
    df = df.sort_values(["instance_id", "hour"], kind="stable").reset_index(drop=True)
    meta = _meta("GetMetricData", cloudwatch_client.meta.region_name,
                 {"instances": len(ids), "stats": list(stats), "start": start.isoformat(), "end": end.isoformat()},
                 queries=len(queries), batches=n_batches)
    incomplete: dict[str, list[str]] = {}
    for series, status in last_status.values():
        if status != "Complete":  # PartialData / Forbidden / InternalError: the series is incomplete
            incomplete.setdefault(status, []).append(series)
    for status, series in sorted(incomplete.items()):
        meta["warnings"].append(f"GetMetricData returned StatusCode {status} for {len(series)} series "
                                f"(e.g. {', '.join(series[:3])}); their hourly CPU may be incomplete")
    return conform_payload("cpu_hourly", df, "GetMetricData"), meta


# --------------------------------------------------------------------------- #
# Prices
# --------------------------------------------------------------------------- #
def get_prices(pricing_client, instance_types: Iterable[str], region: str, *,
               cache: ResponseCache | None = None) -> tuple[pd.DataFrame, dict]:
    """On-demand Linux, shared-tenancy list prices, one GetProducts per type.

    Filters (REFERENCES.md, Pulumi aws.pricing docs): ServiceCode AmazonEC2,
    TERM_MATCH instanceType, regionCode, operatingSystem=Linux,
    tenancy=Shared, preInstalledSw=NA, capacitystatus=Used,
    licenseModel="No License required".

    Returns
    -------
    data : DataFrame
        Table ``prices`` [USD/h]. A type with no product gets a NaN price and
        a warning; a type with several different on-demand prices is an error.
    meta : dict
    """
    rows, warnings = [], []
    types = sorted(set(instance_types))
    for itype in types:
        filters = [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in (
            ("instanceType", itype), ("regionCode", region), ("operatingSystem", "Linux"),
            ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"),
            ("licenseModel", "No License required"))]
        params = {"ServiceCode": "AmazonEC2", "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
        found = []
        for page in _pages(pricing_client, "GetProducts", params, "NextToken", cache=cache):
            for item in page.get("PriceList", []):
                found.extend(_parse_price_item(item, itype))
        prices = {round(f["usd_per_hour"], 10) for f in found}
        if not found:
            warnings.append(f"no on-demand Linux price for {itype} in {region}")
            rows.append({"instance_type": itype, "region": region, "operating_system": "Linux",
                         "usd_per_hour": math.nan, "effective_date": pd.NaT, "sku": None})
            continue
        if len(prices) > 1:
            raise PayloadError(f"GetProducts: {itype} in {region} has {len(prices)} different on-demand "
                               f"prices {sorted(prices)}; filters too loose")
        rows.append({**found[0], "region": region})
    df = pd.DataFrame(rows, columns=schema.TABLES["prices"].keys())
    meta = _meta("GetProducts", region, {"instance_types": types}, warnings=warnings)
    return conform_payload("prices", df, "GetProducts"), meta


def _parse_price_item(item, itype: str) -> list[dict]:
    try:
        product = json.loads(item) if isinstance(item, str) else item
        attrs = product["product"]["attributes"]
        out = []
        for term in product["terms"]["OnDemand"].values():
            for dim in term["priceDimensions"].values():
                if dim.get("unit") not in ("Hrs", "Hours"):
                    continue
                out.append({
                    "instance_type": attrs.get("instanceType", itype),
                    "operating_system": attrs.get("operatingSystem", "Linux"),
                    "usd_per_hour": float(dim["pricePerUnit"]["USD"]),
                    "effective_date": term.get("effectiveDate"),
                    "sku": product["product"].get("sku"),
                })
        return out
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"GetProducts: unreadable PriceList item for {itype}: {exc!r}") from exc


# --------------------------------------------------------------------------- #
# Billed cost
# --------------------------------------------------------------------------- #
def get_costs(ce_client, start, end, region: str, with_resources: bool = False, *,
              cache: ResponseCache | None = None, now=None) -> tuple[pd.DataFrame, dict]:
    """Billed EC2 cost from Cost Explorer: daily by usage type (+ hourly by resource).

    Parameters
    ----------
    ce_client : botocore client
    start, end : datetime-like
        Window; days are whole UTC days, end exclusive.
    region : str
        REGION dimension value (a region code, e.g. ``eu-central-1``).
    with_resources : bool, default False
        Also fetch GetCostAndUsageWithResources, HOURLY, grouped by resource
        and usage type, for the part of the window inside the last 14 days
        (opt-in in the account; CE API reference).
    now : datetime-like, optional
        "Now" for the 14-day limit (default: the clock).

    Returns
    -------
    data : DataFrame
        Table ``costs``. Daily rows have ``group_key="USAGE_TYPE"``; usage
        types containing ``BoxUsage`` are compute, the rest (EBS, data
        transfer...) other charges. ``cost_usd`` is UnblendedCost.
    meta : dict
    """
    start, end = _utc(start), _utc(end)
    day0, day1 = start.floor("D"), end.ceil("D")
    region_filter = {"Dimensions": {"Key": "REGION", "Values": [region]}}
    params = {
        "TimePeriod": {"Start": day0.strftime("%Y-%m-%d"), "End": day1.strftime("%Y-%m-%d")},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "UsageQuantity"],
        "Filter": {"And": [region_filter,
                           {"Dimensions": {"Key": "SERVICE", "Values": list(CE_EC2_SERVICES)}}]},
        "GroupBy": [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
    }
    pages = _pages(ce_client, "GetCostAndUsage", params, "NextPageToken", cache=cache)
    rows = _ce_rows(pages, "DAILY", ("USAGE_TYPE",))
    meta = _meta("GetCostAndUsage", region, params, pages={"GetCostAndUsage": len(pages)})
    if with_resources:
        now = _utc(now) if now is not None else pd.Timestamp.now(tz="UTC")
        h0 = max(start.floor("h"), (now - timedelta(days=CE_RESOURCE_DAYS)).ceil("h"))
        h1 = min(end.ceil("h"), now.floor("h"))
        if h0 >= h1:
            meta["warnings"].append("window lies outside Cost Explorer's last 14 days: no resource-level costs")
        else:
            rparams = {
                "TimePeriod": {"Start": h0.strftime("%Y-%m-%dT%H:%M:%SZ"), "End": h1.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "Granularity": "HOURLY",
                "Metrics": ["UnblendedCost", "UsageQuantity"],
                "Filter": {"And": [region_filter, {"Dimensions": {"Key": "SERVICE", "Values": [CE_EC2_SERVICES[0]]}}]},
                "GroupBy": [{"Type": "DIMENSION", "Key": "RESOURCE_ID"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
            }
            try:
                rpages = _pages(ce_client, "GetCostAndUsageWithResources", rparams, "NextPageToken", cache=cache)
                rrows = _ce_rows(rpages, "HOURLY", ("RESOURCE_ID", "USAGE_TYPE"))
            except CredentialsError:
                raise
            except CollectError as exc:
                # Opt-in data (hourly/resource-level granularity must be enabled in the account):
                # its failure leaves the daily rows and is reported, not fatal.
                meta["warnings"].append(f"no resource-level costs (daily costs kept): {exc}")
                meta["resource_error"] = str(exc)
            else:
                rows += rrows
                meta["pages"]["GetCostAndUsageWithResources"] = len(rpages)
                meta["resource_window"] = [h0.isoformat(), h1.isoformat()]
    df = pd.DataFrame(rows, columns=schema.TABLES["costs"].keys())
    return conform_payload("costs", df, "Cost Explorer"), meta


def _ce_rows(pages: list[dict], granularity: str, group_by: tuple[str, ...]) -> list[dict]:
    rows = []
    for page in pages:
        for rbt in page.get("ResultsByTime", []):
            try:
                period = _utc(rbt["TimePeriod"]["Start"])
                for g in rbt.get("Groups", []):
                    keys = dict(zip(group_by, g["Keys"], strict=True))
                    m = g["Metrics"]
                    rows.append({
                        "period_start": period, "granularity": granularity,
                        "group_key": group_by[0], "usage_type": keys.get("USAGE_TYPE"),
                        "resource_id": keys.get("RESOURCE_ID"),
                        "cost_usd": float(m["UnblendedCost"]["Amount"]),
                        "usage_quantity": float(m["UsageQuantity"]["Amount"]) if "UsageQuantity" in m else math.nan,
                        "estimated": bool(rbt.get("Estimated", False)),
                    })
            except (KeyError, TypeError, ValueError) as exc:
                raise PayloadError(f"Cost Explorer: unexpected ResultsByTime entry {rbt!r}: {exc!r}") from exc
    return rows
