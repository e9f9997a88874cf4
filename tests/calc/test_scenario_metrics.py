"""Tables and metric keys of notebook 03, with hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from finops_lib.calc import scenario_metrics as sm
from finops_lib.calc import uncertainty as unc

HOURS = pd.date_range("2024-03-04", periods=2, freq="h", tz="UTC")


def _agg(**kw):
    """Two hours, cpu_scale grid 0.5/1/1.5; at cpu_scale 1 the fleet draws 100 W then 200 W."""
    args = {"hours": HOURS, "cpu_scale_grid": np.array([0.5, 1.0, 1.5]),
            "it_power_w": np.array([[50.0, 100.0], [100.0, 200.0], [150.0, 300.0]]),
            "cost_usd": np.array([1.0, 1.0]), "intensity_g_per_kwh": np.array([400.0, 500.0]),
            "spot_list_cost_usd": np.zeros(2)}
    return unc.FleetAggregates(**(args | kw))


def _mc(co2, cost, seed=1):
    factors_ = pd.DataFrame({"pue": [1.0, 1.1, 1.2]})
    draws = factors_.assign(energy_kwh=1.0, co2_kg=co2, cost_usd=cost, cost_eur=cost)
    return unc.MonteCarloResult(draws, seed)


def test_summary_and_savings_tables_are_wide_per_scenario():
    mcs = {"baseline": _mc([10.0, 20.0, 30.0], [4.0, 4.0, 4.0]), "office_hours": _mc([5.0, 15.0, 15.0], [2.0, 3.0, 4.0])}
    summary = sm.summary_table(mcs)
    assert list(summary.index) == ["baseline", "office_hours"]
    # linear interpolation of three draws: q05 = 10 + 0.1 * 10 = 11, q50 = 20
    assert summary.loc["baseline", "co2_kg_q05"] == pytest.approx(11.0)
    assert summary.loc["baseline", "co2_kg_q50"] == pytest.approx(20.0)
    assert summary.loc["office_hours", "cost_eur_q50"] == pytest.approx(3.0)
    savings = sm.savings_table(mcs)
    assert list(savings.index) == ["office_hours"]
    # draw by draw 1 - s/b: co2 (0.5, 0.25, 0.5) -> median 0.5; cost (0.5, 0.25, 0) -> median 0.25
    assert savings.loc["office_hours", "co2_kg_q50"] == pytest.approx(0.5)
    assert savings.loc["office_hours", "cost_eur_q50"] == pytest.approx(0.25)


def test_office_hours_ids_and_priced_catalog():
    tags = pd.DataFrame({"role": ["office_hours", "batch", "variable"]}, index=["i-1", "i-2", "i-3"])
    assert sm.office_hours_ids(tags, ["office_hours", "variable"]) == ["i-1", "i-3"]
    assert sm.office_hours_ids(pd.DataFrame(index=["i-1"]), ["office_hours"]) == []
    profiles = pd.DataFrame({"instance_type": ["a", "a", "b"]})
    cat = sm.priced_catalog({"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}}, profiles, {"a": 0.1, "c": 0.2})
    assert cat == {"a": {"v": 1}}  # b has no price, c no power curve


def test_estimated_intensity_hours_missing_flag_is_false():
    ih = pd.DataFrame({"hour": list(HOURS) + [HOURS[-1] + pd.Timedelta("1h")], "is_estimated": [True, None, False]})
    assert sm.estimated_intensity_hours(ih).tolist() == [True, False, False]


def test_shift_forecasts_selects_the_signal_or_none():
    fc = pd.DataFrame({"emission_factor_type": ["average", "marginal", "average"], "v": [1, 2, 3]})
    assert sm.shift_forecasts({"intensity_forecasts": fc}, "forecast", "average")["v"].tolist() == [1, 3]
    assert sm.shift_forecasts({"intensity_forecasts": fc}, "realised", "average") is None
    assert sm.shift_forecasts({}, "forecast", "marginal").empty  # no forecasts in the snapshot: a gap
    with pytest.raises(ValueError, match="forecast"):
        sm.shift_forecasts({}, "perfect", "average")


def test_co2_by_pue_is_the_point_estimate():
    # (0.1 kWh * 400 + 0.2 kWh * 500) g = 140 g at PUE 1
    by_pue = sm.co2_by_pue(_agg(), (1.0, 1.5), 0.9)
    assert by_pue[1.0] == pytest.approx(0.14)
    assert by_pue[1.5] == pytest.approx(0.21)


def _fleet(types, running):
    return pd.DataFrame({"instance_type": pd.array(types, dtype="string"), "running_frac": running})


def test_embodied_co2_hand_computed():
    fleet = _fleet(["a", "a", "b", None], [1.0, 0.5, 2.0, 1.0])
    profiles = pd.DataFrame({"instance_type": ["a", "a", "b"], "embodied_g_per_h": [100.0, 100.0, 10.0]})
    e = sm.embodied_co2(fleet, profiles, operational_co2_kg=0.17)
    # 1.5 h * 100 g + 2 h * 10 g = 170 g; the unknown-type row is outside (as in the operational total)
    assert e["embodied_co2_kg"] == pytest.approx(0.17)
    assert e["embodied_share_frac"] == pytest.approx(0.5)
    assert e["reason"] == "" and e["types_without_value"] == [] and e["running_h_without_value"] == 0


def test_embodied_co2_is_nan_with_a_reason_when_a_running_type_lacks_a_value():
    fleet = _fleet(["a", "b", "b", "c"], [1.0, 0.5, 0.25, 0.0])
    profiles = pd.DataFrame({"instance_type": ["a", "b", "c"], "embodied_g_per_h": [100.0, np.nan, np.nan]})
    e = sm.embodied_co2(fleet, profiles, operational_co2_kg=1.0)
    assert math.isnan(e["embodied_co2_kg"]) and math.isnan(e["embodied_share_frac"])  # not the 0.1 kg of "a" alone
    assert e["types_without_value"] == ["b", "c"]
    assert e["running_h_without_value"] == pytest.approx(0.75)
    assert "['b']" in e["reason"] and "0.75" in e["reason"]  # c never runs: listed, not the cause


def test_embodied_co2_type_without_value_that_never_runs_adds_zero():
    fleet = _fleet(["a", "c"], [2.0, 0.0])
    profiles = pd.DataFrame({"instance_type": ["a"], "embodied_g_per_h": [50.0]})  # c absent from the profile
    e = sm.embodied_co2(fleet, profiles, operational_co2_kg=0.3)
    assert e["embodied_co2_kg"] == pytest.approx(0.1)
    assert e["embodied_share_frac"] == pytest.approx(0.25)
    assert e["types_without_value"] == ["c"] and e["reason"] == ""


HVA = {"hour_aligned_co2_g": 1200.0, "annual_average_co2_g": 1000.0, "hour_aligned_vs_annual_frac": 0.2,
       "alignment_frac": 0.05, "season_frac": 0.142857, "window_mean_intensity_g_per_kwh": 420.0}


def test_footprint_variants_and_accounting_metrics():
    by_pue = pd.Series({1.135: 1.0, 1.35: 1.35 / 1.135})
    v = sm.footprint_variants(HVA, by_pue, 1.135, 1.35, 380.0, 0.25)
    assert v.to_dict() == pytest.approx({"hour-aligned, PUE 1.35": 1.2, "annual average 380 g/kWh, PUE 1.35": 1.0,
                                         "hour-aligned, PUE 1.135 (CCF)": 1.0,
                                         "hour-aligned, PUE 1.35 (2024 regional)": 1.35 / 1.135,
                                         "embodied (time share)": 0.25})
    m = sm.accounting_metrics(HVA, by_pue, 1.135, 1.35, {"embodied_co2_kg": 0.25, "embodied_share_frac": 0.2,
                                                         "running_h_without_value": 0.0})
    assert m == pytest.approx({"hour_aligned_co2_kg": 1.2, "annual_average_co2_kg": 1.0, "hour_aligned_vs_annual_frac": 0.2,
                               "hour_of_day_alignment_frac": 0.05, "season_vs_annual_frac": 0.142857,
                               "window_mean_intensity_g_per_kwh": 420.0, "co2_pue_ccf_kg": 1.0,
                               "co2_pue_region_kg": 1.35 / 1.135, "embodied_co2_kg": 0.25, "embodied_share_frac": 0.2,
                               "embodied_running_h_without_value_h": 0.0})


def test_power_model_metrics_keys_and_values():
    cmp_ = pd.DataFrame({
        "instance_type": ["m5.large", "t3.micro", "m5.large", "t3.micro"], "load_frac": [0.1, 0.1, 0.3, 0.3],
        "ratio_ccf_vs_boavizta": [9.0, 9.0, 1.2, 0.8], "ratio_boavizta_vs_linear_share": [9.0, 9.0, 1.0, 2.0],
        "spread_frac": [9.0, 9.0, 0.3, 0.5], "gap": ["", "", "", "no curve"]})
    energy = pd.DataFrame({"ccf_kwh": [1.0, 3.0], "boavizta_kwh": [2.0, 5.0]}, index=["m5.large", "total"])
    m = sm.power_model_metrics(cmp_, energy, ("ccf", "boavizta"), ["x.large"])
    assert m == pytest.approx({
        "power_model_ratio_ccf_vs_boavizta_m5_large_at_30pct_ratio": 1.2,
        "power_model_ratio_ccf_vs_boavizta_t3_micro_at_30pct_ratio": 0.8,
        "power_model_ratio_ccf_vs_boavizta_median_ratio": 1.0,
        "power_model_ratio_boavizta_vs_linear_share_median_ratio": 1.5,
        "power_model_spread_max_frac": 0.5, "power_model_types_with_gap_count": 1,
        "embodied_types_without_value_count": 1,
        "power_model_fleet_energy_ccf_kwh": 3.0, "power_model_fleet_energy_boavizta_kwh": 5.0})
    assert list(sm.comparison_at(cmp_, 0.1).index) == ["m5.large", "t3.micro"]


def test_gap_shift_and_count_metrics():
    agg = _agg(running_h_without_cpu=3.0, running_h_unknown=1.5, running_h_without_type=2.0, energy_without_intensity_kwh=0.4)
    assert sm.gap_metrics(agg) == {"running_h_without_cpu_h": 3.0, "running_h_unknown_h": 1.5,
                                   "running_h_without_type_h": 2.0, "energy_without_intensity_kwh": 0.4}
    plan = pd.DataFrame({"reason": ["moved", "no better hour", "moved"], "shift_h": [4, 0, 2]})
    m = sm.shift_metrics(plan, {"job_saving_co2_frac": 0.1}, {"job_saving_co2_frac": 0.3})
    assert m == {"moved_jobs_count": 2, "job_level_shift_saving_co2_frac": 0.1,
                 "job_level_shift_saving_upper_bound_co2_frac": 0.3, "median_job_shift_h": 2.0}
    assert math.isnan(sm.shift_metrics(plan.iloc[:0], {"job_saving_co2_frac": 0}, {"job_saving_co2_frac": 0})["median_job_shift_h"])
    plan_rs = pd.DataFrame({"instance_type": ["a", "b", "c"], "new_type": ["a", "a", "d"]})
    assert sm.rightsized_count(plan_rs) == 2


def test_truth_sobol_coverage_and_prefixed_keys():
    tt = {"co2_kg": 5.0, "cost_eur": 7.0, "co2_gap_frac": 0.1, "cost_gap_frac": 0.0}
    row = {"co2_kg_hit": True, "cost_eur_hit": False, "co2_kg_truth_over_q50": 1.1, "cost_eur_truth_over_q50": 0.9}
    assert sm.truth_metrics(tt, row) == {
        "truth_co2_kg": 5.0, "truth_cost_eur": 7.0, "truth_co2_gap_frac": 0.1, "truth_cost_gap_frac": 0.0,
        "truth_co2_in_90pct_interval_count": 1, "truth_cost_in_90pct_interval_count": 0,
        "truth_over_q50_co2_ratio": 1.1, "truth_over_q50_cost_ratio": 0.9}
    sob = pd.DataFrame({"co2_kg_total": [0.7, 0.3]}, index=["pue", "intensity_scale"])
    assert sm.sobol_metrics(sob) == {"sobol_total_co2_pue_frac": 0.7, "sobol_total_co2_intensity_scale_frac": 0.3}
    cov = pd.DataFrame({"coverage_frac": [0.9], "worlds_count": [20]}, index=["co2_kg"])
    assert sm.coverage_metrics(cov) == {"calibration_co2_kg_coverage_frac": 0.9, "calibration_co2_kg_worlds_count": 20}
    assert sm.coverage_metrics(pd.DataFrame()) == {}
    assert sm.prefixed("energy_true_over_estimated_", {"median_ratio": 1.05}) == {"energy_true_over_estimated_median_ratio": 1.05}


def test_fleet_types_leave_unknown_types_out():
    assert sm.fleet_types(_fleet(["m5.large", None, "c6g.large", "m5.large"], [1.0] * 4)) == ["c6g.large", "m5.large"]
