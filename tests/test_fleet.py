"""finops_lib.fleet: hand-computed totals, changes, savings and recommendations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import fleet
from finops_lib.calc import uncertainty

H = pd.Timestamp("2026-01-05 00:00", tz="UTC")  # a Monday


def _fp(rows):
    """Instance-hour footprint rows: (instance_id, hour offset, type, running_frac, cpu, cost_eur, energy_kwh, co2_g)."""
    df = pd.DataFrame(rows, columns=["instance_id", "h", "instance_type", "running_frac", "cpu_util_frac", "cost_eur",
                                     "energy_kwh", "co2_g"])
    df["hour"] = H + pd.to_timedelta(df.pop("h"), unit="h")
    df["lifecycle"] = "on-demand"
    return df


def _instances(tags: dict, types: dict):
    return pd.DataFrame({"instance_id": list(tags), "tags": [json.dumps(t) for t in tags.values()],
                         "instance_type": [types[i] for i in tags]})


def test_per_year_scales_linearly_and_rejects_empty_window():
    assert fleet.per_year(100.0, 720.0) == pytest.approx(100 * 8760 / 720)
    assert_allclose(fleet.per_year(pd.Series([1.0, 2.0]), 8760.0), [1.0, 2.0])
    with pytest.raises(ValueError, match="window_h"):
        fleet.per_year(1.0, 0)


def test_per_instance_sums_and_keeps_gaps_visible():
    fp = _fp([
        ("a", 0, "m5.large", 1.0, 0.5, 0.10, 0.02, 8.0),
        ("a", 1, "m5.large", 1.0, np.nan, 0.10, np.nan, np.nan),  # running, no CPU datum: a gap
        ("b", 0, "t3.small", 0.5, np.nan, 0.01, np.nan, np.nan),  # never a CPU datum
        ("b", 1, "t3.small", 0.0, np.nan, 0.0, 0.0, 0.0),
    ])
    inst = _instances({"a": {"Name": "web-1", "role": "production"}, "b": {"Name": "dev-1"}}, {"a": "m5.large", "b": "t3.small"})
    pi = fleet.per_instance(fp, inst)
    assert list(pi.index) == ["a", "b"]  # by cost
    assert pi.loc["a", "running_h"] == 2.0 and pi.loc["a", "cost_eur"] == pytest.approx(0.20)
    assert pi.loc["a", "co2_kg"] == pytest.approx(0.008) and pi.loc["a", "cpu_missing_h"] == 1.0
    assert pi.loc["a", "co2_g_per_eur"] == pytest.approx(8.0 / 0.20)
    assert pi.loc["a", "name"] == "web-1" and pi.loc["a", "role"] == "production" and pd.isna(pi.loc["b", "role"])
    # b: its only datum is an idle hour (0 g) -- but the running hour is unknown: 0.5 h missing, CO2e the known 0
    assert pi.loc["b", "cpu_missing_h"] == 0.5 and pi.loc["b", "cpu_mean_frac"] != pi.loc["b", "cpu_mean_frac"]


def test_hourly_sums_per_hour_and_is_nan_only_without_any_value():
    fp = _fp([("a", 0, "x", 1, 0.5, 1.0, 0.1, 10.0), ("b", 0, "x", 1, 0.5, 2.0, 0.2, 30.0),
              ("a", 1, "x", 1, np.nan, 1.0, np.nan, np.nan)])
    h = fleet.hourly(fp)
    assert_allclose(h["cost_eur"], [3.0, 1.0])
    assert h["co2_kg"].iloc[0] == pytest.approx(0.040) and np.isnan(h["co2_kg"].iloc[1])


def test_period_change_last_week_vs_week_before():
    idx = pd.date_range(H, periods=14 * 24, freq="h")
    hourly = pd.DataFrame({"cost_eur": np.r_[np.full(7 * 24, 1.0), np.full(7 * 24, 1.5)],
                           "co2_kg": np.r_[np.full(7 * 24, 2.0), np.full(7 * 24, 1.0)]}, index=idx)
    ch = fleet.period_change(hourly, idx[0], idx[-1] + pd.Timedelta(hours=1))
    assert ch["cost_change_frac"] == pytest.approx(0.5) and ch["co2_change_frac"] == pytest.approx(-0.5)
    assert ch["reason"] is None and ch["period_days"] == 7


def test_period_change_short_window_is_a_gap_with_a_reason():
    idx = pd.date_range(H, periods=10 * 24, freq="h")
    hourly = pd.DataFrame({"cost_eur": 1.0, "co2_kg": 1.0}, index=idx)
    ch = fleet.period_change(hourly, idx[0], idx[-1] + pd.Timedelta(hours=1))
    assert np.isnan(ch["cost_change_frac"]) and np.isnan(ch["co2_change_frac"])
    assert "10 days" in ch["reason"] and "two 7-day periods" in ch["reason"]


@pytest.mark.parametrize(("frac", "level"), [(1.0, "good"), (0.95, "good"), (0.9, "fair"), (0.8, "fair"),
                                             (0.79, "poor"), (float("nan"), "n/a")])
def test_coverage_level(frac, level):
    assert fleet.coverage_level(frac) == level


def _mc(cost, co2, seed=1):
    draws = pd.DataFrame({"pue": [1.1, 1.2, 1.3], "cost_eur": cost, "co2_kg": co2, "energy_kwh": co2,
                          "cost_usd": cost})
    return uncertainty.MonteCarloResult(draws, seed)


def test_savings_quantiles_draw_by_draw_and_need_common_random_numbers():
    base, scen = _mc([100.0, 110.0, 120.0], [10.0, 11.0, 12.0]), _mc([90.0, 95.0, 100.0], [9.0, 9.0, 9.0])
    q = fleet.savings_quantiles(base, scen)
    assert q.loc["cost_eur", "q50"] == pytest.approx(15.0)  # savings 10, 15, 20
    assert q.loc["co2_kg", "q05"] == pytest.approx(1.0 + 0.1 * 1.0)  # 1, 2, 3 -> 5 % quantile (linear)
    with pytest.raises(ValueError, match="common random numbers"):
        fleet.savings_quantiles(base, _mc([90.0, 95.0, 100.0], [9.0, 9.0, 9.0], seed=2))


def test_business_case_annualises_savings_and_metrics_keys():
    mcs = {"baseline": _mc([100.0, 100.0, 100.0], [10.0, 10.0, 10.0]),
           "office_hours": _mc([80.0, 80.0, 80.0], [9.0, 9.0, 9.0]),
           "combined": _mc([70.0, 70.0, 70.0], [8.0, 8.0, 8.0])}
    case = fleet.business_case(mcs, window_h=24 * 7)
    assert list(case.index) == ["office_hours", "combined"]  # report order, only measures present
    weeks = 8760 / 168
    assert case.loc["office_hours", "cost_eur_per_year_q50"] == pytest.approx(20 * weeks)
    assert case.loc["combined", "co2_t_per_year_q95"] == pytest.approx(2 * weeks / 1000)
    assert case.loc["office_hours", "cost_frac_q50"] == pytest.approx(0.2)
    m = fleet.business_case_metrics(case)
    assert m["annual_saving_combined_cost_q50_eur"] == pytest.approx(30 * weeks)
    assert m["annual_saving_office_hours_co2_q05_t"] == pytest.approx(weeks / 1000)
    assert m["saving_combined_co2_q50_frac"] == pytest.approx(0.2)
    from finops_lib.report import check_metric_key

    for k in m:
        check_metric_key(k)


def test_schedule_recommendations_saving_and_threshold():
    # a: always on for 2 days; office hours keep 10 h on Monday only -> 38 h off. b: already office hours.
    base = _fp([("a", h, "m5.large", 1.0, 0.2, 0.1, 0.01, 4.0) for h in range(48)]
               + [("b", h, "t3.small", 1.0 if 8 <= h < 18 else 0.0, 0.2, 0.02, 0.0, 0.0) for h in range(48)])
    office = base.copy()
    off = (office["instance_id"] == "a") & ~office["hour"].dt.hour.between(8, 17)
    office.loc[off, ["running_frac", "cost_eur", "co2_g"]] = 0.0
    inst = _instances({"a": {"Name": "a1", "role": "variable", "Schedule": "always-on"}, "b": {"role": "office_hours"}},
                      {"a": "m5.large", "b": "t3.small"})
    rec = fleet.schedule_recommendations(base, office, ["a", "b"], inst, window_h=48)
    assert list(rec.index) == ["a"]  # b saves nothing
    assert rec.loc["a", "off_h_per_week"] == pytest.approx(28 * 7 * 24 / 48)
    assert rec.loc["a", "saved_eur_per_year"] == pytest.approx(28 * 0.1 * 8760 / 48)
    assert rec.loc["a", "saved_co2_kg_per_year"] == pytest.approx(28 * 4.0 * 8760 / 48 / 1000)
    assert rec.loc["a", "schedule_tag"] == "always-on"
    assert fleet.schedule_recommendations(base, office, ["a"], inst, 48, min_off_h_per_week=99).empty


def test_rightsizing_recommendations_risk_flags():
    rows = []
    for iid, typ, cpu in (("sat", "m5.xlarge", 0.3), ("mem", "m5.xlarge", 0.2), ("thin", "m5.xlarge", 0.2)):
        for h in range(10):
            rows.append((iid, h, typ, 1.0, cpu if (iid != "thin" or h < 3) else np.nan, 0.2, 0.02, 5.0))
    base = _fp(rows)
    resized = base.copy()
    resized["cost_eur"] = 0.1
    resized["co2_g"] = 3.0
    plan = pd.DataFrame({"instance_id": ["sat", "mem", "thin"], "instance_type": "m5.xlarge",
                         "cpu_p95_frac": [0.3, 0.2, 0.2], "new_type": "m5.large", "vcpu_ratio": 2.0})
    cpu = pd.DataFrame({"instance_id": ["sat", "mem", "thin"], "cpu_util_max_frac": [0.7, 0.4, 0.3]})
    rec = fleet.rightsizing_recommendations(base, resized, plan, cpu, window_h=10)
    assert rec.loc["sat", "risk"] == "high" and "saturate" in rec.loc["sat", "risk_reason"]
    assert rec.loc["sat", "peak_after_frac"] == pytest.approx(1.4)
    assert rec.loc["mem", "risk"] == "medium" and rec.loc["mem", "memory_after_frac"] == pytest.approx(0.5)
    assert rec.loc["thin", "risk"] == "high" and "30%" in rec.loc["thin", "risk_reason"]
    assert rec.loc["mem", "saved_eur_per_year"] == pytest.approx(10 * 0.1 * 876)
    assert rec.loc["mem", "saved_co2_kg_per_year"] == pytest.approx(10 * 2.0 * 876 / 1000)
    unchanged = plan.assign(new_type=plan["instance_type"])
    assert fleet.rightsizing_recommendations(base, resized, unchanged, cpu, 10).empty


@pytest.mark.slow
def test_fleet_view_of_small_snapshot_adds_up(small_sandbox_snapshot):
    from finops_lib import calc, factors
    from finops_lib.snapshot import read_snapshot

    snap = read_snapshot(small_sandbox_snapshot)
    base, _ = fleet.fleet_hourly(snap)
    fp = fleet.footprint(base, snap, pue=1.35, eur_per_usd=factors.EUR_PER_USD["value"])
    pi = fleet.per_instance(fp, snap["instances"])
    daily = calc.daily_compute_comparison(calc.hourly_cost_usd(base, snap["instances"], snap["prices"]),
                                          snap["instances"], fleet.billed_daily_costs(snap["costs"], snap.window_start,
                                                                                      snap.window_end))
    tot = fleet.totals(fp, snap, daily.dropna(subset=["calculated_usd", "billed_usd"]))
    assert tot["total_cost_eur"] == pytest.approx(pi["cost_eur"].sum())
    assert tot["total_co2_kg"] == pytest.approx(pi["co2_kg"].sum())
    assert tot["window_h"] == 7 * 24 and tot["instances_count"] == 12
    assert tot["annual_cost_eur"] == pytest.approx(tot["total_cost_eur"] * 8760 / 168)
    assert tot["cpu_running_coverage_frac"] == pytest.approx(1 - tot["running_h_without_cpu_h"] / tot["total_running_h"])
    # Cost Explorer / calculated over the paired days (the sandbox bills RIs and hourly Spot prices, which
    # list price x runtime does not know: the factor is a result, not a constant)
    pairs = daily.dropna(subset=["calculated_usd", "billed_usd"])
    assert tot["validation_factor_ratio"] == pytest.approx(pairs["billed_usd"].sum() / pairs["calculated_usd"].sum())
    assert 0 < tot["validation_factor_ratio"] < 2
    tables, plans = fleet.scenario_tables(base, snap["instances"], snap.intensity(), snap["power_profiles"],
                                          snap.usd_per_hour())
    assert set(tables) == {"baseline", *fleet.MEASURES}
    run = {k: t["running_frac"].sum() for k, t in tables.items()}
    assert run["office_hours"] <= run["baseline"] and run["carbon_aware_shift"] == pytest.approx(run["baseline"])
    mcs = fleet.scenario_monte_carlo(tables, snap["power_profiles"], snap.usd_per_hour(), snap.intensity(), 64, 1)
    case = fleet.business_case(mcs, tot["window_h"])
    assert (case["cost_eur_per_year_q05"] <= case["cost_eur_per_year_q50"]).all()
    assert (case["cost_eur_per_year_q50"] <= case["cost_eur_per_year_q95"]).all()
    assert case.loc["carbon_aware_shift", "cost_eur_per_year_q50"] == pytest.approx(0.0, abs=1e-9)  # moves, never stops
    assert case.loc["office_hours", "cost_eur_per_year_q50"] > 0


def test_scenario_summary_columns_feed_scenario_metrics():
    from finops_lib import report

    mcs = {"baseline": _mc([100.0, 110.0, 120.0], [10.0, 11.0, 12.0]),
           "office_hours": _mc([80.0, 88.0, 96.0], [9.0, 9.9, 10.8])}
    summary, savings = fleet.scenario_summary(mcs)
    assert summary.loc["baseline", "cost_eur_q50"] == 110.0 and summary.loc["office_hours", "co2_kg_q50"] == 9.9
    assert list(savings.index) == ["office_hours"]
    assert savings.loc["office_hours", "cost_eur_q50"] == pytest.approx(0.2)  # 20 % in every draw
    assert savings.loc["office_hours", "co2_kg_q05"] == pytest.approx(0.1)
    m = report.scenario_metrics(summary, savings)
    assert m["office_hours_saving_cost_q50_frac"] == pytest.approx(0.2) and m["baseline_co2_q95_kg"] == pytest.approx(11.9)
