"""Replay the scheduler hour by hour over a sandbox window and apply its decisions to the world's truth.

Two pure steps (no I/O):

1. :func:`replay_decisions` calls :func:`~finops_lib.scheduler.decide.decide`
   at every hour of the window with only what the scheduler would know then:
   the observed intensity (snapshot ``intensity_hourly``) *before* that hour,
   turned into a day-ahead persistence forecast (or, as an upper bound, the
   realised series: ``forecast="oracle"``), the instances' state as left by
   the previous hour, and its own earlier decisions (deadline history).
2. :func:`apply_to_truth` enacts the decisions on the sandbox's truth tables
   (``truth_hourly``, ``truth_intensity``, ``truth_billing``,
   ``truth_intervals``) under these rules, stated here because they are
   modelling choices:

   * an hour without a scheduler target (not opted in, held) keeps the truth;
   * target *stopped*: nothing runs, no cost, no energy;
   * target *running*, hours/threshold policies: the instance runs the whole
     hour (the scheduler starts it on the hour; nobody else starts or stops
     an opted-in instance). Where the truth ran, its energy per running hour
     is kept; where the truth was off, the instance idles with an unknown
     load: the hour costs, its energy is a *gap* (``energy_gap_h``), bounded
     below by 0 and above by the instance's mean true energy per running
     hour (``co2_kg_upper``);
   * target *running*, deadline policies: the true work of the deadline
     window (its energy, [D - window_h, D)) is spread evenly over the hours
     the scheduler ran, each at that hour's true intensity; each hour costs a
     full hour. A deadline window not wholly inside the replayed hours keeps
     the truth (``edge_window``): part of its work lies outside the data;
   * cost = running hours x the instance's true rate (truth_billing cost ÷
     billed hours, so Spot prices are respected); the baseline is computed
     the same way from the truth's running fractions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finops_lib.constants import G_PER_KG, S_PER_H
from finops_lib.scheduler.decide import decide, parse_tags, persistence_forecast
from finops_lib.scheduler.policy import PolicySet

TERMINAL_CAUSES = ("terminate_api", "spot_interruption")
FORECASTS = ("persistence", "oracle")


def with_schedule_tags(instances: pd.DataFrame, schedule_by_role: dict | None, tag: str = "Schedule") -> pd.DataFrame:
    """A copy whose ``tags`` (dicts) set ``tag`` by the ``role`` tag (what-if opt-in); others keep theirs."""
    out = instances.copy()
    rows = []
    for t in out["tags"]:
        d = parse_tags(t)
        if schedule_by_role and d.get("role") in schedule_by_role:
            d[tag] = schedule_by_role[d["role"]]
        rows.append(d)
    out["tags"] = rows
    return out


def existence(truth_intervals: pd.DataFrame, instance_ids) -> pd.DataFrame:
    """From when to when each instance exists: launched in the window (``run``) / terminated (``exists_to``)."""
    ti = truth_intervals
    rows = []
    for iid in instance_ids:
        g = ti[ti["instance_id"] == iid]
        launched = g.loc[g["start_cause"] == "run", "start"]
        ended = g.loc[g["end_cause"].isin(TERMINAL_CAUSES), "end"]
        rows.append({"instance_id": iid, "exists_from": launched.min() if len(launched) else pd.NaT,
                     "exists_to": ended.max() if len(ended) else pd.NaT})
    return pd.DataFrame(rows).set_index("instance_id")


def replay_decisions(instances: pd.DataFrame, truth_running: pd.DataFrame, exists: pd.DataFrame,
                     intensity_g_per_kwh: pd.Series, policies: PolicySet, hours: pd.DatetimeIndex, *,
                     forecast: str = "persistence", horizon_h: int = 24) -> pd.DataFrame:
    """Decisions of every hour of ``hours`` (see the module docstring).

    Parameters
    ----------
    instances : pandas.DataFrame
        ``instance_id``, ``instance_type``, ``lifecycle``, ``tags`` (with the Schedule tags to replay).
    truth_running : pandas.DataFrame
        ``instance_id``, ``hour``, ``running_frac``: what ran without the
        scheduler (the state it finds at the start and in hours it does not act).
    exists : pandas.DataFrame
        :func:`existence`.
    intensity_g_per_kwh : pandas.Series
        Observed intensity by hour (what the scheduler's data source served). [gCO2e/kWh]
    forecast : {"persistence", "oracle"}
        Day-ahead persistence from the past only, or the realised series (perfect forecast).

    Returns
    -------
    pandas.DataFrame
        :data:`~finops_lib.scheduler.decide.DECISION_COLUMNS` for every instance and hour
        (``decided_at`` = the hour).
    """
    if forecast not in FORECASTS:
        raise ValueError(f"forecast must be one of {FORECASTS}, got {forecast!r}")
    run = truth_running.pivot_table(index="hour", columns="instance_id", values="running_frac", aggfunc="first")
    ids = list(instances["instance_id"])
    run = run.reindex(index=hours, columns=ids).fillna(0.0)
    state = {i: ("running" if run.iloc[0][i] > 0 else "stopped") for i in ids}
    run_np = run.to_numpy(bool)
    col = {i: k for k, i in enumerate(ids)}
    exists_from = {i: exists.at[i, "exists_from"] for i in ids}
    exists_to = {i: exists.at[i, "exists_to"] for i in ids}
    keep = pd.Timedelta(hours=max(p.window_h for p in policies.policies.values()) + 1)
    base = instances[["instance_id", "instance_type", "lifecycle", "tags"]].reset_index(drop=True)
    history: list[dict] = []
    out = []
    obs = intensity_g_per_kwh.sort_index()
    for t, h in enumerate(hours):
        if forecast == "oracle":
            fc = obs[(obs.index >= h) & (obs.index < h + pd.Timedelta(hours=horizon_h))]
        else:
            fc = persistence_forecast(obs, h, horizon_h)
        cur = base.copy()
        st = []
        for iid in ids:
            if pd.notna(exists_to[iid]) and h >= exists_to[iid].floor("h"):
                st.append("terminated")
            elif pd.notna(exists_from[iid]) and h < exists_from[iid].floor("h"):
                st.append("terminated")  # not launched yet: nothing to act on
            else:
                st.append(state[iid])
        cur["state"] = st
        history = [r for r in history if r["decided_at"] >= h - keep]  # older decisions never count again
        hist = pd.DataFrame(history, columns=["instance_id", "decided_at", "target"])
        d = decide(cur, h, fc, policies, history=hist)
        out.append(d)
        for iid, target, action in zip(d["instance_id"], d["target"], d["action"], strict=True):
            if target is not None and not pd.isna(target) and action != "skip":
                state[iid] = target
                history.append({"instance_id": iid, "decided_at": h, "target": target})
            elif t + 1 < len(hours):  # the world's own behaviour continues
                state[iid] = "running" if run_np[t + 1, col[iid]] else "stopped"
        # held hours keep the truth's state
    return pd.concat(out, ignore_index=True)


def instance_rates_usd_per_h(truth_billing: pd.DataFrame) -> pd.Series:
    """True hourly rate per instance: billed cost ÷ billed hours. [USD/h]"""
    g = truth_billing.groupby("instance_id")[["cost_usd", "billed_s"]].sum()
    return g["cost_usd"] / (g["billed_s"] / S_PER_H)


def apply_to_truth(decisions: pd.DataFrame, truth_hourly: pd.DataFrame, truth_intensity: pd.Series,
                   rates_usd_per_h: pd.Series, policies: PolicySet, instances: pd.DataFrame) -> pd.DataFrame:
    """The world as the scheduler would have left it (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``hour``, ``policy``, ``target``, ``truth_running_frac``,
        ``running_frac``, ``truth_cost_usd``, ``cost_usd``, ``truth_co2_g``,
        ``co2_g`` (gap hours count 0), ``co2_upper_g`` (gap hours at the
        instance's mean true energy per running hour), ``energy_gap_h``,
        ``edge_window`` (deadline windows cut by the replay's edges: truth kept).
    """
    th = truth_hourly[["instance_id", "hour", "running_frac", "energy_kwh", "co2_g"]]
    df = th.merge(decisions[["instance_id", "decided_at", "policy", "target"]].rename(columns={"decided_at": "hour"}),
                  on=["instance_id", "hour"], how="inner")
    df = df.rename(columns={"running_frac": "truth_running_frac", "energy_kwh": "truth_energy_kwh",
                            "co2_g": "truth_co2_g"})
    rate = df["instance_id"].map(rates_usd_per_h).fillna(0.0).to_numpy(float)
    intensity = pd.DatetimeIndex(df["hour"]).map(truth_intensity).to_numpy(float)
    r_true = df["truth_running_frac"].to_numpy(float)
    e_true = df["truth_energy_kwh"].to_numpy(float)
    per_run_h = df.assign(e=e_true).loc[r_true > 0].groupby("instance_id")["e"].sum() / \
        df.loc[r_true > 0].groupby("instance_id")["truth_running_frac"].sum()  # fmt: skip
    mean_e = df["instance_id"].map(per_run_h).to_numpy(float)
    target = df["target"].astype(object).where(df["target"].notna(), None).to_numpy()
    r_new, e_new, gap = r_true.copy(), e_true.copy(), np.zeros(len(df), bool)
    edge = np.zeros(len(df), bool)
    first_h, end_h = df["hour"].min(), df["hour"].max() + pd.Timedelta(hours=1)
    stopped = target == "stopped"
    running = target == "running"
    r_new[stopped], e_new[stopped] = 0.0, 0.0
    deadline_pols = {p.name for p in policies.policies.values() if p.has_deadline}
    is_deadline = df["policy"].isin(deadline_pols).to_numpy()
    hrs = running & ~is_deadline
    ran = r_true > 0
    e_new[hrs & ran] = np.where(r_true[hrs & ran] > 0, e_true[hrs & ran] / r_true[hrs & ran], np.nan)
    gap[hrs & ~ran] = True
    e_new[hrs & ~ran] = 0.0
    r_new[hrs] = 1.0
    # deadline policies: the window's true work spread over the hours the scheduler ran
    tags = {i: parse_tags(t) for i, t in zip(instances["instance_id"], instances["tags"], strict=True)}
    from finops_lib.scheduler.decide import deadline_window

    for iid in df.loc[is_deadline, "instance_id"].unique():
        sel = np.flatnonzero((df["instance_id"] == iid).to_numpy() & is_deadline)
        pol = policies.policies[df["policy"].iloc[sel[0]]]
        deadlines = np.array([deadline_window(pol, tags[iid], h, iid)[0] for h in df["hour"].iloc[sel]])
        for dl in pd.unique(deadlines):
            k = sel[deadlines == dl]
            if dl - pd.Timedelta(hours=pol.window_h) < first_h or dl > end_h:
                edge[k] = True
                r_new[k], e_new[k] = r_true[k], e_true[k]
                continue
            on = k[running[k]]
            work = float(np.nansum(e_true[k]))
            r_new[k] = 0.0
            e_new[k] = 0.0
            if len(on):
                r_new[on] = 1.0
                e_new[on] = work / len(on)
                if work == 0:
                    gap[on] = True
    out = df[["instance_id", "hour", "policy", "target", "truth_running_frac"]].copy()
    out["running_frac"] = r_new
    out["truth_cost_usd"] = r_true * rate
    out["cost_usd"] = r_new * rate
    out["truth_co2_g"] = df["truth_co2_g"].to_numpy(float)
    out["co2_g"] = e_new * intensity
    out["co2_upper_g"] = np.where(gap, np.nan_to_num(mean_e) * intensity, out["co2_g"])
    out["energy_gap_h"] = gap.astype(float)
    out["edge_window"] = edge
    return out


def savings_summary(applied: pd.DataFrame, eur_per_usd: float, by: str | None = None) -> pd.DataFrame:
    """Truth vs scheduled: cost [EUR] and CO2e [kg], savings as fractions of the truth (per ``by`` or fleet)."""
    groups = [("fleet", applied)] if by is None else \
        list(applied.assign(**{by: applied[by].astype(object).fillna("none")}).groupby(by))  # fmt: skip
    rows = []
    for key, g in groups:
        tc, ac = g["truth_cost_usd"].sum() * eur_per_usd, g["cost_usd"].sum() * eur_per_usd
        tco, aco, up = (g[c].sum(min_count=1) / G_PER_KG for c in ("truth_co2_g", "co2_g", "co2_upper_g"))
        rows.append({"group": "none" if pd.isna(key) else key, "truth_cost_eur": tc, "scheduled_cost_eur": ac,
                     "saving_cost_frac": 1 - ac / tc if tc else np.nan, "truth_co2_kg": tco,
                     "scheduled_co2_kg": aco, "scheduled_co2_upper_kg": up,
                     "saving_co2_frac": 1 - aco / tco if tco else np.nan,
                     "saving_co2_lower_frac": 1 - up / tco if tco else np.nan,
                     "running_h": g["running_frac"].sum(), "truth_running_h": g["truth_running_frac"].sum(),
                     "energy_gap_h": g["energy_gap_h"].sum(),
                     "edge_window_h": float(g["edge_window"].sum()) if "edge_window" in g else 0.0})
    return pd.DataFrame(rows).set_index("group")
