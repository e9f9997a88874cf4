"""The integrated fleet view of one snapshot: footprint, totals, business case, recommendations.

What the fleet report (notebook 04) and the start-here notebook (00) show, as
functions with tests, so a notebook cell is a call, a display or a plot. The
functions combine :mod:`finops_lib.calc` (pure calculations) over the tables
of one :class:`finops_lib.snapshot.Snapshot` already in memory; none does I/O.

Conventions (DESIGN.md): all times UTC, an hour column marks the start of its
hour; units in names; gaps stay NaN and are counted, never filled.
Extrapolations to a year scale the window linearly
(``value · H_PER_YEAR / window_h``): they assume the window is representative
of the year (no growth, no seasonality) -- the report says so beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from finops_lib import calc, factors
from finops_lib.calc import scenarios, uncertainty
from finops_lib.constants import G_PER_KG, H_PER_DAY, H_PER_YEAR, KG_PER_T, S_PER_H

#: The measures of the thesis design, in report order (``combined`` = all three).
MEASURES = ("office_hours", "carbon_aware_shift", "rightsizing", "combined")
#: Human-readable names of the measures.
MEASURE_LABELS = {
    "office_hours": "Office hours (Mon-Fri 08-18 Berlin)",
    "carbon_aware_shift": "Carbon-aware shifting of flexible jobs",
    "rightsizing": "Rightsizing from CPU p95",
    "combined": "All three combined",
}
#: Coverage at or above this is "good", at or above ``COVERAGE_FAIR_FRAC`` "fair", else "poor". [-]
COVERAGE_GOOD_FRAC = 0.95
COVERAGE_FAIR_FRAC = 0.80


#: What one row of each snapshot table is (DESIGN.md, "Snapshot contract").
TABLE_ROWS = {
    "instances": "instance seen in the window (type, lifecycle, tags as JSON, vCPU, memory)",
    "state_events": "parsed state-change record (CloudTrail / EventBridge / describe)",
    "cpu_hourly": "instance x hour with CloudWatch data (mean and max CPU as fractions)",
    "prices": "instance type x region: on-demand list price",
    "costs": "Cost Explorer row: day (or hour) x usage type (or resource)",
    "intensity_hourly": "grid zone x hour: carbon intensity",
    "power_profiles": "instance type x load point: power (and embodied emissions per hour)",
    "truth_intervals": "sandbox only: true running interval (scoring, never estimation)",
    "truth_billing": "sandbox only: truly billed running period",
    "truth_hourly": "sandbox only: true running share, energy and CO2e per instance-hour",
    "truth_intensity": "sandbox only: true grid intensity per hour",
    "truth_factors": "sandbox only: the world's hidden factors (PUE, FX, ...)",
    "truth_cases": "sandbox only: the fault case of each instance",
}


def snapshot_tables(snap) -> pd.DataFrame:
    """What each table of a snapshot holds: one row per table with its row count and columns.

    Returns
    -------
    pandas.DataFrame
        Index ``table``; ``one_row_per``, ``rows_count``, ``columns``.
    """
    rows = []
    for name in sorted(snap.tables, key=lambda t: (t.startswith("truth_"), t)):
        df = snap[name]
        rows.append({"table": name, "one_row_per": TABLE_ROWS.get(name, "(not in the snapshot contract)"),
                     "rows_count": len(df), "columns": ", ".join(map(str, df.columns))})
    return pd.DataFrame(rows).set_index("table")


def window_hours(window_start, window_end) -> float:
    """Length of the window. [h]"""
    return (pd.Timestamp(window_end) - pd.Timestamp(window_start)).total_seconds() / S_PER_H


def per_year(value, window_h: float):
    """Linear extrapolation of a window total to a 365-day year: ``value · 8760 / window_h``.

    Assumes the window is representative of the year (no growth, no seasonality).
    """
    if not window_h > 0:
        raise ValueError(f"window_h must be > 0, got {window_h}")
    return value * H_PER_YEAR / window_h


def billed_daily_costs(costs: pd.DataFrame, window_start, window_end) -> pd.DataFrame:
    """Cost Explorer rows by day and usage type that start inside the window."""
    d = costs[(costs["granularity"] == "DAILY") & (costs["group_key"] == "USAGE_TYPE")]
    return d[(d["period_start"] >= window_start) & (d["period_start"] < window_end)]


# --------------------------------------------------------------------------- #
# Footprint of the observed fleet
# --------------------------------------------------------------------------- #
def fleet_hourly(snap, runtime_cloudwatch: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fleet-hourly table of a snapshot (runtime reconstructed from CloudTrail).

    Parameters
    ----------
    snap : finops_lib.snapshot.Snapshot
    runtime_cloudwatch : bool, default True
        Let CloudWatch datapoint presence locate stops CloudTrail misses.

    Returns
    -------
    fleet : pandas.DataFrame
        ``scenarios.fleet_hourly_table`` (instance_id, hour, instance_type,
        lifecycle, running_frac, cpu_util_frac).
    diagnostics : pandas.DataFrame
        From :func:`finops_lib.calc.running_intervals`.
    """
    instances, cpu = snap["instances"], snap["cpu_hourly"]
    ws, we = snap.window_start, snap.window_end
    intervals, diagnostics = calc.running_intervals(
        snap["state_events"], instances, ws, we, cpu_hourly=cpu if runtime_cloudwatch else None
    )
    frac = calc.hourly_running_fraction(intervals, ws, we, list(instances["instance_id"]))
    return scenarios.fleet_hourly_table(frac, cpu, instances), diagnostics


def footprint(fleet: pd.DataFrame, snap, pue: float, eur_per_usd: float, profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Point estimate per instance-hour: cost [EUR and USD], energy [kWh], CO2e [g].

    :func:`finops_lib.calc.scenarios.instance_hour_footprint` with the
    snapshot's list prices, power profiles and hourly intensity, plus
    ``cost_eur`` = ``cost_usd`` · ``eur_per_usd``.
    """
    profiles = snap["power_profiles"] if profiles is None else profiles
    fp = scenarios.instance_hour_footprint(fleet, profiles, snap.usd_per_hour(), snap.intensity(), pue)
    fp["cost_eur"] = calc.usd_to_eur(fp["cost_usd"], eur_per_usd)
    return fp


def _sum_or_nan(s: pd.Series) -> float:
    return s.sum(min_count=1)


def per_instance(fp: pd.DataFrame, instances: pd.DataFrame) -> pd.DataFrame:
    """One row per instance: type, role and name tags, running hours, cost, energy, CO2e.

    Returns
    -------
    pandas.DataFrame
        Index ``instance_id``; columns ``name``, ``role``, ``instance_type``,
        ``lifecycle``, ``running_h`` [h], ``cpu_mean_frac`` (mean over running
        hours with data) [-], ``cost_eur`` [EUR], ``energy_kwh`` [kWh],
        ``co2_kg`` [kg] (NaN when no running hour has a CPU datum),
        ``co2_g_per_eur`` [g/EUR], ``cpu_missing_h`` (running hours without a
        CPU datum, left out of energy) [h]. Sorted by cost, largest first.
    """
    run = fp["running_frac"] > 0
    g = fp.groupby("instance_id")
    out = pd.DataFrame({
        "instance_type": g["instance_type"].first(),
        "lifecycle": g["lifecycle"].first(),
        "running_h": g["running_frac"].sum(),
        "cpu_mean_frac": fp[run].groupby("instance_id")["cpu_util_frac"].mean(),
        "cost_eur": g["cost_eur"].sum(),
        "energy_kwh": g["energy_kwh"].agg(_sum_or_nan),
        "co2_kg": g["co2_g"].agg(_sum_or_nan) / G_PER_KG,
        "cpu_missing_h": fp[run & fp["cpu_util_frac"].isna()].groupby("instance_id")["running_frac"].sum(),
    })
    out["cpu_missing_h"] = out["cpu_missing_h"].fillna(0.0)  # no running hour without CPU: zero hours, not a gap
    with np.errstate(divide="ignore", invalid="ignore"):
        out["co2_g_per_eur"] = out["co2_kg"] * G_PER_KG / out["cost_eur"].where(out["cost_eur"] > 0)
    tags = scenarios.instance_tags(instances)
    out.insert(0, "role", tags["role"].reindex(out.index) if "role" in tags else pd.NA)
    out.insert(0, "name", tags["Name"].reindex(out.index) if "Name" in tags else pd.NA)
    return out.rename_axis("instance_id").sort_values("cost_eur", ascending=False)


def hourly(fp: pd.DataFrame) -> pd.DataFrame:
    """Fleet cost [EUR/h], energy [kWh/h] and CO2e [kg/h] per hour.

    CO2e of an hour is NaN only when no instance-hour of it has a value (e.g.
    no intensity); partial gaps are counted in :func:`totals`.
    """
    g = fp.groupby("hour")
    return pd.DataFrame({
        "cost_eur": g["cost_eur"].sum(),
        "energy_kwh": g["energy_kwh"].agg(_sum_or_nan),
        "co2_kg": g["co2_g"].agg(_sum_or_nan) / G_PER_KG,
    })


def totals(fp: pd.DataFrame, snap, pairs: pd.DataFrame, last_h: int = 48) -> dict:
    """Window totals, coverage and grid status of a footprint; the fleet report's metric keys.

    Parameters
    ----------
    fp : pandas.DataFrame
        From :func:`footprint`.
    snap : finops_lib.snapshot.Snapshot
    pairs : pandas.DataFrame
        Day x instance type pairs with ``calculated_usd`` and ``billed_usd``
        (``calc.daily_compute_comparison``, rows with both values).
    last_h : int, default 48
        Hours of the "recent" grid status. [h]

    Returns
    -------
    dict
        ``total_cost_eur``, ``total_energy_kwh``, ``total_co2_kg``,
        ``total_running_h``, ``running_h_without_cpu_h``,
        ``validation_factor_ratio`` (Cost Explorer / calculated),
        ``time_alignment_coverage_frac``, ``cpu_data_coverage_frac``,
        ``intensity_data_coverage_frac``, ``grid_latest_g_per_kwh``,
        ``grid_mean_last_g_per_kwh``, ``grid_min_last_g_per_kwh``,
        ``grid_max_last_g_per_kwh``, ``instances_count``, ``window_h``,
        ``energy_without_intensity_kwh`` (left out of CO2e),
        ``cpu_running_coverage_frac`` (running hours with a CPU datum /
        running hours), ``annual_cost_eur``, ``annual_co2_t``.
    """
    ws, we = snap.window_start, snap.window_end
    intensity = snap.intensity()
    ih = snap["intensity_hourly"]
    recent = intensity.iloc[-last_h:]
    cost_hours = fp.dropna(subset=["cost_eur"])["hour"].unique()  # a known cost, idle hours (0 EUR) included
    wh = window_hours(ws, we)
    out = {
        "total_cost_eur": float(fp["cost_eur"].sum()),
        "total_energy_kwh": float(fp["energy_kwh"].sum()),
        "total_co2_kg": float(fp["co2_g"].sum()) / G_PER_KG,
        "total_running_h": float(fp["running_frac"].sum()),
        "running_h_without_cpu_h": float(fp.loc[(fp["running_frac"] > 0) & fp["cpu_util_frac"].isna(), "running_frac"].sum()),
        "energy_without_intensity_kwh": float(fp.loc[fp["co2_g"].isna(), "energy_kwh"].sum()),
        "validation_factor_ratio": (calc.validation_factor(pairs["calculated_usd"], pairs["billed_usd"])
                                    if len(pairs) else float("nan")),
        "time_alignment_coverage_frac": calc.time_alignment_coverage(cost_hours, intensity.dropna().index, ws, we),
        "cpu_data_coverage_frac": calc.data_coverage(snap["cpu_hourly"], "hour", ws, we, key_col="instance_id"),
        "intensity_data_coverage_frac": calc.data_coverage(ih[ih["zone"] == snap.zone], "hour", ws, we),
        "grid_latest_g_per_kwh": float(intensity.iloc[-1]) if len(intensity) else float("nan"),
        "grid_mean_last_g_per_kwh": float(recent.mean()),
        "grid_min_last_g_per_kwh": float(recent.min()),
        "grid_max_last_g_per_kwh": float(recent.max()),
        "instances_count": int(snap["instances"]["instance_id"].nunique()),
        "window_h": wh,
    }
    out["cpu_running_coverage_frac"] = (1 - out["running_h_without_cpu_h"] / out["total_running_h"]
                                        if out["total_running_h"] > 0 else float("nan"))
    out["annual_cost_eur"] = per_year(out["total_cost_eur"], wh)
    out["annual_co2_t"] = per_year(out["total_co2_kg"], wh) / KG_PER_T
    return out


def period_change(hourly_df: pd.DataFrame, window_start, window_end, period_days: int = 7) -> dict:
    """Change of cost and CO2e in the last ``period_days`` against the ``period_days`` before.

    Periods are whole weeks by default, so both hold the same weekdays
    (office-hours fleets have a weekly pattern). Where the window is shorter
    than two periods there is no previous period: the changes are NaN and
    ``reason`` says why (no value is invented).

    Returns
    -------
    dict
        ``cost_change_frac``, ``co2_change_frac`` ((last - previous) /
        previous) [-], ``period_days``, ``reason`` (None when computed).
    """
    we = pd.Timestamp(window_end)
    p = pd.Timedelta(days=period_days)
    if pd.Timestamp(window_start) > we - 2 * p:
        wd = window_hours(window_start, window_end) / H_PER_DAY
        return {"cost_change_frac": float("nan"), "co2_change_frac": float("nan"), "period_days": period_days,
                "reason": f"window of {wd:g} days is shorter than two {period_days}-day periods"}
    idx = hourly_df.index
    last = hourly_df[(idx >= we - p) & (idx < we)]
    prev = hourly_df[(idx >= we - 2 * p) & (idx < we - p)]
    out = {"period_days": period_days, "reason": None}
    for col, key in (("cost_eur", "cost_change_frac"), ("co2_kg", "co2_change_frac")):
        a, b = last[col].sum(min_count=1), prev[col].sum(min_count=1)
        out[key] = float((a - b) / b) if b and not np.isnan(b) else float("nan")
    return out


def report_metrics(totals_: Mapping, change: Mapping, case: pd.DataFrame | None = None) -> dict:
    """The fleet report's ``metrics.json`` keys: :func:`totals`, the period change, the business case."""
    out = dict(totals_)
    out["cost_change_prev_period_frac"] = change["cost_change_frac"]
    out["co2_change_prev_period_frac"] = change["co2_change_frac"]
    if case is not None:
        out |= business_case_metrics(case)
    return out


def coverage_level(frac: float) -> str:
    """``good`` / ``fair`` / ``poor`` for a coverage fraction (``n/a`` for NaN)."""
    if frac is None or np.isnan(frac):
        return "n/a"
    if frac >= COVERAGE_GOOD_FRAC:
        return "good"
    return "fair" if frac >= COVERAGE_FAIR_FRAC else "poor"


# --------------------------------------------------------------------------- #
# Scenarios and the business case
# --------------------------------------------------------------------------- #
def scenario_tables(
    base: pd.DataFrame,
    instances: pd.DataFrame,
    intensity_g_per_kwh: pd.Series,
    profiles: pd.DataFrame,
    usd_per_hour: Mapping[str, float],
    office_hours_roles: Iterable[str] = ("office_hours", "variable"),
    shift_window_h: int = 24,
    rightsize_quantile: float = 0.95,
    rightsize_target_util_frac: float = 0.6,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """The fleet-hourly tables of the baseline and the four measures (thesis design).

    office hours: the instances whose ``role`` tag is in ``office_hours_roles``
    run only Mon-Fri 08-18 Europe/Berlin; carbon-aware shifting: flexible jobs
    move into their greenest window before the deadline; rightsizing: each
    instance gets the cheapest type of its family carrying its CPU quantile
    (only types with a power curve and a list price); combined: rightsizing,
    then office hours, then shifting.

    Returns
    -------
    tables : dict
        ``baseline``, ``office_hours``, ``carbon_aware_shift``,
        ``rightsizing``, ``combined`` -> fleet-hourly table.
    plans : dict
        ``office_ids`` (list), ``jobs``, ``shift`` (plan of the shift),
        ``rightsizing`` (plan, see ``scenarios.rightsizing_plan``).
    """
    tags = scenarios.instance_tags(instances)
    roles = list(office_hours_roles)
    office_ids = list(tags.index[tags["role"].isin(roles).fillna(False)]) if "role" in tags else []
    have_curve = set(profiles["instance_type"]) & set(usd_per_hour)
    catalog = {t: v for t, v in factors.INSTANCE_CATALOG.items() if t in have_curve}
    plan_rs = scenarios.rightsizing_plan(base, rightsize_quantile, rightsize_target_util_frac, catalog)
    jobs = scenarios.flexible_jobs(base, instances, window_h=shift_window_h)
    shifted, plan_shift = scenarios.apply_carbon_aware_shift(base, jobs, intensity_g_per_kwh)
    combined = scenarios.apply_office_hours(scenarios.apply_rightsizing(base, plan_rs), office_ids)
    combined, _ = scenarios.apply_carbon_aware_shift(
        combined, scenarios.flexible_jobs(combined, instances, shift_window_h), intensity_g_per_kwh
    )
    tables = {
        "baseline": base,
        "office_hours": scenarios.apply_office_hours(base, office_ids),
        "carbon_aware_shift": shifted,
        "rightsizing": scenarios.apply_rightsizing(base, plan_rs),
        "combined": combined,
    }
    return tables, {"office_ids": office_ids, "jobs": jobs, "shift": plan_shift, "rightsizing": plan_rs}


def scenario_monte_carlo(
    tables: Mapping[str, pd.DataFrame],
    profiles: pd.DataFrame,
    usd_per_hour: Mapping[str, float],
    intensity_g_per_kwh: pd.Series,
    n_draws: int,
    seed: int,
    *,
    intensity_is_estimated: pd.Series | None = None,
    model_profiles: pd.DataFrame | None = None,
) -> dict[str, uncertainty.MonteCarloResult]:
    """One Monte Carlo per table with common random numbers (same ``seed`` and ``n_draws``).

    ``intensity_is_estimated`` and ``model_profiles`` as in
    :func:`~finops_lib.calc.uncertainty.fleet_aggregates` (pass them, as notebook 03 does, or the
    estimated-intensity prior and the power model-form span are left out and the intervals are narrower).
    """
    return {
        k: uncertainty.monte_carlo(uncertainty.fleet_aggregates(t, profiles, usd_per_hour, intensity_g_per_kwh,
                                                                intensity_is_estimated=intensity_is_estimated,
                                                                model_profiles=model_profiles), n_draws, seed)
        for k, t in tables.items()
    }


def scenario_summary(mcs: Mapping[str, uncertainty.MonteCarloResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quantiles of each scenario's totals, and its relative savings against ``baseline``.

    Returns
    -------
    summary : pandas.DataFrame
        Index = scenario; columns ``<output>_<q>`` (``cost_eur_q05``, ...,
        ``co2_kg_q95``, ``energy_kwh_q50``, ...), in the outputs' units.
    savings : pandas.DataFrame
        Index = scenario other than baseline; the same columns as relative
        savings (1 - scenario/baseline, draw by draw). [-]

    ``report.scenario_metrics(summary, savings)`` turns both into metric keys.
    """
    summary = pd.DataFrame({k: mc.quantiles().stack() for k, mc in mcs.items()}).T
    summary.columns = [f"{o}_{q}" for o, q in summary.columns]
    savings = pd.DataFrame({k: uncertainty.savings_frac(mcs["baseline"], mc).stack()
                            for k, mc in mcs.items() if k != "baseline"}).T
    savings.columns = [f"{o}_{q}" for o, q in savings.columns]
    return summary, savings


def savings_quantiles(base: uncertainty.MonteCarloResult, scenario: uncertainty.MonteCarloResult,
                      quantiles=uncertainty.QUANTILES) -> pd.DataFrame:
    """Absolute savings (base - scenario) per draw, summarised as quantiles.

    Returns
    -------
    pandas.DataFrame
        Index = output (``energy_kwh``, ``co2_kg``, ``cost_usd``,
        ``cost_eur``); columns ``q05``, ``q50``, ``q95``; in the output's unit.

    Raises
    ------
    ValueError
        If the two runs did not use the same factor draws.
    """
    uncertainty.savings_frac(base, scenario, quantiles)  # raises without common random numbers
    s = base.draws[list(uncertainty.OUTPUTS)] - scenario.draws[list(uncertainty.OUTPUTS)]
    q = s.quantile(list(quantiles)).T
    q.columns = [f"q{round(x * 100):02d}" for x in quantiles]
    return q


def business_case(mcs: Mapping[str, uncertainty.MonteCarloResult], window_h: float) -> pd.DataFrame:
    """Savings potential per measure per year, with 5/50/95 % intervals.

    Savings are taken draw by draw against the baseline (common random
    numbers) and extrapolated linearly from the window to a year.

    Returns
    -------
    pandas.DataFrame
        Index = measure (:data:`MEASURES` present in ``mcs``); columns
        ``cost_eur_per_year_q05/q50/q95`` [EUR/a],
        ``co2_t_per_year_q05/q50/q95`` [t/a] and ``cost_frac_q50``,
        ``co2_frac_q50`` (median relative saving) [-].
    """
    rows = {}
    base = mcs["baseline"]
    for m in (m for m in MEASURES if m in mcs):
        a = savings_quantiles(base, mcs[m])
        f = uncertainty.savings_frac(base, mcs[m])
        row = {f"cost_eur_per_year_{q}": per_year(a.loc["cost_eur", q], window_h) for q in a.columns}
        row |= {f"co2_t_per_year_{q}": per_year(a.loc["co2_kg", q], window_h) / KG_PER_T for q in a.columns}
        row |= {"cost_frac_q50": f.loc["cost_eur", "q50"], "co2_frac_q50": f.loc["co2_kg", "q50"]}
        rows[m] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measure")


def business_case_metrics(case: pd.DataFrame) -> dict:
    """Metric keys of :func:`business_case`: ``annual_saving_<measure>_cost_<q>_eur``,
    ``annual_saving_<measure>_co2_<q>_t``, ``saving_<measure>_cost_q50_frac``,
    ``saving_<measure>_co2_q50_frac``."""
    out = {}
    for m, row in case.iterrows():
        for q in ("q05", "q50", "q95"):
            out[f"annual_saving_{m}_cost_{q}_eur"] = float(row[f"cost_eur_per_year_{q}"])
            out[f"annual_saving_{m}_co2_{q}_t"] = float(row[f"co2_t_per_year_{q}"])
        out[f"saving_{m}_cost_q50_frac"] = float(row["cost_frac_q50"])
        out[f"saving_{m}_co2_q50_frac"] = float(row["co2_frac_q50"])
    return out


# --------------------------------------------------------------------------- #
# Recommendations
# --------------------------------------------------------------------------- #
def _instance_delta(base_fp: pd.DataFrame, scen_fp: pd.DataFrame) -> pd.DataFrame:
    b = base_fp.groupby("instance_id")[["cost_eur", "co2_g"]].sum()
    s = scen_fp.groupby("instance_id")[["cost_eur", "co2_g"]].sum()
    return (b - s.reindex(b.index).fillna(0.0)).rename(columns={"cost_eur": "saved_eur", "co2_g": "saved_co2_g"})


def schedule_recommendations(
    base_fp: pd.DataFrame, office_fp: pd.DataFrame, office_ids: Iterable[str], instances: pd.DataFrame, window_h: float,
    min_off_h_per_week: float = 4.0,
) -> pd.DataFrame:
    """Instances to put on office hours, by € saved per year (point estimate).

    Candidates are the instances chosen by role (``office_ids``, see
    :func:`scenario_tables`). An instance that already (almost) runs only in
    office hours -- fewer than ``min_off_h_per_week`` running hours per week
    outside them -- is left out: there is nothing worth scheduling.

    Returns
    -------
    pandas.DataFrame
        Index ``instance_id``; ``name``, ``role``, ``schedule_tag`` (the
        instance's ``Schedule`` tag), ``instance_type``, ``off_h_per_week``
        (running hours removed, per 7 days) [h], ``saved_eur_per_year``
        [EUR/a], ``saved_co2_kg_per_year`` [kg/a]; sorted by € saved.
    """
    ids = list(office_ids)
    d = _instance_delta(base_fp[base_fp["instance_id"].isin(ids)], office_fp[office_fp["instance_id"].isin(ids)])
    run_b = base_fp[base_fp["instance_id"].isin(ids)].groupby("instance_id")["running_frac"].sum()
    run_o = office_fp[office_fp["instance_id"].isin(ids)].groupby("instance_id")["running_frac"].sum()
    tags = scenarios.instance_tags(instances)
    types = instances.drop_duplicates("instance_id").set_index("instance_id")["instance_type"]
    out = pd.DataFrame({
        "name": tags.get("Name", pd.Series(pd.NA, index=tags.index)).reindex(d.index),
        "role": tags.get("role", pd.Series(pd.NA, index=tags.index)).reindex(d.index),
        "schedule_tag": tags.get("Schedule", pd.Series(pd.NA, index=tags.index)).reindex(d.index),
        "instance_type": types.reindex(d.index),
        "off_h_per_week": (run_b - run_o.reindex(run_b.index).fillna(0.0)).reindex(d.index) * 7 * H_PER_DAY / window_h,
        "saved_eur_per_year": per_year(d["saved_eur"], window_h),
        "saved_co2_kg_per_year": per_year(d["saved_co2_g"], window_h) / G_PER_KG,
    })
    out = out[(out["saved_eur_per_year"] > 0) & (out["off_h_per_week"] >= min_off_h_per_week)]
    return out.rename_axis("instance_id").sort_values("saved_eur_per_year", ascending=False)


def rightsizing_recommendations(
    base_fp: pd.DataFrame,
    rightsized_fp: pd.DataFrame,
    plan: pd.DataFrame,
    cpu_hourly: pd.DataFrame,
    window_h: float,
    catalog: Mapping = factors.INSTANCE_CATALOG,
    min_cpu_coverage_frac: float = 0.5,
) -> pd.DataFrame:
    """Instances to move to a smaller type, by € saved per year, each with a risk flag.

    Risk (what CloudWatch cannot show is a risk, not a pass):

    * ``high`` -- the highest hourly *peak* CPU seen (``cpu_util_max_frac``)
      times the vCPU ratio exceeds 100 % (the new type would have
      saturated), or fewer than ``min_cpu_coverage_frac`` of the running
      hours have a CPU datum;
    * ``medium`` -- otherwise, when the new type has less memory (memory use
      is not measured by default CloudWatch);
    * ``low`` -- otherwise.

    Returns
    -------
    pandas.DataFrame
        Index ``instance_id``; ``instance_type``, ``new_type``,
        ``cpu_p95_frac``, ``peak_after_frac`` (peak CPU on the new type)
        [-], ``memory_after_frac`` (new/old memory) [-],
        ``saved_eur_per_year`` [EUR/a], ``saved_co2_kg_per_year`` [kg/a],
        ``risk``, ``risk_reason``; only resized instances; sorted by € saved.
    """
    p = plan[plan["new_type"] != plan["instance_type"]].set_index("instance_id")
    if p.empty:
        cols = ["instance_type", "new_type", "cpu_p95_frac", "peak_after_frac", "memory_after_frac",
                "saved_eur_per_year", "saved_co2_kg_per_year", "risk", "risk_reason"]
        return pd.DataFrame(columns=cols).rename_axis("instance_id")
    ids = list(p.index)
    d = _instance_delta(base_fp[base_fp["instance_id"].isin(ids)], rightsized_fp[rightsized_fp["instance_id"].isin(ids)])
    run = base_fp[(base_fp["running_frac"] > 0) & base_fp["instance_id"].isin(ids)]
    running_h = run.groupby("instance_id")["running_frac"].size()
    with_cpu = run.dropna(subset=["cpu_util_frac"]).groupby("instance_id").size()
    coverage = (with_cpu.reindex(running_h.index).fillna(0) / running_h).reindex(ids)
    peak = cpu_hourly[cpu_hourly["instance_id"].isin(ids)].groupby("instance_id")["cpu_util_max_frac"].max().reindex(ids)
    out = p[["instance_type", "new_type", "cpu_p95_frac"]].copy()
    out["peak_after_frac"] = peak * p["vcpu_ratio"]
    out["memory_after_frac"] = [catalog[n]["memory_gib"] / catalog[o]["memory_gib"]
                                for o, n in zip(p["instance_type"], p["new_type"], strict=True)]
    out["saved_eur_per_year"] = per_year(d["saved_eur"].reindex(ids), window_h)
    out["saved_co2_kg_per_year"] = per_year(d["saved_co2_g"].reindex(ids), window_h) / G_PER_KG
    risk, reason = [], []
    for iid in ids:
        pk, cov, mem = out.loc[iid, "peak_after_frac"], coverage.get(iid, np.nan), out.loc[iid, "memory_after_frac"]
        if not cov >= min_cpu_coverage_frac:
            risk.append("high")
            reason.append(f"CPU data for only {cov:.0%} of running hours" if not np.isnan(cov) else "no CPU data")
        elif not pk <= 1.0:
            risk.append("high")
            reason.append("peak CPU would saturate the new type" if not np.isnan(pk) else "peak CPU unknown")
        elif mem < 1.0:
            risk.append("medium")
            reason.append(f"memory x{mem:g}; memory use is not measured")
        else:
            risk.append("low")
            reason.append("CPU peak fits, memory kept")
    out["risk"], out["risk_reason"] = risk, reason
    return out.rename_axis("instance_id").sort_values("saved_eur_per_year", ascending=False)
