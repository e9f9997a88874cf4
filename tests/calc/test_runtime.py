"""Runtime reconstruction: CloudTrail parsing, running intervals, hourly fractions, baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import schema
from finops_lib.calc import (
    MalformedEventError,
    hourly_running_fraction,
    parse_cloudtrail_events,
    running_intervals,
    runtime_always_on,
    runtime_cloudwatch_presence,
    runtime_current_state,
    runtime_from_launch_time,
    runtime_hours,
)
from tests.calc import cloudtrail_records as ct

WS = pd.Timestamp("2026-11-01T00:00:00Z")
WE = pd.Timestamp("2026-11-02T00:00:00Z")


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC") if "Z" not in s and "+" not in s else pd.Timestamp(s)


def instances(rows: list[tuple]) -> pd.DataFrame:
    """rows: (instance_id, launch_time or None, state)."""
    df = pd.DataFrame(
        {
            "instance_id": [r[0] for r in rows],
            "instance_type": "m5.large",
            "region": "eu-central-1",
            "az": "eu-central-1a",
            "platform": "linux",
            "lifecycle": "on-demand",
            "launch_time": [r[1] for r in rows],
            "state": [r[2] for r in rows],
            "tags": "{}",
            "vcpu": 2,
            "memory_gib": 8.0,
        }
    )
    return schema.conform("instances", df) if rows else schema.empty_table("instances")


def intervals_for(records, inst=None, ws=WS, we=WE):
    events, rejected = parse_cloudtrail_events(records)
    assert rejected.empty
    return running_intervals(events, inst if inst is not None else instances([]), ws, we)


def hours_of(iv: pd.DataFrame, iid: str) -> float:
    sel = iv[iv["instance_id"] == iid]
    return float(((sel["end"] - sel["start"]).dt.total_seconds() / 3600).sum())


# --------------------------------------------------------------------------- #
# parse_cloudtrail_events
# --------------------------------------------------------------------------- #
def test_parse_stop_naming_three_instances_gives_three_rows():
    rec = ct.stop(["i-a", "i-b", "i-c"], "2026-11-01T10:00:00Z", event_id="ev-1")
    events, rejected = parse_cloudtrail_events([rec])
    assert rejected.empty
    assert list(events["instance_id"]) == ["i-a", "i-b", "i-c"]
    assert (events["event_id"] == "ev-1").all()
    assert (events["event_name"] == "StopInstances").all()
    assert (events["previous_state"] == "running").all()
    assert (events["current_state"] == "stopping").all()
    assert (events["source"] == "cloudtrail").all()
    assert (events["event_time"] == ts("2026-11-01T10:00:00Z")).all()
    assert events.dtypes.astype(str).to_dict() == schema.TABLES["state_events"]


def test_parse_run_instances_ids_from_response_elements_only():
    rec = ct.run(["i-new1", "i-new2"], "2026-11-01T05:00:00Z")
    # the request holds no instance ids at all, only the response does
    assert "instanceId" not in json.dumps(json.loads(rec["CloudTrailEvent"])["requestParameters"])
    events, _ = parse_cloudtrail_events([rec])
    assert list(events["instance_id"]) == ["i-new1", "i-new2"]
    assert events["previous_state"].isna().all()
    assert (events["current_state"] == "pending").all()


def test_parse_bid_evicted_from_service_event_details():
    rec = ct.bid_evicted(["i-spot1", "i-spot2"], "2026-11-01T07:00:00Z", with_resources=False)
    events, _ = parse_cloudtrail_events([rec])
    assert list(events["instance_id"]) == ["i-spot1", "i-spot2"]
    assert (events["event_name"] == "BidEvictedEvent").all()
    assert events["previous_state"].isna().all() and events["current_state"].isna().all()


def test_parse_bid_evicted_resources_do_not_double_count():
    rec = ct.bid_evicted("i-spot1", "2026-11-01T07:00:00Z", with_resources=True)
    events, _ = parse_cloudtrail_events([rec])
    assert list(events["instance_id"]) == ["i-spot1"]


def test_parse_sorts_by_event_time_newest_first_input():
    recs = [ct.stop("i-a", "2026-11-01T10:00:00Z"), ct.start("i-a", "2026-11-01T08:00:00Z")]
    events, _ = parse_cloudtrail_events(recs)  # LookupEvents returns newest first
    assert list(events["event_name"]) == ["StartInstances", "StopInstances"]


def test_parse_stop_with_null_response_uses_request_ids():
    rec = ct.stop("i-a", "2026-11-01T10:00:00Z")
    detail = json.loads(rec["CloudTrailEvent"])
    detail["responseElements"] = None
    rec["CloudTrailEvent"] = json.dumps(detail)
    events, _ = parse_cloudtrail_events([rec])
    assert list(events["instance_id"]) == ["i-a"]
    assert events["previous_state"].isna().all()


def test_parse_not_json_raises_naming_event_id():
    rec = ct.raw("StopInstances", "{not json", "2026-11-01T10:00:00Z", event_id="bad-42")
    with pytest.raises(MalformedEventError, match="bad-42"):
        parse_cloudtrail_events([rec])
    assert issubclass(MalformedEventError, ValueError)


def test_parse_not_json_skipped_goes_to_rejected():
    good = ct.start("i-a", "2026-11-01T08:00:00Z")
    bad = ct.raw("StopInstances", "{not json", "2026-11-01T10:00:00Z", event_id="bad-42")
    events, rejected = parse_cloudtrail_events([good, bad], errors="skip")
    assert list(events["instance_id"]) == ["i-a"]
    assert list(rejected["event_id"]) == ["bad-42"]
    assert "not a JSON" in rejected["reason"].iloc[0]


def test_parse_missing_instance_id_raises():
    rec = ct.stop("i-a", "2026-11-01T10:00:00Z", event_id="noid-1")
    detail = json.loads(rec["CloudTrailEvent"])
    del detail["responseElements"]["instancesSet"]["items"][0]["instanceId"]
    rec["CloudTrailEvent"] = json.dumps(detail)
    with pytest.raises(MalformedEventError, match=r"noid-1.*instance id"):
        parse_cloudtrail_events([rec])


def test_parse_unknown_event_name_raises_naming_it():
    rec = ct.start("i-a", "2026-11-01T10:00:00Z", event_id="rb-1")
    detail = json.loads(rec["CloudTrailEvent"])
    detail["eventName"] = rec["EventName"] = "RebootInstances"
    rec["CloudTrailEvent"] = json.dumps(detail)
    with pytest.raises(MalformedEventError, match=r"rb-1.*RebootInstances"):
        parse_cloudtrail_events([rec])
    _, rejected = parse_cloudtrail_events([rec], errors="skip")
    assert list(rejected["event_name"]) == ["RebootInstances"]


def test_parse_failed_call_is_rejected_not_an_error():
    rec = ct.stop("i-a", "2026-11-01T10:00:00Z", event_id="denied-1", error_code="Client.UnauthorizedOperation")
    events, rejected = parse_cloudtrail_events([rec])  # errors="raise" too
    assert events.empty
    assert list(rejected["event_id"]) == ["denied-1"]
    assert "UnauthorizedOperation" in rejected["reason"].iloc[0]


def test_parse_bad_errors_argument():
    with pytest.raises(ValueError, match="ignore"):
        parse_cloudtrail_events([], errors="ignore")


# --------------------------------------------------------------------------- #
# running_intervals
# --------------------------------------------------------------------------- #
def test_running_through_window_without_events_counted_from_window_start():
    inst = instances([("i-a", "2026-10-01T00:00:00Z", "running")])
    iv, dg = intervals_for([], inst)
    assert len(iv) == 1
    assert iv["start"].iloc[0] == WS and iv["end"].iloc[0] == WE
    assert iv["start_evidence"].iloc[0] == "before_window"
    assert iv["end_evidence"].iloc[0] == "window_end"
    assert dg.set_index("instance_id").loc["i-a", "running_before_window"] == 1


def test_stop_naming_three_instances_stops_all_three():
    inst = instances([(i, "2026-10-01T00:00:00Z", "stopped") for i in ("i-a", "i-b", "i-c")])
    iv, dg = intervals_for([ct.stop(["i-a", "i-b", "i-c"], "2026-11-01T06:00:00Z")], inst)
    assert sorted(iv["instance_id"]) == ["i-a", "i-b", "i-c"]
    assert (iv["start"] == WS).all()
    assert (iv["end"] == ts("2026-11-01T06:00:00Z")).all()
    assert (iv["end_evidence"] == "event").all()
    assert (dg["running_before_window"] == 1).all()
    assert (dg["stop_without_start"] == 0).all()


def test_start_stop_inside_window():
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.stop("i-a", "2026-11-01T10:30:00Z")]
    iv, dg = intervals_for(recs, instances([("i-a", "2026-11-01T08:00:00Z", "stopped")]))
    assert len(iv) == 1
    assert hours_of(iv, "i-a") == 2.5
    assert iv["start_evidence"].iloc[0] == "event"
    assert dg.iloc[0]["running_before_window"] == 0


def test_stop_without_start_previous_state_running_counted_from_window_start():
    # first event in the window is a stop whose previousState is running
    iv, dg = intervals_for([ct.stop("i-a", "2026-11-01T03:00:00Z")])
    assert hours_of(iv, "i-a") == 3.0
    assert iv["start"].iloc[0] == WS
    assert dg.iloc[0]["running_before_window"] == 1


def test_duplicate_record_counted_once():
    start = ct.start("i-a", "2026-11-01T08:00:00Z", event_id="dup-1")
    stop = ct.stop("i-a", "2026-11-01T09:00:00Z")
    iv, dg = intervals_for([start, stop, start])
    assert hours_of(iv, "i-a") == 1.0
    assert dg.iloc[0]["duplicate_records"] == 1
    assert dg.iloc[0]["start_without_stop"] == 0


def test_out_of_order_records_sorted_and_counted():
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.stop("i-a", "2026-11-01T09:00:00Z"),
            ct.start("i-a", "2026-11-01T12:00:00Z"), ct.stop("i-a", "2026-11-01T14:00:00Z")]
    events, _ = parse_cloudtrail_events(recs)
    shuffled = events.iloc[[3, 0, 2, 1]]  # as a late delivery would leave them
    iv, dg = running_intervals(shuffled, instances([]), WS, WE)
    assert hours_of(iv, "i-a") == 3.0
    assert list(iv["start"]) == [ts("2026-11-01T08:00:00Z"), ts("2026-11-01T12:00:00Z")]
    # rows 0, 2, 1 (08:00, 12:00, 09:00) come after the 14:00 row
    assert dg.iloc[0]["out_of_order_records"] == 3
    _, dg_sorted = running_intervals(events, instances([]), WS, WE)
    assert dg_sorted.iloc[0]["out_of_order_records"] == 0


def test_run_instances_mid_window():
    inst = instances([("i-new", "2026-11-01T15:00:00Z", "running")])
    iv, dg = intervals_for([ct.run("i-new", "2026-11-01T15:00:00Z")], inst)
    assert hours_of(iv, "i-new") == 9.0
    assert iv["start_evidence"].iloc[0] == "event"
    assert dg.iloc[0]["running_before_window"] == 0


def test_terminate_instances_ends_interval_and_is_counted():
    inst = instances([("i-a", "2026-10-01T00:00:00Z", "terminated")])
    iv, dg = intervals_for([ct.terminate("i-a", "2026-11-01T20:00:00Z")], inst)
    assert hours_of(iv, "i-a") == 20.0
    assert dg.iloc[0]["terminated"] == 1
    assert dg.iloc[0]["current_state_mismatch"] == 0


def test_bid_evicted_ends_spot_interval():
    recs = [ct.run("i-spot", "2026-11-01T02:00:00Z"), ct.bid_evicted("i-spot", "2026-11-01T05:15:00Z")]
    iv, dg = intervals_for(recs)
    assert hours_of(iv, "i-spot") == 3.25
    assert iv["end_evidence"].iloc[0] == "event"
    assert dg.iloc[0]["terminated"] == 1


def test_events_after_window_end_ignored_but_counted():
    recs = [ct.start("i-a", "2026-11-01T20:00:00Z"), ct.stop("i-a", "2026-11-02T01:00:00Z"),
            ct.start("i-a", "2026-11-02T03:00:00Z")]
    iv, dg = intervals_for(recs)
    assert len(iv) == 1
    assert iv["end"].iloc[0] == WE and iv["end_evidence"].iloc[0] == "window_end"
    assert hours_of(iv, "i-a") == 4.0
    assert dg.iloc[0]["events_after_window"] == 2


def test_stop_after_window_reveals_running_through_window():
    # no event inside the window; the first later record says it was running
    iv, dg = intervals_for([ct.stop("i-a", "2026-11-02T05:00:00Z")],
                           instances([("i-a", "2026-10-01T00:00:00Z", "stopped")]))
    assert hours_of(iv, "i-a") == 24.0
    assert dg.iloc[0]["events_after_window"] == 1
    assert dg.iloc[0]["running_before_window"] == 1


def test_event_before_window_sets_initial_state():
    recs = [ct.start("i-a", "2026-10-31T22:00:00Z"), ct.stop("i-a", "2026-11-01T01:00:00Z")]
    iv, dg = intervals_for(recs)
    assert hours_of(iv, "i-a") == 1.0
    assert dg.iloc[0]["events_before_window"] == 1


def test_start_without_stop_counted_interval_kept_open():
    # second start with previousState stopped: an unrecorded stop (OS shutdown) in between
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.start("i-a", "2026-11-01T12:00:00Z"),
            ct.stop("i-a", "2026-11-01T13:00:00Z")]
    iv, dg = intervals_for(recs)
    assert hours_of(iv, "i-a") == 5.0
    assert dg.iloc[0]["start_without_stop"] == 1


def test_stop_without_start_counted_no_interval_invented():
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.stop("i-a", "2026-11-01T09:00:00Z"),
            ct.stop("i-a", "2026-11-01T12:00:00Z")]
    iv, dg = intervals_for(recs)
    assert hours_of(iv, "i-a") == 1.0
    assert dg.iloc[0]["stop_without_start"] == 1


def test_redundant_start_on_running_instance():
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"),
            ct.start("i-a", "2026-11-01T09:00:00Z", previous="running", current="running"),
            ct.stop("i-a", "2026-11-01T10:00:00Z")]
    iv, dg = intervals_for(recs)
    assert hours_of(iv, "i-a") == 2.0
    assert dg.iloc[0]["redundant_records"] == 1
    assert dg.iloc[0]["start_without_stop"] == 0


def test_launch_time_inside_window_without_start_record():
    # running now, launched at 10:00 (the start record is missing): counted from launch_time
    iv, _ = intervals_for([], instances([("i-a", "2026-11-01T10:00:00Z", "running")]))
    assert iv["start"].iloc[0] == ts("2026-11-01T10:00:00Z")
    assert iv["start_evidence"].iloc[0] == "launch_time"


def test_stopped_instance_without_events_not_running():
    iv, dg = intervals_for([], instances([("i-a", "2026-10-01T00:00:00Z", "stopped")]))
    assert iv.empty
    assert list(dg["instance_id"]) == ["i-a"]


def test_diagnostics_are_integer_counts():
    _, dg = intervals_for([ct.stop("i-a", "2026-11-01T03:00:00Z")])
    assert all(str(t) == "int64" for c, t in dg.dtypes.items() if c != "instance_id")


def test_window_must_be_ordered():
    with pytest.raises(ValueError, match="not after"):
        running_intervals(schema.empty_table("state_events"), instances([]), WE, WS)


# --------------------------------------------------------------------------- #
# hourly_running_fraction and runtime_hours
# --------------------------------------------------------------------------- #
def test_hourly_fraction_hand_example():
    iv = pd.DataFrame({"instance_id": ["i-a"], "start": [ts("2026-11-01T01:30:00Z")],
                       "end": [ts("2026-11-01T03:15:00Z")]})
    hf = hourly_running_fraction(iv, WS, WS + pd.Timedelta(hours=5), instance_ids=["i-b"])
    a = hf[hf["instance_id"] == "i-a"]["running_frac"].to_numpy()
    assert_allclose(a, [0, 0.5, 1, 0.25, 0])
    assert (hf[hf["instance_id"] == "i-b"]["running_frac"] == 0).all()
    assert len(hf) == 10
    assert_allclose(runtime_hours(hf).loc[["i-a", "i-b"]], [1.75, 0.0])


def test_hourly_fraction_sums_to_interval_length_and_clips():
    iv = pd.DataFrame({"instance_id": ["i-a", "i-a"],
                       "start": [ts("2026-10-31T20:00:00Z"), ts("2026-11-01T05:00:10Z")],
                       "end": [ts("2026-11-01T02:00:00Z"), ts("2026-11-01T05:00:40Z")]})
    hf = hourly_running_fraction(iv, WS, WE)
    assert_allclose(runtime_hours(hf)["i-a"], 2 + 30 / 3600)
    assert hf["running_frac"].between(0, 1).all()


def test_hourly_fraction_rejects_overlapping_intervals():
    iv = pd.DataFrame({"instance_id": ["i-a", "i-a"],
                       "start": [ts("2026-11-01T01:00:00Z"), ts("2026-11-01T01:30:00Z")],
                       "end": [ts("2026-11-01T02:00:00Z"), ts("2026-11-01T02:30:00Z")]})
    with pytest.raises(ValueError, match="overlapping.*i-a"):
        hourly_running_fraction(iv, WS, WE)


def test_hourly_fraction_fleet_is_fast():
    import time

    n, hours = 100, 720
    we = WS + pd.Timedelta(hours=hours)
    starts = [WS + pd.Timedelta(hours=h, minutes=7) for h in range(0, hours, 24)]
    iv = pd.DataFrame([{"instance_id": f"i-{k:03d}", "start": s, "end": s + pd.Timedelta(hours=9)}
                       for k in range(n) for s in starts])
    t0 = time.perf_counter()
    hf = hourly_running_fraction(iv, WS, we)
    assert time.perf_counter() - t0 < 5
    assert len(hf) == n * hours
    assert_allclose(runtime_hours(hf).to_numpy(), 9 * len(starts))


# --------------------------------------------------------------------------- #
# baselines
# --------------------------------------------------------------------------- #
INST = [("i-old", "2026-10-01T00:00:00Z", "stopped"), ("i-mid", "2026-11-01T18:00:00Z", "running"),
        ("i-nolaunch", None, None)]


def test_baseline_always_on():
    hf = runtime_always_on(instances(INST), WS, WE)
    assert_allclose(runtime_hours(hf).to_numpy(), [24, 24, 24])


def test_baseline_from_launch_time():
    rh = runtime_hours(runtime_from_launch_time(instances(INST), WS, WE))
    assert rh["i-old"] == 24 and rh["i-mid"] == 6
    assert np.isnan(rh["i-nolaunch"])  # missing launch_time: NaN, not invented


def test_baseline_current_state():
    rh = runtime_hours(runtime_current_state(instances(INST), WS, WE))
    assert rh["i-old"] == 0 and rh["i-mid"] == 24
    assert np.isnan(rh["i-nolaunch"])


def test_baseline_cloudwatch_presence():
    cpu = pd.DataFrame({"instance_id": ["i-a", "i-a", "i-a", "i-a"],
                        "hour": pd.to_datetime(["2026-11-01T01:00Z", "2026-11-01T02:00Z",
                                                "2026-11-01T03:00Z", "2026-11-03T01:00Z"], utc=True),
                        "cpu_util_frac": [0.2, np.nan, 0.1, 0.5], "cpu_util_max_frac": 0.9,
                        "sample_count": [12, 12, 0, 12]})
    hf = runtime_cloudwatch_presence(cpu, WS, WE, instance_ids=["i-b"])
    a = hf[hf["instance_id"] == "i-a"].set_index("hour")["running_frac"]
    assert a.sum() == 1 and a[ts("2026-11-01T01:00:00Z")] == 1  # NaN, 0 samples, out-of-window ignored
    assert runtime_hours(hf)["i-b"] == 0


def test_baselines_share_output_shape():
    inst = instances(INST)
    ref = hourly_running_fraction(pd.DataFrame(columns=["instance_id", "start", "end"]), WS, WE,
                                  inst["instance_id"])
    for hf in (runtime_always_on(inst, WS, WE), runtime_from_launch_time(inst, WS, WE),
               runtime_current_state(inst, WS, WE)):
        assert list(hf.columns) == ["instance_id", "hour", "running_frac"]
        assert hf.dtypes.equals(ref.dtypes)
        assert hf[["instance_id", "hour"]].equals(ref[["instance_id", "hour"]])


def test_terminating_a_stopped_instance_is_redundant_not_a_missing_start():
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.stop("i-a", "2026-11-01T09:00:00Z"),
            ct.terminate("i-a", "2026-11-01T12:00:00Z", previous="stopped")]
    iv, dg = intervals_for(recs, instances([("i-a", "2026-11-01T08:00:00Z", "terminated")]))
    assert hours_of(iv, "i-a") == 1.0
    row = dg.iloc[0]
    assert (row["redundant_records"], row["stop_without_start"], row["terminated"]) == (1, 0, 1)


def test_current_state_mismatch_counted_when_a_stop_went_unrecorded():
    # started in the window, no stop record, yet DescribeInstances says stopped (e.g. OS shutdown)
    iv, dg = intervals_for([ct.start("i-a", "2026-11-01T20:00:00Z")],
                           instances([("i-a", "2026-11-01T20:00:00Z", "stopped")]))
    assert iv["end"].iloc[0] == WE  # no end is invented
    assert dg.iloc[0]["current_state_mismatch"] == 1


def test_instances_without_events_and_events_without_instances_both_reported():
    inst = instances([("i-only-table", "2026-10-01T00:00:00Z", "stopped")])
    _, dg = intervals_for([ct.start("i-only-events", "2026-11-01T01:00:00Z")], inst)
    assert list(dg["instance_id"]) == ["i-only-events", "i-only-table"]


def test_duplicate_instances_rows_are_an_error():
    inst = instances([("i-a", "2026-10-01T00:00:00Z", "running")] * 2)
    with pytest.raises(ValueError, match="i-a"):
        running_intervals(schema.empty_table("state_events"), inst, WS, WE)


def test_event_time_from_envelope_when_json_lacks_it():
    rec = ct.start("i-a", "2026-11-01T08:00:00Z")
    detail = json.loads(rec["CloudTrailEvent"])
    del detail["eventTime"]
    rec["CloudTrailEvent"] = json.dumps(detail)
    events, _ = parse_cloudtrail_events([rec])
    assert events["event_time"].iloc[0] == ts("2026-11-01T08:00:00Z")


def test_hourly_fraction_rejects_missing_times():
    iv = pd.DataFrame({"instance_id": ["i-a"], "start": [pd.NaT], "end": [ts("2026-11-01T02:00:00Z")]})
    with pytest.raises(ValueError, match="missing"):
        hourly_running_fraction(iv, WS, WE)


def test_bid_evicted_without_any_instance_id_is_malformed():
    rec = ct.bid_evicted([], "2026-11-01T07:00:00Z", event_id="spot-0")
    with pytest.raises(MalformedEventError, match=r"spot-0.*missing instance id"):
        parse_cloudtrail_events([rec])


def test_duplicate_is_not_also_counted_out_of_order():
    start = ct.start("i-a", "2026-11-01T08:00:00Z", event_id="dup-1")
    iv, dg = intervals_for([start, ct.stop("i-a", "2026-11-01T09:00:00Z"), start])
    assert (dg.iloc[0]["duplicate_records"], dg.iloc[0]["out_of_order_records"]) == (1, 0)


# --------------------------------------------------------------------------- #
# running_intervals with CloudWatch presence (opt-in)
# --------------------------------------------------------------------------- #
def cpu_rows(iid: str, hours: dict[str, float]) -> pd.DataFrame:
    """hours: 'HH' of 2026-11-01 -> sample_count (12 = whole hour)."""
    return pd.DataFrame({"instance_id": iid,
                         "hour": pd.to_datetime([f"2026-11-01T{h}:00:00Z" for h in hours], utc=True),
                         "cpu_util_frac": 0.3, "cpu_util_max_frac": 0.5,
                         "sample_count": list(hours.values())})


def test_cloudwatch_locates_unrecorded_os_shutdown_between_two_starts():
    # started 08:00, OS shutdown at 10:30 (no record), started again 14:00, stopped 15:00
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.start("i-a", "2026-11-01T14:00:00Z"),
            ct.stop("i-a", "2026-11-01T15:00:00Z")]
    events, _ = parse_cloudtrail_events(recs)
    cpu = cpu_rows("i-a", {"08": 12, "09": 12, "10": 6, "14": 12})
    iv, dg = running_intervals(events, instances([]), WS, WE, cpu_hourly=cpu)
    assert list(iv["end"]) == [ts("2026-11-01T10:30:00Z"), ts("2026-11-01T15:00:00Z")]
    assert list(iv["end_evidence"]) == ["cloudwatch", "event"]
    assert (dg.iloc[0]["start_without_stop"], dg.iloc[0]["cloudwatch_adjusted"]) == (1, 1)
    # without CloudWatch the first interval stays open until the second stop: 7 h
    iv0, _ = running_intervals(events, instances([]), WS, WE)
    assert hours_of(iv0, "i-a") == 7.0 and hours_of(iv, "i-a") == 3.5


def test_cloudwatch_ends_interval_when_stop_record_is_missing():
    # started 20:00, stopped ~21:15 by the OS; DescribeInstances says stopped
    events, _ = parse_cloudtrail_events([ct.start("i-a", "2026-11-01T20:00:00Z")])
    cpu = cpu_rows("i-a", {"20": 12, "21": 3})
    iv, dg = running_intervals(events, instances([("i-a", "2026-11-01T20:00:00Z", "stopped")]), WS, WE,
                               cpu_hourly=cpu)
    assert iv["end"].iloc[0] == ts("2026-11-01T21:15:00Z")
    assert dg.iloc[0]["current_state_mismatch"] == 1 and dg.iloc[0]["cloudwatch_adjusted"] == 1


def test_cloudwatch_isolated_gap_does_not_split_a_run():
    # running all day (still running), one hour without datapoints at 05:00
    cpu = cpu_rows("i-a", {f"{h:02d}": 12 for h in range(24) if h != 5})
    iv, dg = running_intervals(schema.empty_table("state_events"),
                               instances([("i-a", "2026-10-01T00:00:00Z", "running")]), WS, WE, cpu_hourly=cpu)
    assert hours_of(iv, "i-a") == 24.0 and dg.iloc[0]["cloudwatch_adjusted"] == 0


def test_cloudwatch_no_events_stopped_now_but_ran_in_window():
    # ran from before the window until an OS shutdown at 06:20; no record at all
    cpu = cpu_rows("i-a", {f"{h:02d}": 12 for h in range(6)} | {"06": 4})
    inst = instances([("i-a", "2026-10-01T00:00:00Z", "stopped")])
    iv, dg = running_intervals(schema.empty_table("state_events"), inst, WS, WE, cpu_hourly=cpu)
    assert (iv["start"].iloc[0], iv["end"].iloc[0]) == (WS, ts("2026-11-01T06:20:00Z"))
    assert list(iv[["start_evidence", "end_evidence"]].iloc[0]) == ["before_window", "cloudwatch"]
    assert dg.iloc[0]["running_before_window"] == 1
    iv0, _ = running_intervals(schema.empty_table("state_events"), inst, WS, WE)
    assert iv0.empty  # events and state alone cannot see it


def test_cloudwatch_locates_missing_start_record():
    # start at ~09:45 not recorded; stop at 12:00 recorded after an earlier 06:00-07:00 run
    recs = [ct.start("i-a", "2026-11-01T06:00:00Z"), ct.stop("i-a", "2026-11-01T07:00:00Z"),
            ct.stop("i-a", "2026-11-01T12:00:00Z")]
    events, _ = parse_cloudtrail_events(recs)
    cpu = cpu_rows("i-a", {"06": 12, "09": 3, "10": 12, "11": 12})
    iv, dg = running_intervals(events, instances([]), WS, WE, cpu_hourly=cpu)
    assert list(iv["start"]) == [ts("2026-11-01T06:00:00Z"), ts("2026-11-01T09:45:00Z")]
    assert iv["start_evidence"].iloc[1] == "cloudwatch"
    assert (dg.iloc[0]["stop_without_start"], dg.iloc[0]["cloudwatch_adjusted"]) == (1, 1)


def test_estimate_runtime_dispatches_every_named_estimator():
    from finops_lib.calc import RUNTIME_ESTIMATORS, estimate_runtime

    # the OS-shutdown case above: events alone count 7 h, with CloudWatch 3.5 h
    recs = [ct.start("i-a", "2026-11-01T08:00:00Z"), ct.start("i-a", "2026-11-01T14:00:00Z"),
            ct.stop("i-a", "2026-11-01T15:00:00Z")]
    events, _ = parse_cloudtrail_events(recs)
    cpu = cpu_rows("i-a", {"08": 12, "09": 12, "10": 6, "14": 12})
    inst = instances([("i-a", "2026-11-01T14:00:00Z", "stopped")])
    hours = {m: runtime_hours(estimate_runtime(m, events, inst, cpu, WS, WE))["i-a"] for m in RUNTIME_ESTIMATORS}
    assert hours == {"cloudtrail": 7.0, "cloudtrail_cloudwatch": 3.5, "always_on": 24.0,
                     "launch_time": 10.0, "current_state": 0.0, "cloudwatch_presence": 4.0}
    with pytest.raises(ValueError, match="unknown runtime estimator 'psychic'"):
        estimate_runtime("psychic", events, inst, cpu, WS, WE)


def test_cloudwatch_run_reaching_the_window_start_on_the_hour_is_counted_from_it():
    # stopped before the window, datapoints from 00:00, a stop at 02:30 that says it was running:
    # the run began at the window start (00:00), not an hour later
    events = schema.conform("state_events", pd.DataFrame({
        "event_time": pd.to_datetime(["2026-10-31T12:00Z", "2026-11-01T02:30Z"], utc=True),
        "event_name": "StopInstances", "instance_id": "i-a", "source": "cloudtrail", "event_id": ["e1", "e2"],
        "previous_state": "running", "current_state": "stopping"}))
    cpu = cpu_rows("i-a", {"00": 12, "01": 12, "02": 6})
    iv, dg = running_intervals(events, instances([("i-a", None, "stopped")]), WS, WE, cpu_hourly=cpu)
    assert list(iv["start"]) == [WS] and list(iv["end"]) == [ts("2026-11-01T02:30:00Z")]
    assert (dg.iloc[0]["stop_without_start"], dg.iloc[0]["cloudwatch_adjusted"]) == (1, 1)


# --------------------------------------------------------------------------- hour by hour (placement)
def test_placement_error_counts_hours_at_the_wrong_time():
    from finops_lib.calc.deviation import runtime_error, runtime_placement_summary

    h = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    truth = pd.DataFrame({"instance_id": ["a"] * 4 + ["b"] * 4, "hour": list(h) * 2,
                          "running_frac": [1, 1, 0, 0, 1, 1, 1, 1.0]})
    # a: right total, one hour placed wrong; b: one hour short
    est = truth.assign(running_frac=[1, 0, 1, 0, 1, 1, 1, 0.0])
    s = runtime_placement_summary(runtime_error(est, truth))
    assert s["true_h"] == 6
    assert s["total_abs_error_frac"] == pytest.approx(1 / 6)  # only b's missing hour shows in totals
    assert s["hourly_abs_error_frac"] == pytest.approx(3 / 6)  # a: 2 wrong hours, b: 1
    assert s["placement_error_frac"] == pytest.approx(2 / 6)


def test_energy_ratio_spread_hand_computed():
    from finops_lib.calc.deviation import energy_ratio_spread

    h = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    est = pd.DataFrame({"instance_id": ["a", "a", "b", "b"], "hour": list(h) * 2, "energy_kwh": 1.0})
    truth = est.assign(energy_kwh=[1.0, 2.0, 3.0, 3.0], running_frac=[1.0, 1.0, 1.0, 0.5])
    s = energy_ratio_spread(est, truth)
    assert s["instance_hours_count"] == 3  # b's partial hour is left out
    assert s["q50_ratio"] == pytest.approx(2.0)
    assert s["cv_across_instances_frac"] == pytest.approx(np.std([1.5, 3.0], ddof=1) / 2.25)
