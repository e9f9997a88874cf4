"""Headline extraction moved out of notebooks 01-03 into finops_lib.report: hand-computed values and key names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finops_lib import report


def _errors():
    rows = []
    for case, vals in (("fleet", {"cloudtrail": 0.02, "cloudtrail_cloudwatch": 0.01, "always_on": 0.7,
                                  "cloudwatch_presence": 0.04, "current_state": 0.47}),
                       ("complete", {"cloudtrail": 0.0, "cloudtrail_cloudwatch": 0.0, "always_on": 2.0,
                                     "cloudwatch_presence": 0.08, "current_state": 0.6})):
        rows += [{"case": case, "estimator": e, "abs_error_frac": v, "net_error_frac": -v} for e, v in vals.items()]
    return pd.DataFrame(rows)


def test_runtime_metrics_keys_and_best_baseline():
    sweep = pd.DataFrame({"missing_record_rate_frac": [0.0, 0.2, 0.0, 0.2],
                          "estimator": ["cloudtrail", "cloudtrail", "cloudtrail_cloudwatch", "cloudtrail_cloudwatch"],
                          "abs_error_frac": [0.02, 0.12, 0.01, 0.03]})
    m = report.runtime_metrics(_errors(), sweep, pd.Series([10.0, 5.5]), 2)
    assert m["runtime_abs_error_always_on_frac"] == 0.7 and m["runtime_net_error_cloudtrail_frac"] == -0.02
    assert m["runtime_abs_error_cloudtrail_complete_frac"] == 0.0
    assert m["runtime_abs_error_cloudtrail_missing_20pct_frac"] == 0.12
    assert m["runtime_abs_error_cloudtrail_cloudwatch_missing_00pct_frac"] == 0.01
    assert m["runtime_best_baseline_abs_error_frac"] == 0.04  # cloudwatch_presence; event estimators excluded
    assert m["runtime_true_h"] == 15.5 and m["instances_count"] == 2
    assert "runtime_abs_error_always_on_complete_frac" not in m  # cases only for the event estimators
    for k in m:
        report.check_metric_key(k)


def test_missing_records_sweep_rate_zero_reproduces_errors_and_baselines_stay_constant(small_sandbox_snapshot):
    from finops_lib import calc
    from finops_lib.snapshot import read_snapshot

    snap = read_snapshot(small_sandbox_snapshot)
    ev, inst, cpu = snap["state_events"], snap["instances"], snap["cpu_hourly"]
    ws, we = snap.window_start, snap.window_end
    est_h = report.runtime_by_instance({m: calc.estimate_runtime(m, ev, inst, cpu, ws, we) for m in calc.RUNTIME_ESTIMATORS})
    true_h, cases = report.runtime_truth(snap)
    errors = report.runtime_errors(est_h, true_h, cases)
    sweep = report.missing_records_sweep(ev, inst, cpu, ws, we, true_h, cases, errors, [0.0, 0.5], 2,
                                         np.random.default_rng(0))
    fleet = errors[errors["case"] == "fleet"].set_index("estimator")["abs_error_frac"]
    at = sweep.set_index(["missing_record_rate_frac", "estimator"])["abs_error_frac"]
    for e in ("cloudtrail", "cloudtrail_cloudwatch"):
        assert at[(0.0, e)] == pytest.approx(fleet[e])  # nothing dropped: the same reconstruction
    assert at[(0.5, "cloudtrail")] > at[(0.0, "cloudtrail")]  # dropping half the records must hurt
    for b in ("always_on", "cloudwatch_presence"):
        assert at[(0.0, b)] == at[(0.5, b)] == fleet[b]
    assert len(sweep) == 2 * 4


def test_cost_deviation_stats_hand_computed():
    pairs = pd.DataFrame({"calculated_usd": [1.0, 2.0, 4.0, 0.5], "billed_usd": [1.1, 2.0, 3.6, 0.0]})
    s = report.cost_deviation_stats(pairs)
    assert s["mape_frac"] == pytest.approx((0.1 / 1.1 + 0 + 0.4 / 3.6) / 3)  # zero bill left out of MAPE
    assert s["pairs_billed_zero_count"] == 1 and s["pairs_count"] == 4
    assert s["validation_factor_ratio"] == pytest.approx(6.7 / 7.5)
    d = np.array([-0.1, 0.0, 0.4, 0.5])  # calculated - billed
    assert s["bland_altman_bias_usd"] == pytest.approx(d.mean())
    assert s["bland_altman_loa_high_usd"] == pytest.approx(d.mean() + 1.96 * d.std(ddof=1))


def test_cost_by_lifecycle_and_billing_minimum():
    hourly_cost = pd.DataFrame({"instance_id": ["a", "a", "s"], "cost_usd": [1.0, 2.0, 4.0]})
    instances = pd.DataFrame({"instance_id": ["a", "s"], "lifecycle": ["on-demand", "spot"]})
    daily = pd.DataFrame({"usage_type": ["EUC1-BoxUsage:m5.large", "EUC1-SpotUsage:c5.large", "EUC1-EBS:VolumeUsage.gp3"],
                          "cost_usd": [3.3, 1.5, 9.0]})
    by = report.cost_by_lifecycle(hourly_cost, instances, daily)
    assert by.loc["on-demand", "gap_usd"] == pytest.approx(0.3) and by.loc["spot", "gap_usd"] == pytest.approx(-2.5)
    iv = pd.DataFrame({"duration_s": [30.0, 3600.0], "usd_per_hour": [0.36, 0.36], "cost_usd": [0.006, 0.36]})
    assert report.billing_minimum_effect_usd(iv) == pytest.approx(0.006 - 0.003)


def test_cost_per_day_sums_types_and_keeps_empty_days_nan():
    daily = pd.DataFrame({"day": ["d1", "d1", "d2"], "instance_type": ["a", "b", "a"],
                          "calculated_usd": [1.0, 2.0, np.nan], "billed_usd": [1.5, np.nan, 2.0]})
    per_day = report.cost_per_day(daily)
    assert per_day.loc["d1", "calculated_usd"] == 3.0 and per_day.loc["d1", "billed_usd"] == 1.5
    assert np.isnan(per_day.loc["d2", "calculated_usd"]) and per_day.loc["d2", "billed_usd"] == 2.0


def test_cost_metrics_keys():
    gap = pd.DataFrame({"gap_usd": [0.3, 9.0, 9.3], "billed_usd": [3.3, 9.0, 12.3]}, index=["compute", "ebs", "total"])
    by = pd.DataFrame({"gap_usd": [0.3]}, index=["on-demand"])
    m = report.cost_metrics({"mape_frac": 0.1}, gap, by, 3.0, 0.003)
    assert m == {"mape_frac": 0.1, "gap_compute_usd": 0.3, "gap_ebs_usd": 9.0, "gap_total_usd": 9.3,
                 "calculated_compute_usd": 3.0, "billed_total_usd": 12.3, "billing_minimum_effect_usd": 0.003,
                 "spot_gap_usd": 0.0, "on_demand_gap_usd": 0.3}


def test_scenario_metrics_reproduces_notebook_03_key_names():
    cols = [f"{c}_{q}" for c in ("cost_eur", "co2_kg", "energy_kwh", "cost_usd") for q in ("q05", "q50", "q95")]
    summary = pd.DataFrame(np.arange(24.0).reshape(2, 12), index=["baseline", "office_hours"], columns=cols)
    savings = pd.DataFrame([[0.1, 0.2, 0.3, 0.01, 0.02, 0.03]], index=["office_hours"],
                           columns=[f"{c}_{q}" for c in ("cost_eur", "co2_kg") for q in ("q05", "q50", "q95")])
    m = report.scenario_metrics(summary, savings)
    assert m["baseline_cost_q05_eur"] == 0 and m["baseline_co2_q50_kg"] == 4 and m["office_hours_energy_q95_kwh"] == 20
    assert m["office_hours_saving_cost_q95_frac"] == 0.3 and m["office_hours_saving_co2_q05_frac"] == 0.01
    assert len(m) == 2 * 9 + 6
    for k in m:
        report.check_metric_key(k)
