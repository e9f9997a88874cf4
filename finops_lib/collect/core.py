"""One collection: run every collector, build the contract tables, write a snapshot.

The same code collects from a real AWS account and from the sandbox; only the
:class:`Endpoints` differ.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from finops_lib import factors, schema, storage
from finops_lib.collect import aws, boavizta, carbon
from finops_lib.collect.aws import CallCounter, ResponseCache
from finops_lib.collect.errors import (
    AccessDeniedError,
    CollectError,
    CredentialsError,
    SourceUnavailable,
)
from finops_lib.snapshot import prepare_target, write_snapshot

log = logging.getLogger(__name__)


@dataclass
class Endpoints:
    """Where each source is served.

    Attributes
    ----------
    aws : str or None
        One ``endpoint_url`` for EC2, CloudWatch, CloudTrail and Cost Explorer
        (the sandbox serves them from one moto server); None = real AWS.
    pricing : str or None
        Price List API endpoint; None = real AWS.
    electricitymaps : str
        Electricity Maps v3 base URL (default ``$ELECTRICITYMAPS_URL``, else the public API).
    watttime : str
        WattTime base URL (default ``$WATTTIME_URL``, else the public API).
    boavizta : str or None
        BoaviztAPI base URL; None -> ``$BOAVIZTA_URL``, else a local server is
        started for the collection and stopped afterwards.
    """

    aws: str | None = None
    pricing: str | None = None
    electricitymaps: str = field(default_factory=carbon.electricitymaps_base_url)
    watttime: str = field(default_factory=carbon.watttime_base_url)
    boavizta: str | None = None


#: Environment variables that redirect a source (boto3 reads ``AWS_ENDPOINT_URL`` and
#: ``AWS_ENDPOINT_URL_<SERVICE>`` itself); every one that is set goes into the manifest.
ENDPOINT_ENV_PREFIXES = ("AWS_ENDPOINT_URL",)
ENDPOINT_ENV_VARS = ("BOAVIZTA_URL", "ELECTRICITYMAPS_URL", "WATTTIME_URL")
#: Host suffixes of real AWS endpoints (commercial and China partitions).
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def redact_url(url: str | None) -> str | None:
    """``url`` without user:password and query string (they may carry secrets), for manifests and logs."""
    if not url:
        return url
    p = urlsplit(url)
    host = p.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{p.port}" if p.port else ""
    return p._replace(netloc=netloc, query="", fragment="").geturl()


def endpoint_overrides(environ=None) -> dict[str, str]:
    """The endpoint-redirecting environment variables that are set (``AWS_ENDPOINT_URL*``, ...), redacted."""
    env = os.environ if environ is None else environ
    return {k: redact_url(v) for k, v in sorted(env.items())
            if v and (k.startswith(ENDPOINT_ENV_PREFIXES) or k in ENDPOINT_ENV_VARS)}


def is_aws_endpoint(url: str | None) -> bool:
    """True for an https URL on an AWS host (``*.amazonaws.com``, ...)."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and (parts.hostname or "").endswith(AWS_HOST_SUFFIXES)


def not_real_reasons(endpoints: dict, intensity_source: str) -> list[str]:
    """Why data from these effective endpoints is not a real account's (empty: real AWS).

    Any AWS service served from a non-AWS host, and the intensity API in use
    served from another host than the public one, make the snapshot simulated.
    """
    reasons = [f"{svc} served by {url} (not an AWS endpoint)"
               for svc, url in endpoints.items() if svc.startswith("aws.") and not is_aws_endpoint(url)]
    public = {"electricitymaps": carbon.EM_BASE_URL, "watttime": carbon.WATTTIME_BASE_URL}
    if intensity_source in public:
        url = endpoints.get(intensity_source)
        if urlsplit(url or "").hostname != urlsplit(public[intensity_source]).hostname:
            reasons.append(f"{intensity_source} served by {url} (not {public[intensity_source]})")
    return reasons


@dataclass
class _Run:
    counter: CallCounter = field(default_factory=CallCounter)
    tables: dict = field(default_factory=dict)
    gaps: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    coverage: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def gap(self, table: str, source: str, reason: str) -> None:
        log.warning("gap in %s (%s): %s", table, source, reason)
        self.gaps.append({"table": table, "source": source, "reason": reason})
        self.tables[table] = schema.empty_table(table)
        self.coverage[source] = 0.0


def _utc(ts) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def collect_snapshot(session, *, region: str, window_start, window_end, out_dir, zone: str | None = None,
                     endpoints: Endpoints | None = None, electricitymaps_api_key: str | None = None,
                     watttime_credentials: tuple[str, str] | None = None,
                     intensity_source: str = "electricitymaps", power_source: str = "boavizta",
                     with_resources: bool = False, cache_dir=None, extra_tables: dict | None = None,
                     manifest_extra: dict | None = None, progress: bool = True, overwrite: bool = False,
                     electricitymaps_csv=None, cloudtrail_min_interval_s: float = aws.LOOKUP_EVENTS_MIN_INTERVAL_S,
                     max_attempts: int = aws.MAX_ATTEMPTS, now=None, forecast_source: str = "none"):
    """Collect every source for one region and window and write a snapshot.

    Parameters
    ----------
    session : boto3.Session
        Credentials for AWS (read-only role suffices; see ``terraform/``).
    region : str
        AWS region, e.g. ``eu-central-1``.
    window_start, window_end : datetime-like
        Window [start, end). [UTC]
    out_dir : path-like
        Snapshot directory to write.
    zone : str, optional
        Grid zone; default ``factors.REGION_ZONE[region]``.
    endpoints : Endpoints, optional
    electricitymaps_api_key : str, optional
        Default ``$ELECTRICITYMAPS_API_KEY``.
    watttime_credentials : (str, str), optional
        Default ``$WATTTIME_USERNAME`` / ``$WATTTIME_PASSWORD``.
    intensity_source : {"electricitymaps", "electricitymaps-csv", "watttime", "none"}
    power_source : {"boavizta", "none"}
    with_resources : bool, default False
        Opt-in hourly GetCostAndUsageWithResources (last 14 days).
    cache_dir : path-like, optional
        Response cache (TTL per source); None = no cache.
    extra_tables : dict, optional
        Further contract tables (the sandbox's ``truth_*``).
    manifest_extra : dict, optional
        Merged into the manifest last (the sandbox sets source, simulated, seed...).
    progress : bool, default True
        A tqdm progress bar over the sources.
    electricitymaps_csv : path-like, optional
        Hourly CSV download, for ``intensity_source="electricitymaps-csv"``.
    forecast_source : {"none", "watttime"}, default "none"
        Intensity forecasts *as issued* (``intensity_forecasts``; issued from
        a day before the window to its end) from WattTime's historical
        forecasts (a paid plan on the real service; a gap when unavailable).
        "none": not requested, the table stays empty.
    cloudtrail_min_interval_s : float, default 0.5
        Spacing of LookupEvents calls (2 requests/s). [s]

    Returns
    -------
    Path
        The snapshot directory.

    Raises
    ------
    finops_lib.storage.OutputError, finops_lib.storage.ForeignDataError
        ``out_dir`` cannot be written or holds files the tool did not write
        (found before the first API call).
    finops_lib.storage.BusyError
        Another collection is writing ``out_dir``.
    CredentialsError, AccessDeniedError
        On AWS core data (inventory, events, CPU, cost): these stop the
        collection. Every other failing source becomes a gap: an empty table
        and ``{table, source, reason}`` in the manifest's ``gaps``.
    """
    endpoints = endpoints or Endpoints()
    start, end = _utc(window_start), _utc(window_end)
    if start >= end:
        raise ValueError(f"window_start {start} must be before window_end {end}")
    if intensity_source not in ("electricitymaps", "electricitymaps-csv", "watttime", "none"):
        raise ValueError(f"unknown intensity_source {intensity_source!r}")
    if power_source not in ("boavizta", "none"):
        raise ValueError(f"unknown power_source {power_source!r}")
    if forecast_source not in ("none", "watttime"):
        raise ValueError(f"unknown forecast_source {forecast_source!r} (none, watttime)")
    # The output is checked, and locked, before the first API call (Cost Explorer costs money).
    out_dir = storage.check_snapshot_target(out_dir, overwrite)
    with storage.lock(storage.lock_path_for(out_dir), f"snapshot target {out_dir}"):
        note = prepare_target(out_dir)
        if note:
            log.warning(note)
        return _collect(session, region, start, end, Path(out_dir), zone or factors.REGION_ZONE.get(region),
                        endpoints, electricitymaps_api_key, watttime_credentials, intensity_source, power_source,
                        with_resources, cache_dir, extra_tables, manifest_extra, progress, overwrite,
                        electricitymaps_csv, cloudtrail_min_interval_s, max_attempts, now, forecast_source)


def _collect(session, region, start, end, out_dir, zone, endpoints, electricitymaps_api_key, watttime_credentials,
             intensity_source, power_source, with_resources, cache_dir, extra_tables, manifest_extra, progress,
             overwrite, electricitymaps_csv, cloudtrail_min_interval_s, max_attempts, now, forecast_source):
    from tqdm.auto import tqdm

    run = _Run()
    clients = aws.make_clients(session, region, endpoint_url=endpoints.aws, pricing_endpoint_url=endpoints.pricing,
                               counter=run.counter, max_attempts=max_attempts)
    # Cached responses are per account: one STS GetCallerIdentity scopes the cache keys.
    cache = (ResponseCache(cache_dir, scope=aws.account_scope(clients["sts"])) if cache_dir is not None
             else None)
    hours = int((end.ceil("h") - start.floor("h")) / pd.Timedelta(hours=1))

    steps = ["inventory", "state events", "cpu", "prices", "costs", "intensity", "power"]
    bar = tqdm(steps, desc="collect", unit="source", disable=not progress, leave=False)

    def step(name):
        bar.set_description(f"collect {name}")
        return time.perf_counter()

    def done(name, t0):
        run.timings_s[name] = round(time.perf_counter() - t0, 3)
        bar.update(1)

    # --- AWS core data: credentials / AccessDenied stop the collection -----
    t0 = step("inventory")
    inst, meta = aws.get_instances(clients["ec2"])
    run.tables["instances"] = inst
    run.warnings += meta["warnings"]
    run.coverage["ec2"] = 1.0
    done("inventory", t0)

    t0 = step("state events")
    try:
        ev, meta = aws.get_state_events(clients["cloudtrail"], start, end, min_interval_s=cloudtrail_min_interval_s)
        run.tables["state_events"] = ev
        run.warnings += meta["warnings"]
        # terminated instances vanish from DescribeInstances ~1 h later: recover them from RunInstances
        inst, rmeta = aws.recover_vanished_instances(inst, ev, meta["launched"], clients["cloudtrail"], clients["ec2"],
                                                     now=now if now is not None else end,
                                                     min_interval_s=cloudtrail_min_interval_s)  # fmt: skip
        run.tables["instances"] = inst
        run.warnings += rmeta["warnings"]
        run.details["cloudtrail"] = {"calls": meta["calls"], "events": meta["events"], "rejected": meta["rejected"]}
        run.coverage["cloudtrail"] = 1.0
    except (CredentialsError, AccessDeniedError):
        raise
    except CollectError as exc:
        run.gap("state_events", "cloudtrail", str(exc))
    done("state events", t0)

    ids = sorted(set(inst["instance_id"]) | set(run.tables["state_events"]["instance_id"].dropna()))
    t0 = step("cpu")
    try:
        cpu, meta = aws.get_cpu_hourly(clients["cloudwatch"], ids, start, end, cache=cache)
        run.tables["cpu_hourly"] = cpu
        run.warnings += meta["warnings"]
        run.coverage["cloudwatch"] = (cpu["instance_id"].nunique() / len(ids)) if ids else 1.0
        run.details["cloudwatch"] = {"queries": meta["queries"], "batches": meta["batches"]}
    except (CredentialsError, AccessDeniedError):
        raise
    except CollectError as exc:
        run.gap("cpu_hourly", "cloudwatch", str(exc))
    done("cpu", t0)

    types = sorted(set(inst["instance_type"].dropna()))
    t0 = step("prices")
    try:
        prices, meta = aws.get_prices(clients["pricing"], types, region, cache=cache)
        run.tables["prices"] = prices
        run.warnings += meta["warnings"]
        run.coverage["pricing"] = float(prices["usd_per_hour"].notna().mean()) if len(prices) else 1.0
    except CollectError as exc:
        run.gap("prices", "pricing", str(exc))
    done("prices", t0)

    t0 = step("costs")
    try:
        costs, meta = aws.get_costs(clients["ce"], start, end, region, with_resources=with_resources,
                                    cache=cache, now=now)
        run.tables["costs"] = costs
        run.warnings += meta["warnings"]
        days = pd.date_range(start.floor("D"), end.ceil("D"), freq="D", inclusive="left")
        daily = costs[costs["granularity"] == "DAILY"]
        run.coverage["cost_explorer"] = daily["period_start"].nunique() / len(days) if len(days) else 1.0
    except (CredentialsError, AccessDeniedError):
        raise
    except CollectError as exc:
        run.gap("costs", "cost_explorer", str(exc))
    done("costs", t0)

    # --- carbon and power: every failure is a gap --------------------------
    t0 = step("intensity")
    _collect_intensity(run, intensity_source, zone, start, end, endpoints, electricitymaps_api_key,
                       watttime_credentials, cache_dir, electricitymaps_csv, hours, now)
    if forecast_source == "watttime":  # forecasts as issued: what a scheduler knew at decision time
        try:
            creds = watttime_credentials or (os.environ.get("WATTTIME_USERNAME"), os.environ.get("WATTTIME_PASSWORD"))
            fc, _ = carbon.get_forecasts_watttime(zone, start - pd.Timedelta(days=1), end, creds, endpoints.watttime,
                                                  cache_dir=cache_dir, counter=run.counter)  # fmt: skip
            run.tables["intensity_forecasts"] = fc
        except CollectError as exc:
            run.gap("intensity_forecasts", "watttime", str(exc))
    done("intensity", t0)

    t0 = step("power")
    boavizta_url = None
    if power_source == "none":
        run.gap("power_profiles", "boavizta", "power_source='none' requested")
    else:
        try:
            url_cm = (contextlib.nullcontext(endpoints.boavizta) if endpoints.boavizta
                      else boavizta.boavizta_server())
            with url_cm as url:
                boavizta_url = url
                power, meta = boavizta.get_power_profiles_boavizta(types, url, cache_dir=cache_dir,
                                                                   counter=run.counter)
            run.tables["power_profiles"] = power
            run.coverage["boavizta"] = power["instance_type"].nunique() / len(types) if types else 1.0
        except CollectError as exc:
            run.gap("power_profiles", "boavizta", str(exc))
    done("power", t0)
    bar.close()

    for name in schema.TABLES:
        run.tables.setdefault(name, schema.empty_table(name))
    tables = {**run.tables, **(extra_tables or {})}
    # The endpoints actually used (boto3 also honours AWS_ENDPOINT_URL* from the environment).
    used = {f"aws.{name}": clients[name].meta.endpoint_url for name in ("ec2", "cloudtrail", "cloudwatch", "ce",
                                                                        "pricing", "sts")}
    used.update({"electricitymaps": endpoints.electricitymaps, "watttime": endpoints.watttime,
                 "boavizta": boavizta_url or endpoints.boavizta})
    used = {k: redact_url(v) for k, v in used.items()}  # no user:password or query string in the manifest
    not_real = not_real_reasons(used, intensity_source)
    if not_real and not (manifest_extra or {}).get("simulated"):  # the sandbox says so itself
        run.warnings.append("not real AWS data, marked simulated: " + "; ".join(not_real))
    manifest = {
        "source": "aws", "simulated": bool(not_real), "not_real_reasons": not_real,
        "endpoint_overrides": endpoint_overrides(), "region": region, "zone": zone,
        "window_start": start, "window_end": end,
        "api_calls": run.counter.as_dict(),
        "cache_hits": dict(sorted((Counter(cache.hits if cache else {}) + run.counter.hits).items())),
        "coverage": {k: round(float(v), 6) for k, v in run.coverage.items()},
        "gaps": run.gaps, "warnings": run.warnings, "timings_s": run.timings_s, "details": run.details,
        "intensity_source": intensity_source, "power_source": power_source, "with_resources": with_resources,
        "endpoints": used,
        **(manifest_extra or {}),
    }
    if not_real:  # manifest_extra may relabel the source (sandbox), never make non-AWS data real
        manifest["simulated"] = True
    return write_snapshot(tables, manifest, out_dir, overwrite=overwrite)


def _collect_intensity(run: _Run, source, zone, start, end, endpoints, em_key, wt_creds, cache_dir, csv_path,
                       hours, now) -> None:
    if source == "none":
        run.gap("intensity_hourly", "intensity", "intensity_source='none' requested")
        return
    try:
        if source == "electricitymaps":
            key = em_key or os.environ.get("ELECTRICITYMAPS_API_KEY")
            df, meta = carbon.get_intensity_electricitymaps(zone, start, end, key, endpoints.electricitymaps,
                                                            cache_dir=cache_dir, counter=run.counter, now=now)
        elif source == "electricitymaps-csv":
            if csv_path is None:
                raise SourceUnavailable("intensity_source='electricitymaps-csv' needs electricitymaps_csv=PATH")
            df, meta = carbon.read_electricitymaps_csv(csv_path)
            df = df[(df["zone"] == zone) & (df["hour"] >= start.floor("h")) & (df["hour"] < end)]
        else:
            creds = wt_creds or (os.environ.get("WATTTIME_USERNAME"), os.environ.get("WATTTIME_PASSWORD"))
            df, meta = carbon.get_intensity_watttime(zone, start, end, creds, endpoints.watttime,
                                                     cache_dir=cache_dir, counter=run.counter)
    except CollectError as exc:
        run.gap("intensity_hourly", source, str(exc))
        return
    if not df["intensity_g_per_kwh"].notna().any():
        found = f" (the file has zones {meta['zones']})" if "zones" in meta else ""
        run.gap("intensity_hourly", source, f"no hourly intensity for zone {zone!r} in "
                                            f"[{start.isoformat()}, {end.isoformat()}){found}")
        run.warnings += meta.get("warnings", [])
        return
    if "estimation_method" in df:
        counts = df["estimation_method"].fillna("none").value_counts().sort_index()
        run.details["intensity_estimation_methods"] = {str(k): int(v) for k, v in counts.items()}
    run.tables["intensity_hourly"] = df.reset_index(drop=True)
    run.coverage[source] = df["intensity_g_per_kwh"].notna().groupby(df["hour"]).any().sum() / hours
    run.warnings += meta.get("warnings", [])
