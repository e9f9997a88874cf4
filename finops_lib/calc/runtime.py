"""Runtime of EC2 instances: CloudTrail state events -> running intervals -> hourly fraction.

Pure functions over pandas (no I/O). The pipeline is

1. :func:`parse_cloudtrail_events` turns ``LookupEvents`` records into the
   ``state_events`` table of the snapshot contract;
2. :func:`running_intervals` reconstructs running intervals for a window from
   those events plus what is known at the window edges, counting every
   irregularity per instance in a diagnostics table;
3. :func:`hourly_running_fraction` spreads intervals over the hours of the
   window.

Baseline estimators (:func:`runtime_always_on`, :func:`runtime_from_launch_time`,
:func:`runtime_current_state`, :func:`runtime_cloudwatch_presence`) return the
same long table as :func:`hourly_running_fraction` so that they can be scored
side by side.

References
----------
.. [1] AWS CloudTrail User Guide, "CloudTrail record contents" and "CloudTrail
   log file examples" (``requestParameters`` / ``responseElements`` of EC2
   ``StartInstances``, ``StopInstances``, ``RunInstances``,
   ``TerminateInstances``).
.. [2] Amazon EC2 User Guide, "Determine whether Amazon EC2 terminated a Spot
   Instance" (``BidEvictedEvent``: ``eventType`` ``AwsServiceEvent``, instance
   ids in ``serviceEventDetails.instanceIdSet``).
.. [3] AWS CloudTrail API Reference, ``LookupEvents`` (``Events[]`` with
   ``EventId``, ``EventName``, ``EventTime``, ``Resources``, ``CloudTrailEvent``
   as a JSON string).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from finops_lib import schema
from finops_lib.constants import S_PER_H

#: Event names that put an instance into the running state.
START_EVENTS = ("RunInstances", "StartInstances")
#: Event names that end a running period (BidEvictedEvent: Spot interruption [2]).
STOP_EVENTS = ("StopInstances", "TerminateInstances", "BidEvictedEvent")
#: Event names that end the instance's life (counted as ``terminated``).
TERMINATE_EVENTS = ("TerminateInstances", "BidEvictedEvent")
SUPPORTED_EVENTS = START_EVENTS + STOP_EVENTS
#: EC2 instance states in which the instance is billed as running.
RUNNING_STATES = ("pending", "running")

INTERVAL_COLUMNS = ("instance_id", "start", "end", "start_evidence", "end_evidence")
DIAGNOSTIC_COLUMNS = (
    "running_before_window",
    "duplicate_records",
    "out_of_order_records",
    "stop_without_start",
    "start_without_stop",
    "redundant_records",
    "terminated",
    "events_before_window",
    "events_after_window",
    "current_state_mismatch",
    "cloudwatch_adjusted",
)
#: CloudWatch basic monitoring: one CPUUtilization datapoint per 5 min (EC2 user guide).
SAMPLES_PER_HOUR_BASIC = 12
REJECTED_COLUMNS = ("event_id", "event_name", "reason")


class MalformedEventError(ValueError):
    """A CloudTrail record cannot be parsed; the message names its EventId."""


# --------------------------------------------------------------------------- #
# 1. CloudTrail records -> state_events
# --------------------------------------------------------------------------- #
def parse_cloudtrail_events(
    records: Iterable[Mapping[str, Any]], *, errors: str = "raise"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""
    Parse CloudTrail ``LookupEvents`` records into the ``state_events`` table.

    Parameters
    ----------
    records : iterable of dict
        Items of ``Events`` exactly as boto3 ``lookup_events`` returns them
        [3]_: ``EventId``, ``EventName``, ``EventTime`` (datetime),
        ``Resources`` and ``CloudTrailEvent`` (a JSON **string**).
    errors : {"raise", "skip"}, default "raise"
        What to do with a malformed record (``CloudTrailEvent`` not JSON, no
        instance id, unknown event name, no event time): raise
        :class:`MalformedEventError` naming the EventId, or put it into
        ``rejected`` with the reason.

    Returns
    -------
    state_events : pandas.DataFrame
        Conforms to ``schema.TABLES["state_events"]``; one row per instance per
        record, ``source`` = "cloudtrail", sorted by ``event_time`` (stable).
    rejected : pandas.DataFrame
        Columns ``event_id``, ``event_name``, ``reason``: malformed records
        (with ``errors="skip"``) and records of failed API calls.

    Notes
    -----
    Where the instance ids are [1]_ [2]_:

    - ``StartInstances``, ``StopInstances``, ``TerminateInstances``:
      ``responseElements.instancesSet.items[]`` with ``instanceId``,
      ``previousState`` and ``currentState`` ({code, name}). When
      ``responseElements`` is null the ids are taken from
      ``requestParameters.instancesSet.items[].instanceId`` and the states
      are <NA>.
    - ``RunInstances``: only in ``responseElements.instancesSet.items[]``
      (``instanceState`` becomes ``current_state``; ``previous_state`` <NA>).
    - ``BidEvictedEvent`` (``eventType`` "AwsServiceEvent"):
      ``serviceEventDetails.instanceIdSet`` (a list of id strings); the
      record's ``Resources`` entries of type ``AWS::EC2::Instance`` are
      added. Both states are <NA> (interruption may terminate, stop or
      hibernate).

    A record whose ``errorCode`` is set is a failed call that changed no state:
    it goes into ``rejected`` in both error modes. The event time is the
    record's ``eventTime`` (ISO 8601, UTC); the top-level ``EventTime`` is used
    only when the JSON lacks it.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for pos, record in enumerate(records):
        try:
            parsed = _parse_record(record, pos)
        except MalformedEventError as exc:
            if errors == "raise":
                raise
            rejected.append(
                {"event_id": _record_id(record, pos), "event_name": _get(record, "EventName"),
                 "reason": str(exc)}
            )
            continue
        if isinstance(parsed, str):  # failed API call
            rejected.append(
                {"event_id": _record_id(record, pos), "event_name": _get(record, "EventName"),
                 "reason": parsed}
            )
            continue
        rows.extend(parsed)
    table = pd.DataFrame(rows, columns=list(schema.TABLES["state_events"]))
    table = schema.conform("state_events", table)
    table = table.sort_values("event_time", kind="stable").reset_index(drop=True)
    rej = pd.DataFrame(rejected, columns=list(REJECTED_COLUMNS)).astype("string")
    return table, rej


def _get(record: Any, key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else None


def _record_id(record: Any, pos: int) -> str:
    event_id = _get(record, "EventId")
    return str(event_id) if event_id else f"<record #{pos} without EventId>"


def _parse_record(record: Any, pos: int) -> list[dict[str, Any]] | str:
    rid = _record_id(record, pos)
    if not isinstance(record, Mapping):
        raise MalformedEventError(f"record #{pos} is a {type(record).__name__}, not a dict")
    raw = record.get("CloudTrailEvent")
    try:
        detail = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as exc:
        raise MalformedEventError(f"record {rid}: CloudTrailEvent is not a JSON string ({exc})") from exc
    if not isinstance(detail, Mapping):
        raise MalformedEventError(f"record {rid}: CloudTrailEvent is not a JSON object")
    name = detail.get("eventName") or record.get("EventName")
    if record.get("EventName") and detail.get("eventName") and record["EventName"] != detail["eventName"]:
        raise MalformedEventError(
            f"record {rid}: EventName {record['EventName']!r} differs from eventName {detail['eventName']!r}"
        )
    if name not in SUPPORTED_EVENTS:
        raise MalformedEventError(
            f"record {rid}: unknown event name {name!r}; supported: {', '.join(SUPPORTED_EVENTS)}"
        )
    if detail.get("errorCode"):
        return f"failed API call: {detail['errorCode']}: {detail.get('errorMessage', '')}".rstrip(": ")
    time_raw = detail.get("eventTime") or record.get("EventTime")
    if time_raw is None:
        raise MalformedEventError(f"record {rid}: no eventTime")
    try:
        event_time = pd.Timestamp(time_raw)
    except (TypeError, ValueError) as exc:
        raise MalformedEventError(f"record {rid}: eventTime {time_raw!r} is not a time") from exc
    event_time = event_time.tz_localize("UTC") if event_time.tzinfo is None else event_time.tz_convert("UTC")
    event_id = record.get("EventId") or detail.get("eventID")
    items = _instance_items(name, detail, record, rid)
    if not items:
        raise MalformedEventError(f"record {rid} ({name}): missing instance id")
    return [
        {"event_time": event_time, "event_name": name, "instance_id": iid, "source": "cloudtrail",
         "event_id": event_id, "previous_state": prev, "current_state": cur}
        for iid, prev, cur in items
    ]


def _state_name(obj: Any) -> Any:
    return obj.get("name") if isinstance(obj, Mapping) else pd.NA


def _instance_items(name: str, detail: Mapping, record: Mapping, rid: str) -> list[tuple]:
    """(instance_id, previous_state, current_state) for every instance named in a record."""
    out: list[tuple] = []
    if name == "BidEvictedEvent":
        ids = (detail.get("serviceEventDetails") or {}).get("instanceIdSet") or []
        if not isinstance(ids, list):
            raise MalformedEventError(f"record {rid}: serviceEventDetails.instanceIdSet is not a list")
        for res in record.get("Resources") or []:
            if isinstance(res, Mapping) and res.get("ResourceType") == "AWS::EC2::Instance":
                ids = [*ids, res.get("ResourceName")]
        for iid in dict.fromkeys(ids):
            out.append((_check_id(iid, rid), pd.NA, pd.NA))
        return out
    response = detail.get("responseElements") or detail.get("ResponseElements")
    resp_items = _items(response, rid, "responseElements")
    if resp_items:
        for item in resp_items:
            iid = _check_id(item.get("instanceId"), rid)
            if name == "RunInstances":
                out.append((iid, pd.NA, _state_name(item.get("instanceState"))))
            else:
                out.append((iid, _state_name(item.get("previousState")),
                            _state_name(item.get("currentState"))))
        return out
    if name == "RunInstances":  # ids only exist in the response
        return out
    request = detail.get("requestParameters") or detail.get("RequestParameters")
    for item in _items(request, rid, "requestParameters"):
        out.append((_check_id(item.get("instanceId"), rid), pd.NA, pd.NA))
    return out


def _items(section: Any, rid: str, where: str) -> list[Mapping]:
    if not section:
        return []
    items = (section.get("instancesSet") or {}).get("items") if isinstance(section, Mapping) else None
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise MalformedEventError(f"record {rid}: {where}.instancesSet.items is not a list of objects")
    return items


def _check_id(iid: Any, rid: str) -> str:
    if not isinstance(iid, str) or not iid.startswith("i-"):
        raise MalformedEventError(f"record {rid}: missing or invalid instance id {iid!r}")
    return iid


# --------------------------------------------------------------------------- #
# 2. state_events -> running intervals
# --------------------------------------------------------------------------- #
def _ts(t: Any, what: str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts is pd.NaT:
        raise ValueError(f"{what} is NaT")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.as_unit("ns")


def _window(window_start: Any, window_end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    ws, we = _ts(window_start, "window_start"), _ts(window_end, "window_end")
    if we <= ws:
        raise ValueError(f"window_end {we} is not after window_start {ws}")
    return ws, we


def running_intervals(
    state_events: pd.DataFrame,
    instances: pd.DataFrame,
    window_start: Any,
    window_end: Any,
    *,
    cpu_hourly: pd.DataFrame | None = None,
    samples_per_hour: int = SAMPLES_PER_HOUR_BASIC,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""
    Reconstruct running intervals in ``[window_start, window_end)``.

    Parameters
    ----------
    state_events : pandas.DataFrame
        ``state_events`` table (may hold events before and after the window).
    instances : pandas.DataFrame
        ``instances`` table (``instance_id``, ``launch_time``, ``state`` at
        collection time, ...). May be empty.
    window_start, window_end : datetime-like
        The window [UTC]; naive times are taken as UTC.
    cpu_hourly : pandas.DataFrame, optional
        ``cpu_hourly`` table. When given, CloudWatch datapoint presence
        locates stops that CloudTrail does not record (see Notes). Default:
        events and the window edges only.
    samples_per_hour : int, default 12
        Datapoints in a complete hour (12: basic 5-minute monitoring; 60:
        detailed monitoring). [1/h]

    Returns
    -------
    intervals : pandas.DataFrame
        ``instance_id``, ``start``, ``end`` (UTC, clipped to the window),
        ``start_evidence`` ("event", "before_window", "launch_time",
        "current_state", "cloudwatch") and ``end_evidence`` ("event",
        "window_end", "cloudwatch").
    diagnostics : pandas.DataFrame
        One row per instance (from either table), integer counts:
        ``running_before_window``, ``duplicate_records``,
        ``out_of_order_records``, ``stop_without_start``,
        ``start_without_stop``, ``redundant_records``, ``terminated``,
        ``events_before_window``, ``events_after_window``,
        ``current_state_mismatch``, ``cloudwatch_adjusted``.

    Notes
    -----
    *Duplicates*: rows with the same (instance_id, event_id) -- or, without an
    event_id, the same (instance_id, event_time, event_name) -- count once.
    *Out of order* (counted after removing duplicates): a row that comes after
    a row of the same instance with a later ``event_time`` in the table as
    given; rows are then stably sorted. The output of
    :func:`parse_cloudtrail_events` is already sorted (0 out of order); pass
    concatenated tables unsorted to have late deliveries counted.

    *State at the window start* (first rule that applies):

    1. the last event before the window: running after a start event;
    2. the first event at or after the window start: running before it if its
       ``previous_state`` is pending/running, or -- without a
       ``previous_state`` -- if it is a stop event (Stop/Terminate/
       BidEvicted). If so and the instance's ``launch_time`` (DescribeInstances:
       the last start) lies inside the window before that event, the interval
       starts at ``launch_time`` (evidence "launch_time", a start record is
       missing); otherwise at the window start (``running_before_window``).
    3. no events at all: the current ``state``. If pending/running, running
       from ``max(launch_time, window_start)`` (evidence "before_window" or
       "launch_time"; "current_state" when ``launch_time`` is missing).

    *Inside the window* a start while running is ``start_without_stop`` (a stop
    went unrecorded, e.g. an OS shutdown; the interval is kept open, nothing is
    invented) unless the record's ``previous_state`` says the instance was
    already running (``redundant_records``); a stop while not running is
    ``stop_without_start`` unless its ``previous_state`` says it was stopped
    (``redundant_records``). Events at or after ``window_end`` never change an
    interval; they are counted in ``events_after_window``. An interval still
    open at the end is closed at ``window_end``. ``current_state_mismatch``
    counts an instance whose last known state differs from the current state
    while no later event explains it.

    *With* ``cpu_hourly`` (opt-in; each use counted in ``cloudwatch_adjusted``),
    an instance stopped by the OS (``Client.InstanceInitiatedShutdown``) or
    whose stop record is missing or late leaves a trail of hours without
    datapoints. A datapoint is a row with non-NaN ``cpu_util_frac`` and
    ``sample_count`` > 0; the running part of an hour is estimated as
    ``sample_count / samples_per_hour`` of it (a whole hour when the count is
    NaN).

    - a ``start_without_stop``: if the hours just before the second start
      have no datapoints, the first interval ends after the last datapoint
      hour before that trailing gap (end evidence "cloudwatch");
    - a ``stop_without_start`` (a stop with ``previous_state`` running while
      no interval is open): the interval starts where the run of datapoint
      hours that ends at the stop begins (start evidence "cloudwatch");
    - a ``current_state_mismatch`` (running at the end by the events, not
      running now, no later event): the same, against the window end;
    - no events at all and not running now: running from the first to the
      last datapoint of the window (evidence "cloudwatch"; from the window
      start, counted in ``running_before_window``, when the first hour has
      data).

    Isolated CloudWatch gaps inside a period do not split it; when no
    datapoint precedes the trailing gap nothing is changed.
    """
    ws, we = _window(window_start, window_end)
    ev = state_events.copy()
    ev["event_time"] = pd.to_datetime(ev["event_time"], utc=True)
    ev["_pos"] = np.arange(len(ev))
    dup_ids = instances["instance_id"][instances["instance_id"].duplicated()]
    if len(dup_ids):
        raise ValueError(f"instances table lists instance ids more than once: {sorted(set(dup_ids))[:5]}")
    inst = instances.set_index("instance_id") if len(instances) else None
    ids = sorted(set(ev["instance_id"].dropna()) | set(instances["instance_id"].dropna()))
    if ev["instance_id"].isna().any():
        raise ValueError(f"state_events has {int(ev['instance_id'].isna().sum())} rows without instance_id")
    unknown = set(ev["event_name"]) - set(SUPPORTED_EVENTS)
    if unknown:
        raise ValueError(f"state_events has unknown event names {sorted(unknown)}")

    presence = _presence(cpu_hourly, ws, we, samples_per_hour) if cpu_hourly is not None else {}
    intervals: list[dict[str, Any]] = []
    diags: list[dict[str, Any]] = []
    groups = dict(tuple(ev.groupby("instance_id", sort=False)))
    for iid in ids:
        g = groups.get(iid, ev.iloc[0:0])
        d = dict.fromkeys(DIAGNOSTIC_COLUMNS, 0)
        key = g["event_id"].astype("object").where(g["event_id"].notna(),
                                                   g["event_time"].astype(str) + "|" + g["event_name"])
        dup = key.duplicated()  # the first occurrence in the given order is kept
        d["duplicate_records"] = int(dup.sum())
        g = g[~dup.to_numpy()]
        # out-of-order: rows preceded (in the given order) by a later event
        times = g["event_time"].to_numpy()
        if len(times):
            d["out_of_order_records"] = int((times < np.maximum.accumulate(times)).sum())
        g = g.sort_values(["event_time", "_pos"], kind="stable")
        before = g[g["event_time"] < ws]
        inside = g[(g["event_time"] >= ws) & (g["event_time"] < we)]
        after = g[g["event_time"] >= we]
        d["events_before_window"] = len(before)
        d["events_after_window"] = len(after)
        d["terminated"] = int(g["event_name"].isin(TERMINATE_EVENTS).any())

        launch = state = None
        if inst is not None and iid in inst.index:
            row = inst.loc[iid]
            launch = None if pd.isna(row.get("launch_time")) else _ts(row["launch_time"], "launch_time")
            state = None if pd.isna(row.get("state")) else str(row["state"])
            if state == "terminated":
                d["terminated"] = 1

        pres = presence.get(iid)
        running, start, start_ev = _initial_state(before, g[g["event_time"] >= ws], launch, state, ws, we, d)
        if pres is not None and not len(g) and not running and state not in (None, *RUNNING_STATES) and len(pres):
            first, last = pres.index[0], pres.index[-1]
            start = ws if first <= ws else first + pd.Timedelta(seconds=S_PER_H - pres.iloc[0])
            if start <= ws:
                d["running_before_window"] = 1
            intervals.append(_iv(iid, start, min(we, last + pd.Timedelta(seconds=pres.iloc[-1])),
                                 "before_window" if start <= ws else "cloudwatch", "cloudwatch"))
            d["cloudwatch_adjusted"] += 1
        last_end = ws  # end of the last interval (for locating a missing start)
        for rec in inside.itertuples(index=False):
            t, name, prev = rec.event_time, rec.event_name, rec.previous_state
            prev = None if pd.isna(prev) else str(prev)
            if name in START_EVENTS:
                if not running:
                    running, start, start_ev = True, t, "event"
                elif prev in RUNNING_STATES:
                    d["redundant_records"] += 1
                else:
                    d["start_without_stop"] += 1
                    end = _trailing_end(pres, start, t)
                    if end is not None:
                        intervals.append(_iv(iid, start, end, start_ev, "cloudwatch"))
                        last_end = end
                        start, start_ev = t, "event"
                        d["cloudwatch_adjusted"] += 1
            else:
                if running:
                    intervals.append(_iv(iid, start, t, start_ev, "event"))
                    running, last_end = False, t
                elif prev is not None and prev not in RUNNING_STATES:
                    d["redundant_records"] += 1
                else:
                    d["stop_without_start"] += 1
                    begin = _leading_start(pres, last_end, t)
                    if begin is not None:
                        intervals.append(_iv(iid, begin, t, "cloudwatch", "event"))
                        d["cloudwatch_adjusted"] += 1
        if state is not None and len(after) == 0 and len(g):
            d["current_state_mismatch"] = int(running != (state in RUNNING_STATES))
        if running:
            end = _trailing_end(pres, start, we) if d["current_state_mismatch"] else None
            if end is not None:
                d["cloudwatch_adjusted"] += 1
            intervals.append(_iv(iid, start, we if end is None else end, start_ev,
                                 "window_end" if end is None else "cloudwatch"))
        diags.append({"instance_id": iid, **d})

    iv = pd.DataFrame(intervals, columns=list(INTERVAL_COLUMNS))
    iv = iv[iv["end"] > iv["start"]] if len(iv) else iv
    iv = _intervals_frame(iv)
    dg = pd.DataFrame(diags, columns=["instance_id", *DIAGNOSTIC_COLUMNS])
    dg = dg.astype({"instance_id": "string", **dict.fromkeys(DIAGNOSTIC_COLUMNS, "int64")})
    return iv, dg


def _presence(cpu_hourly: pd.DataFrame, ws, we, samples_per_hour: int) -> dict[str, pd.Series]:
    """instance_id -> Series (hour -> estimated running seconds in it) for hours with a datapoint."""
    if samples_per_hour <= 0:
        raise ValueError(f"samples_per_hour must be > 0, got {samples_per_hour!r}")
    ok = cpu_hourly["cpu_util_frac"].notna()
    if "sample_count" in cpu_hourly:
        ok &= ~(cpu_hourly["sample_count"] <= 0).fillna(False).astype(bool)
    cw = cpu_hourly[ok.to_numpy()]
    hour = pd.to_datetime(cw["hour"], utc=True).dt.floor("h").astype(schema.UTC_TS)
    inside = ((hour >= ws.floor("h")) & (hour < we)).to_numpy()
    if "sample_count" in cw:
        frac = (cw["sample_count"].astype("float64") / samples_per_hour).clip(upper=1.0).fillna(1.0)
    else:
        frac = pd.Series(1.0, index=cw.index)
    secs = pd.Series((frac * S_PER_H).to_numpy()[inside], index=pd.DatetimeIndex(hour[inside]))
    out = {}
    for iid, s in secs.groupby(cw["instance_id"].to_numpy()[inside]):
        out[iid] = s.groupby(level=0).max().sort_index()
    return out


def _trailing_end(pres: pd.Series | None, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Timestamp | None:
    """End of running before a trailing datapoint gap ending at ``hi``; None if no such gap."""
    if pres is None:
        return None
    hi_hour = hi.floor("h")  # data in the hour of ``hi`` may belong to what starts at ``hi``
    hours = pres[(pres.index >= lo.floor("h")) & (pres.index < hi_hour)]
    if hours.empty:
        return None
    last = hours.index[-1]
    if last >= hi_hour - pd.Timedelta(hours=1):
        return None  # data in the last whole hour before ``hi``: no trailing gap
    return max(lo, last + pd.Timedelta(seconds=float(hours.iloc[-1])))


def _leading_start(pres: pd.Series | None, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Timestamp | None:
    """Start of the datapoint run that ends at a stop at ``hi`` (not before ``lo``); None if no run."""
    if pres is None or not len(pres):
        return None
    one_h = pd.Timedelta(hours=1)
    h = hi.floor("h")
    if h not in pres.index:
        h -= one_h  # stopped early in its hour
        if h not in pres.index or h < lo.floor("h"):
            return None
    # the hour holding ``lo`` may join the run only when ``lo`` is on the hour: a
    # mid-hour ``lo`` shares its hour's datapoints with the run that ended there
    first = lo if lo == lo.floor("h") else lo.floor("h") + one_h
    while h - one_h in pres.index and h - one_h >= first:
        h -= one_h
    return min(hi, max(lo, h + pd.Timedelta(seconds=S_PER_H - float(pres[h]))))


def _initial_state(before, from_ws, launch, state, ws, we, d) -> tuple[bool, Any, Any]:
    """(running at window start, interval start, start evidence); see running_intervals."""
    if len(before):
        last = before.iloc[-1]
        if last["event_name"] in START_EVENTS:
            d["running_before_window"] = 1
            return True, ws, "before_window"
        return False, None, None
    if len(from_ws):
        first = from_ws.iloc[0]
        prev = first["previous_state"]
        was_running = (str(prev) in RUNNING_STATES) if not pd.isna(prev) else (
            first["event_name"] in STOP_EVENTS)
        if not was_running:
            return False, None, None
        if launch is not None and ws < launch <= min(first["event_time"], we):
            return True, launch, "launch_time"
        d["running_before_window"] = 1
        return True, ws, "before_window"
    if state in RUNNING_STATES:
        if launch is None:
            d["running_before_window"] = 1
            return True, ws, "current_state"
        if launch >= we:
            return False, None, None
        if launch > ws:
            return True, launch, "launch_time"
        d["running_before_window"] = 1
        return True, ws, "before_window"
    return False, None, None


def _iv(iid, start, end, start_ev, end_ev) -> dict[str, Any]:
    return {"instance_id": iid, "start": start, "end": end,
            "start_evidence": start_ev, "end_evidence": end_ev}


def _intervals_frame(iv: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "instance_id": iv["instance_id"].astype("string"),
            "start": pd.to_datetime(iv["start"], utc=True).astype(schema.UTC_TS),
            "end": pd.to_datetime(iv["end"], utc=True).astype(schema.UTC_TS),
            "start_evidence": iv["start_evidence"].astype("string"),
            "end_evidence": iv["end_evidence"].astype("string"),
        }
    )
    return out.sort_values(["instance_id", "start"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# 3. intervals -> hourly running fraction
# --------------------------------------------------------------------------- #
def _hours(ws: pd.Timestamp, we: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(ws.floor("h"), we.ceil("h"), freq="h", inclusive="left", name="hour")


def _long(ids: list[str], hours: pd.DatetimeIndex, frac: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instance_id": pd.array(np.repeat(np.asarray(ids, dtype=object), len(hours)), dtype="string"),
            "hour": pd.to_datetime(np.tile(hours.asi8, len(ids)), utc=True).astype(schema.UTC_TS),
            "running_frac": frac.reshape(-1).astype("float64"),
        }
    )


def hourly_running_fraction(
    intervals: pd.DataFrame,
    window_start: Any,
    window_end: Any,
    instance_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    r"""
    Fraction of each hour of the window an instance was running.

    Parameters
    ----------
    intervals : pandas.DataFrame
        ``instance_id``, ``start``, ``end`` (UTC), e.g. from
        :func:`running_intervals`. Overlapping intervals of one instance are
        an error.
    window_start, window_end : datetime-like
        The window [UTC]. Hours run from ``floor(window_start)`` to
        ``ceil(window_end)``; intervals are clipped to the window.
    instance_ids : iterable of str, optional
        Instances to include even without an interval (all-zero rows).

    Returns
    -------
    pandas.DataFrame
        Long table ``instance_id``, ``hour`` (UTC start of the hour),
        ``running_frac`` (0..1 [-], running seconds / 3,600 s) for every
        instance x hour, sorted by instance and hour.
    """
    ws, we = _window(window_start, window_end)
    hours = _hours(ws, we)
    ids = sorted(set(intervals["instance_id"].dropna()) | set(() if instance_ids is None else instance_ids))
    frac = np.zeros((len(ids), len(hours)))
    if len(intervals):
        pos = {iid: k for k, iid in enumerate(ids)}
        h0 = hours[0].value
        ns_h = S_PER_H * 10**9
        starts = pd.to_datetime(intervals["start"], utc=True).astype(schema.UTC_TS)
        ends = pd.to_datetime(intervals["end"], utc=True).astype(schema.UTC_TS)
        if starts.isna().any() or ends.isna().any() or intervals["instance_id"].isna().any():
            raise ValueError("intervals with missing instance_id, start or end")
        starts, ends = starts.clip(lower=ws, upper=we), ends.clip(lower=ws, upper=we)
        if (ends < starts).any():
            raise ValueError("intervals with end before start")
        for iid, s, e in zip(intervals["instance_id"], starts.array.asi8, ends.array.asi8, strict=True):
            if e <= s:
                continue
            row = frac[pos[iid]]
            a, b = (s - h0) // ns_h, (e - 1 - h0) // ns_h
            edges = h0 + ns_h * np.arange(a, b + 2)
            overlap = np.minimum(edges[1:], e) - np.maximum(edges[:-1], s)
            row[a:b + 1] += overlap / ns_h
        if (frac > 1 + 1e-9).any():
            bad = ids[int(np.nonzero((frac > 1 + 1e-9).any(axis=1))[0][0])]
            raise ValueError(f"overlapping intervals for instance {bad!r}")
    return _long(ids, hours, np.minimum(frac, 1.0))


def runtime_hours(hourly_fraction: pd.DataFrame) -> pd.Series:
    """Running hours per instance [h] (sum of ``running_frac``; NaN if any hour is NaN)."""
    return (
        hourly_fraction.groupby("instance_id", sort=True)["running_frac"]
        .sum(min_count=1)
        .where(~hourly_fraction["running_frac"].isna().groupby(hourly_fraction["instance_id"]).any())
        .rename("runtime_h")
    )


# --------------------------------------------------------------------------- #
# Baseline estimators (same output shape as hourly_running_fraction)
# --------------------------------------------------------------------------- #
def runtime_always_on(instances: pd.DataFrame, window_start: Any, window_end: Any) -> pd.DataFrame:
    """Baseline: every instance in ``instances`` runs for the whole window (running_frac 1)."""
    ws, we = _window(window_start, window_end)
    iv = pd.DataFrame({"instance_id": instances["instance_id"], "start": ws, "end": we})
    return hourly_running_fraction(iv, ws, we, instances["instance_id"])


def runtime_from_launch_time(instances: pd.DataFrame, window_start: Any, window_end: Any) -> pd.DataFrame:
    """
    Baseline of the original project: running from ``launch_time`` to the window end.

    An instance whose ``launch_time`` is missing gets NaN for every hour (no
    value is invented); one launched after the window gets zeros.
    """
    ws, we = _window(window_start, window_end)
    launch = pd.to_datetime(instances["launch_time"], utc=True)
    iv = pd.DataFrame({"instance_id": instances["instance_id"], "start": launch, "end": we})
    out = hourly_running_fraction(iv[launch.notna().to_numpy()], ws, we, instances["instance_id"])
    missing = set(instances.loc[launch.isna().to_numpy(), "instance_id"])
    out.loc[out["instance_id"].isin(missing), "running_frac"] = np.nan
    return out


def runtime_current_state(instances: pd.DataFrame, window_start: Any, window_end: Any) -> pd.DataFrame:
    """
    Baseline: the state at collection time holds for the whole window.

    pending/running -> 1 every hour; any other state -> 0; missing state -> NaN.
    """
    ws, we = _window(window_start, window_end)
    ids = list(instances["instance_id"])
    state = instances["state"]
    value = np.where(state.isna(), np.nan, state.isin(RUNNING_STATES).astype(float))
    out = hourly_running_fraction(instances.iloc[0:0].assign(start=ws, end=we), ws, we, ids)
    per = dict(zip(ids, value, strict=True))
    out["running_frac"] = out["instance_id"].map(per).astype("float64")
    return out


def runtime_cloudwatch_presence(
    cpu_hourly: pd.DataFrame,
    window_start: Any,
    window_end: Any,
    instance_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """
    Baseline: an hour counts as running (1) when CloudWatch has a CPU datapoint for it.

    A datapoint is a ``cpu_hourly`` row with non-NaN ``cpu_util_frac`` and a
    ``sample_count`` > 0 (where that column is present). Hours are floored to
    the hour; ``instance_ids`` adds instances without any datapoint (zeros).
    """
    ws, we = _window(window_start, window_end)
    hours = _hours(ws, we)
    ok = cpu_hourly["cpu_util_frac"].notna()
    if "sample_count" in cpu_hourly:
        ok &= cpu_hourly["sample_count"].fillna(0) > 0
    cw = cpu_hourly[ok.to_numpy()]
    ids = sorted(set(cpu_hourly["instance_id"].dropna()) | set(() if instance_ids is None else instance_ids))
    frac = np.zeros((len(ids), len(hours)))
    pos = {iid: k for k, iid in enumerate(ids)}
    h = pd.to_datetime(cw["hour"], utc=True).dt.floor("h")
    hidx = hours.get_indexer(pd.DatetimeIndex(h))
    keep = hidx >= 0
    rows = np.array([pos[i] for i in cw["instance_id"]], dtype=int)
    frac[rows[keep], hidx[keep]] = 1.0
    return _long(ids, hours, frac)


#: Every runtime estimator by name: the two reconstructions first, then the baselines.
RUNTIME_ESTIMATORS = (
    "cloudtrail",
    "cloudtrail_cloudwatch",
    "always_on",
    "launch_time",
    "current_state",
    "cloudwatch_presence",
)


def estimate_runtime(
    method: str,
    state_events: pd.DataFrame,
    instances: pd.DataFrame,
    cpu_hourly: pd.DataFrame,
    window_start: Any,
    window_end: Any,
) -> pd.DataFrame:
    """
    Hourly running fraction of every instance by one named estimator.

    Parameters
    ----------
    method : str
        One of :data:`RUNTIME_ESTIMATORS`:

        - ``cloudtrail``: :func:`running_intervals` from state events and the
          window edges only;
        - ``cloudtrail_cloudwatch``: the same, with CloudWatch datapoint
          presence locating stops CloudTrail does not record (OS shutdowns,
          missing records; see :func:`running_intervals`, Notes);
        - ``always_on``, ``launch_time``, ``current_state``,
          ``cloudwatch_presence``: the baselines.
    state_events, instances, cpu_hourly : pandas.DataFrame
        Snapshot tables.
    window_start, window_end : datetime-like
        The window [UTC].

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``hour``, ``running_frac`` for every instance of
        ``instances`` and every hour of the window. [-]
    """
    ids = list(instances["instance_id"])
    if method in ("cloudtrail", "cloudtrail_cloudwatch"):
        cw = cpu_hourly if method == "cloudtrail_cloudwatch" else None
        intervals, _ = running_intervals(state_events, instances, window_start, window_end, cpu_hourly=cw)
        return hourly_running_fraction(intervals, window_start, window_end, ids)
    if method == "always_on":
        return runtime_always_on(instances, window_start, window_end)
    if method == "launch_time":
        return runtime_from_launch_time(instances, window_start, window_end)
    if method == "current_state":
        return runtime_current_state(instances, window_start, window_end)
    if method == "cloudwatch_presence":
        return runtime_cloudwatch_presence(cpu_hourly, window_start, window_end, ids)
    raise ValueError(f"unknown runtime estimator {method!r}; choose from {RUNTIME_ESTIMATORS}")
