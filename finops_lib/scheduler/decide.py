"""The scheduler's decision: a pure function of instances, time, intensity forecast and policies.

:func:`decide` never calls AWS; :mod:`finops_lib.scheduler.aws` reads the
fleet and applies the decisions. Rules, in order, for every instance:

1. never touched (action ``skip``): a member of an Auto Scaling group (tag
   ``aws:autoscaling:groupName``) or of another service that manages its
   instances (:data:`MANAGED_TAGS`), a Spot instance, an instance without
   the opt-in tag, an opted-out instance, a terminated one, or one in
   transition against its target (``pending``/``stopping``);
2. a ``Schedule`` tag value naming no policy or an unknown time zone
   override is an *error*: :func:`decide` raises :class:`PolicyError` naming
   every such instance, so nothing is done;
3. a maintenance window holds the instance as it is (``hold``) or keeps it
   running (``run``);
4. the policy gives the target state (running / stopped; ``always-on``
   gives none: the scheduler never stops such an instance, and never
   restarts one an operator stopped); the action is
   ``start``/``stop`` only when the state differs from the target, else
   ``none`` -- so applying twice equals applying once.

Expected savings of a decision are those of the next ``interval_h`` against
leaving the instance running: list price (``factors.INSTANCE_CATALOG``) and
CCF power at the instance's CPU load (``cpu_util_frac`` column if given;
else at idle, a lower bound, ``co2_basis = "idle_lower_bound"``) times PUE
and the current hour's forecast intensity.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import numpy as np
import pandas as pd

from finops_lib import calc, factors
from finops_lib.constants import G_PER_KG, WH_PER_KWH
from finops_lib.scheduler.policy import TRUE_VALUES, Policy, PolicyError, PolicySet, check_timezone

#: Tags set by services that manage their own instances (key -> service); the
#: scheduler never stops or starts such an instance. Prefix keys end with "/".
MANAGED_TAGS = {
    "aws:autoscaling:groupName": "Auto Scaling group",
    "aws:ec2spot:fleet-request-id": "Spot Fleet",
    "aws:ec2:fleet-id": "EC2 Fleet",
    "aws:elasticmapreduce:job-flow-id": "Amazon EMR",
    "eks:cluster-name": "Amazon EKS",
    "aws:eks:cluster-name": "Amazon EKS",
    "kubernetes.io/cluster/": "Kubernetes",
    "elasticbeanstalk:environment-name": "Elastic Beanstalk",
    "aws:cloud9:environment": "AWS Cloud9",
    "opsworks:stack": "AWS OpsWorks",
    "aws:batch:compute-environment": "AWS Batch",
}
DECISION_COLUMNS = (
    "decided_at", "instance_id", "instance_type", "policy", "state", "target", "action", "reason",
    "intensity_g_per_kwh", "expected_cost_saved_eur", "expected_co2_saved_kg", "co2_basis",
)  # fmt: skip
#: Default PUE for expected savings: eu-central-1, 2024 (factors.PUE).
DEFAULT_PUE = factors.PUE["aws_eu_central_1_2024"]["value"]


def parse_tags(tags) -> dict[str, str]:
    """Tags as a dict from a dict, a JSON object string or EC2's ``[{"Key", "Value"}]`` list."""
    if tags is None or (isinstance(tags, float) and np.isnan(tags)):
        return {}
    if isinstance(tags, str):
        tags = json.loads(tags) if tags.strip() else {}
    if isinstance(tags, list | np.ndarray):
        return {str(t["Key"]): str(t.get("Value", "")) for t in tags}
    return {str(k): str(v) for k, v in dict(tags).items()}


def managed_by(tags: Mapping[str, str]) -> str | None:
    """The service managing an instance (from :data:`MANAGED_TAGS`), or None."""
    for key, service in MANAGED_TAGS.items():
        if key.endswith("/"):
            if any(k.startswith(key) for k in tags):
                return service
        elif key in tags:
            return f"{service} {tags[key]}"
    return None


def _local(now: pd.Timestamp, tz: str) -> pd.Timestamp:
    return now.tz_convert(ZoneInfo(tz))


def _minutes(local: pd.Timestamp) -> int:
    return local.hour * 60 + local.minute


@functools.lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdiv: str | None, year: int):
    return holidays_lib.country_holidays(country, subdiv=subdiv, years=year)


def _holiday(local: pd.Timestamp, policies: PolicySet) -> str | None:
    return _holiday_calendar(policies.holiday_country, policies.holiday_subdiv, local.year).get(local.date())


def hours_target(policy: Policy, now: pd.Timestamp, tz: str, policies: PolicySet) -> tuple[str, str]:
    """Target state and reason of an ``hours`` policy at ``now`` in local time ``tz``."""
    local = _local(now, tz)
    span = f"{policy.start_min // 60:02d}:{policy.start_min % 60:02d}-{policy.end_min // 60:02d}:{policy.end_min % 60:02d}"
    where = f"{local:%a %Y-%m-%d %H:%M} {tz}"
    if local.dayofweek not in policy.weekdays:
        return "stopped", f"{where}: not a scheduled weekday"
    if policy.skip_holidays:
        name = _holiday(local, policies)
        if name:
            sub = f"-{policies.holiday_subdiv}" if policies.holiday_subdiv else ""
            return "stopped", f"{where}: public holiday {name} ({policies.holiday_country}{sub})"
    if policy.start_min <= _minutes(local) < policy.end_min:
        return "running", f"{where}: inside {span}"
    return "stopped", f"{where}: outside {span}"


def _tag_int(tags: Mapping[str, str], key: str, lo: int, hi: int, iid: str) -> int:
    raw = tags.get(key)
    if raw is None or not str(raw).strip().isdigit() or not lo <= int(raw) <= hi:
        raise PolicyError(f"instance {iid}: tag {key}={raw!r} must be an integer in [{lo}, {hi}]")
    return int(raw)


def deadline_window(policy: Policy, tags: Mapping[str, str], now: pd.Timestamp, iid: str) -> tuple[pd.Timestamp, int]:
    """The next deadline strictly after the current hour, and the run hours it needs.

    Returns
    -------
    deadline : pandas.Timestamp
        First ``deadline_hour_utc`` o'clock (UTC) after ``now.floor('h')``.
    run_h : int
        Hours of work due by then. [h]
    """
    hour = policy.deadline_hour_utc if policy.deadline_hour_utc is not None else \
        _tag_int(tags, policy.deadline_hour_utc_tag, 0, 23, iid)  # fmt: skip
    run_h = policy.run_hours if policy.run_hours is not None else _tag_int(tags, policy.run_hours_tag, 1,
                                                                           policy.window_h, iid)  # fmt: skip
    h0 = now.floor("h")
    deadline = h0.normalize() + pd.Timedelta(hours=hour)
    while deadline <= h0:
        deadline += pd.Timedelta(days=1)
    return deadline, run_h


def carbon_target(policy: Policy, now: pd.Timestamp, forecast: pd.Series, tags: Mapping[str, str],
                  done_h: float, iid: str) -> tuple[str | None, str]:
    """Target state and reason of a ``carbon-aware`` policy.

    Parameters
    ----------
    forecast : pandas.Series
        Intensity by UTC hour start, the current hour and later being
        forecasts available at ``now``. [gCO2e/kWh]
    done_h : float
        Hours the instance already ran (by the scheduler) in the current
        deadline window. [h]
    """
    h0 = now.floor("h")
    cur = float(forecast.get(h0, np.nan))
    thr = policy.threshold_g_per_kwh
    below = thr is not None and not np.isnan(cur) and cur < thr
    if not policy.has_deadline:
        if np.isnan(cur):
            return None, "no intensity forecast for this hour: no carbon-aware decision"
        if below:
            return "running", f"forecast {cur:.0f} g/kWh below threshold {thr:.0f}"
        return "stopped", f"forecast {cur:.0f} g/kWh at or above threshold {thr:.0f}: deferred"
    deadline, run_h = deadline_window(policy, tags, now, iid)
    if h0 < deadline - pd.Timedelta(hours=policy.window_h):
        return "stopped", f"before the {policy.window_h} h window of deadline {deadline:%Y-%m-%d %H:%M}Z"
    need = run_h - done_h
    if need <= 0:
        return "stopped", f"{run_h} h done for deadline {deadline:%Y-%m-%d %H:%M}Z"
    hours = pd.date_range(h0, deadline, freq="h", inclusive="left")
    if need >= len(hours):
        return "running", f"deadline guard: {need:g} h needed, {len(hours)} h left before {deadline:%Y-%m-%d %H:%M}Z"
    if np.isnan(cur):
        return "running", "no intensity forecast for this hour: runs early to keep the deadline"
    f = forecast.reindex(hours).to_numpy(float)
    order = np.lexsort((np.arange(len(f)), np.where(np.isnan(f), np.inf, f)))  # greenest first, earliest on ties
    chosen = set(order[: int(np.ceil(need))])
    if 0 in chosen:
        return "running", (f"{cur:.0f} g/kWh is among the {int(np.ceil(need))} greenest of {len(hours)} h "
                           f"before deadline {deadline:%Y-%m-%d %H:%M}Z")
    if below:
        return "running", f"forecast {cur:.0f} g/kWh below threshold {thr:.0f}"
    return "stopped", (f"deferred: {cur:.0f} g/kWh; {int(np.ceil(need))} greener hour(s) ahead before deadline "
                       f"{deadline:%Y-%m-%d %H:%M}Z")


def done_hours(history: pd.DataFrame | None, iid: str, since: pd.Timestamp, now: pd.Timestamp) -> float:
    """Distinct hours in [since, now) in which the decision log put ``iid`` in target ``running``. [h]"""
    return _done_hours(_running_hours_by_instance(history), iid, since, now)


def _running_hours_by_instance(history: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Instance -> sorted distinct hours (ns since epoch, UTC) with target ``running`` in ``history``."""
    if history is None or history.empty:
        return {}
    h = history[history["target"] == "running"]
    t = pd.to_datetime(h["decided_at"], utc=True).dt.floor("h")
    return {iid: np.unique(g.to_numpy("int64")) for iid, g in t.groupby(h["instance_id"].to_numpy())}


def _done_hours(by_instance: dict[str, np.ndarray], iid: str, since: pd.Timestamp, now: pd.Timestamp) -> float:
    hours = by_instance.get(iid)
    if hours is None:
        return 0.0
    return float(((hours >= since.value) & (hours < now.floor("h").value)).sum())


def _maintenance(policies: PolicySet, policy: Policy, now: pd.Timestamp, tz: str):
    local = _local(now, tz)
    for w in policies.maintenance_windows:
        if w.policies is not None and policy.name not in w.policies:
            continue
        if local.dayofweek in w.weekdays and w.start_min <= _minutes(local) < w.end_min:
            return w
    return None


def _row(now, inst, policy=None, target=None, action="skip", reason=""):
    return {"decided_at": now, "instance_id": inst["instance_id"], "instance_type": inst.get("instance_type"),
            "policy": policy, "state": inst.get("state"), "target": target, "action": action, "reason": reason}


def decide(
    instances: pd.DataFrame,
    now,
    forecast_g_per_kwh: pd.Series | None,
    policies: PolicySet,
    *,
    history: pd.DataFrame | None = None,
    pue: float = DEFAULT_PUE,
    eur_per_usd: float = factors.EUR_PER_USD["value"],
    catalog: Mapping = factors.INSTANCE_CATALOG,
) -> pd.DataFrame:
    """Decide, for every instance, the target state and the action, with reasons.

    Parameters
    ----------
    instances : pandas.DataFrame
        ``instance_id``, ``instance_type``, ``state`` (EC2 state name),
        ``tags`` (dict, JSON string or EC2 tag list); optional ``lifecycle``
        (spot/on-demand) and ``cpu_util_frac`` (recent mean load). [-]
    now : datetime-like
        Decision time (timezone-aware, or naive UTC).
    forecast_g_per_kwh : pandas.Series or None
        Intensity by UTC hour start, only what is known at ``now``: the
        current and later hours are forecasts. None: no forecast (carbon-aware
        instances without a deadline are left as they are). [gCO2e/kWh]
    policies : PolicySet
    history : pandas.DataFrame, optional
        Earlier decisions (``instance_id``, ``decided_at``, ``target``): the
        hours already run in a deadline window.
    pue, eur_per_usd : float
        For the expected savings. [-], [EUR/USD]
    catalog : mapping
        Instance type -> ``usd_per_hour`` (list price). [USD/h]

    Returns
    -------
    pandas.DataFrame
        One row per instance, :data:`DECISION_COLUMNS`. ``action`` is one of
        start, stop, none, skip.

    Raises
    ------
    PolicyError
        A Schedule tag value naming no policy, an unknown time zone override
        or an invalid deadline tag on any instance (all are listed).
    """
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    forecast = pd.Series(dtype=float) if forecast_g_per_kwh is None else forecast_g_per_kwh.astype(float)
    if len(forecast):
        idx = pd.DatetimeIndex(forecast.index)
        forecast.index = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    rows, errors = [], []
    ran_by_instance = _running_hours_by_instance(history)
    for inst in instances.to_dict("records"):
        iid = inst["instance_id"]
        tags = parse_tags(inst.get("tags"))
        service = managed_by(tags)
        value = tags.get(policies.schedule_tag)
        if service:
            rows.append(_row(now, inst, reason=f"managed by {service}: never touched"))
            continue
        if str(inst.get("lifecycle") or "").lower() == "spot":
            rows.append(_row(now, inst, reason="Spot instance: never touched"))
            continue
        if value is None:
            rows.append(_row(now, inst, reason=f"no {policies.schedule_tag} tag: not opted in"))
            continue
        if str(tags.get(policies.opt_out_tag, "")).strip().lower() in TRUE_VALUES:
            rows.append(_row(now, inst, reason=f"opted out ({policies.opt_out_tag}={tags[policies.opt_out_tag]})"))
            continue
        try:
            policy = policies.resolve(value)
            tz = policies.timezone
            if policies.timezone_tag in tags:
                tz = check_timezone(tags[policies.timezone_tag], f"instance {iid} tag {policies.timezone_tag}")
            window = _maintenance(policies, policy, now, tz)
            if policy.kind == "always-on":  # before maintenance: never started or stopped, whatever a window says
                target, reason = None, "always on: never stopped (nor restarted) by the scheduler"
            elif window is not None and window.mode == "hold":
                target, reason = None, f"maintenance window {window.name}: held as is"
            elif window is not None:
                target, reason = "running", f"maintenance window {window.name}: kept running"
            elif policy.kind == "hours":
                target, reason = hours_target(policy, now, tz, policies)
            else:
                done = 0.0
                if policy.has_deadline:
                    deadline, _ = deadline_window(policy, tags, now, iid)
                    done = _done_hours(ran_by_instance, iid, deadline - pd.Timedelta(hours=policy.window_h), now)
                target, reason = carbon_target(policy, now, forecast, tags, done, iid)
        except PolicyError as exc:
            errors.append(f"{iid}: {exc}")
            continue
        state = inst.get("state")
        if state in ("terminated", "shutting-down"):
            action, reason = "skip", f"{state}: never touched"
        elif target is None:
            action = "none"
        elif target == "running":
            action = {"stopped": "start", "running": "none", "pending": "none"}.get(state, "skip")
        else:
            action = {"running": "stop", "stopped": "none", "stopping": "none"}.get(state, "skip")
        if action == "skip" and state not in ("terminated", "shutting-down"):
            reason = f"{state} (in transition) against target {target}: next run; {reason}"
        rows.append(_row(now, inst, policy.name, target, action, reason))
    if errors:
        raise PolicyError(f"{len(errors)} instance(s) cannot be scheduled; nothing was done:\n  " + "\n  ".join(errors))
    out = pd.DataFrame(rows, columns=list(DECISION_COLUMNS[:8]))
    return _with_savings(out, instances, forecast, now, policies.interval_h, pue, eur_per_usd, catalog)


def _with_savings(out, instances, forecast, now, interval_h, pue, eur_per_usd, catalog) -> pd.DataFrame:
    cur = float(forecast.get(now.floor("h"), np.nan)) if len(forecast) else np.nan
    cpu = instances.set_index("instance_id")["cpu_util_frac"] if "cpu_util_frac" in instances else None
    saved_cost, saved_co2, basis = [], [], []
    power_cache: dict = {}
    for r in out.itertuples(index=False):
        if r.target != "stopped":
            saved_cost.append(0.0), saved_co2.append(0.0), basis.append(None)
            continue
        spec = catalog.get(r.instance_type)
        saved_cost.append(spec["usd_per_hour"] * interval_h * eur_per_usd if spec else np.nan)
        u = float(cpu.get(r.instance_id, np.nan)) if cpu is not None else np.nan
        b = "cpu_util_frac" if not np.isnan(u) else "idle_lower_bound"
        key = (r.instance_type, 0.0 if np.isnan(u) else u)
        if key not in power_cache:
            try:
                power_cache[key] = float(calc.instance_power_w(key[0], key[1], "ccf"))
            except calc.UnknownInstanceTypeError:
                power_cache[key] = np.nan
        p_w = power_cache[key]
        b = "unknown_type" if np.isnan(p_w) else b
        saved_co2.append(p_w * interval_h * pue / WH_PER_KWH * cur / G_PER_KG)
        basis.append(b)
    out["intensity_g_per_kwh"] = cur
    out["expected_cost_saved_eur"] = saved_cost
    out["expected_co2_saved_kg"] = saved_co2
    out["co2_basis"] = pd.Series(basis, index=out.index, dtype=object)
    out["decided_at"] = pd.to_datetime(out["decided_at"], utc=True)
    return out[list(DECISION_COLUMNS)]


def persistence_forecast(history_g_per_kwh: pd.Series, now, horizon_h: int = 24) -> pd.Series:
    """Day-ahead persistence forecast from data known at ``now``.

    Each hour ``h`` in ``[now.floor('h'), now.floor('h') + horizon_h)`` gets the
    last observed value of the same hour of day before ``now`` (h - 24 h,
    h - 48 h, ...). Only hours strictly before the current hour are read, so
    no value from the future leaks in. Hours without such a value stay NaN.

    Parameters
    ----------
    history_g_per_kwh : pandas.Series
        Observed intensity by UTC hour start. [gCO2e/kWh]
    now : datetime-like (UTC)
    horizon_h : int, default 24
        Hours forecast, from the current hour on. [h]

    Returns
    -------
    pandas.Series
        The forecast, indexed by UTC hour start. [gCO2e/kWh]
    """
    h0 = pd.Timestamp(now).floor("h")
    h0 = h0.tz_localize("UTC") if h0.tzinfo is None else h0.tz_convert("UTC")
    past = history_g_per_kwh[history_g_per_kwh.index < h0].dropna()
    hours = pd.date_range(h0, periods=horizon_h, freq="h")
    days_back = (hours - h0) // pd.Timedelta(days=1) + 1  # the latest same hour of day before h0
    lags = hours - pd.to_timedelta(days_back, unit="D")
    vals = past[~past.index.duplicated()].reindex(lags).to_numpy(float)
    return pd.Series(vals, index=hours, dtype=float, name="intensity_g_per_kwh")
