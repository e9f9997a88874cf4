"""Rightsizing recommendations (``finops recommend SNAPSHOT``) from the scenario functions.

The plan is :func:`finops_lib.calc.scenarios.rightsizing_plan` and the
footprints are :func:`finops_lib.calc.scenarios.instance_hour_footprint` of
the baseline and of :func:`~finops_lib.calc.scenarios.apply_rightsizing` --
the same code ``03-simulate-scenarios`` runs, so a recommendation and the
scenario agree by construction. Monthly figures scale the window to a month
of :data:`H_PER_MONTH` hours.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from finops_lib import calc, factors
from finops_lib.calc import scenarios
from finops_lib.constants import G_PER_KG, H_PER_YEAR

#: Hours of an average month. [h]
H_PER_MONTH = H_PER_YEAR / 12
RISK_LEVELS = ("none", "low", "medium", "high", "no_data")


def risk_flag(cpu_p95_after_frac: float, cpu_max_after_frac: float, memory_ratio: float,
              target_util_frac: float) -> tuple[str, str]:
    """Risk of a resize from the load it would carry and the memory it removes.

    ``high``: the observed hourly maximum would exceed the new vCPUs (> 100 %);
    ``medium``: p95 above the target, or memory shrinks (memory use is not
    observed: CloudWatch has no memory metric by default); ``low`` otherwise.
    """
    if np.isnan(cpu_p95_after_frac):
        return "no_data", "no CPU data"
    if not np.isnan(cpu_max_after_frac) and cpu_max_after_frac > 1.0:
        return "high", f"hourly max CPU would be {cpu_max_after_frac:.0%} of the new vCPUs"
    reasons = []
    if cpu_p95_after_frac > target_util_frac:
        reasons.append(f"p95 CPU {cpu_p95_after_frac:.0%} above target {target_util_frac:.0%}")
    if memory_ratio < 1:
        reasons.append(f"memory x{memory_ratio:g}, memory use not observed")
    return ("medium", "; ".join(reasons)) if reasons else ("low", "fits CPU and memory")


def recommend(
    fleet_hourly: pd.DataFrame,
    cpu_hourly: pd.DataFrame,
    profiles: pd.DataFrame,
    usd_per_hour: Mapping[str, float],
    intensity_g_per_kwh: pd.Series,
    *,
    quantile: float = 0.95,
    target_util_frac: float = 0.6,
    pue: float = factors.PUE["aws_eu_central_1_2024"]["value"],
    eur_per_usd: float = factors.EUR_PER_USD["value"],
    catalog: Mapping = factors.INSTANCE_CATALOG,
) -> pd.DataFrame:
    """One row per instance: current and proposed type, EUR and kg CO2e per month, risk.

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        :func:`finops_lib.calc.scenarios.fleet_hourly_table` of the window.
    cpu_hourly : pandas.DataFrame
        Snapshot ``cpu_hourly`` (``cpu_util_max_frac`` gives the peak). [-]
    profiles, usd_per_hour, intensity_g_per_kwh
        As for :func:`~finops_lib.calc.scenarios.instance_hour_footprint`.
        Only types with both a power curve and a price are proposed.

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``current_type``, ``proposed_type``, ``cpu_p95_frac``,
        ``cpu_max_frac``, ``cpu_p95_after_frac``, ``cpu_max_after_frac``,
        ``memory_gib_current``, ``memory_gib_proposed``, ``running_h_per_month``,
        ``cost_eur_per_month``, ``proposed_cost_eur_per_month``,
        ``saving_eur_per_month``, ``co2_kg_per_month``,
        ``proposed_co2_kg_per_month``, ``saving_co2_kg_per_month``,
        ``co2_gap_h`` (running hours without CPU or intensity: not in CO2e),
        ``risk`` (:data:`RISK_LEVELS`), ``risk_reason``.
    """
    have = set(profiles["instance_type"]) & set(usd_per_hour)
    cat = {t: v for t, v in catalog.items() if t in have}
    plan = scenarios.rightsizing_plan(fleet_hourly, quantile, target_util_frac, cat)
    window_h = fleet_hourly["hour"].nunique()
    scale = H_PER_MONTH / window_h if window_h else np.nan
    fp = {k: scenarios.instance_hour_footprint(t, profiles, usd_per_hour, intensity_g_per_kwh, pue)
          for k, t in (("now", fleet_hourly), ("new", scenarios.apply_rightsizing(fleet_hourly, plan)))}
    agg = {k: f.groupby("instance_id").agg(cost_usd=("cost_usd", "sum"), co2_g=("co2_g", "sum"),
                                          running_h=("running_frac", "sum"),
                                          gap_h=("co2_g", lambda s: float(s.isna().sum())))
           for k, f in fp.items()}
    peak = cpu_hourly.groupby("instance_id")["cpu_util_max_frac"].max()
    p = plan.set_index("instance_id")
    out = pd.DataFrame({"current_type": p["instance_type"], "proposed_type": p["new_type"],
                        "cpu_p95_frac": p["cpu_p95_frac"], "cpu_max_frac": peak.reindex(p.index)})
    out["cpu_p95_after_frac"] = out["cpu_p95_frac"] * p["vcpu_ratio"]
    out["cpu_max_after_frac"] = out["cpu_max_frac"] * p["vcpu_ratio"]
    out["memory_gib_current"] = [catalog[t]["memory_gib"] for t in out["current_type"]]
    out["memory_gib_proposed"] = [catalog[t]["memory_gib"] for t in out["proposed_type"]]
    out["running_h_per_month"] = agg["now"]["running_h"] * scale
    out["cost_eur_per_month"] = agg["now"]["cost_usd"] * eur_per_usd * scale
    out["proposed_cost_eur_per_month"] = agg["new"]["cost_usd"] * eur_per_usd * scale
    out["saving_eur_per_month"] = out["cost_eur_per_month"] - out["proposed_cost_eur_per_month"]
    out["co2_kg_per_month"] = agg["now"]["co2_g"] / G_PER_KG * scale
    out["proposed_co2_kg_per_month"] = agg["new"]["co2_g"] / G_PER_KG * scale
    out["saving_co2_kg_per_month"] = out["co2_kg_per_month"] - out["proposed_co2_kg_per_month"]
    out["co2_gap_h"] = agg["now"]["gap_h"]
    risks = []
    for r in out.itertuples():
        if r.proposed_type == r.current_type:
            risks.append(("none", "no change") if not np.isnan(r.cpu_p95_frac) else ("no_data", "no CPU data"))
        else:
            risks.append(risk_flag(r.cpu_p95_after_frac, r.cpu_max_after_frac,
                                   r.memory_gib_proposed / r.memory_gib_current, target_util_frac))
    out["risk"] = [a for a, _ in risks]
    out["risk_reason"] = [b for _, b in risks]
    return out.rename_axis("instance_id").reset_index().sort_values(
        ["saving_eur_per_month", "instance_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def recommend_from_snapshot(snap, *, quantile: float = 0.95, target_util_frac: float = 0.6,
                            profile_source: str = "snapshot") -> pd.DataFrame:
    """:func:`recommend` on a snapshot, with the fleet-hourly table built as ``03-simulate-scenarios`` does
    (runtime from CloudTrail + CloudWatch datapoints)."""
    ws, we = snap.window_start, snap.window_end
    instances, events, cpu_hourly = snap["instances"], snap["state_events"], snap["cpu_hourly"]
    intervals, _ = calc.running_intervals(events, instances, ws, we, cpu_hourly=cpu_hourly)
    frac = calc.hourly_running_fraction(intervals, ws, we, list(instances["instance_id"]))
    base = scenarios.fleet_hourly_table(frac, cpu_hourly, instances)
    profiles = snap["power_profiles"] if profile_source == "snapshot" else \
        calc.ccf_power_profile(factors.INSTANCE_CATALOG)  # fmt: skip
    return recommend(base, cpu_hourly, profiles, snap.usd_per_hour(), snap.intensity(), quantile=quantile,
                     target_util_frac=target_util_frac)
