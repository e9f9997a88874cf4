"""The simulated world: determinism, validation, truth invariants, intensity calibration."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import factors, schema
from finops_lib.sandbox import intensity as ci
from finops_lib.sandbox import truth as T
from finops_lib.sandbox.world import (
    MAX_DAYS,
    WorldConfig,
    build_world,
    draw_true_factors,
)

SMALL = {"n_instances": 30, "days": 10, "short_run_rate": 0.2}


@pytest.fixture(scope="module")
def world():
    return build_world(SMALL)


@pytest.fixture(scope="module")
def truth(world):
    return world.truth_tables()


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_tables(truth):
    again = build_world(SMALL).truth_tables()
    for name, df in truth.items():
        assert _parquet_bytes(df) == _parquet_bytes(again[name]), name


def test_same_seed_gives_identical_served_data(world):
    other = build_world(SMALL)
    assert other.served_records == world.served_records
    pd.testing.assert_frame_equal(other.cw_hourly, world.cw_hourly)
    pd.testing.assert_frame_equal(other.cost_lines, world.cost_lines)
    pd.testing.assert_series_equal(other.intensity_year, world.intensity_year)


def test_different_seed_differs(truth):
    other = build_world({**SMALL, "seed": 7}).truth_tables()
    assert _parquet_bytes(other["truth_intervals"]) != _parquet_bytes(truth["truth_intervals"])
    assert not other["truth_factors"]["value"].equals(truth["truth_factors"]["value"])


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"n_instancess": 3}, "n_instancess"),
        ({"instance_types": {"production": ["m5.huge"]}}, "m5.huge"),
        ({"os_shutdown_rate": -0.1}, "os_shutdown_rate"),
        ({"cloudwatch_gap_rate": 1.5}, "cloudwatch_gap_rate"),
        ({"days": MAX_DAYS + 1}, "days"),
        ({"days": 0}, "days"),
        ({"n_instances": 0}, "n_instances"),
        ({"window_end": "2026-11-01T00:00:00"}, "window_end"),
        ({"window_end": "2026-11-01T00:30:00Z"}, "window_end"),
        ({"region": "us-east-1"}, "region"),
        ({"zone": "FR"}, "zone"),
        ({"role_mix": {"gaming": 1.0}}, "gaming"),
        ({"role_mix": {"production": -1.0}}, "role_mix"),
        ({"truth_power_model": "magic"}, "truth_power_model"),
        ({"os_shutdown_rate": 0.6, "missing_record_rate": 0.6}, "sum to"),
    ],
)
def test_bad_config_is_a_clear_error(override, field):
    with pytest.raises(ValueError, match=field):
        WorldConfig.from_dict(override)


def test_config_round_trips_through_dict():
    c = WorldConfig.from_dict({"seed": 3, "n_instances": 12})
    assert WorldConfig.from_dict(c.to_dict()) == c
    json.dumps(c.to_dict())  # manifest-ready


# --------------------------------------------------------------------------- truth invariants
def test_truth_tables_match_the_contract(truth):
    assert set(truth) == set(schema.TRUTH_TABLES)
    for name, df in truth.items():
        assert list(df.columns) == list(schema.TRUTH_TABLES[name]), name


def test_billing_follows_aws_rules(world, truth):
    """Per second, 60 s minimum, pending not billed, Spot first hour free, RI usage at 0 (truth.py's rules)."""
    iv, bill = truth["truth_intervals"], truth["truth_billing"]
    pieces = bill.iloc[: len(iv)].reset_index(drop=True)
    assert (pieces["instance_id"] == iv["instance_id"]).all()
    dur_s = (iv["end"] - iv["start"]).dt.total_seconds()
    started = iv["start_cause"].isin(["run", "start_api"])
    ended = iv["end_cause"].ne("window_end")
    info = world.instances.set_index("instance_id")
    spot_free = (iv["end_cause"].eq("spot_interruption") & started & (dur_s < 3600 + T.PENDING_S_RANGE[1])
                 & info.loc[iv["instance_id"], "lifecycle"].eq("spot").to_numpy())  # fmt: skip
    ok = ~spot_free
    # pending (8-45 s) is never billed; a period already running at window start is billed from it
    lo = np.where(started, np.maximum(dur_s - T.PENDING_S_RANGE[1], 0), dur_s)
    hi = np.where(started, dur_s - T.PENDING_S_RANGE[0], dur_s)
    lo = np.where(started & ended, np.maximum(lo, 60), lo)
    hi = np.where(started & ended, np.maximum(hi, 60), hi)
    assert ((pieces["billed_s"] >= lo - 1e-6) & (pieces["billed_s"] <= hi + 1e-6))[ok].all()
    assert (pieces.loc[started & ended & ok, "billed_s"] >= 60).all()
    assert (dur_s[started & ended] < 60).any(), "the world should contain short runs to exercise the minimum"
    # RI-covered instances pay the fee, not the usage
    ri = info.index[info["ri_covered"]]
    assert len(ri) and (pieces.loc[pieces["instance_id"].isin(ri), "cost_usd"] == 0).all()
    fees = bill.iloc[len(iv):]
    assert set(fees["instance_id"]) == set(ri) and (fees["billed_s"] == 0).all()
    n_h = len(world.hours)
    want = [factors.INSTANCE_CATALOG[t]["usd_per_hour"] * T.RI_FEE_FRAC * n_h for t in info.loc[fees["instance_id"], "instance_type"]]
    assert_allclose(fees["cost_usd"], want)
    # on-demand, not covered: list price per billed second
    od = (info.loc[pieces["instance_id"], "lifecycle"].eq("on-demand") & ~info.loc[pieces["instance_id"], "ri_covered"]).to_numpy()
    price = np.array([factors.INSTANCE_CATALOG[t]["usd_per_hour"] for t in info.loc[pieces["instance_id"], "instance_type"]])
    assert_allclose(pieces.loc[od, "cost_usd"], (pieces["billed_s"] / 3600 * price)[od], rtol=1e-9)
    # Spot: below on-demand, by a price that varies by hour
    sp = ~od & info.loc[pieces["instance_id"], "lifecycle"].eq("spot").to_numpy() & (pieces["billed_s"] > 0)
    ratio = pieces.loc[sp, "cost_usd"] / (pieces["billed_s"] / 3600 * price)[sp]
    assert ratio.between(0.05, 0.9).all()


def test_spot_first_hour_interruption_is_free():
    p = pd.DataFrame({"instance_id": ["a", "b", "c"], "start_s": [0, 0, 0], "end_s": [1800, 5000, 1800],
                      "start_cause": ["run", "run", "run"],
                      "end_cause": ["spot_interruption", "spot_interruption", "stop_api"]})  # fmt: skip
    b = T.billed_pieces(p, pd.Series(["spot", "spot", "spot"]), np.array([20.0, 20.0, 20.0]))
    assert_allclose(b["billed_s"], [0.0, 4980.0, 1780.0])  # user stop within the hour is billed


def test_billed_pieces_hand_computed():
    p = pd.DataFrame({"instance_id": list("abcd"), "start_s": [0, 0, 100, 0], "end_s": [30, 100, 3700, 50],
                      "start_cause": ["start_api", "start_api", "before_window", "run"],
                      "end_cause": ["stop_api", "stop_api", "stop_api", "window_end"]})  # fmt: skip
    b = T.billed_pieces(p, pd.Series(["on-demand"] * 4), np.array([10.0, 10.0, 10.0, 10.0]))
    # 20 s run -> 60 s minimum; 90 s after pending; already running: no pending; still running: no minimum
    assert_allclose(b["billed_s"], [60.0, 90.0, 3600.0, 40.0])


def test_hourly_running_fraction_consistent_with_intervals(truth):
    h = truth["truth_hourly"]
    assert h["running_frac"].between(0, 1).all()
    iv = truth["truth_intervals"]
    run_s = (iv["end"] - iv["start"]).dt.total_seconds().groupby(iv["instance_id"]).sum()
    got = h.groupby("instance_id")["running_frac"].sum() * 3600
    assert_allclose(got.reindex(run_s.index), run_s, atol=1e-3)
    # CPU is defined exactly where the instance ran
    assert (h["cpu_util_frac"].notna() == (h["running_frac"] > 0)).all()


def test_intervals_do_not_overlap_and_stay_in_window(world, truth):
    iv = truth["truth_intervals"].sort_values(["instance_id", "start"])
    assert (iv["start"] >= world.window_start).all() and (iv["end"] <= world.window_end).all()
    assert (iv["end"] > iv["start"]).all()
    nxt = iv.groupby("instance_id")["start"].shift(-1)
    assert (nxt.isna() | (nxt >= iv["end"])).all()


def test_compute_cost_lines_equal_billing_truth(world, truth):
    compute = world.cost_lines[world.cost_lines["usage_type"].str.contains("Usage:")]
    assert_allclose(compute["cost_usd"].sum(), truth["truth_billing"]["cost_usd"].sum(), rtol=1e-12)
    rid = compute["resource_id"].str.replace(r"^arn:.*/ri-", "i-", regex=True)  # RI fee lines carry the RI's id
    per = compute.groupby(rid)["cost_usd"].sum()
    want = truth["truth_billing"].groupby("instance_id")["cost_usd"].sum()
    assert_allclose(per.reindex(want.index), want, rtol=1e-9)
    assert {"EUC1-EBS:VolumeUsage.gp3", "EUC1-DataTransfer-Out-Bytes"} <= set(world.cost_lines["usage_type"])


def test_energy_is_the_truths_own_physics(world, truth):
    h = truth["truth_hourly"]
    on = h["running_frac"] > 0
    assert (h.loc[~on, "energy_kwh"] == 0).all() and np.isfinite(h["energy_kwh"]).all()
    ti = truth["truth_intensity"].set_index("hour")["intensity_g_per_kwh"]
    assert_allclose(h["co2_g"], h["energy_kwh"] * ti.reindex(h["hour"]).to_numpy())
    # an instance that ran a whole hour: energy within the host-curve envelope x PUE
    inst = world.instances.set_index("instance_id")
    row = h[on & (h["running_frac"] == 1.0)].iloc[0]
    it = inst.loc[row["instance_id"]]
    fam = T.processor_family(it["instance_type"])
    share = it["vcpu"] / T.HOST_CURVES[fam]["threads"]
    lo = 0.5 * share * T.host_power_w(fam, 0.0) * 1.0
    hi = 2.0 * share * T.host_power_w(fam, 1.0) + it["memory_gib"] * 0.4 + it["volume_gb"] / 1000 * 6
    e_w = row["energy_kwh"] * 1000 / 1.5
    assert lo < e_w < hi * 1.5 / 1.2
    # the served intensity is an estimate of the truth: close, not equal
    served = world.intensity_year.reindex(ti.index)
    rel = served / ti - 1
    assert 0.005 < rel.abs().mean() < 0.15
    assert world.intensity_estimated_year.reindex(ti.index).any()


def test_served_intensity_year_keeps_the_annual_calibration(world):
    annual = factors.GRID_INTENSITY_G_PER_KWH["DE_2024_consumption"]["value"]
    assert world.intensity_true_year.mean() == pytest.approx(annual, abs=0.01)
    assert world.intensity_year.mean() == pytest.approx(annual, rel=0.01)  # the estimate errs, unbiased in log


def test_served_cpu_mean_is_the_true_hourly_mean_where_complete(world, truth):
    h = truth["truth_hourly"].set_index(["instance_id", "hour"])
    cw = world.cw_hourly.set_index(["instance_id", "hour"])
    full = cw[(cw["sample_count"] == 12) & (h.loc[cw.index, "running_frac"] == 1.0).to_numpy()]
    served = full["sum_pct"] / full["sample_count"] / 100
    assert_allclose(h.loc[served.index, "cpu_util_frac"], served)


def test_cloudwatch_first_datapoint_after_a_start_is_late(world):
    """Basic monitoring: the 5-minute slot of a start (and maybe the next) has no datapoint."""
    p = world.pieces[world.pieces["start_cause"].isin(["run", "start_api"])]
    cw = world.cw_hourly.set_index(["instance_id", "hour"])["sample_count"]
    n_late = 0
    for iid, a in zip(p["instance_id"], p["start_s"], strict=True):
        hour = world.window_start + pd.Timedelta(hours=int(a) // 3600)
        slots_running = 12 - (int(a) % 3600) // 300
        if (iid, hour) in cw.index:
            assert cw[(iid, hour)] <= slots_running - 1
            n_late += 1
    assert n_late > 10


def test_cloudtrail_delivers_within_15_minutes_and_late_ones_are_not_served(world):
    ev = world.events
    ontime = ev["fault"].isna()
    lag = (ev.loc[ontime, "delivery_time"] - ev.loc[ontime, "event_time"]).dt.total_seconds()
    assert lag.between(30, 900).all() and lag.std() > 100
    assert (ev.loc[ontime, "served"] == (ev.loc[ontime, "delivery_time"] <= world.as_of)).all()


def test_true_factors_follow_the_truths_own_distributions():
    draws = pd.DataFrame([draw_true_factors(s).as_factors() for s in range(400)])
    mu, sd = T.PUE_ANNUAL["eu-central-1"]
    assert_allclose(draws["pue_annual"].mean(), mu, atol=0.01)
    assert_allclose(draws["pue_annual"].std(), sd, rtol=0.15)
    assert_allclose(np.log(draws["host_level_skylake"]).std(), T.FAMILY_LEVEL_LOG_SD, rtol=0.15)
    assert draws["memory_w_per_gib"].between(*T.MEMORY_W_PER_GIB_RANGE).all()


# --------------------------------------------------------------------------- faults
def test_faults_are_visible_only_where_injected():
    w = build_world({"n_instances": 60, "days": 10, "os_shutdown_rate": 0.2, "missing_record_rate": 0.2,
                     "late_record_rate": 0.2, "spot_interruption_rate": 1.0})  # fmt: skip
    cases = w.instances.set_index("instance_id")["case"]
    ev = w.events
    hidden = ev[~ev["served"] & ev["fault"].notna()]  # not counting records still in delivery (<= 15 min)
    assert set(cases[hidden["instance_id"]]) <= {"missing_record", "late_record"}
    assert (hidden.groupby("instance_id").size() == 1).all()
    late = ev[ev["fault"].eq("late_record")]
    assert len(late) and (late["delivery_time"] > w.as_of).all()
    # an OS shutdown leaves no StopInstances record at its end time
    osd = w.pieces[w.pieces["end_cause"].eq("os_shutdown")]
    assert len(osd)
    ends = w.window_start + pd.to_timedelta(osd["end_s"], unit="s")
    stops = ev[ev["event_name"].isin(["StopInstances", "TerminateInstances"])]
    assert not set(zip(osd["instance_id"], ends, strict=True)) & set(
        zip(stops["instance_id"], stops["event_time"], strict=True))
    spot = w.instances[w.instances["role"].eq("spot_worker")]
    assert spot["case"].eq("spot_interruption").all()
    assert ev.loc[ev["event_name"].eq("BidEvictedEvent"), "instance_id"].isin(spot["instance_id"]).all()


def test_no_faults_means_every_record_served():
    w = build_world({"n_instances": 20, "days": 5, "os_shutdown_rate": 0, "missing_record_rate": 0,
                     "late_record_rate": 0, "spot_interruption_rate": 0, "cloudwatch_gap_rate": 0})  # fmt: skip
    assert w.events["served"].all()
    assert set(w.instances["case"]) <= {"complete", "before_window"}
    rec = json.loads(w.served_records[0]["CloudTrailEvent"])
    assert rec["eventSource"] == "ec2.amazonaws.com" and "eventName" in rec


def test_tags_and_roles(world):
    tags = world.instances["tags"]
    assert all({"Name", "role", "Schedule", "flexible"} <= set(t) for t in tags)
    batch = world.instances[world.instances["role"].eq("batch")]
    assert len(batch) and all(t["flexible"] == "true" and "deadline_hour_utc" in t and "job_duration_h" in t
                              for t in batch["tags"])  # fmt: skip
    office = world.instances[world.instances["role"].eq("office_hours")]
    assert all(t["Schedule"] == "office-hours" for t in office["tags"])


def test_office_hours_instances_run_only_on_berlin_working_days(world, truth):
    office = world.instances.loc[world.instances["role"].eq("office_hours"), "instance_id"]
    iv = truth["truth_intervals"]
    start_local = iv.loc[iv["instance_id"].isin(office), "start"].dt.tz_convert("Europe/Berlin")
    assert (start_local.dt.dayofweek < 5).all()
    assert start_local.dt.hour.between(7, 8).all()


# --------------------------------------------------------------------------- intensity
@pytest.fixture(scope="module")
def year():
    return ci.synthetic_intensity_g_per_kwh(ci.year_hours(pd.Timestamp("2026-11-01", tz="UTC")),
                                            np.random.default_rng(42))  # fmt: skip


def test_intensity_mean_and_range(year):
    assert len(year) == 8760
    # calibrated to the annual factor it is compared against (GSF 2024, 370.93 g/kWh)
    assert year.mean() == pytest.approx(factors.GRID_INTENSITY_G_PER_KWH["DE_2024_consumption"]["value"], abs=0.01)
    assert year.min() >= 100 and year.max() <= 700
    assert year.min() < 170 and year.max() > 600  # spans the German range
    assert 0.28 <= year.std() / year.mean() <= 0.42  # 2020: sd ~ 0.35 x mean


def test_intensity_daily_and_weekly_shape(year):
    by_hour = year.groupby(year.index.hour).mean()
    assert by_hour.idxmin() in (10, 11, 12) and by_hour.idxmax() in (17, 18, 19)
    assert by_hour[18] - by_hour[11] > 40
    weekend = year.index.dayofweek >= 5
    assert year[weekend].mean() < 0.92 * year[~weekend].mean()


def test_intensity_summer_dip_deeper_than_winter(year):
    def dip(months):
        s = year[year.index.month.isin(months)]
        by_hour = s.groupby(s.index.hour).mean()
        return by_hour[10:14].mean() / by_hour.mean()

    assert dip([6, 7]) < dip([12, 1]) - 0.08


def test_marginal_signal_level(year):
    m = ci.marginal_lb_per_mwh(year)
    assert_allclose((m * 0.45359237).mean(), 731.22, rtol=1e-9)
    assert np.corrcoef(m, year)[0, 1] > 0.99


def test_forecasts_as_issued_err_more_with_horizon(world):
    fc = world.forecasts
    assert set(fc["signal"]) == {"co2_aoer", "co2_moer"}
    avg = fc[fc["signal"] == "co2_aoer"]
    assert (avg["hour"] > avg["issued_at"]).all() and avg["issued_at"].max() < world.as_of
    true = world.intensity_true_year
    err = np.log(avg["intensity_g_per_kwh"].to_numpy() / true.reindex(avg["hour"]).to_numpy())
    lead = ((avg["hour"] - avg["issued_at"].dt.floor("h")) / pd.Timedelta(hours=1)).to_numpy()
    sd1, sd24 = err[lead == 1].std(), err[lead == 24].std()
    assert_allclose(sd24, T.FORECAST_LOG_SD_24H, rtol=0.2)
    assert sd1 < sd24 / 3
