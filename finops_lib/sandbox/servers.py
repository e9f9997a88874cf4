"""Serve a :class:`~finops_lib.sandbox.world.World` through the real wire protocols, on loopback.

:func:`serve` starts, all on 127.0.0.1 with free ports:

- a moto ``ThreadedMotoServer`` seeded through boto3 with the world's EC2
  instances (tags, Spot lifecycle, gp3 root volumes, final states, LaunchTime),
  plus the operations moto lacks or cannot do at this scale, answered from the
  world inside moto's own request handling:

  * CloudTrail ``LookupEvents`` (one lookup attribute, StartTime/EndTime,
    <= 50 events a page, NextToken; records delivered after ``as_of`` are not
    returned yet; optional throttle to 2 requests/s);
  * CloudWatch ``GetMetricData`` for ``AWS/EC2 CPUUtilization`` by
    ``InstanceId`` from an index of hourly statistics (moto's own
    implementation scans every datum per query and period, far too slow for
    1,000 instances x 30 days); one datum per instance-hour holds SampleCount,
    Sum, Minimum, Maximum of the 5-minute values; a gap is an hour without it;
  * Cost Explorer ``GetCostAndUsage`` / ``GetCostAndUsageWithResources``
    computed from the world's billing lines (TimePeriod, Granularity, Filter
    on dimensions with And/Or/Not, up to 2 GroupBy, NextPageToken);
- a Price List (``AWSPriceListService.GetProducts``, JSON 1.1) server;
- an Electricity-Maps-v3-compatible and a WattTime-v3-compatible server;
- the real BoaviztAPI (:func:`finops_lib.collect.boavizta.boavizta_server`).

Every server is stopped when the context exits, also on an exception.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd

from finops_lib import constants, factors
from finops_lib.sandbox.world import ACCOUNT_ID, USAGE_TYPE_PREFIX, World

log = logging.getLogger(__name__)

#: LookupEvents: 50 events a page, 2 requests/s (CloudTrail API reference).
LOOKUP_EVENTS_MAX_RESULTS = 50
LOOKUP_EVENTS_MIN_INTERVAL_S = 0.5
#: Electricity Maps past-range: at most 10 days a request (REFERENCES.md, *unconfirmed*).
EM_PAST_RANGE_MAX_DAYS = 10
#: WattTime historical: at most 32 days a request (WattTime v3 docs).
WATTTIME_MAX_DAYS = 32
#: Cost Explorer groups per page served by the sandbox (page size is AWS-internal; our choice).
CE_GROUPS_PER_PAGE = 500
#: Cost Explorer hourly / resource-level data: last 14 days (CE API reference).
CE_RESOURCE_DAYS = 14
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
EM_API_KEY = "sandbox-electricitymaps-key"
WATTTIME_USER, WATTTIME_PASSWORD = "sandbox", "sandbox"
AMZ_JSON = "application/x-amz-json-1.1"

_ACTIVE: dict = {}  # the world being served (moto's backends are global per process)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SandboxEndpoints:
    """Where the sandbox serves, and the fake credentials that work there."""

    aws: str
    pricing: str
    electricitymaps: str  # base URL incl. /v3, like https://api.electricitymaps.com/v3
    watttime: str  # base URL, like https://api.watttime.org
    boavizta: str | None
    region: str
    zone: str
    aws_access_key_id: str = FAKE_CREDENTIALS["aws_access_key_id"]
    aws_secret_access_key: str = FAKE_CREDENTIALS["aws_secret_access_key"]
    electricitymaps_api_key: str = EM_API_KEY
    watttime_username: str = WATTTIME_USER
    watttime_password: str = WATTTIME_PASSWORD

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 and the collectors here (fake values only)."""
        out = {
            "AWS_ENDPOINT_URL": self.aws, "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key, "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL_PRICING": self.pricing, "ELECTRICITYMAPS_API_KEY": self.electricitymaps_api_key,
            "ELECTRICITYMAPS_URL": self.electricitymaps, "WATTTIME_URL": self.watttime,
            "WATTTIME_USERNAME": self.watttime_username, "WATTTIME_PASSWORD": self.watttime_password,
        }  # fmt: skip
        if self.boavizta:
            out["BOAVIZTA_URL"] = self.boavizta
        return out

    def boto3_session(self):
        """A boto3 Session with the fake credentials (pass ``endpoint_url=self.aws`` to clients)."""
        import boto3

        return boto3.Session(aws_access_key_id=self.aws_access_key_id,
                             aws_secret_access_key=self.aws_secret_access_key, region_name=self.region)  # fmt: skip


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #
def _epoch(value) -> float:
    if isinstance(value, int | float):
        return float(value)
    return pd.Timestamp(value).tz_localize("UTC").timestamp() if pd.Timestamp(value).tzinfo is None \
        else pd.Timestamp(value).timestamp()  # fmt: skip


def _token(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([offset, key]).encode()).decode()


def _untoken(token: str | None, key: str, error) -> int:
    if not token:
        return 0
    try:
        offset, k = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise error("InvalidNextTokenException", f"invalid NextToken {token!r}") from exc
    if k != key:
        raise error("InvalidNextTokenException", "NextToken belongs to a different request")
    return int(offset)


def _key(body: dict, drop: str) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != drop}, sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]  # fmt: skip


def _json_error():
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError


# --------------------------------------------------------------------------- #
# CloudTrail LookupEvents (inside moto)
# --------------------------------------------------------------------------- #
class _CloudTrail:
    def __init__(self, world: World, throttle: bool):
        recs = world.served_records  # newest first
        self.records = recs
        self.times = np.array([r["EventTime"] for r in recs], dtype=float)
        self.names = np.array([r["EventName"] for r in recs], dtype=object)
        self.throttle = throttle
        self._last = 0.0
        self._tlock = threading.Lock()
        self.calls = 0

    def __call__(self, body: dict) -> dict:
        err = _json_error()
        with self._tlock:
            self.calls += 1
            if self.throttle:  # answer at most 2 requests/s, like CloudTrail
                wait = self._last + LOOKUP_EVENTS_MIN_INTERVAL_S - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self._last = time.monotonic()
        attrs = body.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise err("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
        size = int(body.get("MaxResults") or LOOKUP_EVENTS_MAX_RESULTS)
        if not 1 <= size <= LOOKUP_EVENTS_MAX_RESULTS:
            raise err("InvalidMaxResultsException", f"MaxResults must be in 1..{LOOKUP_EVENTS_MAX_RESULTS}")
        sel = np.ones(len(self.records), dtype=bool)
        if attrs:
            k, v = attrs[0].get("AttributeKey"), attrs[0].get("AttributeValue")
            if k == "EventName":
                sel &= self.names == v
            elif k in ("ResourceName", "ResourceType", "EventSource", "EventId", "Username"):
                field = {"ResourceName": lambda r: {x["ResourceName"] for x in r["Resources"]},
                         "ResourceType": lambda r: {x["ResourceType"] for x in r["Resources"]},
                         "EventSource": lambda r: {r["EventSource"]}, "EventId": lambda r: {r["EventId"]},
                         "Username": lambda r: {r.get("Username")}}[k]  # fmt: skip
                sel &= np.array([v in field(r) for r in self.records], dtype=bool)
            else:
                raise err("InvalidLookupAttributesException", f"unsupported AttributeKey {k!r}")
        if body.get("StartTime") is not None:
            sel &= self.times >= _epoch(body["StartTime"])
        if body.get("EndTime") is not None:
            sel &= self.times <= _epoch(body["EndTime"])
        idx = np.flatnonzero(sel)
        offset = _untoken(body.get("NextToken"), _key(body, "NextToken"), err)
        page = idx[offset:offset + size]
        out: dict = {"Events": [self.records[i] for i in page]}
        if offset + size < len(idx):
            out["NextToken"] = _token(offset + size, _key(body, "NextToken"))
        return out


# --------------------------------------------------------------------------- #
# CloudWatch GetMetricData (inside moto, indexed)
# --------------------------------------------------------------------------- #
class _CloudWatch:
    STATS = ("Average", "Sum", "SampleCount", "Minimum", "Maximum")

    def __init__(self, world: World):
        cw = world.cw_hourly
        self.index = {}
        hours = cw["hour"].astype("int64").to_numpy() // 10**9
        for iid, pos in cw.groupby("instance_id", sort=False).indices.items():
            self.index[iid] = (hours[pos], cw["sample_count"].to_numpy()[pos], cw["sum_pct"].to_numpy()[pos],
                               cw["min_pct"].to_numpy()[pos], cw["max_pct"].to_numpy()[pos])  # fmt: skip

    def handles(self, queries: list[dict]) -> bool:
        for q in queries:
            m = (q.get("MetricStat") or {}).get("Metric") or {}
            dims = m.get("Dimensions") or []
            if m.get("Namespace") != "AWS/EC2" or m.get("MetricName") != "CPUUtilization" or \
                    len(dims) != 1 or dims[0].get("Name") != "InstanceId":  # fmt: skip
                return False
        return bool(queries)

    def __call__(self, queries, start_time: datetime, end_time: datetime, scan_by: str) -> list[dict]:
        from moto.cloudwatch.exceptions import ValidationError

        t0, t1 = start_time.timestamp(), end_time.timestamp()
        if t0 >= t1:
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        out = []
        for q in queries:
            ms = q["MetricStat"]
            period = int(ms["Period"])
            stat = ms["Stat"]
            if period % 3600:
                raise ValidationError(f"the sandbox stores hourly CPU statistics; Period {period} is not a "
                                      "multiple of 3600")  # fmt: skip
            if stat not in self.STATS:
                raise ValidationError(f"the sandbox serves statistics {self.STATS}, not {stat!r}")
            iid = ms["Metric"]["Dimensions"][0]["Value"]
            h, n, s, lo, hi = self.index.get(iid, (np.array([], dtype=np.int64),) + (np.array([]),) * 4)
            sel = (h >= t0) & (h < t1)
            b = ((h[sel] - t0) // period).astype(np.int64)
            ts, vals = [], []
            if sel.any():
                nb = int(b.max()) + 1
                cnt = np.bincount(b, n[sel], nb)
                sm = np.bincount(b, s[sel], nb)
                mn = np.full(nb, np.inf)
                mx = np.full(nb, -np.inf)
                np.minimum.at(mn, b, lo[sel])
                np.maximum.at(mx, b, hi[sel])
                for k in np.flatnonzero(cnt > 0):
                    v = {"Average": sm[k] / cnt[k], "Sum": sm[k], "SampleCount": cnt[k],
                         "Minimum": mn[k], "Maximum": mx[k]}[stat]  # fmt: skip
                    ts.append(datetime.fromtimestamp(t0 + k * period, tz=UTC))
                    vals.append(float(v))
            if scan_by == "TimestampDescending":
                ts.reverse()
                vals.reverse()
            if q.get("ReturnData", True):
                out.append({"id": q["Id"], "label": q.get("Label") or f"CPUUtilization {stat}",
                            "values": vals, "timestamps": ts, "status_code": "Complete"})  # fmt: skip
        return out


# --------------------------------------------------------------------------- #
# Cost Explorer (inside moto)
# --------------------------------------------------------------------------- #
CE_DIMENSIONS = ("SERVICE", "USAGE_TYPE", "REGION", "RESOURCE_ID", "INSTANCE_TYPE", "RECORD_TYPE",
                 "LINKED_ACCOUNT")  # fmt: skip
_UNITS = {"BoxUsage": "Hrs", "SpotUsage": "Hrs", "EBS:VolumeUsage": "GB-Mo", "DataTransfer": "GB"}


class _CostExplorer:
    def __init__(self, world: World):
        lines = world.cost_lines.copy()
        lines["RESOURCE_ID"] = lines["resource_id"]
        lines["SERVICE"] = lines["service"]
        lines["USAGE_TYPE"] = lines["usage_type"]
        lines["REGION"] = lines["region"]
        lines["INSTANCE_TYPE"] = lines["usage_type"].str.extract(r"Usage:(.+)$", expand=False).fillna("NoInstanceType")
        lines["RECORD_TYPE"] = lines["record_type"] if "record_type" in lines else "Usage"
        lines["LINKED_ACCOUNT"] = ACCOUNT_ID
        for c in CE_DIMENSIONS:
            lines[c] = lines[c].astype("category")
        self.lines = lines
        self.as_of = world.as_of
        self.calls = {"GetCostAndUsage": 0, "GetCostAndUsageWithResources": 0}
        self._cache: dict = {}

    def _mask(self, expr: dict | None, err) -> np.ndarray:
        if not expr:
            return np.ones(len(self.lines), dtype=bool)
        if "And" in expr:
            return np.logical_and.reduce([self._mask(e, err) for e in expr["And"]])
        if "Or" in expr:
            return np.logical_or.reduce([self._mask(e, err) for e in expr["Or"]])
        if "Not" in expr:
            return ~self._mask(expr["Not"], err)
        if "Dimensions" in expr:
            d = expr["Dimensions"]
            key = d.get("Key")
            if key not in CE_DIMENSIONS:
                raise err("ValidationException", f"the sandbox does not support dimension {key!r}; "
                          f"supported: {list(CE_DIMENSIONS)}")  # fmt: skip
            return self.lines[key].isin(d.get("Values") or []).to_numpy()
        raise err("ValidationException", f"the sandbox supports Dimensions/And/Or/Not filters, not {sorted(expr)}")

    def __call__(self, body: dict, with_resources: bool) -> dict:
        err = _json_error()
        self.calls["GetCostAndUsageWithResources" if with_resources else "GetCostAndUsage"] += 1
        gran = body.get("Granularity")
        if gran not in ("DAILY", "MONTHLY", "HOURLY"):
            raise err("ValidationException", f"Granularity must be DAILY, MONTHLY or HOURLY, not {gran!r}")
        metrics = body.get("Metrics") or []
        bad = [m for m in metrics if m not in ("UnblendedCost", "UsageQuantity")]
        if not metrics or bad:
            raise err("ValidationException", f"the sandbox serves Metrics UnblendedCost and UsageQuantity, not {bad}")
        groups = body.get("GroupBy") or []
        if len(groups) > 2:
            raise err("ValidationException", "GroupBy accepts at most 2 groups")
        keys = []
        for g in groups:
            if g.get("Type") != "DIMENSION" or g.get("Key") not in CE_DIMENSIONS:
                raise err("ValidationException", f"unsupported GroupBy {g!r}; dimensions {list(CE_DIMENSIONS)}")
            keys.append(g["Key"])
        if "RESOURCE_ID" in keys and not with_resources:
            raise err("ValidationException", "RESOURCE_ID grouping needs GetCostAndUsageWithResources")
        tp = body.get("TimePeriod") or {}
        try:
            start = pd.Timestamp(tp["Start"])
            end = pd.Timestamp(tp["End"])
        except (KeyError, ValueError) as exc:
            raise err("ValidationException", f"bad TimePeriod {tp!r}") from exc
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        if start >= end:
            raise err("ValidationException", "Start date must be before End date")
        if (gran == "HOURLY" or with_resources) and start < self.as_of - pd.Timedelta(days=CE_RESOURCE_DAYS):
            raise err("DataUnavailableException",
                      "hourly and resource-level data are available for the last 14 days only")
        if with_resources and "Dimensions" not in json.dumps(body.get("Filter") or {}):
            raise err("ValidationException", "GetCostAndUsageWithResources needs a Filter (e.g. on SERVICE)")
        freq = {"DAILY": "D", "HOURLY": "h", "MONTHLY": "MS"}[gran]
        periods = pd.date_range(start, end, freq=freq, inclusive="left") if gran != "MONTHLY" else \
            pd.date_range(start.tz_localize(None).to_period("M").to_timestamp().tz_localize("UTC"), end, freq="MS",
                      inclusive="left")  # fmt: skip
        req_key = _key(body, "NextPageToken") + str(with_resources)
        flat, by_period = self._cache.get(req_key) or self._aggregate(body, err, start, end, gran, freq, keys, periods)
        self._cache = {req_key: (flat, by_period)}  # keep the last request: its pages follow one another
        offset = _untoken(body.get("NextPageToken"), _key(body, "NextPageToken"), err)
        page = flat[offset:offset + CE_GROUPS_PER_PAGE]
        results: dict = {}
        for p, it in page:
            p_end = (p + pd.offsets.MonthBegin(1)) if gran == "MONTHLY" else p + pd.Timedelta(1, unit=freq)
            fmt = "%Y-%m-%dT%H:%M:%SZ" if gran == "HOURLY" else "%Y-%m-%d"
            r = results.setdefault(p, {"TimePeriod": {"Start": p.strftime(fmt), "End": min(p_end, end).strftime(fmt)},
                                       "Total": {}, "Groups": [], "Estimated": bool(p_end > self.as_of)})  # fmt: skip
            if not keys:
                items = by_period.get(p, [([], 0.0, 0.0)])
                _, c, q = items[0]
                r["Total"] = self._metrics(metrics, c, q, "N/A")
            elif it is not None:
                gk, c, q = it
                ut = gk[keys.index("USAGE_TYPE")] if "USAGE_TYPE" in keys else ""
                unit = next((u for k, u in _UNITS.items() if k in ut), "N/A")
                r["Groups"].append({"Keys": gk, "Metrics": self._metrics(metrics, c, q, unit)})
        out = {"GroupDefinitions": [{"Type": "DIMENSION", "Key": k} for k in keys],
               "ResultsByTime": list(results.values()), "DimensionValueAttributes": []}  # fmt: skip
        if offset + CE_GROUPS_PER_PAGE < len(flat):
            out["NextPageToken"] = _token(offset + CE_GROUPS_PER_PAGE, _key(body, "NextPageToken"))
        return out

    def _aggregate(self, body, err, start, end, gran, freq, keys, periods):
        mask = self._mask(body.get("Filter"), err)
        hour = self.lines["hour"]
        mask &= ((hour >= start) & (hour < end)).to_numpy()
        sub = self.lines[mask]
        if gran == "MONTHLY":
            pstart = sub["hour"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp().dt.tz_localize("UTC")
        else:
            pstart = sub["hour"].dt.floor(freq)
        agg = sub.groupby([pstart.rename("p"), *[sub[k].astype(str) for k in keys]], observed=True, sort=True)[
            ["cost_usd", "usage_quantity"]].sum()  # fmt: skip
        by_period: dict = {}
        for idx, c, q in zip(agg.index, agg["cost_usd"].to_numpy(), agg["usage_quantity"].to_numpy(), strict=True):
            idx = idx if isinstance(idx, tuple) else (idx,)
            by_period.setdefault(idx[0], []).append((list(idx[1:]), float(c), float(q)))
        # one item per (period, group); a page holds CE_GROUPS_PER_PAGE items
        flat = []
        for p in periods:
            items = by_period.get(p, [])
            flat.append((p, None)) if not items or not keys else flat.extend((p, it) for it in items)
        return flat, by_period

    @staticmethod
    def _metrics(metrics, cost, qty, unit) -> dict:
        out = {}
        if "UnblendedCost" in metrics:
            out["UnblendedCost"] = {"Amount": repr(float(cost)), "Unit": "USD"}
        if "UsageQuantity" in metrics:
            out["UsageQuantity"] = {"Amount": repr(float(qty)), "Unit": unit}
        return out


# --------------------------------------------------------------------------- #
# patching moto (its backends are global per process)
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def _moto_patches(world: World, throttle: bool) -> Iterator[dict]:
    from moto.ce.responses import CostExplorerResponse
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.cloudwatch.models import CloudWatchBackend

    with _LOCK:
        if _ACTIVE:
            raise RuntimeError("a sandbox world is already being served in this process; stop it first")
        ct, cw, ce = _CloudTrail(world, throttle), _CloudWatch(world), _CostExplorer(world)
        _ACTIVE.update(world=world, cloudtrail=ct, cloudwatch=cw, ce=ce)
    saved = [(CloudTrailResponse, "lookup_events"), (CostExplorerResponse, "get_cost_and_usage"),
             (CostExplorerResponse, "get_cost_and_usage_with_resources"), (CloudWatchBackend, "get_metric_data")]  # fmt: skip
    old = {(c, n): c.__dict__.get(n) for c, n in saved}
    orig_gmd = CloudWatchBackend.get_metric_data

    def lookup_events(self):
        return json.dumps(ct(json.loads(self.body or "{}")))

    def get_cost_and_usage(self):
        return json.dumps(ce(json.loads(self.body or "{}"), with_resources=False))

    def get_cost_and_usage_with_resources(self):
        return json.dumps(ce(json.loads(self.body or "{}"), with_resources=True))

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        if cw.handles(queries):
            return cw(queries, start_time, end_time, scan_by)
        return orig_gmd(self, queries, start_time, end_time, scan_by)

    CloudTrailResponse.lookup_events = lookup_events
    CostExplorerResponse.get_cost_and_usage = get_cost_and_usage
    CostExplorerResponse.get_cost_and_usage_with_resources = get_cost_and_usage_with_resources
    CloudWatchBackend.get_metric_data = get_metric_data
    try:
        yield _ACTIVE
    finally:
        for (cls, name), fn in old.items():
            if fn is None:
                delattr(cls, name)
            else:
                setattr(cls, name, fn)
        with _LOCK:
            _ACTIVE.clear()


def _seed_ec2(world: World, endpoint: str) -> None:
    """Create the world's instances in moto through boto3, with the world's ids, tags and final states."""
    import boto3
    import moto.ec2.models.instances as moto_instances
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import StateReason

    region = world.config.region
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint, **FAKE_CREDENTIALS)
    image = sorted(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"])[0]
    inst = world.instances
    inst = inst[~inst["instance_id"].isin(world.vanished_ids)]  # AWS drops them ~1 h after termination
    # one RunInstances per (type, AZ, lifecycle, volume size), with the world's ids in order
    keys = ["instance_type", "az", "lifecycle", "volume_gb"]
    groups = list(inst.groupby(keys, sort=True))
    ids = iter([iid for _, g in groups for iid in g["instance_id"]])
    orig = moto_instances.random_instance_id
    moto_instances.random_instance_id = lambda: next(ids)
    try:
        for (itype, az, lifecycle, volume_gb), g in groups:
            kw = {}
            if lifecycle == "spot":
                kw["InstanceMarketOptions"] = {"MarketType": "spot",
                                               "SpotOptions": {"SpotInstanceType": "one-time"}}  # fmt: skip
            ec2.run_instances(
                ImageId=image, InstanceType=itype, MinCount=len(g), MaxCount=len(g),
                Placement={"AvailabilityZone": az},
                BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                      "Ebs": {"VolumeSize": int(volume_gb), "VolumeType": "gp3"}}],
                **kw,
            )  # fmt: skip
    finally:
        moto_instances.random_instance_id = orig
    backend = ec2_backends[ACCOUNT_ID][region]
    for row in inst.itertuples():  # per-instance tags, in-process (one CreateTags call each is slow)
        backend.create_tags([row.instance_id], dict(sorted(row.tags.items())))
    stop = inst.loc[inst["final_state"].eq("stopped"), "instance_id"].tolist()
    term = inst.loc[inst["final_state"].eq("terminated"), "instance_id"].tolist()
    for k in range(0, len(stop), 500):
        ec2.stop_instances(InstanceIds=stop[k:k + 500])
    for k in range(0, len(term), 500):
        ec2.terminate_instances(InstanceIds=term[k:k + 500])
    for row in inst.itertuples():
        obj = backend.get_instance(row.instance_id)
        obj.launch_time = row.launch_time.to_pydatetime().replace(tzinfo=None)  # moto keeps naive UTC
        if row.final_state_reason:
            obj.state_reason = StateReason(f"{row.final_state_reason}: Instance initiated shutdown",
                                           row.final_state_reason)  # fmt: skip
            obj._reason = ""


# --------------------------------------------------------------------------- #
# plain HTTP servers: Pricing, Electricity Maps, WattTime
# --------------------------------------------------------------------------- #
class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 answering with ``handler(method, path, query, headers, body)``."""

    def __init__(self, handler, name: str):
        outer = self

        class H(BaseHTTPRequestHandler):
            def _do(self, method):
                u = urlparse(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, ctype, payload = handler(method, u.path, parse_qs(u.query), self.headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._do("GET")

            def do_POST(self):  # noqa: N802
                self._do("POST")

            def log_message(self, fmt, *args):
                log.debug("%s: " + fmt, outer.name, *args)

        self.name = name
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"sandbox-{name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def price_list_item(instance_type: str, region: str, usd_per_hour: float, capacitystatus: str = "Used") -> str:
    """One ``PriceList`` entry (a JSON string) in the real AWS price-list shape, on-demand Linux."""
    from finops_lib.collect.fakes import pricing_product

    prefix = USAGE_TYPE_PREFIX[region]
    usage = f"{prefix}-BoxUsage:{instance_type}" if capacitystatus == "Used" else \
        f"{prefix}-{capacitystatus}:{instance_type}"  # fmt: skip
    cat = factors.INSTANCE_CATALOG[instance_type]
    return pricing_product(
        instance_type, region, usd_per_hour, effective_date="2026-10-01T00:00:00Z", capacitystatus=capacitystatus,
        sku="SANDBOX" + hashlib.sha256(f"{instance_type}/{region}/{capacitystatus}".encode()).hexdigest()[:9].upper(),
        usage_type=usage,
        extra_attributes={"instanceFamily": "General purpose", "locationType": "AWS Region",
                          "vcpu": str(cat["vcpu"]), "memory": f"{cat['memory_gib']} GiB",
                          "servicename": "Amazon Elastic Compute Cloud"},
    )


def _pricing_handler(world: World):
    region = world.config.region
    products = []
    for t, usd in sorted(world.list_prices.items()):
        for cap in ("Used", "UnusedCapacityReservation", "AllocatedCapacityReservation"):
            item = price_list_item(t, region, usd, cap)
            products.append((json.loads(item)["product"]["attributes"], item))
    calls = {"GetProducts": 0}

    def err(code, msg):
        return 400, AMZ_JSON, {"__type": code, "message": msg}

    def handle(method, path, query, headers, body):
        target = headers.get("X-Amz-Target", "")
        if method != "POST" or target != "AWSPriceListService.GetProducts":
            return err("UnknownOperationException", f"the sandbox serves only GetProducts, not {target!r}")
        calls["GetProducts"] += 1
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return err("SerializationException", "body is not JSON")
        if req.get("ServiceCode") != "AmazonEC2":
            return 200, AMZ_JSON, {"FormatVersion": "aws_v1", "PriceList": []}
        sel = products
        for f in req.get("Filters") or []:
            if f.get("Type") != "TERM_MATCH":
                return err("InvalidParameterException", f"unsupported filter type {f.get('Type')!r}")
            sel = [(a, i) for a, i in sel if str(a.get(f["Field"], "")).lower() == str(f["Value"]).lower()]
        size = int(req.get("MaxResults") or 100)
        try:
            offset = int(req.get("NextToken") or 0)
        except ValueError:
            return err("InvalidNextTokenException", "bad NextToken")
        out = {"FormatVersion": "aws_v1", "PriceList": [i for _, i in sel[offset:offset + size]]}
        if offset + size < len(sel):
            out["NextToken"] = str(offset + size)
        return 200, AMZ_JSON, out

    handle.calls = calls
    return handle


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _em_handler(world: World):
    zone = world.config.zone
    ci = world.intensity_year
    created = _iso(ci.index[0] - pd.Timedelta(days=1))
    calls = {"latest": 0, "history": 0, "past-range": 0, "past": 0}

    est = world.intensity_estimated_year
    est = pd.Series(False, index=ci.index) if est is None else est.reindex(ci.index, fill_value=False)

    def point(h, v):
        e = bool(est.get(h, False))
        return {"zone": zone, "carbonIntensity": round(float(v), 3), "datetime": _iso(h),
                "updatedAt": _iso(min(h + pd.Timedelta(hours=1), world.as_of)), "createdAt": created,
                "emissionFactorType": "lifecycle", "isEstimated": e,
                "estimationMethod": "TIME_SLICER_AVERAGE" if e else None}  # fmt: skip

    def err(status, msg):
        return status, "application/json", {"status": "error", "message": msg}

    def handle(method, path, query, headers, body):
        if not headers.get("auth-token"):
            return err(401, "missing auth-token header")
        if headers.get("auth-token") != EM_API_KEY:
            return err(401, "invalid auth-token")
        q = {k: v[-1] for k, v in query.items()}
        if q.get("zone") != zone:
            return err(404, f"zone {q.get('zone')!r} not available (the sandbox serves {zone!r}, simulated)")
        if q.get("emissionFactorType", "lifecycle") != "lifecycle":
            return err(400, "the sandbox serves emissionFactorType=lifecycle only")
        if q.get("disableEstimations") not in (None, "true", "false"):
            return err(400, "disableEstimations must be true or false")
        visible = ci[ci.index < world.as_of.floor("h")]
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if path.startswith("/v3/carbon-intensity/") and name in calls:
            calls[name] += 1
        if path == "/v3/carbon-intensity/latest":
            return 200, "application/json", point(visible.index[-1], visible.iloc[-1])
        if path == "/v3/carbon-intensity/history":
            last = visible.iloc[-24:]
            return 200, "application/json", {"zone": zone, "history": [point(h, v) for h, v in last.items()]}
        if path in ("/v3/carbon-intensity/past-range", "/v3/carbon-intensity/past"):
            try:
                if path.endswith("past"):
                    t0 = pd.Timestamp(q["datetime"]).tz_convert("UTC").floor("h")
                    t1 = t0 + pd.Timedelta(hours=1)
                else:
                    t0, t1 = (pd.Timestamp(q[k]).tz_convert("UTC") for k in ("start", "end"))
            except (KeyError, ValueError, TypeError) as exc:
                return err(400, f"bad or missing time parameter: {exc}")
            if t1 <= t0:
                return err(400, "end must be after start")
            if t1 - t0 > pd.Timedelta(days=EM_PAST_RANGE_MAX_DAYS):
                return err(400, f"range longer than {EM_PAST_RANGE_MAX_DAYS} days")
            sel = visible[(visible.index >= t0) & (visible.index < t1)]
            if path.endswith("past"):
                return (200, "application/json", point(sel.index[0], sel.iloc[0])) if len(sel) else \
                    err(404, "no data for this datetime")  # fmt: skip
            return 200, "application/json", {"zone": zone, "data": [point(h, v) for h, v in sel.items()]}
        return err(404, f"unknown path {path!r}")

    handle.calls = calls
    return handle


def _watttime_handler(world: World):
    region = world.config.zone
    moer = world.moer_year
    token = "sandbox-" + hashlib.sha256(f"{world.config.seed}".encode()).hexdigest()[:24]
    calls = {"login": 0, "historical": 0}

    def err(status, msg):
        return status, "application/json", {"error": msg}

    def window_query(query, signals):
        """(query, start, end, None) for a valid region/signal/start/end query, else (.., error response)."""
        q = {k: v[-1] for k, v in query.items()}
        if q.get("region") != region:
            return q, None, None, err(400, f"region {q.get('region')!r} not available (sandbox: {region!r})")
        if q.get("signal_type") not in signals:
            return q, None, None, err(400, f"the sandbox serves signal_type in {list(signals)}")
        try:
            t0, t1 = (pd.Timestamp(q[k]).tz_convert("UTC") for k in ("start", "end"))
        except (KeyError, ValueError, TypeError) as exc:
            return q, None, None, err(400, f"bad or missing start/end: {exc}")
        if t1 - t0 > pd.Timedelta(days=WATTTIME_MAX_DAYS):
            return q, None, None, err(400, f"range longer than {WATTTIME_MAX_DAYS} days")
        return q, t0, t1, None

    def handle(method, path, query, headers, body):
        if path == "/login":
            calls["login"] += 1
            auth = headers.get("Authorization", "")
            want = "Basic " + base64.b64encode(f"{WATTTIME_USER}:{WATTTIME_PASSWORD}".encode()).decode()
            return (200, "application/json", {"token": token}) if auth == want else err(401, "bad credentials")
        if headers.get("Authorization") != f"Bearer {token}":
            return err(401, "missing or invalid bearer token")
        if path == "/v3/forecast/historical":
            return forecasts(query)
        if path != "/v3/historical":
            return err(404, f"unknown path {path!r} (the sandbox serves /login, /v3/historical, "
                            "/v3/forecast/historical)")
        calls["historical"] += 1
        q, t0, t1, bad = window_query(query, ("co2_moer",))
        if bad:
            return bad
        hours = moer[(moer.index >= t0.floor("h")) & (moer.index < min(t1, world.as_of))]
        data = []
        for h, v in hours.items():
            for k in range(12):  # 5-minute points; the sandbox's marginal signal is hourly
                t = h + pd.Timedelta(minutes=5 * k)
                if t0 <= t < t1:
                    data.append({"point_time": t.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "value": round(float(v), 2)})
        meta = {"region": region, "signal_type": "co2_moer", "units": "lbs_co2_per_mwh",
                "data_point_period_seconds": 300, "model": {"date": "2026-01-01", "type": "sandbox-synthetic"},
                "warnings": [{"type": "SIMULATED", "message": "sandbox-synthetic marginal signal"}]}  # fmt: skip
        return 200, "application/json", {"data": data, "meta": meta}

    fc = world.forecasts
    by_sig = {} if fc is None else {k: g for k, g in fc.groupby("signal")}

    def forecasts(query):
        calls["forecast_historical"] = calls.get("forecast_historical", 0) + 1
        q, t0, t1, bad = window_query(query, sorted(by_sig))
        if bad:
            return bad
        sig = q["signal_type"]
        g = by_sig[sig]
        g = g[(g["issued_at"] >= t0) & (g["issued_at"] < min(t1, world.as_of))]
        data = []
        for issued, gg in g.groupby("issued_at", sort=True):
            data.append({"generated_at": issued.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "forecast": [
                {"point_time": h.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                 "value": round(float(v) / constants.G_PER_KWH_PER_LB_PER_MWH, 3)}
                for h, v in zip(gg["hour"], gg["intensity_g_per_kwh"], strict=True)]})  # fmt: skip
        meta = {"region": region, "signal_type": sig, "units": "lbs_co2_per_mwh",
                "data_point_period_seconds": 3600,  # the sandbox's forecasts are hourly
                "warnings": [{"type": "SIMULATED", "message": "sandbox-synthetic forecasts with errors"}]}  # fmt: skip
        return 200, "application/json", {"data": data, "meta": meta}

    handle.calls = calls
    return handle


# --------------------------------------------------------------------------- #
# serve
# --------------------------------------------------------------------------- #
def _reset_moto(url: str) -> None:
    import requests

    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()


@contextlib.contextmanager
def serve(world: World, *, boavizta: bool = True, throttle_cloudtrail: bool = False) -> Iterator[SandboxEndpoints]:
    """
    Serve ``world`` on 127.0.0.1 until the context exits (also on an exception).

    Parameters
    ----------
    world : World
    boavizta : bool, default True
        Start the real BoaviztAPI locally (:func:`finops_lib.collect.boavizta.boavizta_server`).
    throttle_cloudtrail : bool, default False
        Answer LookupEvents at most twice a second, like CloudTrail (for benchmarks).

    Yields
    ------
    SandboxEndpoints
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log is noise here
    with contextlib.ExitStack() as stack:
        boavizta_url = None
        if boavizta:
            from finops_lib.collect.boavizta import boavizta_server

            boavizta_url = stack.enter_context(boavizta_server())
        stack.enter_context(_moto_patches(world, throttle_cloudtrail))
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        host, port = moto.get_host_and_port()
        aws = f"http://{host}:{port}"
        _reset_moto(aws)  # moto's backends are global per process: start clean ...
        stack.callback(_reset_moto_quietly, aws)  # ... and leave clean
        _seed_ec2(world, aws)
        servers = {}
        for name, handler in (("pricing", _pricing_handler(world)), ("electricitymaps", _em_handler(world)),
                              ("watttime", _watttime_handler(world))):  # fmt: skip
            srv = _Server(handler, name)
            stack.callback(srv.stop)
            servers[name] = srv
        yield SandboxEndpoints(
            aws=aws, pricing=servers["pricing"].url, electricitymaps=f"{servers['electricitymaps'].url}/v3",
            watttime=servers["watttime"].url, boavizta=boavizta_url, region=world.config.region,
            zone=world.config.zone,
        )  # fmt: skip


def _reset_moto_quietly(url: str) -> None:
    import requests

    try:
        _reset_moto(url)
    except requests.RequestException as exc:  # the server may already be gone
        log.debug("moto reset at exit failed: %s", exc)
