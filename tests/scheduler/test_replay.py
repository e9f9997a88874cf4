"""Replay: decisions use only the past; enacting them on a hand-made truth gives hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib.scheduler import load_policies, replay

POL = load_policies()
HOURS = pd.date_range("2026-10-19T00:00Z", periods=72, freq="h")  # Mon 19 .. Wed 21 Oct 2026 (CEST, UTC+2)


def _world(job_hour: int = 3):
    """office: runs 24/7 in the truth at 2 kWh/h; batch: a 1 h job at ``job_hour`` UTC daily at 1 kWh."""
    inst = pd.DataFrame({"instance_id": ["i-office", "i-batch"], "instance_type": ["m5.large", "c5.large"],
                         "lifecycle": "on-demand",
                         "tags": [{"Schedule": "office-hours", "role": "variable"},
                                  {"Schedule": "nightly", "deadline_hour_utc": "6", "job_duration_h": "1",
                                   "flexible": "true", "role": "batch"}]})
    rows = []
    for h in HOURS:
        rows.append({"instance_id": "i-office", "hour": h, "running_frac": 1.0, "energy_kwh": 2.0})
        job = h.hour == job_hour
        rows.append({"instance_id": "i-batch", "hour": h, "running_frac": float(job), "energy_kwh": 1.0 * job})
    th = pd.DataFrame(rows)
    # intensity: 500 g/kWh, except 100 g/kWh at 01 UTC every day
    ci = pd.Series(np.where(HOURS.hour == 1, 100.0, 500.0), index=HOURS)
    th["co2_g"] = th["energy_kwh"] * th["hour"].map(ci)
    ex = pd.DataFrame({"exists_from": pd.NaT, "exists_to": pd.NaT}, index=inst["instance_id"])
    return inst, th, ci, ex


def test_office_hours_and_deadline_shift_hand_computed():
    inst, th, ci, ex = _world()
    dec = replay.replay_decisions(inst, th, ex, ci, POL, HOURS)
    rates = pd.Series({"i-office": 0.1, "i-batch": 0.2})
    app = replay.apply_to_truth(dec, th, ci, rates, POL, inst)
    office = app[app["instance_id"] == "i-office"]
    on = office.loc[office["running_frac"] > 0, "hour"]
    # Mon-Wed 08-18 CEST = 06-16 UTC: 10 h a day, 3 days
    assert len(on) == 30 and set(on.dt.hour) == set(range(6, 16))
    assert_allclose(office["cost_usd"].sum(), 30 * 0.1)
    assert_allclose(office["co2_g"].sum(), 30 * 2.0 * 500.0)
    # batch: the windows cut by the replay's edges (deadlines Mon 06:00 and Thu 06:00) keep the truth
    # (the job at Mon 03:00; Thu's job lies outside the data). The replay starts without history, so at
    # Mon 06:00 the current hour has no persistence forecast and the job runs at once (deadline first);
    # from Tue 06:00 yesterday's green 01 UTC is known and the job moves there: 1 kWh at 100 g/kWh
    batch = app[app["instance_id"] == "i-batch"]
    ran = batch.loc[batch["running_frac"] > 0, "hour"]
    assert list(ran) == list(pd.to_datetime(["2026-10-19T03:00Z", "2026-10-19T06:00Z", "2026-10-21T01:00Z"]))
    assert batch["edge_window"].sum() == 6 + 18 and not app.loc[app["instance_id"] == "i-office", "edge_window"].any()
    per_window = ran.groupby((ran - pd.Timedelta(hours=6)).dt.floor("D")).size()
    assert (per_window == 1).all()  # exactly the job's hours in every deadline window, none missed
    moved = batch[(batch["hour"].dt.hour == 1) & (batch["running_frac"] > 0)]
    assert_allclose(moved["co2_g"], 1.0 * 100.0)
    summary = replay.savings_summary(app, eur_per_usd=0.9, by="policy")
    assert_allclose(summary.loc["office-hours", "saving_cost_frac"], 1 - 30 / 72)
    assert summary.loc["nightly", "saving_co2_frac"] > 0


def test_no_lookahead_future_intensity_does_not_change_past_decisions():
    inst, th, ci, ex = _world()
    a = replay.replay_decisions(inst, th, ex, ci, POL, HOURS)
    ci2 = ci.copy()
    ci2[ci2.index >= HOURS[40]] = 5.0  # the future changes ...
    b = replay.replay_decisions(inst, th, ex, ci2, POL, HOURS)
    cols = ["instance_id", "decided_at", "target", "action"]
    past_a, past_b = (d[d["decided_at"] <= HOURS[40]][cols].reset_index(drop=True) for d in (a, b))
    pd.testing.assert_frame_equal(past_a, past_b)  # ... decisions up to that hour do not
    # with an oracle forecast they may (it sees the future by construction)
    o = replay.replay_decisions(inst, th, ex, ci2, POL, HOURS, forecast="oracle")
    assert len(o) == len(a)
    with pytest.raises(ValueError, match="forecast must be one of"):
        replay.replay_decisions(inst, th, ex, ci, POL, HOURS, forecast="crystal-ball")


def test_what_if_tags_and_existence():
    inst, *_ = _world()
    w = replay.with_schedule_tags(inst, {"variable": "extended-dev-hours"})
    assert w.loc[0, "tags"]["Schedule"] == "extended-dev-hours" and w.loc[1, "tags"]["Schedule"] == "nightly"
    ti = pd.DataFrame({"instance_id": ["a", "b"], "start": pd.to_datetime(["2026-10-19T05:00Z", "2026-10-19T00:00Z"]),
                       "end": pd.to_datetime(["2026-10-21T00:00Z", "2026-10-20T03:00Z"]),
                       "start_cause": ["run", "before_window"], "end_cause": ["window_end", "terminate_api"]})
    ex = replay.existence(ti, ["a", "b"])
    assert ex.loc["a", "exists_from"] == pd.Timestamp("2026-10-19T05:00Z") and pd.isna(ex.loc["a", "exists_to"])
    assert pd.isna(ex.loc["b", "exists_from"]) and ex.loc["b", "exists_to"] == pd.Timestamp("2026-10-20T03:00Z")
