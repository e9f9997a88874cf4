"""Savings scenarios: office hours, carbon-aware shifting, rightsizing, combined.

Every scenario is a pure transformation of a *fleet-hourly* table -- one row
per instance and UTC hour with the columns ``instance_id``, ``hour``,
``instance_type``, ``running_frac`` [-] and ``cpu_util_frac`` [-] -- into
another table of the same shape. Cost and CO2e of any such table are then
computed by the same code (:func:`fleet_hourly_totals` here, or the Monte Carlo
in :mod:`finops_lib.calc.uncertainty`), so the scenarios differ only in what
they change.

References
----------
.. [1] Wiesner, P. et al. (2021), "Let's Wait Awhile: How Temporal Workload
   Shifting Can Reduce Carbon Emissions in the Cloud", Middleware '21.
.. [2] Original thesis, literature review: office-hours scheduling saves
   15-25 % of cost; temporal shifting 15-35 % of CO2e
   (``factors.LITERATURE_SAVINGS_FRAC``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import holidays as holidays_lib
import numpy as np
import pandas as pd

from finops_lib import factors
from finops_lib.constants import G_PER_KG, WH_PER_KWH

FLEET_HOURLY_COLUMNS = ("instance_id", "hour", "instance_type", "lifecycle", "running_frac", "cpu_util_frac")


# --------------------------------------------------------------------------- #
# Building the fleet-hourly table from snapshot tables
# --------------------------------------------------------------------------- #
def fleet_hourly_table(hourly_fraction: pd.DataFrame, cpu_hourly: pd.DataFrame, instances: pd.DataFrame) -> pd.DataFrame:
    """Join running fraction, CPU and instance type into the fleet-hourly table.

    Parameters
    ----------
    hourly_fraction : pandas.DataFrame
        ``instance_id``, ``hour``, ``running_frac`` (e.g. from
        ``calc.hourly_running_fraction``). [-]
    cpu_hourly : pandas.DataFrame
        ``cpu_hourly`` snapshot table (``cpu_util_frac`` = hourly mean). [-]
    instances : pandas.DataFrame
        ``instances`` snapshot table (``instance_type``, ``lifecycle``).

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``hour``, ``instance_type``, ``lifecycle``
        (on-demand/spot), ``running_frac``, ``cpu_util_frac``. Hours without a CloudWatch datum keep NaN CPU
        (a gap, reported downstream -- never filled here).
    """
    inv = instances.drop_duplicates("instance_id").set_index("instance_id")
    types = inv["instance_type"]
    unknown = sorted(set(hourly_fraction["instance_id"]) - set(types.index))
    if unknown:
        raise KeyError(f"instances without an inventory row: {unknown[:5]}")
    out = hourly_fraction[["instance_id", "hour", "running_frac"]].merge(
        cpu_hourly[["instance_id", "hour", "cpu_util_frac"]], on=["instance_id", "hour"], how="left"
    )
    out["instance_type"] = out["instance_id"].map(types).astype("string")
    out["lifecycle"] = out["instance_id"].map(inv["lifecycle"]).astype("string")
    return out[list(FLEET_HOURLY_COLUMNS)]


def instance_tags(instances: pd.DataFrame) -> pd.DataFrame:
    """The ``tags`` JSON column expanded into one column per tag key (strings, NA when absent)."""
    rows = [json.loads(t) if isinstance(t, str) and t else {} for t in instances["tags"]]
    return pd.DataFrame(rows, index=instances["instance_id"].to_numpy()).astype("string")


# --------------------------------------------------------------------------- #
# Office hours
# --------------------------------------------------------------------------- #
def office_hours_mask(
    hours,
    tz: str = "Europe/Berlin",
    start_h: int = 8,
    end_h: int = 18,
    country: str = "DE",
    subdiv: str | None = None,
):
    """Which UTC hours fall inside office hours (Mon-Fri, local time, no public holiday).

    Parameters
    ----------
    hours : pandas.DatetimeIndex or pandas.Series of datetimes
        Interval starts, timezone-aware (UTC). Naive timestamps are rejected.
    tz : str, default "Europe/Berlin"
        Local time zone in which office hours are defined (handles DST).
    start_h, end_h : int, default 8, 18
        Office hours are local hours ``start_h <= h < end_h``. [h]
    country : str, default "DE"
        Country whose public holidays are off (``holidays`` package).
    subdiv : str, optional
        Subdivision (e.g. "HE" for Hesse, where Frankfurt is); None = nationwide
        holidays only.

    Returns
    -------
    mask : numpy.ndarray of bool or pandas.Series of bool
        True where the hour is an office hour. A Series input gives a Series
        with the same index.
    """
    if not (0 <= start_h < end_h <= 24):
        raise ValueError(f"need 0 <= start_h < end_h <= 24, got start_h={start_h}, end_h={end_h}")
    is_series = isinstance(hours, pd.Series)
    idx = pd.DatetimeIndex(hours.to_numpy() if is_series else hours)
    if idx.tz is None:
        raise ValueError("hours must be timezone-aware (UTC); got naive timestamps")
    local = idx.tz_convert(tz)
    years = sorted(set(local.year))
    hol = holidays_lib.country_holidays(country, subdiv=subdiv, years=years) if years else {}
    is_holiday = np.array([d in hol for d in local.date], dtype=bool)
    mask = (local.dayofweek < 5) & (local.hour >= start_h) & (local.hour < end_h) & ~is_holiday
    mask = np.asarray(mask, dtype=bool)
    if is_series:
        return pd.Series(mask, index=hours.index, name="office_hours")
    return mask


def apply_office_hours(fleet_hourly: pd.DataFrame, instance_ids: Iterable[str], **mask_kwargs) -> pd.DataFrame:
    """Scenario: the given instances run only in office hours.

    Outside office hours their ``running_frac`` becomes 0; inside it stays as
    observed (the schedule stops instances, it does not start idle ones).

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        Fleet-hourly table (see module docstring).
    instance_ids : iterable of str
        Instances that opt in to the schedule.
    **mask_kwargs
        Passed to :func:`office_hours_mask` (tz, start_h, end_h, country, subdiv).

    Returns
    -------
    pandas.DataFrame
        A copy with ``running_frac`` set to 0 outside office hours for the
        selected instances.
    """
    _check_fleet_hourly(fleet_hourly)
    out = fleet_hourly.copy()
    selected = out["instance_id"].isin(set(instance_ids)).to_numpy()
    office = office_hours_mask(pd.DatetimeIndex(out["hour"]), **mask_kwargs)
    off = selected & ~office
    out.loc[off, "running_frac"] = 0.0
    return out


# --------------------------------------------------------------------------- #
# Carbon-aware shifting
# --------------------------------------------------------------------------- #
def carbon_aware_shift(release, duration_h: int, deadline, intensity_g_per_kwh: pd.Series):
    """Greenest window for a job: the start hour minimising mean intensity before its deadline.

    Parameters
    ----------
    release : pandas.Timestamp
        Earliest start (UTC hour). The job's original start.
    duration_h : int
        Length of the job in whole hours. [h]
    deadline : pandas.Timestamp
        Latest end (UTC); the job must finish by ``deadline``.
    intensity_g_per_kwh : pandas.Series
        Hourly grid intensity indexed by UTC hour (contiguous, hourly). In a
        retrospective study the realised series stands in for the forecast a
        live scheduler would use [1]_. [gCO2e/kWh]

    Returns
    -------
    best_start : pandas.Timestamp
        Start of the window with the lowest mean intensity; earliest on ties.
        Equals ``release`` when no other window fits.

    Raises
    ------
    ValueError
        If the job does not fit between release and deadline, or no window in
        between has complete intensity data.
    """
    duration_h = int(duration_h)
    if duration_h < 1:
        raise ValueError(f"duration_h must be >= 1, got {duration_h}")
    release = pd.Timestamp(release)
    deadline = pd.Timestamp(deadline)
    latest_start = deadline - pd.Timedelta(hours=duration_h)
    if latest_start < release:
        raise ValueError(f"job of {duration_h} h released {release} cannot finish by deadline {deadline}")
    s = intensity_g_per_kwh.sort_index()
    window_mean = s.rolling(duration_h).mean().shift(-(duration_h - 1))  # mean of [t, t+d)
    cand = window_mean.loc[release:latest_start].dropna()
    if cand.empty:
        raise ValueError(f"no complete intensity data for any window between {release} and {deadline}")
    return cand.idxmin()


def jobs_from_fleet_hourly(fleet_hourly: pd.DataFrame, instance_ids: Iterable[str], slack_h: int) -> pd.DataFrame:
    """Flexible jobs: each contiguous run of a flexible instance is one job.

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        Fleet-hourly table.
    instance_ids : iterable of str
        Instances whose work may move in time (batch jobs).
    slack_h : int
        Deadline = original end + ``slack_h``, but never later than the
        next run of the same instance (so moved jobs never overlap). [h]

    Returns
    -------
    pandas.DataFrame
        Columns ``instance_id``, ``release`` (first hour), ``duration_h``,
        ``deadline``; one row per run of consecutive hours with running_frac > 0.
    """
    if slack_h < 0:
        raise ValueError(f"slack_h must be >= 0, got {slack_h}")
    _check_fleet_hourly(fleet_hourly)
    sub = fleet_hourly[fleet_hourly["instance_id"].isin(set(instance_ids)) & (fleet_hourly["running_frac"] > 0)]
    rows = []
    for iid, g in sub.sort_values("hour").groupby("instance_id", sort=True):
        h = pd.DatetimeIndex(g["hour"])
        new_run = np.r_[True, np.diff(h.asi8) != pd.Timedelta(hours=1).value]
        run_id = np.cumsum(new_run)
        runs = [h[run_id == rid] for rid in np.unique(run_id)]
        for k, hh in enumerate(runs):
            deadline = hh[-1] + pd.Timedelta(hours=1 + slack_h)
            if k + 1 < len(runs):
                deadline = min(deadline, runs[k + 1][0])
            rows.append({"instance_id": iid, "release": hh[0], "duration_h": len(hh), "deadline": deadline})
    return pd.DataFrame(rows, columns=["instance_id", "release", "duration_h", "deadline"])


def flexible_jobs(fleet_hourly: pd.DataFrame, instances: pd.DataFrame, window_h: int = 24) -> pd.DataFrame:
    """Jobs of instances tagged ``flexible=true`` with a ``deadline_hour_utc`` tag.

    Each run of consecutive running hours is one job. Its deadline is the
    first ``deadline_hour_utc`` o'clock (UTC) at or after the run's end; it
    may start at most ``window_h`` hours before the deadline, but not before
    the previous run of the same instance ended.

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``release``, ``duration_h``, ``deadline``.

    Raises
    ------
    ValueError
        If a flexible instance lacks a valid ``deadline_hour_utc`` tag.
    """
    if window_h < 1:
        raise ValueError(f"window_h must be >= 1, got {window_h}")
    tags = instance_tags(instances)
    if "flexible" not in tags:
        return pd.DataFrame(columns=["instance_id", "release", "duration_h", "deadline"])
    flex = tags.index[tags["flexible"].fillna("false").str.lower() == "true"]
    runs = jobs_from_fleet_hourly(fleet_hourly, flex, slack_h=0)
    rows = []
    for iid, g in runs.groupby("instance_id", sort=True):
        raw = tags.loc[iid, "deadline_hour_utc"] if "deadline_hour_utc" in tags else pd.NA
        if pd.isna(raw) or not str(raw).isdigit() or not 0 <= int(raw) < 24:
            raise ValueError(f"flexible instance {iid} has no valid deadline_hour_utc tag (got {raw!r})")
        prev_end = None
        for job in g.sort_values("release").itertuples(index=False):
            end = job.release + pd.Timedelta(hours=job.duration_h)
            deadline = end.normalize() + pd.Timedelta(hours=int(raw))
            if deadline < end:
                deadline += pd.Timedelta(days=1)
            release = deadline - pd.Timedelta(hours=window_h)
            if prev_end is not None:
                release = max(release, prev_end)
            release = min(release, job.release)
            rows.append({"instance_id": iid, "release": release, "duration_h": job.duration_h, "deadline": deadline})
            prev_end = end
    return pd.DataFrame(rows, columns=["instance_id", "release", "duration_h", "deadline"])


def apply_carbon_aware_shift(
    fleet_hourly: pd.DataFrame, jobs: pd.DataFrame, intensity_g_per_kwh: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenario: move each flexible job into its greenest window before its deadline.

    The job's hourly profile (running_frac, cpu_util_frac) moves as a block
    from its original start (first running hour at or after ``release``);
    release and deadline are clipped to the intensity series (no data -> no
    shift into that time). A job stays where it is when no window is greener,
    when its own window lacks intensity data, or when the target hours are
    already used by another run of the same instance.

    Returns
    -------
    shifted : pandas.DataFrame
        Fleet-hourly table with the jobs moved (rows of the new hours replace
        the old rows' values; hours vacated get running_frac 0).
    plan : pandas.DataFrame
        ``jobs`` plus ``original_start``, ``best_start`` and ``shift_h``.
    """
    _check_fleet_hourly(fleet_hourly)
    out = fleet_hourly.copy().set_index(["instance_id", "hour"]).sort_index()
    first_hour = intensity_g_per_kwh.index.min()
    last_hour = intensity_g_per_kwh.index.max() + pd.Timedelta(hours=1)
    # where each job really runs now: its first running hour at or after release
    best = []
    for job in jobs.itertuples(index=False):
        orig = _first_run_hour(out, job.instance_id, job.release)
        release = max(pd.Timestamp(job.release), first_hour)
        deadline = max(min(pd.Timestamp(job.deadline), last_hour), orig + pd.Timedelta(hours=job.duration_h))
        start = carbon_aware_shift(release, job.duration_h, deadline, intensity_g_per_kwh)
        orig_mean = _window_mean(intensity_g_per_kwh, orig, job.duration_h)
        if not _window_mean(intensity_g_per_kwh, start, job.duration_h) < orig_mean:  # also NaN
            start = orig  # never move a job to a window that is not greener (or not comparable)
        old = pd.date_range(orig, periods=job.duration_h, freq="h")
        new = pd.date_range(start, periods=job.duration_h, freq="h")
        busy = out.reindex([(job.instance_id, h) for h in new.difference(old)])["running_frac"].fillna(0.0)
        if (busy > 0).any():
            start = orig  # another run of this instance occupies the target hours
        if start != orig:
            block = out.loc[[(job.instance_id, h) for h in old], ["running_frac", "cpu_util_frac"]].to_numpy()
            itype = out.loc[(job.instance_id, old[0]), "instance_type"]
            out.loc[[(job.instance_id, h) for h in old], "running_frac"] = 0.0
            for h, (r, c) in zip(new, block, strict=True):
                out.loc[(job.instance_id, h), ["running_frac", "cpu_util_frac", "instance_type"]] = [r, c, itype]
        best.append((orig, start))
    plan = jobs.copy()
    plan["original_start"] = pd.to_datetime([b[0] for b in best], utc=True)
    plan["best_start"] = pd.to_datetime([b[1] for b in best], utc=True)
    plan["shift_h"] = (plan["best_start"] - plan["original_start"]) / pd.Timedelta(hours=1)
    out = out.sort_index().reset_index()
    out["running_frac"] = out["running_frac"].fillna(0.0)
    return out, plan


def _first_run_hour(table: pd.DataFrame, iid: str, release) -> pd.Timestamp:
    sub = table.loc[iid]
    hit = sub.index[(sub.index >= pd.Timestamp(release).floor("h")) & (sub["running_frac"].to_numpy() > 0)]
    if len(hit) == 0:
        raise ValueError(f"job of {iid} released {release}: no running hour at or after release")
    return hit[0]


def _window_mean(s: pd.Series, start, duration_h: int) -> float:
    return float(s.reindex(pd.date_range(start, periods=duration_h, freq="h")).mean())


# --------------------------------------------------------------------------- #
# Rightsizing
# --------------------------------------------------------------------------- #
def rightsize(
    instance_type: str,
    cpu_p95_frac: float,
    target_util_frac: float = 0.6,
    catalog: Mapping = factors.INSTANCE_CATALOG,
) -> str:
    """Cheapest type of the same family whose vCPUs carry the observed load.

    A candidate must (a) belong to the same family (text before the dot),
    (b) keep at least the current memory per vCPU (CloudWatch has no memory
    metric by default, so memory is scaled with vCPUs, never reduced beyond
    that), and (c) run the observed 95th-percentile CPU at or below
    ``target_util_frac``: ``cpu_p95_frac * vcpu_now / vcpu_new <= target``.

    Parameters
    ----------
    instance_type : str
        Current type; must be in ``catalog``.
    cpu_p95_frac : float
        95th percentile of the hourly mean CPU utilisation. [-]
    target_util_frac : float, default 0.6
        Highest acceptable p95 utilisation after resizing. [-]
    catalog : mapping
        ``factors.INSTANCE_CATALOG`` (vcpu, memory_gib, usd_per_hour).

    Returns
    -------
    str
        The recommended type (the current one when nothing cheaper fits, or
        when ``cpu_p95_frac`` is NaN -- no data, no recommendation).
    """
    if instance_type not in catalog:
        raise KeyError(f"unknown instance type {instance_type!r}; not in the instance catalog")
    if not (0 < target_util_frac <= 1):
        raise ValueError(f"target_util_frac must be in (0, 1], got {target_util_frac}")
    if pd.isna(cpu_p95_frac):
        return instance_type
    if not (0 <= cpu_p95_frac <= 1):
        raise ValueError(f"cpu_p95_frac must be in [0, 1], got {cpu_p95_frac}")
    cur = catalog[instance_type]
    family = instance_type.split(".")[0]
    mem_per_vcpu = cur["memory_gib"] / cur["vcpu"]
    best, best_price = instance_type, cur["usd_per_hour"]
    for name, spec in catalog.items():
        if name.split(".")[0] != family or spec["usd_per_hour"] >= best_price:
            continue
        fits_cpu = cpu_p95_frac * cur["vcpu"] / spec["vcpu"] <= target_util_frac
        fits_mem = spec["memory_gib"] / spec["vcpu"] >= mem_per_vcpu - 1e-9
        if fits_cpu and fits_mem:
            best, best_price = name, spec["usd_per_hour"]
    return best


def rightsizing_plan(
    fleet_hourly: pd.DataFrame,
    quantile: float = 0.95,
    target_util_frac: float = 0.6,
    catalog: Mapping = factors.INSTANCE_CATALOG,
) -> pd.DataFrame:
    """Recommended type per instance from its CPU percentile over running hours.

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``instance_type``, ``cpu_p95_frac`` (the chosen
        quantile, NaN without data), ``new_type``, ``vcpu_ratio``
        (old vCPU / new vCPU).
    """
    _check_fleet_hourly(fleet_hourly)
    run = fleet_hourly[fleet_hourly["running_frac"] > 0]
    q = run.groupby("instance_id")["cpu_util_frac"].quantile(quantile)
    types = fleet_hourly.groupby("instance_id")["instance_type"].first()
    plan = pd.DataFrame({"instance_type": types, "cpu_p95_frac": q.reindex(types.index)})
    plan["new_type"] = [
        rightsize(t, c, target_util_frac, catalog) for t, c in zip(plan["instance_type"], plan["cpu_p95_frac"], strict=True)
    ]
    plan["vcpu_ratio"] = [catalog[a]["vcpu"] / catalog[b]["vcpu"] for a, b in zip(plan["instance_type"], plan["new_type"], strict=True)]
    return plan.rename_axis("instance_id").reset_index()


def apply_rightsizing(fleet_hourly: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """Scenario: replace each instance's type by ``plan.new_type``.

    The same work on fewer vCPUs raises utilisation by the vCPU ratio
    (clipped to 1).
    """
    _check_fleet_hourly(fleet_hourly)
    p = plan.set_index("instance_id")
    out = fleet_hourly.copy()
    ratio = out["instance_id"].map(p["vcpu_ratio"]).fillna(1.0).to_numpy()
    out["instance_type"] = out["instance_id"].map(p["new_type"]).fillna(out["instance_type"]).astype("string")
    out["cpu_util_frac"] = np.clip(out["cpu_util_frac"].to_numpy() * ratio, 0.0, 1.0)
    return out


# --------------------------------------------------------------------------- #
# Evaluation of one fleet-hourly table (point estimate)
# --------------------------------------------------------------------------- #
def power_w_from_profiles(instance_type, cpu_util_frac, profiles: pd.DataFrame) -> np.ndarray:
    """IT power by linear interpolation of each type's load curve.

    Parameters
    ----------
    instance_type : array-like of str
    cpu_util_frac : array-like of float
        Load in [0, 1]; values outside are clipped (the curve is defined on
        0..1 only). NaN stays NaN. [-]
    profiles : pandas.DataFrame
        ``power_profiles`` table (instance_type, load_frac, power_w).

    Returns
    -------
    power_w : numpy.ndarray
        [W]

    Raises
    ------
    KeyError
        If a type has no curve in ``profiles`` (no fallback model).
    """
    types = np.asarray(instance_type, dtype=object)
    u = np.clip(np.asarray(cpu_util_frac, dtype=float), 0.0, 1.0)
    out = np.full(u.shape, np.nan)
    curves = {t: g.sort_values("load_frac") for t, g in profiles.groupby("instance_type")}
    for t in pd.unique(types):
        if t not in curves:
            raise KeyError(f"no power profile for instance type {t!r}")
        sel = types == t
        c = curves[t]
        out[sel] = np.interp(u[sel], c["load_frac"].to_numpy(float), c["power_w"].to_numpy(float))
    out[np.isnan(u)] = np.nan
    return out


def instance_hour_footprint(
    fleet_hourly: pd.DataFrame,
    profiles: pd.DataFrame,
    usd_per_hour: Mapping[str, float],
    intensity_g_per_kwh: pd.Series,
    pue: float,
) -> pd.DataFrame:
    """Point estimate per instance-hour: cost, facility energy, operational CO2e.

    E = P(u)·r·1 h·PUE; CO2e = E·I; cost = r·price. Running hours without a
    CPU datum or without intensity give NaN energy / CO2e (gaps, not zeros).

    Returns
    -------
    pandas.DataFrame
        The fleet-hourly table plus ``power_w`` [W], ``cost_usd`` [USD],
        ``energy_kwh`` [kWh] and ``co2_g`` [gCO2e].
    """
    _check_fleet_hourly(fleet_hourly)
    out = fleet_hourly.copy()
    r = out["running_frac"].to_numpy(float)
    p = power_w_from_profiles(out["instance_type"], out["cpu_util_frac"], profiles)
    out["power_w"] = np.where(r > 0, p, 0.0)
    missing = sorted(set(out["instance_type"]) - set(usd_per_hour))
    if missing:
        raise KeyError(f"no list price for instance types {missing}")
    out["cost_usd"] = r * out["instance_type"].map(dict(usd_per_hour)).to_numpy(float)
    out["energy_kwh"] = out["power_w"] * r * pue / WH_PER_KWH
    out["co2_g"] = out["energy_kwh"] * pd.DatetimeIndex(out["hour"]).map(intensity_g_per_kwh).to_numpy(float)
    out.loc[r == 0, "co2_g"] = 0.0
    return out


def fleet_hourly_totals(
    fleet_hourly: pd.DataFrame,
    profiles: pd.DataFrame,
    usd_per_hour: Mapping[str, float],
    intensity_g_per_kwh: pd.Series,
    pue: float,
    eur_per_usd: float,
) -> dict:
    """Point estimate of a fleet-hourly table: cost, energy, CO2e.

    E_h = P(u_h)·r_h·1 h·PUE; CO2e = Σ E_h·I_h; cost = Σ r_h·price.

    Returns
    -------
    dict
        ``cost_usd``, ``cost_eur``, ``energy_kwh``, ``co2_kg``, ``running_h``
        and ``energy_without_intensity_kwh`` -- energy in hours with no
        intensity value, which ``co2_kg`` cannot include (a gap, not a zero).
    """
    _check_fleet_hourly(fleet_hourly)
    r = fleet_hourly["running_frac"].to_numpy(float)
    p = power_w_from_profiles(fleet_hourly["instance_type"], fleet_hourly["cpu_util_frac"], profiles)
    p = np.where(r > 0, p, 0.0)
    price = fleet_hourly["instance_type"].map(dict(usd_per_hour)).to_numpy(float)
    intensity = pd.DatetimeIndex(fleet_hourly["hour"]).map(intensity_g_per_kwh).to_numpy(float)
    energy_kwh = p * r * pue / WH_PER_KWH
    cost_usd = float(np.nansum(r * price))
    return {
        "cost_usd": cost_usd,
        "cost_eur": cost_usd * eur_per_usd,
        "energy_kwh": float(np.nansum(energy_kwh)),
        "co2_kg": float(np.nansum(energy_kwh * intensity)) / G_PER_KG,
        "running_h": float(r.sum()),
        "energy_without_intensity_kwh": float(np.nansum(np.where(np.isnan(intensity), energy_kwh, 0.0))),
    }


def _check_fleet_hourly(df: pd.DataFrame) -> None:
    missing = [c for c in FLEET_HOURLY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"fleet-hourly table lacks columns {missing}")
