"""Scenarios: office hours, carbon-aware shifting, rightsizing (hand-computed values)."""

import json

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
        ("m5.2xlarge", 0.1, "m5.xlarge"),  # v >= 1.33 would allow m5.large, but 8 GiB < 0.5 x 32 GiB
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
    plan = sc.rightsizing_plan(fh, min_memory_frac=0.25)
    assert plan.loc[0, "new_type"] == "m5.large" and plan.loc[0, "vcpu_ratio"] == 4
    out = sc.apply_rightsizing(fh, plan)
    assert (out["instance_type"] == "m5.large").all()
    assert_allclose(out["cpu_util_frac"], 0.4)


def test_rightsizing_plan_leaves_a_type_outside_the_catalog_as_a_gap():
    """Regression (issue 10, item 9): a type with a price gap is left out of the snapshot's catalog;
    the plan keeps it with a reason instead of calling a catalogued type 'unknown'."""
    h = pd.date_range("2024-01-01", periods=20, freq="h", tz="UTC")
    fh = _fleet(h, [("i-a", "m5.2xlarge"), ("i-b", "m6a.large")], [np.ones(20)] * 2, [np.full(20, 0.1)] * 2)
    catalog = {t: v for t, v in factors.INSTANCE_CATALOG.items() if not t.startswith("m6a")}
    plan = sc.rightsizing_plan(fh, catalog=catalog, min_memory_frac=0.25).set_index("instance_id")
    assert plan.loc["i-a", "new_type"] == "m5.large" and plan.loc["i-a", "note"] == ""
    assert plan.loc["i-b", "new_type"] == "m6a.large" and plan.loc["i-b", "vcpu_ratio"] == 1.0
    assert "m6a.large not in the catalog" in plan.loc["i-b", "note"]
    with pytest.raises(KeyError, match="not in the catalog given"):
        sc.rightsize("m6a.large", 0.1, catalog=catalog)


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
    jobs = sc.flexible_jobs(fh, inst, window_h=24, delay_only=False)
    assert jobs.loc[0, "deadline"] == h[30] and jobs.loc[0, "release"] == h[6] and jobs.loc[0, "duration_h"] == 2
    intensity = pd.Series(400.0, index=h)
    intensity.iloc[13:15] = 100.0
    shifted, plan = sc.apply_carbon_aware_shift(fh, jobs, intensity)
    assert plan.loc[0, "best_start"] == h[13] and plan.loc[0, "shift_h"] == -12
    # delay-only (the default): released at its original start, the job can only wait for greener hours
    late = sc.flexible_jobs(fh, inst, window_h=24)
    assert late.loc[0, "release"] == late.loc[0, "original_start"] == h[25]
    intensity.iloc[28:30] = 150.0
    _, plan2 = sc.apply_carbon_aware_shift(fh, late, intensity)
    assert plan2.loc[0, "best_start"] == h[28] and plan2.loc[0, "shift_h"] == 3
    assert shifted.set_index("hour")["running_frac"].iloc[13:15].tolist() == [1.0, 1.0]
    assert shifted["running_frac"].sum() == 2
    bad = inst.assign(tags='{"flexible": "true"}')
    with pytest.raises(ValueError, match="deadline_hour_utc"):
        sc.flexible_jobs(fh, bad)


# ----------------------------------------------------------------- regression: gaps, jobs, deadlines
def test_rightsize_keeps_min_memory_frac_of_total_memory():
    # m5.2xlarge (8 vCPU, 32 GiB) at p95 0.1: CPU alone allows m5.large (2 vCPU, 8 GiB)
    assert sc.rightsize("m5.2xlarge", 0.1, min_memory_frac=0.25) == "m5.large"
    assert sc.rightsize("m5.2xlarge", 0.1) == "m5.xlarge"  # 16 GiB = 0.5 x 32 GiB
    assert sc.rightsize("m5.2xlarge", 0.1, min_memory_frac=1.0) == "m5.2xlarge"
    with pytest.raises(ValueError, match="min_memory_frac"):
        sc.rightsize("m5.2xlarge", 0.1, min_memory_frac=0.0)


def test_power_w_from_profiles_never_mixes_sources():
    p = _profiles().assign(source="boavizta")
    ccf = p[p["instance_type"] == "m6a.large"].assign(source="ccf", power_w=lambda d: d["power_w"] * 2)
    mixed = pd.concat([p, ccf], ignore_index=True)
    with pytest.raises(ValueError, match="m6a.large.*mixes sources"):
        sc.power_w_from_profiles(["m6a.large"], [0.1], mixed)
    assert_allclose(sc.power_w_from_profiles(["m6a.large"], [0.1], mixed, source="boavizta"), 3.161)
    assert_allclose(sc.power_w_from_profiles(["m6a.large"], [0.1], mixed, source="ccf"), 2 * 3.161)
    with pytest.raises(KeyError, match="c6g.large"):
        sc.power_w_from_profiles(["c6g.large"], [0.1], mixed, source="ccf")


def test_fleet_hourly_totals_reports_cpu_and_runtime_gaps_and_rejects_missing_price():
    h = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    intensity = pd.Series([400.0, 400.0], index=h)
    prof, price = _profiles(), {"m6a.large": 0.1}
    # running hour without CPU: in cost, not in energy, reported
    got = sc.fleet_hourly_totals(_fleet(h, [("i-a", "m6a.large")], [[1.0, 1.0]], [[0.1, np.nan]]),
                                 prof, price, intensity, pue=1.0, eur_per_usd=1.0)
    assert_allclose([got["cost_usd"], got["energy_kwh"], got["running_h_without_cpu"]], [0.2, 3.161 / 1000, 1.0])
    assert got["running_h_unknown"] == 0
    # unknown running state: in no total, reported
    got = sc.fleet_hourly_totals(_fleet(h, [("i-a", "m6a.large")], [[1.0, np.nan]], [[0.1, 0.1]]),
                                 prof, price, intensity, pue=1.0, eur_per_usd=1.0)
    assert_allclose([got["cost_usd"], got["energy_kwh"], got["running_h"], got["running_h_unknown"]],
                    [0.1, 3.161 / 1000, 1.0, 1.0])
    fh = _fleet(h, [("i-a", "m6a.large")], [[1.0, 1.0]], [[0.1, 0.1]])
    with pytest.raises(KeyError, match="m6a.large"):
        sc.fleet_hourly_totals(fh, prof, {"c6g.large": 0.1}, intensity, pue=1.0, eur_per_usd=1.0)
    with pytest.raises(ValueError, match="NaN.*m6a.large"):
        sc.fleet_hourly_totals(fh, prof, {"m6a.large": np.nan}, intensity, pue=1.0, eur_per_usd=1.0)


def test_carbon_aware_shift_treats_absent_hour_as_gap():
    h = pd.date_range("2024-01-01", periods=8, freq="h", tz="UTC")
    s = pd.Series([500, 500, 500, 500, 10, 500, 500, 500.0], index=h).drop(h[3])
    # [h2, h3] has no mean (h3 absent); greenest complete window is [h4, h5]
    assert sc.carbon_aware_shift(h[0], 2, h[7] + pd.Timedelta(hours=1), s) == h[4]


def test_apply_shift_keeps_job_whose_own_window_lacks_intensity_and_skips_absent_hours():
    h = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    fh = _fleet(h, [("i-a", "m6a.large")], [[1, 1, 0, 0, 0, 0]], [[0.5, 0.5] + [np.nan] * 4])
    jobs = sc.jobs_from_fleet_hourly(fh, ["i-a"], slack_h=10)
    own_gap = pd.Series([np.nan, 300, 200, 200, 600, 600.0], index=h)
    out, plan = sc.apply_carbon_aware_shift(fh, jobs, own_gap)
    assert plan.loc[0, "shift_h"] == 0 and plan.loc[0, "reason"] == "own_window_lacks_intensity"
    assert out["running_frac"].tolist() == [1, 1, 0, 0, 0, 0]
    # hour 3 absent: windows at h2 and h3 have no mean -> greenest complete window starts at h1 (mean 350)
    absent = pd.Series([600, 600, 100, np.nan, 100, 600.0], index=h).dropna()
    out, plan = sc.apply_carbon_aware_shift(fh, jobs, absent)
    assert plan.loc[0, "best_start"] == h[1]
    assert out["running_frac"].tolist() == [0, 1, 1, 0, 0, 0]


def _check_shift_invariants(fh, jobs, out, plan):
    """Moved jobs meet deadlines, never overlap, conserve running hours and CPU work; vacated hours are empty."""
    for iid, g in plan.groupby("instance_id"):
        ends = g["best_start"] + pd.to_timedelta(g["duration_h"], unit="h")
        assert (ends <= g["deadline"]).all() and (g["best_start"] >= g["release"]).all()
        hrs = np.concatenate([pd.date_range(s, periods=d, freq="h").asi8 for s, d in zip(g["best_start"], g["duration_h"], strict=True)])
        assert len(hrs) == len(set(hrs)), f"overlapping jobs of {iid}"
    assert_allclose(out.groupby("instance_id")["running_frac"].sum(), fh.groupby("instance_id")["running_frac"].sum())
    work = lambda t: (t["running_frac"] * t["cpu_util_frac"]).groupby(t["instance_id"]).sum()  # noqa: E731
    assert_allclose(work(out), work(fh))
    got = out.set_index(["instance_id", "hour"])
    for job in plan[plan["reason"] == "moved"].itertuples():
        old = pd.date_range(job.original_start, periods=job.duration_h, freq="h")
        vacated = [(job.instance_id, t) for t in old.difference(pd.date_range(job.best_start, periods=job.duration_h, freq="h"))]
        assert (got.loc[vacated, "running_frac"] == 0).all() and got.loc[vacated, "cpu_util_frac"].isna().all()
    assert (out["running_frac"] <= 1).all()


def test_flexible_jobs_use_original_start_and_stop_at_next_run():
    # job A 00-01 (cpu 0.9), job B 05-07 (cpu 0.2, 0.3); deadline tag 20 h; green hours 03 and 10-11
    h = pd.date_range("2024-01-01", periods=24, freq="h", tz="UTC")
    run = np.zeros(24)
    run[[0, 5, 6]] = 1
    cpu = np.full(24, np.nan)
    cpu[[0, 5, 6]] = [0.9, 0.2, 0.3]
    fh = _fleet(h, [("i-f", "c6g.large")], [run], [cpu])
    inst = pd.DataFrame({"instance_id": ["i-f"], "instance_type": ["c6g.large"],
                         "tags": ['{"flexible":"true","deadline_hour_utc":"20"}']})
    jobs = sc.flexible_jobs(fh, inst, window_h=24)
    assert jobs["original_start"].tolist() == [h[0], h[5]]
    assert jobs.loc[0, "deadline"] == h[5]  # capped at the next run's start, not 20:00
    intensity = pd.Series(500.0, index=h)
    intensity.iloc[3] = 50
    intensity.iloc[10:12] = 100
    out, plan = sc.apply_carbon_aware_shift(fh, jobs, intensity)
    assert plan["best_start"].tolist() == [h[3], h[10]]
    got = out.set_index("hour")
    assert got.loc[got["running_frac"] > 0, "cpu_util_frac"].to_dict() == {h[3]: 0.9, h[10]: 0.2, h[11]: 0.3}
    _check_shift_invariants(fh, jobs, out, plan)


def test_shift_identifies_job_after_earlier_move_and_meets_deadline():
    # job A 00:00 day 1 (deadline 20:00 day 1), job B 21:00 day 1 released 01:00 day 1; A moves to 03:00 first
    h = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    run = np.zeros(48)
    run[[0, 21]] = 1
    cpu = np.full(48, np.nan)
    cpu[[0, 21]] = [0.9, 0.2]
    fh = _fleet(h, [("i-f", "c6g.large")], [run], [cpu])
    inst = pd.DataFrame({"instance_id": ["i-f"], "instance_type": ["c6g.large"],
                         "tags": ['{"flexible":"true","deadline_hour_utc":"20"}']})
    jobs = sc.flexible_jobs(fh, inst, window_h=48)
    intensity = pd.Series(500.0, index=h)
    intensity.iloc[3] = 50
    intensity.iloc[34] = 10
    out, plan = sc.apply_carbon_aware_shift(fh, jobs, intensity)
    assert plan["original_start"].tolist() == [h[0], h[21]]
    assert plan["best_start"].tolist() == [h[3], h[34]]
    got = out.set_index("hour")["cpu_util_frac"]
    assert got[h[3]] == 0.9 and got[h[34]] == 0.2 and np.isnan(got[h[0]]) and np.isnan(got[h[21]])
    _check_shift_invariants(fh, jobs, out, plan)


def test_shift_never_extends_a_deadline():
    h = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    fh = _fleet(h, [("i-a", "m6a.large")], [[1, 1, 0, 0, 0, 0]], [[0.5, 0.5] + [np.nan] * 4])
    jobs = sc.jobs_from_fleet_hourly(fh, ["i-a"], slack_h=3)
    with pytest.raises(ValueError, match="outside its release"):
        sc.apply_carbon_aware_shift(fh, jobs.assign(deadline=h[1]), pd.Series(1.0, index=h))
    with pytest.raises(ValueError, match="lacks columns"):
        sc.apply_carbon_aware_shift(fh, jobs.drop(columns="original_start"), pd.Series(1.0, index=h))


@pytest.mark.parametrize("seed", range(6))
def test_shift_invariants_on_random_fleets(seed):
    rng = np.random.default_rng(seed)
    h = pd.date_range("2024-01-01", periods=72, freq="h", tz="UTC")
    ids = [(f"i-{k}", "c6g.large") for k in range(3)]
    run = (rng.random((3, 72)) < 0.3).astype(float)
    cpu = np.where(run > 0, rng.uniform(0.05, 0.95, (3, 72)), np.nan)
    fh = _fleet(h, ids, run, cpu)
    tags = [json.dumps({"flexible": "true", "deadline_hour_utc": str(rng.integers(24))}) for _ in ids]
    inst = pd.DataFrame({"instance_id": [i for i, _ in ids], "instance_type": "c6g.large", "tags": tags})
    jobs = sc.flexible_jobs(fh, inst, window_h=24)
    intensity = pd.Series(rng.uniform(50, 600, 72), index=h)
    intensity = intensity.drop(h[rng.choice(72, 6, replace=False)])  # absent hours
    out, plan = sc.apply_carbon_aware_shift(fh, jobs, intensity)
    assert (plan["reason"] == "moved").sum() > 0
    _check_shift_invariants(fh, jobs, out, plan)


# --------------------------------------------------------------------------- accounting helpers
def test_hour_aligned_split_hand_computed():
    h = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    ci = pd.Series([100.0, 300.0], index=h)
    got = sc.hour_aligned_split(pd.Series([3.0, 1.0], index=h), ci, 250.0)
    # aligned 3*100 + 1*300 = 600; window mean 200 -> 800; annual 250 -> 1000
    assert got["hour_aligned_vs_annual_frac"] == pytest.approx(-0.4)
    assert got["alignment_frac"] == pytest.approx(-0.25)
    assert got["season_frac"] == pytest.approx(-0.2)
    assert (1 + got["alignment_frac"]) * (1 + got["season_frac"]) == pytest.approx(1 + got["hour_aligned_vs_annual_frac"])
    flat = sc.hour_aligned_split(pd.Series([1.0, 1.0], index=h), ci, 200.0)
    assert flat["alignment_frac"] == pytest.approx(0.0) and flat["season_frac"] == pytest.approx(0.0)


def test_scenario_metrics_keys_and_values():
    cols = [f"{o}_{q}" for o in ("cost_eur", "co2_kg", "energy_kwh") for q in ("q05", "q50", "q95")]
    summary = pd.DataFrame([np.arange(9.0), np.arange(9.0) + 10], index=["baseline", "combined"], columns=cols)
    savings = pd.DataFrame([np.arange(9.0) / 100], index=["combined"], columns=cols)
    m = sc.scenario_metrics(summary, savings)
    assert m["baseline_cost_q05_eur"] == 0.0 and m["baseline_co2_q50_kg"] == 4.0
    assert m["combined_energy_q95_kwh"] == 18.0
    assert m["combined_saving_cost_q50_frac"] == 0.01 and m["combined_saving_co2_q95_frac"] == 0.05
    assert len(m) == 2 * 9 + 6 and not any("energy" in k and "saving" in k for k in m)


def test_shift_decides_on_the_forecast_issued_before_release():
    """The forecast issued before the job's release decides; the realised series only scores."""
    h = pd.date_range("2024-01-01", periods=24, freq="h", tz="UTC")
    run = np.zeros(24)
    run[2] = 1.0
    fh = _fleet(h, [("i-f", "c6g.large")], [run], [np.full(24, 0.5)])
    inst = pd.DataFrame({"instance_id": ["i-f"], "instance_type": ["c6g.large"],
                         "tags": ['{"flexible": "true", "deadline_hour_utc": "12"}']})
    jobs = sc.flexible_jobs(fh, inst)
    realised = pd.Series(400.0, index=h)
    realised.iloc[9] = 100.0  # truly greenest at 09:00
    # issued at 01:00 (before release 02:00): predicts 05:00 greenest; one issued at 02:00 is too late
    f1 = pd.DataFrame({"issued_at": h[1], "hour": h[2:14], "intensity_g_per_kwh": 400.0})
    f1.loc[f1["hour"] == h[5], "intensity_g_per_kwh"] = 200.0
    f2 = pd.DataFrame({"issued_at": h[2], "hour": h[3:15], "intensity_g_per_kwh": 400.0})
    f2.loc[f2["hour"] == h[9], "intensity_g_per_kwh"] = 100.0
    fc = pd.concat([f1, f2], ignore_index=True)
    _, plan = sc.apply_carbon_aware_shift(fh, jobs, realised, forecasts=fc)
    assert plan.loc[0, "best_start"] == h[5] and plan.loc[0, "reason"] == "moved"
    _, oracle = sc.apply_carbon_aware_shift(fh, jobs, realised)  # perfect foresight
    assert oracle.loc[0, "best_start"] == h[9]
    # no forecast issued before release: the job stays
    _, none = sc.apply_carbon_aware_shift(fh, jobs, realised, forecasts=f2)
    assert none.loc[0, "reason"] == "no_forecast" and none.loc[0, "shift_h"] == 0
    assert sc.forecast_at(fc, h[2]).index[0] == h[2]


def test_job_level_shift_saving_hand_computed():
    h = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    run = np.array([1.0, 0, 0, 0, 0, 0])
    fh = _fleet(h, [("i-f", "m6a.large")], [run], [np.array([0.5] + [np.nan] * 5)])
    plan = pd.DataFrame({"instance_id": ["i-f"], "original_start": [h[0]], "duration_h": [1], "best_start": [h[3]],
                         "reason": ["moved"]})
    intensity = pd.Series([400.0, 400, 400, 100, 400, 400], index=h)
    got = sc.job_level_shift_saving(plan, fh, _profiles(), intensity)
    p = 6.010  # BoaviztAPI m6a.large at 50 % load [W]
    assert got["job_saving_co2_frac"] == pytest.approx(0.75)
    assert got["job_co2_original_g"] == pytest.approx(p * 400 / 1000)
    assert got["jobs_count"] == 1 and got["moved_jobs_count"] == 1
