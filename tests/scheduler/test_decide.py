"""decide(): office hours with holidays and DST, carbon-aware deferral and deadlines, safety rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib.scheduler import (
    PolicyError,
    decide,
    load_policies,
    parse_policies,
    persistence_forecast,
)
from finops_lib.scheduler.decide import deadline_window, done_hours
from finops_lib.scheduler.policy import default_policy_path

POL = load_policies()


def inst(iid="i-1", state="running", itype="t3.small", **tags):
    return {"instance_id": iid, "instance_type": itype, "state": state, "tags": tags}


def one(now, state="running", forecast=None, policies=POL, history=None, **tags):
    d = decide(pd.DataFrame([inst(state=state, **tags)]), now, forecast, policies, history=history)
    return d.iloc[0]


def flat(value, start="2026-10-01T00:00Z", hours=24 * 60):
    return pd.Series(float(value), index=pd.date_range(start, periods=hours, freq="h"))


# --------------------------------------------------------------------------- office hours, holidays, DST
@pytest.mark.parametrize("now, target", [
    ("2026-10-23T05:59Z", "stopped"),  # Fri 07:59 CEST (UTC+2)
    ("2026-10-23T06:00Z", "running"),  # Fri 08:00 CEST
    ("2026-10-23T15:59Z", "running"),  # Fri 17:59 CEST
    ("2026-10-23T16:00Z", "stopped"),  # Fri 18:00 CEST
    ("2026-10-24T10:00Z", "stopped"),  # Saturday
    ("2026-10-26T06:00Z", "stopped"),  # Mon after the DST change (Oct 25): 07:00 CET (UTC+1)
    ("2026-10-26T07:00Z", "running"),  # Mon 08:00 CET
    ("2026-10-26T17:00Z", "stopped"),  # Mon 18:00 CET
    ("2026-03-27T06:00Z", "stopped"),  # Fri before spring DST (Mar 29): 07:00 CET
    ("2026-03-30T06:00Z", "running"),  # Mon after: 08:00 CEST
    ("2026-12-25T09:00Z", "stopped"),  # Christmas Day (Friday), nationwide holiday
    ("2026-10-02T09:00Z", "running"),  # Friday before German Unity Day
])
def test_office_hours_follow_berlin_time_across_dst_and_holidays(now, target):
    assert one(now, Schedule="office-hours")["target"] == target


def test_holiday_per_bundesland():
    """Corpus Christi (Thu 2026-06-04) is a holiday in Hesse, not in Berlin nor nationwide."""
    now = "2026-06-04T08:00Z"  # 10:00 CEST
    raw = __import__("yaml").safe_load(default_policy_path().read_text())
    targets = {}
    for subdiv in (None, "HE", "BE"):
        raw["defaults"]["holidays"] = {"country": "DE", "subdiv": subdiv}
        targets[subdiv] = one(now, policies=parse_policies(raw), Schedule="office-hours")
    assert targets[None]["target"] == "running" and targets["BE"]["target"] == "running"
    assert targets["HE"]["target"] == "stopped" and "Corpus Christi" in targets["HE"]["reason"]


def test_timezone_override_and_extended_hours():
    now = "2026-10-22T06:30Z"  # 08:30 Berlin, 07:30 Lisbon, 02:30 New York
    assert one(now, Schedule="office-hours")["target"] == "running"
    assert one(now, Schedule="office-hours", ScheduleTimezone="Europe/Lisbon")["target"] == "stopped"
    assert one(now, Schedule="Extended Development Hours", ScheduleTimezone="Europe/Lisbon")["target"] == "running"
    assert one("2026-10-22T18:30Z", Schedule="extended-dev-hours")["target"] == "running"  # 20:30 Berlin
    assert one("2026-10-22T19:00Z", Schedule="extended-dev-hours")["target"] == "stopped"  # 21:00 Berlin


# --------------------------------------------------------------------------- safety rules
def test_untagged_opted_out_managed_spot_and_terminated_are_never_touched():
    now = "2026-10-24T10:00Z"  # Saturday: office hours say stop
    rows = [inst("i-untagged"), inst("i-optout", Schedule="office-hours", ScheduleOptOut="true"),
            inst("i-asg", Schedule="office-hours", **{"aws:autoscaling:groupName": "web"}),
            inst("i-eks", Schedule="office-hours", **{"kubernetes.io/cluster/prod": "owned"}),
            inst("i-term", state="terminated", Schedule="office-hours"),
            {**inst("i-spot", Schedule="office-hours"), "lifecycle": "spot"},
            inst("i-ok", Schedule="office-hours")]
    d = decide(pd.DataFrame(rows), now, None, POL).set_index("instance_id")
    assert d.loc["i-ok", "action"] == "stop"
    others = d.drop(index="i-ok")
    assert (others["action"] == "skip").all(), others[["action", "reason"]]
    assert "Auto Scaling group web" in d.loc["i-asg", "reason"]
    assert "opted out" in d.loc["i-optout", "reason"] and "not opted in" in d.loc["i-untagged", "reason"]


def test_always_on_is_never_stopped_nor_restarted():
    for state in ("running", "stopped"):
        d = one("2026-10-24T10:00Z", state=state, Schedule="24/7 Always Running")
        assert d["action"] == "none" and d["target"] is None and d["policy"] == "always-on"


def test_idempotent_actions_and_transitions():
    sat = "2026-10-24T10:00Z"
    assert one(sat, state="stopped", Schedule="office-hours")["action"] == "none"
    assert one(sat, state="stopping", Schedule="office-hours")["action"] == "none"
    assert one(sat, state="pending", Schedule="office-hours")["action"] == "skip"
    assert one("2026-10-22T10:00Z", state="pending", Schedule="office-hours")["action"] == "none"
    assert one("2026-10-22T10:00Z", state="stopped", Schedule="office-hours")["action"] == "start"


def test_unknown_policy_or_timezone_is_an_error_listing_every_instance():
    rows = [inst("i-a", Schedule="office-hours"), inst("i-b", Schedule="nine-to-five"),
            inst("i-c", Schedule="office-hours", ScheduleTimezone="Mars/Olympus")]
    with pytest.raises(PolicyError, match=r"2 instance\(s\) cannot be scheduled; nothing was done") as e:
        decide(pd.DataFrame(rows), "2026-10-22T10:00Z", None, POL)
    assert "i-b" in str(e.value) and "'nine-to-five' names no policy" in str(e.value)
    assert "i-c" in str(e.value) and "unknown time zone 'Mars/Olympus'" in str(e.value)


def test_maintenance_windows_hold_or_run():
    raw = __import__("yaml").safe_load(default_policy_path().read_text())
    raw["maintenance_windows"] = [{"name": "patch", "weekdays": ["Sun"], "start": "02:00", "end": "04:00",
                                   "mode": "run", "policies": ["office-hours"]},
                                  {"name": "freeze", "weekdays": ["Wed"], "start": "00:00", "end": "24:00"}]
    p = parse_policies(raw)
    sun = "2026-10-18T01:30Z"  # Sun 03:30 CEST
    assert one(sun, state="stopped", policies=p, Schedule="office-hours")["action"] == "start"
    assert one(sun, state="running", policies=p, Schedule="extended-dev-hours")["action"] == "stop"  # not listed
    held = one("2026-10-21T20:00Z", state="running", policies=p, Schedule="office-hours")  # Wed 22:00
    assert held["action"] == "none" and held["target"] is None and "freeze" in held["reason"]


def test_a_run_window_without_policy_filter_never_starts_an_always_on_instance():
    """Regression (review): maintenance was checked before always-on, so a run window started it."""
    raw = __import__("yaml").safe_load(default_policy_path().read_text())
    raw["maintenance_windows"] = [{"name": "patch", "weekdays": ["Sun"], "start": "02:00", "end": "04:00", "mode": "run"}]
    p = parse_policies(raw)
    d = one("2026-10-18T01:30Z", state="stopped", policies=p, Schedule="24/7 Always Running")
    assert d["action"] == "none" and d["target"] is None and "always on" in d["reason"]
    assert one("2026-10-18T01:30Z", state="stopped", policies=p, Schedule="office-hours")["action"] == "start"


# --------------------------------------------------------------------------- carbon-aware
def test_threshold_defers_under_high_intensity():
    now = "2026-10-22T10:00Z"
    assert one(now, forecast=flat(450), Schedule="Carbon-Aware 24/7")["action"] == "stop"
    assert one(now, forecast=flat(250), Schedule="Carbon-Aware 24/7")["action"] == "none"
    assert one(now, state="stopped", forecast=flat(250), Schedule="Carbon-Aware 24/7")["action"] == "start"
    no = one(now, forecast=None, Schedule="Carbon-Aware 24/7")
    assert no["action"] == "none" and "no intensity forecast" in no["reason"]


def _replay_deadline(intensity: pd.Series, start: str, hours: int, deadline_h: int, run_h: int) -> list:
    """Hour-by-hour decisions for one nightly instance, history fed back (as run_once does)."""
    rows, ran = [], []
    state = "stopped"
    for now in pd.date_range(start, periods=hours, freq="h"):
        fc = persistence_forecast(intensity, now) if intensity is not None else None
        tags = {"Schedule": "nightly", "deadline_hour_utc": str(deadline_h), "job_duration_h": str(run_h)}
        d = decide(pd.DataFrame([{"instance_id": "i-1", "instance_type": "c5.large", "state": state, "tags": tags}]),
                   now, fc, POL, history=pd.DataFrame(rows, columns=["instance_id", "decided_at", "target"])).iloc[0]
        rows.append({"instance_id": "i-1", "decided_at": now, "target": d["target"]})
        state = "running" if d["target"] == "running" else "stopped"
        if state == "running":
            ran.append(now)
    return ran


def test_deadline_runs_in_the_greenest_forecast_hours():
    # a daily pattern, green at 13-14 UTC, so the persistence forecast (yesterday) finds the green hours
    hours = pd.date_range("2026-10-01T00:00Z", periods=24 * 10, freq="h")
    pattern = np.where(np.isin(hours.hour, [13, 14]), 150.0, 450.0) + hours.hour  # unique values
    ci = pd.Series(pattern, index=hours)
    ran = _replay_deadline(ci, "2026-10-05T06:00Z", 48, deadline_h=6, run_h=2)
    assert [t.hour for t in ran] == [13, 14, 13, 14]
    d = one("2026-10-05T10:00Z", state="running", forecast=persistence_forecast(ci, "2026-10-05T10:00Z"),
            Schedule="nightly", deadline_hour_utc="6", job_duration_h="2")
    assert d["action"] == "stop" and "deferred" in d["reason"]


def test_deadline_is_met_when_the_greenest_hours_are_the_last_ones():
    # intensity falls through the window: the greenest hours are the last three before 06:00 UTC, and at
    # 03:00 the deadline guard (3 h needed, 3 h left) keeps the instance running whatever the forecast says
    hours = pd.date_range("2026-10-01T00:00Z", periods=24 * 10, freq="h")
    ci = pd.Series(600.0 - ((hours.hour - 6) % 24) * 10, index=hours)
    ran = _replay_deadline(ci, "2026-10-05T06:00Z", 48, deadline_h=6, run_h=3)
    assert [t.strftime("%d %H") for t in ran] == ["06 03", "06 04", "06 05", "07 03", "07 04", "07 05"]
    hist = pd.DataFrame({"instance_id": "i-1", "decided_at": pd.to_datetime(["2026-10-05T07:00Z"]), "target": "running"})
    tags = {"Schedule": "nightly", "deadline_hour_utc": "6", "job_duration_h": "3"}
    # one hour already run: 2 needed in the last 2 hours -> guard from 04:00 even under a forecast of dirty hours
    d = one("2026-10-06T04:00Z", state="stopped", forecast=flat(900), history=hist, **tags)
    assert d["action"] == "start" and d["reason"].startswith("deadline guard: 2 h needed, 2 h left")
    # all done: stopped until the next window, even at a green hour
    hist = pd.DataFrame({"instance_id": "i-1", "target": "running",
                         "decided_at": pd.date_range("2026-10-05T07:00Z", periods=3, freq="h")})
    assert one("2026-10-06T04:00Z", forecast=flat(50), history=hist, **tags)["action"] == "stop"
    # equal intensity everywhere: earliest hours first; without any forecast, as early as possible
    assert [t.hour for t in _replay_deadline(ci * 0 + 400, "2026-10-05T06:00Z", 24, 6, 2)] == [6, 7]
    assert [t.hour for t in _replay_deadline(None, "2026-10-05T06:00Z", 24, deadline_h=6, run_h=2)] == [6, 7]


def test_deadline_window_and_tag_errors():
    p = POL.policies["nightly"]
    d, n = deadline_window(p, {"deadline_hour_utc": "6", "job_duration_h": "2"}, pd.Timestamp("2026-10-05T06:00Z"), "i")
    assert d == pd.Timestamp("2026-10-06T06:00Z") and n == 2
    with pytest.raises(PolicyError, match="deadline_hour_utc=None"):
        decide(pd.DataFrame([inst(Schedule="nightly")]), "2026-10-05T06:00Z", flat(300), POL)


def test_persistence_forecast_uses_only_the_past():
    hist = pd.Series(np.arange(72.0), index=pd.date_range("2026-10-01T00:00Z", periods=72, freq="h"))
    f = persistence_forecast(hist, "2026-10-02T10:30Z")
    assert f.index[0] == pd.Timestamp("2026-10-02T10:00Z") and len(f) == 24
    assert_allclose(f.to_numpy(), np.arange(10.0, 34.0))  # same hour yesterday (index 10 = Oct 1 10:00)


# --------------------------------------------------------------------------- expected savings
def test_expected_savings_hand_computed():
    """t3.small stopped for 1 h: 0.024 USD x 0.9239 EUR/USD; CCF idle power as CCF's code computes it:
    Cascade Lake min 0.64 W/vCPU x 2 vCPU x burstable baseline 20 %/50 %, no memory for burstable types
    (packages/aws/src/lib/AWSInstanceTypes.ts, AwsFootprintEstimationConstants.ts) x PUE 1.35 x 400 g/kWh."""
    d = one("2026-10-24T10:00Z", forecast=flat(400), Schedule="office-hours")
    assert d["target"] == "stopped" and d["co2_basis"] == "idle_lower_bound"
    assert_allclose(d["expected_cost_saved_eur"], 0.024 * 0.9239)
    assert_allclose(d["expected_co2_saved_kg"], 0.64 * 2 * 20 / 50 * 1.35 / 1000 * 400 / 1000)
    run = one("2026-10-22T10:00Z", forecast=flat(400), Schedule="office-hours")
    assert run["expected_cost_saved_eur"] == 0 and run["intensity_g_per_kwh"] == 400


def test_deadline_history_counts_only_hours_that_really_ran():
    """Regression (review): skipped decisions and failed/throttled starts counted as hours a job had run."""
    from finops_lib.scheduler.run import ran_history

    h = pd.DataFrame({"instance_id": ["i-1"] * 5, "target": ["running"] * 5,
                      "decided_at": pd.date_range("2026-10-05T01:00Z", periods=5, freq="h").astype(str),
                      "mode": ["apply", "apply", "apply", "apply", "dry-run"],
                      "action": ["start", "none", "skip", "start", "none"],
                      "result": ["ok", None, None, "throttled", None]})
    kept = ran_history(h)
    assert list(kept["action"]) == ["start", "none"]
    assert done_hours(kept, "i-1", pd.Timestamp("2026-10-05T00:00Z"), pd.Timestamp("2026-10-05T08:00Z")) == 2
    assert done_hours(h, "i-1", pd.Timestamp("2026-10-05T00:00Z"), pd.Timestamp("2026-10-05T08:00Z")) == 5
