"""Grid carbon intensity: Electricity Maps v3 (API and CSV downloads), WattTime v3.

All return the contract table ``intensity_hourly`` (zone, hour,
intensity_g_per_kwh, emission_factor_type, is_estimated, estimation_method,
source), hourly, UTC, interval start. Electricity Maps' ``estimationMethod``
is kept per hour (``<NA>`` for measured hours and for WattTime); its counts
also go to the manifest.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from finops_lib import schema
from finops_lib.collect.errors import PayloadError, SourceUnavailable, conform_payload
from finops_lib.collect.http import cached_session, request_json
from finops_lib.constants import G_PER_KWH_PER_LB_PER_MWH

#: Electricity Maps API v3 base URL.
EM_BASE_URL = "https://api.electricitymaps.com/v3"
#: Longest range one past-range request may span (REFERENCES.md: 10 days, *unconfirmed*). [d]
EM_PAST_RANGE_MAX_DAYS = 10
#: The history endpoint covers the last 24 h (Electricity Maps API v3). [h]
EM_HISTORY_H = 24
#: WattTime API base URL (v3 endpoints under /v3, login at /login).
WATTTIME_BASE_URL = "https://api.watttime.org"


def electricitymaps_base_url() -> str:
    """``$ELECTRICITYMAPS_URL`` (e.g. the sandbox's, as ``finops sandbox serve`` prints it), else :data:`EM_BASE_URL`."""
    return os.environ.get("ELECTRICITYMAPS_URL") or EM_BASE_URL


def watttime_base_url() -> str:
    """``$WATTTIME_URL`` (e.g. the sandbox's), else :data:`WATTTIME_BASE_URL`."""
    return os.environ.get("WATTTIME_URL") or WATTTIME_BASE_URL
#: WattTime historical: at most 32 days a request (WattTime v3 docs); we use 30. [d]
WATTTIME_MAX_DAYS = 30

_EM_HINTS = {
    401: "Electricity Maps rejected the API key; check ELECTRICITYMAPS_API_KEY",
    403: ("this Electricity Maps key may not use this endpoint or zone (a free key gets latest and 24 h "
          "history for one zone); for longer windows import the hourly CSV download "
          "(read_electricitymaps_csv)"),
    429: "Electricity Maps rate limit reached; retry later",
}
_WT_HINTS = {
    401: "WattTime rejected the credentials; check WATTTIME_USERNAME / WATTTIME_PASSWORD",
    403: "this WattTime account may not access this region or signal (free plans: one region, MOER index only)",
    429: "WattTime rate limit reached (3,000 requests per 5 min)",
}


def _utc(ts) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _iso_z(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(source, request, **extra):
    return {"source": source, "request": request, "retrieved_at": datetime.now(UTC).isoformat(),
            "warnings": [], **extra}


# --------------------------------------------------------------------------- #
# Electricity Maps
# --------------------------------------------------------------------------- #
def parse_electricitymaps(points: list[dict], zone: str, emission_factor_type: str,
                          source: str = "electricitymaps") -> pd.DataFrame:
    """Electricity Maps v3 carbon-intensity points -> ``intensity_hourly``."""
    rows = []
    for p in points:
        try:
            ci = p.get("carbonIntensity")
            rows.append({
                "zone": p.get("zone", zone),
                "hour": _utc(p["datetime"]).floor("h"),
                "intensity_g_per_kwh": np.nan if ci is None else float(ci),
                "emission_factor_type": p.get("emissionFactorType", emission_factor_type),
                "is_estimated": p.get("isEstimated"),
                "source": source,
                "estimation_method": p.get("estimationMethod"),
            })
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"Electricity Maps: unexpected point {p!r}: {exc!r}") from exc
    df = pd.DataFrame(rows, columns=list(schema.TABLES["intensity_hourly"]))
    df = df.drop_duplicates(["zone", "hour"], keep="last").sort_values("hour", kind="stable")
    return conform_payload("intensity_hourly", df, f"Electricity Maps ({source})")


def get_intensity_electricitymaps(zone: str, start, end, api_key: str | None, base_url: str = EM_BASE_URL, *,
                                  emission_factor_type: str = "lifecycle", endpoint: str = "auto",
                                  session=None, cache_dir=None, counter=None, now=None,
                                  max_range_days: int = EM_PAST_RANGE_MAX_DAYS) -> tuple[pd.DataFrame, dict]:
    """Hourly carbon intensity of ``zone`` from the Electricity Maps v3 API.

    Parameters
    ----------
    zone : str
        Electricity Maps zone (``DE`` for eu-central-1).
    start, end : datetime-like
        Window [start, end). [UTC]
    api_key : str
        Sent as the ``auth-token`` header; never cached or logged.
    base_url : str, default :data:`EM_BASE_URL`
    emission_factor_type : {"lifecycle", "direct"}, default "lifecycle"
    endpoint : {"auto", "history", "past-range"}, default "auto"
        ``auto`` uses ``history`` (last 24 h, available to free keys) when the
        window lies within it, else ``past-range`` in chunks of
        ``max_range_days``.
    session : requests.Session, optional
        Default: :func:`~finops_lib.collect.http.cached_session` in ``cache_dir``.
    counter : CallCounter, optional
        Counts requests not served from the cache.

    Returns
    -------
    data : DataFrame
        ``intensity_hourly``. [gCO₂e/kWh]
    meta : dict

    Raises
    ------
    SourceUnavailable
        No key, 401/403/429 or another HTTP error (message says what to do).
    PayloadError
        A body that is not JSON or lacks the expected fields.
    """
    if emission_factor_type not in ("lifecycle", "direct"):
        raise ValueError(f"emission_factor_type must be 'lifecycle' or 'direct', not {emission_factor_type!r}")
    if not api_key:
        raise SourceUnavailable("no Electricity Maps API key (set ELECTRICITYMAPS_API_KEY, or import a CSV download)")
    start, end = _utc(start), _utc(end)
    if start >= end:
        raise ValueError(f"start {start} must be before end {end}")
    now = _utc(now) if now is not None else pd.Timestamp.now(tz="UTC")
    if endpoint == "auto":
        endpoint = "history" if start >= now - pd.Timedelta(hours=EM_HISTORY_H) else "past-range"
    if endpoint not in ("history", "past-range"):
        raise ValueError(f"endpoint must be 'auto', 'history' or 'past-range', not {endpoint!r}")
    session = session or cached_session(cache_dir, "electricitymaps")
    base = base_url.rstrip("/")
    headers = {"auth-token": api_key}
    common = {"zone": zone, "emissionFactorType": emission_factor_type}
    points, calls = [], 0
    if endpoint == "history":
        body = request_json(session, "GET", f"{base}/carbon-intensity/history", params=common, headers=headers,
                            label="electricitymaps.history", counter=counter, hints=_EM_HINTS)
        points = _field(body, "history", "Electricity Maps history")
        calls = 1
    else:
        t = start
        while t < end:
            t1 = min(t + pd.Timedelta(days=max_range_days), end)
            body = request_json(session, "GET", f"{base}/carbon-intensity/past-range",
                                params={**common, "start": _iso_z(t), "end": _iso_z(t1)}, headers=headers,
                                label="electricitymaps.past-range", counter=counter, hints=_EM_HINTS)
            points.extend(_field(body, "data", "Electricity Maps past-range"))
            calls += 1
            t = t1
    df = parse_electricitymaps(points, zone, emission_factor_type)
    df = df[(df["hour"] >= start.floor("h")) & (df["hour"] < end)].reset_index(drop=True)
    meta = _meta("electricitymaps", {"zone": zone, "start": start.isoformat(), "end": end.isoformat(),
                                     "endpoint": endpoint, "emission_factor_type": emission_factor_type},
                 requests=calls)
    return df, meta


def get_latest_intensity_electricitymaps(zone: str, api_key: str | None, base_url: str = EM_BASE_URL, *,
                                         emission_factor_type: str = "lifecycle", session=None, cache_dir=None,
                                         counter=None) -> tuple[pd.DataFrame, dict]:
    """The latest hourly intensity of ``zone`` (one row; cached 1 h)."""
    if not api_key:
        raise SourceUnavailable("no Electricity Maps API key (set ELECTRICITYMAPS_API_KEY)")
    session = session or cached_session(cache_dir, "electricitymaps")
    body = request_json(session, "GET", f"{base_url.rstrip('/')}/carbon-intensity/latest",
                        params={"zone": zone, "emissionFactorType": emission_factor_type},
                        headers={"auth-token": api_key}, label="electricitymaps.latest", counter=counter,
                        hints=_EM_HINTS)
    if not isinstance(body, dict) or "datetime" not in body:
        raise PayloadError(f"Electricity Maps latest: unexpected body {str(body)[:200]!r}")
    return parse_electricitymaps([body], zone, emission_factor_type), _meta("electricitymaps", {"zone": zone})


def _field(body, key: str, what: str) -> list:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise PayloadError(f"{what}: expected a JSON object with a list {key!r}, got {str(body)[:200]!r}")
    return body[key]


def _norm(col: str) -> str:
    return re.sub(r"[^a-z0-9]", "", col.lower().replace("₂", "2"))


def read_electricitymaps_csv(path, *, emission_factor_type: str = "lifecycle") -> tuple[pd.DataFrame, dict]:
    """Read an Electricity Maps hourly CSV download (yearly/monthly files).

    Parameters
    ----------
    path : path-like
        CSV with ``Datetime (UTC)``, ``Zone Id``, ``Carbon Intensity gCO₂eq/kWh
        (direct)``, ``Carbon Intensity gCO₂eq/kWh (LCA)``, ``Data Estimated``,
        ``Data Estimation Method`` (names vary slightly by year; matched
        ignoring case, spaces and punctuation).
    emission_factor_type : {"lifecycle", "direct"}
        Which intensity column to read (LCA = lifecycle).

    Returns
    -------
    data : DataFrame
        ``intensity_hourly`` with source ``electricitymaps-csv``, incl.
        ``estimation_method``. [gCO₂e/kWh]
    meta : dict
        File name, zone(s), first/last hour, rows.

    Raises
    ------
    PayloadError
        Missing columns, unparsable times or values; the message names the file.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{path}: not a readable CSV: {exc}") from exc
    cols = {_norm(c): c for c in raw.columns}

    def find(*patterns, required=True):
        for norm, orig in cols.items():
            if any(re.fullmatch(p, norm) for p in patterns):
                return orig
        if required:
            raise PayloadError(f"{path}: no column matching {patterns}; columns are {list(raw.columns)}")
        return None

    if emission_factor_type == "lifecycle":
        ci_col = find(r"carbonintensity.*(lca|lifecycle).*")
    elif emission_factor_type == "direct":
        ci_col = find(r"carbonintensity.*direct.*")
    else:
        raise ValueError(f"emission_factor_type must be 'lifecycle' or 'direct', not {emission_factor_type!r}")
    dt_col = find(r"datetimeutc", r"datetime")
    zone_col = find(r"zoneid", r"zonekey", r"zone")
    est_col = find(r"dataestimated", r"isestimated", required=False)
    meth_col = find(r"dataestimationmethod", r"estimationmethod", required=False)
    try:
        hours = pd.to_datetime(raw[dt_col], utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"{path}: column {dt_col!r} has unparsable times: {exc}") from exc
    values = pd.to_numeric(raw[ci_col].replace("", np.nan), errors="coerce")
    bad = values.isna() & raw[ci_col].ne("")
    if bad.any():
        raise PayloadError(f"{path}: column {ci_col!r} has non-numeric values, e.g. {raw[ci_col][bad].iloc[0]!r}")
    estimated = (raw[est_col].str.strip().str.lower().map({"true": True, "false": False, "": pd.NA})
                 if est_col else pd.Series(pd.NA, index=raw.index))
    df = pd.DataFrame({
        "zone": raw[zone_col], "hour": hours.dt.floor("h"), "intensity_g_per_kwh": values,
        "emission_factor_type": emission_factor_type, "is_estimated": estimated, "source": "electricitymaps-csv",
        "estimation_method": raw[meth_col].replace("", pd.NA) if meth_col else pd.NA,
    })
    out = conform_payload("intensity_hourly", df, f"{path}")
    out = out.sort_values(["zone", "hour"], kind="stable").reset_index(drop=True)
    meta = _meta("electricitymaps-csv", {"path": path.name}, rows=len(out),
                 zones=sorted(out["zone"].dropna().unique().tolist()),
                 first_hour=out["hour"].min().isoformat() if len(out) else None,
                 last_hour=out["hour"].max().isoformat() if len(out) else None)
    return out, meta


# --------------------------------------------------------------------------- #
# WattTime
# --------------------------------------------------------------------------- #
def watttime_login(username: str, password: str, base_url: str = WATTTIME_BASE_URL, *, session=None,
                   counter=None) -> str:
    """Log in with HTTP Basic auth and return a bearer token (valid 30 min; never cached)."""
    import contextlib

    import requests
    import requests_cache

    session = session or requests.Session()
    # Never let the token reach the cache: with caching disabled nothing is read or written.
    no_cache = (session.cache_disabled() if isinstance(session, requests_cache.CachedSession)
                else contextlib.nullcontext())
    with no_cache:
        body = request_json(session, "GET", f"{base_url.rstrip('/')}/login", auth=(username, password),
                            label="watttime.login", counter=counter, hints=_WT_HINTS)
    token = body.get("token") if isinstance(body, dict) else None
    if not token:
        raise PayloadError("WattTime login: no token in the response")
    return token


def parse_watttime(points: list[dict], zone: str, signal_type: str, units: str | None,
                   is_estimated=pd.NA) -> pd.DataFrame:
    """WattTime 5-minute points -> hourly means in ``intensity_hourly`` (g/kWh)."""
    if units is not None and units not in ("lbs_co2_per_mwh", "lb/MWh"):
        raise PayloadError(f"WattTime: unexpected units {units!r} (expected lbs_co2_per_mwh)")
    try:
        raw = pd.DataFrame({"t": [_utc(p["point_time"]) for p in points],
                            "v": [np.nan if p["value"] is None else float(p["value"]) for p in points]})
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"WattTime: unexpected data points: {exc!r}") from exc
    if raw.empty:
        return schema.empty_table("intensity_hourly")
    hourly = raw.drop_duplicates("t").groupby(raw["t"].dt.floor("h"))["v"].mean()
    df = pd.DataFrame({
        "zone": zone, "hour": hourly.index, "intensity_g_per_kwh": hourly.to_numpy() * G_PER_KWH_PER_LB_PER_MWH,
        "emission_factor_type": "marginal" if signal_type == "co2_moer" else "average",
        "is_estimated": is_estimated, "estimation_method": pd.NA, "source": "watttime",
    })
    return conform_payload("intensity_hourly", df, "WattTime")


def _watttime_auth(credentials, base_url, session, cache_dir, counter):
    """A (cached) session and the Bearer header for WattTime; no credentials -> SourceUnavailable."""
    if not credentials or not all(credentials):
        raise SourceUnavailable("no WattTime credentials (set WATTTIME_USERNAME and WATTTIME_PASSWORD)")
    session = session or cached_session(cache_dir, "watttime")
    token = watttime_login(*credentials, base_url=base_url, session=session, counter=counter)
    return session, {"Authorization": f"Bearer {token}"}


def get_intensity_watttime(region: str, start, end, credentials: tuple[str, str] | None,
                           base_url: str = WATTTIME_BASE_URL, *, signal_type: str = "co2_moer", zone: str | None = None,
                           session=None, cache_dir=None, counter=None) -> tuple[pd.DataFrame, dict]:
    """Historical hourly intensity from WattTime v3 (login -> token -> /v3/historical).

    Parameters
    ----------
    region : str
        WattTime region code (e.g. ``DE``).
    start, end : datetime-like
        Window [start, end), split into requests of at most 30 days. [UTC]
    credentials : (username, password)
    signal_type : {"co2_moer", "co2_aoer"}, default "co2_moer"
        ``co2_moer`` is the marginal rate (emission_factor_type ``marginal``).
    zone : str, optional
        Zone label written to the table (default ``region``).

    Returns
    -------
    data : DataFrame
        ``intensity_hourly``: hourly mean of the 5-minute values, converted
        from lb/MWh to g/kWh with :data:`~finops_lib.constants.G_PER_KWH_PER_LB_PER_MWH`.
        ``is_estimated`` is NA (WattTime does not flag estimates).
    meta : dict
    """
    start, end = _utc(start), _utc(end)
    session, headers = _watttime_auth(credentials, base_url, session, cache_dir, counter)
    points, units, calls, t = [], None, 0, start
    while t < end:
        t1 = min(t + timedelta(days=WATTTIME_MAX_DAYS), end)
        body = request_json(session, "GET", f"{base_url.rstrip('/')}/v3/historical", headers=headers,
                            params={"region": region, "start": _iso_z(t), "end": _iso_z(t1),
                                    "signal_type": signal_type},
                            label="watttime.historical", counter=counter, hints=_WT_HINTS)
        points.extend(_field(body, "data", "WattTime historical"))
        units = (body.get("meta") or {}).get("units", units)
        calls += 1
        t = t1
    df = parse_watttime(points, zone or region, signal_type, units)
    df = df[(df["hour"] >= start.floor("h")) & (df["hour"] < end)].reset_index(drop=True)
    return df, _meta("watttime", {"region": region, "signal_type": signal_type, "start": start.isoformat(),
                                  "end": end.isoformat()}, requests=calls)


def get_forecast_watttime(region: str, credentials: tuple[str, str] | None, base_url: str = WATTTIME_BASE_URL, *,
                          signal_type: str = "co2_moer", zone: str | None = None, session=None, cache_dir=None,
                          counter=None) -> tuple[pd.DataFrame, dict]:
    """The current WattTime forecast as hourly means (``is_estimated`` True)."""
    session, headers = _watttime_auth(credentials, base_url, session, cache_dir, counter)
    body = request_json(session, "GET", f"{base_url.rstrip('/')}/v3/forecast", headers=headers,
                        params={"region": region, "signal_type": signal_type},
                        label="watttime.forecast", counter=counter, hints=_WT_HINTS)
    df = parse_watttime(_field(body, "data", "WattTime forecast"), zone or region, signal_type,
                        (body.get("meta") or {}).get("units"), is_estimated=True)
    return df, _meta("watttime", {"region": region, "signal_type": signal_type,
                                  "generated_at": (body.get("meta") or {}).get("generated_at")})


def parse_watttime_forecasts(items: list[dict], zone: str, signal_type: str, units: str | None) -> pd.DataFrame:
    """WattTime historical forecasts -> ``intensity_forecasts`` (hourly means per issue, g/kWh)."""
    if units is not None and units not in ("lbs_co2_per_mwh", "lb/MWh"):
        raise PayloadError(f"WattTime forecasts: unexpected units {units!r} (expected lbs_co2_per_mwh)")
    rows = []
    try:
        for it in items:
            issued = _utc(it["generated_at"])
            for p in it["forecast"]:
                rows.append((issued, _utc(p["point_time"]), np.nan if p["value"] is None else float(p["value"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"WattTime forecasts: unexpected payload: {exc!r}") from exc
    if not rows:
        return schema.empty_table("intensity_forecasts")
    raw = pd.DataFrame(rows, columns=["issued_at", "t", "v"]).drop_duplicates(["issued_at", "t"])
    hourly = raw.groupby(["issued_at", raw["t"].dt.floor("h").rename("hour")])["v"].mean().reset_index()
    df = pd.DataFrame({
        "zone": zone, "issued_at": hourly["issued_at"], "hour": hourly["hour"],
        "intensity_g_per_kwh": hourly["v"].to_numpy() * G_PER_KWH_PER_LB_PER_MWH,
        "emission_factor_type": "marginal" if signal_type == "co2_moer" else "average", "source": "watttime",
    })
    return conform_payload("intensity_forecasts", df, "WattTime forecasts")


def get_forecasts_watttime(region: str, start, end, credentials: tuple[str, str] | None,
                           base_url: str = WATTTIME_BASE_URL, *, signal_types=("co2_moer", "co2_aoer"),
                           zone: str | None = None, session=None, cache_dir=None,
                           counter=None) -> tuple[pd.DataFrame, dict]:
    """Forecasts *as issued* in [start, end) from WattTime v3 ``/v3/forecast/historical``.

    A retrospective carbon-aware scheduler must decide on the forecast that
    existed at decision time, not on the realised series: this table keeps
    every issue (``issued_at``) with its target hours.

    Parameters
    ----------
    region : str
        WattTime region code.
    start, end : datetime-like
        Issue times [start, end), requests of at most 30 days. [UTC]
    credentials : (username, password)
    signal_types : tuple of str
        ``co2_moer`` (marginal) and/or ``co2_aoer`` (average).

    Returns
    -------
    data : DataFrame
        ``intensity_forecasts`` in g/kWh (converted from lb/MWh).
    meta : dict
    """
    start, end = _utc(start), _utc(end)
    session, headers = _watttime_auth(credentials, base_url, session, cache_dir, counter)
    frames, calls = [], 0
    for sig in signal_types:
        items, units, t = [], None, start
        while t < end:
            t1 = min(t + timedelta(days=WATTTIME_MAX_DAYS), end)
            body = request_json(session, "GET", f"{base_url.rstrip('/')}/v3/forecast/historical", headers=headers,
                                params={"region": region, "start": _iso_z(t), "end": _iso_z(t1), "signal_type": sig},
                                label="watttime.forecast_historical", counter=counter, hints=_WT_HINTS)  # fmt: skip
            items.extend(_field(body, "data", "WattTime historical forecast"))
            units = (body.get("meta") or {}).get("units", units)
            calls += 1
            t = t1
        frames.append(parse_watttime_forecasts(items, zone or region, sig, units))
    df = pd.concat(frames, ignore_index=True) if frames else schema.empty_table("intensity_forecasts")
    return df, _meta("watttime", {"region": region, "signal_types": list(signal_types), "start": start.isoformat(),
                                  "end": end.isoformat()}, requests=calls)
