"""Scenarios: office hours, carbon-aware shifting, rightsizing (hand-computed values)."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import factors
from finops_lib.calc import scenarios as sc


def _profiles():
    rows = []
    for t, watts in factors.BOAVIZTA_REFERENCE_POWER_W.items():
        for load, w in zip(factors.BOAVIZTA_REFERENCE_LOADS_FRAC, watts, strict=True):
            rows.append({"instance_type": t, "load_frac": load, "power_w": w})
    return pd.DataFrame(rows)


def _fleet(hours, ids_types, running, cpu):
    rows = []
    for (iid, t), r_row, c_row in zip(ids_types, running, cpu, strict=True):
        for h, r, c in zip(hours, r_row, c_row, strict=True):
            rows.append({"instance_id": iid, "hour": h, "instance_type": t, "lifecycle": "on-demand",
                         "running_frac": r, "cpu_util_frac": c})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- office hours
def test_office_hours_mask_winter_summer_holiday_weekend():
    hours = pd.DatetimeIndex(
        [
            "2024-01-01 09:00",  # Monday, New Year (public holiday) -> off
            "2024-01-02 06:00",  # Tue 07:00 CET -> off
            "2024-01-02 07:00",  # Tue 08:00 CET -> on
            "2024-01-02 16:00",  # Tue 17:00 CET -> on
            "2024-01-02 17:00",  # Tue 18:00 CET -> off
            "2024-07-02 06:00",  # Tue 08:00 CEST -> on
            "2024-07-02 16:00",  # Tue 18:00 CEST -> off
            "2024-01-06 10:00",  # Saturday -> off
            "2024-10-03 10:00",  # German Unity Day -> off
        ],
        tz="UTC",
    )
    expected = [False, False, True, True, False, True, False, False, False]
    assert sc.office_hours_mask(hours).tolist() == expected


def test_office_hours_mask_week_has_50_hours_and_series_keeps_index():
    hours = pd.Series(pd.date_range("2024-01-08", periods=7 * 24, freq="h", tz="UTC"), index=range(100, 268))
    mask = sc.office_hours_mask(hours)
    assert isinstance(mask, pd.Series) and mask.index.equals(hours.index)
    assert mask.sum() == 5 * 10


def test_office_hours_mask_rejects_naive_and_bad_hours():
    with pytest.raises(ValueError, match="timezone-aware"):
        sc.office_hours_mask(pd.date_range("2024-01-08", periods=3, freq="h"))
    with pytest.raises(ValueError, match="start_h"):
        sc.office_hours_mask(pd.date_range("2024-01-08", periods=3, freq="h", tz="UTC"), start_h=18, end_h=8)


def test_apply_office_hours_only_touches_selected_instances():
    hours = pd.date_range("2024-01-08", periods=48, freq="h", tz="UTC")  # Mon+Tue
    fh = _fleet(hours, [("i-a", "m6a.large"), ("i-b", "m6a.large")], [np.ones(48), np.ones(48)], [np.full(48, 0.1)] * 2)
    out = sc.apply_office_hours(fh, ["i-a"])
    by = out.groupby("instance_id")["running_frac"].sum()
    assert by["i-a"] == 20 and by["i-b"] == 48


# ----------------------------------------------------------------- carbon-aware
def _intensity():
    hours = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    return pd.Series([5.0, 4.0, 3.0, 1.0, 1.0, 6.0], index=hours), hours


def test_carbon_aware_shift_picks_greenest_window_before_deadline():
    s, h = _intensity()
    # 2-h windows: means 4.5, 3.5, 2.0, 1.0, 3.5 -> start at h[3]
    assert sc.carbon_aware_shift(h[0], 2, h[0] + pd.Timedelta(hours=6), s) == h[3]
    # deadline at h[4] -> latest start h[2]
    assert sc.carbon_aware_shift(h[0], 2, h[4], s) == h[2]
    # no room: stays
    assert sc.carbon_aware_shift(h[1], 2, h[3], s) == h[1]
    with pytest.raises(ValueError, match="cannot finish"):
        sc.carbon_aware_shift(h[1], 3, h[3], s)


def test_apply_carbon_aware_shift_moves_job_and_conserves_work():
    s, h = _intensity()
    fh = _fleet(h, [("i-b", "m6a.large")], [[1, 1, 0, 0, 0, 0]], [[0.5, 0.4, 0, 0, 0, 0]])
    jobs = sc.jobs_from_fleet_hourly(fh, ["i-b"], slack_h=10)
    assert len(jobs) == 1 and jobs.loc[0, "duration_h"] == 2
    shifted, plan = sc.apply_carbon_aware_shift(fh, jobs, s)
    assert plan.loc[0, "best_start"] == h[3] and plan.loc[0, "shift_h"] == 3
    got = shifted.set_index("hour")
    assert got["running_frac"].tolist() == [0, 0, 0, 1, 1, 0]
    assert got["cpu_util_frac"].iloc[3:5].tolist() == [0.5, 0.4]
    assert shifted["running_frac"].sum() == fh["running_frac"].sum()


def test_jobs_deadline_stops_at_next_run():
    h = pd.date_range("2024-01-01", periods=8, freq="h", tz="UTC")
    fh = _fleet(h, [("i-c", "m6a.large")], [[1, 0, 0, 1, 1, 0, 0, 0]], [[0.2] * 8])
    jobs = sc.jobs_from_fleet_hourly(fh, ["i-c"], slack_h=24)
    assert jobs["duration_h"].tolist() == [1, 2]
    assert jobs.loc[0, "deadline"] == h[3]
    assert jobs.loc[1, "deadline"] == h[4] + pd.Timedelta(hours=25)


# ----------------------------------------------------------------- rightsizing
@pytest.mark.parametrize(
    ("itype", "p95", "expected"),
    [
        ("m5.2xlarge", 0.2, "m5.xlarge"),  # 0.2*8/v <= 0.6 -> v >= 2.67
        ("m5.2xlarge", 0.1, "m5.large"),  # v >= 1.33
        ("m5.2xlarge", 0.5, "m5.2xlarge"),  # v >= 6.67
        ("t3.xlarge", 0.2, "t3.large"),  # same 4 GiB per vCPU
        ("t3.large", 0.05, "t3.large"),  # t3.medium halves memory per vCPU -> not allowed
        ("m5.xlarge", float("nan"), "m5.xlarge"),
    ],
)
def test_rightsize(itype, p95, expected):
    assert sc.rightsize(itype, p95) == expected


def test_rightsize_rejects_unknown_type_and_bad_load():
    with pytest.raises(KeyError, match="m9.huge"):
        sc.rightsize("m9.huge", 0.1)
    with pytest.raises(ValueError, match="cpu_p95_frac"):
        sc.rightsize("m5.large", 1.5)


def test_apply_rightsizing_scales_cpu_by_vcpu_ratio():
    h = pd.date_range("2024-01-01", periods=20, freq="h", tz="UTC")
    fh = _fleet(h, [("i-d", "m5.2xlarge")], [np.ones(20)], [np.full(20, 0.1)])
    plan = sc.rightsizing_plan(fh)
    assert plan.loc[0, "new_type"] == "m5.large" and plan.loc[0, "vcpu_ratio"] == 4
    out = sc.apply_rightsizing(fh, plan)
    assert (out["instance_type"] == "m5.large").all()
    assert_allclose(out["cpu_util_frac"], 0.4)


# ----------------------------------------------------------------- point estimate
def test_fleet_hourly_totals_hand_computed():
    h = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    fh = _fleet(h, [("i-e", "m6a.large")], [[1.0, 0.5]], [[0.1, 0.5]])
    intensity = pd.Series([400.0, 200.0], index=h)
    got = sc.fleet_hourly_totals(fh, _profiles(), {"m6a.large": 0.1035}, intensity, pue=1.2, eur_per_usd=0.9)
    e1 = 3.161 * 1.0 * 1.2 / 1000
    e2 = 6.010 * 0.5 * 1.2 / 1000
    assert_allclose(got["energy_kwh"], e1 + e2)
    assert_allclose(got["co2_kg"], (e1 * 400 + e2 * 200) / 1000)
    assert_allclose(got["cost_usd"], 1.5 * 0.1035)
    assert_allclose(got["cost_eur"], 1.5 * 0.1035 * 0.9)
    assert got["energy_without_intensity_kwh"] == 0


def test_fleet_hourly_totals_reports_intensity_gap_and_unknown_profile():
    h = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    fh = _fleet(h, [("i-e", "m6a.large")], [[1.0, 1.0]], [[0.1, 0.1]])
    intensity = pd.Series([400.0, np.nan], index=h)
    got = sc.fleet_hourly_totals(fh, _profiles(), {"m6a.large": 0.1}, intensity, pue=1.0, eur_per_usd=1.0)
    assert_allclose(got["energy_without_intensity_kwh"], 3.161 / 1000)
    fh["instance_type"] = "m5.large"
    with pytest.raises(KeyError, match="m5.large"):
        sc.fleet_hourly_totals(fh, _profiles(), {"m5.large": 0.1}, intensity, pue=1.0, eur_per_usd=1.0)


# ----------------------------------------------------------------- from snapshot tables
def test_fleet_hourly_table_keeps_cpu_gaps_and_maps_types():
    h = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    frac = pd.DataFrame({"instance_id": "i-a", "hour": h, "running_frac": [1.0, 1.0, 0.0]})
    cpu = pd.DataFrame({"instance_id": "i-a", "hour": h[:1], "cpu_util_frac": [0.3]})
    inst = pd.DataFrame({"instance_id": ["i-a"], "instance_type": ["m5.large"], "lifecycle": ["spot"], "tags": ["{}"]})
    fh = sc.fleet_hourly_table(frac, cpu, inst)
    assert (fh["lifecycle"] == "spot").all()
    assert fh["cpu_util_frac"].iloc[0] == 0.3 and fh["cpu_util_frac"].iloc[1:].isna().all()
    assert (fh["instance_type"] == "m5.large").all()
    with pytest.raises(KeyError, match="i-zz"):
        sc.fleet_hourly_table(frac.assign(instance_id="i-zz"), cpu, inst)


def test_flexible_jobs_use_deadline_tag_and_shift_into_green_night():
    # one nightly job 01:00-03:00 UTC, deadline 06:00, may start 24 h earlier; greenest hours 13-14 UTC
    h = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    run = np.zeros(48)
    run[25:27] = 1.0
    fh = _fleet(h, [("i-f", "c6g.large")], [run], [np.full(48, 0.5)])
    tags = '{"flexible": "true", "deadline_hour_utc": "6"}'
    inst = pd.DataFrame({"instance_id": ["i-f"], "instance_type": ["c6g.large"], "tags": [tags]})
    jobs = sc.flexible_jobs(fh, inst, window_h=24)
    assert jobs.loc[0, "deadline"] == h[30] and jobs.loc[0, "release"] == h[6] and jobs.loc[0, "duration_h"] == 2
    intensity = pd.Series(400.0, index=h)
    intensity.iloc[13:15] = 100.0
    shifted, plan = sc.apply_carbon_aware_shift(fh, jobs, intensity)
    assert plan.loc[0, "best_start"] == h[13] and plan.loc[0, "shift_h"] == -12
    assert shifted.set_index("hour")["running_frac"].iloc[13:15].tolist() == [1.0, 1.0]
    assert shifted["running_frac"].sum() == 2
    bad = inst.assign(tags='{"flexible": "true"}')
    with pytest.raises(ValueError, match="deadline_hour_utc"):
        sc.flexible_jobs(fh, bad)
