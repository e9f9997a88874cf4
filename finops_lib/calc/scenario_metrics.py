"""Tables and ``metrics.json`` keys of the scenario notebook (03), assembled here, not in cells.

Pure functions: each takes the library's own results (Monte Carlo runs, shift
and rightsizing plans, power-model comparison) and returns a table or a
``dict`` of metric keys. Units are in each key's suffix (``_kg``, ``_frac``,
``_h``, ``_count``, ...). Missing data stays NaN with a reason, never a
partial sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from finops_lib.calc import uncertainty
from finops_lib.constants import G_PER_KG


def _wide(per_scenario: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    out = pd.DataFrame({k: q.stack() for k, q in per_scenario.items()}).T
    out.columns = [f"{o}_{q}" for o, q in out.columns]
    return out


def summary_table(mcs: Mapping[str, uncertainty.MonteCarloResult]) -> pd.DataFrame:
    """Quantiles of every output per scenario.

    Parameters
    ----------
    mcs : mapping of str to uncertainty.MonteCarloResult
        Monte Carlo run per scenario.

    Returns
    -------
    pandas.DataFrame
        Index = scenario; columns ``<output>_<q>`` (e.g. ``co2_kg_q50`` [kg],
        ``cost_eur_q05`` [EUR]).
    """
    return _wide({k: mc.quantiles() for k, mc in mcs.items()})


def savings_table(mcs: Mapping[str, uncertainty.MonteCarloResult], baseline: str = "baseline") -> pd.DataFrame:
    """Relative savings (1 - scenario/baseline, draw by draw) of every scenario but the baseline.

    Returns
    -------
    pandas.DataFrame
        Index = scenario; columns ``<output>_<q>``. [-]
    """
    return _wide({k: uncertainty.savings_frac(mcs[baseline], mc) for k, mc in mcs.items() if k != baseline})


def office_hours_ids(tags: pd.DataFrame, roles: Iterable[str]) -> list[str]:
    """Instance ids whose ``role`` tag is one of ``roles`` (none when no instance has a role tag).

    Parameters
    ----------
    tags : pandas.DataFrame
        Index = instance id, one column per tag key (``scenarios.instance_tags``).
    roles : iterable of str
        Roles that go on office hours.
    """
    if "role" not in tags:
        return []
    return list(tags.index[tags["role"].isin(list(roles))])


def priced_catalog(catalog: Mapping[str, dict], profiles: pd.DataFrame, usd_per_hour: Mapping[str, float]) -> dict:
    """The catalog types that have both a power curve and a price (rightsizing candidates).

    Parameters
    ----------
    catalog : mapping
        Instance type -> specs (e.g. ``factors.INSTANCE_CATALOG``).
    profiles : pandas.DataFrame
        Power profiles with an ``instance_type`` column.
    usd_per_hour : mapping of str to float
        On-demand price per type. [USD/h]
    """
    have = set(profiles["instance_type"]) & set(usd_per_hour)
    return {t: v for t, v in catalog.items() if t in have}


def shift_forecasts(tables: Mapping[str, pd.DataFrame], decision: str, signal: str) -> pd.DataFrame | None:
    """Forecasts the carbon-aware shift decides on, or None for perfect foresight.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Snapshot tables; ``intensity_forecasts`` may be absent (then no forecast: an empty table).
    decision : {"forecast", "realised"}
        ``forecast``: decide on the forecast issued before each job; ``realised``: perfect foresight.
    signal : {"average", "marginal"}
        ``emission_factor_type`` of the forecasts used.

    Returns
    -------
    pandas.DataFrame or None
        The forecasts of ``signal`` (empty: a gap, no job can be shifted on
        forecasts); None when ``decision`` is ``realised``.
    """
    if decision not in ("forecast", "realised"):
        raise ValueError(f"shift decision must be 'forecast' or 'realised', not {decision!r}")
    if decision == "realised":
        return None
    fc = tables.get("intensity_forecasts", pd.DataFrame(columns=["emission_factor_type"]))
    return fc[fc["emission_factor_type"] == signal]


def estimated_intensity_hours(intensity_hourly: pd.DataFrame) -> pd.Series:
    """Per hour: True where the intensity provider flags the value as estimated (missing flag: False).

    Parameters
    ----------
    intensity_hourly : pandas.DataFrame
        ``hour``, ``is_estimated`` (snapshot table ``intensity_hourly``).
    """
    return intensity_hourly.set_index("hour")["is_estimated"].astype("boolean").fillna(False).astype(bool)


def co2_by_pue(agg: uncertainty.FleetAggregates, pues: Sequence[float], eur_per_usd: float) -> pd.Series:
    """Point-estimate CO2e (every prior factor at 1) at each PUE.

    Parameters
    ----------
    agg : uncertainty.FleetAggregates
        Fleet aggregates of one scenario.
    pues : sequence of float
        Power usage effectiveness values. [-]
    eur_per_usd : float
        FX rate (enters cost only). [EUR/USD]

    Returns
    -------
    pandas.Series
        Index = PUE; CO2e of the window. [kg]
    """
    ones = {"power_scale": 1.0, "intensity_scale": 1.0, "cpu_scale": 1.0, "price_scale": 1.0, "spot_price_frac": 1.0}
    point = pd.DataFrame([{"pue": p, **ones, "eur_per_usd": eur_per_usd} for p in pues])
    return uncertainty.evaluate_draws(agg, point).set_index("pue")["co2_kg"]


def embodied_co2(fleet_hourly: pd.DataFrame, profiles: pd.DataFrame, operational_co2_kg: float) -> dict:
    r"""Embodied CO2e of the running hours (time share) and its share of the total.

    embodied = Σ_ih r_ih · e_type(i) / 1000 with e the embodied emissions per
    instance-hour of the type. Rows of unknown type (NA ``instance_type``) are
    outside, as in the operational total (reported there as
    ``running_h_without_type``). When any running type has no embodied value
    the total is NaN with the reason -- never the partial sum over the types
    that have one.

    Parameters
    ----------
    fleet_hourly : pandas.DataFrame
        ``instance_type``, ``running_frac`` [-] (``scenarios.fleet_hourly_table``).
    profiles : pandas.DataFrame
        ``instance_type``, ``embodied_g_per_h`` [gCO2e/h] (NaN: no value).
    operational_co2_kg : float
        Operational CO2e of the same window. [kg]

    Returns
    -------
    dict
        ``embodied_co2_kg`` [kg], ``embodied_share_frac`` = embodied /
        (embodied + operational) [-], ``types_without_value`` (sorted fleet
        types without a value, running or not), ``running_h_without_value``
        (their running instance-hours) [h], ``reason`` ("" when complete).
    """
    emb = profiles.drop_duplicates("instance_type").set_index("instance_type")["embodied_g_per_h"]
    known = fleet_hourly.dropna(subset=["instance_type"])
    per_h = known["instance_type"].map(emb).astype(float)
    missing = sorted(set(known["instance_type"][per_h.isna()]))
    running_h_missing = float(known["running_frac"][per_h.isna()].sum())
    running_missing = sorted(set(known["instance_type"][per_h.isna() & (known["running_frac"] > 0)]))
    if running_missing:
        reason = (f"no embodied value for running type(s) {running_missing} "
                  f"({running_h_missing:g} running instance-hours): total left NaN, not summed without them")
        kg = float("nan")
    else:
        reason = ""
        kg = float((known["running_frac"] * per_h.fillna(0.0)).sum()) / G_PER_KG
    share = kg / (kg + operational_co2_kg) if np.isfinite(kg) else float("nan")
    return {"embodied_co2_kg": kg, "embodied_share_frac": share, "types_without_value": missing,
            "running_h_without_value": running_h_missing, "reason": reason}


def footprint_variants(hva: Mapping[str, float], by_pue: pd.Series, pue_ccf: float, pue_region: float,
                       annual_g_per_kwh: float, embodied_kg: float) -> pd.Series:
    """The accounting variants of the baseline footprint side by side.

    Parameters
    ----------
    hva : mapping
        ``scenarios.hour_aligned_split`` result (``hour_aligned_co2_g``,
        ``annual_average_co2_g`` [g]).
    by_pue : pandas.Series
        :func:`co2_by_pue` at ``pue_ccf`` and ``pue_region``. [kg]
    pue_ccf, pue_region : float
        The two PUE values. [-]
    annual_g_per_kwh : float
        Annual-average grid intensity. [gCO2e/kWh]
    embodied_kg : float
        :func:`embodied_co2` ``embodied_co2_kg`` (NaN when a gap). [kg]

    Returns
    -------
    pandas.Series
        Label -> CO2e of the window. [kg]
    """
    return pd.Series({
        f"hour-aligned, PUE {pue_region}": hva["hour_aligned_co2_g"] / G_PER_KG,
        f"annual average {annual_g_per_kwh:g} g/kWh, PUE {pue_region}": hva["annual_average_co2_g"] / G_PER_KG,
        f"hour-aligned, PUE {pue_ccf} (CCF)": by_pue[pue_ccf],
        f"hour-aligned, PUE {pue_region} (2024 regional)": by_pue[pue_region],
        "embodied (time share)": embodied_kg,
    })


def fleet_types(fleet_hourly: pd.DataFrame) -> list[str]:
    """Sorted known instance types of the fleet (unknown, NA types are left out: a gap reported elsewhere)."""
    return sorted(set(fleet_hourly["instance_type"].dropna()))


def comparison_at(model_cmp: pd.DataFrame, load_frac: float = 0.3) -> pd.DataFrame:
    """Rows of ``calc.power_model_comparison`` at one load, indexed by instance type."""
    return model_cmp[model_cmp["load_frac"] == load_frac].set_index("instance_type")


def power_model_metrics(model_cmp: pd.DataFrame, model_energy: pd.DataFrame, models: Sequence[str],
                        types_without_embodied: Sequence[str]) -> dict:
    """``power_model_*`` metric keys: power-model ratios at 30 % CPU and fleet energy per model.

    Parameters
    ----------
    model_cmp : pandas.DataFrame
        ``calc.power_model_comparison`` (must include ``load_frac`` 0.3).
    model_energy : pandas.DataFrame
        ``calc.fleet_energy_by_model_kwh`` (row ``total``, columns ``<model>_kwh``).
    models : sequence of str
        Models compared (``ccf``, ``boavizta``, ``linear_share``).
    types_without_embodied : sequence of str
        Fleet types without an embodied value (:func:`embodied_co2`).

    Returns
    -------
    dict
        ``power_model_ratio_ccf_vs_boavizta_<type with . as _>_at_30pct_ratio`` [-],
        the median ratios [-], ``power_model_spread_max_frac`` [-],
        ``power_model_types_with_gap_count``, ``embodied_types_without_value_count``,
        ``power_model_fleet_energy_<model>_kwh`` [kWh].
    """
    at30 = comparison_at(model_cmp, 0.3)
    out = {f"power_model_ratio_ccf_vs_boavizta_{t.replace('.', '_')}_at_30pct_ratio": at30.loc[t, "ratio_ccf_vs_boavizta"]
           for t in at30.index}
    out |= {"power_model_ratio_ccf_vs_boavizta_median_ratio": float(at30["ratio_ccf_vs_boavizta"].median()),
            "power_model_ratio_boavizta_vs_linear_share_median_ratio": float(at30["ratio_boavizta_vs_linear_share"].median()),
            "power_model_spread_max_frac": float(at30["spread_frac"].max()),
            "power_model_types_with_gap_count": int((at30["gap"] != "").sum()),
            "embodied_types_without_value_count": len(types_without_embodied)}
    out |= {f"power_model_fleet_energy_{m}_kwh": float(model_energy.loc["total", f"{m}_kwh"]) for m in models}
    return out


def accounting_metrics(hva: Mapping[str, float], by_pue: pd.Series, pue_ccf: float, pue_region: float,
                       embodied: Mapping) -> dict:
    """Metric keys of the accounting choices (hour-aligned vs annual, PUE, embodied).

    Parameters
    ----------
    hva : mapping
        ``scenarios.hour_aligned_split`` result. [g, -, gCO2e/kWh]
    by_pue : pandas.Series
        :func:`co2_by_pue`. [kg]
    pue_ccf, pue_region : float
        The two PUE values. [-]
    embodied : mapping
        :func:`embodied_co2` result.

    Returns
    -------
    dict
        ``hour_aligned_co2_kg``, ``annual_average_co2_kg``, ``co2_pue_ccf_kg``,
        ``co2_pue_region_kg``, ``embodied_co2_kg`` [kg]; ``hour_aligned_vs_annual_frac``,
        ``hour_of_day_alignment_frac``, ``season_vs_annual_frac``,
        ``embodied_share_frac`` [-]; ``window_mean_intensity_g_per_kwh``;
        ``embodied_running_h_without_value_h`` (running instance-hours of types
        without an embodied value: > 0 means the embodied keys are NaN) [h].
    """
    return {"hour_aligned_co2_kg": hva["hour_aligned_co2_g"] / G_PER_KG,
            "annual_average_co2_kg": hva["annual_average_co2_g"] / G_PER_KG,
            "hour_aligned_vs_annual_frac": hva["hour_aligned_vs_annual_frac"],
            "hour_of_day_alignment_frac": hva["alignment_frac"], "season_vs_annual_frac": hva["season_frac"],
            "window_mean_intensity_g_per_kwh": hva["window_mean_intensity_g_per_kwh"],
            "co2_pue_ccf_kg": by_pue[pue_ccf], "co2_pue_region_kg": by_pue[pue_region],
            "embodied_co2_kg": embodied["embodied_co2_kg"], "embodied_share_frac": embodied["embodied_share_frac"],
            "embodied_running_h_without_value_h": embodied["running_h_without_value"]}


def gap_metrics(agg: uncertainty.FleetAggregates) -> dict:
    """Data gaps of one scenario's aggregates: running hours left out [h] and energy without intensity [kWh]."""
    return {"running_h_without_cpu_h": float(agg.running_h_without_cpu),
            "running_h_unknown_h": float(agg.running_h_unknown),
            "running_h_without_type_h": float(agg.running_h_without_type),
            "energy_without_intensity_kwh": agg.energy_without_intensity_kwh}


def shift_metrics(plan_shift: pd.DataFrame, job_shift: Mapping[str, float], job_shift_upper: Mapping[str, float]) -> dict:
    """Carbon-aware shifting keys: moved jobs, job-level saving (and its upper bound) [-], median shift [h].

    Parameters
    ----------
    plan_shift : pandas.DataFrame
        ``scenarios.apply_carbon_aware_shift`` plan (``reason``, ``shift_h`` [h]).
    job_shift, job_shift_upper : mapping
        ``scenarios.job_level_shift_saving`` of the plan and of the upper-bound plan.
    """
    return {"moved_jobs_count": int((plan_shift["reason"] == "moved").sum()),
            "job_level_shift_saving_co2_frac": job_shift["job_saving_co2_frac"],
            "job_level_shift_saving_upper_bound_co2_frac": job_shift_upper["job_saving_co2_frac"],
            "median_job_shift_h": float(plan_shift["shift_h"].median()) if len(plan_shift) else float("nan")}


def rightsized_count(plan_rs: pd.DataFrame) -> int:
    """Instances whose planned type differs from their current type."""
    return int((plan_rs["new_type"] != plan_rs["instance_type"]).sum())


def truth_metrics(truth: Mapping[str, float], row: Mapping[str, float]) -> dict:
    """Calibration keys of one sandbox world: truth totals, gap shares, interval hits, truth/median ratios.

    Parameters
    ----------
    truth : mapping
        ``uncertainty.truth_totals`` (``co2_kg`` [kg], ``cost_eur`` [EUR], ``*_gap_frac`` [-]).
    row : mapping
        ``uncertainty.calibration_row`` (``<output>_hit`` bool, ``<output>_truth_over_q50`` [-]).
    """
    return {"truth_co2_kg": truth["co2_kg"], "truth_cost_eur": truth["cost_eur"],
            "truth_co2_gap_frac": truth["co2_gap_frac"], "truth_cost_gap_frac": truth["cost_gap_frac"],
            "truth_co2_in_90pct_interval_count": int(row["co2_kg_hit"]),
            "truth_cost_in_90pct_interval_count": int(row["cost_eur_hit"]),
            "truth_over_q50_co2_ratio": row["co2_kg_truth_over_q50"],
            "truth_over_q50_cost_ratio": row["cost_eur_truth_over_q50"]}


def prefixed(prefix: str, values: Mapping) -> dict:
    """``{prefix + key: value}`` (e.g. ``sobol_total_co2_`` + factor + ``_frac``)."""
    return {f"{prefix}{k}": v for k, v in values.items()}


def sobol_metrics(sobol: pd.DataFrame) -> dict:
    """``sobol_total_co2_<factor>_frac``: total-order Sobol index of CO2e per factor. [-]"""
    return {f"sobol_total_co2_{f}_frac": v for f, v in sobol["co2_kg_total"].items()}


def coverage_metrics(coverage: pd.DataFrame) -> dict:
    """``calibration_<output>_<column>`` of ``uncertainty.coverage_table`` (empty table: no keys)."""
    return {f"calibration_{o}_{c}": v for o in coverage.index for c, v in coverage.loc[o].items()}
