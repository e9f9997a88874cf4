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
        Hourly grid intensity indexed by UTC hour starts. Missing hours (absent
        from the index or NaN) are gaps: a window containing one has no mean
        and is never chosen. In a retrospective study the realised series
        stands in for the forecast a live scheduler would use [1]_. [gCO2e/kWh]

    Returns
    -------
    best_start : pandas.Timestamp
        Start of the window with the lowest mean intensity; earliest on ties.
        Equals ``release`` when no other window fits.

    Raises
    ------
    ValueError
        If the job does not fit between release and deadline, no window in
        between has complete intensity data, or the intensity index is not on
        whole hours / has duplicates.
    """
    duration_h = int(duration_h)
    if duration_h < 1:
        raise ValueError(f"duration_h must be >= 1, got {duration_h}")
    release = pd.Timestamp(release)
    deadline = pd.Timestamp(deadline)
    latest_start = deadline - pd.Timedelta(hours=duration_h)
    if latest_start < release:
        raise ValueError(f"job of {duration_h} h released {release} cannot finish by deadline {deadline}")
    s = _complete_hourly(intensity_g_per_kwh)
    # mean of [t, t+d); rolling needs all d values (min_periods = window), so a gap voids the window
    window_mean = s.rolling(duration_h).mean().shift(-(duration_h - 1))
    cand = window_mean.loc[release:latest_start].dropna()
    if cand.empty:
        raise ValueError(f"no complete intensity data for any window between {release} and {deadline}")
    return cand.idxmin()


def _complete_hourly(s: pd.Series) -> pd.Series:
    """``s`` on a complete hourly index from its first to its last hour; absent hours become NaN."""
    s = s.sort_index()
    idx = pd.DatetimeIndex(s.index)
    if idx.has_duplicates:
        raise ValueError(f"intensity series has duplicate hours, e.g. {idx[idx.duplicated()][0]}")
    if len(idx) and not (idx == idx.floor("h")).all():
        raise ValueError(f"intensity series must be indexed by whole UTC hours, got {idx[idx != idx.floor('h')][0]}")
    if len(idx) == 0:
        return s.astype(float)
    return s.reindex(pd.date_range(idx[0], idx[-1], freq="h")).astype(float)


JOB_COLUMNS = ["instance_id", "release", "duration_h", "deadline", "original_start"]


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
        ``deadline``, ``original_start`` (first hour of the run, here =
        release); one row per run of consecutive hours with running_frac > 0.
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
            rows.append({"instance_id": iid, "release": hh[0], "duration_h": len(hh), "deadline": deadline,
                         "original_start": hh[0]})
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def flexible_jobs(fleet_hourly: pd.DataFrame, instances: pd.DataFrame, window_h: int = 24, *,
                  delay_only: bool = True) -> pd.DataFrame:
    """Jobs of instances tagged ``flexible=true`` with a ``deadline_hour_utc`` tag.

    Each run of consecutive running hours is one job. Its deadline is the
    first ``deadline_hour_utc`` o'clock (UTC) at or after the run's end (the
    world's own deadline, from the tag), but never later than the start of
    the next run of the same instance.

    ``delay_only`` (default): the job is released at its original start --
    its input is not there earlier, so it can only be delayed, never moved
    ahead. ``delay_only=False`` (an upper bound that assumes the input is
    ready earlier): it may start at most ``window_h`` hours before the
    deadline, but not before the previous run of the same instance ended.

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``release``, ``duration_h``, ``deadline``,
        ``original_start`` (first hour of the observed run).

    Raises
    ------
    ValueError
        If a flexible instance lacks a valid ``deadline_hour_utc`` tag.
    """
    if window_h < 1:
        raise ValueError(f"window_h must be >= 1, got {window_h}")
    tags = instance_tags(instances)
    if "flexible" not in tags:
        return pd.DataFrame(columns=JOB_COLUMNS)
    flex = tags.index[tags["flexible"].fillna("false").str.lower() == "true"]
    runs = jobs_from_fleet_hourly(fleet_hourly, flex, slack_h=0)
    rows = []
    for iid, g in runs.groupby("instance_id", sort=True):
        raw = tags.loc[iid, "deadline_hour_utc"] if "deadline_hour_utc" in tags else pd.NA
        if pd.isna(raw) or not str(raw).isdigit() or not 0 <= int(raw) < 24:
            raise ValueError(f"flexible instance {iid} has no valid deadline_hour_utc tag (got {raw!r})")
        g = g.sort_values("original_start").reset_index(drop=True)
        for k, job in enumerate(g.itertuples(index=False)):
            start = job.original_start
            end = start + pd.Timedelta(hours=job.duration_h)
            deadline = end.normalize() + pd.Timedelta(hours=int(raw))
            if deadline < end:
                deadline += pd.Timedelta(days=1)
            if k + 1 < len(g):
                deadline = min(deadline, g.loc[k + 1, "original_start"])  # never into the next run
            release = deadline - pd.Timedelta(hours=window_h)
            if k > 0:
                prev = g.loc[k - 1]
                release = max(release, prev["original_start"] + pd.Timedelta(hours=int(prev["duration_h"])))
            release = start if delay_only else min(release, start)
            rows.append({"instance_id": iid, "release": release, "duration_h": job.duration_h, "deadline": deadline,
                         "original_start": start})
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def forecast_at(forecasts: pd.DataFrame, decision_time) -> pd.Series:
    """The latest forecast issued strictly before ``decision_time``, by target hour. [gCO2e/kWh]

    ``forecasts``: ``issued_at``, ``hour``, ``intensity_g_per_kwh`` of one
    signal (an ``intensity_forecasts`` table filtered to one
    ``emission_factor_type``). Empty when no forecast was issued before.
    """
    t = pd.Timestamp(decision_time)
    issued = forecasts.loc[forecasts["issued_at"] < t, "issued_at"]
    if issued.empty:
        return pd.Series(dtype=float)
    f = forecasts[forecasts["issued_at"] == issued.max()]
    return f.set_index("hour")["intensity_g_per_kwh"].sort_index().astype(float)


def apply_carbon_aware_shift(
    fleet_hourly: pd.DataFrame, jobs: pd.DataFrame, intensity_g_per_kwh: pd.Series,
    forecasts: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenario: move each flexible job into its greenest window before its deadline.

    The job's hourly profile (running_frac, cpu_util_frac) moves as a block
    from ``original_start``; release and deadline are clipped to the
    intensity series (no data -> no shift into that time). A job stays where
    it is (``plan.reason`` says why) when no window is greener, when its own
    window lacks intensity data for any hour, or when the target hours are
    already used by another run of the same instance. Deadlines are never
    extended.

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        Fleet-hourly table.
    jobs : pandas.DataFrame
        ``instance_id``, ``release``, ``duration_h``, ``deadline``,
        ``original_start`` (from :func:`flexible_jobs` or
        :func:`jobs_from_fleet_hourly`).
    intensity_g_per_kwh : pandas.Series
        Hourly intensity by UTC hour; missing hours are gaps. [gCO2e/kWh]
    forecasts : pandas.DataFrame, optional
        Forecasts as issued (``issued_at``, ``hour``, ``intensity_g_per_kwh``,
        one signal). When given, each job is decided on the latest forecast
        issued before its release (:func:`forecast_at`) -- what a scheduler
        knew then -- and only within the forecast's horizon; the realised
        series still scores the result. Without it the realised series
        decides (perfect foresight: an upper bound).

    Returns
    -------
    shifted : pandas.DataFrame
        Fleet-hourly table with the jobs moved (rows of the new hours take the
        block's values; hours vacated get running_frac 0 and NaN CPU).
    plan : pandas.DataFrame
        ``jobs`` plus ``best_start``, ``shift_h`` and ``reason`` (moved,
        not_greener, own_window_lacks_intensity, no_forecast,
        target_hours_busy).

    Raises
    ------
    ValueError
        If ``jobs`` lacks a column, a job does not fit between its release
        and deadline around its original start, or the fleet table is not
        running in every hour of a job's original block.
    """
    _check_fleet_hourly(fleet_hourly)
    missing = [c for c in JOB_COLUMNS if c not in jobs.columns]
    if missing:
        raise ValueError(f"jobs table lacks columns {missing} (use flexible_jobs / jobs_from_fleet_hourly)")
    out = fleet_hourly.copy().set_index(["instance_id", "hour"]).sort_index()
    s = _complete_hourly(intensity_g_per_kwh)
    first_hour = s.index.min()
    last_hour = s.index.max() + pd.Timedelta(hours=1)
    best, reasons = [], []
    for job in jobs.itertuples(index=False):
        d = int(job.duration_h)
        orig = pd.Timestamp(job.original_start)
        old = pd.date_range(orig, periods=d, freq="h")
        if not (pd.Timestamp(job.release) <= orig and old[-1] + pd.Timedelta(hours=1) <= pd.Timestamp(job.deadline)):
            raise ValueError(f"job of {job.instance_id} at {orig} ({d} h) lies outside its release "
                             f"{job.release} .. deadline {job.deadline}")
        run_now = _running_at(fleet_hourly, job.instance_id, old)
        if not (run_now > 0).all():
            raise ValueError(f"job of {job.instance_id} at {orig} ({d} h): the instance is not running in every hour")
        orig_mean = _window_mean(s, orig, d)
        if np.isnan(orig_mean):
            best.append(orig), reasons.append("own_window_lacks_intensity")
            continue
        release = max(pd.Timestamp(job.release), first_hour)
        deadline = min(pd.Timestamp(job.deadline), last_hour)  # >= orig + d, since the own window has data
        dec = s
        if forecasts is not None:
            dec = forecast_at(forecasts, job.release)
            if dec.empty or np.isnan(_window_mean(dec, orig, d)):
                best.append(orig), reasons.append("no_forecast")
                continue
            dec = _complete_hourly(dec)
            deadline = min(deadline, dec.index.max() + pd.Timedelta(hours=1))
            orig_mean = _window_mean(dec, orig, d)
        start = carbon_aware_shift(release, d, deadline, dec)
        if not _window_mean(dec, start, d) < orig_mean:
            best.append(orig), reasons.append("not_greener")
            continue
        new = pd.date_range(start, periods=d, freq="h")
        busy = out.reindex([(job.instance_id, h) for h in new.difference(old)])["running_frac"].fillna(0.0)
        if (busy > 0).any():
            best.append(orig), reasons.append("target_hours_busy")
            continue
        old_keys = [(job.instance_id, h) for h in old]
        block = out.loc[old_keys, ["running_frac", "cpu_util_frac"]].to_numpy(float)
        first = out.loc[old_keys[0]]
        out.loc[old_keys, "running_frac"] = 0.0
        out.loc[old_keys, "cpu_util_frac"] = np.nan
        for h, (r, c) in zip(new, block, strict=True):
            out.loc[(job.instance_id, h), ["running_frac", "cpu_util_frac", "instance_type", "lifecycle"]] = [
                r, c, first["instance_type"], first["lifecycle"]]
        best.append(start), reasons.append("moved")
    plan = jobs.copy()
    plan["original_start"] = pd.to_datetime(plan["original_start"], utc=True)
    plan["best_start"] = pd.to_datetime(best, utc=True)
    plan["shift_h"] = (plan["best_start"] - plan["original_start"]) / pd.Timedelta(hours=1)
    plan["reason"] = pd.Series(reasons, index=plan.index, dtype="string")
    out = out.sort_index().reset_index()
    out["running_frac"] = out["running_frac"].fillna(0.0)
    return out, plan


def _running_at(fleet_hourly: pd.DataFrame, instance_id: str, hours: pd.DatetimeIndex) -> np.ndarray:
    """running_frac of one instance at the given hours (NaN where the table has no row). [-]"""
    sub = fleet_hourly[fleet_hourly["instance_id"] == instance_id].set_index("hour")["running_frac"]
    return sub.reindex(hours).to_numpy(float)


def _window_mean(s: pd.Series, start, duration_h: int) -> float:
    """Mean of ``s`` over [start, start + duration_h h); NaN if any hour lacks data."""
    return float(s.reindex(pd.date_range(start, periods=duration_h, freq="h")).mean(skipna=False))


# --------------------------------------------------------------------------- #
# Rightsizing
# --------------------------------------------------------------------------- #
def rightsize(
    instance_type: str,
    cpu_p95_frac: float,
    target_util_frac: float = 0.6,
    catalog: Mapping = factors.INSTANCE_CATALOG,
    min_memory_frac: float = 0.5,
) -> str:
    """Cheapest type of the same family whose vCPUs carry the observed load.

    A candidate must (a) belong to the same family (text before the dot),
    (b) keep at least the current memory per vCPU, (c) keep at least
    ``min_memory_frac`` of the current total memory, and (d) run the observed
    95th-percentile CPU at or below ``target_util_frac``:
    ``cpu_p95_frac * vcpu_now / vcpu_new <= target``.

    Memory: CloudWatch has no memory metric by default, so memory use is
    unknown. Downsizing within a family necessarily shrinks total memory with
    the vCPUs; (b) keeps the ratio, (c) bounds the unobserved risk. The
    default 0.5 allows one size step down (sizes double within a family) --
    a judgement call, not a measured value; pass 1.0 to never reduce memory
    or a smaller value when memory use is known to be low.

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
    min_memory_frac : float, default 0.5
        Smallest acceptable new/current total memory ratio, in (0, 1]. [-]

    Returns
    -------
    str
        The recommended type (the current one when nothing cheaper fits, or
        when ``cpu_p95_frac`` is NaN -- no data, no recommendation).
    """
    if instance_type not in catalog:
        raise KeyError(f"instance type {instance_type!r} is not in the catalog given ({len(catalog)} candidate "
                       "types; a snapshot's catalog leaves out types without a price or power curve)")
    if not (0 < target_util_frac <= 1):
        raise ValueError(f"target_util_frac must be in (0, 1], got {target_util_frac}")
    if not (0 < min_memory_frac <= 1):
        raise ValueError(f"min_memory_frac must be in (0, 1], got {min_memory_frac}")
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
        fits_mem = (spec["memory_gib"] / spec["vcpu"] >= mem_per_vcpu - 1e-9
                    and spec["memory_gib"] >= min_memory_frac * cur["memory_gib"] - 1e-9)
        if fits_cpu and fits_mem:
            best, best_price = name, spec["usd_per_hour"]
    return best


def rightsizing_plan(
    fleet_hourly: pd.DataFrame,
    quantile: float = 0.95,
    target_util_frac: float = 0.6,
    catalog: Mapping = factors.INSTANCE_CATALOG,
    min_memory_frac: float = 0.5,
) -> pd.DataFrame:
    """Recommended type per instance from its CPU percentile over running hours.

    See :func:`rightsize` for the rules (incl. ``min_memory_frac``).

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``instance_type``, ``cpu_p95_frac`` (the chosen
        quantile, NaN without data), ``new_type``, ``vcpu_ratio``
        (old vCPU / new vCPU), ``note`` (why an instance is not considered:
        its type is unknown or not in ``catalog``, e.g. a price gap; such an
        instance keeps its type -- a visible gap, not a recommendation).
    """
    _check_fleet_hourly(fleet_hourly)
    run = fleet_hourly[fleet_hourly["running_frac"] > 0]
    q = run.groupby("instance_id")["cpu_util_frac"].quantile(quantile)
    types = fleet_hourly.groupby("instance_id")["instance_type"].first()
    plan = pd.DataFrame({"instance_type": types, "cpu_p95_frac": q.reindex(types.index)})
    notes = ["instance type unknown: not rightsized" if pd.isna(t)
             else f"{t} not in the catalog (no price or power curve): not rightsized" if t not in catalog
             else "" for t in plan["instance_type"]]
    plan["new_type"] = [
        t if n else rightsize(t, c, target_util_frac, catalog, min_memory_frac)
        for t, c, n in zip(plan["instance_type"], plan["cpu_p95_frac"], notes, strict=True)
    ]
    plan["vcpu_ratio"] = [1.0 if n else catalog[a]["vcpu"] / catalog[b]["vcpu"]
                          for a, b, n in zip(plan["instance_type"], plan["new_type"], notes, strict=True)]
    plan["note"] = notes
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
def power_w_from_profiles(instance_type, cpu_util_frac, profiles: pd.DataFrame, source: str | None = None) -> np.ndarray:
    """IT power by linear interpolation of each type's load curve.

    Parameters
    ----------
    instance_type : array-like of str
    cpu_util_frac : array-like of float
        Load in [0, 1]; values outside are clipped (the curve is defined on
        0..1 only). NaN stays NaN. [-]
    profiles : pandas.DataFrame
        ``power_profiles`` table (instance_type, load_frac, power_w, optional
        source).
    source : str, optional
        Use only rows with this ``source`` (boavizta, ccf, ...). None: every
        type's rows must come from one source (a curve is never interpolated
        across two models).

    Returns
    -------
    power_w : numpy.ndarray
        [W]

    Raises
    ------
    KeyError
        If a type has no curve in ``profiles`` (no fallback model).
    ValueError
        If a type's rows come from several sources (and ``source`` is None),
        or its curve repeats a load point.
    """
    types = np.asarray(instance_type, dtype=object)
    u = np.clip(np.asarray(cpu_util_frac, dtype=float), 0.0, 1.0)
    out = np.full(u.shape, np.nan)
    if "source" in profiles.columns:
        if source is not None:
            profiles = profiles[(profiles["source"] == source).fillna(False).to_numpy(bool)]
    elif source is not None:
        raise ValueError(f"profiles have no source column; cannot select source {source!r}")
    curves = {t: g.sort_values("load_frac") for t, g in profiles.groupby("instance_type")}
    for t in pd.unique(types):
        if t not in curves:
            raise KeyError(f"no power profile for instance type {t!r}" + (f" from source {source!r}" if source else ""))
        c = curves[t]
        if "source" in c.columns and c["source"].nunique(dropna=False) > 1:
            raise ValueError(f"power profile of {t!r} mixes sources {sorted(map(str, c['source'].unique()))}; "
                             f"pass source=")
        if c["load_frac"].duplicated().any():
            raise ValueError(f"power profile of {t!r} has duplicate load points")
        sel = types == t
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
    out["cost_usd"] = r * _prices(out["instance_type"], usd_per_hour)
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
    """Point estimate of a fleet-hourly table: cost, energy, CO2e, and its gaps.

    E_h = P(u_h)·r_h·1 h·PUE; CO2e = Σ E_h·I_h; cost = Σ r_h·price.
    Gaps are left out of the totals and reported beside them, never filled
    (same rules as :func:`finops_lib.calc.uncertainty.fleet_aggregates`):

    * a running hour without a CPU datum is in cost, not in energy/CO2e
      (``running_h_without_cpu``);
    * an instance-hour with unknown running state (NaN ``running_frac``) is
      in no total (``running_h_unknown``);
    * energy in an hour without intensity is not in CO2e
      (``energy_without_intensity_kwh``).

    Returns
    -------
    dict
        ``cost_usd``, ``cost_eur``, ``energy_kwh``, ``co2_kg``, ``running_h``
        (known running hours), ``running_h_without_cpu`` [h],
        ``running_h_unknown`` [instance-h] and ``energy_without_intensity_kwh``.

    Raises
    ------
    KeyError
        If an instance type has no list price (or no power profile).
    ValueError
        If a list price is NaN.
    """
    _check_fleet_hourly(fleet_hourly)
    price = _prices(fleet_hourly["instance_type"], usd_per_hour)
    r = fleet_hourly["running_frac"].to_numpy(float)
    unknown = np.isnan(r)
    r = np.where(unknown, 0.0, r)
    u = fleet_hourly["cpu_util_frac"].to_numpy(float)
    no_cpu = (r > 0) & np.isnan(u)
    use = (r > 0) & ~no_cpu
    p = np.where(use, power_w_from_profiles(fleet_hourly["instance_type"], u, profiles), 0.0)
    intensity = pd.DatetimeIndex(fleet_hourly["hour"]).map(intensity_g_per_kwh).to_numpy(float)
    energy_kwh = p * r * pue / WH_PER_KWH
    no_int = np.isnan(intensity)
    cost_usd = float((r * price).sum())
    return {
        "cost_usd": cost_usd,
        "cost_eur": cost_usd * eur_per_usd,
        "energy_kwh": float(energy_kwh.sum()),
        "co2_kg": float((energy_kwh[~no_int] * intensity[~no_int]).sum()) / G_PER_KG,
        "running_h": float(r.sum()),
        "running_h_without_cpu": float(r[no_cpu].sum()),
        "running_h_unknown": float(unknown.sum()),
        "energy_without_intensity_kwh": float(energy_kwh[no_int].sum()),
    }


def _prices(instance_type: pd.Series, usd_per_hour: Mapping[str, float]) -> np.ndarray:
    """List price per row; every type must have a non-NaN price. [USD/h]"""
    missing = sorted(set(instance_type) - set(usd_per_hour))
    if missing:
        raise KeyError(f"no list price for instance types {missing}")
    nan = sorted(t for t in set(instance_type) if pd.isna(usd_per_hour[t]))
    if nan:
        raise ValueError(f"list price is NaN for instance types {nan}")
    return instance_type.map(dict(usd_per_hour)).to_numpy(float)


def _check_fleet_hourly(df: pd.DataFrame) -> None:
    missing = [c for c in FLEET_HOURLY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"fleet-hourly table lacks columns {missing}")


# --------------------------------------------------------------------------- #
# Accounting and reporting helpers
# --------------------------------------------------------------------------- #
def hour_aligned_split(energy_kwh_hourly: pd.Series, intensity_g_per_kwh: pd.Series,
                       annual_mean_g_per_kwh: float) -> dict[str, float]:
    r"""
    Split hour-aligned vs annual-average CO₂e into hour-of-day alignment and season.

    ``1 + total = (1 + alignment)(1 + season)`` with
    total = Σ E_h I_h / (Σ E_h · Ī_annual) − 1,
    alignment = Σ E_h I_h / (Σ E_h · Ī_window) − 1 (when the fleet runs
    relative to the window's own mean) and season = Ī_window / Ī_annual − 1
    (whether the window is a dirtier or cleaner part of the year). Hours
    without intensity are left out of all three (like for like).

    Parameters
    ----------
    energy_kwh_hourly : pandas.Series
        Fleet energy by hour. [kWh]
    intensity_g_per_kwh : pandas.Series
        Hourly intensity. [gCO2e/kWh]
    annual_mean_g_per_kwh : float
        The annual factor compared against. [gCO2e/kWh]

    Returns
    -------
    dict
        ``hour_aligned_vs_annual_frac``, ``alignment_frac``, ``season_frac`` [-],
        ``window_mean_intensity_g_per_kwh``, ``annual_mean_intensity_g_per_kwh``,
        ``hour_aligned_co2_g``, ``annual_average_co2_g`` [gCO2e].
    """
    from finops_lib.calc.carbon import hour_aligned_vs_average

    total = hour_aligned_vs_average(energy_kwh_hourly, intensity_g_per_kwh, missing="skip",
                                    mean_intensity_g_per_kwh=annual_mean_g_per_kwh)  # fmt: skip
    window = hour_aligned_vs_average(energy_kwh_hourly, intensity_g_per_kwh, missing="skip")
    return {"hour_aligned_vs_annual_frac": total["relative_difference_frac"],
            "alignment_frac": window["relative_difference_frac"],
            "season_frac": window["mean_intensity_g_per_kwh"] / annual_mean_g_per_kwh - 1,
            "window_mean_intensity_g_per_kwh": window["mean_intensity_g_per_kwh"],
            "annual_mean_intensity_g_per_kwh": float(annual_mean_g_per_kwh),
            "hour_aligned_co2_g": total["hour_aligned_co2_g"], "annual_average_co2_g": total["average_factor_co2_g"]}


#: Outputs of the scenario summary as (column prefix, metric stem, unit suffix).
_SUMMARY_OUTPUTS = (("cost_eur", "cost", "eur"), ("co2_kg", "co2", "kg"), ("energy_kwh", "energy", "kwh"))


def scenario_metrics(summary: pd.DataFrame, savings: pd.DataFrame, quantiles=("q05", "q50", "q95")) -> dict:
    """
    ``metrics.json`` keys of the scenario tables (notebook 03).

    Parameters
    ----------
    summary : pandas.DataFrame
        Index = scenario; columns ``<output>_<q>`` (e.g. ``co2_kg_q50``).
    savings : pandas.DataFrame
        Index = scenario; columns ``<output>_<q>`` of relative savings.

    Returns
    -------
    dict
        ``<scenario>_<stem>_<q>_<unit>`` (e.g. ``baseline_co2_q50_kg``,
        ``office_hours_cost_q05_eur``) and
        ``<scenario>_saving_<stem>_<q>_frac`` (e.g. ``combined_saving_co2_q50_frac``).
    """
    out = {}
    for k in summary.index:
        for col, stem, unit in _SUMMARY_OUTPUTS:
            out |= {f"{k}_{stem}_{q}_{unit}": float(summary.loc[k, f"{col}_{q}"]) for q in quantiles}
    for k in savings.index:
        for col, stem, _ in _SUMMARY_OUTPUTS[:2]:
            out |= {f"{k}_saving_{stem}_{q}_frac": float(savings.loc[k, f"{col}_{q}"]) for q in quantiles}
    return out


def job_level_shift_saving(plan: pd.DataFrame, fleet_hourly: pd.DataFrame, profiles: pd.DataFrame,
                           intensity_g_per_kwh: pd.Series) -> dict[str, float]:
    r"""
    CO₂e saving of the flexible jobs themselves (job level), from a shift plan.

    Job-level literature figures (e.g. 15-35 % for temporal shifting) are
    relative to the shifted jobs' own emissions, not the fleet's; compare
    like with like. Each job's hourly IT energy (at its original hours) is
    weighed with the realised intensity at its original and its planned
    hours.

    Parameters
    ----------
    plan : pandas.DataFrame
        :func:`apply_carbon_aware_shift` plan (``instance_id``,
        ``original_start``, ``duration_h``, ``best_start``).
    fleet_hourly : pandas.DataFrame
        The fleet-hourly table *before* the shift.
    profiles : pandas.DataFrame
    intensity_g_per_kwh : pandas.Series
        Realised intensity. [gCO2e/kWh]

    Returns
    -------
    dict
        ``job_saving_co2_frac`` = 1 − Σ CO₂e at planned hours / Σ CO₂e at
        original hours over all jobs with complete data; ``job_co2_original_g``,
        ``job_co2_planned_g`` [gCO2e]; ``jobs_count``, ``moved_jobs_count``.
    """
    fh = fleet_hourly.set_index(["instance_id", "hour"])
    s = _complete_hourly(intensity_g_per_kwh)
    before = after = 0.0
    n = 0
    for job in plan.itertuples(index=False):
        d = int(job.duration_h)
        old = pd.date_range(pd.Timestamp(job.original_start), periods=d, freq="h")
        new = pd.date_range(pd.Timestamp(job.best_start), periods=d, freq="h")
        rows = fh.reindex([(job.instance_id, h) for h in old])
        e = power_w_from_profiles(rows["instance_type"], rows["cpu_util_frac"], profiles) * rows["running_frac"].to_numpy()
        i_old, i_new = s.reindex(old).to_numpy(float), s.reindex(new).to_numpy(float)
        if np.isnan(e).any() or np.isnan(i_old).any() or np.isnan(i_new).any():
            continue
        before += float(e @ i_old) / WH_PER_KWH
        after += float(e @ i_new) / WH_PER_KWH
        n += 1
    moved = int((plan["reason"] == "moved").sum()) if "reason" in plan else 0
    return {"job_saving_co2_frac": 1 - after / before if before > 0 else float("nan"),
            "job_co2_original_g": before, "job_co2_planned_g": after, "jobs_count": n, "moved_jobs_count": moved}
